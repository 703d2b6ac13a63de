"""Encoding models on simulated responses: signal channels are predicted, noise channels are not,
ceiling-normalised variance is near 1 when the model is the truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from analyses.encoding import encode, split_half_ceiling


def _simulate(seed=0, n_stim=120, n_feat=20, n_chan=12, n_reps=4, noise=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_stim, n_feat))
    w = rng.normal(size=(n_feat, n_chan)) / np.sqrt(n_feat)
    w[:, n_chan // 2 :] = 0  # the second half of the channels carries no signal
    reps = (x @ w)[None] + noise * rng.normal(size=(n_reps, n_stim, n_chan))
    return x, reps


def test_ridge_recovers_signal_channels_and_normalises_by_the_ceiling():
    x, reps = _simulate()
    ceiling = split_half_ceiling(reps)
    res = encode(x, reps.mean(axis=0), ceiling=ceiling, seed=0)
    sig, null = slice(0, 6), slice(6, 12)
    assert res.r[sig].min() > 0.6 and np.abs(res.r[null]).max() < 0.35
    assert 0.75 < np.median(res.ev_nc[sig]) < 1.15
    assert np.all(res.ev[null] < 0.05)  # no in-sample optimism on noise channels
    again = encode(x, reps.mean(axis=0), ceiling=ceiling, seed=0)
    assert np.array_equal(res.r, again.r)


def test_pca_option_keeps_trailing_channel_shape_and_estimators_are_pluggable():
    x, reps = _simulate(seed=1, n_chan=12)
    y = reps.mean(axis=0).reshape(120, 3, 4)  # e.g. sensors x time
    res = encode(x, y, n_components=10)
    assert res.r.shape == (3, 4) and np.isnan(res.ev_nc).all()
    plain = encode(x, y, estimator=Ridge(alpha=1.0))
    assert plain.r.shape == (3, 4) and np.nanmax(plain.r) > 0.6


def test_bad_shapes_are_named():
    x, reps = _simulate()
    with pytest.raises(ValueError, match="n_stim = 120"):
        encode(x, reps.mean(axis=0)[:50])
    with pytest.raises(ValueError, match="ceiling has shape"):
        encode(x, reps.mean(axis=0), ceiling=np.ones(3))
    with pytest.raises(ValueError, match="repetitions"):
        split_half_ceiling(reps[:1])
