"""`python -m bot doctor`: prove a live Nexudus account (and the Slack token) works before a team relies on it.

One line per check, ✓ or ✗ (– for what was not checked), and for each ✗ what to do. Read-only unless
`--write`, which creates one chatroom, edits it and deletes it. Exit 0 when everything the app needs works.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.nexudus.auth import NoTokenEndpoint, TokenRefused, exchange_password
from bot.nexudus.client import ChatRoomChanges, NewChatRoom, NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.dialect import DialectMemory
from bot.nexudus.errors import NexudusError, NotAuthorised, UnexpectedResponse
from bot.nexudus.query import Direction
from bot.settings import Settings, load_settings

Status = Literal["ok", "fail", "info"]
MARKS = {"ok": "✓", "fail": "✗", "info": "–"}
SLACK_SCOPES = ("commands", "chat:write")
"""The bot scopes the app needs (manifest.yml)."""
MISSING_ID = 2_147_483_000
"""An id no chatroom has, asked for alongside real ones to see whether a server filters by id."""
RATE_HEADER = re.compile(r"rate|retry-after|quota|limit", re.IGNORECASE)


@dataclass
class Line:
    status: Status
    name: str
    detail: str
    fix: str = ""
    needed: bool = True
    """A ✗ here means the app cannot work as configured (exit 1); other ✗ limit what some users can do."""

    def render(self) -> str:
        text = f"{MARKS[self.status]} {self.name}: {self.detail}"
        return text + (f"  → {self.fix}" if self.fix and self.status != "ok" else "")


def _loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class Doctor:
    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str,
        email: str,
        password: str,
        totp: str | None = None,
        write: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        emit: Callable[[Line], None] = lambda line: None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.email = email.strip()
        self.password = password
        self.totp = totp
        self.write = write
        self.clock = clock
        self.emit = emit
        self.lines: list[Line] = []
        self.memory = DialectMemory()
        self.headers: dict[str, str] = {}

    def add(self, status: Status, name: str, detail: str, fix: str = "", *, needed: bool = True) -> Line:
        line = Line(status, name, detail, fix, needed)
        self.lines.append(line)
        self.emit(line)
        return line

    @property
    def healthy(self) -> bool:
        return not any(line.status == "fail" and line.needed for line in self.lines)

    # ------------------------------------------------------------------------------------ the run
    def run(self) -> bool:
        if self.reach():
            credentials = self.authenticate()
            if credentials is not None:
                client = NexudusClient(
                    self.base_url,
                    credentials,
                    retries=2,
                    backoff=0.5,
                    pacer=None,
                    dialects=self.memory,
                    timeout=(self.settings.nexudus_connect_timeout, self.settings.nexudus_read_timeout),
                )
                try:
                    ids = self.roles(client)
                    if ids is not None:
                        self.dialects(client, ids)
                        if self.write:
                            self.write_roles(client, ids)
                        self.times(client)
                    self.rate_limits()
                finally:
                    client.close()
        self.slack()
        return self.healthy

    def _remember(self, headers: Any) -> None:
        self.headers.update({k: v for k, v in dict(headers or {}).items() if RATE_HEADER.search(k)})

    def reach(self) -> bool:
        name = "Reachability"
        started = time.perf_counter()
        try:
            response = requests.get(
                self.base_url + "/support/chatrooms",
                params={"size": "1"},
                timeout=(self.settings.nexudus_connect_timeout, self.settings.nexudus_read_timeout),
            )
        except requests.exceptions.SSLError:
            self.add(
                "fail", name, f"TLS failed for {self.base_url}", "check the URL; a proxy may replace the certificate"
            )
            return False
        except requests.RequestException as exc:
            self.add(
                "fail",
                name,
                f"no answer from {self.base_url} ({type(exc).__name__})",
                "check NEXUDUS_BASE_URL (e.g. https://spaces.nexudus.com/api) and the network",
            )
            return False
        elapsed = (time.perf_counter() - started) * 1000
        self._remember(response.headers)
        if response.status_code == 404:
            self.add("fail", name, f"{self.base_url} has no chatroom API (404)", "the base URL ends with /api")
            return False
        https = urlsplit(self.base_url).scheme == "https"
        tls = "TLS verified" if https else "plain HTTP"
        if not https and not _loopback(self.base_url):
            self.add(
                "fail", name, f"{self.base_url} is plain HTTP", "use the https:// URL: logins would travel in clear"
            )
        else:
            self.add("ok", name, f"{self.base_url} answered HTTP {response.status_code} in {elapsed:.0f} ms ({tls})")
        raw = response.headers.get("Date")
        if raw:
            try:
                skew = (parsedate_to_datetime(raw) - self.clock()).total_seconds()
            except (TypeError, ValueError):
                skew = None
            if skew is not None:
                if abs(skew) <= 60:
                    self.add("ok", "Clock", f"server and local clocks agree within {abs(skew):.0f} s")
                else:
                    self.add(
                        "fail",
                        "Clock",
                        f"the server's Date is {skew:+.0f} s from this machine's clock",
                        "sync this machine's clock (NTP): staleness and snoozes use it",
                    )
        return True

    def authenticate(self) -> Credentials | None:
        mode = self.settings.nexudus_auth
        bearer: Credentials | None = None
        try:
            with requests.Session() as session:
                bearer = exchange_password(
                    session, self.base_url, self.email, self.password, now=self.clock(), totp=self.totp
                )
            hours = (bearer.expires_at - self.clock()).total_seconds() / 3600 if bearer.expires_at else 0
            self.add("ok", "Auth bearer", f"POST /api/token issued a token (valid {hours / 24:.0f} d)", needed=False)
        except TokenRefused as exc:
            fix = "add --totp CODE (the code from the authenticator app)" if exc.needs_code else "check e-mail/password"
            self.add("fail", "Auth bearer", str(exc), fix, needed=False)
        except NoTokenEndpoint:
            self.add("fail", "Auth bearer", "this server has no /api/token", "set NEXUDUS_AUTH=basic", needed=False)
        except NexudusError as exc:
            self.add("fail", "Auth bearer", str(exc), "try again; check the URL", needed=False)

        basic: Credentials | None = Credentials(self.email, self.password)
        probe = NexudusClient(self.base_url, Credentials(self.email, self.password), retries=1, pacer=None)
        try:
            works = probe.probe()
        except NexudusError:
            works = False
        finally:
            probe.close()
        if works:
            self.add("ok", "Auth basic", "HTTP Basic is accepted", needed=False)
        else:
            basic = None
            why = "refused (wrong login, no ChatRoom-List role, 2FA on the account, or Basic turned off)"
            self.add("fail", "Auth basic", why, "use bearer (NEXUDUS_AUTH=bearer)", needed=False)

        chosen = {"bearer": bearer, "basic": basic, "auto": bearer or basic}[mode]
        if chosen is None:
            other = "basic" if basic else "bearer" if bearer else None
            fix = f"set NEXUDUS_AUTH={other}" if other else "fix the login first (see above)"
            self.add("fail", "Auth", f"NEXUDUS_AUTH={mode} cannot log in", fix)
        else:
            stored = "tokens, no password" if chosen.bearer else "the password, encrypted"
            self.add("ok", "Auth", f"NEXUDUS_AUTH={mode} works: the app will keep {stored}")
        return chosen

    def roles(self, client: NexudusClient) -> list[int] | None:
        try:
            page = client.find(size=2)
        except NotAuthorised:
            self.add(
                "fail",
                "Role ChatRoom-List",
                "refused",
                "give the account the ChatRoom-List role in Nexudus (the app needs it for everything)",
            )
            return None
        finally:
            self._remember(client.last_headers)
        self.add("ok", "Role ChatRoom-List", f"lists chatrooms ({page.total_items} in all)")
        ids = [r.id for r in page.records]
        if not ids:
            self.add("info", "Role ChatRoom-Read", "not checked: the account sees no chatroom", needed=False)
            return ids
        try:
            client.get(ids[0])
            self.add("ok", "Role ChatRoom-Read", f"reads chatroom #{ids[0]} with its members")
        except NotAuthorised:
            self.add("fail", "Role ChatRoom-Read", "refused", "give the account ChatRoom-Read (show, edit need it)")
        try:
            commands = client.commands()
            self.add("ok", "Commands", f"{len(commands)} chatroom commands listed", needed=False)
        except NexudusError as exc:
            self.add("fail", "Commands", str(exc), "run command will not work for this account", needed=False)
        if not self.write:
            self.add(
                "info",
                "Roles Create/Edit/Delete",
                "not checked (read-only)",
                "run with --write to check them on a chatroom the doctor creates and deletes",
                needed=False,
            )
        return ids

    def dialects(self, client: NexudusClient, ids: list[int]) -> None:
        if len(ids) >= 1:
            try:
                found = client.find_by_ids([*ids, MISSING_ID])
                ok = sorted(r.id for r in found) == sorted(ids)
                learnt = self.memory.get(self.base_url).describe()["find by ids"]
                if ok:
                    self.add("ok", "Dialect: find by ids", learnt)
                else:
                    self.add("fail", "Dialect: find by ids", "wrong records returned", "report this server's answer")
            except NexudusError as exc:
                self.add("fail", "Dialect: find by ids", str(exc), "report this server's answer")
        try:
            client.find(size=5, direction=Direction.DESCENDING)
            learnt = self.memory.get(self.base_url).describe()["sort direction"]
            if learnt == "not checked yet":
                learnt = "not provable: fewer than two chatrooms"
            self.add("ok", "Dialect: sort direction", learnt)
        except UnexpectedResponse as exc:
            self.add("fail", "Dialect: sort direction", str(exc), "report this server; lists may come in any order")
        shape = self.memory.get(self.base_url).list_shape or "unknown"
        self.add("ok", "Dialect: list answers", "paged envelope" if shape == "envelope" else f"{shape}")
        self.add(
            "info",
            "Dialect: throttling",
            "not provoked on a live account; the app waits Retry-After on a 409 or a 429, with or without a body",
            needed=False,
        )

    def write_roles(self, client: NexudusClient, ids: list[int]) -> None:
        business = None
        with contextlib.suppress(NexudusError):
            business = client.get(ids[0]).business if ids else None
        if business is None:
            self.add("info", "Roles Create/Edit/Delete", "not checked: no business id to create in", needed=False)
            return
        try:
            new_id = client.create(NewChatRoom(business_id=business, name="chatrooms-bot doctor (safe to delete)"))
        except NotAuthorised:
            self.add("fail", "Role ChatRoom-Create", "refused", "this login cannot create from Slack", needed=False)
            return
        except NexudusError as exc:
            self.add("fail", "Role ChatRoom-Create", str(exc), "see the message", needed=False)
            return
        self.add("ok", "Role ChatRoom-Create", f"created chatroom #{new_id}", needed=False)
        try:
            client.edit(new_id, ChatRoomChanges(name="chatrooms-bot doctor (edited, safe to delete)"))
            client.get(new_id)  # the stamp of our own write against the server's Date: local times show here
            self.add("ok", "Role ChatRoom-Edit", f"edited chatroom #{new_id}, other fields kept", needed=False)
        except NexudusError as exc:
            self.add("fail", "Role ChatRoom-Edit", str(exc), "this login cannot edit from Slack", needed=False)
        try:
            client.delete(new_id)
            self.add("ok", "Role ChatRoom-Delete", f"deleted chatroom #{new_id}", needed=False)
        except NexudusError as exc:
            self.add("fail", "Role ChatRoom-Delete", str(exc), f"delete chatroom #{new_id} in Nexudus by hand")

    def times(self, client: NexudusClient) -> None:
        zone = self.settings.zone
        now = self.clock()
        offset = now.astimezone(zone).utcoffset()
        configured = round(offset.total_seconds() / 60) if offset is not None else 0
        observed = self.memory.get(self.base_url).time_offset_minutes
        if observed is None:
            self._newest_stamp(client)
            return
        if observed == 0:
            reading = "records are stamped in UTC"
        else:
            reading = f"records are stamped in local time with a Z (UTC{observed / 60:+g} h)"
        if observed == configured:
            self.add("ok", "Record times", f"{reading}; NEXUDUS_TIME_ZONE={zone.key} matches")
        elif observed == 0:
            self.add(
                "fail",
                "Record times",
                f"{reading}, but NEXUDUS_TIME_ZONE={zone.key} would shift them",
                "unset NEXUDUS_TIME_ZONE (UTC); set SPACE_TIME_ZONE for the times people read and type",
            )
        else:
            self.add(
                "fail",
                "Record times",
                f"{reading}; NEXUDUS_TIME_ZONE={zone.key} is UTC{configured / 60:+g} h now",
                "set NEXUDUS_TIME_ZONE to the space's zone (e.g. Europe/Madrid)",
            )

    def _newest_stamp(self, client: NexudusClient) -> None:
        """Read-only hint: a record stamped in the future of the server's clock means local times with a Z."""
        try:
            page = client.find(size=1, order_by="UpdatedOn", direction=Direction.DESCENDING)
        except NexudusError:
            return
        raw = client.last_headers.get("Date")
        newest = page.records[0].updated_on if page.records else None
        if not raw or newest is None:
            self.add("info", "Record times", "not checked", "run with --write to compare a fresh stamp", needed=False)
            return
        ahead = (newest - parsedate_to_datetime(raw)).total_seconds() / 3600
        if ahead > 0.2:
            self.add(
                "fail",
                "Record times",
                f"the newest record is stamped {ahead:.1f} h ahead of the server's clock: local times with a Z",
                "run with --write to measure the offset, then set NEXUDUS_TIME_ZONE",
            )
        else:
            self.add(
                "info",
                "Record times",
                "no record stamped in the future (consistent with UTC)",
                "--write proves it on a fresh stamp",
                needed=False,
            )

    def rate_limits(self) -> None:
        if self.headers:
            found = ", ".join(f"{k}: {v}" for k, v in sorted(self.headers.items()))
            self.add("info", "Rate-limit headers", found, needed=False)
        else:
            self.add(
                "info",
                "Rate-limit headers",
                "none sent; the app paces itself to the documented limits and honours Retry-After",
                needed=False,
            )

    def slack(self) -> None:
        token = self.settings.slack_bot_token
        if not token and self.settings.oauth:
            self.add(
                "info",
                "Slack",
                "not checked: with SLACK_CLIENT_ID each workspace installs the app at /slack/install and the app "
                "checks its token then (auth.test)",
                needed=False,
            )
            return
        if not token:
            self.add("info", "Slack", "not checked (SLACK_BOT_TOKEN is not set)", needed=False)
            return
        client = WebClient(token=token, base_url=self.settings.slack_api_url, timeout=10)
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "error"
            self.add("fail", "Slack auth.test", str(error), "check SLACK_BOT_TOKEN (xoxb-…, OAuth & Permissions)")
            return
        except Exception as exc:
            self.add("fail", "Slack auth.test", type(exc).__name__, "check SLACK_API_URL and the network")
            return
        self.add("ok", "Slack auth.test", f"bot @{answer.get('user')} in {answer.get('team')}")
        raw = answer.headers.get("x-oauth-scopes") or answer.headers.get("X-OAuth-Scopes")
        if raw is None:
            self.add("info", "Slack scopes", "not reported by Slack", needed=False)
            return
        granted = {s.strip() for s in str(raw).split(",") if s.strip()}
        missing = [s for s in SLACK_SCOPES if s not in granted]
        if missing:
            self.add("fail", "Slack scopes", f"missing {', '.join(missing)}", "reinstall the app from manifest.yml")
        else:
            self.add("ok", "Slack scopes", ", ".join(SLACK_SCOPES))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot doctor",
        description="Check a Nexudus account (and the Slack token) before your team relies on them. "
        "Read-only unless --write. Exit 0 when everything the app needs works.",
    )
    parser.add_argument("--url", help="Nexudus API base (default: NEXUDUS_BASE_URL)")
    parser.add_argument("--email", required=True, help="the Nexudus login to check")
    parser.add_argument("--totp", help="the current two-factor code, for an account with 2FA")
    parser.add_argument(
        "--write", action="store_true", help="also check Create/Edit/Delete on a chatroom it creates and deletes"
    )
    return parser


def main(
    argv: list[str] | None = None,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    # The checks say everything in their lines; the adapter's own warnings would only repeat them.
    quiet = logging.getLogger("bot.nexudus")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return _run(args, settings or load_settings(), out, ask)
    finally:
        quiet.setLevel(level)


def _run(args: argparse.Namespace, settings: Settings, out: TextIO, ask: Callable[[str], str]) -> int:
    base_url = args.url or settings.nexudus_base_url
    if settings.nexudus_password is not None:
        password = settings.nexudus_password.get_secret_value()
    else:
        try:
            password = ask(f"Nexudus password for {args.email}: ")
        except (EOFError, KeyboardInterrupt):
            print("No password: type it at the prompt or set NEXUDUS_PASSWORD.", file=sys.stderr)
            return 2
    mode = "with --write: creates, edits and deletes one chatroom" if args.write else "read-only"
    print(f"Nexudus doctor · {base_url} as {args.email} ({mode})", file=out, flush=True)
    doctor = Doctor(
        settings,
        base_url=base_url,
        email=args.email,
        password=password,
        totp=args.totp,
        write=args.write,
        emit=lambda line: print(line.render(), file=out, flush=True),
    )
    healthy = doctor.run()
    failed = sum(1 for line in doctor.lines if line.status == "fail")
    if healthy:
        tail = f" ({failed} ✗ limit some features only)" if failed else ""
        print(f"All the app needs works{tail}.", file=out)
    else:
        print("Something the app needs does not work: see ✗ above.", file=out)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
