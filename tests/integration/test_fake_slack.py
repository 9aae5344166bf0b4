"""FakeSlack driven by the real slack_sdk WebClient, plus the signing helpers checked by slack_sdk."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.console.fake_slack import FakeSlack
from bot.console.render import render_message
from bot.console.signing import (
    block_actions_body,
    event_body,
    sign,
    signed_headers,
    slash_command_body,
    view_closed_body,
    view_submission_body,
)

# These tests send payloads Slack refuses on purpose, to see the fake refuse them too.
pytestmark = [pytest.mark.integration, pytest.mark.slack_refusals]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.api_url)


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def modal(title: str = "Edit room", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "room_edit",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": blocks if blocks is not None else [section("hello")],
    }


def test_lifecycle_frees_the_port() -> None:
    fake = FakeSlack().start()
    try:
        url = fake.api_url
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")
        assert requests.post(url + "api.test", timeout=5).status_code == 200
    finally:
        fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "api.test", timeout=5)


def test_auth_test_answers_like_slack_and_records_the_token_privately(fake: FakeSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BBOT"
    assert (resp["team_id"], resp["team"], resp["url"]) == ("T0001", "Sandbox", "https://sandbox.slack.com/")
    call = fake.last("auth.test")
    assert call is not None
    assert call.token == "xoxb-test"
    assert "xoxb-test" not in repr(call)


def test_post_message_with_blocks_then_update(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("*Front desk* open"), {"type": "divider"}]
    posted = client.chat_postMessage(channel="C1", text="Front desk open", blocks=blocks)
    assert posted["ok"] is True
    assert posted["channel"] == "C1"
    assert posted["message"]["text"] == "Front desk open"
    assert posted["message"]["blocks"][0]["text"]["text"] == "*Front desk* open"
    assert posted["message"]["blocks"][0]["block_id"], "Slack gives every block a block_id"

    second = client.chat_postMessage(channel="C1", text="again")
    assert float(second["ts"]) > float(posted["ts"])

    call = fake.last("chat.postMessage")
    assert call is not None and call.args["text"] == "again"
    first_call = fake.calls("chat.postMessage")[0]
    assert first_call.args["blocks"] == blocks  # decoded into objects, exactly as sent

    updated = client.chat_update(channel="C1", ts=posted["ts"], text="Front desk closed", blocks=[section("closed")])
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", posted["ts"], "Front desk closed")
    stored = fake.message("C1", posted["ts"])
    assert stored is not None and stored["blocks"][0]["text"]["text"] == "closed"

    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.000001", text="nope")
    assert err.value.response["error"] == "message_not_found"

    kinds = [(e.kind, e.text) for e in fake.events()]
    assert kinds == [("message", "Front desk open"), ("message", "again"), ("update", "Front desk closed")]


def test_form_encoded_blocks_are_decoded(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("via form")]
    client.api_call("chat.postMessage", params={"channel": "C9", "text": "x", "blocks": json.dumps(blocks)})
    call = fake.last("chat.postMessage")
    assert call is not None
    assert call.args["blocks"] == blocks
    assert call.args["channel"] == "C9"


def test_token_in_form_body_is_accepted_but_not_recorded_in_args(fake: FakeSlack) -> None:
    resp = requests.post(fake.api_url + "chat.postMessage", data={"token": "xoxb-form", "channel": "C1", "text": "hi"})
    assert resp.json()["ok"] is True
    call = fake.last("chat.postMessage")
    assert call is not None
    assert call.token == "xoxb-form"
    assert "token" not in call.args


def test_malformed_requests_get_errors_not_hangs(fake: FakeSlack) -> None:
    bad_json = requests.post(
        fake.api_url + "chat.postMessage",
        data="[1, 2]",
        headers={"Content-Type": "application/json", "Authorization": "Bearer xoxb-test"},
        timeout=5,
    )
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "invalid_form_data")
    unknown = requests.post(fake.base_url + "/nowhere", timeout=5)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_path")


def test_delete_and_permalink(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="bye")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)
    assert link["permalink"] == f"https://sandbox.slack.com/archives/C1/p{ts.replace('.', '')}"
    assert client.chat_delete(channel="C1", ts=ts)["ts"] == ts
    assert fake.message("C1", ts) is None
    with pytest.raises(SlackApiError) as err:
        client.chat_delete(channel="C1", ts=ts)
    assert err.value.response["error"] == "message_not_found"
    assert [e.kind for e in fake.events()] == ["message", "delete"]


def test_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    (event,) = fake.events()
    assert (event.kind, event.channel, event.user, event.text) == ("ephemeral", "C1", "U1", "only you")


def test_open_modal_then_update_by_view_id_and_external_id(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="123.456.abc", view={**modal(), "external_id": "room-5"})
    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["hash"]
    assert view["state"] == {"values": {}}
    assert view["callback_id"] == "room_edit"
    assert view["title"]["text"] == "Edit room"

    updated = client.views_update(view_id=view["id"], view=modal("Saved"), hash=view["hash"])
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["title"]["text"] == "Saved"
    assert updated["view"]["hash"] != view["hash"]

    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], view=modal("Stale"), hash=view["hash"])
    assert err.value.response["error"] == "hash_conflict"

    by_external = client.views_update(external_id="room-5", view={**modal("Again"), "external_id": "room-5"})
    assert by_external["view"]["id"] == view["id"]

    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id="VNOPE", view=modal())
    assert err.value.response["error"] == "not_found"

    pushed = client.views_push(trigger_id="123.456.abd", view=modal("Step 2"))
    assert pushed["view"]["id"] != view["id"]

    assert [e.kind for e in fake.events()] == ["modal_open", "modal_update", "modal_update", "modal_push"]
    stored = fake.view(view["id"])
    assert stored is not None and stored["title"]["text"] == "Again"


def test_publish_home_keeps_one_view_per_user(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Welcome")]}
    first = client.views_publish(user_id="U1", view=home)
    second = client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("Updated")]})
    assert first["view"]["type"] == "home"
    assert second["view"]["id"] == first["view"]["id"]
    events = fake.events()
    assert [(e.kind, e.user) for e in events] == [("home", "U1"), ("home", "U1")]
    assert events[1].view is not None and events[1].view["blocks"][0]["text"]["text"] == "Updated"


def test_info_methods_answer_plausibly(fake: FakeSlack, client: WebClient) -> None:
    fake.users["U7"] = {"real_name": "Ann Ops", "tz": "America/New_York"}
    user = client.users_info(user="U7")["user"]
    assert (user["id"], user["real_name"], user["tz"]) == ("U7", "Ann Ops", "America/New_York")
    channel = client.conversations_info(channel="C1")["channel"]
    assert (channel["id"], channel["is_channel"], channel["is_member"]) == ("C1", True, True)
    assert client.api_call("reactions.add", json={"channel": "C1", "name": "eyes"})["ok"] is True


def test_response_url_records_and_transcribes(fake: FakeSlack) -> None:
    url = fake.response_url("cmd-1")
    assert url.startswith(fake.base_url + "/response/")
    assert fake.response_url("cmd-1") != url, "each response_url is unique"
    resp = requests.post(url, json={"text": "Working on it", "replace_original": True}, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"ok": True}
    (call,) = fake.wait_for("response_url")
    assert (call.target, call.args["text"], call.args["replace_original"]) == ("cmd-1", "Working on it", True)
    (event,) = fake.events()
    assert (event.kind, event.target, event.text) == ("response", "cmd-1", "Working on it")


@pytest.mark.parametrize(
    ("method", "kwargs", "error"),
    [
        ("chat_postMessage", {"channel": "", "text": "no channel"}, "channel_not_found"),
        pytest.param(
            "chat_postMessage",
            {"channel": "C1"},
            "no_text",
            marks=pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing"),
        ),
        ("chat_postMessage", {"channel": "C1", "text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        (
            "chat_postMessage",
            {"channel": "C1", "text": "x", "blocks": [section("a", "dup"), section("b", "dup")]},
            "invalid_blocks",
        ),
        ("views_open", {"trigger_id": "t", "view": modal(blocks=[{"type": "divider"}] * 101)}, "invalid_arguments"),
        ("views_open", {"trigger_id": "t", "view": modal(title="A title longer than 24 chars")}, "invalid_arguments"),
        ("views_open", {"view": modal()}, "invalid_arguments"),
        (
            "views_open",
            {
                "trigger_id": "t",
                "view": {**modal(blocks=[{"type": "input", "label": {}, "element": {}}]), "submit": None},
            },
            "invalid_arguments",
        ),
    ],
)
def test_validation_errors_like_slack(client: WebClient, method: str, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as err:
        getattr(client, method)(**kwargs)
    assert err.value.response["ok"] is False
    assert err.value.response["error"] == error


def test_exactly_fifty_blocks_are_allowed(client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 50)["ok"] is True


def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.api_url).chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_authed"
    call = fake.last("chat.postMessage")
    assert call is not None and call.error == "not_authed"


def test_fail_next_ratelimited_then_recovers(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", retry_after=3)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "3"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True
    assert [c.error for c in fake.calls("chat.postMessage")] == ["ratelimited", None]
    assert [e.kind for e in fake.events()] == ["message"]


def test_fail_next_with_an_ordinary_error_answers_200(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("views.open", error="expired_trigger_id")
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="t", view=modal())
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "expired_trigger_id"


def test_wait_for_returns_calls_made_from_another_thread(fake: FakeSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.1)
        client.chat_postMessage(channel="C1", text="one")
        client.chat_postMessage(channel="C1", text="two")

    worker = threading.Thread(target=later)
    worker.start()
    try:
        calls = fake.wait_for("chat.postMessage", count=2, timeout=5)
    finally:
        worker.join()
    assert [c.args["text"] for c in calls] == ["one", "two"]


def test_wait_for_times_out_listing_what_was_recorded(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"got 0; recorded: \['auth.test'\]"):
        fake.wait_for("views.open", timeout=0.2)
    assert time.monotonic() - started < 2


def test_clear_forgets_everything(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    fake.fail_next("auth.test")
    fake.clear()
    assert fake.calls() == [] and fake.events() == []
    assert fake.message("C1", ts) is None
    assert client.auth_test()["ok"] is True


def test_events_since_gives_only_new_entries(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="one")
    client.chat_postMessage(channel="C1", text="two")
    assert [e.text for e in fake.events(since=1)] == ["two"]


# ---------------------------------------------------------------------- signing


def test_sign_is_accepted_by_slack_sdk_verifier() -> None:
    body = "token=x&command=%2Frooms"
    now = int(time.time())
    headers = sign(body, "s3cret", now)
    verifier = SignatureVerifier("s3cret")
    assert headers["X-Slack-Request-Timestamp"] == str(now)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(body, str(now), headers["X-Slack-Signature"])
    assert not verifier.is_valid(body + "&x=1", str(now), headers["X-Slack-Signature"])


def test_signed_headers_pick_the_content_type() -> None:
    assert signed_headers("a=b", "s")["Content-Type"] == "application/x-www-form-urlencoded"
    assert signed_headers('{"type": "event_callback"}', "s")["Content-Type"] == "application/json"


def test_slash_command_body_has_slacks_fields() -> None:
    body = slash_command_body("/rooms", "list open", "U1", "T0001", "C1", "http://r/1", "1.2.3")
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert fields["command"] == "/rooms"
    assert fields["text"] == "list open"
    assert (fields["user_id"], fields["team_id"], fields["channel_id"]) == ("U1", "T0001", "C1")
    assert (fields["response_url"], fields["trigger_id"]) == ("http://r/1", "1.2.3")
    for key in ("token", "team_domain", "channel_name", "user_name", "api_app_id"):
        assert fields[key]


def _payload(body: str) -> dict[str, Any]:
    assert body.startswith("payload=")
    return json.loads(parse_qs(body)["payload"][0])


def test_block_actions_from_a_message() -> None:
    action = {"action_id": "edit", "block_id": "b1", "type": "button", "value": "r1"}
    payload = _payload(
        block_actions_body(
            action,
            user_id="U1",
            team_id="T0001",
            trigger_id="1.2.3",
            channel_id="C1",
            message={"ts": "1700000000.000100", "text": "hi"},
            response_url="http://r/2",
        )
    )
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U1" and payload["user"]["team_id"] == "T0001"
    assert payload["team"]["id"] == "T0001"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C1"
    assert payload["message"]["ts"] == "1700000000.000100"
    assert payload["response_url"] == "http://r/2"
    assert payload["actions"][0]["action_id"] == "edit" and payload["actions"][0]["action_ts"]
    assert "view" not in payload


def test_block_actions_from_a_view_carry_the_view_and_its_state() -> None:
    view = {"id": "V1", "callback_id": "room_edit", "hash": "h", "blocks": []}
    values = {"b": {"a": {"type": "plain_text_input", "value": "x"}}}
    payload = _payload(
        block_actions_body(
            [{"action_id": "preview", "block_id": "p", "type": "button"}],
            user_id="U1",
            team_id="T0001",
            trigger_id="1.2.3",
            view=view,
            state_values=values,
        )
    )
    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert payload["view"]["state"] == {"values": values}
    assert "response_url" not in payload and "channel" not in payload


def test_view_submission_and_closed_payloads() -> None:
    view = {"id": "V1", "callback_id": "room_edit", "private_metadata": "m", "hash": "h", "blocks": []}
    values = {"name": {"value": {"type": "plain_text_input", "value": "Desk"}}}
    submitted = _payload(view_submission_body(view, values, user_id="U1", team_id="T0001", trigger_id="1.2.3"))
    assert submitted["type"] == "view_submission"
    assert submitted["view"]["id"] == "V1"
    assert submitted["view"]["callback_id"] == "room_edit"
    assert submitted["view"]["private_metadata"] == "m"
    assert submitted["view"]["hash"] == "h"
    assert submitted["view"]["state"] == {"values": values}
    assert submitted["response_urls"] == []
    closed = _payload(view_closed_body(view, user_id="U1", team_id="T0001"))
    assert (closed["type"], closed["is_cleared"], closed["view"]["callback_id"]) == ("view_closed", False, "room_edit")


def test_event_body_is_an_event_callback_envelope() -> None:
    event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "1.2"}
    envelope = json.loads(event_body(event, "T0001"))
    assert envelope["type"] == "event_callback"
    assert envelope["team_id"] == "T0001"
    assert envelope["event"] == event
    assert envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["team_id"] == "T0001"


# ---------------------------------------------------------------------- end to end through Bolt


SECRET = "test-signing-secret"


def _dispatch(app: App, body: str, signed_body: str | None = None) -> BoltResponse:
    """Send ``body`` to Bolt as Slack would, signed over ``signed_body`` (to simulate tampering)."""
    headers: dict[str, str | Sequence[str]] = dict(signed_headers(signed_body or body, SECRET))
    return app.dispatch(BoltRequest(body=body, headers=headers))


def test_bolt_accepts_signed_slash_command_and_responds_via_fake(fake: FakeSlack, client: WebClient) -> None:
    app = App(client=client, signing_secret=SECRET, process_before_response=True)

    @app.command("/rooms")
    def rooms(ack: Any, respond: Any, command: dict[str, Any], client: WebClient) -> None:
        ack()
        respond(f"rooms for {command['user_id']}: {command['text']}")
        client.views_open(trigger_id=command["trigger_id"], view=modal())

    body = slash_command_body("/rooms", "open", "U1", "T0001", "C1", fake.response_url("rooms"), "1.2.3")
    response = _dispatch(app, body)
    assert response.status == 200
    (call,) = fake.wait_for("response_url")
    assert (call.target, call.args["text"]) == ("rooms", "rooms for U1: open")
    assert fake.wait_for("views.open")[0].args["trigger_id"] == "1.2.3"

    tampered = _dispatch(app, body.replace("open", "closed"), signed_body=body)
    assert tampered.status == 401  # Bolt's signature verification really ran


def test_bolt_routes_signed_actions_submissions_and_events(fake: FakeSlack, client: WebClient) -> None:
    app = App(client=client, signing_secret=SECRET, process_before_response=True)
    seen: dict[str, Any] = {}

    @app.action("edit")
    def edit(ack: Any, action: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        seen["action"] = (action["value"], body["container"]["message_ts"])

    @app.view("room_edit")
    def submit(ack: Any, view: dict[str, Any]) -> None:
        seen["values"] = view["state"]["values"]
        ack(response_action="errors", errors={"name": "Taken"})

    @app.event("app_mention")
    def mention(event: dict[str, Any], say: Any) -> None:
        say(f"hi <@{event['user']}>")

    posted = client.chat_postMessage(
        channel="C1",
        text="room",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "edit",
                        "text": {"type": "plain_text", "text": "Edit"},
                        "value": "r1",
                    }
                ],
            }
        ],
    )
    (button,) = render_message(posted["message"]["text"], posted["message"]["blocks"]).buttons
    assert button.block_id, "the fake assigned a block_id like Slack"
    action_body = block_actions_body(
        button.action(),
        user_id="U1",
        team_id="T0001",
        trigger_id="1.2.3",
        channel_id="C1",
        message=posted["message"],
        response_url=fake.response_url("edit"),
    )
    assert _dispatch(app, action_body).status == 200
    assert seen["action"] == ("r1", posted["ts"])

    view = client.views_open(trigger_id="1.2.3", view=modal())["view"]
    values = {"name": {"value": {"type": "plain_text_input", "value": "Desk"}}}
    submitted = _dispatch(app, view_submission_body(view, values, user_id="U1", team_id="T0001", trigger_id="1.2.4"))
    assert submitted.status == 200
    assert json.loads(submitted.body) == {"response_action": "errors", "errors": {"name": "Taken"}}
    assert seen["values"] == values

    event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "1700000001.000100"}
    assert _dispatch(app, event_body(event, "T0001")).status == 200
    said = fake.wait_for("chat.postMessage", count=2)[-1]
    assert (said.args["channel"], said.args["text"]) == ("C1", "hi <@U1>")


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "cannot exceed 3000 characters"),
        (
            [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}],
            "cannot exceed 75 characters",
        ),
        (
            [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "menu"},
                    "accessory": {
                        "type": "overflow",
                        "action_id": "o",
                        "options": [{"text": {"type": "plain_text", "text": "x"}, "value": "v" * 151}],
                    },
                }
            ],
            "option value must be at most 150 characters",
        ),
    ],
)
def test_element_limits_are_refused_as_slack_does(client: WebClient, blocks: list[dict[str, Any]], why: str) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    assert why in " ".join(err.value.response.get("response_metadata", {}).get("messages", []))


def test_an_initial_value_longer_than_its_input_is_refused(client: WebClient, fake: FakeSlack) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "T"},
        "submit": {"type": "plain_text", "text": "OK"},
        "blocks": [
            {
                "type": "input",
                "block_id": "u",
                "label": {"type": "plain_text", "text": "Users"},
                "element": {"type": "plain_text_input", "action_id": "u", "max_length": 5, "initial_value": "123456"},
            }
        ],
    }
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="1.2.3", view=view)
    assert err.value.response["error"] == "invalid_arguments"


# ------------------------------------------------------------------------ strict like Slack (issue 10)


def test_a_closed_view_can_no_longer_be_updated(client: WebClient, fake: FakeSlack) -> None:
    view = client.views_open(trigger_id="1.2.3", view=modal())["view"]
    assert fake.close_view(view["id"]) and not fake.close_view(view["id"])
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], view=modal(title="Later"))
    assert err.value.response["error"] == "not_found"
    assert fake.stats.refused == [], "a closed view is Slack's state, not a bad payload"


def test_a_response_url_takes_five_messages_within_thirty_minutes(fake: FakeSlack) -> None:
    url = fake.response_url("cmd")
    answers = [requests.post(url, json={"text": f"n{i}"}, timeout=5) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].json()["error"] == "used_url"
    now = [1000.0]
    fake.clock = lambda: now[0]
    late = fake.response_url("later")
    now[0] += 30 * 60 + 1
    expired = requests.post(late, json={"text": "too late"}, timeout=5)
    assert (expired.status_code, expired.json()["error"]) == (404, "expired_url")


def test_a_response_url_message_is_checked_like_a_posted_one(fake: FakeSlack) -> None:
    url = fake.response_url("cmd")
    refused = requests.post(url, json={"text": "R&D", "blocks": [section("R&D")]}, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_blocks"
    assert "unescaped" in " ".join(refused.json()["response_metadata"]["messages"])
    assert [r.method for r in fake.stats.refused] == ["response_url"]


def test_every_payload_is_counted_and_refusals_are_kept(client: WebClient, fake: FakeSlack) -> None:
    client.chat_postMessage(channel="C1", text="ok", blocks=[section("fine")])
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="x", blocks=[section("x", block_id="d"), section("y", block_id="d")])
    assert fake.stats.validated["chat.postMessage"] == 2
    (refusal,) = fake.stats.refused
    assert refusal.error == "invalid_blocks" and "duplicate block_id" in refusal.messages[0]


def test_an_ack_the_app_answers_is_checked_too(fake: FakeSlack) -> None:
    assert fake.check_ack({"response_type": "ephemeral", "text": "ok"}) is None
    refusal = fake.check_ack({"response_action": "update", "view": modal(blocks=[])})
    assert refusal is not None and refusal.error == "invalid_arguments"
    assert fake.last("ack").error == "invalid_arguments"  # type: ignore[union-attr]
