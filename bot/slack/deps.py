"""What the Slack app needs, passed in (never read from the environment or globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from bot.installations import Installations
from bot.services import Services
from bot.settings import Settings
from bot.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    store: Store
    services: Services
    clock: Callable[[], datetime] = utc_now
    zone: tzinfo = field(default=UTC)
    # The workspaces installed through Slack's OAuth flow; None in the single-workspace mode (SLACK_BOT_TOKEN).
    installations: Installations | None = None
    # Where a fresh alert scan comes from (set by the alerts feature); None until it is wired.
    extras: dict[str, object] = field(default_factory=dict)
