"""Tests of the retail synthetic-data generator: files, planted faults and planted effects.

Planted quantities are checked against their definitions (expected shares against a Monte Carlo of
the stated model, observed shares against binomial bands of the truth, fault counts against the
files), never against the generator's own bookkeeping alone.
"""

from __future__ import annotations

import inspect
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from crmlab.errors import CrmlabError, ParameterError
from crmlab.synth import retail
from crmlab.synth.names import fake_people
from crmlab.synth.retail import (
    DEFAULT_SIZES,
    DRIVER_WEIGHTS,
    DRIVERS,
    generate_retail,
    pareto_share,
    retail_sources,
)

SMALL = {"n_customers": 400, "n_stores": 8, "months": 8, "responses_per_wave": 60}
RATINGS_1_5 = ["overall_satisfaction", *DRIVERS]

COLUMNS = {
    "stores": ["store_id", "store_name", "region", "opened_date"],
    "customers": [
        "customer_id",
        "name",
        "email",
        "phone",
        "signup_date",
        "region",
        "home_store",
        "age_band",
        "gender",
        "channel",
        "loyalty_member",
    ],
    "transactions": [
        "transaction_id",
        "customer_id",
        "store_id",
        "date",
        "amount",
        "items",
        "promotion",
    ],
    "survey": [
        "response_id",
        "customer_id",
        "store_id",
        "date",
        "wave",
        "overall_satisfaction",
        "recommend",
        *DRIVERS,
        "comment",
    ],
    "complaints": [
        "complaint_id",
        "customer_id",
        "date",
        "category",
        "resolved",
        "days_to_resolve",
    ],
    "pilot": ["store_id", "group", "intervention", "start_date", "end_date"],
}


def _read(folder, stem: str) -> pd.DataFrame:
    path = folder / f"{stem}.csv"
    if path.exists():
        return pd.read_csv(path, dtype={"customer_id": "str"})
    return pd.read_parquet(folder / f"{stem}.parquet")


@pytest.fixture(scope="session")
def default_data(tmp_path_factory):
    """The default-size data set (seed 42) and its truth."""
    folder = tmp_path_factory.mktemp("retail_default")
    truth = generate_retail(folder)
    tables = {stem: _read(folder, stem) for stem in [*retail_sources(), "truth_customers"]}
    return folder, truth, tables


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory):
    """Small data sets: seed 7 twice (CSV), seed 8 (CSV), seed 7 twice (Parquet)."""
    runs = {}
    for name, seed, fmt in [
        ("a", 7, "csv"),
        ("b", 7, "csv"),
        ("c", 8, "csv"),
        ("pa", 7, "parquet"),
        ("pb", 7, "parquet"),
    ]:
        folder = tmp_path_factory.mktemp(f"retail_{name}")
        runs[name] = (folder, generate_retail(folder, seed=seed, fmt=fmt, **SMALL))
    return runs


def _clean_survey(survey: pd.DataFrame) -> pd.DataFrame:
    ok = survey[RATINGS_1_5].isin([1, 2, 3, 4, 5]).all(axis=1)
    ok &= survey["recommend"].isin(range(11))
    return survey[ok]


# ---------------------------------------------------------------------------------------------
# API and files
# ---------------------------------------------------------------------------------------------


def test_api_constants():
    assert retail_sources() == [
        "stores",
        "customers",
        "transactions",
        "survey",
        "complaints",
        "pilot",
    ]
    params = inspect.signature(generate_retail).parameters
    for key, value in DEFAULT_SIZES.items():
        assert params[key].default == value
    assert list(DRIVER_WEIGHTS) == [
        "staff_service",
        "product_quality",
        "price_value",
        "checkout_speed",
        "product_availability",
        "store_environment",
        "loyalty_programme",
    ]
    assert sorted(DRIVERS) == sorted(DRIVER_WEIGHTS)


def test_same_seed_gives_byte_identical_files(small_runs):
    for first, second in (("a", "b"), ("pa", "pb")):
        a, b = small_runs[first][0], small_runs[second][0]
        names = sorted(p.name for p in a.iterdir())
        assert names == sorted(p.name for p in b.iterdir())
        assert len(names) == 8  # six sources, truth_customers, truth.json
        for name in names:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_different_seed_gives_different_files(small_runs):
    a, c = small_runs["a"][0], small_runs["c"][0]
    for stem in ["customers", "transactions", "survey", "complaints"]:
        assert (a / f"{stem}.csv").read_bytes() != (c / f"{stem}.csv").read_bytes()
    assert small_runs["a"][1]["satisfaction_by_wave"] != small_runs["c"][1]["satisfaction_by_wave"]


def test_no_temporary_files_left(small_runs):
    for folder, _ in small_runs.values():
        assert not [p for p in folder.iterdir() if "tmp" in p.name]


def test_truth_json_is_the_returned_truth(small_runs):
    folder, truth = small_runs["a"]
    assert json.loads((folder / "truth.json").read_text(encoding="utf-8")) == truth


def test_parquet_holds_the_same_data_as_csv(small_runs):
    csv_dir, pq_dir = small_runs["a"][0], small_runs["pa"][0]
    for stem in retail_sources():
        c = pd.read_csv(csv_dir / f"{stem}.csv", dtype={"customer_id": "str"})
        p = pd.read_parquet(pq_dir / f"{stem}.parquet")
        assert list(p.columns) == COLUMNS[stem]
        for col in [x for x in p.columns if "date" in x]:
            p[col] = pd.to_datetime(p[col]).dt.strftime("%Y-%m-%d")
        pd.testing.assert_frame_equal(c, p, check_dtype=False)


def test_columns_and_value_formats(default_data):
    _, truth, t = default_data
    for stem, cols in COLUMNS.items():
        assert list(t[stem].columns) == cols, stem
    n_stores = truth["sizes"]["n_stores"]
    stores, customers = t["stores"], t["customers"]
    assert stores["store_id"].tolist() == [f"S{i:02d}" for i in range(1, n_stores + 1)]
    assert stores["store_name"].is_unique
    assert 4 <= stores["region"].nunique() <= 5
    assert customers["customer_id"].tolist()[:2] == ["C000001", "C000002"]
    assert customers["customer_id"].is_unique and customers["email"].is_unique
    assert customers["email"].str.fullmatch(r"[a-z0-9._]+@[a-z.]*example\.(com|net|org)").all()
    phone = r"\+86 100 \d{4} \d{4}|\(555\) [2-9]\d{2}-\d{4}"  # fictional: 100, 555
    assert customers["phone"].str.fullmatch(phone).all()
    chinese = customers["name"].str.contains(r"[\u4e00-\u9fff]")
    assert 0.4 < chinese.mean() < 0.6
    assert (customers["phone"].str.startswith("+86") == chinese).all()
    assert set(customers["age_band"]) == {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert set(customers["gender"]) == {"F", "M", "X"}
    assert set(customers["channel"]) == {"store", "online", "app"}
    assert set(customers["loyalty_member"]) == {"yes", "no"}
    home_region = customers.merge(stores, left_on="home_store", right_on="store_id")
    assert (home_region["region_x"] == home_region["region_y"]).all()
    for stem, col in [
        ("stores", "opened_date"),
        ("customers", "signup_date"),
        ("transactions", "date"),
        ("survey", "date"),
        ("complaints", "date"),
    ]:
        assert t[stem][col].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), (stem, col)
    tx = t["transactions"]
    assert tx["transaction_id"].str.fullmatch(r"T\d{9}").all()
    assert tx["items"].dtype == np.int64 and set(tx["promotion"]) == {0, 1}
    amount = tx["amount"].dropna()
    assert np.allclose(amount, amount.round(2), atol=1e-9, rtol=0)
    assert tx["date"].min() == truth["history_start"] and tx["date"].max() <= truth["end_date"]
    survey = t["survey"]
    assert survey["wave"].tolist() == survey["date"].str[:7].tolist()
    assert survey.groupby("wave").size().eq(truth["sizes"]["responses_per_wave"]).all()
    assert list(survey["wave"].unique()) == truth["waves"]
    assert set(t["complaints"]["category"]) == {
        "product",
        "price",
        "service",
        "checkout",
        "availability",
        "other",
    }


# ---------------------------------------------------------------------------------------------
# Planted faults
# ---------------------------------------------------------------------------------------------


def test_transaction_fault_counts_match_the_file(default_data):
    _, truth, t = default_data
    tx, customers = t["transactions"], t["customers"]
    faults = truth["fault_counts"]["transactions"]
    assert faults["duplicate_rows"] == tx.duplicated().sum() > 0
    assert 0.001 < faults["duplicate_rows"] / len(tx) < 0.003  # ~0.2%
    orphan = ~tx["customer_id"].isin(customers["customer_id"])
    assert faults["orphan_rows"] == orphan.sum() > 0
    assert sorted(tx.loc[orphan, "customer_id"].unique()) == faults["orphan_customer_ids"]
    assert faults["n_orphan_customer_ids"] == len(faults["orphan_customer_ids"]) <= 50
    assert faults["missing_amount"] == tx["amount"].isna().sum() > 0
    # Apart from the planted duplicates, transaction ids are unique.
    assert tx.drop_duplicates()["transaction_id"].is_unique


def test_survey_fault_counts_match_the_file(default_data):
    _, truth, t = default_data
    survey = t["survey"]
    faults = truth["fault_counts"]["survey"]
    ranges = {c: (1, 5) for c in RATINGS_1_5} | {"recommend": (0, 10)}
    for col, (low, high) in ranges.items():
        values = survey[col]
        out_of_range = values.notna() & ~values.between(low, high)
        assert out_of_range.sum() == faults["out_of_range_by_column"][col], col
        assert values.isna().sum() == faults["blank_by_column"][col], col
        bad = set(values[out_of_range])
        assert bad <= ({11} if col == "recommend" else {0, 6}), col
    assert faults["out_of_range"] == sum(faults["out_of_range_by_column"].values()) > 0
    assert faults["blank"] == sum(faults["blank_by_column"].values()) > 0


def test_survey_respondents_are_real_or_anonymous(default_data):
    _, _, t = default_data
    survey, customers = t["survey"], t["customers"]
    anonymous = survey["customer_id"].isna()
    assert 0.08 < anonymous.mean() < 0.12
    assert survey.loc[~anonymous, "customer_id"].isin(customers["customer_id"]).all()
    assert survey["store_id"].isin(t["stores"]["store_id"]).all()
    assert t["complaints"]["customer_id"].isin(customers["customer_id"]).all()


# ---------------------------------------------------------------------------------------------
# Transactions: returns, volume, seasonality, churn, promotions, Pareto
# ---------------------------------------------------------------------------------------------


def test_returns_are_negative_and_follow_a_purchase(default_data):
    _, _, t = default_data
    tx = t["transactions"].drop_duplicates().dropna(subset=["amount"])
    returns = tx[tx["amount"] < 0]
    assert ((tx["amount"] < 0) == (tx["items"] < 0)).all()
    assert 0.02 <= len(returns) / len(tx) <= 0.03
    first_purchase = tx[tx["amount"] > 0].groupby("customer_id")["date"].min()
    assert (returns["date"] > returns["customer_id"].map(first_purchase)).all()


def test_transaction_volume_and_seasonality(default_data):
    _, truth, t = default_data
    tx = t["transactions"].drop_duplicates()
    tx = tx[tx["customer_id"].isin(t["customers"]["customer_id"])]
    purchases = tx[tx["amount"].fillna(0) >= 0]
    per_customer = len(purchases) / truth["sizes"]["n_customers"]
    assert 19 < per_customer < 21
    assert truth["transactions"]["n_purchases"] == len(purchases)
    dates = pd.to_datetime(purchases["date"])
    daily = purchases.groupby(dates.dt.to_period("M"))["amount"].sum() / dates.groupby(
        dates.dt.to_period("M")
    ).apply(lambda d: d.dt.day.max())
    december = daily[daily.index.month == 12]
    assert december.min() > daily[daily.index.month != 12].max()  # December peak
    by_weekday = dates.dt.day_of_week.value_counts()
    assert by_weekday[5] > 1.3 * by_weekday[1]  # Saturday busier than Tuesday


def test_pareto_share_definition():
    # 10 customers; the top 2 hold 10 + 1 of 19.
    assert pareto_share([10, 1, 1, 1, 1, 1, 1, 1, 1, 1]) == pytest.approx(11 / 19)
    # 7 customers: the top 20% rounds up to 2.
    assert pareto_share([5, 4, 1, 1, 1, 1, 1]) == pytest.approx(9 / 14)


def test_pareto_share_in_truth_matches_the_file(default_data):
    _, truth, t = default_data
    assert 0.70 <= truth["pareto_top20_share"] <= 0.80
    tx = t["transactions"].drop_duplicates()
    tx = tx[tx["customer_id"].isin(t["customers"]["customer_id"])]
    revenue = tx.groupby("customer_id")["amount"].sum()  # missing amounts count as 0
    assert pareto_share(revenue) == pytest.approx(truth["pareto_top20_share"], abs=0.002)


def test_churn_potential_and_price_sensitive_customers(default_data):
    _, truth, t = default_data
    labels = t["truth_customers"]
    tx = t["transactions"].merge(labels, on="customer_id")
    assert truth["customers"]["n_churned"] == (labels["planted_status"] == "churned").sum()
    assert 0.2 < truth["customers"]["n_churned"] / len(labels) < 0.4
    churned = tx[tx["planted_status"] == "churned"]
    assert not ((churned["date"] >= churned["churn_date"]) & (churned["amount"] > 0)).any()
    potential = labels.loc[labels["planted_status"] == "potential", "customer_id"]
    assert len(potential) == truth["customers"]["n_potential"] > 0
    assert not tx["customer_id"].isin(potential).any()
    signup = t["customers"].set_index("customer_id")["signup_date"]
    end = pd.Timestamp(truth["end_date"])
    assert (end - pd.to_datetime(signup[potential])).dt.days.max() < 60
    promo = tx[tx["amount"] > 0].groupby("price_sensitive")["promotion"].mean()
    assert promo[1] > 0.6 and promo[0] < 0.2  # price-sensitive buy mostly on promotion


def test_dissatisfied_customers_complain_more(default_data):
    _, _, t = default_data
    complaints = t["complaints"].merge(t["truth_customers"], on="customer_id")
    # Rate x exp(-0.8 attitude), attitude ~ N(0, 1): complainers' mean attitude is -0.8 before
    # exposure differences (low-attitude customers churn sooner and have less time to complain).
    assert -1.0 < complaints["attitude"].mean() < -0.5
    assert (complaints["days_to_resolve"].isna() == (complaints["resolved"] == "no")).all()
    assert (complaints["days_to_resolve"].dropna() >= 1).all()


# ---------------------------------------------------------------------------------------------
# Pilot
# ---------------------------------------------------------------------------------------------


def test_pilot_table(default_data):
    _, truth, t = default_data
    pilot = t["pilot"]
    assert pilot["group"].value_counts().to_dict() == {"treatment": 6, "control": 6}
    assert pilot["store_id"].is_unique and pilot["store_id"].isin(t["stores"]["store_id"]).all()
    assert set(pilot["intervention"]) == {"staff service training"}
    first, last = truth["pilot"]["pilot_waves"][0], truth["pilot"]["pilot_waves"][-1]
    assert set(pilot["start_date"]) == {f"{first}-01"}
    assert set(pilot["end_date"]) == {truth["end_date"]} and last == truth["waves"][-1]
    treated = pilot.loc[pilot["group"] == "treatment", "store_id"].tolist()
    assert treated == truth["pilot"]["treatment_stores"]


# ---------------------------------------------------------------------------------------------
# Planted survey effects
# ---------------------------------------------------------------------------------------------


def test_expected_share_matches_a_monte_carlo_of_the_model():
    """The exact expectation E[P(y* > 0)] agrees with brute-force simulation of the model."""
    model = retail._SatisfactionModel()
    rng = np.random.default_rng(0)
    n, rho = 400_000, retail._RHO
    g = rng.standard_normal(n)
    latent = math.sqrt(rho) * g[:, None] + math.sqrt(1 - rho) * rng.standard_normal((n, 7))
    latent[:, DRIVERS.index("staff_service")] += 0.5
    ratings = 1 + np.searchsorted(retail._DRIVER_THRESHOLDS, latent)
    s = ratings @ np.array([DRIVER_WEIGHTS[d] for d in DRIVERS])
    ystar = -10.0 + s + rng.logistic(size=n)
    exact = model.p_above([-10.0], model.s_distribution(0.5))[0]
    assert exact == pytest.approx((ystar > 0).mean(), abs=4 * math.sqrt(0.25 / n))
    noisy = ystar + 1.0 * rng.standard_normal(n)
    exact_noisy = model.p_above([-10.0], model.s_distribution(0.5), 2.0, 1.0)[0]
    assert exact_noisy == pytest.approx((noisy > 2.0).mean(), abs=4 * math.sqrt(0.25 / n))


def test_truth_levels(default_data):
    _, truth, _ = default_data
    by_wave = list(truth["satisfaction_by_wave"].values())
    assert by_wave[0] == pytest.approx(0.76, abs=1e-6)
    assert 0.80 <= truth["satisfaction_latest"] <= 0.82
    assert truth["satisfaction_latest"] == by_wave[-1]
    assert all(b > a for a, b in zip(by_wave, by_wave[1:], strict=False))
    assert 0.06 <= truth["pilot_effect"] <= 0.08
    assert 0.06 <= truth["pilot_did"] <= 0.08
    assert truth["driver_ranking"] == sorted(
        truth["driver_weights"], key=truth["driver_weights"].get, reverse=True
    )
    assert truth["segments"]["loyalty_difference"] > 0.02
    assert -100 < truth["nps_first"] < truth["nps_latest"] < 100


def test_observed_satisfaction_within_binomial_band(default_data):
    _, truth, t = default_data
    survey = _clean_survey(t["survey"])
    for wave in (truth["waves"][0], truth["waves"][-1]):
        rows = survey[survey["wave"] == wave]
        p = truth["satisfaction_by_wave"][wave]
        observed = (rows["overall_satisfaction"] >= 4).mean()
        assert abs(observed - p) < 2.576 * math.sqrt(p * (1 - p) / len(rows)), wave


def test_observed_nps_near_truth(default_data):
    _, truth, t = default_data
    survey = _clean_survey(t["survey"])
    rec = survey.loc[survey["wave"] == truth["waves"][-1], "recommend"]
    promoters, detractors = (rec >= 9).mean(), (rec <= 6).mean()
    nps = 100 * (promoters - detractors)
    se = 100 * math.sqrt((promoters + detractors - (promoters - detractors) ** 2) / len(rec))
    assert abs(nps - truth["nps_latest"]) < 3 * se


def test_ols_recovers_the_driver_ranking(default_data):
    _, truth, t = default_data
    survey = _clean_survey(t["survey"])
    x = sm.add_constant(survey[truth["driver_ranking"]].astype(float))
    fit = sm.OLS(survey["overall_satisfaction"].astype(float), x).fit()
    coefs = fit.params[truth["driver_ranking"]].to_numpy()
    assert (np.diff(coefs) < 0).all(), fit.params
    assert (coefs > 0).all()


def test_pilot_effect_recovered(default_data):
    _, truth, t = default_data
    survey = _clean_survey(t["survey"]).merge(t["pilot"][["store_id", "group"]], on="store_id")
    survey = survey.assign(sat=survey["overall_satisfaction"] >= 4)
    expected = truth["pilot"]["expected_satisfied_share"]
    shares, sizes = {}, {}
    for period, waves in (
        ("pre", truth["pilot"]["pre_waves"]),
        ("pilot", truth["pilot"]["pilot_waves"]),
    ):
        rows = survey[survey["wave"].isin(waves)]
        for group, g in rows.groupby("group"):
            shares[group, period], sizes[group, period] = g["sat"].mean(), len(g)

    def se(*cells):
        return math.sqrt(sum(shares[c] * (1 - shares[c]) / sizes[c] for c in cells))

    diff = shares["treatment", "pilot"] - shares["control", "pilot"]
    expected_diff = expected["treatment"]["pilot"] - expected["control"]["pilot"]
    assert diff > 0
    assert abs(diff - expected_diff) < 3 * se(("treatment", "pilot"), ("control", "pilot"))
    assert abs(expected_diff - truth["pilot_effect"]) < 0.02  # matched controls
    did = diff - (shares["treatment", "pre"] - shares["control", "pre"])
    assert abs(did - truth["pilot_did"]) < 3 * se(*shares)


def test_comments_agree_with_the_score(default_data):
    _, _, t = default_data
    survey = t["survey"].dropna(subset=["comment"])
    table = retail._comment_table()  # [language, sentiment(neg, neu, pos), driver, variant]
    sentiment_of = {
        text: s for lang in table for s, block in enumerate(lang) for text in block.flat
    }
    sentiment = survey["comment"].map(sentiment_of)
    assert sentiment.notna().all()
    score = survey["overall_satisfaction"]
    clean = score.isin([1, 2, 3, 4, 5])
    expected = np.select([score <= 2, score == 3], [0, 1], 2)
    assert (sentiment[clean] == expected[clean]).all()
    assert 0.2 < survey["comment"].str.contains(r"[\u4e00-\u9fff]").mean() < 0.6


# ---------------------------------------------------------------------------------------------
# Parameters and personal-data helper
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fmt": "xlsx"},
        {"months": 5},
        {"n_stores": 3},
        {"n_customers": 10},
        {"responses_per_wave": 0},
        {"end_date": "not a date"},
        {"seed": -1},
    ],
)
def test_bad_parameters_raise(tmp_path, kwargs):
    with pytest.raises(ParameterError) as info:
        generate_retail(tmp_path / "x", **kwargs)
    assert isinstance(info.value, CrmlabError)
    assert "generate_retail" in str(info.value)


def test_fake_people():
    rng = np.random.default_rng(3)
    gender = np.array(["F", "M", "X"] * 400)
    people = fake_people(rng, len(gender), gender=gender, zh_share=0.5)
    assert set(people) == {"name", "email", "phone", "locale"}
    assert all(len(v) == len(gender) for v in people.values())
    zh = people["locale"] == "zh"
    names = pd.Series(people["name"].astype(object))
    assert names[zh].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
    assert names[~zh].str.fullmatch(r"[A-Za-z'.-]+ [A-Za-z'.-]+").all()
    assert 0.45 < zh.mean() < 0.55
    assert pd.Series(people["email"].astype(object)).is_unique
    phones = pd.Series(people["phone"].astype(object))
    assert phones[zh].str.fullmatch(r"\+86 100 \d{4} \d{4}").all()  # no mobile starts 100
    assert phones[~zh].str.fullmatch(r"\(555\) [2-9]\d{2}-\d{4}").all()
    # Same generator state -> same people.
    again = fake_people(np.random.default_rng(3), len(gender), gender=gender, zh_share=0.5)
    assert (again["email"] == people["email"]).all()


def test_id_formats_scale_with_size():
    assert re.fullmatch(r"C\d{6}", str(retail._ids("C", [5], 6)[0]))
    assert str(retail._ids("C", [1_000_001], 7)[0]) == "C1000001"
