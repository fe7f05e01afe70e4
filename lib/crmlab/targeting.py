"""Who to contact in a retention campaign, what it is expected to save, and the action list.

Definitions
-----------
Expected churners reached
    the sum of the churn probabilities of the contacted customers.
Success rate
    the share of contacted would-be churners whom the offer keeps (e.g. a pilot's relative churn
    reduction: churn 20% -> 15% in the offer arm is a success rate of 0.25).
Expected saved
    success rate x expected churners reached (customers); expected value saved = success rate x
    sum of churn probability x value over the contacted (value in the unit of ``value``, e.g. CNY
    of annual margin).
Campaign ROI
    (benefit - cost) / cost with benefit = expected saved x value per saved customer and cost =
    contacted x (contact cost + offer cost): every contacted customer gets the offer, which is
    conservative (the offer also goes to customers who would have stayed).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlab.errors import DataError, describe_rows

__all__ = [
    "DEFAULT_TIER_ACTIONS",
    "COMPLAINT_ACTION",
    "action_list",
    "campaign_roi",
    "customer_value",
    "targeting_curve",
]

#: tier -> (recommended action, owner role, days until due). Seed 004: A = key accounts with a
#: dedicated manager, B = regular contact, C = automated marketing.
DEFAULT_TIER_ACTIONS: dict[str, tuple[str, str, int]] = {
    "A": (
        "relationship-manager call with a personalised retention offer",
        "relationship_manager",
        7,
    ),
    "B": ("service call with a fee-waiver offer", "service_team", 14),
    "C": ("automated e-mail and app retention offer", "marketing_automation", 30),
}
#: Overrides the tier action for customers with recent complaints (fix the problem first).
COMPLAINT_ACTION: tuple[str, str, int] = (
    "complaint follow-up call, then a retention offer",
    "service_manager",
    3,
)


def _numeric(x, name: str, n: int | None = None, nonneg: bool = False) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(dtype=np.float64)
    if n is not None and len(arr) != n:
        raise DataError(f"{name} has {len(arr)} values, expected {n} (one per customer).")
    bad = ~np.isfinite(arr)
    if nonneg:
        bad |= arr < 0
    if bad.any():
        cond = "finite and >= 0" if nonneg else "finite"
        raise DataError(
            f"{name} must be {cond}; bad at positions {np.flatnonzero(bad)[:5].tolist()}."
        )
    return arr


def customer_value(
    df: pd.DataFrame,
    *,
    margin_rate: float = 0.015,
    balance_col: str = "balance_mean",
    fees_col: str | None = "fees_mean",
) -> pd.Series:
    """Annual value of keeping a bank customer (CNY per year), a simple documented assumption:

    ``value = margin_rate x mean balance + 12 x mean monthly fees``

    where ``margin_rate`` is the bank's net interest margin on deposits (default 1.5% a year).
    Columns default to those of :func:`crmlab.churn.build_churn_dataset`; ``fees_col=None``
    leaves fees out. Returns a Series named ``value`` with the index of ``df``.
    """
    if not 0 <= margin_rate <= 1:
        raise DataError(f"margin_rate must be a yearly rate in [0, 1], got {margin_rate}.")
    cols = [balance_col] + ([fees_col] if fees_col else [])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"customer_value: missing column(s) {missing}; the table has {list(df.columns)}."
        )
    value = margin_rate * _numeric(df[balance_col], balance_col, nonneg=True)
    if fees_col:
        value = value + 12 * _numeric(df[fees_col], fees_col, nonneg=True)
    return pd.Series(value, index=df.index, name="value")


def targeting_curve(
    scores,
    churn_prob,
    value,
    contact_shares=None,
    *,
    success_rate: float = 0.25,
    contact_cost: float = 0.0,
    offer_cost: float = 0.0,
    churned=None,
) -> pd.DataFrame:
    """Expected results of contacting the top share of customers ranked by ``scores``.

    Parameters
    ----------
    scores : array-like
        Ranking score, highest contacted first (e.g. churn probability x value = expected loss,
        or churn probability alone). Ties keep the input order.
    churn_prob : array-like
        Predicted probability of churn in the horizon, in [0, 1].
    value : array-like
        Value of keeping each customer (>= 0, e.g. CNY of annual margin).
    contact_shares : array-like, optional
        Shares of customers contacted, in (0, 1]; default 0.05, 0.10, ..., 1.00. The top
        ``round(share x n)`` customers are contacted.
    success_rate : float
        Share of contacted would-be churners kept by the offer, in [0, 1].
    contact_cost, offer_cost : float
        Cost per contacted customer (value unit) of the contact and of the offer.
    churned : array-like, optional
        Observed 0/1 outcomes (back-testing): adds ``churners_reached`` and its share.

    Returns
    -------
    DataFrame
        ``contact_share``, ``n_contacted``, ``expected_churners_reached``,
        ``share_of_expected_churners`` (of the sum over everyone), ``expected_saved``,
        ``expected_value_saved``, ``cost``, ``net_value`` (= value saved - cost) and, with
        ``churned``, ``churners_reached``, ``share_of_churners_reached``.
    """
    s = _numeric(scores, "scores")
    n = len(s)
    if n == 0:
        raise DataError("targeting_curve: no customers.")
    p = _numeric(churn_prob, "churn_prob", n)
    if ((p < 0) | (p > 1)).any():
        raise DataError("churn_prob must be probabilities in [0, 1].")
    v = _numeric(value, "value", n, nonneg=True)
    if not 0 <= success_rate <= 1:
        raise DataError(f"success_rate must be in [0, 1], got {success_rate}.")
    if contact_cost < 0 or offer_cost < 0:
        raise DataError("contact_cost and offer_cost must be >= 0.")
    shares = np.round(np.arange(1, 21) * 0.05, 2) if contact_shares is None else contact_shares
    shares = _numeric(shares, "contact_shares")
    if ((shares <= 0) | (shares > 1)).any():
        raise DataError("contact_shares must be in (0, 1].")
    order = np.argsort(-s, kind="mergesort")
    cum_p = np.r_[0.0, np.cumsum(p[order])]
    cum_pv = np.r_[0.0, np.cumsum((p * v)[order])]
    k = np.round(shares * n).astype(np.int64)
    out = pd.DataFrame(
        {
            "contact_share": shares,
            "n_contacted": k,
            "expected_churners_reached": cum_p[k],
            "share_of_expected_churners": cum_p[k] / cum_p[-1] if cum_p[-1] > 0 else np.nan,
            "expected_saved": success_rate * cum_p[k],
            "expected_value_saved": success_rate * cum_pv[k],
        }
    )
    out["cost"] = k * (contact_cost + offer_cost)
    out["net_value"] = out["expected_value_saved"] - out["cost"]
    if churned is not None:
        y = _numeric(churned, "churned", n)
        if not np.isin(y, [0, 1]).all():
            raise DataError("churned must be 0/1.")
        cum_y = np.r_[0.0, np.cumsum(y[order])]
        out["churners_reached"] = cum_y[k].astype(np.int64)
        out["share_of_churners_reached"] = cum_y[k] / cum_y[-1] if cum_y[-1] > 0 else np.nan
    return out


def campaign_roi(
    n_contacted, expected_saved, value_per_saved, offer_cost, contact_cost
) -> pd.DataFrame:
    """Return on a retention campaign (arrays broadcast; one row per element).

    Parameters
    ----------
    n_contacted : int or array-like
        Customers contacted (each gets the offer).
    expected_saved : float or array-like
        Customers expected to be kept thanks to the campaign.
    value_per_saved : float or array-like
        Value of one kept customer (e.g. CNY of margin over the horizon).
    offer_cost, contact_cost : float or array-like
        Cost per contacted customer of the offer and of the contact.

    Returns
    -------
    DataFrame
        ``n_contacted``, ``expected_saved``, ``benefit`` (= saved x value), ``cost`` (=
        contacted x (offer + contact cost)), ``net`` (= benefit - cost), ``roi`` (= net / cost,
        NaN if the cost is 0) and ``break_even_saved`` (= cost / value per saved).
    """
    arrays = np.broadcast_arrays(
        *(
            np.atleast_1d(np.asarray(x, dtype=np.float64))
            for x in (n_contacted, expected_saved, value_per_saved, offer_cost, contact_cost)
        )
    )
    n, saved, val, oc, cc = arrays
    names = ["n_contacted", "expected_saved", "value_per_saved", "offer_cost", "contact_cost"]
    for name, a in zip(names, arrays, strict=True):
        if (~np.isfinite(a) | (a < 0)).any():
            raise DataError(f"campaign_roi: {name} must be finite and >= 0.")
    if (saved > n).any():
        raise DataError("campaign_roi: expected_saved cannot exceed n_contacted.")
    cost = n * (oc + cc)
    benefit = saved * val
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, (benefit - cost) / cost, np.nan)
        break_even = np.where(val > 0, cost / val, np.nan)
    return pd.DataFrame(
        {
            "n_contacted": n,
            "expected_saved": saved,
            "benefit": benefit,
            "cost": cost,
            "net": benefit - cost,
            "roi": roi,
            "break_even_saved": break_even,
        }
    )


def action_list(
    df: pd.DataFrame,
    top_k: int,
    *,
    as_of,
    id_col: str = "customer_id",
    risk_col: str = "churn_prob",
    value_col: str = "value",
    tier_col: str = "tier",
    complaints_col: str | None = "complaints",
    tier_actions: Mapping[str, tuple[str, str, int]] | None = None,
    key: bytes | str | None = None,
    pseudonym_prefix: str = "P-",
) -> pd.DataFrame:
    """The campaign's work list: the ``top_k`` customers by expected loss with an action each.

    Customers are ranked by expected loss = ``risk`` x ``value`` (highest first, ties by input
    order). The action, owner role and due date (``as_of`` + days) come from the customer's value
    tier (``tier_actions``, default :data:`DEFAULT_TIER_ACTIONS`); a customer with complaints
    (``complaints_col`` > 0, when that column exists) gets :data:`COMPLAINT_ACTION` instead.

    Identifiers never appear in clear: with ``key`` the ids are pseudonymized here
    (``crmlab.privacy.pseudonym``); without it ``id_col`` must already hold pseudonyms starting
    with ``pseudonym_prefix`` (pseudonymize first with ``crmlab.privacy.pseudonymize``), else
    :class:`DataError`.

    Returns
    -------
    DataFrame
        ``rank``, ``pseudo_id``, ``risk``, ``value``, ``expected_loss``, ``tier``, ``action``,
        ``owner_role``, ``due_date``.
    """
    actions = dict(DEFAULT_TIER_ACTIONS if tier_actions is None else tier_actions)
    need = [id_col, risk_col, value_col, tier_col]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(
            f"action_list: missing column(s) {missing}; the table has {list(df.columns)}."
        )
    if int(top_k) < 1:
        raise DataError(f"top_k must be at least 1, got {top_k}.")
    due0 = pd.Timestamp(as_of).normalize()
    risk = _numeric(df[risk_col], risk_col)
    value = _numeric(df[value_col], value_col, nonneg=True)
    tiers = df[tier_col].astype("str")
    unknown = ~tiers.isin(list(actions))
    if unknown.any():
        raise DataError(
            f"action_list: tier values {sorted(tiers[unknown].unique())} have no action in "
            f"tier_actions ({sorted(actions)}); at {describe_rows(df.index[unknown])}."
        )
    ids = df[id_col]
    if key is not None:
        from crmlab.privacy import pseudonym

        pseudo = ids.map(lambda x: pseudonym(x, key)).astype("str")
    else:
        text = ids.astype("str")
        raw = ~text.str.startswith(pseudonym_prefix)
        if raw.any():
            raise DataError(
                f"action_list: '{id_col}' holds ids that are not pseudonyms "
                f"(no '{pseudonym_prefix}'"
                f" prefix) at {describe_rows(df.index[raw])}; pseudonymize first "
                "(crmlab.privacy.pseudonymize) or pass key=."
            )
        pseudo = text
    loss = risk * value
    order = np.argsort(-loss, kind="mergesort")[: int(top_k)]
    tier_sel = tiers.to_numpy()[order]
    act = [actions[t] for t in tier_sel]
    if complaints_col is not None and complaints_col in df.columns:
        comp = pd.to_numeric(df[complaints_col], errors="coerce").fillna(0).to_numpy()[order]
        act = [COMPLAINT_ACTION if c > 0 else a for a, c in zip(act, comp, strict=True)]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "pseudo_id": pseudo.to_numpy()[order],
            "risk": risk[order],
            "value": value[order],
            "expected_loss": loss[order],
            "tier": tier_sel,
            "action": [a[0] for a in act],
            "owner_role": [a[1] for a in act],
            "due_date": [due0 + pd.Timedelta(days=int(a[2])) for a in act],
        }
    )
