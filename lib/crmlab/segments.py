"""Customer classification, lifecycle stages, value tiers (ABC) and needs-based segments.

All functions take the per-customer table of :func:`crmlab.features.customer_features` and
return a labelled Series (ordered categorical) with the same index. Rules are plain dicts of
thresholds; pass a modified copy to change them, e.g.
``classify_customers(f, {**DEFAULT_CLASSIFICATION, "churned_min_days": 120})``. There is no single
industry standard for these cut-offs (see METHOD.md); the defaults suit fast-moving retail where
customers buy every few weeks, and day thresholds scale with each customer's own purchase cadence
(``cadence_days``, mean days between purchase days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from crmlab.errors import DataError, ParameterError

__all__ = [
    "CLASSES",
    "DEFAULT_CLASSIFICATION",
    "DEFAULT_LIFECYCLE",
    "DEFAULT_NEEDS",
    "NEEDS",
    "STAGES",
    "TIERS",
    "classify_customers",
    "has_purchases",
    "lifecycle_stage",
    "needs_note",
    "needs_segments",
    "pareto_table",
    "segment_summary",
    "value_tiers",
]

CLASSES = ("potential", "active", "loyal", "at_risk", "churned")
STAGES = ("prospect", "new", "growing", "mature", "declining", "lapsed", "lost")
TIERS = ("A", "B", "C")
NEEDS = ("price_sensitive", "brand_preferring", "function_driven", "mixed", "no_purchase")

DEFAULT_CLASSIFICATION: dict[str, float] = {
    "at_risk_min_days": 45,
    "at_risk_cadence_multiple": 2.0,
    "churned_min_days": 90,
    "churned_cadence_multiple": 3.0,
    "loyal_min_frequency": 6,
    "loyal_min_tenure_days": 180,
}
"""Thresholds of :func:`classify_customers` (days, purchase days, multiples of the cadence)."""

DEFAULT_LIFECYCLE: dict[str, float] = {
    "new_max_days": 90,
    "mature_min_frequency": 4,
    "declining_min_days": 30,
    "declining_cadence_multiple": 1.5,
    "lapsed_min_days": 60,
    "lapsed_cadence_multiple": 2.0,
    "lost_min_days": 90,
    "lost_cadence_multiple": 3.0,
}
"""Thresholds of :func:`lifecycle_stage` (days, purchase days, multiples of the cadence)."""

DEFAULT_NEEDS: dict[str, float] = {
    "price_min_promo_share": 0.5,
    "brand_basket_quantile": 0.75,
    "brand_max_promo_share": 0.2,
    "function_max_cadence_days": 14,
    "function_basket_quantile": 0.5,
}
"""Thresholds of :func:`needs_segments` (shares, quantiles among buyers, days)."""


def has_purchases(features: pd.DataFrame | None) -> bool:
    """True when the customer table carries the transaction features and at least one customer
    bought on some day (``frequency`` > 0): the condition for every purchase-based segmentation
    below. False for no table, for customers without transactions (no transaction file: the
    table has no ``frequency`` column) and for transactions that are all returns."""
    if features is None or "frequency" not in features.columns:
        return False
    return bool(features["frequency"].fillna(0).sum() > 0)


def _rules(rules: Mapping, defaults: Mapping, func: str) -> dict:
    unknown = set(rules) - set(defaults)
    if unknown:
        raise ParameterError(
            f"{func}: unknown rule(s) {sorted(unknown)}; allowed are {sorted(defaults)}."
        )
    out = {**defaults, **rules}
    negative = [k for k, v in out.items() if v is None or float(v) < 0]
    if negative:
        raise ParameterError(f"{func}: rule(s) {negative} must be non-negative numbers.")
    return out


def _cols(features: pd.DataFrame, cols: Sequence[str], func: str) -> None:
    absent = [c for c in cols if c not in features.columns]
    if absent:
        raise DataError(
            f"{func}: column(s) {absent} missing from the features; build them with "
            "crmlab.features.customer_features (transactions are needed)."
        )


def _num(features: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(features[col], errors="coerce").astype(float)


def _threshold(min_days: float, multiple: float, cadence: pd.Series) -> pd.Series:
    """max(min_days, multiple x cadence); min_days where the cadence is unknown."""
    return np.maximum(min_days, (multiple * cadence).fillna(0.0))


def _label(
    conditions: list[tuple[str, pd.Series]],
    index: pd.Index,
    default: str,
    categories: Sequence[str],
    missing: pd.Series | None = None,
) -> pd.Series:
    """First true condition wins; ``default`` otherwise; NA where ``missing``."""
    label = np.full(len(index), default, dtype=object)
    free = np.ones(len(index), dtype=bool)
    for name, cond in conditions:
        hit = cond.fillna(False).to_numpy(dtype=bool) & free
        label[hit] = name
        free &= ~hit
    out = pd.Series(pd.Categorical(label, categories=list(categories), ordered=True), index=index)
    if missing is not None:
        out[missing.to_numpy(dtype=bool)] = np.nan
    return out


def classify_customers(
    features: pd.DataFrame, rules: Mapping[str, float] = DEFAULT_CLASSIFICATION
) -> pd.Series:
    """Classify customers as potential / active / loyal / at_risk / churned.

    Rules (first match wins; ``cadence`` = ``cadence_days``, the customer's mean days between
    purchase days; where it is unknown - fewer than 2 purchase days - only the fixed minimum
    applies):

    1. ``potential``: signed up but never bought (``frequency`` = 0).
    2. ``churned``: ``recency_days`` > max(``churned_min_days``, ``churned_cadence_multiple`` x
       cadence); defaults 90 days and 3x.
    3. ``at_risk``: ``recency_days`` > max(``at_risk_min_days``, ``at_risk_cadence_multiple`` x
       cadence); defaults 45 days and 2x.
    4. ``loyal``: ``frequency`` >= ``loyal_min_frequency`` purchase days (6) and tenure >=
       ``loyal_min_tenure_days`` (180; ``tenure_days`` from signup, or days since the first
       purchase when the signup date is unknown).
    5. ``active``: everyone else (bought recently enough, not yet loyal).

    Returns
    -------
    Series
        Ordered categorical (categories :data:`CLASSES`) named ``"customer_class"``.
    """
    r = _rules(rules, DEFAULT_CLASSIFICATION, "classify_customers")
    _cols(features, ["frequency", "recency_days", "cadence_days"], "classify_customers")
    freq = _num(features, "frequency").fillna(0)
    rec = _num(features, "recency_days")
    cad = _num(features, "cadence_days")
    tenure = _num(features, "tenure_days") if "tenure_days" in features else rec * np.nan
    if "days_since_first_purchase" in features:
        tenure = tenure.fillna(_num(features, "days_since_first_purchase"))
    buyer = freq > 0
    churned = rec > _threshold(r["churned_min_days"], r["churned_cadence_multiple"], cad)
    at_risk = rec > _threshold(r["at_risk_min_days"], r["at_risk_cadence_multiple"], cad)
    loyal = (freq >= r["loyal_min_frequency"]) & (tenure >= r["loyal_min_tenure_days"])
    out = _label(
        [("potential", ~buyer), ("churned", churned), ("at_risk", at_risk), ("loyal", loyal)],
        features.index,
        "active",
        CLASSES,
        missing=buyer & rec.isna(),
    )
    return out.rename("customer_class")


def lifecycle_stage(
    features: pd.DataFrame, rules: Mapping[str, float] = DEFAULT_LIFECYCLE
) -> pd.Series:
    """Lifecycle stage: prospect / new / growing / mature / declining / lapsed / lost.

    Rules (first match wins; thresholds scale with the customer's own ``cadence_days`` where it is
    known, as in :func:`classify_customers`):

    1. ``prospect``: never bought (``frequency`` = 0).
    2. ``lost``: ``recency_days`` > max(``lost_min_days``, ``lost_cadence_multiple`` x cadence)
       (90 days, 3x).
    3. ``lapsed``: ``recency_days`` > max(``lapsed_min_days``, ``lapsed_cadence_multiple`` x
       cadence) (60 days, 2x).
    4. ``declining``: at least 2 purchase days and ``recency_days`` > max(
       ``declining_min_days``, ``declining_cadence_multiple`` x cadence) (30 days, 1.5x): overdue
       against the customer's own rhythm. One-time buyers have no rhythm and stay ``new`` or
       ``growing`` until they lapse.
    5. ``new``: first purchase at most ``new_max_days`` ago (90).
    6. ``growing``: fewer than ``mature_min_frequency`` purchase days (4).
    7. ``mature``: everyone else (established, buying on rhythm).

    Returns
    -------
    Series
        Ordered categorical (categories :data:`STAGES`) named ``"lifecycle_stage"``.
    """
    r = _rules(rules, DEFAULT_LIFECYCLE, "lifecycle_stage")
    _cols(
        features,
        ["frequency", "recency_days", "cadence_days", "days_since_first_purchase"],
        "lifecycle_stage",
    )
    freq = _num(features, "frequency").fillna(0)
    rec = _num(features, "recency_days")
    cad = _num(features, "cadence_days")
    first = _num(features, "days_since_first_purchase")
    buyer = freq > 0
    conditions = [
        ("prospect", ~buyer),
        ("lost", rec > _threshold(r["lost_min_days"], r["lost_cadence_multiple"], cad)),
        ("lapsed", rec > _threshold(r["lapsed_min_days"], r["lapsed_cadence_multiple"], cad)),
        (
            "declining",
            (freq >= 2)
            & (rec > _threshold(r["declining_min_days"], r["declining_cadence_multiple"], cad)),
        ),
        ("new", first <= r["new_max_days"]),
        ("growing", freq < r["mature_min_frequency"]),
    ]
    out = _label(conditions, features.index, "mature", STAGES, missing=buyer & rec.isna())
    return out.rename("lifecycle_stage")


# --------------------------------------------------------------------------------------------
# value tiers
# --------------------------------------------------------------------------------------------
def _check_cutoffs(cutoffs: Sequence[float]) -> tuple[float, float]:
    a, b = (float(x) for x in cutoffs)
    if not 0 < a < b <= 1:
        raise ParameterError(f"cutoffs must satisfy 0 < A < B <= 1, got {tuple(cutoffs)}.")
    return a, b


def pareto_table(values: pd.Series, cutoffs: Sequence[float] = (0.8, 0.95)) -> pd.DataFrame:
    """Customers sorted by value with cumulative shares and their ABC tier.

    Returns a DataFrame (same index labels, sorted by value descending; ties keep their input
    order) with ``value``, ``rank`` (1 = highest), ``share`` (value / total positive value),
    ``share_before`` (cumulative share of the customers ranked above), ``cum_share``
    (``share_before + share``), ``cum_customer_share`` (``rank / n``) and ``tier`` (see
    :func:`value_tiers`). Missing values are dropped.
    """
    a, b = _check_cutoffs(cutoffs)
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).dropna()
    v = v.sort_values(ascending=False, kind="mergesort")
    pos = v.clip(lower=0.0)
    total = pos.sum()
    share = pos / total if total > 0 else pos * 0.0
    cum = share.cumsum()
    before = cum - share
    tol = 1e-9
    tier = np.where(
        v <= 0, "C", np.where(before < a - tol, "A", np.where(before < b - tol, "B", "C"))
    )
    return pd.DataFrame(
        {
            "value": v,
            "rank": np.arange(1, len(v) + 1),
            "share": share,
            "share_before": before,
            "cum_share": cum,
            "cum_customer_share": np.arange(1, len(v) + 1) / max(len(v), 1),
            "tier": pd.Categorical(tier, categories=list(TIERS), ordered=True),
        }
    )


def value_tiers(values: pd.Series, cutoffs: Sequence[float] = (0.8, 0.95)) -> pd.Series:
    """ABC (Pareto) value tiers by cumulative share of value.

    Customers are sorted by value, highest first (ties keep their input order). With total =
    sum of the positive values and *share before* = the share of total held by the customers
    ranked above:

    - ``A``: share before < ``cutoffs[0]`` - the smallest group of top customers that together
      reach 80% of value (the customer who crosses 80% is in A);
    - ``B``: share before < ``cutoffs[1]`` - the next customers up to reaching 95%;
    - ``C``: the rest, and every customer with zero or negative value.

    Example: values 50, 20, 10, 8, 5, 4, 2, 1 (total 100) -> A, A, A, B, B, B, C, C (shares before
    are 0, .50, .70, .80, .88, .93, .97, .99).

    Returns
    -------
    Series
        Ordered categorical ``A < B < C`` named ``"value_tier"``, in the input order; missing
        where the value is missing.
    """
    values = pd.Series(values)
    if not values.index.is_unique:
        raise DataError("value_tiers: the index of values must be unique (one row per customer).")
    table = pareto_table(values, cutoffs)
    return table["tier"].reindex(values.index).rename("value_tier")


# --------------------------------------------------------------------------------------------
# needs segments
# --------------------------------------------------------------------------------------------
def needs_segments(features: pd.DataFrame, rules: Mapping[str, float] = DEFAULT_NEEDS) -> pd.Series:
    """Needs-based segments of reference article 003 (section 2.2; METHOD.md):
    price-sensitive, brand-preferring and function-driven customers.

    The article splits customers by what they need - 价格敏感型 (price-sensitive: the deal
    decides), 品牌偏好型 (brand-preferring: they keep to the brands and the chain they like and
    pay its price) and 功能需求型 (function-driven: they come for a specific product that does a
    job). The case's data hold no brands or product attributes, so each segment is a proxy
    from purchase behaviour (first match wins; quantiles are over customers who bought):

    1. ``no_purchase``: never bought (``frequency`` = 0).
    2. ``price_sensitive``: ``promo_share`` >= ``price_min_promo_share`` (0.5) - at least half
       of their purchases are on promotion.
    3. ``brand_preferring``: ``promo_share`` <= ``brand_max_promo_share`` (0.2) and
       ``avg_basket`` >= the ``brand_basket_quantile`` (75th percentile) basket - they rarely
       wait for a deal and pay full price for large baskets.
    4. ``function_driven``: ``cadence_days`` <= ``function_max_cadence_days`` (14) and
       ``avg_basket`` <= the ``function_basket_quantile`` (median) basket - frequent, small,
       targeted trips for what they need at the time.
    5. ``mixed``: none of the above.

    Without promotion flags (no ``promo_share`` column, or no customer with a value: the
    transactions had no ``promotion`` column) neither price-sensitive nor brand-preferring
    customers can be told apart - both are judged on the price paid - so the result has no such
    categories (not counts of 0, which would read as "nobody buys on promotion");
    :func:`needs_note` says so in a sentence.

    These are proxies from purchase behaviour; confirm them with survey answers (e.g. which
    driver ratings - price value, product quality, product availability - matter most per
    segment) before acting on them.

    Returns
    -------
    Series
        Ordered categorical (categories :data:`NEEDS`, without ``price_sensitive`` and
        ``brand_preferring`` when there are no promotion flags) named ``"needs_segment"``.
    """
    r = _rules(rules, DEFAULT_NEEDS, "needs_segments")
    for k in (
        "price_min_promo_share",
        "brand_max_promo_share",
        "brand_basket_quantile",
        "function_basket_quantile",
    ):
        if r[k] > 1:
            raise ParameterError(f"needs_segments: {k} is a share/quantile in [0, 1].")
    _cols(features, ["frequency", "avg_basket", "cadence_days"], "needs_segments")
    freq = _num(features, "frequency").fillna(0)
    basket = _num(features, "avg_basket")
    cad = _num(features, "cadence_days")
    buyer = freq > 0
    q_hi = basket[buyer].quantile(r["brand_basket_quantile"])
    q_lo = basket[buyer].quantile(r["function_basket_quantile"])
    conditions = [("no_purchase", ~buyer)]
    categories = list(NEEDS)
    if _has_promotions(features):
        promo = _num(features, "promo_share")
        conditions += [
            ("price_sensitive", promo >= r["price_min_promo_share"]),
            ("brand_preferring", (promo <= r["brand_max_promo_share"]) & (basket >= q_hi)),
        ]
    else:
        categories.remove("price_sensitive")
        categories.remove("brand_preferring")
    conditions.append(
        ("function_driven", (cad <= r["function_max_cadence_days"]) & (basket <= q_lo))
    )
    return _label(conditions, features.index, "mixed", categories).rename("needs_segment")


def _has_promotions(features: pd.DataFrame) -> bool:
    return "promo_share" in features.columns and bool(_num(features, "promo_share").notna().any())


def needs_note(features: pd.DataFrame, rules: Mapping[str, float] = DEFAULT_NEEDS) -> str | None:
    """What :func:`needs_segments` could not do on these features, in a sentence for the
    reader; None when the transactions carry promotion flags."""
    if _has_promotions(features):
        return None
    _rules(rules, DEFAULT_NEEDS, "needs_note")
    return (
        "**No promotion flags:** the transactions have no `promotion` column (map it under "
        "`columns: transactions:` in the config), so neither price-sensitive customers (buying "
        "mostly on promotion) nor brand-preferring ones (large baskets at full price) can be "
        "told apart, and there are no such segments; function-driven customers (frequent small "
        "trips) are still found."
    )


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------
def segment_summary(
    features: pd.DataFrame,
    segment_col: str | pd.Series,
    *,
    value_col: str = "monetary",
    satisfaction_col: str = "overall_satisfaction",
    satisfied_min: float = 4,
    missing_label: str = "(none)",
) -> pd.DataFrame:
    """Size, value and satisfaction per segment.

    Parameters
    ----------
    features
        Per-customer table.
    segment_col
        Column name in ``features`` or a Series of labels aligned on its index. Customers with a
        missing label are counted in a ``missing_label`` row (say what it means, e.g. "no
        purchase yet" for RFM segments, which only buyers have).
    value_col
        Value measure (net spend by default).
    satisfaction_col
        Rating column (1-5); CSAT = share of respondents rating >= ``satisfied_min`` (4:
        top-two-box).

    Returns
    -------
    DataFrame
        One row per segment (categorical order if the labels are categorical, including empty
        categories; else by size): ``n_customers``, ``share`` (of all customers), ``revenue``
        (sum of value), ``revenue_share`` (of total value), ``mean_value``, and - if the columns
        exist - ``mean_recency_days``, ``mean_frequency``, ``n_respondents``,
        ``mean_satisfaction``, ``csat``.
    """
    labels = features[segment_col] if isinstance(segment_col, str) else pd.Series(segment_col)
    if not labels.index.equals(features.index):
        labels = labels.reindex(features.index)
    name = labels.name if labels.name is not None else "segment"
    if isinstance(labels.dtype, pd.CategoricalDtype):
        if labels.isna().any():
            labels = labels.cat.add_categories([missing_label]).fillna(missing_label)
    else:
        labels = labels.astype("str").fillna(missing_label)
    _cols(features, [value_col], "segment_summary")
    df = pd.DataFrame(
        {"segment": labels.array, "value": _num(features, value_col).to_numpy()},
        index=features.index,
    )
    extra = {"recency_days": "mean_recency_days", "frequency": "mean_frequency"}
    for col in extra:
        if col in features:
            df[col] = _num(features, col).to_numpy()
    has_sat = satisfaction_col in features
    if has_sat:
        sat = _num(features, satisfaction_col)
        df["sat"] = sat.to_numpy()
        df["satisfied"] = (sat >= satisfied_min).astype(float).where(sat.notna()).to_numpy()
    g = df.groupby("segment", observed=False, sort=True)
    out = pd.DataFrame({"n_customers": g.size()})
    out["share"] = out["n_customers"] / len(df)
    out["revenue"] = g["value"].sum()
    total = df["value"].sum()
    out["revenue_share"] = out["revenue"] / total if total != 0 else np.nan
    out["mean_value"] = g["value"].mean()
    for col, new in extra.items():
        if col in df:
            out[new] = g[col].mean()
    if has_sat:
        out["n_respondents"] = g["sat"].count()
        out["mean_satisfaction"] = g["sat"].mean()
        out["csat"] = g["satisfied"].mean()
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        out = out.sort_values("n_customers", ascending=False, kind="mergesort")
    out.index.name = name
    return out
