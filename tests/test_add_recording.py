"""Your data in: a folder of mixed-size JPEGs and one .mat, no URL, found under a second data root.

Follows README "Add your recording": ``add-stimuli``, one manifest without ``url``, ``validate``,
then the pipeline's own extract step (images in a network's input format) and RSA on the result.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import torch
import yaml
from PIL import Image

from analyses.rdm import correlation_rdm, upper_tri
from brain_data import fetch as fetch_mod
from brain_data import specs
from brain_data.__main__ import main
from brain_data.add_stimuli import stimulus_set
from brain_data.errors import DataError, DataUnavailableError
from brain_data.fetch import FileSpec, fetch, sha256sum
from brain_data.images import model_input, shorter_side_centre_crop, to_rgb
from brain_data.recordings import load_recording
from brain_data.stimuli import load_stimuli
from brain_data.trainsets import load_trainset, trainset_info
from models.training import build_rule
from tests.recording_fixtures import random_rdms

# (width, height, mode): 400, 399 and 402 px wide as real photo sets are, one greyscale
PHOTOS = [(400, 300, "RGB"), (399, 300, "RGB"), (402, 301, "L"), (400, 300, "RGB"),
          (401, 300, "RGB"), (400, 299, "RGB")]  # fmt: skip


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Two data roots (the data in the second), a cache, and an empty spec folder as brain_data/."""
    first, second = tmp_path / "root1", tmp_path / "root2"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv(fetch_mod.MIRROR_ENV, os.pathsep.join([str(first), str(second)]))
    monkeypatch.setenv(fetch_mod.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "specs" / "stimuli").mkdir(parents=True)
    shutil.copytree(specs.ROOT / "trainsets", tmp_path / "specs" / "trainsets")
    monkeypatch.setattr(specs, "ROOT", tmp_path / "specs")
    return first, second


def _photos(folder: Path, sizes=PHOTOS) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for k, (w, h, mode) in enumerate(sizes):
        arr = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        arr[:, : w // 2] //= 4  # a dark left half: the crop must keep the centre
        img = Image.fromarray(arr).convert(mode)
        name = f"photo{k + 1:02d}.jpg"
        img.save(folder / name, quality=90)
        names.append(name)
    return names


def _recording(root: Path, n: int, n_subjects: int = 3) -> Path:
    path = root / "myrec" / "rdms.mat"
    path.parent.mkdir(parents=True)
    sio.savemat(path, {"EVC_RDMs": random_rdms((n_subjects,), n, 1),
                       "IT_RDMs": random_rdms((n_subjects,), n, 2)})  # fmt: skip
    return path


def _manifest(spec_root: Path, mat: Path, stimset: str) -> Path:
    man = {
        "id": "myrec", "modality": "fmri", "stimuli": stimset, "stimulus_order": "all",
        "format": "rdm-mat", "subjects": 3,
        "rois": {"EVC": {"file": "rdms.mat", "variable": "EVC_RDMs", "subject_axis": 0},
                 "IT": {"file": "rdms.mat", "variable": "IT_RDMs", "subject_axis": 0}},
        "files": [{"name": "rdms.mat", "sha256": sha256sum(mat), "mirror": "myrec/rdms.mat"}],
        "citation": "my lab (unpublished)",
    }  # fmt: skip
    path = spec_root / "myrec" / "manifest.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(man, sort_keys=False))
    return path


def test_folder_of_mixed_jpegs_and_a_mat_without_url_reach_rsa(roots, tmp_path, capsys):
    _, second = roots
    folder = second / "photos" / "set1"
    names = _photos(folder)
    groups = tmp_path / "groups.csv"
    groups.write_text("".join(f"{n},{'face' if i < 3 else 'place'}\n" for i, n in enumerate(names)))

    assert main(["add-stimuli", str(folder), "--id", "myphotos", "--groups", str(groups)]) == 0
    written = specs.ROOT / "stimuli" / "myphotos.yaml"
    spec = yaml.safe_load(written.read_text())
    assert spec["resize"] == {"method": "shorter-side-centre-crop", "size": 299}
    assert [e["name"] for e in spec["images"]] == names  # sorted by file name
    assert spec["images"][0]["mirror"] == "photos/set1/photo01.jpg"  # relative to its root
    assert "url" not in spec["images"][0]
    assert spec["images"][0]["sha256"] == sha256sum(folder / names[0])
    assert main(["add-stimuli", str(folder), "--id", "myphotos"]) == 1  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(["add-stimuli", str(folder), "--id", "myphotos", "--force",
                 "--groups", str(groups)]) == 0  # fmt: skip

    manifest = _manifest(specs.ROOT, _recording(second, len(names)), "myphotos")
    capsys.readouterr()
    assert main(["validate", str(manifest)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "6 images decoded, 299x299 RGB" in out and "photo01" in out and out.endswith("OK\n")

    stim = load_stimuli("myphotos")
    assert stim.images.shape == (6, 299, 299, 3) and stim.images.dtype == np.uint8
    assert stim.groups == ["face"] * 3 + ["place"] * 3
    rec = load_recording(str(manifest))
    assert rec.rdms["IT"].shape == (3, 6, 6)

    # the extract step's own calls, then RSA of a network layer with the recording
    x = model_input(stim.images, trainset_info("cifar10")["input"])
    assert tuple(x.shape) == (6, 3, 32, 32)
    net = build_rule("random", "cnn", (3, 32, 32), 10, seed=0)
    with torch.no_grad():
        layer = next(iter(net.layers(x).values())).reshape(6, -1).numpy()
    model = upper_tri(correlation_rdm(layer))
    brain = upper_tri(rec.rdms["IT"].mean(0))
    assert np.isfinite(np.corrcoef(model, brain)[0, 1])


def test_file_without_url_found_in_no_root_names_it_and_every_root(roots):
    first, second = roots
    spec = FileSpec.from_dict({"name": "rdms.mat", "sha256": "0" * 64}, "myrec", "manifest.yaml")
    with pytest.raises(DataUnavailableError) as err:
        fetch(spec)
    msg = str(err.value)
    assert "rdms.mat" in msg and "no url" in msg
    assert str(first / "myrec" / "rdms.mat") in msg and str(second / "myrec" / "rdms.mat") in msg


def test_roots_are_searched_in_order(roots):
    first, second = roots
    for root, text in ((first, b"first"), (second, b"second")):
        (root / "d").mkdir()
        (root / "d" / "f.txt").write_bytes(text)
    spec = FileSpec.from_dict(
        {"name": "f.txt", "sha256": sha256sum(first / "d" / "f.txt")}, "d", "spec.yaml"
    )
    assert fetch(spec).read_bytes() == b"first"


def test_add_stimuli_refuses_a_folder_outside_every_root(roots, tmp_path):
    folder = tmp_path / "elsewhere"
    _photos(folder)
    with pytest.raises(DataError, match="is not under a data root") as err:
        stimulus_set(folder, "x")
    assert str(roots[0]) in str(err.value) and str(roots[1]) in str(err.value)


def test_add_stimuli_order_file_and_its_errors(roots, tmp_path):
    folder = roots[1] / "set"
    names = _photos(folder)
    order = tmp_path / "order.txt"
    order.write_text("# stimulus order\n" + "\n".join(reversed(names)) + "\n")
    spec, _ = stimulus_set(folder, "x", order=order)
    assert [e["name"] for e in spec["images"]] == names[::-1]
    order.write_text("\n".join(names[:-1] + ["nothere.jpg"]))
    with pytest.raises(DataError, match=r"order.txt.*nothere.jpg.*lacks.*photo06.jpg"):
        stimulus_set(folder, "x", order=order)


def test_different_aspect_ratios_warn(roots, capsys):
    folder = roots[1] / "set"
    _photos(folder, PHOTOS[:3] + [(300, 400, "RGB")])  # a portrait among landscapes
    assert main(["add-stimuli", str(folder), "--id", "mixed"]) == 0
    assert "aspect ratios" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="aspect ratios .* differ by 78 %"):
        stim = load_stimuli("mixed")
    assert stim.images.shape == (4, 300, 300, 3)


def test_undecodable_image_fails_validate_naming_the_file(roots, capsys):
    folder = roots[1] / "set"
    names = _photos(folder)
    assert main(["add-stimuli", str(folder), "--id", "broken"]) == 0
    bad = folder / names[4]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated JPEG
    spec_path = specs.ROOT / "stimuli" / "broken.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["images"][4]["sha256"] = sha256sum(bad)  # the hash is right, the image is not
    spec_path.write_text(yaml.safe_dump(spec))
    manifest = _manifest(specs.ROOT, _recording(roots[1], len(names)), "broken")
    capsys.readouterr()
    assert main(["validate", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert "photo05.jpg" in err and "image 5" in err and "cannot be decoded" in err
    with pytest.raises(DataError, match="photo05.jpg"):
        stimulus_set(folder, "again")  # add-stimuli decodes every image too


def test_shorter_side_centre_crop_keeps_the_centre_without_distortion():
    cols = np.tile(np.arange(6, dtype=np.uint8) * 40, (3, 1))  # 6 wide, 3 high, column k = 40 k
    out = np.asarray(shorter_side_centre_crop(Image.fromarray(cols), 3))
    assert out.shape == (3, 3) and out[0].tolist() == [40, 80, 120]
    half = np.asarray(shorter_side_centre_crop(Image.new("L", (400, 200), 7), 100))
    assert half.shape == (100, 100) and (half == 7).all()


def test_modes_become_8bit_rgb_with_transparency_on_white():
    rgba = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    assert np.asarray(to_rgb(rgba)).reshape(-1, 3).tolist() == [[255, 255, 255]] * 4
    deep = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    assert np.asarray(to_rgb(deep))[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def _idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_training_set_without_url_loads_from_the_second_root(roots):
    folder = roots[1] / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 12), ("test", 4)):
        _idx(folder / f"{split}-images.gz", rng.integers(0, 255, (n, 28, 28)))
        _idx(folder / f"{split}-labels.gz", np.arange(n) % 10)
        for kind in ("images", "labels"):
            name = f"{split}-{kind}.gz"
            files[f"{split}_{kind}"] = {"name": name, "sha256": sha256sum(folder / name),
                                        "mirror": f"tiny/{name}"}  # fmt: skip
    spec = {"id": "tiny", "loader": "idx", "n_classes": 10, "files": files,
            "input": {"channels": 1, "size": 28, "mean": [0.5], "std": [0.25]}}  # fmt: skip
    (specs.ROOT / "trainsets" / "tiny.yaml").write_text(yaml.safe_dump(spec))
    data = load_trainset("tiny")
    assert data["x_train"].shape == (12, 28, 28, 1) and data["y_test"].tolist() == [0, 1, 2, 3]
