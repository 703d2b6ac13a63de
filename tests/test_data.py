"""Loaders against the real public files (mirror or web): shapes, hashes, stimulus order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from analyses.rdm import upper_tri
from brain_data.errors import DataError
from brain_data.recordings import load_recording
from brain_data.stimuli import load_stimuli
from brain_data.trainsets import load_trainset

pytestmark = pytest.mark.needs_data


def _load(fn, *args):
    try:
        return fn(*args)
    except DataError as err:  # no mirror and no web: nothing to test against
        pytest.skip(str(err))


def test_mnist_shapes_and_labels():
    d = _load(load_trainset, "mnist")
    assert d["x_train"].shape == (60000, 28, 28, 1) and d["x_test"].shape == (10000, 28, 28, 1)
    assert np.bincount(d["y_test"]).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.slow
def test_cifar10_shapes_and_class_balance():
    d = _load(load_trainset, "cifar10")
    assert d["x_train"].shape == (50000, 32, 32, 3) and d["x_test"].shape == (10000, 32, 32, 3)
    assert (np.bincount(d["y_train"]) == 5000).all() and (np.bincount(d["y_test"]) == 1000).all()


def test_objects92_images_and_categories():
    s = _load(load_stimuli, "objects92")
    assert s.images.shape == (92, 175, 175, 3) and s.images.dtype == np.uint8
    assert (
        s.groups[0] == "human body"
        and s.groups[12] == "human face"
        and s.groups[91] == "artificial object"
    )
    assert "face" in s.labels[12]


def test_recordings_have_the_published_shapes():
    shapes = {
        r: {roi: x.shape for roi, x in _load(load_recording, r).rdms.items()}
        for r in ("algonauts2019-92", "kriegeskorte2008-hit", "kriegeskorte2008-mit")
    }
    assert shapes == {
        "algonauts2019-92": {"EVC": (15, 92, 92), "IT": (15, 92, 92)},
        "kriegeskorte2008-hit": {"IT": (4, 92, 92)},
        "kriegeskorte2008-mit": {"IT": (1, 92, 92)},
    }


def test_two_92_image_sources_agree_in_stimulus_order():
    """Mean Kriegeskorte hIT vs mean Algonauts IT: Spearman ~0.56; a wrong order breaks it."""
    hit = _load(load_recording, "kriegeskorte2008-hit").rdms["IT"].mean(0)
    alg = _load(load_recording, "algonauts2019-92").rdms["IT"].mean(0)
    rho = spearmanr(upper_tri(hit), upper_tri(alg))[0]
    assert rho == pytest.approx(0.557, abs=0.01)
    perm = np.random.default_rng(0).permutation(92)
    assert spearmanr(upper_tri(hit[perm][:, perm]), upper_tri(alg))[0] < 0.2


def test_monkey_it_matches_the_human_it_group_rdm_of_the_same_file():
    mit = _load(load_recording, "kriegeskorte2008-mit").rdms["IT"][0]
    hit = _load(load_recording, "kriegeskorte2008-hit").rdms["IT"].mean(0)
    assert 0.2 < spearmanr(upper_tri(mit), upper_tri(hit))[0] < 0.6  # man-monkey match (Fig. 1)
