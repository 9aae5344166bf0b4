"""One user's burst of 200 `/chatrooms list` against another user's answer times (issue 12.12).

The real Bolt app over HTTP with pacing at Nexudus' real limits, a sandbox in its own process enforcing them
(throttle on, `--delay` s a round trip), a fake Slack. User A (admin account) sends 200 `list` commands as
fast as the acks come back; meanwhile user B (another Nexudus account) asks `whoami` and `list` in turn every
0.5 s. Prints B's p50/p95/max answer times (command sent → answer at the response_url) and what A saw.

    .venv/bin/python bench/fair_burst.py [--burst 200] [--delay 0.1] [--app-root DIR]

`--app-root /path/to/other/checkout` runs another checkout's `bot` package (e.g. main before the fix).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import ADMIN, SIGNING_SECRET, header, percentile, sandbox_process, table

READER = ("reader@sandbox.local", "sandbox-reader")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--senders", type=int, default=8, help="threads sending A's commands")
    parser.add_argument("--delay", type=float, default=0.1, help="the sandbox's answer time (a Nexudus round trip)")
    parser.add_argument("--samples", type=int, default=16, help="B's whoami and list samples, each")
    parser.add_argument("--app-root", type=Path, default=None, help="import `bot` from this checkout instead")
    args = parser.parse_args(argv)
    if args.app_root:
        sys.path.insert(0, str(args.app_root.resolve()))
    logging.basicConfig(level=logging.CRITICAL)

    from cryptography.fernet import Fernet

    import bot
    from bot.console import signing
    from bot.console.fake_slack import FakeSlack
    from bot.settings import Settings
    from bot.slack.app import build_app
    from bot.web import serve
    from bot.wiring import build_deps

    code = str(Path(bot.__file__).resolve().parent.parent)
    with (
        sandbox_process("--delay", str(args.delay)) as sandbox,
        FakeSlack() as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = Settings(
            nexudus_base_url=sandbox.url,
            slack_api_url=fake.api_url,
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SIGNING_SECRET,
            store_path=Path(tmp) / "store.sqlite",
            store_key=Fernet.generate_key().decode(),
            nexudus_pacing=True,
            _env_file=None,  # type: ignore[call-arg]
        )
        deps = build_deps(settings)
        server = serve(build_app(deps), port=0)
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        serving.start()
        url = f"http://127.0.0.1:{server.server_port}/slack/events"
        deps.services.login("T1", "UA", *ADMIN)
        deps.services.login("T1", "UB", *READER)
        import requests

        http = threading.local()

        def send(user: str, text: str, target: str) -> tuple[float, str]:
            body = signing.slash_command_body(
                "/chatrooms", text, user, "T1", "C1", fake.response_url(target), signing.new_trigger_id()
            )
            if not hasattr(http, "s"):
                http.s = requests.Session()
            sent = time.time()
            response = http.s.post(url, data=body.encode(), headers=signing.signed_headers(body, SIGNING_SECRET))
            return sent, response.text

        answers: dict[str, float] = {}
        lock = threading.Lock()

        def collect() -> None:
            seen = 0
            while not stop.is_set():
                calls = fake.calls("response_url")
                with lock:
                    for call in calls[seen:]:
                        answers.setdefault(call.target or "", call.at)
                seen = len(calls)
                time.sleep(0.01)

        stop = threading.Event()
        collector = threading.Thread(target=collect, daemon=True)
        collector.start()

        acks: dict[int, tuple[float, str]] = {}

        def sender(k: int) -> None:
            for i in range(k, args.burst, args.senders):
                acks[i] = send("UA", "list", f"a{i}")

        started = time.time()
        senders = [threading.Thread(target=sender, args=(k,)) for k in range(args.senders)]
        for t in senders:
            t.start()
        b_sent: list[tuple[str, float]] = []
        for n in range(2 * args.samples):
            kind = "whoami" if n % 2 == 0 else "list"
            target = f"b-{kind}-{n}"
            sent, _ = send("UB", kind, target)
            b_sent.append((target, sent))
            if kind == "whoami":  # the bursting user's own command that needs no Nexudus call
                own = f"own-whoami-{n}"
                own_sent, _ = send("UA", "whoami", own)
                b_sent.append((own, own_sent))
            time.sleep(0.5)
        for t in senders:
            t.join()

        def answered(target: str) -> float | None:
            with lock:
                return answers.get(target)

        deadline = time.time() + 240
        refused = {i for i, (_, text) in acks.items() if "requests waiting" in text}
        expected = [f"a{i}" for i in range(args.burst) if i not in refused] + [t for t, _ in b_sent]
        while time.time() < deadline and any(answered(t) is None for t in expected):
            time.sleep(0.2)
        stop.set()
        elapsed = time.time() - started
        server.shutdown()
        server.server_close()

    def times(kind: str) -> list[float]:
        out = []
        for target, sent in b_sent:
            if target.startswith(f"b-{kind}-"):
                at = answers.get(target)
                out.append(at - sent if at is not None else float("inf"))
        return out

    who, lst = times("whoami"), times("list")
    own = [answers[t] - sent if t in answers else float("inf") for t, sent in b_sent if t.startswith("own-")]
    a_answered = [answers[f"a{i}"] - acks[i][0] for i in range(args.burst) if f"a{i}" in answers]
    silent = args.burst - len(refused) - len(a_answered)
    header("Fair burst: one user's 200 list commands vs another user's answers")
    print(
        f"code: {code}; sandbox round trip {args.delay * 1000:.0f} ms, throttle on; pacing at Nexudus' real limits "
        f"(100 ms, 120/min); A sends {args.burst} `list` from {args.senders} threads\n"
    )
    fmt = lambda xs: f"{percentile(xs, 50):.2f} / {percentile(xs, 95):.2f} / {max(xs):.2f} s"  # noqa: E731
    rows: list[list[Any]] = [
        ["B `whoami` p50 / p95 / max", fmt(who)],
        ["B `list` p50 / p95 / max", fmt(lst)],
        ["A's own `whoami` during its burst p50 / p95 / max", fmt(own)],
        ["A: answered with the list", len(a_answered)],
        ['A: refused at once with "N requests waiting"', len(refused)],
        ["A: silent (no answer within the run)", silent],
        ["A: answer time p50 / p95 (accepted ones)", fmt(a_answered) if a_answered else "-"],
        ["run time", f"{elapsed:.0f} s"],
    ]
    table(rows, ["measure", "value"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
