"""The ``vbench.json`` document of a :class:`~spf_bench.metrics.vbench.VBenchResult`, its
columns on a records table, and a plain folder of videos scored and written.

Schema ``spf-bench/vbench/1`` (:data:`SCHEMA`): :func:`result_payload`; a run directory's copy
adds ``groups`` and ``verdict`` (``spf_bench.bench.vbench_run.score_run``). Like the rest of
this package it imports nothing of ``spf_bench.bench``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from spf_bench.metrics.atomic_io import atomic_write_json
from spf_bench.metrics.fidelity import (
    crossfade_reference,
    frechet_bootstrap,
    reference_projection,
)
from spf_bench.metrics.measure import SPFSettings
from spf_bench.metrics.vbench.parsing import VBenchResult
from spf_bench.metrics.vbench.registry import DIMENSIONS, VBENCH_VERSION, VBenchSettings
from spf_bench.metrics.vbench.score import score_videos, videos_in
from spf_bench.metrics.vbench.verdict import VERDICT_KEYS, one_std_verdict, original_and_retimed

#: Principal axes of the Fréchet distance's features, and its bootstrap resamples.
FRECHET_DIMS, FRECHET_RESAMPLES = 32, 200

__all__ = [
    "FRECHET_DIMS",
    "FRECHET_RESAMPLES",
    "SCHEMA",
    "brief",
    "frechet_fidelity",
    "merge_scores",
    "print_tables",
    "result_payload",
    "score_folder",
]

#: Schema tag of ``vbench.json``.
SCHEMA = "spf-bench/vbench/1"


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
        Fréchet groups, ``{}`` without), "n_failed", "dimension_errors" (first lines),
        "seconds" (total, s)}``.
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


def frechet_fidelity(
    df: Any,
    frames_of: Callable[[Any], np.ndarray],
    features_of: Callable[[Any], np.ndarray | None],
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
    :func:`spf_bench.metrics.vbench.verdict.original_and_retimed`; item ``i``'s reference is
    the linear crossfade between the first and last frames of its original video, at that
    video's frame count (:func:`~spf_bench.metrics.fidelity.crossfade_reference`). A record's
    features are ``features_of(row)`` (the frames as generated, embedded by the run's held-out
    judge when it is this embedder) or, when that is ``None``, its decoded frames embedded
    with ``embedder``; references are always embedded here. The features are projected on the
    first ``dims`` principal axes of the group's reference features; each set's distance is
    bootstrapped over its items. With retimed records only the items that have both are used,
    so both sets are measured against the same references. The verdict row uses the
    original's bootstrap std (:func:`spf_bench.metrics.vbench.verdict.one_std_verdict`).

    Args:
        df: records (``records.parquet`` columns).
        frames_of: ``row -> (T, H, W, 3)`` uint8, a record's decoded video.
        features_of: ``row -> (T, D)`` float features stored by the run, or ``None``.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`.
        embedder_name: its name (the verdict's dimension is ``frechet_<name>``).
        dims, n_resamples, seed: of :func:`~spf_bench.metrics.fidelity.frechet_bootstrap`.

    Returns:
        ``{"dimension", "embedder", "reference", "dims", "n_resamples", "groups": [{group
        keys, "n_items", "original": FrechetResult fields, "retimed": ... or None}],
        "verdict": [rows with the columns of verdict_table]}``; a group with fewer than 2
        items with videos is left out.

    Raises:
        Whatever ``frames_of`` raises on an unreadable video.
    """
    dim = f"frechet_{embedder_name}"
    ok = df[(df["status"] == "ok") & (df["video_path"].astype(str) != "")]

    def features(row: Any, frames: np.ndarray | None = None) -> np.ndarray:
        """Stored features, else the (given or decoded) frames embedded."""
        stored = features_of(row)
        if stored is not None:
            return stored
        return embedder.embed(frames_of(row) if frames is None else frames)

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
            frames = frames_of(row)
            ref.append(embedder.embed(crossfade_reference(frames[0], frames[-1], len(frames))))
            orig.append(features(row, frames))  # decoded once for reference and features
            if len(retimed):
                ret.append(features(by_item[row.item_id]))
        kw = {"projection": reference_projection(ref, dims), "n_resamples": n_resamples}
        o = frechet_bootstrap(orig, ref, seed=seed, **kw)
        r = frechet_bootstrap(ret, ref, seed=seed, **kw) if ret else None
        names = {k: str(v) for k, v in zip(VERDICT_KEYS, key, strict=True)}
        groups.append(
            {**names, "n_items": len(orig), "original": o.as_dict(), "retimed": r and r.as_dict()}
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


def _fmt(v: Any, spec: str = ".4f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "nan"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return format(v, spec)


def print_tables(payload: Mapping[str, Any]) -> None:
    """Print a ``vbench.json`` payload as tables: per-video scores and drift, the aggregates
    and, when it has retimed iterations, the verdict (``rich``, 160 columns)."""
    console = Console(width=160)
    dims = payload["dimensions"]
    t = Table(title="VBench per video (normalised: all dimensions on VBench's aggregate scale)")
    t.add_column("video", justify="left")
    for d in dims:
        t.add_column(d, justify="right")
    drift_metrics = list(payload.get("drift_metrics", {}))
    for m in drift_metrics:
        t.add_column(f"drift {m} (%)", justify="right")
    for key, v in payload["videos"].items():
        t.add_row(
            key,
            *(_fmt(v["scores"].get(d)) for d in dims),
            *(_fmt(v["drift"].get(m), ".3f") for m in drift_metrics),
        )
    console.print(t)
    a = Table(title="VBench aggregates")
    for col in ("dimension", "VBench aggregate", "aggregation", "n", "mean", "std"):
        a.add_column(col, justify="left" if col in ("dimension", "aggregation") else "right")
    for d, st in payload["aggregate"].items():
        n = str(st["n"])
        a.add_row(d, _fmt(st["vbench"]), st["aggregation"], n, _fmt(st["mean"]), _fmt(st["std"]))
    console.print(a)
    verdict = payload.get("verdict") or []
    if any(r["n_retimed"] for r in verdict):
        v = Table(title="Verdict: retimed mean within one std of the original (paper Sec. 6)")
        left = ("model", "retime", "embedder", "pacing", "dimension")
        right = ("n orig", "original mean ± std", "n ret", "retimed mean", "delta / std")
        for col in (*left, *right, "within 1 std"):
            v.add_column(col, justify="left" if col in left else "right")
        for r in verdict:
            v.add_row(
                r["model"],
                r["retime"],
                r["embedder"],
                r["pacing"],
                r["dimension"],
                str(r["n_original"]),
                f"{_fmt(r['original_mean'])} ± {_fmt(r['original_std'])}",
                str(r["n_retimed"]),
                _fmt(r["retimed_mean"]),
                _fmt(r["delta_in_std"], "+.2f"),
                "n/a" if r["within_one_std"] is None else _fmt(r["within_one_std"]),
            )
        console.print(v)
    elif "verdict" in payload:
        console.print("verdict: no retimed iterations (iteration > 0) in these records")
    for m, what in payload.get("drift_metrics", {}).items():
        console.print(f"drift {m}: {what}")
