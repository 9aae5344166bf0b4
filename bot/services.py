"""Use cases shared by every Slack listener and by the alert worker.

This is where "never lose data" lives (edits go through the adapter's read → merge → check → PUT),
where a user's own credentials are picked (and their tokens refreshed before they expire), and where
Nexudus' ambiguous 401 is resolved into either "your account lacks role X" or "your login no longer works".
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.audit import Actor, Audit, changed, created, deleted, ids_of, parameters
from bot.locks import Locks, LockTimeout, ThreadLocks
from bot.nexudus.auth import NoTokenEndpoint, TokenRefused, needs_refresh
from bot.nexudus.client import ChatRoomChanges, ClientFactory, NewChatRoom, NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, NotAuthorised
from bot.nexudus.models import ActionResult, ChatRoom, Command, CommandParameter, Page
from bot.nexudus.query import ChatRoomFilters, Direction
from bot.nexudus.timecodec import TimeCodec
from bot.store import Store

if TYPE_CHECKING:
    from bot.inflight import Tracker

log = logging.getLogger(__name__)

T = TypeVar("T")

Clock = Callable[[], datetime]

COMMAND_CACHE_TTL = timedelta(minutes=5)
CREATE_ROLE, EDIT_ROLE, DELETE_ROLE = "ChatRoom-Create", "ChatRoom-Edit", "ChatRoom-Delete"
"""Edit also covers running commands and "Mark visited" (Nexudus asks for ChatRoom-Edit on runcommand)."""
ROLE_MEMORY = timedelta(hours=1)
"""How long a role Nexudus refused a user is remembered (buttons needing it hidden); a new login forgets it."""


class NotLoggedIn(Exception):
    """The Slack user has no stored Nexudus login (or one that can no longer be read: say which)."""

    def __init__(self, unreadable: bool = False) -> None:
        self.unreadable = unreadable
        super().__init__("saved login unreadable" if unreadable else "no saved login")


class MissingRole(NexudusError):
    """The login works, but the account lacks the role this operation needs.

    `remembered`: Nexudus refused it recently, so the app did not ask again (see `Services.refused_roles`).
    """

    def __init__(self, role: str, operation: str, *, remembered: bool = False) -> None:
        self.role = role
        self.operation = operation
        self.remembered = remembered
        super().__init__(f"lacks role {role} to {operation}{' (remembered)' if remembered else ''}")


class CredentialsRejected(NexudusError):
    """Nexudus no longer accepts the stored login (password changed, account disabled)."""

    def __init__(self, possible_role: str | None = None) -> None:
        self.possible_role = possible_role
        super().__init__(f"saved login refused{f' (or lacks role {possible_role})' if possible_role else ''}")


class InvalidLogin(NexudusError):
    """The e-mail and password (or the 2FA code) typed into the login modal were refused.

    `reason` is `refused` (e-mail and password, or no ChatRoom-List role), `code` (the 2FA code: `detail`
    holds Nexudus' own words) or `no_token_endpoint`; `field` is the form field the words belong under
    (`code`, or None for the whole form). `bot/slack/errors.py:describe` words it.
    """

    def __init__(self, reason: str = "refused", detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        self.field = "code" if reason == "code" else None
        super().__init__(reason)


class LoginExpired(CredentialsRejected):
    """A token login could not be refreshed (unused for about two weeks, or revoked): log in again."""

    def __init__(self) -> None:
        super().__init__()


class ChatroomBusy(NexudusError):
    """Another edit of the same chatroom (from any of our processes) held it for too long; nothing was sent."""

    def __init__(self, chatroom_id: int) -> None:
        self.chatroom_id = chatroom_id
        super().__init__(f"chatroom {chatroom_id} locked")


@dataclass(frozen=True)
class Saved:
    """A write Nexudus accepted — reported as done whatever happens after it.

    `room` is the record read back after the write or, when that best-effort read failed, the record as
    sent (`confirmed` False). `differs` names the fields the read-back shows with other values than were
    written: someone else changed them in between, or Nexudus adjusted them.
    """

    room: ChatRoom
    confirmed: bool = True
    differs: tuple[str, ...] = ()


class UnknownCommand(NexudusError):
    def __init__(self, key: str, suggestion: str | None = None) -> None:
        self.key = key
        self.suggestion = suggestion
        super().__init__(f"no command {key!r}")


def closest_key(typed: str, keys: Sequence[str]) -> str | None:
    """The command key a typo most likely meant (`mark-visted` → `MARK_VISITED`), or None."""

    def fold(key: str) -> str:
        return key.lower().replace("-", "_").replace(".", "_").replace(" ", "_")

    folded = {fold(k): k for k in keys}
    match = difflib.get_close_matches(fold(typed)[:100], list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


class SubscriptionGone(Exception):
    """A button or command names an alert subscription that no longer exists (or is another team's)."""

    def __init__(self, action: str = "act on") -> None:
        self.action = action
        super().__init__(f"subscription gone ({action})")


class DigestGone(Exception):
    """A digest's button names a message the app no longer keeps (its subscription was re-created)."""

    def __init__(self) -> None:
        super().__init__("digest gone")


class Services:
    """Entry point: who is logged in, and a `UserSession` for a Slack user."""

    def __init__(self, store: Store, clients: ClientFactory, clock: Clock, locks: Locks | None = None) -> None:
        self.store = store
        self.clients = clients
        self.clock = clock
        # Serialises each chatroom's read → check → PUT; FileLocks (wiring) spans the processes of a machine.
        self.locks: Locks = locks or ThreadLocks()
        self._commands: dict[str, tuple[datetime, list[Command]]] = {}
        self._refused: dict[tuple[str, str], dict[str, datetime]] = {}
        self._lock = threading.Lock()
        self._refreshing: dict[tuple[str, str], threading.Lock] = {}
        self._kept_password: set[tuple[str, str]] = set()
        """Logins whose saved password could not be traded for tokens: not tried again in this process."""
        self.audit = Audit(store, clock)
        """The audit trail: every change below (and in digests, subscriptions) is recorded there."""

    def login(
        self,
        team_id: str,
        user_id: str,
        email: str,
        password: str,
        code: str | None = None,
        *,
        enterprise_id: str | None = None,
    ) -> str:
        """Exchange the login for tokens (or keep the password in basic mode), check it can list chatrooms,
        then store it (encrypted). Returns the e-mail. The password is not kept in bearer mode; the audit
        entry holds the e-mail only."""
        try:
            credentials = self.clients.login(email, password, now=self.clock(), totp=code or None)
        except TokenRefused as exc:
            if exc.needs_code:
                raise InvalidLogin("code", str(exc)) from None
            raise InvalidLogin() from None
        except NoTokenEndpoint:
            raise InvalidLogin("no_token_endpoint") from None
        if not self.clients(credentials).probe():
            raise InvalidLogin()
        self.store.save_credentials(team_id, user_id, credentials, self.clock())
        self.forget_commands(credentials.email)
        with self._lock:
            self._refused.pop((team_id, user_id), None)  # a new login: roles are asked again
        self.audit.record(Actor(team_id, user_id, enterprise_id), "login", email=credentials.email)
        return credentials.email

    def logout(self, team_id: str, user_id: str, *, enterprise_id: str | None = None) -> bool:
        email = self.store.whoami(team_id, user_id)
        removed = self.store.delete_credentials(team_id, user_id)
        if removed:
            self.audit.record(Actor(team_id, user_id, enterprise_id), "logout", email=email)
        return removed

    def whoami(self, team_id: str, user_id: str) -> str | None:
        return self.store.whoami(team_id, user_id)

    def _trade_password(self, team_id: str, user_id: str, credentials: Credentials) -> Credentials:
        """A password saved before token logins (or in basic mode) is traded for tokens on first use, and
        the store then holds no password. Where that cannot work (no /api/token, 2FA), it is kept as it was."""
        try:
            traded = self.clients.login(credentials.email, credentials.password, now=self.clock())
        except NexudusError:
            traded = credentials
        if not traded.bearer:
            with self._lock:
                self._kept_password.add((team_id, user_id))
            return credentials
        if self.store.load_credentials(team_id, user_id) != credentials:
            return self.credentials(team_id, user_id)  # logged in again (or out) meanwhile: that wins
        self.store.save_credentials(team_id, user_id, traded, self.clock())
        log.info("team %s user %s: saved password traded for tokens", team_id, user_id)
        return traded

    def login_scheme(self, team_id: str, user_id: str) -> str | None:
        """`Bearer` (tokens) or `Basic` (the password) for the saved login; None without a readable one."""
        saved = self.store.load_credentials(team_id, user_id)
        return saved.scheme if saved is not None else None

    def session(
        self, team_id: str, user_id: str, *, enterprise_id: str | None = None, tracker: Tracker | None = None
    ) -> UserSession:
        """Nexudus as this Slack user sees it; what they change through it is recorded in the audit trail, and
        journalled with `tracker` while it is in flight (bot/inflight.py)."""
        credentials = self.credentials(team_id, user_id)
        return UserSession(
            self,
            self.clients(credentials),
            credentials,
            owner=(team_id, user_id),
            actor=Actor(team_id, user_id, enterprise_id),
            tracker=tracker,
        )

    def credentials(self, team_id: str, user_id: str) -> Credentials:
        """The user's stored login, its tokens refreshed first when they expire within a day.

        Raises `NotLoggedIn`, or `LoginExpired` when a refresh is refused (the caller pauses and asks
        the person to log in again). A refresh that cannot reach Nexudus keeps the token while it lasts.
        """
        credentials = self.store.load_credentials(team_id, user_id)
        if credentials is None:
            raise NotLoggedIn(unreadable=self.store.has_credentials(team_id, user_id))
        if not credentials.bearer and self.clients.auth != "basic" and (team_id, user_id) not in self._kept_password:
            return self._trade_password(team_id, user_id, credentials)
        if not needs_refresh(credentials, self.clock()):
            return credentials
        with self._lock:
            lock = self._refreshing.setdefault((team_id, user_id), threading.Lock())
        with lock:  # one refresh per login at a time: a refresh token works once
            current = self.store.load_credentials(team_id, user_id)
            if current is None:
                raise NotLoggedIn()
            now = self.clock()
            if not needs_refresh(current, now):
                return current  # another thread refreshed it meanwhile
            try:
                fresh = self.clients.refresh(current, now=now)
            except TokenRefused:
                latest = self.store.load_credentials(team_id, user_id)
                if latest is not None and latest != current and not needs_refresh(latest, now):
                    return latest  # another process (the web app or the alert worker) refreshed it first
                log.info("token refresh refused for team %s user %s: asking them to log in again", team_id, user_id)
                raise LoginExpired() from None
            except NexudusError:
                if current.expires_at is not None and now < current.expires_at:
                    return current  # Nexudus is unreachable; the token still works for a while
                raise
            self.store.save_credentials(team_id, user_id, fresh, now)
            return fresh

    # Roles Nexudus refused a Slack user, so what needs them is hidden instead of failing after a form.
    def note_refused(self, team_id: str, user_id: str, role: str) -> None:
        with self._lock:
            self._refused.setdefault((team_id, user_id), {})[role] = self.clock()

    def refused_roles(self, team_id: str, user_id: str) -> frozenset[str]:
        """Roles Nexudus refused this user within `ROLE_MEMORY` (and since their last login)."""
        horizon = self.clock() - ROLE_MEMORY
        with self._lock:
            seen = self._refused.get((team_id, user_id), {})
            return frozenset(role for role, when in seen.items() if when > horizon)

    # Command metadata rarely changes: cache it briefly per account.
    def cached_commands(self, email: str) -> list[Command] | None:
        with self._lock:
            entry = self._commands.get(email.lower())
        if entry and entry[0] > self.clock():
            return entry[1]
        return None

    def remember_commands(self, email: str, commands: list[Command]) -> None:
        with self._lock:
            self._commands[email.lower()] = (self.clock() + COMMAND_CACHE_TTL, commands)

    def forget_commands(self, email: str) -> None:
        with self._lock:
            self._commands.pop(email.lower(), None)


class UserSession:
    """Nexudus as one Slack user sees it: their credentials, their roles."""

    def __init__(
        self,
        services: Services,
        client: NexudusClient,
        credentials: Credentials,
        *,
        owner: tuple[str, str] | None = None,
        actor: Actor | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.services = services
        self.tracker = tracker
        """Journals each write before it is sent, so a process dying mid-write leaves its user an outcome."""
        self.client = client
        self.email = credentials.email
        self.owner = owner
        """(team, user) of the Slack user acting, when there is one: roles refused to them are remembered."""
        self.actor = actor
        """Who the audit trail names for the changes made through this session (None: not recorded, e.g. the
        alert worker's scans, which change nothing)."""

    def require(self, role: str, operation: str) -> None:
        """Refuse at once, before any form, what needs a role Nexudus refused this user a moment ago."""
        if self.owner is not None and role in self.services.refused_roles(*self.owner):
            raise MissingRole(role, operation, remembered=True)

    def _call(self, action: Callable[[NexudusClient], T]) -> T:
        """Run `action`; turn Nexudus' ambiguous 401 into MissingRole or CredentialsRejected."""
        try:
            return action(self.client)
        except NotAuthorised as exc:
            # The probe is itself a list call: when List is the role refused, both causes stay possible.
            if exc.role != "ChatRoom-List" and self.client.probe():
                if self.owner is not None:
                    self.services.note_refused(*self.owner, exc.role)
                raise MissingRole(exc.role, exc.operation) from None
            raise CredentialsRejected(exc.role if exc.role == "ChatRoom-List" else None) from None

    def find(
        self,
        filters: ChatRoomFilters,
        *,
        page: int = 1,
        size: int = 10,
        order_by: str = "Id",
        direction: Direction = Direction.ASCENDING,
    ) -> Page:
        return self._call(lambda c: c.find(filters, page=page, size=size, order_by=order_by, direction=direction))

    def show(self, ids: Sequence[int]) -> list[ChatRoom]:
        return self._call(lambda c: c.find_by_ids(ids))

    def cards(self, ids: Sequence[int], *, full_up_to: int = 5) -> list[ChatRoom]:
        """Chatrooms to show as cards: a few are read one by one, because only that read carries members."""
        rooms = self.show(ids)
        if len(rooms) > full_up_to:
            return rooms
        return [self.get(room.id) for room in rooms]

    def get(self, chatroom_id: int) -> ChatRoom:
        return self._call(lambda c: c.get(chatroom_id))

    def create(self, draft: NewChatRoom) -> Saved:
        """Create; the read-back is best effort: once Nexudus accepted the POST, it is reported as created."""
        audit = self.services.audit
        if self.tracker is not None:
            fields = draft.model_dump(mode="json", exclude_none=True)
            self.tracker.begin("create", changes=fields, name=draft.name, business_id=draft.business_id)
        try:
            new_id = self._call(lambda c: c.create(draft))
        except NexudusError as exc:
            audit.record_failure(self.actor, "create", exc, name=draft.name, changes=created(draft.model_dump()))
            raise
        sent = ChatRoom.model_validate({"Id": new_id, **draft.model_dump(exclude_none=True)})
        saved = self._read_back(new_id, sent, draft.model_dump(exclude_none=True))
        audit.record(self.actor, "create", chatroom_ids=[new_id], name=saved.room.name, changes=created(saved.room))
        return saved

    def edit(
        self,
        chatroom_id: int,
        changes: ChatRoomChanges,
        *,
        expected_updated_on: datetime | None,
        expected_fingerprint: str | None,
        lock_timeout: float = 30.0,
        action: str = "edit",
    ) -> Saved:
        """The safe edit: only `changes` differ, everything else is kept, a newer change is never overwritten.

        The read → check → PUT → read-back runs under the chatroom's lock, so two of our writers (threads or
        processes) never interleave there; the read-back then tells whether the record holds what was written.
        The audit trail gets the fields that changed, as read just before the PUT → as written (`action`:
        `edit`, or `visited` for Mark visited).
        """
        wanted = {name: getattr(changes, name) for name in changes.model_fields_set}
        audit = self.services.audit
        if self.tracker is not None:
            fields = changes.model_dump(mode="json", include=set(changes.model_fields_set))
            self.tracker.begin("visited" if action == "visited" else "edit", chatroom_ids=[chatroom_id], changes=fields)
        with self._holding([chatroom_id], timeout=lock_timeout):
            try:
                edited = self._call(
                    lambda c: c.edit_record(
                        chatroom_id,
                        changes,
                        expected_updated_on=expected_updated_on,
                        expected_fingerprint=expected_fingerprint,
                    )
                )
            except NexudusError as exc:
                audit.record_failure(self.actor, action, exc, chatroom_ids=[chatroom_id], changes=changed(None, wanted))
                raise
            saved = self._read_back(chatroom_id, edited.after, wanted)
        audit.record(
            self.actor,
            action,
            chatroom_ids=[chatroom_id],
            name=edited.after.name,
            changes=changed(edited.before, wanted),
        )
        return saved

    def _read_back(self, chatroom_id: int, sent: ChatRoom, wanted: dict[str, Any]) -> Saved:
        """After a write Nexudus accepted: read the record (best effort) and compare what was written."""
        try:
            room = self.client.get(chatroom_id)
        except NexudusError as exc:
            log.warning("chatroom %s was written, but reading it back failed: %s", chatroom_id, type(exc).__name__)
            return Saved(sent, confirmed=False)
        codec = self.client.codec
        differs = tuple(sorted(k for k, v in wanted.items() if not same_value(v, getattr(room, k, None), codec)))
        return Saved(room, confirmed=True, differs=differs)

    def mark_visited(self, chatroom_id: int, when: datetime) -> ChatRoom:
        """Set LastAgentVisit through the safe edit (no other field touched)."""
        return self.edit(
            chatroom_id,
            ChatRoomChanges(last_agent_visit=when),
            expected_updated_on=None,
            expected_fingerprint=None,
            action="visited",
        ).room

    def delete(self, chatroom_id: int) -> ActionResult:
        """Delete; the audit trail keeps what was deleted (the record read just before, under the lock)."""
        audit = self.services.audit
        if self.tracker is not None:
            self.tracker.begin("delete", chatroom_ids=[chatroom_id])
        with self._holding([chatroom_id]):
            room = self._call(lambda c: c.get(chatroom_id)) if self.actor is not None else None
            what: dict[str, Any] = {"chatroom_ids": [chatroom_id], "name": room.name if room else None}
            what["changes"] = deleted(room) if room is not None else []
            try:
                result = self._call(lambda c: c.delete(chatroom_id))
            except NexudusError as exc:
                audit.record_failure(self.actor, "delete", exc, **what)
                raise
        audit.record(self.actor, "delete", **what)
        return result

    @contextlib.contextmanager
    def _holding(self, chatroom_ids: Iterable[int], timeout: float = 30.0) -> Iterator[None]:
        """Hold these chatrooms' locks (in id order, so two holders never deadlock), so a write lands
        before or after an edit's read → check → PUT of the same chatroom, never inside it."""
        with contextlib.ExitStack() as stack:
            for chatroom_id in sorted({int(i) for i in chatroom_ids}):
                try:
                    stack.enter_context(self.services.locks.hold(f"chatroom:{chatroom_id}", timeout=timeout))
                except LockTimeout:
                    raise ChatroomBusy(chatroom_id) from None
            yield

    def commands(self, *, refresh: bool = False) -> list[Command]:
        cached = None if refresh else self.services.cached_commands(self.email)
        if cached is not None:
            return cached
        commands = self._call(lambda c: c.commands())
        self.services.remember_commands(self.email, commands)
        return commands

    def command(self, key: str) -> Command:
        """The command with this key; an unknown key bypasses the cache once before giving up."""
        for refresh in (False, True):
            for command in self.commands(refresh=refresh):
                if command.key.lower() == key.lower():
                    return command
        raise UnknownCommand(key, closest_key(key, [c.key for c in self.commands() if c.visible]))

    def run(self, command: Command, ids: Iterable[int], values: Sequence[tuple[CommandParameter, str]]) -> ActionResult:
        """Run a command; the audit trail gets its key, parameters, chatrooms and outcome — also when Nexudus
        answered `WasSuccessful: false`, or gave no usable answer (outcome unknown)."""
        chatroom_ids = ids_of(ids)
        what: dict[str, Any] = {"chatroom_ids": chatroom_ids, "command": command.key, "parameters": parameters(values)}
        audit = self.services.audit
        if self.tracker is not None:
            self.tracker.begin("run", chatroom_ids=chatroom_ids, command=command.key)
        with self._holding(chatroom_ids):  # a command may change the chatrooms an edit is merging
            try:
                result = self._call(lambda c: c.run_command(command.key, chatroom_ids, values))
            except NexudusError as exc:
                audit.record_failure(self.actor, "run", exc, **what)
                raise
        audit.record(self.actor, "run", message=(result.message or None), **what)
        return result


def same_value(written: Any, read: Any, codec: TimeCodec) -> bool:
    """Whether a field read back holds what was written (times at the wire's resolution, members as a set)."""
    if isinstance(written, datetime) or isinstance(read, datetime):
        left = codec.to_wire(written) if isinstance(written, datetime) else written
        right = codec.to_wire(read) if isinstance(read, datetime) else read
        return bool(left == right)
    if isinstance(written, list) or isinstance(read, list):
        return sorted(written or []) == sorted(read or [])
    return bool(written == read)
