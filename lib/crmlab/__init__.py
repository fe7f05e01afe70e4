"""crmlab - a notebook workbench for customer-management case studies.

The top-level namespace stays light (no pandas import) so that the command line starts fast.
Notebooks use::

    import crmlab
    ctx = crmlab.start_stage("retail_satisfaction", "01_goals", run_dir=run_dir, data_dir=data_dir)
    crmlab.record("goal.baseline", 0.81)
"""

from __future__ import annotations

__version__ = "0.1.0"

from crmlab.results import record, recorded, start_stage  # noqa: E402

__all__ = ["__version__", "record", "recorded", "start_stage"]
