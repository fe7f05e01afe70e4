"""Shared fixtures: a throw-away project folder with toy cases for testing the runner."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def make_notebook(path: Path, parameters: str, *cells: str, title: str | None = None) -> Path:
    """Write a small stage notebook: an optional title, a tagged parameters cell, code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    if title:
        nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}"))
    p = nbformat.v4.new_code_cell(parameters)
    p.metadata["tags"] = ["parameters"]
    nb.cells.append(p)
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


TOY_PARAMS = (
    'run_dir: str = ""  # set by the runner\n'
    'data_dir: str = "unused"  # input folder\n'
    "n: int = 3  # how many\n"
    "rate: float = 0.5  # a share\n"
    "fail: bool = False  # make stage 2 fail\n"
)


@pytest.fixture
def toy_project(tmp_path, monkeypatch):
    """A project folder with two toy cases; CRMLAB_HOME points at it (the kernel inherits it)."""
    root = tmp_path / "project"
    cases = root / "notebooks" / "cases"
    start = 'import crmlab\nctx = crmlab.start_stage("{case}", "{stage}", run_dir, data_dir)'
    for case in ("toy", "toy_two"):
        make_notebook(
            cases / case / "01_first.ipynb",
            TOY_PARAMS,
            start.format(case=case, stage="01_first"),
            'crmlab.record("n_customers", n)\ncrmlab.record("share", rate)\n'
            'ctx.save_frame(__import__("pandas").DataFrame({"x": range(n)}), "xs")',
            title=f"Toy case {case}",
        )
        make_notebook(
            cases / case / "02_second.ipynb",
            TOY_PARAMS,
            start.format(case=case, stage="02_second"),
            'xs = ctx.load_frame("xs", "01_first")\ncrmlab.record("total", int(xs.x.sum()))',
            'if fail:\n    raise RuntimeError("planted failure")\ncrmlab.record("after", 1)',
        )
    monkeypatch.setenv("CRMLAB_HOME", str(root))
    return root


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))
