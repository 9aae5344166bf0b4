"""`python -m bot console` (and `make demo`): try the app in a minute, with a console in place of Slack.

It starts the Nexudus sandbox in-process (data kept in ``var/demo/sandbox.sqlite``; the app's store,
with the demo login and alert subscriptions, in ``var/demo/store.sqlite``), a fake Slack Web API and
the real Bolt app over HTTP on loopback, logs you in as ``admin@sandbox.local``, and reads what you
would type in Slack::

    > /chatrooms list active:true
    > 2                          (press button number 2 of the last answer; or :press Next)
    > /chatrooms edit 1000012    (the modal's fields are asked for one by one)

Options: ``--reset`` starts from fresh demo data, ``--no-throttle`` turns the sandbox's Nexudus-like
rate limits off, ``--data-dir`` moves the data, ``--log`` shows the app's logs.

Non-interactive use (how it is tested): ``--script FILE``, or lines piped on stdin. Each line is what
you would type at the prompt; blank lines and ``#`` comments are skipped between commands. When a
command opens a modal, the following lines answer its fields in order (an empty line keeps a value,
``:clear`` empties it), or one compact line fills some and submits::

    /chatrooms edit 1000012
    :submit name="Front desk (renamed)" active=n
    /chatrooms delete 1000012
    :submit

``:cancel`` closes a modal; ``:help`` lists the console's own commands.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from bot.console.session import DEFAULT_DATA_DIR, Console, ConsoleConfig, LineSource, ScriptLines, TerminalLines
from bot.sandbox.dialects import DIALECT_NAMES
from bot.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot console",
        description="Try the app locally: the Nexudus sandbox and a console in place of Slack.",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=f"where the demo data lives ({DEFAULT_DATA_DIR})"
    )
    parser.add_argument("--reset", action="store_true", help="start from fresh demo data (and a fresh login store)")
    parser.add_argument("--no-throttle", action="store_true", help="switch the sandbox's rate limits off")
    parser.add_argument(
        "--dialect",
        action="append",
        choices=DIALECT_NAMES,
        default=[],
        help="the sandbox speaks this documented variant of the API (repeatable; see `sandbox --help`)",
    )
    parser.add_argument("--script", type=Path, help="read commands from FILE instead of the keyboard")
    parser.add_argument("--log", action="store_true", help="show the app's logs on stderr (toggle with :log)")
    parser.add_argument("--no-color", action="store_true", help="plain output even on a terminal")
    parser.add_argument("--timeout", type=float, default=15.0, help="longest wait, in seconds, for an answer")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lines_in: list[str] | None = None
    if args.script is not None:
        try:
            lines_in = args.script.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"Cannot read the script {args.script}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    interactive = lines_in is None and sys.stdin.isatty()
    color = interactive and sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    config = ConsoleConfig(
        data_dir=args.data_dir,
        reset=args.reset,
        throttle=not args.no_throttle,
        dialects=tuple(args.dialect),
        color=color,
        logs=args.log,
        timeout=max(1.0, args.timeout),
    )
    lines: LineSource = (
        TerminalLines() if interactive else ScriptLines(sys.stdin if lines_in is None else lines_in, sys.stdout)
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        console = Console(config, sys.stdout)
        try:
            console.start()
        except (OSError, SettingsError) as exc:
            print(f"Cannot start the console: {exc}", file=sys.stderr)
            return 1
        try:
            print(console.banner(), flush=True)
            return console.run(lines)
        finally:
            console.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops like :quit, so the servers and the store are closed properly."""
    raise SystemExit(128 + signum)
