"""Refresh the committed notebooks: re-execute them in place with their default (canonical)
parameters, so the stored outputs are those of the canonical run that nbval compares against."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from crmlab import paths
from crmlab.cases import all_cases, get_case


def _strip_run_metadata(nb) -> None:
    """Drop per-run timing metadata so a refresh only changes what a reader sees."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)


def refresh_notebook(path: Path) -> None:
    """Execute one notebook in place in a fresh kernel (default parameters; nothing injected)."""
    import nbformat
    import papermill

    from crmlab.atomic import atomic_path
    from crmlab.runner import start_kernel

    km, sockets = start_kernel(path.parent)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / path.name
            papermill.execute_notebook(
                str(path), str(out), kernel_name="python3", km=km, progress_bar=False
            )
            nb = nbformat.read(str(out), as_version=4)
    finally:
        km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)
    _strip_run_metadata(nb)
    with atomic_path(path) as tmp_path:
        nbformat.write(nb, str(tmp_path))


def refresh_notebooks(case_names: list[str] | None = None) -> None:
    """Refresh every stage notebook of the given cases (default: all), in stage order, and the
    start-here notebook. A case's interactive run folder is cleared first so stages do not read
    stale artifacts."""
    cases = [get_case(n) for n in case_names] if case_names else all_cases()
    for case in cases:
        shutil.rmtree(paths.reports_dir() / case.name / "interactive", ignore_errors=True)
        for nb in case.notebooks:
            print(f"refreshing {nb.relative_to(paths.project_root())}", flush=True)
            refresh_notebook(nb)
    if not case_names:
        for nb in sorted(paths.notebooks_dir().glob("*.ipynb")):
            print(f"refreshing {nb.relative_to(paths.project_root())}", flush=True)
            refresh_notebook(nb)
