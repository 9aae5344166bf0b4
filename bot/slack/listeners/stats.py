"""`/chatrooms stats [business:ID] [since:30d]`: the workspace's response times, from the alert history."""

from __future__ import annotations

from bot.deps import Deps
from bot.slack.context import Ctx
from bot.slack.grammar import StatsIntent
from bot.slack.handlers import Handlers
from bot.slack.views.stats import render_stats
from bot.stats import LOOKBACK, Stats, compute_stats, last_days

handlers = Handlers()


def workspace_stats(deps: Deps, team_id: str, *, days: int, business: int | None = None) -> Stats:
    """The figures of one workspace (`team_id`: never another's) over its last `days` days, in the space's zone."""
    start, end = last_days(deps.clock(), days, deps.zone)
    history = deps.store.history(team_id, since=start - LOOKBACK)
    return compute_stats(history, start=start, end=end, zone=deps.zone, business=business)


@handlers.subcommand(StatsIntent)
def show_stats(intent: StatsIntent, ctx: Ctx) -> None:
    deps = ctx.deps
    stats = workspace_stats(deps, ctx.team_id, days=intent.days, business=intent.business)
    ctx.reply(
        render_stats(
            stats,
            zone=deps.zone,
            days=intent.days,
            subscriptions=len(deps.store.subscriptions(ctx.team_id)),
            interval_minutes=max(1, round(deps.settings.alert_interval_seconds / 60)),
        )
    )
