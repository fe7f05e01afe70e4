"""Retail customer features as Ibis expressions: the same table as :mod:`crmlab.features`.

The sources (customers, transactions, survey, complaints, stores) are cleaned with the case's
rules (:mod:`crmlab.engine.clean`, the steps of :func:`crmlab.quality.clean_tables`) and reduced
to one row per customer inside the engine; only that customer-level table comes back to Python.
Definitions and units are those of :mod:`crmlab.features` (module docstring there):

transactions  n_transactions, n_returns, frequency (distinct purchase days), monetary (net spend),
              gross_spend, avg_basket, avg_items, first_purchase, last_purchase, recency_days,
              days_since_first_purchase, cadence_days, promo_share, returns_share, n_stores
customers     every column except the id (cleaned), tenure_days
survey        n_survey_responses, last_survey_date, overall_satisfaction, recommend, driver_mean
              and each driver rating of the latest answer before ``as_of``
complaints    n_complaints, n_unresolved, mean_days_to_resolve

``as_of`` (exclusive) defaults to the day after the last transaction; the transaction aggregates
are computed once (one pass over the transactions) and ``as_of`` is read from them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crmlab.engine.backends import (
    Source,
    engine_name,
    ids_as_found,
    memory_limit,
    number,
    probe_side_as_written,
    register_source,
    scratch_folder,
    set_row_order,
    source_path,
    source_rows,
    spill_subfolder,
)
from crmlab.engine.clean import ROW, _parse_date, clean_sources, id_text
from crmlab.errors import DataError
from crmlab.features import SURVEY_NON_DRIVERS, TRANSACTION_FEATURES

__all__ = [
    "RETAIL_SOURCES",
    "RetailBuild",
    "build_retail_features",
    "complaint_features",
    "load_sources",
    "pass_count",
    "survey_features",
    "to_pandas",
    "transaction_features",
    "transaction_summary",
]

ROWS_PER_PASS = 21_000_000
"""DuckDB aggregates at most about this many transaction rows per pass (see
:func:`build_retail_features`); more rows are split into passes by customer. A pass of about
20M rows (1M customers) is the fastest per row: on the 205M transactions of 10M customers
(4 GB cap, 2026-12-06, passes by hash bucket) ten passes of 20.5M rows took 72 s, six of 34M
84 s, fifteen of 14M 78 s. The 1M-customer build (20.5M rows) is one pass."""
BYTES_PER_ROW_IN_PASS = 90
"""Memory a pass needs per transaction row (the distinct purchase days and stores per customer,
which DuckDB cannot spill): a pass holds at most ``memory_limit / BYTES_PER_ROW_IN_PASS`` rows
(about 21M under the case's 2 GB cap, which DuckDB reports as 1.8 GiB; the 1M-customer case,
20.5M rows, is one pass)."""

RETAIL_SOURCES = ("customers", "transactions", "survey", "complaints", "stores")
"""Sources the feature build reads (``pilot`` is not needed for features)."""

TX_ORDER = list(TRANSACTION_FEATURES)
TX_COLUMNS = ("date", "amount", "items", "promotion", "store_id")
"""Transaction columns :func:`transaction_features` reads (besides the customer id)."""
INT_FEATURES = {
    "n_transactions",
    "n_returns",
    "frequency",
    "n_stores",
    "n_survey_responses",
    "n_complaints",
    "n_unresolved",
}
DATE_FEATURES = {"first_purchase": "transactions", "last_purchase": "transactions"}
DATE_FEATURES["last_survey_date"] = "survey"


def load_sources(con, data_dir, stems: Sequence[str] = RETAIL_SOURCES) -> dict[str, Source]:
    """Register each present ``<stem>.parquet``/``.csv`` of ``data_dir`` on ``con``."""
    from pathlib import Path

    if not Path(data_dir).is_dir():
        raise DataError(f"Data folder {data_dir} does not exist. Check data_dir in the config.")
    found = {}
    for stem in stems:
        path = source_path(data_dir, stem)
        if path is not None:
            found[stem] = register_source(con, path, stem)
    if "customers" not in found and "transactions" not in found:
        raise DataError(
            f"{data_dir}: customer features need customers.csv/.parquet or "
            "transactions.csv/.parquet (neither found)."
        )
    return found


def _need(t, cols: Sequence[str], table: str) -> None:
    absent = [c for c in cols if c not in t.columns]
    if absent:
        raise DataError(
            f"{table}: column(s) {absent} are needed for customer features but missing "
            f"(columns: {[c for c in t.columns if c != ROW]})."
        )


def _as_date(as_of) -> dt.date:
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise DataError(f"as_of must be a date like '2026-11-01', got {as_of!r}.") from None
    if pd.isna(ts):
        raise DataError(f"as_of must be a date like '2026-11-01', got {as_of!r}.")
    return ts.normalize().date()


def _num(col):
    return col.cast("float64") if col.type().is_numeric() else col.try_cast("float64")


def _check_transactions(tx, id_col: str) -> None:
    _need(tx, [id_col, "date", "amount"], "transactions")
    if not tx.amount.type().is_numeric():
        raise DataError(
            "transactions.amount is not numeric in the file (text such as '12,50' or 'n/a'?). "
            "Export amounts as numbers with a decimal point."
        )


def transaction_features(
    tx, id_col: str = "customer_id", as_of: dt.date | None = None, *, id_as_text: bool = True
):
    """One row per customer id in the (clean) transactions: the raw aggregates.

    Columns ``_cid`` and n_transactions, n_returns, frequency, monetary, gross_spend,
    first_purchase, last_purchase (+ avg_items, promo_share, n_stores when the columns exist),
    ``_last_day`` (last transaction or return day). Rows dated on or after ``as_of`` are left
    out when ``as_of`` is given. ``_cid`` is the id as trimmed text (:func:`id_text`), or the
    column as it is with ``id_as_text=False`` (the customers' positions of a build in slices).
    """
    import ibis

    _check_transactions(tx, id_col)
    cid = id_text(tx[id_col]) if id_as_text else tx[id_col]
    t = tx.mutate(_cid=cid, _day=_parse_date(tx.date), _amt=tx.amount.cast("float64"))
    if as_of is not None:
        t = t.filter(t._day < ibis.literal(as_of))
    buy = t._amt >= 0
    agg = {
        "n_transactions": ibis.cases((buy, 1), else_=0).sum(),
        "n_returns": ibis.cases((buy, 0), else_=1).sum(),
        "frequency": ibis.cases((buy, t._day)).nunique(),
        "monetary": t._amt.sum(),
        "gross_spend": ibis.cases((buy, t._amt), else_=0.0).sum(),
        "first_purchase": ibis.cases((buy, t._day)).min(),
        "last_purchase": ibis.cases((buy, t._day)).max(),
        "_last_day": t._day.max(),
    }
    if "items" in t.columns:
        agg["avg_items"] = ibis.cases((buy, _num(t["items"]))).mean()
    if "promotion" in t.columns:
        agg["promo_share"] = ibis.cases((buy, _num(t.promotion))).mean()
    if "store_id" in t.columns:
        agg["n_stores"] = ibis.cases((buy, t.store_id)).nunique()
    return t.group_by("_cid").agg(**agg)


def survey_driver_columns(sv, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric survey columns that are not ids, dates, wave, overall score or recommend."""
    skip = SURVEY_NON_DRIVERS | set(exclude) | {ROW}
    return [c for c in sv.columns if c not in skip and sv[c].type().is_numeric()]


def survey_features(sv, id_col: str, drivers: Sequence[str], as_of: dt.date):
    """Per customer: answers before ``as_of`` and the latest answer's scores (``_cid`` key).

    The latest answer is the one with the latest date; among answers on the same day, the last
    in file order (as a stable sort by date in pandas).
    """
    import ibis

    _need(sv, [id_col, "date", *drivers], "survey")
    t = sv.filter(sv[id_col].notnull())
    t = t.mutate(_cid=id_text(t[id_col]), _day=_parse_date(t.date))
    t = t.filter(t._day < ibis.literal(as_of))
    order = [ibis.desc(t._day), ibis.desc(t[ROW])]
    w = ibis.window(group_by=t._cid, order_by=order)
    t = t.mutate(_rank=ibis.row_number().over(w), _n=t.count().over(ibis.window(group_by=t._cid)))
    latest = t.filter(t._rank == 0)
    cols = {
        "_cid": latest._cid,
        "n_survey_responses": latest._n.cast("int64"),
        "last_survey_date": latest._day,
    }
    for c in ("overall_satisfaction", "recommend"):
        if c in latest.columns:
            cols[c] = _num(latest[c])
    if drivers:
        ratings = {d: _num(latest[d]) for d in drivers}
        total = sum((r.fill_null(0.0) for r in ratings.values()), ibis.literal(0.0))
        count = sum((r.notnull().cast("int64") for r in ratings.values()), ibis.literal(0))
        cols["driver_mean"] = ibis.cases((count > 0, total / count.cast("float64")))
        cols.update(ratings)
    return latest.select(**cols)


def complaint_features(cp, id_col: str, as_of: dt.date):
    """Per customer: n_complaints, n_unresolved, mean_days_to_resolve (``_cid`` key)."""
    import ibis

    _need(cp, [id_col, "date"], "complaints")
    t = cp.mutate(_cid=id_text(cp[id_col]), _day=_parse_date(cp.date))
    t = t.filter(t._day < ibis.literal(as_of))
    agg = {"n_complaints": t.count()}
    resolved = None
    if "resolved" in t.columns:
        if not t.resolved.type().is_boolean():
            raise DataError(
                "complaints.resolved must be cleaned to yes/no first (the case rules list it "
                "under 'booleans')."
            )
        resolved = t.resolved
        agg["n_unresolved"] = ibis.cases((resolved == False, 1), else_=0).sum()  # noqa: E712
    if "days_to_resolve" in t.columns:
        days = _num(t.days_to_resolve)
        if resolved is not None:
            days = ibis.cases((resolved.fill_null(False), days))
        agg["mean_days_to_resolve"] = days.mean()
    return t.group_by("_cid").agg(**agg)


def _transaction_features_in_passes(con, tx, id_col: str, as_of, passes: int):
    """:func:`transaction_features` bucket by bucket (hash of the customer id) into a table.

    The cleaned transactions are written once into ``passes`` Parquet partitions (one per
    bucket) in a scratch folder of the connection's spill folder; each pass then reads only its
    own partition, so the work grows linearly with the rows (re-scanning and re-cleaning the
    whole file in every pass would grow with rows times passes).
    """
    import uuid

    name = f"crmlab_tx_features_{uuid.uuid4().hex[:8]}"
    made = False
    with scratch_folder(con) as folder:
        bucket = (id_text(tx[id_col]).hash() % passes).abs()
        used = [c for c in (id_col, *TX_COLUMNS) if c in tx.columns]  # not the ids, not _row
        con.to_parquet(tx.select(*used, _bucket=bucket), folder, partition_by="_bucket")
        for i in range(passes):
            files = sorted((folder / f"_bucket={i}").glob("*.parquet"))
            if not files:
                continue
            part = con.read_parquet([str(f) for f in files], hive_partitioning=False)
            part = transaction_features(part, id_col, as_of)
            if made:
                con.insert(name, part)
            else:
                con.create_table(name, part, temp=True)
                made = True
    if not made:  # no transactions at all: the empty aggregate
        con.create_table(name, transaction_features(tx, id_col, as_of), temp=True)
    return con.table(name)


@dataclass
class RetailBuild:
    """A lazy customer-level feature table and what is needed to return it as pandas.

    Attributes
    ----------
    table
        Ibis expression: ``id_col``, the feature columns, ordered as the customers file (for a
        build in slices, the union of the slices in no particular order: fetch the table with
        :meth:`to_pyarrow` or :meth:`to_parquet`, which keep the customers file's order).
    as_of
        The analysis date used (exclusive).
    id_col
        Customer id column (the index of the pandas result).
    kinds
        Column -> how to convert it to the pandas dtype of :func:`crmlab.features.customer_features`
        (``"int"``, ``"float"``, ``"str"``, ``"boolean"``, ``"datetime64[unit]"``, ``"auto"``).
    con
        The connection the table lives on.
    slices
        A build in slices (:func:`_build_in_slices`): expressions whose results, one after the
        other, are the table in the customers file's order (``table`` is their union, in no
        particular order); empty otherwise. Their scratch files are removed with this object.
    """

    table: object
    as_of: dt.date
    id_col: str
    kinds: dict[str, str] = field(default_factory=dict)
    con: object = None
    slices: tuple = ()

    def to_pyarrow(self):
        """The table as a pyarrow Table, in the customers file's order."""
        import pyarrow as pa

        if not self.slices:
            return self.table.to_pyarrow()
        return pa.concat_tables([self.con.to_pyarrow(s) for s in self.slices])

    def to_parquet(self, path) -> None:
        """Write the table to the Parquet file ``path`` in the customers file's order (a slice
        at a time for a build in slices) through a temporary file renamed at the end."""
        import os
        import uuid

        import pyarrow.parquet as pq

        path = Path(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            if not self.slices:
                self.con.to_parquet(self.table, str(tmp))
            else:
                writer = None
                for s in self.slices:  # one slice in memory at a time (~1M customers)
                    part = self.con.to_pyarrow(s)
                    writer = writer or pq.ParquetWriter(str(tmp), part.schema)
                    writer.write_table(part)
                writer.close()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _default_as_of(tx_feat, clean: Mapping, id_col: str) -> dt.date:
    """The day after the last transaction; else after the last survey/complaint/signup date."""
    last = tx_feat._last_day.max().execute() if tx_feat is not None else None
    if last is None or pd.isna(last):
        candidates = []
        sv, cp, cu = clean.get("survey"), clean.get("complaints"), clean.get("customers")
        if sv is not None and "date" in sv.columns and id_col in sv.columns:
            sv = sv.filter(sv[id_col].notnull())
            candidates.append(_parse_date(sv.date).max().execute())
        if cp is not None and "date" in cp.columns:
            candidates.append(_parse_date(cp.date).max().execute())
        if cu is not None and "signup_date" in cu.columns:
            candidates.append(_parse_date(cu.signup_date).max().execute())
        candidates = [pd.Timestamp(c) for c in candidates if c is not None and not pd.isna(c)]
        if not candidates:
            raise DataError("Cannot set as_of: no dates in the tables; pass as_of explicitly.")
        last = max(candidates)
    return (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).date()


def build_retail_features(
    con,
    sources: Mapping[str, Source],
    rules: Mapping | None = None,
    as_of=None,
    *,
    id_col: str = "customer_id",
    driver_cols: Sequence[str] | None = None,
    rows_per_pass: int | None = None,
    cleaned: Mapping | None = None,
) -> RetailBuild:
    """Clean the sources with ``rules`` and build the customer-level feature expression.

    On DuckDB, transactions with more than ``rows_per_pass`` rows (default: the smaller of
    :data:`ROWS_PER_PASS` and what the connection's memory cap holds, see
    :data:`BYTES_PER_ROW_IN_PASS`) are aggregated in several passes, so memory stays bounded
    (a single pass over 200 million rows needs more memory than DuckDB can spill: the distinct
    purchase days and stores per customer) and time grows linearly with the rows. With a
    customers file the passes are slices of it (:func:`_build_in_slices`: each slice's
    customers and their transactions written once to a Parquet partition, each slice built and
    sorted on its own, the table being the slices in order: :meth:`RetailBuild.to_pyarrow`,
    :meth:`RetailBuild.to_parquet`); without one, buckets of the id's hash
    (:func:`_transaction_features_in_passes`).

    Parameters
    ----------
    con
        Ibis connection (:func:`crmlab.engine.connect`).
    sources
        Registered sources (:func:`load_sources`).
    rules
        Quality rules (default: :func:`crmlab.sources.case_rules` of the retail case, i.e.
        :data:`crmlab.quality.RETAIL_RULES` for the present sources and columns).
    as_of
        Analysis date (exclusive); default the day after the last transaction.
    driver_cols
        Survey driver columns; default the numeric survey columns that are not ids, dates, wave,
        overall score or recommend.
    cleaned
        Sources already cleaned with ``rules`` on ``con`` (name -> lazy table with ``_row``, e.g.
        :meth:`crmlab.engine.LargeSources.clean`): used as they are, not cleaned again.

    Identifiers are compared trimmed; on DuckDB an id column whose values never start or end
    with whitespace is used as it is (:func:`crmlab.engine.backends.plain_id_columns`, one scan
    of the id columns).
    """
    with ids_as_found(con, sources.values()):
        return _build_retail_features(
            con,
            sources,
            rules,
            as_of,
            id_col=id_col,
            driver_cols=driver_cols,
            rows_per_pass=rows_per_pass,
            cleaned=cleaned,
        )


def pass_count(con, transactions_path, rows_per_pass: int | None = None) -> int:
    """How many passes the DuckDB feature build makes over the transactions file (1 = one
    pass): its rows over ``rows_per_pass`` (default: the smaller of :data:`ROWS_PER_PASS` and
    what ``con``'s memory cap holds at :data:`BYTES_PER_ROW_IN_PASS`), rounded up."""
    if rows_per_pass is None:
        rows_per_pass = min(ROWS_PER_PASS, memory_limit(con) // BYTES_PER_ROW_IN_PASS)
    return max(1, math.ceil(source_rows(transactions_path) / rows_per_pass))


def _build_retail_features(
    con, sources, rules, as_of, *, id_col, driver_cols, rows_per_pass, cleaned
) -> RetailBuild:
    from crmlab.sources import case_rules

    if rules is None:  # the rules the notebooks use (crmlab.sources.case_rules)
        rules = case_rules("retail_satisfaction", {n: s.table for n, s in sources.items()})
    # Orphan transactions (customer id not in customers) are not filtered row by row: they
    # never join a customer, so they are dropped at the customer level, after aggregation.
    tx_fks = rules.get("transactions", {}).get("foreign_keys", {})
    deferred = [fk for fk, parent in tx_fks.items() if fk == id_col and parent == "customers"]
    if "customers" not in sources:
        deferred = []
    skip = {"transactions": deferred}
    passes = 1
    if engine_name(con) == "duckdb" and "transactions" in sources:
        passes = pass_count(con, sources["transactions"].path, rows_per_pass)
    cache = ["transactions"] if passes > 1 else []
    cleaned = dict(cleaned or {})
    todo = {n: s.table for n, s in sources.items() if n not in cleaned}
    clean = {**clean_sources(todo, rules, skip, cache), **cleaned}
    set_row_order(con, [s.fmt for s in sources.values()])
    units = {n: s.date_units for n, s in sources.items()}
    tx = clean.get("transactions")

    as_of_date = _as_date(as_of) if as_of is not None else None
    if tx is not None and passes > 1 and "customers" in clean:
        build = _build_in_slices(
            con, clean, rules, units, as_of_date, id_col, driver_cols, bool(deferred), passes
        )
        if build is not None:
            return build
    tx_feat = None
    if tx is not None and passes > 1:
        tx_feat = _transaction_features_in_passes(con, tx, id_col, as_of_date, passes)
    elif tx is not None:
        tx_feat = transaction_features(tx, id_col, as_of_date)
        if as_of_date is None:
            tx_feat = tx_feat.cache()  # one pass over the transactions; as_of is read from it
    if as_of_date is None:
        known = tx_feat
        if tx_feat is not None and deferred:
            cust_ids = clean["customers"].select(_pk=id_text(clean["customers"][id_col]))
            known = tx_feat.filter(tx_feat._cid.isin(cust_ids._pk))
        as_of_date = _default_as_of(known, clean, id_col)

    if "customers" in clean:
        cust = clean["customers"]
        _need(cust, [id_col], "customers")
    else:  # customers in first-seen order of the (clean) transactions
        cust = tx.filter(tx[id_col].notnull())
        cust = cust.group_by(id_col).agg(**{ROW: cust[ROW].min()})
    cust_rules = rules.get("customers", {}) if "customers" in clean else {}
    parts = _Parts(cust, cust_rules, units, id_col, as_of_date)
    s_feat, c_feat = _survey_and_complaints(clean, id_col, driver_cols, as_of_date, parts)
    out = parts.assemble(cust, tx_feat, s_feat, c_feat, lambda out: id_text(out[id_col]))
    out = out.order_by(ROW).drop(ROW)
    return RetailBuild(out, as_of_date, id_col, parts.kinds_of(out), con=con)


@dataclass
class _Parts:
    """How a cleaned customers table and the feature tables become the customer-level table:
    the column order, the derived features and the pandas kinds (:class:`RetailBuild`)."""

    cust: object
    cust_rules: Mapping
    units: Mapping
    id_col: str
    as_of: dt.date
    kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        cust, id_col = self.cust, self.id_col
        self.passthrough = [c for c in cust.columns if c not in (id_col, ROW)]
        cust_units = self.units.get("customers", {})
        for c in self.passthrough:
            self.kinds[c] = _passthrough_kind(cust[c], c, self.cust_rules, cust_units)
        if "signup_date" in self.passthrough:
            self.kinds["signup_date"] = f"datetime64[{cust_units.get('signup_date', 'us')}]"
            self.kinds["tenure_days"] = "float"

    def kinds_of(self, out) -> dict[str, str]:
        return {c: self.kinds[c] for c in out.columns if c in self.kinds}

    def assemble(self, cust, tx_feat, s_feat, c_feat, tx_key):
        """The customer-level table (with ``_row``) of ``cust``: its columns, tenure, and the
        transaction features (``tx_feat``, joined on ``tx_key(out) == _cid``), survey and
        complaint features (joined on the id as trimmed text)."""
        import ibis

        id_col, day0 = self.id_col, ibis.literal(self.as_of)
        cols = {id_col: cust[id_col], ROW: cust[ROW]}
        for c in self.passthrough:
            cols[c] = _parse_date(cust[c]) if c == "signup_date" else cust[c]
        if "signup_date" in self.passthrough:
            since = _parse_date(cust.signup_date)
            cols["tenure_days"] = day0.delta(since, unit="day").cast("float64")
        out = cust.select(**cols)
        if tx_feat is not None:
            out = self._with_transactions(out, tx_feat, tx_key, day0)
        if s_feat is not None:
            out = out.left_join(s_feat, id_text(out[id_col]) == s_feat._cid).drop("_cid")
            out = out.mutate(n_survey_responses=out.n_survey_responses.fill_null(0))
        if c_feat is not None:
            out = out.left_join(c_feat, id_text(out[id_col]) == c_feat._cid).drop("_cid")
            counts = [c for c in ("n_complaints", "n_unresolved") if c in c_feat.columns]
            out = out.mutate(**{c: out[c].fill_null(0) for c in counts})
        return out

    def _with_transactions(self, out, f, key, day0):
        import ibis

        out = out.left_join(f, key(out) == f._cid).drop("_cid")
        n_tx = out.n_transactions.fill_null(0)
        n_ret = out.n_returns.fill_null(0)
        derived = {
            "n_transactions": n_tx,
            "n_returns": n_ret,
            "frequency": out.frequency.fill_null(0),
            "monetary": out.monetary.fill_null(0.0),
            "gross_spend": out.gross_spend.fill_null(0.0),
            "avg_basket": ibis.cases((n_tx > 0, out.gross_spend / n_tx.cast("float64"))),
            "recency_days": day0.delta(out.last_purchase, unit="day").cast("float64"),
            "days_since_first_purchase": day0.delta(out.first_purchase, unit="day").cast("float64"),
            "cadence_days": ibis.cases(
                (
                    out.frequency >= 2,
                    out.last_purchase.delta(out.first_purchase, unit="day").cast("float64")
                    / (out.frequency - 1).cast("float64"),
                )
            ),
            "returns_share": ibis.cases(
                (
                    out._last_day.notnull(),
                    out.n_returns.cast("float64") / (out.n_transactions + out.n_returns),
                )
            ),
        }
        if "n_stores" in out.columns:
            derived["n_stores"] = out.n_stores.fill_null(0)
        out = out.mutate(**derived).drop("_last_day")
        tx_units = self.units.get("transactions", {})
        for c in TX_ORDER:
            if c in out.columns:
                self.kinds[c] = "int" if c in INT_FEATURES else "float"
        for c in ("first_purchase", "last_purchase"):
            self.kinds[c] = f"datetime64[{tx_units.get('date', 'us')}]"
        head = [self.id_col, ROW, *self.passthrough]
        head += ["tenure_days"] if "tenure_days" in out.columns else []
        rest = [c for c in out.columns if c not in head and c not in TX_ORDER]
        return out.select(*head, *[c for c in TX_ORDER if c in out.columns], *rest)


def _survey_and_complaints(clean, id_col, driver_cols, as_of: dt.date, parts: _Parts):
    """The survey and complaint features (``_cid`` key) of the cleaned tables, or None each;
    their pandas kinds go into ``parts.kinds``."""
    s_feat = c_feat = None
    if "survey" in clean:
        sv = clean["survey"]
        drivers = list(driver_cols) if driver_cols is not None else survey_driver_columns(sv)
        s_feat = survey_features(sv, id_col, drivers, as_of)
        for c in s_feat.columns:
            if c != "_cid":
                parts.kinds[c] = "int" if c in INT_FEATURES else "float"
        parts.kinds["last_survey_date"] = f"datetime64[{parts.units['survey'].get('date', 'us')}]"
    if "complaints" in clean:
        c_feat = complaint_features(clean["complaints"], id_col, as_of)
        for c in c_feat.columns:
            if c != "_cid":
                parts.kinds[c] = "int" if c in INT_FEATURES else "float"
    return s_feat, c_feat


def _build_in_slices(con, clean, rules, units, as_of, id_col, driver_cols, orphans_out, passes):
    """The customer table in ``passes`` slices of the customers file (DuckDB, large inputs).

    The cleaned customers are cut into ``passes`` slices of consecutive file positions
    (``_row``); each transaction row gets its customer's position (a join on the id: rows of
    unknown customers drop out here, as they would at the customer level) and both are written
    once to one Parquet partition per slice, in a scratch folder removed with the build. Each
    slice then aggregates its own transactions (grouped by the integer position) and joins
    them to its own customers and to the survey and complaint features, sorted: the slices one
    after the other are the table in the customers file's order (:class:`RetailBuild`). Every
    step grows linearly with the rows: no sort or join of the whole customer table and no hash
    table of every customer (one sort of the 10M wide rows spilled to disk and grew faster
    than the rows).

    ``orphans_out``: transactions of customers not in the customers file are left out of the
    default ``as_of`` (the rules' foreign key from transactions to customers, as in
    :func:`_build_retail_features`). Returns None for a customers table without rows.
    """
    import shutil
    import uuid
    import weakref

    import ibis

    tx, cust = clean["transactions"], clean["customers"]
    _need(cust, [id_col], "customers")
    _check_transactions(tx, id_col)
    last_row = cust[ROW].max().execute()
    if last_row is None or pd.isna(last_row):
        return None
    slice_rows = max(1, math.ceil((int(last_row) + 1) / passes))
    folder = spill_subfolder(con, "crmlab-slices-")
    try:
        position = cust.select(_key=id_text(cust[id_col]), _pos=cust[ROW])
        position = con.create_table(f"crmlab_pos_{uuid.uuid4().hex[:8]}", position, temp=True)
        con.to_parquet(
            cust.mutate(_slice=cust[ROW] // slice_rows), folder / "customers", partition_by="_slice"
        )
        used = [c for c in TX_COLUMNS if c in tx.columns]
        j = tx.inner_join(position, id_text(tx[id_col]) == position._key)
        rows = j.select(_pos=j._pos, **{c: j[c] for c in used})
        with probe_side_as_written(con):  # the hash table on the customers, not 205M rows
            con.to_parquet(
                rows.mutate(_slice=rows._pos // slice_rows),
                folder / "transactions",
                partition_by="_slice",
            )
        con.drop_table(position.get_name(), force=True)

        def read(pattern: str):
            files = sorted(folder.glob(pattern))
            return con.read_parquet([str(f) for f in files], hive_partitioning=False)

        tx_files = sorted(folder.glob("transactions/_slice=*/*.parquet"))
        all_tx = "transactions/_slice=*/*.parquet"
        if as_of is None:  # the day after the last transaction (of a known customer)
            dated = tx if not orphans_out else (read(all_tx) if tx_files else None)
            last = _parse_date(dated.date).max().execute() if dated is not None else None
            if last is None or pd.isna(last):
                as_of = _default_as_of(None, clean, id_col)
            else:
                as_of = (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).date()
        parts = _Parts(cust, rules.get("customers", {}), units, id_col, as_of)
        s_feat, c_feat = _survey_and_complaints(clean, id_col, driver_cols, as_of, parts)
        s_feat = s_feat.cache() if s_feat is not None else None  # joined once per slice
        c_feat = c_feat.cache() if c_feat is not None else None
        # a slice without transactions aggregates no rows of the same types
        no_rows = (read(all_tx) if tx_files else rows).filter(ibis.literal(False))
        slices = []
        for i in range(passes):
            if not any((folder / "customers" / f"_slice={i}").glob("*.parquet")):
                continue
            has_tx = any((folder / "transactions" / f"_slice={i}").glob("*.parquet"))
            tx_i = read(f"transactions/_slice={i}/*.parquet") if has_tx else no_rows
            tx_feat = transaction_features(tx_i, "_pos", as_of, id_as_text=False)
            cust_i = read(f"customers/_slice={i}/*.parquet")
            out = parts.assemble(cust_i, tx_feat, s_feat, c_feat, lambda out: out[ROW])
            slices.append(out.order_by(ROW).drop(ROW))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    table = ibis.union(*slices) if len(slices) > 1 else slices[0]
    build = RetailBuild(
        table, as_of, id_col, parts.kinds_of(slices[0]), con=con, slices=tuple(slices)
    )
    weakref.finalize(build, shutil.rmtree, folder, ignore_errors=True)
    return build


def _passthrough_kind(col, name: str, rules: Mapping, units: Mapping) -> str:
    """How pandas types a cleaned customers column (see :class:`RetailBuild`)."""
    if name in rules.get("booleans", []):
        return "boolean"
    if name in rules.get("dates", []):
        return f"datetime64[{units.get(name, 'us')}]"
    typ = col.type()
    if typ.is_string():
        return "str"
    if typ.is_floating():
        return "float"
    if typ.is_integer():
        return "auto_int"  # int64 without missing values, float64 with (as pandas reads it)
    return "auto"


def to_pandas(build: RetailBuild, arrow_table) -> pd.DataFrame:
    """Convert the engine's result (a pyarrow Table) to the dtypes pandas gives the same data.

    Types are fixed in Arrow first and the table is converted once (``self_destruct``), so the
    customer table is not held in memory three times over.
    """
    import pyarrow as pa

    names = arrow_table.column_names
    arrays = []
    for name in names:
        arr = arrow_table.column(name)
        kind = build.kinds.get(name, "str" if name == build.id_col else "auto")
        if kind.startswith("datetime64"):
            unit = kind[len("datetime64[") : -1]
            arr = arr.cast(pa.timestamp(unit))
        elif kind == "float":
            arr = arr.cast(pa.float64())
        elif kind == "int":
            arr = arr.cast(pa.int64())
        arrays.append(arr)
    del arrow_table
    table = pa.table(arrays, names=names)
    del arrays
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    for name in names:
        kind = build.kinds.get(name, "str" if name == build.id_col else "auto")
        s = df[name]
        if kind == "str" and s.dtype != "str":
            df[name] = s.astype("str")
        elif kind == "boolean":
            df[name] = s.astype("boolean")
        elif kind == "auto_int":
            df[name] = s.astype("float64" if s.isna().any() else "int64")
    df = df.set_index(build.id_col)
    df.attrs["as_of"] = pd.Timestamp(build.as_of)
    return df


def transaction_summary(tx, as_of, window_months: int = 6, id_col: str = "customer_id"):
    """:func:`crmlab.kpis.transaction_summary` of the cleaned lazy transactions, in the engine.

    ``tx``: cleaned rows (``date`` parsed to dates, ``amount``); ``as_of``: end of the recent
    window (exclusive). Returns the same small pandas table (windows ``recent``,
    ``year_earlier``, ``all``): per-customer counts are aggregated in the engine and only the
    three summary rows come back. Dates are whole days (a time of day is dropped). Purchases
    (amount >= 0) make buyers and repeat buyers, returns (amount < 0) only subtract from the
    net spend, as there.
    """
    import ibis

    from crmlab import kpis

    _need(tx, [id_col, "date", "amount"], "transactions")
    windows = kpis.summary_windows(as_of, window_months)
    t = tx.mutate(_cid=id_text(tx[id_col]), _day=_parse_date(tx.date), _amt=_num(tx.amount))
    ts = t._day.cast("timestamp")
    per: dict = {}
    for i, (start, end) in enumerate(windows.values()):
        inside = ts < ibis.literal(end.to_pydatetime())
        if not pd.isna(start):
            inside = inside & (ts >= ibis.literal(start.to_pydatetime()))
        bought = inside & (t._amt >= 0)
        per[f"n{i}"] = ibis.cases((bought, 1), else_=0).sum()
        per[f"x{i}"] = ibis.cases((inside & (t._amt < 0), 1), else_=0).sum()
        # two or more distinct purchase days <=> first purchase day < last purchase day (no
        # DISTINCT aggregate, whose state DuckDB cannot spill at hundreds of millions of rows)
        per[f"p{i}"] = ibis.cases((bought, t._day)).min()
        per[f"q{i}"] = ibis.cases((bought, t._day)).max()
        per[f"s{i}"] = ibis.cases((inside, t._amt), else_=0.0).sum()
        per[f"f{i}"] = ibis.cases((inside, t._day)).min()
        per[f"l{i}"] = ibis.cases((inside, t._day)).max()
    g = t.group_by("_cid").agg(**per)
    agg: dict = {}
    for i in range(len(windows)):
        agg[f"n{i}"] = g[f"n{i}"].sum()
        agg[f"x{i}"] = g[f"x{i}"].sum()
        agg[f"b{i}"] = ibis.cases((g[f"n{i}"] > 0, 1), else_=0).sum()
        agg[f"r{i}"] = ibis.cases((g[f"p{i}"] < g[f"q{i}"], 1), else_=0).sum()
        agg[f"s{i}"] = g[f"s{i}"].sum()
        agg[f"e{i}"] = g[f"f{i}"].min()
        agg[f"l{i}"] = g[f"l{i}"].max()
    res = g.aggregate(**agg).execute().iloc[0]
    rows = []
    for i, (name, (start, end)) in enumerate(windows.items()):
        first, last = res[f"e{i}"], res[f"l{i}"]
        rows.append(
            {
                "window": name,
                "start": start,
                "end": end,
                "n_transactions": number(res[f"n{i}"]),
                "n_returns": number(res[f"x{i}"]),
                "buyers": number(res[f"b{i}"]),
                "repeat_buyers": number(res[f"r{i}"]),
                "net_spend": number(res[f"s{i}"], float),
                "first_date": pd.NaT if first is None or pd.isna(first) else pd.Timestamp(first),
                "last_date": pd.NaT if last is None or pd.isna(last) else pd.Timestamp(last),
            }
        )
    return kpis.summary_frame(rows)
