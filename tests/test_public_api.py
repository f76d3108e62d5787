"""The public surface: every public name is documented and typed, and the contract holds."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import activelab as al

MODULES = [
    al,
    al.bayesopt,
    al.costs,
    al.feature_acquisition,
    al.scores,
    al.select,
    al.sequence,
    al.stopping,
    al.strategies,
    al.models,
    al.multilabel,
    al.oracles,
    al.plot,
    al.scale,
    al.training,
    al.stream,
    al.synthesis,
    al.vision,
]


def public_callables():
    seen = set()
    for module in MODULES:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not (
                        inspect.isfunction(member) or isinstance(member, property | classmethod)
                    ):
                        continue
                    yield f"{module.__name__}.{name}.{attr}", member


PUBLIC = list(public_callables())


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_names_have_docstrings(name, obj):
    target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    assert inspect.getdoc(target), f"{name} has no docstring"


@pytest.mark.parametrize(
    ("name", "obj"),
    [(n, o) for n, o in PUBLIC if inspect.isfunction(getattr(o, "__func__", o))],
    ids=[n for n, o in PUBLIC if inspect.isfunction(getattr(o, "__func__", o))],
)
def test_public_functions_have_type_hints(name, obj):
    function = getattr(obj, "__func__", obj)
    signature = inspect.signature(function)
    for parameter in signature.parameters.values():
        if parameter.name in ("self", "cls") or parameter.kind is parameter.VAR_KEYWORD:
            continue
        assert parameter.annotation is not inspect.Parameter.empty, (
            f"{name}: parameter {parameter.name} has no type hint"
        )
    assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return hint"


def test_version_and_contract_names():
    assert al.__version__
    for name in (
        "least_confidence",
        "margin",
        "ratio",
        "entropy",
        "vote_entropy",
        "kl_consensus",
        "bald",
        "variation_ratio",
        "mean_std",
    ):
        assert callable(getattr(al.scores, name))
    for name in (
        "Budget",
        "PerformancePlateau",
        "MaxUncertainty",
        "OverallUncertainty",
        "StabilizingPredictions",
        "ErrorStability",
    ):
        assert hasattr(al.stopping, name)
    assert set(al.strategies.available()) >= {
        "random",
        "least_confidence",
        "margin",
        "ratio",
        "entropy",
        "vote_entropy",
        "kl_consensus",
        "bald",
        "variation_ratio",
        "mean_std",
    }


def test_register_a_new_strategy_and_registry_errors():
    class Farthest(al.strategies.ScoreStrategy):
        """Largest feature norm (a test strategy)."""

        name = "test_farthest"
        needs = ("embed",)
        summary = "largest norm"
        reference = "test"

        def _utilities(self, model, X_pool):
            return np.linalg.norm(model.embed(X_pool), axis=1)

    al.strategies.register(Farthest)
    try:
        assert "test_farthest" in al.strategies.available()
        from sklearn.linear_model import LogisticRegression

        X = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
        model = LogisticRegression().fit(X, [0, 1, 0])
        assert al.strategies.get("test_farthest").query(model, X, 1).tolist() == [1]
        with pytest.raises(ValueError, match="registered already"):

            class Other(Farthest):
                """Same name."""

            al.strategies.register(Other)
    finally:
        al.strategies._REGISTRY.pop("test_farthest")
    with pytest.raises(TypeError, match="accepts"):
        al.strategies.get("margin", temprature=2.0)
    with pytest.raises(TypeError, match="Strategy subclass"):
        al.strategies.register(int)
