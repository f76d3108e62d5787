"""examples/stream_drift.py runs end to end (a short stream) and shows the drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from activelab import stream

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stream_drift.py"


def load_example():
    spec = importlib.util.spec_from_file_location("stream_drift", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_learner_uses_the_explicit_budget_manager():
    learner = load_example().learner_for("split", 0.05, seed=0)
    assert isinstance(learner.budget_manager, stream.SplitBudget)
    assert learner.budget_manager.v == 0.2 and learner.budget_manager.budget == 0.05
    assert learner.rule.name == "split"
    assert learner.training == "incremental"


def test_example_runs_and_recovers_from_the_drift(capsys):
    n, budget = 3000, 0.1
    results = load_example().main(["--n", str(n), "--budget", str(budget)])
    printed = capsys.readouterr().out
    assert set(results) == {"split", "variable_uncertainty", "random"}
    for name in results:
        assert name in printed
    assert "before the drift" in printed and "at the end" in printed
    for name, result in results.items():
        # the Žliobaitė managers' hard cap (w b + 1)(1 + n / w) with w = 100; random
        # sampling's Bernoulli(b) count is far below it too
        assert 0 < result["labels"] <= (100 * budget + 1) * (1 + n / 100), name
        assert result["correct"].shape == (n,)
        accuracy = result["accuracy"]
        assert accuracy["before the drift"] > 0.85, (name, accuracy)
        assert accuracy["just after"] < 0.7, (name, accuracy)  # the old boundary is wrong
        assert accuracy["at the end"] > accuracy["just after"] + 0.15, (name, accuracy)
        assert np.isclose(accuracy["at the end"], result["correct"][-n // 10 :].mean())
