"""The Nexudus chatroom API adapter. It knows nothing of Slack."""

from bot.nexudus.client import ChatRoomChanges, ClientFactory, NewChatRoom, NexudusClient
from bot.nexudus.credentials import Credentials
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
    "ChatRoomChanges",
    "ChatRoomFilters",
    "ClientFactory",
    "Command",
    "CommandFailed",
    "CommandParameter",
    "Conflict",
    "Credentials",
    "Direction",
    "FieldError",
    "NewChatRoom",
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
