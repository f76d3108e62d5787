"""A small client for OpenAI-compatible chat-completions endpoints (hosted APIs, vLLM,
llama.cpp's server, Ollama), over httpx.

What it adds to a bare POST: a persistent response cache (a rerun makes no request), a
limit on requests in flight, retries with exponential backoff and jitter on 429, 5xx,
timeouts and broken connections (honouring ``Retry-After``), structured output that is
dropped once if the server rejects it, and token counts. The API key is read from an
environment variable at each request and is never stored, logged, cached or printed.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activelab._extras import require
from activelab.oracles._llm_cache import ResponseCache, cache_key

logger = logging.getLogger("activelab.oracles.llm")

#: Environment variables read when ``base_url`` or ``model`` is not given.
BASE_URL_ENV = "ACTIVELAB_LLM_BASE_URL"
MODEL_ENV = "ACTIVELAB_LLM_MODEL"

#: HTTP statuses worth another try (besides every 5xx).
RETRY_STATUSES = frozenset({408, 409, 425, 429})

#: A ``Retry-After`` longer than this (seconds) is an outage, not a rate limit: give up.
MAX_RETRY_AFTER = 600.0


class LLMError(RuntimeError):
    """The LLM endpoint failed in a way retrying did not (or cannot) fix."""


def _sleep(seconds: float) -> None:
    # One place to wait, so tests can record the waits instead of sleeping.
    time.sleep(seconds)


def resolve_base_url(base_url: str | None) -> str | None:
    """``base_url``, or the ``ACTIVELAB_LLM_BASE_URL`` environment variable, or None.

    Parameters
    ----------
    base_url : str or None

    Returns
    -------
    str or None
        Without a trailing slash.

    Examples
    --------
    >>> resolve_base_url("http://localhost:8000/v1/")
    'http://localhost:8000/v1'
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or None
    return None if url is None else url.rstrip("/")


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _choices(body: Any) -> list[dict[str, Any]] | None:
    """The choices of a response body as ``{"content", "logprobs"}``; None if malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return None
    choices = []
    for choice in body["choices"]:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            return None
        content = message.get("content")
        logprobs = None
        raw = choice.get("logprobs")
        if isinstance(raw, dict) and isinstance(raw.get("content"), list):
            logprobs = [
                (str(t.get("token", "")), float(t["logprob"]))
                for t in raw["content"]
                if isinstance(t, dict) and isinstance(t.get("logprob"), int | float)
            ]
        choices.append(
            {"content": content if isinstance(content, str) else "", "logprobs": logprobs}
        )
    return choices


@dataclass
class ChatResult:
    """One chat-completions answer.

    Attributes
    ----------
    choices : list of dict
        One per completion: ``content`` (str) and ``logprobs`` (a list of
        ``(token, logprob)`` pairs, or None when the server gave none).
    prompt_tokens, completion_tokens : int
        Tokens billed for this call (0 when it came from the cache).
    cached : bool
        True when no request was made.
    attempts : int
        HTTP requests made (0 when cached; more than 1 after retries).
    waited : float
        Seconds spent waiting between retries.
    waits : list of float
        Each of those waits, in order.
    """

    choices: list[dict[str, Any]]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    waited: float = 0.0
    waits: list[float] = field(default_factory=list)


class ChatClient:
    """Chat completions from an OpenAI-compatible endpoint, with cache, retries and limits.

    Parameters
    ----------
    base_url : str, optional
        The API root, e.g. ``"https://api.openai.com/v1"``, ``"http://localhost:8000/v1"``
        (vLLM), ``"http://localhost:8080/v1"`` (llama.cpp), ``"http://localhost:11434/v1"``
        (Ollama). Defaults to the ``ACTIVELAB_LLM_BASE_URL`` environment variable.
    model : str, optional
        The model name the server knows. Defaults to ``ACTIVELAB_LLM_MODEL``.
    api_key_env : str or None
        Name of the environment variable that holds the API key, read at each request
        (no ``Authorization`` header when it is unset, as local servers expect). The key
        itself is never stored on the client, logged, cached or printed.
    timeout : float
        Seconds for connecting and for each read.
    max_retries : int
        Further attempts after a 429, a 5xx, a timeout or a broken connection.
    backoff : float
        First backoff in seconds; attempt ``a`` waits between half and all of
        ``min(max_backoff, backoff * 2**a)`` (exponential backoff with jitter), or
        the server's ``Retry-After`` when that is longer.
    max_backoff : float
        Cap of the exponential backoff.
    concurrency : int
        Most requests in flight at once (across every thread using this client).
    cache : str, pathlib.Path, ResponseCache or None
        A SQLite file (or cache) for responses; None caches nothing.
    structured_output : bool
        Send ``response_format`` (a JSON schema) when the caller gives one; dropped for
        the rest of the session the first time the server rejects it with HTTP 400.
    random_state : int or None
        Seeds the jitter.

    Examples
    --------
    >>> client = ChatClient("http://localhost:8000/v1", "my-model")  # doctest: +SKIP
    >>> client.chat([{"role": "user", "content": "Say hi"}]).choices[0]["content"]  # doctest: +SKIP
    'Hi!'
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        concurrency: int = 4,
        cache: str | Path | ResponseCache | None = None,
        structured_output: bool = True,
        random_state: int | None = None,
    ) -> None:
        url = resolve_base_url(base_url)
        if url is None:
            raise ValueError(
                "the LLM client needs an endpoint: pass base_url= (e.g. "
                "'https://api.openai.com/v1', or 'http://localhost:8000/v1' for vLLM) or set "
                f"the {BASE_URL_ENV} environment variable."
            )
        name = model or os.environ.get(MODEL_ENV)
        if not name:
            raise ValueError(f"the LLM client needs a model name: pass model= or set {MODEL_ENV}.")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout}.")
        if int(max_retries) != max_retries or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0; got {max_retries}.")
        if not (backoff >= 0 and max_backoff >= 0):
            raise ValueError(
                f"backoff and max_backoff must be >= 0 seconds; got {backoff}, {max_backoff}."
            )
        if int(concurrency) != concurrency or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1; got {concurrency}.")
        self.base_url = url
        self.model = str(name)
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.concurrency = int(concurrency)
        self.structured_output = bool(structured_output)
        self.random_state = random_state
        self.cache = cache if isinstance(cache, ResponseCache | None) else ResponseCache(cache)
        self._start()

    def _start(self) -> None:
        httpx = require("httpx", "llm", "an LLM oracle or llm_select")
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self._httpx = httpx
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._jitter = random.Random(self.random_state)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start()

    def __repr__(self) -> str:
        return (
            f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r})"
        )

    @property
    def url(self) -> str:
        """The chat-completions URL requests go to."""
        return f"{self.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.max_backoff, self.backoff * 2.0**attempt)
        wait = cap / 2.0 + self._jitter.uniform(0.0, cap / 2.0)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def close(self) -> None:
        """Close the HTTP connections (the cache stays usable)."""
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        logprobs: bool = False,
        seed: int | None = None,
    ) -> ChatResult:
        """One chat completion: from the cache, or from the server with retries.

        Parameters
        ----------
        messages : list of dict
            ``{"role": ..., "content": ...}`` messages.
        n : int
            Completions to sample (servers that ignore ``n`` return fewer choices).
        temperature : float
        max_tokens : int, optional
        response_format : dict, optional
            E.g. ``{"type": "json_schema", "json_schema": {...}}``; sent only while
            :attr:`structured_output` holds.
        logprobs : bool
            Ask for the log probability of each generated token.
        seed : int, optional
            Sampling seed (part of the cache key: distinct seeds, distinct answers).

        Returns
        -------
        ChatResult

        Raises
        ------
        LLMError
            On a non-retryable HTTP error (401, 404, …) or when every retry failed.
        """
        params: dict[str, Any] = {"temperature": temperature}
        if n != 1:
            params["n"] = int(n)
        if max_tokens is not None:
            params["max_tokens"] = int(max_tokens)
        if logprobs:
            params["logprobs"] = True
        if seed is not None:
            params["seed"] = int(seed)
        if response_format is not None and self.structured_output:
            params["response_format"] = response_format
        key = cache_key(self.model, messages, params, base_url=self.base_url)
        if self.cache is not None:
            stored = self.cache.get(key)
            choices = _choices(stored)
            if choices is not None:
                return ChatResult(choices, cached=True)
        body, result = self._post(messages, params)
        if self.cache is not None:
            # Keyed by what the caller asked, so the same call hits it next time even when
            # the server made us drop response_format on the way.
            self.cache.put(key, self.model, body)
        return result

    def _post(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> tuple[dict[str, Any], ChatResult]:
        request = {"model": self.model, "messages": messages, **params}
        failures, attempts, waits = 0, 0, []
        httpx = self._httpx
        while True:
            attempts += 1
            retry_after: float | None = None
            logger.debug("POST %s model=%s attempt=%d", self.url, self.model, attempts)
            try:
                with self._slots:
                    response = self._http.post(self.url, json=request, headers=self._headers())
            except httpx.TimeoutException:
                reason = f"no answer within the {self.timeout:g} s timeout"
            except httpx.TransportError as error:
                reason = f"connection failed ({type(error).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    choices = _choices(body)
                    if choices is not None:
                        usage = body.get("usage") or {}
                        result = ChatResult(
                            choices,
                            prompt_tokens=int(usage.get("prompt_tokens") or 0),
                            completion_tokens=int(usage.get("completion_tokens") or 0),
                            attempts=attempts,
                            waited=float(sum(waits)),
                            waits=waits,
                        )
                        return {"choices": body["choices"], "usage": usage}, result
                    reason = "a response body that is not a chat completion"
                elif status == 400 and "response_format" in request and _about_format(response):
                    logger.warning(
                        "%s rejected response_format (HTTP 400); sending plain requests and "
                        "validating the JSON locally from now on.",
                        self.base_url,
                    )
                    self.structured_output = False
                    request.pop("response_format")
                    continue
                elif status in RETRY_STATUSES or status >= 500:
                    reason = f"HTTP {status}"
                    retry_after = _parse_retry_after(response.headers.get("retry-after"))
                else:
                    raise LLMError(self._status_message(status, response.text))
            if failures >= self.max_retries:
                raise LLMError(
                    f"the LLM endpoint {self.url} failed {attempts} times (last: {reason}); "
                    "gave up. Raise max_retries or timeout, lower concurrency, or check the "
                    "server. Answers received so far are in the cache."
                )
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise LLMError(
                    f"the LLM endpoint {self.url} asked to wait {retry_after:.0f} s "
                    f"(Retry-After) after {reason}; that is an outage or a spent quota, not a "
                    "rate limit. Try again later."
                )
            wait = self._backoff(failures, retry_after)
            failures += 1
            logger.warning(
                "LLM request failed (%s); retry %d of %d in %.2f s",
                reason,
                failures,
                self.max_retries,
                wait,
            )
            waits.append(wait)
            _sleep(wait)

    def _status_message(self, status: int, text: str) -> str:
        hint = ""
        if status in (401, 403):
            where = f"${self.api_key_env}" if self.api_key_env else "the api_key_env variable"
            hint = f" Check the API key in {where} and that it may use model {self.model!r}."
        elif status == 404:
            hint = (
                f" Check base_url ({self.base_url!r}; OpenAI-compatible servers usually "
                f"end in /v1) and the model name ({self.model!r})."
            )
        return f"the LLM endpoint {self.url} answered HTTP {status}: {text[:300].strip()!r}.{hint}"


def _about_format(response: Any) -> bool:
    text = response.text.lower()
    return any(word in text for word in ("response_format", "json_schema", "structured"))


def schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A ``response_format`` that asks for JSON following ``schema`` (strict mode).

    Parameters
    ----------
    name : str
        A name for the schema (letters, digits, ``_`` and ``-``).
    schema : dict
        A JSON schema of an object.

    Returns
    -------
    dict

    Examples
    --------
    >>> schema_format("x", {"type": "object"})["type"]
    'json_schema'
    """
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def parse_json_object(content: str) -> dict[str, Any] | None:
    """The JSON object in a model's answer, tolerating code fences and prose around it.

    Parameters
    ----------
    content : str

    Returns
    -------
    dict or None
        None when no JSON object can be read.

    Examples
    --------
    >>> parse_json_object('Sure! ```json\\n{"label": "spam"}\\n```')
    {'label': 'spam'}
    >>> parse_json_object("spam") is None
    True
    """
    text = content.strip()
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
