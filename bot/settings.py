"""The one place that reads the environment: every other module gets its settings passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.database import PoolBudget

REAL_NEXUDUS_URL = "https://spaces.nexudus.com/api"
REAL_SLACK_API_URL = "https://slack.com/api/"
_POOL = PoolBudget()  # the defaults of DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW and DATABASE_POOL_TIMEOUT


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

    # One pool per process (bot/database.py): the store and the distributed app's installations share it.
    database_pool_size: int = Field(
        _POOL.size, ge=1, le=100, description="PostgreSQL connections each process keeps open once used."
    )
    database_max_overflow: int = Field(
        _POOL.overflow,
        ge=0,
        le=100,
        description="More connections a process may open while all of its DATABASE_POOL_SIZE are busy (closed after).",
    )
    database_pool_timeout: float = Field(
        _POOL.timeout,
        ge=1,
        le=300,
        description="Seconds an operation waits for one of its process's connections before it is refused.",
    )

    @property
    def database_pool(self) -> PoolBudget:
        """This process's share of PostgreSQL's connections (DATABASE_POOL_SIZE, _MAX_OVERFLOW, _POOL_TIMEOUT)."""
        return PoolBudget(self.database_pool_size, self.database_max_overflow, self.database_pool_timeout)

    @property
    def store_location(self) -> Path | str:
        """Where the store lives: the PostgreSQL URL when DATABASE_URL is set, else the STORE_PATH file."""
        return self.database_url.get_secret_value() if self.database_url else self.store_path

    # Distributed mode: unset, everything shared lives in this machine's data directory (STORE_PATH)
    redis_url: str | None = Field(
        None, description="Redis for pacing, chatroom locks and once-only keys shared by every process and host."
    )
    web_concurrency: int | None = Field(None, ge=1, le=64, description="gunicorn web workers (more than 1 needs Redis)")

    # Alerts
    alert_interval_seconds: int = Field(300, ge=10, le=86400)
    alert_default_threshold_minutes: int = Field(240, ge=1, le=60 * 24 * 30)
    # The audit trail keeps entries this many days; older ones are pruned by the alert worker (hourly).
    audit_retention_days: int = Field(365, ge=1, le=3660)
    # The alert history behind `/chatrooms stats` and the daily summary: entries older than this are removed.
    history_retention_days: int = Field(400, ge=1, le=3660)
    # A process whose heartbeat is older than this is dead: a live one tells the users of its unfinished writes.
    inflight_orphan_seconds: int = Field(30, ge=5, le=3600)
    # Processes without the web app (the alert worker, Socket Mode) serve their Prometheus /metrics on this port.
    metrics_port: int | None = Field(None, ge=1, le=65535)

    # HTTP mode
    port: int = Field(3000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # prometheus_client's multiprocess mode (gunicorn workers): bot/gunicorn_conf.py sets it when unset.
    prometheus_multiproc_dir: Path | None = None
    # Set by bot/gunicorn_conf.py and `python -m bot run --workers N` for their workers (leave unset): the file in
    # which the web processes of one host see each other's acks in progress (bot/acks.py, HostBoard).
    acks_board: Path | None = None

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

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        # Any other scheme is refused by the store when it opens, in its own words (bot/store/postgres.py).
        # SQLAlchemy's name for PostgreSQL through psycopg 3 (Heroku-style postgres:// included).
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                value = "postgresql+psycopg://" + value[len(plain) :]
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

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

    @model_validator(mode="after")
    def _pool_holds_two(self) -> Settings:
        if self.database_pool_size + self.database_max_overflow < 2:
            raise ValueError(
                "DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW must be at least 2: the alert worker holds one connection "
                "for its cycle lock while it reads and writes with another"
            )
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


# ------------------------------------------------------------------------------------- web workers
DISTRIBUTED_WORKERS = 4
THREADS = 8

ONE_WORKER_WITHOUT_REDIS = (
    "{workers} web workers were asked for (gunicorn --workers or WEB_CONCURRENCY), but REDIS_URL is not set. "
    "Without Redis each worker process keeps its own once-only keys for modal submissions and Slack's retried "
    "deliveries, so a double-clicked Save or a retried event could run twice (once in each worker). Run one "
    "worker (it serves {threads} requests at once), or set REDIS_URL so every worker shares pacing, chatroom "
    "locks and once-only keys (README: 'Running at scale')."
)


def default_workers(settings: Settings) -> int:
    """WEB_CONCURRENCY when set; else 1 without Redis, DISTRIBUTED_WORKERS with it."""
    if settings.web_concurrency:
        return settings.web_concurrency
    return DISTRIBUTED_WORKERS if settings.redis_url else 1


def worker_refusal(workers: int, settings: Settings) -> str | None:
    """Why `workers` web processes may not run with these settings, or None."""
    if workers > 1 and not settings.redis_url:
        return ONE_WORKER_WITHOUT_REDIS.format(workers=workers, threads=THREADS)
    return None
