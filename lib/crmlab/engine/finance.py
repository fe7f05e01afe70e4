"""Finance churn data set at scale: monthly snapshots reduced to one row per customer in the engine.

:func:`churn_dataset` gives the same table as :func:`crmlab.churn.build_churn_dataset` on the
cleaned customers and snapshots (:data:`crmlab.quality.FINANCE_RULES`): the snapshots - tens of
millions of customer-months - are cleaned and aggregated by DuckDB or Spark; only the
customer-level aggregates and the customers table come back to pandas, where the label, the static
covariates and the final formulas are those of :mod:`crmlab.churn` (same definitions: see
:func:`crmlab.churn.build_churn_dataset`).

Snapshot aggregates over the usable months (the ``lookback_months`` complete calendar months before
the prediction date ``t``), per customer: number of months, last month, mean balance, first and
last non-missing balance (by month, then file order), mean logins and mean transactions (all and
the last two months), sums of fee rises, complaints and service contacts, mean fees.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from crmlab.engine.backends import register_source, set_row_order, source_path
from crmlab.engine.clean import ROW, clean_sources
from crmlab.errors import DataError

__all__ = ["churn_dataset", "month_ordinal", "snapshot_aggregates"]

NEED = ["balance", "n_transactions", "logins", "fee_rise", "complaints", "service_contacts"]
_EPOCH = 1970 * 12  # pandas monthly Period ordinal: months since 1970-01


def month_ordinal(col):
    """Monthly period ordinal of a "YYYY-MM" text column (missing when not of that form). A
    column the reader already parsed as dates (Spark's CSV schema inference reads "2024-01" as
    2024-01-01) gives the ordinal of each date's month."""
    import ibis

    if col.type().is_temporal():
        return col.year().cast("int64") * 12 + col.month().cast("int64") - 1 - _EPOCH
    text = col.cast("string").strip()
    ok = text.re_search(r"^\d{4}-(0[1-9]|1[0-2])$")
    year = text.substr(0, 4).try_cast("int64")
    month = text.substr(5, 2).try_cast("int64")
    return ibis.cases((ok, year * 12 + month - 1 - _EPOCH), else_=ibis.null("int64"))


def snapshot_aggregates(snaps, first: int, last: int):
    """Per customer (``customer_id``) aggregates of the snapshot months ``first..last``."""
    import ibis

    t = snaps.mutate(_m=month_ordinal(snaps.month))
    t = t.filter((t._m >= first) & (t._m <= last))
    num = {c: t[c].cast("float64") for c in NEED}
    if "fees_charged" in t.columns:
        num["fees_charged"] = t.fees_charged.cast("float64")
    t = t.mutate(**num, _order=t._m * (1 << 40) + t[ROW])
    recent = t._m >= last - 1
    bal = t.balance

    def values(x, where=None):
        # the non-missing values with their order: the mean is taken in month order afterwards
        # (:func:`ordered_means`), so it does not depend on how the engine splits the work
        keep = x.notnull() if where is None else (x.notnull() & where)
        return ibis.struct({"o": t._order, "v": x}).collect(where=keep)

    agg = {
        "_last_m": t._m.max(),
        "months_observed": t.count(),
        "balance_mean": values(bal),
        "_bal_first": bal.argmin(t._order, where=bal.notnull()),
        "_bal_last": bal.argmax(t._order, where=bal.notnull()),
        "logins_mean": values(t.logins),
        "_logins_recent": values(t.logins, recent),
        "_tx_mean": values(t.n_transactions),
        "_tx_recent": values(t.n_transactions, recent),
        "fee_rises": t.fee_rise.sum(),
        "complaints": t.complaints.sum(),
        "service_contacts": t.service_contacts.sum(),
    }
    if "fees_charged" in t.columns:
        agg["fees_mean"] = values(t.fees_charged)
    return t.group_by("customer_id").agg(**agg)


MEANS = ["balance_mean", "logins_mean", "_logins_recent", "_tx_mean", "_tx_recent", "fees_mean"]
"""Aggregates of :func:`snapshot_aggregates` that come back as ordered values (see
:func:`ordered_means`)."""


def ordered_means(lists) -> np.ndarray:
    """Per row, the mean of a list of ``{"o": order, "v": value}`` (a pyarrow list array; null or
    empty -> NaN), taken by pandas' ``groupby().mean()`` over the values in ``o`` order - the
    same float result as the pandas path, whatever the engine's parallelism. The lists hold at
    most the lookback months of one customer."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    n = len(lists)
    lists = lists.fill_null(pa.scalar([], lists.type))
    flat = pc.list_flatten(lists)
    long = pd.DataFrame(
        {
            "p": pc.list_parent_indices(lists).to_numpy(zero_copy_only=False),
            "o": flat.field("o").to_numpy(zero_copy_only=False),
            "v": flat.field("v").cast(pa.float64()).to_numpy(zero_copy_only=False),
        }
    ).sort_values(["p", "o"], kind="mergesort")
    means = long.groupby("p", sort=False)["v"].mean()
    return means.reindex(np.arange(n)).to_numpy(np.float64)


def churn_dataset(
    data_dir: str | os.PathLike,
    prediction_date,
    horizon_months: int = 12,
    lookback_months: int = 6,
    *,
    engine: str = "duckdb",
    spark_master: str | None = None,
    data_end=None,
    rules=None,
    con=None,
    clean=None,
) -> pd.DataFrame:
    """:func:`crmlab.churn.build_churn_dataset` on the cleaned files of ``data_dir``.

    Parameters
    ----------
    data_dir
        Folder with ``customers`` and ``snapshots`` (``.parquet`` or ``.csv``), as written by
        :func:`crmlab.synth.finance.generate_finance`.
    prediction_date, horizon_months, lookback_months, data_end
        As in :func:`crmlab.churn.build_churn_dataset`.
    engine
        ``"duckdb"`` (default), ``"spark"`` or ``"pandas"`` (load, clean with
        :func:`crmlab.quality.clean_tables`, then the pandas function: the reference).
    rules
        Cleaning rules; default :func:`crmlab.sources.case_rules` of the finance case.
    clean
        The already cleaned lazy ``customers`` and ``snapshots`` tables on ``con`` (with their
        ``_row`` column), e.g. a case's cached pass over the files
        (:func:`crmlab.engine.finance_case.churn_set`); then nothing is registered or cleaned
        again, so several data sets share one read of the snapshots.
    """
    from crmlab import churn
    from crmlab.engine.backends import connect
    from crmlab.sources import case_rules

    if engine == "pandas":
        from crmlab import quality, sources

        raw = sources.load_sources("finance_churn", data_dir)
        raw = {k: v for k, v in raw.items() if k in ("customers", "snapshots")}
        r = rules if rules is not None else sources.case_rules("finance_churn", raw)
        clean, _ = quality.clean_tables(raw, r) if r else (raw, [])
        return churn.build_churn_dataset(
            clean["customers"],
            clean["snapshots"],
            prediction_date,
            horizon_months,
            lookback_months,
            data_end=data_end,
        )

    t = churn._timestamp(prediction_date, "prediction_date")
    horizon_months, lookback_months = int(horizon_months), int(lookback_months)
    if horizon_months < 1 or lookback_months < 1:
        raise DataError("horizon_months and lookback_months must be at least 1.")
    if clean is None:
        con = con if con is not None else connect(engine, spark_master=spark_master)
        tables, formats = {}, []
        for stem in ("customers", "snapshots"):
            path = source_path(data_dir, stem)
            if path is None:
                raise DataError(
                    f"{data_dir}: the churn data set needs {stem}.csv or {stem}.parquet."
                )
            src = register_source(con, path, stem)
            tables[stem], formats = src.table, [*formats, src.fmt]
        set_row_order(con, formats)
        if rules is None:
            rules = case_rules("finance_churn", tables)
        clean = clean_sources(tables, rules or {})
    snaps = clean["snapshots"]
    absent = [c for c in ["customer_id", "month", *NEED] if c not in snaps.columns]
    if absent:
        raise DataError(f"build_churn_dataset(snapshots): missing column(s) {absent}.")

    m = month_ordinal(snaps.month)
    stats = snaps.aggregate(_max=m.max(), _bad=m.isnull().cast("int64").sum()).to_pyarrow()
    n_bad = stats["_bad"][0].as_py() or 0
    if n_bad:
        raise DataError(f"snapshots: column 'month' must be 'YYYY-MM'; {n_bad} row(s) are not.")
    if stats["_max"][0].as_py() is None:
        raise DataError("snapshots: no rows left after cleaning.")
    if data_end is None:
        last_month = pd.Period(ordinal=int(stats["_max"][0].as_py()), freq="M")
        data_end_ts = last_month.end_time.normalize()
    else:
        data_end_ts = churn._timestamp(data_end, "data_end")
    horizon_end = t + pd.DateOffset(months=horizon_months)
    if horizon_end - pd.Timedelta(days=1) > data_end_ts:
        latest = data_end_ts + pd.Timedelta(days=1) - pd.DateOffset(months=horizon_months)
        raise DataError(
            f"prediction_date {t.date()} + {horizon_months} months runs past the data end "
            f"{data_end_ts.date()}: labels would be incomplete; use a prediction date on or before "
            f"{latest.date()}."
        )
    last_complete = pd.Period(t, "M") - 1
    first = last_complete - (lookback_months - 1)
    agg = snapshot_aggregates(snaps, first.ordinal, last_complete.ordinal).to_pyarrow()
    means = {c: ordered_means(agg[c]) for c in MEANS if c in agg.column_names}
    feats = agg.drop_columns(list(means)).to_pandas()
    for c, v in means.items():
        feats[c] = v
    feats = feats.set_index("customer_id")

    customers = clean["customers"]
    customers = customers.order_by(ROW).drop(ROW).to_pyarrow().to_pandas()
    return _assemble(customers, feats, t, horizon_months, last_complete)


def _assemble(customers, feats, t, horizon_months, last_complete) -> pd.DataFrame:
    """The customer-level part of :func:`crmlab.churn.build_churn_dataset` (same formulas)."""
    from crmlab import churn

    for c in customers.columns:
        if customers[c].dtype == object and c.endswith("_date"):
            customers[c] = pd.to_datetime(customers[c])
    labelled = churn.label_churn(customers, t, horizon_months)
    base = labelled[["customer_id", "segment"]].copy()
    opened = pd.to_datetime(labelled["open_date"])
    base["prediction_date"] = t
    base = pd.concat([base, churn.customer_covariates(labelled)], axis=1)
    base["tenure_months"] = (t - opened).dt.days.to_numpy() / churn.DAYS_PER_MONTH
    base["new_customer"] = (base["tenure_months"] < 12).astype(np.int64)

    feats = feats.astype({c: "float64" for c in feats.columns if c != "_last_m"})
    return churn.finish_churn_dataset(base, feats, labelled, t)
