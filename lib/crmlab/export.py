"""Export executed notebooks for readers: HTML without code (nbconvert)."""

from __future__ import annotations

import re
from pathlib import Path

from crmlab import atomic

MISSING_MARK = "\u2013"
"""What an HTML table shows for a missing value (an en dash) instead of pandas' ``NaN``,
``NaT``, ``<NA>`` or ``None``: a reader sees "no value", not a programming term."""
_MISSING_CELL = re.compile(r"(<td[^>]*>)\s*(?:NaN|NaT|&lt;NA&gt;|None|nan)\s*(</td>)")


def dash_missing_cells(html: str) -> str:
    """``html`` with every table data cell that holds only a missing-value marker of pandas
    (``NaN``, ``NaT``, ``<NA>``, ``None``) showing :data:`MISSING_MARK`. Header cells (index
    labels, column names) and longer text are left as they are."""
    return _MISSING_CELL.sub(r"\1" + MISSING_MARK + r"\2", html)


def notebook_to_html(notebook_path: str | Path, html_path: str | Path) -> Path:
    """Write an HTML rendering of an executed notebook with code cells' input hidden.

    Markdown, outputs, tables and charts are kept; code, prompts and the runner's injected
    parameters cell are left out; missing values in tables read as a dash
    (:func:`dash_missing_cells`).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook_path), as_version=4)
    nb.cells = [
        c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])
    ]
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nb)
    return atomic.write_text(html_path, dash_missing_cells(body))
