"""The workshop kit: student notebooks made from a case's notebooks, with checks and a trainer guide.

The case notebooks are the instructor notebooks. Two cell tags turn them into exercises:

``solution``
    A cell the students write themselves. In the student notebook it is replaced by an exercise
    cell (tagged ``exercise``) holding the prompt and hint and no code. The prompt and hint are
    the solution cell's leading comment lines ``# Exercise: ...`` and ``# Hint: ...`` (indented
    ``#`` lines continue them), so they live next to the code they describe. A solution cell must
    be a *leaf*: no later cell may read a name it defines (checks aside), so a notebook whose
    exercises are left blank still runs from top to bottom (:func:`solution_dependencies`).
``check``
    A cell that verifies an answer with :func:`check` against a value it computes *independently*
    (from the definition, not by calling the solution's function); a figure the exercise records
    with ``crmlab.record`` is verified with :func:`check_recorded`. In the instructor notebooks
    a correct answer passes silently and a wrong one raises, so the canonical run and nbval
    notice a broken exercise; in student notebooks (after :func:`student_mode`) it prints a
    friendly message: "Well done", "Not yet" (blank) or "Not quite" with the hint. Its code
    would give the answer away, so in the student notebooks its leading comment is replaced by
    one saying in words what it tests, and its source is hidden in JupyterLab (cell metadata
    ``jupyter.source_hidden``; the output stays visible).

:func:`build_kit` writes a kit folder, which is handed to the students as it is::

    <out>/README.md            how to open the kit in JupyterLab (in the kit's language)
    <out>/REFERENCES.md        the reference articles the guide and notebooks cite: title and a
    <out>/REFERENCES.zh.md     digest of the cited points (from templates/references.yaml)
    <out>/data/                the case's input files (synthetic data: no real personal data)
    <out>/install/             what a student needs to install crmlab without the project: a
                               wheel of the crmlab the kit was built with and constraints.txt,
                               the project's pinned versions (:func:`write_install`)
    <out>/notebooks/NN_*.ipynb the student notebooks (outputs cleared; they read ../data and
                               pass results between stages through ../work, the parameters
                               ``data_dir`` and ``run_dir``)
    <out>/work/                empty: filled as the students run the stages

What is for the trainer only goes *next to* the kit, never inside it (:func:`trainer_dir`).
Without solutions, ``<out>-trainer/``::

    TRAINER_GUIDE.md           one page: agenda with timings, learning goals, exercises,
                               discussion questions from the seeds' method
    TRAINER_GUIDE.zh.md        the same page in Simplified Chinese (培训师指南)

With ``solutions=True``, ``<out>-solutions/`` (:func:`solutions_dir`, :func:`write_solutions`):
the same two guides, the instructor notebooks with their canonical outputs in ``notebooks/``
(they write to their own ``work/``), a README and the answer key (:func:`write_answer_key`) -
one folder holds all the trainer's files::

    ANSWER_KEY.md              each exercise: number, title, the answers its checks computed on
    ANSWER_KEY.zh.md           the kit's data, the solution code (Chinese: 练习答案)
    answers.json               the same answers, every digit

Before writing the student notebooks, :func:`build_kit` runs the instructor notebooks on the kit's
data (:func:`trial_run`): its recorded figures decide which markdown applies to the data (the
``only-if:`` / ``unless:`` tags, as in the report), and its answers make the answer key.
"""

from __future__ import annotations

import ast
import math
import numbers
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crmlab.errors import CrmlabError

__all__ = [
    "CheckFailed",
    "build_kit",
    "check",
    "check_recorded",
    "cited_articles",
    "make_student_notebook",
    "solution_dependencies",
    "solutions_dir",
    "student_mode",
    "trainer_dir",
]

_STUDENT = False

WELL_DONE = "\u2705 Well done: {what} is right."
NOT_YET = "\u23f3 Not yet: `{name}` is not defined - write the exercise above and run it{hint}."
NOT_QUITE = "\u274c Not quite: {what} is not what the check expects{detail}.{hint}"
NOT_RECORDED = (
    "\u23f3 Not yet: `{name}` is not recorded - record it with crmlab.record in the exercise "
    "above and run it{hint}."
)


class CheckFailed(AssertionError):
    """A check cell found a wrong or missing answer in an instructor notebook."""


def student_mode(on: bool = True) -> None:
    """Make :func:`check` talk to students (print, never raise); the kit's notebooks call it."""
    global _STUDENT
    _STUDENT = bool(on)


def _blank(value: Any) -> bool:
    return value is None or value is Ellipsis


def _is_yes_no(x: Any) -> bool:
    """True/False, also numpy's (a comparison's result) - a single value, not a column."""
    if isinstance(x, bool):
        return True
    return getattr(x, "dtype", None) is not None and x.dtype.kind == "b" and x.ndim == 0


def _is_number(x: Any) -> bool:
    """A number an answer can be compared as: int, float, numpy numbers - not a yes/no (True
    would otherwise pass for 1) and not text ("683" is not the number 683)."""
    return isinstance(x, numbers.Real) and not _is_yes_no(x)


def _matches(answer: Any, expected: Any, tol: float) -> bool:
    """Whether ``answer`` is ``expected``: a yes/no only as a yes/no, a number only as a
    number (within ``tol``) - True for 683, or the text "683", is the wrong kind of answer."""
    try:
        if _is_yes_no(expected) or _is_yes_no(answer):
            return _is_yes_no(expected) and _is_yes_no(answer) and bool(answer) == bool(expected)
        if _is_number(expected):
            if not _is_number(answer):
                return False
            return math.isclose(float(answer), float(expected), rel_tol=0.0, abs_tol=tol)
        if isinstance(expected, set | frozenset):
            return set(answer) == expected
        if isinstance(expected, list | tuple):
            return list(answer) == list(expected)
        return answer == expected
    except (TypeError, ValueError):
        return False


def check(
    name: str,
    namespace: Mapping[str, Any],
    expected: Any = None,
    *,
    test: Callable[[Any], bool] | None = None,
    tol: float = 1e-9,
    hint: str = "",
    what: str | None = None,
) -> bool:
    """Verify a student's answer ``namespace[name]``; returns True when it is right.

    Give either ``expected`` (numbers compare within ``tol``; sets, lists and other values by
    equality) or ``test`` (a function of the answer returning True when right). An answer that
    is missing, ``None`` or ``...`` is blank.

    Instructor notebooks (default): a right answer passes silently; a blank or wrong one raises
    :class:`CheckFailed`. Student notebooks (:func:`student_mode`): prints "Well done", "Not yet"
    or "Not quite" (with the hint) and never raises, so the notebook runs on.
    """
    return _judge(name, namespace.get(name), NOT_YET, expected, test, tol, hint, what)


def check_recorded(
    figure: str,
    expected: Any = None,
    *,
    test: Callable[[Any], bool] | None = None,
    tol: float = 1e-9,
    hint: str = "",
    what: str | None = None,
) -> bool:
    """Verify a figure the student's exercise recorded with ``crmlab.record(figure, ...)`` in the
    running stage (:func:`crmlab.results.recorded`); returns True when it is right.

    As :func:`check`, the answer being the recorded value (as recorded: numbers, strings, lists,
    dicts). A figure not recorded (or recorded as None, e.g. a NaN) is blank: "Not yet:
    `<figure>` is not recorded" - an exercise may compute the right value and forget to record
    it, so its check tests the recorded figure too."""
    from crmlab.results import recorded

    what = what or f"the recorded `{figure}`"
    answer = recorded().get(figure)
    return _judge(figure, answer, NOT_RECORDED, expected, test, tol, hint, what)


def _judge(name, answer, not_yet, expected, test, tol, hint, what) -> bool:
    """The verdict of :func:`check` and :func:`check_recorded` on ``answer`` (``not_yet``: the
    message when it is blank)."""
    if (expected is None) == (test is None):
        raise TypeError("check() needs exactly one of expected= or test=.")
    what = what or f"`{name}`"
    hint_text = f" Hint: {hint}" if hint else ""
    if _blank(answer):
        message = not_yet.format(name=name, hint=f" ({hint})" if hint else "")
        if _STUDENT:
            print(message)
            return False
        raise CheckFailed(message)
    try:
        ok = bool(test(answer)) if test is not None else _matches(answer, expected, tol)
        detail = ""
        if not ok and test is None:
            detail = _wrong_kind(answer, expected)
    except Exception as e:  # noqa: BLE001 - a malformed answer is "not quite", not a crash
        # a student reads what kind of answer it was; the notebook's author the error itself
        reason = f"it is {_kind(answer)}, which the check cannot compare"
        if isinstance(e, KeyError) and hasattr(answer, "columns") and e.args:
            has = ", ".join(map(str, list(answer.columns)[:6]))  # a table without the column
            reason = f"it is {_kind(answer)} without {e.args[0]!r} (its columns: {has})"
        ok, detail = False, f" ({reason if _STUDENT else f'{type(e).__name__}: {e}'})"
    if ok:
        if _STUDENT:
            print(WELL_DONE.format(what=what))
        return True
    message = NOT_QUITE.format(what=what, detail=detail, hint=hint_text)
    if _STUDENT:
        print(message)
        return False
    raise CheckFailed(message)


def _wrong_kind(answer: Any, expected: Any) -> str:
    """ " (it is text: '683'; the answer is a number)" when ``answer`` is not the kind of value
    ``expected`` is (a number, a yes/no), else ""."""
    for is_kind, words in ((_is_number, "a number"), (_is_yes_no, "yes/no")):
        if is_kind(expected) and not is_kind(answer):
            return f" (it is {_kind(answer)}; the answer is {words})"
    return ""


def _kind(answer: Any) -> str:
    """What kind of value ``answer`` is, in words a student reads ("text: 'about 24-27%'",
    "a list of 3 values", "a number")."""
    import pandas as pd

    if isinstance(answer, str):
        return f"text: {answer[:40]!r}"
    if _is_yes_no(answer):
        return "yes/no"
    if _is_number(answer):
        return "a number"
    if isinstance(answer, list | tuple):
        return f"a list of {len(answer)} value(s)"
    if isinstance(answer, dict):
        return f"a mapping of {len(answer)} key(s)"
    if isinstance(answer, pd.DataFrame):
        return f"a table of {len(answer)} row(s)"
    if isinstance(answer, pd.Series):
        return f"a column of {len(answer)} value(s)"
    return f"a {type(answer).__name__}"


# --------------------------------------------------------------------------------------------
# student notebooks
# --------------------------------------------------------------------------------------------
def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def parse_exercise(source: str) -> tuple[str, str, str]:
    """Split a solution cell into ``(prompt, hint, code)`` from its leading comment lines
    ``# Exercise: ...`` and ``# Hint: ...`` (continued by indented ``#`` lines)."""
    prompt: list[str] = []
    hint: list[str] = []
    current = None
    lines = source.splitlines()
    i = 0
    for i, line in enumerate(lines):  # noqa: B007 - i is used after the loop
        m = re.match(r"^#\s*(Exercise|Hint):\s*(.*)$", line)
        if m:
            current = prompt if m.group(1) == "Exercise" else hint
            current.append(m.group(2).strip())
            continue
        m = re.match(r"^#\s{2,}(.*)$", line)
        if m and current is not None:
            current.append(m.group(1).strip())
            continue
        break
    else:
        i = len(lines)
    return " ".join(prompt), " ".join(hint), "\n".join(lines[i:])


def _stored_and_loaded(source: str) -> tuple[set[str], set[str]]:
    """Names a cell assigns and names it reads (top-level code and nested blocks)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics etc.: nothing can be said
        return set(), set()
    stored, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store | ast.Del) else loaded).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stored.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                stored.add((alias.asname or alias.name).split(".")[0])
    return stored, loaded


def solution_dependencies(nb) -> dict[int, set[str]]:
    """For each ``solution`` cell (by index): the names it defines that a later non-check cell
    reads before any cell in between (or that cell itself) assigns them again. Empty sets mean
    the exercise is a leaf and a blank answer cannot break the rest of the notebook.

    Static and approximate: a cell that reads a name before assigning it counts as assigning it.
    The tests that execute every student notebook with blank exercises are the real check."""
    deps: dict[int, set[str]] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "solution" not in _tags(cell):
            continue
        live, _ = _stored_and_loaded(cell.source)
        needed: set[str] = set()
        for later in nb.cells[i + 1 :]:
            if later.cell_type != "code" or _tags(later) & {"check", "solution"}:
                continue
            stored, loaded = _stored_and_loaded(later.source)
            needed |= (loaded - stored) & live
            live -= stored  # redefined: later readers no longer depend on the solution
        deps[i] = needed
    return deps


def _checked_names(nb, start: int, call: str = "check") -> list[str]:
    """Names the check cells right after cell ``start`` test (the first string argument of their
    ``check(...)`` calls; with ``call="check_recorded"``, the figures they test)."""
    word = r"[A-Za-z_][A-Za-z0-9_]*"
    name = rf"{word}(?:\.{word})*" if call == "check_recorded" else word  # figures: "a.b"
    pattern = rf"\b{call}\(\s*[\"']({name})[\"']"
    names: list[str] = []
    for cell in nb.cells[start + 1 :]:
        if cell.cell_type != "code" or "check" not in _tags(cell):
            break
        names += re.findall(pattern, cell.source)
    return list(dict.fromkeys(names))


#: The functions a check cell verifies answers with.
CHECKS = ("check", "check_recorded")


def _set_parameter_default(source: str, name: str, value: str, comment: str | None = None) -> str:
    """``source`` (a parameters cell) with the default of the ``str`` parameter ``name`` set to
    ``value`` and, when ``comment`` is given, its help comment replaced by it."""
    pattern = re.compile(rf"^({re.escape(name)}\s*:\s*str\s*=\s*)\"[^\"]*\"(.*)$", re.M)

    def repl(m):
        rest = m.group(2) if comment is None else f"  # {comment}"
        return f'{m.group(1)}"{value}"{rest}'

    return pattern.sub(repl, source, count=1)


#: The help comments of the parameters the kit sets in its student notebooks. The instructor
#: notebooks' comments speak of the runner and of ``reports/<case>/interactive``, which mean
#: nothing to a student: in a kit an empty ``run_dir`` would put the results under crmlab's own
#: folder (the project's, or the Python environment's for the kit's wheel), not in the kit.
#: English, as every other text of the notebooks (the kit's language is its README's).
KIT_PARAMETER_HELP = {
    "data_dir": "the kit's data/ folder: the input files of the case",
    "run_dir": "the kit's work/ folder, where the stages pass their results on; keep it",
}

#: The same for the trainer's copies of the instructor notebooks in the solutions folder.
SOLUTIONS_PARAMETER_HELP = {
    "data_dir": "the kit's data/ folder: what the students' notebooks read",
    "run_dir": "the work/ folder of these solutions, not the students' work/",
}


def _comment(text: str, width: int = 96) -> list[str]:
    """``text`` as ``#`` comment lines of at most ``width`` characters (continuations indented)."""
    import textwrap

    return textwrap.wrap(text, width, initial_indent="# ", subsequent_indent="#   ")


def _clock(minutes: int) -> str:
    """Minutes from the start of the day as the agenda's clock: 205 -> "3:25"."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def short_title(prompt: str, limit: int = 72) -> str:
    """The first clause of an exercise prompt, cut at a word boundary to ``limit`` characters."""
    first = re.split(r"(?<=[?.:])\s", prompt.strip(), maxsplit=1)[0].rstrip(".:")
    if len(first) > limit:  # an aside in brackets goes first: "coefficients (log-odds ...)"
        first = re.sub(r"\s*\([^()]*\)", "", first)
    if len(first) <= limit:
        return first
    return first[: limit - 3].rsplit(" ", 1)[0] + "..."


def _checks_in(source: str) -> list[tuple[str, str]]:
    """``(name, what)`` of each ``check("name", ..., what="...")`` or
    ``check_recorded("figure", ..., what="...")`` call in a check cell's code (``what`` is ``""``
    when the call gives none)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pattern = r"check(?:_recorded)?\(\s*[\"']([A-Za-z_][\w.]*)[\"']"
        return [(name, "") for name in re.findall(pattern, source)]
    found = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        called = getattr(func, "attr", None) or getattr(func, "id", None)
        if not isinstance(node, ast.Call) or called not in CHECKS or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        what = next(
            (
                k.value.value
                for k in node.keywords
                if k.arg == "what" and isinstance(k.value, ast.Constant)
            ),
            "",
        )
        found.append((node.lineno, node.col_offset, first.value, str(what)))
    return [(name, what) for _, _, name, what in sorted(found)]


def check_comment(source: str) -> list[str]:
    """The comment a check cell gets in a student notebook: what it tests, in words (the names
    and their ``what=`` labels), never the formula of the instructor notebook's ``# Check:``
    comment, which would give the answer away."""
    by_name: dict[str, list[str]] = {}
    for name, what in _checks_in(source):
        whats = by_name.setdefault(name, [])
        if what and what not in whats:
            whats.append(what)
    tested = [f"{' and '.join(w)} (`{n}`)" if w else f"`{n}`" for n, w in by_name.items()]
    if len(tested) > 1:
        what = ", ".join(tested[:-1]) + " and " + tested[-1]
    else:
        what = tested[0] if tested else "your answer"
    lines = _comment(
        f"Check: tests {what} against values computed independently of your "
        'code, and says "Well done", "Not yet" or "Not quite" with a hint.'
    )
    return lines + ["# (The checking code is hidden so that it does not give the answer away.)"]


def student_check_cell(cell):
    """A check cell for a student notebook (a copy): its leading comment lines are replaced by
    :func:`check_comment` and its source is hidden in JupyterLab (the output stays visible)."""
    import copy

    out = copy.deepcopy(cell)
    lines = out.source.splitlines()
    while lines and lines[0].lstrip().startswith("#"):
        lines.pop(0)
    out.source = "\n".join(check_comment(cell.source) + lines)
    jupyter = dict(out.metadata.get("jupyter") or {})
    jupyter.update(source_hidden=True, outputs_hidden=False)
    out.metadata["jupyter"] = jupyter
    return out


SETUP_SOURCE = (
    "# Workshop set-up: the check cells give friendly feedback in this notebook.\n"
    "from crmlab import workshop\n"
    "\n"
    "workshop.student_mode()"
)


def applies(cell, results: Mapping[str, Any] | None) -> bool:
    """Whether a markdown cell belongs in a student notebook whose data recorded ``results``:
    its ``only-if:`` / ``unless:`` tags read as the canonical run reads them
    (:func:`crmlab.results.condition_holds`, as :func:`crmlab.results.cell_applies` does for
    the report) - a finance kit on dated data leaves out the sections of the churn-flag path.
    Code cells always apply (they run on any data and say nothing when they do not apply), and
    so do ``notebook-only`` notes, which the report leaves out but a notebook keeps.
    ``results`` None: every cell applies."""
    from crmlab.results import ONLY_IF, UNLESS, condition_holds

    if results is None or cell.cell_type != "markdown":
        return True
    conditions = [t for t in _tags(cell) if t.startswith((ONLY_IF, UNLESS))]
    return all(condition_holds(dict(results), t) for t in conditions)


def make_student_notebook(
    nb,
    stage_number: str = "",
    data_dir: str = "../data",
    run_dir: str = "../work",
    results: Mapping[str, Any] | None = None,
):
    """A student copy of an instructor notebook (the input is not modified).

    Solution cells become exercise cells (prompt, hint, the names the checks test, no code);
    check cells say in words what they test and their code is hidden (:func:`student_check_cell`);
    a set-up cell switching :func:`check` to student mode comes first; outputs are cleared; the
    ``data_dir`` and ``run_dir`` parameter defaults point into the kit. ``results``, the figures
    a run on the kit's data records (:func:`trial_run`), leave out the markdown written for
    another shape of data (:func:`applies`). Raises :class:`~crmlab.errors.CrmlabError` if a
    solution cell is not a leaf.
    """
    import copy

    import nbformat

    deps = {i: d for i, d in solution_dependencies(nb).items() if d}
    if deps:
        detail = "; ".join(f"cell {i + 1} defines {sorted(d)}" for i, d in deps.items())
        raise CrmlabError(
            f"Solution cells must be leaves (later cells may not read their names): {detail}. "
            "Move what later cells need into an untagged cell before the solution."
        )
    out = copy.deepcopy(nb)
    cells = []
    setup = nbformat.v4.new_code_cell(SETUP_SOURCE)
    setup.metadata["tags"] = ["kit-setup"]
    setup.id = "kit-setup"  # fixed ids: a rebuilt kit is the same file
    cells.append(setup)
    n = 0
    for i, cell in enumerate(out.cells):
        tags = _tags(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in ("execution", "papermill"):
                cell.metadata.pop(key, None)
        if "injected-parameters" in tags or not applies(cell, results):
            continue
        if "parameters" in tags:
            for name, value in (("data_dir", data_dir), ("run_dir", run_dir)):
                help_ = KIT_PARAMETER_HELP[name]
                cell.source = _set_parameter_default(cell.source, name, value, help_)
        if cell.cell_type == "code" and "solution" in tags:
            n += 1
            prompt, hint, _ = parse_exercise(cell.source)
            label = f"{stage_number}.{n}" if stage_number else str(n)
            names = _checked_names(nb, i)
            figures = _checked_names(nb, i, "check_recorded")
            lines = _comment(
                f"\u270f\ufe0f Exercise {label}: {prompt or 'write the code for this step.'}"
            )
            if hint:
                lines += _comment(f"Hint: {hint}")
            todo = [f"define {', '.join(f'`{x}`' for x in names)}"] * bool(names)
            todo += [f"record {', '.join(f'`{x}`' for x in figures)}"] * bool(figures)
            if todo:
                todo_text = " and ".join(todo)
                lines += _comment(
                    f"{todo_text[0].upper()}{todo_text[1:]}: the check below tests "
                    + ("it." if len(names) + len(figures) == 1 else "them.")
                )
            lines.append("# (Left blank, the check says 'not yet' and the notebook runs on.)")
            ex = nbformat.v4.new_code_cell("\n".join(lines) + "\n")
            ex.metadata["tags"] = ["exercise"]
            ex.id = f"exercise-{label.replace('.', '-')}"
            ex.metadata["crmlab"] = {"exercise": label, "solution_cell": i}
            cell = ex
        elif cell.cell_type == "code" and "check" in tags:
            cell = student_check_cell(cell)
        cells.append(cell)
    out.cells = cells
    out.metadata.pop("papermill", None)
    out.metadata["crmlab"] = {"role": "student"}
    return out


# --------------------------------------------------------------------------------------------
# the kit
# --------------------------------------------------------------------------------------------
def _exercises_of(instructor_nb) -> list[tuple[str, str]]:
    """``(short title, first checked name)`` for each solution cell of an instructor notebook
    (the name is ``""`` when no check follows)."""
    found = []
    for i, cell in enumerate(instructor_nb.cells):
        if cell.cell_type == "code" and "solution" in _tags(cell):
            prompt, _, _ = parse_exercise(cell.source)
            names = _checked_names(instructor_nb, i)
            found.append((short_title(prompt) if prompt else "exercise", names[0] if names else ""))
    return found


def _agenda(case, spec: dict, instructor_nbs: dict, lang: str = "en") -> list[dict]:
    """One row per stage: start time, minutes, title, learning goals, questions and exercises in
    ``lang``, and ``break_before``: None, or the start and minutes of a break before the stage
    (:data:`BREAK_EVERY`). Exercise titles come from the solution cells (English); for another
    language the stage spec's ``exercises: {<first checked name>: {zh: ...}}`` gives them
    (English if not)."""
    from crmlab import casespec

    rows = []
    clock = int((spec.get("workshop") or {}).get("setup_minutes", 15))
    since = clock  # minutes since the start or the last break
    for stage in case.stages:
        s = casespec.stage_spec(spec, stage)
        minutes = int(s.get("minutes", 30))
        pause = None  # a break between stages, never inside one
        if rows and since + minutes > BREAK_EVERY:
            pause = {"start": _clock(clock), "minutes": BREAK_MINUTES}
            clock, since = clock + BREAK_MINUTES, 0
        number = str(int(stage[:2])) if stage[:2].isdigit() else stage
        titles = s.get("exercises") or {}
        exercises = [
            f"{number}.{i}: {casespec.text(titles.get(name), lang, title)}"
            for i, (title, name) in enumerate(_exercises_of(instructor_nbs[stage]), 1)
        ]
        rows.append(
            {
                "stage": stage,
                "number": number,
                "title": casespec.text(s.get("title"), lang) or stage,
                "start": _clock(clock),
                "minutes": minutes,
                "learning_goals": [casespec.text(g, lang) for g in s.get("learning_goals") or []],
                "questions": [casespec.text(q, lang) for q in s.get("questions") or []],
                "exercises": exercises,
                "break_before": pause,
            }
        )
        clock, since = clock + minutes, since + minutes
    return rows


#: The agenda's breaks: :data:`BREAK_MINUTES` long, before a stage that would otherwise end more
#: than :data:`BREAK_EVERY` minutes after the start or the last break (between stages, never
#: inside one: a 220-minute workshop gets two).
BREAK_MINUTES = 15
BREAK_EVERY = 90


def _wrap_up_start(setup_minutes: int, agenda: list[dict]) -> int:
    """Minutes from the start to the wrap-up: the set-up, every stage and every break."""
    breaks = sum(r["break_before"]["minutes"] for r in agenda if r["break_before"])
    return setup_minutes + sum(r["minutes"] for r in agenda) + breaks


#: The trainer guide's files by language (the English one keeps its historic name), written
#: next to the kit, in :func:`trainer_dir`.
GUIDES = {"en": "TRAINER_GUIDE.md", "zh": "TRAINER_GUIDE.zh.md"}

#: The kit's references pages by language (digests of the reference articles it cites).
REFERENCES = {"en": "REFERENCES.md", "zh": "REFERENCES.zh.md"}

#: Where the articles' titles and digests live (plain data, part of the library).
REFERENCES_SPEC = Path(__file__).resolve().parent / "templates" / "references.yaml"

_ZH_NUMERAL = "[一二三四五六七八九十]+"
#: "article 000", "reference article 000 (step 4)", "articles 001/003", "articles 001 *Title*,
#: 003 and 004", "参考文章 000（第四步）", "参考文章 001、003、004".
_CITE_START = re.compile(
    r"\b(?:reference\s+)?articles?\s+(?=\d{3}\b)|(?:参考)?文章\s*(?=\d{3})", re.I
)
_CITE_NUMBER = re.compile(
    r"(\d{3})\b(?:\s*\*[^*\n]+\*|\s*《[^》\n]+》)?"
    r"(?:\s*\((?P<en>(?:step|section|case)\s+\d+)\)"
    rf"|\s*（(?P<zh>第{_ZH_NUMERAL}[步节]|案例{_ZH_NUMERAL})）)?",
    re.I,
)
_CITE_NEXT = re.compile(r"\s*(?:,|/|、|，|and\b|和|及)\s*(?=\d{3}\b)", re.I)


def cited_articles(text: str) -> dict[str, set[str]]:
    """The reference articles a text cites: article number -> the places cited with it
    (``"step 4"``, ``"section 9"``, ``"case 2"``, ``"第四步"``; lower case; often none)."""
    cited: dict[str, set[str]] = {}
    for start in _CITE_START.finditer(text):
        pos = start.end()
        while m := _CITE_NUMBER.match(text, pos):
            place = m.group("en") or m.group("zh")
            places = cited.setdefault(m.group(1), set())
            if place:
                places.add(re.sub(r"\s+", " ", place.lower()))
            sep = _CITE_NEXT.match(text, m.end())
            if not sep:
                break
            pos = sep.end()
    return cited


def load_references() -> dict[str, dict]:
    """Article number -> its entry in ``templates/references.yaml`` (title, source, summary and
    the cited points, each ``{en, zh}``)."""
    import yaml

    data = yaml.safe_load(REFERENCES_SPEC.read_text(encoding="utf-8")) or {}
    return {str(k): v for k, v in (data.get("articles") or {}).items()}


def _notebook_text(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def write_references(out: Path, guides: Mapping[str, str], agendas: Mapping[str, list], notebooks):
    """Write the kit's references pages (:data:`REFERENCES`): each article that the guides (text
    by language), their agendas' discussion questions or the student ``notebooks`` (stage ->
    notebook) cite, with its title, a digest of the cited points and where the kit cites it.

    Raises :class:`~crmlab.errors.CrmlabError` if an article, or a step / section / case cited
    with it, has no entry in ``templates/references.yaml``: a kit must not cite what it does not
    explain."""
    from crmlab import casespec

    specs = load_references()
    places: dict[str, set[str]] = {}  # article -> cited steps / sections / cases (any language)
    in_guide: set[str] = set()
    in_questions: dict[str, list[str]] = {}  # article -> stage numbers whose questions cite it
    in_notebooks: dict[str, list[str]] = {}  # article -> notebooks citing it
    for text in guides.values():
        for number, cited in cited_articles(text).items():
            places.setdefault(number, set()).update(cited)
            in_guide.add(number)
    for rows in agendas.values():
        for r in rows:
            for number in cited_articles(" ".join(r["questions"])):
                stages = in_questions.setdefault(number, [])
                if r["number"] not in stages:
                    stages.append(r["number"])
    for stage, nb in notebooks.items():
        for number, cited in cited_articles(_notebook_text(nb)).items():
            places.setdefault(number, set()).update(cited)
            in_notebooks.setdefault(number, []).append(stage)
    problems = []
    for number in sorted(places):
        spec = specs.get(number)
        if spec is None:
            problems.append(f"article {number} has no entry")
            continue
        wheres = {
            lang: " ".join(casespec.text(p.get("where"), lang) for p in spec.get("points") or [])
            for lang in GUIDES
        }
        for place in sorted(places[number]):
            lang = "en" if place.isascii() else "zh"
            if place not in wheres[lang].lower():
                problems.append(f"article {number}: no point's `where` ({lang}) names '{place}'")
    if problems:
        raise CrmlabError(
            f"The kit cites reference articles that {REFERENCES_SPEC.name} does not digest: "
            + "; ".join(problems)
            + "."
        )
    env = _jinja()
    for lang, name in REFERENCES.items():
        articles = []
        for number in sorted(places):
            spec = specs[number]
            articles.append(
                {
                    "number": number,
                    "title": casespec.text(spec.get("title"), lang),
                    "original": spec.get("original", ""),
                    "source": casespec.text(spec.get("source"), lang),
                    "summary": casespec.text(spec.get("summary"), lang).strip(),
                    "points": [
                        {
                            "where": casespec.text(p.get("where"), lang),
                            "text": casespec.text(p.get("text"), lang).strip(),
                        }
                        for p in spec.get("points") or []
                    ],
                    "cited_in": _cited_in(
                        lang,
                        number in in_guide,
                        in_questions.get(number, []),
                        in_notebooks.get(number, []),
                    ),
                }
            )
        suffix = "" if lang == "en" else f".{lang}"
        (out / name).write_text(
            env.get_template(f"references{suffix}.md.j2").render(
                articles=articles, guides=GUIDES, references=REFERENCES
            ),
            encoding="utf-8",
        )
    return [out / name for name in REFERENCES.values()]


def _cited_in(lang: str, guide: bool, stages: list[str], notebooks: list[str]) -> str:
    """Where a kit cites an article, in words: the guide (with the stages whose discussion
    questions cite it) and the notebooks."""
    nbs = [f"`{stem}`" for stem in notebooks]
    if lang == "zh":
        parts = [
            "培训师指南" + (f"（阶段 {'、'.join(stages)} 的讨论问题）" if stages else "")
        ] * guide
        return "；".join(parts + ([f"笔记本 {'、'.join(nbs)}"] if nbs else []))
    parts = ["the trainer guide"] * guide
    if guide and stages:
        label = "stage" if len(stages) == 1 else "stages"
        parts[0] += f" (discussion questions of {label} {', '.join(stages)})"
    if nbs:
        parts.append(("notebook " if len(nbs) == 1 else "notebooks ") + ", ".join(nbs))
    return "; ".join(parts)


def _kit_path_shown(kit: Path) -> str:
    """The kit folder as its README names it: relative to the project folder when the kit is
    inside it (``workshop/retail_satisfaction``), else ``PATH/TO/<kit name>`` - never the
    trainer's absolute path (a home folder in every student's copy)."""
    from crmlab.paths import project_root

    try:
        return kit.resolve().relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return f"PATH/TO/{kit.resolve().name}"


def solutions_dir(kit_dir: str | Path) -> Path:
    """Where ``build_kit(..., solutions=True)`` writes the solutions of the kit in ``kit_dir``:
    the folder ``<kit name>-solutions`` next to it (never inside the kit, which goes to the
    students as it is)."""
    kit = Path(kit_dir).resolve()
    return kit.parent / f"{kit.name}-solutions"


def trainer_dir(kit_dir: str | Path, solutions: bool = False) -> Path:
    """Where :func:`build_kit` writes the trainer guides (:data:`GUIDES`) of the kit in
    ``kit_dir``: next to it, never inside the kit, which goes to the students as it is. With
    ``solutions``, the solutions folder (:func:`solutions_dir`), so that one folder holds all the
    trainer's files; else ``<kit name>-trainer``."""
    kit = Path(kit_dir).resolve()
    return solutions_dir(kit) if solutions else kit.parent / f"{kit.name}-trainer"


def write_solutions(case: str, kit_dir: str | Path, context: Mapping[str, Any], lang: str = "en"):
    """Write the trainer's solutions of the kit in ``kit_dir`` into :func:`solutions_dir`: the
    instructor notebooks of ``case`` (exercise solutions, check cells and the canonical outputs,
    as committed in the project) and a README in ``lang``. Their ``data_dir`` and ``run_dir``
    defaults point at the kit's ``data/`` and at the solutions' own ``work/``, so re-running one
    reads what the students read and leaves the students' ``work/`` alone. An existing folder is
    replaced (:func:`build_kit` then adds the trainer guides). Returns the folder."""
    import nbformat

    from crmlab.cases import get_case

    kit = Path(kit_dir).resolve()
    out = solutions_dir(kit)
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    (out / "work").mkdir()
    for path in get_case(case).notebooks:
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "parameters" in _tags(cell):
                for name, value in (("data_dir", f"../../{kit.name}/data"), ("run_dir", "../work")):
                    help_ = SOLUTIONS_PARAMETER_HELP[name]
                    cell.source = _set_parameter_default(cell.source, name, value, help_)
        nb.metadata["crmlab"] = {"role": "instructor"}
        nbformat.write(nb, str(out / "notebooks" / path.name))
    suffix = "" if lang == "en" else f".{lang}"
    (out / "README.md").write_text(
        _jinja()
        .get_template(f"solutions_readme{suffix}.md.j2")
        .render(**{**context, "kit_name": kit.name, "solutions_name": out.name}),
        encoding="utf-8",
    )
    return out


#: The kit's folder for installing crmlab, and the constraints file in it.
INSTALL_DIR = "install"
CONSTRAINTS = "constraints.txt"
#: The date stamped on every file of the kit's wheel (1980-01-01, the earliest a zip file can
#: hold): with it, the same sources give the same wheel, byte for byte.
WHEEL_EPOCH = "315532800"
#: What the wheel is built from: the project's build files and its package folder.
_WHEEL_SOURCES = ("pyproject.toml", "README.md", "setup.cfg", "setup.py", "MANIFEST.in", "lib")


def source_root() -> Path | None:
    """The crmlab project folder the running crmlab is imported from (an editable install of the
    project: ``lib/crmlab`` under a folder whose ``pyproject.toml`` names crmlab), or None when
    crmlab is installed without its sources (e.g. from a wheel). ``$CRMLAB_HOME`` plays no part:
    the kit's wheel must hold the code that built the kit."""
    import tomllib

    import crmlab

    root = Path(crmlab.__file__).resolve().parents[2]
    try:
        meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if meta.get("project", {}).get("name") == "crmlab" else None


def build_wheel(root: Path, dest: Path) -> Path:
    """Build the wheel of the crmlab project at ``root`` into ``dest``; returns its path.

    ``pip wheel --no-deps --no-build-isolation --no-index`` with the running Python: the build
    backend (setuptools and wheel, installed by ``make setup``) comes from this environment, so
    nothing is downloaded. The build runs on a copy of the project's build files and ``lib/`` in
    a temporary folder, so it leaves nothing in the project (``build/``, ``*.egg-info``) and two
    kits can be built at once. ``SOURCE_DATE_EPOCH`` fixes the files' dates: the same sources
    give the same wheel. Raises :class:`CrmlabError` with pip's message when the build fails."""
    with tempfile.TemporaryDirectory(prefix="crmlab-wheel-") as tmp:
        src, out = Path(tmp) / "crmlab", Path(tmp) / "dist"
        src.mkdir()
        for name in _WHEEL_SOURCES:
            path = root / name
            if path.is_dir():
                shutil.copytree(
                    path,
                    src / name,
                    ignore=shutil.ignore_patterns(
                        "__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints"
                    ),
                )
            elif path.is_file():
                shutil.copy2(path, src / name)
        env = dict(os.environ, SOURCE_DATE_EPOCH=WHEEL_EPOCH, PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.update(PYTHONDONTWRITEBYTECODE="1", PIP_NO_INPUT="1")
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        cmd += ["--no-index", "--quiet", "--wheel-dir", str(out), str(src)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        wheels = sorted(out.glob("crmlab-*.whl")) if out.is_dir() else []
        if done.returncode or len(wheels) != 1:
            lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
            raise CrmlabError(
                "Could not build the crmlab wheel for the kit (pip wheel): "
                + " | ".join(lines[-6:])
                + " - the build needs setuptools and wheel in this environment (make setup)."
            )
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheels[0].name
        shutil.copyfile(wheels[0], target)
        return target


def write_install(out: str | Path) -> dict[str, str]:
    """Write ``<out>/install/``: the crmlab wheel (:func:`build_wheel`) and ``constraints.txt``
    (the project's ``requirements.lock``), so a student with Python 3.11 and the package
    registry installs the same versions without the project. Returns what the kit README says:
    ``{"wheel": file name, "constraints": file name, "missing": ""}``, or, when crmlab runs
    without its sources (:func:`source_root` is None), empty names and ``missing`` saying why
    (nothing is written then). A failing build raises (:func:`build_wheel`)."""
    from crmlab import __version__

    root = source_root()
    lock = root / "requirements.lock" if root else None
    if root is None or not lock.is_file():
        return {
            "wheel": "",
            "constraints": "",
            "version": __version__,
            "missing": "crmlab was installed without its project sources when this kit was built",
        }
    folder = Path(out) / INSTALL_DIR
    wheel = build_wheel(root, folder)
    header = (
        "# The versions the crmlab project pins (its requirements.lock), for installing the kit:\n"
        f"#   pip install -c {INSTALL_DIR}/{CONSTRAINTS} {INSTALL_DIR}/{wheel.name} jupyterlab\n"
    )
    (folder / CONSTRAINTS).write_text(
        header + lock.read_text(encoding="utf-8"), encoding="utf-8", newline="\n"
    )
    return {"wheel": wheel.name, "constraints": CONSTRAINTS, "version": __version__, "missing": ""}


def build_kit(
    case: str,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    overwrite: bool = True,
    lang: str = "en",
    solutions: bool = False,
) -> Path:
    """Write the workshop kit of ``case`` into ``out_dir`` (see the module docstring).

    The trainer guide and the references page are always written in every language
    (:data:`GUIDES`, :data:`REFERENCES`); ``lang`` ("en" or "zh") picks the language of the
    kit's README.md and of the solutions' README. The guides are for the trainer, so they are
    written next to the kit, in :func:`trainer_dir` (``<out>-trainer/``, or ``<out>-solutions/``
    with ``solutions``); the kit's README does not name them.

    ``solutions``: also write the instructor notebooks, with their canonical outputs, into
    :func:`solutions_dir` - next to the kit, not inside it (:func:`write_solutions`). The kit
    itself is the same with or without them.

    ``data_dir``: the input files to ship (default: the case's synthetic data, generated if
    missing; ``truth.json``-style answer files are left out). An existing kit folder, and the
    trainer's folder next to it, are replaced when ``overwrite`` (the default), else an error is
    raised; so is the trainer's folder of a build the other way (``<out>-solutions/`` when
    building without solutions, ``<out>-trainer/`` with them), which belongs to the kit replaced.
    Returns ``out_dir``.

    The instructor notebooks are first run on the kit's data (:func:`trial_run`, about as long
    as ``crmlab run``; it fails when the exercises would not work on the data): the student
    notebooks leave out the markdown of another shape of data (a finance kit on dated data has
    no sections of the churn-flag path, :func:`applies`).

    ``install/`` gets a wheel of the running crmlab and the project's pinned versions
    (:func:`write_install`; about 1.5 s), and the README the commands that install them. When
    crmlab runs without its project sources, the kit has no ``install/`` and its README says so.
    """
    import nbformat

    from crmlab import casespec
    from crmlab.cases import get_case
    from crmlab.i18n import LANGUAGES, check_lang
    from crmlab.synthetic import GENERATORS, ensure_synthetic

    check_lang(lang)
    c = get_case(case)
    spec = casespec.load_spec(case)
    if data_dir is None:
        source = ensure_synthetic(case) if case in GENERATORS else None
    else:
        source = Path(data_dir)
    if source is None or not Path(source).is_dir():
        raise CrmlabError(f"No input data for the kit of '{case}': give data_dir (a folder).")
    out = Path(out_dir)
    trainer = trainer_dir(out, solutions)
    other = trainer_dir(out, not solutions)  # the trainer's folder of a build the other way
    for folder in (out, trainer, other):
        if folder.exists() and not overwrite:
            raise CrmlabError(f"{folder} exists; remove it or pass overwrite=True.")
    if out.exists():
        shutil.rmtree(out)
    if other.exists():  # its guide and solutions belong to the kit this build replaces
        shutil.rmtree(other)
    (out / "notebooks").mkdir(parents=True)
    (out / "work").mkdir()
    shutil.copytree(
        source, out / "data", ignore=shutil.ignore_patterns(".*", "truth*", "__pycache__")
    )
    install = write_install(out)
    trial = trial_run(case, out / "data")  # which sections apply to the kit's data
    instructors, students = {}, {}
    for path in c.notebooks:
        nb = nbformat.read(str(path), as_version=4)
        number = str(int(path.stem[:2])) if path.stem[:2].isdigit() else ""
        students[path.stem] = make_student_notebook(nb, number, results=trial["results"])
        nbformat.write(students[path.stem], str(out / "notebooks" / path.name))
        instructors[path.stem] = nb
    env = _jinja()
    ws = spec.get("workshop") or {}
    guides, agendas, contexts = {}, {}, {}
    for guide_lang in LANGUAGES:
        agenda = _agenda(c, spec, instructors, guide_lang)
        wrap_up = _wrap_up_start(int(ws.get("setup_minutes", 15)), agenda)
        context = {
            "case": c,
            "title": casespec.text(spec.get("title"), guide_lang) or c.title,
            "agenda": agenda,
            "setup_minutes": int(ws.get("setup_minutes", 15)),
            "wrap_up_minutes": int(ws.get("wrap_up_minutes", 15)),
            "total_minutes": wrap_up + int(ws.get("wrap_up_minutes", 15)),
            "wrap_up_start": _clock(wrap_up),
            "n_breaks": sum(1 for r in agenda if r["break_before"]),
            "break_minutes": BREAK_MINUTES,
            "audience": casespec.text(ws.get("audience"), guide_lang).rstrip(".。"),
            "n_exercises": sum(len(r["exercises"]) for r in agenda),
            "data_files": sorted(p.name for p in (out / "data").iterdir()),
            "kit_dir": _kit_path_shown(out),
            "kit_name": out.resolve().name,
            "solutions": solutions,
            "install": {**install, "dir": INSTALL_DIR},
            "guides": GUIDES,
            "references": REFERENCES,
            "answer_keys": ANSWER_KEYS,
        }
        suffix = "" if guide_lang == "en" else f".{guide_lang}"
        guides[guide_lang] = env.get_template(f"trainer_guide{suffix}.md.j2").render(**context)
        agendas[guide_lang], contexts[guide_lang] = agenda, context
        if guide_lang == lang:
            (out / "README.md").write_text(
                env.get_template(f"kit_readme{suffix}.md.j2").render(**context), encoding="utf-8"
            )
    write_references(out, guides, agendas, students)
    if solutions:
        write_solutions(case, out, contexts[lang], lang)
        write_answer_key(trainer, spec, trial["answers"], contexts)
    else:
        if trainer.exists():
            shutil.rmtree(trainer)
        trainer.mkdir(parents=True)
    for guide_lang, text in guides.items():
        (trainer / GUIDES[guide_lang]).write_text(text, encoding="utf-8")
    return out


def with_solutions(student_nb, instructor_nb):
    """A student notebook with each exercise cell replaced by its solution cell (for testing
    the kit: the checks must then all pass)."""
    import copy

    out = copy.deepcopy(student_nb)
    for i, cell in enumerate(out.cells):
        info = cell.get("metadata", {}).get("crmlab", {})
        if "exercise" in _tags(cell) and "solution_cell" in info:
            solution = copy.deepcopy(instructor_nb.cells[info["solution_cell"]])
            solution.outputs, solution.execution_count = [], None
            out.cells[i] = solution
    return out


def execute_kit(
    kit_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    solutions: bool = False,
    case: str | None = None,
) -> dict[str, Any]:
    """Run a kit's notebooks in order in one kernel (started in ``notebooks/``), as a student
    would in JupyterLab; returns stage -> executed notebook. Raises on the first cell error.

    ``parameters`` are injected into every notebook that declares them (e.g. a small
    ``n_boot``). With ``solutions=True`` the exercises are first filled with the solutions of
    ``case``'s instructor notebooks. The kernel's namespace is cleared between notebooks.
    """
    import nbformat

    from crmlab.cases import get_case

    folder = Path(kit_dir) / "notebooks"
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    instructor = {p.stem: p for p in get_case(case).notebooks} if solutions else {}
    notebooks = {}
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        if solutions:
            nb = with_solutions(nb, nbformat.read(str(instructor[path.stem]), as_version=4))
        notebooks[path.stem] = nb
    return _execute(folder, notebooks, parameters)


def _execute(
    folder: Path, notebooks: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run ``notebooks`` (stage -> notebook, in that order) in one kernel started in ``folder``,
    each written there as a hidden file first (its relative paths then read as the notebook's
    own would), with the namespace cleared between them; returns stage -> executed notebook.
    ``parameters`` go to each notebook that declares them. Raises on the first cell error."""
    import nbformat
    import papermill

    from crmlab.params import notebook_parameters
    from crmlab.runner import KERNEL_NAME, start_kernel

    km, sockets = start_kernel(folder)
    results: dict[str, Any] = {}
    try:
        for i, (stage, nb) in enumerate(notebooks.items()):
            if i:
                _reset_kernel(km)
            source = folder / f".{stage}.source.ipynb"
            out = folder / f".{stage}.executed.ipynb"
            nbformat.write(nb, str(source))
            try:
                declared = notebook_parameters(source)
                params = {k: v for k, v in (parameters or {}).items() if k in declared}
                papermill.execute_notebook(
                    str(source),
                    str(out),
                    parameters=params,
                    kernel_name=KERNEL_NAME,
                    km=km,
                    progress_bar=False,
                    cwd=str(folder),
                )
                results[stage] = nbformat.read(str(out), as_version=4)
            finally:
                out.unlink(missing_ok=True)
                source.unlink(missing_ok=True)
    finally:
        km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)
    return results


def _reset_kernel(km) -> None:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(
            "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt",
            timeout=60,
            store_history=False,
        )
    finally:
        kc.stop_channels()


def check_messages(nb) -> list[str]:
    """The text printed by the check cells of an executed notebook, one entry per line."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "check" in _tags(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    lines += [ln for ln in out.get("text", "").splitlines() if ln.strip()]
    return lines


def _jinja():
    import jinja2

    from crmlab import casespec

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(casespec.TEMPLATES)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


# --------------------------------------------------------------------------------------------
# the trial run: the instructor notebooks on the kit's data
# --------------------------------------------------------------------------------------------
#: The tag of the cells a trial run adds after each exercise's checks; their output, one line
#: starting with :data:`ANSWER_MARK`, holds the exercise's answers as JSON.
ANSWER_PROBE = "answer-probe"
ANSWER_MARK = "crmlab-answers: "


def plain(value: Any) -> Any:
    """An answer as JSON data: numbers, text, yes/no, lists and dicts as
    :func:`crmlab.results.to_jsonable` records them (a table: column -> row -> value, NaN ->
    None); a result object as a dict of its ``table`` (a fitted model's coefficients) or, for a
    dataclass, its fields that are plain data, with :data:`OBJECT` naming its type; else
    ``"<TypeName>"``."""
    import dataclasses

    from crmlab.results import to_jsonable

    try:
        return to_jsonable(value)
    except CrmlabError:
        pass
    kind = {OBJECT: type(value).__name__}  # a result object's fields, marked as such
    table = getattr(value, "table", None)
    if table is not None and hasattr(table, "columns"):
        return {**kind, "table": plain(table)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            try:
                kind[f.name] = to_jsonable(getattr(value, f.name))
            except CrmlabError:
                continue
        return kind
    return f"<{type(value).__name__}>"


#: The key that marks a result object's fields in :func:`plain` data (its type's name).
OBJECT = "__object__"


def print_answers(label: str, namespace: Mapping[str, Any], names, figures) -> None:
    """Print the answers of exercise ``label`` (a trial run's probe cell calls it right after the
    exercise's checks, which passed): each checked name in ``namespace`` and each checked figure
    of the running stage, as :func:`plain` data on one line after :data:`ANSWER_MARK`. A name or
    figure the notebook did not define (an exercise its data skip) is None."""
    import json

    from crmlab.results import recorded

    figures_now = recorded()
    found = {
        "exercise": label,
        "names": {n: plain(namespace.get(n)) for n in names},
        "figures": {f: plain(figures_now.get(f)) for f in figures},
    }
    print(ANSWER_MARK + json.dumps(found, ensure_ascii=False))


def exercises(nb, stage_number: str = "") -> list[dict]:
    """The exercises of an instructor notebook, in order: ``label`` ("2.1", as the student
    notebook numbers them), ``cell`` (the solution cell's index), ``title`` (:func:`short_title`
    of its prompt), ``prompt``, ``code`` (the solution without its comment), ``names`` and
    ``figures`` (what its checks test) and ``last_check`` (the index of its last check cell)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "solution" not in _tags(cell):
            continue
        prompt, _, code = parse_exercise(cell.source)
        last = i
        while last + 1 < len(nb.cells) and "check" in _tags(nb.cells[last + 1]):
            last += 1
        n = len(found) + 1
        found.append(
            {
                "label": f"{stage_number}.{n}" if stage_number else str(n),
                "cell": i,
                "title": short_title(prompt) if prompt else "exercise",
                "prompt": prompt,
                "code": code.strip("\n"),
                "names": _checked_names(nb, i),
                "figures": _checked_names(nb, i, "check_recorded"),
                "last_check": last,
            }
        )
    return found


def _stage_number(stage: str) -> str:
    return str(int(stage[:2])) if stage[:2].isdigit() else ""


def with_answer_probes(nb, stage_number: str = ""):
    """A copy of an instructor notebook with a probe cell (tagged :data:`ANSWER_PROBE`) after
    each exercise's checks, printing its answers (:func:`print_answers`)."""
    import copy

    import nbformat

    out = copy.deepcopy(nb)
    for ex in reversed(exercises(nb, stage_number)):
        probe = nbformat.v4.new_code_cell(
            "from crmlab import workshop as _workshop\n\n"
            f"_workshop.print_answers({ex['label']!r}, globals(), {ex['names']!r}, "
            f"{ex['figures']!r})"
        )
        probe.metadata["tags"] = [ANSWER_PROBE]
        probe.id = f"answer-probe-{ex['label'].replace('.', '-')}"
        out.cells.insert(ex["last_check"] + 1, probe)
    return out


def read_answers(executed_nb) -> dict[str, dict]:
    """Exercise label -> ``{"names": ..., "figures": ...}`` from the probe cells of an executed
    notebook (:func:`with_answer_probes`)."""
    import json

    found = {}
    for cell in executed_nb.cells:
        if cell.cell_type != "code" or ANSWER_PROBE not in _tags(cell):
            continue
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith(ANSWER_MARK):
                    data = json.loads(line[len(ANSWER_MARK) :])
                    found[data.pop("exercise")] = data
    return found


#: Trial runs already made in this process, by case, the data files' names, sizes and dates and
#: the notebooks' (a kit rebuilt on the same data, as the tests do, reuses its trial run).
_TRIALS: dict[tuple, dict] = {}


def _fingerprint(folder: Path) -> tuple:
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return tuple((p.relative_to(folder).as_posix(), *_stat(p)) for p in files)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def trial_run(case: str, data_dir: str | Path) -> dict:
    """Run the instructor notebooks of ``case`` on the kit's data in ``data_dir`` (default
    parameters, a temporary run folder), as the trainer's solutions would run: returns
    ``{"results": the figures the run recorded (flat, as results.json), "answers": [...]}``,
    one entry per exercise, with its ``stage``, ``label``, ``title``, ``code`` and the values
    of the names and figures its checks test (``names``, ``figures``; :func:`plain` data). The
    instructor checks raise on a wrong answer, so each value is the one its check computes on
    these data. The kit builder takes from it which markdown applies to the kit's data
    (:func:`make_student_notebook`'s ``results``) and the answer key.

    Raises :class:`~crmlab.errors.CrmlabError` when a notebook fails on the data (e.g. a check
    whose exercise these data break). About as long as ``crmlab run`` of the case; a kit rebuilt
    on the same data in the same process reuses the run."""
    import nbformat

    from crmlab.cases import get_case
    from crmlab.results import collect_results

    c = get_case(case)
    data = Path(data_dir).resolve()
    key = (case, _fingerprint(data), tuple(_stat(p) for p in c.notebooks))
    if key in _TRIALS:
        return _TRIALS[key]
    notebooks, found = {}, {}
    for path in c.notebooks:
        nb = nbformat.read(str(path), as_version=4)
        number = _stage_number(path.stem)
        notebooks[path.stem] = with_answer_probes(nb, number)
        found[path.stem] = exercises(nb, number)
    with tempfile.TemporaryDirectory(prefix="crmlab-trial-") as tmp:
        folder, run = Path(tmp) / "notebooks", Path(tmp) / "work"
        folder.mkdir()
        try:
            executed = _execute(folder, notebooks, {"data_dir": str(data), "run_dir": str(run)})
        except Exception as e:  # papermill's error names the cell and the exception
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            raise CrmlabError(
                f"The instructor notebooks of '{case}' fail on the kit's data ({data}): "
                + " | ".join(lines[-3:])
                + " - the kit's exercises would not work on these data; check the data files "
                "(crmlab validate) or build the kit on the case's synthetic data."
            ) from None
        results = collect_results(run, c.stages)
    answers = []
    for stage, nb in executed.items():
        values = read_answers(nb)
        for ex in found[stage]:
            got = values.get(ex["label"], {})
            answers.append(
                {
                    "stage": stage,
                    "label": ex["label"],
                    "title": ex["title"],
                    "code": ex["code"],
                    "names": got.get("names", dict.fromkeys(ex["names"])),
                    "figures": got.get("figures", dict.fromkeys(ex["figures"])),
                }
            )
    _TRIALS[key] = {"results": results, "answers": answers}
    return _TRIALS[key]


# --------------------------------------------------------------------------------------------
# the answer key
# --------------------------------------------------------------------------------------------
#: The answer key's files by language, in the solutions folder (:func:`write_answer_key`), and
#: its answers as JSON data (full precision; what the tests put back into the exercises).
ANSWER_KEYS = {"en": "ANSWER_KEY.md", "zh": "ANSWER_KEY.zh.md"}
ANSWERS_JSON = "answers.json"


def number(x: float) -> str:
    """A number of the answer key: 4 significant digits, no trailing zeros, no exponent for
    ordinary sizes (0.2573, 2.161, 195.3, 12,346, 0.05); below 0.0001 in scientific notation (a
    p-value)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if x != 0 and abs(x) < 1e-4:
        return f"{x:.3e}"
    places = max(0, 3 - math.floor(math.log10(abs(x)))) if x else 1
    text = f"{x:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _answer_text(value: Any, lang: str) -> str:
    """An answer's value on one line of the key (a table goes under it, :func:`_answer_table`)."""
    if value is None:
        return "-" if lang == "zh" else "- (not computed on these data)"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, numbers.Real):
        return number(value)
    if isinstance(value, list):
        return "[" + ", ".join(_answer_text(v, lang) for v in value) + "]"
    if isinstance(value, dict):
        sep = "；" if lang == "zh" else "; "
        parts = []
        for k, v in value.items():
            if k != OBJECT and not _is_table(v):
                parts.append(f"{k}: {_answer_text(v, lang)}")
        return sep.join(parts)
    return str(value)


def _is_table(value: Any) -> bool:
    """Whether :func:`plain` data are a table (column -> row -> value)."""
    return (
        isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())
    )


def _answer_table(table: dict, lang: str) -> list[str]:
    """A :func:`plain` table as markdown rows (rows by the table's row labels)."""
    columns = list(table)
    rows = list(dict.fromkeys(r for col in table.values() for r in col))
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in rows:
        cells = [_answer_text(table[c].get(r), lang) for c in columns]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return lines


def _answer_lines(name: str, value: Any, lang: str) -> list[str]:
    """The key's lines for one checked name or figure: ``- `name`: value`` and its tables."""
    tables = {}
    if _is_table(value):
        tables, shown = {"": value}, ""
    else:
        if isinstance(value, dict):
            tables = {k: v for k, v in value.items() if _is_table(v)}
        shown = _answer_text(value, lang)
    lines = [f"- `{name}`" + (f": {shown}" if shown else ":")]
    for key, table in tables.items():
        lines += (
            [""]
            + ([f"  `{key}`:", ""] if key else [])
            + ["  " + ln for ln in _answer_table(table, lang)]
        )
    return lines


_SAME = {"en": "recorded, the same as `{name}`", "zh": "记录的数值，与 `{name}` 相同"}


def write_answer_key(folder: Path, spec: dict, answers: list[dict], contexts: Mapping) -> list:
    """Write the answer key into the solutions ``folder``: for each exercise its number, short
    title (Chinese from the stage spec's ``exercises``, as in the trainer guide), the answers its
    checks test as they computed them on the kit's data (the names it defines and the figures it
    records: :func:`trial_run`'s ``answers``, never typed in) and the solution code, in English
    and Chinese (:data:`ANSWER_KEYS`), and the same answers as JSON (:data:`ANSWERS_JSON`)."""
    import json

    from crmlab import casespec

    env = _jinja()
    written = []
    for lang, name in ANSWER_KEYS.items():
        entries = []
        for a in answers:
            titles = casespec.stage_spec(spec, a["stage"]).get("exercises") or {}
            first = next(iter(a["names"]), "")
            lines = []
            for key, value in a["names"].items():
                lines += _answer_lines(key, value, lang)
            for key, value in a["figures"].items():  # recorded; often a name's value again
                same = next((n for n, v in a["names"].items() if v == value), None)
                if same is None or value is None:
                    lines += _answer_lines(key, value, lang)
                else:
                    lines.append(f"- `{key}`: " + _SAME[lang].format(name=same))
            entries.append(
                {
                    **a,
                    "title": casespec.text(titles.get(first), lang, a["title"]),
                    "lines": lines,
                }
            )
        suffix = "" if lang == "en" else f".{lang}"
        text = env.get_template(f"answer_key{suffix}.md.j2").render(
            **{**contexts[lang], "answer_keys": ANSWER_KEYS}, answers=entries
        )
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    (folder / ANSWERS_JSON).write_text(
        json.dumps(answers, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return written + [folder / ANSWERS_JSON]


def revive(value: Any) -> Any:
    """An answer of :data:`ANSWERS_JSON` back as a value a check reads: a table as a DataFrame, a
    result object as a namespace of its fields (its own tables as DataFrames); other values as
    they are (a check compares a list with a tuple, a dict by key)."""
    from types import SimpleNamespace

    import pandas as pd

    if isinstance(value, dict) and OBJECT in value:
        return SimpleNamespace(**{k: revive(v) for k, v in value.items() if k != OBJECT})
    if _is_table(value):
        return pd.DataFrame(value)
    return value
