"""The console engine: starts the sandbox, the fake Slack and the real app, then plays Slack for a person.

A line typed at the prompt becomes what Slack would send (a signed slash command, a button press, a
``view_submission``); what the app sends back to the fake Slack Web API is rendered as text. The
I/O is a :class:`LineSource` (a terminal or a script) and a text stream, so tests drive it exactly
as a person would. ``bot.console.repl`` is the command line around it.

The app is "done" with an action when Bolt's listener executor is idle and the fake Slack has
recorded nothing new for a short quiet window (bounded by a timeout): lazy listeners answer
asynchronously, and a loading modal that gets updated is shown once, in its final state.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import logging
import re
import secrets
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TextIO

from slack_bolt import App
from slack_sdk import WebClient

from bot.alerts import AlertWorker
from bot.console import signing
from bot.console.driver import AckResponse, SlackDriver
from bot.console.fake_slack import TEAM_ID, Event, FakeSlack
from bot.console.render import (
    Button,
    Field,
    RenderedModal,
    field_state,
    initial_state,
    render_errors,
    render_message,
    render_modal,
)
from bot.deps import Deps
from bot.logs import RedactingFilter
from bot.sandbox.dialects import dialect
from bot.sandbox.seed import ADMIN
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.grammar import EDIT_KEYS
from bot.slack.grammar.dates import duration
from bot.slack.publisher import SlackPublisher
from bot.slack.views.alerts import duration_text
from bot.web import serve
from bot.wiring import build_deps

log = logging.getLogger(__name__)

Json = dict[str, Any]

DEFAULT_DATA_DIR = Path("var/demo")
SANDBOX_FILE = "sandbox.sqlite"
STORE_FILE = "store.sqlite"
COMMAND = "/chatrooms"

HELP = """\
Console commands (everything else is typed as in Slack, e.g. /chatrooms list active:true):
  N  or  :press N      press button or menu option number N of the last answer
  :press LABEL         press the button whose label starts with LABEL (e.g. :press Next)
  :alerts              run one cycle of the stale-visit alert worker now
  :home                open the app's Home tab
  :clock [+9h]         show the app's clock, or move it forward (+30m, +9h, +1d): try quiet hours and escalation
  :whoami              who you are in this console and in Nexudus
  :log                 show or hide the app's logs (on stderr)
  :help                this help
  :quit                stop everything and exit (Ctrl-D too)

In a modal, each field is asked for in turn: Enter keeps the value shown in [brackets],
:clear empties it, :submit sends the form as it is, :cancel closes the modal (Ctrl-C too).
Choices are typed by number (1,3) or value; a single checkbox takes y/n; dates are
YYYY-MM-DD HH:MM (UTC). Instead of answering field by field you can type, at any field:
  :submit name="New name" active=n users=
(fields named by block id, label or the slash command's name, e.g. business=9001 visited=…;
unnamed fields keep their value; a value Slack would refuse is asked for again, the rest is kept).
Typed slash commands reach the app as Slack sends them: &, < and > escaped, and #channel or @person
of this workspace (#console, #support, @demo) turned into mentions, as Slack's autocomplete does.

Scripts (--script FILE, or commands piped on stdin) are the same lines, one a line; blank lines
and lines starting with # are skipped between commands. When a command opens a modal, the next
lines answer it, one per field (an empty line keeps the value), or a single :submit line."""


class Cancelled(Exception):
    """The person closed the modal (``:cancel``, Ctrl-C, or the script ended)."""


class LeftForm(Cancelled):
    """A slash command or a console command typed while a form was open: close the form, then run it."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


USER_GROUPS = {"support-leads": "S0LEADS"}
"""The console workspace's user groups (`escalate-to:@support-leads`), mentioned as Slack's autocomplete does."""
LEAVE_FORM_COMMANDS = (":quit", ":q", ":exit", ":alerts", ":home")


class ConsoleError(Exception):
    """Something the person should read, instead of a stack trace."""


class LineSource(Protocol):
    """Where typed lines come from. ``read`` raises EOFError at the end, KeyboardInterrupt on Ctrl-C."""

    interactive: bool

    def read(self, prompt: str, *, secret: bool = False) -> str: ...


class ScriptLines:
    """Lines from a script; each prompt and answer is echoed so the output reads as a transcript."""

    interactive = False

    def __init__(self, lines: Iterable[str], out: TextIO) -> None:
        self._lines: Iterator[str] = iter(lines)
        self._out = out

    def read(self, prompt: str, *, secret: bool = False) -> str:
        line = next(self._lines, None)
        if line is None:
            raise EOFError
        line = line.rstrip("\r\n")
        shown = "*" * len(line) if secret and line and not line.startswith(":") else line
        self._out.write(f"{prompt}{shown}\n")
        self._out.flush()
        return line


class TerminalLines:
    """A person at a terminal (line editing and history through readline when available)."""

    interactive = True

    def __init__(self) -> None:
        with contextlib.suppress(ImportError):  # line editing and history, where the platform has it
            import readline  # noqa: F401

    def read(self, prompt: str, *, secret: bool = False) -> str:
        if secret:
            import getpass

            return getpass.getpass(prompt)
        return input(prompt)


@dataclass
class ConsoleConfig:
    """How the console runs; every default is the documented `make demo` behaviour."""

    data_dir: Path = DEFAULT_DATA_DIR
    reset: bool = False
    throttle: bool = True
    dialects: tuple[str, ...] = ()
    """Sandbox dialects (`--dialect`); the app is set up as the doctor would advise for them."""
    color: bool = False
    logs: bool = False
    quiet: float = 0.3  # seconds without a new Slack call before an answer counts as complete
    timeout: float = 15.0  # longest wait for the app to finish an action
    user_id: str = "U0DEMO"
    user_name: str = "demo"
    channel_id: str = "C0CONSOLE"
    channel_name: str = "console"
    other_channels: tuple[tuple[str, str], ...] = (("C0SUPPORT", "support"), ("C0OPSROOM", "ops"))
    """Channels to try `alerts subscribe #support` or `audit channel #ops` with."""
    login: tuple[str, str] = (ADMIN.email, ADMIN.password)


@dataclass(frozen=True)
class Choice:
    """A numbered thing to press, with where it lives (a message, or a view for Home/modals)."""

    button: Button
    message: Json | None = None
    channel_id: str | None = None
    ephemeral: bool = False
    view: Json | None = None


class _Tracking(Executor):
    """Wraps Bolt's listener executor to count work in flight, so the console knows when the app is idle."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self._pending += 1
        try:
            future = self.inner.submit(fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._pending > 0

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def _track(app: App) -> _Tracking | None:
    """Route Bolt's listener and lazy-listener work through one tracking executor (None if Bolt changed)."""
    runner = app.listener_runner
    lazy = getattr(runner, "lazy_listener_runner", None)
    inner = getattr(runner, "listener_executor", None)
    if lazy is None or not isinstance(inner, Executor) or not isinstance(getattr(lazy, "executor", None), Executor):
        return None
    tracking = _Tracking(inner)
    runner.listener_executor = tracking
    lazy.executor = tracking
    return tracking


class _LogSwitch(logging.Filter):
    """Lets app logs through when switched on; errors always show, so a failure is never silent."""

    def __init__(self, on: bool) -> None:
        super().__init__()
        self.on = on

    def filter(self, record: logging.LogRecord) -> bool:
        return self.on or record.levelno >= logging.ERROR


class Console:
    """One console session: the running pieces, the transcript cursor, and what can be pressed."""

    def __init__(self, config: ConsoleConfig | None = None, out: TextIO | None = None) -> None:
        self.config = config or ConsoleConfig()
        self.out: TextIO = out if out is not None else sys.stdout
        self.sandbox: SandboxServer | None = None
        self.fake: FakeSlack | None = None
        self.deps: Deps | None = None
        self.app: App | None = None
        self.driver: SlackDriver | None = None
        self.slack_client: WebClient | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._tracking: _Tracking | None = None
        self._cursor = 0
        self._view: Json | None = None
        self.choices: dict[int, Choice] = {}
        self._fresh: dict[int, Choice] = {}
        self._number = 1
        self._log_handler: logging.Handler | None = None
        self._log_switch = _LogSwitch(self.config.logs)
        self.clock = ConsoleClock()
        self._saved_root: tuple[int, list[logging.Handler]] | None = None
        self.lines: LineSource | None = None
        self._pending: list[str] = []  # a line typed in a form that closed it, run next
        # A form the app rebuilt around an answer (a command picked): (view id, typed values, fields answered)
        self._carry: tuple[str | None, dict[str, str], set[str]] | None = None

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> Console:
        """Start the sandbox, the fake Slack and the app (HTTP on loopback), and log the demo user in."""
        cfg = self.config
        try:
            self._start_logging()
            data = cfg.data_dir
            data.mkdir(parents=True, exist_ok=True)
            if cfg.reset:
                for stale in data.glob(f"{STORE_FILE}*"):
                    stale.unlink()
            spoken = dialect(*cfg.dialects)
            self.sandbox = SandboxServer(
                db_path=str(data / SANDBOX_FILE),
                port=0,
                config=SandboxConfig(throttle=cfg.throttle, dialect=spoken),
                reset=cfg.reset,
                now=self.clock,
            ).start()
            self.fake = FakeSlack().start()
            self.fake.channels[cfg.channel_id] = {"name": cfg.channel_name}
            for other_id, other_name in cfg.other_channels:
                self.fake.channels[other_id] = {"name": other_name}
            self.fake.users[cfg.user_id] = {"name": cfg.user_name, "real_name": "Demo Operator"}
            secret = secrets.token_hex(16)  # a fresh signing secret each run: only this console can call the app
            settings = Settings(
                nexudus_base_url=self.sandbox.url,
                nexudus_pacing=cfg.throttle,
                slack_api_url=self.fake.api_url,
                slack_bot_token="xoxb-console",
                slack_signing_secret=secret,
                slack_app_token=None,
                store_path=data / STORE_FILE,
                store_key=None,
                nexudus_auth="bearer" if spoken.tokens else "auto",
                nexudus_time_zone=spoken.local_zone or "UTC",
                _env_file=None,
            )
            self.deps = build_deps(settings, local=True, clock=self.clock)
            self.app = build_app(self.deps)
            self._tracking = _track(self.app)
            self._server = serve(self.app, port=0, acks=self.deps.acks)
            self._server_thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="console-app", daemon=True
            )
            self._server_thread.start()
            url = f"http://127.0.0.1:{self._server.server_port}/slack/events"
            self.driver = SlackDriver(
                url, secret, self.fake, team_id=TEAM_ID, user_id=cfg.user_id, channel_id=cfg.channel_id, timeout=30
            )
            self.slack_client = WebClient(token=settings.slack_bot_token, base_url=self.fake.api_url)
            self.deps.services.login(TEAM_ID, cfg.user_id, *cfg.login)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop everything that was started, in dependency order; safe to call twice."""
        steps: list[Callable[[], None]] = [self._stop_server]
        if self._tracking is not None:
            tracking = self._tracking
            steps.append(lambda: tracking.shutdown(wait=True))  # let lazy listeners finish while Slack is up
        if self.deps is not None:
            steps.append(self._forget_clients)
            steps.append(self.deps.store.close)
        if self.fake is not None:
            steps.append(self.fake.stop)
        if self.sandbox is not None:
            steps.append(self.sandbox.stop)
        steps.append(self._stop_logging)
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                self.out.write(f"(while stopping: {type(exc).__name__}: {exc})\n")
        self._tracking, self.deps, self.fake, self.sandbox, self.app = None, None, None, None, None

    def _stop_server(self) -> None:
        server, thread = self._server, self._server_thread
        self._server, self._server_thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _forget_clients(self) -> None:
        """Close the Nexudus HTTP sessions the app opened for the demo login."""
        assert self.deps is not None
        creds = self.deps.store.load_credentials(TEAM_ID, self.config.user_id)
        forget = getattr(self.deps.services.clients, "forget", None)
        if creds is not None and callable(forget):
            forget(creds)

    def __enter__(self) -> Console:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start_logging(self) -> None:
        root = logging.getLogger()
        self._saved_root = (root.level, list(root.handlers))
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[log] %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        handler.addFilter(self._log_switch)
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        for noisy in ("urllib3", "slack_sdk", "slack_bolt"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._log_handler = handler

    def _stop_logging(self) -> None:
        if self._saved_root is not None:
            root = logging.getLogger()
            root.setLevel(self._saved_root[0])
            root.handlers[:] = self._saved_root[1]
            self._saved_root = None

    # ---------------------------------------------------------------------------------- the session

    def banner(self) -> str:
        cfg, sandbox = self.config, self._need(self.sandbox)
        data = cfg.data_dir
        return "\n".join(
            [
                "Nexudus chatrooms: the local console (it stands in for Slack; nothing leaves this machine)",
                f"  Nexudus sandbox  {sandbox.url}  ({sandbox.db.count()} chatrooms, "
                f"throttling {'on' if cfg.throttle else 'off'}, dialect {' + '.join(cfg.dialects) or 'seed'})",
                f"  Slack app        {self._need(self.driver).app_url}  (signed requests, fake Slack Web API)",
                f"  Data             {data / SANDBOX_FILE} (chatrooms), {data / STORE_FILE} (logins, alerts);"
                " --reset starts fresh",
                f"  You are          @{cfg.user_name} in #{cfg.channel_name}, logged in to Nexudus as {cfg.login[0]}",
                "Type what you would type in Slack, for example:",
                "  /chatrooms list active:true",
                "  /chatrooms edit 1000012",
                "  /chatrooms run MARK_VISITED 1000012 1000013",
                "  /chatrooms alerts subscribe     then  :alerts   (and :clock +1h, /chatrooms stats)",
                "Press a button by typing its number. :help lists console commands; :quit or Ctrl-D exits.",
            ]
        )

    def run(self, lines: LineSource) -> int:
        """Read and execute lines until :quit or the end of input; returns the exit code."""
        self.lines = lines
        interrupted = False
        while True:
            try:
                line = self._pending.pop(0) if self._pending else lines.read("> ")
            except EOFError:
                if lines.interactive:
                    self.say("")
                break
            except KeyboardInterrupt:
                if not lines.interactive or interrupted:
                    self.say("")
                    break
                interrupted = True
                self.say("\n(Ctrl-C again, :quit or Ctrl-D to exit)")
                continue
            interrupted = False
            try:
                if not self.execute(line):
                    break
            except KeyboardInterrupt:
                self.say("(interrupted)")
        self.say("Bye: the sandbox, the fake Slack and the app are stopped.")
        return 0

    def execute(self, line: str) -> bool:
        """One top-level line. Returns False to quit."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        self._fresh, self._number = {}, 1
        # Numbers always refer to the latest thing the app showed: a slash command, a press, :alerts or
        # :home replace them, even with nothing (an empty alert cycle must not leave the Home tab's buttons).
        shows_slack = text.isdigit() or text.startswith("/") or _console_word(text) in (":press", ":alerts", ":home")
        try:
            if text.isdigit():
                self._press(text)
            elif text.startswith(":"):
                return self._console_command(text)
            elif text.startswith("/"):
                self._slash(text)
            else:
                self.say(f"Type a slash command as in Slack (e.g. {COMMAND} list), a button number, or :help.")
        except ConsoleError as exc:
            self.say(str(exc))
            shows_slack = False  # nothing reached the app (a wrong number, another slash command)
        finally:
            if self._fresh or shows_slack:
                self.choices = self._fresh
        return True

    def _console_command(self, text: str) -> bool:
        name, _, rest = text.partition(" ")
        name = name.lower()
        if name in (":quit", ":q", ":exit"):
            return False
        if name == ":help":
            self.say(HELP)
        elif name == ":press":
            self._press(rest.strip())
        elif name == ":alerts":
            self._alerts()
        elif name == ":home":
            self._home()
        elif name == ":clock":
            self.say(self.clock.move(rest.strip()))
        elif name == ":whoami":
            deps = self._need(self.deps)
            email = deps.services.whoami(TEAM_ID, self.config.user_id)
            self.say(
                f"You are @{self.config.user_name} ({self.config.user_id}) in #{self.config.channel_name} "
                f"({self.config.channel_id}); Nexudus login: {email or 'none (/chatrooms login)'}."
            )
        elif name == ":log":
            self._log_switch.on = not self._log_switch.on
            self.say(f"App logs {'on (stderr)' if self._log_switch.on else 'off'}.")
        else:
            known = [":press", ":alerts", ":home", ":clock", ":whoami", ":log", ":help", ":quit"]
            close = difflib.get_close_matches(name[:40], known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]}?" if close else ""
            self.say(f"Unknown console command {name}.{hint} :help lists them.")
        return True

    # ---------------------------------------------------------------------------------- actions

    def _slash(self, text: str) -> None:
        command, _, rest = text.partition(" ")
        if command != COMMAND:
            raise ConsoleError(f"This app has one slash command: {COMMAND}. Try {COMMAND} help.")
        driver = self._need(self.driver)
        ack = driver.command(self.as_slack_sends(rest.strip()), command=command)
        self._show_ack(ack)
        self._after()

    def as_slack_sends(self, typed: str) -> str:
        """Typed slash-command text as Slack delivers it: `&`, `<`, `>` escaped, and a `#channel` or
        `@person` of this workspace turned into the mention Slack's autocomplete inserts."""
        text = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        fake = self._need(self.fake)
        channels = {str(info.get("name", "")).lower(): cid for cid, info in fake.channels.items()}
        users = {str(info.get("name", "")).lower(): uid for uid, info in fake.users.items()}

        def mention(match: re.Match[str]) -> str:
            sigil, name = match.group(1), match.group(2)
            if sigil == "#" and name.lower() in channels:
                return f"<#{channels[name.lower()]}|{name.lower()}>"
            if sigil == "@" and name.lower() in users:
                return f"<@{users[name.lower()]}>"
            if sigil == "@" and name.lower() in USER_GROUPS:
                return f"<!subteam^{USER_GROUPS[name.lower()]}|@{name.lower()}>"
            return match.group(0)

        return re.sub(r"(?<![\w&#@])([#@])([A-Za-z][\w.-]*)", mention, text)

    def _press(self, token: str) -> None:
        choice = self._find_choice(token, self.choices)
        button = choice.button
        if button.url:
            self.say(f"(opens {button.url} in a browser)")
        if button.confirm and not self._confirm(button.confirm):
            self.say("Not confirmed: nothing was sent.")
            return
        ack = self._click(choice)
        self._show_ack(ack)
        self._after()

    def _click(self, choice: Choice, state: Json | None = None, action: Json | None = None) -> AckResponse:
        """Send the block_actions Slack sends when this choice is pressed (or ``action`` happens in its view)."""
        driver, fake = self._need(self.driver), self._need(self.fake)
        button = choice.button
        sent = action if action is not None else button.action()
        if choice.view is not None:
            body = signing.block_actions_body(
                sent,
                user_id=driver.user_id,
                team_id=driver.team_id,
                trigger_id=signing.new_trigger_id(),
                view=choice.view,
                state_values=state,
                user_name=self.config.user_name,
            )
        else:
            body = signing.block_actions_body(
                sent,
                user_id=driver.user_id,
                team_id=driver.team_id,
                trigger_id=signing.new_trigger_id(),
                channel_id=choice.channel_id or driver.channel_id,
                message=choice.message,
                response_url=fake.response_url(f"action:{sent.get('action_id')}"),
                is_ephemeral=choice.ephemeral,
                user_name=self.config.user_name,
            )
        return driver.post(body)

    def _confirm(self, confirm: Json) -> bool:
        from bot.console.render import text_of

        title = text_of(confirm.get("title")) or "Are you sure?"
        self.say(f"{title}\n{text_of(confirm.get('text'))}")
        answer = self._read(f"{text_of(confirm.get('confirm')) or 'Confirm'}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    def _alerts(self) -> None:
        """One cycle of the alert worker, as its scheduler would run it, posting to the fake Slack."""
        worker = AlertWorker(
            self._need(self.deps), SlackPublisher(self._need(self.slack_client), clock=self._need(self.deps).clock)
        )
        result = worker.run_cycle()
        before = self._cursor
        self._after()
        if self._cursor == before:
            self.say("The alert worker had nothing to post (no subscription, or nothing stale that was not alerted).")
        self.say(f"(alert cycle: {result.summary()})")

    def _home(self) -> None:
        driver = self._need(self.driver)
        event = {
            "type": "app_home_opened",
            "user": driver.user_id,
            "channel": "D0CONSOLE",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        ack = driver.event(event)
        before = self._cursor
        self._after()
        if ack.status != 200 or self._cursor == before:
            self.say("The App Home is not available in this build.")

    # ---------------------------------------------------------------------------------- answers

    def _show_ack(self, ack: AckResponse) -> None:
        """What the app answered within Slack's 3 seconds: an error, or a message shown to the person."""
        if ack.status == 404:
            raise ConsoleError("The app has nothing for that (HTTP 404).")
        if ack.status != 200:
            raise ConsoleError(f"The app answered HTTP {ack.status}: {ack.body!r}"[:500])
        if ack.refusal is not None:  # Slack would show an error instead of the app's answer
            raise ConsoleError(
                f"Slack refused the app's answer ({ack.refusal.error}): {'; '.join(ack.refusal.messages)}"[:500]
            )
        body = ack.json
        if body.get("text") or body.get("blocks"):
            visible = "#" + self.config.channel_name if body.get("response_type") == "in_channel" else None
            self._show_message(
                header=visible or "only visible to you",
                text=body.get("text"),
                blocks=body.get("blocks"),
                message={"ts": "", "text": body.get("text", ""), "blocks": body.get("blocks") or []},
                ephemeral=visible is None,
            )

    def _after(self, modal_changed: bool = False) -> None:
        """Wait for the app to finish, show what it sent, and run any modal form until it closes."""
        while True:
            changed = self._render_events(self._settle())
            if modal_changed and not changed and self._view is not None:
                self._show_modal(self._view)  # the app did not replace the view the ack gave
                changed = True
            modal_changed = False
            if self._view is None or not changed:
                return
            view = self._view
            modal = render_modal(view, color=self.config.color)
            if not (modal.fields or modal.submit):
                self._view = None  # a loading/result view: shown, then closed
                continue
            try:
                modal_changed = self._form(view, modal)
            except Cancelled as exc:
                self._cancel(view)
                if isinstance(exc, LeftForm):
                    self._pending.append(exc.line)
                return
            except ConsoleError:
                self._view = None  # the submission failed outright: the person starts again
                raise

    def _settle(self) -> list[Event]:
        """Events since the last look, once the app is idle and Slack quiet (bounded by the timeout)."""
        fake = self._need(self.fake)
        cfg = self.config
        deadline = time.monotonic() + cfg.timeout
        seen = len(fake.events(self._cursor))
        changed_at = time.monotonic()
        while True:
            now = time.monotonic()
            count = len(fake.events(self._cursor))
            if count != seen:
                seen, changed_at = count, now
            busy = self._tracking.busy if self._tracking is not None else count == 0
            if not busy and now - changed_at >= cfg.quiet:
                break
            if now >= deadline:
                self.say(f"(the app is still working after {cfg.timeout:g} s; its answer will show later)")
                break
            time.sleep(0.02)
        events = fake.events(self._cursor)
        self._cursor += len(events)
        return events

    def _render_events(self, events: list[Event]) -> bool:
        """Print messages in order and the open modal where it last changed. True when the modal changed."""
        changes = self._modal_changes(events)
        last_modal = max((i for i, changed in enumerate(changes) if changed), default=-1)
        for index, event in enumerate(events):
            kind = event.kind
            if kind in ("modal_open", "modal_push", "modal_update"):
                if changes[index] and event.view is not None:
                    self._view = event.view
                    if index == last_modal:
                        self._show_modal(event.view)
            elif kind == "home":
                view = event.view or {}
                self._show_message(
                    header="App Home", text=None, blocks=view.get("blocks") or [], view=view, empty="(empty)"
                )
            elif kind == "delete":
                self._say_block("message deleted", [])
            elif kind == "response":
                self._show_response(event)
            elif kind == "refused":
                self.say(f"⚠ Slack refused the app's {event.target} ({event.text}); nobody sees it.")
            else:
                self._show_posted(event)
        return last_modal >= 0

    def _modal_changes(self, events: list[Event]) -> list[bool]:
        """Which events change the modal on screen: an open always does, an update only of the open one."""
        open_id = self._view.get("id") if self._view is not None else None
        changes = []
        for event in events:
            view_id = event.view.get("id") if event.view is not None else None
            if event.kind in ("modal_open", "modal_push") and view_id:
                open_id = view_id
                changes.append(True)
            else:
                changes.append(event.kind == "modal_update" and view_id is not None and view_id == open_id)
        return changes

    def _show_posted(self, event: Event) -> None:
        channel = event.channel or ""
        cfg = self.config
        where = f"#{cfg.channel_name}" if channel == cfg.channel_id else f"#{channel}"
        if channel.startswith(("U", "D", "W")):
            where = "direct message"
        header = {
            "message": where,
            "ephemeral": f"{where} · only visible to you",
            "update": f"{where} · edited",
        }.get(event.kind, f"{where} · {event.kind}")
        if event.thread_ts:
            header += " · in thread"
        self._show_message(
            header=header,
            text=event.text,
            blocks=event.blocks,
            message={"ts": event.ts or "", "text": event.text or "", "blocks": event.blocks or []},
            channel_id=channel or None,
            ephemeral=event.kind == "ephemeral",
        )

    def _show_response(self, event: Event) -> None:
        args = event.args
        if _truthy(args.get("delete_original")):
            self._say_block("the message was deleted", [])
            return
        in_channel = args.get("response_type") == "in_channel"
        header = f"#{self.config.channel_name}" if in_channel else "only visible to you"
        if _truthy(args.get("replace_original")):
            header += " · replaces the message above"
        blocks = args.get("blocks")
        self._show_message(
            header=header,
            text=args.get("text"),
            blocks=blocks if isinstance(blocks, list) else None,
            message={"ts": "", "text": args.get("text", ""), "blocks": blocks or []},
            ephemeral=not in_channel,
        )

    def _show_message(
        self,
        *,
        header: str,
        text: str | None,
        blocks: list[Json] | None,
        message: Json | None = None,
        channel_id: str | None = None,
        ephemeral: bool = False,
        view: Json | None = None,
        empty: str = "",
    ) -> None:
        rendered = render_message(text, blocks, start=self._number, color=self.config.color)
        for button in rendered.buttons:
            self._fresh[button.number] = Choice(
                button, message=message, channel_id=channel_id, ephemeral=ephemeral, view=view
            )
        self._number += len(rendered.buttons)
        # Slack shows names for mentions; the console knows its workspace's people and channels.
        self._say_block(self._names(header), self._names(rendered.text or empty).splitlines())

    def _names(self, text: str) -> str:
        cfg = self.config
        text = text.replace(f"@{cfg.user_id}", f"@{cfg.user_name}")
        for channel_id, name in ((cfg.channel_id, cfg.channel_name), *cfg.other_channels):
            text = text.replace(f"#{channel_id}", f"#{name}")
        return text

    def _say_block(self, header: str, lines: list[str]) -> None:
        out = [f"╭─ {header}"] + [f"│ {line}" if line else "│" for line in lines]
        self.say("\n".join(out))

    # ---------------------------------------------------------------------------------- modals

    def _show_modal(self, view: Json) -> RenderedModal:
        modal = render_modal(view, color=self.config.color)
        lines = [f"┏━ {modal.title or 'Modal'}"]
        lines += [f"┃ {line}" if line else "┃" for line in modal.text.splitlines()]
        for f in modal.fields:
            lines.append(f"┃ ▸ {f.label or f.block_id}{'' if f.optional else ' *'}: {_shown(f, f.initial)}")
        if modal.fields or modal.submit:
            lines.append(f"┗━ [{modal.submit or 'Submit'}]  [{modal.close}]")
        else:
            lines.append(f"┗━ [{modal.close}] (closed)")
        self.say("\n".join(lines))
        return modal

    def _form(self, view: Json, modal: RenderedModal) -> bool:
        """Ask for the fields, submit, and follow the ack. Returns True when the open modal changed."""
        typed: dict[str, str] = {}
        todo = list(modal.fields)
        errors: dict[str, str] = {}
        carry, self._carry = self._carry, None
        if carry is not None and carry[0] == view.get("id"):
            # The app rebuilt this form around an answer (e.g. the command picked): keep going from the next
            # field, with what was typed kept where the same input is still there (Slack keeps it too).
            present = {f.block_id for f in modal.fields}
            typed = {k: v for k, v in carry[1].items() if k in present}
            todo = [f for f in modal.fields if f.block_id not in carry[2]] or list(modal.fields)
        while True:
            action = self._ask_fields(modal, todo, typed, errors)
            state = _state(modal.fields, typed)
            if action is not None:
                # A button of the modal, or an input with dispatch_action: the app rebuilds the view.
                if action.get("block_id") in typed:  # an answered input, not a button: continue after it
                    order = [f.block_id for f in modal.fields]
                    upto = order[: order.index(action["block_id"]) + 1] if action["block_id"] in order else []
                    self._carry = (view.get("id"), dict(typed), set(upto) | set(typed))
                self._show_ack(self._click(Choice(_NO_BUTTON, view=view), state, action))
                return True
            ack = self._need(self.driver).submit(view, state)
            self._show_ack(ack)
            action = ack.json.get("response_action")
            if action == "errors":
                errors = {str(k): str(v) for k, v in (ack.json.get("errors") or {}).items()}
                inputs = {f.block_id for f in modal.fields}
                self.say("The form came back with errors; they are shown under each field.")
                stray = {k: v for k, v in errors.items() if k not in inputs}
                if stray:
                    self.say(render_errors(stray, modal.fields))
                todo = [f for f in modal.fields if f.block_id in errors] or list(modal.fields)
                continue
            if action in ("update", "push") and isinstance(ack.json.get("view"), dict):
                new = copy.deepcopy(ack.json["view"])
                if action == "update":
                    new["id"] = view.get("id")
                self._view = new
                return True
            self._view = None  # closed by the ack ("clear" or a plain ack)
            return False

    def _ask_fields(
        self, modal: RenderedModal, todo: list[Field], typed: dict[str, str], errors: dict[str, str]
    ) -> Json | None:
        """Prompt each field in ``todo``; fills ``typed``. Returns the block action to send, if any.

        That is a button of the modal that was pressed, or an input with ``dispatch_action`` whose value
        changed (Slack tells the app at once, and the app usually rebuilds the form around it).
        """
        if modal.buttons:
            self.say("(:press N presses a button of this modal)")
        if not modal.fields:
            return self._ask_confirm(modal)
        queue = list(todo)
        while queue:
            f = queue[0]
            current = typed.get(f.block_id, f.initial)
            self.say(_describe(f, current, errors.get(f.block_id)))
            secret = f.block_id == "password" and bool(self.lines and self.lines.interactive)
            raw = self._read(f"  {f.label or f.block_id} [{_shown(f, current)}] > ", secret=secret)
            word, _, rest = raw.strip().partition(" ")
            command = word.lower() if word.startswith(":") else ""
            if command == ":cancel":
                raise Cancelled
            if command == ":press":
                return self._find_choice(rest.strip(), _modal_choices(modal)).button.action()
            if command == ":submit":
                before = dict(typed)
                invalid = self._assign(modal.fields, rest, typed)
                if invalid is None:
                    continue
                for g in modal.fields:
                    now = typed.get(g.block_id, g.initial)
                    if g.dispatch_action and g not in invalid and now != before.get(g.block_id, g.initial):
                        return {"action_id": g.action_id, "block_id": g.block_id, **field_state(g, now)}
                if not invalid:
                    return None
                queue = invalid  # only what Slack would refuse is asked again; the rest of the line is kept
                continue
            value = "" if command == ":clear" else (current if raw == "" else raw)
            try:
                field_state(f, value, enforce_required=True)
            except ValueError as exc:
                self.say(f"  ✖ {exc}")
                continue
            queue.pop(0)
            if value != f.initial or f.block_id in typed:
                changed = value != typed.get(f.block_id, f.initial)
                typed[f.block_id] = value
                if f.dispatch_action and changed:
                    return {"action_id": f.action_id, "block_id": f.block_id, **field_state(f, value)}
        return None

    def _ask_confirm(self, modal: RenderedModal) -> Json | None:
        """A modal with nothing to fill: press its submit button (y) or close it (n)."""
        submit = modal.submit or "Submit"
        while True:
            answer = self._read(f"  [{submit}] or [{modal.close}]? (y/n) > ").strip()
            word = answer.lower()
            if word in ("y", "yes", ":submit", submit.lower()):
                return None
            if word in ("n", "no", ":cancel", modal.close.lower()):
                raise Cancelled
            if word.startswith(":press"):
                return self._find_choice(word[6:].strip(), _modal_choices(modal)).button.action()
            self.say(f"  y presses [{submit}], n presses [{modal.close}].")

    def _assign(self, fields: list[Field], text: str, typed: dict[str, str]) -> list[Field] | None:
        """Apply ``name=value …`` from a :submit line.

        Returns None (after saying why, with nothing applied) when the line cannot be read (a quote
        left open, a field that does not exist). Otherwise every good value is applied, and the fields
        Slack's client would refuse (a bad date, a required field left empty) are returned, after
        saying why, to be asked for again: nothing typed correctly is lost.
        """
        try:
            pairs = shlex.split(text)
        except ValueError as exc:
            self.say(f"  ✖ {exc}")
            return None
        updates: dict[str, str] = {}
        refused: dict[str, str] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            f = _field_named(fields, name)
            if not sep or f is None:
                names = ", ".join(x.block_id for x in fields)
                hint = _field_suggestion(fields, name) if sep else None
                self.say(f"  ✖ {pair!r}: write field=value, with a field among: {names}{hint or ''}")
                return None
            try:
                field_state(f, value)
            except ValueError as exc:
                refused[f.block_id] = str(exc)
                updates.pop(f.block_id, None)
                continue
            updates[f.block_id] = value
            refused.pop(f.block_id, None)
        typed.update(updates)
        invalid: list[Field] = []
        for f in fields:
            problem = refused.get(f.block_id) or _problem(f, typed.get(f.block_id, f.initial))
            if problem:
                self.say(f"  ✖ {problem}")
                invalid.append(f)
        return invalid

    def _cancel(self, view: Json) -> None:
        """Close the modal as Slack's Cancel does (telling the app only if it asked to be notified)."""
        self._view = None
        self.say("Modal cancelled.")
        if self.fake is not None and isinstance(view.get("id"), str):
            self.fake.close_view(view["id"])  # as in Slack: a later views.update of it answers not_found
        if view.get("notify_on_close"):
            driver = self._need(self.driver)
            driver.post(signing.view_closed_body(view, user_id=driver.user_id, team_id=driver.team_id))
            self._after()

    # ---------------------------------------------------------------------------------- helpers

    def _read(self, prompt: str, *, secret: bool = False) -> str:
        """A line for a modal or a confirmation: Ctrl-C or the end of the script cancels."""
        if self.lines is None:
            raise Cancelled
        try:
            line = self.lines.read(prompt, secret=secret)
        except (EOFError, KeyboardInterrupt):
            self.say("")
            raise Cancelled from None
        word = line.strip().split(" ", 1)[0].lower()
        if not secret and (word.startswith("/") or word in LEAVE_FORM_COMMANDS):
            self.say("  (the form is closed without saving, to run that instead)")
            raise LeftForm(line)
        return line

    def _find_choice(self, token: str, choices: dict[int, Choice]) -> Choice:
        if not choices:
            raise ConsoleError("There is nothing to press: the last answer has no buttons.")
        if not token:
            raise ConsoleError("Press what? Type a number, e.g. :press 1.")
        if token.isdigit():
            found = choices.get(int(token))
            if found is None:
                raise ConsoleError(f"No button {token}: the last answer has {_range(choices)}.")
            return found
        wanted = token.strip("\"'").lower()
        matches = [c for c in choices.values() if c.button.label.lower().startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            labels = {c.button.label.lower(): c.button.label for c in choices.values()}
            close = difflib.get_close_matches(wanted[:40], list(labels), n=1, cutoff=0.6)
            hint = f" Did you mean :press {labels[close[0]]}?" if close else ""
            raise ConsoleError(f"No button starts with {token!r}.{hint}")
        numbers = ", ".join(str(c.button.number) for c in matches)
        raise ConsoleError(f"{len(matches)} buttons start with {token!r} ({numbers}): press one by number.")

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @staticmethod
    def _need(value: Any) -> Any:
        if value is None:
            raise ConsoleError("The console is not started.")
        return value


# -------------------------------------------------------------------------------------- pure helpers

_KIND_NAMES = {
    "external_select": "one value",
    "multi_external_select": "values, comma-separated",
    "plain_text_input": "text",
    "number_input": "number",
    "checkboxes": "checkboxes",
    "radio_buttons": "one choice",
    "static_select": "one choice",
    "multi_static_select": "choices",
    "datepicker": "date YYYY-MM-DD",
    "timepicker": "time HH:MM",
    "datetimepicker": "date and time YYYY-MM-DD HH:MM, UTC",
}


def _describe(f: Field, current: str, error: str | None) -> str:
    """A field's label line: its type, whether it is required, its hint, choices and error."""
    kind = _KIND_NAMES.get(f.kind, f.kind.replace("_", " "))
    if f.element_type == "email_text_input":
        kind = "e-mail"
    if f.kind == "checkboxes" and len(f.options) == 1:
        kind = "checkbox, y/n"
    if f.kind == "number_input" and not f.is_decimal_allowed:
        kind = "whole number"
    parts = [f"• {f.label or f.block_id} ({kind}, {'optional' if f.optional else 'required'})"]
    if f.hint:
        parts.append(f"  {f.hint}")
    if f.placeholder and not current:
        parts.append(f"  ({f.placeholder})")
    if f.options and not (f.kind == "checkboxes" and len(f.options) == 1):
        parts.append("  choices: " + "  ".join(f"{i}) {label}" for i, (label, _) in enumerate(f.options, start=1)))
    if error:
        parts.append(f"  ✖ {error}")
    return "\n".join(parts)


def _shown(f: Field, current: str) -> str:
    """The current value as it is shown in the prompt's brackets."""
    if f.kind == "checkboxes" and len(f.options) == 1:
        return "y" if current.strip() in ("1", "y", "yes", "x", f.options[0][1]) else "n"
    if f.block_id == "password" and current:
        return "*" * 8
    if f.options and current:
        labels = dict((value, label) for label, value in f.options)
        numbered = [label for label, _ in f.options]
        shown = []
        for token in (t.strip() for t in current.split(",")):
            if token.isdigit() and 1 <= int(token) <= len(numbered):
                shown.append(numbered[int(token) - 1])
            else:
                shown.append(labels.get(token, token))
        return ", ".join(shown)
    return current


def _problem(f: Field, value: str) -> str | None:
    """Why Slack's client would refuse this value (a required field left empty...), or None."""
    try:
        field_state(f, value, enforce_required=True)
    except ValueError as exc:
        return str(exc)
    return None


def _field_named(fields: list[Field], name: str) -> Field | None:
    """A field by block id, action id or label, or by the name the slash command gives it
    (`business`, `visited`, `users`: `bot.slack.grammar.EDIT_KEYS`, the one table of those names)."""
    wanted = name.strip().lower()
    alias = EDIT_KEYS.get(wanted.replace("_", "-"))
    for f in fields:
        label = f.label.lower()
        if wanted in (f.block_id.lower(), f.action_id.lower(), label, label.replace(" ", "_")):
            return f
    for f in fields:
        if alias is not None and f.block_id == alias:
            return f
    return None


def _field_suggestion(fields: list[Field], name: str) -> str | None:
    """` Did you mean name?` for a mistyped field name."""
    known: dict[str, str] = {}
    for f in fields:
        known.setdefault(f.block_id.lower(), f.block_id)
        if f.label:
            known.setdefault(f.label.lower().replace(" ", "_"), f.label.lower().replace(" ", "_"))
    block_ids = {f.block_id for f in fields}
    known.update({k: k for k, v in EDIT_KEYS.items() if v in block_ids})
    match = difflib.get_close_matches(name.strip().lower()[:40], list(known), n=1, cutoff=0.6)
    return f". Did you mean {known[match[0]]}?" if match else None


def _console_word(text: str) -> str:
    return text.strip().split(" ", 1)[0].lower()


def _state(fields: list[Field], typed: dict[str, str]) -> Json:
    """The ``view.state.values`` Slack sends: untouched fields as initially, typed ones as typed."""
    return {
        f.block_id: {f.action_id: field_state(f, typed[f.block_id]) if f.block_id in typed else initial_state(f)}
        for f in fields
    }


_NO_BUTTON = Button(number=0, label="", action_id="", block_id=None)


def _modal_choices(modal: RenderedModal) -> dict[int, Choice]:
    return {b.number: Choice(b) for b in modal.buttons}


def _range(choices: dict[int, Choice]) -> str:
    numbers = sorted(choices)
    return f"{numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class ConsoleClock:
    """The console's wall clock: real time plus how far `:clock +9h` moved it (forward only), shared by the
    app, the alert worker and the sandbox, so quiet hours, escalation and summaries can be tried locally."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def move(self, text: str) -> str:
        """`:clock` says the time; `:clock +9h` moves it forward."""
        if text:
            if not text.startswith("+"):
                return f"The clock only moves forward: {text!r} should look like +30m, +9h or +1d."
            delta = duration(text[1:].strip(), bare_minutes=True)
            if delta is None or delta <= timedelta(0):
                return f"{text!r} is not a duration: use +30m, +9h, +1d or +1h30m."
            if delta > timedelta(days=365):
                return "That is more than a year: move the clock at most +365d at a time."
            with self._lock:
                self.offset += delta
        now = self()
        moved = f" (moved {duration_text(int(self.offset.total_seconds() // 60))} ahead)" if self.offset else ""
        return f"The app's clock: {now:%a %Y-%m-%d %H:%M} UTC{moved}. :alerts runs a cycle at this time."
