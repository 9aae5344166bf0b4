"""The sandbox's chatroom commands: their metadata (as `GET .../commands` lists it) and their effects.

The catalogue covers every parameter type the app must handle (string, Boolean, Int32, Decimal,
DateTime, and one it will not know, `EmailAddress`) and every entity rule (one, two, two or more,
one or more, none), each with an effect a test can see. `Order` values are deliberately not in list
order, so a client must sort.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.db import SandboxDB

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z?$", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,19}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class CommandRefused(Exception):
    """A command cannot run (bad ids, bad parameters, or its effect refuses); the text is for the user."""


@dataclass(frozen=True)
class Parameter:
    """One entry of `RequiresParameters`."""

    name: str
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"Name": self.name, "Type": self.type}

    def parse(self, raw: Any) -> Any:
        """The typed value of a raw parameter (a string, or a JSON bool/number)."""
        if raw is None:
            raise CommandRefused(f"The parameter '{self.name}' is required.")
        kind = self.type.lower()
        try:
            if kind == "boolean":
                return parse_bool(raw)
            if kind == "int32":
                return parse_int32(raw)
            if kind == "decimal":
                return parse_decimal(raw)
            if kind == "datetime":
                return parse_datetime(raw)
        except ValueError as exc:
            raise CommandRefused(f"The parameter '{self.name}' {exc}.") from None
        # string, and any type the sandbox does not interpret further (e.g. EmailAddress).
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return str(raw)


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0"):
        return raw.strip().lower() in ("true", "1")
    raise ValueError("must be true or false")


def parse_int32(raw: Any) -> int:
    value: int | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif (isinstance(raw, float) and raw.is_integer()) or (
        isinstance(raw, str) and re.fullmatch(r"\s*[-+]?\d+\s*", raw)
    ):
        value = int(raw)
    if value is None or not INT32_MIN <= value <= INT32_MAX:
        raise ValueError("must be a whole number")
    return value


def parse_decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError("must be a number")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not value.is_finite():
        raise ValueError("must be a number")
    return value


def parse_datetime(raw: Any) -> datetime:
    """`YYYY-MM-DDTHH:mm[:ss][Z]`, read as UTC."""
    match = _DATETIME.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ValueError("must be a date-time like 2024-05-01T14:30")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ValueError("must be a valid date-time") from None


Effect = Callable[[SandboxDB, list[int], list[Any], datetime, str], str]


@dataclass(frozen=True)
class Command:
    """A command's metadata (serialised as Nexudus lists it) and its effect."""

    key: str
    name: str
    order: int
    effect: Effect
    parameters: tuple[Parameter, ...] = ()
    applies_only_to_one_entity: bool = False
    applies_only_to_two_entities: bool = False
    applies_only_to_multiple_entities: bool = False
    needs_entities_to_run: bool = True
    display_in_dropdown: bool = True
    display_in_dropdown_v2: bool = True
    display_in_grid: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "Key": self.key,
            "Name": self.name,
            "AppliesOnlyToMultipleEntities": self.applies_only_to_multiple_entities,
            "DisplayInDropdown": self.display_in_dropdown,
            "DisplayInDropdownV2": self.display_in_dropdown_v2,
            "AppliesOnlyToOneEntity": self.applies_only_to_one_entity,
            "AppliesOnlyToTwoEntities": self.applies_only_to_two_entities,
            "DisplayInGrid": self.display_in_grid,
            "NeedsEntitiesToRun": self.needs_entities_to_run,
            "Order": self.order,
            "RequiresParameters": [p.to_json() for p in self.parameters],
        }

    def entity_error(self, count: int) -> str | None:
        """Why `count` chatrooms is the wrong number for this command, or None."""
        if self.applies_only_to_one_entity and count != 1:
            return f"'{self.name}' runs on exactly one chatroom; {count} given."
        if self.applies_only_to_two_entities and count != 2:
            return f"'{self.name}' runs on exactly two chatrooms; {count} given."
        if self.applies_only_to_multiple_entities and count < 2:
            return f"'{self.name}' runs on two or more chatrooms; {count} given."
        if self.needs_entities_to_run and count < 1:
            return f"'{self.name}' needs at least one chatroom; none given."
        return None

    def parse_parameters(self, raw: Sequence[Any]) -> list[Any]:
        """Typed values matched to `RequiresParameters` by position; extra parameters are ignored."""
        values: list[Any] = []
        for index, parameter in enumerate(self.parameters):
            item = raw[index] if index < len(raw) else None
            value = item.get("Value") if isinstance(item, dict) else item
            values.append(parameter.parse(value))
        return values

    def apply(self, db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
        """Run the effect (atomically); returns the result message or raises CommandRefused."""
        with db.transaction():
            return self.effect(db, ids, params, now, user)


def _plural(count: int, word: str = "chatroom") -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _mark_visited(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    db.update_fields(ids, now, user, last_agent_visit=now)
    return f"Marked {_plural(len(ids))} as visited by an agent."


def _rename(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    name = str(params[0]).strip()
    if not name:
        raise CommandRefused("The new name may not be empty.")
    db.update_fields(ids, now, user, name=name)
    return f"Chatroom {ids[0]} renamed to '{name}'."


def _set_active(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    active = bool(params[0])
    db.update_fields(ids, now, user, active=active)
    return f"{'Opened' if active else 'Closed'} {_plural(len(ids))}."


def _merge(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    first, second = db.get(ids[0]), db.get(ids[1])
    assert first is not None and second is not None
    if first.business_id != second.business_id:
        raise CommandRefused(f"Chatrooms {first.id} and {second.id} belong to different businesses.")
    moved = [u for u in second.users if u not in first.users]
    db.set_users(first.id, [*first.users, *moved])
    db.set_users(second.id, [])
    db.update_fields([first.id], now, user)
    closing = bool(params[0])
    if closing:
        db.update_fields([second.id], now, user, active=False)
    else:
        db.update_fields([second.id], now, user)
    suffix = f"; chatroom {second.id} closed" if closing else ""
    return f"Moved {_plural(len(moved), 'member')} of chatroom {second.id} into chatroom {first.id}{suffix}."


def _schedule(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    visit_at, priority = params
    if not 1 <= priority <= 5:
        raise CommandRefused("Priority must be between 1 and 5.")
    db.update_fields(ids, now, user, last_agent_visit=visit_at)
    when = visit_at.strftime("%Y-%m-%d %H:%M")
    return f"Follow-up visit for {_plural(len(ids))} scheduled at {when} UTC (priority {priority})."


def _response_target(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    hours: Decimal = params[0]
    if hours <= 0:
        raise CommandRefused("The target must be more than 0 hours.")
    text = format(hours.normalize(), "f")
    db.update_fields(ids, now, user, system_id=json.dumps({"responseTargetHours": json.loads(text)}))
    return f"Response target of {text} h set on {_plural(len(ids))}."


def _close_idle(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    days: int = params[0]
    if days < 0:
        raise CommandRefused("The number of days may not be negative.")
    idle = db.idle_ids(now - timedelta(days=days), among=ids or None)
    if idle:
        db.update_fields(idle, now, user, active=False)
    return f"Closed {_plural(len(idle), 'idle chatroom')} (no agent visit for {_plural(days, 'day')})."


def _send_transcript(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    email, archived = str(params[0]).strip(), bool(params[1])
    if not _EMAIL.match(email):
        raise CommandRefused(f"'{email}' is not an email address.")
    room = db.get(ids[0])
    assert room is not None
    extra = " (archived messages included)" if archived else ""
    return f"The transcript of '{room.name or room.id}' will be emailed to {email}{extra}."


def _reindex(db: SandboxDB, ids: list[int], params: list[Any], now: datetime, user: str) -> str:
    return f"Search index rebuilt ({_plural(db.count())})."


COMMANDS: tuple[Command, ...] = (
    Command("MARK_VISITED", "Mark as visited by an agent", order=3, effect=_mark_visited),
    Command(
        "RENAME",
        "Rename chatroom",
        order=1,
        effect=_rename,
        parameters=(Parameter("New name", "string"),),
        applies_only_to_one_entity=True,
    ),
    Command(
        "SET_ACTIVE",
        "Open or close chatrooms",
        order=5,
        effect=_set_active,
        parameters=(Parameter("Active", "Boolean"),),
    ),
    Command(
        "MERGE_CHATROOMS",
        "Merge two chatrooms",
        order=8,
        effect=_merge,
        parameters=(Parameter("Close the second", "Boolean"),),
        applies_only_to_two_entities=True,
        display_in_grid=False,
    ),
    Command(
        "SCHEDULE_FOLLOW_UP",
        "Schedule a follow-up visit",
        order=6,
        effect=_schedule,
        parameters=(Parameter("Visit at", "DateTime"), Parameter("Priority", "Int32")),
        applies_only_to_multiple_entities=True,
    ),
    Command(
        "SET_RESPONSE_TARGET",
        "Set response target",
        order=7,
        effect=_response_target,
        parameters=(Parameter("Target hours", "Decimal"),),
        display_in_dropdown=False,
    ),
    Command(
        "CLOSE_IDLE",
        "Close idle chatrooms",
        order=4,
        effect=_close_idle,
        parameters=(Parameter("Idle for days", "Int32"),),
        needs_entities_to_run=False,
        display_in_grid=False,
    ),
    Command(
        "SEND_TRANSCRIPT",
        "Email the transcript",
        order=2,
        effect=_send_transcript,
        parameters=(Parameter("Email", "EmailAddress"), Parameter("Include archived", "Boolean")),
        applies_only_to_one_entity=True,
    ),
    Command(
        "INTERNAL_REINDEX",
        "Rebuild the search index",
        order=9,
        effect=_reindex,
        needs_entities_to_run=False,
        display_in_dropdown=False,
        display_in_dropdown_v2=False,
        display_in_grid=False,
    ),
)

BY_KEY: dict[str, Command] = {c.key: c for c in COMMANDS}


def _ids(raw: Any) -> list[int]:
    """Chatroom ids from the body, de-duplicated in order."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CommandRefused("Ids must be a list of chatroom ids.")
    ids: list[int] = []
    for item in raw:
        text = str(item).strip() if isinstance(item, int | str) and not isinstance(item, bool) else ""
        if not _DIGITS.fullmatch(text) or not 0 < int(text) < 2**63:
            raise CommandRefused(f"'{item}' is not a chatroom id.")
        ids.append(int(text))
    return list(dict.fromkeys(ids))


def run_command(db: SandboxDB, key: Any, raw_ids: Any, raw_params: Any, now: datetime, user: str) -> str:
    """Check and run one command; returns its message or raises CommandRefused with the reason."""
    command = BY_KEY.get(key) if isinstance(key, str) else None
    if command is None:
        raise CommandRefused(f"There is no command '{key}'.")
    ids = _ids(raw_ids)
    problem = command.entity_error(len(ids))
    if problem:
        raise CommandRefused(problem)
    if raw_params is None:
        raw_params = []
    if not isinstance(raw_params, list):
        raise CommandRefused("Parameters must be a list.")
    params = command.parse_parameters(raw_params)
    with db.transaction():  # the ids checked are the ids the effect sees
        if ids:
            existing = db.existing_ids(ids)
            missing = [i for i in ids if i not in existing]
            if missing:
                raise CommandRefused("No chatroom " + ", ".join(str(i) for i in missing) + ".")
        return command.apply(db, ids, params, now.replace(microsecond=0), user)
