"""`/chatrooms …` text → a typed intent.

A pure function of (text, now, zone), so it can be fuzzed: every mistake a user can type becomes a
`GrammarError` that quotes the offending token and carries the right usage line, never any other
exception. Messages, usage lines and help text are Slack mrkdwn, already escaped.

    intents.py   what parsing produces: the intents, GrammarError, the limits
    lexer.py     text → tokens; Slack escaping; quoting a token in a message
    dates.py     typed dates and ages → aware datetimes (and back)
    values.py    ids, yes/no, names, bounded numbers
    filters.py   THE table of `list`/`search` filters (and sort fields), and parsing them
    commands.py  the other subcommands' arguments (show, edit, create, run, alerts, stats, …)
    help.py      one row per subcommand: summary, usage, details, aliases; the help text
    parser.py    parse_command: dispatch to the subcommand's parser
    format.py    a ListIntent back to words (list header) and to command text (Previous/Next)
"""

from bot.slack.grammar.audit import audit_text
from bot.slack.grammar.commands import EDIT_KEYS
from bot.slack.grammar.format import describe_filters, to_text
from bot.slack.grammar.help import HELP_TOPICS, SHORT_USAGE, USAGE, help_text
from bot.slack.grammar.intents import (
    COMMAND,
    INTERNAL_MESSAGE,
    AlertsChangeIntent,
    AlertsListIntent,
    AlertsSubscribeIntent,
    AlertsUnsubscribeIntent,
    AuditChannelIntent,
    AuditIntent,
    CommandsIntent,
    CreateIntent,
    DeleteIntent,
    EditIntent,
    EditNowIntent,
    GrammarError,
    HelpIntent,
    Intent,
    ListIntent,
    LoginIntent,
    LogoutIntent,
    RunIntent,
    ShowIntent,
    StatsIntent,
    WhoamiIntent,
)
from bot.slack.grammar.parser import parse_command

__all__ = [
    "COMMAND",
    "EDIT_KEYS",
    "HELP_TOPICS",
    "INTERNAL_MESSAGE",
    "SHORT_USAGE",
    "USAGE",
    "AlertsChangeIntent",
    "AlertsListIntent",
    "AlertsSubscribeIntent",
    "AlertsUnsubscribeIntent",
    "AuditChannelIntent",
    "AuditIntent",
    "CommandsIntent",
    "CreateIntent",
    "DeleteIntent",
    "EditIntent",
    "EditNowIntent",
    "GrammarError",
    "HelpIntent",
    "Intent",
    "ListIntent",
    "LoginIntent",
    "LogoutIntent",
    "RunIntent",
    "ShowIntent",
    "StatsIntent",
    "WhoamiIntent",
    "audit_text",
    "describe_filters",
    "help_text",
    "parse_command",
    "to_text",
]
