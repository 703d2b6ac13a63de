"""Every learning rule's credit assignment, measured through ``train_step`` itself, against its card.

Each rule (other than bp, random and simclr) has tests of its defining constraint that call
``train_step``; ``CONSTRAINT_TESTS`` names them and the card problems each one evidences. The
meta-test runs every one of them with the rule's ``train_step`` swapped for exact end-to-end
backprop through ``self.net`` with the rule's own optimiser(s) (``scaffold.backprop_swapped``):
each must then fail, so none of them can pass for a rule that secretly backpropagates. A second
test checks that every problem a card lists under ``addresses`` has such a test.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch
import torch.nn.functional as F

from models import arch as arch_lib
from models import registry
from models.rule_config import load_rule_config, resolve_hparams
from models.training import build_rule
from tests.rules.scaffold import (
    SHAPE,
    backprop_swapped,
    hidden_params_get_no_gradient,
    hidden_updates_ignore_labels,
    relu_mlp_gradients,
    update_ignores_layers_above,
    update_is_its_local_losses,
)
from tests.rules.scaffold import random_batch as _batch

#: Rules with no credit-assignment constraint to test: backprop itself, the untrained control,
#: and SimCLR (end-to-end backprop of a label-free loss by design).
EXEMPT = {"bp", "random", "simclr"}
SMALL = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [12, 16], "hidden": 32}}


def _maker(rule_id, arch="mlp", small=True, **hp):
    """The rule as its config sets it for ``arch`` on MNIST (``hp`` on top), on a small net."""
    params = SMALL[arch] if small else None
    hp = {**resolve_hparams(load_rule_config(rule_id), arch, "mnist"), **hp}
    return lambda: build_rule(rule_id, arch, SHAPE, 10, arch_params=params, hparams=hp, seed=0)


def _real(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


# --- feedback rules: the hidden gradient train_step applies is the one through their feedback ---


def _feedback_step_check(rule_id: str, hp: dict, expected_step, max_cos: float) -> None:
    """Default config: the gradient each hidden layer hands its optimiser is the one through the
    rule's feedback (written out here), not through W^T. With ``hp`` (a plain-SGD-like optimiser),
    the weight change of one ``train_step`` is ``expected_step(feedback gradient)`` and is not
    ``expected_step(backprop gradient)`` (the two gradients' cosine stays below ``max_cos``)."""
    x, y = _batch(32)
    for options in ({}, hp):
        rule = _maker(rule_id, small=False, **options)()
        n = len(rule.ops)
        own = relu_mlp_gradients(rule.net, x, y, [rule.feedback(i) for i in range(n)])
        bp = relu_mlp_gradients(rule.net, x, y, [op.weight.detach() for op in rule.ops])
        before = [op.weight.detach().clone() for op in rule.ops]
        rule.train_step(x, y)
        for i, op in enumerate(rule.ops[:-1]):
            assert F.cosine_similarity(own[i].flatten(), bp[i].flatten(), 0) < max_cos
            if not options:
                assert torch.allclose(op.weight.grad, own[i], rtol=1e-4, atol=1e-7), (
                    f"{rule_id}: W_{i + 1}'s gradient is not the one through its feedback"
                )
                continue
            step = op.weight.detach() - before[i]
            assert torch.allclose(step, expected_step(own[i]), rtol=1e-4, atol=1e-7), (
                f"{rule_id}: W_{i + 1}'s step is not the one through its feedback"
            )
            assert not torch.allclose(step, expected_step(bp[i]), rtol=1e-2, atol=1e-6)


def test_fa_train_step_sends_errors_through_fixed_feedback():
    """FA: errors reach fc1/fc2 through the fixed random B (SGD step -lr * gradient)."""
    hp = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0}
    _feedback_step_check("fa", hp, lambda g: -0.1 * g, max_cos=0.5)


def test_sign_sym_train_step_sends_errors_through_sign_feedback():
    """Sign symmetry: errors reach fc1/fc2 through sign(W)|R| (Batch Manhattan: -lr * sign);
    sign-concordant feedback partly aligns with backprop (cosine ~0.6 at init), not fully."""
    hp = {"optimizer": "manhattan", "lr": 0.01}
    _feedback_step_check("sign_sym", hp, lambda g: -0.01 * torch.sign(g), max_cos=0.9)


# --- equilibrium propagation: the two-phase contrast, not BPTT ---------------------------------


def _tiny_ep(beta: float):
    torch.manual_seed(0)
    net = arch_lib.mlp((1, 4, 4), 5, hidden=(12, 10), activation="sigmoid").double()
    for p in net.parameters():  # strong enough that feedback shapes the equilibrium
        p.data.mul_(2.0)
    rule = registry.create("eqprop", net, beta=beta, t_free=20, t_nudge=20, t_eval=20)
    rule.optimizer = torch.optim.SGD(net.parameters(), lr=1.0)  # step = -gradient applied
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    return rule, x, torch.tensor([0, 1, 2, 3, 4, 0])


def _ep_step(rule, x, y):
    """The applied update of fc1, fc2 after one ``train_step``, and EP's prediction of it: the
    difference of each synapse's pre x post correlation between the +beta and -beta phases,
    divided by 2 beta (Scellier & Bengio 2017; symmetric nudging, Laborieux et al. 2021)."""
    with torch.no_grad():
        free = rule.free_phase(x)
        plus = rule.nudged_phase(x, y, free, rule.beta)
        minus = rule.nudged_phase(x, y, free, -rule.beta)
    pre_p, pre_m = [x.flatten(1), plus[0]], [x.flatten(1), minus[0]]
    n, b = len(x), rule.beta
    predicted = [
        -(plus[k].t() @ pre_p[k] - minus[k].t() @ pre_m[k]) / (2 * b * n) for k in range(2)
    ]
    before = [blk.op.weight.detach().clone() for blk in rule.net.blocks]
    torch.manual_seed(0)
    rule.train_step(x, y)
    applied = [w0 - blk.op.weight.detach() for w0, blk in zip(before, rule.net.blocks, strict=True)]
    return applied, predicted


def check_eqprop_update_is_the_two_phase_contrast() -> None:
    """fc1/fc2's update is EP's phase contrast, and it changes with beta as that finite difference
    does (BPTT's gradient has no beta)."""
    steps = {}
    for beta in (0.05, 1.0):
        rule, x, y = _tiny_ep(beta)
        applied, predicted = _ep_step(rule, x, y)
        for k, (a, p) in enumerate(zip(applied, predicted, strict=True)):
            assert torch.allclose(a, p, rtol=1e-6, atol=1e-10), f"beta={beta}: W_{k + 1}"
        steps[beta] = applied
    rel = (steps[1.0][0] - steps[0.05][0]).norm() / steps[0.05][0].norm()
    assert rel > 1e-3, f"the update does not depend on beta (relative change {float(rel):.1e})"


def test_eqprop_update_is_the_two_phase_contrast():
    check_eqprop_update_is_the_two_phase_contrast()


def test_eqprop_constraint_fails_on_bptt_through_the_relaxation(monkeypatch):
    """A rule that applied the BPTT gradient through its own free-phase relaxation fails it."""
    from tests.rules.test_eqprop import _bptt_energy

    def bptt_step(self, x, y):
        grads = _bptt_energy(self, x, y, steps=self.t_free)
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.net.parameters(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        return {"loss": 0.0}

    monkeypatch.setattr(registry.get("eqprop"), "train_step", bptt_step)
    with pytest.raises(AssertionError):
        check_eqprop_update_is_the_two_phase_contrast()


# --- rules whose hidden updates get no autograd gradient --------------------------------------

_UNSUPERVISED_HIDDEN = ["hebbian", "hebb3f", "rstdp"]


def _hidden_rule(rule_id, arch):
    hp = {"time_steps": 4} if rule_id == "rstdp" else {}
    return _maker(rule_id, arch, small=arch == "cnn", **hp)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", _UNSUPERVISED_HIDDEN)
def test_hidden_blocks_get_no_gradient(rule_id, arch, mnist_small):
    hidden_params_get_no_gradient(_hidden_rule(rule_id, arch)(), *_real(mnist_small, 64))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", _UNSUPERVISED_HIDDEN)
def test_hidden_update_ignores_layers_above(rule_id, arch, mnist_small):
    """Block 1's update is local: re-drawing every weight above it leaves it unchanged."""
    update_ignores_layers_above(_hidden_rule(rule_id, arch), 0, *_real(mnist_small, 64))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", _UNSUPERVISED_HIDDEN)
def test_hidden_updates_ignore_labels(rule_id, arch, mnist_small):
    hidden_updates_ignore_labels(_hidden_rule(rule_id, arch), *_real(mnist_small, 64))


# --- block-local rules: train_step applies exactly the blocks' own local losses ----------------


@pytest.mark.parametrize("rule_id", ["ff", "rff", "pff", "sigprop", "hsic", "local_signal"])
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_update_is_the_local_losses(rule_id, arch, mnist_small):
    update_is_its_local_losses(_maker(rule_id, arch), *_real(mnist_small, 16))


@pytest.mark.parametrize("rule_id", ["ff", "sigprop"])
def test_block_update_ignores_layers_above(rule_id, mnist_small):
    update_ignores_layers_above(_maker(rule_id), 0, *_real(mnist_small, 32))


# --- the table and the meta-tests --------------------------------------------------------------

_ALL_LOCAL = (
    "weight transport",
    "global feedback pathway",
    "update locking",
    "non-local updates",
    "two-phase training",
    "derivative transport",
    "signed error transmission",
)
_HERE = "test_credit_assignment"
_GFP, _UL, _NL = "global feedback pathway", "update locking", "non-local updates"
_WT, _DT, _LAB = "weight transport", "derivative transport", "labels at every layer"
_NO_BACKWARD = (_WT, _GFP, "two-phase training", _DT, "signed error transmission")
_MLP, _CNN = {"arch": "mlp"}, {"arch": "cnn"}

#: rule -> [(test module, test function, arguments, card problems the test evidences)]
CONSTRAINT_TESTS: dict[str, list[tuple[str, str, dict, tuple[str, ...]]]] = {
    "blockwise_ssl": [
        ("test_blockwise_ssl", "test_blocks_never_see_labels", _MLP, (_LAB,)),
        (
            "test_blockwise_ssl",
            "test_block_inputs_are_detached_and_updates_local",
            _MLP,
            (_GFP, _UL, _NL),
        ),
    ],
    "chl": [
        (
            "test_chl",
            "test_update_is_the_difference_of_local_correlations",
            {},
            (_GFP, _NL, _DT, "signed error transmission"),
        ),
    ],
    "dfa": [
        ("test_dfa", "test_hidden_update_is_the_dfa_formula", {}, (_WT, _GFP, _NL)),
        ("test_dfa", "test_no_gradient_crosses_a_block_boundary", {}, (_GFP, _UL)),
        ("test_dfa", "test_hidden_update_ignores_downstream_weights", {}, (_WT, _UL)),
    ],
    "dni": [
        ("test_dni", "test_blocks_receive_detached_inputs", _MLP, (_GFP, _UL)),
        ("test_dni", "test_block_update_does_not_depend_on_layers_above", _MLP, (_UL, _NL)),
        ("test_dni", "test_block_update_is_the_synthetic_gradient_step", {}, (_NL,)),
    ],
    "dtp": [
        ("test_dtp", "test_dtp_grads_are_block_local_with_difference_targets", _MLP, (_NL, _DT)),
        ("test_dtp", "test_dtp_lower_updates_are_not_backprop", {}, (_DT,)),
    ],
    "eqprop": [(_HERE, "test_eqprop_update_is_the_two_phase_contrast", {}, (_GFP, _NL, _DT))],
    "fa": [(_HERE, "test_fa_train_step_sends_errors_through_fixed_feedback", {}, (_WT,))],
    "ff": [
        (_HERE, "test_update_is_the_local_losses", {"rule_id": "ff", **_MLP}, _ALL_LOCAL),
        (_HERE, "test_block_update_ignores_layers_above", {"rule_id": "ff"}, (_UL, _NL)),
    ],
    "gim": [
        ("test_gim", "test_blocks_never_see_labels", _MLP, (_LAB,)),
        ("test_gim", "test_block_inputs_are_detached_and_updates_local", _MLP, (_GFP, _UL, _NL)),
    ],
    "hebb3f": [
        (
            "test_hebb3f",
            "test_labels_act_only_through_the_scalar_reward",
            {},
            (*_NO_BACKWARD, _LAB),
        ),
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "hebb3f", **_MLP}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "hebb3f", **_MLP}, (_NL,)),
        # the CNN as configured (subtractive normalisation): also local, label-free, gradient-free
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "hebb3f", **_CNN}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "hebb3f", **_CNN}, (_NL,)),
        (_HERE, "test_hidden_updates_ignore_labels", {"rule_id": "hebb3f", **_CNN}, (_LAB,)),
    ],
    "hebbian": [
        (
            "test_hebbian",
            "test_hidden_updates_ignore_labels_and_receive_no_gradient",
            {},
            (*_NO_BACKWARD, _LAB),
        ),
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "hebbian", **_MLP}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "hebbian", **_MLP}, (_NL,)),
        # the CNN as configured (subtractive normalisation): also local, label-free, gradient-free
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "hebbian", **_CNN}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "hebbian", **_CNN}, (_NL,)),
        (_HERE, "test_hidden_updates_ignore_labels", {"rule_id": "hebbian", **_CNN}, (_LAB,)),
    ],
    "hsic": [
        (_HERE, "test_update_is_the_local_losses", {"rule_id": "hsic", **_MLP}, (_WT, _GFP, _NL)),
        ("test_hsic", "test_block_update_does_not_depend_on_layers_above", _MLP, (_GFP, _UL, _NL)),
    ],
    "local_loss": [
        ("test_local_loss", "test_no_gradient_crosses_a_block_boundary", _MLP, (_GFP, _UL)),
        ("test_local_loss", "test_block_update_does_not_depend_on_layers_above", _MLP, (_UL, _NL)),
    ],
    "local_signal": [
        (
            _HERE,
            "test_update_is_the_local_losses",
            {"rule_id": "local_signal", **_MLP},
            (_GFP, _NL),
        ),
        ("test_local_signal", "test_detached_inputs_and_fixed_classifiers", _MLP, (_GFP, _UL)),
        (
            "test_local_signal",
            "test_block_update_does_not_depend_on_layers_above",
            _MLP,
            (_UL, _NL),
        ),
    ],
    "lra": [
        ("test_lra", "test_lra_grads_are_local_and_follow_feedback_targets", _MLP, (_WT, _NL, _DT)),
    ],
    "ngc": [
        ("test_ngc", "test_ngc_updates_are_local", _MLP, (_NL, _GFP, _UL)),
        ("test_ngc", "test_ngc_labels_reach_only_the_readout", {}, (_LAB,)),
    ],
    "np": [
        (
            "test_perturbation",
            "test_never_calls_backward",
            {"rule_id": "np"},
            (*_NO_BACKWARD, _LAB),
        ),
    ],
    "pc": [("test_pc", "test_pc_updates_are_error_times_presynaptic_rate", _MLP, (_NL, _GFP, _UL))],
    "pff": [(_HERE, "test_update_is_the_local_losses", {"rule_id": "pff", **_MLP}, _ALL_LOCAL)],
    "recirc": [
        (
            "test_recirc",
            "test_training_step_follows_the_update",
            _MLP,
            (_GFP, _NL, _DT, "signed error transmission"),
        ),
    ],
    "rff": [(_HERE, "test_update_is_the_local_losses", {"rule_id": "rff", **_MLP}, _ALL_LOCAL)],
    "rstdp": [
        ("test_rstdp", "test_hidden_stdp_ignores_labels_and_gradients", {}, (*_NO_BACKWARD, _LAB)),
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "rstdp", **_MLP}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "rstdp", **_MLP}, (_NL,)),
        # the spiking conv net too: conv STDP is unsupervised, local and gradient-free
        (_HERE, "test_hidden_blocks_get_no_gradient", {"rule_id": "rstdp", **_CNN}, _NO_BACKWARD),
        (_HERE, "test_hidden_update_ignores_layers_above", {"rule_id": "rstdp", **_CNN}, (_NL,)),
        (_HERE, "test_hidden_updates_ignore_labels", {"rule_id": "rstdp", **_CNN}, (_LAB,)),
    ],
    "sign_sym": [
        (_HERE, "test_sign_sym_train_step_sends_errors_through_sign_feedback", {}, (_WT,)),
    ],
    "sigprop": [
        (_HERE, "test_update_is_the_local_losses", {"rule_id": "sigprop", **_MLP}, _ALL_LOCAL),
        (_HERE, "test_update_is_the_local_losses", {"rule_id": "sigprop", **_CNN}, _ALL_LOCAL),
        (
            "test_sigprop",
            "test_targets_take_the_input_path_and_lower_updates_ignore_upper_blocks",
            _MLP,
            (_UL, _NL),
        ),
    ],
    "wp": [
        (
            "test_perturbation",
            "test_never_calls_backward",
            {"rule_id": "wp"},
            (*_NO_BACKWARD, _LAB),
        ),
    ],
}


def _cases():
    return [
        pytest.param(
            rule_id, mod, fn, kwargs, id=f"{rule_id}-{fn}-{'-'.join(map(str, kwargs.values()))}"
        )
        for rule_id, tests in sorted(CONSTRAINT_TESTS.items())
        for mod, fn, kwargs, _ in tests
    ]


def _resolve(mod, fn):
    return getattr(importlib.import_module(f"tests.rules.{mod}"), fn)


@pytest.mark.parametrize(("rule_id", "mod", "fn", "kwargs"), _cases())
def test_constraint_test_fails_on_the_backprop_swapped_rule(
    rule_id, mod, fn, kwargs, request, monkeypatch
):
    test = _resolve(mod, fn)
    names = inspect.signature(test).parameters
    args = dict(kwargs)
    if "mnist_small" in names:
        args["mnist_small"] = request.getfixturevalue("mnist_small")
    if "monkeypatch" in names:
        args["monkeypatch"] = monkeypatch
    with backprop_swapped(), pytest.raises(AssertionError):
        test(**args)


@pytest.mark.parametrize("rule_id", [r for r in registry.available() if r not in EXEMPT])
def test_every_claim_on_the_card_has_a_constraint_test(rule_id):
    card = registry.get(rule_id).card
    tests = CONSTRAINT_TESTS.get(rule_id, [])
    for mod, fn, _, _ in tests:
        _resolve(mod, fn)  # the named test exists
    covered = {p for *_, problems in tests for p in problems}
    assert covered <= set(card.addresses), f"{rule_id}: tests for claims not on the card"
    missing = set(card.addresses) - covered
    assert not missing, f"{rule_id}: card claims {sorted(missing)} have no train_step test"


def test_the_swap_is_backprop_and_is_undone():
    """Under the swap a rule's step is the backprop gradient; afterwards its own step is back."""
    x, y = _batch(16)
    rule = _maker("fa", small=False)()
    own = type(rule).train_step
    inherited = registry.get("local_loss")  # its train_step is LocalLossesStep's
    assert "train_step" not in vars(inherited)
    bp = relu_mlp_gradients(rule.net, x, y, [op.weight.detach() for op in rule.ops])
    with backprop_swapped():
        rule.train_step(x, y)
    for op, g in zip(rule.ops, bp, strict=True):
        assert torch.allclose(op.weight.grad, g, rtol=1e-4, atol=1e-7)
    assert type(rule).train_step is own
    assert "train_step" not in vars(inherited)


def test_the_swap_steps_weights_no_optimiser_holds():
    """A rule that updates its hidden weights by hand (rstdp: no optimiser at all; hebbian: Adam on
    the readout only) gets them stepped too, by an optimiser of the rule's kind and rate."""
    x, y = _batch(16)
    for rule_id in ("rstdp", "hebbian"):
        rule = _maker(rule_id)()
        before = [p.detach().clone() for p in rule.net.parameters()]
        with backprop_swapped():
            rule.train_step(x, y)
        after = list(rule.net.parameters())
        moved = [not torch.equal(p.detach(), q) for p, q in zip(after, before, strict=True)]
        assert all(moved), f"{rule_id}: the swap left parameters unstepped"
