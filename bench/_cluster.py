"""The deployment of README "Running at scale" on one machine, for `cluster_load.py` and `cluster_faults.py`
(imported as `_cluster`; running it on its own does nothing).

- a real PostgreSQL (`DATABASE_URL`, migrated) and a real `redis-server` (`REDIS_URL`), started by
  `tests/helpers/servers.py` on free loopback ports with temporary data directories;
- the sandbox Nexudus in its own process with Nexudus' real limits (100 ms, 120 a minute, 60 writes a minute),
  writing every request it answers (arrival time, method, path, status, and each write's body) to a JSON-lines
  file: the truth the benches compare what users were told with;
- the strict fake Slack (`bot/console/fake_slack.py`) in this process, which the app reaches through
  `SLACK_API_URL` as the integration tests do;
- `python -m bot run --port P --workers 4` (the Procfile's web line with `REDIS_URL`) and `python -m bot alerts
  --interval S` processes, all with the same environment; each process's output goes to a log file;
- `Users`: Slack users sending signed requests to the web port and waiting for what Slack would show them.

Every process is stopped on exit, also on Ctrl-C or an exception (`Cluster` is a context manager).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from _common import ADMIN, ROOT, SIGNING_SECRET

from bot.console import signing
from bot.console.fake_slack import TEAM_ID, Call, FakeSlack
from bot.console.render import field_state, initial_state, render_modal
from bot.slack import ids
from tests.helpers.servers import PostgresServer, RedisServer, child_pids, free_port

# Slack does not reset connections: the fake's listen backlog (socketserver's default is 5) must not be what
# fails when four web workers and two alert workers call it at once.
ThreadingHTTPServer.request_queue_size = 256

FIRST_ID = 1_000_001  # the sandbox's first chatroom
ACK_TIMEOUT = 3.0  # Slack shows the user an error when the ack takes longer
OUTCOME_TIMEOUT = float(
    os.environ.get("BENCH_OUTCOME_TIMEOUT", "120")
)  # how long a user waits for the answer to one request
THROTTLED = (409, 429)
PLACEHOLDER = ":hourglass_flowing_sand:"
ERROR_MARKS = (":warning:", ":hourglass:", ":lock:", ":mag:", ":x:", ":twisted_rightwards_arrows:")

SANDBOX_CHILD = r"""
import json, signal, sys, threading, time
from bot.sandbox.server import SandboxConfig, SandboxServer

db, log_path, chatrooms = sys.argv[1], sys.argv[2], int(sys.argv[3])
server = SandboxServer(db, 0, SandboxConfig(throttle=True), chatrooms=chatrooms)  # Nexudus' real limits
lock = threading.Lock()
out = open(log_path, "a", buffering=1, encoding="utf-8")
handle = server.app.handle

def logged(request):
    arrived = time.time()
    response = handle(request)
    entry = {"t": arrived, "m": request.method, "p": request.target.split("?")[0].lower(), "s": response.status}
    if request.method in ("POST", "PUT", "DELETE") and not entry["p"].endswith("/token"):
        entry["b"] = request.body.decode("utf-8", "replace")[:4000]
        entry["r"] = response.body.decode("utf-8", "replace")[:1000]
    with lock:
        out.write(json.dumps(entry) + "\n")
    return response

server.app.handle = logged
server.start()
print("URL", server.url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
signal.signal(signal.SIGINT, lambda *a: stop.set())
while not stop.wait(0.5):
    pass
server.stop()
out.close()
"""


class BenchSlack(FakeSlack):
    """The strict fake Slack, with what it records indexed for the users waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self._index: dict[tuple[str, str], list[Call]] = defaultdict(list)
        self._indexed = threading.Condition()

    def _record(self, call: Call, event: Any = None) -> None:
        super()._record(call, event)
        key = None
        if call.method == "response_url":
            key = ("r", str(call.target))
        elif call.method == "views.open":
            key = ("o", str(call.args.get("trigger_id")))
        elif call.method == "views.update":
            key = ("u", str(call.args.get("view_id")))
        if key is not None:
            with self._indexed:
                self._index[key].append(call)
                self._indexed.notify_all()

    def seen(self, key: tuple[str, str]) -> int:
        with self._indexed:
            return len(self._index[key])

    def wait(self, key: tuple[str, str], match: Callable[[Call], bool], timeout: float, start: int = 0) -> Call | None:
        """The first call recorded under `key` (from the `start`-th) that `match`es, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._indexed:
            while True:
                for call in self._index[key][start:]:
                    if match(call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._indexed.wait(min(left, 1.0))


def text_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def verdict(text: str) -> str:
    """What a user understands from an answer to a write: done, failed (nothing changed) or unknown."""
    if "may or may not" in text:
        return "unknown"
    if "✅" in text:
        return "done"
    return "failed"


# ------------------------------------------------------------------------------------------- the cluster


class Cluster:
    """PostgreSQL, Redis, the sandbox, the fake Slack, the web workers and the alert workers."""

    def __init__(
        self,
        *,
        web_workers: int = 4,
        alert_workers: int = 2,
        interval: float = 10,
        chatrooms: int = 200,
        redis_appendonly: bool = False,
    ):
        self.redis_appendonly = redis_appendonly
        self.web_workers = web_workers
        self.alert_count = alert_workers
        self.interval = interval
        self.chatrooms = chatrooms
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.sandbox_log = self.tmp / "sandbox.jsonl"
        self.sandbox_db = self.tmp / "sandbox.sqlite"
        self.port = free_port()
        self.web_url = f"http://127.0.0.1:{self.port}"
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.slack = BenchSlack()
        self.sandbox: subprocess.Popen[str] | None = None
        self.sandbox_url = ""
        self.web: subprocess.Popen[bytes] | None = None
        self.alerts: list[subprocess.Popen[bytes]] = []
        self.database_url = ""
        self.store_key = ""
        self._opened: list[Any] = []

    # ---------------------------------------------------------------------------------- start / stop

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"(kept: {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self) -> None:
        from cryptography.fernet import Fernet

        from bot.store.postgres import migrate

        self.store_key = Fernet.generate_key().decode()
        self.postgres = PostgresServer().start()
        self.database_url = self.postgres.create_database("bench")
        migrate(self.database_url)  # `python -m bot migrate`, run once before the processes start
        self.redis = RedisServer(appendonly=self.redis_appendonly).start()
        self.slack.start()
        self._start_sandbox()
        self._start_web()
        for n in range(self.alert_count):
            self.alerts.append(self._start_alerts(n))

    def _start_sandbox(self) -> None:
        args = [sys.executable, "-c", SANDBOX_CHILD, str(self.sandbox_db), str(self.sandbox_log), str(self.chatrooms)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.sandbox = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert self.sandbox.stdout is not None
        line = self.sandbox.stdout.readline()
        if not line.startswith("URL "):
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.sandbox_url = line.split()[1]
        threading.Thread(target=lambda: [None for _ in self.sandbox.stdout or []], daemon=True).start()

    def env(self) -> dict[str, str]:
        assert self.redis is not None
        drop = {"REDIS_URL", "DATABASE_URL", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "SLACK_APP_TOKEN"}
        drop |= {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "METRICS_PORT"}
        base = {k: v for k, v in os.environ.items() if k not in drop}
        return base | {
            "PYTHONPATH": str(ROOT),
            "STORE_PATH": str(self.tmp / "var" / "store.sqlite"),
            "STORE_KEY": self.store_key,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": self.slack.api_url,
            "NEXUDUS_BASE_URL": self.sandbox_url,
            "LOG_LEVEL": "INFO",
            "TMPDIR": str(self.tmp),
        }

    def _log(self, name: str) -> Any:
        handle = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        self._opened.append(handle)
        return handle

    def _start_web(self) -> None:
        args = [sys.executable, "-m", "bot", "run", "--port", str(self.port), "--workers", str(self.web_workers)]
        out = self._log("web")
        self.web = subprocess.Popen(args, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        self.wait_web(timeout=120)

    def wait_web(self, timeout: float) -> float:
        """Seconds until the web port answers /healthz with 200 and every worker runs."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.web is not None
            if self.web.poll() is not None:
                raise RuntimeError(f"the web process exited ({self.web.returncode}); see {self.logs / 'web.log'}")
            if len(self.web_pids()) == self.web_workers and self.healthy():
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"the web workers did not answer /healthz within {timeout:.0f} s")

    def healthy(self) -> bool:
        try:
            return requests.get(self.web_url + "/healthz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def web_pids(self) -> list[str]:
        assert self.web is not None
        return child_pids(self.web.pid)

    def _start_alerts(self, n: int) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "bot", "alerts", "--interval", f"{self.interval:g}"]
        out = self._log(f"alerts-{n}")
        return subprocess.Popen(args, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        procs = [p for p in [self.web, *self.alerts] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.sandbox is not None and self.sandbox.poll() is None:
            self.sandbox.terminate()
            try:
                self.sandbox.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait(timeout=10)
        self.slack.stop()
        for server in (self.redis, self.postgres):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        for handle in self._opened:
            handle.close()

    # ---------------------------------------------------------------------------------------- set-up

    def _deps(self) -> Any:
        """The app's dependencies as every process builds them (same database, Redis and key)."""
        from bot.settings import Settings
        from bot.wiring import build_deps

        env = self.env()
        settings = Settings(
            nexudus_base_url=self.sandbox_url,
            store_key=self.store_key,
            database_url=self.database_url,
            redis_url=env["REDIS_URL"],
            store_path=Path(env["STORE_PATH"]),
            slack_api_url=self.slack.api_url,
            slack_bot_token="xoxb-bench",
            _env_file=None,  # type: ignore[call-arg]
        )
        return build_deps(settings)

    def login(self, users: list[str]) -> None:
        """Each Slack user logs in with the ONE shared Nexudus account (stored as the login modal would)."""
        deps = self._deps()
        try:
            for user in users:
                deps.services.login(TEAM_ID, user, *ADMIN)
        finally:
            deps.store.close()

    def prepare(self, users: list[str], run: str, subscriptions: tuple[tuple[str, str], ...]) -> Users:
        """Log every user in (one Nexudus account), subscribe the channels (as the first user); the users."""
        self.login(users)
        people = Users(self, run)
        for channel, options in subscriptions:
            people.subscribe(users[0], channel, options)
        return people

    def alert_records(self) -> dict[tuple[str, str, int], int | None]:
        """(channel, subscription, chatroom) → the last agent visit its alert record was alerted on."""
        deps = self._deps()
        try:
            found = {}
            for sub in deps.store.subscriptions():
                for rec in deps.store.alerts_for(sub.id):
                    found[(sub.channel_id, sub.id, rec.chatroom_id)] = _instant(rec.last_agent_visit)
            return found
        finally:
            deps.store.close()

    # ---------------------------------------------------------------------------------------- faults

    def kill_web_worker(self) -> str:
        victim = self.web_pids()[0]
        os.kill(int(victim), signal.SIGKILL)
        return victim

    def kill_alert_worker_mid_cycle(self, timeout: float = 90.0) -> str:
        """kill -9 the alert worker running a cycle, right after the other says that cycle is not its own."""
        logs = [self.logs / f"alerts-{n}.log" for n in range(len(self.alerts))]
        seen = [_count_lines(p, "run by another alert worker") for p in logs]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n, path in enumerate(logs):
                if _count_lines(path, "run by another alert worker") > seen[n]:
                    victim = next(i for i in range(len(logs)) if i != n)
                    time.sleep(0.5)  # into the cycle: its scans and posts are under way
                    proc = self.alerts[victim]
                    proc.kill()
                    proc.wait(timeout=10)
                    return f"alert worker {victim} (pid {proc.pid}), 0.5 s into a cycle"
            time.sleep(0.1)
        raise RuntimeError("no alert cycle was seen to start")

    def restart_alert_worker(self, n: int) -> None:
        self.alerts[n] = self._start_alerts(n)

    def dead_alert_workers(self) -> list[int]:
        return [n for n, p in enumerate(self.alerts) if p.poll() is not None]

    # --------------------------------------------------------------------------------------- reading

    def sandbox_entries(self) -> list[dict[str, Any]]:
        with self.sandbox_log.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    def log_problems(self) -> Counter[str]:
        """Tracebacks and ERROR lines in the processes' logs, by file."""
        found: Counter[str] = Counter()
        for path in self.logs.glob("*.log"):
            text = path.read_text(errors="replace")
            found[path.stem] = text.count("Traceback (most recent call last)") + len(re.findall(r"\bERROR\b", text))
        return found


def _count_lines(path: Path, text: str) -> int:
    try:
        return path.read_text(errors="replace").count(text)
    except OSError:
        return 0


# ------------------------------------------------------------------------------------------- Slack users


@dataclass
class Told:
    """One thing a user asked, and what Slack showed them in the end."""

    kind: str
    user: str
    started: float
    marker: str | None = None
    room: int | None = None
    ended: float = 0.0
    acks: list[int] = field(default_factory=list)  # HTTP status of each ack (0: none within Slack's 3 s)
    outcome: str = "silent"  # reads: answered | error; writes: done | failed | unknown; silent; no ack
    text: str = ""


class Users:
    """Slack users of one workspace, each sending signed requests to the web port as Slack would."""

    def __init__(self, cluster: Cluster, run: str, channel: str = "C0BENCH01") -> None:
        self.cluster = cluster
        self.slack = cluster.slack
        self.url = cluster.web_url + "/slack/events"
        self.channel = channel
        self.run = run
        self._numbers = itertools.count(1)
        self._markers = itertools.count(1)
        self._lock = threading.Lock()
        self.acks: list[int] = []
        self.told: list[Told] = []

    def next_marker(self) -> str:
        """A value no other write of the run carries (a name), to find the write in the sandbox's log."""
        with self._lock:
            return f"bench-{self.run}-{next(self._markers)}"

    def act(self, user: str, kind: str, rng: random.Random) -> Told:
        """One request of `kind` on a random chatroom (list, show, edit (form), edit name:, run RENAME, create)."""
        room = FIRST_ID + rng.randrange(self.cluster.chatrooms)
        if kind == "list":
            return self.slash(user, f"list page:{rng.randint(1, 5)}", kind, write=False)
        if kind == "show":
            return self.slash(user, f"show {room}", kind, write=False)
        if kind == "edit (form)":
            return self.edit_form(user, room, self.next_marker())
        if kind == "run RENAME":
            return self.run_rename(user, room, self.next_marker())
        if kind == "create":
            return self.create(user, 9001, self.next_marker())
        if kind == "edit name:":
            marker = self.next_marker()
            return self.slash(user, f"edit {room} name:{marker}", kind, write=True, marker=marker, room=room)
        raise ValueError(f"unknown request kind {kind!r}")

    @contextlib.contextmanager
    def load(
        self,
        users: list[str],
        mix: tuple[tuple[str, int], ...],
        until: float,
        seed: int,
        own: Callable[[str, str, random.Random], Told | None] = lambda user, kind, rng: None,
    ) -> Iterator[None]:
        """Every user sends requests drawn from `mix` (kind, weight), one at a time, until `until`; what they
        were told is in `self.told`. `own` answers the kinds `act` does not know. A generator: the load runs
        while the caller's `with` block does (and the block ends when every user has had their last answer)."""

        def work(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            while time.time() < until:
                kind = rng.choices([k for k, _ in mix], [w for _, w in mix])[0]
                told = own(users[n], kind, rng) or self.act(users[n], kind, rng)
                with self._lock:
                    self.told.append(told)

        with deadline_threads(len(users), work):
            yield

    def post(self, body: str) -> tuple[int, Any]:
        headers = signing.signed_headers(body, SIGNING_SECRET) | {"Connection": "close"}
        try:
            answer = requests.post(self.url, data=body.encode(), headers=headers, timeout=ACK_TIMEOUT)
        except requests.RequestException as exc:
            status, payload = 0, type(exc).__name__
        else:
            status = answer.status_code
            try:
                payload = answer.json() if answer.content else None
            except ValueError:
                payload = answer.text
        with self._lock:
            self.acks.append(status)
        return status, payload

    def _command(self, told: Told, text: str) -> tuple[str, str, Any]:
        name = f"request-{next(self._numbers)}"  # plain: the fake keys response_urls by their quoted name
        trigger = signing.new_trigger_id()
        body = signing.slash_command_body(
            "/chatrooms", text, told.user, TEAM_ID, self.channel, self.slack.response_url(name), trigger
        )
        status, ack = self.post(body)
        told.acks.append(status)
        return name, trigger, ack

    def subscribe(self, user: str, channel: str, options: str) -> str:
        told = Told("subscribe", user, time.time())
        _, _, ack = self._command(told, f"alerts subscribe <#{channel}|{channel.lower()}> {options}")
        if told.acks[-1] != 200:
            raise RuntimeError(f"alerts subscribe was not acknowledged: {ack}")
        return channel

    # ------------------------------------------------------------------------------- slash commands

    def slash(
        self, user: str, text: str, kind: str, *, write: bool, marker: str | None = None, room: int | None = None
    ) -> Told:
        """A command answered through its response_url (list, show, `edit ID key:value`)."""
        told = Told(kind, user, time.time(), marker, room)
        name, _, ack = self._command(told, text)
        if told.acks[-1] != 200:
            return self._done(told, "no ack", str(ack))
        said = text_of(ack) if ack else ""
        if said and PLACEHOLDER not in said:  # answered (refused) in the ack itself
            return self._done(told, "failed" if write else "error", said)
        final = self.slack.wait(("r", name), _final, OUTCOME_TIMEOUT)
        if final is None:
            return self._done(told, "silent", "")
        said = text_of(final.args)
        if write:
            return self._done(told, verdict(said), said)
        return self._done(told, "error" if _is_error(final.args) else "answered", said)

    # ------------------------------------------------------------------------------------- modals

    def edit_form(self, user: str, room: int, marker: str) -> Told:
        def fill(form: dict[str, Any]) -> dict[str, Any]:
            state = prefilled_state(form)
            state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": marker}}
            return state

        return self._modal(user, f"edit {room}", "edit (form)", ids.EDIT_MODAL, fill, marker, room)

    def run_rename(self, user: str, room: int, marker: str) -> Told:
        def fill(form: dict[str, Any]) -> dict[str, Any]:
            modal = render_modal(form)
            return {
                f.block_id: {f.action_id: field_state(f, marker) if f.label == "New name" else initial_state(f)}
                for f in modal.fields
            }

        return self._modal(user, f"run RENAME {room}", "run RENAME", ids.RUN_MODAL, fill, marker, room)

    def create(self, user: str, business: int, marker: str) -> Told:
        return self._modal(
            user, f"create business:{business} name:{marker}", "create", ids.CREATE_MODAL, prefilled_state, marker, None
        )

    def _modal(
        self,
        user: str,
        text: str,
        kind: str,
        callback: str,
        fill: Callable[[dict[str, Any]], dict[str, Any]],
        marker: str,
        room: int | None,
    ) -> Told:
        told = Told(kind, user, time.time(), marker, room)
        name, trigger, ack = self._command(told, text)
        if told.acks[-1] != 200:
            return self._done(told, "no ack", str(ack))
        if ack:
            return self._done(told, "failed", text_of(ack))  # refused in the ack (e.g. too many pending)
        opened = self.slack.wait(("o", trigger), lambda c: True, OUTCOME_TIMEOUT)
        if opened is None or not opened.response.get("ok"):
            told_instead = self.slack.wait(("r", name), _final, 5)
            return self._done(told, "failed", text_of(told_instead.args) if told_instead else "no modal opened")
        form = opened.response["view"]
        view_id = str(form["id"])
        if form.get("callback_id") != callback:  # the loading modal: the form replaces it
            update = self.slack.wait(
                ("u", view_id), lambda c: _view(c).get("callback_id") == callback or _is_outcome(c), OUTCOME_TIMEOUT
            )
            if update is None:
                return self._done(told, "silent", "the form never replaced the loading modal")
            form = _view(update)
            if form.get("callback_id") != callback:
                return self._done(told, "failed", text_of(form))
        start = self.slack.seen(("u", view_id))
        body = signing.view_submission_body(
            form, fill(form), user_id=user, team_id=TEAM_ID, trigger_id=signing.new_trigger_id()
        )
        status, ack = self.post(body)
        told.acks.append(status)
        if status == 200 and isinstance(ack, dict) and ack.get("response_action") == "errors":
            return self._done(told, "failed", text_of(ack))
        final = self.slack.wait(("u", view_id), _is_outcome, OUTCOME_TIMEOUT if status == 200 else 15, start)
        private = self.slack.wait(("r", name), _final, 2 if final is not None else 5)
        said = " ".join(text_of(x) for x in (_view(final) if final else None, private.args if private else None) if x)
        if final is None and private is None:
            return self._done(told, "silent" if status == 200 else "no ack", str(ack))
        return self._done(told, verdict(said), said)

    @staticmethod
    def _done(told: Told, outcome: str, text: str) -> Told:
        told.outcome, told.text, told.ended = outcome, text[:600], time.time()
        return told


def prefilled_state(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends when the user submits a form without touching it."""
    modal = render_modal(view)
    return {f.block_id: {f.action_id: initial_state(f)} for f in modal.fields}


def _view(call: Call | None) -> dict[str, Any]:
    if call is None:
        return {}
    view = call.response.get("view") or call.args.get("view") or {}
    return view if isinstance(view, dict) else {}


_OUTCOME_TITLES = {
    "Saved",
    "Command run",
    "Chatroom created",
    "Something's wrong",
    "Nothing changed",
    "Not saved",  # told by another process after the one doing it died (bot/inflight.py)
    "Outcome unknown",
    "Not finished",
}


def _is_outcome(call: Call) -> bool:
    """A modal update that ends a submission: its outcome, or the form again with what went wrong."""
    view = _view(call)
    title = (view.get("title") or {}).get("text")
    return title in _OUTCOME_TITLES or (bool(view.get("submit")) and bool(view.get("callback_id")))


def _final(call: Call) -> bool:
    return call.error is None and PLACEHOLDER not in str(call.args.get("text") or "")


def _is_error(args: dict[str, Any]) -> bool:
    return str(args.get("text") or "").startswith(ERROR_MARKS)


# ------------------------------------------------------------------------------ truth, from the sandbox


def api_entries(entries: list[dict[str, Any]], since: float = 0.0, until: float = float("inf")) -> list[dict[str, Any]]:
    """The sandbox's answers to chatroom API requests (not `/api/token`) that arrived in [since, until)."""
    return [e for e in entries if not e["p"].endswith("/token") and since <= e["t"] < until]


def applied_writes(entries: list[dict[str, Any]], marker: str) -> int:
    """How many times a write carrying `marker` was applied by the sandbox (2xx, and a command that ran)."""
    count, quoted = 0, json.dumps(marker)  # as it appears in the JSON body (so `…-1` is not found in `…-12`)
    for e in entries:
        if "b" not in e or quoted not in e["b"] or not 200 <= e["s"] < 300:
            continue
        if e["p"].endswith(("/runcommand", "/runacommand")) and '"WasSuccessful": true' not in e["r"]:
            continue
        count += 1
    return count


def closest_arrivals(entries: list[dict[str, Any]], limit: float = 0.1) -> str:
    """The shortest time between two chatroom API requests reaching the sandbox, and how many came within
    `limit` s of the one before (Nexudus' minimum interval: each of those was refused)."""
    times = sorted(e["t"] for e in api_entries(entries))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if not gaps:
        return "n/a"
    return f"{min(gaps) * 1000:.0f} ms / {sum(1 for g in gaps if g < limit)}"


DIGEST_ROOM = re.compile(r"^alert\.room\.(\d+)$")


def digest_rows(slack: FakeSlack) -> Counter[tuple[str, int]]:
    """(subscription, chatroom) → how many digests posted (chat.postMessage) showed that chatroom waiting."""
    from bot.slack.publisher import DIGEST_EVENT

    posted: Counter[tuple[str, int]] = Counter()
    for call in slack.calls("chat.postMessage"):
        meta = call.args.get("metadata")
        if call.error or not isinstance(meta, dict) or meta.get("event_type") != DIGEST_EVENT:
            continue
        sub = str((meta.get("event_payload") or {}).get("subscription"))
        for block in call.args.get("blocks") or []:
            found = DIGEST_ROOM.match(str(block.get("block_id") or ""))
            if found and "~" not in str((block.get("text") or {}).get("text", ""))[:2]:
                posted[(sub, int(found.group(1)))] += 1
    return posted


def _instant(value: Any) -> int | None:
    if value in (None, ""):
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def seeded_visits(path: Path, *, active: bool | None = None) -> dict[int, int | None]:
    """Each chatroom's last agent visit as the sandbox holds it now (read before the load starts); `active`:
    only the open (True) or closed (False) ones."""
    from bot.sandbox.db import SandboxDB, SearchQuery

    db = SandboxDB(path)
    try:
        rows, _ = db.search(SearchQuery(page=1, size=100_000, active=active))
        return {row.id: _instant(row.last_agent_visit) for row in rows}
    finally:
        db.close()


def waits_per_room(entries: list[dict[str, Any]], seeded: dict[int, int | None]) -> dict[int, int]:
    """Per chatroom, how many distinct waits it had during the run: its seeded last visit and every other
    LastAgentVisit an applied write gave it (so, at most, how many digests may show it for one subscription)."""
    visits: dict[int, set[int | None]] = {room: {seen} for room, seen in seeded.items()}
    for e in entries:
        if e["m"] != "PUT" or not 200 <= e["s"] < 300 or "b" not in e:
            continue
        try:
            body = json.loads(e["b"])
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("Id"), int):
            visits.setdefault(body["Id"], set()).add(_instant(body.get("LastAgentVisit")))
    return {room: len(seen) for room, seen in visits.items()}


def repeated_digests(posted: Counter[tuple[str, int]], waits: dict[int, int]) -> int:
    """Rows posted more often for a (subscription, chatroom) than that chatroom had waits: repeats."""
    return sum(max(0, n - waits.get(room, 1)) for (_, room), n in posted.items())


@contextlib.contextmanager
def deadline_threads(count: int, work: Callable[[int], None]) -> Iterator[list[threading.Thread]]:
    """`count` threads running `work(n)`; joined on exit (each `work` must end by itself)."""
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield threads
    finally:
        for thread in threads:
            thread.join(timeout=OUTCOME_TIMEOUT * 3)


if __name__ == "__main__":
    # `make bench` runs every bench/*.py; this one is a library.
    pass
