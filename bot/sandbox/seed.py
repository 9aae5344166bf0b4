"""Deterministic demo data and the sandbox's demo accounts.

The same `now` and `rng_seed` always give the same businesses, chatrooms, members and dates, so
tests and demos can rely on them. Dates are relative to `now`: last agent visits range from minutes
to weeks old (a few chatrooms were never visited), and a chatroom is always created before its
last visit.

Demo accounts (HTTP Basic):

- ``admin@sandbox.local`` / ``sandbox-admin``: ChatRoom-List, -Read, -Create, -Edit, -Delete.
- ``reader@sandbox.local`` / ``sandbox-reader``: ChatRoom-List and ChatRoom-Read only.
- ``owner@sandbox.local`` / ``sandbox-owner``: an administrator, so every role.
- ``2fa@sandbox.local`` / ``sandbox-2fa``: the admin's roles, with two-factor authentication: only a token
  login with a TOTP code works (secret ``JBSWY3DPEHPK3PXP``, see `bot.sandbox.dialects.totp`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from bot.sandbox.db import NewChatRoom, SandboxDB

T = TypeVar("T")

ROLE_LIST = "ChatRoom-List"
ROLE_READ = "ChatRoom-Read"
ROLE_CREATE = "ChatRoom-Create"
ROLE_EDIT = "ChatRoom-Edit"
ROLE_DELETE = "ChatRoom-Delete"
ALL_ROLES = frozenset({ROLE_LIST, ROLE_READ, ROLE_CREATE, ROLE_EDIT, ROLE_DELETE})


@dataclass(frozen=True)
class DemoUser:
    """A sandbox account; an administrator holds every role whatever `roles` says."""

    email: str
    password: str
    roles: frozenset[str]
    administrator: bool = False
    totp_secret: str | None = None
    """Set for an account with two-factor authentication: HTTP Basic is refused, a token login needs a code."""
    businesses: frozenset[int] | None = None
    """The businesses whose chatrooms it sees (reads, edits, deletes), as a Nexudus user with access to some
    locations only; None: every business."""

    def sees(self, business_id: int) -> bool:
        return self.businesses is None or business_id in self.businesses

    def has_role(self, role: str) -> bool:
        return self.administrator or role in self.roles


ADMIN = DemoUser("admin@sandbox.local", "sandbox-admin", ALL_ROLES)
READER = DemoUser("reader@sandbox.local", "sandbox-reader", frozenset({ROLE_LIST, ROLE_READ}))
OWNER = DemoUser("owner@sandbox.local", "sandbox-owner", frozenset(), administrator=True)
TWO_FACTOR = DemoUser("2fa@sandbox.local", "sandbox-2fa", ALL_ROLES, totp_secret="JBSWY3DPEHPK3PXP")

DEMO_USERS: dict[str, DemoUser] = {u.email: u for u in (ADMIN, READER, OWNER, TWO_FACTOR)}

BUSINESSES: tuple[tuple[int, str], ...] = (
    (9001, "Harbour Works"),
    (9002, "Canal Street Hub"),
    (9003, "Old Mill Studios"),
    (9004, "Northgate Commons"),
)
FIRST_CHATROOM_ID = 1_000_001
FIRST_USER_ID = 7_000_001
USER_POOL = 400
DEFAULT_RNG_SEED = 20240607

PEOPLE = (
    "Ana Ruiz",
    "Tom Becker",
    "Zoë Müller",
    "José García",
    "Priya Natarajan",
    "Łukasz Nowak",
    "Amara Okafor",
    "Mei Chen",
    "Liam O'Connor",
    "Fatima Zahra",
    "Sven Åberg",
    "Chloé Dubois",
    "Kwame Mensah",
    "Hana Sato",
    "Noah Williams",
    "Elif Y\N{LATIN SMALL LETTER DOTLESS I}lmaz",
)
COMPANIES = ("Brightlane Studio", "Copperleaf Ltd", "Northwind Labs", "Pixel & Pine", "Quayside Legal")
ROOMS = ("Boardroom", "Lighthouse", "Studio B", "The Loft", "Pod 3")
TEMPLATES = (
    "Desk booking \N{EN DASH} {person}",
    "Printer on floor {floor}",
    "Invoice question",
    "Invoice question \N{EN DASH} {company}",
    "Meeting room {room} \N{EN DASH} {person}",
    "Wi-Fi not working on floor {floor}",
    "Locker key \N{EN DASH} {person}",
    "Parking permit",
    "Day pass \N{EN DASH} {person}",
    "Mail & parcels \N{EN DASH} {company}",
    "Event space enquiry \N{EN DASH} {company}",
    "Coffee machine broken",
    "Membership upgrade \N{EN DASH} {person}",
    "Access card \N{EN DASH} {person}",
    "Heating on floor {floor}",
    "Guest registration \N{EN DASH} {person}",
)
AGENTS = ("System", "frontdesk@harbourworks.example", "ops@canalstreet.example", "admin@sandbox.local")


class _Draw:
    """Fast seeded draws (`random.randint` is too slow for a 100 000-row seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.random = rng.random
        self.bits = rng.getrandbits

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]


def _chatrooms(now: datetime, count: int, rng: random.Random) -> Iterator[NewChatRoom]:
    """`count` plausible chatrooms, all dated before `now`."""
    now = now.replace(microsecond=0)
    draw = _Draw(rng)
    between, pick = draw.between, draw.pick
    for index in range(count):
        name = pick(TEMPLATES).format(
            person=pick(PEOPLE), company=pick(COMPANIES), room=pick(ROOMS), floor=between(1, 4)
        )
        # Visits spread from minutes to weeks old; about one in twenty was never visited.
        bucket = draw.random()
        if bucket < 0.05:
            visit: datetime | None = None
        elif bucket < 0.35:
            visit = now - timedelta(seconds=between(120, 3599))
        elif bucket < 0.7:
            visit = now - timedelta(minutes=between(60, 24 * 60 - 1))
        else:
            visit = now - timedelta(hours=between(24, 31 * 24 - 1))
        anchor = visit or now - timedelta(hours=between(1, 72))
        created = anchor - timedelta(minutes=between(1, 200 * 24 * 60))
        touched = visit or created
        gap = int((now - touched).total_seconds())
        updated = touched + timedelta(seconds=between(0, max(0, min(1800, gap))))
        users = list({FIRST_USER_ID + between(0, USER_POOL - 1) for _ in range(between(1, 3))})
        system_id = f'{{"crm": "T-{between(1000, 9999)}"}}' if draw.random() < 0.1 else None
        yield NewChatRoom(
            id=FIRST_CHATROOM_ID + index,
            business_id=pick(BUSINESSES)[0],
            name=name,
            active=draw.random() < 0.8,
            last_agent_visit=visit,
            created_on=created,
            updated_on=updated,
            updated_by=pick(AGENTS),
            unique_id=str(uuid.UUID(int=draw.bits(128), version=4)),
            system_id=system_id,
            users=sorted(users),
        )


def seed(db: SandboxDB, now: datetime, chatrooms: int = 60, rng_seed: int = DEFAULT_RNG_SEED) -> int:
    """Fill an empty database with the demo businesses and `chatrooms` chatrooms; returns how many."""
    rng = random.Random(rng_seed)
    db.add_businesses(BUSINESSES)
    return db.insert_many(_chatrooms(now, chatrooms, rng)) if chatrooms > 0 else 0


def seed_if_empty(db: SandboxDB, now: datetime, chatrooms: int = 60, rng_seed: int = DEFAULT_RNG_SEED) -> bool:
    """Seed only a fresh database, so restarting on a file keeps what was there."""
    if not db.is_empty():
        return False
    seed(db, now, chatrooms, rng_seed)
    return True
