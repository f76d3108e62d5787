"""Stream-based selective sampling: items arrive one at a time; query or discard each.

>>> import activelab as al
>>> from sklearn.linear_model import SGDClassifier
>>> X, y = al.stream.drifting_hyperplane(3000, random_state=0)
>>> result = al.stream.simulate_stream(SGDClassifier(loss="log_loss", random_state=0),
...                                    "variable_uncertainty", X, y, budget=0.1,
...                                    batch_size=10, random_state=0)
>>> result.label_rate <= 0.11
True

A *rule* gives each arriving item a utility (:mod:`activelab.stream._rules`); a *budget
manager* (:mod:`activelab.stream._budget`) decides, item by item, whether the utility
is worth a label under the budget. :class:`StreamLearner` wires a model, a rule and a
manager together; :func:`simulate_stream` runs them over a labelled stream with
prequential evaluation. Rules by name: :func:`available`, :func:`get`.
"""

from __future__ import annotations

import difflib
from typing import Any

from activelab.stream._budget import (
    BalancedIncrementalQuantileFilter,
    BudgetManager,
    CumulativeBudget,
    DensityBasedSplitBudget,
    FixedUncertaintyBudget,
    PeriodicBudget,
    RandomBudget,
    RandomVariableUncertaintyBudget,
    SplitBudget,
    VariableUncertaintyBudget,
)
from activelab.stream._density import (
    CogDQS,
    CogDQSFixedUncertainty,
    CogDQSRandom,
    CogDQSRandomVariableUncertainty,
    CogDQSVariableUncertainty,
    StreamDensityBasedAL,
)
from activelab.stream._learner import StreamLearner
from activelab.stream._rules import (
    FixedUncertainty,
    PeriodicSampling,
    RandomVariableUncertainty,
    Split,
    StreamProbabilisticAL,
    StreamRandomSampling,
    StreamRule,
    VariableUncertainty,
)
from activelab.stream._simulate import StreamResult, drifting_hyperplane, simulate_stream

__all__ = [
    "BalancedIncrementalQuantileFilter",
    "BudgetManager",
    "CogDQS",
    "CogDQSFixedUncertainty",
    "CogDQSRandom",
    "CogDQSRandomVariableUncertainty",
    "CogDQSVariableUncertainty",
    "CumulativeBudget",
    "DensityBasedSplitBudget",
    "FixedUncertainty",
    "FixedUncertaintyBudget",
    "PeriodicBudget",
    "PeriodicSampling",
    "RandomBudget",
    "RandomVariableUncertainty",
    "RandomVariableUncertaintyBudget",
    "Split",
    "SplitBudget",
    "StreamDensityBasedAL",
    "StreamLearner",
    "StreamProbabilisticAL",
    "StreamRandomSampling",
    "StreamResult",
    "StreamRule",
    "VariableUncertainty",
    "VariableUncertaintyBudget",
    "available",
    "describe",
    "drifting_hyperplane",
    "get",
    "simulate_stream",
]

_RULES: dict[str, type[StreamRule]] = {
    rule.name: rule
    for rule in (
        FixedUncertainty,
        VariableUncertainty,
        RandomVariableUncertainty,
        Split,
        PeriodicSampling,
        StreamRandomSampling,
        StreamDensityBasedAL,
        StreamProbabilisticAL,
        CogDQS,
        CogDQSRandom,
        CogDQSFixedUncertainty,
        CogDQSVariableUncertainty,
        CogDQSRandomVariableUncertainty,
    )
}


def available() -> list[str]:
    """Names of the stream rules, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "split" in available()
    True
    """
    return sorted(_RULES)


def get(name: str, **params: Any) -> StreamRule:
    """A new stream rule by name.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **params
        The rule's parameters.

    Returns
    -------
    StreamRule

    Examples
    --------
    >>> get("density_based", window_size=50)
    StreamDensityBasedAL(window_size=50)
    """
    if name not in _RULES:
        close = difflib.get_close_matches(str(name), _RULES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown stream rule {name!r}.{hint} Available: {', '.join(available())}."
        )
    return _RULES[name](**params)


def describe() -> list[dict[str, str]]:
    """Name, one-line summary, default budget manager and paper of every stream rule.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> describe()[0]["name"]
    'cogdqs'
    """
    return [
        {
            "name": name,
            "summary": _RULES[name].summary,
            "budget_manager": _RULES[name].budget_manager_class.__name__,
            "reference": _RULES[name].reference,
        }
        for name in available()
    ]
