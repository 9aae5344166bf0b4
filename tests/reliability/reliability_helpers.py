"""Shared by the reliability tests: waiting for lazy listeners to finish, capturing logs, filling forms."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.console.fake_slack import FakeSlack
from bot.console.render import field_state, initial_state, render_modal


def wait_quiet(fake: FakeSlack, idle: float = 0.4, limit: float = 20.0) -> int:
    """Block until the fake Slack has received no call for `idle` seconds; returns the number of calls."""
    deadline = time.monotonic() + limit
    seen, since = -1, time.monotonic()
    while True:
        n = len(fake.calls())
        now = time.monotonic()
        if n != seen:
            seen, since = n, now
        elif now - since >= idle:
            return n
        if now > deadline:
            raise TimeoutError(f"the fake Slack never went quiet ({n} calls)")
        time.sleep(0.05)


class RecordList(logging.Handler):
    """Keeps every record it sees (at `level` and above)."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]

    def texts(self) -> list[str]:
        """Each record as a handler would write it: message, plus its traceback if any."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return [formatter.format(r) for r in self.records]


@contextmanager
def capture_logs(level: int = logging.DEBUG, loggers: tuple[str, ...] = ("",)) -> Iterator[RecordList]:
    """Attach a RecordList to these loggers (root by default) and lower them to `level` meanwhile."""
    handler = RecordList(level)
    saved = []
    for name in loggers:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        yield handler
    finally:
        for logger, old in saved:
            logger.removeHandler(handler)
            logger.setLevel(old)


def prefilled_state(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends when the user submits a form without touching it."""
    modal = render_modal(view)
    return {f.block_id: {f.action_id: initial_state(f)} for f in modal.fields}


def typed_state(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """What Slack sends when the user types `typed` (by field label) and leaves the other fields as they are."""
    modal = render_modal(view)
    return {
        f.block_id: {f.action_id: field_state(f, typed[f.label]) if f.label in typed else initial_state(f)}
        for f in modal.fields
    }


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def all_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
