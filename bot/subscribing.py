"""Subscribing a channel to alerts, changing and removing it: the store's change and its audit entry, in one place.

The Slack side announces the change in the channel (`announce`); a subscription whose channel refuses the
announcement is removed again, and then was never made: only a subscription in force is recorded. Pauses
and resumes are made by the app itself (the alert worker, an uninstall) and recorded as its own.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.audit import Actor
from bot.deps import Deps
from bot.store import FieldChange, Subscription

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def duration(minutes: int) -> str:
    """Minutes as `after:` takes them, in the largest whole unit: 240 → `4h`, 2880 → `2d`, 90 → `90m`."""
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def days_text(days: tuple[int, ...]) -> str:
    """Days as `days:` takes them: a run of three or more as a range (`mon-fri`), others listed (`mon,wed`)."""
    ordered = sorted(set(days))
    if len(ordered) >= 3 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{_DAYS[ordered[0]]}-{_DAYS[ordered[-1]]}"
    return ",".join(_DAYS[d] for d in ordered)


def option_values(sub: Subscription) -> dict[str, str]:
    """A subscription's options as `alerts subscribe` takes them (`after` → `4h`), those that are set."""

    def clock(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    values = {"after": duration(sub.threshold_minutes)}
    if sub.business_id is not None:
        values["business"] = str(sub.business_id)
    if sub.escalate_after_minutes is not None:
        values["escalate-after"] = duration(sub.escalate_after_minutes)
    if sub.escalate_to is not None:
        values["escalate-to"] = sub.escalate_to
    if sub.open_hours is not None:
        values["hours"] = f"{clock(sub.open_hours[0])}-{clock(sub.open_hours[1])}"
    if sub.open_days is not None:
        values["days"] = days_text(sub.open_days)
    if sub.zone:
        values["zone"] = sub.zone
    if sub.summary_minute is not None:
        values["summary"] = clock(sub.summary_minute)
    return values


def options_text(sub: Subscription) -> str:
    """A subscription's options, as `alerts subscribe` takes them (for the audit trail)."""
    return " ".join(f"{key}:{value}" for key, value in option_values(sub).items() if key != "escalate-to")


def subscribe(
    deps: Deps, actor: Actor, wanted: Subscription, announce: Callable[[Subscription], None]
) -> tuple[Subscription, bool]:
    """Save `wanted` unless its channel has the same alerts, then `announce` it; (the one in force, new?).

    If `announce` raises, the new subscription is removed again (and the exception goes on): nothing was set
    up, nothing is recorded."""
    sub, created = deps.store.subscribe_once(wanted)
    if not created:
        return sub, False
    try:
        announce(sub)
    except BaseException:
        deps.store.remove_subscription(sub.team_id, sub.id)
        raise
    deps.services.audit.record(
        actor, "subscribe", subscription_id=sub.id, channel_id=sub.channel_id, detail=options_text(sub)
    )
    return sub, True


def change(
    deps: Deps,
    actor: Actor,
    sub_id: str,
    apply: Callable[[Subscription, list[Subscription]], Subscription],
) -> tuple[Subscription, Subscription] | None:
    """`alerts change`: `Store.change_subscription` (None: no such subscription in the workspace), recorded
    with each option that changed, before → after (None: off)."""
    result = deps.store.change_subscription(actor.team_id, sub_id, apply)
    if result is None:
        return None
    before, after = (option_values(sub) for sub in result)
    changes = [
        FieldChange(field=key, before=before.get(key), after=after.get(key))
        for key in dict.fromkeys([*before, *after])
        if before.get(key) != after.get(key)
    ]
    if changes:
        sub = result[1]
        deps.services.audit.record(actor, "change", subscription_id=sub.id, channel_id=sub.channel_id, changes=changes)
    return result


def unsubscribe(deps: Deps, actor: Actor, sub: Subscription) -> bool:
    """Remove a team's subscription (with its alert state); whether it was there (and so recorded)."""
    if not deps.store.remove_subscription(actor.team_id, sub.id, now=deps.clock()):
        return False
    deps.services.audit.record(
        actor, "unsubscribe", subscription_id=sub.id, channel_id=sub.channel_id, detail=options_text(sub)
    )
    return True


def by_the_app(deps: Deps, sub: Subscription, action: str, detail: str | None = None) -> None:
    """A change the app made by itself (a pause, a resume): recorded with no Slack user."""
    deps.services.audit.record(
        Actor(sub.team_id, None, sub.enterprise_id),
        action,
        subscription_id=sub.id,
        channel_id=sub.channel_id,
        detail=detail,
    )


def pause_workspace(deps: Deps, team_id: str, reason: str, why: str) -> int:
    """Pause every running subscription of a workspace (the app was uninstalled); how many."""
    paused = 0
    for sub in deps.store.subscriptions(team_id):
        if sub.paused_reason is not None:
            continue
        if deps.store.update_subscription(sub.model_copy(update={"paused_reason": reason})):
            by_the_app(deps, sub, "pause", why)
            paused += 1
    return paused
