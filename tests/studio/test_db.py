"""The database layer: migrations equal the tables, transactions, time zones, SQLite set-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from activelab.studio import db


def test_migrate_creates_the_tables_of_the_models_and_is_idempotent(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.connect(db_url)
    try:
        db.migrate(engine)
        db.migrate(engine)  # a second run on an up-to-date schema changes nothing
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.Base.metadata)
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert differences == []
        assert version == "0004"
        assert {"studio_projects", "studio_items", "studio_answers", "studio_leases"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_migrate_accepts_a_url(db_url: str) -> None:
    db.migrate(db_url)
    engine = db.connect(db_url)
    try:
        assert "studio_models" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_write_session_commits_or_rolls_back_as_a_whole(db_url: str) -> None:
    engine = db.connect(db_url)
    try:
        db.migrate(engine)
        with db.write_session(engine) as session:
            session.add(db.Project(name="kept", task="text", labels=["a", "b"]))
        with pytest.raises(RuntimeError), db.write_session(engine) as session:
            session.add(db.Project(name="lost", task="text", labels=["a", "b"]))
            session.flush()
            raise RuntimeError("boom")
        with db.read_session(engine) as session:
            names = session.scalars(select(db.Project.name)).all()
        assert names == ["kept"]
    finally:
        engine.dispose()


def test_times_come_back_as_the_same_utc_instant(db_url: str) -> None:
    engine = db.connect(db_url)
    try:
        db.migrate(engine)
        local = datetime(2026, 1, 2, 12, 30, tzinfo=timezone(timedelta(hours=2)))
        with db.write_session(engine) as session:
            session.add(db.Project(name="p", task="text", labels=["a", "b"], created_at=local))
        with db.read_session(engine) as session:
            stored = session.scalar(select(db.Project.created_at))
        assert stored.tzinfo is not None
        assert stored == local
        assert stored.utcoffset() == timedelta(0)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_durable_commits(tmp_path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "busy_timeout": db.SQLITE_BUSY_TIMEOUT_MS,
            "synchronous": 2,  # FULL
            "foreign_keys": 1,
        }
    finally:
        engine.dispose()


def test_write_sessions_on_sqlite_take_the_write_lock_first(tmp_path) -> None:
    # With BEGIN IMMEDIATE, a second writer cannot even start while the first is open.
    import sqlite3

    path = tmp_path / "lock.db"
    engine = db.connect(f"sqlite:///{path}")
    db.migrate(engine)
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with db.write_session(engine) as session:
            session.execute(text("SELECT 1"))  # the first statement opens the transaction
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the session ended
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("query", "durable", "expected"),
    [
        ("", True, 2),
        ("", False, 1),
        ("?synchronous=normal", True, 1),
        ("?synchronous=normal", False, 1),
    ],
)
def test_only_durable_writes_sync_on_sqlite(tmp_path, query, durable, expected) -> None:
    # Answers (durable) fsync their commit; leases and rankings do not need to.
    engine = db.connect(f"sqlite:///{tmp_path / 'x.db'}{query}")
    try:
        for _ in range(2):  # the setting follows each transaction on a pooled connection
            with db.write_session(engine, durable=durable) as session:
                level = session.execute(text("PRAGMA synchronous")).scalar()
            assert level == expected
            with db.write_session(engine, durable=not durable) as session:
                session.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="use full"):
        db.connect(f"sqlite:///{tmp_path / 'y.db'}?synchronous=off")


def test_connect_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match=r"SQLite .* or PostgreSQL"):
        db.connect("mysql://user@localhost/x")


def test_queue_priority_puts_newer_rounds_first_then_rank() -> None:
    keys = [db.queue_priority(r, k) for r, k in [(3, 0), (3, 1), (3, 999), (2, 0), (0, 5)]]
    assert keys == sorted(keys, reverse=True)
    assert db.queue_priority(0, 7) == -7


def test_urgent_writers_go_first_but_never_starve_the_others() -> None:
    import threading
    import time

    lock = db._FairLock()
    lock.acquire()
    order: list[str] = []
    threads = []

    def writer(name: str) -> None:
        lock.acquire(urgent=name.startswith("u"))
        order.append(name)
        lock.release()

    for name in ("n1", "u1", "u2", "n2", "u3", "u4", "u5"):
        queued = len(lock._waiting) + len(lock._urgent)
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while len(lock._waiting) + len(lock._urgent) == queued:  # wait until it queues
            assert time.monotonic() < deadline
            time.sleep(0.001)
    lock.release()
    for thread in threads:
        thread.join(10)
    # Three urgent writers in a row at most while a normal one waits, then the oldest
    # normal one; first come, first served within each lane.
    assert order == ["u1", "u2", "u3", "n1", "u4", "u5", "n2"]
    assert not lock._held
