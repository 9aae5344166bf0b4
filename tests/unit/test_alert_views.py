"""Alert views are pure and stay within Slack's limits however much is waiting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.console.driver import find_action
from bot.digests import DigestMessage
from bot.slack import ids, payload_check
from bot.slack.limits import MAX_HOME_BLOCKS, MAX_MESSAGE_BLOCKS
from bot.slack.views.alerts import (
    MAX_DIGEST_ROWS,
    HomeSection,
    StaleRow,
    duration_text,
    render_digest,
    render_home,
    render_more,
    render_subscriptions,
)
from bot.store import Subscription

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def sub(**extra: object) -> Subscription:
    data: dict[str, object] = {
        "id": "ab12cd34",
        "team_id": "T1",
        "channel_id": "C1",
        "created_by": "U1",
        "threshold_minutes": 240,
        "created_at": NOW,
    }
    data.update(extra)
    return Subscription.model_validate(data)


def row(i: int, **extra: object) -> StaleRow:
    data: dict[str, object] = {
        "chatroom_id": 1_000_000 + i,
        "name": f"Room {i}",
        "last_visit": NOW - timedelta(hours=5),
    }
    data.update(extra)
    return StaleRow(**data)  # type: ignore[arg-type]


def walk(value: object) -> list[dict]:
    found: list[dict] = []
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            found.extend(walk(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(walk(v))
    return found


def assert_valid(blocks: list[dict], limit: int) -> None:
    """Within the surface's block limit, and taken by Slack's own models and rules (bot.slack.payload_check)."""
    assert len(blocks) <= limit
    assert [str(p) for p in payload_check.blocks_problems(blocks, "/blocks")] == []


def test_digest_row_has_the_four_buttons_with_sub_and_id() -> None:
    msg = render_digest(sub(), DigestMessage([row(1)], more=0, now=NOW))
    assert_valid(msg["blocks"], MAX_MESSAGE_BLOCKS)
    for action_id in (ids.ALERT_VISITED, ids.ALERT_SNOOZE, ids.ALERT_SHOW, ids.ALERT_RUN):
        element = find_action(msg["blocks"], action_id)
        assert element is not None and element["value"] == "ab12cd34:1000001"
    text = json.dumps(msg)
    assert "1 chatroom* has waited more than *4 h*" in text and "5 h ago" in text
    assert msg["text"].startswith("1 chatroom waiting")


def test_digest_of_hundreds_is_cut_to_fifty_blocks_with_a_button_for_the_rest() -> None:
    rows = [row(i) for i in range(300)]
    msg = render_digest(sub(business_id=9001), DigestMessage(rows, more=37, now=NOW))
    assert_valid(msg["blocks"], MAX_MESSAGE_BLOCKS)
    text = json.dumps(msg, ensure_ascii=False)
    assert f"…and {300 - MAX_DIGEST_ROWS + 37} more" in text
    assert "*337 chatrooms* have waited" in text
    more = find_action(msg["blocks"], ids.ALERT_MORE)
    assert more is not None and more["value"] == f"ab12cd34::{MAX_DIGEST_ROWS}"
    assert "Show the other 317" in json.dumps(more)


def test_the_rest_of_a_digest_pages_with_states_and_a_next_button() -> None:
    rows = [row(i) for i in range(40)] + [row(41, state="resolved", by="U9"), StaleRow(42, "Never", None, NOW)]
    msg = render_more(sub(), rows, message_ts="17.1", offset=20, total=100, now=NOW)
    assert_valid(msg["blocks"], MAX_MESSAGE_BLOCKS)
    text = json.dumps(msg, ensure_ascii=False)
    assert "Chatrooms 21–62 of 100" in text and "marked visited by <@U9>" in text and "never visited" in text
    following = find_action(msg["blocks"], ids.ALERT_MORE)
    assert following is not None and following["value"] == "ab12cd34:17.1:62"
    last = render_more(sub(), rows[:5], message_ts="17.1", offset=95, total=100, now=NOW)
    assert find_action(last["blocks"], ids.ALERT_MORE) is None


def test_resolved_snoozed_and_gone_rows() -> None:
    rows = [
        row(1, state="resolved", by="U9"),
        row(2, state="resolved"),
        row(3, state="snoozed", until=NOW + timedelta(hours=1)),
        row(4, state="gone"),
        row(5, last_visit=None, created_on=NOW - timedelta(days=2)),
    ]
    msg = render_digest(sub(), DigestMessage(rows, more=0, now=NOW))
    assert_valid(msg["blocks"], MAX_MESSAGE_BLOCKS)
    by_id = {b.get("block_id"): b for b in msg["blocks"]}
    assert "Marked visited by <@U9>" in by_id["alert.room.1000001"]["text"]["text"]
    assert "alert.act.1000001" not in by_id  # a resolved row has no buttons
    assert "visited or closed in Nexudus" in by_id["alert.room.1000002"]["text"]["text"]
    assert "Snoozed" in by_id["alert.room.1000003"]["text"]["text"] and "alert.act.1000003" in by_id
    assert "No longer in Nexudus" in by_id["alert.room.1000004"]["text"]["text"]
    assert "Never visited" in by_id["alert.room.1000005"]["text"]["text"]


def test_names_are_escaped_and_clipped() -> None:
    msg = render_digest(sub(), DigestMessage([row(1, name="<!channel> & " + "x" * 500)], more=0, now=NOW))
    text = msg["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp;" in text
    assert len(text) < 400


def test_subscription_list_has_an_unsubscribe_button_each_and_states() -> None:
    subs = [
        sub(id="a1"),
        sub(id="b2", paused_reason="<@U1>'s login was removed.", business_id=9002),
        sub(id="c3", last_error="Nexudus is unavailable"),
    ]
    msg = render_subscriptions(subs, "C1", note="🔕 Removed x")
    assert_valid(msg["blocks"], MAX_MESSAGE_BLOCKS)
    buttons = [n for n in walk(msg["blocks"]) if n.get("action_id") == ids.ALERT_UNSUBSCRIBE]
    assert [b["value"] for b in buttons] == ["a1", "b2", "c3"]
    text = json.dumps(msg, ensure_ascii=False)
    assert "Paused: <@U1>'s login was removed." in text and "Last check failed" in text and "business 9002" in text
    assert "Removed x" in text
    many = render_subscriptions([sub(id=f"s{i}") for i in range(80)], "C1", note="n")
    assert_valid(many["blocks"], MAX_MESSAGE_BLOCKS)
    assert "No stale-visit alerts" in json.dumps(render_subscriptions([], "C1"))


def test_home_shows_login_state_and_caps_rows_within_100_blocks() -> None:
    sections = [HomeSection(f"S{n}", f"s{n}", [row(n * 100 + i) for i in range(40)], 400) for n in range(8)]
    home = render_home(
        email="admin@sandbox.local",
        subscriptions=[sub(id=f"s{i}") for i in range(15)],
        sections=sections,
        now=NOW,
        note="note",
    )
    assert home["type"] == "home"
    assert_valid(home["blocks"], MAX_HOME_BLOCKS)
    assert find_action(home["blocks"], ids.HOME_LOGOUT) is not None
    assert find_action(home["blocks"], ids.ALERT_VISITED) is not None
    assert "Showing the oldest 30 of 400" in json.dumps(home)

    anonymous = render_home(email=None, subscriptions=[], sections=[], now=NOW)
    login = find_action(anonymous["blocks"], ids.LOGIN)
    assert login is not None and find_action(anonymous["blocks"], ids.HOME_LOGOUT) is None


def test_home_sections_say_true_things_when_rows_are_elsewhere_or_do_not_fit() -> None:
    def context_texts(home: dict) -> list[str]:
        return [e["text"] for b in home["blocks"] if b["type"] == "context" for e in b["elements"]]

    # A second section whose only rooms were listed in the first one.
    home = render_home(
        email="a@b.c",
        subscriptions=[],
        sections=[HomeSection("4 h", "s1", [row(1), row(2)], 2), HomeSection("1 h", "s2", [], 2, above=2)],
        now=NOW,
    )
    texts = context_texts(home)
    assert not any("Nothing is waiting" in t for t in texts), texts
    assert "All 2 chatrooms waiting here are listed in a section above." in texts

    # The row budget is spent by the first sections: never "Showing the oldest 0 of 15".
    full = [HomeSection(f"S{n}", f"s{n}", [row(n * 100 + i) for i in range(15)], 15) for n in range(3)]
    home = render_home(email="a@b.c", subscriptions=[], sections=full, now=NOW)
    texts = context_texts(home)
    assert not any("oldest 0" in t for t in texts), texts
    assert "15 chatrooms waiting. 15 more did not fit: the Home tab shows at most 30 rows in all." in texts

    # Part shown, part above, part beyond the rows read.
    mixed = HomeSection("x", "s1", [row(5)], 9, above=3)
    text = " ".join(context_texts(render_home(email="a@b.c", subscriptions=[], sections=[mixed], now=NOW)))
    assert "Showing the oldest 1 of 9. 3 are listed in a section above. 5 more have waited less long." in text

    empty = render_home(email="a@b.c", subscriptions=[], sections=[HomeSection("x", "s1", [], 0)], now=NOW)
    assert "Nothing is waiting. 🎉" in context_texts(empty)


def test_home_default_section_has_no_snooze_and_marks_errors() -> None:
    home = render_home(
        email="a@b.c",
        subscriptions=[],
        sections=[HomeSection("Default", None, [row(1)], 1), HomeSection("Broken", "s1", [], 0, error="⌛ down")],
        now=NOW,
    )
    assert find_action(home["blocks"], ids.ALERT_SNOOZE) is None
    visited = find_action(home["blocks"], ids.ALERT_VISITED)
    assert visited is not None and visited["value"] == "-:1000001"
    assert "⌛ down" in json.dumps(home, ensure_ascii=False)


def test_duration_text() -> None:
    assert [duration_text(m) for m in (5, 60, 90, 240, 1440, 1530)] == [
        "5 min",
        "1 h",
        "1 h 30 min",
        "4 h",
        "1 d",
        "1 d 1 h 30 min",
    ]
