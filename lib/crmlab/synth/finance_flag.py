"""A telecom-style churn extract with a planted truth: one row per customer, a churned flag and a
tenure, no dates - the shape of the finance case's flag path (``crmlab new NAME --from finance_churn --example flag``).

Columns (Chinese names, as a client's export):

======== ================================================================================
客户编号   customer number ``C000001`` ...
客户姓名   a fake name (personal: listed under ``pii:``)
手机号码   a fake mobile number (personal: detected)
性别       男 / 女 - no effect on churn
合约类型   月付 (month to month, 50%), 一年 (30%), 两年 (20%)
月费       monthly fee as text, e.g. ``"￥65.50"`` (full-width yuan sign) (20 to 120)
电子账单   是 / 否 - no effect on churn
在网月数   tenure in whole months
是否流失   the churn flag, written in a mix of ``Yes`` / ``是`` / ``1`` and ``No`` / ``否`` / ``0``
======== ================================================================================

Truth (exponential proportional hazards, per month): ``hazard = BASE_HAZARD x exp(x'beta)`` with
``beta`` = :data:`LOG_HAZARD_RATIOS` (一年 and 两年 against 月付; ``月费`` per CNY; 性别 and 电子账单
zero). Each customer is observed for ``C ~ Uniform(1, 72)`` months; the time to leaving is
``T ~ Exponential(hazard)``; ``在网月数 = ceil(min(T, C))`` and ``是否流失 = 1`` if ``T <= C``. A Cox
model of tenure and flag recovers the hazard ratios ``exp(beta)``; a logistic regression of the
flag gets the same signs (its coefficients are not the betas: churn within ``C`` months is
``1 - exp(-hazard x C)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.synth.names import fake_people

BASE_HAZARD = 0.008
"""Monthly hazard of leaving of a month-to-month customer with a fee of 0 (before the fee term)."""

LOG_HAZARD_RATIOS = {
    "合约类型_一年": -0.9,
    "合约类型_两年": -1.5,
    "月费": 0.012,
    "性别_女": 0.0,
    "电子账单": 0.0,
}
"""Planted log hazard ratios (contract dummies against 月付; ``月费`` per CNY of monthly fee)."""

CONTRACTS = (("月付", 0.5), ("一年", 0.3), ("两年", 0.2))


def telco_flag_table(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The extract (client column names) and its truth.

    Returns ``(table, truth)``; ``truth`` holds ``log_hazard_ratios``, ``hazard_ratios``,
    ``base_hazard``, ``n``, ``n_churned`` and ``churn_share`` (= n_churned / n, the baseline the
    flag path must report).
    """
    rng = np.random.default_rng(seed)
    names, probs = zip(*CONTRACTS, strict=True)
    contract = rng.choice(np.array(names), size=n, p=np.array(probs))
    fee = np.round(rng.uniform(20, 120, n), 2)
    female = rng.random(n) < 0.5
    paperless = rng.random(n) < 0.6
    b = LOG_HAZARD_RATIOS
    lin = (
        b["合约类型_一年"] * (contract == "一年")
        + b["合约类型_两年"] * (contract == "两年")
        + b["月费"] * fee
        + b["性别_女"] * female
        + b["电子账单"] * paperless
    )
    hazard = BASE_HAZARD * np.exp(lin)
    t_leave = rng.exponential(1 / hazard)
    observed = rng.uniform(1, 72, n)
    churned = t_leave <= observed
    tenure = np.ceil(np.minimum(t_leave, observed)).astype(np.int64)
    yes = np.array(["Yes", "是", "1"])[rng.integers(0, 3, n)]
    no = np.array(["No", "否", "0"])[rng.integers(0, 3, n)]
    people = fake_people(rng, n, gender=np.where(female, "F", "M"), zh_share=1.0)
    table = pd.DataFrame(
        {
            "客户编号": [f"C{i:06d}" for i in range(1, n + 1)],
            "客户姓名": pd.Series(people["name"], dtype="str"),
            "手机号码": pd.Series(people["phone"], dtype="str"),
            "性别": np.where(female, "女", "男"),
            "合约类型": contract,
            "月费": [f"￥{x:,.2f}" for x in fee],
            "电子账单": np.where(paperless, "是", "否"),
            "在网月数": tenure,
            "是否流失": np.where(churned, yes, no),
        }
    )
    truth = {
        "log_hazard_ratios": dict(b),
        "hazard_ratios": {k: float(np.exp(v)) for k, v in b.items()},
        "base_hazard": BASE_HAZARD,
        "n": int(n),
        "n_churned": int(churned.sum()),
        "churn_share": float(churned.mean()),
    }
    return table, truth
