"""Which documented variant of the API a server speaks, learnt by checking answers, remembered per base URL.

Nexudus' documentation disagrees with itself, so the adapter does not assume one reading. For each point
it sends the form it believes in, *checks* the answer (records fetched by id are the ones asked for; a
sorted page is in the order asked for) and, if the check fails, tries the next documented form. What
worked is remembered per base URL for the life of the process, so detection costs nothing after the
first time. `python -m bot doctor` prints what was learnt.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from bot.nexudus.query import Direction

IdsForm = Literal["envelope", "array", "per-id"]
DirForm = Literal["name", "signed", "binary"]

IDS_FORMS: tuple[IdsForm, ...] = ("envelope", "array", "per-id")
"""`ChatRoom_Id=[1,2]` → the paged envelope (the seed); `id=[1,2]` → a bare array (the current reference);
one `GET …/{id}` per id (always understood, the last resort)."""

DIR_FORMS: tuple[DirForm, ...] = ("name", "signed", "binary")
"""`dir=Ascending|Descending` (the seed); `dir=1|-1` (one reference page); `dir=0|1` (another)."""

DIR_VALUES: dict[DirForm, dict[Direction, str]] = {
    "name": {Direction.ASCENDING: "Ascending", Direction.DESCENDING: "Descending"},
    "signed": {Direction.ASCENDING: "1", Direction.DESCENDING: "-1"},
    "binary": {Direction.ASCENDING: "0", Direction.DESCENDING: "1"},
}

IDS_LABELS: dict[IdsForm, str] = {
    "envelope": "`ChatRoom_Id=[…]` → paged envelope",
    "array": "`id=[…]` → bare array",
    "per-id": "one read per id (neither batch form is understood)",
}
DIR_LABELS: dict[DirForm, str] = {
    "name": "`dir=Ascending|Descending`",
    "signed": "`dir=1|-1`",
    "binary": "`dir=0|1`",
}


@dataclass(frozen=True)
class Dialect:
    """What one server was seen to understand; None means "not learnt yet"."""

    ids: IdsForm | None = None
    dir: DirForm | None = None
    list_shape: Literal["envelope", "array"] | None = None
    time_offset_minutes: int | None = None
    """The server's wall clock minus UTC in records it stamped (0: UTC; else local times with a `Z`)."""

    def describe(self) -> dict[str, str]:
        if self.time_offset_minutes is None:
            times = "not checked yet"
        elif self.time_offset_minutes == 0:
            times = "UTC"
        else:
            times = f"local time with a Z (UTC{self.time_offset_minutes / 60:+g} h)"
        return {
            "find by ids": IDS_LABELS[self.ids] if self.ids else "not checked yet",
            "sort direction": DIR_LABELS[self.dir] if self.dir else "not checked yet",
            "list answers": self.list_shape or "not checked yet",
            "record times": times,
        }


class DialectMemory:
    """Dialects per base URL; thread-safe. One per process is shared by every client (see `KNOWN`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, Dialect] = {}

    @staticmethod
    def key(base_url: str) -> str:
        return base_url.rstrip("/").lower()

    def get(self, base_url: str) -> Dialect:
        with self._lock:
            return self._known.get(self.key(base_url), Dialect())

    def learn(self, base_url: str, **points: Any) -> Dialect:
        with self._lock:
            key = self.key(base_url)
            learnt = replace(self._known.get(key, Dialect()), **points)
            self._known[key] = learnt
            return learnt

    def forget(self, base_url: str) -> None:
        with self._lock:
            self._known.pop(self.key(base_url), None)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


KNOWN = DialectMemory()
"""The process's memory; clients take another one as a parameter (tests give each their own)."""


def forms_to_try(preferred: Any, forms: Sequence[Any]) -> list[Any]:
    """The remembered form first, then the others in documented order."""
    return [preferred, *(f for f in forms if f != preferred)] if preferred in forms else list(forms)


# ------------------------------------------------------------------------------------------- checks
def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    return value


SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: r.id,
    "lastagentvisit": lambda r: r.last_agent_visit,
    "createdon": lambda r: r.created_on,
    "updatedon": lambda r: r.updated_on,
    "active": lambda r: r.active,
    "businessid": lambda r: r.business,
}
"""Fields whose order can be checked without knowing the server's collation (names are not checked)."""


def order_verdict(records: Sequence[Any], order_by: str, direction: Direction) -> bool | None:
    """True when `records` are in the order asked for, False when they are not, None when a page cannot tell.

    Null values are skipped (servers place them differently); a page needs two distinct values to tell.
    """
    key = SORT_KEYS.get(order_by.strip().lower())
    if key is None:
        return None
    values = [_comparable(v) for v in (key(r) for r in records) if v is not None]
    if len(set(values)) < 2:
        return None
    pairs = list(itertools.pairwise(values))
    if direction == Direction.DESCENDING:
        return all(a >= b for a, b in pairs)
    return all(a <= b for a, b in pairs)


def ids_verdict(returned: Sequence[int], wanted: Sequence[int], total: int | None) -> bool:
    """Whether an answer to a find-by-ids is an answer to *that* question (not an unfiltered page)."""
    asked = set(wanted)
    if any(i not in asked for i in returned):
        return False
    return not (total is not None and total > len(asked))
