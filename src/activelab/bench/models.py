"""The benchmark's models, by name: what a config's ``[models.NAME]`` table can ask for.

Each entry builds an unfitted scikit-learn classifier from the run's seed and the
parameters the config gives. The defaults are fixed and untuned (Lüth et al. 2023: never
tune hyper-parameters on the test set). Data sets come scaled from
:func:`activelab.bench.datasets.load_split`, so no model carries its own scaler.

>>> from activelab.bench import models
>>> models.available()
['forest', 'logreg', 'logreg-calibrated', 'nb', 'svm-rbf']
>>> models.make("forest", seed=3, n_estimators=10)
RandomForestClassifier(n_estimators=10, random_state=3)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MODELS", "ModelKind", "available", "capabilities", "fits", "make"]


@dataclass(frozen=True)
class ModelKind:
    """A registered model: how to build it and what it is.

    Attributes
    ----------
    factory : callable
        ``factory(**params)`` returns an unfitted estimator.
    defaults : mapping
        Parameters the benchmark sets unless the config overrides them.
    seeded : bool
        True when the estimator takes ``random_state`` (set to the run's seed).
    summary : str
        One line for docs and messages.
    """

    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
    seeded: bool
    summary: str


def _logreg(**params: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**params)


def _logreg_calibrated(**params: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    from activelab.models import Calibrated

    return Calibrated(LogisticRegression()).set_params(**params)


def _forest(**params: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**params)


def _svm_rbf(**params: Any) -> Any:
    from sklearn.svm import SVC

    return SVC(**params)


def _naive_bayes(**params: Any) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(**params)


#: The registry: name → :class:`ModelKind`.
MODELS: dict[str, ModelKind] = {
    "logreg": ModelKind(
        _logreg,
        {"max_iter": 1000},
        seeded=False,
        summary="LogisticRegression(max_iter=1000), no scaler (the data sets come scaled)",
    ),
    "logreg-calibrated": ModelKind(
        _logreg_calibrated,
        {"model__max_iter": 1000, "cv": 3},
        seeded=True,
        summary="LogisticRegression(max_iter=1000) with temperature scaling (Calibrated, cv=3)",
    ),
    "forest": ModelKind(
        _forest,
        {"n_estimators": 100},
        seeded=True,
        summary="RandomForestClassifier(n_estimators=100); gives posterior samples (trees)",
    ),
    "svm-rbf": ModelKind(
        _svm_rbf,
        {"kernel": "rbf", "gamma": "auto", "C": 1.0, "probability": True},
        seeded=True,
        # scikit-learn 1.9 deprecates probability=True (removal in 1.11); the runner
        # silences that warning. Move to CalibratedClassifierCV(SVC(), ensemble=False) then.
        summary='SVC(kernel="rbf", gamma="auto", C=1, probability=True), as Lu et al. 2023',
    ),
    "nb": ModelKind(_naive_bayes, {}, seeded=False, summary="GaussianNB()"),
}


def available() -> list[str]:
    """Names of the registered models, sorted.

    Returns
    -------
    list of str
    """
    return sorted(MODELS)


def _kind(name: str) -> ModelKind:
    try:
        return MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), MODELS, n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown model {name!r}.{hint} Available: {', '.join(available())}."
        ) from None


def make(name: str, seed: int = 0, **params: Any) -> Any:
    """An unfitted estimator of a registered model.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    seed : int
        Becomes ``random_state`` of models that take one (unless ``params`` sets it).
    **params
        Override the defaults, e.g. ``n_estimators=50``.

    Returns
    -------
    estimator
        A scikit-learn classifier.

    Raises
    ------
    ValueError
        For an unknown name or a parameter the estimator does not take.

    Examples
    --------
    >>> make("logreg", C=0.5)
    LogisticRegression(C=0.5, max_iter=1000)
    """
    kind = _kind(name)
    merged = {**kind.defaults, **params}
    if kind.seeded:
        merged.setdefault("random_state", int(seed))
    accepted = kind.factory().get_params()
    unknown = sorted(set(merged) - set(accepted))
    if unknown:
        raise ValueError(
            f"model {name!r} does not take {', '.join(unknown)}; its parameters are "
            f"{', '.join(sorted(accepted))}."
        )
    return kind.factory(**merged)


def capabilities(name: str, **params: Any) -> frozenset[str]:
    """What activelab's adapter of this model provides (``predict_proba``, ``sample_proba``…).

    Parameters
    ----------
    name : str
    **params
        As for :func:`make`.

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> "sample_proba" in capabilities("forest")
    True
    """
    from activelab.models import wrap

    return wrap(make(name, 0, **params)).capabilities


def fits(strategy: str, name: str, **params: Any) -> bool:
    """True when the model gives everything the classification ``strategy`` needs.

    Parameters
    ----------
    strategy : str
        A name from :func:`activelab.strategies.available`.
    name : str
        A model name from :func:`available`.
    **params
        The model's parameters.

    Returns
    -------
    bool

    Examples
    --------
    >>> fits("bald", "forest"), fits("bald", "logreg")
    (True, False)
    """
    from activelab import strategies

    chosen = strategies.get(strategy)
    return chosen.task in ("classification", "any") and set(chosen.needs) <= capabilities(
        name, **params
    )
