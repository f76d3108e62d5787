"""The Label Studio ML backend: config parsing, scores, the protocol's JSON, a real server.

The JSON shapes follow HumanSignal/label-studio-ml-backend's ``label_studio_ml/api.py``
(routes, status codes, basic auth) and Label Studio's webhook payloads
(``docs/source/guide/webhook_reference.md``).
"""

from __future__ import annotations

import base64
import math
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx
from fastapi.testclient import TestClient

from activelab.studio import labelstudio as ls

CONFIG = """<View>
  <Header value="Is the review positive?"/>
  <Text name="text" value="$review"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="pos"/>
    <Choice value="neg"/>
  </Choices>
</View>"""

POSITIVE = [
    "good great lovely film",
    "great acting lovely story",
    "lovely good fun",
    "good fun great cast",
]
NEGATIVE = [
    "awful boring bad film",
    "bad acting awful story",
    "boring bad mess",
    "awful mess bad cast",
]
AMBIGUOUS = "good bad"
TEXTS = [*POSITIVE, *NEGATIVE, AMBIGUOUS, "great awful lovely boring film story"]
LABELS = ["pos"] * 4 + ["neg"] * 4
PREDICTION_KEYS = {"result", "score", "model_version", "cluster"}


def tasks(texts: list[str], start: int = 0) -> list[dict[str, Any]]:
    return [{"id": start + i, "data": {"review": text}, "meta": {}} for i, text in enumerate(texts)]


def annotation_event(
    annotation_id: int,
    task_id: int,
    text: str | None,
    label: str,
    action: str = "ANNOTATION_CREATED",
    **extra: Any,
) -> dict[str, Any]:
    """A webhook body as Label Studio 1.x sends it (annotation, its task, the project)."""
    body: dict[str, Any] = {
        "action": action,
        "annotation": {
            "id": annotation_id,
            "task": task_id,
            "result": [
                {
                    "id": "a1b2",
                    "from_name": "sentiment",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            ],
            "was_cancelled": False,
            "ground_truth": False,
            "lead_time": 3.2,
            "completed_by": 1,
            **extra,
        },
        "project": {"id": 1, "title": "reviews", "label_config": CONFIG},
    }
    if text is not None:
        body["task"] = {"id": task_id, "data": {"review": text}}
    return body


def label_all(client: TestClient, texts: list[str], labels: list[str]) -> None:
    """Annotations 100, 101, … of tasks 0, 1, … in one bulk ANNOTATIONS_CREATED event."""
    events = [
        annotation_event(100 + i, i, text, label)
        for i, (text, label) in enumerate(zip(texts, labels, strict=True))
    ]
    bulk = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [event["annotation"] for event in events],
        "task": [event["task"] for event in events],
        "project": events[0]["project"],
    }
    response = client.post("/webhook", json=bulk)
    assert response.status_code == 201, response.text
    assert response.json()["result"]["changed"] == len(texts)


def predict(client: TestClient, texts: list[str], project: str = "1.1700000000") -> dict:
    response = client.post(
        "/predict",
        json={
            "tasks": tasks(texts),
            "project": project,
            "label_config": CONFIG,
            "params": {"login": None, "password": None, "context": None},
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def check_prediction_shape(prediction: dict[str, Any], version: str) -> None:
    """One element of ``results``, field by field against the protocol."""
    assert set(prediction) <= PREDICTION_KEYS
    assert {"result", "score", "model_version"} <= set(prediction)
    assert isinstance(prediction["result"], list)
    assert isinstance(prediction["score"], float)
    assert 0.0 <= prediction["score"] <= 1.0
    assert prediction["model_version"] == version
    if "cluster" in prediction:
        assert isinstance(prediction["cluster"], int)
    for region in prediction["result"]:
        assert set(region) == {"from_name", "to_name", "type", "value", "score"}
        assert region["from_name"] == "sentiment"
        assert region["to_name"] == "text"
        assert region["type"] == "choices"
        assert set(region["value"]) == {"choices"}
        assert len(region["value"]["choices"]) == 1
        assert region["value"]["choices"][0] in ("pos", "neg")
        assert 0.5 <= region["score"] <= 1.0


@pytest.fixture
def client() -> TestClient:
    return TestClient(ls.create_ml_backend(background=False))


def reference_model(texts: list[str], labels: list[str]) -> Any:
    return ls.default_text_model().fit(texts, labels)


# ---------------------------------------------------------------------- labelling config


def test_parse_label_config_finds_control_object_key_and_labels() -> None:
    config = ls.parse_label_config(CONFIG)
    assert config == ls.LabelConfig("sentiment", "text", "Text", "review", ("pos", "neg"))


def test_parse_label_config_uses_alias_and_lowercase_tags() -> None:
    xml = (
        '<View><hypertext name="page" value="$html"/><choices name="c" toName="page">'
        '<choice value="Positive" alias="pos"/><choice value="Negative"/></choices></View>'
    )
    config = ls.parse_label_config(xml)
    assert (config.object_tag, config.value_key, config.labels) == (
        "HyperText",
        "html",
        ("pos", "Negative"),
    )


def test_parse_label_config_reads_image_objects_and_trailing_comments() -> None:
    xml = (
        '<View><Image name="img" value="$image"/><Choices name="kind" toName="img">'
        '<Choice value="cat"/><Choice value="dog"/></Choices></View><!-- {"data": {}} -->'
    )
    config = ls.parse_label_config(xml)
    assert (config.to_name, config.object_tag, config.value_key) == ("img", "Image", "image")


def test_parse_label_config_picks_among_several_choices_by_from_name() -> None:
    xml = (
        '<View><Text name="t" value="$text"/>'
        '<Choices name="topic" toName="t"><Choice value="x"/></Choices>'
        '<Choices name="tone" toName="t"><Choice value="calm"/><Choice value="angry"/>'
        "</Choices></View>"
    )
    with pytest.raises(ValueError, match=r"several <Choices>.*from_name"):
        ls.parse_label_config(xml)
    assert ls.parse_label_config(xml, from_name="tone").labels == ("calm", "angry")
    with pytest.raises(ValueError, match=r"no <Choices name='mood'>.*'topic', 'tone'"):
        ls.parse_label_config(xml, from_name="mood")


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("", "empty"),
        ("<View><Text", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><View/>', "DOCTYPE or an ENTITY"),
        ('<View><Text name="t" value="$t"/></View>', "no <Choices>"),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t" choice="multiple">'
            '<Choice value="a"/></Choices></View>',
            "multi-label",
        ),
        ('<View><Choices name="c" toName="t"><Choice value="a"/></Choices></View>', "no tag"),
        (
            '<View><Text name="t" value="static"/><Choices name="c" toName="t">'
            '<Choice value="a"/></Choices></View>',
            "must read task data",
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t" value="$options"/>'
            "</View>",
            "lists no <Choice",
        ),
        (
            '<View><Audio name="t" value="$a"/><Choices name="c" toName="t">'
            '<Choice value="a"/></Choices></View>',
            "not an object the ML backend reads",
        ),
    ],
)
def test_parse_label_config_says_what_is_wrong(xml: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ls.parse_label_config(xml)


# ------------------------------------------------------------------------------ the maths


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=30),
    st.lists(st.integers(-1, 7), min_size=1, max_size=10),
)
def test_mid_rank_is_the_brute_force_mid_rank(reference: list[int], values: list[int]) -> None:
    ref = np.sort(np.array(reference, dtype=float))
    got = ls._mid_rank(ref, np.array(values, dtype=float))
    expected = [
        (sum(r < v for r in reference) + 0.5 * sum(r == v for r in reference)) / len(reference)
        for v in values
    ]
    np.testing.assert_allclose(got, expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_bounded_priorities_divide_by_the_maximum_utility(n_classes: int, seed: int) -> None:
    proba = np.random.default_rng(seed).dirichlet(np.ones(n_classes), size=7)
    top = np.sort(proba, axis=1)[:, ::-1]
    margin = ls._utility_priority(1 - (top[:, 0] - top[:, 1]), "margin", n_classes, None)
    np.testing.assert_allclose(1 - margin, top[:, 0] - top[:, 1], atol=1e-12)
    entropy = -(proba * np.log(proba)).sum(axis=1)
    np.testing.assert_allclose(
        ls._utility_priority(entropy, "entropy", n_classes, None), entropy / math.log(n_classes)
    )
    least = 1 - top[:, 0]
    np.testing.assert_allclose(
        ls._utility_priority(least, "least_confidence", n_classes, None),
        least / (1 - 1 / n_classes),
    )
    uniform = np.full((1, n_classes), 1 / n_classes)
    assert ls._utility_priority(
        -(uniform * np.log(uniform)).sum(axis=1), "entropy", n_classes, None
    ) == pytest.approx([1.0])


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_typicality_is_the_brute_force_mean_distance_past_the_nearest(
    n_points: int, n_neighbors: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n_points, 3)).astype(np.float32)
    queries = np.vstack([points[:2], rng.normal(size=(3, 3)).astype(np.float32)])
    got = ls._typicality(queries, points, n_neighbors)
    k = max(1, min(n_neighbors, (n_points - 1) // 2))
    for query, value in zip(queries.astype(np.float64), got, strict=True):
        distances = np.sort(np.linalg.norm(points.astype(np.float64) - query, axis=1))
        assert value == pytest.approx(1 / distances[1 : k + 1].mean(), rel=1e-3)


def test_unbounded_utilities_are_mid_ranked_against_the_reference() -> None:
    reference = np.array([0.1, 0.2, 0.2, 0.9])
    got = ls._utility_priority(np.array([0.0, 0.2, 1.5]), "bald", 3, reference)
    np.testing.assert_allclose(got, [0.0, (1 + 3) / 8, 1.0])


def test_annotation_changes_read_the_choice_and_drop_cancelled_or_foreign_results() -> None:
    config = ls.parse_label_config(CONFIG)
    body = {
        "annotations": [
            {
                "id": 1,
                "task": 7,
                "result": [
                    {"from_name": "sentiment", "type": "choices", "value": {"choices": ["neg"]}}
                ],
            },
            {"id": 2, "task": 7, "was_cancelled": True, "result": []},
            {
                "id": 3,
                "task": 7,
                "result": [
                    {"from_name": "other", "type": "choices", "value": {"choices": ["pos"]}}
                ],
            },
            {
                "id": 4,
                "task": 8,
                "result": [
                    {"from_name": "sentiment", "type": "choices", "value": {"choices": ["meh"]}}
                ],
            },
            {
                "id": 5,
                "task": 9,
                "result": [
                    {"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"]}}
                ],
            },
        ],
        "task": {"id": 7, "data": {"review": "so bad"}},
    }
    skipped: list[str] = []
    upserts, drops = ls._annotation_changes(body, config, {"9": "seen by predict"}, skipped)
    assert upserts == {
        "1": ls._Label("7", "so bad", "neg"),
        "5": ls._Label("9", "seen by predict", "pos"),
    }
    assert drops == ["2", "3", "4"]
    assert skipped == ["annotation 4: 'meh' is not a label of the config"]
    skipped.clear()
    upserts, _ = ls._annotation_changes(
        {"annotation": {"id": 6, "task": 10, "result": body["annotations"][0]["result"]}},
        config,
        {},
        skipped,
    )
    assert upserts == {}
    assert "the text of task 10 is unknown" in skipped[0]


# -------------------------------------------------------------------------- the protocol


def test_health_and_root_answer_up_with_the_model_class(client: TestClient) -> None:
    for path in ("/health", "/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "UP", "model_class": "activelab-margin"}
    assert client.get("/metrics").json() == {}


def test_setup_returns_only_the_model_version(client: TestClient) -> None:
    response = client.post(
        "/setup",
        json={
            "project": "1.1700000000",
            "schema": CONFIG,
            "hostname": "http://localhost:8080",
            "access_token": "token",
            "extra_params": None,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"model_version"}
    assert body["model_version"].startswith("activelab-margin-cold-v")


def test_setup_with_a_bad_config_answers_422_with_the_sdk_error_shape(client) -> None:
    response = client.post("/setup", json={"project": "1.1", "schema": "<View/>"})
    assert response.status_code == 422
    assert response.json() == {
        "status": 422,
        "detail": "the labelling config has no <Choices> control; the ML backend classifies, "
        'e.g. <Choices name="label" toName="text"><Choice value="a"/>…</Choices>.',
    }


def test_predict_without_any_config_says_how_to_give_one(client: TestClient) -> None:
    response = client.post("/predict", json={"tasks": tasks(["x"]), "project": "3.1"})
    assert response.status_code == 422
    assert "--labels" in response.json()["detail"]
    response = client.post("/predict", json={"tasks": "nope", "label_config": CONFIG})
    assert response.status_code == 400


def test_cold_start_scores_typical_items_first_and_never_pre_annotates() -> None:
    texts = [
        "red apple fruit sweet",
        "red apple fruit juice",
        "green apple fruit sweet",
        "red apple fruit pie",
        "green apple fruit tart",
        "ripe apple fruit basket",
        "fast car engine road",
        "fast car engine race",
        "fast red car engine",
        "fast car engine fuel",
        "old car engine repair",
        "fast car engine oil",
        "quantum zebra telescope orbit nebula",
    ]
    client = TestClient(ls.create_ml_backend(background=False, n_clusters=3))
    body = predict(client, texts)
    assert set(body) == {"results", "model_version"}
    version = body["model_version"]
    assert "-cold-" in version
    results = body["results"]
    assert len(results) == len(texts)
    for prediction in results:
        check_prediction_shape(prediction, version)
        assert prediction["result"] == []
    scores = [prediction["score"] for prediction in results]
    assert int(np.argmax(scores)) == 12  # the outlier is served last
    # score = 1 - priority, the mid-rank of the typicality among the pool sample's
    summary = client.app.state.backend._projects["1"].version.pool
    features = ls._text_features(texts)
    typicality = ls._typicality(features, summary.points, 20)
    np.testing.assert_allclose(scores, 1 - ls._mid_rank(summary.typicality, typicality))
    # cluster = the nearest of the version's k-means centres (at most sqrt(13 / 2) ~ 3)
    assert summary.centres.shape[0] == 3
    assert [p["cluster"] for p in results] == summary.clusters(features).tolist()


def test_pool_summary_clusters_separate_topics() -> None:
    texts = ["red apple fruit"] * 6 + ["fast car engine"] * 6 + ["quantum zebra"]
    summary = ls._summarise(texts, 8, np.random.default_rng(0))
    clusters = summary.clusters(ls._text_features(texts)).tolist()
    assert clusters[:6] == [clusters[0]] * 6
    assert clusters[6:12] == [clusters[6]] * 6
    assert len({clusters[0], clusters[6], clusters[12]}) == 3
    np.testing.assert_array_equal(summary.typicality, np.sort(summary.typicality))


def test_full_sequence_trains_on_webhooks_and_ranks_the_most_uncertain_first(
    client: TestClient,
) -> None:
    setup = client.post("/setup", json={"project": "1.1700000000", "schema": CONFIG}).json()
    cold = predict(client, TEXTS)
    assert all(prediction["result"] == [] for prediction in cold["results"])

    for i, (text, label) in enumerate(zip(TEXTS[:8], LABELS, strict=True)):
        response = client.post("/webhook", json=annotation_event(100 + i, i, text, label))
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"result", "status"}
        assert body["status"] == "ok"
        assert body["result"]["labelled"] == i + 1
        assert body["result"]["changed"] == 1

    trained = predict(client, TEXTS)
    version = trained["model_version"]
    assert version not in (setup["model_version"], cold["model_version"])
    assert "-cold-" not in version
    assert client.post("/setup", json={"project": "1.1", "schema": CONFIG}).json() == {
        "model_version": version
    }
    results = trained["results"]
    assert len(results) == len(TEXTS)
    model = reference_model(TEXTS[:8], LABELS)
    proba = model.predict_proba(TEXTS)
    for i, prediction in enumerate(results):  # in task order, each scored p1 - p2
        check_prediction_shape(prediction, version)
        top = np.sort(proba[i])[::-1]
        (region,) = prediction["result"]
        assert region["value"]["choices"] == [model.classes_[np.argmax(proba[i])]]
        assert region["score"] == pytest.approx(top[0], abs=1e-9)
        assert prediction["score"] == pytest.approx(top[0] - top[1], abs=1e-9)
    scores = [prediction["score"] for prediction in results]
    margins = np.abs(proba[:, 0] - proba[:, 1])
    assert int(np.argmin(scores)) == int(np.argmin(margins))
    assert TEXTS[int(np.argmin(scores))] in (AMBIGUOUS, TEXTS[-1])
    assert all(results[i]["result"][0]["value"]["choices"] == ["pos"] for i in range(4))
    assert all(results[i]["result"][0]["value"]["choices"] == ["neg"] for i in range(4, 8))


def test_unknown_events_get_200_and_a_missing_action_400(client: TestClient) -> None:
    for action in ("PROJECT_UPDATED", "TASKS_CREATED", "REVIEW_CREATED"):
        response = client.post("/webhook", json={"action": action, "project": {"id": 1}})
        assert response.status_code == 200
        assert response.json() == {"status": "Unknown event"}
    response = client.post("/webhook", json={"project": {"id": 1}})
    assert response.status_code == 400
    assert set(response.json()) == {"status", "detail"}


def test_updates_deletions_and_cancellations_change_the_labelled_set(client) -> None:
    label_all(client, TEXTS[:8], LABELS)
    first = predict(client, TEXTS)["model_version"]

    same = client.post(
        "/webhook", json=annotation_event(100, 0, TEXTS[0], "pos", "ANNOTATION_UPDATED")
    ).json()
    assert same["result"]["changed"] == 0
    assert same["result"]["training"].startswith("not needed")
    assert predict(client, TEXTS)["model_version"] == first

    flipped = client.post(
        "/webhook", json=annotation_event(100, 0, TEXTS[0], "neg", "ANNOTATION_UPDATED")
    ).json()
    assert flipped["result"]["changed"] == 1
    second = predict(client, TEXTS)["model_version"]
    assert second != first

    # Label Studio sends ANNOTATIONS_DELETED with ids only
    deleted = client.post(
        "/webhook",
        json={
            "action": "ANNOTATIONS_DELETED",
            "annotations": [{"id": 101}, {"id": 102}],
            "project": {"id": 1, "label_config": CONFIG},
        },
    ).json()
    assert deleted["result"]["labelled"] == 6
    cancelled = client.post(
        "/webhook", json=annotation_event(103, 3, TEXTS[3], "pos", was_cancelled=True)
    ).json()
    assert cancelled["result"]["labelled"] == 5
    assert predict(client, TEXTS)["model_version"] not in (first, second)


def test_withdrawing_a_class_goes_back_to_cold_start(client: TestClient) -> None:
    label_all(client, TEXTS[:2], ["pos", "neg"])
    assert predict(client, TEXTS)["results"][0]["result"] != []
    response = client.post(
        "/webhook",
        json={
            "action": "ANNOTATION_DELETED",
            "annotation": {"id": 101},
            "project": {"id": 1, "label_config": CONFIG},
        },
    )
    assert response.status_code == 201
    assert response.json()["result"]["training"].startswith("waiting")
    body = predict(client, TEXTS)
    assert "-cold-" in body["model_version"]
    assert all(prediction["result"] == [] for prediction in body["results"])


def test_start_training_retrains_and_bumps_the_version(client: TestClient) -> None:
    label_all(client, TEXTS[:8], LABELS)
    before = predict(client, TEXTS)["model_version"]
    response = client.post(
        "/webhook",
        json={"action": "START_TRAINING", "project": {"id": 1, "label_config": CONFIG}},
    )
    assert response.status_code == 201
    assert response.json()["status"] == "ok"
    assert response.json()["result"]["model_version"] != before
    assert predict(client, TEXTS)["model_version"] == response.json()["result"]["model_version"]


def test_annotation_without_task_data_uses_the_text_seen_by_predict(client) -> None:
    predict(client, TEXTS)
    for i, label in enumerate(LABELS):
        body = client.post("/webhook", json=annotation_event(100 + i, i, None, label)).json()
        assert body["result"]["skipped"] == []
    assert body["result"]["labelled"] == 8
    unknown = client.post("/webhook", json=annotation_event(999, 999, None, "pos")).json()
    assert unknown["result"]["labelled"] == 8
    assert "task 999 is unknown" in unknown["result"]["skipped"][0]


def test_legacy_train_replaces_the_labelled_set(client: TestClient) -> None:
    response = client.post("/train", json={"annotations": [], "project": "1.1"})
    assert response.status_code == 400
    label_all(client, TEXTS[:8], LABELS)
    annotated = [
        {
            "id": i,
            "data": {"review": TEXTS[i]},
            "annotations": [
                {
                    "id": 500 + i,
                    "result": annotation_event(0, i, None, label)["annotation"]["result"],
                }
            ],
        }
        for i, label in zip(range(0, 8, 2), LABELS[0:8:2], strict=True)
    ]
    response = client.post(
        "/train",
        json={"annotations": annotated, "project": "1.1", "label_config": CONFIG, "params": {}},
    )
    assert response.status_code == 201
    assert response.json()["status"] == "ok"
    assert response.json()["result"]["labelled"] == 4
    labelled = client.app.state.backend._projects["1"].labels
    assert sorted(labelled) == ["500", "502", "504", "506"]


def test_projects_are_kept_apart(client: TestClient) -> None:
    label_all(client, TEXTS[:8], LABELS)
    other = predict(client, TEXTS, project="2.1700000000")
    assert "-cold-" in other["model_version"]
    assert predict(client, TEXTS)["results"][0]["result"] != []


def test_a_task_without_its_text_still_gets_a_prediction_in_place(client) -> None:
    label_all(client, TEXTS[:8], LABELS)
    batch = [*tasks(TEXTS[:2]), {"id": 77, "data": {"other": "x"}}, *tasks(TEXTS[2:3], 2)]
    body = client.post(
        "/predict", json={"tasks": batch, "label_config": CONFIG, "project": "1.1"}
    ).json()
    assert len(body["results"]) == 4
    assert body["results"][2] == {
        "result": [],
        "score": 1.0,
        "model_version": body["model_version"],
    }
    assert body["results"][3]["result"][0]["value"]["choices"] == ["pos"]


def test_entropy_strategy_scores_one_minus_normalised_entropy() -> None:
    client = TestClient(ls.create_ml_backend(strategy="entropy", background=False))
    label_all(client, TEXTS[:8], LABELS)
    body = predict(client, TEXTS)
    proba = reference_model(TEXTS[:8], LABELS).predict_proba(TEXTS)
    entropy = -(proba * np.log(proba)).sum(axis=1)
    np.testing.assert_allclose(
        [prediction["score"] for prediction in body["results"]],
        1 - entropy / math.log(2),
        atol=1e-9,
    )


def test_committee_strategy_scores_by_rank_against_the_pool() -> None:
    from activelab.models import Committee

    def committee() -> Any:
        return Committee.bagging(ls.default_text_model(), n_members=4, random_state=0)

    client = TestClient(
        ls.create_ml_backend(model_factory=committee, strategy="vote_entropy", background=False)
    )
    predict(client, TEXTS)
    label_all(client, TEXTS[:8], LABELS)
    body = predict(client, TEXTS)
    version = client.app.state.backend._projects["1"].version
    assert version.reference is not None
    utilities = ls._score_strategy("vote_entropy").utilities(version.model, TEXTS)
    np.testing.assert_allclose(
        [prediction["score"] for prediction in body["results"]],
        1 - ls._mid_rank(version.reference, utilities),
    )


class _Fragile:
    """A classifier that fits, but fails on the text "boom" (or on everything)."""

    def __init__(self, always: bool = False) -> None:
        self.always = always

    def fit(self, X: list[str], y: list[str]) -> _Fragile:
        self.model_ = ls.default_text_model().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: list[str]) -> np.ndarray:
        if self.always or "boom" in X:
            raise RuntimeError("the model broke")
        return self.model_.predict_proba(X)


def test_a_failed_retrain_keeps_the_version_and_says_why() -> None:
    client = TestClient(
        ls.create_ml_backend(model_factory=lambda: _Fragile(always=True), background=False)
    )
    before = predict(client, TEXTS)["model_version"]
    label_all(client, TEXTS[:8], LABELS)
    body = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 1}}).json()
    assert body["result"]["last_training"] == "training failed: RuntimeError: the model broke"
    assert body["result"]["model_version"] == before
    assert predict(client, TEXTS)["model_version"] == before


def test_an_unexpected_error_answers_500_in_the_sdk_shape() -> None:
    app = ls.create_ml_backend(model_factory=_Fragile, background=False)
    client = TestClient(app, raise_server_exceptions=False)
    label_all(client, TEXTS[:8], LABELS)
    response = client.post(
        "/predict", json={"tasks": tasks(["boom"]), "label_config": CONFIG, "project": "1.1"}
    )
    assert response.status_code == 500
    assert response.json() == {"status": 500, "detail": "RuntimeError: the model broke"}


def test_batch_strategies_and_bad_auth_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"scores each item.*margin"):
        ls.create_ml_backend(strategy="coreset")
    with pytest.raises(ValueError, match="user:password"):
        ls.create_ml_backend(basic_auth="nopassword")
    with pytest.raises(ValueError, match="at least 1"):
        ls.create_ml_backend(n_clusters=0)
    with pytest.raises(TypeError, match="list of strings"):
        ls.create_ml_backend(labels="pos,neg")


def test_image_projects_need_a_model_factory(client: TestClient) -> None:
    xml = (
        '<View><Image name="img" value="$image"/><Choices name="kind" toName="img">'
        '<Choice value="cat"/><Choice value="dog"/></Choices></View>'
    )
    response = client.post("/setup", json={"project": "4.1", "schema": xml})
    assert response.status_code == 422
    assert "model_factory" in response.json()["detail"]


def test_default_labels_stand_in_for_a_missing_config() -> None:
    client = TestClient(ls.create_ml_backend(labels=["pos", "neg"], background=False))
    data = [{"id": i, "data": {"text": text}} for i, text in enumerate(TEXTS)]
    body = client.post("/predict", json={"tasks": data}).json()
    assert len(body["results"]) == len(TEXTS)


# ---------------------------------------------------------------------------- basic auth


def auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth_guards_every_route() -> None:
    client = TestClient(ls.create_ml_backend(basic_auth="ls:s3cret", background=False))
    calls = [
        ("GET", "/health", None),
        ("GET", "/", None),
        ("GET", "/metrics", None),
        ("POST", "/setup", {"project": "1.1", "schema": CONFIG}),
        ("POST", "/predict", {"tasks": tasks(TEXTS[:2]), "label_config": CONFIG}),
        ("POST", "/webhook", {"action": "PROJECT_UPDATED"}),
        ("POST", "/train", {"annotations": []}),
        ("GET", "/docs", None),
    ]
    bad_headers = [
        {},
        auth_header("ls", "wrong"),
        auth_header("other", "s3cret"),
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Bearer s3cret"},
    ]
    for method, path, body in calls:
        for headers in bad_headers:
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Login required"'
        response = client.request(method, path, json=body, headers=auth_header("ls", "s3cret"))
        assert response.status_code in (200, 400), (path, response.text)


# --------------------------------------------------------------------------- persistence


def test_model_dir_keeps_labels_and_versions_across_restarts(tmp_path: Path) -> None:
    with TestClient(ls.create_ml_backend(model_dir=tmp_path, background=False)) as client:
        client.post("/setup", json={"project": "1.1", "schema": CONFIG})
        label_all(client, TEXTS[:8], LABELS)
        before = predict(client, TEXTS)
    assert (tmp_path / "labelstudio.db").exists()
    number = int(before["model_version"].rsplit("-v", 1)[1])  # no process token
    with TestClient(ls.create_ml_backend(model_dir=tmp_path, background=False)) as client:
        after = predict(client, TEXTS)
        assert client.app.state.backend._projects["1"].config.from_name == "sentiment"
    assert int(after["model_version"].rsplit("-v", 1)[1]) > number
    assert "-cold-" not in after["model_version"]
    for old, new in zip(before["results"], after["results"], strict=True):
        assert new["score"] == pytest.approx(old["score"], abs=1e-9)


def test_versions_of_processes_without_model_dir_never_collide() -> None:
    first = TestClient(ls.create_ml_backend(background=False))
    second = TestClient(ls.create_ml_backend(background=False))
    versions = [
        c.post("/setup", json={"project": "1.1", "schema": CONFIG}).json()["model_version"]
        for c in (first, second)
    ]
    assert versions[0] != versions[1]


def test_background_training_runs_off_the_request_and_coalesces() -> None:
    release = threading.Event()
    fits: list[int] = []

    class Gated(_Fragile):
        def fit(self, X: list[str], y: list[str]) -> Gated:
            fits.append(len(X))
            assert release.wait(timeout=30)  # the first retrain hangs until released
            return super().fit(X, y)

    with TestClient(ls.create_ml_backend(model_factory=Gated)) as client:
        cold = predict(client, TEXTS)["model_version"]
        for i, (text, label) in enumerate(zip(TEXTS[:8], LABELS, strict=True)):
            response = client.post("/webhook", json=annotation_event(100 + i, i, text, label))
            assert response.status_code == 201  # answered while the retrain is blocked
            assert response.json()["result"]["model_version"] == cold
            if i == 4:  # two classes now: the first retrain starts, and hangs
                deadline = time.monotonic() + 30
                while not fits:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
        backend = client.app.state.backend
        assert not backend.wait_idle(timeout=0.2)
        release.set()
        assert backend.wait_idle(timeout=30)
        # the first retrain had labels of two classes (after the 5th event); the events
        # that came while it ran were coalesced into one more retrain on all 8 labels
        assert fits == [5, 8]
        assert backend._projects["1"].status == "trained on 8 labels"
        trained = predict(client, TEXTS)
        assert trained["model_version"].startswith("activelab-margin-v3-")
        assert trained["results"][0]["result"] != []


# --------------------------------------------------------------------------- the CLI


def test_ml_backend_command_serves_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    import uvicorn
    from typer.testing import CliRunner

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    app = typer.Typer()
    app.command()(ls.ml_backend_command)
    result = CliRunner().invoke(
        app,
        ["--port", "9191", "--strategy", "entropy", "--labels", "a,b"],
        env={"BASIC_AUTH_USER": "ls", "BASIC_AUTH_PASS": "pw"},
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9191" in result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 9191)
    client = TestClient(served["app"])
    assert client.get("/health").status_code == 401
    assert client.get("/health", headers=auth_header("ls", "pw")).json()["model_class"] == (
        "activelab-entropy"
    )
    bad = CliRunner().invoke(app, ["--strategy", "coreset"])
    assert bad.exit_code == 2
    assert "scores each item" in bad.output


# ------------------------------------------------------------------- a real HTTP server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_server_full_sequence_over_http() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    port = free_port()
    app = ls.create_ml_backend(basic_auth="ls:s3cret")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        # Label Studio's own client sends auth=(user, password) with requests
        assert httpx.get(f"{base}/health").status_code == 401
        with httpx.Client(base_url=base, auth=("ls", "s3cret"), timeout=30) as http:
            assert http.get("/health").json() == {"status": "UP", "model_class": "activelab-margin"}
            setup = http.post("/setup", json={"project": "1.1700000000", "schema": CONFIG})
            cold = http.post(
                "/predict",
                json={"tasks": tasks(TEXTS), "project": "1.1700000000", "label_config": CONFIG},
            ).json()
            assert [p["result"] for p in cold["results"]] == [[]] * len(TEXTS)
            for i, (text, label) in enumerate(zip(TEXTS[:8], LABELS, strict=True)):
                response = http.post("/webhook", json=annotation_event(100 + i, i, text, label))
                assert response.status_code == 201
                assert response.json()["status"] == "ok"
            version = setup.json()["model_version"]
            while True:  # the retrain runs in the background: ask as Label Studio does
                assert time.monotonic() < deadline + 20, "no retrain"
                current = http.post("/setup", json={"project": "1.1", "schema": CONFIG})
                version = current.json()["model_version"]
                if "-cold-" not in version:
                    break
                time.sleep(0.05)
            assert app.state.backend.wait_idle(timeout=30)
            trained = http.post(
                "/predict", json={"tasks": tasks(TEXTS), "project": "1.1", "label_config": CONFIG}
            ).json()
            final = trained["model_version"]
            assert final != cold["model_version"]
            results = trained["results"]
            assert len(results) == len(TEXTS)
            for prediction in results:
                check_prediction_shape(prediction, final)
            proba = reference_model(TEXTS[:8], LABELS).predict_proba(TEXTS)
            scores = [prediction["score"] for prediction in results]
            np.testing.assert_allclose(scores, np.abs(proba[:, 0] - proba[:, 1]), atol=1e-9)
            assert int(np.argmin(scores)) in (8, 9)  # an ambiguous task is served first
            unknown = http.post("/webhook", json={"action": "LABEL_LINK_CREATED"})
            assert (unknown.status_code, unknown.json()) == (200, {"status": "Unknown event"})
        wrong = httpx.post(f"{base}/predict", json={"tasks": []}, auth=("ls", "nope"))
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == 'Basic realm="Login required"'
    finally:
        server.should_exit = True
        thread.join(timeout=10)
