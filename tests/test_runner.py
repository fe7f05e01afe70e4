"""The runner's behaviour: parameters checked before any kernel, results collected, failures
reported with the cell, ``latest`` only moved by successful runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from crmlab import runner
from crmlab.errors import ParameterError
from tests.conftest import read_json


def test_successful_run_collects_results_and_html(toy_project):
    [res] = runner.run_cases(["toy"], {"n": "4"}, progress=False)
    assert res.ok and res.stages_done == ["01_first", "02_second"]
    run = res.run_dir
    assert run.parent == toy_project / "reports" / "toy"
    # 0+1+2+3 = 6, computed in stage 2 from the Parquet written by stage 1
    assert read_json(run / "results.json") == {
        "n_customers": 4,
        "share": 0.5,
        "total": 6,
        "after": 1,
    }
    assert (run / "html" / "01_first.html").exists()
    html = (run / "html" / "02_second.html").read_text()
    assert "load_frame" not in html  # no code in the export
    assert (run / "01_first.ipynb").exists() and (run / "02_second.ipynb").exists()
    latest = toy_project / "reports" / "toy" / "latest"
    assert latest.resolve() == run.resolve()
    assert read_json(run / "status.json")["status"] == "ok"
    assert not list(run.parent.glob(".*.running"))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"nope": "1"}, "unknown parameter 'nope'."),  # nothing close: no suggestion
        ({"rte": "0.4"}, "unknown parameter 'rte' (did you mean 'rate'?)"),
        ({"n": "three"}, "n='three' is not a valid int"),
        ({"fail": "maybe"}, "not a valid bool"),
        ({"run_dir": "/x"}, "set by the runner"),
    ],
)
def test_parameter_errors_stop_before_any_kernel(toy_project, monkeypatch, params, message):
    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "run_case", boom)
    with pytest.raises(ParameterError) as err:
        runner.run_cases(["toy"], params)
    text = str(err.value)
    assert message in text
    assert "rate: float (default 0.5)" in text  # lists the valid parameters and types
    assert not (toy_project / "reports").exists()


def test_required_parameter_is_reported(toy_project):
    nb = toy_project / "notebooks" / "cases" / "toy" / "01_first.ipynb"
    nb.write_text(
        nb.read_text().replace(
            '"n: int = 3', '"client: str = None  # client name\\n",\n    "n: int = 3'
        )
    )
    with pytest.raises(ParameterError, match="missing required parameter 'client'"):
        runner.plan(["toy"], {})
    assert runner.plan(["toy"], {"client": "ACME"})[0][1] == {"client": "ACME"}


def test_failure_keeps_latest_names_cell_and_other_cases_run(toy_project):
    import nbformat

    nb_path = toy_project / "notebooks" / "cases" / "toy" / "02_second.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "planted failure" in c.source)
    nb.cells.insert(at - 1, nbformat.v4.new_markdown_cell("## Totals\n\nThe sum of xs."))
    nb.cells.insert(at + 1, nbformat.v4.new_markdown_cell("Text, no heading.\n#not one"))
    nbformat.write(nb, str(nb_path))
    [good] = runner.run_cases(["toy"], {}, progress=False)
    latest = toy_project / "reports" / "toy" / "latest"
    results = runner.run_cases(["toy", "toy_two"], {"fail": "true"}, jobs=2, progress=False)
    assert [r.ok for r in results] == [False, False]
    bad = results[0]
    assert bad.failed_stage == "02_second"
    # the cell as the run's notebook shows it: its execution count and first line of code
    # ... in the section the reader sees it under (the last heading above it)
    assert 'toy/02_second.ipynb failed in section "Totals", cell In [' in bad.error
    assert "toy_two/02_second.ipynb failed in cell In [" in results[1].error  # no heading
    count = int(re.search(r"In \[(\d+)\] \(if fail:\)", bad.error).group(1))
    executed = json.loads((bad.run_dir / "02_second.ipynb").read_text())
    failed = [c for c in executed["cells"] if c.get("execution_count") == count]
    assert len(failed) == 1 and "planted failure" in "".join(failed[0]["source"])
    assert "RuntimeError: planted failure" in bad.error
    assert latest.resolve() == good.run_dir.resolve()  # a failed run never replaces latest
    # the failing notebook is still written, executed up to the error
    assert (bad.run_dir / "02_second.ipynb").exists()
    status = read_json(bad.run_dir / "status.json")
    assert status["status"] == "failed" and status["failed_stage"] == "02_second"
    assert read_json(bad.run_dir / "results.json") == {"n_customers": 3, "share": 0.5, "total": 3}
    assert results[0].run_dir != results[1].run_dir


def test_list_without_cases_says_where_it_looked(tmp_path):
    """A library-only install (a workshop kit's wheel) has no case notebooks: `crmlab list`
    says where it looked and what to do, with exit code 1, not an empty line."""
    env = {**os.environ, "CRMLAB_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "crmlab", "list"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 1 and out.stdout == ""
    assert str(tmp_path / "notebooks" / "cases") in out.stderr and "CRMLAB_HOME" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_exit_codes_and_messages(toy_project):
    env = {**os.environ, "CRMLAB_HOME": str(toy_project)}
    cmd = [sys.executable, "-m", "crmlab"]
    out = subprocess.run([*cmd, "list"], env=env, capture_output=True, text=True)
    assert out.returncode == 0
    assert "toy" in out.stdout and "01_first -> 02_second" in out.stdout
    bad = subprocess.run([*cmd, "run", "toy", "-p", "n=x"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "not a valid int" in bad.stderr and "Traceback" not in bad.stderr
    fail = subprocess.run(
        [*cmd, "run", "toy", "-p", "fail=yes"], env=env, capture_output=True, text=True
    )
    assert fail.returncode == 1
    assert "FAILED" in fail.stdout and "planted failure" in fail.stdout
    unknown = subprocess.run([*cmd, "run", "nocase"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 2 and "Unknown case 'nocase'" in unknown.stderr


def test_report_of_latest_before_any_run_finished_says_what_is_there(toy_project, capsys):
    """A trial user's `crmlab report runs/<case>/latest` after a failed run read "Give
    reports/<case>/<run>", though a config's runs live in runs/."""
    from crmlab import cli

    case_dir = toy_project / "runs" / "toy"
    latest = case_dir / "latest"
    assert cli.main(["report", str(latest)]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {latest} does not exist: there is no run in {case_dir} yet. Run the "
        "case first (crmlab run --config CONFIG, or crmlab run CASE).\n"
    )
    [res] = runner.run_cases(["toy"], {"fail": "true"}, out_root=case_dir.parent, progress=False)
    assert not res.ok and not latest.exists()
    assert cli.main(["report", str(latest)]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {latest} does not exist: no run in {case_dir} has finished yet "
        f"(latest points at the newest run that finished). Its newest run, {res.run_dir.name}, "
        "failed in 02_second: fix what stopped it (its report.html says) and run the case "
        f"again. To report on the failed run, give {case_dir / res.run_dir.name}.\n"
    )
    assert cli.main(["report", str(case_dir / res.run_dir.name)]) == 0  # which it can
    capsys.readouterr()
    assert cli.main(["report", str(case_dir.parent)]) == 2  # the runs folder itself
    assert capsys.readouterr().err == (
        f"crmlab: error: {case_dir.parent} is not a run folder (no status.json) but holds runs: "
        f"give one of them, e.g. {case_dir / res.run_dir.name}.\n"
    )
    assert cli.main(["report", str(case_dir / "2026")]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {case_dir / '2026'} does not exist. Give a run folder: "
        f"{cli.RUN_FOLDERS}.\n"
    )


def test_run_names_never_collide():
    names = {runner.new_run_name() for _ in range(200)}
    assert len(names) == 200


# --------------------------------------------------------------------------------------------
# progress output: bars on a terminal, one plain line per stage in logs and CI
# --------------------------------------------------------------------------------------------
class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_mode_follows_the_terminal_and_the_environment(monkeypatch):
    monkeypatch.delenv(runner.PROGRESS_ENV, raising=False)
    assert runner.progress_mode(True, _Stream(True)) == "bars"
    assert runner.progress_mode(True, _Stream(False)) == "lines"
    assert runner.progress_mode(True, object()) == "lines"  # no isatty: not a terminal
    assert runner.progress_mode(False, _Stream(True)) == "off"
    assert runner.progress_mode("lines", _Stream(True)) == "lines"
    monkeypatch.setenv(runner.PROGRESS_ENV, "lines")
    assert runner.progress_mode(True, _Stream(True)) == "lines"
    assert runner.progress_mode(False, _Stream(True)) == "off"  # an explicit choice wins
    with pytest.raises(ValueError, match="progress must be one of"):
        runner.progress_mode("dots")


_STAGE_LINE = re.compile(r"^(toy|toy_two) +(01_first|02_second) +(ok|failed) +\d+\.\ds$")


def test_parallel_runs_print_one_plain_line_per_stage_when_not_a_terminal(toy_project, capfd):
    """What CI sees with --jobs 2: stdout is a pipe, the cases run in spawned processes."""
    results = runner.run_cases(["toy", "toy_two"], {"fail": "true"}, jobs=2)
    out = capfd.readouterr().out
    assert "\x1b" not in out and "\r" not in out  # no tqdm cursor movements or redraws
    lines = out.splitlines()
    assert all(_STAGE_LINE.match(line) for line in lines), lines
    assert sorted(lines_of := [line.split()[:3] for line in lines]) == [
        ["toy", "01_first", "ok"],
        ["toy", "02_second", "failed"],
        ["toy_two", "01_first", "ok"],
        ["toy_two", "02_second", "failed"],
    ], lines_of
    for r in results:
        assert list(r.stage_seconds) == ["01_first", "02_second"]
        assert 0 < sum(r.stage_seconds.values()) <= r.seconds


def test_bars_on_a_terminal_and_nothing_when_off(toy_project, capfd):
    [res] = runner.run_cases(["toy"], {}, progress="bars")
    captured = capfd.readouterr()
    assert res.ok and "[toy] stage 1/2: 01_first" in captured.out
    assert "toy/01_first" in captured.err  # the tqdm bar (it writes to stderr)
    assert not _STAGE_LINE.search(captured.out)
    runner.run_cases(["toy"], {}, progress=False)
    captured = capfd.readouterr()
    assert captured.out == "" and "toy/01_first" not in captured.err


def test_a_relative_data_dir_is_read_from_the_callers_folder(tmp_path, monkeypatch):
    """The kernels run in the case folder; a relative ``-p data_dir=...`` still means the
    folder relative to where the user typed the command."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "client" / "export").mkdir(parents=True)
    [(_, params)] = runner.plan(["retail_satisfaction"], {"data_dir": "client/export"})
    assert params["data_dir"] == str(tmp_path / "client" / "export")
    [(_, params)] = runner.plan(["retail_satisfaction"], {})
    assert not params.get("data_dir")  # empty: the shipped synthetic data


def test_a_data_dir_that_does_not_exist_stops_before_any_kernel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError) as e:
        runner.plan(["retail_satisfaction"], {"data_dir": "client/exprt"})
    assert "data_dir='client/exprt' is not a folder" in str(e.value)
    assert str(tmp_path / "client" / "exprt") in str(e.value)


def test_summary_names_the_folder_the_runs_went_to(tmp_path, monkeypatch):
    """The closing lines point at ``--out``, not at reports/ (where nothing was written)."""
    import io
    from pathlib import Path

    def result(root: Path, case: str) -> runner.RunResult:
        return runner.RunResult(case, root / case / "20261206T000000Z-abc123", ok=True)

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    runner.print_summary([result(tmp_path / "runs", "retail_satisfaction")], out)
    assert "runs/<case>/latest is the newest" in out.getvalue()
    assert "runs/index.html lists every run" in out.getvalue()
    elsewhere = tmp_path.parent / "other-place"
    out = io.StringIO()
    runner.print_summary([result(elsewhere, "a"), result(elsewhere, "b")], out)
    assert f"{elsewhere.resolve()}/index.html lists every run" in out.getvalue()
    out = io.StringIO()
    runner.print_summary([result(tmp_path / "reports", "a"), result(elsewhere, "b")], out)
    assert "reports/index.html lists every run" in out.getvalue()


def test_shares_and_rule_sets_are_checked_before_any_kernel():
    """`target: 90` meant as 90%, alpha 0, an unknown RFM rule set: refused by the parameter
    check (config or -p) instead of failing a stage half-way."""
    from crmlab.cases import get_case
    from crmlab.params import case_parameters, check

    spec = case_parameters(get_case("retail_satisfaction"))
    values = {"target": "90", "alpha": "0", "power": "0.8", "rfm_ruleset": "rfm_ten", "n_boot": "5"}
    typed, problems = check(spec, values)
    assert problems == [
        ("target", "target=90.0 is a share, between 0 and 1: write 0.9 for 90%"),
        ("alpha", "alpha=0.0 is a share, strictly between 0 and 1"),
        ("rfm_ruleset", "rfm_ruleset='rfm_ten' is not one of rf_ten_segment, rfm_three_score"),
    ]
    assert typed["power"] == 0.8 and typed["n_boot"] == 5
    # `crmlab params` names the allowed values
    assert spec["rfm_ruleset"].describe().endswith("[one of: rf_ten_segment, rfm_three_score]")
    ok = {"target": "1", "rfm_ruleset": "rfm_three_score"}  # the ends of a closed range are in
    assert check(spec, ok)[1] == []
    with pytest.raises(ParameterError, match="write 0.9 for 90%"):
        runner.plan(["retail_satisfaction"], {"target": "90"})


def test_plan_start_must_be_a_month():
    from crmlab.cases import get_case
    from crmlab.params import case_parameters, check

    spec = case_parameters(get_case("retail_satisfaction"))
    assert (
        check(spec, {"plan_start": "2027-01"})[1] == [] and check(spec, {"plan_start": ""})[1] == []
    )
    for bad in ("2027-1", "2027-13", "January"):
        [(name, message)] = check(spec, {"plan_start": bad})[1]
        assert name == "plan_start" and "write it as YYYY-MM" in message


def test_currency_must_be_a_code_of_three_capital_letters():
    """The reports name the currency in headers and the Chinese report turns known codes into
    words: "港币" or "hkd" is refused before any kernel starts, with what to write."""
    from crmlab.cases import get_case
    from crmlab.params import case_parameters, check

    for case in ("retail_satisfaction", "finance_churn"):
        spec = case_parameters(get_case(case))
        assert (
            check(spec, {"currency": "HKD"})[1] == [] and check(spec, {"currency": "RMB"})[1] == []
        )
        for bad in ("港币", "hkd", "HK$", "EURO", ""):
            [(name, message)] = check(spec, {"currency": bad})[1]
            assert name == "currency" and "three capital letters" in message, (case, bad)
    with pytest.raises(ParameterError, match="not a currency code"):
        runner.plan(["finance_churn"], {"currency": "港币"})
