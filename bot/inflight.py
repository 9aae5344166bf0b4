"""Acknowledged writes survive the process doing them: journalled in the store, recovered by another process.

Every write to Nexudus a person asked for (create, edit, Mark visited, delete, run a command) is recorded in
the store (`Store.begin_work`) by the services just before anything is sent (`UserSession` calls its
`Tracker`), and forgotten once its outcome has reached the person (`Tracker.end_since`, called by the Slack
side's `guarded` after the answer). Each process keeps one heartbeat row, renewed by a daemon thread
(`Journal.start`). When a process dies (kill -9, a crash, an out-of-memory kill), its heartbeat stops; after
``INFLIGHT_ORPHAN_SECONDS`` its entries are orphans, and the next sweep of any live process — a web process
every 15 s, the alert worker each cycle — claims them (exactly one claimer each, `Store.claim_orphans`),
checks with the person's own Nexudus login what actually happened (`verify`), and has it told (`recover`,
set by the Slack side: bot/slack/recovery.py). Nothing here knows Slack; where to answer is an opaque dict.

Work acknowledged but still waiting its turn (behind its user's earlier requests in their lane, or behind a
burst's acks) is journalled too, without a store write on the ack path: the ack only notes it in memory
(`Journal.queue`, a `Ticket`), and the journal's writer thread records what is still waiting `queue_delay` s
later as ``queued`` entries, one write a batch, after the acks in progress (`Journal.pace`). When the work
starts (`Journal.unqueue`), a ticket not written yet is dropped (most work starts sooner and costs no write),
and a written entry becomes the request's own (or is ended); a dead process's ``queued`` entry is told as
what it is: it never started, nothing was sent to Nexudus for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.audit import Actor
from bot.nexudus.client import ChatRoomChanges
from bot.nexudus.errors import NexudusError, NotFound
from bot.nexudus.models import ChatRoom
from bot.nexudus.query import ChatRoomFilters
from bot.services import NotLoggedIn, Services, same_value
from bot.store import AuditEntry, Store
from bot.store.inflight import InFlight, WorkKind, inflight_key, new_process_id

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

ORPHAN_AFTER = timedelta(seconds=30)
"""A process whose heartbeat is older than this is dead (three beats missed): its work is recovered."""
BEAT_EVERY = 10.0
SWEEP_EVERY = 15.0
QUEUE_DELAY = 0.25
"""Work acknowledged and waiting this long without starting is journalled as `queued` (the rest costs no write)."""
UNQUEUE_WAIT = 5.0
"""The longest a starting job waits for its `queued` entry being written right then."""
CREATE_WINDOW = timedelta(minutes=15)
"""A create is found again among the chatrooms of its name and business created this long before it started."""


TicketState = Literal["pending", "writing", "written", "dropped", "abandoned"]


class Ticket:
    """Acknowledged work waiting its turn, noted on the ack path in memory only (`Journal.queue`): the writer
    thread journals it as `queued` unless it starts first (`Journal.unqueue`)."""

    __slots__ = ("key", "make", "state")

    def __init__(self, make: Callable[[], InFlight]) -> None:
        self.make = make  # the entry, built on the writer thread (not on the ack's)
        self.key = ""  # drawn when written
        self.state: TicketState = "pending"


class Journal:
    """This process's in-flight work in the store, its heartbeat, and the sweep that recovers dead processes'.

    Nothing is journalled until `start` (the entry points start it; a process without a heartbeat would have
    its live work taken for a dead one's)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        orphan_after: timedelta = ORPHAN_AFTER,
        beat_every: float = BEAT_EVERY,
        sweep_every: float = SWEEP_EVERY,
        queue_delay: float = QUEUE_DELAY,
        process_id: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.orphan_after = orphan_after
        self.beat_every = beat_every
        self.sweep_every = sweep_every
        self.queue_delay = queue_delay
        self.process_id = process_id or new_process_id()
        self.recover: Callable[[InFlight], None] | None = None
        """Tells a claimed entry's user what is known (set by the Slack side); None: claims nothing."""
        self.pace: Callable[[], object] | None = None
        """Called on the writer thread before each batch of `queued` entries: waits while this process is
        acknowledging requests (bot/acks.py, set by the Slack side), so that the batch never takes their CPU."""
        self._queued: list[Ticket] = []  # tickets not written yet
        self._qcond = threading.Condition()
        self._qwake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._pid = os.getpid()
        self._unended: set[str] = set()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Beating: entries begun now are this process's. False in a child forked after `start` (gunicorn
        --preload): it has no heartbeat thread, so it journals nothing rather than pass for its parent."""
        return self._started and not self._stop.is_set() and os.getpid() == self._pid

    # -- lifecycle
    def start(self, *, thread: bool = True) -> None:
        """Beat once now, then every `beat_every` s on one daemon thread, and sweep every `sweep_every` s on
        another: telling a dead process's user can take long (a slow Nexudus read, a slow Slack), and on the
        heartbeat's thread it would let this live process's own work pass for a dead one's."""
        if self._started:
            return
        self._pid = os.getpid()
        self.store.heartbeat(self.process_id, self.clock())
        self._started = True
        if thread:
            first_sweep = min(self.sweep_every, self.orphan_after.total_seconds())
            self._threads = [
                threading.Thread(
                    target=self._every,
                    args=(self.beat_every, self.beat_every, self.beat),
                    name="inflight-beat",
                    daemon=True,
                ),
                threading.Thread(
                    target=self._every,
                    args=(first_sweep, self.sweep_every, self._sweep_logged),
                    name="inflight-sweep",
                    daemon=True,
                ),
                threading.Thread(target=self._write_queued_loop, name="inflight-queued", daemon=True),
            ]
            for t in self._threads:
                t.start()

    def stop(self, timeout: float = 5.0, *, remove_heartbeat: bool = True) -> None:
        """Stop beating; the heartbeat row goes, so what is left unfinished is recovered by the others at once
        (with `remove_heartbeat=False`, only once it has gone stale: for work that may still be running)."""
        if not self._started or self._stop.is_set():
            return
        self._stop.set()
        self._qwake.set()
        # Work acknowledged that never started (the drain gave up): journalled, so a survivor tells its user —
        # first, before waiting for the threads (a sweep telling a dead process's users may take seconds, and
        # gunicorn kills a worker that overstays), then again for what a failed write gave back.
        with contextlib.suppress(Exception):
            self.write_queued()
        deadline = time.monotonic() + timeout  # one limit for all the threads, not one each
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(Exception):
            self.write_queued()
        with self._lock:  # work told whose end could not be written a moment ago: not to be told again
            keys, self._unended = list(self._unended), set()
        for key in keys:
            with contextlib.suppress(Exception):
                self.store.end_work(key)
        if remove_heartbeat:
            with contextlib.suppress(Exception):
                self.store.end_process(self.process_id)

    def _every(self, first: float, every: float, job: Callable[[], object]) -> None:
        due = time.monotonic() + first
        while not self._stop.wait(max(0.05, due - time.monotonic())):
            if time.monotonic() >= due:
                due = time.monotonic() + every
                job()

    def _sweep_logged(self) -> None:
        try:
            self.sweep()
        except Exception as exc:  # the store is down a moment: the next sweep tries again
            log.warning("in-flight sweep failed (%s); trying again later", type(exc).__name__)

    def beat(self) -> None:
        """Renew the heartbeat, and forget the work whose end could not be written a moment ago."""
        try:
            self.store.heartbeat(self.process_id, self.clock())
            with self._lock:
                keys, self._unended = list(self._unended), set()
            for key in keys:
                self.end(key)
        except Exception as exc:
            log.warning("heartbeat not written (%s); trying again in %.0f s", type(exc).__name__, self.beat_every)

    # -- entries
    def begin(self, work: InFlight, key: str | None = None) -> str | None:
        """Record acknowledged work of this process before it starts (under `key`: replacing that entry); its
        key (None: journal not started)."""
        if not self.running:
            return None
        started = self.clock()
        key = key or inflight_key(started)
        entry = work.model_copy(update={"key": key, "owner": self.process_id, "started_at": started})
        self.store.begin_work(entry)
        return entry.key

    def end(self, key: str) -> None:
        """The outcome reached its user: forget the entry (retried at the next beat if the store fails now)."""
        try:
            self.store.end_work(key)
        except Exception as exc:
            log.warning("in-flight work %s not forgotten yet (%s); trying again", key, type(exc).__name__)
            with self._lock:
                self._unended.add(key)

    # -- work waiting its turn
    def queue(self, make: Callable[[], InFlight]) -> Ticket | None:
        """On the ack path: acknowledged work waits its turn. Nothing is written here (the ack's latency): the
        writer thread journals `make()` as a `queued` entry if the work has not started `queue_delay` s later.
        None when the journal is not running."""
        if not self.running:
            return None
        ticket = Ticket(make)
        with self._qcond:
            self._queued.append(ticket)
        self._qwake.set()
        return ticket

    def unqueue(self, ticket: Ticket | None) -> str | None:
        """The ticket's work starts: no `queued` entry is written for it any more. The key of the one written
        (the work's own entry replaces it, or it is ended), None if there is none. A batch being written right
        then is waited for (`UNQUEUE_WAIT` s at most: past that, its entry is ended once written)."""
        if ticket is None:
            return None
        with self._qcond:
            self._qcond.wait_for(lambda: ticket.state != "writing", timeout=UNQUEUE_WAIT)
            if ticket.state == "written":
                return ticket.key
            ticket.state = "abandoned" if ticket.state == "writing" else "dropped"
            return None

    def write_queued(self) -> int:
        """Journal every ticket still waiting, as `queued` entries in one write; how many (the writer thread's
        step, and `stop`'s last one). Tickets whose write failed wait for the next try."""
        with self._qcond:
            batch = [t for t in self._queued if t.state == "pending"]
            self._queued = []
            for ticket in batch:
                ticket.state = "writing"
        if not batch:
            return 0
        now = self.clock()
        entries: list[InFlight] = []
        described: list[Ticket] = []
        for ticket in batch:
            ticket.key = inflight_key(now)
            try:
                work = ticket.make()
            except Exception:  # never: `make` only builds the entry from what its ack held
                log.exception("work waiting its turn could not be described; not journalled")
                continue
            update = {"key": ticket.key, "owner": self.process_id, "started_at": now, "kind": "queued"}
            entries.append(work.model_copy(update=update))
            described.append(ticket)
        if len(described) < len(batch):
            with self._qcond:
                for ticket in batch:
                    if ticket not in described:
                        ticket.state = "dropped"
                self._qcond.notify_all()
            batch = described
        try:
            self.store.begin_works(entries)
        except Exception:
            with self._qcond:
                for ticket in batch:
                    if ticket.state == "writing":
                        ticket.state = "pending"
                        self._queued.append(ticket)
                    elif ticket.state == "abandoned":
                        ticket.state = "dropped"
                self._qcond.notify_all()
            raise
        with self._qcond:
            abandoned = [t.key for t in batch if t.state == "abandoned"]
            for ticket in batch:
                ticket.state = "written"
            self._qcond.notify_all()
        for key in abandoned:  # its work started meanwhile without it: not to be told as never started
            self.end(key)
        return len(batch)

    def _write_queued_loop(self) -> None:
        while not self._stop.is_set():
            self._qwake.wait()
            if self._stop.wait(self.queue_delay):  # a batch: the work starting meanwhile costs no write
                return
            if self.pace is not None:
                with contextlib.suppress(Exception):
                    self.pace()
            self._qwake.clear()
            try:
                self.write_queued()
            except Exception as exc:  # the store is down a moment: the next batch tries again
                log.warning("work waiting its turn not journalled (%s); trying again", type(exc).__name__)
                self._qwake.set()
                self._stop.wait(self.beat_every)

    def release(self, key: str) -> None:
        """Its outcome could not be told: give the entry back, for the next sweep (anywhere) to check and tell."""
        try:
            self.store.release_work(key)
        except Exception as exc:
            log.warning("in-flight work %s not given back (%s)", key, type(exc).__name__)

    def sweep(self) -> int:
        """Claim dead processes' work and have each told; how many were claimed. Telling that fails gives the
        entry back, for the next sweep (anywhere) to try again."""
        if self.recover is None or not self.running:
            return 0
        claimed = self.store.claim_orphans(self.process_id, self.clock(), self.orphan_after)
        for work in claimed:
            try:
                self.recover(work)
            except Exception:
                log.exception("in-flight work %s: telling its user failed; it will be tried again", work.key)
                with contextlib.suppress(Exception):
                    self.store.release_work(work.key)
                continue
            self.end(work.key)
        if claimed:
            log.info("recovered %s acknowledged request(s) of a process that stopped", len(claimed))
        return len(claimed)


class Tracker:
    """One request's journalled writes: begun by the services before each write, ended by whoever delivered
    the outcome. `answer` says, when a write begins, where its outcome would be told (opaque here)."""

    def __init__(
        self,
        journal: Journal,
        team_id: str,
        user_id: str,
        enterprise_id: str | None,
        answer: Callable[[], dict[str, Any]],
    ) -> None:
        self.journal = journal
        self.team_id = team_id
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.answer = answer
        self.keys: list[str] = []
        self._waiting: str | None = None
        """The key of this request's `request` entry, while no write has begun in it."""

    def begin(
        self,
        kind: WorkKind,
        *,
        chatroom_ids: Iterable[int] = (),
        changes: dict[str, Any] | None = None,
        name: str | None = None,
        business_id: int | None = None,
        command: str | None = None,
        subscription_id: str | None = None,
        what: str | None = None,
        key: str | None = None,
    ) -> None:
        """Journal a write (or the `request` it is part of) about to start; under `key`, replacing that entry (the
        request's `queued` one)."""
        work = InFlight(
            owner="",
            started_at=self.journal.clock(),
            team_id=self.team_id,
            enterprise_id=self.enterprise_id,
            user_id=self.user_id,
            kind=kind,
            chatroom_ids=[int(i) for i in chatroom_ids],
            changes=changes or {},
            name=name,
            business_id=business_id,
            command=command,
            subscription_id=subscription_id,
            what=what,
            answer=self.answer(),
        )
        if self._waiting is not None and kind != "request":  # the request's first write: its entry becomes it
            reused, self._waiting = self._waiting, None
            self.journal.begin(work, key=reused)
            return
        key = self.journal.begin(work, key=key)
        if key is not None:
            self.keys.append(key)
            if kind == "request":
                self._waiting = key

    def mark(self) -> int:
        return len(self.keys)

    def end_since(self, mark: int) -> None:
        """The outcomes of the writes begun since `mark` reached their user."""
        self._settle(mark, self.journal.end)

    def release_since(self, mark: int) -> None:
        """The outcomes of the writes begun since `mark` could not be told: a sweep tells them instead."""
        self._settle(mark, self.journal.release)

    def _settle(self, mark: int, settle: Callable[[str], None]) -> None:
        for key in self.keys[mark:]:
            settle(key)
            if key == self._waiting:
                self._waiting = None
        del self.keys[mark:]


# ------------------------------------------------------------------------------------------ what is known

State = Literal["done", "not_done", "unknown", "gone"]


@dataclass(frozen=True)
class Finding:
    """What a later read says about interrupted work: `done` (the chatroom holds it), `not_done` (it does
    not: nothing was saved; `reason` `queued`: it never started), `gone` (the chatroom no longer exists),
    `unknown` (it cannot be checked: `reason` says why — `request`, `command`, `login`, `nexudus`)."""

    state: State
    room: ChatRoom | None = None
    differs: tuple[str, ...] = ()
    reason: str = ""


def verify(services: Services, work: InFlight) -> Finding:
    """Check with the person's own Nexudus login what interrupted work left behind. Never claims success
    it has not read: a command (Nexudus keeps no trace of a run) and any failed read are `unknown`."""
    if work.kind == "queued":  # it never started: nothing of it reached Nexudus
        return Finding("not_done", reason="queued")
    if work.kind == "request":  # nothing was written to Nexudus in it (a write would have taken its entry)
        return Finding("unknown", reason="request")
    if work.kind == "run":
        return Finding("unknown", reason="command")
    if work.kind == "snooze":  # kept in the store, not in Nexudus
        wanted = work.changes.get("snoozed_until")
        rec = services.store.get_alert(work.subscription_id or "", work.chatroom_ids[0]) if work.chatroom_ids else None
        until = rec.snoozed_until if rec is not None else None
        held = until is not None and isinstance(wanted, str) and until >= datetime.fromisoformat(wanted)
        return Finding("done" if held else "not_done")
    try:
        session = services.session(work.team_id, work.user_id, enterprise_id=work.enterprise_id)
    except (NotLoggedIn, NexudusError):
        return Finding("unknown", reason="login")
    try:
        if work.kind == "create":
            return _verify_create(session, work)
        chatroom_id = work.chatroom_ids[0]
        try:
            room = session.get(chatroom_id)
        except NotFound:
            return Finding("done" if work.kind == "delete" else "gone")
        if work.kind == "delete":
            return Finding("not_done", room=room)
        wanted = ChatRoomChanges.model_validate(work.changes)
        codec = session.client.codec
        differs = tuple(
            sorted(
                name
                for name in wanted.model_fields_set
                if not same_value(getattr(wanted, name), getattr(room, name, None), codec)
            )
        )
        return Finding("not_done" if differs else "done", room=room, differs=differs)
    except (NexudusError, IndexError):
        return Finding("unknown", reason="nexudus")


def settle(services: Services, work: InFlight) -> Finding:
    """What became of interrupted work (`verify`), written in the audit trail as the finished write would have
    been — unless its process recorded it before dying: `ok` when Nexudus shows it, `unknown` when it cannot
    be told; nothing when it was not applied (as for any write Nexudus refused)."""
    finding = verify(services, work)
    if finding.state not in ("done", "unknown") or work.kind in ("queued", "request"):
        return finding
    actor = Actor(work.team_id, work.user_id, work.enterprise_id)

    def same(entry: AuditEntry) -> bool:
        if entry.user_id != work.user_id or entry.action != work.kind:
            return False
        return entry.name == work.name if work.kind == "create" else entry.chatroom_ids == work.chatroom_ids

    try:
        recorded, _ = services.store.audit_entries(work.team_id, since=work.started_at, match=same, limit=1)
    except Exception:
        log.warning("in-flight work %s: the audit trail could not be read; not recorded again", work.key)
        return finding
    if recorded:
        return finding
    room = finding.room
    fields: dict[str, Any] = {
        "chatroom_ids": [room.id] if work.kind == "create" and room is not None else work.chatroom_ids,
        "name": (room.name if room is not None else None) or work.name,
        "command": work.command,
    }
    if finding.state == "unknown":
        fields["outcome"] = "unknown"
        fields["message"] = "the app restarted during it; it may or may not have been applied"
    services.audit.record(actor, work.kind, **fields)
    return finding


def _verify_create(session: Any, work: InFlight) -> Finding:
    if not work.name:
        return Finding("unknown", reason="nexudus")
    filters = ChatRoomFilters(name=work.name, business=work.business_id, created_from=work.started_at - CREATE_WINDOW)
    page = session.find(filters, size=20)
    mine = [room for room in page.records if room.name == work.name]
    if not mine:
        return Finding("not_done")
    return Finding("done", room=max(mine, key=lambda room: room.id))
