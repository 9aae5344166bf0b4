"""Typed search filters, turned into the documented query string.

The direction parameter is `dir`; which values a server reads (`Ascending/Descending`, `1/-1`, `0/1`)
the documents contradict, so `paging_params` starts with the enum's names and the client replaces
them with the form the server was seen to understand (`dialect.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.nexudus.entity import CHATROOMS
from bot.nexudus.timecodec import TimeCodec

MAX_PAGE_SIZE = 1000

# Properties a search may order by (the record's documented fields).
ORDERABLE = ("Id", "Name", "Active", "LastAgentVisit", "CreatedOn", "UpdatedOn", "BusinessId")


class Direction(StrEnum):
    ASCENDING = "Ascending"
    DESCENDING = "Descending"


class ChatRoomFilters(BaseModel):
    """Every documented search filter and range filter of `GET /api/support/chatrooms`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int | None = Field(default=None, ge=1)
    active: bool | None = None
    business: int | None = Field(default=None, ge=1)
    last_agent_visit: datetime | None = None
    name: str | None = None
    users: int | None = Field(default=None, ge=1)
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    visited_from: datetime | None = None
    visited_to: datetime | None = None

    def to_params(self, codec: TimeCodec) -> dict[str, str]:
        """The query-string parameters, named as the reference names them (`ChatRoom_Active`, …)."""
        f = CHATROOMS.filter
        params: dict[str, str] = {}
        if self.id is not None:
            params["Id"] = str(self.id)
        if self.active is not None:
            params[f("Active")] = "true" if self.active else "false"
        if self.business is not None:
            params[f("Business")] = str(self.business)
        if self.last_agent_visit is not None:
            params[f("LastAgentVisit")] = codec.to_filter(self.last_agent_visit)
        if self.name is not None:
            params[f("Name")] = self.name
        if self.users is not None:
            params[f("Users")] = str(self.users)
        ranges = (
            ("CreatedOn", self.created_from, self.created_to),
            ("UpdatedOn", self.updated_from, self.updated_to),
            ("LastAgentVisit", self.visited_from, self.visited_to),
        )
        for prop, low, high in ranges:
            if low is not None:
                params["From_" + f(prop)] = codec.to_filter(low)
            if high is not None:
                params["To_" + f(prop)] = codec.to_filter(high)
        return params


def paging_params(page: int, size: int, order_by: str, direction: Direction) -> dict[str, str]:
    """`page`, `size`, `orderby` and `dir`, checked against the documented bounds."""
    if page < 1:
        raise ValueError("page must be 1 or more")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")
    return {"page": str(page), "size": str(size), "orderby": order_by, "dir": Direction(direction).value}


def ids_param(ids: Iterable[int]) -> str:
    """`[1,2,3]`, the value of both documented find-by-ids forms (`ChatRoom_Id=` and `id=`)."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
