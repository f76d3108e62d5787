"""Same picks as modAL, ALiPy and small-text on shared inputs, or the difference shown.

ALiPy's QueryMultiLabelQUIRE is not compared: its rank-one update of the inverse uses
``b.T.dot(b)`` on 1-D arrays (an inner product where the Schur update needs the outer
product) and it pairs the known labels, in set order, with pairs sorted column-major, so
its picks are not the objective's minimiser; ours is checked against the full Schur
complement in test_strategies.py.

Run with the benchmark environment: ``.venv-bench/bin/python -m pytest tests/multilabel``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

import activelab as al


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(n_samples=90, n_features=5, n_classes=4, random_state=3)
    X = StandardScaler().fit_transform(X)
    return X, Y


@pytest.mark.parametrize("name", ["min_confidence", "avg_confidence", "max_score", "avg_score"])
def test_modal_confidence_and_score_picks(name, data):
    modal = pytest.importorskip("modAL.multilabel")
    X, Y = data
    model = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X[:20], Y[:20])
    pool = X[20:]
    theirs, _ = getattr(modal, name)(model, pool, n_instances=5)
    ours = al.strategies.get(name).query(model, pool, 5, random_state=0)
    assert sorted(np.asarray(theirs).tolist()) == sorted(ours.tolist())


def test_modal_svm_binary_minimum_pick(data):
    modal = pytest.importorskip("modAL.multilabel")
    X, Y = data
    model = OneVsRestClassifier(LinearSVC()).fit(X[:20], Y[:20])

    class Learner:  # modAL reads classifier.estimator.estimators_
        estimator = model

    answer = modal.SVM_binary_minimum(Learner(), X[20:])
    theirs = answer[0] if isinstance(answer, tuple) else answer
    ours = al.strategies.get("binary_minimization", output="decision").query(model, X[20:], 1)
    assert int(theirs) == int(ours[0])


def test_alipy_mmc_pick(data):
    pytest.importorskip("alipy")
    from alipy.query_strategy.multi_label import QueryMultiLabelMMC

    X, Y = data
    labeled, unlabeled = np.arange(20), np.arange(20, 90)
    base = SVC(kernel="linear", probability=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # ALiPy's default count model passes multi_class=, gone from scikit-learn 1.8;
            # newton-cg reaches the optimum our lbfgs count model reaches.
            count_model = {"solver": "newton-cg", "max_iter": 1000}
            alipy = QueryMultiLabelMMC(X, Y, br_base=base, logreg_param=count_model, random_state=0)
            theirs = alipy.select(list(labeled), list(unlabeled), batch_size=1)[0][0]
        except TypeError as error:  # its default count model passes multi_class=
            pytest.skip(f"ALiPy's MMC does not run on this scikit-learn: {error}")
        model = OneVsRestClassifier(SVC(kernel="linear", probability=True, random_state=0))
        model.fit(X[labeled], Y[labeled])
    ours = al.strategies.get("mmc", output="proba").query(
        model, X[unlabeled], 1, X[labeled], Y[labeled], random_state=0
    )
    assert unlabeled[ours[0]] == theirs


def test_alipy_adaptive_pick(data):
    pytest.importorskip("alipy")
    from alipy.query_strategy.multi_label import QueryMultiLabelAdaptive

    X, Y = data
    labeled, unlabeled = np.arange(20), np.arange(20, 90)
    betas = [0.3, 0.7, 1.0]  # no tied nominees: libact/ALiPy refit every tie
    base = LogisticRegression(solver="liblinear")
    alipy = QueryMultiLabelAdaptive(X, Y, base_clf=base, betas=betas, random_state=0)
    theirs = alipy.select(list(labeled), list(unlabeled), batch_size=1)[0][0]
    model = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(X[labeled], Y[labeled])
    ours = al.strategies.get("adaptive_multilabel", betas=betas, output="decision").query(
        model, X[unlabeled], 1, X[labeled], Y[labeled], random_state=0
    )
    assert unlabeled[ours[0]] == theirs


def test_small_text_cvirs_differs_as_documented(data):
    pytest.importorskip("small_text")
    from scipy.sparse import csr_matrix
    from small_text.query_strategies import CategoryVectorInconsistencyAndRanking

    X, Y = data
    model = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X[:20], Y[:20])
    proba = model.predict_proba(X[20:])
    predicted = (proba > 0.5).astype(int)
    strategy = CategoryVectorInconsistencyAndRanking(pbar=None)
    theirs = strategy._compute_vector_inconsistency(csr_matrix(Y[:20]), predicted, 4)
    # small-text returns the Hamming distance (the entropy distance it computes is
    # discarded), summed over the labeled items and divided by the batch size.
    hamming = al.multilabel.category_vector_inconsistency(predicted, Y[:20], "hamming")
    np.testing.assert_allclose(theirs, hamming * 20 / len(predicted), rtol=1e-5)
    entropy = al.multilabel.category_vector_inconsistency(predicted, Y[:20])
    assert not np.allclose(entropy, hamming)
