"""The data-quality report and cleaning notes of a large table, counted inside the engine.

:func:`crmlab.quality.quality_report` and :func:`crmlab.quality.clean_tables` need the whole table
in pandas. :func:`table_checks` computes the same findings (one per source, column and check) and
the same cleaning notes ("190 exact duplicate row(s) dropped ...") for a lazy Ibis table, with
aggregations in DuckDB or Spark; only counts come back to Python. Definitions, order and wording
are those of :mod:`crmlab.quality`:

report (raw rows)   missing_column, duplicate_rows, duplicate_key, missing, unparseable_date,
                    out_of_range, invalid_category, orphan_key, negative_amount
notes (cleaning)    exact duplicates, already-seen keys, unparseable dates, values that are not
                    yes/no, out-of-range values, invalid categories, rows missing a required
                    column, orphan rows (checked against the *cleaned* parent), returns

Differences (documented, not silent): ``example_rows`` and ``example_values`` are left empty
(fetching examples would need one more pass per finding); dates are parsed as ISO 8601 only (as
in :mod:`crmlab.engine.clean`).

Cost: one aggregation over the table's keys (the keys that occur more than once, a small table
kept in the engine), one left join per foreign key and parent (a known/unknown flag column), and
one aggregation for every count (each check a boolean computed once per row). With ``cache=True``
the rows and their flags are read from the file once into a Parquet file in the spill folder
(:func:`crmlab.engine.backends.materialize`) that the counts and every later use of the cleaned
table read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crmlab.engine.backends import materialize, number
from crmlab.engine.clean import (
    ROW,
    _blank,
    _expand,
    _in_range,
    _parse_bool,
    _parse_date,
    duplicate_copies,
    duplicated_keys,
    flag_not_in,
    id_text,
)
from crmlab.errors import ConfigError, DataError
from crmlab.quality import YES_NO, _range_text, missing_finding_text

__all__ = ["TableChecks", "table_checks"]


@dataclass
class TableChecks:
    """What :func:`table_checks` found for one table.

    Attributes
    ----------
    findings
        Report rows (dicts with the columns of :func:`crmlab.quality.quality_report`).
    notes
        Cleaning notes in the order :func:`crmlab.quality.clean_tables` writes them.
    n_raw, n_clean
        Rows before and after cleaning.
    n_returns
        Rows of the cleaned table flagged ``is_return`` (0 without a ``returns`` rule).
    clean
        The cleaned lazy table (transformed columns, ``is_return`` when there is a ``returns``
        rule, and ``_row``), for further aggregations in the engine.
    """

    findings: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_raw: int = 0
    n_clean: int = 0
    n_returns: int = 0
    clean: object = None


def _finding(name, column, check, severity, n, n_raw, note, action) -> dict:
    return {
        "source": name,
        "column": column,
        "check": check,
        "severity": severity,
        "n_rows": int(n),
        "share": n / n_raw if n_raw else float("nan"),
        "example_rows": [],
        "example_values": [],
        "note": note,
        "action": action,
    }


def _num(col):
    return (
        col.cast("float64") if col.type().is_numeric() else col.cast("string").try_cast("float64")
    )


def _range_bad(col, lo, hi):
    """Not a number (and not blank), or outside [lo, hi] - as quality._out_of_range_mask."""
    num = _num(col)
    bad = num.isnull() & ~_blank(col)
    if lo is not None:
        bad = bad | (num < lo).fill_null(False)
    if hi is not None:
        bad = bad | (num > hi).fill_null(False)
    return bad


def _count(cond):
    import ibis

    return ibis.cases((cond, 1), else_=0).sum()


def _kept_flag(t, key, cols):
    """Lazy ``t`` with ``_kept``: the row survives exact-duplicate and duplicate-key removal.

    Also returns the (cached, small) table used for the duplicate counts: the keys on more
    than one row, or without a key the ``_row`` of each exact copy (:func:`duplicate_copies`).
    """
    import ibis

    if key is None:  # the rows that copy an earlier one: a small table, computed once
        copies = duplicate_copies(t, cols).cache()
        return flag_not_in(t, copies, "_kept"), copies
    keyed = t.filter(t[key].notnull())
    keyed = keyed.mutate(_k=id_text(keyed[key]))
    dups = duplicated_keys(keyed).cache()
    unkeyed = t.filter(t[key].isnull())
    # rows without a key are rare: their first copies are a small table, computed once
    nk_first = unkeyed.group_by(cols).agg(_fr=unkeyed[ROW].min()).cache()
    tk = t.mutate(_k=id_text(t[key]))
    j = tk.left_join(dups, tk._k == dups._dk)
    j = j.select(*t.columns, "_dk", "_first")
    kept = ibis.cases(
        (j[key].isnull(), j[ROW].isin(nk_first._fr)),
        (j._dk.isnull(), ibis.literal(True)),
        else_=j[ROW] == j._first,
    )
    return j.select(*t.columns, _kept=kept), dups


def _duplicate_counts(t, key, cols, dups):
    """(exact duplicate rows, distinct rows sharing a key, keys shared) - small aggregations."""
    import ibis

    if key is None:  # ``dups``: the exact copies (:func:`_kept_flag`)
        return int(dups.count().execute()), 0, 0
    sus = t.mutate(_k=id_text(t[key]))
    sus = sus.filter(sus[key].isnull() | sus._k.isin(dups._dk))
    # the rows of duplicated keys: a small table, read twice
    groups = sus.group_by([*cols, "_k"]).agg(_c=ibis._.count()).cache()
    tot = groups.aggregate(_rows=groups._c.sum(), _groups=groups.count()).execute()
    n_exact = number(tot["_rows"].iloc[0]) - number(tot["_groups"].iloc[0])
    per_key = groups.filter(groups._k.notnull()).group_by("_k").agg(_d=ibis._.count())
    shared = per_key.filter(per_key._d > 1)
    res = shared.aggregate(_rows=shared._d.sum(), _keys=shared.count()).execute()
    return n_exact, number(res["_rows"].iloc[0]), number(res["_keys"].iloc[0])


def _parent_ids(parent_t, pkey, name, fk, parent):
    if pkey is None or pkey not in parent_t.columns:
        raise ConfigError(
            f"Cannot check {name}.{fk} against '{parent}': the rules for '{parent}' name no "
            f"'key' column present in that table."
        )
    # a small table (one id per customer or store), computed once and reused by every check
    return parent_t.select(_pk=id_text(parent_t[pkey])).distinct().cache()


def _flag_known(a, value, known, flag: str):
    """``a`` plus a boolean column ``flag``: ``value`` (an expression on ``a``) is in ``known._pk``.

    A left join against the small distinct id table: one join, whatever the number of counts
    that use the flag. Rows are not multiplied (``known`` holds each id once).
    """
    k = known.select(**{f"{flag}_k": known._pk})
    j = a.left_join(k, value == k[f"{flag}_k"])
    return j.select(*a.columns, **{flag: j[f"{flag}_k"].notnull()})


def _clean_values(a, cols, rule, ranges, cats, flags: dict | None = None) -> dict:
    """Column -> cleaned value (dates, yes/no, ranges, categories: the steps of
    :func:`crmlab.quality.clean_tables` in order). With ``flags``, adds per step the condition
    "this step sets the value to missing" (``c_date:``, ``c_bool:``, ``c_range:``, ``c_cat:``)."""
    import ibis

    flags = {} if flags is None else flags
    val = {c: a[c] for c in cols}
    for c in rule.get("dates", []):
        flags[f"c_date:{c}"] = _parse_date(a[c]).isnull() & ~_blank(a[c])
        val[c] = _parse_date(a[c])
    for c in rule.get("booleans", []):
        parsed = _parse_bool(val[c])
        flags[f"c_bool:{c}"] = parsed.isnull() & ~_blank(a[c])
        val[c] = parsed
    for c, (lo, hi) in ranges.items():
        flags[f"c_range:{c}"] = _range_bad(val[c], lo, hi)
        val[c] = _in_range(val[c], lo, hi)
    for c, allowed in cats.items():
        allowed_set = sorted({str(x) for x in allowed})
        bad = ~_blank(val[c]) & ~id_text(val[c]).isin(allowed_set).fill_null(False)
        flags[f"c_cat:{c}"] = bad
        val[c] = ibis.cases((bad, ibis.null(val[c].type())), else_=val[c])
    return val


def table_checks(
    t,
    name: str,
    rule: Mapping | None,
    parents: Mapping[str, tuple] | None = None,
    cache: bool = False,
) -> TableChecks:
    """Quality findings and cleaning notes of the lazy table ``t`` (with ``_row``).

    Parameters
    ----------
    t
        Lazy Ibis table of the raw rows plus ``_row`` (:func:`crmlab.engine.backends.register_source`).
    name
        Source name used in the findings and notes (``"transactions"``).
    rule
        The table's quality rules (:mod:`crmlab.quality`); None or empty -> generic checks only.
    parents
        Parent table name -> ``(raw lazy table, cleaned lazy table, key column)`` for the
        foreign-key checks: the report checks against the raw parent (as
        :func:`crmlab.quality.quality_report`), the cleaning against the cleaned one (as
        :func:`crmlab.quality.clean_tables`). Absent parents skip the check.
    cache
        Materialize the rows once (raw columns plus the keep and foreign-key flags, a temporary
        table that DuckDB spills to disk when memory is short): the counts, the duplicate
        counts and every later use of ``clean`` then read it instead of the file.
    """
    import ibis

    rule = dict(rule or {})
    parents = dict(parents or {})
    cols = [c for c in t.columns if c != ROW]
    out = TableChecks()

    # columns named in the rules but absent
    named = [*rule.get("dates", []), *rule.get("booleans", []), *rule.get("required", [])]
    named += [*rule.get("ranges", {}), *rule.get("categories", {}), *rule.get("foreign_keys", {})]
    named += [rule[k] for k in ("key", "returns") if rule.get(k)]
    absent = sorted(set(_expand(named, cols)[1]))

    key = rule.get("key") if rule.get("key") in cols else None
    if rule.get("key") and key is None:
        raise DataError(
            f"{name}: column(s) {[rule['key']]} named in the rules are missing (columns: {cols}). "
            "Rename them in the export or edit the rules."
        )
    for k in ("dates", "booleans", "required"):
        missing = [c for c in rule.get(k, []) if c not in cols]
        if missing:
            raise DataError(
                f"{name}: column(s) {missing} named in the rules are missing (columns: {cols}). "
                "Rename them in the export or edit the rules."
            )
    ranges, absent_ranges = _expand(rule.get("ranges", {}), cols)
    if absent_ranges:
        raise DataError(
            f"{name}: range rule(s) for {absent_ranges} match no column (columns: {cols}). "
            "Rename the column in the export or edit the rules."
        )
    cats = dict(rule.get("categories", {}))
    missing_cats = [c for c in cats if c not in cols]
    if missing_cats:
        raise DataError(
            f"{name}: column(s) {missing_cats} named in the rules are missing (columns: {cols}). "
            "Rename them in the export or edit the rules."
        )

    a, dups = _kept_flag(t, key, cols)

    # foreign keys: one left join per parent-id table adds a known/unknown flag column (an IN
    # subquery would be joined again in every count that uses it)
    fks = {fk: p for fk, p in rule.get("foreign_keys", {}).items() if fk in cols and p in parents}
    for i, (fk, parent) in enumerate(fks.items()):
        raw_parent, _, pkey = parents[parent]
        known = _parent_ids(raw_parent, pkey, name, fk, parent)
        a = _flag_known(a, id_text(a[fk]), known, f"_in_raw{i}")
    for i, (fk, parent) in enumerate(fks.items()):
        _, clean_parent, pkey = parents[parent]
        if pkey is None:
            raise ConfigError(f"Rules for '{parent}' need a 'key' to check {name}.{fk}.")
        known = _parent_ids(clean_parent, pkey, name, fk, parent)
        fk_value = _clean_values(a, cols, rule, ranges, cats)[fk]
        a = _flag_known(a, id_text(fk_value), known, f"_in_clean{i}")
    if cache:
        a = materialize(ibis.get_backend(a), a)
    n_exact, n_shared_rows, n_shared_keys = _duplicate_counts(a.select(*t.columns), key, cols, dups)

    # one boolean per row and check, each computed once (a subquery); the counts below only
    # combine these flags
    flag: dict = {"kept": a._kept}
    required, optional = set(rule.get("required", [])), set(rule.get("optional", []))
    for c in cols:
        flag[f"miss:{c}"] = _blank(a[c])
    for c in rule.get("dates", []):
        flag[f"date:{c}"] = _parse_date(a[c]).isnull() & ~_blank(a[c])
    for c, (lo, hi) in ranges.items():
        flag[f"range:{c}"] = _range_bad(a[c], lo, hi)
    for c, allowed in cats.items():
        allowed_set = sorted({str(x) for x in allowed})
        flag[f"cat:{c}"] = ~_blank(a[c]) & ~id_text(a[c]).isin(allowed_set).fill_null(False)
    for c in rule.get("booleans", []):
        token = id_text(a[c]).lower()
        flag[f"bool:{c}"] = ~_blank(a[c]) & ~token.isin(sorted(YES_NO)).fill_null(False)
    ids = {}
    for i, fk in enumerate(fks):
        flag[f"orphan:{fk}"] = ~_blank(a[fk]) & ~a[f"_in_raw{i}"]
        ids[f"orphan_ids:{fk}"] = ibis.cases((flag[f"orphan:{fk}"], id_text(a[fk])))
    ret = rule.get("returns") if rule.get("returns") in cols else None
    if ret:
        flag["neg"] = (_num(a[ret]) < 0).fill_null(False)
    # cleaning steps (without the rows already dropped: combined below)
    val = _clean_values(a, cols, rule, ranges, cats, flag)
    for c in rule.get("required", []):
        flag[f"c_req:{c}"] = _blank(val[c])
    for i, fk in enumerate(fks):
        flag[f"c_orphan:{fk}"] = ~_blank(val[fk]) & ~a[f"_in_clean{i}"]
        ids[f"c_orphan_ids:{fk}"] = ibis.cases((flag[f"c_orphan:{fk}"], id_text(val[fk])))
    if ret:
        is_ret = (_num(val[ret]) < 0).fill_null(False)
        flag["c_ret"] = is_ret
        val["is_return"] = is_ret
    # names must be identifiers on every backend
    alias = {k: f"f{i}" for i, k in enumerate([*flag, *ids])}
    f = a.select(**{alias[k]: v for k, v in {**flag, **ids}.items()})
    g = {k: f[alias[k]] for k in [*flag, *ids]}

    kept = g["kept"]
    agg: dict = {"n_raw": f.count(), "n_kept": _count(kept)}
    for k in flag:
        if k.startswith(("miss:", "date:", "range:", "cat:", "bool:", "orphan:")) or k == "neg":
            agg[k] = _count(g[k])
    for k in ids:
        if not k.startswith("c_"):
            agg[k] = g[k].nunique()
    for k in flag:
        if k.startswith(("c_date:", "c_bool:", "c_range:", "c_cat:")):
            agg[k] = _count(kept & g[k])
    alive = kept
    for c in rule.get("required", []):
        agg[f"c_req:{c}"] = _count(alive & g[f"c_req:{c}"])
        alive = alive & ~g[f"c_req:{c}"]
    for fk in fks:
        orphan = alive & g[f"c_orphan:{fk}"]
        agg[f"c_orphan:{fk}"] = _count(orphan)
        agg[f"c_orphan_ids:{fk}"] = ibis.cases((orphan, g[f"c_orphan_ids:{fk}"])).nunique()
        alive = alive & ~orphan
    agg["n_clean"] = _count(alive)
    if ret:
        agg["c_ret"] = _count(alive & g["c_ret"])
    names = {k: f"m{i}" for i, k in enumerate(agg)}
    res = f.aggregate(**{names[k]: v for k, v in agg.items()}).execute().iloc[0]
    n = {k: number(res[names[k]]) for k in agg}

    n_raw = n["n_raw"]
    out.n_raw, out.n_clean = n_raw, n["n_clean"]
    out.n_returns = n.get("c_ret", 0)
    alive = a._kept
    for k in [*(f"c_req:{c}" for c in rule.get("required", [])), *(f"c_orphan:{fk}" for fk in fks)]:
        alive = alive & ~flag[k]
    out.clean = a.filter(alive).select(**val, **{ROW: a[ROW]})
    f = out.findings
    for c in absent:
        f.append(
            {
                **_finding(
                    name,
                    c,
                    "missing_column",
                    "error",
                    n_raw,
                    n_raw,
                    f"Column '{c}' is named in the rules but not in the table "
                    f"(columns: {', '.join(map(str, cols))}).",
                    "none: rename the column in the export or fix the rules",
                ),
                "share": 1.0,
            }
        )
    if n_exact:
        f.append(
            _finding(
                name,
                "*",
                "duplicate_rows",
                "warning",
                n_exact,
                n_raw,
                f"{n_exact:,} rows are exact copies of an earlier row.",
                "drop the copies (keep the first)",
            )
        )
    if n_shared_rows:
        f.append(
            _finding(
                name,
                key,
                "duplicate_key",
                "error",
                n_shared_rows,
                n_raw,
                f"{n_shared_keys:,} {key} value(s) appear on more than one row with different "
                "contents.",
                "keep the first row of each key",
            )
        )
    for c in cols:
        m = n[f"miss:{c}"]
        if not m:
            continue
        sev, note, action = missing_finding_text(c, m, required, optional)
        f.append(_finding(name, c, "missing", sev, m, n_raw, note, action))
    for c in rule.get("dates", []):
        if n[f"date:{c}"]:
            m = n[f"date:{c}"]
            note = f"{m:,} value(s) in {c} are not valid dates."
            f.append(
                _finding(name, c, "unparseable_date", "warning", m, n_raw, note, "set to missing")
            )
    for c, (lo, hi) in ranges.items():
        if n[f"range:{c}"]:
            m = n[f"range:{c}"]
            note = (
                f"{m:,} value(s) in {c} are outside the allowed range {_range_text(lo, hi)} "
                "or not numbers."
            )
            f.append(_finding(name, c, "out_of_range", "warning", m, n_raw, note, "set to missing"))
    for c, allowed in cats.items():
        if n[f"cat:{c}"]:
            m = n[f"cat:{c}"]
            note = f"{m:,} value(s) in {c} are not one of {sorted({str(x) for x in allowed})}."
            f.append(
                _finding(name, c, "invalid_category", "warning", m, n_raw, note, "set to missing")
            )
    for c in rule.get("booleans", []):
        if n[f"bool:{c}"]:
            m = n[f"bool:{c}"]
            note = f"{m:,} value(s) in {c} are not yes/no."
            f.append(
                _finding(name, c, "invalid_category", "warning", m, n_raw, note, "set to missing")
            )
    for fk, parent in fks.items():
        if n[f"orphan:{fk}"]:
            m = n[f"orphan:{fk}"]
            note = (
                f"{m:,} row(s) refer to a {fk} that is not in {parent} "
                f"({n[f'orphan_ids:{fk}']:,} distinct value(s))."
            )
            f.append(_finding(name, fk, "orphan_key", "warning", m, n_raw, note, "drop these rows"))
    if ret and n["neg"]:
        note = f"{n['neg']:,} negative amount(s) in {ret}: returns, expected."
        action = "keep; flag as is_return (net spend subtracts them)"
        f.append(_finding(name, ret, "negative_amount", "info", n["neg"], n_raw, note, action))

    notes = out.notes
    if n_exact:
        notes.append(f"{name}: {n_exact:,} exact duplicate row(s) dropped (first copy kept).")
    n_key_dropped = n_shared_rows - n_shared_keys
    if n_key_dropped:
        notes.append(
            f"{name}: {n_key_dropped:,} row(s) with an already-seen {key} dropped "
            "(first row of each key kept)."
        )
    for c in rule.get("dates", []):
        if n[f"c_date:{c}"]:
            notes.append(f"{name}: {n[f'c_date:{c}']:,} unparseable date(s) in {c} set to missing.")
    for c in rule.get("booleans", []):
        if n[f"c_bool:{c}"]:
            notes.append(
                f"{name}: {n[f'c_bool:{c}']:,} value(s) in {c} that are not yes/no set to missing."
            )
    for c, (lo, hi) in ranges.items():
        if n[f"c_range:{c}"]:
            notes.append(
                f"{name}: {n[f'c_range:{c}']:,} out-of-range value(s) in {c} "
                f"(allowed {_range_text(lo, hi)}) set to missing."
            )
    for c, allowed in cats.items():
        if n[f"c_cat:{c}"]:
            notes.append(
                f"{name}: {n[f'c_cat:{c}']:,} value(s) in {c} not in "
                f"{sorted({str(x) for x in allowed})} set to missing."
            )
    for c in rule.get("required", []):
        if n[f"c_req:{c}"]:
            notes.append(f"{name}: {n[f'c_req:{c}']:,} row(s) with missing {c} dropped.")
    for fk, parent in rule.get("foreign_keys", {}).items():
        if f"c_orphan:{fk}" in n and n[f"c_orphan:{fk}"]:
            notes.append(
                f"{name}: {n[f'c_orphan:{fk}']:,} row(s) whose {fk} is not in {parent} dropped "
                f"({n[f'c_orphan_ids:{fk}']:,} distinct unknown id(s))."
            )
    if ret and n.get("c_ret"):
        notes.append(
            f"{name}: {n['c_ret']:,} return(s) (negative {ret}) kept and marked as returns "
            "(counted after the drops above)."
        )
    return out
