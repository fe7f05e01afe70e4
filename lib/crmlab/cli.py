"""The ``crmlab`` command line (also ``python -m crmlab``).

Imports stay inside the commands so that ``crmlab list`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from crmlab.errors import CrmlabError
from crmlab.rundir import Run, runs_in


def _cmd_list(args) -> int:
    from crmlab import paths
    from crmlab.cases import all_cases

    found = all_cases()
    if not found:  # e.g. a workshop kit's wheel: the library without the project's notebooks
        print(
            f"crmlab: no cases in {paths.cases_dir()}: the cases are the notebook folders "
            "notebooks/cases/<case>/ of a crmlab project, and this installation has none there. "
            "Run crmlab from a project checkout or set CRMLAB_HOME to one; a workshop kit's "
            "notebooks are opened in JupyterLab instead.",
            file=sys.stderr,
        )
        return 1
    for case in found:
        print(f"{case.name:<22} {' -> '.join(case.stages)}   {case.title}")
    return 0


def _cmd_params(args) -> int:
    from crmlab.cases import get_case
    from crmlab.params import RUNNER_PARAMETERS, case_parameters

    for p in case_parameters(get_case(args.case)).values():
        if p.name not in RUNNER_PARAMETERS:
            print(f"{p.describe()}   [{', '.join(p.stages)}]")
    return 0


def _cmd_run(args) -> int:
    from crmlab.cases import all_cases
    from crmlab.params import parse_assignments
    from crmlab.runner import print_summary, run_cases, run_config

    user_params = parse_assignments(args.param or [])
    if args.config:
        if args.cases or args.all:
            raise CrmlabError(
                "--config runs the case named in the config file; do not name cases or use --all."
            )
        results = [run_config(args.config, user_params, out_root=args.out)]
        print_summary(results)
        return 0 if all(r.ok for r in results) else 1
    cases = list(args.cases)
    if args.all:
        cases = [c.name for c in all_cases()]
    if not cases:
        raise CrmlabError("Name a case (see `crmlab list`), use --all, or give --config FILE.")
    _warn_demo_key(user_params)
    results = run_cases(cases, user_params, out_root=args.out, jobs=args.jobs)
    print_summary(results)
    return 0 if all(r.ok for r in results) else 1


def _warn_demo_key(params) -> None:
    """Warn when ``-p data_dir=`` points at data of its own and no pseudonymization key is set:
    the stages then pseudonymize with the public demo key (fine for generated data, but anyone
    with the code could re-identify a client's customers from the deliverables)."""
    from crmlab.privacy import KEY_ENV_VAR

    data = str(params.get("data_dir") or "")
    if not data or os.environ.get(KEY_ENV_VAR) or not Path(data).expanduser().is_dir():
        return  # (a data_dir that is not a folder is an error of its own, before any kernel)
    print(
        f"crmlab: warning: ${KEY_ENV_VAR} is not set, so the customer ids of {data} are "
        "pseudonymized with the public demo key: anyone with this code can re-identify them. "
        f"For a client's data set ${KEY_ENV_VAR} to a secret of 16+ characters, or use "
        "`crmlab run --config` (which requires it).",
        file=sys.stderr,
    )


def _cmd_validate(args) -> int:
    from crmlab import config, ingest, schemas
    from crmlab.params import parse_assignments
    from crmlab.runner import plan

    cfg = config.load_config(args.config)
    plan([cfg.case], {**cfg.params, **parse_assignments(args.param or [])})
    prepared = ingest.load(cfg)
    print(prepared.summary())
    key_problem = None
    try:
        _, key_source = config.pseudonym_key(cfg)
        print(f"Pseudonym key: from {key_source}.")
    except CrmlabError as e:
        key_problem = str(e)
    if args.verbose and prepared.notes:
        print("\nConversions:")
        print("\n".join(f"  - {n}" for n in prepared.notes))
    elif prepared.notes:
        print(f"{len(prepared.notes)} conversion(s) will be applied (--verbose lists them).")
    print()
    print(schemas.format_problems(prepared.problems))
    if key_problem:
        print(f"\nerror: {key_problem}", file=sys.stderr)
    if prepared.ok and not key_problem:
        print(f"\nOK: `crmlab run --config {args.config}` can run.")
        return 0
    n = len(prepared.errors) + (1 if key_problem else 0)
    print(f"\n{n} problem(s) block the run.", file=sys.stderr)
    return 2


def _cmd_new(args) -> int:
    from crmlab import paths
    from crmlab.config import write_starter
    from crmlab.privacy import KEY_ENV_VAR

    example = None
    if args.example is not None:
        from crmlab.synth.client_exports import example_for

        example = example_for(args.case, args.example)
    parent = Path(args.dir) if args.dir else Path.cwd()
    folder = write_starter(args.name, args.case, parent, example=example)
    print(f"created {folder}/")
    if example:
        print("  config.yaml  - the example's case config: how each export maps to the case")
        print("  exports/     - synthetic exports of that shape (no real customers)")
    else:
        print(
            "  config.yaml  - edit: file paths under data:, the client's column names under columns:"
        )
        print("  exports/     - put the client's files here (git-ignored; crmlab only reads them)")
    if (folder / "secret.key").exists():
        print("  secret.key   - the pseudonymization key (git-ignored; keep it like a password)")
    else:
        print(
            f"  (no secret.key: ${KEY_ENV_VAR} is set and is this project's pseudonymization key)"
        )
    config = paths.from_cwd(folder / "config.yaml")  # as typed from here: acme/config.yaml
    print(f"next: crmlab validate --config {config}")
    if example:
        print(f"then: crmlab run --config {config}")
    return 0


def _cmd_generate(args) -> int:
    from crmlab import paths
    from crmlab.synthetic import GENERATORS, generate

    cases = list(GENERATORS) if args.all else args.cases
    if not cases:
        raise CrmlabError(f"Name a case ({', '.join(GENERATORS)}) or use --all.")
    sizes = {}
    if args.customers:
        sizes["n_customers"] = args.customers
    if args.format:
        sizes["fmt"] = args.format
    for case in cases:
        out = Path(args.out) / case if args.out else None
        if args.if_missing and ((out or paths.synthetic_dir(case)) / "truth.json").exists():
            print(f"{case}: synthetic data already there (--if-missing)")
            continue
        generate(case, out, seed=args.seed, **sizes)
        print(f"generated {case} (seed {args.seed}) -> {out or 'data/synthetic/' + case}")
    return 0


RUN_FOLDERS = (
    "<runs>/<case>/<run> or <runs>/<case>/latest, where <runs> is the runs/ folder beside the "
    "config (crmlab run --config) or reports/ (crmlab run CASE)"
)
"""What a run folder argument looks like, for the messages of :func:`_not_a_run`."""


def _not_a_run(run: Path, need_ok: bool = False) -> str:
    """Why ``run`` is not a run folder, and what to give instead. ``need_ok``: the command
    needs a successful run (an action list), so a failed run is no alternative."""
    if run.name == "latest" and not run.exists():
        case_dir = run.parent
        runs = runs_in(case_dir)
        if not runs:
            return (
                f"{run} does not exist: there is no run in {case_dir} yet. Run the case first "
                "(crmlab run --config CONFIG, or crmlab run CASE)."
            )
        finished = [r for r in runs if r.ok]
        if finished:  # (a copied folder without its link)
            return (
                f"{run} does not exist; the newest run in {case_dir} that finished is "
                f"{case_dir / finished[-1].name}."
            )
        newest = runs[-1]
        stage = newest.failed_stage
        text = (
            f"{run} does not exist: no run in {case_dir} has finished yet (latest points at "
            f"the newest run that finished). Its newest run, {newest.name}, failed"
            f"{f' in {stage}' if stage else ''}: fix what stopped it (its report.html says) "
            "and run the case again"
        )
        if need_ok:
            return text + "; the action list comes from a run that finished."
        return text + f". To report on the failed run, give {case_dir / newest.name}."
    if not run.exists():
        return f"{run} does not exist. Give a run folder: {RUN_FOLDERS}."
    if not run.is_dir():
        return f"{run} is a file, not a run folder. Give a run folder: {RUN_FOLDERS}."
    cases = [run] if runs_in(run) else [d for d in sorted(run.iterdir()) if runs_in(d)]
    if cases:
        case_dir = cases[-1]
        latest = case_dir / "latest"
        newest = case_dir / runs_in(case_dir)[-1].name
        example = latest if (latest / "status.json").is_file() else newest
        return (
            f"{run} is not a run folder (no status.json) but holds runs: give one of them, "
            f"e.g. {example}."
        )
    return f"{run} is not a run folder (no status.json). Give a run folder: {RUN_FOLDERS}."


def _run_dir_arg(path: str, need_ok: bool = False) -> Path:
    """``path`` as a run folder, or a :class:`CrmlabError` saying what is there and what to
    give; ``need_ok``: also when the run failed (it wrote no action list)."""
    run = Path(path)
    if not (run / "status.json").is_file():
        raise CrmlabError(_not_a_run(run, need_ok))
    found = Run(run)
    if need_ok and not found.ok:
        stage = found.failed_stage
        raise CrmlabError(
            f"{run} is a run that {f'failed in {stage}' if stage else 'did not finish'}, so it "
            "has no action list (its report.html says what went wrong). Give a run that "
            f"finished, e.g. {run.parent / 'latest'}."
        )
    return run


def _cmd_report(args) -> int:
    from crmlab.report import build_index, build_report

    run = _run_dir_arg(args.run_dir)
    out = build_report(run, lang=args.lang, title=args.title)
    print(f"report: {out}")
    print(f"index:  {build_index(run.resolve().parent.parent)}")
    return 0


def _cmd_actions(args) -> int:
    from crmlab.actions import write_action_list

    xlsx, csv = write_action_list(_run_dir_arg(args.run_dir, need_ok=True), lang=args.lang)
    print(f"action list: {xlsx}\n             {csv}")
    return 0


def _cmd_lookup(args) -> int:
    from crmlab import lookup
    from crmlab.config import load_config

    targets = list(args.targets)
    one = targets[0] if len(targets) == 1 else None
    # one target meant as a run folder: an existing folder, a path, or anything given with --out
    if one and not lookup.PSEUDONYM_PATTERN.match(one):
        if Path(one).is_dir() or args.out or "/" in one or os.sep in one:
            _run_dir_arg(one, need_ok=True)
    if one and Path(one).is_dir():
        if not args.out:
            raise CrmlabError(
                "Name the file for the contact list with --out (.xlsx or .csv), outside the run "
                "folder: it holds personal data."
            )
        out, n, missing = lookup.write_contact_list(one, args.config, args.out, lang=args.lang)
        print(f"contact list: {out}  ({n} customers)")
        if missing:
            print(
                f"crmlab: warning: {missing} of {n} customers are not in the exports any more "
                "(their customer number is empty): the exports changed since the run.",
                file=sys.stderr,
            )
        print("It holds personal data: keep it with the client's data, not with the report.")
        return 0
    if args.out:
        raise CrmlabError("--out is for a run folder's whole action list, not for pseudonyms.")
    if any(Path(t).exists() for t in targets):
        raise CrmlabError("Give one run folder, or pseudonyms (P-...), not both.")
    found = lookup.lookup(load_config(args.config), targets)
    print(found.fillna("-").reset_index().to_string(index=False))
    unknown = int(found.iloc[:, 0].isna().sum())
    if unknown:
        print(
            f"crmlab: {unknown} pseudonym(s) are in none of the exports with this config's key.",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_workshop(args) -> int:
    from crmlab.cases import get_case
    from crmlab.workshop import GUIDES, build_kit, solutions_dir, trainer_dir

    case = get_case(args.case)
    out = Path(args.out) if args.out else Path("workshop") / case.name
    kit = build_kit(case.name, out, lang=args.lang, solutions=args.solutions)
    print(f"workshop kit: {kit}  (open it with: jupyter lab --notebook-dir={kit})")
    wheels = sorted((kit / "install").glob("crmlab-*.whl"))
    if wheels:
        print(f"students install crmlab from {kit / 'install'}/ ({wheels[0].name}; see README.md)")
    else:
        print("note: no crmlab wheel in the kit (crmlab runs without its project sources here)")
    guide = trainer_dir(kit, args.solutions) / GUIDES[args.lang]
    print(f"trainer guide (for the trainer, not for students, next to the kit): {guide}")
    if args.solutions:
        print(f"solutions (for the trainer, not for students): {solutions_dir(kit)}")
    return 0


def _cmd_refresh(args) -> int:
    from crmlab.refresh import refresh_notebooks

    refresh_notebooks(args.cases or None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmlab", description="Customer-management case workbench."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="the cases and their stages")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("params", help="a case's parameters, types and defaults")
    p.add_argument("case")
    p.set_defaults(func=_cmd_params)

    p = sub.add_parser("run", help="run cases headlessly, writing reports/<case>/<run>/")
    p.add_argument("cases", nargs="*", help="case names (see `crmlab list`)")
    p.add_argument("--all", action="store_true", help="run every case")
    p.add_argument("--config", help="case config file (YAML)")
    p.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="set a notebook parameter"
    )
    p.add_argument("--out", help="folder for run directories (default: reports/)")
    p.add_argument("--jobs", type=int, default=1, help="cases to run in parallel")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "validate", help="check a case config and the client's files (no notebook runs)"
    )
    p.add_argument("--config", required=True, help="case config file (YAML)")
    p.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="set a notebook parameter"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list every conversion")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("new", help="write a starter config and folder for a client case")
    p.add_argument("name", help="folder name for the client case")
    p.add_argument("--from", dest="case", required=True, help="the case to start from")
    p.add_argument("--dir", help="parent folder (default: the current folder)")
    p.add_argument(
        "--example",
        nargs="?",
        const="",
        metavar="VARIANT",
        help="a worked example instead of a blank config: the full config and synthetic exports "
        "of that shape (finance_churn: --example flag for a churn-flag extract)",
    )
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("generate", help="generate synthetic data with a planted truth")
    p.add_argument("cases", nargs="*")
    p.add_argument("--all", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--customers", type=int, help="number of customers (default: case default)")
    p.add_argument("--format", choices=["csv", "parquet"])
    p.add_argument("--out", help="parent folder (default: data/synthetic/)")
    p.add_argument("--if-missing", action="store_true", help="skip cases whose data exist")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("report", help="(re)build a run's self-contained report.html")
    p.add_argument("run_dir", help="reports/<case>/<run> or reports/<case>/latest")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.add_argument("--title", help="report title (default: the case's)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("actions", help="(re)write a run's action list (actions.xlsx, .csv)")
    p.add_argument("run_dir")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.set_defaults(func=_cmd_actions)

    p = sub.add_parser(
        "lookup",
        help="pseudonyms back to the client's customer numbers and contacts (needs the key)",
        description="With a run folder and --out FILE: write the run's action list with the "
        "client's customer numbers and contact columns (.xlsx or .csv, outside the run folder). "
        "With pseudonyms (P-...): print who they are.",
    )
    p.add_argument("targets", nargs="+", metavar="RUN_DIR | PSEUDONYM")
    p.add_argument("--config", required=True, help="the case config the run was made with")
    p.add_argument(
        "--out",
        help="contact list file (.xlsx or .csv) for a run folder, e.g. acme/private/contacts.xlsx",
    )
    p.add_argument(
        "--lang",
        choices=["en", "zh"],
        help="language of the contact list's headers and actions (default: the run's, i.e. the "
        "config's report: {lang: ...}, else en)",
    )
    p.set_defaults(func=_cmd_lookup)

    p = sub.add_parser("workshop", help="build a workshop kit: student notebooks, data, guide")
    p.add_argument("case")
    p.add_argument("--out", help="kit folder (default: workshop/<case>)")
    p.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the kit's README (the trainer guide is written in both)",
    )
    p.add_argument(
        "--solutions",
        action="store_true",
        help="also write the instructor notebooks (solutions, canonical outputs) to "
        "<out>-solutions/, next to the kit, not inside it",
    )
    p.set_defaults(func=_cmd_workshop)

    p = sub.add_parser("refresh-notebooks", help="re-execute committed notebooks in place")
    p.add_argument("cases", nargs="*")
    p.set_defaults(func=_cmd_refresh)
    return parser


EXIT_BROKEN_PIPE = 141
"""Exit status when the reader of stdout went away (``crmlab list | head -1``): 128 + SIGPIPE
(13), the status a shell reports for a tool a closed pipe stopped, so ``set -o pipefail`` scripts
still see that the output was cut short."""


def main(argv: list[str] | None = None) -> int:
    """Run one ``crmlab`` command; returns the exit status.

    0 on success, the error's ``exit_code`` (a one-line ``crmlab: error: ...`` on stderr) for a
    :class:`crmlab.errors.CrmlabError`, 130 on Ctrl-C, and :data:`EXIT_BROKEN_PIPE` (141) when
    stdout is a pipe whose reader closed early (``crmlab report RUN | head -1``): then the
    command stops quietly, without a traceback, as Unix tools do, and stdout is pointed at
    ``/dev/null`` so that the interpreter's last flush at exit does not fail a second time (the
    recipe of the Python docs, "Note on SIGPIPE" in the ``signal`` module).
    """
    try:
        try:
            return _dispatch(argv)
        finally:  # what print() left in the buffer is written here, inside the handler below
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _dispatch(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CrmlabError as e:
        print(f"crmlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("crmlab: interrupted", file=sys.stderr)
        return 130


def _discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null: the unwritten rest of the buffer goes nowhere
    instead of raising BrokenPipeError again when Python flushes stdout on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (e.g. captured by a test)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
