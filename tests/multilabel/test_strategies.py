"""Multi-label adapter and strategies: reference loops, masking, pairs, the loop."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

import activelab as al
from activelab.models import MultiLabelAdapter


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=4, random_state=1)
    return X[:25], Y[:25], X[25:], Y[25:]


def ovr():
    return OneVsRestClassifier(LogisticRegression(max_iter=500))


@pytest.mark.parametrize(
    "estimator",
    [
        ovr(),
        MultiOutputClassifier(LogisticRegression(max_iter=500)),
        ClassifierChain(LogisticRegression(max_iter=500)),
        RandomForestClassifier(n_estimators=5, random_state=0),
        KNeighborsClassifier(3),
    ],
    ids=["ovr", "multioutput", "chain", "forest", "knn"],
)
def test_adapter_gives_per_label_probabilities(estimator, data):
    X, Y, pool, _ = data
    Y = Y.copy()
    Y[:, 3] = 0  # a label never seen positive
    adapter = MultiLabelAdapter(estimator).fit(X, Y)
    proba = adapter.predict_proba(pool)
    assert proba.shape == (len(pool), 4)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(proba[:, 3], 0.0)
    assert adapter.predict(pool).shape == (len(pool), 4)
    # fitted by itself, the estimator is recognised and wrapped the same way
    Y_full = data[1]
    fitted = clone(estimator).fit(X, Y_full)
    wrapped = al.models.wrap(fitted)
    assert isinstance(wrapped, MultiLabelAdapter)
    np.testing.assert_allclose(
        wrapped.predict_proba(pool), MultiLabelAdapter(fitted).fit(X, Y_full).predict_proba(pool)
    )


def test_adapter_masks_unknown_entries(data):
    X, Y, pool, _ = data
    partial = Y.astype(float)
    partial[::2, 1] = np.nan
    partial[1::3, 2] = -1
    adapter = MultiLabelAdapter(ovr()).fit(X, partial)
    for j, rows in ((1, np.flatnonzero(~np.isnan(partial[:, 1]))), (0, np.arange(len(X)))):
        known = rows if j == 1 else np.arange(len(X))
        reference = LogisticRegression(max_iter=500).fit(X[known], Y[known, j])
        np.testing.assert_allclose(
            adapter.predict_proba(pool)[:, j], reference.predict_proba(pool)[:, 1], rtol=1e-6
        )
    nothing = np.full_like(partial, np.nan)
    nothing[:, 0] = Y[:, 0]
    blind = MultiLabelAdapter(ovr()).fit(X, nothing)
    np.testing.assert_array_equal(blind.predict_proba(pool)[:, 1:], 0.5)


def test_adapter_capabilities_and_errors(data):
    X, Y, pool, _ = data
    svm = MultiLabelAdapter(OneVsRestClassifier(LinearSVC())).fit(X, Y)
    assert svm.capabilities == {"decision_function", "embed"}
    with pytest.raises(TypeError, match="predict_proba"):
        svm.predict_proba(pool)
    multioutput = MultiLabelAdapter(MultiOutputClassifier(LogisticRegression())).fit(X, Y)
    with pytest.raises(TypeError, match="decision_function"):
        al.strategies.get("binary_minimization", output="decision").query(
            multioutput, pool, 2, X, Y
        )
    with pytest.raises(ValueError, match=r"0 and 1"):
        MultiLabelAdapter(ovr()).fit(X, Y * 2)
    with pytest.raises(ValueError, match=r"\(n, L\)"):
        MultiLabelAdapter(ovr()).fit(X, Y[:, 0])
    with pytest.raises(RuntimeError, match="not fitted"):
        MultiLabelAdapter(ovr()).predict(pool)


def test_output_strategies_use_the_decision_function(data):
    X, Y, pool, _ = data
    model = ovr().fit(X, Y)
    f = model.decision_function(pool)
    expected = np.argsort(np.abs(f).min(axis=1))[:5]
    picks = al.strategies.get("binary_minimization").query(model, pool, 5, X, Y, 0)
    assert picks.tolist() == expected.tolist()
    p = model.predict_proba(pool)
    picks = al.strategies.get("max_loss", output="proba").query(model, pool, 5, X, Y, 0)
    assert picks.tolist() == np.argsort(-al.multilabel.max_loss(2 * p - 1))[:5].tolist()
    svm = OneVsRestClassifier(LinearSVC()).fit(X, Y)  # decision only: "auto" works
    assert al.strategies.get("mean_max_loss").query(svm, pool, 3, X, Y, 0).shape == (3,)


def test_mmc_label_counts_follow_a_logistic_regression(data):
    X, Y, pool, _ = data
    model = ovr().fit(X, Y)
    strategy = al.strategies.get("mmc", output="proba")
    counts = strategy.label_counts(al.models.wrap(model), pool, X, Y)

    def features(p):
        ordered = -np.sort(-p, axis=1)
        return ordered / ordered.sum(axis=1, keepdims=True)

    reference = LogisticRegression(max_iter=1000).fit(
        features(model.predict_proba(X)), Y.sum(axis=1)
    )
    np.testing.assert_array_equal(counts, reference.predict(features(model.predict_proba(pool))))
    p = model.predict_proba(pool)
    utilities = al.multilabel.mmc(2 * p - 1, p, counts)
    assert strategy.query(model, pool, 4, X, Y, 0).tolist() == np.argsort(-utilities)[:4].tolist()


def test_adaptive_picks_the_nominee_with_the_smallest_refit_error(data):
    X, Y, pool, _ = data
    model = ovr().fit(X, Y)
    betas = [0.3, 0.7, 1.0]  # β > 0: no ties for the nominees (libact refits every tie)
    strategy = al.strategies.get("adaptive_multilabel", betas=betas)
    pick = strategy.query(model, pool, 1, X, Y, random_state=0)[0]
    f = model.decision_function(pool)
    predicted = model.predict(pool)
    u = al.multilabel.separation_margin_uncertainty(f)
    c = al.multilabel.label_cardinality_inconsistency(predicted, Y.sum(axis=1).mean())
    errors = {}
    for beta in betas:
        score = u**beta * c ** (1 - beta)
        assert np.sum(score == score.max()) == 1
        for nominee in np.flatnonzero(score == score.max()):
            refit = ovr().fit(np.vstack([X, pool[nominee]]), np.vstack([Y, predicted[nominee]]))
            g = refit.decision_function(pool)
            loss = 0.0
            for row in g:
                pos = [v for v in row if v >= 0]
                neg = [v for v in row if v <= 0]
                loss += max(0.0, 1 - min(pos)) if pos else 0.0
                loss += max(0.0, 1 + max(neg)) if neg else 0.0
            errors[int(nominee)] = loss
    best = min(errors.values())
    assert errors[int(pick)] == pytest.approx(best)
    batch = strategy.query(model, pool, 6, X, Y, random_state=0)
    assert batch[0] == pick and len(set(batch.tolist())) == 6


def test_cvirs_and_lci_follow_their_scores(data):
    X, Y, pool, _ = data
    model = ovr().fit(X, Y)
    p = model.predict_proba(pool)
    utilities = al.multilabel.cvirs(p, (p > 0.5).astype(int), Y)
    picks = al.strategies.get("cvirs").query(model, pool, 5, X, Y, 0)
    assert picks.tolist() == np.argsort(-utilities, kind="stable")[:5].tolist()
    lci = al.multilabel.label_cardinality_inconsistency(model.predict(pool), Y.sum(1).mean())
    picks = al.strategies.get("label_cardinality_inconsistency").query(model, pool, 5, X, Y, 0)
    assert np.all(lci[picks] == np.sort(lci)[::-1][:5])


def brute_force_pair_quire(X, partial, lmbda=1.0, gamma=None):
    """The multi-label QUIRE objective through the full n·L Schur complement (ALiPy's way)."""
    n, L = partial.shape
    K = rbf_kernel(X, gamma=gamma)
    inverse = np.linalg.inv(K + lmbda * np.eye(n))
    big = np.kron(np.eye(L), inverse)  # pair (i, j) at j * n + i
    flat = partial.T.reshape(-1)
    known = np.flatnonzero(~np.isnan(flat))
    unknown = np.flatnonzero(np.isnan(flat))
    y_known = 2 * flat[known] - 1
    values = {}
    for s in unknown:
        rest = unknown[unknown != s]
        Luu = big[np.ix_(rest, rest)]
        worst = -np.inf
        for ys in (-1.0, 1.0):
            idx = np.concatenate([known, [s]])
            yl = np.concatenate([y_known, [ys]])
            Lll = big[np.ix_(idx, idx)]
            Lul = big[np.ix_(rest, idx)]
            v = yl @ Lll @ yl - (Lul @ yl) @ np.linalg.solve(Luu, Lul @ yl)
            worst = max(worst, v)
        values[(int(s % n), int(s // n))] = worst
    return values


def test_multilabel_quire_pairs_match_the_full_schur_complement():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 2))
    partial = rng.integers(0, 2, (9, 3)).astype(float)
    partial[rng.random((9, 3)) < 0.5] = np.nan
    brute = brute_force_pair_quire(X, partial, gamma=0.5)
    strategy = al.strategies.get("quire_multilabel", metric_params={"gamma": 0.5})
    ours = strategy.pair_objective(None, X, partial)
    pairs = sorted(brute)
    shift = brute[pairs[0]] - ours[pairs[0]]
    for pair in pairs:  # equal up to one constant shared by every pair
        assert ours[pair] + shift == pytest.approx(brute[pair], rel=1e-7, abs=1e-9)
    picks = strategy.query_pairs(None, X, partial, 3, random_state=0)
    assert [tuple(p) for p in picks.tolist()] == sorted(brute, key=brute.get)[:3]


def test_multilabel_quire_whole_instances_sum_the_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 2))
    Y = rng.integers(0, 2, (5, 3))
    strategy = al.strategies.get("quire_multilabel")
    whole = strategy.objective(None, X, X[:5], Y)
    partial = np.full((12, 3), np.nan)
    partial[:5] = Y
    by_pair = strategy.pair_objective(None, X, partial)
    np.testing.assert_allclose(whole[5:], by_pair[5:].sum(axis=1))


def test_audi_pairs_take_each_rows_closest_label_first(data):
    X, Y, pool, _ = data
    X_all = np.vstack([X, pool])
    partial = np.full((len(X_all), 4), np.nan)
    partial[: len(X)] = Y
    model = MultiLabelAdapter(ovr()).fit(X_all, partial)
    pairs = al.strategies.get("audi").query_pairs(model, X_all, partial, 5, random_state=0)
    f = model.decision_function(X_all)
    instance = al.multilabel.audi_instance_scores(
        model.predict(X_all), Y.sum(axis=1).mean(), np.isnan(partial).sum(axis=1)
    )
    rows = pairs[:, 0]
    assert len(set(rows.tolist())) == 5
    assert np.all(instance[rows] == np.sort(instance[len(X) :])[::-1][:5])
    for row, label in pairs:
        assert label == np.argmin(np.abs(f[row]))


def test_simulate_multilabel_defaults_and_hamming_direction(data):
    X, Y, pool, Y_pool = data
    X_all, Y_all = np.vstack([X, pool]), np.vstack([Y, Y_pool])
    result = al.simulate(ovr(), "cvirs", X_all, Y_all, budget=40, batch_size=10)
    assert result.metric == "f1_micro" and not result.lower_is_better
    assert set(result.final) == {"f1_micro", "f1_macro", "hamming_loss", "subset_accuracy"}
    assert [r.n_labeled for r in result.history] == [10, 20, 30, 40]
    hamming = al.simulate(ovr(), "mmc", X_all, Y_all, budget=30, metrics=["hamming_loss"])
    assert hamming.lower_is_better and 0 <= hamming.aulc <= 1
    with pytest.raises(ValueError, match="multi-label"):
        al.simulate(ovr(), "mmc", X_all, Y_all, budget=30, metrics=["accuracy"])
    with pytest.raises(TypeError, match="multi-label"):
        al.simulate(ovr(), "margin", X_all, Y_all, budget=30)


def test_active_learner_on_an_indicator_matrix(data):
    X, Y, pool, Y_pool = data
    learner = al.ActiveLearner(ovr(), "mmc", random_state=0).fit(X, Y)
    picks = learner.query(pool, k=4)
    learner.teach(pool[picks], Y_pool[picks])
    assert learner.n_labeled == len(X) + 4
    assert learner.predict(pool[:3]).shape == (3, 4)


def test_simulate_pairs_counts_known_entries(data):
    X, Y, pool, Y_pool = data
    for strategy in ("audi", "quire_multilabel", "random"):
        result = al.multilabel.simulate_pairs(
            ovr(), strategy, pool[:60], Y_pool[:60], X, Y, initial=5, batch_size=8, budget=44
        )
        counts = [r.n_pairs for r in result.history]
        assert counts == [20, 28, 36, 44]
        assert 0 <= result.aulc <= 1
    with pytest.raises(TypeError, match="query_pairs"):
        al.multilabel.simulate_pairs(ovr(), "mmc", pool, Y_pool, X, Y)
