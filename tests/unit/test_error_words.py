"""Every exception the app defines reaches a Slack user in words (bot/slack/errors.py:describe), never as
":boom: Something went wrong". New exception classes fail this test until they are given words here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot
from bot.alerts import CycleFailed
from bot.digests import PublishRefused
from bot.locks import LockTimeout, SharedStateUnavailable
from bot.nexudus import errors as nx
from bot.nexudus.auth import NoTokenEndpoint, TokenRefused
from bot.nexudus.models import ChatRoom, FieldError
from bot.services import (
    ChatroomBusy,
    CredentialsRejected,
    DigestGone,
    InvalidLogin,
    LoginExpired,
    MissingRole,
    NotLoggedIn,
    SubscriptionGone,
    UnknownCommand,
)
from bot.slack.errors import describe
from bot.slack.grammar import GrammarError
from bot.slack.lanes import TooManyPending
from bot.slack.metadata import BadMetadata, OutOfDate
from bot.store import (
    DatabaseFull,
    PoolExhausted,
    StoreDamaged,
    StoreError,
    StoreKeyMismatch,
    StoreSchemaBehind,
    StoreUnavailable,
    Subscription,
)
from bot.subscriptions import EscalationIncomplete, EscalationNotLater, NoSuchSubscription, NotTheirs, SameAlertsExist

# Local tools with their own output (the sandbox answers HTTP, the console prints to a terminal).
NOT_SLACK = ("bot.sandbox", "bot.console", "bot.__main__")

SUB = Subscription(
    team_id="T0001",
    channel_id="C0ALERTS",
    created_by="U0001",
    threshold_minutes=60,
    created_at=datetime(2026, 11, 25, tzinfo=UTC),
)
ROOM = ChatRoom.model_validate({"Id": 1000001, "Name": "Front desk", "UpdatedOn": "2026-11-25T10:00:00Z"})


def _hidden() -> Exception:
    from bot.nexudus.models import Command
    from bot.slack.listeners.run import HiddenCommand

    return HiddenCommand(Command(key="REINDEX", name="Reindex"))


SAMPLES: dict[str, Callable[[], BaseException]] = {
    "NexudusError": lambda: nx.NexudusError("Nexudus refused it."),
    "NotAuthorised": lambda: nx.NotAuthorised("ChatRoom-Edit", "edit chatroom 1000001"),
    "NotFound": lambda: nx.NotFound(1000001),
    "ValidationFailed": lambda: nx.ValidationFailed("bad", [FieldError(PropertyName="Name", Message="is required")]),
    "CommandFailed": lambda: nx.CommandFailed("The command failed."),
    "Conflict": lambda: nx.Conflict(ROOM),
    "RateLimited": lambda: nx.RateLimited(3),
    "Unavailable": lambda: nx.Unavailable("HTTP 503"),
    "UnexpectedResponse": lambda: nx.UnexpectedResponse(418, "teapot"),
    "NotLoggedIn": NotLoggedIn,
    "MissingRole": lambda: MissingRole("ChatRoom-Delete", "delete chatrooms"),
    "CredentialsRejected": CredentialsRejected,
    "InvalidLogin": InvalidLogin,
    "UnknownCommand": lambda: UnknownCommand("NOPE"),
    "SubscriptionGone": lambda: SubscriptionGone("snooze"),
    "DigestGone": DigestGone,
    "BadMetadata": BadMetadata,
    "OutOfDate": lambda: OutOfDate("That button carries no valid chatroom id."),
    "GrammarError": lambda: GrammarError("`lsit` is not a command.", "`/chatrooms list [filters]`"),
    "HiddenCommand": _hidden,
    "TokenRefused": lambda: TokenRefused("invalid_grant", "A two-factor (TOTP) code is required.", needs_code=True),
    "NoTokenEndpoint": NoTokenEndpoint,
    "LoginExpired": LoginExpired,
    "StoreError": lambda: StoreError("cannot open the store file var/store.sqlite: Permission denied."),
    "StoreDamaged": lambda: StoreDamaged(Path("var/store.sqlite"), "database disk image is malformed"),
    "StoreKeyMismatch": lambda: StoreKeyMismatch(
        "This app process cannot read saved Nexudus logins: the store was re-encrypted with a newer key."
    ),
    "StoreSchemaBehind": lambda: StoreSchemaBehind(
        "The database postgresql+psycopg://app:***@db/app has no schema yet; run `python -m bot migrate`."
    ),
    "StoreUnavailable": lambda: StoreUnavailable(
        "cannot reach the database postgresql+psycopg://app:***@db/app: connection refused."
    ),
    "DatabaseFull": lambda: DatabaseFull(
        "PostgreSQL at postgresql+psycopg://app:***@db/app is running but refused another connection: it has reached "
        "its max_connections (it said: FATAL: sorry, too many clients already)."
    ),
    "PoolExhausted": lambda: PoolExhausted(
        "all 8 database connections of this process (DATABASE_POOL_SIZE=4 + DATABASE_MAX_OVERFLOW=4) stayed in use."
    ),
    "QuotaExhausted": lambda: nx.QuotaExhausted("day", 5000, datetime(2026, 12, 2, 9, 0, tzinfo=UTC), writes=True),
    "ChatroomBusy": lambda: ChatroomBusy(1000001),
    "LockTimeout": lambda: LockTimeout("chatroom:1000001", 30.0),
    "SharedStateUnavailable": lambda: SharedStateUnavailable("lock chatroom:1000001", ConnectionError("refused")),
    "TooManyPending": lambda: TooManyPending(10),
    "PublishRefused": lambda: PublishRefused("not_in_channel", "C0ALERTS"),
    "CycleFailed": lambda: CycleFailed(PublishRefused("not_in_channel", "C0ALERTS"), SUB),
    "NoSuchSubscription": lambda: NoSuchSubscription("3f9a2c01"),
    "NotTheirs": lambda: NotTheirs("3f9a2c01", "C0ALERTS", "U0001"),
    "EscalationIncomplete": lambda: EscalationIncomplete("escalate-to"),
    "EscalationNotLater": lambda: EscalationNotLater(240, 480),
    "SameAlertsExist": lambda: SameAlertsExist("3f9a2c01", "C0ALERTS"),
}


def app_exceptions() -> dict[str, type[BaseException]]:
    """Every Exception subclass defined in the app's own modules (not the local sandbox or console)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if info.name.startswith(NOT_SLACK):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == info.name:
                found[name] = obj
    return found


def test_every_app_exception_has_a_sample_here() -> None:
    found = app_exceptions()
    assert set(found) == set(SAMPLES), "give new exceptions words in describe() and a sample in SAMPLES"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_app_exception_reaches_the_user_in_words(name: str) -> None:
    exc = SAMPLES[name]()
    assert type(exc).__name__ == name
    message = describe(exc)
    assert "Something went wrong" not in message.text, name
    assert len(message.text) > 20


def test_an_unknown_subscription_on_a_snooze_button_is_explained() -> None:
    text = describe(SubscriptionGone("snooze")).text
    assert "removed" in text and "snooze" in text and "/chatrooms alerts" in text


def test_an_unexpected_error_still_gets_the_generic_answer() -> None:
    assert "Something went wrong" in describe(ZeroDivisionError("x")).text


def test_a_failed_cycle_is_worded_for_its_channel_with_what_to_do() -> None:
    """The words `alerts.failure_text` used to build, now describe()'s, unchanged."""
    refused = describe(CycleFailed(PublishRefused("not_in_channel", "C0ALERTS"), SUB)).text
    assert refused == (
        "Slack refused to post in <#C0ALERTS> (not_in_channel). Invite the app to the channel "
        f"(`/invite @chatrooms`) or remove these alerts with `/chatrooms alerts unsubscribe {SUB.id}`."
    )
    assert (
        describe(CycleFailed(PublishRefused("internal_error"), SUB)).text
        == "Slack refused the message (internal_error)."
    )
    slow = describe(CycleFailed(nx.Unavailable("HTTP 503"), SUB)).text
    assert (
        slow == ":hourglass: Nexudus is unavailable right now (HTTP 503). The next check runs as usual; "
        "nothing needs doing here."
    )


def test_shared_state_unavailable_carries_data_and_describe_words_it() -> None:
    """Data only (what, the cause's type): the words, and nothing of the Redis URL, are describe()'s."""
    exc = SharedStateUnavailable("lock chatroom:1000001", ConnectionError("redis://:pa55word@10.0.0.5:6379 refused"))
    assert (exc.what, exc.cause) == ("lock chatroom:1000001", "ConnectionError")
    assert "pa55word" not in str(exc) and "Redis" not in str(exc)
    text = describe(exc).text
    assert "could not coordinate this with its other processes" in text
    assert "nothing was sent to Nexudus" in text and "pa55word" not in text


def test_a_refused_login_is_worded_by_describe_for_each_reason() -> None:
    """InvalidLogin carries the reason only; the words, under the right field, come from describe()."""
    refused = InvalidLogin()
    assert refused.field is None and "did not accept that e-mail and password" in describe(refused).text
    code = InvalidLogin("code", "A two-factor (TOTP) code is required.")
    assert code.field == "code" and describe(code).text == "A two-factor (TOTP) code is required."
    no_token = InvalidLogin("no_token_endpoint")
    assert no_token.field is None and "NEXUDUS_AUTH=auto or basic" in describe(no_token).text
    assert str(refused) == "refused"  # no sentence in the exception itself
