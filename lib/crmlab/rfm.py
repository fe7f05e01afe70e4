"""RFM scores and named RFM segment rule sets.

RFM scores
    R (recency), F (frequency) and M (monetary) scores from 1 to ``bins`` (default 5) by
    quantile of the customers who bought at least once. Each measure is first ranked with
    ``method="first"`` (ties broken by row order: the customer listed first gets the lower
    rank) and the ranks are cut into ``bins`` equal-sized groups with :func:`pandas.qcut`, so tied
    values never collapse bins and every score is used. Recency is reversed: the most recent
    customers (fewest days since the last purchase) get R = 5. With the reversed ranking,
    among customers with equal recency the one listed first also gets the lower R score.

Segment rule sets
    Shipped as YAML files in ``crmlab/rules/`` (see :func:`list_rulesets`); each names its source.
    A rule set has ``scores`` (which scores it reads, e.g. ``[R, F]``), ``default`` (label when no
    rule matches) and an ordered list of ``rules``; the first matching rule wins. A rule is
    either ``pattern`` - a regular expression that must fully match the concatenated score
    digits, e.g. ``"5[4-5]"`` on the "RF" string - or ``ranges`` - inclusive ``[low, high]``
    per score, e.g. ``{R: [4, 5], F: [4, 5], M: [4, 5]}``.

    - ``rf_ten_segment``: the common R x F grid of ten segments (champions ... hibernating).
    - ``rfm_three_score``: ten segments from R, F and M ranges (R package ``rfm`` example).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crmlab.errors import ConfigError, DataError

__all__ = ["list_rulesets", "load_ruleset", "rfm_scores", "ruleset_grid", "segment_rfm"]

SCORE_NAMES = ("R", "F", "M")


def _score(values: pd.Series, bins: int, ascending: bool) -> pd.Series:
    ranks = values.rank(method="first", ascending=ascending)
    return pd.qcut(ranks, bins, labels=list(range(1, bins + 1))).astype("int64")


def rfm_scores(
    features: pd.DataFrame,
    bins: int = 5,
    *,
    recency_col: str = "recency_days",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
) -> pd.DataFrame:
    """Score recency, frequency and monetary value 1..``bins`` by quantile (see module docs).

    Parameters
    ----------
    features
        One row per customer, e.g. from :func:`crmlab.features.customer_features`:
        ``recency_days`` (days since last purchase), ``frequency`` (purchase days),
        ``monetary`` (net spend).
    bins
        Number of score levels (5 = quintiles). At least ``bins`` buyers are needed.

    Returns
    -------
    DataFrame
        Same index as ``features``; columns ``R, F, M`` (nullable Int64), ``rf_cell`` (e.g.
        ``"54"``) and ``rfm_cell`` (e.g. ``"545"``). Customers who never bought (frequency 0
        or missing recency) are not scored: their scores and cells are missing.
    """
    missing = [c for c in (recency_col, frequency_col, monetary_col) if c not in features]
    if missing:
        raise DataError(
            f"rfm_scores: column(s) {missing} missing; build them with "
            "crmlab.features.customer_features (needs transactions)."
        )
    if not 2 <= bins <= 9:
        raise DataError(f"rfm_scores: bins must be between 2 and 9, got {bins}.")
    rec = pd.to_numeric(features[recency_col], errors="coerce")
    freq = pd.to_numeric(features[frequency_col], errors="coerce")
    mon = pd.to_numeric(features[monetary_col], errors="coerce")
    buyers = rec.notna() & (freq > 0) & mon.notna()
    n = int(buyers.sum())
    if n < bins:
        raise DataError(
            f"rfm_scores: only {n} customer(s) with purchases; at least bins={bins} are needed."
        )
    out = pd.DataFrame(index=features.index)
    for name, values, ascending in (("R", rec, False), ("F", freq, True), ("M", mon, True)):
        col = pd.Series(pd.NA, index=features.index, dtype="Int64")
        col[buyers] = _score(values[buyers], bins, ascending)
        out[name] = col
    digits = {k: out[k].astype("str") for k in SCORE_NAMES}
    out["rf_cell"] = (digits["R"] + digits["F"]).where(buyers)
    out["rfm_cell"] = (digits["R"] + digits["F"] + digits["M"]).where(buyers)
    return out


# --------------------------------------------------------------------------------------------
# rule sets
# --------------------------------------------------------------------------------------------
def _rules_dir():
    return resources.files("crmlab") / "rules"


def list_rulesets() -> list[str]:
    """Names of the shipped RFM segment rule sets (files ``crmlab/rules/*.yaml``)."""
    names = []
    for entry in _rules_dir().iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "rules" in data and "scores" in data:
                names.append(entry.name[: -len(".yaml")])
    return sorted(names)


def _validate(rs: Mapping, label: str) -> dict:
    rs = dict(rs)
    for key in ("scores", "rules"):
        if key not in rs:
            raise ConfigError(f"RFM rule set '{label}' has no '{key}'.")
    scores = list(rs["scores"])
    if not scores or any(s not in SCORE_NAMES for s in scores):
        raise ConfigError(f"RFM rule set '{label}': scores must be among R, F, M; got {scores}.")
    rs["scores"] = scores
    rs.setdefault("default", "other")
    rs.setdefault("bins", 5)
    rs.setdefault("name", label)
    rules = []
    for i, rule in enumerate(rs["rules"]):
        if "segment" not in rule or (("pattern" in rule) == ("ranges" in rule)):
            raise ConfigError(
                f"RFM rule set '{label}', rule {i + 1}: needs 'segment' and exactly one of "
                "'pattern' or 'ranges'."
            )
        rule = dict(rule)
        if "pattern" in rule:
            try:
                re.compile(str(rule["pattern"]))
            except re.error as exc:
                raise ConfigError(
                    f"RFM rule set '{label}', rule {i + 1}: bad pattern {rule['pattern']!r}: {exc}"
                ) from exc
            rule["pattern"] = str(rule["pattern"])
        else:
            bad = [k for k in rule["ranges"] if k not in scores]
            if bad:
                raise ConfigError(
                    f"RFM rule set '{label}', rule {i + 1}: ranges on {bad} not in scores {scores}."
                )
            rule["ranges"] = {k: (int(v[0]), int(v[1])) for k, v in rule["ranges"].items()}
        rules.append(rule)
    rs["rules"] = rules
    return rs


def load_ruleset(ruleset: str | Path | Mapping) -> dict:
    """Load and check a rule set: a shipped name, a path to a YAML file, or a mapping."""
    if isinstance(ruleset, Mapping):
        return _validate(ruleset, str(ruleset.get("name", "custom")))
    path = Path(ruleset)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        entry = _rules_dir() / f"{ruleset}.yaml"
        if not entry.is_file():
            raise ConfigError(
                f"Unknown RFM rule set '{ruleset}'. Shipped rule sets: {list_rulesets()}; "
                "or pass a path to a YAML file or a mapping."
            )
        text = entry.read_text(encoding="utf-8")
    return _validate(yaml.safe_load(text), str(ruleset))


def segment_rfm(
    scores: pd.DataFrame, ruleset: str | Path | Mapping = "rf_ten_segment"
) -> pd.Series:
    """Assign each scored customer a segment name with a rule set (first matching rule wins).

    Parameters
    ----------
    scores
        Output of :func:`rfm_scores` (columns ``R``, ``F``, ``M`` with 1-5 scores).
    ruleset
        Shipped rule-set name (see :func:`list_rulesets`), YAML path or mapping.

    Returns
    -------
    Series
        Segment names (str) named ``"segment"``, same index as ``scores``; the rule set's
        ``default`` when no rule matches, missing where a needed score is missing.
    """
    rs = load_ruleset(ruleset)
    cols = rs["scores"]
    absent = [c for c in cols if c not in scores.columns]
    if absent:
        raise DataError(f"segment_rfm: score column(s) {absent} missing; run rfm_scores first.")
    sc = scores[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    scored = sc.notna().all(axis=1)
    out_of_scale = scored & ((sc < 1) | (sc > rs["bins"])).any(axis=1)
    if out_of_scale.any():
        raise DataError(
            f"segment_rfm: rule set '{rs['name']}' expects scores 1-{rs['bins']}; "
            f"{int(out_of_scale.sum())} customer(s) have other scores "
            f"(rows {list(scores.index[out_of_scale][:5])})."
        )
    digits = sc.where(scored, 0).astype("int64").astype("str")
    text = digits[cols[0]]
    for c in cols[1:]:
        text = text + digits[c]
    label = np.full(len(sc), None, dtype=object)
    free = scored.to_numpy().copy()
    for rule in rs["rules"]:
        if "pattern" in rule:
            hit = text.str.fullmatch(rule["pattern"]).to_numpy(dtype=bool)
        else:
            hit = np.ones(len(sc), dtype=bool)
            for k, (lo, hi) in rule["ranges"].items():
                hit &= sc[k].between(lo, hi).to_numpy(dtype=bool)
        take = hit & free
        label[take] = rule["segment"]
        free &= ~take
    label[free] = rs["default"]
    return pd.Series(label, index=scores.index, name="segment", dtype="str")


def ruleset_grid(ruleset: str | Path | Mapping = "rf_ten_segment") -> pd.DataFrame:
    """Every score combination of a rule set and its segment (for display and checks).

    Returns one row per combination of the rule set's scores (25 rows for R x F on 1-5, 125 for
    R x F x M) with the score columns and ``segment``.
    """
    rs = load_ruleset(ruleset)
    levels = range(1, rs["bins"] + 1)
    grid = pd.DataFrame(list(product(levels, repeat=len(rs["scores"]))), columns=rs["scores"])
    grid["segment"] = segment_rfm(grid, rs).to_numpy()
    return grid
