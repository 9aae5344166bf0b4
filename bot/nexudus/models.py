"""Typed models of the records and envelopes the chatroom API documents.

Unknown fields are kept (`extra="allow"`): Nexudus adds fields over time, and a PUT must send back
every property it read. Date-times are parsed through the space's `TimeCodec`, passed as validation
context (`{"codec": ...}`), so the space's zone is applied in one place.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from pydantic.alias_generators import to_pascal

from bot.nexudus.timecodec import UTC_CODEC, TimeCodec


def _codec(info: ValidationInfo) -> TimeCodec:
    context = info.context or {}
    codec = context.get("codec") if isinstance(context, dict) else None
    return codec if isinstance(codec, TimeCodec) else UTC_CODEC


def _parse_datetime(value: Any, info: ValidationInfo) -> datetime | None:
    if value is None or isinstance(value, datetime | str):
        return _codec(info).parse(value)
    raise ValueError("expected a date-time")


NexudusDateTime = Annotated[datetime | None, BeforeValidator(_parse_datetime)]


class NexudusModel(BaseModel):
    """PascalCase on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="allow")


class ChatRoom(NexudusModel):
    """A support chatroom.

    List records carry `Business` and omit `Users`; the single record (GET by id) carries `BusinessId`
    and `Users`. Either may be missing, so both are optional here and `business` resolves the id.
    """

    id: int
    active: bool | None = None
    business_id: int | None = None
    business_ref: Any = Field(default=None, alias="Business")
    name: str | None = None
    last_agent_visit: NexudusDateTime = None
    users: list[int] | None = None
    unique_id: str | None = None
    system_id: str | None = None
    created_on: NexudusDateTime = None
    updated_on: NexudusDateTime = None
    updated_by: str | None = None

    @property
    def business(self) -> int | None:
        """The business id, whichever shape the record came in."""
        if self.business_id is not None:
            return self.business_id
        ref = self.business_ref
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return ref
        if isinstance(ref, str) and ref.isdigit():
            return int(ref)
        if isinstance(ref, dict):
            for key in ("Id", "id", "BusinessId"):
                if isinstance(ref.get(key), int):
                    return int(ref[key])
        return None

    @property
    def business_name(self) -> str | None:
        ref = self.business_ref
        if isinstance(ref, dict):
            name = ref.get("Name")
            return str(name) if name else None
        return None

    @property
    def display_name(self) -> str:
        return self.name or f"Chatroom {self.id}"

    def fingerprint(self) -> str:
        """A digest of the editable content, to spot a change within UpdatedOn's one-second resolution."""
        visit = self.last_agent_visit.astimezone(UTC).isoformat() if self.last_agent_visit else None
        content = [self.name, self.active, self.business, visit, sorted(self.users or []), self.system_id]
        return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()[:16]


class Page(NexudusModel):
    """One page of a search, in the documented envelope."""

    records: list[ChatRoom] = Field(default_factory=list)
    current_page_size: int | None = None
    current_page: int = 1
    current_order_field: str | None = None
    current_sort_direction: int | str | None = None
    first_item: int = 0
    has_next_page: bool = False
    has_previous_page: bool = False
    last_item: int = 0
    page_number: int | None = None
    page_size: int = 25
    total_items: int = 0
    total_pages: int = 0


class FieldError(NexudusModel):
    """One entry of `Errors[]` in a failed action result."""

    attempted_value: Any = None
    message: str = ""
    property_name: str | None = None


class ActionResult(NexudusModel):
    """The envelope every write answers with: create, update, delete, runcommand."""

    status: int | None = None
    was_successful: bool = False
    message: str | None = None
    value: Any = None
    errors: list[FieldError] | None = None
    open_in_dialog: bool | None = None
    open_in_window: bool | None = None
    redirect_url: str | None = Field(default=None, alias="RedirectURL")
    java_script: str | None = Field(default=None, alias="JavaScript")
    updated_on: NexudusDateTime = None
    updated_by: str | None = None

    @property
    def record_id(self) -> int | None:
        value = self.value
        if isinstance(value, dict):
            raw = value.get("Id")
            if isinstance(raw, int):
                return raw
        return None


class CommandParameter(NexudusModel):
    """One entry of a command's `RequiresParameters`: a name and a type such as `string` or `Boolean`."""

    name: str = ""
    type: str = "string"


class Command(NexudusModel):
    """A command that can run on chatrooms, with its entity rules and its parameters."""

    key: str
    name: str = ""
    applies_only_to_multiple_entities: bool = False
    display_in_dropdown: bool = False
    display_in_dropdown_v2: bool = Field(default=False, alias="DisplayInDropdownV2")
    applies_only_to_one_entity: bool = False
    applies_only_to_two_entities: bool = False
    display_in_grid: bool = False
    needs_entities_to_run: bool = True
    order: int = 0
    requires_parameters: list[CommandParameter] = Field(default_factory=list)

    @property
    def visible(self) -> bool:
        """Shown to users when Nexudus shows it anywhere (dropdown, new dropdown or grid)."""
        return self.display_in_dropdown or self.display_in_dropdown_v2 or self.display_in_grid

    def entity_rule_error(self, count: int) -> str | None:
        """Why `count` chatrooms is the wrong number for this command, or None when it is right."""
        if self.applies_only_to_one_entity and count != 1:
            return f"{self.display_name} runs on exactly one chatroom; {_chatrooms(count)} given."
        if self.applies_only_to_two_entities and count != 2:
            return f"{self.display_name} runs on exactly two chatrooms; {_chatrooms(count)} given."
        if self.applies_only_to_multiple_entities and count < 2:
            return f"{self.display_name} runs on two or more chatrooms; {_chatrooms(count)} given."
        if self.needs_entities_to_run and count < 1:
            return f"{self.display_name} needs at least one chatroom; none given."
        return None

    @property
    def entity_rule(self) -> str:
        """A short human description of how many chatrooms the command takes."""
        if self.applies_only_to_one_entity:
            return "exactly 1 chatroom"
        if self.applies_only_to_two_entities:
            return "exactly 2 chatrooms"
        if self.applies_only_to_multiple_entities:
            return "2 or more chatrooms"
        if self.needs_entities_to_run:
            return "1 or more chatrooms"
        return "any number of chatrooms (none needed)"

    @property
    def display_name(self) -> str:
        return self.name or self.key


def _chatrooms(count: int) -> str:
    return "none" if count == 0 else f"{count} chatroom" + ("" if count == 1 else "s")
