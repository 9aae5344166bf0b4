"""Dates as users type them (`2026-11-01`, `2026-11-01T10:30+01:00`, `today`, `2d`) → aware datetimes, and back.

Typed dates without an offset are read in the space's zone; every result is truncated to the minute
(Nexudus filters take `YYYY-MM-DDTHH:mm`) and carries the zone's fixed offset at that instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo

from bot.slack.grammar.intents import MAX_AGE, GrammarError
from bot.slack.grammar.lexer import q

DATE_FORMS = (
    "`2026-11-01` (that whole day, space time) · `2026-11-01T10:30` · `2026-11-01T10:30:00` · "
    "`2026-11-01T10:30Z` (UTC) · `2026-11-01T10:30+01:00` · `today` · `yesterday` · "
    "or an age — `30m`, `4h`, `2d`, `1w`, `1h30m` ago"
)
_DATE_HELP = "use 2026-11-01, 2026-11-01T10:30, 2026-11-01T10:30Z, today, yesterday, or an age like 30m, 4h, 2d, 1w"
_DAY_WORDS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_DURATION = re.compile(
    r"(?:([0-9]{1,6})\s*w(?:ks?|eeks?)?)?\s*(?:([0-9]{1,6})\s*d(?:ays?)?)?\s*"
    r"(?:([0-9]{1,6})\s*h(?:rs?|ours?)?)?\s*(?:([0-9]{1,6})\s*m(?:ins?|inutes?)?)?",
    re.IGNORECASE,
)
# ISO 8601 as people type it: one-digit months, days and hours, `t`/`z` in any case, a space before the
# offset. The groups are padded into the strict form `datetime.fromisoformat` reads.
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?)?"
    r"\s*(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?",
    re.IGNORECASE,
)


def duration(value: str, *, bare_minutes: bool) -> timedelta | None:
    """`30m`, `4h`, `2d`, `1w`, `1h30m` (and `90` = minutes when bare_minutes) → timedelta, else None."""
    value = value.strip()
    if bare_minutes and re.fullmatch(r"[0-9]{1,6}", value):
        return timedelta(minutes=int(value))
    match = _DURATION.fullmatch(value)
    if match is None or not any(match.groups()):
        return None
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


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


def _midnight(day_shift: int, start: datetime, zone: tzinfo) -> datetime:
    """The first minute of the day `day_shift` days after `start`'s day, in the zone."""
    day = start.astimezone(zone).date() + timedelta(days=day_shift)
    return _settle(_localize(datetime.combine(day, time()), zone), zone)


def parse_date(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> datetime:
    """One date value D (see `DATE_FORMS`) → aware datetime, truncated to the minute."""
    text = value.strip()
    word = text.lower()
    try:
        if word in _DAY_WORDS:
            return _midnight(_DAY_WORDS[word], now, zone)
        if word == "now":
            return _settle(now, zone)
        age = duration(text, bare_minutes=False)
        if age is not None:
            if age > MAX_AGE:
                raise GrammarError(f"{q(source)} reaches back too far; keep ages under 10 years.", usage)
            return _settle(now - age, zone)
        return _settle(_iso_date(text, source, zone, usage), zone)
    except (ValueError, OverflowError) as exc:
        raise GrammarError(f"{q(source)} is not a real date ({exc}); {_DATE_HELP}.", usage) from None


def _iso_date(text: str, source: str, zone: tzinfo, usage: str) -> datetime:
    """An ISO date or date-time (see `_ISO`), read in `zone` when it has no offset; seconds dropped."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise GrammarError(f"{q(source)} is not a date I understand; {_DATE_HELP}.", usage)
    year, month, day, hour, minute, second, offset = match.groups()
    if not 1900 <= int(year) <= 2999:
        raise GrammarError(f"{q(source)}: the year must be between 1900 and 2999.", usage)
    if offset is not None and _offset_out_of_range(offset):
        raise GrammarError(f"{q(source)}: a UTC offset runs from -18:00 to +18:00.", usage)
    stamped = datetime.fromisoformat(
        f"{year}-{month:0>2}-{day:0>2}T{hour or 0:0>2}:{minute or '00'}:{second or '00'}{(offset or '').upper()}"
    ).replace(second=0)
    return stamped if stamped.tzinfo is not None else _localize(stamped, zone)


def _offset_out_of_range(offset: str) -> bool:
    """`+19:00` or `+01:75` (`Z` is UTC)."""
    digits = offset[1:].replace(":", "")
    return offset.upper() != "Z" and (int(digits[:2]) > 18 or int(digits[2:4] or 0) > 59)


def day_bounds(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> tuple[datetime, datetime] | None:
    """The first and last minute of the day when `value` names a whole day (`2026-11-01`, `today`,
    `yesterday`; in the space's zone unless an offset is given), else None."""
    text = value.strip()
    match = _ISO.fullmatch(text)
    if text.lower() not in _DAY_WORDS and (match is None or match.group(4) is not None):
        return None
    start = parse_date(value, source, now, zone, usage)
    if match is not None and match.group(7) is not None:
        following = start + timedelta(days=1)
    else:
        following = _midnight(1, start, zone)
    return start, following - timedelta(minutes=1)


def iso(value: datetime) -> str:
    """An exact minute with its offset, so it parses back to the same instant in any zone (naive values
    are read back in the space's zone)."""
    offset = value.utcoffset()
    if offset is not None and offset % timedelta(minutes=1):
        value = value.astimezone(UTC)
    text = value.isoformat(timespec="minutes")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def human_date(value: datetime, *, with_time: bool = False) -> str:
    """`1 Nov 2026`, with ` 10:30` when it has a time of day (or `with_time`)."""
    text = f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    if with_time or (value.hour, value.minute) != (0, 0):
        text += f" {value.hour:02d}:{value.minute:02d}"
    return text


def is_whole_day(start: object, end: object) -> bool:
    """A range from a day's first minute to its last (wall clock as typed, DST days included)."""
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return False
    return (start.hour, start.minute) == (0, 0) and (end.hour, end.minute) == (23, 59) and start.date() == end.date()
