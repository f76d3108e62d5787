"""The LLM labeller in the studio, against the fake chat-completions server of
tests/oracles: suggestions through the API, routing by the model's confidence, machine
answers in the review list and the export, failures that leave items for people, the
accounting, the key never stored, settings through the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from activelab.studio import cli, db
from activelab.studio.app import create_app
from activelab.studio.db import Annotator, Answer, Item, LLMRound, Project, read_session
from activelab.studio.project import load_project, read_admin_token
from tests.oracles.fake_llm import FakeLLM, serve

from .conftest import LABELS, bearer, synthetic_texts, truth_of

pytest.importorskip("httpx")

KEY_ENV = "ACTIVELAB_TEST_STUDIO_LLM_KEY"
SECRET = "sk-test-never-stored-0123456789"
MODEL = "fake-model"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    """A fake LLM that knows the true label of every synthetic text; its base URL."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    texts, truth = synthetic_texts(40)
    llm = FakeLLM(list(LABELS), truth=dict(zip(texts, truth, strict=True)))
    with serve(llm) as url:
        yield llm, url


def llm_settings(url: str, **extra):
    settings = {
        "llm_base_url": url,
        "llm_model": MODEL,
        "llm_api_key_env": KEY_ENV,
        "llm_task": "The sentiment of a short text.",
        "llm_price_prompt": 1.0,
        "llm_price_completion": 2.0,
    }
    settings.update(extra)
    return settings


@pytest.fixture
def studio_for(make_project):
    """``studio_for(texts, **settings)`` → (client, config, admin token, annotator token)."""
    made = []

    def factory(texts, **settings):
        config = make_project(texts, **settings)
        app = create_app(config, start_trainer=False)
        client = TestClient(app)
        admin = read_admin_token(config.directory)
        created = client.post("/api/p/proj/annotators", headers=bearer(admin), json={"name": "ann"})
        assert created.status_code == 201
        client.__enter__()
        made.append((client, app))
        return client, config, admin, created.json()["token"]

    yield factory
    for client, app in made:
        client.__exit__(None, None, None)
        app.state.studio.engine.dispose()


def trainer_of(client):
    return client.app.state.studio.trainer


def answer(client, token, served, labels=None):
    reply = client.post(
        "/api/p/proj/answers",
        headers=bearer(token),
        json={
            "item_id": served["item"]["id"],
            "lease_id": served["lease"]["id"],
            "labels": labels or [truth_of(served["item"]["text"])],
            "skipped": False,
            "seconds": 1.0,
            "idempotency_key": f"k-{served['lease']['id']}",
        },
    )
    reply.raise_for_status()
    return reply.json()


def label_by_person(client, token, n):
    for _ in range(n):
        answer(client, token, client.post("/api/p/proj/next", headers=bearer(token)).json())


def open_items(config):
    engine = db.connect(config.url)
    try:
        with read_session(engine) as session:
            return session.execute(
                select(Item.id, Item.text, Item.suggestion, Item.llm, Item.done).where(
                    Item.done.is_(False)
                )
            ).all()
    finally:
        engine.dispose()


def served_ids(client, token, limit=60):
    """Every item the annotator is served, answering each (with its true label)."""
    seen = []
    for _ in range(limit):
        served = client.post("/api/p/proj/next", headers=bearer(token)).json()
        if served["item"] is None:
            return seen
        seen.append(served["item"]["id"])
        answer(client, token, served)
    raise AssertionError("the queue did not run dry")


# ------------------------------------------------------------------------- suggest mode


def test_the_llm_suggestion_comes_with_the_item_and_is_not_the_models(fake, studio_for) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(40)
    client, config, admin, token = studio_for(
        texts, llm="suggest", llm_batch=5, llm_lookahead=5, **llm_settings(url)
    )
    trainer = trainer_of(client)
    assert trainer.step() == "cold-start"  # ranks the queue, then asks for the head
    assert llm.n_requests == 5
    served = client.post("/api/p/proj/next", headers=bearer(token)).json()
    suggestion = served["llm_suggestion"]
    assert suggestion["label"] == truth_of(served["item"]["text"])
    assert suggestion["model"] == MODEL
    assert suggestion["confidence"] == pytest.approx(0.97, abs=1e-6)
    assert served["suggestion"] is None  # the model's suggestion: none before a model
    # The first round covered the head; the job says more is waiting.
    assert trainer.llm_job.pending is False  # lookahead 5, all five done
    usage = client.get("/api/p/proj/llm", headers=bearer(admin)).json()
    totals = usage["totals"]
    assert totals["rounds"] == 1 and totals["requests"] == 5 and totals["n_labeled"] == 5
    prompt = sum(u["prompt_tokens"] for u in llm.usage)
    completion = sum(u["completion_tokens"] for u in llm.usage)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (prompt, completion)
    assert totals["cost"] == pytest.approx(prompt / 1000 * 1.0 + completion / 1000 * 2.0)
    assert usage["settings"]["api_key_set"] is True and usage["machine_labels"] == 0
    # Suggest mode stores no answer: the person answers.
    engine = db.connect(config.url)
    try:
        with read_session(engine) as session:
            assert session.scalar(select(Answer.id)) is None
    finally:
        engine.dispose()


def test_suggestions_follow_the_queue_head_a_batch_per_round(fake, studio_for) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(40)
    client, *_ = studio_for(
        texts, llm="suggest", llm_batch=4, llm_lookahead=10, **llm_settings(url)
    )
    trainer = trainer_of(client)
    trainer.step()
    assert llm.n_requests == 4 and trainer.llm_job.pending is True
    trainer.step()
    trainer.step()
    assert llm.n_requests == 10 and trainer.llm_job.pending is False
    assert trainer.step() is None  # the head is done: no request
    assert llm.n_requests == 10


def test_the_key_is_sent_but_never_stored_logged_or_shown(fake, studio_for, caplog) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(40)
    caplog.set_level("DEBUG")
    client, config, admin, token = studio_for(
        texts, llm="suggest", llm_batch=3, llm_lookahead=3, **llm_settings(url)
    )
    trainer_of(client).step()
    assert llm.headers and all(h.get("Authorization") == f"Bearer {SECRET}" for h in llm.headers)
    shown = [
        client.get("/api/p/proj", headers=bearer(admin)).text,
        client.get("/api/p/proj/llm", headers=bearer(admin)).text,
        client.post("/api/p/proj/next", headers=bearer(token)).text,
        (Path(config.directory) / "studio.toml").read_text(),
        caplog.text,
    ]
    engine = db.connect(config.url)
    try:
        with read_session(engine) as session:
            shown.append(json.dumps(session.scalars(select(Project.llm)).all()))
            shown.append(json.dumps([i.llm for i in session.scalars(select(Item)).all()]))
            shown.append(json.dumps(session.scalars(select(LLMRound.error)).all()))
    finally:
        engine.dispose()
    assert all(SECRET not in text for text in shown)
    cache = Path(config.directory) / "llm-cache.sqlite"
    assert cache.is_file() and SECRET.encode() not in cache.read_bytes()


def test_a_malformed_answer_leaves_no_suggestion_and_the_item_open(fake, studio_for) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(12)
    texts[3] = "[garbage] " + texts[3]
    client, config, _admin, token = studio_for(
        texts, llm="suggest", llm_batch=12, llm_lookahead=12, **llm_settings(url)
    )
    trainer_of(client).step()
    rows = {row.id: row for row in open_items(config)}
    garbage = next(row for row in rows.values() if "[garbage]" in row.text)
    assert garbage.llm["label"] is None and "no valid label" in garbage.llm["error"]
    assert all(row.llm["label"] == truth_of(row.text) for row in rows.values() if row != garbage)
    # Every item, the one the LLM could not label included, is served to the person.
    assert sorted(served_ids(client, token)) == sorted(rows)


# --------------------------------------------------------------------------- route mode


def trained(studio_for, url, texts, **settings):
    """A project whose model exists (9 items labelled by a person), LLM off."""
    client, config, admin, token = studio_for(
        texts, min_labels=6, retrain_every=6, **llm_settings(url), **settings
    )
    trainer = trainer_of(client)
    trainer.step()
    label_by_person(client, token, 9)
    assert trainer.step() == "trained"
    return client, config, admin, token


def route(client, admin, **settings):
    reply = client.put(
        "/api/p/proj/settings",
        headers=bearer(admin),
        json={"llm": {"mode": "route", "batch": 100, **settings}},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_route_mode_labels_confident_items_and_leaves_uncertain_ones(fake, studio_for) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(40)
    client, config, admin, token = trained(studio_for, url, texts)
    before = {row.id: row for row in open_items(config)}
    uncertainty = {i: 1.0 - float(row.suggestion["confidence"]) for i, row in before.items()}
    threshold = sorted(uncertainty.values())[len(uncertainty) // 2]
    assert route(client, admin, threshold=threshold)["llm"]["threshold"] == threshold
    assert trainer_of(client).step() == "llm-route"
    confident = {i for i, u in uncertainty.items() if u <= threshold}
    uncertain = set(uncertainty) - confident
    assert confident and uncertain
    # The LLM was asked about the confident items only.
    asked = {t for t in llm.asked}
    assert asked == {before[i].text for i in confident}
    engine = db.connect(config.url)
    try:
        with read_session(engine) as session:
            machine = session.execute(
                select(
                    Answer.item_id, Answer.labels, Answer.machine, Annotator.name, Annotator.role
                )
                .join(Annotator, Annotator.id == Answer.annotator_id)
                .where(Annotator.role == "machine")
            ).all()
    finally:
        engine.dispose()
    assert {row.item_id for row in machine} == confident
    for row in machine:
        assert (row.name, row.role) == (f"llm:{MODEL}", "machine")
        assert row.labels == [truth_of(before[row.item_id].text)]
        assert row.machine["model"] == MODEL and row.machine["cost"] > 0
        assert row.machine["uncertainty"] == pytest.approx(uncertainty[row.item_id], abs=1e-6)
        assert row.machine["confidence"] == pytest.approx(0.97, abs=1e-6)
    # People get exactly the uncertain items.
    assert set(served_ids(client, token)) == uncertain
    # Review: the machine labels are listed and can be corrected.
    listed = client.get(
        "/api/p/proj/answers", headers=bearer(admin), params={"annotator": f"llm:{MODEL}"}
    ).json()
    assert len(listed) == len(confident) and all(a["machine"]["model"] == MODEL for a in listed)
    wrong = next(label for label in LABELS if label != listed[0]["labels"][0])
    corrected = client.put(
        f"/api/p/proj/answers/{listed[0]['id']}", headers=bearer(admin), json={"labels": [wrong]}
    ).json()
    assert corrected["reviewed"] and corrected["original_labels"] == listed[0]["labels"]
    # The export marks them, with who, cost and confidence; the costs add up.
    rows = [
        json.loads(line)
        for line in client.get(
            "/api/p/proj/export", headers=bearer(admin), params={"format": "jsonl"}
        ).text.splitlines()
    ]
    machine_rows = [r for r in rows if r["machine"]]
    assert {r["item_id"] for r in machine_rows} == confident
    assert all(r["annotator"] == f"llm:{MODEL}" and r["role"] == "machine" for r in machine_rows)
    assert all(r["llm_model"] == MODEL and r["llm_confidence"] > 0.9 for r in machine_rows)
    assert not any(r["machine"] or r["llm_cost"] is not None for r in rows if r not in machine_rows)
    usage = client.get("/api/p/proj/llm", headers=bearer(admin)).json()
    assert sum(r["llm_cost"] for r in machine_rows) == pytest.approx(usage["totals"]["cost"])
    assert usage["machine_labels"] == len(confident)
    assert usage["totals"]["n_to_people"] == len(uncertain)
    csv_text = client.get(
        "/api/p/proj/export", headers=bearer(admin), params={"format": "csv"}
    ).content.decode("utf-8-sig")
    header = csv_text.splitlines()[0].split(",")
    assert {"machine", "llm_model", "llm_confidence", "llm_cost", "gold_labels"} <= set(header)


def test_route_by_fraction_sends_the_most_uncertain_share_to_people(fake, studio_for) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(40)
    client, config, admin, _token = trained(studio_for, url, texts)
    before = {row.id: 1.0 - float(row.suggestion["confidence"]) for row in open_items(config)}
    route(client, admin, route_by="fraction", human_fraction=0.25)
    trainer_of(client).step()
    after = {row.id: row.llm for row in open_items(config)}
    people = {i for i, state in after.items() if state and state["route"] == "people"}
    assert len(people) == int(0.25 * len(before))
    labelled = set(before) - set(after)
    assert len(labelled) == len(before) - len(people)
    assert min(before[i] for i in people) >= max(before[i] for i in labelled)


def test_a_malformed_answer_in_route_mode_leaves_the_item_to_people(fake, studio_for) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(40)
    garbage = {5, 17}
    for i in garbage:
        texts[i] = "[garbage] " + texts[i]
    client, config, admin, token = trained(studio_for, url, texts)
    open_before = {row.id: row.text for row in open_items(config)}
    route(client, admin, threshold=1.0)  # every item to the LLM
    trainer_of(client).step()
    left = {row.id: row for row in open_items(config)}
    assert {row.text for row in left.values()} == {
        t for t in open_before.values() if "[garbage]" in t
    }
    assert all(row.llm["route"] == "people" and "error" in row.llm for row in left.values())
    assert set(served_ids(client, token)) == set(left)


def test_a_failing_endpoint_loses_nothing_and_is_retried_later(fake, studio_for) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(40)
    client, config, admin, _token = trained(studio_for, url, texts)
    route(client, admin, threshold=1.0)
    job = trainer_of(client).llm_job
    job.oracle_options = {"max_retries": 0, "backoff": 0.0}
    llm.script.extend(["500"] * 200)
    open_before = {row.id for row in open_items(config)}
    assert trainer_of(client).step() == "llm-error"
    assert {row.id for row in open_items(config)} == open_before
    assert all(row.llm is None for row in open_items(config))
    usage = client.get("/api/p/proj/llm", headers=bearer(admin)).json()
    assert usage["totals"]["failed_rounds"] == 1 and "500" in usage["last_error"]["error"]
    assert usage["machine_labels"] == 0
    # Waiting after the failure: no request.
    asked = llm.n_requests
    assert trainer_of(client).step() is None and llm.n_requests == asked
    llm.script.clear()
    job.backoff_first = 0.0
    job._retry_at = 0.0  # the wait is over
    assert trainer_of(client).step() == "llm-route"
    assert not open_items(config)


def test_route_mode_waits_for_a_model(fake, studio_for) -> None:
    llm, url = fake
    texts, _ = synthetic_texts(20)
    client, *_ = studio_for(texts, llm="route", **llm_settings(url))
    assert trainer_of(client).step() == "cold-start"
    assert llm.n_requests == 0


# ----------------------------------------------------------------------------- settings


def test_settings_are_checked_and_saved(fake, studio_for) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(12)
    client, config, admin, token = studio_for(texts, **llm_settings(url))
    put = client.put
    bad = put("/api/p/proj/settings", headers=bearer(admin), json={"llm": {"mode": "nope"}})
    assert bad.status_code == 422
    # Where requests go, and which server variable goes with them, are the server's.
    for change in ({"api_key_env": "HOME"}, {"base_url": "http://elsewhere.example/v1"}):
        refused = put(
            "/api/p/proj/settings",
            headers=bearer(admin),
            json={"llm": {"mode": "suggest", **change}},
        )
        assert refused.status_code == 403 and "set on the server" in refused.text
    assert load_project(config.directory).llm == "off"
    same = put(
        "/api/p/proj/settings",
        headers=bearer(admin),
        json={"llm": {"base_url": url, "api_key_env": KEY_ENV, "threshold": 0.4}},
    )
    assert same.status_code == 200 and same.json()["llm"]["threshold"] == 0.4
    assert (
        put(
            "/api/p/proj/settings", headers=bearer(token), json={"aggregation": "dawid_skene"}
        ).status_code
        == 403
    )
    ok = put(
        "/api/p/proj/settings",
        headers=bearer(admin),
        json={"aggregation": "dawid_skene", "llm": {"mode": "suggest", "examples": 2}},
    )
    assert ok.status_code == 200, ok.text
    saved = load_project(config.directory)
    assert (saved.aggregation, saved.llm, saved.llm_examples) == ("dawid_skene", "suggest", 2)
    info = client.get("/api/p/proj", headers=bearer(admin)).json()
    assert info["aggregation"] == "dawid_skene" and info["llm"]["mode"] == "suggest"
    assert info["llm"]["base_url"] == url and info["llm"]["api_key_env"] == KEY_ENV
    # Annotators see what labels, not where it runs.
    seen = client.get("/api/p/proj", headers=bearer(token)).json()["llm"]
    assert seen == {"mode": "suggest", "model": MODEL}


def test_the_llm_needs_a_single_label_text_project(make_project, tmp_path: Path) -> None:
    texts, _ = synthetic_texts(6)
    with pytest.raises(ValueError, match="llm_base_url"):
        make_project(texts, llm="suggest", llm_model="m")
    with pytest.raises(ValueError, match="gives one label to a text"):
        make_project(
            texts, llm="suggest", llm_model="m", llm_base_url="http://x/v1", multi_label=True
        )
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        make_project(texts, llm_api_key_env="sk-123 456")
    with pytest.raises(ValueError, match="llm_threshold"):
        make_project(texts, llm_threshold=1.5)
    with pytest.raises(ValueError, match="dawid_skene"):
        make_project(texts, aggregation="dawid_skene", multi_label=True)


def test_the_machine_annotator_gets_no_token(fake, studio_for) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(40)
    client, _config, admin, _token = trained(studio_for, url, texts)
    route(client, admin, threshold=1.0)
    trainer_of(client).step()
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    machine = next(p for p in people if p["role"] == "machine")
    assert machine["name"] == f"llm:{MODEL}" and machine["revoked_at"] is not None
    refused = client.post(f"/api/p/proj/annotators/{machine['id']}/token", headers=bearer(admin))
    assert refused.status_code == 409


def test_studio_settings_command_shows_and_changes_settings(fake, make_project) -> None:
    _llm, url = fake
    texts, _ = synthetic_texts(6)
    config = make_project(texts)
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["settings", str(config.directory)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "llm = 'off'" in shown.output
    changed = runner.invoke(
        cli.app,
        [
            "settings",
            str(config.directory),
            "llm=suggest",
            f"llm_base_url={url}",
            f"llm_model={MODEL}",
            "llm_threshold=0.3",
            "aggregation=dawid_skene",
        ],
        env={"COLUMNS": "200"},
    )
    assert changed.exit_code == 0, changed.output
    saved = load_project(config.directory)
    assert (saved.llm, saved.llm_threshold, saved.aggregation) == ("suggest", 0.3, "dawid_skene")
    engine = db.connect(saved.url)
    try:
        with read_session(engine) as session:
            row = session.scalar(select(Project))
            assert row.llm["mode"] == "suggest" and row.aggregation == "dawid_skene"
    finally:
        engine.dispose()
    refused = runner.invoke(
        cli.app, ["settings", str(config.directory), "llm=route", "llm_base_url=ftp://x"]
    )
    assert refused.exit_code == 2 and "llm_base_url" in refused.output
    unknown = runner.invoke(cli.app, ["settings", str(config.directory), "colour=red"])
    assert unknown.exit_code == 2


def test_studio_init_takes_the_llm_and_aggregation_settings(tmp_path: Path) -> None:
    data = tmp_path / "items.csv"
    data.write_text("text,id\nfirst,a\nsecond,b\nthird,c\n")
    args = ["init", str(tmp_path / "p"), "--data", str(data), "--labels", "neg,pos"]
    made = CliRunner().invoke(
        cli.app,
        [
            *args,
            "--llm",
            "route",
            "--llm-base-url",
            "http://127.0.0.1:9/v1",
            "--llm-model",
            MODEL,
            "--llm-api-key-env",
            KEY_ENV,
            "--llm-price-prompt",
            "0.5",
            "--aggregation",
            "dawid_skene",
        ],
        env={"COLUMNS": "200"},
    )
    assert made.exit_code == 0, made.output
    saved = load_project(tmp_path / "p")
    assert (saved.llm, saved.llm_model, saved.llm_price_prompt) == ("route", MODEL, 0.5)
    assert (saved.llm_api_key_env, saved.aggregation) == (KEY_ENV, "dawid_skene")
    refused = CliRunner().invoke(
        cli.app,
        [*args[:1], str(tmp_path / "q"), *args[2:], "--llm", "suggest"],
        env={"COLUMNS": "200"},
    )
    assert refused.exit_code == 2 and "llm_base_url" in refused.output


def test_llm_settings_defaults_are_the_project_defaults(tmp_path: Path) -> None:
    """studio.toml's llm_* defaults and LLMSettings' defaults are one set of values."""
    from activelab.studio.llm import LLMSettings
    from activelab.studio.project import ProjectConfig

    config = ProjectConfig(directory=tmp_path, name="p", labels=("a", "b"))
    assert LLMSettings.from_config(config) == LLMSettings()
