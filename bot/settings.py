"""The one place that reads the environment: every other module gets its settings passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REAL_NEXUDUS_URL = "https://spaces.nexudus.com/api"
REAL_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(SystemExit):
    """Raised at start-up when a setting is invalid; its text names the variable, never its value."""


class Settings(BaseSettings):
    """Everything configurable, read from the environment (and an optional `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Nexudus
    nexudus_base_url: str = REAL_NEXUDUS_URL
    nexudus_auth: Literal["basic", "bearer", "auto"] = Field(
        "bearer",
        description="bearer: token logins, no password stored; basic: the password, stored encrypted; "
        "auto: tokens where the server offers /api/token, else the password.",
    )
    nexudus_time_zone: str = Field(
        "UTC",
        description="Leave at UTC (REST records are UTC); set the space's zone only when `python -m bot doctor` "
        "finds local times with a 'Z'.",
    )
    space_time_zone: str | None = Field(
        None,
        description="The zone people read and type times in (cards, `visited-before:10:30`); defaults to "
        "NEXUDUS_TIME_ZONE. Independent of how Nexudus stamps records.",
    )
    nexudus_connect_timeout: float = Field(5.0, gt=0, le=120)
    nexudus_read_timeout: float = Field(20.0, gt=0, le=300)
    nexudus_retries: int = Field(3, ge=0, le=10)
    nexudus_backoff: float = Field(0.3, ge=0, le=30)
    nexudus_max_retry_after: float = Field(30.0, ge=0, le=600)
    nexudus_page_size: int = Field(10, ge=1, le=1000, description="rows per list page (Slack shows at most 40)")
    nexudus_pacing: bool = True
    nexudus_password: SecretStr | None = Field(
        None, description="Only for `python -m bot doctor` (instead of its prompt); the app never reads it."
    )

    # Slack
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = REAL_SLACK_API_URL
    # Distributed app (HTTP mode): Slack's OAuth flow installs it in many workspaces
    slack_client_id: str | None = Field(
        None, description="With SLACK_CLIENT_SECRET: serve /slack/install and /slack/oauth_redirect (many workspaces)."
    )
    slack_client_secret: SecretStr | None = None
    slack_redirect_uri: str | None = Field(
        None, description="The redirect URL Slack sends installers back to (https://HOST/slack/oauth_redirect)."
    )

    # Store
    store_path: Path = Path("var/store.sqlite")
    store_key: str | None = Field(None, description="A Fernet key (urlsafe base64, 32 bytes).")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql+psycopg://user:password@host:5432/db: keep the store in PostgreSQL (shared by "
        "every process and host) instead of the STORE_PATH file, with the distributed app's installations and "
        "OAuth states. Run `python -m bot migrate` first.",
    )

    @property
    def store_location(self) -> Path | str:
        """Where the store lives: the PostgreSQL URL when DATABASE_URL is set, else the STORE_PATH file."""
        return self.database_url.get_secret_value() if self.database_url else self.store_path

    # Alerts
    alert_interval_seconds: int = Field(300, ge=10, le=86400)
    alert_default_threshold_minutes: int = Field(240, ge=1, le=60 * 24 * 30)

    # HTTP mode
    port: int = Field(3000, ge=1, le=65535)
    log_level: str = "INFO"

    @field_validator("nexudus_time_zone", "space_time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("nexudus_base_url", "slack_api_url", "slack_redirect_uri")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    @model_validator(mode="after")
    def _oauth_pair(self) -> Settings:
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            missing = "slack_client_secret" if self.slack_client_id else "slack_client_id"
            raise ValueError(f"SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: {missing.upper()} is not set")
        return self

    @property
    def oauth(self) -> bool:
        """Installed through Slack's OAuth flow in any number of workspaces (else one, from SLACK_BOT_TOKEN)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def zone(self) -> ZoneInfo:
        """How Nexudus stamps records: UTC, or the space's zone when it sends local times with a `Z`."""
        return ZoneInfo(self.nexudus_time_zone)

    @property
    def display_zone(self) -> ZoneInfo:
        """The zone people read and type times in."""
        return ZoneInfo(self.space_time_zone or self.nexudus_time_zone)


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning a validation error into a message that names each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "_".join(str(part) for part in err["loc"]).upper()
            lines.append(f"  {name}: {err['msg']}" if name else f"  {err['msg']}")
        raise SettingsError("Invalid settings:\n" + "\n".join(lines)) from None
