"""Nexudus' token endpoint: a login (with a 2FA code when the account has one) for tokens, and refreshes.

`POST {base}/token` takes a **form-encoded** body (`grant_type=password&username=…&password=…[&totp=…]`
or `grant_type=refresh_token&refresh_token=…`) and answers `access_token`, `token_type`, `expires_in`
(a week) and `refresh_token` (about 15 days). A refused login answers `{"error": "invalid_grant", …}`.
The password is sent once, here, and never kept: the app stores the tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import requests
from requests.auth import AuthBase

from bot import metrics
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, Unavailable, UnexpectedResponse

REFRESH_LIFETIME = timedelta(days=14)
"""Nexudus says refresh tokens last "about 15 days" and does not send their expiry: assume a day less."""
REFRESH_MARGIN = timedelta(days=1)
"""Refresh an access token this long before it expires, so a request never meets an expired one."""


class TokenRefused(NexudusError):
    """The token endpoint refused the login or the refresh (`invalid_grant` and friends)."""

    def __init__(self, error: str, description: str = "", *, needs_code: bool = False) -> None:
        self.error = error
        self.needs_code = needs_code
        if needs_code:
            text = "Nexudus needs a valid two-factor code for this account: type the current code from your app."
        elif error == "invalid_grant":
            text = "Nexudus did not accept that e-mail and password."
        else:
            text = f"Nexudus refused the login ({error})."
        self.description = description
        super().__init__(text)


class NoTokenEndpoint(NexudusError):
    """The server has no `/token` (404/405/unsupported grant): only HTTP Basic can work there."""

    def __init__(self) -> None:
        super().__init__("This Nexudus server does not offer token logins (no /api/token).")


class BearerAuth(AuthBase):
    """`Authorization: Bearer …` on every request; the token never appears in a repr."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth('***')"


def token_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/token"


def _needs_code(description: str) -> bool:
    text = description.lower()
    return any(word in text for word in ("two-factor", "two factor", "2fa", "totp", "verification code"))


def _post(session: requests.Session, base_url: str, form: dict[str, str], timeout: tuple[float, float]) -> Any:
    try:
        response = session.post(token_url(base_url), data=form, timeout=timeout, headers={"Accept": "application/json"})
    except requests.exceptions.ConnectTimeout:
        metrics.NEXUDUS_REQUESTS.labels("connection").inc()
        raise Unavailable("could not connect") from None
    except requests.RequestException as exc:
        metrics.NEXUDUS_REQUESTS.labels("timeout" if isinstance(exc, requests.Timeout) else "error").inc()
        raise Unavailable(type(exc).__name__) from None
    metrics.NEXUDUS_REQUESTS.labels(metrics.nexudus_status(response.status_code)).inc()
    try:
        return _token_answer(response)
    except NexudusError as exc:
        # The status helps the log; the body of a token answer may hold tokens, so it is never kept.
        raise exc.with_answer(response.status_code) from None


def _token_answer(response: requests.Response) -> Any:
    if response.status_code in (404, 405):
        raise NoTokenEndpoint()
    if response.status_code >= 500:
        raise Unavailable(f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise UnexpectedResponse(response.status_code, "the token answer is not JSON") from None
    if not isinstance(data, dict):
        raise UnexpectedResponse(response.status_code, "the token answer is not an object")
    if "error" in data or response.status_code != 200:
        error = str(data.get("error") or f"HTTP {response.status_code}")
        if error == "unsupported_grant_type":
            raise NoTokenEndpoint()
        description = str(data.get("error_description") or "")[:200]
        raise TokenRefused(error, description, needs_code=_needs_code(description))
    return data


def _credentials(email: str, data: dict[str, Any], now: datetime) -> Credentials:
    access, refresh = data.get("access_token"), data.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise UnexpectedResponse(200, "no access_token")
    if str(data.get("token_type") or "bearer").lower() != "bearer":
        raise UnexpectedResponse(200, "the token is not a bearer token")
    try:
        lifetime = float(data.get("expires_in") or 0)
    except (TypeError, ValueError):
        lifetime = 0.0
    return Credentials(
        email=email,
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=now + timedelta(seconds=lifetime or 3600),
        refresh_expires_at=now + REFRESH_LIFETIME,
    )


def exchange_password(
    session: requests.Session,
    base_url: str,
    email: str,
    password: str,
    *,
    now: datetime,
    totp: str | None = None,
    timeout: tuple[float, float] = (5.0, 20.0),
) -> Credentials:
    """Trade a login (and a 2FA code) for tokens. Raises `TokenRefused` or `NoTokenEndpoint`."""
    form = {"grant_type": "password", "username": email, "password": password}
    if totp:
        form["totp"] = totp.strip().replace(" ", "")
    return _credentials(email, _post(session, base_url, form, timeout), now)


def refresh_tokens(
    session: requests.Session,
    base_url: str,
    credentials: Credentials,
    *,
    now: datetime,
    timeout: tuple[float, float] = (5.0, 20.0),
) -> Credentials:
    """New tokens from the refresh token; `TokenRefused` when it is gone or expired."""
    if not credentials.refresh_token:
        raise TokenRefused("invalid_grant", "no refresh token")
    if credentials.refresh_expires_at is not None and now >= credentials.refresh_expires_at:
        raise TokenRefused("invalid_grant", "the refresh token has expired")
    form = {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token}
    fresh = _credentials(credentials.email, _post(session, base_url, form, timeout), now)
    if fresh.refresh_token is None:  # servers may keep the refresh token as it was
        return Credentials(
            email=fresh.email,
            access_token=fresh.access_token,
            refresh_token=credentials.refresh_token,
            expires_at=fresh.expires_at,
            refresh_expires_at=credentials.refresh_expires_at,
        )
    return fresh


def needs_refresh(credentials: Credentials, now: datetime) -> bool:
    return credentials.bearer and credentials.expires_at is not None and now >= credentials.expires_at - REFRESH_MARGIN
