"""Time-to-ack of the real app while Nexudus takes 10 s to answer, next to a bare Bolt app that only acks.

Both apps run behind the same server stack (`bot.web.serve`, signed requests over loopback, Bolt's
signature check, the same `App` options); the real app's slow work is lazy and meets a sandbox slowed
to 10 s per request. Slack gives an app 3 s to ack.

    .venv/bin/python bench/ack_latency.py [--per-kind 60] [--delay 10]
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import ADMIN, SIGNING_SECRET, bare_bolt_app, header, percentile, table, wait_quiet
from cryptography.fernet import Fernet
from slack_bolt import App
from slack_sdk import WebClient

from bot.console.driver import AckResponse, SlackDriver
from bot.console.fake_slack import FakeSlack
from bot.console.render import initial_state, render_modal
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack import ids
from bot.slack.app import build_app
from bot.web import serve
from bot.wiring import build_deps

ROOM = 1_000_001


def bare_app(like: App, fake: FakeSlack) -> App:
    """A Bolt app with the real app's options whose every listener only acks."""
    client = WebClient(token="xoxb-bench", base_url=fake.api_url)
    return bare_bolt_app(client, SIGNING_SECRET, process_before_response=like._process_before_response)


def start(bolt: App) -> tuple[str, Callable[[], None]]:
    server = serve(bolt, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}/slack/events", stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=60, help="requests per kind and per app (default 60)")
    parser.add_argument("--delay", type=float, default=10.0, help="seconds the sandbox takes per request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)

    with TemporaryDirectory() as tmp, FakeSlack() as fake:
        sandbox = SandboxServer(config=SandboxConfig(throttle=False)).start()
        settings = Settings(
            nexudus_base_url=sandbox.url,
            slack_api_url=fake.api_url,
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SIGNING_SECRET,
            store_path=Path(tmp) / "store.sqlite",
            store_key=Fernet.generate_key().decode(),
            nexudus_pacing=False,
            nexudus_retries=0,
            _env_file=None,  # type: ignore[call-arg]
        )
        deps = build_deps(settings, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)))
        real = build_app(deps)
        real_url, stop_real = start(real)
        bare_url, stop_bare = start(bare_app(real, fake))
        drivers = {
            "app": SlackDriver(real_url, SIGNING_SECRET, fake),
            "bare": SlackDriver(bare_url, SIGNING_SECRET, fake),
        }
        try:
            deps.services.login(drivers["app"].team_id, drivers["app"].user_id, *ADMIN)
            # The edit form, fetched while the sandbox is still fast.
            drivers["app"].command(f"edit {ROOM}")
            form = fake.wait_for("views.update", timeout=10)[-1].response["view"]
            values = {f.block_id: {f.action_id: initial_state(f)} for f in render_modal(form).fields}
            values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Renamed under load"}}
            sandbox.config.delay = args.delay

            kinds: dict[str, Callable[[SlackDriver, int], AckResponse]] = {
                # A user per command: one user's 11th pending command is refused in the ack (bot/slack/lanes.py),
                # which would measure the refusal instead of the command's ack.
                "slash `list`": lambda d, i: d.as_user(f"UL{i:04d}").command("list"),
                "button Next page": lambda d, i: d.click(ids.LIST_PAGE, "list page:2"),
                "button Edit": lambda d, i: d.click(ids.EDIT, str(ROOM)),
                "edit form submit": lambda d, i: d.submit(form | {"hash": f"h{i}"}, values),
            }
            samples: dict[tuple[str, str], list[float]] = {(k, a): [] for k in kinds for a in drivers}
            statuses: dict[str, int] = {"app": 0, "bare": 0}
            started = time.monotonic()
            for i in range(args.per_kind):
                for kind, send in kinds.items():
                    order = ("app", "bare") if i % 2 == 0 else ("bare", "app")
                    for who in order:
                        t0 = time.perf_counter()
                        ack = send(drivers[who], i)
                        samples[(kind, who)].append(time.perf_counter() - t0)
                        statuses[who] += ack.status != 200
            elapsed = time.monotonic() - started
        finally:
            # Cut the slow sandbox: lazy listeners still waiting on it fail fast and report to the fake Slack.
            sandbox.config.delay = 0
            sandbox.stop()
            wait_quiet(fake, idle=0.5, limit=30)
            stop_real()
            stop_bare()
            deps.store.close()

    header("Ack latency under a 10 s Nexudus")
    total = args.per_kind * len(kinds)
    print(
        f"{total} requests per app ({args.per_kind} per kind, alternating app/bare), sandbox delay {args.delay:g} s, "
        f"process_before_response={real._process_before_response}, run took {elapsed:.1f} s; "
        f"non-200 acks: app {statuses['app']}, bare {statuses['bare']}\n"
    )
    rows = []
    for kind in kinds:
        a, b = samples[(kind, "app")], samples[(kind, "bare")]
        rows.append(
            [
                kind,
                f"{percentile(a, 50) * 1000:.1f}",
                f"{percentile(a, 99) * 1000:.1f}",
                f"{percentile(b, 50) * 1000:.1f}",
                f"{percentile(b, 99) * 1000:.1f}",
                f"{(percentile(a, 99) - percentile(b, 99)) * 1000:+.1f}",
                f"{percentile(a, 99) / percentile(b, 99):.2f}×",
            ]
        )
    table(
        rows,
        ["request", "app p50 ms", "app p99 ms", "bare p50 ms", "bare p99 ms", "p99 app − bare ms", "p99 ratio"],
    )
    worst = max(percentile(samples[(k, "app")], 99) for k in kinds)
    print(f"\nworst app p99: {worst * 1000:.1f} ms (Slack's limit: 3000 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
