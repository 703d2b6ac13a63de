"""Spiking network trained with STDP (hidden layers) and reward-modulated STDP (decision layer).

The shared network's weights are the synaptic weights of a feedforward spiking net: each block is a
layer of leaky integrate-and-fire neurons (convs as spiking conv layers, max-pooling as an OR over
spikes), driven over ``time_steps`` steps by an intensity-to-latency code (brighter inputs spike
earlier and keep spiking, as in SpykeTorch). Hidden weights keep their signed init and learn by
unsupervised first-spike STDP of the winners of a lateral competition (k-WTA over units; over
channels at each position in convs): at the post's first spike, a synapse whose pre neuron has
spiked by then potentiates. With ``centre_pre`` (default) every synapse also depresses by
``a_minus`` times how often its pre neuron has spiked by then on average (a running mean), so an
input that fired earlier than usual potentiates and one that is silent or later than usual
depresses (covariance STDP; Mozafari's pairing, as in SpykeTorch, also depresses silent inputs,
but by a fixed LTD / LTP ratio). Without it, only pre spikes after the post's first spike depress
(pair-based; silent inputs do not change). The hidden update is *additive* (no soft bounds: it
does not scale with w(1 - w)); after each update synaptic scaling restores every neuron's initial weight norm, which
bounds the weights instead (Mozafari's soft-bounded [0, 1] hidden weights collapsed to one ink
detector here). Thresholds adapt homeostatically to a target firing rate. The decision (the
output neuron with most spikes) is rewarded (+) or punished (-): the winner's synapses, excitatory
in [0, 1], get STDP with soft bounds (potentiation x (1 - w), depression x w; reward) or anti-STDP
(punishment), scaled by the running miss / hit rates. Anti-STDP either only
depresses the synapses that drove the wrong decision or, as in Mozafari's rule, mirrors STDP
(``anti_stdp``); optional synaptic scaling restores each decision neuron's weight norm after learning.
Reference: Mozafari, Kheradpisheh, Masquelier, Nowzari-Dalini & Ganjtabesh (2018) "First-spike-based
visual categorization using reward-modulated STDP", IEEE TNNLS 29:6178.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.hebbian._hebb_local import outer, per_neuron, running_mean_rate


def synaptic_scaling(w: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """``w`` (out, ...) with each neuron's weights rescaled to the norm ``norm`` (out,)."""
    return per_neuron(w, norm / (w.flatten(1).norm(dim=1) + 1e-12))


@register
class RSTDP(Rule):
    card = RuleCard(
        family="implicit",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "non-local updates",
            "two-phase training",
            "derivative transport",
            "signed error transmission",
            "labels at every layer",
        ),
        reference="Mozafari et al. (2018) First-spike-based visual categorization using reward-modulated "
        "STDP, IEEE TNNLS 29:6178",
        notes="Hidden STDP is covariance STDP by default (centre_pre): the LTD term of every synapse is a_minus times its pre neuron's running mean of 'has spiked by the post's first spike', so silent inputs depress as in Mozafari's pairing; the plain pair-based form (LTD only for pre spikes after the post's) made the hidden layers less linearly decodable than their random init (MLP probe error ratio 1.39). "
        "Hidden synapses keep the signed init (STDP is additive, then synaptic scaling keeps each neuron's weight norm; Mozafari's positive [0, 1] weights collapsed to one ink detector here); readout synapses are excitatory in [0, 1], init near the target rate; biases are 0 and never plastic. "
        "LIF neurons (leak, reset to 0) with per-channel homeostatic thresholds, and a non-leaky "
        "output layer (reset by subtraction); the decision is the output with most spikes (ties: "
        "residual potential) instead of the first spike, and readout eligibility uses the fraction "
        "of steps each pre neuron spiked. Lateral inhibition acts on learning only (WTA masks), not "
        "on the forward dynamics. With stdp_batches set, hidden STDP and homeostasis stop after that "
        "many minibatches and only the decision layer keeps learning (Mozafari's layer-wise "
        "protocol; never-ending STDP drifts the features under the readout). "
        "With neurons_per_class k > 1 the decision layer holds k output neurons per class (as "
        "Mozafari's decision populations): the class of the winning neuron is the decision, only "
        "that neuron's synapses learn, and a class's score is its best neuron's. "
        "anti_stdp 'depress' (default) depresses the wrong winner's active synapses only; 'mirror' is "
        "Mozafari's anti-STDP, the exact opposite of STDP (active synapses depress, silent ones "
        "potentiate), which needs readout_scaling (each decision neuron's weight norm restored after "
        "it learns; without it one output neuron wins every trial). The pair is the CNN's setting: "
        "on CIFAR-10's spike counts it beats 'depress', on MNIST's it does not (accuracy_log.md). "
        "At the full budget's CNN STDP rate (3e-5) its hidden layers stay near their random init; "
        "the grid's 5e-4 makes fc1 learn but reads less of CIFAR-10 (28.8 vs 32.3 % after one "
        "epoch; config/rules/rstdp.yaml). "
        "Family 'implicit' for the STDP layers; the decision layer gets "
        "a global scalar reward. predict: output spike score.",
        layer_readouts={"spike_counts": "every block's output spike counts over time_steps"},
    )

    def __init__(
        self,
        net,
        *,
        time_steps: int = 8,
        leak: float = 0.9,
        lr: float = 5e-4,
        a_minus: float = 1.0,
        centre_pre: bool = True,
        k_winners: int = 8,
        target_rate: float = 0.1,
        homeostasis: float = 0.1,
        readout_lr: float = 5e-4,
        init_threshold: float = 1.0,
        stdp_batches: int | None = None,
        neurons_per_class: int = 1,
        anti_stdp: str = "depress",
        readout_scaling: bool = False,
        layer_readout: str = "feedforward",
    ):
        super().__init__(net)
        self._set_layer_readout(layer_readout)
        self._check(
            "time_steps", time_steps, isinstance(time_steps, int) and time_steps >= 2, "an int >= 2"
        )
        self._check("leak", leak, isinstance(leak, int | float) and 0 < leak <= 1, "in (0, 1]")
        self._check(
            "k_winners", k_winners, isinstance(k_winners, int) and k_winners >= 1, "an int >= 1"
        )
        self._check(
            "target_rate",
            target_rate,
            isinstance(target_rate, int | float) and 0 < target_rate < 1,
            "in (0, 1)",
        )
        self._check(
            "stdp_batches",
            stdp_batches,
            stdp_batches is None or (isinstance(stdp_batches, int) and stdp_batches >= 0),
            "None or an int >= 0",
        )
        self._check(
            "neurons_per_class",
            neurons_per_class,
            isinstance(neurons_per_class, int) and neurons_per_class >= 1,
            "an int >= 1",
        )
        self._check(
            "anti_stdp", anti_stdp, anti_stdp in ("depress", "mirror"), "'depress' or 'mirror'"
        )
        self._check("readout_scaling", readout_scaling, isinstance(readout_scaling, bool), "a bool")
        self._check("centre_pre", centre_pre, isinstance(centre_pre, bool), "a bool")
        self._check_positive(
            lr=lr,
            a_minus=a_minus,
            homeostasis=homeostasis,
            readout_lr=readout_lr,
            init_threshold=init_threshold,
        )
        self.time_steps, self.leak, self.lr, self.a_minus = time_steps, leak, lr, a_minus
        self.k_winners, self.target_rate, self.homeostasis = k_winners, target_rate, homeostasis
        self.readout_lr, self.init_threshold = readout_lr, init_threshold
        self.stdp_batches, self.neurons_per_class = stdp_batches, neurons_per_class
        self.anti_stdp, self.readout_scaling = anti_stdp, readout_scaling
        self.centre_pre = centre_pre
        if neurons_per_class > 1:  # decision layer: a population of output neurons per class
            n_in = net.readout.in_features
            net.readout = nn.Linear(n_in, net.n_classes * neurons_per_class).to(
                net.readout.weight.device
            )
        self.register_buffer("n_stdp", torch.zeros((), dtype=torch.long))  # resumable
        with torch.no_grad():
            net.readout.weight.normal_(target_rate, 0.02).clamp_(
                0, 1
            )  # excitatory, near the pre rate
            for op in [b.op for b in net.blocks] + [net.readout]:
                op.bias.zero_()
        for i, b in enumerate(
            net.blocks
        ):  # hidden synapses keep the signed init; their norm is kept
            norm = b.op.weight.flatten(1).norm(dim=1)  # (out,)
            self.register_buffer(f"wnorm{i}", norm.clone())
            self.register_buffer(f"theta{i}", init_threshold * norm.clone())
            if centre_pre:  # how often each input (channel) has spiked by each step, on average
                self.register_buffer(f"pre_mean{i}", torch.zeros(time_steps, b.op.weight.shape[1]))
        # the decision neurons' initial weight norms, kept only with readout_scaling (so that
        # checkpoints of the default rule load unchanged)
        if readout_scaling:
            self.register_buffer("wnorm_out", net.readout.weight.norm(dim=1).clone())
        self.register_buffer(
            "theta_out", torch.full((), 0.8 * init_threshold * net.readout.in_features)
        )
        self.register_buffer("hit_rate", torch.full((), 1.0 / net.n_classes))

    # --- dynamics ---------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Intensity-to-latency code (T, n, ...): per image min-max scaled; spike from step t_j on."""
        flat = x.flatten(1)  # (n, d)
        lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
        p = ((flat - lo) / (hi - lo + 1e-8)).view_as(x)  # (n, ...) in [0, 1]
        t = torch.arange(self.time_steps, device=x.device, dtype=x.dtype)
        t = t.view(-1, *([1] * x.dim()))  # (T, 1, ...)
        return ((p > 0) & (t >= (1 - p) * self.time_steps - 1e-6)).to(x.dtype)  # (T, n, ...)

    def _lif(self, current: torch.Tensor, theta: torch.Tensor, subtract: bool = False):
        """Integrate (T, n, c, ...) currents; returns spikes and the final potential."""
        th = (
            theta.view(-1, *([1] * (current.dim() - 3))) if theta.dim() else theta
        )  # (c, 1, 1) or scalar
        v = torch.zeros_like(current[0])
        spikes = torch.empty_like(current)
        leak = 1.0 if subtract else self.leak
        for t in range(current.shape[0]):
            v = leak * v + current[t]
            s = (v >= th).to(current.dtype)
            v = v - s * th if subtract else v * (1 - s)
            spikes[t] = s
        return spikes, v

    @torch.no_grad()
    def simulate(self, x: torch.Tensor) -> dict:
        """Run the spiking net; per block: input spikes (folded), pre-pool spikes, output spikes."""
        T, n = self.time_steps, len(x)
        s = self.encode(x)  # (T, n, ...)
        record = []
        for i, block in enumerate(self.net.blocks):
            pre = block.prepare(s.flatten(0, 1))  # (T*n, ...) what the op reads
            cur = block.op(pre)  # (T*n, c, ...)
            cur = cur.view(T, n, *cur.shape[1:])  # (T, n, c, ...)
            spk, _ = self._lif(cur, getattr(self, f"theta{i}"))
            out = block.pool(spk.flatten(0, 1))  # (T*n, c, ...)
            record.append({"pre": pre, "spikes": spk, "current": cur})
            s = out.view(T, n, *out.shape[1:])  # (T, n, c, ...)
        feats = s.flatten(2)  # (T, n, features)
        cur = self.net.readout(feats)  # (T, n, outputs): outputs = classes x neurons_per_class
        out_spk, v = self._lif(cur, self.theta_out, subtract=True)
        neuron = out_spk.sum(0) + v / self.theta_out  # (n, outputs): spike count + residual
        score = neuron.view(n, self.net.n_classes, self.neurons_per_class).amax(2)  # (n, classes)
        return {
            "blocks": record,
            "last": s,
            "feats": feats,
            "out_spikes": out_spk,
            "neuron_score": neuron,
            "score": score,
        }

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.simulate(x)["score"]

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Rate model of one bottom-up pass: the blocks (ReLU of the synaptic current) applied to
        the input's spike rates under the latency code (no thresholds, no time)."""
        return super().feedforward(self.encode(x).mean(0))

    def readout_states(self, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
        """``spike_counts``: every block's output spike counts over the ``time_steps`` steps."""
        counts = []
        for block, rec in zip(self.net.blocks, self.simulate(x)["blocks"], strict=True):
            spk = rec["spikes"]  # (T, n, c, ...)
            pooled = block.pool(spk.flatten(0, 1))  # (T*n, c, ...)
            counts.append(pooled.view(spk.shape[0], spk.shape[1], *pooled.shape[1:]).sum(0))
        return counts

    # --- plasticity -------------------------------------------------------------------------------
    def _winners(self, spk: torch.Tensor, cur: torch.Tensor) -> torch.Tensor:
        """Lateral competition mask (n, c, ...): k-WTA over units, or 1-WTA over channels per position."""
        score = spk.sum(0) + 1e-3 * torch.tanh(
            cur.sum(0) / (cur.abs().sum(0).amax() + 1e-8)
        )  # (n, c, ...)
        if score.dim() == 2:
            k = min(self.k_winners, score.shape[1])
            idx = score.topk(k, dim=1).indices  # (n, k)
            mask = torch.zeros_like(score).scatter_(1, idx, 1.0)
        else:
            mask = (score == score.amax(1, keepdim=True)).to(score.dtype)  # (n, c, h, w)
        return mask * (spk.sum(0) > 0)

    @staticmethod
    def fired_by(pre: torch.Tensor, time_steps: int) -> torch.Tensor:
        """(T, n, ...): whether each pre neuron has spiked at or before each step, from (T*n, ...)."""
        return pre.view(time_steps, -1, *pre.shape[1:]).cummax(0).values

    @torch.no_grad()
    def stdp(
        self,
        op: nn.Module,
        fired: torch.Tensor,
        spk: torch.Tensor,
        mask: torch.Tensor,
        pre_mean: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """First-spike STDP dW (like op.weight) from ``fired`` (T, n, ...: ``fired_by`` of the pre
        spikes) and post spikes (T, n, ...).

        At each winner's first spike (step t) a synapse changes by ``fired - a_minus * m``: fired
        (0 / 1) is whether its pre neuron has spiked by t. Without ``pre_mean``, m is whether the
        pre neuron spikes only after t (pair-based STDP: LTP before, LTD after, none if it never
        spikes). With ``pre_mean`` (T, inputs), m is how often the pre neuron has spiked by step t
        on average (its running mean): LTP for an input earlier than usual, LTD for one later or
        silent (covariance STDP).
        """
        T = spk.shape[0]
        if pre_mean is None:
            ltd = fired[-1:] - fired  # (T, n, ...) pre spikes only after t
        else:  # (T, inputs) -> (T, 1, inputs[, 1, 1])
            ltd = pre_mean.view(T, 1, -1, *([1] * (fired.dim() - 3)))
        first = spk * (spk.cumsum(0) == 1) * mask  # (T, n, c, ...) first spikes of the winners
        # one correlation, linear in the pre term: additive; synaptic scaling keeps the norms
        return outer(op, (fired - self.a_minus * ltd).flatten(0, 1), first.flatten(0, 1))

    def _homeostasis(self, theta: torch.Tensor, spk: torch.Tensor) -> None:
        rate = spk.mean(dim=[0, 1] + list(range(3, spk.dim())))  # (c,) spikes per neuron per step
        if theta.dim() == 0:
            rate = rate.mean()
        theta.mul_(
            torch.exp(
                (self.homeostasis * (rate - self.target_rate) / self.target_rate).clamp(-1, 1)
            )
        )

    @torch.no_grad()
    def hidden_step(self, x: torch.Tensor) -> dict:
        """Unsupervised part (no labels): STDP + homeostasis in every block, layer by layer."""
        sim = self.simulate(x)
        if self.stdp_batches is not None and int(self.n_stdp) >= self.stdp_batches:
            # the hidden layers have converged and stay fixed (Mozafari's layer-wise protocol)
            self._homeostasis(self.theta_out, sim["out_spikes"])
            return sim
        self.n_stdp += 1
        rate = running_mean_rate(int(self.n_stdp))
        for i, (block, rec) in enumerate(zip(self.net.blocks, sim["blocks"], strict=True)):
            fired, mean = self.fired_by(rec["pre"], self.time_steps), None  # (T, n, ...)
            if self.centre_pre:  # over examples (and positions: per input channel)
                mean = getattr(self, f"pre_mean{i}")
                mean.lerp_(fired.mean(dim=[1] + list(range(3, fired.dim()))), rate)
            dw = self.stdp(
                block.op,
                fired,
                rec["spikes"],
                self._winners(rec["spikes"], rec["current"]),
                pre_mean=mean,
            )
            w = block.op.weight
            w.add_(dw / (dw.abs().amax() + 1e-30), alpha=self.lr * self.lr_scale)
            w.copy_(synaptic_scaling(w, getattr(self, f"wnorm{i}")))
            self._homeostasis(getattr(self, f"theta{i}"), rec["spikes"])
        self._homeostasis(self.theta_out, sim["out_spikes"])
        return sim

    @torch.no_grad()
    def readout_eligibility(
        self, feats: torch.Tensor, choice: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eligibilities of the winner's synapses (n, features): STDP and anti-STDP (Mozafari 2018).

        STDP (applied on reward): pre spiking in the window potentiates, silence depresses (soft
        bounds). Anti-STDP (on punishment): the synapses that drove the wrong decision are depressed
        ('depress'), or, with ``anti_stdp='mirror'`` (Mozafari's), STDP with the sign flipped.
        """
        rho = feats.mean(0)  # (n, features): fraction of steps each pre neuron spiked
        w = self.net.readout.weight[choice]  # (n, features) the winner's synapses
        stdp = rho * (1 - w) - self.a_minus * (1 - rho) * w
        return stdp, (-stdp if self.anti_stdp == "mirror" else -rho * w)

    @torch.no_grad()
    def reward_step(
        self, choice: torch.Tensor, stdp: torch.Tensor, anti: torch.Tensor, reward: torch.Tensor
    ) -> None:
        """Decision layer: the winner row changes by r+ * STDP (reward) or r- * anti-STDP (punishment).

        ``reward`` (n,) is +1 / -1; r+ = running miss rate, r- = running hit rate (Mozafari 2018).
        With ``readout_scaling``, synaptic scaling then gives each neuron that learned its initial
        weight norm back, so no output neuron wins by total synaptic weight alone.
        """
        mod_r = (1 - self.hit_rate) * reward.clamp(min=0)  # (n,)
        mod_p = self.hit_rate * (-reward).clamp(min=0)  # (n,)
        dw = mod_r[:, None] * stdp + mod_p[:, None] * anti  # (n, features)
        w = self.net.readout.weight  # (outputs, features)
        post = torch.nn.functional.one_hot(choice, w.shape[0]).to(dw.dtype)  # (n, outputs)
        w.add_(post.t() @ dw / len(dw), alpha=self.readout_lr * self.lr_scale).clamp_(0, 1)
        if self.readout_scaling:
            rows = post.bool().any(0)  # (outputs,) the neurons that won, i.e. learned
            w[rows] = synaptic_scaling(w[rows], self.wnorm_out[rows]).clamp_(0, 1)
        self.hit_rate.lerp_((reward > 0).to(dw.dtype).mean(), 0.05)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        sim = self.hidden_step(x)
        choice = sim["neuron_score"].argmax(1)  # (n,) the winning output neuron
        decision = choice // self.neurons_per_class  # (n,) its class: the network's decision
        # the reward is the only label-dependent signal
        reward = torch.where(decision == y, 1.0, -1.0).to(x.dtype)
        self.reward_step(choice, *self.readout_eligibility(sim["feats"], choice), reward)
        return {"reward": float(reward.mean()), "hit_rate": float(self.hit_rate)}
