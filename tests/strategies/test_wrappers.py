"""SubSample and Parallel: the wrapped strategy's picks, on part of the pool or in chunks."""

from __future__ import annotations

import pickle
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import activelab as al
from activelab.strategies import CoreSet, Entropy, Margin, ScoreStrategy
from activelab.strategies._quire import Quire
from activelab.strategies._wrappers import Parallel, SubSample


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=2
    )
    X_lab, y_lab, pool = X[:20], y[:20], X[20:70]  # a pool of 50
    model = LogisticRegression(max_iter=500).fit(X_lab, y_lab)
    return model, X_lab, y_lab, pool


# ------------------------------------------------------------------------ SubSample


@pytest.mark.parametrize(
    "inner", [Margin(), Entropy(sampling="softmax"), CoreSet(), Quire(), "random"]
)
@pytest.mark.parametrize("max_candidates", [50, 10_000, 1.0])
def test_subsample_of_the_whole_pool_gives_the_unwrapped_picks(problem, inner, max_candidates):
    model, X_lab, y_lab, pool = problem
    unwrapped = al.strategies.get(inner) if isinstance(inner, str) else inner
    expected = unwrapped.query(model, pool, 7, X_lab, y_lab, random_state=11)
    wrapped = SubSample(inner, max_candidates=max_candidates)
    assert wrapped.query(model, pool, 7, X_lab, y_lab, random_state=11).tolist() == (
        expected.tolist()
    )


@pytest.mark.parametrize("max_candidates", [12, 0.3])
def test_subsample_queries_the_inner_strategy_on_the_drawn_rows(problem, max_candidates):
    model, X_lab, y_lab, pool = problem
    picks = SubSample(Margin(), max_candidates).query(model, pool, 4, X_lab, y_lab, 5)
    rng = np.random.default_rng(5)
    rows = np.sort(rng.choice(50, size=12 if max_candidates == 12 else 15, replace=False))
    expected = rows[Margin().query(model, pool[rows], 4, random_state=rng)]
    assert picks.tolist() == expected.tolist()
    margins = al.scores.margin(model.predict_proba(pool))
    drawn_best = np.sort(margins[rows])[-4:]
    np.testing.assert_allclose(np.sort(margins[picks]), drawn_best)


def test_subsample_keeps_container_types(problem):
    model, _, _, pool = problem
    frame = pd.DataFrame(pool)
    picks = SubSample("margin", 10).query(model, frame, 3, random_state=0)
    assert picks.dtype == np.int64 and len(set(picks.tolist())) == 3
    texts = [f"word{i % 7} other{i % 3}" for i in range(40)]
    labels = [i % 2 for i in range(40)]
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    picks = SubSample("entropy", 9).query(pipe, texts, 3, random_state=0)
    assert picks.max() < 40 and len(set(picks.tolist())) == 3


def test_subsample_draws_a_new_sample_each_query(problem):
    model, _, _, pool = problem
    wrapped = SubSample("random", 5)
    seen = {tuple(wrapped.query(model, pool, 5, random_state=seed)) for seed in range(10)}
    assert len(seen) == 10


def test_subsample_needs_are_the_inner_strategys(problem):
    assert SubSample.needs == Margin.needs
    assert SubSample(CoreSet()).needs == CoreSet.needs
    assert SubSample("bald").needs == ("sample_proba",)
    _, _, _, pool = problem
    picks = SubSample(CoreSet(), 20).query(None, pool, 3, random_state=0)  # no model needed
    assert picks.shape == (3,)
    with pytest.raises(TypeError, match="sample_proba"):
        SubSample("bald").query(problem[0], pool, 3, random_state=0)


def test_subsample_errors(problem):
    model, _, _, pool = problem
    with pytest.raises(ValueError, match="k=6 is larger than max_candidates=5"):
        SubSample("margin", 5).query(model, pool, 6, random_state=0)
    for bad in (0, -3, 1.5, 0.0, "10", True):
        with pytest.raises(ValueError, match="max_candidates must be"):
            SubSample("margin", bad).query(model, pool, 1, random_state=0)
    with pytest.raises(TypeError, match="registry name"):
        SubSample(LogisticRegression()).query(model, pool, 1, random_state=0)
    with pytest.raises(ValueError, match="unknown strategy"):
        SubSample("margn").query(model, pool, 1, random_state=0)


# ------------------------------------------------------------------------- Parallel


@pytest.mark.parametrize("inner", [Margin(), Entropy(), Margin(sampling="softmax")])
@pytest.mark.parametrize("chunk_size", [7, 13, None])
def test_parallel_gives_the_unwrapped_picks(problem, inner, chunk_size):
    """A pool of 50 in chunks of 7 (7 × 7 + 1), 13 (3 × 13 + 11) or 25 + 25."""
    model, X_lab, y_lab, pool = problem
    expected = inner.query(model, pool, 9, X_lab, y_lab, random_state=4)
    wrapped = Parallel(inner, n_jobs=2, chunk_size=chunk_size)
    assert wrapped.query(model, pool, 9, X_lab, y_lab, random_state=4).tolist() == (
        expected.tolist()
    )
    # BLAS may round a chunk's matrix product differently from the whole pool's (1 ulp).
    np.testing.assert_allclose(
        wrapped.utilities(model, pool), inner.utilities(model, pool), rtol=1e-12, atol=1e-15
    )


def test_parallel_committee_scores(problem):
    _, X_lab, y_lab, pool = problem
    forest = RandomForestClassifier(n_estimators=6, random_state=0).fit(X_lab, y_lab)
    inner = al.strategies.get("bald")
    expected = inner.query(forest, pool, 5, random_state=1)
    wrapped = Parallel("bald", n_jobs=-1, chunk_size=11)
    assert wrapped.query(forest, pool, 5, random_state=1).tolist() == expected.tolist()
    assert Parallel("bald").needs == ("sample_proba",)


def test_parallel_chunks_dataframes_and_texts(problem):
    model, _, _, pool = problem
    frame = pd.DataFrame(pool)
    np.testing.assert_array_equal(
        Parallel("margin", chunk_size=9).utilities(model, frame), Margin().utilities(model, pool)
    )
    texts = [f"word{i % 7} other{i % 3}" for i in range(40)]
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(
        texts, [i % 2 for i in range(40)]
    )
    np.testing.assert_array_equal(
        Parallel("entropy", chunk_size=6).utilities(pipe, texts), Entropy().utilities(pipe, texts)
    )


class Spread(ScoreStrategy):
    """Utility of a row = its distance to the chunk's mean: depends on the whole chunk."""

    name: ClassVar[str] = "spread"
    needs: ClassVar[tuple[str, ...]] = ("embed",)

    def _utilities(self, model, X_pool):
        emb = np.asarray(model.embed(X_pool))
        return np.linalg.norm(emb - emb.mean(axis=0), axis=1)


class FirstFeature(ScoreStrategy):
    """Utility of a row = its first feature: declared pointwise."""

    name: ClassVar[str] = "first_feature"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    pointwise: ClassVar[bool] = True

    def _utilities(self, model, X_pool):
        return np.asarray(model.embed(X_pool))[:, 0].astype(np.float64)


@pytest.mark.parametrize(
    "inner",
    [CoreSet(), Quire(), "information_density", "diverse_minibatch", Spread(), "random"],
)
def test_parallel_refuses_strategies_it_cannot_split(problem, inner):
    model, X_lab, y_lab, pool = problem
    with pytest.raises(TypeError, match="depends on that item alone"):
        Parallel(inner).query(model, pool, 3, X_lab, y_lab, random_state=0)


def test_parallel_accepts_a_declared_pointwise_score(problem):
    model, _, _, pool = problem
    picks = Parallel(FirstFeature(), chunk_size=8).query(model, pool, 3, random_state=0)
    assert picks.tolist() == np.argsort(-pool[:, 0])[:3].tolist()


def test_parallel_errors(problem):
    model, _, _, pool = problem
    with pytest.raises(ValueError, match="n_jobs must not be 0"):
        Parallel("margin", n_jobs=0).query(model, pool, 1, random_state=0)
    with pytest.raises(ValueError, match="n_jobs must be an int"):
        Parallel("margin", n_jobs=1.5).query(model, pool, 1, random_state=0)
    with pytest.raises(ValueError, match="chunk_size must be an int of at least 1"):
        Parallel("margin", chunk_size=0).query(model, pool, 1, random_state=0)
    with pytest.raises(ValueError, match="sampling must be one of"):
        Parallel(Margin(sampling="best")).query(model, pool, 1, random_state=0)


def test_wrappers_clone_and_pickle_with_their_inner_strategy():
    for wrapped in (SubSample(Entropy(sampling="power"), 100), Parallel(Margin(), n_jobs=3)):
        copy = clone(wrapped)
        assert repr(copy) == repr(wrapped)
        assert repr(pickle.loads(pickle.dumps(wrapped))) == repr(wrapped)
        assert copy.strategy is not wrapped.strategy
