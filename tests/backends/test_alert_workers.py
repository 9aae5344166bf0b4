"""Several `python -m bot alerts` processes: each interval's cycle is run by exactly one, cycles never overlap,
and a worker killed mid-cycle is replaced on the next cycle (on the SQLite file: one machine; PostgreSQL: any)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet

from bot.store import Store, fernet_from_setting

ROOT = Path(__file__).resolve().parents[2]

HOLDER = r"""
import sys, time
from bot.store import Store, fernet_from_setting
where, key, slot = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store(where, fernet_from_setting(key)) as st, st.alert_cycle(slot) as mine:
    print("mine" if mine else "not mine", flush=True)
    time.sleep(60)  # "mid-cycle": killed here by the test
"""


def test_each_cycle_is_run_by_exactly_one_worker_and_never_overlaps(store_where: Path | str) -> None:
    key = fernet_from_setting(Fernet.generate_key().decode())
    with Store(store_where, key) as a, Store(store_where, key) as b:
        with a.alert_cycle(5) as a_runs:
            assert a_runs
            with b.alert_cycle(5) as b_runs:
                assert not b_runs  # the same cycle: never twice
            with b.alert_cycle(6) as b_runs:
                assert not b_runs  # the next one while the first still runs: never overlapping
        with b.alert_cycle(5) as b_runs:
            assert not b_runs  # already done by a
        with b.alert_cycle(6) as b_runs:
            assert b_runs
        with a.alert_cycle(None) as a_runs:  # no interval: any worker when none is running
            assert a_runs


def test_many_workers_racing_for_one_cycle_run_it_once(store_where: Path | str) -> None:
    key = fernet_from_setting(Fernet.generate_key().decode())
    stores = [Store(store_where, key) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    ran: list[bool] = []
    try:

        def race(st: Store) -> None:
            barrier.wait(timeout=10)
            with st.alert_cycle(42) as mine:
                time.sleep(0.05)
                ran.append(mine)

        threads = [threading.Thread(target=race, args=(st,)) for st in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        for st in stores:
            st.close()
    assert len(ran) == 4 and sum(ran) == 1


def test_a_worker_killed_mid_cycle_is_replaced_on_the_next_cycle(store_where: Path | str) -> None:
    key = Fernet.generate_key().decode()
    Store(store_where, fernet_from_setting(key)).close()  # created (and, on PostgreSQL, migrated) beforehand
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store_where), key, "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mine"
        with Store(store_where, fernet_from_setting(key)) as other:
            with other.alert_cycle(2) as runs:
                assert not runs  # the first worker is still in its cycle
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            with other.alert_cycle(1) as runs:
                assert not runs  # the killed worker's cycle is not run again ...
            # ... the next one is run by the survivor. PostgreSQL frees a dead client's session lock once its
            # backend sees the socket closed, a few ms after the kill (a real worker's next cycle is a minute later).
            took_over = False
            for _ in range(50):
                with other.alert_cycle(2) as runs:
                    took_over = runs
                if took_over:
                    break
                time.sleep(0.1)
            assert took_over
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
