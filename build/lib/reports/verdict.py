"""The report's answer: which rules are significantly more brain-like than the controls.

Reads ``ranking.csv``: one row per (match, trainset, arch, recording, roi, method, rule) with
``kind`` (``rule`` or ``control``), ``score``, ``score_nc``, ``p_fdr_vs_<other>`` (FDR-corrected p
of the difference from ``other``) and, at matched accuracy, ``reached`` (False: the rule never
reached the accuracy; its score is NaN). Tables without ``match``/``kind`` (rankings written
before controls and matched accuracy existed) are read as ``match=examples`` with ``random`` the
only control.

A rule *beats the controls* in a network when its score is higher than the untrained network's
(``random``) and than the best-scoring control's, and both differences are significant
(``p_fdr_vs_<control> < alpha``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CONTROLS = ("random", "pixels", "luminance", "colour", "gabor", "category")
UNTRAINED = "random"
MATCHES = ("examples", "accuracy")
MATCH_LABEL = {"examples": "matched examples", "accuracy": "matched accuracy"}
METHOD_PREFERENCE = ("spearman", "r2_spearman", "kendall", "pearson", "whitened")
NETWORK = ["trainset", "arch"]
PLACE = ["recording", "roi"]


def normalise_ranking(ranking: pd.DataFrame) -> pd.DataFrame:
    """``ranking`` with ``match``, ``kind`` and ``reached`` columns whatever its vintage."""
    out = ranking.copy()
    if "match" not in out:
        out["match"] = "examples"
    if "kind" not in out:
        out["kind"] = np.where(out["rule"].isin(CONTROLS), "control", "rule")
    if "reached" not in out:
        out["reached"] = True
    out["reached"] = out["reached"].fillna(True).astype(str).str.lower().isin(["true", "1", "1.0"])
    out["reached"] &= out["score"].notna()
    unknown = sorted(set(out["match"]) - set(MATCHES))
    if unknown:
        raise ValueError(f"ranking.csv: unknown match values {unknown}; expected {list(MATCHES)}")
    return out


def primary_method(ranking: pd.DataFrame) -> str:
    """The comparator the verdict and summary figure use (Spearman when it was computed)."""
    methods = list(dict.fromkeys(ranking["method"]))
    for m in METHOD_PREFERENCE:
        if m in methods:
            return m
    return sorted(methods)[0]


def _p(row: pd.Series, other: str) -> float:
    value = row.get(f"p_fdr_vs_{other}", np.nan)
    return float(value) if pd.notna(value) else np.nan


@dataclass
class Cell:
    """One (match, network, recording, roi): the best control and the rules beating controls."""

    best_control: str | None
    beats_controls: list[str] = field(default_factory=list)  # above random and the best control
    beats_untrained: list[str] = field(default_factory=list)  # above random (significantly)
    tested: bool = True  # pairwise tests exist (not for single-RDM recordings)
    not_reached: list[str] = field(default_factory=list)


def assess(group: pd.DataFrame, alpha: float) -> Cell:
    """Which rules of one ranking group are significantly above the controls."""
    controls = group[(group["kind"] == "control") & group["reached"]]
    rules = group[(group["kind"] == "rule") & group["reached"]]
    not_reached = sorted(group.loc[(group["kind"] == "rule") & ~group["reached"], "rule"])
    best = controls.sort_values("score", ascending=False)["rule"].iloc[0] if len(controls) else None
    cell = Cell(best, not_reached=not_reached)
    cols = [f"p_fdr_vs_{c}" for c in controls["rule"]]
    cell.tested = bool(len(cols)) and bool(group.reindex(columns=cols).notna().to_numpy().any())
    ref = controls.set_index("rule")["score"]
    for _, row in rules.iterrows():

        def above(control: str, row=row) -> bool:
            return control in ref.index and row["score"] > ref[control] and _p(row, control) < alpha

        if above(UNTRAINED):
            cell.beats_untrained.append(row["rule"])
            if best is None or best == UNTRAINED or above(best):
                cell.beats_controls.append(row["rule"])
    return cell


def assess_all(ranking: pd.DataFrame, method: str, alpha: float) -> dict[tuple, Cell]:
    """``(match, recording, roi, trainset, arch) -> Cell`` for the chosen comparator."""
    sub = ranking[ranking["method"] == method]
    return {key: assess(g, alpha) for key, g in sub.groupby(["match", *PLACE, *NETWORK], sort=True)}


def _net(trainset: str, arch: str) -> str:
    return f"{arch}/{trainset}"


def verdict_lines(cells: dict[tuple, Cell], n_networks: dict[tuple, int]) -> list[dict]:
    """One record per (recording, roi, match): the rules beating the controls and in which networks."""
    by_place: dict[tuple, dict[str, list[str]]] = {}
    partial: dict[tuple, set[str]] = {}
    extra: dict[tuple, Cell] = {}
    for (match, rec, roi, trainset, arch), cell in cells.items():
        winners = by_place.setdefault((rec, roi, match), {})
        for rule in cell.beats_controls:
            winners.setdefault(rule, []).append(_net(trainset, arch))
        partial.setdefault((rec, roi, match), set()).update(
            set(cell.beats_untrained) - set(cell.beats_controls)
        )
        prev = extra.get((rec, roi, match))
        if prev is None:
            extra[(rec, roi, match)] = Cell(
                cell.best_control, tested=cell.tested, not_reached=list(cell.not_reached)
            )
        else:
            prev.tested |= cell.tested
            prev.not_reached = sorted(set(prev.not_reached) | set(cell.not_reached))
    out = []
    for (rec, roi, match), winners in sorted(by_place.items()):
        info = extra[(rec, roi, match)]
        order = sorted(winners, key=lambda r: (-len(winners[r]), r))
        out.append(
            {
                "recording": rec,
                "roi": roi,
                "match": match,
                "winners": [(r, winners[r]) for r in order],
                "n_networks": n_networks.get((rec, roi, match), 0),
                "tested": info.tested,
                "not_reached": info.not_reached,
                "untrained_only": sorted(partial[(rec, roi, match)] - set(winners)),
                "best_control": info.best_control,
            }
        )
    return out


def _winners_text(line: dict) -> str:
    if not line["tested"]:
        return "not testable (one group RDM: no between-subject variability)"
    if not line["winners"]:
        return "none"
    parts = []
    for rule, nets in line["winners"]:
        share = f"{len(nets)}/{line['n_networks']}" if line["n_networks"] > 1 else nets[0]
        parts.append(f"<b>{html.escape(rule)}</b> ({html.escape(share)})")
    return ", ".join(parts)


def _lead(lines: list[dict], match: str) -> str:
    """One sentence per match: which rules beat every control, in how many recordings/ROIs."""
    mine = [ln for ln in lines if ln["match"] == match]
    testable = [ln for ln in mine if ln["tested"]]
    places: dict[str, int] = {}
    for ln in testable:
        for rule, _ in ln["winners"]:
            places[rule] = places.get(rule, 0) + 1
    untestable = len(mine) - len(testable)
    tail = (
        f" ({untestable} recording/ROI with one group RDM cannot be tested)" if untestable else ""
    )
    if not places:
        return (
            f"At {MATCH_LABEL[match]}, no rule is significantly more brain-like than both the "
            f"untrained network and the best control in any of {len(testable)} recordings/ROIs"
            f"{tail}."
        )
    order = sorted(places, key=lambda r: (-places[r], r))
    named = ", ".join(f"{r} in {places[r]}" for r in order[:6])
    more = f" and {len(order) - 6} more" if len(order) > 6 else ""
    return (
        f"At {MATCH_LABEL[match]}, rules significantly more brain-like than the untrained network "
        f"and the best control: {named}{more} of {len(testable)} recordings/ROIs{tail}."
    )


def verdict_html(ranking: pd.DataFrame, alpha: float = 0.05) -> tuple[str, str]:
    """(HTML of the verdict, the comparator it used), written from a normalised ranking."""
    method = primary_method(ranking)
    cells = assess_all(ranking, method, alpha)
    n_networks = (
        ranking[ranking["method"] == method]
        .groupby([*PLACE, "match"])[NETWORK]
        .apply(lambda g: len(g.drop_duplicates()))
        .to_dict()
    )
    lines = verdict_lines(cells, n_networks)
    if not lines:
        return "<p>No ranking rows: nothing to conclude.</p>", method
    matches = [m for m in MATCHES if any(ln["match"] == m for ln in lines)]
    lead = " ".join(_lead(lines, m) for m in matches)
    rows = []
    for rec, roi in dict.fromkeys((ln["recording"], ln["roi"]) for ln in lines):
        cells_html = []
        for m in matches:
            ln = next(
                (x for x in lines if (x["recording"], x["roi"], x["match"]) == (rec, roi, m)), None
            )
            text = _winners_text(ln) if ln else "not ranked"
            if ln and ln["untrained_only"]:
                text += (
                    f'<br><span class="nr">above the untrained net only: '
                    f"{html.escape(', '.join(ln['untrained_only']))}</span>"
                )
            if ln and ln["not_reached"]:
                text += (
                    f' <span class="nr">(never reached the accuracy: '
                    f"{html.escape(', '.join(ln['not_reached']))})</span>"
                )
            cells_html.append(f"<td>{text}</td>")
        rows.append(
            f"<tr><th>{html.escape(rec)} · {html.escape(roi)}</th>{''.join(cells_html)}</tr>"
        )
    head = "".join(f"<th>{MATCH_LABEL[m]}</th>" for m in matches)
    body = (
        f'<p class="lead">{html.escape(lead)}</p>'
        f'<table class="verdict"><tr><th>recording · ROI</th>{head}</tr>{"".join(rows)}</table>'
        f'<p class="note">Listed: rules whose best-layer {html.escape(method)} score is above the '
        f"untrained network's and the best control's, both differences significant "
        f"(FDR-corrected p &lt; {alpha:g}); in parentheses, in how many of the networks "
        "(architecture/training set) that holds, best first. Controls: "
        f"{html.escape(', '.join(sorted(set(ranking.loc[ranking['kind'] == 'control', 'rule']))))}.</p>"
    )
    return body, method
