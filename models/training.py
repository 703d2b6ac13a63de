"""The one training loop every rule shares: minibatches, evaluation, curves, resumable state."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from models import arch as arch_lib
from models import registry
from models.rules.base import Rule

log = logging.getLogger("bioalign.train")
#: Training images on which the per-epoch training accuracy is measured (a cheap, fixed subset).
N_TRAIN_EVAL = 2000
#: Learning-rate schedules over epochs: ``constant``, or ``cosine`` (1 at the first epoch, ~0 at the last).
LR_SCHEDULES = ("constant", "cosine")


def evaluation_only() -> None:
    """Declare that this process neither compiles nor steps an optimiser (extraction): building a
    rule's optimisers then skips importing ``torch._dynamo`` (2-3 s of start-up), which torch does
    only to mark ``Optimizer.add_param_group`` as never compiled (``torch._compile``). Where
    torch's internals differ this does nothing and the import happens as before; stepping an
    optimiser imports it regardless."""
    fn = getattr(torch.optim.Optimizer.add_param_group, "__wrapped__", None)
    if fn is not None and "torch._dynamo" not in sys.modules:
        setattr(fn, "__dynamo_disable", fn)  # the cache torch's wrapper fills on first call


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (weight init) and return a generator for data order."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)


def build_rule(
    rule_id: str,
    arch: str,
    in_shape,
    n_classes: int,
    *,
    arch_params: dict | None = None,
    hparams: dict | None = None,
    seed: int = 0,
) -> Rule:
    """Seeded network of ``arch`` wrapped in the learning rule ``rule_id``."""
    seed_everything(seed)
    net = arch_lib.build(arch, in_shape, n_classes, **(arch_params or {}))
    return registry.create(rule_id, net, **(hparams or {}))


@torch.no_grad()
def accuracy(rule: Rule, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` whose argmax prediction equals ``y``."""
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int(
            (rule.predict(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()
        )
    return correct / max(len(x), 1)


@dataclass
class Snapshot:
    """The network after ``examples_seen`` training examples, and its test accuracy then."""

    examples_seen: int
    test_accuracy: float
    state: dict[str, torch.Tensor]


@dataclass
class TrainResult:
    """What training produced: per-epoch curves, final test accuracy, wall time, snapshots."""

    test_accuracy: float
    curves: dict[str, list[float]] = field(default_factory=dict)
    wall_time_s: float = 0.0
    examples_seen: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)


def snapshot_points(fractions, examples: int) -> list[int]:
    """Example counts at which to snapshot: ``fractions`` (sorted, in [0, 1]) of ``examples``.

    Duplicates (fractions too close for the budget) are merged; the last point is always the
    budget itself. A fraction outside [0, 1] or unsorted raises ``ValueError``.
    """
    f = [float(v) for v in fractions]
    if not f or any(not 0 <= v <= 1 for v in f) or f != sorted(f):
        raise ValueError(
            f"snapshots={list(fractions)} must be increasing fractions of the training budget in "
            "[0, 1] (0 = the untrained network, 1 = the final one); a point beyond the budget "
            "cannot be reached"
        )
    points = sorted({int(round(v * examples)) for v in f} | {int(examples)})
    return points


def _take_snapshot(rule: Rule, seen: int, x_test, y_test) -> Snapshot:
    """Test accuracy and a copy of the weights, without touching the training RNG or mode."""
    was_training = rule.training
    with torch.random.fork_rng(devices=[]):
        rule.eval()
        acc = accuracy(rule, x_test, y_test)
    rule.train(was_training)
    state = {k: v.detach().cpu().clone() for k, v in rule.state_dict().items()}
    return Snapshot(int(seen), float(acc), state)


def optimizers(rule: Rule) -> dict[str, torch.optim.Optimizer]:
    """Every optimiser a rule (or one of its sub-modules) holds, by dotted attribute name."""
    found = {}
    for prefix, module in rule.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, torch.optim.Optimizer):
                found[f"{prefix}.{name}" if prefix else name] = value
    return found


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Learning-rate multiplier of ``epoch`` (1-based) of ``epochs`` under ``schedule``."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule={schedule!r} is unknown; choose one of {LR_SCHEDULES}")
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / max(epochs, 1)))


def scale_learning_rates(rule: Rule, factor: float) -> None:
    """Set every optimiser's learning rates to ``factor`` x their initial values, and the rates the
    rule applies by hand to ``factor`` x theirs (``rule.lr_scale``)."""
    for opt in optimizers(rule).values():
        for group in opt.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor
    rule.lr_scale = factor


def _rng_state(gen: torch.Generator) -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "data_order": gen.get_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["data_order"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(
    rule: Rule,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    log_every: int = 100,
    resume: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    lr_schedule: str = "constant",
    snapshots: list[int] | None = None,
) -> TrainResult:
    """Train ``rule`` for ``epochs`` passes over shuffled minibatches; evaluate after each epoch.

    ``lr_schedule`` (one of ``LR_SCHEDULES``) scales every learning rate of the rule at the start of
    each epoch (``lr_factor``): its optimisers' and those it applies by hand (``Rule.lr_scale``).

    After every epoch ``on_epoch`` receives the full training state (weights, optimisers, random
    generators, curves, snapshots); passing that state back as ``resume`` continues the run exactly
    where it stopped, with the same result as an uninterrupted run.

    ``snapshots``: example counts (sorted; see :func:`snapshot_points`) after which the weights and
    test accuracy are kept (``TrainResult.snapshots``); 0 is the untrained network. A point is taken
    after the first minibatch that reaches it, so ``examples_seen`` may exceed it by less than one
    batch. Snapshots do not change training: their evaluation runs on a forked RNG. A rule that does
    not learn (``random``) has one snapshot, at 0 examples.
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"epochs={epochs} must be >= 0 and batch_size={batch_size} >= 1")
    lr_factor(lr_schedule, 1, epochs)  # validates the schedule's name before any work
    gen = torch.Generator().manual_seed(seed)
    curves: dict[str, list[float]] = {"epoch": [], "test_accuracy": [], "train_accuracy": []}
    n_batches = (len(x_train) + batch_size - 1) // batch_size
    n_epochs = epochs if rule.learns else 0
    # a fixed random subset for training accuracy (training sets may be ordered by class)
    train_eval = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))
    train_eval = train_eval[:N_TRAIN_EVAL].to(x_train.device)
    first, elapsed, seen = 1, 0.0, 0
    points = list(snapshots or [])
    taken: list[Snapshot] = []
    if resume is not None:
        rule.load_state_dict(resume["model"])
        opts = optimizers(rule)
        for name, opt_state in resume["optimizers"].items():
            opts[name].load_state_dict(opt_state)
        _set_rng_state(resume["rng"], gen)
        curves = {k: list(v) for k, v in resume["curves"].items()}
        first, elapsed = int(resume["epoch"]) + 1, float(resume["wall_time_s"])
        seen = int(resume.get("examples_seen", 0))
        taken = [
            Snapshot(int(e), float(a), s)
            for e, a, s in zip(
                resume.get("snapshot_examples", []),
                resume.get("snapshot_accuracy", []),
                resume.get("snapshot_states", []),
                strict=True,
            )
        ]
        log.info("resuming after epoch %d of %d", first - 1, n_epochs)
    start = time.perf_counter() - elapsed
    if not rule.learns:
        points = points[:1]
    if resume is None and points and points[0] == 0:
        taken.append(_take_snapshot(rule, 0, x_test, y_test))
    next_point = sum(p <= seen for p in points)  # points already covered (on resume: all <= seen)
    for epoch in range(first, n_epochs + 1):
        if lr_schedule != "constant":
            scale_learning_rates(rule, lr_factor(lr_schedule, epoch, n_epochs))
        rule.train()
        order = torch.randperm(len(x_train), generator=gen)
        sums: dict[str, float] = {}
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            metrics = rule.train_step(x_train[idx], y_train[idx])
            seen += len(idx)
            # a point reached by an epoch's last batch is taken after ``end_epoch`` (below)
            if b < n_batches - 1 and next_point < len(points) and seen >= points[next_point]:
                taken.append(_take_snapshot(rule, seen, x_test, y_test))
                next_point = sum(p <= seen for p in points)
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if log_every and (b + 1) % log_every == 0:
                log.info(
                    "epoch %d/%d batch %d/%d %s",
                    epoch,
                    n_epochs,
                    b + 1,
                    n_batches,
                    " ".join(f"{k}={v / (b + 1):.4g}" for k, v in sums.items()),
                )
        rule.end_epoch(epoch)
        if next_point < len(points) and seen >= points[next_point]:
            taken.append(_take_snapshot(rule, seen, x_test, y_test))
            next_point = sum(p <= seen for p in points)
        rule.eval()
        curves["epoch"].append(epoch)
        curves["test_accuracy"].append(accuracy(rule, x_test, y_test))
        curves["train_accuracy"].append(accuracy(rule, x_train[train_eval], y_train[train_eval]))
        for k, v in sums.items():
            curves.setdefault(k, []).append(v / n_batches)
        log.info(
            "epoch %d/%d done: test accuracy %.4f (%.0f s)",
            epoch,
            n_epochs,
            curves["test_accuracy"][-1],
            time.perf_counter() - start,
        )
        if on_epoch is not None:
            on_epoch(
                {
                    "epoch": epoch,
                    "model": rule.state_dict(),
                    "optimizers": {k: o.state_dict() for k, o in optimizers(rule).items()},
                    "rng": _rng_state(gen),
                    "curves": curves,
                    "wall_time_s": time.perf_counter() - start,
                    "examples_seen": seen,
                    "snapshot_examples": [t.examples_seen for t in taken],
                    "snapshot_accuracy": [t.test_accuracy for t in taken],
                    "snapshot_states": [t.state for t in taken],
                }
            )
    rule.eval()
    final = (
        curves["test_accuracy"][-1] if curves["test_accuracy"] else accuracy(rule, x_test, y_test)
    )
    if points and (not taken or taken[-1].examples_seen != seen):
        taken.append(_take_snapshot(rule, seen, x_test, y_test))
    return TrainResult(final, curves, time.perf_counter() - start, seen, taken)
