"""NER projects: sentences of tokens labelled with entity spans, a CRF behind the queue.

An item of a ``task = "ner"`` project is a sentence: its ``text`` and its ``tokens``. An
answer carries an *annotation* (:func:`check_annotation` gives its canonical form):

``{"mode": "correct", "range": [a, b], "spans": [{"start", "end", "label"}]}``
    Full correction of the tokens ``a … b−1`` (the whole sentence, or the stretch a
    sub-sequence query asked about): every entity in the range, token offsets, ``end``
    exclusive. A token of the range outside every span is ``O``; tokens outside the
    range are not known.
``{"mode": "teach", "range": null, "spans": [...], "decisions": [{"start", "end",
"label", "accept"}]}``
    Accept/reject of the model's proposed entities, one at a time (as Prodigy's
    ``ner.teach``): ``spans`` are the accepted ones. An accepted entity fixes its tokens'
    tags; nothing else of the sentence is known.

**Model.** :class:`activelab.sequence.CRFTagger` (the ``ner`` extra), refit by the
trainer every ``retrain_every`` answers on every labelled sentence (the latest live
answer of each). Tags are IOB2 over the project's entity types. Partly known sentences
(sub-sequence queries, accepted entities) are trained as :func:`activelab.sequence.simulate`
trains them: a tagger that declares ``partial_labels`` gets the unknown tokens as None
and marginalises them (the partial-label loss, :func:`activelab.sequence.partial_label_nll`);
crfsuite cannot, so for the CRF the unknown tokens are filled with the previous model's
constrained Viterbi tags (:meth:`~activelab.sequence.CRFTagger.complete`) and only the
known stretch plus :data:`CONTEXT` tokens on each side is trained on.

**Queue.** Cold start ranks by ``cold_start`` (TypiClust) on the tagger's hashed
sentence embeddings; once a model exists, by the project's ``seq_*`` strategy
(``seq_mnlp`` by default, Shen et al. 2018), and the ranked batch is made diverse as the
classifier queue's is: the ``10 · k`` most uncertain sentences are clustered by
utility-weighted k-means on the embeddings and the one nearest each centre is taken
(:class:`activelab.sequence.SequenceDiverse`, Zhdanov 2019). With
``query = "subsequences"`` each ranked sentence is asked about its most uncertain
stretch of ``span_min … span_max`` tokens (:func:`activelab.sequence.select_spans`,
Radmard et al. 2021). The suggestion of each ranked sentence holds the model's
entities, each with its exact probability under the CRF (:func:`entity_confidences`).

References
----------
Shen, Yun, Lipton, Kronrod & Anandkumar (2018), "Deep active learning for named entity
recognition", ICLR. Radmard, Fathullah & Lipani (2021), "Subsequence based deep active
learning for named entity recognition", ACL-IJCNLP. Tsuboi et al. (2008), "Training
conditional random fields using incomplete annotations", COLING.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from activelab.studio.answers import given_answers
from activelab.studio.db import Answer
from activelab.studio.errors import StudioError
from activelab.studio.features import Features
from activelab.studio.project import ProjectConfig
from activelab.studio.queue import Ranking

__all__ = [
    "CONTEXT",
    "TAGGER_PARAMS",
    "annotation_tags",
    "check_annotation",
    "check_tagger_strategy",
    "entity_confidences",
    "estimate_f1",
    "fit_tagger",
    "ner_features",
    "ner_ranking",
    "ready",
    "training_tags",
]

#: Filled tokens kept on each side of a known stretch (the CRF's feature window).
CONTEXT = 2
#: The CRF the studio fits (fewer L-BFGS iterations than the default: it refits often).
TAGGER_PARAMS: dict[str, Any] = {"max_iterations": 60}


def _tagger() -> Any:
    from activelab.sequence import CRFTagger

    return CRFTagger(**TAGGER_PARAMS)


def check_tagger_strategy(name: str) -> Any:
    """The strategy ``name``, or a ValueError when the studio's CRF cannot run it.

    Parameters
    ----------
    name : str
        A registry name: a tagger strategy (``seq_*``) or ``random``.

    Returns
    -------
    Strategy
    """
    from activelab import strategies
    from activelab.sequence._taggers import CRFTagger

    strategy = strategies.get(name)
    capabilities = CRFTagger._capabilities
    usable = [
        n
        for n in strategies.available()
        if getattr(strategies.get(n), "task", None) == "sequence"
        and set(strategies.get(n).needs) <= capabilities
    ]
    if strategy.name == "random":
        return strategy
    if getattr(strategy, "task", None) != "sequence":
        raise ValueError(
            f"strategy {name!r} ranks items of a classifier; an NER project needs a tagger "
            f"strategy: one of {', '.join(usable)}."
        )
    missing = set(strategy.needs) - capabilities
    if missing:
        raise ValueError(
            f"strategy {name!r} needs {', '.join(sorted(missing))}, which the studio's CRF "
            f"tagger does not give (a committee would). Choose one of: {', '.join(usable)}."
        )
    return strategy


# ------------------------------------------------------------------------- annotations


def _span(raw: Any, n: int, labels: Sequence[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise StudioError(422, f"{where}: a span is {{start, end, label}}; got {raw!r}.")
    start, end, label = raw.get("start"), raw.get("end"), raw.get("label")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise StudioError(422, f"{where}: start and end must be token indices; got {raw!r}.")
    if not 0 <= start < end <= n:
        raise StudioError(
            422, f"{where}: span [{start}, {end}) is not inside the sentence's {n} tokens."
        )
    if label not in labels:
        raise StudioError(
            422, f"{where}: unknown entity type {label!r}; the types are {list(labels)}."
        )
    return {"start": start, "end": end, "label": label}


def _no_overlap(spans: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"]))
    for before, after in itertools.pairwise(ordered):
        if after["start"] < before["end"]:
            raise StudioError(
                422,
                f"{where}: spans [{before['start']}, {before['end']}) and "
                f"[{after['start']}, {after['end']}) overlap; an entity has one type.",
            )
    return ordered


def check_annotation(
    config: ProjectConfig, n_tokens: int, annotation: Any
) -> tuple[dict[str, Any], list[str]]:
    """Validate an NER answer's annotation; return its canonical form and its types.

    Parameters
    ----------
    config : ProjectConfig
    n_tokens : int
        Tokens of the answered sentence.
    annotation : dict
        ``{mode: "correct", range: [a, b] | null, spans: [...]}`` or ``{mode: "teach",
        decisions: [{start, end, label, accept}]}`` (see the module docstring).

    Returns
    -------
    (dict, list of str)
        The annotation (spans sorted, range filled in) and the entity types it uses, in
        the project's order (the answer's ``labels``).

    Examples
    --------
    >>> from pathlib import Path
    >>> config = ProjectConfig(Path("."), "x", ("PER", "LOC"), task="ner")
    >>> check_annotation(config, 3, {"mode": "correct", "spans": [
    ...     {"start": 0, "end": 2, "label": "PER"}]})[1]
    ['PER']
    """
    labels = config.labels
    if not isinstance(annotation, dict):
        raise StudioError(422, "an NER answer needs annotation: {mode, range, spans}.")
    mode = annotation.get("mode")
    if mode == "correct":
        given = annotation.get("range")
        if given is None:
            low, high = 0, n_tokens
        elif (
            isinstance(given, list | tuple)
            and len(given) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in given)
            and 0 <= given[0] < given[1] <= n_tokens
        ):
            low, high = int(given[0]), int(given[1])
        else:
            raise StudioError(
                422,
                f"range must be [start, end) inside the sentence's {n_tokens} tokens; "
                f"got {given!r}.",
            )
        raw = annotation.get("spans") or []
        if not isinstance(raw, list) or len(raw) > n_tokens:
            raise StudioError(422, "spans must be a list of {start, end, label}.")
        spans = _no_overlap([_span(s, n_tokens, labels, "spans") for s in raw], "spans")
        for s in spans:
            if s["start"] < low or s["end"] > high:
                raise StudioError(
                    422,
                    f"span [{s['start']}, {s['end']}) leaves the range [{low}, {high}) that was "
                    "asked about.",
                )
        canonical = {"mode": "correct", "range": [low, high], "spans": spans}
    elif mode == "teach":
        raw = annotation.get("decisions")
        if not isinstance(raw, list) or not raw or len(raw) > 4 * n_tokens:
            raise StudioError(
                422, "a teach answer needs decisions: [{start, end, label, accept}], one or more."
            )
        decisions = []
        for entry in raw:
            span = _span(entry, n_tokens, labels, "decisions")
            if not isinstance(entry.get("accept"), bool):
                raise StudioError(422, f"decisions: accept must be true or false; got {entry!r}.")
            decisions.append({**span, "accept": entry["accept"]})
        accepted = [{k: d[k] for k in ("start", "end", "label")} for d in decisions if d["accept"]]
        canonical = {
            "mode": "teach",
            "range": None,
            "spans": _no_overlap(accepted, "accepted decisions"),
            "decisions": decisions,
        }
    else:
        raise StudioError(422, f"annotation mode must be 'correct' or 'teach'; got {mode!r}.")
    used = {s["label"] for s in canonical["spans"]}
    return canonical, [label for label in labels if label in used]


def annotation_tags(n_tokens: int, annotation: dict[str, Any]) -> list[str | None]:
    """IOB2 tags an annotation fixes; None for the tokens it says nothing about.

    Parameters
    ----------
    n_tokens : int
    annotation : dict
        Canonical (:func:`check_annotation`).

    Returns
    -------
    list of (str or None)

    Examples
    --------
    >>> annotation_tags(4, {"mode": "correct", "range": [1, 4],
    ...                     "spans": [{"start": 1, "end": 3, "label": "PER"}]})
    [None, 'B-PER', 'I-PER', 'O']
    """
    tags: list[str | None] = [None] * n_tokens
    if annotation.get("mode") == "correct":
        low, high = annotation.get("range") or (0, n_tokens)
        for t in range(int(low), min(int(high), n_tokens)):
            tags[t] = "O"
    for span in annotation.get("spans", []):
        start, end = int(span["start"]), min(int(span["end"]), n_tokens)
        for t in range(start, end):
            tags[t] = ("B-" if t == start else "I-") + str(span["label"])
    return tags


def training_tags(session: Session, project_id: int, tokens: dict[int, int]) -> dict[int, Any]:
    """The known tags of every labelled sentence: the latest live answer of each item.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project_id : int
    tokens : dict
        Item id → its number of tokens (items without features are left out).

    Returns
    -------
    dict
        Item id → list of tags (None where unknown); sentences with no known tag are
        left out (a teach answer that rejected every proposal).
    """
    rows = session.execute(
        select(Answer.item_id, Answer.annotation)
        .where(*given_answers(project_id))
        .order_by(Answer.id)
    ).all()
    latest = {item_id: annotation for item_id, annotation in rows if annotation is not None}
    out = {}
    for item_id, annotation in latest.items():
        if item_id not in tokens:
            continue
        tags = annotation_tags(tokens[item_id], annotation)
        if any(t is not None for t in tags):
            out[item_id] = tags
    return out


def ready(tags: dict[int, Any], config: ProjectConfig) -> bool:
    """Enough labels for a first tagger: ``min_labels`` sentences and one entity.

    Parameters
    ----------
    tags : dict
        :func:`training_tags`.
    config : ProjectConfig

    Returns
    -------
    bool
    """
    if len(tags) < config.min_labels:
        return False
    return any(t not in (None, "O") for row in tags.values() for t in row)


# ------------------------------------------------------------------------- features


def ner_features(item_ids: Any, sentences: list[list[str]]) -> Features:
    """The sentences (the tagger's input) and their hashed sentence embeddings.

    The embedding is the CRF tagger's own (:meth:`activelab.sequence.CRFTagger.embed`:
    mean hashed token attributes, unit length), which needs no fit, so cold start and
    batch diversity measure the same distances before and after the first model.

    Parameters
    ----------
    item_ids : array-like of int
    sentences : list of list of str

    Returns
    -------
    Features
        ``matrix`` is the list of sentences.
    """
    embedding = _tagger().embed(sentences) if sentences else np.zeros((0, 1), np.float32)
    return Features(np.asarray(item_ids, dtype=np.int64), sentences, embedding)


# ------------------------------------------------------------------------- the model


def fit_tagger(
    sentences: list[list[str]], tags: list[list[str | None]], previous: Any = None
) -> tuple[Any, list[list[str]], list[list[str]], int]:
    """Fit the CRF on known tags, partly known sentences as ``al.sequence.simulate`` does.

    Parameters
    ----------
    sentences : list of list of str
    tags : list of list of (str or None)
        None where a token's tag is unknown.
    previous : Tagger, optional
        The last model, to fill unknown tags (a tagger without ``partial_labels``). Without
        one, a first model is fitted on the fully known sentences.

    Returns
    -------
    (Tagger, X_fit, y_fit, n_full)
        The fitted tagger, what it was trained on (fully known sentences first) and how
        many of those were fully known.
    """
    from activelab.sequence._loop import _fragments

    full = [i for i, row in enumerate(tags) if all(t is not None for t in row)]
    partial = [i for i, row in enumerate(tags) if any(t is None for t in row)]
    X_fit = [sentences[i] for i in full]
    y_fit: list[list[Any]] = [list(tags[i]) for i in full]
    tagger = _tagger()
    if partial and "partial_labels" in tagger.capabilities:
        X_fit += [sentences[i] for i in partial]
        y_fit += [list(tags[i]) for i in partial]
    elif partial:
        filler = previous
        if filler is None and full:
            filler = _tagger().fit(X_fit, y_fit)
        if filler is not None:
            X_part = [sentences[i] for i in partial]
            filled = filler.complete(X_part, [tags[i] for i in partial])
            for i, words, row in zip(partial, X_part, filled, strict=True):
                known = np.array([t is not None for t in tags[i]], dtype=bool)
                for piece_words, piece_tags in _fragments(words, row, known, CONTEXT):
                    X_fit.append(piece_words)
                    y_fit.append(piece_tags)
    if not X_fit:
        raise ValueError("no sentence with known tags to train the tagger on.")
    return tagger.fit(X_fit, y_fit), X_fit, y_fit, len(full)


def estimate_f1(
    X_fit: list[list[str]], y_fit: list[list[str]], n_full: int, seed: int
) -> float | None:
    """Cross-validated entity F1 (micro, conlleval) on the fully labelled sentences.

    Each of up to 5 folds holds out fully labelled sentences; the tagger is trained on
    everything else (partly known pieces included) and scored on the held-out ones.

    Parameters
    ----------
    X_fit, y_fit : list of list of str
        From :func:`fit_tagger` (fully known sentences first).
    n_full : int
    seed : int

    Returns
    -------
    float or None
        None with fewer than 4 fully labelled sentences.
    """
    from sklearn.model_selection import KFold

    from activelab.sequence import entity_scores

    if n_full < 4:
        return None
    folds = KFold(min(5, n_full // 2), shuffle=True, random_state=seed)
    truth: list[list[str]] = []
    guess: list[list[str]] = []
    everything = np.arange(len(X_fit))
    for _, test in folds.split(np.arange(n_full)):
        train = np.setdiff1d(everything, test)
        tagger = _tagger().fit([X_fit[i] for i in train], [y_fit[i] for i in train])
        truth += [y_fit[i] for i in test]
        guess += tagger.predict([X_fit[i] for i in test])
    return float(entity_scores(truth, guess)["f1"])


def entity_confidences(
    tagger: Any, sentences: list[list[str]], found: list[list[tuple[int, int, str]]]
) -> list[list[float]]:
    r"""The probability of each predicted entity under the CRF, exactly.

    For an entity on tokens ``a … b−1`` with tags :math:`y_a … y_{b-1}`, the
    probability that the model tags those tokens so and does not continue the entity at
    ``b``: :math:`Z_c / Z`, with :math:`Z_c` the partition function of the paths that
    agree (forward algorithm with every other label of those tokens forbidden). Taggers
    without emissions and transitions get the mean marginal of the tags instead.

    Parameters
    ----------
    tagger : CRFTagger
        Fitted.
    sentences : list of list of str
    found : list of list of (start, end, type)
        The entities of each sentence (its Viterbi path's).

    Returns
    -------
    list of list of float
    """
    from activelab.sequence import Ragged, forward_backward

    pairs = [(s, span) for s, spans in enumerate(found) for span in spans]
    if not pairs:
        return [[] for _ in found]
    index = {label: j for j, label in enumerate(tagger.labels_)}
    paths, _ = tagger.viterbi(sentences)
    if not hasattr(tagger, "emissions"):
        marginals = tagger.marginals(sentences)
        values = [
            float(np.mean([marginals[s][t, paths[s][t]] for t in range(a, b)]))
            for s, (a, b, _) in pairs
        ]
    else:
        emissions = tagger.emissions(sentences)
        log_z, _, _ = forward_backward(emissions, tagger.transitions_)
        blocks = []
        for s, (a, b, label) in pairs:
            block = np.array(emissions[s], dtype=np.float64, copy=True)
            path = paths[s]
            keep = block[np.arange(a, b), path[a:b]].copy()
            block[a:b] = -np.inf
            block[np.arange(a, b), path[a:b]] = keep
            inside = index.get(f"I-{label}")
            if b < block.shape[0] and inside is not None and np.isfinite(block[b]).sum() > 1:
                block[b, inside] = -np.inf
            blocks.append(block)
        constrained, _, _ = forward_backward(Ragged.from_list(blocks), tagger.transitions_)
        sentence = np.array([s for s, _ in pairs])
        values = np.exp(np.minimum(constrained - log_z[sentence], 0.0)).tolist()
    out: list[list[float]] = [[] for _ in found]
    for (s, _), value in zip(pairs, values, strict=True):
        out[s].append(round(float(value), 4))
    return out


def _query_spans(
    strategy: Any, tagger: Any, sentences: list[list[str]], config: ProjectConfig, rng: Any
) -> list[tuple[int, int] | None]:
    """The most uncertain stretch of each sentence (sub-sequence queries)."""
    from activelab.sequence import Ragged, select_spans

    if not sentences:
        return []
    if hasattr(strategy, "token_utilities"):
        utilities = strategy.token_utilities(tagger, sentences)
    else:  # random: random stretches
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        utilities = Ragged.from_lengths(rng.random(int(lengths.sum())), lengths)
    total = float(utilities.values.shape[0])
    picks = select_spans(utilities, total, config.span_min, config.span_max, random_state=rng)
    best: list[tuple[int, int] | None] = [None] * len(sentences)
    for s, a, b in picks:  # best first: the first pick of a sentence is its best stretch
        if best[s] is None:
            best[s] = (a, b)
    return best


def ner_ranking(
    tagger: Any,
    features: Features,
    pool_ids: np.ndarray,
    labelled_ids: np.ndarray,
    config: ProjectConfig,
    version: int,
    seed: int,
    depth: int,
) -> Ranking:
    """Rank the open sentences with the project's tagger strategy and a diverse batch.

    Parameters
    ----------
    tagger : CRFTagger
        Fitted.
    features : Features
        From :func:`ner_features`.
    pool_ids : array of int
        Open items.
    labelled_ids : array of int
        Labelled items (initial centres of the diversity selector).
    config : ProjectConfig
    version : int
        The model version that ranks.
    seed : int
    depth : int
        Places that get a suggestion (the ones written).

    Returns
    -------
    Ranking
        The batch first (strategy order), then the rest by utility; each of the first
        ``depth`` places suggests the model's entities (and, for sub-sequence queries,
        the stretch to label).
    """
    from activelab.sequence import SequenceDiverse, TaggerStrategy, entities
    from activelab.strategies import RandomSampling

    strategy = check_tagger_strategy(config.strategy)
    pool = features.positions(pool_ids)
    pool_ids = features.item_ids[pool]
    sentences = features.matrix
    X_pool = [sentences[p] for p in pool]
    X_labeled = [sentences[p] for p in features.positions(labelled_ids)]
    n = len(X_pool)
    k = min(config.ranked_batch, n)
    rng = np.random.default_rng(seed)
    chooser = strategy
    if isinstance(strategy, TaggerStrategy) and not isinstance(strategy, SequenceDiverse):
        chooser = SequenceDiverse(base=strategy, method="cluster")
    batch = np.asarray(chooser.query(tagger, X_pool, k, X_labeled, None, rng), dtype=np.int64)
    utilities = strategy.utilities(tagger, X_pool) if isinstance(strategy, TaggerStrategy) else None
    rest = np.setdiff1d(np.arange(n), batch)
    if utilities is None:
        rest = rng.permutation(rest)
    else:
        rest = rest[np.argsort(-utilities[rest], kind="stable")]
    order = np.concatenate([batch, rest])
    if isinstance(strategy, RandomSampling):
        drawn = 1.0 / (n - np.arange(k))
    else:
        drawn = np.ones(k)  # the diverse batch is deterministic given the seed
    head = [X_pool[i] for i in order[:depth]]
    tags = tagger.predict(head) if head else []
    found = entities(tags) if head else []
    confidences = entity_confidences(tagger, head, found) if head else []
    queries = (
        _query_spans(strategy, tagger, head, config, rng)
        if config.query == "subsequences"
        else [None] * len(head)
    )
    suggestions: list[dict[str, Any] | None] = [
        {
            "entities": [
                {"start": a, "end": b, "label": label, "confidence": p}
                for (a, b, label), p in zip(spans, probs, strict=True)
            ],
            "query": None if query is None else {"start": query[0], "end": query[1]},
        }
        for spans, probs, query in zip(found, confidences, queries, strict=True)
    ]
    return Ranking(
        item_ids=pool_ids[order].tolist(),
        strategy=config.strategy,
        model_version=version,
        scores=[None] * n if utilities is None else utilities[order].astype(float).tolist(),
        probabilities=[*drawn.tolist(), *([None] * (n - k))],
        suggestions=suggestions + [None] * (n - len(suggestions)),
    )
