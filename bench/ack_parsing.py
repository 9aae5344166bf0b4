"""What reading a request costs an ack, before any listener runs: the body decoded (`bot.slack.request.SlackRequest`
against slack_bolt's own `BoltRequest`, which reads it with urllib's Python loop) and a slash command's text
parsed (`bot.slack.grammar.parse_command`). One process, one request at a time, warm caches: inside a real ack,
among the rest of its work, each costs 2-4x this (bench/gunicorn_ack.py, bench/RESULTS.md).

    .venv/bin/python bench/ack_parsing.py [--number 5000]
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from _common import SIGNING_SECRET, header, table
from slack_bolt import BoltRequest

from bot.console import signing
from bot.console.render import initial_state, render_modal
from bot.nexudus.models import ChatRoom
from bot.slack import ids
from bot.slack.grammar import parse_command
from bot.slack.request import SlackRequest
from bot.slack.views.modals import chatroom_form, room_values

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def bodies() -> dict[str, str]:
    """The three requests of bench/gunicorn_ack.py's bursts, as Slack sends them."""
    room = ChatRoom.model_validate(
        {"Id": 1_000_001, "Name": "Mail & parcels", "Active": True, "BusinessId": 9001, "Users": [11, 12, 13]}
    )
    view = chatroom_form(
        callback_id=ids.EDIT_MODAL, title="Edit", submit="Save", private_metadata="{}", values=room_values(room)
    )
    view |= {"id": "V0001", "hash": "h1", "team_id": "T0001", "app_id": "A0001"}
    values = {f.block_id: {f.action_id: initial_state(f)} for f in render_modal(view).fields}
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": 'Renamed: 50% off, "quoted" é'}}
    response_url = "https://hooks.slack.com/actions/T0001/1/abc"
    return {
        "slash `list`": signing.slash_command_body(
            "/chatrooms", "list active:true", "U0001", "T0001", "C0001", response_url, signing.new_trigger_id()
        ),
        "button Next page": signing.block_actions_body(
            {"action_id": ids.LIST_PAGE, "block_id": "b", "type": "button", "value": "list page:2"},
            user_id="U0001",
            team_id="T0001",
            trigger_id=signing.new_trigger_id(),
            channel_id="C0001",
            message={"ts": "1700000000.000100", "text": ""},
            response_url=response_url,
        ),
        "edit form submit": signing.view_submission_body(
            json.loads(json.dumps(view, default=str)),
            values,
            user_id="U0001",
            team_id="T0001",
            trigger_id=signing.new_trigger_id(),
        ),
    }


def micros(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=5000, help="calls per timing (best of 5)")
    args = parser.parse_args(argv)
    rows = []
    for kind, body in bodies().items():
        headers = {k.lower(): [v] for k, v in signing.signed_headers(body, SIGNING_SECRET).items()}
        ours = SlackRequest(body=body, headers=headers)
        bolts = BoltRequest(body=body, headers=headers)
        assert ours.body == bolts.body and dict(ours.context) == dict(bolts.context), kind  # read alike
        mine = micros(lambda b=body, h=headers: SlackRequest(body=b, headers=h), args.number)
        bolt = micros(lambda b=body, h=headers: BoltRequest(body=b, headers=h), args.number)
        rows.append([kind, len(body), body.count("%"), f"{mine:.1f}", f"{bolt:.1f}", f"{bolt / mine:.1f}×"])
    header("Reading a request's body: SlackRequest (escapes decoded in C) vs Bolt's BoltRequest")
    table(rows, ["request", "bytes", "escapes", "SlackRequest µs", "BoltRequest µs", "faster"])
    texts = ["list", "list active:true page:2", "show 1000001", 'search "desk booking" visited-after:7d', "edit 12"]
    parse_rows = [
        [f"`{text}`", f"{micros(lambda t=text: parse_command(t, now=NOW, zone=UTC), args.number):.1f}"]
        for text in texts
    ]
    header("Parsing a slash command's text (bot.slack.grammar.parse_command)")
    table(parse_rows, ["text", "µs"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
