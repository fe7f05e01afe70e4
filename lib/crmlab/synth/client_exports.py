"""Example client exports: the synthetic data written the way a client's systems export them.

Each example pairs a case config (``lib/crmlab/templates/examples/<example>.yaml``) with exports
of exactly the shape that config maps: the client's column names (Chinese and English), text
encodings, Excel sheets, dates as ``20240501`` numbers or day-first text, money as text
(``"¥1,234.50"``, ``"(12.00)"``), yes/no words, category labels of the client's own, cancelled
orders, a title line above a header. ``crmlab new NAME --from CASE --example`` writes both, so a
consultant can try the whole config route - validate, run, look the action list up - before a
client's files arrive; the tests run the same examples end to end.

The values are those of the case's synthetic data (:mod:`crmlab.synthetic`): a run on an
example gives the figures of a run on the shipped data (except where an example changes a
value's meaning: the retail survey's out-of-scale ratings are removed on import, so the data
stage reports one finding fewer).

=================== ======================= ==================================================
example             case                    exports
=================== ======================= ==================================================
retail_satisfaction retail_satisfaction     会员.csv (GBK), orders.csv (UTF-8 with BOM),
                                            满意度调查.xlsx (1-10 scale), complaints.csv (title
                                            line, day-first dates), stores.xlsx, pilot_plan.csv
finance_churn       finance_churn           客户主表.xlsx, 月度快照.csv (GB18030),
                                            retention_pilot.csv (day-first dates)
flag                finance_churn           customers.csv (GBK): one row per customer, a churned
                                            flag and a tenure (:mod:`crmlab.synth.finance_flag`)
=================== ======================= ==================================================
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.errors import ConfigError

EXAMPLES: dict[str, tuple[str, str]] = {
    # (case, example name on the command line) -> config template
    "retail_satisfaction": ("retail_satisfaction", "retail_satisfaction.yaml"),
    "finance_churn": ("finance_churn", "finance_churn.yaml"),
    "flag": ("finance_churn", "finance_flag.yaml"),
}
"""Example name -> (case, config file under ``templates/examples``)."""

FLAG_CUSTOMERS = 4000
"""Customers of the churn-flag example (the extract of :func:`crmlab.synth.finance_flag.
telco_flag_table`)."""

CANCELLED_ORDERS = 25
"""Cancelled orders added to the retail example's orders (dropped on import)."""


def example_for(case: str, variant: str | None = None) -> str:
    """The example name of ``case`` (``variant``: ``flag`` for the finance churn-flag extract)."""
    name = variant if variant not in (None, "", case) else case
    known = [n for n, (c, _) in EXAMPLES.items() if c == case]
    if name not in known:
        forms = [f"--example {n}" if n != case else "--example" for n in known]
        raise ConfigError(f"No example '{name}' for case {case}; use " + " or ".join(forms) + ".")
    return name


def example_config(example: str, key_file: bool = True) -> str:
    """The text of an example's case config. ``key_file=False``: the key comes from
    ``$CRMLAB_PSEUDONYM_KEY`` (the ``key_file:`` line becomes a comment)."""
    _, file = EXAMPLES[example]
    text = resources.files("crmlab").joinpath("templates", "examples", file).read_text("utf-8")
    if not key_file:
        text = text.replace("\nkey_file:", "\n# key_file:")
    return text


def write_example_exports(example: str, exports: str | Path, seed: int = 42, **sizes) -> dict:
    """Write the export files of ``example`` into the folder ``exports``; returns the planted
    truth of the synthetic data behind them. ``sizes``: passed to the case's generator
    (e.g. ``n_customers``); the flag example takes ``n_customers`` only."""
    from crmlab.synthetic import generate

    case, _ = EXAMPLES[example]
    exports = Path(exports)
    exports.mkdir(parents=True, exist_ok=True)
    if example == "flag":
        return _flag(exports, seed, sizes.get("n_customers", FLAG_CUSTOMERS))
    with tempfile.TemporaryDirectory(prefix="crmlab-example-") as tmp:
        canonical = Path(tmp) / case
        truth = generate(case, canonical, seed=seed, **sizes)
        rng = np.random.default_rng(seed)
        (_retail if case == "retail_satisfaction" else _finance)(canonical, exports, rng)
    return truth


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _yyyymmdd(s: pd.Series) -> pd.Series:
    """Dates as whole numbers 20240501 (missing or unreadable: missing)."""
    d = pd.to_datetime(s.replace("", None), errors="coerce")
    return d.dt.strftime("%Y%m%d").astype("Int64")


def _day_first(s: pd.Series) -> pd.Series:
    """Dates as day-first text 05/01/2026 (other text kept as it is)."""
    d = pd.to_datetime(s.replace("", None), errors="coerce", format="%Y-%m-%d")
    return d.dt.strftime("%d/%m/%Y").where(d.notna(), s)


def _money(x: float) -> str:
    """A till system's amount: ``¥1,234.50``; a return in brackets, ``(12.00)``; blank."""
    if pd.isna(x):
        return ""
    return f"({abs(x):,.2f})" if x < 0 else f"¥{x:,.2f}"


def _either(rng, s: pd.Series, words: dict[str, tuple[str, ...]]) -> pd.Series:
    """Each value replaced by one of its client words, picked at random (blank stays blank)."""
    pick = rng.random(len(s))
    out = s.copy()
    for value, options in words.items():
        hit = s == value
        idx = np.minimum((pick[hit.to_numpy()] * len(options)).astype(int), len(options) - 1)
        out[hit] = np.array(options, dtype=object)[idx]
    return out


def _numbers(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace("", None), errors="coerce")


def _retail(canonical: Path, out: Path, rng) -> None:
    c = _read(canonical / "customers.csv")
    ids = [f"11010119{80 + i % 20}0101{i % 1000:03d}X" for i in range(len(c))]  # fake id numbers
    members = pd.DataFrame(
        {
            "会员编号": c["customer_id"],
            "姓名": c["name"],
            "手机号": c["phone"],
            "邮箱": c["email"],
            "身份证号": ids,
            "注册日期": _yyyymmdd(c["signup_date"]),
            "区域": c["region"],
            "常去门店": c["home_store"],
            "年龄段": c["age_band"],
            "性别": c["gender"],
            "渠道": c["channel"],
            "是否会员": _either(
                rng, c["loyalty_member"], {"yes": ("是", "会员"), "no": ("否", "非会员")}
            ),
        }
    )
    (out / "会员.csv").write_bytes(members.to_csv(index=False).encode("gbk"))

    t = _read(canonical / "transactions.csv")
    orders = pd.DataFrame(
        {
            "OrderNo": t["transaction_id"],
            "MemberID": t["customer_id"],
            "Shop": t["store_id"],
            "OrderDate": _yyyymmdd(t["date"]),
            "Amount": _numbers(t["amount"]).map(_money),
            "Qty": t["items"],
            "Promo": t["promotion"].map({"1": "Y", "0": "N"}).fillna(""),
            "Status": _either(
                rng, pd.Series("x", index=t.index), {"x": ("done", "paid", "已完成")}
            ),
        }
    )
    n_cancelled = min(CANCELLED_ORDERS, len(orders))
    cancelled = orders.sample(n_cancelled, random_state=int(rng.integers(2**31)))
    cancelled = cancelled.assign(
        OrderNo=[f"X{i:05d}" for i in range(n_cancelled)],
        Status=_either(rng, pd.Series("x", index=cancelled.index), {"x": ("cancelled", "已取消")}),
    )
    orders = pd.concat([orders, cancelled]).sort_index(kind="stable")
    (out / "orders.csv").write_text(orders.to_csv(index=False), encoding="utf-8-sig")

    s = _read(canonical / "survey.csv")
    sat = _numbers(s["overall_satisfaction"])

    def ten() -> pd.Series:  # 1 -> 1|2, ..., 5 -> 9|10: back to the same 1-5 rating on import
        x = 2 * sat - rng.integers(0, 2, len(sat))
        return x.where(sat.between(1, 5), sat.map({0: 0, 6: 11}))  # out of scale stays out

    survey = pd.DataFrame(
        {
            "问卷编号": s["response_id"],
            "会员编号": s["customer_id"].replace("", None),
            "门店编号": s["store_id"],
            "填写日期": pd.to_datetime(s["date"]),
            "总体满意度": ten(),
            "再次光临意愿": ten(),
            "推荐意愿": _numbers(s["recommend"]),
            "商品质量": _numbers(s["product_quality"]),
            "性价比": _numbers(s["price_value"]),
            "服务态度": _numbers(s["staff_service"]),
            "专业程度": _numbers(s["staff_service"]),
            "门店环境": _numbers(s["store_environment"]),
            "结账速度": _numbers(s["checkout_speed"]),
            "商品齐全": _numbers(s["product_availability"]),
            "会员权益": _numbers(s["loyalty_programme"]),
            "意见": s["comment"].replace("", None),
        }
    )
    with pd.ExcelWriter(out / "满意度调查.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["满意度调查导出：问卷2025 工作表"]}).to_excel(
            xw, sheet_name="说明", index=False
        )
        survey.to_excel(xw, sheet_name="问卷2025", index=False)

    q = _read(canonical / "complaints.csv")
    complaints = pd.DataFrame(
        {
            "投诉编号": q["complaint_id"],
            "会员编号": q["customer_id"],
            "受理日期": _day_first(q["date"]),
            "类别": q["category"],
            "是否解决": q["resolved"].map({"yes": "已解决", "no": "处理中"}).fillna(""),
            "处理天数": q["days_to_resolve"],
        }
    )
    title = "客服中心投诉记录导出\n"
    (out / "complaints.csv").write_text(title + complaints.to_csv(index=False), encoding="utf-8")

    st = _read(canonical / "stores.csv")
    pd.DataFrame(
        {
            "门店编号": st["store_id"],
            "门店名称": st["store_name"],
            "区域": st["region"],
            "开业日期": pd.to_datetime(st["opened_date"].replace("", None), errors="coerce"),
        }
    ).to_excel(out / "stores.xlsx", index=False, engine="openpyxl")

    p = _read(canonical / "pilot.csv")
    pd.DataFrame(
        {
            "门店编号": p["store_id"],
            "组别": p["group"].map({"treatment": "实验组", "control": "对照组"}),
            "措施": p["intervention"],
            "开始日期": p["start_date"],
            "结束日期": p["end_date"],
        }
    ).to_csv(out / "pilot_plan.csv", index=False)


def _finance(canonical: Path, out: Path, rng) -> None:
    c = _read(canonical / "customers.csv")
    yes = {"yes": ("是", "有"), "no": ("否", "无")}
    master = pd.DataFrame(
        {
            "客户编号": c["customer_id"],
            "客户姓名": c["name"],
            "手机号码": c["phone"],
            "证件号码": c["national_id"],
            "开户日期": _yyyymmdd(c["open_date"]),
            "销户日期": _yyyymmdd(c["closure_date"]),
            "年龄": _numbers(c["age"]),
            "省份": c["region"],
            "客户等级": _either(
                rng,
                c["segment"],
                {
                    "mass": ("大众客户", "普通"),
                    "affluent": ("富裕客户", "贵宾"),
                    "private": ("私人银行",),
                },
            ),
            "持有产品数": _numbers(c["products_held"]),
            "代发工资": _either(rng, c["salary_deposit"], yes),
            "专属客户经理": _either(rng, c["relationship_manager"], yes),
            "手机银行活跃": _either(
                rng, c["digital_active"], {"yes": ("是", "活跃"), "no": ("否", "不活跃")}
            ),
        }
    )
    with pd.ExcelWriter(out / "客户主表.xlsx", engine="openpyxl") as xw:
        master.to_excel(xw, sheet_name="客户", index=False)

    s = _read(canonical / "snapshots.csv")
    balance = _numbers(s["balance"])
    snapshots = pd.DataFrame(
        {
            "客户编号": s["customer_id"],
            "月份": s["month"].str.replace("-", "", regex=False),
            "月末余额": balance.map(lambda x: "" if pd.isna(x) else f"{x:,.2f}"),
            "交易笔数": s["n_transactions"],
            "登录次数": s["logins"],
            "手续费": s["fees_charged"],
            "费率上调": s["fee_rise"].map({"1": "是", "0": "否"}).fillna(""),
            "利率变动": s["rate_change"],
            "客服接触次数": s["service_contacts"],
            "投诉次数": s["complaints"],
        }
    )
    (out / "月度快照.csv").write_bytes(snapshots.to_csv(index=False).encode("gb18030"))

    p = _read(canonical / "pilot.csv")
    pd.DataFrame(
        {
            "customer_no": p["customer_id"],
            "arm": p["group"],
            "offer_date": _day_first(p["offer_date"]),
        }
    ).to_csv(out / "retention_pilot.csv", index=False)


def _flag(out: Path, seed: int, n: int) -> dict:
    from crmlab.synth.finance_flag import telco_flag_table

    table, truth = telco_flag_table(n, seed=seed)
    (out / "customers.csv").write_bytes(table.to_csv(index=False).encode("gbk"))
    return truth
