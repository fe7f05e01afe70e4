"""Survey metrics and KPI helpers against hand-counted and textbook values."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import norm  # noqa: E402

from crmlab import metrics  # noqa: E402
from crmlab.charts.satisfaction import plot_csat_trend, plot_kpi_dashboard  # noqa: E402
from crmlab.errors import CrmlabError, DataError, ParameterError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- CSAT ------------------------------------------------------------------------------------
def test_csat_top_two_box_hand_counted():
    # 4 of the 7 answered ratings are 4 or 5; one missing answer is ignored
    scores = pd.Series([5, 4, 4, 3, 2, 1, 5, np.nan], name="overall_satisfaction")
    assert metrics.csat(scores) == pytest.approx(4 / 7)
    est = metrics.csat_with_ci(scores)
    assert (est.n, est.successes, est.n_dropped) == (7, 4, 1)
    assert est.low < 4 / 7 < est.high


def test_csat_accepts_pandas_na_and_nullable_ints():
    scores = pd.Series([5, pd.NA, 1, 4], dtype="Int64")
    est = metrics.csat_with_ci(scores)
    assert (est.rate, est.n, est.n_dropped) == (pytest.approx(2 / 3), 3, 1)


def test_csat_other_scale_needs_explicit_threshold():
    scores = [7, 6, 10, 3]
    assert metrics.csat(scores, scale=(1, 10), satisfied_at=7) == 0.5
    with pytest.raises(ParameterError, match="satisfied_at must be given"):
        metrics.csat(scores, scale=(1, 10))


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        ([1, 2, 6], "outside the scale 1-5"),
        ([1, 0, 3], "outside the scale 1-5"),
        ([1, 2.5, 3], "not whole-number"),
        (["5", "good", 4], "not numbers"),
        ([np.nan, None], "no valid rating"),
    ],
)
def test_csat_rejects_bad_ratings(scores, match):
    with pytest.raises(DataError, match=match):
        metrics.csat(pd.Series(scores))


def test_bad_rating_message_names_rows():
    with pytest.raises(DataError, match=r"column 'q1': rows 7 are outside"):
        metrics.csat(pd.Series([5, 9], index=[3, 7], name="q1"))
    assert issubclass(DataError, CrmlabError) and issubclass(DataError, ValueError)


def test_is_satisfied_keeps_missing():
    flags = metrics.is_satisfied(pd.Series([5, None, 3, 4], index=list("abcd")))
    assert flags.index.tolist() == list("abcd")
    assert flags.tolist()[0] == 1.0 and math.isnan(flags["b"]) and flags["c"] == 0.0
    assert flags["d"] == 1.0


# ---- Proportion CI ----------------------------------------------------------------------------
def test_wilson_interval_textbook_newcombe_1998():
    # Newcombe (1998), Stat Med 17:857, Table I: 81/263 -> Wilson score 0.2553 to 0.3662
    low, high = metrics.proportion_ci(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_wilson_interval_matches_closed_form_81_of_100():
    n, p = 100, 0.81
    z = norm.ppf(0.975)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = metrics.proportion_ci(81, 100)
    assert low == pytest.approx(centre - half, abs=1e-10)
    assert high == pytest.approx(centre + half, abs=1e-10)
    assert (round(low, 3), round(high, 3)) == (0.722, 0.875)


def test_proportion_ci_rejects_impossible_counts():
    with pytest.raises(DataError):
        metrics.proportion_ci(5, 3)
    with pytest.raises(ParameterError):
        metrics.proportion_ci(1, 3, method="magic")


# ---- NPS ---------------------------------------------------------------------------------------
NPS_TOY = [9, 10, 9, 7, 8, 0, 3, 6, 5, 6]  # 3 promoters, 2 passives, 5 detractors


def test_nps_counts_passives_in_denominator():
    assert metrics.nps(NPS_TOY) == pytest.approx(-20.0)
    # if passives were (wrongly) left out the answer would be 100 * (3 - 5) / 8 = -25
    e = metrics.nps_with_ci(NPS_TOY + [np.nan])
    assert (e.promoters, e.passives, e.detractors) == (0.3, 0.2, 0.5)
    assert (e.n, e.n_dropped) == (10, 1)


def test_nps_interval_is_wald_on_plus_minus_one_coding():
    coded = np.array([1 if s >= 9 else (-1 if s <= 6 else 0) for s in NPS_TOY], dtype=float)
    se = math.sqrt(coded.var(ddof=0) / len(coded))  # variance of pP - pD = (pP + pD - d^2) / n
    e = metrics.nps_with_ci(NPS_TOY)
    assert e.low == pytest.approx(-20 - 100 * 1.959964 * se, abs=1e-4)
    assert e.high == pytest.approx(-20 + 100 * 1.959964 * se, abs=1e-4)
    # by hand: var = (0.3 + 0.5 - 0.04) / 10 = 0.076
    assert e.high - e.nps == pytest.approx(100 * 1.959964 * math.sqrt(0.076), abs=1e-4)


def test_nps_interval_is_clipped_and_scale_checked():
    e = metrics.nps_with_ci([10, 10, 9])
    assert e.nps == 100 and e.high == 100.0
    with pytest.raises(DataError, match="outside the scale 0-10"):
        metrics.nps([11, 5])


def test_nps_category():
    cats = metrics.nps_category(pd.Series([10, 8, None, 3, 7, 6]))
    assert cats.tolist()[:2] == ["promoter", "passive"]
    assert cats.isna().tolist() == [False, False, True, False, False, False]
    assert cats.tolist()[3:] == ["detractor", "passive", "detractor"]


# ---- By wave / group ---------------------------------------------------------------------------
@pytest.fixture
def survey():
    return pd.DataFrame(
        {
            "wave": ["2024-02"] * 4 + ["2024-01"] * 5,
            "store_id": ["S1", "S2", "S1", "S2", "S1", "S1", "S2", "S2", "S2"],
            "overall_satisfaction": [5, 4, 2, None, 1, 2, 4, 5, 3],
            "recommend": [10, 9, 0, 7, 2, 3, 9, 8, 10],
        }
    )


def test_by_wave_csat(survey):
    out = metrics.by_wave(survey)
    assert out["wave"].tolist() == ["2024-01", "2024-02"]
    assert out["rate"].tolist() == pytest.approx([2 / 5, 2 / 3])
    assert out["n"].tolist() == [5, 3]
    assert out["n_dropped"].tolist() == [0, 1]
    assert (out["low"] < out["rate"]).all() and (out["rate"] < out["high"]).all()


def test_by_group_nps_and_several_keys(survey):
    out = metrics.by_group(survey, "store_id", metric="nps")
    # S1: 10, 0, 2, 3 -> 1 promoter, 3 detractors -> -50; S2: 9, 7, 9, 8, 10 -> 3 promoters -> 60
    assert out.set_index("store_id")["nps"].to_dict() == pytest.approx({"S1": -50.0, "S2": 60.0})
    two = metrics.by_group(survey, ["store_id", "wave"])
    assert len(two) == 4 and list(two.columns[:2]) == ["store_id", "wave"]
    with pytest.raises(DataError, match="not found"):
        metrics.by_group(survey, "region")


def test_by_group_keeps_a_group_without_answers(survey):
    survey.loc[survey["store_id"] == "S1", "overall_satisfaction"] = np.nan
    out = metrics.by_group(survey, "store_id").set_index("store_id")
    assert out.loc["S1", "n"] == 0 and np.isnan(out.loc["S1", "rate"])
    assert out.loc["S1", "n_dropped"] == 4
    assert out.loc["S2", "rate"] == pytest.approx(3 / 4)  # S2: 4, None, 4, 5, 3


# ---- KPI helpers -----------------------------------------------------------------------------
def test_repeat_purchase_rate_counts_distinct_days():
    tx = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B", "B", "C", "D", "D"],
            "date": [
                "2024-01-03",
                "2024-01-20",
                "2024-01-05 09:00",
                "2024-01-05 18:00",  # B: two baskets on one day - not a repeat buyer
                "2024-01-10",
                "2024-01-15",
                "2024-03-01",  # D's second day falls outside January
            ],
        }
    )
    assert metrics.repeat_purchase_rate(tx) == 2 / 4  # A and D over the whole period
    assert metrics.repeat_purchase_rate(tx, start="2024-01-01", end="2024-01-31") == 1 / 4
    with pytest.raises(DataError, match="no purchases"):
        metrics.repeat_purchase_rate(tx, start="2025-01-01")
    # returns are no purchases: C's second day is a return, E only returned
    tx = pd.concat(
        [tx, pd.DataFrame({"customer_id": ["C", "E"], "date": ["2024-01-12", "2024-01-13"]})],
        ignore_index=True,
    ).assign(amount=[10, 12, 5, 6, 8, 9, 7, -8, -3])
    assert metrics.repeat_purchase_rate(tx) == 2 / 4  # still A and D of A, B, C, D
    assert metrics.repeat_purchase_rate(tx.drop(columns="amount")) == 3 / 5  # C counted, E too


def test_simple_rates():
    assert metrics.complaint_rate(30, 12_000, per=1000) == pytest.approx(2.5)
    assert metrics.churn_rate(50, 250) == pytest.approx(0.2)
    assert metrics.growth_rate(120, 100) == pytest.approx(0.2)
    with pytest.raises(DataError):
        metrics.complaint_rate(3, 0)
    with pytest.raises(DataError):
        metrics.churn_rate(300, 250)


def _kpis():
    return pd.DataFrame(
        {
            "kpi": ["CSAT", "Churn rate", "Complaints per 1,000"],
            "actual": [0.85, 0.22, 2.0],
            "target": [0.90, 0.20, 2.5],
            "higher_is_better": [True, False, False],
        }
    )


def test_kpi_scorecard_attainment_and_direction():
    card = metrics.kpi_scorecard(_kpis())
    assert card["attainment"].tolist() == pytest.approx([0.85 / 0.90, 0.20 / 0.22, 2.5 / 2.0])
    assert card["met"].tolist() == [False, False, True]
    assert card["gap"].tolist() == pytest.approx([0.05, -0.02, 0.5])


# ---- Charts ----------------------------------------------------------------------------------
def test_plot_csat_trend_renders(survey):
    ax = plot_csat_trend(metrics.by_wave(survey), target=0.9)
    assert len(ax.get_lines()) == 2  # CSAT line + target line
    assert len(ax.get_xticklabels()) == 2


def test_plot_kpi_dashboard_renders():
    ax = plot_kpi_dashboard(_kpis())
    assert len(ax.patches) == 3


def test_kpi_dashboard_labels_each_kpi_in_its_unit():
    """The chart's "actual / target" labels read as the scorecard table does (80.0% / 90.0%,
    not 0.8 / 0.9): by the row's unit, or its explicit format."""
    kpis = _kpis().assign(unit=["share", "share", "days"])
    labels = [t.get_text().strip() for t in plot_kpi_dashboard(kpis).texts]
    card = metrics.kpi_scorecard(kpis)
    assert labels == [
        f"{card['actual'][0]:.1%} / {card['target'][0]:.1%}",
        f"{card['actual'][1]:.1%} / {card['target'][1]:.1%}",
        f"{card['actual'][2]:.1f} / {card['target'][2]:.1f}",
    ]
    assert labels[0] == "85.0% / 90.0%"


def test_kpi_scorecard_error_names_the_kpi_and_what_to_do():
    kpis = pd.DataFrame(
        {
            "kpi": ["CSAT", "Spend per customer", "Days to resolve"],
            "actual": [0.8, 120.0, -1.0],
            "target": [0.9, float("nan"), 0.0],
        }
    )
    with pytest.raises(DataError) as err:
        metrics.kpi_scorecard(kpis)
    msg = str(err.value)
    assert "'Spend per customer' has no target" in msg
    assert "'Days to resolve' has an actual below 0 (-1) and a target not above 0 (0)" in msg
    assert "CSAT" not in msg and "give it a target" in msg


def test_stores_are_named_as_readers_know_them():
    """A client's report said "lowest CSAT: store S12" although its stores table names S12
    王府井店 (found by a new-user trial)."""
    from crmlab.metrics import store_labels

    stores = pd.DataFrame(
        {"store_id": ["S12", "S13", "S14"], "store_name": ["王府井店", None, "x"]}
    )
    ids = pd.Series(["S12", "S13", "S99"], index=[5, 6, 7])
    assert store_labels(ids, stores).to_dict() == {5: "王府井店 (S12)", 6: "S13", 7: "S99"}
    assert store_labels(ids, None).tolist() == ["S12", "S13", "S99"]
    assert store_labels(ids, stores[["store_id"]]).tolist() == ["S12", "S13", "S99"]


# ---- the run's satisfaction measure ------------------------------------------------------------
CLIENT = {"scale": [1, 10], "satisfied_at": 7, "questions": ["总体满意度", "再次光临意愿"]}


def test_the_measure_comes_from_the_import_report_else_it_is_the_1_to_5_question(tmp_path):
    """A config run's import records the client's scale, threshold and columns; the stages read
    them from input/ingest_report.json (a plain data folder has the canonical measure)."""
    import json

    assert metrics.satisfaction_measure(tmp_path) == {
        "scale": [1, 5],
        "satisfied_at": 4,
        "questions": [],
    }
    report = {
        "survey": {
            "columns": ["总体满意度", "再次光临意愿"],
            "scale": [1.0, 10.0],
            "satisfied_at": 7,
        },
        "sources": {
            "survey": {"columns": {"overall_satisfaction": ["总体满意度", "再次光临意愿"]}}
        },
    }
    (tmp_path / "ingest_report.json").write_text(json.dumps(report), encoding="utf-8")
    measure = metrics.satisfaction_measure(tmp_path)
    assert measure == CLIENT
    recorded = metrics.measure_record(measure)
    assert recorded == {
        "satisfaction.scale": [1, 10],
        "satisfaction.satisfied_at": 7,
        "satisfaction.questions": ["总体满意度", "再次光临意愿"],
    }
    assert metrics.measure_from_results(recorded) == CLIENT
    assert metrics.measure_from_results({}) == metrics.CANONICAL_MEASURE  # an older run
    # one mapped 1-5 question with 4+ satisfied is the canonical measure
    one = {"survey": {"columns": ["Q"], "scale": [1, 5], "satisfied_at": 4}}
    (tmp_path / "ingest_report.json").write_text(json.dumps(one), encoding="utf-8")
    assert metrics.satisfaction_measure(tmp_path) == metrics.CANONICAL_MEASURE
    # one client column on 1-10, recorded by the import as its name (not split into characters)
    single = {
        "survey": {"columns": ["满意度"], "scale": [1, 10], "satisfied_at": 7},
        "sources": {"survey": {"columns": {"overall_satisfaction": "满意度"}}},
    }
    (tmp_path / "ingest_report.json").write_text(json.dumps(single), encoding="utf-8")
    assert metrics.satisfaction_measure(tmp_path)["questions"] == ["满意度"]


def test_the_measure_in_words_states_the_runs_scale_threshold_and_question():
    from crmlab import i18n

    text = metrics.measure_text
    canonical = metrics.CANONICAL_MEASURE
    # the 1-5 question: the texts the report always had
    assert text(canonical, "who") == "rating overall satisfaction 4 or 5 on a 1-5 scale"
    assert text(canonical, "question") == "Overall satisfaction (1-5)"
    assert text(canonical, "satisfied") == "4-5"
    assert text(canonical, "definition") == (
        "Share of survey answers of 4 or 5 on the 1-5 overall-satisfaction question (top-two-box)."
    )
    assert text(canonical, "who", "zh") == "总体满意度 1-5 分中评 4 分或 5 分的客户占比"
    assert text(canonical, "question", "zh") == "总体满意度（1-5 分）"
    # the client's two questions averaged on 1-10, 7 and up satisfied
    assert text(CLIENT, "who") == (
        "rating the average of 总体满意度 and 再次光临意愿 7 or more on a 1-10 scale"
    )
    assert text(CLIENT, "question") == "总体满意度 and 再次光临意愿 (1-10, averaged; 7+ satisfied)"
    assert text(CLIENT, "satisfied") == "7+ on 1-10"
    assert (
        text(CLIENT, "who", "zh")
        == "总体满意度与再次光临意愿的平均分（1-10 分）达到 7 分及以上的客户占比"
    )
    for what in ("who", "question", "satisfied", "definition", "note"):
        for lang in ("en", "zh"):
            shown = text(CLIENT, what, lang)
            assert "1-5" not in shown.replace("read on 1-5", "").replace("按 1-5 分读取", "")
            assert "1-10" in shown and "7" in shown, (what, lang, shown)
    # one question on 0-10 with 9 satisfied: "9 or 10"
    nine = {"scale": [0, 10], "satisfied_at": 9, "questions": ["Q1"]}
    assert text(nine, "who") == "rating Q1 9 or 10 on a 0-10 scale"
    # the Chinese report reads the English texts back (note, feedback question, chart legend)
    assert i18n.note(text(CLIENT, "note")) == text(CLIENT, "note", "zh")
    assert i18n.translate(text(CLIENT, "question") + " and recommend (0-10)") == (
        text(CLIENT, "question", "zh") + "与推荐意愿（0-10 分）"
    )
    assert (
        i18n.translate("CSAT (share rating 7+ on 1-10)")
        == "满意度（1-10 分中达到 7 分及以上的占比）"
    )
    with pytest.raises(ParameterError):
        text(CLIENT, "scale")


def test_plot_csat_trend_names_the_runs_satisfied_ratings(survey):
    ax = plot_csat_trend(metrics.by_wave(survey), satisfied="7+ on 1-10")
    assert ax.get_legend_handles_labels()[1][-1] == "CSAT (share rating 7+ on 1-10)"
    ax = plot_csat_trend(metrics.by_wave(survey))
    assert "CSAT (share rating 4-5)" in ax.get_legend_handles_labels()[1]


def test_csat_by_segment_hand_counted_over_the_last_three_waves():
    """Each answer of the last three waves counts with its customer's class; older waves,
    unknown customers and customers without a class are left out; n counts answers."""
    classes = pd.Series(
        pd.Categorical(
            ["loyal", "loyal", "at_risk", None],
            categories=["potential", "active", "loyal", "at_risk", "churned"],
            ordered=True,
        ),
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
        name="customer_class",
    )
    survey = pd.DataFrame(
        [
            ("2024-01", "a", 5),  # older than the last three waves
            ("2024-02", "a", 2),
            ("2024-02", "c", 4),
            ("2024-03", "b", 5),
            ("2024-03", "c", 1),
            ("2024-03", "e", 5),  # not a known customer
            ("2024-04", "a", 4),
            ("2024-04", "b", 3),
            ("2024-04", "d", 5),  # no class
            ("2024-04", "c", 5),
        ],
        columns=["wave", "customer_id", "overall_satisfaction"],
    )
    table = metrics.csat_by_segment(survey, classes, waves=3)
    assert table["customer_class"].astype(str).tolist() == ["loyal", "at_risk"]  # class order
    assert table["n"].tolist() == [4, 3]
    assert table["successes"].tolist() == [2, 2]  # loyal: 5 and 4; at risk: 4 and 5
    assert table["rate"].tolist() == pytest.approx([2 / 4, 2 / 3])
    assert (table["low"] < table["rate"]).all() and (table["rate"] < table["high"]).all()
    assert len(metrics.recent_waves(survey, 3)) == 9
    assert table.attrs["answers_in_waves"] == 9  # 7 counted + 1 unknown customer + 1 no class
    with pytest.raises(DataError, match="no answer of the last 1 wave"):
        metrics.csat_by_segment(survey[survey["customer_id"] == "e"], classes, waves=1)


def test_plot_csat_by_segment_shows_the_table_with_its_counts():
    from crmlab.charts.customers import plot_csat_by_segment

    table = pd.DataFrame(
        {
            "customer_class": ["loyal", "at_risk"],
            "rate": [0.5, 2 / 3],
            "low": [0.2, 0.3],
            "high": [0.8, 0.9],
            "n": [4, 1203],
        }
    )
    ax = plot_csat_by_segment(table, "customer_class", satisfied="7+ on 1-10")
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.5, 2 / 3])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["loyal\n(n=4)", "at risk\n(n=1,203)"]
    assert ax.get_ylabel() == "CSAT (share rating 7+ on 1-10)"
    assert ax.get_title() == "CSAT by customer class, last 3 survey waves"
