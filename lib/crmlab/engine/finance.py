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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlab.engine.backends import ids_as_found, register_source, set_row_order, source_path
from crmlab.engine.clean import ROW, clean_sources
from crmlab.errors import DataError

__all__ = [
    "ChurnInputs",
    "churn_dataset",
    "churn_inputs",
    "mean_columns",
    "month_ordinal",
    "ordered_means",
    "snapshot_aggregates",
]

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


def snapshot_aggregates(snaps, first: int, last: int, integral=()):
    """Per customer (``customer_id``) aggregates of the snapshot months ``first..last``.

    The means of :data:`MEANS` come back in one of two forms, so that they equal pandas'
    ``groupby().mean()`` of the pandas path to the last bit (:func:`mean_columns` turns both
    into means):

    * a column named in ``integral`` (whole numbers below 2**40, e.g. counts such as
      ``logins``: see :func:`churn_inputs`): ``{name}|sum`` and
      ``{name}|n`` (non-missing values); every partial sum of up to 8,192 such numbers is
      exact in float64, so pandas' compensated sum is that integer and its mean
      ``sum / n``;
    * any other column (``balance``): ``name`` as the list of ``{"o": order, "v": value}`` of
      the customer's rows (missing values included), sorted in the engine by month, then file
      order - the order in which the pandas path adds them up.
    """
    import ibis

    t = snaps.mutate(_m=month_ordinal(snaps.month))
    t = t.filter((t._m >= first) & (t._m <= last))
    integral = {c for c in integral if c in t.columns}
    num = {c: t[c].cast("float64") for c in NEED}
    if "fees_charged" in t.columns:
        num["fees_charged"] = t.fees_charged.cast("float64")
    t = t.mutate(**num, _order=t._m * (1 << 40) + t[ROW])
    recent = t._m >= last - 1
    bal = t.balance

    def values(name, x, where=None):
        keep = x.notnull() if where is None else (x.notnull() & where)
        if x.get_name() in integral:  # float64 sums of whole numbers: exact in any order
            return {f"{name}|sum": x.sum(where=keep), f"{name}|n": x.count(where=keep)}
        # every value with its order (missing ones too: pandas' mean adds up the values of all
        # customers in another way when any of them is missing), sorted in the engine
        return {name: ibis.struct({"o": t._order, "v": x}).collect(where=where).sort()}

    agg = {
        "_last_m": t._m.max(),
        "months_observed": t.count(),
        **values("balance_mean", bal),
        "_bal_first": bal.argmin(t._order, where=bal.notnull()),
        "_bal_last": bal.argmax(t._order, where=bal.notnull()),
        **values("logins_mean", t.logins),
        **values("_logins_recent", t.logins, recent),
        **values("_tx_mean", t.n_transactions),
        **values("_tx_recent", t.n_transactions, recent),
        "fee_rises": t.fee_rise.sum(),
        "complaints": t.complaints.sum(),
        "service_contacts": t.service_contacts.sum(),
    }
    if "fees_charged" in t.columns:
        agg.update(values("fees_mean", t.fees_charged))
    return t.group_by("customer_id").agg(**agg)


MEAN_OF = ("balance", "logins", "n_transactions", "fees_charged")
"""Snapshot columns whose per-customer means :func:`snapshot_aggregates` takes."""
WHOLE_LIMIT = 2.0**40
"""Whole numbers below this add up exactly in float64 in any order (up to 8,192 of them: a
customer's lookback months; :func:`churn_inputs`)."""
MEANS = ["balance_mean", "logins_mean", "_logins_recent", "_tx_mean", "_tx_recent", "fees_mean"]
"""Aggregates of :func:`snapshot_aggregates` that come back as parts of a mean (see
:func:`mean_columns`)."""


def mean_columns(agg) -> dict[str, np.ndarray]:
    """The :data:`MEANS` of a pyarrow table of :func:`snapshot_aggregates`, name -> float64
    array (NaN for a customer without values): ``sum / n`` of a whole-number column, or
    :func:`ordered_means` of the ordered values."""
    import pyarrow.compute as pc

    names = agg.column_names
    out = {}
    for c in MEANS:
        if c in names:
            out[c] = ordered_means(agg[c])
        elif f"{c}|sum" in names:
            total = pc.cast(agg[f"{c}|sum"], "float64").to_numpy(zero_copy_only=False)
            n = pc.cast(agg[f"{c}|n"], "float64").to_numpy(zero_copy_only=False)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[c] = np.where(n > 0, total / n, np.nan)
    return out


def ordered_means(lists) -> np.ndarray:
    """Per row, the mean of a list of ``{"o": order, "v": value}`` sorted by ``o`` (a pyarrow
    list array; null, empty or all missing -> NaN), taken by pandas' ``groupby().mean()`` over
    the values in list order - the same float result as the pandas path, whatever the engine's
    parallelism. The lists hold the missing values too: pandas 3 adds up every group with a
    compensated sum when the column has no missing value and with a plain one when it has any
    (a customer's mean depends on the others'), so the same rows must go in."""
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
            "v": flat.field("v").cast(pa.float64()).to_numpy(zero_copy_only=False),
        }
    )  # p ascending, values in o order within a row: groupby keeps that order
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
    inputs: ChurnInputs | None = None,
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
    inputs
        :func:`churn_inputs` of ``clean``, shared by several data sets (the customers are read
        and the months checked once).
    """
    from crmlab import churn
    from crmlab.engine.backends import connect

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
    if inputs is None:
        if clean is None:
            con = con if con is not None else connect(engine, spark_master=spark_master)
            clean = _clean_files(con, data_dir, rules)
        inputs = churn_inputs(clean)
    snaps = inputs.snapshots

    if data_end is None:
        last_month = pd.Period(ordinal=inputs.last_month, freq="M")
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
    agg = snapshot_aggregates(snaps, first.ordinal, last_complete.ordinal, inputs.integral)
    agg = agg.to_pyarrow()
    means = mean_columns(agg)
    parts = [c for c in agg.column_names if c.split("|")[0] in MEANS]
    feats = agg.drop_columns(parts).to_pandas()
    for c, v in means.items():
        feats[c] = v
    feats = feats.set_index("customer_id")
    return _assemble(inputs.customers, feats, t, horizon_months, last_complete)


def _clean_files(con, data_dir, rules) -> dict:
    """Register ``customers`` and ``snapshots`` of ``data_dir`` on ``con`` and clean them with
    ``rules`` (default: the finance case's rules for the columns present)."""
    from crmlab.sources import case_rules

    srcs = {}
    for stem in ("customers", "snapshots"):
        path = source_path(data_dir, stem)
        if path is None:
            raise DataError(f"{data_dir}: the churn data set needs {stem}.csv or {stem}.parquet.")
        srcs[stem] = register_source(con, path, stem)
    set_row_order(con, [s.fmt for s in srcs.values()])
    tables = {n: s.table for n, s in srcs.items()}
    if rules is None:
        rules = case_rules("finance_churn", tables)
    with ids_as_found(con, srcs.values()):
        return clean_sources(tables, rules or {})


@dataclass
class ChurnInputs:
    """What every churn data set of one pair of cleaned tables shares (:func:`churn_inputs`).

    Attributes
    ----------
    snapshots
        The cleaned lazy snapshots (with ``_row``), checked: every needed column is there and
        every ``month`` is "YYYY-MM".
    customers
        The cleaned customers in pandas, in file order, ``*_date`` columns parsed.
    last_month
        Monthly period ordinal (months since 1970-01) of the latest snapshot month.
    integral
        Columns of :data:`MEAN_OF` holding only whole numbers below :data:`WHOLE_LIMIT` (or
        missing values): their means are sums over counts (:func:`snapshot_aggregates`).
    """

    snapshots: object
    customers: pd.DataFrame
    last_month: int
    integral: frozenset = frozenset()


def churn_inputs(clean: dict) -> ChurnInputs:
    """Check the cleaned lazy ``snapshots`` and bring the cleaned ``customers`` to pandas, once
    for every data set built from them (:func:`churn_dataset`, ``inputs=``)."""
    snaps = clean["snapshots"]
    absent = [c for c in ["customer_id", "month", *NEED] if c not in snaps.columns]
    if absent:
        raise DataError(f"build_churn_dataset(snapshots): missing column(s) {absent}.")
    m = month_ordinal(snaps.month)
    # per mean column: values that are not whole numbers below WHOLE_LIMIT (0: integral)
    odd = {}
    for i, c in enumerate(c for c in MEAN_OF if c in snaps.columns):
        x = snaps[c].cast("float64")
        not_whole = (x != x.floor()) | (x.abs() >= WHOLE_LIMIT)
        odd[c] = (f"_odd{i}", not_whole.fill_null(False).cast("int64").sum())
    stats = snaps.aggregate(
        _max=m.max(), _bad=m.isnull().cast("int64").sum(), **dict(odd.values())
    ).to_pyarrow()
    n_bad = stats["_bad"][0].as_py() or 0
    if n_bad:
        raise DataError(f"snapshots: column 'month' must be 'YYYY-MM'; {n_bad} row(s) are not.")
    if stats["_max"][0].as_py() is None:
        raise DataError("snapshots: no rows left after cleaning.")
    customers = clean["customers"]
    customers = customers.order_by(ROW).drop(ROW).to_pyarrow().to_pandas()
    for c in customers.columns:
        if customers[c].dtype == object and c.endswith("_date"):
            customers[c] = pd.to_datetime(customers[c])
    whole = {c for c, (name, _) in odd.items() if not (stats[name][0].as_py() or 0)}
    return ChurnInputs(snaps, customers, int(stats["_max"][0].as_py()), frozenset(whole))


def _assemble(customers, feats, t, horizon_months, last_complete) -> pd.DataFrame:
    """The customer-level part of :func:`crmlab.churn.build_churn_dataset` (same formulas)."""
    from crmlab import churn

    labelled = churn.label_churn(customers, t, horizon_months)
    base = labelled[["customer_id", "segment"]].copy()
    opened = pd.to_datetime(labelled["open_date"])
    base["prediction_date"] = t
    base = pd.concat([base, churn.customer_covariates(labelled)], axis=1)
    base["tenure_months"] = (t - opened).dt.days.to_numpy() / churn.DAYS_PER_MONTH
    base["new_customer"] = (base["tenure_months"] < 12).astype(np.int64)

    feats = feats.astype({c: "float64" for c in feats.columns if c != "_last_m"})
    return churn.finish_churn_dataset(base, feats, labelled, t)
