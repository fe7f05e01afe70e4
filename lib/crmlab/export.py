"""Export executed notebooks for readers: HTML without code (nbconvert)."""

from __future__ import annotations

from pathlib import Path

from crmlab import atomic


def notebook_to_html(notebook_path: str | Path, html_path: str | Path) -> Path:
    """Write an HTML rendering of an executed notebook with code cells' input hidden.

    Markdown, outputs, tables and charts are kept; code, prompts and the runner's injected
    parameters cell are left out.
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
    return atomic.write_text(html_path, body)
