"""The Nexudus chatroom API adapter. It knows nothing of Slack."""

from bot.nexudus.client import NexudusClient, Credentials
from bot.nexudus.errors import (
    CommandFailed,
    Conflict,
    NexudusError,
    NotAuthorised,
    NotFound,
    RateLimited,
    Unavailable,
    UnexpectedResponse,
    ValidationFailed,
)
from bot.nexudus.models import ActionResult, ChatRoom, Command, CommandParameter, FieldError, Page
from bot.nexudus.query import ChatRoomFilters, Direction

__all__ = [
    "ActionResult",
    "ChatRoom",
    "ChatRoomFilters",
    "Command",
    "CommandFailed",
    "CommandParameter",
    "Conflict",
    "Credentials",
    "Direction",
    "FieldError",
    "NexudusClient",
    "NexudusError",
    "NotAuthorised",
    "NotFound",
    "Page",
    "RateLimited",
    "Unavailable",
    "UnexpectedResponse",
    "ValidationFailed",
]
