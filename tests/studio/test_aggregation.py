"""Aggregating overlapping answers in the studio: Dawid–Skene gold labels against majority
vote, annotator accuracies on the agreement endpoint, the gold label in the export, and
a retrain when the aggregation changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from activelab.studio import aggregation, answers, auth, db, queue
from activelab.studio.app import create_app
from activelab.studio.db import Project, read_session, write_session
from activelab.studio.project import read_admin_token

from .conftest import LABELS, bearer, synthetic_texts, truth_of

#: Each simulated annotator's chance of giving the true label (else another, uniformly).
ACCURACY = {"good": 0.95, "mid": 0.6, "bad": 0.2}
N_ITEMS = 90


def planned_label(name: str, text: str, seed: int = 3) -> str:
    """The label annotator ``name`` gives a text: deterministic, right with ACCURACY."""
    index = int(text.rsplit("#", 1)[1])
    rng = np.random.default_rng([seed, index, list(ACCURACY).index(name)])
    truth = truth_of(text)
    if rng.random() < ACCURACY[name]:
        return truth
    others = [label for label in LABELS if label != truth]
    return others[int(rng.integers(len(others)))]


@pytest.fixture
def crowd(make_project):
    """A 90-item project answered in full by three annotators of known accuracy."""
    texts, _ = synthetic_texts(N_ITEMS)
    config = make_project(texts, overlap=3, min_labels=6, retrain_every=1000)
    engine = db.connect(config.url)
    with write_session(engine) as session:
        project_id = session.scalar(select(Project.id))
        people = {
            name: auth.add_annotator(session, project_id, name, "annotator")[0].id
            for name in ACCURACY
        }
    for name, person in people.items():
        for _ in range(N_ITEMS):
            with write_session(engine) as session:
                served = queue.lease_next(session, config, project_id, person)
                answers.record_answer(
                    session,
                    config,
                    project_id,
                    person,
                    item_id=served.item.id,
                    lease_id=served.lease_id,
                    labels=[planned_label(name, served.item.text)],
                    skipped=False,
                    seconds=1.0,
                    idempotency_key=f"{name}-{served.item.id}",
                )
    yield config, engine, project_id
    engine.dispose()


def _texts(engine, project_id):
    with read_session(engine) as session:
        return dict(
            session.execute(
                select(db.Item.id, db.Item.text).where(db.Item.project_id == project_id)
            ).all()
        )


def test_dawid_skene_outweighs_a_bad_annotator_where_majority_follows_it(crowd) -> None:
    _config, engine, project_id = crowd
    texts = _texts(engine, project_id)
    with read_session(engine) as session:
        majority = answers.gold_labels(session, project_id, False, "majority")
        skene = answers.gold_labels(session, project_id, False, "dawid_skene")
        trained = answers.training_labels(session, project_id, False, "dawid_skene")
    assert set(majority) == set(skene) == set(texts)
    truth = {i: truth_of(t) for i, t in texts.items()}
    answers_of = {i: {name: planned_label(name, t) for name in ACCURACY} for i, t in texts.items()}
    # The good annotator is right and the other two agree on a wrong label: outvoted 2 to 1.
    outvoted = [
        i
        for i, given in answers_of.items()
        if given["good"] == truth[i] and given["mid"] == given["bad"] != truth[i]
    ]
    assert len(outvoted) >= 10, "the plan must have items where the good annotator is outvoted"
    assert all(majority[i][0] == (answers_of[i]["bad"],) for i in outvoted)
    # Dawid–Skene weighs the good annotator's answer above the two poor ones.
    assert all(skene[i][0] == (truth[i],) for i in outvoted)
    right = {
        name: np.mean([gold[i][0] == (truth[i],) for i in texts])
        for name, gold in (("majority", majority), ("dawid_skene", skene))
    }
    assert right["dawid_skene"] > right["majority"]
    assert all(0.0 < skene[i][1] <= 1.0 for i in texts)
    assert trained == {i: labels for i, (labels, _) in skene.items()}


def test_the_estimated_accuracies_rank_the_annotators(crowd) -> None:
    _config, engine, project_id = crowd
    with read_session(engine) as session:
        project = session.get(Project, project_id)
        estimates = {row["annotator"]: row for row in answers.annotator_estimates(session, project)}
        shown = answers.agreement(session, project)
    assert (
        estimates["good"]["accuracy"] > estimates["mid"]["accuracy"] > estimates["bad"]["accuracy"]
    )
    for name, rate in ACCURACY.items():
        assert estimates[name]["accuracy"] == pytest.approx(rate, abs=0.1)
        assert estimates[name]["n"] == N_ITEMS
        assert set(estimates[name]["per_class"]) == set(LABELS)
    assert {row["annotator"] for row in shown["annotators"]} == set(ACCURACY)
    assert shown["fleiss"]["n"] == N_ITEMS


def test_the_export_carries_the_gold_label_and_the_trainer_retrains_on_a_change(crowd) -> None:
    config, engine, project_id = crowd
    app = create_app(config, start_trainer=False)
    admin = read_admin_token(config.directory)
    with TestClient(app) as client:
        trainer = app.state.studio.trainer
        assert trainer.step() == "trained"
        assert trainer.step() is None  # nothing new
        changed = client.put(
            "/api/p/proj/settings", headers=bearer(admin), json={"aggregation": "dawid_skene"}
        )
        assert changed.status_code == 200, changed.text
        assert trainer.step() == "trained"  # the labels changed: retrained at once
        rows = [
            json.loads(line)
            for line in client.get(
                "/api/p/proj/export", headers=bearer(admin), params={"format": "jsonl"}
            ).text.splitlines()
        ]
        agreement = client.get("/api/p/proj/agreement", headers=bearer(admin)).json()
    app.state.studio.engine.dispose()
    with read_session(engine) as session:
        skene = answers.gold_labels(session, project_id, False, "dawid_skene")
    assert len(rows) == 3 * N_ITEMS
    assert all(row["aggregation"] == "dawid_skene" for row in rows)
    assert all(row["gold_labels"] == list(skene[row["item_id"]][0]) for row in rows)
    assert all(row["gold_confidence"] == pytest.approx(skene[row["item_id"]][1]) for row in rows)
    assert not any(row["machine"] for row in rows)
    assert len(agreement["annotators"]) == 3


def test_a_reviewed_answer_wins_over_either_aggregation(crowd) -> None:
    _config, engine, project_id = crowd
    with read_session(engine) as session:
        first = session.scalar(select(db.Answer).order_by(db.Answer.id))
    with write_session(engine) as session:
        reviewer = session.scalar(select(db.Annotator.id).where(db.Annotator.name == "admin"))
        answer = session.get(db.Answer, first.id)
        answer.original_labels = list(answer.labels)
        answer.labels = ["mid"]
        answer.reviewed_by = reviewer
    with read_session(engine) as session:
        for method in ("majority", "dawid_skene"):
            gold = answers.gold_labels(session, project_id, False, method)
            assert gold[first.item_id] == (("mid",), 1.0)


def test_gold_labels_refuse_unknown_aggregations_and_multi_label_dawid_skene(crowd) -> None:
    _config, engine, project_id = crowd
    with read_session(engine) as session:
        with pytest.raises(ValueError, match="aggregation must be one of"):
            answers.gold_labels(session, project_id, False, "mean")
        with pytest.raises(ValueError, match="single-label"):
            answers.gold_labels(session, project_id, True, "dawid_skene")


def test_no_overlap_shows_no_accuracy_estimate(make_project) -> None:
    texts, _ = synthetic_texts(6)
    config = make_project(texts)
    engine = db.connect(config.url)
    try:
        with read_session(engine) as session:
            project = session.scalar(select(Project))
            assert answers.agreement(session, project)["annotators"] == []
            assert answers.annotator_estimates(session, project) == []
    finally:
        engine.dispose()


# ------------------------------------------------------------------- the pure functions

votes_strategy = st.dictionaries(
    st.integers(1, 40),
    st.dictionaries(st.integers(1, 6), st.sampled_from(LABELS), min_size=1, max_size=4),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(votes=votes_strategy)
def test_the_answer_table_holds_every_vote_once(votes) -> None:
    items, people, codes = aggregation.answer_table(votes, LABELS)
    assert items.tolist() == sorted(votes)
    assert (codes >= 0).sum() == sum(len(v) for v in votes.values())
    for row, item in enumerate(items.tolist()):
        for column, person in enumerate(people.tolist()):
            expected = votes[item].get(person)
            got = codes[row, column]
            assert (got < 0) if expected is None else LABELS[got] == expected


@settings(max_examples=40, deadline=None)
@given(votes=votes_strategy)
def test_estimates_are_probabilities_and_cover_every_item(votes) -> None:
    result = aggregation.estimate(votes, LABELS)
    assert set(result.gold) == set(votes)
    assert all(label in LABELS and 0.0 < p <= 1.0 for label, p in result.gold.values())
    assert np.allclose(result.confusions.sum(axis=2), 1.0)
    names = {person: f"p{person}" for person in result.annotator_ids.tolist()}
    for row in aggregation.annotator_accuracy(votes, LABELS, names):
        assert 0.0 <= row["accuracy"] <= 1.0
        assert all(0.0 <= p <= 1.0 for p in row["per_class"].values())


def test_unanimous_items_keep_their_label() -> None:
    votes = {i: {1: LABELS[i % 3], 2: LABELS[i % 3], 3: LABELS[i % 3]} for i in range(30)}
    gold = aggregation.dawid_skene_gold(votes, LABELS)
    assert all(gold[i][0] == LABELS[i % 3] and gold[i][1] > 0.99 for i in votes)


def test_an_unknown_label_is_named() -> None:
    with pytest.raises(ValueError, match="'maybe' of item 4"):
        aggregation.answer_table({4: {1: "maybe"}}, LABELS)
    empty = aggregation.estimate({}, LABELS)
    assert empty.gold == {} and empty.confusions.shape == (0, 3, 3)
