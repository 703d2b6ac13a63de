"""A self-contained HTML report: tables and base64-embedded figures in one file.

Figures are PNGs quantised to a 256-colour palette (plots lose nothing visible; the files shrink
several-fold), each embedded once.
"""

from __future__ import annotations

import base64
import html
import io
import multiprocessing
import pickle
from concurrent.futures import Future, ProcessPoolExecutor

import matplotlib.pyplot as plt
import pandas as pd
from PIL import Image

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1400px;margin:0 auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin:.5em 0 .2em}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:.5em 0}
.note{color:#555;font-size:13px}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
.question{font-size:15px;margin:.2em 0 .6em}
.answer{display:grid;grid-template-columns:minmax(320px,2fr) 3fr;gap:1.2em;align-items:start}
.answer .verdict-box{max-height:calc(100vh - 120px);overflow:auto}
.answer img{max-height:calc(100vh - 110px);width:auto;max-width:100%;margin:0}
.lead{font-size:15px;font-weight:600;margin:.2em 0 .5em}
table.verdict{font-size:13px;margin:.3em 0}table.verdict td,table.verdict th{text-align:left;vertical-align:top}
.nr{color:#777}
details{margin:.4em 0}details>summary{cursor:pointer}details>summary>h2,details>summary>h3{display:inline}
details details{margin-left:1em}
@media (max-width:900px){.answer{grid-template-columns:1fr}}
"""


def figure_png(fig: plt.Figure, dpi: int = 100) -> bytes:
    """PNG bytes of ``fig`` (then closed), quantised to a 256-colour palette."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


def img_tag(png: bytes, alt: str, element_id: str = "") -> str:
    return _img(base64.b64encode(png).decode(), alt, element_id)


def _img(data: str, alt: str, element_id: str) -> str:
    ident = f' id="{html.escape(element_id)}"' if element_id else ""
    return f'<img{ident} alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _render_pickled(data: bytes, dpi: int) -> bytes:
    return figure_png(pickle.loads(data), dpi)


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class Figures:
    """The report's figures by name, rendered to PNG as they are added: in this process, or in
    ``workers`` processes while the report goes on (``tag`` then returns a tag whose source is a
    reference to the pending PNG, which ``finish`` swaps for the PNG). Use as a context manager so that the workers always stop."""

    def __init__(self, workers: int = 1):
        self._pool = (
            ProcessPoolExecutor(workers, mp_context=_pool_context()) if workers > 1 else None
        )
        self._pngs: dict[str, bytes | Future] = {}

    def __enter__(self) -> Figures:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _claim(self, name: str) -> None:
        if name in self._pngs:
            raise ValueError(f"report figure {name!r} added twice")

    def tag(self, name: str, fig: plt.Figure, dpi: int = 100, alt: str = "",
            element_id: str = "") -> str:  # fmt: skip
        """Render ``fig`` (then closed) as figure ``name``; its ``<img>`` tag."""
        self._claim(name)
        if self._pool is None:
            self._pngs[name] = figure_png(fig, dpi)
            return img_tag(self._pngs[name], alt or name, element_id)
        data = pickle.dumps(fig)
        plt.close(fig)
        self._pngs[name] = self._pool.submit(_render_pickled, data, dpi)
        return _img(self._pending_src(name), alt or name, element_id)

    def png_tag(self, name: str, png: bytes, alt: str = "") -> str:
        """Add an already rendered PNG as figure ``name``; its ``<img>`` tag."""
        self._claim(name)
        self._pngs[name] = png
        return img_tag(png, alt or name)

    @staticmethod
    def _pending_src(name: str) -> str:
        return f"@@figure:{html.escape(name)}@@"

    def finish(self, page: str) -> tuple[str, dict[str, bytes]]:
        """(``page`` with every pending figure's PNG embedded, PNG bytes by figure name)."""
        pngs = {k: v.result() if isinstance(v, Future) else v for k, v in self._pngs.items()}
        for name, png in pngs.items():
            page = page.replace(self._pending_src(name), base64.b64encode(png).decode(), 1)
        return page, pngs


def table(frame: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    return frame.to_html(
        index=False, float_format=float_format.format, na_rep="–", border=0, escape=True
    )


class Report:
    """Collects sections (optionally inside collapsible ``<details>``) and renders one HTML page."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self._open = 0

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>')

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def open_details(self, summary: str, level: int = 2, is_open: bool = False) -> None:
        """Start a collapsible section titled ``summary`` (closed unless ``is_open``)."""
        flag = " open" if is_open else ""
        self.parts.append(
            f"<details{flag}><summary><h{level}>{html.escape(summary)}</h{level}></summary>"
        )
        self._open += 1

    def close_details(self) -> None:
        if not self._open:
            raise RuntimeError("close_details without open_details")
        self.parts.append("</details>")
        self._open -= 1

    def render(self) -> str:
        if self._open:
            raise RuntimeError(f"{self._open} <details> section(s) left open")
        body = "\n".join(self.parts)
        return (
            f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n"
        )
