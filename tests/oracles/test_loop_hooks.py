"""The oracles inside the loop: cost reported by an oracle reaches Round.cost, the
observe hook binds the current model (Router by the model's uncertainty) and the labels
(LLM few-shot examples), and llm_select chooses the initial set."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import activelab as al
from activelab.oracles import (
    LLMOracle,
    LoopContext,
    MultiAnnotatorOracle,
    NoisyOracle,
    RecordingOracle,
    Router,
    SimulatedOracle,
    simulated_annotators,
)
from activelab.strategies._llm_select import LLMSelect, LLMUnavailableWarning
from tests.oracles.fake_llm import FakeLLM, serve

#: The tests that talk HTTP to the fake server need the llm extra; the others do not.
needs_httpx = pytest.mark.skipif(
    importlib.util.find_spec("httpx") is None, reason="the llm extra (httpx) is not installed"
)

LABELS = ["cats", "dogs", "birds"]
WORDS = {"cats": "purr whisker meow", "dogs": "bark fetch leash", "birds": "wing nest song"}


def corpus(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(LABELS)[rng.integers(0, 3, n)]
    texts = [f"{' '.join(rng.permutation(WORDS[c].split()))} number {i}" for i, c in enumerate(y)]
    return texts, y


def text_model():
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=300))


class Spy(SimulatedOracle):
    """A simulated oracle that remembers what it was asked and what the loop told it."""

    def __init__(self, y, **kw):
        super().__init__(y, **kw)
        self.asked: list[list[int]] = []
        self.contexts: list[LoopContext] = []

    def label(self, indices):
        self.asked.append(np.asarray(indices).tolist())
        return super().label(indices)

    def observe(self, context):
        self.contexts.append(context)


@pytest.fixture(autouse=True)
def no_endpoint_in_the_environment(monkeypatch):
    monkeypatch.delenv("ACTIVELAB_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("ACTIVELAB_LLM_MODEL", raising=False)


# -- cost reported by the oracle reaches the loop -----------------------------------------


@needs_httpx
def test_an_llm_oracles_token_cost_is_the_runs_cost_curve():
    texts, y = corpus()
    fake = FakeLLM(LABELS, truth=dict(zip(texts, y, strict=True)), error_rate=0.2, seed=3)
    with serve(fake) as url:
        oracle = LLMOracle(texts, LABELS, base_url=url, model="m", price_prompt=1.0)
        result = al.simulate(
            text_model(), "margin", texts, y, initial=9, batch_size=9, budget=36, oracle=oracle
        )
    spent, accuracy = result.curve(against="cost")
    per_round = np.array([r.cost for r in oracle.rounds])
    assert per_round.min() > 0
    np.testing.assert_allclose(spent, np.cumsum(per_round))
    assert spent[-1] == pytest.approx(oracle.total_cost)
    assert len(accuracy) == len(result.history)
    assert 0 <= al.loop.aulc(spent, accuracy) <= 1


@needs_httpx
def test_costs_and_the_oracles_cost_are_summed():
    texts, y = corpus(60)
    prices = np.linspace(1.0, 2.0, len(texts))
    fake = FakeLLM(LABELS, truth=dict(zip(texts, y, strict=True)))
    with serve(fake) as url:
        oracle = RecordingOracle(
            LLMOracle(texts, LABELS, base_url=url, model="m", price_completion=10.0)
        )
        result = al.simulate(
            text_model(),
            "margin",
            texts,
            y,
            initial=6,
            batch_size=6,
            budget=24,
            oracle=oracle,
            costs=prices,
        )
    asked = np.concatenate(
        [r.indices for r in result.history] + [r.skipped for r in result.history]
    )
    assert result.history[-1].cost == pytest.approx(prices[asked].sum() + oracle.total_cost)
    assert oracle.total_cost > 0


def test_a_free_recorded_oracle_counts_zero_and_a_plain_one_counts_nothing(iris):
    X, y = iris
    recorded = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X,
        y,
        budget=30,
        oracle=RecordingOracle(SimulatedOracle(y)),
    )
    np.testing.assert_array_equal(recorded.curve(against="cost")[0], 0.0)
    plain = al.simulate(LogisticRegression(max_iter=300), "margin", X, y, budget=30)
    assert np.isnan([r.cost for r in plain.history]).all()
    with pytest.raises(ValueError, match="reports its cost"):
        plain.curve(against="cost")


def test_router_costs_reach_the_curve_and_the_cost_budget(iris):
    X, y = iris
    router = Router(
        SimulatedOracle(y),
        NoisyOracle(y, noise=0.1, random_state=0),
        human_fraction=0.2,
        human_cost=1.0,
        llm_cost=0.1,
        uncertainty="margin",
        random_state=0,
    )
    result = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X,
        y,
        initial=10,
        batch_size=10,
        budget=100,
        oracle=router,
        cost_budget=6.0,
    )
    spent, _ = result.curve(against="cost")
    assert spent[-1] == pytest.approx(router.total_cost)
    assert np.all(np.diff(spent) > 0)
    # Each batch of 10 costs 2 * 1.0 + 8 * 0.1 = 2.8; the budget is checked between
    # batches, so the run stops on the first total at or above 6.
    assert spent[-1] == pytest.approx(3 * 2.8)
    assert result.stopped_by.startswith("cost budget")


def test_a_cost_budget_needs_something_that_counts(iris):
    X, y = iris
    with pytest.raises(ValueError, match="RecordingOracle"):
        al.simulate(LogisticRegression(), "margin", X, y, budget=20, cost_budget=5.0)


@needs_httpx
def test_multi_annotator_oracle_with_an_llm_annotator(iris):
    texts, y = corpus(45)
    fake = FakeLLM(LABELS, truth=dict(zip(texts, y, strict=True)), error_rate=0.0)
    crowd = simulated_annotators(y, accuracies=[1.0, 1.0], classes=LABELS, random_state=0)
    with serve(fake) as url:
        llm = LLMOracle(texts, LABELS, base_url=url, model="m", price_prompt=1.0)
        oracle = MultiAnnotatorOracle(
            [*crowd, llm], classes=LABELS, costs=[0.5, 0.5, 0.0], random_state=0
        )
        answers = oracle.label(np.arange(12))
        _, votes = oracle.annotations()
        assert fake.n_requests == 12
        # The LLM (annotator 2) voted on every item, the same as the perfect annotators.
        np.testing.assert_array_equal(votes[:, 2], votes[:, 0])
        np.testing.assert_array_equal(answers.labels, y[:12])
        assert answers.cost == pytest.approx(12 * 0.5 * 2 + llm.total_cost)
        result = al.simulate(
            text_model(),
            "margin",
            texts,
            y,
            initial=6,
            batch_size=6,
            budget=18,
            oracle=oracle,
        )
    spent, _ = result.curve(against="cost")
    assert spent[-1] == pytest.approx(oracle.total_cost - answers.cost)


# -- Router by the current model's uncertainty ---------------------------------------------


class Checked(Router):
    """A router that, before routing, works out which items the model says go to the human."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.expected: list[set[int]] = []

    def label(self, indices):
        if self._context is not None:
            proba = self._context.model.predict_proba(self._context.X[indices])
            scores = al.scores.margin(proba)
            n = round(self.human_fraction * len(indices))
            self.expected.append(set(np.asarray(indices)[np.argsort(-scores)[:n]].tolist()))
        return super().label(indices)


def test_router_by_the_models_margin_in_simulate(iris):
    X, y = iris
    human, llm = Spy(y), Spy(y)
    router = Checked(human, llm, human_fraction=0.5, uncertainty="margin", random_state=0)
    result = al.simulate(
        LogisticRegression(max_iter=300),
        "random",
        X,
        y,
        initial=10,
        batch_size=10,
        budget=60,
        oracle=router,
    )
    assert len(router.expected) == len(result.history) - 1  # the initial set has no model
    for expected, asked in zip(router.expected, human.asked[1:], strict=True):
        assert set(asked) == expected
    # The context passed on to both oracles: the model and the labels bought so far.
    context = human.contexts[-1]
    assert context is llm.contexts[-1]
    labeled = np.concatenate([r.indices for r in result.history[:-1]])
    np.testing.assert_array_equal(context.labeled, labeled)
    np.testing.assert_array_equal(context.y_labeled, y[labeled])
    assert context.X is X and context.round == len(result.history) - 2


def test_router_before_any_model_routes_everything_as_maximally_uncertain():
    y = np.arange(20) % 2
    human, llm = Spy(y), Spy(y)
    router = Router(human, llm, threshold=0.5, uncertainty="entropy")
    router.label(np.arange(10))
    assert human.asked == [list(range(10))] and llm.asked == []
    assert all(r.uncertainty == np.inf for r in router.records)


def test_router_by_the_models_uncertainty_with_active_learner(iris):
    X, y = iris
    human, llm = Spy(y), Spy(y)
    router = Checked(human, llm, human_fraction=0.3, uncertainty="margin", random_state=0)
    learner = al.ActiveLearner(LogisticRegression(max_iter=300), "margin", random_state=0)
    learner.ask(SimulatedOracle(y), X, [0, 1, 50, 51, 100, 101])
    pool = np.setdiff1d(np.arange(len(y)), [0, 1, 50, 51, 100, 101])
    for _ in range(3):
        answers = learner.ask(router, X, pool[learner.query(X[pool], k=10)])
        pool = np.setdiff1d(pool, answers.indices)
    assert len(router.expected) == 3
    for expected, asked in zip(router.expected, human.asked, strict=True):
        assert set(asked) == expected and len(asked) == 3
    assert learner.n_labeled == 36
    # Only what was asked through ask() is known by index: the 6 initial ones, 2 batches.
    np.testing.assert_array_equal(human.contexts[-1].y_labeled, y[human.contexts[-1].labeled])
    assert human.contexts[-1].labeled.size == 26


def test_router_rejects_an_unknown_score_and_a_model_without_probabilities():
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="least_confidence"):
        Router(Spy(y), Spy(y), threshold=0.5, uncertainty="bald")
    router = Router(Spy(y), Spy(y), threshold=0.5, uncertainty="margin")
    router.observe(LoopContext(object(), np.zeros((10, 2)), np.empty(0, int), np.empty(0)))
    with pytest.raises(TypeError, match="predict_proba"):
        router.label(np.arange(3))


# -- few-shot examples from the loop's labels -----------------------------------------------


def few_shot_texts(request):
    return [m["content"] for m in request["messages"][1:-1] if m["role"] == "user"]


@needs_httpx
def test_llm_takes_few_shot_examples_from_the_loops_labels_not_its_own(server):
    texts = ["cats nap", "dogs run", "birds sing", "a cat", "a dog", "odd text"]
    oracle = LLMOracle(texts, LABELS, base_url=server.url, model="m", few_shot_from_labels=True)
    own = oracle.label(np.array([0]))  # the LLM answers "cats" for item 0 itself
    assert own.labels.tolist() == ["cats"]
    # The loop's labels: item 0 as the LLM said, item 1 from someone else, item 5
    # overruling what the LLM said.
    oracle.label(np.array([5]))
    overruled = next(c for c in LABELS if c != oracle.label(np.array([5])).labels[0])
    context = LoopContext(None, texts, np.array([0, 1, 5]), np.array(["cats", "dogs", overruled]))
    oracle.observe(context)
    oracle.label(np.array([3]))
    shown = few_shot_texts(server.fake.requests[-1])
    assert sorted(shown) == ["Text: dogs run", "Text: odd text"]
    # Off by default: the same context changes nothing.
    plain = LLMOracle(texts, LABELS, base_url=server.url, model="m")
    plain.observe(context)
    plain.label(np.array([3]))
    assert few_shot_texts(server.fake.requests[-1]) == []


@needs_httpx
def test_few_shot_from_labels_in_the_loop_through_a_router():
    texts, y = corpus(60, seed=2)
    fake = FakeLLM(LABELS, truth=dict(zip(texts, y, strict=True)))
    with serve(fake) as url:
        llm = LLMOracle(
            texts,
            LABELS,
            base_url=url,
            model="m",
            n_examples=3,
            few_shot_from_labels=True,
        )
        human = Spy(y)
        router = Router(human, llm, human_fraction=0.5, uncertainty="margin", share_examples=False)
        al.simulate(
            text_model(), "margin", texts, y, initial=6, batch_size=6, budget=24, oracle=router
        )
        last = fake.requests[-1]
    human_texts = {f"Text: {texts[i]}" for batch in human.asked for i in batch}
    shown = few_shot_texts(last)
    assert len(shown) == 3 and set(shown) <= human_texts  # the LLM's own labels are left out


# -- llm_select as the cold start, and its accounting ---------------------------------------


POOL = [f"tweet number {i}" + (" [pick]" if i in (7, 3, 12, 30) else "") for i in range(40)]
POOL_Y = np.array(["pos", "neg"] * 20)


@needs_httpx
def test_initial_llm_select_lets_the_llm_choose_the_first_labels():
    fake = FakeLLM(["pos", "neg"])
    with serve(fake) as url:
        strategy = LLMSelect(
            task_description="Sentiment.",
            base_url=url,
            model="m",
            n_candidates=40,
            fallback="margin",  # needs a model: the cold start uses random instead
            price_prompt=1.0,
        )
        X_test, y_test = ["pos text", "neg text"], np.array(["pos", "neg"])
        with warnings.catch_warnings():
            warnings.simplefilter("error", LLMUnavailableWarning)
            result = al.simulate(
                make_pipeline(TfidfVectorizer(), LogisticRegression()),
                strategy,
                POOL,
                POOL_Y,
                X_test,
                y_test,
                initial="llm_select",
                initial_size=4,
                batch_size=4,
                budget=12,
            )
    assert sorted(result.history[0].indices.tolist()) == [3, 7, 12, 30]
    first = fake.requests[0]
    assert "Labelled examples" not in json.dumps(first["messages"])
    # Cold start and two queries, each paid in tokens: the cost curve is the strategy's.
    assert fake.n_requests == 3
    spent = result.curve(against="cost")[0]
    assert spent[0] > 0 and np.all(np.diff(spent) > 0)  # the cold start is paid too
    assert spent[-1] - spent[0] == pytest.approx(strategy.total_cost_)


def test_initial_llm_select_without_an_endpoint_picks_at_random(iris):
    X, y = iris
    with pytest.warns(LLMUnavailableWarning):
        result = al.simulate(
            LogisticRegression(max_iter=300),
            "margin",
            X,
            y,
            initial="llm_select",
            initial_size=8,
            budget=20,
        )
    assert result.history[0].indices.size == 8


def test_initial_strategy_must_not_need_a_model(iris):
    X, y = iris
    with pytest.raises(TypeError, match="before any fit"):
        al.simulate(LogisticRegression(), "margin", X, y, initial=al.strategies.get("margin"))


@needs_httpx
def test_llm_select_shows_the_newest_labels_and_sums_its_cost():
    fake = FakeLLM(["pos", "neg"])
    with serve(fake) as url:
        strategy = LLMSelect(base_url=url, model="m", n_labeled_shown=2, price_completion=1.0)
        labeled = ["old one", "old two", "new one", "new two"]
        strategy.query(None, POOL, 2, labeled, np.array(["pos", "neg", "pos", "neg"]), 0)
        first = strategy.last_query_["cost"]
        strategy.query(None, POOL, 2, labeled, np.array(["pos", "neg", "pos", "neg"]), 1)
    prompt = fake.requests[-1]["messages"][-1]["content"]
    assert "new one" in prompt and "new two" in prompt and "old" not in prompt
    assert prompt.index("new one") < prompt.index("new two")
    assert first > 0
    assert strategy.total_cost_ == pytest.approx(first + strategy.last_query_["cost"])


# -- ActiveLearner counts cost -------------------------------------------------------------


def test_active_learner_counts_what_it_is_told_and_what_ask_pays(iris):
    X, y = iris
    learner = al.ActiveLearner(LogisticRegression(max_iter=300), random_state=0)
    learner.fit(X[[0, 50, 100]], y[[0, 50, 100]])
    assert np.isnan(learner.history[-1].cost)
    learner.teach(X[[1, 51]], y[[1, 51]], cost=2.0)
    recorder = RecordingOracle(
        Router(
            SimulatedOracle(y),
            SimulatedOracle(y),
            human_fraction=0.5,
            human_cost=1.0,
            llm_cost=0.25,
            uncertainty="margin",
        )
    )
    learner.ask(recorder, X, [2, 3, 52, 53])
    assert learner.history[-1].cost == pytest.approx(2.0 + 2 * 1.0 + 2 * 0.25)
    n = learner.n_labeled
    learner.ask(SkipsAll(0.5), X, [4, 5])
    assert learner.n_labeled == n and learner.history[-1].cost == pytest.approx(5.5)
    with pytest.raises(ValueError, match="cost must be"):
        learner.teach(X[[6]], y[[6]], cost=-1.0)
    with pytest.raises(TypeError, match="integer indices"):
        learner.ask(recorder, X, [0.5])


class SkipsAll:
    """An oracle that skips every item and still charges a price per item asked."""

    def __init__(self, price):
        self.price = price

    def label(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        empty = np.empty(0, dtype=np.int64)
        return al.oracles.Answers(empty, empty, indices, None, self.price * indices.size)


def test_observe_calls_the_hook_only_where_there_is_one():
    y = np.arange(6) % 2
    spy = Spy(y)
    context = LoopContext(None, np.zeros((6, 1)), np.array([0, 1]), y[:2], 0)
    al.oracles.observe(SimulatedOracle(y), context)  # no hook: nothing happens
    al.oracles.observe(RecordingOracle(spy), context)  # passed on by the wrapper
    assert spy.contexts == [context]
