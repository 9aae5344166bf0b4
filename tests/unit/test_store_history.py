"""The alert history (issue 15 item 5): every alert write appends what changed, in the same transaction, on
both backends (the `store_where` contract fixture: SQLite and a real PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.stats import fold_waits
from bot.store import (
    AlertRecord,
    Digest,
    Store,
    Subscription,
    Tables,
    Tx,
    fernet_from_setting,
    new_pending_ts,
    open_tables,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
VISIT = NOW - timedelta(hours=5)
KEY = Fernet.generate_key().decode()


@pytest.fixture
def store(store_where: Path | str) -> Iterator[Store]:
    with Store(store_where, fernet_from_setting(KEY)) as st:
        yield st


def subscription(store: Store, team: str = "T1", channel: str = "C1", threshold: int = 240, **kw: object) -> str:
    fields: dict[str, object] = {"created_at": NOW - timedelta(days=1), **kw}
    sub = Subscription(team_id=team, channel_id=channel, created_by="U1", threshold_minutes=threshold, **fields)
    return store.add_subscription(sub).id


def record(sub_id: str, chatroom_id: int, message_ts: str, **kw: object) -> AlertRecord:
    fields: dict[str, object] = {
        "subscription_id": sub_id,
        "chatroom_id": chatroom_id,
        "last_agent_visit": VISIT,
        "channel_id": "C1",
        "message_ts": message_ts,
        "alerted_at": NOW,
        "waiting_since": VISIT,
        "business_id": 9001,
    }
    fields.update(kw)
    return AlertRecord.model_validate(fields)


def post(store: Store, sub_id: str, chatroom_ids: list[int], ts: str = "1764072000.000100") -> None:
    """What the alert cycle does: the intent with its rows, then Slack's ts."""
    pending = new_pending_ts()
    digest = Digest(
        subscription_id=sub_id, channel_id="C1", message_ts=pending, chatroom_ids=chatroom_ids, posted_at=NOW
    )
    store.begin_digest(digest, [record(sub_id, i, pending) for i in chatroom_ids])
    store.stamp_digest(sub_id, pending, ts)


def kinds(store: Store, team: str = "T1") -> list[tuple[str, int]]:
    return [(e.kind, e.chatroom_id) for e in store.history(team, NOW - timedelta(days=30))]


def test_a_digest_is_history_once_posted_and_never_when_dropped(store: Store) -> None:
    sub_id = subscription(store)
    pending = new_pending_ts()
    digest = Digest(subscription_id=sub_id, channel_id="C1", message_ts=pending, chatroom_ids=[1, 2], posted_at=NOW)
    store.begin_digest(digest, [record(sub_id, 1, pending), record(sub_id, 2, pending)])
    assert kinds(store) == []  # an intent is not an alert: it may never reach Slack
    assert store.drop_digest(sub_id, pending) == 2
    assert kinds(store) == []
    post(store, sub_id, [1, 2])
    events = store.history("T1", NOW - timedelta(days=1))
    assert [(e.kind, e.chatroom_id) for e in events] == [("alerted", 1), ("alerted", 2)]
    first = events[0]
    assert (first.team_id, first.subscription_id, first.channel_id, first.business_id) == ("T1", sub_id, "C1", 9001)
    assert first.at == NOW and first.waiting_since == VISIT and first.stale_at == VISIT + timedelta(hours=4)
    store.put_alert(store.get_alert(sub_id, 1))  # type: ignore[arg-type]  # rewriting the same state adds nothing
    assert len(kinds(store)) == 2


def test_a_room_stale_before_the_alerts_were_set_up_counts_from_then(store: Store) -> None:
    sub_id = subscription(store, created_at=NOW - timedelta(minutes=10))  # stale since 11:00, watched from 11:50
    post(store, sub_id, [1])
    [alerted] = store.history("T1", NOW)
    assert alerted.stale_at == NOW - timedelta(minutes=10) and alerted.waiting_since == VISIT


def test_many_rows_of_one_digest_are_recorded_once_each(store: Store) -> None:
    sub_id = subscription(store)
    post(store, sub_id, list(range(1, 31)))  # past the batch size that reads the rows with one range read
    assert kinds(store) == [("alerted", i) for i in range(1, 31)]


def test_resolve_escalate_snooze_and_a_refused_escalation(store: Store) -> None:
    sub_id = subscription(store)
    post(store, sub_id, [1, 2, 3])
    rec1, rec2, rec3 = (store.get_alert(sub_id, i) for i in (1, 2, 3))
    assert rec1 is not None and rec2 is not None and rec3 is not None
    later = NOW + timedelta(hours=1)
    store.put_alert(rec1.model_copy(update={"escalated_at": later}))
    store.put_alert(rec1.model_copy(update={"escalated_at": later, "escalation_ts": "1.2"}))  # the post's ts
    store.put_alert(rec2.model_copy(update={"escalated_at": later}))
    store.put_alert(rec2)  # Slack refused the escalation: un-recorded
    store.snooze(sub_id, 3, later + timedelta(hours=1), now=later)
    escalated = store.get_alert(sub_id, 1)
    assert escalated is not None
    store.put_alerts([escalated.model_copy(update={"resolved_at": later + timedelta(minutes=30), "resolved_by": "U9"})])
    events = store.history("T1", NOW)
    assert [(e.kind, e.chatroom_id) for e in events] == [
        ("alerted", 1),
        ("alerted", 2),
        ("alerted", 3),
        ("escalated", 1),
        ("escalated", 2),
        ("unescalated", 2),
        ("snoozed", 3),
        ("resolved", 1),
    ]
    assert events[-1].by == "U9" and events[-2].until == later + timedelta(hours=1)
    waits = {w.chatroom_id: w for w in fold_waits(events)}
    assert waits[1].escalated_at == later and waits[2].escalated_at is None
    assert waits[1].resolved_by == "U9" and not waits[1].watched and waits[2].watched
    assert waits[3].snoozes == 1


def test_a_channel_told_through_a_sibling_subscription_is_one_wait(store: Store) -> None:
    first = subscription(store, threshold=240)
    second = subscription(store, threshold=60)
    post(store, first, [1])
    covered = record(second, 1, "1764072000.000100", alerted_at=NOW + timedelta(minutes=5))
    store.put_alerts([covered])
    events = store.history("T1", NOW)
    assert [(e.kind, e.subscription_id) for e in events] == [("alerted", first), ("alerted", second)]
    [wait] = fold_waits(events)
    assert wait.alerted_at == NOW and wait.stale_at == VISIT + timedelta(hours=1)  # the earliest threshold


def test_unsubscribing_stops_watching_and_keeps_the_history(store: Store) -> None:
    sub_id = subscription(store)
    post(store, sub_id, [1, 2])
    rec2 = store.get_alert(sub_id, 2)
    assert rec2 is not None
    store.put_alert(rec2.model_copy(update={"resolved_at": NOW + timedelta(minutes=10)}))
    assert store.remove_subscription("T1", sub_id, now=NOW + timedelta(hours=1))
    assert kinds(store) == [("alerted", 1), ("alerted", 2), ("resolved", 2), ("unwatched", 1)]
    assert [w.watched for w in fold_waits(store.history("T1", NOW))] == [False, False]


def test_a_room_of_a_business_the_alerts_no_longer_follow_is_unwatched_not_visited(store: Store) -> None:
    sub_id = subscription(store, business_id=9001)
    post(store, sub_id, [1, 2])
    store.change_subscription("T1", sub_id, lambda sub, _: sub.model_copy(update={"business_id": 9002}))
    later = NOW + timedelta(minutes=10)
    one, two = store.get_alert(sub_id, 1), store.get_alert(sub_id, 2)
    assert one is not None and two is not None
    store.put_alerts([one.model_copy(update={"resolved_at": later})])  # the scan stopped finding it
    store.put_alert(two.model_copy(update={"resolved_at": later, "resolved_by": "U9"}))  # a click: a visit
    assert kinds(store)[2:] == [("unwatched", 1), ("resolved", 2)]


def test_history_is_per_team_and_by_time(store: Store) -> None:
    mine, theirs = subscription(store, team="T1"), subscription(store, team="T2")
    post(store, mine, [1])
    post(store, theirs, [2])
    assert kinds(store, "T1") == [("alerted", 1)]
    assert kinds(store, "T2") == [("alerted", 2)]
    assert store.history("T1", NOW + timedelta(seconds=1)) == []  # a window starting after it
    assert store.history("T1", NOW - timedelta(days=1), until=NOW) == []  # [since, until)
    assert len(store.history("T1", NOW - timedelta(days=1), until=NOW + timedelta(microseconds=1))) == 1
    assert store.history("T", NOW - timedelta(days=30)) == []  # a prefix of a team id is not that team


def test_a_removed_subscription_writes_no_history(store: Store) -> None:
    sub_id = subscription(store)
    store.remove_subscription("T1", sub_id)
    store.put_alerts([record(sub_id, 1, "1764072000.000100")])  # the worker, after the removal
    assert kinds(store) == []


def test_the_history_survives_a_restart(store_where: Path | str) -> None:
    with Store(store_where, fernet_from_setting(KEY)) as first:
        sub_id = subscription(first)
        post(first, sub_id, [1])
    with Store(store_where, fernet_from_setting(KEY)) as again:
        assert [e.kind for e in again.history("T1", NOW - timedelta(days=1))] == ["alerted"]


def test_entries_past_the_retention_are_removed_when_the_team_writes_again(store_where: Path | str) -> None:
    with Store(store_where, fernet_from_setting(KEY), history_retention=timedelta(days=10)) as store:
        sub_id, other = subscription(store), subscription(store, team="T2")
        post(store, sub_id, [1])
        post(store, other, [5])
        later = NOW + timedelta(days=10, minutes=1)
        store.put_alerts([record(sub_id, 2, "1765000000.000100", alerted_at=later)])
        assert [e.chatroom_id for e in store.history("T1", NOW - timedelta(days=30))] == [2]
        # Another team's entries go when that team writes (each write prunes its own team: a bounded cost).
        assert [e.chatroom_id for e in store.history("T2", NOW - timedelta(days=30))] == [5]


class _FailingHistory:
    """A backend whose transactions refuse to write history entries: what a crash between the two writes
    would leave, if they were two transactions."""

    def __init__(self, inner: Tables) -> None:
        self.inner = inner
        self.where = inner.where
        self.lost_key_hint = inner.lost_key_hint

    def read(self) -> AbstractContextManager[Tx]:
        return self.inner.read()

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        with self.inner.write() as tx:
            original = tx.put

            def put(table: str, key: str, value: object) -> None:
                if table == "alert_history":
                    raise OSError("disk full")
                original(table, key, value)

            tx.put = put  # type: ignore[method-assign]
            yield tx

    def close(self) -> None:
        self.inner.close()

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        return self.inner.exclusive(name)


def test_an_alert_and_its_history_are_written_together_or_not_at_all(store_where: Path | str) -> None:
    with Store(store_where, fernet_from_setting(KEY)) as plain:
        sub_id = subscription(plain)
    with Store(_FailingHistory(open_tables(store_where)), fernet_from_setting(KEY)) as failing:
        with pytest.raises(OSError):
            failing.put_alerts([record(sub_id, 1, "1764072000.000100")])
        assert failing.get_alert(sub_id, 1) is None  # rolled back with its history entry
        assert failing.snooze(sub_id, 1, NOW) is None
