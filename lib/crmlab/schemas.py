"""The canonical input schema of each case, its pandera checks, and the problem table.

A case reads a fixed set of *sources* (:data:`crmlab.sources.CASE_SOURCES`), each a table with
*canonical* column names. A client export is mapped onto them by a case config
(:mod:`crmlab.config`) and checked here, before any notebook runs, in two passes:

1. **Raw pass** (:func:`raw_schema`), on the client's columns as read: every mapped column is
   present, its values can be read as the canonical type (numbers, dates, yes/no, months),
   numbers fall in the allowed range (on the client's scale), values fall in the allowed set.
2. **Canonical pass** (:func:`canonical_schema`), on the coerced canonical table: required
   values present, keys unique, foreign keys found in the parent table.

Both passes are :class:`pandera.pandas.DataFrameSchema` objects validated lazily, so every
problem is collected at once; :func:`problem_table` turns pandera's failure cases into one row per
(source, column, rule) with the number of rows, example values, row numbers and a hint.

Severity
    ``error`` blocks the run; ``warning`` is reported and left to the case's cleaning step
    (``02_data``: duplicates dropped, out-of-range values set to missing, orphans dropped).
    A missing column is always an error; so is a value that cannot be read in a column where a
    blank has a meaning (:attr:`Field.blank_means`: a blank closure date means the account is
    still open, so an unreadable one set to missing would turn a closed account into an open
    one). Any other rule is an error when it fails on at least :data:`BLOCKING_SHARE` of the rows
    it applies to (10%: that many failures means a wrong mapping, format or scale, not a few
    typing slips).

Row numbers
    ``rows`` are the numbers a person finds the row by: for CSV and Excel the line / sheet row
    (the header is row ``header_row``, 1 by default, and the first data row the one after it); for
    Parquet files and SQL queries the row position counting from 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.canonical import RETAIL_DRIVERS
from crmlab.errors import ConfigError
from crmlab.quality import duplicate_ids

__all__ = [
    "BLOCKING_SHARE",
    "CASE_SCHEMAS",
    "KINDS",
    "PROBLEM_COLUMNS",
    "Field",
    "Hint",
    "SourceSpec",
    "Variant",
    "canonical_schema",
    "case_schema",
    "format_problems",
    "problem_table",
    "raw_schema",
]

BLOCKING_SHARE = 0.10
"""A rule failing on at least this share of the rows it applies to blocks the run."""

KINDS = ("id", "text", "category", "number", "integer", "flag", "rating", "date", "month", "bool")
"""Canonical value kinds.

``id``: identifier kept as text (``1001``, ``1001.0`` and ``"1001"`` are the same id);
``text``/``category``: text (a category may have an allowed set); ``number``: float;
``integer``: whole number (int64, float64 if some are missing); ``flag``: 0/1 (also read from
yes/no words); ``rating``: a number on a rating scale; ``date``: a calendar date (datetime64);
``month``: a ``"YYYY-MM"`` label; ``bool``: yes/no (pandas ``boolean``).
"""


@dataclass(frozen=True)
class Field:
    """One canonical column of a source.

    Attributes
    ----------
    name : str
        Canonical column name, as the notebooks use it.
    kind : str
        One of :data:`KINDS`.
    required : bool
        The case's notebooks need the column: a missing column blocks the run.
    missing_ok : bool
        For a required column: blank values are expected (e.g. days to resolve an open
        complaint). Otherwise a blank value in a required column is reported (``02_data`` drops
        the row when the case's cleaning rules require the value).
    range : (low, high) or None
        Inclusive allowed range of numbers on the canonical scale (``None`` = open end).
    categories : tuple of str or None
        Allowed values (after ``values:`` mapping).
    help : str
        What the column holds (shown in hints and in ``crmlab new`` starter configs).
    blank_means : str
        What a blank value means, worded to follow "a blank <name> means" (closure_date: "the
        account is still open"). A value of such a column that cannot be read is an error at
        any share (validate blocks the run): set to missing it would silently take that meaning.
    """

    name: str
    kind: str
    required: bool = False
    range: tuple[float | None, float | None] | None = None
    categories: tuple[str, ...] | None = None
    help: str = ""
    missing_ok: bool = False
    blank_means: str = ""


@dataclass(frozen=True)
class Variant:
    """Another shape of a source: when ``trigger`` is present and not all of ``unless`` are, the
    source's required columns are ``required`` instead of the fields marked ``required``.

    Example: a finance customer table with a ``churned`` flag and not both ``open_date`` and
    ``closure_date`` (one row per customer of a telecom-style extract, or a bank's list with
    opening dates but no closure dates) needs ``customer_id`` and ``churned`` only.
    """

    name: str
    trigger: str
    required: tuple[str, ...]
    unless: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """The canonical schema of one source.

    Attributes
    ----------
    name : str
        Source name (file stem in the data folder).
    fields : tuple of Field
        Canonical columns in output order.
    key : str or None
        Column whose values must be unique.
    key_generated : bool
        If the export has no key column, ingestion numbers the rows (``<source>-000001``).
    unique : tuple of str
        Columns that together must be unique (e.g. one snapshot per customer and month).
    foreign_keys : dict
        Column -> parent source; values must be among the parent's key (blank allowed).
    drivers : bool
        The source may carry rating *drivers* (the retail survey).
    help : str
        One line on what the table is.
    variants : tuple of Variant
        Other shapes of the source with their own required columns (see :class:`Variant`).
    required : bool
        The case cannot run without this source (the finance case's customers); other sources
        are optional.
    """

    name: str
    fields: tuple[Field, ...]
    key: str | None = None
    key_generated: bool = False
    unique: tuple[str, ...] = ()
    foreign_keys: Mapping[str, str] = field(default_factory=dict)
    drivers: bool = False
    help: str = ""
    variants: tuple[Variant, ...] = ()
    required: bool = False

    def variant(self, present) -> Variant | None:
        """The variant that applies to a table with the canonical columns ``present``, if any."""
        present = set(present)
        for v in self.variants:
            if v.trigger in present and not (v.unless and set(v.unless) <= present):
                return v
        return None

    def required_names(self, present) -> set[str]:
        """The columns a table with the canonical columns ``present`` must have."""
        v = self.variant(present)
        if v is not None:
            return set(v.required)
        return {f.name for f in self.fields if f.required}

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


RETAIL_DRIVER_NAMES = RETAIL_DRIVERS
"""Standard driver-rating columns of the retail survey (1-5), as in :mod:`crmlab.drivers`."""

DRIVER_RANGE = (1, 5)
SATISFACTION_ALIAS = {"satisfaction": "overall_satisfaction"}
"""Config names accepted for canonical columns (``satisfaction:`` = ``overall_satisfaction``)."""

_R = "retail_satisfaction"
_F = "finance_churn"

CASE_SCHEMAS: dict[str, dict[str, SourceSpec]] = {
    _R: {
        "customers": SourceSpec(
            "customers",
            (
                Field("customer_id", "id", True, help="customer number"),
                Field("signup_date", "date", help="date the customer registered"),
                Field("region", "text", help="sales region"),
                Field("home_store", "id", help="store the customer mostly visits"),
                Field("age_band", "text", help="age group, e.g. 25-34"),
                Field("gender", "text", help="gender"),
                Field("channel", "text", help="main channel: store, online, app"),
                Field("loyalty_member", "bool", help="member of the loyalty programme (yes/no)"),
            ),
            key="customer_id",
            help="one row per customer (the CRM customer list)",
        ),
        "transactions": SourceSpec(
            "transactions",
            (
                Field("transaction_id", "id", help="order / receipt number"),
                Field("customer_id", "id", True, help="customer number of the buyer"),
                Field("store_id", "id", help="store of the purchase"),
                Field("date", "date", True, help="purchase date"),
                Field("amount", "number", True, help="amount paid (negative = return)"),
                Field("items", "integer", help="number of items"),
                Field("promotion", "flag", range=(0, 1), help="bought on promotion (1/0, yes/no)"),
                Field(
                    "cancelled",
                    "bool",
                    help="order was cancelled (yes/no): cancelled orders are dropped on import",
                ),
            ),
            key="transaction_id",
            key_generated=True,
            foreign_keys={"customer_id": "customers", "store_id": "stores"},
            help="one row per purchase (or return)",
        ),
        "survey": SourceSpec(
            "survey",
            (
                Field("response_id", "id", help="survey answer number"),
                Field("customer_id", "id", help="customer number (blank = anonymous)"),
                Field("store_id", "id", help="store the answer is about (pilot read-out)"),
                Field("date", "date", True, help="answer date"),
                Field("wave", "month", help="survey wave YYYY-MM (default: month of date)"),
                Field(
                    "overall_satisfaction",
                    "rating",
                    True,
                    range=(1, 5),
                    help="overall satisfaction rating (config name: satisfaction)",
                    missing_ok=True,
                ),
                Field(
                    "recommend", "rating", range=(0, 10), help="likelihood to recommend 0-10 (NPS)"
                ),
                *(
                    Field(d, "rating", range=DRIVER_RANGE, help="driver rating 1-5")
                    for d in RETAIL_DRIVER_NAMES
                ),
                Field("comment", "text", help="free-text comment"),
            ),
            key="response_id",
            key_generated=True,
            foreign_keys={"customer_id": "customers", "store_id": "stores"},
            drivers=True,
            help="one row per survey answer",
        ),
        "complaints": SourceSpec(
            "complaints",
            (
                Field("complaint_id", "id", help="complaint number"),
                Field("customer_id", "id", True, help="customer number"),
                Field("date", "date", True, help="date received"),
                Field("category", "text", help="complaint category"),
                Field("resolved", "bool", help="resolved (yes/no)"),
                Field(
                    "days_to_resolve",
                    "number",
                    range=(0, None),
                    help="days from receipt to resolution (blank if open)",
                ),
            ),
            key="complaint_id",
            key_generated=True,
            foreign_keys={"customer_id": "customers"},
            help="one row per complaint",
        ),
        "stores": SourceSpec(
            "stores",
            (
                Field("store_id", "id", True, help="store number"),
                Field("store_name", "text", help="store name"),
                Field("region", "text", help="region"),
                Field("opened_date", "date", help="opening date"),
            ),
            key="store_id",
            help="one row per store",
        ),
        "pilot": SourceSpec(
            "pilot",
            (
                Field("store_id", "id", True, help="store in the pilot"),
                Field(
                    "group",
                    "category",
                    True,
                    categories=("treatment", "control"),
                    help="pilot arm: treatment or control",
                ),
                Field("intervention", "text", help="what the treated stores do"),
                Field("start_date", "date", True, help="pilot start"),
                Field("end_date", "date", True, help="pilot end"),
            ),
            key="store_id",
            help="one row per store in the pilot",
        ),
    },
    _F: {
        "customers": SourceSpec(
            "customers",
            (
                Field("customer_id", "id", True, help="customer number"),
                Field("open_date", "date", True, help="date the relationship started"),
                Field(
                    "closure_date",
                    "date",
                    True,
                    missing_ok=True,
                    help="date all accounts closed (blank = open)",
                    blank_means="the account is still open",
                ),
                Field("age", "integer", range=(18, 120), help="age in years"),
                Field("region", "text", help="region / province"),
                Field(
                    "segment",
                    "category",
                    True,
                    categories=("mass", "affluent", "private"),
                    help="segment: mass, affluent or private",
                ),
                Field("products_held", "integer", True, (0, None), help="number of products"),
                Field("salary_deposit", "bool", help="salary paid into the bank (yes/no)"),
                Field("relationship_manager", "bool", help="has a relationship manager (yes/no)"),
                Field("digital_active", "bool", help="uses online / mobile banking (yes/no)"),
                Field(
                    "churned",
                    "flag",
                    range=(0, 1),
                    help="left (1/0, yes/no): a flag instead of dates (one row per customer)",
                ),
                Field(
                    "tenure_months",
                    "number",
                    range=(0, None),
                    help="months as a customer, to leaving or to the extract (with churned)",
                ),
            ),
            key="customer_id",
            help="one row per customer",
            variants=(
                Variant(
                    "flag",
                    "churned",
                    ("customer_id", "churned"),
                    unless=("open_date", "closure_date"),
                    help="a churned flag (and tenure_months) instead of opening/closure dates",
                ),
            ),
            required=True,
        ),
        "snapshots": SourceSpec(
            "snapshots",
            (
                Field("customer_id", "id", True, help="customer number"),
                Field("month", "month", True, help="month YYYY-MM"),
                Field("balance", "number", range=(0, None), help="balance at month end (CNY)"),
                Field("n_transactions", "integer", range=(0, None), help="transactions"),
                Field("logins", "integer", range=(0, None), help="online / app logins"),
                Field("fees_charged", "number", range=(0, None), help="fees charged (CNY)"),
                Field("fee_rise", "flag", range=(0, 1), help="fees were raised this month (1/0)"),
                Field("rate_change", "number", help="change of the deposit rate (points)"),
                Field("service_contacts", "integer", range=(0, None), help="service contacts"),
                Field("complaints", "integer", range=(0, None), help="complaints this month"),
            ),
            unique=("customer_id", "month"),
            foreign_keys={"customer_id": "customers"},
            help="one row per customer and month",
        ),
        "pilot": SourceSpec(
            "pilot",
            (
                Field("customer_id", "id", True, help="customer in the retention pilot"),
                Field("group", "category", True, help="pilot arm (one must be 'control')"),
                Field("offer_date", "date", True, help="date of the offer (or of assignment)"),
            ),
            key="customer_id",
            foreign_keys={"customer_id": "customers"},
            help="one row per customer in the retention-offer pilot",
        ),
    },
}
"""case -> source -> :class:`SourceSpec` (the columns the case's notebooks read)."""


def case_schema(case: str) -> dict[str, SourceSpec]:
    """The sources of ``case``; a :class:`ConfigError` naming the known cases if unknown."""
    try:
        return CASE_SCHEMAS[case]
    except KeyError:
        raise ConfigError(
            f"case: '{case}' has no input schema; known cases: {', '.join(CASE_SCHEMAS)}."
        ) from None


# --------------------------------------------------------------------------------------------
# pandera schemas
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hint:
    """A hint worded by severity: ``warning`` when the rows are left to the import or to
    ``02_data`` (the values are set to missing, the rows dropped, ...), ``error`` when the problem
    blocks the run (then nothing is set to missing or dropped: the mapping or the export must be
    fixed).

    ``examples`` maps a placeholder to example values: ``{eg}`` in the text becomes
    `` (e.g. 'x', 'y')``, or nothing when the column's values are personal data."""

    warning: str
    error: str
    examples: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def text(self, blocking: bool, redact: bool = False) -> str:
        out = self.error if blocking else self.warning
        for name, values in self.examples.items():
            eg = (
                ""
                if redact or not values
                else " (e.g. " + ", ".join(f"'{x}'" for x in values) + ")"
            )
            out = out.replace("{" + name + "}", eg)
        return out


def hint_text(hint: str | Hint, blocking: bool, redact: bool = False) -> str:
    """The words of ``hint`` for a problem that blocks the run (``blocking``) or not."""
    return hint.text(blocking, redact) if isinstance(hint, Hint) else hint


@dataclass(frozen=True)
class Rule:
    """What a check means for people: shown in the problem table."""

    source: str
    column: str  # the column as the user knows it (client name, with the canonical one)
    rule: str
    hint: str | Hint
    file: str = ""
    blocking_always: bool = False
    redact: bool = False


@dataclass
class SchemaBundle:
    """A pandera schema plus the human meaning of each of its checks.

    ``rules`` maps (pandera column, pandera check name) -> :class:`Rule`; ``denominators`` maps
    the same keys to the number of rows the check applies to (for the blocking share).
    """

    schema: object
    rules: dict[tuple[str, str], Rule]
    denominators: dict[tuple[str, str], int]
    row_offset: int = 2  # row label 0 -> file row 2 (header on row 1)
    redact_columns: frozenset = frozenset()


def _pa():
    import pandera.pandas as pa

    return pa


def make_check(fn: Callable[[pd.Series], pd.Series], name: str):
    """A vectorized pandera check: ``fn(series) -> boolean Series`` (True = valid).

    Missing values are skipped (pandera's ``ignore_na``): missingness is a separate rule.
    """
    return _pa().Check(fn, name=name, element_wise=False, ignore_na=True)


def raw_schema(
    source: str,
    file: str,
    columns: Mapping[str, Sequence[tuple]],
    required_absent: Mapping[str, str],
    n_rows: Mapping[str, int],
    row_offset: int = 2,
    redact: Sequence[str] = (),
    absent_hints: Mapping[str, str] | None = None,
) -> SchemaBundle:
    """The raw-pass schema of one source (see the module docstring).

    Parameters
    ----------
    columns
        Client column -> list of ``(check name, fn, rule text, hint)``, optionally with a fifth
        item ``True`` for a check that blocks the run at any share (:attr:`Field.blank_means`);
        every listed column must be present (it was named in the config or matched by name).
    absent_hints
        Hint for a listed column that is absent (e.g. the near names in the file).
    required_absent
        Column names that must be present but are not (the expected client name -> hint);
        each gives a ``missing column`` problem.
    n_rows
        Client column -> number of non-blank values (the denominator of the blocking share).
    """
    pa = _pa()
    cols = {}
    rules: dict[tuple[str, str], Rule] = {}
    denominators: dict[tuple[str, str], int] = {}
    for col, checks in columns.items():
        pa_checks = []
        for name, fn, text, hint, *always in checks:
            pa_checks.append(make_check(fn, name))
            rules[(col, name)] = Rule(
                source, col, text, hint, file, bool(always and always[0]), redact=col in redact
            )
            denominators[(col, name)] = n_rows.get(col, 0)
        cols[col] = pa.Column(checks=pa_checks, nullable=True, required=True)
        rules[(col, "column_in_dataframe")] = Rule(
            source,
            col,
            "column named in the config is missing",
            (absent_hints or {}).get(col, ""),
            file,
            True,
        )
    for col, hint in required_absent.items():
        cols[col] = pa.Column(nullable=True, required=True)
        rules[(col, "column_in_dataframe")] = Rule(
            source, col, "required column is missing", hint, file, True
        )
    return SchemaBundle(
        pa.DataFrameSchema(cols, strict=False, name=source),
        rules,
        denominators,
        row_offset,
        frozenset(redact),
    )


def canonical_schema(
    spec: SourceSpec,
    df: pd.DataFrame,
    file: str,
    labels: Mapping[str, str],
    parents: Mapping[str, pd.Series],
    row_offset: int = 2,
    redact: Sequence[str] = (),
) -> SchemaBundle:
    """The canonical-pass schema of one coerced source table.

    Checks required values present (``not_nullable``), the key unique (failing: the rows of
    ids on more than one row with differing contents, exact copies counted once - the
    definition and numbers of the report's data-quality table, :func:`crmlab.quality.duplicate_ids`;
    the copies themselves are the import's 'exact duplicate rows'), the ``unique`` columns
    unique together, and each foreign key among ``parents[parent source]`` (the parent's key
    values, normalized text). ``labels`` maps canonical column -> how the user knows it
    (``"交易日期 (date)"``).
    """
    pa = _pa()
    cols = {}
    rules: dict[tuple[str, str], Rule] = {}
    denominators: dict[tuple[str, str], int] = {}
    n = len(df)
    required = spec.required_names(df.columns)
    for f in spec.fields:
        if f.name not in df.columns:
            continue
        label = labels.get(f.name, f.name)
        checks = []
        if spec.key == f.name:
            dup = duplicate_ids(df, f.name)
            checks.append(make_check(_not_in(dup.differing), "unique_key"))
            counts = _duplicate_ids_words(dup)
            rules[(f.name, "unique_key")] = Rule(
                spec.name,
                label,
                f"key {f.name} is not unique",
                Hint(
                    f"{counts}; 02_data keeps the first row of each key; if many rows repeat, "
                    "the key is probably mapped to the wrong column",
                    f"{counts}; this many repeated keys mean {f.name} is probably mapped to the "
                    f"wrong column (check columns: {spec.name}: {f.name}:), or the export holds "
                    "several versions of a record",
                ),
                file,
                redact=f.name in redact,
            )
            denominators[(f.name, "unique_key")] = int(df[f.name].notna().sum())
        parent = spec.foreign_keys.get(f.name)
        if parent is not None and parent in parents:
            known = set(parents[parent].dropna())
            checks.append(make_check(lambda s, known=known: s.isin(known), f"in_{parent}"))
            rules[(f.name, f"in_{parent}")] = Rule(
                spec.name,
                label,
                f"{f.name} not found in {parent}",
                Hint(
                    f"02_data drops these rows; if most rows fail, {f.name} is mapped to a "
                    f"different kind of number in {spec.name} than in {parent}",
                    f"this many unknown values mean {f.name} is probably mapped to a different "
                    f"kind of number in {spec.name} than in {parent}, or {parent} is not the "
                    "full list: check both mappings and exports",
                ),
                file,
                redact=f.name in redact,
            )
            denominators[(f.name, f"in_{parent}")] = int(df[f.name].notna().sum())
        not_null = f.name in required and not f.missing_ok
        if not_null:
            rules[(f.name, "not_nullable")] = Rule(
                spec.name,
                label,
                f"required value {f.name} is missing",
                Hint(
                    "rows without it cannot be used: 02_data drops them",
                    "rows without it cannot be used; this many blanks mean a column that is "
                    f"mostly empty is mapped (check columns: {spec.name}: {f.name}:), or the "
                    "export left it out",
                ),
                file,
            )
            denominators[(f.name, "not_nullable")] = n
        cols[f.name] = pa.Column(checks=checks, nullable=not not_null, required=False)
    df_checks = []
    if spec.unique and all(c in df.columns for c in spec.unique):
        together = list(spec.unique)
        df_checks.append(
            pa.Check(
                lambda d: ~d[together].duplicated(keep="first") | d[together].isna().any(axis=1),
                name="unique_together",
            )
        )
        rules[("*", "unique_together")] = Rule(
            spec.name,
            " + ".join(together),
            f"{' + '.join(together)} not unique together",
            Hint(
                "exact copies are dropped by 02_data; otherwise keep one row per "
                + " and ".join(together),
                "keep one row per "
                + " and ".join(together)
                + " in the export; this many repeats usually mean a wrong mapping of "
                + " or ".join(together),
            ),
            file,
        )
        denominators[("*", "unique_together")] = n
    return SchemaBundle(
        pa.DataFrameSchema(cols, checks=df_checks, strict=False, name=spec.name),
        rules,
        denominators,
        row_offset,
        frozenset(redact),
    )


def _not_in(mask: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """A check function: valid where ``mask`` (aligned on the table's rows) is False."""
    return lambda s: ~mask.reindex(s.index, fill_value=False)


def _duplicate_ids_words(d) -> str:
    """The counts of :func:`crmlab.quality.duplicate_ids` in words, as the key problem's hint
    starts: the rows counted are those of ids with differing contents (exact copies counted
    once), the number the report's data-quality table gives as ``duplicate_key``."""
    words = (
        f"{d.differing_ids:,} {d.key} value(s) on {d.differing_rows:,} rows with differing "
        "contents (exact copies counted once, as in the report's data-quality table)"
    )
    only_copies = d.ids - d.differing_ids
    if only_copies:
        words += (
            f"; {only_copies:,} more repeat only as exact copies (counted under exact duplicate "
            "rows)"
        )
    return words


# --------------------------------------------------------------------------------------------
# problem table
# --------------------------------------------------------------------------------------------
PROBLEM_COLUMNS = [
    "source",
    "file",
    "column",
    "rule",
    "severity",
    "n_rows",
    "examples",
    "rows",
    "hint",
]
"""Columns of the problem table: ``n_rows`` rows fail ``rule``; ``examples`` (up to 3 distinct
values, ``<redacted>`` for personal data) and ``rows`` (up to 5 row numbers) show where."""


def problem(
    source: str,
    file: str,
    column: str,
    rule: str,
    hint: str,
    severity: str = "error",
    n_rows: int = 0,
    examples: Sequence = (),
    rows: Sequence[int] = (),
) -> dict:
    """One row of the problem table (for problems found outside pandera: files, config)."""
    return {
        "source": source,
        "file": file,
        "column": column,
        "rule": rule,
        "severity": severity,
        "n_rows": int(n_rows),
        "examples": [str(x) for x in examples],
        "rows": [int(r) for r in rows],
        "hint": hint,
    }


def run_schema(bundle: SchemaBundle, df: pd.DataFrame) -> list[dict]:
    """Validate ``df`` lazily against ``bundle``; return problem rows (empty if all pass)."""
    pa = _pa()
    try:
        bundle.schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        return problem_table(err.failure_cases, bundle)
    return []


def problem_table(failure_cases: pd.DataFrame, bundle: SchemaBundle) -> list[dict]:
    """One problem row per (column, check) of pandera's ``failure_cases``.

    ``n_rows`` counts distinct failing rows; severity is ``error`` for a rule that always blocks
    (a missing column, an unreadable value where a blank has a meaning) or when the failures
    reach :data:`BLOCKING_SHARE` of the rows the rule applies to.
    """
    out = []
    fc = failure_cases.copy()
    fc["column"] = fc["column"].fillna("*").astype("str")
    fc["check"] = fc["check"].astype("str")
    absent = fc["check"] == "column_in_dataframe"  # one problem per missing column
    fc.loc[absent, "column"] = fc.loc[absent, "failure_case"].astype("str")
    for (col, check), g in fc.groupby(["column", "check"], sort=False):
        if check == "column_in_dataframe":
            col = str(g["failure_case"].iloc[0])
        key = (col, _check_name(check))
        rule = bundle.rules.get(key)
        if rule is None:  # a check without a human meaning: show pandera's own words
            rule = Rule(bundle.schema.name, col, check, "", "")
        index = pd.to_numeric(g["index"], errors="coerce").dropna().astype("int64")
        rows = sorted(set(index.tolist()))
        n = len(rows) if rows or check == "column_in_dataframe" else len(g)
        denom = bundle.denominators.get(key, 0)
        blocking = rule.blocking_always or (denom > 0 and n / denom >= BLOCKING_SHARE)
        if rule.redact or col in bundle.redact_columns:
            examples = ["<redacted>"] if rows else []
        elif check in ("column_in_dataframe", "not_nullable"):
            examples = []
        else:
            examples = list(dict.fromkeys(str(v) for v in g["failure_case"]))[:3]
        share = ""
        if denom:
            frac = n / denom
            share = f" ({'<0.1%' if frac < 0.001 else f'{frac:.1%}' if frac < 0.1 else f'{frac:.0%}'} of {denom:,})"
        hint = hint_text(rule.hint, blocking, rule.redact or col in bundle.redact_columns)
        out.append(
            problem(
                rule.source,
                rule.file,
                rule.column,
                rule.rule + share,
                hint,
                "error" if blocking else "warning",
                n,
                examples,
                [r + bundle.row_offset for r in rows[:5]],
            )
        )
    return out


def _check_name(check: str) -> str:
    """pandera reports a custom check by its name; built-ins carry arguments (``in_range(0, 5)``)."""
    return re.sub(r"\(.*\)$", "", check)


def problems_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """The problem rows as a DataFrame (columns :data:`PROBLEM_COLUMNS`), errors first."""
    df = pd.DataFrame(list(rows), columns=PROBLEM_COLUMNS)
    if df.empty:
        return df
    order = df["severity"].map({"error": 0, "warning": 1, "info": 2}).fillna(3)
    return df.assign(_o=order).sort_values("_o", kind="stable").drop(columns="_o")


def format_problems(rows: Sequence[Mapping], width: int = 100) -> str:
    """Render problem rows as a readable text table, then one hint line per numbered problem."""
    df = problems_frame(rows)
    if df.empty:
        return "No problems found."

    def _rows(r) -> str:
        shown = ", ".join(str(x) for x in r["rows"])
        more = r["n_rows"] - len(r["rows"])
        return shown + (f" (+{more} more)" if more > 0 and r["rows"] else "")

    table = pd.DataFrame(
        {
            "#": np.arange(1, len(df) + 1),
            "severity": df["severity"].str.upper(),
            "source": df["source"],
            "file": df["file"].map(_short),
            "column": df["column"],
            "rule": df["rule"],
            "n_rows": df["n_rows"],
            "examples": [", ".join(repr(v) for v in e) for e in df["examples"]],
            "rows": [_rows(r) for _, r in df.iterrows()],
        }
    )
    with pd.option_context(
        "display.unicode.east_asian_width",
        True,
        "display.max_colwidth",
        40,
        "display.width",
        1000,
    ):
        text = table.to_string(index=False)
    hints = [f"  {i}. {h}" for i, h in enumerate(df["hint"], start=1) if h]
    n_err = int((df["severity"] == "error").sum())
    head = f"{n_err} error(s) block the run, {len(df) - n_err} warning(s):"
    return "\n".join([head, text, "Hints:", *hints]) if hints else "\n".join([head, text])


def _short(path: str, limit: int = 30) -> str:
    p = str(path)
    return p if len(p) <= limit else "..." + p[-(limit - 3) :]
