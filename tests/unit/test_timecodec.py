"""TimeCodec: Nexudus date-times read and written in the space's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.nexudus.timecodec import UTC_CODEC, TimeCodec

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")


class TestParse:
    @pytest.mark.parametrize("value", [None, ""])
    def test_none_and_empty_stay_none(self, value) -> None:
        assert UTC_CODEC.parse(value) is None
        assert TimeCodec(MADRID).parse(value) is None

    def test_z_text_is_utc_by_default(self) -> None:
        assert UTC_CODEC.parse("2018-07-03T06:23:01Z") == datetime(2018, 7, 3, 6, 23, 1, tzinfo=UTC)

    def test_z_text_is_the_space_wall_clock(self) -> None:
        parsed = TimeCodec(MADRID).parse("2026-11-01T10:00:00Z")
        assert parsed is not None
        assert parsed.tzinfo is MADRID
        assert (parsed.hour, parsed.minute) == (10, 0)
        assert parsed.astimezone(UTC) == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def test_summer_offset(self) -> None:
        parsed = TimeCodec(MADRID).parse("2026-07-01T10:00:00Z")
        assert parsed is not None and parsed.astimezone(UTC) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["2026-11-01T10:00:00", "2026-11-01T10:00:00z", " 2026-11-01T10:00:00Z "])
    def test_naive_text_and_lowercase_z_read_in_the_zone(self, text: str) -> None:
        parsed = TimeCodec(NEW_YORK).parse(text)
        assert parsed == datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK)

    def test_explicit_offset_in_text_is_kept(self) -> None:
        parsed = TimeCodec(MADRID).parse("2026-11-01T10:00:00+05:00")
        assert parsed is not None
        assert parsed.utcoffset() == timedelta(hours=5)
        assert parsed.astimezone(UTC) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)

    def test_fractional_seconds(self) -> None:
        parsed = UTC_CODEC.parse("2020-01-01T21:57:21.123Z")
        assert parsed == datetime(2020, 1, 1, 21, 57, 21, 123000, tzinfo=UTC)

    def test_naive_datetime_gets_the_zone(self) -> None:
        parsed = TimeCodec(MADRID).parse(datetime(2026, 11, 1, 10, 0))
        assert parsed == datetime(2026, 11, 1, 10, 0, tzinfo=MADRID)

    def test_aware_datetime_is_unchanged(self) -> None:
        value = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
        assert TimeCodec(MADRID).parse(value) is value

    def test_garbage_raises(self) -> None:
        with pytest.raises(ValueError):
            UTC_CODEC.parse("yesterday")


class TestWrite:
    def test_to_wire_none(self) -> None:
        assert UTC_CODEC.to_wire(None) is None

    def test_to_wire_utc(self) -> None:
        assert UTC_CODEC.to_wire(datetime(2026, 11, 1, 9, 0, 5, 999999, tzinfo=UTC)) == "2026-11-01T09:00:05Z"

    def test_to_wire_converts_to_the_space_wall_clock(self) -> None:
        codec = TimeCodec(MADRID)
        assert codec.to_wire(datetime(2026, 11, 1, 9, 0, tzinfo=UTC)) == "2026-11-01T10:00:00Z"
        assert codec.to_wire(datetime(2026, 11, 1, 4, 0, tzinfo=NEW_YORK)) == "2026-11-01T10:00:00Z"
        assert codec.to_wire(datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == (
            "2026-11-01T10:00:00Z"
        )

    def test_to_wire_naive_is_taken_as_space_time(self) -> None:
        assert TimeCodec(MADRID).to_wire(datetime(2026, 11, 1, 10, 0)) == "2026-11-01T10:00:00Z"

    def test_to_filter_minutes_in_the_space_wall_clock(self) -> None:
        codec = TimeCodec(MADRID)
        assert codec.to_filter(datetime(2026, 11, 1, 9, 30, 59, tzinfo=UTC)) == "2026-11-01T10:30"
        assert codec.to_filter(datetime(2026, 11, 1, 10, 30)) == "2026-11-01T10:30"
        assert UTC_CODEC.to_filter(datetime(2010, 1, 1, 20, 32, tzinfo=UTC)) == "2010-01-01T20:32"

    @pytest.mark.parametrize("zone", [UTC, MADRID, NEW_YORK])
    def test_round_trip(self, zone) -> None:
        codec = TimeCodec(zone)
        for text in ("2026-03-29T01:59:59Z", "2026-11-01T10:00:00Z", "2026-12-31T23:59:59Z"):
            assert codec.to_wire(codec.parse(text)) == text

    def test_machine_local_zone_is_never_used(self, monkeypatch) -> None:
        import time

        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        try:
            assert UTC_CODEC.to_wire(datetime(2026, 11, 1, 10, 0)) == "2026-11-01T10:00:00Z"
            assert UTC_CODEC.parse("2026-11-01T10:00:00Z") == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
        finally:
            monkeypatch.undo()
            time.tzset()
