"""crmlab.modeling: any customer table to numeric features (known answers on hand-made tables)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crmlab import modeling
from crmlab.errors import DataError


@pytest.fixture
def client_table():
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "age": [30.0, np.nan, 50.0, 40.0, 20.0, 60.0],
            "app_user": ["yes", "No", " YES ", None, "n", "y"],
            "owns_home": ["是", "否", "是", "是", "否", "是"],
            "region": ["north", "south", "north", "east", "south", "north"],
            "comment": ["x1", "x2", "x3", "x4", "x5", "x6"],
            "opened": ["2024-01-05", "2023-02-11", "2022-03-01", "2021-12-31", "2020-06-30", "2024-07-07"],
            "country": ["CN"] * 6,
            "vip": pd.array([True, False, None, True, False, False], dtype="boolean"),
            "score_text": ["1.5", "2", "3.5", "2", "1", "4"],
            "tier": pd.Categorical(["gold", None, "gold", "silver", "gold", "silver"]),
            "branch_code": ["B1", "B2", "B1", "B2", "B1", "B2"],
        }
    )  # fmt: skip


def test_auto_features_encodes_every_kind_of_column_by_the_documented_rules(client_table):
    af = modeling.auto_features(client_table, exclude=["score_text"], max_categories=5)
    kinds = af.report.set_index("column")["kind"].to_dict()
    assert kinds == {
        "customer_id": "excluded",  # identifier by name
        "age": "numeric",
        "app_user": "yes/no flag",
        "owns_home": "yes/no flag",
        "region": "categorical",
        "comment": "excluded",  # 6 distinct values > 5
        "opened": "excluded",  # dates
        "country": "excluded",  # constant
        "vip": "yes/no flag",
        "score_text": "excluded",  # named in exclude
        "tier": "categorical",
        "branch_code": "excluded",  # identifier by name (_code)
    }
    assert af.features == [
        "age", "app_user", "owns_home", "region_east", "region_south", "vip", "tier_missing",
        "tier_silver",
    ]  # fmt: skip
    X = af.X
    # age: the missing value is filled with the median of 20, 30, 40, 50, 60
    assert X["age"].tolist() == [30.0, 40.0, 50.0, 40.0, 20.0, 60.0]
    # yes/no text in any case and spacing; the missing one gets the most frequent value (1)
    assert X["app_user"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert X["owns_home"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    # region: north is the most frequent level, hence the reference (no dummy)
    assert X["region_east"].tolist() == [0, 0, 0, 1, 0, 0]
    assert X["region_south"].tolist() == [0, 1, 0, 0, 1, 0]
    # boolean dtype with a missing value: most frequent (False) fills it
    assert X["vip"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    # categorical: gold is the reference; a missing value is its own level
    assert X["tier_missing"].tolist() == [0, 1, 0, 0, 0, 0]
    assert X["tier_silver"].tolist() == [0, 0, 0, 1, 0, 1]
    notes = af.report.set_index("column")["note"]
    assert "reference level: north" in notes["region"]
    assert "1 missing filled with the median 40" in notes["age"]
    assert (X.dtypes == np.float64).all() and X.index.equals(client_table.index)


def test_numbers_written_as_text_are_kept_as_numbers(client_table):
    af = modeling.auto_features(client_table[["score_text"]])
    assert af.report.loc[0, "kind"] == "numeric"
    assert af.X["score_text"].tolist() == [1.5, 2.0, 3.5, 2.0, 1.0, 4.0]


def test_transform_applies_the_fitted_encoding_to_new_rows(client_table):
    af = modeling.auto_features(client_table, max_categories=5)
    new = client_table.iloc[:2].copy()
    new["region"] = ["west", "south"]  # unseen level -> reference (all dummies 0)
    new["age"] = [np.nan, 70.0]  # filled with the *fitting* median (40)
    new["app_user"] = ["maybe", "yes"]  # not a yes/no token -> fitted fill value (1)
    X = af.transform(new)
    assert list(X.columns) == af.features
    assert X["region_east"].tolist() == [0, 0] and X["region_south"].tolist() == [0, 1]
    assert X["age"].tolist() == [40.0, 70.0]
    assert X["app_user"].tolist() == [1.0, 1.0]
    with pytest.raises(DataError, match="region"):
        af.transform(new.drop(columns="region"))


def test_dummy_names_are_cleaned_and_collisions_rejected():
    df = pd.DataFrame({"channel": ["Online Bank", "branch", "branch", "Online-Bank!", "agent"]})
    af = modeling.auto_features(df)
    assert af.features == ["channel_agent", "channel_online_bank", "channel_online_bank_2"]
    clash = pd.DataFrame({"a": ["x", "y", "y"], "a_x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="a_x"):
        modeling.auto_features(clash)
    with pytest.raises(DataError, match="no rows"):
        modeling.auto_features(df.iloc[:0])


def test_churn_design_joins_encoded_customer_columns_onto_any_data_set():
    customers = pd.DataFrame(
        {
            "customer_id": ["P-1", "P-2", "P-3", "P-4"],
            "open_date": pd.to_datetime(["2020-01-01"] * 4),
            "closure_date": pd.to_datetime([None, "2024-05-01", None, None]),
            "mobile_app": ["是", "否", "是", "否"],
            "channel": ["branch", "online", "branch", "agent"],
            "tenure_months": [1, 2, 3, 4],  # also a behaviour feature: the data set's copy wins
        }
    )
    train = pd.DataFrame(
        {"customer_id": ["P-3", "P-1", "P-2"], "tenure_months": [10.0, 20.0, 30.0], "churned": [0, 0, 1]}
    )  # fmt: skip
    design = modeling.churn_design(train, customers, ["tenure_months"])
    # the encoding is fitted on the training customers only (P-4 and its 'agent' level unseen)
    assert design.features == ["tenure_months", "mobile_app", "channel_online"]
    kinds = design.report.set_index("column")["kind"]
    assert kinds["closure_date"] == "excluded" and kinds["open_date"] == "excluded"
    frame = design.frame(train)
    assert frame["mobile_app"].tolist() == [1.0, 1.0, 0.0]
    assert frame["channel_online"].tolist() == [0.0, 0.0, 1.0]
    assert frame["tenure_months"].tolist() == [10.0, 20.0, 30.0]
    score = pd.DataFrame({"customer_id": ["P-4"], "tenure_months": [5.0]})
    assert design.frame(score)["channel_online"].tolist() == [0.0]  # unseen 'agent' -> reference
    with pytest.raises(DataError, match="not in the customer table"):
        design.frame(pd.DataFrame({"customer_id": ["P-9"], "tenure_months": [1.0]}))


def test_feature_influence_ranks_supported_effects_by_coef_times_sd():
    table = pd.DataFrame(
        {
            "feature": ["a", "b", "c"],
            "coef": [0.5, -2.0, 3.0],
            "std_err": [0.1, 0.5, 3.0],
            "odds_ratio": np.exp([0.5, -2.0, 3.0]),
            "ci_low": [1.3, 0.05, 0.05],
            "ci_high": [2.0, 0.4, 400.0],
            "p_value": [0.001, 0.01, 0.3],
        }
    )
    frame = pd.DataFrame({"a": [0.0, 2.0, 4.0], "b": [0.0, 0.0, 1.5], "c": [1.0, 2.0, 3.0]})
    out = modeling.feature_influence(SimpleNamespace(table=table), frame)
    # sd (ddof 1): a 2.0, b 0.866, c 1.0 -> std effects 1.0, -1.732, 3.0; c is not significant
    assert out["feature"].tolist() == ["b", "a", "c"]
    assert out["std_effect"].tolist() == pytest.approx([-2.0 * np.sqrt(0.75), 1.0, 3.0])
    assert out["odds_ratio_per_sd"].tolist() == pytest.approx(np.exp(out["std_effect"]))
    assert out["z"].tolist() == pytest.approx([-4.0, 5.0, 1.0])
    assert out["direction"].tolist() == ["lowers churn", "raises churn", "raises churn"]
