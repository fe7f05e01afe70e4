"""The fast path of the PII leak check (crmlab.privacy.assert_no_pii with many known values)
finds exactly what a plain scan finds, and the action list's raw-value cache notices a changed
input file."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from crmlab import actions, privacy


def _plain_hits(text: str, values: list[str], min_length: int = 2) -> set[str]:
    """The definition: a value of 2+ characters found case-insensitively as a whole token (not
    glued to ASCII letters/digits at an ASCII letter/digit edge)."""
    text = text.casefold()
    found = set()
    for value in values:
        v = value.strip().casefold()
        if len(v) < min_length:
            continue
        left = r"(?<![0-9a-z])" if v[0].isascii() and v[0].isalnum() else ""
        right = r"(?![0-9a-z])" if v[-1].isascii() and v[-1].isalnum() else ""
        if re.search(left + re.escape(v) + right, text):
            found.add(value)
    return found


def _hits(text: str, values: list[str]) -> set[str]:
    """The values assert_no_pii reports, found one at a time around the fast path: the error
    names each leaking value's label, so each value gets its own label."""
    try:
        privacy.assert_no_pii(text, {f"v{i}": [v] for i, v in enumerate(values)})
    except privacy.PiiLeakError as e:
        return {values[int(i)] for i in re.findall(r"'v(\d+)'", str(e))}
    return set()


def _world(seed: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋"
    names = [rng.choice(surnames) + rng.choice(given) * rng.randint(1, 2) for _ in range(150)]
    emails = [f"user{rng.randint(0, 9999)}@example.com" for _ in range(150)]
    phones = [f"138 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}" for _ in range(150)]
    latin = [f"{rng.choice(['He', 'Li', 'Ann', 'Bo'])} {rng.choice(['Li', 'Wu', 'Ng'])}"]
    values = names + emails + phones + latin * 3 + ["x", "ab", "a much longer value than the text"]
    cells = [f"P-{rng.getrandbits(40):010x}" for _ in range(400)]
    cells += [f"{rng.uniform(0, 99999):.2f}" for _ in range(400)]
    cells += ["loyal", "at risk", "the lifecycle", "Hello Lion", "联系客户"]
    planted = rng.sample(values, 12)
    cells += [p.upper() if p.isascii() else p for p in planted[:6]]  # case-insensitive
    cells += [f"glued{p}x" for p in planted[6:9]]  # glued to letters: only non-ASCII edges match
    cells += [f"note: {p} called" for p in planted[9:]]
    rng.shuffle(cells)
    return "\n".join(cells), values


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_check_finds_exactly_what_a_plain_scan_finds(seed):
    text, values = _world(seed)
    expected = _plain_hits(text, values)
    assert len(expected) >= 6  # the planted values (some glued ones do not count)
    assert _hits(text, values) == expected
    # and through one call with many values (the fast path): leak or not, as the plain scan
    with pytest.raises(privacy.PiiLeakError):
        privacy.assert_no_pii(text, {"raw": values})
    clean = [v for v in values if v not in expected]
    assert len(clean) > 100
    privacy.assert_no_pii(text, {"raw": clean})


def test_a_large_text_with_many_values_is_checked_exactly_and_quickly_enough():
    # an action list of 200k pseudonymous rows against 200k known personal values: the filter
    # keeps memory linear in the text (no k-gram sets) and still finds each planted value
    rng = random.Random(7)
    rows = [f"P-{rng.getrandbits(48):012x},loyal,{rng.uniform(0, 999):.2f}" for _ in range(200_000)]
    values = [f"user{i}@example.com" for i in range(100_000)]
    values += [f"{rng.choice('王李张刘陈')}{rng.choice('伟芳娜敏静丽')}{i}" for i in range(100_000)]
    privacy.assert_no_pii("\n".join(rows), {"raw": values})  # nothing planted: no hit
    for planted in ("USER4242@EXAMPLE.COM", values[150_000]):
        text = "\n".join([*rows[:1000], f"note: {planted} called", *rows[1000:]])
        with pytest.raises(privacy.PiiLeakError, match="1 value"):
            privacy.assert_no_pii(text, {"raw": values})
    glued = "\n".join([*rows, "xuser4242@example.com"])  # glued to a letter: not the value
    privacy.assert_no_pii(glued, {"raw": values})


def test_raw_values_are_cached_until_an_input_file_changes(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    people = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "name": ["Wang Fang", "Li Na"], "email": ["a@b.cn", "C@d.cn"]}
    )
    people.to_csv(folder / "customers.csv", index=False)
    actions._RAW_CACHE.clear()
    data = actions.personal_data("retail_satisfaction", folder)
    assert sorted(data.raw_ids.to_pylist()) == ["C1", "C2"]
    assert sorted(data.known.label_values("customers.email")) == ["a@b.cn", "c@d.cn"]  # casefolded
    assert sorted(data.known.label_values("customers.name")) == ["li na", "wang fang"]
    assert actions.personal_data("retail_satisfaction", folder) is data  # cached
    assert len(actions._RAW_CACHE) == 1
    # read ahead in a background thread: the same values
    later = actions.personal_data_later("retail_satisfaction", folder).result(timeout=60)
    assert later is data
    people.loc[2] = ["C3", "Zhao Min", "e@f.cn"]
    people.to_csv(folder / "customers.csv", index=False)  # new size and time: read again
    data = actions.personal_data("retail_satisfaction", folder)
    assert sorted(data.raw_ids.to_pylist()) == ["C1", "C2", "C3"]
    assert "e@f.cn" in data.known.label_values("customers.email")
    # raw ids among a table's ids are counted (padding and types as the raw text)
    assert data.leaked_ids(pd.Series(["P-1", "C3", "C1", "C9"])) == 2
    assert data.leaked_ids(pd.Series([], dtype="str")) == 0


def test_raw_values_are_read_without_loading_a_large_file_into_pandas(tmp_path, monkeypatch):
    """The action list's raw-value read streams a Parquet transactions file (DuckDB distinct
    values, a 500-row head): under the case tests' guard it never reads the file whole."""
    from tests.engine_guard import READERS

    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame(
        {"customer_id": ["C1", "C2"], "name": ["Wang Fang", "Li Na"], "phone": ["x", "y"]}
    ).to_parquet(folder / "customers.parquet")
    tx = pd.DataFrame({"transaction_id": [f"T{i}" for i in range(3000)]})
    tx["customer_id"] = ["C1", "C2", "C7"] * 1000  # C7: only in the transactions
    tx["amount"] = 1.5
    tx.to_parquet(folder / "transactions.parquet", row_group_size=1000)
    readers: dict = {}
    exec(READERS, readers)
    readers["guard_readers"]("transactions", monkeypatch.setattr)
    with pytest.raises(RuntimeError, match="GUARD"):  # the guard is on
        pd.read_parquet(folder / "transactions.parquet")
    actions._RAW_CACHE.clear()
    data = actions.personal_data("retail_satisfaction", folder)
    assert sorted(data.raw_ids.to_pylist()) == ["C1", "C2", "C7"]
    assert sorted(data.known.label_values("customers.name")) == ["li na", "wang fang"]
