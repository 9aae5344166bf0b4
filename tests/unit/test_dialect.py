"""Dialect detection in the adapter, against canned answers: verify, fall back, remember; and the token login."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from bot.nexudus import ChatRoom, Credentials, Direction, NexudusClient, UnexpectedResponse
from bot.nexudus.auth import TokenRefused, exchange_password, needs_refresh, refresh_tokens
from bot.nexudus.client import record_to_wire
from bot.nexudus.dialect import DialectMemory, ids_verdict, order_verdict
from bot.nexudus.timecodec import UTC_CODEC

BASE = "https://nexudus.test/api"
ROOT = BASE + "/support/chatrooms"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def rec(i: int, **extra: Any) -> dict[str, Any]:
    return {"Id": i, "Business": 9, "Name": f"Room {i}", "Active": True, "UpdatedOn": "2026-11-01T10:00:00Z", **extra}


def page(records: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    return {"Records": records, "CurrentPage": 1, "TotalItems": len(records) if total is None else total}


def client(memory: DialectMemory, credentials: Credentials | None = None) -> NexudusClient:
    return NexudusClient(BASE, credentials or Credentials("a@b.co", "pw"), retries=0, pacer=None, dialects=memory)


def queries(mock: responses.RequestsMock) -> list[dict[str, str]]:
    return [dict(parse_qsl(urlsplit(c.request.url).query)) for c in mock.calls]


def test_an_ignored_chatroom_id_filter_falls_back_to_the_array_form_and_is_remembered() -> None:
    memory = DialectMemory()
    with responses.RequestsMock() as mock:
        # Envelope form ignored: an unfiltered first page. Array form understood: exactly the ids.
        mock.get(ROOT, json=page([rec(1), rec(2), rec(3)], total=60))
        mock.get(ROOT, json=[rec(5, Users=[1]), rec(3, Users=[])])
        mock.get(ROOT, json=[rec(3, Users=[])])
        c = client(memory)
        assert [r.id for r in c.find_by_ids([3, 5])] == [3, 5]
        assert [r.id for r in c.find_by_ids([3])] == [3]
        sent = queries(mock)
    assert "ChatRoom_Id" in sent[0] and sent[1] == {"id": "[3,5]"} and sent[2] == {"id": "[3]"}
    assert memory.get(BASE).ids == "array"


def test_a_refused_batch_form_falls_back_to_one_read_per_id_dropping_none() -> None:
    memory = DialectMemory()
    with responses.RequestsMock() as mock:
        bad = {"Status": 500, "WasSuccessful": False, "Message": "id: must be an id", "Errors": []}
        mock.get(ROOT, json=page([rec(9)], total=60))  # envelope ignored
        mock.get(ROOT, status=400, json=bad)  # array refused
        mock.get(ROOT + "/4", json=rec(4, BusinessId=9, Users=[]))
        mock.get(ROOT + "/7", status=404, body="Not found")
        found = client(memory).find_by_ids([4, 7])
    assert [r.id for r in found] == [4]
    assert memory.get(BASE).ids == "per-id"


def test_a_descending_page_in_the_wrong_order_tries_the_next_dir_form() -> None:
    memory = DialectMemory()
    with responses.RequestsMock() as mock:
        mock.get(ROOT, json=page([rec(1), rec(2), rec(3)]))  # dir=Descending ignored
        mock.get(ROOT, json=page([rec(3), rec(2), rec(1)]))  # dir=-1 understood
        mock.get(ROOT, json=page([rec(6), rec(5)]))
        c = client(memory)
        assert [r.id for r in c.find(direction=Direction.DESCENDING).records] == [3, 2, 1]
        c.find(direction=Direction.DESCENDING)
        dirs = [q["dir"] for q in queries(mock)]
    assert dirs == ["Descending", "-1", "-1"]
    assert memory.get(BASE).dir == "signed"


def test_a_server_that_ignores_every_direction_is_named_not_trusted() -> None:
    with responses.RequestsMock() as mock:
        for _ in range(3):
            mock.get(ROOT, json=page([rec(1), rec(2)]))
        with pytest.raises(UnexpectedResponse, match="sort direction"):
            client(DialectMemory()).find(direction=Direction.DESCENDING)


def test_a_bare_array_list_is_a_page() -> None:
    memory = DialectMemory()
    with responses.RequestsMock() as mock:
        mock.get(ROOT, json=[rec(1), rec(2)])
        result = client(memory).find(size=2)
    assert [r.id for r in result.records] == [1, 2] and result.has_next_page is True
    assert memory.get(BASE).list_shape == "array"


def test_order_and_ids_verdicts() -> None:
    rooms = [ChatRoom(id=i) for i in (3, 2, 2, 1)]
    assert order_verdict(rooms, "Id", Direction.DESCENDING) is True
    assert order_verdict(rooms, "Id", Direction.ASCENDING) is False
    assert order_verdict(rooms[:1], "Id", Direction.ASCENDING) is None
    assert order_verdict(rooms, "Name", Direction.ASCENDING) is None  # collation unknown: not judged
    assert ids_verdict([1, 2], [1, 2, 3], total=2) is True
    assert ids_verdict([1, 9], [1, 2], total=2) is False
    assert ids_verdict([1, 2], [1, 2], total=60) is False


def test_computed_fields_are_not_sent_back_but_custom_fields_are() -> None:
    record = ChatRoom.model_validate(
        rec(
            1,
            BusinessId=9,
            Users=[4],
            IsNew=False,
            ToStringText="Room 1",
            LocalizationDetails=None,
            CustomFields={"Data": [{"Name": "Floor", "Value": "2"}]},
            AddedUsers=None,
            RemovedUsers=None,
        )
    )
    body = record_to_wire(record, UTC_CODEC)
    assert body["CustomFields"] == {"Data": [{"Name": "Floor", "Value": "2"}]} and body["Users"] == [4]
    assert not {"IsNew", "ToStringText", "LocalizationDetails", "AddedUsers", "RemovedUsers"} & set(body)


# ------------------------------------------------------------------------------------------- tokens
def test_bearer_credentials_send_the_token_and_never_show_it() -> None:
    creds = Credentials("a@b.co", access_token="tok-123", refresh_token="ref-456", expires_at=NOW)
    assert "tok-123" not in repr(creds) and "ref-456" not in str(creds) and creds.scheme == "Bearer"
    with responses.RequestsMock() as mock:
        mock.get(ROOT, json=page([rec(1)]))
        client(DialectMemory(), creds).find()
        assert mock.calls[0].request.headers["Authorization"] == "Bearer tok-123"


def test_the_token_exchange_is_form_encoded_and_reads_the_documented_answer() -> None:
    with responses.RequestsMock() as mock:
        answer = {"access_token": "A", "token_type": "bearer", "expires_in": 604799, "refresh_token": "R"}
        mock.post(BASE + "/token", json=answer)
        mock.post(BASE + "/token", status=400, json={"error": "invalid_grant", "error_description": "bad"})
        got = exchange_password(requests.Session(), BASE, "a@b.co", "pw", now=NOW, totp="123 456")
        body = dict(parse_qsl(mock.calls[0].request.body))
        assert mock.calls[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert body == {"grant_type": "password", "username": "a@b.co", "password": "pw", "totp": "123456"}
        assert got.access_token == "A" and got.refresh_token == "R" and got.password == ""
        assert got.expires_at == NOW + timedelta(seconds=604799)
        with pytest.raises(TokenRefused) as refused:
            refresh_tokens(requests.Session(), BASE, got, now=NOW)
        assert refused.value.error == "invalid_grant" and "bad" not in str(refused.value)
        assert json.loads(json.dumps(dict(parse_qsl(mock.calls[1].request.body)))) == {
            "grant_type": "refresh_token",
            "refresh_token": "R",
        }
    assert not needs_refresh(got, NOW + timedelta(days=5))
    assert needs_refresh(got, NOW + timedelta(days=6, hours=1))
