"""RFM scores and segment rule sets against hand-computed answers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlab.charts.customers import plot_rfm_heatmap  # noqa: E402
from crmlab.errors import ConfigError, DataError  # noqa: E402
from crmlab.rfm import (  # noqa: E402
    list_rulesets,
    load_ruleset,
    rfm_scores,
    ruleset_grid,
    segment_rfm,
)


@pytest.fixture
def ten_customers() -> pd.DataFrame:
    """Ten buyers with ties in every measure, plus one customer who never bought (k)."""
    return pd.DataFrame(
        {
            "recency_days": [5, 5, 10, 20, 20, 20, 40, 60, 90, 3, None],
            "frequency": [3, 3, 1, 1, 2, 2, 5, 1, 1, 8, 0],
            "monetary": [100, 50, 20, 20, 30, 30, 300, 10, 5, 500, 0],
        },
        index=pd.Index(list("abcdefghijk"), name="customer_id"),
    )


def test_rfm_scores_known_answer_with_ties(ten_customers):
    s = rfm_scores(ten_customers)
    # Recency, ranked from the oldest (rank 1) with ties in row order:
    #   i90=1 h60=2 g40=3 d20=4 e20=5 f20=6 c10=7 a5=8 b5=9 j3=10 -> two ranks per score.
    expected_r = dict(a=4, b=5, c=4, d=2, e=3, f=3, g=2, h=1, i=1, j=5)
    # Frequency ascending: c1 d1 h1 i1 | e2 f2 | a3 b3 | g5 | j8 -> ranks 1..10.
    # The four customers tied at 1 purchase day split over scores 1 and 2.
    expected_f = dict(a=4, b=4, c=1, d=1, e=3, f=3, g=5, h=2, i=2, j=5)
    # Monetary ascending: i5 h10 c20 d20 e30 f30 b50 a100 g300 j500.
    expected_m = dict(a=4, b=4, c=2, d=2, e=3, f=3, g=5, h=1, i=1, j=5)
    buyers = list("abcdefghij")
    assert s.loc[buyers, "R"].to_dict() == expected_r
    assert s.loc[buyers, "F"].to_dict() == expected_f
    assert s.loc[buyers, "M"].to_dict() == expected_m
    # ties never collapse bins: every score 1-5 is used exactly twice
    for col in "RFM":
        assert s.loc[buyers, col].value_counts().sort_index().tolist() == [2, 2, 2, 2, 2]
    assert s.loc["a", "rfm_cell"] == "444"
    assert s.loc["j", "rfm_cell"] == "555"
    assert s.loc["h", "rf_cell"] == "12"
    # the non-buyer is not scored
    assert s.loc["k", ["R", "F", "M"]].isna().all()
    assert pd.isna(s.loc["k", "rfm_cell"])


def test_rfm_scores_needs_enough_buyers(ten_customers):
    with pytest.raises(DataError, match="at least bins=5"):
        rfm_scores(ten_customers.iloc[:4])
    with pytest.raises(DataError, match="recency_days"):
        rfm_scores(ten_customers.drop(columns="recency_days"))


def test_rf_ten_segment_hand_picked_cells():
    expected = {
        "55": "champions", "54": "champions", "51": "new_customers", "41": "promising",
        "33": "need_attention", "32": "about_to_sleep", "31": "about_to_sleep",
        "44": "loyal_customers", "35": "loyal_customers", "42": "potential_loyalists",
        "53": "potential_loyalists", "11": "hibernating", "22": "hibernating",
        "13": "at_risk", "24": "at_risk", "15": "cant_lose", "25": "cant_lose",
    }  # fmt: skip
    scores = pd.DataFrame(
        {"R": [int(c[0]) for c in expected], "F": [int(c[1]) for c in expected]},
        index=list(expected),
    )
    assert segment_rfm(scores, "rf_ten_segment").to_dict() == expected


def test_rf_ten_segment_tiles_the_grid():
    grid = ruleset_grid("rf_ten_segment")
    assert len(grid) == 25
    assert grid["segment"].value_counts().to_dict() == {
        "hibernating": 4, "at_risk": 4, "loyal_customers": 4, "potential_loyalists": 4,
        "cant_lose": 2, "about_to_sleep": 2, "champions": 2,
        "need_attention": 1, "promising": 1, "new_customers": 1,
    }  # fmt: skip


def test_rfm_three_score_first_match_wins():
    cells = {
        "555": "champions",
        "155": "cant_lose",  # also inside at_risk (R1-2 F2-5 M2-5): the earlier rule wins
        "511": "new_customers",
        "411": "new_customers",  # R4 is in new_customers and promising: new_customers first
        "311": "promising",
        "333": "loyal_customers",
        "322": "potential_loyalists",  # also need_attention, which comes later
        "222": "need_attention",
        "211": "about_to_sleep",
        "133": "at_risk",
        "111": "lost",
        "113": "other",  # F=1 misses at_risk, M=3 misses lost
    }
    scores = pd.DataFrame(
        [[int(d) for d in c] for c in cells], columns=list("RFM"), index=list(cells)
    )
    assert segment_rfm(scores, "rfm_three_score").to_dict() == cells


def test_segment_rfm_on_scores_and_missing(ten_customers):
    seg = segment_rfm(rfm_scores(ten_customers))
    assert seg["j"] == "champions"  # 55
    assert seg["a"] == "loyal_customers"  # 44
    assert seg["c"] == "promising"  # 41
    assert seg["e"] == "need_attention"  # 33
    assert seg["g"] == "cant_lose"  # 25
    assert pd.isna(seg["k"])


def test_custom_ruleset_mapping_and_yaml(tmp_path):
    custom = {
        "name": "two_rules",
        "scores": ["R", "F"],
        "default": "rest",
        "rules": [
            {"segment": "best", "ranges": {"R": [5, 5]}},
            {"segment": "overlap", "pattern": "5.|4."},  # 5x already taken by "best"
        ],
    }
    scores = pd.DataFrame({"R": [5, 4, 3], "F": [1, 1, 1]}, index=["x", "y", "z"])
    assert segment_rfm(scores, custom).tolist() == ["best", "overlap", "rest"]
    path = tmp_path / "mine.yaml"
    path.write_text("scores: [R]\nrules:\n  - segment: top\n    pattern: '5'\n", encoding="utf-8")
    assert segment_rfm(scores, path).tolist() == ["top", "other", "other"]


def test_ruleset_errors():
    assert {"rf_ten_segment", "rfm_three_score"} <= set(list_rulesets())
    for name in list_rulesets():
        rs = load_ruleset(name)
        assert rs["source"], f"rule set {name} must cite its source"
    with pytest.raises(ConfigError, match="Unknown RFM rule set"):
        load_ruleset("no_such_rules")
    with pytest.raises(ConfigError, match="exactly one of"):
        load_ruleset({"scores": ["R"], "rules": [{"segment": "x"}]})
    with pytest.raises(DataError, match="expects scores 1-5"):
        segment_rfm(pd.DataFrame({"R": [6], "F": [1]}))


def test_rfm_heatmap_counts(ten_customers):
    scores = rfm_scores(ten_customers)
    ax = plot_rfm_heatmap(scores)
    numbers = [int(t.get_text()) for t in ax.texts]
    assert len(numbers) == 25 and sum(numbers) == 10
    # top row is R=5: customers b (F4) and j (F5)
    assert [int(t.get_text()) for t in ax.texts[:5]] == [0, 0, 0, 1, 1]
    plt.close(ax.figure)
