"""Narrative helpers for notebooks: text that depends on the numbers, shown as Markdown, and the
number formats used in every case."""

from __future__ import annotations

import re

import pandas as pd

from crmlab.export import MISSING_MARK


def say(text: str) -> None:
    """Show ``text`` as Markdown in a notebook (plain print elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def pct(share: float, digits: int = 1) -> str:
    """Format a share (0.812) as a percentage string ('81.2%')."""
    return f"{100 * share:.{digits}f}%"


def pts(diff: float, digits: int = 1) -> str:
    """Format a difference of shares (0.088) as signed percentage points ('+8.8 pts')."""
    return f"{100 * diff:+.{digits}f} pts"


def loaded(shapes: dict) -> str:
    """One sentence on the tables read: ``{"customers": (5000, 14)}`` ->
    "Loaded: customers (5,000 rows, 14 columns)." (``shapes``: name -> (rows, columns))."""
    if not shapes:
        return "No source tables were found."
    parts = [f"{name} ({rows:,} rows, {cols} columns)" for name, (rows, cols) in shapes.items()]
    return "Loaded: " + "; ".join(parts) + "."


def skipped(step: str, reason: str) -> None:
    """Say that a step was skipped and why (partial data): the narrative never pretends.
    Written "**Skipped: {step}.** {reason}", which :func:`read_skipped` reads back."""
    say(f"**Skipped: {step}.** {reason}")


_SKIPPED = re.compile(r"^\*\*Skipped: (?P<step>.+?)\.\*\*\s*(?P<reason>.*)$", re.S)


def read_skipped(markdown: str) -> tuple[str, str] | None:
    """``(step, reason)`` of a Markdown output :func:`skipped` wrote (the Chinese report says
    it in Chinese); None for any other text."""
    m = _SKIPPED.match(markdown.strip())
    return (m["step"], m["reason"].strip()) if m else None


# --------------------------------------------------------------------------------------------
# tables for readers
# --------------------------------------------------------------------------------------------
MISSING = MISSING_MARK
"""What a reader table shows for a missing value: the report's en dash
(:data:`crmlab.export.MISSING_MARK`)."""

LABELS: dict[str, str] = {
    "n": "Count",
    "n_rows": "Rows",
    "n_at_risk": "Open at start",  # the survival sense; "at risk" is the lifecycle stage
    "n_lost": "Customers lost",
    "n_customers": "Customers",
    "n_churners": "Churners",
    "n_events": "Events",
    "n_respondents": "Respondents",
    "n_dropped": "Without a rating",
    "successes": "Satisfied",
    "low": "CI low",
    "high": "CI high",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "or_low": "OR CI low",
    "or_high": "OR CI high",
    "se": "Std. error",
    "std_err": "Std. error",
    "std_beta": "Standardized beta",
    "coef": "Coefficient",
    "p_value": "p-value",
    "lmg": "LMG (part of R\u00b2)",
    "share": "Share",
    "cum_gain": "Cumulative gain",
    "bin": "Score tenth",
    "count": "Count",
    "csat": "CSAT",
    # the answers as read: a client's other scale is converted onto 1-5 (crmlab.metrics)
    "mean_satisfaction": "Mean satisfaction (1-5)",
    "kpi": "KPI",
    "roi": "Net return per unit spent",
    "owner_role": "Action owner",
    "n_contacted": "Contacted",
    "n_transactions": "Transactions",
    "rfm_segment": "RFM segment",
    "store_id": "Store",
    "pseudo_id": "Customer (pseudonym)",
    "ph_ok": "Proportional hazards hold",
    "odds_ratio_per_sd": "Odds ratio per SD",
    "mean_recency_days": "Mean recency (days)",
    "rank_stability": "Rank stability",
    "n_values": "With a value",
    "mean": "Mean",
    "std": "Std. dev.",
    "min": "Min",
    "25%": "25th pct.",
    "50%": "Median",
    "75%": "75th pct.",
    "max": "Max",
}
"""Reader labels of column names the library's tables use; any other name is shown with its
underscores as spaces and a capital first letter (``churn_rate`` -> "Churn rate")."""

SHARES = frozenset(
    {
        "share",
        "revenue_share",
        "value_share",
        "csat",
        "churn_rate",
        "cum_gain",
        "contact_share",
        "share_of_churners",
        "share_of_value_lost",
        "share_of_expected_churners",
        "promo_share",
        "returns_share",
        "attainment",
        "risk",
        "rank_stability",
    }
)
"""Column names of the library's tables that hold shares (0 to 1): :func:`present` shows them
as percentages without being told."""

EXPECTED_COUNTS = frozenset({"expected_churners_reached", "expected_saved"})
"""Column names of the library's tables that hold expected numbers of customers (a sum of
probabilities, e.g. 201.72): :func:`present` shows them as whole customers ("202"), rounded as
``round()`` does; the tables and ``results.json`` keep the exact values."""

CURRENCY = "CNY"
"""The default currency of the :data:`MONEY` columns (the finance case's balances, fees and
margin, in the synthetic data): a stage whose data is in another one says so with
:func:`set_currency` (its ``currency`` parameter)."""

_currency = CURRENCY


def set_currency(code: str) -> None:
    """Money in this kernel is in ``code`` (an ISO code such as ``"HKD"``; the ``currency``
    parameter is checked to be one before a run starts):
    :func:`present` names it in the headers of :data:`MONEY` columns ("Cost (HKD)"). A stage
    calls it with its ``currency`` parameter; empty text is refused."""
    global _currency
    text = str(code).strip()
    if not text:
        raise ValueError("The currency must be a code such as CNY, HKD or EUR, not empty text.")
    _currency = text


def currency() -> str:
    """The currency :func:`present` names in money headers (:func:`set_currency`, default
    :data:`CURRENCY`)."""
    return _currency


MONEY = frozenset(
    {
        "expected_value_saved",
        "cost",
        "net_value",
        "value_lost_reached",
        "expected_loss",
        "benefit",
    }
)
"""Column names of the library's tables that hold money (:mod:`crmlab.targeting`: campaign
value, cost and net, expected loss, in :func:`currency`): :func:`present` names the currency in
their header ("Cost (CNY)") and shows whole units ("85,170")."""

AMOUNTS = frozenset(
    {
        "net_spend",
        "revenue",
        "total_value",
        "mean_value",
        "monetary",
        "gross_spend",
        "avg_basket",
        "balance",
        "fees_charged",
    }
)
"""Column names of the library's tables that hold money amounts shown to the cent (net spend
of a transaction window, :func:`crmlab.kpis.transaction_summary`; revenue - or, for a bank's
customer value, total value - and mean customer value of a segment,
:func:`crmlab.segments.segment_summary`; the customer features monetary, gross spend and
average basket; a bank's balance and fees charged): :func:`present` names the currency in
their header ("Revenue (CNY)") - or, as the row of a table of columns
(:func:`describe`), in the row's name - and keeps their decimals."""

_DATE_TEXT = re.compile(r"^\d{4}-\d{2}(-\d{2})?( \d{2}:\d{2})?$")
_NUMBER_TEXT = re.compile(r"^(?:[A-Z]{3} )?[<>]?\s*[+\-\u2212]?[\d,]*\.?\d+\s*(%| pts)?$")
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
"""A column or category name written as an identifier (``checkout_speed``, ``at_risk``)."""


def label(name) -> str:
    """The reader label of a column name: :data:`LABELS`, else ``churn_rate`` -> "Churn rate"."""
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def _row_label(value):
    """A row name of an unnamed text index (a column, driver or feature name) as a reader
    label (``n_transactions`` -> "Transactions", ``staff_service`` -> "Staff service"; a money
    column of :data:`AMOUNTS` with its currency: "Monetary (CNY)")."""
    if not (isinstance(value, str) and _NAME.match(value)):
        return value
    return f"{label(value)} ({currency()})" if value in AMOUNTS else label(value)


VALUE_LABELS: dict[str, str] = {
    "cant_lose": "can't lose",
    "fee_rise_6m": "fee rise (last 6 months)",
    "complaints_6m": "complaints (last 6 months)",
}
"""Reader texts of identifier values that underscores-to-spaces would get wrong (the RFM
segment ``cant_lose``, "Can't Lose Them" in the usual R x F map; the Cox model's rolling
covariates ``fee_rise_6m`` - any fee rise in the month or the five before - and
``complaints_6m``, which would read "fee rise 6m")."""


def value_label(value) -> str:
    """A text value for readers: :data:`VALUE_LABELS`, else identifiers such as ``at_risk``
    read "at risk"; other text as it is."""
    text = str(value)
    if text in VALUE_LABELS:
        return VALUE_LABELS[text]
    return text.replace("_", " ") if _IDENTIFIER.fullmatch(text) else text


def in_words(text) -> str:
    """``text`` with every identifier in it (a column name such as ``checkout_speed``) as
    :func:`value_label` reads it: "5 missing value(s) in checkout speed"."""
    return _IDENTIFIER.sub(lambda m: value_label(m[0]), str(text))


def _p_value(p: float) -> str:
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


def _formatter(col: pd.Series, name, percent, digits: int, pct_digits: int):
    """The function that turns one value of ``col`` into the text a reader sees."""
    from pandas.api import types

    if name in percent:
        smallest = 10.0**-pct_digits  # in percent

        def share(v) -> str:
            x = 100 * float(v)
            if 0 < abs(x) < smallest / 2:  # would read "0.0%" although it is not zero
                return f"{'< ' if x > 0 else '> -'}{smallest:.{pct_digits}f}%"
            return f"{x:.{pct_digits}f}%"

        return share
    if name == "p_value":
        return _p_value
    if (name in EXPECTED_COUNTS or name in MONEY) and types.is_numeric_dtype(col):
        return lambda v: f"{round(float(v)):,}"  # whole customers / currency units
    if types.is_bool_dtype(col):
        return lambda v: "yes" if bool(v) else "no"
    if types.is_integer_dtype(col):
        return lambda v: f"{int(v):,}"
    if types.is_float_dtype(col):
        values = col.dropna()
        whole = len(values) > 0 and bool((values == values.round()).all())
        places = 0 if whole and abs(values).max() >= 1 else digits
        return lambda v: f"{float(v):,.{places}f}"
    if types.is_datetime64_any_dtype(col):
        times = col.dropna()
        daily = bool((times == times.dt.normalize()).all())
        return lambda v: pd.Timestamp(v).strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M")
    return value_label


def describe(df: pd.DataFrame) -> pd.DataFrame:
    """The numeric columns of ``df`` (not yes/no flags), one row each: ``n_values`` (rows with a
    value), ``mean``, ``min``, ``median`` and ``max`` - pandas' ``describe`` without the spread
    and quartiles, for a first look at a table (show it with :func:`present`)."""
    columns = ["n_values", "mean", "min", "median", "max"]
    numeric = df.select_dtypes("number")
    if numeric.shape[1] == 0:
        return pd.DataFrame(columns=columns)
    stats = numeric.describe().T.rename(columns={"count": "n_values", "50%": "median"})
    return stats[columns].astype({"n_values": "int64"})


class ReaderTable:
    """A DataFrame shown to readers (see :func:`present`): labelled headers, formatted values.

    Jupyter shows its HTML (:meth:`_repr_html_`, a pandas ``Styler``): columns whose every shown
    value is a number - "2,612", "25.7%", "< 0.001", "+7.1 pts" - right-aligned and, like date
    columns, never broken across lines; others left-aligned; by a style block scoped to the
    table's id, which is derived from its content. Its ``repr`` is the same table as plain
    text. ``cells`` holds the shown texts (a DataFrame of strings, reader labels as columns).
    """

    def __init__(self, cells: pd.DataFrame):
        self.cells = cells
        columns = [cells.iloc[:, i] for i in range(cells.shape[1])]
        self.numeric = [_all(shown, _NUMBER_TEXT) for shown in columns]
        self.dates = [_all(shown, _DATE_TEXT) for shown in columns]

    def _repr_html_(self) -> str:
        import hashlib

        from pandas.io.formats.style import Styler

        cells = self.cells
        uuid = hashlib.sha1(cells.to_json().encode()).hexdigest()[:8]
        align = {
            col: [
                {
                    "selector": "th, td",
                    "props": f"text-align: {'right' if num else 'left'};"
                    + (" white-space: nowrap;" if num or date else ""),
                }
            ]
            for col, num, date in zip(cells.columns, self.numeric, self.dates, strict=True)
        }
        styler = (
            Styler(cells, uuid=uuid, cell_ids=False)
            .hide(axis="index")
            .format(escape="html")
            .set_table_attributes('class="dataframe reader"')
            .set_table_styles(align)
        )
        return styler.to_html()

    def __repr__(self) -> str:
        if self.cells.empty:
            return "(no rows)"
        return self.cells.to_string(index=False)


def _all(shown: pd.Series, pattern: re.Pattern) -> bool:
    """True when the column has a value and every value is missing or matches ``pattern``."""
    return bool(shown.size) and all(t == MISSING or pattern.match(t) for t in shown)


def present(
    df: pd.DataFrame | pd.Series,
    *,
    percent=(),
    digits: int = 2,
    pct_digits: int = 1,
    index: bool | None = None,
    labels: dict | None = None,
) -> ReaderTable:
    """``df`` as a table for readers of a notebook or report; display it with ``display()``.

    - Column headers read as words: :data:`LABELS`, then ``labels`` (column -> header), else
      ``churn_rate`` -> "Churn rate" (:func:`label`).
    - Columns named in ``percent`` or in :data:`SHARES` hold shares (0.257) and show as
      percentages ("25.7%", ``pct_digits`` decimals; a share that is not zero but would show
      as "0.0%" shows as "< 0.1%").
    - Expected numbers of customers (:data:`EXPECTED_COUNTS`) show as whole customers
      (``201.72`` -> "202"); money (:data:`MONEY`) in whole units with the currency in the
      header ("Cost (CNY)"); amounts (:data:`AMOUNTS`) with the currency in the header.
    - Integers show with thousands separators (``2,612``); other numbers with ``digits``
      decimals (whole-number columns without decimals); a ``p_value`` column with 3 decimals and
      "< 0.001" below that; booleans as yes / no; dates as ``YYYY-MM-DD``; identifiers such as
      ``at_risk`` as "at risk"; missing values as an en dash (:data:`MISSING`).
    - Nothing is cut short (pandas shortens long text to 50 characters with "...").
    - The index is shown as the first column when it names the rows (it has a name, or holds
      text: driver names, features); an unnamed integer index (0, 1, 2 or leftover row numbers)
      is left out. ``index=True`` / ``False`` decides it explicitly. The names of an unnamed
      text index read as labels, like headers (``n_transactions`` -> "Transactions").

    A Series is shown as a one-column table (its name is the header).
    """
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    if index is None:
        index = frame.index.name is not None or not pd.api.types.is_integer_dtype(frame.index)
    if index:
        names_rows = frame.index.name is None and not pd.api.types.is_numeric_dtype(frame.index)
        frame = frame.reset_index()
        if frame.columns[0] == "index":
            frame = frame.rename(columns={"index": ""})
        if names_rows:  # row names such as column or driver names read as labels
            first = frame.columns[0]
            frame[first] = frame[first].map(_row_label)
    unknown = set(percent) - set(frame.columns)
    if unknown:
        raise KeyError(f"percent names columns that are not in the table: {sorted(unknown)}")
    percent = set(percent) | (SHARES & set(frame.columns))
    shown = {}
    headers: dict = {}
    for c in frame.columns:
        default = label(c) if c != "" else ""
        if (c in MONEY or c in AMOUNTS) and pd.api.types.is_numeric_dtype(frame[c]):
            default = f"{default} ({currency()})"
        header = (labels or {}).get(c, default)
        if header in headers.values():  # two names with one label: the second keeps its name
            header = str(c)
        headers[c] = header
    for c in frame.columns:
        col = frame[c]
        fmt = _formatter(col, c, percent, digits, pct_digits)
        shown[headers[c]] = [MISSING if _missing(v) else fmt(v) for v in col]
    return ReaderTable(pd.DataFrame(shown, columns=list(headers.values())))


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays
        return False
