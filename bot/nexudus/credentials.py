"""A Nexudus login. The password never shows in a repr, a log line or an error."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(email={self.email!r}, password='***')"

    __str__ = __repr__
