"""Contract cases for the Nexudus chatroom client, shared by the unit and the sandbox tests.

Each case is: what the client is asked to do, the exchanges (request the client makes -> canned answer)
taken from the seed reference's documented examples, and a check of the *typed* outcome (a result or a
`NexudusError`). `tests/unit/test_client_contract.py` replays the canned answers through `responses`;
`tests/integration/test_client_sandbox.py` runs the very same calls and checks against the live sandbox.
So the canned fixtures and the sandbox cannot drift apart without one of them failing.

Where the seed's examples are not valid JSON (`"LastAgentVisit": ,`, `"Business": ,`) the blank is
filled with `null` / a business id. Facts beyond the seed are used where the seed is silent: the single
record carries `Users`; 401 answers both bad credentials and a missing role; a missing record is 404
with the text `Not found`; a failed command is HTTP 200 with `WasSuccessful: false`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.nexudus import (
    ActionResult,
    ChatRoom,
    ChatRoomChanges,
    ChatRoomFilters,
    Command,
    CommandFailed,
    CommandParameter,
    Direction,
    NewChatRoom,
    NexudusClient,
    NotAuthorised,
    NotFound,
    Page,
    ValidationFailed,
)
from bot.sandbox.db import SearchQuery

# ------------------------------------------------------------------ the seed's documented examples
SEED_LIST_RECORD: dict[str, Any] = {
    "Id": 1234567,
    "Business": 12345678,
    "Name": "Name",
    "Active": False,
    "LastAgentVisit": None,
    "CreatedOn": "2018-07-03T06:23:01Z",
    "UpdatedOn": "2020-01-01T21:57:21Z",
    "UpdatedBy": "System",
    "UniqueId": "300e4d5f-090e-4c94-9214-e516f976d063",
    "SystemId": "{ metadata: { id: 887766, processed: true } }",
}

SEED_PAGE: dict[str, Any] = {
    "Records": [SEED_LIST_RECORD],
    "CurrentPageSize": 25,
    "CurrentPage": 1,
    "CurrentOrderField": "Id",
    "CurrentSortDirection": 1,
    "FirstItem": 1,
    "HasNextPage": True,
    "HasPreviousPage": False,
    "LastItem": 25,
    "PageNumber": 1,
    "PageSize": 25,
    "TotalItems": 60,
    "TotalPages": 3,
}

SEED_BY_IDS_PAGE: dict[str, Any] = {
    **SEED_PAGE,
    "Records": [{**SEED_LIST_RECORD, "UniqueId": "179e5853-f8b5-449c-be28-3f3ba10a977d"}],
    "LastItem": 1,
    "TotalItems": 1,
    "TotalPages": 1,
}

SEED_SINGLE: dict[str, Any] = {
    "Id": 1234567,
    "Active": False,
    "BusinessId": 12345678,
    "LastAgentVisit": None,
    "Name": "Name",
    "CreatedOn": "2018-07-03T06:23:01Z",
    "UpdatedOn": "2020-01-01T21:57:21Z",
    "UpdatedBy": "System",
    "UniqueId": "cbd076ef-2691-465b-95f6-058a43f0158a",
    "SystemId": "{ metadata: { id: 887766, processed: true } }",
    "Users": [12345678, 87654321],
}

SEED_CREATE_OK: dict[str, Any] = {
    "Status": 200,
    "WasSuccessful": True,
    "Message": "Record 'Name of the record' has been succesfully created.",
    "Value": {"Id": 12354678},
}

SEED_INVALID: dict[str, Any] = {
    "Status": 500,
    "Message": "Name: may not be null or empty",
    "Value": None,
    "WasSuccessful": False,
    "Errors": [{"AttemptedValue": None, "Message": "may not be null or empty", "PropertyName": "Name"}],
}

SEED_UPDATE_OK: dict[str, Any] = {
    "Status": 200,
    "WasSuccessful": True,
    "Message": "Record 'Name of the record' has been succesfully updated.",
    "Value": {"Id": 12354678},
}

SEED_DELETE_OK: dict[str, Any] = {
    "Status": 200,
    "WasSuccessful": True,
    "Message": "The record was deleted successfully.",
    "Value": None,
    "OpenInDialog": False,
    "RedirectURL": None,
    "JavaScript": None,
    "Errors": None,
}

SEED_COMMANDS: list[dict[str, Any]] = [
    {
        "Key": "COMMAND_KEY_2",
        "Name": "Command 2 english description",
        "AppliesOnlyToMultipleEntities": False,
        "DisplayInDropdown": True,
        "DisplayInDropdownV2": True,
        "AppliesOnlyToOneEntity": True,
        "AppliesOnlyToTwoEntities": False,
        "DisplayInGrid": True,
        "NeedsEntitiesToRun": True,
        "Order": 10,
        "RequiresParameters": [
            {"Name": "Parameter 1 description", "Type": "string"},
            {"Name": "Parameter 2 description", "Type": "Boolean"},
        ],
    },
    {
        "Key": "COMMAND_KEY_1",
        "Name": "Command 1 english description",
        "AppliesOnlyToMultipleEntities": False,
        "DisplayInDropdown": True,
        "DisplayInDropdownV2": True,
        "AppliesOnlyToOneEntity": False,
        "AppliesOnlyToTwoEntities": False,
        "DisplayInGrid": False,
        "NeedsEntitiesToRun": True,
        "Order": 2,
        "RequiresParameters": [],
    },
]

SEED_RUN_OK: dict[str, Any] = {
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
}

RUN_FAILED: dict[str, Any] = {
    "Errors": None,
    "JavaScript": None,
    "Message": "This command runs on exactly one chatroom.",
    "OpenInDialog": False,
    "OpenInWindow": False,
    "RedirectURL": None,
    "Status": 500,
    "Value": None,
    "WasSuccessful": False,
}


def seed(example: Any) -> Any:
    """A fresh copy of a seed example, so a test can change it without touching the others."""
    return copy.deepcopy(example)


# ------------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class Target:
    """The records a case acts on: the seed's ids for `responses`, real ones in the sandbox."""

    existing_id: int
    missing_id: int
    disposable_id: int
    business_id: int
    # A command that takes exactly one chatroom and a string then a Boolean parameter (as COMMAND_KEY_2).
    command_key: str
    command_parameters: tuple[tuple[CommandParameter, str], ...]


UNIT_TARGET = Target(
    existing_id=1234567,
    missing_id=7654321,
    disposable_id=12345678,
    business_id=12345678,
    command_key="COMMAND_KEY_2",
    command_parameters=(
        (CommandParameter(name="Parameter 1 description", type="string"), "987654321"),
        (CommandParameter(name="Parameter 2 description", type="Boolean"), "true"),
    ),
)


@dataclass(frozen=True)
class Exchange:
    """One request the client makes (method, path under `/support/chatrooms`, query) and its canned answer."""

    method: str
    path: str  # formatted with the Target's fields, e.g. "/{existing_id}"
    status: int
    body: Any  # JSON-able, or str for a plain-text answer
    query: Mapping[str, str] | None = None  # expected query parameters (all of them), formatted with the Target
    json_subset: Mapping[str, Any] | None = None  # keys the JSON request body must carry with these values

    def url_path(self, target: Target) -> str:
        return self.path.format(**vars(target))

    def expected_query(self, target: Target) -> dict[str, str] | None:
        if self.query is None:
            return None
        return {k: v.format(**vars(target)) for k, v in self.query.items()}


Account = str  # "admin" (every role), "reader" (List + Read), "wrong" (a bad password)


@dataclass(frozen=True)
class ContractCase:
    id: str
    call: Callable[[NexudusClient, Target], Any]
    exchanges: tuple[Exchange, ...]
    check: Callable[[Any, Target], None]
    raises: type[Exception] | None = None
    account: Account = "admin"
    tags: frozenset[str] = field(default_factory=frozenset)


def run(case: ContractCase, client: NexudusClient, target: Target) -> None:
    """Make the case's call and check its typed outcome (the result, or the error it must raise)."""
    if case.raises is None:
        case.check(case.call(client, target), target)
        return
    try:
        result = case.call(client, target)
    except case.raises as error:
        case.check(error, target)
    else:
        raise AssertionError(f"{case.id}: expected {case.raises.__name__}, got {result!r}")


# ------------------------------------------------------------------------------- the checks
def _aware(value: datetime | None) -> bool:
    return value is None or (value.tzinfo is not None and value.utcoffset() is not None)


def _check_list_record(record: Any) -> None:
    assert isinstance(record, ChatRoom)
    assert isinstance(record.id, int) and record.id > 0
    assert record.users is None, "list records omit Users"
    assert isinstance(record.business, int), "list records name their business"
    assert isinstance(record.active, bool)
    assert record.created_on is not None and _aware(record.created_on)
    assert record.updated_on is not None and _aware(record.updated_on)
    assert _aware(record.last_agent_visit)
    assert isinstance(record.unique_id, str) and record.unique_id


def check_page_shape(page: Any, target: Target) -> None:
    assert isinstance(page, Page)
    assert page.records, "the demo set is not empty"
    assert len(page.records) <= 25
    for record in page.records:
        _check_list_record(record)
    assert page.current_page == 1
    assert page.has_previous_page is False
    assert page.total_items >= len(page.records)


def check_page(page: Any, target: Target) -> None:
    check_page_shape(page, target)
    assert page.has_next_page is True
    assert page.has_previous_page is False
    assert page.total_items > len(page.records)
    assert page.total_pages >= 2


def check_inactive_descending(page: Any, target: Target) -> None:
    check_page_shape(page, target)
    assert all(r.active is False for r in page.records)
    ids = [r.id for r in page.records]
    assert ids == sorted(ids, reverse=True)


def check_by_ids(found: Any, target: Target) -> None:
    assert isinstance(found, list)
    assert [r.id for r in found] == [target.existing_id], "the missing id is left out, the existing one kept"
    record = found[0]
    if record.users is not None:  # `id=[…]` answers full records (with Users and BusinessId)
        record = record.model_copy(update={"users": None})
    _check_list_record(record)


def check_single(record: Any, target: Target) -> None:
    assert isinstance(record, ChatRoom)
    assert record.id == target.existing_id
    assert isinstance(record.business_id, int) and record.business == record.business_id
    assert isinstance(record.users, list) and all(isinstance(u, int) for u in record.users)
    assert record.created_on is not None and _aware(record.created_on)
    assert record.updated_on is not None and _aware(record.updated_on)
    assert isinstance(record.updated_by, str)
    assert len(record.fingerprint()) == 16


def check_not_found(error: Any, target: Target) -> None:
    assert isinstance(error, NotFound)
    assert error.chatroom_id == target.missing_id
    assert str(target.missing_id) in str(error)


def check_created(new_id: Any, target: Target) -> None:
    assert isinstance(new_id, int) and new_id > 0


def check_name_required(error: Any, target: Target) -> None:
    assert isinstance(error, ValidationFailed)
    assert "Name" in error.by_field()
    assert error.by_field()["Name"]
    assert str(error)


def check_edited(record: Any, target: Target) -> None:
    assert isinstance(record, ChatRoom)
    assert record.id == target.existing_id
    assert record.name == "Renamed by the contract"
    assert isinstance(record.users, list), "an edit keeps Users"


def check_deleted(result: Any, target: Target) -> None:
    assert isinstance(result, ActionResult)
    assert result.was_successful is True


def check_commands(commands: Any, target: Target) -> None:
    assert isinstance(commands, list) and commands
    assert all(isinstance(c, Command) and c.key for c in commands)
    orders = [c.order for c in commands]
    assert orders == sorted(orders), "commands come sorted by Order"
    by_key = {c.key: c for c in commands}
    wanted = by_key[target.command_key]
    assert wanted.applies_only_to_one_entity is True
    assert [(p.name, p.type) for p in wanted.requires_parameters] == [
        (p.name, p.type) for p, _ in target.command_parameters
    ]


def check_command_ran(result: Any, target: Target) -> None:
    assert isinstance(result, ActionResult)
    assert result.was_successful is True
    assert result.message


def check_command_failed(error: Any, target: Target) -> None:
    assert isinstance(error, CommandFailed)
    assert isinstance(error.result, ActionResult)
    assert error.result.was_successful is False
    assert str(error)


def _not_authorised(role: str) -> Callable[[Any, Target], None]:
    def check(error: Any, target: Target) -> None:
        assert isinstance(error, NotAuthorised)
        assert error.role == role
        assert role in str(error)

    return check


def check_probe_false(result: Any, target: Target) -> None:
    assert result is False


def check_probe_true(result: Any, target: Target) -> None:
    assert result is True


PAGING = {"page": "1", "size": "25", "orderby": "Id", "dir": "Ascending"}

CASES: tuple[ContractCase, ...] = (
    ContractCase(
        id="find-first-page",
        call=lambda c, t: c.find(),
        exchanges=(Exchange("GET", "", 200, SEED_PAGE, query=PAGING),),
        check=check_page,
    ),
    ContractCase(
        id="find-active-descending",
        call=lambda c, t: c.find(ChatRoomFilters(active=False), order_by="Id", direction=Direction.DESCENDING),
        exchanges=(
            Exchange("GET", "", 200, SEED_PAGE, query={**PAGING, "dir": "Descending", "ChatRoom_Active": "false"}),
        ),
        check=check_inactive_descending,
    ),
    ContractCase(
        id="find-by-ids",
        call=lambda c, t: c.find_by_ids([t.existing_id, t.missing_id]),
        exchanges=(
            Exchange(
                "GET",
                "",
                200,
                SEED_BY_IDS_PAGE,
                query={"ChatRoom_Id": "[{existing_id},{missing_id}]", "page": "1", "size": "2"},
            ),
        ),
        check=check_by_ids,
    ),
    ContractCase(
        id="get",
        call=lambda c, t: c.get(t.existing_id),
        exchanges=(Exchange("GET", "/{existing_id}", 200, SEED_SINGLE),),
        check=check_single,
    ),
    ContractCase(
        id="get-missing",
        call=lambda c, t: c.get(t.missing_id),
        exchanges=(Exchange("GET", "/{missing_id}", 404, "Not found"),),
        check=check_not_found,
        raises=NotFound,
    ),
    ContractCase(
        id="create",
        call=lambda c, t: c.create(NewChatRoom(business_id=t.business_id, name="Created by the contract", active=True)),
        exchanges=(
            Exchange(
                "POST",
                "",
                200,
                SEED_CREATE_OK,
                json_subset={"BusinessId": "{business_id}", "Name": "Created by the contract", "Active": True},
            ),
        ),
        check=check_created,
    ),
    ContractCase(
        id="create-without-name",
        call=lambda c, t: c.create(NewChatRoom(business_id=t.business_id)),
        exchanges=(Exchange("POST", "", 400, SEED_INVALID),),
        check=check_name_required,
        raises=ValidationFailed,
    ),
    ContractCase(
        id="edit",
        call=lambda c, t: c.edit(t.existing_id, ChatRoomChanges(name="Renamed by the contract")),
        exchanges=(
            Exchange("GET", "/{existing_id}", 200, SEED_SINGLE),
            Exchange(
                "PUT", "", 200, SEED_UPDATE_OK, json_subset={"Id": "{existing_id}", "Name": "Renamed by the contract"}
            ),
        ),
        check=check_edited,
    ),
    ContractCase(
        id="commands",
        call=lambda c, t: c.commands(),
        exchanges=(Exchange("GET", "/commands", 200, SEED_COMMANDS),),
        check=check_commands,
    ),
    ContractCase(
        id="run-command",
        call=lambda c, t: c.run_command(t.command_key, [t.existing_id], t.command_parameters),
        exchanges=(
            Exchange(
                "POST",
                "/runcommand",
                200,
                SEED_RUN_OK,
                json_subset={"Key": "{command_key}", "Ids": ["{existing_id}"]},
            ),
        ),
        check=check_command_ran,
    ),
    ContractCase(
        id="run-command-on-too-many",
        call=lambda c, t: c.run_command(t.command_key, [t.existing_id, t.disposable_id], t.command_parameters),
        exchanges=(Exchange("POST", "/runcommand", 200, RUN_FAILED),),
        check=check_command_failed,
        raises=CommandFailed,
    ),
    ContractCase(
        id="reader-delete-refused",
        call=lambda c, t: c.delete(t.disposable_id),
        exchanges=(Exchange("DELETE", "/{disposable_id}", 401, ""),),
        check=_not_authorised("ChatRoom-Delete"),
        raises=NotAuthorised,
        account="reader",
    ),
    ContractCase(
        id="reader-probe",
        call=lambda c, t: c.probe(),
        exchanges=(Exchange("GET", "", 200, SEED_PAGE, query={**PAGING, "size": "1"}),),
        check=check_probe_true,
        account="reader",
    ),
    ContractCase(
        id="wrong-password-find",
        call=lambda c, t: c.find(),
        exchanges=(Exchange("GET", "", 401, ""),),
        check=_not_authorised("ChatRoom-List"),
        raises=NotAuthorised,
        account="wrong",
    ),
    ContractCase(
        id="wrong-password-probe",
        call=lambda c, t: c.probe(),
        exchanges=(Exchange("GET", "", 401, ""),),
        check=check_probe_false,
        account="wrong",
    ),
    ContractCase(
        id="delete",
        call=lambda c, t: c.delete(t.disposable_id),
        exchanges=(Exchange("DELETE", "/{disposable_id}", 200, SEED_DELETE_OK),),
        check=check_deleted,
    ),
    ContractCase(
        id="delete-missing",
        call=lambda c, t: c.delete(t.missing_id),
        exchanges=(Exchange("DELETE", "/{missing_id}", 404, "Not found"),),
        check=check_not_found,
        raises=NotFound,
    ),
)
"""In an order that also works against one live sandbox: `delete` comes after every use of `disposable_id`."""


MISSING_ID = 987_654_321


def sandbox_target(server: Any) -> Target:
    rows, _ = server.db.search(SearchQuery(size=1000))
    named = [r for r in rows if r.name]
    return Target(
        existing_id=named[0].id,
        missing_id=MISSING_ID,
        disposable_id=named[1].id,
        business_id=server.db.businesses()[0][0],
        command_key="SEND_TRANSCRIPT",
        command_parameters=(
            (CommandParameter(name="Email", type="EmailAddress"), "ops@example.com"),
            (CommandParameter(name="Include archived", type="Boolean"), "true"),
        ),
    )


def format_json(template: Any, target: Target) -> Any:
    """A json_subset with its "{field}" strings replaced by the Target's values (ints stay ints)."""
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return getattr(target, template[1:-1])
    if isinstance(template, list):
        return [format_json(v, target) for v in template]
    if isinstance(template, dict):
        return {k: format_json(v, target) for k, v in template.items()}
    return template
