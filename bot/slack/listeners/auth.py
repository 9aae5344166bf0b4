"""Log in (a modal, checked against Nexudus before anything is stored), log out, and who am I."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.services import InvalidLogin
from bot.slack import ids
from bot.slack.context import Ctx, Once, ack_only, guarded
from bot.slack.errors import describe
from bot.slack.grammar import HelpIntent, LoginIntent, LogoutIntent, WhoamiIntent, help_text
from bot.slack.listeners.router import Router
from bot.slack.metadata import BadMetadata, LoginContext
from bot.slack.submissions import parse_login, parse_login_code, state_values
from bot.slack.views.chatrooms import render_help, render_notice
from bot.slack.views.common import escape
from bot.slack.views.modals import info_modal, loading_modal, login_modal


def open_login(_: LoginIntent, ctx: Ctx) -> None:
    meta = LoginContext(response_url=ctx.response_url, channel_id=ctx.channel_id).dump()
    email = ctx.deps.services.whoami(ctx.team_id, ctx.user_id) or ""
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=login_modal(meta, email=email, tokens=_tokens(ctx.deps)))


def _tokens(deps: Deps) -> bool:
    return deps.settings.nexudus_auth != "basic"


def _login_form(view: dict[str, Any]) -> tuple[str, str, str | None, dict[str, str]]:
    state = state_values(view)
    email, password, errors = parse_login(state)
    code, code_errors = parse_login_code(state)
    return email, password, code, {**errors, **code_errors}


def logout(_: LogoutIntent, ctx: Ctx) -> None:
    if ctx.deps.services.logout(ctx.team_id, ctx.user_id):
        ctx.reply(render_notice("👋 Logged out. Your Nexudus login was deleted from this app."))
    else:
        ctx.reply(render_notice("You were not logged in.", login_button=True))


def whoami(_: WhoamiIntent, ctx: Ctx) -> None:
    email = ctx.deps.services.whoami(ctx.team_id, ctx.user_id)
    if email:
        how = {
            "Bearer": " with a Nexudus login token (no password kept; it renews itself while you use the app)",
            "Basic": " with your password (stored encrypted)",
        }.get(ctx.deps.services.login_scheme(ctx.team_id, ctx.user_id) or "", "")
        ctx.reply(render_notice(f"You act in Nexudus as *{escape(email)}*{how}. `/chatrooms logout` to disconnect."))
    else:
        ctx.reply(render_notice("You are not logged in to Nexudus.", login_button=True))


def register(app: App, deps: Deps, router: Router) -> None:
    router.on(LoginIntent, open_login)
    router.on(LogoutIntent, logout)
    router.on(WhoamiIntent, whoami)
    once = Once()

    def login_clicked(body: dict[str, Any], client: WebClient, context: Any) -> None:
        ctx = Ctx.from_bolt(deps, body, client, context)
        guarded(ctx, lambda: open_login(LoginIntent(), ctx))

    def help_clicked(body: dict[str, Any], client: WebClient, context: Any) -> None:
        ctx = Ctx.from_bolt(deps, body, client, context)
        guarded(ctx, lambda: ctx.reply(render_help(help_text(None))))

    app.action(ids.LOGIN)(ack=ack_only, lazy=[login_clicked])
    app.action(ids.HELP)(ack=ack_only, lazy=[help_clicked])
    router.on(HelpIntent, lambda intent, ctx: ctx.reply(render_help(help_text(intent.topic))))

    def ack_login(ack: Ack, view: dict[str, Any]) -> None:
        try:
            LoginContext.load(view.get("private_metadata"))
        except BadMetadata as exc:
            ack(response_action="update", view=info_modal("Log in", f":warning: {exc}"))
            return
        _, _, _, errors = _login_form(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack(response_action="update", view=loading_modal("Log in to Nexudus", "Checking your login with Nexudus"))

    def do_login(body: dict[str, Any], client: WebClient, context: Any, view: dict[str, Any]) -> None:
        ctx = Ctx.from_bolt(deps, body, client, context)
        email, password, code, errors = _login_form(view)
        try:
            meta = LoginContext.load(view.get("private_metadata"))
        except BadMetadata:
            return
        if errors or not once.first(f"login:{view.get('id')}:{view.get('hash')}"):
            return

        ctx.response_url = meta.response_url  # every answer, even with the modal closed, goes there

        def work() -> None:
            try:
                saved = deps.services.login(ctx.team_id, ctx.user_id, email, password, code)
            except InvalidLogin as exc:
                on_code = exc.field == "code" and _tokens(deps)
                ctx.show_or_tell(
                    view.get("id"),
                    login_modal(
                        meta.dump(),
                        email=email,
                        error=None if on_code else str(exc),
                        code_error=str(exc) if on_code else None,
                        tokens=_tokens(deps),
                    ),
                    render_notice(f"{describe(exc).text} You are not logged in.", login_button=True),
                )
                return
            text = f"✅ Logged in as *{escape(saved)}*. Try `/chatrooms list`."
            ctx.outcome(view.get("id"), info_modal("Logged in", text), render_notice(text))
            if deps.refresh_home is not None:
                deps.refresh_home(client, ctx.team_id, ctx.user_id)

        guarded(ctx, work, view_id=view.get("id"))

    app.view(ids.LOGIN_MODAL)(ack=ack_login, lazy=[do_login])
