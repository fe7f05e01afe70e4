"""The workshop kit: check cells, student notebooks made from the case notebooks, the kit folder,
and the student notebooks executed with blank exercises ("not yet", no error) and with the
solutions put back ("well done")."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

import crmlab
from crmlab import paths, results, workshop
from crmlab.cases import get_case
from crmlab.errors import CrmlabError, ParameterError
from crmlab.params import notebook_parameters
from crmlab.synthetic import generate
from tests.deliverables_support import canonical_run

CASE = "retail_satisfaction"
FINANCE = "finance_churn"


@pytest.fixture(autouse=True)
def _instructor_mode():
    workshop.student_mode(False)
    yield
    workshop.student_mode(False)


# --------------------------------------------------------------------------------------------
# check()
# --------------------------------------------------------------------------------------------
def test_check_in_student_mode_talks_and_never_raises(capsys):
    workshop.student_mode()
    assert workshop.check("n", {}, 195) is False
    assert workshop.check("n", {"n": None}, 195) is False
    assert workshop.check("n", {"n": ...}, 195) is False
    assert workshop.check("n", {"n": 200}, 195, tol=1, hint="use alpha and power") is False
    assert workshop.check("n", {"n": 195.4}, 195, tol=1) is True
    assert workshop.check("s", {"s": ["a", "b"]}, test=lambda v: v[0] == "a") is True
    assert workshop.check("s", {"s": 3}, test=lambda v: v[0] == "a") is False  # TypeError inside
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "\u23f3 Not yet",
        "\u23f3 Not yet",
        "\u23f3 Not yet",
        "\u274c Not quite",
        "\u2705 Well done",
        "\u2705 Well done",
        "\u274c Not quite",
    ]
    assert "Hint: use alpha and power" in lines[3]
    # a student reads what kind of answer it was, not a Python error
    assert "(it is a number, which the check cannot compare)" in lines[6]
    assert "TypeError" not in lines[6]
    low_high = lambda ci: ci[1] - ci[0] > 0  # noqa: E731
    assert workshop.check("ci", {"ci": "about 24-27%"}, test=low_high) is False
    said = capsys.readouterr().out
    assert "(it is text: 'about 24-27%', which the check cannot compare)" in said
    workshop.student_mode(False)  # the instructor notebook's author sees the error itself
    with pytest.raises(workshop.CheckFailed, match="TypeError"):
        workshop.check("ci", {"ci": "about 24-27%"}, test=low_high)


def test_check_in_instructor_mode_is_silent_when_right_and_raises_when_not(capsys):
    assert workshop.check("x", {"x": 0.30000000000000004}, 0.3) is True
    assert capsys.readouterr().out == ""
    with pytest.raises(workshop.CheckFailed, match="Not quite"):
        workshop.check("x", {"x": 0.31}, 0.3, tol=0.001)
    with pytest.raises(workshop.CheckFailed, match="Not yet"):
        workshop.check("x", {}, 0.3)
    with pytest.raises(TypeError):
        workshop.check("x", {"x": 1})


@pytest.fixture
def running_stage(tmp_path, monkeypatch):
    """A running stage (as a notebook's first cell starts one) whose figures the test records;
    the previous stage, if any, is restored afterwards."""
    monkeypatch.setattr(results, "_current", None)
    return results.start_stage(CASE, "03_model", tmp_path / "run", tmp_path / "data")


def test_check_recorded_tests_the_running_stage_figure(running_stage, capsys):
    workshop.student_mode()
    assert workshop.check_recorded("a.b", ["x"], hint="record the x") is False
    crmlab.record("a.b", ["y"])
    assert workshop.check_recorded("a.b", ["x"], what="the recorded list") is False
    crmlab.record("a.b", ("x",))  # recorded as a list
    assert workshop.check_recorded("a.b", test=lambda v: v == ["x"]) is True
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "\u23f3 Not yet: `a.b` is not recorded - record it with crmlab.record in the exercise "
        "above and run it (record the x).",
        "\u274c Not quite: the recorded list is not what the check expects.",
        "\u2705 Well done: the recorded `a.b` is right.",
    ]
    workshop.student_mode(False)
    with pytest.raises(workshop.CheckFailed, match="`c` is not recorded"):
        workshop.check_recorded("c", 1)
    with pytest.raises(workshop.CheckFailed, match="Not quite"):
        workshop.check_recorded("a.b", ["y"])


# --------------------------------------------------------------------------------------------
# student notebooks
# --------------------------------------------------------------------------------------------
def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for tags, source in cells:
        c = nbformat.v4.new_code_cell(source)
        c.metadata["tags"] = list(tags)
        nb.cells.append(c)
    return nb


def test_exercise_prompt_and_hint_come_from_the_solution_comments():
    prompt, hint, code = workshop.parse_exercise(
        "# Exercise: Count the\n#   customers.\n# Hint: len()\nn = len(df)\n# done"
    )
    assert (prompt, hint, code) == ("Count the customers.", "len()", "n = len(df)\n# done")


def test_solution_dependencies_find_names_read_later():
    nb = _nb(
        ([], "df = load()"),
        (["solution"], "# Exercise: x\nx = df.sum()\ny = 2"),
        (["check"], "workshop.check('x', globals(), 3)"),
        ([], "print(y)"),  # reads y: not a leaf
        ([], "x = 1\nprint(x)"),  # assigns x itself: fine
    )
    assert workshop.solution_dependencies(nb) == {1: {"y"}}
    nb.cells[3].source = "y = 5\nprint(y)"
    assert workshop.solution_dependencies(nb) == {1: set()}
    nb.cells.insert(3, nbformat.v4.new_code_cell("y = 0"))  # redefined before being read
    nb.cells[4].source = "print(y)"
    assert workshop.solution_dependencies(nb) == {1: set()}


def test_student_notebook_replaces_solutions_and_keeps_checks():
    params = nbformat.v4.new_code_cell(
        'run_dir: str = ""  # r\ndata_dir: str = ""  # d\nn: int = 3'
    )
    params.metadata["tags"] = ["parameters"]
    nb = _nb(
        ([], "import pandas"),
        (["solution"], "# Exercise: Add one.\n# Hint: +\nanswer = n + 1"),
        (["check"], "workshop.check('answer', globals(), n + 1)"),
    )
    nb.cells.insert(0, params)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="4\n")]
    student = workshop.make_student_notebook(nb, "2")
    sources = [c.source for c in student.cells]
    assert "workshop.student_mode()" in sources[0]
    # the kit's paths, with comments that say what they are in the kit (not the runner's)
    assert sources[1].splitlines()[:2] == [
        'run_dir: str = "../work"  # the kit\'s work/ folder, where the stages pass their results on;'
        " keep it",
        'data_dir: str = "../data"  # the kit\'s data/ folder: the input files of the case',
    ]
    ex = student.cells[3]
    assert ex.metadata["tags"] == ["exercise"] and ex.metadata["crmlab"]["exercise"] == "2.1"
    assert "Exercise 2.1: Add one." in ex.source and "# Hint: +" in ex.source
    assert "`answer`" in ex.source and "answer = n + 1" not in ex.source
    check_cell = student.cells[4]  # the same check code, its source hidden, a comment in words
    assert check_cell.source.endswith("\n" + nb.cells[3].source)
    assert check_cell.source.startswith("# Check: tests `answer` against values computed")
    assert check_cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": False}
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert nb.cells[2].source.endswith("answer = n + 1")  # the instructor copy is untouched
    nb.cells.append(nbformat.v4.new_code_cell("print(answer)"))
    with pytest.raises(CrmlabError, match="must be leaves"):
        workshop.make_student_notebook(nb)


def test_retail_notebooks_have_exercises_with_checks():
    for path in get_case(CASE).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        solutions = [i for i, t in enumerate(tags) if "solution" in t]
        assert solutions, f"{path.name} has no exercise"
        for i in solutions:
            assert "check" in tags[i + 1], f"{path.name}: solution cell {i} has no check after it"
            prompt, hint, _ = workshop.parse_exercise(nb.cells[i].source)
            assert prompt and hint
        assert all(not d for d in workshop.solution_dependencies(nb).values())


def _exercise_and_check(case: str, stage: str, label: str):
    """The exercise cell ``label`` ("3.2") of the student copy of a stage notebook and the check
    cell after it."""
    path = next(p for p in get_case(case).notebooks if p.stem == stage)
    student = workshop.make_student_notebook(nbformat.read(str(path), as_version=4), label[0])
    (i,) = [
        i
        for i, c in enumerate(student.cells)
        if c.metadata.get("crmlab", {}).get("exercise") == label
    ]
    return student.cells[i], student.cells[i + 1]


def test_retail_priority_matrix_check_tests_the_recorded_fix_first_drivers(running_stage, capsys):
    """Exercise 3.2 asks for `matrix` and the recorded "fix first" drivers: its check cell, run
    on a small survey whose only fix-first driver is b (important a and b; b and c perform below
    the median), says "not yet" until they are recorded and "not quite" when they are wrong."""
    import pandas as pd

    from crmlab import drivers

    exercise, cell = _exercise_and_check(CASE, "03_model", "3.2")
    assert "record `drivers.fix_first`" in exercise.source
    assert "(`drivers.fix_first`)" in cell.source  # the hidden check says what it tests
    cols = ["a", "b", "c", "d"]
    survey = pd.DataFrame({"a": [5, 5, 4, 1], "b": [1, 2, 3, 4], "c": [1, 2, 2, 5], "d": [5] * 4})
    importance = pd.DataFrame({"lmg": [0.3, 0.25, 0.1, 0.05]}, index=cols)
    matrix = drivers.priority_matrix(importance["lmg"], drivers.driver_performance(survey, cols))
    assert list(matrix.index[matrix["quadrant"] == "fix first"]) == ["b"]
    names = {"ols": "fitted", "survey": survey, "driver_cols": cols, "importance": importance}

    def run(recorded):
        running_stage.figures.pop("drivers.fix_first", None)
        if recorded is not None:
            crmlab.record("drivers.fix_first", recorded)
        exec(cell.source, {**names, "matrix": matrix})
        return capsys.readouterr().out.splitlines()

    workshop.student_mode()
    skipped = run(None)  # the matrix is right, the figure not recorded: not "well done"
    assert skipped[0].startswith("\u2705 Well done: `matrix`")
    assert skipped[1].startswith("\u23f3 Not yet: `drivers.fix_first` is not recorded")
    assert 'whose quadrant in `matrix` is "fix first"' in skipped[1]
    for wrong in (["a", "b"], [], "b", ["b", "b"]):
        (_, line) = run(wrong)
        assert line.startswith("\u274c Not quite: the recorded list of fix-first drivers"), line
        assert 'Hint: the list of the drivers whose quadrant in `matrix` is "fix first"' in line
    assert run(["b"])[1] == "\u2705 Well done: the recorded list of fix-first drivers is right."
    workshop.student_mode(False)  # the instructor notebook raises
    assert run(["b"]) == []
    with pytest.raises(workshop.CheckFailed, match="not recorded"):
        run(None)
    with pytest.raises(workshop.CheckFailed, match="fix-first drivers"):
        run(["a", "b"])


def _run_check(cell, names: dict, figures: dict, capsys) -> list[str]:
    """The lines a check cell prints when run on ``names`` with exactly ``figures`` recorded in
    the running stage."""
    results.current_stage().figures.clear()
    for figure, value in figures.items():
        crmlab.record(figure, value)
    exec(cell.source, dict(names))
    return capsys.readouterr().out.splitlines()


def _sample_sizes():
    """Exercise 1.1: the answers and the recorded sizes (right; wrong: the two swapped)."""
    from types import SimpleNamespace

    from crmlab import power

    n_detect = power.n_per_arm_two_proportions(0.8, 0.9, alpha=0.05, power=0.8)
    n_margin = power.n_for_margin(0.9, 0.03, alpha=0.05)
    goal = SimpleNamespace(baseline=0.8, target=0.9)
    names = {"history": "waves", "goal": goal, "alpha": 0.05, "power": 0.8}
    names |= {"n_detect": n_detect, "n_margin": n_margin}
    right = {"pilot.n_per_arm": n_detect, "survey.n_per_wave_for_3pt_margin": n_margin}
    wrong = {"pilot.n_per_arm": n_margin, "survey.n_per_wave_for_3pt_margin": n_detect}
    return names, right, wrong


def _returns_share():
    """Exercise 2.1 (wrong: returns over purchases, not over all transactions)."""
    import pandas as pd

    counts = pd.DataFrame({"rows": [40], "returns": [6]}, index=["transactions"])
    names = {"counts": counts, "returns_share": 6 / 40}
    return names, {"data.returns_share": 6 / 40}, {"data.returns_share": 6 / 34}


def _did():
    """Exercise 4.1 on ten stores, one answer missing (wrong: the pilot months' difference, the
    interval and p-value with unclustered errors)."""
    import numpy as np
    import pandas as pd

    from crmlab import pilot

    rng = np.random.default_rng(1)
    cells = [(f"S{i}", int(i < 5), post) for i in range(10) for post in (0, 1) for _ in range(30)]
    panel = pd.DataFrame(cells, columns=["store_id", "treated", "post"])
    uplift = 0.1 * panel["treated"] * panel["post"] + rng.normal(0, 0.05, 10).repeat(60)
    panel["satisfied"] = (rng.random(len(panel)) < 0.7 + uplift).astype(float)
    panel.loc[3, "satisfied"] = np.nan
    did = pilot.did_estimate(panel, outcome="satisfied", alpha=0.05)
    plain = pilot.did_estimate(panel, outcome="satisfied", alpha=0.05, cov_type="nonrobust")
    post = panel[panel["post"] == 1].groupby("treated")["satisfied"].mean()
    names = {"has_pilot": True, "panel": panel, "alpha": 0.05, "did": did}
    right = {"pilot.did_effect": did.effect, "pilot.did_ci": list(did.ci)}
    right["pilot.did_p_value"] = did.p_value
    wrong = {"pilot.did_effect": post[1] - post[0], "pilot.did_ci": list(plain.ci)}
    wrong["pilot.did_p_value"] = plain.p_value
    return names, right, wrong


def _kpi_board():
    """Exercise 5.1 on two waves; the latest: CSAT 3 of 5 valid answers, NPS 100 x (3 - 1) / 5
    (wrong: CSAT marked as met, the share of promoters as the NPS)."""
    import numpy as np
    import pandas as pd

    from crmlab import kpis

    survey = pd.DataFrame(
        {
            "wave": ["2024-01"] * 4 + ["2024-02"] * 6,
            "date": pd.to_datetime(["2024-01-05"] * 4 + ["2024-02-05"] * 6),
            "overall_satisfaction": [5, 5, 5, 5, 5, 4, 3, 5, 2, np.nan],
            "recommend": [10, 10, 10, 10, 10, 9, 9, 7, 3, np.nan],
        }
    )
    board = kpis.retail_kpis({"survey": survey}, {"CSAT": 0.9, "NPS": 45.0})
    names = {"tables": {"survey": survey}, "target": 0.9, "board": board, "kpis": kpis}
    names |= {"tx_summary": None, "spend_growth_target": 0.05}  # no transactions: CSAT, NPS
    right = {"kpi.csat": {"actual": 0.6, "target": 0.9, "met": False}, "nps": 40.0}
    wrong = {"kpi.csat": {"actual": 0.6, "target": 0.9, "met": True}, "nps": 60.0}
    return names, right, wrong


def _odds_ratios():
    """Finance exercise 3.1 on a small logit (wrong: the coefficients, not their exp; the 90%
    intervals)."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    x = pd.DataFrame({"tenure": rng.normal(size=200), "logins": rng.normal(size=200)})
    churned = (rng.random(200) < 1 / (1 + np.exp(x["logins"] - 0.5 * x["tenure"]))).astype(int)
    result = sm.Logit(churned, sm.add_constant(x)).fit(disp=0)
    features = ["tenure", "logins"]
    odds_ratios = np.exp(result.params[features])

    def intervals(alpha):
        bounds = np.exp(result.conf_int(alpha=alpha).loc[features])
        return {f: [float(bounds.loc[f, 0]), float(bounds.loc[f, 1])] for f in features}

    names = {"has_model": True, "model": SimpleNamespace(result=result), "alpha": 0.05, "pd": pd}
    names |= {"design": SimpleNamespace(features=features)}
    names |= {"odds_ratios": odds_ratios, "or_ci": intervals(0.05)}
    right = {"model.odds_ratios": odds_ratios.to_dict(), "model.or_ci": intervals(0.05)}
    wrong = {"model.odds_ratios": result.params[features].to_dict(), "model.or_ci": intervals(0.1)}
    return names, right, wrong


@pytest.mark.parametrize(
    ("case", "stage", "label", "make"),
    [
        (CASE, "01_goals", "1.1", _sample_sizes),
        (CASE, "02_data", "2.1", _returns_share),
        (CASE, "04_pilot", "4.1", _did),
        (CASE, "05_evaluate", "5.1", _kpi_board),
        (FINANCE, "03_model", "3.1", _odds_ratios),
    ],
)
def test_checks_test_the_figures_their_exercise_records(
    case, stage, label, make, running_stage, capsys
):
    """An exercise asking to record figures: its check cell, run on right answers, says "not yet"
    for each figure left unrecorded (not "well done"), "not quite" for each one recorded wrong,
    and "well done" once all are right; the instructor notebook's check raises instead. The
    exercise and the check's comment name each figure."""
    names, right, wrong = make()
    exercise, cell = _exercise_and_check(case, stage, label)
    said = [re.sub(r"\s*\n#\s*", " ", c.source) for c in (exercise, cell)]
    for figure in right:
        assert f"`{figure}`" in said[0].split(" record ", 1)[1], (figure, said[0])
        assert f"(`{figure}`)" in said[1].split("against values")[0], (figure, said[1])
    workshop.student_mode()
    skipped = _run_check(cell, names, {}, capsys)
    n_answers = len(skipped) - len(right)
    assert n_answers >= 1
    assert all(line.startswith("\u2705 Well done") for line in skipped[:n_answers]), skipped
    for figure, line in zip(right, skipped[n_answers:], strict=True):
        assert line.startswith(f"\u23f3 Not yet: `{figure}` is not recorded"), line
    for figure, value in wrong.items():  # one figure wrong at a time
        lines = _run_check(cell, names, {**right, figure: value}, capsys)
        bad = [line for line in lines if not line.startswith("\u2705 Well done")]
        assert len(lines) == len(skipped) and len(bad) == 1, (figure, lines)
        assert bad[0] == lines[n_answers + list(right).index(figure)], (figure, lines)
        assert bad[0].startswith("\u274c Not quite: ") and "recorded" in bad[0].split(":")[1]
        assert "Hint:" in bad[0], bad
    done = _run_check(cell, names, right, capsys)
    assert len(done) == len(skipped) and all(x.startswith("\u2705 Well done") for x in done)
    workshop.student_mode(False)  # the instructor notebook: silent when right, raises if not
    assert _run_check(cell, names, right, capsys) == []
    with pytest.raises(workshop.CheckFailed, match="is not recorded"):
        _run_check(cell, names, {}, capsys)


def test_finance_notebooks_have_exercises_with_checks():
    exercises = {}
    for path in get_case(FINANCE).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        for i in [i for i, t in enumerate(tags) if "solution" in t]:
            assert "check" in tags[i + 1], f"{path.name}: solution cell {i} has no check after it"
            prompt, hint, _ = workshop.parse_exercise(nb.cells[i].source)
            assert prompt and hint
            exercises[path.stem] = prompt
        assert all(not d for d in workshop.solution_dependencies(nb).values())
    assert set(exercises) == {"01_goals", "02_data", "03_model", "04_pilot", "05_evaluate"}


def test_canonical_run_passes_its_checks_silently(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, CASE)
    n = 0
    for path in get_case(CASE).notebooks:
        nb = nbformat.read(str(run_dir / path.name), as_version=4)
        for cell in nb.cells:
            if "check" in cell.metadata.get("tags", []):
                n += 1
                assert cell.outputs == [], (path.name, cell.outputs)
    assert n >= 6


# --------------------------------------------------------------------------------------------
# the kit
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kit_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("kitdata") / CASE
    generate(CASE, data, seed=7, n_customers=400, n_stores=12, responses_per_wave=80)
    return data


@pytest.fixture(scope="module")
def kit(tmp_path_factory, kit_data):
    """The retail kit, built with its solutions (written next to it)."""
    kit_dir = tmp_path_factory.mktemp("kit") / CASE
    return workshop.build_kit(CASE, kit_dir, data_dir=kit_data, solutions=True)


def _guide(kit_dir, lang="en", solutions=True) -> str:
    """A trainer guide of a kit: next to it, in its solutions folder when it has one."""
    folder = workshop.trainer_dir(kit_dir, solutions)
    return (folder / workshop.GUIDES[lang]).read_text(encoding="utf-8")


def test_kit_folder_holds_data_and_notebooks_and_the_trainer_guide_sits_next_to_it(kit):
    stages = get_case(CASE).stages
    assert sorted(p.stem for p in (kit / "notebooks").glob("*.ipynb")) == stages
    data = sorted(p.name for p in (kit / "data").iterdir())
    assert "customers.csv" in data and not any(name.startswith("truth") for name in data)
    # the guides are the trainer's: in the solutions folder next to the kit, not in the kit
    assert not any("TRAINER" in p.name.upper() for p in kit.rglob("*"))
    trainer = workshop.trainer_dir(kit, solutions=True)
    assert trainer == workshop.solutions_dir(kit) and trainer.parent == kit.resolve().parent
    assert {"TRAINER_GUIDE.md", "TRAINER_GUIDE.zh.md"} <= {p.name for p in trainer.iterdir()}
    assert not (kit.parent / f"{kit.name}-trainer").exists()
    guide = _guide(kit)
    for stage in stages:
        assert f"| {stage} - " in guide
    # agenda start times add up: 15 min set-up, then each stage's minutes
    starts = [line.split("|")[1].strip() for line in guide.splitlines() if "| 0" in line[:4]]
    assert starts[:3] == ["0:00", "0:15", "0:50"]
    # the discussion questions cite the reference articles, which the guide names once
    assert "Reference article 000" in guide and "Reference article 004" in guide
    assert "*How to develop a customer management case*" in guide and "Seed 0" not in guide
    assert len(guide.splitlines()) < 80  # one page
    assert "jupyter lab --notebook-dir=" in (kit / "README.md").read_text(encoding="utf-8")
    # it says where it is: with the solutions, which are in notebooks/ there
    said = re.sub(r"\s+", " ", guide)
    assert f"not in the kit (`../{kit.name}/`)" in said and "are here, in `notebooks/`" in said


def test_a_rebuilt_kit_leaves_no_trainer_folder_of_the_old_build_and_no_absolute_path(
    tmp_path, kit_data
):
    """Rebuilding a kit with, then without solutions (or the other way) leaves one trainer
    folder, the new build's; the kit's README names the kit folder relative to the project or
    as PATH/TO/<name> - never the trainer's absolute path (found by a new-user trial)."""
    kit = tmp_path / "kits" / CASE
    workshop.build_kit(CASE, kit, data_dir=kit_data, solutions=True)
    assert workshop.solutions_dir(kit).is_dir()
    workshop.build_kit(CASE, kit, data_dir=kit_data)
    assert workshop.trainer_dir(kit).is_dir() and not workshop.solutions_dir(kit).exists()
    workshop.build_kit(CASE, kit, data_dir=kit_data, solutions=True)
    assert workshop.solutions_dir(kit).is_dir() and not workshop.trainer_dir(kit).exists()
    with pytest.raises(CrmlabError, match="exists; remove it or pass overwrite"):
        workshop.build_kit(CASE, kit, data_dir=kit_data, overwrite=False)
    readme = (kit / "README.md").read_text(encoding="utf-8")
    assert f"--notebook-dir=PATH/TO/{CASE}" in readme and str(tmp_path) not in readme
    assert workshop._kit_path_shown(paths.project_root() / "workshop" / CASE) == (
        f"workshop/{CASE}"
    )


def _agenda_rows(guide: str) -> list[tuple[str, str, list[str]]]:
    """(start, minutes, exercise labels) of each agenda row of a trainer guide."""
    rows = []
    for line in guide.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"(\d+:\d\d)?", cells[0]) and cells[2].isdigit():
            rows.append((cells[0], cells[2], re.findall(r"\b\d\.\d+(?=:)", cells[3])))
    return rows


#: Technical names a Chinese guide keeps in Latin letters.
LATIN_OK = {"AUC", "Cox", "CRM", "ERP", "JupyterLab", "Kaplan", "LMG", "Meier", "OLS", "Python"}
LATIN_OK |= {"RFM", "SMART", "crmlab", "logit"}


def _latin_words(text: str) -> set[str]:
    """Words in Latin letters outside code spans, other than the technical names above."""
    return set(re.findall(r"[A-Za-z]{2,}", re.sub(r"`[^`]*`", "", text))) - LATIN_OK


def test_trainer_guide_in_chinese_has_the_same_agenda_and_no_english_left(kit):
    en, zh = _guide(kit), _guide(kit, "zh")
    rows_en, rows_zh = _agenda_rows(en), _agenda_rows(zh)
    # set-up, five stages, wrap-up; 15 min set-up then 35, 30, 50, 40, 35 (the case spec), with
    # a 15-minute break before a stage that would end more than 90 minutes after the last one
    assert [r[:2] for r in rows_en] == [
        ("0:00", "15"),
        ("0:15", "35"),
        ("0:50", "30"),
        ("1:20", "15"),  # break: stage 3 would end at 2:10, 130 minutes in
        ("1:35", "50"),
        ("2:25", "40"),  # ends 90 minutes after the break: no break yet
        ("3:05", "15"),  # break
        ("3:20", "35"),
        ("3:55", "15"),  # the wrap-up starts when the last stage ends
    ]
    assert rows_zh == rows_en  # same timings and the same exercises (1.1, 3.1, 3.2, ...)
    assert sum(len(r[2]) for r in rows_zh) == 6
    assert "250 分钟" in zh and "休息 2 次、每次 15 分钟" in zh  # 15 + 190 + 2 x 15 + 15
    assert "**Length:** 250 minutes" in en and "2 breaks of 15" in en
    headings = [ln for ln in zh.splitlines() if ln.startswith("#") or ln.startswith("**阶段")]
    assert len(headings) == 4 + 5 and headings[0].startswith("# 培训师指南：零售客户满意度")
    for line in headings:
        assert not _latin_words(line.split("。**")[0]), line
    # the agenda, goals and questions: Chinese throughout (the closing notes quote the checks)
    body = zh[: zh.index("## 课堂组织")]
    assert not _latin_words(body), sorted(_latin_words(body))
    assert "参考文章 000" in zh and "参考文章 004" in zh
    assert len(zh.splitlines()) < 80
    assert "就在本文件夹的 `notebooks/` 中" in zh  # with the solutions


def test_kit_readme_follows_the_kit_language(finance_kit):
    readme = (finance_kit / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# 培训材料：金融客户流失") and "不含培训师指南" in readme
    assert (workshop.solutions_dir(finance_kit) / "TRAINER_GUIDE.zh.md").is_file()
    with pytest.raises(ParameterError, match="Unknown language"):
        workshop.build_kit(FINANCE, finance_kit.parent / "other", lang="fr")


@pytest.mark.parametrize("which", ["kit", "finance_kit"])
def test_kit_readme_names_only_files_in_the_kit(which, request):
    """The README goes to the students with the kit: every file or folder it lists, and every
    ``.md`` file it names, is in the kit; it names no trainer guide (not in the kit) and says
    the guide is not there."""
    kit_dir = request.getfixturevalue(which)
    readme = (kit_dir / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^- `([^`]+)`", readme, flags=re.M)
    named = re.findall(r"`([^`\s]+\.md)`", readme)
    assert {"notebooks/", "data/", "work/", "install/"} <= set(listed)
    assert {"REFERENCES.md", "REFERENCES.zh.md"} <= set(named)
    for name in listed + named:
        assert (kit_dir / name).exists(), name
    assert "TRAINER_GUIDE" not in readme
    said = {"kit": "trainer guide (agenda,", "finance_kit": "本套材料不含培训师指南"}[which]
    assert said in readme and "DIR-trainer/" in readme and "DIR-solutions/" in readme


@pytest.mark.parametrize("which", ["kit", "finance_kit"])
def test_student_notebooks_say_where_the_kit_keeps_data_and_results(which, request):
    """The parameters the kit sets say what they are in the kit: ../work is the kit's work/,
    through which the stages pass their results (not the runner's reports/ folder); the
    solutions' copies say theirs is not the students'. Comments in English, as the rest of the
    notebooks, in either language of the kit."""
    kit_dir = request.getfixturevalue(which)
    folders = {kit_dir / "notebooks": "kit", workshop.solutions_dir(kit_dir) / "notebooks": "sol"}
    for folder, role in folders.items():
        paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        assert len(paths) == 5
        for path in paths:
            params = notebook_parameters(path)  # readable by papermill: no '=' in the comments
            run, data = params["run_dir"], params["data_dir"]
            assert run["default"] == '"../work"', path
            for text in (run["help"], data["help"]):
                assert "runner" not in text and "reports" not in text and "empty" not in text
            assert (folder / "../work").resolve() == (folder.parent / "work").resolve()
            if role == "kit":
                assert run["help"].startswith("the kit's work/ folder, where the stages pass")
                assert data["default"] == '"../data"' and "the kit's data/" in data["help"]
            else:
                assert run["help"] == "the work/ folder of these solutions, not the students' work/"
                assert data["default"] == f'"../../{kit_dir.name}/data"'
                assert data["help"].startswith("the kit's data/ folder")


@pytest.mark.parametrize("solutions", [False, True])
def test_workshop_command_says_where_the_trainer_guide_is(
    solutions, kit_data, tmp_path, monkeypatch, capsys
):
    """``crmlab workshop`` prints the path of the trainer guide in the kit's language: a file next
    to the kit (in the solutions folder with --solutions), not in it. (Built without the wheel,
    and on the small data: the message is under test, not the kit.)"""
    from crmlab import cli

    real_build = workshop.build_kit
    monkeypatch.setattr(workshop, "source_root", lambda: None)
    monkeypatch.setattr(
        workshop, "build_kit", lambda *a, **k: real_build(*a, data_dir=kit_data, **k)
    )
    out = tmp_path / "kit"
    argv = ["workshop", CASE, "--out", str(out), "--lang", "zh"]
    assert cli.main(argv + ["--solutions"] * solutions) == 0
    printed = capsys.readouterr().out
    guide = workshop.trainer_dir(out, solutions) / "TRAINER_GUIDE.zh.md"
    line = next(ln for ln in printed.splitlines() if ln.startswith("trainer guide"))
    assert line.endswith(f": {guide}") and "not for students" in line and guide.is_file()
    assert not guide.is_relative_to(out.resolve())
    assert ("solutions (for the trainer" in printed) == solutions


# --------------------------------------------------------------------------------------------
# install/: what a student needs to install crmlab without the project
# --------------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def _wheel(kit_dir) -> Path:
    wheels = sorted((kit_dir / "install").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_kit_carries_a_crmlab_wheel_with_its_data_files_and_the_pinned_versions(kit):
    assert sorted(p.name for p in (kit / "install").iterdir()) == [
        "constraints.txt",
        f"crmlab-{crmlab.__version__}-py3-none-any.whl",
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    with zipfile.ZipFile(_wheel(kit)) as whl:
        names = set(whl.namelist())
        info = f"crmlab-{project['version']}.dist-info"
        metadata = whl.read(f"{info}/METADATA").decode()
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
        assert whl.testzip() is None
    header = dict(ln.split(": ", 1) for ln in metadata.split("\n\n")[0].splitlines())
    assert header["Name"] == "crmlab" and header["Version"] == crmlab.__version__
    assert header["Version"] == project["version"]
    assert "crmlab = crmlab.cli:main" in entry_points
    # every module and the data files the notebooks read: case specs, rule sets, templates
    lib = ROOT / "lib"
    shipped = {
        p.relative_to(lib).as_posix()
        for pattern in ("crmlab/**/*.py", "crmlab/rules/*.yaml", "crmlab/templates/cases/*")
        for p in lib.glob(pattern)
        if "__pycache__" not in p.parts
    }
    assert len([n for n in shipped if n.startswith("crmlab/rules/")]) >= 2
    assert shipped <= names, sorted(shipped - names)
    assert {
        "crmlab/templates/cases/retail_satisfaction.yaml",
        "crmlab/templates/cases/finance_churn.yaml",
        "crmlab/templates/references.yaml",
        "crmlab/templates/kit_readme.md.j2",
    } <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # constraints.txt: every pin of the project's requirements.lock, jupyterlab among them
    pins = [ln for ln in (ROOT / "requirements.lock").read_text().splitlines() if "==" in ln]
    constraints = (kit / "install" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert set(pins) <= set(constraints) and any(p.startswith("jupyterlab==") for p in pins)
    assert all(ln.startswith("#") or "==" in ln for ln in constraints if ln.strip())


def _install_commands(readme: str) -> list[list[str]]:
    """The ``pip install`` commands of a kit README's shell blocks, as argument lists."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    lines = [ln.split("#")[0] for block in blocks for ln in block.splitlines()]
    return [shlex.split(ln) for ln in lines if "pip install" in ln]


@pytest.mark.parametrize("which", ["kit", "finance_kit"])
def test_readme_install_command_names_files_in_the_kit(which, request):
    kit_dir = request.getfixturevalue(which)
    readme = (kit_dir / "README.md").read_text(encoding="utf-8")
    (cmd,) = _install_commands(readme)
    assert cmd[:4] == ["python", "-m", "pip", "install"]
    args = cmd[4:]
    constraints = args[args.index("-c") + 1]
    wheels = [a for a in args if a.endswith(".whl")]
    assert constraints == "install/constraints.txt" and (kit_dir / constraints).is_file()
    assert wheels == [f"install/{_wheel(kit_dir).name}"]  # the exact name: no shell glob needed
    assert "jupyterlab" in args
    # a venv first, JupyterLab in the kit folder after; the project way stays for trainers
    assert "-m venv .venv" in readme and re.search(r"^jupyter lab\s*$", readme, flags=re.M)
    assert "Python 3.11" in readme and "jupyter lab --notebook-dir=" in readme


def test_kit_without_project_sources_says_so_and_has_no_install_folder(
    kit_data, tmp_path, monkeypatch
):
    monkeypatch.setattr(workshop, "source_root", lambda: None)
    for lang, said in (("en", "carries no installer"), ("zh", "不含 `crmlab` 库的安装文件")):
        kit_dir = workshop.build_kit(CASE, tmp_path / lang, data_dir=kit_data, lang=lang)
        readme = (kit_dir / "README.md").read_text(encoding="utf-8")
        assert not (kit_dir / "install").exists()
        assert said in readme and f"crmlab {crmlab.__version__}" in readme
        assert not _install_commands(readme) and "install/" not in readme


def test_source_root_is_the_project_of_the_running_crmlab():
    assert workshop.source_root() == ROOT
    assert Path(crmlab.__file__).resolve().is_relative_to(ROOT / "lib")  # the editable install


#: Runs each student notebook of a kit in order with nbclient in the Python that runs it; a
#: last cell prints where crmlab was imported from.
RUN_KIT = """
import pathlib, sys, nbformat
from nbclient import NotebookClient

folder = pathlib.Path(sys.argv[1])
for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import crmlab; print('FROM', crmlab.__file__)"))
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, (path.name, errors)
    print(path.stem, nb.cells[-1].outputs[0]["text"].strip())
"""


def test_wheel_installs_in_a_fresh_venv_and_the_kit_runs_on_it(kit, tmp_path):
    """The wheel, installed (``--no-deps``) into a new venv in tmp, is what a student's notebooks
    import: ``crmlab.__file__`` is in that venv, not the project's ``lib/`` (the editable install),
    and every stage of a copy of the kit runs there, blank exercises and all. The dependencies
    come from this environment through a ``.pth`` naming its site-packages (a path line only: the
    ``.pth`` files there, the editable install's among them, are not read)."""
    started = time.monotonic()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps"]
        + ["--no-index", str(_wheel(kit))],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "CRMLAB_HOME"}}
    probe = subprocess.run(
        [python, "-c", "import crmlab, crmlab.rfm as r; print(crmlab.__file__, r.list_rulesets())"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert probe.startswith(str(Path(site) / "crmlab" / "__init__.py")), probe
    assert "rfm_three_score" in probe
    copy = shutil.copytree(kit, tmp_path / "kit", ignore=shutil.ignore_patterns("work"))
    (copy / "work").mkdir()
    done = subprocess.run(
        [python, "-c", RUN_KIT, str(copy / "notebooks")],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    where = dict(line.split(" FROM ", 1) for line in done.stdout.splitlines() if " FROM " in line)
    assert set(where) == set(get_case(CASE).stages)
    assert all(Path(f).is_relative_to(site) for f in where.values()), where
    assert any((copy / "work").iterdir())
    print(f"wheel venv + kit run: {time.monotonic() - started:.1f} s")


def test_the_kit_wheel_is_reproducible_and_leaves_the_project_clean(tmp_path):
    started = time.time()
    wheel = workshop.build_wheel(ROOT, tmp_path)
    assert wheel.parent == tmp_path  # (tests never assert build times: bench/ measures)
    again = workshop.build_wheel(ROOT, tmp_path / "again")
    assert again.read_bytes() == wheel.read_bytes()  # dated SOURCE_DATE_EPOCH: the same bytes
    assert not (ROOT / "build").exists() or (ROOT / "build").stat().st_mtime < started


def _messages(results):
    return {stage: workshop.check_messages(nb) for stage, nb in results.items()}


@pytest.fixture(scope="module")
def kit_blank(kit):
    """The retail kit's student notebooks executed with their exercises left blank."""
    return workshop.execute_kit(kit, {"n_boot": 20})


@pytest.fixture(scope="module")
def finance_kit_blank(finance_kit):
    """The finance kit's student notebooks executed with their exercises left blank."""
    return workshop.execute_kit(finance_kit, {}, case=FINANCE)


def test_blank_exercises_run_through_and_say_not_yet(kit_blank):
    results = kit_blank
    messages = _messages(results)
    assert set(messages) == set(get_case(CASE).stages)
    for stage, lines in messages.items():
        assert lines, f"{stage}: no check ran"
        assert all(line.startswith("\u23f3 Not yet") for line in lines), (stage, lines)
    for nb in results.values():  # no cell failed (papermill would raise), none printed errors
        for cell in nb.cells:
            assert all(o.get("output_type") != "error" for o in cell.get("outputs", []))


def test_solutions_put_back_pass_every_check(kit):
    messages = _messages(workshop.execute_kit(kit, {"n_boot": 20}, solutions=True, case=CASE))
    lines = [line for stage_lines in messages.values() for line in stage_lines]
    assert len(lines) == sum(_check_calls(CASE).values())  # each check ran and said one line
    assert all(line.startswith("\u2705 Well done") for line in lines), messages


# --------------------------------------------------------------------------------------------
# the finance kit (a smaller book of customers: both executions take about 30 s)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finance_kit(tmp_path_factory):
    data = tmp_path_factory.mktemp("kitdata") / FINANCE
    generate(FINANCE, data, seed=7, n_customers=1500)
    kit_dir = tmp_path_factory.mktemp("kit") / FINANCE
    return workshop.build_kit(FINANCE, kit_dir, data_dir=data, lang="zh", solutions=True)


def _check_calls(case: str) -> dict[str, int]:
    """Stage -> number of ``workshop.check(`` and ``workshop.check_recorded(`` calls in the check
    cells of its instructor notebook (each prints one line in a student notebook)."""
    calls = {}
    for path in get_case(case).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        cells = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
        calls[path.stem] = sum(
            c.source.count("workshop.check(") + c.source.count("workshop.check_recorded(")
            for c in cells
        )
    return calls


def test_finance_kit_runs_blank_and_passes_with_solutions(finance_kit, finance_kit_blank):
    calls = _check_calls(FINANCE)
    # two checks in each stage; stage 3 also tests the two recorded figures of its exercise
    assert calls == {"01_goals": 2, "02_data": 2, "03_model": 4, "04_pilot": 2, "05_evaluate": 2}
    blank = _messages(finance_kit_blank)
    assert set(blank) == set(get_case(FINANCE).stages)
    # one "Not yet" per blank answer: stage 2 checks its one answer's intervals only once its
    # rates are right (two "segment_churn is not defined" lines before)
    assert {s: len(lines) for s, lines in blank.items()} == {**calls, "02_data": 1}
    lines = [line for stage_lines in blank.values() for line in stage_lines]
    assert len(lines) >= 6  # two checks after each exercise
    assert all(line.startswith("\u23f3 Not yet") for line in lines), blank
    solved = _messages(workshop.execute_kit(finance_kit, {}, solutions=True, case=FINANCE))
    assert {s: len(lines) for s, lines in solved.items()} == calls
    lines = [line for stage_lines in solved.values() for line in stage_lines]
    assert all(line.startswith("\u2705 Well done") for line in lines), solved


# --------------------------------------------------------------------------------------------
# the references page, the solutions and the hidden check cells (both kits)
# --------------------------------------------------------------------------------------------
def _kit_texts(kit_dir) -> dict[str, str]:
    """The kit's texts that cite articles, by language: the English guide and every cell of the
    student notebooks; the Chinese guide."""
    notebooks = [
        nbformat.read(str(p), as_version=4) for p in sorted((kit_dir / "notebooks").glob("*.ipynb"))
    ]
    cells = "\n\n".join(c.source for nb in notebooks for c in nb.cells)
    return {"en": _guide(kit_dir) + "\n\n" + cells, "zh": _guide(kit_dir, "zh")}


def _citations(text: str, lang: str) -> dict[str, set[str]]:
    """Article number -> cited places, read independently of the library: every 3-digit number in
    the clause after "article(s)" / "参考文章" (up to the end of the clause), and the
    "(step 4)" / "（第四步）" right after a number."""
    start, stop = (
        (r"(?i)\barticles?\b", r"[.;:?!]\s|\n\n") if lang == "en" else ("参考文章", "[。；：？！]")
    )
    place = (
        r"\((?:step|section|case)\s+\d+\)" if lang == "en" else r"（(?:第.{1,3}[步节]|案例.{1,3})）"
    )
    cited: dict[str, set[str]] = {}
    for m in re.finditer(start, text):
        clause = re.split(stop, text[m.end() :], maxsplit=1)[0]
        for number in re.findall(r"(?<!\d)\d{3}(?!\d)", clause):
            cited.setdefault(number, set())
        for number, where in re.findall(rf"(?<!\d)(\d{{3}})\s*({place})", clause):
            cited[number].add(where.strip("()（）").lower())
    return cited


def _entries(page: str, heading: str) -> dict[str, str]:
    """Article number -> the text of its section on a references page."""
    parts = re.split(rf"^## {heading} (\d{{3}})\b", page, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("which", ["kit", "finance_kit"])
def test_references_page_digests_every_cited_article_and_place(which, request):
    kit_dir = request.getfixturevalue(which)
    texts = _kit_texts(kit_dir)
    pages = {
        "en": _entries((kit_dir / "REFERENCES.md").read_text(encoding="utf-8"), "Article"),
        "zh": _entries((kit_dir / "REFERENCES.zh.md").read_text(encoding="utf-8"), "参考文章"),
    }
    every = {}
    for lang in ("en", "zh"):
        cited = _citations(texts[lang], lang)
        assert {"000", "004"} <= set(cited), (lang, cited)
        for number, places in cited.items():
            assert number in pages[lang], f"{lang}: article {number} is cited but not on the page"
            entry = pages[lang][number].lower()
            assert len(entry) > 400, (lang, number)  # a digest, not just a title
            for where in places:
                assert where in entry, f"{lang}: article {number} ({where}) is not in its entry"
            every.setdefault(lang, {}).update({number: places})
    assert set(every["en"]) == set(every["zh"]) == set(pages["en"]) == set(pages["zh"])
    # the citations the guide makes are really read (not an empty, vacuous check)
    places = set().union(*every["en"].values())
    if which == "kit":
        assert {"step 4", "step 6", "section 9"} <= places
        assert {"第四步", "第六步", "第九节"} <= set().union(*every["zh"].values())
    else:
        assert "case 2" in places and "案例二" in set().union(*every["zh"].values())
    # the README and the guides point to the page; the page has the article's title
    assert "The kit's **`REFERENCES.md`**" in _guide(kit_dir)
    assert "学员材料中的 **`REFERENCES.zh.md`**" in _guide(kit_dir, "zh")
    assert "REFERENCES" in (kit_dir / "README.md").read_text(encoding="utf-8")
    assert pages["en"]["000"].startswith(": How to develop a customer management case")
    assert pages["zh"]["000"].startswith("：《如何开发客户管理案例》")


def test_cited_articles_and_the_guard_against_undigested_citations(tmp_path):
    cited = workshop.cited_articles(
        "Reference article 000 (step 4) says; articles 001 *Plan*, 003 and 004; article 002/004 "
        "(section 9). 参考文章 000（案例二）、003"
    )
    assert cited == {
        "000": {"step 4", "案例二"},
        "001": set(),
        "002": set(),
        "003": set(),
        "004": {"section 9"},
    }
    agenda = {"en": [{"number": "1", "questions": []}]}
    workshop.write_references(tmp_path, {"en": "reference article 004 (section 9)"}, agenda, {})
    assert "Section 9" in (tmp_path / "REFERENCES.md").read_text(encoding="utf-8")
    for text in ("see article 042", "reference article 000 (step 12)", "参考文章 004（第八节）"):
        with pytest.raises(CrmlabError, match="does not digest"):
            workshop.write_references(tmp_path, {"en": text}, agenda, {})


def _sources(path) -> str:
    return "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells)


def _solution_lines(case: str) -> list[str]:
    """From each solution cell of the instructor notebooks: the lines assigning a checked name
    (``odds_ratios = np.exp(...)``), which the student kit must not contain."""
    lines = []
    for path in get_case(case).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            if "solution" in cell.metadata.get("tags", []):
                names = workshop._checked_names(nb, i)
                _, _, code = workshop.parse_exercise(cell.source)
                found = [
                    ln.strip()
                    for ln in code.splitlines()
                    if re.match(rf"\s*({'|'.join(names)})\s*(,.*)?=[^=]", ln)
                ]
                assert found, (path.name, i)
                lines += found
    return lines


@pytest.mark.parametrize(("which", "case"), [("kit", CASE), ("finance_kit", FINANCE)])
def test_student_kit_holds_no_solution_and_the_solutions_sit_next_to_it(which, case, request):
    kit_dir = request.getfixturevalue(which)
    texts = {  # every text file of the kit; a notebook as its cells' sources (JSON escapes quotes)
        p: _sources(p) if p.suffix == ".ipynb" else p.read_text(encoding="utf-8", errors="replace")
        for p in kit_dir.rglob("*")
        if p.is_file() and p.suffix in {".ipynb", ".md", ".py", ".txt", ".json"}
    }
    assert len([p for p in texts if p.suffix == ".ipynb"]) == len(get_case(case).stages)
    lines = _solution_lines(case)
    assert len(lines) >= 5
    for line in lines:
        assert not any(line in text for text in texts.values()), line
    for path in (kit_dir / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        assert nb.metadata["crmlab"]["role"] == "student"
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert not any("solution" in p.name.lower() for p in kit_dir.rglob("*"))
    # the solutions: next to the kit, the instructor notebooks with their canonical outputs
    sol = workshop.solutions_dir(kit_dir)
    assert sol.parent == kit_dir.resolve().parent and sol.name == f"{kit_dir.name}-solutions"
    for path in get_case(case).notebooks:
        instructor = nbformat.read(str(path), as_version=4)
        copy = nbformat.read(str(sol / "notebooks" / path.name), as_version=4)
        assert len(copy.cells) == len(instructor.cells)
        for a, b in zip(instructor.cells, copy.cells, strict=True):
            if "parameters" in a.metadata.get("tags", []):
                assert f'data_dir: str = "../../{kit_dir.name}/data"' in b.source
                assert 'run_dir: str = "../work"' in b.source
                continue
            assert a.source == b.source and a.get("outputs") == b.get("outputs")
        assert any(c.get("outputs") for c in copy.cells if c.cell_type == "code")
    solved = "\n".join(_sources(p) for p in (sol / "notebooks").glob("*.ipynb"))
    assert all(line in solved for line in lines)
    data = (sol / "notebooks" / f"../../{kit_dir.name}/data").resolve()
    assert data == (kit_dir / "data").resolve()
    readme = (sol / "README.md").read_text(encoding="utf-8")
    assert ("for the trainer only" in readme) or ("仅供培训师使用" in readme)
    # the trainer guides sit with the solutions, and their README lists them
    for name in workshop.GUIDES.values():
        assert (sol / name).is_file() and not (kit_dir / name).exists()
        assert f"`{name}`" in readme


def test_kit_is_the_same_with_or_without_solutions(kit, kit_data, tmp_path):
    plain = workshop.build_kit(CASE, tmp_path / kit.name, data_dir=kit_data)
    assert not workshop.solutions_dir(plain).exists()
    # without solutions the guides go to <kit>-trainer/, next to the kit, and say so
    trainer = workshop.trainer_dir(plain)
    assert trainer == tmp_path / f"{kit.name}-trainer"
    assert sorted(p.name for p in trainer.iterdir()) == sorted(workshop.GUIDES.values())
    guide = (trainer / "TRAINER_GUIDE.md").read_text(encoding="utf-8")
    assert "were not written" in guide and "`DIR-solutions/`" in guide
    assert _agenda_rows(guide) == _agenda_rows(_guide(kit))

    def files(folder):  # work/ fills up when the tests above run the kit
        return sorted(
            p.relative_to(folder)
            for p in folder.rglob("*")
            if p.is_file() and "work" not in p.parts
        )

    assert files(kit) == files(plain) and len(files(kit)) > 10
    for rel in files(kit):
        if rel.name != "README.md":  # the README names the kit's folder
            assert (kit / rel).read_bytes() == (plain / rel).read_bytes(), rel
    with pytest.raises(CrmlabError, match="exists"):
        workshop.build_kit(CASE, kit, data_dir=kit_data, overwrite=False, solutions=True)
    shutil.rmtree(plain)  # the trainer's folder alone is not overwritten either
    with pytest.raises(CrmlabError, match="-trainer exists"):
        workshop.build_kit(CASE, plain, data_dir=kit_data, overwrite=False)
    assert not plain.exists()


@pytest.mark.parametrize(("which", "case"), [("kit", CASE), ("finance_kit", FINANCE)])
def test_check_cells_are_hidden_and_say_what_they_test_in_words(which, case, request):
    kit_dir = request.getfixturevalue(which)
    n = 0
    for path in get_case(case).notebooks:
        instructor = nbformat.read(str(path), as_version=4)
        student = nbformat.read(str(kit_dir / "notebooks" / path.name), as_version=4)
        checks = [c for c in instructor.cells if "check" in c.metadata.get("tags", [])]
        hidden = [c for c in student.cells if "check" in c.metadata.get("tags", [])]
        assert len(hidden) == len(checks) >= 1, path.name
        for original, cell in zip(checks, hidden, strict=True):
            n += 1
            assert cell.metadata["jupyter"]["source_hidden"] is True, path.name
            assert not cell.metadata["jupyter"].get("outputs_hidden"), path.name
            comment = [ln for ln in cell.source.splitlines() if ln.startswith("#")]
            code = [ln for ln in original.source.splitlines() if not ln.startswith("#")]
            assert cell.source.splitlines()[len(comment) :] == code  # the check itself is kept
            said = " ".join(comment)
            assert said.startswith("# Check: tests") and "=" not in said and "exp(" not in said
            assert original.source.splitlines()[0] not in cell.source  # the formula comment
            for name in re.findall(r"check\(\s*\"(\w+)\"", original.source):
                assert f"`{name}`" in said
    assert n >= 5


def test_finance_solutions_run_on_the_kit_data(finance_kit):
    """The instructor notebooks of the solutions folder run in order on the kit's data (their
    checks raise on a wrong answer) and write to their own work/ folder."""
    sol = workshop.solutions_dir(finance_kit)
    results = workshop.execute_kit(sol, {})
    assert set(results) == set(get_case(FINANCE).stages)
    assert any((sol / "work").iterdir())


def test_a_check_accepts_a_number_only_as_a_number(capsys):
    """True passed for any number (bool(True) == bool(683)) and the text "683" for 683; the
    recorded text later broke stage 5 (found by a trainer's trial). Both are the wrong kind
    of answer, and the student reads which kind is expected."""
    workshop.student_mode(True)
    assert workshop.check("n", {"n": True}, 683, tol=1) is False
    assert "(it is yes/no; the answer is a number)" in capsys.readouterr().out
    assert workshop.check("n", {"n": "683"}, 683, tol=1) is False
    assert "(it is text: '683'; the answer is a number)" in capsys.readouterr().out
    assert workshop.check("n", {"n": np.int64(683)}, 683, tol=1) is True
    assert workshop.check("n", {"n": 683.4}, 683, tol=1) is True
    assert workshop.check("met", {"met": np.bool_(True)}, True) is True
    assert workshop.check("met", {"met": 1}, True) is False
    assert "(it is a number; the answer is yes/no)" in capsys.readouterr().out


def test_the_dashboard_check_wants_every_kpi_the_data_measure(running_stage, capsys):
    """Exercise 5.1 asks for every KPI: a dashboard of CSAT alone (right as it is) passed
    (found by a trainer's trial)."""
    names, right, _ = _kpi_board()
    _, cell = _exercise_and_check(CASE, "05_evaluate", "5.1")
    workshop.student_mode()
    lines = _run_check(cell, names, right, capsys)
    assert lines[0] == "\u2705 Well done: the dashboard is right."
    only_csat = names["board"][names["board"]["kpi"] == "CSAT"]
    lines = _run_check(cell, {**names, "board": only_csat}, right, capsys)
    assert lines[0].startswith("\u274c Not quite: the dashboard") and "every KPI" in lines[0]


def test_an_agenda_title_drops_an_aside_rather_than_cut_the_sentence():
    """Finance 3.1 read "Turn the model's coefficients (log-odds per unit of each feature)..."
    in the agenda (a trainer's trial)."""
    prompt = (
        "Turn the model's coefficients (log-odds per unit of each feature) into odds ratios "
        "with 95% intervals: `odds_ratios` (by feature) and `or_ci`."
    )
    assert workshop.short_title(prompt) == (
        "Turn the model's coefficients into odds ratios with 95% intervals"
    )
    assert workshop.short_title("Size the survey (answers per wave).") == (
        "Size the survey (answers per wave)"
    )


def test_a_table_without_the_column_the_check_needs_is_named(capsys):
    """A table with `Quadrant` for `quadrant` read only "a table of 7 row(s), which the check
    cannot compare" (a trainer's trial): the student reads which column is missing."""
    import pandas as pd

    workshop.student_mode()
    table = pd.DataFrame({"driver": ["a", "b"], "Quadrant": ["fix first", "keep up"]})
    right = lambda m: (m["quadrant"] == ["fix first", "keep up"]).all()  # noqa: E731
    assert workshop.check("matrix", {"matrix": table}, test=right) is False
    said = capsys.readouterr().out
    assert "(it is a table of 2 row(s) without 'quadrant' (its columns: driver, Quadrant))" in said


# --------------------------------------------------------------------------------------------
# no exercise shows its answer above it
# --------------------------------------------------------------------------------------------
def _numbers(value, label=None):
    """(row label or None, number) of each number in an answer (plain data, as
    :func:`workshop.trial_run` reads it): a mapping's numbers are labelled by their innermost key
    (a table's row, an odds ratio's feature)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        if np.isfinite(value):
            yield label, value
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v, label)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, label if isinstance(v, dict) else k)


def _forms(x: float) -> set[str]:
    """How the notebooks print a number: a share as a percent with one decimal ("25.7%") or in
    points ("+8.0 pts"), a decimal with 2 or 3 places ("2.16", "0.465"), a count with or without
    thousands separators ("1,053") - other than percents and points, only forms with at least 3
    significant digits ("0.02" or "12" say too little to give an answer away)."""
    forms = {f"{x:.1%}", f"{100 * x:+.1f} pts"} if -1 <= x <= 1 else set()
    if float(x).is_integer():
        forms |= {f"{int(x):,}", str(int(x))}
    else:
        forms |= {f"{x:.2f}", f"{x:.3f}", f"{x:,.2f}"}
    return {
        f for f in forms if f.endswith(("%", "pts")) or len(re.sub(r"\D", "", f).lstrip("0")) >= 3
    }


def _read(cell) -> list[str]:
    """What a student reads of a cell: a markdown cell's text, a code cell's printed and shown
    output (as text)."""
    if cell.cell_type == "markdown":
        return cell.source.splitlines()
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            lines += out.get("text", "").splitlines()
        for kind in ("text/plain", "text/markdown"):
            lines += str(out.get("data", {}).get(kind, "")).splitlines()
    return lines


def _above(student_nb, label: str) -> list[str]:
    """The lines a student has read before exercise ``label`` of an executed student notebook."""
    lines = []
    for cell in student_nb.cells:
        if cell.metadata.get("crmlab", {}).get("exercise") == label:
            return lines
        lines += _read(cell)
    raise AssertionError(f"no exercise {label}")


def _checked_numbers(answer: dict) -> list:
    """The numbers an exercise's checks test: its recorded figures when it records any (what the
    report shows), else the names it defines."""
    values = answer["figures"] if answer["figures"] else answer["names"]
    return [found for value in values.values() for found in _numbers(value)]


def _shown_answers(answer: dict, lines: list[str]) -> list[tuple]:
    """(label, number as printed, line) for each checked number of ``answer`` that ``lines``
    print - a labelled one (a table's row, a feature) on a line that also names its label. A
    table or mapping counts as shown when two or more of its numbers are (one near 1 can match
    another column of its row by chance: an odds ratio of 0.999 and its per-SD odds); the
    result is then empty when the answer is not shown."""
    found = []
    for label, x in _checked_numbers(answer):
        for form in _forms(x):
            pattern = rf"(?<![\d.,]){re.escape(form)}(?!\d)"
            for line in lines:
                named = label is None or str(label).lower().replace("_", " ") in (
                    line.lower().replace("_", " ")
                )
                if named and re.search(pattern, line):
                    found.append((label, form, line.strip()))
    labelled = {(label, form) for label, form, _ in found if label is not None}
    if len(labelled) < 2:
        found = [f for f in found if f[0] is None]
    return found


@pytest.mark.parametrize(("which", "case"), [("kit", CASE), ("finance_kit", FINANCE)])
def test_no_exercise_shows_its_answer_above_it(which, case, request):
    """A trainer's trial: finance 1.1, 2.1, 3.1 and 5.1 and retail 2.1 printed the answer in a
    table or sentence above the exercise, so a student could copy it and pass the check. For
    every exercise of the executed student notebooks (blank), no number its checks test on the
    kit's data (the instructor notebooks' answers there, :func:`workshop.trial_run`) is printed,
    as the notebooks print numbers, in a markdown cell or an output above it."""
    kit_dir = request.getfixturevalue(which)
    blank = request.getfixturevalue(f"{which}_blank")
    answers = workshop.trial_run(case, kit_dir / "data")["answers"]
    n_exercises = sum(
        len(workshop.exercises(nbformat.read(str(p), as_version=4)))
        for p in get_case(case).notebooks
    )
    assert len(answers) == n_exercises >= 5
    tested = 0
    for answer in answers:
        lines = _above(blank[answer["stage"]], answer["label"])
        assert lines, answer["label"]
        tested += bool(_checked_numbers(answer))
        assert not _shown_answers(answer, lines), (answer["label"], _shown_answers(answer, lines))
    assert tested >= n_exercises - 1  # retail 3.2's answer is a list of drivers (no number)
    # the search finds an answer that is there: the finance table that gave 1.1 away
    if case == FINANCE:
        first = answers[0]
        rate, (low, high) = first["names"]["baseline_rate"], first["names"]["baseline_ci"]
        row = f"2025-11 2026-10   2,612   672   {rate:.1%}  {low:.1%}  {high:.1%}"
        assert len(_shown_answers(first, ["Sources loaded.", row])) == 3


# --------------------------------------------------------------------------------------------
# only the sections that apply to the kit's data
# --------------------------------------------------------------------------------------------
def _condition_tags(nb) -> list[str]:
    return [
        t for c in nb.cells for t in c.metadata.get("tags", []) if t.startswith(("only-", "unl"))
    ]


def test_finance_student_notebooks_hold_only_the_sections_of_the_kit_data(finance_kit):
    """The finance kit's data are dated (the trial run records no ``churn.basis``): its student
    notebooks leave out the markdown of the churn-flag path (``only-if:churn.basis=flag``, 5
    cells in the instructor notebooks) and keep the dated path's (``unless:churn.basis=flag``,
    29). A run on a flag extract (``churn.basis`` recorded as "flag") reads the other way; code
    cells and notes for analysts stay in either."""
    assert workshop.trial_run(FINANCE, finance_kit / "data")["results"].get("churn.basis") is None
    kept = {"only-if:churn.basis=flag": 0, "unless:churn.basis=flag": 0}
    for path in get_case(FINANCE).notebooks:
        student = nbformat.read(str(finance_kit / "notebooks" / path.name), as_version=4)
        for tag in _condition_tags(student):
            kept[tag] += 1
    assert kept == {"only-if:churn.basis=flag": 0, "unless:churn.basis=flag": 29}
    nb = nbformat.read(str(get_case(FINANCE).notebooks[0]), as_version=4)
    assert _condition_tags(nb).count("only-if:churn.basis=flag") == 1
    flag = workshop.make_student_notebook(nb, "1", results={"churn.basis": "flag"})
    assert _condition_tags(flag) == ["only-if:churn.basis=flag"]
    dated = workshop.make_student_notebook(nb, "1", results={})
    assert "only-if:churn.basis=flag" not in _condition_tags(dated)
    assert _condition_tags(dated).count("unless:churn.basis=flag") == 6
    code = [c for c in nb.cells if c.cell_type == "code"]
    for made in (flag, dated, workshop.make_student_notebook(nb, "1")):
        assert sum(c.cell_type == "code" for c in made.cells) == len(code) + 1  # the set-up


@pytest.mark.parametrize("which", ["kit", "finance_kit"])
def test_agenda_breaks_fall_between_stages_every_90_minutes_or_so(which, request):
    """A trainer's trial: the agenda ran about 220 minutes without a break. Each row starts when
    the one before ends; a 15-minute break row sits between two stages (never first, never
    inside a stage), and no stretch without a break runs past 90 minutes (unless one stage alone
    is longer); the length the guide states is the wrap-up's end."""
    guide = _guide(request.getfixturevalue(which))
    titles = [ln.split("|")[2].strip() for ln in guide.splitlines() if re.match(r"\| \d:\d\d", ln)]
    rows = _agenda_rows(guide)
    assert len(titles) == len(rows) and titles[0].startswith("Set-up")
    minutes = lambda clock: int(clock.split(":")[0]) * 60 + int(clock.split(":")[1])  # noqa: E731
    for (start, length, _), (after, _, _) in zip(rows, rows[1:], strict=False):
        assert minutes(start) + int(length) == minutes(after), (start, after)
    breaks = [i for i, t in enumerate(titles) if t == "Break"]
    assert breaks, "no break"
    since = 0
    for i, (title, (_, length, _)) in enumerate(zip(titles, rows, strict=True)):
        if title == "Break":
            assert length == "15" and 1 < i < len(rows) - 1
            assert titles[i - 1] != "Break" and titles[i + 1].startswith("0")  # a stage after
            since = 0
            continue
        since += int(length)
        assert since <= 90 or since == int(length), (title, since)
    end = minutes(rows[-1][0]) + int(rows[-1][1])
    assert f"**Length:** {end} minutes" in guide


# --------------------------------------------------------------------------------------------
# the answer key
# --------------------------------------------------------------------------------------------
def _with_answers(student_nb, answers: list[dict]):
    """A student notebook whose exercise cells set the names and record the figures of
    ``answers`` (as ``answers.json`` holds them) instead of a student's code."""
    import copy
    import json

    out = copy.deepcopy(student_nb)
    by_label = {a["label"]: a for a in answers}
    for i, cell in enumerate(out.cells):
        label = cell.metadata.get("crmlab", {}).get("exercise")
        if label in by_label:
            data = json.dumps({k: by_label[label][k] for k in ("names", "figures")})
            out.cells[i] = nbformat.v4.new_code_cell(
                "import json\n\nimport crmlab\nfrom crmlab import workshop as _w\n\n"
                f"_answer = json.loads({data!r})\n"
                "for _k, _v in _answer['names'].items():\n"
                "    if _v is not None:\n"
                "        globals()[_k] = _w.revive(_v)\n"
                "for _k, _v in _answer['figures'].items():\n"
                "    if _v is not None:\n"
                "        crmlab.record(_k, _v)"
            )
    return out


def _listed(key: str, label: str, marker: str) -> dict[str, str]:
    """Name -> what the answer key lists after ``- `name`: `` under exercise ``label``."""
    section = key.split(f"{marker}{label}", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- `([^`]+)`: ?(.*)$", section, flags=re.M))


@pytest.mark.parametrize(("which", "case"), [("kit", CASE), ("finance_kit", FINANCE)])
def test_answer_key_lists_the_answers_the_checks_compute_on_the_kit_data(which, case, request):
    """A trainer's trial: --solutions gave no answer key. ANSWER_KEY.md and .zh.md in the
    solutions folder list every exercise with its number, title and solution code and each
    answer as computed on the kit's data; put back into the student notebooks as the students'
    answers (answers.json, every digit), the checks, which compute their own values on the kit's
    data, all say "Well done"; and each number the key lists is that answer, rounded."""
    import json

    kit_dir = request.getfixturevalue(which)
    sol = workshop.solutions_dir(kit_dir)
    en = (sol / "ANSWER_KEY.md").read_text(encoding="utf-8")
    zh = (sol / "ANSWER_KEY.zh.md").read_text(encoding="utf-8")
    answers = json.loads((sol / workshop.ANSWERS_JSON).read_text(encoding="utf-8"))
    readme = (sol / "README.md").read_text(encoding="utf-8")
    assert "`ANSWER_KEY.md`" in readme and "`ANSWER_KEY.zh.md`" in readme
    assert "`ANSWER_KEY.md`" in _guide(kit_dir) and "`ANSWER_KEY.zh.md`" in _guide(kit_dir, "zh")
    assert len(answers) == sum(len(lines) for lines in _exercise_labels(case).values())
    assert [a["label"] for a in answers] == [
        label for labels in _exercise_labels(case).values() for label in labels
    ]
    numbers = 0
    for a in answers:
        assert f"\n## {a['label']}: {a['title']}\n" in en
        assert f"\n## 练习 {a['label']}：" in zh
        for line in a["code"].splitlines():
            assert line in en and line in zh
        listed = _listed(en, a["label"], "\n## ")
        assert set(a["names"]) <= set(listed) and set(a["figures"]) <= set(listed)
        for name, value in {**a["names"], **a["figures"]}.items():
            assert value is not None, (a["label"], name)  # every check ran on the kit data
            same = re.fullmatch(r"recorded, the same as `(\w+)`", listed[name])
            if same:  # a recorded figure that is a name's value again
                assert value == a["names"][same.group(1)], (a["label"], name)
            elif isinstance(value, float):
                numbers += 1
                assert float(listed[name].replace(",", "")) == pytest.approx(value, rel=1e-3)
    assert numbers >= 3
    assert "(not computed on these data)" not in en  # no answer left out
    # the answers as listed pass every check on the kit's data
    folder = kit_dir / "notebooks"
    blank = {
        p.stem: nbformat.read(str(p), as_version=4)
        for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    }
    students = {stage: _with_answers(nb, answers) for stage, nb in blank.items()}
    messages = _messages(workshop._execute(folder, students))
    lines = [line for stage_lines in messages.values() for line in stage_lines]
    assert len(lines) == sum(_check_calls(case).values())
    assert all(line.startswith("\u2705 Well done") for line in lines), messages
    # and a wrong listed answer would not: the first number off by 1%
    wrong = json.loads(json.dumps(answers))
    name, value = next((n, v) for n, v in wrong[0]["names"].items() if isinstance(v, float | int))
    wrong[0]["names"][name] = value * 1.01 + 1
    stage = wrong[0]["stage"]
    said = _messages(workshop._execute(folder, {stage: _with_answers(blank[stage], wrong)}))
    assert any(line.startswith("\u274c Not quite") for line in said[stage]), said


def _exercise_labels(case: str) -> dict[str, list[str]]:
    """Stage -> the labels of its exercises ("2.1"), from the instructor notebooks."""
    labels = {}
    for path in get_case(case).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        labels[path.stem] = [e["label"] for e in workshop.exercises(nb, path.stem[1])]
    return labels
