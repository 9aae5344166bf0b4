"""The Slack end-to-end suite runs in every dialect what that dialect changes (tests/helpers/dialect_plan.py):
checked on what pytest really collects, so a new dialect, a new test or a new parametrisation cannot quietly lose
coverage."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import DESELECTED, collected_plan
from helpers.dialect_plan import ADAPTER_ONLY, FEATURES, FULL_DIALECTS, changes

from bot.sandbox.dialects import DIALECT_NAMES, SandboxDialect

ROOT = Path(__file__).resolve().parents[2]
SHARED = "seed-postgres-redis"


PLANNED = [
    p for p in sorted((ROOT / "tests" / "integration").glob("test_*.py")) if "every_dialect" in p.read_text().lower()
]
"""The modules the plan concerns: the end-to-end ones (EVERY_DIALECT) and test_dialects.py (it names them)."""


@pytest.fixture(scope="module")
def plan(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What pytest collects of the integration tests: this session's items when it holds every module concerned
    whole (as in `make test`), else those of `pytest --collect-only tests/integration` run apart."""
    items = request.session.items
    held = {item.nodeid.split("::")[0] for item in items}
    whole = not any(d.startswith("tests/integration/") for d in DESELECTED)
    if whole and {str(p.relative_to(ROOT)) for p in PLANNED} <= held:
        return collected_plan(items)  # type: ignore[return-value]
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/integration"]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "DIALECT_PLAN_OUT": str(out)}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    collected: list[dict[str, Any]] = json.loads(out.read_text())
    return collected


def e2e_runs(plan: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each test function of an `every_dialect` module that runs per dialect → where it runs."""
    runs: dict[str, set[str]] = defaultdict(set)
    for item in plan:
        params = item["params"]
        if item["every_dialect"] and "sandbox_dialect" in params:
            where = params["sandbox_dialect"] + ("-" + params["backend"] if "backend" in params else "")
            runs[item["nodeid"].split("[")[0]].add(where.replace("-embedded", ""))
    return runs


def declared(plan: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    return {item["nodeid"].split("[")[0]: frozenset(item["features"]) for item in plan if item["every_dialect"]}


def test_the_features_are_the_sandbox_dialect_fields_and_the_full_dialects_exist() -> None:
    # A new way for a dialect to differ must be given a meaning here before anything can be marked with it.
    assert set(FEATURES) == {f.name for f in dataclasses.fields(SandboxDialect)}
    assert set(ADAPTER_ONLY) <= set(FEATURES)
    assert "seed" in FULL_DIALECTS and set(FULL_DIALECTS) <= set(DIALECT_NAMES)
    assert "reference" in FULL_DIALECTS, "the current reference, which changes the most at once"
    assert all(changes(name) for name in DIALECT_NAMES if name != "seed"), "every dialect changes something"


def test_the_full_dialects_and_the_shared_backends_run_every_end_to_end_test(plan: list[dict[str, Any]]) -> None:
    assert len(plan) > 100, "the integration tests were collected"
    runs = e2e_runs(plan)
    assert len(runs) > 40, "the end-to-end modules' tests were found"
    for test, where in runs.items():
        assert set(FULL_DIALECTS) <= where, f"{test} runs only in {sorted(where)}"
    shared = {item["nodeid"].split("[")[0] for item in plan if item["params"].get("backend") == "postgres-redis"}
    slack_e2e = {item["nodeid"].split("[")[0] for item in plan if item["slack_e2e"] and "backend" in item["params"]}
    assert shared == slack_e2e, "the whole Slack end-to-end suite runs on PostgreSQL and Redis"
    assert all(SHARED in where for test, where in runs.items() if test in slack_e2e)


def test_every_dialect_runs_every_test_touching_what_it_changes(plan: list[dict[str, Any]]) -> None:
    runs, features = e2e_runs(plan), declared(plan)
    for name in DIALECT_NAMES:
        wanted = {test for test in runs if name in FULL_DIALECTS or features[test] & changes(name)}
        ran = {test for test, where in runs.items() if name in where}
        assert wanted <= ran, f"{name} does not run {sorted(wanted - ran)}"
        # A dialect that changes only what the end-to-end sandbox never does (throttling) would run each test exactly
        # as the seed does: its changes are the adapter tests' (checked below).
        assert ran or changes(name) <= set(ADAPTER_ONLY), f"{name} runs no end-to-end test"


def test_every_change_of_every_dialect_is_exercised(plan: list[dict[str, Any]]) -> None:
    runs, features = e2e_runs(plan), declared(plan)
    adapter: dict[str, set[str]] = defaultdict(set)  # a test of test_dialects.py → the dialects it ran in
    for item in plan:
        if item["nodeid"].startswith("tests/integration/test_dialects.py"):
            spoken = item["params"].get("spoken") or item["params"].get("name")
            if spoken:
                adapter[item["function"]].add(spoken)
    for name in DIALECT_NAMES:
        assert name in adapter["test_contract_case_in_every_dialect"], f"the adapter contract skips {name}"
        for feature in changes(name):
            e2e = [test for test, where in runs.items() if name in where and feature in features[test]]
            if feature in ADAPTER_ONLY:
                assert name in adapter[ADAPTER_ONLY[feature]], f"{name}'s {feature} is exercised nowhere"
            else:
                assert e2e, f"{name} changes {feature} ({FEATURES[feature]}) but no end-to-end test touches it there"
