"""The store keeps secrets secret, keeps teams apart, and keeps alert state across restarts."""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from bot.nexudus.credentials import Credentials
from bot.store import (
    AlertRecord,
    Digest,
    Store,
    StoreDamaged,
    StoreError,
    StoreKey,
    StoreKeyMismatch,
    Subscription,
    fernet_from_setting,
    local_key_file,
)

PASSWORD = "s3cret-Pa55word-äö"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "var" / "store.sqlite"


@pytest.fixture
def where(store_where: Path | str) -> Path | str:
    """Each test runs on both backends (tests/conftest.py: store_where)."""
    return store_where


@pytest.fixture
def store(where: Path | str, key: str) -> Iterator[Store]:
    with Store(where, fernet_from_setting(key)) as st:
        yield st


@pytest.fixture
def sqlite_store(db: Path, key: str) -> Iterator[Store]:
    """The embedded store only, for tests that look inside its file."""
    with Store(db, fernet_from_setting(key)) as st:
        yield st


def sub(team: str = "T1", channel: str = "C1", user: str = "U1", **kw: object) -> Subscription:
    return Subscription(
        team_id=team,
        channel_id=channel,
        created_by=user,
        threshold_minutes=60,
        business_id=7,
        created_at=NOW,
        **kw,
    )


def alert(sub_id: str, chatroom_id: int, **kw: object) -> AlertRecord:
    fields: dict[str, object] = {
        "subscription_id": sub_id,
        "chatroom_id": chatroom_id,
        "last_agent_visit": NOW - timedelta(hours=5),
        "channel_id": "C1",
        "message_ts": "1714564800.000100",
        "alerted_at": NOW,
    }
    fields.update(kw)
    return AlertRecord.model_validate(fields)


def all_file_bytes(db: Path) -> bytes:
    """The main file plus any WAL/journal: the secret must be in none of them."""
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


# ------------------------------------------------------------------------------------ credentials


def test_credentials_round_trip(store: Store) -> None:
    assert store.load_credentials("T1", "U1") is None
    assert not store.has_credentials("T1", "U1")
    store.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    assert store.load_credentials("T1", "U1") == Credentials("ops@example.com", PASSWORD)
    assert store.whoami("T1", "U1") == "ops@example.com"
    assert store.has_credentials("T1", "U1")
    # Same user id in another team is a different person.
    assert store.load_credentials("T2", "U1") is None
    assert store.whoami("T2", "U1") is None


def test_credentials_overwrite_and_delete(store: Store) -> None:
    store.save_credentials("T1", "U1", Credentials("old@example.com", "old"), NOW)
    store.save_credentials("T1", "U1", Credentials("new@example.com", "new"), NOW)
    assert store.load_credentials("T1", "U1") == Credentials("new@example.com", "new")
    assert store.delete_credentials("T1", "U1") is True
    assert store.delete_credentials("T1", "U1") is False
    assert store.load_credentials("T1", "U1") is None
    assert store.whoami("T1", "U1") is None
    assert not store.has_credentials("T1", "U1")


def test_password_absent_from_raw_file(db: Path, key: str) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
        raw_open = all_file_bytes(db)
    raw_closed = all_file_bytes(db)
    secret = PASSWORD.encode()
    for raw in (raw_open, raw_closed):
        assert b"ops@example.com" in raw  # proves we are looking at the right bytes
        assert secret not in raw
        assert base64.b64encode(secret) not in raw
        assert base64.urlsafe_b64encode(secret) not in raw
        assert json.dumps(PASSWORD).encode() not in raw


def test_stored_value_shape_is_json_with_token(db: Path, key: str) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT value FROM credentials WHERE key = 'T1:U1'").fetchone()
    stored = json.loads(value)
    assert set(stored) == {"email", "token", "saved_at"}
    assert stored["email"] == "ops@example.com"
    assert datetime.fromisoformat(stored["saved_at"]) == NOW
    plain = json.loads(Fernet(key.encode()).decrypt(stored["token"].encode()))
    assert plain == {"email": "ops@example.com", "password": PASSWORD}


def test_password_absent_from_repr_str_and_logs(db: Path, key: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = Credentials("ops@example.com", PASSWORD)
    assert PASSWORD not in repr(creds) and PASSWORD not in str(creds)
    assert repr(creds) == str(creds) == "Credentials(email='ops@example.com', password='***')"
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", creds, NOW)
        loaded = st.load_credentials("T1", "U1")
        token = json.loads(sqlite3.connect(db).execute("SELECT value FROM credentials").fetchone()[0])["token"]
        assert PASSWORD not in repr(st) and key not in repr(st)
        st.delete_credentials("T1", "U1")
    assert loaded is not None and PASSWORD not in repr(loaded)
    assert caplog.records, "expected at least sqlitedict's debug records to be captured"
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, token, key):
        assert secret not in text


def test_a_wrong_key_is_refused_at_open_naming_the_variable_never_the_key(
    db: Path, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    before = db.read_bytes()
    other = Fernet.generate_key().decode()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreKeyMismatch) as info:
        Store(db, fernet_from_setting(other))
    text = str(info.value)
    assert "STORE_KEY" in text and "does not decrypt" in text
    assert db.read_bytes() == before, "a refused key must change nothing"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, key, other):
        assert secret not in text and secret not in logged
    with Store(db, fernet_from_setting(key)) as st:  # the right key still opens it
        assert st.load_credentials("T1", "U1") == Credentials("ops@example.com", PASSWORD)


def test_a_wrong_key_is_refused_even_before_any_login_was_saved(where: Path | str, key: str) -> None:
    with Store(where, fernet_from_setting(key)) as st:
        st.add_subscription(sub())
    with pytest.raises(StoreKeyMismatch):
        Store(where, fernet_from_setting(Fernet.generate_key().decode()))


def test_a_store_from_before_key_checks_gets_one_and_a_wrong_key_is_still_caught(db: Path, key: str) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM meta")  # as an older version left it
    with pytest.raises(StoreKeyMismatch):
        Store(db, fernet_from_setting(Fernet.generate_key().decode()))
    with Store(db, fernet_from_setting(key)) as st:
        assert st.load_credentials("T1", "U1") == Credentials("ops@example.com", PASSWORD)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM meta").fetchone() == (1,)


def test_tampered_token_is_absent(db: Path, key: str, caplog: pytest.LogCaptureFixture) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT value FROM credentials").fetchone()
        stored = json.loads(value)
        token = stored["token"]
        stored["token"] = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        conn.execute("UPDATE credentials SET value = ?", (json.dumps(stored),))
        conn.execute("INSERT INTO credentials VALUES ('T1:U2', ?)", (json.dumps({"email": "x"}),))
    caplog.set_level(logging.WARNING)
    with Store(db, fernet_from_setting(key)) as st:
        assert st.load_credentials("T1", "U1") is None
        assert st.load_credentials("T1", "U2") is None  # no token at all: also absent, no crash
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2


def test_key_rotation_with_multifernet(where: Path | str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with Store(where, fernet_from_setting(old)) as st:
        st.save_credentials("T1", "U1", Credentials("a@example.com", "pw-old"), NOW)
    still_old = Store(where, fernet_from_setting(old))  # a process started before the rotation, still running
    try:
        rotated = fernet_from_setting(f"{new}, {old}")
        assert isinstance(rotated, MultiFernet)
        with Store(where, rotated) as st:  # opening with the key list re-encrypts everything with the new key
            assert st.load_credentials("T1", "U1") == Credentials("a@example.com", "pw-old")
            st.save_credentials("T1", "U2", Credentials("b@example.com", "pw-new"), NOW)
        # Every process with the new key list reads both, and so does the new key alone: the old can be dropped.
        for setting in (f"{new},{old}", new):
            with Store(where, fernet_from_setting(setting)) as st:
                assert st.load_credentials("T1", "U1") == Credentials("a@example.com", "pw-old")
                assert st.load_credentials("T1", "U2") == Credentials("b@example.com", "pw-new")
        # The process with only the old key says so, instead of treating the logins as absent ...
        with pytest.raises(StoreKeyMismatch, match="re-encrypted with a newer key"):
            still_old.load_credentials("T1", "U1")
        assert still_old.whoami("T1", "U1") == "a@example.com"
    finally:
        still_old.close()
    # ... and, restarted with only the old key, it refuses to start.
    with pytest.raises(StoreKeyMismatch, match="STORE_KEY"):
        Store(where, fernet_from_setting(old))


@pytest.mark.parametrize(
    "bad",
    ["", "not-a-key", "c2hvcnQ=", Fernet.generate_key().decode() + ",", Fernet.generate_key().decode()[:-2]],
)
def test_bad_store_key_names_variable_not_value(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        fernet_from_setting(bad)
    message = str(info.value)
    assert message == "STORE_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"
    for part in bad.split(","):
        if part:
            assert part not in message
    # The underlying error is not chained into the traceback either.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_store_key_namespace_matches_functions() -> None:
    key = Fernet.generate_key().decode()
    assert isinstance(StoreKey.fernet_from_setting(key), Fernet)
    token = StoreKey.fernet_from_setting(key).encrypt(b"x")
    assert Fernet(key.encode()).decrypt(token) == b"x"


def test_local_key_file_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "store.key"
    first = local_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    fernet_from_setting(first)  # a valid key
    assert local_key_file(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["store.key"]  # no temp files left
    assert local_key_file(tmp_path / "other.key") != first


def test_local_key_file_rejects_garbage_without_echo(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    path.write_text("garbage-secret-value")
    os.chmod(path, 0o600)
    with pytest.raises(ValueError) as info:
        local_key_file(path)
    assert "garbage-secret-value" not in str(info.value)


# ---------------------------------------------------------------------------------- subscriptions


def test_subscription_round_trip(store: Store) -> None:
    s = sub()
    assert len(s.id) == 8 and int(s.id, 16) >= 0
    store.add_subscription(s)
    assert store.get_subscription(s.id) == s
    assert store.subscriptions() == [s]
    assert store.get_subscription("nope") is None


def test_team_isolation(store: Store) -> None:
    a = store.add_subscription(sub(team="TA", channel="C1", user="U1"))
    b = store.add_subscription(sub(team="TB", channel="C1", user="U1"))
    assert store.subscriptions("TA") == [a]
    assert store.subscriptions("TB") == [b]
    assert {s.id for s in store.subscriptions()} == {a.id, b.id}
    assert store.channel_subscriptions("TA", "C1") == [a]
    assert store.subscriptions_by_user("TA", "U1") == [a]
    # Team A cannot remove team B's subscription, even knowing its id.
    assert store.remove_subscription("TA", b.id) is False
    assert store.get_subscription(b.id) == b
    assert store.remove_subscription("TB", b.id) is True
    assert store.remove_subscription("TB", b.id) is False
    assert store.subscriptions() == [a]


def test_channel_and_user_filters(store: Store) -> None:
    s1 = store.add_subscription(sub(channel="C1", user="U1"))
    s2 = store.add_subscription(sub(channel="C2", user="U1"))
    s3 = store.add_subscription(sub(channel="C1", user="U2"))
    assert {s.id for s in store.channel_subscriptions("T1", "C1")} == {s1.id, s3.id}
    assert {s.id for s in store.subscriptions_by_user("T1", "U1")} == {s1.id, s2.id}
    assert store.subscriptions_by_user("T1", "U9") == []


def test_update_subscription_does_not_resurrect(store: Store) -> None:
    s = store.add_subscription(sub())
    paused = s.model_copy(update={"paused_reason": "credentials removed", "last_error": "401"})
    assert store.update_subscription(paused) is True
    got = store.get_subscription(s.id)
    assert got is not None and got.paused_reason == "credentials removed" and got.last_error == "401"
    assert store.remove_subscription("T1", s.id)
    assert store.update_subscription(paused) is False
    assert store.get_subscription(s.id) is None


# ------------------------------------------------------------------------------------ alert state


def test_alert_round_trip_and_snooze(store: Store) -> None:
    s = store.add_subscription(sub())
    rec = alert(s.id, 42)
    store.put_alert(rec)
    assert store.get_alert(s.id, 42) == rec
    assert store.get_alert(s.id, 43) is None
    until = NOW + timedelta(hours=2)
    snoozed = store.snooze(s.id, 42, until)
    assert snoozed is not None and snoozed.snoozed_until == until
    got = store.get_alert(s.id, 42)
    assert got is not None and got.snoozed_until == until and got.last_agent_visit == rec.last_agent_visit
    assert store.snooze(s.id, 99, until) is None
    assert store.get_alert(s.id, 99) is None
    assert store.delete_alert(s.id, 42) is True
    assert store.delete_alert(s.id, 42) is False
    assert store.get_alert(s.id, 42) is None


def test_alerts_for_is_per_subscription(store: Store) -> None:
    # Ids chosen so that one is a prefix of the other: a naive prefix match would mix them.
    s1 = store.add_subscription(sub().model_copy(update={"id": "ab"}))
    s2 = store.add_subscription(sub().model_copy(update={"id": "abc"}))
    store.put_alert(alert(s1.id, 1))
    store.put_alert(alert(s1.id, 2, last_agent_visit=None, resolved_by="U5", resolved_at=NOW))
    store.put_alert(alert(s2.id, 1))
    assert sorted(r.chatroom_id for r in store.alerts_for(s1.id)) == [1, 2]
    assert [r.chatroom_id for r in store.alerts_for(s2.id)] == [1]
    assert store.alerts_for("zz") == []
    two = store.get_alert(s1.id, 2)
    assert two is not None and two.last_agent_visit is None and two.resolved_by == "U5"


def test_digest_round_trip(store: Store) -> None:
    s = store.add_subscription(sub())
    d1 = Digest(
        subscription_id=s.id,
        channel_id="C1",
        message_ts="1714564800.000100",
        chatroom_ids=[1, 2, 3],
        posted_at=NOW,
        resolved_ids={2: "U7"},
    )
    d2 = d1.model_copy(update={"message_ts": "1714568400.000200", "posted_at": NOW + timedelta(hours=1)})
    store.put_digest(d2)
    store.put_digest(d1)
    got = store.get_digest(s.id, d1.message_ts)
    assert got == d1 and got is not None and got.resolved_ids == {2: "U7"}
    assert store.get_digest(s.id, "0.0") is None
    assert store.digests_for(s.id) == [d1, d2]  # oldest first
    resolved = d1.model_copy(update={"resolved_ids": {2: "U7", 3: "U8"}})
    store.put_digest(resolved)
    assert store.get_digest(s.id, d1.message_ts) == resolved
    assert len(store.digests_for(s.id)) == 2


def test_removing_subscription_removes_its_alerts_and_digests(store: Store) -> None:
    s1 = store.add_subscription(sub())
    s2 = store.add_subscription(sub())
    for s in (s1, s2):
        store.put_alert(alert(s.id, 1))
        store.put_alert(alert(s.id, 2))
        store.put_digest(
            Digest(subscription_id=s.id, channel_id="C1", message_ts="1.1", chatroom_ids=[1, 2], posted_at=NOW)
        )
    assert store.remove_subscription("T1", s1.id) is True
    assert store.alerts_for(s1.id) == []
    assert store.get_alert(s1.id, 1) is None
    assert store.digests_for(s1.id) == []
    assert len(store.alerts_for(s2.id)) == 2
    assert len(store.digests_for(s2.id)) == 1


def test_data_survives_close_and_reopen(where: Path | str, key: str) -> None:
    st = Store(where, fernet_from_setting(key))
    s = st.add_subscription(sub())
    st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    st.put_alert(alert(s.id, 5))
    st.snooze(s.id, 5, NOW + timedelta(days=1))
    st.put_digest(Digest(subscription_id=s.id, channel_id="C1", message_ts="9.9", chatroom_ids=[5], posted_at=NOW))
    st.close()
    st.close()  # idempotent
    with pytest.raises(RuntimeError):
        st.get_subscription(s.id)
    with Store(where, fernet_from_setting(key)) as again:
        assert again.get_subscription(s.id) == s
        assert again.load_credentials("T1", "U1") == Credentials("ops@example.com", PASSWORD)
        rec = again.get_alert(s.id, 5)
        assert rec is not None and rec.snoozed_until == NOW + timedelta(days=1)
        assert [d.chatroom_ids for d in again.digests_for(s.id)] == [[5]]


def test_writes_are_visible_to_another_connection_immediately(sqlite_store: Store, db: Path) -> None:
    """Durable when the method returns: an independent reader sees it without close()."""
    s = sqlite_store.add_subscription(sub())
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key FROM subscriptions").fetchall()
    assert rows == [(s.id,)]


def test_values_are_json_not_pickle(sqlite_store: Store, db: Path) -> None:
    s = sqlite_store.add_subscription(sub())
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT value FROM subscriptions").fetchone()
    assert isinstance(value, str)
    assert json.loads(value)["id"] == s.id


def test_threads_share_one_store(store: Store) -> None:
    """The web app's handler threads share one Store: concurrent writes all land, none fail."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                s = store.add_subscription(sub(team=f"T{n}", user=f"U{i}"))
                store.put_alert(alert(s.id, i))
                assert store.snooze(s.id, i, NOW) is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert all(len(store.subscriptions(f"T{n}")) == 25 for n in range(4))
    assert all(len(store.alerts_for(s.id)) == 1 for s in store.subscriptions())


def test_put_alerts_writes_every_record_at_once(where: Path | str) -> None:
    from bot.store import AlertRecord

    store = Store(where, Fernet(Fernet.generate_key()))
    now = datetime(2026, 11, 25, tzinfo=UTC)
    recs = [
        AlertRecord(
            subscription_id="s1",
            chatroom_id=i,
            last_agent_visit=None,
            channel_id="C1",
            message_ts="1.0",
            alerted_at=now,
        )
        for i in range(1, 301)
    ]
    store.put_alerts(recs)
    store.put_alerts([])
    assert sorted(r.chatroom_id for r in store.alerts_for("s1")) == list(range(1, 301))
    store.close()


def test_a_digest_is_recorded_pending_then_stamped_or_dropped_with_its_rows(where: Path | str) -> None:
    from bot.store import AlertRecord, Digest, new_pending_ts

    now = datetime(2026, 11, 25, tzinfo=UTC)
    with Store(where, Fernet(Fernet.generate_key())) as store:

        def intent(sub_id: str, rooms: list[int]) -> Digest:
            digest = Digest(
                subscription_id=sub_id, channel_id="C1", message_ts=new_pending_ts(), chatroom_ids=rooms, posted_at=now
            )
            recs = [
                AlertRecord(
                    subscription_id=sub_id,
                    chatroom_id=i,
                    last_agent_visit=None,
                    channel_id="C1",
                    message_ts=digest.message_ts,
                    alerted_at=now,
                )
                for i in rooms
            ]
            store.begin_digest(digest, recs)
            return digest

        kept, lost, other = intent("s1", [1, 2]), intent("s1", [3]), intent("s10", [4])
        store.put_digest(
            Digest(subscription_id="s1", channel_id="C1", message_ts="1.2", chatroom_ids=[9], posted_at=now)
        )
        assert {d.message_ts for d in store.pending_digests("s1")} == {kept.message_ts, lost.message_ts}
        assert [d.message_ts for d in store.pending_digests("s10")] == [other.message_ts]

        stamped = store.stamp_digest("s1", kept.message_ts, "17.5")
        assert stamped is not None and not stamped.pending
        assert store.get_digest("s1", "17.5") is not None and store.get_digest("s1", kept.message_ts) is None
        assert {store.get_alert("s1", i).message_ts for i in (1, 2)} == {"17.5"}  # type: ignore[union-attr]
        assert store.drop_digest("s1", lost.message_ts) == 1 and store.get_alert("s1", 3) is None
        assert store.pending_digests("s1") == [] and store.stamp_digest("s1", lost.message_ts, "9.9") is None


def test_identical_subscribes_from_many_threads_make_one_subscription(store: Store) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[tuple[str, bool]] = []

    def subscribe(user: str) -> None:
        barrier.wait(timeout=10)
        made, created = store.subscribe_once(sub(user=user))
        outcomes.append((made.id, created))

    threads = [threading.Thread(target=subscribe, args=(f"U{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(outcomes) == 8 and sum(created for _, created in outcomes) == 1
    assert len({made for made, _ in outcomes}) == 1 and len(store.subscriptions("T1")) == 1
    # Another filter, channel or workspace is another subscription.
    assert store.subscribe_once(sub(channel="C2"))[1] and store.subscribe_once(sub(team="T2"))[1]
    assert store.subscribe_once(sub().model_copy(update={"business_id": None, "id": "other"}))[1]


# ----------------------------------------------------------------------------------- the file itself


def test_the_store_file_is_created_private(db: Path, key: str) -> None:
    old_umask = os.umask(0o022)
    try:
        with Store(db, fernet_from_setting(key)) as st:
            st.save_credentials("T1", "U1", Credentials("ops@example.com", PASSWORD), NOW)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_an_existing_readable_store_file_is_made_private(db: Path, key: str) -> None:
    db.parent.mkdir(parents=True)
    with Store(db, fernet_from_setting(key)):
        pass
    db.chmod(0o644)
    with Store(db, fernet_from_setting(key)):
        pass
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def _damage(db: Path, key: str) -> bytes:
    with Store(db, fernet_from_setting(key)) as st:
        for i in range(200):
            st.save_credentials("T1", f"U{i}", Credentials(f"u{i}@example.com", PASSWORD * 20), NOW)
    data = bytearray(db.read_bytes())
    data[8192:20000] = b"A" * (20000 - 8192)  # pages in the middle overwritten, the header intact
    db.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_a_damaged_store_is_refused_clearly_and_left_untouched(db: Path, key: str, damage: str) -> None:
    if damage == "garbage":
        db.parent.mkdir(parents=True)
        db.write_bytes(b"this is not a database " * 200)
        before = db.read_bytes()
    else:
        before = _damage(db, key)
    with pytest.raises(StoreDamaged) as info:
        Store(db, fernet_from_setting(key))
    text = str(info.value)
    assert str(db) in text and "damaged" in text and "backup" in text and ".damaged" in text
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name], "no journal or new file was left beside it"


def test_damage_found_after_start_is_a_store_error_not_a_raw_sqlite_one(db: Path, key: str) -> None:
    with Store(db, fernet_from_setting(key)) as st:
        for i in range(200):
            st.save_credentials("T1", f"U{i}", Credentials(f"u{i}@example.com", PASSWORD * 20), NOW)
    st = Store(db, fernet_from_setting(key))
    try:
        data = bytearray(db.read_bytes())
        data[8192:20000] = b"A" * (20000 - 8192)
        with open(db, "r+b") as f:  # damaged under the running process
            f.write(bytes(data))
        with pytest.raises(StoreDamaged, match="damaged"):
            for i in range(200):
                st.load_credentials("T1", f"U{i}")
    finally:
        st.close()


def test_an_unopenable_store_path_says_which_and_why(tmp_path: Path, key: str) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError, match="Check STORE_PATH"):
        Store(tmp_path / "dir.sqlite", fernet_from_setting(key))


# ------------------------------------------------------------------------ changing a subscription


def test_the_worker_bookkeeping_never_undoes_a_users_change(store: Store) -> None:
    """The worker holds the row it read at the start of a cycle; its write keeps options changed meanwhile."""
    s = store.add_subscription(sub())
    read_by_worker = store.get_subscription(s.id)
    assert read_by_worker is not None
    changed = store.change_subscription("T1", s.id, lambda cur, _: cur.model_copy(update={"open_hours": (540, 1080)}))
    assert changed is not None
    store.update_subscription(read_by_worker.model_copy(update={"quiet_since": NOW, "threshold_minutes": 5}))
    got = store.get_subscription(s.id)
    assert got is not None
    assert got.open_hours == (540, 1080) and got.threshold_minutes == 60  # the user's change holds
    assert got.quiet_since == NOW  # the worker's own field is written


def test_change_subscription_is_one_read_modify_write(store: Store) -> None:
    s = store.add_subscription(sub())
    seen: list[list[Subscription]] = []

    def change(current: Subscription, siblings: list[Subscription]) -> Subscription:
        seen.append(siblings)
        return current.model_copy(update={"summary_minute": 540, "id": "forged", "team_id": "T9"})

    result = store.change_subscription("T1", s.id, change)
    assert result is not None
    before, after = result
    assert before == s and after.summary_minute == 540
    assert (after.id, after.team_id) == (s.id, "T1")  # neither the id nor the team can be changed
    assert store.get_subscription(s.id) == after and store.get_subscription("forged") is None
    assert seen == [[]]
    # Another team's id, or an unknown one: None, nothing called, nothing written.
    assert store.change_subscription("T2", s.id, change) is None
    assert store.change_subscription("T1", "nope", change) is None
    assert len(seen) == 1


def test_a_refused_change_writes_nothing(store: Store) -> None:
    s = store.add_subscription(sub())

    def refuse(current: Subscription, siblings: list[Subscription]) -> Subscription:
        raise ValueError("no")

    with pytest.raises(ValueError):
        store.change_subscription("T1", s.id, refuse)
    assert store.get_subscription(s.id) == s


def test_change_sees_only_the_channels_other_subscriptions(store: Store) -> None:
    s = store.add_subscription(sub())
    sibling = store.add_subscription(sub().model_copy(update={"business_id": 8, "id": "sibling"}))
    store.add_subscription(sub(channel="C2"))
    store.add_subscription(sub(team="T2"))
    got: list[list[str]] = []
    store.change_subscription("T1", s.id, lambda cur, sibs: got.append([x.id for x in sibs]) or cur)  # type: ignore[func-returns-value]
    assert got == [[sibling.id]]


def test_a_change_keeps_alert_records_and_the_digests_scope(store: Store) -> None:
    s = store.add_subscription(sub())
    store.put_alert(alert(s.id, 1))
    posted = Digest(subscription_id=s.id, channel_id="C1", message_ts="1.1", chatroom_ids=[1], posted_at=NOW)
    store.put_digest(posted)
    store.change_subscription("T1", s.id, lambda cur, _: cur.model_copy(update={"open_days": (0, 1)}))
    digest = store.get_digest(s.id, "1.1")
    assert digest is not None and digest.scope is None  # same threshold and business: nothing to keep
    store.change_subscription(
        "T1", s.id, lambda cur, _: cur.model_copy(update={"threshold_minutes": 120, "business_id": None})
    )
    assert store.get_alert(s.id, 1) == alert(s.id, 1)
    digest = store.get_digest(s.id, "1.1")
    assert digest is not None and digest.scope is not None
    assert (digest.scope.threshold_minutes, digest.scope.business_id) == (60, 7)  # what it was posted under
    store.change_subscription("T1", s.id, lambda cur, _: cur.model_copy(update={"threshold_minutes": 240}))
    digest = store.get_digest(s.id, "1.1")
    assert digest is not None and digest.scope is not None and digest.scope.threshold_minutes == 60  # kept


def test_concurrent_changes_each_keep_the_others(store: Store) -> None:
    s = store.add_subscription(sub())
    fields = [("summary_minute", 540), ("open_hours", (480, 1200)), ("open_days", (0, 1, 2)), ("zone", "UTC")]

    def change(name: str, value: object) -> None:
        store.change_subscription("T1", s.id, lambda cur, _: cur.model_copy(update={name: value}))

    threads = [threading.Thread(target=change, args=field) for field in fields]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    got = store.get_subscription(s.id)
    assert got is not None
    assert (got.summary_minute, got.open_hours, got.open_days, got.zone) == (540, (480, 1200), (0, 1, 2), "UTC")
