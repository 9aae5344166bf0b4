"""HTTP mode under load: `python -m bot run` (or gunicorn) in its own process, hit by a burst and by idle clients.

1. **Burst**: `--burst` (200) signed `/chatrooms whoami` commands sent at the same moment, each on its own
   connection: how many got an HTTP answer, how many were reset/refused/timed out, and the answer times.
2. **Idle and half-sent connections**: `--idle` (400) connections, half sending nothing and half stopping
   half-way through their headers or body. The server's thread count while they are open, the time a genuine
   request takes meanwhile, and both again after `--hold` seconds (the server's idle/read timeouts).

    .venv/bin/python bench/http_server_load.py [--burst 200] [--idle 400] [--hold 15] [--server run|gunicorn]
    PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/http_server_load.py   # measure another version
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from _common import SIGNING_SECRET, header, percentile, table
from cryptography.fernet import Fernet

from bot.console import signing
from bot.console.fake_slack import FakeSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(server: str, port: int, fake: FakeSlack, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "NEXUDUS_BASE_URL": "http://127.0.0.1:9/api",  # whoami needs no Nexudus call
        "STORE_PATH": str(workdir / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    if server == "gunicorn":
        cmd = [sys.executable, "-m", "gunicorn", "bot.web:app", "--workers", "1", "--threads", "8"]
        cmd += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    else:
        cmd = [sys.executable, "-m", "bot", "run", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the app did not start listening")


def app_threads(proc: subprocess.Popen[bytes]) -> int:
    """Threads of the serving process (gunicorn: its worker, the arbiter's child)."""
    pids = [proc.pid]
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                total = max(total, int(line.split()[1]))
    return total


def command_body(fake: FakeSlack, user: str) -> str:
    return signing.slash_command_body(
        "/chatrooms", "whoami", user, "T0001", "C0001", fake.response_url("bench"), signing.new_trigger_id()
    )


def one_request(port: int, body: str, timeout: float = 30.0) -> tuple[str, float]:
    """('200', seconds) or (the error's name, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=signing.signed_headers(body, SIGNING_SECRET))
        response = conn.getresponse()
        response.read()
        return str(response.status), time.monotonic() - started
    except Exception as exc:
        return type(exc).__name__, time.monotonic() - started
    finally:
        conn.close()


def burst(port: int, fake: FakeSlack, n: int) -> dict[str, Any]:
    bodies = [command_body(fake, f"UB{i:04d}") for i in range(n)]
    results: list[tuple[str, float]] = [("not run", 0.0)] * n
    gate = threading.Barrier(n)

    def send(i: int) -> None:
        gate.wait()
        results[i] = one_request(port, bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    outcomes: dict[str, int] = {}
    for outcome, _ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    times = [s for o, s in results if o == "200"]
    return {"outcomes": outcomes, "p50": percentile(times, 50), "p95": percentile(times, 95), "max": max(times or [0])}


def hold_connections(port: int, n: int) -> list[socket.socket]:
    """n connections: a third silent, a third stopped mid-headers, a third stopped mid-body."""
    held = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        kind = i % 3
        if kind == 1:
            s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Ty")
        elif kind == 2:
            s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\npayload=%7B")
        held.append(s)
    return held


def closed_by_server(held: list[socket.socket]) -> int:
    closed = 0
    for s in held:
        s.setblocking(False)
        try:
            data = s.recv(1024)
            closed += 1 if data == b"" or data.startswith(b"HTTP/") else 0
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--idle", type=int, default=400)
    parser.add_argument("--hold", type=float, default=15.0, help="seconds to keep the idle connections open")
    parser.add_argument("--server", choices=["run", "gunicorn"], default="run")
    args = parser.parse_args()
    header(f"HTTP mode under load ({'python -m bot run' if args.server == 'run' else 'gunicorn gthread 1×8'})")
    print(f"code under test: {os.environ.get('PYTHONPATH') or 'this checkout'}")
    with TemporaryDirectory() as tmp, FakeSlack() as fake:
        port = free_port()
        proc = start_app(args.server, port, fake, Path(tmp))
        try:
            one_request(port, command_body(fake, "UWARM"))
            base_threads = app_threads(proc)
            result = burst(port, fake, args.burst)
            outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(result["outcomes"].items()))
            table(
                [[args.burst, result["outcomes"].get("200", 0), outcomes, f"{result['p50'] * 1000:.0f}",
                  f"{result['p95'] * 1000:.0f}", f"{result['max'] * 1000:.0f}"]],
                ["burst", "answered 200", "outcomes", "p50 ms", "p95 ms", "max ms"],
            )  # fmt: skip
            time.sleep(2)
            idle_base = app_threads(proc)
            held = hold_connections(port, args.idle)
            time.sleep(2)
            during_threads = app_threads(proc)
            during = one_request(port, command_body(fake, "UDURING"), timeout=args.hold + 30)
            time.sleep(max(0.0, args.hold - 2))
            after_threads = app_threads(proc)
            closed = closed_by_server(held)
            after = one_request(port, command_body(fake, "UAFTER"))
            for s in held:
                s.close()
            print()
            table(
                [
                    ["before", base_threads, "", ""],
                    ["after the burst (idle)", idle_base, "", ""],
                    [f"{args.idle} idle/half-sent open, 2 s", during_threads, f"{during[0]} in {during[1]:.2f} s", ""],
                    [f"same, {args.hold:.0f} s", after_threads, f"{after[0]} in {after[1]:.2f} s", closed],
                ],
                ["moment", "server threads", "a genuine request", f"of {args.idle} closed by server"],
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
