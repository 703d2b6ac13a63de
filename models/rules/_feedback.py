"""Shared setup of the fixed-feedback rules (``fa``, ``dfa``): hyper-parameter checks and optimiser."""

from __future__ import annotations

import torch

from models.rules.base import Rule


def setup_feedback_optimizer(
    rule: Rule,
    *,
    lr: float,
    weight_decay: float,
    feedback_scale: float,
    optimizer: str,
    momentum: float,
) -> torch.optim.Optimizer:
    """Check the shared hyper-parameters, keep them on ``rule`` and return its optimiser over the
    network's weights (Adam, or SGD with momentum) on the feedback-driven pseudo-gradients."""
    rule._check_positive(lr=lr, feedback_scale=feedback_scale)
    rule._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
    rule._check("optimizer", optimizer, optimizer in ("adam", "sgd"), "'adam' or 'sgd'")
    rule._check("momentum", momentum, 0 <= momentum < 1, "in [0, 1)")
    rule.lr, rule.weight_decay = lr, weight_decay
    rule.feedback_scale, rule.optimizer, rule.momentum = feedback_scale, optimizer, momentum
    params = rule.net.parameters()
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
