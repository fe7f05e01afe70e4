"""Where things live. Paths resolve from the package location, never from the current directory,
so a notebook opened in JupyterLab and a headless run see the same folders.

Set ``CRMLAB_HOME`` to point at another project folder (one holding ``notebooks/`` and ``data/``).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The project folder: ``$CRMLAB_HOME`` or the checkout that holds ``lib/crmlab``."""
    env = os.environ.get("CRMLAB_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2]


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def cases_dir() -> Path:
    return notebooks_dir() / "cases"


def data_dir() -> Path:
    return project_root() / "data"


def synthetic_dir(case: str) -> Path:
    """Default input folder of a case: the shipped synthetic data (``make data`` writes it)."""
    return data_dir() / "synthetic" / case


def reports_dir() -> Path:
    return project_root() / "reports"


def from_cwd(path: str | Path) -> str:
    """``path`` as a user types it in the current folder: relative to it when inside it
    (``acme/config.yaml``), else the absolute path."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(resolved)
