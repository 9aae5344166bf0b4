"""Unit tests of `NexudusClient` against `responses` (and, for urllib3's own retry loop, a tiny local server)."""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter

from bot.nexudus import (
    ActionResult,
    ChatRoom,
    ChatRoomChanges,
    ChatRoomFilters,
    ClientFactory,
    CommandFailed,
    CommandParameter,
    Conflict,
    Credentials,
    Direction,
    NewChatRoom,
    NexudusClient,
    NexudusError,
    NotAuthorised,
    NotFound,
    Page,
    RateLimited,
    Unavailable,
    UnexpectedResponse,
    ValidationFailed,
)
from bot.nexudus.pacing import Limits, Pacer, PacerRegistry
from bot.nexudus.timecodec import TimeCodec

BASE = "https://nexudus.test/api"
ROOT = BASE + "/support/chatrooms"
EMAIL = "ops@example.com"
PASSWORD = "s3cret-pass"
CREDS = Credentials(EMAIL, PASSWORD)
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode())
MADRID = ZoneInfo("Europe/Madrid")


def list_record(chatroom_id: int = 1234567, **overrides: Any) -> dict[str, Any]:
    record = {
        "Id": chatroom_id,
        "Business": 12345678,
        "Name": f"Room {chatroom_id}",
        "Active": True,
        "LastAgentVisit": None,
        "CreatedOn": "2018-07-03T06:23:01Z",
        "UpdatedOn": "2020-01-01T21:57:21Z",
        "UpdatedBy": "System",
        "UniqueId": "300e4d5f-090e-4c94-9214-e516f976d063",
        "SystemId": "{ metadata: { id: 887766, processed: true } }",
    }
    record.update(overrides)
    return record


def single_record(chatroom_id: int = 1234567, **overrides: Any) -> dict[str, Any]:
    record = {
        "Id": chatroom_id,
        "Active": False,
        "BusinessId": 12345678,
        "LastAgentVisit": "2026-10-01T08:00:00Z",
        "Name": "Name",
        "CreatedOn": "2018-07-03T06:23:01Z",
        "UpdatedOn": "2020-01-01T21:57:21Z",
        "UpdatedBy": "System",
        "UniqueId": "cbd076ef-2691-465b-95f6-058a43f0158a",
        "SystemId": "{ metadata: { id: 887766, processed: true } }",
        "Users": [12345678, 87654321],
    }
    record.update(overrides)
    return record


def page(records: list[dict[str, Any]], *, number: int = 1, has_next: bool = False, total: int | None = None) -> dict:
    return {
        "Records": records,
        "CurrentPageSize": 25,
        "CurrentPage": number,
        "CurrentOrderField": "Id",
        "CurrentSortDirection": 1,
        "FirstItem": 1,
        "HasNextPage": has_next,
        "HasPreviousPage": number > 1,
        "LastItem": len(records),
        "PageNumber": number,
        "PageSize": 25,
        "TotalItems": len(records) if total is None else total,
        "TotalPages": 3,
    }


OK: dict[str, Any] = {"Status": 200, "WasSuccessful": True, "Message": "Done.", "Value": {"Id": 1234567}}
INVALID: dict[str, Any] = {
    "Status": 500,
    "Message": "Name: may not be null or empty",
    "Value": None,
    "WasSuccessful": False,
    "Errors": [{"AttemptedValue": None, "Message": "may not be null or empty", "PropertyName": "Name"}],
}


def make_client(**kwargs: Any) -> NexudusClient:
    options: dict[str, Any] = {"retries": 2, "backoff": 0, "pacer": None}
    options.update(kwargs)
    return NexudusClient(BASE, CREDS, **options)


@pytest.fixture
def client() -> Iterator[NexudusClient]:
    c = make_client()
    yield c
    c.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as m:
        yield m


def query_of(call: Any) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True)
    out = dict(pairs)
    assert len(out) == len(pairs), "no parameter is sent twice"
    return out


def path_of(call: Any) -> str:
    return urlsplit(call.request.url).path


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


# =========================================================================== requests sent
class TestRequests:
    def test_find_sends_every_filter_and_paging_parameter(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record()]))
        filters = ChatRoomFilters(
            id=12345678,
            active=True,
            business=87654321,
            last_agent_visit=datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
            name="Desk help",
            users=555,
            created_from=datetime(2010, 1, 1, 20, 32, tzinfo=UTC),
            created_to=datetime(2010, 1, 2, 20, 32, tzinfo=UTC),
            updated_from=datetime(2011, 2, 3, 4, 5, tzinfo=UTC),
            updated_to=datetime(2011, 2, 4, 4, 5, tzinfo=UTC),
            visited_from=datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
            visited_to=datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC),
        )
        client.find(filters, page=2, size=50, order_by="Name", direction=Direction.DESCENDING)
        (call,) = mock.calls
        assert call.request.method == "GET"
        assert path_of(call) == "/api/support/chatrooms"
        assert query_of(call) == {
            "page": "2",
            "size": "50",
            "orderby": "Name",
            "dir": "Descending",
            "Id": "12345678",
            "ChatRoom_Active": "true",
            "ChatRoom_Business": "87654321",
            "ChatRoom_LastAgentVisit": "2026-11-01T10:30",
            "ChatRoom_Name": "Desk help",
            "ChatRoom_Users": "555",
            "From_ChatRoom_CreatedOn": "2010-01-01T20:32",
            "To_ChatRoom_CreatedOn": "2010-01-02T20:32",
            "From_ChatRoom_UpdatedOn": "2011-02-03T04:05",
            "To_ChatRoom_UpdatedOn": "2011-02-04T04:05",
            "From_ChatRoom_LastAgentVisit": "2026-11-01T10:30",
            "To_ChatRoom_LastAgentVisit": "2026-11-02T23:59",
        }
        assert call.request.body is None

    def test_find_defaults_and_inactive_filter(self, client, mock) -> None:
        mock.get(ROOT, json=page([]))
        client.find(ChatRoomFilters(active=False))
        assert query_of(mock.calls[0]) == {
            "page": "1",
            "size": "25",
            "orderby": "Id",
            "dir": "Ascending",
            "ChatRoom_Active": "false",
        }

    def test_find_rejects_paging_out_of_bounds_without_a_request(self, client, mock) -> None:
        with pytest.raises(ValueError):
            client.find(page=0)
        with pytest.raises(ValueError):
            client.find(size=1001)
        assert len(mock.calls) == 0

    def test_every_request_carries_basic_auth_and_accepts_json(self, client, mock) -> None:
        mock.get(ROOT, json=page([]))
        mock.get(ROOT + "/7", json=single_record(7))
        mock.post(ROOT, json=OK)
        mock.delete(ROOT + "/7", json=OK)
        client.find()
        client.get(7)
        client.create(NewChatRoom(business_id=1, name="x"))
        client.delete(7)
        assert len(mock.calls) == 4
        for call in mock.calls:
            assert call.request.headers["Authorization"] == BASIC
            assert call.request.headers["Accept"] == "application/json"
            assert "Authentication" not in call.request.headers

    def test_find_by_ids_sends_the_documented_array(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1), list_record(2)]))
        client.find_by_ids([1, 2])
        (call,) = mock.calls
        assert path_of(call) == "/api/support/chatrooms"
        assert query_of(call) == {"ChatRoom_Id": "[1,2]", "page": "1", "size": "2"}

    def test_get_by_id(self, client, mock) -> None:
        mock.get(ROOT + "/1234567", json=single_record())
        client.get(1234567)
        (call,) = mock.calls
        assert call.request.method == "GET"
        assert path_of(call) == "/api/support/chatrooms/1234567"
        assert urlsplit(call.request.url).query == ""

    def test_commands(self, client, mock) -> None:
        mock.get(ROOT + "/commands", json=[])
        assert client.commands() == []
        assert path_of(mock.calls[0]) == "/api/support/chatrooms/commands"
        assert mock.calls[0].request.method == "GET"

    def test_create_body(self, client, mock) -> None:
        mock.post(ROOT, json={**OK, "Value": {"Id": 12354678}})
        new_id = client.create(
            NewChatRoom(
                business_id=12345678,
                name="Name",
                active=False,
                last_agent_visit=datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
                users=[12345678, 87654321],
            )
        )
        assert new_id == 12354678
        (call,) = mock.calls
        assert call.request.method == "POST"
        assert path_of(call) == "/api/support/chatrooms"
        assert call.request.headers["Content-Type"] == "application/json"
        assert body_of(call) == {
            "BusinessId": 12345678,
            "Name": "Name",
            "Active": False,
            "LastAgentVisit": "2026-11-01T10:30:00Z",
            "Users": [12345678, 87654321],
        }

    def test_create_leaves_unset_fields_out(self, client, mock) -> None:
        mock.post(ROOT, json=OK)
        client.create(NewChatRoom(business_id=5, name="Only a name"))
        assert body_of(mock.calls[0]) == {"BusinessId": 5, "Name": "Only a name"}

    def test_run_command_body(self, client, mock) -> None:
        mock.post(ROOT + "/runcommand", json=OK)
        result = client.run_command(
            "COMMAND_KEY_2",
            [1329961649, 2],
            [
                (CommandParameter(name="Parameter 1 description", type="string"), "987654321"),
                (CommandParameter(name="Parameter 2 description", type="Boolean"), "true"),
            ],
        )
        assert isinstance(result, ActionResult) and result.was_successful
        (call,) = mock.calls
        assert call.request.method == "POST"
        assert path_of(call) == "/api/support/chatrooms/runcommand"
        assert body_of(call) == {
            "Key": "COMMAND_KEY_2",
            "Ids": [1329961649, 2],
            "Parameters": [
                {"Name": "Parameter 1 description", "Type": "string", "Value": "987654321"},
                {"Name": "Parameter 2 description", "Type": "Boolean", "Value": "true"},
            ],
        }

    def test_run_command_values_are_always_strings(self, client, mock) -> None:
        mock.post(ROOT + "/runcommand", json=OK)
        client.run_command("K", [1], [(CommandParameter(name="Priority", type="Int32"), 3)])
        assert body_of(mock.calls[0])["Parameters"] == [{"Name": "Priority", "Type": "Int32", "Value": "3"}]

    def test_run_command_without_parameters_sends_an_empty_list(self, client, mock) -> None:
        mock.post(ROOT + "/runcommand", json=OK)
        client.run_command("CLOSE_IDLE", [])
        assert body_of(mock.calls[0]) == {"Key": "CLOSE_IDLE", "Ids": [], "Parameters": []}

    def test_delete(self, client, mock) -> None:
        mock.delete(ROOT + "/12345678", json=OK)
        client.delete(12345678)
        (call,) = mock.calls
        assert call.request.method == "DELETE"
        assert path_of(call) == "/api/support/chatrooms/12345678"
        assert not call.request.body

    def test_replace_puts_the_body_as_given(self, client, mock) -> None:
        mock.put(ROOT, json=OK)
        body = {"Id": 9, "BusinessId": 1, "Name": "N", "Active": True, "LastAgentVisit": None, "Users": [1]}
        client.replace(body)
        (call,) = mock.calls
        assert call.request.method == "PUT"
        assert path_of(call) == "/api/support/chatrooms"
        assert body_of(call) == body

    def test_pacer_is_asked_before_each_request_with_the_write_flag(self, mock) -> None:
        class FakePacer:
            def __init__(self) -> None:
                self.calls: list[bool] = []

            def acquire(self, write: bool) -> None:
                self.calls.append(write)

        pacer = FakePacer()
        c = make_client(pacer=pacer)
        mock.get(ROOT, json=page([]))
        mock.post(ROOT, json=OK)
        mock.put(ROOT, json=OK)
        mock.delete(ROOT + "/1", json=OK)
        mock.post(ROOT + "/runcommand", json=OK)
        c.find()
        c.create(NewChatRoom(business_id=1, name="x"))
        c.replace({"Id": 1})
        c.delete(1)
        c.run_command("K", [1])
        assert pacer.calls == [False, True, True, True, True]


# =========================================================================== parsing
class TestParsing:
    def test_list_envelope_becomes_a_page(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1), list_record(2, Business={"Id": 77, "Name": "HQ"})], has_next=True))
        result = client.find()
        assert isinstance(result, Page)
        assert [r.id for r in result.records] == [1, 2]
        assert result.has_next_page is True
        assert result.current_page == 1
        assert result.total_pages == 3
        first, second = result.records
        assert first.business == 12345678 and first.business_id is None
        assert second.business == 77 and second.business_name == "HQ"
        assert first.users is None and second.users is None
        assert first.created_on == datetime(2018, 7, 3, 6, 23, 1, tzinfo=UTC)
        assert first.updated_on == datetime(2020, 1, 1, 21, 57, 21, tzinfo=UTC)
        assert first.updated_by == "System"
        assert first.system_id == "{ metadata: { id: 887766, processed: true } }"

    def test_single_record_has_business_id_and_users(self, client, mock) -> None:
        mock.get(ROOT + "/1234567", json=single_record())
        record = client.get(1234567)
        assert isinstance(record, ChatRoom)
        assert record.business_id == 12345678 and record.business == 12345678
        assert record.users == [12345678, 87654321]
        assert record.last_agent_visit == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
        assert record.unique_id == "cbd076ef-2691-465b-95f6-058a43f0158a"

    @pytest.mark.parametrize("present", [True, False], ids=["null", "missing"])
    def test_last_agent_visit_null_or_missing(self, client, mock, present: bool) -> None:
        record = single_record(LastAgentVisit=None)
        if not present:
            del record["LastAgentVisit"]
        mock.get(ROOT + "/1", json=record)
        assert client.get(1).last_agent_visit is None

    def test_unknown_fields_are_kept(self, client, mock) -> None:
        mock.get(ROOT + "/1", json=single_record(1, Colour="teal", Tags=["vip"]))
        record = client.get(1)
        assert record.model_extra == {"Colour": "teal", "Tags": ["vip"]}

    def test_commands_are_sorted_by_order(self, client, mock) -> None:
        mock.get(
            ROOT + "/commands",
            json=[
                {"Key": "B", "Name": "Bee", "Order": 10, "RequiresParameters": [{"Name": "P", "Type": "Boolean"}]},
                {"Key": "A", "Name": "Ay", "Order": 2, "RequiresParameters": []},
                {"Key": "C", "Name": "Cee", "Order": 5, "AppliesOnlyToOneEntity": True},
            ],
        )
        commands = client.commands()
        assert [c.key for c in commands] == ["A", "C", "B"]
        assert commands[2].requires_parameters[0].name == "P"
        assert commands[2].requires_parameters[0].type == "Boolean"
        assert commands[1].applies_only_to_one_entity is True

    def test_action_result_fields(self, client, mock) -> None:
        mock.post(
            ROOT + "/runcommand",
            json={
                "Errors": None,
                "JavaScript": None,
                "Message": "Result description",
                "OpenInDialog": False,
                "OpenInWindow": False,
                "RedirectURL": None,
                "Status": 200,
                "UpdatedBy": "email@example.net",
                "UpdatedOn": "2020-06-04T11:40:20Z",
                "Value": {"Id": 12345678},
                "WasSuccessful": True,
            },
        )
        result = client.run_command("K", [1])
        assert result.message == "Result description"
        assert result.record_id == 12345678
        assert result.updated_on == datetime(2020, 6, 4, 11, 40, 20, tzinfo=UTC)
        assert result.updated_by == "email@example.net"


# =========================================================================== time zone
class TestTimeZone:
    def test_wire_time_is_read_as_space_wall_clock(self, mock) -> None:
        c = make_client(codec=TimeCodec(MADRID))
        mock.get(ROOT + "/1", json=single_record(1, LastAgentVisit="2026-11-01T10:00:00Z"))
        visit = c.get(1).last_agent_visit
        assert visit is not None
        assert visit.astimezone(MADRID).replace(tzinfo=None) == datetime(2026, 11, 1, 10, 0)
        assert visit.astimezone(UTC) == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def test_filters_are_written_in_space_wall_clock(self, mock) -> None:
        c = make_client(codec=TimeCodec(MADRID))
        mock.get(ROOT, json=page([]))
        c.find(
            ChatRoomFilters(
                visited_from=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
                created_to=datetime(2026, 7, 1, 9, 30, tzinfo=UTC),  # summer: UTC+2
            )
        )
        query = query_of(mock.calls[0])
        assert query["From_ChatRoom_LastAgentVisit"] == "2026-11-01T10:30"
        assert query["To_ChatRoom_CreatedOn"] == "2026-07-01T11:30"

    def test_create_writes_space_wall_clock(self, mock) -> None:
        c = make_client(codec=TimeCodec(MADRID))
        mock.post(ROOT, json=OK)
        c.create(NewChatRoom(business_id=1, name="x", last_agent_visit=datetime(2026, 11, 1, 9, 0, tzinfo=UTC)))
        assert body_of(mock.calls[0])["LastAgentVisit"] == "2026-11-01T10:00:00Z"

    def test_edit_sends_back_times_exactly_as_read(self, mock) -> None:
        c = make_client(codec=TimeCodec(MADRID))
        mock.get(ROOT + "/1", json=single_record(1, LastAgentVisit="2026-11-01T10:00:00Z"))
        mock.put(ROOT, json=OK)
        c.edit(1, ChatRoomChanges(name="x"))
        assert body_of(mock.calls[1])["LastAgentVisit"] == "2026-11-01T10:00:00Z"


# =========================================================================== errors
Operation = Callable[[NexudusClient], Any]

# (id, method, path, call, role) — the role each operation needs.
OPERATIONS: list[tuple[str, str, str, Operation, str]] = [
    ("find", "GET", "", lambda c: c.find(), "ChatRoom-List"),
    ("find_by_ids", "GET", "", lambda c: c.find_by_ids([1, 2]), "ChatRoom-List"),
    ("get", "GET", "/1", lambda c: c.get(1), "ChatRoom-Read"),
    ("commands", "GET", "/commands", lambda c: c.commands(), "ChatRoom-List"),
    ("create", "POST", "", lambda c: c.create(NewChatRoom(business_id=1, name="x")), "ChatRoom-Create"),
    ("replace", "PUT", "", lambda c: c.replace({"Id": 1, "Name": "x"}), "ChatRoom-Edit"),
    ("delete", "DELETE", "/1", lambda c: c.delete(1), "ChatRoom-Delete"),
    ("run_command", "POST", "/runcommand", lambda c: c.run_command("K", [1]), "ChatRoom-Edit"),
]
OP_IDS = [op[0] for op in OPERATIONS]
READS = [op for op in OPERATIONS if op[1] == "GET"]
WRITES = [op for op in OPERATIONS if op[1] != "GET"]


class TestErrors:
    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), OPERATIONS, ids=OP_IDS)
    def test_401_is_not_authorised_naming_the_role(self, client, mock, name, method, path, call, role) -> None:
        mock.add(method, ROOT + path, status=401, body="")
        with pytest.raises(NotAuthorised) as info:
            call(client)
        assert info.value.role == role
        assert role in str(info.value)
        assert len(mock.calls) == 1, "a 401 is never retried"

    def test_403_is_not_authorised_too(self, client, mock) -> None:
        mock.get(ROOT + "/1", status=403)
        with pytest.raises(NotAuthorised):
            client.get(1)

    def test_edit_401_on_read_names_read_role_and_on_write_names_edit_role(self, client, mock) -> None:
        mock.get(ROOT + "/1", status=401)
        with pytest.raises(NotAuthorised) as info:
            client.edit(1, ChatRoomChanges(name="x"))
        assert info.value.role == "ChatRoom-Read"
        mock.replace(responses.GET, ROOT + "/1", json=single_record(1))
        mock.put(ROOT, status=401)
        with pytest.raises(NotAuthorised) as info:
            client.edit(1, ChatRoomChanges(name="x"))
        assert info.value.role == "ChatRoom-Edit"

    @pytest.mark.parametrize(
        ("method", "call"),
        [("GET", lambda c: c.get(42)), ("DELETE", lambda c: c.delete(42))],
        ids=["get", "delete"],
    )
    def test_404_not_found_text(self, client, mock, method, call) -> None:
        mock.add(method, ROOT + "/42", status=404, body="Not found", content_type="text/plain")
        with pytest.raises(NotFound) as info:
            call(client)
        assert info.value.chatroom_id == 42
        assert "42" in str(info.value)
        assert len(mock.calls) == 1

    def test_edit_of_a_missing_record_is_not_found_and_puts_nothing(self, client, mock) -> None:
        mock.get(ROOT + "/42", status=404, body="Not found")
        with pytest.raises(NotFound):
            client.edit(42, ChatRoomChanges(name="x"))
        assert [c.request.method for c in mock.calls] == ["GET"]

    @pytest.mark.parametrize(
        ("method", "path", "call"),
        [
            ("POST", "", lambda c: c.create(NewChatRoom(business_id=1))),
            ("PUT", "", lambda c: c.replace({"Id": 1})),
        ],
        ids=["create", "replace"],
    )
    def test_400_status_500_is_validation_failed_by_field(self, client, mock, method, path, call) -> None:
        body = copy.deepcopy(INVALID)
        body["Errors"] += [
            {"AttemptedValue": -1, "Message": "must be positive", "PropertyName": "BusinessId"},
            {"AttemptedValue": None, "Message": "is too short", "PropertyName": "Name"},
            {"Message": "Something general"},
        ]
        mock.add(method, ROOT + path, status=400, json=body)
        with pytest.raises(ValidationFailed) as info:
            call(client)
        error = info.value
        assert str(error) == "Name: may not be null or empty"
        assert error.by_field() == {
            "Name": "may not be null or empty is too short",
            "BusinessId": "must be positive",
            "": "Something general",
        }
        assert error.errors[1].attempted_value == -1
        assert len(mock.calls) == 1

    def test_400_plain_text_is_validation_failed(self, client, mock) -> None:
        mock.post(ROOT, status=400, body="Bad request body", content_type="text/plain")
        with pytest.raises(ValidationFailed) as info:
            client.create(NewChatRoom(business_id=1))
        assert "Bad request body" in str(info.value)
        assert info.value.by_field() == {}

    def test_run_command_200_unsuccessful_is_command_failed(self, client, mock) -> None:
        mock.post(
            ROOT + "/runcommand",
            json={"Status": 500, "WasSuccessful": False, "Message": "Runs on exactly one chatroom.", "Value": None},
        )
        with pytest.raises(CommandFailed) as info:
            client.run_command("RENAME", [1, 2])
        assert str(info.value) == "Runs on exactly one chatroom."
        assert info.value.result is not None and info.value.result.was_successful is False
        assert len(mock.calls) == 1

    def test_create_200_unsuccessful_is_validation_failed(self, client, mock) -> None:
        mock.post(ROOT, json=INVALID)
        with pytest.raises(ValidationFailed) as info:
            client.create(NewChatRoom(business_id=1))
        assert info.value.by_field() == {"Name": "may not be null or empty"}

    @pytest.mark.parametrize(
        ("method", "path", "call"),
        [
            ("PUT", "", lambda c: c.replace({"Id": 1})),
            ("DELETE", "/1", lambda c: c.delete(1)),
        ],
        ids=["replace", "delete"],
    )
    def test_other_writes_200_unsuccessful_are_validation_failed(self, client, mock, method, path, call) -> None:
        mock.add(method, ROOT + path, json={"Status": 500, "WasSuccessful": False, "Message": "Refused."})
        with pytest.raises(ValidationFailed, match=r"Refused\."):
            call(client)

    def test_create_without_an_id_is_unexpected(self, client, mock) -> None:
        mock.post(ROOT, json={"Status": 200, "WasSuccessful": True, "Value": None})
        with pytest.raises(UnexpectedResponse):
            client.create(NewChatRoom(business_id=1, name="x"))

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), READS, ids=[op[0] for op in READS])
    @pytest.mark.parametrize("status", [409, 429])
    def test_throttled_read_is_retried_then_rate_limited(self, client, mock, name, method, path, call, role, status):
        mock.add(method, ROOT + path, status=status, headers={"Retry-After": "7"}, body="")
        with pytest.raises(RateLimited) as info:
            call(client)
        assert info.value.retry_after == 7.0
        assert "7 s" in str(info.value)
        assert len(mock.calls) == 3  # 1 + retries=2

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), WRITES, ids=[op[0] for op in WRITES])
    def test_throttled_write_is_retried_then_rate_limited(self, client, mock, name, method, path, call, role):
        mock.add(method, ROOT + path, status=409, headers={"Retry-After": "0"}, body="")
        with pytest.raises(RateLimited) as info:
            call(client)
        assert info.value.retry_after == 0.0
        assert len(mock.calls) == 3

    def test_rate_limited_without_retry_after(self, mock) -> None:
        c = make_client(retries=0)
        mock.get(ROOT, status=409, body="")
        with pytest.raises(RateLimited) as info:
            c.find()
        assert info.value.retry_after is None
        assert len(mock.calls) == 1

    @pytest.mark.parametrize("header", ["soon", "Wed, 21 Oct 2015 07:28:00 GMT", ""])
    def test_unreadable_retry_after_is_none(self, mock, header: str) -> None:
        c = make_client(retries=0)
        mock.get(ROOT, status=409, headers={"Retry-After": header})
        with pytest.raises(RateLimited) as info:
            c.find()
        assert info.value.retry_after is None
        assert "shortly" in str(info.value)

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), READS, ids=[op[0] for op in READS])
    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_5xx_read_is_retried_then_unavailable(self, client, mock, name, method, path, call, role, status) -> None:
        mock.add(method, ROOT + path, status=status, body="oops")
        with pytest.raises(Unavailable) as info:
            call(client)
        assert info.value.reason == f"HTTP {status}"
        assert len(mock.calls) == 3

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), OPERATIONS, ids=OP_IDS)
    def test_non_json_200_is_unexpected(self, client, mock, name, method, path, call, role) -> None:
        mock.add(method, ROOT + path, status=200, body="<html>login</html>", content_type="text/html")
        with pytest.raises(UnexpectedResponse) as info:
            call(client)
        assert info.value.status == 200

    @pytest.mark.parametrize(
        ("path", "call", "body"),
        [
            ("", lambda c: c.find(), {"Records": "nope"}),
            ("", lambda c: c.find(), {"Records": [{"Name": "no id"}]}),
            ("/1", lambda c: c.get(1), {"Id": "one"}),
            ("/1", lambda c: c.get(1), {"Id": 1, "LastAgentVisit": "not a date"}),
            ("/commands", lambda c: c.commands(), {"Key": "not a list"}),
            ("/commands", lambda c: c.commands(), [{"Name": "no key"}]),
        ],
    )
    def test_wrong_shape_is_unexpected(self, client, mock, path, call, body) -> None:
        mock.get(ROOT + path, json=body)
        with pytest.raises(UnexpectedResponse):
            call(client)

    def test_unexpected_status(self, client, mock) -> None:
        mock.get(ROOT + "/1", status=418, json={})
        with pytest.raises(UnexpectedResponse) as info:
            client.get(1)
        assert info.value.status == 418

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), OPERATIONS, ids=OP_IDS)
    @pytest.mark.parametrize(
        "failure",
        [requests.ConnectionError("connection refused"), requests.Timeout("read timed out")],
        ids=["connection-error", "timeout"],
    )
    def test_network_failure_is_unavailable(self, client, mock, name, method, path, call, role, failure) -> None:
        mock.add(method, ROOT + path, body=failure)
        with pytest.raises(Unavailable) as info:
            call(client)
        assert isinstance(info.value, NexudusError)
        assert len(mock.calls) == 1

    def test_every_error_is_a_nexudus_error(self) -> None:
        for kind in (NotAuthorised, NotFound, ValidationFailed, CommandFailed, Conflict, RateLimited, Unavailable):
            assert issubclass(kind, NexudusError)
        assert issubclass(UnexpectedResponse, NexudusError)


# =========================================================================== retry rules
class TestRetries:
    def test_get_503_then_200_succeeds_in_two_calls(self, client, mock) -> None:
        mock.get(ROOT + "/1", status=503)
        mock.get(ROOT + "/1", json=single_record(1))
        assert client.get(1).id == 1
        assert len(mock.calls) == 2

    def test_get_409_then_200_succeeds_in_two_calls(self, client, mock) -> None:
        mock.get(ROOT, status=409, headers={"Retry-After": "0"})
        mock.get(ROOT, json=page([list_record(1)]))
        assert [r.id for r in client.find().records] == [1]
        assert len(mock.calls) == 2

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), WRITES, ids=[op[0] for op in WRITES])
    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_write_answered_5xx_is_sent_exactly_once(self, client, mock, name, method, path, call, role, status):
        mock.add(method, ROOT + path, status=status, headers={"Retry-After": "0"})
        with pytest.raises(Unavailable):
            call(client)
        assert len(mock.calls) == 1

    @pytest.mark.parametrize(("name", "method", "path", "call", "role"), WRITES, ids=[op[0] for op in WRITES])
    def test_write_answered_409_then_200_is_sent_twice(self, client, mock, name, method, path, call, role) -> None:
        mock.add(method, ROOT + path, status=409, headers={"Retry-After": "0"})
        mock.add(method, ROOT + path, json=OK)
        call(client)
        assert len(mock.calls) == 2
        assert mock.calls[0].request.body == mock.calls[1].request.body

    def test_no_retries_when_retries_is_zero(self, mock) -> None:
        c = make_client(retries=0)
        mock.get(ROOT + "/1", status=503)
        with pytest.raises(Unavailable):
            c.get(1)
        assert len(mock.calls) == 1


# =========================================================================== no secret leaks
ERROR_SCENARIOS: list[tuple[str, Callable[[responses.RequestsMock], None], Operation]] = [
    ("401", lambda m: m.get(ROOT, status=401), lambda c: c.find()),
    ("404", lambda m: m.get(ROOT + "/1", status=404, body="Not found"), lambda c: c.get(1)),
    ("400", lambda m: m.post(ROOT, status=400, json=INVALID), lambda c: c.create(NewChatRoom(business_id=1))),
    ("400-text", lambda m: m.post(ROOT, status=400, body="bad"), lambda c: c.create(NewChatRoom(business_id=1))),
    (
        "command-failed",
        lambda m: m.post(ROOT + "/runcommand", json={"WasSuccessful": False, "Message": "no"}),
        lambda c: c.run_command("K", [1]),
    ),
    ("409", lambda m: m.get(ROOT, status=409, headers={"Retry-After": "3"}), lambda c: c.find()),
    ("503", lambda m: m.get(ROOT, status=503), lambda c: c.find()),
    ("non-json", lambda m: m.get(ROOT, body="<html>"), lambda c: c.find()),
    ("connection", lambda m: m.get(ROOT, body=requests.ConnectionError(f"to {ROOT}")), lambda c: c.find()),
    ("timeout", lambda m: m.get(ROOT, body=requests.Timeout("slow")), lambda c: c.find()),
    (
        "conflict",
        lambda m: m.get(ROOT + "/1", json=single_record(1)),
        lambda c: c.edit(1, ChatRoomChanges(name="x"), expected_fingerprint="0" * 16),
    ),
]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


class TestNoSecretLeaks:
    @pytest.mark.parametrize(("name", "arrange", "call"), ERROR_SCENARIOS, ids=[s[0] for s in ERROR_SCENARIOS])
    def test_password_never_in_errors_or_debug_logs(self, client, mock, caplog, name, arrange, call) -> None:
        caplog.set_level(logging.DEBUG)
        arrange(mock)
        with pytest.raises(NexudusError) as info:
            call(client)
        error = info.value
        assert_no_secret(str(error))
        assert_no_secret(repr(error))
        assert_no_secret("".join(traceback.format_exception(error)))
        assert_no_secret(repr(vars(error)))
        for record in caplog.records:
            assert_no_secret(record.getMessage())
            assert_no_secret(repr(record.args))
        assert_no_secret(caplog.text)

    def test_credentials_and_client_reprs_hide_the_password(self, client) -> None:
        assert_no_secret(repr(CREDS))
        assert_no_secret(str(CREDS))
        assert "***" in repr(CREDS)
        assert_no_secret(repr(client))

    def test_non_latin1_password_is_sent_as_utf8_and_never_leaks(self, mock) -> None:
        password = "密码-clave"
        c = NexudusClient(BASE, Credentials(EMAIL, password), retries=0, backoff=0, pacer=None)
        mock.get(ROOT, status=401)
        with pytest.raises(NotAuthorised) as info:
            c.find()
        assert password not in repr(info.value) and password not in str(info.value)
        sent = mock.calls[0].request.headers["Authorization"]
        assert sent == "Basic " + base64.b64encode(f"{EMAIL}:{password}".encode()).decode()

    def test_latin1_password_is_sent_as_latin1_like_requests_does(self, mock) -> None:
        password = "contraseña"
        c = NexudusClient(BASE, Credentials(EMAIL, password), retries=0, backoff=0, pacer=None)
        mock.get(ROOT, json=page([]))
        c.find()
        sent = mock.calls[0].request.headers["Authorization"]
        assert sent == "Basic " + base64.b64encode(f"{EMAIL}:{password}".encode("latin-1")).decode()


# =========================================================================== pagination
class TestPagination:
    def test_iter_pages_follows_has_next_page_and_stops_on_the_last(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)], number=1, has_next=True))
        mock.get(ROOT, json=page([list_record(2)], number=2, has_next=True))
        mock.get(ROOT, json=page([list_record(3)], number=3, has_next=False))
        pages = list(client.iter_pages(ChatRoomFilters(active=True), size=1))
        assert [[r.id for r in p.records] for p in pages] == [[1], [2], [3]]
        assert [query_of(c)["page"] for c in mock.calls] == ["1", "2", "3"]
        for call in mock.calls:
            assert query_of(call)["size"] == "1"
            assert query_of(call)["ChatRoom_Active"] == "true"

    def test_iter_pages_default_size_is_the_maximum(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)]))
        list(client.iter_pages())
        assert query_of(mock.calls[0])["size"] == "1000"

    def test_iter_pages_stops_on_an_empty_page(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)], has_next=True))
        mock.get(ROOT, json=page([], number=2, has_next=True))
        pages = list(client.iter_pages())
        assert len(pages) == 2
        assert len(mock.calls) == 2

    def test_iter_pages_respects_max_pages(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)], has_next=True))
        assert len(list(client.iter_pages(max_pages=2))) == 2
        assert len(mock.calls) == 2

    def test_iter_pages_is_lazy(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)], has_next=True))
        pages = client.iter_pages()
        next(pages)
        assert len(mock.calls) == 1

    def test_iter_chatrooms_flattens(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1), list_record(2)], has_next=True))
        mock.get(ROOT, json=page([list_record(3)], number=2))
        assert [r.id for r in client.iter_chatrooms()] == [1, 2, 3]

    def test_find_by_ids_keeps_the_asked_order_and_drops_missing(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1), list_record(2)]))
        found = client.find_by_ids([2, 3, 1, 2])
        assert [r.id for r in found] == [2, 1]
        assert query_of(mock.calls[0])["ChatRoom_Id"] == "[2,3,1]"

    def test_find_by_ids_of_nothing_sends_nothing(self, client, mock) -> None:
        assert client.find_by_ids([]) == []
        assert len(mock.calls) == 0

    def test_find_by_ids_chunks_beyond_1000(self, client, mock) -> None:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            asked = json.loads(dict(parse_qsl(urlsplit(request.url).query))["ChatRoom_Id"])
            # Answer in reverse, and leave out multiples of 7.
            records = [list_record(i) for i in reversed(asked) if i % 7]
            return 200, {}, json.dumps(page(records))

        mock.add_callback(responses.GET, ROOT, callback=answer)
        ids = list(range(2500, 0, -1))
        found = client.find_by_ids(ids)
        assert [r.id for r in found] == [i for i in ids if i % 7]
        chunks = [json.loads(query_of(c)["ChatRoom_Id"]) for c in mock.calls]
        assert [len(c) for c in chunks] == [1000, 1000, 500]
        assert [query_of(c)["size"] for c in mock.calls] == ["1000", "1000", "500"]
        assert [i for chunk in chunks for i in chunk] == ids


# =========================================================================== safe edit
class TestEdit:
    RECORD = single_record(
        1234567,
        Name="Old name",
        Active=True,
        LastAgentVisit="2026-10-01T08:00:00Z",
        Users=[5, 6],
        Colour="teal",
        Tags=["vip"],
        UpdatedOn="2026-10-02T09:00:00Z",
    )

    def arrange(self, mock: responses.RequestsMock, record: dict[str, Any] | None = None, **put: Any) -> None:
        mock.get(ROOT + "/1234567", json=record or self.RECORD)
        mock.put(ROOT, **(put or {"json": OK}))

    def test_put_body_is_the_whole_record_with_only_the_change(self, client, mock) -> None:
        self.arrange(mock)
        merged = client.edit(1234567, ChatRoomChanges(name="New name"))
        get, put = mock.calls
        assert get.request.method == "GET" and path_of(get) == "/api/support/chatrooms/1234567"
        assert put.request.method == "PUT" and path_of(put) == "/api/support/chatrooms"
        assert body_of(put) == {
            "Id": 1234567,
            "Active": True,
            "BusinessId": 12345678,
            "LastAgentVisit": "2026-10-01T08:00:00Z",
            "Name": "New name",
            "Users": [5, 6],
            "SystemId": "{ metadata: { id: 887766, processed: true } }",
            "Colour": "teal",
            "Tags": ["vip"],
        }
        assert merged.name == "New name" and merged.users == [5, 6] and merged.active is True

    def test_several_changes_and_explicit_clears(self, client, mock) -> None:
        self.arrange(mock)
        client.edit(
            1234567,
            ChatRoomChanges(
                active=False,
                users=[7],
                last_agent_visit=datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
                system_id=None,
            ),
        )
        sent = body_of(mock.calls[1])
        assert sent["Active"] is False
        assert sent["Users"] == [7]
        assert sent["LastAgentVisit"] == "2026-11-01T10:00:00Z"
        assert sent["SystemId"] is None  # explicitly set to None: cleared on purpose
        assert sent["Name"] == "Old name"
        assert sent["Colour"] == "teal"

    def test_no_read_only_property_is_sent(self, client, mock) -> None:
        self.arrange(mock)
        client.edit(1234567, ChatRoomChanges(name="x"))
        sent = body_of(mock.calls[1])
        for key in ("CreatedOn", "UpdatedOn", "UpdatedBy", "UniqueId", "Business"):
            assert key not in sent

    def test_users_missing_from_the_record_is_not_sent_as_null(self, client, mock) -> None:
        record = dict(self.RECORD)
        del record["Users"]
        self.arrange(mock, record)
        client.edit(1234567, ChatRoomChanges(name="x"))
        assert "Users" not in body_of(mock.calls[1])

    def test_business_only_record_still_sends_business_id(self, client, mock) -> None:
        record = dict(self.RECORD)
        del record["BusinessId"]
        record["Business"] = {"Id": 77, "Name": "HQ"}
        self.arrange(mock, record)
        client.edit(1234567, ChatRoomChanges(name="x"))
        sent = body_of(mock.calls[1])
        assert sent["BusinessId"] == 77
        assert "Business" not in sent

    def test_conflict_on_updated_on_sends_no_put(self, client, mock) -> None:
        mock.get(ROOT + "/1234567", json=self.RECORD)
        with pytest.raises(Conflict) as info:
            client.edit(
                1234567,
                ChatRoomChanges(name="x"),
                expected_updated_on=datetime(2026, 10, 2, 8, 59, 59, tzinfo=UTC),
            )
        assert info.value.current.id == 1234567
        assert "System" in str(info.value)
        assert [c.request.method for c in mock.calls] == ["GET"]

    def test_matching_updated_on_edits(self, client, mock) -> None:
        self.arrange(mock)
        client.edit(1234567, ChatRoomChanges(name="x"), expected_updated_on=datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
        assert [c.request.method for c in mock.calls] == ["GET", "PUT"]

    def test_conflict_on_fingerprint_sends_no_put(self, client, mock) -> None:
        stale = ChatRoom.model_validate({**self.RECORD, "Name": "What the user saw"}).fingerprint()
        mock.get(ROOT + "/1234567", json=self.RECORD)
        with pytest.raises(Conflict):
            client.edit(
                1234567,
                ChatRoomChanges(name="x"),
                expected_updated_on=datetime(2026, 10, 2, 9, 0, tzinfo=UTC),  # same second
                expected_fingerprint=stale,
            )
        assert [c.request.method for c in mock.calls] == ["GET"]

    def test_matching_fingerprint_edits(self, client, mock) -> None:
        self.arrange(mock)
        seen = ChatRoom.model_validate(self.RECORD).fingerprint()
        client.edit(1234567, ChatRoomChanges(name="x"), expected_fingerprint=seen)
        assert [c.request.method for c in mock.calls] == ["GET", "PUT"]

    def test_validation_failure_on_put(self, client, mock) -> None:
        self.arrange(mock, status=400, json=INVALID)
        with pytest.raises(ValidationFailed) as info:
            client.edit(1234567, ChatRoomChanges(name=""))
        assert info.value.by_field() == {"Name": "may not be null or empty"}
        assert len(mock.calls) == 2

    def test_put_5xx_is_not_retried(self, client, mock) -> None:
        self.arrange(mock, status=503)
        with pytest.raises(Unavailable):
            client.edit(1234567, ChatRoomChanges(name="x"))
        assert [c.request.method for c in mock.calls] == ["GET", "PUT"]


# =========================================================================== factory and probe
class TestFactoryAndProbe:
    def test_factory_reuses_a_client_per_credentials(self) -> None:
        factory = ClientFactory(BASE, pacers=PacerRegistry(enabled=False))
        first = factory(Credentials(EMAIL, PASSWORD))
        again = factory(Credentials(EMAIL, PASSWORD))
        other = factory(Credentials(EMAIL, "another-password"))
        assert first is again and first.session is again.session
        assert other is not first and other.session is not first.session
        assert first.pacer is None

    def test_factory_shares_a_pacer_per_account(self) -> None:
        factory = ClientFactory(BASE)
        a = factory(Credentials("Ops@Example.com", "one"))
        b = factory(Credentials("ops@example.com", "two"))
        assert a is not b
        assert a.pacer is not None and a.pacer is b.pacer

    def test_factory_evicts_the_least_recently_used_beyond_max_clients(self, monkeypatch) -> None:
        closed: list[str] = []
        monkeypatch.setattr(NexudusClient, "close", lambda self: closed.append(self.credentials.email))
        factory = ClientFactory(BASE, max_clients=2, pacers=PacerRegistry(enabled=False))
        a = factory(Credentials("a@x", "p"))
        b = factory(Credentials("b@x", "p"))
        assert factory(Credentials("a@x", "p")) is a  # a is now the most recent
        factory(Credentials("c@x", "p"))
        assert closed == ["b@x"]
        assert factory(Credentials("a@x", "p")) is a
        assert factory(Credentials("b@x", "p")) is not b  # rebuilt
        assert closed == ["b@x", "c@x"]

    def test_factory_forget_closes(self, monkeypatch) -> None:
        closed: list[str] = []
        monkeypatch.setattr(NexudusClient, "close", lambda self: closed.append(self.credentials.email))
        factory = ClientFactory(BASE)
        a = factory(CREDS)
        factory.forget(CREDS)
        factory.forget(CREDS)
        assert closed == [EMAIL]
        assert factory(CREDS) is not a

    def test_factory_passes_its_settings_on(self) -> None:
        codec = TimeCodec(MADRID)
        factory = ClientFactory(BASE + "/", codec=codec, timeout=(1.0, 2.0), retries=5)
        c = factory(CREDS)
        assert c.url == ROOT
        assert c.codec is codec
        assert c.timeout == (1.0, 2.0)
        adapter = c.session.get_adapter("https://nexudus.test/")
        assert isinstance(adapter, HTTPAdapter)
        assert adapter.max_retries.total == 5

    def test_factory_is_thread_safe(self) -> None:
        factory = ClientFactory(BASE)
        got: list[NexudusClient] = []
        barrier = threading.Barrier(8)

        def build() -> None:
            barrier.wait()
            got.append(factory(Credentials(EMAIL, PASSWORD)))

        threads = [threading.Thread(target=build) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in got}) == 1

    def test_probe_true_false_and_other_errors_propagate(self, client, mock) -> None:
        mock.get(ROOT, json=page([list_record(1)]))
        assert client.probe() is True
        assert query_of(mock.calls[0])["size"] == "1"
        mock.replace(responses.GET, ROOT, status=401)
        assert client.probe() is False
        mock.replace(responses.GET, ROOT, body=requests.ConnectionError("down"))
        with pytest.raises(Unavailable):
            client.probe()


# =========================================================================== urllib3's real retry loop
class ScriptedServer:
    """A local HTTP server answering from a script of (status, headers, body, delay) per request."""

    def __init__(self, script: list[tuple[int, dict[str, str], str, float]]) -> None:
        self.script = list(script)
        self.seen: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append((self.command, self.path))
                status, headers, body, delay = outer.script.pop(0) if outer.script else (500, {}, "", 0.0)
                if delay:
                    threading.Event().wait(delay)
                data = body.encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """urllib3's Retry sleeps recorded instead of slept."""
    import time as real_time

    import urllib3.util.retry as retry_module

    recorded: list[float] = []
    fake = types.SimpleNamespace(sleep=recorded.append, time=real_time.time, monotonic=real_time.monotonic)
    monkeypatch.setattr(retry_module, "time", fake)
    return recorded


JSON = {"Content-Type": "application/json"}


class TestRealRetryLoop:
    def test_retry_after_is_honoured_for_reads(self, sleeps) -> None:
        with ScriptedServer(
            [
                (409, {"Retry-After": "2"}, "", 0),
                (503, {"Retry-After": "3"}, "", 0),
                (200, JSON, json.dumps(page([])), 0),
            ]
        ) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0)
            c.find()
            c.close()
        assert sleeps == [2.0, 3.0]
        assert len(server.seen) == 3

    def test_a_throttled_retry_leaves_at_its_own_slot_behind_the_others(self, sleeps) -> None:
        """Nexudus refused a request (Retry-After: 1) while the account's other processes booked the next 2.6 s:
        the retry is booked after them, spaced, and leaves at that slot — not at +1 s in the middle of them,
        where it met one of them and was refused again, four times in a row (bench/cluster_faults.py)."""
        now = [1000.0]
        limits = Limits()

        class Busy(Pacer):  # after this request's slot, 20 requests of other processes are booked
            def acquire(self, write: bool) -> None:
                super().acquire(write)
                for _ in range(20):
                    self.reserve(False)

        pacer = Busy(limits, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        with ScriptedServer([(409, {"Retry-After": "1"}, "", 0), (200, JSON, json.dumps(page([])), 0)]) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0, pacer=pacer)
            c.find()
            c.close()
        step = limits.min_interval + limits.margin
        last_other = 1000.0 + 20 * step
        assert now[0] == pytest.approx(last_other + step), "the retry left at its slot, after the others'"
        assert sleeps == [], "and did not wait Retry-After on top of it"
        assert len(server.seen) == 2

    def test_retry_after_is_capped(self, sleeps) -> None:
        with ScriptedServer([(409, {"Retry-After": "600"}, "", 0), (200, JSON, json.dumps(OK), 0)]) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0, max_retry_after=5)
            c.create(NewChatRoom(business_id=1, name="x"))
            c.close()
        assert sleeps == [5.0]
        assert [m for m, _ in server.seen] == ["POST", "POST"]

    def test_writes_are_retried_only_when_throttled(self, sleeps) -> None:
        with ScriptedServer(
            [
                (503, {"Retry-After": "1"}, "", 0),  # create: not retried
                (500, {}, "", 0),  # run_command: not retried
                (502, {}, "", 0),  # delete: not retried
                (409, {"Retry-After": "0"}, "", 0),  # replace: retried...
                (200, JSON, json.dumps(OK), 0),  # ...and succeeds
            ]
        ) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0)
            with pytest.raises(Unavailable):
                c.create(NewChatRoom(business_id=1, name="x"))
            with pytest.raises(Unavailable):
                c.run_command("K", [1])
            with pytest.raises(Unavailable):
                c.delete(1)
            c.replace({"Id": 1})
            c.close()
        assert [m for m, _ in server.seen] == ["POST", "POST", "DELETE", "PUT", "PUT"]

    def test_read_timeout_retried_for_reads_but_never_for_writes(self, sleeps) -> None:
        slow = (200, JSON, json.dumps(OK), 0.6)
        with ScriptedServer([slow] * 4) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0, timeout=(2.0, 0.2))
            with pytest.raises(Unavailable):
                c.create(NewChatRoom(business_id=1, name="x"))
            assert [m for m, _ in server.seen] == ["POST"]
            with pytest.raises(Unavailable):
                c.get(1)
            c.close()
        assert [m for m, _ in server.seen] == ["POST", "GET", "GET", "GET"]

    def test_connection_refused_is_unavailable(self) -> None:
        with ScriptedServer([]) as server:
            url = server.url
        c = NexudusClient(url, CREDS, retries=1, backoff=0, timeout=(0.5, 0.5))
        with pytest.raises(Unavailable) as info:
            c.find()
        assert_no_secret(repr(info.value))

    def test_real_http_logs_hold_no_secret(self, sleeps, caplog) -> None:
        caplog.set_level(logging.DEBUG)
        with ScriptedServer([(409, {"Retry-After": "1"}, "", 0), (401, {}, "", 0)]) as server:
            c = NexudusClient(server.url, CREDS, retries=2, backoff=0)
            with pytest.raises(NotAuthorised):
                c.find()
            c.close()
        assert caplog.records, "urllib3 and the client log at DEBUG"
        assert_no_secret(caplog.text)


class TestMaybeApplied:
    """A write that may have reached Nexudus is flagged, so nobody is told to simply try again."""

    def test_write_timeout_may_have_been_applied(self, mock) -> None:
        c = make_client(retries=0)
        mock.post(ROOT, body=requests.Timeout())
        with pytest.raises(Unavailable) as info:
            c.create(NewChatRoom(business_id=1, name="x"))
        assert info.value.maybe_applied is True

    def test_write_answered_500_may_have_been_applied(self, mock) -> None:
        c = make_client(retries=0)
        mock.delete(ROOT + "/5", status=500)
        with pytest.raises(Unavailable) as info:
            c.delete(5)
        assert info.value.maybe_applied is True

    def test_read_failure_changed_nothing(self, mock) -> None:
        c = make_client(retries=0)
        mock.get(ROOT, body=requests.Timeout())
        with pytest.raises(Unavailable) as info:
            c.find()
        assert info.value.maybe_applied is False

    def test_connect_timeout_was_never_sent(self, mock) -> None:
        c = make_client(retries=0)
        mock.post(ROOT, body=requests.exceptions.ConnectTimeout())
        with pytest.raises(Unavailable) as info:
            c.create(NewChatRoom(business_id=1, name="x"))
        assert info.value.maybe_applied is False


def test_the_environment_s_proxy_and_ca_settings_are_read_once_when_the_client_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.nexudus.client import environment_once

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    client = NexudusClient("https://spaces.nexudus.com", Credentials("a@b.co", "pw"), retries=0)
    inside = environment_once(requests.Session(), "https://nexudus.internal.example")
    assert client.session.proxies.get("https") == "http://proxy.example:3128"
    assert client.session.verify == "/etc/ssl/company-ca.pem"
    assert not inside.proxies.get("https"), "NO_PROXY is honoured"
    # Read once: a request no longer scans the environment, so a later change does not reach this client.
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:1")
    settings = client.session.merge_environment_settings(client.url, {}, None, None, None)
    assert client.session.trust_env is False and settings["proxies"]["https"] == "http://proxy.example:3128"
