"""An oracle that labels through a large language model (any OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from activelab.oracles._base import Answers, LoopContext
from activelab.oracles._llm_cache import ResponseCache
from activelab.oracles._llm_client import (
    MODEL_ENV,
    ChatClient,
    ChatResult,
    parse_json_object,
    resolve_base_url,
    schema_format,
)

logger = logging.getLogger("activelab.oracles.llm")

DEFAULT_SYSTEM_PROMPT = (
    "You are a careful annotator.{task}\n"
    "Give each text exactly one label from this list: {labels}.\n"
    'Answer with a JSON object {{"label": "<label>"}} and nothing else.'
)
DEFAULT_USER_TEMPLATE = "Text: {text}"
REPAIR_PROMPT = (
    'That answer is not valid. Reply with only a JSON object {{"label": "<label>"}} whose '
    "label is one of: {labels}."
)
CONFIDENCE_MODES = ("auto", "agreement", "logprobs")
_LABEL_VALUE = re.compile(r'"label"\s*:\s*"')


@dataclass
class LLMUsage:
    """Requests, tokens and cost of one round of LLM labelling (or of several, summed).

    Attributes
    ----------
    n_items : int
        Items asked about.
    n_labeled, n_skipped : int
        Items labeled, and items skipped after a malformed answer and its one retry.
    requests : int
        HTTP requests made, retries included (0 for answers from the cache).
    cached : int
        Calls answered from the cache.
    retries : int
        Requests repeated after a 429, a 5xx, a timeout or a broken connection.
    repairs : int
        Items asked again after a malformed answer.
    prompt_tokens, completion_tokens : int
        Tokens billed (cached answers cost none).
    cost : float
        ``prompt_tokens / 1000 * price_prompt + completion_tokens / 1000 *
        price_completion``.
    seconds : float
        Wall-clock time of the round.
    """

    n_items: int = 0
    n_labeled: int = 0
    n_skipped: int = 0
    requests: int = 0
    cached: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def add_call(self, result: ChatResult, price_prompt: float, price_completion: float) -> None:
        """Count one chat call into this record.

        Parameters
        ----------
        result : ChatResult
        price_prompt, price_completion : float
            Prices per 1000 tokens.
        """
        self.requests += result.attempts
        self.retries += max(result.attempts - 1, 0)
        self.cached += int(result.cached)
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.cost += (
            result.prompt_tokens / 1000.0 * price_prompt
            + result.completion_tokens / 1000.0 * price_completion
        )


@dataclass
class _Item:
    position: int | None = None  # class position, None: skipped
    confidence: float = float("nan")


def label_probability(content: str, logprobs: list[tuple[str, float]] | None) -> float:
    """Probability the model gave to the label value in a ``{"label": ...}`` answer.

    The product of the probabilities of the tokens that overlap the label's characters
    (the JSON around it is near-certain and left out); all tokens when the tokens do not
    spell ``content``.

    Parameters
    ----------
    content : str
        The answer text.
    logprobs : list of (token, logprob) or None

    Returns
    -------
    float
        In ``[0, 1]``; NaN without log probabilities.

    Examples
    --------
    >>> tokens = [('{"label": "', 0.0), ("spam", math.log(0.8)), ('"}', 0.0)]
    >>> round(label_probability('{"label": "spam"}', tokens), 3)
    0.8
    """
    if not logprobs:
        return float("nan")
    values = np.array([lp for _, lp in logprobs], dtype=np.float64)
    match = _LABEL_VALUE.search(content)
    if "".join(t for t, _ in logprobs) != content or match is None:
        return float(math.exp(values.sum()))
    start = match.end()
    end = content.find('"', start)
    end = len(content) if end < 0 else end
    lengths = np.array([len(t) for t, _ in logprobs])
    token_end = np.cumsum(lengths)
    token_start = token_end - lengths
    overlap = (token_start < max(end, start + 1)) & (token_end > start)
    return float(math.exp(values[overlap].sum()))


class LLMOracle:
    """Labels items by asking a large language model, through any OpenAI-compatible API.

    Each item is sent as a chat: a system prompt with the task and the label set,
    few-shot examples drawn from the labelled data (balanced over classes: from
    ``examples``, :meth:`add_examples` and, with ``few_shot_from_labels``, the labels the
    loop has bought), and the item. The answer must be a JSON object ``{"label": ...}``
    whose label is one of the classes: the request carries the JSON schema
    (``response_format``) where the server supports it, and the answer is validated
    locally regardless. A malformed answer is
    asked once more; after that the item is skipped (:attr:`Answers.skipped`), so the
    loop does not ask it again. Requests run ``concurrency`` at a time, retry with
    exponential backoff and jitter on 429/5xx/timeouts (honouring ``Retry-After``), and
    are cached in SQLite when ``cache`` names a file, so a rerun costs nothing. Every
    call to :meth:`label` appends an :class:`LLMUsage` to :attr:`rounds`.

    Confidence (in :attr:`Answers.confidence`): with ``n_samples > 1`` the
    self-consistency agreement rate (the share of the ``n_samples`` answers that agree
    with the majority, a malformed one counting as disagreeing; Wang et al. 2023); with
    one sample, the probability of the label tokens where the server returns log
    probabilities (NaN where it does not).

    Parameters
    ----------
    texts : sequence of str
        The text of every item; :meth:`label` takes indices into it (``simulate`` passes
        rows of ``X``: give the texts in the same order).
    classes : sequence
        The label set, in the order used everywhere (labels come back as these values;
        the model sees ``str(c)``).
    task : str
        What to label, in a sentence or two (e.g. "The sentiment of a tweet about
        self-driving cars.").
    base_url : str, optional
        The API root (``https://api.openai.com/v1``, ``http://localhost:8000/v1`` for
        vLLM, ``http://localhost:8080/v1`` for llama.cpp, ``http://localhost:11434/v1``
        for Ollama); defaults to the ``ACTIVELAB_LLM_BASE_URL`` environment variable.
    model : str, optional
        Defaults to the ``ACTIVELAB_LLM_MODEL`` environment variable.
    api_key_env : str or None
        Name of the environment variable with the API key (read per request; the key
        is never stored, logged, cached or shown in ``repr``).
    examples : (texts, labels), optional
        Labelled examples to draw few-shot examples from; :meth:`add_examples` adds more
        (a :class:`Router` adds every human label).
    n_examples : int
        Few-shot examples per prompt (0: zero-shot).
    few_shot_from_labels : bool
        Also draw few-shot examples from the labels the loop has bought so far, as the
        loop reports them through :meth:`observe` (``simulate`` after every fit,
        :meth:`~activelab.ActiveLearner.ask`, a :class:`Router` passing the loop on).
        Labels that are this oracle's own answer for the item are left out (showing the
        model its own answers teaches it nothing); a label another annotator gave, or
        one that overruled this oracle, is shown. Default False.
    n_samples : int
        Answers sampled per item (self-consistency when > 1).
    temperature : float, optional
        Defaults to 0 for one sample and 0.7 for several.
    confidence : {"auto", "agreement", "logprobs"}
        Where the confidence comes from (see above); ``"auto"`` picks agreement when
        ``n_samples > 1`` and log probabilities otherwise.
    structured_output : bool
        Send the JSON schema as ``response_format`` (dropped automatically if the server
        rejects it).
    max_tokens : int
        Completion length limit per answer.
    price_prompt, price_completion : float
        Price per 1000 prompt and completion tokens, for :attr:`LLMUsage.cost`.
    concurrency : int
        Items labelled at once (and most requests in flight).
    timeout : float
        Seconds per request.
    max_retries : int
        Further attempts after a transient failure; then :class:`LLMError`.
    backoff, max_backoff : float
        Exponential backoff: first wait and cap, in seconds.
    cache : str, pathlib.Path or None
        SQLite file for responses (None: no cache).
    system_prompt : str, optional
        Template with ``{task}`` and ``{labels}``.
    user_template : str
        Template of each item's message, with ``{text}``.
    random_state : int or None
        Seeds the backoff jitter.

    Attributes
    ----------
    rounds : list of LLMUsage
        One record per :meth:`label` (or :meth:`annotate`) call.

    References
    ----------
    Gilardi, Alizadeh & Kubli (2023), "ChatGPT outperforms crowd workers for
    text-annotation tasks", PNAS 120(30). Wang et al. (2023), "Self-consistency improves
    chain of thought reasoning in language models", ICLR.

    Examples
    --------
    >>> oracle = LLMOracle(  # doctest: +SKIP
    ...     tweets, ["negative", "neutral", "positive"],
    ...     task="The sentiment of a tweet about self-driving cars.",
    ...     base_url="http://localhost:8000/v1", model="Qwen/Qwen2.5-7B-Instruct",
    ...     cache="llm-cache.sqlite", price_prompt=0.00015, price_completion=0.0006)
    >>> answers = oracle.label(np.array([0, 1, 2]))  # doctest: +SKIP
    >>> oracle.rounds[-1].cost  # doctest: +SKIP
    """

    def __init__(
        self,
        texts: Sequence[str],
        classes: Sequence[Any],
        task: str = "",
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        examples: tuple[Sequence[str], Sequence[Any]] | None = None,
        n_examples: int = 4,
        few_shot_from_labels: bool = False,
        n_samples: int = 1,
        temperature: float | None = None,
        confidence: str = "auto",
        structured_output: bool = True,
        max_tokens: int = 64,
        price_prompt: float = 0.0,
        price_completion: float = 0.0,
        concurrency: int = 4,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        cache: str | Path | None = None,
        system_prompt: str | None = None,
        user_template: str = DEFAULT_USER_TEMPLATE,
        random_state: int | None = None,
    ) -> None:
        self.texts = [str(t) for t in texts]
        self.classes = np.asarray(classes)
        if self.classes.ndim != 1 or self.classes.shape[0] < 2:
            raise ValueError(
                f"classes must be a list of at least 2 labels; got {list(np.atleast_1d(classes))}."
            )
        self._label_strings = [str(c) for c in self.classes.tolist()]
        if len(set(self._label_strings)) != len(self._label_strings):
            raise ValueError(
                f"classes must differ as text (the model sees str(c)); got {self._label_strings}."
            )
        self.base_url = resolve_base_url(base_url)
        if self.base_url is None:
            raise ValueError(
                "LLMOracle needs an endpoint: pass base_url= (e.g. 'https://api.openai.com/v1', "
                "or 'http://localhost:8000/v1' for a local vLLM server) or set the "
                "ACTIVELAB_LLM_BASE_URL environment variable."
            )
        self.model = model or os.environ.get(MODEL_ENV) or None
        if not self.model:
            raise ValueError(f"LLMOracle needs a model name: pass model= or set {MODEL_ENV}.")
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1; got {n_samples}.")
        if int(n_examples) != n_examples or n_examples < 0:
            raise ValueError(f"n_examples must be an int >= 0; got {n_examples}.")
        if confidence not in CONFIDENCE_MODES:
            raise ValueError(f"confidence must be one of {CONFIDENCE_MODES}; got {confidence!r}.")
        if confidence == "agreement" and n_samples < 2:
            raise ValueError(
                "confidence='agreement' needs n_samples >= 2 (the agreement of one sample "
                "with itself is always 1); raise n_samples or use confidence='logprobs'."
            )
        if not (price_prompt >= 0 and price_completion >= 0):
            raise ValueError(
                "price_prompt and price_completion are prices per 1000 tokens, >= 0; got "
                f"{price_prompt} and {price_completion}."
            )
        if int(concurrency) != concurrency or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1; got {concurrency}.")
        self.task = str(task)
        self.api_key_env = api_key_env
        self.n_examples = int(n_examples)
        self.few_shot_from_labels = bool(few_shot_from_labels)
        self.n_samples = int(n_samples)
        self.temperature = (0.0 if n_samples == 1 else 0.7) if temperature is None else temperature
        self.confidence = confidence
        self.structured_output = bool(structured_output)
        self.max_tokens = int(max_tokens)
        self.price_prompt = float(price_prompt)
        self.price_completion = float(price_completion)
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.cache = None if cache is None else str(cache)
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.user_template = user_template
        self.random_state = random_state
        try:
            self._system_message()
            self.user_template.format(text="x")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                "system_prompt may use {task} and {labels}, user_template {text} (double "
                f"other braces: {{{{ }}}}); formatting failed: {error!r}."
            ) from None
        self._examples: list[tuple[str, int]] = []
        self._loop_examples: list[tuple[str, int]] = []  # from observe()
        self._given: dict[int, int] = {}  # item -> class position this oracle answered
        if examples is not None:
            example_texts, example_labels = examples
            self._add(list(example_texts), list(example_labels))
        self.rounds: list[LLMUsage] = []
        self._client: ChatClient | None = None

    # -- plumbing ---------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"LLMOracle(model={self.model!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, classes={self._label_strings!r}, "
            f"n_items={len(self.texts)}, n_samples={self.n_samples})"
        )

    @property
    def client(self) -> ChatClient:
        """The HTTP client (made on first use)."""
        if self._client is None:
            self._client = ChatClient(
                self.base_url,
                self.model,
                api_key_env=self.api_key_env,
                timeout=self.timeout,
                max_retries=self.max_retries,
                backoff=self.backoff,
                max_backoff=self.max_backoff,
                concurrency=self.concurrency,
                cache=None if self.cache is None else ResponseCache(self.cache),
                structured_output=self.structured_output,
                random_state=self.random_state,
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP connections and the cache file."""
        if self._client is not None:
            self._client.close()
            if self._client.cache is not None:
                self._client.cache.close()
            self._client = None

    @property
    def usage(self) -> LLMUsage:
        """All rounds summed."""
        total = LLMUsage()
        for record in self.rounds:
            total = total + record
        return total

    @property
    def total_cost(self) -> float:
        """Money spent on requests so far (cached answers cost nothing)."""
        return float(sum(r.cost for r in self.rounds))

    # -- examples and prompts ---------------------------------------------------------

    def _position(self, label: Any) -> int:
        text = str(label.item() if isinstance(label, np.generic) else label)
        try:
            return self._label_strings.index(text)
        except ValueError:
            raise ValueError(
                f"example label {label!r} is not one of the classes {self._label_strings}."
            ) from None

    def _add(self, texts: list[str], labels: list[Any]) -> None:
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} example texts but {len(labels)} labels.")
        self._examples.extend(
            (str(t), self._position(lab)) for t, lab in zip(texts, labels, strict=True)
        )

    def add_examples(self, indices: Any, labels: Any) -> None:
        """Add labelled items (indices into ``texts``) to the few-shot example store.

        Parameters
        ----------
        indices : array of int
        labels : array-like
            Their labels, from the classes.
        """
        positions = self._check_indices(indices)
        self._add([self.texts[i] for i in positions], list(np.asarray(labels).tolist()))

    def observe(self, context: LoopContext) -> None:
        """Take few-shot examples from the loop's labels (with ``few_shot_from_labels``).

        Replaces the examples taken from an earlier context (the loop's labels only grow);
        ``examples=`` and :meth:`add_examples` are kept. Items whose label is this
        oracle's own answer are left out. Without ``few_shot_from_labels`` it does nothing.

        Parameters
        ----------
        context : LoopContext
            ``labeled`` are indices into ``texts``.
        """
        if not self.few_shot_from_labels:
            return
        positions = self._check_indices(context.labeled)
        labels = np.asarray(context.y_labeled).tolist()
        if len(labels) != positions.size:
            raise ValueError(
                f"the loop reported {positions.size} labelled items and {len(labels)} labels."
            )
        shots = []
        for i, label in zip(positions.tolist(), labels, strict=True):
            position = self._position(label)
            if self._given.get(i) != position:
                shots.append((self.texts[i], position))
        self._loop_examples = shots

    def _shots(self, text: str) -> list[tuple[str, int]]:
        """Up to n_examples examples, one class after another (balanced), never ``text``."""
        if self.n_examples == 0 or not (self._examples or self._loop_examples):
            return []
        by_class: list[list[str]] = [[] for _ in self._label_strings]
        for example, position in self._examples + self._loop_examples:
            if example != text and example not in by_class[position]:
                by_class[position].append(example)
        shots: list[tuple[str, int]] = []
        depth = 0
        while len(shots) < self.n_examples and any(len(c) > depth for c in by_class):
            for position, pool in enumerate(by_class):
                if len(pool) > depth and len(shots) < self.n_examples:
                    shots.append((pool[depth], position))
            depth += 1
        return shots

    def _system_message(self) -> str:
        task = f" Task: {self.task.strip()}" if self.task.strip() else ""
        labels = ", ".join(json.dumps(s) for s in self._label_strings)
        return self.system_prompt.format(task=task, labels=labels)

    def messages(self, text: str) -> list[dict[str, str]]:
        """The chat sent for one item: system prompt, few-shot examples, the item.

        Parameters
        ----------
        text : str

        Returns
        -------
        list of dict
        """
        chat = [{"role": "system", "content": self._system_message()}]
        for example, position in self._shots(text):
            chat.append({"role": "user", "content": self.user_template.format(text=example)})
            answer = json.dumps({"label": self._label_strings[position]})
            chat.append({"role": "assistant", "content": answer})
        chat.append({"role": "user", "content": self.user_template.format(text=text)})
        return chat

    def _response_format(self) -> dict[str, Any]:
        return schema_format(
            "label",
            {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": self._label_strings}},
                "required": ["label"],
                "additionalProperties": False,
            },
        )

    # -- answers ----------------------------------------------------------------------

    def _parse(self, content: str) -> int | None:
        value = parse_json_object(content)
        label = None if value is None else value.get("label")
        if not isinstance(label, str | int | float) or isinstance(label, bool):
            return None
        label = str(label)
        if label in self._label_strings:
            return self._label_strings.index(label)
        folded = [s.strip().casefold() for s in self._label_strings]
        matches = [i for i, s in enumerate(folded) if s == label.strip().casefold()]
        return matches[0] if len(matches) == 1 else None

    def _call(self, messages: list[dict[str, str]], usage: LLMUsage, **params: Any) -> ChatResult:
        result = self.client.chat(
            messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            response_format=self._response_format(),
            **params,
        )
        usage.add_call(result, self.price_prompt, self.price_completion)
        return result

    def _one(self, text: str) -> tuple[_Item, LLMUsage]:
        usage = LLMUsage(n_items=1)
        logprobs = self.confidence == "logprobs" or (
            self.confidence == "auto" and self.n_samples == 1
        )
        messages = self.messages(text)
        choices = list(self._call(messages, usage, n=self.n_samples, logprobs=logprobs).choices)
        for seed in range(len(choices), self.n_samples):
            # The server ignored n (Ollama, llama.cpp): one more sample per seed.
            choices += self._call(messages, usage, seed=seed, logprobs=logprobs).choices
        votes = [self._parse(c["content"]) for c in choices]
        if all(v is None for v in votes):
            usage.repairs += 1
            repair = [
                *messages,
                {"role": "assistant", "content": choices[0]["content"] if choices else ""},
                {"role": "user", "content": REPAIR_PROMPT.format(labels=self._label_list())},
            ]
            choices = list(self._call(repair, usage, logprobs=logprobs).choices)
            votes = [self._parse(c["content"]) for c in choices]
        valid = [(v, c) for v, c in zip(votes, choices, strict=True) if v is not None]
        if not valid:
            usage.n_skipped += 1
            return _Item(), usage
        counts = np.bincount([v for v, _ in valid], minlength=len(self._label_strings))
        best = counts.max()
        top = next(v for v, _ in valid if counts[v] == best)  # ties: the first sampled
        # Of the samples asked for: malformed ones (and a repaired item's lost samples)
        # count as disagreeing.
        agreement = float(best) / max(self.n_samples, len(valid))
        probabilities = [
            label_probability(c["content"], c["logprobs"])
            for v, c in valid
            if v == top and c["logprobs"]
        ]
        probability = float(np.mean(probabilities)) if probabilities else float("nan")
        if self.confidence == "agreement" or (self.confidence == "auto" and self.n_samples > 1):
            confidence = agreement
        else:
            confidence = probability
        usage.n_labeled += 1
        return _Item(top, confidence), usage

    def _label_list(self) -> str:
        return ", ".join(json.dumps(s) for s in self._label_strings)

    def annotate(self, texts: Sequence[str]) -> Answers:
        """Label texts directly (not by index): positions into ``texts`` come back.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        Answers
            ``indices`` and ``skipped`` are positions in ``texts``; ``confidence`` and
            ``cost`` are filled in. Appends one :class:`LLMUsage` to :attr:`rounds`.

        Raises
        ------
        LLMError
            When the endpoint keeps failing (answers received so far are cached).
        """
        began = time.perf_counter()
        texts = [str(t) for t in texts]
        unique = list(dict.fromkeys(texts))
        if unique:
            _ = self.client  # made here, once, not lazily inside the worker threads
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
                done = list(pool.map(self._one, unique))
        else:
            done = []
        usage = LLMUsage()
        for _, item_usage in done:
            usage = usage + item_usage
        result = {text: item for text, (item, _) in zip(unique, done, strict=True)}
        items = [result[t] for t in texts]
        answered = np.array([i for i, it in enumerate(items) if it.position is not None], np.int64)
        skipped = np.array([i for i, it in enumerate(items) if it.position is None], np.int64)
        labels = self.classes[[items[i].position for i in answered]]
        confidence = np.array([items[i].confidence for i in answered], dtype=np.float64)
        # Repeated texts in one batch are asked once; count every item in the round.
        usage.n_items = len(texts)
        usage.n_labeled, usage.n_skipped = int(answered.size), int(skipped.size)
        usage.seconds = time.perf_counter() - began
        self.rounds.append(usage)
        logger.info(
            "LLM round %d: %d items (%d skipped), %d requests, %d cached, %d retries, "
            "%d prompt + %d completion tokens, cost %.6f",
            len(self.rounds),
            usage.n_items,
            usage.n_skipped,
            usage.requests,
            usage.cached,
            usage.retries,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost,
        )
        return Answers(answered, labels, skipped, confidence, usage.cost)

    def _check_indices(self, indices: Any) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"an oracle takes integer indices; got dtype {indices.dtype}. Pass positions "
                "into texts."
            )
        indices = indices.astype(np.int64).ravel()
        n = len(self.texts)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            bad = int(indices.max() if indices.max() >= n else indices.min())
            raise IndexError(f"the oracle knows {n} items; asked for index {bad}.")
        return indices

    def label(self, indices: np.ndarray) -> Answers:
        """Labels for ``indices`` (into ``texts``) from the LLM; malformed twice: skipped.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            With the LLM's ``confidence`` per label and the round's ``cost``.
        """
        indices = self._check_indices(indices)
        answers = self.annotate([self.texts[i] for i in indices])
        positions = {label: j for j, label in enumerate(self.classes.tolist())}
        for i, label in zip(
            indices[answers.indices].tolist(), answers.labels.tolist(), strict=True
        ):
            self._given[int(i)] = positions[label]
        return Answers(
            indices[answers.indices],
            answers.labels,
            indices[answers.skipped],
            answers.confidence,
            answers.cost,
        )
