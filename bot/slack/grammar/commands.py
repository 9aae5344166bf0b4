"""The arguments of each subcommand except `list`/`search` (filters.py): show, delete, edit (a form, or
key:value changes saved at once), create, run, alerts, and the ones that take nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.rules import visit_problem
from bot.slack.grammar.dates import day_bounds, duration, parse_date
from bot.slack.grammar.filters import FILTER_KEYS
from bot.slack.grammar.help import ALIASES, USAGE
from bot.slack.grammar.intents import (
    COMMAND,
    MAX_STATS_DAYS,
    MAX_THRESHOLD_MINUTES,
    MIN_THRESHOLD_MINUTES,
    AlertsChangeIntent,
    AlertsListIntent,
    AlertsSubscribeIntent,
    AlertsUnsubscribeIntent,
    CreateIntent,
    EditIntent,
    EditNowIntent,
    GrammarError,
    HelpIntent,
    Intent,
    RunIntent,
    ShowIntent,
    StatsIntent,
)
from bot.slack.grammar.lexer import QUOTE_LIMIT, Keys, Token, clean, did_you_mean, escape, q, unescape
from bot.slack.grammar.values import check_name, flag, key_id, name_from_words, parse_ids, user_ids

_BUSINESS_EXAMPLE = FILTER_KEYS["business"].example
_NAME_EXAMPLE = FILTER_KEYS["name"].example


def no_arguments(name: str, factory: Callable[[], Intent]) -> Callable[[Sequence[Token]], Intent]:
    def parse(args: Sequence[Token]) -> Intent:
        if args:
            rest = " ".join(t.source for t in args)
            raise GrammarError(f"`{name}` takes nothing after it; remove {q(rest)}.", USAGE[name])
        return factory()

    return parse


def parse_help(args: Sequence[Token]) -> HelpIntent:
    if not args:
        return HelpIntent(topic=None)
    topic = clean(args[0].text).strip().lower()[:QUOTE_LIMIT]
    return HelpIntent(topic=ALIASES.get(topic, topic) or None)


def parse_show(args: Sequence[Token]) -> ShowIntent:
    usage = USAGE["show"]
    if not args:
        raise GrammarError("Which chatroom? Give one or more ids, e.g. 1000001 or 1000001 1000002.", usage)
    return ShowIntent(ids=parse_ids(args, usage, at_least=1))


def single_id(name: str, args: Sequence[Token]) -> int:
    usage = USAGE[name]
    if not args:
        raise GrammarError(f"Which chatroom? `{name}` needs a chatroom id, e.g. `{COMMAND} {name} 1000001`.", usage)
    ids = parse_ids(args, usage, at_least=1)
    if len(ids) > 1:
        raise GrammarError(
            f"`{name}` takes one chatroom id; got {len(ids)} ({q(' '.join(t.source for t in args))}).", usage
        )
    return ids[0]


# ---------------------------------------------------------------------------------------------- edit


@dataclass(frozen=True)
class _Edit:
    """A `key:value` change `edit` saves at once."""

    key: str
    field: str  # the EditNowIntent field (== the chatroom form's block id)
    example: str
    read: Callable[[str, str, datetime, tzinfo, str], object]  # (value, source, now, zone, usage) → field value
    aliases: tuple[str, ...] = ()


def _edit_visit(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> datetime | None:
    if value.lower() in ("never", "none"):
        return None
    if day_bounds(value, source, now, zone, usage) is not None:
        raise GrammarError(
            f"{q(source)}: give the time of the visit too, e.g. visited:2026-11-01T10:30, or visited:now.", usage
        )
    when = parse_date(value, source, now, zone, usage)
    problem = visit_problem(when, now)
    if problem:
        raise GrammarError(f"{q(source)}: {problem}", usage)
    return when


_EDITS: tuple[_Edit, ...] = (
    _Edit("name", "name", 'name:"Front desk"', lambda v, s, n, z, u: check_name(v, s, u)),
    _Edit("active", "active", "active:false", lambda v, s, n, z, u: flag(v, s, "active", u)),
    _Edit(
        "business", "business_id", "business:9001", lambda v, s, n, z, u: key_id(v, s, "business", _BUSINESS_EXAMPLE, u)
    ),
    _Edit("visited", "last_agent_visit", "visited:now", _edit_visit, ("last-visit",)),
    _Edit("users", "users", "users:7000237,7000261", lambda v, s, n, z, u: user_ids(v, u), ("user", "members")),
)
_EDIT_BY_KEY = {name: spec for spec in _EDITS for name in (spec.key, *spec.aliases)}
# typed key → EditNowIntent field (== the chatroom form's block id; the console's `:submit` takes them too)
EDIT_KEYS: dict[str, str] = {name: spec.field for name, spec in _EDIT_BY_KEY.items()}
_EDIT_KEYS = Keys(
    _EDIT_BY_KEY,
    "something `edit` can change",
    ", ".join(spec.key for spec in _EDITS),
    twice="{first} and {second} both change the same field.",
)


def parse_edit(args: Sequence[Token], now: datetime, zone: tzinfo) -> EditIntent | EditNowIntent:
    usage = USAGE["edit"]
    id_tokens = [t for t in args if t.split()[0] is None]
    pairs = [t for t in args if t.split()[0] is not None]
    chatroom_id = single_id("edit", id_tokens)
    if not pairs:
        return EditIntent(id=chatroom_id)
    values: dict[str, object] = {}
    seen: dict[str, str] = {}
    for token in pairs:
        key, raw = token.split()
        assert key is not None
        spec, value = _EDIT_KEYS.take(key, raw, token.source, seen, usage)
        values[spec.field] = spec.read(value, token.source, now, zone, usage)
    return EditNowIntent.model_validate({"id": chatroom_id, **values})


# -------------------------------------------------------------------------------------------- create


_CREATE_KEYS = Keys(
    {"name": FILTER_KEYS["name"], "business": FILTER_KEYS["business"]},
    "something `create` can prefill",
    "name, business",
)


def parse_create(args: Sequence[Token]) -> CreateIntent:
    usage = USAGE["create"]
    name: str | None = None
    business: int | None = None
    seen: dict[str, str] = {}
    words: list[str] = []
    for token in args:
        key, raw = token.split()
        if key is None:
            word = clean(raw).strip()
            if word:
                words.append(word)
            continue
        spec, value = _CREATE_KEYS.take(key, raw, token.source, seen, usage)
        if spec.key == "name":
            name = check_name(value, token.source, usage)
        else:
            business = key_id(value, token.source, "business", _BUSINESS_EXAMPLE, usage)
    return CreateIntent(name=name_from_words(words, seen.get("name"), usage) or name, business=business)


# ----------------------------------------------------------------------------------------------- run

_RUN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def parse_run(args: Sequence[Token]) -> RunIntent:
    usage = USAGE["run"]
    if not args:
        return RunIntent(key=None, ids=[])
    first = clean(args[0].text).strip()
    key: str | None = None
    rest = args
    if not re.fullmatch(r"[#0-9, ]+", first):
        if not _RUN_KEY.fullmatch(first):
            raise GrammarError(
                f"{q(first)} is not a command key; keys look like MARK_VISITED "
                f"(a letter, then letters, digits, `_`, `.` or `-`; see `{COMMAND} commands`).",
                usage,
            )
        key, rest = first, args[1:]
    return RunIntent(key=key, ids=parse_ids(rest, usage, at_least=0))


# -------------------------------------------------------------------------------------------- alerts

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,20}")
_MENTION = re.compile(r"<#([^|>]*)(?:\|[^>]*)?>")
_SUBSCRIPTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ALERT_ACTIONS = {
    "list": "list",
    "ls": "list",
    "subscribe": "subscribe",
    "sub": "subscribe",
    "add": "subscribe",
    "unsubscribe": "unsubscribe",
    "unsub": "unsubscribe",
    "remove": "unsubscribe",
    "rm": "unsubscribe",
    "change": "change",
    "edit": "change",
    "update": "change",
    "set": "change",
    "modify": "change",
}
_ACTION_NAMES = ["list", "subscribe", "change", "unsubscribe"]


def parse_alerts(args: Sequence[Token]) -> Intent:
    usage = USAGE["alerts"]
    if not args:
        return AlertsListIntent()
    word = clean(args[0].text).strip().lower()
    action = _ALERT_ACTIONS.get(word)
    if action is None:
        raise GrammarError(
            f"{q(args[0].source)} is not an alerts action.{did_you_mean(word, _ACTION_NAMES)}"
            " Use list, subscribe, change or unsubscribe.",
            usage,
        )
    rest = args[1:]
    if action == "list":
        if rest:
            raise GrammarError(f"`alerts list` takes nothing after it; remove {q(rest[0].source)}.", usage)
        return AlertsListIntent()
    if action == "unsubscribe":
        if len(rest) > 1:
            raise GrammarError(f"Give one subscription ID; remove {q(rest[1].source)}.", usage)
        return AlertsUnsubscribeIntent(subscription_id=_subscription_id(rest, "unsubscribe", usage))
    if action == "change":
        return parse_change(rest, usage)
    return parse_subscribe(rest, usage)


def _subscription_id(args: Sequence[Token], action: str, usage: str) -> str:
    """The subscription ID that starts `alerts unsubscribe` / `alerts change`."""
    if not args:
        raise GrammarError(f"Which subscription? Give its ID from `alerts list`, e.g. `alerts {action} 3f9a2c`.", usage)
    sub_id = clean(args[0].text).strip()
    key, _ = args[0].split()
    if key is not None or not _SUBSCRIPTION_ID.fullmatch(sub_id):
        example = " It comes first, e.g. `alerts change 3f9a2c hours:09:00-18:00`." if action == "change" else ""
        raise GrammarError(
            f"{q(args[0].source)} is not a subscription ID; copy the ID shown by `alerts list`.{example}", usage
        )
    return sub_id


@dataclass(frozen=True)
class _Option:
    key: str
    example: str


_AFTER = _Option("after", "after:4h")
_ESCALATE_AFTER = _Option("escalate-after", "escalate-after:8h")
_ESCALATE_TO = _Option("escalate-to", "escalate-to:@support-leads")
_ZONE = _Option("zone", "zone:Europe/London")
_SUBSCRIBE_KEYS = Keys(
    {
        "after": _AFTER,
        "threshold": _AFTER,
        "business": _Option("business", _BUSINESS_EXAMPLE),
        "escalate-after": _ESCALATE_AFTER,
        "escalate": _ESCALATE_AFTER,
        "escalate-to": _ESCALATE_TO,
        "hours": _Option("hours", "hours:08:00-20:00"),
        "days": _Option("days", "days:mon-fri"),
        "zone": _ZONE,
        "tz": _ZONE,
        "summary": _Option("summary", "summary:09:00"),
    },
    "an alerts option",
    "after, business, escalate-after, escalate-to, hours, days, zone, summary",
    needs_value=False,  # an empty `after:` is "not a duration", an empty `business:` not a business id
)
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^(S[A-Z0-9]{2,20})(?:\|[^>]*)?>")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_DAY_WORDS = {"weekdays": (0, 1, 2, 3, 4), "weekends": (5, 6), "every": tuple(range(7)), "all": tuple(range(7))}
_DAYS_HELP = "use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri or a list like mon,wed,fri"


_OFF = frozenset({"off", "none"})
_OFF_KEYS = {
    "business": "business",
    "escalate-after": "escalation",
    "escalate-to": "escalation",
    "hours": "hours",
    "days": "days",
    "zone": "zone",
    "summary": "summary",
}


@dataclass
class _Options:
    """The `key:value` options of `alerts subscribe` / `alerts change`, read and checked one by one."""

    channel: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    """Intent field -> value."""
    off: set[str] = field(default_factory=set)
    """Options turned off (`hours:off`), by `OffOption` name."""
    seen: dict[str, str] = field(default_factory=dict)
    """Option key -> the token that gave it, for messages."""


def _read_options(args: Sequence[Token], usage: str) -> _Options:
    found = _Options()
    seen = found.seen
    for token in args:
        key, raw = token.split()
        if key is None:
            channel = _channel(token, usage)
            if "channel" in seen:
                raise GrammarError(f"`channel` given twice ({q(seen['channel'])} and {q(token.source)}).", usage)
            seen["channel"] = token.source
            found.channel = channel
            continue
        spec, value = _SUBSCRIBE_KEYS.take(key, raw, token.source, seen, usage)
        if value.lower() in _OFF or (spec.key == "business" and value.lower() in ("all", "any")):
            if spec.key == "after":
                raise GrammarError(
                    f"{q(token.source)}: alerts always have a threshold; give a duration instead, e.g. `after:4h`.",
                    usage,
                )
            found.off.add(_OFF_KEYS[spec.key])
        elif spec.key == "business":
            found.values["business"] = key_id(value, token.source, "business", _BUSINESS_EXAMPLE, usage)
        elif spec.key == "after":
            found.values["threshold_minutes"] = _minutes(value, token.source, "alert", usage)
        elif spec.key == "escalate-after":
            found.values["escalate_after_minutes"] = _minutes(value, token.source, "escalate", usage)
        elif spec.key == "escalate-to":
            found.values["escalate_to"] = _escalate_to(raw.strip(), token.source, usage)  # the mention, not its label
        elif spec.key == "hours":
            found.values["hours"] = _hours(value, token.source, usage)
        elif spec.key == "days":
            found.values["days"] = _days(value, token.source, usage)
        elif spec.key == "zone":
            found.values["zone"] = _zone(value, token.source, usage)
        else:
            found.values["summary_minute"] = _time_of_day(value, token.source, "summary:09:00", usage)
    escalate_after, threshold = found.values.get("escalate_after_minutes"), found.values.get("threshold_minutes")
    if "escalation" in found.off and ("escalate_after_minutes" in found.values or "escalate_to" in found.values):
        on, off = (
            ("escalate-to", "escalate-after") if "escalate_to" in found.values else ("escalate-after", "escalate-to")
        )
        raise GrammarError(
            f"{q(seen[on])} and {q(seen[off])} contradict each other: `off` turns escalation off altogether.", usage
        )
    if isinstance(escalate_after, int) and threshold is not None and escalate_after <= threshold:
        raise GrammarError(
            f"{q(seen['escalate-after'])} must be longer than {q(seen['after'])}: escalation is a second, later "
            "reminder.",
            usage,
        )
    return found


def parse_subscribe(args: Sequence[Token], usage: str) -> AlertsSubscribeIntent:
    found = _read_options(args, usage)
    options, seen = found.values, found.seen
    escalate_after, escalate_to = options.get("escalate_after_minutes"), options.get("escalate_to")
    if escalate_after is not None and escalate_to is None:
        raise GrammarError(
            f"{q(seen['escalate-after'])} needs someone to escalate to: add `escalate-to:@person` or "
            "`escalate-to:@group` (pick them from Slack's autocomplete).",
            usage,
        )
    if escalate_to is not None and escalate_after is None:
        raise GrammarError(
            f"{q(seen['escalate-to'])} needs to know when: add `escalate-after:8h` (longer than `after:`).", usage
        )
    # `key:off` when subscribing is what leaving the option out means.
    return AlertsSubscribeIntent(channel_id=found.channel, **options)


def parse_change(args: Sequence[Token], usage: str) -> AlertsChangeIntent:
    sub_id = _subscription_id(args, "change", usage)
    found = _read_options(args[1:], usage)
    if found.channel is not None:
        raise GrammarError(
            f"Alerts stay in their channel, so `{escape(sub_id)}` can't move to <#{found.channel}>: run "
            f"`/chatrooms alerts subscribe` there, then `/chatrooms alerts unsubscribe {escape(sub_id)}`.",
            usage,
        )
    if not found.values and not found.off:
        raise GrammarError(
            f"What should change? e.g. `alerts change {escape(sub_id)} hours:09:00-18:00` or "
            f"`alerts change {escape(sub_id)} escalate-after:off` (`off` turns an option off).",
            usage,
        )
    return AlertsChangeIntent(subscription_id=sub_id, off=frozenset(found.off), **found.values)


def _minutes(value: str, source: str, verb: str, usage: str) -> int:
    delta = duration(value, bare_minutes=True)
    if delta is None:
        raise GrammarError(f"{q(source)} is not a duration; use 30m, 4h, 2d, 1h30m or 90 (minutes).", usage)
    minutes = int(delta.total_seconds() // 60)
    if minutes < MIN_THRESHOLD_MINUTES:
        raise GrammarError(f"{q(source)} is too short; {verb} after at least 5 minutes.", usage)
    if minutes > MAX_THRESHOLD_MINUTES:
        raise GrammarError(f"{q(source)} is too long; {verb} after at most 30 days.", usage)
    return minutes


def _escalate_to(value: str, source: str, usage: str) -> str:
    """A user or user group id from the mention Slack sends (`should_escape` turns `@name` into one)."""
    found = _USER_MENTION.fullmatch(value) or _GROUP_MENTION.fullmatch(value)
    if found is not None:
        return found.group(1)
    if value.startswith("<#"):
        raise GrammarError(f"{q(source)} is a channel; escalate to a person or a user group.", usage)
    if value.startswith(("<!here", "<!channel", "<!everyone")):
        raise GrammarError(f"{q(source)} would notify everyone; name a person or a user group instead.", usage)
    raise GrammarError(
        f"{q(source)} is not a person or a user group I can mention: type `@` and pick one from Slack's "
        "autocomplete, e.g. `escalate-to:@support-leads`.",
        usage,
    )


def _time_of_day(value: str, source: str, example: str, usage: str) -> int:
    found = _CLOCK.fullmatch(value.strip())
    if found is None:
        raise GrammarError(f"{q(source)} is not a time of day; use 24-hour HH:MM, e.g. `{example}`.", usage)
    return int(found.group(1)) * 60 + int(found.group(2))


def _hours(value: str, source: str, usage: str) -> tuple[int, int]:
    start, dash, end = value.partition("-")
    if not dash:
        raise GrammarError(f"{q(source)} is not a range of hours; use from-until, e.g. `hours:08:00-20:00`.", usage)
    opens = _time_of_day(start, source, "hours:08:00-20:00", usage)
    closes = _time_of_day(end, source, "hours:08:00-20:00", usage)
    if opens == closes:
        raise GrammarError(
            f"{q(source)} opens and closes at the same time; for alerts at any hour leave `hours:` out.", usage
        )
    return opens, closes


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(word: str, source: str, usage: str) -> int:
    """`mon`, `tues`, `wednesday`…: at least three letters of a day's name."""
    for number, name in enumerate(_FULL_DAYS):
        if len(word) >= 3 and name.startswith(word):
            return number
    raise GrammarError(f"{q(word)} in {q(source)} is not a day; {_DAYS_HELP}.", usage)


def _days(value: str, source: str, usage: str) -> tuple[int, ...]:
    text = value.strip().lower()
    if text in _DAY_WORDS:
        return _DAY_WORDS[text]
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first:
            raise GrammarError(f"{q(source)} has an empty day; {_DAYS_HELP}.", usage)
        a = _day(first, source, usage)
        b = _day(last, source, usage) if dash else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))  # fri-mon wraps over the weekend
    return tuple(sorted(days))


def _zone(value: str, source: str, usage: str) -> str:
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise GrammarError(
            f"{q(source)} is not a time zone I know; use a name like `zone:Europe/London` or `zone:America/New_York`.",
            usage,
        ) from None
    return name


def _channel(token: Token, usage: str) -> str:
    """A Slack channel id from `<#C…|name>`, `<#C…>` or a raw `C…`/`G…` id."""
    text = token.text.strip()
    mention = _MENTION.fullmatch(text)
    if mention is not None:
        if _CHANNEL_ID.fullmatch(mention.group(1)):
            return mention.group(1)
        raise GrammarError(f"{q(token.source)} is not a channel I can use.", usage)
    if _CHANNEL_ID.fullmatch(text):
        return text
    if text.startswith("<@"):
        raise GrammarError(f"{q(token.source)} is a person, not a channel.", usage)
    if text.startswith("#") or unescape(text).startswith("#"):
        raise GrammarError(
            f"I can't tell which channel {q(token.source)} is. Type `#` and pick the channel from "
            "Slack's autocomplete so it arrives as a channel mention.",
            usage,
        )
    hint = ""
    if duration(clean(text), bare_minutes=True) is not None:
        hint = f" For a threshold, write after:{escape(clean(text)[:QUOTE_LIMIT])}."
    raise GrammarError(
        f"{q(token.source)} is not a channel; pick one from Slack's autocomplete (type `#`).{hint}", usage
    )


# --------------------------------------------------------------------------------------------- stats

_STATS_KEYS = Keys(
    {"business": _Option("business", _BUSINESS_EXAMPLE), "since": _Option("since", "since:30d")},
    "something `stats` takes",
    "business, since",
    needs_value=False,  # an empty `since:` is "not a number of days", an empty `business:` not a business id
)
_DAYS = re.compile(r"([0-9]{1,12})\s*(d|w|days?|weeks?)?", re.IGNORECASE)


def parse_stats(args: Sequence[Token]) -> StatsIntent:
    usage = USAGE["stats"]
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for token in args:
        key, raw = token.split()
        if key is None:
            raise GrammarError(
                f"{q(token.source)} is not something `stats` takes; give `business:ID` and/or `since:30d`.", usage
            )
        spec, value = _STATS_KEYS.take(key, raw, token.source, seen, usage)
        if spec.key == "business":
            values["business"] = key_id(value, token.source, "business", _BUSINESS_EXAMPLE, usage)
        else:
            values["days"] = _stats_days(value, token.source, usage)
    return StatsIntent(**values)


def _stats_days(value: str, source: str, usage: str) -> int:
    """`since:30d`, `since:2w`, `since:30` (days): 1 to `MAX_STATS_DAYS` days back, today included."""
    found = _DAYS.fullmatch(value.strip())
    if found is None:
        hint = " Stats count whole days." if duration(value, bare_minutes=False) is not None else ""
        raise GrammarError(
            f"{q(source)} is not a number of days; use e.g. `since:30d`, `since:2w` or `since:7`.{hint}", usage
        )
    days = int(found.group(1)) * (7 if (found.group(2) or "d").lower().startswith("w") else 1)
    if days < 1:
        raise GrammarError(f"{q(source)} is no time at all; give at least `since:1d` (today).", usage)
    if days > MAX_STATS_DAYS:
        raise GrammarError(f"{q(source)} is too far back; stats go back at most {MAX_STATS_DAYS} days.", usage)
    return days
