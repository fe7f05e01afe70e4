"""Runner overhead: the full suite through the runner vs the same code in one plain process.

Prints wall times and the ratio runner / plain, measured in the same run on this machine:

    python bench/bench_runner.py [--jobs 2] [--repeat 1]

"plain" executes every stage notebook's code cells (default parameters, a temporary run folder)
with ``exec`` in this one Python process, doing what a kernel does with the results (each cell's
figures rendered to PNG, displayed tables rendered to HTML) but no kernels, no papermill, no
export. The runner's extra cost is kernel start-up, cell messaging, saving notebooks, the HTML
export of every stage and the deliverables (report.html, action list, index).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402

from crmlab.cases import all_cases  # noqa: E402


def _cells_of(nb_path: Path, run_dir: Path) -> list[str]:
    nb = nbformat.read(str(nb_path), as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            src += f"\nrun_dir = {str(run_dir)!r}"
        # IPython-only syntax is not allowed in case notebooks, so plain exec works
        cells.append(src)
    return cells


def _render(obj) -> None:
    """What a kernel does with a displayed object: its rich (HTML/Markdown) or plain form."""
    for method in ("_repr_html_", "_repr_markdown_"):
        if hasattr(obj, method):
            getattr(obj, method)()
            return
    repr(obj)


def _render_figures(plt) -> None:
    """Render every open figure to PNG (as the inline backend does at the end of a cell)."""
    for num in plt.get_fignums():
        plt.figure(num).savefig(io.BytesIO(), format="png", dpi=72)
    plt.close("all")


def run_plain(tmp: Path) -> float:
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    for case in all_cases():
        run_dir = tmp / "plain" / case.name
        for nb in case.notebooks:
            namespace = {"__name__": "__main__", "display": _render}
            for code in _cells_of(nb, run_dir):
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code, str(nb), "exec"), namespace)
                _render_figures(plt)
    return time.perf_counter() - start


def run_runner(tmp: Path, jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "crmlab", "run", "--all", "--jobs", str(jobs), "--out", str(tmp)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def cli_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "crmlab", "list"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    cases = all_cases()
    n_nb = sum(len(c.notebooks) for c in cases)
    print(f"{len(cases)} cases, {n_nb} notebooks")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_plain(tmp)  # warm the data and the OS file cache once
        plain = min(run_plain(tmp) for _ in range(args.repeat))
        runner1 = min(run_runner(tmp / "r1", 1) for _ in range(args.repeat))
        runnerj = min(run_runner(tmp / "rj", args.jobs) for _ in range(args.repeat))
    startup = cli_startup()
    print(f"plain process (baseline)   {plain:7.2f} s")
    print(f"runner --jobs 1            {runner1:7.2f} s   ratio {runner1 / plain:5.2f}x baseline")
    print(
        f"runner --jobs {args.jobs}            {runnerj:7.2f} s   ratio {runnerj / plain:5.2f}x baseline"
    )
    print(f"`crmlab list` start-up     {startup:7.2f} s")


if __name__ == "__main__":
    main()
