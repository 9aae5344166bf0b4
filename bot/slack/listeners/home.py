"""The App Home tab: login status, the user's alert subscriptions, the workspace's last 7 days of response
times, and the chatrooms waiting now.

Published on `app_home_opened` (in a lazy listener: it reads Nexudus) and after login or logout, via
`deps.refresh_home`, which the login flow calls.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from bot.deps import Deps
from bot.digests import StaleRow, stale_row
from bot.services import NotLoggedIn, UserSession
from bot.slack import ids
from bot.slack.context import Ctx
from bot.slack.errors import describe
from bot.slack.handlers import Click, Handlers
from bot.slack.listeners.stats import workspace_stats
from bot.slack.views.alerts import (
    MAX_HOME_ROWS,
    MAX_HOME_SECTIONS,
    HomeSection,
    business_text,
    duration_text,
    render_home,
)
from bot.slack.views.stats import home_stats_blocks
from bot.stale import oldest_stale

log = logging.getLogger(__name__)

handlers = Handlers()


def build_home(deps: Deps, team_id: str, user_id: str) -> dict[str, Any]:
    """The Home view: what is waiting for each business the user watches (two Nexudus requests each)."""
    now = deps.clock()
    email = deps.services.whoami(team_id, user_id)
    subs = deps.store.subscriptions_by_user(team_id, user_id)
    sections: list[HomeSection] = []
    note = None
    session: UserSession | None = None
    if email:
        try:
            session = deps.services.session(team_id, user_id)
        except NotLoggedIn:
            note = "Your saved login can't be read any more; please log in again."
    if session is not None:
        watched: dict[tuple[int, int | None], str | None] = {}
        for sub in subs:
            watched.setdefault((sub.threshold_minutes, sub.business_id), sub.id)
        if not watched:
            watched[(deps.settings.alert_default_threshold_minutes, None)] = None
        shown: set[int] = set()
        for (threshold, business), sub_id in list(watched.items())[:MAX_HOME_SECTIONS]:
            title = f"Waiting more than {duration_text(threshold)} · {business_text(business)}"
            try:
                rooms, total = oldest_stale(session, now - timedelta(minutes=threshold), business, MAX_HOME_ROWS)
            except Exception as exc:
                sections.append(HomeSection(title, sub_id, [], 0, error=describe(exc).text))
                continue
            rows: list[StaleRow] = []
            above = 0
            for room in rooms:
                if room.id in shown:
                    above += 1
                    continue
                shown.add(room.id)
                rec = deps.store.get_alert(sub_id, room.id) if sub_id else None
                if rec is not None and rec.resolved_at is None and rec.snoozed_until and rec.snoozed_until > now:
                    rows.append(stale_row(room, state="snoozed", until=rec.snoozed_until))
                else:
                    rows.append(stale_row(room))
            sections.append(HomeSection(title, sub_id, rows, total, above=above))
    refused = deps.services.refused_roles(team_id, user_id)
    week = home_stats_blocks(workspace_stats(deps, team_id, days=7))
    return render_home(
        email=email, subscriptions=subs, sections=sections, now=now, note=note, refused=refused, week=week
    )


def publish_home(deps: Deps, client: WebClient, team_id: str, user_id: str) -> None:
    client.views_publish(user_id=user_id, view=build_home(deps, team_id, user_id))


def refresh_home(deps: Deps, client: WebClient, team_id: str, user_id: str) -> None:
    """Publish the Home tab again (after a login, a logout, a button in it); a failure is only logged."""
    try:
        publish_home(deps, client, team_id, user_id)
    except Exception:
        log.exception("could not publish the Home tab")


@handlers.setup
def offer_refresh(deps: Deps) -> None:
    deps.refresh_home = lambda client, team_id, user_id: refresh_home(deps, client, team_id, user_id)


@handlers.event("app_home_opened")
def home_opened(ctx: Ctx, event: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home":
        return  # the Messages tab opened: nothing to publish
    refresh_home(ctx.deps, ctx.client, ctx.team_id, str(event.get("user") or ""))


@handlers.action(ids.HOME_LOGOUT)
def logout_clicked(ctx: Ctx, click: Click) -> None:
    ctx.deps.services.logout(ctx.team_id, ctx.user_id, enterprise_id=ctx.enterprise_id)
    refresh_home(ctx.deps, ctx.client, ctx.team_id, ctx.user_id)
