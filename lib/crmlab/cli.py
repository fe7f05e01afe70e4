"""The ``crmlab`` command line (also ``python -m crmlab``).

Imports stay inside the commands so that ``crmlab list`` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crmlab.errors import CrmlabError


def _cmd_list(args) -> int:
    from crmlab.cases import all_cases

    for case in all_cases():
        print(f"{case.name:<22} {' -> '.join(case.stages)}   {case.title}")
    return 0


def _cmd_params(args) -> int:
    from crmlab.cases import get_case
    from crmlab.params import RUNNER_PARAMETERS, case_parameters

    for p in case_parameters(get_case(args.case)).values():
        if p.name not in RUNNER_PARAMETERS:
            print(f"{p.describe()}   [{', '.join(p.stages)}]")
    return 0


def _load_config(path: str) -> dict:
    import yaml

    from crmlab.errors import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file {p} not found. Check the path (relative to {Path.cwd()}).")
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{p}: expected a mapping with keys like case:, params:.")
    unknown = set(cfg) - {"case", "title", "params", "data", "columns", "values", "pii", "features"}
    if unknown:
        raise ConfigError(f"{p}: unknown keys {sorted(unknown)}.")
    params = cfg.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{p}: params: must be a mapping NAME: VALUE.")
    data = cfg.get("data")
    if isinstance(data, str):  # a folder of input files, relative to the config file
        params.setdefault("data_dir", str((p.parent / data).resolve()))
    cfg["params"] = params
    return cfg


def _cmd_run(args) -> int:
    from crmlab.cases import all_cases
    from crmlab.params import parse_assignments
    from crmlab.runner import print_summary, run_cases

    user_params: dict = {}
    cases = list(args.cases)
    if args.config:
        cfg = _load_config(args.config)
        user_params.update(cfg["params"])
        if cfg.get("case") and not cases and not args.all:
            cases = [cfg["case"]]
    user_params.update(parse_assignments(args.param or []))
    if args.all:
        cases = [c.name for c in all_cases()]
    if not cases:
        raise CrmlabError("Name a case (see `crmlab list`), use --all, or give --config FILE.")
    results = run_cases(cases, user_params, out_root=args.out, jobs=args.jobs)
    print_summary(results)
    return 0 if all(r.ok for r in results) else 1


def _cmd_generate(args) -> int:
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
        generate(case, out, seed=args.seed, **sizes)
        print(f"generated {case} (seed {args.seed}) -> {out or 'data/synthetic/' + case}")
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

    p = sub.add_parser("generate", help="generate synthetic data with a planted truth")
    p.add_argument("cases", nargs="*")
    p.add_argument("--all", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--customers", type=int, help="number of customers (default: case default)")
    p.add_argument("--format", choices=["csv", "parquet"])
    p.add_argument("--out", help="parent folder (default: data/synthetic/)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("refresh-notebooks", help="re-execute committed notebooks in place")
    p.add_argument("cases", nargs="*")
    p.set_defaults(func=_cmd_refresh)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CrmlabError as e:
        print(f"crmlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("crmlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
