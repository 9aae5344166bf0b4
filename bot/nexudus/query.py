"""Typed search filters, turned into the documented query string.

The seed documents the direction parameter as `dir` ('ascending' or 'descending', default
`SortDirection.Ascending`) but its example sends `?sort=ascending`, and responses echo
`CurrentSortDirection: 1`. A real client must send the parameter the reference names, so we send
`dir=Ascending` / `dir=Descending` (the enum's member names), never `sort=` nor numbers whose
meaning the docs contradict.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

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
        """The query-string parameters, named as the reference names them."""
        params: dict[str, str] = {}
        if self.id is not None:
            params["Id"] = str(self.id)
        if self.active is not None:
            params["ChatRoom_Active"] = "true" if self.active else "false"
        if self.business is not None:
            params["ChatRoom_Business"] = str(self.business)
        if self.last_agent_visit is not None:
            params["ChatRoom_LastAgentVisit"] = codec.to_filter(self.last_agent_visit)
        if self.name is not None:
            params["ChatRoom_Name"] = self.name
        if self.users is not None:
            params["ChatRoom_Users"] = str(self.users)
        ranges = (
            ("From_ChatRoom_CreatedOn", self.created_from),
            ("To_ChatRoom_CreatedOn", self.created_to),
            ("From_ChatRoom_UpdatedOn", self.updated_from),
            ("To_ChatRoom_UpdatedOn", self.updated_to),
            ("From_ChatRoom_LastAgentVisit", self.visited_from),
            ("To_ChatRoom_LastAgentVisit", self.visited_to),
        )
        for name, value in ranges:
            if value is not None:
                params[name] = codec.to_filter(value)
        return params


def paging_params(page: int, size: int, order_by: str, direction: Direction) -> dict[str, str]:
    """`page`, `size`, `orderby` and `dir`, checked against the documented bounds."""
    if page < 1:
        raise ValueError("page must be 1 or more")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")
    return {"page": str(page), "size": str(size), "orderby": order_by, "dir": Direction(direction).value}


def ids_param(ids: Iterable[int]) -> str:
    """`ChatRoom_Id=[1,2,3]`, the form the reference documents for find-by-ids."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
