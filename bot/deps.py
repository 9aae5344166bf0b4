"""What the app needs, passed in (never read from the environment or globals): built by `bot/wiring.py`.

It lives outside `bot/slack/` because the alert worker and the services use it too; the Slack side plugs
its own behaviour in through the typed hooks below (never through string-keyed extras).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from bot.acks import AcksFirst
from bot.inflight import Journal
from bot.installations import Installations
from bot.once import MemoryOnce, OnceKeys
from bot.services import Services
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.digests import DigestPublisher


def utc_now() -> datetime:
    return datetime.now(UTC)


class HomeRefresher(Protocol):
    """Republish a user's App Home tab (set by the Home feature; the login flow and row buttons call it)."""

    def __call__(self, client: Any, team_id: str, user_id: str) -> None: ...


@dataclass
class Deps:
    settings: Settings
    store: Store
    services: Services
    clock: Callable[[], datetime] = utc_now
    zone: tzinfo = field(default=UTC)
    once: OnceKeys = field(default_factory=MemoryOnce)
    """Once-only keys for submissions and Slack's retried deliveries: this process's, or Redis' (REDIS_URL)."""
    checks: dict[str, Callable[[], object]] = field(default_factory=dict)
    """What /healthz checks (bot/health.py): Redis and the database when they are configured."""
    refresh_home: HomeRefresher | None = None
    """Set by the Home feature when the app is built; None in a worker without a Slack app."""
    run_command: Callable[[str, Any], None] | None = None
    """Runs a `/chatrooms` text for a request's person (`Ctx`), as the slash command would after its ack: set by
    the slash command's listener; the "Run it again" button of a command that never started calls it."""
    installations: Installations | None = None
    """The workspaces installed through Slack's OAuth flow; None in the single-workspace mode (SLACK_BOT_TOKEN)."""
    acks: AcksFirst = field(default_factory=AcksFirst)
    """The requests this process is acknowledging now: the work after acks yields to them (bot/slack/lanes.py)."""
    journal: Journal | None = None
    """Acknowledged writes in flight, kept in the store (bot/inflight.py); started by the entry points."""
    publisher_for_team: Callable[[str, str | None], DigestPublisher | None] | None = None
    """Where the alert worker posts for a workspace, by team and Enterprise Grid organisation (its bot token
    from the installation store), None when it has no installation. None: the worker's one publisher."""
