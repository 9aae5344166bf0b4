"""What the strict fake Slack's check costs per payload (`bot.slack.payload_check`): slack_sdk models plus
Slack's other rules, on the app's largest views. Keeps the fake fast enough for every test to use it.

    .venv/bin/python bench/payload_check.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import header, table

from bot.digests import DigestMessage
from bot.nexudus.models import ChatRoom, Page
from bot.slack import ids
from bot.slack.payload_check import message_problems, view_problems
from bot.slack.views.alerts import HomeSection, StaleRow, render_digest, render_home
from bot.slack.views.chatrooms import render_cards, render_list
from bot.slack.views.modals import chatroom_form, room_values
from bot.store import Subscription

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def payloads() -> list[tuple[str, Callable[[Any], list[Any]], Any]]:
    rooms = [
        ChatRoom.model_validate(
            {"Id": 1_000_000 + i, "Name": f"Mail & parcels {i}", "Active": True, "BusinessId": 9001}
        )
        for i in range(40)
    ]
    page = Page(records=rooms, current_page=2, page_size=40, total_items=120, total_pages=3, first_item=41)
    sub = Subscription.model_validate(
        {"id": "s1", "team_id": "T", "channel_id": "C1", "created_by": "U1", "threshold_minutes": 240}
        | {"created_at": NOW}
    )
    rows = [StaleRow(i, f"Room & {i}", NOW - timedelta(hours=5)) for i in range(30)]
    form = chatroom_form(
        callback_id=ids.EDIT_MODAL, title="Edit", submit="Save", private_metadata="{}", values=room_values(rooms[0])
    )
    return [
        ("list page, 40 rows (43 blocks)", message_problems, render_list(page, summary="", previous_value="a",
                                                                          next_value="b", now=NOW)),
        ("10 cards (39 blocks)", message_problems, render_cards(rooms[:10], [], NOW, UTC)[0]),
        ("digest, 20 rows (43 blocks)", message_problems, render_digest(sub, DigestMessage(rows, more=10, now=NOW))),
        ("Home tab, 30 rows (77 blocks)", view_problems,
         render_home(email="a@b.c", subscriptions=[sub] * 10, sections=[HomeSection("t", "s1", rows, 40)], now=NOW)),
        ("edit form (5 inputs)", view_problems, form),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    header("Strict fake Slack: cost of checking one payload")
    lines = []
    for name, check, payload in payloads():
        assert check(payload) == [], name
        start = time.perf_counter()
        for _ in range(args.rounds):
            check(payload)
        per = (time.perf_counter() - start) / args.rounds
        lines.append((name, f"{per * 1000:.2f} ms"))
    table(lines, ("payload", "check time"))


if __name__ == "__main__":
    main()
