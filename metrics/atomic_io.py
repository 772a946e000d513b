"""Atomic file writes: the one write path of every layer (records, tables, npz, plots, videos,
VBench outputs, summaries, W&B metrics).

A reader sees the old file or the new one, never a partial one, even if the writer is killed
or the machine loses power. Every write goes through :func:`atomic_path`:

1. a **unique** temp file is created beside the destination (same folder, so the rename stays
   on one file system), named ``.<name>.<random>.tmp[<suffix>]``; concurrent writers of one
   destination never share a temp file;
2. the caller writes it (through a file object, :func:`atomic_open`, or by path, for writers
   that need one: ``savefig``, PyAV, ``to_parquet``);
3. the temp file is fsynced, moved over the destination with ``os.replace`` (atomic on POSIX),
   and the folder is fsynced so the rename itself is durable.

On any error (``KeyboardInterrupt`` included) the temp file is removed and the old file is
untouched. A ``SIGKILL`` or power loss can leave a temp file behind, never a partial
destination; :func:`is_temp_file` recognises such leftovers.

File mode: the temp file is created with ``os.open(..., 0o666)``, so the kernel applies the
process umask (and any default ACL of the folder), exactly as for a plain ``open(path, "w")``:
``0o644`` under umask ``022``. The umask is never read with ``os.umask`` (which would change it
for every thread for a moment).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_open",
    "atomic_path",
    "atomic_savez",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "is_temp_file",
    "json_default",
]

#: Longest part of the destination's name kept in a temp name (the rest stays under NAME_MAX).
_NAME_KEEP = 120
_TEMP_RE = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp(\.[^.]+)?$")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def is_temp_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named like a temp file of this module (a writer in flight, or one
    killed mid-write). Readers that glob a folder (``*.png``, ``*.mp4``) should skip these."""
    return bool(_TEMP_RE.match(Path(path).name))


def _fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename or a new entry in it survives a crash (POSIX).

    File systems that cannot fsync a folder (``EINVAL``/``ENOTSUP``) are skipped: there the
    rename is as durable as the file system makes it. Other errors propagate.
    """
    if os.name == "nt":  # folders cannot be opened (nor fsynced) on Windows
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _make_parents(folder: Path) -> None:
    """``mkdir -p folder``, fsyncing the parent of every folder it creates."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    if not missing:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        _fsync_dir(created.parent)


def _new_temp(path: Path, suffix: str) -> tuple[Path, int]:
    """Create an empty, unique temp file beside ``path``; returns it and its permission bits.

    ``O_CREAT | O_EXCL`` with mode ``0o666``: the umask applies as for any new file.
    """
    _make_parents(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | _NOFOLLOW
    for _ in range(100):
        tmp = path.with_name(f".{path.name[:_NAME_KEEP]}.{secrets.token_hex(8)}.tmp{suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
        return tmp, mode
    raise FileExistsError(errno.EEXIST, f"no free temp file name beside {path}")


def _commit(tmp: Path, path: Path, mode: int) -> None:
    """fsync ``tmp``, restore its creation mode if a writer re-created it, rename it over
    ``path`` and fsync the folder."""
    fd = os.open(tmp, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.chmod(tmp, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Give a writer that needs a file name a temp path; commit it over ``path`` on success.

    Example::

        with atomic_path(run_dir / "plots" / "a.png") as tmp:
            fig.savefig(tmp, dpi=110)

    Args:
        path: destination; missing parent folders are created.
        suffix: ending of the temp name. ``None`` (default) keeps the destination's suffix
            (``.png``, ``.mp4``, ``.parquet``), so writers that pick a format from the name
            still work; ``""`` ends the name in ``.tmp``.

    Yields:
        The temp file's ``Path`` (it exists, empty; the writer may truncate or re-create it).

    Raises:
        Whatever the writer raises (the temp file is then removed, the destination untouched);
        ``OSError`` from creating, fsyncing or renaming the file.
    """
    path = Path(path)
    tmp, mode = _new_temp(path, path.suffix if suffix is None else suffix)
    try:
        yield tmp
        _commit(tmp, path, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open ``path`` for writing as a stream, atomically (:func:`atomic_path`).

    Args:
        path: destination.
        mode: ``"wb"`` (bytes) or ``"w"`` (text; ``encoding`` defaults to UTF-8).
        **kwargs: passed to :func:`open` (``encoding``, ``newline``...).

    Yields:
        The open file object. The file is committed when the ``with`` block ends normally.

    Raises:
        ValueError: on a mode other than ``"w"`` or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a new file: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, suffix="") as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`); returns ``path``."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays, paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, so the JSON is standard (pandas reads None
    back as NaN)."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, standard JSON (NaN written as null), atomically."""
    text = json.dumps(_clean(obj), indent=2, default=json_default, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_savez(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``np.savez_compressed`` to ``path`` atomically (:func:`atomic_path`); returns ``path``."""
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)
