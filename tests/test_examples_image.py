"""examples/image_digits.py runs end to end (tiny settings) and writes its plot."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "image_digits.py"


def load_example():
    spec = importlib.util.spec_from_file_location("image_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_balanced_start_takes_per_class_rows_of_every_class():
    example = load_example()
    y = np.repeat(np.arange(4), 5)
    start = example.balanced_start(y, 2, seed=0)
    assert len(start) == len(set(start)) == 8
    assert np.bincount(y[start]).tolist() == [2, 2, 2, 2]
    assert start != example.balanced_start(y, 2, seed=1)


def test_digits_cnn_maps_images_to_logits():
    import torch

    network = load_example().digits_cnn(1, 10)
    assert network(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert any(isinstance(m, torch.nn.Dropout) for m in network.modules())


def test_example_runs_and_saves_the_curves(tmp_path, capsys):
    out = tmp_path / "curves.png"
    results = load_example().main(
        [
            "--out",
            str(out),
            "--seeds",
            "1",
            "--budget",
            "30",
            "--epochs",
            "5",
            "--mc-samples",
            "4",
            "--test",
            "200",
            "--strategies",
            "bald",
            "batchbald",
            "random",
        ]
    )
    printed = capsys.readouterr().out
    assert out.exists() and out.stat().st_size > 0
    assert set(results) == {"bald", "batchbald", "random"}
    for runs in results.values():
        (run,) = runs
        counts, accuracy = run.curve()
        assert counts.tolist() == [20, 30]
        assert ((accuracy >= 0) & (accuracy <= 1)).all()
    for name in ("`bald`", "`batchbald`", "`random`", "accuracy at 30", str(out)):
        assert name in printed
