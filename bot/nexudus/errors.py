"""Typed errors a caller can act on. Their text is safe to show a user: no credential ever goes in."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from bot.logs import redact, scrub

if TYPE_CHECKING:
    from bot.nexudus.models import ActionResult, ChatRoom, FieldError


class NexudusError(Exception):
    """Base of every adapter error; `str(error)` is a sentence fit for a user.

    `maybe_applied` is True for a write that may have reached Nexudus although no usable answer came back:
    nobody should be told that nothing was changed, nor to simply try again (a retry may do it twice).
    """

    maybe_applied: bool = False
    # For the log, never the user (as stripe-python's errors keep `http_status` and `http_body`): the HTTP
    # status of the answer behind the error and a short, redacted excerpt of its body. `/api/token`
    # answers keep only their status: a token answer's body is never kept.
    http_status: int | None = None
    body_excerpt: str | None = None

    def with_answer(self, status: int | None, body: Any = None) -> NexudusError:
        """Attach what Nexudus answered (`body`: its text or parsed JSON; None keeps no body)."""
        self.http_status = status
        self.body_excerpt = excerpt(body) if body is not None else None
        return self

    def diagnostics(self) -> str:
        """`HTTP 502, body: '…'` for a log line ('' when no answer is known)."""
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None else []
        if self.body_excerpt:
            parts.append(f"body: {self.body_excerpt!r}")
        return ", ".join(parts)


MAX_EXCERPT = 300


def excerpt(body: Any, limit: int = MAX_EXCERPT) -> str:
    """A body cut to `limit` characters on one line, every secret-named field redacted first."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            text = scrub(body)
        else:
            text = json.dumps(redact(body), ensure_ascii=False, default=str)
    else:
        text = json.dumps(redact(body), ensure_ascii=False, default=str)
    text = scrub(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotAuthorised(NexudusError):
    """HTTP 401: bad credentials *or* a missing role — Nexudus does not say which.

    `role` is the role the operation needs, so a caller that knows the credentials work (they just
    listed chatrooms) can name the missing role.
    """

    def __init__(self, role: str, operation: str) -> None:
        self.role = role
        self.operation = operation
        super().__init__(
            f"Nexudus refused to {operation}: the credentials were rejected or the account lacks the {role} role."
        )


class NotFound(NexudusError):
    """HTTP 404 (`Not found`)."""

    def __init__(self, chatroom_id: int | None = None, what: str = "chatroom") -> None:
        self.chatroom_id = chatroom_id
        suffix = f" {chatroom_id}" if chatroom_id is not None else ""
        super().__init__(f"Nexudus has no {what}{suffix}.")


class ValidationFailed(NexudusError):
    """Nexudus refused the record: HTTP 400 with `"Status": 500` and per-field `Errors`."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        self.errors = list(errors or [])
        super().__init__(message or "Nexudus refused the record.")

    def by_field(self) -> dict[str, str]:
        """Messages keyed by `PropertyName` (`""` for errors that name no field)."""
        out: dict[str, str] = {}
        for error in self.errors:
            key = error.property_name or ""
            out[key] = f"{out[key]} {error.message}".strip() if key in out else error.message
        return out


class CommandFailed(NexudusError):
    """`runcommand` answered (HTTP 200) with `WasSuccessful: false`."""

    def __init__(self, message: str, result: ActionResult | None = None) -> None:
        self.result = result
        super().__init__(message or "The command did not succeed.")


class Conflict(NexudusError):
    """The record changed since the caller read it; applying the edit would overwrite that change."""

    def __init__(self, current: ChatRoom) -> None:
        self.current = current
        who = f" by {current.updated_by}" if current.updated_by else ""
        super().__init__(
            f"Chatroom {current.id} was changed{who} after you opened it. Nothing was saved; "
            "reopen it to see the latest version."
        )


class RateLimited(NexudusError):
    """HTTP 409 (Nexudus' throttling) or 429, still refused after the retries allowed."""

    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        wait = f" Try again in {retry_after:.0f} s." if retry_after else " Try again shortly."
        super().__init__("Nexudus is throttling requests from this account." + wait)


class Unavailable(NexudusError):
    """Nexudus could not be reached, timed out, or answered 5xx.

    `maybe_applied` is set for a write that may have reached Nexudus: it may have been applied even though
    no answer came back, so nobody should be told to simply try again.
    """

    def __init__(self, reason: str, *, maybe_applied: bool = False) -> None:
        self.reason = reason
        self.maybe_applied = maybe_applied
        super().__init__(f"Nexudus is unavailable right now ({reason}).")


class UnexpectedResponse(NexudusError):
    """An answer the documented API does not give (wrong shape or status).

    `maybe_applied` is set when a write was answered 2xx but the answer could not be read: it likely ran.
    """

    def __init__(self, status: int, detail: str = "", *, maybe_applied: bool = False) -> None:
        self.status = status
        self.maybe_applied = maybe_applied
        super().__init__(f"Nexudus gave an unexpected answer (HTTP {status}){': ' + detail if detail else ''}.")


class QuotaExhausted(NexudusError):
    """The account has used Nexudus' hourly request or daily write allowance; refused before sending.

    `resets_at` (aware, UTC) is when the pacer lets the next request (or write) of that kind go out.
    """

    def __init__(self, period: Literal["hour", "day"], limit: int, resets_at: datetime, *, writes: bool) -> None:
        self.period = period
        self.limit = limit
        self.resets_at = resets_at
        self.writes = writes
        kind = "writes" if writes else "requests"
        super().__init__(
            f"This Nexudus account has used its {limit} {kind} per {period} (until {resets_at:%H:%M} UTC)."
        )
