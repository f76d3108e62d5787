"""Composition of score strategies: weighted sum, product and rank fusion of utilities."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.stats import rankdata

from activelab._validation import check_number, n_rows
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy, Strategy

__all__ = ["Combine", "combine_utilities"]

METHODS: tuple[str, ...] = ("sum", "product", "reciprocal_rank", "borda")
NORMALIZATIONS: tuple[str, ...] = ("minmax", "zscore", "rank", "none")


def resolve_base(spec: Any, who: str) -> Strategy:
    """A strategy from a registry name, a ``(name, params)`` pair or a Strategy object.

    Parameters
    ----------
    spec : str, tuple of (str, dict) or Strategy
    who : str
        The caller, for messages.

    Returns
    -------
    Strategy
    """
    from activelab import strategies

    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, str):
        return strategies.get(spec)
    if isinstance(spec, tuple | list) and len(spec) == 2 and isinstance(spec[0], str):
        params = spec[1]
        if not isinstance(params, dict):
            raise TypeError(
                f"{who}: in a (name, params) pair the params must be a dict; got {params!r}."
            )
        return strategies.get(spec[0], **params)
    raise TypeError(
        f"{who}: a base strategy is a registry name ('margin'), a (name, params) pair "
        f"(('entropy', {{'sampling': 'top'}})) or a Strategy object; got {spec!r}."
    )


class NeedsOf:
    """``needs`` of a composite strategy: its bases' needs, in order, plus ``extra``.

    On the class it reports the needs of the default bases (``default_bases``), so
    :func:`activelab.strategies.describe` can fill its table.
    """

    def __init__(self, attribute: str, extra: tuple[str, ...] = ()) -> None:
        self.attribute = attribute
        self.extra = extra

    def __get__(self, instance: Any, owner: type) -> tuple[str, ...]:
        specs = owner.default_bases if instance is None else getattr(instance, self.attribute)
        if isinstance(specs, str | Strategy) or (
            isinstance(specs, tuple) and len(specs) == 2 and isinstance(specs[1], dict)
        ):
            specs = [specs]
        found: list[str] = []
        for spec in specs:
            for capability in resolve_base(spec, owner.name).needs:
                if capability not in found:
                    found.append(capability)
        for capability in self.extra:
            if capability not in found:
                found.append(capability)
        return tuple(found)


def _normalize(values: np.ndarray, how: str) -> np.ndarray:
    if how == "none":
        return values
    if how == "minmax":
        low, high = values.min(), values.max()
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    if how == "zscore":
        spread = values.std()
        return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
    # "rank": the fraction of the pool an item beats (ties share the average rank)
    if values.shape[0] == 1:
        return np.ones(1)
    return (rankdata(values) - 1.0) / (values.shape[0] - 1.0)


def combine_utilities(
    utilities: list[np.ndarray] | np.ndarray,
    weights: Any = None,
    method: str = "sum",
    normalize: str | None = None,
    rrf_k: float = 60.0,
) -> np.ndarray:
    r"""Fuse the utilities of several strategies into one utility per item.

    - ``"sum"``: :math:`\sum_i w_i\, \mathrm{norm}(u_i)` (modAL's
      ``make_linear_combination`` with ``normalize="none"``).
    - ``"product"``: :math:`\prod_i \mathrm{norm}(u_i)^{w_i}` (modAL's ``make_product``,
      the weights being its exponents).
    - ``"reciprocal_rank"``: :math:`\sum_i w_i / (\mathrm{rrf\_k} + r_i)` with
      :math:`r_i` the item's rank under strategy ``i`` (1 = most informative; ties share
      their average rank).
    - ``"borda"``: :math:`\sum_i w_i (n - r_i)`, the Borda count.

    Normalisation (``"sum"`` and ``"product"`` only): ``"minmax"`` to ``[0, 1]`` (a
    constant utility becomes 0), ``"zscore"``, ``"rank"`` (the fraction of the pool
    an item beats) or ``"none"``. Default: ``"minmax"`` for the sum, so utilities on
    different scales (entropy in nats, a margin in ``[0, 1]``) weigh as the weights
    say, and ``"none"`` for the product, whose scale does not change the ranking.

    Parameters
    ----------
    utilities : list of arrays of shape (n,), or array of shape (s, n)
    weights : array-like of shape (s,), optional
        Default: all ones.
    method : {"sum", "product", "reciprocal_rank", "borda"}
    normalize : {"minmax", "zscore", "rank", "none"}, optional
    rrf_k : float, default=60
        The reciprocal-rank constant (Cormack et al. use 60).

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Cormack, Clarke & Büttcher (2009), "Reciprocal rank fusion outperforms Condorcet and
    individual rank learning methods", SIGIR.

    Examples
    --------
    >>> combine_utilities([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0]]).tolist()
    [1.0, 0.5, 1.5]
    >>> combine_utilities([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0]], method="borda").tolist()
    [2.0, 1.0, 3.0]
    """
    stacked = np.asarray(utilities, dtype=np.float64)
    if stacked.ndim != 2 or stacked.shape[0] == 0:
        raise ValueError(
            f"combine: utilities must be one row of n values per strategy (shape (s, n)); "
            f"got shape {stacked.shape}."
        )
    if not np.isfinite(stacked).all():
        row = int(np.flatnonzero(~np.isfinite(stacked).all(axis=1))[0])
        raise ValueError(f"combine: the utilities of strategy {row} are not all finite.")
    s, n = stacked.shape
    w = np.ones(s) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (s,) or not np.isfinite(w).all():
        raise ValueError(
            f"combine: weights must be {s} finite numbers, one per strategy; got {weights!r}."
        )
    if method not in METHODS:
        raise ValueError(f"combine: method must be one of {METHODS}; got {method!r}.")
    if method in ("reciprocal_rank", "borda"):
        # rank 1 = highest utility; ties share their average rank
        ranks = np.vstack([rankdata(-row) for row in stacked])
        rrf_k = check_number(rrf_k, "rrf_k", "combine", 0.0)
        if method == "reciprocal_rank":
            return w @ (1.0 / (rrf_k + ranks))
        return w @ (n - ranks)
    how = normalize if normalize is not None else ("minmax" if method == "sum" else "none")
    if how not in NORMALIZATIONS:
        raise ValueError(f"combine: normalize must be one of {NORMALIZATIONS}; got {how!r}.")
    normed = np.vstack([_normalize(row, how) for row in stacked])
    if method == "sum":
        return w @ normed
    if (normed < 0).any() and not np.all(np.equal(np.mod(w, 1), 0)):
        raise ValueError(
            "combine: the product with non-integer weights needs non-negative utilities; "
            "some are negative. Use normalize='minmax' or 'rank', or method='sum'."
        )
    with np.errstate(divide="ignore"):
        return np.prod(normed ** w[:, None], axis=0)


class Combine(ScoreStrategy):
    """Compose score strategies: weighted sum, product or rank fusion of their utilities.

    Each base strategy scores the whole pool (:meth:`ScoreStrategy.utilities`), the
    utilities are fused by :func:`combine_utilities`, and the batch is drawn from the
    fused utility by this strategy's own ``sampling`` rule. This is modAL's
    ``make_linear_combination`` / ``make_product`` (with ``normalize="none"``) and
    rank fusion (reciprocal rank, Borda), as one strategy object that clones, pickles
    and registers like any other.

    Parameters
    ----------
    strategies : sequence, default=("entropy", "information_density")
        Base score strategies: registry names, ``(name, params)`` pairs (e.g.
        ``("information_density", {"beta": 2.0})``) or ScoreStrategy objects.
    weights : sequence of float, optional
        One per strategy (exponents for the product); default all ones.
    method : {"sum", "product", "reciprocal_rank", "borda"}, default="sum"
    normalize : {"minmax", "zscore", "rank", "none"}, optional
        See :func:`combine_utilities`.
    rrf_k : float, default=60
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Danka & Horvath (2018), "modAL: a modular active learning framework for Python",
    arXiv:1805.00979 (``modAL.utils.combination``). Cormack, Clarke & Büttcher (2009),
    "Reciprocal rank fusion outperforms Condorcet and individual rank learning
    methods", SIGIR.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> both = Combine(["margin", "entropy"], weights=[1.0, 0.5])
    >>> both.query(model, [[0.0], [2.0], [4.0]], 1).tolist()
    [1]
    """

    name: ClassVar[str] = "combine"
    needs = NeedsOf("strategies")  # type: ignore[assignment]
    summary: ClassVar[str] = "weighted sum, product or rank fusion of score strategies"
    reference: ClassVar[str] = "Danka & Horvath 2018 (modAL); Cormack et al. 2009"
    default_bases: ClassVar[tuple[str, ...]] = ("entropy", "information_density")

    def __init__(
        self,
        strategies: Any = ("entropy", "information_density"),
        weights: Any = None,
        method: str = "sum",
        normalize: str | None = None,
        rrf_k: float = 60.0,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.strategies = strategies
        self.weights = weights
        self.method = method
        self.normalize = normalize
        self.rrf_k = rrf_k
        self.sampling = sampling
        self.temperature = temperature

    def _bases(self) -> list[ScoreStrategy]:
        specs = self.strategies
        if isinstance(specs, str | Strategy):
            specs = [specs]
        bases = [resolve_base(spec, self.name) for spec in specs]
        if not bases:
            raise ValueError(f"{self.name}: strategies is empty; give at least one.")
        for base in bases:
            if not isinstance(base, ScoreStrategy):
                raise TypeError(
                    f"{self.name} fuses utilities, so every base must be a score strategy "
                    f"(margin, entropy, bald, information_density, …); "
                    f"{base.name or type(base).__name__} selects a batch jointly."
                )
        return bases

    def _adapter(self, model: Any) -> Any:
        # Each base reads the model through its own adapter (svm_margin's differs).
        return [base._adapter(model) for base in self._bases()]

    def _utilities(self, model: ModelAdapter | list[Any], X_pool: Any) -> np.ndarray:
        bases = self._bases()
        adapters = model if isinstance(model, list) else [model] * len(bases)
        parts = []
        for base, adapter in zip(bases, adapters, strict=True):
            values = np.asarray(base._utilities(adapter, X_pool), dtype=np.float64)
            if values.shape != (n_rows(X_pool),):
                raise ValueError(
                    f"{self.name}: {base.name} gave utilities of shape {values.shape} for "
                    f"{n_rows(X_pool)} pool items."
                )
            parts.append(values)
        return combine_utilities(parts, self.weights, self.method, self.normalize, self.rrf_k)
