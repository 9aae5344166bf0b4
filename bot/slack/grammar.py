"""`/chatrooms …` text → a typed intent.

A pure function of (text, now, zone), so it can be fuzzed: every mistake a user can type becomes a
`GrammarError` that quotes the offending token and carries the right usage line, never any other
exception. Messages, usage lines and help text are Slack mrkdwn, already escaped.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Annotated, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.nexudus.query import MAX_PAGE_SIZE, ORDERABLE, ChatRoomFilters, Direction
from bot.rules import MAX_ID, MAX_MEMBERS, MAX_NAME, visit_problem
from bot.slack.views.chatrooms import MAX_LIST_ROWS

log = logging.getLogger(__name__)

COMMAND = "/chatrooms"
MAX_IDS = 100
MAX_PAGE = 100_000
MIN_THRESHOLD_MINUTES = 5
MAX_THRESHOLD_MINUTES = 30 * 24 * 60
MAX_AGE = timedelta(days=3660)  # relative dates reach back at most ~10 years
MAX_MESSAGE = 500
QUOTE_LIMIT = 40
INTERNAL_MESSAGE = "Sorry, I couldn't read that command."

# Quote characters: ASCII and the smart quotes Slack clients like to substitute.
QUOTES = frozenset('"\u201c\u201d\u201e\u201f')

PositiveId = Annotated[int, Field(ge=1, le=MAX_ID)]


# --------------------------------------------------------------------------------------------- intents


class _Intent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HelpIntent(_Intent):
    """`help [topic]`; an empty command text is help too."""

    topic: str | None = None


class LoginIntent(_Intent):
    """`login`: open the credentials modal."""


class LogoutIntent(_Intent):
    """`logout`: forget the user's Nexudus credentials."""


class WhoamiIntent(_Intent):
    """`whoami`: say which Nexudus account the user is connected as."""


class ListIntent(_Intent):
    """`list …` / `search …`: one page of a filtered, ordered search."""

    filters: ChatRoomFilters = Field(default_factory=ChatRoomFilters)
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    size: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    order_by: str = "Id"
    direction: Direction = Direction.ASCENDING

    @field_validator("order_by")
    @classmethod
    def _orderable(cls, value: str) -> str:
        if value not in ORDERABLE:
            raise ValueError(f"order_by must be one of {', '.join(ORDERABLE)}")
        return value


class ShowIntent(_Intent):
    """`show ID …`: chatroom cards for 1–100 ids."""

    ids: list[PositiveId] = Field(min_length=1, max_length=MAX_IDS)


class CreateIntent(_Intent):
    """`create [business:ID] [name:"…"]`: open the create modal, prefilled."""

    name: str | None = None
    business: PositiveId | None = None


class EditIntent(_Intent):
    """`edit ID`: open the edit modal for one chatroom."""

    id: PositiveId


class EditNowIntent(_Intent):
    """`edit ID key:value …`: save these changes at once (the same safe edit as the form).

    Field names are those of `ChatRoomChanges`; only the fields typed are set (`model_fields_set`),
    so `visited:never` (None) clears the visit while an untyped field is never written."""

    id: PositiveId
    name: str | None = None
    active: bool | None = None
    business_id: PositiveId | None = None
    last_agent_visit: datetime | None = None
    users: list[PositiveId] | None = Field(default=None, max_length=MAX_MEMBERS)

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.model_fields_set if k != "id"}


class DeleteIntent(_Intent):
    """`delete ID`: ask to confirm deleting one chatroom."""

    id: PositiveId


class CommandsIntent(_Intent):
    """`commands`: list the actions Nexudus can run on chatrooms."""


class RunIntent(_Intent):
    """`run [KEY] [ID …]`: run a Nexudus command; missing parts are asked for in a modal."""

    key: str | None = None
    ids: list[PositiveId] = Field(default_factory=list, max_length=MAX_IDS)


class AlertsListIntent(_Intent):
    """`alerts` / `alerts list`: show the alert subscriptions of the channel it is typed in."""


class AlertsSubscribeIntent(_Intent):
    """`alerts subscribe [#channel] [after:4h] [business:ID]`; None means "use the default"."""

    channel_id: str | None = None
    threshold_minutes: int | None = Field(default=None, ge=MIN_THRESHOLD_MINUTES, le=MAX_THRESHOLD_MINUTES)
    business: PositiveId | None = None


class AlertsUnsubscribeIntent(_Intent):
    """`alerts unsubscribe ID`."""

    subscription_id: str


Intent: TypeAlias = (
    HelpIntent
    | LoginIntent
    | LogoutIntent
    | WhoamiIntent
    | ListIntent
    | ShowIntent
    | CreateIntent
    | EditIntent
    | EditNowIntent
    | DeleteIntent
    | CommandsIntent
    | RunIntent
    | AlertsListIntent
    | AlertsSubscribeIntent
    | AlertsUnsubscribeIntent
)


class GrammarError(Exception):
    """What was wrong with the command (`message`) and how to write it (`usage`), both mrkdwn."""

    def __init__(self, message: str, usage: str) -> None:
        message = message or INTERNAL_MESSAGE
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.message = message
        self.usage = usage


# ----------------------------------------------------------------------------------------- usage, help

_C = COMMAND
USAGE: dict[str, str] = {
    "help": f"`{_C} help [command]` — e.g. `{_C} help list`",
    "login": f"`{_C} login` (opens a form)",
    "logout": f"`{_C} logout`",
    "whoami": f"`{_C} whoami`",
    "list": (
        f"`{_C} list [key:value …]` — e.g. `{_C} list active:true sort:-visited` "
        f"or `{_C} list business:9001 visited-before:2d size:20`"
    ),
    "search": (
        f"`{_C} search WORDS [key:value …]` — e.g. `{_C} search desk booking` or `{_C} search printer active:true`"
    ),
    "show": f"`{_C} show ID [ID …]` — e.g. `{_C} show 1000001` or `{_C} show 1000001 1000002 1000003`",
    "create": f'`{_C} create [business:ID] [name:"…"]` — e.g. `{_C} create business:9001 name:"Front desk"`',
    "edit": (
        f"`{_C} edit ID [key:value …]` — e.g. `{_C} edit 1000001` (a form), "
        f'or `{_C} edit 1000001 name:"Front desk" active:false` (saved at once)'
    ),
    "delete": f"`{_C} delete ID` — e.g. `{_C} delete 1000001`",
    "commands": f"`{_C} commands`",
    "run": f"`{_C} run [KEY] [ID …]` — e.g. `{_C} run MARK_VISITED 1000001 1000002`, or just `{_C} run` to pick",
    "alerts": (
        f"`{_C} alerts [list]` · `{_C} alerts subscribe [#channel] [after:4h] [business:ID]` · "
        f"`{_C} alerts unsubscribe ID` — e.g. `{_C} alerts subscribe #support after:30m` "
        "(pick the channel from Slack's autocomplete)"
    ),
}
HELP_TOPICS: tuple[str, ...] = (
    "help",
    "login",
    "logout",
    "whoami",
    "list",
    "search",
    "show",
    "create",
    "edit",
    "delete",
    "commands",
    "run",
    "alerts",
)
SHORT_USAGE = (
    f"Commands: {', '.join(f'`{t}`' for t in HELP_TOPICS)}. "
    f"Try `{_C} list`, `{_C} show 1000001` or `{_C} help` for the full reference."
)

_SUMMARY: dict[str, str] = {
    "help": "this reference, or one command's details",
    "login": "connect your Nexudus account",
    "logout": "forget your Nexudus credentials",
    "whoami": "which Nexudus account you are using",
    "list": "list chatrooms, filtered and sorted",
    "search": "find chatrooms by name (plus any list filter)",
    "show": "open one or more chatrooms by id",
    "create": "create a chatroom (opens a form)",
    "edit": "edit a chatroom (a form, or key:value changes saved at once)",
    "delete": "delete a chatroom (asks first)",
    "commands": "the actions Nexudus can run on chatrooms",
    "run": "run one of those actions on chatrooms",
    "alerts": "get told in a channel when members wait too long",
}

_DATE_FORMS = (
    "`2026-11-01` (that whole day, space time) · `2026-11-01T10:30` · `2026-11-01T10:30:00` · "
    "`2026-11-01T10:30Z` (UTC) · `2026-11-01T10:30+01:00` · `today` · `yesterday` · "
    "or an age — `30m`, `4h`, `2d`, `1w`, `1h30m` ago"
)
_SORT_FIELDS_HELP = "`id`, `name`, `active`, `visited`, `created`, `updated`, `business` — prefix `-` for descending"
_FILTER_HELP = "\n".join(
    (
        '*Filters* (key:value; quote values with spaces: `name:"desk booking"`)',
        "• `id:1000001` · `active:true` (true/false, yes/no, on/off, 1/0) · `business:9001` · `user:7000237`",
        '• `name:printer` or `name:"desk booking"` — name contains',
        "• `visited:D` — last agent visit on day D (`visited:2026-11-01`, `visited:yesterday`), "
        "or at the minute D when it has a time",
        "• `visited-after:D` (`after:D`) · `visited-before:D` (`before:D`) — last agent visit range; "
        "a day counts whole: `before:2026-11-01` is before that day starts, `after:2026-11-01` after it ends",
        "• `created:DAY` · `created-after:D` · `created-before:D` · `updated:DAY` · `updated-after:D` · "
        "`updated-before:D` — the same for when the chatroom was created or last changed",
        f"• `page:2` · `size:20` — rows per page; Slack shows at most {MAX_LIST_ROWS}, so a larger size "
        f"shows {MAX_LIST_ROWS} and says so · `sort:FIELD` or `sort:-FIELD` · `order:asc|desc`",
        f"*Dates D*: {_DATE_FORMS}",
        f"*Sort fields*: {_SORT_FIELDS_HELP}",
    )
)
_DETAILS: dict[str, str] = {
    "list": _FILTER_HELP,
    "search": "Words that are not key:value become the name to look for.\n" + _FILTER_HELP,
    "show": (f"Ids may be separated by spaces or commas (`1000001,1000002`), at most {MAX_IDS}; `#1000001` works too."),
    "create": "\n".join(
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
    "edit": "\n".join(
        (
            "Without changes, opens the form filled with the chatroom's current values; only the fields you "
            "change are saved, everything else (members included) is kept.",
            "With key:value changes, saves them at once, the same safe way:",
            f'• `name:"…"` (at most {MAX_NAME} characters) · `active:true|false` · `business:9001`',
            "• `visited:2026-11-01T10:30` (not in the future), `visited:now`, or `visited:never`",
            "• `users:7000237,7000261` — replaces the members (`users:none` empties the list)",
        )
    ),
    "run": (
        f"`KEY` is a command key from `{_C} commands` (letters, digits, `_ . -`). "
        "Leave out the key or the ids and a form asks for them."
    ),
    "alerts": "\n".join(
        (
            "• `alerts` or `alerts list` — the subscriptions of the channel you type it in",
            "• `alerts subscribe` — in the channel you type it in, with the default threshold",
            "• `alerts subscribe #channel` — pick the channel from Slack's autocomplete so it arrives "
            "as a channel mention",
            "• `after:30m`, `after:4h`, `after:2d`, `after:1h30m`, `after:90` (minutes) — alert when a "
            "chatroom has waited that long (5 minutes to 30 days)",
            "• `business:ID` — only chatrooms of that business",
            "• `alerts unsubscribe ID` — the ID shown by `alerts list`",
        )
    ),
}

_TOPIC_ALIASES = {"ls": "list", "?": "help", "alert": "alerts", "find": "search"}


def help_text(topic: str | None) -> str:
    """The full reference (topic None), one command's details, or the full text after "unknown topic"."""
    if topic is None:
        return _full_help()
    key = _TOPIC_ALIASES.get(topic.strip().lower(), topic.strip().lower())
    if key in USAGE:
        text = f"*{_C} {key}* — {_SUMMARY[key]}\n{USAGE[key]}"
        if key in _DETAILS:
            text += "\n" + _DETAILS[key]
        return text
    close = difflib.get_close_matches(key[:QUOTE_LIMIT], [*USAGE, *_TOPIC_ALIASES], n=1, cutoff=0.6)
    if close:
        found = _TOPIC_ALIASES.get(close[0], close[0])
        return f"There is no help topic {_q(topic)}. Did you mean `{found}`?\n\n" + help_text(found)
    return f"There is no help topic {_q(topic)}; here is everything.\n\n" + _full_help()


def _full_help() -> str:
    lines = [f"*{_C}* — manage Nexudus support chatrooms from Slack."]
    for topic in HELP_TOPICS:
        lines.append(f"• *{topic}* — {_SUMMARY[topic]}: {USAGE[topic]}")
    lines.append(
        "List and search filters: `id:` `active:` `business:` `name:` `user:` `visited:` `visited-before:` "
        "`visited-after:` `created:` `created-before:` `created-after:` `updated:` `updated-before:` "
        "`updated-after:` `page:` "
        f"`size:` `sort:` `order:` — details in `{_C} help list`."
    )
    lines.append(f"Dates: {_DATE_FORMS}.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ tokenising


@dataclass(frozen=True)
class _Token:
    """One word: `text` has quotes removed (Slack entities still escaped); `source` is as typed."""

    text: str
    source: str
    quote_at: int  # index in `text` where quoted content starts; len(text) when nothing was quoted

    def split(self) -> tuple[str | None, str]:
        """`(key, value)` for key:value tokens whose colon was not quoted; `(None, text)` otherwise."""
        colon = self.text.find(":")
        if 0 < colon < self.quote_at and _KEY.fullmatch(self.text[:colon]):
            return self.text[:colon].lower(), self.text[colon + 1 :]
        return None, self.text


_KEY = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")
_STRIP_CHARS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u200b\u2060\ufeff]")
_WRAPPERS = ("```", "`", "*", "_", "~")


def _preprocess(text: str) -> str:
    """Drop invisible characters and Slack formatting wrapped around the whole text."""
    text = _STRIP_CHARS.sub("", text).strip()
    for _ in range(4):
        for mark in _WRAPPERS:
            if len(text) >= 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text = text[len(mark) : -len(mark)].strip()
                break
        else:
            break
    first, _, rest = text.partition(" ")
    if first.lower() == COMMAND:
        text = rest.strip()
    return text


def _tokenize(text: str, usage: str) -> list[_Token]:
    """Split on whitespace outside quotes and outside Slack's `<…>` mentions, in one linear pass."""
    tokens: list[_Token] = []
    n = len(text)
    i = 0
    next_gt = -2  # cached position of the next '>' at or after i; -1 when there is none
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        buf: list[str] = []
        quote_at = -1
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in QUOTES:
                if quote_at < 0:
                    quote_at = len(buf)
                i += 1
                while True:
                    if i >= n:
                        raise GrammarError(f"Unbalanced quote: {_q(text[start:])} has no closing quote.", usage)
                    c = text[i]
                    if c == "\\" and i + 1 < n and (text[i + 1] in QUOTES or text[i + 1] == "\\"):
                        buf.append(text[i + 1])
                        i += 2
                    elif c in QUOTES:
                        i += 1
                        break
                    else:
                        buf.append(c)
                        i += 1
            elif ch == "<":
                if next_gt != -1 and next_gt <= i:
                    next_gt = text.find(">", i + 1)
                if next_gt == -1:
                    buf.append(ch)
                    i += 1
                else:
                    buf.append(text[i : next_gt + 1])
                    i = next_gt + 1
            else:
                buf.append(ch)
                i += 1
        joined = "".join(buf)
        if not joined and quote_at >= 0:
            continue  # a lone "" says nothing
        tokens.append(_Token(joined, text[start:i], quote_at if quote_at >= 0 else len(joined)))
    return tokens


_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_LINK = re.compile(r"<([^<>]*)>")


def _unescape(text: str) -> str:
    """Slack's `&amp; &lt; &gt;` back to characters, in one pass (so `&amp;lt;` → `&lt;`)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clean(value: str) -> str:
    """A value as the user meant it: Slack links `<url|label>` → label, entities unescaped."""

    def label(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, text = inner.partition("|")
        return text or target.lstrip("#@!")

    if "<" in value:
        value = _LINK.sub(label, value)
    return _unescape(value)


def _q(text: str) -> str:
    """A token quoted for a message: one line, ≤ ~40 chars, safe mrkdwn (mentions can't ping)."""
    shown = " ".join(_unescape(text).split()).replace("`", "'")
    if len(shown) > QUOTE_LIMIT:
        shown = shown[: QUOTE_LIMIT - 1] + "…"
    return f"`{_escape(shown) or ' '}`"


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    matches = difflib.get_close_matches(word.lower()[:QUOTE_LIMIT], choices, n=1, cutoff=0.6)
    return f" Did you mean `{matches[0]}`?" if matches else ""


# ---------------------------------------------------------------------------------------------- values


_ID = re.compile(r"#?([0-9]+)")


def _positive_id(value: str) -> int | None:
    """A positive 32-bit id (a leading `#` tolerated), else None."""
    match = _ID.fullmatch(value.strip())
    if match is None or len(match.group(1)) > 12:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= MAX_ID else None


def _too_large(value: str) -> bool:
    """Digits that would be an id, were they not past the 32-bit range (so the message says so)."""
    match = _ID.fullmatch(value.strip())
    return match is not None and (len(match.group(1)) > 12 or int(match.group(1)) > MAX_ID)


def _id_message(value: str, source: str, what: str, example: str) -> str:
    """Why `value` (typed as `source`) is not a `what` id: too large, or not a positive whole number."""
    if _too_large(value):
        return f"{_q(source)} is too large for {what} id (at most {MAX_ID})."
    return f"{_q(source)} is not {what} id; ids are positive whole numbers, e.g. {example}."


def _key_id_message(source: str, value: str, key: str) -> str:
    """Why the value of `key:value` is not an id."""
    if _too_large(value):
        return f"{_q(source)}: {key} is too large for an id (at most {MAX_ID})."
    return f"{_q(source)}: {key} must be a positive whole number, e.g. {_EXAMPLES[key]}."


def _parse_ids(tokens: Sequence[_Token], usage: str, *, at_least: int) -> list[int]:
    """Ids separated by spaces and/or commas, de-duplicated in order, 1..MAX_ID each, ≤ MAX_IDS."""
    ids: dict[int, None] = {}
    for token in tokens:
        for piece in _clean(token.text).split(","):
            if not piece.strip():
                continue
            number = _positive_id(piece)
            if number is None:
                raise GrammarError(_id_message(piece, piece, "a chatroom", "1000001"), usage)
            ids[number] = None
    if len(ids) > MAX_IDS:
        raise GrammarError(f"That is {len(ids)} ids; give at most {MAX_IDS} at once.", usage)
    if len(ids) < at_least:
        raise GrammarError("Give at least one chatroom id, e.g. 1000001.", usage)
    return list(ids)


_BOOLS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}

_DURATION = re.compile(
    r"(?:([0-9]{1,6})\s*w(?:ks?|eeks?)?)?\s*(?:([0-9]{1,6})\s*d(?:ays?)?)?\s*"
    r"(?:([0-9]{1,6})\s*h(?:rs?|ours?)?)?\s*(?:([0-9]{1,6})\s*m(?:ins?|inutes?)?)?",
    re.IGNORECASE,
)


def _duration(value: str, *, bare_minutes: bool) -> timedelta | None:
    """`30m`, `4h`, `2d`, `1w`, `1h30m` (and `90` = minutes when bare_minutes) → timedelta, else None."""
    value = value.strip()
    if bare_minutes and re.fullmatch(r"[0-9]{1,6}", value):
        return timedelta(minutes=int(value))
    match = _DURATION.fullmatch(value)
    if match is None or not any(match.groups()):
        return None
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


_ISO = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?)?"
    r"\s*(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?",
    re.IGNORECASE,
)
_DATE_HELP = "use 2026-11-01, 2026-11-01T10:30, 2026-11-01T10:30Z, today, yesterday, or an age like 30m, 4h, 2d, 1w"


def _localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach `zone` to a wall-clock time (pytz zones need `localize`)."""
    localize = getattr(zone, "localize", None)
    if callable(localize):
        result = localize(naive)
        if isinstance(result, datetime):
            return result
    return naive.replace(tzinfo=zone)


def _settle(value: datetime, zone: tzinfo) -> datetime:
    """Truncate to the minute (Nexudus filters take `YYYY-MM-DDTHH:mm`) and express in the zone's
    offset at that instant, as a fixed offset so equality never trips over DST folds."""
    instant = value.astimezone(UTC).replace(second=0, microsecond=0)
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    return instant.astimezone(timezone(offset)) if offset is not None else instant


def _parse_date(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> datetime:
    """One date value D (see `_DATE_FORMS`) → aware datetime, truncated to the minute."""
    text = value.strip()
    word = text.lower()
    local_now = now.astimezone(zone)
    try:
        if word in ("today", "yesterday", "tomorrow"):
            shift = {"today": 0, "yesterday": -1, "tomorrow": 1}[word]
            day = local_now.date() + timedelta(days=shift)
            return _settle(_localize(datetime.combine(day, time()), zone), zone)
        if word == "now":
            return _settle(now, zone)
        age = _duration(text, bare_minutes=False)
        if age is not None:
            if age > MAX_AGE:
                raise GrammarError(f"{_q(source)} reaches back too far; keep ages under 10 years.", usage)
            return _settle(now - age, zone)
        match = _ISO.fullmatch(text)
        if match is None:
            raise GrammarError(f"{_q(source)} is not a date I understand; {_DATE_HELP}.", usage)
        year, month, day_, hour, minute, second, offset = match.groups()
        if not 1900 <= int(year) <= 2999:
            raise GrammarError(f"{_q(source)}: the year must be between 1900 and 2999.", usage)
        naive = datetime(int(year), int(month), int(day_), int(hour or 0), int(minute or 0), int(second or 0))
        if offset is None:
            stamped = _localize(naive.replace(second=0), zone)
        elif offset.upper() == "Z":
            stamped = naive.replace(second=0, tzinfo=UTC)
        else:
            digits = offset[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 18 or minutes > 59:
                raise GrammarError(f"{_q(source)}: a UTC offset runs from -18:00 to +18:00.", usage)
            delta = timedelta(hours=hours, minutes=minutes)
            stamped = naive.replace(second=0, tzinfo=timezone(-delta if offset[0] == "-" else delta))
        return _settle(stamped, zone)
    except (ValueError, OverflowError) as exc:
        raise GrammarError(f"{_q(source)} is not a real date ({exc}); {_DATE_HELP}.", usage) from None


def _day_bounds(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> tuple[datetime, datetime] | None:
    """The first and last minute of the day when `value` names a whole day (`2026-11-01`, `today`,
    `yesterday`; in the space's zone unless an offset is given), else None."""
    text = value.strip()
    word = text.lower()
    match = _ISO.fullmatch(text)
    is_day = word in ("today", "yesterday", "tomorrow") or (match is not None and match.group(4) is None)
    if not is_day:
        return None
    start = _parse_date(value, source, now, zone, usage)
    if match is not None and match.group(7) is not None:
        following = start + timedelta(days=1)
    else:
        day = start.astimezone(zone).date() + timedelta(days=1)
        following = _settle(_localize(datetime.combine(day, time()), zone), zone)
    return start, following - timedelta(minutes=1)


# ---------------------------------------------------------------------------------------- list, search

# typed key → canonical key
_FILTER_KEYS: dict[str, str] = {
    "id": "id",
    "active": "active",
    "business": "business",
    "name": "name",
    "user": "user",
    "users": "user",
    "visited": "visited",
    "created": "created",
    "updated": "updated",
    "visited-before": "visited-before",
    "before": "visited-before",
    "visited-after": "visited-after",
    "after": "visited-after",
    "created-before": "created-before",
    "created-after": "created-after",
    "updated-before": "updated-before",
    "updated-after": "updated-after",
    "page": "page",
    "size": "size",
    "sort": "sort",
    "orderby": "sort",
    "order": "order",
    "dir": "order",
}
_FILTER_KEYS.update({k.replace("-", "_"): v for k, v in list(_FILTER_KEYS.items()) if "-" in k})
_KNOWN_FILTER_KEYS = (
    "id, active, business, name, user, visited, visited-before, visited-after, created, created-before, "
    "created-after, updated, updated-before, updated-after, before, after, page, size, sort, order"
)

# `visited:`, `created:`, `updated:` with a day → that day's range (field names of ChatRoomFilters)
_DAY_RANGES = {
    "visited": ("visited_from", "visited_to"),
    "created": ("created_from", "created_to"),
    "updated": ("updated_from", "updated_to"),
}

# canonical date key → (ChatRoomFilters field)
_DATE_FIELDS = {
    "visited": "last_agent_visit",
    "visited-before": "visited_to",
    "visited-after": "visited_from",
    "created-before": "created_to",
    "created-after": "created_from",
    "updated-before": "updated_to",
    "updated-after": "updated_from",
}

_SORT_FIELDS: dict[str, str] = {name.lower(): name for name in ORDERABLE}
_SORT_FIELDS.update(
    {
        "visited": "LastAgentVisit",
        "last-agent-visit": "LastAgentVisit",
        "last_agent_visit": "LastAgentVisit",
        "lastvisit": "LastAgentVisit",
        "created": "CreatedOn",
        "created-on": "CreatedOn",
        "created_on": "CreatedOn",
        "updated": "UpdatedOn",
        "updated-on": "UpdatedOn",
        "updated_on": "UpdatedOn",
        "business": "BusinessId",
        "business-id": "BusinessId",
        "business_id": "BusinessId",
    }
)
_SORT_FIELDS = {k: v for k, v in _SORT_FIELDS.items() if v in ORDERABLE}

_DIRECTIONS = {
    "asc": Direction.ASCENDING,
    "ascending": Direction.ASCENDING,
    "up": Direction.ASCENDING,
    "desc": Direction.DESCENDING,
    "descending": Direction.DESCENDING,
    "down": Direction.DESCENDING,
}


def _parse_list(tokens: Sequence[_Token], now: datetime, zone: tzinfo, *, search: bool) -> ListIntent:
    usage = USAGE["search" if search else "list"]
    seen: dict[str, str] = {}  # canonical key → source token
    setters: dict[str, str] = {}  # ChatRoomFilters field → the token that set it
    values: dict[str, object] = {}

    def set_date(field: str, when: datetime, source: str) -> None:
        if field in setters:
            raise GrammarError(
                f"{_q(setters[field])} and {_q(source)} both say when; keep one of them.",
                usage,
            )
        setters[field] = source
        values[field] = when

    words: list[str] = []
    page = 1
    size: int | None = None
    order_by = "Id"
    sort_dir: Direction | None = None
    order_dir: Direction | None = None

    for token in tokens:
        key, raw = token.split()
        if key is None:
            if search:
                word = _clean(raw).strip()
                if word:
                    words.append(word)
                continue
            raise GrammarError(_bare_word_message(token, "name" in seen), usage)
        canonical = _FILTER_KEYS.get(key)
        if canonical is None:
            raise GrammarError(
                f"{_q(key)} is not a filter key.{_did_you_mean(key, list(_FILTER_KEYS))} "
                f"Known keys: {_KNOWN_FILTER_KEYS}.",
                usage,
            )
        if canonical in seen:
            raise GrammarError(f"`{canonical}` given twice ({_q(seen[canonical])} and {_q(token.source)}).", usage)
        seen[canonical] = token.source
        value = _clean(raw).strip()
        if not value:
            raise GrammarError(f"{_q(token.source)} needs a value, e.g. {_EXAMPLES[canonical]}.", usage)

        if canonical in ("id", "business", "user"):
            number = _positive_id(value)
            if number is None:
                raise GrammarError(_key_id_message(token.source, value, canonical), usage)
            values[{"user": "users"}.get(canonical, canonical)] = number
        elif canonical == "active":
            flag = _BOOLS.get(value.lower())
            if flag is None:
                raise GrammarError(f"{_q(token.source)}: active must be true or false (yes/no, on/off, 1/0).", usage)
            values["active"] = flag
        elif canonical == "name":
            values["name"] = _check_name(value, token.source, usage)
        elif canonical in _DAY_RANGES or canonical in _DATE_FIELDS:
            bounds = _day_bounds(value, token.source, now, zone, usage)
            if canonical in _DAY_RANGES and bounds is not None:  # a bare day means the whole day
                low, high = _DAY_RANGES[canonical]
                set_date(low, bounds[0], token.source)
                set_date(high, bounds[1], token.source)
            elif canonical in _DAY_RANGES and canonical != "visited":
                raise GrammarError(
                    f"{_q(token.source)}: `{canonical}:` takes a day, e.g. {_EXAMPLES[canonical]}; for a time, "
                    f"use `{canonical}-after:` and `{canonical}-before:`.",
                    usage,
                )
            elif canonical.endswith("-before") and bounds is not None:  # before the day starts
                set_date(_DATE_FIELDS[canonical], bounds[0] - timedelta(minutes=1), token.source)
            elif canonical.endswith("-after") and bounds is not None:  # after the day ends
                set_date(_DATE_FIELDS[canonical], bounds[1] + timedelta(minutes=1), token.source)
            else:
                set_date(_DATE_FIELDS[canonical], _parse_date(value, token.source, now, zone, usage), token.source)
        elif canonical == "page":
            page = _bounded(value, token.source, "page", 1, MAX_PAGE, usage)
        elif canonical == "size":
            size = _bounded(value, token.source, "size", 1, MAX_PAGE_SIZE, usage)
        elif canonical == "sort":
            sign = value[0]
            field = value[1:] if sign in "+-" else value
            if sign in "+-":
                sort_dir = Direction.DESCENDING if sign == "-" else Direction.ASCENDING
            mapped = _SORT_FIELDS.get(field.strip().lower())
            if mapped is None:
                raise GrammarError(
                    f"{_q(token.source)}: can't sort by {_q(field)}.{_did_you_mean(field, list(_SORT_FIELDS))} "
                    f"Sort by {_SORT_FIELDS_HELP}.",
                    usage,
                )
            order_by = mapped
        elif canonical == "order":
            order_dir = _DIRECTIONS.get(value.lower())
            if order_dir is None:
                raise GrammarError(f"{_q(token.source)}: the order is asc or desc.", usage)

    if search:
        if words and "name" in values:
            raise GrammarError(
                f"Give the name once: either as words ({_q(' '.join(words))}) or as {_q(seen['name'])}.", usage
            )
        if words:
            values["name"] = _check_name(" ".join(words), " ".join(words), usage)
        if not tokens:
            raise GrammarError("Search for what? Give some words of the name.", usage)
    if sort_dir is not None and order_dir is not None and sort_dir != order_dir:
        raise GrammarError(f"{_q(seen['sort'])} and {_q(seen['order'])} ask for opposite directions; keep one.", usage)
    for low, high, label in (
        ("visited_from", "visited_to", "visited"),
        ("created_from", "created_to", "created"),
        ("updated_from", "updated_to", "updated"),
    ):
        start, end = values.get(low), values.get(high)
        if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
            raise GrammarError(f"{label}-after is later than {label}-before, so nothing can match.", usage)

    filters = ChatRoomFilters.model_validate(values)
    return ListIntent(
        filters=filters,
        page=page,
        size=size,
        order_by=order_by,
        direction=sort_dir or order_dir or Direction.ASCENDING,
    )


_EXAMPLES: dict[str, str] = {
    "id": "id:1000001",
    "active": "active:true",
    "business": "business:9001",
    "name": 'name:"desk booking"',
    "user": "user:7000237",
    "visited": "visited:2026-11-01",
    "created": "created:2026-11-01",
    "updated": "updated:yesterday",
    "visited-before": "visited-before:2d",
    "visited-after": "visited-after:2026-11-01T10:30",
    "created-before": "created-before:2026-11-01",
    "created-after": "created-after:1w",
    "updated-before": "updated-before:yesterday",
    "updated-after": "updated-after:2026-11-01T10:30",
    "page": "page:2",
    "size": "size:20",
    "sort": "sort:-visited",
    "order": "order:desc",
    "after": "after:4h",
    "threshold": "after:4h",
}


def _bare_word_message(token: _Token, after_name: bool) -> str:
    word = _clean(token.text)
    lowered = word.lower()
    if lowered in _FILTER_KEYS:
        return (
            f"{_q(token.source)} needs a value: filters look like key:value, e.g. {_EXAMPLES[_FILTER_KEYS[lowered]]}."
        )
    message = f"{_q(token.source)} is not a filter; filters look like key:value, e.g. active:true."
    if _positive_id(word) is not None:
        message += f" To open chatroom {word.lstrip('#')}, use `{COMMAND} show {word.lstrip('#')}`."
    elif after_name:
        message += ' Quote a name with spaces: name:"desk booking".'
    else:
        message += f" To find by name, use `{COMMAND} search {_escape(word[:QUOTE_LIMIT])}`."
    return message


def _check_name(value: str, source: str, usage: str) -> str:
    if len(value) > MAX_NAME:
        raise GrammarError(f"{_q(source)}: the name is too long (at most {MAX_NAME} characters).", usage)
    return value


def _bounded(value: str, source: str, label: str, low: int, high: int, usage: str) -> int:
    if re.fullmatch(r"[0-9]{1,9}", value) and low <= int(value) <= high:
        return int(value)
    raise GrammarError(f"{_q(source)}: {label} must be a whole number from {low} to {high}.", usage)


# ------------------------------------------------------------------------------------ other commands


def _no_arguments(name: str, factory: Callable[[], Intent]) -> Callable[[Sequence[_Token]], Intent]:
    def parse(args: Sequence[_Token]) -> Intent:
        if args:
            rest = " ".join(t.source for t in args)
            raise GrammarError(f"`{name}` takes nothing after it; remove {_q(rest)}.", USAGE[name])
        return factory()

    return parse


def _parse_help(args: Sequence[_Token]) -> HelpIntent:
    if not args:
        return HelpIntent(topic=None)
    topic = _clean(args[0].text).strip().lower()[:QUOTE_LIMIT]
    return HelpIntent(topic=_TOPIC_ALIASES.get(topic, topic) or None)


def _parse_show(args: Sequence[_Token]) -> ShowIntent:
    usage = USAGE["show"]
    if not args:
        raise GrammarError("Which chatroom? Give one or more ids, e.g. 1000001 or 1000001 1000002.", usage)
    return ShowIntent(ids=_parse_ids(args, usage, at_least=1))


def _single_id(name: str, args: Sequence[_Token]) -> int:
    usage = USAGE[name]
    if not args:
        raise GrammarError(f"Which chatroom? `{name}` needs a chatroom id, e.g. `{COMMAND} {name} 1000001`.", usage)
    ids = _parse_ids(args, usage, at_least=1)
    if len(ids) > 1:
        raise GrammarError(
            f"`{name}` takes one chatroom id; got {len(ids)} ({_q(' '.join(t.source for t in args))}).", usage
        )
    return ids[0]


# typed key → EditNowIntent field (== the chatroom form's block id; the console's `:submit` takes them too)
EDIT_KEYS = {
    "name": "name",
    "active": "active",
    "business": "business_id",
    "visited": "last_agent_visit",
    "last-visit": "last_agent_visit",
    "users": "users",
    "user": "users",
    "members": "users",
}
_EDIT_EXAMPLES = {
    "name": 'name:"Front desk"',
    "active": "active:false",
    "business_id": "business:9001",
    "last_agent_visit": "visited:now",
    "users": "users:7000237,7000261",
}


def _parse_edit(args: Sequence[_Token], now: datetime, zone: tzinfo) -> EditIntent | EditNowIntent:
    usage = USAGE["edit"]
    id_tokens = [t for t in args if t.split()[0] is None]
    pairs = [t for t in args if t.split()[0] is not None]
    chatroom_id = _single_id("edit", id_tokens)
    if not pairs:
        return EditIntent(id=chatroom_id)
    values: dict[str, object] = {}
    seen: dict[str, str] = {}
    for token in pairs:
        key, raw = token.split()
        assert key is not None
        field = EDIT_KEYS.get(key.replace("_", "-"))
        if field is None:
            raise GrammarError(
                f"{_q(key)} is not something `edit` can change.{_did_you_mean(key, list(EDIT_KEYS))} "
                "Known keys: name, active, business, visited, users.",
                usage,
            )
        if field in seen:
            raise GrammarError(f"{_q(seen[field])} and {_q(token.source)} both change the same field.", usage)
        seen[field] = token.source
        value = _clean(raw).strip()
        if not value:
            raise GrammarError(f"{_q(token.source)} needs a value, e.g. {_EDIT_EXAMPLES[field]}.", usage)
        if field == "name":
            values[field] = _check_name(value, token.source, usage)
        elif field == "active":
            flag = _BOOLS.get(value.lower())
            if flag is None:
                raise GrammarError(f"{_q(token.source)}: active must be true or false (yes/no, on/off, 1/0).", usage)
            values[field] = flag
        elif field == "business_id":
            business = _positive_id(value)
            if business is None:
                raise GrammarError(_key_id_message(token.source, value, "business"), usage)
            values[field] = business
        elif field == "last_agent_visit":
            values[field] = _edit_visit(value, token.source, now, zone, usage)
        else:
            values[field] = _edit_users(value, token.source, usage)
    return EditNowIntent(id=chatroom_id, **values)


def _edit_visit(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> datetime | None:
    if value.lower() in ("never", "none"):
        return None
    if _day_bounds(value, source, now, zone, usage) is not None:
        raise GrammarError(
            f"{_q(source)}: give the time of the visit too, e.g. visited:2026-11-01T10:30, or visited:now.", usage
        )
    when = _parse_date(value, source, now, zone, usage)
    problem = visit_problem(when, now)
    if problem:
        raise GrammarError(f"{_q(source)}: {problem}", usage)
    return when


def _edit_users(value: str, source: str, usage: str) -> list[int]:
    if value.lower() in ("none", "nobody"):
        return []
    users: dict[int, None] = {}
    for piece in value.split(","):
        if not piece.strip():
            continue
        number = _positive_id(piece)
        if number is None:
            if _too_large(piece):
                raise GrammarError(f"{_q(piece)} is too large for a user id (at most {MAX_ID}).", usage)
            raise GrammarError(f"{_q(piece)} is not a user id; use numbers separated by commas.", usage)
        users[number] = None
    if len(users) > MAX_MEMBERS:
        raise GrammarError(f"That is {len(users)} members; set at most {MAX_MEMBERS} at once.", usage)
    return list(users)


def _parse_create(args: Sequence[_Token]) -> CreateIntent:
    usage = USAGE["create"]
    name: str | None = None
    business: int | None = None
    seen: dict[str, str] = {}
    words: list[str] = []
    for token in args:
        key, raw = token.split()
        if key is None:
            word = _clean(raw).strip()
            if word:
                words.append(word)
            continue
        if key not in ("name", "business"):
            raise GrammarError(
                f"{_q(key)} is not something `create` can prefill.{_did_you_mean(key, ['name', 'business'])} "
                "Known keys: name, business.",
                usage,
            )
        if key in seen:
            raise GrammarError(f"`{key}` given twice ({_q(seen[key])} and {_q(token.source)}).", usage)
        seen[key] = token.source
        value = _clean(raw).strip()
        if not value:
            raise GrammarError(f"{_q(token.source)} needs a value, e.g. {_EXAMPLES[key]}.", usage)
        if key == "name":
            name = _check_name(value, token.source, usage)
        else:
            business = _positive_id(value)
            if business is None:
                raise GrammarError(_key_id_message(token.source, value, "business"), usage)
    if words:
        if name is not None:
            raise GrammarError(
                f"Give the name once: either as words ({_q(' '.join(words))}) or as {_q(seen['name'])}.", usage
            )
        name = _check_name(" ".join(words), " ".join(words), usage)
    return CreateIntent(name=name, business=business)


_RUN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def _parse_run(args: Sequence[_Token]) -> RunIntent:
    usage = USAGE["run"]
    if not args:
        return RunIntent(key=None, ids=[])
    first = _clean(args[0].text).strip()
    key: str | None = None
    rest = args
    if not re.fullmatch(r"[#0-9, ]+", first):
        if not _RUN_KEY.fullmatch(first):
            raise GrammarError(
                f"{_q(first)} is not a command key; keys look like MARK_VISITED "
                f"(a letter, then letters, digits, `_`, `.` or `-`; see `{COMMAND} commands`).",
                usage,
            )
        key, rest = first, args[1:]
    return RunIntent(key=key, ids=_parse_ids(rest, usage, at_least=0))


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
}


def _parse_alerts(args: Sequence[_Token]) -> Intent:
    usage = USAGE["alerts"]
    if not args:
        return AlertsListIntent()
    word = _clean(args[0].text).strip().lower()
    action = _ALERT_ACTIONS.get(word)
    if action is None:
        raise GrammarError(
            f"{_q(args[0].source)} is not an alerts action.{_did_you_mean(word, ['list', 'subscribe', 'unsubscribe'])}"
            " Use list, subscribe or unsubscribe.",
            usage,
        )
    rest = args[1:]
    if action == "list":
        if rest:
            raise GrammarError(f"`alerts list` takes nothing after it; remove {_q(rest[0].source)}.", usage)
        return AlertsListIntent()
    if action == "unsubscribe":
        if not rest:
            raise GrammarError(
                "Which subscription? Give its ID from `alerts list`, e.g. `alerts unsubscribe 3f9a2c`.", usage
            )
        if len(rest) > 1:
            raise GrammarError(f"Give one subscription ID; remove {_q(rest[1].source)}.", usage)
        sub_id = _clean(rest[0].text).strip()
        if not _SUBSCRIPTION_ID.fullmatch(sub_id):
            raise GrammarError(
                f"{_q(rest[0].source)} is not a subscription ID; copy the ID shown by `alerts list`.", usage
            )
        return AlertsUnsubscribeIntent(subscription_id=sub_id)
    return _parse_subscribe(rest, usage)


def _parse_subscribe(args: Sequence[_Token], usage: str) -> AlertsSubscribeIntent:
    channel: str | None = None
    threshold: int | None = None
    business: int | None = None
    seen: dict[str, str] = {}
    for token in args:
        key, raw = token.split()
        if key is None:
            found = _channel(token, usage)
            if "channel" in seen:
                raise GrammarError(f"`channel` given twice ({_q(seen['channel'])} and {_q(token.source)}).", usage)
            seen["channel"] = token.source
            channel = found
            continue
        canonical = {"after": "after", "threshold": "after", "business": "business"}.get(key)
        if canonical is None:
            raise GrammarError(
                f"{_q(key)} is not an alerts option.{_did_you_mean(key, ['after', 'business', 'threshold'])} "
                "Known keys: after, business.",
                usage,
            )
        if canonical in seen:
            raise GrammarError(f"`{canonical}` given twice ({_q(seen[canonical])} and {_q(token.source)}).", usage)
        seen[canonical] = token.source
        value = _clean(raw).strip()
        if canonical == "business":
            business = _positive_id(value)
            if business is None:
                raise GrammarError(_key_id_message(token.source, value, "business"), usage)
            continue
        delta = _duration(value, bare_minutes=True)
        if delta is None:
            raise GrammarError(f"{_q(token.source)} is not a duration; use 30m, 4h, 2d, 1h30m or 90 (minutes).", usage)
        minutes = int(delta.total_seconds() // 60)
        if minutes < MIN_THRESHOLD_MINUTES:
            raise GrammarError(f"{_q(token.source)} is too short; alert after at least 5 minutes.", usage)
        if minutes > MAX_THRESHOLD_MINUTES:
            raise GrammarError(f"{_q(token.source)} is too long; alert after at most 30 days.", usage)
        threshold = minutes
    return AlertsSubscribeIntent(channel_id=channel, threshold_minutes=threshold, business=business)


def _channel(token: _Token, usage: str) -> str:
    """A Slack channel id from `<#C…|name>`, `<#C…>` or a raw `C…`/`G…` id."""
    text = token.text.strip()
    mention = _MENTION.fullmatch(text)
    if mention is not None:
        if _CHANNEL_ID.fullmatch(mention.group(1)):
            return mention.group(1)
        raise GrammarError(f"{_q(token.source)} is not a channel I can use.", usage)
    if _CHANNEL_ID.fullmatch(text):
        return text
    if text.startswith("<@"):
        raise GrammarError(f"{_q(token.source)} is a person, not a channel.", usage)
    if text.startswith("#") or _unescape(text).startswith("#"):
        raise GrammarError(
            f"I can't tell which channel {_q(token.source)} is. Type `#` and pick the channel from "
            "Slack's autocomplete so it arrives as a channel mention.",
            usage,
        )
    hint = ""
    if _duration(_clean(text), bare_minutes=True) is not None:
        hint = f" For a threshold, write after:{_escape(_clean(text)[:QUOTE_LIMIT])}."
    raise GrammarError(
        f"{_q(token.source)} is not a channel; pick one from Slack's autocomplete (type `#`).{hint}", usage
    )


# ------------------------------------------------------------------------------------------ the parser

_SIMPLE: dict[str, Callable[[Sequence[_Token]], Intent]] = {
    "login": _no_arguments("login", LoginIntent),
    "logout": _no_arguments("logout", LogoutIntent),
    "whoami": _no_arguments("whoami", WhoamiIntent),
    "commands": _no_arguments("commands", CommandsIntent),
    "help": _parse_help,
    "show": _parse_show,
    "delete": lambda args: DeleteIntent(id=_single_id("delete", args)),
    "create": _parse_create,
    "run": _parse_run,
    "alerts": _parse_alerts,
}
_ALIASES = {"ls": "list", "?": "help", "alert": "alerts", "find": "search"}
_ALL_COMMANDS = [*HELP_TOPICS, *_ALIASES]


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
    text = _preprocess(text)
    first = text.split(maxsplit=1)[0].lower() if text else ""
    first = _ALIASES.get(first, first)
    tokens = _tokenize(text, USAGE.get(first, SHORT_USAGE))
    if not tokens:
        return HelpIntent(topic=None)
    name = _clean(tokens[0].text).strip().lower()
    name = _ALIASES.get(name, name)
    args = tokens[1:]
    if name in ("list", "search"):
        return _parse_list(args, now, zone, search=name == "search")
    if name == "edit":
        return _parse_edit(args, now, zone)
    handler = _SIMPLE.get(name)
    if handler is None:
        raise GrammarError(
            f"{_q(tokens[0].source)} is not a `{COMMAND}` command.{_did_you_mean(name, _ALL_COMMANDS)}",
            SHORT_USAGE,
        )
    return handler(args)


# ----------------------------------------------------------------------------- describing, re-writing

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_LABELS = (
    ("last_agent_visit", "visited"),
    ("visited_from", "visited since"),
    ("visited_to", "visited until"),
    ("created_from", "created since"),
    ("created_to", "created until"),
    ("updated_from", "updated since"),
    ("updated_to", "updated until"),
)
_SORT_WORDS = {
    "Id": "id",
    "Name": "name",
    "Active": "active",
    "LastAgentVisit": "last agent visit",
    "CreatedOn": "creation date",
    "UpdatedOn": "last change",
    "BusinessId": "business",
}
_DIRECTION_WORDS = {
    "Id": ("lowest first", "highest first"),
    "Name": ("A→Z", "Z→A"),
    "Active": ("inactive first", "active first"),
    "LastAgentVisit": ("oldest first", "newest first"),
    "CreatedOn": ("oldest first", "newest first"),
    "UpdatedOn": ("oldest first", "newest first"),
    "BusinessId": ("lowest first", "highest first"),
}


def _human_date(value: datetime, *, with_time: bool = False) -> str:
    text = f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    if with_time or (value.hour, value.minute) != (0, 0):
        text += f" {value.hour:02d}:{value.minute:02d}"
    return text


def _is_whole_day(start: object, end: object) -> bool:
    """A range from a day's first minute to its last (wall clock as typed, DST days included)."""
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return False
    return (start.hour, start.minute) == (0, 0) and (end.hour, end.minute) == (23, 59) and start.date() == end.date()


def describe_filters(intent: ListIntent) -> str:
    """A short plain-text summary for list headers (escape it for mrkdwn), e.g.
    "active · name contains “lobby” · visited until 1 Nov 2026 10:30 · sorted by name, A→Z"."""
    f = intent.filters
    parts: list[str] = []
    if f.id is not None:
        parts.append(f"id {f.id}")
    if f.active is not None:
        parts.append("active" if f.active else "inactive")
    if f.business is not None:
        parts.append(f"business {f.business}")
    if f.name is not None:
        name = f.name if len(f.name) <= QUOTE_LIMIT else f.name[: QUOTE_LIMIT - 1] + "…"
        parts.append(f"name contains “{name}”")
    if f.users is not None:
        parts.append(f"user {f.users}")
    whole_days: set[str] = set()
    for word, (low, high) in _DAY_RANGES.items():
        start, end = getattr(f, low), getattr(f, high)
        if _is_whole_day(start, end):
            parts.append(f"{word} on {_human_date(start)}")
            whole_days.update((low, high))
    for field, label in _DATE_LABELS:
        value = getattr(f, field)
        if isinstance(value, datetime) and field not in whole_days:
            parts.append(f"{label} {_human_date(value, with_time=label.endswith('until'))}")
    if intent.order_by != "Id" or intent.direction != Direction.ASCENDING:
        words = _DIRECTION_WORDS.get(intent.order_by, ("ascending", "descending"))
        field = _SORT_WORDS.get(intent.order_by, intent.order_by)
        parts.append(f"sorted by {field}, {words[0 if intent.direction == Direction.ASCENDING else 1]}")
    return " · ".join(parts) if parts else "all chatrooms"


def _iso(value: datetime) -> str:
    """An exact minute with its offset, so it parses back to the same instant in any zone."""
    offset = value.utcoffset()
    if offset is None:
        return value.strftime("%Y-%m-%dT%H:%M")  # naive: read back in the space zone
    if offset % timedelta(minutes=1):
        value, offset = value.astimezone(UTC), timedelta(0)
    wall = value.strftime("%Y-%m-%dT%H:%M")
    if not offset:
        return wall + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{wall}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _quoted(value: str) -> str:
    escaped = _escape(value).replace("\\", "\\\\")
    for mark in QUOTES:
        escaped = escaped.replace(mark, "\\" + mark)
    return f'"{escaped}"'


def to_text(intent: ListIntent, page: int) -> str:
    """Command text that parses back to `intent` on `page` (for Previous/Next buttons)."""
    f = intent.filters
    parts = ["list"]
    if f.id is not None:
        parts.append(f"id:{f.id}")
    if f.active is not None:
        parts.append(f"active:{'true' if f.active else 'false'}")
    if f.business is not None:
        parts.append(f"business:{f.business}")
    if f.name is not None:
        parts.append(f"name:{_quoted(f.name)}")
    if f.users is not None:
        parts.append(f"user:{f.users}")
    for key, field in _DATE_FIELDS.items():
        value = getattr(f, field)
        if isinstance(value, datetime):
            parts.append(f"{key}:{_iso(value)}")
    if page != 1:
        parts.append(f"page:{page}")
    if intent.size is not None:
        parts.append(f"size:{intent.size}")
    if intent.order_by != "Id" or intent.direction != Direction.ASCENDING:
        sign = "-" if intent.direction == Direction.DESCENDING else ""
        parts.append(f"sort:{sign}{intent.order_by}")
    return " ".join(parts)
