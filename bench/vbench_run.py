"""VBench scoring of a run directory or a folder of videos, and the files it writes.

The VBench adapter itself (:mod:`spf_bench.metrics.vbench`) scores videos given by path and
knows nothing of the bench's files; this module knows the run directory
(:func:`spf_bench.bench.pipeline.run_benchmark`): ``records.parquet``, the records'
``video_path`` (``videos/*.mp4``) and ``spf_path`` (``spf/*.npz``), ``config.json`` (its
``config.spf`` block: the run's SPF settings). Used by ``bench/run.py ... vbench.enabled=true``
(after the records are written) and by ``spf-bench vbench DIR`` (:mod:`spf_bench.bench.vbench_cmd`).

The run's ``records.parquet`` is left untouched; VBench results go to

- ``vbench.json``: per-video scores keyed by the records' ``video_path`` (relative to the run
  directory), VBench's aggregates, mean/std per (model, retime, iteration), the verdict table
  (:func:`spf_bench.metrics.vbench.verdict.verdict_table`) and the drift figures (schema
  ``spf-bench/vbench/1``, see :func:`score_run`);
- ``records_vbench.parquet``: ``records.parquet`` plus one float column ``vbench_<dimension>``
  per scored dimension, ``drift_<metric>`` columns and ``vbench_error`` (NaN / ``""`` where a
  record has no video or its scoring failed), joined on ``video_path``.

A plain folder (:func:`score_folder`) gets ``vbench.json`` without ``groups`` and ``verdict``,
keyed by each video's path relative to the folder.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.bench.results.rundir import HELDOUT_EMBEDDINGS, RunDir
from spf_bench.bench.results.stats import mean, std
from spf_bench.metrics.atomic_io import atomic_write_json
from spf_bench.metrics.fidelity import (
    crossfade_reference,
    frechet_bootstrap,
    reference_projection,
)
from spf_bench.metrics.measure import SPFSettings
from spf_bench.metrics.vbench import (
    DIMENSIONS,
    VBENCH_VERSION,
    VERDICT_KEYS,
    VBenchResult,
    VBenchSettings,
    one_std_verdict,
    original_and_retimed,
    score_videos,
    verdict_table,
    videos_in,
)
from spf_bench.metrics.video_io import read_video

__all__ = [
    "FRECHET_DIMS",
    "FRECHET_RESAMPLES",
    "SCHEMA",
    "brief",
    "frechet_fidelity",
    "group_stats",
    "load_progress",
    "merge_scores",
    "result_payload",
    "run_spf_settings",
    "score_folder",
    "score_run",
]

#: Schema tag of ``vbench.json``.
SCHEMA = "spf-bench/vbench/1"
#: Principal axes of the Fréchet distance's features, and its bootstrap resamples.
FRECHET_DIMS, FRECHET_RESAMPLES = 32, 200


# -------------------------------------------------------------- Records: merge and group statistics
def merge_scores(df: Any, result: VBenchResult) -> Any:
    """Records plus ``vbench_<dim>``, ``drift_<metric>`` and ``vbench_error`` columns.

    Args:
        df: records ``pandas.DataFrame`` (:func:`spf_bench.bench.results.record.to_frame` columns;
            ``video_path`` relative to the run directory, ``""`` for a record without video).
        result: scores keyed by ``video_path``.

    Returns:
        A new DataFrame, same rows and order; ``vbench_<dim>`` (float, normalised score),
        ``drift_<metric>`` (float, percent) and ``vbench_error`` (str: ``"<dim>: <reason>"``
        joined by ``"; "``, ``""`` when scored, ``"no video"``). Records without a video or
        whose scoring failed get NaN.
    """
    out = df.copy()
    paths = out["video_path"].astype(str)
    cols = [("vbench", result.scores, d) for d in result.dims]
    for prefix, table, name in cols + [("drift", result.drift, m) for m in result.drift_metrics]:
        out[f"{prefix}_{name}"] = [
            table.get(p, {}).get(name, math.nan) if p else math.nan for p in paths
        ]
    out["vbench_error"] = [
        "; ".join(f"{d}: {m.splitlines()[0]}" for d, m in result.errors.get(p, {}).items())
        if p
        else "no video"
        for p in paths
    ]
    return out


def group_stats(
    df: Any, columns: Sequence[str], by: Sequence[str] = ("model", "retime", "iteration")
) -> list[dict[str, Any]]:
    """Mean, std (ddof=1) and count of ``columns`` per group of ``ok`` records.

    Args:
        df: records with ``status`` and the ``by`` and ``columns`` columns
            (:func:`merge_scores`).
        columns: float columns to summarise (finite values only).
        by: group keys, sorted.

    Returns:
        A list of dicts ``{**group keys, "n_videos": int, "<col>": {"n", "mean", "std"}, ...}``
        (mean NaN without values, std NaN below 2).
    """
    ok = df[df["status"] == "ok"]
    rows = []
    for keys, g in ok.groupby(list(by), sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row: dict[str, Any] = {
            k: (v.item() if hasattr(v, "item") else v) for k, v in zip(by, keys, strict=True)
        }
        row["n_videos"] = len(g)
        for col in columns:
            v = g[col].to_numpy(dtype=np.float64)
            row[col] = {"n": int(np.isfinite(v).sum()), "mean": mean(v), "std": std(v)}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------- What a run directory holds
def load_progress(run_dir: Path, df: Any) -> dict[str, np.ndarray]:
    """The SPF ``S`` of each record, from its ``spf/*.npz``, for the ``spf_pace`` drift.

    Args:
        run_dir: the run directory (``spf_path`` is relative to it).
        df: records with ``video_path`` and ``spf_path``.

    Returns:
        ``video_path`` -> ``progress`` (``(T,)`` float64, 0 to 1); records without a video or
        an SPF file, or with an unreadable one, are left out (their drift is then NaN).
    """
    out = {}
    for vp, sp in zip(df["video_path"].astype(str), df["spf_path"].astype(str), strict=True):
        if not vp or not sp:
            continue
        try:
            with np.load(run_dir / sp) as npz:
                out[vp] = np.asarray(npz["progress"], dtype=np.float64)
        except (OSError, KeyError, ValueError):
            continue
    return out


def run_spf_settings(*dirs: str | os.PathLike) -> SPFSettings:
    """The run's SPF settings from the first of ``dirs`` that has a ``config.json``
    (:meth:`spf_bench.bench.results.rundir.RunDir.spf_settings`, the one parser).

    Args:
        dirs: folders to look in, in order (a sweep job's folder, then the run directory).

    Returns:
        The checked :class:`spf_bench.metrics.measure.SPFSettings`.

    Raises:
        FileNotFoundError: none of ``dirs`` has a ``config.json``.
        spf_bench.bench.results.rundir.RunDirError: it is unreadable, has no ``config.spf``
            block, or the block has unknown or invalid values (a ``ValueError``).
    """
    for d in dirs:
        rd = RunDir(d)
        if rd.config_path.is_file():
            return rd.spf_settings()
    raise FileNotFoundError(
        f"no config.json in {', '.join(str(d) for d in dirs)}: the run's SPF settings "
        "are unknown (not a spf-bench run directory?)"
    )


# ------------------------------------------------------------------ Offline fidelity (Fréchet)
def frechet_fidelity(
    run_dir: str | os.PathLike,
    df: Any,
    embedder: Any,
    embedder_name: str,
    *,
    dims: int = FRECHET_DIMS,
    n_resamples: int = FRECHET_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The Fréchet distance of each group's original and retimed frames to evenly paced
    references, and its one-std verdict (:mod:`spf_bench.metrics.fidelity`).

    Per group ``(model, retime, embedder, pacing)`` of ``ok`` records with videos: the
    original (iteration 0) and retimed (final, iteration > 0) records of
    :func:`spf_bench.metrics.vbench.original_and_retimed`; item ``i``'s reference is the linear
    crossfade between the first and last frames of its original video, at that video's frame
    count (:func:`~spf_bench.metrics.fidelity.crossfade_reference`). A record's features are
    the ``spf/*.npz`` rows its held-out judge stored when that judge is this embedder (the
    frames as generated; ``heldout_embeddings_<name>``), else its decoded video (PyAV)
    embedded with ``embedder``; references are always embedded here. The features are
    projected on the first ``dims`` principal axes of the group's reference features; each
    set's distance is bootstrapped over its items. With retimed records only the items that
    have both are used, so both sets are measured against the same references. The verdict
    row uses the original's bootstrap std (:func:`spf_bench.metrics.vbench.one_std_verdict`).

    Args:
        run_dir: the run directory (``video_path`` is relative to it).
        df: records (``records.parquet`` columns).
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`.
        embedder_name: its name (the verdict's dimension is ``frechet_<name>``).
        dims, n_resamples, seed: of :func:`~spf_bench.metrics.fidelity.frechet_bootstrap`.

    Returns:
        ``{"dimension", "embedder", "reference", "dims", "n_resamples", "groups": [{group
        keys, "n_items", "original": FrechetResult fields, "retimed": ... or None}],
        "verdict": [rows with the columns of verdict_table]}``; a group with fewer than 2
        items with videos is left out.

    Raises:
        spf_bench.metrics.video_io.VideoReadError: an unreadable video.
    """
    run_dir = Path(run_dir)
    dim = f"frechet_{embedder_name}"
    ok = df[(df["status"] == "ok") & (df["video_path"].astype(str) != "")]
    stored = f"{HELDOUT_EMBEDDINGS}{embedder_name}"

    def features(row: Any) -> np.ndarray:
        """The frame features of a record: its held-out judge's rows when the run stored
        them for this embedder (frames as generated), else its decoded video embedded."""
        try:
            with np.load(run_dir / str(row.spf_path)) as npz:
                if stored in npz:
                    return np.asarray(npz[stored], dtype=np.float64)
        except (OSError, ValueError):
            pass
        return embedder.embed(read_video(run_dir / str(row.video_path))[0])

    groups, verdict = [], []
    for key, g in ok.groupby(list(VERDICT_KEYS), sort=True, dropna=False):
        original, retimed = original_and_retimed(g)
        if len(retimed):
            original = original[original["item_id"].isin(set(retimed["item_id"]))]
            by_item = {r.item_id: r for r in retimed.itertuples()}
        if len(original) < 2:
            continue
        ref, orig, ret = [], [], []
        for row in original.itertuples():
            frames = read_video(run_dir / str(row.video_path))[0]
            ref.append(embedder.embed(crossfade_reference(frames[0], frames[-1], len(frames))))
            orig.append(features(row))
            if len(retimed):
                ret.append(features(by_item[row.item_id]))
        proj = reference_projection(ref, dims)
        kw = {"projection": proj, "n_resamples": n_resamples, "seed": seed}
        o = frechet_bootstrap(orig, ref, **kw)
        r = frechet_bootstrap(ret, ref, **kw) if ret else None
        names = {k: str(v) for k, v in zip(VERDICT_KEYS, key, strict=True)}
        groups.append(
            {
                **names,
                "n_items": len(orig),
                "original": o.as_dict(),
                "retimed": r.as_dict() if r else None,
            }
        )
        verdict.append(
            {
                **names,
                "dimension": dim,
                "n_original": o.n_items,
                "original_mean": o.fd,
                "original_std": o.std,
                "n_retimed": r.n_items if r else 0,
                "retimed_mean": r.fd if r else math.nan,
                "retimed_std": r.std if r else math.nan,
                **one_std_verdict(o.fd, o.std, r.fd if r else math.nan),
            }
        )
    return {
        "dimension": dim,
        "embedder": embedder_name,
        "reference": "linear crossfade between the first and last frames of each item's "
        "iteration-0 video, at its frame count",
        "dims": int(dims),
        "n_resamples": int(n_resamples),
        "groups": groups,
        "verdict": verdict,
    }


# -------------------------------------------------------------------------------------- vbench.json
def result_payload(result: VBenchResult, s: VBenchSettings, **extra: Any) -> dict[str, Any]:
    """The JSON payload of a :class:`~spf_bench.metrics.vbench.VBenchResult`.

    Args:
        result: the scores.
        s: the settings they were scored with (device, paths).
        extra: keys inserted after ``schema`` (``run_dir`` or ``videos_dir``).

    Returns:
        The ``vbench.json`` fields of :func:`score_run` but ``groups`` and ``verdict``, which
        need records.
    """
    cache, torch_home, _ = s.paths()
    stats = result.video_stats()
    videos = {}
    for key in result.scores:
        videos[key] = {
            "scores": result.scores[key],
            "raw": result.raw.get(key, {}),
            "n_frames": result.n_frames.get(key),
            "drift": result.drift.get(key, {}),
            "errors": result.errors.get(key, {}),
        }
    return {
        "schema": SCHEMA,
        **extra,
        "dimensions": result.dims,
        "vbench_version": result.versions.get("vbench", VBENCH_VERSION),
        "torch_version": result.versions.get("torch", ""),
        "device": s.device,
        "cache_dir": str(cache),
        "torch_home": str(torch_home),
        "seconds": result.seconds,
        "videos": videos,
        "aggregate": {
            d: {
                "vbench": result.vbench_aggregate.get(d, math.nan),
                **stats[d],
                "aggregation": DIMENSIONS[d].aggregate,
            }
            for d in result.dims
        },
        "drift_metrics": result.drift_metrics,
        "dimension_errors": result.dimension_errors,
        "n_failed": len(result.failed),
        "failures": result.failed,
    }


def brief(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a ``vbench.json`` payload that goes into a run's ``summary.json``.

    Returns:
        ``{"file": "vbench.json", "dimensions", "aggregate", "verdict", "fidelity" (the
        Fréchet groups, ``{}`` without), "n_failed",
        "dimension_errors" (first lines), "seconds" (total, s)}``.
    """
    return {
        "file": "vbench.json",
        "dimensions": payload["dimensions"],
        "aggregate": payload["aggregate"],
        "verdict": payload.get("verdict", []),
        "fidelity": {k: v for k, v in payload.get("fidelity", {}).items() if k != "verdict"},
        "n_failed": payload["n_failed"],
        "dimension_errors": {k: v.splitlines()[0] for k, v in payload["dimension_errors"].items()},
        "seconds": payload["seconds"].get("total"),
    }


# ------------------------------------------------------------------------------------------ Scoring
def score_run(
    run_dir: str | os.PathLike,
    settings: VBenchSettings | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    spf: SPFSettings | None = None,
    work_dir: str | os.PathLike | None = None,
    frechet: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """Score every video of a run directory; write ``vbench.json`` and ``records_vbench.parquet``.

    Reads ``records.parquet``; scores the ``ok`` records' ``video_path`` files; the SPF pace
    drift uses each record's ``spf/*.npz`` ``progress`` (no re-embedding), which the run wrote
    with its own SPF settings; ``spf`` (the run's, from ``config.json``) goes down to the
    adapter for any SPF measured there.

    ``vbench.json`` (schema ``spf-bench/vbench/1``)::

        {"schema", "run_dir", "dimensions", "vbench_version", "torch_version", "device",
         "cache_dir", "torch_home", "seconds": {dim: s, "total": s},
         "videos": {video_path: {"scores": {dim: float|null}, "raw": {dim: value},
                                 "n_frames": int, "drift": {metric: float|null},
                                 "errors": {dim: str}}},
         "aggregate": {dim: {"vbench": VBench's aggregate, "n", "mean", "std",
                             "aggregation": "frame_weighted"|"video_mean"}},
         "groups": [group_stats rows per (model, retime, iteration)],
         "verdict": [verdict_table rows],
         "drift_metrics": {metric: what M is},
         "dimension_errors": {dim: str}, "n_failed": int, "failures": [video_path, ...]}

    Args:
        run_dir: a run directory written by :func:`spf_bench.bench.pipeline.run_benchmark`
            (videos and ``spf/*.npz`` are resolved against it).
        settings: VBench settings.
        out_dir: where ``records.parquet`` and ``config.json`` are read and ``vbench.json`` /
            ``records_vbench.parquet`` are written (a sweep job's folder); default ``run_dir``.
        spf: the run's SPF settings; ``None`` -> :func:`run_spf_settings` of ``out_dir`` then
            ``run_dir``.
        work_dir: keep VBench's intermediate files here.
        frechet: ``(embedder name, embedder)``: also the offline Fréchet fidelity
            (:func:`frechet_fidelity`): ``vbench.json`` gets its block under ``"fidelity"``
            and its rows join ``"verdict"`` (dimension ``frechet_<name>``).

    Returns:
        The ``vbench.json`` payload.

    Raises:
        FileNotFoundError: no ``records.parquet`` in ``out_dir``, or (``spf`` not given) no
            ``config.json``.
        ValueError: an unusable ``config.spf`` block.
        The errors of :func:`spf_bench.metrics.vbench.score_videos`.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    s = settings or VBenchSettings()
    table = out_dir / "records.parquet"
    if not table.is_file():
        raise FileNotFoundError(f"no records.parquet in {out_dir}: not a spf-bench run directory")
    if spf is None:
        spf = run_spf_settings(out_dir, run_dir)
    df = pd.read_parquet(table)
    ok = df[(df["status"] == "ok") & (df["video_path"].astype(str) != "")]
    videos = {vp: run_dir / vp for vp in dict.fromkeys(ok["video_path"].astype(str))}
    result = score_videos(
        videos, s, progress=load_progress(run_dir, ok), spf=spf, work_dir=work_dir
    )
    merged = merge_scores(df, result)
    out = RunDir(out_dir)
    with out.atomic_path("records_vbench.parquet") as tmp:
        merged.to_parquet(tmp, index=False)
    payload = result_payload(result, s, run_dir=str(run_dir))
    cols = [f"vbench_{d}" for d in result.dims] + [f"drift_{m}" for m in result.drift_metrics]
    payload["groups"] = group_stats(merged, cols)
    payload["verdict"] = verdict_table(merged, result.dims)
    if frechet is not None:
        payload["fidelity"] = frechet_fidelity(run_dir, df, frechet[1], frechet[0])
        payload["verdict"] += payload["fidelity"]["verdict"]
    out.write_json("vbench.json", payload)
    return payload


def score_folder(
    folder: str | os.PathLike,
    settings: VBenchSettings | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    embedder: Any = None,
    spf: SPFSettings | None = None,
    work_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Score every video under a plain folder (:func:`spf_bench.metrics.vbench.videos_in`).

    Args:
        folder: any folder of videos (recursive).
        settings: VBench settings.
        out_dir: where ``vbench.json`` goes; default ``folder``.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder` for the ``spf_pace`` drift
            (``None`` skips it).
        spf: SPF settings of that measurement; ``None`` -> the defaults of
            :class:`spf_bench.metrics.measure.SPFSettings`.
        work_dir: keep VBench's intermediate files here.

    Returns:
        The ``vbench.json`` payload (:func:`result_payload` with ``videos_dir``), keyed by each
        video's path relative to ``folder``.

    Raises:
        FileNotFoundError: no video file under ``folder``.
        The errors of :func:`spf_bench.metrics.vbench.score_videos`.
    """
    folder = Path(folder)
    videos = videos_in(folder)
    if not videos:
        raise FileNotFoundError(f"no video files under {folder}")
    s = settings or VBenchSettings()
    result = score_videos(videos, s, embedder=embedder, spf=spf, work_dir=work_dir)
    payload = result_payload(result, s, videos_dir=str(folder))
    atomic_write_json(Path(out_dir if out_dir is not None else folder) / "vbench.json", payload)
    return payload
