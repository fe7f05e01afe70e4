"""Customer features on a tiny hand-made data set (every number computed by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.errors import DataError
from crmlab.features import customer_features


@pytest.fixture
def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "signup_date": ["2024-01-01", "2024-02-01", "2024-03-01"],
            "region": ["north", "south", "north"],
            "loyalty_member": [True, False, True],
        }
    )


@pytest.fixture
def transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
            "customer_id": ["C1", "C1", "C1", "C1", "C1", "C2"],
            "store_id": ["S1", "S2", "S1", "S1", "S1", "S2"],
            "date": [
                "2024-03-01 09:00",
                "2024-03-01 17:30",  # same day: one purchase day
                "2024-03-11",
                "2024-03-21",
                "2024-03-25",
                "2024-03-05",
            ],  # fmt: skip
            "amount": [10.0, 20.0, 30.0, 40.0, -15.0, 50.0],  # T5 is a return
            "items": [1, 2, 3, 2, -1, 4],
            "promotion": [1, 0, 1, 0, 0, 1],
        }
    )


def test_transaction_features_hand_computed(customers, transactions):
    f = customer_features(customers, transactions)
    # as_of = day after the last transaction (2024-03-25)
    assert f.attrs["as_of"] == pd.Timestamp("2024-03-26")
    c1 = f.loc["C1"]
    assert c1["n_transactions"] == 4 and c1["n_returns"] == 1
    assert c1["frequency"] == 3  # purchase days 03-01, 03-11, 03-21 (the return day is not one)
    assert c1["monetary"] == 85.0  # 10 + 20 + 30 + 40 - 15
    assert c1["gross_spend"] == 100.0
    assert c1["avg_basket"] == 25.0  # 100 / 4 purchases
    assert c1["avg_items"] == 2.0  # (1 + 2 + 3 + 2) / 4
    assert c1["first_purchase"] == pd.Timestamp("2024-03-01")
    assert c1["last_purchase"] == pd.Timestamp("2024-03-21")
    assert c1["recency_days"] == 5  # 03-26 - 03-21
    assert c1["days_since_first_purchase"] == 25
    assert c1["cadence_days"] == 10  # 20 days over 2 gaps
    assert c1["promo_share"] == 0.5  # 2 of 4 purchases
    assert c1["returns_share"] == 0.2  # 1 of 5 rows
    assert c1["n_stores"] == 2
    assert c1["tenure_days"] == 85  # 2024-01-01 -> 2024-03-26 (leap year: 31 + 29 + 25)
    c2 = f.loc["C2"]
    assert (c2["frequency"], c2["monetary"], c2["recency_days"]) == (1, 50.0, 21)
    assert np.isnan(c2["cadence_days"]) and c2["promo_share"] == 1.0 and c2["returns_share"] == 0
    # customer who never bought
    c3 = f.loc["C3"]
    assert (c3["frequency"], c3["n_transactions"], c3["monetary"]) == (0, 0, 0.0)
    assert np.isnan(c3["recency_days"]) and pd.isna(c3["last_purchase"])
    # pass-through columns and dtypes
    assert f.index.tolist() == ["C1", "C2", "C3"] and f.index.name == "customer_id"
    assert f.loc["C2", "region"] == "south" and not f.loc["C2", "loyalty_member"]
    assert f["frequency"].dtype == "int64"


def test_as_of_cuts_later_events(customers, transactions):
    f = customer_features(customers, transactions, as_of="2024-03-22")
    c1 = f.loc["C1"]
    assert c1["monetary"] == 100.0 and c1["n_returns"] == 0  # the 03-25 return is after as_of
    assert c1["recency_days"] == 1
    f2 = customer_features(customers, transactions, as_of="2024-03-05")
    # C2's purchase on 03-05 is not before as_of
    assert f2.loc["C2", "frequency"] == 0 and f2.loc["C1", "frequency"] == 1


def _survey() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [1, 2, 3],
            "customer_id": ["C1", None, "C1"],
            "store_id": ["S1", "S1", "S1"],
            "date": ["2024-03-10", "2024-03-12", "2024-02-01"],
            "wave": [2, 2, 1],
            "overall_satisfaction": [4.0, 1.0, 2.0],
            "recommend": [9.0, 0.0, 5.0],
            "staff": [5.0, 1.0, 2.0],
            "price": [3.0, 1.0, 4.0],
            "comment": ["ok", "bad", None],
        }
    )


def _complaints() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "complaint_id": ["K1", "K2", "K3"],
            "customer_id": ["C1", "C1", "C2"],
            "date": ["2024-03-02", "2024-03-15", "2024-03-06"],
            "category": ["queue", "product", "queue"],
            "resolved": ["yes", "no", "yes"],
            "days_to_resolve": [3.0, None, 5.0],
        }
    )


def test_survey_and_complaints_joined(customers, transactions):
    f = customer_features(customers, transactions, _survey(), _complaints())
    c1 = f.loc["C1"]
    assert c1["n_survey_responses"] == 2  # the anonymous answer is not counted
    assert c1["last_survey_date"] == pd.Timestamp("2024-03-10")
    assert (c1["overall_satisfaction"], c1["recommend"]) == (4.0, 9.0)  # latest answer
    assert c1["driver_mean"] == 4.0  # (5 + 3) / 2
    assert (c1["staff"], c1["price"]) == (5.0, 3.0)
    assert (c1["n_complaints"], c1["n_unresolved"], c1["mean_days_to_resolve"]) == (2, 1, 3.0)
    c2 = f.loc["C2"]
    assert c2["n_survey_responses"] == 0 and np.isnan(c2["overall_satisfaction"])
    assert (c2["n_complaints"], c2["n_unresolved"], c2["mean_days_to_resolve"]) == (1, 0, 5.0)
    c3 = f.loc["C3"]
    assert (c3["n_complaints"], c3["n_unresolved"]) == (0, 0)
    assert np.isnan(c3["mean_days_to_resolve"])


def test_survey_only(customers):
    f = customer_features(customers, survey=_survey())
    assert f.attrs["as_of"] == pd.Timestamp("2024-03-11")  # day after the last dated answer
    assert "frequency" not in f.columns
    assert f.loc["C1", "overall_satisfaction"] == 4.0
    assert f.loc["C1", "tenure_days"] == 70  # 2024-01-01 -> 2024-03-11


def test_bad_inputs_raise(customers, transactions):
    orphan = transactions.assign(customer_id=["C1", "C1", "C1", "C1", "C1", "C9"])
    with pytest.raises(DataError, match="not in customers"):
        customer_features(customers, orphan)
    missing = transactions.assign(amount=[10.0, None, 30.0, 40.0, -15.0, 50.0])
    with pytest.raises(DataError, match="amount"):
        customer_features(customers, missing)
    bad_date = transactions.assign(date=["2024-03-01", "soon", "2024-03-11", "x", "y", "z"])
    with pytest.raises(DataError, match="not dates"):
        customer_features(customers, bad_date)
    dup = pd.concat([customers, customers.iloc[[0]]])
    with pytest.raises(DataError, match="duplicated"):
        customer_features(dup, transactions)
