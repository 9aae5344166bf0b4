"""Holding something open in another thread while a test looks at what waits for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


@contextmanager
def held_elsewhere(enter: Callable[[], AbstractContextManager[Any]]) -> Iterator[threading.Event]:
    """`enter()` (an ack in progress, a chatroom's lock…) entered in another thread and held until the block ends
    or the event it yields is set; the block starts once it is held."""
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        with enter():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        yield release
    finally:
        release.set()
        holder.join(10)
