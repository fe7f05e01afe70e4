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
    "finance_churn": ("customers", "snapshots", "pilot"),
}

ID_COLUMNS = ("customer_id", "store_id", "transaction_id", "response_id", "complaint_id")


def source_path(data_dir: str | Path, stem: str) -> Path | None:
    """The file of a source (Parquet preferred over CSV), or None when the source is absent.

    Names are matched exactly (``transactions.csv``). A file whose name differs only in upper or
    lower case (``Transactions.CSV``) raises :class:`DataError` saying what to rename it to: on
    most systems it would otherwise be silently left out."""
    for ext in (".parquet", ".csv"):
        p = Path(data_dir) / f"{stem}{ext}"
        if p.exists():
            return p
    wanted = {f"{stem}.parquet", f"{stem}.csv"}
    try:
        names = sorted(f.name for f in Path(data_dir).iterdir() if f.is_file())
    except OSError:
        return None
    near = [n for n in names if n.lower() in wanted and n not in wanted]
    if near:
        right = f"{stem}{Path(near[0]).suffix.lower()}"
        raise DataError(
            f"{data_dir}: the {stem} file is named '{near[0]}', but the case reads '{right}' "
            f"(names are case-sensitive). Rename it to {right}."
        )
    return None


def files_signature(case: str, data_dir: str | Path) -> tuple:
    """``(path, size, modification time in ns)`` of each present source file of ``case`` in
    ``data_dir``, in source order: a cheap key for results computed from those files (a
    changed or replaced file changes it)."""
    paths = [source_path(data_dir, stem) for stem in CASE_SOURCES[case]]
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p is not None)


def read_table(path: Path, columns=None):
    """Read one CSV/Parquet table as exported; identifiers as text. Types, dates and faults are
    handled by :mod:`crmlab.quality` so that every coercion is reported.

    ``columns``: read only these of the table's columns (the ones it has; None: all).

    Raises :class:`DataError` for an empty or unreadable file, naming the file.
    """
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty. Export the table again or remove the file.")
    try:
        if path.suffix == ".parquet":
            if columns is not None:
                import pyarrow.parquet as pq

                columns = [c for c in pq.read_schema(path).names if c in columns]
            df = pd.read_parquet(path, columns=columns)
        else:
            dtypes = {c: "str" for c in ID_COLUMNS}
            wanted = None if columns is None else (lambda c: c in columns)
            df = pd.read_csv(path, dtype=dtypes, encoding="utf-8-sig", usecols=wanted)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot be read as a table ({type(e).__name__}: {e}).") from None
    if df.empty and len(df.columns) == 0:
        raise DataError(f"{path}: no columns found. Is it a CSV with a header row?")
    return df


def load_sources(case: str, data_dir: str | Path, skip=(), columns=None) -> dict:
    """All sources of ``case`` found in ``data_dir`` (name -> DataFrame); absent ones are left out.

    Sources named in ``skip`` are not read (e.g. transactions kept in the engine,
    :func:`crmlab.engine.open_large_sources`); ``columns`` maps a source to the only columns
    to read of it (e.g. ``{"customers": ["customer_id"]}`` when only the ids matter).

    Raises :class:`DataError` if the folder does not exist or holds none of the case's sources.
    """
    data_dir = Path(data_dir)
    spec = CASE_SOURCES[case]
    if not data_dir.is_dir():
        raise DataError(
            f"Data folder {data_dir} does not exist. Check data_dir / data: in the config."
        )
    tables = {}
    found = False
    for stem in spec:
        path = source_path(data_dir, stem)
        found = found or path is not None
        if path is not None and stem not in skip:
            tables[stem] = read_table(path, (columns or {}).get(stem))
    if not found:
        expected = ", ".join(f"{s}.csv" for s in spec)
        raise DataError(
            f"{data_dir}: none of the {case} sources found (expected some of: {expected})."
        )
    return tables


def cleaning_rules(case: str) -> dict | None:
    """The data-quality rules (:mod:`crmlab.quality`) a case's sources are cleaned with."""
    from crmlab import quality

    rules = {"retail_satisfaction": "RETAIL_RULES", "finance_churn": "FINANCE_RULES"}
    return getattr(quality, rules[case], None)


def case_rules(case: str, tables) -> dict | None:
    """The case's cleaning rules restricted to the sources present in ``tables`` and, within a
    source, to the optional columns it has (a client survey with two of the seven drivers, a
    customer list without sign-up dates). ``key`` and ``required`` columns are kept, so their
    absence is still an error."""
    rules = cleaning_rules(case)
    if rules is None:
        return None
    rules = {**rules, **variant_rules(case, tables)}
    return {k: _present_only(v, tables[k].columns) for k, v in rules.items() if k in tables}


def variant_rules(case: str, tables) -> dict:
    """Cleaning rules of sources that come in another shape (:class:`crmlab.schemas.Variant`),
    e.g. a finance customer table with a ``churned`` flag instead of dates
    (:data:`crmlab.churn.FLAG_CUSTOMER_RULES`); source -> rules, empty when none applies."""
    from crmlab import schemas

    out = {}
    for name, spec in schemas.CASE_SCHEMAS.get(case, {}).items():
        if name in tables and spec.variant(tables[name].columns) is not None:
            if case == "finance_churn" and name == "customers":
                from crmlab import churn  # statsmodels: imported only for this variant

                out[name] = churn.FLAG_CUSTOMER_RULES
    return out


def _present_only(rule: dict, columns) -> dict:
    import fnmatch

    names = [str(c) for c in columns]

    def there(col) -> bool:
        col = str(col)
        if any(ch in col for ch in "*?["):
            return bool(fnmatch.filter(names, col))
        return col in names

    out = dict(rule)
    for k in ("dates", "booleans", "optional"):
        if k in out:
            out[k] = [c for c in out[k] if there(c)]
    for k in ("ranges", "categories"):
        if k in out:
            out[k] = {c: v for c, v in out[k].items() if there(c)}
    if out.get("returns") and not there(out["returns"]):
        del out["returns"]
    return out


def pseudonymize_tables(tables: dict, key, id_cols=("customer_id",)) -> tuple[dict, dict]:
    """Pseudonymize every table before anything else sees it.

    Identifier columns (``id_cols``) are replaced by keyed pseudonyms (the same in every table,
    so joins still work) and personal columns (name, e-mail, phone, id numbers - detected by
    name and content, :func:`crmlab.privacy.detect_pii_columns`) are dropped. Returns
    ``(tables, dropped)`` where ``dropped`` maps table -> list of removed columns.
    """
    from crmlab import privacy

    out, dropped = {}, {}
    for name, df in tables.items():
        ids = [c for c in id_cols if c in df.columns]
        pii = [c for c in privacy.detect_pii_columns(df) if c not in ids]
        out[name] = privacy.pseudonymize(df, ids, pii, key) if ids or pii else df
        if pii:
            dropped[name] = pii
    return out, dropped


def load_clean(
    case: str, data_dir: str | Path, key, skip=(), columns=None
) -> tuple[dict, list[str]]:
    """Load a case's sources (but those in ``skip``; of a source in ``columns`` only the columns
    named there), pseudonymize them, and apply its documented cleaning rules (those of the
    columns read: ``{"customers": ["customer_id"]}`` gives the cleaned customer ids, exactly the
    ones a full read keeps, since customers are only dropped for a missing or repeated id).

    Returns ``(tables, notes)``: the cleaned tables (absent sources left out) and one plain-language
    note per change ("190 exact duplicate row(s) dropped"), so nothing is changed silently.
    The raw files are only read, never modified.
    """
    from crmlab import quality

    tables, _ = pseudonymize_tables(load_sources(case, data_dir, skip, columns), key)
    rules = case_rules(case, tables)
    if rules is None:
        return tables, []
    return quality.clean_tables(tables, rules)


def customers_from_transactions(transactions, id_col: str = "customer_id"):
    """A minimal customer list (ids only, first-seen order) when no CRM export is available."""
    import pandas as pd

    ids = transactions[id_col].dropna().drop_duplicates()
    return pd.DataFrame({id_col: ids.to_numpy()})


def ingest_report(data_dir: str | Path) -> dict | None:
    """The import report of a config run's input folder (``ingest_report.json``, written by
    :mod:`crmlab.ingest`), or None for a plain data folder."""
    import json

    f = Path(data_dir) / "ingest_report.json"
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None


def imported_pseudonymized(data_dir: str | Path) -> bool:
    """True when ``data_dir`` is a config run's input folder whose customer ids the import
    already replaced by pseudonyms under the client's key (its ``ingest_report.json`` lists
    ``customer_id`` as pseudonymized)."""
    report = ingest_report(data_dir) or {}
    done = report.get("pseudonymized") or {}
    return any("customer_id" in cols for cols in done.values())


def pseudonym_key(data_dir: str | Path, seed: int):
    """The key the stages pseudonymize ``data_dir``'s customer ids with.

    * A config run's input folder (:func:`imported_pseudonymized`): its ids are pseudonyms
      already, ``HMAC(client key, raw id)``; :data:`crmlab.privacy.ALREADY_PSEUDONYMIZED` keeps
      them as they are, so the action list's ids are the ones the client can recompute.
    * Any other folder: ``$CRMLAB_PSEUDONYM_KEY``, else the public demo key of ``seed``
      (:func:`crmlab.privacy.key_from_env`).
    """
    from crmlab import privacy

    if imported_pseudonymized(data_dir):
        return privacy.ALREADY_PSEUDONYMIZED
    return privacy.key_from_env(fallback_seed=seed)


def survey_drivers(data_dir: str | Path, survey) -> list[str]:
    """The survey's driver-rating columns: those a config run mapped (its ``drivers:``, in
    config order), else the standard retail drivers (:data:`crmlab.drivers.DEFAULT_DRIVERS`)
    present in ``survey``."""
    from crmlab.drivers import DEFAULT_DRIVERS

    report = ingest_report(data_dir) or {}
    named = report.get("drivers") or list(DEFAULT_DRIVERS)
    return [d for d in named if d in survey.columns]
