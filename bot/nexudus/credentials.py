"""A Nexudus login: an e-mail with either a password (HTTP Basic) or OAuth tokens (Bearer).

No secret ever shows in a repr, a log line or an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str = field(default="", repr=False)
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    """When the access token stops working (Nexudus: a week after it was issued)."""
    refresh_expires_at: datetime | None = None
    """When the refresh token stops working (about 15 days; Nexudus does not say, so we assume 14)."""

    @property
    def bearer(self) -> bool:
        return self.access_token is not None

    @property
    def scheme(self) -> str:
        return "Bearer" if self.bearer else "Basic"

    def __repr__(self) -> str:
        secret = "token='***'" if self.bearer else "password='***'"
        return f"Credentials(email={self.email!r}, {secret})"

    __str__ = __repr__
