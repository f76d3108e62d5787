"""Router: the human/LLM split by threshold and by budget share, escalation of items the
LLM cannot label, the human budget, the record of who labelled what at what cost."""

from __future__ import annotations

import numpy as np
import pytest

import activelab as al
from activelab.oracles import (
    CostBudget,
    LLMOracle,
    NoisyOracle,
    RecordingOracle,
    Router,
    SimulatedOracle,
)
from tests.oracles.fake_llm import FakeLLM, serve

LABELS = ["cats", "dogs", "birds"]


class Counting(SimulatedOracle):
    """A simulated oracle that remembers what it was asked."""

    def __init__(self, y, **kw):
        super().__init__(y, **kw)
        self.asked: list[int] = []

    def label(self, indices):
        self.asked.extend(np.asarray(indices).tolist())
        return super().label(indices)


@pytest.fixture
def crowd():
    y = np.arange(100) % 3
    return y, Counting(y), Counting(y)


def test_fraction_routes_the_most_uncertain_and_carries_remainders(crowd):
    y, human, llm = crowd
    scores = np.random.default_rng(0).random(100)
    router = Router(
        human, llm, human_fraction=0.3, uncertainty=lambda idx: scores[idx], random_state=0
    )
    for start in range(0, 70, 7):
        batch = np.arange(start, start + 7)
        answers = router.label(batch)
        assert answers.indices.tolist() == batch.tolist()
        np.testing.assert_array_equal(answers.labels, y[batch])
    assert len(human.asked) == 21  # exactly 30 % of 70, though 30 % of 7 is 2.1
    assert len(llm.asked) == 49 and not set(human.asked) & set(llm.asked)
    # Within each batch, the human's items are the most uncertain ones.
    for start in range(0, 70, 7):
        batch = set(range(start, start + 7))
        mine = [i for i in human.asked if i in batch]
        others = [i for i in llm.asked if i in batch]
        assert min(scores[mine]) > max(scores[others])


def test_threshold_routes_items_above_it(crowd):
    _, human, llm = crowd
    scores = np.linspace(0, 1, 100)
    router = Router(human, llm, threshold=0.75, uncertainty=lambda idx: scores[idx])
    router.label(np.arange(100))
    assert sorted(human.asked) == np.flatnonzero(scores > 0.75).tolist()
    indices, who = router.assignments()
    np.testing.assert_array_equal(who[indices > 75], "human")
    np.testing.assert_array_equal(who[indices <= 74], "llm")


def test_costs_are_recorded_per_label_and_summed(crowd):
    _, human, llm = crowd
    router = Router(
        human,
        llm,
        human_fraction=0.25,
        uncertainty=lambda idx: idx * 1.0,
        human_cost=2.0,
        llm_cost=0.1,
    )
    first = router.label(np.arange(8))
    second = router.label(np.arange(8, 20))
    summary = router.summary()
    assert summary["human"] == {"labels": 5, "asked": 5, "cost": 10.0}
    assert summary["llm"]["labels"] == 15 and summary["llm"]["cost"] == pytest.approx(1.5)
    assert first.cost == pytest.approx(2 * 2.0 + 6 * 0.1)
    assert first.cost + second.cost == pytest.approx(router.total_cost)
    record = router.records[0]
    assert (record.round, record.annotator, record.final) in {(0, "llm", True), (0, "human", True)}
    assert {r.round for r in router.records} == {0, 1}


def test_the_human_budget_caps_what_the_human_costs(crowd):
    _, human, llm = crowd
    router = Router(
        human,
        llm,
        human_fraction=0.5,
        human_budget=7.0,
        human_cost=2.0,
        llm_cost=0.0,
        uncertainty=lambda idx: idx * 1.0,
    )
    for start in range(0, 40, 10):
        router.label(np.arange(start, start + 10))
    assert len(human.asked) == 3  # 3 labels at 2.0 fit in 7.0
    assert router.summary()["human"]["cost"] <= 7.0
    assert len(llm.asked) == 37


def test_items_the_llm_skips_go_to_the_human(crowd):
    y, human, _ = crowd
    lazy = SimulatedOracle(y, skip_rate=0.5, random_state=0)
    router = Router(human, lazy, human_fraction=0.0, uncertainty=lambda idx: idx * 0.0)
    answers = router.label(np.arange(40))
    assert answers.skipped.size == 0 and answers.indices.size == 40
    np.testing.assert_array_equal(answers.labels, y[answers.indices])
    escalated = [r.index for r in router.records if r.annotator == "human"]
    assert len(escalated) == len(human.asked) > 5
    assert all(
        r.label is None for r in router.records if r.annotator == "llm" and r.index in escalated
    )


def test_routing_by_the_llms_confidence(tmp_path):
    pytest.importorskip("httpx", reason="the llm extra (httpx) is not installed")
    truth = {f"note {i}": LABELS[i % 3] for i in range(60)}
    fake = FakeLLM(LABELS, truth=truth, error_rate=0.3, seed=4)
    texts = list(truth)
    y = np.array([truth[t] for t in texts])
    human = Counting(y)
    with serve(fake) as url:
        llm = LLMOracle(
            texts, LABELS, base_url=url, model="m", price_prompt=1.0, price_completion=1.0
        )
        router = Router(human, llm, threshold=0.5, human_cost=1.0)
        answers = router.label(np.arange(60))
    hard = np.array([fake.is_hard(t) for t in texts])
    # Hard items get probability 1/3 (uncertainty 2/3 > 0.5): all to the human.
    assert sorted(human.asked) == np.flatnonzero(hard).tolist()
    np.testing.assert_array_equal(answers.labels, y)  # easy items are right, hard ones human
    assert router.summary()["llm"]["cost"] == pytest.approx(llm.total_cost)
    assert router.summary()["llm"]["asked"] == 60
    np.testing.assert_array_equal(np.isnan(answers.confidence), hard)


def test_human_labels_become_few_shot_examples(tmp_path):
    pytest.importorskip("httpx", reason="the llm extra (httpx) is not installed")
    truth = {f"post {i}": LABELS[i % 3] for i in range(12)}
    fake = FakeLLM(LABELS, truth=truth)
    texts = list(truth)
    y = np.array([truth[t] for t in texts])
    with serve(fake) as url:
        llm = LLMOracle(texts, LABELS, base_url=url, model="m", n_examples=3)
        router = Router(
            SimulatedOracle(y), llm, human_fraction=0.5, uncertainty=lambda idx: -idx * 1.0
        )  # the first ones to the human
        router.label(np.arange(6))
        shown_before = max(len(b["messages"]) for b in fake.requests)
        router.label(np.arange(6, 12))
        later = fake.requests[-1]["messages"]
    assert shown_before == 2  # nothing to show yet
    assert len(later) == 2 + 2 * 3
    assert {m["content"] for m in later[1:-1:2]} <= {f"Text: post {i}" for i in range(3)}


def test_an_llm_without_confidence_needs_an_uncertainty(crowd):
    _, human, llm = crowd
    router = Router(human, llm, threshold=0.5)
    with pytest.raises(ValueError, match="confidence"):
        router.label(np.arange(5))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({}, ValueError, "exactly one of threshold"),
        ({"threshold": 0.5, "human_fraction": 0.1}, ValueError, "exactly one"),
        ({"human_fraction": 1.5}, ValueError, r"human_fraction must be in \[0, 1\]"),
        ({"threshold": float("nan")}, ValueError, "finite"),
        ({"threshold": 0.5, "human_budget": 3.0, "human_cost": None}, ValueError, "human_cost"),
        ({"threshold": 0.5, "llm_cost": -1.0}, ValueError, "llm_cost"),
        ({"threshold": 0.5, "uncertainty": 3}, TypeError, "callable"),
    ],
)
def test_bad_router_arguments(crowd, params, error, message):
    _, human, llm = crowd
    with pytest.raises(error, match=message):
        Router(human, llm, **params)


def test_uncertainty_of_the_wrong_shape_is_an_error(crowd):
    _, human, llm = crowd
    router = Router(human, llm, threshold=0.5, uncertainty=lambda idx: np.zeros(2))
    with pytest.raises(ValueError, match="one score per index"):
        router.label(np.arange(5))


def test_router_in_simulate_with_a_cost_budget(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    human = SimulatedOracle(y)
    llm = NoisyOracle(y, noise=0.2, random_state=0)
    router = Router(
        human,
        llm,
        human_fraction=0.2,
        human_cost=1.0,
        llm_cost=0.05,
        uncertainty=lambda idx: np.random.default_rng(int(idx.sum())).random(idx.size),
    )
    result = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X,
        y,
        initial=9,
        batch_size=10,
        budget=100,
        oracle=router,
        stopping=CostBudget(router, 8.0),
    )
    assert result.stopped_by and "cost budget of 8 spent" in result.stopped_by
    assert 8.0 <= router.total_cost < 8.0 + 10 * 1.0
    assert result.history[-1].n_labeled < 100


def test_cost_budget_needs_a_cost():
    with pytest.raises(TypeError, match="total_cost"):
        CostBudget(SimulatedOracle([0, 1]), 1.0)
    with pytest.raises(ValueError, match="max_cost"):
        CostBudget(RecordingOracle(SimulatedOracle([0, 1])), 0.0)
