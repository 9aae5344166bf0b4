"""A Nexudus command's `RequiresParameters` ↔ Block Kit inputs, and a submission → typed parameter values.

Pure functions, so the ack of a submission can check every value within Slack's 3 seconds and the
property tests can throw anything at them.

* Each parameter becomes one `input` block whose block id (== action id) is `p.<scope>.<index>`: the
  position, never the name (names may be empty, duplicated or unicode). `scope` is the command's
  form digest, so switching commands in an open modal gives fresh blocks and no stale state.
* Types are matched case-insensitively, ignoring a `System.` prefix and a nullable `?`, through
  aliases (`TYPE_ALIASES`). A type the app does not know is a plain, optional text input whose text
  is sent as typed — a new Nexudus type never breaks the form. A small table of known extra types
  (`EmailAddress`, `Url`, `Guid`) gets light validation.
* Every parameter is required: Nexudus lists them as `RequiresParameters` and has no way to mark
  one optional, so the form never says "optional" and then lets Nexudus refuse an empty value.
  Text-like parameters (string and unknown types) are sent as typed, but not blank.
* `Number` is read as a decimal (it may carry a fraction; Nexudus refuses it if it wanted a whole one).
* Values go to Nexudus as strings in `RequiresParameters` order: `true`/`false`, canonical integers
  and decimals, date-times in the space's wall clock with the `Z` Nexudus writes (`TimeCodec`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from bot.nexudus.models import Command, CommandParameter
from bot.nexudus.timecodec import TimeCodec
from bot.rules import id_problem
from bot.slack import ids
from bot.slack.limits import MAX_DATE_TIME, MAX_INPUT_LENGTH, MAX_LABEL, MAX_MODAL_BLOCKS, MAX_OPTION_TEXT
from bot.slack.submissions import StateValues, entry
from bot.slack.views.common import Block, clip, plain

# The run modal holds a few fixed blocks (notice, command picker, description, chatrooms, hints):
# the rest of Slack's 100 may be parameters. A command asking for more is sent to Nexudus' own UI.
FIXED_BLOCKS = 10
MAX_FORM_PARAMETERS = MAX_MODAL_BLOCKS - FIXED_BLOCKS
MAX_RUN_CHATROOMS = 100  # as many ids as `/chatrooms run` accepts
MAX_HINT = 150  # Slack allows 2000; a hint is one short line

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_DECIMAL_DIGITS = 28  # .NET decimal: 28-29 significant digits
_INTEGER = re.compile(r"[+-]?[0-9]{1,25}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_SCOPE = re.compile(r"[^A-Za-z0-9_-]")
MIN_YEAR, MAX_YEAR = 1753, 9000  # SQL Server's datetime floor; far enough from year 9999 for any zone


class Kind(StrEnum):
    """How a parameter is asked for and converted. Values are short: they travel in private_metadata."""

    TEXT = "text"
    BOOLEAN = "bool"
    INTEGER = "int"
    LONG = "long"
    DECIMAL = "dec"
    DATETIME = "dt"
    EMAIL = "email"
    URL = "url"
    GUID = "guid"
    OTHER = "other"


TYPE_ALIASES: dict[str, Kind] = {
    **dict.fromkeys(("string", "text", "str", "char", "multilinestring", "html"), Kind.TEXT),
    **dict.fromkeys(("boolean", "bool", "bit"), Kind.BOOLEAN),
    **dict.fromkeys(("int32", "int", "integer", "int16", "short", "byte", "sbyte", "uint16"), Kind.INTEGER),
    **dict.fromkeys(("int64", "long", "uint32", "bigint"), Kind.LONG),
    **dict.fromkeys(("decimal", "double", "float", "single", "money", "currency", "number"), Kind.DECIMAL),
    **dict.fromkeys(("datetime", "date", "datetimeoffset", "smalldatetime"), Kind.DATETIME),
    # Known extra types: text inputs with light validation.
    **dict.fromkeys(("emailaddress", "email"), Kind.EMAIL),
    **dict.fromkeys(("url", "uri"), Kind.URL),
    **dict.fromkeys(("guid", "uuid"), Kind.GUID),
}

TEXT_KINDS = frozenset({Kind.TEXT, Kind.OTHER})
_DESCRIPTIONS = {
    Kind.TEXT: "Text",
    Kind.BOOLEAN: "Yes or no",
    Kind.INTEGER: "Whole number",
    Kind.LONG: "Whole number",
    Kind.DECIMAL: "Number",
    Kind.DATETIME: "Date and time",
    Kind.EMAIL: "E-mail address",
    Kind.URL: "Web address",
    Kind.GUID: "Identifier (GUID)",
    Kind.OTHER: "Sent as typed",
}
_YES = {"text": plain("Yes"), "value": "true"}
_NO = {"text": plain("No"), "value": "false"}


# ------------------------------------------------------------------------------------------ types
def kind_of(type_name: object) -> Kind:
    """The input kind for a Nexudus `Type`: aliases matched case-insensitively, unknown → OTHER."""
    if not isinstance(type_name, str):
        return Kind.OTHER
    name = type_name.strip().lower().removeprefix("system.").removesuffix("?")
    if name.startswith("nullable<") and name.endswith(">"):
        name = name[len("nullable<") : -1].strip().removeprefix("system.")
    return TYPE_ALIASES.get(name, Kind.OTHER)


def describe_type(parameter: CommandParameter) -> str:
    """`Whole number` / `Sent as typed (Colour)`: what the user is asked for, in words."""
    kind = kind_of(parameter.type)
    if kind is Kind.OTHER:
        return f"{_DESCRIPTIONS[kind]} ({parameter.type or 'no type'})"
    return _DESCRIPTIONS[kind]


def parameter_label(parameter: CommandParameter, index: int) -> str:
    name = (parameter.name or "").strip()
    return name or f"Parameter {index + 1}"


def form_digest(command: Command) -> str:
    """A short digest of a command's key and parameters: the form's scope, and a check that the
    command did not change between opening the form and running it."""
    shape = [command.key, [[p.name, p.type] for p in command.requires_parameters]]
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:12]


def block_id_for(index: int, scope: str = "") -> str:
    """The block id (== action id) of parameter `index`; `scope` keeps forms of different commands apart."""
    clean = _SCOPE.sub("", scope)[:40]
    return f"p.{clean}.{index}" if clean else f"p.{index}"


def too_many_parameters(parameters: Sequence[CommandParameter]) -> bool:
    return len(parameters) > MAX_FORM_PARAMETERS


# ------------------------------------------------------------------------------------------ blocks
def parameter_blocks(
    parameters: Sequence[CommandParameter],
    *,
    scope: str = "",
    values: Sequence[str | None] | None = None,
    zone: tzinfo = UTC,
) -> list[Block]:
    """One input block per parameter, in order, prefilled from `values` (wire strings) when given.

    Raises ValueError past `MAX_FORM_PARAMETERS`: the caller must check `too_many_parameters` and say so.
    """
    if too_many_parameters(parameters):
        raise ValueError(f"{len(parameters)} parameters do not fit in a Slack modal")
    given = list(values or [])
    blocks: list[Block] = []
    for index, parameter in enumerate(parameters):
        initial = given[index] if index < len(given) else None
        blocks.append(parameter_block(index, parameter, scope=scope, initial=initial, zone=zone))
    return blocks


def parameter_block(
    index: int, parameter: CommandParameter, *, scope: str = "", initial: str | None = None, zone: tzinfo = UTC
) -> Block:
    """The input for one parameter; `initial` is a value as it would be sent (e.g. `true`, `2026-…Z`)."""
    kind = kind_of(parameter.type)
    block_id = block_id_for(index, scope)
    element: dict[str, Any] = {"action_id": block_id}
    unshown = ""
    if kind is Kind.BOOLEAN:
        element.update(type="radio_buttons", options=[_YES, _NO])
        if initial in ("true", "false"):
            element["initial_option"] = _YES if initial == "true" else _NO
    elif kind in (Kind.INTEGER, Kind.LONG):
        low, high = INT32 if kind is Kind.INTEGER else INT64
        element.update(type="number_input", is_decimal_allowed=False, min_value=str(low), max_value=str(high))
        if initial is not None and _INTEGER.fullmatch(initial.strip()) and low <= int(initial) <= high:
            element["initial_value"] = str(int(initial))
    elif kind is Kind.DECIMAL:
        element.update(type="number_input", is_decimal_allowed=True)
        if initial is not None and _decimal(initial)[1] is None:
            element["initial_value"] = initial.strip()
    elif kind is Kind.DATETIME:
        element["type"] = "datetimepicker"
        stamp = _timestamp_of(initial, zone)
        if stamp is not None:
            element["initial_date_time"] = stamp
        elif initial:
            unshown = f"{clip(initial, 40)} cannot be shown in Slack's date picker: pick the date again"
    elif kind is Kind.EMAIL:
        element["type"] = "email_text_input"
        if initial:
            element["initial_value"] = clip(initial, 254)
    elif kind is Kind.URL:
        element["type"] = "url_text_input"
        if initial:
            element["initial_value"] = clip(initial, MAX_INPUT_LENGTH)
    else:
        element.update(type="plain_text_input", max_length=MAX_INPUT_LENGTH)
        if initial:
            element["initial_value"] = initial[:MAX_INPUT_LENGTH]
    type_note = f"Nexudus type {parameter.type or '(none)'}"
    hint = f"{describe_type(parameter)} · {type_note}" if kind is not Kind.OTHER else type_note + ": sent as typed"
    if unshown:
        hint = f"{unshown} · {hint}"
    return {
        "type": "input",
        "block_id": block_id,
        "optional": False,
        "label": plain(parameter_label(parameter, index), MAX_LABEL),
        "hint": plain(hint, MAX_HINT),
        "element": element,
    }


def chatrooms_block(command: Command | None, selected: Sequence[tuple[int, str]]) -> Block:
    """The chatroom picker: a multi external select searched by name or id, bounded by the entity rule."""
    element: dict[str, Any] = {
        "type": "multi_external_select",
        "action_id": ids.RUN_ROOMS,
        "min_query_length": 1,
        "placeholder": plain("Search by name or id"),
    }
    if command is not None and command.applies_only_to_one_entity:
        most = 1
    elif command is not None and command.applies_only_to_two_entities:
        most = 2
    else:
        most = MAX_RUN_CHATROOMS
    chosen = list(selected)[:MAX_RUN_CHATROOMS]
    # Slack refuses more initial options than max_selected_items. The chatrooms the user named stay
    # (the form's note and the submission's check say how many the command takes), so the picker
    # allows as many as are shown until the user removes some.
    element["max_selected_items"] = max(most, len(chosen))
    if chosen:
        element["initial_options"] = [room_option(i, label) for i, label in chosen]
    optional = command is not None and not command.needs_entities_to_run
    rule = command.entity_rule if command is not None else "as the command needs"
    return {
        "type": "input",
        "block_id": ids.RUN_ROOMS,
        "optional": optional,
        "label": plain("Chatrooms" + (" (optional)" if optional else "")),
        "hint": plain(f"Runs on {rule}.", MAX_HINT),
        "element": element,
    }


def room_option(chatroom_id: int, label: str) -> dict[str, Any]:
    """An option of the chatroom picker: the value is the id, the text names it."""
    text = label if label.endswith(f"#{chatroom_id})") else f"{label} (#{chatroom_id})"
    tail = f" (#{chatroom_id})"
    if len(text) > MAX_OPTION_TEXT:
        text = clip(label, MAX_OPTION_TEXT - len(tail)) + tail
    return {"text": plain(text, MAX_OPTION_TEXT), "value": str(chatroom_id)}


# ------------------------------------------------------------------------------------------ parsing
def parse_values(
    kinds: Sequence[Kind], state: StateValues, *, scope: str = "", zone: tzinfo = UTC
) -> tuple[list[str], dict[str, str]]:
    """Submitted state → one wire string per parameter (in order), or errors keyed by block id.

    Never raises: a missing block, a wrong shape or a wrong type becomes an error under its field.
    """
    values: list[str] = []
    errors: dict[str, str] = {}
    for index, kind in enumerate(kinds):
        block_id = block_id_for(index, scope)
        value, error = convert(kind, entry(state, block_id), zone)
        if error is not None:
            errors[block_id] = error
        else:
            values.append(value or "")
    return values, errors


def parse_parameters(
    parameters: Sequence[CommandParameter], state: StateValues, *, scope: str = "", zone: tzinfo = UTC
) -> tuple[list[tuple[CommandParameter, str]], dict[str, str]]:
    """Submitted state → `(parameter, value)` pairs in `RequiresParameters` order, or per-field errors."""
    values, errors = parse_values([kind_of(p.type) for p in parameters], state, scope=scope, zone=zone)
    if errors:
        return [], errors
    return list(zip(parameters, values, strict=True)), {}


def convert(kind: Kind, entry: dict[str, Any], zone: tzinfo = UTC) -> tuple[str | None, str | None]:
    """One field's state entry → its wire string, or a message for the user."""
    if kind is Kind.BOOLEAN:
        option = entry.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        if value in ("true", "false"):
            return str(value), None
        return None, "Choose Yes or No."
    if kind is Kind.DATETIME:
        return _datetime(entry.get("selected_date_time"), zone)
    raw = entry.get("value")
    if raw is not None and not isinstance(raw, str):
        return None, "This value could not be read; enter it again."
    text = raw or ""
    if kind in TEXT_KINDS:
        if not text.strip():
            return None, "Enter a value: Nexudus needs every parameter of this command."
        if len(text) > MAX_INPUT_LENGTH:
            return None, f"At most {MAX_INPUT_LENGTH} characters."
        return text, None
    text = text.strip()
    if kind in (Kind.INTEGER, Kind.LONG):
        return _integer(text, INT32 if kind is Kind.INTEGER else INT64)
    if kind is Kind.DECIMAL:
        return _decimal(text)
    if kind is Kind.EMAIL:
        if _EMAIL.fullmatch(text) and len(text) <= 254:
            return text, None
        return None, "Enter an e-mail address, like name@example.com."
    if kind is Kind.URL:
        if _URL.fullmatch(text) and len(text) <= MAX_INPUT_LENGTH:
            return text, None
        return None, "Enter a web address starting with https://."
    if kind is Kind.GUID:
        try:
            return str(uuid.UUID(text)), None
        except ValueError:
            return None, "Enter an identifier like 3f2504e0-4f89-11d3-9a0c-0305e82c3301."
    return text, None  # pragma: no cover - every Kind is handled above


def _integer(text: str, bounds: tuple[int, int]) -> tuple[str | None, str | None]:
    if not text:
        return None, "Enter a whole number."
    if not _INTEGER.fullmatch(text):
        if _decimal(text)[1] is None:
            return None, f"Enter a whole number: “{clip(text, 30)}” has a fraction."
        return None, f"“{clip(text, 30)}” is not a whole number."
    number = int(text)
    low, high = bounds
    if not low <= number <= high:
        return None, f"Enter a whole number between {low} and {high}."
    return str(number), None


def _decimal(text: str) -> tuple[str | None, str | None]:
    text = text.strip()
    if not text:
        return None, "Enter a number."
    if len(text) > 100:
        return None, "That number is too long."
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None, f"“{clip(text, 30)}” is not a number."
    if not number.is_finite():
        return None, f"“{clip(text, 30)}” is not a number."
    exponent = number.as_tuple().exponent
    too_big = bool(number) and number.adjusted() >= MAX_DECIMAL_DIGITS
    if not isinstance(exponent, int) or exponent < -MAX_DECIMAL_DIGITS or too_big:
        return None, "That number is too large or has too many decimals."
    return format(number, "f"), None


def _datetime(raw: object, zone: tzinfo) -> tuple[str | None, str | None]:
    if raw is None or raw == "":
        return None, "Pick a date and a time."
    when: datetime | None = None
    try:
        if isinstance(raw, int) and not isinstance(raw, bool):
            when = datetime.fromtimestamp(raw, UTC)
        elif isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,12}", raw.strip()):
            when = datetime.fromtimestamp(int(raw), UTC)
        elif isinstance(raw, str) and len(raw) <= 40:
            when = TimeCodec(zone).parse(raw.strip())
    except (ValueError, OverflowError, OSError):
        when = None
    if when is None:
        return None, f"“{clip(str(raw), 30)}” is not a valid date and time."
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        return None, f"Pick a date between {MIN_YEAR} and {MAX_YEAR}."
    return TimeCodec(zone).to_wire(when), None


def _timestamp_of(value: str | None, zone: tzinfo) -> int | None:
    """A wire date-time → the unix time a datetimepicker starts at (None when unreadable)."""
    if not value:
        return None
    try:
        when = TimeCodec(zone).parse(value)
    except (ValueError, OverflowError):
        return None
    if when is None or not MIN_YEAR <= when.year <= MAX_YEAR:
        return None
    stamp = int(when.timestamp())
    return stamp if 0 <= stamp <= MAX_DATE_TIME else None  # Slack's picker takes 1970..2286 only


def parse_chatroom_ids(state: StateValues) -> tuple[list[int], list[tuple[int, str]], str | None]:
    """The chatroom picker's ids (de-duplicated, in order), their labels, or a message."""
    selected = entry(state, ids.RUN_ROOMS).get("selected_options")
    if selected is None:
        return [], [], None
    if not isinstance(selected, list):
        return [], [], "Choose the chatrooms again."
    chosen: dict[int, str] = {}
    for option in selected:
        value = option.get("value") if isinstance(option, dict) else None
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not text.isdigit():
            return [], [], f"“{clip(text, 30)}” is not a chatroom id."
        problem = id_problem(text, "chatroom id")
        if problem:
            return [], [], f"“{clip(text, 30)}”: {problem}"
        label = option.get("text", {}).get("text") if isinstance(option.get("text"), dict) else None
        chosen.setdefault(int(text), str(label) if label else f"#{text}")
    if len(chosen) > MAX_RUN_CHATROOMS:
        return [], [], f"At most {MAX_RUN_CHATROOMS} chatrooms at a time."
    return list(chosen), list(chosen.items()), None


def rooms_in_view(view: object) -> list[tuple[int, str]]:
    """The chatrooms chosen in an open run modal: its state, or the picker's initial options when the
    state does not carry the picker yet (nothing was touched)."""
    if not isinstance(view, dict):
        return []
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if isinstance(values, dict) and ids.RUN_ROOMS in values:
        return parse_chatroom_ids(values)[1]
    blocks = view.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("block_id") == ids.RUN_ROOMS:
            element = block.get("element")
            initial = element.get("initial_options") if isinstance(element, dict) else None
            return parse_chatroom_ids({ids.RUN_ROOMS: {ids.RUN_ROOMS: {"selected_options": initial}}})[1]
    return []


def selected_command_key(state: StateValues) -> str | None:
    """The key chosen in the command picker, if any."""
    option = entry(state, ids.RUN_PICK).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) and value else None
