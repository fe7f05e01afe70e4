"""The feature layer at scale: customer features computed where the data lives.

The heavy data work - transactions (and snapshots) to one row per customer - is written once as
Ibis expressions (:mod:`crmlab.engine.retail`, :mod:`crmlab.engine.finance`) and runs on

* ``engine="duckdb"`` (default): embedded DuckDB over the Parquet/CSV files, in this process,
  out-of-core when the data is larger than memory;
* ``engine="spark"``: Apache Spark (``spark_master``: ``local[2]`` by default, or a cluster URL);
* ``engine="pandas"``: the original in-memory path (:func:`crmlab.quality.clean_tables` then
  :func:`crmlab.features.customer_features`), kept as the reference and for small data.

Raw transactions never come back to Python on the DuckDB/Spark paths: only the customer-level
result does. It has the same columns, dtypes, index and values (to float rounding) as the pandas
path on the same files.

The retail case's data stage keeps its transactions in the engine through
:mod:`crmlab.engine.case`: :func:`open_large_sources`, then :func:`quality_report`,
:func:`clean_tables` (findings, notes and row counts counted in the engine, merged with the pandas
ones of the small tables) and :func:`kpi_summary` (the KPI dashboard's transaction summary).

The finance case's churn data set (:func:`crmlab.churn.build_churn_dataset`) is built the same
way by :func:`churn_dataset` (monthly snapshots aggregated in the engine).

Example::

    from crmlab import engine
    feats = engine.customer_features("data/synthetic/retail_satisfaction")   # DuckDB
    feats = engine.customer_features(path, engine="spark", spark_master="spark://host:7077")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from crmlab.engine.backends import (
    DEFAULT_SPARK_MASTER,
    ENGINES,
    build_memory_limit,
    connect,
    java_available,
    spark_session,
)
from crmlab.engine.case import (
    LargeSources,
    clean_tables,
    kpi_summary,
    open_large_sources,
    quality_report,
)
from crmlab.engine.finance import churn_dataset
from crmlab.engine.retail import transaction_summary
from crmlab.errors import ConfigError
from crmlab.params import CHOICES

__all__ = [
    "DEFAULT_SPARK_MASTER",
    "ENGINES",
    "LargeSources",
    "churn_dataset",
    "clean_tables",
    "connect",
    "customer_features",
    "java_available",
    "kpi_summary",
    "open_large_sources",
    "quality_report",
    "spark_session",
    "transaction_summary",
    "write_customer_features",
]


def _connect_for_build(engine: str, spark_master: str | None):
    """A new connection for a stand-alone feature build (DuckDB capped at
    :func:`~crmlab.engine.backends.build_memory_limit`, spilling above it)."""
    if engine == "duckdb":
        return connect(engine, memory_limit=build_memory_limit())
    return connect(engine, spark_master=spark_master)


def _check_engine(engine: str) -> None:
    if engine not in CHOICES["engine"]:  # ENGINES, and pandas (the reference path)
        raise ConfigError(f"engine must be one of {list(CHOICES['engine'])}, got {engine!r}.")


def _pandas_features(data_dir, as_of, rules, driver_cols, key):
    from crmlab import features, quality, sources

    raw = sources.load_sources("retail_satisfaction", data_dir)
    if key is not None:
        raw, _ = sources.pseudonymize_tables(raw, key)
    raw = {k: v for k, v in raw.items() if k != "pilot"}
    if rules is None:
        rules = sources.case_rules("retail_satisfaction", raw)
    clean, _ = quality.clean_tables(raw, rules)
    customers = clean.get("customers")
    tx = clean.get("transactions")
    if customers is None:
        customers = sources.customers_from_transactions(tx)
    return features.customer_features(
        customers, tx, clean.get("survey"), clean.get("complaints"), as_of, driver_cols=driver_cols
    )


def _pii_columns(con, src) -> list[str]:
    """Personal columns of the customers file, detected on its first rows as pandas does."""
    from crmlab import privacy

    head = src.table.drop("_row").head(500).to_pyarrow().to_pandas()
    for c in head.columns:
        if head[c].dtype == object and head[c].map(lambda v: isinstance(v, str)).all():
            head[c] = head[c].astype("str")
    return [c for c in privacy.detect_pii_columns(head) if c != "customer_id"]


def _build(con, data_dir, as_of, rules, driver_cols, key, clean=None):
    from crmlab.engine import retail

    srcs = retail.load_sources(con, data_dir)
    if key is not None and "customers" in srcs:
        pii = _pii_columns(con, srcs["customers"])
        if pii:  # personal columns never leave the engine
            srcs["customers"].table = srcs["customers"].table.drop(*pii)
    return retail.build_retail_features(
        con, srcs, rules, as_of, driver_cols=driver_cols, cleaned=clean
    )


def customer_features(
    data_dir: str | os.PathLike,
    engine: str = "duckdb",
    as_of=None,
    spark_master: str | None = None,
    *,
    rules: Mapping | None = None,
    driver_cols: Sequence[str] | None = None,
    key: bytes | str | None = None,
    con=None,
    clean: Mapping | None = None,
):
    """Customer-level retail features from the files in ``data_dir``, computed by ``engine``.

    Parameters
    ----------
    data_dir
        Folder with ``customers``, ``transactions``, ``survey``, ``complaints``, ``stores`` as
        ``<stem>.parquet`` or ``<stem>.csv`` (canonical columns, as the generators write them).
        Every source but customers-or-transactions is optional.
    engine
        ``"duckdb"`` (default), ``"spark"`` or ``"pandas"`` (reference path).
    as_of
        Analysis date (exclusive); default the day after the last transaction.
    spark_master
        Spark master URL for ``engine="spark"`` (default ``local[2]``).
    rules
        Cleaning rules (default :data:`crmlab.quality.RETAIL_RULES` for the present sources).
    driver_cols
        Survey driver-rating columns (default: the numeric survey columns that are not ids,
        dates, wave, overall score or recommend).
    key
        Pseudonymization key: when given, the index holds pseudonyms
        (:func:`crmlab.privacy.pseudonym`) and personal columns (name, e-mail, phone ...) are
        dropped inside the engine, as the notebooks' pandas path does.
    con
        An open connection (:func:`connect`) to reuse; default a new one for ``engine``
        (DuckDB capped at :func:`~crmlab.engine.backends.build_memory_limit`, 4 GB on most
        machines, spilling to disk above it: faster and leaner on large data than DuckDB's
        default of 80% of the RAM).
    clean
        Sources already cleaned on ``con`` (name -> lazy table, e.g.
        :meth:`LargeSources.clean`): used as they are instead of cleaning the file again.

    Returns
    -------
    pandas.DataFrame
        One row per customer (index ``customer_id``, customers-file order), the columns of
        :func:`crmlab.features.customer_features` on the cleaned tables, ``attrs["as_of"]``.
    """
    _check_engine(engine)
    if engine == "pandas":
        return _pandas_features(data_dir, as_of, rules, driver_cols, key)
    from crmlab.engine import retail

    con = con if con is not None else _connect_for_build(engine, spark_master)
    build = _build(con, data_dir, as_of, rules, driver_cols, key, clean)
    df = retail.to_pandas(build, build.to_pyarrow())
    if key is not None:
        df = _pseudonymize_index(df, key)
    return df


def _pseudonymize_index(df, key):
    from crmlab import privacy

    out = privacy.pseudonymize(df.reset_index(), [df.index.name], [], key)
    out = out.set_index(df.index.name)
    out.attrs = dict(df.attrs)
    return out


def write_customer_features(
    data_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    engine: str = "duckdb",
    as_of=None,
    spark_master: str | None = None,
    *,
    rules: Mapping | None = None,
    driver_cols: Sequence[str] | None = None,
    con=None,
):
    """Build the features like :func:`customer_features` but write them to a Parquet file.

    For customer bases too large for one pandas table: the result streams from the engine to
    ``out_path`` (engine types: dates stay dates). Returns ``as_of`` (a ``datetime.date``).
    ``con``: as in :func:`customer_features` (default a new connection, DuckDB capped).
    """
    _check_engine(engine)
    if engine == "pandas":
        raise ConfigError("write_customer_features needs engine 'duckdb' or 'spark'.")
    con = con if con is not None else _connect_for_build(engine, spark_master)
    build = _build(con, data_dir, as_of, rules, driver_cols, None)
    build.to_parquet(out_path)
    return build.as_of
