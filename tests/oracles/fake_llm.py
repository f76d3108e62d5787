"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It answers deterministically from the item text and can be scripted to fail: HTTP 429
(with ``Retry-After``), 500, a timeout (it sleeps past the client's limit), a body that is
not JSON, a 400 for ``response_format``. It is a *simulated* LLM: with ``truth`` and
``error_rate`` it answers the true label of an item except on a hash-chosen share of
"hard" items, where every sample is a uniform random label (so the expected error rate is
``error_rate``, samples disagree on hard items, and the token probability it reports is
low there). Nothing here is a language model.

Item text: the last user message, less a leading ``"Text: "``. Markers in the text:
``[garbage]`` (always a malformed answer), ``[garbage-once]`` (malformed the first time
this text is asked), ``[not-a-label]`` (a well-formed answer with a label not in the set).
Selection prompts (``llm_select``, recognised by their ``response_format`` name or a
``[1] ...`` candidate list) are answered with ``selection(candidates, k)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CANDIDATE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def stable_uniform(*parts: Any) -> float:
    """A number in [0, 1) that depends only on ``parts`` (not on PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def tokens(text: str) -> int:
    """A crude token count: one per four characters, at least one."""
    return max(1, len(text) // 4)


def first_picks(candidates: list[tuple[int, str]], k: int) -> list[int]:
    """Candidates whose text holds ``[pick]`` first, then the others, in list order."""
    marked = [i for i, text in candidates if "[pick]" in text]
    rest = [i for i, _ in candidates if i not in marked]
    return (marked + rest)[:k]


class FakeLLM:
    """The server's behaviour and its record of what it was asked.

    Parameters
    ----------
    labels : list of str
        The label set.
    truth : dict, optional
        Item text -> true label. Without it, the label is the first label named in the
        text (as a word), else a hash-chosen one.
    error_rate : float
        Share of wrong answers of the simulated LLM (via hard items, see the module).
    seed : int
        Seeds the choice of hard items and their random answers.
    confident : float
        Token probability reported for the label of an easy item.
    spread : bool
        Report overlapping probabilities instead (easy items uniform in [0.55, 1], hard
        ones in [1/C, 0.85], hash-chosen): informative but imperfect, as real LLM
        confidence is. Off: easy items ``confident``, hard ones exactly 1/C.
    """

    def __init__(
        self,
        labels: list[str],
        truth: dict[str, str] | None = None,
        error_rate: float = 0.0,
        seed: int = 0,
        confident: float = 0.97,
        spread: bool = False,
    ) -> None:
        self.labels = list(labels)
        self.truth = dict(truth or {})
        self.error_rate = error_rate
        self.seed = seed
        self.confident = confident
        self.spread = spread
        n = len(self.labels)
        self.hard_share = min(1.0, error_rate * n / (n - 1)) if n > 1 else 0.0
        self.script: deque[str] = deque()  # "429", "500", "timeout", "badbody", "400format"
        self.retry_after: str | None = "0"
        self.delay = 0.0
        self.timeout_delay = 1.0
        self.reject_response_format = False
        self.honour_n = True
        self.give_logprobs = True
        self.selection: Callable[[list[tuple[int, str]], int], list[Any]] = first_picks
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.usage: list[dict[str, int]] = []
        self.asked: Counter[str] = Counter()
        self.statuses: list[int] = []
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()

    @property
    def n_requests(self) -> int:
        """Requests received so far (failed ones included)."""
        return len(self.requests)

    def true_label(self, text: str) -> str:
        """The label the simulated LLM would give with no error."""
        if text in self.truth:
            return self.truth[text]
        lowered = text.lower()
        for label in self.labels:
            if re.search(rf"\b{re.escape(label.lower())}\b", lowered):
                return label
        return self.labels[int(stable_uniform(self.seed, "label", text) * len(self.labels))]

    def is_hard(self, text: str) -> bool:
        """True for the items the simulated LLM answers at random."""
        return stable_uniform(self.seed, "hard", text) < self.hard_share

    def answer(self, text: str, sample: Any) -> tuple[str, float]:
        """The label for one sample and the probability reported for it."""
        chance = 1.0 / len(self.labels)
        u = stable_uniform(self.seed, "confidence", text, sample)
        if self.is_hard(text):
            pick = int(stable_uniform(self.seed, "sample", text, sample) * len(self.labels))
            return self.labels[pick], chance + (0.85 - chance) * u if self.spread else chance
        return self.true_label(text), 0.55 + 0.45 * u if self.spread else self.confident

    # -- one request ------------------------------------------------------------------

    def handle(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """Status, headers and body for one request."""
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            action = self.script.popleft() if self.script else None
        if action == "429":
            extra = {} if self.retry_after is None else {"Retry-After": self.retry_after}
            return 429, extra, b'{"error": {"message": "rate limited"}}'
        if action == "500":
            return 500, {}, b'{"error": {"message": "internal error"}}'
        if action == "badbody":
            return 200, {}, b"<html>upstream hiccup</html>"
        if action == "timeout":
            time.sleep(self.timeout_delay)
        if "response_format" in body and (self.reject_response_format or action == "400format"):
            message = b'{"error": {"message": "response_format json_schema is not supported"}}'
            return 400, {}, message
        messages = body.get("messages", [])
        prompt = sum(tokens(m.get("content", "")) for m in messages)
        n = int(body.get("n", 1)) if self.honour_n else 1
        if self._is_selection(body, messages):
            contents = [self._select(body, messages) for _ in range(n)]
            logprobs = [None] * n
        else:
            contents, logprobs = [], []
            text = self._item_text(messages)
            with self.lock:
                self.asked[text] += 1
                times = self.asked[text]
            for choice in range(n):
                content, logprob = self._label_answer(text, body, choice, times)
                contents.append(content)
                logprobs.append(logprob)
        completion = sum(tokens(c) for c in contents)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        with self.lock:
            self.usage.append(usage)
        choices = []
        for i, (content, logprob) in enumerate(zip(contents, logprobs, strict=True)):
            choice: dict[str, Any] = {
                "index": i,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
            if logprob is not None and body.get("logprobs") and self.give_logprobs:
                choice["logprobs"] = {"content": logprob}
            choices.append(choice)
        payload = {
            "id": f"fake-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": choices,
            "usage": usage,
        }
        return 200, {}, json.dumps(payload).encode()

    @staticmethod
    def _item_text(messages: list[dict[str, Any]]) -> str:
        users = [m for m in messages if m.get("role") == "user"]
        content = users[-1]["content"] if users else ""
        if len(messages) >= 2 and messages[-2].get("role") == "assistant" and len(users) > 1:
            # A repair turn: the item is the user message before the bad answer.
            if "not valid" in content:
                content = users[-2]["content"]
        return content[len("Text: ") :] if content.startswith("Text: ") else content

    def _label_answer(
        self, text: str, body: dict[str, Any], choice: int, times: int
    ) -> tuple[str, list[dict[str, Any]] | None]:
        repair = "not valid" in str(body["messages"][-1].get("content", ""))
        if "[garbage]" in text or ("[garbage-once]" in text and times == 1 and not repair):
            return 'I think it is "' + self.labels[0] + '", probably', None
        if "[not-a-label]" in text:
            return json.dumps({"label": "banana"}), None
        label, probability = self.answer(text, (body.get("seed"), choice))
        head, tail = '{"label": "', '"}'
        logprob = [
            {"token": head, "logprob": math.log(0.999)},
            {"token": label, "logprob": math.log(probability)},
            {"token": tail, "logprob": math.log(0.999)},
        ]
        return head + label + tail, logprob

    @staticmethod
    def _is_selection(body: dict[str, Any], messages: list[dict[str, Any]]) -> bool:
        name = body.get("response_format", {}).get("json_schema", {}).get("name")
        if name is not None:
            return name == "selection"
        return bool(messages) and bool(CANDIDATE.search(messages[-1].get("content", "")))

    def _select(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        candidates = [(int(i), t) for i, t in CANDIDATE.findall(text)]
        match = re.search(r"exactly (\d+)", " ".join(m["content"] for m in messages))
        k = int(match.group(1)) if match else 1
        picks = self.selection(candidates, k)
        if isinstance(picks, str):
            return picks
        return json.dumps({"selected": picks})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path != "/v1/chat/completions":
            self._send(404, {}, b'{"error": {"message": "no such route"}}')
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {}, b'{"error": {"message": "body is not JSON"}}')
            return
        fake = self.server.fake  # type: ignore[attr-defined]
        with fake.lock:
            fake.inflight += 1
            fake.max_inflight = max(fake.max_inflight, fake.inflight)
        try:
            if fake.delay:
                time.sleep(fake.delay)
            status, headers, payload = fake.handle(body, dict(self.headers))
        finally:
            with fake.lock:
                fake.inflight -= 1
        with fake.lock:
            fake.statuses.append(status)
        self._send(status, headers, payload)

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted timeout)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hung up on a scripted timeout is not an error here


@contextmanager
def serve(fake: FakeLLM) -> Iterator[str]:
    """Run ``fake`` on 127.0.0.1 (a free port) in a thread; yields the base URL (``/v1``)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
