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

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from crmlab.errors import DataError, describe_rows

__all__ = [
    "DEFAULT_TIER_ACTIONS",
    "FLAG_TIER_ACTIONS",
    "COMPLAINT_ACTION",
    "action_list",
    "no_success_rate",
    "backtest_rankings",
    "campaign_options",
    "campaign_roi",
    "cost_per_saved",
    "customer_value",
    "group_churn_share",
    "monitoring_plan",
    "relative_reduction",
    "retention_need",
    "retention_plan",
    "rollout_from_pilot",
    "targeting_curve",
]

#: tier -> (recommended action, owner role, days until due). Seed 004: A = key accounts with a
#: dedicated manager, B = regular contact, C = automated marketing. The owners are who contacts
#: each tier's customers: the finance case's action list names them per tier (its spec's
#: ``actions.contact``), so that its contact and owner columns agree (:mod:`crmlab.actions`).
DEFAULT_TIER_ACTIONS: dict[str, tuple[str, str, int]] = {
    "A": (
        "relationship-manager call with a personalised retention offer",
        "relationship_manager",
        7,
    ),
    "B": ("service call with a fee-waiver offer", "service_team", 14),
    "C": ("automated e-mail and app retention offer", "marketing_automation", 30),
}
#: The campaign's tier actions for a churn-flag extract (any business - the example is a
#: telecom): no relationship managers or fees; tier A's contact is an account manager, as in
#: the flag playbook's contacts (the finance spec's ``actions.when``).
FLAG_TIER_ACTIONS: dict[str, tuple[str, str, int]] = {
    "A": ("account-manager call with a personalised retention offer", "account_manager", 7),
    "B": ("service call with a retention offer", "service_team", 14),
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
    from crmlab.churn import missing_balance_message

    why = missing_balance_message(df, balance_col) if "months_observed" in df.columns else None
    if why is not None:  # a churn data set: which customers, and why they have no balance
        raise DataError(f"customer_value: {why}")
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


def no_success_rate(flag_extract: bool = False) -> str:
    """Why a campaign is not costed - no positive success rate - and what to set: a rate from
    the stage-4 pilot or given as ``success_rate``; a churn-flag extract (no dates) cannot hold
    a pilot, so only a rate measured elsewhere."""
    if flag_extract:
        return (
            "There is no positive success rate: set success_rate to the share of contacted "
            "leavers the offer keeps (measured by a pilot elsewhere: a churn-flag extract "
            "cannot hold one)."
        )
    return (
        "There is no positive success rate: set success_rate, or run a pilot that shows one "
        "(stage 4)."
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
    wave_month: int | None = None,
) -> pd.DataFrame:
    """The campaign's work list: the ``top_k`` customers by expected loss with an action each.

    Customers are ranked by expected loss = ``risk`` x ``value`` (highest first, ties by input
    order). The action, owner role and days until due come from the customer's value tier
    (``tier_actions``, default :data:`DEFAULT_TIER_ACTIONS`); a customer with complaints
    (``complaints_col`` > 0, when that column exists) gets :data:`COMPLAINT_ACTION` instead.

    Due dates agree with the implementation plan (:func:`retention_plan`): ``as_of`` is the
    plan's first day; its first month trains the callers and wave 1 contacts the list in month
    ``wave_month`` (default :data:`crmlab.plans.FIRST_CONTACT_MONTH`: the month after). Each
    action is due its days after the first day of that month, never after its last
    (:func:`crmlab.plans.due_date`): plan start 2026-10, 7 days -> 2026-11-08.

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
    from crmlab import plans

    wave = plans.FIRST_CONTACT_MONTH if wave_month is None else int(wave_month)
    if wave < 0:
        raise DataError(f"wave_month must be >= 0, got {wave_month}.")
    start = pd.Timestamp(as_of).normalize()
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
            "due_date": [pd.Timestamp(plans.due_date(start, wave, int(a[2]))) for a in act],
        }
    )


# ----------------------------------------------------------------------------------------------
# what a churn goal means, pilot read-out helpers, back-testing a ranking, monitoring
# ----------------------------------------------------------------------------------------------
def retention_need(
    dataset: pd.DataFrame,
    n_open: int,
    baseline: float,
    target: float,
    *,
    label_col: str = "churned",
    balance_col: str | None = "balance_mean",
    value_col: str | None = "value",
) -> dict:
    """What cutting churn from ``baseline`` to ``target`` means in customers, balances and value.

    Definitions (for the next period, on a book of ``n_open`` open accounts):

    - ``expected_lost_baseline`` = n_open x baseline; ``expected_lost_target`` = n_open x target;
    - ``customers_to_retain`` = their difference: closures that must not happen;
    - ``balances_to_retain`` = customers_to_retain x the mean balance of the customers who
      churned in ``dataset`` (the last period: its ``label_col`` = 1), i.e. assuming next
      period's churners look like the last period's;
    - ``value_at_stake`` = expected_lost_baseline x the churners' mean value (e.g. annual margin,
      :func:`customer_value`): what churn costs a year if nothing changes;
      ``value_to_retain`` = customers_to_retain x the same mean.

    Balance and value figures are None when their column is absent (or None).
    """
    if int(n_open) < 0:
        raise DataError(f"n_open must be >= 0, got {n_open}.")
    for name, v in (("baseline", baseline), ("target", target)):
        if not 0 <= v <= 1:
            raise DataError(f"{name} must be a churn rate in [0, 1], got {v}.")
    if label_col not in dataset.columns:
        raise DataError(f"retention_need: no '{label_col}' column in the data set.")
    churners = dataset[pd.to_numeric(dataset[label_col], errors="coerce") == 1]
    lost_b, lost_t = n_open * baseline, n_open * target
    retain = lost_b - lost_t
    out = {
        "n_open": int(n_open),
        "n_churners_last_period": int(len(churners)),
        "expected_lost_baseline": lost_b,
        "expected_lost_target": lost_t,
        "customers_to_retain": retain,
        "mean_balance_churner": None,
        "balances_to_retain": None,
        "mean_value_churner": None,
        "value_at_stake": None,
        "value_to_retain": None,
    }
    if len(churners) and balance_col and balance_col in dataset.columns:
        mean_bal = float(pd.to_numeric(churners[balance_col], errors="coerce").mean())
        out["mean_balance_churner"] = mean_bal
        out["balances_to_retain"] = retain * mean_bal
    if len(churners) and value_col and value_col in dataset.columns:
        mean_val = float(pd.to_numeric(churners[value_col], errors="coerce").mean())
        out["mean_value_churner"] = mean_val
        out["value_at_stake"] = lost_b * mean_val
        out["value_to_retain"] = retain * mean_val
    return out


def relative_reduction(
    churned_t: int, n_t: int, churned_c: int, n_c: int, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Relative churn reduction of a treated arm: ``1 - rate_t / rate_c``, with an interval.

    The interval is ``1 -`` the risk ratio's interval (statsmodels
    ``confint_proportions_2indep(compare="ratio", method="log-adjusted")``). Returns
    ``(reduction, low, high)``; 0.25 means the offer removed a quarter of the churn.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    for k, n, arm in ((churned_t, n_t, "treated"), (churned_c, n_c, "control")):
        if not (n > 0 and 0 <= k <= n):
            raise DataError(f"{arm} arm: need 0 <= churned <= n and n > 0, got {k} of {n}.")
    if churned_c == 0:
        raise DataError("relative_reduction: no churn in the control arm; nothing to reduce.")
    ratio = (churned_t / n_t) / (churned_c / n_c)
    lo, hi = confint_proportions_2indep(
        churned_t, n_t, churned_c, n_c, compare="ratio", method="log-adjusted", alpha=alpha
    )
    return 1 - ratio, 1 - float(hi), 1 - float(lo)


def cost_per_saved(
    effect: float, cost_per_customer: float, effect_ci: tuple[float, float] | None = None
) -> dict:
    """Cost of one customer kept by an offer: ``cost_per_customer / (-effect)``.

    ``effect`` is treated minus control churn (negative when the offer works); every treated
    customer costs ``cost_per_customer`` (offer + contact). Returns ``cost_per_saved`` and, with
    ``effect_ci``, ``low`` and ``high`` (from the interval's ends); a bound where the offer saves
    nobody (effect >= 0) is ``inf``.
    """
    if cost_per_customer < 0:
        raise DataError(f"cost_per_customer must be >= 0, got {cost_per_customer}.")

    def one(e: float) -> float:
        return cost_per_customer / -e if e < 0 else float("inf")

    out = {"cost_per_saved": one(effect)}
    if effect_ci is not None:
        lo, hi = effect_ci
        out["low"], out["high"] = one(lo), one(hi)
    return out


def group_churn_share(
    labelled: pd.DataFrame,
    group_ids,
    *,
    group_rate: float | None = None,
    id_col: str = "customer_id",
    label_col: str = "churned",
) -> float:
    """Share of a period's churners who belong to a group (e.g. a campaign's target group).

    ``labelled``: the customers at risk in the period with a 0/1 ``label_col`` (e.g.
    :func:`crmlab.churn.label_churn`). With ``group_rate`` the group's churners are counted as
    ``n_group x group_rate`` instead of observed - use the pilot's *control* rate when part of
    the group got the offer, to get the share of churn the group would have had without it::

        share = churners in group / (churners outside group + churners in group)
    """
    for c in (id_col, label_col):
        if c not in labelled.columns:
            raise DataError(f"group_churn_share: no '{c}' column.")
    in_group = labelled[id_col].isin(pd.Series(list(group_ids), dtype="object"))
    y = pd.to_numeric(labelled[label_col], errors="coerce").fillna(0)
    outside = float(y[~in_group].sum())
    inside = float(y[in_group].sum()) if group_rate is None else float(in_group.sum()) * group_rate
    total = outside + inside
    if total <= 0:
        raise DataError("group_churn_share: nobody churned in the period.")
    return inside / total


def rollout_from_pilot(
    baseline: float,
    target: float,
    reduction: float,
    churn_share: float,
    reduction_ci: tuple[float, float] | None = None,
):
    """Where the churn rate lands if the piloted offer reaches a group holding ``churn_share`` of
    the churners and removes ``reduction`` of their churn.

    The effect on the overall rate is ``-baseline x reduction x churn_share`` (with the
    interval from ``reduction_ci``); the verdict comes from
    :func:`crmlab.pilot.rollout_projection`.
    """
    from crmlab.pilot import rollout_projection

    if not 0 <= churn_share <= 1:
        raise DataError(f"churn_share must be in [0, 1], got {churn_share}.")
    effect = -baseline * reduction * churn_share
    ci = None
    if reduction_ci is not None:
        lo, hi = reduction_ci
        ci = (-baseline * hi * churn_share, -baseline * lo * churn_share)
    return rollout_projection(baseline, effect, target, effect_ci=ci)


def backtest_rankings(
    df: pd.DataFrame,
    rankings: Mapping[str, object],
    contact_shares=(0.05, 0.1, 0.2, 0.3),
    *,
    label_col: str = "churned",
    value_col: str = "value",
) -> pd.DataFrame:
    """Compare rankings on a period whose outcome is known: whom would each have contacted?

    Parameters
    ----------
    df : DataFrame
        One row per customer with the observed 0/1 ``label_col`` and ``value_col``.
    rankings : mapping
        name -> score array (highest contacted first; ties keep the row order).
    contact_shares : sequence of float
        Shares of customers contacted (top ``round(share x n)``).

    Returns
    -------
    DataFrame
        ``ranking``, ``contact_share``, ``n_contacted``, ``churners_reached``,
        ``share_of_churners`` (of all churners), ``lift`` (churn rate of the contacted / overall
        churn rate), ``value_lost_reached`` (sum of value over the contacted churners) and
        ``share_of_value_lost`` (of the value of all churners).
    """
    for c in (label_col, value_col):
        if c not in df.columns:
            raise DataError(f"backtest_rankings: no '{c}' column.")
    n = len(df)
    y = _numeric(df[label_col], label_col, n)
    if not np.isin(y, [0, 1]).all():
        raise DataError(f"{label_col} must be 0/1.")
    if y.sum() == 0:
        raise DataError("backtest_rankings: nobody churned; there is nothing to reach.")
    v = _numeric(df[value_col], value_col, n, nonneg=True)
    shares = _numeric(list(contact_shares), "contact_shares")
    if ((shares <= 0) | (shares > 1)).any():
        raise DataError("contact_shares must be in (0, 1].")
    lost = y * v
    rows = []
    for name, score in rankings.items():
        s = _numeric(score, f"ranking '{name}'", n)
        order = np.argsort(-s, kind="mergesort")
        cum_y = np.r_[0.0, np.cumsum(y[order])]
        cum_v = np.r_[0.0, np.cumsum(lost[order])]
        for share in shares:
            k = int(round(share * n))
            rows.append(
                {
                    "ranking": name,
                    "contact_share": float(share),
                    "n_contacted": k,
                    "churners_reached": int(cum_y[k]),
                    "share_of_churners": cum_y[k] / cum_y[-1],
                    "lift": (cum_y[k] / k) / (cum_y[-1] / n) if k else np.nan,
                    "value_lost_reached": cum_v[k],
                    "share_of_value_lost": cum_v[k] / cum_v[-1] if cum_v[-1] > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def monitoring_plan(
    goal_target: float,
    *,
    model_auc: float | None = None,
    cost_per_saved_customer: float | None = None,
    holdout_share: float = 0.1,
    flag: bool = False,
    currency: str = "CNY",
) -> pd.DataFrame:
    """What to track, how often, who owns it and when to act: the churn programme's monitoring.

    Returns one row per metric: ``metric``, ``definition``, ``frequency``, ``owner``,
    ``act_when`` (the alert rule, filled with the goal's target, the model's test AUC and the
    pilot's cost per saved customer, in ``currency``, where given). ``flag=True``: the wording
    for a churn-flag extract of any industry (churn share of each new extract, leavers,
    cancellations) instead of a bank's accounts, closures and balances.
    """
    auc_rule = (
        f"AUC below {model_auc - 0.05:.2f} (test AUC {model_auc:.2f} - 0.05): refit the model"
        if model_auc is not None
        else "AUC falls 0.05 below the last validation: refit the model"
    )
    cost_rule = (
        f"above {currency} {cost_per_saved_customer:,.0f} per saved customer (the pilot's cost): "
        "review the offer"
        if cost_per_saved_customer is not None and np.isfinite(cost_per_saved_customer)
        else "above the value of a saved customer: review the offer"
    )
    path_rule = f"above the goal path (target {goal_target:.1%} at the deadline) two months running"
    rows = [
        (
            "12-month churn rate",
            "closures in the last 12 months / accounts open 12 months ago",
            "monthly",
            "Programme lead",
            path_rule,
        ),
        (
            "Closures by segment and tenure",
            "accounts closed in the month, by segment and tenure band",
            "monthly",
            "Analytics",
            "a segment's closures up 20% on its 6-month average",
        ),
        (
            "Campaign reach",
            "customers contacted / customers on the action list; offers accepted",
            "weekly",
            "Campaign manager",
            "fewer than 80% of the list contacted by the due date",
        ),
        (
            "Uplift against a holdout",
            f"churn of contacted vs a random {holdout_share:.0%} holdout of the list kept "
            "uncontacted",
            "monthly",
            "Analytics",
            "the holdout's churn is not higher than the contacted group's for 3 months",
        ),
        (
            "Model health",
            "AUC and calibration of last year's scores against the closures that followed",
            "quarterly",
            "Analytics",
            auc_rule,
        ),
        (
            "Early-warning signals",
            "complaints, fee rises, balance run-downs (balance down 50%+ in 2 months)",
            "monthly",
            "Service manager",
            "any complaint of a tier-A customer: call within 3 days",
        ),
        (
            "Cost per saved customer",
            "campaign cost / (churn of holdout - churn of contacted) x contacted",
            "quarterly",
            "Finance",
            cost_rule,
        ),
        (
            "Reasons for leaving",
            "exit survey and relationship-manager notes on every closure",
            "every closure",
            "Customer service",
            "one reason above 25% of closures: fix it at the source",
        ),
    ]
    if flag:  # the same programme in words for any industry's churn-flag extract
        rows[0] = (
            "Churn share",
            "customers who left since the last extract / customers in the last extract",
            "monthly",
            "Programme lead",
            path_rule,
        )
        rows[1] = (
            "Leavers by segment and tenure",
            "customers who left in the month, by segment and tenure band",
            "monthly",
            "Analytics",
            "a segment's leavers up 20% on its 6-month average",
        )
        rows[4] = (
            rows[4][0],
            "AUC and calibration of earlier scores against who left since",
            *rows[4][2:],
        )
        rows[5] = (rows[5][0], "complaints, price rises, falling usage", *rows[5][2:])
        rows[7] = (
            "Reasons for leaving",
            "exit survey and account-manager notes on every cancellation",
            "every cancellation",
            "Customer service",
            "one reason above 25% of cancellations: fix it at the source",
        )
    return pd.DataFrame(rows, columns=["metric", "definition", "frequency", "owner", "act_when"])


def campaign_options(
    df: pd.DataFrame,
    rankings: Mapping[str, object],
    contact_share: float,
    *,
    success_rate: float,
    offer_cost: float,
    contact_cost: float,
    risk_col: str = "churn_prob",
    value_col: str = "value",
) -> pd.DataFrame:
    """One campaign per ranking: contact the top ``contact_share`` of ``df``; what does it yield?

    Each row is :func:`targeting_curve` at ``contact_share`` with the ranking's scores, plus the
    :func:`campaign_roi` of it (value per saved customer = expected value saved / expected
    saved). Columns: ``ranking``, ``n_contacted``, ``expected_churners_reached``,
    ``share_of_expected_churners``, ``expected_saved``, ``expected_value_saved``, ``cost``,
    ``net_value``, ``roi``. The expected numbers of customers are exact sums of probabilities
    (201.72: record them as they are); :func:`crmlab.narrative.present` shows them as whole
    customers and the money columns (in the unit of ``value``, CNY in the finance case) with the
    currency in their headers.
    """
    for c in (risk_col, value_col):
        if c not in df.columns:
            raise DataError(f"campaign_options: no '{c}' column.")
    rows = []
    for name, score in rankings.items():
        row = targeting_curve(
            score,
            df[risk_col],
            df[value_col],
            [contact_share],
            success_rate=success_rate,
            contact_cost=contact_cost,
            offer_cost=offer_cost,
        ).iloc[0]
        cost = float(row["cost"])
        rows.append(
            {
                "ranking": name,
                "n_contacted": int(row["n_contacted"]),
                "expected_churners_reached": float(row["expected_churners_reached"]),
                "share_of_expected_churners": float(row["share_of_expected_churners"]),
                "expected_saved": float(row["expected_saved"]),
                "expected_value_saved": float(row["expected_value_saved"]),
                "cost": cost,
                "net_value": float(row["net_value"]),
                "roi": float(row["net_value"]) / cost if cost > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


RETENTION_PLAN_MIN_MONTHS = 6
"""The shortest retention programme plan (:func:`retention_plan`): train, waves, evaluate."""


def retention_plan(
    start: str,
    deadline_months: int,
    focus: Sequence[str],
    n_contacted: int,
    *,
    holdout_share: float = 0.1,
) -> pd.DataFrame:
    """The implementation and staff-training plan of a retention programme, as milestones.

    Seed 000 steps 4-6: train the people who will make the calls, start with one wave and a
    holdout so the uplift keeps being measured, refresh the model, roll out, evaluate at the
    deadline. ``focus`` names the churn drivers the training covers (e.g. the model's top
    features); ``n_contacted`` is the first wave's size. Months are counted from ``start``
    ("YYYY-MM"): the callers are trained in the first month, wave 1 contacts its customers in
    :data:`crmlab.plans.FIRST_CONTACT_MONTH` - the month the action list's due dates fall in
    (:func:`action_list`). Returns ``month``, ``milestone``, ``owner``, ``check``.
    """
    from crmlab.plans import FIRST_CONTACT_MONTH as WAVE_1
    from crmlab.plans import add_months

    if int(deadline_months) < RETENTION_PLAN_MIN_MONTHS:
        raise DataError(
            f"A retention programme plan needs at least {RETENTION_PLAN_MIN_MONTHS} months to "
            "the deadline."
        )
    if not 0 <= holdout_share < 1:
        raise DataError(f"holdout_share must be in [0, 1), got {holdout_share}.")
    d = int(deadline_months)
    focus_text = ", ".join(str(f).replace("_", " ") for f in focus) or "the main churn drivers"
    rows = [
        (0, "Kick-off: owners named, baseline churn frozen, budget agreed", "Programme lead",
         "baseline and target signed off"),
        (0, f"Training material: why customers leave ({focus_text}); offer rules; call scripts",
         "Training lead", "course and role-play cases ready"),
        (0, "Train relationship managers and the service team (workshop + role-play on real "
         "action-list cases)", "Training lead", "100% of callers trained"),
        (WAVE_1, f"Wave 1: contact {n_contacted:,} customers from the action list; keep a "
         f"random {holdout_share:.0%} holdout uncontacted", "Campaign manager",
         "80%+ contacted by the due dates"),
        (WAVE_1, "Fix root causes: complaint follow-up within 3 days; review fee rises for at-risk "
         "customers", "Service manager", "complaints and fee rises on the dashboard"),
        (3, "Read-out of wave 1 against the holdout; adjust the offer and the targeting share",
         "Analytics", "uplift and cost per saved customer"),
        (max(4, d // 2), "Refit the churn model on the latest year; wave 2 to the new list; "
         "refresher training", "Analytics", "test AUC and calibration"),
        (d, "Evaluation against the goal; plan the next cycle", "Programme lead",
         "12-month churn rate vs target"),
    ]  # fmt: skip
    plan = pd.DataFrame(rows, columns=["month", "milestone", "owner", "check"])
    plan["month"] = [add_months(start, m) for m in plan["month"]]
    return plan
