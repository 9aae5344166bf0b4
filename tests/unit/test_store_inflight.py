"""Work in flight in the store, on both backends: recorded encrypted, forgotten when told, and a dead process's
entries claimed by exactly one live process — never a live process's."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.store import Store, fernet_from_setting
from bot.store.inflight import MAX_ATTEMPTS, InFlight, inflight_key

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ORPHAN = timedelta(seconds=30)
SECRET_URL = "https://hooks.slack.com/actions/T1/123/s3cr3t-response-url"


def work(owner: str, at: datetime = NOW, **kw: object) -> InFlight:
    fields: dict[str, object] = {
        "kind": "edit",
        "chatroom_ids": [1000001],
        "changes": {"name": "Front desk"},
        "answer": {"response_url": SECRET_URL, "view_id": "V1", "placeholder": False},
    }
    fields.update(kw)
    return InFlight(key=inflight_key(at), owner=owner, started_at=at, team_id="T1", user_id="U1", **fields)  # type: ignore[arg-type]


def raw_rows(store: Store) -> str:
    with store.tables.read() as tx:
        return repr(tx.scan("inflight"))


def test_work_is_recorded_encrypted_read_back_whole_and_forgotten_when_told(store: Store) -> None:
    entry = store.begin_work(work("A"))
    assert [w.model_dump() for w in store.inflight()] == [entry.model_dump()]
    stored = raw_rows(store)
    assert SECRET_URL not in stored and "Front desk" not in stored and "user_id" not in stored  # sealed
    assert store.end_work(entry.key) is True
    assert store.inflight() == [] and store.end_work(entry.key) is False


def test_a_live_owners_work_is_never_claimed_however_old_the_work(store: Store) -> None:
    store.heartbeat("A", NOW + timedelta(minutes=10))
    store.begin_work(work("A", at=NOW))
    assert store.claim_orphans("B", NOW + timedelta(minutes=10, seconds=29), ORPHAN) == []
    assert [w.owner for w in store.inflight()] == ["A"]


def silent_since(store: Store, process_id: str, at: datetime) -> None:
    """A heartbeat last written at `at` (before NOW, and before the database's clock on PostgreSQL, which is
    what a shared database compares heartbeats with): its process has been silent since."""
    at = min(at, datetime.now(UTC) - timedelta(minutes=5))
    with store.tables.write() as tx:
        tx.put("processes", process_id, {"beat": at.isoformat()})


def test_a_silent_owners_work_is_claimed_once_by_the_first_sweeper_and_the_second_gets_nothing(store: Store) -> None:
    silent_since(store, "A", NOW)
    store.heartbeat("B", NOW + timedelta(seconds=31))
    store.heartbeat("C", NOW + timedelta(seconds=31))
    entry = store.begin_work(work("A"))
    later = NOW + timedelta(seconds=31)
    claimed = store.claim_orphans("B", later, ORPHAN)
    assert [(w.key, w.owner, w.attempts) for w in claimed] == [(entry.key, "B", 1)]
    assert claimed[0].answer["response_url"] == SECRET_URL and claimed[0].changes == {"name": "Front desk"}
    assert store.claim_orphans("C", later, ORPHAN) == []  # B is alive: its claim stands


def test_a_stopped_process_without_a_heartbeat_row_leaves_orphans_at_once(store: Store) -> None:
    store.heartbeat("A", NOW)
    store.begin_work(work("A"))
    store.end_process("A")
    assert [w.owner for w in store.claim_orphans("B", NOW, ORPHAN)] == ["B"]


def test_released_work_is_claimed_again_and_given_up_after_the_last_attempt(store: Store) -> None:
    entry = store.begin_work(work("dead"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (claimed,) = store.claim_orphans("B", NOW, ORPHAN)
        assert claimed.attempts == attempt
        assert store.release_work(entry.key)
    assert store.claim_orphans("B", NOW, ORPHAN) == []
    assert store.inflight() == []  # given up (logged), not claimed forever


def test_claims_take_the_oldest_first_up_to_the_limit(store: Store) -> None:
    keys = [store.begin_work(work("dead", at=NOW + timedelta(seconds=i))).key for i in (3, 1, 2)]
    claimed = store.claim_orphans("B", NOW + timedelta(minutes=1), ORPHAN, limit=2)
    assert [w.key for w in claimed] == sorted(keys)[:2]


def test_two_sweepers_racing_on_two_connections_claim_each_entry_exactly_once(
    store_where: Path | str, key: str
) -> None:
    with Store(store_where, fernet_from_setting(key)) as one, Store(store_where, fernet_from_setting(key)) as two:
        for i in range(30):
            one.begin_work(work("dead", at=NOW + timedelta(milliseconds=i)))
        one.heartbeat("B", NOW + timedelta(minutes=1))
        two.heartbeat("C", NOW + timedelta(minutes=1))
        got: dict[str, list[str]] = {"B": [], "C": []}
        start = threading.Barrier(2)

        def sweep(store: Store, me: str) -> None:
            start.wait()
            for _ in range(10):
                got[me] += [w.key for w in store.claim_orphans(me, NOW + timedelta(minutes=1), ORPHAN, limit=3)]

        threads = [threading.Thread(target=sweep, args=(s, me)) for s, me in ((one, "B"), (two, "C"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        claimed = got["B"] + got["C"]
        assert len(claimed) == 30 and len(set(claimed)) == 30, got


def test_rotating_keys_keeps_work_in_flight_readable_under_the_new_key(store_where: Path | str, key: str) -> None:
    with Store(store_where, fernet_from_setting(key)) as st:
        entry = st.begin_work(work("A"))
    new = Fernet.generate_key().decode()
    with Store(store_where, fernet_from_setting(f"{new},{key}")) as st:
        st.rotate_keys()
    with Store(store_where, fernet_from_setting(new)) as st:
        assert [w.key for w in st.inflight()] == [entry.key]


def test_a_dead_processs_entry_behind_many_live_ones_is_still_reached_by_the_sweep(store: Store) -> None:
    """The sweep pages through the whole table: 250 older entries of a live process never hide a dead one's."""
    for process in ("A", "B"):
        store.heartbeat(process, NOW)
    store.begin_works(work("A", at=NOW - timedelta(minutes=10) + timedelta(milliseconds=i)) for i in range(250))
    dead = store.begin_work(work("dead", at=NOW))
    claimed = store.claim_orphans("B", NOW, ORPHAN)
    assert [w.key for w in claimed] == [dead.key]
    assert len(store.inflight()) == 251 and store.claim_orphans("C", NOW, ORPHAN) == []


@pytest.mark.postgres  # the embedded store is shared by the processes of one host only: one clock
def test_on_a_shared_database_heartbeats_use_its_clock_so_a_host_whose_clock_is_behind_never_passes_for_dead(
    migrated_database_url: str, key: str
) -> None:
    with Store(migrated_database_url, fernet_from_setting(key)) as store:
        _clock_skew_between_hosts(store)


def _clock_skew_between_hosts(store: Store) -> None:
    real = datetime.now(UTC)
    store.heartbeat("A", real - timedelta(minutes=5))  # host A's clock is 5 minutes behind
    store.begin_work(work("A", at=real - timedelta(minutes=5)))
    store.heartbeat("B", real + timedelta(minutes=5))  # host B's is 5 minutes ahead
    assert store.claim_orphans("B", real + timedelta(minutes=5), ORPHAN) == [], "A beat a moment ago"
    store.end_process("A")
    assert [w.owner for w in store.claim_orphans("B", real - timedelta(minutes=5), ORPHAN)] == ["B"]


def test_entries_of_another_version_are_read_for_what_is_known_or_left_to_it_never_deleted(
    store: Store, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A rolling deploy: an older version must read this one's entries, and neither may delete the other's."""
    store.begin_work(work("dead"))
    with store.tables.read() as tx:
        ((k, row),) = tx.scan("inflight")
    plain = json.loads(Fernet(key.encode()).decrypt(row["sealed"].encode()))
    assert "again" not in plain and "name" not in plain, "unset fields are left out: an older version knows the rest"
    # A newer version's entry: a field and a kind this one does not know.
    newer = {**plain, "kind": "teleport", "colour": "blue"}
    later = inflight_key(NOW + timedelta(seconds=1))
    with store.tables.write() as tx:
        tx.put("inflight", later, {**row, "sealed": Fernet(key.encode()).encrypt(json.dumps(newer).encode()).decode()})
    claimed = store.claim_orphans("B", NOW, ORPHAN)
    assert [w.key for w in claimed] == [k], "this version's entry claimed; the newer one is not understood"
    assert later in {key_ for key_, _ in _rows(store)}, "left to the version that wrote it, not deleted"
    assert "written by another version" in caplog.text
    # A field added by a newer version to a kind this one knows: read, the field ignored.
    with store.tables.write() as tx:
        tx.put(
            "inflight",
            later,
            {**row, "sealed": Fernet(key.encode()).encrypt(json.dumps({**plain, "colour": "blue"}).encode()).decode()},
        )
    assert [w.key for w in store.inflight() if w.key == later] == [later]


def _rows(store: Store) -> list[tuple[str, object]]:
    with store.tables.read() as tx:
        return list(tx.scan("inflight"))
