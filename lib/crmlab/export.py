"""Export executed notebooks for readers: HTML without code (nbconvert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crmlab import atomic
from crmlab.results import cell_applies

MISSING_MARK = "\u2013"
"""What an HTML table shows for a missing value (an en dash) instead of pandas' ``NaN``,
``NaT``, ``<NA>`` or ``None``: a reader sees "no value", not a programming term."""
_MISSING_CELL = re.compile(r"(<td[^>]*>)\s*(?:NaN|NaT|&lt;NA&gt;|None|nan)\s*(</td>)")


def dash_missing_cells(html: str) -> str:
    """``html`` with every table data cell that holds only a missing-value marker of pandas
    (``NaN``, ``NaT``, ``<NA>``, ``None``) showing :data:`MISSING_MARK`. Header cells (index
    labels, column names) and longer text are left as they are."""
    return _MISSING_CELL.sub(r"\1" + MISSING_MARK + r"\2", html)


_HEADING = re.compile(r"^#{1,6}\s+(\S.*?)\s*#*\s*$")
_NO_ALT = 'alt="No description has been provided for this image"'  # nbconvert's default


def headings(markdown: str) -> list[str]:
    """The texts of the Markdown headings in ``markdown`` (``## Key drivers`` -> "Key
    drivers"), in order."""
    return [m[1].strip() for m in map(_HEADING.match, markdown.splitlines()) if m]


def last_heading(markdown: str) -> str | None:
    """The text of the last Markdown heading in ``markdown``; None without one."""
    found = headings(markdown)
    return found[-1] if found else None


def _chart_alts(cells) -> list[str]:
    """One text per PNG output of ``cells``, in order: "Chart: <the section heading it is
    under>" (the reader's description of the image), "Chart" before any heading."""
    alts, heading = [], None
    for cell in cells:
        if cell.cell_type == "markdown":
            heading = last_heading(cell.source) or heading
            continue
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                alts.append(f"Chart: {heading}" if heading else "Chart")
    return alts


def notebook_to_html(notebook_path: str | Path, html_path: str | Path) -> Path:
    """Write an HTML rendering of an executed notebook with code cells' input hidden.

    Markdown, outputs, tables and charts are kept; code, prompts, the runner's injected
    parameters cell and cells that do not apply to the run (its ``results.json`` beside the
    notebook, :func:`crmlab.results.cell_applies`) are left out; missing values in tables read as a dash
    (:func:`dash_missing_cells`). The page's title is the notebook's first heading (the
    stage's title, not nbconvert's "Notebook"), and each chart's alternative text names the
    section it is in ("Chart: Key drivers of satisfaction").
    """
    import html as htmlmod

    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook_path), as_version=4)
    results_file = Path(notebook_path).with_name("results.json")  # in a run folder
    results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.exists() else {}
    nb.cells = [
        c
        for c in nb.cells
        if "injected-parameters" not in c.get("metadata", {}).get("tags", [])
        and cell_applies(c, results)
    ]
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    found = [h for c in nb.cells if c.cell_type == "markdown" for h in headings(c.source)]
    title = found[0] if found else Path(notebook_path).stem
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    for alt in _chart_alts(nb.cells):  # the charts in page order, as nbconvert wrote them
        body = body.replace(_NO_ALT, f'alt="{htmlmod.escape(alt)}"', 1)
    return atomic.write_text(html_path, dash_missing_cells(body))
