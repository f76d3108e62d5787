"""The benchmark harness: fair, reproducible comparisons of query strategies.

>>> import activelab.bench as bench
>>> folder = bench.run("benchmarks/suite.toml", jobs=2)   # doctest: +SKIP
>>> rounds = bench.load_rounds(folder)                     # doctest: +SKIP
>>> bench.report(folder)                                   # doctest: +SKIP

:func:`run` expands a TOML configuration into a grid of cells (data set × model ×
strategy × seed × initial size × batch size × budget), runs them in parallel processes
and stores one row per round under ``runs/NAME/``; a re-run resumes. :func:`load_rounds`
reads the rows back, :func:`report` writes plots, an HTML report and a Markdown summary,
and :mod:`activelab.bench.datasets` holds the offline data sets. docs/benchmarks.md
describes the configuration and the files.

Needs the ``bench`` extra: ``pip install 'activelab[bench]'``.
"""

from activelab.bench import datasets
from activelab.bench.config import Config, ConfigError
from activelab.bench.config import load as load_config
from activelab.bench.report import report
from activelab.bench.runner import BenchError, run
from activelab.bench.store import load_reference, load_rounds

__all__ = [
    "BenchError",
    "Config",
    "ConfigError",
    "datasets",
    "load_config",
    "load_reference",
    "load_rounds",
    "report",
    "run",
]
