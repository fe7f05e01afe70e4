"""The workshop kit: check cells, student notebooks made from the case notebooks, the kit folder,
and the student notebooks executed with blank exercises ("not yet", no error) and with the
solutions put back ("well done")."""

from __future__ import annotations

import re

import nbformat
import pytest

from crmlab import workshop
from crmlab.cases import get_case
from crmlab.errors import CrmlabError, ParameterError
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
    assert "TypeError" in lines[6]


def test_check_in_instructor_mode_is_silent_when_right_and_raises_when_not(capsys):
    assert workshop.check("x", {"x": 0.30000000000000004}, 0.3) is True
    assert capsys.readouterr().out == ""
    with pytest.raises(workshop.CheckFailed, match="Not quite"):
        workshop.check("x", {"x": 0.31}, 0.3, tol=0.001)
    with pytest.raises(workshop.CheckFailed, match="Not yet"):
        workshop.check("x", {}, 0.3)
    with pytest.raises(TypeError):
        workshop.check("x", {"x": 1})


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
    assert 'run_dir: str = "../work"' in sources[1] and 'data_dir: str = "../data"' in sources[1]
    ex = student.cells[3]
    assert ex.metadata["tags"] == ["exercise"] and ex.metadata["crmlab"]["exercise"] == "2.1"
    assert "Exercise 2.1: Add one." in ex.source and "# Hint: +" in ex.source
    assert "`answer`" in ex.source and "answer = n + 1" not in ex.source
    assert student.cells[4].source == nb.cells[3].source
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
def kit(tmp_path_factory):
    data = tmp_path_factory.mktemp("kitdata") / CASE
    generate(CASE, data, seed=7, n_customers=400, n_stores=12, responses_per_wave=80)
    return workshop.build_kit(CASE, tmp_path_factory.mktemp("kit") / CASE, data_dir=data)


def test_kit_folder_holds_data_notebooks_and_a_trainer_guide(kit):
    stages = get_case(CASE).stages
    assert sorted(p.stem for p in (kit / "notebooks").glob("*.ipynb")) == stages
    data = sorted(p.name for p in (kit / "data").iterdir())
    assert "customers.csv" in data and not any(name.startswith("truth") for name in data)
    guide = (kit / "TRAINER_GUIDE.md").read_text(encoding="utf-8")
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
    en = (kit / "TRAINER_GUIDE.md").read_text(encoding="utf-8")
    zh = (kit / workshop.GUIDES["zh"]).read_text(encoding="utf-8")
    rows_en, rows_zh = _agenda_rows(en), _agenda_rows(zh)
    # set-up, five stages, wrap-up; 15 min set-up then 35, 30, 50, 40, 35 (the case spec)
    assert [r[:2] for r in rows_en] == [
        ("0:00", "15"),
        ("0:15", "35"),
        ("0:50", "30"),
        ("1:20", "50"),
        ("2:10", "40"),
        ("2:50", "35"),
        ("", "15"),
    ]
    assert rows_zh == rows_en  # same timings and the same exercises (1.1, 3.1, 3.2, ...)
    assert sum(len(r[2]) for r in rows_zh) == 6
    assert "220 分钟" in zh  # 15 + 190 + 15
    headings = [ln for ln in zh.splitlines() if ln.startswith("#") or ln.startswith("**阶段")]
    assert len(headings) == 4 + 5 and headings[0].startswith("# 培训师指南：零售客户满意度")
    for line in headings:
        assert not _latin_words(line.split("。**")[0]), line
    # the agenda, goals and questions: Chinese throughout (the closing notes quote the checks)
    body = zh[: zh.index("## 课堂组织")]
    assert not _latin_words(body), sorted(_latin_words(body))
    assert "参考文章 000" in zh and "参考文章 004" in zh
    assert len(zh.splitlines()) < 80
    assert "TRAINER_GUIDE.zh.md" in (kit / "README.md").read_text(encoding="utf-8")


def test_kit_readme_follows_the_kit_language(finance_kit):
    readme = (finance_kit / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# 培训材料：金融客户流失") and "TRAINER_GUIDE.zh.md" in readme
    assert (finance_kit / "TRAINER_GUIDE.md").is_file()
    with pytest.raises(ParameterError, match="Unknown language"):
        workshop.build_kit(FINANCE, finance_kit.parent / "other", lang="fr")


def _messages(results):
    return {stage: workshop.check_messages(nb) for stage, nb in results.items()}


def test_blank_exercises_run_through_and_say_not_yet(kit):
    results = workshop.execute_kit(kit, {"n_boot": 20})
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
    assert len(lines) >= 7  # two checks in stage 1, one or two in the others
    assert all(line.startswith("\u2705 Well done") for line in lines), messages


# --------------------------------------------------------------------------------------------
# the finance kit (a smaller book of customers: both executions take about 30 s)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finance_kit(tmp_path_factory):
    data = tmp_path_factory.mktemp("kitdata") / FINANCE
    generate(FINANCE, data, seed=7, n_customers=1500)
    kit_dir = tmp_path_factory.mktemp("kit") / FINANCE
    return workshop.build_kit(FINANCE, kit_dir, data_dir=data, lang="zh")


def _check_calls(case: str) -> dict[str, int]:
    """Stage -> number of ``workshop.check(`` calls in the check cells of its instructor notebook
    (each prints one line in a student notebook)."""
    calls = {}
    for path in get_case(case).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        cells = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
        calls[path.stem] = sum(c.source.count("workshop.check(") for c in cells)
    return calls


def test_finance_kit_runs_blank_and_passes_with_solutions(finance_kit):
    calls = _check_calls(FINANCE)
    assert calls["01_goals"] == calls["03_model"] == calls["04_pilot"] == 2
    blank = _messages(workshop.execute_kit(finance_kit, {}, case=FINANCE))
    assert set(blank) == set(get_case(FINANCE).stages)
    assert {s: len(lines) for s, lines in blank.items()} == calls
    lines = [line for stage_lines in blank.values() for line in stage_lines]
    assert len(lines) >= 6  # two checks after each exercise
    assert all(line.startswith("\u23f3 Not yet") for line in lines), blank
    solved = _messages(workshop.execute_kit(finance_kit, {}, solutions=True, case=FINANCE))
    assert {s: len(lines) for s, lines in solved.items()} == calls
    lines = [line for stage_lines in solved.values() for line in stage_lines]
    assert all(line.startswith("\u2705 Well done") for line in lines), solved
