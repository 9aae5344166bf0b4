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
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

log = logging.getLogger(__name__)

__all__ = ["ShapeCheck", "shape_problem"]


Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s\"'\[\]{}]+$")]
"""Where Slack wants replies: always an http(s) URL (the app posts to it, so junk must not get that far)."""


class _ResponseUrl(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    response_url: Url | None = None


class _Shape(BaseModel):
    # Slack adds fields over time: unknown ones pass; known ones must have Slack's types (no coercion).
    model_config = ConfigDict(extra="allow", strict=True)


class _Ref(_Shape):
    """``user``, ``team``, ``channel``, ``enterprise``: objects with string ids."""

    id: str | None = None
    team_id: str | None = None
    enterprise_id: str | None = None
    name: str | None = None


class _Option(_Shape):
    value: str | None = None


class _Action(_Shape):
    action_id: str
    block_id: str | None = None
    type: str | None = None
    value: str | None = None
    action_ts: str | None = None
    selected_option: _Option | None = None
    selected_options: list[_Option] | None = None


class _State(_Shape):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class _View(_Shape):
    id: str | None = None
    team_id: str | None = None
    type: str | None = None
    callback_id: str | None = None
    private_metadata: str | None = None
    hash: str | None = None
    external_id: str | None = None
    root_view_id: str | None = None
    previous_view_id: str | None = None
    app_installed_team_id: str | None = None
    state: _State | None = None
    blocks: list[dict[str, Any]] | None = None


class _Container(_Shape):
    type: str | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None
    is_ephemeral: bool | None = None


class _Message(_Shape):
    ts: str | None = None
    text: str | None = None
    user: str | None = None
    blocks: list[dict[str, Any]] | None = None


class _Event(_Shape):
    type: str
    user: str | dict[str, Any] | None = None
    team: str | None = None
    user_team: str | None = None
    channel: str | dict[str, Any] | None = None
    tab: str | None = None
    subtype: str | None = None
    bot_id: str | None = None


class _Authorization(_Shape):
    team_id: str | None = None
    enterprise_id: str | None = None
    user_id: str | None = None
    is_enterprise_install: bool | None = None


class _Envelope(_Shape):
    type: str | None = None
    token: str | None = None
    api_app_id: str | None = None
    team_id: str | None = None
    enterprise_id: str | None = None
    user_id: str | None = None
    channel_id: str | None = None
    command: str | None = None
    text: str | None = None
    trigger_id: str | None = None
    response_url: Url | None = None
    callback_id: str | None = None
    action_id: str | None = None
    block_id: str | None = None
    value: str | None = None
    is_enterprise_install: bool | str | None = None
    is_ext_shared_channel: bool | None = None
    user: _Ref | None = None
    team: _Ref | None = None
    channel: _Ref | None = None
    enterprise: _Ref | None = None
    actions: list[_Action] | None = None
    view: _View | None = None
    state: _State | None = None
    container: _Container | None = None
    message: _Message | None = None
    previous_message: _Message | None = None
    response_urls: list[_ResponseUrl] | None = None
    event: _Event | None = None
    authorizations: list[_Authorization] | None = None


def shape_problem(body: Any) -> str | None:
    """Where a request body departs from Slack's shapes (a short, content-free description), or None."""
    if not isinstance(body, dict):
        return f"the body is a {type(body).__name__}, not an object"
    try:
        _Envelope.model_validate(body)
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
