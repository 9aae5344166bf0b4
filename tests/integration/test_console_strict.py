"""A console session that uses every command sends the strict fake Slack only payloads Slack takes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.console.session import Console, ConsoleConfig, ScriptLines

EVERY_COMMAND = """
/chatrooms help
/chatrooms help list
/chatrooms whoami
/chatrooms list size:3
:press Next
:press Previous
/chatrooms list active:true sort:-visited size:5 visited-before:4h
/chatrooms search mail size:3
/chatrooms show 1000001 1000002
/chatrooms show 1000001 1000002 1000003 1000004 1000005 1000006 1000007 1000008 1000009 1000010 1000011 1000012
/chatrooms create business:9001
:submit name="R&D <team> & co"
/chatrooms edit 1000003
:submit name="Edited & <saved>"
/chatrooms commands
/chatrooms run SET_ACTIVE 1000004 1000005
:submit active=No
/chatrooms run RENAME 1000004 1000005
:cancel
/chatrooms run RENAME 1000006
:submit
:cancel
/chatrooms delete 1000007
y
/chatrooms alerts subscribe after:1h
/chatrooms alerts list
:alerts
1
2
:home
/chatrooms alerts
/chatrooms logout
/chatrooms list
/chatrooms login
:submit email=admin@sandbox.local password=wrong
:submit email=admin@sandbox.local password=sandbox-admin
/chatrooms whoami
/chatrooms lsit
:quit
"""


def test_a_session_using_every_command_sends_only_payloads_slack_takes(tmp_path: Path) -> None:
    out = io.StringIO()
    config = ConsoleConfig(data_dir=tmp_path / "demo", reset=True, throttle=False, quiet=0.1, timeout=15)
    console = Console(config, out).start()
    try:
        console.run(ScriptLines(EVERY_COMMAND.strip().splitlines(), out))
        assert console.fake is not None
        stats = console.fake.stats
    finally:
        console.close()
    printed = out.getvalue()
    for seen in ("Chatroom created", "Saved", "Command run", "was deleted", "Marked visited", "Logged in as"):
        assert seen in printed, seen
    assert stats.refused == [], stats.refused
    # Every kind of payload was checked: messages, ephemerals, updates, modals, the Home tab and acks.
    assert {
        "ack",
        "response_url",
        "views.open",
        "views.update",
        "views.publish",
        "chat.postMessage",
        "chat.update",
    } <= set(stats.validated)
    assert stats.total >= 50


@pytest.mark.slack_refusals
def test_an_answer_slack_would_refuse_is_shown_as_slacks_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.slack.listeners import commands

    bad = {"text": "help", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a <b> tag"}}]}
    monkeypatch.setattr(commands, "render_help", lambda text: bad)
    out = io.StringIO()
    config = ConsoleConfig(data_dir=tmp_path / "demo", reset=True, throttle=False, quiet=0.1, timeout=15)
    console = Console(config, out).start()
    try:
        console.run(ScriptLines(["/chatrooms help", ":quit"], out))
    finally:
        console.close()
    assert "Slack refused the app's answer (invalid_blocks)" in out.getvalue()
    assert "│ a <b> tag" not in out.getvalue(), "what Slack refuses is not shown as if it had been"


@pytest.mark.slack_refusals
def test_a_message_slack_would_refuse_is_reported_not_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.slack.listeners import auth

    bad = {"text": "me", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "you & me"}}]}
    monkeypatch.setattr(auth, "render_notice", lambda *args, **kwargs: bad)
    out = io.StringIO()
    config = ConsoleConfig(data_dir=tmp_path / "demo", reset=True, throttle=False, quiet=0.1, timeout=15)
    console = Console(config, out).start()
    try:
        console.run(ScriptLines(["/chatrooms whoami", ":quit"], out))
    finally:
        console.close()
    assert "⚠ Slack refused the app's response_url (invalid_blocks" in out.getvalue()
    assert "│ you & me" not in out.getvalue()
