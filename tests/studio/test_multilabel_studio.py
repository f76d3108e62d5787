"""Multi-label projects rank with the multi-label strategies (and refuse the others)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

import activelab as al
from activelab.studio import trainer
from activelab.studio.db import Item, read_session
from activelab.studio.features import text_features
from activelab.studio.project import ProjectConfig

from .conftest import LABELS, synthetic_texts, truth_of
from .test_queue import Studio

MULTILABEL = [
    name
    for name in trainer.multilabel_usable()
    if type(al.strategies.get(name)).task == "multilabel"
]


def _labels_of(text: str) -> tuple[str, ...]:
    """Two labels for every other item: its synthetic label, and "pos" besides."""
    first = truth_of(text)
    index = int(text.rsplit("#", 1)[1])
    return tuple(sorted({first, "pos"})) if index % 2 else (first,)


@pytest.fixture(scope="module")
def fitted():
    """A multi-label studio model fitted on 24 of 60 synthetic texts."""
    texts, _ = synthetic_texts(60)
    ids = np.arange(1, 61, dtype=np.int64)
    features = text_features(texts, seed=0, item_ids=ids)
    config = ProjectConfig(directory=".", name="ml", labels=LABELS, multi_label=True)
    labels = {int(i): _labels_of(texts[i - 1]) for i in ids[:24]}
    model, rows, y, estimate, metric = trainer.train_model(features, labels, config, seed=1)
    return config, features, ids, model, rows, y, estimate, metric


def test_multi_label_projects_default_to_mmc_and_single_label_ones_do_not() -> None:
    assert ProjectConfig(".", "x", LABELS, multi_label=True).strategy == "mmc"
    assert ProjectConfig(".", "x", LABELS).strategy == "diverse_minibatch"
    assert (
        "mmc" in MULTILABEL and "cvirs" in MULTILABEL and "typiclust" in trainer.multilabel_usable()
    )


def test_single_label_strategies_are_refused_with_the_usable_list() -> None:
    with pytest.raises(ValueError, match="single-label") as caught:
        ProjectConfig(".", "x", LABELS, multi_label=True, strategy="margin").validate()
    message = str(caught.value)
    for name in ("mmc", "cvirs", "binary_minimization", "typiclust"):
        assert name in message
    with pytest.raises(ValueError, match="for multi-label projects"):
        ProjectConfig(".", "x", LABELS, strategy="cvirs").validate()


def test_the_multi_label_model_is_a_multi_label_adapter(fitted) -> None:
    _config, _features, _ids, model, rows, y, estimate, metric = fitted
    assert al.models.is_multilabel_adapter(model) and metric == "f1_micro"
    proba = model.predict_proba(rows)
    assert proba.shape == (24, 3) and np.all((proba >= 0) & (proba <= 1))
    assert np.array_equal(model.predict(rows), (model.decision_function(rows) > 0).astype(int))
    assert y.shape == (24, 3) and estimate is not None
    refit = model.clone().fit(rows, y)
    assert np.allclose(refit.predict_proba(rows), proba)
    assert refit.features is model.features


@pytest.mark.parametrize("name", [*MULTILABEL, "typiclust", "random"])
def test_every_usable_strategy_ranks_a_multi_label_pool(fitted, name) -> None:
    config, _features, ids, model, rows, y, *_ = fitted
    config = ProjectConfig(".", "ml", LABELS, multi_label=True, strategy=name, batch_size=8)
    pool_ids = ids[24:]
    ranking = trainer.model_ranking(model, pool_ids, rows, y, config, 1, seed=3)
    assert sorted(ranking.item_ids) == pool_ids.tolist()
    assert ranking.strategy == name and len(ranking.suggestions) == pool_ids.size
    assert all("labels" in s for s in ranking.suggestions)


@pytest.mark.parametrize("name", ["mmc", "cvirs"])
def test_the_batch_and_scores_are_the_strategys_own(fitted, name) -> None:
    config, features, ids, model, rows, y, *_ = fitted
    config = ProjectConfig(".", "ml", LABELS, multi_label=True, strategy=name, batch_size=8)
    pool_ids = ids[24:]
    pool = features.positions(pool_ids)
    ranking = trainer.model_ranking(model, pool_ids, rows, y, config, 1, seed=3)
    expected = al.strategies.get(name).query(
        model, pool, 8, X_labeled=rows, y_labeled=y, random_state=np.random.default_rng(3)
    )
    assert ranking.item_ids[:8] == features.item_ids[pool[expected]].tolist()
    # The stored scores are the strategy's utilities, recomputed here from the paper's
    # formula: the batch holds the 8 highest.
    scores = np.array(ranking.scores)
    assert np.all(np.isfinite(scores))
    assert scores[:8].min() >= np.sort(scores)[-8] - 1e-12
    if name == "mmc":
        f = model.decision_function(pool)
        counts = al.strategies.get("mmc").label_counts(model, pool, rows, y)
        by_item = dict(
            zip(
                features.item_ids[pool].tolist(),
                al.multilabel.mmc(f, model.predict_proba(pool), counts),
                strict=True,
            )
        )
        assert np.allclose(scores, [by_item[i] for i in ranking.item_ids])


def test_a_multi_label_project_trains_and_ranks_with_cvirs(make_project) -> None:
    texts, _ = synthetic_texts(40)
    s = Studio(
        make_project(
            texts, multi_label=True, strategy="cvirs", min_labels=6, retrain_every=6, batch_size=5
        )
    )
    try:
        worker = trainer.Trainer(s.config, s.engine, s.project_id)
        worker.step()
        for _ in range(6):
            item = s.next("ann")
            s.answer("ann", item, labels=list(_labels_of(item[2])))
        assert worker.step() == "trained"
        with read_session(s.engine) as session:
            top = session.scalars(
                select(Item).where(Item.done.is_(False)).order_by(Item.priority.desc())
            ).first()
        assert top.ranked_by == "cvirs" and top.ranked_version == 1 and top.score is not None
    finally:
        s.close()
