"""The finance case's stages with the monthly snapshots kept in the engine.

The snapshots (one row per customer and month - the finance case's large table) stay in DuckDB
(default) or Spark; the customers and the pilot (one row per customer) are read in pandas as
before. Only counts and small tables come back:

* :func:`open_snapshots` - register the snapshots (and their parents) on a connection
  (a :class:`crmlab.engine.case.LargeSources`, so :func:`crmlab.engine.quality_report` and
  :func:`crmlab.engine.clean_tables` give the snapshot findings and cleaning notes counted in the
  engine); ``engine="pandas"`` registers nothing and every function below works on the pandas
  ``clean["snapshots"]`` instead (the reference path, same results).
* :func:`snapshot_months` - per calendar month: snapshot rows and complaints (the observation
  window, :func:`crmlab.churn.observation_window`, and the complaints KPI,
  :func:`crmlab.churn.churn_kpis`).
* :func:`snapshot_profile` - ``describe()`` of the numeric snapshot columns, by engine aggregates.
* :func:`churn_sets` - the training, test and scoring sets (:func:`crmlab.engine.churn_dataset`),
  with pseudonymized customer ids.
* :func:`cox_months` - the rolling monthly covariates of the Cox model
  (:func:`crmlab.survival.time_varying_frame` with ``rolled=True``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from crmlab.engine.backends import number
from crmlab.engine.case import LargeSources
from crmlab.errors import DataError

__all__ = [
    "churn_set",
    "churn_sets",
    "cox_months",
    "open_snapshots",
    "snapshot_months",
    "snapshot_profile",
]

CASE = "finance_churn"
COX_MAX_ROWS = 2_000_000
"""Customer-months above which the Cox model's input is a random sample of customers (see
:func:`cox_months`): statsmodels' PHReg fits about 2M rows in under a minute on two cores."""
ROLLING = {"complaints": (6, "sum"), "fee_rise": (6, "any")}
"""The Cox model's rolling covariates (as :func:`crmlab.survival.time_varying_frame`)."""


def open_snapshots(
    data_dir: str | os.PathLike,
    engine: str = "duckdb",
    spark_master: str | None = None,
    con=None,
) -> LargeSources:
    """Register the finance snapshots in ``data_dir`` on ``engine`` (default DuckDB).

    Returns a :class:`~crmlab.engine.case.LargeSources` holding ``snapshots`` (its ``names`` are
    the sources not to read in pandas) and the customers and pilot as parents for the
    foreign-key checks. Nothing is registered for ``engine="pandas"`` or without a snapshots file.
    """
    from crmlab.engine.case import open_large_sources

    return open_large_sources(CASE, data_dir, engine, spark_master, con)


def _engine_snapshots(large: LargeSources, rules):
    """The cleaned lazy snapshots (None when they are not in the engine)."""
    if "snapshots" not in large.names:
        return None
    return large.checks(rules)["snapshots"].clean


def snapshot_months(clean: dict, rules, large: LargeSources) -> pd.DataFrame | None:
    """Per calendar month of the cleaned snapshots: ``month`` ("YYYY-MM"), ``rows`` (snapshot
    rows, i.e. customer-months) and ``complaints`` (their sum; missing values count 0), in month
    order. None without snapshots. Months that are not "YYYY-MM" are an error (as
    :func:`crmlab.churn.month_ordinals`)."""
    from crmlab import churn

    snaps = clean.get("snapshots")
    if snaps is not None:
        m = churn.month_ordinals(snaps)
        c = (
            pd.to_numeric(snaps["complaints"], errors="coerce").fillna(0).to_numpy(np.float64)
            if "complaints" in snaps
            else np.zeros(len(snaps))
        )
        g = pd.DataFrame({"_m": m, "rows": 1, "complaints": c}).groupby("_m").sum()
    else:
        t = _engine_snapshots(large, rules)
        if t is None:
            return None
        from crmlab.engine.finance import month_ordinal

        t = t.mutate(_m=month_ordinal(t.month))
        n_bad = int(t.filter(t._m.isnull()).count().execute())
        if n_bad:
            raise DataError(f"snapshots: column 'month' must be 'YYYY-MM'; {n_bad} row(s) are not.")
        comp = t.complaints.cast("float64").fill_null(0) if "complaints" in t.columns else 0.0
        t = t.mutate(_c=comp)
        g = t.group_by("_m").agg(rows=t.count(), complaints=t._c.sum()).to_pyarrow().to_pandas()
        g = g.set_index("_m").sort_index()
    if not len(g):
        return None
    out = pd.DataFrame(
        {
            "month": churn.month_labels(g.index.to_numpy()),
            "rows": g["rows"].to_numpy(np.int64),
            "complaints": g["complaints"].to_numpy(np.float64),
        }
    )
    return out


def snapshot_profile(clean: dict, rules, large: LargeSources) -> pd.DataFrame | None:
    """``snapshots.describe(include="number").T`` (count, mean, std, min, 25%, 50%, 75%, max of
    every numeric column of the cleaned snapshots), computed by the engine's aggregates
    (quartiles: linear interpolation, as pandas). None without snapshots."""
    snaps = clean.get("snapshots")
    if snaps is not None:
        return snaps.describe(include="number").T
    t = _engine_snapshots(large, rules)
    if t is None:
        return None
    from crmlab.engine.clean import ROW

    cols = [c for c in t.columns if c != ROW and t[c].type().is_numeric()]
    if not cols:
        return None
    agg = {}
    for c in cols:
        x = t[c].cast("float64")
        agg.update(
            {
                f"{c}|count": x.count(),
                f"{c}|mean": x.mean(),
                f"{c}|std": x.std(how="sample"),
                f"{c}|min": x.min(),
                f"{c}|max": x.max(),
            }
        )
    row = t.aggregate(**agg).to_pyarrow().to_pylist()[0]
    # exact quartiles hold a column's values in memory: one column per query, so memory stays
    # at one column of the snapshots (the engine's cap allows that, not all columns at once)
    for c in cols:
        q = t.aggregate(q=t[c].cast("float64").quantile([0.25, 0.5, 0.75]))
        q25, q50, q75 = q.to_pyarrow().to_pylist()[0]["q"] or [None] * 3
        row.update({f"{c}|25%": q25, f"{c}|50%": q50, f"{c}|75%": q75})
    stats = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    data = [[row[f"{c}|{s}"] for s in stats] for c in cols]
    return pd.DataFrame(data, index=cols, columns=stats, dtype="float64")


def churn_set(
    customers: pd.DataFrame,
    clean: dict,
    rules,
    large: LargeSources,
    prediction_date,
    horizon_months: int = 12,
    lookback_months: int = 6,
    key=None,
    data_end=None,
) -> pd.DataFrame:
    """:func:`crmlab.churn.build_churn_dataset` at ``prediction_date``: on the pandas
    ``clean["snapshots"]`` when they are there, else by :func:`crmlab.engine.churn_dataset` on the
    files (snapshots aggregated in the engine) with customer ids pseudonymized with ``key`` (as
    :func:`crmlab.sources.pseudonymize_tables`). Same rows, columns and values either way."""
    from crmlab import churn

    snaps = clean.get("snapshots")
    if snaps is not None:
        return churn.build_churn_dataset(
            customers, snaps, prediction_date, horizon_months, lookback_months, data_end=data_end
        )
    if "snapshots" not in large.names:
        raise DataError("The churn data set needs monthly snapshots.")
    from crmlab.engine.finance import churn_dataset

    df = churn_dataset(
        large.data_dir,
        prediction_date,
        horizon_months,
        lookback_months,
        engine=large.engine,
        data_end=data_end,
        con=large.con,
        inputs=_churn_inputs(large, rules),
    )
    return _pseudonymized(df, key)


def _churn_inputs(large: LargeSources, rules):
    """:func:`crmlab.engine.finance.churn_inputs` of the cleaned lazy ``snapshots`` (the case's
    one cached pass, :meth:`LargeSources.checks`) and ``customers`` (cleaned by the same rules),
    computed once per rules and shared by every data set of the case."""
    from crmlab.engine.clean import clean_sources
    from crmlab.engine.finance import churn_inputs
    from crmlab.sources import case_rules

    if rules is None:
        rules = case_rules(CASE, {**large.tables, **{n: s.table for n, s in large.parents.items()}})
    rules = rules or {}
    memo = ("churn_inputs", repr(sorted(rules.items(), key=lambda kv: kv[0])))
    if memo not in large.memo:
        out = {"snapshots": large.clean(rules)["snapshots"]}
        if "customers" not in large.parents:
            raise DataError("The churn data set needs a customer table.")
        customers = {"customers": large.parents["customers"].table}
        r = {k: v for k, v in rules.items() if k == "customers"}
        out["customers"] = clean_sources(customers, r)["customers"]
        large.memo[memo] = churn_inputs(out)
    return large.memo[memo]


def churn_sets(
    customers: pd.DataFrame,
    clean: dict,
    rules,
    large: LargeSources,
    dates: dict,
    horizon_months: int = 12,
    lookback_months: int = 6,
    key=None,
) -> dict[str, pd.DataFrame]:
    """The modelling sets of :func:`crmlab.churn.time_split` (``train``, ``test``) and
    :func:`crmlab.churn.score_dataset` (``score``: no label, horizon of one month), each by
    :func:`churn_set`; ``dates`` maps the three names to their prediction dates."""
    args = (customers, clean, rules, large)
    score_t = pd.Timestamp(dates["score"])
    return {
        "train": churn_set(*args, dates["train"], horizon_months, lookback_months, key),
        "test": churn_set(*args, dates["test"], horizon_months, lookback_months, key),
        "score": churn_set(
            *args, score_t, 1, lookback_months, key, data_end=score_t + pd.DateOffset(months=1)
        ).drop(columns="churned"),
    }


def _pseudonymized(df: pd.DataFrame, key) -> pd.DataFrame:
    from crmlab import privacy

    if key is None or "customer_id" not in df.columns:
        return df
    return privacy.pseudonymize(df, ["customer_id"], [], key)


def cox_months(
    clean: dict,
    rules,
    large: LargeSources,
    key=None,
    rolling: dict | None = None,
    max_rows: int | None = COX_MAX_ROWS,
) -> pd.DataFrame | None:
    """Per customer and snapshot month the Cox model's rolling covariates: ``customer_id``,
    ``month`` and ``f"{column}_{window}m"`` (sum, or 1 if any > 0, of the column over the month
    and the ``window - 1`` previous snapshot months of the customer; missing values count 0) -
    the input of ``crmlab.survival.time_varying_frame(customers, months, rolled=True)``.

    With the snapshots in the engine the rolling windows run there and only these columns come
    back (customer ids pseudonymized with ``key``). None without snapshots or without the
    rolling columns.

    Sample: when the snapshots hold more than ``max_rows`` customer-months (None: never), only
    a simple random sample of customers is kept, share ``max_rows / rows``: the customers whose
    id's MD5 hash (hex, its first 8 digits read as a fraction of 16^8) is below the share - the
    id as the data stage holds it (raw in the engine, so DuckDB and Spark keep the same
    customers; pseudonymized on the pandas path). Whole customers are kept, so their rolling
    windows are exact; a random sample of customers leaves the hazard ratios unbiased and widens
    their intervals by about ``1 / sqrt(share)``. The share is in ``out.attrs["sample_share"]``
    (1.0 without sampling).
    """
    from crmlab import churn, survival

    rolling = ROLLING if rolling is None else rolling
    snaps = clean.get("snapshots")
    if snaps is not None:
        if any(c not in snaps.columns for c in rolling):
            return None
        share = _sample_share(len(snaps), max_rows)
        if share < 1.0:
            ids = snaps["customer_id"].astype("str")
            snaps = snaps[ids.map(lambda s: _md5_prefix(s) < _md5_cutoff(share)).to_numpy()]
        out = survival.rolling_covariates(snaps, rolling)
        out.attrs["sample_share"] = share
        return out
    t = _engine_snapshots(large, rules)
    if t is None or any(c not in t.columns for c in rolling):
        return None
    import ibis

    from crmlab.engine.finance import month_ordinal

    share = _sample_share(int(t.count().execute()), max_rows)
    if share < 1.0:
        t = t.filter(t.customer_id.cast("string").hexdigest("md5")[:8] < _md5_cutoff(share))
    t = t.mutate(_m=month_ordinal(t.month))
    vals = {}
    for col, (window, how) in rolling.items():
        if how not in ("sum", "any"):
            raise DataError(f"rolling: how must be 'sum' or 'any', got {how!r} for '{col}'.")
        x = t[col].cast("float64").fill_null(0)
        w = ibis.window(
            group_by="customer_id", order_by="_m", preceding=int(window) - 1, following=0
        )
        v = x.sum().over(w)
        vals[f"{col}_{window}m"] = (v > 0).cast("float64") if how == "any" else v
    prev = t._m.lag().over(ibis.window(group_by="customer_id", order_by="_m"))
    t = t.mutate(**vals, _gap=(prev.notnull() & (t._m - prev != 1)).cast("int64"))
    n_gap = number(t._gap.sum().execute())
    if n_gap:
        raise DataError(
            f"time_varying_frame: snapshot months of a customer must be consecutive; {n_gap} "
            "gap(s) or duplicate month(s)."
        )
    out = t.select("customer_id", "_m", *vals).to_pyarrow().to_pandas()
    out["customer_id"] = out["customer_id"].astype("str")
    out = _pseudonymized(out, key)
    out = out.sort_values(["customer_id", "_m"], kind="mergesort").reset_index(drop=True)
    out.insert(1, "month", churn.month_labels(out.pop("_m").to_numpy()))
    out.attrs["sample_share"] = share
    return out


def _sample_share(n_rows: int, max_rows: int | None) -> float:
    """The share of customers :func:`cox_months` keeps (1.0: all)."""
    if max_rows is None or n_rows <= max_rows:
        return 1.0
    return max_rows / n_rows


def _md5_prefix(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()[:8]


def _md5_cutoff(share: float) -> str:
    """The 8-hex-digit bound: an id is kept when its MD5 prefix sorts below it (lower-case hex
    of equal length sorts as the number it writes)."""
    return f"{int(share * 16**8):08x}"
