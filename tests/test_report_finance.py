"""The client report of the finance churn case.

The canonical finance run's report (English and Chinese) has the case's own executive summary
(``finance_churn.summary.<lang>.html.j2``), not the generic one: its sentences - below the
headline-figure strip - quote every headline figure and the other key figures of the run, each
written out here from its definition (percent with one decimal, signed points, two decimals,
thousands separators), not through ``crmlab.casespec``.
"""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest

from crmlab import casespec, i18n, report
from crmlab.rundir import Run
from tests.deliverables_support import (
    assert_well_formed,
    canonical_run,
    code_in_prose,
    english_left,
    reader_cells,
    section,
    table_titles,
)

CASE = "finance_churn"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, CASE)
    out = tmp_path_factory.mktemp("finance-reports")
    en = report.build_report(run_dir, "en", out=out / "report.html")
    zh = report.build_report(run_dir, "zh", out=out / "report.zh.html")
    return Run.open(run_dir), en.read_text(encoding="utf-8"), zh.read_text(encoding="utf-8")


def _sentences(page: str) -> str:
    """The summary's template part: from its first sub-heading on (the headline strip above it
    repeats the headline figures whatever template is used)."""
    summary = section(page, "summary")
    return summary[summary.index("<h3>") :]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pts(x: float, lang: str) -> str:
    return f"{100 * x:+.1f} " + ("pts" if lang == "en" else "个百分点")


def _expected(value, fmt: str, lang: str) -> str:
    if fmt == "pct":
        return _pct(value)
    if fmt == "pts":
        return _pts(value, lang)
    if fmt == "num2":
        return f"{value:,.2f}"
    if fmt == "int":
        return f"{value:,.0f}"
    raise AssertionError(f"no expectation for {fmt}")


def test_spec_names_the_headline_figures():
    spec = casespec.load_spec(CASE)
    assert spec["headline"] == [
        "churn.rate",
        "goal.target",
        "model.auc_test",
        "pilot.effect",
        "campaign.net_value",  # not the value-weighted lift: below 1 by design, read as a defect
    ]
    for lang in ("en", "zh"):
        assert (casespec.SPECS / f"{CASE}.summary.{lang}.html.j2").is_file()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_summary_is_the_case_template_with_every_headline_figure(reports, lang):
    run, en, zh = reports
    page = en if lang == "en" else zh
    text = _sentences(page)
    r = run.results
    # the case template, not the generic one (which has a figure table and no findings)
    assert 'class="findings"' in text and 'class="actions"' in text
    assert 'class="figures"' not in text and 'class="note"' not in text
    assert ("Key findings" if lang == "en" else "主要发现") in text
    findings = text[text.index('class="findings"') : text.index("</ol>")]
    assert 3 <= findings.count("<li>") <= 5
    spec = casespec.load_spec(CASE)
    for key in spec["headline"]:
        shown = _expected(r[key], spec["figures"][key]["fmt"], lang)
        assert shown in text, f"{key} = {shown} missing from the {lang} summary sentences"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_summary_quotes_the_runs_key_figures(reports, lang):
    run, en, zh = reports
    text = _sentences(en if lang == "en" else zh)
    r = run.results
    low, high = r["churn.ci"]
    to = " to " if lang == "en" else " 至 "  # an interval as the stages write it
    expected = {
        "baseline counts": f"{r['churn.n_lost']:,}",
        "at risk at the start": f"{r['churn.n_at_risk']:,}",
        "churn CI": f"{_pct(low)}{to}{_pct(high)}",
        "customers to retain": f"{round(r['goal.customers_to_retain']):,}",
        "pilot CI": f"{_pts(r['pilot.ci'][0], lang).split()[0]}{to}{_pts(r['pilot.ci'][1], lang)}",
        "pilot p-value": f"p = {r['pilot.p_value']:.3f}",
        "pilot churn with the offer": _pct(r["pilot.rate_treated"]),
        "pilot churn without": _pct(r["pilot.rate_control"]),
        "customers to contact": f"{r['campaign.n_contacted']:,}",
        "campaign net value": f"{round(r['campaign.net_value']):,}",
        "campaign return": f"{r['campaign.roi']:.2f}",
        "projected at the deadline": _pct(r["plan.projected_end"]),
        "projected after roll-out": _pct(r["pilot.rollout.projected"]),
        "at-risk customers": f"{r['lifecycle.counts']['at_risk']:,}",
    }
    # the strongest significant hazard-raising factor of the Cox model
    hr, pv = r["cox.hazard_ratios"], r["cox.p_values"]
    raising = [k for k in hr if hr[k] > 1 and pv[k] < 0.05]
    top = max(raising, key=lambda k: hr[k])
    expected["top hazard ratio"] = f"{hr[top]:.2f}"
    missing = {name: shown for name, shown in expected.items() if shown not in text}
    assert not missing, f"{lang} summary lacks {missing}"
    if r["pilot.p_value"] >= 0.05:  # the canonical pilot is inconclusive; the summary says so
        assert ("too small" if lang == "en" else "试点规模太小") in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_finance_report_is_well_formed(reports, lang):
    run, en, zh = reports
    page = en if lang == "en" else zh
    assert_well_formed(page)
    for stage in run.stages:
        assert f'id="stage-{stage}"' in page


def test_summary_falls_back_when_a_template_figure_is_missing(reports, tmp_path):
    run, _, _ = reports
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.parquet"))
    results = dict(run.results)
    del results["churn.period"]  # the template's baseline sentence needs it
    (copy / "results.json").write_text(json.dumps(results))
    summary = section(report.build_report(copy).read_text(encoding="utf-8"), "summary")
    assert "could not be filled" in summary and "churn.period" in summary
    assert 'class="findings"' not in summary
    assert _pct(run.results["churn.rate"]) in summary  # headline figures remain


# --------------------------------------------------------------------------------------------
# Chinese labels of the finance features, columns and KPIs (one table: crmlab.i18n.TERMS_ZH)
# --------------------------------------------------------------------------------------------
#: Latin-letter words a Chinese table header may keep (abbreviations and a statistic's symbol).
LATIN_HEADERS = {"AUC", "SHA", "UTC", "rho", "crmlab"}


def _finance_names(run) -> set[str]:
    """Every feature, column and KPI name of the run, in the key form of i18n (lower case,
    underscores as spaces): the model features, the tables the stages saved, the Cox
    covariates and the KPIs."""
    import pandas as pd

    from crmlab import churn

    names = set(churn.FEATURES) | set(churn.CHURN_KPIS)
    names |= {label for label, *_ in churn.CHURN_KPIS.values()}
    names |= set(run.results["model.features"]) | set(run.results["cox.hazard_ratios"])
    for table in (
        "customers",
        "snapshot_months",
        "cox_months",
        "scored",
        "test_scored",
        "action_list",
    ):
        names |= set(pd.read_parquet(run.path / "artifacts" / f"{table}.parquet").columns)
    return {i18n._term_key(n) for n in names}


def _cells(page: str) -> list[tuple[str, str]]:
    """(tag, text) of every table cell and heading, without the appendix's table of all
    recorded figures (raw results.json keys and values, kept for tracing)."""
    from html.parser import HTMLParser

    page = re.sub(r'<tr data-figure="[^"]*"><td><code>.*?</tr>', "", page, flags=re.S)

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.stack, self.found = [], []

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)

        def handle_endtag(self, tag):
            while self.stack and self.stack.pop() != tag:
                pass

        def handle_data(self, data):
            tags = {"th", "td", "h1", "h2", "h3", "h4", "caption", "figcaption"}
            if self.stack and self.stack[-1] in tags and data.strip():
                self.found.append((self.stack[-1], data.strip()))

    parser = Cells()
    parser.feed(page)
    return parser.found


def test_zh_report_has_no_untranslated_feature_names(reports):
    run, _, zh = reports
    names = _finance_names(run)
    assert {"products held", "fee rises", "region beijing", "churn rate 12m"} <= names
    assert len(names) > 50
    cells = _cells(zh)
    assert len(cells) > 300
    left = []
    for tag, text in cells:
        items = [x.strip(" .[]") for x in re.split(r"[,;]|\.\.\.", text)]
        if not all(len(x.split()) <= 3 and "(" not in x for x in items):
            items = [text]  # a sentence (the plans' texts), not a list of names
        left += [(tag, text) for x in items if i18n._term_key(x) in names]
        if tag != "td":  # headers and headings: Chinese apart from a few abbreviations
            words = set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_HEADERS
            left += [(tag, text)] if words else []
    assert not left, left[:20]
    # the figures behind it: these labels come from i18n, the summary template has no table
    assert "持有产品数" in zh and "地区：北京" in zh and "12 个月流失率" in zh
    template = (casespec.SPECS / f"{CASE}.summary.zh.html.j2").read_text(encoding="utf-8")
    assert "set names" not in template and "余额变化" not in template


def test_zh_finance_charts_have_chinese_labels(reports):
    from matplotlib import pyplot as plt

    from crmlab.charts import from_run

    run, _, _ = reports
    spec = casespec.load_spec(CASE)
    drawn = 0
    for stage in spec["stages"].values():
        for entry in stage.get("charts_zh") or []:
            name, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            with i18n.chart_style("zh"):
                ax = from_run.CHARTS[name](run, **options)
                if ax is None:
                    continue
                i18n.localize_axes(ax, "zh")
                texts = []
                for a in ax.figure.axes:
                    texts += [a.get_title(), a.get_xlabel(), a.get_ylabel()]
                    texts += [t.get_text() for t in a.get_xticklabels() + a.get_yticklabels()]
                    texts += [t.get_text() for t in a.texts]
                    if a.get_legend():
                        texts += [t.get_text() for t in a.get_legend().get_texts()]
                plt.close(ax.figure)
            drawn += 1
            english = [t for t in texts if re.search(r"[A-Za-z]{3,}", t)]
            assert not english, (name, english)
    assert drawn == 3  # lifecycle stages, the KPI dashboard, the projection


def test_report_narrative_names_no_code(reports):
    run, en, _ = reports
    assert code_in_prose(run, en) == {}


def test_a_dated_run_leaves_out_the_text_of_the_flag_extract(reports):
    """Cells tagged only-if:churn.basis=flag explain a churned-flag extract: a run on dated
    data leaves them out of the report and the stage pages (the notebook keeps them)."""
    run, en, _ = reports
    assert "churn.basis" not in run.results
    assert "A flag extract" not in en
    for page in (run.path / "html").glob("*.html"):
        assert "A flag extract" not in page.read_text(encoding="utf-8"), page.name
    notebook = run.notebook("02_data")
    assert any("A flag extract" in c.source for c in notebook.cells)
    # ... and keeps its own (cells tagged unless:churn.basis=flag)
    assert "The case: a retail bank" in en and "For every month we count" in en
    assert "Cohort retention" in en and "salary deposits (the ties that keep" in en


def test_zh_finance_tables_cells_and_titles_are_chinese(reports):
    _, en, zh = reports
    cells = reader_cells(zh)
    assert len(cells) > 500
    assert english_left(cells) == []
    titles = table_titles(zh)
    assert len(titles) >= 20 and len(titles) == len(table_titles(en))
    assert all(i18n.has_cjk(t) for t in titles), titles
    assert "监测计划：每月跟踪的指标" in titles and "模型设计：各字段的处理方式" in titles
    assert 'class="table-title"' not in en


def test_zh_parameter_table_says_in_chinese_what_each_parameter_sets(reports):
    from tests.test_report import assert_parameter_meanings, parameter_table

    run, en, zh = reports
    # a dated book uses none of the churn-flag extract's parameters, and all of its own
    unused = assert_parameter_meanings(run, en, zh)
    flag_only = {"churn_period_months", "extract_month", "test_share", "km_group", "value_column"}
    assert unused == flag_only
    _, rows = parameter_table(en, "en")
    assert rows["test_share"][-1].startswith("Not used in this run: flag data: share")
    assert not rows["margin_rate"][-1].startswith("Not used")
    _, rows = parameter_table(zh, "zh")
    assert rows["salary_share_target"][-1] == "工资代发目标：有工资代发的在册账户占比"
    assert rows["at_risk_prob"][-1] == "12 个月流失概率达到此值的客户即为流失风险客户"


def test_finance_spec_has_a_chinese_help_for_every_parameter():
    from tests.test_report import assert_every_parameter_has_a_chinese_help

    assert_every_parameter_has_a_chinese_help(CASE)


def test_zh_finance_plans_monitoring_and_design_notes_are_chinese(reports):
    run, en, zh = reports
    cells = set(reader_cells(zh))
    target = f"{100 * run.results['goal.target']:.1f}%"
    for text in (
        # the retention programme's milestones and checks
        "项目启动：明确负责人，冻结流失率基线，确定预算",
        "外呼人员 100% 完成培训",
        "对照目标评估；规划下一轮",
        # the monitoring table's definitions and triggers
        "过去 12 个月的销户数 / 12 个月前的在网账户数",
        f"连续两个月高于目标路径（截止时目标为 {target}）",
        "A 级客户的任何投诉：3 天内致电",
        "某一原因占销户的 25% 以上：从源头解决",
        # the design table's note of an excluded column
        "已排除：本案例不将其作为模型输入",
    ):
        assert text in cells, text
    wave = [c for c in cells if c.startswith("第一批：联系行动清单上的")]
    assert len(wave) == 1 and re.fullmatch(
        r"第一批：联系行动清单上的 [\d,]+ 名客户；随机留出 10% 不联系，作为对照组", wave[0]
    )
    assert [
        c
        for c in cells
        if re.fullmatch(r"AUC 低于 0\.\d\d（测试集 AUC 0\.\d\d - 0\.05）：重新拟合模型", c)
    ]
    # the English report keeps its texts
    en_cells = set(reader_cells(en))
    assert "excluded: not a model input in this case" in en_cells
    assert "closures in the last 12 months / accounts open 12 months ago" in en_cells


def _text(html_part: str) -> str:
    """What a reader reads: tags out (inline ones without a space), whitespace as one space."""
    inline = re.sub(r"</?(strong|em|code)>", "", html_part)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def test_summary_says_what_the_action_list_does(reports):
    """The recommended action agrees with actions.csv: the list starts with the campaign's
    customers (by expected loss), not with the at-risk ones, and an at-risk customer outside
    the campaign hears from their own contact by value tier (the spec's actions.contact) - for
    tier C marketing automation, so no personal call is promised."""
    import pandas as pd

    from crmlab import actions

    run, en, zh = reports
    r = run.results
    listed = pd.read_csv(run.path / "actions.csv")
    n_campaign = r["action_list.n"]
    assert listed["campaign_rank"].notna().sum() == n_campaign
    assert listed.loc[: n_campaign - 1, "campaign_rank"].notna().all()  # the campaign first
    at_risk = listed[listed["segment"] == "at_risk"]
    assert len(at_risk) == r["lifecycle.counts"]["at_risk"] and at_risk["priority"].min() > 1
    outside = at_risk[at_risk["campaign_rank"].isna()]
    assert "Marketing automation" in set(outside["contact"])
    assert (outside["owner_role"] == outside["contact"]).all()
    assert set(outside["recommended_action"]) == {"Retention offer from the customer's contact"}

    contacts = actions.tier_contacts(casespec.load_spec(CASE)["actions"])
    said = ", ".join(f"{who.lower()} ({tier})" for tier, who in sorted(contacts.items()))
    text = _text(_sentences(en))
    assert "Start with the" not in text and "personal call" not in text
    assert (
        f"It starts with the campaign's {n_campaign:,} customers, by expected loss (risk x value), "
        "with the campaign's action and due date; every other open customer follows by "
        "lifecycle stage, highest value tier first. At-risk customers outside the campaign (of "
        f"the {r['lifecycle.counts']['at_risk']:,} at risk) get a retention offer from their own "
        f"contact by value tier: {said}."
    ) in text
    zh_text = _text(_sentences(zh)).replace(" ", "")
    said_zh = "、".join(
        f"{i18n.translate(who)}（{tier}）" for tier, who in sorted(contacts.items())
    )
    assert f"营销活动的{n_campaign:,}名客户" in zh_text
    assert f"不在营销活动内的客户按价值等级由各自的对接人（{said_zh}）提供挽留优惠" in zh_text
    assert "优先处理" not in zh_text and "由客户经理致电" not in zh_text


def test_the_stage_5_plan_names_the_owner_by_tier_as_the_action_list_does(reports):
    """The lifecycle plan's owner of the at-risk and mature customers is each customer's own
    contact (as in actions.csv), not the relationship manager whom tiers B and C do not have."""
    run, en, zh = reports
    stage = _text(section(en, "stage-05_evaluate"))
    by_tier = "By value tier: relationship manager (A), service team (B), marketing automation (C)"
    assert f"Retention offer from the customer's contact {by_tier}" in stage
    assert f"Loyalty recognition; periodic review {by_tier}" in stage
    assert "Retention offer and a personal call" not in stage
    zh_stage = _text(section(zh, "stage-05_evaluate"))
    assert (
        "由客户的对接人提供挽留优惠 按价值等级：客户经理（A）、服务团队（B）、自动化营销（C）"
        in zh_stage
    )


def test_lifecycle_chart_of_the_chinese_report_has_no_empty_stage(reports):
    """The stage chart re-drawn for the Chinese report shows today's open customers by stage,
    as stage 3 draws it: no "churned" bar of 0 (no open customer has left)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.charts import from_run

    run, _, _ = reports
    scored = run.artifact("scored")
    ax = from_run.segment_sizes(run, table="scored", column="stage")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    counts = [int(p.get_width()) for p in ax.patches]
    plt.close(ax.figure)
    assert "churned" not in labels and len(labels) == scored["stage"].nunique()
    assert (
        dict(zip(labels, counts, strict=True))
        == scored["stage"].astype("str").str.replace("_", " ").value_counts().to_dict()
    )


def test_projection_chart_of_the_chinese_report_ends_where_the_run_projects(reports):
    """The projection re-drawn for the Chinese report is the campaign's (stage 5), not the
    pilot's effect: it starts at the baseline and ends at plan.projected_end, the figure the
    report states, with the goal path ending at the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.charts import from_run

    run, _, _ = reports
    r = run.results
    assert r["plan.projected_end"] != pytest.approx(r["goal.baseline"] + r["pilot.effect"])
    ax = from_run.projection(run)
    projected, goal = (line.get_ydata() for line in ax.get_lines()[:2])
    plt.close(ax.figure)
    assert len(projected) == r["goal.deadline_months"] + 1
    assert projected[0] == pytest.approx(r["goal.baseline"])
    assert projected[-1] == pytest.approx(r["plan.projected_end"])
    assert goal[-1] == pytest.approx(r["goal.target"])


@pytest.mark.parametrize(
    "auc, lift, en, zh",
    [
        (0.65, 0.75, "The data do not foresee who leaves", "现有数据无法提前识别流失"),
        (0.58, 1.30, "The data do not foresee who leaves", "现有数据无法提前识别流失"),
        (0.66, 1.40, "Who leaves can be foreseen only roughly", "流失只能大致识别"),
        (0.74, 2.10, "Who leaves can be foreseen:", "流失可以提前识别"),
    ],
)
def test_summary_says_what_the_model_achieved(reports, tmp_path, auc, lift, en, zh):
    """The model finding follows the model's held-out AUC and top-decile lift: a trial's run
    said "who leaves can be foreseen" of an AUC of 0.65 whose riskiest tenth churned 0.75
    times as often as average (Hosmer & Lemeshow: 0.7 acceptable; lift 1 = chance)."""
    run, _, _ = reports
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.parquet"))
    results = {**run.results, "model.auc_test": auc, "model.top_decile_lift": lift}
    (copy / "results.json").write_text(json.dumps(results))
    verdicts = {
        "en": ("do not foresee who leaves", "foreseen only roughly", "can be foreseen:"),
        "zh": ("无法提前识别流失", "只能大致识别", "可以提前识别"),
    }
    for lang, text in (("en", en), ("zh", zh)):
        page = report.build_report(copy, lang, out=tmp_path / f"r.{lang}.html")
        findings = _sentences(page.read_text(encoding="utf-8"))
        assert text in findings and f"{lift:.2f}" in findings
        assert sum(v in findings for v in verdicts[lang]) == 1  # one verdict, not two


def test_discrimination_by_definition():
    from crmlab.modeling import discrimination

    assert discrimination(0.5, 1.0) == "none"
    assert discrimination(0.9, 1.0) == "none"  # the riskiest tenth churns as often as average
    assert discrimination(0.59, 1.5) == "none"
    assert discrimination(0.6, 1.01) == "weak"
    assert discrimination(0.7, 1.01) == "acceptable"
    assert discrimination(float("nan"), 2.0) == "none"  # not measured: nothing foreseen
    assert discrimination(0.8, float("nan")) == "none"


def test_the_appendix_says_what_customer_value_is(reports):
    """'Value' is in the action list and the campaign: the appendix defines it - for dated
    data the margin on the balance plus the fees, for a flag extract 12 x the monthly amount of
    value_column (a trial mapped a balance there and read values 12 x the balance)."""
    _, en, zh = reports
    assert "Customer value" in section(en, "methods") and "margin_rate x the mean balance" in en
    assert "客户价值" in section(zh, "methods")
    spec = casespec.load_spec(CASE)
    flag = casespec.for_run(spec["appendix"], {"churn.basis": "flag"})
    [value] = [d for d in flag["definitions"] if d["term"]["en"] == "Customer value"]
    assert value["text"]["en"].startswith("12 x the monthly amount in the column")


def test_no_customer_at_risk_is_said_as_such_not_as_zero_at_risk(reports, tmp_path):
    """A flag extract with a 6.8% churn share: no customer reaches at_risk_prob 0.4. The
    summary said "0 customers are at risk" and "of the 0 at risk"; it now says that no one
    reaches the threshold and what lowers it (found by a new-user trial)."""
    run, _, _ = reports
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.parquet"))
    results = {**run.results}
    results["lifecycle.counts"] = {**results["lifecycle.counts"], "at_risk": 0}
    (copy / "results.json").write_text(json.dumps(results))
    threshold = run.param("at_risk_prob", 0.4)
    en = _sentences(report.build_report(copy, "en", out=tmp_path / "r.html").read_text("utf-8"))
    en = " ".join(en.split())  # the template wraps its lines
    assert f"none has a churn probability of {100 * threshold:.0f}% or more" in en
    assert "0 customers are at risk" not in en and "of the 0 at risk" not in en
    zh = _sentences(report.build_report(copy, "zh", out=tmp_path / "z.html").read_text("utf-8"))
    assert "目前没有流失风险客户" in zh and "0 名流失风险客户" not in zh


def _headers(page: str, stage: str) -> set[str]:
    return {
        html.unescape(h).strip()
        for h in re.findall(r"<th[^>]*>([^<]*)</th>", section(page, f"stage-{stage}"))
    }


def test_each_segment_column_says_which_segment_as_the_action_list_does(reports):
    """The bank's own segments (mass, affluent, private) and the lifecycle stages were both
    "Segment" / 细分 in the report, while the action list says "Client segment" / 客户细分 and
    names its segment column by the lifecycle stage: the report's headers now use the list's
    words in both languages."""
    _, en, zh = reports
    assert "Client segment" in _headers(en, "02_data") and "Segment" not in _headers(en, "02_data")
    assert "客户细分" in _headers(zh, "02_data") and "细分" not in _headers(zh, "02_data")
    for stage in ("03_model", "05_evaluate"):
        assert "Lifecycle stage" in _headers(en, stage), stage
        assert not {"Segment", "Stage"} & _headers(en, stage), stage
        assert "生命周期阶段" in _headers(zh, stage) and "细分" not in _headers(zh, stage), stage
    # the same words as the action list's headers
    from crmlab import actions

    spec = actions.action_spec(CASE)
    assert actions.list_headers(spec, "en") == {"segment": "Lifecycle stage"}
    assert actions.list_headers(spec, "zh") == {"segment": "生命周期阶段"}
    assert actions._header("client_segment", "en", True) == "Client segment"
    assert actions._header("client_segment", "zh", True) == "客户细分"
