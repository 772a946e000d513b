"""Score videos with VBench and compute their long-video drift: :func:`score_videos`.

The steps, numbered as in the code (the package docstring, :mod:`spf_bench.metrics.vbench`,
says why each is there):

1. pre-flight: names, the VBench venv and every weight file
   (:func:`spf_bench.metrics.vbench.registry.preflight`), before any work;
2. decode every video with PyAV; unreadable ones fail here, by name; in-process drift on the
   frames (:func:`spf_bench.metrics.vbench.drift.frame_drift`, SPF measured with the kernel and
   the caller's :class:`~spf_bench.metrics.measure.SPFSettings`);
3. stage the readable videos flat (:func:`spf_bench.metrics.vbench.runner.stage_videos`);
4. one VBench process (:func:`spf_bench.metrics.vbench.runner.run_vbench`);
5. parse, normalise and check (:mod:`spf_bench.metrics.vbench.parsing`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spf_bench.metrics.vbench.drift import (
    DRIFT_METRICS,
    frame_drift,
    vbench_drift_description,
    write_segments,
)
from spf_bench.metrics.vbench.parsing import (
    VBenchResult,
    collect_dimensions,
    collect_segment_drift,
)
from spf_bench.metrics.vbench.registry import VBenchSettings, preflight
from spf_bench.metrics.vbench.runner import run_vbench, stage_videos

if TYPE_CHECKING:
    from spf_bench.metrics.measure import SPFSettings

__all__ = ["VIDEO_SUFFIXES", "score_videos", "videos_in"]

#: Video suffixes picked up when a plain folder is scored (:func:`videos_in`).
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


def videos_in(folder: str | os.PathLike) -> dict[str, Path]:
    """Video files under ``folder`` (recursive, sorted), keyed by their path relative to it.

    Args:
        folder: any folder; files with a suffix in :data:`VIDEO_SUFFIXES` (any case) count.

    Returns:
        ``{relative path (str): path}``, sorted by path; empty when there is none.
    """
    folder = Path(folder)
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    )
    return {str(p.relative_to(folder)): p for p in files}


def score_videos(
    videos: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    settings: VBenchSettings | None = None,
    *,
    progress: Mapping[str, np.ndarray] | None = None,
    embedder: Any = None,
    spf: SPFSettings | None = None,
    work_dir: str | os.PathLike | None = None,
) -> VBenchResult:
    """Score videos with VBench (in ``.venv-vbench``) and compute their long-video drift.

    Args:
        videos: key -> video path, or a sequence of paths (then the key is the path as given).
            Keys must be unique; any container FFmpeg decodes (staged under a ``.mp4`` name).
        settings: dimensions, paths, device (default: all seven dimensions, CPU).
        progress: key -> normalised SPF ``S``, `np.ndarray` of shape ``(T,)`` float, for the
            ``spf_pace`` drift (e.g. from a run's ``spf/*.npz``); a key missing here is
            measured with ``embedder``.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder` for SPFs not given; ``None``
            skips the ``spf_pace`` drift of those videos.
        spf: SPF settings of those measurements (:class:`spf_bench.metrics.measure.SPFSettings`;
            pass the run's); ``None`` -> its defaults (window 30, sigma 20, lam 1e-5, power 1).
        work_dir: keep the staged folder, job, VBench output and log here (default: a temp
            folder, removed afterwards).

    Returns:
        :class:`VBenchResult`. Videos that cannot be decoded, and videos VBench returned no score
        for, have NaN scores and an entry in ``errors``; a dimension that crashed has NaN for
        every video and an entry in ``dimension_errors``.

    Raises:
        ValueError: bad settings or duplicate keys.
        VBenchEnvError: no VBench venv, or its process died.
        MissingVBenchWeightsError: before anything runs, listing every missing weight file.
        VBenchOutputError: VBench's output is not what the parser expects.
    """
    t_start = time.perf_counter()
    s = settings or VBenchSettings()
    # 1. names, venv and every weight file, before any work
    preflight(s)
    if isinstance(videos, Mapping):
        items = {str(k): Path(v) for k, v in videos.items()}
    else:
        items = {}
        for v in videos:
            if str(v) in items:
                raise ValueError(f"video {v} given twice")
            items[str(v)] = Path(v)
    dims = list(dict.fromkeys(s.dims))
    drift_dims = list(s.resolved_drift_dims())
    res = VBenchResult(dims=dims)
    for k in items:
        res.scores[k] = {d: math.nan for d in dims}
    if s.drift:
        res.drift_metrics = dict(DRIFT_METRICS)
        res.drift_metrics.update({f"vbench_{d}": vbench_drift_description(d) for d in drift_dims})

    tmp = tempfile.TemporaryDirectory(prefix="spf_vbench_") if work_dir is None else None
    work = Path(tmp.name if tmp else work_dir)
    try:
        work.mkdir(parents=True, exist_ok=True)
        # 2. decode with PyAV: unreadable videos fail here, by name; drift on the frames
        readable, segments = _decode_and_drift(
            items, s, res, progress, embedder, spf, work, drift_dims
        )
        # 3. stage flat, unique names
        staged = stage_videos(readable, work / "videos") if readable else {}
        seg_staged = stage_videos(segments, work / "segments", prefix="s") if segments else {}
        # 4. one VBench process
        tasks = []
        if staged:
            tasks.append({"tag": "videos", "videos_dir": str(work / "videos"), "dimensions": dims})
        if seg_staged and drift_dims:
            tasks.append(
                {"tag": "segments", "videos_dir": str(work / "segments"), "dimensions": drift_dims}
            )
        if tasks:
            out = run_vbench(tasks, work, s)
            res.versions = {
                "vbench": str(out.get("vbench_version", "")),
                "torch": str(out.get("torch_version", "")),
            }
            # 5. parse, normalise, check
            collect_dimensions(res, out, work / "out", "videos", staged, dims)
            if seg_staged:
                collect_segment_drift(res, out, work / "out", seg_staged, drift_dims)
    finally:
        if tmp is not None:
            tmp.cleanup()
    res.seconds["total"] = time.perf_counter() - t_start
    return res


def _decode_and_drift(
    items: Mapping[str, Path],
    s: VBenchSettings,
    res: VBenchResult,
    progress: Mapping[str, np.ndarray] | None,
    embedder: Any,
    spf: SPFSettings | None,
    work: Path,
    drift_dims: Sequence[str],
) -> tuple[dict[str, Path], dict[tuple[str, str], Path]]:
    """Step 2: decode each video, record frame counts, decode failures and drift in ``res``.

    Returns:
        ``(readable, segments)``: key -> path of the decodable videos; ``(key, "first" |
        "last")`` -> the segment clip written for the VBench drift dimensions.
    """
    from spf_bench.metrics.video_io import VideoDecodeError, read_video

    readable: dict[str, Path] = {}
    segments: dict[tuple[str, str], Path] = {}
    for i, (key, path) in enumerate(items.items()):
        try:
            frames, info = read_video(path)
        except (VideoDecodeError, FileNotFoundError, IsADirectoryError, ValueError) as err:
            res.errors.setdefault(key, {})["decode"] = f"{type(err).__name__}: {err}"
            continue
        readable[key] = path
        res.n_frames[key] = int(frames.shape[0])
        if not s.drift:
            continue
        prog = None if progress is None else progress.get(key)
        res.drift[key], error = frame_drift(frames, progress=prog, embedder=embedder, spf=spf)
        if error is not None:
            res.errors.setdefault(key, {})["drift"] = error
        if drift_dims and frames.shape[0] >= 4:
            try:
                first, last = write_segments(frames, info.fps, work / "segment_clips", f"c{i:05d}")
                segments[(key, "first")], segments[(key, "last")] = first, last
            except ValueError as err:
                res.errors.setdefault(key, {})["drift"] = str(err)
        del frames
    return readable, segments
