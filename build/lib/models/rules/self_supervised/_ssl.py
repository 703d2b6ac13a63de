"""Self-supervised machinery shared by ``gim``, ``blockwise_ssl`` and ``simclr``.

Not a rule (the leading underscore keeps the registry away). Holds the view losses (InfoNCE /
NT-Xent, Barlow Twins, VICReg), the projection head, and ``SSLRule``: two augmented views per
image, either one loss per block on detached block inputs (local) or one loss on the last block
with gradients through the whole network (end to end). The labels reach only the linear readout,
trained with the cross-entropy on the detached last-block features of the un-augmented images
(for accuracy only). The readout sees those features standardised by running (EMA) means and
variances, a label-free affine map, so it keeps up with features whose scale is tiny at init.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import nn

from models.rules._local_util import block_out_shapes
from models.rules.base import Rule
from models.rules.self_supervised._augment import augment


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR's InfoNCE): each view must pick its partner among the other 2n - 1."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2n, d), unit norm
    sim = z @ z.t() / temperature  # (2n, 2n) cosine similarities / tau
    n = z1.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, lambd: float) -> torch.Tensor:
    """Barlow Twins: cross-correlation of the standardised embeddings pulled to the identity."""
    n = z1.shape[0]
    a = (z1 - z1.mean(0)) / (z1.std(0) + 1e-5)
    b = (z2 - z2.mean(0)) / (z2.std(0) + 1e-5)
    c = a.t() @ b / n  # (d, d) cross-correlation
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on + lambd * off


def _off_diagonal_sq(c: torch.Tensor) -> torch.Tensor:
    return c.pow(2).sum() - torch.diagonal(c).pow(2).sum()


def vicreg(
    z1: torch.Tensor, z2: torch.Tensor, sim_w: float = 25.0, var_w: float = 25.0, cov_w: float = 1.0
) -> torch.Tensor:
    """VICReg: invariance (MSE) + variance (hinge on per-dim std at 1) + covariance penalties."""
    n, d = z1.shape
    inv = F.mse_loss(z1, z2)
    var = sum(F.relu(1 - (z.var(0) + 1e-4).sqrt()).mean() for z in (z1, z2))
    cov = sum(_off_diagonal_sq(torch.cov(z.t())) / d for z in (z1, z2))
    return sim_w * inv + var_w * var + cov_w * cov


class Projector(nn.Module):
    """Projection head of one block: global average pool (conv maps), Linear-ReLU-Linear."""

    def __init__(self, shape: tuple[int, ...], hidden: int, out: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(shape[0], hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.dim() == 4:
            h = h.mean((2, 3))  # (n, c, h, w) -> (n, c)
        return self.mlp(h)


class SSLRule(Rule):
    """Two-view self-supervised learning; subclasses set ``card``, ``blockwise`` and ``view_loss``."""

    blockwise: bool = True

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        readout_lr: float = 5e-3,
        proj_hidden: int = 256,
        proj_dim: int = 128,
        crop_pad: int = 2,
        flip: str = "auto",
        brightness: float = 0.2,
        noise_std: float = 0.1,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, readout_lr=readout_lr)
        for name, v in (("proj_hidden", proj_hidden), ("proj_dim", proj_dim)):
            self._check(name, v, isinstance(v, int) and v >= 1, "an int >= 1")
        self._check(
            "crop_pad", crop_pad, isinstance(crop_pad, int) and crop_pad >= 0, "an int >= 0"
        )
        self._check(
            "flip",
            flip,
            flip in ("auto", "always", "never"),
            "'auto' (colour images only), 'always' or 'never'",
        )
        self._check("brightness", brightness, brightness >= 0, ">= 0")
        self._check("noise_std", noise_std, noise_std >= 0, ">= 0")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.readout_lr, self.proj_hidden, self.proj_dim = (
            lr,
            readout_lr,
            proj_hidden,
            proj_dim,
        )
        self.crop_pad, self.flip, self.brightness, self.noise_std = (
            crop_pad,
            flip,
            brightness,
            noise_std,
        )
        self.weight_decay = weight_decay
        shapes = block_out_shapes(net)
        self.heads = nn.ModuleList(
            Projector(s, proj_hidden, proj_dim) for s in (shapes if self.blockwise else shapes[-1:])
        )
        self.heads.to(net.readout.weight.device)
        n_feat = net.readout.in_features
        self.register_buffer("feat_mean", torch.zeros(n_feat, device=net.readout.weight.device))
        self.register_buffer("feat_var", torch.ones(n_feat, device=net.readout.weight.device))
        self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))
        self.optimizer = torch.optim.Adam(
            [
                {"params": [*net.blocks.parameters(), *self.heads.parameters()]},
                {"params": net.readout.parameters(), "lr": readout_lr},
            ],
            lr=lr,
            weight_decay=weight_decay,
        )

    @abstractmethod
    def view_loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """The self-supervised loss between the two views' projections."""

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent random augmentations of the batch (no labels involved)."""
        flip = self.flip == "always" or (self.flip == "auto" and x.shape[1] == 3)
        kw = dict(
            crop_pad=self.crop_pad, flip=flip, brightness=self.brightness, noise_std=self.noise_std
        )
        return augment(x, **kw), augment(x, **kw)

    def ssl_losses(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The label-free losses: one per block (blockwise) or one through the whole net."""
        h1, h2 = self.views(x)
        losses = []
        for k, block in enumerate(self.net.blocks):
            if self.blockwise:
                h1, h2 = block(h1.detach()), block(h2.detach())
                losses.append(self.view_loss(self.heads[k](h1), self.heads[k](h2)))
            else:
                h1, h2 = block(h1), block(h2)
        if not self.blockwise:
            losses.append(self.view_loss(self.heads[0](h1), self.heads[0](h2)))
        return losses

    def readout(self, feats: torch.Tensor) -> torch.Tensor:
        """Class scores of the linear readout on running-standardised features (n, d)."""
        return self.net.readout((feats - self.feat_mean) / (self.feat_var + 1e-5).sqrt())

    @torch.no_grad()
    def _track_features(self, feats: torch.Tensor) -> None:
        m = 1.0 if int(self.n_updates) == 0 else 0.1  # EMA momentum; first batch initialises
        self.feat_mean.lerp_(feats.mean(0), m)
        self.feat_var.lerp_(feats.var(0) if len(feats) > 1 else torch.ones_like(feats[0]), m)
        self.n_updates += 1

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.net.features(x))

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.ssl_losses(x)
        with torch.no_grad():
            feats = self.net.features(x)  # (n, d): detached, un-augmented
            self._track_features(feats)
        readout_loss = F.cross_entropy(self.readout(feats), y)
        (sum(losses) + readout_loss).backward()
        self.optimizer.step()
        out = {f"ssl_{i + 1}": float(v.detach()) for i, v in enumerate(losses)}
        out["loss"] = float(readout_loss.detach())
        return out


class InfoNCERule(SSLRule):
    """An ``SSLRule`` whose view loss is InfoNCE / NT-Xent at a temperature (gim, simclr)."""

    def __init__(self, net, *, temperature: float = 0.5, **ssl_options):
        """``ssl_options``: the keyword arguments of ``SSLRule`` (optimiser, projector, views)."""
        self._check(
            "temperature",
            temperature,
            isinstance(temperature, int | float) and temperature > 0,
            "> 0",
        )
        super().__init__(net, **ssl_options)
        self.temperature = temperature

    def view_loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return info_nce(z1, z2, self.temperature)
