"""Nexudus failing at random (500s, timeouts, dropped connections, 409 throttling) while users edit and run
commands through the app and the alert worker runs: no field is cleared, nothing is done twice, and every
failure is told."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from conftest import SIGNING_SECRET, FakeClock, RunningApp
from cryptography.fernet import Fernet
from reliability_helpers import all_text, prefilled_state, text_input, typed_state, wait_quiet
from slack_sdk import WebClient

import bot.sandbox.server as sandbox_server
from bot.alerts import AlertWorker
from bot.console.fake_slack import Call, FakeSlack
from bot.sandbox.server import FAULT_KINDS, Request, Response, SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack import ids
from bot.slack.publisher import SlackPublisher
from bot.store import Subscription

ROOMS = list(range(1_000_001, 1_000_021))
FAULT_RATE = 0.3
KEPT = ("business_id", "active", "last_agent_visit", "system_id", "users", "created_on", "unique_id")


@pytest.fixture
def settings(sandbox: SandboxServer, fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    """The shared settings with a short read timeout, so an injected 1.5 s stall is a timeout."""
    return Settings(
        nexudus_base_url=sandbox.url,
        slack_api_url=fake_slack.api_url,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        store_path=tmp_path / "store.sqlite",
        store_key=Fernet.generate_key().decode(),
        nexudus_pacing=False,
        nexudus_retries=2,
        nexudus_backoff=0,
        nexudus_read_timeout=1,
        nexudus_max_retry_after=0.2,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def injected(sandbox: SandboxServer) -> Iterator[Counter[str]]:
    """Counts the faults the sandbox injects."""
    counts: Counter[str] = Counter()
    draw = sandbox.app.faults.draw

    def counting(config: Any) -> str | None:
        kind = draw(config)
        if kind:
            counts[kind] += 1
        return kind

    sandbox.app.faults.draw = counting  # type: ignore[method-assign]
    sandbox.config.fault_timeout = 1.5
    yield counts
    sandbox.config.fault_rate = 0


def _terminal(app: RunningApp, view_id: str, after: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The views.update calls for this view since call number `after` (the ack's 'Saving…' is not a call);
    waits for the first, then for the app to go quiet, so a second one would be seen too."""
    while True:
        calls = [c for c in app.fake.calls("views.update")[after:] if c.args.get("view_id") == view_id]
        if calls:
            wait_quiet(app.fake, idle=0.15)
            calls = [c for c in app.fake.calls("views.update")[after:] if c.args.get("view_id") == view_id]
            assert all(c.error is None for c in calls), [c.error for c in calls]
            return [c.args["view"] for c in calls]
        app.fake.wait_for("views.update", count=len(app.fake.calls("views.update")) + 1, timeout=timeout)


def _open_form(app: RunningApp, room: int) -> dict[str, Any]:
    after = len(app.fake.calls("views.update"))
    app.slack.command(f"edit {room}")
    app.fake.wait_for("views.update", count=after + 1, timeout=30)
    return app.fake.calls("views.update")[after].response["view"]


@pytest.mark.integration
def test_edits_under_faults_lose_nothing_and_every_outcome_is_told(
    logged_in: RunningApp, injected: Counter[str]
) -> None:
    app = logged_in
    db = app.sandbox.db
    before = {room: db.get(room) for room in ROOMS}
    forms = {room: _open_form(app, room) for room in ROOMS}
    wait_quiet(app.fake, idle=0.2)

    app.sandbox.config.fault_seed = 7
    app.sandbox.config.fault_rate = FAULT_RATE
    outcomes: Counter[str] = Counter()
    told_failed: list[int] = []
    for room, form in forms.items():
        values = prefilled_state(form)
        values[ids.F_NAME] = {ids.F_NAME: text_input(f"Edited under faults {room}")}
        after = len(app.fake.calls("views.update"))
        ack = app.slack.submit(form, values)
        assert ack.status == 200 and ack.json["response_action"] == "update"
        (shown,) = _terminal(app, form["id"], after)  # exactly one outcome per submission
        title = shown["title"]["text"]
        if title == "Saved":
            outcomes["saved"] += 1
            row = db.get(room)
            assert row is not None and row.name == f"Edited under faults {room}"
        else:
            assert title == "Something's wrong", all_text(shown)[:400]
            assert "Nexudus" in all_text(shown)  # says what failed, not a stack trace
            outcomes["failure told"] += 1
            told_failed.append(room)
    app.sandbox.config.fault_rate = 0

    assert sum(outcomes.values()) == len(ROOMS)
    assert sum(injected.values()) >= 5, injected
    assert outcomes["saved"] >= 1 and outcomes["failure told"] >= 1, (outcomes, injected)
    # A failed edit either did not happen or (a PUT that timed out after Nexudus applied it) happened whole.
    applied_anyway = [r for r in told_failed if (row := db.get(r)) and row.name == f"Edited under faults {r}"]
    print(f"edits: {dict(outcomes)}, faults injected {dict(injected)}, applied despite a failure {applied_anyway}")
    # Every record: the name is the old or the new one, and no other field was touched.
    for room, old in before.items():
        row = db.get(room)
        assert row is not None and old is not None
        assert row.name in (old.name, f"Edited under faults {room}")
        for name in KEPT:
            assert getattr(row, name) == getattr(old, name), (room, name)

    # The user tries the failed ones again, with Nexudus healthy: everything ends as asked.
    for room in told_failed:
        form = _open_form(app, room)
        values = prefilled_state(form)
        values[ids.F_NAME] = {ids.F_NAME: text_input(f"Edited under faults {room}")}
        after = len(app.fake.calls("views.update"))
        app.slack.submit(form, values)
        (shown,) = _terminal(app, form["id"], after)
        title = shown["title"]["text"]
        assert title in ("Saved", "Nothing changed"), title
        assert (title == "Nothing changed") == (room in applied_anyway)
    for room, old in before.items():
        row = db.get(room)
        assert row is not None and old is not None and row.name == f"Edited under faults {room}"
        assert all(getattr(row, name) == getattr(old, name) for name in KEPT)


@pytest.mark.integration
def test_alert_cycles_under_faults_alert_each_room_once_and_report_failures(
    logged_in: RunningApp, injected: Counter[str], clock: FakeClock
) -> None:
    app = logged_in
    store = app.deps.store
    sub = store.add_subscription(
        Subscription(
            team_id=app.slack.team_id,
            channel_id="C0ALERTS",
            created_by=app.slack.user_id,
            threshold_minutes=240,
            created_at=clock(),
        )
    )
    stale = set(app.sandbox.db.idle_ids(clock() - timedelta(minutes=240)))
    assert len(stale) >= 3
    worker = AlertWorker(app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url)))
    app.fake.clear()

    app.sandbox.config.fault_seed = 11
    app.sandbox.config.fault_rate = 0.5
    reports = []
    for _ in range(8):
        reports.append(worker.run_cycle())
        clock.advance(minutes=1)
    app.sandbox.config.fault_rate = 0
    reports.append(worker.run_cycle())
    reports.append(worker.run_cycle())

    failed = sum(r.errors for r in reports)
    print(f"alert cycles: {len(reports)}, failed {failed}, faults injected {dict(injected)}, stale {len(stale)}")
    assert failed >= 1 and sum(injected.values()) >= 3, (failed, injected)
    assert reports[-1].errors == 0 and reports[-2].errors == 0
    # Each stale room alerted exactly once across all cycles, and every one of them is recorded.
    assert sum(r.chatrooms_alerted for r in reports) == len(stale), [r.summary() for r in reports]
    assert {rec.chatroom_id for rec in store.alerts_for(sub.id)} == stale
    assert reports[-1].chatrooms_alerted == 0
    # The failure was told in the channel, and so was the recovery.
    posted = [all_text(c.args) for c in app.fake.calls("chat.postMessage") if c.args.get("channel") == "C0ALERTS"]
    assert any("unavailable" in p.lower() or "throttl" in p.lower() for p in posted), posted
    current = store.get_subscription(sub.id)
    assert current is not None and current.last_error is None


# ------------------------------------------------------------------------------------ command runs
Signature = tuple[str, tuple[int, ...], tuple[str, ...]]
RUN_SEED = 6
RUN_FAULT_RATE = 0.35
RENAMED = 1_000_010
ACTIVE_SETS = [
    (1, 2),
    (3, 4),
    (5, 6),
    (1, 3, 5),
    (2, 4, 6),
    (1, 4),
    (2, 5),
    (3, 6),
    (1, 2, 3),
    (4, 5, 6),
    (1, 6),
    (2, 3, 4, 5),
]


def signature(key: Any, ids: Any, parameters: Any) -> Signature:
    """A run as the sandbox sees it: key, chatroom ids and parameter values (unique per submission here)."""
    values = [p.get("Value") if isinstance(p, dict) else p for p in parameters or []]
    return str(key), tuple(int(i) for i in ids or []), tuple(str(v) for v in values)


@dataclass(frozen=True)
class Run:
    """One scripted submission: `/chatrooms run KEY IDS`, then these values typed into the form."""

    key: str
    ids: tuple[int, ...]
    typed: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return " ".join(["run", self.key, *map(str, self.ids)])

    @property
    def signature(self) -> Signature:
        return signature(self.key, self.ids, [v for _, v in self.typed])


def run_script() -> list[Run]:
    """SET_ACTIVE on overlapping chatroom sets with alternating values, and renames of one chatroom, interleaved:
    the final state then depends on which runs executed and in what order, and every run is distinct."""
    runs: list[Run] = []
    for n, rooms in enumerate(ACTIVE_SETS):
        runs.append(
            Run("SET_ACTIVE", tuple(1_000_000 + r for r in rooms), (("Active", "false" if n % 2 == 0 else "true"),))
        )
        if n % 2 == 1:
            runs.append(Run("RENAME", (RENAMED,), (("New name", f"Renamed under faults #{n // 2 + 1}"),)))
    return runs


class CommandProbe:
    """Watches the in-process sandbox: every runcommand request with the fault injected into it (if any), every
    command that really executed (in commit order), and whether a request is still being answered."""

    def __init__(self, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self._executing = threading.Lock()
        self._local = threading.local()
        self.requests: list[tuple[Signature, str | None]] = []
        self.executed: list[Signature] = []
        self.in_flight = 0
        self.activity = 0
        app = sandbox.app
        draw, handle, execute = app.faults.draw, app.handle, sandbox_server.run_command

        def drawing(config: SandboxConfig) -> str | None:
            self._local.fault = draw(config)
            return self._local.fault

        def handling(request: Request) -> Response:
            self._local.fault = None
            with self._lock:
                self.in_flight += 1
                self.activity += 1
            try:
                return handle(request)
            finally:
                with self._lock:
                    self.in_flight -= 1
                    self.activity += 1
                    if urlsplit(request.target).path.lower().rstrip("/").endswith("/runcommand"):
                        body = json.loads(request.body)
                        what = signature(body.get("Key"), body.get("Ids"), body.get("Parameters"))
                        self.requests.append((what, self._local.fault))

        def executing(db: Any, key: Any, raw_ids: Any, raw_params: Any, *rest: Any) -> str:
            with self._executing:  # one at a time, so `executed` is in the order the effects were committed
                message = execute(db, key, raw_ids, raw_params, *rest)  # a refusal raises: not an execution
                self.executed.append(signature(key, raw_ids, raw_params))
                return message

        monkeypatch.setattr(app.faults, "draw", drawing)
        monkeypatch.setattr(app, "handle", handling)
        monkeypatch.setattr(sandbox_server, "run_command", executing)

    def settle(self, fake: FakeSlack, idle: float = 0.5, limit: float = 20.0) -> None:
        """Wait until neither the app nor the sandbox has done anything for `idle` seconds and nothing is in flight
        (a timed-out request is still being answered; a throttled retry waits at most 0.2 s, well under `idle`)."""
        deadline = time.monotonic() + limit
        seen: tuple[int, int] | None = None
        since = time.monotonic()
        while True:
            with self._lock:
                marker, busy = (len(fake.calls()), self.activity), self.in_flight > 0
            now = time.monotonic()
            if marker != seen or busy:
                seen, since = marker, now
            elif now - since >= idle:
                return
            if now > deadline:
                raise TimeoutError("the app or the sandbox never went quiet")
            time.sleep(0.05)


def _open_run_form(app: RunningApp, text: str) -> dict[str, Any]:
    after = len(app.fake.calls("views.update"))
    app.slack.command(text)
    view = app.fake.wait_for("views.update", count=after + 1, timeout=30)[after].response["view"]
    assert view["callback_id"] == ids.RUN_MODAL, all_text(view)[:400]
    return dict(view)


def _updates_of(app: RunningApp, view_id: str, after: int) -> list[Call]:
    """The views.update calls for this view since call number `after`."""
    return [c for c in app.fake.calls("views.update")[after:] if c.args.get("view_id") == view_id]


def _posted_for(app: RunningApp, forms: list[dict[str, Any]], n: int) -> int:
    """How many response_url messages answered submission `n`."""
    return sum(_submission_of(c.target, forms) == n for c in app.fake.calls("response_url"))


def _wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app never got there")
        time.sleep(0.02)


def _submission_of(target: str | None, forms: list[dict[str, Any]]) -> int:
    """Which submission a response_url call answered: the form carries its command's response_url."""
    for n, form in enumerate(forms):
        token = json.loads(form["private_metadata"])["response_url"].rsplit("/response/", 1)[1]
        if target in (token, unquote(token)):
            return n
    raise AssertionError(f"a response_url call to {target!r} answers none of the submissions")


@pytest.mark.integration
def test_command_runs_under_faults_run_at_most_once_and_every_outcome_is_told(
    logged_in: RunningApp, injected: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = logged_in
    db = app.sandbox.db
    runs = run_script()
    assert len({r.signature for r in runs}) == len(runs) == 18  # each execution names its submission
    forms = [_open_run_form(app, run.text) for run in runs]
    probe = CommandProbe(app.sandbox, monkeypatch)
    probe.settle(app.fake)
    touched = sorted({i for run in runs for i in run.ids})
    before = {room: db.get(room) for room in touched}

    app.sandbox.config.fault_seed = RUN_SEED
    app.sandbox.config.fault_rate = RUN_FAULT_RATE
    shown: list[list[dict[str, Any]]] = []
    for n, (run, form) in enumerate(zip(runs, forms, strict=True)):
        after = len(app.fake.calls("views.update"))
        ack = app.slack.submit(form, typed_state(form, dict(run.typed)))
        assert ack.status == 200 and ack.json["response_action"] == "update", ack.json

        # Wait for the whole of this submission (its outcome, and after a success the result and the cards), then
        # for quiet (a timed-out request Nexudus is still running): the next run's requests draw the next faults.
        updates = partial(_updates_of, app, form["id"], after)
        _wait_until(updates)
        if updates()[0].args["view"]["title"]["text"] == "Command run":
            _wait_until(lambda: _posted_for(app, forms, n) >= 2)  # noqa: B023 (waited for within this iteration)
        probe.settle(app.fake)
        assert all(c.error is None for c in updates()), [c.error for c in updates()]
        shown.append([c.args["view"] for c in updates()])
    app.sandbox.config.fault_rate = 0
    probe.settle(app.fake)

    outcomes: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    for n, (run, views) in enumerate(zip(runs, shown, strict=True)):
        attempts = [fault for what, fault in probe.requests if what == run.signature]
        executions = probe.executed.count(run.signature)
        assert attempts, (run, "never reached Nexudus")
        # Only a refusal (409, refused before anything ran) is tried again; a 500, a drop or a timeout never is.
        assert all(fault == "409" for fault in attempts[:-1]), (run, attempts)
        last = attempts[-1]
        # A request executes when it got through, or when the client gave up waiting (Nexudus went on).
        assert executions == (1 if last in (None, "timeout") else 0), (run, attempts, executions)
        assert len(views) == 1, (run, attempts, [v["title"]["text"] for v in views])  # exactly one outcome
        (view,) = views
        text = all_text(view)
        if last is None:
            assert view["title"]["text"] == "Command run" and "✅" in text, (run, text[:400])
            outcomes["ran, told"] += 1
            succeeded[n] += 1
            continue
        assert view["title"]["text"] == "Something's wrong", (run, last, text[:400])
        cause = {"409": "throttling", "500": "HTTP 500", "timeout": "no answer within", "drop": "unavailable"}[last]
        assert "Nexudus" in text and cause in text, (run, last, text[:400])
        outcomes["failed, ran anyway (timeout), told" if executions else "failed, not run, told"] += 1

    # Each success also posted its result where the command was typed, then the refreshed cards or (when reading
    # them failed) a note that the command ran all the same; a failure posted nothing there.
    messages = [(_submission_of(c.target, forms), all_text(c.args)) for c in app.fake.calls("response_url")]
    results = Counter(n for n, text in messages if "✅" in text)
    follow_ups = Counter(n for n, text in messages if "✅" not in text)
    assert results == succeeded and follow_ups == succeeded, (results, follow_ups, succeeded)
    no_cards = sum("The command ran, but the refreshed cards could not be loaded" in text for _, text in messages)

    # The sandbox ends exactly as the executions, in the order they were committed, leave it.
    active = {room: row.active for room, row in before.items() if row is not None}
    name = before[RENAMED].name if before[RENAMED] is not None else None
    for key, chatrooms, values in probe.executed:
        if key == "SET_ACTIVE":
            active |= dict.fromkeys(chatrooms, values[0].lower() == "true")
        else:
            name = values[0]
    rows = {room: db.get(room) for room in touched}
    assert {room: row.active for room, row in rows.items() if row is not None} == active
    assert (row := rows[RENAMED]) is not None and row.name == name
    assert active != {room: row.active for room, row in before.items() if row is not None}  # the runs did things

    attempts_by_kind = Counter(fault or "none" for _, fault in probe.requests)
    print(
        f"\ncommand runs: {len(runs)} submitted, outcomes {dict(outcomes)}; runcommand requests "
        f"{len(probe.requests)} by injected fault {dict(attempts_by_kind)}; executions {len(probe.executed)}; "
        f"refreshed cards not loaded after a success {no_cards}; "
        f"faults injected on all requests {dict(injected)}"
    )
    assert sum(outcomes.values()) == len(runs)
    assert len(probe.executed) == outcomes["ran, told"] + outcomes["failed, ran anyway (timeout), told"]
    # The fixed seed makes Nexudus fail every way on runcommand itself, so every path above was taken.
    assert set(attempts_by_kind) == {"none", *FAULT_KINDS}, attempts_by_kind
    assert all(outcomes[k] for k in ("ran, told", "failed, not run, told", "failed, ran anyway (timeout), told"))
