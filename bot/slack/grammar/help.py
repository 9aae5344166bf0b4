"""`/chatrooms help`: one row per subcommand (its summary, usage line, details and aliases), and the
filter reference derived from the filter table. `ALIASES` is the one table of subcommand aliases,
used by the parser and the help alike.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.rules import MAX_NAME
from bot.slack.grammar.dates import DATE_FORMS
from bot.slack.grammar.filters import FILTERS, SORT_FIELDS_HELP
from bot.slack.grammar.intents import COMMAND, DEFAULT_STATS_DAYS, MAX_IDS, MAX_STATS_DAYS
from bot.slack.grammar.lexer import QUOTE_LIMIT, q

_C = COMMAND


@dataclass(frozen=True)
class CommandHelp:
    """One subcommand, as the help shows it."""

    name: str
    summary: str
    usage: str  # how to write it, with an example (every error about it repeats this line)
    details: str = ""  # more, for `help NAME`
    aliases: tuple[str, ...] = ()


def _filter_help() -> str:
    lines = ['*Filters* (key:value; quote values with spaces: `name:"desk booking"`)']
    for spec in FILTERS:
        also = f" (or {' · '.join(f'`{alias}:`' for alias in spec.aliases)})" if spec.aliases else ""
        lines.append(f"• `{spec.example}`{also} — {spec.help}")
    lines.append("A day counts whole: `before:2026-11-01` is before that day starts, `after:2026-11-01` after it ends.")
    lines.append(f"*Dates D*: {DATE_FORMS}")
    lines.append(f"*Sort fields*: {SORT_FIELDS_HELP}")
    return "\n".join(lines)


_FILTER_HELP = _filter_help()

COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp(
        "help",
        "this reference, or one command's details",
        f"`{_C} help [command]` — e.g. `{_C} help list`",
        aliases=("?",),
    ),
    CommandHelp("login", "connect your Nexudus account", f"`{_C} login` (opens a form)"),
    CommandHelp("logout", "forget your Nexudus credentials", f"`{_C} logout`"),
    CommandHelp("whoami", "which Nexudus account you are using", f"`{_C} whoami`"),
    CommandHelp(
        "list",
        "list chatrooms, filtered and sorted",
        f"`{_C} list [key:value …]` — e.g. `{_C} list active:true sort:-visited` "
        f"or `{_C} list business:9001 visited-before:2d size:20`",
        _FILTER_HELP,
        aliases=("ls",),
    ),
    CommandHelp(
        "search",
        "find chatrooms by name (plus any list filter)",
        f"`{_C} search WORDS [key:value …]` — e.g. `{_C} search desk booking` or `{_C} search printer active:true`",
        "Words that are not key:value become the name to look for.\n" + _FILTER_HELP,
        aliases=("find",),
    ),
    CommandHelp(
        "show",
        "open one or more chatrooms by id",
        f"`{_C} show ID [ID …]` — e.g. `{_C} show 1000001` or `{_C} show 1000001 1000002 1000003`",
        f"Ids may be separated by spaces or commas (`1000001,1000002`), at most {MAX_IDS}; `#1000001` works too.",
    ),
    CommandHelp(
        "create",
        "create a chatroom (opens a form)",
        f'`{_C} create [business:ID] [name:"…"]` — e.g. `{_C} create business:9001 name:"Front desk"`',
        "\n".join(
            (
                "Opens a form with these fields (`business:` and `name:` fill them in beforehand):",
                "• *Business ID* (required) — the Nexudus business the chatroom belongs to, e.g. 9001",
                f"• *Name* (required) — at most {MAX_NAME} characters",
                "• *Active* — members can write in it (ticked unless you untick it)",
                "• *Last agent visit* — leave empty if no agent has visited yet; it cannot be in the future",
                "• *Member user IDs* — Nexudus user ids, separated by commas or spaces, e.g. 7000237, 7000261",
                "Create saves it in Nexudus and shows the new chatroom's card here.",
            )
        ),
    ),
    CommandHelp(
        "edit",
        "edit a chatroom (a form, or key:value changes saved at once)",
        f"`{_C} edit ID [key:value …]` — e.g. `{_C} edit 1000001` (a form), "
        f'or `{_C} edit 1000001 name:"Front desk" active:false` (saved at once)',
        "\n".join(
            (
                "Without changes, opens the form filled with the chatroom's current values; only the fields you "
                "change are saved, everything else (members included) is kept.",
                "With key:value changes, saves them at once, the same safe way:",
                f'• `name:"…"` (at most {MAX_NAME} characters) · `active:true|false` · `business:9001`',
                "• `visited:2026-11-01T10:30` (not in the future), `visited:now`, or `visited:never`",
                "• `users:7000237,7000261` — replaces the members (`users:none` empties the list)",
            )
        ),
    ),
    CommandHelp("delete", "delete a chatroom (asks first)", f"`{_C} delete ID` — e.g. `{_C} delete 1000001`"),
    CommandHelp("commands", "the actions Nexudus can run on chatrooms", f"`{_C} commands`"),
    CommandHelp(
        "run",
        "run one of those actions on chatrooms",
        f"`{_C} run [KEY] [ID …]` — e.g. `{_C} run MARK_VISITED 1000001 1000002`, or just `{_C} run` to pick",
        f"`KEY` is a command key from `{_C} commands` (letters, digits, `_ . -`). "
        "Leave out the key or the ids and a form asks for them.",
    ),
    CommandHelp(
        "alerts",
        "get told in a channel when members wait too long",
        f"`{_C} alerts [list]` · `{_C} alerts subscribe [#channel] [after:4h] [business:ID] [options]` · "
        f"`{_C} alerts change ID option:value|off …` · `{_C} alerts unsubscribe ID` — e.g. "
        f"`{_C} alerts subscribe #support after:30m` (pick the channel from Slack's autocomplete)",
        "\n".join(
            (
                "• `alerts` or `alerts list` — the subscriptions of the channel you type it in",
                "• `alerts subscribe` — in the channel you type it in, with the default threshold",
                "• `alerts subscribe #channel` — pick the channel from Slack's autocomplete so it arrives "
                "as a channel mention",
                "• `after:30m`, `after:4h`, `after:2d`, `after:1h30m`, `after:90` (minutes) — alert when a "
                "chatroom has waited that long (5 minutes to 30 days)",
                "• `business:ID` — only chatrooms of that business",
                "• `escalate-after:8h escalate-to:@support-leads` — a room still waiting that long is posted "
                "once more in its alert's thread, mentioning that person or user group (longer than `after:`)",
                "• `hours:08:00-20:00` and `days:mon-fri` — post only then (nothing at night; the first "
                "alert after says since when), in `zone:Europe/Paris` (default: the space's time zone)",
                "• `summary:09:00` — a daily summary: what waits now, and yesterday's alerts and time to visit",
                "• `alerts change ID hours:09:00-18:00 escalate-after:off …` — change any of these options of "
                "alerts in place (`after:` `business:` `escalate-after:` `escalate-to:` `hours:` `days:` `zone:` "
                "`summary:`; `off` turns one off); what was already alerted is not alerted again, and the channel "
                "is told what changed",
                "• `alerts unsubscribe ID` — the ID shown by `alerts list`",
            )
        ),
        aliases=("alert",),
    ),
    CommandHelp(
        "audit",
        "who changed what through this app, and mirroring it to a channel",
        f"`{_C} audit [ID] [user:@person] [since:7d]` · `{_C} audit channel #channel|off` — "
        f"e.g. `{_C} audit 1000001 since:2d` or `{_C} audit channel #support`",
        "\n".join(
            (
                "Every change made through this app is kept, newest first: chatrooms created, edited "
                "(each field before → after), deleted (what they held), commands run (parameters, "
                "chatrooms, and whether Nexudus said it worked), visits marked, alerts subscribed, "
                "changed, unsubscribed and snoozed, logins and logouts — with who, when and never a password or token. "
                "A change Nexudus may or may not have applied (no answer came back) says so.",
                "• `ID` — only that chatroom's entries",
                "• `user:@person` — only what that person did (pick them from Slack's autocomplete)",
                f"• `since:7d`, `since:2026-11-01`, `since:yesterday` — from then on (dates: {DATE_FORMS})",
                "• `audit channel #ops` — post each new entry in that channel as well; anyone who can use "
                "this app can set or change it. Invite the app to the channel first: if it cannot post "
                "there, nothing is set and it says so; if the channel stops taking posts later, the "
                "entries are still kept and whoever set the channel is told once by direct message",
                "• `audit channel off` — stop mirroring; `audit channel` says where it goes now",
                "You see this workspace's entries only. They are kept for `AUDIT_RETENTION_DAYS` "
                "(365 days unless your administrator changed it).",
            )
        ),
        aliases=("history",),
    ),
    CommandHelp(
        "stats",
        "how fast waiting members get an agent: response times of this workspace's alerts",
        f"`{_C} stats [business:ID] [since:30d]` — e.g. `{_C} stats` or `{_C} stats business:9001 since:7d`",
        "\n".join(
            (
                f"• `since:30d` (the default), `since:2w`, `since:7` — today and the days before it, at most "
                f"{MAX_STATS_DAYS} days (default {DEFAULT_STATS_DAYS})",
                "• `business:ID` — only chatrooms of that business",
                "Shows the rooms alerted, the median and 90th percentile time from a room going stale (its last "
                "agent visit plus the alert threshold, or when the alerts were set up if it was stale already) to "
                "an agent visit, escalations, rooms still waiting, and a line a day. A room seen by several alert "
                "subscriptions counts once. Days are the space's time zone.",
            )
        ),
        aliases=("statistics",),
    ),
)
_BY_NAME = {command.name: command for command in COMMANDS}
HELP_TOPICS: tuple[str, ...] = tuple(_BY_NAME)
USAGE: dict[str, str] = {command.name: command.usage for command in COMMANDS}
ALIASES: dict[str, str] = {alias: command.name for command in COMMANDS for alias in command.aliases}
SHORT_USAGE = (
    f"Commands: {', '.join(f'`{t}`' for t in HELP_TOPICS)}. "
    f"Try `{_C} list`, `{_C} show 1000001` or `{_C} help` for the full reference."
)


def help_text(topic: str | None) -> str:
    """The full reference (topic None), one command's details, or the full text after "unknown topic"."""
    if topic is None:
        return _full_help()
    key = ALIASES.get(topic.strip().lower(), topic.strip().lower())
    command = _BY_NAME.get(key)
    if command is not None:
        text = f"*{_C} {key}* — {command.summary}\n{command.usage}"
        return text + "\n" + command.details if command.details else text
    close = difflib.get_close_matches(key[:QUOTE_LIMIT], [*USAGE, *ALIASES], n=1, cutoff=0.6)
    if close:
        found = ALIASES.get(close[0], close[0])
        return f"There is no help topic {q(topic)}. Did you mean `{found}`?\n\n" + help_text(found)
    return f"There is no help topic {q(topic)}; here is everything.\n\n" + _full_help()


def _full_help() -> str:
    lines = [f"*{_C}* — manage Nexudus support chatrooms from Slack."]
    lines.extend(f"• *{c.name}* — {c.summary}: {c.usage}" for c in COMMANDS)
    keys = " ".join(f"`{spec.key}:`" for spec in FILTERS)
    lines.append(f"List and search filters: {keys} — details in `{_C} help list`.")
    lines.append(f"Dates: {DATE_FORMS}.")
    return "\n".join(lines)
