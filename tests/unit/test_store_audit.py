"""The audit trail in the store, on both backends: appended, read per workspace newest first, never updated,
pruned only by retention, surviving a reopen."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import AuditChannel, AuditEntry, FieldChange, Store, fernet_from_setting

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BASE = Path(__file__).resolve().parents[2] / "bot" / "store" / "base.py"


def entry(team: str = "T1", at: datetime = NOW, user: str = "U1", **kw: object) -> AuditEntry:
    fields: dict[str, object] = {"action": "edit", "chatroom_ids": [1000001]}
    fields.update(kw)
    return AuditEntry(at=at, team_id=team, user_id=user, **fields)  # type: ignore[arg-type]


def test_entries_are_appended_and_read_newest_first_with_their_fields(store: Store) -> None:
    first = store.append_audit(
        entry(changes=[FieldChange(field="name", before="Old", after="New")], name="New", enterprise_id="E1")
    )
    second = store.append_audit(entry(at=NOW + timedelta(minutes=1), action="delete"))
    assert first.key == "T1:2026-11-25T12:00:00.000000Z:000000"
    page, more = store.audit_entries("T1")
    assert [e.key for e in page] == [second.key, first.key]
    assert more is False
    assert page[1].changes == [FieldChange(field="name", before="Old", after="New")]
    assert page[1].enterprise_id == "E1" and page[1].at == NOW and page[1].user_id == "U1"


def test_the_same_entry_twice_is_two_entries_never_a_replacement_in_the_order_recorded(store: Store) -> None:
    one = entry()
    a, b = store.append_audit(one), store.append_audit(one.model_copy(update={"action": "delete"}))
    assert a.key < b.key
    assert [e.action for e in store.audit_entries("T1")[0]] == ["delete", "edit"]


def test_a_workspace_reads_only_its_own_entries(store: Store) -> None:
    store.append_audit(entry(team="T1"))
    store.append_audit(entry(team="T2", user="U9"))
    store.append_audit(entry(team="T10", user="U10"))  # a team id that T1 is a prefix of
    assert {e.team_id for e in store.audit_entries("T1")[0]} == {"T1"}
    assert [e.user_id for e in store.audit_entries("T2")[0]] == ["U9"]


def test_pages_since_and_match_filter_in_the_store(store: Store) -> None:
    for minute in range(30):
        store.append_audit(entry(at=NOW + timedelta(minutes=minute), user="U1" if minute % 2 else "U2"))
    page, more = store.audit_entries("T1", limit=10, chunk=7)
    assert [e.at.minute for e in page] == list(range(29, 19, -1)) and more
    page, more = store.audit_entries("T1", offset=20, limit=10, chunk=7)
    assert [e.at.minute for e in page] == list(range(9, -1, -1)) and not more
    page, _ = store.audit_entries("T1", since=NOW + timedelta(minutes=25))
    assert [e.at.minute for e in page] == [29, 28, 27, 26, 25]
    page, _ = store.audit_entries("T1", match=lambda e: e.user_id == "U2", chunk=4)
    assert [e.at.minute for e in page][:3] == [28, 26, 24] and len(page) == 15


def test_retention_prunes_old_entries_of_every_workspace_and_keeps_the_rest(store: Store) -> None:
    for team in ("T1", "T2", "T3"):
        store.append_audit(entry(team=team, at=NOW - timedelta(days=400)))
        store.append_audit(entry(team=team, at=NOW - timedelta(days=10)))
    assert store.prune_audit(NOW - timedelta(days=365)) == 3
    for team in ("T1", "T2", "T3"):
        assert [e.at for e in store.audit_entries(team)[0]] == [NOW - timedelta(days=10)]
    assert store.prune_audit(NOW - timedelta(days=365)) == 0


def test_pruning_is_claimed_once_per_period(store: Store) -> None:
    assert store.claim_audit_pruning(NOW, timedelta(hours=1)) is True
    assert store.claim_audit_pruning(NOW + timedelta(minutes=30), timedelta(hours=1)) is False
    assert store.claim_audit_pruning(NOW + timedelta(minutes=61), timedelta(hours=1)) is True


def test_entries_and_the_audit_channel_survive_a_reopen(store_where: Path | str, key: str) -> None:
    with Store(store_where, fernet_from_setting(key)) as st:
        written = st.append_audit(entry(action="login", email="admin@sandbox.local"))
        st.set_audit_channel("T1", AuditChannel(team_id="T1", channel_id="C9", set_by="U1", set_at=NOW))
    with Store(store_where, fernet_from_setting(key)) as st:
        assert [e.key for e in st.audit_entries("T1")[0]] == [written.key]
        channel = st.audit_channel("T1")
        assert channel is not None and channel.channel_id == "C9"
        assert st.audit_channel("T2") is None


def test_a_failing_mirror_is_recorded_once_until_it_works_again(store: Store) -> None:
    store.set_audit_channel("T1", AuditChannel(team_id="T1", channel_id="C9", set_by="U1", set_at=NOW))
    assert store.audit_mirror_state("T1", "C9", "not_in_channel") is True
    assert store.audit_mirror_state("T1", "C9", "not_in_channel") is False
    assert store.audit_mirror_state("T1", "C8", "not_in_channel") is False  # not the channel set
    assert store.audit_mirror_state("T1", "C9", None) is True
    assert store.set_audit_channel("T1", None) is not None
    assert store.audit_channel("T1") is None


def test_no_store_method_but_append_and_prune_writes_the_audit_table() -> None:
    """Append-only: every statement writing ``audit`` sits in `append_audit` or `prune_audit`."""
    writers: set[str] = set()
    for node in ast.walk(ast.parse(BASE.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("put", "update", "delete", "delete_range")
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and call.args[0].value == "audit"
            ):
                writers.add(node.name)
    assert writers == {"append_audit", "prune_audit"}
