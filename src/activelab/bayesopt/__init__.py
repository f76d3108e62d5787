"""Batched Bayesian optimisation: a GP surrogate, EI/PI/UCB/Thompson, batches for well plates.

Minimise an expensive black-box function over a box or a finite candidate library (e.g.
molecules as fingerprint vectors), a plate of ``batch_size`` evaluations at a time::

    import activelab as al
    result = al.bayesopt.minimize(f, [(-5, 10), (0, 15)], budget=960, batch_size=96,
                                  acquisition="ei", batch="qei", random_state=0)
    result.best_x, result.best_y, result.simple_regret(optimum)

- surrogate: :class:`GPSurrogate` (scikit-learn GP, Matérn 5/2 ARD + noise; Tanimoto
  kernel for fingerprints; BoTorch optional), posterior in :class:`GPPosterior`;
- acquisitions: :func:`expected_improvement`, :func:`probability_of_improvement`,
  :func:`upper_confidence_bound` (with :func:`ucb_beta`), Thompson sampling;
- batches: Kriging believer, local penalisation, Monte-Carlo q-EI (greedy), Thompson;
- spaces: :class:`Box`, :class:`CandidateLibrary`;
- loop: :func:`minimize` and the ask/tell :class:`BayesianOptimizer`;
- library searches: :func:`top_fraction_found` (share of the top 1 % found, enrichment);
- test problems: :data:`BRANIN`, :data:`HARTMANN6`, and :func:`load_solubility` (a real
  molecule library with measured solubility, shipped with the package).

See ``docs/bayesopt.md``.
"""

from activelab.bayesopt._acquisition import (
    expected_improvement,
    probability_of_improvement,
    ucb_beta,
    upper_confidence_bound,
)
from activelab.bayesopt._batch import q_expected_improvement
from activelab.bayesopt._data import MoleculeLibrary, load_solubility
from activelab.bayesopt._functions import BRANIN, HARTMANN6, TestFunction, branin, hartmann6
from activelab.bayesopt._metrics import top_fraction_found
from activelab.bayesopt._optimizer import (
    ACQUISITIONS,
    BATCH_METHODS,
    BayesianOptimizer,
    BayesOptResult,
    minimize,
)
from activelab.bayesopt._space import Box, CandidateLibrary, as_space
from activelab.bayesopt._surrogate import GPPosterior, GPSurrogate, TanimotoKernel

__all__ = [
    "ACQUISITIONS",
    "BATCH_METHODS",
    "BRANIN",
    "HARTMANN6",
    "BayesOptResult",
    "BayesianOptimizer",
    "Box",
    "CandidateLibrary",
    "GPPosterior",
    "GPSurrogate",
    "MoleculeLibrary",
    "TanimotoKernel",
    "TestFunction",
    "as_space",
    "branin",
    "expected_improvement",
    "hartmann6",
    "load_solubility",
    "minimize",
    "probability_of_improvement",
    "q_expected_improvement",
    "top_fraction_found",
    "ucb_beta",
    "upper_confidence_bound",
]
