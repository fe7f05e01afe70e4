"""The client report and the run index.

- Known answers: the data fingerprint against its definition, figure formats, translations.
- The canonical retail run's report (English and Chinese) holds every headline figure in its
  summary and every recorded figure in its appendix, no code, well-formed self-contained HTML,
  Chinese headings, headers and charts with a font that has every Chinese character used.
- A failed run's report says which stage failed and why, and has no summary.
"""

from __future__ import annotations

import base64
import hashlib
import html as htmlmod
import io
import json
import pathlib
import re
import shutil
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from crmlab import casespec, i18n, report, runner
from crmlab.charts import from_run
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

CASE = "retail_satisfaction"


# --------------------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------------------
def test_fingerprint_follows_its_definition(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "a.csv").write_bytes(b"hello")
    (tmp_path / ".hidden").write_text("ignored")
    fp = report.data_fingerprint(tmp_path)
    ha, hb = hashlib.sha256(b"hello").hexdigest(), hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    lines = f"a.csv\t5\t{ha}\nb.csv\t8\t{hb}\n"
    assert fp["sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert [f["name"] for f in fp["files"]] == ["a.csv", "b.csv"]
    # the same bytes elsewhere give the same fingerprint; one changed byte another
    other = tmp_path / "copy"
    other.mkdir()
    for name in ("a.csv", "b.csv"):
        shutil.copy(tmp_path / name, other / name)
    assert report.data_fingerprint(other)["sha256"] == fp["sha256"]
    (other / "a.csv").write_bytes(b"hellp")
    assert report.data_fingerprint(other)["sha256"] != fp["sha256"]
    assert report.data_fingerprint(tmp_path / "copy" / "nothing-here")["sha256"] is None


@pytest.mark.parametrize(
    "value, fmt, lang, expected",
    [
        (0.8, "pct", "en", "80.0%"),
        (0.87050566, "pct", "zh", "87.1%"),
        (0.0705056, "pts", "en", "+7.1 pts"),
        (-0.0618, "pts", "zh", "-6.2 个百分点"),
        ([0.0118, 0.1308], "ci_pts", "en", "+1.2 to +13.1 pts"),  # "-1.2 - +3" misreads
        ([0.758, 0.836], "ci_pct", "en", "75.8% to 83.6%"),
        ([-0.0118, 0.1308], "ci_pts", "zh", "-1.2 至 +13.1 个百分点"),
        (102344, "int", "en", "102,344"),
        (35.25, "num1", "en", "35.2"),  # round half to even
        (0.49396, "num2", "en", "0.49"),
        (0.0181, "p", "en", "0.018"),
        (0.0004, "p", "en", "< 0.001"),
        (["staff_service", "price_value"], "terms", "en", "staff service, price value"),
        (["staff_service", "price_value"], "terms", "zh", "员工服务、性价比"),
        (["at_risk", "loyal"], "first_term", "zh", "流失风险客户"),
        (
            ["balance_change", "salary_deposit", "products_held", "age"],
            "top3",
            "en",
            "balance change, salary deposit, products held",
        ),
        (False, "yesno", "zh", "否"),
        (None, "pct", "en", "-"),
        (5000, "text", "en", "5,000"),  # a count without a format still reads as a count
        ("2026-10-31", "text", "en", "2026-10-31"),
    ],
)
def test_figure_formats(value, fmt, lang, expected):
    assert casespec.format_figure(value, fmt, lang) == expected


def test_figure_keys_reach_into_recorded_dicts():
    results = {"segments.counts": {"loyal": 3, "at_risk": 1}, "kpi.NPS": {"actual": 35.25}}
    assert casespec.figure_value(results, "segments.counts.loyal") == 3
    assert casespec.figure_value(results, "kpi.NPS.actual") == 35.25
    assert casespec.figure_value(results, "segments.counts.lost", None) is None
    with pytest.raises(KeyError):
        casespec.figure_value(results, "goal.baseline")


def test_translation_of_terms_patterns_and_lines():
    assert i18n.translate("at_risk", "zh") == "流失风险客户"
    assert i18n.translate("Staff Service", "zh") == "员工服务"
    assert i18n.translate("target 90%", "zh") == "目标 90%"
    assert i18n.translate("loyal\n(n=12)", "zh") == "忠诚客户\n(n=12)"
    assert i18n.translate("something unknown", "zh") == "something unknown"
    assert i18n.translate("at_risk", "en") == "at_risk"
    assert i18n.long_date("2026-11-25T11:45:41+00:00", "zh") == "2026年11月25日"
    with pytest.raises(ValueError, match="Unknown language"):
        i18n.translate("loyal", "fr")


def test_kpi_direction_follows_from_met():
    results = {
        "kpi.CSAT": {"actual": 0.8, "target": 0.9, "met": False},  # below, unmet: higher better
        "kpi.Days to resolve": {"actual": 4.4, "target": 3.0, "met": False},  # above, unmet
        "kpi.Complaints": {"actual": 2.0, "target": 3.0, "met": True},  # below, met: lower
        "kpi.NPS": {"actual": 50.0, "target": 45.0, "met": True},  # above, met: higher
    }
    board = from_run.kpi_board(results).set_index("kpi")["higher_is_better"].to_dict()
    assert board == {"CSAT": True, "Days to resolve": False, "Complaints": False, "NPS": True}


def test_kpi_chart_of_a_report_labels_each_kpi_in_its_unit():
    """The report's KPI chart (re-drawn from results.json for the Chinese report): a share as
    a percentage, money with the run's currency (in Chinese by its Chinese name), a count as
    a number - not 0.8 / 0.9 next to 326.63 / 366.82."""
    import types

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {
        "currency": "EUR",
        "kpi.csat": {"actual": 0.8, "target": 0.9, "met": False},
        "kpi.spend_per_customer": {"actual": 326.634, "target": 366.8151, "met": False},
        "kpi.complaints_per_100_customers": {"actual": 3.756, "target": 3.0, "met": False},
        "kpi.churn_rate_12m": {"actual": 0.1234, "target": 0.1, "met": False},
        "kpi.something_new": {"actual": 12.345, "target": 10.0, "met": True},
    }
    board = from_run.kpi_board(results).set_index("kpi")
    assert board["unit"].drop("something_new").to_dict() == {
        "csat": "share",
        "spend_per_customer": "currency",
        "complaints_per_100_customers": "per 100",
        "churn_rate_12m": "share",
    }
    assert pd.isna(board.loc["something_new", "unit"])  # a KPI of unknown unit
    run = types.SimpleNamespace(results=results)
    for lang, money in (("en", "EUR"), ("zh", "欧元")):
        ax = from_run.kpi_dashboard(run, lang=lang)
        labels = sorted(t.get_text().strip() for t in ax.texts)
        plt.close(ax.figure)
        assert labels == sorted(
            [
                "80.0% / 90.0%",
                f"326.63 / 366.82 {money}",
                "3.76 / 3.00",
                "12.3% / 10.0%",
                "12.3 / 10",  # an unknown unit: three significant digits
            ]
        ), labels


# --------------------------------------------------------------------------------------------
# the canonical run
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, CASE)
    out = tmp_path_factory.mktemp("reports")
    en = report.build_report(run_dir, "en", out=out / "report.html")
    zh = report.build_report(run_dir, "zh", out=out / "report.zh.html")
    return Run.open(run_dir), en.read_text(encoding="utf-8"), zh.read_text(encoding="utf-8")


def _expected(value, fmt: str, lang: str) -> str:
    """Formats written out from their definitions (not through crmlab.casespec)."""
    if fmt == "pct":
        return f"{100 * value:.1f}%"
    if fmt == "pts":
        return f"{100 * value:+.1f} " + ("pts" if lang == "en" else "个百分点")
    if fmt == "num1":
        return f"{value:,.1f}"
    raise AssertionError(f"no expectation for {fmt}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_summary_holds_every_headline_figure(reports, lang):
    run, en, zh = reports
    page = en if lang == "en" else zh
    summary = section(page, "summary")
    spec = casespec.load_spec(CASE)
    assert spec["headline"], "the retail spec names headline figures"
    for key in spec["headline"]:
        shown = _expected(run.results[key], spec["figures"][key]["fmt"], lang)
        assert shown in summary, f"{key} = {shown} missing from the {lang} summary"
    # the summary's own sentences quote the run's figures too
    assert f"{100 * run.results['goal.baseline_low']:.1f}%" in summary
    assert f"{run.results['pilot.followup_n_per_arm']:,}" in summary


def test_no_markdown_asterisks_show_in_either_report(reports):
    """A trial found "**目标：**到 2027-04 ..." as text in the Chinese report: Markdown does not
    close a bold that ends in punctuation before a letter. The report moves the punctuation out
    (``**目标**：``), so no page shows a pair of asterisks."""
    _, en, zh = reports
    for page in (en, zh):
        text = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
        assert "**" not in re.sub(r"<[^>]+>", "", text)
    assert report._markdown_to_html("**目标：**到 2027-04") == (
        "<p><strong>目标</strong>：到 2027-04</p>\n"
    )
    assert "<strong>基线：</strong>" not in zh and "<strong>目标</strong>：" in zh
    assert "该目标目标" not in zh  # the verdict 目标偏高 follows a colon, not 该目标


def test_appendix_lists_every_recorded_figure(reports):
    run, en, _ = reports
    start = en.index('id="recorded"')
    recorded = en[start : en.index("</table>", start)]
    for key, value in run.results.items():
        row = re.search(rf'<tr data-figure="{re.escape(htmlmod.escape(key))}">(.*?)</tr>', recorded)
        assert row, f"{key} missing from the appendix"
        shown = htmlmod.unescape(row.group(1))
        if isinstance(value, float):
            assert f"{value:,.4f}" in shown
        elif isinstance(value, int) and not isinstance(value, bool):
            assert f"{value:,}" in shown
        elif isinstance(value, str):
            assert value in shown
    # a figure the case spec names is explained in words (each source's row count too); one
    # it does not name has a blank cell
    row = re.search(r'<tr data-figure="data.rows.transactions">(.*?)</tr>', recorded).group(1)
    assert "<td>Transactions (cleaned)</td>" in row
    row = re.search(r'<tr data-figure="data.rows.complaints">(.*?)</tr>', recorded).group(1)
    assert "<td>Rows after cleaning: complaints</td>" in row
    row = re.search(r'<tr data-figure="goal.baseline_high">(.*?)</tr>', recorded).group(1)
    assert "<td></td>" in row


def test_report_has_no_code(reports):
    run, en, zh = reports
    checked = 0
    for stage in run.stages:
        for cell in run.notebook(stage).cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                line = line.strip()
                if len(line) >= 25 and not line.startswith("#"):
                    checked += 1
                    for page in (en, zh):
                        assert line not in page and htmlmod.escape(line) not in page, line
    assert checked > 50


def test_report_narrative_names_no_code(reports):
    """Notes for analysts (cells tagged notebook-only: parameter and function names) stay in the
    notebook; the summary, the stages of the report and the stage pages name no library code."""
    run, en, _ = reports
    assert code_in_prose(run, en) == {}
    notes = [
        c for c in run.notebook("02_data").cells if "notebook-only" in c.metadata.get("tags", [])
    ]
    assert notes and all("For analysts" in c.source for c in notes)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_is_well_formed_and_self_contained(reports, lang):
    run, en, zh = reports
    page = en if lang == "en" else zh
    assert_well_formed(page)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    assert "<script" not in page and "<link" not in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 10
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    for stage in run.stages:
        assert f'id="stage-{stage}"' in page


def test_appendix_states_parameters_versions_and_fingerprint(reports):
    run, en, zh = reports
    appendix = section(en, "methods")
    # each parameter says what it means (the help comment of its notebook parameter cell)
    from crmlab.cases import get_case
    from crmlab.params import case_parameters

    helps = {n: p.help for n, p in case_parameters(get_case(run.case)).items()}
    row = re.search(r"<tr><td><code>alpha</code></td>(.*?)</tr>", appendix).group(1)
    assert htmlmod.escape(helps["alpha"], quote=False) in row and "0.05" in row
    assert helps["alpha"] not in zh  # the Chinese report shows no English help text
    fp = report.data_fingerprint(run.data_dir())["sha256"]
    assert fp in appendix
    assert run.status["crmlab_version"] in appendix
    for name in ("target", "deadline_months", "alpha", "n_boot"):
        assert f"<code>{name}</code>" in appendix
    assert "Cleaning" not in appendix  # notes are outputs, not headings copied from code
    assert "duplicate" in appendix  # the cleaning notes of stage 2


def test_chinese_report_translates_headings_headers_and_charts(reports):
    _, en, zh = reports
    assert '<html lang="zh-Hans">' in zh
    for text in ("执行摘要", "主要发现", "建议行动", "预期效果", "方法附录", "阶段 1：明确目标"):
        assert text in zh
    assert re.search(r"<th[^>]*>调查波次</th>", zh)  # a notebook table's header, translated
    assert re.search(r"<th[^>]*>Wave</th>", en) and not re.search(r"<th[^>]*>Wave</th>", zh)
    assert re.search(r"<th[^>]*>p 值</th>", zh) and re.search(r"<td[^>]*>否</td>", zh)
    # the data-quality notes read in Chinese, sources named as tables (not as a customer count)
    assert "missing value(s)" in en and "missing value(s)" not in zh
    assert "rows are exact copies" not in zh and re.search(r"<td[^>]*>交易表</td>", zh)
    assert re.search(r"\d+ 行的客户编号（假名）不在客户表中（\d+ 个不同的值）。", zh)
    assert zh.count("<img") > en.count("<img")  # re-drawn Chinese charts + the originals
    assert "The business question" not in zh  # English narrative is left out


def test_chinese_report_embeds_a_font_with_every_character(reports):
    from fontTools.ttLib import TTFont

    _, _, zh = reports
    m = re.search(r"url\(data:font/otf;base64,([A-Za-z0-9+/=]+)\)", zh)
    assert m, "no embedded font"
    cmap = TTFont(io.BytesIO(base64.b64decode(m.group(1)))).getBestCmap()
    text = htmlmod.unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", zh, flags=re.S))
    )
    chinese = {c for c in text if i18n.has_cjk(c)}
    assert len(chinese) > 200
    assert not sorted(c for c in chinese if ord(c) not in cmap)


def test_chinese_charts_render_every_glyph(reports):
    run, _, _ = reports
    titles = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        for name in ("csat_trend", "segment_sizes", "driver_importance", "kpi_dashboard"):
            png, title = from_run.render_png(run, name, "zh")
            assert png.startswith(b"\x89PNG")
            titles.append(title)
    assert all(i18n.has_cjk(t) for t in titles), titles


def test_index_lists_the_run_with_headline_figures(reports, tmp_path):
    run, _, _ = reports
    root = tmp_path / "reports"
    shutil.copytree(run.path, root / CASE / run.name)
    report.build_report(root / CASE / run.name)
    page = report.build_index(root).read_text(encoding="utf-8")
    assert_well_formed(page)
    assert f'data-run="{run.name}"' in page
    assert f'href="{CASE}/{run.name}/report.html"' in page
    assert f"{100 * run.results['goal.baseline']:.1f}%" in page
    assert "complete" in page


def test_summary_falls_back_when_its_figures_are_missing(reports, tmp_path):
    run, _, _ = reports
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.parquet"))
    results = dict(run.results)
    del results["goal.gap_points"]  # the template needs it
    (copy / "results.json").write_text(json.dumps(results))
    summary = section(report.build_report(copy).read_text(encoding="utf-8"), "summary")
    assert "could not be filled" in summary and "goal.gap_points" in summary
    assert f"{100 * run.results['goal.baseline']:.1f}%" in summary  # headline figures remain


def test_past_due_dates_are_noted_in_the_report_and_the_action_list(reports, tmp_path):
    """The plan starts in the data's last month (results plan.start): a run made after the
    action list's first due date says so in the report's summary and on the action list's
    Summary sheet, naming that date; a run made on it or before does not."""
    import datetime as dt

    from openpyxl import load_workbook

    from crmlab import actions

    run, _, _ = reports
    start = run.results["plan.start"]  # e.g. "2026-10"
    # the earliest action: at-risk customers' "win-back call ... within 2 weeks" in the first
    # month (crmlab.plans.RETAIL_PLAYBOOK): due 14 days after the plan's first day
    first = pd.Period(start, freq="M").start_time.date() + dt.timedelta(days=14)
    assert actions.first_due_date(run) == first
    assert actions.past_due(run, first) is None
    assert actions.past_due(run, first + dt.timedelta(days=1)) == (
        start,
        first,
        first + dt.timedelta(days=1),
    )
    for day, noted in ((first, False), (first + dt.timedelta(days=1), True)):
        copy = tmp_path / f"run-{day}"
        shutil.copytree(run.path, copy)
        status = json.loads((copy / "status.json").read_text())
        status["finished"] = f"{day}T10:00:00+00:00"
        (copy / "status.json").write_text(json.dumps(status))
        for lang, text in (
            ("en", f"its first due date ({first}) had already passed"),
            ("zh", f"其首个截止日期（{first}）在本次运行时"),
        ):
            page = report.build_report(copy, lang, out=copy / f"r.{lang}.html").read_text()
            assert (text in section(page, "summary")) is noted, (day, lang)
        xlsx, _ = actions.write_action_list(copy, out_dir=copy)
        sheet = load_workbook(xlsx, read_only=True).worksheets[0]
        notes = [
            r[0] for r in sheet.iter_rows(values_only=True) if r and str(r[0]).startswith("Note")
        ]
        assert bool(notes) is noted and (not noted or f"first due date ({first})" in notes[0])


# --------------------------------------------------------------------------------------------
# a failed run (toy case: fast)
# --------------------------------------------------------------------------------------------
def test_failed_run_report_says_which_stage_failed_and_why(toy_project):
    [ok] = runner.run_cases(["toy"], {}, progress=False)
    [bad] = runner.run_cases(["toy"], {"fail": True}, progress=False)
    assert ok.ok and not bad.ok
    # the runner writes the report of every run, failed ones included
    assert (ok.run_dir / "report.html").exists() and (bad.run_dir / "report.html").exists()
    page = report.build_report(bad.run_dir).read_text(encoding="utf-8")
    assert_well_formed(page)
    alert = section(page, "failure")
    assert "This run failed" in alert and "02_second" in alert
    assert "RuntimeError: planted failure" in alert
    stage = section(page, "stage-02_second")
    assert "planted failure" in stage  # the failed stage shows its error
    summary = section(page, "summary")
    assert "incomplete" in summary and "<ol" not in summary  # no findings or actions pretended
    # no "Executive summary" heading over the partial figures (the alert says there is none)
    assert "Executive summary" not in page and "Figures recorded before the failure" in summary
    assert 'id="stage-01_first"' in page
    index = report.build_index(toy_project / "reports").read_text(encoding="utf-8")
    assert_well_formed(index)
    assert "failed (02_second)" in index and "complete" in index
    assert f"toy/{bad.run_dir.name}/report.html" in index
    assert f"toy/{ok.run_dir.name}/report.html" in index


def test_missing_values_in_tables_read_as_a_dash():
    """pandas writes NaN, NaT, <NA> or None for a missing value; the report shows a dash, and
    only in data cells whose whole text is such a marker."""
    import pandas as pd

    from crmlab.export import MISSING_MARK

    df = pd.DataFrame(
        {
            "recency_days": [12.0, float("nan")],
            "last": [pd.Timestamp("2026-01-02"), pd.NaT],
            "segment": pd.array(["NaNa", pd.NA], dtype="string"),
            "note": ["None of them", None],
        },
        index=pd.Index(["NaN", "b"], name="k"),
    )
    out = report._clean_table_html(df.to_html(), "en")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", out, flags=re.S)
    assert [c.strip() for c in cells] == [
        "12.0",
        "2026-01-02",
        "NaNa",
        "None of them",
        MISSING_MARK,
        MISSING_MARK,
        MISSING_MARK,
        MISSING_MARK,
    ]
    assert "<th>NaN</th>" in out  # an index label or header is text, left as it is


@pytest.mark.parametrize(
    "status, title, client",
    [
        # the shipped synthetic data: the case's title and its demonstration client
        ({}, "Retail satisfaction: from 80% to 90%+ satisfied in six months", "synthetic"),
        # a client's folder through -p data_dir: never called synthetic
        ({"parameters": {"data_dir": "/data/acme"}}, "Retail satisfaction", "-"),
        # a config run: its own title and client
        (
            {
                "config": "/x/acme/config.yaml",
                "title": "ACME stores review",
                "client": "ACME Retail Ltd.",
                "parameters": {"data_dir": "/x/run/input"},
            },
            "ACME stores review",
            "ACME Retail Ltd.",
        ),
        (
            {"config": "/x/c.yaml", "title": "Review", "parameters": {"data_dir": "/x/i"}},
            "Review",
            "-",
        ),
    ],
)
def test_report_title_and_client_line(tmp_path, status, title, client):
    """A client's report never says "synthetic demonstration data", and a config's title and
    client are the report's."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    base = {"case": "retail_satisfaction", "title": "Retail satisfaction", "status": "ok"}
    (run_dir / "status.json").write_text(json.dumps({**base, **status}), encoding="utf-8")
    run = Run.open(run_dir)
    spec = casespec.load_spec("retail_satisfaction")
    assert report.run_title(run, spec, "en").startswith(title)
    shown = report.run_client(run, spec, "en")
    assert (client in shown) if client == "synthetic" else shown == client


def test_stage_pages_show_missing_values_as_a_dash(tmp_path):
    """The html/ stage pages (no code) use the same dash as the report."""
    import nbformat
    import pandas as pd

    from crmlab.export import MISSING_MARK, notebook_to_html

    table = pd.DataFrame(
        {"window": ["recent", "all"], "start": [pd.Timestamp("2026-05-01"), pd.NaT]}
    )
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(table)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": table.to_html(), "text/plain": "t"}
        )
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Data"), cell]
    nbformat.write(nb, str(tmp_path / "02_data.ipynb"))
    page = notebook_to_html(tmp_path / "02_data.ipynb", tmp_path / "02_data.html").read_text()
    assert "NaT" not in page and f"<td>{MISSING_MARK}</td>" in page and "2026-05-01" in page


def test_stage_pages_have_the_stage_title_and_describe_their_charts(tmp_path):
    """A stage page's title is the stage's heading (not nbconvert's "Notebook"); each chart's
    alternative text names the section it is in."""
    import base64

    import nbformat

    from crmlab.export import notebook_to_html

    png = base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
            "0000000d4944415478da63f8cfc0f01f0005000200e2b4b5a40000000049454e44ae426082"
        )
    ).decode()

    def chart():
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
        return cell

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        chart(),  # before any heading
        nbformat.v4.new_markdown_cell("# Retail satisfaction - Stage 3: modeling\n\nWhy."),
        nbformat.v4.new_markdown_cell("## Key drivers & their <weights>\n\nText."),
        chart(),
        nbformat.v4.new_markdown_cell("Just text, no heading."),
        chart(),
        nbformat.v4.new_markdown_cell("### Segments"),
        chart(),
    ]
    nbformat.write(nb, str(tmp_path / "03_model.ipynb"))
    page = notebook_to_html(tmp_path / "03_model.ipynb", tmp_path / "03_model.html").read_text()
    assert "<title>Retail satisfaction - Stage 3: modeling</title>" in page
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', page)
    assert [htmlmod.unescape(a) for a in alts] == [
        "Chart",
        "Chart: Key drivers & their <weights>",
        "Chart: Key drivers & their <weights>",
        "Chart: Segments",
    ]
    assert "No description has been provided" not in page


def test_report_tables_are_for_readers(reports):
    """Every notebook table reaches the report as narrative.present shows it: reader headers,
    shares as percentages, no row numbers, nothing cut short with '...'."""
    run, en, _ = reports
    tables = re.findall(r'<table id="T_[0-9a-f]+" class="dataframe reader">.*?</table>', en, re.S)
    assert len(tables) >= 15
    assert not re.search(r'<table[^>]*class="dataframe"[^>]*>', en.replace("dataframe reader", ""))
    cells = [htmlmod.unescape(c).strip() for c in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", en)]
    assert not [c for c in cells if c.endswith("...")]
    # the findings, in one table or more (one held back until an exercise asked about it)
    findings = [t for t in tables if ">Severity</th>" in t]
    rows = []
    for quality in findings:
        headers = re.findall(r"<th[^>]*>([^<]*)</th>", quality)
        assert headers == [
            "Source",
            "Column",
            "Check",
            "Severity",
            "Rows",
            "Share",
            "Note",
            "Action",
        ]
        rows += [
            [htmlmod.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", quality, re.S)[1:]
        ]
    assert len(rows) == run.results["data.quality_findings"]
    for *_, n_rows, share, note, _ in rows:
        assert re.fullmatch(r"\d[\d,]*", n_rows) and re.fullmatch(r"(< )?\d+\.\d%", share), share
        assert not note.endswith("...")


def test_a_figure_label_can_follow_the_data_shape():
    """A spec label under `if: {figure=value: ...}` is used for runs that recorded that value."""
    spec = {
        "figures": {
            "churn.rate": {
                "en": "12-month churn rate",
                "fmt": "pct",
                "if": {"churn.basis=flag": {"en": "Churn share", "zh": "流失占比"}},
            }
        }
    }
    assert casespec.figure_label(spec, "churn.rate", "en") == "12-month churn rate"
    assert casespec.figure_label(spec, "churn.rate", "en", {"churn.basis": "dates"}) == (
        "12-month churn rate"
    )
    assert casespec.figure_label(spec, "churn.rate", "zh", {"churn.basis": "flag"}) == "流失占比"
    rows = casespec.figure_rows(
        spec, {"churn.rate": 0.25, "churn.basis": "flag"}, ["churn.rate"], "en"
    )
    assert rows == [("churn.rate", "Churn share", "25.0%")]


def test_a_config_runs_paths_are_shown_relative_to_its_config(tmp_path):
    """A client's report does not show the consultant's home folder: the input folder of a
    config run is shown relative to the config's folder."""
    client = tmp_path / "consultant" / "acme"
    data = client / "runs" / "retail_satisfaction" / "20261206T000000Z-abcdef" / "input"
    data.mkdir(parents=True)
    assert (
        report._shown_path(data, client) == "runs/retail_satisfaction/20261206T000000Z-abcdef/input"
    )
    assert report._shown_path(data, None) == str(data)  # outside the project: as it is
    assert report._config_folder({"config": str(client / "config.yaml")}) == client
    assert report._config_folder({}) is None


# --------------------------------------------------------------------------------------------
# the Chinese report has no English left in its tables, titles and charts
# --------------------------------------------------------------------------------------------
FORMERLY_ENGLISH = [
    # the implementation plan and the feedback loop (crmlab.plans)
    "Kick-off",
    "Training material",
    "Train staff",
    "coach the roll-out",
    "survey wave",
    "Roll-out",
    "Evaluation against",
    "baseline",
    "on path",
    "attendance",
    "answers per wave",
    "Overall satisfaction",
    "Driver ratings",
    "respondents",
    "complainant",
    "Staff panel",
    "Customer panel",
    "recent customers",
    "store staff",
    # the recorded figures' values and the cleaning notes of the appendix
    "needs intervention",
    "pts/month",
    "actual:",
    "false",
    "increase",
    "exact duplicate",
    "out-of-range",
    "kept and flagged",
]
"""Texts the Chinese report showed in English before the plans and notes were translated."""


def test_zh_report_tables_cells_and_titles_are_chinese(reports):
    run, en, zh = reports
    cells = reader_cells(zh)
    assert len(cells) > 500
    # the stores' own names (the shipped data's are English, a client's are its own) stay
    stores = pd.read_csv(run.data_dir() / "stores.csv")["store_name"]
    assert english_left(cells, names=stores) == []
    lowest = run.results["stores.csat_lowest"]  # "Central Plaza (S05)": name and id
    assert lowest.endswith(")") and lowest.split(" (")[0] in set(stores) and lowest in cells
    assert [t for t in FORMERLY_ENGLISH if any(t in c for c in cells)] == []
    # the English report keeps its texts (and has no table titles of its own)
    en_cells = reader_cells(en)
    assert {"Kick-off; owners named; baseline frozen", "CSAT on path"} <= set(en_cells)
    assert 'class="table-title"' not in en


def test_zh_report_gives_every_table_a_chinese_title(reports):
    _, en, zh = reports
    titles = table_titles(zh)
    assert len(titles) >= 20 and len(titles) == len(table_titles(en))
    assert all(i18n.has_cjk(t) for t in titles), titles
    for title in ("实施与员工培训计划", "反馈机制", "各生命周期阶段概况", "关键绩效指标看板"):
        assert title in titles


def test_zh_report_plans_come_from_their_chinese_variant(reports):
    run, _, zh = reports
    plan = section(zh, "stage-05_evaluate")
    cells = set(reader_cells(plan))
    n_units = len(run.results["pilot.treated_units"])
    for text in (
        "项目启动；明确负责人；冻结基线",
        f"试点单位（{n_units} 个）保持新做法；其员工辅导推广",  # the pilot of stage 4 ran
        "满意度（CSAT）符合目标路径",
        "第二批推广：全部单位；复训",
        "总体满意度（1-5 分）与推荐意愿（0-10 分）",
        "投诉回访：问题是否已解决？",
        "每个细分 10-15 名客户",
    ):
        assert text in cells, text
    ratings = [c for c in cells if c.startswith("驱动因素评分：")]
    assert len(ratings) == 1 and "员工服务" in ratings[0], ratings


def test_zh_report_appendix_notes_and_values_are_chinese(reports):
    run, en, zh = reports
    methods = section(zh, "methods")
    assert "exact duplicate row(s) dropped" in section(en, "methods")
    assert re.search(r"交易表：删除 [\d,]+ 行完全重复的记录（保留第一条）。", methods)
    assert "transactions:" not in methods
    row = re.search(r'<tr data-figure="kpi.csat">(.*?)</tr>', methods, re.S)
    assert row, "kpi.csat is recorded"
    value = htmlmod.unescape(re.findall(r"<td>([^<]*)</td>", row[1])[-1])
    assert re.fullmatch(r"实际值：0\.\d{4}；达标：(是|否)；目标：0\.\d{4}", value), value


def parameter_table(page: str, lang: str) -> tuple[list[str], dict[str, list[str]]]:
    """The methods appendix's parameter table: its header cells, and per parameter (the name in
    ``<code>``) the text of its other cells (value, set by, and what it sets if shown)."""
    methods = section(page, "methods")
    start = methods.index(f"<h3>{i18n.ui('parameters', lang)}</h3>")
    table = methods[methods.index('<table class="params">', start) :]
    table = table[: table.index("</table>")]
    headers = [htmlmod.unescape(h) for h in re.findall(r"<th>([^<]*)</th>", table)]
    rows = {
        name: [htmlmod.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", rest)]
        for name, rest in re.findall(r"<tr><td><code>([^<]+)</code></td>(.*?)</tr>", table, re.S)
    }
    return headers, rows


def assert_parameter_meanings(run, en: str, zh: str) -> None:
    """The Chinese parameter table says what each parameter of the run sets in the words of the
    case spec's ``parameter_help_zh:``, under the parameter's own name; the English one in the
    words of the notebooks' help comments, with no Chinese; a parameter the run did not use
    (the spec's ``appendix.parameter_use``) says so first. Returns the unused parameters."""
    from crmlab.cases import get_case
    from crmlab.params import case_parameters
    from crmlab.results import condition_holds

    columns = ("parameter", "value", "set_by", "parameter_meaning")
    spec = casespec.load_spec(run.case)
    helps_zh = spec["parameter_help_zh"]
    use = spec.get("appendix", {}).get("parameter_use", {})
    unused = {n for n, cond in use.items() if not condition_holds(run.results, cond)}

    def said(name, text, lang):
        return f"{i18n.ui('parameter_unused', lang)} {text}" if name in unused else text

    headers, rows = parameter_table(zh, "zh")
    assert headers == [i18n.ui(c, "zh") for c in columns]
    assert sorted(rows) == sorted(run.parameters)
    for name, cells in rows.items():
        assert len(cells) == 3, (name, cells)
        assert i18n.has_cjk(cells[-1]), (name, cells[-1])
        assert cells[-1] == said(name, helps_zh.get(name), "zh"), name
    helps_en = {n: p.help for n, p in case_parameters(get_case(run.case)).items()}
    headers, rows = parameter_table(en, "en")
    assert headers == [i18n.ui(c, "en") for c in columns]
    assert sorted(rows) == sorted(run.parameters)
    for name, cells in rows.items():
        assert cells[-1] == said(name, helps_en[name], "en"), name
        assert not i18n.has_cjk(" ".join(cells)), name
    return unused


def assert_every_parameter_has_a_chinese_help(case: str) -> None:
    """The spec's ``parameter_help_zh:`` names exactly the parameters the case's notebooks
    declare (not the runner's ``run_dir``)."""
    from crmlab.cases import get_case
    from crmlab.params import RUNNER_PARAMETERS, case_parameters

    declared = set(case_parameters(get_case(case))) - set(RUNNER_PARAMETERS)
    helps = casespec.load_spec(case).get("parameter_help_zh") or {}
    where = f"parameter_help_zh in {casespec.spec_path(case).name}"
    missing, gone = sorted(declared - set(helps)), sorted(set(helps) - declared)
    assert not missing, f"parameters without a Chinese help text in {where}: {missing}"
    assert not gone, f"{where} names parameters the notebooks no longer declare: {gone}"
    assert all(i18n.has_cjk(text) for text in helps.values())


def test_zh_parameter_table_says_in_chinese_what_each_parameter_sets(reports):
    run, en, zh = reports
    assert_parameter_meanings(run, en, zh)
    _, rows = parameter_table(zh, "zh")
    assert rows["churned_min_days"][-1] == "客户计为已流失前至少连续无购买的天数"


def test_retail_spec_has_a_chinese_help_for_every_parameter():
    assert_every_parameter_has_a_chinese_help(CASE)


@pytest.fixture
def spec_dir(tmp_path, monkeypatch):
    """An empty folder of case specs in place of the shipped ones (the loader's cache cleared)."""
    monkeypatch.setattr(casespec, "SPECS", tmp_path)
    casespec._load.cache_clear()
    yield tmp_path
    casespec._load.cache_clear()


@pytest.mark.parametrize(
    "section_text",
    ["[alpha, seed]", "{alpha: ''}", "{alpha: 0.05}", "{alpha: }", "显著性水平"],
)
def test_spec_loader_refuses_a_parameter_help_that_is_not_texts(spec_dir, section_text):
    from crmlab.errors import ConfigError

    (spec_dir / "odd.yaml").write_text(f"parameter_help_zh: {section_text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="odd.yaml: parameter_help_zh"):
        casespec.load_spec("odd")
    (spec_dir / "fine.yaml").write_text("parameter_help_zh: {alpha: 显著性水平}\n", "utf-8")
    spec = casespec.load_spec("fine")
    assert casespec.parameter_help(spec, "zh") == {"alpha": "显著性水平"}
    assert casespec.parameter_help(spec, "en") == {}
    assert casespec.parameter_help(casespec.load_spec("none_here"), "zh") == {}


def test_zh_kpi_chart_labels_every_kpi_in_chinese(reports):
    from matplotlib import pyplot as plt

    run, _, _ = reports
    assert "kpi.repeat_purchase_rate" in run.results
    with i18n.chart_style("zh"):
        ax = from_run.CHARTS["kpi_dashboard"](run)
        i18n.localize_axes(ax, "zh")
        ax.figure.canvas.draw()
        labels = [t.get_text() for a in ax.figure.axes for t in a.get_yticklabels()]
        labels += [t.get_text() for a in ax.figure.axes for t in a.get_xticklabels()]
        plt.close(ax.figure)
    assert "复购率" in labels
    assert english_left([t for t in labels if t]) == [], labels


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.05, "0.05"), (3.0, "3"), (-0.2, "-0.2"), (150.0, "150"), (0.015, "0.015"), (42, "42")]
    + [("", "\u2013"), ("duckdb", "duckdb"), (True, "true")],
)
def test_parameters_are_shown_as_written_in_a_config(value, shown):
    assert report.parameter_value(value) == shown


def test_english_stage_charts_render_a_clients_chinese_labels(tmp_path):
    """A client's Chinese column and category names (合约类型_两年, 月付) in an English stage's
    chart: once a stage has started, every glyph is found (fresh processes; the control without
    a stage shows the check can fail)."""
    code = """
import io, sys, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
if sys.argv[1] == "stage":
    import crmlab
    crmlab.start_stage("finance_churn", "03_model", sys.argv[2], sys.argv[2], 42)
warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
fig, ax = plt.subplots()
ax.barh(["合约类型_两年", "月费", "tenure"], [0.4, 1.3, 0.9])
ax.set_title("Odds ratios of churn (95% CI)")
fig.savefig(io.BytesIO(), format="png")
"""
    run = [sys.executable, "-c", code]
    done = subprocess.run([*run, "stage", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    control = subprocess.run([*run, "none", str(tmp_path)], capture_output=True, text=True)
    assert control.returncode != 0 and "missing from font" in control.stderr


@pytest.mark.parametrize("case", ["retail_satisfaction", "finance_churn"])
def test_every_data_figure_a_stage_records_has_a_label(case):
    """The data-quality notes of the report list the data.* figures by their spec labels: a
    figure a stage records without one would show its key (data.n_churned) to the reader."""
    import nbformat

    from crmlab import casespec, paths

    spec = casespec.load_spec(case)
    keys = set()
    for path in sorted((paths.cases_dir() / case).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            keys |= set(re.findall(r'record\(\s*"(data\.[a-z_.]+)"', cell.source))
    assert keys, case
    for key in sorted(keys):
        for lang in ("en", "zh"):
            label = casespec.figure_label(spec, key, lang)
            assert label != key, (case, key, lang)
            assert lang == "en" or i18n.has_cjk(label), (case, key, label)


def test_a_flag_extracts_kpis_read_chinese():
    from crmlab import churn

    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "churned": [1, 0, 0, 1]})
    board = churn.flag_kpis(customers, {"churn_rate_12m": 0.4})
    assert list(board["key"]) == ["churn_share"]
    assert i18n.translate(board["kpi"].iloc[0]) == "提取数据中的流失占比"  # the KPI table's row
    assert i18n.translate("churn_share") == "流失占比"  # the Chinese KPI chart's bar


@pytest.mark.parametrize("case", ["retail_satisfaction", "finance_churn"])
def test_every_figure_the_spec_shows_is_recorded_by_the_canonical_run(tmp_path_factory, case):
    """The report shows the headline and each stage's figures by their keys in the case spec:
    a key the run does not record (a misspelt one, or a figure renamed in a notebook) is left
    out silently, so the canonical run must record every one of them."""
    run = Run.open(canonical_run(tmp_path_factory, case))
    spec = casespec.load_spec(case)
    keys = list(casespec.headline_keys(spec))
    for stage in spec.get("stages") or {}:
        keys += casespec.stage_spec(spec, stage).get("figures") or []
    assert len(keys) > 10
    missing = []
    for key in keys:
        try:
            casespec.figure_value(run.results, key)
        except KeyError:
            missing.append(key)
    assert not missing, f"{case}: the spec shows figures the run does not record: {missing}"


def test_zh_stage_note_says_charts_were_redrawn_only_where_they_were(reports):
    """A stage of the Chinese report with charts re-drawn in Chinese says so; a stage without
    any (its charts are the English originals) does not promise Chinese charts."""
    run, _, zh = reports
    spec = casespec.load_spec(run.case)
    for stage in run.stages:
        text = section(zh, f"stage-{stage}")
        redrawn = bool(casespec.stage_spec(spec, stage).get("charts_zh"))
        assert ("以中文重新绘制" in text) == redrawn, stage
        assert f"html/{stage}.html" in text, stage
    assert not casespec.stage_spec(spec, "02_data").get("charts_zh")  # the case has such a stage


def test_the_chinese_report_says_what_a_stage_skipped():
    """The Chinese report says what a stage could not do: a flag extract's stage 4 showed its
    pilot introduction and no word that the read-out was skipped (found by a new-user trial).
    A note without Chinese words is not dropped: it stays in English, marked as such."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("skipped(...)")
    note = "**Skipped: the pilot read-out.** A pilot table and survey answers are both needed."
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": note})]
    story = nbformat.v4.new_code_cell("say(...)")
    story.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "Churn is 5%."})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Stage 4"), cell, story]
    zh, _ = report.notebook_blocks(nb, "zh")
    assert [(b["kind"], b["english"]) for b in zh] == [("html", False), ("html", True)]
    assert "已跳过：试点结果解读。" in zh[0]["html"] and "需要试点表和问卷答卷。" in zh[0]["html"]
    assert "Churn is 5%." in zh[1]["html"] and i18n.ui("note_in_english", "zh") in zh[1]["html"]
    # a reason the glossary lacks (one a notebook composed): the English report says it
    other = "**Skipped: the churn model.** Only 3 customers have churned."
    assert report._skipped_note(other, "zh") == "**已跳过：流失模型。** " + i18n.ui(
        "skipped_reason_in_english", "zh"
    )
    en, _ = report.notebook_blocks(nb, "en")
    assert "Skipped: the pilot read-out." in en[0]["html"] and len(en) == 2


def test_every_step_a_notebook_can_skip_has_chinese_words():
    """Each skipped() call of the notebooks: its step and, where it is written out or one of
    the library's reasons, its reason read Chinese."""
    from crmlab import plans, targeting

    steps, reasons = set(), {plans.NO_START_MONTH}
    reasons |= {targeting.no_success_rate(True), targeting.no_success_rate(False)}
    cases = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "cases"
    for path in sorted(cases.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            steps |= set(re.findall(r'skipped\(\s*"([^"]+)"', source))
            for m in re.finditer(r'skipped\(\s*"[^"]+",\s*((?:\s*"[^"]*"\s*)+)\)', source):
                reasons.add("".join(re.findall(r'"([^"]*)"', m[1])))
    assert len(steps) > 20 and len(reasons) > 20
    assert [s for s in sorted(steps) if not i18n.has_cjk(i18n.translate(s))] == []
    assert [r for r in sorted(reasons) if not i18n.has_cjk(i18n.translate(r))] == []


# --------------------------------------------------------------------------------------------
# every note of the English report has a Chinese counterpart
# --------------------------------------------------------------------------------------------
_NOTE_DIV = re.compile(r'(?s)<div class="narrative finding"([^>]*)>(.*?)</div>')


def report_notes(page: str, stage: str) -> list[tuple[str, bool]]:
    """The notes a stage's section shows (its Markdown outputs: ``div.narrative.finding``), as
    (plain text, marked untranslated)."""
    return [
        (htmlmod.unescape(re.sub(r"<[^>]+>", "", body)).strip(), "data-untranslated" in attrs)
        for attrs, body in _NOTE_DIV.findall(section(page, f"stage-{stage}"))
    ]


def numbers(text: str) -> set[str]:
    """The numbers written in a text ("2,612", "25.7", "2026")."""
    return set(re.findall(r"\d+(?:[.,]\d+)*", text))


def assert_notes_have_chinese_counterparts(run_dir) -> int:
    """Both reports of a run: per stage the same number of notes, each Chinese note in Chinese
    (none left in English) and holding every number of its English note. Returns the number
    of notes compared."""
    run = Run.open(run_dir)
    pages = {
        lang: report.build_report(run.path, lang, out=run.path / f"notes.{lang}.html").read_text(
            encoding="utf-8"
        )
        for lang in ("en", "zh")
    }
    compared = 0
    for stage in run.stages:
        en, zh = report_notes(pages["en"], stage), report_notes(pages["zh"], stage)
        assert len(en) == len(zh), (stage, [t for t, _ in en], [t for t, _ in zh])
        for (en_text, _), (zh_text, untranslated) in zip(en, zh, strict=True):
            assert not untranslated and i18n.has_cjk(zh_text), (stage, en_text)
            assert numbers(en_text) <= numbers(zh_text), (stage, en_text, zh_text)
            compared += 1
    return compared


def test_a_note_is_said_in_chinese_sentence_by_sentence():
    """Known answers: a note of several sentences, a list of parts, a month, money in
    millions; a sentence no template wrote gives None (the report then keeps the English)."""
    text = (
        "**5,000 customers** from November 2023 to October 2026; 2,494 closed their account in "
        "the window (49.9%), the others were still open at the end. 97,863 monthly snapshots."
    )
    assert i18n.note(text) == (
        "**5,000 名客户**，时间范围 2023 年 11 月 至 2026 年 10 月；其中 2,494 名在此期间销户"
        "（49.9%），其余客户在期末仍在网。月度快照 97,863 条。"
    )
    hazards = "**Hazard ratios:** segment private x0.43 (0.29 to 0.63); 合约类型_两年 x0.22 (0.18 to 0.26)."
    assert (
        i18n.note(hazards)
        == "**风险比：**私人银行客群 ×0.43（0.29 至 0.63）；合约类型：两年 ×0.22（0.18 至 0.26）。"
    )
    money = (
        "Last year's churners held CNY 200,175 on average, so the goal means keeping about "
        "**CNY 25.8 million of balances**."
    )
    assert (
        i18n.note(money)
        == "去年流失的客户平均持有 200,175 元，因此实现目标意味着约留住 **25.8 百万元的余额**。"
    )
    # the flag extract's pilot size says how many customers the extract has (found by a trial)
    pilot = (
        "A randomized pilot that tells 32.8% from 26.2% needs **4,901 customers per arm** (5% "
        "significance, 80% power), followed up as long as the flag's period. The extract has "
        "2,000 customers."
    )
    assert i18n.note(pilot).endswith("提取数据共有 2,000 名客户。")
    assert "**4,901 名客户**" in i18n.note(pilot)
    # the data-quality verdict quotes its largest finding (a byod run's missing column)
    verdict = (
        "The faults are not few: 10 finding(s), the largest: Column 'store id' is named in the "
        "rules but not in the table (columns: transaction id, date, amount) (100.0% of the "
        "transactions rows). 2 of them are errors: 4,262 row(s) that cannot be used as they "
        "are, so the rule drops them."
    )
    assert i18n.note(verdict) == (
        "发现的问题不少：共 10 项，最大的一项：规则中的门店列不在表中（表中的列：交易编号、日期、"
        "金额）（占交易表行数的 100.0%）。其中 2 项为错误：4,262 行无法直接使用，因此按规则删除。"
    )
    assert i18n.note("Churn is 5%.") is None  # no template: the English stays, marked
    assert i18n.note("Sources loaded: customers. Churn is 5%.") is None  # one sentence unknown
    assert i18n.note("Churn is 5%.", "en") == "Churn is 5%."


@pytest.mark.slow
@pytest.mark.parametrize("case", ["retail_satisfaction", "finance_churn"])
def test_every_english_note_has_a_chinese_counterpart(tmp_path_factory, case):
    """The canonical runs: every note (a sentence the notebook wrote from its numbers) of the
    English report is in the Chinese one, in Chinese, with the same numbers."""
    assert assert_notes_have_chinese_counterparts(canonical_run(tmp_path_factory, case)) > 10


def _example_run(tmp_path, monkeypatch, example: str, edit=None):
    from crmlab.synth import client_exports

    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "notes-test-key-0123456789abcdef")
    folder = tmp_path / example
    sizes = {"flag": {"n_customers": 2000}, "retail_satisfaction": {"n_customers": 800}}
    client_exports.write_example_exports(example, folder / "exports", seed=5, **sizes[example])
    text = client_exports.example_config(example)
    if edit:
        text = edit(folder, text)
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    result = runner.run_config(folder / "config.yaml", out_root=tmp_path / "runs", progress=False)
    assert result.ok, result.error
    return result.run_dir


@pytest.mark.slow
def test_a_flag_extracts_notes_have_chinese_counterparts(tmp_path, monkeypatch):
    """The churn-flag example (a telecom's extract with the client's Chinese columns)."""
    run_dir = _example_run(tmp_path, monkeypatch, "flag")
    assert assert_notes_have_chinese_counterparts(run_dir) > 10
    zh = htmlmod.unescape((run_dir / "notes.zh.html").read_text(encoding="utf-8"))
    assert "提取数据共有 2,000 名客户。" in zh
    assert "合约类型：两年" in zh and "合约类型_两年" not in zh and "合约类型 两年" not in zh


@pytest.mark.slow
def test_a_retail_run_without_promotions_has_chinese_counterparts(tmp_path, monkeypatch):
    """A retail export without the promotion column: the needs-segment note says so in both
    languages."""

    def without_promotion(folder, text):
        orders = folder / "exports" / "orders.csv"
        table = pd.read_csv(orders, dtype=str, encoding="utf-8-sig").drop(columns=["Promo"])
        table.to_csv(orders, index=False, encoding="utf-8-sig")
        lines = [x for x in text.splitlines(keepends=True) if "Promo" not in x]
        return "".join(x for x in lines if not x.strip().startswith("promotion: {1:"))

    run_dir = _example_run(tmp_path, monkeypatch, "retail_satisfaction", without_promotion)
    assert assert_notes_have_chinese_counterparts(run_dir) > 10
    en = htmlmod.unescape((run_dir / "notes.en.html").read_text(encoding="utf-8"))
    zh = htmlmod.unescape((run_dir / "notes.zh.html").read_text(encoding="utf-8"))
    assert "No promotion flags:" in en and "<strong>没有促销标记</strong>：" in zh
