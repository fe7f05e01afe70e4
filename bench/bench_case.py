"""Each case end to end at scale: the DuckDB path vs the pandas path, same run.

    python bench/bench_case.py                          # retail, 100k and 1M customers
    python bench/bench_case.py --sizes 100000           # one size
    python bench/bench_case.py --engines duckdb         # only the DuckDB path
    python bench/bench_case.py --case finance_churn     # the finance case

Data: the case generator's Parquet files, cached in ``bench/.data`` (retail: about 20
transactions per customer, the same cache as ``bench/bench_features.py``; finance: 36 monthly
snapshots per open account). For each size and engine the whole case (five stages, HTML export,
action list, report) runs as ``crmlab run <case> -p data_dir=... -p engine=...`` in a fresh
process. Measured:

wall time
    of the whole command (kernel start, every stage, deliverables);
stage times
    from the executed notebooks' cell timings (papermill), per stage;
peak memory
    the largest resident memory of the whole process tree (runner + kernel), sampled every
    0.2 s with psutil, and the kernel's own peak (``ru_maxrss`` of the largest child process).

Printed: a row per size and engine, the ratios duckdb / pandas, where the time goes (stages),
and whether both paths recorded the same results.json figures (floats to 1e-9 relative). Targets
(issue 7): the 1M-customer retail case under 2 minutes and 4 GB on a 2-core, 24 GB machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_features import DEFAULT_CACHE, dataset  # noqa: E402

SIZES = (100_000, 1_000_000)
ENGINES = ("duckdb", "pandas")
STAGES = ("01_goals", "02_data", "03_model", "04_pilot", "05_evaluate")
CASES = ("retail_satisfaction", "finance_churn")


def _tree_rss(proc) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _stage_seconds(run_dir: Path) -> dict[str, float]:
    """Seconds per stage: the sum of the executed notebook's cell durations (papermill)."""
    import nbformat

    out = {}
    for stage in STAGES:
        nb_path = run_dir / f"{stage}.ipynb"
        if not nb_path.exists():
            continue
        nb = nbformat.read(nb_path, as_version=4)
        out[stage] = sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells)
    return out


def _slowest_cells(run_dir: Path, n: int = 5) -> list[tuple[str, float, str]]:
    """The ``n`` slowest cells of the run: (stage, seconds, first code line)."""
    import nbformat

    cells = []
    for stage in STAGES:
        nb_path = run_dir / f"{stage}.ipynb"
        if nb_path.exists():
            for c in nbformat.read(nb_path, as_version=4).cells:
                d = c.metadata.get("papermill", {}).get("duration") or 0.0
                line = next((x for x in c.source.splitlines() if x and x[0] != "#"), "")
                cells.append((stage, round(d, 1), line[:60]))
    return sorted(cells, key=lambda x: -x[1])[:n]


def worker(case: str, engine: str, data_dir: str, out_root: str, stages_only: bool) -> int:
    """``crmlab run`` of the case in this process (``stages_only``: without the deliverables)."""
    from crmlab import runner

    if stages_only:
        runner._write_deliverables = lambda *args, **kwargs: None
    params = {"data_dir": data_dir, "engine": engine}
    [res] = runner.run_cases([case], params, out_root=out_root, progress=False)
    print(res.error or "ok")
    return 0 if res.ok else 1


def measure(
    case: str, data_dir: Path, engine: str, out_root: Path, stages_only: bool = False
) -> dict:
    """Run the case once in a fresh process; wall time, peak memory, stage times, results."""
    import psutil

    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, engine]
    cmd += [str(data_dir)]
    cmd += [str(out_root)] + (["--stages-only"] if stages_only else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(watched))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    output = proc.stdout.read()
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    runs = sorted(out_root.glob(f"{case}/[!.]*/results.json"))
    if proc.returncode != 0 or not runs:
        lines = output.strip().splitlines()
        where = [line.strip() for line in lines if "failed in cell" in line]
        return {"error": where[-1] if where else (lines[-1] if lines else "failed")}
    run_dir = runs[-1].parent
    return {
        "wall_s": wall,
        "peak_mb": peak / 2**20,
        "largest_process_mb": max(child_peak, before) / 1024,
        "stages": _stage_seconds(run_dir),
        "slowest_cells": _slowest_cells(run_dir),
        "results": json.loads(runs[-1].read_text()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="folder for the generated data")
    ap.add_argument("--json", help="write all measurements to this file")
    ap.add_argument(
        "--stages-only",
        action="store_true",
        help="run the five stages but not the deliverables (action list, report, HTML)",
    )
    ap.add_argument("--case", default=CASES[0], choices=CASES)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.stages_only)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    results: dict[int, dict] = {}
    print(f"{args.case}: the whole case end to end, each run in a fresh process")
    print(f"{'customers':>12}  {'engine':<7} {'wall time':>10} {'peak (tree)':>12} {'largest':>9}")
    for n in sizes:
        data = dataset(Path(args.cache), n, case=args.case)
        results[n] = {}
        for engine in engines:
            out_root = Path(tempfile.mkdtemp(prefix=f"crmlab-bench-case-{engine}-"))
            r = measure(args.case, data, engine, out_root, args.stages_only)
            results[n][engine] = r
            if "error" in r:  # the executed notebooks are kept to show where it failed
                print(
                    f"{n:>12,}  {engine:<7} failed: {r['error']} (run kept in {out_root})",
                    flush=True,
                )
                continue
            shutil.rmtree(out_root, ignore_errors=True)
            print(
                f"{n:>12,}  {engine:<7} {r['wall_s']:>8.1f} s {r['peak_mb']:>9,.0f} MB "
                f"{r['largest_process_mb']:>6,.0f} MB   stages: "
                + ", ".join(f"{s[:2]} {t:.1f} s" for s, t in r["stages"].items()),
                flush=True,
            )
            for stage, sec, line in r["slowest_cells"]:
                print(f"{'':>22}{sec:>7.1f} s  {stage}: {line}")
    if set(ENGINES) <= set(engines):
        print("\nratios duckdb / pandas (wall time, peak memory) and results.json parity:")
        for n, r in results.items():
            a, b = r.get("duckdb", {}), r.get("pandas", {})
            if "wall_s" in a and "wall_s" in b:
                from crmlab.results import figure_differences

                diffs = figure_differences(a["results"], b["results"])
                groups: dict[str, int] = {}
                for name in diffs:  # how many differ per group of figures (".cox.ci..." -> cox)
                    group = name.lstrip(".").split(".")[0]
                    groups[group] = groups.get(group, 0) + 1
                print(
                    f"{n:>12,}  wall x{a['wall_s'] / b['wall_s']:.2f}   peak memory "
                    f"x{a['peak_mb'] / b['peak_mb']:.2f}   same figures: "
                    + (
                        "yes"
                        if not diffs
                        else f"NO, {len(diffs)} values differ ("
                        + ", ".join(f"{g}: {k}" for g, k in sorted(groups.items()))
                        + f"; e.g. {sorted(diffs)[0]})"
                    )
                )
    print("\ngrowth of wall time with size (exponent b in time ~ customers^b; 1 = linear):")
    for engine in engines:
        pts = [(n, r[engine]["wall_s"]) for n, r in results.items() if "wall_s" in r[engine]]
        for (n1, t1), (n2, t2) in zip(pts, pts[1:], strict=False):
            b = math.log(t2 / t1) / math.log(n2 / n1)
            print(f"  {engine:<7} {n1:>12,} -> {n2:>12,}: x{t2 / t1:.1f}, b = {b:.2f}")
    if args.json:
        slim = {
            n: {e: {k: v for k, v in r.items() if k != "results"} for e, r in per.items()}
            for n, per in results.items()
        }
        Path(args.json).write_text(json.dumps(slim, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
