r"""Learning loss for active learning (Yoo & Kweon 2019).

A small *loss-prediction module* reads a network's intermediate feature maps and learns,
jointly with the network, to predict each sample's loss; the pool items with the highest
predicted loss are queried. The module is attached to a
:class:`~activelab.models._torch.TorchClassifier` through its ``auxiliary`` hook
(:class:`LossPredictionHead`), so the loop fits it with the network once per round; the
:class:`LossPrediction` strategy only reads it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from activelab._validation import check_int, check_number
from activelab.strategies._base import ScoreStrategy

__all__ = ["LossPrediction", "LossPredictionHead", "margin_ranking_loss"]


def _torch() -> Any:
    from activelab.models._torch_util import load_torch

    return load_torch()


def margin_ranking_loss(predicted: Any, target: Any, margin: float = 1.0) -> Any:
    r"""The loss-prediction loss of Yoo & Kweon (2019) on the split-batch pairs.

    A batch of ``B`` rows is split into ``B // 2`` pairs :math:`p = (i, i + B/2)` (a
    last odd row is left out); for each pair

    .. math:: L(\hat l^p, l^p) = \max\bigl(0,\; -\mathbb{1}(l_i, l_j)\,
              (\hat l_i - \hat l_j) + \xi\bigr),
              \qquad \mathbb{1}(l_i, l_j) = \begin{cases} +1 & l_i > l_j \\
              -1 & \text{otherwise} \end{cases}

    and the result is the mean over pairs. It asks only that the predicted losses
    :math:`\hat l` be *ordered* like the true losses :math:`l`, by a margin :math:`\xi`,
    so it ignores the losses' scale, which shrinks as the network learns (the paper's
    reason not to use the mean squared error). The true losses are detached: the ranking
    loss never trains the network through its targets.

    Parameters
    ----------
    predicted : torch.Tensor or array-like of shape (B,)
        Predicted losses :math:`\hat l`.
    target : torch.Tensor or array-like of shape (B,)
        True losses :math:`l`.
    margin : float, default=1.0
        :math:`\xi \ge 0` (the paper uses 1).

    Returns
    -------
    torch.Tensor
        A scalar; 0, attached to ``predicted``'s graph, when ``B < 2``.

    References
    ----------
    Yoo & Kweon (2019), "Learning loss for active learning", CVPR, eq. (2)–(5).

    Examples
    --------
    >>> float(margin_ranking_loss([0.5, 2.0, 1.0, 0.0], [1.0, 0.5, 3.0, 0.5]))
    1.75
    """
    torch = _torch()
    predicted = torch.as_tensor(predicted)
    target = torch.as_tensor(target, device=predicted.device)
    if not predicted.dtype.is_floating_point:
        predicted = predicted.double()
    if predicted.ndim != 1 or target.shape != predicted.shape:
        raise ValueError(
            "margin_ranking_loss needs predicted and true losses of the same shape (B,); got "
            f"{tuple(predicted.shape)} and {tuple(target.shape)}."
        )
    margin = check_number(margin, "margin", "margin_ranking_loss", 0.0)
    half = predicted.shape[0] // 2
    if half == 0:
        return predicted.sum() * 0.0
    gap = predicted[:half] - predicted[half : 2 * half]
    target = target.detach()
    sign = torch.where(target[:half] > target[half : 2 * half], 1.0, -1.0).to(gap.dtype)
    return torch.clamp(margin - sign * gap, min=0.0).mean()


class LossPredictionHead(BaseEstimator):
    r"""Factory of the loss-prediction module, for ``TorchClassifier(auxiliary=...)``.

    Each feature map named in ``layers`` goes through global average pooling (over every
    axis after the channel axis; ``(b, c)`` maps are used as they are), a linear layer of
    ``hidden`` units and a ReLU; the concatenated vectors go through a linear layer to
    one scalar, the predicted loss :math:`\hat l` (Yoo & Kweon 2019, Fig. 3). Training
    minimises :math:`L_\text{target} + \lambda\, L_\text{loss}`: the network's mean
    cross-entropy plus ``weight`` times :func:`margin_ranking_loss` between
    :math:`\hat l` and the per-sample cross-entropies on the split-batch pairs. From
    epoch ``detach_epoch`` on, the feature maps are detached before the module, so the
    ranking loss stops shaping the network (the paper: after 120 of 200 epochs).

    Use it as ``TorchClassifier(module, auxiliary=LossPredictionHead(layers=[...]))``
    and query with the ``loss_prediction`` strategy (:class:`LossPrediction`). Sample
    weights given to ``fit`` weigh the cross-entropy only, not the ranking loss.

    Parameters
    ----------
    layers : sequence of str
        Names in ``network.named_modules()`` of the intermediate outputs to read, e.g.
        the output of each block (the paper: the four ResNet stages). At least one.
    hidden : int, default=128
        Units of each feature's linear layer (the paper: 128).
    margin : float, default=1.0
        :math:`\xi` of the ranking loss (the paper: 1).
    weight : float, default=1.0
        :math:`\lambda` (the paper: 1).
    detach_epoch : int or None, default=30
        0-based epoch from which the module's gradient no longer reaches the network;
        None never stops it. The paper's 120 of 200 epochs, scaled to
        ``TorchClassifier``'s default of 50 epochs.
    widths : sequence of int, optional
        Channels of each feature map; by default inferred at the first batch
        (``torch.nn.LazyLinear``).

    References
    ----------
    Yoo & Kweon (2019), "Learning loss for active learning", CVPR.

    Examples
    --------
    >>> head = LossPredictionHead(layers=["1"], hidden=8)
    >>> module = head()
    >>> module.layers
    ('1',)
    """

    def __init__(
        self,
        layers: Sequence[str],
        hidden: int = 128,
        margin: float = 1.0,
        weight: float = 1.0,
        detach_epoch: int | None = 30,
        widths: Sequence[int] | None = None,
    ) -> None:
        self.layers = layers
        self.hidden = hidden
        self.margin = margin
        self.weight = weight
        self.detach_epoch = detach_epoch
        self.widths = widths

    def __call__(self) -> Any:
        """Build a fresh module (called by ``TorchClassifier`` at each fit and per member).

        Returns
        -------
        LossPredictionNet
            A ``torch.nn.Module`` with ``layers``, ``predict(features)`` and
            ``forward(batch) -> ranking loss``.
        """
        _torch()
        who = "LossPredictionHead"
        layers = self.layers
        if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
            raise ValueError(
                f"{who}: layers must be a non-empty list of submodule names (as in "
                f"network.named_modules(), e.g. ['1'] or ['layer1', 'layer2']); got {layers!r}."
            )
        if not all(isinstance(name, str) for name in layers):
            raise ValueError(f"{who}: layers must hold submodule names (str); got {layers!r}.")
        hidden = check_int(self.hidden, "hidden", who, 1)
        margin = check_number(self.margin, "margin", who, 0.0)
        weight = check_number(self.weight, "weight", who, 0.0)
        detach = self.detach_epoch
        if detach is not None:
            detach = check_int(detach, "detach_epoch", who, 0)
        widths = self.widths
        if widths is not None:
            widths = [check_int(w, "widths[i]", who, 1) for w in widths]
            if len(widths) != len(layers):
                raise ValueError(
                    f"{who}: widths has {len(widths)} entries for {len(layers)} layers; give "
                    "one channel count per layer, or leave widths=None to infer them."
                )
        from activelab.strategies._deep_nets import LossPredictionNet

        return LossPredictionNet(layers, hidden, margin, weight, detach, widths)


def _loss_modules(model: Any) -> list[tuple[Any, Any]]:
    """``(network, module)`` pairs of a fitted model whose auxiliary predicts losses."""
    networks = getattr(model, "networks_", None)
    auxiliaries = getattr(model, "auxiliaries_", None)
    if not networks or not auxiliaries:
        return []
    return [
        (network, auxiliary)
        for network, auxiliary in zip(networks, auxiliaries, strict=False)
        if callable(getattr(auxiliary, "predict", None))
        and isinstance(getattr(auxiliary, "layers", None), tuple)
    ]


class LossPrediction(ScoreStrategy):
    r"""Learning loss (LL4AL): query the pool items with the highest predicted loss.

    The network was trained with a loss-prediction module beside it
    (:class:`LossPredictionHead` as ``TorchClassifier``'s ``auxiliary``, fitted by the
    loop); the strategy runs the network on the pool in eval mode, batched, captures the
    module's feature maps and takes the ``k`` largest predicted losses
    :math:`\hat l(x)` (ties at random) — Yoo & Kweon (2019)'s acquisition. It is
    task-agnostic in the paper (the loss of any task can be predicted); here it serves
    classifiers. For a deep ensemble the members' predicted losses are averaged.

    It needs ``predict_loss``: a fitted ``TorchClassifier`` whose ``auxiliary`` is a
    :class:`LossPredictionHead`; anything else is a TypeError that says how to build one.
    Unlike the paper, which scores a random subset of 10 000 pool items per cycle, the
    whole pool is scored (wrap in ``SubSample`` for the paper's protocol).

    Parameters
    ----------
    sampling : {"top", "softmax", "power", "softrank"}, default="top"
        How the batch is drawn from the predicted losses (see :class:`ScoreStrategy`).
        The ranking loss fixes their order but not their offset, so ``"power"`` draws
        in proportion to :math:`(\hat l(x) - \min_{x'} \hat l(x'))^{1/T}` (the lowest
        comes last); the other modes do not depend on the offset.
    temperature : float, default=1.0

    References
    ----------
    Yoo & Kweon (2019), "Learning loss for active learning", CVPR.

    Examples
    --------
    >>> import torch
    >>> from activelab.models._torch import TorchClassifier
    >>> def mlp(n_features, n_classes):
    ...     return torch.nn.Sequential(
    ...         torch.nn.Linear(n_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_classes))
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> model = TorchClassifier(mlp, auxiliary=LossPredictionHead(["1"]), epochs=3,
    ...                         random_state=0).fit(X, [0, 0, 1, 1])
    >>> LossPrediction().query(model, X, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "loss_prediction"
    needs: ClassVar[tuple[str, ...]] = ("predict_loss",)
    summary: ClassVar[str] = "highest loss predicted by a module trained with the network"
    reference: ClassVar[str] = "Yoo & Kweon 2019"

    def _adapter(self, model: Any) -> Any:
        if model is None:
            raise TypeError(
                f"{self.name} needs a fitted model (predict_loss); got model=None. Fit "
                "TorchClassifier(module, auxiliary=LossPredictionHead(layers=[...])) first."
            )
        if not _loss_modules(model):
            describe = getattr(model, "describe", None)
            found = describe() if callable(describe) else type(model).__name__
            if getattr(model, "networks_", None) is None and hasattr(model, "auxiliary"):
                reason = "it is not fitted"
            else:
                reason = "it has no loss-prediction module"
            raise TypeError(
                f"{self.name} needs 'predict_loss', the per-sample losses predicted by a "
                f"module trained jointly with a network, and {found} does not provide it "
                f"({reason}). Use a fitted TorchClassifier(module, auxiliary="
                "LossPredictionHead(layers=[...])), naming the network's intermediate "
                "submodules to read (see docs/torch.md)."
            )
        return model

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        from activelab.select import SAMPLING_MODES, sample

        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        utilities = self._utilities(model, X_pool)
        if self.sampling == "power":
            utilities = utilities - utilities.min()
        return sample(utilities, k, self.sampling, self.temperature, rng)

    def utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        """Predicted loss of each pool item (the members' mean for an ensemble).

        Parameters
        ----------
        model : TorchClassifier
            Fitted with ``auxiliary=LossPredictionHead(...)``.
        X_pool : array-like, DataFrame, sparse matrix or torch.Tensor of shape (n, ...)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._utilities(self._adapter(model), X_pool)

    def _utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        torch = _torch()
        from activelab.models._torch_util import Rows, capture

        rows = Rows(X_pool, self.name)
        expected = getattr(model, "input_shape_", rows.row_shape)
        if rows.row_shape != tuple(expected):
            raise ValueError(
                f"{self.name}: X_pool has rows of shape {rows.row_shape}, but the network "
                f"was fitted on rows of shape {tuple(expected)}; pass the features it was "
                "trained on."
            )
        pairs = _loss_modules(model)
        device = getattr(model, "device_", torch.device("cpu"))
        step = getattr(model, "inference_batch_size", 1024)
        step = int(step) if isinstance(step, numbers.Integral) and step > 0 else 1024
        out = np.zeros(rows.n, dtype=np.float64)
        for network, module in pairs:
            network.eval()
            module.eval()
            with torch.no_grad(), capture(network, module.layers) as features:
                for start, stop, batch in rows.batches(step, device):
                    network(batch)
                    predicted = module.predict(features)
                    out[start:stop] += predicted.double().cpu().numpy()
        out /= len(pairs)
        if not np.isfinite(out).all():
            raise ValueError(
                f"{self.name}: the loss-prediction module returned NaN or inf for some "
                "pool items; the network's training diverged (lower lr)."
            )
        return out
