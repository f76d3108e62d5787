"""llm_select (ActiveLLM) against the fake server: the LLM's picks, validation, the
fallback without an endpoint or with an unusable answer, and the cache."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.strategies._llm_select import LLMSelect, LLMUnavailableWarning
from tests.oracles.fake_llm import FakeLLM, serve

pytest.importorskip("httpx", reason="the llm extra (httpx) is not installed")

POOL = [f"tweet number {i}" + (" [pick]" if i in (7, 3, 12) else "") for i in range(20)]


@pytest.fixture
def fake_url():
    fake = FakeLLM(["pos", "neg"])
    with serve(fake) as url:
        yield fake, url


@pytest.fixture(autouse=True)
def no_endpoint_in_the_environment(monkeypatch):
    monkeypatch.delenv("ACTIVELAB_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("ACTIVELAB_LLM_MODEL", raising=False)


def strategy_for(url, **params):
    return LLMSelect(task_description="Sentiment of tweets.", base_url=url, model="m", **params)


def test_the_llms_picks_come_first(fake_url):
    fake, url = fake_url
    strategy = strategy_for(url, n_candidates=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picks = strategy.query(None, POOL, 3, random_state=0)
    assert sorted(picks.tolist()) == [3, 7, 12]
    assert strategy.last_query_["source"] == "llm"
    assert strategy.last_query_["n_candidates"] == 20
    body = fake.requests[0]
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "selection"
    selected = schema["schema"]["properties"]["selected"]
    assert (selected["minItems"], selected["maxItems"], selected["items"]["maximum"]) == (3, 3, 20)


def test_only_the_candidates_are_shown_and_picked(fake_url):
    fake, url = fake_url
    strategy = strategy_for(url, n_candidates=6)
    picks = strategy.query(None, POOL, 2, random_state=1)
    shown = fake.requests[0]["messages"][-1]["content"]
    lines = [line for line in shown.splitlines() if line.startswith("[")]
    assert len(lines) == 6
    shown_texts = {line.split("] ", 1)[1] for line in lines}
    assert {POOL[i] for i in picks} <= shown_texts
    assert len(set(picks.tolist())) == 2


def test_labelled_examples_and_labels_are_in_the_prompt(fake_url):
    fake, url = fake_url
    strategy = strategy_for(url, n_labeled_shown=2)
    strategy.query(
        None, POOL, 2, ["great day", "awful traffic", "meh"], ["pos", "neg", "neg"], random_state=0
    )
    system, user = (m["content"] for m in fake.requests[0]["messages"])
    assert "exactly 2" in system and '"neg", "pos"' in system and "Sentiment of tweets." in system
    # The newest n_labeled_shown examples, oldest of them first.
    assert "- (neg) awful traffic\n- (neg) meh" in user and "great day" not in user


def test_invalid_and_repeated_numbers_are_dropped_and_the_rest_filled(fake_url):
    fake, url = fake_url
    fake.selection = lambda candidates, k: [2, 2, 99, 0, "x", True, 5]
    strategy = strategy_for(url, n_candidates=10)
    picks = strategy.query(LogisticRegression(), POOL, 4, random_state=0)
    assert len(set(picks.tolist())) == 4
    assert strategy.last_query_["source"] == "llm+fallback"
    assert "2 usable" in strategy.last_query_["reason"]


def test_an_unusable_answer_is_asked_again_then_falls_back(fake_url):
    fake, url = fake_url
    fake.selection = lambda candidates, k: "I would pick the first few."
    strategy = strategy_for(url)
    with pytest.warns(LLMUnavailableWarning, match="no usable selection"):
        picks = strategy.query(None, POOL, 3, random_state=0)
    assert len(fake.requests) == 2
    assert "not valid" in fake.requests[1]["messages"][-1]["content"]
    assert strategy.last_query_["source"] == "fallback"
    # The fallback draws from the same random stream as the strategy would alone.
    assert picks.shape == (3,) and len(set(picks.tolist())) == 3


def test_a_failing_endpoint_falls_back(fake_url, monkeypatch):
    from activelab.oracles import _llm_client

    monkeypatch.setattr(_llm_client, "_sleep", lambda s: None)
    fake, url = fake_url
    fake.script.extend(["500"] * 10)
    strategy = strategy_for(url, max_retries=1)
    with pytest.warns(LLMUnavailableWarning, match="endpoint failed"):
        picks = strategy.query(None, POOL, 3, random_state=0)
    assert picks.shape == (3,)


def test_without_an_endpoint_it_is_the_fallback_strategy(iris):
    X, y = iris
    model = LogisticRegression(max_iter=300).fit(X, y)
    strategy = LLMSelect(fallback="margin")
    with pytest.warns(LLMUnavailableWarning, match="no endpoint"):
        picks = strategy.query(model, X, 5, random_state=0)
    expected = al.strategies.get("margin").query(model, X, 5, random_state=0)
    assert picks.tolist() == expected.tolist()
    with pytest.warns(LLMUnavailableWarning), pytest.raises(TypeError, match="model=None"):
        strategy.query(None, X, 5, random_state=0)


def test_model_name_missing_is_reported(fake_url):
    _, url = fake_url
    with pytest.warns(LLMUnavailableWarning, match="no model name"):
        LLMSelect(base_url=url).query(None, POOL, 2, random_state=0)


def test_a_rerun_with_the_cache_makes_no_request(fake_url, tmp_path):
    fake, url = fake_url
    cache = str(tmp_path / "select.sqlite")
    first = strategy_for(url, cache=cache).query(None, POOL, 3, random_state=4)
    again = strategy_for(url, cache=cache).query(None, POOL, 3, random_state=4)
    assert first.tolist() == again.tolist() and fake.n_requests == 1


def test_costs_are_reported(fake_url):
    fake, url = fake_url
    strategy = strategy_for(url, price_prompt=1.0, price_completion=2.0)
    strategy.query(None, POOL, 2, random_state=0)
    usage = fake.usage[0]
    assert strategy.last_query_["prompt_tokens"] == usage["prompt_tokens"]
    assert strategy.last_query_["cost"] == pytest.approx(
        usage["prompt_tokens"] / 1000 + 2 * usage["completion_tokens"] / 1000
    )


def test_numeric_rows_and_frames_are_described_as_name_value_pairs(fake_url):
    import pandas as pd

    fake, url = fake_url
    frame = pd.DataFrame({"age": [30, 41], "income": [1.5, 2.25]})
    strategy_for(url).query(None, frame, 1, random_state=0)
    assert "age=41" in fake.requests[-1]["messages"][-1]["content"]
    strategy_for(url).query(None, np.array([[1.0, 2.0], [3.5, 4.0]]), 1, random_state=0)
    assert "x0=3.5, x1=4" in fake.requests[-1]["messages"][-1]["content"]
    described = strategy_for(url, describe=lambda row: f"row {row[0]:.0f}")
    described.query(None, np.array([[7.0], [8.0]]), 1, random_state=0)
    assert "row 8" in fake.requests[-1]["messages"][-1]["content"]
    long = strategy_for(url, max_chars=10)
    long.query(None, ["a" * 50, "b"], 1, random_state=0)
    assert "aaaaaaaaa…" in fake.requests[-1]["messages"][-1]["content"]


def test_a_pool_of_one_needs_no_request(fake_url):
    fake, url = fake_url
    assert strategy_for(url).query(None, ["only"], 1, random_state=0).tolist() == [0]
    assert fake.n_requests == 0


def test_parameters_clone_pickle_and_validate(fake_url):
    _, url = fake_url
    strategy = strategy_for(url, fallback="entropy", n_candidates=12)
    assert repr(pickle.loads(pickle.dumps(strategy))) == repr(strategy)
    assert clone(strategy).get_params() == strategy.get_params()
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_for(url, fallback="nope").query(None, POOL, 2)
    with pytest.raises(ValueError, match="itself"):
        strategy_for(url, fallback="llm_select").query(None, POOL, 2)
    with pytest.raises(ValueError, match="n_candidates"):
        strategy_for(url, n_candidates=0).query(None, POOL, 2)
    with pytest.raises(ValueError, match="larger than the pool"):
        strategy_for(url).query(None, POOL[:2], 3)


def test_llm_select_in_simulate(fake_url):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    fake, url = fake_url
    rng = np.random.default_rng(0)
    y = np.array(["pos", "neg"])[rng.integers(0, 2, 60)]
    texts = [f"{'good great' if c == 'pos' else 'bad awful'} {i}" for i, c in enumerate(y)]
    strategy = strategy_for(url, n_candidates=15)
    result = al.simulate(
        make_pipeline(TfidfVectorizer(), LogisticRegression()),
        strategy,
        texts,
        y,
        initial=6,
        batch_size=4,
        budget=18,
    )
    assert result.history[-1].n_labeled == 18
    assert fake.n_requests == 3
    prompt = json.dumps(fake.requests[-1]["messages"])
    assert "Labelled examples" in prompt
