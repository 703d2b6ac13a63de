"""A readout over label-free standardised features, shared by the ``hebbian`` and ``hebb3f`` rules.

Hebbian features drift in scale while they learn; the readout therefore reads them divided by
running statistics that are tracked without labels (a cumulative mean for the first 100 batches,
then an exponential moving average with rate 0.01). The statistics are buffers, so ``state_dict``
round-trips them with the rule.
"""

from __future__ import annotations

import torch
from torch import nn


class StandardisedReadout(nn.Module):
    """Mixin for a ``Rule``: running feature statistics and the ``predict`` that uses them."""

    def init_feature_stats(self, n_features: int) -> None:
        """Register the running mean / variance of the readout's input and the batch counter."""
        self.register_buffer("feat_mean", torch.zeros(n_features))
        self.register_buffer("feat_var", torch.ones(n_features))
        self.register_buffer("n_seen", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def track_features(self, feats: torch.Tensor) -> None:
        """Fold one batch of features (n, features) into the running statistics (no labels)."""
        self.n_seen += 1
        m = max(1.0 / float(self.n_seen), 0.01)
        self.feat_mean.lerp_(feats.mean(0), m)
        self.feat_var.lerp_(feats.var(0, unbiased=False), m)

    def standardise(self, feats: torch.Tensor) -> torch.Tensor:
        """The readout's input: features scaled by their running statistics (n, features)."""
        return (feats - self.feat_mean) / (self.feat_var + 1e-5).sqrt()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.readout(self.standardise(self.net.features(x)))
