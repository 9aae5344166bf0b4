"""Maps each grammar intent to the feature handler that serves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.slack.context import Ctx

Handler = Callable[[Any, Ctx], None]


class Router:
    def __init__(self) -> None:
        self._handlers: dict[type, Handler] = {}

    def on(self, intent_type: type, handler: Handler) -> None:
        self._handlers[intent_type] = handler

    def handles(self, intent: object) -> bool:
        return type(intent) in self._handlers

    def dispatch(self, intent: object, ctx: Ctx) -> None:
        self._handlers[type(intent)](intent, ctx)
