"""The studio's database: tables, engine, transactions and schema migrations.

One database may hold several projects; every row carries its ``project_id``. The
engine is SQLAlchemy 2 (sync). SQLite is the default (a file in the project folder, in
WAL mode with ``busy_timeout`` and ``synchronous=FULL``, so a committed answer survives a
killed process); PostgreSQL is reached with a ``postgresql+psycopg://`` URL.

Writes go through :func:`write_session`: on SQLite it opens the transaction with
``BEGIN IMMEDIATE`` (the write lock is taken up front, so two writers never deadlock on
a lock upgrade and a reader-then-writer transaction sees the latest committed state); on
PostgreSQL rows are locked explicitly where it matters (``SELECT … FOR UPDATE``). Reads
use :func:`read_session`.

The schema is created and upgraded by Alembic (:func:`migrate`), with the migrations
shipped in ``activelab/studio/migrations``; the tables below are the same schema, and a
test compares the two.

Times are stored as naive UTC and come back as timezone-aware UTC datetimes.

>>> from sqlalchemy import select
>>> engine = connect("sqlite://")
>>> migrate(engine)
>>> with write_session(engine) as session:
...     session.add(Project(name="demo", task="text", labels=["a", "b"]))
>>> with read_session(engine) as session:
...     session.scalars(select(Project.name)).all()
['demo']
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Annotator",
    "Answer",
    "Base",
    "Item",
    "LLMRound",
    "Lease",
    "ModelVersion",
    "Project",
    "connect",
    "is_sqlite",
    "migrate",
    "queue_priority",
    "read_session",
    "utcnow",
    "write_session",
]

#: Milliseconds a SQLite connection waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    """The current time, timezone-aware UTC.

    Returns
    -------
    datetime.datetime
    """
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A datetime stored as naive UTC and returned as aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Convert an aware datetime to naive UTC (naive values are taken as UTC)."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Attach UTC to the stored naive datetime."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    """Declarative base of the studio's tables."""


class Project(Base):
    """A labelling project: its labels, task and the current model version."""

    __tablename__ = "studio_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    task: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list[str]] = mapped_column(JSON)
    multi_label: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[int] = mapped_column(Integer, default=0)
    rank_round: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: What a text project's model reads now (``tfidf`` or ``minilm``; null: studio.toml's).
    features: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The LLM labeller's settings now (``llm_*`` of studio.toml, no key; null: off).
    llm: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: How overlapping answers become one label (``majority`` or ``dawid_skene``).
    aggregation: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Annotator(Base):
    """A person (or program) with a token: role ``admin`` or ``annotator``.

    ``revoked_at`` is set while the person has no working token (an admin revoked it);
    issuing a new token clears it. Rows are never deleted: answers point to them.
    """

    __tablename__ = "studio_annotators"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_annotator_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Item(Base):
    """One thing to label, with its place in the queue and the model's suggestion.

    ``priority`` orders the queue, largest first: ``rank_round · 2**40 − rank`` where
    ``rank_round`` counts the rankings so far and ``rank`` is the item's place in the
    latest ranking that included it, so the newest ranking always comes first (see
    :func:`queue_priority`). ``n_labels`` counts the annotators with a live (not
    withdrawn, not skipped) answer; ``done`` is ``n_labels >= overlap``.
    """

    __tablename__ = "studio_items"
    __table_args__ = (
        Index("ix_items_queue", "project_id", "done", "priority"),
        Index("ix_items_position", "project_id", "position"),
        Index("ix_items_labels", "project_id", "n_labels"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"))
    position: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    image_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    n_labels: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(BigInteger, default=0)
    ranked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ranked_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The sentence's tokens (NER projects; ``text`` holds them in their original spacing).
    tokens: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: What the LLM labeller made of the item (:mod:`activelab.studio.llm`): its
    #: suggestion ``{label, confidence, model}``, or where the router sent it.
    llm: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The model version at which the LLM labeller last handled the item (null: never).
    llm_checked: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Lease(Base):
    """An item handed to an annotator until ``expires_at`` (or until answered).

    The lease keeps why the item was shown (strategy, model version, score, selection
    probability) so that the answer can carry it.
    """

    __tablename__ = "studio_leases"
    __table_args__ = (
        Index("ix_leases_item", "item_id", "closed_at"),
        Index("ix_leases_annotator", "annotator_id", "closed_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("studio_items.id"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("studio_annotators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    served_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    strategy: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)


class Answer(Base):
    """One annotator's answer to one item; rows are never deleted.

    An undone answer keeps its row with ``withdrawn_at`` set; a reviewed answer keeps
    the annotator's labels in ``original_labels``.
    """

    __tablename__ = "studio_answers"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key", name="uq_answer_idempotency"),
        Index("ix_answers_item", "item_id", "annotator_id", "withdrawn_at"),
        Index("ix_answers_annotator", "annotator_id", "withdrawn_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("studio_items.id"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("studio_annotators.id"))
    lease_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    labels: Mapped[list[str]] = mapped_column(JSON)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("studio_annotators.id"), nullable=True
    )
    original_labels: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    strategy: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: NER answers: ``{mode, range, spans, decisions}`` (see :mod:`activelab.studio.ner`).
    annotation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: A machine label (the LLM in route mode): ``{model, confidence, cost, uncertainty}``.
    machine: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ModelVersion(Base):
    """One trained model: labels it saw, its cross-validated estimate, stopping criteria."""

    __tablename__ = "studio_models"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    n_labeled: Mapped[int] = mapped_column(Integer)
    estimate: Mapped[float | None] = mapped_column(Float, nullable=True)
    metric: Mapped[str | None] = mapped_column(String(32), nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    stopping: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LLMRound(Base):
    """One round of the LLM labeller: what it asked, what it cost, and how it failed."""

    __tablename__ = "studio_llm_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("studio_projects.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mode: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_labeled: Mapped[int] = mapped_column(Integer, default=0)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0)
    n_to_people: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    cached: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


#: Places per ranking round in :attr:`Item.priority` (more than any pool holds).
ROUND_SPAN = 2**40


def queue_priority(rank_round: int, rank: int) -> int:
    """The queue key of the item at place ``rank`` (0 first) of ranking ``rank_round``.

    Larger is served first; every item of a newer ranking comes before every item of an
    older one.

    Parameters
    ----------
    rank_round : int
        0 for import order, then 1, 2, … for each ranking.
    rank : int
        Place in that ranking, 0 first.

    Returns
    -------
    int

    Examples
    --------
    >>> queue_priority(2, 0) > queue_priority(2, 1) > queue_priority(1, 0)
    True
    """
    return rank_round * ROUND_SPAN - rank


def is_sqlite(engine: Engine) -> bool:
    """True when ``engine`` talks to SQLite.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine

    Returns
    -------
    bool
    """
    return engine.dialect.name == "sqlite"


class _FairLock:
    """A first-come, first-served lock with an express lane for short, urgent writers.

    SQLite's own busy handler polls with growing sleeps, so under many concurrent
    writers one of them can starve past the busy timeout ("database is locked") while
    the lock sits free between polls. Writers of one process queue here instead; the
    busy timeout still covers writers in other processes (the trainer's process).

    Urgent writers (serving the next item: a person is waiting for it, and its
    transaction is short) are handed the lock before the others, but never more than
    :attr:`URGENT_RUN` times in a row while others wait, so nobody starves. An answer's
    transaction waits for its commit to reach the disk (fsync), several milliseconds:
    without the express lane, a request for the next item would wait behind every
    answer queued before it.
    """

    #: Urgent writers served in a row while a normal writer waits.
    URGENT_RUN = 3

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._urgent: collections.deque[threading.Event] = collections.deque()
        self._held = False
        self._owner: int | None = None
        self._run = 0

    def acquire(self, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                raise RuntimeError(
                    "write_session inside another write_session of the same thread would "
                    "deadlock; finish the first transaction, or pass its session down."
                )
            if not self._held:
                self._held = True
                self._owner = me
                return
            turn = threading.Event()
            (self._urgent if urgent else self._waiting).append(turn)
        turn.wait()  # the releasing thread hands the lock over
        self._owner = me

    def release(self) -> None:
        with self._guard:
            self._owner = None
            if self._urgent and (not self._waiting or self._run < self.URGENT_RUN):
                self._run += 1
                self._urgent.popleft().set()
            elif self._waiting:
                self._run = 0
                self._waiting.popleft().set()
            else:
                self._run = 0
                self._held = False


#: The ``synchronous`` setting each SQLite engine was made with.
_SYNCHRONOUS: dict[int, str] = {}

#: One write queue per SQLite file in this process.
_WRITE_LOCKS: dict[str, _FairLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(engine: Engine) -> _FairLock:
    key = str(engine.url.database)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, _FairLock())


def _sqlite_events(engine: Engine, synchronous: str) -> None:
    """WAL, busy timeout, durable commits, foreign keys; BEGIN under our control."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # pysqlite's own BEGIN handling is switched off; the "begin" event below emits
        # BEGIN (or BEGIN IMMEDIATE for writes) itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        record.info["synchronous"] = synchronous
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        wanted = options.get("sqlite_synchronous")
        if wanted is not None and connection.info.get("synchronous") != wanted:
            connection.exec_driver_sql(f"PRAGMA synchronous = {wanted}")
            connection.info["synchronous"] = wanted
        connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', '')}".strip())


def connect(url: str, *, pool_size: int = 20) -> Engine:
    """An engine for ``url``, set up for the studio.

    Parameters
    ----------
    url : str
        ``sqlite:///path/to/studio.db`` (``sqlite://`` for an in-memory database shared
        by the threads of one process) or ``postgresql+psycopg://user@host:port/db``.
        A SQLite URL may end in ``?synchronous=normal``: commits then skip the fsync of
        the write-ahead log — still safe when the server process is killed (the
        operating system keeps the log), but the last answers may be lost if the whole
        machine loses power. The default, ``full``, syncs every commit.
    pool_size : int
        Connections kept open (one per concurrent request at most).

    Returns
    -------
    sqlalchemy.engine.Engine

    Examples
    --------
    >>> connect("sqlite://").dialect.name
    'sqlite'
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        synchronous = str(parsed.query.get("synchronous", "full")).upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(
                f"synchronous={synchronous.lower()!r} in {url!r}: use full (the default) or normal."
            )
        parsed = parsed.difference_update_query(["synchronous"])
        database = parsed.database or ""
        if database in ("", ":memory:"):
            engine = create_engine(
                parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )
        _sqlite_events(engine, synchronous)
        _SYNCHRONOUS[id(engine)] = synchronous
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: the studio "
        "runs on SQLite (sqlite:///path/studio.db) or PostgreSQL "
        "(postgresql+psycopg://user@host:5432/db)."
    )


@contextlib.contextmanager
def write_session(engine: Engine, durable: bool = True, urgent: bool = False) -> Iterator[Session]:
    """A session in one write transaction: committed on exit, rolled back on error.

    On SQLite the writers of this process queue first come, first served (urgent ones
    first, see below), and the transaction starts with ``BEGIN IMMEDIATE`` at its first
    statement (the database's write lock is taken first, waiting up to the busy timeout
    for other processes).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
    durable : bool
        False for writes that can be lost in a power cut without harm (leases,
        rankings): on SQLite their commit skips the fsync (``synchronous=NORMAL``; the
        next durable commit syncs them too). A killed process loses neither kind.
    urgent : bool
        A short transaction someone is waiting for (serving the next item): on SQLite
        it goes ahead of queued normal writers, at most a few in a row.

    Yields
    ------
    sqlalchemy.orm.Session
    """
    if not is_sqlite(engine):
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
        return
    lock = _write_lock(engine)
    lock.acquire(urgent)
    try:
        default = _SYNCHRONOUS.get(id(engine), "FULL")
        bind = engine.execution_options(
            sqlite_begin="IMMEDIATE",
            sqlite_synchronous=default if durable else "NORMAL",
        )
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        lock.release()


@contextlib.contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading (one deferred transaction, ended on exit).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine

    Yields
    ------
    sqlalchemy.orm.Session
    """
    with Session(engine, expire_on_commit=False) as session:
        # close() ends the transaction without expiring what was loaded.
        yield session


def migrate(target: str | Engine) -> None:
    """Create or upgrade the studio's tables to the newest schema (Alembic ``upgrade head``).

    Safe to run on every start: an up-to-date database is left as it is.

    Parameters
    ----------
    target : str or sqlalchemy.engine.Engine
        A database URL or an engine from :func:`connect`.
    """
    from alembic import command
    from alembic.config import Config

    engine = connect(target) if isinstance(target, str) else target
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    if isinstance(target, str):
        engine.dispose()
