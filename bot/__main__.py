"""`python -m bot <subcommand>` (also the `chatrooms-bot` script): one entry point for every process."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function, one-line help)
    "console": ("bot.console.repl:main", "try the app locally: the embedded sandbox and a console in place of Slack"),
    "run": ("bot.runner:main", "run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on --port)"),
    "alerts": ("bot.worker:main", "run the stale-visit alert worker (--once for a single cycle)"),
    "sandbox": ("bot.sandbox.server:main", "run the local Nexudus sandbox on 127.0.0.1"),
    "migrate": ("bot.store.cli:migrate_main", "create or upgrade the PostgreSQL store's schema (DATABASE_URL)"),
    "rotate-keys": ("bot.store.cli:rotate_keys_main", "re-encrypt every saved login under the first key of STORE_KEY"),
    "doctor": ("bot.doctor:main", "check a live Nexudus login (and the Slack token) works: one line per check"),
}


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, _, function = target.partition(":")
    module = __import__(module_name, fromlist=[function])
    return getattr(module, function)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Slack chat-ops for Nexudus support chatrooms.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="subcommands:\n" + "\n".join(f"  {name:<11} {text}" for name, (_, text) in SUBCOMMANDS.items()),
    )
    parser.add_argument("subcommand", choices=sorted(SUBCOMMANDS), metavar="subcommand", help="see below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the subcommand's own options (try: sandbox --help)")
    if not argv:
        parser.print_help()
        return 2
    ns = parser.parse_args(argv[:1])
    target, _ = SUBCOMMANDS[ns.subcommand]
    try:
        return _load(target)(argv[1:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
