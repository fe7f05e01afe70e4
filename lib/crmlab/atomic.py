"""Write files so that a reader never sees a half-written one: write a temp file beside the
target, then rename it into place (``os.replace`` is atomic on one file system)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once, at import: setting it later could race with other threads


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it to ``target``, with the
    permissions a newly created file gets (0666 less the umask, as ``open`` would give it), or
    ``mode`` (e.g. 0o600 for a file with personal data).

    On an exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes it private (0600); give it a new file's mode
            tmp_path.chmod(mode if mode is not None else 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Atomically write ``text`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(target)


def write_json(target: str | os.PathLike, obj, **kwargs) -> Path:
    """Atomically write ``obj`` as pretty, key-sorted UTF-8 JSON (stable across runs)."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("sort_keys", True)
    kwargs.setdefault("ensure_ascii", False)
    return write_text(target, json.dumps(obj, **kwargs) + "\n")


def write_parquet(df, target: str | os.PathLike, **kwargs) -> Path:
    """Atomically write a DataFrame as Parquet (``df.attrs`` are not stored: pandas would try to
    serialize them as JSON metadata, which fails for timestamps)."""
    if df.attrs:
        df = df.copy(deep=False)
        df.attrs = {}
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, **kwargs)
    return Path(target)
