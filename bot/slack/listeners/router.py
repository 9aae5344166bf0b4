"""Maps each grammar intent to the feature handler that serves it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.slack.context import Ctx

Handler = Callable[[Any, Ctx], None]


class Router:
    def __init__(self) -> None:
        self._handlers: dict[type, Handler] = {}

    def on(self, intent_type: type, handler: Handler) -> None:
        self._handlers[intent_type] = handler

    def require(self, intent_types: Iterable[type]) -> None:
        """Refuse to build an app where a subcommand the grammar can parse has no handler."""
        missing = sorted(t.__name__ for t in intent_types if t not in self._handlers)
        if missing:
            raise RuntimeError(f"no handler for {', '.join(missing)}: decorate one with @handlers.subcommand")

    def dispatch(self, intent: object, ctx: Ctx) -> None:
        self._handlers[type(intent)](intent, ctx)
