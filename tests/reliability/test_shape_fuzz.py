"""Signed requests of every SHAPE — keys missing, values of the wrong type, junk nested where Slack puts
objects — through the real Bolt app over HTTP: each gets a 2xx or 4xx answer, never a 500.

Each example starts from a genuine request of one kind (a slash command, a button in a message, a button in a
modal, each modal's submission and closing, the run form's options request, the Home tab event) and mutates
its structure at one to four places, biased towards the containers listeners read (``actions``, ``view``,
``state``, ``private_metadata``, ``user``, ``team``, ``container``…)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from conftest import SIGNING_SECRET, RunningApp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import RecordList, capture_logs, prefilled_state, wait_quiet
from slack_sdk.errors import SlackApiError

from bot.console import signing
from bot.slack import ids

EXAMPLES = 400
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
INTERESTING = {
    "actions", "view", "state", "values", "private_metadata", "user", "team", "container", "channel", "message",
    "selected_option", "selected_options", "value", "action_id", "block_id", "callback_id", "type", "event",
    "response_urls", "trigger_id", "response_url", "id", "team_id", "blocks", "hash", "authorizations",
}  # fmt: skip

junk_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False), st.text(max_size=12)
)
junk = st.recursive(
    junk_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)

Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            yield from _paths(inner, (*prefix, index))


def _mutate(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(payload))
        if not paths:
            break
        interesting = [p for p in paths if p[-1] in INTERESTING or len(p) <= 2]
        path = draw(st.sampled_from(interesting if interesting and draw(st.integers(0, 3)) else paths))
        parent: Any = payload
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "junk", "junk", "wrap", "empty", "json-string"]))
        if op == "delete":
            del parent[key]
        elif op == "junk":
            parent[key] = draw(junk)
        elif op == "wrap":
            parent[key] = [parent[key]] if not isinstance(parent[key], list) else {"0": parent[key]}
        elif op == "empty":
            parent[key] = draw(st.sampled_from([{}, [], "", None, 0]))
        else:
            parent[key] = json.dumps(parent[key])
    return payload


def _bases(app: RunningApp) -> list[tuple[str, dict[str, Any]]]:
    """Genuine payloads of every kind the app handles, as (encoding, payload)."""
    slack = app.slack
    views: dict[str, dict[str, Any]] = {}
    for text, method, name in (
        ("edit 1000001", "views.update", "edit"),
        ("delete 1000002", "views.update", "delete"),
        ("create", "views.open", "create"),
        ("login", "views.open", "login"),
        ("run", "views.update", "run"),
    ):
        app.fake.clear()
        slack.command(text)
        app.fake.wait_for(method)
        views[name] = app.fake.last(method).response["view"]  # type: ignore[union-attr]
    wait_quiet(app.fake, idle=0.3)

    def form(body: str) -> dict[str, Any]:
        return json.loads(unquote(body.removeprefix("payload=")))

    def click(action_id: str, value: str, view: dict[str, Any] | None = None) -> dict[str, Any]:
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "type": "button", "value": value}
        return form(
            signing.block_actions_body(
                action,
                user_id=slack.user_id,
                team_id=slack.team_id,
                trigger_id=signing.new_trigger_id(),
                channel_id=None if view else slack.channel_id,
                message={"ts": "1700000000.000100", "text": ""},
                response_url=None if view else app.fake.response_url("shape"),
                view=view,
            )
        )

    bases: list[tuple[str, dict[str, Any]]] = []
    for action_id, value in (
        (ids.LIST_PAGE, "list page:2"),
        (ids.SHOW, "1000001"),
        (ids.EDIT, "1000001"),
        (ids.DELETE, "1000003"),
        (ids.RUN, "1000001"),
        (ids.LOGIN, ""),
        (ids.HELP, ""),
        (ids.RUN_COMMAND, "x"),
        (ids.ALERT_VISITED, "1000001"),
        (ids.ALERT_SNOOZE, "1000001"),
        (ids.ALERT_SHOW, "1000001"),
        (ids.ALERT_RUN, "1000001"),
        (ids.ALERT_UNSUBSCRIBE, "abcd"),
        (ids.HOME_LOGOUT, ""),
    ):
        bases.append(("form", click(action_id, value)))
    menu = click(ids.ROW_MENU, "")
    menu["actions"][0] |= {"type": "overflow", "selected_option": {"value": "show:1000001", "text": {}}}
    bases.append(("form", menu))
    pick = click(ids.RUN_PICK, "", view=views["run"])
    pick["actions"][0] |= {"type": "static_select", "selected_option": {"value": "x", "text": {}}}
    bases.append(("form", pick))
    for view in views.values():
        body = signing.view_submission_body(
            view, prefilled_state(view), user_id=slack.user_id, team_id=slack.team_id, trigger_id="1.2.3"
        )
        bases.append(("form", form(body)))
        closed = signing.view_closed_body(view, user_id=slack.user_id, team_id=slack.team_id)
        bases.append(("form", form(closed)))
    bases.append(
        (
            "form",
            {
                "type": "block_suggestion",
                "user": {"id": slack.user_id, "team_id": slack.team_id},
                "team": {"id": slack.team_id},
                "api_app_id": "A0001",
                "action_id": ids.RUN_ROOMS,
                "block_id": ids.RUN_ROOMS,
                "value": "desk",
                "view": views["run"],
            },
        )
    )
    event = json.loads(
        signing.event_body({"type": "app_home_opened", "user": slack.user_id, "tab": "home"}, slack.team_id)
    )
    bases.append(("json", event))
    command = dict(
        token="t",
        team_id=slack.team_id,
        user_id=slack.user_id,
        channel_id=slack.channel_id,
        command="/chatrooms",
        text="list",
        response_url=app.fake.response_url("shape"),
        trigger_id="1.2.3",
        api_app_id="A0001",
    )
    bases.append(("command", command))
    return bases


def _encode(encoding: str, payload: Any) -> str:
    if encoding == "json":
        return json.dumps(payload)
    if encoding == "command":
        if not isinstance(payload, dict):
            return urlencode({"x": json.dumps(payload)})
        return urlencode({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()})
    return "payload=" + quote(json.dumps(payload))


@pytest.fixture
def errors() -> Iterator[RecordList]:
    with capture_logs(logging.WARNING) as handler:
        yield handler


@pytest.mark.integration
def test_every_signed_shape_gets_a_2xx_or_4xx_never_a_500(logged_in: RunningApp, errors: RecordList) -> None:
    app = logged_in
    bases = _bases(app)
    statuses: dict[int, int] = {}
    kinds: set[str] = set()

    # Each kind gets its share of the examples: drawn with sampled_from, hypothesis favours the first bases
    # and may never reach the last ones.
    per_base = settings(FUZZ, max_examples=-(-EXAMPLES // len(bases)))

    def fuzz(encoding: str, base: dict[str, Any]) -> None:
        @per_base
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            payload = data.draw(st.composite(_mutate)(base))
            if data.draw(st.integers(0, 9)) == 0:
                payload = data.draw(junk)  # the whole body of the wrong shape
            kinds.add(str(base.get("type") or base.get("command")))
            body = _encode(encoding, payload)
            ack = app.slack.post(body, headers=signing.signed_headers(body, SIGNING_SECRET))
            statuses[ack.status] = statuses.get(ack.status, 0) + 1
            assert 200 <= ack.status < 500, (ack.status, ack.body, body[:600])

        check()

    for encoding, base in bases:
        fuzz(encoding, base)
    assert sum(statuses.values()) >= EXAMPLES
    assert {"block_actions", "view_submission", "view_closed", "block_suggestion", "event_callback"} <= kinds
    wait_quiet(app.fake, idle=0.6, limit=60)
    # What happens after the ack: junk ids and URLs make Slack refuse our replies (SlackApiError, a webhook
    # failure: logged, and for the ones describe() does not word yet see issue 12 item 13); nothing else may fail.
    failed = [
        f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}"
        for r in errors.at_least(logging.ERROR)
        if not (r.exc_info and isinstance(r.exc_info[1], SlackApiError))
        and not r.name.startswith("slack_sdk.webhook")
        and "could not tell the user" not in r.getMessage()
    ]
    assert not failed, "\n".join(failed[:10])
