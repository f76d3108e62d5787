"""The pieces of :class:`~activelab.models.TorchClassifier` that are not the estimator.

Loading torch lazily, turning user input into float32 batches, building a network from a
factory, the stratified held-out slice, capturing layer outputs, and the sampling pass of
MC dropout. Nothing here imports torch at module level: ``import activelab`` works
without it.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp

from activelab._extras import require

__all__ = ["capture", "load_torch"]


def load_torch() -> Any:
    """The ``torch`` module, or an ImportError that says ``pip install 'activelab[torch]'``.

    Returns
    -------
    types.ModuleType

    Examples
    --------
    >>> load_torch().__name__
    'torch'
    """
    return require("torch", "torch", "TorchClassifier")


def resolve_device(device: Any) -> Any:
    """``"auto"`` → CUDA when available, else the CPU; any other value as torch.device."""
    torch = load_torch()
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"TorchClassifier: device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from error


def seed_torch(seed: int, device: Any) -> None:
    """Seed the CPU generator (and CUDA's when ``device`` is a GPU) for a fork_rng block."""
    torch = load_torch()
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)


def rng_devices(device: Any) -> list[int]:
    """The CUDA devices whose generator state ``torch.random.fork_rng`` must save."""
    torch = load_torch()
    return list(range(torch.cuda.device_count())) if device.type == "cuda" else []


class Rows:
    """The rows of ``X``, turned into float32 tensors one batch at a time.

    Accepts numpy arrays (any numeric dtype), torch tensors, DataFrames, scipy sparse
    matrices (densified per batch) and nested lists, of shape ``(n, d)`` or
    ``(n, C, H, W)`` (any ``ndim >= 2``). A batch with NaN or inf raises a ValueError
    naming the row, so the check costs one pass over data that is read anyway.

    Parameters
    ----------
    X : array-like, torch.Tensor, DataFrame or sparse matrix
    who : str
        The caller, for messages.
    """

    def __init__(self, X: Any, who: str) -> None:
        torch = load_torch()
        self.who = who
        if isinstance(X, torch.Tensor):
            data = X.detach()
            numeric = data.dtype.is_floating_point or data.dtype in (
                torch.int8,
                torch.int16,
                torch.int32,
                torch.int64,
                torch.uint8,
                torch.bool,
            )
            found = str(data.dtype)
        elif sp.issparse(X):
            data = sp.csr_matrix(X)
            numeric, found = True, str(data.dtype)
        else:
            if hasattr(X, "to_numpy"):
                X = X.to_numpy()
            data = np.asarray(X)
            numeric = np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_
            numeric = numeric and not np.issubdtype(data.dtype, np.complexfloating)
            found = str(data.dtype)
        if not numeric:
            raise TypeError(
                f"{who} needs numeric input (floats, ints or bools); got dtype {found}. "
                "Turn texts or other raw input into features first (e.g. sentence "
                "embeddings), or pass a tensor."
            )
        if data.ndim < 2:
            raise ValueError(
                f"{who} needs X of shape (n, d) or (n, C, H, W); got shape "
                f"{tuple(data.shape)}. For one feature use X.reshape(-1, 1); for one "
                "row, X[None]."
            )
        self.data = data
        self.n = int(data.shape[0])
        self.row_shape = tuple(int(s) for s in data.shape[1:])

    def take(self, rows: slice | np.ndarray, device: Any) -> Any:
        """The selected rows as a float32 tensor on ``device``, checked finite.

        Parameters
        ----------
        rows : slice or array of ints
        device : torch.device

        Returns
        -------
        torch.Tensor of shape (b, *row_shape), float32
        """
        torch = load_torch()
        if isinstance(self.data, torch.Tensor):
            index = rows if isinstance(rows, slice) else torch.as_tensor(rows)
            batch = self.data[index].to(device=device, dtype=torch.float32)
        elif sp.issparse(self.data):
            batch = torch.from_numpy(self.data[rows].toarray().astype(np.float32, copy=False))
        else:
            chunk = np.ascontiguousarray(self.data[rows], dtype=np.float32)
            batch = torch.from_numpy(chunk)
        batch = batch.to(device=device)
        if not bool(torch.isfinite(batch).all()):
            bad = torch.isfinite(batch).reshape(batch.shape[0], -1).all(dim=1)
            position = int(torch.nonzero(~bad)[0, 0])
            row = (
                (rows.start or 0) + position
                if isinstance(rows, slice)
                else int(np.asarray(rows)[position])
            )
            raise ValueError(
                f"{self.who}: row {row} of X holds NaN or inf; impute or drop it before "
                "passing X to the network."
            )
        return batch

    def batches(self, size: int, device: Any) -> Iterator[tuple[int, int, Any]]:
        """``(start, stop, tensor)`` for consecutive batches of at most ``size`` rows."""
        for start in range(0, self.n, size):
            stop = min(start + size, self.n)
            yield start, stop, self.take(slice(start, stop), device)


def call_factory(factory: Any, n_features: int, n_classes: int, what: str) -> Any:
    """Build a module: ``factory(n_features, n_classes)`` or ``factory()``, checked.

    The factory's required positional parameters decide: none → ``factory()``, two (or
    ``*args``) → ``factory(n_features, n_classes)``. An ``nn.Module`` class whose first
    two parameters are the sizes (``nn.Linear``) works as it is.

    Parameters
    ----------
    factory : callable
    n_features : int
        ``X.shape[1]``: the width of tabular input, the channels of images.
    n_classes : int
    what : str
        ``"module"`` or ``"auxiliary"``, for messages.

    Returns
    -------
    torch.nn.Module
    """
    torch = load_torch()
    if isinstance(factory, torch.nn.Module):
        raise TypeError(
            f"TorchClassifier: {what} must be a factory that builds a fresh network "
            f"(called at each fit and once per ensemble member), not the network "
            f"{type(factory).__name__} itself. Pass its class, or a function such as "
            f"`lambda n_features, n_classes: {type(factory).__name__}(...)`."
        )
    if not callable(factory):
        raise TypeError(
            f"TorchClassifier: {what} must be a callable (n_features, n_classes) -> "
            f"nn.Module or () -> nn.Module; got {type(factory).__name__}."
        )
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: try the sizes
        parameters = None
    if parameters is None:
        arguments: tuple[int, ...] = (n_features, n_classes)
    else:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        required = [
            p for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty
        ]
        variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
        if len(required) == 0 and not variadic:
            arguments = ()
        elif len(required) <= 2:
            arguments = (n_features, n_classes)
        else:
            names = ", ".join(p.name for p in required)
            raise TypeError(
                f"TorchClassifier: the {what} factory must take (n_features, n_classes) or "
                f"nothing; {getattr(factory, '__name__', factory)!r} requires ({names}). "
                "Bind the others with functools.partial."
            )
    built = factory(*arguments)
    if not isinstance(built, torch.nn.Module):
        raise TypeError(
            f"TorchClassifier: the {what} factory must return a torch.nn.Module; it "
            f"returned {type(built).__name__}."
        )
    return built


def stratified_holdout(
    targets: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into training and held-out rows, stratified by class.

    Each class gives ``floor(fraction · count)`` held-out rows, so a class with fewer than
    ``1 / fraction`` labels stays whole in training and every class keeps at least one
    training row. The held-out slice is empty while the labeled set is that small.

    Parameters
    ----------
    targets : array of shape (n,)
        Class indices.
    fraction : float
        In ``[0, 1)``.
    rng : numpy.random.Generator

    Returns
    -------
    train, held_out : arrays of int64, sorted

    Examples
    --------
    >>> targets = np.array([0] * 10 + [1] * 5)
    >>> train, held = stratified_holdout(targets, 0.2, np.random.default_rng(0))
    >>> len(train), len(held)
    (12, 3)
    """
    held: list[np.ndarray] = []
    if fraction > 0:
        order = np.argsort(targets, kind="stable")
        bounds = np.flatnonzero(np.diff(targets[order])) + 1
        for rows in np.split(order, bounds):
            size = int(np.floor(fraction * rows.shape[0]))
            if size:
                held.append(rng.choice(rows, size, replace=False))
    held_out = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    mask = np.ones(targets.shape[0], dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask).astype(np.int64), held_out.astype(np.int64)


def submodule(network: Any, name: str, who: str) -> Any:
    """The submodule called ``name`` (``""`` is the network itself), or a clear KeyError."""
    modules = dict(network.named_modules())
    if name not in modules:
        known = ", ".join(repr(n) for n in list(modules)[:20])
        raise KeyError(
            f"{who}: the network has no submodule named {name!r}; its submodules are "
            f"{known}{' …' if len(modules) > 20 else ''}."
        )
    return modules[name]


@contextmanager
def capture(network: Any, layers: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Record the outputs of named submodules while ``network`` runs forward.

    Inside the ``with`` block every forward call fills the dict with the latest output
    of each named submodule (names as in ``network.named_modules()``, ``""`` for the
    network itself); the hooks are removed on exit. The tensors stay attached to the
    autograd graph, so an auxiliary loss on them trains the network (detach them where
    it must not). Only forward calls from the thread that entered the block are recorded.

    Parameters
    ----------
    network : torch.nn.Module
    layers : sequence of str

    Yields
    ------
    dict of str to torch.Tensor

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> with capture(net, ["1"]) as outputs:
    ...     _ = net(torch.zeros(5, 3))
    >>> tuple(outputs["1"].shape)
    (5, 4)
    """
    outputs: dict[str, Any] = {}
    handles = []
    owner = threading.get_ident()

    def recorder(name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if threading.get_ident() == owner:
                outputs[name] = output

        return hook

    try:
        for name in layers:
            handles.append(
                submodule(network, name, "capture").register_forward_hook(recorder(name))
            )
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def dropout_modules(network: Any) -> list[Any]:
    """The ``nn.Dropout`` / ``Dropout1d/2d/3d`` modules of ``network`` with ``p > 0``."""
    torch = load_torch()
    kinds = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d)
    return [m for m in network.modules() if isinstance(m, kinds) and m.p > 0]


class DropoutSampler:
    """The sampling pass of MC dropout: ``n_samples`` dropout masks in one forward call.

    The network stays in eval mode (batch norm uses its running statistics; dropout
    modules are the identity) and a forward hook on each dropout module multiplies its
    output by Bernoulli(1 − p) / (1 − p) masks, one per sample. The rows of a batch are
    laid out sample-major: ``(n_samples · b, …)``. With ``consistent`` the mask of sample
    ``s`` is the same for every pool row (Kirsch et al. 2019's consistent MC dropout:
    sample ``s`` is one network, as BatchBALD's joint entropies need); otherwise each
    row gets its own masks. ``nn.Dropout`` masks each element; ``Dropout1d/2d/3d`` each
    channel.

    With ``expand`` the batch enters with ``b`` rows and the first dropout module
    repeats it ``n_samples`` times: the layers before it (deterministic in this pass)
    run once per row instead of once per row and sample.

    The hooks act only on forward calls from the thread that entered the block, so
    another thread's ``predict_proba`` on the same network meanwhile sees no mask.

    Parameters
    ----------
    network : torch.nn.Module
    n_samples : int
    consistent : bool
    generator : torch.Generator
        On the network's device; draws every mask.
    """

    def __init__(self, network: Any, n_samples: int, consistent: bool, generator: Any) -> None:
        self.network = network
        self.n_samples = n_samples
        self.consistent = consistent
        self.generator = generator
        self.rows = 0
        self.expand = False
        self._owner: int | None = None
        self._masks: dict[int, Any] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> DropoutSampler:
        self._owner = threading.get_ident()
        for module in dropout_modules(self.network):
            self._handles.append(module.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _mask(self, module: Any, feature_shape: tuple[int, ...], rows: int, device: Any) -> Any:
        torch = load_torch()
        if isinstance(module, torch.nn.Dropout):
            shape = feature_shape
        else:  # channel dropout: one draw per channel, broadcast over positions
            shape = (feature_shape[0],) + (1,) * (len(feature_shape) - 1)
        per_row = 1 if self.consistent else rows
        key = id(module)
        cached = self._masks.get(key) if self.consistent else None
        if cached is not None and tuple(cached.shape[2:]) == shape:
            return cached
        keep = 1.0 - module.p
        mask = torch.empty((self.n_samples, per_row, *shape), device=device)
        mask.bernoulli_(keep, generator=self.generator).div_(keep)
        if self.consistent:
            self._masks[key] = mask
        return mask

    def _hook(self, module: Any, inputs: Any, output: Any) -> Any:
        if threading.get_ident() != self._owner:
            return None  # another thread's forward pass: leave it alone
        rows, samples = self.rows, self.n_samples
        if output.shape[0] == rows * samples:
            stacked = output.reshape(samples, rows, *output.shape[1:])
        elif self.expand and output.shape[0] == rows:
            stacked = output.unsqueeze(0)
        else:
            raise RuntimeError(
                f"MC dropout: a dropout layer saw {output.shape[0]} rows, expected {rows} "
                f"or {rows * samples}; the network's forward must keep one row per input row."
            )
        mask = self._mask(module, tuple(output.shape[1:]), rows, output.device)
        return (stacked * mask).reshape(samples * rows, *output.shape[1:])

    def forward(self, batch: Any) -> Any:
        """Network outputs for every sample, ``(n_samples, b, …)``; the caller disables grad."""
        rows = batch.shape[0]
        self.rows = rows
        if not self.expand:
            batch = batch.unsqueeze(0).expand(self.n_samples, *batch.shape)
            batch = batch.reshape(self.n_samples * rows, *batch.shape[2:])
        out = self.network(batch)
        if out.shape[0] != self.n_samples * rows:
            raise RuntimeError(
                f"MC dropout: the network returned {out.shape[0]} rows for "
                f"{self.n_samples} samples of {rows} rows."
            )
        return out.reshape(self.n_samples, rows, *out.shape[1:])
