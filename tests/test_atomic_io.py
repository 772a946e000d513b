"""The one atomic write path (metrics/atomic_io.py) and the writers built on it.

Every claim is checked against real behaviour: a writer process is SIGKILLed mid-write, writers
race on one destination, modes are read back under real umasks, fsync calls are observed on the
real inodes (a spy that calls through).
"""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics import video_io
from spf_bench.metrics.atomic_io import (
    atomic_open,
    atomic_path,
    atomic_savez,
    atomic_write_bytes,
    atomic_write_json,
    is_temp_file,
)

# ------------------------------------------------------------------ a writer killed mid-write
#: Bytes (or characters) a hooked writer puts on disk before it stops and waits to be killed.
PAUSE_AT = 1 << 16

# The child hooks every Python-level open() of a file in the watched folder (builtins.open and
# io.open, which os.fdopen and Path.write_bytes use; fds are resolved through /proc): writes
# pass through until PAUSE_AT units, which are flushed to disk, then it prints "paused" and
# sleeps. It does not care how the module under test writes, so a plain open(path).write()
# is caught as well. For videos (FFmpeg writes from C) the hook sits on frame creation.
_CHILD = r"""
import builtins, io, os, sys, time
import numpy as np

kind, dest, watch, pause_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
watch = os.path.realpath(watch) + os.sep


def pause():
    print("paused", flush=True)
    time.sleep(600)


def name_of(file):
    if isinstance(file, int):
        try:
            return os.readlink(f"/proc/self/fd/{file}")
        except OSError:
            return ""
    return os.path.realpath(os.fspath(file))


class SlowFile:
    def __init__(self, fh):
        self._fh, self._n = fh, 0

    def write(self, data):
        size = len(data)
        if self._n < pause_at <= self._n + size:
            k = pause_at - self._n
            self._fh.write(data[:k])
            self._fh.flush()
            self._n += k
            pause()
            data = data[k:]
        self._n += len(data)
        self._fh.write(data)
        return size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._fh, name)


real_open = io.open


def hooked_open(file, mode="r", *args, **kwargs):
    fh = real_open(file, mode, *args, **kwargs)
    if any(c in mode for c in "wax+") and name_of(file).startswith(watch):
        return SlowFile(fh)
    return fh


builtins.open = io.open = hooked_open

if kind == "json":
    from spf_bench.metrics.atomic_io import atomic_write_json
    atomic_write_json(dest, {"tag": "new", "rows": list(range(300_000))})
elif kind == "npz":
    from spf_bench.metrics.atomic_io import atomic_savez
    atomic_savez(dest, progress=np.random.default_rng(0).random(400_000))
elif kind == "stream":
    from spf_bench.metrics.atomic_io import atomic_open
    with atomic_open(dest, "wb") as fh:
        for i in range(32):
            fh.write(bytes([i]) * 16384)
elif kind == "png":
    from spf_bench.bench.plots import plot_spf
    plot_spf({"S": np.linspace(0, 1, 200) ** 2}, dest, title="new")
elif kind == "video":
    import av
    from spf_bench.metrics import video_io

    class Frames:
        n = 0

        @staticmethod
        def from_ndarray(*args, **kwargs):
            Frames.n += 1
            if Frames.n == 200:  # past x264 lookahead and a 256 KiB flush: data is on disk
                pause()
            return av.VideoFrame.from_ndarray(*args, **kwargs)

    class AvProxy:  # PyAV's types are immutable: patch the module reference
        VideoFrame = Frames

        def __getattr__(self, name):
            return getattr(av, name)

    video_io.av = AvProxy()
    frames = np.random.default_rng(0).integers(0, 255, (260, 64, 64, 3), dtype=np.uint8)
    video_io.write_video(dest, frames, 16)
else:
    raise SystemExit(f"unknown kind {kind}")
print("finished", flush=True)
"""


def kill_mid_write(kind: str, dest: Path, pause_at: int = PAUSE_AT, timeout: float = 120) -> None:
    """Run a ``kind`` writer of ``dest`` in a child, SIGKILL it once it is mid-write."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, kind, str(dest), str(dest.parent), str(pause_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "paused":
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the {kind} writer never paused mid-write (got {line!r}):\n{err}")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def leftovers(folder: Path, dest: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p != dest)


@pytest.mark.parametrize("old", [None, b"old complete content\n"])
def test_killed_stream_writer_leaves_old_file_or_nothing(tmp_path, old):
    dest = tmp_path / "data.bin"
    if old is not None:
        dest.write_bytes(old)
    kill_mid_write("stream", dest)
    if old is None:
        assert not dest.exists()
    else:
        assert dest.read_bytes() == old
    # The kill did land mid-write: exactly PAUSE_AT bytes sit in a temp file beside dest.
    [tmp] = leftovers(tmp_path, dest)
    assert tmp.stat().st_size == PAUSE_AT and is_temp_file(tmp)
    # The next writer is not disturbed by the leftover.
    atomic_write_bytes(dest, b"next")
    assert dest.read_bytes() == b"next"


def test_killed_plot_writer_leaves_old_png(tmp_path):
    from spf_bench.bench.plots import plot_spf

    dest = plot_spf({"S": np.linspace(0, 1, 50)}, tmp_path / "plots" / "a.png", title="old")
    old = dest.read_bytes()
    kill_mid_write("png", dest, pause_at=4096)
    assert dest.read_bytes() == old
    [tmp] = leftovers(dest.parent, dest)
    assert tmp.stat().st_size == 4096 and is_temp_file(tmp)


@pytest.mark.parametrize("existing", [False, True])
def test_killed_video_writer_leaves_old_video_or_nothing(tmp_path, existing):
    dest = tmp_path / "videos" / "clip.mp4"
    if existing:
        frames = np.random.default_rng(1).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
        video_io.write_video(dest, frames, 8)
        old = dest.read_bytes()
    else:
        dest.parent.mkdir()
    kill_mid_write("video", dest)
    if existing:
        assert dest.read_bytes() == old
        assert video_io.probe_video(dest).n_frames == 5
    else:
        assert not dest.exists()
    [tmp] = leftovers(dest.parent, dest)  # the encoder was mid-stream in its temp file
    assert is_temp_file(tmp) and tmp.suffix == ".mp4" and tmp.stat().st_size > 100_000


# ------------------------------------------------------------------ concurrent writers
def test_nested_writers_of_one_destination_get_distinct_temps(tmp_path):
    dest = tmp_path / "d.png"
    with atomic_path(dest) as outer:
        outer.write_bytes(b"outer, committed last")
        with atomic_path(dest) as inner:
            assert inner != outer and inner.parent == outer.parent == tmp_path
            assert inner.suffix == outer.suffix == ".png"  # the right extension, for savefig
            inner.write_bytes(b"inner")
        assert dest.read_bytes() == b"inner"
        assert outer.read_bytes() == b"outer, committed last"
    assert dest.read_bytes() == b"outer, committed last"
    assert leftovers(tmp_path, dest) == []


def test_plot_saved_while_another_save_of_it_is_in_flight(tmp_path, monkeypatch):
    """plot_spf re-entered on the same PNG while the first save is between render and rename
    (what two processes plotting one run directory do): a shared temp name makes the first
    rename fail or publish the other's file."""
    from matplotlib.figure import Figure

    from spf_bench.bench.plots import plot_spf

    dest = tmp_path / "plots" / "a.png"
    ref_a = plot_spf({"S": np.linspace(0, 1, 40) ** 2}, tmp_path / "ref" / "a.png", title="A")
    real_savefig = Figure.savefig
    nested = []

    def savefig(fig, fname, *args, **kwargs):
        real_savefig(fig, fname, *args, **kwargs)
        if not nested:  # the outer save has rendered its temp file; a second writer runs
            nested.append(fname)
            plot_spf({"S": np.linspace(0, 1, 40) ** 0.5}, dest, title="B")

    monkeypatch.setattr(Figure, "savefig", savefig)
    plot_spf({"S": np.linspace(0, 1, 40) ** 2}, dest, title="A")
    monkeypatch.undo()
    assert Path(nested[0]).parent == dest.parent and Path(nested[0]) != dest
    assert dest.read_bytes() == ref_a.read_bytes()  # the last writer's complete file
    assert leftovers(dest.parent, dest) == []


def test_threads_racing_on_one_destination_publish_only_complete_versions(tmp_path):
    dest = tmp_path / "r.bin"
    size, n_threads, n_writes = 200_000, 6, 15
    atomic_write_bytes(dest, bytes([0]) * size)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(i: int) -> None:
        try:
            for _ in range(n_writes):
                atomic_write_bytes(dest, bytes([i]) * size)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    def reader() -> None:
        while not done.is_set():
            data = dest.read_bytes()
            if len(data) != size or data.count(data[:1]) != size:
                errors.append(AssertionError(f"torn read: {len(data)} bytes"))
                return

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(1, n_threads + 1)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert errors == []
    data = dest.read_bytes()
    assert len(data) == size and data == data[:1] * size and 1 <= data[0] <= n_threads
    assert leftovers(tmp_path, dest) == []


_RACER = r"""
import sys
import numpy as np
from spf_bench.metrics.atomic_io import atomic_savez
i, dest = int(sys.argv[1]), sys.argv[2]
for _ in range(20):
    atomic_savez(dest, who=np.full(50_000, i, dtype=np.int64))
"""


def test_processes_racing_on_one_npz_leave_one_complete_version(tmp_path):
    dest = tmp_path / "s.npz"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(i), str(dest)], stderr=subprocess.PIPE)
        for i in range(1, 5)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with np.load(dest) as npz:
        who = npz["who"]
    assert who.shape == (50_000,) and np.all(who == who[0]) and 1 <= who[0] <= 4
    assert leftovers(tmp_path, dest) == []


# ------------------------------------------------------------------ file mode from the umask
_MODES = r"""
import json, os, sys
from pathlib import Path
import numpy as np
import pandas as pd
from spf_bench.bench.plots import plot_spf
from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics.atomic_io import (
    atomic_open, atomic_path, atomic_savez, atomic_write_bytes, atomic_write_json)
from spf_bench.metrics.video_io import write_video

root, out = Path(sys.argv[1]), {}
for umask in (0o022, 0o077, 0o002):
    os.umask(umask)
    d = root / oct(umask)
    old = d / "old.json"
    d.mkdir()
    old.write_text("{}")
    os.chmod(old, 0o600)  # replacing a 0600 file gives the new file the umask's mode
    paths = [
        atomic_write_bytes(d / "b.bin", b"x"),
        atomic_write_json(d / "r.json", {"a": 1}),
        atomic_write_json(old, {"a": 2}),
        atomic_savez(d / "s.npz", a=np.arange(3)),
        write_video(d / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8),
        plot_spf({"S": np.linspace(0, 1, 9)}, d / "p.png"),
    ]
    RunDir(d).write_tables([{"item_id": "a", "iteration": 0}])
    paths += [d / "records.parquet", d / "records.csv"]
    with atomic_open(d / "t.txt", "w") as fh:
        fh.write("text")
    paths.append(d / "t.txt")
    with atomic_path(d / "recreated.bin") as tmp:  # a writer that deletes and re-creates
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"y")
        os.close(fd)
    paths.append(d / "recreated.bin")
    out[str(umask)] = {p.name: os.stat(p).st_mode & 0o7777 for p in paths}
print(json.dumps(out))
"""


def test_written_files_get_the_mode_of_the_umask(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _MODES, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")},
    )
    assert proc.returncode == 0, proc.stderr
    modes = json.loads(proc.stdout.splitlines()[-1])
    expected = {"18": 0o644, "63": 0o600, "2": 0o664}  # umask 022, 077, 002
    for umask, by_file in modes.items():
        assert len(by_file) == 10
        assert by_file == dict.fromkeys(by_file, expected[umask]), (oct(int(umask)), by_file)


def test_writes_never_touch_the_process_umask(tmp_path, monkeypatch):
    def forbidden(*_):
        raise AssertionError("os.umask changes the umask of every thread while it is read")

    monkeypatch.setattr(os, "umask", forbidden)
    atomic_write_json(tmp_path / "a.json", {"a": 1})
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"b")
    assert (tmp_path / "b.bin").read_bytes() == b"b"


# ------------------------------------------------------------------ fsync of file and folder
def _write_bytes(d):
    return atomic_write_bytes(d / "b.bin", b"payload")


def _write_json(d):
    return atomic_write_json(d / "records" / "r__it0.json", {"a": 1})


def _write_npz(d):
    return atomic_savez(d / "spf" / "s.npz", progress=np.linspace(0, 1, 5))


def _write_parquet(d):
    RunDir(d).write_tables([{"item_id": "a", "iteration": 0}])
    return d / "records.parquet"


def _write_png(d):
    from spf_bench.bench.plots import plot_spf

    return plot_spf({"S": np.linspace(0, 1, 9)}, d / "plots" / "a.png")


def _write_mp4(d):
    return video_io.write_video(d / "videos" / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8)


@pytest.mark.parametrize(
    "write", [_write_bytes, _write_json, _write_npz, _write_parquet, _write_png, _write_mp4]
)
def test_file_is_fsynced_before_rename_and_folder_after(tmp_path, monkeypatch, write):
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):  # a spy: it records what is fsynced and calls through
        st = os.fstat(fd)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        events.append(("fsync", kind, (st.st_dev, st.st_ino)))
        return real_fsync(fd)

    def replace(src, dst, **kwargs):
        events.append(("replace", os.path.realpath(dst)))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    dest = Path(write(tmp_path))
    monkeypatch.undo()
    st, dst = dest.stat(), dest.parent.stat()
    file_id, dir_id = (st.st_dev, st.st_ino), (dst.st_dev, dst.st_ino)
    renamed = events.index(("replace", os.path.realpath(dest)))
    assert ("fsync", "file", file_id) in events[:renamed], events  # the data is on disk...
    assert ("fsync", "dir", dir_id) in events[renamed + 1 :], events  # ...and so is the rename
    if write is not _write_bytes:  # a new sub-folder: its entry in tmp_path is fsynced too
        top = tmp_path.stat()
        assert ("fsync", "dir", (top.st_dev, top.st_ino)) in events


# ------------------------------------------------------------------ errors, names, videos
def test_error_inside_atomic_path_removes_temp_and_keeps_old(tmp_path):
    dest = atomic_write_bytes(tmp_path / "a.parquet", b"old")
    with pytest.raises(RuntimeError, match="writer failed"), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half a new fi")
        raise RuntimeError("writer failed")
    assert dest.read_bytes() == b"old"
    assert leftovers(tmp_path, dest) == []


def test_atomic_open_rejects_non_write_modes(tmp_path):
    for mode in ("r", "a", "ab", "r+b"):
        with pytest.raises(ValueError, match="mode must be"), atomic_open(tmp_path / "x", mode):
            pass
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_recognised_and_ordinary_names_are_not(tmp_path):
    with atomic_path(tmp_path / "a.png") as png, atomic_open(tmp_path / "r.json") as fh:
        assert is_temp_file(png) and is_temp_file(fh.name)
        assert png.name.startswith(".a.png.") and png.suffix == ".png"
        assert Path(fh.name).name.startswith(".r.json.") and fh.name.endswith(".tmp")
    for name in ("a.png", ".hidden", "x.tmp", ".a.png.tmp", "r.json"):
        assert not is_temp_file(tmp_path / name), name
    long_name = "n" * 250 + ".json"  # the temp name stays under NAME_MAX (255)
    assert atomic_write_json(tmp_path / long_name, {}).read_text() == "{}\n"


def test_write_video_encodes_to_a_unique_mp4_temp_beside_the_destination(tmp_path, monkeypatch):
    import av

    opened = []

    class AvProxy:
        def __getattr__(self, name):
            return getattr(av, name)

        @staticmethod
        def open(file, *args, **kwargs):
            opened.append(Path(file))
            return av.open(file, *args, **kwargs)

    monkeypatch.setattr(video_io, "av", AvProxy())
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    video_io.write_video(tmp_path / "v.mp4", frames, 8)
    video_io.write_video(tmp_path / "v.mp4", frames, 8)
    monkeypatch.undo()
    assert len(opened) == 2 and opened[0] != opened[1]
    for tmp in opened:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and is_temp_file(tmp)
    assert video_io.probe_video(tmp_path / "v.mp4").n_frames == 3
    assert leftovers(tmp_path, tmp_path / "v.mp4") == []
