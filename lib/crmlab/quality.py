"""Data-quality report and documented cleaning steps for customer tables.

:func:`quality_report` lists every problem it finds, one row per (table, column, check), and
changes nothing. The ``clean_*``-style functions below apply the documented fixes; each returns
``(clean_df, notes)`` where ``notes`` is a list of plain-language sentences such as
``"survey: 11 out-of-range values in overall_satisfaction (allowed 1 to 5) set to missing"``.
Nothing is changed silently: a step that changes nothing returns no note.

Rules
-----
A *rules* mapping says, per table, what to check (all keys optional)::

    {
        "transactions": {
            "key": "transaction_id",                 # must be unique
            "foreign_keys": {"customer_id": "customers"},  # must exist in that table's key
            "dates": ["date"],                        # must parse as dates
            "ranges": {"items": [1, None]},           # inclusive [low, high]; None = open
            "categories": {"channel": ["store", "online"]},  # allowed values
            "booleans": ["promotion_flag"],           # yes/no, true/false, 1/0, 是/否
            "returns": "amount",                      # negative = return (kept, flagged)
            "required": ["customer_id", "date", "amount"],  # rows missing these are dropped
            "optional": ["comment"],                  # missing values are expected here
        },
        ...
    }

:data:`RETAIL_RULES` holds the rules for the retail case; :func:`retail_rules` adds the survey's
driver-rating columns.

Checks (``check`` column of the report)
--------------------------------------
missing            missing or blank values in a column
duplicate_rows     exact duplicate rows (counted: the extra copies)
duplicate_key      rows that share a key value but differ elsewhere (after removing exact copies);
                   the one definition of duplicated ids, :func:`duplicate_ids`, that
                   ``crmlab validate`` counts with too
out_of_range       numeric values outside the allowed range, or not numbers at all
invalid_category   values outside the allowed set (categories, yes/no columns)
orphan_key         foreign-key values with no match in the parent table
negative_amount    negative amounts (returns; expected, kept and flagged)
unparseable_date   values that do not parse as dates
missing_column     a column named in the rules is absent from the table
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlab import canonical
from crmlab.errors import ConfigError, DataError
from crmlab.narrative import in_words
from crmlab.privacy import _normalize_ids, detect_pii_columns

__all__ = [
    "CHECKS",
    "FINANCE_RULES",
    "RETAIL_DRIVERS",
    "RETAIL_RULES",
    "DuplicateIds",
    "clean_tables",
    "drop_duplicate_keys",
    "duplicate_ids",
    "drop_exact_duplicates",
    "drop_missing",
    "drop_orphans",
    "flag_returns",
    "parse_dates",
    "parse_yes_no",
    "quality_report",
    "retail_rules",
    "set_out_of_range_to_missing",
    "show_cleaning_notes",
    "show_findings",
    "to_datetime",
    "verdict",
    "worth_charting",
]

CHECKS = (
    "missing_column",
    "duplicate_rows",
    "duplicate_key",
    "missing",
    "unparseable_date",
    "out_of_range",
    "invalid_category",
    "orphan_key",
    "negative_amount",
)

REPORT_COLUMNS = [
    "source",
    "column",
    "check",
    "severity",
    "n_rows",
    "share",
    "example_rows",
    "example_values",
    "note",
    "action",
]

_RULE_KEYS = {
    "key",
    "foreign_keys",
    "dates",
    "ranges",
    "categories",
    "booleans",
    "returns",
    "required",
    "optional",
}

YES_NO = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "1.0": True,
    "是": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
    "0.0": False,
    "否": False,
}

RETAIL_DRIVERS = canonical.RETAIL_DRIVERS
"""Driver-rating columns (1-5) of the retail survey (same as ``crmlab.synth.retail.DRIVERS``)."""

RETAIL_RULES: dict[str, dict] = {
    "stores": {
        "key": "store_id",
        "dates": ["opened_date"],
        "required": ["store_id"],
    },
    "customers": {
        "key": "customer_id",
        "dates": ["signup_date"],
        "booleans": ["loyalty_member"],
        "required": ["customer_id"],
    },
    "transactions": {
        "key": "transaction_id",
        "foreign_keys": {"customer_id": "customers", "store_id": "stores"},
        "dates": ["date"],
        "ranges": {"promotion": [0, 1]},
        "returns": "amount",
        "required": ["customer_id", "date", "amount"],
    },
    "survey": {
        "key": "response_id",
        "foreign_keys": {"customer_id": "customers", "store_id": "stores"},
        "dates": ["date"],
        "ranges": {
            "overall_satisfaction": [1, 5],
            "recommend": [0, 10],
            **{d: [1, 5] for d in RETAIL_DRIVERS},
        },
        "required": ["date"],
        "optional": ["customer_id", "comment"],
    },
    "complaints": {
        "key": "complaint_id",
        "foreign_keys": {"customer_id": "customers"},
        "dates": ["date"],
        "booleans": ["resolved"],
        "ranges": {"days_to_resolve": [0, None]},
        "required": ["customer_id", "date"],
        "optional": ["days_to_resolve"],
    },
}
"""Rules for the retail case (see module docstring). Copy and edit for a client export.

Only ``transactions.store_id`` and ``survey.store_id`` are checked against ``stores``;
``customers.home_store`` is not (cleaning would drop the customer)."""


FINANCE_RULES: dict[str, dict] = {
    "customers": {
        "key": "customer_id",
        "dates": ["open_date", "closure_date"],
        "booleans": ["salary_deposit", "relationship_manager", "digital_active"],
        "ranges": {"age": [18, 120], "products_held": [0, None]},
        "categories": {"segment": ["mass", "affluent", "private"]},
        "required": ["customer_id", "open_date", "segment", "products_held"],
        "optional": ["closure_date"],
    },
    "snapshots": {
        "foreign_keys": {"customer_id": "customers"},
        "ranges": {
            "balance": [0, None],
            "n_transactions": [0, None],
            "logins": [0, None],
            "fees_charged": [0, None],
            "fee_rise": [0, 1],
            "service_contacts": [0, None],
            "complaints": [0, None],
        },
        "required": ["customer_id", "month"],
    },
    "pilot": {
        "key": "customer_id",
        "foreign_keys": {"customer_id": "customers"},
        "dates": ["offer_date"],
        "required": ["customer_id", "group", "offer_date"],
    },
}
"""Rules for the finance churn case (tables of :mod:`crmlab.synth.finance`). Copy and edit for a
client export.

``closure_date`` blank means the account is still open (censored), so it is optional. Snapshots
have one row per customer and month (no single-column key; exact duplicates are still dropped).
The pilot's ``group`` values are not restricted here: stage 4 needs a ``control`` arm and one
treated arm, whatever it is called."""


def retail_rules(
    driver_cols: Sequence[str] | None = None, driver_range: Sequence[float] = (1, 5)
) -> dict:
    """Return a deep copy of :data:`RETAIL_RULES`, optionally with other survey driver columns.

    Parameters
    ----------
    driver_cols
        Names (or glob patterns such as ``"drv_*"``) of the driver-rating columns, replacing
        :data:`RETAIL_DRIVERS`; ``None`` keeps them.
    driver_range
        Allowed inclusive range of the driver ratings (default 1-5).
    """
    rules = copy.deepcopy(RETAIL_RULES)
    if driver_cols is not None:
        ranges = rules["survey"]["ranges"]
        for d in RETAIL_DRIVERS:
            ranges.pop(d)
        for col in driver_cols:
            ranges[col] = list(driver_range)
    return rules


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def to_datetime(s: pd.Series, fmt: str | None = None) -> pd.Series:
    """Parse a column to datetimes; unparseable values become ``NaT`` (no error).

    ISO 8601 is tried first (fast); values that fail are retried one by one with
    ``format="mixed"`` (month first for ambiguous ``05/01/2024``). Pass ``fmt`` (a
    ``strftime`` format) to force one format.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if fmt is not None:
        return pd.to_datetime(s, format=fmt, errors="coerce")
    out = pd.to_datetime(s, format="ISO8601", errors="coerce")
    retry = out.isna() & s.notna()
    if retry.any():
        out = out.copy()
        out[retry] = pd.to_datetime(s[retry], format="mixed", errors="coerce")
    return out


def _blank(s: pd.Series) -> pd.Series:
    """True where a value is missing or an empty/whitespace-only string."""
    missing = s.isna()
    if pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s):
        missing = missing | (s.astype("str").str.strip() == "").fillna(False)
    return missing


def _ids(s: pd.Series) -> pd.Series:
    """Text form of id values (1001, 1001.0 and '1001' compare equal)."""
    return _normalize_ids(s)


def _expand(patterns: Mapping | Sequence, columns: pd.Index) -> tuple[dict, list]:
    """Expand glob patterns in rule keys; return ({column: rule}, [absent names])."""
    items = patterns.items() if isinstance(patterns, Mapping) else ((p, None) for p in patterns)
    found: dict = {}
    absent: list = []
    for pattern, rule in items:
        if any(ch in str(pattern) for ch in "*?["):
            matches = fnmatch.filter([str(c) for c in columns], str(pattern))
            found.update({m: rule for m in matches})
            if not matches:
                absent.append(pattern)
        elif pattern in columns:
            found[pattern] = rule
        else:
            absent.append(pattern)
    return found, absent


def _check_rules(rules: Mapping | None) -> Mapping:
    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise ConfigError("Quality rules must be a mapping {table name: {rule: value}}.")
    for table, r in rules.items():
        unknown = set(r) - _RULE_KEYS
        if unknown:
            raise ConfigError(
                f"Quality rules for '{table}': unknown rule(s) {sorted(unknown)}; "
                f"allowed are {sorted(_RULE_KEYS)}."
            )
    return rules


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def _out_of_range_mask(s: pd.Series, lo, hi) -> tuple[pd.Series, pd.Series]:
    """Return (bad mask, numeric values). Bad = not a number, or outside [lo, hi]."""
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & ~_blank(s)
    if lo is not None:
        bad |= num < lo
    if hi is not None:
        bad |= num > hi
    return bad.fillna(False).astype(bool), num


def _bool_token(s: pd.Series) -> pd.Series:
    return _normalize_ids(s).str.lower()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def missing_finding_text(column: str, n: int, required, optional) -> tuple[str, str, str]:
    """Severity, note and action of the finding "``n`` missing values in ``column``": an error
    (rows dropped) for a required column, info for an optional one, else a warning (kept). Shared
    by this module and the engine's checks (:mod:`crmlab.engine.checks`) so both word it alike."""
    if column in required:
        sev, note_end, action = "error", "the column is required", "drop these rows"
    elif column in optional:
        sev, note_end, action = "info", "missing values are expected here", "keep"
    else:
        sev, note_end, action = "warning", "", "keep (missing in analyses)"
    note = f"{n:,} missing value(s) in {column}" + (f"; {note_end}." if note_end else ".")
    return sev, note, action


def _finding(source, column, check, severity, mask, df, note, action, redact, values=None):
    """One report row for the rows where boolean ``mask`` is true (first 5 as examples)."""
    mask = np.asarray(mask, dtype=bool)
    rows = df.index[mask]
    n = len(rows)
    if values is None:
        vals = df[column].to_numpy()[mask][:5]
        values = ["<redacted>" if column in redact else str(v) for v in vals]
    return {
        "source": source,
        "column": column,
        "check": check,
        "severity": severity,
        "n_rows": int(n),
        "share": n / len(df) if len(df) else np.nan,
        "example_rows": list(rows[:5]),
        "example_values": values,
        "note": note,
        "action": action,
    }


def _table_findings(
    name: str, df: pd.DataFrame, r: Mapping, tables: Mapping, parent_keys: Mapping[str, str]
) -> list[dict]:
    out: list[dict] = []
    redact = set(detect_pii_columns(df))
    cols = df.columns

    # columns named in the rules but absent
    named: dict[str, list] = {}
    for k in ("dates", "booleans", "required"):
        named[k] = list(r.get(k, []))
    for k in ("ranges", "categories", "foreign_keys"):
        named[k] = list(r.get(k, {}))
    if r.get("key"):
        named["key"] = [r["key"]]
    if r.get("returns"):
        named["returns"] = [r["returns"]]
    absent = sorted({a for lst in named.values() for a in _expand(lst, cols)[1]})
    for c in absent:
        out.append(
            {
                "source": name,
                "column": c,
                "check": "missing_column",
                "severity": "error",
                "n_rows": len(df),
                "share": 1.0,
                "example_rows": [],
                "example_values": [],
                "note": f"Column '{c}' is named in the rules but not in the table "
                f"(columns: {', '.join(map(str, cols))}).",
                "action": "none: rename the column in the export or fix the rules",
            }
        )

    # exact duplicate rows, and duplicate keys among distinct rows (:func:`duplicate_ids`)
    key = r.get("key")
    d = duplicate_ids(df, key if key in cols else None)
    if d.n_copies:
        out.append(
            _finding(
                name,
                "*",
                "duplicate_rows",
                "warning",
                d.copies,
                df,
                f"{d.n_copies:,} rows are exact copies of an earlier row.",
                "drop the copies (keep the first)",
                redact,
                values=[],
            )
        )
    if d.differing_ids:
        out.append(
            _finding(
                name,
                key,
                "duplicate_key",
                "error",
                d.differing,
                df,
                f"{d.differing_ids:,} {key} value(s) appear on more than one row with different "
                "contents.",
                "keep the first row of each key",
                redact,
            )
        )

    # missing values
    required = set(r.get("required", []))
    optional = set(r.get("optional", []))
    for c in cols:
        miss = _blank(df[c])
        if not miss.any():
            continue
        sev, note, action = missing_finding_text(c, int(miss.sum()), required, optional)
        out.append(_finding(name, c, "missing", sev, miss, df, note, action, redact, values=[]))

    # dates
    for c in r.get("dates", []):
        if c not in cols:
            continue
        parsed = to_datetime(df[c])
        bad = parsed.isna() & ~_blank(df[c])
        if bad.any():
            out.append(
                _finding(
                    name,
                    c,
                    "unparseable_date",
                    "warning",
                    bad,
                    df,
                    f"{int(bad.sum()):,} value(s) in {c} are not valid dates.",
                    "set to missing",
                    redact,
                )
            )

    # ranges
    ranges, _ = _expand(r.get("ranges", {}), cols)
    for c, (lo, hi) in ranges.items():
        bad, _num = _out_of_range_mask(df[c], lo, hi)
        if bad.any():
            out.append(
                _finding(
                    name,
                    c,
                    "out_of_range",
                    "warning",
                    bad,
                    df,
                    f"{int(bad.sum()):,} value(s) in {c} are outside the allowed range "
                    f"{_range_text(lo, hi)} or not numbers.",
                    "set to missing",
                    redact,
                )
            )

    # categories and yes/no columns
    for c, allowed in r.get("categories", {}).items():
        if c not in cols:
            continue
        allowed_set = {str(a) for a in allowed}
        bad = ~_blank(df[c]) & ~_normalize_ids(df[c]).isin(allowed_set)
        if bad.any():
            out.append(
                _finding(
                    name,
                    c,
                    "invalid_category",
                    "warning",
                    bad,
                    df,
                    f"{int(bad.sum()):,} value(s) in {c} are not one of {sorted(allowed_set)}.",
                    "set to missing",
                    redact,
                )
            )
    for c in r.get("booleans", []):
        if c not in cols:
            continue
        bad = ~_blank(df[c]) & ~_bool_token(df[c]).isin(set(YES_NO)).fillna(False)
        if bad.any():
            out.append(
                _finding(
                    name,
                    c,
                    "invalid_category",
                    "warning",
                    bad,
                    df,
                    f"{int(bad.sum()):,} value(s) in {c} are not yes/no.",
                    "set to missing",
                    redact,
                )
            )

    # foreign keys
    for c, parent in r.get("foreign_keys", {}).items():
        if c not in cols or parent not in tables:
            continue
        pkey = parent_keys.get(parent)
        if pkey is None or pkey not in tables[parent].columns:
            raise ConfigError(
                f"Cannot check {name}.{c} against '{parent}': the rules for '{parent}' name no "
                f"'key' column present in that table (columns: {list(tables[parent].columns)})."
            )
        child = _ids(df[c])
        known = pd.Series(text_isin(child, _ids(tables[parent][pkey])), index=child.index)
        orphan = child.notna() & ~known & ~_blank(df[c])
        if orphan.any():
            out.append(
                _finding(
                    name,
                    c,
                    "orphan_key",
                    "warning",
                    orphan,
                    df,
                    f"{int(orphan.sum()):,} row(s) refer to a {c} that is not in {parent} "
                    f"({child[orphan].nunique():,} distinct value(s)).",
                    "drop these rows",
                    redact,
                )
            )

    # returns
    amount = r.get("returns")
    if amount in cols:
        neg = (pd.to_numeric(df[amount], errors="coerce") < 0).fillna(False)
        if neg.any():
            out.append(
                _finding(
                    name,
                    amount,
                    "negative_amount",
                    "info",
                    neg,
                    df,
                    f"{int(neg.sum()):,} negative amount(s) in {amount}: returns, expected.",
                    "keep; flag as is_return (net spend subtracts them)",
                    redact,
                )
            )
    return out


FINDING_COLUMNS = ["source", "column", "check", "severity", "n_rows", "share", "note", "action"]
"""The columns of a :func:`quality_report` a reader sees (:func:`show_findings`)."""

NO_FINDINGS = "No data-quality problems found: every check of the rules passed."


def show_findings(report: pd.DataFrame) -> None:
    """Show a :func:`quality_report` to the reader of a notebook: its :data:`FINDING_COLUMNS`
    as a table whose notes and actions name columns in words as the Column cell does
    (:func:`findings_for_readers`), or, without any finding, the sentence :data:`NO_FINDINGS`
    (not an empty table)."""
    from IPython.display import display

    from crmlab.narrative import present, say

    if report.empty:
        say(NO_FINDINGS)
    else:
        display(present(findings_for_readers(report)))


def show_cleaning_notes(notes: Sequence[str]) -> None:
    """Say what cleaning changed (the notes of :func:`clean_tables` or the engine's), one item
    each, column names in words ("out-of-range value(s) in checkout speed", not
    ``checkout_speed``); "No changes were needed." without any."""
    from crmlab.narrative import say

    items = [in_words(n) for n in notes]
    say("\n".join(f"- {n}" for n in items) or "No changes were needed.")


def worth_charting(report: pd.DataFrame) -> bool:
    """Whether a :func:`quality_report` deserves its chart
    (:func:`crmlab.charts.customers.plot_quality_findings`): the chart compares findings, so it
    needs at least two; one finding, or none, the table says in full."""
    return len(report) >= 2


FEW_SHARE = 0.05
"""A fault touching at most this share of a table's rows is "few" in :func:`verdict`."""


def verdict(report: pd.DataFrame) -> str:
    """The data-quality answer of a stage, in one paragraph, from a :func:`quality_report`.

    Faults are the findings of severity ``error`` (rows that cannot be used as they are) and
    ``warning`` (fixed by cleaning); ``info`` findings (returns, blanks where they are
    expected) are no faults. The faults are called few when none touches more than
    :data:`FEW_SHARE` of its table's rows (``share``); else the largest is named with its share
    and the reader is asked to have the client's data owner explain it before relying on the
    results (a fault of that size often means an incomplete or wrongly mapped export). The
    count is of the same table the stage shows and records (``data.quality_findings``): when
    some findings are notes, the paragraph says "20 of the 24 findings" and closes by naming
    the other 4 as notes that are kept, so the two counts never disagree unexplained."""
    from crmlab.narrative import pct

    faults = report[report["severity"].isin(["error", "warning"])]
    if faults.empty:
        return "No faults were found: every check of the rules passed" + (
            "; what the checks noted is expected and kept." if len(report) else "."
        )
    worst = faults.loc[faults["share"].fillna(0.0).idxmax()]  # no share: an empty table
    largest = in_words(worst["note"]).rstrip(".")
    if pd.notna(worst["share"]):
        largest += f" ({pct(worst['share'])} of the {worst['source']} rows)"
    errors = faults[faults["severity"] == "error"]
    dropped = (
        f" {len(errors)} of them {'is an error' if len(errors) == 1 else 'are errors'}: "
        f"{int(errors['n_rows'].sum()):,} row(s) that cannot be used as they are, so the rule "
        "drops them."
        if len(errors)
        else ""
    )
    n_notes = len(report) - len(faults)
    counted = (
        f"{len(faults)} of the {len(report)} findings" if n_notes else f"{len(faults)} finding(s)"
    )
    notes = (
        f" The other {n_notes} finding(s) are notes (severity info: expected, such as returns) "
        "and are kept."
        if n_notes
        else ""
    )
    if not worst["share"] > FEW_SHARE:  # also when no share is known
        return (
            f"The faults found are few: {counted}, none touching more than "
            f"{pct(FEW_SHARE, 0)} of a table's rows - the largest: {largest}. Each is fixed by "
            f"the stated rule above.{dropped}{notes}"
        )
    return (
        f"The faults are not few: {counted}, the largest: {largest}. Each is "
        f"handled by the stated rule above, but have the client's data owner explain the "
        f"largest before relying on the results: a fault of this size often means an incomplete "
        f"or wrongly mapped export.{dropped}{notes}"
    )


def findings_for_readers(report: pd.DataFrame) -> pd.DataFrame:
    """The :data:`FINDING_COLUMNS` of a :func:`quality_report` with the notes naming the
    finding's column in words ("5 missing value(s) in overall satisfaction", "refer to a
    customer id that is not in customers") and the returns' action without the flag column's
    name ("keep; mark as returns ..."); the report itself keeps the column names."""
    out = report[FINDING_COLUMNS].copy()
    out["note"] = out["note"].map(in_words)
    out["action"] = out["action"].astype("str").str.replace("flag as is_return", "mark as returns")
    return out


def quality_report(
    tables: Mapping[str, pd.DataFrame], rules: Mapping[str, Mapping] | None = RETAIL_RULES
) -> pd.DataFrame:
    """Check tables against rules; return one row per finding (nothing is changed).

    Parameters
    ----------
    tables
        ``{name: DataFrame}``, e.g. ``{"customers": ..., "transactions": ...}``. Row labels are
        reported as given (for ``pd.read_csv`` with the default index, row 0 is line 2 of the
        file).
    rules
        Per-table rules (see the module docstring); :data:`RETAIL_RULES` by default. Tables
        without rules get the generic checks (missing values, exact duplicate rows). Rules for
        absent tables are ignored.

    Returns
    -------
    DataFrame
        Columns ``source, column, check, severity, n_rows, share, example_rows, example_values,
        note, action``. ``share`` = ``n_rows`` / rows in the table. ``severity`` is ``error``
        (must be fixed or the row dropped), ``warning`` (fixed by :func:`clean_tables`) or
        ``info`` (expected, kept). ``example_rows`` lists up to 5 row labels; values of
        personal-data columns (see :func:`crmlab.privacy.detect_pii_columns`) are shown as
        ``"<redacted>"``. Empty (with these columns) when nothing is found.
    """
    rules = _check_rules(rules)
    parent_keys = {t: r["key"] for t, r in rules.items() if r.get("key")}
    rows: list[dict] = []
    for name, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"quality_report: table '{name}' is not a DataFrame.")
        rows += _table_findings(name, df, rules.get(name, {}), tables, parent_keys)
    report = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    report["n_rows"] = report["n_rows"].astype("int64")
    report["share"] = report["share"].astype("float64")
    return report.reset_index(drop=True)


@dataclass(frozen=True)
class DuplicateIds:
    """Duplicated ids of one table (:func:`duplicate_ids`); the masks are aligned on its rows.

    ``ids`` ids occur on more than one row, ``rows`` rows in all; of them ``differing_ids`` ids
    with differing contents, on ``differing_rows`` rows (exact copies counted once: the rows
    left once the copies are dropped). The other ``ids - differing_ids`` ids repeat only as
    exact copies. ``n_copies`` rows of the whole table are exact copies of an earlier row.
    """

    key: str | None
    ids: int
    rows: int
    differing_ids: int
    differing_rows: int
    n_copies: int
    copies: pd.Series
    """True on each row that is an exact copy of an earlier row (the first is not marked)."""
    differing: pd.Series
    """True on the ``differing_rows`` rows: the rows, copies dropped, of ids with differing
    contents (the first row of each such id included)."""


def duplicate_ids(df: pd.DataFrame, key: str | None) -> DuplicateIds:
    """Count duplicated ids and exact copies - the one definition used by the report's
    data-quality table (:func:`quality_report`: ``duplicate_rows`` counts ``n_copies``,
    ``duplicate_key`` counts ``differing_rows`` rows of ``differing_ids`` ids) and by
    ``crmlab validate`` (:func:`crmlab.schemas.canonical_schema`: 'exact duplicate rows' and
    'key ... is not unique', the same numbers), on the same table.

    * an *exact copy* is a row equal to an earlier row in every column;
    * an id *occurs more than once* when it is on more than one row (ids compared as text,
      1001 = 1001.0 = '1001'; rows without an id are not counted): ``ids`` ids, ``rows`` rows;
    * of them, an id *with differing contents* is one still on more than one row once exact
      copies are dropped: ``differing_ids`` ids on ``differing_rows`` rows. An id repeated only
      by exact copies is counted once, as copies (``02_data`` drops the copies first, then the
      rows after the first of each id: ``n_copies + differing_rows - differing_ids`` rows).

    E.g. ids A (one row), B (a row and its copy), C (two different rows and a copy of one):
    ids 2, rows 5; differing_ids 1 (C), differing_rows 2; n_copies 2.
    """
    copies = df.duplicated(keep="first")
    none = pd.Series(False, index=df.index)
    if key is None:
        return DuplicateIds(None, 0, 0, 0, 0, int(copies.sum()), copies, none)
    k = _ids(df[key])
    repeated = k.notna() & k.duplicated(keep=False)
    distinct = k[~copies]
    shared = distinct.notna() & distinct.duplicated(keep=False)
    differing = none.copy()
    differing[distinct.index[shared]] = True
    return DuplicateIds(
        key,
        int(k[repeated].nunique()),
        int(repeated.sum()),
        int(distinct[shared].nunique()),
        int(shared.sum()),
        int(copies.sum()),
        copies,
        differing,
    )


# --------------------------------------------------------------------------------------------
# cleaning steps: each returns (clean_df, notes)
# --------------------------------------------------------------------------------------------
def drop_exact_duplicates(df: pd.DataFrame, name: str = "table") -> tuple[pd.DataFrame, list[str]]:
    """Drop rows that are exact copies of an earlier row (the first copy is kept)."""
    dup = df.duplicated(keep="first")
    n = int(dup.sum())
    if n == 0:
        return df.copy(), []
    return df[~dup].copy(), [f"{name}: {n:,} exact duplicate row(s) dropped (first copy kept)."]


def drop_duplicate_keys(
    df: pd.DataFrame, key: str, name: str = "table"
) -> tuple[pd.DataFrame, list[str]]:
    """Keep only the first row of each ``key`` value (rows with a missing key are kept)."""
    k = _ids(df[key])
    dup = k.notna() & k.duplicated(keep="first")
    n = int(dup.sum())
    if n == 0:
        return df.copy(), []
    return df[~dup].copy(), [
        f"{name}: {n:,} row(s) with an already-seen {key} dropped (first row of each key kept)."
    ]


def parse_dates(
    df: pd.DataFrame, cols: Sequence[str], name: str = "table", fmt: str | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Convert ``cols`` to datetimes (:func:`to_datetime`); unparseable values become missing."""
    out = df.copy()
    notes = []
    for c in cols:
        parsed = to_datetime(out[c], fmt)
        bad = int((parsed.isna() & ~_blank(out[c])).sum())
        out[c] = parsed
        if bad:
            notes.append(f"{name}: {bad:,} unparseable date(s) in {c} set to missing.")
    return out, notes


def parse_yes_no(
    df: pd.DataFrame, cols: Sequence[str], name: str = "table"
) -> tuple[pd.DataFrame, list[str]]:
    """Convert yes/no columns to nullable booleans.

    Accepted (case-insensitive): yes/no, y/n, true/false, 1/0, 是/否. Anything else becomes
    missing (with a note).
    """
    out = df.copy()
    notes = []
    for c in cols:
        if pd.api.types.is_bool_dtype(out[c]):
            continue
        tokens = _bool_token(out[c])
        mapped = tokens.map(YES_NO)
        bad = int((mapped.isna() & ~_blank(out[c])).sum())
        out[c] = mapped.astype("boolean")
        if bad:
            notes.append(f"{name}: {bad:,} value(s) in {c} that are not yes/no set to missing.")
    return out, notes


def set_out_of_range_to_missing(
    df: pd.DataFrame, ranges: Mapping[str, Sequence], name: str = "table"
) -> tuple[pd.DataFrame, list[str]]:
    """Set values outside the inclusive range ``[low, high]`` (or not numbers) to missing.

    ``ranges`` maps column names or glob patterns to ``[low, high]`` (``None`` = open end).
    The columns become numeric (float if any value is missing).
    """
    expanded, absent = _expand(ranges, df.columns)
    if absent:
        raise DataError(
            f"{name}: range rule(s) for {absent} match no column (columns: {list(df.columns)}). "
            "Rename the column in the export or edit the rules."
        )
    out = df.copy()
    notes = []
    for c, (lo, hi) in expanded.items():
        bad, num = _out_of_range_mask(out[c], lo, hi)
        num = num.mask(bad)
        if not num.isna().any() and (num % 1 == 0).all():
            num = num.astype("int64")
        out[c] = num
        if bad.any():
            notes.append(
                f"{name}: {int(bad.sum()):,} out-of-range value(s) in {c} "
                f"(allowed {_range_text(lo, hi)}) set to missing."
            )
    return out, notes


def set_invalid_categories_to_missing(
    df: pd.DataFrame, categories: Mapping[str, Sequence], name: str = "table"
) -> tuple[pd.DataFrame, list[str]]:
    """Set values outside each column's allowed set to missing."""
    out = df.copy()
    notes = []
    for c, allowed in categories.items():
        allowed_set = {str(a) for a in allowed}
        bad = ~_blank(out[c]) & ~_normalize_ids(out[c]).isin(allowed_set)
        if bad.any():
            out[c] = out[c].mask(bad)
            notes.append(
                f"{name}: {int(bad.sum()):,} value(s) in {c} not in {sorted(allowed_set)} "
                "set to missing."
            )
    return out, notes


def drop_missing(
    df: pd.DataFrame, cols: Sequence[str], name: str = "table"
) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows with a missing (or blank) value in any of ``cols``; one note per column."""
    out = df
    notes = []
    for c in cols:
        miss = _blank(out[c])
        if miss.any():
            notes.append(f"{name}: {int(miss.sum()):,} row(s) with missing {c} dropped.")
            out = out[~miss]
    return out.copy(), notes


def text_isin(values: pd.Series, ids: pd.Series) -> np.ndarray:
    """Boolean array: each of ``values`` (as text) is one of ``ids`` (missing: False), by
    pyarrow's hash lookup (pandas' ``isin`` on text columns is many times slower)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pc.unique(pa.array(ids.dropna().astype("str")))
    found = pc.is_in(pa.array(values.astype("str")), value_set=value_set)
    return np.asarray(pc.fill_null(found, False), dtype=bool)


def drop_orphans(
    df: pd.DataFrame,
    fk: str,
    parent_ids: pd.Series | Sequence,
    name: str = "table",
    parent: str = "parent table",
) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows whose ``fk`` value is not among ``parent_ids`` (missing ``fk`` is kept)."""
    child = _ids(df[fk])
    known = pd.Series(text_isin(child, _ids(pd.Series(parent_ids))), index=child.index)
    orphan = child.notna() & ~known & ~_blank(df[fk])
    n = int(orphan.sum())
    if n == 0:
        return df.copy(), []
    return df[~orphan].copy(), [
        f"{name}: {n:,} row(s) whose {fk} is not in {parent} dropped "
        f"({child[orphan].nunique():,} distinct unknown id(s))."
    ]


def flag_returns(
    df: pd.DataFrame, amount_col: str = "amount", name: str = "table", flag_col: str = "is_return"
) -> tuple[pd.DataFrame, list[str]]:
    """Add boolean column ``flag_col`` = amount < 0 (returns are kept: net spend nets them)."""
    out = df.copy()
    out[flag_col] = (pd.to_numeric(out[amount_col], errors="coerce") < 0).fillna(False)
    out[flag_col] = out[flag_col].astype(bool)
    n = int(out[flag_col].sum())
    notes = [
        f"{name}: {n:,} return(s) (negative {amount_col}) kept and marked as returns "
        "(counted after the drops above)."
    ]
    return out, notes if n else []


def clean_tables(
    tables: Mapping[str, pd.DataFrame], rules: Mapping[str, Mapping] | None = RETAIL_RULES
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Apply the documented fixes to every table; return ``(clean tables, notes)``.

    Order, per table (tables with a ``key`` that others refer to are cleaned first):

    1. drop exact duplicate rows (keep the first copy);
    2. drop rows with an already-seen ``key`` (keep the first);
    3. parse ``dates`` (unparseable -> missing) and ``booleans`` (not yes/no -> missing);
    4. set out-of-``ranges`` values and invalid ``categories`` to missing;
    5. drop rows missing a ``required`` column;
    6. drop rows whose ``foreign_keys`` value is not in the (cleaned) parent table; missing
       foreign keys (e.g. anonymous survey answers) are kept;
    7. keep ``returns`` (negative amounts) and flag them in a boolean ``is_return`` column.

    Every change is reported in ``notes``; tables without rules are returned unchanged.
    """
    rules = _check_rules(rules)
    order = sorted(
        tables,
        key=lambda t: (
            0 if any(t in r.get("foreign_keys", {}).values() for r in rules.values()) else 1
        ),
    )
    clean: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    for name in order:
        df = tables[name]
        r = rules.get(name)
        if not r:
            clean[name] = df.copy()
            continue
        step_notes: list[str] = []
        df, n = drop_exact_duplicates(df, name)
        step_notes += n
        if r.get("key"):
            _require(df, [r["key"]], name)
            df, n = drop_duplicate_keys(df, r["key"], name)
            step_notes += n
        _require(df, r.get("dates", []), name)
        df, n = parse_dates(df, r.get("dates", []), name)
        step_notes += n
        _require(df, r.get("booleans", []), name)
        df, n = parse_yes_no(df, r.get("booleans", []), name)
        step_notes += n
        df, n = set_out_of_range_to_missing(df, r.get("ranges", {}), name)
        step_notes += n
        _require(df, list(r.get("categories", {})), name)
        df, n = set_invalid_categories_to_missing(df, r.get("categories", {}), name)
        step_notes += n
        _require(df, r.get("required", []), name)
        df, n = drop_missing(df, r.get("required", []), name)
        step_notes += n
        for fk, parent in r.get("foreign_keys", {}).items():
            if fk not in df.columns or parent not in tables:
                continue
            pkey = rules.get(parent, {}).get("key")
            if pkey is None:
                raise ConfigError(f"Rules for '{parent}' need a 'key' to check {name}.{fk}.")
            parent_df = clean.get(parent, tables[parent])
            df, n = drop_orphans(df, fk, parent_df[pkey], name, parent)
            step_notes += n
        if r.get("returns") and r["returns"] in df.columns:
            df, n = flag_returns(df, r["returns"], name)
            step_notes += n
        clean[name] = df
        notes += step_notes
    return {name: clean[name] for name in tables}, notes


def _require(df: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise DataError(
            f"{name}: column(s) {absent} named in the rules are missing "
            f"(columns: {list(df.columns)}). Rename them in the export or edit the rules."
        )
