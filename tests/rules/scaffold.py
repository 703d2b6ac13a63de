"""Shared scaffolding of the rule tests: seeded random batches, a guard on block inputs, and the
backprop swap (``backprop_swapped``) that every constraint test must fail under."""

from __future__ import annotations

import contextlib

import torch

SHAPE = (1, 28, 28)


def random_batch(n: int = 16, seed: int = 0, shape: tuple[int, ...] = SHAPE):
    """``n`` standard-normal images of ``shape`` and random labels of 10 classes, from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g)


def guard_block_inputs(net) -> tuple[list[bool], list]:
    """Record, for every block or readout call made with autograd on, whether its input is free of
    another graph (True) or still attached to one (False); returns the record and the hook handles."""
    calls: list[bool] = []

    def hook(mod, args):
        if torch.is_grad_enabled():
            calls.append(args[0].grad_fn is None)

    return calls, [m.register_forward_pre_hook(hook) for m in [*net.blocks, net.readout]]


def step_with_block_guard(
    rule, x: torch.Tensor, y: torch.Tensor, n_calls: int | None = None
) -> None:
    """One ``train_step`` in which every block and the readout must run on a graph-free input
    (and, given ``n_calls``, exactly that many block/readout calls are made with autograd on)."""
    calls, handles = guard_block_inputs(rule.net)
    try:
        rule.train_step(x, y)
    finally:
        for h in handles:
            h.remove()
    assert calls and all(calls), "a block ran on an input still attached to another block's graph"
    if n_calls is not None:
        assert len(calls) == n_calls, f"{len(calls)} block/readout calls, expected {n_calls}"


# --- the backprop swap: a broken rule every constraint test must catch -----------------------------


def rule_optimisers(rule) -> list[torch.optim.Optimizer]:
    """The optimisers a rule holds as attributes (directly or in a list/tuple/dict attribute)."""
    found: list[torch.optim.Optimizer] = []
    for value in vars(rule).values():
        if isinstance(value, dict):
            value = list(value.values())
        items = value if isinstance(value, list | tuple) else [value]
        found += [o for o in items if isinstance(o, torch.optim.Optimizer)]
    return found


def _backprop_optimisers(rule) -> list[torch.optim.Optimizer]:
    """The rule's own optimisers, plus (made once, kept on the instance) one of the same kind and
    learning rate over the net's parameters none of them holds (e.g. Hebbian hidden weights, which
    a rule updates by hand); a rule with no optimiser gets SGD at its ``lr`` (0.01 if it has none)."""
    cached = rule.__dict__.get("_backprop_swap_optimisers")
    if cached is not None:
        return cached
    opts = rule_optimisers(rule)
    held = {id(p) for o in opts for g in o.param_groups for p in g["params"]}
    missing = [p for p in rule.net.parameters() if id(p) not in held]
    if missing:
        if opts:
            kind, lr = type(opts[0]), opts[0].param_groups[0]["lr"]
        else:
            kind, lr = torch.optim.SGD, float(getattr(rule, "lr", 0.01))
        opts = [*opts, kind(missing, lr=lr)]
    rule.__dict__["_backprop_swap_optimisers"] = opts
    return opts


def backprop_train_step(rule, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Exact end-to-end backprop of the cross-entropy of ``rule.net(x)``, stepped by the rule's own
    optimiser(s): what a rule's ``train_step`` would be if its credit assignment were secretly
    replaced by backprop."""
    opts = _backprop_optimisers(rule)
    for o in opts:
        o.zero_grad(set_to_none=True)
    rule.net.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for p in rule.net.parameters():
            p.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(rule.net(x), y)
        loss.backward()
    for o in opts:
        o.step()
    return {"loss": float(loss.detach())}


@contextlib.contextmanager
def backprop_swapped():
    """Within the block, every registered rule's ``train_step`` is ``backprop_train_step``."""
    from models import registry

    classes = [registry.get(r) for r in registry.available()]
    saved = [(cls, cls.__dict__.get("train_step")) for cls in classes]
    try:
        for cls in classes:
            cls.train_step = backprop_train_step
        yield
    finally:
        for cls, own in saved:
            if own is None:
                del cls.train_step
            else:
                cls.train_step = own


# --- constraint checks measured through train_step ---------------------------------------------


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def update_ignores_layers_above(make_rule, k: int, x: torch.Tensor, y: torch.Tensor) -> None:
    """One seeded ``train_step`` moves block ``k`` exactly as much whether or not every network
    weight above it (blocks ``k+1..``, the readout) is first re-drawn: no signal from the layers
    above reaches its update (under backprop, their weights shape its gradient)."""
    a, b = make_rule(), make_rule()
    before = [p.detach().clone() for p in a.net.blocks[k].parameters()]
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for module in [*b.net.blocks[k + 1 :], b.net.readout]:
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * (p.std() if p.numel() > 1 else 0.1))
    for rule in (a, b):
        torch.manual_seed(7)
        rule.train_step(x, y)
    pa, pb = list(a.net.blocks[k].parameters()), list(b.net.blocks[k].parameters())
    assert any(not torch.equal(p.detach(), q) for p, q in zip(pa, before, strict=True)), (
        f"block {k} did not learn in one step"
    )
    for p, q in zip(pa, pb, strict=True):
        assert _close(p.detach(), q.detach()), f"block {k}'s update depends on the layers above"


def update_is_its_local_losses(make_rule, x: torch.Tensor, y: torch.Tensor) -> None:
    """The gradient every parameter holds after one seeded ``train_step`` is that of the rule's own
    ``local_losses`` (each a block's, computed on a twin), not the end-to-end gradient."""
    rule, twin = make_rule(), make_rule()
    torch.manual_seed(7)
    losses = twin.local_losses(x, y)
    losses = list(losses.values()) if isinstance(losses, dict) else list(losses)
    named = [(n, p) for n, p in twin.named_parameters() if p.requires_grad]
    expected = torch.autograd.grad(sum(losses), [p for _, p in named], allow_unused=True)
    torch.manual_seed(7)
    rule.train_step(x, y)
    got = dict(rule.named_parameters())
    for (name, _), e in zip(named, expected, strict=True):
        g = got[name].grad
        if e is None or not e.any():
            assert g is None or not g.any(), f"{name} got a gradient its local loss does not give"
        else:
            assert g is not None and _close(g, e), f"{name}'s gradient is not its local loss's"


def relu_mlp_gradients(net, x: torch.Tensor, y: torch.Tensor, feedback) -> list[torch.Tensor]:
    """Weight gradients of the mean cross-entropy of a ReLU MLP, written out layer by layer, when
    the error at op ``i``'s output is sent to the layer below through ``feedback[i]`` (an
    (out, in) matrix per op: blocks then readout). ``feedback[i] = W_i`` is backprop."""
    with torch.no_grad():
        hs, pre = [x.flatten(1)], []  # (n, 784): the first block's input
        for block in net.blocks:
            pre.append(block.op(hs[-1]))
            hs.append(block.act(pre[-1]))
        logits = net.readout(hs[-1])
        delta = (torch.softmax(logits, 1) - torch.nn.functional.one_hot(y, logits.shape[1])) / len(
            y
        )
        grads = [delta.t() @ hs[-1]]  # readout: (classes, n) @ (n, d)
        for i in range(len(net.blocks) - 1, -1, -1):
            delta = (delta @ feedback[i + 1]) * (pre[i] > 0)
            grads.insert(0, delta.t() @ hs[i])
    return grads


def hidden_params_get_no_gradient(rule, x: torch.Tensor, y: torch.Tensor) -> None:
    """During one ``train_step`` autograd computes no gradient for any hidden block's parameter
    (none is left in ``.grad`` and no gradient hook fires)."""
    seen: list[str] = []
    hooks = [
        p.register_hook(lambda g, name=name: seen.append(name))
        for name, p in rule.net.blocks.named_parameters()
        if p.requires_grad
    ]
    try:
        rule.train_step(x, y)
    finally:
        for h in hooks:
            h.remove()
    seen += [n for n, p in rule.net.blocks.named_parameters() if p.grad is not None]
    assert not seen, f"autograd computed a gradient for hidden parameters {sorted(set(seen))}"


def hidden_updates_ignore_labels(make_rule, x: torch.Tensor, y: torch.Tensor) -> None:
    """One seeded ``train_step`` leaves every hidden block the same with every label changed
    (and moves at least one): no label, error or reward reaches a hidden synapse."""
    a, b = make_rule(), make_rule()
    before = [p.detach().clone() for p in a.net.blocks.parameters()]
    other = (y + 1 + torch.randint(0, 9, y.shape, generator=torch.Generator().manual_seed(0))) % 10
    for rule, labels in ((a, y), (b, other)):
        torch.manual_seed(7)
        rule.train_step(x, labels)
    pa, pb = list(a.net.blocks.parameters()), list(b.net.blocks.parameters())
    assert any(not torch.equal(p.detach(), q) for p, q in zip(pa, before, strict=True)), (
        "no hidden block learned in one step"
    )
    for p, q in zip(pa, pb, strict=True):
        assert _close(p.detach(), q.detach()), "a hidden update depends on the labels"
