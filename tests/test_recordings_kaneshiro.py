"""The first real EEG recording, by manifest only: Kaneshiro et al. (2015), 72 of the 92 images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from analyses.rdm import upper_tri
from brain_data.__main__ import main as cli
from brain_data.errors import DataError
from brain_data.recordings import enabled_by_default, load_manifest, load_recording, manifest_path

pytestmark = pytest.mark.needs_data


def _load(rid):
    try:
        return load_recording(rid)
    except DataError as err:  # no mirror and no web
        pytest.skip(str(err))


def test_kaneshiro_is_a_72_image_subset_group_rdm_in_the_default_grid():
    rec = _load("kaneshiro2015-72")
    assert rec.modality == "eeg" and rec.rdms["scalp"].shape == (1, 72, 72)
    assert rec.stimuli[:48].tolist() == list(range(48)) and rec.stimuli[48] == 49  # image 50
    assert "no between-subject noise ceiling" in rec.meta["noise_ceiling_note"]
    assert enabled_by_default(load_manifest(manifest_path("kaneshiro2015-72")))


@pytest.mark.parametrize("roi, expected", [("IT", 0.37), ("EVC", 0.13)])
def test_kaneshiro_matches_the_algonauts_fmri_mean_rdm(roi, expected):
    """Restricted to the 72 images in the manifest's order: Spearman ~0.37 (IT), ~0.13 (EVC)."""
    eeg = _load("kaneshiro2015-72")
    fmri = _load("algonauts2019-92").rdms[roi].mean(axis=0)
    s = eeg.stimuli
    rho = spearmanr(upper_tri(eeg.rdms["scalp"][0]), upper_tri(fmri[np.ix_(s, s)]))[0]
    assert rho == pytest.approx(expected, abs=0.01)
    naive = np.arange(72)  # a wrong mapping: rows 49-72 taken as images 49-72
    wrong = spearmanr(upper_tri(eeg.rdms["scalp"][0]), upper_tri(fmri[np.ix_(naive, naive)]))[0]
    assert abs(wrong - expected) > 0.02
    perm = np.random.default_rng(0).permutation(72)
    shuffled = spearmanr(
        upper_tri(eeg.rdms["scalp"][0]), upper_tri(fmri[np.ix_(s[perm], s[perm])])
    )[0]
    assert abs(shuffled) < 0.1


def test_validate_cli_prints_what_it_found(capsys):
    try:
        load_recording("kaneshiro2015-72")
    except DataError as err:
        pytest.skip(str(err))
    assert cli(["validate", "kaneshiro2015-72"]) == 0
    out = capsys.readouterr().out
    assert "72 of stimulus set 'objects92'" in out and "scalp" in out and "1 subject(s)" in out
    assert "no between-subject noise ceiling" in out and out.strip().endswith("OK")


def test_every_shipped_manifest_is_valid_and_web_only_ones_stay_out_of_all():
    from brain_data.recordings import is_time_resolved, manifest_paths

    manifests = {rid: load_manifest(p) for rid, p in manifest_paths().items()}
    default = sorted(r for r, m in manifests.items() if enabled_by_default(m))
    assert "kaneshiro2015-72" in default and "algonauts2019-92" in default
    assert "visual92-meg-cichy2014" not in default and "nsd-algonauts2023-subj01-20" not in default
    assert manifests["visual92-meg-cichy2014"]["requires_web"]
    assert is_time_resolved(manifests["visual92-meg-cichy2014"])
    assert not any(is_time_resolved(manifests[r]) for r in default)
