"""The PyTorch adapter: a scikit-learn-style classifier around a user's ``nn.Module`` factory.

torch is imported lazily: ``import activelab`` works without it, and constructing a
:class:`TorchClassifier` without it raises an ImportError that says
``pip install 'activelab[torch]'``.
"""

from __future__ import annotations

import numbers
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelab._validation import (
    RandomStateLike,
    check_int,
    check_labels,
    check_number,
    check_random_state,
)
from activelab.models._base import ModelAdapter
from activelab.models._calibration import fit_temperature
from activelab.models._torch_util import (
    DropoutSampler,
    Rows,
    call_factory,
    capture,
    dropout_modules,
    load_torch,
    resolve_device,
    rng_devices,
    seed_torch,
    stratified_holdout,
    submodule,
)

__all__ = ["TorchClassifier", "TrainingBatch"]

_OPTIMIZERS = ("adam", "adamw", "sgd")
#: Floats held at once by the per-sample gradients of one chunk (64 MB in float32).
_GRADIENT_FLOATS = 2**24


@dataclass
class TrainingBatch:
    """What an auxiliary head sees at each training step (see ``TorchClassifier.auxiliary``).

    Attributes
    ----------
    inputs : torch.Tensor of shape (b, ...)
        The batch, float32 on the training device.
    targets : torch.Tensor of shape (b,)
        Class indices (positions in ``classes_``), int64.
    logits : torch.Tensor of shape (b, C)
        The network's output.
    losses : torch.Tensor of shape (b,)
        Per-sample cross-entropy, attached to the graph (detach it for a target that
        must not train the network, as loss prediction does).
    features : dict of str to torch.Tensor
        Outputs of the submodules the auxiliary listed in its ``layers``, attached.
    epoch : int
        0-based epoch.
    weights : torch.Tensor of shape (b,) or None
        ``sample_weight`` of the batch rows, when fit got one.
    """

    inputs: Any
    targets: Any
    logits: Any
    losses: Any
    features: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    weights: Any = None


class TorchClassifier(ModelAdapter):
    r"""A classifier around a PyTorch network, usable by every activelab strategy.

    ``fit`` builds a fresh network from ``module`` (or fine-tunes the last one with
    ``warm_start``), trains it with cross-entropy on mini-batches, and stops early on a
    stratified held-out slice of the labeled set; ``predict_proba`` is the softmax of the
    network in eval mode (deterministic). The capabilities strategies read:

    ``sample_proba`` (BALD, BatchBALD, variation ratio, mean std, …)
        With ``ensemble=1``: MC dropout (Gal & Ghahramani 2016), ``mc_samples`` passes
        with dropout on in this pass only — every other layer in eval mode. With
        ``consistent_dropout`` (default) pass ``s`` uses the same masks for every pool
        row, so each pass is one network drawn from the approximate posterior (Kirsch
        et al. 2019); layers before the first dropout run once per row, not once per
        pass. Needs ``nn.Dropout`` / ``Dropout1d/2d/3d`` modules with ``p > 0`` (a
        functional ``F.dropout`` in ``forward`` is not seen). With ``ensemble=M > 1``:
        the ``M`` independently initialised and trained members (Lakshminarayanan et
        al. 2017), each in eval mode; ``predict_proba`` is their mean.
    ``embed`` (core-set, k-means, TypiClust, …)
        The input of the output layer (the penultimate features), flattened to
        ``(n, d)``. The output layer is ``head``: by default the last ``nn.Linear`` of
        ``network.named_modules()``, accepted when its output is the network's output.
    ``grad_embed`` (BADGE)
        The gradient of the cross-entropy at the predicted label :math:`\hat y` with
        respect to the output layer's weights and bias: :math:`(p - e_{\hat y}) \otimes
        [h, 1]` with :math:`p` the network's softmax and :math:`h` its penultimate
        features — the layout of :meth:`SklearnAdapter.grad_embed
        <activelab.models.SklearnAdapter.grad_embed>`, factored or not.
    ``gradient_lengths`` (EGL)
        :math:`\lVert \nabla_\theta \ell(x, y) \rVert` for every label ``y``, over all
        trainable parameters, per sample with ``torch.func`` (``functional_call`` +
        ``vmap`` + ``grad``).

    An ensemble's ``embed``, ``grad_embed`` and ``gradient_lengths`` are those of its
    first member (the members' features are not aligned, so they are not averaged).

    Parameters
    ----------
    module : callable
        Builds the network: ``module(n_features, n_classes) -> nn.Module``, or
        ``module() -> nn.Module`` when it takes no required positional argument.
        ``n_features`` is ``X.shape[1]`` — the width of tabular input, the number of
        channels of images ``(n, C, H, W)`` — and ``n_classes`` the number of distinct
        labels. The network maps a float32 batch ``(b, *X.shape[1:])`` to logits
        ``(b, n_classes)``. An ``nn.Module`` class with these two leading parameters
        works as it is: ``TorchClassifier(torch.nn.Linear)`` is softmax regression.
    optimizer : {"adam", "adamw", "sgd"}, torch.optim.Optimizer class or callable, default="adam"
        A name or class gets ``lr`` and ``weight_decay``; any other callable is called
        with the parameters (e.g. ``functools.partial(torch.optim.SGD, lr=0.1,
        momentum=0.9)``).
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    epochs : int, default=50
        Most epochs per fit.
    batch_size : int, default=64
        Rows per gradient step; a last batch of less than half this joins the one before.
    validation_fraction : float, default=0.1
        Share of each class held out for early stopping (and for ``calibrate``);
        ``floor(fraction · count)`` rows per class, so nothing is held out while a class
        has fewer than ``1 / fraction`` labels — then training runs all ``epochs``.
        ``0`` turns early stopping off.
    patience : int, default=5
        Epochs without a lower held-out loss before training stops; the weights of the
        best epoch are kept.
    min_updates : int, default=0
        Gradient steps a fit takes at least: more epochs than ``epochs`` when a small
        labelled set makes an epoch one or two steps, and no early stop before them
        (with 20 labels an epoch is a single step, and a held-out slice of a few rows
        would otherwise stop training almost at once).
    ensemble : int, default=1
        Number of independently initialised and trained networks (deep ensemble).
    mc_samples : int, default=20
        MC dropout passes of ``sample_proba`` (single network).
    consistent_dropout : bool, default=True
        The same dropout masks for every pool row in a pass.
    calibrate : bool, default=False
        Temperature scaling (Guo et al. 2017) on the held-out slice: one temperature
        :math:`T` fitted by :func:`~activelab.models.fit_temperature` on the held-out
        log-probabilities; ``predict_proba`` and every sample become
        :math:`\mathrm{softmax}(z / T)`. ``T = 1`` while the held-out slice is empty.
    warm_start : bool, default=False
        False: a freshly initialised network each fit (each round of the loop). True:
        fine-tune the previous weights on the new labeled set (cheaper, but the
        representation drifts with the order the labels came in); a new class or input
        shape re-initialises.
    head : str, optional
        Name of the output layer in ``network.named_modules()`` (``""`` for a network
        that is one ``nn.Linear``); by default the last ``nn.Linear``.
    auxiliary : callable, optional
        A factory like ``module`` for an ``nn.Module`` trained jointly with the network
        (loss prediction, …). It has an attribute ``layers`` (names of the network's
        submodules whose outputs it reads; may be empty) and ``forward(batch:
        TrainingBatch) -> Tensor``, a scalar added to the mean cross-entropy. Its
        parameters join the optimizer; the fitted ones are ``auxiliaries_``.
    device : str or torch.device, default="auto"
        ``"auto"`` is CUDA when available, else the CPU.
    inference_batch_size : int, optional
        Rows per forward call at inference (MC copies included), so memory stays bounded
        on any pool. By default 256 on the CPU (activations of small batches stay in
        cache: measured faster than 1024 for convolutional networks) and 2048 on a GPU.
    random_state : int, numpy.random.Generator or None
        Seeds initialisation, shuffling, the held-out slice, training dropout and the
        MC masks. An int gives identical results on the CPU for the same data.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Labels in column order (any type: ints, strings, …).
    networks_ : list of torch.nn.Module
        The fitted networks (one, or the ensemble's members), in eval mode.
    auxiliaries_ : list of torch.nn.Module or None
    temperature_ : float
    device_ : torch.device
    input_shape_ : tuple of int
        ``X.shape[1:]`` at fit.
    head_ : str or None
        The output layer used by ``embed`` and ``grad_embed`` (None: none found).
    epochs_ : list of int
        Epochs each member trained.
    validation_size_ : int
        Held-out rows in the last fit.

    References
    ----------
    Gal & Ghahramani (2016), "Dropout as a Bayesian approximation: representing model
    uncertainty in deep learning", ICML.
    Lakshminarayanan, Pritzel & Blundell (2017), "Simple and scalable predictive
    uncertainty estimation using deep ensembles", NeurIPS.
    Kirsch, van Amersfoort & Gal (2019), "BatchBALD", NeurIPS (consistent MC dropout).
    Ash et al. (2020), "Deep batch active learning by diverse, uncertain gradient lower
    bounds", ICLR. Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern
    neural networks", ICML.

    Examples
    --------
    >>> import torch
    >>> def mlp(n_features, n_classes):
    ...     return torch.nn.Sequential(
    ...         torch.nn.Linear(n_features, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
    ...         torch.nn.Linear(16, n_classes))
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> model = TorchClassifier(mlp, epochs=5, random_state=0).fit(X, ["a", "a", "b", "b"])
    >>> model.predict_proba(X).shape, model.sample_proba(X).shape
    ((4, 2), (20, 4, 2))
    """

    def __init__(
        self,
        module: Any,
        *,
        optimizer: Any = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 50,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        patience: int = 5,
        min_updates: int = 0,
        ensemble: int = 1,
        mc_samples: int = 20,
        consistent_dropout: bool = True,
        calibrate: bool = False,
        warm_start: bool = False,
        head: str | None = None,
        auxiliary: Any = None,
        device: Any = "auto",
        inference_batch_size: int | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        load_torch()  # fail now, with the extra to install, rather than at fit
        self.module = module
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_updates = min_updates
        self.ensemble = ensemble
        self.mc_samples = mc_samples
        self.consistent_dropout = consistent_dropout
        self.calibrate = calibrate
        self.warm_start = warm_start
        self.head = head
        self.auxiliary = auxiliary
        self.device = device
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state

    # ------------------------------------------------------------------ description
    @property
    def capabilities(self) -> frozenset[str]:
        """What this model gives; after ``fit`` it depends on the network's layers."""
        found = {"predict_proba", "gradient_lengths"}
        networks = getattr(self, "networks_", None)
        if not networks:
            if isinstance(self.ensemble, numbers.Integral) and self.ensemble > 1:
                found.add("sample_proba")
            if self.auxiliary is not None and hasattr(self.auxiliary, "layers"):
                found.add("predict_loss")  # e.g. LossPredictionHead
            return frozenset(found | {"embed", "grad_embed"})
        if any(
            callable(getattr(auxiliary, "predict", None)) and hasattr(auxiliary, "layers")
            for auxiliary in getattr(self, "auxiliaries_", None) or ()
        ):
            found.add("predict_loss")
        if len(networks) > 1 or dropout_modules(networks[0]):
            found.add("sample_proba")
        if self.head_ is not None:
            found.add("embed")
            if self.head_is_output_:
                found.add("grad_embed")
        return frozenset(found)

    def require(self, capability: str, who: str) -> None:
        """Raise a TypeError naming ``capability`` and how to get it from a network."""
        if capability in self.capabilities:
            return
        how = {
            "sample_proba": (
                "add nn.Dropout layers to the network (MC dropout), or pass ensemble=M > 1"
            ),
            "embed": "give the network an nn.Linear output layer, or name it with head=",
            "grad_embed": (
                "make the output layer (head=, by default the last nn.Linear) return the "
                "network's logits, with nothing after it"
            ),
        }.get(capability, "use an adapter that provides it")
        raise TypeError(
            f"{who} needs {capability!r}, which {self.describe()} does not provide: {how}."
        )

    def describe(self) -> str:
        """``TorchClassifier(<factory name>)``, with the ensemble size when > 1."""
        name = getattr(self.module, "__name__", type(self.module).__name__)
        members = f" ×{self.ensemble}" if self.ensemble != 1 else ""
        return f"TorchClassifier({name}{members})"

    # ------------------------------------------------------------------ training
    def _check_params(self) -> None:
        who = "TorchClassifier"
        check_int(self.epochs, "epochs", who, 1)
        check_int(self.batch_size, "batch_size", who, 1)
        check_int(self.patience, "patience", who, 1)
        check_int(self.min_updates, "min_updates", who, 0)
        check_int(self.ensemble, "ensemble", who, 1)
        check_int(self.mc_samples, "mc_samples", who, 2)
        if self.inference_batch_size is not None:
            check_int(self.inference_batch_size, "inference_batch_size", who, 1)
        check_number(self.lr, "lr", who, 0.0, open_low=True)
        check_number(self.weight_decay, "weight_decay", who, 0.0)
        check_number(self.validation_fraction, "validation_fraction", who, 0.0, 0.9)

    def _make_optimizer(self, parameters: list[Any]) -> Any:
        torch = load_torch()
        choice = self.optimizer
        if isinstance(choice, str):
            classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
            if choice not in classes:
                raise ValueError(
                    f"TorchClassifier: optimizer must be one of {_OPTIMIZERS}, an optimizer "
                    f"class or a callable(params); got {choice!r}."
                )
            choice = classes[choice]
        if isinstance(choice, type) and issubclass(choice, torch.optim.Optimizer):
            return choice(parameters, lr=self.lr, weight_decay=self.weight_decay)
        if not callable(choice):
            raise TypeError(
                f"TorchClassifier: optimizer must be a name, an optimizer class or a "
                f"callable(params); got {type(choice).__name__}."
            )
        built = choice(parameters)
        if not isinstance(built, torch.optim.Optimizer):
            raise TypeError(
                "TorchClassifier: the optimizer callable must return a torch.optim.Optimizer; "
                f"it returned {type(built).__name__}."
            )
        return built

    def _build(self, rows: Rows, n_classes: int, probe: Any) -> tuple[Any, Any]:
        """A fresh network (and auxiliary) on the device, checked on two rows."""
        torch = load_torch()
        n_features = rows.row_shape[0]
        network = call_factory(self.module, n_features, n_classes, "module").to(self.device_)
        auxiliary = None
        if self.auxiliary is not None:
            auxiliary = call_factory(self.auxiliary, n_features, n_classes, "auxiliary")
            auxiliary = auxiliary.to(self.device_)
        network.eval()
        try:
            with torch.no_grad():
                out = network(probe)
        except Exception as error:
            raise ValueError(
                f"TorchClassifier: the network fails on a batch of shape "
                f"{tuple(probe.shape)}: {type(error).__name__}: {error}. The factory gets "
                f"n_features={n_features} (X.shape[1]) and n_classes={n_classes}; check "
                "that the network takes rows shaped like X."
            ) from error
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (probe.shape[0], n_classes):
            found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"TorchClassifier: the network must return logits of shape (b, n_classes) = "
                f"({probe.shape[0]}, {n_classes}); it returned {found}. Its last layer needs "
                "n_classes outputs (the factory's second argument)."
            )
        return network, auxiliary

    def _epoch_batches(self, n: int, generator: Any) -> list[Any]:
        torch = load_torch()
        order = torch.randperm(n, generator=generator)
        batches = list(torch.split(order, self.batch_size))
        # A last batch of less than half a batch joins the one before: a step on a handful
        # of rows is as large as a full one but far noisier (with 130 labels in batches of
        # 32, a 2-row step ended every epoch), and batch norm needs at least 2 rows.
        if len(batches) > 1 and 2 * batches[-1].shape[0] < self.batch_size:
            last = batches.pop()
            batches[-1] = torch.cat([batches[-1], last])
        return batches

    def _train(
        self,
        network: Any,
        auxiliary: Any,
        data: tuple[Any, Any, Any],
        held_out: tuple[Any, Any] | None,
        generator: Any,
    ) -> int:
        """Train one network in place; the number of epochs it ran."""
        torch = load_torch()
        functional = torch.nn.functional
        inputs, targets, weights = data
        parameters = [p for p in network.parameters() if p.requires_grad]
        if auxiliary is not None:
            parameters += [p for p in auxiliary.parameters() if p.requires_grad]
        optimizer = self._make_optimizer(parameters)
        layers = tuple(getattr(auxiliary, "layers", ())) if auxiliary is not None else ()
        best, best_state, waited, epoch, updates = np.inf, None, 0, -1, 0
        while epoch + 1 < self.epochs or updates < self.min_updates:
            epoch += 1
            network.train()
            if auxiliary is not None:
                auxiliary.train()
            for batch in self._epoch_batches(inputs.shape[0], generator):
                batch = batch.to(inputs.device)
                rows, labels = inputs[batch], targets[batch]
                with capture(network, layers) as features:
                    logits = network(rows)
                losses = functional.cross_entropy(logits, labels, reduction="none")
                if weights is None:
                    loss = losses.mean()
                else:
                    loss = (losses * weights[batch]).sum() / weights[batch].sum().clamp_min(1e-12)
                if auxiliary is not None:
                    loss = loss + auxiliary(
                        TrainingBatch(
                            rows,
                            labels,
                            logits,
                            losses,
                            features,
                            epoch,
                            None if weights is None else weights[batch],
                        )
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                updates += 1
            if held_out is None:
                continue
            network.eval()
            with torch.no_grad():
                held_loss = float(functional.cross_entropy(network(held_out[0]), held_out[1]))
            if held_loss < best:
                best, waited = held_loss, 0
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
                if auxiliary is not None:
                    best_state = (
                        best_state,
                        {k: v.clone() for k, v in auxiliary.state_dict().items()},
                    )
            else:
                waited += 1
                if waited >= self.patience and updates >= self.min_updates:
                    break
        if best_state is not None:
            if auxiliary is not None:
                network.load_state_dict(best_state[0])
                auxiliary.load_state_dict(best_state[1])
            else:
                network.load_state_dict(best_state)
        network.eval()
        if auxiliary is not None:
            auxiliary.eval()
        return epoch + 1

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TorchClassifier:
        """Train the network(s) on ``(X, y)`` and return self.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, d) or (n, C, H, W)
        y : array-like of shape (n,)
            Labels of any type (ints, strings, …); at least two classes.
        sample_weight : array-like of shape (n,), optional
            Non-negative weights of each row's loss.

        Returns
        -------
        TorchClassifier
        """
        torch = load_torch()
        self._check_params()
        rows = Rows(X, "TorchClassifier.fit")
        labels = check_labels(y, rows.n)
        classes, targets = np.unique(labels, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                f"TorchClassifier needs labels of at least 2 classes; got only "
                f"{classes.tolist()}. Label more items before fitting."
            )
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.shape != (rows.n,) or not np.isfinite(weights).all() or weights.min() < 0:
                raise ValueError(
                    f"sample_weight must hold {rows.n} finite non-negative numbers; got "
                    f"shape {weights.shape}."
                )
        rng = check_random_state(self.random_state)
        self.device_ = resolve_device(self.device)
        warm = (
            self.warm_start
            and getattr(self, "networks_", None) is not None
            and len(self.networks_) == self.ensemble
            and np.array_equal(self.classes_, classes)
            and self.input_shape_ == rows.row_shape
        )
        train, held = stratified_holdout(targets, float(self.validation_fraction), rng)
        device = self.device_
        all_inputs = rows.take(np.arange(rows.n), device)
        all_targets = torch.as_tensor(targets, dtype=torch.int64, device=device)
        data = (
            all_inputs[torch.as_tensor(train, device=device)],
            all_targets[torch.as_tensor(train, device=device)],
            None
            if weights is None
            else torch.as_tensor(weights[train], dtype=torch.float32, device=device),
        )
        held_out = None
        if held.shape[0]:
            index = torch.as_tensor(held, device=device)
            held_out = (all_inputs[index], all_targets[index])
        seeds = rng.integers(0, 2**63 - 1, size=self.ensemble + 1)
        networks, auxiliaries, epochs = [], [], []
        for member in range(self.ensemble):
            with torch.random.fork_rng(devices=rng_devices(device)):
                seed_torch(int(seeds[member]), device)
                if warm:
                    network = self.networks_[member]
                    auxiliary = self.auxiliaries_[member] if self.auxiliaries_ else None
                else:
                    network, auxiliary = self._build(rows, classes.shape[0], all_inputs[:2])
                generator = torch.Generator().manual_seed(int(seeds[member]))
                epochs.append(self._train(network, auxiliary, data, held_out, generator))
            networks.append(network)
            auxiliaries.append(auxiliary)
        self.networks_ = networks
        self.auxiliaries_ = auxiliaries if self.auxiliary is not None else None
        self.classes_ = classes
        self.input_shape_ = rows.row_shape
        self.n_features_in_ = rows.row_shape[0]
        self.epochs_ = epochs
        self.validation_size_ = int(held.shape[0])
        self.sample_seed_ = int(seeds[-1])
        self.temperature_ = 1.0
        self._find_head(all_inputs[:2])
        if self.calibrate and held_out is not None:
            log_proba = self._log_mean_proba(held_out[0]).double().cpu().numpy()
            self.temperature_ = fit_temperature(log_proba, targets[held])
        return self

    def _find_head(self, probe: Any) -> None:
        """Set ``head_`` and whether its output is the network's output (``head_is_output_``)."""
        torch = load_torch()
        network = self.networks_[0]
        name = self.head
        if name is None:
            linear = [n for n, m in network.named_modules() if isinstance(m, torch.nn.Linear)]
            name = linear[-1] if linear else None
        else:
            submodule(network, name, "TorchClassifier(head=...)")
        self.head_, self.head_is_output_ = name, False
        if name is None:
            return
        layer = submodule(network, name, "TorchClassifier")
        with torch.no_grad(), capture(network, [name]) as outputs:
            out = network(probe)
        head_out = outputs.get(name)
        if isinstance(head_out, torch.Tensor) and head_out.shape == out.shape:
            shift = out - head_out  # a per-row shift (log_softmax) leaves the softmax alone
            scale = 1e-4 * (1.0 + float(out.abs().max()))
            self.head_is_output_ = bool((shift - shift[:, :1]).abs().max() <= scale)
        self.head_is_output_ = self.head_is_output_ and isinstance(layer, torch.nn.Linear)
        if self.head is None and not self.head_is_output_:
            self.head_ = None  # a guessed layer that is not the output: no embedding

    # ------------------------------------------------------------------ inference
    def _rows_per_forward(self) -> int:
        if self.inference_batch_size is not None:
            return int(self.inference_batch_size)
        return 2048 if self.device_.type == "cuda" else 256

    def _check_fitted(self, X: Any, who: str) -> Rows:
        if getattr(self, "networks_", None) is None:
            raise RuntimeError(f"{self.describe()} is not fitted; call fit(X, y) first.")
        rows = Rows(X, who)
        if rows.row_shape != self.input_shape_:
            raise ValueError(
                f"{who}: X has rows of shape {rows.row_shape}, but the network was fitted "
                f"on rows of shape {self.input_shape_}; pass the features it was trained on."
            )
        return rows

    def _log_mean_proba(self, batch: Any) -> Any:
        """Log of the members' mean probabilities at temperature 1 (log-softmax for one)."""
        torch = load_torch()
        with torch.no_grad():
            if len(self.networks_) == 1:
                return torch.log_softmax(self.networks_[0](batch), dim=1)
            mean = sum(torch.softmax(net(batch), dim=1) for net in self.networks_)
            return torch.log((mean / len(self.networks_)).clamp_min(1e-12))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, C)`` in eval mode (deterministic), columns as ``classes_``.

        The softmax of the network (the mean of the members' softmaxes for an ensemble),
        temperature-scaled when ``calibrate``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)

        Returns
        -------
        numpy.ndarray of shape (n, C), float32
        """
        torch = load_torch()
        rows = self._check_fitted(X, "predict_proba")
        out = np.empty((rows.n, self.classes_.shape[0]), dtype=np.float32)
        temperature = self.temperature_
        with torch.no_grad():
            for start, stop, batch in rows.batches(self._rows_per_forward(), self.device_):
                if len(self.networks_) == 1:
                    proba = torch.softmax(self.networks_[0](batch) / temperature, dim=1)
                elif temperature == 1.0:
                    proba = sum(torch.softmax(net(batch), dim=1) for net in self.networks_)
                    proba = proba / len(self.networks_)
                else:
                    proba = torch.softmax(self._log_mean_proba(batch) / temperature, dim=1)
                out[start:stop] = proba.float().cpu().numpy()
        return out

    def sample_proba(self, X: Any) -> np.ndarray:
        """Posterior samples ``(m, n, C)``: MC dropout passes, or the ensemble's members.

        Deterministic for a fitted model: the dropout masks are seeded at fit (so the
        same query gives the same answer), and differ between passes.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)

        Returns
        -------
        numpy.ndarray of shape (m, n, C), float32
            ``m = mc_samples`` (one network) or ``ensemble``.
        """
        torch = load_torch()
        self.require("sample_proba", "sample_proba")
        rows = self._check_fitted(X, "sample_proba")
        n_classes, temperature = self.classes_.shape[0], self.temperature_
        if len(self.networks_) > 1:
            out = np.empty((len(self.networks_), rows.n, n_classes), dtype=np.float32)
            with torch.no_grad():
                for start, stop, batch in rows.batches(self._rows_per_forward(), self.device_):
                    for member, network in enumerate(self.networks_):
                        proba = torch.softmax(network(batch) / temperature, dim=1)
                        out[member, start:stop] = proba.float().cpu().numpy()
            return out
        samples = int(self.mc_samples)
        out = np.empty((samples, rows.n, n_classes), dtype=np.float32)
        network = self.networks_[0]
        generator = torch.Generator(device=self.device_).manual_seed(self.sample_seed_)
        step = max(1, self._rows_per_forward() // samples)
        expand = self._prefix_is_shared(rows)  # before this pass's hooks are in place
        with (
            torch.no_grad(),
            DropoutSampler(network, samples, bool(self.consistent_dropout), generator) as sampler,
        ):
            sampler.expand = expand
            for start, stop, batch in rows.batches(step, self.device_):
                logits = sampler.forward(batch)
                out[:, start:stop] = (
                    torch.softmax(logits / temperature, dim=2).float().cpu().numpy()
                )
        return out

    def _prefix_is_shared(self, rows: Rows) -> bool:
        """Whether repeating the batch at the first dropout layer gives the same outputs.

        True for networks that are row-wise pipelines (what nearly every classifier is);
        checked on two rows against repeating the input, with the same masks.
        """
        torch = load_torch()
        probe = rows.take(slice(0, min(2, rows.n)), self.device_)
        results = []
        for expand in (False, True):
            generator = torch.Generator(device=self.device_).manual_seed(0)
            with DropoutSampler(self.networks_[0], 2, True, generator) as sampler:
                sampler.expand = expand
                try:
                    results.append(sampler.forward(probe))
                except Exception:
                    return False
        return bool(torch.allclose(results[0], results[1], rtol=1e-4, atol=1e-5))

    def layer_outputs(self, X: Any, layers: list[str], member: int = 0) -> dict[str, np.ndarray]:
        """Outputs of named submodules of a fitted network, batched, in eval mode.

        For strategies and heads that read intermediate features (loss prediction,
        VAAL on features, …). Names are those of ``network.named_modules()``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)
        layers : list of str
        member : int, default=0
            Which ensemble member.

        Returns
        -------
        dict of str to numpy.ndarray of shape (n, ...), float32
        """
        torch = load_torch()
        rows = self._check_fitted(X, "layer_outputs")
        network = self.networks_[member]
        parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
        with torch.no_grad(), capture(network, layers) as outputs:
            for _, _, batch in rows.batches(self._rows_per_forward(), self.device_):
                network(batch)
                for name in layers:
                    value = outputs.get(name)
                    if not isinstance(value, torch.Tensor):
                        raise TypeError(
                            f"layer_outputs: submodule {name!r} returned "
                            f"{type(value).__name__}, not a tensor."
                        )
                    parts[name].append(value.float().cpu().numpy())
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    def _head_pass(self, X: Any, who: str) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features ``(n, d)`` and head logits ``(n, C)`` of the first member."""
        torch = load_torch()
        rows = self._check_fitted(X, who)
        network = self.networks_[0]
        layer = submodule(network, self.head_, who)
        captured: dict[str, Any] = {}
        owner = threading.get_ident()

        def hook(module: Any, inputs: Any, output: Any) -> None:
            if threading.get_ident() == owner:
                captured["in"], captured["out"] = inputs[0], output

        handle = layer.register_forward_hook(hook)
        hidden = logits = None
        try:
            with torch.no_grad():
                for start, stop, batch in rows.batches(self._rows_per_forward(), self.device_):
                    network(batch)
                    features = captured["in"].reshape(stop - start, -1).float().cpu().numpy()
                    if hidden is None:
                        hidden = np.empty((rows.n, features.shape[1]), dtype=np.float32)
                        logits = np.empty((rows.n, captured["out"].shape[-1]), dtype=np.float32)
                    hidden[start:stop] = features
                    logits[start:stop] = captured["out"].reshape(stop - start, -1).cpu().numpy()
        finally:
            handle.remove()
        return hidden, logits

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate features: the input of the output layer, ``(n, d)`` float32.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)

        Returns
        -------
        numpy.ndarray of shape (n, d), float32
        """
        self.require("embed", "embed")
        return self._head_pass(X, "embed")[0]

    def head_proba(self, embedding: Any) -> np.ndarray:
        """Class probabilities of penultimate features: the output layer and softmax alone.

        ``head_proba(embed(X))`` equals ``predict_proba(X)`` for one network; strategies
        that perturb embeddings (DropQuery) call it.

        Parameters
        ----------
        embedding : array-like of shape (n, d)
            Features shaped like :meth:`embed`'s output.

        Returns
        -------
        numpy.ndarray of shape (n, C), float32
        """
        torch = load_torch()
        self.require("grad_embed", "head_proba")
        layer = submodule(self.networks_[0], self.head_, "head_proba")
        rows = Rows(embedding, "head_proba")
        if rows.row_shape != (layer.in_features,):
            raise ValueError(
                f"head_proba needs embeddings of shape (n, {layer.in_features}); got rows "
                f"of shape {rows.row_shape}."
            )
        out = np.empty((rows.n, self.classes_.shape[0]), dtype=np.float32)
        with torch.no_grad():
            for start, stop, batch in rows.batches(self._rows_per_forward(), self.device_):
                proba = torch.softmax(layer(batch) / self.temperature_, dim=1)
                out[start:stop] = proba.float().cpu().numpy()
        return out

    def grad_embed(self, X: Any, factored: bool = False) -> Any:
        r"""BADGE gradient embeddings of the output layer at the predicted label.

        For logits :math:`z = W h + b` and :math:`p = \mathrm{softmax}(z)`, the gradient
        of the cross-entropy at :math:`\hat y = \arg\max p` with respect to
        :math:`[W, b]` is :math:`(p - e_{\hat y}) \otimes [h, 1]` (no 1 without a bias);
        its norm is :math:`\lVert p - e_{\hat y} \rVert \, \lVert [h, 1] \rVert`. The
        network's own softmax is used (the loss it trains on; no temperature).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)
        factored : bool, default=False
            Return the factors ``(p - e_ŷ, [h, 1])``, ``(n, C)`` and ``(n, d + 1)``,
            instead of their ``(n, C·(d + 1))`` outer product (row-major, as the
            flattened weight matrix with the bias as its last column).

        Returns
        -------
        numpy.ndarray of shape (n, C·(d+1)), or a pair of float32 arrays

        References
        ----------
        Ash, Zhang, Krishnamurthy, Langford & Agarwal (2020), "Deep batch active learning
        by diverse, uncertain gradient lower bounds", ICLR.
        """
        self.require("grad_embed", "grad_embed")
        hidden, logits = self._head_pass(X, "grad_embed")
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        residual = shifted / shifted.sum(axis=1, keepdims=True)
        residual[np.arange(residual.shape[0]), np.argmax(logits, axis=1)] -= 1.0
        layer = submodule(self.networks_[0], self.head_, "grad_embed")
        if layer.bias is not None:
            hidden = np.hstack([hidden, np.ones((hidden.shape[0], 1), dtype=np.float32)])
        if factored:
            return residual, hidden
        return (residual[:, :, None] * hidden[:, None, :]).reshape(residual.shape[0], -1)

    def gradient_lengths(self, X: Any) -> np.ndarray:
        r"""Norm of the per-sample loss gradient for every label, ``(n, C)``.

        .. math:: L_{iy} = \lVert \nabla_\theta\, \ell(f_\theta(x_i), y) \rVert_2

        over every trainable parameter :math:`\theta` of the (first) network in eval
        mode, with :math:`\ell` the cross-entropy. Computed with ``torch.func``:
        ``vmap`` over rows of ``vmap`` over labels of ``grad`` of a ``functional_call``,
        in chunks that hold at most :data:`_GRADIENT_FLOATS` gradient entries.
        :class:`~activelab.strategies.ExpectedGradientLength` weighs them by
        ``predict_proba``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n, *input_shape_)

        Returns
        -------
        numpy.ndarray of shape (n, C), float64
        """
        torch = load_torch()
        from torch.func import functional_call, grad, vmap

        rows = self._check_fitted(X, "gradient_lengths")
        network = self.networks_[0]
        params = {k: v.detach() for k, v in network.named_parameters() if v.requires_grad}
        buffers = {k: v.detach() for k, v in network.named_buffers()}
        n_classes = self.classes_.shape[0]
        size = sum(int(p.numel()) for p in params.values())
        step = max(1, min(self._rows_per_forward(), _GRADIENT_FLOATS // (size * n_classes)))

        def loss(parameters: dict[str, Any], row: Any, label: Any) -> Any:
            logits = functional_call(network, (parameters, buffers), (row.unsqueeze(0),))
            return torch.nn.functional.cross_entropy(logits, label.unsqueeze(0))

        per_row = vmap(vmap(grad(loss), in_dims=(None, None, 0)), in_dims=(None, 0, None))
        labels = torch.arange(n_classes, device=self.device_)
        out = np.empty((rows.n, n_classes), dtype=np.float64)
        network.eval()
        for start, stop, batch in rows.batches(step, self.device_):
            gradients = per_row(params, batch, labels)
            squared = sum(g.double().pow(2).flatten(2).sum(2) for g in gradients.values())
            out[start:stop] = squared.sqrt().cpu().numpy()
        return out
