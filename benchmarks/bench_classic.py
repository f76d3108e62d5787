"""Classic single-label strategies (EPIG, BMDR, SPAL, LAL, HintSVM, variance reduction, 4DS)
against the peer that has each.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_classic.py`` from the repository root
(``--quick`` for smaller pools). Peers that are not importable get "not installed" and the
rest still runs; no data is downloaded. About a minute on a quiet 2-core machine.

What it measures
----------------
Query time of each strategy on one seeded problem, one BLAS thread for everyone, best of
several runs (``_common.race``), and the ratio ``peer / ours`` (above 1: ours is faster):

- ``epig``: posterior samples of a 20-tree forest on a 10-class pool; ours (:func:`epig`)
  against Baal 2.x ``EPIG.compute_score`` on the same arrays (the scores must agree).
- ``fourds``: scikit-activeml's ``FourDs`` with its ``MixtureModelClassifier``
  (``fit_clf=False``) against our ``fourds_select`` on that classifier's posteriors and
  mixture (the first pick must agree).
- ``bmdr``, ``spal``: ALiPy's ``QueryInstanceBMDR`` / ``QueryInstanceSPAL`` need cvxpy,
  which the peer environment lacks: "not installed" unless it is there.
- ``lal``: ALiPy's ``QueryInstanceLAL`` downloads the authors' training data at run time,
  which this benchmark never does: only ours is timed (its forest fit included).
- ``hintsvm``, ``variance_reduction``: libact's C extensions do not build here. HintSVM
  is compared with scikit-learn's ``SVC`` fit on the labeled set alone (a floor: the same
  dual without hints); variance reduction with the paper's formula evaluated candidate by
  candidate (one ``(KD)^3`` inverse per candidate), which is what a direct
  implementation costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import (
    NOT_INSTALLED,
    fmt_ratio,
    fmt_seconds,
    import_module,
    machine_lines,
    markdown_table,
    missing_activelab,
    race,
)

try:
    from threadpoolctl import threadpool_limits

    from activelab.models import wrap
    from activelab.strategies import BMDR, SPAL, FourDS, HintSVM, VarianceReduction
    from activelab.strategies._epig import epig
    from activelab.strategies._fourds import fourds_select
    from activelab.strategies._hintsvm import hint_svm_decision
    from activelab.strategies._lal import LAL
    from activelab.strategies._variance_reduction import fisher_information
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0


def timed(calls):
    return race(calls, min_repeats=3, max_repeats=10, budget_s=2.0, slow_s=10.0)


def classification(n, d, n_classes, rng):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=d,
        n_informative=min(d, 6),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    labeled = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in range(n_classes)]
    )
    pool = np.setdiff1d(np.arange(n), labeled)
    return X[labeled], y[labeled], X[pool]


def bench_epig(quick, rng, rows):
    from sklearn.ensemble import RandomForestClassifier

    X, y, pool = classification(2000 if quick else 6000, 10, 10, rng)
    model = RandomForestClassifier(n_estimators=20, random_state=SEED).fit(X, y)
    samples = wrap(model).sample_proba(pool)
    target = samples[:, rng.choice(pool.shape[0], 100, replace=False)]
    heuristics = import_module("baal.active.heuristics")
    calls = {"ours": lambda: epig(samples, target)}
    if heuristics is not None and hasattr(heuristics, "EPIG"):
        heuristic = heuristics.EPIG()
        pool_t, target_t = samples.transpose(1, 2, 0), target.transpose(1, 2, 0)
        calls["peer"] = lambda: heuristic.compute_score(pool_t, target_t)
    out = timed(calls)
    agree = "—"
    if "peer" in out and out["peer"].result is not None:
        diff = np.abs(out["ours"].result - np.asarray(out["peer"].result, float)).max()
        agree = f"max |Δ| {diff:.1e}"
    rows.append(("epig", f"{pool.shape[0]} × 10 classes, K=20, M=100", out, "Baal EPIG", agree))


def bench_fourds(quick, rng, rows):
    pool_module = import_module("skactiveml.pool")
    classifier = import_module("skactiveml.classifier")
    X, y, pool = classification(1000 if quick else 3000, 5, 3, rng)
    if pool_module is None or classifier is None:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=500).fit(X, y)
        out = timed({"ours": lambda: FourDS().query(model, pool, 1, X, y, random_state=0)})
        rows.append(("fourds", f"pool {pool.shape[0]}, own mixture", out, NOT_INSTALLED, "—"))
        return
    everything = np.vstack([X, pool])
    labels = np.concatenate([y.astype(float), np.full(pool.shape[0], np.nan)])
    cmm = classifier.MixtureModelClassifier(classes=[0, 1, 2], random_state=0)
    cmm.fit(everything, labels)
    mixture = cmm.mixture_model_

    def ours():
        return fourds_select(
            cmm.predict_proba(pool),
            mixture.score_samples(pool),
            mixture.predict_proba(pool),
            mixture.predict_proba(X),
            mixture.weights_,
            1,
            random_state=0,
        )

    def peer():
        return pool_module.FourDs(random_state=0).query(everything, labels, cmm, fit_clf=False)

    out = timed({"ours": ours, "peer": peer})
    same = "—"
    if out["peer"].result is not None and out["ours"].result is not None:
        same = (
            "same pick" if out["ours"].result[0] + len(X) == out["peer"].result[0] else "DIFFERENT"
        )
    rows.append(("fourds", f"pool {pool.shape[0]}, same CMM", out, "skactiveml FourDs", same))


def bench_kernel_qp(quick, rng, rows):
    X, y, pool = classification(300 if quick else 800, 5, 2, rng)
    query_labels = import_module("alipy.query_strategy")
    cvxpy = import_module("cvxpy")
    for name, strategy in (("bmdr", BMDR(beta=1.0)), ("spal", SPAL())):
        calls = {"ours": lambda s=strategy: s.query(None, pool, 5, X, y, random_state=0)}
        peer_name = "ALiPy " + ("QueryInstanceBMDR" if name == "bmdr" else "QueryInstanceSPAL")
        if query_labels is not None and cvxpy is not None:
            everything = np.vstack([X, pool])
            labels = np.concatenate([y, np.zeros(pool.shape[0], dtype=y.dtype)])
            cls = (
                query_labels.QueryInstanceBMDR if name == "bmdr" else query_labels.QueryInstanceSPAL
            )
            peer = cls(everything, labels, gamma_ker=1.0 / everything.shape[1])
            known, unknown = np.arange(len(X)), np.arange(len(X), len(everything))
            calls["peer"] = lambda p=peer, a=known, b=unknown: p.select(a, b, batch_size=5)
        out = timed(calls)
        label = peer_name if "peer" in calls else f"{peer_name}: cvxpy {NOT_INSTALLED}"
        rows.append((name, f"pool {pool.shape[0]}, k=5", out, label, "—"))


def bench_lal(quick, rng, rows):
    X, y, pool = classification(1000 if quick else 5000, 5, 2, rng)
    out = timed({"ours": lambda: LAL().query(None, pool, 5, X, y, random_state=0)})
    rows.append(("lal", f"pool {pool.shape[0]}", out, "ALiPy LAL: downloads data, not run", "—"))


def bench_hintsvm(quick, rng, rows):
    from sklearn.metrics.pairwise import linear_kernel
    from sklearn.svm import SVC

    X, y, pool = classification(600 if quick else 1500, 5, 2, rng)
    out = timed({"ours": lambda: HintSVM().query(None, pool, 1, X, y, random_state=0)})
    rows.append(("hintsvm", f"pool {pool.shape[0]}, 500 hints", out, "libact: no build", "—"))
    # The dual solver against LIBSVM on the same problem: no hints, 400 labeled items.
    X_big = rng.normal(size=(400, 5))
    y_big = (X_big[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    signs = np.where(y_big == 1, 1.0, -1.0)
    K = linear_kernel(X_big)
    solver = timed(
        {
            "ours": lambda: hint_svm_decision(K, K, signs, 0, 1.0, 1.0),
            "peer": lambda: SVC(kernel="precomputed", C=1.0).fit(K, y_big).decision_function(K),
        }
    )
    same = "—"
    if solver["ours"].result is not None and solver["peer"].result is not None:
        gap = np.abs(solver["ours"].result - solver["peer"].result).max()
        same = f"max |Δf| {gap:.1e}"
    rows.append(("hintsvm (dual, no hints)", "400 labeled, C=1", solver, "sklearn SVC", same))


def naive_variance_reduction(model, pool, X):
    """Schein & Ungar's criterion with one explicit inverse per candidate."""
    from activelab.strategies._egl import linear_head

    head = linear_head(wrap(model), "bench")
    A_pool = head.augmented(pool)
    curv_pool = head.curvature(head.outputs(head.logits(A_pool)))
    A_lab = head.augmented(X)
    regularization = VarianceReduction()._regularization(head, len(X))
    fisher = fisher_information(
        A_lab, head.curvature(head.outputs(head.logits(A_lab))), regularization
    )
    jacobians = [np.kron(a, v[None, :]) for v, a in zip(A_pool, curv_pool, strict=True)]
    B = sum(J.T @ J for J in jacobians)
    out = []
    for v, a in zip(A_pool, curv_pool, strict=True):
        inverse = np.linalg.pinv(fisher + np.kron(a, np.outer(v, v)), hermitian=True)
        out.append(-np.trace(inverse @ B))
    return np.asarray(out)


def bench_variance_reduction(quick, rng, rows):
    from sklearn.linear_model import LogisticRegression

    X, y, pool = classification(300 if quick else 1000, 10, 3, rng)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    strategy = VarianceReduction()
    out = timed(
        {
            "ours": lambda: strategy.utilities(model, pool, X, y),
            "peer": lambda: naive_variance_reduction(model, pool, X),
        }
    )
    same = "—"
    if out["ours"].result is not None and out["peer"].result is not None:
        top = set(np.argsort(-out["ours"].result)[:10]) == set(np.argsort(-out["peer"].result)[:10])
        same = "same top-10" if top else "top-10 differ"
    rows.append(
        (
            "variance_reduction",
            f"pool {pool.shape[0]}, 3 classes, d=10",
            out,
            "direct formula (libact: no build)",
            same,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller pools")
    quick = parser.parse_args().quick
    print("\n".join(machine_lines(["numpy", "scikit-learn", "baal", "scikit-activeml", "alipy"])))
    rng = np.random.default_rng(SEED)
    rows: list = []
    with threadpool_limits(1):
        for bench in (
            bench_epig,
            bench_fourds,
            bench_kernel_qp,
            bench_lal,
            bench_hintsvm,
            bench_variance_reduction,
        ):
            bench(quick, rng, rows)
    table = []
    for name, problem, out, peer, same in rows:
        ours, theirs = out["ours"], out.get("peer")
        table.append(
            [
                name,
                problem,
                fmt_seconds(ours.best if ours.error is None else ours.error),
                peer,
                fmt_seconds(
                    None
                    if theirs is None
                    else (theirs.best if theirs.error is None else theirs.error)
                ),
                fmt_ratio(None if theirs is None else theirs.best, ours.best),
                same,
            ]
        )
    print()
    print(
        markdown_table(
            ["strategy", "problem", "ours", "peer", "peer time", "peer/ours", "agreement"],
            table,
            right=(2, 4, 5),
        )
    )


if __name__ == "__main__":
    main()
