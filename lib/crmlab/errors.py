"""Errors a user can act on.

Every error raised for bad input or bad usage derives from :class:`CrmlabError`. The command line
prints its message (no traceback) and exits non-zero, so messages must say *what* is wrong,
*where* (file, column, rows) and *what to do*.
"""

from __future__ import annotations


class CrmlabError(ValueError):
    """Base class for errors whose message is meant for the user."""

    exit_code = 2


class DataError(CrmlabError):
    """Input data is missing, malformed or inconsistent (names the file/column/rows)."""


class ParameterError(CrmlabError):
    """A notebook parameter is unknown, has the wrong type, or is missing."""


class ConfigError(CrmlabError):
    """A case configuration file is invalid."""


class StageInputMissing(CrmlabError):
    """A stage needs an artifact that an earlier stage writes (run the earlier stage first)."""


def describe_rows(index, limit: int = 5) -> str:
    """Return a short 'rows 3, 17, 42 (+12 more)' description of row labels for messages."""
    labels = list(index)
    shown = ", ".join(str(x) for x in labels[:limit])
    more = len(labels) - limit
    return f"rows {shown}" + (f" (+{more} more)" if more > 0 else "")
