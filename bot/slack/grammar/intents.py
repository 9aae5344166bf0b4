"""What the grammar produces: one typed intent per subcommand, or a `GrammarError` — and their limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.nexudus.query import MAX_PAGE_SIZE, ORDERABLE, ChatRoomFilters, Direction
from bot.rules import MAX_ID, MAX_MEMBERS

COMMAND = "/chatrooms"
MAX_IDS = 100
MAX_PAGE = 100_000
MIN_THRESHOLD_MINUTES = 5
MAX_THRESHOLD_MINUTES = 30 * 24 * 60
MAX_AGE = timedelta(days=3660)  # relative dates reach back at most ~10 years
MAX_MESSAGE = 500
DEFAULT_STATS_DAYS = 30
MAX_STATS_DAYS = 365
INTERNAL_MESSAGE = "Sorry, I couldn't read that command."

PositiveId = Annotated[int, Field(ge=1, le=MAX_ID)]


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


class _AlertOptions(_Intent):
    """The options of alerts, as `alerts subscribe` and `alerts change` take them; None: not given."""

    threshold_minutes: int | None = Field(default=None, ge=MIN_THRESHOLD_MINUTES, le=MAX_THRESHOLD_MINUTES)
    business: PositiveId | None = None
    escalate_after_minutes: int | None = Field(default=None, ge=MIN_THRESHOLD_MINUTES, le=MAX_THRESHOLD_MINUTES)
    escalate_to: str | None = None
    """A Slack user (`U…`/`W…`) or user group (`S…`) id."""
    hours: tuple[int, int] | None = None
    """Open from, until: minutes after midnight in the subscription's zone (until < from: over midnight)."""
    days: tuple[int, ...] | None = None
    """Open days, 0 = Monday."""
    zone: str | None = None
    summary_minute: int | None = None

    def given(self) -> dict[str, Any]:
        """The options given, by `Subscription` field name."""
        values = {
            "threshold_minutes": self.threshold_minutes,
            "business_id": self.business,
            "escalate_after_minutes": self.escalate_after_minutes,
            "escalate_to": self.escalate_to,
            "open_hours": self.hours,
            "open_days": self.days,
            "zone": self.zone,
            "summary_minute": self.summary_minute,
        }
        return {name: value for name, value in values.items() if value is not None}


class AlertsSubscribeIntent(_AlertOptions):
    """`alerts subscribe [#channel] [after:4h] [business:ID] [escalate-after:8h escalate-to:@x] [hours:08:00-20:00]
    [days:mon-fri] [zone:Europe/London] [summary:09:00]`; None means "use the default" (or "not set")."""

    channel_id: str | None = None


OffOption: TypeAlias = Literal["business", "escalation", "hours", "days", "zone", "summary"]
"""The options `alerts change` can turn off (`key:off`); both escalation keys turn escalation off."""


class AlertsChangeIntent(_AlertOptions):
    """`alerts change ID [after:6h] [business:ID|off] [escalate-after:8h|off] [escalate-to:@x|off]
    [hours:09:00-18:00|off] [days:mon-fri|off] [zone:Europe/Paris|off] [summary:09:00|off]`: a value changes
    that option, `off` (in `off`) turns it off, an option not given is kept."""

    subscription_id: str
    off: frozenset[OffOption] = frozenset()

    def changes(self) -> dict[str, Any]:
        """The subscription fields to change (by `Subscription` field name), None for those turned off."""
        changes = self.given()
        for option in self.off:
            changes.update(dict.fromkeys(_OFF_FIELDS[option]))
        return changes


_OFF_FIELDS: dict[str, tuple[str, ...]] = {
    "business": ("business_id",),
    "escalation": ("escalate_after_minutes", "escalate_to"),
    "hours": ("open_hours",),
    "days": ("open_days",),
    "zone": ("zone",),
    "summary": ("summary_minute",),
}


class AlertsUnsubscribeIntent(_Intent):
    """`alerts unsubscribe ID`."""

    subscription_id: str


class AuditIntent(_Intent):
    """`audit [ID] [user:@person] [since:7d] [page:N]`: the workspace's audit trail, newest first."""

    chatroom_id: PositiveId | None = None
    user_id: str | None = None
    """A Slack user (`U…`/`W…`) whose changes to show."""
    since: datetime | None = None
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class AuditChannelIntent(_Intent):
    """`audit channel #ops` (mirror new entries there), `audit channel off`, or `audit channel` (where now)."""

    channel_id: str | None = None
    off: bool = False


class StatsIntent(_Intent):
    """`stats [business:ID] [since:30d]`: response times of the workspace's alerts over the last days."""

    business: PositiveId | None = None
    days: int = Field(default=DEFAULT_STATS_DAYS, ge=1, le=MAX_STATS_DAYS)


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
    | AlertsChangeIntent
    | AlertsUnsubscribeIntent
    | AuditIntent
    | AuditChannelIntent
    | StatsIntent
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
