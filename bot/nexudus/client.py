"""A typed client for the Nexudus chatroom API over one `requests.Session`.

Choices where the reference disagrees with itself, made for what a real client must send:
- Header: `Authorization: Bearer …` for a token login, `Authorization: Basic …` for a password (the
  examples say `Authentication:`, which no HTTP server reads).
- Run command: `POST …/chatrooms/runcommand` (the example request and Nexudus' other entities use it;
  `runacommand` in the heading is a typo).
- Sort direction and find-by-ids: every documented form, detected and checked (see `dialect.py`).
- List answers: the paged envelope or a bare array, whichever comes.
Entity-specific names (path, filter prefix, roles, read-only fields) come from `entity.py`.

Retries use urllib3's `Retry`: reads retry on connection errors, throttling (409/429) and 5xx, honouring
`Retry-After`; writes (create, update, delete, run command) retry only on throttling, because a
throttled request was refused, not executed — never on a timeout or a 5xx, which may have run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3.util.retry import Retry

from bot import metrics
from bot.nexudus.auth import BearerAuth, NoTokenEndpoint, exchange_password, refresh_tokens
from bot.nexudus.credentials import Credentials
from bot.nexudus.dialect import (
    DIR_FORMS,
    DIR_VALUES,
    IDS_FORMS,
    KNOWN,
    DialectMemory,
    IdsForm,
    forms_to_try,
    ids_verdict,
    order_verdict,
)
from bot.nexudus.entity import CHATROOMS, EntitySpec
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
from bot.nexudus.models import (
    ActionResult,
    ChatRoom,
    Command,
    CommandParameter,
    FieldError,
    NexudusModel,
    Page,
)
from bot.nexudus.pacing import AccountPacer, PacerRegistry
from bot.nexudus.query import ChatRoomFilters, Direction, ids_param, paging_params
from bot.nexudus.timecodec import UTC_CODEC, TimeCodec
from bot.settings import Settings

__all__ = ["ChatRoomChanges", "ClientFactory", "Credentials", "NewChatRoom", "NexudusClient"]

log = logging.getLogger(__name__)

THROTTLED = frozenset({409, 429})
PACING_FILE = "pacing.sqlite"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
MAX_BODY_READ = 4000  # characters of an error answer read for its log excerpt


class NexudusRetry(Retry):
    """urllib3 `Retry` that also retries writes, but only when Nexudus throttled them."""

    RETRY_AFTER_STATUS_CODES = frozenset({409, 413, 429, 503})
    max_retry_after: float = 30.0
    pacer: AccountPacer | None = None

    def new(self, **kw: Any) -> NexudusRetry:
        fresh = super().new(**kw)
        fresh.max_retry_after = self.max_retry_after
        fresh.pacer = self.pacer
        return fresh

    def sleep(self, response: Any = None) -> None:
        throttled = response is not None and getattr(response, "status", None) in THROTTLED
        if throttled:
            metrics.NEXUDUS_THROTTLED.inc()
        if throttled and self.pacer is not None:
            # The retry is booked with the account's pacer like any request — behind every slot already
            # booked, in every process — and leaves at its slot, not at Retry-After: sent then, it would meet
            # the requests booked around that time and be refused again, and again.
            wait = self.get_retry_after(response)
            method = str(self.history[-1].method or "GET").upper() if self.history else "GET"
            self.pacer.throttled(wait if wait is not None else self.get_backoff_time(), method in WRITE_METHODS)
            return
        super().sleep(response)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in THROTTLED:
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)


class NewChatRoom(NexudusModel):
    """What `create` sends: BusinessId is required, the rest optional."""

    business_id: int
    name: str | None = None
    active: bool | None = None
    last_agent_visit: datetime | None = None
    users: list[int] | None = None
    system_id: str | None = None


class ChatRoomChanges(NexudusModel):
    """The fields an edit changes. Only fields explicitly set count (`model_fields_set`)."""

    business_id: int | None = None
    name: str | None = None
    active: bool | None = None
    last_agent_visit: datetime | None = None
    users: list[int] | None = None
    system_id: str | None = None

    def wire(self, codec: TimeCodec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            alias = type(self).model_fields[name].alias or name
            value = getattr(self, name)
            out[alias] = codec.to_wire(value) if isinstance(value, datetime) else value
        return out


def record_to_wire(record: ChatRoom, codec: TimeCodec, entity: EntitySpec = CHATROOMS) -> dict[str, Any]:
    """Every property of a record as a PUT must send it, unknown extras (`CustomFields`…) included."""
    body: dict[str, Any] = {}
    for key, value in record.model_dump(by_alias=True).items():
        if key in entity.read_only:
            continue
        body[key] = codec.to_wire(value) if isinstance(value, datetime) else value
    if body.get("BusinessId") is None and record.business is not None:
        body["BusinessId"] = record.business
    if body.get("Users") is None:
        # A record read by id always carries Users; never send null, which would clear the list.
        body.pop("Users", None)
    return body


@dataclass(frozen=True)
class Edited:
    """A safe edit's record as read just before the PUT, and as written (merged)."""

    before: ChatRoom
    after: ChatRoom


def environment_once(session: requests.Session, base_url: str) -> requests.Session:
    """`session` with the proxy and CA settings of the environment (`HTTPS_PROXY`, `NO_PROXY`,
    `REQUESTS_CA_BUNDLE`…) for `base_url` read now, once: by default requests reads them again on every request,
    scanning the whole environment (~15% of the CPU of a `list` after its ack, bench/gunicorn_ack.py)."""
    found = session.merge_environment_settings(base_url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(found.get("proxies") or {})
    session.verify = found.get("verify", True)
    return session


class NexudusClient:
    """All chatroom operations for one account. Errors are `NexudusError`s; none carries a secret."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        codec: TimeCodec = UTC_CODEC,
        timeout: tuple[float, float] = (5.0, 20.0),
        retries: int = 3,
        backoff: float = 0.3,
        max_retry_after: float = 30.0,
        pacer: AccountPacer | None = None,
        session: requests.Session | None = None,
        dialects: DialectMemory = KNOWN,
        entity: EntitySpec = CHATROOMS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.entity = entity
        self.url = self.base_url + entity.path
        self.credentials = credentials
        self.codec = codec
        self.timeout = timeout
        self.pacer = pacer
        self.dialects = dialects
        self.last_headers: Mapping[str, str] = {}
        """Headers of the latest answer (the doctor reads `Date` and rate-limit headers from them)."""
        self._written: dict[int, tuple[float, datetime]] = {}
        self.session = session or environment_once(requests.Session(), self.base_url)
        if credentials.access_token is not None:
            self.session.auth = BearerAuth(credentials.access_token)
        else:
            # Encoded here: requests encodes str credentials as Latin-1 and, for any other character, raises
            # a UnicodeEncodeError whose repr carries the password. Latin-1 when it fits (what requests
            # sends), else UTF-8 (RFC 7617).
            self.session.auth = HTTPBasicAuth(_auth_bytes(credentials.email), _auth_bytes(credentials.password))
        self.session.headers.update({"Accept": "application/json", "User-Agent": "chatrooms-bot/0.1"})
        retry = NexudusRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            status_forcelist=frozenset({409, 429, 500, 502, 503, 504}),
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.max_retry_after = max_retry_after
        retry.pacer = pacer
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # ---------------------------------------------------------------- reads
    def find(
        self,
        filters: ChatRoomFilters | None = None,
        *,
        page: int = 1,
        size: int = 25,
        order_by: str = "Id",
        direction: Direction = Direction.ASCENDING,
    ) -> Page:
        """One page of chatrooms matching `filters` (role ChatRoom-List), checked to be in the order asked.

        The `dir` form the server understands is learnt: the remembered one is sent first and the page
        checked; a page in the wrong order (or a 400 naming `dir`) tries the next documented form.
        Only a descending page proves a form (servers that ignore `dir` sort ascending).
        """
        params = paging_params(page, size, order_by, direction)
        if filters is not None:
            params.update(filters.to_params(self.codec))
        direction = Direction(direction)
        known = self.dialects.get(self.base_url).dir
        for form in forms_to_try(known, DIR_FORMS):
            params["dir"] = DIR_VALUES[form][direction]
            try:
                data = self._call("GET", "", role=self.entity.role("List"), operation="list chatrooms", params=params)
            except ValidationFailed as exc:
                if _names_parameter(exc, "dir"):
                    continue
                raise
            result = self._page(data, page, size)
            verdict = order_verdict(result.records, order_by, direction)
            if verdict is False:
                log.info("nexudus %s: dir=%s was not understood; trying another form", self.base_url, params["dir"])
                continue
            if verdict and direction == Direction.DESCENDING and form != known:
                self.dialects.learn(self.base_url, dir=form)
            return result
        raise UnexpectedResponse(200, f"the server ignores every documented sort direction (ordering by {order_by})")

    def iter_pages(
        self,
        filters: ChatRoomFilters | None = None,
        *,
        size: int = 1000,
        order_by: str = "Id",
        direction: Direction = Direction.ASCENDING,
        max_pages: int = 10_000,
    ) -> Iterator[Page]:
        """Every page in turn, holding one in memory at a time; bounded by `max_pages`."""
        for number in range(1, max_pages + 1):
            page = self.find(filters, page=number, size=size, order_by=order_by, direction=direction)
            yield page
            if not page.has_next_page or not page.records:
                return

    def iter_chatrooms(self, filters: ChatRoomFilters | None = None, **kwargs: Any) -> Iterator[ChatRoom]:
        for page in self.iter_pages(filters, **kwargs):
            yield from page.records

    def find_by_ids(self, ids: Iterable[int]) -> list[ChatRoom]:
        """The chatrooms with these ids, in the order asked; missing ones are left out, none is dropped.

        Every answer is checked to hold only the ids asked for (a server that ignores the form we send
        answers an unfiltered page); otherwise the next documented form is tried, and one read per id last.
        """
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            return []
        found: dict[int, ChatRoom] = {}
        for start in range(0, len(wanted), 1000):
            for record in self._find_chunk(wanted[start : start + 1000]):
                found[record.id] = record
        return [found[i] for i in wanted if i in found]

    def _find_chunk(self, chunk: list[int]) -> list[ChatRoom]:
        known = self.dialects.get(self.base_url).ids
        for form in forms_to_try(known, IDS_FORMS):
            if form == "per-id":
                if known != "per-id":
                    log.warning("nexudus %s: no batch form of find-by-ids works; reading one by one", self.base_url)
                    self.dialects.learn(self.base_url, ids="per-id")
                return self._read_each(chunk)
            try:
                records, total = self._ids_request(form, chunk)
            except (ValidationFailed, NotFound):
                continue  # the server refused this form's parameter
            if ids_verdict([r.id for r in records], chunk, total):
                if form != known:
                    self.dialects.learn(self.base_url, ids=form)
                return records
            log.info("nexudus %s: find-by-ids as %s was ignored; trying another form", self.base_url, form)
        return []  # pragma: no cover - "per-id" always answers

    def _ids_request(self, form: IdsForm, chunk: list[int]) -> tuple[list[ChatRoom], int | None]:
        if form == "envelope":
            params = {self.entity.filter("Id"): ids_param(chunk), "page": "1", "size": str(len(chunk))}
            role = self.entity.role("List")
        else:
            params = {"id": ids_param(chunk)}
            role = self.entity.role("Read")
        data = self._call("GET", "", role=role, operation="find chatrooms", params=params)
        if isinstance(data, list):
            return [self._parse(ChatRoom, item) for item in data], None
        page = self._parse(Page, data)
        return page.records, page.total_items

    def _read_each(self, chunk: list[int]) -> list[ChatRoom]:
        records = []
        for chatroom_id in chunk:
            try:
                records.append(self.get(chatroom_id))
            except NotFound:
                continue
        return records

    def get(self, chatroom_id: int) -> ChatRoom:
        """One chatroom with its `Users` (role ChatRoom-Read)."""
        data = self._call(
            "GET",
            f"/{int(chatroom_id)}",
            role=self.entity.role("Read"),
            operation="read a chatroom",
            target=chatroom_id,
        )
        record = self._parse(ChatRoom, data)
        self._check_clock(record)
        return record

    def _check_clock(self, record: ChatRoom) -> None:
        """After our own write, compare the record's stamp with the server's `Date`: local times show here.

        Costs no request (the services re-read after every write). Learns the offset per base URL and
        warns once when it disagrees with `NEXUDUS_TIME_ZONE`.
        """
        written = self._written.pop(record.id, None)
        if written is None or record.updated_on is None:
            return
        at, server_date = written
        if time.monotonic() - at > 60:
            return
        # The wall clock the server wrote, as if it were UTC, against the server's own Date header.
        wall = observed_offset(record.updated_on.replace(tzinfo=UTC), server_date)
        mismatch = observed_offset(record.updated_on, server_date)
        before = self.dialects.get(self.base_url).time_offset_minutes
        self.dialects.learn(self.base_url, time_offset_minutes=wall)
        if mismatch != 0 and before is None:
            log.warning(
                "nexudus %s stamps records %+d min from its Date header with NEXUDUS_TIME_ZONE as set: the "
                "server sends local times with a Z; run `python -m bot doctor` and set NEXUDUS_TIME_ZONE",
                self.base_url,
                mismatch,
            )

    def commands(self) -> list[Command]:
        """The commands that can run on chatrooms, in their `Order`."""
        data = self._call("GET", "/commands", role=self.entity.role("List"), operation="list commands")
        if not isinstance(data, list):
            raise UnexpectedResponse(200, "the command list is not a list")
        commands = [self._parse(Command, item) for item in data]
        return sorted(commands, key=lambda c: (c.order, c.key))

    def probe(self) -> bool:
        """Whether these credentials are accepted at all (a one-record list)."""
        try:
            self.find(size=1)
        except NotAuthorised:
            return False
        return True

    # --------------------------------------------------------------- writes
    def create(self, chatroom: NewChatRoom) -> int:
        """Create a chatroom and return its new Id (role ChatRoom-Create)."""
        body = chatroom.model_dump(by_alias=True, exclude_none=True)
        body = {k: self.codec.to_wire(v) if isinstance(v, datetime) else v for k, v in body.items()}
        result = self._action("POST", "", body, role=self.entity.role("Create"), operation="create a chatroom")
        if result.record_id is None:
            # Nexudus said it succeeded: the chatroom most likely exists, so a retry could make a second one.
            raise UnexpectedResponse(200, "no Id for the new chatroom", maybe_applied=True)
        self._remember_write(result.record_id)
        return result.record_id

    def replace(self, body: Mapping[str, Any]) -> ActionResult:
        """A raw full-replace PUT. Every property missing from `body` is cleared: prefer `edit`."""
        chatroom_id = body.get("Id")
        result = self._action(
            "PUT", "", dict(body), role=self.entity.role("Edit"), operation="edit a chatroom", target=chatroom_id
        )
        if isinstance(chatroom_id, int):
            self._remember_write(chatroom_id)
        return result

    def edit(
        self,
        chatroom_id: int,
        changes: ChatRoomChanges,
        *,
        expected_updated_on: datetime | None = None,
        expected_fingerprint: str | None = None,
    ) -> ChatRoom:
        """Change only the fields set in `changes`, keeping every other property.

        Reads the record, refuses with `Conflict` when it changed since the caller read it (its
        `UpdatedOn` or, since UpdatedOn has one-second resolution, its content fingerprint), merges,
        and PUTs every property. Returns the record as written (merged, before Nexudus stamps it).
        """
        return self.edit_record(
            chatroom_id,
            changes,
            expected_updated_on=expected_updated_on,
            expected_fingerprint=expected_fingerprint,
        ).after

    def edit_record(
        self,
        chatroom_id: int,
        changes: ChatRoomChanges,
        *,
        expected_updated_on: datetime | None = None,
        expected_fingerprint: str | None = None,
    ) -> Edited:
        """`edit`, also returning the record as it was read just before the PUT (what the change replaced)."""
        current = self.get(chatroom_id)
        if expected_updated_on is not None and current.updated_on != expected_updated_on:
            raise Conflict(current)
        if expected_fingerprint is not None and current.fingerprint() != expected_fingerprint:
            raise Conflict(current)
        body = record_to_wire(current, self.codec, self.entity)
        body.update(changes.wire(self.codec))
        body["Id"] = current.id
        self.replace(body)
        merged = current.model_copy(update={k: getattr(changes, k) for k in changes.model_fields_set})
        return Edited(before=current, after=merged)

    def delete(self, chatroom_id: int) -> ActionResult:
        """Delete a chatroom (role ChatRoom-Delete)."""
        return self._action(
            "DELETE",
            f"/{int(chatroom_id)}",
            None,
            role=self.entity.role("Delete"),
            operation="delete a chatroom",
            target=chatroom_id,
        )

    def run_command(
        self, key: str, ids: Iterable[int], parameters: Iterable[tuple[CommandParameter, str]] = ()
    ) -> ActionResult:
        """Run a command; values are strings in `RequiresParameters` order. Never retried but on 409."""
        body = {
            "Key": key,
            "Ids": [int(i) for i in ids],
            "Parameters": [{"Name": p.name, "Type": p.type, "Value": str(v)} for p, v in parameters],
        }
        return self._action(
            "POST", "/runcommand", body, role=self.entity.role("Edit"), operation=f"run {key}", command=True
        )

    # ------------------------------------------------------------ plumbing
    def _remember_write(self, chatroom_id: int) -> None:
        server_date = _date_header(self.last_headers)
        if server_date is not None:
            if len(self._written) > 64:
                self._written.clear()
            self._written[chatroom_id] = (time.monotonic(), server_date)

    def _page(self, data: Any, page: int, size: int) -> Page:
        """The documented envelope, or a bare array of records (some servers answer one)."""
        if isinstance(data, list):
            records = [self._parse(ChatRoom, item) for item in data]
            if self.dialects.get(self.base_url).list_shape != "array":
                self.dialects.learn(self.base_url, list_shape="array")
            first = (page - 1) * size
            return Page(
                records=records,
                current_page=page,
                page_size=size,
                has_next_page=len(records) >= size,
                has_previous_page=page > 1,
                first_item=first + 1 if records else 0,
                last_item=first + len(records),
                total_items=first + len(records) + (1 if len(records) >= size else 0),
                total_pages=page + (1 if len(records) >= size else 0),
            )
        if self.dialects.get(self.base_url).list_shape is None:
            self.dialects.learn(self.base_url, list_shape="envelope")
        return self._parse(Page, data)

    def _action(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        role: str,
        operation: str,
        target: Any = None,
        command: bool = False,
    ) -> ActionResult:
        data = self._call(method, path, role=role, operation=operation, json=body, target=target)
        try:
            result = self._parse(ActionResult, data if isinstance(data, dict) else {})
        except UnexpectedResponse as exc:
            # A 2xx answer to a write we cannot read: the write most likely ran.
            raise UnexpectedResponse(
                exc.status, "the answer to a change could not be read", maybe_applied=True
            ).with_answer(exc.http_status, data) from None
        if not result.was_successful:
            if command:
                raise CommandFailed(result.message or f"{operation} did not succeed.", result)
            raise ValidationFailed(result.message or f"Could not {operation}.", result.errors)
        return result

    def _call(
        self,
        method: str,
        path: str,
        *,
        role: str,
        operation: str,
        params: dict[str, str] | None = None,
        json: Any = None,
        target: Any = None,
    ) -> Any:
        if self.pacer is not None:
            self.pacer.acquire(write=method in WRITE_METHODS)
        started = time.perf_counter()
        write = method in WRITE_METHODS
        try:
            response = self.session.request(method, self.url + path, params=params, json=json, timeout=self.timeout)
        except requests.exceptions.ConnectTimeout:
            metrics.NEXUDUS_REQUESTS.labels("connection").inc()
            raise Unavailable("could not connect") from None  # never sent
        except requests.Timeout:
            metrics.NEXUDUS_REQUESTS.labels("timeout").inc()
            raise Unavailable(f"no answer within {self.timeout[1]:.0f} s", maybe_applied=write) from None
        except requests.exceptions.RetryError:
            metrics.NEXUDUS_REQUESTS.labels("error").inc()
            raise Unavailable("it kept failing after retries", maybe_applied=write) from None
        except requests.ConnectionError:
            metrics.NEXUDUS_REQUESTS.labels("connection").inc()
            raise Unavailable("the connection failed", maybe_applied=write) from None
        except requests.RequestException as exc:
            metrics.NEXUDUS_REQUESTS.labels("error").inc()
            raise Unavailable(type(exc).__name__, maybe_applied=write) from None
        metrics.NEXUDUS_REQUESTS.labels(metrics.nexudus_status(response.status_code)).inc()
        log.debug(
            "nexudus %s %s -> %s in %.0f ms",
            method,
            path or "/",
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        self.last_headers = response.headers
        try:
            return self._interpret(response, role=role, operation=operation, target=target, write=write)
        except NexudusError as exc:  # the status and a redacted excerpt of the body, for the log
            raise exc.with_answer(response.status_code, response.text[:MAX_BODY_READ]) from None

    def _interpret(
        self, response: requests.Response, *, role: str, operation: str, target: Any, write: bool = False
    ) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise NotAuthorised(role, operation)
        if status == 404:
            raise NotFound(target if isinstance(target, int) else None)
        if status in THROTTLED:
            raise RateLimited(_retry_after(response))
        if status >= 500:
            raise Unavailable(f"HTTP {status}", maybe_applied=write)
        try:
            data = response.json()
        except ValueError:
            if status == 400:
                raise ValidationFailed(f"Nexudus refused the request: {response.text[:200]}") from None
            raise UnexpectedResponse(status, "not JSON", maybe_applied=write and 200 <= status < 300) from None
        if status == 400:
            if isinstance(data, dict):
                errors = [FieldError.model_validate(e) for e in data.get("Errors") or [] if isinstance(e, dict)]
                raise ValidationFailed(str(data.get("Message") or "Nexudus refused the record."), errors)
            raise ValidationFailed("Nexudus refused the request.")
        if not 200 <= status < 300:
            raise UnexpectedResponse(status)
        return data

    def _parse(self, model: type[Any], data: Any) -> Any:
        try:
            return model.model_validate(data, context={"codec": self.codec})
        except ValidationError as exc:
            raise UnexpectedResponse(200, f"{model.__name__} did not match ({exc.error_count()} errors)").with_answer(
                200, data
            ) from None

    def close(self) -> None:
        self.session.close()


def _auth_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _names_parameter(error: ValidationFailed, name: str) -> bool:
    fields = {key.lower() for key in error.by_field()}
    return name.lower() in fields or name.lower() in str(error).lower().split(":")[0]


def _date_header(headers: Mapping[str, str]) -> datetime | None:
    raw = headers.get("Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None


def observed_offset(stamp: datetime, server_date: datetime) -> int:
    """Minutes between a record stamped just now and the server's `Date`, rounded to 15 (zones' grain)."""
    minutes = (stamp - server_date).total_seconds() / 60
    return int(round(minutes / 15) * 15)


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class ClientFactory:
    """Builds one client per account and reuses it, so its connections are reused too."""

    def __init__(
        self,
        base_url: str,
        *,
        codec: TimeCodec = UTC_CODEC,
        timeout: tuple[float, float] = (5.0, 20.0),
        retries: int = 3,
        backoff: float = 0.3,
        max_retry_after: float = 30.0,
        pacers: PacerRegistry | None = None,
        max_clients: int = 256,
        auth: str = "bearer",
        dialects: DialectMemory = KNOWN,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.dialects = dialects
        self._token_session = environment_once(requests.Session(), base_url)
        self.codec = codec
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.pacers = pacers or PacerRegistry()
        self.max_clients = max_clients
        self._clients: OrderedDict[Credentials, NexudusClient] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, pacers: PacerRegistry | None = None) -> ClientFactory:
        return cls(
            settings.nexudus_base_url,
            codec=TimeCodec(settings.zone),
            timeout=(settings.nexudus_connect_timeout, settings.nexudus_read_timeout),
            retries=settings.nexudus_retries,
            backoff=settings.nexudus_backoff,
            max_retry_after=settings.nexudus_max_retry_after,
            # Beside the store, so the web process and the alert worker of a machine pace each account together.
            pacers=pacers
            or PacerRegistry(enabled=settings.nexudus_pacing, path=settings.store_path.parent / PACING_FILE),
            auth=settings.nexudus_auth,
        )

    def login(self, email: str, password: str, *, now: datetime, totp: str | None = None) -> Credentials:
        """The credentials to keep for a login: tokens (`bearer`, and `auto` where offered) or the password.

        Raises `TokenRefused` for a refused login or 2FA code, `NoTokenEndpoint` in bearer mode on a
        server without `/token`. The password is dropped as soon as tokens are in hand.
        """
        email = email.strip()
        if self.auth in ("bearer", "auto"):
            try:
                return exchange_password(
                    self._token_session, self.base_url, email, password, now=now, totp=totp, timeout=self.timeout
                )
            except NoTokenEndpoint:
                if self.auth == "bearer":
                    raise
                log.info("nexudus %s offers no /token: using HTTP Basic (NEXUDUS_AUTH=auto)", self.base_url)
        return Credentials(email, password)

    def refresh(self, credentials: Credentials, *, now: datetime) -> Credentials:
        """New tokens for a token login (`TokenRefused` when the refresh token no longer works)."""
        fresh = refresh_tokens(self._token_session, self.base_url, credentials, now=now, timeout=self.timeout)
        self.forget(credentials)
        return fresh

    def __call__(self, credentials: Credentials) -> NexudusClient:
        with self._lock:
            client = self._clients.get(credentials)
            if client is not None:
                self._clients.move_to_end(credentials)
                return client
            client = NexudusClient(
                self.base_url,
                credentials,
                codec=self.codec,
                timeout=self.timeout,
                retries=self.retries,
                backoff=self.backoff,
                max_retry_after=self.max_retry_after,
                pacer=self.pacers.for_account(credentials.email),
                dialects=self.dialects,
            )
            self._clients[credentials] = client
            while len(self._clients) > self.max_clients:
                _, old = self._clients.popitem(last=False)
                old.close()
            return client

    def forget(self, credentials: Credentials) -> None:
        with self._lock:
            client = self._clients.pop(credentials, None)
        if client is not None:
            client.close()
