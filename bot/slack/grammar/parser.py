"""`parse_command`: the whole text → an intent, dispatching to each subcommand's parser."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo

from bot.slack.grammar import commands
from bot.slack.grammar.audit import parse_audit
from bot.slack.grammar.filters import parse_list
from bot.slack.grammar.help import ALIASES, HELP_TOPICS, SHORT_USAGE, USAGE
from bot.slack.grammar.intents import (
    COMMAND,
    INTERNAL_MESSAGE,
    CommandsIntent,
    DeleteIntent,
    GrammarError,
    HelpIntent,
    Intent,
    LoginIntent,
    LogoutIntent,
    WhoamiIntent,
)
from bot.slack.grammar.lexer import Token, clean, did_you_mean, preprocess, q, tokenize

log = logging.getLogger(__name__)

Parser = Callable[[Sequence[Token], datetime, tzinfo], Intent]


def _args_only(parse: Callable[[Sequence[Token]], Intent]) -> Parser:
    return lambda args, now, zone: parse(args)


# subcommand → its parser, given the tokens after it, the time and the space's zone
_PARSERS: dict[str, Parser] = {
    "help": _args_only(commands.parse_help),
    "login": _args_only(commands.no_arguments("login", LoginIntent)),
    "logout": _args_only(commands.no_arguments("logout", LogoutIntent)),
    "whoami": _args_only(commands.no_arguments("whoami", WhoamiIntent)),
    "list": lambda args, now, zone: parse_list(args, now, zone, search=False, usage=USAGE["list"]),
    "search": lambda args, now, zone: parse_list(args, now, zone, search=True, usage=USAGE["search"]),
    "show": _args_only(commands.parse_show),
    "create": _args_only(commands.parse_create),
    "edit": commands.parse_edit,
    "delete": _args_only(lambda args: DeleteIntent(id=commands.single_id("delete", args))),
    "commands": _args_only(commands.no_arguments("commands", CommandsIntent)),
    "run": _args_only(commands.parse_run),
    "alerts": _args_only(commands.parse_alerts),
    "audit": parse_audit,
    "stats": _args_only(commands.parse_stats),
}
_ALL_COMMANDS = [*HELP_TOPICS, *ALIASES]


def parse_command(text: str, *, now: datetime, zone: tzinfo) -> Intent:
    """Command text (what follows `/chatrooms`) → an intent; anything wrong → `GrammarError`.

    `now` anchors relative dates (`2d`, `today`); `zone` is the space's zone, in which typed dates
    without an offset are read. Never raises anything but GrammarError, whatever the text.
    """
    try:
        return _parse(text, now, zone)
    except GrammarError:
        raise
    except Exception:  # a bug must not escape as a 500: the user still gets an answer
        log.exception("grammar failed on a command of %d chars", len(text) if isinstance(text, str) else -1)
        raise GrammarError(INTERNAL_MESSAGE, SHORT_USAGE) from None


def _parse(text: str, now: datetime, zone: tzinfo) -> Intent:
    if not isinstance(text, str):
        text = ""
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    text = preprocess(text)
    first = text.split(maxsplit=1)[0].lower() if text else ""
    first = ALIASES.get(first, first)
    tokens = tokenize(text, USAGE.get(first, SHORT_USAGE))
    if not tokens:
        return HelpIntent(topic=None)
    name = clean(tokens[0].text).strip().lower()
    parser = _PARSERS.get(ALIASES.get(name, name))
    if parser is None:
        raise GrammarError(
            f"{q(tokens[0].source)} is not a `{COMMAND}` command.{did_you_mean(name, _ALL_COMMANDS)}",
            SHORT_USAGE,
        )
    return parser(tokens[1:], now, zone)
