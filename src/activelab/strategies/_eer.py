"""Expected error reduction (EER) and its value-of-information variant.

Both strategies ask, for every candidate ``x`` and every label ``y`` it could get: how
large would the error of the model be, had it been trained on the labeled set plus
``(x, y)``? ``method="exact"`` retrains a copy of the model for each pair (any model
with ``fit``); for a logistic or softmax regression, ``method="fast"`` replaces
retraining by a few Newton steps from the current weights (the labeled set's Hessian
inverted once, the candidate's curvature added by Woodbury) and ``method="influence"``
by the influence-function step, for every candidate and label at once; ``"auto"``
(the default) takes the fast path where it applies.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from activelab import scores
from activelab._data import concat_rows, take_rows
from activelab._validation import (
    check_int,
    check_labels,
    check_probabilities,
    check_random_state,
    n_rows,
)
from activelab.models import ModelAdapter, SklearnAdapter, align_columns
from activelab.select import top_k
from activelab.strategies._base import Strategy
from activelab.strategies._egl import LinearHead, linear_head

__all__ = ["ExpectedErrorReduction", "ValueOfInformationEER", "expected_loss"]

_METHODS = ("auto", "exact", "fast", "influence")
_LOSSES = ("log", "zero_one")
_PRESCREENS = ("margin", "random")
#: Most weights (classes × (features + 1)) the fast methods invert a Hessian for.
MAX_FAST_PARAMETERS = 2048
#: Float64 values per block of new logits in the fast methods (about 16 MB).
_BLOCK_VALUES = 2_000_000


def expected_loss(
    proba: np.ndarray, loss: str = "log", cost_matrix: np.ndarray | None = None, axis: int = -1
) -> np.ndarray:
    r"""Loss of each row's prediction, expected under the row's own class distribution.

    With no true label, a model's loss on ``u`` is estimated by its own posterior
    :math:`p = p(\cdot \mid u)` (Roy & McCallum 2001):

    - ``"log"``: the entropy :math:`-\sum_c p_c \log p_c` (expected log loss);
    - ``"zero_one"``: the risk of the Bayes decision,
      :math:`\min_j \sum_i p_i\, L_{ij}`, which is :math:`1 - \max_c p_c` for the 0/1
      cost (expected misclassification);
    - ``"gibbs"``: the risk when the prediction is drawn from ``p`` itself,
      :math:`\sum_{ij} p_i p_j L_{ij}`, :math:`1 - \sum_c p_c^2` for the 0/1 cost (the
      unlabeled-data risk of Kapoor et al. 2007).

    Parameters
    ----------
    proba : array of shape (..., C)
        Class probabilities on ``axis``.
    loss : {"log", "zero_one", "gibbs"}
    cost_matrix : array of shape (C, C), optional
        ``cost_matrix[i, j]`` is the cost of predicting ``j`` when the class is ``i``;
        the 0/1 cost when None. Not used by ``"log"``.
    axis : int, default=-1
        The class axis (``0`` is fastest for few classes and many rows).

    Returns
    -------
    numpy.ndarray, float64
        ``proba``'s shape without ``axis``.

    References
    ----------
    Roy & McCallum (2001), "Toward optimal active learning through sampling estimation
    of error reduction", ICML, pp. 441–448.
    Kapoor, Horvitz & Basu (2007), "Selective supervision: guiding supervised learning
    with decision-theoretic active learning", IJCAI, pp. 877–882.

    Examples
    --------
    >>> expected_loss(np.array([[0.5, 0.5], [1.0, 0.0]]), "zero_one")
    array([0.5, 0. ])
    """
    p = np.moveaxis(np.asarray(proba, dtype=np.float64), axis, 0)  # classes first
    if loss == "log":
        return -xlogy(p, p).sum(axis=0)
    if loss == "zero_one":
        if cost_matrix is None:
            return 1.0 - p.max(axis=0)
        return np.tensordot(cost_matrix, p, axes=([0], [0])).min(axis=0)
    if loss == "gibbs":
        if cost_matrix is None:
            return 1.0 - (p * p).sum(axis=0)
        return (p * np.tensordot(cost_matrix, p, axes=([0], [0]))).sum(axis=0)
    raise ValueError(f"loss must be 'log', 'zero_one' or 'gibbs'; got {loss!r}.")


def _labeled_loss(proba: np.ndarray, codes: Any, cost: np.ndarray | None) -> np.ndarray:
    """Expected cost of predictions drawn from ``proba`` (classes on axis 0) when the
    class is ``codes`` (broadcast to ``proba.shape[1:]``): ``1 - p_y`` for the 0/1 cost,
    ``sum_c p_c cost[y, c]`` otherwise."""
    codes = np.broadcast_to(np.asarray(codes), proba.shape[1:])
    if cost is None:
        return 1.0 - np.take_along_axis(proba, codes[None], axis=0)[0]
    return (np.moveaxis(cost[codes], -1, 0) * proba).sum(axis=0)


@dataclass(frozen=True)
class _Risk:
    """How the error of a retrained model is measured on the evaluation rows.

    The evaluation rows are ``n_pool`` pool rows (each standing for ``pool_weight``
    rows of the pool), then labeled rows: scored like pool rows when ``labeled_codes``
    is None (scikit-activeml's MonteCarloEER), against their labels otherwise (VOI).
    """

    loss: str
    cost: np.ndarray | None
    n_pool: int
    pool_weight: float
    labeled_codes: np.ndarray | None

    def error(self, proba: np.ndarray) -> np.ndarray:
        """Summed loss over the evaluation rows; ``proba`` is ``(C, n_eval, ...)``."""
        pool = expected_loss(proba[:, : self.n_pool], self.loss, self.cost, axis=0)
        total = self.pool_weight * pool.sum(axis=0)
        rest = proba[:, self.n_pool :]
        if rest.shape[1]:
            if self.labeled_codes is None:
                total = total + expected_loss(rest, self.loss, self.cost, axis=0).sum(axis=0)
            else:
                codes = self.labeled_codes.reshape((-1,) + (1,) * (rest.ndim - 2))
                total = total + _labeled_loss(rest, codes, self.cost).sum(axis=0)
        return total

    def own(self, proba: np.ndarray, codes: Any, in_evaluation: Any) -> np.ndarray:
        """VOI: the candidate counts as labeled ``codes``, not as a pool row (classes on
        axis 0 of ``proba``)."""
        correction = _labeled_loss(proba, codes, self.cost)
        pool_term = self.pool_weight * expected_loss(proba, self.loss, self.cost, axis=0)
        return correction - np.asarray(in_evaluation, dtype=np.float64) * pool_term


class _Refit:
    """A fresh copy of a model fitted on given rows (picklable, for joblib workers).

    With ``warm`` the copy starts from the fitted weights (LogisticRegression's
    ``warm_start``): the same optimum, reached in fewer iterations.
    """

    def __init__(self, model: ModelAdapter, warm: bool) -> None:
        self.warm = warm
        if warm:
            self.template = copy.deepcopy(model)
            _final(self.template).set_params(warm_start=True)
        else:
            self.template = model.clone()

    def __call__(self, X: Any, y: np.ndarray) -> ModelAdapter:
        fresh = copy.deepcopy(self.template) if self.warm else self.template.clone()
        return fresh.fit(X, y)


def _final(model: SklearnAdapter) -> Any:
    steps = getattr(model.estimator, "steps", None)
    return steps[-1][1] if steps else model.estimator


def _can_warm_start(model: ModelAdapter, labels: np.ndarray, classes: np.ndarray) -> bool:
    """LogisticRegression (not liblinear) whose labeled set already holds every class."""
    from sklearn.linear_model import LogisticRegression

    if not isinstance(model, SklearnAdapter):
        return False
    final = _final(model)
    return (
        isinstance(final, LogisticRegression)
        and final.solver != "liblinear"
        and hasattr(final, "coef_")
        and np.array_equal(np.unique(labels), np.sort(classes))
    )


def _exact_block(
    refit: _Refit,
    X_labeled: Any,
    labels: np.ndarray,
    X_candidates: Any,
    X_evaluation: Any,
    classes: np.ndarray,
    risk: _Risk,
    in_evaluation: np.ndarray,
) -> np.ndarray:
    """Errors ``(m, C)`` of the models retrained with each candidate and each label."""
    voi = risk.labeled_codes is not None
    errors = np.empty((n_rows(X_candidates), classes.shape[0]))
    for i in range(errors.shape[0]):
        row = take_rows(X_candidates, np.array([i]))
        X_new = concat_rows(X_labeled, row)
        X_scored = concat_rows(X_evaluation, row) if voi else X_evaluation
        for c, label in enumerate(classes):
            fitted = refit(X_new, np.append(labels, label))
            proba = align_columns(
                fitted.predict_proba(X_scored), fitted.classes_, classes, encoded=False
            )
            if voi:
                own = risk.own(proba[-1], c, in_evaluation[i])
                errors[i, c] = risk.error(proba[:-1].T) + own
            else:
                errors[i, c] = risk.error(proba.T)
    return errors


def _l2_strength(head: LinearHead, n_labeled: int, who: str) -> tuple[float, float, bool]:
    r"""The L2 strength λ of the objective :math:`\sum_i \ell_i + \frac{λ}{2}\lVert W\rVert^2`
    the model minimised on ``n_labeled`` rows, λ once a row is added, and whether the
    bias column is penalised too (liblinear)."""
    from sklearn.linear_model import LogisticRegression

    final = head.final
    if getattr(final, "class_weight", None) is not None:
        raise ValueError(
            f"{who}: method='fast' assumes unweighted samples; got class_weight="
            f"{final.class_weight!r}. Use method='exact', or class_weight=None."
        )
    penalty = getattr(final, "penalty", "l2")
    l1_ratio = getattr(final, "l1_ratio", None) or 0.0
    if penalty in (None, "none"):
        return 0.0, 0.0, False
    if not (penalty == "l2" or (penalty in ("deprecated", "elasticnet") and l1_ratio == 0)):
        raise ValueError(
            f"{who}: method='fast' needs an L2 penalty (or none); got penalty={penalty!r}, "
            f"l1_ratio={l1_ratio}. Use method='exact', which retrains any model."
        )
    if isinstance(final, LogisticRegression):
        strength = 1.0 / final.C  # C·Σ loss + ‖w‖²/2, divided by C
        return strength, strength, final.solver == "liblinear"
    alpha = float(final.alpha)  # SGD: mean loss + alpha ‖w‖²/2, times the number of rows
    return alpha * n_labeled, alpha * (n_labeled + 1), False


def _pinv_psd(matrix: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix.

    The unpenalised intercepts of a softmax regression leave one flat direction (adding
    the same constant to every class's bias changes nothing); gradients are orthogonal
    to it, so the pseudo-inverse gives the Newton step in the other directions.
    """
    values, vectors = np.linalg.eigh(matrix)
    keep = values > max(values.max(), 0.0) * 1e-10
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def _dense(rows: Any) -> np.ndarray:
    return rows.toarray() if sp.issparse(rows) else np.asarray(rows)


def _fast_block_errors(
    head: LinearHead,
    inverse: np.ndarray,
    penalty: np.ndarray,
    labeled: np.ndarray,
    labeled_targets: np.ndarray,
    candidates: np.ndarray,
    evaluation: Any,
    risk: _Risk,
    in_evaluation: np.ndarray,
    newton_steps: int,
) -> np.ndarray:
    """Errors ``(m, C)`` of the weights that Newton steps reach for each candidate and label.

    ``inverse`` is ``H⁻¹`` of the labeled objective at the fitted weights, ``(K, D, K, D)``;
    ``penalty`` the L2 strength per weight in the retrained objective ``(K, D)``;
    ``labeled_targets`` the ``e_y`` of the labeled rows ``(n, K)``. ``newton_steps=0`` is
    the influence-function step. The ``m × C`` (candidate, label) pairs are flattened.
    """
    n_outputs, width = head.weights.shape
    n_classes = head.classes.shape[0]
    m = candidates.shape[0]
    flat_inverse = inverse.reshape(n_outputs * width, -1)
    targets = np.tile(-head.residuals(np.zeros((1, n_outputs)))[0].T, (m, 1))  # e_y, (P, K)
    rows = np.repeat(candidates, n_classes, axis=0)  # x̃ of each pair, (P, D)
    basis = np.tensordot(candidates, inverse, axes=([1], [3]))  # Z_x = H⁻¹(I ⊗ x̃), (m,K,D,K)
    gram = np.einsum("md,madb->mab", candidates, basis)  # (I ⊗ x̃)ᵀ Z_x, (m, K, K)
    basis = np.repeat(basis, n_classes, axis=0)
    gram = np.repeat(gram, n_classes, axis=0)
    weights = np.broadcast_to(head.weights, (m * n_classes, n_outputs, width)).copy()

    def objective(pairs: Any, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """J'(θ) of the ``pairs``, and their labeled logits ``(n, pairs, K)``."""
        logits = (labeled @ weights.reshape(-1, width).T).reshape(labeled.shape[0], -1, n_outputs)
        value = head.log_loss(logits, labeled_targets[:, None, :]).sum(axis=0)
        own = np.einsum("pkd,pd->pk", weights, rows[pairs])
        value += head.log_loss(own, targets[pairs]) + 0.5 * (penalty * weights**2).sum(axis=(1, 2))
        return value, logits

    if newton_steps:
        value, labeled_logits = objective(slice(None), weights)
    for _ in range(max(newton_steps, 1)):
        outputs = head.outputs(np.einsum("pkd,pd->pk", weights, rows))
        gradient = (outputs - targets)[:, :, None] * rows[:, None, :]
        if newton_steps:  # the labeled objective's gradient (zero at the fitted weights)
            misfit = head.outputs(labeled_logits) - labeled_targets[:, None, :]
            pulled = misfit.reshape(labeled.shape[0], -1).T @ labeled  # (P·K, D)
            gradient += pulled.reshape(gradient.shape) + penalty * weights
        direction = (gradient.reshape(weights.shape[0], -1) @ flat_inverse).reshape(weights.shape)
        if not newton_steps:  # the influence-function step
            weights -= direction
            break
        # Woodbury: add the candidate's own curvature A_x ⊗ x̃x̃ᵀ to H
        curvature = head.curvature(outputs)  # (P, K, K)
        projected = np.einsum("pkd,pd->pk", direction, rows)[:, :, None]
        system = np.eye(n_outputs) + curvature @ gram
        correction = np.linalg.solve(system, curvature @ projected)[:, :, 0]
        direction -= np.einsum("padb,pb->pad", basis, correction)
        slope = np.einsum("pkd,pkd->p", gradient, direction)  # the Newton decrement²
        converged = slope <= 1e-12 * (1.0 + np.abs(value))
        if converged.all():
            break
        # Backtracking (Armijo), only for the pairs whose full step falls short.
        trial = weights - direction
        trial_value, trial_logits = objective(slice(None), trial)
        short = np.flatnonzero((trial_value > value - 1e-4 * slope) & ~converged)
        scale = 1.0
        while short.size and scale > 1e-9:
            scale /= 2
            retry = weights[short] - scale * direction[short]
            retry_value, retry_logits = objective(short, retry)
            done = retry_value <= value[short] - 1e-4 * scale * slope[short]
            done |= scale <= 1e-9  # give up: keep the smallest step
            accepted = short[done]
            trial[accepted] = retry[done]
            trial_value[accepted] = retry_value[done]
            trial_logits[:, accepted] = retry_logits[:, done]
            short = short[~done]
        weights, value, labeled_logits = trial, trial_value, trial_logits
    # Classes first, (K, n_eval, P): the softmax and the losses reduce over a short axis 0.
    logits = np.stack([np.asarray(evaluation @ weights[:, k, :].T) for k in range(n_outputs)])
    proba = head.proba(head.outputs(logits, axis=0), axis=0)
    errors = risk.error(proba.reshape(n_classes, -1, m, n_classes))  # (m, C)
    if risk.labeled_codes is not None:
        own_logits = np.einsum("pkd,pd->kp", weights, rows).reshape(n_outputs, m, n_classes)
        own = head.proba(head.outputs(own_logits, axis=0), axis=0)  # (C, m, C)
        errors = errors + risk.own(own, np.arange(n_classes), in_evaluation[:, None])
    return errors


def _fast_errors(
    head: LinearHead,
    X_labeled: Any,
    labels: np.ndarray,
    X_candidates: Any,
    X_evaluation: Any,
    risk: _Risk,
    in_evaluation: np.ndarray,
    newton_steps: int,
    who: str,
) -> np.ndarray:
    """Errors ``(n_candidates, C)`` by the vectorised Newton/influence approximation."""
    n_outputs, width = head.weights.shape
    if n_outputs * width > MAX_FAST_PARAMETERS:
        raise ValueError(
            f"{who}: method='fast' inverts a Hessian over all {n_outputs * width} weights "
            f"({n_outputs} × {width}); at most {MAX_FAST_PARAMETERS} are supported. Use "
            "method='exact', or put a dimension reduction (e.g. PCA) in the Pipeline."
        )
    labeled = _dense(head.augmented(head.features(X_labeled, who)))
    strength, new_strength, penalise_bias = _l2_strength(head, labeled.shape[0], who)
    curvature = head.curvature(head.outputs(head.logits(labeled)))  # (n, K, K)
    hessian = np.empty((n_outputs, width, n_outputs, width))
    for a in range(n_outputs):
        for b in range(a, n_outputs):
            block = labeled.T @ (curvature[:, a, b, None] * labeled)
            hessian[a, :, b, :] = block
            hessian[b, :, a, :] = block.T
    penalty = np.ones((n_outputs, width))
    if head.bias is not None and not penalise_bias:
        penalty[:, -1] = 0.0
    hessian = hessian.reshape(n_outputs * width, -1) + np.diag(strength * penalty.ravel())
    inverse = _pinv_psd(hessian).reshape(n_outputs, width, n_outputs, width)
    codes = _class_codes(labels, head.classes, who)
    targets = -head.residuals(np.zeros((1, n_outputs)))[0].T  # e_y per class, (C, K)
    labeled_targets = targets[codes]

    candidates = head.augmented(head.features(X_candidates, who))
    evaluation = head.augmented(head.features(X_evaluation, who))
    n_classes = head.classes.shape[0]
    rows = evaluation.shape[0] + labeled.shape[0]
    per_candidate = rows * n_classes * max(n_outputs, n_classes)
    block = max(1, _BLOCK_VALUES // per_candidate)
    errors = np.empty((candidates.shape[0], n_classes))
    for start in range(0, candidates.shape[0], block):
        stop = min(start + block, candidates.shape[0])
        errors[start:stop] = _fast_block_errors(
            head,
            inverse,
            new_strength * penalty,
            labeled,
            labeled_targets,
            _dense(candidates[start:stop]),
            evaluation,
            risk,
            in_evaluation[start:stop],
            newton_steps,
        )
    return errors


def _has_fast_form(model: ModelAdapter, X_labeled: Any, who: str) -> bool:
    """Whether the fast methods apply: an L2 logistic/softmax model, not too many weights."""
    try:
        head = linear_head(model, who)
        _l2_strength(head, n_rows(X_labeled), who)
    except (TypeError, ValueError):
        return False
    return head.weights.size <= MAX_FAST_PARAMETERS


def _class_codes(labels: np.ndarray, classes: np.ndarray, who: str) -> np.ndarray:
    """Position of each label in ``classes`` (sorted, as scikit-learn's ``classes_``)."""
    codes = np.clip(np.searchsorted(classes, labels), 0, classes.shape[0] - 1)
    if not np.array_equal(classes[codes], labels):
        unknown = sorted(set(labels.tolist()) - set(classes.tolist()))
        raise ValueError(
            f"{who}: y_labeled holds labels {unknown} the model does not know "
            f"(classes_: {classes.tolist()}); fit the model on the labeled set."
        )
    return codes


def _check_cost_matrix(cost_matrix: Any, n_classes: int, who: str) -> np.ndarray | None:
    if cost_matrix is None:
        return None
    cost = np.asarray(cost_matrix, dtype=np.float64)
    if cost.shape != (n_classes, n_classes):
        raise ValueError(
            f"{who}: cost_matrix must have shape ({n_classes}, {n_classes}), one row and "
            f"column per class in the order of model.classes_; got {cost.shape}."
        )
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise ValueError(f"{who}: cost_matrix must hold finite, non-negative costs.")
    return cost


class _ErrorReduction(Strategy):
    """What EER and VOI share: candidates, evaluation rows, the three methods."""

    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)
    _voi: ClassVar[bool] = False

    method: str
    candidates: int | None
    prescreen: str
    evaluation: int | None
    cost_matrix: Any
    newton_steps: int
    warm_start: bool
    n_jobs: int | None

    def _pool_loss(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_params(self) -> None:
        who = self.name
        if self.method not in _METHODS:
            raise ValueError(f"{who}: method must be one of {_METHODS}; got {self.method!r}.")
        if self.candidates is not None:
            check_int(self.candidates, "candidates", who, 1)
        if self.prescreen not in _PRESCREENS:
            raise ValueError(
                f"{who}: prescreen must be one of {_PRESCREENS}; got {self.prescreen!r}."
            )
        if self.evaluation is not None:
            check_int(self.evaluation, "evaluation", who, 1)
        check_int(self.newton_steps, "newton_steps", who, 1)
        if not isinstance(self.warm_start, bool | np.bool_):
            raise ValueError(f"{who}: warm_start must be True or False; got {self.warm_start!r}.")
        n_jobs = self.n_jobs
        if n_jobs is not None and (
            isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0
        ):
            raise ValueError(
                f"{who}: n_jobs must be None or a non-zero int (-1: all cores); got {n_jobs!r}."
            )

    def utilities(
        self,
        model: Any,
        X_pool: Any,
        X_labeled: Any,
        y_labeled: Any,
        random_state: Any = None,
    ) -> np.ndarray:
        """Utility of each pool item: minus the expected error after labeling it.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool : array-like, sparse matrix, DataFrame or list of texts
        X_labeled, y_labeled : array-like
            The rows and labels the model was fitted on.
        random_state : int, numpy.random.Generator or None
            Seeds the candidate and evaluation subsamples.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
            NaN for pool items that were not candidates.
        """
        rng = check_random_state(random_state)
        utilities, _, _ = self._scores(self._adapter(model), X_pool, X_labeled, y_labeled, rng)
        return utilities

    def _scores(
        self,
        model: ModelAdapter,
        X_pool: Any,
        X_labeled: Any,
        y_labeled: Any,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Utilities (NaN off the candidates), the candidates, and the pre-scores."""
        self._check_params()
        who = self.name
        n_labeled = 0 if X_labeled is None else n_rows(X_labeled)
        if n_labeled == 0 or y_labeled is None:
            raise ValueError(
                f"{who} retrains the model with each candidate added to the labeled set, so "
                "it needs X_labeled and y_labeled (the rows the model was fitted on); got "
                f"{'None' if X_labeled is None or y_labeled is None else 'an empty set'}."
            )
        labels = check_labels(y_labeled, n_labeled, name="y_labeled")
        classes = np.asarray(model.classes_)
        proba = check_probabilities(model.predict_proba(X_pool), who)
        if proba.shape[1] != classes.shape[0]:
            raise ValueError(
                f"{who}: predict_proba gives {proba.shape[1]} columns but the model has "
                f"{classes.shape[0]} classes_."
            )
        cost = _check_cost_matrix(self.cost_matrix, classes.shape[0], who)
        n = proba.shape[0]
        prescores = (
            scores.margin(proba) if self.prescreen == "margin" else rng.random(n)
        )  # higher first
        if self.candidates is None or self.candidates >= n:
            candidates = np.arange(n, dtype=np.int64)
        else:
            candidates = top_k(prescores, self.candidates, rng)
        if self.evaluation is None or self.evaluation >= n:
            evaluation_rows = np.arange(n, dtype=np.int64)
        else:
            evaluation_rows = np.sort(rng.choice(n, size=self.evaluation, replace=False))
        in_sample = np.zeros(n, dtype=bool)
        in_sample[evaluation_rows] = True
        risk, X_evaluation = self._risk(
            X_pool, X_labeled, labels, classes, cost, evaluation_rows, n / evaluation_rows.size
        )
        X_candidates = take_rows(X_pool, candidates)
        in_evaluation = in_sample[candidates]
        method = self.method
        if method == "auto":
            method = "fast" if _has_fast_form(model, X_labeled, who) else "exact"
        if method == "exact":
            errors = self._exact(
                model, X_labeled, labels, classes, X_candidates, X_evaluation, risk, in_evaluation
            )
        else:
            head = linear_head(model, who, "Use method='exact', which retrains any model.")
            errors = _fast_errors(
                head,
                X_labeled,
                labels,
                X_candidates,
                X_evaluation,
                risk,
                in_evaluation,
                0 if method == "influence" else self.newton_steps,
                who,
            )
        utilities = np.full(n, np.nan)
        utilities[candidates] = -np.einsum("ij,ij->i", proba[candidates], errors)
        return utilities, candidates, prescores

    def _risk(self, X_pool, X_labeled, labels, classes, cost, rows, weight):
        """The risk and the evaluation rows: pool rows, then labeled rows if used."""
        X_evaluation = take_rows(X_pool, rows)
        if self._voi:
            codes = _class_codes(labels, classes, self.name)
            risk = _Risk(self._pool_loss(), cost, rows.size, weight, codes)
            return risk, concat_rows(X_evaluation, X_labeled)
        risk = _Risk(self._pool_loss(), cost, rows.size, weight, None)
        if getattr(self, "include_labeled", False):
            X_evaluation = concat_rows(X_evaluation, X_labeled)
        return risk, X_evaluation

    def _exact(
        self, model, X_labeled, labels, classes, X_candidates, X_evaluation, risk, in_evaluation
    ):
        if not callable(getattr(model, "fit", None)):
            raise TypeError(f"{self.name}: method='exact' retrains the model; it needs fit.")
        refit = _Refit(model, self.warm_start and _can_warm_start(model, labels, classes))
        n_candidates = n_rows(X_candidates)
        if self.n_jobs is None or self.n_jobs == 1 or n_candidates == 1:
            return _exact_block(
                refit, X_labeled, labels, X_candidates, X_evaluation, classes, risk, in_evaluation
            )
        from joblib import Parallel, delayed, effective_n_jobs

        n_blocks = min(n_candidates, 4 * effective_n_jobs(self.n_jobs))
        blocks = np.array_split(np.arange(n_candidates), n_blocks)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_exact_block)(
                refit,
                X_labeled,
                labels,
                take_rows(X_candidates, block),
                X_evaluation,
                classes,
                risk,
                in_evaluation[block],
            )
            for block in blocks
        )
        return np.concatenate(results, axis=0)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        utilities, candidates, prescores = self._scores(model, X_pool, X_labeled, y_labeled, rng)
        take = min(k, candidates.size)
        picks = candidates[top_k(utilities[candidates], take, rng)]
        if take == k:
            return picks
        rest = np.setdiff1d(np.arange(utilities.shape[0]), candidates)
        return np.concatenate([picks, rest[top_k(prescores[rest], k - take, rng)]])


_SHARED_PARAMETERS = """
    method : {"auto", "exact", "fast", "influence"}, default="auto"
        ``"exact"`` retrains a copy of the model for every candidate and label (any
        model with ``fit``). ``"fast"``: for LogisticRegression or
        SGDClassifier(loss="log_loss") with an L2 penalty (or none) and no class
        weights, alone or as a Pipeline's last step, ``newton_steps`` Newton steps from
        the fitted weights replace retraining, for the whole pool at once;
        ``"influence"`` is the influence-function step (see below). ``"auto"``:
        ``"fast"`` where it applies (and the weights number at most
        ``MAX_FAST_PARAMETERS``), ``"exact"`` otherwise.
    candidates : int or None, default=None
        Score at most this many pool items (None: all). They are chosen by
        ``prescreen``; when ``k`` is larger, the batch is filled from the other items
        in the same order.
    prescreen : {"margin", "random"}, default="margin"
        ``"margin"``: the items with the smallest top-two margin (the labels the model is
        least sure of, whose expected change is largest); ``"random"``: a uniform
        sample (like modAL's ``p_subsample``, but of a fixed size).
    evaluation : int or None, default=None
        Estimate the pool's loss on a uniform sample of this many pool items (the same
        for every candidate; its sum is scaled by ``|pool| / evaluation``). None: the
        whole pool.
    cost_matrix : array of shape (C, C) or None, default=None
        ``cost_matrix[i, j]``: cost of predicting class ``j`` when the class is ``i``,
        in the order of ``model.classes_``; None is the 0/1 cost.
    newton_steps : int, default=5
        ``"fast"``: the most Newton steps per candidate and label (fewer once they
        converge). One is the classic one-step approximation; more steps converge to
        the retrained weights.
    warm_start : bool, default=True
        ``"exact"`` with LogisticRegression (not liblinear): start each retraining from
        the fitted weights. The optimum is the same (the objective is strictly convex);
        utilities agree with cold retraining up to the solver's tolerance.
    n_jobs : int or None, default=None
        ``"exact"``: retrain in this many joblib workers (-1: every core).

"""


class ExpectedErrorReduction(_ErrorReduction):
    r"""Expected error reduction (EER): query what most lowers the expected future loss.

    For each candidate ``x`` and label ``y`` the model is retrained on
    :math:`L \cup \{(x, y)\}`; its loss on the pool ``U`` is estimated with its own
    posterior :math:`p'` (no true labels are known), and weighted by the current model's
    :math:`p(y \mid x)`:

    .. math:: u(x) = -\sum_y p(y \mid x) \sum_{v \in U}
              \mathrm{loss}\big(p'_{L \cup \{(x, y)\}}(\cdot \mid v)\big)

    with ``loss="log"`` the entropy :math:`-\sum_c p'_c \log p'_c` and
    ``loss="zero_one"`` :math:`1 - \max_c p'_c` (with a ``cost_matrix``, the risk of the
    cheapest decision); see :func:`expected_loss`. The pool ``U`` includes ``x``, as in
    the paper's sum over the pool. By default (``method="auto"``) a logistic or softmax
    regression is retrained by the fast Newton steps below and any other model by
    ``fit``.

    The fast methods (logistic and softmax regression). Retraining minimises
    :math:`J'(\theta) = J(\theta) + \ell(x, y; \theta)`, where
    :math:`J = \sum_{i \in L} \ell_i + \frac{\lambda}{2}\lVert W \rVert^2` is the
    regularised objective the model minimised (its gradient is zero at the fitted
    weights :math:`\hat\theta`). ``"fast"`` takes Newton steps on :math:`J'` from
    :math:`\hat\theta`, :math:`\theta \leftarrow \theta - (H + h_x(\theta))^{-1}
    \nabla J'(\theta)`, where ``H`` is the Hessian of ``J`` at :math:`\hat\theta`,
    formed and inverted once, and :math:`h_x = A_x \otimes \tilde x \tilde x^\top`
    (:math:`A_x = \mathrm{diag}(p) - pp^\top`) is the candidate's own curvature, added
    by Woodbury: with :math:`Z_x = H^{-1}(I \otimes \tilde x)` and
    :math:`G_x = (I \otimes \tilde x)^\top Z_x`,
    :math:`(H + h_x)^{-1} v = H^{-1} v - Z_x (I + A_x G_x)^{-1} A_x (I \otimes \tilde x)^\top
    H^{-1} v`, a ``C × C`` solve. The first step is the exact Newton step on
    :math:`J'` (the gradient there is :math:`g_{x,y} = (s - e_y) \otimes \tilde x`); later
    steps recompute the labeled gradient exactly (one matrix product for every
    candidate and label) but keep ``H`` from :math:`\hat\theta`, with a backtracking
    line search on :math:`J'`, so they converge to the retrained weights. Then the new
    logits on the evaluation set follow from one matrix product per block of
    candidates. ``"influence"`` takes :math:`\hat\theta - H^{-1} g_{x,y}` (Koh & Liang
    2017): to first order the same as one Newton step, since :math:`h_x` is one term
    beside :math:`|L|` in the Hessian. What is approximated: the weights, when the steps
    stop before convergence (a surprising label on an outlying item moves them most);
    a Pipeline's earlier steps are not refitted. Each step costs
    :math:`O(n_\text{cand} C (|L| K D + (KD)^2))` and the evaluation
    :math:`O(n_\text{cand} n_\text{eval} C K D)` (``K`` weight vectors of width ``D``);
    large pools call for ``candidates`` and ``evaluation``.

    Peers. scikit-activeml's ``MonteCarloEER`` computes the same utilities with
    ``X_eval`` as the evaluation set; by default it evaluates on all of ``X``, the
    labeled rows too, which is ``include_labeled=True`` here (same picks; its log loss
    adds ``eps`` inside the log). modAL's ``expected_error_reduction`` (``loss="binary"``
    is ``"zero_one"``) evaluates each candidate on the pool *without* that candidate and
    subsamples candidates by coin flips from numpy's global generator, so its picks can
    differ where the candidate's own term decides.

    Parameters
    ----------
    loss : {"log", "zero_one"}, default="log"
        Loss on each evaluation item, under the retrained model's own posterior.
    include_labeled : bool, default=False
        Evaluate on the labeled rows too (scored like pool rows), as scikit-activeml's
        ``MonteCarloEER`` does by default.
    {shared}
    References
    ----------
    Roy & McCallum (2001), "Toward optimal active learning through sampling estimation
    of error reduction", ICML, pp. 441–448.
    Koh & Liang (2017), "Understanding black-box predictions via influence functions",
    ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression().fit(X, y)
    >>> pool = np.array([[-5.0], [2.0], [9.0]])
    >>> ExpectedErrorReduction().query(model, pool, 1, X, y).shape
    (1,)
    """

    name: ClassVar[str] = "eer"
    summary: ClassVar[str] = "retrain with each candidate and label, least expected pool loss"
    reference: ClassVar[str] = "Roy & McCallum 2001"

    def __init__(
        self,
        loss: str = "log",
        method: str = "auto",
        candidates: int | None = None,
        prescreen: str = "margin",
        evaluation: int | None = None,
        include_labeled: bool = False,
        cost_matrix: Any = None,
        newton_steps: int = 5,
        warm_start: bool = True,
        n_jobs: int | None = None,
    ) -> None:
        self.loss = loss
        self.method = method
        self.candidates = candidates
        self.prescreen = prescreen
        self.evaluation = evaluation
        self.include_labeled = include_labeled
        self.cost_matrix = cost_matrix
        self.newton_steps = newton_steps
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        super()._check_params()
        if self.loss not in _LOSSES:
            raise ValueError(f"{self.name}: loss must be one of {_LOSSES}; got {self.loss!r}.")
        if self.loss == "log" and self.cost_matrix is not None:
            raise ValueError(
                f"{self.name}: cost_matrix applies to loss='zero_one' only; the log loss has "
                "no costs. Pass loss='zero_one' or cost_matrix=None."
            )
        if not isinstance(self.include_labeled, bool | np.bool_):
            raise ValueError(
                f"{self.name}: include_labeled must be True or False; got {self.include_labeled!r}."
            )

    def _pool_loss(self) -> str:
        return self.loss


class ValueOfInformationEER(_ErrorReduction):
    r"""Value of information (VOI) expected error reduction (Kapoor et al. 2007).

    Like :class:`ExpectedErrorReduction`, the model is retrained on
    :math:`L \cup \{(x, y)\}` for each candidate and label, but its risk counts the
    labeled rows with their labels, the candidate with its hypothesised label, and the
    rest of the pool under the model's own posterior, with the prediction drawn from it:

    .. math:: R(x, y) = \sum_{(v, c) \in L \cup \{(x, y)\}} \sum_j p'(j \mid v)\,L_{cj}
              + \sum_{v \in U \setminus \{x\}} \sum_{ij} p'(i \mid v)\,p'(j \mid v)\,L_{ij}

    .. math:: u(x) = -\sum_y p(y \mid x)\, R(x, y)

    For the 0/1 cost the terms are :math:`1 - p'(c \mid v)` and
    :math:`1 - \sum_c p'(c \mid v)^2`. Cost-sensitive costs (Margineantu 2005) go in
    ``cost_matrix``. The labeling cost of the paper is the same for every item and
    does not change the ranking. The fast methods are those of
    :class:`ExpectedErrorReduction`.

    This is scikit-activeml's ``ValueOfInformationEER`` with its defaults
    (``consider_labeled``, ``consider_unlabeled`` and ``candidate_to_labeled`` true,
    ``normalize`` and ``subtract_current`` false): same utilities and picks. It differs
    from :class:`ExpectedErrorReduction` in the labeled term (the fit to the known
    labels), and in scoring unlabeled items by the randomised prediction
    (:math:`1 - \sum p^2`) instead of the Bayes decision (:math:`1 - \max p`).

    Parameters
    ----------
    {shared}
    References
    ----------
    Kapoor, Horvitz & Basu (2007), "Selective supervision: guiding supervised learning
    with decision-theoretic active learning", IJCAI, pp. 877–882.
    Margineantu (2005), "Active cost-sensitive learning", IJCAI, pp. 1622–1623.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression().fit(X, y)
    >>> ValueOfInformationEER().query(model, np.array([[-5.0], [2.0]]), 1, X, y).shape
    (1,)
    """

    name: ClassVar[str] = "voi_eer"
    summary: ClassVar[str] = "retrain with each candidate and label, least labeled + pool risk"
    reference: ClassVar[str] = "Kapoor et al. 2007"
    _voi: ClassVar[bool] = True

    def __init__(
        self,
        method: str = "auto",
        candidates: int | None = None,
        prescreen: str = "margin",
        evaluation: int | None = None,
        cost_matrix: Any = None,
        newton_steps: int = 5,
        warm_start: bool = True,
        n_jobs: int | None = None,
    ) -> None:
        self.method = method
        self.candidates = candidates
        self.prescreen = prescreen
        self.evaluation = evaluation
        self.cost_matrix = cost_matrix
        self.newton_steps = newton_steps
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def _pool_loss(self) -> str:
        return "gibbs"


for _cls in (ExpectedErrorReduction, ValueOfInformationEER):
    if _cls.__doc__:  # None under python -OO
        _cls.__doc__ = _cls.__doc__.replace("    {shared}\n", _SHARED_PARAMETERS.lstrip("\n"))
