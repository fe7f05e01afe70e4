"""Narrative helpers for notebooks: text that depends on the numbers, shown as Markdown, and the
number formats used in every case."""

from __future__ import annotations


def say(text: str) -> None:
    """Show ``text`` as Markdown in a notebook (plain print elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def pct(share: float, digits: int = 1) -> str:
    """Format a share (0.812) as a percentage string ('81.2%')."""
    return f"{100 * share:.{digits}f}%"


def pts(diff: float, digits: int = 1) -> str:
    """Format a difference of shares (0.088) as signed percentage points ('+8.8 pts')."""
    return f"{100 * diff:+.{digits}f} pts"


def skipped(step: str, reason: str) -> None:
    """Say that a step was skipped and why (partial data): the narrative never pretends."""
    say(f"**Skipped: {step}.** {reason}")
