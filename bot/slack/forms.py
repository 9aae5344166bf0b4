"""A Nexudus command's `RequiresParameters` ↔ Block Kit inputs, and a submission → typed parameter values.

Pure functions, so the ack of a submission can check every value within Slack's 3 seconds and the
property tests can throw anything at them.

* Each parameter becomes one `input` block whose block id (== action id) is `p.<scope>.<index>`: the
  position, never the name (names may be empty, duplicated or unicode). `scope` is the command's
  form digest, so switching commands in an open modal gives fresh blocks and no stale state.
* `PARAMETER_TYPES` has one row per kind of parameter: the Nexudus type names it serves, the input
  it is asked with, how a submitted value is read and checked, and how a sent value is shown again
  (adding a type is one row). Type names match case-insensitively, ignoring a `System.` prefix and a
  nullable `?`. A type the app does not know is a plain text input whose text is sent as typed — a
  new Nexudus type never breaks the form. Known extra types (`EmailAddress`, `Url`, `Guid`) get light
  validation.
* Every parameter is required: Nexudus lists them as `RequiresParameters` and has no way to mark
  one optional, so the form never says "optional" and then lets Nexudus refuse an empty value.
  Text-like parameters (string and unknown types) are sent as typed, but not blank.
* `Number` is read as a decimal (it may carry a fraction; Nexudus refuses it if it wanted a whole one).
* Values go to Nexudus as strings in `RequiresParameters` order: `true`/`false`, canonical integers
  and decimals, date-times in the space's wall clock with the `Z` Nexudus writes (`TimeCodec`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
MAX_EMAIL = 254  # RFC 5321's longest address
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


Result = tuple[str | None, str | None]  # (the wire string, None), or (None, a message for the user)


# ------------------------------------------------------------------------------- reading a value
def _typed(check: Callable[[str], Result], *, strip: bool = True) -> Callable[[dict[str, Any], tzinfo], Result]:
    """A reader for inputs that hold typed text: the text (stripped unless `strip=False`) → `check`."""

    def read(entry: dict[str, Any], zone: tzinfo) -> Result:
        raw = entry.get("value")
        if raw is not None and not isinstance(raw, str):
            return None, "This value could not be read; enter it again."
        text = raw or ""
        return check(text.strip() if strip else text)

    return read


def _text(text: str) -> Result:
    if not text.strip():
        return None, "Enter a value: Nexudus needs every parameter of this command."
    if len(text) > MAX_INPUT_LENGTH:
        return None, f"At most {MAX_INPUT_LENGTH} characters."
    return text, None


def _boolean(entry: dict[str, Any], zone: tzinfo) -> Result:
    option = entry.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    if value in ("true", "false"):
        return str(value), None
    return None, "Choose Yes or No."


def _integer(text: str, bounds: tuple[int, int]) -> Result:
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


def _decimal(text: str) -> Result:
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


def _datetime(entry: dict[str, Any], zone: tzinfo) -> Result:
    raw = entry.get("selected_date_time")
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


def _email(text: str) -> Result:
    if _EMAIL.fullmatch(text) and len(text) <= MAX_EMAIL:
        return text, None
    return None, "Enter an e-mail address, like name@example.com."


def _url(text: str) -> Result:
    if _URL.fullmatch(text) and len(text) <= MAX_INPUT_LENGTH:
        return text, None
    return None, "Enter a web address starting with https://."


def _guid(text: str) -> Result:
    try:
        return str(uuid.UUID(text)), None
    except ValueError:
        return None, "Enter an identifier like 3f2504e0-4f89-11d3-9a0c-0305e82c3301."


# --------------------------------------------------------------------------- showing a value again
Prefill = Callable[[str, tzinfo], dict[str, Any]]


def _prefill_text(cut: Callable[[str], str]) -> Prefill:
    return lambda value, zone: {"initial_value": cut(value)} if value else {}


_PREFILL_AS_TYPED = _prefill_text(lambda value: value[:MAX_INPUT_LENGTH])


def _prefill_boolean(value: str, zone: tzinfo) -> dict[str, Any]:
    return {"initial_option": _YES if value == "true" else _NO} if value in ("true", "false") else {}


def _prefill_integer(bounds: tuple[int, int]) -> Prefill:
    def prefill(value: str, zone: tzinfo) -> dict[str, Any]:
        if _INTEGER.fullmatch(value.strip()) and bounds[0] <= int(value) <= bounds[1]:
            return {"initial_value": str(int(value))}
        return {}

    return prefill


def _prefill_decimal(value: str, zone: tzinfo) -> dict[str, Any]:
    return {"initial_value": value.strip()} if _decimal(value)[1] is None else {}


def _prefill_datetime(value: str, zone: tzinfo) -> dict[str, Any]:
    """A wire date-time → the unix time a datetimepicker starts at (nothing when unreadable)."""
    if not value:
        return {}
    try:
        when = TimeCodec(zone).parse(value)
    except (ValueError, OverflowError):
        return {}
    if when is None or not MIN_YEAR <= when.year <= MAX_YEAR:
        return {}
    stamp = int(when.timestamp())
    return {"initial_date_time": stamp} if 0 <= stamp <= MAX_DATE_TIME else {}  # Slack's picker: 1970..2286 only


# ---------------------------------------------------------------------- one row per parameter type
@dataclass(frozen=True)
class ParameterType:
    """How one kind of Nexudus parameter is asked for, read back and shown again. A new type is one row."""

    description: str  # what the user is asked for, in words (the hint)
    names: tuple[str, ...]  # the Nexudus `Type` names it serves: lowercase, without `System.` or `?`
    element: dict[str, Any]  # the Block Kit input element (each field adds its action_id)
    read: Callable[[dict[str, Any], tzinfo], Result]  # a submitted state entry → its wire string, or a message
    prefill: Prefill  # a wire string → the element's initial value ({} when it cannot be shown)
    unshown: str = ""  # the hint's note when a value cannot be shown ({value} is the value)


_TEXT_INPUT = {"type": "plain_text_input", "max_length": MAX_INPUT_LENGTH}
_YES = {"text": plain("Yes"), "value": "true"}
_NO = {"text": plain("No"), "value": "false"}


def _whole_number(bounds: tuple[int, int]) -> dict[str, Any]:
    low, high = bounds
    return {"type": "number_input", "is_decimal_allowed": False, "min_value": str(low), "max_value": str(high)}


PARAMETER_TYPES: dict[Kind, ParameterType] = {
    Kind.TEXT: ParameterType(
        "Text",
        ("string", "text", "str", "char", "multilinestring", "html"),
        _TEXT_INPUT,
        _typed(_text, strip=False),
        _PREFILL_AS_TYPED,
    ),
    Kind.BOOLEAN: ParameterType(
        "Yes or no",
        ("boolean", "bool", "bit"),
        {"type": "radio_buttons", "options": [_YES, _NO]},
        _boolean,
        _prefill_boolean,
    ),
    Kind.INTEGER: ParameterType(
        "Whole number",
        ("int32", "int", "integer", "int16", "short", "byte", "sbyte", "uint16"),
        _whole_number(INT32),
        _typed(lambda text: _integer(text, INT32)),
        _prefill_integer(INT32),
    ),
    Kind.LONG: ParameterType(
        "Whole number",
        ("int64", "long", "uint32", "bigint"),
        _whole_number(INT64),
        _typed(lambda text: _integer(text, INT64)),
        _prefill_integer(INT64),
    ),
    Kind.DECIMAL: ParameterType(
        "Number",
        ("decimal", "double", "float", "single", "money", "currency", "number"),
        {"type": "number_input", "is_decimal_allowed": True},
        _typed(_decimal),
        _prefill_decimal,
    ),
    Kind.DATETIME: ParameterType(
        "Date and time",
        ("datetime", "date", "datetimeoffset", "smalldatetime"),
        {"type": "datetimepicker"},
        _datetime,
        _prefill_datetime,
        "{value} cannot be shown in Slack's date picker: pick the date again",
    ),
    # Known extra types: text inputs with light validation.
    Kind.EMAIL: ParameterType(
        "E-mail address",
        ("emailaddress", "email"),
        {"type": "email_text_input"},
        _typed(_email),
        _prefill_text(lambda value: clip(value, MAX_EMAIL)),
    ),
    Kind.URL: ParameterType(
        "Web address",
        ("url", "uri"),
        {"type": "url_text_input"},
        _typed(_url),
        _prefill_text(lambda value: clip(value, MAX_INPUT_LENGTH)),
    ),
    Kind.GUID: ParameterType("Identifier (GUID)", ("guid", "uuid"), _TEXT_INPUT, _typed(_guid), _PREFILL_AS_TYPED),
    # A type the app does not know: sent as typed, never blank.
    Kind.OTHER: ParameterType("Sent as typed", (), _TEXT_INPUT, _typed(_text, strip=False), _PREFILL_AS_TYPED),
}
TYPE_ALIASES: dict[str, Kind] = {name: kind for kind, spec in PARAMETER_TYPES.items() for name in spec.names}
TEXT_KINDS = frozenset({Kind.TEXT, Kind.OTHER})  # sent exactly as typed


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
    description = PARAMETER_TYPES[kind].description
    return f"{description} ({parameter.type or 'no type'})" if kind is Kind.OTHER else description


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
    spec = PARAMETER_TYPES[kind]
    block_id = block_id_for(index, scope)
    element: dict[str, Any] = {"action_id": block_id, **copy.deepcopy(spec.element)}
    shown = spec.prefill(initial, zone) if initial is not None else {}
    element.update(shown)
    type_note = f"Nexudus type {parameter.type or '(none)'}"
    hint = f"{describe_type(parameter)} · {type_note}" if kind is not Kind.OTHER else type_note + ": sent as typed"
    if initial and not shown and spec.unshown:
        hint = f"{spec.unshown.format(value=clip(initial, 40))} · {hint}"
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


def convert(kind: Kind, entry: dict[str, Any], zone: tzinfo = UTC) -> Result:
    """One field's state entry → its wire string, or a message for the user."""
    return PARAMETER_TYPES[kind].read(entry, zone)


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
