"""The scalable feature layer (crmlab.engine): hand-computed answers, parity with the pandas path,
DuckDB == Spark, and a guard that raw transactions never reach pandas on the DuckDB path."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlab import engine, privacy, quality
from crmlab.errors import ConfigError, DataError
from crmlab.synth.finance import generate_finance
from crmlab.synth.retail import generate_retail

RTOL = 1e-12  # sums run in another order in the engines; everything else is exact
# ibis 12 still calls DuckDB's fetch_arrow_table (renamed in DuckDB 2.0; works, warns)
# and reads pandas' future.infer_string option, pyspark 4.0 passes copy= to astype (both
# deprecated in pandas 3); they only warn
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
TINY_RULES = quality.retail_rules(["product_quality", "staff_service"])


def _write(folder, name: str, text: str) -> None:
    (folder / f"{name}.csv").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Hand-made tables with one of each fault; the expected features are worked out below."""
    d = tmp_path_factory.mktemp("tiny")
    _write(
        d,
        "customers",
        """
        customer_id,name,signup_date,region,loyalty_member
        C1,Ann,2024-01-01,North,yes
        C2,Bob,2024-06-15,South,no
        C3,Cy,,East,maybe
        C2,Bob Two,2024-07-01,South,no
        """,
    )
    _write(
        d,
        "transactions",
        """
        transaction_id,customer_id,store_id,date,amount,items,promotion
        T1,C1,S1,2024-03-01,10.00,1,0
        T1,C1,S1,2024-03-01,10.00,1,0
        T2,C1,S2,2024-03-01,20.00,2,1
        T3,C1,S1,2024-03-11,-5.00,-1,0
        T4,C1,S1,2024-03-21,30.00,3,1
        T5,C2,S1,2024-02-01,,1,0
        T6,C9,S1,2024-02-01,50.00,1,0
        T7,C2,S1,2024-03-31,40.00,4,0
        T7,C2,S1,2024-03-30,99.00,9,1
        T8,C2,S9,2024-03-15,70.00,7,0
        """,
    )
    _write(
        d,
        "survey",
        """
        response_id,customer_id,store_id,date,wave,overall_satisfaction,recommend,product_quality,staff_service
        R1,C1,S1,2024-02-10,2024-02,4,8,4,5
        R2,C1,S1,2024-03-05,2024-03,2,3,2,
        R3,C1,S1,2024-03-05,2024-03,5,9,5,4
        R4,,S1,2024-03-06,2024-03,5,10,5,5
        R5,C2,S1,2024-03-07,2024-03,7,9,3,9
        R6,C2,S1,2024-04-05,2024-04,3,5,3,3
        """,
    )
    _write(
        d,
        "complaints",
        """
        complaint_id,customer_id,date,category,resolved,days_to_resolve
        Q1,C1,2024-02-01,price,yes,3
        Q2,C1,2024-03-01,service,no,
        Q3,C2,2024-03-02,other,Y,5
        Q4,C2,2024-03-03,other,yes,-2
        """,
    )
    _write(
        d,
        "stores",
        """
        store_id,store_name,region,opened_date
        S1,Riverside,North,2010-05-01
        S2,Old Town,South,2012-01-01
        """,
    )
    return d


def test_tiny_tables_give_the_hand_computed_features(tiny):
    f = engine.customer_features(tiny, engine="duckdb", rules=TINY_RULES)
    # C2's second row (same key) is dropped; order and ids as in the customers file
    assert f.index.tolist() == ["C1", "C2", "C3"]
    # last kept transaction 2024-03-31 -> as_of is the next day
    assert f.attrs["as_of"] == pd.Timestamp("2024-04-01")
    assert f["loyalty_member"].tolist()[:2] == [True, False]
    assert pd.isna(f.loc["C3", "loyalty_member"])  # "maybe" is not yes/no
    # tenure: 2024 is a leap year, Jan 31 + Feb 29 + Mar 31 days
    assert f.loc["C1", "tenure_days"] == 91.0
    assert f.loc["C2", "tenure_days"] == -75.0
    # C1: T1 (copy dropped) and T2 on 03-01, T4 on 03-21, return T3
    c1 = f.loc["C1"]
    assert (c1.n_transactions, c1.n_returns, c1.frequency, c1.n_stores) == (3, 1, 2, 2)
    assert (c1.monetary, c1.gross_spend, c1.avg_basket, c1.avg_items) == (55.0, 60.0, 20.0, 2.0)
    assert c1.first_purchase == pd.Timestamp("2024-03-01")
    assert c1.last_purchase == pd.Timestamp("2024-03-21")
    assert (c1.recency_days, c1.days_since_first_purchase, c1.cadence_days) == (11.0, 31.0, 20.0)
    assert c1.promo_share == pytest.approx(2 / 3, rel=RTOL)
    assert c1.returns_share == 0.25
    # C2: T5 (missing amount) dropped, T7's second row (same key) dropped, T8's store unknown
    c2 = f.loc["C2"]
    assert (c2.n_transactions, c2.frequency, c2.monetary, c2.recency_days) == (1, 1, 40.0, 1.0)
    assert np.isnan(c2.cadence_days) and c2.returns_share == 0.0
    # C3 never bought
    c3 = f.loc["C3"]
    assert (c3.n_transactions, c3.frequency, c3.monetary, c3.n_stores) == (0, 0, 0.0, 0)
    assert np.isnan(c3.avg_basket) and np.isnan(c3.recency_days) and np.isnan(c3.returns_share)
    # survey: R3 is C1's latest (same day as R2, later in the file); R5's 7 and 9 are out of
    # range; R6 is after as_of; R4 is anonymous
    assert f["n_survey_responses"].tolist() == [3, 1, 0]
    assert f.loc["C1", ["overall_satisfaction", "recommend", "staff_service"]].tolist() == [5, 9, 4]
    assert f.loc["C1", "driver_mean"] == 4.5
    assert np.isnan(f.loc["C2", "overall_satisfaction"]) and f.loc["C2", "driver_mean"] == 3.0
    assert f.loc["C1", "last_survey_date"] == pd.Timestamp("2024-03-05")
    # complaints: Q4's negative days are set to missing
    assert f["n_complaints"].tolist() == [2, 2, 0]
    assert f["n_unresolved"].tolist() == [1, 0, 0]
    assert f.loc["C1", "mean_days_to_resolve"] == 3.0
    assert f.loc["C2", "mean_days_to_resolve"] == 5.0


def test_tiny_tables_duckdb_equals_pandas(tiny):
    ref = engine.customer_features(tiny, engine="pandas", rules=TINY_RULES)
    got = engine.customer_features(tiny, engine="duckdb", rules=TINY_RULES)
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)
    assert got.attrs == ref.attrs


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """2,000 generated customers (about 40,000 transactions) as Parquet and as CSV."""
    root = tmp_path_factory.mktemp("retail")
    for fmt in ("parquet", "csv"):
        generate_retail(root / fmt, n_customers=2000, seed=7, fmt=fmt)
    return root


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_duckdb_equals_pandas_on_generated_data(generated, fmt):
    ref = engine.customer_features(generated / fmt, engine="pandas")
    got = engine.customer_features(generated / fmt, engine="duckdb")
    assert len(got) == 2000 and got["n_transactions"].sum() > 30_000
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)
    assert got.attrs == ref.attrs


def test_duckdb_equals_pandas_with_an_earlier_as_of(generated):
    ref = engine.customer_features(generated / "parquet", engine="pandas", as_of="2026-03-15")
    got = engine.customer_features(generated / "parquet", engine="duckdb", as_of="2026-03-15")
    assert got["last_purchase"].max() < pd.Timestamp("2026-03-15")
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)


def test_aggregation_in_passes_gives_the_same_table(generated, tmp_path):
    """Large inputs are built slice by slice of the customers file (each slice's cleaned rows
    written once to a scratch Parquet partition); the result must not change, also written to
    Parquet, and the scratch files are removed with the build."""
    import gc

    from crmlab.engine import retail

    ref = engine.customer_features(generated / "parquet", engine="pandas")
    spill = tmp_path / "spill"
    con = engine.connect(temp_directory=spill)
    srcs = retail.load_sources(con, generated / "parquet")
    build = retail.build_retail_features(con, srcs, rows_per_pass=10_000)  # 4+ passes
    assert len(build.slices) >= 4
    got = retail.to_pandas(build, build.to_pyarrow())
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)
    build.to_parquet(tmp_path / "features.parquet")
    written = retail.to_pandas(build, pq.read_table(tmp_path / "features.parquet"))
    pd.testing.assert_frame_equal(written, ref, rtol=RTOL)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert list(spill.glob("crmlab-slices-*"))
    del build
    gc.collect()
    assert spill.is_dir() and not list(spill.glob("crmlab-s*"))


def _one_pass_and_slices(data_dir, rules=None, rows_per_pass=2):
    """The features of ``data_dir`` built in one pass and in slices of the customers file
    (``rows_per_pass`` transaction rows a pass), both as pandas, with both builds' as_of."""
    from crmlab.engine import retail

    out = []
    for per_pass in (None, rows_per_pass):
        con = engine.connect()
        srcs = retail.load_sources(con, data_dir)
        build = retail.build_retail_features(con, srcs, rules, rows_per_pass=per_pass)
        assert bool(build.slices) == (per_pass is not None and "customers" in srcs)
        out.append((retail.to_pandas(build, build.to_pyarrow()), build.as_of))
    return out


def test_slices_with_no_transactions_or_no_customers_give_the_one_pass_table(tiny):
    """Ten transaction rows two a pass: five slices of one customer each. C3 (no purchase)
    has a slice without transactions, the dropped copy of C2 (4th row) an empty slice; the
    table is the one-pass table, in the customers file's order."""
    (one, as_of), (sliced, as_of_sliced) = _one_pass_and_slices(tiny, TINY_RULES)
    pd.testing.assert_frame_equal(sliced, one, rtol=RTOL)
    assert list(sliced.index) == ["C1", "C2", "C3"]
    assert sliced.loc["C3", ["n_transactions", "frequency", "n_stores"]].tolist() == [0, 0, 0]
    # C1 buys on 03-01 (twice) and 03-21; C2's T7 keeps its first copy (40), T5 has no
    # amount and T8 is at an unknown store
    assert sliced.loc["C1", "frequency"] == 2 and sliced.loc["C2", "monetary"] == 40.0
    assert as_of == as_of_sliced == pd.Timestamp("2024-04-01").date()


def test_slices_leave_an_unknown_customers_later_purchase_out_of_as_of(tiny, tmp_path):
    """The orphan C9 buys after everyone else: with the rules' foreign key to customers its
    date is not the last transaction (as_of the day after 2024-03-31); without that key it is
    (2024-05-02). Both builds agree either way."""
    import shutil

    for f in tiny.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    tx = tmp_path / "transactions.csv"
    tx.write_text(tx.read_text().replace("T6,C9,S1,2024-02-01", "T6,C9,S1,2024-05-01"))
    (one, as_of), (sliced, as_of_sliced) = _one_pass_and_slices(tmp_path, TINY_RULES)
    assert as_of == as_of_sliced == pd.Timestamp("2024-04-01").date()
    pd.testing.assert_frame_equal(sliced, one, rtol=RTOL)
    no_fk = {k: dict(v) for k, v in TINY_RULES.items()}
    no_fk["transactions"]["foreign_keys"] = {
        k: v for k, v in no_fk["transactions"]["foreign_keys"].items() if v != "customers"
    }
    (one, as_of), (sliced, as_of_sliced) = _one_pass_and_slices(tmp_path, no_fk)
    assert as_of == as_of_sliced == pd.Timestamp("2024-05-02").date()
    assert (
        sliced.loc["C1", "recency_days"]
        == (pd.Timestamp("2024-05-02") - pd.Timestamp("2024-03-21")).days
    )
    pd.testing.assert_frame_equal(sliced, one, rtol=RTOL)


def test_passes_without_a_customers_file_bucket_by_id_hash(tiny, tmp_path):
    """Without customers.csv the customers are those of the transactions (first-seen order)
    and the passes go by buckets of the id's hash: the same table as one pass."""
    import shutil

    for f in tiny.glob("*.csv"):
        if f.stem != "customers":
            shutil.copy(f, tmp_path / f.name)
    rules = {k: v for k, v in TINY_RULES.items() if k != "customers"}
    rules["transactions"] = dict(rules["transactions"])
    rules["transactions"]["foreign_keys"] = {
        k: v for k, v in rules["transactions"]["foreign_keys"].items() if v != "customers"
    }
    (one, _), (passes, _) = _one_pass_and_slices(tmp_path, rules)
    pd.testing.assert_frame_equal(passes, one, rtol=RTOL)
    assert list(passes.index) == ["C1", "C9", "C2"]


def test_duplicated_keys_are_exact_whatever_the_hash_collisions():
    """Keys are found by their hashes first; a hash shared by different keys (here the key's
    length: every key collides) only adds candidates, never a wrong duplicate."""
    from crmlab.engine.clean import ROW, duplicated_keys

    con = engine.connect()
    keys = ["A1", "B2", "A1", " C3", "C3 ", "D44", "E55", "D44", "A1", "F6"]
    t = con.create_table(
        "keyed", pd.DataFrame({"_k": [k.strip() for k in keys], ROW: range(len(keys))})
    )
    hashes = {"default": None, "all collide": lambda k: k.length(), "one hash": lambda k: 7}
    for name, hash_of in hashes.items():
        got = duplicated_keys(t, hash_of).order_by("_dk").to_pyarrow().to_pylist()
        assert got == [
            {"_dk": "A1", "_first": 0},
            {"_dk": "C3", "_first": 3},
            {"_dk": "D44", "_first": 5},
        ], name


def test_duplicate_copies_are_pandas_duplicated_whatever_the_hash_collisions():
    """Exact copies of an earlier row (a table without a key, e.g. the finance snapshots) are
    found by row hashes first; the result is pandas' ``duplicated(keep="first")`` - missing
    values equal each other - however many hashes collide."""
    import ibis

    from crmlab.engine.clean import ROW, dedupe_keep_first, duplicate_copies

    df = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "a", None, None, "c", "c", "a", "b"],
            "month": ["2024-01", "2024-01", "2024-01", "2024-02", "2024-01", "2024-01"]
            + ["2024-03", "2024-03", "2024-01", "2024-01"],
            "balance": [1.5, 1.5, 2.0, 1.5, None, None, None, 3.0, 1.5, 2.0],
        }
    )
    want = [i for i, dup in enumerate(df.duplicated(keep="first")) if dup]
    assert want == [1, 5, 8, 9]  # the planted copies
    con = engine.connect()
    t = con.create_table("keyless", df.assign(**{ROW: range(len(df))}))
    hashes = {"default": None, "all collide": lambda t: ibis.literal(7)}
    hashes["month only"] = lambda t: t.month.hash()
    for name, hash_of in hashes.items():
        got = duplicate_copies(t, hash_of=hash_of).to_pyarrow()[ROW].to_pylist()
        assert sorted(got) == want, name
    kept = dedupe_keep_first(t).to_pyarrow()[ROW].to_pylist()
    assert sorted(kept) == [i for i in range(len(df)) if i not in want]


def test_dedupe_with_a_key_drops_repeated_keys_and_copies_of_keyless_rows():
    """pandas' two steps (exact copies, then repeated keys; first in file order wins) as one
    list of rows to drop: keys compare trimmed, a later row of a key goes even when it differs,
    rows without a key go only when they copy an earlier keyless row. Hand-checked answer."""
    from crmlab.engine.clean import ROW, dedupe_keep_first, repeated_rows

    df = pd.DataFrame(
        {
            "transaction_id": ["T1", "T2", "T1 ", None, None, "T3", None, "T2", "T4", "T3"],
            "amount": [1.0, 2.0, 9.0, 5.0, 5.0, 3.0, 6.0, 2.0, 4.0, 3.0],
        }
    )
    # T1 again (trimmed, other amount) at 2; keyless copy of 3 at 4; T2 again at 7; T3 at 9
    want_dropped = [2, 4, 7, 9]
    ref, _ = quality.drop_exact_duplicates(df)
    ref, _ = quality.drop_duplicate_keys(ref, "transaction_id")
    assert sorted(set(range(len(df))) - set(ref.index)) == want_dropped  # pandas agrees
    con = engine.connect()
    t = con.create_table("keyed_rows", df.assign(**{ROW: range(len(df))}))
    for cache in (False, True):
        dropped = repeated_rows(t, "transaction_id").to_pyarrow()[ROW].to_pylist()
        assert sorted(dropped) == want_dropped, cache
        kept = dedupe_keep_first(t, "transaction_id", cache).to_pyarrow()[ROW].to_pylist()
        assert sorted(kept) == [0, 1, 3, 5, 6, 8], cache


def test_passes_follow_the_memory_cap(generated, monkeypatch):
    """A pass holds at most memory_limit / BYTES_PER_ROW_IN_PASS rows: DuckDB reports a 2GB cap
    as 1.8 GiB, i.e. 21.5M rows; a 1 MB cap (11,111 rows a pass) splits the ~40,000 generated
    rows into 4 passes."""
    from crmlab.engine import backends, retail

    assert backends.memory_limit(engine.connect(memory_limit="2GB")) == int(1.8 * 2**30)
    con = engine.connect(memory_limit="2GB")
    seen = []
    real = retail._build_in_slices
    monkeypatch.setattr(retail, "_build_in_slices", lambda *a: seen.append(a[-1]) or real(*a))
    monkeypatch.setattr(retail, "memory_limit", lambda con: 1_000_000)
    srcs = retail.load_sources(con, generated / "parquet")
    n_rows = pq.ParquetFile(generated / "parquet" / "transactions.parquet").metadata.num_rows
    retail.build_retail_features(con, srcs)
    assert seen == [-(-n_rows // (1_000_000 // retail.BYTES_PER_ROW_IN_PASS))] and seen[0] >= 4


def test_pseudonymized_output_equals_the_pandas_path(generated):
    key = privacy.demo_key(42)
    ref = engine.customer_features(generated / "parquet", engine="pandas", key=key)
    got = engine.customer_features(generated / "parquet", engine="duckdb", key=key)
    assert not {"name", "email", "phone"} & set(got.columns)
    assert got.index[0] == privacy.pseudonym("C000001", key)
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)


def test_write_customer_features_streams_the_same_table_to_parquet(tiny, tmp_path):
    out = tmp_path / "features.parquet"
    as_of = engine.write_customer_features(tiny, out, rules=TINY_RULES)
    assert str(as_of) == "2024-04-01"
    back = pd.read_parquet(out)
    assert back["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert back["monetary"].tolist() == [55.0, 40.0, 0.0]


def test_number_reads_an_aggregate_over_no_rows_as_zero():
    """SQL NULL arrives as None (DuckDB) or NaN (Spark through pandas); both are 0."""
    from crmlab.engine.backends import number

    assert number(None) == 0 and number(float("nan")) == 0 and number(pd.NA) == 0
    assert number(np.int64(7)) == 7 and type(number(np.int64(7))) is int
    assert number(np.float64(2.5), float) == 2.5 and number(None, float) == 0.0
    assert type(number(None, float)) is float


def test_edged_id_columns_name_the_ids_that_start_or_end_with_whitespace(tmp_path):
    """Checked value by value: a leading space, a trailing tab or a control character marks a
    column; an inner space or an empty value does not."""
    from crmlab.engine.backends import edged_id_columns, register_source

    pd.DataFrame(
        {
            "transaction_id": ["T1", "T 2", "", "T4"],  # inner space, empty: not edged
            "customer_id": ["C1", " C2", "C3", "C4"],  # leading space
            "store_id": ["S1", "S2", "S3\t", "S4"],  # trailing tab
            "response_id": ["R1", "R2", "R3", "R4\x01"],  # trailing control character
            "note": [" x", "y ", "z", "w"],  # not an id: not checked
        }
    ).to_parquet(tmp_path / "t.parquet")
    con = engine.connect("duckdb")
    src = register_source(con, tmp_path / "t.parquet", "t")
    assert edged_id_columns(con, src) == {"customer_id", "store_id", "response_id"}


@pytest.mark.parametrize("padded", ["customers", "transactions"])
def test_an_id_padded_in_one_file_is_trimmed_in_every_file(tmp_path, padded):
    """Ids are compared trimmed. A column is taken as it is only when no file has that id
    with an edge space: here one file pads C2 and the other does not, and C2 must still get
    its two purchases (the check is per id name, across the files)."""
    from crmlab.engine.backends import plain_id_columns
    from crmlab.engine.retail import load_sources

    c2_customers = " C2" if padded == "customers" else "C2"
    c2_tx = "C2 " if padded == "transactions" else "C2"
    _write(
        tmp_path,
        "customers",
        f"customer_id,signup_date\nC1,2024-01-01\n{c2_customers},2024-01-02\n",
    )
    _write(
        tmp_path,
        "transactions",
        "transaction_id,customer_id,date,amount\n"
        f"T1,C1,2024-03-01,10\nT2,{c2_tx},2024-03-02,20\nT3,{c2_tx},2024-03-05,30\n",
    )
    con = engine.connect("duckdb")
    plain = plain_id_columns(con, load_sources(con, tmp_path).values())
    assert plain == {"transaction_id"}
    feats = engine.customer_features(tmp_path, con=con)
    assert feats["n_transactions"].tolist() == [1, 2]
    assert feats["monetary"].tolist() == [10.0, 50.0]
    assert feats["frequency"].tolist() == [1, 2]


def test_plain_ids_skip_the_trim_of_plain_column_references_only():
    """Inside ``plain_ids`` a named id column is used as it is; another column, a computed
    value and anything outside the block keep the trim."""
    import ibis

    from crmlab.engine.clean import _blank, id_text, plain_ids

    t = ibis.table({"customer_id": "string", "store_id": "string"}, name="t")
    sql = lambda e: ibis.to_sql(t.select(x=e), dialect="duckdb")  # noqa: E731
    with plain_ids({"customer_id"}):
        assert "TRIM" not in sql(id_text(t.customer_id))
        assert "TRIM" not in sql(_blank(t.customer_id))
        assert "TRIM" in sql(id_text(t.store_id))
        assert "TRIM" in sql(id_text(t.customer_id.lower()))
    assert "TRIM" in sql(id_text(t.customer_id))


def test_build_memory_limit_is_4gb_or_half_the_machine():
    """4 GB on a machine of 8 GB or more; half the memory in whole GB below (at least 1 GB)."""
    from crmlab.engine.backends import build_memory_limit

    gib = 2**30
    assert build_memory_limit(24 * gib) == "4GB"
    assert build_memory_limit(8 * gib) == "4GB"
    assert build_memory_limit(6 * gib) == "3GB"
    assert build_memory_limit(3 * gib) == "1GB"  # 1.5 GB rounds down to 1
    assert build_memory_limit(gib) == "1GB"


def test_stand_alone_build_connects_duckdb_under_the_build_cap(tiny, tmp_path, monkeypatch):
    """Without ``con`` both build functions open DuckDB capped at build_memory_limit (DuckDB
    reports the cap in GiB: 4 GB = 3.7 GiB); a given connection is used as it is."""
    from crmlab.engine import backends

    caps = []
    real = engine.connect

    def spy(*a, **k):
        con = real(*a, **k)
        caps.append(backends.memory_limit(con))
        return con

    monkeypatch.setattr(engine, "connect", spy)
    monkeypatch.setattr(backends, "physical_memory", lambda: 24 * 2**30)
    engine.customer_features(tiny, rules=TINY_RULES)
    engine.write_customer_features(tiny, tmp_path / "f.parquet", rules=TINY_RULES)
    assert caps == [int(3.7 * 2**30)] * 2
    mine = real("duckdb", memory_limit="1GB")
    engine.customer_features(tiny, rules=TINY_RULES, con=mine)
    assert len(caps) == 2 and backends.memory_limit(mine) < 2**30


def test_bad_input_raises_data_error(tmp_path, tiny):
    with pytest.raises(ConfigError, match="engine must be one of"):
        engine.customer_features(tiny, engine="polars")
    with pytest.raises(DataError, match="does not exist"):
        engine.customer_features(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad, "customers", "customer_id,signup_date,loyalty_member\nC1,2024-01-01,yes\n")
    _write(
        bad,
        "transactions",
        "transaction_id,customer_id,date,amount,promotion\nT1,C1,2024-01-02,12;50,0\n",
    )
    with pytest.raises(DataError, match="amount is not numeric"):
        engine.customer_features(bad)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """1,500 generated bank customers with 36 monthly snapshots (Parquet)."""
    d = tmp_path_factory.mktemp("bank")
    generate_finance(d, n_customers=1500, seed=5, fmt="parquet")
    return d


@pytest.mark.parametrize("when", ["2025-11-01", "2024-11-01"])
def test_churn_dataset_duckdb_equals_pandas(bank, when):
    ref = engine.churn_dataset(bank, when, engine="pandas")
    got = engine.churn_dataset(bank, when, engine="duckdb")
    assert len(got) > 500 and got["churned"].sum() > 20
    pd.testing.assert_frame_equal(got, ref, rtol=RTOL)


def test_snapshot_means_are_pandas_means_to_the_last_bit():
    """Per customer means over the lookback: whole-number columns as sum / count, others from
    the values sorted by month in the engine - both equal to pandas' groupby mean over the
    month-sorted rows exactly (rows stored out of order; balances whose float sum depends on
    the order of addition)."""
    from crmlab.engine.clean import ROW
    from crmlab.engine.finance import mean_columns, snapshot_aggregates

    rng = np.random.default_rng(7)
    n = 600
    df = pd.DataFrame(
        {
            "customer_id": rng.choice([f"C{i}" for i in range(60)], n),
            "month": [f"2024-{m:02d}" for m in rng.integers(1, 13, n)],
            "balance": rng.choice([0.1, 0.2, 0.3, 1e16, -1e16, 7.7, np.nan], n),
            "logins": rng.integers(0, 40, n).astype(float),
            "n_transactions": rng.choice([0.0, 3.0, 11.0, np.nan], n),
            "fee_rise": rng.integers(0, 2, n),
            "complaints": rng.integers(0, 3, n),
            "service_contacts": rng.integers(0, 3, n),
            "fees_charged": rng.choice([0.1, 0.7, 2.35, 1e15], n),
        }
    ).assign(**{ROW: range(n)})
    first, last = pd.Period("2024-03", "M"), pd.Period("2024-10", "M")
    con = engine.connect()
    t = con.create_table("snaps_means", df)
    agg = snapshot_aggregates(t, first.ordinal, last.ordinal, {"logins", "n_transactions"})
    agg = agg.to_pyarrow()
    assert "logins_mean|sum" in agg.column_names and "balance_mean" in agg.column_names
    got = pd.DataFrame(mean_columns(agg), index=agg["customer_id"].to_pylist()).sort_index()

    use = df.assign(_m=pd.PeriodIndex(df["month"], freq="M").asi8)
    use = use[(use["_m"] >= first.ordinal) & (use["_m"] <= last.ordinal)]
    use = use.sort_values(["customer_id", "_m", ROW], kind="mergesort")
    g = use.groupby("customer_id")
    recent = use[use["_m"] >= last.ordinal - 1].groupby("customer_id")
    want = pd.DataFrame(
        {
            "balance_mean": g["balance"].mean(),
            "logins_mean": g["logins"].mean(),
            "_logins_recent": recent["logins"].mean(),
            "_tx_mean": g["n_transactions"].mean(),
            "_tx_recent": recent["n_transactions"].mean(),
            "fees_mean": g["fees_charged"].mean(),
        }
    ).reindex(got.index)
    pd.testing.assert_frame_equal(got[want.columns], want, check_exact=True)


def test_churn_dataset_sums_the_lookback_months(bank):
    """Known answer from the raw file: months 2025-05..2025-10 for a 2025-11-01 prediction."""
    got = engine.churn_dataset(bank, "2025-11-01", engine="duckdb").set_index("customer_id")
    snaps = pd.read_parquet(bank / "snapshots.parquet")
    window = snaps[snaps["month"].between("2025-05", "2025-10")]
    who = got.index[got["months_observed"] == 6][:20]
    per = window[window["customer_id"].isin(who)].groupby("customer_id")
    assert (per.size().loc[who] == 6).all()
    np.testing.assert_allclose(got.loc[who, "complaints"], per["complaints"].sum().loc[who])
    np.testing.assert_allclose(got.loc[who, "logins_mean"], per["logins"].mean().loc[who])
    assert (got.loc[who, "last_data_month"] == "2025-10").all()


@pytest.fixture(scope="module")
def mid_size(tmp_path_factory):
    """20,000 customers, about 400,000 transaction rows (Parquet)."""
    d = tmp_path_factory.mktemp("mid")
    generate_retail(d, n_customers=20_000, seed=3, fmt="parquet", responses_per_wave=100)
    return d


def test_duckdb_path_never_materializes_transactions_in_pandas(mid_size, monkeypatch):
    import pyarrow.csv as pacsv

    def guarded(real):
        def read(source, *args, **kwargs):
            if "transactions" in str(source):
                raise AssertionError(f"transactions were read into Python: {source}")
            return real(source, *args, **kwargs)

        return read

    monkeypatch.setattr(pd, "read_parquet", guarded(pd.read_parquet))
    monkeypatch.setattr(pd, "read_csv", guarded(pd.read_csv))
    monkeypatch.setattr(pq, "read_table", guarded(pq.read_table))
    monkeypatch.setattr(pacsv, "read_csv", guarded(pacsv.read_csv))
    # the guard is wired: the pandas path trips it
    with pytest.raises(AssertionError, match="transactions were read"):
        engine.customer_features(mid_size, engine="pandas")

    # every result that leaves the engine is counted
    con = engine.connect("duckdb")
    fetched: list[int] = []
    for method in ("to_pyarrow", "execute", "to_pyarrow_batches", "to_pandas"):
        real = getattr(con, method)

        def spy(expr, *args, _real=real, **kwargs):
            out = _real(expr, *args, **kwargs)
            fetched.append(len(out) if hasattr(out, "__len__") else 1)
            return out

        monkeypatch.setattr(con, method, spy)
    n_tx = pq.ParquetFile(mid_size / "transactions.parquet").metadata.num_rows
    feats = engine.customer_features(mid_size, engine="duckdb", con=con)
    assert n_tx > 350_000 and len(feats) == 20_000
    assert fetched and max(fetched) == 20_000  # the customer-level table, nothing bigger


@pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17 (not installed)")
def test_spark_equals_duckdb(tiny, generated, bank):
    """One Spark session (local[2]) for every Spark check: starting Spark is the slow part."""
    spark_con = engine.connect("spark")
    try:
        cases = [(generated / "parquet", None), (tiny, None), (tiny, "2024-03-25")]
        for folder, as_of in cases:
            rules = TINY_RULES if folder == tiny else None
            ref = engine.customer_features(folder, engine="duckdb", as_of=as_of, rules=rules)
            got = engine.customer_features(
                folder, engine="spark", as_of=as_of, rules=rules, con=spark_con
            )
            pd.testing.assert_frame_equal(got, ref, rtol=RTOL)
            assert got.attrs == ref.attrs
        ref = engine.churn_dataset(bank, "2025-11-01", engine="duckdb")
        got = engine.churn_dataset(bank, "2025-11-01", engine="spark", con=spark_con)
        pd.testing.assert_frame_equal(got, ref, rtol=RTOL)
    finally:
        spark_con._session.stop()


CASE = "retail_satisfaction"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """Transactions with one of every fault the checks count (see the test for the answers)."""
    d = tmp_path_factory.mktemp("faulty")
    _write(d, "customers", "customer_id,signup_date\nC1,2024-01-01\nC2,2024-02-01\nC2,2024-02-01\n")
    _write(d, "stores", "store_id,region\nS1,North\n")
    _write(
        d,
        "transactions",
        """
        transaction_id,customer_id,store_id,date,amount,items,promotion
        T1,C1,S1,2024-03-01,10.0,1,0
        T1,C1,S1,2024-03-01,10.0,1,0
        T1,C1,S1,2024-03-01,10.0,1,0
        T2,C1,S1,2024-03-02,20.0,1,1
        T2,C2,S1,2024-03-02,25.0,1,1
        T2,C2,S1,2024-03-03,26.0,1,1
        T3, C2 ,S1,2024-03-04,-5.0,1,0
        T4,,S1,2024-03-05,5.0,1,0
        T5,C1,S1,2024-13-45,5.0,1,0
        T6,C1,S1,2024-03-06,,1,2
        T7,C7,S1,2024-03-07,7.0,1,0
        T8,C7,S9,2024-03-08,8.0,1,0
        T9,C1,S9,2024-03-09,9.0,1,0
        ,C1,S1,2024-03-10,11.0,1,0
        ,C1,S1,2024-03-10,11.0,1,0
        ,C2,S1,2024-03-10,12.0,1,0
        """,
    )
    return d


def _retail_data_stage(folder, eng: str, rules=None, key=None, features: bool = True):
    """The retail data stage's steps on ``eng`` (``key``: pseudonymize the small tables first,
    as the notebook does): ((report, counts, KPI summary[, features from the cleaned
    transactions]), cleaning notes)."""
    from crmlab import sources

    large = engine.open_large_sources(CASE, folder, eng)
    tables = sources.load_sources(CASE, folder, skip=large.names)
    if key is not None:
        tables, _ = sources.pseudonymize_tables(tables, key)
    r = rules or sources.case_rules(CASE, {**tables, **large.tables})
    report = engine.quality_report(tables, r, large)
    clean, notes, counts = engine.clean_tables(tables, r, large)
    out = [report.drop(columns=["example_rows", "example_values"]), counts]
    out.append(engine.kpi_summary(clean, r, large))
    if features:
        out.append(
            engine.customer_features(folder, engine=eng, con=large.con, clean=large.clean(r))
        )
    return tuple(out), notes


def _quality_both_ways(folder, rules=None):
    """(report, notes, counts, KPI summary) on the pandas path and on DuckDB."""
    out, key = {}, privacy.demo_key(42)
    for eng in ("pandas", "duckdb"):
        (report, counts, summary), notes = _retail_data_stage(folder, eng, rules, key, False)
        out[eng] = (report, notes, counts, summary)
    return out["pandas"], out["duckdb"]


def test_engine_quality_checks_count_every_fault(faulty):
    ref, got = _quality_both_ways(faulty)
    report, notes, counts, _ = got
    tx = report[report["source"] == "transactions"].set_index(["check", "column"])["n_rows"]
    # T1 x3 -> 2 exact copies; 2 blank-key rows equal; T2: 3 distinct rows share the key
    assert tx[("duplicate_rows", "*")] == 3
    assert tx[("duplicate_key", "transaction_id")] == 3
    assert tx[("missing", "transaction_id")] == 3 and tx[("missing", "customer_id")] == 1
    assert tx[("unparseable_date", "date")] == 1 and tx[("out_of_range", "promotion")] == 1
    assert tx[("orphan_key", "customer_id")] == 2 and tx[("orphan_key", "store_id")] == 2
    assert tx[("negative_amount", "amount")] == 1
    assert notes[:7] == [
        "customers: 1 exact duplicate row(s) dropped (first copy kept).",
        "transactions: 3 exact duplicate row(s) dropped (first copy kept).",
        "transactions: 2 row(s) with an already-seen transaction_id dropped "
        "(first row of each key kept).",
        "transactions: 1 unparseable date(s) in date set to missing.",
        "transactions: 1 out-of-range value(s) in promotion (allowed 0 to 1) set to missing.",
        "transactions: 1 row(s) with missing customer_id dropped.",
        "transactions: 1 row(s) with missing date dropped.",
    ]
    # kept: T1, T2 (C1), T3 (" C2 " is C2; a return) and the two distinct blank-key rows;
    # T6 has no amount, T7/T8 an unknown customer, T9 an unknown store
    assert counts.loc["transactions"].tolist() == [5, 1]
    # KPI summary, all rows: C1 bought 03-01, 03-02, 03-10 (10 + 20 + 11); C2 returned 5 on
    # 03-04 and bought only on 03-10 (12): its second day is a return, so not a repeat buyer
    cols = ["n_transactions", "n_returns", "buyers", "repeat_buyers", "net_spend"]
    for summary in (ref[3], got[3]):
        every = summary.set_index("window").loc["all", cols].tolist()
        assert every == [4, 1, 2, 1, 48.0]
    for a, b in zip(ref[:3], got[:3], strict=True):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(b, a)
        else:
            assert b == a


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_engine_quality_checks_equal_pandas_on_generated_data(generated, fmt):
    ref, got = _quality_both_ways(generated / fmt)
    pd.testing.assert_frame_equal(got[0], ref[0])
    assert got[0]["source"].eq("transactions").sum() >= 3  # duplicates, orphans, returns
    assert got[1] == ref[1]
    pd.testing.assert_frame_equal(got[2], ref[2])
    pd.testing.assert_frame_equal(got[3], ref[3], rtol=RTOL)


def test_engine_quality_checks_equal_pandas_on_the_tiny_tables(tiny):
    ref, got = _quality_both_ways(tiny, TINY_RULES)
    pd.testing.assert_frame_equal(got[0], ref[0])
    assert got[1] == ref[1]
    pd.testing.assert_frame_equal(got[2], ref[2])
    pd.testing.assert_frame_equal(got[3], ref[3], rtol=RTOL)


# ----------------------------------------------------------------------------------------------
# the finance case's stages with the snapshots in the engine (crmlab.engine.finance_case)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def faulty_bank(tmp_path_factory):
    """400 generated bank customers (CSV) with planted snapshot faults: 3 exact duplicate rows,
    a negative balance, a fee_rise of 2, a row of an unknown customer and one without a customer."""
    d = tmp_path_factory.mktemp("faulty_bank")
    generate_finance(d, n_customers=400, seed=11, fmt="csv")
    s = pd.read_csv(d / "snapshots.csv", dtype=str)
    s.loc[10, "balance"], s.loc[11, "fee_rise"] = "-5", "2"
    extra = [s.iloc[[20, 21, 22]], s.iloc[[30]].assign(customer_id="NOBODY"), s.iloc[[31]]]
    extra[2] = extra[2].assign(customer_id="")
    pd.concat([s, *extra]).to_csv(d / "snapshots.csv", index=False)
    return d


def _finance_both_ways(folder, engines=("pandas", "duckdb")):
    from crmlab import churn, sources
    from crmlab.engine import finance_case as fc

    key = privacy.demo_key(42)
    out = {}
    for eng in engines:
        large = fc.open_snapshots(folder, eng)
        raw = sources.load_sources("finance_churn", folder, skip=large.names)
        tables, _ = sources.pseudonymize_tables(raw, key)
        r = sources.case_rules("finance_churn", {**tables, **large.tables})
        report = engine.quality_report(tables, r, large)
        clean, notes, counts = engine.clean_tables(tables, r, large)
        months = fc.snapshot_months(clean, r, large)
        window = churn.observation_window(clean["customers"], months)
        dates = {"train": window.last_period_start(24), "test": window.last_period_start(12)}
        sets = fc.churn_sets(clean["customers"], clean, r, large, {**dates, "score": window.after},
                             lookback_months=6, key=key)  # fmt: skip
        out[eng] = {
            "names": large.names,
            "report": report.drop(columns=["example_rows", "example_values"]),
            "notes": notes,
            "counts": counts,
            "months": months,
            "profile": fc.snapshot_profile(clean, r, large),
            "cox": fc.cox_months(clean, r, large, key),
            **sets,
        }
    return tuple(out[e] for e in engines)


def test_finance_stages_in_the_engine_equal_pandas(faulty_bank):
    ref, got = _finance_both_ways(faulty_bank)
    assert ref["names"] == () and got["names"] == ("snapshots",)
    snaps = got["report"][got["report"]["source"] == "snapshots"]
    found = snaps.set_index(["check", "column"])["n_rows"]
    assert found[("duplicate_rows", "*")] == 3
    assert found[("out_of_range", "balance")] == 1 and found[("out_of_range", "fee_rise")] == 1
    assert found[("orphan_key", "customer_id")] == 1 and found[("missing", "customer_id")] == 1
    assert "snapshots: 3 exact duplicate row(s) dropped (first copy kept)." in got["notes"]
    n_raw = len(pd.read_csv(faulty_bank / "snapshots.csv"))
    assert got["counts"].loc["snapshots", "rows"] == n_raw - 5  # duplicates, orphan, no customer
    # per month: rows and complaints of the cleaned snapshots, counted independently
    raw = pd.read_csv(faulty_bank / "snapshots.csv", dtype={"customer_id": str})
    kept = raw.drop_duplicates()
    kept = kept[kept["customer_id"].isin(pd.read_csv(faulty_bank / "customers.csv")["customer_id"])]
    by_month = kept.groupby("month").agg(rows=("month", "size"), complaints=("complaints", "sum"))
    assert got["months"]["rows"].tolist() == by_month["rows"].tolist()
    np.testing.assert_array_equal(got["months"]["complaints"], by_month["complaints"])
    assert got["notes"] == ref["notes"]
    for name in ("report", "counts", "months", "cox"):
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name)
    for name in ("train", "test", "score"):  # CSV numbers: pandas' fast parser may be 1 ulp off
        pd.testing.assert_frame_equal(got[name], ref[name], rtol=RTOL, obj=name)
    pd.testing.assert_frame_equal(got["profile"], ref["profile"], rtol=1e-9)
    assert len(got["cox"]) == n_raw - 5 and got["cox"]["customer_id"].str.startswith("P-").all()
    assert got["train"]["customer_id"].str.startswith("P-").all() and len(got["score"]) > 100


def test_a_later_stage_reuses_the_finance_snapshots_once(faulty_bank, tmp_path):
    """Stages 1 and 2 of the finance case share one opening of the snapshots (their checks are
    computed once); a third opening, another engine argument, a changed file or another case
    open anew."""
    import shutil

    from crmlab.engine import case as case_mod
    from crmlab.engine import finance_case as fc

    folder = tmp_path / "bank"
    shutil.copytree(faulty_bank, folder)
    first = fc.open_snapshots(folder, "duckdb")
    rules = {"snapshots": {"required": ["customer_id", "month"]}}
    checks = first.checks(rules)
    second = fc.open_snapshots(folder, "duckdb")
    assert second is first and second.checks(rules) is checks  # no second pass
    third = fc.open_snapshots(folder, "duckdb")
    assert third is not first  # reused once only: freed with the later stage
    again = fc.open_snapshots(folder, "duckdb")
    assert again is third
    fourth = fc.open_snapshots(folder, "duckdb")
    os.utime(folder / "snapshots.csv", ns=(1, 1))  # the file changed
    assert fc.open_snapshots(folder, "duckdb") is not fourth
    assert "retail_satisfaction" not in case_mod.REOPENED


def test_cox_months_sums_the_six_months_to_date(faulty_bank):
    """Known answer: complaints_6m = this month's and the five before; fee_rise_6m = any rise."""
    from crmlab import sources
    from crmlab.engine import finance_case as fc

    large = fc.open_snapshots(faulty_bank, "duckdb")
    tables = sources.load_sources("finance_churn", faulty_bank, skip=large.names)
    r = sources.case_rules("finance_churn", {**tables, **large.tables})
    cox = fc.cox_months({}, r, large)  # no key: raw ids
    raw = pd.read_csv(faulty_bank / "snapshots.csv", dtype={"customer_id": str}).drop_duplicates()
    who = raw.loc[11, "customer_id"]  # the customer with the fee_rise of 2 (set to missing)
    mine = raw[raw["customer_id"] == who].sort_values("month").reset_index(drop=True)
    got = cox[cox["customer_id"] == who].reset_index(drop=True)
    assert got["month"].tolist() == mine["month"].tolist() and len(got) > 6
    assert (mine["fee_rise"] == 2).sum() == 1
    c, f = mine["complaints"].fillna(0), mine["fee_rise"].where(mine["fee_rise"] <= 1).fillna(0)
    for i in range(len(mine)):
        lo = max(0, i - 5)
        assert got.loc[i, "complaints_6m"] == c[lo : i + 1].sum()
        assert got.loc[i, "fee_rise_6m"] == float(f[lo : i + 1].max() > 0)


def test_features_from_the_stage_cleaned_transactions_equal_a_fresh_build(faulty):
    """02_data hands the transactions it cleaned once (a temporary table) to the feature build:
    the same features as cleaning the file again."""
    from crmlab import sources

    key = privacy.demo_key(42)
    large = engine.open_large_sources(CASE, faulty, "duckdb")
    raw = sources.load_sources(CASE, faulty, skip=["transactions"])
    tables, _ = sources.pseudonymize_tables(raw, key)
    large.drop_personal()
    r = sources.case_rules(CASE, {**tables, **large.tables})
    reused = engine.customer_features(faulty, key=key, con=large.con, clean=large.clean(r))
    pd.testing.assert_frame_equal(reused, engine.customer_features(faulty, key=key))
    # purchases kept (see test_engine_quality_checks_count_every_fault): T1, T2 and the blank-key
    # rows of C1 and C2; the return T3 of " C2 " belongs to C2 (a padded id is the same id)
    assert reused["n_transactions"].tolist() == [3, 1]
    assert reused["n_returns"].tolist() == [0, 1]
    pandas_path = engine.customer_features(faulty, engine="pandas", key=key)
    pd.testing.assert_frame_equal(reused, pandas_path, rtol=RTOL)


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory):
    """Tables without a single fault: every count over the faulty rows is a sum over no rows
    (SQL NULL, which Spark returns as NaN and DuckDB as None)."""
    d = tmp_path_factory.mktemp("fault_free")
    _write(d, "customers", "customer_id,signup_date\nC1,2024-01-01\nC2,2024-02-01\n")
    _write(d, "stores", "store_id,region\nS1,North\n")
    _write(
        d,
        "transactions",
        """
        transaction_id,customer_id,store_id,date,amount,items,promotion
        T1,C1,S1,2024-03-01,10.0,1,0
        T2,C1,S1,2024-03-05,20.0,2,1
        T3,C2,S1,2024-03-03,30.0,3,0
        """,
    )
    return d


@pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17 (not installed)")
def test_spark_data_stage_equals_duckdb(faulty):
    """The data stage's engine steps (report, notes, counts, KPI summary, features from the
    cleaned transactions) give the same answers on Spark as on DuckDB."""
    ref, ref_notes = _retail_data_stage(faulty, "duckdb")
    got, notes = _retail_data_stage(faulty, "spark")
    assert notes == ref_notes and len(ref_notes) == 11
    for a, b in zip(ref, got, strict=True):
        pd.testing.assert_frame_equal(b, a, check_dtype=False)
    assert got[1].loc["transactions"].tolist() == [5, 1]


@pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17 (not installed)")
def test_spark_data_stage_on_fault_free_tables(fault_free):
    """Nothing to find or drop: both engines count 0 of every fault (the whole retail case on
    Spark once stopped here: a sum over no duplicate keys came back as NaN)."""
    for eng in ("duckdb", "spark"):
        (report, counts, summary, feats), notes = _retail_data_stage(fault_free, eng)
        assert report[report["source"] == "transactions"].empty, eng
        assert notes == [], eng
        assert counts.loc["transactions"].tolist() == [3, 0], eng
        assert feats["n_transactions"].tolist() == [2, 1], eng
        assert feats["monetary"].tolist() == [30.0, 30.0], eng
        assert int(summary["n_transactions"].max()) == 3, eng


@pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17 (not installed)")
def test_spark_refuses_nanosecond_parquet_with_what_to_do(tmp_path):
    """pandas writes datetimes in nanoseconds, a Parquet type Spark cannot read: a clear error
    naming the file and columns instead of Spark's AnalysisException; microseconds are read."""
    from crmlab.engine.backends import register_source

    df = pd.DataFrame({"customer_id": ["C1"], "date": pd.to_datetime(["2024-03-01 10:00"])})
    df["date"] = df["date"].astype("datetime64[ns]")
    df.to_parquet(tmp_path / "nanos.parquet")
    df.to_parquet(tmp_path / "micros.parquet", coerce_timestamps="us")
    con = engine.connect("spark")
    with pytest.raises(DataError, match=r"nanos.parquet: Spark cannot read timestamps stored in "
                       r"nanoseconds \(columns: date\)\. Write the file with microsecond"):  # fmt: skip
        register_source(con, tmp_path / "nanos.parquet", "nanos")
    got = register_source(con, tmp_path / "micros.parquet", "micros").table.execute()
    assert got["date"].tolist() == [pd.Timestamp("2024-03-01 10:00")]


@pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17 (not installed)")
def test_finance_stages_on_spark_equal_duckdb(faulty_bank):
    """The finance data stage's engine steps give the same answers on Spark as on DuckDB."""
    ref, got = _finance_both_ways(faulty_bank, ("duckdb", "spark"))
    assert got["names"] == ("snapshots",) and got["notes"] == ref["notes"]
    for name in ("report", "counts", "months", "cox"):
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name)
    for name in ("train", "test", "score", "profile"):
        pd.testing.assert_frame_equal(got[name], ref[name], rtol=RTOL, obj=name)


def test_cox_months_keeps_a_hash_sample_of_whole_customers_above_the_cap(faulty_bank):
    """Above ``max_rows`` customer-months the Cox input is the customers whose MD5(id) prefix is
    below the share (definition computed here with hashlib), each with all its months."""
    import hashlib

    from crmlab import sources
    from crmlab.engine import finance_case as fc

    large = fc.open_snapshots(faulty_bank, "duckdb")
    tables = sources.load_sources("finance_churn", faulty_bank, skip=large.names)
    r = sources.case_rules("finance_churn", {**tables, **large.tables})
    full = fc.cox_months({}, r, large)  # no key: raw ids
    assert full.attrs["sample_share"] == 1.0
    cap = len(full) // 4
    part = fc.cox_months({}, r, large, max_rows=cap)
    share = cap / len(full)
    assert part.attrs["sample_share"] == pytest.approx(share)
    bound = f"{int(share * 16**8):08x}"
    ids = full["customer_id"].unique()
    expected = sorted(i for i in ids if hashlib.md5(i.encode()).hexdigest()[:8] < bound)
    assert sorted(part["customer_id"].unique()) == expected
    n = len(ids)  # about a quarter of the customers (binomial, 4 standard deviations)
    assert abs(len(expected) - n * share) < 4 * (n * share * (1 - share)) ** 0.5
    # whole customers: each kept customer's rows are exactly its rows in the full input
    pd.testing.assert_frame_equal(
        part.reset_index(drop=True),
        full[full["customer_id"].isin(expected)].reset_index(drop=True),
    )


def test_stale_spill_folders_of_dead_processes_are_removed(tmp_path):
    """A killed kernel leaves its spill folder behind; the next connection removes it, but
    never the folder of a process that still runs."""
    import os
    import subprocess
    import sys

    from crmlab.engine.backends import SPILL_PREFIX, remove_stale_spill_folders

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp_path / f"{SPILL_PREFIX}{int(gone.stdout)}-abc"
    alive = tmp_path / f"{SPILL_PREFIX}{os.getpid()}-def"
    other = tmp_path / "crmlab-duckdb-notapid"
    for folder in (dead, alive, other):
        (folder / "spill").mkdir(parents=True)
    assert remove_stale_spill_folders(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and other.exists()


def test_materialize_keeps_rows_and_types(tmp_path):
    """A large table computed once goes to Parquet in the spill folder and reads back equal."""
    from crmlab.engine.backends import materialize

    con = engine.connect(temp_directory=tmp_path / "spill")
    df = pd.DataFrame(
        {
            "id": ["a", "b", None],
            "day": pd.to_datetime(["2024-01-01", None, "2024-03-01"]).date,
            "x": [1.5, None, -2.0],
            "n": [1, 2, 3],
            "ok": [True, False, None],
        }
    )
    t = con.create_table("src", df)
    got = materialize(con, t.mutate(y=t.n * 2))
    assert list((tmp_path / "spill").glob("crmlab-table-*/table.parquet"))
    assert got.schema() == t.mutate(y=t.n * 2).schema()
    pd.testing.assert_frame_equal(
        got.order_by("n").to_pandas(), t.mutate(y=t.n * 2).order_by("n").to_pandas()
    )


def test_case_memory_cap_grows_with_the_large_sources():
    """2 GB up to 40M rows, then 1 GB per 20M rows (rounded up), never above half the RAM."""
    from crmlab.engine.case import case_memory_limit

    half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**31
    assert case_memory_limit(1_000_000) == "2GB"
    assert case_memory_limit(40_000_000) == "2GB"
    assert case_memory_limit(40_000_001) == f"{min(3, half)}GB"
    assert case_memory_limit(205_000_000) == f"{min(11, half)}GB"
    assert case_memory_limit(10**12) == f"{max(2, half)}GB"


def test_local_spark_starts_without_warnings_on_the_command_line(tmp_path):
    """A local Spark driver logs errors only (engine/spark-log4j2.properties): none of Spark's
    start-up WARN lines (native Hadoop library, loopback address, default log profile and
    level) reach a user's terminal."""
    import subprocess
    import sys

    from crmlab.engine.backends import java_available

    if not java_available():
        pytest.skip("engine 'spark' needs Java 17")
    code = (
        "from crmlab.engine.backends import spark_session\n"
        "s = spark_session()\n"
        "print(s.range(3).count())\n"
        "s.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    shown = [line for line in done.stderr.splitlines() if line.strip()]
    # the one line the JVM itself prints for the vector module Spark loads is all that remains
    assert [line for line in shown if "incubator modules" not in line] == []


@pytest.mark.parametrize(
    "eng",
    [
        "duckdb",
        pytest.param(
            "spark",
            marks=pytest.mark.skipif(not engine.java_available(), reason="Spark needs Java 17"),
        ),
    ],
)
def test_a_negative_zero_copies_a_zero_as_in_pandas(eng, tmp_path):
    """pandas' duplicated() counts 0.0 and -0.0 as equal; the row hashes of both engines must
    too, else the copy never becomes a candidate (checked: Spark's hash of -0.0 is normalized)."""
    from crmlab.engine.clean import ROW, duplicate_copies

    df = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "amount": [0.0, -0.0, 2.0, 2.0]})
    want = [i for i, dup in enumerate(df.duplicated(keep="first")) if dup]
    assert want == [1, 3]
    from crmlab.engine.backends import register_source

    df.to_parquet(tmp_path / "negative_zero.parquet")
    con = engine.connect(eng)
    try:
        t = register_source(con, tmp_path / "negative_zero.parquet", "negative_zero").table
        assert sorted(duplicate_copies(t).to_pyarrow()[ROW].to_pylist()) == want
    finally:
        if eng == "spark":
            con._session.stop()


def test_spark_without_pyspark_is_a_clear_error(monkeypatch):
    """PySpark is an optional part of crmlab (``crmlab[spark]``): without it, engine 'spark'
    says how to get it instead of failing with an ImportError."""
    import sys

    from crmlab.engine import backends

    monkeypatch.setattr(backends, "java_available", lambda: True)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'crmlab\[spark\]'"):
        backends.spark_session()
