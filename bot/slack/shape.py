"""The shape of a Slack request, checked before Bolt or a listener reads it.

A request with a valid signature can still hold anything: Bolt's authorization, its listener matchers and
its log messages index into ``actions``, ``view``, ``event``, ``user``… assuming Slack's shapes, and answer
500 when they are not. This middleware (Bolt's ``before_authorize`` hook: right after the signature check,
before anything else reads the body) compares the envelope with Slack's documented shapes — only the
containers and the fields Bolt and our listeners read, every other field is let through — and answers 400
to anything else. The *contents* (ids, texts, metadata) are validated where they are used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Required

from pydantic import ConfigDict, StringConstraints, TypeAdapter, ValidationError, with_config
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from typing_extensions import TypedDict  # pydantic's TypedDict support needs this one on Python 3.11

log = logging.getLogger(__name__)

__all__ = ["ShapeCheck", "shape_problem"]


Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s\"'\[\]{}]+$")]
"""Where Slack wants replies: always an http(s) URL (the app posts to it, so junk must not get that far)."""

# Slack adds fields over time: unknown ones pass (ignored: the validated copy is thrown away, only the verdict
# counts); known ones must have Slack's types (no coercion). TypedDicts rather than models: the same checks, on
# every request's thread before its ack, at half to a third of the CPU (no model objects, no copy of the extras).
_shape = with_config(ConfigDict(extra="ignore", strict=True))


@_shape
class _ResponseUrl(TypedDict, total=False):
    response_url: Url | None


@_shape
class _Ref(TypedDict, total=False):
    """``user``, ``team``, ``channel``, ``enterprise``: objects with string ids."""

    id: str | None
    team_id: str | None
    enterprise_id: str | None
    name: str | None


@_shape
class _Option(TypedDict, total=False):
    value: str | None


@_shape
class _Action(TypedDict, total=False):
    action_id: Required[str]
    block_id: str | None
    type: str | None
    value: str | None
    action_ts: str | None
    selected_option: _Option | None
    selected_options: list[_Option] | None


@_shape
class _State(TypedDict, total=False):
    values: dict[str, dict[str, dict[str, Any]]]


@_shape
class _View(TypedDict, total=False):
    id: str | None
    team_id: str | None
    type: str | None
    callback_id: str | None
    private_metadata: str | None
    hash: str | None
    external_id: str | None
    root_view_id: str | None
    previous_view_id: str | None
    app_installed_team_id: str | None
    state: _State | None
    blocks: list[dict[str, Any]] | None


@_shape
class _Container(TypedDict, total=False):
    type: str | None
    channel_id: str | None
    message_ts: str | None
    view_id: str | None
    is_ephemeral: bool | None


@_shape
class _Message(TypedDict, total=False):
    ts: str | None
    text: str | None
    user: str | None
    blocks: list[dict[str, Any]] | None


@_shape
class _Event(TypedDict, total=False):
    type: Required[str]
    user: str | dict[str, Any] | None
    team: str | None
    user_team: str | None
    channel: str | dict[str, Any] | None
    tab: str | None
    subtype: str | None
    bot_id: str | None


@_shape
class _Authorization(TypedDict, total=False):
    team_id: str | None
    enterprise_id: str | None
    user_id: str | None
    is_enterprise_install: bool | None


@_shape
class _Envelope(TypedDict, total=False):
    type: str | None
    token: str | None
    api_app_id: str | None
    team_id: str | None
    enterprise_id: str | None
    user_id: str | None
    channel_id: str | None
    command: str | None
    text: str | None
    trigger_id: str | None
    response_url: Url | None
    callback_id: str | None
    action_id: str | None
    block_id: str | None
    value: str | None
    is_enterprise_install: bool | str | None
    is_ext_shared_channel: bool | None
    user: _Ref | None
    team: _Ref | None
    channel: _Ref | None
    enterprise: _Ref | None
    actions: list[_Action] | None
    view: _View | None
    state: _State | None
    container: _Container | None
    message: _Message | None
    previous_message: _Message | None
    response_urls: list[_ResponseUrl] | None
    event: _Event | None
    authorizations: list[_Authorization] | None


_ENVELOPE = TypeAdapter(_Envelope)


def shape_problem(body: Any) -> str | None:
    """Where a request body departs from Slack's shapes (a short, content-free description), or None."""
    if not isinstance(body, dict):
        return f"the body is a {type(body).__name__}, not an object"
    try:
        _ENVELOPE.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{where}: {first['type']}"  # never the value: it may be anything the sender typed
    return None


class ShapeCheck(Middleware):
    """Bolt middleware: 400 for a request whose envelope is not shaped like Slack's."""

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        problem = shape_problem(req.body)
        if problem is None:
            return next()
        log.warning("refused a signed request not shaped like Slack's (%s)", problem)
        return BoltResponse(status=400, body={"error": "unexpected request shape"})
