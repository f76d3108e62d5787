"""Epistemic uncertainty sampling (Nguyen, Destercke & Hüllermeier 2019).

The degree of support of a class is the largest :math:`\\min(\\pi(\\theta), \\text{evidence
for the class under } \\theta)` over the models :math:`\\theta`, where :math:`\\pi` is the
normalised likelihood of :math:`\\theta` on the labeled data. When both classes keep a
high support, the data cannot yet tell them apart at that item: its uncertainty is
*epistemic* (reducible by labels), :math:`u_e = \\min(\\pi_1, \\pi_0)`. The paper gives it
for a Parzen window (local frequency) classifier, where :math:`\\theta` is the local class
probability, and for logistic regression, where :math:`\\theta` is the weight vector.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import expit, softmax, xlogy

from activelab._distances import as_embedding
from activelab._validation import check_labels, n_rows
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._pal import _KernelStrategy, kernel_frequencies

__all__ = [
    "EpistemicUncertainty",
    "epistemic_logistic",
    "epistemic_uncertainty",
    "plausibility",
]

#: Bisection steps of :func:`plausibility` (halves the bracket to float64 resolution).
_BISECTION_STEPS = 60
#: Largest logit searched by the logistic variant: sigmoid(25) = 1 − 1.4e-11.
_MAX_LOGIT = 25.0
#: The logistic variant solves a Newton system per item; it refuses bigger models.
MAX_PARAMETERS = 300


# ----------------------------------------------------------------- Parzen (counts)


def plausibility(positive: Any, negative: Any) -> np.ndarray:
    r"""Degree of support of the positive class from local counts (Nguyen et al. 2019).

    With :math:`p` positive and :math:`n` negative (kernel-weighted) labels around an
    item, the normalised likelihood of a local positive rate :math:`\theta` is
    :math:`\pi(\theta) = \theta^p (1 - \theta)^n / (\hat\theta^p (1 - \hat\theta)^n)`,
    :math:`\hat\theta = p / (p + n)`, and the support of the positive class is

    .. math:: \pi(1) = \sup_{\theta \in [0, 1]} \min\big(\pi(\theta),\, 2\theta - 1\big).

    :math:`\pi` is unimodal and :math:`2\theta - 1` increasing, so the supremum is where
    they cross on :math:`[\max(\tfrac12, \hat\theta), 1]`; it is found by bisection on
    the log of both sides, vectorised over items, to float64 resolution. No counts at
    all (:math:`p = n = 0`) give support 1. The negative class's support is
    ``plausibility(negative, positive)``.

    Parameters
    ----------
    positive, negative : array-like of shape (n,)
        Non-negative (real) counts.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Values in ``[0, 1]``.

    References
    ----------
    Nguyen, Destercke & Hüllermeier (2019), "Epistemic uncertainty sampling", Discovery
    Science, LNCS 11828, pp. 72–86.

    Examples
    --------
    >>> plausibility([0.0, 1.0, 10.0], [0.0, 1.0, 0.0]).round(4)
    array([1.   , 0.618, 1.   ])
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.shape != neg.shape or not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("plausibility needs finite counts of equal shapes.")
    if (pos < 0).any() or (neg < 0).any():
        raise ValueError("plausibility needs non-negative counts.")
    total = pos + neg
    theta_hat = np.divide(pos, total, out=np.full_like(pos, 0.5), where=total > 0)
    # log of the likelihood at θ̂ from the counts' logs: stays finite for subnormal counts
    log_total = np.log(np.where(total > 0, total, 1.0))
    log_top = pos * (np.log(np.where(pos > 0, pos, 1.0)) - log_total)
    log_top += neg * (np.log(np.where(neg > 0, neg, 1.0)) - log_total)
    low = np.maximum(0.5, theta_hat)
    high = np.ones_like(low)
    with np.errstate(divide="ignore"):
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (low + high)
            above = xlogy(pos, mid) + xlogy(neg, 1.0 - mid) - log_top >= np.log(2.0 * mid - 1.0)
            low = np.where(above, mid, low)
            high = np.where(above, high, mid)
    return 2.0 * low - 1.0


def epistemic_uncertainty(frequencies: Any) -> np.ndarray:
    r"""Epistemic uncertainty from kernel frequency estimates (Parzen window classifier).

    .. math:: u_e(x) = \min\big(\pi(a \mid x),\, \pi(b \mid x)\big)

    where :math:`\pi` is :func:`plausibility` of the counts of :math:`a` against
    :math:`b`. For two classes :math:`a, b` are the two classes (the paper, and
    scikit-activeml's ``EpistemicUncertaintySampling`` with a ``ParzenWindowClassifier``).
    For more classes they are the two classes with the largest frequencies at
    :math:`x`: the decision the next label could still overturn (activelab's
    extension; it reduces to the paper for two classes). High where few labels are near
    and they disagree or are absent; low where many agree *and* where many disagree
    (that uncertainty is aleatoric).

    Parameters
    ----------
    frequencies : array-like of shape (n, C)
        Non-negative kernel frequency estimates, ``C >= 2``
        (:func:`activelab.strategies._pal.kernel_frequencies`).

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Nguyen, Destercke & Hüllermeier (2019), "Epistemic uncertainty sampling", Discovery
    Science, LNCS 11828, pp. 72–86.

    Examples
    --------
    >>> epistemic_uncertainty([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [9.0, 0.0]]).round(3)
    array([1.   , 0.618, 0.183, 0.002])
    """
    counts = np.asarray(frequencies, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 2:
        raise ValueError(
            f"epistemic_uncertainty needs frequencies of shape (n, C), C >= 2; got {counts.shape}."
        )
    top_two = -np.partition(-counts, 1, axis=1)[:, :2]
    first, second = top_two[:, 0], top_two[:, 1]
    return np.minimum(plausibility(first, second), plausibility(second, first))


# ----------------------------------------------------------------- logistic model


class _SoftmaxLikelihood:
    """Penalised negative log-likelihood of a logistic or multinomial model, batched.

    ``F(Θ) = Σ_i s_i (logsumexp(L_i) − L_{i y_i}) + γ/2 ‖W‖²`` with logits ``L = X̃ Θᵀ``
    for the free rows; a binary model has one free row (class 1) and class 0's logit
    fixed at 0. Parameters come as ``(B, K·d')`` batches; the intercept is not penalised.
    """

    def __init__(self, X, onehot, weights, gamma, binary, intercept):
        self.X, self.Y, self.s, self.gamma = X, onehot, weights, gamma
        self.binary = binary
        self.K = 1 if binary else onehot.shape[1]
        self.d = X.shape[1]
        penalty = np.ones(self.d)
        if intercept:
            penalty[-1] = 0.0
        self.penalty = np.tile(penalty, self.K)
        self.ridge = np.tile(1.0 - penalty, self.K) * 1e-9  # pins the intercept's gauge
        # x x^T of every labeled row, weighted: the Hessian is one GEMM against it
        self.outer = (weights[:, None, None] * X[:, :, None] * X[:, None, :]).reshape(len(X), -1)

    def _logits(self, theta):
        """Logits ``(B, m, C)``: ``X̃ Θᵀ`` for the free rows (a zero column for class 0)."""
        logits = np.matmul(theta.reshape(-1, self.K, self.d), self.X.T).transpose(0, 2, 1)
        if self.binary:
            logits = np.concatenate([np.zeros_like(logits), logits], axis=2)
        return logits

    def value(self, theta):
        logits = self._logits(theta)
        top = logits.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(axis=2)) + top[:, :, 0]
        nll = log_norm - (logits * self.Y).sum(axis=2)
        return nll @ self.s + 0.5 * self.gamma * (theta * theta) @ self.penalty

    def grad_hess(self, theta):
        n_batch, size = theta.shape[0], self.K * self.d
        proba = softmax(self._logits(theta), axis=2)
        free = proba[:, :, 1:] if self.binary else proba
        target = self.Y[:, 1:] if self.binary else self.Y
        residual = (free - target) * self.s[None, :, None]
        grad = np.matmul(residual.transpose(0, 2, 1), self.X).reshape(n_batch, size)
        grad += self.gamma * self.penalty * theta
        # per row: diag(p) − p pᵀ over the free classes (the sample weight is in `outer`)
        curvature = -free[:, :, :, None] * free[:, :, None, :]
        curvature[:, :, np.arange(self.K), np.arange(self.K)] += free
        pairs = curvature.reshape(n_batch, -1, self.K * self.K).transpose(0, 2, 1)
        blocks = (pairs.reshape(-1, pairs.shape[2]) @ self.outer).reshape(
            n_batch, self.K, self.K, -1
        )
        hess = blocks.reshape(n_batch, self.K, self.K, self.d, self.d).transpose(0, 1, 3, 2, 4)
        hess = hess.reshape(n_batch, size, size)
        diagonal = np.arange(size)
        hess[:, diagonal, diagonal] += self.gamma * self.penalty + self.ridge
        return grad, hess


def _newton(likelihood, theta, directions=None, steps=50, tol=1e-13):
    """Minimise F from ``theta`` (B, P) by damped Newton, within ``gᵀΔ = 0`` when given."""
    theta = theta.copy()
    value = likelihood.value(theta)
    active = np.arange(theta.shape[0])
    for _ in range(steps):
        if active.size == 0:
            break
        grad, hess = likelihood.grad_hess(theta[active])
        if directions is None:
            step = -np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        else:
            g = directions[active]
            size = hess.shape[1]
            kkt = np.zeros((active.size, size + 1, size + 1))
            kkt[:, :size, :size] = hess
            kkt[:, :size, size] = g
            kkt[:, size, :size] = g
            rhs = np.concatenate([-grad, np.zeros((active.size, 1))], axis=1)
            step = np.linalg.solve(kkt, rhs[:, :, None])[:, :size, 0]
        decrement = -np.einsum("bp,bp->b", grad, step)
        rate = np.ones(active.size)
        pending = np.arange(active.size)
        for _ in range(40):  # Armijo backtracking, per item
            trial = theta[active[pending]] + rate[pending, None] * step[pending]
            trial_value = likelihood.value(trial)
            ok = trial_value <= value[active[pending]] - 1e-4 * rate[pending] * decrement[pending]
            ok |= rate[pending] < 1e-12
            rows = active[pending[ok]]
            theta[rows] = trial[ok]
            value[rows] = trial_value[ok]
            pending = pending[~ok]
            if pending.size == 0:
                break
            rate[pending] *= 0.5
        active = active[decrement > 2 * tol]
    return theta, value


def _laplace_crossing(t_hat, variance, sign, low, high):
    """Where the Gaussian approximation of the profile crosses ``2σ(u) − 1``.

    With ``F*(t) − F̂ ≈ (t − t̂)² / (2v)``, solve ``(s·u − t̂)²/(2v) + log(2σ(u) − 1) = 0``
    for ``u`` in ``[low, high]`` (one increasing and one decreasing side: bisection).
    """
    a, b = low.copy(), high.copy()
    with np.errstate(divide="ignore"):
        for _ in range(50):
            mid = 0.5 * (a + b)
            above = -((sign * mid - t_hat) ** 2) / (2 * variance) >= np.log(2 * expit(mid) - 1)
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
    return 0.5 * (a + b)


def _logistic_supports(likelihood, theta_hat, value_hat, G, t_hat, tangent, variance, sign):
    """Support of one side (sign=+1: class a, -1: class b) per item, by safeguarded Newton.

    Solves ``h(u) = −(F*(s·u) − F̂) − log(2σ(u) − 1) = 0`` on ``u ∈ [max(0, s·t̂), 25]``
    where ``F*(t) = min {F(Θ) : gᵀΘ = t}`` (its slope is the multiplier ``gᵀ∇F/|g|²``).
    The search starts at the crossing of the Laplace approximation of ``F*`` and each
    constrained solve starts from the last one moved along ``H⁻¹g`` (the path's tangent
    at ``Θ̂``), so a few Newton steps suffice.
    """
    n_items = G.shape[0]
    norms = np.einsum("bp,bp->b", G, G)
    low = np.maximum(0.0, sign * t_hat)
    high = np.full(n_items, _MAX_LOGIT)
    theta = np.repeat(theta_hat[None, :], n_items, axis=0)
    t_now = t_hat.copy()

    def evaluate(u, rows):
        t = sign * u
        start = theta[rows] + tangent[rows] * (t - t_now[rows])[:, None]
        start += G[rows] * ((t - np.einsum("bp,bp->b", G[rows], start)) / norms[rows])[:, None]
        solved, value = _newton(likelihood, start, G[rows])
        theta[rows], t_now[rows] = solved, t
        grad, _ = likelihood.grad_hess(solved)
        slope = np.einsum("bp,bp->b", G[rows], grad) / norms[rows]  # dF*/dt
        margin = 2.0 * expit(u) - 1.0
        with np.errstate(divide="ignore"):
            h = -np.maximum(value - value_hat, 0.0) - np.log(margin)
        dh = -sign * slope - 2.0 * expit(u) * expit(-u) / margin
        return h, dh

    support = np.full(n_items, np.nan)
    rows = np.arange(n_items)
    u = _laplace_crossing(t_hat, variance, sign, low, high)
    for _ in range(100):
        if rows.size == 0:
            break
        h, dh = evaluate(u, rows)
        low[rows] = np.where(h >= 0, u, low[rows])
        high[rows] = np.where(h >= 0, high[rows], u)
        done = (high[rows] - low[rows] < 1e-9) | (np.abs(h) < 1e-11)
        support[rows[done]] = 2.0 * expit(u[done]) - 1.0
        keep = ~done
        rows, u, h, dh = rows[keep], u[keep], h[keep], dh[keep]
        newton = u - h / np.where(dh < 0, dh, -1.0)
        inside = (newton > low[rows]) & (newton < high[rows]) & (dh < 0)
        u = np.where(inside, newton, 0.5 * (low[rows] + high[rows]))
    support[rows] = 2.0 * expit(low[rows]) - 1.0
    return support


def _logistic_head(model: ModelAdapter) -> tuple[Any, str]:
    """The fitted LogisticRegression behind ``model``, or None and why not."""
    from sklearn.linear_model import LogisticRegression

    from activelab.models._sklearn import _final_step

    final = _final_step(getattr(model, "estimator", None))
    if not isinstance(final, LogisticRegression):
        return None, f"the model is {model.describe()}, not a LogisticRegression"
    if not hasattr(final, "coef_"):
        return None, "the LogisticRegression is not fitted"
    if final.solver == "liblinear":
        return None, "solver='liblinear' penalises the intercept and fits one-vs-rest"
    penalty = getattr(final, "penalty", "l2")
    if penalty not in ("l2", "deprecated") or (final.l1_ratio or 0.0) != 0.0:
        return (
            None,
            f"only the L2 penalty is supported (penalty={penalty!r}, l1_ratio={final.l1_ratio})",
        )
    if not np.isfinite(final.C):
        return None, "C=inf has no maximum-likelihood model on separable data"
    if final.coef_.shape[0] > 1 and getattr(final, "multi_class", "auto") == "ovr":
        return None, "multi_class='ovr' is not a softmax model"
    size = final.coef_.size + final.intercept_.size
    if size > MAX_PARAMETERS:
        return None, (
            f"it has {size} coefficients; the likelihood search handles at most "
            f"{MAX_PARAMETERS} (reduce the features, e.g. PCA in the Pipeline)"
        )
    return final, ""


def epistemic_logistic(model: Any, X_pool: Any, X_labeled: Any, y_labeled: Any) -> np.ndarray:
    r"""Epistemic uncertainty of a fitted L2-penalised logistic regression (Nguyen et al.).

    The normalised likelihood of weights :math:`\theta` is
    :math:`\pi(\theta) = \exp(F(\hat\theta) - F(\theta))` with
    :math:`F(\theta) = \sum_i s_i\, \ell(y_i, \theta^\top \tilde x_i) + \frac{1}{2C}
    \lVert w \rVert^2` the model's own training objective on the labeled set (sample
    weights :math:`s_i` from ``class_weight``). For two classes, the support of class 1
    at :math:`x` is

    .. math:: \pi(1 \mid x) = \sup_\theta \min\big(\pi(\theta),\,
              2\sigma(\theta^\top \tilde x) - 1\big)
              = \sup_{t \ge 0} \min\big(\pi^*(t),\, 2\sigma(t) - 1\big),

    with the profile likelihood :math:`\pi^*(t) = \max\{\pi(\theta) : \theta^\top \tilde x
    = t\}`, and symmetrically for class 0; :math:`u_e = \min(\pi(1 \mid x), \pi(0 \mid
    x))`. :math:`\log \pi^*` is concave, so the supremum is the crossing point, found by
    a safeguarded Newton search on :math:`t` (the slope of :math:`\log \pi^*` is the
    constraint's Lagrange multiplier); each :math:`\pi^*(t)` is an equality-constrained
    Newton solve, warm-started and batched over items. :math:`\hat\theta` is the model's
    fitted weights, polished by Newton steps on :math:`F`.

    For a multinomial model (activelab's extension) :math:`t = \log p_a / p_b` for the
    two most probable classes :math:`a, b` at :math:`x` (linear in the weights), and the
    supports are those of :math:`a` against :math:`b`.

    Parameters
    ----------
    model : ModelAdapter
        Wrapping a fitted ``LogisticRegression`` (alone or last in a Pipeline), L2
        penalty, finite ``C``, not ``liblinear``, at most 300 coefficients.
    X_pool : array-like
    X_labeled, y_labeled : array-like
        The data the model was fitted on.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Nguyen, Destercke & Hüllermeier (2019), "Epistemic uncertainty sampling", Discovery
    Science, LNCS 11828, pp. 72–86 (Sect. 4.2, logistic regression).
    """
    head, why = _logistic_head(model)
    if head is None:
        raise ValueError(
            f"epistemic(method='logreg') needs a fitted, L2-penalised LogisticRegression "
            f"(not liblinear, at most {MAX_PARAMETERS} coefficients); {why}. Use "
            "method='parzen'."
        )
    if X_labeled is None or n_rows(X_labeled) == 0:
        raise ValueError(
            "epistemic(method='logreg') evaluates the model's likelihood on the labeled "
            "set; pass it: query(model, X_pool, k, X_labeled, y_labeled)."
        )
    from sklearn.utils.class_weight import compute_sample_weight

    pool = as_embedding(model.embed(X_pool), "epistemic", dtype=np.float64)
    labeled = as_embedding(model.embed(X_labeled), "epistemic", dtype=np.float64)
    labels = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
    classes = np.asarray(head.classes_)
    binary = classes.shape[0] == 2
    index = np.searchsorted(classes, labels)
    index = np.clip(index, 0, classes.shape[0] - 1)
    if not np.array_equal(classes[index], labels):
        raise ValueError("epistemic: y_labeled holds classes the model was not fitted on.")
    onehot = np.eye(classes.shape[0])[index]
    weights = (
        np.ones(labels.shape[0])
        if head.class_weight is None
        else compute_sample_weight(head.class_weight, labels)
    )
    intercept = bool(head.fit_intercept)

    def design(X):
        return np.hstack([X, np.ones((X.shape[0], 1))]) if intercept else X

    likelihood = _SoftmaxLikelihood(
        design(labeled), onehot, weights, 1.0 / head.C, binary, intercept
    )
    start = np.hstack([head.coef_, head.intercept_[:, None]]) if intercept else head.coef_
    theta_hat, value_hat = _newton(likelihood, start.reshape(1, -1))
    theta_hat, value_hat = theta_hat[0], float(value_hat[0])

    features = design(pool)
    K, d = likelihood.K, likelihood.d
    G = np.zeros((pool.shape[0], K, d))
    rows = np.arange(pool.shape[0])
    if binary:
        G[:, 0, :] = features
    else:
        logits = features @ theta_hat.reshape(K, d).T
        order = np.argsort(-logits, axis=1, kind="stable")
        G[rows, order[:, 0], :] = features
        G[rows, order[:, 1], :] -= features
    G = G.reshape(pool.shape[0], -1)
    t_hat = G @ theta_hat
    out = np.empty(pool.shape[0])
    zero = np.einsum("bp,bp->b", G, G) == 0  # x̃ = 0 (no intercept): t is always 0
    out[zero] = 0.0
    live = np.flatnonzero(~zero)
    # Laplace approximation at Θ̂: profile variance gᵀH⁻¹g and the path's tangent H⁻¹g / v
    _, hess = likelihood.grad_hess(theta_hat[None, :])
    solved = np.linalg.solve(hess[0], G.T).T
    variance = np.maximum(np.einsum("bp,bp->b", G, solved), 1e-300)
    tangent = solved / variance[:, None]
    block = max(1, (1 << 22) // (8 * (K * d) ** 2 + 8 * labeled.shape[0] * K * K))
    for begin in range(0, live.size, block):
        part = live[begin : begin + block]
        args = (likelihood, theta_hat, value_hat, G[part], t_hat[part], tangent[part])
        for_a = _logistic_supports(*args, variance[part], 1.0)
        for_b = _logistic_supports(*args, variance[part], -1.0)
        out[part] = np.minimum(for_a, for_b)
    return out


# ----------------------------------------------------------------------- strategy


class EpistemicUncertainty(_KernelStrategy):
    r"""Epistemic uncertainty sampling: query where the labels so far cannot decide.

    Scores each pool item by its epistemic uncertainty :math:`u_e = \min(\pi(a \mid x),
    \pi(b \mid x))`, the smaller of the two classes' degrees of support (Nguyen et al.
    2019), and queries the ``k`` highest (ties at random). Unlike entropy or margin it
    is low where many labels agree *and* where many labels disagree (that uncertainty is
    aleatoric and another label does not remove it), and high where labels are few.

    Two model families, as in the paper and scikit-activeml's
    ``EpistemicUncertaintySampling``:

    - ``method="parzen"`` — a Parzen window classifier: the kernel frequency estimates
      of the labeled set around each item on the model's embedding (a Pipeline's
      features before its last step, or X itself; ``model=None`` uses X), then
      :func:`epistemic_uncertainty`. Any model, or none; any number of classes (the two
      most frequent classes at the item, an activelab extension that is the paper's
      definition for two classes). Matches scikit-activeml with
      ``ParzenWindowClassifier(metric="rbf", metric_dict={"gamma": γ})``.
    - ``method="logreg"`` — the model's own L2-penalised ``LogisticRegression`` (alone
      or last in a Pipeline; lbfgs/newton/sag/saga solvers, finite ``C``, at most 300
      coefficients): supports from its likelihood on the labeled set,
      :func:`epistemic_logistic`. Multinomial models use the two most probable classes
      (activelab's extension). Needs ``X_labeled`` and ``y_labeled`` (the data the model
      was fitted on).
    - ``method="auto"`` (default) — ``"logreg"`` for a model it supports, else
      ``"parzen"``.

    scikit-activeml's logistic variant differs from the paper (it starts class 1's
    support from :math:`2p_0 - 1`, bounds class 0's by :math:`1 - 2\alpha_p`, and scores
    labels 0/1 as if they were −1/+1 in the loss), so only the Parzen variant is expected
    to pick the same items.

    Parameters
    ----------
    method : {"auto", "parzen", "logreg"}, default="auto"
    gamma : "mean" or float, default="mean"
        Gaussian kernel width of the Parzen variant;
        ``"mean"`` is :func:`activelab.strategies._pal.mean_bandwidth`.

    References
    ----------
    Nguyen, Destercke & Hüllermeier (2019), "Epistemic uncertainty sampling", Discovery
    Science, LNCS 11828, pp. 72–86.
    Nguyen, Shaker & Hüllermeier (2022), "How to measure uncertainty in uncertainty
    sampling for active learning", Machine Learning 111, pp. 89–122.

    Examples
    --------
    >>> X_labeled, y_labeled = [[0.0], [0.2], [5.0], [5.2]], [0, 0, 1, 1]
    >>> pool = [[0.1], [2.6], [5.1]]
    >>> EpistemicUncertainty(gamma=0.5).query(None, pool, 1, X_labeled, y_labeled).tolist()
    [1]
    """

    name: ClassVar[str] = "epistemic"
    summary: ClassVar[str] = "min of the two classes' likelihood-based degrees of support"
    reference: ClassVar[str] = "Nguyen, Destercke & Hüllermeier 2019 (DS)"

    def __init__(self, method: str = "auto", gamma: Any = "mean") -> None:
        self.method = method
        self.gamma = gamma

    def _utilities(self, model, X_pool, X_labeled, y_labeled) -> np.ndarray:
        if self.method not in ("auto", "parzen", "logreg"):
            raise ValueError(
                f"epistemic: method must be 'auto', 'parzen' or 'logreg'; got {self.method!r}."
            )
        use_logreg = self.method == "logreg"
        if self.method == "auto":
            use_logreg = _logistic_head(model)[0] is not None
        if use_logreg:
            return epistemic_logistic(model, X_pool, X_labeled, y_labeled)
        pool, labeled, indices, n_classes, gamma = self._local(model, X_pool, X_labeled, y_labeled)
        return epistemic_uncertainty(kernel_frequencies(pool, labeled, indices, n_classes, gamma))

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._utilities(model, X_pool, X_labeled, y_labeled), k, rng)
