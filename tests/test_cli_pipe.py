"""`crmlab ... | head -1`: a reader that closes stdout early ends the command quietly.

Before, the command died with a BrokenPipeError traceback (or, with the output still in the
buffer, "Exception ignored ... BrokenPipeError" from the interpreter's last flush). Now it stops
like a Unix tool stopped by SIGPIPE: nothing on stderr, exit status 141 (128 + SIGPIPE).

The reader here has closed its end before crmlab writes, which is what ``head -1`` leaves for the
lines after the first one; it makes the broken pipe certain instead of a race with the reader.
Both places a write can fail are covered: a ``print`` during the command (unbuffered stdout, as
with a long output) and the flush of the buffered rest at the end (the usual short output).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crmlab import cli


def _run_into_closed_pipe(args: list[str], unbuffered: bool) -> tuple[int, str]:
    """Run ``python -m crmlab ARGS`` with stdout into a pipe whose reader is gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: every write to write_end fails with EPIPE
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "crmlab", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize("unbuffered", [False, True], ids=["flush-at-exit", "print-midway"])
@pytest.mark.parametrize("args", [["list"], ["params", "retail_satisfaction"]])
def test_a_closed_pipe_ends_the_command_quietly_with_141(args, unbuffered):
    code, err = _run_into_closed_pipe(args, unbuffered)
    assert code == cli.EXIT_BROKEN_PIPE == 141
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err  # nor the interpreter's "Exception ignored" at exit
    assert err == ""


def test_an_open_pipe_still_gets_every_line():
    """The handler changes nothing when the reader reads everything: exit 0, the full list."""
    done = subprocess.run(
        [sys.executable, "-m", "crmlab", "params", "retail_satisfaction"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("data_dir: str")
    assert any(line.startswith("seed: int (default 42)") for line in lines)
    assert done.stderr == ""
