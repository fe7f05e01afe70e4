"""Per-case deliverables specs: what the report, the action list and the workshop kit take from
a run, as plain data in ``lib/crmlab/templates/cases/<case>.yaml`` (optional executive-summary
templates beside it: ``<case>.summary.<lang>.html.j2``).

Adding a case's deliverables means writing that YAML file (labels, formats, stage texts, which
artifact holds the customers to act on) - no code. A case without a spec still gets a report (a
generic summary of its figures) and a kit; only the action list needs the ``actions:`` section.

The optional ``parameter_help_zh:`` section maps each notebook parameter of the case to its
meaning in Chinese (the notebooks' help comments are English): the Chinese report's parameter
table shows it (:func:`parameter_help`).

Figure keys address ``results.json``: a key is either a recorded name (``"pilot.effect"``) or a
recorded name followed by a path into a recorded dict (``"segments.counts.loyal"`` ->
``results["segments.counts"]["loyal"]``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmlab import i18n, narrative
from crmlab.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent / "templates"
SPECS = TEMPLATES / "cases"

_MISSING = object()

#: Formats a spec may give a figure (see :func:`format_figure`).
FORMATS = (
    "pct",
    "pts",
    "ci_pct",
    "ci_pts",
    "int",
    "num1",
    "num2",
    "p",
    "text",
    "term",
    "terms",
    "top3",
    "first_term",
    "month",
    "yesno",
)


def spec_path(case: str) -> Path:
    return SPECS / f"{case}.yaml"


@functools.cache
def _load(case: str) -> dict:
    import yaml

    path = spec_path(case)
    if not path.is_file():
        return {"case": case}
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a mapping (case:, title:, figures: ...).")
    for key, fig in (spec.get("figures") or {}).items():
        fmt = (fig or {}).get("fmt", "text")
        if fmt not in FORMATS:
            raise ConfigError(
                f"{path}: figure '{key}' has format {fmt!r}; use one of {', '.join(FORMATS)}."
            )
    helps = spec.get("parameter_help_zh")
    if helps is not None and not isinstance(helps, dict):
        raise ConfigError(
            f"{path}: parameter_help_zh: expected a mapping of parameter name to its Chinese "
            "help text."
        )
    for name, help_text in (helps or {}).items():
        if not isinstance(help_text, str) or not help_text.strip():
            raise ConfigError(
                f"{path}: parameter_help_zh: '{name}' needs its help text (a non-empty text), "
                f"got {help_text!r}."
            )
    return spec


def load_spec(case: str) -> dict:
    """The deliverables spec of ``case`` (``{"case": case}`` if the case has none)."""
    return _load(case)


def parameter_help(spec: dict, lang: str) -> dict[str, str]:
    """What each notebook parameter sets, in ``lang``, from the spec: its ``parameter_help_zh:``
    section for Chinese; ``{}`` for English (the notebooks' help comments say it) or a spec
    without the section."""
    if i18n.check_lang(lang) != "zh":
        return {}
    return {str(name): text for name, text in (spec.get("parameter_help_zh") or {}).items()}


def for_run(section: dict, results: dict) -> dict:
    """A spec section (e.g. ``actions``) as it applies to a run: its ``when:`` entries,
    ``"<figure>=<value>": {key: value, ...}``, replace those keys where the run recorded that
    value (the condition reads as a notebook cell's ``only-if:`` tag,
    :func:`crmlab.results.cell_applies`). The finance case's churn-flag extract
    (``churn.basis=flag``) gets a lifecycle playbook and contacts without bank products. The
    section itself is not changed; ``when`` is not in the result."""
    from crmlab.results import recorded_as

    out = {k: v for k, v in section.items() if k != "when"}
    for condition, keys in (section.get("when") or {}).items():
        if recorded_as(results, condition):
            out.update(keys)
    return out


def text(value: Any, lang: str, fallback: str = "") -> str:
    """Pick ``lang`` from a ``{en: ..., zh: ...}`` mapping (English if ``lang`` is missing)."""
    if value is None:
        return fallback
    if isinstance(value, dict):
        return value.get(lang) or value.get("en") or fallback
    return str(value)


def figure_value(results: dict, key: str, default: Any = _MISSING) -> Any:
    """Look up a figure key in a run's flat results (see the module docstring).

    Raises ``KeyError`` naming the key if it is absent and no ``default`` is given.
    """
    if key in results:
        return results[key]
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in results:
            value = results[head]
            for part in parts[cut:]:
                if isinstance(value, dict) and part in value:
                    value = value[part]
                else:
                    break
            else:
                return value
    if default is _MISSING:
        raise KeyError(key)
    return default


def has_figure(results: dict, key: str) -> bool:
    return figure_value(results, key, None) is not None


def format_figure(value: Any, fmt: str, lang: str = "en") -> str:
    """Format one figure for reading.

    ``pct``: share as percent with one decimal ("80.0%"); ``pts``: difference of shares in
    signed percentage points ("+7.1 pts"); ``ci_pct`` / ``ci_pts``: a ``[low, high]`` pair in
    those units; ``int``: whole number with thousands separators; ``num1`` / ``num2``: one / two
    decimals; ``p``: p-value to 3 decimals ("< 0.001" below); ``term`` / ``terms`` /
    ``first_term``: label(s) translated to ``lang``; ``top3``: the first three of a ranked
    list; ``month``: "YYYY-MM"; ``yesno``; ``text``.
    """
    lang = i18n.check_lang(lang)
    if value is None:
        return "-"
    if fmt == "pct":
        return i18n.pct(value)
    if fmt == "pts":
        return i18n.pts(value, lang)
    if fmt in ("ci_pct", "ci_pts"):
        low, high = value
        to = " 至 " if lang == "zh" else " to "  # as the stages' texts write intervals
        if fmt == "ci_pct":
            return f"{i18n.pct(low)}{to}{i18n.pct(high)}"
        return f"{i18n.pts(low, lang).split()[0]}{to}{i18n.pts(high, lang)}"
    if fmt == "int":
        return i18n.num(value, 0)
    if fmt == "num1":
        return i18n.num(value, 1)
    if fmt == "num2":
        return i18n.num(value, 2)
    if fmt == "p":
        return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"
    if fmt == "term":
        return i18n.translate(str(value), lang).replace("_", " ")
    if fmt == "terms":
        sep = "、" if lang == "zh" else ", "
        return sep.join(format_figure(v, "term", lang) for v in value)
    if fmt == "top3":  # a ranked list: its first three
        return format_figure(list(value)[:3], "terms", lang)
    if fmt == "first_term":
        return format_figure(value[0], "term", lang) if value else "-"
    if fmt == "yesno":
        return {"en": ("yes", "no"), "zh": ("是", "否")}[lang][0 if value else 1]
    if isinstance(value, int) and not isinstance(value, bool):  # a count: 5,000
        return i18n.num(value, 0)
    return str(value)


DEFAULT_CURRENCY = narrative.CURRENCY
"""The currency of money amounts when a run does not record one (the synthetic data's)."""


def currency(results: Mapping | None, lang: str = "en") -> str:
    """The currency of a run's money amounts: the ``currency`` figure (the stages' ``currency``
    parameter, recorded by finance stage 1 and retail stage 3), else :data:`DEFAULT_CURRENCY`;
    for ``lang`` zh its Chinese name where known (CNY -> 元, :data:`crmlab.i18n.CURRENCIES_ZH`)."""
    code = str((results or {}).get("currency") or DEFAULT_CURRENCY)
    return i18n.CURRENCIES_ZH.get(code, code) if lang == "zh" else code


def figure_label(spec: dict, key: str, lang: str, results: dict | None = None) -> str:
    """A figure's label: the spec's - or, under ``if:``, the label for a run whose ``results``
    hold a value (``if: {churn.basis=flag: {en: ..., zh: ...}}``: a churn-flag extract has no
    12-month period) - else for ``data.rows.<source>`` "Rows after cleaning: <source>" (every
    case records one per source), else the key itself. ``{currency}`` in a label reads as the
    run's currency (:func:`currency`: "Campaign net value (HKD)")."""
    fig = (spec.get("figures") or {}).get(key) or {}
    from crmlab.results import recorded_as

    label = None
    for condition, variant in (fig.get("if") or {}).items():
        if results is not None and recorded_as(results, condition):
            label = text(variant, lang, fallback=key)
            break
    if label is None and not fig and key.startswith("data.rows."):
        source = key[len("data.rows.") :]
        if lang == "zh":
            return f"清洗后行数：{i18n.source(source)}"
        return f"Rows after cleaning: {source}"
    if label is None:
        label = text(fig, lang, fallback=key)
    return label.replace("{currency}", currency(results, lang))


def figure_format(spec: dict, key: str) -> str:
    return ((spec.get("figures") or {}).get(key) or {}).get("fmt", "text")


def formatted(spec: dict, results: dict, key: str, lang: str) -> str | None:
    """The figure ``key`` of a run formatted per the spec, or None when it was not recorded."""
    value = figure_value(results, key, None)
    if value is None:
        return None
    return format_figure(value, figure_format(spec, key), lang)


def figure_rows(spec: dict, results: dict, keys, lang: str) -> list[tuple[str, str, str]]:
    """``(key, label, formatted value)`` for the keys that the run recorded (others skipped)."""
    rows = []
    for key in keys:
        shown = formatted(spec, results, key, lang)
        if shown is not None:
            rows.append((key, figure_label(spec, key, lang, results), shown))
    return rows


def headline_keys(spec: dict) -> list[str]:
    return list(spec.get("headline") or [])


def stage_spec(spec: dict, stage: str) -> dict:
    return (spec.get("stages") or {}).get(stage) or {}
