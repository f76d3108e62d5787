"""ChatClient against a real HTTP server on 127.0.0.1: retries, backoff, Retry-After,
timeouts, structured output, the concurrency limit, the cache, and the API key's secrecy."""

from __future__ import annotations

import logging
import pickle
import threading

import pytest

from activelab.oracles import ChatClient, LLMError, ResponseCache, cache_key
from activelab.oracles._llm_client import parse_json_object, resolve_base_url, schema_format

pytest.importorskip("httpx", reason="the llm extra (httpx) is not installed")

HELLO = [{"role": "user", "content": "Text: cats are great"}]


def client_for(server, **params) -> ChatClient:
    params.setdefault("backoff", 0.01)
    return ChatClient(server.url, "fake-model", **params)


def test_chat_returns_the_answer_and_the_token_counts(server):
    with client_for(server) as client:
        result = client.chat(HELLO)
    assert result.choices[0]["content"] == '{"label": "cats"}'
    assert result.prompt_tokens == server.fake.usage[0]["prompt_tokens"] > 0
    assert result.completion_tokens == server.fake.usage[0]["completion_tokens"] > 0
    assert (result.cached, result.attempts, result.waited) == (False, 1, 0.0)
    body = server.fake.requests[0]
    assert body["model"] == "fake-model" and body["messages"] == HELLO
    assert body["temperature"] == 0.0 and "n" not in body


@pytest.mark.parametrize("failures", [["429"], ["500"], ["429", "500", "429"], ["badbody"]])
def test_transient_failures_are_retried_until_an_answer(server, waits, failures):
    server.fake.script.extend(failures)
    with client_for(server) as client:
        result = client.chat(HELLO)
    assert result.choices[0]["content"] == '{"label": "cats"}'
    assert result.attempts == len(failures) + 1 == server.fake.n_requests
    assert len(waits) == len(failures) == len(result.waits)
    assert result.waited == pytest.approx(sum(waits))


def test_retry_after_is_honoured(server, waits):
    server.fake.retry_after = "3"
    server.fake.script.extend(["429", "429"])
    with client_for(server, backoff=0.01) as client:
        client.chat(HELLO)
    assert len(waits) == 2 and all(w >= 3.0 for w in waits)


def test_retry_after_as_an_http_date_is_honoured(server, waits):
    import email.utils
    import time

    server.fake.retry_after = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.fake.script.append("429")
    with client_for(server) as client:
        client.chat(HELLO)
    assert 25.0 <= waits[0] <= 31.0


def test_backoff_is_exponential_with_jitter_and_capped(server, waits):
    server.fake.retry_after = None
    server.fake.script.extend(["500"] * 5)
    with client_for(server, backoff=1.0, max_backoff=6.0, max_retries=5, random_state=0) as client:
        client.chat(HELLO)
    caps = [1.0, 2.0, 4.0, 6.0, 6.0]
    assert len(waits) == 5
    for wait, cap in zip(waits, caps, strict=True):
        assert cap / 2 <= wait <= cap
    # Jitter: not every wait sits on the same fraction of its cap.
    assert len({round(w / c, 6) for w, c in zip(waits, caps, strict=True)}) > 1


def test_a_timeout_is_retried(server, waits):
    server.fake.timeout_delay = 1.0
    server.fake.script.append("timeout")
    with client_for(server, timeout=0.2) as client:
        result = client.chat(HELLO)
    assert result.attempts == 2 and len(waits) == 1
    assert result.choices[0]["content"] == '{"label": "cats"}'


def test_gives_up_after_max_retries_with_a_clear_error(server, waits):
    server.fake.script.extend(["500"] * 10)
    with client_for(server, max_retries=2) as client, pytest.raises(LLMError) as error:
        client.chat(HELLO)
    assert "failed 3 times" in str(error.value) and "HTTP 500" in str(error.value)
    assert server.fake.n_requests == 3 and len(waits) == 2


def test_a_huge_retry_after_is_an_outage_not_a_wait(server, waits):
    server.fake.retry_after = "7200"
    server.fake.script.append("429")
    with client_for(server) as client, pytest.raises(LLMError, match="7200 s"):
        client.chat(HELLO)
    assert waits == []


def test_non_retryable_errors_raise_at_once(server, waits):
    client = ChatClient(server.url.replace("/v1", "/v2/nowhere"), "fake-model")
    with pytest.raises(LLMError, match=r"HTTP 404.*base_url"):
        client.chat(HELLO)
    assert waits == [] and server.fake.n_requests == 0  # the fake only counts its route


def test_a_rejected_response_format_is_dropped_and_validated_locally(server):
    server.fake.reject_response_format = True
    schema = schema_format("label", {"type": "object"})
    with client_for(server) as client:
        first = client.chat(HELLO, response_format=schema)
        second = client.chat([{"role": "user", "content": "Text: dogs"}], response_format=schema)
        assert client.structured_output is False
    assert first.choices[0]["content"] == '{"label": "cats"}'
    assert second.choices[0]["content"] == '{"label": "dogs"}'
    sent = ["response_format" in body for body in server.fake.requests]
    assert sent == [True, False, False]
    assert server.fake.statuses == [400, 200, 200]


def test_structured_output_is_sent_when_supported(server):
    schema = schema_format("label", {"type": "object"})
    with client_for(server) as client:
        client.chat(HELLO, response_format=schema, n=3, seed=5, logprobs=True, max_tokens=9)
    body = server.fake.requests[0]
    assert body["response_format"] == schema
    assert (body["n"], body["seed"], body["logprobs"], body["max_tokens"]) == (3, 5, True, 9)


def test_concurrency_limit_holds_across_threads(server):
    server.fake.delay = 0.1
    client = client_for(server, concurrency=3)
    threads = [
        threading.Thread(target=client.chat, args=([{"role": "user", "content": f"Text: {i}"}],))
        for i in range(9)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert server.fake.n_requests == 9
    assert 2 <= server.fake.max_inflight <= 3


def test_the_cache_answers_a_rerun_without_requests(server, tmp_path):
    path = tmp_path / "cache" / "llm.sqlite"
    with client_for(server, cache=path) as client:
        first = client.chat(HELLO, temperature=0.0)
    assert server.fake.n_requests == 1
    with client_for(server, cache=path) as client:  # a new process would do the same
        again = client.chat(HELLO, temperature=0.0)
        other = client.chat(HELLO, temperature=0.5)  # other params: another key
    assert again.cached and again.attempts == 0 and again.prompt_tokens == 0
    assert again.choices == first.choices
    assert not other.cached and server.fake.n_requests == 2
    assert len(ResponseCache(path)) == 2


def test_failed_requests_are_not_cached(server, waits, tmp_path):
    server.fake.script.extend(["500"] * 3)
    path = tmp_path / "llm.sqlite"
    with client_for(server, cache=path, max_retries=1) as client, pytest.raises(LLMError):
        client.chat(HELLO)
    assert len(ResponseCache(path)) == 0


def test_cache_key_covers_model_messages_and_params():
    base = cache_key("m", HELLO, {"temperature": 0})
    assert base == cache_key("m", HELLO, {"temperature": 0})
    assert base != cache_key("other", HELLO, {"temperature": 0})
    assert base != cache_key("m", [{"role": "user", "content": "x"}], {"temperature": 0})
    assert base != cache_key("m", HELLO, {"temperature": 0, "seed": 1})
    # Key order of the params does not matter.
    assert cache_key("m", HELLO, {"a": 1, "b": 2}) == cache_key("m", HELLO, {"b": 2, "a": 1})


def test_the_api_key_is_sent_but_never_logged_printed_pickled_or_cached(
    server, waits, tmp_path, monkeypatch, caplog
):
    secret = "sk-test-5f3c9a7e1d"
    monkeypatch.setenv("FAKE_LLM_KEY", secret)
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "llm.sqlite"
    server.fake.script.extend(["429", "500"])
    client = client_for(server, cache=path, api_key_env="FAKE_LLM_KEY")
    client.chat(HELLO)
    assert server.fake.headers[0]["Authorization"] == f"Bearer {secret}"
    assert secret not in repr(client) and secret not in str(client.__dict__)
    assert secret.encode() not in pickle.dumps(client)
    bad = ChatClient(server.url.replace("/v1", "/v9"), "m", api_key_env="FAKE_LLM_KEY")
    with pytest.raises(LLMError) as error:
        bad.chat(HELLO)
    assert secret not in str(error.value)
    client.close()
    assert secret not in caplog.text
    assert caplog.records  # the retries were logged (without the key)
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes()


def test_no_key_variable_means_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("UNSET_KEY_VARIABLE", raising=False)
    with client_for(server, api_key_env="UNSET_KEY_VARIABLE") as client:
        client.chat(HELLO)
    assert "Authorization" not in server.fake.headers[0]


def test_a_client_pickles_and_works_after(server):
    client = pickle.loads(pickle.dumps(client_for(server)))
    assert client.chat(HELLO).choices[0]["content"] == '{"label": "cats"}'


def test_endpoint_and_model_come_from_arguments_or_the_environment(monkeypatch):
    monkeypatch.delenv("ACTIVELAB_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("ACTIVELAB_LLM_MODEL", raising=False)
    with pytest.raises(ValueError, match="base_url"):
        ChatClient(None, "m")
    with pytest.raises(ValueError, match="model"):
        ChatClient("http://127.0.0.1:9/v1", None)
    monkeypatch.setenv("ACTIVELAB_LLM_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("ACTIVELAB_LLM_MODEL", "env-model")
    client = ChatClient()
    assert (client.base_url, client.model) == ("http://127.0.0.1:9/v1", "env-model")
    assert resolve_base_url(None) == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff": -1.0}, "backoff"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_bad_client_parameters_are_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        ChatClient("http://127.0.0.1:9/v1", "m", **params)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"label": "cats"}', {"label": "cats"}),
        ('  ```json\n{"label": "dogs"}\n```  ', {"label": "dogs"}),
        ('The answer: {"label": "birds"}. Hope that helps!', {"label": "birds"}),
        ('["cats"]', None),
        ("cats", None),
        ('{"label": "cats"', None),
        ("", None),
    ],
)
def test_parse_json_object(content, expected):
    assert parse_json_object(content) == expected


def test_two_servers_with_one_model_name_do_not_share_cache_entries(server, tmp_path):
    from tests.oracles.fake_llm import FakeLLM, serve

    cache = tmp_path / "shared.sqlite"
    with client_for(server, cache=cache) as client:
        first = client.chat(HELLO)
    other = FakeLLM(["cats", "dogs", "birds"], truth={"cats are great": "birds"})
    with serve(other) as url, ChatClient(url, "fake-model", cache=cache) as client:
        second = client.chat(HELLO)
        again = client.chat(HELLO)
    assert first.choices[0]["content"] == '{"label": "cats"}'
    assert second.choices[0]["content"] == '{"label": "birds"}' and not second.cached
    assert again.cached and other.n_requests == 1
    assert len(ResponseCache(cache)) == 2
    assert cache_key("m", HELLO, {}, base_url="a") != cache_key("m", HELLO, {}, base_url="b")
    assert cache_key("m", HELLO, {}) != cache_key("m", HELLO, {}, base_url="a")
