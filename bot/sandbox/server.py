"""The sandbox's HTTP side: Nexudus' chatroom API on 127.0.0.1, stdlib only.

`SandboxApp.handle` turns a parsed `Request` into a `Response` (auth, roles, throttling, faults,
routing, the documented envelopes); the `http.server` handler only moves bytes. `SandboxServer`
runs it on a background thread for tests; `main` is `python -m bot sandbox`.

Faithful details worth knowing: a 401 never says whether the password or the role was wrong;
throttling answers 409 with `Retry-After`; validation failures are HTTP 400 carrying `"Status": 500`;
a PUT clears every property it does not send; `runcommand` always answers HTTP 200.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import json
import logging
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from bot.sandbox.commands import COMMANDS, CommandRefused, run_command
from bot.sandbox.db import ORDER_COLUMNS, ChatRoomRow, NewChatRoom, SandboxDB, SearchQuery
from bot.sandbox.dialects import DIALECT_NAMES, SEED, SandboxDialect, TokenStore, totp_ok
from bot.sandbox.dialects import dialect as make_dialect
from bot.sandbox.seed import (
    DEFAULT_RNG_SEED,
    DEMO_USERS,
    ROLE_CREATE,
    ROLE_DELETE,
    ROLE_EDIT,
    ROLE_LIST,
    ROLE_READ,
    DemoUser,
    seed_if_empty,
)

log = logging.getLogger("bot.sandbox")

BASE_PATH = "/api/support/chatrooms"
TOKEN_PATH = "/api/token"
WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_PAGE_SIZE = 1000
MAX_BODY = 1 << 20
STOP_POLL = 0.01
"""How often the serving thread looks whether to stop (s): `stop()` waits up to this long (tests stop thousands)."""
DENIED = {"Message": "Authorization has been denied for this request."}
MAX_PAGE = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,30}")
FAULT_KINDS = ("500", "timeout", "drop", "409")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SandboxConfig:
    """Behaviour switches, read on every request so tests can change them while the server runs."""

    throttle: bool = True
    min_interval: float = 0.1
    per_minute: int = 120
    writes_per_minute: int = 60
    per_hour: int = 5000
    writes_per_day: int = 5000
    delay: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_seed: int = 0
    fault_timeout: float = 3.0
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = _utcnow
    log_requests: bool = False
    dialect: SandboxDialect = SEED
    """Which documented variant of the API to speak (see `bot/sandbox/dialects.py`)."""


# -- request plumbing ------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, data, headers=dict(headers or {}))


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8", dict(headers or {}))


def not_found() -> Response:
    return text_response(404, "Not found")


def failure(message: str, errors: list[dict[str, Any]] | None = None, http_status: int = 400) -> Response:
    """The documented failed-action envelope (`Status` is 500 whatever the HTTP status)."""
    return json_response(
        http_status,
        {"Status": 500, "Message": message, "Value": None, "WasSuccessful": False, "Errors": errors or []},
    )


def field_error(prop: str | None, message: str, attempted: Any = None) -> dict[str, Any]:
    return {"AttemptedValue": attempted, "Message": message, "PropertyName": prop}


def validation_failure(errors: list[dict[str, Any]]) -> Response:
    message = "; ".join(f"{e['PropertyName']}: {e['Message']}" if e["PropertyName"] else e["Message"] for e in errors)
    return failure(message, errors)


def _zone(dialect: SandboxDialect | None) -> Any:
    return ZoneInfo(dialect.local_zone) if dialect is not None and dialect.local_zone else UTC


def wire(value: datetime | None, dialect: SandboxDialect | None = None) -> str | None:
    """`…Z`: UTC, or (dialect `local-times`) the space's wall clock with a `Z` all the same."""
    return None if value is None else value.astimezone(_zone(dialect)).strftime(WIRE_FORMAT)


def parse_datetime(text: str, dialect: SandboxDialect | None = None) -> datetime:
    """`YYYY-MM-DDTHH:mm`, with optional seconds, fraction, `Z` or offset; naive (or `Z`) means the
    server's zone: UTC, or the space's with `local-times`."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1]
    if "T" not in text and " " not in text:
        raise ValueError("not a date-time")
    parsed = datetime.fromisoformat(text)
    parsed = parsed.replace(tzinfo=_zone(dialect)) if parsed.tzinfo is None else parsed
    return parsed.astimezone(UTC).replace(microsecond=0)


def _extras(record: dict[str, Any], row: ChatRoomRow, dialect: SandboxDialect | None) -> dict[str, Any]:
    if dialect is None or not dialect.extra_fields:
        return record
    record.update(
        {
            "IsNew": False,
            "ToStringText": row.name or "",
            "LocalizationDetails": None,
            "CustomFields": {"Data": [{"Name": "Floor", "Value": str(row.id % 7)}]},
            "AddedUsers": None,
            "RemovedUsers": None,
        }
    )
    return record


def list_record(row: ChatRoomRow, dialect: SandboxDialect | None = None) -> dict[str, Any]:
    """A search record: `Business` (the id), no `Users`."""
    record = {
        "Id": row.id,
        "Business": row.business_id,
        "Name": row.name,
        "Active": row.active,
        "LastAgentVisit": wire(row.last_agent_visit, dialect),
        "CreatedOn": wire(row.created_on, dialect),
        "UpdatedOn": wire(row.updated_on, dialect),
        "UpdatedBy": row.updated_by,
        "UniqueId": row.unique_id,
        "SystemId": row.system_id,
    }
    return _extras(record, row, dialect)


def single_record(row: ChatRoomRow, dialect: SandboxDialect | None = None) -> dict[str, Any]:
    """The GET-by-id record (and each record of `id=[…]`): `BusinessId` and `Users`."""
    record = {
        "Id": row.id,
        "Active": row.active,
        "BusinessId": row.business_id,
        "LastAgentVisit": wire(row.last_agent_visit, dialect),
        "Name": row.name,
        "CreatedOn": wire(row.created_on, dialect),
        "UpdatedOn": wire(row.updated_on, dialect),
        "UpdatedBy": row.updated_by,
        "UniqueId": row.unique_id,
        "SystemId": row.system_id,
        "Users": list(row.users),
    }
    return _extras(record, row, dialect)


# -- counters, throttling, faults -----------------------------------------------------------------


class RequestStats:
    """Requests received, per (method, route kind) and in total; benchmarks count Nexudus calls here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.total = 0

    def record(self, method: str, kind: str) -> None:
        with self._lock:
            self.counts[(method, kind)] += 1
            self.total += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    def count(self, method: str | None = None, kind: str | None = None) -> int:
        """Requests matching a method and/or a kind (None matches any)."""
        with self._lock:
            return sum(
                n
                for (m, k), n in self.counts.items()
                if (method is None or m == method) and (kind is None or k == kind)
            )

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = {f"{m} {k}": n for (m, k), n in sorted(self.counts.items())}
            out["total"] = self.total
            return out

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.statuses.clear()
            self.total = 0


class Throttle:
    """Nexudus' per-account limits: a minimum interval, requests per minute and per hour, writes per minute
    and per day (`SandboxConfig`; 100 ms, 120, 5000, 60, 5000 as documented).

    Refused requests are not counted, so a client that waits `Retry-After` gets through.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._windows.clear()

    @staticmethod
    def limits(config: SandboxConfig) -> tuple[tuple[str, float, int, bool], ...]:
        """(name, window seconds, most requests in it, writes only): per minute, hour and day."""
        return (
            ("minute", 60.0, config.per_minute, False),
            ("minute-writes", 60.0, config.writes_per_minute, True),
            ("hour", 3600.0, config.per_hour, False),
            ("day-writes", 86400.0, config.writes_per_day, True),
        )

    def check(self, account: str, is_write: bool, config: SandboxConfig) -> int | None:
        """None to let the request through (and count it), else the Retry-After seconds."""
        now = config.clock()
        with self._lock:
            applying = []
            for name, span, limit, writes_only in self.limits(config):
                if writes_only and not is_write:
                    continue
                window = self._windows.setdefault((account, name), deque())
                while window and window[0] <= now - span:
                    window.popleft()
                applying.append((window, span, limit))
            last = self._last.get(account)
            if last is not None and now - last < config.min_interval:
                return 1
            for window, span, limit in applying:
                if len(window) >= limit:
                    return max(1, math.ceil(window[0] + span - now))
            self._last[account] = now
            for window, _, _ in applying:
                window.append(now)
            return None


def throttled(retry_after: int, dialect: SandboxDialect = SEED) -> Response:
    """409 (or 429) with `Retry-After`, with a JSON message or (dialect `throttle-empty`) no body at all."""
    headers = {"Retry-After": str(retry_after)}
    if dialect.throttle_body == "empty":
        return Response(dialect.throttle_status, b"", "text/plain; charset=utf-8", headers)
    return json_response(
        dialect.throttle_status,
        {"Message": f"Too many requests for this account. Retry after {retry_after} s."},
        headers,
    )


class Faults:
    """Seeded fault injection; re-seeds when `config.fault_seed` changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seed: int | None = None
        self._rng = random.Random()

    def draw(self, config: SandboxConfig) -> str | None:
        if config.fault_rate <= 0 or not config.fault_kinds:
            return None
        with self._lock:
            if self._seed != config.fault_seed:
                self._seed = config.fault_seed
                self._rng = random.Random(config.fault_seed)
            if self._rng.random() >= config.fault_rate:
                return None
            return self._rng.choice(config.fault_kinds)


# -- routing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    kind: str
    role: str
    is_write: bool
    handler: Callable[[SandboxApp, Request, dict[str, list[str]], DemoUser, int | None], Response]
    record_id: int | None = None


class SandboxApp:
    """Everything the sandbox answers, independent of sockets."""

    def __init__(self, db: SandboxDB, config: SandboxConfig, users: Mapping[str, DemoUser] | None = None) -> None:
        self.db = db
        self.config = config
        self.users = dict(users if users is not None else DEMO_USERS)
        self.stats = RequestStats()
        self.throttle = Throttle()
        self.faults = Faults()
        self.tokens = TokenStore()

    # The entry point ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        split = urlsplit(request.target)
        path = split.path.rstrip("/").lower() or "/"
        query = {k.lower(): v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        spoken = self.config.dialect
        if path == TOKEN_PATH and spoken.tokens:
            self.stats.record(request.method, "token")
            return self.token(request)
        resolved = self.resolve(request.method, path)
        if isinstance(resolved, Route) and resolved.kind == "search":
            if spoken.ids == "array":
                query.pop("chatroom_id", None)  # not this dialect's form: ignored, as unknown parameters are
                if any(v.strip().startswith("[") for v in query.get("id", [])):
                    resolved = Route("ids", ROLE_READ, False, SandboxApp.ids_array)
            elif "chatroom_id" in query:
                resolved = replace(resolved, kind="ids")
        self.stats.record(request.method, resolved.kind if isinstance(resolved, Route) else "other")

        config = self.config
        if config.delay > 0:
            time.sleep(config.delay)
        fault = self.faults.draw(config)
        if fault == "drop":
            return Response(0, drop=True)
        if fault == "500":
            return failure("An unexpected error occurred. Please try again later.", http_status=500)
        if fault == "409":
            return throttled(1, spoken)
        if fault == "timeout":
            time.sleep(config.fault_timeout)

        if isinstance(resolved, Response):
            return resolved
        user = self.authenticate(request.headers.get("Authorization"))
        if user is None or not user.has_role(resolved.role):
            return json_response(401, DENIED, {"WWW-Authenticate": 'Bearer realm="Nexudus sandbox"'})
        if config.throttle:
            retry_after = self.throttle.check(user.email, resolved.is_write, config)
            if retry_after is not None:
                return throttled(retry_after, spoken)
        return resolved.handler(self, request, query, user, resolved.record_id)

    def resolve(self, method: str, path: str) -> Route | Response:
        """The route for a method and lower-cased path, or the 404/405 to answer."""
        if path == BASE_PATH:
            routes = {
                "GET": Route("search", ROLE_LIST, False, SandboxApp.search),
                "POST": Route("create", ROLE_CREATE, True, SandboxApp.create),
                "PUT": Route("update", ROLE_EDIT, True, SandboxApp.update),
            }
        elif path == BASE_PATH + "/commands":
            routes = {"GET": Route("commands", ROLE_LIST, False, SandboxApp.commands)}
        elif path in (BASE_PATH + "/runcommand", BASE_PATH + "/runacommand"):
            routes = {"POST": Route("runcommand", ROLE_EDIT, True, SandboxApp.run_command)}
        elif path.startswith(BASE_PATH + "/") and _DIGITS.fullmatch(path[len(BASE_PATH) + 1 :]):
            record_id = int(path[len(BASE_PATH) + 1 :])
            if record_id >= 2**63:
                return not_found()
            routes = {
                "GET": Route("get", ROLE_READ, False, SandboxApp.get, record_id),
                "DELETE": Route("delete", ROLE_DELETE, True, SandboxApp.delete, record_id),
            }
        else:
            return not_found()
        route = routes.get(method)
        if route is None:
            return text_response(405, "Method not allowed", {"Allow": ", ".join(sorted(routes))})
        return route

    def authenticate(self, header: str | None) -> DemoUser | None:
        """The account of a Bearer or Basic `Authorization` header, or None (never logged).

        Basic is refused for an account with two-factor authentication, and by the `bearer-only` dialect.
        """
        if header and header[:7].lower() == "bearer ":
            email = self.tokens.user_of(header[7:].strip(), self.now())
            return self.users.get(email) if email else None
        if not header or header[:6].lower() != "basic " or not self.config.dialect.basic:
            return None
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True)
        except binascii.Error:
            return None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")  # what most clients (requests among them) send for Latin-1 text
        email, sep, password = decoded.partition(":")
        user = self.users.get(email.strip().lower())
        if not sep or user is None:
            return None
        if not hmac.compare_digest(password.encode("utf-8"), user.password.encode("utf-8")):
            return None
        return None if user.totp_secret else user

    def token(self, request: Request) -> Response:
        """`POST /api/token`: password (+ `totp`) and refresh grants, form-encoded as OAuth2 wants."""
        if request.method != "POST":
            return text_response(405, "Method not allowed", {"Allow": "POST"})
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return json_response(400, {"error": "unsupported_grant_type"})
        try:
            form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            return json_response(400, {"error": "invalid_request"})
        now = self.now()
        refused = {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}
        grant = form.get("grant_type")
        if grant == "password":
            user = self.users.get(form.get("username", "").strip().lower())
            password = form.get("password", "")
            if user is None or not hmac.compare_digest(password.encode("utf-8"), user.password.encode("utf-8")):
                return json_response(400, refused)
            if user.totp_secret:
                code = form.get("totp", "")
                if not code:
                    return json_response(
                        400, {"error": "invalid_grant", "error_description": "A two-factor (TOTP) code is required."}
                    )
                if not totp_ok(user.totp_secret, code, self.config.now()):
                    return json_response(
                        400, {"error": "invalid_grant", "error_description": "The two-factor (TOTP) code is wrong."}
                    )
            return json_response(200, self.tokens.issue(user.email, now))
        if grant == "refresh_token":
            email = self.tokens.redeem_refresh(form.get("refresh_token", ""), now)
            if email is None or email not in self.users:
                return json_response(400, {"error": "invalid_grant", "error_description": "Invalid refresh token."})
            return json_response(200, self.tokens.issue(email, now))
        return json_response(400, {"error": "unsupported_grant_type"})

    def now(self) -> datetime:
        """The wall clock at second resolution, as Nexudus stamps records."""
        return self.config.now().astimezone(UTC).replace(microsecond=0)

    # Reads ---------------------------------------------------------------------------------------

    def search(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        parsed = parse_search(query, self.config.dialect)
        if isinstance(parsed, Response):
            return parsed
        search, order_field = parsed
        if user.businesses is not None:
            search = replace(search, businesses=tuple(sorted(user.businesses)))
        rows, total = self.db.search(search)
        first = (search.page - 1) * search.size + 1 if rows else 0
        return json_response(
            200,
            {
                "Records": [list_record(r, self.config.dialect) for r in rows],
                "CurrentPageSize": search.size,
                "CurrentPage": search.page,
                "CurrentOrderField": order_field,
                "CurrentSortDirection": 1 if search.descending else 0,
                "FirstItem": first,
                "HasNextPage": search.page * search.size < total,
                "HasPreviousPage": search.page > 1,
                "LastItem": first + len(rows) - 1 if rows else 0,
                "PageNumber": search.page,
                "PageSize": search.size,
                "TotalItems": total,
                "TotalPages": math.ceil(total / search.size),
            },
        )

    def get(self, request: Request, query: dict[str, list[str]], user: DemoUser, record_id: int | None) -> Response:
        row = self.db.get(record_id or 0)
        if row is None or not user.sees(row.business_id):
            return not_found()
        return json_response(200, single_record(row, self.config.dialect))

    def ids_array(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        """`GET …/chatrooms?id=[1,2]` (dialect `ids-array`): a bare array of full records, in id order."""
        ids = _ids_filter(query.get("id", []))
        if ids is None:
            return validation_failure([field_error("id", "must be a list of ids like [1,2,3]", query.get("id"))])
        rows = [row for row in (self.db.get(i) for i in sorted(ids)) if row is not None and user.sees(row.business_id)]
        return json_response(200, [single_record(row, self.config.dialect) for row in rows])

    def commands(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        return json_response(200, [c.to_json() for c in COMMANDS])

    # Writes --------------------------------------------------------------------------------------

    def create(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        body = parse_body(request.body)
        if isinstance(body, Response):
            return body
        values, errors = self.validate(body, current=None)
        if errors:
            return validation_failure(errors)
        now = self.now()
        new_id = self.db.insert(
            NewChatRoom(
                business_id=values["business_id"],
                name=values["name"],
                active=values["active"],
                last_agent_visit=values["last_agent_visit"],
                created_on=now,
                updated_on=now,
                updated_by=user.email,
                unique_id=str(uuid.uuid4()),
                system_id=values["system_id"],
                users=values["users"],
            )
        )
        return json_response(
            200,
            {
                "Status": 200,
                "WasSuccessful": True,
                "Message": f"Record '{values['name']}' has been succesfully created.",
                "Value": {"Id": new_id},
            },
        )

    def update(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        body = parse_body(request.body)
        if isinstance(body, Response):
            return body
        raw_id = body.get("Id")
        record_id = as_id(raw_id)
        with self.db.transaction():
            current = self.db.get(record_id) if record_id is not None else None
            if current is not None and not user.sees(current.business_id):
                current = None
            if record_id is not None and current is None:
                return not_found()
            values, errors = self.validate(body, current=current)
            if record_id is None:
                message = "may not be null or empty" if raw_id is None else "must be a chatroom id"
                errors.insert(0, field_error("Id", message, raw_id))
            if errors:
                return validation_failure(errors)
            assert record_id is not None
            fields = {k: values[k] for k in ("business_id", "name", "active", "last_agent_visit", "system_id")}
            self.db.update_fields([record_id], self.now(), user.email, **fields)
            self.db.set_users(record_id, values["users"])
        return json_response(
            200,
            {
                "Status": 200,
                "WasSuccessful": True,
                "Message": f"Record '{values['name']}' has been succesfully updated.",
                "Value": {"Id": record_id},
            },
        )

    def delete(self, request: Request, query: dict[str, list[str]], user: DemoUser, record_id: int | None) -> Response:
        current = self.db.get(record_id or 0)
        if current is None or not user.sees(current.business_id) or not self.db.delete(current.id):
            return not_found()
        return json_response(
            200,
            {
                "Status": 200,
                "WasSuccessful": True,
                "Message": "The record was deleted successfully.",
                "Value": None,
                "OpenInDialog": False,
                "RedirectURL": None,
                "JavaScript": None,
                "Errors": None,
            },
        )

    def run_command(self, request: Request, query: dict[str, list[str]], user: DemoUser, _: int | None) -> Response:
        body = parse_body(request.body)
        if isinstance(body, Response):
            return body
        now = self.now()
        ids = body.get("Ids")
        try:
            message = run_command(self.db, body.get("Key"), ids, body.get("Parameters"), now, user.email)
            ok = True
        except CommandRefused as exc:
            message, ok = str(exc), False
        first = ids[0] if ok and isinstance(ids, list) and ids else None
        return json_response(
            200,
            {
                "Status": 200 if ok else 500,
                "WasSuccessful": ok,
                "Message": message,
                "Value": {"Id": int(first)} if first is not None else None,
                "Errors": None,
                "JavaScript": None,
                "OpenInDialog": False,
                "OpenInWindow": False,
                "RedirectURL": None,
                "UpdatedBy": user.email,
                "UpdatedOn": wire(now, self.config.dialect),
            },
        )

    def validate(
        self, body: dict[str, Any], current: ChatRoomRow | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Typed values of a create/update body and its field errors.

        A missing property is cleared (None / false / no users), as a Nexudus PUT does; `AddedUsers`
        and `RemovedUsers` change the current members (or `Users`, when sent) instead.
        """
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}

        raw = body.get("BusinessId")
        business = as_id(raw)
        if raw is None:
            errors.append(field_error("BusinessId", "may not be null or empty"))
        elif business is None:
            errors.append(field_error("BusinessId", "must be a business id", raw))
        elif not self.db.business_exists(business):
            errors.append(field_error("BusinessId", "no business has this id", raw))
        values["business_id"] = business

        raw = body.get("Name")
        if raw is not None and not isinstance(raw, str):
            errors.append(field_error("Name", "must be text", raw))
        elif raw is None or not raw.strip():
            errors.append(field_error("Name", "may not be null or empty", raw))
        values["name"] = raw

        raw = body.get("Active")
        active = as_bool(raw) if raw is not None else False
        if active is None:
            errors.append(field_error("Active", "must be true or false", raw))
        values["active"] = bool(active)

        raw = body.get("LastAgentVisit")
        values["last_agent_visit"] = None
        if raw not in (None, ""):
            try:
                if not isinstance(raw, str):
                    raise ValueError
                values["last_agent_visit"] = parse_datetime(raw, self.config.dialect)
            except ValueError:
                errors.append(field_error("LastAgentVisit", "must be a date-time", raw))

        raw = body.get("SystemId")
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, str | int | float)):
            errors.append(field_error("SystemId", "must be text", raw))
            raw = None
        values["system_id"] = None if raw is None else str(raw)

        lists: dict[str, list[int]] = {}
        for name in ("Users", "AddedUsers", "RemovedUsers"):
            raw = body.get(name)
            ids = as_id_list(raw)
            if ids is None:
                errors.append(field_error(name, "must be a list of user ids", raw))
            lists[name] = ids or []
        if "Users" in body:
            users = lists["Users"]
        elif ("AddedUsers" in body or "RemovedUsers" in body) and current is not None:
            users = list(current.users)
        else:
            users = []
        removed = set(lists["RemovedUsers"])
        users = [u for u in dict.fromkeys([*users, *lists["AddedUsers"]]) if u not in removed]
        values["users"] = users
        return values, errors


# -- value parsing --------------------------------------------------------------------------------


def parse_body(body: bytes) -> dict[str, Any] | Response:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return failure("Invalid JSON body")
    if not isinstance(parsed, dict):
        return failure("Invalid JSON body")
    return parsed


def as_id(raw: Any) -> int | None:
    """A positive id from a JSON number or digit string (as Json.NET would accept), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 < raw < 2**63 else None
    if isinstance(raw, float) and raw.is_integer():
        return as_id(int(raw))
    if isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        return as_id(int(raw.strip()))
    return None


def as_bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    return None


def as_id_list(raw: Any) -> list[int] | None:
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    ids = [as_id(item) for item in raw]
    if any(i is None for i in ids):
        return None
    return [i for i in ids if i is not None]


def _ids_filter(values: list[str]) -> tuple[int, ...] | None:
    """`[1,2,3]`, `1,2` or repeated parameters."""
    ids: list[int] = []
    for value in values:
        for part in value.strip().strip("[]").split(","):
            if part.strip():
                parsed = as_id(part.strip())
                if parsed is None:
                    return None
                ids.append(parsed)
    return tuple(dict.fromkeys(ids))


def parse_direction(value: str, spoken: str = "any") -> bool | None:
    """True for descending, False for ascending, None when unreadable.

    A strict dialect (`name`, `signed`, `binary`) reads only its own form and *ignores* any other value
    (ascending), as a server does with a value it does not know — the case that makes a client wrong.
    """
    text = value.strip().lower()
    strict = {
        "name": {"ascending": False, "descending": True},
        "signed": {"1": False, "-1": True},
        "binary": {"0": False, "1": True},
    }
    if spoken in strict:
        return strict[spoken].get(text, False)
    if text in ("ascending", "asc", "0"):
        return False
    if text in ("descending", "desc", "1", "-1"):
        return True
    return None


_FILTER_NAMES = {
    "id": "Id",
    "chatroom_active": "ChatRoom_Active",
    "chatroom_business": "ChatRoom_Business",
    "chatroom_lastagentvisit": "ChatRoom_LastAgentVisit",
    "chatroom_name": "ChatRoom_Name",
    "chatroom_users": "ChatRoom_Users",
    "chatroom_id": "ChatRoom_Id",
}
_RANGES = {
    "chatroom_createdon": ("created_from", "created_to", "ChatRoom_CreatedOn"),
    "chatroom_updatedon": ("updated_from", "updated_to", "ChatRoom_UpdatedOn"),
    "chatroom_lastagentvisit": ("visited_from", "visited_to", "ChatRoom_LastAgentVisit"),
}


def parse_search(query: dict[str, list[str]], spoken: SandboxDialect = SEED) -> tuple[SearchQuery, str] | Response:
    """A `SearchQuery` and the canonical order field from lower-cased query parameters, or a 400."""
    errors: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}

    def value(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values and values[-1].strip() else None

    def bad(name: str, message: str, raw: Any) -> None:
        errors.append(field_error(_FILTER_NAMES.get(name, name), message, raw))

    for name, key in (("id", "id"), ("chatroom_business", "business"), ("chatroom_users", "user")):
        raw = value(name)
        if raw is not None:
            kwargs[key] = as_id(raw)
            if kwargs[key] is None:
                bad(name, "must be an id", raw)
    raw = value("chatroom_active")
    if raw is not None:
        kwargs["active"] = as_bool(raw)
        if kwargs["active"] is None:
            bad("chatroom_active", "must be true or false", raw)
    raw = value("chatroom_name")
    if raw is not None:
        kwargs["name"] = raw
    raw = value("chatroom_lastagentvisit")
    if raw is not None:
        try:
            kwargs["visit_minute"] = parse_datetime(raw, spoken)
        except ValueError:
            bad("chatroom_lastagentvisit", "must be a date-time like 2024-05-01T14:30", raw)
    if "chatroom_id" in query:
        kwargs["ids"] = _ids_filter(query["chatroom_id"])
        if kwargs["ids"] is None:
            bad("chatroom_id", "must be a list of ids like [1,2,3]", ",".join(query["chatroom_id"]))
    for suffix, (low, high, label) in _RANGES.items():
        for prefix, key in (("from_", low), ("to_", high)):
            raw = value(prefix + suffix)
            if raw is None:
                continue
            try:
                kwargs[key] = parse_datetime(raw, spoken)
            except ValueError:
                errors.append(field_error(prefix.title() + label, "must be a date-time like 2024-05-01T14:30", raw))

    page, size = 1, 25
    for name in ("page", "size"):
        raw = value(name)
        if raw is None:
            continue
        try:
            number = int(raw)
        except ValueError:
            errors.append(field_error(name, "must be a whole number", raw))
            continue
        if name == "page":
            page = min(MAX_PAGE, max(1, number))
        else:
            size = min(MAX_PAGE_SIZE, max(1, number))
    order_raw = value("orderby") or "Id"
    order = ORDER_COLUMNS.get(order_raw.strip().lower())
    if order is None:
        errors.append(field_error("orderby", "is not a chatroom property", order_raw))
    direction_raw = value("dir") or value("sort")
    descending: bool | None = False
    if direction_raw is not None:
        descending = parse_direction(direction_raw, spoken.dir)
        if descending is None:
            errors.append(field_error("dir", "must be Ascending or Descending", direction_raw))

    if errors:
        return validation_failure(errors)
    assert order is not None
    search = SearchQuery(
        order_by=order_raw.strip().lower(), descending=bool(descending), page=page, size=size, **kwargs
    )
    return search, order[0]


# -- HTTP server ----------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.stopping = False
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so a stopped server really stops answering."""
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive answers would otherwise wait ~40 ms for delayed ACKs
    server_version = "NexudusSandbox/1.0"
    timeout = 60
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.perf_counter()
        app = self.server.app
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(text_response(400 if length <= MAX_BODY else 413, "Bad request"))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        try:
            response = app.handle(request)
        except Exception:
            if not self.server.stopping:
                log.error("sandbox: %s %s failed", self.command, urlsplit(self.path).path, exc_info=True)
            response = failure("An unexpected error occurred.", http_status=500)
        if response.drop:
            self.close_connection = True
            app.stats.record_status(0)
            return
        app.stats.record_status(response.status)
        self._send(response)
        if app.config.log_requests:
            elapsed = (time.perf_counter() - started) * 1000
            print(f"{self.command} {self.path} -> {response.status} ({elapsed:.1f} ms)", file=sys.stderr, flush=True)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. it timed out first)

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header from the sandbox's clock (tests move it), as a server stamps its records."""
        return format_datetime(self.server.app.config.now().astimezone(UTC), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: requests are logged by `_serve` (no headers, so no credentials)."""


class SandboxServer:
    """A running sandbox on 127.0.0.1, for tests and `python -m bot sandbox`.

    `url` is the API base the client is configured with (it appends `/support/chatrooms`).
    """

    def __init__(
        self,
        db_path: str = ":memory:",
        port: int = 0,
        config: SandboxConfig | None = None,
        chatrooms: int = 60,
        now: Callable[[], datetime] | None = None,
        host: str = "127.0.0.1",
        users: Mapping[str, DemoUser] | None = None,
        reset: bool = False,
        rng_seed: int = DEFAULT_RNG_SEED,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        if now is not None:
            self.config.now = now
        self.host = host
        self.requested_port = port
        self.db = SandboxDB(db_path)
        if reset:
            self.db.reset()
        seed_if_empty(self.db, self.config.now(), chatrooms, rng_seed)
        self.app = SandboxApp(self.db, self.config, users)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> RequestStats:
        return self.app.stats

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def chatrooms_url(self) -> str:
        return self.url + "/support/chatrooms"

    def start(self) -> SandboxServer:
        """Bind and serve on a background thread; returns once listening."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.requested_port), self.app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": STOP_POLL}, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and close the database."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.stopping = True
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.db.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- CLI ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot sandbox",
        description="A local Nexudus chatroom API for demos and tests (no Nexudus account needed).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    parser.add_argument("--db", default="var/sandbox.sqlite", help="SQLite file keeping the data")
    parser.add_argument("--memory", action="store_true", help="keep the data in memory only")
    parser.add_argument("--chatrooms", type=int, default=60, help="chatrooms to seed into an empty database")
    parser.add_argument("--no-throttle", action="store_true", help="turn Nexudus' rate limits off")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--per-hour", type=int, default=5000, help="requests an account may make an hour")
    parser.add_argument("--writes-per-day", type=int, default=5000, help="writes an account may make a day")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail (0..1)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault injection")
    parser.add_argument("--reset", action="store_true", help="drop the data and seed again")
    parser.add_argument(
        "--dialect",
        action="append",
        choices=DIALECT_NAMES,
        default=[],
        help="speak one documented variant of the API (repeatable; see bot/sandbox/dialects.py)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until Ctrl-C or SIGTERM; exit 0 on a clean shutdown."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.fault_rate <= 1:
        print("--fault-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}; the sandbox has no real security.", file=sys.stderr)
    config = SandboxConfig(
        throttle=not args.no_throttle,
        delay=max(0.0, args.delay),
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        log_requests=not args.quiet,
        dialect=make_dialect(*args.dialect),
        per_hour=max(1, args.per_hour),
        writes_per_day=max(1, args.writes_per_day),
    )
    db_path = ":memory:" if args.memory else args.db
    started = time.perf_counter()
    try:
        server = SandboxServer(
            db_path, args.port, config, chatrooms=max(0, args.chatrooms), host=args.host, reset=args.reset
        ).start()
    except OSError as exc:
        print(f"Cannot start the sandbox on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        elapsed = (time.perf_counter() - started) * 1000
        where = "in memory" if args.memory else args.db
        lines = [
            f"Nexudus sandbox listening on {server.url} ({server.db.count()} chatrooms, {where}, "
            f"started in {elapsed:.0f} ms)",
            f"  NEXUDUS_BASE_URL={server.url}",
            f"  throttling {'on' if config.throttle else 'off'}, delay {config.delay:g} s, "
            f"fault rate {config.fault_rate:g}, dialect {' + '.join(args.dialect) or 'seed'}",
            "Demo users (HTTP Basic, or Bearer tokens from POST /api/token):",
            *(
                f"  {u.email} / {u.password}  ({'Administrator' if u.administrator else ', '.join(sorted(u.roles))})"
                + (f"  2FA, TOTP secret {u.totp_secret}" if u.totp_secret else "")
                for u in DEMO_USERS.values()
            ),
            "Try:",
            f"  curl -u admin@sandbox.local:sandbox-admin '{server.chatrooms_url}?page=1&size=25'",
            "Ctrl-C stops it.",
        ]
        print("\n".join(lines), flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
