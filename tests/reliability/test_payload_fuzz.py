"""Arbitrary slash-command text and malformed or hostile interactive payloads, signed as Slack would sign them,
through the real app over HTTP: every request gets a clean answer and nothing fails uncaught."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from conftest import RunningApp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import RecordList, all_text, capture_logs, prefilled_state, text_input, wait_quiet

from bot.console import signing
from bot.slack import ids

EXAMPLES = 100
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ACTION_IDS = [v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str) and "." in v]
CALLBACK_IDS = [ids.LOGIN_MODAL, ids.CREATE_MODAL, ids.EDIT_MODAL, ids.DELETE_MODAL, ids.INFO_MODAL]
VERBS = ["", "list ", "show ", "edit ", "delete ", "create ", "search ", "alerts ", "run ", "help ", "commands "]

# Anything JSON can carry, kept small; plus a few hostile scalars.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.just("x" * 5_000),
    st.just("1000001"),
    st.just("-1"),
    st.just("edit:1000001"),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def errors() -> Iterator[RecordList]:
    with capture_logs(logging.WARNING) as handler:
        yield handler


def _unexpected(records: RecordList) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in records.at_least(logging.ERROR)]


def _finish(app: RunningApp, errors: RecordList) -> None:
    """Let every lazy listener finish, then demand a clean log."""
    wait_quiet(app.fake, idle=0.6, limit=60)
    bad = _unexpected(errors)
    assert not bad, "\n".join(bad[:10])


@pytest.mark.integration
def test_any_slash_command_text_gets_a_clean_answer(logged_in: RunningApp, errors: RecordList) -> None:
    app = logged_in
    tried: list[str] = []

    @FUZZ
    @given(verb=st.sampled_from(VERBS), rest=st.text(max_size=300) | st.just("🙂" * 3000))
    def check(verb: str, rest: str) -> None:
        text = verb + rest
        tried.append(text)
        ack = app.slack.command(text)
        assert ack.status == 200, (text, ack)
        assert ack.body is None or isinstance(ack.body, dict), ack.body

    check()
    assert len(tried) >= EXAMPLES
    _finish(app, errors)


def _payload(draw: st.DrawFn, app: RunningApp, views: list[dict[str, Any]]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut", "x", None]))
    payload: dict[str, Any] = {"token": "verification-token", "api_app_id": "A0001"}
    if kind is not None:
        payload["type"] = kind
    # Slack always says who acted (without it there is no one to answer); everything else varies.
    payload["user"] = {"id": app.slack.user_id, "team_id": app.slack.team_id}
    if draw(st.booleans()):
        payload["team"] = {"id": app.slack.team_id}
    if draw(st.booleans()):
        payload["trigger_id"] = draw(st.sampled_from(["1.2.3", ""]) | st.text(max_size=20))
    if draw(st.booleans()):
        payload["response_url"] = draw(st.sampled_from([app.fake.response_url("fuzz"), "", "not a url"]))
    if kind == "block_actions" or draw(st.booleans()):
        # Containers keep Slack's shape here (test_shape_fuzz.py varies the shapes); contents vary.
        shape = draw(st.sampled_from(["none", "empty", "list"]))
        if shape == "empty":
            payload["actions"] = []
        elif shape == "list":
            action: dict[str, Any] = {
                "action_id": draw(st.sampled_from(ACTION_IDS) | st.text(max_size=30)),
                "block_id": "b",
                "type": draw(st.sampled_from(["button", "overflow", "static_select"])),
            }
            if draw(st.booleans()):
                action["value"] = draw(scalars)
            if draw(st.booleans()):
                action["selected_option"] = draw(json_values | st.fixed_dictionaries({"value": scalars}))
            payload["actions"] = [action] * draw(st.integers(1, 2))
        if draw(st.booleans()):
            payload["channel"] = {"id": app.slack.channel_id}
            payload["container"] = {"type": "message", "channel_id": app.slack.channel_id}
    if kind in ("view_submission", "view_closed") or draw(st.booleans()):
        if draw(st.integers(0, 4)) == 0:
            payload["view"] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
        else:
            base = dict(draw(st.sampled_from(views)))
            base["callback_id"] = draw(st.sampled_from(CALLBACK_IDS) | st.text(max_size=20))
            meta = draw(
                st.sampled_from(
                    [
                        base.get("private_metadata", ""),
                        '{"chatroom_id": -5, "fingerprint": "x"}',
                        '{"chatroom_id": 99999999999, "fingerprint": "x"}',
                        '{"chatroom_id": "1000001", "fingerprint": "x", "admin": true}',
                        '{"response_url": "http://127.0.0.1:1/x", "chatroom_id": 1000001, "fingerprint": "x"}',
                        "{not json",
                        "x" * 5000,
                    ]
                )
                | scalars
            )
            base["private_metadata"] = meta
            state = draw(st.sampled_from(["prefilled", "wrong", "missing"]))
            if state == "prefilled":
                base["state"] = {"values": prefilled_state(base)}
            elif state == "wrong":
                base["state"] = draw(json_values | st.fixed_dictionaries({"values": json_values}))
            else:
                base.pop("state", None)
            if draw(st.booleans()):
                base["hash"] = draw(st.text(max_size=10))
            payload["view"] = base
    return payload


payloads = st.composite(_payload)


@pytest.mark.integration
def test_malformed_and_hostile_payloads_get_clean_answers(logged_in: RunningApp, errors: RecordList) -> None:
    app = logged_in
    # Real views to start from: an edit form, a delete confirmation, a create form.
    views: list[dict[str, Any]] = []
    for text, method in (
        ("edit 1000001", "views.update"),
        ("delete 1000002", "views.update"),
        ("create", "views.open"),
    ):
        app.fake.clear()
        app.slack.command(text)
        app.fake.wait_for(method)
        views.append(app.fake.last(method).response["view"])  # type: ignore[union-attr]
    wait_quiet(app.fake, idle=0.3)
    statuses: dict[int, int] = {}

    @FUZZ
    @given(data=st.data(), encoding=st.sampled_from(["payload", "payload", "payload", "raw", "json-list"]))
    def check(data: st.DataObject, encoding: str) -> None:
        payload = data.draw(payloads(app, views))
        if encoding == "payload":
            body = "payload=" + quote(json.dumps(payload))
        elif encoding == "raw":
            body = "payload=" + quote(data.draw(st.text(max_size=100)))
        else:
            body = "payload=" + quote(json.dumps([payload]))
        ack = app.slack.post(body, headers=signing.signed_headers(body, "test-signing-secret"))
        statuses[ack.status] = statuses.get(ack.status, 0) + 1
        assert ack.status in (200, 400, 404), (ack.status, ack.body, all_text(payload)[:300])

    check()
    assert sum(statuses.values()) >= EXAMPLES
    _finish(app, errors)
    # Every submission that got past its ack was answered: nothing was left without a reply.
    assert app.sandbox.db.get(1_000_001) is not None and app.sandbox.db.get(1_000_002) is not None


@pytest.mark.integration
def test_forged_private_metadata_is_refused_with_a_clear_message(logged_in: RunningApp, errors: RecordList) -> None:
    app = logged_in
    app.slack.command("edit 1000003")
    app.fake.wait_for("views.update")
    form = app.fake.last("views.update").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: text_input("Forged")}
    real = json.loads(form["private_metadata"])
    forgeries = [
        {**real, "chatroom_id": 1_000_004},  # someone else's room: fingerprint no longer matches → conflict
        {**real, "chatroom_id": "abc"},
        {**real, "extra": "field"},
        {**real, "fingerprint": "f" * 65},
        "not json at all",
        "",
        "x" * 4000,
    ]
    refused = 0
    for forged in forgeries:
        meta = forged if isinstance(forged, str) else json.dumps(forged)
        ack = app.slack.submit(form | {"private_metadata": meta, "hash": str(refused)}, values)
        assert ack.status == 200
        if forged is forgeries[0]:
            continue
        assert ack.json["response_action"] == "update"
        assert "out of date or was altered" in all_text(ack.json["view"]), ack.json
        refused += 1
    assert refused == len(forgeries) - 1
    # The one that validated (another room id) is refused by the fingerprint, and nothing is renamed.
    app.fake.wait_for("views.update", count=2, timeout=10)
    wait_quiet(app.fake, idle=0.3)
    shown = all_text(app.fake.calls("views.update")[-1].args)
    assert "changed this chatroom after you opened it" in shown, shown[:500]
    for room in (1_000_003, 1_000_004):
        row = app.sandbox.db.get(room)
        assert row is not None and row.name != "Forged"
    assert not _unexpected(errors)


@pytest.mark.integration
def test_a_button_with_a_forged_value_is_answered_not_ignored(logged_in: RunningApp, errors: RecordList) -> None:
    app = logged_in
    for action_id in (ids.EDIT, ids.DELETE, ids.SHOW, ids.RUN):
        for forged in ("1000001; DROP TABLE", "3000000000"):  # not digits; digits past the 32-bit ids
            app.fake.clear()
            assert app.slack.click(action_id, forged).status == 200
            reply = app.fake.wait_for("response_url")[0].args
            assert "no valid chatroom id" in all_text(reply)
    app.fake.clear()
    assert app.slack.click(ids.LIST_PAGE, "delete 1000001").status == 200
    assert "out of date" in all_text(app.fake.wait_for("response_url")[0].args)
    wait_quiet(app.fake, idle=0.3)
    assert app.sandbox.db.get(1_000_001) is not None
    assert not _unexpected(errors)
