"""Languages of the deliverables: English and Simplified Chinese.

What is translated, and how:

- **Interface text** of reports, the index and the trainer guide (headings, captions, notes):
  :func:`ui` looks a key up in :data:`UI`.
- **Terms** - column headers, segment and driver names, KPI names, chart titles, axis labels and
  legend entries: :func:`translate` looks the English text up in :data:`TERMS_ZH` (case- and
  underscore-insensitive), then tries the patterns in :data:`PATTERNS_ZH` (texts with numbers in
  them, e.g. ``"target 90%"``), then translates line by line; text it does not know is returned
  unchanged, so an untranslated label shows in English rather than disappearing.
- **Charts**: the chart functions in :mod:`crmlab.charts` draw in English (one code path, tested
  once). :func:`localize_axes` rewrites a drawn chart's title, axis labels, category tick labels,
  legend and annotations through :func:`translate`; :func:`chart_style` gives matplotlib a font
  list ending in a CJK font shipped by a PyPI package (Noto Sans CJK SC from ``mplfonts``, SIL Open
  Font License), registered by :func:`register_cjk_font`, so Chinese characters render instead of
  empty boxes. The report re-draws its key charts from a run's artifacts this way
  (:mod:`crmlab.charts.from_run`); a notebook can do the same with
  ``i18n.localize_axes(charts.plot_...(...), "zh")`` inside ``with i18n.chart_style("zh"):``.
- **Numbers**: :func:`pct`, :func:`pts`, :func:`num` and :func:`long_date` format by language.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from crmlab.errors import ParameterError

LANGUAGES = ("en", "zh")

#: Family name of the shipped CJK font (the ``name`` table of NotoSansCJKsc-Regular.otf).
CJK_FAMILY = "Noto Sans CJK SC"
_CJK_PACKAGE = "mplfonts"
_CJK_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise :class:`~crmlab.errors.ParameterError`."""
    if lang not in LANGUAGES:
        raise ParameterError(
            f"Unknown language {lang!r}: use one of {', '.join(LANGUAGES)} (e.g. --lang zh)."
        )
    return lang


# --------------------------------------------------------------------------------------------
# interface text
# --------------------------------------------------------------------------------------------
UI: dict[str, dict[str, str]] = {
    "report": {"en": "Case report", "zh": "案例报告"},
    "client": {"en": "Client", "zh": "客户"},
    "date": {"en": "Date", "zh": "日期"},
    "run": {"en": "Run", "zh": "运行编号"},
    "status": {"en": "Status", "zh": "状态"},
    "status_ok": {"en": "complete", "zh": "已完成"},
    "status_failed": {"en": "failed", "zh": "失败"},
    "contents": {"en": "Contents", "zh": "目录"},
    "executive_summary": {"en": "Executive summary", "zh": "执行摘要"},
    "skipped": {"en": "Skipped", "zh": "已跳过"},
    "note_in_english": {
        "en": "(This note is in English only.)",
        "zh": "（以下说明暂无中文版本，保留英文原文。）",
    },
    "skipped_reason_in_english": {
        "en": "The English report says why.",
        "zh": "原因见英文版报告（数据缺少这一步所需的内容）。",
    },
    "plan_past_due": {
        "en": "Note: the action plan starts in {month}, so its first due date ({end}) had "
        "already passed when this run was made ({run_date}). For dates from the current month "
        "on, the case is run again with the plan starting then (parameter plan_start).",
        "zh": "注意：行动计划从 {month} 开始，其首个截止日期（{end}）在本次运行时（{run_date}）"
        "已经过去。如需从当月起算的日期，请以参数 plan_start 指定计划开始月份后重新运行。",
    },
    "goal": {"en": "The goal", "zh": "目标"},
    "baseline_vs_target": {"en": "Baseline and target", "zh": "基线与目标"},
    "key_findings": {"en": "Key findings", "zh": "主要发现"},
    "recommended_actions": {"en": "Recommended actions", "zh": "建议行动"},
    "expected_effect": {"en": "Expected effect", "zh": "预期效果"},
    "headline_figures": {"en": "Headline figures", "zh": "核心指标"},
    "stage": {"en": "Stage", "zh": "阶段"},
    "stage_figures": {"en": "Key figures of this stage", "zh": "本阶段关键数字"},
    "figure": {"en": "Figure", "zh": "指标"},
    "value": {"en": "Value", "zh": "数值"},
    "more_charts": {
        "en": "More charts from this stage",
        "zh": "本阶段的更多图表（原图，英文标注）",
    },
    "zh_stage_note": {
        "en": "",
        "zh": "图表已按本次运行的数据以中文重新绘制；完整的英文分析过程见运行目录中的 html/{stage}.html。",
    },
    "zh_stage_note_english_charts": {
        "en": "",
        "zh": "本阶段的图表为英文标注的原图；完整的英文分析过程见运行目录中的 html/{stage}.html。",
    },
    "methods": {"en": "Methods appendix", "zh": "方法附录"},
    "definitions": {"en": "Definitions", "zh": "定义"},
    "models": {"en": "Models and tests", "zh": "模型与检验"},
    "assumptions": {"en": "Assumptions", "zh": "假设"},
    "data_quality": {"en": "Data-quality notes", "zh": "数据质量说明"},
    "parameters": {"en": "Parameters of the run", "zh": "本次运行的参数"},
    "parameter": {"en": "Parameter", "zh": "参数"},
    "set_by": {"en": "Set by", "zh": "来源"},
    "parameter_meaning": {"en": "What it sets", "zh": "作用"},
    "parameter_unused": {"en": "Not used in this run:", "zh": "本次运行未使用："},
    "set_by_user": {"en": "this run", "zh": "本次设定"},
    "set_by_default": {"en": "default", "zh": "默认值"},
    "provenance": {"en": "Provenance", "zh": "来源与版本"},
    "crmlab_version": {"en": "crmlab version of the run", "zh": "运行所用 crmlab 版本"},
    "report_version": {"en": "crmlab version of this report", "zh": "生成报告的 crmlab 版本"},
    "started": {"en": "Started (UTC)", "zh": "开始时间（UTC）"},
    "finished": {"en": "Finished (UTC)", "zh": "结束时间（UTC）"},
    "data_folder": {"en": "Input data folder", "zh": "输入数据目录"},
    "fingerprint": {"en": "Data fingerprint (SHA-256)", "zh": "数据指纹（SHA-256）"},
    "fingerprint_note_exports": {
        "en": "SHA-256 over the names and contents of the client's export files that the case "
        "config names (and those its queries read; {n} files; the imported data folder is "
        "derived from them); the same exports give the same fingerprint. {when}",
        "zh": "对案例配置所列客户导出文件（含查询所读取的文件）的文件名与内容计算的 SHA-256（共 {n} 个"
        "文件；导入数据目录由这些文件生成）；导出文件相同则指纹相同。{when}",
    },
    "config_file": {"en": "Case config", "zh": "案例配置"},
    "fingerprint_note": {
        "en": "SHA-256 over the input files' names and contents ({n} files); the same inputs "
        "give the same fingerprint. {when}",
        "zh": "对输入文件名与内容计算的 SHA-256（共 {n} 个文件）；输入相同则指纹相同。{when}",
    },
    "fingerprint_at_run": {"en": "Recorded when the run started.", "zh": "于运行开始时记录。"},
    "fingerprint_now": {
        "en": "Computed when this report was built (the run did not record one): if the input "
        "files changed since the run, it describes the new files.",
        "zh": "于生成本报告时计算（运行时未记录）：若运行后输入文件有变动，则对应新的文件。",
    },
    "fingerprint_missing": {
        "en": "The input folder {folder} no longer exists: no fingerprint.",
        "zh": "输入目录 {folder} 已不存在：无法计算指纹。",
    },
    "file": {"en": "File", "zh": "文件"},
    "bytes": {"en": "Bytes", "zh": "字节"},
    "all_figures": {"en": "All recorded figures", "zh": "全部记录的数字"},
    "all_figures_note": {
        "en": "Every figure the stages recorded (results.json), so any number above can be traced.",
        "zh": "各阶段记录的全部数字（results.json），以便追溯上文的每一个数字。",
    },
    "name": {"en": "Name", "zh": "名称"},
    "meaning": {"en": "What it is", "zh": "含义"},
    "failed_title": {"en": "This run failed", "zh": "本次运行失败"},
    "failed_body": {
        "en": "Stage {stage} stopped with an error, so the stages after it did not run and this "
        "report has no executive summary. Fix the cause and run the case again.",
        "zh": "阶段 {stage} 出错中止，其后各阶段未运行，因此本报告不含执行摘要。请排除原因后重新运行。",
    },
    "error": {"en": "Error", "zh": "错误"},
    "stages_done": {"en": "Stages completed", "zh": "已完成的阶段"},
    "partial_figures": {
        "en": "Figures recorded before the failure (incomplete)",
        "zh": "失败前已记录的数字（不完整）",
    },
    "stage_failed_here": {
        "en": "The run stopped in this stage with this error:",
        "zh": "运行在此阶段因以下错误中止：",
    },
    "stage_not_run": {"en": "Not run (an earlier stage failed).", "zh": "未运行（前一阶段失败）。"},
    "summary_fallback": {
        "en": "The case's summary template could not be filled from this run's figures ({why}); "
        "the headline figures recorded are listed instead.",
        "zh": "无法用本次运行的数字填写该案例的摘要模板（{why}）；以下列出已记录的核心指标。",
    },
    "generated_by": {
        "en": "Generated by crmlab {version} from run {run}. Every number comes from the run's "
        "recorded figures (results.json) and outputs.",
        "zh": "由 crmlab {version} 根据运行 {run} 生成。所有数字均来自该运行记录的结果（results.json）与输出。",
    },
    "index_title": {"en": "crmlab runs", "zh": "crmlab 运行列表"},
    "index_intro": {
        "en": "Every run under this folder, newest first within each case. "
        "\u2605 marks the run that <code>latest</code> points to.",
        "zh": "本目录下的全部运行，每个案例内按时间倒序排列。\u2605 表示 <code>latest</code> 指向的运行。",
    },
    "case": {"en": "Case", "zh": "案例"},
    "title": {"en": "Title", "zh": "标题"},
    "links": {"en": "Open", "zh": "打开"},
    "no_runs": {"en": "No runs yet: run `make run`.", "zh": "尚无运行：请执行 `make run`。"},
    "stage_pages": {"en": "stage pages", "zh": "各阶段页面"},
}


def ui(key: str, lang: str = "en", **fields) -> str:
    """Interface text ``key`` in ``lang``, with ``{placeholders}`` filled from ``fields``."""
    check_lang(lang)
    try:
        text = UI[key][lang]
    except KeyError:
        raise KeyError(f"No interface text '{key}' in language '{lang}'.") from None
    return text.format(**fields) if fields else text


# --------------------------------------------------------------------------------------------
# terms
# --------------------------------------------------------------------------------------------
#: English term (matched case- and underscore-insensitively) -> Simplified Chinese.
TERMS_ZH: dict[str, str] = {
    # customer classes, lifecycle, value tiers, needs (crmlab.segments)
    "potential": "潜在客户",
    "active": "活跃客户",
    "loyal": "忠诚客户",
    "at risk": "流失风险客户",
    "churned": "已流失客户",
    "prospect": "潜在客户",
    "new": "新客户",
    "growing": "成长期",
    "mature": "成熟期",
    "declining": "衰退期",
    "lapsed": "沉睡期",
    "lost": "已流失",
    "a": "A 级",
    "b": "B 级",
    "c": "C 级",
    "price sensitive": "价格敏感型",
    "brand preferring": "品牌偏好型",
    "function driven": "功能需求型",
    "mixed": "混合型",
    "no purchase": "未购买",
    "(none)": "（无）",
    # RFM ten-segment map
    "champions": "冠军客户",
    "loyal customers": "忠诚客户",
    "potential loyalists": "潜在忠诚客户",
    "new customers": "新客户",
    "promising": "有潜力客户",
    "need attention": "需要关注",
    "about to sleep": "即将沉睡",
    "cant lose": "不能失去",
    "can't lose": "不能失去",
    "no purchase yet": "尚未购买",
    "hibernating": "休眠客户",
    # satisfaction drivers
    "product quality": "产品质量",
    "price value": "性价比",
    "staff service": "员工服务",
    "store environment": "门店环境",
    "checkout speed": "结账速度",
    "product availability": "商品供应",
    "loyalty programme": "会员计划",
    # priority quadrants, severities
    "fix first": "优先改进",
    "keep up": "保持",
    "low priority": "低优先级",
    "possible overkill": "可能过度投入",
    "error": "错误",
    "warning": "警告",
    "info": "提示",
    # KPIs and units
    "csat": "满意度（CSAT）",
    "nps": "净推荐值（NPS）",
    "repeat-purchase rate": "复购率",
    "spend per customer": "客均消费",
    "complaints per 100 customers": "每百名客户投诉数",
    "days to resolve": "投诉解决天数",
    "churn rate": "流失率",
    "churn share": "流失占比",  # a churn-flag extract's KPI (churn.flag_kpis: churn_share)
    "churn share of the extract": "提取数据中的流失占比",
    "repeat purchase rate": "复购率",
    "currency": "货币",
    "days": "天",
    "per 100": "每百人",
    # column headers
    "customer id": "客户编号（假名）",
    "customer class": "客户类别",
    "lifecycle": "生命周期阶段",
    "lifecycle stage": "生命周期阶段",
    "rfm segment": "RFM 细分",
    "tier": "价值等级",
    "needs segment": "需求细分",
    "segment": "细分",
    "customers": "客户数",
    "n customers": "客户数",
    "share": "占比",
    "revenue": "收入",
    "revenue share": "收入占比",
    "mean recency days": "平均最近购买天数",
    "mean frequency": "平均购买频次",
    "mean value": "平均价值",
    "mean satisfaction": "平均满意度",
    "mean satisfaction (1-5)": "平均满意度（1-5 分）",
    "n respondents": "受访人数",
    "wave": "调查波次",
    "n": "样本量",
    "successes": "满意人数",
    "rate": "比率",
    "low": "下限",
    "high": "上限",
    "ci low": "置信区间下限",
    "ci high": "置信区间上限",
    "month": "月份",
    "months from start": "距开始月数",
    "target": "目标",
    "target value": "目标值",
    "goal path": "目标路径",
    "projected": "预测值",
    "gap": "差距",
    "source": "数据源",
    "column": "字段",
    "check": "检查项",
    "severity": "严重程度",
    "n rows": "行数",
    "note": "说明",
    "action": "行动",
    "n dropped": "删除行数",
    "count": "计数",
    "mean": "均值",
    "std": "标准差",
    "min": "最小值",
    "max": "最大值",
    "25%": "25% 分位",
    "50%": "中位数",
    "75%": "75% 分位",
    "driver": "驱动因素",
    "coef": "系数",
    "se": "标准误",
    "p value": "p 值",
    "std beta": "标准化系数",
    "odds ratio": "优势比",
    "or low": "优势比下限",
    "or high": "优势比上限",
    "lmg": "LMG 重要性",
    "rank": "排名",
    "rank low": "排名下限",
    "rank high": "排名上限",
    "rank stability": "排名稳定性",
    "importance": "重要性",
    "performance": "表现",
    "high importance": "重要性高",
    "high performance": "表现好",
    "quadrant": "象限",
    "store id": "门店",
    "group": "组别",
    "pre": "试点前",
    "post": "试点期间",
    "treated": "试点组",
    "control": "对照组",
    "kpi": "关键绩效指标",
    "actual": "实际值",
    "met": "达标",
    "attainment": "达成率",
    "higher is better": "越高越好",
    "unit": "单位",
    "key": "键",
    "owner": "负责角色",
    "start": "开始月份",
    "milestone": "里程碑",
    "what": "内容",
    "who": "对象",
    "how often": "频率",
    "answers needed": "所需答卷数",
    "monetary": "消费金额（净额）",
    "recency days": "距上次购买天数",
    "frequency": "频次",  # RFM frequency (purchase days) and "how often" (monitoring plans)
    "overall satisfaction": "总体满意度",
    "recommend": "推荐意愿",
    "true": "是",
    "false": "否",
    "tenure days": "在册天数",
    "n transactions": "交易笔数",
    "n returns": "退货笔数",
    "gross spend": "消费总额",
    "avg basket": "平均客单价",
    "avg items": "平均件数",
    "days since first purchase": "距首次购买天数",
    "cadence days": "平均购买间隔（天）",
    "promo share": "促销购买占比",
    "returns share": "退货占比",
    "n stores": "光顾门店数",
    "n survey responses": "调查答卷数",
    "driver mean": "驱动评分均值",
    "n complaints": "投诉数",
    "n unresolved": "未解决投诉数",
    "mean days to resolve": "平均解决天数",
    "duplicate rows": "重复行",
    "missing": "缺失",
    "orphan key": "孤立键",
    "out of range": "超出范围",
    "negative amount": "负金额",
    "drop these rows": "删除这些行",
    "No data-quality problems found: every check of the rules passed.": "未发现数据质量问题：各项规则检查均已通过。",
    "drop the copies (keep the first)": "删除重复（保留第一条）",
    "keep": "保留",
    "keep (missing in analyses)": "保留（分析中视为缺失）",
    "set to missing": "设为缺失",
    "comment": "评论",
    "amount": "金额",
    # reader-table headers and values (crmlab.narrative.present, LABELS)
    "client_segment": "客户细分",
    "campaign_rank": "营销活动排名",
    "work_list_rank": "工作清单排名",
    "25th pct.": "25 百分位数",
    "75th pct.": "75 百分位数",
    "Buyers": "购买客户数",
    "Churners": "流失客户数",
    "Closures": "销户数",
    "Coefficient": "系数",
    "Contacted": "联系客户数",
    "Cumulative gain": "累计增益",
    "Customer (pseudonym)": "客户（假名编号）",
    "Customers at risk": "期初在册客户数",
    "Open at start": "期初在册客户数",
    "Customers lost": "流失客户数",
    "Events": "事件数",
    "LMG (part of R²)": "LMG（R² 分解）",
    "First date": "最早日期",
    "Last date": "最后日期",
    "Mean recency (days)": "平均距上次购买天数",
    "Median months to closure": "销户前月数中位数",
    "Leavers": "流失客户数",
    "Median months to leaving": "流失前在网月数中位数",
    "Net return per unit spent": "每单位投入净回报",
    "Net spend": "净消费额",
    "OR CI high": "优势比置信区间上限",
    "OR CI low": "优势比置信区间下限",
    "Proportional hazards hold": "比例风险假设成立",
    "Repeat buyers": "复购客户数",
    "Respondents": "受访客户数",
    "Rows": "行数",
    "Satisfied": "满意数",
    "Score tenth": "评分十分位",
    "Standardized beta": "标准化系数",
    "Std. dev.": "标准差",
    "Std. error": "标准误",
    "Store": "门店",
    "Window": "时间窗口",
    "With a value": "有值数",
    "Without a rating": "无评分数",
    "p-value": "p 值",
    "yes": "是",
    "no": "否",
    "recent": "近期",
    "year earlier": "去年同期",
    # chart titles, axis labels, legend entries (crmlab.charts)
    "csat by survey wave": "各调查波次的满意度",
    "survey wave": "调查波次",
    "satisfied customers": "满意客户占比",
    "95% interval": "95% 置信区间",
    "csat (share rating 4-5)": "满意度（评 4-5 分的占比）",
    "goal path against history": "目标路径与历史对比",
    "key drivers of satisfaction": "满意度的关键驱动因素",
    "share of r-squared (lmg)": "R² 贡献份额（LMG）",
    "driver priority matrix": "驱动因素优先级矩阵",
    "pilot: treated vs control": "试点：试点组与对照组",
    "pilot start": "试点开始",
    "kpis against target": "关键绩效指标与目标对比",
    "attainment of target (100% = on target; lower-is-better kpis inverted)": (
        "目标达成率（100% = 达标；越低越好的指标已取倒数）"
    ),
    "projected path against the goal path": "预测路径与目标路径",
    "customers per segment": "各细分的客户数",
    "customers by r and f score": "按 R 与 F 评分的客户分布",
    "frequency score (5 = most purchase days)": "频次评分（5 = 购买天数最多）",
    "recency score (5 = most recent)": "最近度评分（5 = 最近购买）",
    "cumulative share of value (pareto curve)": "价值累计占比（帕累托曲线）",
    "cumulative value": "累计价值",
    "equal value": "均匀分布",
    "share of customers (highest value first)": "客户占比（按价值从高到低）",
    "cumulative share of value": "价值累计占比",
    "mean satisfaction by segment": "各细分的平均满意度",
    "mean overall satisfaction (1-5)": "平均总体满意度（1-5 分）",
    "data-quality findings": "数据质量问题",
    "rows affected (symmetric log scale)": "受影响行数（对称对数刻度）",
    "share of each opening cohort still open": "各开户队列的留存占比",
    "opening cohort": "开户队列",
    "kaplan-meier: share of accounts still open": "Kaplan-Meier：仍在使用的账户占比",
    "still open": "仍在使用",
    "false-positive rate (non-churners flagged)": "假阳性率（被误判的未流失客户）",
    "true-positive rate (churners flagged)": "真阳性率（识别出的流失客户）",
    "chance (auc = 0.5)": "随机（AUC = 0.5）",
    "cumulative gains: churners found by contacting the top": "累积增益：联系高分客户可找到的流失客户",
    "customers contacted (highest scores first)": "联系的客户（按得分从高到低）",
    "churners reached": "触达的流失客户",
    "model": "模型",
    "random order": "随机顺序",
    "mean predicted churn probability": "平均预测流失概率",
    "observed churn rate": "实际流失率",
    "perfect calibration": "完美校准",
    "observed (95% ci)": "实际值（95% 置信区间）",
    "observed": "实际值",
    "estimate (95% ci)": "估计值（95% 置信区间）",
    "planted": "预设真值",
    "targeting: churners reached and net value by share contacted": "精准营销：按联系比例的流失客户触达与净价值",
    "customers contacted (ranked)": "联系的客户（已排序）",
    "share of churners reached": "触达的流失客户占比",
    "expected churners reached": "预期触达的流失客户",
    "observed churners reached": "实际触达的流失客户",
    "net value": "净价值",
    "net value (value saved - cost)": "净价值（挽回价值 - 成本）",
    "actual (csat)": "实际满意度",
    # playbooks (crmlab.plans)
    "thank-you programme: member events, early access, points bonus": (
        "感谢计划：会员活动、优先购买、积分奖励"
    ),
    "cross-sell on the next visit; invite to the loyalty programme": "下次到店时交叉销售；邀请加入会员计划",
    "personal win-back call or voucher within 2 weeks": "两周内电话挽回或发放优惠券",
    "low-cost reactivation e-mail series; ask why they left": "低成本的唤醒邮件系列；询问离开原因",
    # the retail playbook's tier variants (crmlab.plans.RETAIL_TIER_ACTIONS)
    "personal win-back call from the account manager within 2 weeks": "两周内由客户经理亲自电话挽回",
    "win-back call with a voucher within 2 weeks": "两周内电话挽回并发放优惠券",
    "win-back voucher by e-mail or text message within 2 weeks": "两周内通过邮件或短信发放挽回优惠券",
    "personal call from the account manager: ask why they left; win-back offer": (
        "由客户经理亲自致电：询问离开原因；提供挽回优惠"
    ),
    "welcome offer for a first purchase": "首次购买的欢迎优惠",
    "retention offer from the customer's contact": "由客户的对接人提供挽留优惠",
    "needs review: fees, rates, product fit": "需求回顾：费用、利率、产品匹配",
    "onboarding journey: salary deposit and digital banking": "新客引导：工资代发与数字银行",
    "offer a second product matched to needs": "推荐匹配需求的第二个产品",
    "loyalty recognition; periodic review": "忠诚答谢；定期回顾",
    "exit survey; win-back after 6 months": "离行调查；6 个月后挽回",
    # the churn-flag extract's playbook (crmlab.plans.CHURN_FLAG_PLAYBOOK)
    "needs review: price, plan and product fit": "需求回顾：价格、套餐与产品匹配",
    "onboarding journey: welcome contact and first-use check": "新客引导：欢迎联系与首次使用检查",
    "ask why they left; win-back offer after 6 months": "询问离开原因；6 个月后提供挽回优惠",
    "no specific action": "无特定行动",
    "crm manager": "CRM 经理",
    "store manager": "门店经理",
    "customer service lead": "客服主管",
    "marketing": "市场部",
    "relationship manager": "客户经理",
    "account manager": "客户经理",
    "branch advisor": "网点顾问",
    "onboarding team": "新客引导团队",
    "sales": "销售部",
    "customer service": "客服部",
    "dedicated account manager": "专属客户经理",
    "regular contact team": "常规联络团队",
    "automated marketing": "自动化营销",
    "programme lead": "项目负责人",
    "training lead": "培训负责人",
    "insights analyst": "洞察分析师",
    "operations": "运营部",
    "monthly": "每月",
    "quarterly": "每季度",
    "after closure": "结案后",
    "survey": "调查",
    "transactions": "交易",
    "complaints": "投诉",
    "stores": "门店",
    # verdicts (crmlab.goals.realism_check, crmlab.pilot.rollout_projection)
    "comfortable": "轻松可达",
    "realistic": "现实可行",
    "ambitious, needs intervention": "目标偏高，需要干预措施",
    "stretch, well beyond history": "极具挑战，远超历史表现",
    "staff service training": "员工服务培训",
    "no precedent, needs intervention": "史无前例，需要干预措施",
    "reaches the target even at the pessimistic end of the effect's interval": (
        "即使按效果区间的悲观端估计也能达到目标"
    ),
    "reaches the target on the point estimate but not at the pessimistic end of the interval: "
    "roll out with monitoring": "按点估计可达标，但区间悲观端不能达标：推广时需持续监测",
    "falls short on the point estimate; only the optimistic end of the interval reaches the "
    "target: add interventions": "按点估计未能达标，仅区间乐观端可达标：需增加干预措施",
    "falls short even at the optimistic end of the interval: needs further interventions": (
        "即使按区间乐观端估计也未能达标：需要进一步的干预措施"
    ),
    # finance churn case: model features (crmlab.churn.FEATURES), source columns, design-matrix
    # dummies, table headers and values of its stages, KPIs (crmlab.churn.CHURN_KPIS) and the
    # monitoring plan's metrics (crmlab.targeting); the report, the charts and the action list
    # all read them from here
    "products held": "持有产品数",
    "salary deposit": "工资代发",
    "digital active": "数字渠道活跃",
    "segment affluent": "富裕客群",
    "segment private": "私人银行客群",
    "segment mass": "大众客群",
    "affluent": "富裕客群",
    "mass": "大众客群",
    "private": "私人银行客群",
    "tenure months": "客户时长（月）",  # a bank's customers and a telecom's subscribers alike
    "new customer": "新客户（开户不满一年）",
    "log balance mean": "平均余额（对数）",
    "balance change": "余额变化",
    "logins mean": "月均登录次数",
    "logins change": "登录次数变化",
    "n transactions change": "交易笔数变化",
    "fee rises": "费用上调次数",
    "service contacts": "服务联络次数",
    "balance mean": "平均余额",
    "fees mean": "平均月费用",
    "fee rise 6m": "近 6 个月费用上调",
    "complaints 6m": "近 6 个月投诉",
    "fee rise (last 6 months)": "近 6 个月费用上调",
    "complaints (last 6 months)": "近 6 个月投诉",
    "offer": "挽留优惠",
    "age": "年龄",
    "region": "地区",
    "region beijing": "地区：北京",
    "region guangdong": "地区：广东",
    "region hubei": "地区：湖北",
    "region shanghai": "地区：上海",
    "region sichuan": "地区：四川",
    "region zhejiang": "地区：浙江",
    "beijing": "北京",
    "guangdong": "广东",
    "hubei": "湖北",
    "shanghai": "上海",
    "sichuan": "四川",
    "zhejiang": "浙江",
    "open date": "开户日期",
    "closure date": "销户日期",
    # the steps a stage skips when the data lack something (crmlab.narrative.skipped)
    "CSAT by store": "各门店满意度（CSAT）",
    "CSAT history": "满意度（CSAT）历史",
    "balances and value at stake": "余额与面临流失的价值",
    "behaviour features from the monthly snapshots": "基于月度快照的行为特征",
    "customer classification": "客户分类",
    "customer features": "客户特征",
    "key-driver analysis": "关键驱动因素分析",
    "lifecycle stages and value tiers": "生命周期阶段与价值层级",
    "targeting, the campaign and the action list": "目标客户选择、营销活动与行动清单",
    "the campaign return": "营销活动回报",
    "the churn baseline": "流失率基线",
    "the churn model": "流失模型",
    "the dated action list": "带日期的行动清单",
    "the follow-up sample size": "后续试验样本量",
    "the implementation plan": "实施计划",
    "the lifecycle action plan": "生命周期行动计划",
    "the modelling data sets": "建模数据集",
    "the pilot read-out": "试点结果解读",
    "the profile and everything after it": "客户概况及其后的全部分析",
    "the projection": "预测",
    "the roll-out projection": "推广预测",
    "the segment action plan": "细分行动计划",
    "the survival analysis": "生存分析",
    "transaction checks": "交易检查",
    # why a step was skipped (the notebooks' skipped() reasons)
    "A pilot table (customer, arm, offer date) and the customer table are both needed.": (
        "需要试点表（客户、分组、优惠日期）和客户表。"
    ),
    "A pilot table and survey answers are both needed.": "需要试点表和问卷答卷。",
    "It counts closures after the offer date, and a churned flag without dates has none. "
    "A success rate a pilot measured elsewhere can be given to stage 5 as success_rate.": (
        "它统计优惠日期之后的销户，而不含日期的流失标记没有这类信息。可将在别处试点测得的成功率"
        "作为第 5 阶段的参数 success_rate 给出。"
    ),
    "It needs the customer classes from stage 3.": "需要第 3 阶段的客户分类。",
    "It needs the goal baseline (stage 1) and a pilot effect (stage 4).": (
        "需要目标基线（第 1 阶段）和试点效果（第 4 阶段）。"
    ),
    "It needs the goal baseline (stage 1), today's scores (stage 3) and a success rate.": (
        "需要目标基线（第 1 阶段）、当前评分（第 3 阶段）和成功率。"
    ),
    "It needs the goal's baseline from stage 1.": "需要第 1 阶段的目标基线。",
    "It needs the lifecycle stages of stage 3.": "需要第 3 阶段的生命周期阶段。",
    "It needs the training and test sets of stage 2 (monthly snapshots).": (
        "需要第 2 阶段的训练集与检验集（月度快照）。"
    ),
    "Monthly snapshots are needed for behaviour features.": "行为特征需要月度快照。",
    "Neither a customer list nor transactions are available.": "既没有客户名单，也没有交易数据。",
    "The pilot shows no reduction to confirm.": "试点未显示可供确认的下降。",
    "The survey answers carry no store (store_id) to compare.": (
        "问卷答卷没有门店（store_id），无法比较。"
    ),
    "The survey answers carry no store (store_id).": "问卷答卷没有门店（store_id）。",
    "The survey has no driver ratings: map them in the config (columns: survey: drivers:).": (
        "问卷没有驱动因素评分：请在配置中映射（columns: survey: drivers:）。"
    ),
    "There are no monthly snapshots with balances.": "没有含余额的月度快照。",
    "There are no transactions to classify customers by.": "没有可用于客户分类的交易数据。",
    "There is no customer table, so closures cannot be counted.": "没有客户表，无法统计销户。",
    "There is no customer table.": "没有客户表。",
    "There is no survey source, so satisfaction cannot be measured.": (
        "没有问卷数据源，无法衡量满意度。"
    ),
    "There is no survey source.": "没有问卷数据源。",
    "There is no transactions source.": "没有交易数据源。",
    "They need today's churn scores (stage 3).": "需要当前的流失评分（第 3 阶段）。",
    "They need today's churn scores (the churn model).": "需要当前的流失评分（流失模型）。",
    "The data has no date to start the plan from: set plan_start (or, for a churn-flag extract, "
    "extract_month) to a month YYYY-MM. The action list counts its due dates from the month of "
    "the run meanwhile.": (
        "数据中没有可作为计划起点的日期：请将 plan_start（流失标记提取数据则为 extract_month）设为"
        " YYYY-MM 格式的月份。在此之前，行动清单的截止日期从运行当月起算。"
    ),
    "There is no positive success rate: set success_rate to the share of contacted leavers the "
    "offer keeps (measured by a pilot elsewhere: a churn-flag extract cannot hold one).": (
        "没有为正的成功率：请将 success_rate 设为优惠能留住的被联系流失客户占比（由别处的试点测得："
        "流失标记提取数据无法提供）。"
    ),
    "There is no positive success rate: set success_rate, or run a pilot that shows one "
    "(stage 4).": "没有为正的成功率：请设置 success_rate，或开展能测得成功率的试点（第 4 阶段）。",
    # the retail sources' columns, as data-quality notes and import tables name them
    "signup date": "注册日期",
    "home store": "常去门店",
    "age band": "年龄段",
    "gender": "性别",
    "channel": "渠道",
    "loyalty member": "会员",
    "transaction id": "交易编号",
    "date": "日期",
    "items": "件数",
    "promotion": "促销",
    "cancelled": "已取消",
    "response id": "答卷编号",
    "complaint id": "投诉编号",
    "category": "类别",
    "resolved": "已解决",
    "store name": "门店名称",
    "opened date": "开店日期",
    "intervention": "干预措施",
    "start date": "开始日期",
    "end date": "结束日期",
    # the churn basis of a churn-flag extract (crmlab.churn.FlagChurn.period)
    "share of the customers in the extract flagged as churned (no period stated)": (
        "提取数据中标记为已流失的客户占比（未说明期间）"
    ),
    "prediction date": "预测日期",
    "last data month": "最后数据月份",
    "months observed": "观察月数",
    "balance": "余额",
    "logins": "登录次数",
    "fees charged": "收取费用",
    "fee rise": "费用上调",
    "rate change": "利率变化",
    "offer date": "优惠日期",
    "churn prob": "流失概率",
    "stage": "生命周期阶段",
    "tenure band": "在网时长",
    "< 1 year": "不满 1 年",
    "1-2 years": "1-2 年",
    "2-5 years": "2-5 年",
    "5-10 years": "5-10 年",
    "10+ years": "10 年以上",
    "n at risk": "期初客户数",
    "n lost": "流失客户数",
    "churn rate 12m": "12 个月流失率",
    "n events": "事件数",
    "median": "中位数",
    "median ci low": "中位数置信区间下限",
    "median ci high": "中位数置信区间上限",
    "feature": "特征",
    "features": "特征",
    "covariate": "协变量",
    "kind": "类型",
    "numeric": "数值型",
    "number": "数值",
    "categorical": "类别型",
    "excluded": "已排除",
    "excluded: not a model input in this case": "已排除：本案例不将其作为模型输入",
    "yes/no flag": "是/否标志",
    "yes = 1, no = 0": "是 = 1，否 = 0",
    "direction": "方向",
    "lowers churn": "降低流失",
    "raises churn": "提高流失",
    "hazard ratio": "风险比",
    "odds ratio per sd": "每标准差的优势比",
    "std err": "标准误",
    "rho": "相关系数 ρ",
    "ph ok": "满足比例风险假设",
    "bin": "分组",
    "n churners": "流失客户数",
    "cum gain": "累积增益",
    "lift": "提升度",
    "ranking": "排序方式",
    "risk": "风险",
    "risk x value": "风险 × 价值",
    "contact share": "联系比例",
    "share of churners": "触达的流失客户占比",
    "share of expected churners": "触达的预期流失客户占比",
    "share of value lost": "触达的流失价值占比",
    "value lost reached": "触达的流失价值",
    "value share": "价值占比",
    "n contacted": "联系客户数",
    "expected saved": "预期挽留客户数",
    "expected value saved": "预期挽回价值",
    "cost": "成本",
    "roi": "投入回报率",
    "expected loss": "预期损失",
    "pseudo id": "客户假名编号",
    "end": "结束",
    "all": "合计",
    "passed": "通过",
    "decrease": "下降",
    "increase": "上升",
    "12-month churn rate": "12 个月流失率",
    "complaints per 100 customers a month": "每月每百名客户投诉数",
    "products per customer": "客均持有产品数",
    "salary-deposit share": "工资代发客户占比",
    "salary deposit share": "工资代发客户占比",
    "complaints per 100": "每百名客户月投诉数",
    "metric": "指标",
    "definition": "定义",
    "act when": "触发行动的条件",
    "12-month churn rate vs target": "12 个月流失率与目标对比",
    "campaign reach": "营销活动触达率",
    "uplift against a holdout": "相对留出对照组的提升",
    "cost per saved customer": "每挽留一名客户的成本",
    "model health": "模型健康度",
    "reasons for leaving": "流失原因",
    "early-warning signals": "早期预警信号",
    "weekly": "每周",
    "every closure": "每次销户",
    "analytics": "数据分析团队",
    "campaign manager": "营销活动经理",
    "service manager": "服务经理",
    "service team": "服务团队",
    "marketing automation": "自动化营销",
    "finance": "财务部",
    "relationship-manager call with a personalised retention offer": (
        "客户经理致电并提供个性化挽留优惠"
    ),
    "service call with a fee-waiver offer": "客服致电并提供费用减免优惠",
    "account-manager call with a personalised retention offer": "客户经理致电并提供个性化挽留优惠",
    "service call with a retention offer": "客服致电并提供挽留优惠",
    "automated e-mail and app retention offer": "自动发送邮件与 App 挽留优惠",
    "complaint follow-up call, then a retention offer": "先电话跟进投诉，再提供挽留优惠",
    # action-list columns (crmlab.actions)
    "priority": "优先级",
    "satisfaction": "满意度",
    "churn risk": "流失风险",
    "value": "价值",
    "recommended action": "建议行动",
    "owner role": "负责角色",
    "action owner": "行动负责人",
    "contact": "负责联系的人员",
    "due date": "截止日期",
    "total value": "总价值",
    "mean churn risk": "平均流失风险",
    "first priority": "最高优先级",
    "first due date": "最早截止日期",
    "in campaign": "挽留活动覆盖的客户数",
    "on work list": "列入工作清单的客户数",
}

_NUMBER = r"[-+]?\d[\d,]*(?:\.\d+)?%?"

#: (English pattern, Chinese replacement) for texts with numbers; first match wins. A replacement
#: is a ``re.sub`` template or a function of the match (to translate a captured term).
PATTERNS_ZH: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"^target ({_NUMBER})$", re.I), r"目标 \1"),
    (
        re.compile(rf"^tiers up to ([ABC]): ({_NUMBER}) of customers$", re.I),
        r"\1 级及以上：占客户 \2",
    ),
    (re.compile(rf"^AUC = ({_NUMBER})$", re.I), r"AUC = \1"),
    # money on the KPI scorecard ("CNY 326.63", crmlab.metrics.scorecard_view): "326.63 元"
    (
        re.compile(rf"^([A-Z]{{3}}) ({_NUMBER})$"),
        lambda m: f"{m[2]} {CURRENCIES_ZH.get(m[1], m[1])}",
    ),
    (re.compile(r"^(\d{4}-\d{2}(?:-\d{2})?) to (\d{4}-\d{2}(?:-\d{2})?)$"), r"\1 至 \2"),
    (re.compile(rf"^Model \(AUC = ({_NUMBER})\)$", re.I), r"模型（AUC = \1）"),
    (re.compile(r"^(Periods|Months) since opening$", re.I), r"开户后的期数"),
    (re.compile(r"^(Hazard ratio|Odds ratio)s of churn$", re.I), r"流失的风险比"),
    (
        re.compile(r"^(\d+) levels; reference level: (.+)$", re.I),
        lambda m: f"{m[1]} 个水平；参照水平：{translate(m[2])}",
    ),
    # the notes of the data-quality report (crmlab.quality, crmlab.engine.checks)
    (
        re.compile(r"^([\d,]+) missing value\(s\) in ([^;]+?)\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个缺失值。",
    ),
    (
        re.compile(r"^([\d,]+) missing value\(s\) in ([^;]+?); the column is required\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个缺失值；该列为必填列。",
    ),
    (
        re.compile(
            r"^([\d,]+) missing value\(s\) in ([^;]+?); missing values are expected here\.$"
        ),
        lambda m: f"{_col(m[2])}有 {m[1]} 个缺失值；此列允许缺失。",
    ),
    (
        re.compile(
            r"^Column '(.+?)' is named in the rules but not in the table \(columns: (.*)\)\.$"
        ),
        lambda m: (
            f"规则中的{_col(m[1])}列不在表中（表中的列："
            + "、".join(_col(c) for c in m[2].split(", "))
            + "）。"
        ),
    ),
    (
        re.compile(r"^([\d,]+) rows are exact copies of an earlier row\.$"),
        r"\1 行与前面某行完全相同。",
    ),
    (
        re.compile(
            r"^([\d,]+) row\(s\) refer to a (.+?) that is not in (\S+) "
            r"\(([\d,]+) distinct value\(s\)\)\.$"
        ),
        lambda m: f"{m[1]} 行的{_col(m[2])}不在{source(m[3])}中（{m[4]} 个不同的值）。",
    ),
    (
        re.compile(r"^([\d,]+) negative amount\(s\) in (.+?): returns, expected\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个负数：退货，属正常情况。",
    ),
    (
        re.compile(
            r"^([\d,]+) value\(s\) in (.+?) are outside the allowed range (.+) or not numbers\.$"
        ),
        lambda m: (
            f"{_col(m[2])}有 {m[1]} 个值超出允许范围 {m[3].replace(' to ', ' 至 ')} 或不是数字。"
        ),
    ),
    (
        re.compile(r"^([\d,]+) value\(s\) in (.+?) are not valid dates\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个值不是有效日期。",
    ),
    (
        re.compile(
            r"^([\d,]+) (.+?) value\(s\) appear on more than one row with different contents\.$"
        ),
        lambda m: f"{m[1]} 个{_col(m[2])}值出现在多行且内容不同。",
    ),
    (
        re.compile(r"^([\d,]+) value\(s\) in (.+?) are not yes/no\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个值不是是/否。",
    ),
    (
        re.compile(r"^([\d,]+) value\(s\) in (.+?) are not one of (\[.*\])\.$"),
        lambda m: f"{_col(m[2])}有 {m[1]} 个值不在允许的取值 {m[3]} 之中。",
    ),
    (
        re.compile(r"^keep; (?:flag as is_return|mark as returns) \(net spend subtracts them\)$"),
        "保留；标记为退货（净消费额扣除退货）",
    ),
]


#: Texts the library writes from a template with values in it, as (English template, Chinese
#: template) in ``str.format`` syntax: a written English text is read back into its fields
#: (each ``{field}`` matches any text without "; ", or none) and the Chinese template is filled
#: with the fields translated - :func:`translate` for most, :func:`source` for ``source`` and
#: ``parent`` (table names), ``range`` as "1 至 5". One pair per sentence, so the English and
#: the Chinese text share one definition. The plans carry their texts in both languages beside
#: the code that writes them (:data:`crmlab.plans.TEXTS`, added by :func:`_templates`); these
#: are the other modules'.
TEMPLATES_ZH: list[tuple[str, str]] = [
    # the retention programme's milestones (crmlab.targeting.retention_plan)
    (
        "Kick-off: owners named, baseline churn frozen, budget agreed",
        "项目启动：明确负责人，冻结流失率基线，确定预算",
    ),
    ("baseline and target signed off", "基线与目标已确认签字"),
    (
        "Training material: why customers leave ({focus}); offer rules; call scripts",
        "培训材料：客户为何离开（{focus}）；优惠规则；通话脚本",
    ),
    ("the main churn drivers", "主要流失驱动因素"),
    (
        "churn within {months} months (period stated in the config)",
        "{months} 个月内流失（期间由配置说明）",
    ),
    ("course and role-play cases ready", "课程与角色扮演案例就绪"),
    (
        "Train relationship managers and the service team (workshop + role-play on real "
        "action-list cases)",
        "培训客户经理与服务团队（研讨会 + 基于行动清单真实案例的角色扮演）",
    ),
    ("100% of callers trained", "外呼人员 100% 完成培训"),
    (
        "Wave 1: contact {n} customers from the action list; keep a random {holdout} holdout "
        "uncontacted",
        "第一批：联系行动清单上的 {n} 名客户；随机留出 {holdout} 不联系，作为对照组",
    ),
    ("80%+ contacted by the due dates", "截止日期前联系率达 80% 以上"),
    (
        "Fix root causes: complaint follow-up within 3 days; review fee rises for at-risk "
        "customers",
        "解决根本原因：3 天内跟进投诉；复核流失风险客户的费用上调",
    ),
    ("complaints and fee rises on the dashboard", "投诉与费用上调纳入看板"),
    (
        "Read-out of wave 1 against the holdout; adjust the offer and the targeting share",
        "对照留出组评估第一批效果；调整优惠方案与目标客户比例",
    ),
    ("uplift and cost per saved customer", "提升效果与每挽留一名客户的成本"),
    (
        "Refit the churn model on the latest year; wave 2 to the new list; refresher training",
        "用最近一年的数据重新拟合流失模型；按新名单开展第二批；复训",
    ),
    ("test AUC and calibration", "测试集 AUC 与校准度"),
    ("Evaluation against the goal; plan the next cycle", "对照目标评估；规划下一轮"),
    # the churn programme's monitoring (crmlab.targeting.monitoring_plan)
    ("Closures by segment and tenure", "按客户细分与在网时长的销户数"),
    (
        "closures in the last 12 months / accounts open 12 months ago",
        "过去 12 个月的销户数 / 12 个月前的在网账户数",
    ),
    (
        "above the goal path (target {target} at the deadline) two months running",
        "连续两个月高于目标路径（截止时目标为 {target}）",
    ),
    (
        "accounts closed in the month, by segment and tenure band",
        "当月销户数，按客户细分与在网时长分组",
    ),
    (
        "a segment's closures up 20% on its 6-month average",
        "某一客户细分的销户数比其近 6 个月平均值高出 20%",
    ),
    (
        "customers contacted / customers on the action list; offers accepted",
        "已联系客户数 / 行动清单客户数；接受优惠的客户数",
    ),
    (
        "fewer than 80% of the list contacted by the due date",
        "截止日期前联系的客户不足清单的 80%",
    ),
    (
        "churn of contacted vs a random {holdout} holdout of the list kept uncontacted",
        "已联系客户的流失率对比清单中随机留出、不予联系的 {holdout} 客户的流失率",
    ),
    (
        "the holdout's churn is not higher than the contacted group's for 3 months",
        "留出组的流失率连续 3 个月不高于已联系组",
    ),
    (
        "AUC and calibration of last year's scores against the closures that followed",
        "上一年度评分对照其后实际销户的 AUC 与校准度",
    ),
    (
        "AUC below {floor} (test AUC {auc} - 0.05): refit the model",
        "AUC 低于 {floor}（测试集 AUC {auc} - 0.05）：重新拟合模型",
    ),
    (
        "AUC falls 0.05 below the last validation: refit the model",
        "AUC 比上次验证低 0.05：重新拟合模型",
    ),
    (
        "complaints, fee rises, balance run-downs (balance down 50%+ in 2 months)",
        "投诉、费用上调、余额流失（2 个月内余额下降 50% 以上）",
    ),
    (
        "any complaint of a tier-A customer: call within 3 days",
        "A 级客户的任何投诉：3 天内致电",
    ),
    (
        "campaign cost / (churn of holdout - churn of contacted) x contacted",
        "营销活动成本 / [（留出组流失率 - 已联系组流失率）× 已联系客户数]",
    ),
    (
        "above {currency} {cost} per saved customer (the pilot's cost): review the offer",
        "每挽留一名客户的成本超过 {cost} {currency}（试点的成本）：重新评估优惠方案",
    ),
    (
        "above the value of a saved customer: review the offer",
        "超过一名挽留客户的价值：重新评估优惠方案",
    ),
    (
        "exit survey and relationship-manager notes on every closure",
        "每次销户的离行调查与客户经理记录",
    ),
    # ... in the words of a churn-flag extract (monitoring_plan(flag=True))
    ("Churn share", "流失占比"),
    (
        "customers who left since the last extract / customers in the last extract",
        "自上次数据提取以来流失的客户数 / 上次提取中的客户数",
    ),
    ("Leavers by segment and tenure", "按客户细分与在网时长的流失客户数"),
    (
        "customers who left in the month, by segment and tenure band",
        "当月流失的客户数，按客户细分与在网时长分组",
    ),
    (
        "a segment's leavers up 20% on its 6-month average",
        "某一客户细分的流失客户数比其近 6 个月平均值高出 20%",
    ),
    ("complaints, price rises, falling usage", "投诉、价格上调、使用量下降"),
    (
        "AUC and calibration of earlier scores against who left since",
        "此前评分对照其后实际流失客户的 AUC 与校准度",
    ),
    (
        "exit survey and account-manager notes on every cancellation",
        "每次退订的离网调查与客户经理记录",
    ),
    ("every cancellation", "每次退订"),
    (
        "one reason above 25% of cancellations: fix it at the source",
        "某一原因占退订的 25% 以上：从源头解决",
    ),
    (
        "one reason above 25% of closures: fix it at the source",
        "某一原因占销户的 25% 以上：从源头解决",
    ),
    # the design notes of the feature typing (crmlab.modeling), parts joined by "; "
    ("excluded: identifier (by its name)", "已排除：标识字段（据字段名判断）"),
    (
        "excluded: constant (fewer than two distinct values)",
        "已排除：常量（不同取值少于两个）",
    ),
    ("excluded: date", "已排除：日期"),
    ("excluded: date (text that parses as dates)", "已排除：日期（可解析为日期的文本）"),
    (
        "excluded: {n} distinct text values (more than {most})",
        "已排除：有 {n} 个不同的文本值（超过 {most} 个）",
    ),
    ("numbers written as text", "以文本形式存储的数字"),
    ("yes/no text: yes = 1, no = 0", "是/否文本：是 = 1，否 = 0"),
    ("{n} missing filled with the median {fill}", "{n} 个缺失值以中位数 {fill} 填补"),
    (
        "{n} missing filled with the most frequent value {fill}",
        "{n} 个缺失值以最常见的值 {fill} 填补",
    ),
    # the goal's realism check (crmlab.goals.realism_check)
    (
        "needs {required} pts/month for {months} months; history's best {window}-month run "
        "({a} to {b}) gained {best} pts/month: {verdict}",
        "需要每月 {required} 个百分点、持续 {months} 个月；历史上最好的连续 {window} 个月"
        "（{a} 至 {b}）每月提升 {best} 个百分点：{verdict}",
    ),
    (
        "needs {required} pts/month for {months} months; history's best {window}-month run "
        "({a} to {b}) lost {best} pts/month: {verdict}",
        "需要每月 {required} 个百分点、持续 {months} 个月；历史上最好的连续 {window} 个月"
        "（{a} 至 {b}）每月下降 {best} 个百分点：{verdict}",
    ),
    # the cleaning notes of stage 2 (crmlab.quality, crmlab.engine.checks)
    ("No changes were needed.", "无需任何修改。"),
    (
        "{source}: {n} exact duplicate row(s) dropped (first copy kept).",
        "{source}：删除 {n} 行完全重复的记录（保留第一条）。",
    ),
    (
        "{source}: {n} row(s) with an already-seen {column} dropped (first row of each key kept).",
        "{source}：删除 {n} 行{column}重复的记录（每个值保留第一行）。",
    ),
    (
        "{source}: {n} unparseable date(s) in {column} set to missing.",
        "{source}：{column}中 {n} 个无法解析的日期设为缺失。",
    ),
    (
        "{source}: {n} value(s) in {column} that are not yes/no set to missing.",
        "{source}：{column}中 {n} 个不是“是/否”的值设为缺失。",
    ),
    (
        "{source}: {n} out-of-range value(s) in {column} (allowed {range}) set to missing.",
        "{source}：{column}中 {n} 个超出允许范围（{range}）的值设为缺失。",
    ),
    (
        "{source}: {n} value(s) in {column} not in {allowed} set to missing.",
        "{source}：{column}中 {n} 个不在 {allowed} 之内的值设为缺失。",
    ),
    (
        "{source}: {n} row(s) with missing {column} dropped.",
        "{source}：删除 {n} 行缺少{column}的记录。",
    ),
    (
        "{source}: {n} row(s) whose {column} is not in {parent} dropped ({k} distinct unknown "
        "id(s)).",
        "{source}：删除 {n} 行{column}不在{parent}中的记录（涉及 {k} 个不同的未知编号）。",
    ),
    (
        "{source}: {n} return(s) (negative {column}) kept and marked as returns (counted after "
        "the drops above).",
        "{source}：{n} 笔退货（{column}为负数）保留并标记为退货（按上述删除之后计数）。",
    ),
]

_FIELD = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")


def _template_pattern(template: str, field: str = "(?:(?!; ).)*?") -> re.Pattern[str]:
    """A regular expression matching what ``template.format(...)`` writes: the literal parts as
    they are, each field as ``field`` (default: any text without "; ", which joins the parts of
    a note; :func:`_note_pattern` reads ``num*`` fields as numbers) - the same text where a
    field repeats."""
    parts, pos, seen = [], 0, set()
    for m in _FIELD.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        own = field(m[1]) if callable(field) else field
        parts.append(f"(?P={m[1]})" if m[1] in seen else f"(?P<{m[1]}>{own})")
        seen.add(m[1])
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts), re.S)


@functools.cache
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    from crmlab import plans  # the plans' {en, zh} texts (plans does not import i18n)

    pairs = [(t["en"], t["zh"]) for t in plans.TEXTS] + TEMPLATES_ZH
    return tuple((_template_pattern(en), zh) for en, zh in pairs)


def _field_zh(name: str, value: str) -> str:
    if name in ("source", "parent"):
        return source(value)
    if name == "range":
        return value.replace(" to ", " 至 ")
    if name == "currency":
        return CURRENCIES_ZH.get(value, value)
    return translate(value)


def _from_template(text: str) -> str | None:
    """``text`` in Chinese if a template of :data:`TEMPLATES_ZH` (or the plans' texts) wrote it."""
    for pattern, zh in _templates():
        m = pattern.fullmatch(text) or pattern.fullmatch(text.strip())
        if m:
            return zh.format(**{k: _field_zh(k, v) for k, v in m.groupdict().items()})
    return None


CURRENCIES_ZH: dict[str, str] = {"CNY": "元", "USD": "美元", "EUR": "欧元", "HKD": "港元"}
"""Chinese names of currency codes (other codes are shown as they are)."""


def _with_unit(text: str) -> str | None:
    """A header with a currency in brackets (``"Net value (CNY)"``, :mod:`crmlab.narrative`'s
    money columns) as the translated header and the currency: "净价值（元）"; ``None`` unless
    the header is known."""
    m = re.fullmatch(r"(.+?) \(([A-Z]{3})\)", text.strip())
    if not m:
        return None
    shown = translate(m[1])
    return f"{shown}（{CURRENCIES_ZH.get(m[2], m[2])}）" if shown != m[1] else None


def _parts(text: str) -> str | None:
    """A text of parts joined by "; " (a design note: ``"number; 3 missing filled with the
    median 2"``) in Chinese, joined by "；", if every part is known; else ``None``."""
    if "; " not in text:
        return None
    parts = text.strip().split("; ")
    shown = [translate(p) for p in parts]
    if any(a == b for a, b in zip(parts, shown, strict=True)):
        return None
    return "；".join(shown)


SOURCES_ZH: dict[str, str] = {
    "customers": "客户表",
    "transactions": "交易表",
    "survey": "问卷表",
    "complaints": "投诉表",
    "stores": "门店表",
    "pilot": "试点表",
    "snapshots": "月度快照表",
}
"""Chinese names of the source tables (``customers`` as a table, not a count of customers)."""


def source(name: str, lang: str = "zh") -> str:
    """A source table's name in ``lang`` (:data:`SOURCES_ZH`); unknown names unchanged."""
    return SOURCES_ZH.get(str(name), str(name)) if lang == "zh" else str(name)


def _col(name: str) -> str:
    """A column named in a note: its Chinese term if there is one, else the name itself."""
    return translate(name)


def _term_key(text: str) -> str:
    return re.sub(r"[\s_]+", " ", str(text).strip().lower())


@functools.cache
def _terms_index() -> dict[str, str]:
    return {_term_key(k): v for k, v in TERMS_ZH.items()}


def _cut_term(text: str) -> str | None:
    """The translation of a term that pandas cut to fit a table cell (``"relationship-manager
    call with a personalised ..."``: the first characters and ``...``), if exactly one term
    starts with the part shown (at least 20 characters of it)."""
    if not text.endswith("...") or len(text.strip()) < 23:
        return None
    head = _term_key(text[:-3])
    hits = {v for k, v in _terms_index().items() if k.startswith(head)}
    return hits.pop() if len(hits) == 1 else None


_DUMMY = re.compile(
    r"(?P<col>[a-z][a-z0-9]*(?:[_ ][a-z0-9]+)*)[_ ](?P<level>[^\s_]*[\u4e00-\u9fff]\S*)",
    re.IGNORECASE,
)
"""A dummy column with a Chinese level: ``region_江苏``, ``Region 江苏`` (a known column's name
and the level; other columns are left as they are)."""


_CJK_DUMMY = re.compile(r"(?P<col>\S*[\u4e00-\u9fff]\S*?)[_ ](?P<level>[^_\s]+)")
"""A dummy column of a client's own Chinese column: ``合约类型_两年`` or ``合约类型 两年`` (the
column, then the level after the last underscore or space)."""


def _dummy(text: str) -> str | None:
    """A dummy column of a categorical feature with a client's Chinese level (``region_江苏``,
    or ``region 江苏`` once underscores are shown as spaces) as "地区：江苏" when the column is
    a known term, and of a client's own Chinese column (``合约类型_两年``, ``合约类型 两年``) as
    "合约类型：两年"; else ``None``. (The levels of the shipped data are terms of their own.)"""
    m = _DUMMY.fullmatch(text.strip())
    if m:
        column = _terms_index().get(_term_key(m["col"]))
        return f"{column}：{m['level']}" if column else None
    own = _CJK_DUMMY.fullmatch(text.strip())  # a client's own Chinese column: 合约类型_两年
    return f"{own['col']}：{own['level']}" if own else None


def _own_name(text: str) -> bool:
    """A client's own Chinese column name (``月费``): Chinese, no space, no English word."""
    return has_cjk(text) and not re.search(r"\s|[A-Za-z]{2,}", text)


def _term_list(text: str) -> str | None:
    """A comma-separated list of known terms (``"segment_affluent, segment_private"``, possibly
    cut short by pandas: ``"region_beijing, region_hubei,..."``) as a Chinese list (、), or
    ``None`` unless every listed item is a known term, a dummy (:func:`_dummy`) or a client's
    own Chinese column name."""
    body = text.strip()
    cut = body.endswith("...")
    body = body.removesuffix("...").rstrip(", ")
    parts = [x.strip() for x in body.split(",")]
    if len(parts) < 2 and not cut:
        return None
    index = _terms_index()
    # a client's own Chinese column (月费) is its own name
    shown = [index.get(_term_key(x)) or _dummy(x) or (x if _own_name(x) else None) for x in parts]
    if not parts or not all(shown):
        return None
    return "、".join(shown) + ("等" if cut else "")


_MEASURE_NUM = r"\d+(?:\.\d+)?"
_MEASURE_NOTE = re.compile(
    rf"\*\*Satisfied\*\* means rating (?P<q>.+?) (?P<t>{_MEASURE_NUM}) or "
    rf"(?:more|{_MEASURE_NUM}) on a (?P<lo>{_MEASURE_NUM})-(?P<hi>{_MEASURE_NUM}) scale[ (].*"
)
_MEASURE_QUESTION = re.compile(
    rf"(?P<q>.+?) \((?P<lo>{_MEASURE_NUM})-(?P<hi>{_MEASURE_NUM})(?:, averaged)?; "
    rf"(?P<t>{_MEASURE_NUM})\+ satisfied\)(?P<rec> and recommend \(0-10\))?"
)
_MEASURE_LEGEND = re.compile(
    rf"CSAT \(share rating (?P<t>{_MEASURE_NUM})\+ on (?P<lo>{_MEASURE_NUM})-(?P<hi>{_MEASURE_NUM})\)"
)


def _measure_questions(q: str) -> list[str]:
    """The client's question(s) as :func:`crmlab.metrics.measure_text` names them in English."""
    if q in ("overall satisfaction", "Overall satisfaction"):
        return []
    q = q.removeprefix("the average of ")
    head, _, last = q.rpartition(" and ")
    return [*head.split(", "), last] if head else [q]


def _measure_phrase(text: str) -> str | None:
    """The run's satisfaction measure in Chinese where :func:`crmlab.metrics.measure_text`
    wrote it in English (the stage-1 note, the feedback loop's question, a chart legend)."""
    from crmlab import metrics

    s = text.strip()
    for pattern, what in ((_MEASURE_NOTE, "note"), (_MEASURE_QUESTION, "question")):
        m = pattern.fullmatch(s)
        if m:
            measure = {
                "scale": [float(m["lo"]), float(m["hi"])],
                "satisfied_at": float(m["t"]),
                "questions": _measure_questions(m["q"]),
            }
            out = metrics.measure_text(measure, what, "zh")
            if what == "question" and m["rec"]:
                out += "与推荐意愿（0-10 分）"
            return out
    m = _MEASURE_LEGEND.fullmatch(s)
    if m:
        return f"满意度（{m['lo']}-{m['hi']} 分中达到 {m['t']} 分及以上的占比）"
    return None


def translate(text: str, lang: str = "zh") -> str:
    """Translate an English label, header or term into ``lang`` (identity for ``"en"``).

    Lookup order: the whole text in :data:`TERMS_ZH` (ignoring case, spaces and underscores);
    the patterns in :data:`PATTERNS_ZH`; the templates of generated texts (:data:`TEMPLATES_ZH`,
    :data:`crmlab.plans.TEXTS`); a term cut short by pandas (ending in ``...``) by the part
    shown; a comma-separated list of known terms; parts joined by "; " when each is known; a
    known header with a currency (``"Cost (CNY)"``); each line of a multi-line text on its
    own. Unknown text is returned unchanged (with underscores shown as spaces if it looks like an
    identifier).
    """
    check_lang(lang)
    if lang == "en" or text is None:
        return text
    s = str(text)
    if not s.strip():
        return s
    hit = _terms_index().get(_term_key(s))
    if hit is not None:
        return hit
    for pattern, repl in PATTERNS_ZH:
        if pattern.match(s.strip()):
            return pattern.sub(repl, s.strip())
    for special in (
        _measure_phrase,
        _from_template,
        _cut_term,
        _term_list,
        _parts,
        _with_unit,
        _dummy,
    ):
        hit = special(s)
        if hit is not None:
            return hit
    if "\n" in s:
        return "\n".join(translate(line, lang) for line in s.split("\n"))
    return s


# --------------------------------------------------------------------------------------------
# the notebooks' notes: sentences written from the numbers
# --------------------------------------------------------------------------------------------
_MONTHS = (
    "January February March April May June July August September October November December"
).split()

_RANKINGS_ZH = {"risk alone": "仅按风险", "risk x value": "风险 × 价值"}
_RATE_SOURCES_ZH = {
    "measured in the stage-4 pilot": "第 4 阶段试点实测",
    "set as a parameter": "由参数设定",
}
_SETS_ZH = {"train": "训练集", "test": "测试集", "score": "评分集"}
_FRAMES_ZH = {
    "customer features": "客户特征",
    "the transaction summary for the KPIs": "KPI 所需的交易汇总",
    "customer-months for the Cox model": "Cox 模型的客户月度数据",
    "monthly snapshot totals": "月度快照汇总",
    "today's customers to score": "待评分的当前客户",
    "the training set": "训练集",
    "the test set": "测试集",
}
_CAUSES_ZH = {"complaints": "投诉", "fee rises": "费用上调"}


def _month_zh(text: str) -> str:
    """ "November 2023" -> "2023 年 11 月" (other text as it is)."""
    m = re.fullmatch(r"([A-Z][a-z]+) (\d{4})", text.strip())
    if not m or m[1] not in _MONTHS:
        return text
    return f"{m[2]} 年 {_MONTHS.index(m[1]) + 1} 月"


def _feature_zh(name: str) -> str:
    """A feature, covariate or column a note names (``balance change``, ``segment private``,
    ``合约类型_两年``) in Chinese; unknown names as they are."""
    text = name.strip()
    shown = translate(text)
    if shown == text and "_" in text:
        shown = _dummy(text) or _dummy(text.replace("_", " ")) or translate(text.replace("_", " "))
    return shown


def _frames_zh(text: str) -> str:
    """Tables a stage passes on, in words joined by commas (:func:`crmlab.results.
    tables_in_words`): each as a source table or a named table."""
    items = [t.strip() for t in text.split(", ")]
    return "、".join(SOURCES_ZH.get(t) or _FRAMES_ZH.get(t) or translate(t) for t in items if t)


def _pts_zh(text: str) -> str:
    return text.replace(" pts", " 个百分点")


def _note_value(name: str, value: str) -> str:
    """A field of a note template in Chinese, by the field's name: ``month*`` a month
    ("November 2023"), ``cur`` a currency code, ``frames`` tables in words, ``feat*`` a feature,
    ``rank*`` a ranking, ``rsrc`` where a success rate comes from, ``qnote`` a data-quality note,
    ``src`` a source table, ``set`` a modelling set; a number stays as it is ("+7.1 pts" in
    points); any other field is translated (:func:`translate`; ``raw*``: the client's own text,
    such as a pilot's intervention, may stay as written)."""
    if name.startswith("month"):
        return _month_zh(value)
    if name == "cur":
        return CURRENCIES_ZH.get(value, value)
    if name == "frames":
        return _frames_zh(value)
    if name.startswith("feat"):
        return "、".join(_feature_zh(v) for v in value.split(", "))
    if name.startswith("rank"):
        return _RANKINGS_ZH.get(value, value)
    if name == "rsrc":
        return _RATE_SOURCES_ZH.get(value, value)
    if name == "qnote":
        return translate(value.rstrip(".") + ".").rstrip("。.")
    if name == "src":
        return source(value)
    if name == "set":
        return _SETS_ZH.get(value, translate(value))
    if _NUMBER_FIELD.fullmatch(value.strip()):
        return _pts_zh(value)  # a number ("25%" is no quartile)
    return _pts_zh(translate(value))


_NUMBER_FIELD = re.compile(r"[<>]?\s*[-+]?[\d,]*\.?\d+(?:%| pts)?")


#: Sentences the case notebooks write from their numbers (``say``), as (English template,
#: Chinese template) in ``str.format`` syntax: a note is read sentence by sentence, each matched
#: as a whole against the English templates (a field matches any text; a field used twice must
#: be the same text) and written with the Chinese template, each field in Chinese by its name
#: (:func:`_note_value`). Notes made of a list of parts are in :data:`NOTE_LISTS_ZH`.
NOTES_ZH: list[tuple[str, str]] = [
    # finance stage 1
    (
        "The data run from {month_a} to {month_b}: {n} complete 12-month periods, the last one "
        "from {a} to {b} (the table of the latest periods follows the baseline).",
        "数据覆盖 {month_a} 至 {month_b}：共 {n} 个完整的 12 个月期间，最近一个为 {a} 至 {b}"
        "（最近各期的表格列在基线之后）。",
    ),
    (
        "The data run from {month_a} to {month_b}: {n} complete 12-month periods, the last one "
        "from {a} to {b}.",
        "数据覆盖 {month_a} 至 {month_b}：共 {n} 个完整的 12 个月期间，最近一个为 {a} 至 {b}。",
    ),
    (
        "**Baseline** ({a} to {b}): {k} of {n} customers closed their account, a churn rate of "
        "**{r}** (95% CI {lo} to {hi}).",
        "**基线**（{a} 至 {b}）：{n} 名客户中有 {k} 名销户，流失率为 **{r}**"
        "（95% 置信区间 {lo} 至 {hi}）。",
    ),
    (
        "**Target:** {t} by {d} ({rel} lower), a cut of {g} points, {m} points a month on a "
        "straight line.",
        "**目标：**到 {d} 降至 {t}（降低 {rel}），即下降 {g} 个百分点，按直线路径每月下降 {m} 个百分点。",
    ),
    (
        "Of the **{n} accounts open today**, about {a} will close within a year at today's "
        "rate; the target allows {b}.",
        "在**目前在网的 {n} 个账户**中，按当前流失率约有 {a} 个会在一年内销户；目标只允许 {b} 个。",
    ),
    (
        "The bank must keep **{n} customers a year** who would otherwise leave.",
        "银行每年必须多留住 **{n} 名**本会流失的客户。",
    ),
    (
        "Last year's churners held {cur} {x} on average, so the goal means keeping about "
        "**{cur} {y} million of balances**.",
        "去年流失的客户平均持有 {x} {cur}，因此实现目标意味着约留住 **{y} 百万{cur}的余额**。",
    ),
    (
        "**Value at stake:** churn at today's rate costs about **{cur} {a} million of yearly "
        "margin** ({cur} {b} per lost customer at a {m} margin on balances, plus fees); reaching "
        "the goal keeps {cur} {c} million of it.",
        "**涉及的价值：**按当前流失率，流失每年约损失 **{a} 百万{cur}的收益**（每流失一名客户 "
        "{b} {cur}：余额的 {m} 净息差加手续费）；实现目标可保住其中的 {c} 百万{cur}。",
    ),
    (
        "Detecting {a} -> {b} needs **{n} customers per arm** ({m} in all), at a {alpha} "
        "significance level and {power} power: {share} of today's open book.",
        "要检测出 {a} → {b} 的变化，每组需要 **{n} 名客户**（共 {m} 名；显著性水平 {alpha}，"
        "检验功效 {power}）：占目前在网客户的 {share}。",
    ),
    (
        "A pilot with a shorter follow-up, in which fewer customers close, needs more.",
        "随访期更短的试点（期间销户的客户更少）需要更多客户。",
    ),
    (
        "A bank of this size can hardly prove a cut of this size with a separate pilot; run it "
        "on customers at high risk, where more of them close and an offer makes a bigger "
        "difference, and keep a random holdout when the offer is rolled out.",
        "这一规模的银行很难用单独的试点证明这一幅度的下降；应在高风险客户中开展试点（他们销户更多，"
        "优惠的作用也更大），并在推广优惠时保留随机对照组。",
    ),
    ("The goal {realism}.", "目标{realism}。"),
    # ... a churn-flag extract
    (
        "**Baseline:** {k} of the {n} customers in the extract are flagged as churned: **{r}** "
        "(95% CI {lo} to {hi}) - the {period}.",
        "**基线：**提取数据的 {n} 名客户中有 {k} 名被标记为已流失：**{r}**"
        "（95% 置信区间 {lo} 至 {hi}）——{period}。",
    ),
    (
        "**Target:** {t} ({rel} lower) within {m} months, by {d}.",
        "**目标：**{m} 个月内（到 {d}）降至 {t}（降低 {rel}）。",
    ),
    (
        "**Target:** {t} ({rel} lower) within {m} months.",
        "**目标：**{m} 个月内降至 {t}（降低 {rel}）。",
    ),
    (
        "A randomized pilot that tells {a} from {b} needs **{n} customers per arm** ({alpha} "
        "significance, {power} power), followed up as long as the flag's period.",
        "要区分 {a} 与 {b}，随机试点每组需要 **{n} 名客户**（显著性水平 {alpha}，检验功效 {power}），"
        "随访时长与流失标记覆盖的期间相同。",
    ),
    ("The extract has {n} customers.", "提取数据共有 {n} 名客户。"),
    # finance stage 2
    ("Sources loaded: {frames}.", "已读取的数据源：{frames}。"),
    ("No source tables were found.", "未找到任何数据源表。"),
    (
        "**{n} customers** from {month_a} to {month_b}; {k} closed their account in the window "
        "({r}), the others were still open at the end.",
        "**{n} 名客户**，时间范围 {month_a} 至 {month_b}；其中 {k} 名在此期间销户（{r}），"
        "其余客户在期末仍在网。",
    ),
    ("{n} monthly snapshots.", "月度快照 {n} 条。"),
    ("No monthly snapshots.", "没有月度快照。"),
    (
        "The **{seg}** segment loses the most customers: {r} (95% CI {lo} to {hi}, {n} customers "
        "open at the start).",
        "流失客户最多的客户细分是**{seg}**：{r}（95% 置信区间 {lo} 至 {hi}，期初在网客户 {n} 名）。",
    ),
    (
        "Churn ranges from **{a} in the {seg_a} segment** to {b} in the {seg_b} segment, and from "
        "{c} among customers with a tenure of {t_a} to {d} at {t_b}.",
        "按客户细分，流失率从**{seg_a}的 {a}** 到{seg_b}的 {b}；按在网时长，"
        "从{t_a}客户的 {c} 到{t_b}客户的 {d}。",
    ),
    (
        "Customers with one product churned at {a}, those with three or more at {b}: every extra "
        "product ties a customer closer to the bank.",
        "持有一个产品的客户流失率为 {a}，持有三个及以上产品的为 {b}：每多一个产品，客户与银行的联系就更紧密。",
    ),
    (
        "Customers with one product churned at {a}, those with three or more at {b}.",
        "持有一个产品的客户流失率为 {a}，持有三个及以上产品的为 {b}。",
    ),
    (
        "A year after the opening quarter, on average **{r}** of a cohort is still open ({n} "
        "cohorts observed that long; from {a} to {b}).",
        "开户季度一年后，每个开户批次平均仍有 **{r}** 在网（观察到一年的批次共 {n} 个；"
        "从 {a} 到 {b}）。",
    ),
    (
        "**{set}**: {n} customers open on {d}; behaviour features from the {k} months up to "
        "{m}, churn in the next 12 months {r}",
        "**{set}**：{d} 在网的 {n} 名客户；行为特征取自截至 {m} 的 {k} 个月，其后 12 个月的流失率为 {r}",
    ),
    (
        "**{set}**: {n} customers open on {d}; behaviour features from the {k} months up to {m}",
        "**{set}**：{d} 在网的 {n} 名客户；行为特征取自截至 {m} 的 {k} 个月",
    ),
    (
        "Leakage guard: **passed** - no feature uses data from on or after its prediction date.",
        "防数据泄漏检查：**通过**——没有任何特征使用预测日当天或之后的数据。",
    ),
    (
        "The Cox model uses a random sample of {p} of the customers ({n}, {m} customer-months).",
        "Cox 模型使用随机抽取的 {p} 客户（{n} 名，{m} 个客户月）。",
    ),
    ("Passed on to the next stages: {frames}.", "传给后续阶段的数据表：{frames}。"),
    (
        "No faults were found: every check of the rules passed; what the checks noted is "
        "expected and kept.",
        "未发现问题：各项规则检查均已通过；检查记录的情况属正常，予以保留。",
    ),
    (
        "No faults were found: every check of the rules passed.",
        "未发现问题：各项规则检查均已通过。",
    ),
    (
        "The faults found are few: {n} finding(s), none touching more than {p} of a table's rows "
        "- the largest: {qnote} ({num_s} of the {src} rows).",
        "发现的问题不多：共 {n} 项，没有一项涉及超过 {p} 的表行——最大的一项：{qnote}"
        "（占{src}行数的 {num_s}）。",
    ),
    (
        "The faults found are few: {n} finding(s), none touching more than {p} of a table's rows "
        "- the largest: {qnote}.",
        "发现的问题不多：共 {n} 项，没有一项涉及超过 {p} 的表行——最大的一项：{qnote}。",
    ),
    (
        "The faults are not few: {n} finding(s), the largest: {qnote} ({num_s} of the {src} rows).",
        "发现的问题不少：共 {n} 项，最大的一项：{qnote}（占{src}行数的 {num_s}）。",
    ),
    (
        "The faults are not few: {n} finding(s), the largest: {qnote}.",
        "发现的问题不少：共 {n} 项，最大的一项：{qnote}。",
    ),
    (
        "The faults found are few: {n} of the {total} findings, none touching more than {p} of a "
        "table's rows - the largest: {qnote} ({num_s} of the {src} rows).",
        "发现的问题不多：{total} 项发现中有 {n} 项为问题，没有一项涉及超过 {p} 的表行——最大的一项："
        "{qnote}（占{src}行数的 {num_s}）。",
    ),
    (
        "The faults found are few: {n} of the {total} findings, none touching more than {p} of a "
        "table's rows - the largest: {qnote}.",
        "发现的问题不多：{total} 项发现中有 {n} 项为问题，没有一项涉及超过 {p} 的表行——最大的一项："
        "{qnote}。",
    ),
    (
        "The faults are not few: {n} of the {total} findings, the largest: {qnote} ({num_s} of "
        "the {src} rows).",
        "发现的问题不少：{total} 项发现中有 {n} 项为问题，最大的一项：{qnote}（占{src}行数的 {num_s}）。",
    ),
    (
        "The faults are not few: {n} of the {total} findings, the largest: {qnote}.",
        "发现的问题不少：{total} 项发现中有 {n} 项为问题，最大的一项：{qnote}。",
    ),
    (
        "The other {n} finding(s) are notes (severity info: expected, such as returns) and are "
        "kept.",
        "其余 {n} 项为提示（严重程度 info：属正常情况，如退货），予以保留。",
    ),
    ("Each is fixed by the stated rule above.", "每一项均已按上述规则处理。"),
    (
        "Each is handled by the stated rule above, but have the client's data owner explain the "
        "largest before relying on the results: a fault of this size often means an incomplete "
        "or wrongly mapped export.",
        "每一项均已按上述规则处理，但在依赖分析结果之前，请客户的数据负责人解释最大的一项："
        "这种规模的问题往往意味着导出数据不完整或映射有误。",
    ),
    (
        "{n} of them is an error: {k} row(s) that cannot be used as they are, so the rule drops "
        "them.",
        "其中 {n} 项为错误：{k} 行无法直接使用，因此按规则删除。",
    ),
    (
        "{n} of them are errors: {k} row(s) that cannot be used as they are, so the rule drops "
        "them.",
        "其中 {n} 项为错误：{k} 行无法直接使用，因此按规则删除。",
    ),
    # ... a churn-flag extract
    (
        "**{n} customers**, {k} of them flagged as churned ({r}); tenure from {a} to {b} months "
        "(median {m}).",
        "**{n} 名客户**，其中 {k} 名被标记为已流失（{r}）；在网时长从 {a} 到 {b} 个月（中位数 {m}）。",
    ),
    (
        "**{n} customers**, {k} of them flagged as churned ({r}); no tenure column, so stage 3 "
        "has no survival analysis.",
        "**{n} 名客户**，其中 {k} 名被标记为已流失（{r}）；没有在网时长列，因此第 3 阶段不做生存分析。",
    ),
    (
        "Differences between groups are not effects: stage 3 weighs them together.",
        "组间差异并非因果效应：第 3 阶段将各因素放在一起综合衡量。",
    ),
    # finance stage 3
    ("From stage 2: {frames}.", "来自第 2 阶段的数据表：{frames}。"),
    (
        "Out of time, on {n} customers of whom {r} left: **AUC {auc}** (Brier score {b}).",
        "时间外验证：在 {n} 名客户（其中 {r} 流失）上，**AUC 为 {auc}**（Brier 分数 {b}）。",
    ),
    (
        "The top 10% of scores hold **{a} of the leavers** (lift {l}: their churn rate is {r}); "
        "the top 30% hold {b}.",
        "评分最高的 10% 客户涵盖了 **{a} 的流失客户**（提升度 {l}：其流失率为 {r}）；"
        "评分最高的 30% 涵盖 {b}。",
    ),
    (
        "Predicted churn averages {a} against {b} observed; the chart shows it decile by decile.",
        "预测流失率平均为 {a}，实际为 {b}；图表按十分位逐一对比。",
    ),
    (
        "The segments differ by more than chance (log-rank chi-square {c}, {d} df, {p}).",
        "各客户细分之间的差异超出偶然范围（log-rank 卡方 {c}，自由度 {d}，{p}）。",
    ),
    (
        "Without monthly snapshots the model holds the static attributes only.",
        "没有月度快照，模型只包含静态属性。",
    ),
    (
        "The proportional-hazards check flags {feats} (p < {a}): the effect seems to change with "
        "tenure, so read that ratio as an average over the customer's life.",
        "比例风险检验标记了{feats}（p < {a}）：其作用似乎随在网时长变化，应将该风险比理解为客户整个生命周期的平均值。",
    ),
    ("No covariate violates proportional hazards.", "没有协变量违反比例风险假设。"),
    (
        "**{n} customers are at risk** ({p} of the open book), holding {cur} {v} million of "
        "yearly value; {k} of them are tier-A customers.",
        "**{n} 名客户处于流失风险中**（占在网客户的 {p}），每年价值合计 {v} 百万{cur}；"
        "其中 {k} 名为 A 级客户。",
    ),
    (
        "Tier A is {a} of the customers and {b} of the value.",
        "A 级客户占客户数的 {a}、价值的 {b}。",
    ),
    (
        "On the {n} held-out customers ({r} left): **AUC {auc}**; the top 10% of scores hold {c} "
        "of the leavers (lift {l}).",
        "在留出的 {n} 名客户（其中 {r} 流失）上：**AUC 为 {auc}**；评分最高的 10% 客户涵盖了 {c} "
        "的流失客户（提升度 {l}）。",
    ),
    ("Strongest signals: {feats}.", "最强的信号：{feats}。"),
    (
        "Half of the customers have left after **{m} months**",
        "在网 **{m} 个月**后，一半的客户已经流失。",
    ),
    (
        "More than half of the customers are still there at the longest tenure.",
        "在最长的在网时长上，仍有一半以上的客户在网。",
    ),
    # finance stage 4
    (
        "**Design:** {n} at-risk customers on {d}, {a} randomized to the '{arm}' arm and {b} to "
        "control; follow-up {m} months, to {e}.",
        "**设计：**{d} 选取 {n} 名流失风险客户，随机分配 {a} 名到“{arm}”组、{b} 名到对照组；"
        "随访 {m} 个月，至 {e}。",
    ),
    (
        "Churn within {m} months: **{a}** with the offer (n = {na}) vs **{b}** without (n = "
        "{nb}): a difference of **{d}** (95% CI {lo} to {hi}), z = {z}, p = {p}.",
        "{m} 个月内的流失率：获得优惠 **{a}**（n = {na}），未获优惠 **{b}**（n = {nb}）："
        "差异 **{d}**（95% 置信区间 {lo} 至 {hi}），z = {z}，p = {p}。",
    ),
    (
        "The offer cut churn, and the difference is larger than chance explains.",
        "优惠降低了流失率，且差异超出偶然所能解释的范围。",
    ),
    (
        "The interval includes zero: the pilot is too small to rule out chance, although the "
        "estimate points to fewer closures with the offer.",
        "置信区间包含零：试点规模太小，无法排除偶然因素，尽管估计值表明优惠减少了销户。",
    ),
    ("The pilot gives no sign that the offer cuts churn.", "试点没有显示优惠能降低流失率。"),
    (
        "The offer removed **{a} of the churn** (95% CI {lo} to {hi}).",
        "优惠消除了 **{a} 的流失**（95% 置信区间 {lo} 至 {hi}）。",
    ),
    *[
        (
            "At {cur} {c} per offered customer, one saved customer costs about **{cur} {s}** "
            "(from {cur} {lo}" + en_high + en_tail,
            "每位获得优惠的客户成本为 {c} {cur}，挽留一名客户的成本约为 **{s} {cur}**（从 {lo} {cur}"
            + zh_high
            + zh_tail,
        )
        for en_high, zh_high in (
            (" to {cur} {hi})", " 到 {hi} {cur}）"),
            (
                ", with no upper bound: the interval includes no effect)",
                " 起，没有上限：置信区间包含无效果）",
            ),
        )
        for en_tail, zh_tail in (
            (
                "; a lost customer costs {cur} {v} of yearly margin (stage 1), so a saved "
                "customer pays the offer back in about {y} years.",
                "；流失一名客户每年损失 {v} {cur}的收益（第 1 阶段），因此挽留一名客户约 {y} 年即可收回优惠成本。",
            ),
            (".", "。"),
        )
    ],
    (
        "The offer did not lower churn in the pilot (relative change {a}, 95% CI {lo} to {hi}): "
        "there is no cost per saved customer to report.",
        "试点中优惠没有降低流失率（相对变化 {a}，95% 置信区间 {lo} 至 {hi}）：因此无法给出每挽留一名客户的成本。",
    ),
    (
        "The target group holds **{a} of the churn**.",
        "目标客户群占全部流失的 **{a}**。",
    ),
    (
        "Offering to all of it would take the 12-month churn rate from {b} to about **{c}** "
        "(range {lo} to {hi}) against the target {t}: it **{verdict}**.",
        "向整个目标客户群提供优惠，可使 12 个月流失率从 {b} 降至约 **{c}**（范围 {lo} 至 {hi}），"
        "目标为 {t}：**{verdict}**。",
    ),
    (
        "Confirming {a} -> {b} needs **{n} customers per arm** (the pilot had {x} and {y}); a cut "
        "of the goal's size ({a} -> {g}) needs {m} per arm.",
        "要确认 {a} → {b} 的变化，每组需要 **{n} 名客户**（本次试点为 {x} 名和 {y} 名）；"
        "要确认目标幅度的下降（{a} → {g}），每组需要 {m} 名。",
    ),
    # finance stage 5
    (
        "Top 10% by risk alone: lift **{a}**; by risk x value: lift **{b}** (1 would be no better "
        "than a random tenth of the customers).",
        "前 10%：仅按风险排序的提升度为 **{a}**；按风险 × 价值排序为 **{b}**（1 表示不比随机抽取的十分之一客户更好）。",
    ),
    (
        "Contacting the top 10%: ranking by **risk alone** reaches {a} of the leavers (lift {l}) "
        "and {b} of the value they took; ranking by **risk x value** reaches {c} of the leavers "
        "(lift {l2}) but {d} of the value.",
        "联系前 10% 的客户：**仅按风险**排序可覆盖 {a} 的流失客户（提升度 {l}）及其带走价值的 {b}；"
        "按**风险 × 价值**排序覆盖 {c} 的流失客户（提升度 {l2}），但覆盖 {d} 的价值。",
    ),
    (
        "So **{rank_a}** finds more leavers and **{rank_b}** protects more value: the two goals "
        "pull apart.",
        "因此，**{rank_a}**找到的流失客户更多，**{rank_b}**保护的价值更多：两个目标相互背离。",
    ),
    (
        "So **{rank_a}** finds more leavers and protects more value.",
        "因此，**{rank_a}**找到的流失客户更多，保护的价值也更多。",
    ),
    (
        "High-value customers leave less often, so a value-weighted list is full of wealthy "
        "customers at moderate risk.",
        "高价值客户流失较少，因此按价值加权的名单中多为风险中等的富裕客户。",
    ),
    (
        "The churn-rate goal counts customers, the P&L counts value: the plan below uses risk x "
        "value for the personal action list (relationship managers and the service team) and "
        "reports what risk alone would add to the churn goal.",
        "流失率目标计的是客户数，损益计的是价值：下面的计划以风险 × 价值排序制定人工跟进的行动清单"
        "（客户经理与服务团队），并说明仅按风险排序对流失率目标会有多少额外贡献。",
    ),
    (
        "With a success rate of {a} ({rsrc}), contacting the top {s} ({n} customers) by risk x "
        "value reaches about {r} would-be leavers and keeps about **{k} customers** and {cur} {v} "
        "of yearly value for {cur} {c}: **ROI {roi}** (net {cur} {net}).",
        "按 {a} 的成功率（{rsrc}），按风险 × 价值联系前 {s} 的客户（{n} 名），约可覆盖 {r} 名可能流失的客户，"
        "留住约 **{k} 名客户**及每年 {v} {cur}的价值，成本 {c} {cur}：**ROI {roi}**（净值 {net} {cur}）。",
    ),
    (
        "By risk alone it would keep {k} customers (ROI {roi}).",
        "仅按风险排序可留住 {k} 名客户（ROI {roi}）。",
    ),
    (
        "The goal needs {n} customers kept a year: the campaign covers {a} of it by risk x value "
        "and {b} by risk alone.",
        "目标要求每年留住 {n} 名客户：按风险 × 价值，本次活动可完成其中的 {a}；仅按风险可完成 {b}。",
    ),
    (
        "The net value peaks when the top **{s}** are contacted ({cur} {v}); beyond it each extra "
        "contact costs more than it saves.",
        "联系前 **{s}** 的客户时净价值最高（{v} {cur}）；超过这一比例，每多联系一名客户的成本都高于其挽回的价值。",
    ),
    (
        "The {n} customers of the work list carry {cur} {v} of expected yearly loss; {k} are tier "
        "A.",
        "工作清单上的 {n} 名客户的预期年损失合计 {v} {cur}；其中 {k} 名为 A 级客户。",
    ),
    (
        "The table shows the first {m}; actions.xlsx and actions.csv list all of them first, "
        "with the same action, owner and due date, then every other open customer with the "
        "action of their lifecycle stage.",
        "表中列出前 {m} 名；actions.xlsx 和 actions.csv 先列出全部这些客户（行动、负责人和截止日期相同），"
        "再列出其他所有在网客户及其生命周期阶段对应的行动。",
    ),
    (
        "Projected 12-month churn at {mo}: **{p}** against the target {t} ({r} if the same "
        "budget went to the highest risks instead) - on track.",
        "预计 {mo} 的 12 个月流失率：**{p}**，目标为 {t}（若同样的预算改用于风险最高的客户则为 {r}）——进度达标。",
    ),
    (
        "Projected 12-month churn at {mo}: **{p}** against the target {t} ({r} if the same "
        "budget went to the highest risks instead) - short by about {g} customers a year.",
        "预计 {mo} 的 12 个月流失率：**{p}**，目标为 {t}（若同样的预算改用于风险最高的客户则为 {r}）"
        "——每年约差 {g} 名客户。",
    ),
    ("The offer alone does not close the gap.", "仅靠优惠无法弥补这一差距。"),
    (
        "Fewer fee rises for customers at risk and complaints fixed at the source, together with "
        "winning salary deposits and second products (the ties that keep customers), are the "
        "levers of the plan below.",
        "减少对流失风险客户的费用上调、从源头解决投诉，再加上争取工资代发和第二个产品（留住客户的纽带），"
        "就是下面计划的抓手。",
    ),
    # retail stage 1
    (
        "**Baseline** (wave {w}, n = {n}): {r} satisfied (95% CI {lo} to {hi}).",
        "**基线**（{w} 轮调查，n = {n}）：满意率 {r}（95% 置信区间 {lo} 至 {hi}）。",
    ),
    (
        "**Target:** {t} by {d}, a gap of **{g} points**, {m} points a month.",
        "**目标：**到 {d} 达到 {t}，差距 **{g} 个百分点**，每月需提升 {m} 个百分点。",
    ),
    (
        "Detecting {a} -> {b} needs **{n} answers per wave (or per pilot arm)**; a +/-3-point "
        "estimate at {t} needs **{m}**.",
        "要检测出 {a} → {b} 的变化，每轮调查（或每个试点组）需要 **{n} 份答卷**；"
        "要在 {t} 处达到 ±3 个百分点的精度，需要 **{m} 份**。",
    ),
    (
        "Waves so far have a median of {k} answers: enough.",
        "以往各轮调查的答卷数中位数为 {k}：足够。",
    ),
    (
        "Waves so far have a median of {k} answers: the survey must grow.",
        "以往各轮调查的答卷数中位数为 {k}：调查规模需要扩大。",
    ),
    # retail stage 2
    (
        "The transactions the KPIs of stage 5 need, by window (start included, end excluded; the "
        "last date is the last purchase or return in it):",
        "第 5 阶段 KPI 所需的交易，按时间窗口（含起始日、不含结束日；最后日期为窗口内最后一次购买或退货）：",
    ),
    (
        "{n} transactions from {k} customers; {p} are returns (negative amounts), kept so that "
        "spend is net of them.",
        "{k} 名客户的 {n} 笔交易；其中 {p} 为退货（负金额），予以保留，使消费额为扣除退货后的净额。",
    ),
    (
        "There is no customer list: customers are taken from the transactions.",
        "没有客户名单：客户取自交易记录。",
    ),
    # retail stage 3
    (
        "**No promotion flags:** the transactions have no `promotion` column (map it under "
        "`columns: transactions:` in the config), so neither price-sensitive customers (buying "
        "mostly on promotion) nor brand-preferring ones (large baskets at full price) can be "
        "told apart, and there are no such segments; function-driven customers (frequent small "
        "trips) are still found.",
        "**没有促销标记：**交易中没有 `promotion` 列（可在配置的 `columns: transactions:` 下映射），"
        "因此无法区分价格敏感型客户（主要在促销时购买）和品牌偏好型客户（按原价购买大额订单），"
        "也就没有这两个细分；功能需求型客户（频繁、小额的购物）仍可识别。",
    ),
    ("OLS on {n} answers: R-squared {r}.", "基于 {n} 份答卷的 OLS：R² = {r}。"),
    (
        "By customer class, over the same three waves: {n} rated answers of customers with a "
        "class, of the {m} answers of those waves (n in the table and chart counts answers).",
        "按客户类别（同样的最近三期）：这几期的 {m} 份答卷中，有 {n} 份来自有客户类别的客户且有评分"
        "（表格和图表中的 n 为答卷数）。",
    ),
    (
        "The 5 stores with the lowest CSAT of the {n} (last three waves):",
        "{n} 家门店中 CSAT 最低的 5 家（最近三轮调查）：",
    ),
    # retail stage 4
    (
        "Intervention: **{raw_x}** in {n} stores ({raw_stores}), {m} control stores; pilot months "
        "{a} to {b}, compared with {c} to {d} before.",
        "干预措施：在 {n} 家门店（{raw_stores}）开展**{raw_x}**，{m} 家对照门店；试点月份 {a} 至 {b}，"
        "与此前的 {c} 至 {d} 对比。",
    ),
    (
        "Satisfied: **{a}** in pilot stores (n = {na}) vs **{b}** in control stores (n = {nb}): "
        "a difference of **{d}** (95% CI {lo} to {hi}), z = {z}, p = {p}.",
        "满意率：试点门店 **{a}**（n = {na}），对照门店 **{b}**（n = {nb}）：差异 **{d}**"
        "（95% 置信区间 {lo} 至 {hi}），z = {z}，p = {p}。",
    ),
    (
        "Detecting {a} -> {b} needs **{n} answers per arm** (the pilot had {x} and {y}).",
        "要检测出 {a} → {b} 的变化，每组需要 **{n} 份答卷**（本次试点为 {x} 份和 {y} 份）。",
    ),
    # retail stage 5
    (
        "Projected CSAT at {mo}: **{p}** against the target {t} - on track.",
        "预计 {mo} 的 CSAT：**{p}**，目标为 {t}——进度达标。",
    ),
    (
        "Projected CSAT at {mo}: **{p}** against the target {t} - short by {g} points: the plan "
        "must add interventions on the next drivers (see the priority matrix) and re-test.",
        "预计 {mo} 的 CSAT：**{p}**，目标为 {t}——差 {g} 个百分点：计划必须针对下一批驱动因素"
        "增加干预措施（见优先级矩阵）并重新检验。",
    ),
]


def _list_note(head: str, item: str, join: str = "；"):
    """A handler of :data:`NOTE_LISTS_ZH`: ``head`` (Chinese, with ``{items}``) with each
    "; "-joined part of the English list written by ``item`` (a function of the part's
    match); None when a part does not match."""

    def handle(m: re.Match, part: re.Pattern, write) -> str | None:
        shown = []
        for p in m["items"].split("; "):
            pm = part.fullmatch(p.strip())
            if pm is None:
                return None
            shown.append(write(pm))
        return head.format(**{**m.groupdict(), "items": join.join(shown)})

    return handle


_NUM = r"[-+]?[\d,]*\.?\d+%?"

#: Notes made of a list of parts: (pattern of the whole sentence with a group ``items``, pattern
#: of one "; "-joined part, the Chinese of a part, the Chinese of the whole with ``{items}``).
NOTE_LISTS_ZH: list[tuple[str, str, Callable[[re.Match[str]], str], str]] = [
    (
        r"Loaded: (?P<items>.+)\.",
        rf"(?P<src>\S+) \((?P<rows>{_NUM}) rows, (?P<cols>{_NUM}) columns\)",
        lambda p: f"{source(p['src'])}（{p['rows']} 行，{p['cols']} 列）",
        "已读取：{items}。",
    ),
    (
        r"\*\*What gives leavers away\*\* \(largest effect of a one-standard-deviation increase "
        rf"first, among the effects the data clearly support at the (?P<a>{_NUM}) level\): "
        r"(?P<items>.+)\.",
        rf"(?P<f>.+?) - odds x(?P<x>{_NUM}) per standard deviation",
        lambda p: f"{_feature_zh(p['f'])}（每增加一个标准差，流失几率 ×{p['x']}）",
        "**流失客户的先兆**（数据在 {a} 水平上明确支持的效应中，按每增加一个标准差的效应大小排序）：{items}。",
    ),
    (
        r"Half of all accounts are closed after \*\*(?P<m>\d+) months\*\* of tenure "
        r"\((?P<items>.+)\)\.",
        r"(?P<g>.+?): (?:(?P<m>\d+) months|(?P<open>more than half still open))",
        lambda p: (
            f"{translate(p['g'])}：{p['m']} 个月"
            if p["m"]
            else f"{translate(p['g'])}：一半以上仍在网"
        ),
        "在网 **{m} 个月**后，一半的账户已经销户（{items}）。",
    ),
    (
        r"\*\*Hazard ratios:\*\* (?P<items>.+)\.",
        rf"(?P<f>.+?) x(?P<x>{_NUM}) \((?P<lo>{_NUM}) to (?P<hi>{_NUM})\)",
        lambda p: f"{_feature_zh(p['f'])} ×{p['x']}（{p['lo']} 至 {p['hi']}）",
        "**风险比：**{items}。",
    ),
    (
        r"\*\*Hazard ratios\*\* \(tenure as the time scale, the flag as the event\): "
        r"(?P<items>.+)\.",
        rf"(?P<f>.+?) x(?P<x>{_NUM}) \((?P<lo>{_NUM}) to (?P<hi>{_NUM})\)",
        lambda p: f"{_feature_zh(p['f'])} ×{p['x']}（{p['lo']} 至 {p['hi']}）",
        "**风险比**（以在网时长为时间尺度，以流失标记为事件）：{items}。",
    ),
    (
        r"\*\*Closures the bank causes itself:\*\* (?P<items>.+) - the share that would not have "
        r"happened without them, if the hazard ratios are causal\.",
        rf"(?P<p>{_NUM}) of the closures are attributable to (?P<c>.+?) in the six months before",
        lambda p: f"{p['p']} 的销户归因于此前六个月内的{_CAUSES_ZH.get(p['c'], p['c'])}",
        "**银行自身造成的销户：**{items}——假如风险比反映因果关系，这部分销户本不会发生。",
    ),
    (
        r"The rest has to come from the causes the bank controls \(stage 3\): (?P<items>.+)\.",
        rf"(?P<c>.+?) are behind (?P<p>{_NUM}) of the closures, about (?P<n>{_NUM}) a year",
        lambda p: f"{_CAUSES_ZH.get(p['c'], p['c'])}造成了 {p['p']} 的销户，每年约 {p['n']} 户",
        "其余部分必须来自银行可控的原因（第 3 阶段）：{items}。",
    ),
    (
        r"Churn differs most by (?P<items>.+)\.",
        rf"\*\*(?P<f>.+?)\*\* \((?P<lo>{_NUM}) to (?P<hi>{_NUM})\)",
        lambda p: f"**{_feature_zh(p['f'])}**（{p['lo']} 至 {p['hi']}）",
        "流失率差异最大的分组依据：{items}。",
    ),
]


def _note_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching what ``template.format(...)`` writes (a field: any text,
    a ``num*`` field a number; a field used twice: the same text)."""
    return _template_pattern(template, lambda name: _NUM if name.startswith("num") else ".+?")


@functools.cache
def _note_templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_note_pattern(en), zh) for en, zh in NOTES_ZH)


@functools.cache
def _note_lists() -> tuple:
    return tuple(
        (re.compile(whole, re.S), re.compile(part), write, head)
        for whole, part, write, head in NOTE_LISTS_ZH
    )


_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=\*\*[A-Z0-9]|[A-Z0-9])")


def _personal_removed(text: str) -> str | None:
    m = re.fullmatch(r"Personal columns removed: (.+)\.", text)
    if not m:
        return None
    if m[1] == "none found":
        return "已删除的个人信息列：未发现。"
    tables = re.split(r"(?:; |, )(?=\w+: )", m[1])
    shown = []
    for part in tables:
        name, _, columns = part.partition(": ")
        named = "、".join(translate(c.strip()) for c in columns.split(", "))
        shown.append(f"{source(name)}：{named}")
    return f"已删除的个人信息列：{'；'.join(shown)}。"


def _did(text: str) -> str | None:
    """The pilot's difference-in-differences sentence, with the estimator's note if any."""
    m = re.fullmatch(
        rf"DiD estimate: \*\*(?P<d>{_NUM} pts)\*\* \(95% CI (?P<lo>{_NUM} pts) to "
        rf"(?P<hi>{_NUM} pts), p = (?P<p>{_NUM}), (?P<n>\d+) stores\)\.\s*(?P<note>.*)",
        text,
        re.S,
    )
    if not m:
        return None
    out = (
        f"双重差分估计：**{_pts_zh(m['d'])}**（95% 置信区间 {_pts_zh(m['lo'])} 至 "
        f"{_pts_zh(m['hi'])}，p = {m['p']}，{m['n']} 家门店）。"
    )
    note = m["note"].strip()
    if not note:
        return out
    cl = re.fullmatch(
        r"only (\d+) treated and (\d+) control clusters: cluster-robust standard errors are "
        r"unreliable with fewer than (\d+) per arm; treat the interval as indicative",
        note,
    )
    if not cl:
        return None
    return out + (
        f"只有 {cl[1]} 个试点组和 {cl[2]} 个对照组聚类：每组少于 {cl[3]} 个聚类时，聚类稳健标准误"
        "并不可靠；置信区间仅供参考。"
    )


def _note_sentence(text: str) -> str | None:
    """One sentence (or a list line) of a note in Chinese; None if no template wrote it."""
    s = text.strip()
    for special in (_personal_removed, _did, _measure_phrase):
        hit = special(s)
        if hit is not None:
            return hit
    for whole, part, write, head in _note_lists():
        m = whole.fullmatch(s)
        if m:
            hit = _list_note(head, "")(m, part, write)
            if hit is not None:
                return hit
    for pattern, zh in _note_templates():
        m = pattern.fullmatch(s)
        if m and not any(_SENTENCE_END.search(v) for v in m.groupdict().values()):
            fields = {k: _note_value(k, v) for k, v in m.groupdict().items()}
            checked = [v for k, v in fields.items() if not k.startswith("raw")]
            if not any(_LEFT_ENGLISH.search(v) for v in checked):  # else: not this template
                return zh.format(**fields)
    # a sentence the library writes (a realism check, a roll-out verdict, a cleaning note)
    shown = translate(s)
    return shown if shown != s and has_cjk(shown) and not _LEFT_ENGLISH.search(shown) else None


_LEFT_ENGLISH = re.compile(r"[A-Za-z]{3,} [A-Za-z]{3,}")
"""Two English words in a row: a text only partly translated."""


def note(text: str, lang: str = "zh") -> str | None:
    """A note a case notebook wrote from its numbers (Markdown: "**1,053 customers per arm**
    ..."), in ``lang``: the whole note, else line by line and sentence by sentence through
    :data:`NOTES_ZH`, :data:`NOTE_LISTS_ZH` and the library's own templates
    (:func:`translate`). None when any sentence has no Chinese (the report then shows the
    English note, marked as such: a note is never dropped). English: the text itself."""
    check_lang(lang)
    if lang == "en":
        return text
    whole = _note_sentence(text)
    if whole is not None:
        return whole
    lines = []
    for line in text.strip().split("\n"):
        if not line.strip():
            lines.append("")
            continue
        item = re.match(r"^(\s*[-*]\s+)(.*)$", line)
        if item:  # a list item: its text
            body = _note_sentence(item[2])
            shown = None if body is None else item[1] + body
        else:
            shown = _note_sentence(line)
        if shown is None:
            parts = [_note_sentence(p) for p in _SENTENCE_END.split(line.strip())]
            if any(p is None for p in parts):
                return None
            shown = "".join(parts)
        lines.append(shown)
    return "\n".join(lines)


def has_cjk(text: str) -> bool:
    """True if ``text`` holds a CJK unified ideograph or CJK punctuation."""
    return bool(re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", str(text)))


# --------------------------------------------------------------------------------------------
# numbers and dates
# --------------------------------------------------------------------------------------------
def pct(share: float, digits: int = 1) -> str:
    """A share (0.812) as a percentage ('81.2%'), the same in both languages."""
    return f"{100 * float(share):.{digits}f}%"


def pts(diff: float, lang: str = "en", digits: int = 1) -> str:
    """A difference of shares (0.071) as signed percentage points: '+7.1 pts' / '+7.1 个百分点'."""
    unit = {"en": "pts", "zh": "个百分点"}[check_lang(lang)]
    return f"{100 * float(diff):+.{digits}f} {unit}"


def num(value: float, digits: int = 0) -> str:
    """A number with thousands separators: ``num(102344) == '102,344'``, ``num(35.25, 1) ==
    '35.2'`` (round half to even, as Python's format)."""
    return f"{float(value):,.{digits}f}"


def long_date(iso: str, lang: str = "en") -> str:
    """'2026-11-25...' as '25 November 2026' (en) or '2026年11月25日' (zh)."""
    import datetime as dt

    d = dt.date.fromisoformat(str(iso)[:10])
    if check_lang(lang) == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {d.strftime('%B')} {d.year}"


# --------------------------------------------------------------------------------------------
# the CJK font and charts
# --------------------------------------------------------------------------------------------
def cjk_font_path() -> Path:
    """Path of the shipped CJK font file (Noto Sans CJK SC Regular, from the ``mplfonts`` wheel).

    The package is located without importing it. Raises :class:`~crmlab.errors.CrmlabError` with
    the install command if it is missing.
    """
    from crmlab.errors import CrmlabError

    spec = importlib.util.find_spec(_CJK_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_CJK_FILE)
        if path.is_file():
            return path
    raise CrmlabError(
        "The Chinese chart font is missing: install the project's dependencies "
        f"(`pip install -e .` or `pip install {_CJK_PACKAGE}`), which ship {CJK_FAMILY}."
    )


@functools.cache
def register_cjk_font() -> str:
    """Register the shipped CJK font with matplotlib (once per process); returns its family."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def chart_rc(lang: str = "en") -> dict:
    """matplotlib rc settings for charts in ``lang``: for zh a font list that falls back to the
    CJK font for characters the Latin font lacks (matplotlib >= 3.6 falls back per glyph)."""
    if check_lang(lang) == "en":
        return {}
    family = register_cjk_font()
    return {"font.family": ["DejaVu Sans", family], "axes.unicode_minus": False}


def use_cjk_fallback() -> None:
    """Let every chart of this process show Chinese characters: the font list of
    :func:`chart_rc` ("DejaVu Sans", then the CJK font for the glyphs it lacks) becomes
    matplotlib's default. English charts look the same; a client's Chinese column or category
    names (合约类型_两年, 月付) render instead of empty boxes. A stage calls it when it starts."""
    import matplotlib

    matplotlib.rcParams["font.family"] = chart_rc("zh")["font.family"]


@contextlib.contextmanager
def chart_style(lang: str = "en") -> Iterator[None]:
    """Context in which new charts use the fonts of ``lang`` (see :func:`chart_rc`)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(chart_rc(lang)):
        yield


def _translate_text_artist(artist, lang: str) -> None:
    text = artist.get_text()
    new = translate(text, lang)
    if new != text:
        artist.set_text(new)


def localize_axes(ax, lang: str = "zh"):
    """Translate the texts of a drawn chart in place and return ``ax``.

    Covers the title(s), axis labels, category tick labels (fixed labels; numeric tick formatters
    are left alone), legend entries and text annotations of ``ax`` and of the other axes of its
    figure (twin axes, colour bars). Draw inside :func:`chart_style` so that the font can show
    the translated text.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator

    if check_lang(lang) == "en":
        return ax
    fig = ax.figure
    for a in fig.axes:
        for t in (a.title, a._left_title, a._right_title, a.xaxis.label, a.yaxis.label):
            _translate_text_artist(t, lang)
        for axis in (a.xaxis, a.yaxis):
            # category labels sit on fixed tick positions; numeric axes keep their formatter
            if isinstance(axis.get_major_locator(), FixedLocator):
                labels = [t.get_text() for t in axis.get_majorticklabels()]
                translated = [translate(s, lang) for s in labels]
                if translated != labels:
                    axis.set_major_formatter(FixedFormatter(translated))
        legend = a.get_legend()
        if legend is not None:
            for t in legend.get_texts():
                _translate_text_artist(t, lang)
            _translate_text_artist(legend.get_title(), lang)
        for t in a.texts:
            _translate_text_artist(t, lang)
    if getattr(fig, "_suptitle", None) is not None:
        _translate_text_artist(fig._suptitle, lang)
    return ax
