"""Helpers shared by the chart modules (not charts themselves)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from crmlab.errors import DataError


def axes(ax=None, figsize=(8, 4.5)):
    """The given Axes, or a new figure's Axes of ``figsize`` inches."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def need_columns(df: pd.DataFrame, cols, what: str) -> None:
    """Raise :class:`DataError` naming the chart and the missing columns."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{what}: columns {missing} not found; available: {list(df.columns)}")
