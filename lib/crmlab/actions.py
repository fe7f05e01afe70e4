"""The action list of a run: which customers to act on, what to do, who does it, by when.

Written into the run directory as ``actions.xlsx`` (a summary sheet, then one sheet per segment
with frozen headers, number formats and column widths) and ``actions.csv`` (all rows, UTF-8).

Rows come from the customer table a case's stages passed on (the case spec's ``actions.table``,
e.g. ``segments`` in the retail case); the action, owner role and start month come from the
case's playbook in :mod:`crmlab.plans` (segment -> action, owner, months from the plan start).
Customers whose segment has no playbook entry are not listed: there is nothing to do for them.

The action is the playbook's, in the form of the customer's value tier where the spec's
``actions.tier_actions`` names one (:data:`crmlab.plans.RETAIL_TIER_ACTIONS`: an at-risk tier-C
customer, whom only automated marketing contacts, gets a voucher by message, not a call).

Who acts, two columns that never contradict each other:

- ``contact`` ("Who contacts the customer"): by value tier A/B/C, the case spec's
  ``actions.contact`` (finance: relationship manager, service team, marketing automation - the
  callers of the retention campaign), else :data:`crmlab.plans.TIER_OWNER`;
- ``owner_role`` ("Action owner"): the team accountable for the action - the playbook's owner,
  except that a tier's contact never owns another tier's customer (the playbook's "Relationship
  manager" for a tier B customer, who has none, becomes that customer's contact, the service
  team). A campaign customer's owner is the one the campaign names, and that owner is also who
  contacts the customer.

Money columns (``value``) are in the run's currency (the stages' ``currency`` parameter, recorded
as the figure ``currency``), else the spec's ``actions.currency``; the Excel headers say it
("Value (CNY)").

Priority (1 = act first), in this order:

0. a case with a campaign work list (the spec's ``campaign`` artifact, e.g. the finance case's
   retention campaign by expected loss, :func:`crmlab.targeting.action_list`): its customers
   first, in campaign order, each with the campaign's action, owner and due date (column
   ``campaign_rank``; ``work_list_rank`` when the run costed no campaign - no success rate -
   and the list is the stage's work list of the highest expected losses); the other customers
   follow with their playbook action;
1. urgency: the playbook's start month (an offset of 0 comes first);
2. the segment's place in the playbook (its author lists the most important segment first);
3. value tier: A, then B, then C (no tier last);
4. the score: for ``score_kind: satisfaction`` the least satisfied first, for ``risk`` the highest
   risk first (no score last);
5. value: highest first; ties broken by pseudonymous id so the order is reproducible.

Due date (:func:`crmlab.plans.due_date`, the rule of both cases): in the action's start month
(plan start + the playbook offset), as many days after its first day as the action's wording
gives (:func:`crmlab.plans.days_in_wording`: "win-back call ... within 2 weeks" in plan month
2026-10 is due 2026-10-15), never after the month's last day; an action whose wording names no
period is due on the month's last day. A campaign customer's due date is the campaign's
(:func:`crmlab.targeting.action_list`: days into the month of the wave that contacts it). The
plan start is the month recorded under the spec's ``plan_start`` figure (e.g. ``goal.start``),
else the month the run finished.

No personal data: the list holds pseudonymous ids and derived fields only. Before anything is
written it is checked twice - no column may look personal (:func:`crmlab.privacy.
detect_pii_columns`), and no personal value of the run's raw input files (names, e-mail
addresses, phone numbers ... found by the same detector) may occur anywhere in it
(:func:`crmlab.privacy.assert_no_pii`); nor may any raw customer id.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from crmlab import atomic, casespec, i18n, privacy
from crmlab.errors import ConfigError, CrmlabError, DataError
from crmlab.rundir import Run

__all__ = [
    "PersonalData",
    "action_table",
    "check_no_personal_data",
    "personal_data",
    "personal_data_later",
    "write_action_list",
]

TIER_ORDER = {"A": 0, "B": 1, "C": 2}

#: Output columns before the case's extra columns; the score column is named by score_kind.
BASE_COLUMNS = [
    "priority",
    "customer_id",
    "segment",
    "tier",
    "score",
    "value",
    "recommended_action",
    "owner_role",
    "contact",
    "due_date",
]


SCORE_DECIMALS = 4
"""Decimals of the score in the action list (a churn risk of 0.5010 = 50.10%)."""
DECIMALS = 2
"""Decimals of the other fractional columns of the action list (value in currency, months)."""


def action_spec(case: str) -> dict:
    """The ``actions:`` section of a case's spec (table, id, segment, tier, score, value,
    playbook, contacts, currency ...); a :class:`ConfigError` when the case has none."""
    spec = casespec.load_spec(case).get("actions")
    if not spec:
        raise ConfigError(
            f"Case '{case}' has no action-list spec: add an `actions:` section (table, id, "
            f"segment, tier, score, score_kind, value, playbook, plan_start) to "
            f"{casespec.spec_path(case)}."
        )
    return spec


def run_action_spec(run: Run) -> dict:
    """:func:`action_spec` as it applies to ``run`` (:func:`crmlab.casespec.for_run`: a
    churn-flag extract gets its own playbook and contacts)."""
    return casespec.for_run(action_spec(run.case), run.results)


def run_currency(run: Run, spec: Mapping) -> str | None:
    """The currency of the list's money columns: the run's (the stages' ``currency``
    parameter, recorded as the figure ``currency``), else the spec's ``actions.currency``."""
    return run.results.get("currency") or spec.get("currency")


def _plan_start(run: Run, spec: dict) -> pd.Period:
    """The plan's first month: the spec's ``plan_start`` figure (``plan.start``: the
    ``plan_start`` parameter, else the goal's start), else ``goal.start`` (runs recorded before
    ``plan.start`` existed), else the month the run finished."""
    key = spec.get("plan_start")
    month = casespec.figure_value(run.results, key, None) if key else None
    if month is None:
        month = casespec.figure_value(run.results, "goal.start", None)
    if month is None:
        month = (run.status.get("finished") or run.status.get("started") or "")[:7]
    if not month:
        raise DataError(f"Run {run.path}: no plan start month ({key}) and no finish date.")
    return pd.Period(str(month), freq="M")


def action_table(run: Run, rounded: bool = True) -> pd.DataFrame:
    """The customers to act on, one row each, sorted by priority (see the module docstring).

    Columns: ``priority``, ``customer_id`` (pseudonymous), ``segment``, ``tier``, the score
    (``satisfaction`` or ``churn_risk``), ``value``, ``recommended_action``, ``owner_role`` (the
    action's owner) and ``contact`` (who contacts the customer; see the module docstring for
    how the two agree), ``due_date`` (a date), then the spec's ``extra`` columns.
    ``rounded``: values as the client reads them (value in cents, see :func:`_rounded`); else
    exact (for totals, which add the exact values as the report does, not rounded ones).
    """
    from crmlab import plans

    spec = run_action_spec(run)
    table = run.artifact(spec["table"])
    if spec.get("id") not in table.columns and spec.get("id") in (table.index.names or []):
        table = table.reset_index()
    cols = {
        k: spec.get(k)
        for k in ("id", "segment", "tier", "score", "value")
        if spec.get(k) is not None
    }
    missing = [c for c in cols.values() if c not in table.columns]
    if missing:
        raise DataError(
            f"Run {run.path}: artifact '{spec['table']}' lacks column(s) {missing} named in the "
            f"case's actions spec; it has {list(table.columns)}."
        )
    playbook = getattr(plans, spec["playbook"], None)
    if not isinstance(playbook, dict):
        raise ConfigError(
            f"actions.playbook '{spec['playbook']}' is not a playbook in crmlab.plans."
        )
    risk = spec.get("score_kind", "satisfaction") == "risk"
    score_name = "churn_risk" if risk else "satisfaction"
    segment = table[cols["segment"]].astype("str")
    act = table[segment.isin(list(playbook))]
    segment = segment[act.index]
    start = _plan_start(run, spec)
    contacts = tier_contacts(spec)
    offsets = segment.map({k: v[2] for k, v in playbook.items()})
    tier = act[cols["tier"]].astype("str") if "tier" in cols else pd.Series(pd.NA, index=act.index)
    score = (
        act[cols["score"]].astype("float64")
        if "score" in cols
        else pd.Series(float("nan"), index=act.index)
    )
    value = (
        act[cols["value"]].astype("float64")
        if "value" in cols
        else pd.Series(float("nan"), index=act.index)
    )
    out = pd.DataFrame(
        {
            "customer_id": act[cols["id"]].astype("str"),
            "segment": segment,
            "tier": tier,
            score_name: score,
            "value": value,
            "recommended_action": segment.map({k: v[0] for k, v in playbook.items()}),
            "owner_role": segment.map({k: v[1] for k, v in playbook.items()}),
            "contact": tier.map(contacts).fillna("-"),
            "due_date": None,  # below, once the action is the customer's tier's
        },
        index=act.index,
    )
    extras = spec.get("extra") or []
    extras = extras.items() if isinstance(extras, dict) else [(c, c) for c in extras]
    for column, name in extras:  # a list of columns, or {column: name in the list}
        if column in act.columns:
            out[name if name not in BASE_COLUMNS else f"{spec['table']}_{name}"] = act[column]
    # a tier's contact owns no other tier's customers (a mass-market customer has no
    # relationship manager): where the playbook names one, the customer's own contact owns it
    own = out["owner_role"].isin(set(contacts.values())) & out["tier"].isin(list(contacts))
    own &= out["owner_role"] != out["contact"]
    out.loc[own, "owner_role"] = out.loc[own, "contact"]
    # the action as the customer's tier gets it (a voucher by message, not a call, where
    # marketing automation is the contact): the spec's tier_actions
    for seg, by_tier in plans.tier_actions(spec.get("tier_actions")).items():
        for t, action in by_tier.items():
            variant = (out["segment"] == seg) & (out["tier"] == str(t))
            out.loc[variant, "recommended_action"] = action
    # due: the days the action's own words give ("within 2 weeks"), in its playbook month
    due = {
        (o, a): plans.due_date(start, o, plans.days_in_wording(a))
        for o, a in set(zip(offsets.astype(int), out["recommended_action"], strict=True))
    }
    out["due_date"] = [
        due[(o, a)] for o, a in zip(offsets.astype(int), out["recommended_action"], strict=True)
    ]
    campaign = _campaign(run, spec)
    in_campaign = pd.Series(float("inf"), index=out.index)
    if campaign is not None:  # its customers get the campaign's action, owner and due date
        rank = out["customer_id"].map(campaign["rank"])
        inside = rank.notna()
        for column in ("recommended_action", "owner_role", "due_date"):
            out.loc[inside, column] = out.loc[inside, "customer_id"].map(campaign[column])
        # the campaign names who makes its call (by tier, or the service manager after a
        # complaint): that owner is who contacts the customer
        out.loc[inside, "contact"] = out.loc[inside, "owner_role"]
        out[_rank_column(run)] = rank.astype("Int64")
        in_campaign = rank.fillna(float("inf"))
    keys = pd.DataFrame(
        {
            "campaign": in_campaign,
            "urgency": offsets.astype(int),
            "playbook_order": segment.map({k: i for i, k in enumerate(playbook)}),
            "tier": tier.map(TIER_ORDER).fillna(len(TIER_ORDER)),
            "score_missing": score.isna(),
            "score": -score if risk else score,
            "value": -value.fillna(float("-inf")),
            "id": out["customer_id"],
        }
    )
    order = keys.sort_values(
        ["campaign", "urgency", "playbook_order", "tier", "score_missing", "score", "value", "id"]
    ).index
    out = out.loc[order].reset_index(drop=True)
    out.insert(0, "priority", range(1, len(out) + 1))
    return _rounded(out, score_name) if rounded else out


def _rank_column(run: Run) -> str:
    """``campaign_rank`` when the run costed a retention campaign (it recorded
    ``campaign.n_contacted``), else ``work_list_rank``: without a success rate the stage's work
    list is the highest expected losses, not a campaign."""
    return "campaign_rank" if "campaign.n_contacted" in run.results else "work_list_rank"


def tier_contacts(spec: dict) -> dict[str, str]:
    """Value tier -> who contacts the customer: the case spec's ``actions.contact`` (the finance
    case names the campaign's callers, :data:`crmlab.targeting.DEFAULT_TIER_ACTIONS`: relationship
    manager, service team, marketing automation; identifiers read as words), else
    :data:`crmlab.plans.TIER_OWNER`."""
    from crmlab import plans
    from crmlab.narrative import label  # "service_team" -> "Service team"

    given = spec.get("contact")
    if not given:
        return dict(plans.TIER_OWNER)
    if not isinstance(given, dict):
        raise ConfigError(
            f"actions.contact must map value tiers to who contacts the customer "
            f"(e.g. {{A: relationship_manager}}), got {given!r}."
        )
    return {str(tier): label(who) for tier, who in given.items()}


def _campaign(run: Run, spec: dict) -> pd.DataFrame | None:
    """The campaign's work list the stages saved (the spec's ``campaign`` artifact, from
    :func:`crmlab.targeting.action_list`), indexed by pseudonymous id: ``rank``,
    ``recommended_action``, ``owner_role``, ``due_date`` (a date); None without one."""
    name = spec.get("campaign")
    if not name or not run.has_artifact(name):
        return None
    from crmlab.narrative import label  # "relationship_manager" -> "Relationship manager"

    work = run.artifact(name)
    return pd.DataFrame(
        {
            "rank": work["rank"].astype("int64").to_numpy(),
            "recommended_action": work["action"].astype("str").map(label).to_numpy(),
            "owner_role": work["owner_role"].astype("str").map(label).to_numpy(),
            "due_date": pd.to_datetime(work["due_date"]).dt.date.to_numpy(),
        },
        index=work["pseudo_id"].astype("str").to_numpy(),
    )


def _rounded(table: pd.DataFrame, score_name: str) -> pd.DataFrame:
    """The list as a client reads it (after it is sorted on the exact values): whole-number
    columns (products held, recency in days, a 1-5 rating) as integers; the risk score with
    :data:`SCORE_DECIMALS` decimals; other decimals (tenure in months, value) with
    :data:`DECIMALS`."""
    out = table.copy()
    for c in out.columns:
        col = out[c]
        if not pd.api.types.is_float_dtype(col):
            continue
        values = col.dropna()
        if len(values) and bool((values == values.round()).all()):
            out[c] = col.round().astype("Int64")
        else:
            out[c] = col.round(SCORE_DECIMALS if c == score_name else DECIMALS)
    return out


def _scan(path: Path) -> str:
    """DuckDB's table function for a raw CSV (every column as text) or Parquet file; the path
    is its one parameter."""
    if path.suffix == ".parquet":
        return "read_parquet(?)"
    return "read_csv(?, header = true, all_varchar = true)"


def _head(path: Path, nrows: int = 500) -> pd.DataFrame:
    """The first ``nrows`` rows of a raw CSV/Parquet file, streamed by DuckDB (only the rows
    asked for come into pandas)."""
    import duckdb

    with duckdb.connect() as con:
        return con.sql(f"SELECT * FROM {_scan(path)} LIMIT {int(nrows)}", params=[str(path)]).df()


@dataclass(frozen=True)
class PersonalData:
    """What the action list is checked against: the personal values of a run's raw input files
    (by ``source.column``, prepared for :func:`crmlab.privacy.assert_no_pii`) and its raw
    customer ids (distinct, as text; none for a config run's input folder, whose ids are the
    import's pseudonyms - the ones the list shows). Held in memory only; never written to disk."""

    known: privacy.KnownValues
    raw_ids: pa.Array

    def leaked_ids(self, ids: pd.Series) -> int:
        """How many of ``ids`` are raw customer ids."""
        import pyarrow.compute as pc

        if not len(self.raw_ids) or not len(ids):
            return 0
        as_text = pa.array(ids.astype("str").tolist(), type=pa.large_string())
        return int(pc.sum(pc.is_in(as_text, value_set=self.raw_ids)).as_py() or 0)


#: (case, input files with size and mtime) -> PersonalData (this process only). A changed input
#: file changes the key.
_RAW_CACHE: dict[tuple, PersonalData] = {}
_RAW_CACHE_SIZE = 4
_RAW_LOCK = threading.Lock()
_READER: ThreadPoolExecutor | None = None


def _input_key(case: str, folder: Path) -> tuple | None:
    from crmlab import sources

    if case not in sources.CASE_SOURCES or not folder.is_dir():
        return None
    return (case,) + sources.files_signature(case, folder)


def personal_data(case: str, folder: str | Path, threads: int | None = None) -> PersonalData:
    """The :class:`PersonalData` of a case's input folder.

    Each source's PII columns are detected on its first 500 rows (as
    :func:`crmlab.privacy.detect_pii_columns` samples them); only those columns and
    ``customer_id`` are then read in full, as distinct values counted by DuckDB (a transactions
    file never comes into pandas; ``threads``: DuckDB's worker threads, default all cores).
    Cached in memory per set of input files (path, size, modification time), so rebuilding a
    run's action list, or lists of runs on the same data, reads the raw files once.
    """
    folder = Path(folder)
    key = _input_key(case, folder)
    if key is None:
        return PersonalData(privacy.KnownValues({}), pa.array([], type=pa.large_string()))
    with _RAW_LOCK:
        if key in _RAW_CACHE:
            return _RAW_CACHE[key]
    data = _read_personal_data(case, folder, threads)
    with _RAW_LOCK:
        if len(_RAW_CACHE) >= _RAW_CACHE_SIZE:
            _RAW_CACHE.pop(next(iter(_RAW_CACHE)))
        _RAW_CACHE[key] = data
    return data


def personal_data_later(case: str, folder: str | Path) -> Future:
    """:func:`personal_data` in a background thread (one DuckDB thread, so it takes the core a
    running stage leaves free); ``.result()`` gives the :class:`PersonalData` or raises what
    reading raised. The runner starts this before the stages, so the action list's check does
    not wait for the raw files to be read."""
    global _READER
    with _RAW_LOCK:
        if _READER is None:
            _READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmlab-personal-data")
    return _READER.submit(personal_data, case, folder, 1)


def _distinct_values(path: Path, column: str, threads: int | None = None) -> pa.Array:
    """The distinct non-missing values of one column of a raw CSV/Parquet file, as text (a
    pyarrow string array), counted by DuckDB out of core (a transactions file never comes into
    pandas)."""
    import duckdb

    quoted = '"' + column.replace('"', '""') + '"'
    query = (
        f"SELECT DISTINCT CAST({quoted} AS VARCHAR) AS v FROM {_scan(path)} "
        f"WHERE {quoted} IS NOT NULL"
    )
    with duckdb.connect() as con:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        values = con.sql(query, params=[str(path)]).to_arrow_table().column("v")
    return values.combine_chunks().cast(pa.large_string())


def _read_personal_data(case: str, folder: Path, threads: int | None = None) -> PersonalData:
    import pyarrow.compute as pc

    from crmlab import sources

    known: dict[str, pa.Array] = {}
    ids = []
    # a config run's input folder holds pseudonyms, not raw ids (pseudonymized on import); they
    # are the ids the action list must show, and the raw ids never reach the run
    check_ids = not sources.imported_pseudonymized(folder)
    for stem in sources.CASE_SOURCES[case]:
        path = sources.source_path(folder, stem)
        if path is None:
            continue
        head = _head(path)
        for col in privacy.detect_pii_columns(head):
            known[f"{stem}.{col}"] = _distinct_values(path, col, threads)
        if check_ids and "customer_id" in head.columns:
            ids.append(_distinct_values(path, "customer_id", threads))
    raw_ids = pc.unique(pa.concat_arrays(ids)) if ids else pa.array([], type=pa.large_string())
    data = PersonalData(privacy.KnownValues.from_arrow(known), raw_ids)
    pa.default_memory_pool().release_unused()  # the runner stays small while the stages run
    return data


def _distinct_text(table: pd.DataFrame) -> str:
    """Column names and each column's distinct values, one per line: a personal value occurs in
    the table's text exactly when it occurs in this (much shorter) text."""
    parts = [str(c) for c in table.columns]
    for col in table.columns:
        parts += [str(v) for v in table[col].dropna().unique()]
    return "\n".join(parts)


def check_no_personal_data(
    table: pd.DataFrame, run: Run, personal: PersonalData | None = None
) -> None:
    """Raise :class:`crmlab.privacy.PiiLeakError` (a :class:`DataError`) if ``table`` holds a
    personal column, a personal value of the run's raw inputs, or a raw customer id.

    ``personal``: the run's :class:`PersonalData` if already read (else read now, see
    :func:`personal_data`)."""
    flagged = privacy.detect_pii_columns(table)
    if flagged:
        raise privacy.PiiLeakError(
            f"The action list has column(s) that look personal: {flagged}. Keep pseudonymous ids "
            "and derived fields only."
        )
    if personal is None:
        personal = personal_data(run.case, run.data_dir())
    if len(personal.known):
        privacy.assert_no_pii(_distinct_text(table), personal.known)
    leaked = personal.leaked_ids(table["customer_id"])
    if leaked:
        raise privacy.PiiLeakError(
            f"The action list holds {leaked} raw customer id(s) instead of pseudonyms: "
            "build it from the pseudonymized stage outputs."
        )


EXCEL_HEADERS: dict[str, str] = {
    "customer_id": "Customer (pseudonym)",
    "tier": "Value tier",
    "satisfaction": "Satisfaction (1-5)",
    "churn_risk": "Churn risk",
    "owner_role": "Action owner",
    "contact": "Who contacts the customer",
    "campaign_rank": "Campaign rank",
    "customers": "Customers",
    "mean_satisfaction": "Mean satisfaction (1-5)",
    "mean_churn_risk": "Mean churn risk",
    "first_priority": "First priority",
    "first_due_date": "First due date",
    "in_campaign": "In the retention campaign",
    "work_list_rank": "Work-list rank",
    "on_work_list": "On the work list",
}
"""English headers of the Excel list where :func:`crmlab.narrative.label` would not say enough
(the CSV keeps the column names, for importing into a CRM)."""


MONEY_COLUMNS = ("value", "total_value", "mean_value")
"""Columns of the list and its summary sheet in the case's currency (spec ``actions.currency``)."""


def _header(name: str, lang: str, excel: bool, currency: str | None = None) -> str:
    """A column's header: translated (``lang`` other than en); in the English Excel file a
    reader label (``due_date`` -> "Due date"); in the English CSV the column name. With a
    ``currency``, the headers of :data:`MONEY_COLUMNS` name it ("Value (CNY)"; in Chinese by
    its Chinese name, "价值（元）", as the report does), except in the English CSV."""
    # the English CSV keeps the column names a CRM import expects; readers' files name the unit
    unit = currency if (excel or lang != "en") and name in MONEY_COLUMNS else None
    if lang != "en":
        text = i18n.translate(name, lang)
        return f"{text}（{i18n.CURRENCIES_ZH.get(unit, unit)}）" if unit else text
    if not excel:
        return name
    from crmlab.narrative import label

    text = EXCEL_HEADERS.get(name) or label(name)
    return f"{text} ({unit})" if unit else text


SEGMENT_HEADERS = {"stage": "Lifecycle stage"}
"""English headers of the list's ``segment`` column by the spec column it holds, where
:func:`crmlab.narrative.label` would not say which segment (``stage`` -> "Stage")."""


def list_headers(spec: Mapping, lang: str) -> dict[str, str]:
    """Headers of the list that depend on the case: the ``segment`` column is named by what the
    spec's ``segment`` column is - the report's term for it (finance: ``stage``, "Lifecycle
    stage", 生命周期阶段; retail: ``customer_class``, "Customer class", 客户类别) - since
    "Segment" / 细分 alone would read like the client's own segments (finance's
    ``client_segment``: "Client segment", 客户细分, as the report's stage-2 tables say). The
    English CSV keeps the column name a CRM import expects (:func:`localized`)."""
    from crmlab.narrative import label

    source = spec.get("segment")
    if not source:
        return {}
    if lang == "en":
        return {"segment": SEGMENT_HEADERS.get(str(source)) or label(source)}
    header = i18n.translate(str(source), lang)
    return {"segment": header} if header != str(source) else {}


def _segment_name(segment: str, lang: str) -> str:
    """A segment as a reader sees it: translated, or in English ``at_risk`` -> "at risk"."""
    from crmlab.narrative import value_label

    return i18n.translate(str(segment), lang) if lang != "en" else value_label(segment)


def localized(
    table: pd.DataFrame,
    lang: str,
    excel: bool = False,
    currency: str | None = None,
    headers: Mapping[str, str] | None = None,
    keep: Collection[str] = (),
) -> pd.DataFrame:
    """The list as written: headers by :func:`_header` (money headers naming ``currency``),
    or as ``headers`` gives them (:func:`list_headers`); segments, action texts and the case's
    extra text columns translated - or, in the English Excel file, identifiers in words
    (``loyal_customers`` -> "loyal customers", :func:`crmlab.narrative.value_label`); the
    English CSV keeps the values a CRM import expects. Columns in ``keep`` (the client's own
    columns of a contact list: names, phone numbers) keep their header and values."""
    if lang == "en" and not excel:
        return table
    from crmlab.narrative import value_label

    headers = headers or {}
    out = table.copy()
    text = [
        c
        for c in out.columns
        if c != "customer_id" and c not in keep and pd.api.types.is_string_dtype(out[c])
    ]
    for col in text:  # segments, actions, roles and the case's extra text columns
        if lang != "en":
            out[col] = out[col].map(lambda v: v if pd.isna(v) else i18n.translate(str(v), lang))
        else:
            out[col] = out[col].map(lambda v: v if pd.isna(v) else value_label(v))
    out.columns = [
        c if c in keep else headers.get(c) or _header(c, lang, excel, currency) for c in out.columns
    ]
    return out


def _sheet_name(segment: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(segment))[:31] or "segment"
    name, i = base, 2
    while name.lower() in used:
        suffix = f" ({i})"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


#: Customers per segment sheet of ``actions.xlsx`` (the most urgent first); ``actions.csv`` always
#: lists every customer. Keeps the workbook usable (and quick to write) for large customer bases;
#: Excel itself stops at 1,048,576 rows.
EXCEL_ROWS_PER_SEGMENT = 10_000


class _Formats:
    """xlsxwriter cell formats of one workbook, made once per number format."""

    def __init__(self, wb):
        self.wb, self.cache = wb, {}
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DCE6F1", "valign": "top", "text_wrap": True}
        )

    def number(self, fmt: str | None):
        if fmt is None:
            return None
        if fmt not in self.cache:
            self.cache[fmt] = self.wb.add_format({"num_format": fmt})
        return self.cache[fmt]


def _cell_value(v):
    """A value xlsxwriter writes as is, or None for a blank cell (NaN, NA, None)."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    return v


def _column_writer(ws, s: pd.Series):
    """The worksheet method for a column's cells: numbers and text are written directly (no
    per-cell type dispatch), anything else through ``ws.write``."""
    if pd.api.types.is_bool_dtype(s):
        return ws.write_boolean
    if pd.api.types.is_numeric_dtype(s):
        return ws.write_number
    if pd.api.types.is_string_dtype(s) and s.map(type).eq(str).all():
        return ws.write_string
    return ws.write


def sheet_formats(
    spec: Mapping, lang: str, currency: str | None, headers: Mapping[str, str]
) -> dict[str, str]:
    """Excel number formats of the list's columns, by the header they have in ``lang``
    (:func:`localized` with ``headers``, :func:`list_headers`): the value (the spec's
    ``value_format``, thousands separators) and score (``score_format``: a risk as a percent),
    due dates as dates, counts with thousands separators; the other columns as Excel shows
    them."""
    score_name = "churn_risk" if spec.get("score_kind") == "risk" else "satisfaction"
    money = spec.get("value_format", "#,##0.00")
    score = spec.get("score_format", "0.00")
    formats = {
        "priority": "0",
        "value": money,
        "total_value": money,
        "mean_value": money,
        score_name: score,
        f"mean_{score_name}": score,
        "due_date": "yyyy-mm-dd",
        "first_due_date": "yyyy-mm-dd",
        "customers": "#,##0",
        "first_priority": "0",
        "in_campaign": "#,##0",
        "on_work_list": "#,##0",
        "campaign_rank": "#,##0",
        "work_list_rank": "#,##0",
        "recency_days": "0",
    }
    return {headers.get(k) or _header(k, lang, True, currency): v for k, v in formats.items()}


def write_sheet(wb, name: str, df: pd.DataFrame, formats: Mapping[str, str]):
    """Add a sheet ``name`` to the xlsxwriter workbook ``wb`` written as the action list's are
    (:func:`_write_sheet`: frozen bold header with a filter, ``formats`` by header, widths to
    fit); returns the worksheet."""
    ws = wb.add_worksheet(name)
    _write_sheet(ws, _Formats(wb), df, dict(formats))
    return ws


def _write_sheet(ws, fmt: _Formats, df: pd.DataFrame, formats: dict[str, str]) -> None:
    """One sheet: a bold header row (frozen, with a filter), the rows, each column's number
    format on its cells and a width fitting the first 500 values (8 to 60 characters)."""
    cell_formats = [fmt.number(formats.get(col)) for col in df.columns]
    for j, col in enumerate(df.columns):
        values = [str(col)] + [str(v) for v in df[col].head(500)]
        width = max(len(v) for v in values) + 2
        ws.set_column(j, j, min(max(width, 8), 60))
    ws.write_row(0, 0, [str(c) for c in df.columns], fmt.header)
    ws.freeze_panes(1, 0)
    writers = [_column_writer(ws, df[c]) for c in df.columns]
    columns = [df[c].tolist() for c in df.columns]
    cells = list(zip(writers, cell_formats, strict=True))
    for i, row in enumerate(zip(*columns, strict=True), start=1):
        for j, (v, (write, cell_format)) in enumerate(zip(row, cells, strict=True)):
            v = _cell_value(v)
            if v is not None:
                write(i, j, v, cell_format)
    if len(df):
        ws.autofilter(0, 0, len(df), len(df.columns) - 1)


def _most_common(s: pd.Series):
    """The most frequent value (ties: the first in sort order); missing when there is none."""
    mode = s.mode(dropna=True)
    return mode.iloc[0] if len(mode) else None


def segment_summary(
    table: pd.DataFrame,
    score_name: str,
    planned: Mapping[str, str] | None = None,
    contacts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The Summary sheet: one row per segment of an :func:`action_table`, most urgent first.

    Columns: ``customers``, ``total_value``, ``mean_value``, ``mean_<score>``, the segment's
    ``recommended_action`` and ``owner_role`` (the most frequent in the segment: a few customers
    with an action of their own, such as the finance campaign's, do not stand for the segment),
    the earliest due date (``first_due_date``), ``first_priority`` and, when the list has a campaign
    (``campaign_rank``), ``in_campaign``: how many of the segment's customers it contacts (for
    a work list without a costed campaign, ``work_list_rank``: ``on_work_list``).
    ``planned`` (segment -> action) names the action of segments whose customers get it in a
    form of their value tier (the spec's ``tier_actions``): the playbook's action, which covers
    them all, rather than the most frequent variant. With ``contacts`` (tier -> who contacts the
    customer), a segment whose own customers (outside a campaign) are each owned by their
    tier's contact reads "By value tier: relationship manager (A), ..." as the report's plan
    does (:func:`crmlab.plans.by_tier`), not the contact of the largest tier.
    """
    agg = {
        "customers": ("customer_id", "size"),
        "total_value": ("value", "sum"),
        "mean_value": ("value", "mean"),
        f"mean_{score_name}": (score_name, "mean"),
        "recommended_action": ("recommended_action", _most_common),
        "owner_role": ("owner_role", _most_common),
        "first_due_date": ("due_date", "min"),
        "first_priority": ("priority", "min"),
    }
    ranked = [c for c in ("campaign_rank", "work_list_rank") if c in table.columns]
    for rank in ranked:
        agg["in_campaign" if rank == "campaign_rank" else "on_work_list"] = (rank, "count")
    out = table.groupby("segment", sort=False).agg(**agg).reset_index()
    for seg, action in (planned or {}).items():
        out.loc[out["segment"] == seg, "recommended_action"] = action
    if contacts and "contact" in table.columns:
        from crmlab import plans

        own = table[table[ranked[0]].isna()] if ranked else table
        for seg, rows in own.groupby("segment", sort=False):
            if rows["owner_role"].nunique() > 1 and (rows["owner_role"] == rows["contact"]).all():
                out.loc[out["segment"] == seg, "owner_role"] = plans.by_tier(contacts)
    return out


def planned_actions(spec: Mapping) -> dict[str, str]:
    """Segment -> the playbook's action, for the segments whose action the spec's
    ``tier_actions`` varies by value tier (see :func:`segment_summary`)."""
    from crmlab import plans

    book = plans.playbook(spec["playbook"])
    varied = plans.tier_actions(spec.get("tier_actions"))
    return {seg: book[seg][0] for seg in varied if seg in book}


def first_due_date(run: Run) -> dt.date | None:
    """The action list's earliest due date (:func:`action_table`: a campaign's first call, or
    the playbook's first action); None when the run has no action list. Built once per run in a
    process: the report's summary, the action list's Summary sheet and the runner's closing
    lines all ask for it."""
    results = run.path / "results.json"
    stamp = results.stat().st_mtime_ns if results.exists() else 0
    return _first_due(str(run.path), stamp)


@functools.lru_cache(maxsize=8)
def _first_due(path: str, stamp: int) -> dt.date | None:
    try:
        due = action_table(Run(Path(path)), rounded=False)["due_date"].dropna()
    except (CrmlabError, OSError):  # no artifact, no actions spec: no list
        return None
    return min(due) if len(due) else None


def past_due(run: Run, on: dt.date | None = None) -> tuple[str, dt.date, dt.date] | None:
    """``(plan start month, first due date, on)`` when the action list's first due date
    (:func:`first_due_date`) lies before ``on`` (default: the day the run finished), so the
    list's first dates are already past; else None (also for a run without a plan). The plan
    starts in the data's last month unless ``plan_start`` says otherwise, so a run on older
    data has this. What the report's summary, the action list's Summary sheet and the runner's
    closing lines say."""
    from crmlab.rundir import plan_start_month

    month, on = plan_start_month(run.results), on or run.finished_on
    if month is None or on is None or pd.Period(month, freq="M").start_time.date() >= on:
        return None  # (nothing can be due before the plan's first day: no list to build)
    first = first_due_date(run)
    return (month, first, on) if first is not None and first < on else None


def past_due_note(run: Run, lang: str) -> str | None:
    """The note of the report's summary and the action list's Summary sheet when the list's
    first due date had passed on the day of the run (:func:`past_due`); None otherwise."""
    past = past_due(run)
    if past is None:
        return None
    month, first, day = past
    return i18n.ui("plan_past_due", lang, month=month, end=first.isoformat(), run_date=day)


def _capped_note(n: int, lang: str, segment: str = "细分") -> str:
    if lang == "zh":
        return f"每个{segment}的工作表按优先级列出前 {n:,} 位客户；actions.csv 列出全部客户。"
    return f"Each segment sheet lists its first {n:,} customers by priority; actions.csv lists all."


def write_action_list(
    run_dir: str | Path,
    lang: str = "en",
    out_dir: str | Path | None = None,
    max_rows_per_sheet: int = EXCEL_ROWS_PER_SEGMENT,
    personal: PersonalData | None = None,
    name: str | None = None,
) -> tuple[Path, Path]:
    """Write ``actions.xlsx`` and ``actions.csv`` into a run directory (or ``out_dir``); returns
    their paths. Another language writes ``actions.<lang>.xlsx`` / ``.csv`` beside them (the
    English files stay); ``name`` sets the file names' stem instead (the runner writes a run's
    list in the run's language as ``actions``). The CSV starts with a UTF-8 byte-order mark, so Excel reads it as UTF-8.

    The Excel file has a ``Summary`` sheet (per segment: customers, total and mean value, mean
    score, action, owner role, due date) and one sheet per segment, most urgent first. Column
    headers and action texts are in ``lang`` (en or zh). Raises :class:`crmlab.privacy.
    PiiLeakError` before writing anything if the list would hold personal data. A segment sheet
    lists at most ``max_rows_per_sheet`` customers (the most urgent; a note on the summary sheet
    says so); ``actions.csv`` lists every customer. ``personal``: the run's raw personal data
    if already read (see :func:`personal_data_later`), else it is read here.
    """
    import xlsxwriter

    lang = i18n.check_lang(lang)
    run = Run.open(run_dir)
    exact = action_table(run, rounded=False)
    spec = run_action_spec(run)
    score_name = "churn_risk" if spec.get("score_kind") == "risk" else "satisfaction"
    table = _rounded(exact, score_name)
    check_no_personal_data(table, run, personal)
    # totals and means of the exact values (the report's), each then shown to the cent
    summary = segment_summary(exact, score_name, planned_actions(spec), tier_contacts(spec))
    summary[["total_value", "mean_value"]] = summary[["total_value", "mean_value"]].round(DECIMALS)
    currency = run_currency(run, spec)
    headers = list_headers(spec, lang)
    formats = sheet_formats(spec, lang, currency, headers)
    folder = Path(out_dir) if out_dir else run.path
    # another language beside the English files, unless named (a run writes its own language)
    stem = name or ("actions" if lang == "en" else f"actions.{lang}")
    xlsx = folder / f"{stem}.xlsx"
    csv = folder / f"{stem}.csv"
    with atomic.atomic_path(xlsx) as tmp:
        # constant memory: rows stream to disk; text is never read as a formula, URL or number
        options = {"constant_memory": True, "strings_to_formulas": False}
        with xlsxwriter.Workbook(str(tmp), {**options, "strings_to_urls": False}) as wb:
            fmt, used = _Formats(wb), set()
            summary_name = _sheet_name("Summary" if lang == "en" else "汇总", used)
            summary_sheet = wb.add_worksheet(summary_name)
            shown = localized(summary, lang, True, currency, headers)
            _write_sheet(summary_sheet, fmt, shown, formats)
            for segment in summary["segment"]:
                part = table[table["segment"] == segment].head(max_rows_per_sheet)
                ws = wb.add_worksheet(_sheet_name(_segment_name(segment, lang), used))
                _write_sheet(ws, fmt, localized(part, lang, True, currency, headers), formats)
            notes = [past_due_note(run, lang)]
            if (summary["customers"] > max_rows_per_sheet).any():
                notes.append(_capped_note(max_rows_per_sheet, lang, *headers.values()))
            for i, note in enumerate(n for n in notes if n):
                summary_sheet.write(len(summary) + 2 + i, 0, note)
    # with a byte-order mark: Excel (a Chinese Windows above all) then reads the file as UTF-8
    shown = localized(table, lang, currency=currency, headers=headers)
    atomic.write_text(csv, shown.to_csv(index=False), encoding="utf-8-sig")
    return xlsx, csv
