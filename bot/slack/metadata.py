"""State that must survive a click, carried in a modal's `private_metadata`.

It comes back from Slack as user-controlled input, so it is parsed by pydantic and anything that does
not validate is refused (a forged or truncated value never reaches a service).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.slack.limits import MAX_PRIVATE_METADATA


class BadMetadata(Exception):
    """`private_metadata` was missing, truncated or forged."""

    def __init__(self) -> None:
        super().__init__("This form is out of date or was altered. Close it and start again.")


class OutOfDate(Exception):
    """A button or menu value that is forged or from an older version of the app; `str()` says what to do."""


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    response_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    channel_id: str | None = Field(default=None, max_length=30)

    def dump(self) -> str:
        text = self.model_dump_json(exclude_none=True)
        if len(text) > MAX_PRIVATE_METADATA:
            raise ValueError("private_metadata too long")
        return text

    @classmethod
    def load(cls, raw: object) -> Self:
        if not isinstance(raw, str) or not raw or len(raw) > MAX_PRIVATE_METADATA:
            raise BadMetadata()
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise BadMetadata() from None


class CreateContext(Metadata):
    pass


class EditContext(Metadata):
    chatroom_id: int = Field(ge=1)
    updated_on: datetime | None = None
    fingerprint: str = Field(max_length=64)
    # Digest of each field as the form showed it: a field counts as changed only if it differs.
    initial: dict[str, Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=dict, max_length=10)


class DeleteContext(Metadata):
    chatroom_id: int = Field(ge=1)
    name: str = Field(default="", max_length=300)
    card_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(default_factory=list, max_length=10)
    """The chatrooms of the card message the Delete button was on (empty: not from a card)."""
    list_page: str | None = Field(default=None, max_length=250)
    """The command text of the list page whose row menu it came from, to redraw that page after."""


class LoginContext(Metadata):
    pass


class RunContext(Metadata):
    """The run modal's state: which command the form was built for and its entity rule and parameter
    kinds, so the submission's ack can check everything without calling Nexudus. The chatroom ids
    come from the modal's picker; `digest` detects a command that changed while the form was open."""

    key: str | None = Field(default=None, min_length=1, max_length=100)
    name: str = Field(default="", max_length=100)
    pick: bool = False  # the modal offers the command select
    one: bool = False
    two: bool = False
    many: bool = False
    needs: bool = True
    kinds: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{1,8}$")]] = Field(
        default_factory=list, max_length=100
    )
    runnable: bool = True  # False when the command asks for more parameters than a modal holds
    digest: str = Field(default="", max_length=16, pattern=r"^[0-9a-f]*$")
