"""Peer libraries' strategies in the harness: names, errors and the index mapping.

The peers are not installed in the test environment (they live in ``.venv-bench``), so
the wrappers are checked against small stand-in packages that follow the peers' calling
conventions; ``benchmarks/`` runs the real ones.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.bench import config, peers


def test_names_say_library_and_strategy() -> None:
    names = peers.available()
    assert names == sorted(names)
    assert {"modal:margin", "skactiveml:margin", "skactiveml:coreset"} <= set(names)
    assert all(peers.is_peer(name) for name in names)
    assert not peers.is_peer("margin")


def test_own_names_go_to_the_registry() -> None:
    strategy = peers.get("margin", sampling="softmax")
    assert isinstance(strategy, al.strategies.Margin)
    assert peers.needs("margin") == ("predict_proba",)
    assert peers.needs("skactiveml:coreset") == ()


def test_unknown_peer_and_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown peer strategy 'modal:bald'"):
        peers.get("modal:bald")
    with pytest.raises(ValueError, match="takes no parameters"):
        peers.get("modal:margin", temperature=2.0)


def test_missing_peer_names_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "modAL", None)
    monkeypatch.setattr(peers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="make bench"):
        peers.get("modal:margin")


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Packages named modAL and skactiveml with the peers' calling conventions."""
    (tmp_path / "modAL").mkdir()
    (tmp_path / "modAL" / "__init__.py").write_text("")
    (tmp_path / "modAL" / "uncertainty.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def margin_sampling(classifier, X, n_instances=1):
                p = np.sort(classifier.predict_proba(X), axis=1)
                margin = p[:, -1] - p[:, -2]
                order = np.argsort(margin, kind="stable")[:n_instances]
                return order, margin[order]
            """
        )
    )
    (tmp_path / "skactiveml").mkdir()
    (tmp_path / "skactiveml" / "__init__.py").write_text("")
    (tmp_path / "skactiveml" / "classifier.py").write_text(
        textwrap.dedent(
            """
            class SklearnClassifier:
                def __init__(self, estimator, classes=None, random_state=None):
                    self.estimator, self.classes = estimator, classes
            """
        )
    )
    (tmp_path / "skactiveml" / "pool.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            class UncertaintySampling:
                def __init__(self, method, random_state=None):
                    self.method = method

                def query(self, X, y, clf, candidates, batch_size):
                    labeled = ~np.isnan(y)
                    model = clf.estimator.fit(X[labeled], y[labeled])
                    p = np.sort(model.predict_proba(X[candidates]), axis=1)
                    margin = p[:, -1] - p[:, -2]
                    return candidates[np.argsort(margin, kind="stable")[:batch_size]]

            class CoreSet:
                def __init__(self, random_state=None):
                    pass

                def query(self, X, y, candidates, batch_size):
                    assert np.isnan(y[candidates]).all()
                    return candidates[-batch_size:][::-1]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = {name: module for name, module in sys.modules.items() if _is_peer(name)}
    for name in saved:
        del sys.modules[name]
    yield tmp_path
    # The stand-ins must not outlive the test: a later test that imports the real peer
    # (where it is installed) would otherwise get them.
    for name in [name for name in sys.modules if _is_peer(name)]:
        del sys.modules[name]
    sys.modules.update(saved)


def _is_peer(name: str) -> bool:
    return name.split(".")[0] in ("modAL", "skactiveml")


def test_peer_picks_map_back_to_pool_rows(stand_ins: Path, iris) -> None:
    X, y = iris
    labeled = np.r_[0:5, 50:55, 100:105]
    pool = np.setdiff1d(np.arange(150), labeled)
    model = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    ours = al.strategies.get("margin").query(model, X[pool], 6, random_state=0)
    for name in ["modal:margin", "skactiveml:margin"]:
        picks = peers.get(name).query(model, X[pool], 6, X[labeled], y[labeled], random_state=0)
        assert picks.dtype == np.int64
        np.testing.assert_array_equal(np.sort(picks), np.sort(ours))
    picks = peers.get("skactiveml:coreset").query(None, X[pool], 3, X[labeled], y[labeled])
    np.testing.assert_array_equal(picks, [len(pool) - 1, len(pool) - 2, len(pool) - 3])


def test_a_peer_that_returns_too_few_picks_is_caught(stand_ins: Path, iris) -> None:
    X, y = iris
    strategy = peers.get("skactiveml:coreset")
    import skactiveml.pool

    def repeats(self, X, y, candidates, batch_size):
        return np.resize(candidates[:2], batch_size)

    skactiveml.pool.CoreSet.query = repeats
    with pytest.raises(RuntimeError, match="not 4 unique indices"):
        strategy.query(None, X[:10], 4, X[10:12], y[10:12])


def test_configs_accept_peer_names(stand_ins: Path, tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        textwrap.dedent(
            """
            name = "side_by_side"
            datasets = ["iris"]
            strategies = ["margin", "modal:margin", "skactiveml:margin"]
            seeds = 1
            initial_sizes = [6]
            batch_sizes = [3]
            budgets = [12]
            [models.logreg]
            """
        )
    )
    grid = config.load(path)
    labels = [s.label for s in grid.strategies_for(grid.models[0])]
    assert labels == ["random", "margin", "modal:margin", "skactiveml:margin"]
    folder = al.bench.run(grid, jobs=1, out=tmp_path / "runs", progress=False)
    results = al.bench.load_rounds(folder)
    curves = results.pivot_table(index=["seed", "n_labeled"], columns="strategy", values="accuracy")
    np.testing.assert_allclose(curves["modal:margin"], curves["margin"])
    np.testing.assert_allclose(curves["skactiveml:margin"], curves["margin"])


def test_configs_name_the_peer_strategies_when_a_name_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        'name = "x"\ndatasets = ["iris"]\nstrategies = ["modal:marginn"]\nseeds = 1\n'
        "initial_sizes = [6]\nbatch_sizes = [3]\nbudgets = [12]\n[models.logreg]\n"
    )
    with pytest.raises(config.ConfigError, match="modal:margin"):
        config.load(path)
