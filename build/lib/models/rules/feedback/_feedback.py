"""Shared base of the fixed-feedback rules (``fa``, ``dfa``): hyper-parameter checks and optimiser."""

from __future__ import annotations

import torch

from models.rules.base import Rule


class FixedFeedbackRule(Rule):
    """Checks and keeps the shared hyper-parameters and holds ``self.opt``, the optimiser over the
    network's weights (Adam, or SGD with momentum) on the feedback-driven pseudo-gradients."""

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        feedback_scale: float = 1.0,
        optimizer: str = "adam",
        momentum: float = 0.9,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, feedback_scale=feedback_scale)
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self._check("optimizer", optimizer, optimizer in ("adam", "sgd"), "'adam' or 'sgd'")
        self._check("momentum", momentum, 0 <= momentum < 1, "in [0, 1)")
        self.lr, self.weight_decay = lr, weight_decay
        self.feedback_scale, self.optimizer, self.momentum = feedback_scale, optimizer, momentum
        params = net.parameters()
        if optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        else:
            self.opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
