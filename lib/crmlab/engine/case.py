"""A case's data stage with its large sources kept in the engine.

The retail case's ``02_data`` stage loads the small sources (customers, survey, complaints,
stores, pilot) in pandas as before, but the transactions stay where they are: DuckDB (default) or
Spark reads the file and only counts and customer-level tables come back.

* :func:`open_large_sources` - register the large sources (and their parents) on a connection;
  with ``engine="pandas"`` nothing is registered and every function below is the plain pandas
  function of :mod:`crmlab.quality` (the reference path).
* :func:`quality_report` / :func:`clean_tables` - :func:`crmlab.quality.quality_report` and
  :func:`crmlab.quality.clean_tables` over the small tables in pandas and the large ones in the
  engine (:mod:`crmlab.engine.checks`), merged in the order pandas gives them: the same findings,
  notes and row counts as the pandas path.
* :func:`kpi_summary` - the transaction summary behind the KPI dashboard
  (:func:`crmlab.kpis.transaction_summary`), from the cleaned transactions in the engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from crmlab.engine.backends import (
    Source,
    connect,
    ids_as_found,
    materialize,
    physical_memory,
    register_source,
    set_row_order,
    source_path,
    source_rows,
)
from crmlab.engine.checks import TableChecks, table_checks
from crmlab.errors import DataError

__all__ = [
    "LARGE_SOURCES",
    "LargeSources",
    "case_memory_limit",
    "clean_tables",
    "kpi_summary",
    "open_large_sources",
    "quality_report",
]

LARGE_SOURCES: dict[str, tuple[str, ...]] = {
    "retail_satisfaction": ("transactions",),
    "finance_churn": ("snapshots",),
}
"""Per case, the sources that stay in the engine (never read into pandas)."""

CACHE_CLEAN = frozenset({"finance_churn"})
"""Cases whose cleaned large tables are queried many times (the finance snapshots: months,
profile, modelling sets, Cox input): computed once (``LargeSources.materialize_clean``)."""

CASE_MEMORY_LIMIT = "2GB"
"""DuckDB's memory cap in a case's data stage for large sources of up to
:data:`ROWS_PER_CASE_GB` x 2 rows: the aggregations spill to disk above it, leaving room for the
pandas tables of the same kernel (the 1M-customer retail case stays under 4 GB in all). Larger
sources get a larger cap (:func:`case_memory_limit`)."""
ROWS_PER_CASE_GB = 20_000_000
"""Above ``2 x`` this many rows in its large sources a case's DuckDB cap grows by 1 GB per this
many rows, up to half the machine's memory: at 205M transactions (10M retail customers) DuckDB
cannot fit the per-customer aggregations' working set in 2 GB even when spilling."""


@dataclass
class LargeSources:
    """The large sources of a case, registered (lazily) on an engine connection.

    Attributes
    ----------
    case, data_dir, engine
        The case, its data folder and the engine (``"pandas"``: no large sources).
    con
        The Ibis connection (None for ``"pandas"``); reuse it for the feature build.
    sources
        Large source name -> :class:`~crmlab.engine.backends.Source`.
    parents
        Raw registered parent tables (e.g. customers, stores) for the foreign-key checks.
    materialize
        Read each large source from its file once, into a Parquet file in the engine's spill
        folder (see :func:`~crmlab.engine.checks.table_checks`, ``cache``); set by
        :func:`open_large_sources`.
    materialize_clean
        Also keep each *cleaned* large table (:func:`~crmlab.engine.backends.materialize`), for
        a case that queries it many times (the finance snapshots: months, profile, modelling
        sets, Cox input), so the cleaning expressions run once rather than in every query.
    """

    case: str
    data_dir: str
    engine: str
    con: object = None
    sources: dict[str, Source] = field(default_factory=dict)
    parents: dict[str, Source] = field(default_factory=dict)
    materialize: bool = False
    materialize_clean: bool = False
    memo: dict = field(default_factory=dict, repr=False)
    """Results computed once per connection and shared by a case's steps: the checks per rules
    (:meth:`checks`), the personal columns dropped, the finance churn data sets' inputs
    (:func:`crmlab.engine.finance_case.churn_set`)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the sources kept in the engine (empty for ``engine="pandas"``)."""
        return tuple(self.sources)

    @property
    def tables(self) -> dict:
        """Large source name -> lazy Ibis table (has ``.columns``, e.g. for case_rules)."""
        return {n: s.table for n, s in self.sources.items()}

    def shapes(self, tables: Mapping[str, pd.DataFrame] | None = None) -> dict:
        """(rows, columns) of each large source, counted in the engine (no rows fetched), and of
        the pandas ``tables``, in the case's source order."""
        out = {name: df.shape for name, df in (tables or {}).items()}
        for name, src in self.sources.items():
            if src.fmt == "parquet":
                import pyarrow.parquet as pq

                n = pq.ParquetFile(src.path).metadata.num_rows
            else:
                n = int(src.table.count().execute())
            out[name] = (int(n), len(src.table.columns) - 1)
        return {n: out[n] for n in _source_order(self.case, out)}

    def drop_personal(self) -> dict[str, list[str]]:
        """Drop personal columns (detected on the first rows) inside the engine.

        Returns source -> dropped columns, like :func:`crmlab.sources.pseudonymize_tables`.
        Identifiers stay raw inside the engine: only counts and pseudonymized customer-level
        tables leave it.
        """
        from crmlab.engine import _pii_columns

        if "dropped_personal" not in self.memo:  # once: a later stage gets the same answer
            dropped = {}
            for name, src in self.sources.items():
                pii = _pii_columns(self.con, src)
                if pii:
                    src.table = src.table.drop(*pii)
                    dropped[name] = pii
            self.memo["dropped_personal"] = dropped
        return {n: list(c) for n, c in self.memo["dropped_personal"].items()}

    def checks(self, rules: Mapping | None) -> dict[str, TableChecks]:
        """Quality findings and cleaning notes of every large source (computed once per rules).

        Id columns without a value that starts or ends with whitespace are compared as they are
        (:func:`~crmlab.engine.backends.plain_id_columns`)."""
        rules = dict(rules or {})
        columns = {n: tuple(s.table.columns) for n, s in self.sources.items()}
        key = ("checks", repr((sorted(rules.items(), key=lambda kv: kv[0]), columns)))
        if key not in self.memo:
            srcs = [*self.sources.values(), *self.parents.values()]
            with ids_as_found(self.con, srcs):
                self.memo[key] = self._checks(rules)
        return self.memo[key]

    def _checks(self, rules: Mapping) -> dict[str, TableChecks]:
        from crmlab.engine.clean import clean_sources

        parent_names = {
            p
            for n in self.sources
            for p in rules.get(n, {}).get("foreign_keys", {}).values()
            if p in self.parents
        }
        raw = {p: self.parents[p].table for p in parent_names}
        cleaned = clean_sources(raw, {p: rules[p] for p in raw if p in rules})
        parents = {p: (raw[p], cleaned[p], rules.get(p, {}).get("key")) for p in raw}
        # materialize: each large table is read from its file once, into a Parquet file with
        # its keep/orphan flags; the counts, the KPI summary and the features read that
        out = {
            n: table_checks(s.table, n, rules.get(n), parents, cache=self.materialize)
            for n, s in self.sources.items()
        }
        if self.materialize_clean:
            for c in out.values():
                c.clean = materialize(self.con, c.clean)
        return out

    def clean(self, rules: Mapping | None) -> dict:
        """Large source name -> its cleaned lazy table (see :meth:`checks`), for
        :func:`crmlab.engine.customer_features` (``clean=``)."""
        return {n: c.clean for n, c in self.checks(rules).items()}


REOPENED = frozenset({"finance_churn"})
"""Cases whose large sources a later stage opens again in the same kernel (finance: stage 1
counts the snapshot months, stage 2 checks and models them): :func:`open_large_sources` keeps
them for that one reuse, so both stages share one pass over the snapshots."""
_OPEN: dict = {}
"""The large sources of a :data:`REOPENED` case last opened in this process, until reused."""


def open_large_sources(
    case: str,
    data_dir: str | os.PathLike,
    engine: str = "duckdb",
    spark_master: str | None = None,
    con=None,
    memory_limit: str | None = "auto",
    reuse: bool = True,
) -> LargeSources:
    """Register the case's large sources in ``data_dir`` on ``engine`` (default DuckDB).

    ``engine="pandas"`` registers nothing: the case then loads every source in pandas (the
    reference path). ``spark_master`` is the Spark master URL for ``engine="spark"`` (default
    ``local[2]``); ``con`` an open connection to reuse. ``memory_limit``: DuckDB's memory cap
    for a new connection (default :func:`case_memory_limit` of the large sources' rows, i.e.
    :data:`CASE_MEMORY_LIMIT` up to 40M rows; None: DuckDB's 80% of RAM); above it DuckDB
    spills to its temporary folder.

    ``reuse``: for a case in :data:`REOPENED`, return the sources opened last in this process
    when they were opened with the same arguments on the same files (same sizes and
    modification times) - with their connection, checks and cached tables - once: the stages
    of a case share one pass over the large files, and the connection is freed with the later
    stage. Without ``con`` only; ``reuse=False`` always opens anew.
    """
    from crmlab.engine import _check_engine
    from crmlab.sources import CASE_SOURCES, files_signature

    _check_engine(engine)
    if case not in CASE_SOURCES:
        raise DataError(f"Unknown case {case!r}.")
    reuse_key = None
    if con is None and engine != "pandas" and case in REOPENED and os.path.isdir(data_dir):
        where = os.path.realpath(data_dir)
        reuse_key = (case, where, engine, spark_master, memory_limit, files_signature(case, where))
        if reuse and reuse_key in _OPEN:
            return _OPEN.pop(reuse_key)
    out = LargeSources(
        case, str(data_dir), engine, materialize=True, materialize_clean=case in CACHE_CLEAN
    )
    stems = [s for s in LARGE_SOURCES.get(case, ()) if source_path(data_dir, s) is not None]
    if engine == "pandas" or not stems:
        return out
    if not os.path.isdir(data_dir):
        raise DataError(f"Data folder {data_dir} does not exist. Check data_dir in the config.")
    if con is None:
        limit = memory_limit if engine == "duckdb" else None
        if limit == "auto":
            limit = case_memory_limit(sum(source_rows(source_path(data_dir, s)) for s in stems))
        con = connect(engine, spark_master=spark_master, memory_limit=limit)
    out.con = con
    for stem in CASE_SOURCES[case]:
        path = source_path(data_dir, stem)
        if path is None:
            continue
        src = register_source(out.con, path, stem)
        if stem in stems:
            out.sources[stem] = src
        else:
            out.parents[stem] = src
    # row order never matters in the engine (``_row`` carries it) unless a CSV is read
    set_row_order(out.con, [s.fmt for s in (*out.sources.values(), *out.parents.values())])
    if reuse_key is not None and reuse:
        _OPEN.clear()  # one at a time: its connection holds memory and spill files
        _OPEN[reuse_key] = out
    return out


def case_memory_limit(rows: int) -> str:
    """DuckDB's cap for a case whose large sources hold ``rows`` rows: :data:`CASE_MEMORY_LIMIT`
    up to ``2 x ROWS_PER_CASE_GB`` rows, then 1 GB per :data:`ROWS_PER_CASE_GB` rows, at most
    half the physical memory (e.g. ``"11GB"`` for 205M rows on a 24 GB machine)."""
    gb = -(-int(rows) // ROWS_PER_CASE_GB)
    if gb <= 2:
        return CASE_MEMORY_LIMIT
    half = physical_memory() // 2**31
    return f"{max(2, min(gb, half))}GB"


def _source_order(case: str, names) -> list[str]:
    from crmlab.sources import CASE_SOURCES

    known = [s for s in CASE_SOURCES[case] if s in names]
    return known + [n for n in names if n not in known]


def quality_report(tables: Mapping[str, pd.DataFrame], rules, large: LargeSources) -> pd.DataFrame:
    """:func:`crmlab.quality.quality_report` of the pandas ``tables`` and the large sources.

    Rows come in the order of the case's sources, as the pandas report gives them for all
    tables loaded in pandas. Findings of large sources have no examples.
    """
    from crmlab import quality

    report = quality.quality_report(tables, rules)
    if not large.names:
        return report
    extra = [f for checks in large.checks(rules).values() for f in checks.findings]
    parts = {n: report[report["source"] == n] for n in tables}
    if extra:
        lr = pd.DataFrame(extra, columns=report.columns)
        parts.update({n: lr[lr["source"] == n] for n in large.names})
    order = _source_order(large.case, [*tables, *large.names])
    frames = [parts[n] for n in order if n in parts and len(parts[n])]
    if not frames:
        return report
    out = pd.concat(frames, ignore_index=True)
    out["n_rows"] = out["n_rows"].astype("int64")
    out["share"] = out["share"].astype("float64")
    return out


def clean_tables(
    tables: Mapping[str, pd.DataFrame], rules, large: LargeSources
) -> tuple[dict, list[str], pd.DataFrame]:
    """:func:`crmlab.quality.clean_tables` of the pandas ``tables`` and the large sources.

    Returns ``(clean, notes, counts)``: the cleaned pandas tables (large sources stay in the
    engine), every cleaning note in the order pandas writes them, and ``counts`` - one row per
    source (case order) with ``rows`` (after cleaning) and ``returns`` (rows flagged
    ``is_return``).
    """
    from crmlab import quality

    clean, notes = quality.clean_tables(tables, rules)
    counts = {
        n: (len(df), int(df["is_return"].sum()) if "is_return" in df.columns else 0)
        for n, df in clean.items()
    }
    if large.names:
        checks = large.checks(rules)
        counts.update({n: (c.n_clean, c.n_returns) for n, c in checks.items()})
        by_table: dict[str, list[str]] = {}
        for note in notes:
            by_table.setdefault(note.split(": ", 1)[0], []).append(note)
        for n, c in checks.items():
            by_table[n] = c.notes
        names = _source_order(large.case, [*tables, *large.names])
        r = dict(rules or {})
        order = sorted(
            names,
            key=lambda t: (
                0 if any(t in x.get("foreign_keys", {}).values() for x in r.values()) else 1
            ),
        )
        notes = [note for n in order for note in by_table.get(n, [])]
    order = _source_order(large.case, counts)
    frame = pd.DataFrame(
        [(n, *counts[n]) for n in order], columns=["source", "rows", "returns"]
    ).set_index("source")
    return clean, notes, frame


def kpi_summary(
    clean: Mapping[str, pd.DataFrame], rules, large: LargeSources, window_months: int | None = None
) -> pd.DataFrame | None:
    """The dashboard's transaction summary (:func:`crmlab.kpis.transaction_summary`).

    Computed from the cleaned transactions where they are: in pandas when ``clean`` holds them
    (the reference path), else in the engine. ``as_of`` is the dashboard's default: the day after
    the latest survey, complaint or transaction date. None without transactions.
    """
    from crmlab import kpis
    from crmlab.engine.retail import transaction_summary

    months = window_months or kpis.WINDOW_MONTHS
    dated = {n: clean[n] for n in ("survey", "complaints") if n in clean}
    if "transactions" in clean:
        tx = clean["transactions"]
        as_of = kpis.data_as_of({**dated, "transactions": tx})
        return kpis.transaction_summary(tx, as_of, months)
    if "transactions" not in large.names:
        return None
    tx = large.checks(rules)["transactions"].clean
    last = tx.date.max().execute()
    as_of = kpis.data_as_of(dated, [last])
    return transaction_summary(tx, as_of, months)
