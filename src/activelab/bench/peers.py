"""Peer libraries' strategies inside the harness, for side-by-side curves and times.

A benchmark configuration may list ``"modal:margin"`` or ``"skactiveml:coreset"`` next to
activelab's own ``"margin"`` or ``"coreset"``: the harness then runs the peer's
implementation on the same data, split, initial set, model and oracle, and stores its
rounds (and query seconds) beside ours. Where both compute the same thing, as margin
sampling does, the learning curves coincide; the query seconds show what each costs.

The peers are not dependencies of activelab. ``make bench`` installs them in
``.venv-bench`` (``pip install modAL-python scikit-activeml`` does too); a configuration
that names a peer whose package is missing fails before any cell runs, naming the
install command.

What each peer strategy calls:

- ``modal:least_confidence``, ``modal:margin``, ``modal:entropy``:
  ``modAL.uncertainty.uncertainty_sampling`` / ``margin_sampling`` / ``entropy_sampling``
  on the fitted model and the pool.
- ``skactiveml:least_confidence``, ``skactiveml:margin``, ``skactiveml:entropy``:
  ``skactiveml.pool.UncertaintySampling`` with ``method="least_confident"`` /
  ``"margin_sampling"`` / ``"entropy"``, given the labelled rows and the pool as one array
  with the pool's labels missing and the pool as candidates. Its query fits its own
  ``SklearnClassifier`` wrapper of a clone of the model on the labelled rows (that is how
  the library is used); the fit is part of its query seconds.
- ``skactiveml:coreset``, ``skactiveml:typiclust``: ``skactiveml.pool.CoreSet`` and
  ``TypiClust`` on the features (they need no model).

>>> sorted(available())[:3]
['modal:entropy', 'modal:least_confidence', 'modal:margin']
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, ClassVar

import numpy as np

from activelab._data import concat_rows
from activelab.strategies import Strategy
from activelab.strategies import get as _get_own

__all__ = ["PeerStrategy", "available", "get", "is_peer", "needs", "task"]

#: How to install each peer package (named in the error when it is missing).
INSTALL = {
    "modAL": "make bench (or: pip install modAL-python)",
    "skactiveml": "make bench (or: pip install scikit-activeml)",
}


class PeerStrategy(Strategy):
    """A peer library's strategy behind activelab's Strategy interface.

    Subclasses set ``package`` (the import name), ``name`` and ``summary``, and implement
    ``_peer_select``. The peer package is imported when a query runs, never before.
    """

    package: ClassVar[str] = ""

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        peer = _import(self.package, self.name)
        picks = self._peer_select(peer, model, np.asarray(X_pool), k, X_labeled, y_labeled, rng)
        picks = np.asarray(picks, dtype=np.int64).reshape(-1)
        if picks.shape != (k,) or np.unique(picks).shape[0] != k:
            raise RuntimeError(f"{self.name} returned {picks.tolist()!r}, not {k} unique indices.")
        return picks

    def _peer_select(self, peer, model, X_pool, k, X_labeled, y_labeled, rng):  # pragma: no cover
        raise NotImplementedError


def _import(package: str, who: str) -> Any:
    if importlib.util.find_spec(package) is None:
        raise ImportError(
            f"{who} runs the {package} package, which is not installed here. "
            f"Install it with: {INSTALL[package]}"
        )
    return importlib.import_module(package)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


# --------------------------------------------------------------------------------------
# modAL


class _ModalUncertainty(PeerStrategy):
    package = "modAL"
    needs = ("predict_proba",)
    reference = "modAL (Danka & Horvath 2018), modAL.uncertainty"
    function: ClassVar[str] = ""

    def _peer_select(self, peer, model, X_pool, k, X_labeled, y_labeled, rng):
        uncertainty = importlib.import_module("modAL.uncertainty")
        picks, _ = getattr(uncertainty, self.function)(model.estimator, X_pool, n_instances=k)
        return picks


class ModalLeastConfidence(_ModalUncertainty):
    """modAL's ``uncertainty_sampling``: the lowest top-class probability first."""

    name = "modal:least_confidence"
    summary = "modAL's uncertainty_sampling"
    function = "uncertainty_sampling"


class ModalMargin(_ModalUncertainty):
    """modAL's ``margin_sampling``: the smallest gap between the two top classes first."""

    name = "modal:margin"
    summary = "modAL's margin_sampling"
    function = "margin_sampling"


class ModalEntropy(_ModalUncertainty):
    """modAL's ``entropy_sampling``: the highest predictive entropy first."""

    name = "modal:entropy"
    summary = "modAL's entropy_sampling"
    function = "entropy_sampling"


# --------------------------------------------------------------------------------------
# scikit-activeml


def _skactiveml_inputs(X_pool, X_labeled, y_labeled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All rows as one array, the pool's labels missing (NaN), and the pool's rows."""
    n_labeled = 0 if X_labeled is None else len(X_labeled)
    if n_labeled:
        X = np.asarray(concat_rows(X_labeled, X_pool), dtype=np.float64)
        y = np.concatenate([np.asarray(y_labeled, dtype=np.float64), np.full(len(X_pool), np.nan)])
    else:
        X = np.asarray(X_pool, dtype=np.float64)
        y = np.full(len(X_pool), np.nan)
    return X, y, np.arange(n_labeled, n_labeled + len(X_pool))


class _SkactivemlUncertainty(PeerStrategy):
    package = "skactiveml"
    needs = ("predict_proba",)
    reference = "scikit-activeml (Kottke et al. 2021), skactiveml.pool.UncertaintySampling"
    method: ClassVar[str] = ""

    def _peer_select(self, peer, model, X_pool, k, X_labeled, y_labeled, rng):
        from sklearn.base import clone

        pool = importlib.import_module("skactiveml.pool")
        classifier = importlib.import_module("skactiveml.classifier")
        if X_labeled is None or len(X_labeled) == 0:
            raise ValueError(f"{self.name} needs labelled rows to fit its classifier.")
        X, y, candidates = _skactiveml_inputs(X_pool, X_labeled, y_labeled)
        labels = np.asarray(model.classes_)
        if labels.dtype.kind not in "iuf":
            raise TypeError(f"{self.name} needs numeric class labels; got {labels.dtype}.")
        wrapped = classifier.SklearnClassifier(
            clone(model.estimator), classes=labels.astype(np.float64), random_state=_seed(rng)
        )
        strategy = pool.UncertaintySampling(method=self.method, random_state=_seed(rng))
        picks = strategy.query(X, y, clf=wrapped, candidates=candidates, batch_size=k)
        return np.asarray(picks) - candidates[0]


class SkactivemlLeastConfidence(_SkactivemlUncertainty):
    """scikit-activeml's ``UncertaintySampling(method="least_confident")``."""

    name = "skactiveml:least_confidence"
    summary = "scikit-activeml's UncertaintySampling, least_confident"
    method = "least_confident"


class SkactivemlMargin(_SkactivemlUncertainty):
    """scikit-activeml's ``UncertaintySampling(method="margin_sampling")``."""

    name = "skactiveml:margin"
    summary = "scikit-activeml's UncertaintySampling, margin_sampling"
    method = "margin_sampling"


class SkactivemlEntropy(_SkactivemlUncertainty):
    """scikit-activeml's ``UncertaintySampling(method="entropy")``."""

    name = "skactiveml:entropy"
    summary = "scikit-activeml's UncertaintySampling, entropy"
    method = "entropy"


class _SkactivemlFeatures(PeerStrategy):
    package = "skactiveml"
    needs = ()
    peer_class: ClassVar[str] = ""

    def _peer_select(self, peer, model, X_pool, k, X_labeled, y_labeled, rng):
        pool = importlib.import_module("skactiveml.pool")
        X, y, candidates = _skactiveml_inputs(X_pool, X_labeled, y_labeled)
        strategy = getattr(pool, self.peer_class)(random_state=_seed(rng))
        picks = strategy.query(X, y, candidates=candidates, batch_size=k)
        return np.asarray(picks) - candidates[0]


class SkactivemlCoreSet(_SkactivemlFeatures):
    """scikit-activeml's ``CoreSet`` (greedy k-center on the features)."""

    name = "skactiveml:coreset"
    summary = "scikit-activeml's CoreSet"
    reference = "scikit-activeml, skactiveml.pool.CoreSet (Sener & Savarese 2018)"
    peer_class = "CoreSet"


class SkactivemlTypiClust(_SkactivemlFeatures):
    """scikit-activeml's ``TypiClust`` (typical points of k-means clusters)."""

    name = "skactiveml:typiclust"
    summary = "scikit-activeml's TypiClust"
    reference = "scikit-activeml, skactiveml.pool.TypiClust (Hacohen et al. 2022)"
    peer_class = "TypiClust"


_PEERS: dict[str, type[PeerStrategy]] = {
    cls.name: cls
    for cls in (
        ModalLeastConfidence,
        ModalMargin,
        ModalEntropy,
        SkactivemlLeastConfidence,
        SkactivemlMargin,
        SkactivemlEntropy,
        SkactivemlCoreSet,
        SkactivemlTypiClust,
    )
}


def _check_name(name: str) -> None:
    if name not in _PEERS:
        raise ValueError(f"unknown peer strategy {name!r}; the peer strategies are {available()}.")


def available() -> list[str]:
    """Names of the peer strategies, installed or not, sorted.

    Returns
    -------
    list of str
        Names of the form ``"library:strategy"``.
    """
    return sorted(_PEERS)


def is_peer(name: str) -> bool:
    """Whether ``name`` names a peer library's strategy (``"library:strategy"``).

    Parameters
    ----------
    name : str

    Returns
    -------
    bool

    Examples
    --------
    >>> is_peer("modal:margin"), is_peer("margin")
    (True, False)
    """
    return ":" in name


def get(name: str, **params: Any) -> Strategy:
    """A strategy by name: a peer's (``"modal:margin"``) or activelab's own (``"margin"``).

    Parameters
    ----------
    name : str
    **params
        Passed to activelab's own strategies; peer strategies take none.

    Returns
    -------
    Strategy

    Raises
    ------
    ValueError
        For an unknown peer name, or parameters given to a peer strategy.
    ImportError
        When the peer's package is not installed; the message says how to install it.
    """
    if not is_peer(name):
        return _get_own(name, **params)
    _check_name(name)
    if params:
        raise ValueError(f"{name} takes no parameters; got {sorted(params)}.")
    cls = _PEERS[name]
    _import(cls.package, name)
    return cls()


def needs(name: str) -> tuple[str, ...]:
    """The model capabilities a strategy (peer or own) needs, without building it.

    Parameters
    ----------
    name : str

    Returns
    -------
    tuple of str
    """
    if is_peer(name):
        _check_name(name)
        return _PEERS[name].needs
    return _get_own(name).needs


def task(name: str) -> str:
    """The task a strategy (peer or own) serves: "classification", "regression" or "any".

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    if is_peer(name):
        _check_name(name)
        return "classification"
    return _get_own(name).task
