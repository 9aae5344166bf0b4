"""After the ack: a request's slow work handed to the app's lane executor — our lazy listeners.

Bolt's lazy listeners rebuild the request for each lazy function before the ack is sent: they parse the raw body
again and deep-copy the whole request and its context (Bolt does so because a lazy function may run in another
process, e.g. on AWS Lambda). On the request thread that was ~0.6 ms of CPU per request, half of what an ack cost,
and under a burst every ack waits behind it (bench/gunicorn_ack.py). Our slow work runs in this process and
needs only what the ack already holds — the parsed body, the request's client and who is acting — so the ack
hands those over as they are. Nothing changes them afterwards: once acked, Bolt only builds the HTTP answer.

The work joins the executor Bolt's app was given (`App(listener_executor=…)`, the `FairExecutor` of
bot/slack/lanes.py), looked up at each hand-off, so the lane chosen by the middleware and the ack, the console's
tracking of work in flight and the drain at shutdown all see it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from bot.acks import AcksFirst
from bot.slack.lanes import lower_priority

log = logging.getLogger(__name__)

Work = Callable[[], object]


class Later(Protocol):
    def __call__(self, what: str, work: Work, *, urgent: bool = False) -> None:
        """Run `work` after the ack; `what` names it in the log should it raise. `urgent`: it opens a modal, whose
        `trigger_id` lives 3 s, so it never waits for a burst's acks (bot/acks.py)."""
        ...


class Handoff:
    """`Later` on a Bolt app's listener executor."""

    def __init__(self, runner: object) -> None:
        self._runner = runner  # `App.listener_runner`: its `listener_executor` may be wrapped after build

    def __call__(self, what: str, work: Work, *, urgent: bool = False) -> None:
        executor: Executor = self._runner.listener_executor  # type: ignore[attr-defined]
        executor.submit(Urgent(_logged) if urgent else _logged, what, work)


class Urgent:
    """A job that must not wait for a burst's acks (its `urgent` attribute survives wrapping executors)."""

    urgent = True

    def __init__(self, fn: Callable[..., object]) -> None:
        self.fn = fn

    def __call__(self, *args: object) -> object:
        return self.fn(*args)


def _logged(what: str, work: Work) -> None:
    """Our handlers turn their own errors into words (`guarded`); anything escaping that is logged, not lost."""
    try:
        work()
    except Exception:
        log.exception("%s failed after its ack", what)


def after_acks(acks: AcksFirst, nice: int) -> Callable[[], None]:
    """What a thread doing work after acks other than the executor's (the journal's writer of work waiting its
    turn, bot/inflight.py) calls before each step: like the executor's jobs, it runs `nice` below the request
    threads (set once per thread) and waits while acks are in progress or a burst arrives (`max_defer` at most)."""
    lowered = threading.local()

    def pace() -> None:
        if not getattr(lowered, "done", False):
            lowered.done = True
            lower_priority(nice)
        acks.yield_to_acks(acks.now())

    return pace
