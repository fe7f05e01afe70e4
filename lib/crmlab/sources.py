"""Load a case's input tables from its data folder.

Each case reads a fixed set of *sources* (e.g. the retail case: customers, transactions, survey,
complaints, stores, pilot). A source is a file ``<stem>.csv`` or ``<stem>.parquet`` in the data
folder; every source is optional, so a case can run on partial data (survey only, transactions
only) and its stages skip what they cannot do. Identifiers stay text; nothing else is coerced here.
"""

from __future__ import annotations

from pathlib import Path

from crmlab.errors import DataError

#: case -> its sources (file stems), in load order
CASE_SOURCES: dict[str, tuple[str, ...]] = {
    "retail_satisfaction": ("customers", "transactions", "survey", "complaints", "stores", "pilot"),
    "finance_churn": ("customers", "snapshots", "closures", "pilot"),
}

ID_COLUMNS = ("customer_id", "store_id", "transaction_id", "response_id", "complaint_id")


def source_path(data_dir: str | Path, stem: str) -> Path | None:
    """The file of a source (Parquet preferred over CSV), or None when the source is absent."""
    for ext in (".parquet", ".csv"):
        p = Path(data_dir) / f"{stem}{ext}"
        if p.exists():
            return p
    return None


def read_table(path: Path):
    """Read one CSV/Parquet table as exported; identifiers as text. Types, dates and faults are
    handled by :mod:`crmlab.quality` so that every coercion is reported.

    Raises :class:`DataError` for an empty or unreadable file, naming the file.
    """
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty. Export the table again or remove the file.")
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            dtypes = {c: "str" for c in ID_COLUMNS}
            df = pd.read_csv(path, dtype=dtypes, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot be read as a table ({type(e).__name__}: {e}).") from None
    if df.empty and len(df.columns) == 0:
        raise DataError(f"{path}: no columns found. Is it a CSV with a header row?")
    return df


def load_sources(case: str, data_dir: str | Path) -> dict:
    """All sources of ``case`` found in ``data_dir`` (name -> DataFrame); absent ones are left out.

    Raises :class:`DataError` if the folder does not exist or holds none of the case's sources.
    """
    data_dir = Path(data_dir)
    spec = CASE_SOURCES[case]
    if not data_dir.is_dir():
        raise DataError(f"Data folder {data_dir} does not exist. Check data_dir / data: in the config.")
    tables = {}
    for stem in spec:
        path = source_path(data_dir, stem)
        if path is not None:
            tables[stem] = read_table(path)
    if not tables:
        expected = ", ".join(f"{s}.csv" for s in spec)
        raise DataError(f"{data_dir}: none of the {case} sources found (expected some of: {expected}).")
    return tables


def cleaning_rules(case: str) -> dict | None:
    """The data-quality rules (:mod:`crmlab.quality`) a case's sources are cleaned with."""
    from crmlab import quality

    rules = {"retail_satisfaction": "RETAIL_RULES", "finance_churn": "FINANCE_RULES"}
    return getattr(quality, rules[case], None)


def load_clean(case: str, data_dir: str | Path) -> tuple[dict, list[str]]:
    """Load a case's sources and apply its documented cleaning rules.

    Returns ``(tables, notes)``: the cleaned tables (absent sources left out) and one plain-language
    note per coercion ("190 exact duplicate row(s) dropped"), so nothing is changed silently.
    The raw files are only read, never modified.
    """
    from crmlab import quality

    raw = load_sources(case, data_dir)
    rules = cleaning_rules(case)
    if rules is None:
        return raw, []
    return quality.clean_tables(raw, {k: v for k, v in rules.items() if k in raw})
