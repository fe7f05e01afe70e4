"""Notebook parameters: read from each stage's ``parameters`` cell, typed, validated before any
kernel starts.

Every parameter in a stage notebook's ``parameters`` cell is written with a type annotation and a
help comment, e.g. ``target: float = 0.90  # CSAT target (share satisfied)``. A default of ``None``
marks a required parameter. :func:`case_parameters` reads them (``papermill.inspect_notebook``,
no kernel) and :func:`validate` checks user values against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmlab.errors import ParameterError

TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (float, int),
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
}

#: Parameters the runner sets itself; users do not pass them.
RUNNER_PARAMETERS = ("run_dir",)

#: Parameters whose value is one of a fixed set in every case that has them, checked with the
#: types before any kernel starts: where the large tables are processed.
CHOICES: dict[str, tuple[str, ...]] = {"engine": ("duckdb", "spark", "pandas")}

#: Parameters that are shares (0.9 = 90%) in every case that has them: (low, high, open ends).
#: A value outside is refused before any kernel starts (``target: 90`` meaning 90%).
SHARES: dict[str, tuple[float, float, bool]] = {
    "target": (0.0, 1.0, False),
    "alpha": (0.0, 1.0, True),
    "power": (0.0, 1.0, True),
    "repeat_rate_target": (0.0, 1.0, False),
    "salary_share_target": (0.0, 1.0, False),
    "top_share": (0.0, 1.0, False),
    "success_rate": (0.0, 1.0, False),
    "margin_rate": (0.0, 1.0, False),
}


#: Parameters that hold a month ``YYYY-MM`` (or are empty).
MONTHS = ("plan_start", "extract_month")


def _month_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a month ``YYYY-MM`` (else None; empty is allowed)."""
    import re

    text = str(value)
    if text == "" or (re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text)):
        return None
    return f"{name}={value!r} is not a month: write it as YYYY-MM, e.g. 2027-01"


def _currency_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a currency code (three capital letters, as ISO 4217 writes them:
    CNY, HKD, EUR; else None): the reports name it in headers and the Chinese report turns the
    known ones into words (元, 港元)."""
    import re

    if re.fullmatch(r"[A-Z]{3}", str(value)):
        return None
    return f"{name}={value!r} is not a currency code: write three capital letters, e.g. HKD or EUR"


def _choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of ``name``: :data:`CHOICES`, or the shipped RFM rule sets for
    ``rfm_ruleset`` (the files ``crmlab/rules/*.yaml``, listed without importing pandas)."""
    if name == "rfm_ruleset":
        from importlib import resources

        rules = resources.files("crmlab") / "rules"
        return tuple(sorted(e.name[:-5] for e in rules.iterdir() if e.name.endswith(".yaml")))
    return CHOICES.get(name)


def _share_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid share for the share parameter ``name`` (else None)."""
    low, high, open_ends = SHARES[name]
    inside = low < value < high if open_ends else low <= value <= high
    if inside:
        return None
    hint = f": write {value / 100:g} for {value:g}%" if 1 < value <= 100 else ""
    ends = "strictly between" if open_ends else "between"
    return f"{name}={value!r} is a share, {ends} {low:g} and {high:g}{hint}"


@dataclass(frozen=True)
class Parameter:
    name: str
    type_name: str
    default: Any
    help: str
    stages: tuple[str, ...]

    @property
    def required(self) -> bool:
        return self.default is None

    def describe(self) -> str:
        """``name: type (default ...) - help``, and the allowed values where there is a set."""
        default = "required" if self.required else f"default {self.default!r}"
        allowed = _choices(self.name)
        one_of = f" [one of: {', '.join(allowed)}]" if allowed else ""
        return f"{self.name}: {self.type_name} ({default}) - {self.help}{one_of}"


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def notebook_parameters(path) -> dict[str, dict]:
    """Raw parameter table of one notebook (name -> {default, inferred_type_name, help}).

    Every code line of the ``parameters`` cell must be a parameter papermill can read; a line it
    cannot (e.g. ``=`` inside the help comment) would silently never be set, so it is an error.
    """
    import json

    import papermill

    found = papermill.inspect_notebook(str(path))
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", ""))
            lines = [
                ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
            ]
            if len(lines) != len(found):
                read = ", ".join(found) or "none"
                raise ParameterError(
                    f"{path}: the parameters cell has {len(lines)} line(s) but papermill reads "
                    f"{len(found)} parameter(s) ({read}). Write one `name: type = value  # help` "
                    "per line, with no '=' in the help comment."
                )
    return found


def case_parameters(case) -> dict[str, Parameter]:
    """All parameters of a case's stages; a name shared by stages must agree on type and default."""
    found: dict[str, Parameter] = {}
    for nb in case.notebooks:
        for name, raw in notebook_parameters(nb).items():
            type_name = raw["inferred_type_name"]
            if type_name not in TYPES:
                raise ParameterError(
                    f"{nb}: parameter '{name}' needs a type annotation "
                    f"(one of {', '.join(TYPES)}), e.g. `{name}: float = ...  # help`."
                )
            p = Parameter(name, type_name, _literal(raw["default"]), raw["help"], (nb.stem,))
            if name in found:
                prev = found[name]
                if (prev.type_name, prev.default) != (p.type_name, p.default):
                    raise ParameterError(
                        f"Case '{case.name}': parameter '{name}' is {prev.type_name} = "
                        f"{prev.default!r} in {prev.stages[0]} but {p.type_name} = {p.default!r} "
                        f"in {nb.stem}. Make the stages agree."
                    )
                p = Parameter(
                    name, p.type_name, p.default, prev.help or p.help, prev.stages + p.stages
                )
            found[name] = p
    return found


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """Split ``NAME=VALUE`` strings from the command line (values stay text until validated)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p expects NAME=VALUE, got '{pair}'.")
        out[name.strip()] = value
    return out


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def coerce(param: Parameter, value: Any) -> Any:
    """Convert a command-line string (or check a config value) to the parameter's type."""
    t = param.type_name
    if isinstance(value, str) and t != "str":
        text = value.strip()
        try:
            if t == "int":
                return int(text)
            if t == "float":
                return float(text)
            if t == "bool":
                low = text.lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise ValueError(text)
            if t in ("list", "dict"):
                import yaml

                value = yaml.safe_load(text)
        except ValueError:
            raise ParameterError(f"{param.name}={value!r} is not a valid {t}.") from None
    expected = TYPES[t]
    if isinstance(value, bool) and t in ("int", "float"):
        raise ParameterError(f"{param.name}={value!r} is a bool, expected {t}.")
    if not isinstance(value, expected):
        raise ParameterError(f"{param.name}={value!r} is a {type(value).__name__}, expected {t}.")
    if t == "float":
        value = float(value)
    return value


def _did_you_mean(name: str, spec: Mapping[str, Parameter]) -> str:
    """`` (did you mean 'target'?)`` for a name close to a parameter of ``spec``, else ``""``."""
    import difflib

    options = [n for n in spec if n not in RUNNER_PARAMETERS]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check(
    spec: Mapping[str, Parameter], values: Mapping[str, Any], *, required: bool = True
) -> tuple[dict[str, Any], list[tuple[Any, str]]]:
    """Check user values against a case's parameters without raising.

    Returns the typed values and every problem as ``(parameter name, message)``, in the order of
    ``values``: a runner parameter, an unknown name (with a near one), a value that is not of the
    parameter's type, not one of its choices (:data:`CHOICES`, the RFM rule sets) or, for a
    share (:data:`SHARES`), outside 0 to 1; then, with ``required``, each required
    parameter ``values`` lacks. :func:`validate` (the command line's ``-p``) and
    :func:`crmlab.config.load_config` (a config's ``params:``, with file and line) report them.
    """
    problems: list[tuple[Any, str]] = []
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if name in RUNNER_PARAMETERS:
            problems.append(
                (name, f"'{name}' is set by the runner (use --out to choose where runs go)")
            )
        elif name not in spec:
            problems.append((name, f"unknown parameter '{name}'{_did_you_mean(name, spec)}"))
        else:
            try:
                typed[name] = coerce(spec[name], value)
            except ParameterError as e:
                problems.append((name, str(e)))
            else:
                allowed = _choices(name)
                if allowed and typed[name] not in allowed:
                    problems.append((name, f"{name}={value!r} is not one of {', '.join(allowed)}"))
                elif name in SHARES and isinstance(typed[name], int | float):
                    share = _share_problem(name, typed[name])
                    if share:
                        problems.append((name, share))
                elif name in MONTHS:
                    month = _month_problem(name, typed[name])
                    if month:
                        problems.append((name, month))
                elif name == "currency":
                    code = _currency_problem(name, typed[name])
                    if code:
                        problems.append((name, code))
    if required:
        for p in spec.values():
            if p.required and p.name not in typed and p.name not in RUNNER_PARAMETERS:
                problems.append((p.name, f"missing required parameter '{p.name}'"))
    return typed, problems


def validate(spec: Mapping[str, Parameter], values: Mapping[str, Any], case_name: str) -> dict:
    """Check user values against a case's parameters; returns the typed values.

    Raises :class:`ParameterError` listing every problem (:func:`check`) and the valid
    parameters with types.
    """
    typed, problems = check(spec, values)
    if problems:
        listing = "\n".join(
            f"  {p.describe()}" for p in spec.values() if p.name not in RUNNER_PARAMETERS
        )
        raise ParameterError(
            f"Case '{case_name}': "
            + "; ".join(message.rstrip(".") for _, message in problems)
            + f".\nValid parameters:\n{listing}"
        )
    return typed
