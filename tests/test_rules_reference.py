"""Rule-specific properties of the spine's two rules."""

import torch
import torch.nn.functional as F

from models.training import build_rule


def test_bp_step_equals_autograd_adam_step(mnist_small):
    x, y = mnist_small["x_train"][:32], mnist_small["y_train"][:32]
    rule = build_rule("bp", "mlp", (1, 28, 28), 10, hparams={"lr": 1e-3}, seed=0)
    ref = build_rule("bp", "mlp", (1, 28, 28), 10, hparams={"lr": 1e-3}, seed=0).net
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    F.cross_entropy(ref(x), y).backward()
    opt.step()
    rule.train_step(x, y)
    for p, q in zip(rule.net.parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p, q)


def test_random_never_changes_weights(mnist_small):
    rule = build_rule("random", "cnn", (1, 28, 28), 10, seed=0)
    before = {k: v.clone() for k, v in rule.state_dict().items()}
    rule.train_step(mnist_small["x_train"][:32], mnist_small["y_train"][:32])
    assert all(torch.equal(before[k], v) for k, v in rule.state_dict().items())
