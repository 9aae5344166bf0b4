"""One Slack user's Nexudus login is never used for another's request; one workspace never sees another's."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from conftest import ADMIN, READER, RunningApp
from reliability_helpers import all_text, wait_quiet

from bot.slack import ids
from bot.store import Subscription

A, B, C = "U0A", "U0B", "U0C"


def _views_by_id(app: RunningApp) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for call in app.fake.calls("views.update"):
        out[call.args["view_id"]] = call.response["view"]  # as Slack stores it: with its id and hash
    return out


@pytest.mark.integration
def test_a_user_who_is_not_logged_in_is_told_to_log_in_and_nexudus_sees_nothing(running_app: RunningApp) -> None:
    app = running_app
    app.deps.services.login(app.slack.team_id, A, *ADMIN)
    app.sandbox.stats.reset()
    b = app.slack.as_user(B)
    for text in ("list", "show 1000001", "edit 1000001", "delete 1000001", "create"):
        assert b.command(text).status == 200
    replies = app.fake.wait_for("response_url", count=5, timeout=10)
    wait_quiet(app.fake, idle=0.3)
    assert len(replies) == 5
    for reply in replies:
        assert "/chatrooms login" in all_text(reply.args), reply.args
    assert app.fake.calls("views.open") == []
    assert app.sandbox.stats.total == 0, app.sandbox.stats.snapshot()
    # The same user id in another workspace is another person.
    assert app.slack.as_user(A, "T0002").command("list").status == 200
    app.fake.wait_for("response_url", count=6)
    assert "/chatrooms login" in all_text(app.fake.calls("response_url")[-1].args)
    assert app.sandbox.stats.total == 0


@pytest.mark.integration
def test_reader_and_admin_acting_at_once_each_get_their_own_roles(running_app: RunningApp) -> None:
    """A (reader) and B (admin) delete chatrooms concurrently: only B's deletes happen, each as B."""
    app = running_app
    services = app.deps.services
    services.login(app.slack.team_id, A, *READER)
    services.login(app.slack.team_id, B, *ADMIN)
    a_rooms = list(range(1_000_001, 1_000_011))
    b_rooms = list(range(1_000_011, 1_000_021))

    def confirm(user: str, room: int) -> None:
        driver = app.slack.as_user(user)
        driver.command(f"delete {room}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: confirm(A, r), a_rooms))
        list(pool.map(lambda r: confirm(B, r), b_rooms))
    app.fake.wait_for("views.update", count=20, timeout=20)
    wait_quiet(app.fake, idle=0.3)
    # Each confirmation modal names its room; submit each as the user who opened it.
    opened = {c.response["view"]["id"]: c for c in app.fake.calls("views.open")}
    assert len(opened) == 20
    confirms = [v for v in _views_by_id(app).values() if v.get("callback_id") == ids.DELETE_MODAL]
    assert len(confirms) == 20, [v.get("title") for v in _views_by_id(app).values()]
    app.fake.clear()
    with ThreadPoolExecutor(8) as pool:
        futures = []
        for view in confirms:
            room = json.loads(view["private_metadata"])["chatroom_id"]
            user = A if room in a_rooms else B
            futures.append(pool.submit(app.slack.as_user(user).submit, view, {}))
        assert all(f.result().status == 200 for f in futures)
    app.fake.wait_for("views.update", count=20, timeout=20)
    wait_quiet(app.fake, idle=0.3)
    results = [c.args["view"] for c in app.fake.calls("views.update")]
    denied = [v for v in results if "lacks the *ChatRoom-Delete* role" in all_text(v)]
    deleted = [v for v in results if v["title"]["text"] == "Deleted"]
    assert (len(denied), len(deleted)) == (10, 10), [all_text(v)[:200] for v in results]
    assert all(app.sandbox.db.get(r) is not None for r in a_rooms), "a reader's delete went through"
    assert all(app.sandbox.db.get(r) is None for r in b_rooms)


@pytest.mark.integration
def test_edits_are_stamped_with_the_editor_own_account(running_app: RunningApp) -> None:
    from bot.nexudus.client import ChatRoomChanges

    app = running_app
    services = app.deps.services
    services.login(app.slack.team_id, A, "owner@sandbox.local", "sandbox-owner")
    services.login(app.slack.team_id, B, *ADMIN)
    for user, room, email in ((A, 1_000_030, "owner@sandbox.local"), (B, 1_000_031, ADMIN[0])):
        session = services.session(app.slack.team_id, user)
        session.edit(room, ChatRoomChanges(name=f"by {user}"), expected_updated_on=None, expected_fingerprint=None)
        row = app.sandbox.db.get(room)
        assert row is not None and row.updated_by == email and row.name == f"by {user}"


def test_a_workspace_never_sees_or_removes_another_workspace_subscriptions(running_app: RunningApp) -> None:
    store = running_app.deps.store
    now = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = store.add_subscription(
        Subscription(team_id="T1", channel_id="C1", created_by="U1", threshold_minutes=60, created_at=now)
    )
    t2 = store.add_subscription(
        Subscription(team_id="T2", channel_id="C1", created_by="U1", threshold_minutes=60, created_at=now)
    )
    assert [s.id for s in store.subscriptions("T2")] == [t2.id]
    assert store.channel_subscriptions("T2", "C1") == [t2]
    assert store.subscriptions_by_user("T2", "U1") == [t2]
    assert store.remove_subscription("T2", t1.id) is False
    assert store.get_subscription(t1.id) == t1
    assert store.remove_subscription("T1", t1.id) is True


@pytest.mark.integration
def test_alerts_of_one_workspace_are_invisible_to_another_through_the_app(logged_in: RunningApp) -> None:
    app = logged_in
    t1 = app.slack
    t2 = app.slack.as_user("U0002", "T0002")
    app.deps.services.login("T0002", "U0002", *ADMIN)
    assert t1.command("alerts subscribe after:30m").status == 200
    app.fake.wait_for("response_url")
    wait_quiet(app.fake, idle=0.3)
    (sub,) = app.deps.store.subscriptions("T0001")
    assert sub.channel_id == t1.channel_id == t2.channel_id  # same channel id, different workspace
    app.fake.clear()

    assert t2.command("alerts list").status == 200
    listed = app.fake.wait_for("response_url")[0].args
    assert sub.id not in all_text(listed)
    assert t2.command(f"alerts unsubscribe {sub.id}").status == 200
    refused = app.fake.wait_for("response_url", count=2)[1].args
    assert "There are no alerts" in all_text(refused)
    assert "`/chatrooms alerts` in a channel lists that channel's." in all_text(refused)
    assert app.deps.store.get_subscription(sub.id) == sub

    # The control: the owning workspace does see it, and can remove it.
    assert t1.command("alerts list").status == 200
    assert sub.id in all_text(app.fake.wait_for("response_url", count=3)[2].args)
    assert t1.command(f"alerts unsubscribe {sub.id}").status == 200
    app.fake.wait_for("response_url", count=4)
    wait_quiet(app.fake, idle=0.3)
    assert app.deps.store.get_subscription(sub.id) is None
