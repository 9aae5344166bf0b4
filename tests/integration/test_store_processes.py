"""Two real processes (like the web app and the alert worker) writing one store file at once lose nothing."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet

from bot.nexudus.credentials import Credentials
from bot.store import Store, fernet_from_setting

WRITES = 200

CHILD = r"""
import sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from bot.nexudus.credentials import Credentials
from bot.store import AlertRecord, Store, Subscription, fernet_from_setting

db, key, name, n, ready, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
now = datetime(2024, 5, 1, tzinfo=UTC)
with Store(Path(db), fernet_from_setting(key)) as st:
    Path(ready).touch()
    deadline = time.monotonic() + 30
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.002)
    for i in range(n):
        st.save_credentials("T", f"{name}-u{i}", Credentials(f"{name}{i}@example.com", f"pw-{name}-{i}"), now)
        sub = Subscription(id=f"{name}{i:04d}", team_id=f"T-{name}", channel_id="C", created_by=f"{name}-u{i}",
                           threshold_minutes=i + 1, business_id=None, created_at=now)
        st.add_subscription(sub)
        # Both processes also hammer one shared alert row and a shared subscription's updates.
        st.put_alert(AlertRecord(subscription_id="shared", chatroom_id=1, last_agent_visit=None, channel_id="C",
                                 message_ts=f"{name}.{i}", alerted_at=now))
        st.snooze("shared", 1, now + timedelta(minutes=i))
        time.sleep(0.002)  # real callers pause between writes; lets the other process's busy-wait in
print("done", name)
"""


def test_two_processes_write_concurrently_without_losing_anything(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    key = Fernet.generate_key().decode()
    go = tmp_path / "go"
    names = ("web", "worker")
    procs: list[subprocess.Popen[str]] = []
    started = time.monotonic()
    try:
        for name in names:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, str(db), key, name, str(WRITES), str(tmp_path / name), str(go)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 30
        while not all((tmp_path / name).exists() for name in names):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "children never became ready"
            time.sleep(0.01)
        go.touch()  # both start writing at the same moment
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("done"), (out, err)
        assert "locked" not in err, err

    with Store(db, fernet_from_setting(key)) as st:
        for name in names:
            subs = st.subscriptions(f"T-{name}")
            assert len(subs) == WRITES
            assert sorted(s.threshold_minutes for s in subs) == list(range(1, WRITES + 1))
            for i in range(WRITES):
                assert st.load_credentials("T", f"{name}-u{i}") == Credentials(
                    f"{name}{i}@example.com", f"pw-{name}-{i}"
                )
        assert len(st.subscriptions()) == len(names) * WRITES
        shared = st.get_alert("shared", 1)
        assert shared is not None
        # The last write to the shared row was a complete record from one of the processes.
        assert shared.message_ts in {f"{name}.{WRITES - 1}" for name in names}
        assert shared.snoozed_until is not None
        assert shared.snoozed_until >= datetime(2024, 5, 1, tzinfo=UTC)
    assert time.monotonic() - started < 60

    # The writes really did interleave (otherwise this test would prove nothing about locking).
    with sqlite3.connect(db) as conn:
        owners = [key[:3] for (key,) in conn.execute("SELECT key FROM subscriptions ORDER BY rowid")]
    switches = sum(a != b for a, b in itertools.pairwise(owners))
    assert switches >= 2, "the two processes did not overlap"


SUBSCRIBER = r"""
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from bot.store import Store, Subscription, fernet_from_setting

where, key, name, ready, go = sys.argv[1:6]
now = datetime(2024, 5, 1, tzinfo=UTC)
with Store(where, fernet_from_setting(key)) as st:
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.002)
    made = 0
    for channel in range(40):
        sub = Subscription(team_id="T", channel_id=f"C{channel}", created_by=name, threshold_minutes=240,
                           business_id=None, created_at=now)
        made += st.subscribe_once(sub)[1]
print(made)
"""


def test_identical_subscribes_from_several_processes_make_one_subscription(
    tmp_path: Path, store_where: Path | str
) -> None:
    """On both backends: the SQLite file's write lock, or PostgreSQL's advisory lock, makes one subscription."""
    db = store_where
    key = Fernet.generate_key().decode()
    go = tmp_path / "go"
    names = ("web1", "web2", "worker")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER, str(db), key, name, str(tmp_path / name), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / name).exists() for name in names):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "children never became ready"
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(int(out) for out, _ in outputs) == 40  # each channel subscribed by exactly one process
    with Store(db, fernet_from_setting(key)) as st:
        subs = st.subscriptions("T")
    assert sorted(s.channel_id for s in subs) == sorted(f"C{i}" for i in range(40))
