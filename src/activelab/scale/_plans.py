"""How each strategy runs on a partitioned pool: a *plan*, and what it guarantees.

- ``"score"``: a score strategy whose utility of a row depends on that row alone
  (margin, entropy, BALD, …; :func:`activelab.strategies._wrappers._pointwise`). Each
  partition keeps its best ``k`` rows; partial top-ks are merged in a tree. **Exact**:
  the global top-k by (utility, tie key), or for ``sampling="softmax"``/``"power"`` an
  exact Gumbel-top-k draw of the stochastic batch.
- ``"prefilter"``: a batch-diverse strategy that starts from the most useful rows. The
  ``candidates`` rows of highest utility (the same exact tree top-k) are gathered and the
  in-memory strategy runs on them. Exact for the ``Diverse`` family (diverse mini-batch),
  whose own first step is this prefilter; for BADGE the utility is the norm of the
  gradient embedding (approximate: BADGE's k-means++ may pick a low-norm outlier that
  the prefilter dropped); for any strategy with ``prefilter_by=``, approximate.
- ``"kcenter"``: core-set. Two rounds: greedy k-center within each partition, then
  greedy k-center on the union of the partitions' centres. A 4-approximation of the
  k-center radius, against 2 for the in-memory greedy (see the docs of
  :func:`activelab.scale.query`).
- ``"sample"``: the in-memory strategy on a uniform random sample of ``candidates``
  rows, drawn exactly (the ``candidates`` largest per-row uniform keys, computed from
  row positions without reading and merged in the same tree; then only the sampled rows
  are read and embedded). Exact for ``random``; an approximation for the representative strategies
  (k-means, TypiClust, ProbCover, MaxHerding, facility location), whose density and
  clusters the sample preserves in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activelab.strategies._base import ScoreStrategy, Strategy

#: Plan names, in the order they are documented.
PLANS: tuple[str, ...] = ("score", "prefilter", "kcenter", "sample")

#: Embedding-only strategies that run on a uniform sample without being asked.
SAMPLE_BY_DEFAULT = frozenset(
    {"kmeans", "typiclust", "probcover", "maxherding", "facility_location"}
)


@dataclass(frozen=True)
class Plan:
    """How a strategy runs on a partitioned pool.

    Parameters
    ----------
    kind : {"score", "prefilter", "kcenter", "sample"}
    strategy : Strategy
        For ``"score"``: the score strategy whose utilities are ranked. Otherwise the
        strategy that selects the batch in memory (kcenter: core-set).
    candidates : int
        Rows each partition keeps (and, except for ``"kcenter"``, rows gathered in all).
    utility : ScoreStrategy or None
        ``"prefilter"``: the utility that ranks rows (None: BADGE's gradient norm).
    exact : bool
        True when the picks equal the in-memory strategy's up to random tie-breaking.
    note : str
        What the plan guarantees, in words.
    """

    kind: str
    strategy: Strategy
    candidates: int
    utility: ScoreStrategy | None = None
    exact: bool = True
    note: str = ""

    @property
    def grad_norm(self) -> bool:
        """True when the prefilter ranks rows by BADGE's gradient-embedding norm."""
        return self.kind == "prefilter" and self.utility is None


def _resolve(strategy: Any) -> Strategy:
    from activelab import strategies

    if isinstance(strategy, str):
        return strategies.get(strategy)
    if isinstance(strategy, Strategy):
        return strategy
    raise TypeError(
        "strategy must be a registry name (e.g. 'margin') or a Strategy object "
        f"(e.g. al.strategies.get('entropy', sampling='softmax')); got {strategy!r}."
    )


def _pointwise_score(strategy: Strategy) -> bool:
    from activelab.strategies._wrappers import _pointwise

    return isinstance(strategy, ScoreStrategy) and _pointwise(strategy)


def _utility(prefilter_by: Any) -> ScoreStrategy:
    utility = _resolve(prefilter_by)
    if not _pointwise_score(utility):
        raise ValueError(
            f"prefilter_by must be a score strategy whose utility of a row depends on that "
            f"row alone (margin, entropy, least_confidence, bald, …); got {utility.name!r}."
        )
    return utility


def _check_size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1; got {value!r}.")
    return value


def _unsupported(strategy: Strategy, reason: str) -> ValueError:
    return ValueError(
        f"{strategy.name} has no automatic scale-out plan: {reason}. Choose one: "
        "plan='sample' runs it on a uniform random sample of `candidates` rows; "
        "plan='prefilter' with prefilter_by='margin' runs it on the rows of highest margin."
    )


def plan_for(
    strategy: Any,
    k: int,
    n_rows: int,
    *,
    plan: str | None = None,
    candidates: int | None = None,
    prefilter_by: Any = None,
) -> Plan:
    """The plan a strategy runs with on a partitioned pool of ``n_rows`` rows.

    Parameters
    ----------
    strategy : str or Strategy
        A registry name or a strategy object. ``Parallel(s)`` runs as ``s``;
        ``SubSample(s, max_candidates=M)`` as ``s`` on a uniform sample of ``M`` rows.
    k : int
        Batch size.
    n_rows : int
        Rows in the pool.
    plan : {"score", "prefilter", "kcenter", "sample"}, optional
        Force a plan; by default the strategy's own (see the module docs).
    candidates : int, optional
        ``"prefilter"`` and ``"sample"``: rows gathered for the in-memory step (default
        ``prefilter · k`` for diverse mini-batch, ``10 · k`` for other prefilters,
        ``max(10 · k, 10000)`` for samples). ``"kcenter"``: centres per partition in
        the first round (default ``k``).
    prefilter_by : str or ScoreStrategy, optional
        ``"prefilter"``: the utility that ranks rows, for a strategy without its own.

    Returns
    -------
    Plan

    Examples
    --------
    >>> plan_for("margin", 10, 1000).kind
    'score'
    >>> plan_for("coreset", 10, 1000).note.startswith("4-approximation")
    True
    """
    from activelab.strategies import BADGE, CoreSet, Diverse, RandomSampling
    from activelab.strategies._wrappers import Parallel, SubSample

    chosen = _resolve(strategy)
    if plan is not None and plan not in PLANS:
        raise ValueError(f"plan must be one of {PLANS} or None; got {plan!r}.")
    if candidates is not None:
        candidates = _check_size(candidates, "candidates")
    if isinstance(chosen, Parallel):
        chosen = chosen._inner()
    if isinstance(chosen, SubSample) and plan in (None, "sample"):
        size = candidates if candidates is not None else chosen._size(n_rows)
        return _sample(_resolve(chosen.strategy), k, n_rows, size)
    if plan is None:
        if isinstance(chosen, Diverse):
            plan = "prefilter"
        elif _pointwise_score(chosen):
            plan = "score"
        elif isinstance(chosen, BADGE):
            plan = "prefilter"
        elif isinstance(chosen, CoreSet):
            plan = "kcenter"
        elif isinstance(chosen, RandomSampling) or chosen.name in SAMPLE_BY_DEFAULT:
            plan = "sample"
        elif isinstance(chosen, ScoreStrategy):
            raise _unsupported(
                chosen,
                "its utility of a row depends on the rest of the pool, so partitions "
                "cannot be scored apart",
            )
        else:
            raise _unsupported(chosen, "it selects a batch from the whole pool at once")
    if plan == "score":
        if not _pointwise_score(chosen):
            raise ValueError(
                f"plan='score' needs a score strategy whose utility of a row depends on that "
                f"row alone (margin, entropy, bald, …); {chosen.name} is not one."
            )
        if chosen.sampling == "softrank":
            raise ValueError(
                f"{chosen.name}: sampling='softrank' needs every row's global rank, which "
                "partial top-ks do not give; use sampling='softmax' or 'power' (exact "
                "Gumbel-top-k draws at scale) or 'top'."
            )
        exact_note = "exact global top-k by (utility, tie key)"
        if chosen.sampling != "top":
            exact_note = f"exact Gumbel-top-k draw of the {chosen.sampling} batch"
        return Plan("score", chosen, min(k, n_rows), note=exact_note)
    if plan == "prefilter":
        return _prefilter(chosen, k, n_rows, candidates, prefilter_by)
    if plan == "kcenter":
        if not isinstance(chosen, CoreSet):
            raise ValueError(
                f"plan='kcenter' is the two-round k-center of core-set; {chosen.name} is not "
                "core-set. Use plan='sample' or plan='prefilter' for it."
            )
        per_partition = candidates if candidates is not None else k
        if per_partition < k:
            raise ValueError(
                f"plan='kcenter' keeps at least k={k} centres per partition; got "
                f"candidates={per_partition}."
            )
        return Plan(
            "kcenter",
            chosen,
            per_partition,
            exact=False,
            note="4-approximation of the k-center radius (two rounds of greedy; in memory: 2)",
        )
    size = candidates if candidates is not None else max(10 * k, 10_000)
    return _sample(chosen, k, n_rows, size)


def _sample(strategy: Strategy, k: int, n_rows: int, size: int) -> Plan:
    from activelab.strategies import RandomSampling

    size = min(size, n_rows)
    if size < k:
        raise ValueError(
            f"a sample of {size} candidates cannot give k={k} picks; raise candidates to at "
            f"least {k}."
        )
    exact = size >= n_rows or isinstance(strategy, RandomSampling)
    note = (
        "exact: the in-memory strategy on the whole pool"
        if size >= n_rows
        else f"{strategy.name} on a uniform random sample of {size} rows"
    )
    if isinstance(strategy, RandomSampling):
        note = "exact: a uniform random batch"
        size = k
    return Plan("sample", strategy, size, exact=exact, note=note)


def _prefilter(
    strategy: Strategy, k: int, n_rows: int, candidates: int | None, prefilter_by: Any
) -> Plan:
    from activelab.strategies import BADGE, Diverse

    if prefilter_by is not None:
        utility: ScoreStrategy | None = _utility(prefilter_by)
        size, exact = candidates if candidates is not None else 10 * k, False
        note = f"{strategy.name} on the rows of highest {utility.name}"
    elif isinstance(strategy, Diverse):
        base = strategy._base()
        if not _pointwise_score(base):
            raise ValueError(
                f"{strategy.name}: its base utility {base.name!r} depends on the whole pool, "
                "so it cannot prefilter partitions apart; use a base such as 'margin'."
            )
        utility = strategy
        own = int(strategy.prefilter) * k
        size = candidates if candidates is not None else own
        exact = size >= own
        note = (
            f"exact: {strategy.name} on its own prefilter of the {size} rows of highest {base.name}"
            if exact
            else f"{strategy.name} on the {size} rows of highest {base.name} (fewer than its "
            f"own prefilter of {own})"
        )
    elif isinstance(strategy, BADGE):
        utility = None
        size, exact = candidates if candidates is not None else 10 * k, False
        note = f"badge on the {size} rows of largest gradient-embedding norm"
    else:
        raise ValueError(
            f"plan='prefilter' needs a utility to rank rows by for {strategy.name}; pass "
            "prefilter_by='margin' (or another score strategy)."
        )
    size = min(size, n_rows)
    if size < k:
        raise ValueError(f"candidates={size} is fewer than k={k}; raise it to at least {k}.")
    if size >= n_rows:
        exact, note = True, "exact: the in-memory strategy on the whole pool"
    return Plan("prefilter", strategy, size, utility=utility, exact=exact, note=note)
