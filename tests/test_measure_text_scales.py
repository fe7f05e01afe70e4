"""Driver performance on every scale, and the words that define it for the run's measure.

Stage 3 said "Performance = share of 4-5 ratings on each driver" for every run. What
``drivers.driver_performance`` counts is the share of answers rating a driver 4 or more on the
drivers' 1-5 scale: a client's driver asked on 1-10 is mapped linearly onto 1-5 on import (8 is
4.11, 7 is 3.67), one asked in two questions is their mean (4.5). Such ratings made it fail
("not whole-number ratings"); now they are counted, and stage 3 states that rule for every
scale.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crmlab import config, drivers, ingest, metrics
from crmlab.synth import client_exports


def test_performance_counts_ratings_of_4_or_more_on_any_scale_mapped_onto_1_to_5():
    # a driver asked on 1-10, mapped linearly as the import does: 1..10 -> 1, 1.44, ..., 5
    ten = ingest.rescale_linear(pd.Series(np.arange(1.0, 11.0)), (1, 10))
    # 4 on 1-5 is 7.75 on 1-10: 8, 9 and 10 count (3 of 10), 7 (3.67 on 1-5) does not
    # one asked in two questions, the mean of the answered: 4.5, 3.5, 5, 3 -> 2 of 4 are >= 4
    two = pd.Series([4.5, 3.5, 5.0, 3.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan])
    whole = pd.Series([4, 5, 3, 2, 5, 1, 4, 3, 2, 1], dtype="float64")  # canonical: 4 of 10
    survey = pd.DataFrame({"speed": ten, "staff": two, "quality": whole})
    perf = drivers.driver_performance(survey, ["speed", "staff", "quality"])
    assert perf.to_dict() == pytest.approx({"speed": 0.3, "staff": 0.5, "quality": 0.4})
    means = drivers.driver_performance(survey, ["speed", "staff", "quality"], kind="mean")
    # mean of 1..10 mapped onto 1-5 is 3 (the middle); (4.5+3.5+5+3)/4 = 4; 30/10 = 3
    assert means.to_dict() == pytest.approx({"speed": 3.0, "staff": 4.0, "quality": 3.0})
    # the quadrants follow: the same numbers in the priority matrix
    imp = pd.Series({"speed": 0.2, "staff": 0.1, "quality": 0.05})
    matrix = drivers.priority_matrix(imp, perf)
    assert matrix.loc["speed", "quadrant"] == "fix first"  # most important, 30% < median 40%
    assert matrix.loc["staff", "quadrant"] == "keep up"  # at the median importance, 50%


def test_on_0_to_10_the_answers_8_9_and_10_count():
    """4 on 1-5 is 7.5 on 0-10 once mapped linearly: 8, 9 and 10 are counted, 7 is not."""
    mapped = ingest.rescale_linear(pd.Series(np.arange(0.0, 11.0)), (0, 10))
    perf = drivers.driver_performance(pd.DataFrame({"d": mapped}), ["d"])
    assert perf["d"] == pytest.approx(3 / 11)  # 8, 9, 10 of the 11 answers 0..10


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict:
    """The worked example imported: its ``folder`` (config and exports), the imported ``survey``
    and its ``measure`` as a config run records it: the import's report
    (``input/ingest_report.json``) read back by ``metrics.satisfaction_measure``."""
    folder = tmp_path_factory.mktemp("example")
    name = "retail_satisfaction"
    sizes = {"n_customers": 300, "n_stores": 8, "responses_per_wave": 40}
    client_exports.write_example_exports(name, folder / "exports", seed=5, **sizes)
    cfg = folder / "config.yaml"
    cfg.write_text(client_exports.example_config(name, key_file=False), encoding="utf-8")
    prepared = ingest.load(config.load_config(cfg))
    data_dir = folder / "input"
    data_dir.mkdir()
    report = json.dumps(prepared.report(), ensure_ascii=False, default=str)
    (data_dir / "ingest_report.json").write_text(report, encoding="utf-8")
    return {
        "folder": folder,
        "survey": prepared.tables["survey"],
        "measure": metrics.satisfaction_measure(data_dir),
    }


def test_stage_3_states_the_rule_the_library_counts():
    """The priority matrix's definition in stage 3 is the rule above, for every scale: not the
    old "share of 4-5 ratings", which a reader of a 1-10 survey took for 4 and 5 on 1-10."""
    import nbformat

    from crmlab import paths

    path = paths.cases_dir() / "retail_satisfaction" / "03_model.ipynb"
    nb = nbformat.read(path, as_version=4)
    [md] = [c.source for c in nb.cells if c.source.startswith("## Priority matrix")]
    text = " ".join(md.split())
    assert "share of answers rating it 4 or more on the drivers' 1-5 scale" in text
    assert "(on 1-10, 4 is 7.75, so answers of 8 to 10 count)" in text
    assert "4-5 ratings" not in text
    # 7.75 on 1-10 is where the import puts 4 on 1-5
    assert ingest.rescale_linear(pd.Series([7.75]), (1, 10)).iloc[0] == pytest.approx(4.0)


def test_stage_5_check_reads_the_clients_satisfied_answers_as_4_and_5(example):
    """Stage 5's check counts the imported answers of 4 or 5 on 1-5 and says a client's scale
    is read so that its satisfied answers are the 4s and 5s: on the example (two 1-10
    questions averaged, 7 or more satisfied) the two shares are the same answers."""
    raw = pd.read_excel(example["folder"] / "exports" / "满意度调查.xlsx", sheet_name="问卷2025")
    questions = raw[["总体满意度", "再次光临意愿"]].apply(pd.to_numeric, errors="coerce")
    mean = questions.where(questions.apply(lambda q: q.between(1, 10))).mean(axis=1)
    read = example["survey"]["overall_satisfaction"].to_numpy(dtype=float)
    assert len(read) == len(mean) and np.isnan(read).sum() == mean.isna().sum() > 0
    assert ((read >= 4) == (mean >= 7).to_numpy()).all()  # missing: neither
    assert 0.5 < (mean >= 7).sum() / mean.notna().sum() < 0.95  # both kinds of answer occur
