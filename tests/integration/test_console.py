"""The console end to end: scripted sessions against the real app, the fake Slack and the sandbox.

Most tests run the engine in-process (fast, and the sandbox DB can be inspected); one runs
`python -m bot console --script` as a real process, as `make demo` users would.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.console.fake_slack import TEAM_ID
from bot.console.session import Console, ConsoleConfig, ScriptLines
from bot.sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    out = io.StringIO()
    config = ConsoleConfig(data_dir=tmp_path / "demo", reset=True, throttle=False, quiet=0.1, timeout=15)
    started = Console(config, out).start()
    try:
        yield started
    finally:
        started.close()


def run(console: Console, script: str) -> str:
    """Run script lines through the console; returns only what this script printed."""
    out = console.out
    assert isinstance(out, io.StringIO)
    start = len(out.getvalue())
    console.run(ScriptLines(script.strip("\n").splitlines(), out))
    return out.getvalue()[start:]


def db(console: Console) -> SandboxServer:
    assert console.sandbox is not None
    return console.sandbox


def test_scripted_session_list_next_edit_run_delete(console: Console) -> None:
    sandbox = db(console)
    before_13 = sandbox.db.get(1_000_013)
    assert before_13 is not None
    out = run(
        console,
        """
/chatrooms list size:5
:press Next
/chatrooms edit 1000012
:submit name="Renamed from the console"
/chatrooms run SET_ACTIVE 1000012 1000013
:submit active=No
/chatrooms delete 1000007
y
""",
    )
    # list, then Next replaces it with page 2
    assert "> /chatrooms list size:5" in out
    assert "1–5 of 60 · page 1 of 12" in out
    assert "Next ▶" in out
    assert "> :press Next" in out
    assert "╭─ only visible to you · replaces the message above" in out
    assert "6–10 of 60 · page 2 of 12" in out
    assert "◀ Previous" in out
    # edit through the modal: the form is shown with its values, then the saved result
    assert "┏━ Edit #1000012" in out
    assert "┗━ [Save]  [Cancel]" in out
    assert "┏━ Saved" in out
    assert "✅ Saved name" in out
    room = sandbox.db.get(1_000_012)
    assert room is not None and room.name == "Renamed from the console"
    # run a command on two chatrooms
    assert "┏━ Run a command" in out
    assert "Closed 2 chatrooms." in out
    closed = [sandbox.db.get(i) for i in (1_000_012, 1_000_013)]
    assert all(r is not None and r.active is False for r in closed)
    # delete, confirmed
    assert "┗━ [Delete]  [Keep it]" in out
    assert "[Delete] or [Keep it]? (y/n) > y" in out
    assert re.search(r"🗑️ Chatroom .* \(`#1000007`\) was deleted\.", out)
    assert sandbox.db.get(1_000_007) is None
    # what the modal showed and what the app reported in the thread match the data
    assert "Loading chatroom" not in out, "a loading modal that gets updated is shown once, in its final state"


def test_field_by_field_answers_and_error_under_the_field(console: Console) -> None:
    sandbox = db(console)
    before = sandbox.db.get(1_000_004)
    assert before is not None
    out = run(
        console,
        """
/chatrooms edit 1000004


y

x,y
:submit users=7000001
""",
    )
    # Each field was asked for with its type, hint and current value; Enter kept it.
    assert "• Business ID (whole number, required)" in out
    assert f"  Business ID [{before.business_id}] > \n" in out
    assert "• Active (checkbox, y/n, optional)" in out
    assert "  Active [n] > y" in out or "  Active [y] > y" in out
    assert "Nexudus user ids, separated by commas or spaces." in out
    # The app refused the members: the error is shown under that field, which is asked again.
    assert "The form came back with errors" in out
    error = re.search(r"• Member user IDs \(text, optional\)\n.*\n  ✖ (.*)\n  Member user IDs \[x,y\] > ", out)
    assert error is not None, out
    assert "x" in error.group(1)
    assert "┏━ Saved" in out
    after = sandbox.db.get(1_000_004)
    assert after is not None
    assert after.users == (7_000_001,)
    assert after.active is True
    assert after.name == before.name


def test_slack_side_checks_and_cancel(console: Console) -> None:
    sandbox = db(console)
    before = sandbox.db.get(1_000_002)
    out = run(
        console,
        """
/chatrooms edit 1000002
:submit business_id=abc
:submit colour=blue
:clear
:cancel
/chatrooms delete 1000002
n
""",
    )
    assert "✖ Business ID: 'abc' is not a number" in out
    assert "✖ 'colour=blue': write field=value, with a field among: business_id, name" in out
    assert "✖ Business ID: please fill out this field" in out  # :clear on a required field
    assert out.count("Modal cancelled.") == 2
    assert sandbox.db.get(1_000_002) == before


def test_help_errors_and_quit(console: Console) -> None:
    out = run(
        console,
        """
# a comment, then a blank line

:help
/chatrooms colour
7
/other list
list
:press 99
:whoami
:nope
:quit
/chatrooms list
""",
    )
    assert ":press N" in out and ":alerts" in out and ":home" in out and ":quit" in out
    assert ":submit name=" in out, "the help documents the compact modal syntax"
    assert "`colour` is not a `/chatrooms` command" in out  # answered in the ack
    assert "[1] Show help" in out
    assert "No button 7: the last answer has 1." in out
    assert "This app has one slash command: /chatrooms" in out
    assert "Type a slash command as in Slack" in out
    assert "No button 99" in out
    assert "Nexudus login: admin@sandbox.local" in out
    assert "Unknown console command :nope" in out
    assert "> /chatrooms list" not in out, ":quit stops reading"
    assert out.rstrip().endswith("Bye: the sandbox, the fake Slack and the app are stopped.")


def test_press_by_number_in_a_list_menu_opens_the_card(console: Console) -> None:
    out = run(
        console,
        """
/chatrooms list size:2
1
""",
    )
    # Row menus come first: [1] is "Show" of the first row.
    assert "⋯: [1] Show  [2] Edit  [3] Run command  [4] Delete" in out
    card = out.split("> 1\n", 1)[1]
    assert "`#1000001`" in card and "[1] Edit  [2] Run command  [3] Delete" in card


class Interrupting:
    """A terminal whose person presses Ctrl-C at chosen lines."""

    interactive = True

    def __init__(self, answers: list[str | None], out: io.StringIO) -> None:
        self.answers = list(answers)
        self.out = out

    def read(self, prompt: str, *, secret: bool = False) -> str:
        self.out.write(prompt + "\n")
        if not self.answers:
            raise EOFError
        answer = self.answers.pop(0)
        if answer is None:
            raise KeyboardInterrupt
        return answer


def test_ctrl_c_cancels_a_modal_and_twice_exits(console: Console) -> None:
    out = console.out
    assert isinstance(out, io.StringIO)
    lines = Interrupting(["/chatrooms edit 1000003", None, None, None, "/chatrooms list"], out)
    assert console.run(lines) == 0
    text = out.getvalue()
    assert "Modal cancelled." in text
    assert "(Ctrl-C again, :quit or Ctrl-D to exit)" in text
    assert lines.answers == ["/chatrooms list"], "the second Ctrl-C at the prompt exits"


def test_alerts_subscribe_then_worker_cycle_then_mark_visited(console: Console) -> None:
    sandbox = db(console)
    out = run(
        console,
        """
/chatrooms alerts subscribe
:alerts
""",
    )
    # The subscription defaults to the console's channel, and the digest is posted there.
    assert "╭─ #console\n│ 🔔 @demo subscribed this channel to stale-visit alerts" in out
    digest = out.split("> :alerts\n", 1)[1]
    assert digest.startswith("╭─ #console\n│ ⏰ ")
    assert "(alert cycle: 1 subscriptions scanned" in digest
    first = re.search(r"│ .*`#(\d+)`\n(?:│ .*\n)*?│ \[1\] Mark visited", digest)
    assert first is not None, digest
    room_id = int(first.group(1))
    row = sandbox.db.get(room_id)
    assert row is not None
    before = row.last_agent_visit
    pressed = run(console, ":press 1\n:alerts")
    assert "╭─ #console · edited" in pressed
    assert "✅ Marked visited by @demo." in pressed
    after = sandbox.db.get(room_id)
    assert after is not None and after.last_agent_visit is not None
    assert before is None or after.last_agent_visit > before
    assert "The alert worker had nothing to post" in pressed, "an alerted chatroom is not alerted twice"


def test_home_tab(console: Console) -> None:
    out = run(console, ":home")
    assert "╭─ App Home" in out
    assert "Logged in to Nexudus as admin@sandbox.local" in out


def test_close_stops_every_server_and_thread(tmp_path: Path) -> None:
    config = ConsoleConfig(data_dir=tmp_path, reset=True, throttle=False, quiet=0.05)
    console = Console(config, io.StringIO()).start()
    assert console.sandbox is not None and console.fake is not None and console.driver is not None
    ports = [console.sandbox.port, int(console.fake.base_url.rsplit(":", 1)[1]), _port(console.driver.app_url)]
    run(console, "/chatrooms list size:1")
    console.close()
    console.close()  # twice is harmless
    for port in ports:
        assert not _listening(port), f"port {port} still open"
    names = {t.name for t in threading.enumerate()}
    assert not names & {"sandbox", "fake-slack", "console-app"}
    assert (tmp_path / "sandbox.sqlite").exists() and (tmp_path / "store.sqlite").exists()


def test_data_persists_across_runs_and_reset_starts_fresh(tmp_path: Path) -> None:
    def session(reset: bool, script: str) -> tuple[str, str | None]:
        config = ConsoleConfig(data_dir=tmp_path, reset=reset, throttle=False, quiet=0.05)
        with Console(config, io.StringIO()) as c:
            text = run(c, script)
            row = db(c).db.get(1_000_001)
            return text, row.name if row else None

    session(True, '/chatrooms edit 1000001\n:submit name="Kept between runs"')
    assert session(False, "")[1] == "Kept between runs"
    assert session(True, "")[1] != "Kept between runs"


def test_real_process_runs_a_script_and_leaves_nothing_behind(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(
        "\n".join(
            [
                "/chatrooms list active:true size:3",
                ":press Next",
                "/chatrooms edit 1000012",
                ':submit name="Renamed by a script"',
                ":quit",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEXUDUS_", "STORE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--script", str(script), "--reset", "--data-dir", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Nexudus chatrooms: the local console" in out
    assert "throttling on" in out
    assert "logged in to Nexudus as admin@sandbox.local" in out
    assert "page 1 of" in out and "page 2 of" in out
    assert "┏━ Saved" in out
    assert "Bye: the sandbox, the fake Slack and the app are stopped." in out
    assert "\x1b[" not in out, "no colour when the output is not a terminal"
    assert "Traceback" not in proc.stderr
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)/", out)
    assert len(urls) >= 2
    for port in map(int, urls):
        assert not _listening(port), f"port {port} still open after exit"
    assert not _processes_mentioning(str(data)), "a child process outlived the console"
    with SandboxServer(db_path=str(data / "sandbox.sqlite")) as sandbox:
        row = sandbox.db.get(1_000_012)
        assert row is not None and row.name == "Renamed by a script"


def _port(url: str) -> int:
    match = re.search(r":(\d+)/", url)
    assert match is not None
    return int(match.group(1))


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_a_command_typed_in_an_open_form_closes_it_and_runs(console: Console) -> None:
    out = run(console, "/chatrooms edit 1000002\n/chatrooms whoami\n")
    assert "the form is closed without saving" in out
    assert "You act in Nexudus as admin@sandbox.local" in out.split("the form is closed without saving", 1)[1]


# ------------------------------------------------------------------- what a new user hit (issue 10)


def test_answering_the_run_picker_goes_on_to_the_next_field(console: Console) -> None:
    out = run(console, "/chatrooms run\n1\n1000003\nRenamed by the picker\n/chatrooms whoami")
    assert "no choice '1000003'" not in out, "the rebuilt form must not ask for the command again"
    assert out.count("• Command (one choice, required)") == 1
    assert "• Chatrooms (values, comma-separated, required)" in out
    assert "Chatroom 1000003 renamed to 'Renamed by the picker'." in out
    assert "the form is closed without saving" not in out, "the script's next line is a new command"
    row = db(console).db.get(1_000_003)
    assert row is not None and row.name == "Renamed by the picker"


def test_submit_keeps_the_good_values_and_asks_again_only_for_the_bad_one(console: Console) -> None:
    visit = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    out = run(
        console,
        f"""
/chatrooms edit 1000002
:submit business=9001 visited=2026-13-45 name="Kept name" users=7000237,7000261
{visit}
""",
    )
    assert "✖ '2026-13-45' is not a date and time" in out
    asked = out.split(":submit", 1)[1]
    assert "• Business ID" not in asked and "• Name" not in asked, "only the bad field is asked again"
    assert "• Last agent visit (date and time" in asked
    assert "┏━ Saved" in out
    row = db(console).db.get(1_000_002)
    assert row is not None
    assert (row.name, row.business_id, row.users) == ("Kept name", 9001, (7000237, 7000261))
    assert row.last_agent_visit is not None and row.last_agent_visit.strftime("%Y-%m-%d %H:%M") == visit


def test_submit_suggests_a_mistyped_field_name(console: Console) -> None:
    out = run(console, "/chatrooms edit 1000002\n:submit nmae=x\n:cancel")
    assert "Did you mean name?" in out


def test_typed_text_reaches_the_app_escaped_as_slack_escapes_it(console: Console) -> None:
    out = run(console, '/chatrooms edit 1000005 name:"<b> & co"\n/chatrooms list name:"<b>"')
    row = db(console).db.get(1_000_005)
    assert row is not None and row.name == "<b> & co", "nothing typed is lost"
    assert "name contains “<b>”" in out
    assert "1–1 of 1" in out


def test_a_channel_of_the_workspace_can_be_typed_with_a_hash(console: Console) -> None:
    out = run(console, "/chatrooms alerts subscribe #support after:30m\n/chatrooms alerts subscribe #nowhere")
    subscriptions = console.deps.store.subscriptions() if console.deps else []
    assert [s.channel_id for s in subscriptions] == ["C0SUPPORT"]
    assert "╭─ #support\n│ 🔔 @demo subscribed this channel" in out
    assert "I can't tell which channel `#nowhere` is." in out


def test_a_mistyped_console_command_or_button_is_suggested(console: Console) -> None:
    assert "Unknown console command :alert. Did you mean :alerts?" in run(console, ":alert")
    out = run(console, "/chatrooms list size:5\n:press Nxet")
    assert "No button starts with 'Nxet'. Did you mean :press Next ▶?" in out


def test_numbers_refer_to_the_latest_answer_not_to_the_home_tab(console: Console) -> None:
    out = run(console, ":home\n:alerts\n1")
    assert "[1] Log out" in out
    assert "The alert worker had nothing to post" in out
    after = out.split("> 1\n", 1)[1]
    assert after.startswith("There is nothing to press: the last answer has no buttons.\nBye:")
    assert console.deps is not None
    assert console.deps.services.whoami(TEAM_ID, console.config.user_id) == "admin@sandbox.local"


def test_the_console_applies_the_apps_one_name_limit(console: Console) -> None:
    out = run(console, f"/chatrooms edit 1000002\n:submit name={'x' * 201}\n:cancel")
    assert "at most 200" in out
    row = db(console).db.get(1_000_002)
    assert row is not None and row.name != "x" * 201


@pytest.mark.parametrize("names", [("reference", "local-times"), ("no-token",)])
def test_the_console_speaks_a_chosen_dialect_and_the_app_copes(tmp_path: Path, names: tuple[str, ...]) -> None:
    config = ConsoleConfig(data_dir=tmp_path, reset=True, throttle=False, quiet=0.05, dialects=names)
    with Console(config, io.StringIO()) as c:
        assert f"dialect {' + '.join(names)}" in c.banner()
        text = run(c, "/chatrooms list size:3 sort:-id\n/chatrooms show 1000002 1000001")
        assert text.index("#1000060") < text.index("#1000059") < text.index("#1000058"), "descending, detected"
        assert text.index("#1000002") < text.index("#1000001"), "both found by id, in the order asked"


def test_clock_moves_the_app_through_quiet_hours_and_escalation(console: Console) -> None:
    now = datetime.now(UTC)
    opens, closes = (now + timedelta(hours=2)).strftime("%H:00"), (now + timedelta(hours=6)).strftime("%H:00")
    out = run(
        console,
        f"""
/chatrooms alerts subscribe hours:{opens}-{closes} zone:UTC escalate-after:27d escalate-to:@support-leads
:alerts
:clock
""",
    )
    assert f"posts {opens}–{closes}" in out
    quiet = out.split("> :alerts\n", 1)[1]
    assert "The alert worker had nothing to post" in quiet and "1 in quiet hours" in quiet
    assert "The app's clock:" in out and "moved" not in out.split("> :clock\n", 1)[1]

    opened = run(console, ":clock +2h\n:alerts")
    assert "moved 2 h ahead" in opened
    assert "⏰ " in opened and "quiet since" in opened, opened  # the opening digest says since when

    later = run(console, ":clock +10m\n:alerts")  # the two rooms waiting over 27 days escalate
    assert "· in thread\n│ 🚨 @S0LEADS" in later, later  # in the digest's thread, with the mention
    assert "(alert cycle:" in later and "escalated" in later.split("(alert cycle:", 1)[1]
    assert "The clock only moves forward" in run(console, ":clock -1h")
    assert "is not a duration" in run(console, ":clock +soon")


def test_alerts_are_changed_in_place_from_the_console(console: Console) -> None:
    out = run(console, "/chatrooms alerts subscribe after:4h zone:UTC\n:alerts")
    found = re.search(r"ID `([0-9a-f]{8})`", out)
    assert found is not None, out
    sub_id = found.group(1)
    closed = (datetime.now(UTC) + timedelta(hours=2)).strftime("%H:00")
    reopens = (datetime.now(UTC) + timedelta(hours=3)).strftime("%H:00")
    changed = run(console, f"/chatrooms alerts change {sub_id} hours:{closed}-{reopens} summary:off\n:alerts")
    assert "╭─ #console\n│ ✏️ @demo changed the stale-visit alerts" in changed, changed
    assert f"hours any hour → {closed}–{reopens}" in changed
    assert "1 in quiet hours" in changed.split("> :alerts\n", 1)[1]
    listed = run(console, "/chatrooms alerts")
    assert f"posts {closed}–{reopens}, every day" in listed and "/chatrooms alerts change ID" in listed


def test_the_audit_trail_and_its_channel_work_in_the_console(console: Console) -> None:
    out = run(
        console,
        """
/chatrooms edit 1000001 name:"Front desk & co"
/chatrooms audit channel #ops
/chatrooms edit 1000002 active:false
/chatrooms audit 1000001 since:1h
/chatrooms audit user:nobody
""",
    )
    assert "@demo set this channel to receive this workspace's audit trail" in out
    assert "╭─ #ops\n│ 📜 @demo edited Desk booking – Zoë Müller `#1000002`: Active yes → no" in out
    assert "@demo edited Front desk & co `#1000001`: Name “Mail & parcels – Northwind Labs” → “Front desk & co”" in out
    assert "`user:nobody` is not a person I can find" in out


def test_stats_after_a_day_of_alerts(console: Console) -> None:
    empty = run(console, "/chatrooms stats")
    assert "No room was alerted in this workspace" in empty
    assert "No channel has alerts set up" in empty
    out = run(console, "/chatrooms alerts subscribe after:4h\n:alerts\n:clock +20m\n:press 1\n:alerts")
    assert "✅ Marked visited by @demo." in out
    cycle = re.search(r"\(alert cycle: 1 subscriptions scanned, 0 paused, (\d+) chatrooms alerted", out)
    assert cycle is not None, out
    alerted = int(cycle[1])
    stats = run(console, "/chatrooms stats since:7d")
    assert "Response times" in stats and f"{alerted} rooms alerted" in stats
    # Every room was stale before the alerts were set up: counted from then, visited 20 minutes later.
    assert "median 20 min, 90th percentile 20 min (1 visited)" in stats
    assert re.search(r"│ Alerted {7}[▁█]{7}  max \d+", stats), stats  # the code block, a mark a day
    assert "A mark a day" in stats
    assert "stats go back at most 365 days" in run(console, "/chatrooms stats since:400d")
    home = run(console, ":home")
    assert f"Last 7 days: {alerted} rooms alerted · median 20 min from going stale to a visit" in home
