"""Fault injection: mutated real mp4 bytes fed to the decoder, and a full disk under a run.

Issue 13, item 4. The decoder must only raise what ``read_video`` / ``probe_video`` document
(``VideoDecodeError``; ``FileNotFoundError``/``ValueError`` only for a missing path or bad
arguments, which a mutated file never is); a full disk must give a clear ``ENOSPC`` error and
lose nothing already written, and the run must resume to completion elsewhere.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spf_bench.metrics.video_io import VideoDecodeError, probe_video, read_video, write_video

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory) -> bytes:
    """A real H.264 mp4: 24 frames, 32x32, a moving gradient, 8 fps."""
    x = np.linspace(0, 1, 32)
    frames = np.stack(
        [
            np.repeat(
                (np.clip(np.add.outer(x, x) / 2 + 0.4 * np.sin(k / 4), 0, 1) * 255).astype(
                    np.uint8
                )[..., None],
                3,
                axis=-1,
            )
            for k in range(24)
        ]
    )
    path = write_video(tmp_path_factory.mktemp("fault_src") / "src.mp4", frames, fps=8)
    data = path.read_bytes()
    frames_back, info = read_video(path)
    assert frames_back.shape == (24, 32, 32, 3) and not info.truncated
    return data


@pytest.fixture(scope="module")
def mutant_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fault_mutants")


def _check_decoder(data: bytes, folder: Path) -> None:
    """Every documented outcome is fine; anything else (an av.error.*, IndexError, ...)
    propagates and fails the test."""
    path = folder / f"{uuid.uuid4().hex}.mp4"
    path.write_bytes(data)
    try:
        for allow in (False, True):
            try:
                frames, info = read_video(path, allow_truncated=allow)
            except VideoDecodeError as e:
                assert str(path) in str(e), f"message does not name the path: {e}"
                continue
            assert isinstance(frames, np.ndarray) and frames.dtype == np.uint8
            assert frames.ndim == 4 and frames.shape[0] >= 1 and frames.shape[-1] == 3
            assert info.n_frames == info.frames_decoded == frames.shape[0]
            assert (info.height, info.width) == frames.shape[1:3]
            if not allow:
                assert not info.truncated
        try:
            info = probe_video(path)
        except VideoDecodeError as e:
            assert str(path) in str(e)
        else:
            assert info.n_frames >= 1 and info.fps > 0
    finally:
        path.unlink()


@SETTINGS
@given(data=st.data())
def test_bit_flips(mp4_bytes, mutant_dir, data):
    buf = bytearray(mp4_bytes)
    n = data.draw(st.integers(1, 20), label="flips")
    for _ in range(n):
        off = data.draw(st.integers(0, len(buf) - 1), label="offset")
        bit = data.draw(st.integers(0, 7), label="bit")
        buf[off] ^= 1 << bit
    _check_decoder(bytes(buf), mutant_dir)


@SETTINGS
@given(data=st.data())
def test_truncation(mp4_bytes, mutant_dir, data):
    cut = data.draw(st.integers(1, len(mp4_bytes) - 1), label="length")
    _check_decoder(mp4_bytes[:cut], mutant_dir)


@SETTINGS
@given(data=st.data())
def test_overwritten_range(mp4_bytes, mutant_dir, data):
    start = data.draw(st.integers(0, len(mp4_bytes) - 1), label="start")
    length = data.draw(st.integers(1, min(256, len(mp4_bytes) - start)), label="length")
    junk = data.draw(st.binary(min_size=length, max_size=length), label="junk")
    buf = mp4_bytes[:start] + junk + mp4_bytes[start + length :]
    _check_decoder(buf, mutant_dir)


# --- a full disk under the run directory -------------------------------------------------

_RUN = [
    "embedder=pixel",
    "model.n_frames=9",
    "model.size=32",
    "n_videos=6",
    "retime.iterations=1",
    "logger=none",
    "progress=false",
    "report=false",
    "eval_embedders=[]",
    "save_videos=true",
]
_TMPFS_SIZE = "256k"  # a complete run needs ~840 KiB on tmpfs; this fills after ~3 of 6 items


def _check_intact(run_dir: Path) -> dict[str, dict]:
    from spf_bench.bench.results.rundir import LOCK_FILE
    from spf_bench.metrics.atomic_io import is_temp_file

    records = {}
    for f in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if is_temp_file(f) or f.name == LOCK_FILE:
            continue
        if f.suffix == ".json":
            obj = json.loads(f.read_text())  # a partial JSON file fails here
            if f.parent.name == "records":
                records[f.name] = obj
        elif f.suffix == ".npz":
            with np.load(f) as npz:
                for key in npz.files:  # reading every array checks every zip member
                    assert npz[key] is not None
        elif f.suffix == ".mp4":
            frames, info = read_video(f)
            assert frames.shape[0] == info.frames_declared
        elif f.suffix in (".csv", ".parquet", ".png"):
            assert f.stat().st_size > 0, f
        else:
            raise AssertionError(f"unexpected file in the run directory: {f}")
    for name, row in records.items():
        if row.get("spf_path"):
            assert (run_dir / row["spf_path"]).is_file(), f"{name} points to a missing npz"
    return records


def test_full_disk_fails_clearly_and_loses_nothing(tmp_path, compose_cfg):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={_TMPFS_SIZE}", "tmpfs", str(mnt)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({' '.join(cmd)}): {res.stderr.strip()}")
    try:
        full = mnt / "run"
        s = settings_from_config(compose_cfg([f"run_dir={full}", *_RUN]))
        # The pipeline does not record ENOSPC as an item failure: it stops with the OSError.
        with pytest.raises(OSError) as exc:
            run_benchmark(s)
        assert exc.value.errno == errno.ENOSPC
        assert "No space left on device" in str(exc.value)
        kept = _check_intact(full)
        assert 0 < len(kept) < 12, f"the disk should fill partway: {len(kept)} records"
        assert all(r.get("status") == "ok" for r in kept.values())
        big = tmp_path / "big" / "run"
        shutil.copytree(full, big)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)

    # Resume on a disk with room: the run completes and keeps what was written.
    summary = run_benchmark(settings_from_config(compose_cfg([f"run_dir={big}", *_RUN])))
    assert summary["n_records"] == 12 and summary["n_failed"] == 0
    after = _check_intact(big)
    assert len(after) == 12
    for name, row in kept.items():
        assert after[name] == row, f"{name} changed on resume"
