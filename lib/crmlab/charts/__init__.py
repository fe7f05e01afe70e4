"""Charts: one function per chart, each returning a matplotlib Axes (seaborn style)."""
