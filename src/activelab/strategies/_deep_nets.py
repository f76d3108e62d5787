"""The PyTorch networks of the deep strategies: VAAL's VAE and discriminator, and the
loss-prediction module of "Learning Loss for Active Learning".

This module imports torch at the top, so only :mod:`activelab.strategies._vaal` and
:mod:`activelab.strategies._loss_prediction` import it, lazily, after
:func:`activelab.models._torch_util.load_torch` has given the friendly ImportError that
names the extra. Classes live at module level so fitted modules pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from activelab.strategies._loss_prediction import margin_ranking_loss

__all__ = ["MLPVAE", "ConvVAE", "Discriminator", "LossPredictionNet", "pool_feature"]


class _VAE(nn.Module):
    """Shared reparameterised forward pass: ``encode`` gives (μ, log σ²), ``decode`` x̂."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction, μ and log σ² of a batch; z = μ + σ·ε with ε ~ N(0, I)."""
        mean, log_var = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decode(z), mean, log_var


class MLPVAE(_VAE):
    """A VAE for feature vectors: two hidden ReLU layers each side.

    Parameters
    ----------
    n_features : int
    latent_dim : int
    hidden : int
    """

    def __init__(self, n_features: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.mean = nn.Linear(hidden, latent_dim)
        self.log_var = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_features),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(x)
        return self.mean(hidden), self.log_var(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class ConvVAE(_VAE):
    """A convolutional VAE for images ``(C, H, W)``, after the paper's (Sinha et al. 2019).

    The encoder halves the resolution with 4×4 stride-2 convolutions (batch norm, ReLU)
    until the shorter side is at most 4, doubling the channels from ``channels`` (at most
    ``8 · channels``); linear layers map the flattened maps to μ and log σ². The decoder
    mirrors it with transposed convolutions and, when odd sizes were floored on the way
    down, resizes bilinearly to ``(H, W)``. The paper's network for 32×32 images is the
    same shape with 128 to 1024 channels.

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)``, both sides at least 2.
    latent_dim : int
    channels : int
        Channels of the first convolution.
    """

    def __init__(self, shape: Sequence[int], latent_dim: int, channels: int) -> None:
        super().__init__()
        in_channels, height, width = (int(s) for s in shape)
        widths: list[int] = []
        encoder: list[nn.Module] = []
        previous, size = in_channels, (height, width)
        while not widths or min(size) > 4:
            width_out = min(channels * 2 ** len(widths), 8 * channels)
            encoder += [
                nn.Conv2d(previous, width_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width_out),
                nn.ReLU(),
            ]
            widths.append(width_out)
            previous, size = width_out, (size[0] // 2, size[1] // 2)
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.code_shape = (previous, *size)
        flat = previous * size[0] * size[1]
        self.mean = nn.Linear(flat, latent_dim)
        self.log_var = nn.Linear(flat, latent_dim)
        self.expand = nn.Linear(latent_dim, flat)
        decoder: list[nn.Module] = []
        for width_out in reversed(widths[:-1]):
            decoder += [
                nn.ConvTranspose2d(previous, width_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width_out),
                nn.ReLU(),
            ]
            previous = width_out
        decoder.append(nn.ConvTranspose2d(previous, in_channels, 4, 2, 1))
        self.decoder = nn.Sequential(*decoder)
        self.output_size = (height, width)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(x)
        return self.mean(hidden), self.log_var(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        maps = self.expand(z).reshape(z.shape[0], *self.code_shape)
        out = self.decoder(torch.relu(maps))
        if tuple(out.shape[2:]) != self.output_size:
            out = nn.functional.interpolate(
                out, size=self.output_size, mode="bilinear", align_corners=False
            )
        return out


class Discriminator(nn.Module):
    """VAAL's discriminator: latent code → logit of "labeled" (two hidden ReLU layers).

    Parameters
    ----------
    latent_dim : int
    hidden : int
    """

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


def pool_feature(value: Any, name: str) -> torch.Tensor:
    """Global average pooling of a captured feature map to ``(b, channels)``.

    ``(b, c)`` is used as it is, ``(b, c, …)`` is averaged over every axis after the
    channel axis (``(b, c, h, w)`` → GAP, as in the paper), ``(b,)`` becomes ``(b, 1)``.

    Parameters
    ----------
    value : torch.Tensor
        The submodule's output.
    name : str
        The submodule, for messages.

    Returns
    -------
    torch.Tensor of shape (b, c)
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"loss prediction: submodule {name!r} returned {type(value).__name__}, not a "
            "tensor; list submodules whose output is one tensor (e.g. a block or an "
            "activation, not an LSTM that returns a tuple)."
        )
    if value.ndim == 1:
        return value.unsqueeze(1)
    if value.ndim == 2:
        return value
    return value.flatten(2).mean(2)


class LossPredictionNet(nn.Module):
    """The loss-prediction module of Yoo & Kweon (2019), trained beside a network.

    Each listed feature map goes through global average pooling, a linear layer of
    ``hidden`` units and a ReLU; the concatenation goes through a linear layer to one
    scalar, the predicted loss. As an auxiliary of
    :class:`~activelab.models._torch.TorchClassifier` its ``forward`` returns
    ``weight · margin_ranking_loss(predicted, true losses, margin)``, which the training
    loop adds to the mean cross-entropy; from epoch ``detach_epoch`` on the features
    are detached, so the ranking loss no longer trains the network (the paper stops
    this gradient after 120 of 200 epochs).

    Parameters
    ----------
    layers : sequence of str
        Names of the network's submodules (``network.named_modules()``) whose outputs
        are read.
    hidden : int
    margin : float
    weight : float
    detach_epoch : int or None
    widths : sequence of int or None
        Channels of each feature map; None infers them at the first batch.
    """

    def __init__(
        self,
        layers: Sequence[str],
        hidden: int,
        margin: float,
        weight: float,
        detach_epoch: int | None,
        widths: Sequence[int] | None,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        self.margin = float(margin)
        self.weight = float(weight)
        self.detach_epoch = detach_epoch
        sizes = [None] * len(self.layers) if widths is None else list(widths)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.LazyLinear(hidden) if size is None else nn.Linear(int(size), hidden),
                nn.ReLU(),
            )
            for size in sizes
        )
        self.output = nn.Linear(hidden * len(self.layers), 1)

    def predict(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Predicted loss of each row, ``(b,)``, from the captured feature maps.

        Parameters
        ----------
        features : mapping of str to torch.Tensor
            The outputs of :attr:`layers`, keyed by name.

        Returns
        -------
        torch.Tensor of shape (b,)
        """
        missing = [name for name in self.layers if name not in features]
        if missing:
            raise KeyError(
                f"loss prediction: no output captured for submodule(s) {missing}; the "
                "network's forward pass did not run them."
            )
        pooled = [
            branch(pool_feature(features[name], name))
            for name, branch in zip(self.layers, self.branches, strict=True)
        ]
        return self.output(torch.cat(pooled, dim=1)).squeeze(1)

    def forward(self, batch: Any) -> torch.Tensor:
        """The weighted ranking loss of a training batch (a ``TrainingBatch``)."""
        features = batch.features
        if self.detach_epoch is not None and batch.epoch >= self.detach_epoch:
            features = {name: value.detach() for name, value in features.items()}
        predicted = self.predict(features)
        return self.weight * margin_ranking_loss(predicted, batch.losses.detach(), self.margin)
