"""LLMOracle against the fake chat-completions server: labels, malformed answers, the
cache, cost accounting, confidence, few-shot prompts, and use in the loop."""

from __future__ import annotations

import json
import logging
import math
import pickle

import numpy as np
import pytest

import activelab as al
from activelab.oracles import Answers, LLMOracle, LLMUsage, label_probability
from tests.oracles.fake_llm import FakeLLM, serve

pytest.importorskip("httpx", reason="the llm extra (httpx) is not installed")

LABELS = ["cats", "dogs", "birds"]
TEXTS = [
    "my cats sleep all day",
    "dogs love long walks",
    "birds sing at dawn",
    "the cats chase mice",
    "two dogs in the park",
    "birds fly south",
]


def oracle_for(server, texts=TEXTS, **params) -> LLMOracle:
    params.setdefault("backoff", 0.01)
    return LLMOracle(
        texts, LABELS, "What the text is about.", base_url=server.url, model="fake-model", **params
    )


def test_labels_come_back_in_the_order_asked(server):
    oracle = oracle_for(server)
    answers = oracle.label(np.array([4, 0, 2]))
    assert isinstance(answers, Answers)
    assert answers.indices.tolist() == [4, 0, 2]
    assert answers.labels.tolist() == ["dogs", "cats", "birds"]
    assert answers.skipped.size == 0
    assert isinstance(oracle, al.oracles.Oracle)


def test_integer_classes_come_back_as_integers(server):
    fake = FakeLLM(["0", "1"], truth={"a": "1", "b": "0"})
    with serve(fake) as url:
        oracle = LLMOracle(["a", "b"], [0, 1], base_url=url, model="m")
        answers = oracle.label(np.array([0, 1]))
    assert answers.labels.tolist() == [1, 0]
    assert answers.labels.dtype.kind == "i"


def test_the_request_carries_the_label_enum_and_the_task(server):
    oracle_for(server).label(np.array([0]))
    body = server.fake.requests[0]
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["label"]["enum"] == LABELS
    assert schema["required"] == ["label"]
    system = body["messages"][0]["content"]
    assert "What the text is about." in system and '"birds"' in system
    assert body["messages"][-1] == {"role": "user", "content": f"Text: {TEXTS[0]}"}


def test_a_malformed_answer_is_asked_once_more(server):
    oracle = oracle_for(server, texts=["cats [garbage-once]", "dogs"])
    answers = oracle.label(np.array([0, 1]))
    assert answers.labels.tolist() == ["cats", "dogs"]
    assert oracle.rounds[0].repairs == 1 and oracle.rounds[0].n_skipped == 0
    repairs = [b["messages"] for b in server.fake.requests if len(b["messages"]) > 2]
    assert len(repairs) == 1
    repair = repairs[0]
    assert repair[-2]["role"] == "assistant" and "not valid" in repair[-1]["content"]


@pytest.mark.parametrize("marker", ["[garbage]", "[not-a-label]"])
def test_an_item_malformed_twice_is_skipped(server, marker):
    oracle = oracle_for(server, texts=["cats", f"dogs {marker}", "birds"])
    answers = oracle.label(np.array([0, 1, 2]))
    assert answers.indices.tolist() == [0, 2]
    assert answers.skipped.tolist() == [1]
    assert answers.labels.tolist() == ["cats", "birds"]
    record = oracle.rounds[0]
    assert (record.n_items, record.n_labeled, record.n_skipped, record.repairs) == (3, 2, 1, 1)
    assert server.fake.asked[f"dogs {marker}"] == 2  # one retry, then skipped


def test_retries_inside_a_round_are_counted(server, waits):
    server.fake.script.extend(["429", "500"])
    oracle = oracle_for(server, concurrency=1)
    answers = oracle.label(np.array([0, 1]))
    assert answers.labels.tolist() == ["cats", "dogs"]
    assert oracle.rounds[0].retries == 2 and oracle.rounds[0].requests == 4
    assert len(waits) == 2


def test_a_rerun_with_the_cache_makes_zero_requests(server, tmp_path):
    cache = tmp_path / "llm.sqlite"
    first = oracle_for(server, cache=cache, price_prompt=1.0, price_completion=1.0)
    answers = first.label(np.arange(6))
    first.close()
    requests = server.fake.n_requests
    assert requests == 6 and first.rounds[0].cost > 0

    again = oracle_for(server, cache=cache, price_prompt=1.0, price_completion=1.0)
    rerun = again.label(np.arange(6))
    assert server.fake.n_requests == requests  # zero new requests
    assert rerun.labels.tolist() == answers.labels.tolist()
    np.testing.assert_allclose(rerun.confidence, answers.confidence)
    record = again.rounds[0]
    assert (record.requests, record.cached, record.cost, record.prompt_tokens) == (0, 6, 0.0, 0)
    assert rerun.cost == 0.0


def test_costs_sum_the_servers_token_counts(server):
    oracle = oracle_for(server, price_prompt=0.5, price_completion=2.0)
    oracle.label(np.array([0, 1, 2]))
    oracle.label(np.array([3, 4]))
    assert len(oracle.rounds) == 2
    usage = server.fake.usage
    prompt = sum(u["prompt_tokens"] for u in usage)
    completion = sum(u["completion_tokens"] for u in usage)
    total = oracle.usage
    assert (total.prompt_tokens, total.completion_tokens) == (prompt, completion)
    assert total.cost == pytest.approx(prompt / 1000 * 0.5 + completion / 1000 * 2.0)
    assert oracle.total_cost == pytest.approx(total.cost)
    first = usage[:3]
    expected_first = sum(u["prompt_tokens"] * 0.5 + u["completion_tokens"] * 2.0 for u in first)
    assert oracle.rounds[0].cost == pytest.approx(expected_first / 1000)
    assert (total.n_items, total.n_labeled, total.requests) == (5, 5, 5)


def test_a_repeated_text_in_a_batch_is_asked_once(server):
    oracle = oracle_for(server, texts=["cats", "cats", "dogs"])
    answers = oracle.label(np.array([0, 1, 2, 0]))
    assert answers.indices.tolist() == [0, 1, 2, 0]
    assert answers.labels.tolist() == ["cats", "cats", "dogs", "cats"]
    assert server.fake.n_requests == 2
    assert oracle.rounds[0].n_items == 4


def test_self_consistency_agreement_is_the_confidence():
    truth = {f"item {i}": LABELS[i % 3] for i in range(40)}
    fake = FakeLLM(LABELS, truth=truth, error_rate=0.3, seed=1)
    with serve(fake) as url:
        oracle = LLMOracle(list(truth), LABELS, base_url=url, model="m", n_samples=7)
        answers = oracle.label(np.arange(40))
    assert oracle.temperature == pytest.approx(0.7)
    hard = np.array([fake.is_hard(t) for t in truth])
    assert 0 < hard.sum() < 40
    confidence = answers.confidence
    np.testing.assert_array_equal(confidence[~hard], 1.0)
    assert confidence[hard].mean() < 0.8
    assert all(body["n"] == 7 for body in fake.requests)
    # The majority label: easy items right, and at least the most-voted on hard ones.
    labels = answers.labels
    assert all(labels[i] == truth[f"item {i}"] for i in np.flatnonzero(~hard))


def test_malformed_samples_count_against_the_agreement(server):
    oracle = oracle_for(server, texts=["cats [garbage-once]", "dogs"], n_samples=4)
    answers = oracle.label(np.array([0, 1]))
    assert answers.labels.tolist() == ["cats", "dogs"]
    # The repaired item has one good answer of the four asked for.
    assert answers.confidence.tolist() == [0.25, 1.0]


def test_a_server_that_ignores_n_is_topped_up_with_seeded_requests():
    truth = {"a": "cats", "b": "dogs"}
    fake = FakeLLM(LABELS, truth=truth, error_rate=0.0)
    fake.honour_n = False
    with serve(fake) as url:
        oracle = LLMOracle(["a", "b"], LABELS, base_url=url, model="m", n_samples=4)
        answers = oracle.label(np.array([0, 1]))
    assert answers.confidence.tolist() == [1.0, 1.0]
    assert fake.n_requests == 8
    seeds = sorted(body.get("seed", -1) for body in fake.requests)
    assert seeds == [-1, -1, 1, 1, 2, 2, 3, 3]


def test_logprob_confidence_for_one_sample():
    truth = {f"item {i}": LABELS[i % 3] for i in range(30)}
    fake = FakeLLM(LABELS, truth=truth, error_rate=0.3, seed=2, confident=0.9)
    with serve(fake) as url:
        oracle = LLMOracle(list(truth), LABELS, base_url=url, model="m")
        answers = oracle.label(np.arange(30))
        assert all(body.get("logprobs") for body in fake.requests)
        fake.give_logprobs = False
        silent = LLMOracle([f"new {i}" for i in range(3)], LABELS, base_url=url, model="m")
        assert np.isnan(silent.label(np.arange(3)).confidence).all()
    hard = np.array([fake.is_hard(t) for t in truth])
    np.testing.assert_allclose(answers.confidence[~hard], 0.9, rtol=1e-9)
    np.testing.assert_allclose(answers.confidence[hard], 1 / 3, rtol=1e-9)


def test_label_probability_reads_the_label_tokens_only():
    tokens = [
        ('{"', 0.0),
        ("label", math.log(0.99)),
        ('": "', 0.0),
        ("do", math.log(0.5)),
        ("gs", math.log(0.8)),
        ('"}', math.log(0.9)),
    ]
    assert label_probability('{"label": "dogs"}', tokens) == pytest.approx(0.4)
    # Tokens that do not spell the content: the whole sequence.
    assert label_probability("x", [("y", math.log(0.5))]) == pytest.approx(0.5)
    assert math.isnan(label_probability('{"label": "a"}', None))


def test_few_shot_examples_are_balanced_and_never_the_item(server):
    examples = (
        ["cats a", "cats b", "cats c", "dogs a", "birds a"],
        ["cats", "cats", "cats", "dogs", "birds"],
    )
    oracle = oracle_for(server, texts=["cats b", "new dogs"], examples=examples, n_examples=4)
    chat = oracle.messages("cats b")
    shots = [m["content"] for m in chat[1:-1]]
    assert shots[0::2] == ["Text: cats a", "Text: dogs a", "Text: birds a", "Text: cats c"]
    assert [json.loads(a)["label"] for a in shots[1::2]] == ["cats", "dogs", "birds", "cats"]
    oracle.add_examples(np.array([1]), ["dogs"])
    oracle.n_examples = 5
    other = [m["content"] for m in oracle.messages("other")[1:-1:2]]
    assert other == [
        "Text: cats a",
        "Text: dogs a",
        "Text: birds a",
        "Text: cats b",
        "Text: new dogs",
    ]
    assert "Text: new dogs" not in [m["content"] for m in oracle.messages("new dogs")[:-1]]
    zero = oracle_for(server, examples=examples, n_examples=0)
    assert len(zero.messages("x")) == 2


def test_templates_are_checked_and_used(server):
    oracle = oracle_for(server, system_prompt="Labels {labels}. {task}", user_template="<{text}>")
    chat = oracle.messages("hello")
    assert chat[0]["content"].startswith('Labels "cats", "dogs", "birds".')
    assert chat[-1]["content"] == "<hello>"
    with pytest.raises(ValueError, match="user_template"):
        oracle_for(server, user_template="{item}")
    with pytest.raises(ValueError, match="system_prompt"):
        oracle_for(server, system_prompt="{labels} {nope}")


def test_concurrency_limits_requests_in_flight(server):
    server.fake.delay = 0.05
    oracle = oracle_for(server, texts=[f"item {i}" for i in range(12)], concurrency=3)
    oracle.label(np.arange(12))
    assert 2 <= server.fake.max_inflight <= 3


def test_the_key_is_not_in_repr_pickle_or_logs(server, monkeypatch, caplog):
    secret = "sk-oracle-0b8e77c2"
    monkeypatch.setenv("ORACLE_KEY", secret)
    caplog.set_level(logging.DEBUG)
    oracle = oracle_for(server, api_key_env="ORACLE_KEY")
    oracle.label(np.array([0, 1]))
    assert server.fake.headers[0]["Authorization"] == f"Bearer {secret}"
    assert secret not in repr(oracle) and "ORACLE_KEY" in repr(oracle)
    copy = pickle.loads(pickle.dumps(oracle))
    assert secret.encode() not in pickle.dumps(oracle)
    assert copy.label(np.array([2])).labels.tolist() == ["birds"]
    assert secret not in caplog.text and "LLM round" in caplog.text


def test_bad_arguments_are_clear_errors(server, monkeypatch):
    monkeypatch.delenv("ACTIVELAB_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("ACTIVELAB_LLM_MODEL", raising=False)
    with pytest.raises(ValueError, match="base_url"):
        LLMOracle(TEXTS, LABELS, model="m")
    with pytest.raises(ValueError, match="model"):
        LLMOracle(TEXTS, LABELS, base_url=server.url)
    with pytest.raises(ValueError, match="at least 2"):
        oracle_for(server, texts=TEXTS).__class__(TEXTS, ["x"], base_url=server.url, model="m")
    with pytest.raises(ValueError, match="differ as text"):
        LLMOracle(TEXTS, [1, "1"], base_url=server.url, model="m")
    with pytest.raises(ValueError, match="n_samples >= 2"):
        oracle_for(server, confidence="agreement")
    with pytest.raises(ValueError, match="confidence"):
        oracle_for(server, confidence="vibes")
    with pytest.raises(ValueError, match="per 1000 tokens"):
        oracle_for(server, price_prompt=-1)
    with pytest.raises(ValueError, match="not one of the classes"):
        oracle_for(server, examples=(["a"], ["fish"]))
    oracle = oracle_for(server)
    with pytest.raises(IndexError, match="knows 6 items; asked for index 6"):
        oracle.label(np.array([6]))
    with pytest.raises(TypeError, match="integer indices"):
        oracle.label(np.array([0.5]))


def test_an_empty_query_makes_no_request(server):
    oracle = oracle_for(server)
    answers = oracle.label(np.array([], dtype=np.int64))
    assert answers.indices.size == 0 and server.fake.n_requests == 0
    assert oracle.rounds == [LLMUsage(seconds=oracle.rounds[0].seconds)]


def test_llm_oracle_in_simulate_and_with_active_learner():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    words = {"cats": "purr whisker meow", "dogs": "bark fetch leash", "birds": "wing nest song"}
    y = np.array(LABELS)[rng.integers(0, 3, 90)]
    texts = [f"{' '.join(rng.permutation(words[c].split()))} number {i}" for i, c in enumerate(y)]
    fake = FakeLLM(LABELS, truth=dict(zip(texts, y, strict=True)), error_rate=0.2, seed=3)
    with serve(fake) as url:
        oracle = LLMOracle(texts, LABELS, base_url=url, model="m", price_prompt=1.0)
        recorder = al.oracles.RecordingOracle(oracle)
        result = al.simulate(
            make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=200)),
            "margin",
            texts,
            y,
            initial=9,
            batch_size=9,
            budget=45,
            oracle=recorder,
        )
        assert result.history[-1].n_labeled + sum(r.skipped.size for r in result.history) >= 45
        assert len(oracle.rounds) == len(result.history)
        assert oracle.total_cost > 0
        assert recorder.total_cost == pytest.approx(oracle.total_cost)
        # The simulated LLM's labels are wrong about 20 % of the time.
        assert 0.55 <= recorder.label_accuracy(y) <= 0.97

        learner = al.ActiveLearner(
            make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=200)),
            "margin",
            random_state=0,
        )
        start = oracle.label(np.arange(12))
        learner.fit([texts[i] for i in start.indices], start.labels)
        picks = learner.query(texts, k=5)
        answers = oracle.label(picks)
        learner.teach([texts[i] for i in answers.indices], answers.labels)
        assert learner.n_labeled == start.indices.size + answers.indices.size


def test_annotate_labels_texts_by_position(server):
    oracle = oracle_for(server, price_prompt=1.0)
    texts = ["dogs at the door", "a [garbage] answer", "birds again", "dogs at the door"]
    answers = oracle.annotate(texts)
    assert answers.indices.tolist() == [0, 2, 3]
    assert answers.labels.tolist() == ["dogs", "birds", "dogs"]
    assert answers.skipped.tolist() == [1]
    assert answers.confidence.shape == (3,) and np.all(answers.confidence > 0.9)
    # Three distinct texts: one request each, plus the malformed one's repair.
    assert server.fake.n_requests == 4
    record = oracle.rounds[-1]
    assert (record.n_items, record.n_labeled, record.n_skipped, record.repairs) == (4, 3, 1, 1)
    assert answers.cost == pytest.approx(record.cost) and answers.cost > 0
    empty = oracle.annotate([])
    assert empty.indices.size == 0 and empty.cost == 0.0 and server.fake.n_requests == 4


def test_the_client_is_made_once_before_the_worker_threads(server, monkeypatch):
    import threading
    import time

    from activelab.oracles import _llm

    made: list[int] = []

    class SlowToMake(_llm.ChatClient):
        def __init__(self, *args, **kw):
            made.append(threading.get_ident())
            time.sleep(0.05)  # a race would let every worker thread in here
            super().__init__(*args, **kw)

    monkeypatch.setattr(_llm, "ChatClient", SlowToMake)
    oracle = oracle_for(server, concurrency=6)
    oracle.label(np.arange(6))
    assert made == [threading.get_ident()]  # one client, made in the calling thread
