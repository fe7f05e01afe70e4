"""A guard for the case tests of issue 7: the big table of a case (retail transactions, finance
snapshots) must never be materialized in pandas.

:func:`guarded_run` runs a case with a ``sitecustomize.py`` on the kernels' ``PYTHONPATH`` that
(1) fails any pandas/pyarrow read of a file whose path names the source (in the runner's own
process too, which writes the deliverables), and (2) fails any result
the DuckDB backend returns with more than ``max_rows`` rows (and, when ``narrow_cols`` is given,
more than that many columns: a narrow per-month table may be long).
"""

from __future__ import annotations

import os

import pytest

from crmlab import runner

READERS = """
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def guard_readers(source, setattr=setattr):
    # every pandas/pyarrow whole-file read of a file whose path names the source fails

    def _no_source(real, name):
        def read(path, *args, **kwargs):
            if source in str(path):
                raise RuntimeError(f"GUARD: {name} read the {source} into Python")
            return real(path, *args, **kwargs)

        return read

    setattr(pd, "read_csv", _no_source(pd.read_csv, "pandas.read_csv"))
    setattr(pd, "read_parquet", _no_source(pd.read_parquet, "pandas.read_parquet"))
    setattr(pq, "read_table", _no_source(pq.read_table, "pyarrow.parquet.read_table"))
    setattr(pacsv, "read_csv", _no_source(pacsv.read_csv, "pyarrow.csv.read_csv"))
"""

SITECUSTOMIZE = (
    READERS
    + """
# Loaded by every Python process started with this folder on PYTHONPATH (the kernels).
import os

if os.environ.get("CRMLAB_GUARD"):
    import ibis.backends.duckdb as ibis_duckdb

    source, limit, narrow = os.environ["CRMLAB_GUARD"].split(":")
    limit, narrow = int(limit), int(narrow)
    guard_readers(source)

    def _small_results(real):
        def fetch(self, expr, *args, **kwargs):
            out = real(self, expr, *args, **kwargs)
            if isinstance(out, str) or not hasattr(out, "__len__") or len(out) <= limit:
                return out
            shape = getattr(out, "shape", None) or (len(out),)
            n_cols = shape[1] if len(shape) == 2 else 1
            if narrow == 0 or n_cols > narrow:
                raise RuntimeError(f"GUARD: the engine returned {len(out)} rows x {n_cols}")
            return out

        return fetch

    for method in ("execute", "to_pyarrow"):
        setattr(ibis_duckdb.Backend, method, _small_results(getattr(ibis_duckdb.Backend, method)))
"""
)


def guarded_run(tmp_path, case: str, source: str, max_rows: int, narrow_cols: int = 0, **params):
    """Run ``case`` (``params`` as notebook parameters) with the guard on ``source``; returns the
    runner's result (``ok`` False and the GUARD message in ``error`` when it fired)."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]))
        mp.setenv("CRMLAB_GUARD", f"{source}:{max_rows}:{narrow_cols}")
        # the runner itself (this process: deliverables such as the action list) too
        readers: dict = {}
        exec(READERS, readers)
        readers["guard_readers"](source, mp.setattr)
        [res] = runner.run_cases([case], params, out_root=tmp_path / "reports", progress=False)
    return res
