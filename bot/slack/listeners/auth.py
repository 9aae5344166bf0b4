"""Log in (a modal, checked against Nexudus before anything is stored), log out, and who am I."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.deps import Deps
from bot.services import InvalidLogin
from bot.slack import ids
from bot.slack.context import Ctx
from bot.slack.errors import describe, sentence
from bot.slack.grammar import LoginIntent, LogoutIntent, WhoamiIntent, help_text
from bot.slack.handlers import Click, Handlers
from bot.slack.metadata import LoginContext
from bot.slack.submissions import StateValues, parse_login, parse_login_code
from bot.slack.views.chatrooms import render_help, render_notice
from bot.slack.views.common import escape
from bot.slack.views.modals import info_modal, loading_modal, login_modal

handlers = Handlers()


@handlers.subcommand(LoginIntent)
def open_login(_: LoginIntent, ctx: Ctx) -> None:
    meta = LoginContext(response_url=ctx.response_url, channel_id=ctx.channel_id).dump()
    email = ctx.deps.services.whoami(ctx.team_id, ctx.user_id) or ""
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=login_modal(meta, email=email, tokens=_tokens(ctx.deps)))


def _tokens(deps: Deps) -> bool:
    return deps.settings.nexudus_auth != "basic"


@dataclass(frozen=True)
class LoginForm:
    email: str
    password: str = field(repr=False)  # never in a log line
    code: str | None = field(repr=False)


@handlers.subcommand(LogoutIntent)
def logout(_: LogoutIntent, ctx: Ctx) -> None:
    if ctx.deps.services.logout(ctx.team_id, ctx.user_id, enterprise_id=ctx.enterprise_id):
        ctx.reply(render_notice("👋 Logged out. Your Nexudus login was deleted from this app."))
    else:
        ctx.reply(render_notice("You were not logged in.", login_button=True))


@handlers.subcommand(WhoamiIntent)
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


@handlers.action(ids.LOGIN, opens_modal=True)
def login_clicked(ctx: Ctx, click: Click) -> None:
    open_login(LoginIntent(), ctx)


@handlers.action(ids.HELP)
def help_clicked(ctx: Ctx, click: Click) -> None:
    ctx.reply(render_help(help_text(None)))


def parse_login_form(state: StateValues, meta: LoginContext, deps: Deps) -> tuple[LoginForm, dict[str, str]]:
    email, password, errors = parse_login(state)
    code, code_errors = parse_login_code(state)
    return LoginForm(email, password, code), {**errors, **code_errors}


@handlers.submission(
    ids.LOGIN_MODAL,
    meta=LoginContext,
    parse=parse_login_form,
    title="Log in",
    loading=lambda _: loading_modal("Log in to Nexudus", "Checking your login with Nexudus"),
)
def log_in(ctx: Ctx, meta: LoginContext, form: LoginForm) -> None:
    """Check the login with Nexudus before anything is stored; a refusal comes back under its field."""
    deps = ctx.deps
    try:
        saved = deps.services.login(
            ctx.team_id, ctx.user_id, form.email, form.password, form.code, enterprise_id=ctx.enterprise_id
        )
    except InvalidLogin as exc:
        on_code = exc.field == "code" and _tokens(deps)
        words = sentence(exc)  # the modal escapes what it shows
        ctx.show_or_tell(
            ctx.view_id,
            login_modal(
                meta.dump(),
                email=form.email,
                error=None if on_code else words,
                code_error=words if on_code else None,
                tokens=_tokens(deps),
            ),
            render_notice(f"{describe(exc).text} You are not logged in.", login_button=True),
        )
        return
    text = f"✅ Logged in as *{escape(saved)}*. Try `/chatrooms list`."
    ctx.outcome(ctx.view_id, info_modal("Logged in", text), render_notice(text))
    if deps.refresh_home is not None:
        deps.refresh_home(ctx.client, ctx.team_id, ctx.user_id)
