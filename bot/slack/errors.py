"""The one place an exception becomes words for a Slack user. No listener formats an error by hand."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.nexudus.errors import (
    CommandFailed,
    Conflict,
    NexudusError,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from bot.services import CredentialsRejected, MissingRole, NotLoggedIn
from bot.slack import ids
from bot.slack.metadata import BadMetadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserMessage:
    text: str
    login_button: bool = False
    field_errors: dict[str, str] = field(default_factory=dict)


def describe(exc: BaseException) -> UserMessage:
    """Translate any exception into a clear sentence (and field errors where Nexudus named fields)."""
    if isinstance(exc, NotLoggedIn | CredentialsRejected):
        return UserMessage(f":key: {exc}", login_button=True)
    if isinstance(exc, MissingRole):
        return UserMessage(f":no_entry: {exc} Ask a Nexudus administrator to grant it.")
    if isinstance(exc, ValidationFailed):
        by_field: dict[str, str] = {}
        for prop, text in exc.by_field().items():
            block = ids.PROPERTY_TO_BLOCK.get(prop, prop)  # an unknown property keeps its name
            by_field[block] = f"{by_field[block]} {text}" if block in by_field else text
        details = "; ".join(f"{ids.PROPERTY_LABELS.get(k, k) or 'record'}: {v}" for k, v in exc.by_field().items())
        return UserMessage(f":warning: Nexudus refused it: {details or exc}", field_errors=by_field)
    if isinstance(exc, CommandFailed):
        return UserMessage(f":x: {exc}")
    if isinstance(exc, Conflict):
        return UserMessage(f":twisted_rightwards_arrows: {exc}")
    if isinstance(exc, NotFound):
        return UserMessage(f":mag: {exc} It may have been deleted.")
    if isinstance(exc, Unavailable) and exc.maybe_applied:
        return UserMessage(
            f":hourglass: {exc} Your change may or may not have been applied: check the chatroom "
            "(`/chatrooms show ID`) before trying again."
        )
    if isinstance(exc, RateLimited):
        return UserMessage(f":hourglass: {exc} Nothing was changed.")
    if isinstance(exc, Unavailable):
        return UserMessage(f":hourglass: {exc} Nothing was changed; try again in a moment.")
    if isinstance(exc, BadMetadata):
        return UserMessage(f":warning: {exc}")
    if isinstance(exc, NexudusError):
        return UserMessage(f":warning: {exc}")
    log.exception("unexpected error in a Slack handler", exc_info=exc)
    return UserMessage(":boom: Something went wrong on our side. It has been logged; please try again.")
