"""analyses.ranks gives scipy.stats.rankdata's numbers (ties, axes, NaN, both methods)."""

import numpy as np
import pytest
from scipy.stats import rankdata as scipy_rankdata

from analyses.ranks import rankdata


@pytest.mark.parametrize("method", ["average", "min"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_ranks_equal_scipys_with_ties(method, axis):
    rng = np.random.default_rng(0)
    for levels in (3, 20, 10_000):  # heavy ties, some ties, (almost) none
        a = rng.integers(0, levels, size=(7, 50, 4)).astype(float)
        assert np.array_equal(rankdata(a, axis, method), scipy_rankdata(a, method, axis=axis))


def test_a_nan_makes_its_slice_nan_and_integers_rank():
    a = np.arange(12.0).reshape(3, 4)[:, ::-1].copy()
    a[1, 2] = np.nan
    out = rankdata(a, axis=1)
    assert np.isnan(out[1]).all() and np.array_equal(out[[0, 2]], [[4, 3, 2, 1]] * 2)
    assert np.array_equal(rankdata(np.array([3, 1, 3, 2])), scipy_rankdata([3, 1, 3, 2]))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown ranking method 'dense'"):
        rankdata(np.arange(3), method="dense")
