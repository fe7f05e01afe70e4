"""The documented cleaning steps of :func:`crmlab.quality.clean_tables`, as Ibis expressions.

Same rules mapping, same order, same results as the pandas steps, but lazy: nothing runs until the
engine executes the final customer-level query, so the raw rows never leave the engine. Per table:

1. drop exact duplicate rows and then rows with an already-seen ``key`` (keep the first copy in
   file order, ``_row``);
2. parse ``dates`` (ISO text, dates and timestamps; anything else -> missing) and ``booleans``
   (yes/no, y/n, true/false, 1/0, 是/否; anything else -> missing);
3. set out-of-``ranges`` values (or non-numbers) and invalid ``categories`` to missing;
4. drop rows missing a ``required`` column (missing or blank text);
5. drop rows whose ``foreign_keys`` value is not in the cleaned parent table (missing or blank
   keys are kept);
6. flag ``returns`` (negative amount) in a boolean ``is_return`` column.

Differences from the pandas steps (documented, not silent): date text is parsed as ISO 8601 only
(pandas also tries other layouts such as ``05/01/2024``); identifiers are compared as text with
surrounding spaces removed (as pandas does for text ids); range columns become float64. The trim
is left out for id columns known to need none (:func:`plain_ids`): the results are the same.
The notes of :func:`crmlab.quality.clean_tables` are not produced here (counting them would need
extra passes over the data); the quality report stays a pandas step on a sample or on the
small tables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar

import pandas as pd

from crmlab.errors import ConfigError, DataError
from crmlab.quality import YES_NO
from crmlab.quality import _expand as _expand_patterns

__all__ = [
    "clean_sources",
    "clean_table",
    "dedupe_keep_first",
    "duplicate_copies",
    "duplicated_keys",
    "flag_not_in",
    "id_text",
    "plain_ids",
    "repeated_rows",
]

ROW = "_row"


WHITESPACE = " \t\n\r\x0b\x0c"
"""The characters Ibis' ``strip`` removes on DuckDB (Spark removes a subset of them)."""


_PLAIN_IDS: ContextVar[frozenset[str]] = ContextVar("crmlab_plain_ids", default=frozenset())


@contextlib.contextmanager
def plain_ids(names: Iterable[str]):
    """Within the block, identifier columns called one of ``names`` are taken as they are by
    :func:`id_text` and the blank tests: the caller has checked that no value of theirs starts
    or ends with whitespace (:func:`crmlab.engine.backends.plain_id_columns`), so trimming
    them would change nothing. Applies to the expressions built inside the block; only a
    plain column reference is concerned, never a computed value.
    """
    token = _PLAIN_IDS.set(frozenset(names))
    try:
        yield
    finally:
        _PLAIN_IDS.reset(token)


def _is_plain(col) -> bool:
    """True for a reference to a column named in :func:`plain_ids`."""
    import ibis.expr.operations as ops

    names = _PLAIN_IDS.get()
    return bool(names) and isinstance(col.op(), ops.Field) and col.get_name() in names


def _strip(col):
    """``col.strip()``, with the trim only run on values that start or end with whitespace
    (or are empty): a trim with a character set is slow in DuckDB, and ids rarely need it.
    No trim at all for a column named in :func:`plain_ids`."""
    import ibis

    if _is_plain(col):
        return col
    ws = ibis.literal(WHITESPACE)
    edge = ws.contains(col.substr(0, 1)) | ws.contains(col.right(1))
    return ibis.cases((edge, col.strip()), else_=col)


def id_text(col):
    """Identifier as trimmed text (the form :mod:`crmlab.quality` compares ids in). A text
    column named in :func:`plain_ids` comes back as it is (its cast to text is the column)."""
    return _strip(col.cast("string"))


def _blank(col):
    """True where the value is missing or (text) empty after trimming."""
    if col.type().is_string():
        return col.isnull() | (_strip(col) == "")
    return col.isnull()


def _sharing_a_hash(t, hash_value):
    """The rows of ``t`` whose ``hash_value`` (a 64-bit hash of ``t``) is on more than one row,
    with the hash as ``_h``: a group-by of integers, which DuckDB spills within a small cap."""
    import ibis

    h = t.mutate(_h=hash_value)
    counts = h.group_by("_h").agg(_n=ibis._.count())
    shared = counts.filter(counts._n > 1).select("_h")
    return h.filter(h._h.isin(shared._h))


def duplicated_keys(keyed, hash_of=None):
    """The keys on more than one row: ``_dk`` (the key) and ``_first`` (its first ``_row``).

    ``keyed`` is a lazy table with the trimmed key ``_k`` (no missing keys) and ``_row``. Two
    steps keep memory bounded: a group-by of the keys' 64-bit hashes finds the hashes on more
    than one row (the duplicated keys and the rare hash collisions: few), then only the rows
    with such a hash are grouped by the key itself. The result is exact (a collision only adds
    a candidate, whose key then occurs once). DuckDB spills a group-by of hundreds of millions
    of integer hashes to disk within a 2 GB cap; one of the computed text keys it cannot.
    ``hash_of`` maps the key column to the hash (default: the engine's ``hash``).
    """
    import ibis

    rows = _sharing_a_hash(keyed, (hash_of or (lambda k: k.hash()))(keyed._k))
    stats = rows.group_by("_k").agg(_first=rows[ROW].min(), _n=ibis._.count())
    return stats.filter(stats._n > 1).select(_dk="_k", _first="_first")


def duplicate_copies(t, cols: Sequence[str] | None = None, hash_of=None):
    """The rows of ``t`` that are exact copies of an earlier row: one column ``_row``, each copy
    but the first (smallest ``_row``) of every group of rows equal in all ``cols`` (default:
    every column but ``_row``; missing values equal each other, as in pandas'
    ``drop_duplicates``).

    As :func:`duplicated_keys`, two steps keep it cheap at hundreds of millions of rows: a
    group-by of each row's 64-bit hash over ``cols`` finds the hashes on more than one row (the
    copies and the rare collisions: few), then only those rows are compared column by column.
    Exact: a collision only adds a candidate. ``hash_of`` maps the table to the row hash
    (default: the engine's ``hash`` of all ``cols`` as one struct).
    """
    import ibis

    cols = list(cols) if cols is not None else [c for c in t.columns if c != ROW]
    row_hash = ibis.struct({c: t[c] for c in cols}).hash() if hash_of is None else hash_of(t)
    rows = _sharing_a_hash(t, row_hash)
    # a window partitions missing values together (a join on the columns would not match them)
    rows = rows.mutate(_first=rows[ROW].min().over(ibis.window(group_by=cols)))
    return rows.filter(rows[ROW] != rows._first).select(ROW)


def flag_not_in(t, rows, flag: str):
    """``t`` with the boolean column ``flag``: True where its ``_row`` is not in the (small)
    table ``rows`` (one column ``_row``). A left join, not ``NOT IN``: Spark 4 answers
    ``NOT (_row IN (SELECT ...))`` over a cached table with False for every row."""
    marks = rows.select(_m_row=rows[ROW])
    j = t.left_join(marks, t[ROW] == marks._m_row)
    return j.select(*t.columns, **{flag: j._m_row.isnull()})


def repeated_rows(t, key: str | None = None):
    """The rows :func:`dedupe_keep_first` drops: one column ``_row`` (a small table).

    With a ``key``: every row whose trimmed key is on an earlier row (the first row of a key
    is also the first of its exact copies, so pandas' two steps - exact copies, then repeated
    keys - collapse into one), and among the rows with a missing key each exact copy of an
    earlier one. Without a key: each exact copy of an earlier row. Both through
    :func:`duplicate_copies` (hashes first, then the few candidates compared exactly).
    """
    import ibis

    data_cols = [c for c in t.columns if c != ROW]
    if key is None:
        return duplicate_copies(t, data_cols)
    keyed = t.filter(t[key].notnull())  # a raw null test: Parquet statistics can answer it
    keyed = keyed.select(ROW, _k=id_text(keyed[key]))
    seen_key = duplicate_copies(keyed, ["_k"], hash_of=lambda k: k._k.hash())
    unkeyed = t.filter(t[key].isnull())
    return ibis.union(seen_key, duplicate_copies(unkeyed, data_cols))


def dedupe_keep_first(t, key: str | None = None, cache: bool = False):
    """Drop exact duplicate rows, then rows whose ``key`` was already seen (first ``_row`` wins).

    Rows with a missing key are kept (only their exact copies are dropped). The rows to drop
    (:func:`repeated_rows`, few: duplicates are rare) are found first; the rows are then
    filtered against them in one streaming join on the integer ``_row``. ``cache=True``
    materializes that small table once (for callers that scan the rows several times).
    """
    import ibis

    drop = repeated_rows(t, key)
    if cache:
        drop = drop.cache()
    return flag_not_in(t, drop, "_kept").filter(ibis._._kept).drop("_kept")


def _parse_date(col):
    import ibis

    typ = col.type()
    if typ.is_date():
        return col
    if typ.is_timestamp():
        return col.date()
    text = col.cast("string").strip()
    return ibis.coalesce(text.try_cast("date"), text.try_cast("timestamp").date())


def _parse_bool(col):
    import ibis

    if col.type().is_boolean():
        return col
    token = col.cast("string").strip().lower()
    yes = [k for k, v in YES_NO.items() if v]
    no = [k for k, v in YES_NO.items() if not v]
    return ibis.cases(
        (token.isin(yes), ibis.literal(True)),
        (token.isin(no), ibis.literal(False)),
        else_=ibis.null("boolean"),
    )


def _in_range(col, lo, hi):
    import ibis

    num = col.cast("float64") if col.type().is_numeric() else col.cast("string").try_cast("float64")
    bad = ibis.literal(False)
    if lo is not None:
        bad = bad | (num < lo)
    if hi is not None:
        bad = bad | (num > hi)
    return ibis.cases((bad.fill_null(False), ibis.null("float64")), else_=num)


def _expand(patterns, columns) -> tuple[dict, list]:
    return _expand_patterns(patterns, pd.Index(columns))


def _require(columns, cols, name: str) -> None:
    absent = [c for c in cols if c not in columns]
    if absent:
        raise DataError(
            f"{name}: column(s) {absent} named in the rules are missing "
            f"(columns: {[c for c in columns if c != ROW]}). Rename them in the export or edit "
            "the rules."
        )


def clean_table(
    t,
    rules: Mapping,
    name: str,
    parents: Mapping | None = None,
    skip_fk: Sequence[str] = (),
    cache: bool = False,
):
    """Apply one table's rules (see the module docstring) to the lazy table ``t``.

    ``parents`` maps a parent table name to ``(cleaned lazy table, key column)`` for the foreign
    key checks; a parent that is absent skips that check (as in pandas). Foreign keys in
    ``skip_fk`` are not checked here: the caller applies that check itself, later and cheaper
    (e.g. after aggregating to one row per customer). ``cache`` is passed to
    :func:`dedupe_keep_first`.
    """
    import ibis

    parents = parents or {}
    key = rules.get("key")
    if key:
        _require(t.columns, [key], name)
    t = dedupe_keep_first(t, key, cache)
    _require(t.columns, rules.get("dates", []), name)
    _require(t.columns, rules.get("booleans", []), name)
    changes = {c: _parse_date(t[c]) for c in rules.get("dates", [])}
    changes.update({c: _parse_bool(t[c]) for c in rules.get("booleans", [])})
    if changes:
        t = t.mutate(**changes)
    ranges, absent = _expand(rules.get("ranges", {}), t.columns)
    if absent:
        raise DataError(
            f"{name}: range rule(s) for {absent} match no column (columns: "
            f"{[c for c in t.columns if c != ROW]}). Rename the column in the export or edit "
            "the rules."
        )
    if ranges:
        t = t.mutate(**{c: _in_range(t[c], lo, hi) for c, (lo, hi) in ranges.items()})
    cats = rules.get("categories", {})
    _require(t.columns, list(cats), name)
    if cats:
        repl = {}
        for c, allowed in cats.items():
            allowed_set = sorted({str(a) for a in allowed})
            ok = _blank(t[c]) | id_text(t[c]).isin(allowed_set)
            repl[c] = ibis.cases((ok, t[c]), else_=ibis.null(t[c].type()))
        t = t.mutate(**repl)
    required = rules.get("required", [])
    _require(t.columns, required, name)
    for c in required:
        t = t.filter(~_blank(t[c]))
    for fk, parent in rules.get("foreign_keys", {}).items():
        if fk not in t.columns or parent not in parents or fk in skip_fk:
            continue
        parent_t, pkey = parents[parent]
        if pkey is None:
            raise ConfigError(f"Rules for '{parent}' need a 'key' to check {name}.{fk}.")
        known = parent_t.select(_pk=id_text(parent_t[pkey]))
        child = id_text(t[fk])
        t = t.filter(_blank(t[fk]) | child.isin(known._pk))
    ret = rules.get("returns")
    if ret and ret in t.columns:
        amount = t[ret] if t[ret].type().is_numeric() else t[ret].try_cast("float64")
        t = t.mutate(is_return=(amount < 0).fill_null(False))
    return t


def clean_sources(
    tables: Mapping,
    rules: Mapping | None,
    skip_fk: Mapping[str, Sequence[str]] | None = None,
    cache: Sequence[str] = (),
) -> dict:
    """Clean every lazy table with its rules; parents (tables others refer to) first.

    ``tables`` maps a source name to a lazy Ibis table with ``_row``; tables without rules are
    returned unchanged. Mirrors :func:`crmlab.quality.clean_tables` (without the notes).
    ``skip_fk`` maps a table to foreign keys the caller checks itself (see :func:`clean_table`);
    tables named in ``cache`` materialize their (small) table of rows to drop.
    """
    skip_fk = skip_fk or {}
    rules = rules or {}
    order = sorted(
        tables,
        key=lambda n: (
            0 if any(n in r.get("foreign_keys", {}).values() for r in rules.values()) else 1
        ),
    )
    clean: dict = {}
    for name in order:
        r = rules.get(name)
        if not r:
            clean[name] = tables[name]
            continue
        parents = {
            p: (clean.get(p, tables[p]), rules.get(p, {}).get("key"))
            for p in r.get("foreign_keys", {}).values()
            if p in tables
        }
        clean[name] = clean_table(
            tables[name], r, name, parents, skip_fk.get(name, ()), name in cache
        )
    return {n: clean[n] for n in tables}
