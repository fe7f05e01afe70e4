"""Static checks of the committed notebooks: the conventions every case notebook follows.

- the parameters cell is fully readable by papermill, typed, and shared names agree across stages
  (``case_parameters`` raises otherwise);
- each stage starts the right stage, opens with a markdown question and closes with markdown;
- cells stay short (logic belongs in ``lib/crmlab``), and every notebook carries stored outputs.
"""

from __future__ import annotations

import json
import re

import pytest

from crmlab import paths
from crmlab.cases import all_cases
from crmlab.params import case_parameters

CASES = all_cases()
NOTEBOOKS = [(c, nb) for c in CASES for nb in c.notebooks]
MAX_CELL_LINES = 25


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_both_flagship_cases_exist():
    names = {c.name for c in CASES}
    assert "retail_satisfaction" in names


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parameters_are_typed_and_consistent(case):
    spec = case_parameters(case)
    assert {"run_dir", "data_dir", "seed"} <= set(spec)
    assert all(p.help for p in spec.values()), "every parameter needs a help comment"


@pytest.mark.parametrize("case, nb", NOTEBOOKS, ids=lambda x: getattr(x, "stem", ""))
def test_stage_notebook_conventions(case, nb):
    cells = _cells(nb)
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("#")
    assert cells[-1]["cell_type"] == "markdown"
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    start = f'crmlab.start_stage("{case.name}", "{nb.stem}", run_dir, data_dir, seed)'
    assert any(start in src for src in code), f"{nb.name} must call {start}"
    long = [src.splitlines()[0] for src in code if len(src.splitlines()) > MAX_CELL_LINES]
    assert not long, f"cells over {MAX_CELL_LINES} lines (move logic to the library): {long}"
    assert not any(re.search(r"^\s*def ", src, re.M) for src in code), "no functions in notebooks"


@pytest.mark.parametrize("nb", sorted(paths.notebooks_dir().rglob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_carry_outputs_of_the_canonical_run(nb):
    code = [c for c in _cells(nb) if c["cell_type"] == "code"]
    assert any(c.get("outputs") for c in code), f"{nb} has no stored outputs"
    assert all(
        "injected-parameters" not in c.get("metadata", {}).get("tags", []) for c in _cells(nb)
    ), f"{nb} was saved from a parameterized run, not the canonical one"
