"""The shipped synthetic data: which generator makes each case's data, and making it on demand.

``make data`` (``crmlab generate --all``) writes ``data/synthetic/<case>/``; a stage started on the
default data generates it on first use. Generation is deterministic (fixed seed), so the "shipped"
data is the same on every machine without committing megabytes of CSV.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path

from crmlab import paths
from crmlab.errors import CrmlabError

#: case -> (module, function) of its generator
GENERATORS: dict[str, tuple[str, str]] = {
    "retail_satisfaction": ("crmlab.synth.retail", "generate_retail"),
    "finance_churn": ("crmlab.synth.finance", "generate_finance"),
}

DEFAULT_SEED = 42


def generator_for(case: str):
    try:
        module, func = GENERATORS[case]
    except KeyError:
        raise CrmlabError(
            f"No synthetic-data generator for case '{case}'. Known: {', '.join(GENERATORS)}."
        ) from None
    return getattr(importlib.import_module(module), func)


def generate(case: str, out_dir: str | Path | None = None, seed: int = DEFAULT_SEED, **sizes):
    """Generate a case's synthetic data into ``out_dir`` (default ``data/synthetic/<case>``).

    The folder is built beside the target and renamed into place, so it is never half-written.
    Returns the planted truth (dict).
    """
    target = Path(out_dir) if out_dir else paths.synthetic_dir(case)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        truth = generator_for(case)(tmp, seed=seed, **sizes)
        tmp.chmod(0o755)  # mkdtemp makes it private; the data folder is for everyone
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return truth


def ensure_synthetic(case: str, seed: int = DEFAULT_SEED) -> Path:
    """Make sure the default synthetic data of ``case`` exists; generate it if not."""
    target = paths.synthetic_dir(case)
    if not (target / "truth.json").exists():
        generate(case, target, seed=DEFAULT_SEED)
    return target
