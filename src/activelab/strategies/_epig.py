r"""EPIG: expected predictive information gain (Bickford Smith, Foster & Rainforth 2023).

BALD asks how much a label tells about the model's parameters; EPIG asks how much it
tells about the *predictions* the model will have to make on inputs drawn from a target
distribution :math:`p_*(x_*)`:

.. math:: \mathrm{EPIG}(x) = \mathbb{E}_{p_*(x_*)}\big[
          \mathrm{I}(y; y_* \mid x, x_*)\big].

With posterior samples :math:`\theta_1, \dots, \theta_K` (ensemble members, MC dropout
passes) the mutual information between the two labels has a closed-form estimate: the
joint predictive :math:`p(y, y_* \mid x, x_*) \approx \frac1K \sum_k p(y \mid x, \theta_k)
\, p(y_* \mid x_*, \theta_k)` against the product of its marginals, averaged over target
inputs :math:`x_*^{(1)}, \dots, x_*^{(M)}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import xlogy

from activelab._distances import block_rows
from activelab._validation import (
    RandomStateLike,
    as_float_array,
    check_int,
    check_random_state,
    n_rows,
)
from activelab.models import ModelAdapter
from activelab.select import SAMPLING_MODES, sample
from activelab.strategies._base import ScoreStrategy

__all__ = ["EPIG", "epig"]

_SAMPLES = "posterior samples of shape (K, n, C): K members or draws, n items, C classes"


def _check_samples(samples: Any, name: str) -> np.ndarray:
    array = as_float_array(samples, name=name, ndim=3, what=_SAMPLES)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite probabilities; check the model's output.")
    if (array < 0).any() or not np.allclose(array.sum(axis=2), 1.0, atol=1e-4):
        raise ValueError(
            f"{name} must hold probabilities: non-negative, each (member, item) row summing to "
            "1 over the classes. Pass sample_proba output, not logits."
        )
    return array


def _xlogx(values: np.ndarray) -> np.ndarray:
    """``x log x`` with ``0 log 0 = 0``."""
    return xlogy(values, values)


def epig(samples_pool: Any, samples_target: Any) -> np.ndarray:
    r"""EPIG of every pool item about the predictions on a set of target inputs.

    For posterior samples :math:`p_k(y \mid x)` (``k = 1..K``) of the pool items and of
    target inputs :math:`x_*^{(j)}` (``j = 1..M``), the paper's estimator for
    classification (Bickford Smith et al. 2023, Section 4) is

    .. math:: \mathrm{EPIG}(x) \approx \frac1M \sum_{j=1}^M \sum_{y, y_*}
              p(y, y_*) \log \frac{p(y, y_*)}{p(y)\, p(y_*)}, \qquad
              p(y, y_*) = \frac1K \sum_k p_k(y \mid x)\, p_k(y_* \mid x_*^{(j)}),

    with the marginals :math:`p(y) = \frac1K \sum_k p_k(y \mid x)` and likewise
    :math:`p(y_*)`. As the joint's marginals are exactly those, the sum splits into
    :math:`\sum p(y, y_*) \log p(y, y_*) + H[p(y)] + H[p(y_*)]`; only the first term
    needs the joint, which is one matrix product :math:`(n C \times K)(K \times M C)`
    per block of pool items (bounded memory, BLAS).

    Parameters
    ----------
    samples_pool : array-like of shape (K, n, C)
        Posterior samples of the pool's class probabilities.
    samples_target : array-like of shape (K, M, C)
        Posterior samples (the same K draws, in the same order) on the target inputs.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Non-negative (negative rounding errors are clipped to 0), at most
        :math:`\log C`.

    References
    ----------
    Bickford Smith, Kirsch, Farquhar, Gal, Foster & Rainforth (2023), "Prediction-oriented
    Bayesian active learning", AISTATS, PMLR 206, pp. 7331–7348.

    Examples
    --------
    >>> pool = [[[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]]]
    >>> target = [[[1.0, 0.0]], [[0.0, 1.0]]]
    >>> epig(pool, target).round(4)
    array([0.3681, 0.    ])
    """
    pool = _check_samples(samples_pool, "epig: samples_pool")
    target = _check_samples(samples_target, "epig: samples_target")
    if pool.shape[0] != target.shape[0] or pool.shape[2] != target.shape[2]:
        raise ValueError(
            "epig needs the pool and target samples from the same K draws over the same C "
            f"classes; got shapes {pool.shape} and {target.shape}."
        )
    n_draws, n_pool, n_classes = pool.shape
    n_target = target.shape[1]
    if n_target == 0:
        raise ValueError("epig needs at least one target input; got none.")
    pool_mean = pool.mean(axis=0)  # (n, C)
    target_mean = target.mean(axis=0)  # (M, C)
    pool_entropy = -_xlogx(pool_mean).sum(axis=1)
    target_entropy = -_xlogx(target_mean).sum(axis=1).mean()
    # (K, M·C): the target draws as columns; the joint of a block is (b·C, M·C).
    target_columns = target.reshape(n_draws, n_target * n_classes) / n_draws
    out = np.empty(n_pool, dtype=np.float64)
    step = max(1, block_rows(n_target * n_classes * n_classes, itemsize=8))
    for start in range(0, n_pool, step):
        stop = min(n_pool, start + step)
        rows = pool[:, start:stop].transpose(1, 2, 0).reshape(-1, n_draws)  # (b·C, K)
        joint = rows @ target_columns  # (b·C, M·C)
        xlogy(joint, joint, out=joint)
        negentropy = joint.reshape(stop - start, -1).sum(axis=1) / n_target
        out[start:stop] = negentropy + pool_entropy[start:stop] + target_entropy
    np.maximum(out, 0.0, out=out)
    return out


class EPIG(ScoreStrategy):
    r"""Expected predictive information gain about the predictions on target inputs.

    Scores each pool item by :func:`epig`: the mutual information between its label and
    the label of a target input, averaged over target inputs, under the model's posterior
    samples (``sample_proba``: a random forest's trees, a committee, MC dropout). Where
    BALD (information about the parameters) chases items that are hard but irrelevant to
    the inputs that matter, EPIG values a label by how much it changes the predictions
    there (Bickford Smith et al. 2023).

    The target inputs are ``target`` when given (e.g. samples of the test-time input
    distribution). Otherwise, as in the paper's pool-based experiments, ``n_target``
    pool items drawn uniformly at random (seeded by ``random_state``) stand in for the
    target distribution. ``k > 1`` takes the ``k`` largest scores (the paper's batch
    method is a separate, joint acquisition).

    Peers: Baal's ``EPIG`` heuristic (Baal 2.x) computes the same estimator from
    ``[n, C, K]`` arrays whose last ``M`` rows are the target inputs; the scores agree.

    Parameters
    ----------
    target : array-like, optional
        Target inputs, in the model's input format. None: a sample of the pool.
    n_target : int, default=100
        Pool items drawn as target inputs when ``target`` is None (all of the pool when
        it is smaller).
    sampling : {"top", "softmax", "power", "softrank"}, default="top"
    temperature : float, default=1.0

    References
    ----------
    Bickford Smith, Kirsch, Farquhar, Gal, Foster & Rainforth (2023), "Prediction-oriented
    Bayesian active learning", AISTATS, PMLR 206, pp. 7331–7348.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, [0, 0, 1, 1])
    >>> EPIG().query(model, np.array([[0.5], [2.0], [3.5]]), 1, random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "epig"
    needs: ClassVar[tuple[str, ...]] = ("sample_proba",)
    summary: ClassVar[str] = "mutual information between a label and target-input predictions"
    reference: ClassVar[str] = "Bickford Smith, Foster & Rainforth 2023"

    def __init__(
        self,
        target: Any = None,
        n_target: int = 100,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.target = target
        self.n_target = n_target
        self.sampling = sampling
        self.temperature = temperature

    def utilities(
        self, model: Any, X_pool: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """EPIG of each pool item (higher is more informative).

        Parameters
        ----------
        model : fitted estimator or ModelAdapter with ``sample_proba``
        X_pool : array-like, sparse matrix or DataFrame
        random_state : int, numpy.random.Generator or None
            Draws the target inputs from the pool when ``target`` is None.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        adapter = self._adapter(model)
        return self._scores(adapter, X_pool, check_random_state(random_state))

    def _scores(self, model: ModelAdapter, X_pool: Any, rng: np.random.Generator) -> np.ndarray:
        samples_pool = np.asarray(model.sample_proba(X_pool), dtype=np.float64)
        if self.target is not None:
            if n_rows(self.target) == 0:
                raise ValueError("epig: target is empty; pass target inputs or target=None.")
            samples_target = np.asarray(model.sample_proba(self.target), dtype=np.float64)
        else:
            n_target = check_int(self.n_target, "n_target", self.name, 1)
            n_pool = samples_pool.shape[1]
            rows = rng.choice(n_pool, size=min(n_target, n_pool), replace=False)
            samples_target = samples_pool[:, np.sort(rows)]
        return epig(samples_pool, samples_target)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        utilities = self._scores(model, X_pool, rng)
        return sample(utilities, k, self.sampling, self.temperature, rng)
