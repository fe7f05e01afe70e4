"""Recorded figures: JSON-native values, stage files merged in stage order, atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

import crmlab
from crmlab import atomic, results
from crmlab.errors import CrmlabError, StageInputMissing


def test_to_jsonable_converts_numpy_and_pandas():
    value = {
        "a": np.float64(0.5),
        "b": np.int64(3),
        "c": (1, 2),
        "d": pd.Series({"x": np.int64(1)}),
        "e": math.nan,
        "f": dt.date(2026, 1, 2),
        "g": np.array([1.5, 2.5]),
        "h": np.bool_(True),
    }
    assert results.to_jsonable(value) == {
        "a": 0.5,
        "b": 3,
        "c": [1, 2],
        "d": {"x": 1},
        "e": None,
        "f": "2026-01-02",
        "g": [1.5, 2.5],
        "h": True,
    }
    with pytest.raises(CrmlabError, match="Cannot record"):
        results.to_jsonable(object())


def test_record_and_collect(tmp_path):
    ctx = crmlab.start_stage("toy", "01_a", run_dir=tmp_path, data_dir=tmp_path)
    assert crmlab.record("x", np.float64(1.25)) == 1.25
    crmlab.record("y", "first")
    crmlab.start_stage("toy", "02_b", run_dir=tmp_path, data_dir=tmp_path)
    crmlab.record("y", "second")
    merged = results.collect_results(tmp_path, ["01_a", "02_b"])
    assert merged == {"x": 1.25, "y": "second"}
    assert json.loads(ctx.results_file.read_text()) == {"x": 1.25, "y": "first"}
    # re-running a stage clears its old figures
    crmlab.start_stage("toy", "01_a", run_dir=tmp_path, data_dir=tmp_path)
    assert results.collect_results(tmp_path, ["01_a"]) == {}


def test_pass_on_saves_the_tables_and_names_them_in_words(tmp_path):
    import pandas as pd

    ctx = crmlab.start_stage("toy", "02_data", run_dir=tmp_path, data_dir=tmp_path)
    frames = {n: pd.DataFrame({"x": [i]}) for i, n in enumerate(["kpi_summary", "store_visits"])}
    frames["features"] = pd.DataFrame({"x": [7]})
    said = ctx.pass_on(frames)
    assert said == (
        "Passed on to the next stages: customer features, the transaction summary for the "
        "KPIs, store visits."
    )
    assert results.tables_in_words(["train", "cox_months", "pilot"]) == (
        "customer-months for the Cox model, pilot, the training set"
    )
    later = crmlab.start_stage("toy", "03_model", run_dir=tmp_path, data_dir=tmp_path)
    assert later.load_frame("features")["x"].tolist() == [7]
    assert later.load_frame("store_visits")["x"].tolist() == [1]


def test_missing_artifact_says_which_stage_to_run(tmp_path):
    ctx = crmlab.start_stage("toy", "03_c", run_dir=tmp_path, data_dir=tmp_path)
    with pytest.raises(StageInputMissing, match="Run 02_data first"):
        ctx.load_frame("features", "02_data")


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def _cell(*tags):
    return {"cell_type": "markdown", "metadata": {"tags": list(tags)}, "source": "text"}


def test_unless_tag_leaves_a_cell_out_only_for_that_recorded_value():
    dated_only = _cell("unless:churn.basis=flag")
    assert not results.cell_applies(dated_only, {"churn.basis": "flag"})
    assert results.cell_applies(dated_only, {"churn.basis": "dates"})
    assert results.cell_applies(dated_only, {})  # nothing recorded: the dated text stays
    assert results.cell_applies(_cell("unless:n=3"), {"n": 4})
    assert not results.cell_applies(_cell("unless:n=3"), {"n": 3})  # values compare as text
    # the two prefixes are opposites; every tag of a cell must allow it
    flag_only = _cell("only-if:churn.basis=flag")
    for recorded in ({"churn.basis": "flag"}, {}, {"churn.basis": "dates"}):
        assert results.cell_applies(flag_only, recorded) != results.cell_applies(
            dated_only, recorded
        )
    both = _cell("unless:churn.basis=flag", "only-if:segment=retail")
    assert results.cell_applies(both, {"segment": "retail"})
    assert not results.cell_applies(both, {"segment": "retail", "churn.basis": "flag"})
    assert not results.cell_applies(both, {"segment": "bank"})
    assert not results.cell_applies(_cell("unless:x=1", "notebook-only"), {})
    assert results.cell_applies(_cell(), {"churn.basis": "flag"})


def test_atomic_writes_get_a_new_files_permissions_or_the_given_mode(tmp_path):
    """mkstemp makes its files private (0600); a written file gets what ``open`` would give it
    (0666 less the umask), so data and reports are readable as any other file; a file with
    personal data can ask for 0600."""
    import os
    import stat

    mask = os.umask(0o022)
    os.umask(mask)
    plain = atomic.write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~mask
    with atomic.atomic_path(tmp_path / "private.csv", mode=0o600) as tmp:
        tmp.write_text("name,phone\n")
    assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600
