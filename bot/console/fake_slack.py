"""A small in-process fake of the Slack Web API, for tests and the local console.

The app under test talks to it through a real ``slack_sdk.WebClient(base_url=fake.api_url)``, so the
whole HTTP path (encoding, error handling, retries) is exercised as in production. Every call is
recorded; messages and views are kept so that updates of unknown (or closed) ids fail as Slack's would,
and a transcript of what a person would see is kept for the console to render.

It is as strict as Slack: every message, view, response_url post and ack is checked by
``bot.slack.payload_check`` and refused with Slack's ``invalid_blocks`` / ``invalid_arguments``; a
response_url takes 5 messages within 30 minutes. ``stats`` (and ``TOTALS`` across the process) count
what was checked and keep what was refused.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bot.slack import limits, payload_check

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
TEAM_NAME = "Sandbox"
TEAM_URL = "https://sandbox.slack.com/"
APP_ID = "A0001"


# Arguments slack_sdk serialises to JSON strings when it sends form data.
_JSON_ARGS = frozenset(
    {"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks", "options", "option_groups"}
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    ``method`` is the Web API method (``"chat.postMessage"``) or ``"response_url"``; ``args`` are the
    decoded arguments (JSON-typed form fields parsed, ``token`` removed); ``target`` is the name given
    to :meth:`FakeSlack.response_url` for response_url calls; ``error`` is the Slack error answered,
    if any. The token is kept out of ``repr`` so it never lands in logs.
    """

    method: str
    args: Json
    at: float
    response: Json = field(default_factory=dict)
    error: str | None = None
    target: str | None = None
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Event:
    """One thing a person in Slack would see, in order: the console renders these.

    kinds: ``message``, ``ephemeral``, ``update``, ``delete``, ``modal_open``, ``modal_update``,
    ``modal_push``, ``home``, ``response``, ``refused``. Message kinds fill ``channel``/``ts``/``text``/
    ``blocks``; view kinds fill ``view`` (as stored, with ``id`` and ``hash``); ``response`` fills ``target``
    plus ``args`` (``replace_original``, ``delete_original``, ``response_type``...); ``refused`` (a payload
    Slack would refuse, so nobody sees it) fills ``target`` with the method and ``text`` with the error.
    """

    kind: str
    at: float
    channel: str | None = None
    ts: str | None = None
    user: str | None = None
    thread_ts: str | None = None
    text: str | None = None
    blocks: list[Json] | None = None
    view: Json | None = None
    target: str | None = None
    args: Json = field(default_factory=dict)


@dataclass(frozen=True)
class Workspace:
    """A workspace that installs the app through the OAuth flow (`FakeSlack.add_workspace`).

    ``code`` is what Slack's authorize page would hand the installer's browser for the redirect;
    ``oauth.v2.access`` trades it (once) for ``bot_token`` (and ``user_token`` when given), and
    ``auth.test`` answers for each token with this workspace's ids.
    """

    team_id: str
    team_name: str
    code: str
    bot_token: str = field(repr=False)
    installer_id: str = "U0001"
    user_token: str | None = field(default=None, repr=False)
    enterprise_id: str | None = None
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID


class SlackError(Exception):
    """Raised by handlers to answer ``{"ok": false, "error": ...}``; ``payload`` marks a refused payload
    (the app built something Slack does not take), as opposed to a refusal of state (a closed view)."""

    def __init__(
        self, error: str, status: int = 200, messages: list[str] | None = None, *, payload: bool = False
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.messages = messages or []
        self.payload = payload


@dataclass(frozen=True)
class Refusal:
    """A payload the fake refused, with Slack's error and the problems found."""

    method: str
    error: str
    messages: tuple[str, ...]


@dataclass
class PayloadStats:
    """How many payloads were validated (by method) and which were refused."""

    validated: Counter[str] = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.validated.values())


# Every fake in this process adds to these: the test suite reports them at the end.
TOTALS = PayloadStats()
_TOTALS_LOCK = threading.Lock()
PAYLOAD_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "response_url",
        "ack",
    }
)


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None


class _Server(ThreadingHTTPServer):
    """Slack takes every connection of a burst: a listen backlog of 5 (socketserver's default) would reset some
    of 200 lazy replies sent at once, a failure Slack never shows."""

    request_queue_size = 256
    daemon_threads = True


class FakeSlack:
    """Fake Slack Web API on ``127.0.0.1:<free port>``, served from a background thread.

    Any non-empty token is accepted, until a workspace is added (`add_workspace`): from then on only the
    added workspaces' tokens are (others get ``invalid_auth``, revoked ones ``token_revoked``).
    ``users`` and ``channels`` map ids to fields merged into the
    ``users.info`` / ``conversations.info`` answers, for tests that need particular names or zones.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.scopes: tuple[str, ...] = ("commands", "chat:write")
        """The bot token's scopes, answered in `x-oauth-scopes` (the manifest's)."""
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._events: list[Event] = []
        self._messages: dict[tuple[str, str], Json] = {}
        self._views: dict[str, Json] = {}
        self._home_views: dict[str, str] = {}
        self._response_targets: dict[str, str] = {}
        self._response_born: dict[str, float] = {}
        self._response_uses: Counter[str] = Counter()
        self.stats = PayloadStats()
        self.clock: Callable[[], float] = time.time  # response_url expiry; tests may move it
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._ts = itertools.count(1700000000_000100, 100)
        self._ids = itertools.count(1)
        self.users: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.oauth_client: tuple[str, str] | None = None
        """(client_id, client_secret) that `oauth.v2.access` accepts (set by `add_workspace`'s caller)."""
        self._codes: dict[str, Workspace] = {}
        self._by_token: dict[str, Workspace] = {}
        self._revoked: set[str] = set()
        self._caller = threading.local()  # the workspace of the token of the call being answered
        self._handlers: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update_message,
            "chat.delete": self._delete_message,
            "chat.getPermalink": self._permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind and serve; returns once the socket is listening."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        host_str = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_str}:{port}"

    @property
    def api_url(self) -> str:
        """What to pass as ``WebClient(base_url=...)``: slack_sdk appends the method name."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "response") -> str:
        """A fresh response_url on this server; calls to it are recorded with ``target=name``."""
        token = f"{next(self._ids)}-{quote(name, safe='')}"
        with self._lock:
            self._response_targets[token] = name
            # Its 30 minutes start when Slack hands it out; keyed as the request path reads, unquoted.
            self._response_born[unquote(token)] = self.clock()
        return f"{self.base_url}/response/{token}"

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str | None = None) -> Call | None:
        found = self.calls(method)
        return found[-1] if found else None

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` were recorded (listeners often run on threads)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self._calls]
                    raise TimeoutError(
                        f"waited {timeout}s for {count} {method} call(s), got {len(found)}; recorded: {seen}"
                    )
                self._changed.wait(remaining)

    def events(self, since: int = 0) -> list[Event]:
        """The transcript from index ``since`` on (the console keeps its own cursor)."""
        with self._lock:
            return list(self._events[since:])

    def message(self, channel: str, ts: str) -> Json | None:
        with self._lock:
            found = self._messages.get((channel, ts))
            return copy.deepcopy(found) if found is not None else None

    def view(self, view_id: str) -> Json | None:
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found is not None else None

    def close_view(self, view_id: str) -> bool:
        """The person closes a modal (Cancel, ×, Esc, or a click outside): Slack forgets the view, so a
        later ``views.update`` of it answers ``not_found``. False when no such view was open."""
        with self._lock:
            return self._views.pop(view_id, None) is not None

    def clear(self) -> None:
        """Forget calls, transcript, stored messages/views and pending failures."""
        with self._lock:
            self._calls.clear()
            self._events.clear()
            self._messages.clear()
            self._views.clear()
            self._home_views.clear()
            self._failures.clear()

    def fail_next(
        self, method: str, error: str = "ratelimited", status: int | None = None, retry_after: int = 1
    ) -> None:
        """Make the next call to ``method`` fail like Slack would.

        ``status`` defaults to 429 (with ``Retry-After``) for ``ratelimited`` and 200 otherwise, since
        Slack reports ordinary errors as ``200 {"ok": false}``. Queue several to fail several calls.
        """
        code = status if status is not None else (429 if error == "ratelimited" else 200)
        with self._lock:
            self._failures[method].append(_Failure(error, code, retry_after if code == 429 else None))

    # ------------------------------------------------------------------ request handling

    def add_workspace(self, workspace: Workspace) -> Workspace:
        """Let `workspace` install the app: its code answers `oauth.v2.access` once, its tokens `auth.test`."""
        with self._lock:
            self._codes[workspace.code] = workspace
            for token in (workspace.bot_token, workspace.user_token):
                if token:
                    self._by_token[token] = workspace
                    self._revoked.discard(token)
        return workspace

    def revoke(self, workspace: Workspace) -> None:
        """The workspace uninstalled the app: its tokens are refused from now on (`token_revoked`)."""
        with self._lock:
            self._revoked.update(t for t in (workspace.bot_token, workspace.user_token) if t)

    def workspace_of(self, token: str | None) -> Workspace | None:
        """The installed workspace a token belongs to (None: the single-workspace token, or unknown)."""
        with self._lock:
            return self._by_token.get(token or "")

    def _handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Json]:
        """Route one request; returns (status, extra headers, JSON answer)."""
        url = urlsplit(path)
        args = _decode_body(headers.get("Content-Type", ""), body)
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            args.setdefault(key, _maybe_json(key, value))
        if url.path.startswith("/api/"):
            method = unquote(url.path[len("/api/") :]).strip("/")
            return self._api_call(method, headers, args)
        if url.path.startswith("/response/"):
            token = unquote(url.path[len("/response/") :])
            return self._response_call(token, args)
        return 404, {}, {"ok": False, "error": "unknown_path"}

    def _api_call(self, method: str, headers: Any, args: Json) -> tuple[int, dict[str, str], Json]:
        token = _bearer(headers.get("Authorization", "")) or args.pop("token", None)
        args.pop("token", None)
        now = time.time()
        status, extra = 200, {}
        try:
            failure = self._pop_failure(method)
            if failure is not None:
                if failure.retry_after is not None:
                    extra["Retry-After"] = str(failure.retry_after)
                raise SlackError(failure.error, failure.status)
            if method == "oauth.v2.access":
                answer = self._oauth_access(headers.get("Authorization", ""), args)
                token = None
            elif not token:
                raise SlackError("not_authed")
            elif token in self._revoked:
                raise SlackError("token_revoked")
            elif self._by_token and self.workspace_of(token) is None:
                raise SlackError("invalid_auth")  # workspaces installed through OAuth: only their tokens work
            elif method == "auth.test":
                answer = self._auth_test_for(token)
            else:
                self._caller.workspace = self.workspace_of(token)
                handler = self._handlers.get(method)
                answer = handler(args) if handler else {"ok": True}
            error = None
            extra["x-oauth-scopes"] = ",".join(self.scopes)  # as Slack sends on every call with a token
        except SlackError as exc:
            status = exc.status
            error = exc.error
            answer = {"ok": False, "error": exc.error}
            if exc.messages:
                answer["response_metadata"] = {"messages": exc.messages}
            if exc.payload:
                self._count(method, Refusal(method, exc.error, tuple(exc.messages)))
        else:
            if method in PAYLOAD_METHODS:
                self._count(method)
        self._record(Call(method, args, now, answer, error, None, token))
        return status, extra, answer

    def _count(self, method: str, refusal: Refusal | None = None) -> None:
        with _TOTALS_LOCK:
            for stats in (self.stats, TOTALS):
                stats.validated[method] += 1
                if refusal is not None:
                    stats.refused.append(refusal)
        if refusal is not None and method != "ack":  # a refused ack is the driver's to show
            detail = f"{refusal.error}: {'; '.join(refusal.messages)}"
            self._emit(Event("refused", time.time(), target=method, text=detail[:500]))

    def check_ack(self, body: Any, submitted_view: Json | None = None) -> Refusal | None:
        """Check what the app answered in an ack (a message, or a view for ``response_action``) as Slack
        would before showing it; a refusal is counted and recorded as an ``ack`` call."""
        if not isinstance(body, dict) or not (body.keys() & {"text", "blocks", "response_action"}):
            return None
        problems = payload_check.ack_problems(body, submitted_view)
        refusal = None
        if problems:
            error = "invalid_arguments" if body.get("response_action") else "invalid_blocks"
            refusal = Refusal("ack", error, tuple(str(p) for p in problems))
        self._count("ack", refusal)
        answer: Json = {"ok": refusal is None}
        if refusal is not None:
            answer.update(error=refusal.error, response_metadata={"messages": list(refusal.messages)})
        self._record(Call("ack", body, time.time(), answer, refusal.error if refusal else None))
        return refusal

    def _response_call(self, token: str, args: Json) -> tuple[int, dict[str, str], Json]:
        now = time.time()
        answer: Json = {"ok": True}
        error = None
        with self._lock:
            name = self._response_targets.get(token, token)
            born = self._response_born.get(token, self.clock())
            if self.clock() - born > limits.RESPONSE_URL_LIFETIME_SECONDS:
                error = "expired_url"
            elif self._response_uses[token] >= limits.MAX_RESPONSE_URL_USES:
                error = "used_url"
            else:
                self._response_uses[token] += 1
        if error is not None:
            answer = {"ok": False, "error": error}
            self._record(Call("response_url", args, now, answer, error, name))
            return 404, {}, answer
        try:
            _check_message(args)
            self._count("response_url")
        except SlackError as exc:
            error, answer = (
                exc.error,
                {"ok": False, "error": exc.error, "response_metadata": {"messages": exc.messages}},
            )
            self._count("response_url", Refusal("response_url", exc.error, tuple(exc.messages)))
        event = None
        if error is None:
            blocks = args.get("blocks")
            filled = self._with_block_ids(blocks) if isinstance(blocks, list) else None
            event = Event("response", now, text=args.get("text"), blocks=filled, target=name, args=args)
        self._record(Call("response_url", args, now, answer, error, name), event)
        return (400 if error else 200), {}, answer

    def _pop_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            return queue.popleft() if queue else None

    def _record(self, call: Call, event: Event | None = None) -> None:
        with self._changed:
            self._calls.append(call)
            if event is not None:
                self._events.append(event)
            self._changed.notify_all()

    def _emit(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def _next_ts(self) -> str:
        micro = next(self._ts)
        return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"

    # ------------------------------------------------------------------ methods

    def _auth_test(self, args: Json) -> Json:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": "chatrooms-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _team(self) -> str:
        """The team of the call being answered: the installed workspace of its token, else the one workspace."""
        workspace = getattr(self._caller, "workspace", None)
        return workspace.team_id if workspace is not None else TEAM_ID

    def _auth_test_for(self, token: str) -> Json:
        workspace = self.workspace_of(token)
        if workspace is None:
            return self._auth_test({})
        user = workspace.installer_id if token == workspace.user_token else workspace.bot_user_id
        answer: Json = {
            "ok": True,
            "url": f"https://{workspace.team_name.lower()}.slack.com/",
            "team": workspace.team_name,
            "user": "chatrooms-bot" if user == workspace.bot_user_id else "installer",
            "team_id": workspace.team_id,
            "user_id": user,
            "is_enterprise_install": False,
        }
        if user == workspace.bot_user_id:
            answer["bot_id"] = workspace.bot_id
        if workspace.enterprise_id:
            answer["enterprise_id"] = workspace.enterprise_id
        return answer

    def _oauth_access(self, authorization: str, args: Json) -> Json:
        """Trade an install's code for tokens, as Slack does: client credentials checked, each code used once."""
        scheme, _, value = authorization.partition(" ")
        client = (str(args.get("client_id") or ""), str(args.get("client_secret") or ""))
        if scheme.lower() == "basic":
            decoded = base64.b64decode(value.strip()).decode("utf-8", "replace")
            client_id, _, secret = decoded.partition(":")
            client = (client_id, secret)
        if self.oauth_client is None or client[0] != self.oauth_client[0]:
            raise SlackError("invalid_client_id")
        if client[1] != self.oauth_client[1]:
            raise SlackError("bad_client_secret")
        with self._lock:
            workspace = self._codes.pop(str(args.get("code") or ""), None)
        if workspace is None:
            raise SlackError("invalid_code")
        installer: Json = {"id": workspace.installer_id}
        if workspace.user_token:
            installer.update(scope="", access_token=workspace.user_token, token_type="user")
        return {
            "ok": True,
            "access_token": workspace.bot_token,
            "token_type": "bot",
            "scope": ",".join(self.scopes),
            "bot_user_id": workspace.bot_user_id,
            "app_id": APP_ID,
            "team": {"id": workspace.team_id, "name": workspace.team_name},
            "enterprise": {"id": workspace.enterprise_id, "name": "Org"} if workspace.enterprise_id else None,
            "is_enterprise_install": False,
            "authed_user": installer,
        }

    def _post_message(self, args: Json) -> Json:
        channel = _require_channel(args)
        blocks = _check_message(args)
        if not args.get("text") and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        ts = self._next_ts()
        message = self._message_body(args, ts)
        with self._lock:
            self._messages[(channel, ts)] = message
        self._emit(
            Event(
                "message",
                time.time(),
                channel=channel,
                ts=ts,
                thread_ts=args.get("thread_ts"),
                text=args.get("text"),
                blocks=copy.deepcopy(message.get("blocks")),
                args=args,
            )
        )
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _post_ephemeral(self, args: Json) -> Json:
        channel = _require_channel(args)
        user = args.get("user")
        if not user:
            raise SlackError("user_not_in_channel")
        blocks = _check_message(args)
        if not args.get("text") and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        ts = self._next_ts()
        self._emit(
            Event(
                "ephemeral",
                time.time(),
                channel=channel,
                ts=ts,
                user=str(user),
                thread_ts=args.get("thread_ts"),
                text=args.get("text"),
                blocks=self._with_block_ids(blocks) if blocks else blocks,
                args=args,
            )
        )
        return {"ok": True, "message_ts": ts}

    def _update_message(self, args: Json) -> Json:
        channel = _require_channel(args)
        ts = str(args.get("ts") or "")
        _check_message(args)
        with self._lock:
            message = self._messages.get((channel, ts))
            if message is None:
                raise SlackError("message_not_found")
            for key in ("text", "attachments", "metadata"):
                if key in args:
                    message[key] = copy.deepcopy(args[key])
            if "blocks" in args:
                message["blocks"] = self._with_block_ids(args["blocks"])
            message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
            snapshot = copy.deepcopy(message)
        self._emit(
            Event(
                "update",
                time.time(),
                channel=channel,
                ts=ts,
                text=snapshot.get("text"),
                blocks=snapshot.get("blocks"),
                args=args,
            )
        )
        return {"ok": True, "channel": channel, "ts": ts, "text": snapshot.get("text", ""), "message": snapshot}

    def _delete_message(self, args: Json) -> Json:
        channel = _require_channel(args)
        ts = str(args.get("ts") or "")
        with self._lock:
            if self._messages.pop((channel, ts), None) is None:
                raise SlackError("message_not_found")
        self._emit(Event("delete", time.time(), channel=channel, ts=ts, args=args))
        return {"ok": True, "channel": channel, "ts": ts}

    def _permalink(self, args: Json) -> Json:
        channel = _require_channel(args)
        ts = str(args.get("message_ts") or "")
        with self._lock:
            if (channel, ts) not in self._messages:
                raise SlackError("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{TEAM_URL}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _views_open(self, args: Json) -> Json:
        return self._open_view(args, "modal_open")

    def _views_push(self, args: Json) -> Json:
        return self._open_view(args, "modal_push")

    def _open_view(self, args: Json, kind: str) -> Json:
        if not args.get("trigger_id") and not args.get("interactivity_pointer"):
            raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: trigger_id"])
        view = _check_view(args.get("view"), modal=True)
        stored = self._store_view(view, None)
        self._emit(Event(kind, time.time(), view=copy.deepcopy(stored), args=args))
        return {"ok": True, "view": stored}

    def _views_update(self, args: Json) -> Json:
        view = _check_view(args.get("view"), modal=None)
        with self._lock:
            view_id = args.get("view_id") or self._id_by_external(args.get("external_id"))
            current = self._views.get(str(view_id)) if view_id else None
            if current is None:
                raise SlackError("not_found")
            if args.get("hash") and args["hash"] != current["hash"]:
                raise SlackError("hash_conflict")
        stored = self._store_view(view, current)
        kind = "home" if stored.get("type") == "home" else "modal_update"
        self._emit(Event(kind, time.time(), view=copy.deepcopy(stored), args=args))
        return {"ok": True, "view": stored}

    def _views_publish(self, args: Json) -> Json:
        user_id = args.get("user_id")
        if not user_id:
            raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: user_id"])
        view = _check_view(args.get("view"), modal=False)
        with self._lock:
            existing_id = self._home_views.get(str(user_id))
            current = self._views.get(existing_id) if existing_id else None
            if current is not None and args.get("hash") and args["hash"] != current["hash"]:
                raise SlackError("hash_conflict")
        stored = self._store_view(view, current)
        with self._lock:
            self._home_views[str(user_id)] = stored["id"]
        self._emit(Event("home", time.time(), user=str(user_id), view=copy.deepcopy(stored), args=args))
        return {"ok": True, "view": stored}

    def _id_by_external(self, external_id: Any) -> str | None:
        if not external_id:
            return None
        for view_id, view in self._views.items():
            if view.get("external_id") == external_id:
                return view_id
        return None

    def _store_view(self, view: Json, current: Json | None) -> Json:
        """Store a view as Slack returns it: an id, a fresh hash and an empty state."""
        n = next(self._ids)
        view_id = current["id"] if current is not None else f"V{n:010d}"
        stored: Json = {
            "id": view_id,
            "team_id": self._team(),
            "type": view.get("type", "modal"),
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": current.get("root_view_id", view_id) if current is not None else view_id,
            "app_id": APP_ID,
            "app_installed_team_id": self._team(),
            "bot_id": BOT_ID,
        }
        if current is not None:
            stored["external_id"] = current.get("external_id", "")
        stored.update(copy.deepcopy(view))
        stored["blocks"] = self._with_block_ids(view.get("blocks") or [])
        stored["id"] = view_id
        stored["hash"] = f"{int(time.time())}.h{n:07d}"
        stored["state"] = {"values": {}}
        with self._lock:
            self._views[view_id] = stored
            return copy.deepcopy(stored)

    def _message_body(self, args: Json, ts: str) -> Json:
        message: Json = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self._team(),
            "ts": ts,
            "text": args.get("text", ""),
        }
        for key in ("attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = copy.deepcopy(args[key])
        if args.get("blocks") is not None:
            message["blocks"] = self._with_block_ids(args["blocks"])
        return message

    def _with_block_ids(self, blocks: list[Json]) -> list[Json]:
        """Slack gives every block without a block_id a random one; actions then carry it."""
        filled = copy.deepcopy(blocks)
        for block in filled:
            if isinstance(block, dict) and not block.get("block_id"):
                block["block_id"] = f"b{next(self._ids):05d}"
        return filled

    def _conversations_history(self, args: Json) -> Json:
        """Newest first, paged by an opaque cursor; `metadata` only with `include_all_metadata`, as Slack does."""
        channel = _require_channel(args)
        try:
            limit = max(1, min(int(args.get("limit") or 100), 999))
            start = int(args.get("cursor") or 0)
        except (TypeError, ValueError):
            raise SlackError("invalid_cursor") from None
        oldest = float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._lock:
            found = [copy.deepcopy(m) for (c, ts), m in self._messages.items() if c == channel and float(ts) >= oldest]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        page = found[start : start + limit]
        if not with_metadata:
            for message in page:
                message.pop("metadata", None)
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_info(self, args: Json) -> Json:
        channel = _require_channel(args)
        info: Json = {
            "id": channel,
            "name": f"channel-{channel.lower()}",
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": channel.startswith("D"),
            "is_private": not channel.startswith("C"),
            "is_archived": False,
            "is_member": True,
            "created": 1700000000,
            "creator": "U0000000001",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        info.update(self.channels.get(channel, {}))
        return {"ok": True, "channel": info}

    def _users_info(self, args: Json) -> Json:
        user_id = str(args.get("user") or "")
        if not user_id:
            raise SlackError("user_not_found")
        name = user_id.lower()
        info: Json = {
            "id": user_id,
            "team_id": self._team(),
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == BOT_USER_ID,
            "is_admin": False,
            "tz": "Europe/London",
            "tz_label": "British Summer Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": f"User {user_id}",
                "display_name": name,
                "email": f"{name}@example.com",
            },
        }
        info.update(self.users.get(user_id, {}))
        return {"ok": True, "user": info}


# ---------------------------------------------------------------------- validation helpers


def _require_channel(args: Json) -> str:
    channel = args.get("channel")
    if not channel:
        raise SlackError("channel_not_found")
    return str(channel)


def _check_message(args: Json) -> list[Json] | None:
    """A message body as Slack checks it: ``invalid_blocks`` for its blocks, ``invalid_arguments`` for its text."""
    blocks = args.get("blocks")
    problems = payload_check.message_problems(args)
    if problems:
        error = "invalid_blocks" if any(p.pointer.startswith("/blocks") for p in problems) else "invalid_arguments"
        raise SlackError(error, messages=[str(p) for p in problems], payload=True)
    return blocks if isinstance(blocks, list) else None


def _check_view(view: Any, modal: bool | None) -> Json:
    """A view as Slack checks it; ``modal`` None means either kind (views.update)."""
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: view"], payload=True)
    kind = view.get("type")
    if (modal is True and kind != "modal") or (modal is False and kind != "home"):
        raise SlackError("invalid_arguments", messages=[f"[ERROR] invalid view type: {kind}"], payload=True)
    problems = payload_check.view_problems(view)
    if problems:
        raise SlackError("invalid_arguments", messages=[str(p) for p in problems], payload=True)
    return view


# ---------------------------------------------------------------------- HTTP plumbing


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _maybe_json(key: str, value: str) -> Any:
    """slack_sdk sends JSON-typed args as JSON strings in form bodies; record them as objects."""
    if key in _JSON_ARGS and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _decode_body(content_type: str, body: bytes) -> Json:
    mime = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if mime == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        return {k: _maybe_json(k, v) if isinstance(v, str) else v for k, v in decoded.items()}
    if mime == "multipart/form-data":
        return _decode_multipart(content_type, body)
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return {k: _maybe_json(k, v) for k, v in pairs}


def _decode_multipart(content_type: str, body: bytes) -> Json:
    """Parse file-upload bodies; file parts are recorded as bytes."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    args: Json = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename():
            args[name] = data
        else:
            args[name] = _maybe_json(name, data.decode("utf-8"))
    return args


def _make_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeSlack/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(self.rfile.read(length) if length else b"")

        def do_GET(self) -> None:
            self._answer(b"")

        def _answer(self, body: bytes) -> None:
            try:
                status, extra, answer = fake._handle(self.path, self.headers, body)
            except ValueError as exc:  # undecodable body
                status, extra, answer = 400, {}, {"ok": False, "error": "invalid_form_data", "detail": str(exc)}
            except Exception as exc:  # a fake bug must surface as an API error, not a hung client
                status, extra, answer = 500, {}, {"ok": False, "error": "fatal_error", "detail": repr(exc)}
            data = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence per-request logging: the test output should stay readable."""

    return Handler
