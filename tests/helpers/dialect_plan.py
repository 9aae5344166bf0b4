"""Which tests of the Slack end-to-end suite run in which sandbox dialect: a rule, not a list kept by hand.

A module marked `every_dialect` (conftest.EVERY_DIALECT) runs each test that uses the sandbox
- in every one of `FULL_DIALECTS`: the seed (the default), `reference` (the current reference: the most changes at
  once) and the two whose change runs through every flow, not one request: `local-times` (every record's times, in
  and out) and `no-token` (no token login: HTTP Basic on every request);
- in every other dialect, only when the test touches what that dialect changes. What a dialect changes is read from
  bot/sandbox/dialects.py (the `SandboxDialect` fields where it differs from the seed), so a new dialect runs every
  test that touches what it changes without being listed anywhere; what a test touches is named by its
  `@pytest.mark.dialect_sensitive("ids", ...)` marker (`FEATURES`: the field names).

Two checks keep this honest:
- in the seed dialect each test's requests to the sandbox are watched (`Watch`, from conftest): a test that touched
  a feature some other dialect changes, without declaring it, fails and names the marker to add, so a marker
  cannot be missing or go stale as the app changes;
- tests/integration/test_dialect_plan.py collects the suite and checks that every dialect runs every test that
  touches what it changes, and that every change of every dialect is exercised: by an end-to-end test, or, for what
  the end-to-end sandbox never does (it does not throttle), by the adapter test named in `ADAPTER_ONLY`.
"""

from __future__ import annotations

import dataclasses
import threading
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.dialects import DIALECT_NAMES, SEED, SandboxDialect, dialect
from bot.sandbox.server import TOKEN_PATH, Request, Response, SandboxServer

FULL_DIALECTS: tuple[str, ...] = ("seed", "reference", "local-times", "no-token")

FEATURES: dict[str, str] = {
    "ids": "reads several chatrooms by id in one request (cards, digests, the run form's chatrooms)",
    "dir": "asks for a page sorted in descending order (the `dir` parameter's forms differ)",
    "local_zone": "reads or writes chatroom records, whose times a dialect may write as local times with a Z",
    "throttle_status": "is throttled by Nexudus (the status says so)",
    "throttle_body": "is throttled by Nexudus (the body says so, or is empty)",
    "extra_fields": "saves a chatroom with a PUT, which must keep the fields the app does not know",
    "basic": "authenticates with HTTP Basic",
    "tokens": "logs in through the token endpoint",
}
"""Every field of `SandboxDialect` (a feature a dialect may change) → what a test touching it does."""

ADAPTER_ONLY: dict[str, str] = {
    "throttle_status": "test_throttling_in_each_form_is_waited_out_or_named",
    "throttle_body": "test_throttling_in_each_form_is_waited_out_or_named",
}
"""Features the end-to-end sandbox never exercises (it runs with `throttle=False`, so nothing is throttled) →
the test of tests/integration/test_dialects.py that runs in every dialect changing them."""


def changes(name: str) -> frozenset[str]:
    """The features dialect `name` changes from the seed."""
    spoken = dialect(name)
    return frozenset(
        f.name for f in dataclasses.fields(SandboxDialect) if getattr(spoken, f.name) != getattr(SEED, f.name)
    )


PARTIAL_DIALECTS: tuple[str, ...] = tuple(name for name in DIALECT_NAMES if name not in FULL_DIALECTS)
WATCHED: frozenset[str] = frozenset().union(*(changes(name) for name in PARTIAL_DIALECTS))
"""The features a test must declare when it touches them: the ones some dialect that runs only the tests touching
them changes (a feature only full dialects change is exercised by every test anyway)."""


def runs_in(name: str, touched: frozenset[str]) -> bool:
    """Whether a test of an `every_dialect` module that touches `touched` runs in dialect `name`."""
    return name in FULL_DIALECTS or bool(touched & changes(name))


def _descending(value: str) -> bool:
    return value.strip().lower() in ("descending", "desc", "-1", "1")


class Watch:
    """What one sandbox's requests touched, by feature, while a test ran (seen at the sandbox, as sent)."""

    def __init__(self, server: SandboxServer) -> None:
        self.touched: dict[str, str] = {}  # feature → the first request that touched it
        self._lock = threading.Lock()
        self._real = server.app.handle
        server.app.handle = self._handle  # type: ignore[method-assign]

    def _handle(self, request: Request) -> Response:
        response = self._real(request)
        split = urlsplit(request.target)
        path = split.path.rstrip("/").lower()
        query = {k.lower(): v for k, v in parse_qs(split.query).items()}
        seen = []
        if path == TOKEN_PATH:
            seen.append("tokens")
        if "chatroom" in path:
            seen.append("local_zone")
        if any(v.strip().startswith("[") for key in ("chatroom_id", "id") for v in query.get(key, [])):
            seen.append("ids")
        if any(_descending(v) for key in ("dir", "sort") for v in query.get(key, [])):
            seen.append("dir")
        if request.method == "PUT":
            seen.append("extra_fields")
        if next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")[:6].lower() == "basic ":
            seen.append("basic")
        if response.status in (409, 429) and "Retry-After" in response.headers:
            seen += ["throttle_status", "throttle_body"]
        with self._lock:
            for feature in seen:
                self.touched.setdefault(feature, f"{request.method} {request.target}")
        return response

    def undeclared(self, declared: frozenset[str]) -> dict[str, str]:
        """Features touched that some partial dialect changes and the test does not declare → a request."""
        with self._lock:
            return {f: r for f, r in self.touched.items() if f in WATCHED and f not in declared}
