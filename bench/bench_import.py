"""Import of a client export with a free-text column: crmlab's import vs plain pandas.read_csv.

    python bench/bench_import.py                 # 200,000 rows, 3 repeats
    python bench/bench_import.py --rows 50000 --repeat 5

Writes a customers export (``customer_id``, ``signup_date``, ``region`` and an extra column
``service_feedback`` of free-text comments in Chinese and English, some blank or ``N/A``, some
with full-width characters) as UTF-8 CSV into a temporary folder, with a case config that keeps
extra columns (``features: auto``: the comments are typed by ``crmlab.ingest._auto_type`` and
stay text). Measured in the same run, each repeated (``--repeat``) and reported as the median
and the range of the runs:

baseline
    ``pandas.read_csv(path, dtype=str, keep_default_na=False)``: the reading alone, as the
    import reads a CSV (every value as text).
crmlab
    :func:`crmlab.ingest.load` of the config: read, map, type every column (the comments
    included), validate - what ``crmlab validate`` does with the file.
text column
    ``_auto_type`` of the comment column alone (as read), the step that normalized every value
    about six times before it was done once.

Printed: the times, the ratio crmlab / baseline and the share of the import spent on the
comments. No target is asserted: times vary from run to run on a shared machine; compare the
ratio across versions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

WORDS = [
    "服务很好",
    "店员态度不错",
    "排队太久了",
    "停车不方便",
    "价格偏高",
    "会再来",
    "ＯＫ，还行",  # full-width letters and comma
    "great staff",
    "parking was hard",
    "delivery late, 2 days",
    "prices a bit high",
    "will come back",
]


def write_export(folder: Path, rows: int, seed: int = 7) -> Path:
    """The export and its config in ``folder``; returns the config's path."""
    rng = np.random.default_rng(seed)
    n_words = rng.integers(1, 6, size=rows)
    picks = rng.integers(0, len(WORDS), size=int(n_words.sum()))
    comments, i = [], 0
    for k in n_words:
        comments.append(" ".join(WORDS[j] for j in picks[i : i + k]))
        i += k
    comments = np.array(comments, dtype=object)
    blank = rng.random(rows)
    comments[blank < 0.03] = ""
    comments[(blank >= 0.03) & (blank < 0.04)] = "N/A"
    days = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1000, rows), "D")
    pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(rows)],
            "signup_date": days.strftime("%Y-%m-%d"),
            "region": rng.choice(["east", "north", "south", "west"], rows),
            "service_feedback": comments,
        }
    ).to_csv(folder / "customers.csv", index=False)
    cfg = folder / "client.yaml"
    cfg.write_text(
        "case: retail_satisfaction\ndata:\n  customers: customers.csv\nfeatures: auto\n",
        encoding="utf-8",
    )
    return cfg


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def show(name: str, times: list[float]) -> float:
    med = statistics.median(times)
    print(f"  {name:<12} {med:8.2f} s  (runs {min(times):.2f}-{max(times):.2f} s)")
    return med


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from crmlab import config, ingest

    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = write_export(Path(tmp), args.rows)
        csv = Path(tmp) / "customers.csv"
        cfg = config.load_config(cfg_path)
        print(f"Import of {args.rows:,} rows with a free-text column ({args.repeat} runs each)")
        base_t, frame = timed(
            lambda: pd.read_csv(csv, dtype=str, keep_default_na=False), args.repeat
        )
        load_t, prepared = timed(lambda: ingest.load(cfg), args.repeat)
        col = frame["service_feedback"]
        text_t, (values, kind) = timed(
            lambda: ingest._auto_type(col, ".", "customers: service_feedback", []), args.repeat
        )
        extras = prepared.sources["customers"].get("extra_columns", {})
        assert prepared.ok, prepared.problems
        assert kind == "text" and values.notna().sum() == (col != "").sum()
        base = show("baseline", base_t)
        load = show("crmlab", load_t)
        text = show("text column", text_t)
        print(f"crmlab / baseline: {load / base:.1f}x")
        print(f"the comment column's typing: {text:.2f} s, {text / load:.0%} of the import")
        if extras:
            print(f"extra columns typed: {extras}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
