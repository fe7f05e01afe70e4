"""Reading a finished run directory (``reports/<case>/<run>/``, written by :mod:`crmlab.runner`):
its status, recorded figures, effective parameters, artifacts and executed notebooks.

Deliverables (report, action list) read runs only through :class:`Run`, so they never depend on
how the runner wrote them beyond the documented files.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmlab.errors import CrmlabError, StageInputMissing
from crmlab.results import ARTIFACTS_SUBDIR


def plan_start_month(results: Mapping[str, Any]) -> str | None:
    """The month the run's action plan starts (``YYYY-MM``): ``plan.start`` (the ``plan_start``
    parameter, else the data's last month), or ``goal.start`` for runs that predate
    ``plan.start``; None for a run that recorded no plan."""
    month = results.get("plan.start") or results.get("goal.start")
    return str(month) if month else None


@dataclass(frozen=True)
class Run:
    """A run directory. ``Run.open(path)`` checks that it is one."""

    path: Path

    @classmethod
    def open(cls, run_dir: str | Path) -> Run:
        path = Path(run_dir).resolve()
        if not (path / "status.json").is_file():
            raise CrmlabError(
                f"{path} is not a run directory (no status.json). Give a folder `crmlab run` "
                "wrote: reports/<case>/<run> (e.g. reports/retail_satisfaction/latest), or for "
                "a config run <config folder>/runs/<case>/<run>."
            )
        return cls(path)

    @functools.cached_property
    def status(self) -> dict[str, Any]:
        return json.loads((self.path / "status.json").read_text(encoding="utf-8"))

    @functools.cached_property
    def results(self) -> dict[str, Any]:
        f = self.path / "results.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}

    @property
    def case(self) -> str:
        return self.status["case"]

    @property
    def finished_on(self) -> dt.date | None:
        """The day the run finished (started, if it did not), from status.json."""
        when = self.status.get("finished") or self.status.get("started")
        return dt.date.fromisoformat(str(when)[:10]) if when else None

    @property
    def ok(self) -> bool:
        return self.status.get("status") == "ok"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stages_done(self) -> list[str]:
        return list(self.status.get("stages_done") or [])

    @property
    def failed_stage(self) -> str | None:
        return self.status.get("failed_stage")

    @property
    def stages(self) -> list[str]:
        """Stages with an executed notebook in the run, in order (done ones, then the failed one)."""
        names = [*self.stages_done, *([self.failed_stage] if self.failed_stage else [])]
        return [s for s in names if (self.path / f"{s}.ipynb").exists()]

    def notebook(self, stage: str):
        import nbformat

        return nbformat.read(str(self.path / f"{stage}.ipynb"), as_version=4)

    @functools.cached_property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """Effective parameters: name -> ``{"value", "default", "user"}``.

        Defaults come from the ``parameters`` cells of the run's own executed notebooks (so a
        later edit of the case notebooks does not rewrite history); values set for the run
        (``status.json``) override them. ``run_dir`` is left out (it is the run itself).
        """
        from crmlab.params import _literal, notebook_parameters

        params: dict[str, dict[str, Any]] = {}
        for stage in self.stages:
            for name, raw in notebook_parameters(self.path / f"{stage}.ipynb").items():
                if name != "run_dir" and name not in params:
                    default = _literal(raw["default"])
                    params[name] = {"value": default, "default": default, "user": False}
        for name, value in (self.status.get("parameters") or {}).items():
            entry = params.setdefault(name, {"default": None})
            entry.update(value=value, user=True)
        return params

    def param(self, name: str, default: Any = None) -> Any:
        entry = self.parameters.get(name)
        return default if entry is None else entry["value"]

    def data_dir(self) -> Path:
        """The input folder of the run: ``data_dir`` if set, else the case's synthetic data."""
        return input_folder(self.case, self.param("data_dir"))

    def has_artifact(self, name: str) -> bool:
        return (self.path / ARTIFACTS_SUBDIR / f"{name}.parquet").exists()

    def artifact(self, name: str):
        """A table a stage passed on (``artifacts/<name>.parquet``) as a DataFrame."""
        import pandas as pd

        f = self.path / ARTIFACTS_SUBDIR / f"{name}.parquet"
        if not f.exists():
            have = sorted(p.stem for p in (self.path / ARTIFACTS_SUBDIR).glob("*.parquet"))
            raise StageInputMissing(
                f"Run {self.path} has no artifact '{name}' (it has: {', '.join(have) or 'none'}). "
                "The stage that writes it did not run or skipped it."
            )
        return pd.read_parquet(f)


def runs_in(folder: str | Path) -> list[Run]:
    """The runs directly in ``folder`` (a case's folder of runs: the folders holding a
    status.json), oldest first - run names start with their UTC start time. The ``latest`` link
    and hidden folders (a run being written) are not runs of their own."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if not p.is_symlink()
        and p.name != "latest"
        and not p.name.startswith(".")
        and (p / "status.json").is_file()
    ]
    return [Run(p.resolve()) for p in sorted(found, key=lambda p: p.name)]


def input_folder(case: str, data_dir: str | Path | None) -> Path:
    """A case's input folder: ``data_dir`` if given, else the case's synthetic data."""
    from crmlab import paths

    return Path(data_dir) if data_dir else paths.synthetic_dir(case)
