"""Dependencies point one way: listener → service → adapter (README, "Architecture").

Read from the source with `ast`, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"

COMPOSITION_ROOTS = {"bot/web.py", "bot/runner.py", "bot/worker.py"}
"""Entry points that build the Slack app or the Slack publisher: they may wire bot.slack in."""
SLACK_SIDE = ("bot/slack/", "bot/console/")
SERVICES = {"bot/services.py", "bot/deps.py", "bot/stale.py", "bot/digests.py", "bot/alerts.py", "bot/wiring.py"}
SERVICES |= {"bot/audit.py", "bot/subscribing.py", "bot/subscriptions.py"}
APP_LAYERS = ("bot.slack", "bot.console", "bot.store", "bot.services", "bot.deps", "bot.digests", "bot.alerts")
APP_LAYERS += ("bot.stale", "bot.worker", "bot.wiring")


def _modules() -> list[tuple[str, Path]]:
    root = BOT.parent
    return sorted((path.relative_to(root).as_posix(), path) for path in BOT.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_walker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from bot.slack.errors import describe\n    import slack_sdk\n")
    assert {"bot.slack.errors", "slack_sdk"} <= imports_of(module)


@pytest.mark.parametrize("name,path", _modules())
def test_only_the_slack_side_and_entry_points_import_bot_slack(name: str, path: Path) -> None:
    if name.startswith(SLACK_SIDE) or name in COMPOSITION_ROOTS:
        return
    wrong = sorted(m for m in imports_of(path) if _within(m, ("bot.slack", "bot.console")))
    assert not wrong, f"{name} imports {wrong}: services and adapters know nothing of Slack"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in _modules() if n in SERVICES])
def test_services_use_no_slack_library(name: str, path: Path) -> None:
    wrong = sorted(m for m in imports_of(path) if _within(m, ("slack_sdk", "slack_bolt")))
    assert not wrong, f"{name} imports {wrong}: Slack is reached through the DigestPublisher interface"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in _modules() if n.startswith("bot/nexudus/")])
def test_the_nexudus_adapter_imports_no_app_layer(name: str, path: Path) -> None:
    wrong = sorted(m for m in imports_of(path) if _within(m, APP_LAYERS) or _within(m, ("slack_sdk", "slack_bolt")))
    assert not wrong, f"{name} imports {wrong}: the adapter knows nothing of Slack, the store or the services"


def test_every_service_module_exists() -> None:
    """The lists above name real files (a rename must not silently switch a rule off)."""
    names = {name for name, _ in _modules()}
    assert names >= SERVICES | COMPOSITION_ROOTS
