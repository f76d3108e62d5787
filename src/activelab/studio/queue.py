"""The queue: which item an annotator gets next, leases, and writing a new ranking.

**Order.** Items are served by :attr:`~activelab.studio.db.Item.priority`, largest first;
a ranking (cold start or the project's strategy, see :mod:`activelab.studio.trainer`)
gives its items the priorities of a new round, so the newest ranking always wins, and
it is written top first in small transactions (:func:`apply_ranking`): ``/next`` never
waits for a whole re-ranking.

**Leases.** Serving an item creates a lease for the caller that lasts
``lease_seconds``. An item is served only while

    live answers by distinct annotators + live leases < overlap,

never twice to the same annotator (skipped or answered), and never while the caller
holds it. A lease is live until it is answered or expires: an expired lease returns its
item to the queue with no clean-up job. An annotator holds at most
``leases_per_annotator`` live leases (the item on screen and one prefetched); past that,
``/next`` serves the caller's least recently served open item again (a reloaded page gets
its items back instead of leaking leases).

**Concurrency.** On SQLite every serving transaction holds the database's write lock
(``BEGIN IMMEDIATE``), so the check and the new lease are one atomic step. On
PostgreSQL the candidate row is locked with ``SELECT … FOR UPDATE SKIP LOCKED`` (so
concurrent callers take different rows without waiting), then the rule above is checked
again with a fresh statement: every lease and answer of an item is written while its row
is locked, so the re-check sees all of them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from activelab.studio.db import (
    Answer,
    Item,
    Lease,
    Project,
    queue_priority,
    utcnow,
    write_session,
)
from activelab.studio.errors import StudioError
from activelab.studio.project import ProjectConfig

__all__ = [
    "Ranking",
    "Served",
    "apply_ranking",
    "image_url",
    "item_json",
    "lease_item",
    "lease_next",
    "lock_item",
    "progress",
    "recount",
    "served",
]

#: Candidates tried per ``/next`` on PostgreSQL before giving up (each was taken by a
#: concurrent caller between the snapshot and the lock).
MAX_TRIES = 50


ITEMS = Item.__table__
LEASES = Lease.__table__
ANSWERS = Answer.__table__


@dataclass(frozen=True)
class Served:
    """An item handed to an annotator: the item's row and the lease.

    Attributes
    ----------
    item : Row
        The item's columns (``id``, ``text``, ``image_path``, ``suggestion``, …).
    lease_id : str
    expires_at : datetime.datetime
    reason : dict
        ``{strategy, model_version, score, probability}``.
    """

    item: Any
    lease_id: str
    expires_at: datetime
    reason: dict[str, Any]


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _build_candidates() -> Any:
    """The serving rule as one statement with parameters (built once, compiled once)."""
    now = bindparam("now")
    annotator_id = bindparam("annotator_id")
    live = and_(
        LEASES.c.item_id == ITEMS.c.id, LEASES.c.closed_at.is_(None), LEASES.c.expires_at > now
    )
    n_live = select(func.count()).select_from(LEASES).where(live).scalar_subquery()
    answered = exists().where(
        ANSWERS.c.item_id == ITEMS.c.id,
        ANSWERS.c.annotator_id == annotator_id,
        ANSWERS.c.withdrawn_at.is_(None),
    )
    holding = exists().where(live, LEASES.c.annotator_id == annotator_id)
    return (
        select(ITEMS)
        .where(
            ITEMS.c.project_id == bindparam("project_id"),
            ITEMS.c.done.is_(False),
            ~answered,
            ~holding,
            ITEMS.c.n_labels + n_live < bindparam("overlap"),
            ITEMS.c.id.not_in(bindparam("skipped", expanding=True)),
        )
        # Priorities are unique within a project (place in a round, or import position):
        # no tie-break, so the queue index gives the order with no sort.
        .order_by(ITEMS.c.priority.desc())
        .limit(1)
    )


_CANDIDATE = _build_candidates()
# PostgreSQL: skip items another transaction holds; when every candidate is held, wait.
_SKIPPING = _CANDIDATE.with_for_update(skip_locked=True)
_WAITING = _CANDIDATE.with_for_update()
# The hot statements are built once with parameters: building and keying a statement
# costs more CPU than SQLite takes to run it.
_ITEM = select(ITEMS).where(ITEMS.c.id == bindparam("item_id"))
_ITEM_FOR_UPDATE = _ITEM.with_for_update()
_LIVE_LEASES = (
    select(func.count())
    .select_from(LEASES)
    .where(
        LEASES.c.item_id == bindparam("item_id"),
        LEASES.c.closed_at.is_(None),
        LEASES.c.expires_at > bindparam("now"),
    )
)
_MY_ANSWERS = (
    select(func.count())
    .select_from(ANSWERS)
    .where(
        ANSWERS.c.item_id == bindparam("item_id"),
        ANSWERS.c.annotator_id == bindparam("annotator_id"),
        ANSWERS.c.withdrawn_at.is_(None),
    )
)
_RESERVE = (
    LEASES.update()
    .where(LEASES.c.id == bindparam("lease_key"))
    .values(served_at=bindparam("when"), expires_at=bindparam("until"))
)
_LABELLERS = (
    select(func.count(func.distinct(ANSWERS.c.annotator_id)))
    .where(
        ANSWERS.c.item_id == bindparam("target"),
        ANSWERS.c.withdrawn_at.is_(None),
        ANSWERS.c.skipped.is_(False),
    )
    .scalar_subquery()
)
_RECOUNT = (
    ITEMS.update()
    .where(ITEMS.c.id == bindparam("target"))
    .values(n_labels=_LABELLERS, done=_LABELLERS >= bindparam("overlap"))
)
_LABELLED = (
    select(func.count())
    .select_from(ITEMS)
    .where(ITEMS.c.project_id == bindparam("project_id"), ITEMS.c.n_labels > 0)
)
_HOLDING = (
    select(LEASES)
    .where(
        LEASES.c.annotator_id == bindparam("annotator_id"),
        LEASES.c.project_id == bindparam("project_id"),
        LEASES.c.closed_at.is_(None),
        LEASES.c.expires_at > bindparam("now"),
    )
    .order_by(LEASES.c.served_at, LEASES.c.id)
)


def lock_item(session: Session, item_id: int) -> Any:
    """An item's row, locked until the transaction ends on PostgreSQL (SQLite: the
    write transaction holds the database lock already).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    item_id : int

    Returns
    -------
    Row or None
    """
    query = _ITEM if _is_sqlite(session) else _ITEM_FOR_UPDATE
    return session.execute(query, {"item_id": item_id}).first()


def _still_open(
    session: Session, item: Any, annotator_id: int, overlap: int, now: datetime
) -> bool:
    """Re-check the serving rule for a locked item with fresh statements."""
    if item.done:
        return False
    live = session.scalar(_LIVE_LEASES, {"item_id": item.id, "now": now})
    mine = session.scalar(_MY_ANSWERS, {"item_id": item.id, "annotator_id": annotator_id})
    return mine == 0 and item.n_labels + int(live or 0) < overlap


def lease_item(
    session: Session,
    config: ProjectConfig,
    item: Any,
    annotator_id: int,
    now: datetime,
    reason: dict[str, Any] | None = None,
) -> Served:
    """Create a lease of ``item`` for ``annotator_id`` (the caller checked the rule).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    item : Row
        The item's row (as from :func:`lock_item`).
    annotator_id : int
    now : datetime.datetime
    reason : dict, optional
        ``{strategy, model_version, score, probability}``; the item's ranking otherwise.

    Returns
    -------
    Served
    """
    reason = reason or _reason(item)
    lease_id = uuid.uuid4().hex
    expires_at = now + timedelta(seconds=config.lease_seconds)
    session.execute(
        LEASES.insert(),
        {
            "id": lease_id,
            "project_id": item.project_id,
            "item_id": item.id,
            "annotator_id": annotator_id,
            "created_at": now,
            "served_at": now,
            "expires_at": expires_at,
            "closed_at": None,
            **reason,
        },
    )
    return Served(item, lease_id, expires_at, reason)


def _reason(item: Any) -> dict[str, Any]:
    return {
        "strategy": item.ranked_by or "import-order",
        "model_version": item.ranked_version if item.ranked_version is not None else 0,
        "score": item.score,
        "probability": item.probability,
    }


def lease_next(
    session: Session,
    config: ProjectConfig,
    project_id: int,
    annotator_id: int,
    now: datetime | None = None,
) -> Served | None:
    """The next item for an annotator, leased; None when nothing is left for them.

    Run inside :func:`activelab.studio.db.write_session`.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project_id : int
    annotator_id : int
    now : datetime.datetime, optional

    Returns
    -------
    Served or None
    """
    now = now or utcnow()
    holding = session.execute(
        _HOLDING, {"annotator_id": annotator_id, "project_id": project_id, "now": now}
    ).all()
    if len(holding) >= config.leases_per_annotator:
        lease = holding[0]
        expires_at = now + timedelta(seconds=config.lease_seconds)
        session.execute(_RESERVE, {"lease_key": lease.id, "when": now, "until": expires_at})
        reason = {
            "strategy": lease.strategy,
            "model_version": lease.model_version,
            "score": lease.score,
            "probability": lease.probability,
        }
        item = session.execute(_ITEM, {"item_id": lease.item_id}).first()
        return Served(item, lease.id, expires_at, reason)
    params = {
        "project_id": project_id,
        "annotator_id": annotator_id,
        "overlap": config.overlap,
        "now": now,
        "skipped": [],
    }
    if _is_sqlite(session):
        # The write lock is held: the rule was evaluated on the latest state.
        item = session.execute(_CANDIDATE, params).first()
        if item is None:
            return None
        return lease_item(session, config, item, annotator_id, now)
    for _ in range(MAX_TRIES):
        item = session.execute(_SKIPPING, params).first()
        if item is None:
            # Every open item can be locked at once by a re-rank, which rewrites the
            # priorities in one transaction: wait for the best one rather than report
            # that nothing is left.
            item = session.execute(_WAITING, params).first()
            if item is None:
                return None
        if _still_open(session, item, annotator_id, config.overlap, now):
            return lease_item(session, config, item, annotator_id, now)
        params["skipped"] = [*params["skipped"], item.id]
    raise StudioError(503, "the queue is busy; ask for the next item again.")


def recount(session: Session, item_id: int, overlap: int) -> None:
    """Recompute an item's ``n_labels`` and ``done`` from its live answers.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    item_id : int
        Locked by the caller (see :func:`lock_item`).
    overlap : int
    """
    session.flush()
    session.execute(_RECOUNT, {"target": item_id, "overlap": overlap})


def progress(session: Session, config: ProjectConfig, project_id: int) -> dict[str, Any]:
    """``{labelled, budget}``: items with at least one live label, and the budget.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project_id : int

    Returns
    -------
    dict
        ``budget`` is None when the project has none.
    """
    labelled = session.scalar(_LABELLED, {"project_id": project_id})
    return {"labelled": int(labelled or 0), "budget": config.budget or None}


def image_url(project_name: str, item_id: int) -> str:
    """The API path of an item's image.

    Parameters
    ----------
    project_name : str
    item_id : int

    Returns
    -------
    str
    """
    return f"/api/p/{project_name}/items/{item_id}/image"


def item_json(project_name: str, item: Any) -> dict[str, Any]:
    """An item as the API returns it: ``{id, text}`` or ``{id, image_url}`` (plus meta;
    NER sentences add ``tokens``).

    Parameters
    ----------
    project_name : str
    item : Item or Row

    Returns
    -------
    dict
    """
    data: dict[str, Any] = {"id": item.id}
    if item.image_path is not None:
        data["image_url"] = image_url(project_name, item.id)
    else:
        data["text"] = item.text
    tokens = getattr(item, "tokens", None)
    if tokens is not None:
        data["tokens"] = list(tokens)
    data["external_id"] = item.external_id
    data["meta"] = item.meta or {}
    return data


def served(
    session: Session, config: ProjectConfig, project_id: int, pair: Served | None
) -> dict[str, Any]:
    """The reply of ``/next`` and ``/undo``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project_id : int
    pair : Served or None

    Returns
    -------
    dict
        ``{item, suggestion, llm_suggestion, reason, lease, progress}``; all but
        ``progress`` are None when nothing is left. ``llm_suggestion`` is the LLM
        labeller's ``{label, confidence, model}`` (:mod:`activelab.studio.llm`), None
        when it has not labelled the item.
    """
    from activelab.studio.llm import llm_suggestion

    state = progress(session, config, project_id)
    if pair is None:
        return {
            "item": None,
            "suggestion": None,
            "llm_suggestion": None,
            "reason": None,
            "lease": None,
            "progress": state,
        }
    item = pair.item
    return {
        "item": item_json(config.name, item),
        "suggestion": item.suggestion if item.ranked_version else None,
        "llm_suggestion": llm_suggestion(item),
        "reason": dict(pair.reason),
        "lease": {"id": pair.lease_id, "expires_at": pair.expires_at.isoformat()},
        "progress": state,
    }


@dataclass(frozen=True)
class Ranking:
    """A new queue order, first item first, and why each item is there.

    Attributes
    ----------
    item_ids : sequence of int
        The ranked items, the first to serve first.
    strategy : str
        The strategy that ranked them (its registry name).
    model_version : int
        The model that scored them (0: cold start, no model).
    scores : sequence of float or None
        The strategy's utility of each item (None where it has none).
    probabilities : sequence of float or None
        The probability with which the selection rule drew each item, given the
        draws before it (1.0 for a deterministic rule; None for the items after the
        ranked batch, which follow in order of utility or at random).
    suggestions : sequence of dict or None, optional
        The model's suggestion for each item.
    """

    item_ids: Sequence[int]
    strategy: str
    model_version: int
    scores: Sequence[float | None]
    probabilities: Sequence[float | None]
    suggestions: Sequence[dict[str, Any] | None] | None = None


def apply_ranking(
    engine: Engine, project_id: int, ranking: Ranking, chunk: int = 500, pause: float = 0.0
) -> int:
    """Write a ranking as the project's next round, top first, ``chunk`` rows per transaction.

    The first chunk takes effect as soon as it commits (its items outrank every older
    round), so requests wait for one small transaction at most.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
    project_id : int
    ranking : Ranking
    chunk : int
    pause : float
        Sleep between two transactions, at least this many seconds and at least as long
        as the last transaction took, so that writers of another process (the server,
        when the trainer runs in a process of its own; SQLite's busy handler polls the
        lock with growing sleeps) take the write lock in between rather than waiting
        for the whole ranking. 0: no pause.

    Returns
    -------
    int
        The new round number.
    """
    with write_session(engine) as session:
        project = session.get(Project, project_id)
        project.rank_round += 1
        rank_round = project.rank_round
    suggestions = ranking.suggestions
    n = len(ranking.item_ids)
    took = 0.0
    for start in range(0, n, chunk):
        rows = []
        for rank in range(start, min(start + chunk, n)):
            row = {
                "id": int(ranking.item_ids[rank]),
                "priority": queue_priority(rank_round, rank),
                "ranked_by": ranking.strategy,
                "ranked_version": ranking.model_version,
                "score": _float(ranking.scores[rank]),
                "probability": _float(ranking.probabilities[rank]),
            }
            if suggestions is not None:
                row["suggestion"] = suggestions[rank]
            rows.append(row)
        if pause and start:
            time.sleep(max(pause, took))
        began = time.perf_counter()
        with write_session(engine, durable=False) as session:
            session.execute(update(Item), rows)
        took = time.perf_counter() - began
    return rank_round


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
