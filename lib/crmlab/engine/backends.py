"""Where the feature layer runs: an Ibis connection to embedded DuckDB or to Apache Spark.

Engines
-------
duckdb
    Default. In-process DuckDB over the Parquet/CSV files (no server). Larger-than-memory work
    spills to a temporary folder (``temp_directory``), so memory stays bounded.
spark
    PySpark. ``spark_master`` is a Spark master URL (``spark://host:7077``, ``yarn``,
    ``k8s://...``); the default ``local[2]`` runs Spark inside this machine (tests, demos). Java
    17 must be installed (``java`` on the PATH or ``JAVA_HOME``).

Sources
-------
:func:`register_source` reads ``<stem>.parquet`` (preferred) or ``<stem>.csv`` as a lazy table with
one extra column ``_row``: the row's position in the file (0-based; order-preserving, so "keep the
first copy" and "customers in file order" mean the same as in pandas). Identifier columns
(:data:`crmlab.sources.ID_COLUMNS`) are read as text.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_SPARK_MASTER",
    "ENGINES",
    "Source",
    "connect",
    "java_available",
    "number",
    "register_source",
    "spark_session",
]

ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_MASTER = "local[2]"
ROW = "_row"

#: Spark settings for a small local session (tests, a laptop); a cluster sets its own.
SPARK_LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def java_available() -> bool:
    """True when a Java runtime is found (``JAVA_HOME/bin/java`` or ``java`` on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def spark_session(master: str | None = None, conf: dict | None = None):
    """Return a (shared) SparkSession on ``master`` (default ``local[2]``).

    Spark allows one session per Python process: a second call returns the running session
    (its master cannot be changed without stopping it first).
    """
    if not java_available():
        raise ConfigError(
            "engine 'spark' needs Java 17: install it (Debian: apt-get install openjdk-17-jre) "
            "or set JAVA_HOME, or use engine 'duckdb'."
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "engine 'spark' needs PySpark, an optional part of crmlab: pip install 'crmlab[spark]' "
            "(in the project: make setup installs it), or use engine 'duckdb'."
        ) from None

    builder = SparkSession.builder.master(master or DEFAULT_SPARK_MASTER).appName("crmlab")
    local = (master or DEFAULT_SPARK_MASTER).startswith("local")
    settings = dict(SPARK_LOCAL_CONF) if local else {}
    if local:  # errors only: Spark's start-up warnings would reach the command line
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dlog4j2.configurationFile={SPARK_LOG_CONFIG.as_uri()}"
        )
    settings.update(conf or {})
    for k, v in settings.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


SPARK_LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
"""Log4j 2 configuration of a local Spark driver: errors only (no start-up warnings)."""

SPILL_PREFIX = "crmlab-duckdb-"
"""Private spill folders are ``<tmp>/crmlab-duckdb-<pid>-<random>``: removed with their
connection, and by :func:`remove_stale_spill_folders` when their process died first."""


def remove_stale_spill_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the spill folders (:data:`SPILL_PREFIX`) of processes that no longer run.

    A kernel that is killed (out of memory, interrupted, stopped by the runner after a failed
    cell) cannot remove its folder, and a large case spills gigabytes into it. Called by
    :func:`connect` before it makes a new folder. Returns the folders removed.
    """
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*"):
        pid = folder.name[len(SPILL_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def connect(
    engine: str = "duckdb",
    *,
    spark_master: str | None = None,
    spark_conf: dict | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike | None = None,
):
    """Open an Ibis connection for ``engine``.

    Parameters
    ----------
    engine
        ``"duckdb"`` (default) or ``"spark"``.
    spark_master, spark_conf
        Spark master URL (default ``local[2]``) and extra Spark settings.
    threads, memory_limit, temp_directory
        DuckDB settings: worker threads (default: all cores), memory cap such as ``"4GB"``
        (default: DuckDB's 80% of RAM) and the spill folder (default: a new temporary folder).
    """
    import ibis

    if engine == "duckdb":
        con = ibis.duckdb.connect()
        con.compiler = _InlineCTEs(con.compiler)
        if temp_directory is None:  # a private spill folder, removed with the connection
            remove_stale_spill_folders()
            spill = tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")
            weakref.finalize(con, shutil.rmtree, spill, ignore_errors=True)
        else:
            spill = temp_directory
        con.raw_sql(f"SET temp_directory = '{_sql_str(spill)}'")
        # off already in Jupyter, where DuckDB 2.0 refuses to change it without ipywidgets
        if con.raw_sql("SELECT current_setting('enable_progress_bar')").fetchone()[0]:
            con.raw_sql("SET enable_progress_bar = false")
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        if memory_limit:
            con.raw_sql(f"SET memory_limit = '{_sql_str(memory_limit)}'")
        return con
    if engine == "spark":
        return ibis.pyspark.connect(spark_session(spark_master, spark_conf))
    raise ConfigError(f"engine must be one of {list(ENGINES)}, got {engine!r}.")


class _InlineCTEs:
    """Wrap an Ibis SQL compiler so that DuckDB does not materialize common subqueries.

    Ibis writes a subquery used twice (the transactions in the de-duplication step) as one CTE;
    DuckDB then materializes it - every raw row held in memory. ``AS NOT MATERIALIZED`` lets it
    scan the Parquet file twice instead, which keeps memory bounded by the aggregations.
    """

    def __init__(self, compiler) -> None:
        self._compiler = compiler

    def __getattr__(self, name):
        return getattr(self._compiler, name)

    def to_sqlglot(self, *args, **kwargs):
        import sqlglot.expressions as sge

        query = self._compiler.to_sqlglot(*args, **kwargs)
        for cte in query.find_all(sge.CTE):
            cte.set("materialized", False)
        return query


def spill_subfolder(con, prefix: str) -> Path:
    """A new empty folder inside the DuckDB connection's spill folder (``temp_directory``)."""
    spill = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0] or None
    if spill:
        os.makedirs(spill, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=spill))


@contextlib.contextmanager
def scratch_folder(con):
    """A new empty folder inside the DuckDB connection's spill folder (``temp_directory``),
    removed on exit: for intermediate files a query plan cannot hold in memory."""
    folder = spill_subfolder(con, "crmlab-scratch-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def probe_side_as_written(con):
    """Within the block, DuckDB builds each join's hash table on the side the query names
    second (the right side; its ``build_side_probe_side`` optimizer is off): for a join of the
    cleaned transactions (left) to a table of customers (right). DuckDB otherwise builds it on
    the side it estimates smaller, and after the cleaning filters it estimates 20M transaction
    rows at 160k - a hash table of 205M rows at 10M customers (95 s instead of about 40 s).
    The previous setting is restored on exit."""
    if engine_name(con) != "duckdb":
        yield
        return
    before = con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    off = ",".join(x for x in [*before.split(","), "build_side_probe_side"] if x.strip())
    con.raw_sql(f"SET disabled_optimizers = '{_sql_str(off)}'")
    try:
        yield
    finally:
        con.raw_sql(f"SET disabled_optimizers = '{_sql_str(before)}'")


def source_rows(path: str | os.PathLike) -> int:
    """Rows of a source file (Parquet metadata; CSV estimated at 40 bytes a row)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return path.stat().st_size // 40


def materialize(con, expr):
    """Compute ``expr`` once and return a table over the result, for a table scanned many times.

    On DuckDB the rows go to a compressed Parquet file in the connection's spill folder
    (removed with it): a temporary table holds them uncompressed, in memory or spilled - about
    7 times the disk of the Parquet file for the 200M transactions of a 10M-customer retailer
    (27 GB against 4). Other engines cache the expression (``expr.cache()``).
    """
    if engine_name(con) != "duckdb":
        return expr.cache()
    path = spill_subfolder(con, "crmlab-table-") / "table.parquet"
    con.to_parquet(expr, str(path))
    return con.read_parquet(str(path))


_UNITS = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_UNITS.update({"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12})


BUILD_MEMORY_LIMIT_GB = 4
"""DuckDB's cap (GB) for a stand-alone feature build (:func:`crmlab.engine.customer_features`,
:func:`crmlab.engine.write_customer_features` without a connection). Measured on the 10M-customer
retail build (205M transactions, 2 cores, 24 GB; README, Performance): 206-220 s and 4.2 GB
peak under 4 GB against 235-245 s and 12.0 GB with DuckDB's default of 80% of the RAM - under the
cap the duplicate check's hash tables spill instead of growing in memory. Builds that fit (1M
customers: 1.9 GB) are unaffected."""


def physical_memory() -> int:
    """The machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def build_memory_limit(physical_bytes: int | None = None) -> str:
    """DuckDB ``memory_limit`` for a stand-alone feature build: :data:`BUILD_MEMORY_LIMIT_GB`,
    or half the physical memory (whole GB, at least 1) when that is less.

    ``physical_bytes``: the machine's memory (default: read from the system).
    """
    if physical_bytes is None:
        physical_bytes = physical_memory()
    half_gb = max(1, int(physical_bytes) // 2 // 2**30)
    return f"{min(BUILD_MEMORY_LIMIT_GB, half_gb)}GB"


def number(value, kind=int):
    """An aggregate fetched from the engine as a Python ``int`` (or ``kind``, e.g. ``float``),
    0 where it is SQL NULL: a SUM over no rows is NULL, which arrives as ``None`` from DuckDB
    and as NaN from Spark (through pandas) - and NaN, unlike None, is true in ``value or 0``."""
    import pandas as pd

    if value is None or pd.isna(value):
        return kind(0)
    return kind(value)


def memory_limit(con) -> int:
    """The DuckDB connection's memory cap in bytes (``memory_limit``, e.g. ``"1.8 GiB"``)."""
    text = con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    number, _, unit = str(text).strip().partition(" ")
    try:
        return int(float(number) * _UNITS[unit.strip().lower() or "bytes"])
    except (KeyError, ValueError):
        raise DataError(f"Cannot read DuckDB's memory_limit {text!r}.") from None


def set_row_order(con, formats) -> None:
    """Let DuckDB drop the input order when every source is Parquet (less memory, more parallel).

    Results never depend on it - row order comes from the ``_row`` column and final results are
    sorted explicitly - except the CSV row numbers, which need the scan order kept.
    """
    if engine_name(con) == "duckdb":
        keep = "true" if any(f != "parquet" for f in formats) else "false"
        con.raw_sql(f"SET preserve_insertion_order = {keep}")


def engine_name(con) -> str:
    """``"duckdb"`` or ``"spark"`` for an Ibis connection made by :func:`connect`."""
    name = getattr(con, "name", "")
    return "spark" if name == "pyspark" else name


def _sql_str(value) -> str:
    return str(value).replace("'", "''")


@dataclass
class Source:
    """One registered input table.

    Attributes
    ----------
    name, path, fmt
        Source stem (``"transactions"``), file and ``"parquet"``/``"csv"``.
    table
        Lazy Ibis table with the file's columns plus ``_row`` (position in the file).
    date_units
        Datetime unit pandas gives each column once parsed as dates (``"s"`` for Parquet dates,
        the stored unit for Parquet timestamps, ``"us"`` for CSV text); used to return the same
        dtypes as the pandas implementation.
    """

    name: str
    path: Path
    fmt: str
    table: object
    date_units: dict[str, str] = field(default_factory=dict)


EDGE_TEST = "({c} < '!' OR {c}[-1] < '!') AND {c} <> ''"
"""DuckDB test for a text value that may start or end with whitespace: its first or last
character sorts at or below a space (whitespace or a control character). Both comparisons read
one character, far cheaper than a trim."""


_EDGED_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Connection -> {(file, size, mtime, id columns): edged columns}: :func:`edged_id_columns`'
scans, remembered while the connection lives."""


def edged_id_columns(con, src: Source) -> frozenset[str]:
    """The identifier columns (:data:`crmlab.sources.ID_COLUMNS`) of ``src`` that hold a value
    starting or ending with whitespace (a control character or an empty value counts too).

    Ids are compared trimmed (:func:`crmlab.engine.clean.id_text`); a column without such a
    value needs no trim, and skipping it makes the build about a third faster (the trim's test
    runs on every id of every row, and keeps joins and group-bys on computed keys). One scan of
    the id columns on DuckDB, remembered on the connection per file (a case registers the same
    file again for its feature build); on other engines every id column is reported (not
    checked: the trim is kept).
    """
    from crmlab.sources import ID_COLUMNS

    ids = [c for c in ID_COLUMNS if c in src.table.columns]
    if engine_name(con) != "duckdb" or not ids:
        return frozenset(ids)
    stat = src.path.stat()
    memo_key = (str(src.path.resolve()), stat.st_size, stat.st_mtime_ns, tuple(ids))
    memo = _EDGED_IDS.setdefault(con, {})
    if memo_key not in memo:
        tests = ", ".join(
            "bool_or(" + EDGE_TEST.format(c='"' + c.replace('"', '""') + '"') + ")" for c in ids
        )
        row = con.raw_sql(f'SELECT {tests} FROM "{_view_name(src.name)}"').fetchall()[0]
        memo[memo_key] = frozenset(c for c, edged in zip(ids, row, strict=True) if edged)
    return memo[memo_key]


def plain_id_columns(con, sources) -> frozenset[str]:
    """Identifier names that need no trim in any of ``sources``: present in one of them at
    least and never with an edge space (:func:`edged_id_columns`). For
    :func:`crmlab.engine.clean.plain_ids`."""
    from crmlab.sources import ID_COLUMNS

    present: set[str] = set()
    edged: set[str] = set()
    for src in sources:
        edged |= edged_id_columns(con, src)
        present |= set(src.table.columns)
    return frozenset(c for c in ID_COLUMNS if c in present and c not in edged)


@contextlib.contextmanager
def ids_as_found(con, sources):
    """Within the block, the id columns that need no trim in any of ``sources`` (registered
    :class:`Source` objects, :func:`plain_id_columns`: one scan on DuckDB) are used as they
    are by the cleaning and feature expressions built inside it
    (:func:`crmlab.engine.clean.plain_ids`)."""
    from crmlab.engine.clean import plain_ids

    with plain_ids(plain_id_columns(con, sources)):
        yield


def source_path(data_dir: str | os.PathLike, stem: str) -> Path | None:
    """``<stem>.parquet`` or ``<stem>.csv`` in ``data_dir`` (Parquet preferred), else None."""
    from crmlab.sources import source_path as _source_path

    return _source_path(data_dir, stem)


def _parquet_units(path: Path) -> dict[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    units = {}
    for f in pq.read_schema(path):
        if pa.types.is_date(f.type):
            units[f.name] = "s"  # read as datetime.date objects; to_datetime gives seconds
        elif pa.types.is_timestamp(f.type):
            units[f.name] = f.type.unit
        else:
            units[f.name] = "us"
    return units


def _view_name(source: str) -> str:
    """The engine's view (DuckDB) or temporary view (Spark) of a registered source."""
    return f"crmlab_{source}"


def register_source(con, path: str | os.PathLike, name: str) -> Source:
    """Register one Parquet/CSV file as a lazy table ``name`` (with ``_row``) on ``con``."""
    from crmlab.sources import ID_COLUMNS

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty. Export the table again or remove the file.")
    fmt = "parquet" if path.suffix == ".parquet" else "csv"
    view = _view_name(name)
    engine = engine_name(con)
    try:
        units = _parquet_units(path) if fmt == "parquet" else None
        if engine == "duckdb":
            _register_duckdb(con, path, fmt, view, ID_COLUMNS)
        else:
            _refuse_nanosecond_timestamps(path, units or {})
            _register_spark(con, path, fmt, view, ID_COLUMNS)
        table = con.table(view)
    except Exception as e:  # the engines raise their own exception types
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot be read as a table ({type(e).__name__}: {e}).") from None
    if units is None:
        units = {c: "us" for c in table.columns}
    return Source(name, path, fmt, table, units)


def _register_duckdb(con, path: Path, fmt: str, view: str, id_columns) -> None:
    p = _sql_str(path)
    if fmt == "parquet":
        # can_have_nan: pyarrow's min/max statistics leave NaN out; without this flag DuckDB
        # 2.0 trusts them and folds away NaN checks (duckdb issue 25521).
        scan = f"read_parquet('{p}', file_row_number = true, can_have_nan = true)"
    else:
        names = [r[0] for r in con.raw_sql(f"DESCRIBE SELECT * FROM read_csv('{p}')").fetchall()]
        types = {c: "VARCHAR" for c in id_columns if c in names}
        opt = ""
        if types:
            opt = ", types = {" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        # row_number() OVER () is order-preserving in DuckDB (streaming window over the scan).
        scan = f"(SELECT *, row_number() OVER () - 1 AS file_row_number FROM read_csv('{p}'{opt}))"
    schema = con.raw_sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    repl = []
    for col, typ, *_ in schema:
        if col == "file_row_number":
            continue
        q = '"' + col.replace('"', '""') + '"'
        if col in id_columns and typ != "VARCHAR":
            repl.append(f"CAST({q} AS VARCHAR) AS {q}")
        elif typ in ("DOUBLE", "FLOAT"):  # NaN is a missing value, as in pandas
            repl.append(f"CASE WHEN isnan({q}) THEN NULL ELSE {q} END AS {q}")
    replace = f" REPLACE ({', '.join(repl)})" if repl else ""
    sql = f"SELECT * EXCLUDE (file_row_number){replace}, file_row_number AS {ROW} FROM {scan}"
    con.raw_sql(f'CREATE OR REPLACE VIEW "{view}" AS {sql}')


def _refuse_nanosecond_timestamps(path: Path, units: Mapping[str, str]) -> None:
    """Spark cannot read Parquet timestamps in nanoseconds (pandas' default unit when it writes
    datetime columns): say which columns (``units``: :func:`_parquet_units` of the file) and how
    to write the file instead."""
    nanos = [c for c, unit in units.items() if unit == "ns"]
    if nanos:
        raise DataError(
            f"{path}: Spark cannot read timestamps stored in nanoseconds (columns: "
            f"{', '.join(nanos)}). Write the file with microsecond timestamps - from pandas "
            "df.to_parquet(path, coerce_timestamps='us') - or import it with `crmlab run "
            "--config`, which does; or use engine 'duckdb'."
        )


def _register_spark(con, path: Path, fmt: str, view: str, id_columns) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    spark = con._session
    if fmt == "parquet":
        df = spark.read.parquet(str(path))
    else:
        inferred = spark.read.csv(str(path), header=True, inferSchema=True).schema
        schema = T.StructType(
            [
                T.StructField(f.name, T.StringType(), True) if f.name in id_columns else f
                for f in inferred
            ]
        )
        df = spark.read.csv(str(path), header=True, schema=schema)
    for f in df.schema:
        if f.name in id_columns and not isinstance(f.dataType, T.StringType):
            df = df.withColumn(f.name, F.col(f.name).cast("string"))
        elif isinstance(f.dataType, T.DoubleType | T.FloatType):  # NaN is missing, as in pandas
            df = df.withColumn(f.name, F.nanvl(F.col(f.name), F.lit(None)))
    # monotonically_increasing_id grows with the position in a single file (splits are read in
    # file order); it is not dense, but only its order is used.
    df = df.withColumn(ROW, F.monotonically_increasing_id())
    df.createOrReplaceTempView(view)
