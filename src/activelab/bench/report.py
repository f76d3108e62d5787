"""Reports of a benchmark run: learning-curve plots, an HTML page and a Markdown summary.

:func:`report` reads a run folder (``runs/NAME``, what ``activelab bench`` wrote) and
writes, into ``runs/NAME/report/`` by default:

- ``curves_MODEL.png`` and ``.svg``: one figure per model (and setting), one panel per
  data set, each strategy's mean learning curve over seeds with its shaded 95 % CI;
- ``report.html``: one self-contained page (plots embedded, opens from disk) with the
  average-rank table and its critical difference, the AULC of every strategy per data set,
  the paired Wilcoxon tests against random, the labels needed to reach 95 % of the
  full-data accuracy, time per round and the data sets' sources and licences;
- ``summary.md``: the rank table and the per-data-set AULC table, for a README.

Every name that comes from the run (data sets, models, strategies) is escaped: the HTML
page shows a strategy called ``<script>`` as text, and the Markdown puts names in code
spans.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activelab._extras import require
from activelab.bench import stats

__all__ = ["plot_curves", "report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; }
caption { caption-side: bottom; text-align: left; color: #555; padding-top: 0.3em; }
figure { margin: 1em 0; } img { max-width: 100%; }
.better { color: #176b1f; } .worse { color: #a11; }
"""


@dataclass(frozen=True)
class _Group:
    """One model and setting: the unit of a figure and of the rank table."""

    model: str
    initial_size: int
    batch_size: int
    budget: int

    @property
    def setting(self) -> str:
        return f"initial {self.initial_size}, batch {self.batch_size}, budget {self.budget}"

    @property
    def title(self) -> str:
        return f"{self.model} · {self.setting}"

    def select(self, frame: Any) -> Any:
        mask = (
            (frame["model"] == self.model)
            & (frame["initial_size"] == self.initial_size)
            & (frame["batch_size"] == self.batch_size)
            & (frame["budget"] == self.budget)
        )
        return frame[mask]


def _groups(frame: Any) -> list[_Group]:
    keys = ["model", *stats.SETTING_KEYS]
    unique = frame[keys].drop_duplicates().sort_values(keys)
    return [_Group(str(m), int(i), int(b), int(n)) for m, i, b, n in unique.itertuples(index=False)]


def _slugs(groups: Sequence[_Group]) -> dict[_Group, str]:
    several = len({(g.initial_size, g.batch_size, g.budget) for g in groups}) > 1
    slugs: dict[_Group, str] = {}
    for group in groups:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", group.model).strip("-.") or "model"
        if several:
            slug += f"_i{group.initial_size}_b{group.batch_size}_n{group.budget}"
        candidate, suffix = slug, 2
        while candidate in slugs.values():
            candidate, suffix = f"{slug}-{suffix}", suffix + 1
        slugs[group] = candidate
    return slugs


def _strategy_order(names: Sequence[str], baseline: str) -> list[str]:
    return sorted(names, key=lambda name: (name == baseline, name))


def _styles(names: Sequence[str], baseline: str) -> dict[str, dict[str, Any]]:
    """The same colour and line style for a strategy in every panel and figure."""
    import matplotlib

    others = [name for name in sorted(names) if name != baseline]
    palette = matplotlib.colormaps["tab10" if len(others) <= 10 else "tab20"]
    dashes = ["-", "--", "-.", ":"]
    styles = {
        name: {
            "color": palette(position % palette.N),
            "linestyle": dashes[(position // palette.N) % len(dashes)],
        }
        for position, name in enumerate(others)
    }
    styles[baseline] = {"color": "black", "linestyle": "--"}
    return styles


def _tex_safe(text: str) -> str:
    # Matplotlib reads $…$ as mathematics: a name with dollars would fail to draw.
    return str(text).replace("$", r"\$")


def plot_curves(
    curves: Any,
    path: str | Path,
    metric: str = "accuracy",
    title: str = "",
    baseline: str = "random",
) -> list[Path]:
    """Learning curves of one model: one panel per data set, shaded confidence bands.

    Parameters
    ----------
    curves : pandas.DataFrame
        Rows of :func:`activelab.bench.stats.curve_ci` for one model and setting.
    path : str or pathlib.Path
        File name without suffix; ``.png`` and ``.svg`` are written.
    metric : str
        The y-axis label.
    title : str
        The figure's title.
    baseline : str
        Drawn in black, dashed.

    Returns
    -------
    list of pathlib.Path
        The PNG and the SVG.
    """
    require("matplotlib", "bench", "drawing learning curves")
    import matplotlib
    from matplotlib.figure import Figure

    datasets = sorted(curves["dataset"].unique())
    if not datasets:
        raise ValueError("plot_curves got no curves to draw.")
    columns = min(3, len(datasets))
    rows = math.ceil(len(datasets) / columns)
    styles = _styles(list(curves["strategy"].unique()), baseline)
    with matplotlib.rc_context({"svg.hashsalt": "activelab", "svg.fonttype": "path"}):
        figure = Figure(figsize=(4.4 * columns, 3.3 * rows + 0.9), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False)
        handles: dict[str, Any] = {}
        for panel, dataset in zip(axes.flat, datasets, strict=False):
            on_dataset = curves[curves["dataset"] == dataset]
            for strategy in _strategy_order(list(on_dataset["strategy"].unique()), baseline):
                curve = on_dataset[on_dataset["strategy"] == strategy].sort_values("n_labeled")
                x = curve["n_labeled"].to_numpy(dtype=np.float64)
                style = styles[strategy]
                (line,) = panel.plot(x, curve["mean"], linewidth=1.4, **style)
                low = curve["low"].to_numpy(dtype=np.float64)
                high = curve["high"].to_numpy(dtype=np.float64)
                panel.fill_between(x, low, high, color=style["color"], alpha=0.15, linewidth=0)
                handles.setdefault(strategy, line)
            panel.set_title(_tex_safe(dataset), fontsize=10)
            panel.set_xlabel("labeled examples")
            panel.set_ylabel(_tex_safe(metric))
            panel.grid(alpha=0.3)
        for panel in axes.flat[len(datasets) :]:
            panel.set_visible(False)
        ordered = _strategy_order(list(handles), baseline)
        figure.legend(
            [handles[name] for name in ordered],
            [_tex_safe(name) for name in ordered],
            loc="outside lower center",
            ncols=min(6, len(ordered)),
            fontsize=8,
            frameon=False,
        )
        if title:
            figure.suptitle(_tex_safe(title))
        stem = Path(path)
        written = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        figure.savefig(written[0], dpi=110)
        figure.savefig(written[1], metadata={"Date": None})
    return written


# --------------------------------------------------------------------------------------
# Formatting.


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def _p(value: Any) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _with_ci(mean: float, half: float) -> str:
    return _number(mean) if not np.isfinite(half) else f"{mean:.3f} ± {half:.3f}"


class _Cell:
    """A table cell: its text, whether it is a number, bold, and a CSS class."""

    def __init__(self, text: Any, numeric: bool = False, bold: bool = False, css: str = ""):
        self.text, self.numeric, self.bold, self.css = str(text), numeric, bold, css


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[_Cell]], caption: str = "") -> str:
    e = html.escape
    parts = ['<div class="wide"><table>']
    if caption:
        parts.append(f"<caption>{e(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        cells = []
        for cell in row:
            classes = " ".join(c for c in ("num" if cell.numeric else "", cell.css) if c)
            attribute = f' class="{classes}"' if classes else ""
            text = f"<strong>{e(cell.text)}</strong>" if cell.bold else e(cell.text)
            cells.append(f"<td{attribute}>{text}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


def _md_code(text: Any) -> str:
    """A name as a Markdown code span: no markup, no HTML, safe inside a table."""
    value = " ".join(str(text).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if value.startswith("`") or value.endswith("`") or longest else ""
    return f"{fence}{padding}{value}{padding}{fence}"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(rule[a] for a in align) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# The report.


@dataclass
class _Results:
    rounds: Any
    aulcs: Any
    aulc_table: Any
    curves: Any
    ranks: Any
    tests: Any
    targets: Any
    timing: Any


def _compute(
    rounds: Any,
    reference: Any,
    metric: str,
    baseline: str,
    target: float,
    confidence: float,
) -> _Results:
    aulcs = stats.run_aulc(rounds, metric)
    has_reference = (
        reference is not None
        and len(reference) > 0
        and metric in getattr(reference, "columns", ())
        and metric not in stats.LOWER_IS_BETTER
    )
    targets = None
    if has_reference:
        targets = stats.target_summary(stats.labels_to_target(rounds, reference, target, metric))
    return _Results(
        rounds=rounds,
        aulcs=aulcs,
        aulc_table=stats.aulc_ci(aulcs, confidence),
        curves=stats.curve_ci(rounds, metric, confidence),
        ranks=stats.average_ranks(aulcs, metric=metric),
        tests=stats.wilcoxon_vs_baseline(aulcs, baseline, metric=metric),
        targets=targets,
        timing=stats.timings(rounds) if {"query_seconds", "fit_seconds"} <= set(rounds) else None,
    )


def _ordered_strategies(results: _Results, group: _Group, baseline: str) -> list[str]:
    ranked = group.select(results.ranks)["strategy"].tolist() if len(results.ranks) else []
    rest = _strategy_order(
        [s for s in group.select(results.aulc_table)["strategy"].unique() if s not in ranked],
        baseline,
    )
    return [*ranked, *rest]


def _aulc_matrix(
    results: _Results, group: _Group, baseline: str, metric: str
) -> tuple[list[str], list[str], dict[tuple[str, str], tuple[float, float]], dict[str, float]]:
    """Strategies, data sets, (strategy, dataset) → (mean, half), dataset → best mean."""
    table = group.select(results.aulc_table)
    strategies = _ordered_strategies(results, group, baseline)
    datasets = sorted(table["dataset"].unique())
    cells = {
        (row.strategy, row.dataset): (float(row.mean), float(row.half_width))
        for row in table.itertuples(index=False)
    }
    pick = min if metric in stats.LOWER_IS_BETTER else max
    best = {d: pick(m for (s, dd), (m, _) in cells.items() if dd == d) for d in datasets}
    return strategies, datasets, cells, best


def _rank_caption(ranks: Any, metric: str) -> str:
    if not len(ranks):
        return ""
    first = ranks.iloc[0]
    text = (
        f"Average rank over {int(first['n_datasets'])} data set(s) of the mean AULC of "
        f"{metric} (1 = best). Critical difference (Nemenyi, α = 0.05): "
        f"{_number(first['cd'], 2)}; strategies within it of the best are not significantly "
        "worse."
    )
    if np.isfinite(first["friedman_p"]):
        text += f" Friedman test p = {_p(first['friedman_p'])}."
    return text


def _html_sections(
    results: _Results, groups: list[_Group], images: dict[_Group, list[Path]], options: dict
) -> list[str]:
    e = html.escape
    baseline, metric = options["baseline"], options["metric"]
    sections: list[str] = []

    sections.append('<h2 id="ranks">Average rank over data sets</h2>')
    for group in groups:
        ranks = group.select(results.ranks)
        sections.append(f"<h3>{e(group.title)}</h3>")
        if not len(ranks):
            sections.append("<p>No strategy ran on every data set of this model.</p>")
            continue
        rows = [
            [
                _Cell(position, numeric=True),
                _Cell(row.strategy, bold=position == 1),
                _Cell(_number(row.average_rank, 2), numeric=True),
                _Cell(_number(row.mean_aulc), numeric=True),
                _Cell("yes" if row.within_cd else "no"),
            ]
            for position, row in enumerate(ranks.itertuples(index=False), start=1)
        ]
        headers = ["#", "strategy", "average rank", "mean AULC", "within CD of best"]
        sections.append(_html_table(headers, rows, _rank_caption(ranks, metric)))

    sections.append('<h2 id="aulc">AULC per data set</h2>')
    sections.append(
        f"<p>Area under the learning curve of {e(metric)}, normalised to [0, 1]: mean ± 95 % "
        "t-confidence half-width over seeds. Best per data set in bold.</p>"
    )
    for group in groups:
        strategies, datasets, cells, best = _aulc_matrix(results, group, baseline, metric)
        rows = []
        for strategy in strategies:
            row = [_Cell(strategy)]
            for dataset in datasets:
                if (strategy, dataset) not in cells:
                    row.append(_Cell("—", numeric=True))
                    continue
                mean, half = cells[(strategy, dataset)]
                row.append(_Cell(_with_ci(mean, half), numeric=True, bold=mean == best[dataset]))
            rows.append(row)
        sections.append(f"<h3>{e(group.title)}</h3>")
        sections.append(_html_table(["strategy", *datasets], rows))

    sections.append(f'<h2 id="tests">Each strategy against {e(baseline)}</h2>')
    sections.append(
        "<p>Paired Wilcoxon signed-rank test on per-seed AULC (pairs share the initial set "
        "and the test split), two-sided; Holm's correction over the strategies of a data "
        "set. Verdicts use the unadjusted p at α = 0.05.</p>"
    )
    for group in groups:
        tests = group.select(results.tests)
        sections.append(f"<h3>{e(group.title)}</h3>")
        if not len(tests):
            sections.append(f"<p>No strategy to compare with {e(baseline)}.</p>")
            continue
        rows = [
            [
                _Cell(row.dataset),
                _Cell(row.strategy),
                _Cell(row.n_pairs, numeric=True),
                _Cell(_number(row.mean_difference, 4), numeric=True),
                _Cell(f"{row.wins}/{row.losses}/{row.ties}", numeric=True),
                _Cell(_p(row.p_value), numeric=True),
                _Cell(_p(row.p_holm), numeric=True),
                _Cell(row.verdict, css=row.verdict if row.verdict in ("better", "worse") else ""),
                _Cell(row.note),
            ]
            for row in tests.itertuples(index=False)
        ]
        headers = [
            "data set",
            "strategy",
            "seeds",
            f"Δ AULC vs {baseline}",
            "wins/losses/ties",
            "p",
            "p (Holm)",
            "verdict",
            "note",
        ]
        sections.append(_html_table(headers, rows))

    if results.targets is not None:
        fraction = options["target"]
        sections.append(
            f'<h2 id="target">Labels to reach {fraction:.0%} of the full-data {e(metric)}</h2>'
        )
        sections.append(
            "<p>Median over seeds of the first label count whose test score reaches "
            f"{fraction:.0%} of the score of the same model trained on the whole pool; "
            "“not reached” when half the seeds or more never did. In brackets: seeds that "
            "reached it.</p>"
        )
        for group in groups:
            table = group.select(results.targets)
            strategies = _ordered_strategies(results, group, baseline)
            datasets = sorted(table["dataset"].unique())
            lookup = {(r.strategy, r.dataset): r for r in table.itertuples(index=False)}
            rows = []
            for strategy in strategies:
                row = [_Cell(strategy)]
                for dataset in datasets:
                    found = lookup.get((strategy, dataset))
                    if found is None:
                        row.append(_Cell("—", numeric=True))
                        continue
                    labels = (
                        f"{found.median_labels:.0f}"
                        if np.isfinite(found.median_labels)
                        else "not reached"
                    )
                    row.append(_Cell(f"{labels} ({found.reached}/{found.n_seeds})", numeric=True))
                rows.append(row)
            sections.append(f"<h3>{e(group.title)}</h3>")
            sections.append(_html_table(["strategy", *datasets], rows))

    sections.append('<h2 id="curves">Learning curves</h2>')
    for group in groups:
        png, svg = images[group]
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        sections.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{e(group.title)}">'
            f"<figcaption>{e(group.title)}: mean {e(metric)} over seeds, shaded 95 % CI. "
            f'<a href="{e(svg.name)}">SVG</a></figcaption></figure>'
        )

    if results.timing is not None:
        sections.append('<h2 id="time">Time</h2>')
        rows = [
            [
                _Cell(row.model),
                _Cell(row.strategy),
                _Cell(_number(row.query_seconds, 4), numeric=True),
                _Cell(_number(row.fit_seconds, 4), numeric=True),
                _Cell(_number(row.total_seconds, 1), numeric=True),
            ]
            for row in results.timing.itertuples(index=False)
        ]
        headers = ["model", "strategy", "query s / round", "fit s / round", "total s"]
        sections.append(_html_table(headers, rows))

    sections.append('<h2 id="datasets">Data sets</h2>')
    sections.append(_html_table(["data set", "source", "licence"], _dataset_rows(results)))
    return sections


def _dataset_rows(results: _Results) -> list[list[_Cell]]:
    from activelab.bench import datasets

    rows = []
    for name in sorted(results.rounds["dataset"].unique()):
        try:
            found = datasets.get(str(name))
            source, licence = found.source, found.licence
        except ValueError:
            source, licence = "not in the registry (user data)", "—"
        rows.append([_Cell(name), _Cell(source), _Cell(licence)])
    return rows


def _markdown(
    results: _Results,
    groups: list[_Group],
    images: dict[_Group, list[Path]],
    title: str,
    options: dict,
) -> str:
    baseline, metric = options["baseline"], options["metric"]
    rounds = results.rounds
    lines = [
        f"# Benchmark: {_md_code(title)}",
        "",
        f"{rounds['dataset'].nunique()} data set(s) × {rounds['model'].nunique()} model(s) × "
        f"{rounds['strategy'].nunique()} strategies × {rounds['seed'].nunique()} seed(s): "
        f"{len(results.aulcs)} runs. AULC: area under the learning curve of {metric}, "
        "normalised to [0, 1]. Regenerate with `activelab report RUN_DIR`.",
    ]
    for group in groups:
        lines += ["", f"## {_md_code(group.model)} ({group.setting})", ""]
        ranks = group.select(results.ranks)
        if len(ranks):
            lines += [_rank_caption(ranks, metric), ""]
            rows = [
                [
                    str(position),
                    _md_code(row.strategy),
                    _number(row.average_rank, 2),
                    _number(row.mean_aulc),
                    "yes" if row.within_cd else "no",
                ]
                for position, row in enumerate(ranks.itertuples(index=False), start=1)
            ]
            headers = ["#", "strategy", "average rank", "mean AULC", "within CD of best"]
            lines += [_md_table(headers, rows, "rlrrc"), ""]
        strategies, datasets, cells, best = _aulc_matrix(results, group, baseline, metric)
        seeds = int(group.select(results.aulc_table)["n_seeds"].max())
        lines += [
            f"AULC per data set (mean ± 95 % CI over {seeds} seed(s); best in bold):",
            "",
        ]
        rows = []
        for strategy in strategies:
            row = [_md_code(strategy)]
            for dataset in datasets:
                if (strategy, dataset) not in cells:
                    row.append("—")
                    continue
                mean, half = cells[(strategy, dataset)]
                text = _with_ci(mean, half)
                row.append(f"**{text}**" if mean == best[dataset] else text)
            rows.append(row)
        headers = ["strategy", *(_md_code(d) for d in datasets)]
        lines += [_md_table(headers, rows, "l" + "r" * len(datasets)), ""]
        svg = images[group][1]
        lines += [f"![Learning curves: {svg.stem}]({svg.name})"]
    return "\n".join(lines) + "\n"


def _title(run_dir: Path) -> str:
    config = run_dir / "config.json"
    if config.is_file():
        try:
            name = json.loads(config.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            return name
    return run_dir.resolve().name or str(run_dir)


def report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    rounds: Any = None,
    reference: Any = None,
    metric: str = "accuracy",
    baseline: str = "random",
    target: float = 0.95,
    confidence: float = 0.95,
) -> Path:
    """Write the plots, the HTML report and the Markdown summary of a benchmark run.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        The run folder ``activelab bench`` wrote (``runs/NAME``).
    out_dir : str or pathlib.Path, optional
        Where the files go; ``run_dir/report`` when None.
    rounds : pandas.DataFrame, optional
        The rounds table; read with :func:`activelab.bench.load_rounds` when None.
    reference : pandas.DataFrame, optional
        Full-data scores (dataset, model, seed, accuracy); read from the run folder's
        ``reference.parquet`` when None. The labels-to-target table needs it.
    metric : str
        The metric of the curves, the AULC, the ranks and the tests.
    baseline : str
        The strategy every other is tested against.
    target : float
        Fraction of the full-data score for the labels-to-target table.
    confidence : float
        Of the bands and the ± intervals.

    Returns
    -------
    pathlib.Path
        The HTML report (``report.html``); ``summary.md`` and the ``curves_*.png`` and
        ``.svg`` files lie beside it.

    Raises
    ------
    ValueError
        When the run has no finished rounds, or lacks the metric.
    FileNotFoundError
        When ``run_dir`` holds no results (and ``rounds`` is not given).

    Examples
    --------
    ``activelab report runs/suite`` calls ``report("runs/suite")``.
    """
    require("pandas", "bench", "writing a benchmark report")
    folder = Path(run_dir)
    if rounds is None or reference is None:
        from activelab.bench import store

        rounds = store.load_rounds(folder) if rounds is None else rounds
        reference = store.load_reference(folder) if reference is None else reference
    if len(rounds) == 0:
        raise ValueError(
            f"no finished rounds in {folder}: run `activelab bench CONFIG.toml --out "
            f"{folder}` and let at least one cell finish."
        )
    if metric not in rounds.columns:
        raise ValueError(
            f"the rounds have no {metric!r} column; choose one of "
            f"{', '.join(c for c in ('accuracy', 'f1_macro', 'log_loss', 'ece') if c in rounds)}."
        )
    out = folder / "report" if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {"metric": metric, "baseline": baseline, "target": target}
    results = _compute(rounds, reference, metric, baseline, target, confidence)
    groups = _groups(results.curves)
    slugs = _slugs(groups)
    images = {
        group: plot_curves(
            group.select(results.curves),
            out / f"curves_{slugs[group]}",
            metric=metric,
            title=group.title,
            baseline=baseline,
        )
        for group in groups
    }
    title = _title(folder)
    (out / "summary.md").write_text(
        _markdown(results, groups, images, title, options), encoding="utf-8"
    )
    e = html.escape
    overview = (
        f"{rounds['dataset'].nunique()} data set(s), {rounds['model'].nunique()} model(s), "
        f"{rounds['strategy'].nunique()} strategies, {rounds['seed'].nunique()} seed(s): "
        f"{len(results.aulcs)} runs, {len(rounds)} rounds. Metric: {metric}."
    )
    body = "\n".join(_html_sections(results, groups, images, options))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Benchmark report: {e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Benchmark report: {e(title)}</h1>
<p>{e(overview)} Regenerate with <code>activelab report {e(str(folder))}</code>.</p>
<p>Contents: <a href="#ranks">ranks</a> · <a href="#aulc">AULC</a> ·
<a href="#tests">tests against {e(baseline)}</a> ·
{'<a href="#target">labels to target</a> · ' if results.targets is not None else ""}
<a href="#curves">learning curves</a> · <a href="#datasets">data sets</a></p>
{body}
</body>
</html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
