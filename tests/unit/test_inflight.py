"""The journal of writes in flight with an injected clock: nothing journalled before the heartbeat runs, a dead
process's work told once by one of two sweepers, a live process's never, and a failed telling tried again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.inflight import Journal, Tracker
from bot.store import Store, fernet_from_setting
from bot.store.inflight import InFlight

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite", fernet_from_setting(Fernet.generate_key().decode())) as st:
        yield st


def journal(store: Store, clock: Clock, name: str) -> Journal:
    return Journal(store, clock, orphan_after=timedelta(seconds=30), process_id=name)


def tracker(j: Journal) -> Tracker:
    return Tracker(j, "T1", "U1", None, lambda: {"response_url": None, "view_id": "V1", "placeholder": False})


def test_nothing_is_journalled_until_the_process_beats(store: Store) -> None:
    clock = Clock()
    j = journal(store, clock, "A")
    t = tracker(j)
    t.begin("delete", chatroom_ids=[1000001])
    assert t.keys == [] and store.inflight() == []
    j.start(thread=False)
    t.begin("delete", chatroom_ids=[1000001])
    (entry,) = store.inflight()
    assert (entry.owner, entry.started_at, entry.kind, entry.answer["view_id"]) == ("A", T0, "delete", "V1")
    t.end_since(0)
    assert store.inflight() == []


def test_a_dead_processs_work_is_told_once_by_one_of_two_sweepers_and_a_live_ones_never(store: Store) -> None:
    clock = Clock()
    dead, b, c = journal(store, clock, "dead"), journal(store, clock, "B"), journal(store, clock, "C")
    told: list[tuple[str, InFlight]] = []
    b.recover = lambda w: told.append(("B", w))
    c.recover = lambda w: told.append(("C", w))
    for j in (dead, b, c):
        j.start(thread=False)
    tracker(dead).begin("edit", chatroom_ids=[1000001], changes={"name": "X"})
    tracker(b).begin("edit", chatroom_ids=[1000002], changes={"name": "Y"})  # B's own, B alive
    clock.now = T0 + timedelta(seconds=29)
    b.beat()
    c.beat()
    assert b.sweep() == 0 and c.sweep() == 0  # the dead one's beat is only 29 s old
    clock.now = T0 + timedelta(seconds=31)
    b.beat()
    c.beat()
    assert b.sweep() + c.sweep() == 1
    assert [(who, w.chatroom_ids, w.owner) for who, w in told] == [("B", [1000001], "B")]
    assert [w.chatroom_ids for w in store.inflight()] == [[1000002]]  # told: forgotten; B's own: kept
    clock.now = T0 + timedelta(minutes=10)
    b.beat()
    c.beat()
    assert b.sweep() + c.sweep() == 0 and len(told) == 1


def test_a_telling_that_fails_is_given_back_and_tried_again_by_the_next_sweep(store: Store) -> None:
    clock = Clock()
    dead, b = journal(store, clock, "dead"), journal(store, clock, "B")
    attempts: list[int] = []

    def flaky(w: InFlight) -> None:
        attempts.append(w.attempts)
        if len(attempts) == 1:
            raise ConnectionError("Slack is unreachable")

    b.recover = flaky
    dead.start(thread=False)
    b.start(thread=False)
    tracker(dead).begin("run", chatroom_ids=[1000001], command="RENAME")
    clock.now = T0 + timedelta(minutes=1)
    b.beat()
    assert b.sweep() == 1 and len(store.inflight()) == 1
    assert b.sweep() == 1 and attempts == [1, 2] and store.inflight() == []


def test_a_stopped_journal_removes_its_heartbeat_so_its_leftovers_are_recovered_at_once(store: Store) -> None:
    clock = Clock()
    a, b = journal(store, clock, "A"), journal(store, clock, "B")
    told: list[InFlight] = []
    b.recover = told.append
    a.start()  # the real daemon thread: stopped below, within its timeout
    b.start(thread=False)
    tracker(a).begin("delete", chatroom_ids=[1000003])
    a.stop(timeout=5)
    assert len(a._threads) == 3 and not any(t.is_alive() for t in a._threads)  # beat, sweep, queued work
    assert b.sweep() == 1 and told[0].chatroom_ids == [1000003]


def test_the_alert_workers_cycle_sweeps_too_and_a_failing_store_never_ends_its_loop(store: Store) -> None:
    from types import SimpleNamespace

    from bot.worker import sweep_inflight

    clock = Clock()
    dead, worker = journal(store, clock, "web-dead"), journal(store, clock, "alerts-1")
    told: list[InFlight] = []
    worker.recover = told.append
    dead.start(thread=False)
    tracker(dead).begin("create", name="Lobby", business_id=9001)
    sweep_inflight(SimpleNamespace(journal=worker))  # type: ignore[arg-type]
    assert told == [], "a journal not started (no heartbeat) claims nothing"
    worker.start(thread=False)
    clock.now = T0 + timedelta(minutes=1)
    worker.beat()
    sweep_inflight(SimpleNamespace(journal=worker))  # type: ignore[arg-type]
    assert [w.name for w in told] == ["Lobby"]
    store.close()
    sweep_inflight(SimpleNamespace(journal=worker))  # type: ignore[arg-type]  # logged, not raised


class _Untellable:
    """What `guarded` touches of a `Ctx`, for a request whose error cannot be told (Slack unreachable)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker, self.waiting, self.progress_view = tracker, "your form *Edit chatroom*", "V1"

    def tracking(self) -> Tracker:
        return self.tracker

    def started(self) -> str | None:
        return None  # it did not wait its turn long enough to be journalled as queued

    def fail(self, exc: BaseException, *, view_id: str | None = None) -> None:
        raise ConnectionError("Slack unreachable: neither the modal nor a DM could be sent")


def test_an_outcome_that_could_not_be_told_is_given_back_to_the_sweep_not_forgotten(tmp_path: Path) -> None:
    from bot.slack.context import guarded

    with Store(tmp_path / "s.sqlite", fernet_from_setting(Fernet.generate_key().decode())) as store:
        journal = Journal(store, lambda: datetime.now(UTC), process_id="A")
        journal.start(thread=False)
        tracker = Tracker(journal, "T1", "U1", None, lambda: {"view_id": "V1"})

        def work() -> None:
            tracker.begin("edit", chatroom_ids=[1000001], changes={"name": "X"})  # the write is sent...
            raise ConnectionError("Slack unreachable")  # ...then telling its result fails

        guarded(_Untellable(tracker), work, view_id="V1")  # type: ignore[arg-type]
        left = store.inflight()
        assert [w.chatroom_ids for w in left] == [[1000001]] and left[0].owner == "", "given back for a sweep"


def test_a_slow_telling_never_lets_its_own_live_process_pass_for_dead(tmp_path: Path) -> None:
    """Beats and sweeps on separate threads: while A tells a dead process's user (a slow Nexudus read or Slack
    post), A keeps beating, so B never takes A's own live write for an orphan."""
    now = lambda: datetime.now(UTC)  # noqa: E731
    timing = {"orphan_after": timedelta(seconds=0.5), "beat_every": 0.1, "sweep_every": 0.1}

    def tracker(journal: Journal) -> Tracker:
        return Tracker(journal, "T1", "U1", None, lambda: {"view_id": "V1", "placeholder": False})

    with Store(tmp_path / "s.sqlite", fernet_from_setting(Fernet.generate_key().decode())) as store:
        dead = Journal(store, now, process_id="dead", **timing)  # type: ignore[arg-type]
        dead.start(thread=False)
        tracker(dead).begin("run", chatroom_ids=[1], command="X")
        store.end_process("dead")  # its process is gone
        a = Journal(store, now, process_id="A", **timing)  # type: ignore[arg-type]
        b = Journal(store, now, process_id="B", **timing)  # type: ignore[arg-type]
        gate = threading.Event()
        a.recover = lambda work: gate.wait(2)  # telling takes 2 s
        told_by_b: list[list[int]] = []
        b.recover = lambda work: told_by_b.append(work.chatroom_ids)
        try:
            a.start()
            tracker(a).begin("edit", chatroom_ids=[2], changes={"name": "Y"})  # A's own write, A alive
            time.sleep(0.3)  # A has claimed the dead one's and is telling it
            b.start()
            time.sleep(1.2)
            assert told_by_b == [], "B told A's user about a write A is still doing"
        finally:
            gate.set()
            a.stop()
            b.stop()


def test_a_stopping_journal_first_forgets_work_already_told_whose_end_failed(store: Store) -> None:
    clock = Clock()
    a = journal(store, clock, "A")
    a.start(thread=False)
    tracker(a).begin("delete", chatroom_ids=[1000003])
    key = store.inflight()[0].key
    with a._lock:
        a._unended.add(key)  # told, but the store refused the end a moment ago
    a.stop()
    assert store.inflight() == [], "a survivor would tell its user a second time"


# ------------------------------------------------------------------ work acknowledged, waiting its turn


def queued_work(what: str = "`/chatrooms list`") -> InFlight:
    return InFlight(
        owner="",
        started_at=T0,
        team_id="T1",
        user_id="U1",
        kind="queued",
        what=what,
        again=f"Run {what} again.",
        answer={"response_url": "https://hooks.slack.test/1", "placeholder": True},
    )


def test_work_waiting_its_turn_is_journalled_off_the_ack_and_only_while_it_waits(store: Store) -> None:
    clock = Clock()
    j = journal(store, clock, "A")
    assert j.queue(queued_work) is None, "not started: nothing noted"
    j.start(thread=False)
    soon, waiting = j.queue(lambda: queued_work("`/chatrooms show 1`")), j.queue(queued_work)
    assert soon is not None and waiting is not None
    assert store.inflight() == [], "the ack writes nothing"
    assert j.unqueue(soon) is None, "started before the writer came: no entry, and none later"
    assert j.write_queued() == 1
    (entry,) = store.inflight()
    assert (entry.kind, entry.owner, entry.what) == ("queued", "A", "`/chatrooms list`")
    assert entry.again == "Run `/chatrooms list` again." and entry.answer["placeholder"] is True
    key = j.unqueue(waiting)
    assert key == entry.key, "started: the entry written is handed to the work"
    t = tracker(j)
    t.begin("request", what="`/chatrooms list`", key=key)  # the work's own entry replaces it, same key
    assert [(w.key, w.kind) for w in store.inflight()] == [(key, "request")]
    t.end_since(0)
    assert store.inflight() == [] and j.write_queued() == 0


def test_the_writer_thread_journals_a_burst_in_one_write_after_the_acks(store: Store) -> None:
    clock = Clock()
    j = Journal(store, clock, orphan_after=timedelta(seconds=30), queue_delay=0.05, process_id="A")
    writes: list[int] = []
    paced: list[int] = []
    real = store.begin_works

    def counted(works: Iterable[InFlight]) -> None:
        works = list(works)
        writes.append(len(works))
        real(works)

    store.begin_works = counted  # type: ignore[method-assign]
    j.pace = lambda: paced.append(len(writes))  # the acks in progress are waited for before each batch
    j.start()
    try:
        for _ in range(5):
            j.queue(queued_work)
        deadline = time.monotonic() + 10
        while len(store.inflight()) < 5:
            assert time.monotonic() < deadline, "the queued work was never journalled"
            time.sleep(0.01)
        assert writes == [5] and paced == [0], "one write for the burst, after waiting for the acks"
    finally:
        j.stop()


def test_a_job_starting_while_its_batch_is_written_waits_for_it_and_a_job_gone_past_the_wait_is_ended(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    j = journal(store, clock, "A")
    j.start(thread=False)
    slow = threading.Event()
    real = store.begin_works

    def held(works: Iterable[InFlight]) -> None:
        slow.wait(10)
        real(works)

    store.begin_works = held  # type: ignore[method-assign]
    ticket = j.queue(queued_work)
    writer = threading.Thread(target=j.write_queued)
    writer.start()
    time.sleep(0.1)
    threading.Timer(0.2, slow.set).start()
    key = j.unqueue(ticket)  # waits for the write under way: its entry is then the work's
    writer.join(10)
    assert key is not None and [w.key for w in store.inflight()] == [key]
    store.end_work(key)
    monkeypatch.setattr("bot.inflight.UNQUEUE_WAIT", 0.1)
    slow.clear()
    ticket = j.queue(queued_work)
    writer = threading.Thread(target=j.write_queued)
    writer.start()
    time.sleep(0.1)
    assert j.unqueue(ticket) is None, "gave up waiting: the work runs without the entry"
    slow.set()
    writer.join(10)
    assert store.inflight() == [], "written after its work started: ended, never told as never started"


def test_a_stopping_journal_writes_the_work_that_never_started_so_a_survivor_tells_it(store: Store) -> None:
    clock = Clock()
    a, b = journal(store, clock, "A"), journal(store, clock, "B")
    told: list[InFlight] = []
    b.recover = told.append
    a.start(thread=False)
    b.start(thread=False)
    a.queue(queued_work)
    a.stop()  # the drain gave up: the work never started
    assert b.sweep() == 1 and (told[0].kind, told[0].what) == ("queued", "`/chatrooms list`")


def test_a_stopping_journal_writes_the_work_that_never_started_before_waiting_for_its_threads(store: Store) -> None:
    j = journal(store, Clock(), "A")
    j.start(thread=False)
    busy = threading.Event()
    telling = threading.Thread(target=busy.wait, args=(10,))  # its sweep, telling a dead process's users slowly
    telling.start()
    j._threads = [telling]
    j.queue(queued_work)
    stopping = threading.Thread(target=j.stop, kwargs={"timeout": 10})
    stopping.start()
    try:
        deadline = time.monotonic() + 5
        while not store.inflight() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stopping.is_alive(), "stop waits for its threads"
        assert [w.kind for w in store.inflight()] == ["queued"], "written first: a kill meanwhile loses nothing"
    finally:
        busy.set()
        stopping.join(10)
        telling.join(10)


def test_work_that_never_started_is_found_not_done_without_reading_nexudus() -> None:
    from bot.inflight import settle, verify

    work = queued_work()
    found = verify(None, work)  # type: ignore[arg-type]
    assert (found.state, found.reason) == ("not_done", "queued")
    finding = settle(None, work)  # type: ignore[arg-type]  # no audit entry, no login, no read
    assert (finding.state, finding.reason) == ("not_done", "queued")
