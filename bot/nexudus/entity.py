"""Everything the adapter knows that is specific to one Nexudus entity, in one place.

Nexudus marks ChatRooms deprecated in favour of community threads; every entity follows the same REST
conventions (`/api/<area>/<plural>`, `<Entity>_<Property>` filters, `<Entity>-<Action>` roles), so adding
another entity means another `EntitySpec` here, not another client.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntitySpec:
    path: str
    """Under the API base, e.g. `/support/chatrooms`."""
    prefix: str
    """Filter and role prefix, e.g. `ChatRoom` (`ChatRoom_Active`, `ChatRoom-List`)."""
    noun: str
    """For messages: "chatroom"."""
    read_only: frozenset[str]
    """Properties Nexudus computes; a PUT never sends them back."""

    def role(self, action: str) -> str:
        """`List`, `Read`, `Create`, `Edit`, `Delete` → the role Nexudus checks."""
        return f"{self.prefix}-{action}"

    def filter(self, prop: str) -> str:
        return f"{self.prefix}_{prop}"


CHATROOMS = EntitySpec(
    path="/support/chatrooms",
    prefix="ChatRoom",
    noun="chatroom",
    read_only=frozenset(
        {
            "CreatedOn",
            "UpdatedOn",
            "UpdatedBy",
            "UniqueId",
            "Business",
            # Computed fields some servers add to every record (`IsNew`, `ToStringText`,
            # `LocalizationDetails`); `AddedUsers`/`RemovedUsers` are change lists a PUT would apply on
            # top of `Users`, which is always sent whole.
            "IsNew",
            "ToStringText",
            "LocalizationDetails",
            "AddedUsers",
            "RemovedUsers",
        }
    ),
)
