"""Feature build at scale: crmlab's DuckDB engine vs a plain-pandas baseline, same computation.

    python bench/bench_features.py                      # 100k and 1M customers
    python bench/bench_features.py --sizes 100000       # one size
    python bench/bench_features.py --ten-million        # also 10M (about 200M transactions)
    python bench/bench_features.py --growth             # 1M, 2M, 5M, 10M: growth in each regime

For each size the retail generator writes Parquet files (about 20 transactions per customer) into
a cache folder (default ``bench/.data``, ignored by git; reused on later runs). Every measurement
runs in a fresh Python process, which reports the wall time of the build (imports excluded) and
its peak resident memory (``ru_maxrss``, imports included); the modules each method uses
(pandas, pyarrow, and for crmlab DuckDB, Ibis' DuckDB backend and crmlab's rule lookup with
pandera) are imported before the clock starts. Measured in the same run:

crmlab
    :func:`crmlab.engine.customer_features` with ``engine="duckdb"``: cleaning (duplicates,
    duplicate keys, missing amounts, orphans, out-of-range survey answers) and the customer-level
    features inside DuckDB; only the customer table comes back, as pandas. DuckDB runs under
    the library's cap for a stand-alone build (:func:`crmlab.engine.backends.build_memory_limit`,
    4 GB here) unless ``--duckdb-memory`` sets another (``80%`` is DuckDB's own default).
baseline
    plain pandas doing the same: load the tables, drop duplicates/missing/orphans, groupby,
    merge (the usual notebook code, without crmlab's checks and notes).

Each measurement is repeated (``--repeat``, default 3; above 1M customers ``--repeat-large``,
default 1) and the medians are reported with the range of the runs: a single run's time varies
by up to half from run to run here (the pandas baseline most), enough to move a ratio across a
target.

Printed: wall time, CPU time (user + system: a fairer measure when other work shares the
machine) and peak memory per size and method, the ratios crmlab / baseline, and how time grows
with size (the exponent b in time ~ rows^b between consecutive sizes; 1 = linear). Both
methods' results are checked to agree (customers, transactions and net spend totals).
Above 1M customers only the crmlab engine runs by default (``--baseline-large`` adds the
pandas baseline, which needs about 5 GB per million customers), and it writes the customer table to
Parquet (:func:`crmlab.engine.write_customer_features`) instead of returning one pandas table.

The engine builds in one pass up to about 21M transaction rows (1M customers) and in passes over
buckets of customers above that (:data:`crmlab.engine.retail.ROWS_PER_PASS`), which adds work a
one-pass build does not do (the bucket files, a separate duplicate check). The table shows the
passes per size; ``--growth`` (1M, 2M, 5M and 10M customers) measures how time grows within each
regime as well as across the switch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".data"
SIZES = (100_000, 1_000_000)
TEN_MILLION = 10_000_000
LARGE = 1_000_000
"""Above this many customers: engine only (unless ``--baseline-large``), one run
(``--repeat-large``), customer table written to Parquet."""
GROWTH_SIZES = (1_000_000, 2_000_000, 5_000_000, TEN_MILLION)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def dataset(
    cache: Path, n_customers: int, seed: int = 42, case: str = "retail_satisfaction"
) -> Path:
    """The case's Parquet data for ``n_customers`` (generated once, then reused): retail by
    default, ``case="finance_churn"`` for the finance generator."""
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    if case == "retail_satisfaction":
        from crmlab.synth.retail import generate_retail as generate
    else:
        from crmlab.synth.finance import generate_finance as generate
    out = cache / f"{case.split('_')[0]}_{n_customers}"
    if not (out / "truth.json").exists():
        start = time.perf_counter()
        print(f"generating {n_customers:,} {case} customers into {out} ...", flush=True)
        generate(out, n_customers=n_customers, seed=seed, fmt="parquet")
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def engine_passes(data_dir: Path) -> int:
    """Passes the engine's feature build makes over the transactions of ``data_dir`` under the
    stand-alone build's memory cap (1 = one pass; see
    :func:`crmlab.engine.retail.build_retail_features`)."""
    from crmlab import engine
    from crmlab.engine import backends, retail

    limit = os.environ.get("CRMLAB_BENCH_DUCKDB_MEMORY") or backends.build_memory_limit()
    con = engine.connect("duckdb", memory_limit=limit)
    return retail.pass_count(con, data_dir / "transactions.parquet")


# --------------------------------------------------------------------------------------------
# the two methods (run inside a worker process)
# --------------------------------------------------------------------------------------------
def _connect():
    """The connection for ``--duckdb-memory``; None (the library's own capped connection,
    :func:`crmlab.engine.backends.build_memory_limit`) without it."""
    from crmlab import engine

    limit = os.environ.get("CRMLAB_BENCH_DUCKDB_MEMORY")
    return engine.connect("duckdb", memory_limit=limit) if limit else None


def build_crmlab(data_dir: Path):
    from crmlab import engine

    feats = engine.customer_features(data_dir, engine="duckdb", con=_connect())
    return feats, {
        "customers": len(feats),
        "transactions": int(feats["n_transactions"].sum() + feats["n_returns"].sum()),
        "net_spend": float(feats["monetary"].sum()),
    }


def build_crmlab_parquet(data_dir: Path, out: Path):
    """The 10M build: stream the customer table to Parquet instead of one pandas table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from crmlab import engine

    engine.write_customer_features(data_dir, out, con=_connect())
    t = pq.read_table(out, columns=["n_transactions", "n_returns", "monetary"])
    return None, {
        "customers": t.num_rows,
        "transactions": int(pc.sum(t["n_transactions"]).as_py() + pc.sum(t["n_returns"]).as_py()),
        "net_spend": float(pc.sum(t["monetary"]).as_py()),
    }


def build_baseline(data_dir: Path):
    """Plain pandas: load, clean (the faults that matter), groupby, merge."""
    import numpy as np
    import pandas as pd

    from crmlab.quality import RETAIL_DRIVERS

    def read(name):
        return pd.read_parquet(data_dir / f"{name}.parquet")

    stores = read("stores")
    cust = read("customers").drop_duplicates()
    cust = cust[~cust["customer_id"].duplicated()]
    cust["signup_date"] = pd.to_datetime(cust["signup_date"])
    cust["loyalty_member"] = cust["loyalty_member"].map({"yes": True, "no": False})

    tx = read("transactions").drop_duplicates()
    tx = tx[~tx["transaction_id"].duplicated()]
    tx = tx[
        tx["amount"].notna()
        & tx["customer_id"].isin(cust["customer_id"])
        & tx["store_id"].isin(stores["store_id"])
    ]
    tx["day"] = pd.to_datetime(tx["date"])
    as_of = tx["day"].max() + pd.Timedelta(days=1)
    buy = tx["amount"] >= 0
    t = pd.DataFrame(
        {
            "customer_id": tx["customer_id"],
            "buy": buy,
            "ret": ~buy,
            "amount": tx["amount"],
            "gross": tx["amount"].where(buy, 0.0),
            "pday": tx["day"].where(buy),
            "items": tx["items"].where(buy),
            "promo": tx["promotion"].where(buy),
            "store": tx["store_id"].where(buy),
        }
    )
    del tx
    f = t.groupby("customer_id").agg(
        n_transactions=("buy", "sum"),
        n_returns=("ret", "sum"),
        frequency=("pday", "nunique"),
        monetary=("amount", "sum"),
        gross_spend=("gross", "sum"),
        first_purchase=("pday", "min"),
        last_purchase=("pday", "max"),
        avg_items=("items", "mean"),
        promo_share=("promo", "mean"),
        n_stores=("store", "nunique"),
    )
    del t
    f["avg_basket"] = (f["gross_spend"] / f["n_transactions"]).where(f["n_transactions"] > 0)
    f["returns_share"] = f["n_returns"] / (f["n_transactions"] + f["n_returns"])
    f["recency_days"] = (as_of - f["last_purchase"]).dt.days
    f["days_since_first_purchase"] = (as_of - f["first_purchase"]).dt.days
    span = (f["last_purchase"] - f["first_purchase"]).dt.days
    f["cadence_days"] = (span / (f["frequency"] - 1)).where(f["frequency"] >= 2)

    sv = read("survey").drop_duplicates()
    sv = sv[~sv["response_id"].duplicated()]
    for c in ("overall_satisfaction", *RETAIL_DRIVERS):
        sv[c] = sv[c].where(sv[c].between(1, 5))
    sv["recommend"] = sv["recommend"].where(sv["recommend"].between(0, 10))
    sv = sv[sv["customer_id"].isin(cust["customer_id"])]
    sv["day"] = pd.to_datetime(sv["date"])
    sv = sv[sv["day"] < as_of].sort_values("day", kind="mergesort")
    latest = sv.groupby("customer_id").tail(1).set_index("customer_id")
    s = latest[["day", "overall_satisfaction", "recommend", *RETAIL_DRIVERS]].astype(
        {c: float for c in ("overall_satisfaction", "recommend", *RETAIL_DRIVERS)}
    )
    s = s.rename(columns={"day": "last_survey_date"})
    s.insert(0, "n_survey_responses", sv.groupby("customer_id").size())
    s.insert(4, "driver_mean", s[list(RETAIL_DRIVERS)].mean(axis=1))

    cp = read("complaints").drop_duplicates()
    cp = cp[cp["customer_id"].isin(cust["customer_id"])]
    cp["day"] = pd.to_datetime(cp["date"])
    cp = cp[cp["day"] < as_of]
    resolved = cp["resolved"].map({"yes": True, "no": False})
    c = pd.DataFrame(
        {
            "customer_id": cp["customer_id"],
            "unresolved": (resolved == False).astype(int),  # noqa: E712
            "days": cp["days_to_resolve"].where(resolved.fillna(False).astype(bool)),
        }
    )
    c = c.groupby("customer_id").agg(
        n_complaints=("customer_id", "size"),
        n_unresolved=("unresolved", "sum"),
        mean_days_to_resolve=("days", "mean"),
    )

    out = cust.merge(f, how="left", left_on="customer_id", right_index=True)
    out = out.merge(s, how="left", left_on="customer_id", right_index=True)
    out = out.merge(c, how="left", left_on="customer_id", right_index=True)
    for col in ("n_transactions", "n_returns", "frequency", "n_stores", "n_survey_responses"):
        out[col] = out[col].fillna(0).astype(np.int64)
    for col in ("n_complaints", "n_unresolved"):
        out[col] = out[col].fillna(0).astype(np.int64)
    out["monetary"] = out["monetary"].fillna(0.0)
    out["tenure_days"] = (as_of - out["signup_date"]).dt.days
    out = out.set_index("customer_id")
    return out, {
        "customers": len(out),
        "transactions": int(out["n_transactions"].sum() + out["n_returns"].sum()),
        "net_spend": float(out["monetary"].sum()),
    }


METHODS = {"crmlab": build_crmlab, "baseline": build_baseline}


def worker(method: str, data_dir: Path, out: Path | None) -> None:
    """Run one build in this (fresh) process and print one JSON line."""
    # imports are not timed; each method imports only what it uses
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if method == "crmlab":
        import duckdb  # noqa: F401
        import ibis  # noqa: F401
        import ibis.backends.duckdb  # noqa: F401  (imported by the first connect)

        import crmlab.engine  # noqa: F401
        import crmlab.sources  # noqa: F401  (the build's rules; imports pandera)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_before, cpu_before = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    if out is not None:
        _, check = build_crmlab_parquet(data_dir, out)
    else:
        _, check = METHODS[method](data_dir)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak = usage.ru_maxrss / 1024  # KiB -> MiB on Linux
    out = {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak, "start_mb": rss_before, **check}
    print(json.dumps(out))


def measure_once(method: str, data_dir: Path, out: Path | None = None) -> dict:
    """One build of ``method`` in a fresh process: its JSON line (or ``{"error": ...}``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, str(data_dir)]
    if out is not None:
        cmd += ["--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(method: str, data_dir: Path, out: Path | None = None, repeat: int = 1) -> dict:
    """``repeat`` builds, each in a fresh process: the median of each measurement (wall, CPU,
    peak), with every run's wall time and peak in ``runs_wall_s`` / ``runs_peak_mb``. One run's
    times vary by up to half between runs on this machine (the pandas baseline most), so the
    ratios and growth exponents are taken from medians."""
    import statistics

    runs = [measure_once(method, data_dir, out) for _ in range(max(1, repeat))]
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "peak_mb")}
    return {
        **runs[0],
        **med,
        "runs_wall_s": [r["wall_s"] for r in runs],
        "runs_peak_mb": [r["peak_mb"] for r in runs],
    }


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _fmt_row(n: int, method: str, r: dict) -> str:
    if "error" in r:
        return f"{n:>12,}  {method:<9} failed: {r['error']}"
    spread = ""
    if len(r.get("runs_wall_s", [])) > 1:
        w, m = r["runs_wall_s"], r["runs_peak_mb"]
        spread = (
            f"   runs: {min(w):.1f}-{max(w):.1f} s, {min(m):,.0f}-{max(m):,.0f} MB"
            f" ({len(w)} runs, medians shown)"
        )
    return (
        f"{n:>12,}  {method:<9} {r['wall_s']:>9.1f} s {r['cpu_s']:>9.1f} s "
        f"{r['peak_mb']:>9,.0f} MB   ({r['transactions']:,} transactions kept){spread}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    ap.add_argument("--ten-million", action="store_true", help="also build 10M customers")
    ap.add_argument(
        "--growth",
        action="store_true",
        help="sizes 1M, 2M, 5M and 10M (the one-pass regime and the regime in passes)",
    )
    ap.add_argument(
        "--baseline-large",
        action="store_true",
        help="also run pandas above 1M customers (about 5 GB per million customers)",
    )
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="folder for the generated data")
    ap.add_argument("--json", help="write all measurements to this file")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="builds per size and method below 10M, each in a fresh process; medians are "
        "reported (default 3)",
    )
    ap.add_argument(
        "--repeat-large",
        type=int,
        default=1,
        help="builds per size above 1M customers (default 1: about 4 min each at 10M)",
    )
    ap.add_argument(
        "--duckdb-memory",
        help="DuckDB memory_limit, e.g. 8GB or 80%% (DuckDB's own default); default: the "
        "library's cap for a feature build (engine.backends.build_memory_limit, 4GB)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("data_dir", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, Path(args.data_dir), Path(args.out) if args.out else None)
        return 0

    if args.duckdb_memory:
        os.environ["CRMLAB_BENCH_DUCKDB_MEMORY"] = args.duckdb_memory
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.growth:
        sizes = list(GROWTH_SIZES)
    elif args.ten_million:
        sizes.append(TEN_MILLION)
    cache = Path(args.cache)
    results: dict[int, dict] = {}
    passes = {}
    print(
        f"{'customers':>12}  {'method':<9} {'wall time':>11} {'CPU time':>11} {'peak memory':>12}"
    )
    for n in sizes:
        data = dataset(cache, n)
        passes[n] = engine_passes(data)
        results[n] = {"passes": passes[n]}
        for method in ("crmlab", "baseline"):
            if n > LARGE and method == "baseline" and not args.baseline_large:
                continue
            out = cache / f"features_{n}.parquet" if n > LARGE else None
            repeat = args.repeat_large if n > LARGE else args.repeat
            r = measure(method, data, out if method == "crmlab" else None, repeat)
            results[n][method] = r
            print(_fmt_row(n, method, r) + f"   [{passes[n]} pass(es)]" * (method == "crmlab"))

    print("\nratios crmlab / baseline (time, peak memory):")
    for n, r in results.items():
        a, b = r.get("crmlab", {}), r.get("baseline", {})
        if "wall_s" in a and "wall_s" in b:
            same = all(
                math.isclose(a[k], b[k], rel_tol=1e-9)
                for k in ("customers", "transactions", "net_spend")
            )
            print(
                f"{n:>12,}  wall time x{a['wall_s'] / b['wall_s']:.2f}   CPU time "
                f"x{a['cpu_s'] / b['cpu_s']:.2f}   peak memory x{a['peak_mb'] / b['peak_mb']:.2f}"
                f"   same totals: {'yes' if same else 'NO'}"
            )

    print("\ngrowth of time with size (exponent b in time ~ customers^b; 1 = linear):")
    for method in ("crmlab", "baseline"):
        for key in ("wall_s", "cpu_s"):
            pts = [(n, r[method][key]) for n, r in results.items() if key in r.get(method, {})]
            pairs = list(zip(pts, pts[1:], strict=False))
            in_passes = [(n, t) for n, t in pts if passes[n] > 1]
            if len(in_passes) > 2:  # the whole regime in passes, first to last size
                pairs.append((in_passes[0], in_passes[-1]))
            for (n1, t1), (n2, t2) in pairs:
                b = math.log(t2 / t1) / math.log(n2 / n1)
                what = "wall" if key == "wall_s" else "CPU"
                regime = "one pass" if passes[n2] == 1 else "in passes"
                if passes[n1] == 1 < passes[n2]:
                    regime = "across the switch"
                print(
                    f"  {method:<9} {what:<4} {n1:>12,} -> {n2:>12,}: x{t2 / t1:.1f}, b = {b:.2f}"
                    f"   ({regime})"
                )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
