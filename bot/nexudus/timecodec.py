"""Nexudus date-times in and out, in the space's time zone.

Nexudus writes `2018-07-03T06:23:01Z`, and some of its APIs put the space's *local* wall-clock time
before that `Z`. So the wall-clock part is always read in the configured space zone (UTC by default)
and written back the same way; range filters take `YYYY-MM-DDTHH:mm` in that zone too. Nothing here
looks at the machine's local zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FILTER_FORMAT = "%Y-%m-%dT%H:%M"


class TimeCodec:
    """Parses and formats Nexudus date-times for one space time zone."""

    def __init__(self, zone: tzinfo = UTC) -> None:
        self.zone = zone

    def parse(self, value: str | datetime | None) -> datetime | None:
        """Wire text (or a datetime) to an aware datetime; None and empty text stay None."""
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.zone)
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1]
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=self.zone) if parsed.tzinfo is None else parsed

    def to_wire(self, value: datetime | None) -> str | None:
        """An aware datetime to the space's wall clock with the `Z` Nexudus writes."""
        if value is None:
            return None
        return self._local(value).strftime(WIRE_FORMAT)

    def to_filter(self, value: datetime) -> str:
        """An aware datetime to the `YYYY-MM-DDTHH:mm` form range filters take."""
        return self._local(value).strftime(FILTER_FORMAT)

    def _local(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(self.zone)


UTC_CODEC = TimeCodec(UTC)
