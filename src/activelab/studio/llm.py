"""The LLM labeller: suggestions for people, or machine labels for the items the model is
sure about.

A text project may name an OpenAI-compatible chat-completions endpoint (``llm_base_url``,
``llm_model``, the *name* of the environment variable with the key, prices per 1000
tokens, a task description; see :class:`~activelab.studio.project.ProjectConfig`). The
labelling goes through :class:`activelab.oracles.LLMOracle` — its prompt with few-shot
examples from people's labels, constrained JSON output validated against the label
set, one retry on a malformed answer, retries with backoff on 429/5xx, and its SQLite
cache (``PROJECT/llm-cache.sqlite``: asking again costs nothing) — and runs in the
trainer's process after each step (:class:`LLMJob`), so no page request ever waits for
it. Two modes:

``suggest``
    The first ``llm_lookahead`` places of the queue get the LLM's label and confidence,
    ``llm_batch`` items per round. ``POST /next`` returns it as ``llm_suggestion``,
    beside (and distinct from) the model's ``suggestion``; the person confirms or
    changes it. An item the LLM could not label (malformed twice) gets no suggestion.
``route``
    Once a model exists, open items nobody has answered or holds are taken in queue
    order, ``llm_batch`` at a time, and split by :class:`activelab.oracles.Router` on
    the model's uncertainty (1 − its top probability, from the ranking's suggestion):
    with ``llm_route_by = "threshold"`` every item whose uncertainty exceeds
    ``llm_threshold`` goes to people; with ``"fraction"`` the ``llm_human_fraction`` most
    uncertain share of each batch does (the remainder carries over between rounds).
    The LLM labels the rest: each label is stored as an answer of the annotator
    ``llm:<model>`` (role ``machine``, a token nobody holds), with ``machine = {model,
    confidence, cost, uncertainty}``; it counts like any annotator's answer (the item
    leaves the queue when ``overlap`` answers are in), shows on the review page, where
    an admin can correct it, and is exported with ``machine = true``. Items sent to
    people stay in the queue; each item is routed again when a newer model exists.

Nothing is lost on failure: an item the LLM answers malformed twice gets no suggestion
(suggest) or goes to people (route); when the endpoint keeps failing
(:class:`activelab.oracles.LLMError`: 5xx or 429 after the retries, timeouts, a refused
connection) the round is recorded with its error, the items stay as they were, and the
job waits (5 s, doubling to 5 minutes) before it tries again. Every round is a row of
``studio_llm_rounds`` (requests, cache hits, retries, tokens, cost, error), summed on
the admin page (``GET /api/p/{project}/llm``). A round that fails is recorded with its
error and no tokens: what it received before failing is cached and counted, as cached
answers (cost 0), when the items are asked again.

The key is read from the environment variable per request by the oracle; it is never
written to studio.toml, the database, the log or an API reply.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, func, null, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from activelab.studio.db import (
    Annotator,
    Answer,
    Item,
    Lease,
    LLMRound,
    Project,
    read_session,
    utcnow,
    write_session,
)
from activelab.studio.project import ProjectConfig

__all__ = [
    "LLM_CACHE",
    "MACHINE_ROLE",
    "LLMJob",
    "LLMSettings",
    "llm_suggestion",
    "machine_annotator",
    "record_machine_answer",
    "store_settings",
    "usage_summary",
]

log = logging.getLogger("activelab.studio")

#: The LLM's response cache, in the project folder.
LLM_CACHE = "llm-cache.sqlite"
#: The role of the LLM's annotator row (it has no usable token).
MACHINE_ROLE = "machine"
#: People's labels offered to the prompt as few-shot examples (the most recent).
MAX_EXAMPLES = 200
#: First and longest wait after a round failed, seconds.
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0
_MALFORMED = "no valid label after one retry (malformed or not in the label set)"


@dataclass(frozen=True)
class LLMSettings:
    """The LLM labeller's settings: the ``llm_*`` keys of studio.toml, without ``llm_``.

    Attributes
    ----------
    mode : {"off", "suggest", "route"}
    base_url, model, api_key_env, task : str
    price_prompt, price_completion : float
        Per 1000 tokens.
    route_by : {"threshold", "fraction"}
    threshold, human_fraction : float
    batch, lookahead, examples, samples : int

    Examples
    --------
    >>> LLMSettings(mode="route", model="qwen2.5-7b").annotator
    'llm:qwen2.5-7b'
    """

    mode: str = "off"
    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    task: str = ""
    price_prompt: float = 0.0
    price_completion: float = 0.0
    route_by: str = "threshold"
    threshold: float = 0.2
    human_fraction: float = 0.5
    batch: int = 16
    lookahead: int = 50
    examples: int = 4
    samples: int = 1

    @classmethod
    def from_config(cls, config: ProjectConfig) -> LLMSettings:
        """The settings of a project's ``studio.toml``.

        Parameters
        ----------
        config : ProjectConfig

        Returns
        -------
        LLMSettings
        """
        values = {
            f.name: getattr(config, f"llm_{f.name}")
            for f in dataclasses.fields(cls)
            if f.name != "mode"
        }
        values["mode"] = config.llm
        return cls(**values)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> LLMSettings:
        """The settings stored in ``studio_projects.llm`` (None: off).

        Parameters
        ----------
        data : dict or None

        Returns
        -------
        LLMSettings
        """
        if not data:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_json(self) -> dict[str, Any]:
        """The settings as stored in the database (no key: only its variable's name).

        Returns
        -------
        dict
        """
        return dataclasses.asdict(self)

    def config_values(self) -> dict[str, Any]:
        """The settings as :class:`ProjectConfig` fields (``llm``, ``llm_model``, …).

        Returns
        -------
        dict
        """
        values = {f"llm_{key}": value for key, value in self.to_json().items()}
        values["llm"] = values.pop("llm_mode")
        return values

    @property
    def annotator(self) -> str:
        """The name of the LLM's annotator row: ``llm:<model>`` (64 characters at most)."""
        return f"llm:{self.model}"[:64]

    @property
    def prompt_key(self) -> tuple[Any, ...]:
        """What changes the LLM's answers; a change asks every open item again."""
        return (self.mode, self.base_url, self.model, self.task, self.examples, self.samples)


def store_settings(session: Session, project_id: int, config: ProjectConfig) -> bool:
    """Write a project's LLM and aggregation settings to its database row.

    When what the LLM would answer changes (mode, endpoint, model, task, examples or
    samples), the open items' suggestions and routing are cleared, so the LLM labeller
    asks them again.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    config : ProjectConfig

    Returns
    -------
    bool
        Whether the open items were cleared.
    """
    project = session.get(Project, project_id)
    settings = LLMSettings.from_config(config)
    before = LLMSettings.from_json(project.llm)
    project.llm = settings.to_json()
    project.aggregation = config.aggregation
    if before.prompt_key == settings.prompt_key:
        return False
    session.execute(
        update(Item)
        .where(Item.project_id == project_id, Item.done.is_(False))
        .values(llm=null(), llm_checked=None)
    )
    return True


def settings_of(session: Session, project_id: int) -> LLMSettings:
    """The LLM settings in force now (the database's: the admin may change them).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id : int

    Returns
    -------
    LLMSettings
    """
    return LLMSettings.from_json(
        session.scalar(select(Project.llm).where(Project.id == project_id))
    )


def llm_suggestion(item: Any) -> dict[str, Any] | None:
    """The LLM's suggestion for an item as ``/next`` returns it, or None.

    Parameters
    ----------
    item : Item or Row

    Returns
    -------
    dict or None
        ``{label, confidence, model}``; None when the LLM has not labelled the item (or
        could not).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> llm_suggestion(SimpleNamespace(llm={"label": "pos", "confidence": 0.9, "model": "m"}))
    {'label': 'pos', 'confidence': 0.9, 'model': 'm'}
    >>> llm_suggestion(SimpleNamespace(llm={"route": "people"})) is None
    True
    """
    state = getattr(item, "llm", None)
    if not isinstance(state, dict) or state.get("label") is None:
        return None
    return {key: state.get(key) for key in ("label", "confidence", "model")}


def machine_annotator(session: Session, project_id: int, name: str) -> int:
    """The id of the machine annotator ``name``, made on first use.

    Its token is the hash of a random token nobody was given, and it is marked revoked,
    so no request can ever authenticate as it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    name : str

    Returns
    -------
    int
    """
    from activelab.studio.auth import hash_token

    found = session.scalar(
        select(Annotator.id).where(Annotator.project_id == project_id, Annotator.name == name)
    )
    if found is not None:
        return int(found)
    person = Annotator(
        project_id=project_id,
        name=name,
        role=MACHINE_ROLE,
        token_hash=hash_token(secrets.token_urlsafe(32)),
        revoked_at=utcnow(),
    )
    session.add(person)
    session.flush()
    return int(person.id)


def record_machine_answer(
    session: Session,
    config: ProjectConfig,
    project_id: int,
    annotator_id: int,
    item_id: int,
    label: str,
    machine: dict[str, Any],
    model_version: int,
) -> int | None:
    """Store the LLM's label of an item as an answer, if the item is still nobody's.

    The item's row is locked (PostgreSQL) or the database is (SQLite); the answer is
    stored only while the item has no live answer and no live lease, so a person who
    took the item meanwhile keeps it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    config : ProjectConfig
    project_id, annotator_id, item_id : int
    label : str
    machine : dict
        ``{model, confidence, cost, uncertainty}``.
    model_version : int
        The model whose confidence routed the item.

    Returns
    -------
    int or None
        The answer's id, or None when the item was taken meanwhile.
    """
    from activelab.studio.queue import ANSWERS, LEASES, lock_item, recount

    now = utcnow()
    item = lock_item(session, item_id)
    if item is None or item.done or item.n_labels:
        return None
    leased = session.scalar(
        select(func.count())
        .select_from(LEASES)
        .where(LEASES.c.item_id == item_id, LEASES.c.closed_at.is_(None), LEASES.c.expires_at > now)
    )
    answered = session.scalar(
        select(func.count())
        .select_from(ANSWERS)
        .where(ANSWERS.c.item_id == item_id, ANSWERS.c.withdrawn_at.is_(None))
    )
    if leased or answered:
        return None
    inserted = session.execute(
        ANSWERS.insert(),
        {
            "project_id": project_id,
            "item_id": item_id,
            "annotator_id": annotator_id,
            "lease_id": None,
            "idempotency_key": f"llm-route:{item_id}:{annotator_id}:{model_version}",
            "labels": [label],
            "skipped": False,
            "seconds": None,
            "served_at": None,
            "created_at": now,
            "updated_at": None,
            "withdrawn_at": None,
            "reviewed_by": None,
            "original_labels": None,
            "strategy": "llm-route",
            "model_version": model_version,
            "score": machine.get("uncertainty"),
            "probability": None,
            "annotation": None,
            "machine": machine,
        },
    )
    recount(session, item_id, config.overlap)
    return int(inserted.inserted_primary_key[0])


def _finite(value: Any) -> float | None:
    """A float for JSON (NaN and None become None: PostgreSQL's JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class _People:
    """The human side of the router: people answer in the studio, later; nothing now."""

    def label(self, indices: np.ndarray) -> Any:
        from activelab.oracles import Answers

        empty = np.empty(0, dtype=np.int64)
        return Answers(empty, np.empty(0, dtype=object), np.asarray(indices, np.int64), None, 0.0)


class _RoundLLM:
    """The LLM side of the router: item ids in, the round's LLMOracle asked by text."""

    def __init__(self) -> None:
        self.oracle: Any = None
        self.texts: dict[int, str] = {}

    def label(self, indices: np.ndarray) -> Any:
        from activelab.oracles import Answers

        ids = np.asarray(indices, dtype=np.int64)
        answers = self.oracle.annotate([self.texts[int(i)] for i in ids])
        return Answers(
            ids[answers.indices],
            answers.labels,
            ids[answers.skipped],
            answers.confidence,
            answers.cost,
        )


class LLMJob:
    """One step of LLM labelling at a time, in the trainer's process (see the module).

    Parameters
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int

    Attributes
    ----------
    pending : bool
        True when the last round found more work than one batch (the trainer's loop
        then runs the next step without waiting).
    oracle_options : dict
        Extra keyword arguments for :class:`activelab.oracles.LLMOracle` (timeouts,
        retries, concurrency); the defaults are the oracle's, with the cache in the
        project folder.
    backoff_first : float
        Seconds to wait after the first failed round (doubling to :data:`BACKOFF_MAX`).
    """

    def __init__(self, config: ProjectConfig, engine: Engine, project_id: int) -> None:
        self.config = config
        self.engine = engine
        self.project_id = project_id
        self.pending = False
        self.oracle_options: dict[str, Any] = {}
        self.backoff_first = BACKOFF_FIRST
        self._retry_at = 0.0
        self._delay = 0.0
        self._router: Any = None
        self._router_key: tuple[Any, ...] | None = None
        self._llm = _RoundLLM()
        self._scores: dict[int, float] = {}

    # -- the round's oracle -------------------------------------------------------------

    def _examples(self, session: Session) -> tuple[list[str], list[str]]:
        """People's most recent single labels, as few-shot examples (texts, labels)."""
        rows = session.execute(
            select(Item.text, Answer.labels)
            .join(Item, Item.id == Answer.item_id)
            .join(Annotator, Annotator.id == Answer.annotator_id)
            .where(
                Answer.project_id == self.project_id,
                Answer.withdrawn_at.is_(None),
                Answer.skipped.is_(False),
                Annotator.role != MACHINE_ROLE,
            )
            .order_by(Answer.id.desc())
            .limit(MAX_EXAMPLES)
        ).all()
        labels = set(self.config.labels)
        pairs = [
            (text, chosen[0])
            for text, chosen in reversed(rows)
            if text and len(chosen) == 1 and chosen[0] in labels
        ]
        return [t for t, _ in pairs], [lab for _, lab in pairs]

    def _oracle(self, settings: LLMSettings, examples: tuple[list[str], list[str]]) -> Any:
        from activelab.oracles import LLMOracle

        options: dict[str, Any] = {"cache": Path(self.config.directory) / LLM_CACHE}
        options.update(self.oracle_options)
        return LLMOracle(
            [],
            list(self.config.labels),
            settings.task,
            base_url=settings.base_url,
            model=settings.model,
            api_key_env=settings.api_key_env or None,
            examples=examples if examples[0] else None,
            n_examples=settings.examples,
            n_samples=settings.samples,
            price_prompt=settings.price_prompt,
            price_completion=settings.price_completion,
            **options,
        )

    def _router_for(self, settings: LLMSettings) -> Any:
        """The router, kept across rounds (its fraction's remainder carries over)."""
        from activelab.oracles import Router

        key = (settings.route_by, settings.threshold, settings.human_fraction, settings.model)
        if self._router is None or key != self._router_key:
            rule = (
                {"threshold": settings.threshold}
                if settings.route_by == "threshold"
                else {"human_fraction": settings.human_fraction}
            )
            self._router = Router(
                _People(),
                self._llm,
                uncertainty=self._uncertainty,
                human_cost=None,
                llm_cost=None,
                share_examples=False,
                random_state=self.config.seed,
                **rule,
            )
            self._router_key = key
        return self._router

    def _uncertainty(self, indices: np.ndarray) -> np.ndarray:
        return np.array([self._scores[int(i)] for i in indices], dtype=np.float64)

    # -- steps --------------------------------------------------------------------------

    def step(self) -> str | None:
        """Run one round if one is due; return ``"llm-suggest"``, ``"llm-route"``,
        ``"llm-error"`` or None (nothing to do, off, or waiting after a failure).

        Returns
        -------
        str or None
        """
        with read_session(self.engine) as session:
            settings = settings_of(session, self.project_id)
            version = int(
                session.scalar(select(Project.model_version).where(Project.id == self.project_id))
                or 0
            )
        if settings.mode == "off" or self.config.task != "text" or self.config.multi_label:
            self.pending = False
            return None
        if time.monotonic() < self._retry_at:
            self.pending = False
            return None
        if settings.mode == "suggest":
            return self._suggest(settings, version)
        return self._route(settings, version)

    def _failed(self, settings: LLMSettings, n_items: int, error: Exception) -> str:
        """Record a failed round; wait before the next (doubling)."""
        self._delay = self.backoff_first if not self._delay else min(self._delay * 2, BACKOFF_MAX)
        self._retry_at = time.monotonic() + self._delay
        self.pending = False
        message = f"{type(error).__name__}: {error}"
        with write_session(self.engine) as session:
            session.add(
                LLMRound(  # the counts not given are the table's defaults: 0
                    project_id=self.project_id,
                    mode=settings.mode,
                    model=settings.model[:200],
                    n_items=n_items,
                    error=message[:2000],
                )
            )
        log.warning(
            "LLM round failed (%s); items stay for people; next try in %.0f s",
            message,
            self._delay,
        )
        return "llm-error"

    def _record(self, settings: LLMSettings, usage: Any, n_to_people: int) -> LLMRound:
        self._delay = 0.0
        return LLMRound(
            project_id=self.project_id,
            mode=settings.mode,
            model=settings.model[:200],
            n_items=int(usage.n_items),
            n_labeled=int(usage.n_labeled),
            n_skipped=int(usage.n_skipped),
            n_to_people=n_to_people,
            requests=int(usage.requests),
            cached=int(usage.cached),
            retries=int(usage.retries),
            prompt_tokens=int(usage.prompt_tokens),
            completion_tokens=int(usage.completion_tokens),
            cost=float(usage.cost),
            seconds=float(usage.seconds),
            error=None,
        )

    def _suggest(self, settings: LLMSettings, version: int) -> str | None:
        from activelab.oracles import LLMError

        with read_session(self.engine) as session:
            head = session.execute(
                select(Item.id, Item.text, Item.llm_checked)
                .where(Item.project_id == self.project_id, Item.done.is_(False))
                .order_by(Item.priority.desc())
                .limit(settings.lookahead)
            ).all()
            todo = [row for row in head if row.llm_checked is None and row.text]
            if not todo:
                self.pending = False
                return None
            examples = self._examples(session)
        batch = todo[: settings.batch]
        oracle = self._oracle(settings, examples)
        try:
            answers = oracle.annotate([row.text for row in batch])
        except LLMError as error:
            return self._failed(settings, len(batch), error)
        finally:
            oracle.close()
        usage = oracle.rounds[-1]
        now = utcnow().isoformat()
        states: dict[int, dict[str, Any]] = {
            row.id: {"mode": "suggest", "label": None, "error": _MALFORMED, "model": settings.model}
            for row in batch
        }
        for position, label, confidence in zip(
            answers.indices.tolist(), answers.labels.tolist(), answers.confidence, strict=True
        ):
            states[batch[position].id] = {
                "mode": "suggest",
                "label": str(label),
                "confidence": _finite(confidence),
                "model": settings.model,
            }
        with write_session(self.engine, durable=False) as session:
            for item_id, state in states.items():
                session.execute(
                    update(Item)
                    .where(Item.id == item_id)
                    .values(llm={**state, "at": now}, llm_checked=version)
                )
            session.add(self._record(settings, usage, 0))
        self.pending = len(todo) > len(batch)
        return "llm-suggest"

    def _route(self, settings: LLMSettings, version: int) -> str | None:
        from activelab.oracles import LLMError

        if version < 1:
            self.pending = False
            return None  # no model yet: nothing to be confident about
        with read_session(self.engine) as session:
            rows = session.execute(
                select(Item.id, Item.text, Item.suggestion)
                .where(
                    Item.project_id == self.project_id,
                    Item.done.is_(False),
                    Item.n_labels == 0,
                    Item.ranked_version > 0,
                    or_(Item.llm_checked.is_(None), Item.llm_checked < version),
                    ~exists().where(
                        and_(
                            Lease.item_id == Item.id,
                            Lease.closed_at.is_(None),
                            Lease.expires_at > utcnow(),
                        )
                    ),
                )
                .order_by(Item.priority.desc())
                .limit(4 * settings.batch)
            ).all()
            scored = [
                row
                for row in rows
                if row.text
                and isinstance(row.suggestion, dict)
                and row.suggestion.get("confidence") is not None
            ]
            if not scored:
                self.pending = False
                return None
            examples = self._examples(session)
        batch = scored[: settings.batch]
        self._scores = {row.id: 1.0 - float(row.suggestion["confidence"]) for row in batch}
        self._llm.texts = {row.id: row.text for row in batch}
        oracle = self._llm.oracle = self._oracle(settings, examples)
        router = self._router_for(settings)
        before = len(router.records)
        ids = np.array([row.id for row in batch], dtype=np.int64)
        try:
            answers = router.label(ids)
        except LLMError as error:
            return self._failed(settings, len(batch), error)
        finally:
            oracle.close()
            self._llm.oracle = None
        records = router.records[before:]
        usage = oracle.rounds[-1] if oracle.rounds else None
        confidence = {
            int(i): _finite(c)
            for i, c in zip(
                answers.indices.tolist(),
                answers.confidence if answers.confidence is not None else [],
                strict=False,
            )
        }
        asked_llm = {r.index: r for r in records if r.annotator == "llm"}
        to_llm = {r.index: r for r in records if r.annotator == "llm" and r.final}
        now = utcnow().isoformat()
        n_people = 0
        with write_session(self.engine) as session:
            annotator_id = machine_annotator(session, self.project_id, settings.annotator)
            for item_id in ids.tolist():
                uncertainty = round(self._scores[item_id], 6)
                record = to_llm.get(item_id)
                if record is not None:
                    machine = {
                        "model": settings.model,
                        "confidence": confidence.get(item_id),
                        "cost": float(record.cost),
                        "uncertainty": uncertainty,
                    }
                    stored = record_machine_answer(
                        session,
                        self.config,
                        self.project_id,
                        annotator_id,
                        item_id,
                        str(record.label),
                        machine,
                        version,
                    )
                    state = {
                        "route": "llm" if stored is not None else "taken",
                        "label": str(record.label),
                        **machine,
                    }
                else:
                    n_people += 1
                    state = {"route": "people", "uncertainty": uncertainty}
                    if item_id in asked_llm:
                        state["error"] = _MALFORMED
                session.execute(
                    update(Item)
                    .where(Item.id == item_id)
                    .values(llm={**state, "at": now}, llm_checked=version)
                )
            if usage is not None:
                session.add(self._record(settings, usage, n_people))
            else:  # every item went to people: the LLM was not asked
                self._delay = 0.0
                session.add(
                    LLMRound(  # the counts not given are the table's defaults: 0
                        project_id=self.project_id,
                        mode=settings.mode,
                        model=settings.model[:200],
                        n_to_people=n_people,
                    )
                )
        self.pending = len(scored) > len(batch)
        return "llm-route"


def usage_summary(session: Session, project_id: int, recent: int = 20) -> dict[str, Any]:
    """The LLM labeller's accounting for the admin page.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id : int
    recent : int
        How many of the latest rounds to list.

    Returns
    -------
    dict
        ``{settings, totals: {rounds, failed_rounds, n_items, n_labeled, n_skipped,
        n_to_people, requests, cached, retries, prompt_tokens, completion_tokens, cost},
        machine_labels, items_handled, last_error, rounds: [...]}``: ``machine_labels``
        counts the LLM's live answers, ``items_handled`` the open items with an LLM
        suggestion or routing decision; ``settings`` holds the key's variable name and
        whether it is set in the server's environment, never the key.
    """
    import os

    settings = settings_of(session, project_id)
    sums = session.execute(
        select(
            func.count(LLMRound.id),
            func.count(LLMRound.error),
            func.coalesce(func.sum(LLMRound.n_items), 0),
            func.coalesce(func.sum(LLMRound.n_labeled), 0),
            func.coalesce(func.sum(LLMRound.n_skipped), 0),
            func.coalesce(func.sum(LLMRound.n_to_people), 0),
            func.coalesce(func.sum(LLMRound.requests), 0),
            func.coalesce(func.sum(LLMRound.cached), 0),
            func.coalesce(func.sum(LLMRound.retries), 0),
            func.coalesce(func.sum(LLMRound.prompt_tokens), 0),
            func.coalesce(func.sum(LLMRound.completion_tokens), 0),
            func.coalesce(func.sum(LLMRound.cost), 0.0),
        ).where(LLMRound.project_id == project_id)
    ).one()
    keys = (
        "rounds",
        "failed_rounds",
        "n_items",
        "n_labeled",
        "n_skipped",
        "n_to_people",
        "requests",
        "cached",
        "retries",
        "prompt_tokens",
        "completion_tokens",
    )
    totals: dict[str, Any] = {key: int(value) for key, value in zip(keys, sums[:-1], strict=True)}
    totals["cost"] = float(sums[-1])
    machine_labels = session.scalar(
        select(func.count())
        .select_from(Answer)
        .join(Annotator, Annotator.id == Answer.annotator_id)
        .where(
            Answer.project_id == project_id,
            Answer.withdrawn_at.is_(None),
            Annotator.role == MACHINE_ROLE,
        )
    )
    suggestions = session.scalar(
        select(func.count())
        .select_from(Item)
        .where(
            Item.project_id == project_id,
            Item.done.is_(False),
            Item.llm_checked.is_not(None),
        )
    )
    last_error = session.execute(
        select(LLMRound.error, LLMRound.at)
        .where(LLMRound.project_id == project_id, LLMRound.error.is_not(None))
        .order_by(LLMRound.id.desc())
        .limit(1)
    ).first()
    latest = session.scalars(
        select(LLMRound)
        .where(LLMRound.project_id == project_id)
        .order_by(LLMRound.id.desc())
        .limit(recent)
    ).all()
    shown = settings.to_json()
    shown["api_key_set"] = bool(settings.api_key_env and os.environ.get(settings.api_key_env))
    return {
        "settings": shown,
        "totals": totals,
        "machine_labels": int(machine_labels or 0),
        "items_handled": int(suggestions or 0),
        "last_error": None
        if last_error is None
        else {"error": last_error.error, "at": last_error.at.isoformat()},
        "rounds": [_round_json(row) for row in latest],
    }


def _round_json(row: LLMRound) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "mode": row.mode,
        "model": row.model,
        "n_items": row.n_items,
        "n_labeled": row.n_labeled,
        "n_skipped": row.n_skipped,
        "n_to_people": row.n_to_people,
        "requests": row.requests,
        "cached": row.cached,
        "retries": row.retries,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost": row.cost,
        "seconds": row.seconds,
        "error": row.error,
    }
