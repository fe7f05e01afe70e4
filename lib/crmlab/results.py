"""Recorded figures and stage context.

A stage notebook starts with :func:`start_stage`, which says which case and stage is running and
where its run directory is. :func:`record` then stores a key figure (``"goal.baseline" -> 0.81``)
in ``<run_dir>/results/<stage>.json``; the runner merges the stages' files into the run's flat
``results.json`` (name -> value). Reports and tests read figures from there, never from outputs.

Run interactively (``run_dir`` empty), a stage uses ``reports/<case>/interactive/`` so that the
stages of a case still pass data to each other in JupyterLab.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmlab import atomic, paths
from crmlab.errors import CrmlabError, StageInputMissing

ONLY_IF = "only-if:"
"""Cell tag prefix: ``only-if:<figure>=<value>`` marks a notebook cell (e.g. the text of one
data shape) that belongs to a run only when the run recorded that value (:func:`cell_applies`)."""

UNLESS = "unless:"
"""Cell tag prefix: ``unless:<figure>=<value>`` marks a notebook cell that a run leaves out when
it recorded that value - the text of the dated shape, ``unless:churn.basis=flag``, is not a
churn-flag extract's (:func:`cell_applies`)."""

NOTEBOOK_ONLY = "notebook-only"
"""Cell tag: a note for analysts (parameter names, library functions) that the report and the
stage pages leave out; the notebook keeps it."""


def recorded_as(results: dict, condition: str) -> bool:
    """Whether a run's ``results`` hold the figure of ``condition`` ("<figure>=<value>", e.g.
    ``churn.basis=flag``) with that value (compared as text; an unrecorded figure reads "None").
    The conditions of cell tags (:func:`cell_applies`) and of the case spec (``when:``,
    ``if:``, :mod:`crmlab.casespec`) all read this way."""
    key, _, value = str(condition).partition("=")
    return str(results.get(key)) == value


def condition_holds(results: dict, condition: str) -> bool:
    """Whether a run's ``results`` meet ``condition``: ``only-if:<figure>=<value>`` and
    ``unless:<figure>=<value>`` as the cell tags read (:func:`cell_applies`), or a figure's key
    alone (``kpi.complaints_per_100``): the run recorded it."""
    text = str(condition)
    for prefix, wanted in ((ONLY_IF, True), (UNLESS, False)):
        if text.startswith(prefix):
            return recorded_as(results, text[len(prefix) :]) == wanted
    return text in results


def cell_applies(cell, results: dict) -> bool:
    """Whether a notebook cell belongs to the reader's version of a run: a cell tagged
    ``only-if:churn.basis=flag`` only when ``results["churn.basis"]`` is ``"flag"`` (the
    finance case's churn-flag path), a cell tagged ``unless:churn.basis=flag`` only when it is
    not (also when the run recorded no such figure); untagged cells always.
    Every tag must allow the cell. The report and the stage pages leave the others out (the
    executed notebook keeps every cell), and cells tagged :data:`NOTEBOOK_ONLY`."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag == NOTEBOOK_ONLY:
            return False
        if tag.startswith((ONLY_IF, UNLESS)) and not condition_holds(results, tag):
            return False
    return True


FRAME_LABELS: dict[str, str] = {
    "features": "customer features",
    "kpi_summary": "the transaction summary for the KPIs",
    "cox_months": "customer-months for the Cox model",
    "snapshot_months": "monthly snapshot totals",
    "score": "today's customers to score",
    "train": "the training set",
    "test": "the test set",
}
"""The tables the stages pass on (:meth:`StageContext.pass_on`) in words; others by their name
with spaces ("complaints")."""


def tables_in_words(names) -> str:
    """The names of tables the stages pass on, sorted, in words (:data:`FRAME_LABELS`; others
    with spaces for underscores), joined by commas: "customer features, the test set"."""
    return ", ".join(FRAME_LABELS.get(n, n.replace("_", " ")) for n in sorted(names))


RESULTS_SUBDIR = "results"
ARTIFACTS_SUBDIR = "artifacts"


@dataclass
class StageContext:
    """What a running stage needs to know: case, stage, its run directory and its input data."""

    case: str
    stage: str
    run_dir: Path
    data_dir: Path
    seed: int = 42
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def results_file(self) -> Path:
        return self.run_dir / RESULTS_SUBDIR / f"{self.stage}.json"

    def artifact_path(self, name: str) -> Path:
        """Path of a file passed between stages, e.g. ``artifact_path("features.parquet")``."""
        return self.run_dir / ARTIFACTS_SUBDIR / name

    def save_frame(self, df, name: str) -> Path:
        """Save a DataFrame for later stages (Parquet, written atomically)."""
        return atomic.write_parquet(df, self.artifact_path(f"{name}.parquet"))

    def pass_on(self, frames: Mapping[str, Any]) -> str:
        """Save each DataFrame of ``frames`` (name -> table) for the later stages
        (:meth:`save_frame`) and return the sentence that tells the reader what was passed on,
        the tables named in words (:data:`FRAME_LABELS`): "Passed on to the next stages:
        complaints, customer features, the transaction summary for the KPIs, ..."."""
        for name, df in frames.items():
            self.save_frame(df, name)
        return f"Passed on to the next stages: {tables_in_words(frames)}."

    def load_frame(self, name: str, produced_by: str = "an earlier stage"):
        """Load a DataFrame saved by an earlier stage; a clear error if that stage has not run."""
        import pandas as pd

        path = self.artifact_path(f"{name}.parquet")
        if not path.exists():
            raise StageInputMissing(
                f"{self.case}/{self.stage} needs '{name}' from {produced_by}, but {path} does not "
                f"exist. Run {produced_by} first (in JupyterLab: run its notebook top to bottom; "
                f"headless: `crmlab run {self.case}` runs all stages in order)."
            )
        return pd.read_parquet(path)

    def recorded_by(self, stage: str) -> dict[str, Any]:
        """The figures an earlier stage of this run recorded ({} if it recorded none)."""
        f = self.run_dir / RESULTS_SUBDIR / f"{stage}.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}

    def has_frame(self, name: str) -> bool:
        return self.artifact_path(f"{name}.parquet").exists()


_current: StageContext | None = None


def start_stage(
    case: str,
    stage: str,
    run_dir: str | Path | None = "",
    data_dir: str | Path | None = "",
    seed: int = 42,
) -> StageContext:
    """Declare the running stage; returns its :class:`StageContext`.

    ``run_dir`` empty means an interactive session: ``reports/<case>/interactive``. ``data_dir``
    empty means the shipped synthetic data of the case (generated on first use if missing).
    The stage's earlier recorded figures are cleared so a re-run never mixes old and new values.
    """
    global _current
    from crmlab import i18n

    i18n.use_cjk_fallback()  # a client's Chinese labels render in the (English) charts
    run = Path(run_dir) if run_dir else paths.reports_dir() / case / "interactive"
    if data_dir:
        data = Path(data_dir)
    else:
        data = paths.synthetic_dir(case)
        from crmlab.synthetic import ensure_synthetic

        ensure_synthetic(case, seed=seed)
    ctx = StageContext(case=case, stage=stage, run_dir=run.resolve(), data_dir=data, seed=seed)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    if ctx.results_file.exists():
        ctx.results_file.unlink()
    _current = ctx
    return ctx


def current_stage() -> StageContext:
    if _current is None:
        raise CrmlabError(
            "No stage is running: call crmlab.start_stage(case, stage, run_dir=...) first."
        )
    return _current


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types (NaN -> None, tuples -> lists)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        np = None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return to_jsonable(value.to_dict())
    if np is not None:
        if isinstance(value, np.ndarray):
            return [to_jsonable(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise CrmlabError(
        f"Cannot record a value of type {type(value).__name__}: record numbers, strings, "
        "lists or small dicts."
    )


def record(name: str, value: Any) -> Any:
    """Record a key figure of the running stage (e.g. ``record("goal.baseline", 0.81)``).

    Values: numbers, strings, lists, small dicts (numpy/pandas values are converted). Returns the
    value unchanged so it can be used inline.
    """
    ctx = current_stage()
    ctx.figures[name] = to_jsonable(value)
    atomic.write_json(ctx.results_file, ctx.figures)
    return value


def recorded() -> dict[str, Any]:
    """The figures recorded so far by the running stage."""
    return dict(current_stage().figures)


def collect_results(run_dir: str | Path, stages: list[str]) -> dict[str, Any]:
    """Merge the stages' recorded figures (in stage order) into one flat dict."""
    merged: dict[str, Any] = {}
    for stage in stages:
        f = Path(run_dir) / RESULTS_SUBDIR / f"{stage}.json"
        if f.exists():
            merged.update(json.loads(f.read_text(encoding="utf-8")))
    return merged


def figure_differences(a: Any, b: Any, path: str = "", rel_tol: float = 1e-9) -> list[str]:
    """Where two results.json trees differ, as ``"<path>: <a> != <b>"`` lines (empty: the same).

    Floats compare to ``rel_tol`` relative (NaN equals NaN); everything else exactly, type
    included. Used to check that two paths of a case (DuckDB vs pandas, client export vs
    canonical data) record the same figures.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        diffs = [f"{path}.{k}: only in one" for k in sorted(set(a) ^ set(b), key=str)]
        for k in sorted(set(a) & set(b), key=str):
            diffs += figure_differences(a[k], b[k], f"{path}.{k}", rel_tol)
        return diffs
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in figure_differences(x, y, f"{path}[{i}]", rel_tol)
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=rel_tol) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{path}: {a} != {b}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]
