"""Tests of activelab.bench.report: the plots, the HTML page and the Markdown summary."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from activelab.bench import report
from activelab.bench.report import plot_curves
from activelab.bench.stats import curve_ci

EVIL = "<script>alert('$1|2$')</script>"
STRATEGIES = ("margin", EVIL, "random")


def _rounds(models: tuple[str, ...] = ("logreg", "forest"), budgets: tuple[int, ...] = (40,)):
    """Every contract column; margin learns fastest, random slowest, on every seed."""
    rows = []
    for model in models:
        for budget in budgets:
            for dataset in ("wine", "digits"):
                for seed in range(3):
                    for speed, strategy in enumerate(STRATEGIES):
                        for step, n_labeled in enumerate(range(10, budget + 1, 10)):
                            accuracy = 0.5 + 0.4 * (1 - np.exp(-n_labeled / (15 + 10 * speed)))
                            rows.append(
                                {
                                    "cell": f"{model}{budget}{dataset}{seed}{speed}",
                                    "dataset": dataset,
                                    "model": model,
                                    "strategy": strategy,
                                    "seed": seed,
                                    "initial_size": 10,
                                    "batch_size": 10,
                                    "budget": budget,
                                    "round": step,
                                    "n_labeled": n_labeled,
                                    "accuracy": accuracy + 0.01 * seed,
                                    "f1_macro": accuracy,
                                    "log_loss": 1 - accuracy,
                                    "ece": 0.1,
                                    "query_seconds": 0.0 if step == 0 else 0.001,
                                    "fit_seconds": 0.01,
                                    "indices": json.dumps([step]),
                                }
                            )
    return pd.DataFrame(rows)


def _reference(rounds: pd.DataFrame) -> pd.DataFrame:
    keys = rounds[["dataset", "model", "seed"]].drop_duplicates()
    return keys.assign(accuracy=0.9).reset_index(drop=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run folder as the store writes it, and the report of it."""
    run_dir = tmp_path_factory.mktemp("runs") / "suite"
    run_dir.mkdir()
    rounds = _rounds()
    rounds.to_parquet(run_dir / "rounds.parquet", index=False)
    _reference(rounds).to_parquet(run_dir / "reference.parquet", index=False)
    (run_dir / "config.json").write_text(json.dumps({"name": "tiny <suite>"}))
    return run_dir, report(run_dir)


def test_report_writes_every_file(written: tuple[Path, Path]) -> None:
    run_dir, page = written
    out = run_dir / "report"
    assert page == out / "report.html"
    for model in ("logreg", "forest"):
        png = out / f"curves_{model}.png"
        svg = out / f"curves_{model}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        root = ElementTree.parse(svg).getroot()
        assert root.tag.endswith("svg")
    assert (out / "summary.md").stat().st_size > 0


def test_html_holds_the_tables_and_embeds_the_plots(written: tuple[Path, Path]) -> None:
    _, page = written
    text = page.read_text(encoding="utf-8")
    for heading in (
        "Average rank over data sets",
        "AULC per data set",
        "Each strategy against random",
        "Labels to reach 95% of the full-data accuracy",
        "Learning curves",
        "Data sets",
    ):
        assert heading in text
    assert text.count("<table>") >= 2 * 4
    assert text.count('src="data:image/png;base64,') == 2
    assert 'href="curves_logreg.svg"' in text
    # Ranks: margin first on both models; the licence of a registered set is shown.
    assert "<td><strong>margin</strong></td>" in text
    assert "BSD-3-Clause" in text
    assert "Benchmark report: tiny &lt;suite&gt;" in text


def test_html_escapes_a_malicious_strategy_name(written: tuple[Path, Path]) -> None:
    _, page = written
    text = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#x27;$1|2$&#x27;)&lt;/script&gt;" in text
    assert "<script" not in text.lower()


def test_markdown_has_the_rank_and_aulc_tables(written: tuple[Path, Path]) -> None:
    run_dir, _ = written
    text = (run_dir / "report" / "summary.md").read_text(encoding="utf-8")
    assert "| # | strategy | average rank | mean AULC | within CD of best |" in text
    assert "| strategy | `digits` | `wine` |" in text
    assert "| 1 | `margin` |" in text
    assert "![Learning curves: curves_logreg](curves_logreg.svg)" in text
    # The name sits in a code span, its pipe escaped so that the table keeps its columns.
    assert "`<script>alert('$1\\|2$')</script>`" in text
    for line in text.splitlines():
        if line.startswith("| `<script>"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 4


def test_report_takes_tables_and_another_folder(tmp_path: Path) -> None:
    rounds = _rounds(models=("logreg",), budgets=(30, 40))
    page = report(tmp_path / "nowhere", tmp_path / "out", rounds=rounds, reference=rounds.iloc[:0])
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "curves_logreg_i10_b10_n30.png",
        "curves_logreg_i10_b10_n30.svg",
        "curves_logreg_i10_b10_n40.png",
        "curves_logreg_i10_b10_n40.svg",
        "report.html",
        "summary.md",
    ]
    text = page.read_text(encoding="utf-8")
    assert "logreg · initial 10, batch 10, budget 30" in text
    # No reference: no labels-to-target table.
    assert "Labels to reach" not in text


def test_report_of_an_empty_run_says_what_to_do(tmp_path: Path) -> None:
    rounds = _rounds().iloc[:0]
    with pytest.raises(ValueError, match="no finished rounds"):
        report(tmp_path, rounds=rounds, reference=rounds)
    with pytest.raises(ValueError, match="no 'brier' column"):
        report(tmp_path, rounds=_rounds(), reference=_reference(_rounds()), metric="brier")


def test_plot_curves_draws_one_panel_per_data_set(tmp_path: Path) -> None:
    curves = curve_ci(_rounds(models=("logreg",)))
    png, svg = plot_curves(curves, tmp_path / "curves", title="logreg $x$")
    assert png.stat().st_size > 0
    root = ElementTree.parse(svg).getroot()
    namespace = {"svg": "http://www.w3.org/2000/svg"}
    panels = [
        g for g in root.iterfind(".//svg:g", namespace) if g.get("id", "").startswith("axes_")
    ]
    assert len(panels) == 2
