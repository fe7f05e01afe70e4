"""Turn pseudonyms back into the client's own customer numbers and contact details.

The deliverables of a config run hold pseudonyms only (``P-`` + 12 hex characters of
HMAC-SHA256(key, customer number), :mod:`crmlab.privacy`). A pseudonym cannot be reversed, but
whoever holds the key and the client's exports can recompute every customer's pseudonym and so
find the customer behind each row. This module does that with the import's own code path
(:func:`crmlab.ingest.load` then :func:`crmlab.ingest.pseudonymize`), so a customer number is
normalized exactly as on import (``1001``, ``1001.0`` and ``" 1001 "`` are one customer).

- :func:`identities` - pseudonym -> customer number (under the client's column name) and the
  contact columns of the export (person name, phone, e-mail, address);
- :func:`reidentify` - an action table with those columns added after ``customer_id``;
- :func:`write_contact_list` - a run's action list re-identified, written as .xlsx or .csv
  outside the run folder (the run folder is the deliverable and stays free of personal data),
  in the run's language (the config's ``report: {lang: zh}``) unless told otherwise.

Personal columns that are not needed to contact a customer (national id numbers, birth dates,
bank accounts, IP addresses) are never copied into the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlab import atomic, paths, privacy
from crmlab.config import CaseConfig, load_config, pseudonym_key, tracked_by_git
from crmlab.errors import DataError, ParameterError

PSEUDONYM_PATTERN = re.compile(
    rf"^{re.escape(privacy.DEFAULT_PREFIX)}[0-9a-f]{{{privacy.DEFAULT_LENGTH}}}$"
)
"""What a pseudonym of the import looks like: ``P-`` and 12 lower-case hex characters."""

NOT_FOR_CONTACT = ("national id", "birth date", "bank account", "IP address")
"""Kinds of personal data (:func:`crmlab.privacy.detect_pii_columns`) left out of a contact list."""

DEFAULT_ID_NAME = "customer_number"
"""Header of the customer-number column when the config does not name the client's column."""

SUFFIXES = (".xlsx", ".csv")


@dataclass
class Identities:
    """Who is behind each pseudonym of a client's exports.

    Attributes
    ----------
    table
        Indexed by pseudonym (``customer_id`` of the deliverables); first column ``id_column``
        (the customer number as exported, as text), then ``contact_columns``. One row per
        customer; a contact detail is taken from the first source that has it (customers first).
    id_column
        The client's name of the customer-number column (from the config's ``columns:``).
    contact_columns
        Personal columns of the exports that serve to contact a customer, in export order.
    """

    table: pd.DataFrame
    id_column: str
    contact_columns: list[str]


def _client_id_name(cfg: CaseConfig, sources: list[str]) -> str:
    """The client's column name for ``customer_id`` (customers source first), else the default."""
    for name in sources:
        m = cfg.columns.get(name, {}).get("customer_id") or cfg.global_columns.get("customer_id")
        if m is not None and len(m.columns) == 1:
            return m.columns[0]
    return DEFAULT_ID_NAME


def _contact_columns(original: pd.DataFrame, pseudonymized: list[str]) -> list[str]:
    """The pseudonymized columns of one source that serve to contact a customer."""
    candidates = [c for c in pseudonymized if c != "customer_id" and c in original.columns]
    if not candidates:
        return []
    reasons = privacy.detect_pii_columns(original[candidates].astype("object"))
    return [c for c in candidates if not any(k in reasons.get(c, "") for k in NOT_FOR_CONTACT)]


def identities(cfg: CaseConfig, key: bytes | None = None) -> Identities:
    """Read the client's exports of ``cfg`` and return who is behind each pseudonym.

    ``key`` defaults to the config's key (:func:`crmlab.config.pseudonym_key`: the environment
    variable, else ``key_file:``) - the key the run used. Raises :class:`DataError` when the
    exports cannot be read as the config maps them (the problems of ``crmlab validate``).
    """
    from crmlab import ingest
    from crmlab.schemas import format_problems

    if key is None:
        key, _ = pseudonym_key(cfg)
    prepared = ingest.load(cfg)
    if not prepared.ok:
        raise DataError(
            f"{cfg.path}: the exports cannot be read as the config maps them.\n"
            + format_problems(prepared.problems)
            + f"\nCheck them with `crmlab validate --config {paths.from_cwd(cfg.path)}`."
        )
    original = {n: df for n, df in prepared.tables.items()}
    ingest.pseudonymize(prepared, key)
    order = sorted(original, key=lambda n: n != "customers")  # customers first, else as read
    with_ids = [n for n in order if "customer_id" in original[n].columns]
    id_name = _client_id_name(cfg, with_ids)
    frames, contacts = [], []
    for name in with_ids:
        cols = _contact_columns(original[name], prepared.pseudonymized.get(name, []))
        contacts += [c for c in cols if c not in contacts and c != id_name]
        frame = original[name][[c for c in cols if c != id_name]].astype("string")
        frame.insert(0, id_name, original[name]["customer_id"].astype("string"))  # as imported
        frame.index = pd.Index(prepared.tables[name]["customer_id"], name="customer_id")
        frames.append(frame[frame.index.notna()])
    if not frames:
        raise DataError(f"{cfg.path}: no source of the config has a customer_id column.")
    table = pd.concat(frames).groupby(level=0, sort=False).first()  # first non-missing value
    return Identities(table[[id_name, *contacts]], id_name, contacts)


def reidentify(actions: pd.DataFrame, who: Identities) -> tuple[pd.DataFrame, int]:
    """``actions`` with the customer number and contact columns inserted after ``customer_id``.

    Returns the table (same rows, same order) and the number of rows whose pseudonym is not in
    the exports (their added columns are empty).
    """
    if "customer_id" not in actions.columns:
        raise DataError("The action table has no customer_id column.")
    added = who.table.reindex(actions["customer_id"].astype("string")).reset_index(drop=True)
    added.index = actions.index
    missing = int(added[who.id_column].isna().sum())
    at = actions.columns.get_loc("customer_id") + 1
    clash = [c for c in added.columns if c in actions.columns]
    added = added.rename(columns={c: f"{c} (export)" for c in clash})
    out = pd.concat([actions.iloc[:, :at], added, actions.iloc[:, at:]], axis=1)
    return out, missing


def lookup(cfg: CaseConfig, pseudonyms: list[str], key: bytes | None = None) -> pd.DataFrame:
    """The customer number and contact columns of each pseudonym (a row of missing values for
    one that is in none of the exports). Raises :class:`ParameterError` for text that is not a
    pseudonym."""
    bad = [p for p in pseudonyms if not PSEUDONYM_PATTERN.match(p)]
    if bad:
        raise ParameterError(
            f"Not a pseudonym: {', '.join(bad)}. A pseudonym is "
            f"{privacy.DEFAULT_PREFIX} and {privacy.DEFAULT_LENGTH} hex characters, as in the "
            "customer_id column of actions.csv (e.g. P-3f9a2c1b7d04)."
        )
    who = identities(cfg, key)
    return who.table.reindex(pd.Index(pseudonyms, name="customer_id"))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _shown(
    table: pd.DataFrame, added: list[str], lang: str, excel: bool, spec: dict, currency
) -> pd.DataFrame:
    """A contact list as written: as the run's action list is in ``lang`` (``actions.xlsx``,
    ``actions.zh.xlsx`` / ``.csv``; the English CSV keeps the column names), with the client's
    columns (``added``) as exported; one of them named like a header of the list says
    where it came from (``（导出）`` / `` (export)``)."""
    from crmlab.actions import list_headers, localized

    if lang == "en" and not excel:
        return table
    shown = localized(table, lang, excel, currency, list_headers(spec, lang), keep=added)
    listed = {h for h, c in zip(shown.columns, table.columns, strict=True) if c not in added}
    mark = "（导出）" if lang == "zh" else " (export)"
    shown.columns = [
        f"{h}{mark}" if c in added and h in listed else h
        for h, c in zip(shown.columns, table.columns, strict=True)
    ]
    return shown


def write_contact_list(
    run_dir: str | Path,
    config_path: str | Path,
    out: str | Path,
    key: bytes | None = None,
    lang: str | None = None,
) -> tuple[Path, int, int]:
    """Write a run's action list with customer numbers and contact details to ``out``.

    ``out`` ends in ``.xlsx`` or ``.csv`` (UTF-8 with a byte-order mark, for Excel) and lies
    outside the runs folder (which is handed over and must hold no personal data) and not where
    git would commit it (e.g. in the git-ignored ``private/`` of a ``crmlab new`` folder). Columns: those
    of ``actions.csv``, with the customer number and contact columns after ``customer_id``.
    ``lang`` (en or zh; default: the config's ``report: {lang: ...}``, the run's language):
    headers and action texts as the run's action list has them in that language
    (``actions.xlsx`` / ``actions.zh.xlsx``; a .csv in English keeps the column names of
    ``actions.csv``); the client's columns keep their own names and values. The .xlsx is
    written as the action list's sheets are (:func:`crmlab.actions.write_sheet`): value and
    score as numbers with the list's formats (thousands separators; a churn risk as a percent),
    due dates as dates, columns wide enough for their values, the header frozen with a filter;
    the client's columns (customer numbers, phones) as text.
    Returns the path, the number of rows and the number of rows not found in the exports.
    Raises :class:`DataError` when no row is found (the run was made from other exports or with
    another key), before anything is written.
    """
    from crmlab import i18n
    from crmlab.actions import action_table, run_action_spec, run_currency
    from crmlab.rundir import Run

    run = Run.open(run_dir)
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise ParameterError(f"--out {out}: name a .xlsx or .csv file.")
    runs_root = run.path.parent.parent  # reports/ or <config folder>/runs/
    if _inside(out, runs_root):
        raise ParameterError(
            f"--out {out} is inside {runs_root}, the folder of the runs and their deliverables, "
            "which hold no personal data. Write the contact list where the client's own data "
            "are kept, e.g. beside the exports."
        )
    if tracked_by_git(out):
        raise ParameterError(
            f"--out {out} would be committed by git (it is in a git work tree and not ignored), "
            "and the contact list holds personal data. Write it into the git-ignored private/ "
            "folder beside the config (`crmlab new` ignores it), or add it to a .gitignore."
        )
    cfg = load_config(config_path)
    lang = i18n.check_lang(lang or cfg.report_lang)
    if cfg.case != run.case:
        raise ParameterError(
            f"{run.path} is a run of {run.case}, but {cfg.path.name} is a config of {cfg.case}."
        )
    actions = action_table(run)
    who = identities(cfg, key)
    table, missing = reidentify(actions, who)
    if len(table) and missing == len(table):
        _, source = pseudonym_key(cfg) if key is None else (None, "the given key")
        raise DataError(
            f"None of the {len(table)} customers of the action list of {run.path} is in the "
            f"exports of {cfg.path.name} with the key from {source}: the run was made from other "
            "exports or with another key. Use the config and key the run was made with."
        )
    spec = run_action_spec(run)
    added = [c for c in table.columns if c not in actions.columns]
    excel = out.suffix.lower() == ".xlsx"
    currency = run_currency(run, spec)
    shown = _shown(table, added, lang, excel, spec, currency)
    with atomic.atomic_path(out, mode=0o600) as tmp:  # personal data: for its owner only
        if not excel:  # as actions.csv (English: the column names, for a CRM import)
            shown.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:  # headers, values, number formats and widths as actions.xlsx
            import xlsxwriter

            from crmlab.actions import list_headers, sheet_formats, write_sheet

            sheet = "联系名单" if lang == "zh" else "contacts"
            formats = sheet_formats(spec, lang, currency, list_headers(spec, lang))
            # as actions.xlsx: an export's text is never turned into a formula or a link
            options = {"strings_to_formulas": False, "strings_to_urls": False}
            with xlsxwriter.Workbook(str(tmp), options) as wb:
                write_sheet(wb, sheet, shown, formats)
    return out, len(table), missing
