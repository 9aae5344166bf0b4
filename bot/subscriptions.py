"""Changing an alert subscription's options in place (`/chatrooms alerts change ID …`): the rules, and what changed.

Pure: `apply_change` is run by `Store.change_subscription` on the row as it is inside its write transaction
(with the channel's other subscriptions), so what it checks is what is written. Refusals are exceptions
carrying data; `bot/slack/errors.py:describe` words them. The subscription keeps its alert records and
digests: a room already alerted is not alerted again because its subscription changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.store import OPTION_FIELDS, Subscription


@dataclass(frozen=True)
class Change:
    """What `alerts change` asks for: option field -> new value (None turns the option off)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    by: str = ""
    """The Slack user asking."""
    channel_id: str | None = None
    """Where they asked: a channel's alerts may be changed from that channel, or by whoever set them up."""


class NoSuchSubscription(Exception):
    """No subscription with this id in the workspace (another workspace's is "no such one" too)."""

    def __init__(self, sub_id: str) -> None:
        super().__init__("no such subscription")
        self.sub_id = sub_id


class NotTheirs(Exception):
    """Asked from another channel by someone other than the subscription's creator."""

    def __init__(self, sub_id: str, channel_id: str, created_by: str) -> None:
        super().__init__("not theirs to change")
        self.sub_id, self.channel_id, self.created_by = sub_id, channel_id, created_by


class EscalationIncomplete(Exception):
    """Escalation needs both when (`escalate-after:`) and whom (`escalate-to:`); one would be missing."""

    def __init__(self, missing: Literal["escalate-after", "escalate-to"]) -> None:
        super().__init__(f"escalation without {missing}")
        self.missing = missing


class EscalationNotLater(Exception):
    """`escalate-after` would not be longer than the alert threshold."""

    def __init__(self, escalate_after_minutes: int, threshold_minutes: int) -> None:
        super().__init__("escalation not after the alert")
        self.escalate_after_minutes, self.threshold_minutes = escalate_after_minutes, threshold_minutes


class SameAlertsExist(Exception):
    """The channel already has a subscription with the threshold and business this change would give."""

    def __init__(self, existing_id: str, channel_id: str) -> None:
        super().__init__("same alerts exist")
        self.existing_id, self.channel_id = existing_id, channel_id


def apply_change(current: Subscription, siblings: list[Subscription], change: Change, now: datetime) -> Subscription:
    """`current` with the change made, or an exception saying why not (nothing is then written)."""
    if change.by != current.created_by and change.channel_id != current.channel_id:
        raise NotTheirs(current.id, current.channel_id, current.created_by)
    unknown = set(change.values) - set(OPTION_FIELDS)
    if unknown:
        raise ValueError(f"not subscription options: {sorted(unknown)}")
    after = current.model_copy(update=dict(change.values))
    if after.escalate_after_minutes is not None and after.escalate_to is None:
        raise EscalationIncomplete("escalate-to")
    if after.escalate_to is not None and after.escalate_after_minutes is None:
        raise EscalationIncomplete("escalate-after")
    if after.escalate_after_minutes is not None and after.escalate_after_minutes <= after.threshold_minutes:
        raise EscalationNotLater(after.escalate_after_minutes, after.threshold_minutes)
    for other in siblings:
        if other.same_filter(after):
            raise SameAlertsExist(other.id, other.channel_id)
    raised = after.threshold_minutes - current.threshold_minutes
    if raised > 0:
        # A never-visited room alerted under the old threshold may be missing from the next scans only
        # because it has not waited the new one yet; by this time every such room has.
        until = now + timedelta(minutes=raised)
        held = current.raised_threshold_until
        after = after.model_copy(update={"raised_threshold_until": max(until, held) if held else until})
    return after


def changed_options(before: Subscription, after: Subscription) -> list[str]:
    """The option fields whose value differs, in `OPTION_FIELDS` order."""
    return [name for name in OPTION_FIELDS if getattr(before, name) != getattr(after, name)]
