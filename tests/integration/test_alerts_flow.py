"""End to end: `/chatrooms alerts …`, the worker's digests, their buttons and the Home tab,
through the real Bolt app (signed requests), the sandbox over HTTP and the fake Slack."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ADMIN, EVERY_DIALECT, READER, SLACK_E2E, FakeClock, RunningApp
from helpers.rooms import add_room as insert_room
from slack_sdk import WebClient

from bot.alerts import AlertWorker
from bot.console.driver import SlackDriver, find_action
from bot.sandbox.dialects import dialect
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.slack import ids
from bot.slack.publisher import SlackPublisher

pytestmark = [pytest.mark.integration, EVERY_DIALECT, SLACK_E2E]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox(clock: FakeClock, sandbox_dialect: str) -> Iterator[SandboxServer]:
    """An empty sandbox: each test decides which chatrooms wait."""
    config = SandboxConfig(throttle=False, dialect=dialect(sandbox_dialect))
    server = SandboxServer(config=config, now=clock, chatrooms=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def add_room(
    app: RunningApp,
    *,
    visited_ago: timedelta | None,
    name: str = "Front desk",
    created_ago: timedelta = timedelta(days=3),
) -> int:
    return insert_room(app.sandbox, app.clock, visited_ago=visited_ago, name=name, created_ago=created_ago)


def worker(app: RunningApp) -> AlertWorker:
    return AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )


def settle(app: RunningApp, limit: float = 20.0) -> None:
    """Wait until no digest is flagged for a redraw: a click's lazy work updates Slack, then unflags the
    digest; a cycle run in between would redraw it once more (harmless, but not what a test counts)."""
    deadline = time.monotonic() + limit
    while any(app.deps.store.digests_to_redraw(sub.id) for sub in app.deps.store.subscriptions()):
        assert time.monotonic() < deadline, "a digest stayed flagged for a redraw"
        time.sleep(0.02)


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def replies(app: RunningApp, count: int = 1) -> list[dict[str, Any]]:
    return [c.args for c in app.fake.wait_for("response_url", count=count, timeout=10)]


def channel_posts(app: RunningApp) -> list[dict[str, Any]]:
    return [c.args for c in app.fake.calls("chat.postMessage") if c.error is None]


def subscribe(app: RunningApp, command: str = "alerts subscribe after:4h") -> str:
    app.slack.command(command)
    reply = replies(app)[0]
    assert "🔔" in text(reply), text(reply)
    subs = app.deps.store.channel_subscriptions(app.slack.team_id, app.slack.channel_id)
    assert len(subs) == 1
    app.fake.clear()
    return subs[0].id


@pytest.mark.dialect_sensitive("extra_fields", "ids", "local_zone")
def test_subscribe_alert_mark_visited_and_no_repeats(logged_in: RunningApp) -> None:
    app = logged_in
    room = add_room(app, visited_ago=timedelta(hours=3))
    before = app.sandbox.db.get(room)
    assert before is not None

    app.slack.command("alerts subscribe after:4h")
    assert "every 5 min" in text(replies(app)[0])
    notice = app.fake.wait_for("chat.postMessage")[0].args
    assert notice["channel"] == app.slack.channel_id and "subscribed this channel" in notice["text"]
    app.fake.clear()

    alerts = worker(app)
    assert alerts.run_cycle().digests_posted == 0  # waited 3 h of 4
    app.clock.advance(hours=1, minutes=1)
    report = alerts.run_cycle()
    assert (report.digests_posted, report.chatrooms_alerted) == (1, 1)
    assert alerts.run_cycle().digests_posted == 0  # no repeat
    posted = app.fake.calls("chat.postMessage")
    assert len(posted) == 1
    ts = posted[0].response["ts"]
    digest = app.fake.message(app.slack.channel_id, ts)
    assert digest is not None
    button = find_action(digest["blocks"], ids.ALERT_VISITED)
    assert button is not None and button["value"].endswith(f":{room}")

    ack = app.slack.click(ids.ALERT_VISITED, button["value"], message=digest)
    assert ack.status == 200
    update = app.fake.wait_for("chat.update")[0].args
    assert update["ts"] == ts and f"Marked visited by <@{app.slack.user_id}>" in text(update)
    assert find_action(update["blocks"], ids.ALERT_VISITED) is None

    after = app.sandbox.db.get(room)
    assert after is not None and after.last_agent_visit == app.clock().replace(microsecond=0)
    for kept in ("name", "active", "business_id", "users", "system_id", "created_on", "unique_id"):
        assert getattr(after, kept) == getattr(before, kept), kept

    settle(app)
    report = alerts.run_cycle()
    assert (report.digests_posted, report.digests_updated, report.chatrooms_alerted) == (0, 0, 0)


@pytest.mark.dialect_sensitive("extra_fields")
def test_reader_cannot_mark_visited_and_is_told_why(running_app: RunningApp) -> None:
    app = running_app
    room = add_room(app, visited_ago=timedelta(hours=6))
    app.deps.services.login(app.slack.team_id, "UADMIN", *ADMIN)
    subscribe(dataclasses.replace(app, slack=app.slack.as_user("UADMIN")))
    worker(app).run_cycle()
    posted = app.fake.wait_for("chat.postMessage")[0]
    digest = app.fake.message(app.slack.channel_id, posted.response["ts"])
    assert digest is not None
    button = find_action(digest["blocks"], ids.ALERT_VISITED)
    assert button is not None

    app.slack.click(ids.ALERT_VISITED, button["value"], message=digest)  # U0001: not logged in
    assert "/chatrooms login" in text(replies(app)[0])
    app.deps.services.login(app.slack.team_id, app.slack.user_id, *READER)
    app.slack.click(ids.ALERT_VISITED, button["value"], message=digest)
    assert "ChatRoom-Edit" in text(replies(app, 2)[1])
    assert app.fake.calls("chat.update") == []
    stored = app.sandbox.db.get(room)
    assert stored is not None and stored.last_agent_visit is not None
    assert stored.last_agent_visit < app.clock() - timedelta(hours=5)

    # From now on their Home tab offers no Mark visited or Run command, and says why.
    app.slack.event({"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"})
    home = app.fake.wait_for("views.publish")[0].args["view"]
    assert find_action(home["blocks"], ids.ALERT_SHOW) is not None
    assert find_action(home["blocks"], ids.ALERT_VISITED) is None and find_action(home["blocks"], ids.ALERT_RUN) is None
    assert "What needs the *ChatRoom-Edit* role (Edit, Run command, Mark visited) is hidden" in text(home)


@pytest.mark.dialect_sensitive("ids", "local_zone")
def test_snooze_show_and_run_buttons(logged_in: RunningApp) -> None:
    app = logged_in
    room = add_room(app, visited_ago=timedelta(hours=5), name="Lobby")
    subscribe(app)
    alerts = worker(app)
    alerts.run_cycle()
    ts = app.fake.wait_for("chat.postMessage")[0].response["ts"]
    digest = app.fake.message(app.slack.channel_id, ts)
    assert digest is not None
    value = find_action(digest["blocks"], ids.ALERT_SNOOZE)["value"]  # type: ignore[index]

    app.slack.click(ids.ALERT_SNOOZE, value, message=digest)
    assert "💤 Snoozed until" in text(app.fake.wait_for("chat.update")[0].args)
    app.clock.advance(minutes=59)
    assert alerts.run_cycle().chatrooms_alerted == 0
    app.clock.advance(minutes=2)
    assert alerts.run_cycle().chatrooms_alerted == 1

    app.fake.clear()
    app.slack.click(ids.ALERT_SHOW, value, message=digest)
    assert "Lobby" in text(replies(app)[0])
    app.slack.click(ids.ALERT_RUN, value, message=digest)
    opened = app.fake.wait_for("views.open")[0].args["view"]  # the run feature's modal, for this chatroom
    assert opened["type"] == "modal"
    assert room > 0


def test_list_and_unsubscribe(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:30m business:9001")
    app.slack.command("alerts")
    listing = replies(app)[0]
    assert "after *30 min*" in text(listing) and "business 9001" in text(listing)
    button = find_action(listing["blocks"], ids.ALERT_UNSUBSCRIBE)
    assert button is not None and button["value"] == sub_id

    # Another workspace cannot remove it, even knowing the id.
    other = app.slack.as_user("UX", team_id="T0002")
    other.command(f"alerts unsubscribe {sub_id}")
    assert "no alerts" in text(replies(app, 2)[1])
    assert app.deps.store.get_subscription(sub_id) is not None

    # Someone else in the workspace, in another channel, is pointed to the channel or the creator.
    bystander = SlackDriver(app.url, app.slack.secret, app.fake, user_id="U0BYSTANDER", channel_id="C0ELSEWHERE")
    bystander.command(f"alerts unsubscribe {sub_id}")
    assert "ask <@U0001>" in text(replies(app, 3)[2])
    assert app.deps.store.get_subscription(sub_id) is not None

    app.slack.click(ids.ALERT_UNSUBSCRIBE, sub_id)
    refreshed = replies(app, 4)[3]
    assert refreshed["replace_original"] is True and "Removed alerts" in text(refreshed)
    assert "No stale-visit alerts" in text(refreshed)
    assert app.deps.store.get_subscription(sub_id) is None


def test_subscribe_needs_a_login_and_a_channel_the_app_is_in(running_app: RunningApp) -> None:
    app = running_app
    app.slack.command("alerts subscribe")
    first = replies(app)[0]
    assert "/chatrooms login" in text(first) and find_action(first["blocks"], ids.LOGIN) is not None
    assert app.deps.store.subscriptions() == []

    app.deps.services.login(app.slack.team_id, app.slack.user_id, *ADMIN)
    app.fake.fail_next("chat.postMessage", "not_in_channel")
    app.slack.command("alerts subscribe <#C0PRIVATE|secret> after:2h")
    second = replies(app, 2)[1]
    assert "/invite" in text(second) and "<#C0PRIVATE>" in text(second)
    assert app.deps.store.subscriptions() == []

    app.slack.command("alerts subscribe <#C0SUPPORT|support>")
    third = replies(app, 3)[2]
    assert "*4 h*" in text(third)  # the documented default threshold
    (sub,) = app.deps.store.subscriptions()
    assert sub.channel_id == "C0SUPPORT" and sub.threshold_minutes == 240

    app.slack.command("alerts subscribe <#C0SUPPORT|support> after:240")
    assert "already has these alerts" in text(replies(app, 4)[3])
    # typed in another channel: `/chatrooms alerts` lists the channel it is typed in, so say which
    assert "`/chatrooms alerts` in <#C0SUPPORT> lists them." in text(replies(app, 4)[3])
    assert len(app.deps.store.subscriptions()) == 1


@pytest.mark.dialect_sensitive("local_zone")
def test_home_tab_shows_login_state_and_stale_rooms(running_app: RunningApp) -> None:
    app = running_app
    add_room(app, visited_ago=timedelta(hours=7), name="Parcel desk")
    add_room(app, visited_ago=timedelta(minutes=10), name="Fresh room")
    event = {"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"}

    assert app.slack.event(event).status == 200
    home = app.fake.wait_for("views.publish")[0].args
    assert home["user_id"] == app.slack.user_id
    assert find_action(home["view"]["blocks"], ids.LOGIN) is not None
    assert "Parcel desk" not in text(home)

    app.deps.services.login(app.slack.team_id, app.slack.user_id, *ADMIN)
    app.slack.event(event)
    view = app.fake.wait_for("views.publish", count=2)[1].args["view"]
    assert "admin@sandbox.local" in text(view) and find_action(view["blocks"], ids.HOME_LOGOUT) is not None
    assert "Parcel desk" in text(view) and "Fresh room" not in text(view)
    visited = find_action(view["blocks"], ids.ALERT_VISITED)
    assert visited is not None and visited["value"].startswith("-:")

    published = app.fake.last("views.publish")
    assert published is not None
    app.slack.click(ids.HOME_LOGOUT, view=published.response["view"])
    after = app.fake.wait_for("views.publish", count=3)[2].args["view"]
    assert find_action(after["blocks"], ids.LOGIN) is not None
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) is None


@pytest.mark.dialect_sensitive("basic", "tokens")
def test_login_refreshes_the_home_tab(running_app: RunningApp) -> None:
    app = running_app
    assert callable(app.deps.refresh_home)
    app.slack.command("login")
    opened = app.fake.wait_for("views.open")[0].response["view"]
    app.slack.submit(
        opened,
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN[0]}},
            ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": ADMIN[1]}},
        },
    )
    home = app.fake.wait_for("views.publish", timeout=10)[0].args
    assert home["user_id"] == app.slack.user_id and "admin@sandbox.local" in text(home)


# ------------------------------------------------------------------------------------ deploy files


@pytest.mark.one_dialect
@pytest.mark.parametrize("how", ["procfile", "gunicorn"])
def test_procfile_web_line_and_gunicorn_serve_the_app(
    sandbox: SandboxServer, fake_slack: Any, tmp_path: Path, how: str
) -> None:
    """The Procfile's `web` line (`python -m bot run`) answers Slack; so does `gunicorn bot.web:app`, which
    resolves `app` through the module's __getattr__ (for deployments behind a buffering proxy)."""
    from conftest import SIGNING_SECRET
    from cryptography.fernet import Fernet

    from bot.console.driver import SlackDriver

    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(procfile) == {"release", "web", "worker", "alerts"}
    assert procfile["alerts"] == "python -m bot alerts" and procfile["worker"] == "python -m bot run"
    # Run before each deploy: migrates DATABASE_URL's schema, and says there is nothing to do without it
    # (tests/backends/test_store_postgres.py runs the command both ways).
    assert procfile["release"] == "python -m bot migrate"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "NEXUDUS_BASE_URL": sandbox.url,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "STORE_PATH": str(tmp_path / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
        "NEXUDUS_PACING": "false",
    }
    command = procfile["web"] if how == "procfile" else "gunicorn bot.web:app --workers 1 --threads 8 --bind :$PORT"
    server = subprocess.Popen(
        ["sh", "-c", f"exec {command}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok":
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or gunicorn's worker is still loading the app
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else f"{how} exited"
            assert time.monotonic() < deadline, f"{how} did not start"
            time.sleep(0.2)
        driver = SlackDriver(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, fake_slack)
        ack = driver.command("alerts")
        assert ack.status == 200
        listing = fake_slack.wait_for("response_url", timeout=15)[0].args
        assert "No stale-visit alerts" in text(listing)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
        if server.stderr:
            server.stderr.close()


def test_manifest_declares_what_the_app_uses() -> None:
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/chatrooms" and command["should_escape"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "channels:history",
        "chat:write",
        "commands",
        "groups:history",
    ]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert len(manifest["display_information"]["description"]) <= 140


def test_identical_subscribes_at_the_same_moment_make_one_subscription(logged_in: RunningApp) -> None:
    import threading

    app = logged_in
    barrier = threading.Barrier(4)

    def subscribe_now() -> None:
        barrier.wait(timeout=10)
        app.slack.command("alerts subscribe after:4h")

    threads = [threading.Thread(target=subscribe_now) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    answers = [text(r) for r in replies(app, 4)]
    assert len(app.deps.store.channel_subscriptions(app.slack.team_id, app.slack.channel_id)) == 1
    assert sum("will hear about" in a for a in answers) == 1, answers
    assert sum("already has these alerts" in a for a in answers) == 3, answers
    notices = [p for p in channel_posts(app) if "subscribed this channel" in p["text"]]
    assert len(notices) == 1


def test_unsubscribing_is_announced_in_the_channel(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app)
    app.slack.command(f"alerts unsubscribe {sub_id}")
    assert "Removed alerts" in text(replies(app)[0])
    (notice,) = channel_posts(app)
    assert notice["channel"] == app.slack.channel_id
    assert "removed the stale-visit alerts" in notice["text"] and f"<@{app.slack.user_id}>" in notice["text"]

    # A channel the app was removed from: the removal still happens and the user is still told.
    app.fake.clear()
    app.slack.command("alerts subscribe <#C0ELSEWHERE|gone> after:2h")
    assert "🔔" in text(replies(app)[0])
    (other,) = (s.id for s in app.deps.store.subscriptions())
    app.fake.clear()
    app.fake.fail_next("chat.postMessage", "not_in_channel")
    app.slack.command(f"alerts unsubscribe {other}")
    assert "Removed alerts" in text(replies(app)[0])
    assert app.deps.store.get_subscription(other) is None


@pytest.mark.dialect_sensitive("ids", "local_zone")
def test_the_rest_of_a_digest_lists_exactly_the_rooms_not_shown_never_visited_included(logged_in: RunningApp) -> None:
    app = logged_in
    visited = [add_room(app, visited_ago=timedelta(hours=6, minutes=i), name=f"Visited {i}") for i in range(24)]
    never = []
    for i in range(3):  # never visited, waiting since 5 h: less long than every visited room, so not shown
        never.append(add_room(app, visited_ago=None, name=f"Never {i}", created_ago=timedelta(hours=5)))
    subscribe(app)
    assert worker(app).run_cycle().chatrooms_alerted == 27
    ts = app.fake.wait_for("chat.postMessage")[0].response["ts"]
    digest = app.fake.message(app.slack.channel_id, ts)
    assert digest is not None
    shown = {
        int(b["block_id"].rsplit(".", 1)[1])
        for b in digest["blocks"]
        if b.get("block_id", "").startswith("alert.room.")
    }
    assert len(shown) == 20 and not shown & set(never)
    more = find_action(digest["blocks"], ids.ALERT_MORE)
    assert more is not None and "Show the other 7" in text(more)

    app.slack.click(ids.ALERT_MORE, more["value"], message=digest)
    page = text(replies(app)[0])
    listed = {room for room in visited + never if f"`#{room}`" in page}
    assert listed == (set(visited) | set(never)) - shown, page
    assert "Chatrooms 21–27 of 27" in page


def _digest_room_ids(message: dict[str, Any]) -> set[int]:
    return {
        int(b["block_id"].rsplit(".", 1)[1])
        for b in message.get("blocks") or []
        if b.get("block_id", "").startswith("alert.room.")
    }


@pytest.mark.dialect_sensitive("ids")
def test_overlapping_subscriptions_tell_a_channel_once_about_a_wait(logged_in: RunningApp) -> None:
    app = logged_in
    old = add_room(app, visited_ago=timedelta(hours=6), name="Old")
    recent = add_room(app, visited_ago=timedelta(hours=2), name="Recent")
    for number, command in enumerate(("alerts subscribe after:4h", "alerts subscribe after:1h business:9001")):
        app.slack.command(command)
        replies(app, number + 1)
    assert len(app.deps.store.channel_subscriptions(app.slack.team_id, app.slack.channel_id)) == 2
    app.fake.clear()

    alerts = worker(app)
    alerts.run_cycle()  # both subscriptions find Old; only the 1 h one finds Recent
    digests = [p for p in channel_posts(app) if _digest_room_ids(p)]
    listed = [room for d in digests for room in _digest_room_ids(d)]
    assert sorted(listed) == sorted([old, recent]), listed  # each room once in this channel

    app.clock.advance(hours=3)  # Recent is now stale for the 4 h subscription too: the channel heard already
    alerts.run_cycle()
    assert [p for p in channel_posts(app) if _digest_room_ids(p)] == digests

    # Visiting it redraws the digest that listed it, once, and nothing fails for the other subscription.
    app.sandbox.db.update_fields([recent], app.clock(), "agent@example.com", last_agent_visit=app.clock())
    report = alerts.run_cycle()
    assert (report.errors, report.digests_updated, report.digests_posted) == (0, 1, 0), report.details


@pytest.mark.dialect_sensitive("ids")
def test_a_row_listed_again_after_its_snooze_keeps_its_buttons_in_the_older_digest(logged_in: RunningApp) -> None:
    app = logged_in
    lobby = add_room(app, visited_ago=timedelta(hours=5), name="Lobby")
    other = add_room(app, visited_ago=timedelta(hours=6), name="Other")
    subscribe(app)
    alerts = worker(app)
    alerts.run_cycle()
    first_ts = app.fake.wait_for("chat.postMessage")[0].response["ts"]
    digest = app.fake.message(app.slack.channel_id, first_ts)
    assert digest is not None
    snooze = next(b for b in digest["blocks"] if b.get("block_id") == f"alert.act.{lobby}")["elements"][1]
    app.slack.click(ids.ALERT_SNOOZE, snooze["value"], message=digest)
    app.fake.wait_for("chat.update")
    settle(app)
    app.clock.advance(minutes=61)
    assert alerts.run_cycle().digests_posted == 1  # the snooze ended: Lobby is listed again
    app.sandbox.db.update_fields([other], app.clock(), "agent@example.com", last_agent_visit=app.clock())
    alerts.run_cycle()  # Other was visited: the first digest is redrawn
    redrawn = app.fake.message(app.slack.channel_id, first_ts)
    assert redrawn is not None
    lobby_text = text([b for b in redrawn["blocks"] if b.get("block_id") == f"alert.room.{lobby}"])
    assert "No longer waiting" not in lobby_text and "Still waiting" in lobby_text
    assert any(b.get("block_id") == f"alert.act.{lobby}" for b in redrawn["blocks"])  # its buttons are kept


def test_home_lists_each_room_once_and_says_where_the_others_are(logged_in: RunningApp) -> None:
    app = logged_in
    old = add_room(app, visited_ago=timedelta(hours=5), name="Old")
    add_room(app, visited_ago=timedelta(hours=2), name="Recent")
    for number, command in enumerate(("alerts subscribe after:4h", "alerts subscribe after:4h business:9001")):
        app.slack.command(command)
        replies(app, number + 1)
    app.slack.event({"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"})
    home = app.fake.wait_for("views.publish")[0].args["view"]
    rows = [b["block_id"] for b in home["blocks"] if ".room." in b.get("block_id", "")]
    assert rows == [f"home.0.room.{old}"]  # listed once, in the first section
    notes = [e["text"] for b in home["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert "The chatroom waiting here is listed in a section above." in notes
    assert not any("Nothing is waiting" in n for n in notes), notes


def test_a_snooze_or_more_button_of_removed_alerts_is_answered_in_words(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.click(ids.ALERT_SNOOZE, "deadbeef:1000001")
    snoozed = text(replies(app)[0])
    assert "were removed, so there is nothing to snooze" in snoozed and "Something went wrong" not in snoozed
    app.fake.clear()
    app.slack.click(ids.ALERT_MORE, "deadbeef:1700000000.000100:20")
    more = text(replies(app)[0])
    assert "were removed, so there is nothing to list" in more and "Something went wrong" not in more
