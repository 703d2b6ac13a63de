"""How much a learning rule changed its hidden layers: RDM movement and linear decodability.

Both compare a trained network with the same network untrained (same seed, same stimuli), so a
rule whose readout alone learns shows no movement and no probe gain, whatever its accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analyses.rdm import correlation_rdm, upper_tri
from analyses.rsa import compare


def _patterns(name: str, acts) -> np.ndarray:
    x = np.asarray(acts, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"layer {name!r}: activations need shape (n_stimuli, ...), got {x.shape}")
    return x.reshape(len(x), -1)


def layer_change(
    trained: Mapping[str, np.ndarray], untrained: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Per layer, ``1 - Spearman rho`` between the trained and the untrained net's correlation-
    distance RDMs (``analyses.rdm.correlation_rdm``) on the same stimuli, in ``trained``'s order.

    0: training left the layer's geometry as it was at initialisation; 1: unrelated; up to 2:
    inverted. NaN where either RDM is constant (e.g. a silent layer), for which rho is undefined.
    """
    if list(trained) != list(untrained):
        raise ValueError(
            f"trained and untrained layers differ: {list(trained)} vs {list(untrained)}"
        )
    out = {}
    for name in trained:
        a, b = _patterns(name, trained[name]), _patterns(name, untrained[name])
        if len(a) != len(b):
            raise ValueError(
                f"layer {name!r}: {len(a)} trained vs {len(b)} untrained stimuli (must match)"
            )
        va, vb = upper_tri(correlation_rdm(a)), upper_tri(correlation_rdm(b))
        if np.ptp(va) == 0 or np.ptp(vb) == 0:
            out[name] = float("nan")
            continue
        out[name] = float(1.0 - compare(va[None], vb[None], "spearman")[0, 0])
    return out


def linear_probe_accuracy(
    fit_x: np.ndarray,
    fit_y: np.ndarray,
    eval_x: np.ndarray,
    eval_y: np.ndarray,
    *,
    c: float = 1.0,
    max_iter: int = 500,
) -> float:
    """Held-out accuracy of a multinomial logistic-regression probe (L2, inverse strength ``c``)
    fitted on standardised features ``fit_x`` (n, ...) with labels ``fit_y``, scored on ``eval_x``."""
    fit_x, eval_x = _patterns("fit", fit_x), _patterns("eval", eval_x)
    if len(fit_x) != len(fit_y) or len(eval_x) != len(eval_y):
        raise ValueError(
            f"features and labels differ in length: fit {len(fit_x)} vs {len(fit_y)}, "
            f"eval {len(eval_x)} vs {len(eval_y)}"
        )
    if fit_x.shape[1] != eval_x.shape[1]:
        raise ValueError(f"fit has {fit_x.shape[1]} features, eval {eval_x.shape[1]}")
    # scikit-learn imported here: the extraction step imports this module for layer_change only
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    probe.fit(fit_x, np.asarray(fit_y))
    return float(probe.score(eval_x, np.asarray(eval_y)))
