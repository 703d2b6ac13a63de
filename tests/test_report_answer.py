"""The report opens with the answer: verdict from ranking.csv, summary figure, first screen in Chromium."""

from __future__ import annotations

import base64
import html
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipelines.report import build_report
from reports.summary import summary_table
from reports.verdict import assess_all, normalise_ranking, verdict_html
from tests import browser
from tests.report_fixtures import make_run, stimulus_sets


def _verdict_rows(page: str) -> dict[str, list[str]]:
    rows = re.findall(r"<tr><th>([^<]+)</th>(.*?)</tr>", page)
    return {html.unescape(k): re.findall(r"<td>(.*?)</td>", v) for k, v in rows}


def test_verdict_names_rules_above_every_control_per_recording_and_match(tmp_path):
    ranking = normalise_ranking(make_run(tmp_path).ranking)
    page, method = verdict_html(ranking)
    assert method == "spearman"
    rows = _verdict_rows(page)
    examples, accuracy = rows["rec-a · IT"]
    assert examples.startswith("<b>bp</b> (mlp/mnist)")
    assert "fa" in examples and "above the untrained net only: fa" in examples  # not above gabor
    assert "never reached the accuracy: ff" in accuracy and "ff" not in examples
    assert "not testable" in rows["rec-one · IT"][0]  # one group RDM: no pairwise tests
    assert "bp in 2 of 2 recordings/ROIs" in page


def test_verdict_says_none_when_no_rule_beats_the_controls(tmp_path):
    ranking = normalise_ranking(make_run(tmp_path).ranking)
    p_cols = [c for c in ranking if c.startswith("p_fdr_vs_")]
    ranking[p_cols] = ranking[p_cols].where(ranking[p_cols].isna(), 0.5)
    page, _ = verdict_html(ranking)
    assert "no rule is significantly more brain-like" in page
    assert _verdict_rows(page)["rec-a · EVC"][0].startswith("none")


def test_ranking_without_match_or_kind_is_read_as_matched_examples(tmp_path):
    old = make_run(tmp_path, controls=("random",), contract=False).ranking
    assert "match" not in old and "kind" not in old
    ranking = normalise_ranking(old)
    assert set(ranking["match"]) == {"examples"}
    assert set(ranking.loc[ranking["kind"] == "control", "rule"]) == {"random"}
    page, _ = verdict_html(ranking)
    assert "matched accuracy" not in page
    winners = _verdict_rows(page)["rec-a · IT"][0]
    assert "<b>bp</b>" in winners and "<b>fa</b>" in winners  # random is the only control


def test_summary_cells_are_noise_ceiling_normalised_means_with_marks(tmp_path):
    inp = make_run(tmp_path, networks=(("mnist", "mlp"), ("cifar10", "cnn")))
    ranking = normalise_ranking(inp.ranking)
    table = summary_table(ranking, "spearman").set_index(["match", "rule", "recording", "roi"])
    raw = ranking[(ranking["method"] == "spearman") & (ranking["match"] == "examples")]
    bp = raw[(raw["rule"] == "bp") & (raw["recording"] == "rec-a") & (raw["roi"] == "IT")]
    assert table.loc[("examples", "bp", "rec-a", "IT"), "value"] == pytest.approx(
        bp["score_nc"].mean()
    )
    one = raw[(raw["rule"] == "bp") & (raw["recording"] == "rec-one")]
    assert table.loc[("examples", "bp", "rec-one", "IT"), "value"] == pytest.approx(
        one["score"].mean()
    )  # no ceiling: raw score
    assert np.isnan(table.loc[("accuracy", "ff", "rec-a", "IT"), "value"])  # never reached
    cells = assess_all(ranking, "spearman", 0.05)
    n_bp = sum(
        "bp" in c.beats_controls for k, c in cells.items() if k[:3] == ("examples", "rec-a", "IT")
    )
    assert n_bp == 2
    assert "<b>bp</b> (2/2)" in verdict_html(ranking)[0]  # both networks


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    """A full report on a tiny synthetic grid (12 stimuli, one comparator)."""
    root = tmp_path_factory.mktemp("report")
    inp = make_run(root, n_stim=12, methods=("spearman",))
    page, figs = build_report(inp, stimulus_sets(12))
    (root / "index.html").write_text(page)
    return root, page, figs


def test_report_opens_with_the_answer_then_collapsed_details(small_report):
    _, page, figs = small_report
    body = page[page.index("<body>") :]
    order = [body.index(s) for s in ('id="verdict"', 'id="summary-figure"', "<details")]
    assert order == sorted(order)
    assert body.index("<table", body.index("</section>")) > body.index("<details")  # no table first
    assert "<details open" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(set(images)) == len(figs)  # every figure embedded once


def test_figures_rendered_in_worker_processes_equal_those_rendered_in_place():
    """The same figures (each rebuilt from one pickle) give the same PNG bytes either way."""
    import pickle

    from reports.figures import rdm_grid, score_bars
    from reports.geometry import mds_panels
    from reports.html import Figures, figure_png

    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 6))
    rdm = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    bars = pd.DataFrame({"arch": "mlp", "trainset": "mnist", "rule": ["bp", "fa", "random"],
                         "score": [0.3, 0.2, 0.1], "ci_low": [0.2, 0.1, 0.0],
                         "ci_high": [0.4, 0.3, 0.2], "noise_ceiling_low": 0.5,
                         "noise_ceiling_high": 0.6, "method": "spearman"})  # fmt: skip
    made = [
        score_bars(bars, "bars"),
        rdm_grid({"a": rdm, "b": rdm.T}, "grid", groups={"a": ["g1"] * 5 + ["g2"] * 5}),
        mds_panels({"a": rdm}, rng.integers(0, 255, (10, 16, 16, 3), dtype=np.uint8), "mds"),
    ]
    data = [pickle.dumps(f) for f in made]
    in_place = {f"f{i}": figure_png(pickle.loads(d)) for i, d in enumerate(data)}
    with Figures(workers=2) as figs:
        tags = [figs.tag(f"f{i}", pickle.loads(d)) for i, d in enumerate(data)]
        assert all("@@figure:" in t for t in tags)  # rendered elsewhere, filled in later
        page, pngs = figs.finish("".join(tags))
    assert pngs == in_place
    assert re.findall(r"base64,([^\"]+)", page) == [
        base64.b64encode(in_place[k]).decode() for k in sorted(in_place)
    ]


def test_a_report_built_with_workers_embeds_every_figure(tmp_path):
    inp = make_run(tmp_path, n_stim=8, methods=("spearman",), controls=("random",),
                   recordings=(("rec-a", ("IT",), 5),))  # fmt: skip
    page, figs = build_report(inp, stimulus_sets(8), workers=2)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert "@@figure:" not in page and len(images) == len(set(images)) == len(figs) > 5
    assert all(png.startswith(b"\x89PNG") for png in figs.values())


def test_a_figure_name_given_twice_is_refused():
    import matplotlib.pyplot as plt

    from reports.html import Figures

    with Figures() as figs:
        figs.tag("a", plt.figure())
        with pytest.raises(ValueError, match="report figure 'a' added twice"):
            figs.tag("a", plt.figure())


_CAPTURE = """<script>window.__errors = [];
addEventListener('error', e => __errors.push(String(e.message || (e.target && e.target.src) || 'error')), true);
const __ce = console.error; console.error = (...a) => { __errors.push(a.join(' ')); __ce(...a); };
</script>"""
_PROBE = """<script>addEventListener('load', () => {
  const box = id => { const r = document.getElementById(id).getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const fig = document.getElementById('summary-figure');
  document.body.dataset.probe = JSON.stringify({verdict: box('verdict'), figure: box('summary-figure'),
    natural: fig.naturalWidth, vh: innerHeight, vw: innerWidth, errors: __errors,
    text: document.getElementById('verdict').innerText});
});</script>"""


def test_first_screen_in_headless_chromium_shows_verdict_and_summary_figure(small_report, tmp_path):
    root, page, _ = small_report
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.replace("<head>", "<head>" + _CAPTURE, 1).replace("</body>", _PROBE + "</body>")
    )
    proc = browser.run(probe, tmp_path / "p1", "--virtual-time-budget=10000", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', proc.stdout)
    assert found, proc.stdout[:2000]
    info = json.loads(html.unescape(found.group(1)))
    assert info["errors"] == []
    assert not re.search(r"CONSOLE.*(Error|error)", proc.stderr), proc.stderr[-2000:]
    vh, vw = info["vh"], info["vw"]  # 1366 x 757: a laptop screen less the browser's bars
    assert vw >= 1300 and vh >= 700
    for name in ("verdict", "figure"):
        b = info[name]
        assert 0 <= b["top"] < b["bottom"] <= vh and 0 <= b["left"] < b["right"] <= vw, (name, b)
    fig = info["figure"]
    assert (
        info["natural"] > 0
        and fig["right"] - fig["left"] > 400
        and fig["bottom"] - fig["top"] > 300
    )
    assert "Answer" in info["text"] and "bp" in info["text"]

    shot = tmp_path / "first_screen.png"
    proc = browser.run(root / "index.html", tmp_path / "p2", f"--screenshot={shot}", size=(vw, vh))
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (vh, vw)
    crop = pixels[int(fig["top"]) : int(fig["bottom"]), int(fig["left"]) : int(fig["right"])]
    assert crop.std() > 20  # the heat map is drawn, not a blank box


def test_report_reads_todays_ranking_without_match_and_kind(tmp_path):
    inp = make_run(tmp_path, n_stim=8, methods=("spearman",), controls=("random",),
                   recordings=(("rec-a", ("IT",), 5),), contract=False)  # fmt: skip
    assert "match" not in inp.ranking and "match" not in inp.pairwise
    page, figs = build_report(inp, stimulus_sets(8))
    assert "matched examples" in page and "summary" in figs
    assert "matched accuracy" not in page[: page.index("<details")]
    assert isinstance(inp.ranking, pd.DataFrame)
