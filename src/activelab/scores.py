"""Acquisition scores: pure functions from model outputs to one utility per pool item.

Every function here takes arrays and returns a float64 array of shape ``(n,)`` where a
higher value means a more informative item. Nothing here knows about models: strategies
(:mod:`activelab.strategies`) ask a model adapter for probabilities or posterior samples
and pass them in.

Two input shapes are used throughout:

``proba`` : ``(n, C)``
    Class probabilities of one model, e.g. ``predict_proba`` output.
``samples`` : ``(m, n, C)``
    ``m`` probability vectors per item: the members of a committee, or posterior draws
    (MC dropout, deep ensembles, the trees of a forest).

Each function validates its input in the same pass that computes the score: a row that
holds NaN or inf, a negative value, or does not sum to one (within 1e-4) raises a
ValueError that names the first bad row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activelab import _kernels
from activelab._parallel import map_row_blocks
from activelab._validation import as_float_array, raise_row_problem

__all__ = [
    "UNCERTAINTY",
    "bald",
    "entropy",
    "kl_consensus",
    "least_confidence",
    "margin",
    "mean_std",
    "ratio",
    "uncertainty",
    "variation_ratio",
    "vote_entropy",
]

_PROBA = "probabilities of shape (n, C)"
_SAMPLES = "committee or posterior samples of shape (m, n, C)"
_CHUNK_ROWS = 8192  # rows per block in entropy: the block and its logs stay in L2 cache


def _raise_first_problem(name: str, reports: list[tuple[int, int]], array: np.ndarray) -> None:
    """Raise for the first bad row among per-block ``(absolute_row, problem)`` reports."""
    for bad_row, problem in reports:
        if problem:
            raise_row_problem(name, bad_row, problem, array)


def _top2(proba: np.ndarray, mode: int, name: str) -> np.ndarray:
    array = as_float_array(proba, name=name, ndim=2, what=_PROBA)
    out = np.empty(array.shape[0], dtype=np.float64)

    def block(start: int, stop: int) -> tuple[int, int]:
        if mode == 0:
            bad_row, problem = _kernels.least_confidence(array[start:stop], out[start:stop])
        else:
            bad_row, problem = _kernels.top2_scores(array[start:stop], mode, out[start:stop])
        return start + bad_row, problem

    _raise_first_problem(name, map_row_blocks(block, array.shape[0]), array)
    return out


def _entropy_block(array: np.ndarray, out: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """Entropy of rows ``start:stop`` in cache-sized chunks: numpy's SIMD log, then a kernel."""
    logs = np.empty((min(stop - start, _CHUNK_ROWS), array.shape[1]), dtype=array.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for begin in range(start, stop, _CHUNK_ROWS):
            block = array[begin : min(begin + _CHUNK_ROWS, stop)]
            block_logs = logs[: block.shape[0]]
            np.log(block, out=block_logs)
            bad_row, problem = _kernels.entropy_from_logs(
                block, block_logs, out[begin : begin + block.shape[0]]
            )
            if problem:
                return begin + bad_row, problem
    return -1, 0


def least_confidence(proba: np.ndarray) -> np.ndarray:
    r"""Least confidence: one minus the probability of the most likely class.

    .. math:: u(x) = 1 - \max_c p(c \mid x)

    Ranges over ``[0, 1 - 1/C]``.

    Parameters
    ----------
    proba : array of shape (n, C)
        Class probabilities; rows sum to one.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Higher means less confident, more informative.

    References
    ----------
    Lewis & Gale (1994), "A sequential algorithm for training text classifiers", SIGIR.
    Culotta & McCallum (2005), "Reducing labeling effort for structured prediction tasks", AAAI.

    Examples
    --------
    >>> least_confidence([[0.9, 0.1], [0.5, 0.5]])
    array([0.1, 0.5])
    """
    return _top2(proba, 0, "least_confidence")


def margin(proba: np.ndarray) -> np.ndarray:
    r"""Margin: one minus the gap between the two most likely classes.

    .. math:: u(x) = 1 - \left(p(c_1 \mid x) - p(c_2 \mid x)\right)

    where :math:`c_1, c_2` are the most and second most likely classes. Ranges over
    ``[0, 1]``; small-text calls this *breaking ties*.

    Parameters
    ----------
    proba : array of shape (n, C)
        Class probabilities; rows sum to one.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Higher means a smaller margin, more informative.

    References
    ----------
    Scheffer, Decomain & Wrobel (2001), "Active hidden Markov models for information
    extraction", IDA.

    Examples
    --------
    >>> margin([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
    array([0.5, 1. ])
    """
    return _top2(proba, 1, "margin")


def ratio(proba: np.ndarray) -> np.ndarray:
    r"""Ratio of the second most likely class to the most likely one.

    .. math:: u(x) = p(c_2 \mid x) / p(c_1 \mid x)

    Ranges over ``[0, 1]``; ranks like margin on two classes but not on more.

    Parameters
    ----------
    proba : array of shape (n, C)
        Class probabilities; rows sum to one.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Settles (2009), "Active Learning Literature Survey", §3.1; the confidence ratio as
    used by Monarch (2021), "Human-in-the-Loop Machine Learning", ch. 3.

    Examples
    --------
    >>> ratio([[0.8, 0.2], [0.5, 0.5]])
    array([0.25, 1.  ])
    """
    return _top2(proba, 2, "ratio")


def entropy(proba: np.ndarray) -> np.ndarray:
    r"""Shannon entropy of the predictive distribution, in nats.

    .. math:: u(x) = -\sum_c p(c \mid x) \log p(c \mid x)

    with :math:`0 \log 0 = 0`. Ranges over ``[0, \log C]``.

    Parameters
    ----------
    proba : array of shape (n, C)
        Class probabilities; rows sum to one.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Shannon (1948); as an acquisition function: Settles & Craven (2008), "An analysis of
    active learning strategies for sequence labeling tasks", EMNLP.

    Examples
    --------
    >>> entropy([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    array = as_float_array(proba, name="entropy", ndim=2, what=_PROBA)
    out = np.empty(array.shape[0], dtype=np.float64)
    reports = map_row_blocks(
        lambda start, stop: _entropy_block(array, out, start, stop), array.shape[0]
    )
    _raise_first_problem("entropy", reports, array)
    return out


def _samples(samples: np.ndarray, name: str) -> np.ndarray:
    array = as_float_array(samples, name=name, ndim=3, what=_SAMPLES)
    if array.shape[0] < 1:
        raise ValueError(f"{name} needs at least one member; got shape {array.shape}.")
    array = np.ascontiguousarray(array)
    rows = array.reshape(-1, array.shape[2])

    def block(start: int, stop: int) -> tuple[int, int]:
        bad_row, problem = _kernels.check_rows(rows[start:stop])
        return start + bad_row, problem

    for bad_row, problem in map_row_blocks(block, rows.shape[0]):
        if problem:
            raise_row_problem(name, bad_row, problem, rows, n_pool=array.shape[1])
    return array


def _per_item(kernel, samples: np.ndarray, *mode: int) -> np.ndarray:
    """Run a samples kernel over blocks of pool items (threads for large pools)."""
    out = np.empty(samples.shape[1], dtype=np.float64)

    def block(start: int, stop: int) -> None:
        kernel(samples[:, start:stop], *mode, out[start:stop])

    map_row_blocks(block, samples.shape[1])
    return out


def vote_entropy(samples: np.ndarray) -> np.ndarray:
    r"""Vote entropy: entropy of the members' hard votes.

    .. math:: u(x) = -\sum_c \frac{V(c, x)}{m} \log \frac{V(c, x)}{m}

    where :math:`V(c, x)` counts the members whose most likely class for :math:`x` is
    :math:`c`. A member's tie between classes goes to the lowest class index, as
    ``numpy.argmax`` does. Ranges over ``[0, \log \min(m, C)]``.

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Probabilities from ``m`` committee members or posterior draws.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Dagan & Engelson (1995), "Committee-based sampling for training probabilistic
    classifiers", ICML.

    Examples
    --------
    >>> vote_entropy([[[0.9, 0.1]], [[0.2, 0.8]]]).round(4)
    array([0.6931])
    """
    return _per_item(_kernels.vote_scores, _samples(samples, "vote_entropy"), 0)


def kl_consensus(samples: np.ndarray) -> np.ndarray:
    r"""Mean Kullback–Leibler divergence of each member from the consensus.

    .. math:: u(x) = \frac{1}{m} \sum_{i=1}^{m} \mathrm{KL}\left(p_i(\cdot \mid x)
        \,\|\, \bar p(\cdot \mid x)\right), \quad \bar p = \frac{1}{m} \sum_i p_i

    With equal member weights this equals :func:`bald` (the identity
    :math:`\frac1m\sum_i \mathrm{KL}(p_i\|\bar p) = H[\bar p] - \frac1m\sum_i H[p_i]`); it
    is computed here term by term from its own definition.

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Probabilities from ``m`` committee members or posterior draws.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    McCallum & Nigam (1998), "Employing EM and pool-based active learning for text
    classification", ICML.

    Examples
    --------
    >>> kl_consensus([[[1.0, 0.0]], [[0.0, 1.0]]]).round(4)
    array([0.6931])
    """
    return _per_item(_kernels.mean_kl_to_consensus, _samples(samples, "kl_consensus"))


def bald(samples: np.ndarray) -> np.ndarray:
    r"""BALD: mutual information between the label and the model parameters.

    .. math:: u(x) = H\left[\frac1m \sum_i p_i(\cdot \mid x)\right]
        - \frac1m \sum_i H\left[p_i(\cdot \mid x)\right]

    the entropy of the mean prediction minus the mean entropy of the members (posterior
    draws). Zero when all draws agree; at most the entropy of the mean.

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Probabilities from ``m`` posterior draws (MC dropout passes, ensemble members).

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Houlsby, Huszár, Ghahramani & Lengyel (2011), "Bayesian active learning for
    classification and preference learning", arXiv:1112.5745.
    Gal, Islam & Ghahramani (2017), "Deep Bayesian active learning with image data", ICML.

    Examples
    --------
    >>> bald([[[1.0, 0.0]], [[0.0, 1.0]]]).round(4)
    array([0.6931])
    """
    return _per_item(_kernels.mutual_information, _samples(samples, "bald"))


def variation_ratio(samples: np.ndarray) -> np.ndarray:
    r"""Variation ratio: the share of members that disagree with the modal vote.

    .. math:: u(x) = 1 - \frac{f_m(x)}{m}

    where :math:`f_m(x)` is the number of members whose most likely class is the modal
    class. Ranges over ``[0, 1 - 1/\min(m, C)]``.

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Probabilities from ``m`` committee members or posterior draws.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Freeman (1965), "Elementary Applied Statistics"; as an acquisition function:
    Gal, Islam & Ghahramani (2017), "Deep Bayesian active learning with image data", ICML.

    Examples
    --------
    >>> variation_ratio([[[0.9, 0.1]], [[0.8, 0.2]], [[0.3, 0.7]]]).round(4)
    array([0.3333])
    """
    return _per_item(_kernels.vote_scores, _samples(samples, "variation_ratio"), 1)


def mean_std(samples: np.ndarray) -> np.ndarray:
    r"""Mean standard deviation of the class probabilities across members.

    .. math:: u(x) = \frac1C \sum_c \sqrt{\mathbb{E}_i[p_i(c \mid x)^2]
        - \mathbb{E}_i[p_i(c \mid x)]^2}

    (population standard deviation over the ``m`` members).

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Probabilities from ``m`` committee members or posterior draws.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Kampffmeyer, Salberg & Jenssen (2016), "Semantic segmentation of small objects and
    modeling of uncertainty in urban remote sensing images using deep convolutional
    neural networks", CVPR workshops.

    Examples
    --------
    >>> mean_std([[[1.0, 0.0]], [[0.0, 1.0]]])
    array([0.5])
    """
    return _per_item(_kernels.mean_std, _samples(samples, "mean_std"))


#: The uncertainty scores on one model's probabilities, by name.
UNCERTAINTY = {
    "entropy": entropy,
    "least_confidence": least_confidence,
    "margin": margin,
    "ratio": ratio,
}


def uncertainty(name: str, who: str = "uncertainty") -> Callable[[np.ndarray], np.ndarray]:
    """The uncertainty score called ``name``, for parameters that choose one by name.

    Parameters
    ----------
    name : str
        One of ``"entropy"``, ``"least_confidence"``, ``"margin"``, ``"ratio"``.
    who : str
        The caller, for the error message.

    Returns
    -------
    callable
        ``score(proba) -> (n,)``.

    Examples
    --------
    >>> uncertainty("margin")([[0.5, 0.5]])
    array([1.])
    """
    if name not in UNCERTAINTY:
        raise ValueError(f"{who}: uncertainty must be one of {sorted(UNCERTAINTY)}; got {name!r}.")
    return UNCERTAINTY[name]
