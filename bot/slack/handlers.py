"""One registration helper per kind of Slack request, so that a handler reads as its use case.

A feature module (bot/slack/listeners/*.py) makes one `Handlers` and decorates top-level functions:

    handlers = Handlers()

    @handlers.subcommand(ListIntent)                  # `/chatrooms list …` (the grammar makes the intent)
    def list_chatrooms(intent: ListIntent, ctx: Ctx) -> None: ...

    @handlers.action(ids.SHOW)                        # a button or menu, by action_id
    def show_clicked(ctx: Ctx, click: Click) -> None: ...

    @handlers.submission(ids.EDIT_MODAL, meta=EditContext, parse=parse_edit, title="Edit chatroom",
                         loading="Saving your changes")
    def save_edit(ctx: Ctx, meta: EditContext, values: dict[str, Any]) -> None: ...

The helpers own what every handler of a kind used to write for itself:
- an **action** is acked at once; the ack builds the `Ctx` and hands the handler, guarded (any exception
  becomes words through `describe`; a forged or stale button raises `OutOfDate`), to the work after the ack;
- a **submission**'s ack loads the modal's `private_metadata` (a forged one answers in the modal), parses the
  form (field errors answer under the fields) and swaps in a loading view; after the ack the handler runs once
  per view id and hash (`Deps.once`, passed to `install`: Redis' with REDIS_URL) with the values the ack parsed,
  every answer also going to the modal's `response_url`, failures shown in the modal;
- an **options** source answers within Slack's 3 s from a small per-app pool, or offers nothing;
- a **subcommand** joins the router that the `/chatrooms` command dispatches through (listeners/commands.py).

The work after an ack runs on the app's lane executor through `Later` (bot/slack/handoff.py), not Bolt's lazy
listeners, which re-parse and deep-copy every request before its ack. Handlers are plain functions: a unit test
calls them with a `Ctx` (see tests/unit/test_handlers.py). The dependencies reach them through the `Ctx` that
`install` builds from the `Deps` it was given once per app, never through Bolt's `context`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.once import OnceKeys  # the one once-only guard of an app: Deps.once (memory, or Redis SET NX)
from bot.slack.context import Ctx, guarded
from bot.slack.errors import describe
from bot.slack.handoff import Later
from bot.slack.listeners.router import Router
from bot.slack.metadata import BadMetadata, Metadata, OutOfDate
from bot.slack.submissions import StateValues, state_values
from bot.slack.views.modals import info_modal, loading_modal

log = logging.getLogger(__name__)

__all__ = ["Click", "Handlers", "OnceKeys", "OutOfDate", "no_fields"]

M = TypeVar("M", bound=Metadata)
F = TypeVar("F", bound=Callable[..., Any])

OPTIONS_DEADLINE = 2.0  # seconds; Slack drops an options answer after 3
OPTIONS_WORKERS = 4


@dataclass(frozen=True)
class Click:
    """A button press or menu choice: the Bolt `action` and the request body it came in."""

    action: dict[str, Any]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> str:
        return str(self.action.get("value") or "")

    @property
    def selected(self) -> str | None:
        option = self.action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    @property
    def view(self) -> dict[str, Any]:
        view = self.body.get("view")
        return view if isinstance(view, dict) else {}

    @property
    def label(self) -> str:
        """What the person pressed, in the words they saw: the button's text, or the option chosen."""
        option = self.action.get("selected_option")
        for holder in (self.action, option if isinstance(option, dict) else {}):
            text = holder.get("text")
            words = text.get("text") if isinstance(text, dict) else None
            if isinstance(words, str) and words.strip():
                return words.strip()[:75]
        return "a button"

    @property
    def from_home(self) -> bool:
        """Pressed in the App Home tab (rather than in a message)."""
        return self.view.get("type") == "home"

    @property
    def message_ts(self) -> str | None:
        container = self.body.get("container")
        ts = container.get("message_ts") if isinstance(container, dict) else None
        return ts if isinstance(ts, str) else None


@dataclass(frozen=True)
class Submission:
    """How one modal's submission is checked in the ack and run after it."""

    callback_id: str
    handler: Callable[[Ctx, Any, Any], None]
    meta: type[Metadata]
    parse: Callable[[StateValues, Any, Deps], tuple[Any, dict[str, str]]]
    title: str
    loading: Callable[[Any], dict[str, Any]]
    key: str


@dataclass(frozen=True)
class Action:
    action_id: str
    handler: Callable[[Ctx, Click], None]
    in_modal: bool  # failures shown in the modal the action came from (a select inside a form)
    opens_modal: bool = False  # its handler opens a modal (trigger_id: 3 s), so it never waits for a burst


@dataclass(frozen=True)
class Options:
    action_id: str
    source: Callable[[Ctx, str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Event:
    name: str
    handler: Callable[[Ctx, dict[str, Any]], None]


def no_fields(state: StateValues, meta: Any, deps: Deps) -> tuple[None, dict[str, str]]:
    """The `parse` of a modal with nothing to fill in (a confirmation)."""
    return None, {}


class Handlers:
    """A feature's handlers, recorded at import (no App exists then) and installed into each app built."""

    def __init__(self) -> None:
        self.subcommands: dict[type, Callable[[Any, Ctx], None]] = {}
        self.actions: list[Action] = []
        self.submissions: list[Submission] = []
        self.options_sources: list[Options] = []
        self.events: list[Event] = []
        self.setups: list[Callable[[Deps], None]] = []

    # -- the decorators ----------------------------------------------------------------------------
    def subcommand(self, intent_type: type) -> Callable[[F], F]:
        """`/chatrooms …` text that the grammar parses into `intent_type` runs `handler(intent, ctx)`."""

        def register(handler: F) -> F:
            self.subcommands[intent_type] = handler
            return handler

        return register

    def action(self, *action_ids: str, in_modal: bool = False, opens_modal: bool = False) -> Callable[[F], F]:
        """A button or menu (`handler(ctx, click)`), acked at once and run after the ack; `opens_modal` when the
        handler may open a modal with the click's `trigger_id`."""

        def register(handler: F) -> F:
            self.actions.extend(Action(action_id, handler, in_modal, opens_modal) for action_id in action_ids)
            return handler

        return register

    def submission(
        self,
        callback_id: str,
        *,
        meta: type[M],
        parse: Callable[[StateValues, M, Deps], tuple[Any, dict[str, str]]] = no_fields,
        title: str,
        loading: str | Callable[[M], dict[str, Any]],
        key: str | None = None,
    ) -> Callable[[F], F]:
        """A modal's submission: `handler(ctx, meta, values)` runs once, after the ack, with the parsed values.

        `parse(state, meta, deps)` → (values, field errors): errors answer in the ack under their fields, and
        may raise `BadMetadata`. `title` heads the modal that says a form is forged or out of date; `loading`
        is the text of the view shown while the handler works (or a function of the metadata returning it).
        """
        loading_view = loading if callable(loading) else _loading(title, loading)

        def register(handler: F) -> F:
            self.submissions.append(
                Submission(callback_id, handler, meta, parse, title, loading_view, key or handler.__name__)
            )
            return handler

        return register

    def options(self, action_id: str) -> Callable[[F], F]:
        """An external select's options: `source(ctx, typed_text)` → options, within Slack's 3 s or none."""

        def register(source: F) -> F:
            self.options_sources.append(Options(action_id, source))
            return source

        return register

    def event(self, name: str) -> Callable[[F], F]:
        """An Events API event (`handler(ctx, event)`), acked at once and run after the ack."""

        def register(handler: F) -> F:
            self.events.append(Event(name, handler))
            return handler

        return register

    def setup(self, wire: Callable[[Deps], None]) -> Callable[[Deps], None]:
        """Run `wire(deps)` once for each app built (a hook the feature offers the others)."""
        self.setups.append(wire)
        return wire

    # -- into an app -------------------------------------------------------------------------------
    def install(self, app: App, deps: Deps, router: Router, once: OnceKeys, later: Later) -> None:
        install([self], app, deps, router, once, later)


def install(features: list[Handlers], app: App, deps: Deps, router: Router, once: OnceKeys, later: Later) -> None:
    """Every feature's handlers into `app`: ONE Bolt listener for all the buttons and menus and one for all the
    modals, each dispatching by `action_id` / `callback_id` through a dict.

    Bolt tries its listeners one after the other for every request, building each one's arguments to test its
    matcher (~50 µs each): with a listener per id, that alone cost ~1.4 ms of CPU per request, more than the
    rest of an ack, and under a burst the acks queue behind it (bench/gunicorn_ack.py). Each listener acks and
    hands its slow work to `later` (bot/slack/handoff.py: the app's lane executor), not to Bolt's lazy listeners."""
    actions: dict[str, Action] = {}
    submissions: dict[str, Submission] = {}
    for feature in features:
        for wire in feature.setups:
            wire(deps)
        for intent_type, handler in feature.subcommands.items():
            router.on(intent_type, handler)
        for act in feature.actions:
            if act.action_id in actions:
                raise RuntimeError(f"two handlers for the action {act.action_id}")
            actions[act.action_id] = act
        for sub in feature.submissions:
            if sub.callback_id in submissions:
                raise RuntimeError(f"two handlers for the modal {sub.callback_id}")
            submissions[sub.callback_id] = sub
    if actions:
        app.action(_one_of(actions))(_action_listener(deps, actions, later))
    if submissions:
        acks = {cid: _submission_ack(deps, sub, once, later) for cid, sub in submissions.items()}
        app.view(_one_of(submissions))(_dispatch_ack(acks))
    sources = [source for feature in features for source in feature.options_sources]
    if sources:
        pool = ThreadPoolExecutor(max_workers=OPTIONS_WORKERS, thread_name_prefix="options")
        for source in sources:
            app.options(source.action_id)(_options_ack(deps, source, pool))
    for feature in features:
        for event in feature.events:
            app.event(event.name)(_event_listener(deps, event, later))


def _one_of(names: dict[str, Any]) -> re.Pattern[str]:
    """Matches exactly one of `names` (Bolt tests an id against a pattern with `re.search`)."""
    return re.compile("^(?:" + "|".join(re.escape(name) for name in sorted(names)) + ")$")


def _action_listener(deps: Deps, actions: dict[str, Action], later: Later) -> Callable[..., None]:
    """Acks a button or menu at once; its handler runs after the ack."""

    def on_action(ack: Ack, body: dict[str, Any], client: WebClient, context: Any, action: dict[str, Any]) -> None:
        ack()
        act = actions.get(str(action.get("action_id"))) if isinstance(action, dict) else None
        if act is None:  # never: the listener's pattern only lets these ids in
            return
        ctx = Ctx.from_bolt(deps, body, client, context)
        click = Click(action, body)
        if act.in_modal and not ctx.view_id:
            return  # a select inside a form, with no form to answer in
        view_id = ctx.view_id if act.in_modal else None
        if not act.in_modal:  # told if this process dies before it starts (a select in a form: the form says)
            ctx.queue(f"your click on *{click.label}*", "Press it again.")
        later(
            act.action_id,
            lambda: guarded(ctx, lambda: act.handler(ctx, click), view_id=view_id),
            urgent=act.opens_modal,
        )

    return on_action


def _dispatch_ack(acks: dict[str, Callable[..., None]]) -> Callable[..., None]:
    def ack_submission(ack: Ack, body: dict[str, Any], client: WebClient, context: Any, view: dict[str, Any]) -> None:
        run = acks.get(str(view.get("callback_id"))) if isinstance(view, dict) else None
        if run is not None:  # always, since the listener's pattern only lets these callback ids in
            run(ack=ack, body=body, client=client, context=context, view=view)

    return ack_submission


def _loading(title: str, text: str) -> Callable[[Any], dict[str, Any]]:
    return lambda _meta: loading_modal(title, text)


def _event_listener(deps: Deps, event: Event, later: Later) -> Callable[..., None]:
    def on_event(ack: Ack, body: dict[str, Any], client: WebClient, context: Any) -> None:
        ack()
        raw = body.get("event")
        payload = raw if isinstance(raw, dict) else {}
        ctx = Ctx.from_bolt(deps, body, client, context)
        later(event.name, lambda: guarded(ctx, lambda: event.handler(ctx, payload)))

    return on_event


def _submission_ack(deps: Deps, sub: Submission, once: OnceKeys, later: Later) -> Callable[..., None]:
    """Pure and fast: metadata, then the form's checks, then the loading view (Slack's 3 s); the handler runs
    after the ack with the values parsed here, once per view id and hash (a double click or a retry of a
    submission already running does nothing more)."""

    def ack_submission(ack: Ack, body: dict[str, Any], client: WebClient, context: Any, view: dict[str, Any]) -> None:
        try:
            meta = sub.meta.load(view.get("private_metadata"))
            values, errors = sub.parse(state_values(view), meta, deps)
        except BadMetadata as exc:
            ack(response_action="update", view=info_modal(sub.title, f":warning: {exc}"))
            return
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack(response_action="update", view=sub.loading(meta))
        ctx = Ctx.from_bolt(deps, body, client, context)
        ctx.view_id = view.get("id") if isinstance(view.get("id"), str) else ctx.view_id
        ctx.response_url = meta.response_url  # every answer, even with the modal closed, goes there
        once_key = f"{sub.key}:{view.get('id')}:{view.get('hash')}"

        form = f"your form *{sub.title}*"
        # Told if this process dies before it starts (no write here): the modal shows only "Saving…" by then.
        ctx.queue(form, "Open the form again and submit it: what you had entered was not kept.", view_id=ctx.view_id)

        def run() -> None:
            if once.first(once_key):  # off the ack: with Redis it is a network round trip
                ctx.waiting = form  # journalled: told by another process if this one dies
                guarded(ctx, lambda: sub.handler(ctx, meta, values), view_id=ctx.view_id)
            else:  # a double click or a retry of a submission already handled: nothing waits on this one
                ctx.not_run()

        later(sub.callback_id, run)

    return ack_submission


def _options_ack(deps: Deps, source: Options, pool: ThreadPoolExecutor) -> Callable[..., None]:
    """Slack wants the options in the ack itself, within 3 s: a slow Nexudus yields no suggestions."""

    def answer(ack: Ack, body: dict[str, Any], context: Any, client: WebClient) -> None:
        typed = str(body.get("value") or "").strip()[:100]
        ctx = Ctx.from_bolt(deps, body, client, context)
        try:
            with deps.acks.idle():  # waiting on Nexudus, not the CPU: the work after acks need not wait for it
                options = pool.submit(source.source, ctx, typed).result(timeout=OPTIONS_DEADLINE)
        except FutureTimeout:
            log.warning("%s: options gave up after %.1f s", source.action_id, OPTIONS_DEADLINE)
            ack(options=[])
            return
        except Exception as exc:  # an options answer cannot carry an error: log and offer nothing
            log.warning("%s: options failed: %s", source.action_id, describe(exc).text)
            ack(options=[])
            return
        ack(options=options)

    return answer
