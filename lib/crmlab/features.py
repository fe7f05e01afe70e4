"""Customer-level features: one row per customer from customers, transactions, survey, complaints.

All day counts are whole calendar days between dates (times of day are dropped). The analysis date
``as_of`` is exclusive: only events dated *before* ``as_of`` are used, so a purchase on the day
before ``as_of`` has recency 1. By default ``as_of`` is the day after the last transaction (or,
without transactions, the day after the last survey/complaint/signup date).

Columns (units in brackets)
---------------------------
From customers
    every column except the id, passed through unchanged (region, home_store, loyalty_member ...)
From transactions (a *purchase* is a row with amount >= 0; a *return* has amount < 0)
    n_transactions    number of purchase rows (returns not included; shown as "Transactions")
    n_returns         number of return rows; n_transactions + n_returns = all the rows
    frequency         number of distinct purchase days (0 for customers who never bought)
    monetary          net spend: sum of all amounts, returns subtract [currency]
    gross_spend       sum of purchase amounts [currency]
    avg_basket        mean purchase amount = gross_spend / n_transactions [currency]
    avg_items         mean items per purchase (if an ``items`` column exists)
    first_purchase, last_purchase   dates of the first and last purchase day
    recency_days      as_of - last_purchase [days]; missing if never bought
    days_since_first_purchase       as_of - first_purchase [days]
    cadence_days      mean gap between distinct purchase days = (last - first) / (frequency - 1)
                      [days]; missing if fewer than 2 purchase days
    promo_share       share of purchase rows with promotion = 1 (if a ``promotion`` column exists)
    returns_share     n_returns / (n_transactions + n_returns)
    n_stores          number of distinct stores with a purchase (if a ``store_id`` column exists)
From customers and as_of
    tenure_days       as_of - signup_date [days]
From survey (answers with a customer id; the latest answer before as_of counts)
    n_survey_responses, last_survey_date, overall_satisfaction (1-5), recommend (0-10),
    driver_mean (mean of the driver ratings in the latest answer that are present),
    and each driver rating of the latest answer under its own column name
From complaints
    n_complaints, n_unresolved (resolved is no/false), mean_days_to_resolve (resolved ones) [days]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlab.errors import DataError
from crmlab.quality import YES_NO, text_isin, to_datetime

__all__ = ["customer_features", "default_as_of", "survey_driver_columns"]

SURVEY_NON_DRIVERS = {
    "response_id",
    "customer_id",
    "store_id",
    "date",
    "wave",
    "overall_satisfaction",
    "recommend",
    "comment",
}


#: Transaction-based feature columns, in output order (also used by :mod:`crmlab.engine.retail`).
TRANSACTION_FEATURES: tuple[str, ...] = (
    "n_transactions",
    "n_returns",
    "frequency",
    "monetary",
    "gross_spend",
    "avg_basket",
    "avg_items",
    "first_purchase",
    "last_purchase",
    "recency_days",
    "days_since_first_purchase",
    "cadence_days",
    "promo_share",
    "returns_share",
    "n_stores",
)


def survey_driver_columns(survey: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric survey columns that are not ids, dates, wave, overall score or recommend."""
    skip = SURVEY_NON_DRIVERS | set(exclude)
    return [c for c in survey.columns if c not in skip and pd.api.types.is_numeric_dtype(survey[c])]


def _need(df: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise DataError(
            f"{table}: column(s) {absent} are needed for customer features but missing "
            f"(columns: {list(df.columns)})."
        )


def _day(s: pd.Series, table: str, col: str, allow_missing: bool = False) -> pd.Series:
    """Parse to midnight dates; raise on unparseable (and, unless allowed, missing) values."""
    parsed = to_datetime(s)
    bad = parsed.isna() if not allow_missing else parsed.isna() & s.notna()
    if bad.any():
        raise DataError(
            f"{table}.{col}: {int(bad.sum())} value(s) are missing or not dates "
            f"(rows {list(s.index[bad][:5])}). Run crmlab.quality.clean_tables first "
            "(it sets bad dates to missing and drops rows missing a required column)."
        )
    return parsed.dt.normalize()


def default_as_of(
    transactions=None,
    survey=None,
    complaints=None,
    customers=None,
    *,
    date_col: str = "date",
    signup_col: str = "signup_date",
) -> pd.Timestamp:
    """The day after the last transaction; without transactions, after the last other date."""
    candidates = []
    if transactions is not None and len(transactions):
        candidates.append(_day(transactions[date_col], "transactions", date_col).max())
    else:
        for name, df, col in (
            ("survey", survey, date_col),
            ("complaints", complaints, date_col),
            ("customers", customers, signup_col),
        ):
            if df is not None and col in df.columns and len(df):
                candidates.append(_day(df[col], name, col, allow_missing=True).max())
    candidates = [c for c in candidates if pd.notna(c)]
    if not candidates:
        raise DataError("Cannot set as_of: no dates in the tables; pass as_of explicitly.")
    return max(candidates) + pd.Timedelta(days=1)


def _transaction_features(tx: pd.DataFrame, id_col: str, as_of: pd.Timestamp) -> pd.DataFrame:
    amount = pd.to_numeric(tx["amount"], errors="coerce")
    if amount.isna().any():
        bad = tx.index[amount.isna()]
        raise DataError(
            f"transactions.amount: {len(bad)} missing or non-numeric value(s) "
            f"(rows {list(bad[:5])}). Drop them first (crmlab.quality.clean_tables)."
        )
    is_ret = amount < 0
    t = pd.DataFrame(
        {
            "cid": tx[id_col].to_numpy(),
            "day": tx["day"].to_numpy(),
            "amount": amount.to_numpy(dtype=float),
            "purchase": (~is_ret).to_numpy(),
            "ret": is_ret.to_numpy(),
        }
    )
    t["gross"] = t["amount"].where(t["purchase"], 0.0)
    t["purchase_day"] = t["day"].where(t["purchase"])
    if "promotion" in tx.columns:
        promo = pd.to_numeric(tx["promotion"], errors="coerce").to_numpy(dtype=float)
        t["promo"] = np.where(t["purchase"], promo, np.nan)
    if "items" in tx.columns:
        items = pd.to_numeric(tx["items"], errors="coerce").to_numpy(dtype=float)
        t["items"] = np.where(t["purchase"], items, np.nan)
    if "store_id" in tx.columns:
        t["store"] = tx["store_id"].where(~is_ret).to_numpy()

    g = t.groupby("cid", sort=False)
    spec = {
        "n_transactions": ("purchase", "sum"),
        "n_returns": ("ret", "sum"),
        "frequency": ("purchase_day", "nunique"),
        "monetary": ("amount", "sum"),
        "gross_spend": ("gross", "sum"),
        "first_purchase": ("purchase_day", "min"),
        "last_purchase": ("purchase_day", "max"),
    }
    if "items" in t:
        spec["avg_items"] = ("items", "mean")
    if "promo" in t:
        spec["promo_share"] = ("promo", "mean")
    if "store" in t:
        spec["n_stores"] = ("store", "nunique")
    f = g.agg(**spec)
    n_tx = f["n_transactions"].astype(float)
    f["avg_basket"] = (f["gross_spend"] / n_tx).where(n_tx > 0)
    f["returns_share"] = f["n_returns"] / (f["n_transactions"] + f["n_returns"])
    f["recency_days"] = (as_of - f["last_purchase"]).dt.days.astype(float)
    f["days_since_first_purchase"] = (as_of - f["first_purchase"]).dt.days.astype(float)
    span = (f["last_purchase"] - f["first_purchase"]).dt.days.astype(float)
    f["cadence_days"] = (span / (f["frequency"] - 1)).where(f["frequency"] >= 2)
    return f


def _survey_features(sv: pd.DataFrame, id_col: str, drivers: list[str]) -> pd.DataFrame:
    sv = sv.sort_values(["day"], kind="mergesort")
    latest = sv.groupby(id_col, sort=False).tail(1).set_index(id_col)
    out = pd.DataFrame(index=latest.index)
    out["n_survey_responses"] = sv.groupby(id_col, sort=False).size()
    out["last_survey_date"] = latest["day"]
    for c in ("overall_satisfaction", "recommend"):
        if c in latest.columns:
            out[c] = pd.to_numeric(latest[c], errors="coerce").astype(float)
    if drivers:
        ratings = latest[drivers].apply(pd.to_numeric, errors="coerce").astype(float)
        out["driver_mean"] = ratings.mean(axis=1)
        out[drivers] = ratings
    return out


def _resolved(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    tokens = s.map(lambda v: str(v).strip().lower(), na_action="ignore")
    mapped = tokens.map(YES_NO)
    bad = mapped.isna() & s.notna()
    if bad.any():
        raise DataError(
            f"complaints.resolved: {int(bad.sum())} value(s) are not yes/no "
            f"(rows {list(s.index[bad][:5])}). Run crmlab.quality.clean_tables first."
        )
    return mapped.astype("boolean")


def _complaint_features(cp: pd.DataFrame, id_col: str) -> pd.DataFrame:
    t = pd.DataFrame({"cid": cp[id_col].to_numpy()})
    if "resolved" in cp.columns:
        resolved = _resolved(cp["resolved"])
        t["unresolved"] = (~resolved).fillna(False).astype(int).to_numpy()
    else:
        resolved = None
    if "days_to_resolve" in cp.columns:
        days = pd.to_numeric(cp["days_to_resolve"], errors="coerce")
        if resolved is not None:
            days = days.where(resolved.fillna(False).astype(bool))
        t["days"] = days.to_numpy(dtype=float)
    g = t.groupby("cid", sort=False)
    spec = {"n_complaints": ("cid", "size")}
    if "unresolved" in t:
        spec["n_unresolved"] = ("unresolved", "sum")
    if "days" in t:
        spec["mean_days_to_resolve"] = ("days", "mean")
    return g.agg(**spec)


def _check_ids(df: pd.DataFrame, id_col: str, known: pd.Index, table: str) -> None:
    ids = df[id_col].dropna()
    unknown = pd.Series(~text_isin(ids, known.to_series()), index=ids.index)
    if unknown.any():
        raise DataError(
            f"{table}: {int(unknown.sum())} row(s) have a {id_col} that is not in customers "
            f"(rows {list(ids.index[unknown][:5])}). Drop orphans first "
            "(crmlab.quality.clean_tables) and make sure both tables use the same pseudonym key."
        )


def customer_features(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None = None,
    survey: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    as_of: str | pd.Timestamp | None = None,
    *,
    id_col: str = "customer_id",
    driver_cols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build one row per customer (index ``id_col``, in the order of ``customers``).

    Parameters
    ----------
    customers
        One row per customer with a unique ``id_col`` (pseudonymized); other columns are passed
        through (``signup_date`` is also used for ``tenure_days``).
    transactions
        ``id_col, date, amount`` (+ optional ``promotion`` 0/1, ``items``, ``store_id``). Must be
        clean: no missing amounts, no ids unknown to ``customers``. ``None`` -> no purchase
        features (survey-only project).
    survey
        ``id_col`` (may be blank: anonymous, ignored here), ``date``, ``overall_satisfaction``,
        ``recommend`` and driver ratings. Optional.
    complaints
        ``id_col, date`` (+ ``resolved`` yes/no, ``days_to_resolve``). Optional.
    as_of
        Analysis date (exclusive); see the module docstring. Default :func:`default_as_of`.
    driver_cols
        Survey driver-rating columns; default :func:`survey_driver_columns`.

    Returns
    -------
    DataFrame
        Columns as listed in the module docstring; customers without transactions have
        ``frequency = n_transactions = 0``, ``monetary = 0`` and missing recency/cadence.
        ``as_of`` is stored in ``df.attrs["as_of"]``.
    """
    _need(customers, [id_col], "customers")
    dup = customers[id_col].duplicated()
    if dup.any():
        raise DataError(
            f"customers.{id_col}: {int(dup.sum())} duplicated id(s) (rows "
            f"{list(customers.index[dup][:5])}). Run crmlab.quality.clean_tables first."
        )
    if customers[id_col].isna().any():
        raise DataError(f"customers.{id_col} has missing ids; drop those rows first.")

    tx = sv = cp = None
    if transactions is not None:
        _need(transactions, [id_col, "date", "amount"], "transactions")
        tx = transactions.assign(day=_day(transactions["date"], "transactions", "date"))
    if survey is not None:
        _need(survey, [id_col, "date"], "survey")
        sv = survey[survey[id_col].notna()]
        sv = sv.assign(day=_day(sv["date"], "survey", "date"))
    if complaints is not None:
        _need(complaints, [id_col, "date"], "complaints")
        cp = complaints.assign(day=_day(complaints["date"], "complaints", "date"))

    if as_of is None:
        as_of = default_as_of(tx, sv, cp, customers)
    as_of = pd.Timestamp(as_of).normalize()

    base = customers.set_index(id_col)
    out = base.copy()
    if "signup_date" in base.columns:
        signup = _day(base["signup_date"], "customers", "signup_date", allow_missing=True)
        out["signup_date"] = signup
        out["tenure_days"] = (as_of - signup).dt.days.astype(float)

    if tx is not None:
        _check_ids(tx, id_col, base.index, "transactions")
        f = _transaction_features(tx[tx["day"] < as_of], id_col, as_of)
        f = f.reindex(base.index)
        for c in ("n_transactions", "n_returns", "frequency"):
            f[c] = f[c].fillna(0).astype("int64")
        for c in ("monetary", "gross_spend"):
            f[c] = f[c].fillna(0.0).astype(float)
        if "n_stores" in f:
            f["n_stores"] = f["n_stores"].fillna(0).astype("int64")
        order = list(TRANSACTION_FEATURES)
        out = out.join(f[[c for c in order if c in f.columns]])

    if sv is not None:
        drivers = list(driver_cols) if driver_cols is not None else survey_driver_columns(sv)
        _need(sv, drivers, "survey")
        _check_ids(sv, id_col, base.index, "survey")
        s = _survey_features(sv[sv["day"] < as_of], id_col, drivers).reindex(base.index)
        s["n_survey_responses"] = s["n_survey_responses"].fillna(0).astype("int64")
        out = out.join(s)

    if cp is not None:
        _check_ids(cp, id_col, base.index, "complaints")
        c = _complaint_features(cp[cp["day"] < as_of], id_col).reindex(base.index)
        for col in ("n_complaints", "n_unresolved"):
            if col in c:
                c[col] = c[col].fillna(0).astype("int64")
        out = out.join(c)

    out.index.name = id_col
    out.attrs["as_of"] = as_of
    return out
