"""`python -m bot doctor` against the sandbox in every dialect, and against what goes wrong on real accounts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.console.fake_slack import FakeSlack
from bot.doctor import main
from bot.sandbox.dialects import DIALECT_NAMES, LOCAL_ZONE, TOTP_SECRET, dialect, totp
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings

pytestmark = pytest.mark.integration

ADMIN = ("admin@sandbox.local", "sandbox-admin")
ROOT = Path(__file__).resolve().parents[2]


def settings(server: SandboxServer, password: str, **extra: Any) -> Settings:
    return Settings(
        nexudus_base_url=server.url,
        nexudus_password=password,  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )


def doctor(server: SandboxServer, *args: str, password: str = ADMIN[1], **extra: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--email", ADMIN[0], *args], settings=settings(server, password, **extra), out=out)
    return code, out.getvalue()


def line(output: str, name: str) -> str:
    found = [text for text in output.splitlines() if text[2:].startswith(name + ":")]
    assert found, f"no {name!r} line in:\n{output}"
    return found[0]


@pytest.fixture
def seed() -> Iterator[SandboxServer]:
    with SandboxServer(config=SandboxConfig(throttle=False), chatrooms=20) as server:
        yield server


EXPECTED = {
    "ids-array": ("`id=[…]` → bare array", "`dir=Ascending|Descending`"),
    "dir-signed": ("`ChatRoom_Id=[…]` → paged envelope", "`dir=1|-1`"),
    "dir-binary": ("`ChatRoom_Id=[…]` → paged envelope", "`dir=0|1`"),
    "reference": ("`id=[…]` → bare array", "`dir=1|-1`"),
}


@pytest.mark.parametrize("name", DIALECT_NAMES)
def test_the_doctor_passes_and_names_the_dialect_in_every_dialect(name: str) -> None:
    extra: dict[str, Any] = {}
    if name == "no-token":
        extra["nexudus_auth"] = "auto"
    if name == "local-times":
        extra["nexudus_time_zone"] = LOCAL_ZONE  # as the doctor advises (see the next test)
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect(name)), chatrooms=20) as server:
        code, output = doctor(server, "--write", **extra)
        assert code == 0, output
        ids, direction = EXPECTED.get(name, ("`ChatRoom_Id=[…]` → paged envelope", "`dir=Ascending|Descending`"))
        assert line(output, "Dialect: find by ids").endswith(ids)
        assert line(output, "Dialect: sort direction").endswith(direction)
        assert line(output, "Role ChatRoom-Delete").startswith("✓")
        assert server.db.count() == 20, "the doctor deletes the chatroom it created"
        times = line(output, "Record times")
        assert times.startswith("✓") and ("local time with a Z (UTC+1 h)" if name == "local-times" else "UTC") in times
        assert ("✗ Auth basic" in output) == (name == "bearer-only")
        assert ("✗ Auth bearer" in output) == (name == "no-token")


def test_local_times_are_detected_and_the_zone_to_set_is_named() -> None:
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect("local-times")), chatrooms=20) as server:
        code, output = doctor(server)
        assert code == 1 and "ahead of the server's clock: local times with a Z" in line(output, "Record times")
        code, output = doctor(server, "--write")
        assert code == 1
        times = line(output, "Record times")
        assert times.startswith("✗") and "UTC+1 h" in times and "set NEXUDUS_TIME_ZONE" in times


def test_read_only_by_default(seed: SandboxServer) -> None:
    def writes() -> int:
        return sum(seed.stats.count(m, k) for m, k in (("POST", "create"), ("PUT", None), ("DELETE", None)))

    code, output = doctor(seed)
    assert code == 0, output
    assert writes() == 0 and seed.stats.count("POST", "runcommand") == 0
    assert seed.stats.count("POST") == seed.stats.count("POST", "token") == 1  # the login itself
    assert "– Roles Create/Edit/Delete: not checked (read-only)" in output
    code, output = doctor(seed, "--write")
    assert code == 0 and writes() == 3, output  # the proof the count can see writes


def test_a_wrong_password_and_a_missing_role_fail_with_what_to_do(seed: SandboxServer) -> None:
    code, output = doctor(seed, password="wrong")
    assert code == 1
    assert "check e-mail/password" in line(output, "Auth bearer")
    assert line(output, "Auth").startswith("✗")
    out = io.StringIO()
    reader = settings(seed, "sandbox-reader")
    assert main(["--email", "reader@sandbox.local", "--write"], settings=reader, out=out) == 0, out.getvalue()
    assert "✗ Role ChatRoom-Create: refused" in out.getvalue(), "a reader may use the app; it cannot create"


def test_two_factor_needs_the_code(seed: SandboxServer) -> None:
    out = io.StringIO()
    two = settings(seed, "sandbox-2fa")
    assert main(["--email", "2fa@sandbox.local"], settings=two, out=out) == 1
    assert "--totp" in line(out.getvalue(), "Auth bearer")
    out = io.StringIO()
    code = totp(TOTP_SECRET, seed.app.now())
    assert main(["--email", "2fa@sandbox.local", "--totp", code], settings=two, out=out) == 0, out.getvalue()


def test_bearer_mode_on_a_server_without_tokens_says_to_switch(seed: SandboxServer) -> None:
    seed.config.dialect = dialect("no-token")
    code, output = doctor(seed)
    assert code == 1 and "set NEXUDUS_AUTH=basic" in line(output, "Auth")


def test_unreachable_and_not_an_api() -> None:
    out = io.StringIO()
    broken = Settings(nexudus_base_url="http://127.0.0.1:9/api", nexudus_password="x", _env_file=None)  # type: ignore[call-arg,arg-type]
    assert main(["--email", ADMIN[0]], settings=broken, out=out) == 1
    assert "check NEXUDUS_BASE_URL" in line(out.getvalue(), "Reachability")


def test_slack_token_and_scopes(seed: SandboxServer) -> None:
    with FakeSlack() as fake:
        slack = {"slack_bot_token": "xoxb-test", "slack_api_url": fake.api_url}
        code, output = doctor(seed, **slack)
        assert code == 0 and line(output, "Slack auth.test").startswith("✓")
        assert line(output, "Slack scopes") == "✓ Slack scopes: commands, chat:write"
        fake.scopes = ("commands",)
        code, output = doctor(seed, **slack)
        assert code == 1 and "missing chat:write" in line(output, "Slack scopes")


def test_python_m_bot_doctor_runs_as_a_process(seed: SandboxServer) -> None:
    env = {**os.environ, "NEXUDUS_BASE_URL": seed.url, "NEXUDUS_PASSWORD": ADMIN[1], "SLACK_BOT_TOKEN": ""}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "doctor", "--email", ADMIN[0]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Auth: NEXUDUS_AUTH=bearer works" in done.stdout
    assert ADMIN[1] not in done.stdout + done.stderr


def test_a_zone_set_on_a_utc_server_is_caught(seed: SandboxServer) -> None:
    code, output = doctor(seed, "--write", nexudus_time_zone="Europe/Madrid")
    times = line(output, "Record times")
    assert code == 1 and times.startswith("✗") and "unset NEXUDUS_TIME_ZONE" in times and "SPACE_TIME_ZONE" in times
    code, output = doctor(seed, "--write", space_time_zone="Europe/Madrid")
    assert code == 0 and line(output, "Record times").startswith("✓")
