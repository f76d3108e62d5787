"""Answers: storing them exactly once, undo, review, listing, agreement and the labels
the model trains on.

**Exactly once.** :func:`record_answer` runs in one write transaction that commits
before the API replies. The idempotency key is unique per project (a database
constraint): the same key again returns the stored answer with ``duplicate=True``
instead of a second row, whether the first request's reply was lost, the client
retried after a server crash, or two retries raced (the loser's insert fails on the
constraint and it reads the winner's row).

**History.** Rows are never deleted: undo sets ``withdrawn_at``; a review keeps the
annotator's labels in ``original_labels``. Only live answers (not withdrawn) count.

**Training labels.** With overlap, an item's label is the majority of its live answers
(ties: the most recent answer's label), or with ``aggregation = "dawid_skene"`` the most
probable label under Dawid–Skene EM over every answer of the project
(:mod:`activelab.studio.aggregation`); a reviewed answer overrides the rest. For
multi-label projects each label is on when at least half the answers chose it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from activelab.studio.db import Annotator, Answer, Item, Project, utcnow
from activelab.studio.errors import StudioError
from activelab.studio.project import ProjectConfig
from activelab.studio.queue import (
    ANSWERS,
    ITEMS,
    LEASES,
    Served,
    item_json,
    lease_item,
    lock_item,
    recount,
)

__all__ = [
    "agreement",
    "annotator_estimates",
    "answer_json",
    "check_labels",
    "cohen_kappa",
    "correct_answer",
    "find_duplicate",
    "fleiss_kappa",
    "given_answers",
    "gold_labels",
    "list_answers",
    "record_answer",
    "training_labels",
    "undo_last",
]


#: Tasks whose answers carry an annotation (spans, painted regions, boxes) instead of labels.
ANNOTATED_TASKS = ("ner", "segmentation", "detection")

_BY_KEY = select(ANSWERS.c.id, ANSWERS.c.annotator_id, ANSWERS.c.item_id).where(
    ANSWERS.c.project_id == bindparam("project_id"),
    ANSWERS.c.idempotency_key == bindparam("key"),
)
_LEASE = select(LEASES).where(LEASES.c.id == bindparam("lease_key"))
_EARLIER = select(ANSWERS.c.id).where(
    ANSWERS.c.item_id == bindparam("item_id"),
    ANSWERS.c.annotator_id == bindparam("annotator_id"),
    ANSWERS.c.withdrawn_at.is_(None),
)
_CLOSE = (
    LEASES.update().where(LEASES.c.id == bindparam("lease_key")).values(closed_at=bindparam("when"))
)


def check_labels(config: ProjectConfig, labels: Sequence[str], skipped: bool) -> list[str]:
    """Validate the labels of an answer; return them deduplicated in project order.

    Parameters
    ----------
    config : ProjectConfig
    labels : sequence of str
    skipped : bool
        A skip carries no labels.

    Returns
    -------
    list of str
    """
    unknown = [label for label in labels if label not in config.labels]
    if unknown:
        raise StudioError(
            422, f"unknown label(s) {unknown}; the project's labels are {list(config.labels)}."
        )
    chosen = [label for label in config.labels if label in set(labels)]
    if skipped:
        if chosen:
            raise StudioError(422, "a skipped answer carries no labels; send labels: [].")
        return []
    if not config.multi_label and len(chosen) != 1:
        raise StudioError(
            422, f"this project takes exactly one label per item; got {list(labels)}."
        )
    return chosen


def find_duplicate(
    session: Session, project_id: int, annotator_id: int, item_id: int, key: str
) -> Any:
    """The answer stored under ``key`` already (its row), or None; a conflicting reuse
    raises 409.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id, annotator_id, item_id : int
    key : str

    Returns
    -------
    Row or None
        With ``id``, ``annotator_id`` and ``item_id``.
    """
    stored = session.execute(_BY_KEY, {"project_id": project_id, "key": key}).first()
    if stored is None:
        return None
    if stored.annotator_id != annotator_id or stored.item_id != item_id:
        raise StudioError(
            409,
            f"idempotency_key {key!r} was used for another answer (answer {stored.id}); send a "
            "new key with each new answer.",
        )
    return stored


def record_answer(
    session: Session,
    config: ProjectConfig,
    project_id: int,
    annotator_id: int,
    *,
    item_id: int,
    lease_id: str,
    labels: Sequence[str],
    skipped: bool,
    seconds: float | None,
    idempotency_key: str,
    annotation: Any = None,
    now: datetime | None = None,
) -> tuple[int, bool]:
    """Store one answer in the session's transaction, exactly once per idempotency key.

    The lease must be the caller's lease of this item; it may have expired (the answer
    is kept: work is never thrown away). The caller must not have another live answer
    to the item.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    config : ProjectConfig
    project_id, annotator_id, item_id : int
    lease_id : str
    labels : sequence of str
    skipped : bool
    seconds : float or None
        Time the annotator spent on the item.
    idempotency_key : str
    annotation : dict, optional
        NER projects: the spans (:func:`activelab.studio.ner.check_annotation`); the
        answer's ``labels`` are then the entity types it uses (send ``labels: []``).
    now : datetime.datetime, optional

    Returns
    -------
    (int, bool)
        The stored answer's id and whether it was there already.
    """
    now = now or utcnow()
    stored = find_duplicate(session, project_id, annotator_id, item_id, idempotency_key)
    if stored is not None:
        return stored.id, True
    if config.task in ANNOTATED_TASKS:
        if labels:
            raise StudioError(
                422,
                f"a {config.task} answer carries its labels in annotation; send labels: [].",
            )
        if skipped and annotation is not None:
            raise StudioError(422, "a skipped answer carries no annotation; send null.")
        chosen: list[str] = []
    else:
        if annotation is not None:
            raise StudioError(
                422,
                "annotation is for ner, segmentation and detection projects; send labels instead.",
            )
        chosen = check_labels(config, labels, skipped)
    lease = session.execute(_LEASE, {"lease_key": lease_id}).first()
    if lease is None or lease.project_id != project_id:
        raise StudioError(404, f"no lease {lease_id!r} in this project; ask /next for an item.")
    if lease.annotator_id != annotator_id:
        raise StudioError(403, f"lease {lease_id!r} belongs to another annotator.")
    if lease.item_id != item_id:
        raise StudioError(
            409, f"lease {lease_id!r} is for item {lease.item_id}, not item {item_id}."
        )
    item = lock_item(session, item_id)
    if config.task == "ner" and not skipped:
        from activelab.studio.ner import check_annotation

        annotation, chosen = check_annotation(config, len(item.tokens or ()), annotation)
    elif config.task == "segmentation" and not skipped:
        from activelab.studio import segmentation

        annotation, chosen = segmentation.check_annotation(config, item, annotation)
    elif config.task == "detection" and not skipped:
        from activelab.studio import detection

        annotation, chosen = detection.check_annotation(config, item, annotation)
    earlier = session.scalar(_EARLIER, {"item_id": item_id, "annotator_id": annotator_id})
    if earlier is not None:
        raise StudioError(
            409, f"you answered item {item_id} already (answer {earlier}); undo it to change it."
        )
    inserted = session.execute(
        ANSWERS.insert(),
        {
            "project_id": project_id,
            "item_id": item_id,
            "annotator_id": annotator_id,
            "lease_id": lease_id,
            "idempotency_key": idempotency_key,
            "labels": chosen,
            "skipped": skipped,
            "seconds": seconds,
            "served_at": lease.created_at,
            "created_at": now,
            "updated_at": None,
            "withdrawn_at": None,
            "reviewed_by": None,
            "original_labels": None,
            "strategy": lease.strategy,
            "model_version": lease.model_version,
            "score": lease.score,
            "probability": lease.probability,
            "annotation": annotation if config.task in ANNOTATED_TASKS and not skipped else None,
        },
    )
    if lease.closed_at is None:
        session.execute(_CLOSE, {"lease_key": lease_id, "when": now})
    recount(session, item_id, config.overlap)
    return int(inserted.inserted_primary_key[0]), False


def undo_last(
    session: Session, config: ProjectConfig, project_id: int, annotator_id: int
) -> Served:
    """Withdraw the caller's last live answer and lease its item to the caller again.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    config : ProjectConfig
    project_id : int
    annotator_id : int

    Returns
    -------
    Served
    """
    now = utcnow()
    query = (
        select(ANSWERS)
        .where(
            ANSWERS.c.project_id == project_id,
            ANSWERS.c.annotator_id == annotator_id,
            ANSWERS.c.withdrawn_at.is_(None),
        )
        .order_by(ANSWERS.c.id.desc())
        .limit(1)
    )
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    answer = session.execute(query).first()
    if answer is None:
        raise StudioError(404, "nothing to undo: you have no answer in this project.")
    lock_item(session, answer.item_id)
    session.execute(ANSWERS.update().where(ANSWERS.c.id == answer.id).values(withdrawn_at=now))
    recount(session, answer.item_id, config.overlap)
    item = session.execute(select(ITEMS).where(ITEMS.c.id == answer.item_id)).first()
    reason = {
        "strategy": answer.strategy,
        "model_version": answer.model_version,
        "score": answer.score,
        "probability": answer.probability,
    }
    return lease_item(session, config, item, annotator_id, now, reason)


def correct_answer(
    session: Session,
    config: ProjectConfig,
    project_id: int,
    answer_id: int,
    labels: Sequence[str],
    reviewer_id: int,
) -> Answer:
    """Review mode: replace an answer's labels, keeping the annotator's in ``original_labels``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    config : ProjectConfig
    project_id, answer_id : int
    labels : sequence of str
    reviewer_id : int

    Returns
    -------
    Answer
    """
    answer = session.get(Answer, answer_id)
    if answer is None or answer.project_id != project_id:
        raise StudioError(404, f"no answer {answer_id} in this project.")
    if config.task == "ner":
        raise StudioError(
            422,
            "NER answers are reviewed by labelling the sentence again: the annotator can "
            "undo it, or a second annotator can label it (overlap); the latest answer trains.",
        )
    if config.task == "detection":
        raise StudioError(
            422,
            "box answers are reviewed by drawing the image's boxes again: the annotator can "
            "undo it, or a second annotator can answer it (overlap); the latest answer is "
            "exported.",
        )
    if answer.withdrawn_at is not None:
        raise StudioError(
            409, f"answer {answer_id} was withdrawn (undone); it cannot be corrected."
        )
    chosen = check_labels(config, labels, skipped=False)
    lock_item(session, answer.item_id)
    if answer.original_labels is None:
        answer.original_labels = list(answer.labels) if not answer.skipped else []
    answer.labels = chosen
    answer.skipped = False
    answer.reviewed_by = reviewer_id
    answer.updated_at = utcnow()
    recount(session, answer.item_id, config.overlap)
    return answer


def answer_json(
    answer: Answer, annotator: str, project_name: str, item: Item | None = None
) -> dict[str, Any]:
    """An answer as the API returns it.

    Parameters
    ----------
    answer : Answer
    annotator : str
        The annotator's name.
    project_name : str
    item : Item, optional
        Included as ``item`` when given.

    Returns
    -------
    dict
    """
    data = {
        "id": answer.id,
        "item_id": answer.item_id,
        "annotator": annotator,
        "labels": list(answer.labels),
        "skipped": answer.skipped,
        "seconds": answer.seconds,
        "created_at": answer.created_at.isoformat(),
        "updated_at": answer.updated_at.isoformat() if answer.updated_at else None,
        "withdrawn": answer.withdrawn_at is not None,
        "original_labels": answer.original_labels,
        "reviewed": answer.reviewed_by is not None,
        "annotation": answer.annotation,
        "machine": answer.machine,
        "reason": {
            "strategy": answer.strategy,
            "model_version": answer.model_version,
            "score": answer.score,
            "probability": answer.probability,
        },
    }
    if item is not None:
        data["item"] = item_json(project_name, item)
    return data


def list_answers(
    session: Session,
    project: Project,
    *,
    annotator: str | None = None,
    item_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
    include_withdrawn: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Answers of a project, newest first, with their items.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project
    annotator : str, optional
        Only this annotator's answers (by name).
    item_id : int, optional
    limit, offset : int
    include_withdrawn : bool

    Returns
    -------
    (list of dict, int)
        The page and the total number of matching answers.
    """
    from sqlalchemy import func

    query = (
        select(Answer, Annotator.name, Item)
        .join(Annotator, Annotator.id == Answer.annotator_id)
        .join(Item, Item.id == Answer.item_id)
        .where(Answer.project_id == project.id)
    )
    if annotator is not None:
        query = query.where(Annotator.name == annotator)
    if item_id is not None:
        query = query.where(Answer.item_id == item_id)
    if not include_withdrawn:
        query = query.where(Answer.withdrawn_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(query.order_by(Answer.id.desc()).limit(limit).offset(offset)).all()
    return [answer_json(a, name, project.name, item) for a, name, item in rows], int(total or 0)


def given_answers(project_id: int) -> tuple[Any, ...]:
    """The conditions that select a project's given answers: live (not withdrawn), not skipped.

    Parameters
    ----------
    project_id : int

    Returns
    -------
    tuple
        SQLAlchemy conditions on :class:`~activelab.studio.db.Answer`, for
        ``select(...).where(*given_answers(project_id))``.
    """
    return (
        Answer.project_id == project_id,
        Answer.withdrawn_at.is_(None),
        Answer.skipped.is_(False),
    )


def _span_key(annotation: dict[str, Any]) -> tuple[str, ...]:
    """An NER answer as one comparable value: its entities, ``start:end:type``."""
    return tuple(f"{s['start']}:{s['end']}:{s['label']}" for s in annotation.get("spans", []))


def _live_labels(session: Session, project_id: int) -> list[tuple[int, int, tuple[str, ...], bool]]:
    """(item, annotator, labels, reviewed) of every live, non-skipped answer, oldest first.

    An NER answer's labels are its entities (``start:end:type``), so agreement compares
    the spans, not only the types.
    """
    rows = session.execute(
        select(
            Answer.item_id,
            Answer.annotator_id,
            Answer.labels,
            Answer.reviewed_by,
            Answer.annotation,
        )
        .where(*given_answers(project_id))
        .order_by(Answer.id)
    ).all()
    return [
        (i, a, _span_key(note) if note and "spans" in note else tuple(labels), reviewer is not None)
        for i, a, labels, reviewer, note in rows
    ]


def gold_labels(
    session: Session, project_id: int, multi_label: bool, aggregation: str = "majority"
) -> dict[int, tuple[tuple[str, ...], float | None]]:
    """One label set per labelled item, and how sure the aggregation is of it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id : int
    multi_label : bool
    aggregation : {"majority", "dawid_skene"}
        ``majority``: the most frequent label of the item's answers (ties: the most
        recent); multi-label: each label chosen by at least half the answers.
        ``dawid_skene``: the most probable label under Dawid–Skene EM over every answer
        of the project (:mod:`activelab.studio.aggregation`; single-label only). Either
        way an answer corrected on the review page wins.

    Returns
    -------
    dict
        Item id → (labels, confidence): the share of the answers that gave the label
        (majority, single-label), its posterior probability (Dawid–Skene), 1.0 for a
        reviewed answer, None for multi-label majority.
    """
    from activelab.studio.project import AGGREGATIONS

    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}; got {aggregation!r}.")
    if aggregation == "dawid_skene" and multi_label:
        raise ValueError(
            "Dawid–Skene aggregation is for single-label projects; use majority for multi-label."
        )
    by_item: dict[int, list[tuple[tuple[str, ...], bool]]] = defaultdict(list)
    votes: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, annotator_id, labels, reviewed in _live_labels(session, project_id):
        by_item[item_id].append((labels, reviewed))
        if labels:
            votes[item_id][annotator_id] = labels[0]
    estimated: dict[int, tuple[str, float]] = {}
    if aggregation == "dawid_skene" and votes:
        from activelab.studio.aggregation import dawid_skene_gold

        project_labels = session.scalar(select(Project.labels).where(Project.id == project_id))
        estimated = dawid_skene_gold(votes, list(project_labels))
    result: dict[int, tuple[tuple[str, ...], float | None]] = {}
    for item_id, answers in by_item.items():
        reviewed = [labels for labels, was_reviewed in answers if was_reviewed]
        if reviewed:
            result[item_id] = (reviewed[-1], 1.0)
            continue
        sets = [labels for labels, _ in answers]
        if multi_label:
            counts = Counter(label for labels in sets for label in labels)
            result[item_id] = (
                tuple(label for label, count in counts.items() if 2 * count >= len(sets)),
                None,
            )
        elif item_id in estimated:
            label, posterior = estimated[item_id]
            result[item_id] = ((label,), posterior)
        else:
            counts = Counter(labels[0] for labels in sets)
            best = max(counts.values())
            # Ties: the most recent answer among the tied labels.
            chosen = next(labels[0] for labels in reversed(sets) if counts[labels[0]] == best)
            result[item_id] = ((chosen,), best / len(sets))
    return result


def training_labels(
    session: Session, project_id: int, multi_label: bool, aggregation: str = "majority"
) -> dict[int, tuple[str, ...]]:
    """One label set per labelled item: what the model trains on.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id : int
    multi_label : bool
    aggregation : {"majority", "dawid_skene"}
        See :func:`gold_labels`.

    Returns
    -------
    dict
        Item id → labels (one label for single-label projects).
    """
    return {
        item_id: labels
        for item_id, (labels, _) in gold_labels(
            session, project_id, multi_label, aggregation
        ).items()
    }


def annotator_estimates(session: Session, project: Project) -> list[dict[str, Any]]:
    """Each annotator's accuracy as Dawid–Skene estimates it (single-label projects).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project

    Returns
    -------
    list of dict
        ``{annotator, accuracy, per_class, n}`` (see
        :func:`activelab.studio.aggregation.annotator_accuracy`); empty for multi-label
        and annotation (NER, segmentation, detection) projects.
    """
    from activelab.studio.aggregation import annotator_accuracy

    if project.multi_label or project.task in ANNOTATED_TASKS:
        return []
    names = dict(
        session.execute(
            select(Annotator.id, Annotator.name).where(Annotator.project_id == project.id)
        ).all()
    )
    votes: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, annotator_id, labels, _ in _live_labels(session, project.id):
        if labels:
            votes[item_id][annotator_id] = labels[0]
    if not votes:
        return []
    return annotator_accuracy(votes, list(project.labels), names)


def cohen_kappa(first: Sequence[Any], second: Sequence[Any]) -> float:
    r"""Cohen's kappa of two annotators on the same items.

    .. math:: \kappa = \frac{p_o - p_e}{1 - p_e}

    with :math:`p_o` the observed agreement and :math:`p_e = \sum_c p_{1c} p_{2c}` the
    agreement expected from each annotator's label frequencies; 1.0 when both give one
    and the same label to everything (:math:`p_e = 1`).

    Parameters
    ----------
    first, second : sequences of hashable labels, the same length

    Returns
    -------
    float

    References
    ----------
    Cohen (1960), "A coefficient of agreement for nominal scales", Educational and
    Psychological Measurement 20(1).

    Examples
    --------
    >>> round(cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 3)
    0.5
    """
    if len(first) != len(second) or not len(first):
        raise ValueError(
            f"cohen_kappa needs two label sequences of the same non-zero length; got "
            f"{len(first)} and {len(second)}."
        )
    values = sorted(set(first) | set(second), key=str)
    code = {value: j for j, value in enumerate(values)}
    a = np.array([code[v] for v in first], dtype=np.int64)
    b = np.array([code[v] for v in second], dtype=np.int64)
    observed = float(np.mean(a == b))
    expected = (
        float(np.dot(np.bincount(a, minlength=len(values)), np.bincount(b, minlength=len(values))))
        / len(a) ** 2
    )
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: np.ndarray) -> float:
    r"""Fleiss' kappa from an items × categories table of rating counts.

    .. math::
        P_i = \frac{\sum_j n_{ij}^2 - n_i}{n_i (n_i - 1)}, \quad
        \bar P = \frac1N \sum_i P_i, \quad
        p_j = \frac{\sum_i n_{ij}}{\sum_i n_i}, \quad
        \kappa = \frac{\bar P - \sum_j p_j^2}{1 - \sum_j p_j^2}

    With the same number of ratings :math:`n_i = n` on every item this is Fleiss'
    statistic; items with different numbers of ratings (at least 2) each contribute
    their own :math:`P_i`. 1.0 when every rating is the same category.

    Parameters
    ----------
    counts : array of shape (N, C)
        ``counts[i, j]``: how many annotators put item ``i`` in category ``j``.

    Returns
    -------
    float

    References
    ----------
    Fleiss (1971), "Measuring nominal scale agreement among many raters",
    Psychological Bulletin 76(5).

    Examples
    --------
    >>> fleiss_kappa(np.array([[2, 0], [0, 2], [2, 0]]))
    1.0
    """
    table = np.asarray(counts, dtype=np.float64)
    raters = table.sum(axis=1)
    if table.ndim != 2 or (raters < 2).any():
        raise ValueError("fleiss_kappa needs an (N, C) table with at least 2 ratings per item.")
    per_item = ((table**2).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = table.sum(axis=0) / raters.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return 1.0
    return float((per_item.mean() - expected) / (1.0 - expected))


def agreement(session: Session, project: Project) -> dict[str, Any]:
    """Inter-annotator agreement over live, non-skipped answers.

    Multi-label answers are compared as whole label sets.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project

    Returns
    -------
    dict
        ``{cohen: [{a, b, kappa, n}], fleiss: {kappa, n}, annotators: [{annotator,
        accuracy, per_class, n}]}``: Cohen's kappa for each pair of annotators over the
        items both labelled (pairs with none are left out), Fleiss' kappa over the items
        with at least two answers (``kappa`` is None when there are none), and each
        annotator's accuracy as Dawid–Skene estimates it (:func:`annotator_estimates`;
        empty without overlap, and for multi-label and annotation projects).
    """
    names = dict(
        session.execute(
            select(Annotator.id, Annotator.name).where(Annotator.project_id == project.id)
        ).all()
    )
    by_item: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, annotator_id, labels, _ in _live_labels(session, project.id):
        by_item[item_id][annotator_id] = "|".join(labels)
    pairs: dict[tuple[int, int], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for ratings in by_item.values():
        for a, b in combinations(sorted(ratings), 2):
            pairs[a, b][0].append(ratings[a])
            pairs[a, b][1].append(ratings[b])
    cohen = [
        {"a": names[a], "b": names[b], "kappa": cohen_kappa(first, second), "n": len(first)}
        for (a, b), (first, second) in sorted(pairs.items())
    ]
    shared = [ratings for ratings in by_item.values() if len(ratings) >= 2]
    if not shared:
        # Without overlap every annotator agrees with the gold label by construction:
        # Dawid–Skene's estimate says nothing, so none is shown.
        return {"cohen": cohen, "fleiss": {"kappa": None, "n": 0}, "annotators": []}
    estimates = annotator_estimates(session, project)
    categories = sorted({value for ratings in shared for value in ratings.values()})
    column = {value: j for j, value in enumerate(categories)}
    table = np.zeros((len(shared), len(categories)), dtype=np.int64)
    for i, ratings in enumerate(shared):
        for value in ratings.values():
            table[i, column[value]] += 1
    return {
        "cohen": cohen,
        "fleiss": {"kappa": fleiss_kappa(table), "n": len(shared)},
        "annotators": estimates,
    }
