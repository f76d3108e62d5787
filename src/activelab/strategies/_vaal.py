r"""Variational Adversarial Active Learning (Sinha, Ebrahimi & Darrell 2019).

A VAE learns a latent space of the labeled and the unlabeled data; a discriminator
learns to tell labeled latents from unlabeled ones, while the VAE learns to fool it.
What the discriminator still rates "unlabeled" is what the labeled set represents
worst, and is queried. Only the inputs are used: the task model plays no part.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import RandomStateLike, check_int, check_number, check_random_state
from activelab.select import SAMPLING_MODES, sample
from activelab.strategies._base import Strategy

__all__ = ["VAAL"]

_ARCHITECTURES = ("auto", "mlp", "conv")


def _torch() -> Any:
    from activelab.models._torch_util import load_torch

    return load_torch()


class VAAL(Strategy):
    r"""VAAL: query the pool items a latent-space discriminator rates most "unlabeled".

    Each query trains, from a seed drawn from ``random_state``, a :math:`\beta`-VAE
    (encoder :math:`q_\phi(z \mid x)`, decoder :math:`p_\theta(x \mid z)`) on the labeled
    set :math:`X_L` and the pool :math:`X_U`, and a discriminator :math:`D` on its latent
    means, alternating one step of each per iteration (Algorithm 1 of the paper) on a
    batch from each set:

    .. math::

        \mathcal{L}_\text{VAE} &= \mathcal{L}_\text{trd}(X_L) + \mathcal{L}_\text{trd}(X_U)
            + \lambda_\text{adv} \bigl[-\log D(\mu(x_L)) - \log D(\mu(x_U))\bigr] \\
        \mathcal{L}_D &= -\log D(\mu(x_L)) - \log\bigl(1 - D(\mu(x_U))\bigr)

    with :math:`\mathcal{L}_\text{trd}(x) = \lVert x - \hat x \rVert^2 + \beta\,
    \mathrm{KL}(q_\phi(z \mid x) \,\Vert\, \mathcal{N}(0, I))` (the negative evidence
    lower bound of a unit-variance Gaussian decoder, up to constants), each term averaged
    over its set's batch. The VAE's adversarial
    term pushes unlabeled latents to look labeled; :math:`D` learns labeled = 1,
    unlabeled = 0. The ``k`` pool items with the lowest :math:`D(\mu(x))` — the highest
    utility :math:`1 - D(\mu(x))` — are queried (ties at random).

    The inputs are standardised first (per feature for vectors, per channel for images,
    with the mean and spread of labeled and pool rows together). Feature vectors
    ``(n, d)`` get an MLP VAE; images ``(n, C, H, W)`` a convolutional one shaped like the
    paper's (4×4 stride-2 convolutions with batch norm, down to at most 4×4). Nothing but
    ``X_pool`` and ``X_labeled`` is read, so ``model`` may be None and the labels are
    unused (``task = "any"``); ``X_labeled`` is required.

    Differences from the paper and the authors' code (sinhasam/vaal): the networks are
    smaller and trained for fewer steps (defaults below, meant for pools of hundreds to
    tens of thousands of rows on a CPU); one VAE step per discriminator step as in
    Algorithm 1 (the code takes two); the VAE's adversarial target for unlabeled
    latents is "labeled" as in the paper's eq. (4) (the code uses 0 there);
    :math:`\mathcal{L}_\text{trd}` is summed over a row's elements (the code adds a mean
    squared error per element to a KL summed over the batch); the labeled and the pool
    batch go through the VAE together (one pass); :math:`\lambda_\text{adv}` is 0.1, not
    1 (see ``adversary_weight``).

    Parameters
    ----------
    latent_dim : int, default=32
        Size of the latent code (the paper: 32).
    hidden : int, default=128
        Units of the MLP VAE's two hidden layers; channels of the first convolution of
        the convolutional VAE (the paper: 128, doubling to 1024).
    discriminator_hidden : int, default=128
        Units of the discriminator's two hidden layers (the paper: 512, three layers).
    beta : float, default=1.0
        Weight :math:`\beta` of the KL term (the paper: 1).
    adversary_weight : float, default=0.1
        :math:`\lambda_\text{adv}` (the paper's :math:`\lambda_2` is 1). On small data
        the paper's weight lets the VAE win the game: it learns to map a whole
        unrepresented cluster of the pool where the discriminator sees "labeled", and
        the batch drawn from that cluster shrinks as training goes on (measured on two
        Gaussian clusters: from 100 % after 100 steps to 0–70 % after 400–800); at 0.1
        the discriminator keeps finding it.
    epochs : int, default=30
        Passes over the larger of the two sets (the paper: 100 over the data set).
    min_steps : int, default=50
        At least this many iterations, so a tiny pool still trains.
    batch_size : int, default=64
        Rows per batch of each set (smaller sets use all their rows); the paper: 64.
    lr : float, default=5e-4
        Adam's learning rate for both networks (the authors' code: 5e-4).
    architecture : {"auto", "mlp", "conv"}, default="auto"
        ``"auto"``: convolutional for ``(n, C, H, W)`` input, MLP otherwise (other
        shapes are flattened).
    device : str or torch.device, default="auto"
        ``"auto"`` is CUDA when available, else the CPU.
    num_threads : int or None, default=None
        torch's intra-op CPU threads while VAAL trains and scores (the setting is
        restored afterwards; another thread running torch meanwhile shares it). None:
        one for the MLP VAE, whose small matrices gain nothing from more threads and
        lose much on a busy machine, and torch's own setting for the convolutional VAE.
    sampling : {"top", "softmax", "power", "softrank"}, default="top"
        ``"top"`` takes the ``k`` highest utilities; the others draw a stochastic batch
        (see :func:`activelab.select.stochastic_batch`).
    temperature : float, default=1.0
        Temperature of the stochastic modes.

    References
    ----------
    Sinha, Ebrahimi & Darrell (2019), "Variational adversarial active learning", ICCV.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X_labeled = rng.normal(0.0, 1.0, (30, 2))
    >>> X_pool = np.vstack([rng.normal(0.0, 1.0, (30, 2)), rng.normal(6.0, 1.0, (10, 2))])
    >>> picks = VAAL().query(None, X_pool, 5, X_labeled, random_state=0)
    >>> bool((picks >= 30).all())
    True
    """

    name: ClassVar[str] = "vaal"
    needs: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = "items a discriminator on a VAE's latents rates most 'unlabeled'"
    reference: ClassVar[str] = "Sinha, Ebrahimi & Darrell 2019"
    task: ClassVar[str] = "any"

    def __init__(
        self,
        latent_dim: int = 32,
        hidden: int = 128,
        discriminator_hidden: int = 128,
        beta: float = 1.0,
        adversary_weight: float = 0.1,
        epochs: int = 30,
        min_steps: int = 50,
        batch_size: int = 64,
        lr: float = 5e-4,
        architecture: str = "auto",
        device: Any = "auto",
        num_threads: int | None = None,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.discriminator_hidden = discriminator_hidden
        self.beta = beta
        self.adversary_weight = adversary_weight
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.architecture = architecture
        self.device = device
        self.num_threads = num_threads
        self.sampling = sampling
        self.temperature = temperature

    # ------------------------------------------------------------------ public
    def utilities(
        self, X_pool: Any, X_labeled: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        r"""Train the VAE and the discriminator, and score the pool: :math:`1 - D(\mu(x))`.

        Parameters
        ----------
        X_pool : array-like, DataFrame, sparse matrix or torch.Tensor of shape (n, ...)
            The unlabeled pool.
        X_labeled : same kind, of shape (m, ...)
            The labeled set (at least one row, rows shaped like the pool's).
        random_state : int, numpy.random.Generator or None
            Seeds the networks' initialisation, the batches and the VAE's noise.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
            Probability, by the discriminator, that each pool item is unlabeled.
        """
        rng = check_random_state(random_state)
        return self._utilities(X_pool, X_labeled, int(rng.integers(2**63 - 1)))

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        utilities = self._utilities(X_pool, X_labeled, int(rng.integers(2**63 - 1)))
        return sample(utilities, k, self.sampling, self.temperature, rng)

    # ------------------------------------------------------------------ internals
    def _check_params(self) -> dict[str, Any]:
        who = self.name
        if self.architecture not in _ARCHITECTURES:
            raise ValueError(
                f"{who}: architecture must be one of {_ARCHITECTURES}; got {self.architecture!r}."
            )
        return {
            "latent_dim": check_int(self.latent_dim, "latent_dim", who, 1),
            "hidden": check_int(self.hidden, "hidden", who, 1),
            "discriminator_hidden": check_int(
                self.discriminator_hidden, "discriminator_hidden", who, 1
            ),
            "beta": check_number(self.beta, "beta", who, 0.0),
            "adversary_weight": check_number(self.adversary_weight, "adversary_weight", who, 0.0),
            "epochs": check_int(self.epochs, "epochs", who, 0),
            "min_steps": check_int(self.min_steps, "min_steps", who, 0),
            "batch_size": check_int(self.batch_size, "batch_size", who, 1),
            "lr": check_number(self.lr, "lr", who, 0.0, open_low=True),
            "num_threads": None
            if self.num_threads is None
            else check_int(self.num_threads, "num_threads", who, 1),
        }

    def _device(self) -> Any:
        from activelab.models._torch_util import resolve_device

        try:
            return resolve_device(self.device)
        except ValueError:
            raise ValueError(
                f"{self.name}: device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got "
                f"{self.device!r}."
            ) from None

    def _inputs(self, X_pool: Any, X_labeled: Any) -> tuple[Any, Any, bool]:
        """Standardised float32 tensors (CPU) of the pool and the labeled set, and conv."""
        torch = _torch()
        from activelab.models._torch_util import Rows

        labeled_rows = None if X_labeled is None else Rows(X_labeled, f"{self.name} (X_labeled)")
        if labeled_rows is None or labeled_rows.n == 0:
            found = "None" if X_labeled is None else "an empty labeled set"
            raise ValueError(
                f"{self.name} trains a discriminator between the labeled set and the pool, "
                f"so it needs X_labeled; got {found}. Pass the labeled rows: "
                "query(model, X_pool, k, X_labeled), or start with random or typiclust."
            )
        pool_rows = Rows(X_pool, f"{self.name} (X_pool)")
        if pool_rows.row_shape != labeled_rows.row_shape:
            raise ValueError(
                f"{self.name}: X_pool has rows of shape {pool_rows.row_shape} and X_labeled "
                f"of shape {labeled_rows.row_shape}; both must hold the same features."
            )
        conv = self.architecture == "conv" or (
            self.architecture == "auto" and len(pool_rows.row_shape) == 3
        )
        if conv and (len(pool_rows.row_shape) != 3 or min(pool_rows.row_shape[1:]) < 2):
            raise ValueError(
                f"{self.name}: architecture='conv' needs images of shape (n, C, H, W) with H "
                f"and W at least 2; got rows of shape {pool_rows.row_shape}. Use "
                "architecture='mlp' for feature vectors."
            )
        cpu = torch.device("cpu")
        pool = pool_rows.take(slice(None), cpu)
        labeled = labeled_rows.take(slice(None), cpu)
        if not conv:
            pool, labeled = pool.reshape(pool.shape[0], -1), labeled.reshape(labeled.shape[0], -1)
        # Mean and spread of both sets together, accumulated in float64 (two passes).
        axes = (0, 2, 3) if conv else (0,)
        count = float(pool.shape[0] + labeled.shape[0]) * (
            pool.shape[2] * pool.shape[3] if conv else 1
        )

        def total(values: Any) -> Any:
            return values.sum(dim=axes, keepdim=True, dtype=torch.float64)

        mean = ((total(pool) + total(labeled)) / count).float()
        variance = (total((pool - mean).square()) + total((labeled - mean).square())) / count
        spread = variance.sqrt()
        spread = torch.where(spread > 1e-12, spread, torch.ones_like(spread)).float()
        return (pool - mean) / spread, (labeled - mean) / spread, conv

    def _utilities(self, X_pool: Any, X_labeled: Any, seed: int) -> np.ndarray:
        torch = _torch()
        from activelab.models._torch_util import rng_devices, seed_torch

        params = self._check_params()
        pool, labeled, conv = self._inputs(X_pool, X_labeled)
        device = self._device()
        threads = params["num_threads"]
        if threads is None and not conv:
            threads = 1
        before = torch.get_num_threads()
        try:
            if threads is not None and device.type == "cpu":
                torch.set_num_threads(threads)
            with torch.random.fork_rng(devices=rng_devices(device)):
                seed_torch(seed, device)
                vae, discriminator = self._train(pool, labeled, conv, params, seed, device)
                return self._score(vae, discriminator, pool, params["batch_size"], device)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    def _train(
        self, pool: Any, labeled: Any, conv: bool, params: dict[str, Any], seed: int, device: Any
    ) -> tuple[Any, Any]:
        torch = _torch()
        functional = torch.nn.functional
        from activelab.strategies._deep_nets import MLPVAE, ConvVAE, Discriminator

        latent = params["latent_dim"]
        if conv:
            vae = ConvVAE(tuple(pool.shape[1:]), latent, params["hidden"])
        else:
            vae = MLPVAE(pool.shape[1], latent, params["hidden"])
        vae = vae.to(device)
        discriminator = Discriminator(latent, params["discriminator_hidden"]).to(device)
        vae_optimizer = _adam(vae.parameters(), params["lr"])
        discriminator_optimizer = _adam(discriminator.parameters(), params["lr"])
        generator = torch.Generator().manual_seed(seed)
        size = params["batch_size"]
        per_epoch = -(-max(pool.shape[0], labeled.shape[0]) // size)
        steps = max(params["min_steps"], params["epochs"] * per_epoch)
        labeled_batches = _Cycle(labeled, size, generator, device)
        pool_batches = _Cycle(pool, size, generator, device)
        beta, adversary = params["beta"], params["adversary_weight"]
        n_labeled = min(size, labeled.shape[0])
        n_pool = min(size, pool.shape[0])
        # One pass over both sets' rows; each set's terms are its own batch means.
        per_row = torch.cat(
            [torch.full((n_labeled,), 1.0 / n_labeled), torch.full((n_pool,), 1.0 / n_pool)]
        ).to(device)
        is_labeled = torch.cat([torch.ones(n_labeled), torch.zeros(n_pool)]).to(device)
        everything_labeled = torch.ones(n_labeled + n_pool, device=device)
        vae.train()
        discriminator.train()
        for _ in range(steps):
            x = torch.cat([labeled_batches.next(), pool_batches.next()])
            # VAE step: reconstruct both sets, and make unlabeled latents look labeled.
            reconstruction, mean, log_var = vae(x)
            squared = (reconstruction - x).pow(2).flatten(1).sum(1)
            kl = -0.5 * (1.0 + log_var - mean.pow(2) - log_var.exp()).sum(1)
            discriminator.requires_grad_(False)
            fooled = functional.binary_cross_entropy_with_logits(
                discriminator(mean), everything_labeled, reduction="none"
            )
            discriminator.requires_grad_(True)
            loss = (squared + beta * kl + adversary * fooled) @ per_row
            vae_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            vae_optimizer.step()
            # Discriminator step: labeled = 1, unlabeled = 0, on the updated latents.
            with torch.no_grad():
                mean = vae.encode(x)[0]
            told = functional.binary_cross_entropy_with_logits(
                discriminator(mean), is_labeled, reduction="none"
            )
            discriminator_optimizer.zero_grad(set_to_none=True)
            (told @ per_row).backward()
            discriminator_optimizer.step()
        vae.eval()
        discriminator.eval()
        return vae, discriminator

    @staticmethod
    def _score(vae: Any, discriminator: Any, pool: Any, size: int, device: Any) -> np.ndarray:
        """:math:`1 - D(\\mu(x))` of every pool row, in batches, in eval mode."""
        torch = _torch()
        step = max(size, 1024)
        out = np.empty(pool.shape[0], dtype=np.float64)
        with torch.no_grad():
            for start in range(0, pool.shape[0], step):
                batch = pool[start : start + step].to(device)
                logits = discriminator(vae.encode(batch)[0]).double()
                out[start : start + batch.shape[0]] = torch.sigmoid(-logits).cpu().numpy()
        if not np.isfinite(out).all():
            raise ValueError(
                "vaal: the VAE or the discriminator diverged (NaN scores); lower lr or beta."
            )
        return out


def _adam(parameters: Any, lr: float) -> Any:
    """Adam; the fused kernel where torch has it for the device (one call per step)."""
    torch = _torch()
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch
        return torch.optim.Adam(parameters, lr=lr)


class _Cycle:
    """Endless shuffled batches of a tensor: a fresh permutation after each pass."""

    def __init__(self, data: Any, size: int, generator: Any, device: Any) -> None:
        self.data, self.size, self.generator, self.device = data, size, generator, device
        self.order: Any = None
        self.position = 0

    def next(self) -> Any:
        torch = _torch()
        n = self.data.shape[0]
        size = min(self.size, n)
        if self.order is None or self.position + size > n:
            self.order = torch.randperm(n, generator=self.generator)
            self.position = 0
        rows = self.order[self.position : self.position + size]
        self.position += size
        return self.data[rows].to(self.device)
