"""Run cases headlessly: each case's stage notebooks in order, with papermill.

A run of case ``C`` is built in ``<out>/C/.<stamp>.running/`` and renamed to ``<out>/C/<stamp>/``
when it ends, successful or not, so no reader ever sees a half-written run. It holds the executed
notebooks, ``results.json`` (the recorded figures), ``html/<stage>.html`` (no code) and
``status.json``. Only a successful run moves the ``latest`` link.

One kernel serves all stages of a case (its namespace is reset between stages), so the heavy
imports are paid once per case, not once per notebook. Cases run in parallel with ``jobs > 1``.

Progress (:func:`progress_mode`): on a terminal, a tqdm bar per running stage (one line per case
with ``--jobs``); otherwise - a log file, CI - one plain line per finished stage (case, stage,
status, seconds), with no cursor-movement escape sequences.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from crmlab import __version__, atomic, paths
from crmlab.cases import Case, get_case
from crmlab.params import case_parameters, validate
from crmlab.results import collect_results

KERNEL_NAME = "python3"
INPUT_SUBDIR = "input"  # canonical input of a config run (crmlab.ingest)
PROGRESS_MODES = ("bars", "lines", "off")
PROGRESS_ENV = "CRMLAB_PROGRESS"  # bars | lines | off: overrides the automatic choice


def progress_mode(progress: bool | str = True, stream=None) -> str:
    """How a run reports its progress: ``"bars"`` (a tqdm bar per stage, for a terminal),
    ``"lines"`` (one plain line per finished stage, for logs and CI) or ``"off"``.

    ``progress`` may name a mode; ``False`` is ``"off"``; ``True`` picks ``"bars"`` when
    ``stream`` (default ``sys.stdout``) is a terminal and ``"lines"`` otherwise, unless the
    environment variable ``CRMLAB_PROGRESS`` names a mode.
    """
    if progress is False or progress is None:
        return "off"
    if isinstance(progress, str):
        if progress not in PROGRESS_MODES:
            raise ValueError(f"progress must be one of {PROGRESS_MODES}, got {progress!r}.")
        return progress
    forced = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if forced in PROGRESS_MODES:
        return forced
    stream = sys.stdout if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a file
        tty = False
    return "bars" if tty else "lines"


def stage_line(case: str, stage: str, status: str, seconds: float) -> str:
    """The plain progress line of a finished stage: ``"finance_churn  02_data  ok  3.2s"``."""
    return f"{case:<22} {stage:<14} {status:<6} {seconds:6.1f}s"


@dataclass
class RunResult:
    case: str
    run_dir: Path
    ok: bool
    stages_done: list[str] = field(default_factory=list)
    failed_stage: str | None = None
    error: str | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        if self.ok:
            line = f"  OK      {self.case:<22} {self.seconds:6.1f}s  {self.run_dir}"
            return "".join([line, *(f"\n          note: {n}" for n in self.notes)])
        return f"  FAILED  {self.case:<22} {self.seconds:6.1f}s  {self.run_dir}\n          {self.error}"


def new_run_name() -> str:
    """A run directory name that sorts by time and never collides (random suffix)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def plan(case_names: list[str], user_params: dict[str, Any]) -> list[tuple[Case, dict[str, Any]]]:
    """Resolve cases and validate parameters for each, before any kernel starts.

    A parameter applies to every selected case that declares it; a name no selected case declares
    is an error, as is a wrong type or a missing required value.
    """
    from crmlab.errors import ParameterError

    cases = [get_case(n) for n in case_names]
    specs = {c.name: case_parameters(c) for c in cases}
    unknown = [n for n in user_params if not any(n in s for s in specs.values())]
    planned = []
    errors = []
    for case in cases:
        spec = specs[case.name]
        mine = {k: v for k, v in user_params.items() if k in spec or k in unknown}
        try:
            params = validate(spec, mine, case.name)
        except ParameterError as e:
            errors.append(str(e))
            continue
        params = _absolute_data_dir(params)
        if params.get("data_dir") and not Path(params["data_dir"]).is_dir():
            given = user_params.get("data_dir", params["data_dir"])
            errors.append(
                f"Case '{case.name}': data_dir={given!r} is not a folder ({params['data_dir']} "
                "does not exist). Give the folder that holds the case's CSV/Parquet files, or "
                "leave data_dir out for the shipped synthetic data."
            )
            continue
        if params.get("data_dir"):
            misnamed = _misnamed_sources(case.name, params["data_dir"])
            misnamed = misnamed or _missing_required_columns(case.name, params["data_dir"])
            if misnamed:
                errors.append(f"Case '{case.name}': " + " ".join(misnamed))
                continue
        planned.append((case, params))
    if errors:
        raise ParameterError("\n".join(errors))
    return planned


def _misnamed_sources(case: str, data_dir: str) -> list[str]:
    """The errors of :func:`crmlab.sources.source_path` for the case's sources in ``data_dir``
    (a file named ``Transactions.CSV``), found before any kernel starts."""
    from crmlab import sources
    from crmlab.errors import DataError

    problems = []
    for stem in sources.CASE_SOURCES.get(case, ()):
        try:
            sources.source_path(data_dir, stem)
        except DataError as e:
            problems.append(str(e))
    return problems


def _file_columns(path: Path) -> list[str]:
    """The column names of a source file (its header; no rows are read)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import csv

    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        return list(next(csv.reader(f), []))  # as pandas reads them (not trimmed)


def _missing_required_columns(case: str, data_dir: str) -> list[str]:
    """For each source file of ``case`` in ``data_dir``: the columns the case needs
    (:meth:`crmlab.schemas.SourceSchema.required_names`) that its header lacks, found before
    any kernel starts (else a stage fails half-way, naming the table but not the file)."""
    from crmlab import schemas, sources

    problems = []
    for stem, spec in schemas.CASE_SCHEMAS.get(case, {}).items():
        path = sources.source_path(data_dir, stem)
        if path is None:
            if spec.required:
                problems.append(
                    f"{data_dir}: no {stem} file ({stem}.csv or {stem}.parquet): the {case} "
                    f"case cannot run without it ({spec.help})."
                )
            continue
        try:
            columns = _file_columns(path)
        except (OSError, ValueError):  # unreadable: the stage that reads it says why
            continue
        missing = sorted(spec.required_names(columns) - set(columns))
        if missing:
            problems.append(
                f"{path}: required column(s) {missing} missing (the file has: "
                f"{', '.join(columns)}). Add them with these names, or map the export's own "
                "column names through a case config (`crmlab new`, docs/config.md)."
            )
    return problems


def _absolute_data_dir(params: dict[str, Any]) -> dict[str, Any]:
    """``data_dir`` relative to the caller's working folder (the kernels run in the case
    folder, so a relative path would otherwise be read from there)."""
    if params.get("data_dir"):
        return {**params, "data_dir": str(Path(params["data_dir"]).expanduser().resolve())}
    return params


def start_kernel(cwd: Path):
    """Start a Python kernel in ``cwd`` on IPC sockets (no open TCP port); returns
    ``(kernel_manager, socket_folder)`` - shut the kernel down and remove the folder when done.

    Socket paths must stay short (107 bytes), so they live in a fresh folder under /tmp.
    History is off: the runner reuses one kernel for several notebooks.
    """
    from jupyter_client.manager import KernelManager

    sockets = Path(tempfile.mkdtemp(prefix="crmlab-"))
    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(sockets / "k"))
    km.start_kernel(cwd=str(cwd), extra_arguments=["--HistoryManager.enabled=False"])
    return km, sockets


def _reset_namespace(km) -> None:
    """Clear the user namespace of a kernel between stages (imported modules stay cached)."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(
            "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n"
            "get_ipython().execution_count = 1",
            timeout=60,
            store_history=False,
        )
    finally:
        kc.stop_channels()


def _stage_params(case: Case, stage: str, params: dict[str, Any], run_dir: Path) -> dict:
    from crmlab.params import notebook_parameters

    declared = notebook_parameters(case.folder / f"{stage}.ipynb")
    out = {k: v for k, v in params.items() if k in declared}
    if "run_dir" in declared:
        out["run_dir"] = str(run_dir)
    return out


def _failed_cell(exc, executed: Path | None = None) -> str:
    """Where a stage failed, as a reader finds it in the run's notebook or its HTML page: the
    section (the last markdown heading above the cell in the ``executed`` notebook, when
    there is one), the cell's execution count (``In [7]``) and its first line of code."""
    count = getattr(exc, "exec_count", None)
    lines = [ln.strip() for ln in str(getattr(exc, "source", "") or "").splitlines()]
    first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
    if len(first) > 60:
        first = first[:57] + "..."
    where = f"cell In [{count}]" if count else "a cell"
    where = f"{where} ({first})" if first else where
    section = _section_of(executed, getattr(exc, "cell_index", None))
    return f'section "{section}", {where}' if section else where


def _section_of(executed: Path | None, cell_index: int | None) -> str | None:
    """The text of the last markdown heading (``## Key drivers``) at or above cell
    ``cell_index`` of the notebook ``executed``; None without one (or without the notebook)."""
    if executed is None or cell_index is None or not Path(executed).exists():
        return None
    import nbformat

    try:
        cells = nbformat.read(str(executed), as_version=4).cells
    except Exception:  # noqa: BLE001 - an unreadable notebook only loses the section name
        return None
    from crmlab.export import last_heading

    for cell in reversed(cells[: cell_index + 1]):
        if cell.cell_type == "markdown" and last_heading(cell.source):
            return last_heading(cell.source)
    return None


def _describe_failure(
    case: str, stage: str, exc: BaseException, executed: Path | None = None
) -> str:
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        where = _failed_cell(exc, executed)
        return f"{case}/{stage}.ipynb failed in {where}: {ename}: {exc.evalue}"
    return f"{case}/{stage}.ipynb failed: {type(exc).__name__}: {exc}"


def run_case(
    case: Case,
    params: dict[str, Any],
    out_root: Path | None = None,
    progress: bool | str = True,
    position: int = 0,
    prepared=None,
) -> RunResult:
    """Execute one case's stages in order; returns a :class:`RunResult` (never raises on a
    notebook failure: the failure is in the result and in ``status.json``).

    ``progress``: see :func:`progress_mode`; ``position`` is the bar's line with parallel cases.

    ``prepared`` (a :class:`crmlab.ingest.Prepared`, from a config run) is written into the run's
    ``input/`` folder before the kernel starts, and the stages read it as ``data_dir``.
    """
    import papermill

    started = time.perf_counter()
    mode = progress_mode(progress)
    out_root = Path(out_root) if out_root else paths.reports_dir()
    case_dir = out_root / case.name
    case_dir.mkdir(parents=True, exist_ok=True)
    name = new_run_name()
    work = case_dir / f".{name}.running"
    work.mkdir()
    final = case_dir / name
    result = RunResult(case.name, final, ok=False)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    from crmlab.synthetic import GENERATORS, ensure_synthetic

    shown_params, extra = params, {}
    if prepared is not None:
        params, shown_params, extra = _write_input(prepared, params, work, final, result)
        if result.error is not None:
            _finish_run(case, shown_params, work, result, started_at, extra)
            work.rename(final)
            result.seconds = time.perf_counter() - started
            return result
    elif not params.get("data_dir") and case.name in GENERATORS:
        ensure_synthetic(case.name)  # once here, not racing inside the stages
    # the action list's personal-data check needs the raw inputs' personal values: read them
    # while the stages run (a background thread; the kernel is another process)
    from crmlab.actions import personal_data_later
    from crmlab.rundir import input_folder

    inputs = input_folder(case.name, params.get("data_dir"))
    personal = personal_data_later(case.name, inputs)
    fingerprint = _fingerprint_later(inputs, prepared)

    km, sockets = start_kernel(case.folder)
    try:
        for i, stage in enumerate(case.stages):
            if mode == "bars":
                print(f"[{case.name}] stage {i + 1}/{len(case.stages)}: {stage}", flush=True)
            stage_started = time.perf_counter()
            if i:
                _reset_namespace(km)
            out_nb = work / f"{stage}.ipynb"
            try:
                papermill.execute_notebook(
                    str(case.folder / f"{stage}.ipynb"),
                    str(out_nb),
                    parameters=_stage_params(case, stage, params, work),
                    kernel_name=KERNEL_NAME,
                    km=km,
                    progress_bar=(
                        {"desc": f"{case.name}/{stage}", "position": position, "leave": False}
                        if mode == "bars"
                        else False
                    ),
                    log_output=False,
                    # saved once at the end (or at the error), not after every cell
                    request_save_on_cell_execute=False,
                )
            except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
                result.failed_stage = stage
                result.error = _describe_failure(case.name, stage, exc, out_nb)
                if getattr(exc, "ename", None) is None:
                    result.error += "\n" + traceback.format_exc(limit=3)
                _stage_done(result, mode, stage, "failed", stage_started)
                break
            result.stages_done.append(stage)
            _stage_done(result, mode, stage, "ok", stage_started)
        else:
            result.ok = True
    finally:
        km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)

    extra = {**(extra or {}), **_recorded_fingerprint(fingerprint)}
    _finish_run(case, shown_params, work, result, started_at, extra)
    work.rename(final)
    lang = prepared.cfg.report_lang if prepared is not None else "en"
    _write_deliverables(final, result, lang, personal)
    if result.ok:
        _point_latest(case_dir, final)
    _write_index(out_root)
    result.seconds = time.perf_counter() - started
    return result


def _fingerprint_later(folder: Path, prepared=None):
    """The SHA-256 fingerprint of the run's input (:func:`crmlab.report.data_fingerprint`),
    computed in a background thread while the stages run: the data folder's files, or for a
    config run the client's export files the import reads (:func:`crmlab.ingest.input_files`:
    the files the config names and those its ``query:`` sources read)."""
    from concurrent.futures import ThreadPoolExecutor

    from crmlab import ingest, report

    def compute():
        if prepared is None:
            return report.data_fingerprint(folder)
        return report.files_fingerprint(ingest.input_files(prepared.cfg))

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmlab-fingerprint")
    future = pool.submit(compute)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


def _recorded_fingerprint(future) -> dict:
    """``{"data_fingerprint": ...}`` for status.json, or nothing when it could not be computed
    (the report then computes one itself and says so)."""
    from crmlab.errors import CrmlabError

    try:
        fp = future.result()
    except (OSError, CrmlabError):
        return {}
    return {"data_fingerprint": fp} if fp.get("sha256") else {}


def _stage_done(result: RunResult, mode: str, stage: str, status: str, since: float) -> None:
    seconds = time.perf_counter() - since
    result.stage_seconds[stage] = seconds
    if mode == "lines":  # one write per line, so parallel cases never interleave within a line
        sys.stdout.write(stage_line(result.case, stage, status, seconds) + "\n")
        sys.stdout.flush()


def _write_deliverables(run_dir: Path, result: RunResult, lang: str, personal=None) -> None:
    """The client deliverables of a finished run: ``report.html`` (also for a failed run: it
    says which stage failed) and, after a successful run, the action list (``personal``: a
    future of the run's :class:`crmlab.actions.PersonalData`, or None to read it here). A
    problem here is recorded in ``status.json`` and the summary, and does not fail the analysis
    itself."""
    import json

    from crmlab.actions import write_action_list
    from crmlab.report import build_report

    problems = []
    # report.html is the client report in the run's language (report.lang in a config)
    steps = [("report", lambda: build_report(run_dir, lang=lang, out=run_dir / "report.html"))]
    if result.ok:
        steps.append(
            (
                "action list",
                lambda: write_action_list(
                    run_dir,
                    lang=lang,
                    personal=personal.result() if personal else None,
                    name="actions",
                ),
            )
        )
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported, the run's analysis stands
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    if result.ok:
        late = past_plan_note(run_dir, dt.date.today())
        if late:
            result.notes.append(late)
    if problems:
        status_file = run_dir / "status.json"
        status = json.loads(status_file.read_text(encoding="utf-8"))
        status["deliverables_error"] = problems
        atomic.write_json(status_file, status)
        result.error = (
            (result.error or "") + "\n          deliverables: " + "; ".join(problems)
        ).strip()


def past_plan_note(run_dir: Path, today: dt.date) -> str | None:
    """A note when the run's action list has a first due date before ``today``
    (:func:`crmlab.actions.past_due`): the plan starts with the data's last month unless
    ``plan_start`` says otherwise. None when its dates are current, or the run has no list."""
    from crmlab.actions import past_due
    from crmlab.rundir import Run

    try:
        past = past_due(Run(Path(run_dir)), today)
    except (OSError, ValueError):
        return None
    if past is None:
        return None
    month, first, _ = past
    return (
        f"the action plan starts in {month}, so its first due date ({first:%Y-%m-%d}) is "
        f"already past; to start it this month run again with -p plan_start={today:%Y-%m} "
        "(in a config: plan_start under params:)."
    )


def _write_index(out_root: Path) -> None:
    """Refresh ``<out_root>/index.html`` (every run, linked); never fails a run."""
    from crmlab.report import build_index

    try:
        build_index(out_root)
    except Exception as exc:  # noqa: BLE001
        print(f"crmlab: could not refresh {out_root / 'index.html'}: {exc}", file=sys.stderr)


def _write_input(prepared, params: dict, work: Path, final: Path, result: RunResult):
    """Write a config run's canonical input into ``work/input``; returns (params for the stages,
    params for status.json, extra status fields). A write failure is put in ``result``."""
    from crmlab.errors import CrmlabError
    from crmlab.ingest import REPORT_NAME, write

    try:
        write(prepared, work / INPUT_SUBDIR)
    except (CrmlabError, OSError) as exc:
        result.failed_stage = INPUT_SUBDIR
        result.error = f"{prepared.cfg.case}: writing the imported data failed: {exc}"
    run_params = {**params, "data_dir": str(work / INPUT_SUBDIR)}
    shown = {**params, "data_dir": str(final / INPUT_SUBDIR)}
    extra = {
        "config": str(prepared.cfg.path),
        "input_report": f"{INPUT_SUBDIR}/{REPORT_NAME}",
    }
    if prepared.cfg.title:
        extra["title"] = prepared.cfg.title
    if prepared.cfg.client:
        extra["client"] = prepared.cfg.client
    return run_params, shown, extra


def _finish_run(
    case: Case,
    params: dict,
    work: Path,
    result: RunResult,
    started_at: str,
    extra: dict | None = None,
) -> None:
    from crmlab.export import notebook_to_html

    atomic.write_json(work / "results.json", collect_results(work, case.stages))
    for stage in [*result.stages_done, *([result.failed_stage] if result.failed_stage else [])]:
        nb = work / f"{stage}.ipynb"
        if nb.exists():
            notebook_to_html(nb, work / "html" / f"{stage}.html")
    status = {
        "case": case.name,
        "title": case.title,
        "status": "ok" if result.ok else "failed",
        "stages_done": result.stages_done,
        "failed_stage": result.failed_stage,
        "error": result.error,
        "parameters": params,
        "started": started_at,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "crmlab_version": __version__,
        **(extra or {}),
    }
    atomic.write_json(work / "status.json", status)


def _point_latest(case_dir: Path, final: Path) -> None:
    """Atomically point ``<case_dir>/latest`` at ``final`` (a relative symlink)."""
    tmp = case_dir / f".latest.{secrets.token_hex(3)}"
    os.symlink(final.name, tmp)
    os.replace(tmp, case_dir / "latest")


def _run_case_job(case_name: str, params: dict, out_root, position: int, mode: str) -> RunResult:
    return run_case(get_case(case_name), params, out_root, progress=mode, position=position)


def run_cases(
    case_names: list[str],
    user_params: dict[str, Any] | None = None,
    out_root: str | Path | None = None,
    jobs: int = 1,
    progress: bool | str = True,
) -> list[RunResult]:
    """Validate parameters for every case, then run the cases (in parallel with ``jobs > 1``).

    ``progress``: see :func:`progress_mode` (decided here, from this process's stdout, and
    passed to the worker processes)."""
    planned = plan(case_names, user_params or {})
    out = Path(out_root).resolve() if out_root else None
    mode = progress_mode(progress)
    if jobs <= 1 or len(planned) == 1:
        return [run_case(c, p, out, progress=mode) for c, p in planned]
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [
            pool.submit(_run_case_job, c.name, p, out, i, mode) for i, (c, p) in enumerate(planned)
        ]
        return [f.result() for f in futures]


def plan_config(config_path: str | Path, user_params: dict[str, Any] | None = None):
    """Check a config run before any kernel starts: the config file, the parameters (config
    ``params:`` overridden by ``user_params``), then the client's data (read, mapped, validated,
    coerced, pseudonymized in memory). Returns ``(case, params, prepared)``.

    Raises :class:`~crmlab.errors.ConfigError`, :class:`~crmlab.errors.ParameterError` or
    :class:`crmlab.ingest.IngestError` (with the table of every problem) - nothing is written.
    """
    from crmlab import config, ingest
    from crmlab.errors import ParameterError

    cfg = config.load_config(config_path)
    user_params = dict(user_params or {})
    for name in config.RUNNER_SET:
        if name in user_params:
            raise ParameterError(
                f"'{name}' is set by the runner in a config run: the data come from the config's "
                "data: section (and runs go under --out)."
            )
    [(case, params)] = plan([cfg.case], {**cfg.params, **user_params})
    prepared = ingest.prepare(cfg)
    return case, params, prepared


CONFIG_RUNS_SUBDIR = "runs"
"""Where a config run goes without ``--out``: this folder beside the config file."""


def run_config(
    config_path: str | Path,
    user_params: dict[str, Any] | None = None,
    out_root: str | Path | None = None,
    progress: bool | str = True,
) -> RunResult:
    """Run the case of a config file on the client's data (see :func:`plan_config`).

    The canonical input is written into ``<run>/input/`` (with ``ingest_report.json``) and the
    stages read it; the client's files are only read. Runs go to ``out_root``, by default
    ``runs/`` beside the config file (``<config folder>/runs/<case>/<run>``, git-ignored by
    ``crmlab new``): a client's runs stay with the client's folder, apart from the demo runs.
    """
    case, params, prepared = plan_config(config_path, user_params)
    progress = progress_mode(progress)
    if progress != "off":
        print(prepared.summary(), flush=True)
        n_warn = len(prepared.problems)
        if n_warn:
            print(
                f"{n_warn} warning(s) about the data; see input/ingest_report.json in the run "
                "folder (named when the run ends)",
                flush=True,
            )
    out = Path(out_root) if out_root else prepared.cfg.path.parent / CONFIG_RUNS_SUBDIR
    return run_case(case, params, out.resolve(), progress=progress, prepared=prepared)


def print_summary(results: list[RunResult], stream=None) -> None:
    """The closing lines of a run: one line per case, then where the deliverables are.
    ``stream`` defaults to the current ``sys.stdout`` (read at call time, not import time)."""
    stream = sys.stdout if stream is None else stream
    print("\nSummary:", file=stream)
    for r in results:
        print(r.summary_line(), file=stream)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} case(s) failed.", file=stream)
    else:
        root = _shown_root(results)
        print(
            "Each run folder holds report.html (the client report), actions.xlsx/.csv, "
            f"results.json and html/ (each stage without code);\n{root}/<case>/latest is the "
            f"newest successful run and {root}/index.html lists every run.",
            file=stream,
        )


def _shown_root(results: list[RunResult]) -> str:
    """The folder the runs went to (``--out``; a run folder is ``<root>/<case>/<run>``), relative
    to the current directory when inside it; ``reports`` when the runs disagree or none ran."""
    roots = {Path(r.run_dir).resolve().parent.parent for r in results if r.run_dir}
    if len(roots) != 1:
        return "reports"
    return paths.from_cwd(roots.pop())
