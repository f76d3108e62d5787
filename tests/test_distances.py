"""Embedding checks and blocked distances against dense references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from activelab import _distances
from activelab._distances import (
    as_embedding,
    centred,
    check_widths,
    k_nearest,
    k_nearest_distances,
    nearest_centres,
    squared_distances,
    squared_norms,
)


def pairwise_sq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Plain reference: squared distances by explicit differences, float64."""
    return ((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(axis=2)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 256 bytes, so every blocked loop runs many times."""
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 256)


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)


# ---------------------------------------------------------------------------- as_embedding


def test_as_embedding_converts_and_keeps_what_is_asked():
    ints = [[1, 2], [3, 4]]
    assert as_embedding(ints, "t").dtype == np.float32
    assert as_embedding(np.ones((2, 2)), "t", dtype=None).dtype == np.float64
    assert as_embedding(np.ones((2, 2), np.float32), "t", dtype=None).dtype == np.float32
    assert as_embedding(ints, "t", dtype=None).dtype == np.float64
    assert as_embedding(np.array([[1, 2.5]], dtype=object), "t").dtype == np.float32
    sparse = sp.random(6, 4, density=0.5, random_state=0, format="coo")
    kept = as_embedding(sparse, "t", keep_sparse=True)
    assert sp.isspmatrix_csr(kept) and kept.dtype == np.float32
    np.testing.assert_allclose(as_embedding(sparse, "t"), sparse.toarray(), rtol=1e-6)
    assert as_embedding(np.ones((3, 2)), "t", keep_sparse=True).flags.c_contiguous


@pytest.mark.parametrize("sparse", [False, True])
def test_as_embedding_names_the_first_bad_row(sparse):
    X = np.ones((6, 3))
    X[4, 1] = np.nan
    X[5, 0] = np.inf
    emb = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match=r"^t: row 4 of the embeddings contains NaN"):
        as_embedding(emb, "t", keep_sparse=sparse)
    with pytest.raises(ValueError, match=r"row 0 .* too large for float32"):
        as_embedding([[1e39]], "t")


@pytest.mark.parametrize(
    ("emb", "message"),
    [
        (np.ones(3), r"of shape \(n, d\)"),
        (np.ones((0, 3)), "at least one row"),
        (np.ones((2, 2), dtype=complex), "real-valued"),
        (np.array([["a", "b"]]), "real-valued"),
    ],
)
def test_as_embedding_refuses_what_is_not_an_embedding(emb, message):
    with pytest.raises(ValueError, match=message):
        as_embedding(emb, "t")


def test_as_embedding_refuses_a_huge_dense_copy(monkeypatch):
    monkeypatch.setattr(_distances, "_MAX_DENSE_BYTES", 100)
    with pytest.raises(ValueError, match="TruncatedSVD"):
        as_embedding(sp.eye(10, format="csr"), "t")
    assert sp.issparse(as_embedding(sp.eye(10, format="csr"), "t", keep_sparse=True))


def test_check_widths_and_centred():
    with pytest.raises(ValueError, match="X_labeled embeds into 2 features but X_pool into 3"):
        check_widths(np.ones((4, 3)), np.ones((2, 2)), "t")
    pool = np.array([[1.0, 1e4], [3.0, 1e4 + 2.0]])
    centred_pool, centred_other, nothing = centred(pool, pool[:1], None)
    assert centred_pool.dtype == np.float32 and nothing is None
    np.testing.assert_array_equal(centred_pool, [[-1, -1], [1, 1]])
    np.testing.assert_array_equal(centred_other, [[-1, -1]])
    unit = centred(np.array([[3.0, 4.0], [0.0, 0.0]]), normalize=True)[0]
    np.testing.assert_allclose(unit, [[0.3, 0.4], [-0.3, -0.4]], rtol=1e-6)


# ------------------------------------------------------------------------------- distances


@pytest.mark.parametrize("sparse", [False, True])
def test_squared_distances_match_the_reference(points, sparse):
    A, B = points
    a, b = (sp.csr_matrix(A), sp.csr_matrix(B)) if sparse else (A, B)
    got = squared_distances(a, squared_norms(a), b, squared_norms(b))
    np.testing.assert_allclose(got, pairwise_sq(A, B), rtol=1e-4, atol=1e-4)
    got = squared_distances(A, squared_norms(A), b, squared_norms(b))  # dense × sparse
    np.testing.assert_allclose(got, pairwise_sq(A, B), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sparse", [False, True])
def test_nearest_centres_match_brute_force(points, sparse, tiny_blocks):
    A, centres = points
    emb = sp.csr_matrix(A) if sparse else A
    labels, sq_dist = nearest_centres(emb, squared_norms(emb), centres)
    reference = pairwise_sq(A, centres)
    np.testing.assert_array_equal(labels, reference.argmin(axis=1))
    np.testing.assert_allclose(sq_dist, reference.min(axis=1), rtol=1e-4, atol=1e-4)
    assert sq_dist.dtype == np.float32 and labels.dtype == np.int64


@pytest.mark.parametrize("k", range(1, 10))
def test_nearest_centres_for_any_number_of_centres_and_ties_to_the_lowest(points, k):
    A, _ = points
    centres = A[:k] + 0.01
    labels, _ = nearest_centres(A, squared_norms(A), centres)
    np.testing.assert_array_equal(labels, pairwise_sq(A, centres).argmin(axis=1))
    doubled = np.repeat(centres, 2, axis=0)  # every centre twice: the first copy wins
    labels, _ = nearest_centres(A, squared_norms(A), doubled)
    np.testing.assert_array_equal(labels, 2 * pairwise_sq(A, centres).argmin(axis=1))


@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_k_nearest_matches_brute_force(points, k, exclude_self, tiny_blocks):
    A, _ = points
    index, sq_dist = k_nearest(
        A, squared_norms(A), A, squared_norms(A), k, exclude_self=exclude_self
    )
    reference = pairwise_sq(A, A)
    if exclude_self:
        np.fill_diagonal(reference, np.inf)
    expected = np.argsort(reference, axis=1, kind="stable")[:, :k]
    for row in range(A.shape[0]):
        assert sorted(index[row].tolist()) == sorted(expected[row].tolist())
        np.testing.assert_allclose(
            np.sort(sq_dist[row]), reference[row, expected[row]], rtol=1e-4, atol=1e-4
        )
        assert not exclude_self or row not in index[row]
    alone = k_nearest_distances(
        A, squared_norms(A), A, squared_norms(A), k, exclude_self=exclude_self
    )
    np.testing.assert_allclose(np.sort(alone, axis=1), np.sort(sq_dist, axis=1))


def test_k_nearest_on_sparse_queries_and_float64(points):
    A, B = points
    index, _ = k_nearest(sp.csr_matrix(A), squared_norms(A), B, squared_norms(B), 2)
    expected = np.argsort(pairwise_sq(A, B), axis=1)[:, :2]
    assert [sorted(r) for r in index.tolist()] == [sorted(r) for r in expected.tolist()]
    A64 = A.astype(np.float64)
    _, exact = k_nearest(A64, squared_norms(A64), A64, squared_norms(A64), 1, exclude_self=True)
    reference = pairwise_sq(A64, A64)
    np.fill_diagonal(reference, np.inf)
    np.testing.assert_allclose(exact[:, 0], reference.min(axis=1), rtol=1e-10)


def test_k_nearest_keeps_the_earlier_of_equidistant_points():
    P = np.array([[0.0], [1.0], [-1.0], [1.0]], dtype=np.float32)
    index, _ = k_nearest(P[:1], squared_norms(P[:1]), P[1:], squared_norms(P[1:]), 1)
    assert index.tolist() == [[0]]
