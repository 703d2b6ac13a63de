"""blockwise_ssl obeys its card (and the shared SSL machinery works): label-free blocks, detached
block inputs, block updates independent of the layers above, losses equal their formulas."""

import pytest
import torch
import torch.nn.functional as F

from models.rules.self_supervised._augment import augment, random_crop
from models.rules.self_supervised._ssl import barlow_twins, info_nce, vicreg
from models.training import build_rule
from tests.rules.test_local_loss import _update_of_block_after_perturbing_above

SHAPE = (1, 28, 28)


def _batch(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


def blocks_never_see_labels(rule_id, arch, mnist_small):
    """One step with permuted labels: blocks and projectors identical, readout different."""
    x, y = _batch(mnist_small)
    a = build_rule(rule_id, arch, SHAPE, 10, seed=0)
    b = build_rule(rule_id, arch, SHAPE, 10, seed=0)
    torch.manual_seed(5)
    a.train_step(x, y)
    torch.manual_seed(5)
    b.train_step(x, y.roll(1))
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        if name.startswith("net.readout"):
            assert not torch.equal(pa, pb), f"{name}: the readout should use the labels"
        else:
            assert torch.equal(pa, pb), f"{name} depends on the labels"


def block_inputs_are_detached(rule_id, arch, mnist_small):
    rule = build_rule(rule_id, arch, SHAPE, 10, seed=0)
    seen = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, a: seen.append(a[0].grad_fn is None))
        for m in rule.net.blocks
    ]
    rule.ssl_losses(_batch(mnist_small)[0])
    for h in hooks:
        h.remove()
    assert len(seen) == 2 * len(rule.net.blocks) and all(seen)  # two views


def block_updates_are_local(rule_id, arch, mnist_small):
    """Block k's update is unchanged when everything above k is re-randomised (cnn: k = 0 only,
    for time; it covers every block above the first)."""
    x, y = _batch(mnist_small)
    n_blocks = len(build_rule(rule_id, arch, SHAPE, 10).net.blocks)
    for k in range(n_blocks - 1 if arch == "mlp" else 1):
        pa, pb = _update_of_block_after_perturbing_above(rule_id, arch, k, x, y)
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"{name} depends on the layers above"


def ssl_loss_falls(rule_id, mnist_small, n_steps=12):
    """The representation really trains: the (fixed-view) SSL losses drop."""
    x = mnist_small["x_train"][: 64 * n_steps]
    y = mnist_small["y_train"][: 64 * n_steps]
    rule = build_rule(rule_id, "mlp", SHAPE, 10, seed=0)

    def total():
        torch.manual_seed(0)
        with torch.no_grad():
            return [float(v) for v in rule.ssl_losses(x[:128])]

    before = total()
    for i in range(n_steps):
        rule.train_step(x[64 * i : 64 * (i + 1)], y[64 * i : 64 * (i + 1)])
    after = total()
    assert all(a < b for a, b in zip(after, before, strict=True)), (before, after)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_blocks_never_see_labels(arch, mnist_small):
    blocks_never_see_labels("blockwise_ssl", arch, mnist_small)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_inputs_are_detached_and_updates_local(arch, mnist_small):
    block_inputs_are_detached("blockwise_ssl", arch, mnist_small)
    block_updates_are_local("blockwise_ssl", arch, mnist_small)


@pytest.mark.parametrize("loss", ["barlow", "vicreg"])
def test_ssl_loss_falls(loss, mnist_small):
    if loss == "barlow":
        ssl_loss_falls("blockwise_ssl", mnist_small)
    else:
        rule = build_rule("blockwise_ssl", "mlp", SHAPE, 10, hparams={"loss": "vicreg"})
        x = mnist_small["x_train"][:64]
        torch.manual_seed(0)
        assert torch.isfinite(torch.stack(rule.ssl_losses(x))).all()


def test_view_losses_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    # InfoNCE: plain loop over the 2n anchors
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    tot = 0.0
    for i in range(12):
        logits = torch.stack([z[i] @ z[j] / 0.5 for j in range(12) if j != i])
        pos = (i + 6) % 12
        tot += -(logits[pos - (pos > i)] - torch.logsumexp(logits, 0))
    assert info_nce(z1, z2, 0.5) == pytest.approx(float(tot / 12), abs=1e-5)
    # Barlow Twins: 0 for identical, decorrelated (orthogonal, centred) embeddings
    q = torch.linalg.qr(torch.randn(8, 8, generator=g))[0][:, :3] * (8**0.5)
    q = q - q.mean(0)
    assert barlow_twins(q, q, 0.01) < 0.2 < barlow_twins(q, torch.randn(8, 3, generator=g), 0.01)
    # VICReg: the invariance term vanishes for identical views
    assert vicreg(z1, z1, sim_w=1, var_w=0, cov_w=0) == 0


def test_augmentations_are_shifts_and_flip_only_colour():
    x = torch.randn(16, 1, 8, 8)
    torch.manual_seed(0)
    v = random_crop(x, 2)
    assert v.shape == x.shape
    # each view is the image shifted by (oy, ox) in [-2, 2]^2: its centre is a window of x
    shifts = [(oy, ox) for oy in range(-2, 3) for ox in range(-2, 3)]
    assert all(
        any(
            torch.equal(v[i, :, 2:6, 2:6], x[i, :, 2 + oy : 6 + oy, 2 + ox : 6 + ox])
            for oy, ox in shifts
        )
        for i in range(16)
    )
    assert not torch.equal(v, x)
    kw = dict(crop_pad=0, brightness=0.0, noise_std=0.0)
    rule = build_rule("blockwise_ssl", "mlp", SHAPE, 10)
    torch.manual_seed(0)
    a, b = rule.views(x)
    assert torch.equal(augment(x, flip=False, **kw), x)
    assert not torch.equal(a, b)
    x3 = torch.randn(64, 3, 8, 8)
    torch.manual_seed(0)
    flipped = augment(x3, flip=True, **kw)
    n_flip = sum(torch.equal(f, o.flip(2)) for f, o in zip(flipped, x3, strict=True))
    assert 10 < n_flip < 54


def test_bad_hyperparameters_are_rejected():
    for hp in (
        {"loss": "byol"},
        {"lambd": 0},
        {"crop_pad": -1},
        {"flip": "maybe"},
        {"proj_dim": 0},
    ):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("blockwise_ssl", "mlp", SHAPE, 10, hparams=hp)
