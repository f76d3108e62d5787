"""Features (row positions, the text embedding's plug point) and the model's column subset."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.studio import features as feats
from activelab.studio import trainer
from activelab.studio.project import ProjectConfig

from .conftest import LABELS, synthetic_texts, truth_of


def test_positions_follow_the_order_asked_and_drop_unknown_ids() -> None:
    ids = np.array([40, 10, 30, 20])
    f = feats.Features(ids, sp.csr_matrix((4, 3)), np.zeros((4, 2), np.float32))
    assert f.positions([20, 99, 40, 10]).tolist() == [3, 0, 1]
    assert f.positions(np.array([], dtype=np.int64)).tolist() == []
    assert f.positions(iter([30])).tolist() == [2]
    assert f.positions({10: "a", 30: "b"}.keys()).tolist() == [1, 2]
    assert f.rows == {40: 0, 10: 1, 30: 2, 20: 3}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), unique=True, max_size=30),
    st.lists(st.integers(-(2**40), 2**40), max_size=30),
)
def test_positions_equal_a_dictionary_lookup(ids: list[int], wanted: list[int]) -> None:
    f = feats.Features(
        np.array(ids, dtype=np.int64), sp.csr_matrix((len(ids), 1)), np.zeros((len(ids), 1))
    )
    wanted = wanted + ids[: len(ids) // 2]
    reference = [ids.index(i) for i in wanted if i in ids]
    assert f.positions(wanted).tolist() == reference


def test_the_text_embedding_is_lsa_with_unit_rows_by_default() -> None:
    texts, _ = synthetic_texts(50)
    made = feats.text_features(texts, seed=3)
    again = feats.lsa_embedding(made.matrix, 3)
    assert np.array_equal(made.embedding, again)
    assert np.array_equal(feats.embed_texts(texts, made.matrix, 3), again)
    assert made.embedding.dtype == np.float32 and made.embedding.shape[1] <= feats.EMBEDDING_DIM
    assert np.allclose(np.linalg.norm(made.embedding, axis=1), 1.0, atol=1e-5)


def test_lsa_of_a_tiny_vocabulary_is_the_dense_rows() -> None:
    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]], dtype=np.float32))
    embedding = feats.lsa_embedding(matrix)
    assert np.allclose(embedding, [[1.0, 0.0], [0.0, 0.0], [0.6, 0.8]])


def _labelled(n: int = 150, n_labels: int = 90):
    texts, _ = synthetic_texts(n)
    f = feats.text_features(texts, seed=0)
    config = ProjectConfig(directory=".", name="p", labels=LABELS)
    labels = {int(f.item_ids[i]): (truth_of(texts[i]),) for i in range(n_labels)}
    return f, labels, config


def test_the_model_reads_only_columns_seen_in_training_and_predicts_the_same() -> None:
    f, labels, config = _labelled()
    model, rows, y, _, _ = trainer.train_model(f, labels, config, seed=1)
    seen = np.flatnonzero(np.asarray(abs(f.matrix[rows]).sum(axis=0)).ravel())
    assert model.columns.tolist() == seen.tolist()
    assert model.columns.size < f.matrix.shape[1]  # unlabelled items bring words of their own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = trainer._classifier(False).fit(f.matrix[rows], y)
    everything = np.arange(f.matrix.shape[0])
    reference = full.predict_proba(f.matrix)[:, [list(full.classes_).index(c) for c in LABELS]]
    assert np.allclose(model.predict_proba(everything), reference, atol=1e-3)
    assert model.inputs(everything[:3]).shape == (3, model.columns.size)


def test_dense_features_keep_every_column() -> None:
    # Image features are dense and standardised: no column is all zeros to leave out.
    assert trainer._used_columns(np.eye(6, 4)) is None
    assert trainer._used_columns(sp.csr_matrix(np.eye(3, 5))).tolist() == [0, 1, 2]


def test_warm_started_folds_give_the_cold_cross_validated_estimate() -> None:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    f, labels, config = _labelled()
    _model, rows, y, estimate, metric = trainer.train_model(f, labels, config, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold = cross_val_score(
            trainer._classifier(False),
            f.matrix[rows],
            y,
            cv=StratifiedKFold(5, shuffle=True, random_state=4),
        )
    assert metric == "accuracy"
    assert estimate == pytest.approx(float(np.mean(cold)), abs=0.02)
