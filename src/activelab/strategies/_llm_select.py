"""``llm_select``: a large language model picks the most informative items (ActiveLLM)."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from activelab._data import take_rows
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.strategies._base import Strategy

logger = logging.getLogger("activelab.strategies.llm_select")

SYSTEM_PROMPT = (
    "You help train a classifier with active learning: you choose which texts a person "
    "labels next.{task}{labels}\n"
    "From the numbered candidates, choose exactly {k} whose labels would teach the "
    "classifier the most: informative, diverse and representative of the data, including "
    "ambiguous or hard cases, and not redundant with each other or with the labelled "
    'examples. Answer with a JSON object {{"selected": [numbers]}} that lists exactly {k} '
    "distinct candidate numbers, most informative first, and nothing else."
)
REPAIR_PROMPT = (
    'That answer is not valid. Reply with only a JSON object {{"selected": [numbers]}} with '
    "exactly {k} distinct numbers between 1 and {m}."
)


class LLMUnavailableWarning(UserWarning):
    """``llm_select`` picked with its fallback strategy: no endpoint, or an unusable answer."""


def _row_text(X_pool: Any, index: int) -> str:
    if hasattr(X_pool, "iloc"):
        row = X_pool.iloc[index]
        return ", ".join(f"{name}={value}" for name, value in row.items())
    if isinstance(X_pool, list | tuple):
        return str(X_pool[index])
    import scipy.sparse as sp

    if sp.issparse(X_pool):
        row = X_pool[index].tocoo()
        return ", ".join(f"x{c}={v:.4g}" for c, v in zip(row.col, row.data, strict=True))
    row = np.asarray(X_pool[index])
    if row.ndim == 0 or row.dtype.kind in "USO":
        return str(row.item() if row.ndim == 0 else " ".join(map(str, row.ravel())))
    return ", ".join(f"x{j}={v:.4g}" for j, v in enumerate(row.ravel()))


def _selection(content: str, m: int) -> list[int]:
    """Distinct 1-based candidate numbers in an answer, in order (invalid entries dropped)."""
    from activelab.oracles._llm_client import parse_json_object

    value = parse_json_object(content)
    picks = None if value is None else value.get("selected")
    if not isinstance(picks, list):
        return []
    seen: list[int] = []
    for pick in picks:
        if isinstance(pick, bool):
            continue
        if isinstance(pick, str) and pick.strip().isdigit():
            pick = int(pick.strip())
        if isinstance(pick, float) and pick.is_integer():
            pick = int(pick)
        if isinstance(pick, int) and 1 <= pick <= m and pick not in seen:
            seen.append(pick)
    return seen


class LLMSelect(Strategy):
    """Ask a large language model which of a candidate list are most worth labelling.

    ActiveLLM (Bayer, Lutz & Reuter 2024): an instruction-tuned LLM reads the task, the
    labelled examples so far and a numbered list of unlabelled candidates (a random
    sample of the pool, ``n_candidates`` long), and names the ``k`` it thinks most
    informative, diverse and representative, most informative first. It needs no
    trained model, which is what the few-label (cold-start) regime lacks. The answer is
    a JSON object ``{"selected": [...]}`` (schema sent as ``response_format`` where the
    server takes it, validated locally regardless); invalid or repeated numbers are
    dropped, an answer with none usable is asked once more, and when the LLM still gives
    fewer than ``k`` the rest come from the ``fallback`` strategy over the remaining
    pool.

    Without an endpoint (``base_url=None`` and ``ACTIVELAB_LLM_BASE_URL`` unset), or when
    the endpoint fails or never answers usably, the whole batch comes from ``fallback``
    with an :class:`LLMUnavailableWarning`: so ``llm_select`` runs anywhere (the
    conformance tests run it that way), and what happened is in
    :attr:`last_query_`. The model is passed to the fallback only.

    Parameters
    ----------
    task_description : str
        The classification task in a sentence (``task`` is taken: it is the class
        attribute saying which learning problem a strategy is for).
    fallback : str
        A registry name (default ``"random"``, which needs no model; ``"margin"`` etc.
        need one).
    n_candidates : int
        Candidates shown per query (at least ``k``; the whole pool when smaller).
    n_labeled_shown : int
        Labelled examples shown: the newest ones (the last rows of ``X_labeled``, as the
        loop appends what it buys), oldest of them first.
    base_url, model, api_key_env : str
        The endpoint, as for :class:`activelab.oracles.LLMOracle` (environment variables
        ``ACTIVELAB_LLM_BASE_URL``, ``ACTIVELAB_LLM_MODEL``; the key is read from
        ``api_key_env`` per request and never stored).
    max_chars : int
        Each text is cut to this many characters in the prompt.
    temperature : float
    cache : str, optional
        SQLite file for responses (a rerun with the same seed makes no request).
    timeout : float
    max_retries : int
    price_prompt, price_completion : float
        Per 1000 tokens, for the cost in :attr:`last_query_`.
    describe : callable, optional
        ``describe(row) -> str`` for pool items that are not texts (default: the text
        itself, ``name=value`` pairs for table and numeric rows).

    Attributes
    ----------
    last_query_ : dict
        After each query: ``source`` ("llm", "llm+fallback" or "fallback"), ``reason``
        for any fallback, ``n_candidates``, tokens and ``cost``.
    total_cost_ : float
        The sum of ``cost`` over every query so far (``simulate`` adds what each query
        spent to :attr:`~activelab.loop.Round.cost`).

    References
    ----------
    Bayer, Lutz & Reuter (2024), "ActiveLLM: Large language model-based active learning
    for textual few-shot scenarios", arXiv:2405.10808 (TACL 2026).

    Examples
    --------
    >>> strategy = LLMSelect(task_description="sentiment of tweets", base_url="http://localhost:8000/v1",
    ...                      model="Qwen/Qwen2.5-7B-Instruct", fallback="margin")
    >>> picks = strategy.query(model, tweets, 10, labeled_tweets, labels)  # doctest: +SKIP
    """

    name: ClassVar[str] = "llm_select"
    summary: ClassVar[str] = (
        "an LLM names the most informative of a random candidate list; fallback strategy "
        "without an endpoint"
    )
    reference: ClassVar[str] = "Bayer, Lutz & Reuter 2024 (ActiveLLM)"

    def __init__(
        self,
        task_description: str = "",
        fallback: str = "random",
        n_candidates: int = 40,
        n_labeled_shown: int = 10,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_chars: int = 400,
        temperature: float = 0.0,
        cache: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        price_prompt: float = 0.0,
        price_completion: float = 0.0,
        describe: Callable[[Any], str] | None = None,
    ) -> None:
        self.task_description = task_description
        self.fallback = fallback
        self.n_candidates = n_candidates
        self.n_labeled_shown = n_labeled_shown
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.max_chars = max_chars
        self.temperature = temperature
        self.cache = cache
        self.timeout = timeout
        self.max_retries = max_retries
        self.price_prompt = price_prompt
        self.price_completion = price_completion
        self.describe = describe

    def _fallback_strategy(self) -> Strategy:
        from activelab import strategies

        if self.fallback == self.name:
            raise ValueError("llm_select cannot fall back to itself; name another strategy.")
        return strategies.get(self.fallback)

    def _text(self, X_pool: Any, index: int) -> str:
        if self.describe is not None:
            row = take_rows(X_pool, np.array([index]))
            row = row.iloc[0] if hasattr(row, "iloc") else row[0]
            text = str(self.describe(row))
        else:
            text = _row_text(X_pool, index)
        text = " ".join(text.split())
        return text if len(text) <= self.max_chars else text[: self.max_chars - 1] + "…"

    def messages(
        self, candidates: list[str], k: int, X_labeled: Any = None, y_labeled: Any = None
    ) -> list[dict[str, str]]:
        """The chat sent to the LLM: instructions, labelled examples, numbered candidates.

        Parameters
        ----------
        candidates : list of str
            Candidate texts, numbered from 1 in the prompt.
        k : int
            How many to choose.
        X_labeled, y_labeled : optional
            The labelled set; its newest ``n_labeled_shown`` examples are shown.

        Returns
        -------
        list of dict
        """
        description = str(self.task_description).strip()
        task = f" Task: {description}" if description else ""
        labels = ""
        shown: list[str] = []
        if y_labeled is not None and len(y_labeled):
            classes = [str(c) for c in np.unique(np.asarray(y_labeled))]
            labels = f" Labels: {', '.join(json.dumps(c) for c in classes)}."
            if X_labeled is not None:
                total = n_rows(X_labeled)
                count = min(int(self.n_labeled_shown), total)
                values = np.asarray(y_labeled)
                shown = [
                    f"- ({values[i]}) {self._text(X_labeled, i)}"
                    for i in range(total - count, total)
                ]
        system = SYSTEM_PROMPT.format(task=task, labels=labels, k=k)
        parts = []
        if shown:
            parts.append("Labelled examples:\n" + "\n".join(shown))
        parts.append(
            "Candidates:\n" + "\n".join(f"[{j + 1}] {text}" for j, text in enumerate(candidates))
        )
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    def _fall(
        self,
        reason: str,
        model: Any,
        X_pool: Any,
        k: int,
        X_labeled: Any,
        y_labeled: Any,
        rng: np.random.Generator,
        record: dict[str, Any],
    ) -> np.ndarray:
        warnings.warn(
            f"llm_select: {reason}; picking all {k} with the fallback strategy {self.fallback!r}.",
            LLMUnavailableWarning,
            stacklevel=3,
        )
        record.update(source="fallback", reason=reason)
        self.last_query_ = record
        picks = self._fallback_strategy().query(model, X_pool, k, X_labeled, y_labeled, rng)
        return np.asarray(picks, dtype=np.int64)

    def query(
        self,
        model: Any,
        X_pool: Any,
        k: int,
        X_labeled: Any = None,
        y_labeled: Any = None,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Indices of the ``k`` pool items the LLM (or the fallback) picks, best first.

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Used only by the fallback strategy.
        X_pool : list of texts, array-like, sparse matrix or DataFrame
        k : int
        X_labeled, y_labeled : optional
            Shown to the LLM as labelled examples.
        random_state : int, numpy.random.Generator or None
            Seeds the candidate sample and the fallback.

        Returns
        -------
        numpy.ndarray of shape (k,), int64
        """
        from activelab.oracles._llm_client import (
            MODEL_ENV,
            ChatClient,
            LLMError,
            resolve_base_url,
            schema_format,
        )

        n = n_rows(X_pool)
        k = check_k(k, n)
        rng = check_random_state(random_state)
        fallback = self._fallback_strategy()  # an unknown name fails before any request
        if int(self.n_candidates) != self.n_candidates or self.n_candidates < 1:
            raise ValueError(f"n_candidates must be an int >= 1; got {self.n_candidates}.")
        record: dict[str, Any] = {
            "source": "llm",
            "reason": None,
            "n_candidates": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": 0.0,
        }
        self.total_cost_ = getattr(self, "total_cost_", 0.0)
        url = resolve_base_url(self.base_url)
        model_name = self.model or os.environ.get(MODEL_ENV)
        if url is None or not model_name:
            missing = (
                "no endpoint (base_url, or $ACTIVELAB_LLM_BASE_URL)"
                if url is None
                else ("no model name (model, or $ACTIVELAB_LLM_MODEL)")
            )
            return self._fall(
                f"{missing} is configured", model, X_pool, k, X_labeled, y_labeled, rng, record
            )
        if n == 1:
            record.update(source="llm", reason="a pool of one needs no choice")
            self.last_query_ = record
            return np.zeros(1, dtype=np.int64)
        m = min(n, max(int(self.n_candidates), k))
        candidates = rng.choice(n, size=m, replace=False).astype(np.int64)
        record["n_candidates"] = m
        messages = self.messages(
            [self._text(X_pool, int(i)) for i in candidates], k, X_labeled, y_labeled
        )
        schema = {
            "type": "object",
            "properties": {
                "selected": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": m},
                    "minItems": k,
                    "maxItems": k,
                }
            },
            "required": ["selected"],
            "additionalProperties": False,
        }
        chosen: list[int] = []
        try:
            with ChatClient(
                url,
                model_name,
                api_key_env=self.api_key_env,
                timeout=self.timeout,
                max_retries=self.max_retries,
                concurrency=1,
                cache=self.cache,
            ) as client:
                for attempt in range(2):
                    result = client.chat(
                        messages,
                        temperature=self.temperature,
                        max_tokens=16 + 6 * k,
                        response_format=schema_format("selection", schema),
                    )
                    record["prompt_tokens"] += result.prompt_tokens
                    record["completion_tokens"] += result.completion_tokens
                    content = result.choices[0]["content"] if result.choices else ""
                    chosen = _selection(content, m)[:k]
                    if chosen or attempt:
                        break
                    messages = [
                        *messages,
                        {"role": "assistant", "content": content},
                        {"role": "user", "content": REPAIR_PROMPT.format(k=k, m=m)},
                    ]
        except LLMError as error:
            return self._fall(
                f"the endpoint failed ({error})",
                model,
                X_pool,
                k,
                X_labeled,
                y_labeled,
                rng,
                record,
            )
        finally:
            record["cost"] = (
                record["prompt_tokens"] / 1000.0 * self.price_prompt
                + record["completion_tokens"] / 1000.0 * self.price_completion
            )
            self.total_cost_ = getattr(self, "total_cost_", 0.0) + record["cost"]
        if not chosen:
            return self._fall(
                "the LLM answered no usable selection twice",
                model,
                X_pool,
                k,
                X_labeled,
                y_labeled,
                rng,
                record,
            )
        picks = candidates[np.asarray(chosen, dtype=np.int64) - 1]
        if picks.size < k:
            rest = np.setdiff1d(np.arange(n, dtype=np.int64), picks)
            extra = fallback.query(
                model, take_rows(X_pool, rest), k - picks.size, X_labeled, y_labeled, rng
            )
            picks = np.concatenate([picks, rest[np.asarray(extra, dtype=np.int64)]])
            record.update(
                source="llm+fallback",
                reason=f"the LLM named {len(chosen)} usable candidates of {k}",
            )
        self.last_query_ = record
        logger.info("llm_select: %s", record)
        return picks.astype(np.int64)
