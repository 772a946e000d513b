"""Read VBench's output: per-video values, their normalisation and the aggregate check.

VBench 0.1.5 writes one ``<name>_eval_results.json`` per dimension::

    {dimension: [aggregate, [{"video_path": str, "video_results": value, ...}, ...]]}

:func:`parse_dimension_results` brings each per-video value to the scale of VBench's own
aggregate (:data:`spf_bench.metrics.vbench.registry.DIMENSIONS`: ``imaging_quality`` MUSIQ
0-100 divided by 100, ``dynamic_degree`` booleans to 0.0 / 1.0, the others already in [0, 1]),
keeps the raw value, and recomputes the aggregate from the per-video values (frame-weighted for
the two consistency dimensions, a plain mean otherwise): a misread scale or a lost video fails
loudly instead of passing. A staged video VBench returned no score for is reported, never a
silent gap. :class:`VBenchResult` collects the scores of one scoring call;
:func:`collect_dimensions` and :func:`collect_segment_drift` fill it from the runner's output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.metrics.vbench.registry import DIMENSIONS, Dimension, VBenchOutputError

__all__ = [
    "VBenchResult",
    "collect_dimensions",
    "collect_segment_drift",
    "load_results",
    "parse_dimension_results",
]


@dataclass
class VBenchResult:
    """Per-video VBench scores (keyed by the caller's key), aggregates and drift.

    Attributes:
        dims: dimensions scored.
        scores: key -> {dim: normalised score, NaN when it failed}.
        raw: key -> {dim: VBench's per-video value as written}.
        errors: key -> {dim, ``"decode"``, ``"drift"`` or ``"drift:<dim>"``: reason}; a key
            absent here was scored on every dim.
        vbench_aggregate: dim -> VBench's own aggregate (normalised scale).
        dimension_errors: dim -> error of a dimension that failed as a whole.
        drift: key -> {metric: drift, percent}; metrics of
            :data:`spf_bench.metrics.vbench.drift.DRIFT_METRICS` and ``vbench_<dim>``.
        drift_metrics: metric -> description of the M it uses.
        n_frames: key -> frames (PyAV decode).
        seconds: dim -> VBench time, seconds; ``"total"`` -> wall time of
            :func:`spf_bench.metrics.vbench.score_videos`.
        versions: vbench / torch versions in the VBench venv.
    """

    dims: list[str]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    vbench_aggregate: dict[str, float] = field(default_factory=dict)
    dimension_errors: dict[str, str] = field(default_factory=dict)
    drift: dict[str, dict[str, float]] = field(default_factory=dict)
    drift_metrics: dict[str, str] = field(default_factory=dict)
    n_frames: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Keys with at least one failure."""
        return sorted(self.errors)

    def video_stats(self) -> dict[str, dict[str, float]]:
        """dim -> ``{"n", "mean", "std"}`` over the videos scored (finite scores; std with
        ddof=1, NaN below 2 videos; mean NaN without any)."""
        out = {}
        for dim in self.dims:
            v = np.array(
                [s[dim] for s in self.scores.values() if math.isfinite(s.get(dim, math.nan))]
            )
            out[dim] = {
                "n": int(v.size),
                "mean": float(v.mean()) if v.size else math.nan,
                "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            }
        return out


def _as_number(dim: Dimension, value: Any, where: str) -> float:
    """A per-video value as a float (booleans 0.0 / 1.0 for ``bool`` dimensions), checked."""
    if dim.per_video_kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return float(bool(value))
        if isinstance(value, (int, float)) and value in (0, 1):
            return float(value)
        raise VBenchOutputError(
            f"{dim.name}: expected a boolean per video at {where}, got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VBenchOutputError(
            f"{dim.name}: expected a number per video at {where}, got {value!r}"
        )
    if not math.isfinite(float(value)):
        raise VBenchOutputError(f"{dim.name}: non-finite per-video value {value!r} at {where}")
    return float(value)


def parse_dimension_results(
    dim_name: str,
    results: Mapping[str, Any],
    staged: Mapping[str, str],
    n_frames: Mapping[str, int] | None = None,
    *,
    rtol: float = 1e-6,
) -> tuple[dict[str, float], dict[str, Any], float, dict[str, str]]:
    """Read one dimension out of VBench's ``<name>_eval_results.json``.

    VBench writes ``{dimension: [aggregate, [{"video_path": str, "video_results": value,
    ...}, ...]]}``. Per-video values are brought to the aggregate's scale (see
    :data:`DIMENSIONS`); VBench's aggregate is then checked against the one recomputed from them
    (frame-weighted for the consistency dimensions, weights ``frames - 1``, from
    ``cnt_per_video`` when VBench gives it, else ``n_frames``), so a misread scale fails here.

    Source: VBench 0.1.5's ``<dim>.py`` modules (``compute_<dim>`` returns
    ``(aggregate, per-video list)``; the consistency dimensions weight by frames - 1).

    Args:
        dim_name: the dimension.
        results: the parsed JSON file.
        staged: staged file name (``v00000.mp4``) -> the caller's key; every key must be scored.
        n_frames: staged file name -> frames VBench's reader sees (frame-weighted check).
        rtol: relative tolerance of the aggregate check.

    Returns:
        ``(scores, raw, aggregate, errors)``: ``scores`` key -> normalised score;
        ``raw`` key -> VBench's per-video value as written; ``aggregate``: VBench's aggregate
        (already on the normalised scale); ``errors`` key -> why a staged video has no score.

    Raises:
        VBenchOutputError: wrong shape, a value of the wrong type, a video VBench scored that was
            not staged or scored twice, or an aggregate that disagrees with the per-video values.
    """
    dim = DIMENSIONS[dim_name]
    if dim_name not in results:
        raise VBenchOutputError(f"{dim_name}: not in VBench's results (keys {sorted(results)})")
    entry = results[dim_name]
    if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[1], list):
        raise VBenchOutputError(
            f"{dim_name}: expected [aggregate, [per-video dicts]], got {type(entry).__name__} "
            f"{str(entry)[:200]}"
        )
    agg_raw, videos = entry
    scores: dict[str, float] = {}
    raw: dict[str, Any] = {}
    weights: dict[str, float] = {}
    for i, item in enumerate(videos):
        if not isinstance(item, dict) or "video_path" not in item or "video_results" not in item:
            raise VBenchOutputError(f"{dim_name}: per-video entry {i} malformed: {item!r}"[:300])
        name = Path(str(item["video_path"])).name
        if name not in staged:
            raise VBenchOutputError(
                f"{dim_name}: VBench scored an unknown video {item['video_path']}"
            )
        key = staged[name]
        if key in scores:
            raise VBenchOutputError(f"{dim_name}: video {key} scored twice")
        value = _as_number(dim, item["video_results"], f"{key} ({name})")
        scores[key] = value * dim.per_video_scale
        raw[key] = item["video_results"]
        if dim.aggregate == "frame_weighted":
            if "cnt_per_video" in item:
                weights[key] = float(item["cnt_per_video"])
            elif n_frames is not None and n_frames.get(name, -1) > 1:
                weights[key] = float(n_frames[name] - 1)
    errors = {
        key: (
            f"VBench returned no {dim_name} score for this video (it skips videos its reader "
            "cannot decode)"
        )
        for name, key in staged.items()
        if key not in scores
    }
    if isinstance(agg_raw, bool) or not isinstance(agg_raw, (int, float)):
        raise VBenchOutputError(f"{dim_name}: aggregate is not a number: {agg_raw!r}")
    aggregate = float(agg_raw)
    if scores:
        vals = np.array(list(scores.values()))
        if dim.aggregate == "frame_weighted" and len(weights) == len(scores):
            w = np.array([weights[k] for k in scores])
            expect = float(np.sum(vals * w) / np.sum(w))
        elif dim.aggregate == "frame_weighted":
            expect = math.nan  # frame counts unknown: cannot recompute
        else:
            expect = float(np.mean(vals))
        if math.isfinite(expect) and not math.isclose(
            aggregate, expect, rel_tol=rtol, abs_tol=1e-9
        ):
            raise VBenchOutputError(
                f"{dim_name}: VBench's aggregate {aggregate!r} does not match {expect!r} "
                f"recomputed ({dim.aggregate}) from the per-video values; the per-video scale "
                f"(x{dim.per_video_scale}) or the video set is not what this parser expects"
            )
    return scores, raw, aggregate, errors


def load_results(out: Mapping[str, Any], out_dir: Path, tag: str, dim: str) -> dict[str, Any] | str:
    """The parsed result file of ``dim`` in task ``tag``, or why there is none.

    Args:
        out: the runner's result JSON (:func:`spf_bench.metrics.vbench.runner.run_vbench`).
        out_dir: VBench's output folder (``results_file`` is relative to it).
        tag: task tag (``"videos"`` or ``"segments"``).
        dim: the dimension.

    Returns:
        The ``<tag>__<dim>_eval_results.json`` content, or a string: the runner's error (with
        its traceback) or the note that the runner did not report the dimension.

    Raises:
        OSError, ValueError: the runner reported success but its result file is missing or
            not JSON.
    """
    info = out.get("tasks", {}).get(tag, {}).get(dim)
    if info is None:
        return f"the VBench runner did not report {dim}"
    if info.get("status") != "ok":
        return str(info.get("error", "failed")).strip()
    return json.loads((out_dir / info["results_file"]).read_text())


def collect_dimensions(
    res: VBenchResult,
    out: Mapping[str, Any],
    out_dir: Path,
    tag: str,
    staged: Mapping[str, str],
    dims: Sequence[str],
) -> None:
    """Parse every dimension of task ``tag`` into ``res`` (in place).

    A dimension that failed as a whole goes to ``res.dimension_errors`` and to every staged
    video's ``errors`` (its scores stay NaN); a video it did not score gets an ``errors`` entry.

    Args:
        res: the result to fill; ``res.scores`` must already hold every key of ``staged``.
        out: the runner's result JSON.
        out_dir: VBench's output folder.
        tag: task tag.
        staged: staged file name -> caller's key
            (:func:`spf_bench.metrics.vbench.runner.stage_videos`).
        dims: dimensions of the task.

    Raises:
        VBenchOutputError: from :func:`parse_dimension_results`.
    """
    n_frames = out.get("n_frames", {}).get(tag, {})
    for dim in dims:
        info = out.get("tasks", {}).get(tag, {}).get(dim, {})
        res.seconds[dim] = float(info.get("seconds", math.nan))
        loaded = load_results(out, out_dir, tag, dim)
        if isinstance(loaded, str):
            res.dimension_errors[dim] = loaded
            for key in staged.values():
                res.errors.setdefault(key, {})[dim] = (
                    f"VBench {dim} failed: {loaded.splitlines()[0]}"
                )
            continue
        scores, raw, agg, errors = parse_dimension_results(dim, loaded, staged, n_frames)
        res.vbench_aggregate[dim] = agg
        for key, v in scores.items():
            res.scores[key][dim] = v
            res.raw.setdefault(key, {})[dim] = raw[key]
        for key, msg in errors.items():
            res.errors.setdefault(key, {})[dim] = msg


def collect_segment_drift(
    res: VBenchResult,
    out: Mapping[str, Any],
    out_dir: Path,
    seg_staged: Mapping[str, tuple[str, str]],
    dims: Sequence[str],
) -> None:
    """Turn the ``"segments"`` task into ``res.drift[key]["vbench_<dim>"]`` (in place).

    ``drift = 100 * |score(first segment clip) - score(last segment clip)|``, percentage points
    of the normalised score; NaN (and an ``errors`` entry ``drift:<dim>``) when VBench dropped
    either clip, NaN for every video when the dimension failed as a whole
    (``res.dimension_errors["drift:<dim>"]``).

    Args:
        res: the result to fill.
        out: the runner's result JSON.
        out_dir: VBench's output folder.
        seg_staged: staged clip name -> ``(caller's key, "first" | "last")``.
        dims: dimensions scored on the clips.

    Raises:
        VBenchOutputError: from :func:`parse_dimension_results`.
    """
    flat = {name: f"{key}\x00{end}" for name, (key, end) in seg_staged.items()}
    n_frames = out.get("n_frames", {}).get("segments", {})
    for dim in dims:
        metric = f"vbench_{dim}"
        loaded = load_results(out, out_dir, "segments", dim)
        if isinstance(loaded, str):
            res.dimension_errors[f"drift:{dim}"] = loaded
            for key in {k for k, _ in seg_staged.values()}:
                res.drift.setdefault(key, {})[metric] = math.nan
            continue
        scores, _, _, _ = parse_dimension_results(dim, loaded, flat, n_frames)
        for key in {k for k, _ in seg_staged.values()}:
            a, b = scores.get(f"{key}\x00first"), scores.get(f"{key}\x00last")
            ok = a is not None and b is not None
            res.drift.setdefault(key, {})[metric] = 100.0 * abs(a - b) if ok else math.nan
            if not ok:
                res.errors.setdefault(key, {})[f"drift:{dim}"] = "VBench dropped a segment clip"
