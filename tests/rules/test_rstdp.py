"""The rstdp rule's card: hidden STDP sees only spike timing; the decision layer is reward-gated."""

import pytest
import torch

from models.training import build_rule


def _rule(arch="mlp"):
    return build_rule("rstdp", arch, (1, 28, 28), 10, hparams={"time_steps": 4}, seed=0)


def test_hidden_stdp_ignores_labels_and_gradients(mnist_small):
    x, y = mnist_small["x_train"][:32], mnist_small["y_train"][:32]
    a, b = _rule(), _rule()
    w0 = [blk.op.weight.clone() for blk in a.net.blocks]
    a.train_step(x, y)
    b.train_step(x, (y + 3) % 10)
    for blk_a, blk_b, w in zip(a.net.blocks, b.net.blocks, w0, strict=True):
        assert torch.equal(blk_a.op.weight, blk_b.op.weight), "hidden STDP depends on the labels"
        assert not torch.equal(blk_a.op.weight, w), "hidden STDP did nothing"
    assert all(p.grad is None for p in a.parameters())


def _random_spikes(rule, T=4, n=3):
    """Random pre (T, n, 784) and post (T, n, out) spikes for block 0, and its op."""
    op = rule.net.blocks[0].op
    return (
        op,
        (torch.rand(T, n, 784) < 0.3).float(),
        (torch.rand(T, n, op.out_features) < 0.2).float(),
    )


def _reference_stdp(op, pre, post, ltd) -> torch.Tensor:
    """dW by a loop over the first post spikes: each synapse gets fired-by-t minus ``ltd(t, i)``."""
    fired = pre.cummax(0).values
    ref = torch.zeros_like(op.weight)
    for i in range(pre.shape[1]):
        for k in range(op.out_features):
            ts = torch.nonzero(post[:, i, k]).flatten()
            if len(ts):
                t = int(ts[0])
                ref[k] += fired[t, i] - ltd(t, i)
    return ref


def test_stdp_is_a_function_of_spike_timing_only():
    rule = _rule()
    op, pre, post = _random_spikes(rule)
    dw = rule.stdp(op, pre.cummax(0).values, post, torch.ones(pre.shape[1], op.out_features))
    fired = pre.cummax(0).values  # pre fired at/before t: +1; pre fires only later: -a_minus
    ref = _reference_stdp(op, pre, post, lambda t, i: rule.a_minus * (fired[-1, i] - fired[t, i]))
    assert torch.allclose(dw, ref, atol=1e-4)


def test_covariance_stdp_depresses_each_input_by_its_running_mean(mnist_small):
    """``centre_pre``: at a winner's first spike (step t) each synapse changes by fired-by-t minus
    a_minus x the running mean of fired-by-t, so a silent input depresses; the mean is of the
    block's own input spikes (first batch: that batch's mean), never of labels."""
    rule = _rule()
    op, pre, post = _random_spikes(rule)
    mean = torch.rand(pre.shape[0], 784)
    mask = torch.ones(pre.shape[1], op.out_features)
    dw = rule.stdp(op, pre.cummax(0).values, post, mask, pre_mean=mean)
    ref = _reference_stdp(op, pre, post, lambda t, i: rule.a_minus * mean[t])
    assert torch.allclose(dw, ref, atol=1e-4)
    fired = pre.cummax(0).values
    silent = fired[-1].sum(0) == 0  # inputs that never spiked: only ever depressed
    assert (dw[:, silent] <= 0).all()
    x = mnist_small["x_train"][:32]
    rule.train_step(x, mnist_small["y_train"][:32])
    spikes = rule.encode(x).flatten(2)  # (T, n, 784): block 0's input spikes
    assert torch.allclose(rule.pre_mean0, spikes.cummax(0).values.mean(1))


def test_decision_layer_is_gated_by_a_scalar_reward(mnist_small):
    x = mnist_small["x_train"][:16]
    rule = _rule()
    sim = rule.simulate(x)
    choice = sim["score"].argmax(1)
    stdp, anti = rule.readout_eligibility(sim["feats"], choice)
    w0 = rule.net.readout.weight.clone()
    rule.reward_step(choice, stdp, anti, torch.zeros(16))  # no reward, no punishment: no change
    assert torch.equal(rule.net.readout.weight, w0)
    for sign in (1.0, -1.0):
        r = _rule()
        r.reward_step(choice, stdp, anti, torch.full((16,), sign))
        changed = (r.net.readout.weight != w0).any(1)
        assert set(torch.nonzero(changed).flatten().tolist()) <= set(choice.tolist()), (
            "non-winner changed"
        )
    reward_w = _rule()
    reward_w.reward_step(choice, stdp, anti, torch.ones(16))
    punish_w = _rule()
    punish_w.reward_step(choice, stdp, anti, -torch.ones(16))
    assert not torch.equal(reward_w.net.readout.weight, punish_w.net.readout.weight)


def test_hidden_layers_stay_fixed_after_stdp_batches(mnist_small):
    """Mozafari's protocol: hidden STDP for ``stdp_batches`` minibatches, then only the readout learns."""
    x, y = mnist_small["x_train"][:96], mnist_small["y_train"][:96]
    rule = build_rule(
        "rstdp", "mlp", (1, 28, 28), 10, hparams={"time_steps": 4, "stdp_batches": 2}, seed=0
    )
    rule.train_step(x[:32], y[:32])
    first = [b.op.weight.clone() for b in rule.net.blocks]
    rule.train_step(x[32:64], y[32:64])
    second = [b.op.weight.clone() for b in rule.net.blocks]
    thetas = [getattr(rule, f"theta{i}").clone() for i in range(len(rule.net.blocks))]
    readout = rule.net.readout.weight.clone()
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True)), (
        "STDP stopped early"
    )
    rule.train_step(x[64:], y[64:])
    for b, w, th, i in zip(rule.net.blocks, second, thetas, range(len(thetas)), strict=True):
        assert torch.equal(b.op.weight, w), "hidden weights changed after stdp_batches"
        assert torch.equal(getattr(rule, f"theta{i}"), th), (
            "hidden thresholds changed after stdp_batches"
        )
    assert not torch.equal(rule.net.readout.weight, readout), "the readout stopped learning"
    assert int(rule.n_stdp) == 2  # a buffer, so a resumed run keeps the count


def test_population_decision_layer(mnist_small):
    """With ``neurons_per_class`` k, output neuron j votes for class j // k; the decision is the class
    of the winning neuron and only winning neurons' synapses change."""
    x, y = mnist_small["x_train"][:32], mnist_small["y_train"][:32]
    rule = build_rule(
        "rstdp", "mlp", (1, 28, 28), 10, hparams={"time_steps": 4, "neurons_per_class": 3}, seed=0
    )
    assert rule.net.readout.weight.shape[0] == 30
    sim = rule.simulate(x)
    neuron = sim["neuron_score"]
    assert neuron.shape == (32, 30) and sim["score"].shape == (32, 10)
    assert torch.equal(sim["score"], neuron.view(32, 10, 3).amax(2))
    assert torch.equal(rule.predict(x).argmax(1), neuron.argmax(1) // 3)
    w0 = rule.net.readout.weight.clone()
    rule.train_step(x, y)
    changed = set(torch.nonzero((rule.net.readout.weight != w0).any(1)).flatten().tolist())
    assert changed and changed <= set(neuron.argmax(1).tolist()), "a non-winning neuron learned"


def test_mirror_anti_stdp_with_synaptic_scaling(mnist_small):
    """anti_stdp='mirror' punishes with STDP's exact opposite; readout_scaling gives every neuron
    that learned its initial weight norm back and leaves the other neurons untouched."""
    x = mnist_small["x_train"][:16]
    hp = {"time_steps": 4, "neurons_per_class": 3, "readout_lr": 0.5}
    depress = build_rule("rstdp", "mlp", (1, 28, 28), 10, hparams=hp, seed=0)
    rule = build_rule(
        "rstdp",
        "mlp",
        (1, 28, 28),
        10,
        hparams={**hp, "anti_stdp": "mirror", "readout_scaling": True},
        seed=0,
    )
    assert "wnorm_out" not in depress.state_dict(), "checkpoints of the default rule changed"
    sim = rule.simulate(x)
    choice = sim["neuron_score"].argmax(1)
    stdp, anti = rule.readout_eligibility(sim["feats"], choice)
    assert torch.equal(anti, -stdp)
    stdp_d, anti_d = depress.readout_eligibility(sim["feats"], choice)
    assert torch.equal(stdp_d, stdp) and (anti_d <= 0).all() and not torch.equal(anti_d, anti)
    w0 = rule.net.readout.weight.clone()
    norm0 = w0.norm(dim=1)
    rule.reward_step(choice, stdp, anti, -torch.ones(16))  # punishment
    w = rule.net.readout.weight
    learned = (w != w0).any(1)
    assert set(torch.nonzero(learned).flatten().tolist()) == set(choice.tolist())
    assert torch.allclose(w.norm(dim=1), norm0, rtol=1e-5), "scaling did not restore the norms"
    unscaled = build_rule(
        "rstdp", "mlp", (1, 28, 28), 10, hparams={**hp, "anti_stdp": "mirror"}, seed=0
    )
    unscaled.reward_step(choice, stdp, anti, -torch.ones(16))
    assert not torch.allclose(unscaled.net.readout.weight.norm(dim=1), norm0, rtol=1e-3)


def test_bad_decision_layer_options_are_refused():
    for bad in ({"anti_stdp": "flip"}, {"readout_scaling": "yes"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            build_rule("rstdp", "mlp", (1, 28, 28), 10, hparams=bad, seed=0)
