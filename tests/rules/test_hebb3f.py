"""The hebb3f rule's card: labels reach synapses only through a scalar reward per example."""

import torch

from models.training import build_rule


def _step(arch, x, y, seed=5):
    rule = build_rule("hebb3f", arch, (1, 28, 28), 10, seed=0)
    torch.manual_seed(seed)  # the same sampled choices
    rule.train_step(x, y)
    return rule


def _choices(arch, x, seed=5):
    rule = build_rule("hebb3f", arch, (1, 28, 28), 10, seed=0)
    torch.manual_seed(seed)
    return rule.act(x)[2]


def test_labels_act_only_through_the_scalar_reward(mnist_small):
    x, y = mnist_small["x_train"][:64], mnist_small["y_train"][:64]
    for arch in ("mlp", "cnn"):
        choice = _choices(arch, x)
        correct = choice == y
        # other labels with the same reward per example: wrong stays wrong, right stays right
        y_same = torch.where(correct, y, (choice + 1 + torch.randint(0, 9, y.shape)) % 10)
        assert not torch.equal(y_same, y) or correct.all()
        # labels that make every example correct: different rewards
        y_flip = choice.clone()
        a, b, c = _step(arch, x, y), _step(arch, x, y_same), _step(arch, x, y_flip)
        for (name, pa), pb, pc in zip(
            a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True
        ):
            assert torch.equal(pa, pb), f"{name} depends on the labels beyond the reward"
            if name.startswith("net.blocks"):
                assert torch.equal(pa, pc), f"hidden {name} depends on the reward/labels"
        assert not torch.equal(a.net.readout.weight, c.net.readout.weight), (
            "the reward has no effect"
        )
        assert all(p.grad is None for p in a.parameters()), "a gradient reached a synapse"


def test_readout_update_is_reward_times_eligibility(mnist_small):
    x = mnist_small["x_train"][:16]
    rule = build_rule("hebb3f", "mlp", (1, 28, 28), 10, seed=0)
    torch.manual_seed(1)
    h, probs, choice, _ = rule.act(x)
    w0, base = rule.net.readout.weight.clone(), float(rule.reward_baseline)
    reward = torch.rand(16)
    rule.reinforce(h, probs, choice, reward)
    elig = torch.nn.functional.one_hot(choice, 10).float() - probs  # (n, classes) post term
    expect = w0 + rule.readout_lr * torch.einsum("n,nk,nj->kj", reward - base, elig, h) / 16
    assert torch.allclose(rule.net.readout.weight, expect, atol=1e-5)


def test_hidden_blocks_learn_exactly_as_hebbian_at_its_rates(mnist_small):
    """hebb3f's hidden blocks run hebbian's SoftHebb step: same weights after the same batch, and
    the configs give both the same hidden rate and temperature on every trainset and arch."""
    from models.rule_config import load_rule_config, resolve_hparams

    x = mnist_small["x_train"][:32]
    for arch in ("mlp", "cnn"):
        a = build_rule("hebb3f", arch, (1, 28, 28), 10, seed=0)
        b = build_rule("hebbian", arch, (1, 28, 28), 10, seed=0)
        torch.manual_seed(0)
        a.train_step(x, mnist_small["y_train"][:32])
        b.train_step(x, mnist_small["y_train"][:32])
        for pa, pb in zip(a.net.blocks.parameters(), b.net.blocks.parameters(), strict=True):
            assert torch.equal(pa, pb), f"{arch}: hebb3f's hidden blocks learn unlike hebbian's"
        for trainset in ("mnist", "cifar10"):
            hp3, hp = (
                resolve_hparams(load_rule_config(r), arch, trainset) for r in ("hebb3f", "hebbian")
            )
            keys = ("lr", "temperature", "centre_inputs", "subtractive_norm")
            assert [hp3[k] for k in keys] == [hp[k] for k in keys], (
                f"{arch}/{trainset}: hebb3f's hidden rate is not hebbian's"
            )
