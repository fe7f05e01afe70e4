"""The case catalogue: each case is a folder ``notebooks/cases/<case>/`` of stage notebooks
``01_goals.ipynb`` ... ``05_evaluate.ipynb``, executed in name order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from crmlab import paths
from crmlab.errors import CrmlabError

STAGES = ("01_goals", "02_data", "03_model", "04_pilot", "05_evaluate")


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path

    @property
    def notebooks(self) -> list[Path]:
        """Stage notebooks in execution order."""
        return sorted(self.folder.glob("[0-9][0-9]_*.ipynb"))

    @property
    def stages(self) -> list[str]:
        return [p.stem for p in self.notebooks]

    @property
    def title(self) -> str:
        """The first markdown heading of the first stage notebook (without the leading #)."""
        nbs = self.notebooks
        if not nbs:
            return self.name
        nb = json.loads(nbs[0].read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "markdown":
                for line in "".join(cell.get("source", "")).splitlines():
                    if line.startswith("#"):
                        return line.lstrip("#").strip()
        return self.name


def all_cases() -> list[Case]:
    root = paths.cases_dir()
    if not root.is_dir():
        return []
    return [
        Case(p.name, p) for p in sorted(root.iterdir()) if p.is_dir() and any(p.glob("*.ipynb"))
    ]


def get_case(name: str) -> Case:
    for case in all_cases():
        if case.name == name:
            return case
    known = ", ".join(c.name for c in all_cases()) or "(none)"
    raise CrmlabError(f"Unknown case '{name}'. Known cases: {known}. (`crmlab list` shows them.)")
