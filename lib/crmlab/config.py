"""Load and check a case config: the YAML file that points a case at a client's export.

The format is documented in ``docs/config.md`` (worked examples: ``crmlab new NAME --from CASE
--example``, their configs in ``templates/examples/``). In short::

    case: retail_satisfaction            # which case's notebooks to run
    title: Client review                 # the report's title (and status.json's)
    client: ACME Stores                  # the report's "Client" line
    data:                                # source -> file (relative to this config file)
      customers: exports/members.csv     #   a path, or a mapping with path/sheet/encoding/...
      survey: {path: exports/survey.xlsx, sheet: 2025}
      complaints: {query: "SELECT * FROM 'exports/complaints.csv'"}
    columns:                             # canonical name: the client's column
      customer_id: 会员编号               #   applies to every source that has this column
      transactions:                      #   or per source
        date: {column: 交易日期, format: "%Y%m%d"}
      survey:
        satisfaction: {column: [q1, q2], scale: [1, 10], satisfied_at: 7}
        drivers: {staff_service: [q3, q4], product_quality: q5}
    values:                              # canonical value: the client's values
      loyalty_member: {true: [是, "Y"], false: [否, "N"]}
    features: auto                       # other columns: auto (kept, typed) / a list / none
    pii: [姓名, 手机]                     # pseudonymized on import (plus detected ones)
    key_file: secret.key                 # pseudonym key (or $CRMLAB_PSEUDONYM_KEY)
    params: {target: 0.92}               # notebook parameters (-p on the command line wins)

:func:`load_config` reads the file and checks it completely before any data is read: unknown
keys, wrong types, unknown sources or canonical columns are all reported at once, each with the
file name, the line and the key path, e.g. ``client.yaml line 7, data.survey.sheet: expected a
sheet name or number, got a list``. It raises :class:`~crmlab.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmlab.errors import ConfigError, ParameterError
from crmlab.params import CHOICES
from crmlab.privacy import KEY_ENV_VAR
from crmlab.schemas import RETAIL_DRIVER_NAMES, SATISFACTION_ALIAS, SourceSpec, case_schema

__all__ = [
    "CaseConfig",
    "ColumnMap",
    "SourceConfig",
    "load_config",
    "pseudonym_key",
]

TOP_KEYS = {
    "case": "which case's notebooks to run (see `crmlab list`)",
    "title": "a title shown in reports",
    "client": "the client's name, shown in reports",
    "data": "source -> file (or a folder of <source>.csv files)",
    "columns": "canonical column -> the client's column",
    "values": "canonical value -> the client's values",
    "features": "auto, none, or a list of other columns to keep",
    "pii": "client columns holding personal data (pseudonymized on import)",
    "key_file": "file holding the pseudonymization key (git-ignored)",
    "params": "notebook parameters",
    "report": "report options: lang (en or zh)",
    "engine": "where the large tables are processed: duckdb (default), spark or pandas",
    "spark_master": "Spark master URL for engine: spark (default local[2])",
}
ENGINES = CHOICES["engine"]
SOURCE_KEYS = {
    "path": "file path (.csv, .tsv, .txt, .parquet, .xlsx, .xlsm)",
    "query": "a DuckDB SELECT over files (paths relative to the config file)",
    "sheet": "Excel sheet name or number (first sheet = 0)",
    "encoding": "text encoding, e.g. utf-8, gbk, gb18030, latin-1 (default: detected)",
    "sep": "column separator (default: detected among , ; tab |)",
    "decimal": "decimal mark of numbers: '.' (default) or ','",
    "header_row": "row of the column names (default 1)",
}
COLUMN_KEYS = {
    "column": "the client's column, or a list of columns (averaged)",
    "format": "date format, e.g. '%Y%m%d' or '%d/%m/%Y'",
    "dayfirst": "read ambiguous dates such as 05/01/2024 day first",
    "scale": "[low, high] of the client's rating scale",
    "satisfied_at": "lowest rating that counts as satisfied (on the client's scale)",
}
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xlsm")
SAVE_AS = {
    ".xlsb": ".xlsb (Excel binary workbook): save it as .xlsx or .csv in Excel",
    ".xls": ".xls (old Excel workbook): save it as .xlsx or .csv in Excel",
    ".ods": ".ods (OpenDocument spreadsheet): save it as .xlsx or .csv",
    ".numbers": ".numbers (Apple Numbers): export it as .xlsx or .csv",
}
"""What to do with a spreadsheet file type crmlab does not read (the path: problem says it)."""
RUNNER_SET = ("data_dir", "run_dir")


@dataclass(frozen=True)
class SourceConfig:
    """Where one source comes from (exactly one of ``path`` / ``query``)."""

    name: str
    display: str  # as written in the config (for messages)
    path: Path | None = None
    query: str | None = None
    sheet: str | int | None = None
    encoding: str | None = None
    sep: str | None = None
    decimal: str = "."
    header_row: int = 1


@dataclass(frozen=True)
class ColumnMap:
    """How one canonical column is made from the client's column(s)."""

    field: str
    columns: tuple[str, ...]
    format: str | None = None
    dayfirst: bool = False
    scale: tuple[float, float] | None = None
    satisfied_at: float | None = None

    @property
    def averaged(self) -> bool:
        return len(self.columns) > 1


@dataclass
class CaseConfig:
    """A checked case config (see the module docstring); paths are absolute."""

    path: Path
    case: str
    title: str | None
    sources: dict[str, SourceConfig]
    columns: dict[str, dict[str, ColumnMap]]  # source -> canonical -> map
    global_columns: dict[str, ColumnMap]  # canonical -> map (every source that has it)
    drivers: dict[str, ColumnMap] | None  # survey drivers (None = the standard names)
    values: dict[str, dict[str, dict[Any, list]]]  # source or "*" -> canonical -> mapping
    features: dict[str, str | list[str]]  # source or "*" -> "auto" | "none" | [columns]
    pii: list[str]
    params: dict[str, Any]
    key_file: Path | None = None
    client: str | None = None
    report_lang: str = "en"
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def features_for(self, source: str) -> str | list[str]:
        return self.features.get(source, self.features.get("*", "auto"))

    def values_for(self, source: str, canonical: str) -> dict | None:
        per = self.values.get(source, {}).get(canonical)
        return per if per is not None else self.values.get("*", {}).get(canonical)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
class _Problems:
    """Collects config problems so that all are reported at once."""

    def __init__(self, path: Path, lines: Mapping[tuple, int]):
        self.path = path
        self.lines = lines
        self.items: list[str] = []
        self.hints: list[str] = []

    def hint(self, text: str) -> None:
        """A line shown once after the problems (e.g. where to look up the valid values)."""
        if text not in self.hints:
            self.hints.append(text)

    def add(self, keypath: tuple, message: str) -> None:
        line = None
        for n in range(len(keypath), 0, -1):
            line = self.lines.get(tuple(keypath[:n]))
            if line is not None:
                break
        where = ".".join(str(k) for k in keypath) or "(top level)"
        at = f" line {line}" if line else ""
        self.items.append(f"{self.path.name}{at}, {where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise ConfigError(
                f"{self.path}: {n} problem(s) in the config:\n"
                + "\n".join(f"  - {m}" for m in self.items)
                + "".join(f"\n{h}" for h in self.hints)
                + "\nThe format is described in docs/config.md."
            )


def _line_map(text: str) -> dict[tuple, int]:
    """Key path -> 1-based line of the key in the YAML text (for messages)."""
    import yaml

    lines: dict[tuple, int] = {}

    def walk(node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                lines[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return lines


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def load_config(path: str | os.PathLike) -> CaseConfig:
    """Read and check a case config file; raises :class:`ConfigError` listing every problem.

    Checks: the file exists and is a YAML mapping; only known keys (top level, per source, per
    column); ``case`` names a case with an input schema; ``data`` names only that case's sources;
    ``columns``/``values`` name only its canonical columns; types of every value; ``params``
    names only the case's notebook parameters, with values of their types (:func:`_params`).
    Command-line parameters (and required ones missing from both) are checked later
    (:func:`crmlab.runner.plan`), data files by :mod:`crmlab.ingest`.
    """
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        hint = ""
        if p.parent.is_dir():
            near = _suggest(p.name, [q.name for q in p.parent.iterdir()])
            hint = near
        raise ConfigError(
            f"Config file {p} not found (relative paths start at {Path.cwd()}).{hint}"
        )
    text = p.read_text(encoding="utf-8-sig")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    if raw is None:
        raise ConfigError(f"{p}: the file is empty. Start from `crmlab new NAME --from CASE`.")
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping with keys like case:, data:, columns:.")
    p = p.resolve()
    problems = _Problems(p, _line_map(text))
    for k in raw:
        if k not in TOP_KEYS:
            problems.add(
                (k,), f"unknown key.{_suggest(k, TOP_KEYS)} Known keys: {', '.join(TOP_KEYS)}."
            )
    case = raw.get("case")
    if not isinstance(case, str) or not case:
        problems.add(("case",), "name the case to run, e.g. case: retail_satisfaction.")
        problems.raise_if_any()
    try:
        schema = case_schema(case)
    except ConfigError as e:
        problems.add(("case",), str(e).removeprefix("case: "))
        problems.raise_if_any()
        raise  # pragma: no cover - raise_if_any raised
    title = raw.get("title")
    if title is not None and not isinstance(title, str):
        problems.add(("title",), "expected text.")
    client = raw.get("client")
    if client is not None and not isinstance(client, str):
        problems.add(("client",), "expected text (the client's name).")
    sources = _sources(raw.get("data"), p.parent, schema, problems)
    global_cols, per_source, drivers = _columns(raw.get("columns"), schema, problems)
    values = _values(raw.get("values"), schema, problems)
    features = _features(raw.get("features", "auto"), schema, problems)
    pii = _str_list(raw.get("pii", []), ("pii",), problems)
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        problems.add(("params",), "expected a mapping NAME: VALUE.")
        params = {}
    for name in RUNNER_SET:
        if name in params:
            problems.add(
                ("params", name),
                "is set by the runner for a config run (the imported data / the run folder).",
            )
    _params(case, params, problems)
    _engine_params(raw, params, problems)
    key_file = raw.get("key_file")
    if key_file is not None and not isinstance(key_file, str):
        problems.add(("key_file",), "expected a file path.")
        key_file = None
    report = raw.get("report") or {}
    report_lang = report.get("lang", "en") if isinstance(report, dict) else None
    if report_lang not in ("en", "zh"):
        problems.add(("report",), "expected a mapping like `lang: zh` (lang: en or zh).")
        report_lang = "en"
    problems.raise_if_any()
    return CaseConfig(
        path=p,
        case=case,
        title=title,
        sources=sources,
        columns=per_source,
        global_columns=global_cols,
        drivers=drivers,
        values=values,
        features=features,
        pii=pii,
        params=dict(params),
        key_file=(p.parent / key_file) if key_file else None,
        report_lang=report_lang,
        lines=problems.lines,
        client=client,
    )


def _params(case: str, params: dict, problems) -> None:
    """The values under ``params:`` against the case's notebook parameters
    (:func:`crmlab.params.check`): unknown names, wrong types, values outside their choices.
    Required parameters are not asked for here: ``-p`` on the command line may give them."""
    given = {k: v for k, v in params.items() if k not in RUNNER_SET}
    if not given:
        return  # (reading the notebooks' parameters costs a second)
    from crmlab.cases import get_case
    from crmlab.params import case_parameters, check

    _, found = check(case_parameters(get_case(case)), given, required=False)
    for name, message in found:
        problems.add(("params", name), message.rstrip(".") + ".")
    if found:
        problems.hint(
            f"`crmlab params {case}` lists the valid parameters with their types and defaults."
        )


def _engine_params(raw: dict, params: dict, problems) -> None:
    """``engine:`` and ``spark_master:`` become the notebook parameters of the same names."""
    for name in ("engine", "spark_master"):
        if name not in raw:
            continue
        value = raw[name]
        if name in params:
            problems.add((name,), "set either here or under params:, not both.")
        elif name == "engine" and value not in ENGINES:
            problems.add((name,), f"expected one of {', '.join(ENGINES)}, got {value!r}.")
        elif name == "spark_master" and not (isinstance(value, str) and value.strip()):
            problems.add((name,), "expected a Spark master URL such as spark://host:7077.")
        else:
            params[name] = value
    if "spark_master" in raw and raw.get("engine", params.get("engine")) != "spark":
        problems.add(("spark_master",), "is used only with engine: spark.")


def _sources(data, folder: Path, schema: dict[str, SourceSpec], problems) -> dict:
    out: dict[str, SourceConfig] = {}
    if data is None:
        problems.add(("data",), "say where the client's files are: data: {source: file}.")
        return out
    if isinstance(data, str):  # a folder of <source>.<ext> files
        base = folder / data
        if not base.is_dir():
            problems.add(("data",), f"folder {base} does not exist.")
            return out
        for name in schema:
            for ext in FILE_SUFFIXES:
                f = base / f"{name}{ext}"
                if f.is_file():
                    out[name] = SourceConfig(name, str(Path(data) / f.name), path=f)
                    break
        if not out:
            expected = ", ".join(f"{s}.csv" for s in schema)
            problems.add(("data",), f"{base} holds none of the case's files ({expected}).")
        return out
    if not isinstance(data, dict):
        problems.add(("data",), "expected a mapping source: file (or a folder path).")
        return out
    for name, spec in data.items():
        kp = ("data", name)
        if name not in schema:
            problems.add(
                kp,
                f"not a source of this case.{_suggest(name, schema)} Sources: {', '.join(schema)}.",
            )
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict):
            problems.add(kp, "expected a file path or a mapping with path: (or query:).")
            continue
        for k in spec:
            if k not in SOURCE_KEYS:
                problems.add(
                    (*kp, k),
                    f"unknown key.{_suggest(k, SOURCE_KEYS)} Known: {', '.join(SOURCE_KEYS)}.",
                )
        path, query = spec.get("path"), spec.get("query")
        if (path is None) == (query is None):
            problems.add(kp, "give exactly one of path: (a file) or query: (DuckDB SELECT).")
            continue
        if path is not None and not isinstance(path, str):
            problems.add((*kp, "path"), "expected a file path.")
            continue
        if query is not None and not isinstance(query, str):
            problems.add((*kp, "query"), "expected SQL text.")
            continue
        sheet = spec.get("sheet")
        if sheet is not None and not isinstance(sheet, str | int) or isinstance(sheet, bool):
            problems.add((*kp, "sheet"), f"expected a sheet name or number, got {sheet!r}.")
            sheet = None
        enc = spec.get("encoding")
        if enc is not None:
            import codecs

            try:
                codecs.lookup(str(enc))
            except LookupError:
                problems.add((*kp, "encoding"), f"unknown encoding '{enc}' (try gbk, latin-1).")
                enc = None
        sep = spec.get("sep")
        if sep is not None and (not isinstance(sep, str) or len(sep) != 1):
            problems.add((*kp, "sep"), "expected one character, e.g. ',' or ';' or '\\t'.")
            sep = None
        decimal = spec.get("decimal", ".")
        if decimal not in (".", ","):
            problems.add((*kp, "decimal"), "expected '.' or ','.")
            decimal = "."
        header_row = spec.get("header_row", 1)
        if not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1:
            problems.add((*kp, "header_row"), "expected a row number from 1.")
            header_row = 1
        if path is not None:
            resolved = folder / path
            if resolved.suffix.lower() not in FILE_SUFFIXES:
                what = SAVE_AS.get(resolved.suffix.lower(), "unsupported file type")
                problems.add(
                    (*kp, "path"),
                    f"'{path}': {what}; use one of {', '.join(FILE_SUFFIXES)}.",
                )
                continue
            out[name] = SourceConfig(
                name, path, resolved, None, sheet, enc, sep, decimal, header_row
            )
        else:
            out[name] = SourceConfig(name, "query", None, query, None, None, None, ".", 1)
    return out


def _column_map(value, canonical: str, kp: tuple, problems) -> ColumnMap | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return ColumnMap(canonical, (str(value),))
    if isinstance(value, list):
        cols = _str_list(value, kp, problems)
        return ColumnMap(canonical, tuple(cols)) if cols else None
    if not isinstance(value, dict):
        problems.add(kp, "expected the client's column name, a list of names, or a mapping.")
        return None
    for k in value:
        if k not in COLUMN_KEYS:
            problems.add(
                (*kp, k), f"unknown key.{_suggest(k, COLUMN_KEYS)} Known: {', '.join(COLUMN_KEYS)}."
            )
    col = value.get("column")
    if col is None:
        problems.add(kp, "say which column: column: NAME (or a list of names).")
        return None
    cols = [str(col)] if isinstance(col, str | int) else _str_list(col, (*kp, "column"), problems)
    fmt = value.get("format")
    if fmt is not None and not isinstance(fmt, str):
        problems.add((*kp, "format"), "expected a date format such as '%Y%m%d'.")
        fmt = None
    dayfirst = value.get("dayfirst", False)
    if not isinstance(dayfirst, bool):
        problems.add((*kp, "dayfirst"), "expected true or false.")
        dayfirst = False
    scale = value.get("scale")
    if scale is not None:
        ok = (
            isinstance(scale, list)
            and len(scale) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in scale)
            and scale[0] < scale[1]
        )
        if not ok:
            problems.add((*kp, "scale"), f"expected [low, high] numbers, got {scale!r}.")
            scale = None
        else:
            scale = (float(scale[0]), float(scale[1]))
    sat = value.get("satisfied_at")
    if sat is not None:
        if not isinstance(sat, int | float) or isinstance(sat, bool):
            problems.add((*kp, "satisfied_at"), "expected a number on the client's scale.")
            sat = None
        elif scale is not None and not scale[0] < sat <= scale[1]:
            problems.add(
                (*kp, "satisfied_at"), f"{sat} is not inside the scale {list(scale)} (above low)."
            )
            sat = None
        elif canonical != "overall_satisfaction":
            problems.add((*kp, "satisfied_at"), "only applies to satisfaction.")
            sat = None
    if canonical == "overall_satisfaction" and scale is not None and sat is None:
        if scale != (1.0, 5.0):
            problems.add(
                (*kp, "satisfied_at"),
                f"on a {scale[0]:g}-{scale[1]:g} scale say which rating counts as satisfied, "
                "e.g. satisfied_at: 7 on a 1-10 scale (CSAT needs an explicit threshold).",
            )
    if cols and not cols[0]:
        return None
    return ColumnMap(canonical, tuple(cols), fmt, dayfirst, scale, sat)


def _canonical_names(schema: dict[str, SourceSpec]) -> set[str]:
    names = {f.name for s in schema.values() for f in s.fields}
    return names | set(SATISFACTION_ALIAS)


def _columns(columns, schema: dict[str, SourceSpec], problems):
    global_cols: dict[str, ColumnMap] = {}
    per_source: dict[str, dict[str, ColumnMap]] = {}
    drivers: dict[str, ColumnMap] | None = None
    if columns is None:
        return global_cols, per_source, drivers
    if not isinstance(columns, dict):
        problems.add(("columns",), "expected a mapping canonical_name: client_column.")
        return global_cols, per_source, drivers
    known = _canonical_names(schema)
    survey_source = next((s for s, spec in schema.items() if spec.drivers), None)
    for key, value in columns.items():
        kp = ("columns", key)
        if key in schema and isinstance(value, dict) and "column" not in value:
            per_source[key] = {}
            spec = schema[key]
            names = set(spec.names) | (set(SATISFACTION_ALIAS) if spec.drivers else set())
            for canon, v in value.items():
                if canon == "drivers" and spec.drivers:
                    drivers = _drivers(v, (*kp, canon), problems)
                    continue
                if canon not in names:
                    problems.add(
                        (*kp, canon),
                        f"not a column of {key}.{_suggest(canon, names)} "
                        f"Columns: {', '.join(spec.names)}"
                        + (", drivers" if spec.drivers else "")
                        + ".",
                    )
                    continue
                name = SATISFACTION_ALIAS.get(canon, canon)
                m = _column_map(v, name, (*kp, canon), problems)
                if m is not None:
                    per_source[key][name] = m
        elif key == "drivers" and survey_source is not None:
            drivers = _drivers(value, kp, problems)
        elif key in known:
            name = SATISFACTION_ALIAS.get(key, key)
            m = _column_map(value, name, kp, problems)
            if m is not None:
                global_cols[name] = m
        else:
            problems.add(
                kp,
                f"neither a source nor a canonical column of this case.{_suggest(key, known | set(schema))}"
                f" Sources: {', '.join(schema)}; `crmlab new` lists the columns.",
            )
    return global_cols, per_source, drivers


def _drivers(value, kp: tuple, problems) -> dict[str, ColumnMap] | None:
    """``drivers:`` - driver name -> column spec; a ``scale: [lo, hi]`` entry is the default
    scale of the drivers that give none."""
    if not isinstance(value, dict) or not value:
        problems.add(kp, "expected a mapping driver_name: client column (or a list of columns).")
        return None
    shared = None
    if "scale" in value:
        probe = _column_map({"column": "_", "scale": value["scale"]}, "_", (*kp, "scale"), problems)
        shared = probe.scale if probe is not None else None
    out = {}
    for name, v in value.items():
        if name == "scale":
            continue
        if not isinstance(name, str) or not name.isidentifier():
            problems.add(
                (*kp, name), "driver names must be simple names like staff_service (a-z, 0-9, _)."
            )
            continue
        m = _column_map(v, name, (*kp, name), problems)
        if m is not None:
            if m.scale is None and shared is not None:
                m = ColumnMap(m.field, m.columns, m.format, m.dayfirst, shared, m.satisfied_at)
            out[name] = m
    if len(out) > 15:
        problems.add(kp, f"{len(out)} drivers; the key-driver analysis allows at most 15.")
    return out or None


def _values(values, schema: dict[str, SourceSpec], problems) -> dict:
    out: dict[str, dict] = {"*": {}}
    if values is None:
        return out
    if not isinstance(values, dict):
        problems.add(("values",), "expected a mapping canonical_column: {value: [client values]}.")
        return out
    known = _canonical_names(schema)
    for key, value in values.items():
        kp = ("values", key)
        if key in schema and isinstance(value, dict) and key not in known:
            names = set(schema[key].names) | set(SATISFACTION_ALIAS) | set(RETAIL_DRIVER_NAMES)
            out[key] = {}
            for canon, mapping in value.items():
                if canon not in names:
                    problems.add((*kp, canon), f"not a column of {key}.{_suggest(canon, names)}")
                    continue
                m = _value_map(mapping, (*kp, canon), problems)
                if m is not None:
                    out[key][SATISFACTION_ALIAS.get(canon, canon)] = m
        elif key in known or key in RETAIL_DRIVER_NAMES:
            m = _value_map(value, kp, problems)
            if m is not None:
                out["*"][SATISFACTION_ALIAS.get(key, key)] = m
        else:
            problems.add(
                kp, f"neither a source nor a canonical column.{_suggest(key, known | set(schema))}"
            )
    return out


def _value_map(mapping, kp: tuple, problems) -> dict | None:
    if not isinstance(mapping, dict) or not mapping:
        problems.add(
            kp, "expected {canonical value: [client values]}, e.g. {true: [是], false: [否]}."
        )
        return None
    out = {}
    for canon, client in mapping.items():
        items = client if isinstance(client, list) else [client]
        bad = [c for c in items if isinstance(c, dict | list)]
        if bad:
            problems.add((*kp, canon), "expected a list of client values.")
            continue
        out[canon] = items
    return out


def _features(features, schema, problems) -> dict:
    def one(v, kp):
        if v is None or v is False:
            return "none"
        if isinstance(v, str) and v in ("auto", "none"):
            return v
        if isinstance(v, list):
            return _str_list(v, kp, problems)
        problems.add(kp, "expected auto, none, or a list of column names.")
        return "auto"

    if isinstance(features, dict):
        out = {}
        for k, v in features.items():
            if k not in schema:
                problems.add(("features", k), f"not a source.{_suggest(k, schema)}")
                continue
            out[k] = one(v, ("features", k))
        return out
    return {"*": one(features, ("features",))}


def _str_list(value, kp: tuple, problems) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        problems.add(kp, "expected a list of column names.")
        return []
    out = []
    for i, v in enumerate(value):
        if isinstance(v, str | int) and not isinstance(v, bool):
            out.append(str(v))
        else:
            problems.add((*kp, i), f"expected a column name, got {v!r}.")
    return out


# --------------------------------------------------------------------------------------------
# the pseudonymization key
# --------------------------------------------------------------------------------------------
def pseudonym_key(cfg: CaseConfig) -> tuple[bytes, str]:
    """The secret key for pseudonyms of client data, and where it came from (never the key).

    Order: environment variable ``$CRMLAB_PSEUDONYM_KEY``; else the config's ``key_file:``
    (relative to the config), which must not be tracked by git (it must be git-ignored when it is
    inside a git work tree). A key has at least 16 characters. Raises :class:`ConfigError` when
    there is none (client data is never pseudonymized with a public demo key) and when both are
    there and differ (the pseudonyms would depend on the shell the run was started from).
    """
    from crmlab import privacy

    if os.environ.get(KEY_ENV_VAR):  # read (and its length checked) as the notebooks read it
        try:
            key = privacy.key_from_env(KEY_ENV_VAR)
        except ParameterError as e:  # a config problem here
            raise ConfigError(str(e)) from None
        f = cfg.key_file
        if f is not None and f.is_file() and _key_file_secret(f).encode() != key:
            raise ConfigError(
                f"{cfg.path.name}: ${KEY_ENV_VAR} and key_file: {f.name} hold different keys. "
                "The pseudonyms (and so every id in the action list) depend on which one is "
                f"used, and the client must look them up with the same one: unset ${KEY_ENV_VAR} "
                "or remove key_file: from the config."
            )
        return key, f"environment variable ${KEY_ENV_VAR}"
    if cfg.key_file is None:
        raise ConfigError(
            f"{cfg.path.name}: no pseudonymization key for client data. Set ${KEY_ENV_VAR} to "
            "a project secret (at least 16 random characters), or put one in a git-ignored file "
            "and name it under key_file: (`crmlab new` makes one)."
        )
    f = cfg.key_file
    if not f.is_file():
        raise ConfigError(
            f"{cfg.path.name}, key_file: {f} not found. Create it with a random secret of at "
            f"least 16 characters, or set ${KEY_ENV_VAR}."
        )
    secret = _key_file_secret(f)
    if len(secret) < 16:
        raise ConfigError(
            f"{cfg.path.name}, key_file: {f} holds {len(secret)} characters; use a random "
            "secret of at least 16."
        )
    if tracked_by_git(f):
        raise ConfigError(
            f"{cfg.path.name}, key_file: {f} is inside a git work tree but not git-ignored. Add "
            f"'{f.name}' to a .gitignore beside it (a committed key lets anyone re-identify "
            "customers)."
        )
    return secret.encode(), f"key file {f.name}"


def _key_file_secret(path: Path) -> str:
    """The secret a key file holds: its text without surrounding whitespace (a trailing newline
    is not part of the key)."""
    return path.read_text(encoding="utf-8").strip()


def tracked_by_git(path: Path) -> bool:
    """True if ``path`` (which need not exist yet) is inside a git work tree and not ignored, so
    that a ``git add -A`` would commit it (read-only git queries; False without git)."""
    path = Path(path).absolute()
    base = path.parent
    while not base.is_dir() and base != base.parent:
        base = base.parent
    try:
        inside = subprocess.run(
            ["git", "-C", str(base), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(
            ["git", "-C", str(base), "check-ignore", "-q", str(path.relative_to(base))],
            capture_output=True,
            timeout=10,
        )
        return ignored.returncode != 0
    except (OSError, subprocess.SubprocessError):
        return False


# --------------------------------------------------------------------------------------------
# starter folder (`crmlab new`)
# --------------------------------------------------------------------------------------------
STARTER_GITIGNORE = """# client data and secrets stay out of version control
exports/
secret.key
runs/
private/
"""
"""What ``crmlab new`` git-ignores: the client's exports, the key, the runs (their inputs are
the client's data) and ``private/``, the place for files with personal data such as the
contact list of ``crmlab lookup``."""


def starter_config(name: str, case: str, key_file: bool = True) -> str:
    """The text of a starter config for ``case``: every source, the required columns active
    (mapped to themselves, to be replaced by the client's names), the optional ones commented.
    ``key_file=False``: the key comes from ``$CRMLAB_PSEUDONYM_KEY`` (the line is a comment)."""
    schema = case_schema(case)
    lines = [
        f"# Case config '{name}': the {case} case on a client's exports.",
        "# Format: docs/config.md.   Check: crmlab validate --config config.yaml",
        "#                           Run:   crmlab run --config config.yaml",
        f"case: {case}",
        f"title: {name}  # the report's title",
        f"client: {name}  # the report's Client line",
        "",
        "data:  # source: file, relative to this file (.csv .xlsx .parquet); remove what you lack",
    ]
    for s, spec in schema.items():
        lines.append(f"  {s}: exports/{s}.csv  # {spec.help}")
    lines += [
        "  # an Excel sheet:   survey: {path: exports/survey.xlsx, sheet: Answers}",
        "  # a text encoding:  customers: {path: exports/members.csv, encoding: gbk}",
        "",
        "columns:  # canonical name: the client's column (REQUIRED ones must be found)",
    ]
    for s, spec in schema.items():
        lines.append(f"  {s}:")
        for f in spec.fields:
            name_in_config = "satisfaction" if f.name == "overall_satisfaction" else f.name
            text = f"{name_in_config}: {f.name}"
            note = ("REQUIRED " if f.required else "") + f.help
            if f.kind == "date":
                note += "; dates like 20240501: {column: X, format: '%Y%m%d'}"
            prefix = "    " if f.required else "    # "
            lines.append(f"{prefix}{text:<40} # {note}")
        if spec.drivers:
            lines += [
                "    # satisfaction on another scale: {column: Q1, scale: [1, 10], satisfied_at: 7}",
                "    # drivers: {staff_service: [Q3, Q4], product_quality: Q5}  (a list is averaged)",
            ]
    lines += [
        "",
        "values:  # canonical value: the client's values, e.g.",
        "  # loyalty_member: {true: [是, 'Y'], false: [否, 'N']}",
        "",
        "features: auto  # other columns: auto (kept, typed), none, or a list of names",
        "pii: []         # the client's personal columns, e.g. [姓名, 手机, email]",
        (
            "key_file: secret.key  # pseudonymization key (or set $CRMLAB_PSEUDONYM_KEY)"
            if key_file
            else f"# key_file: secret.key  # ${KEY_ENV_VAR} is set: it is the pseudonymization key"
        ),
        "",
        "params: {}      # notebook parameters (see `crmlab params " + case + "`)",
        "",
    ]
    return "\n".join(lines)


def write_starter(name: str, case: str, parent: Path, example: str | None = None) -> Path:
    """Create ``parent/name/`` with ``config.yaml``, ``exports/``, ``.gitignore`` and a fresh
    random ``secret.key`` (mode 600) - unless ``$CRMLAB_PSEUDONYM_KEY`` is set: that is then the
    key (a key file beside it holding another key would be an error at every run, see
    :func:`pseudonym_key`). Refuses an existing non-empty folder.

    ``example`` (a name of :data:`crmlab.synth.client_exports.EXAMPLES`, see
    :func:`~crmlab.synth.client_exports.example_for`): the config is that example's full config
    and ``exports/`` holds synthetic exports of the shape it maps, ready to validate and run."""
    import secrets

    from crmlab.cases import get_case

    get_case(case)  # an unknown case names the known ones
    case_schema(case)
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"'{name}' is not a folder name; use e.g. acme_2026.")
    folder = Path(parent) / name
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} already exists and is not empty; choose another name.")
    env_key = bool(os.environ.get(KEY_ENV_VAR))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder.parent))  # renamed when complete
    try:
        if example is not None:
            from crmlab.synth import client_exports

            text = client_exports.example_config(example, key_file=not env_key)
            client_exports.write_example_exports(example, tmp / "exports")
        else:
            text = starter_config(name, case, key_file=not env_key)
            (tmp / "exports").mkdir()
            (tmp / "exports" / "README.txt").write_text(
                "Put the client's export files here. crmlab only reads them; everything it "
                "derives goes into the run folder.\n",
                encoding="utf-8",
            )
        (tmp / "config.yaml").write_text(text, encoding="utf-8")
        (tmp / ".gitignore").write_text(STARTER_GITIGNORE, encoding="utf-8")
        if not env_key:
            key = tmp / "secret.key"
            key.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
            key.chmod(0o600)
        tmp.chmod(0o755)  # mkdtemp makes it private
        if folder.exists():
            folder.rmdir()  # empty (checked above)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder
