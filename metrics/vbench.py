"""VBench fidelity scores, the one-std verdict and long-video drift (paper Sec. 6).

The paper's fidelity claim: VBench's aesthetic, motion and temporal dimensions of retimed videos
stay within one standard deviation of the originals. This module measures exactly that with
VBench 0.1.5 itself (Huang et al., "VBench: Comprehensive Benchmark Suite for Video Generative
Models", CVPR 2024), run in its own virtual environment ``.venv-vbench`` (``make vbench-env``)
because its pins (numpy<2, transformers==4.33.2) clash with spf-bench's.

Flow of :func:`score_videos` (numbered as in the code):

1. check the dimension names, the VBench venv and **every weight file** the dimensions need
   (:func:`check_weights`), before anything runs: VBench would otherwise shell out to ``wget``;
2. decode every video with PyAV (:func:`metrics.video_io.read_video`); an unreadable or
   truncated one fails here, by name (VBench would silently drop it or read half of it);
3. stage the readable videos as ``v00000.mp4``, ``v00001.mp4``... (symlinks) in one flat temp
   folder: VBench lists videos with a non-recursive, unsorted ``os.listdir`` and keys its output
   on the staged path, which maps back to the caller's key;
4. run ``metrics/_vbench_runner.py`` with ``.venv-vbench/bin/python`` (``VBENCH_CACHE_DIR``,
   ``TORCH_HOME`` and ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` set in its environment, downloads
   blocked), one VBench ``evaluate(..., mode="custom_input", local=True)`` per dimension;
5. parse each ``<dim>_eval_results.json`` (:func:`parse_dimension_results`) with the scale
   quirks of :data:`DIMENSIONS` and check VBench's aggregate against one recomputed from the
   per-video values (a misread scale or a lost video fails loudly); a video VBench returned no
   score for is a recorded failure (NaN plus the reason), never a silent gap;
6. long-video drift of every video (:func:`flicker_drift`, :func:`spf_pace_drift`, and VBench
   dimensions on the first/last 15% of frames where their weights exist).

Scores are normalised to one scale per dimension, the scale of VBench's own aggregate:
``imaging_quality`` per-video values (MUSIQ, 0-100) are divided by 100; ``dynamic_degree``
per-video booleans become 0.0 / 1.0; every other dimension is already in [0, 1]. The raw
values are kept too.

Run-directory contract (:func:`score_run`, used by ``bench/run.py ... vbench.enabled=true`` and
``spf-bench vbench DIR``): the run's ``records.parquet`` is left untouched; VBench results go to

- ``vbench.json``: per-video scores keyed by the records' ``video_path`` (relative to the run
  directory), VBench's aggregates, mean/std per (model, retime, iteration), the verdict table
  and the drift figures (schema ``spf-bench/vbench/1``, see :func:`score_run`);
- ``records_vbench.parquet``: ``records.parquet`` plus one float column ``vbench_<dimension>``
  per scored dimension, ``drift_<metric>`` columns and ``vbench_error`` (NaN / ``""`` where a
  record has no video or its scoring failed), joined on ``video_path``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metrics.atomic_io import atomic_write_json

__all__ = [
    "DEFAULT_VENV",
    "DIMENSIONS",
    "DRIFT_FRACTION",
    "DRIFT_METRICS",
    "Dimension",
    "MissingVBenchWeightsError",
    "VBenchEnvError",
    "VBenchError",
    "VBenchOutputError",
    "VBenchResult",
    "VBenchSettings",
    "WeightFile",
    "brief",
    "check_weights",
    "flicker_drift",
    "flicker_score",
    "group_stats",
    "merge_scores",
    "missing_weights",
    "parse_dimension_results",
    "preflight",
    "provisioning_script",
    "score_run",
    "score_videos",
    "segment_bounds",
    "spf_pace_drift",
    "verdict_table",
    "videos_in",
]

ROOT = Path(__file__).resolve().parents[1]
#: The VBench virtual environment built by ``make vbench-env``.
DEFAULT_VENV = ROOT / ".venv-vbench"
RUNNER = Path(__file__).with_name("_vbench_runner.py")
VBENCH_VERSION = "0.1.5"
SCHEMA = "spf-bench/vbench/1"
#: Fraction of frames at each end compared by the long-video drift (SemanticGen, FramePack).
DRIFT_FRACTION = 0.15
#: Video suffixes picked up when a plain folder is scored.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class VBenchError(RuntimeError):
    """VBench could not score what was asked."""


class VBenchEnvError(VBenchError):
    """The VBench virtual environment is missing or broken (``make vbench-env``)."""


class MissingVBenchWeightsError(VBenchError):
    """Weight files the requested dimensions need are absent; the message lists every one,
    with where it comes from (``docs/vbench.md`` tells how to provision them)."""

    def __init__(self, missing: Sequence[tuple[str, Path, WeightFile]]):
        self.missing = list(missing)
        lines = [
            f"  - {path}  [{dim}] {wf.what}; from {wf.source}" for dim, path, wf in self.missing
        ]
        super().__init__(
            f"{len(self.missing)} VBench weight file(s) missing (nothing was run; VBench would "
            "try to download them with wget). Provision them on a connected machine as in "
            "docs/vbench.md, or drop those dimensions:\n" + "\n".join(lines)
        )


class VBenchOutputError(VBenchError):
    """VBench's result file does not have the shape or the values this module expects."""


# --------------------------------------------------------------------------------------------
# The dimensions: one source of truth
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightFile:
    """A file (or a folder's marker file) a dimension reads.

    Attributes:
        path: path relative to ``root``.
        root: ``"cache"`` (``VBENCH_CACHE_DIR``) or ``"torch_home"`` (``TORCH_HOME``).
        what: what it is.
        source: where it comes from (URL, or repository and file).
    """

    path: str
    root: str
    what: str
    source: str


@dataclass(frozen=True)
class Dimension:
    """How VBench scores one dimension and how to read its output.

    Attributes:
        name: VBench's dimension name.
        weights: files that must exist before it runs.
        per_video_scale: factor bringing a per-video value to the aggregate's scale
            (``imaging_quality``: 1/100).
        per_video_kind: ``"float"`` or ``"bool"`` (``dynamic_degree``).
        aggregate: how VBench aggregates: ``"frame_weighted"`` (sum over videos of
            per-video score x (frames - 1), over total frames - 1) or ``"video_mean"``.
        measures: one line on what it measures.
    """

    name: str
    weights: tuple[WeightFile, ...]
    per_video_scale: float = 1.0
    per_video_kind: str = "float"
    aggregate: str = "video_mean"
    measures: str = ""


_DINO_SRC = "https://github.com/facebookresearch/dino (main branch: git clone)"
_CLIP_B32 = WeightFile(
    "clip_model/ViT-B-32.pt",
    "cache",
    "OpenAI CLIP ViT-B/32 (the original TorchScript file)",
    "https://openaipublic.azureedge.net/clip/models/"
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
)

DIMENSIONS: dict[str, Dimension] = {
    "subject_consistency": Dimension(
        "subject_consistency",
        (
            WeightFile(
                "dino_model/facebookresearch_dino_main/hubconf.py",
                "cache",
                "DINO torch.hub code (the whole repository folder)",
                _DINO_SRC,
            ),
            WeightFile(
                "dino_model/facebookresearch_dino_main/vision_transformer.py",
                "cache",
                "DINO torch.hub code (the whole repository folder)",
                _DINO_SRC,
            ),
            WeightFile(
                "dino_model/dino_vitbase16_pretrain.pth",
                "cache",
                "DINO ViT-B/16 weights (VBench checks this copy exists)",
                "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
                "dino_vitbase16_pretrain.pth",
            ),
            WeightFile(
                "hub/checkpoints/dino_vitbase16_pretrain.pth",
                "torch_home",
                "DINO ViT-B/16 weights (the copy DINO's hubconf actually loads; same file)",
                "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
                "dino_vitbase16_pretrain.pth",
            ),
        ),
        aggregate="frame_weighted",
        measures="DINO feature similarity of each frame to the first and previous frames",
    ),
    "background_consistency": Dimension(
        "background_consistency",
        (_CLIP_B32,),
        aggregate="frame_weighted",
        measures="CLIP feature similarity of each frame to the first and previous frames",
    ),
    "temporal_flickering": Dimension(
        "temporal_flickering",
        (),
        measures="(255 - mean absolute difference of consecutive frames) / 255",
    ),
    "motion_smoothness": Dimension(
        "motion_smoothness",
        (
            WeightFile(
                "amt_model/amt-s.pth",
                "cache",
                "AMT-S frame interpolation weights",
                "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
            ),
        ),
        measures="(255 - MAE of AMT-S-interpolated odd frames vs the real ones) / 255",
    ),
    "dynamic_degree": Dimension(
        "dynamic_degree",
        (
            WeightFile(
                "raft_model/models/raft-things.pth",
                "cache",
                "RAFT optical flow weights (raft-things, from models.zip)",
                "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip "
                "(unzip into raft_model/)",
            ),
        ),
        per_video_kind="bool",
        measures="fraction of videos whose RAFT flow says they move (per video: True/False)",
    ),
    "aesthetic_quality": Dimension(
        "aesthetic_quality",
        (
            WeightFile(
                "clip_model/ViT-L-14.pt",
                "cache",
                "OpenAI CLIP ViT-L/14 (the original TorchScript file)",
                "https://openaipublic.azureedge.net/clip/models/"
                "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
            ),
            WeightFile(
                "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
                "cache",
                "LAION aesthetic predictor linear head",
                "https://github.com/LAION-AI/aesthetic-predictor/blob/main/"
                "sa_0_4_vit_l_14_linear.pth?raw=true",
            ),
        ),
        measures="LAION aesthetic predictor on CLIP ViT-L/14 features, / 10, mean over frames",
    ),
    "imaging_quality": Dimension(
        "imaging_quality",
        (
            WeightFile(
                "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",
                "cache",
                "MUSIQ trained on SPAQ (pyiqa)",
                "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
                "musiq_spaq_ckpt-358bb6af.pth",
            ),
        ),
        per_video_scale=0.01,
        measures="MUSIQ-SPAQ image quality, mean over frames (per video 0-100; scaled /100)",
    ),
}

#: Long-video drift metrics computed in-process, name -> the metric M each figure uses.
DRIFT_METRICS: dict[str, str] = {
    "temporal_flickering": (
        "M = VBench temporal_flickering formula (255 - mean |x_{t+1} - x_t|) / 255 on the "
        "segment's RGB frames (PyAV decode); drift = 100 * |M(first 15%) - M(last 15%)|, "
        "percentage points"
    ),
    "spf_pace": (
        "M = mean slope of the normalised SPF S over the segment divided by the video's mean "
        "slope 1/(T-1) (1 = average pace); drift = 100 * |M(first 15%) - M(last 15%)|, "
        "percent of the mean pace; NaN for a degenerate SPF"
    ),
}


def _vbench_drift_description(dim: str) -> str:
    return (
        f"M = VBench {dim} run on a clip of the first / last 15% of frames (re-encoded "
        "losslessly, crf 0); drift = 100 * |M(first) - M(last)|, percentage points"
    )


# --------------------------------------------------------------------------------------------
# Settings, paths and the pre-flight check
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VBenchSettings:
    """Plain settings of a VBench scoring (from the ``vbench:`` config block or the CLI).

    Attributes:
        enabled: score the run's videos after its records are written.
        dims: VBench dimensions (keys of :data:`DIMENSIONS`).
        cache_dir: VBench's weight cache (``VBENCH_CACHE_DIR``); ``None`` -> the environment
            variable, else ``~/.cache/vbench`` (VBench's default).
        torch_home: ``TORCH_HOME`` for the DINO checkpoint; ``None`` -> the environment
            variable, else ``~/.cache/torch`` (torch's default).
        venv: the VBench venv; ``None`` -> ``<repo>/.venv-vbench``.
        device: ``"cpu"`` or ``"cuda"``.
        threads: torch threads in the VBench process.
        drift: compute the long-video drift figures.
        drift_dims: VBench dimensions also scored on the first/last 15% of frames; ``None`` ->
            ``imaging_quality`` and ``aesthetic_quality`` among ``dims``.
        timeout_s: wall-clock limit of the VBench process, seconds (``None``: none).
    """

    enabled: bool = False
    dims: tuple[str, ...] = tuple(DIMENSIONS)
    cache_dir: str | None = None
    torch_home: str | None = None
    venv: str | None = None
    device: str = "cpu"
    threads: int = 1
    drift: bool = True
    drift_dims: tuple[str, ...] | None = None
    timeout_s: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> VBenchSettings:
        """Build from a plain dict (the resolved ``vbench:`` config block), validated.

        Raises:
            ValueError: on an unknown key, an unknown dimension, or a bad device/threads.
        """
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown vbench setting(s) {unknown}; known: {sorted(known)}")
        if "dims" in d:
            d["dims"] = tuple([d["dims"]] if isinstance(d["dims"], str) else d["dims"])
        if d.get("drift_dims") is not None:
            dd = d["drift_dims"]
            d["drift_dims"] = tuple([dd] if isinstance(dd, str) else dd)
        s = cls(**d)
        s.check()
        return s

    def check(self) -> None:
        """Validate names and values.

        Raises:
            ValueError: naming the bad value and the allowed ones.
        """
        _check_dims(self.dims)
        if self.drift_dims is not None:
            _check_dims(self.drift_dims, allow_empty=True)
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"vbench.device={self.device!r}: use 'cpu' or 'cuda'")
        if int(self.threads) < 1:
            raise ValueError(f"vbench.threads must be >= 1, got {self.threads}")

    def paths(self) -> tuple[Path, Path, Path]:
        """``(cache_dir, torch_home, venv)`` resolved as documented on the attributes."""
        cache = self.cache_dir or os.environ.get("VBENCH_CACHE_DIR") or "~/.cache/vbench"
        torch_home = self.torch_home or os.environ.get("TORCH_HOME") or "~/.cache/torch"
        venv = self.venv or DEFAULT_VENV
        return (
            Path(cache).expanduser().absolute(),
            Path(torch_home).expanduser().absolute(),
            Path(venv).expanduser().absolute(),
        )

    def resolved_drift_dims(self) -> tuple[str, ...]:
        """VBench dimensions scored on the first/last 15% of frames."""
        if not self.drift:
            return ()
        if self.drift_dims is not None:
            return tuple(self.drift_dims)
        return tuple(d for d in ("imaging_quality", "aesthetic_quality") if d in self.dims)


def _check_dims(dims: Sequence[str], allow_empty: bool = False) -> None:
    if isinstance(dims, str):
        raise ValueError(f"dimensions must be a list of names, got the string {dims!r}")
    if not dims and not allow_empty:
        raise ValueError(f"no VBench dimension given; choose from {list(DIMENSIONS)}")
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad:
        raise ValueError(
            f"unsupported VBench dimension(s) {bad}; supported: {list(DIMENSIONS)} (the others "
            "need prompts or extra annotations that custom input does not give)"
        )


def _weight_path(wf: WeightFile, cache_dir: Path, torch_home: Path) -> Path:
    return (cache_dir if wf.root == "cache" else torch_home) / wf.path


def missing_weights(
    dims: Iterable[str], cache_dir: str | os.PathLike, torch_home: str | os.PathLike
) -> list[tuple[str, Path, WeightFile]]:
    """Every weight file the dimensions need that is absent or empty.

    Args:
        dims: dimension names (keys of :data:`DIMENSIONS`).
        cache_dir: VBench's cache folder (``VBENCH_CACHE_DIR``).
        torch_home: ``TORCH_HOME``.

    Returns:
        ``[(dimension, absolute path, WeightFile), ...]`` in dimension order; empty when all
        files are there. A file two dimensions share is listed once, under the first.

    Raises:
        ValueError: on an unknown dimension.
    """
    dims = list(dict.fromkeys(dims))
    _check_dims(dims, allow_empty=True)
    cache_dir, torch_home = Path(cache_dir), Path(torch_home)
    out, seen = [], set()
    for dim in dims:
        for wf in DIMENSIONS[dim].weights:
            p = _weight_path(wf, cache_dir, torch_home)
            if p in seen:
                continue
            seen.add(p)
            if not p.is_file() or p.stat().st_size == 0:
                out.append((dim, p, wf))
    return out


def check_weights(
    dims: Iterable[str], cache_dir: str | os.PathLike, torch_home: str | os.PathLike
) -> None:
    """Raise unless every weight file of ``dims`` is present (:func:`missing_weights`).

    Raises:
        MissingVBenchWeightsError: listing every missing file and where it comes from.
        ValueError: on an unknown dimension.
    """
    missing = missing_weights(dims, cache_dir, torch_home)
    if missing:
        raise MissingVBenchWeightsError(missing)


def venv_python(venv: str | os.PathLike) -> Path:
    """The VBench venv's interpreter.

    Raises:
        VBenchEnvError: if the venv has not been built (``make vbench-env``).
    """
    py = Path(venv) / "bin" / "python"
    stamp = Path(venv) / ".installed"
    if not py.is_file() or not stamp.is_file():
        raise VBenchEnvError(
            f"the VBench environment {venv} is missing or unfinished (no {py} or {stamp}): "
            "build it with `make vbench-env` (about 1.5 min from local wheels, ~7 GB)"
        )
    return py


def preflight(settings: VBenchSettings) -> None:
    """Everything checkable before a run: names, the venv, every weight file (incl. drift).

    Raises:
        ValueError: on bad settings.
        VBenchEnvError: without the venv.
        MissingVBenchWeightsError: listing every missing weight file.
    """
    settings.check()
    cache, torch_home, venv = settings.paths()
    venv_python(venv)
    check_weights([*settings.dims, *settings.resolved_drift_dims()], cache, torch_home)


# --------------------------------------------------------------------------------------------
# Parsing VBench's output
# --------------------------------------------------------------------------------------------
def _as_number(dim: Dimension, value: Any, where: str) -> float:
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


# --------------------------------------------------------------------------------------------
# Drift (scored on frames directly)
# --------------------------------------------------------------------------------------------
def segment_bounds(n_frames: int, fraction: float = DRIFT_FRACTION) -> tuple[slice, slice]:
    """The first and last ``fraction`` of ``n_frames`` frames, at least 2 frames each.

    ``k = max(2, round(fraction * n_frames))``; the two segments never overlap.

    Raises:
        ValueError: if ``fraction`` is not in (0, 0.5] or the video is shorter than ``2 k``.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must lie in (0, 0.5], got {fraction}")
    k = max(2, round(fraction * n_frames))
    if n_frames < 2 * k:
        raise ValueError(f"drift needs at least {2 * k} frames, got {n_frames}")
    return slice(0, k), slice(n_frames - k, n_frames)


def flicker_score(frames: np.ndarray) -> float:
    """VBench's temporal_flickering score of a frame sequence.

    ``(255 - mean_t MAE(x_t, x_{t+1})) / 255`` with MAE the mean absolute difference over all
    pixels and channels (``vbench/temporal_flickering.py``: ``cal_score``), in float64.

    Args:
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8, ``T >= 2``.

    Returns:
        The score in [0, 1] (1 = no change between consecutive frames).

    Raises:
        ValueError: fewer than 2 frames.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"need frames of shape (T >= 2, H, W, C), got {frames.shape}")
    mae = [
        np.mean(np.abs(frames[t + 1].astype(np.float64) - frames[t].astype(np.float64)))
        for t in range(frames.shape[0] - 1)
    ]
    return float((255.0 - np.mean(mae)) / 255.0)


def flicker_drift(frames: np.ndarray, fraction: float = DRIFT_FRACTION) -> float:
    """Long-video drift with M = :func:`flicker_score`, in percentage points.

    ``100 * |M(first fraction of frames) - M(last fraction)|`` (:func:`segment_bounds`).
    """
    a, b = segment_bounds(int(np.asarray(frames).shape[0]), fraction)
    return 100.0 * abs(flicker_score(frames[a]) - flicker_score(frames[b]))


def spf_pace_drift(progress: np.ndarray, fraction: float = DRIFT_FRACTION) -> float:
    """Long-video drift with M = the SPF's local pace, in percent of the mean pace.

    For a segment of frames ``a..b``, ``M = (S_b - S_a) / ((b - a) / (T - 1))``: the mean slope
    of the normalised SPF ``S`` (0 -> 1) over the segment relative to the whole video's mean
    slope (1 = the video's average pace). Returns ``100 * |M(first) - M(last)|``.

    Args:
        progress: `np.ndarray` of shape ``(T,)``, the normalised SPF (``SPFResult.progress``).
        fraction: segment fraction.

    Returns:
        The drift, or NaN when ``S`` is degenerate (no change: all zeros).
    """
    s = np.asarray(progress, dtype=np.float64)
    t = s.shape[0]
    if s.ndim != 1 or not np.isfinite(s).all():
        raise ValueError(f"progress must be a finite 1-D array, got shape {s.shape}")
    if s[-1] - s[0] <= 0:
        return math.nan
    a, b = segment_bounds(t, fraction)

    def pace(seg: slice) -> float:
        lo, hi = seg.start, seg.stop - 1
        return float((s[hi] - s[lo]) / ((hi - lo) / (t - 1)) / (s[-1] - s[0]))

    return 100.0 * abs(pace(a) - pace(b))


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------
@dataclass
class VBenchResult:
    """Per-video VBench scores (keyed by the caller's key), aggregates and drift.

    Attributes:
        dims: dimensions scored.
        scores: key -> {dim: normalised score, NaN when it failed}.
        raw: key -> {dim: VBench's per-video value as written}.
        errors: key -> {dim or "decode": reason}; a key absent here was scored on every dim.
        vbench_aggregate: dim -> VBench's own aggregate (normalised scale).
        dimension_errors: dim -> error of a dimension that failed as a whole.
        drift: key -> {metric: drift}; metrics of :data:`DRIFT_METRICS` and ``vbench_<dim>``.
        drift_metrics: metric -> description of the M it uses.
        n_frames: key -> frames (PyAV decode).
        seconds: dim -> VBench time; ``"total"`` -> wall time of :func:`score_videos`.
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
        """dim -> ``{"n", "mean", "std"}`` over the videos scored (std with ddof=1)."""
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


def _stage(keys_paths: Mapping[str, Path], dest: Path, prefix: str = "v") -> dict[str, str]:
    """Symlink (or copy) each video as ``<prefix>NNNNN.mp4`` into ``dest``; name -> key."""
    dest.mkdir(parents=True, exist_ok=True)
    staged = {}
    for i, (key, path) in enumerate(keys_paths.items()):
        name = f"{prefix}{i:05d}.mp4"
        target = dest / name
        try:
            target.symlink_to(Path(path).absolute())
        except OSError:
            shutil.copyfile(path, target)
        staged[name] = key
    return staged


def _run_runner(tasks: list[dict[str, Any]], work: Path, s: VBenchSettings) -> dict[str, Any]:
    """Run ``_vbench_runner.py`` in the VBench venv on ``tasks``; returns its result JSON."""
    cache, torch_home, venv = s.paths()
    py = venv_python(venv)
    job = {
        "tasks": tasks,
        "output_dir": str(work / "out"),
        "device": s.device,
        "threads": s.threads,
    }
    (work / "job.json").write_text(json.dumps(job))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PYTEST"))
    }
    env.update(
        VBENCH_CACHE_DIR=str(cache),
        TORCH_HOME=str(torch_home),
        TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS=str(s.threads),
        MKL_NUM_THREADS=str(s.threads),
        PYTHONNOUSERSITE="1",
    )
    if s.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    log = work / "vbench.log"
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(
                [str(py), str(RUNNER), str(work / "job.json")],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(work),
                timeout=s.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise VBenchError(f"VBench ran past {s.timeout_s} s; log: {log}") from err
    result_file = work / "out" / "runner_result.json"
    if proc.returncode != 0 or not result_file.is_file():
        tail = log.read_text(errors="replace")[-3000:]
        raise VBenchEnvError(
            f"the VBench process failed (exit {proc.returncode}) before writing its results; "
            f"last output:\n{tail}"
        )
    return json.loads(result_file.read_text())


def _write_segments(frames: np.ndarray, fps: float, dest: Path, stem: str) -> tuple[Path, Path]:
    from metrics.video_io import write_video

    a, b = segment_bounds(frames.shape[0])
    first = write_video(dest / f"{stem}_first.mp4", frames[a], fps, crf=0)
    last = write_video(dest / f"{stem}_last.mp4", frames[b], fps, crf=0)
    return first, last


def score_videos(
    videos: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    settings: VBenchSettings | None = None,
    *,
    progress: Mapping[str, np.ndarray] | None = None,
    embedder: Any = None,
    work_dir: str | os.PathLike | None = None,
) -> VBenchResult:
    """Score videos with VBench (in ``.venv-vbench``) and compute their long-video drift.

    Args:
        videos: key -> video path, or a sequence of paths (then the key is the path as given).
            Keys must be unique; any container FFmpeg decodes (staged under a ``.mp4`` name).
        settings: dimensions, paths, device (default: all seven dimensions, CPU).
        progress: key -> normalised SPF ``(T,)`` for the ``spf_pace`` drift (e.g. from a run's
            ``spf/*.npz``); a key missing here is embedded with ``embedder``.
        embedder: a :class:`metrics.embedders.Embedder` for SPFs not given; ``None`` skips the
            ``spf_pace`` drift of those videos.
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
        res.drift_metrics.update({f"vbench_{d}": _vbench_drift_description(d) for d in drift_dims})

    tmp = tempfile.TemporaryDirectory(prefix="spf_vbench_") if work_dir is None else None
    work = Path(tmp.name if tmp else work_dir)
    try:
        work.mkdir(parents=True, exist_ok=True)
        # 2. decode with PyAV: unreadable videos fail here, by name; drift on the frames
        readable, segments = _decode_and_drift(items, s, res, progress, embedder, work, drift_dims)
        # 3. stage flat, unique names
        staged = _stage(readable, work / "videos") if readable else {}
        seg_staged = {}
        if segments:
            seg_dir = work / "segments"
            seg_dir.mkdir(exist_ok=True)
            for i, ((key, end), path) in enumerate(segments.items()):
                name = f"s{i:05d}.mp4"
                (seg_dir / name).symlink_to(path.absolute())
                seg_staged[name] = (key, end)
        # 4. one VBench process
        tasks = []
        if staged:
            tasks.append({"tag": "videos", "videos_dir": str(work / "videos"), "dimensions": dims})
        if seg_staged and drift_dims:
            tasks.append(
                {"tag": "segments", "videos_dir": str(work / "segments"), "dimensions": drift_dims}
            )
        if tasks:
            out = _run_runner(tasks, work, s)
            res.versions = {
                "vbench": str(out.get("vbench_version", "")),
                "torch": str(out.get("torch_version", "")),
            }
            # 5. parse, normalise, check
            _collect(res, out, work / "out", "videos", staged, dims)
            if seg_staged:
                _collect_segments(res, out, work / "out", seg_staged, drift_dims)
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
    work: Path,
    drift_dims: Sequence[str],
) -> tuple[dict[str, Path], dict[tuple[str, str], Path]]:
    from metrics import spf
    from metrics.video_io import VideoDecodeError, read_video

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
        d: dict[str, float] = {}
        try:
            d["temporal_flickering"] = flicker_drift(frames)
        except ValueError as err:
            d["temporal_flickering"] = math.nan
            res.errors.setdefault(key, {})["drift"] = str(err)
        d["spf_pace"] = math.nan
        prog = None if progress is None else progress.get(key)
        try:
            if prog is None and embedder is not None:
                r = spf.compute_spf(embedder.embed(frames))
                prog = None if r.degenerate else r.progress
            if prog is not None:
                d["spf_pace"] = spf_pace_drift(prog)
        except ValueError as err:
            res.errors.setdefault(key, {})["drift"] = str(err)
        res.drift[key] = d
        if drift_dims and frames.shape[0] >= 4:
            try:
                first, last = _write_segments(frames, info.fps, work / "segment_clips", f"c{i:05d}")
                segments[(key, "first")], segments[(key, "last")] = first, last
            except ValueError as err:
                res.errors.setdefault(key, {})["drift"] = str(err)
        del frames
    return readable, segments


def _load_results(out: dict[str, Any], out_dir: Path, tag: str, dim: str) -> dict[str, Any] | str:
    info = out.get("tasks", {}).get(tag, {}).get(dim)
    if info is None:
        return f"the VBench runner did not report {dim}"
    if info.get("status") != "ok":
        return str(info.get("error", "failed")).strip()
    return json.loads((out_dir / info["results_file"]).read_text())


def _collect(
    res: VBenchResult,
    out: dict[str, Any],
    out_dir: Path,
    tag: str,
    staged: Mapping[str, str],
    dims: Sequence[str],
) -> None:
    n_frames = out.get("n_frames", {}).get(tag, {})
    for dim in dims:
        info = out.get("tasks", {}).get(tag, {}).get(dim, {})
        res.seconds[dim] = float(info.get("seconds", math.nan))
        loaded = _load_results(out, out_dir, tag, dim)
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


def _collect_segments(
    res: VBenchResult,
    out: dict[str, Any],
    out_dir: Path,
    seg_staged: Mapping[str, tuple[str, str]],
    dims: Sequence[str],
) -> None:
    flat = {name: f"{key}\x00{end}" for name, (key, end) in seg_staged.items()}
    n_frames = out.get("n_frames", {}).get("segments", {})
    for dim in dims:
        metric = f"vbench_{dim}"
        loaded = _load_results(out, out_dir, "segments", dim)
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


# --------------------------------------------------------------------------------------------
# Records: merge, group statistics, verdict
# --------------------------------------------------------------------------------------------
def merge_scores(df, result: VBenchResult):
    """Records plus ``vbench_<dim>``, ``drift_<metric>`` and ``vbench_error`` columns.

    Args:
        df: records DataFrame (:func:`bench.records.to_frame` columns; ``video_path`` relative
            to the run directory).
        result: scores keyed by ``video_path``.

    Returns:
        A new DataFrame, same rows and order; records without a video or whose scoring failed
        get NaN (and the reason in ``vbench_error``).
    """
    out = df.copy()
    paths = out["video_path"].astype(str)
    for dim in result.dims:
        out[f"vbench_{dim}"] = [
            result.scores.get(p, {}).get(dim, math.nan) if p else math.nan for p in paths
        ]
    for metric in result.drift_metrics:
        out[f"drift_{metric}"] = [
            result.drift.get(p, {}).get(metric, math.nan) if p else math.nan for p in paths
        ]
    out["vbench_error"] = [
        "; ".join(f"{d}: {m.splitlines()[0]}" for d, m in result.errors.get(p, {}).items())
        if p
        else "no video"
        for p in paths
    ]
    return out


def _std(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan


def group_stats(df, columns: Sequence[str], by: Sequence[str] = ("model", "retime", "iteration")):
    """Mean, std (ddof=1) and count of ``columns`` per group of ``ok`` records.

    Returns:
        A list of dicts ``{**group keys, "<col>": {"n", "mean", "std"}, ...}``.
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
            v = v[np.isfinite(v)]
            row[col] = {
                "n": int(v.size),
                "mean": float(v.mean()) if v.size else math.nan,
                "std": _std(v),
            }
        rows.append(row)
    return rows


def verdict_table(df, dims: Sequence[str]) -> list[dict[str, Any]]:
    """Is the retimed mean within one standard deviation of the original (paper Sec. 6)?

    Original videos: ``ok`` records at iteration 0 (rendered at the stock time positions),
    one per (model, item_id, seed). Retimed videos: for each ``retime != "none"``, the last
    ``ok`` iteration > 0 of each item. Per (model, retime, dimension)::

        within_one_std = |mean(retimed) - mean(original)| <= std(original)   (ddof = 1)

    Args:
        df: records with ``vbench_<dim>`` columns (:func:`merge_scores`).
        dims: dimensions to judge.

    Returns:
        One dict per (model, retime, dimension): ``model, retime, dimension, n_original,
        original_mean, original_std, n_retimed, retimed_mean, retimed_std, delta,
        delta_in_std, within_one_std`` (``None`` when either side has no scores or the original
        has fewer than 2, so no std).
    """
    ok = df[df["status"] == "ok"]
    rows = []
    for model, gm in ok.groupby("model", sort=True):
        orig = gm[gm["iteration"] == 0].drop_duplicates(subset=["item_id", "seed"])
        for retime, gr in gm[(gm["retime"] != "none") & (gm["iteration"] > 0)].groupby(
            "retime", sort=True
        ):
            last = gr.sort_values("iteration").groupby(["item_id", "seed"]).tail(1)
            for dim in dims:
                col = f"vbench_{dim}"
                if col not in gm:
                    continue
                o = orig[col].to_numpy(dtype=np.float64)
                o = o[np.isfinite(o)]
                r = last[col].to_numpy(dtype=np.float64)
                r = r[np.isfinite(r)]
                om = float(o.mean()) if o.size else math.nan
                osd = _std(o)
                rm = float(r.mean()) if r.size else math.nan
                delta = rm - om
                judged = math.isfinite(delta) and math.isfinite(osd)
                rows.append(
                    {
                        "model": str(model),
                        "retime": str(retime),
                        "dimension": dim,
                        "n_original": int(o.size),
                        "original_mean": om,
                        "original_std": osd,
                        "n_retimed": int(r.size),
                        "retimed_mean": rm,
                        "retimed_std": _std(r),
                        "delta": delta,
                        "delta_in_std": delta / osd if judged and osd > 0 else math.nan,
                        "within_one_std": bool(abs(delta) <= osd) if judged else None,
                    }
                )
    return rows


# --------------------------------------------------------------------------------------------
# A run directory
# --------------------------------------------------------------------------------------------
def _load_progress(run_dir: Path, df) -> dict[str, np.ndarray]:
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


def score_run(
    run_dir: str | os.PathLike,
    settings: VBenchSettings | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Score every video of a run directory; write ``vbench.json`` and ``records_vbench.parquet``.

    Reads ``records.parquet``; scores the ``ok`` records' ``video_path`` files; the SPF pace
    drift uses each record's ``spf/*.npz`` ``progress`` (no re-embedding).

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
        run_dir: a run directory written by :func:`bench.pipeline.run_benchmark` (videos and
            ``spf/*.npz`` are resolved against it).
        settings: VBench settings.
        out_dir: where ``records.parquet`` is read and ``vbench.json`` /
            ``records_vbench.parquet`` are written (a sweep job's folder); default ``run_dir``.
        work_dir: keep VBench's intermediate files here.

    Returns:
        The ``vbench.json`` payload.

    Raises:
        FileNotFoundError: no ``records.parquet`` in ``run_dir``.
        The errors of :func:`score_videos`.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    s = settings or VBenchSettings()
    table = out_dir / "records.parquet"
    if not table.is_file():
        raise FileNotFoundError(f"no records.parquet in {out_dir}: not a spf-bench run directory")
    df = pd.read_parquet(table)
    ok = df[(df["status"] == "ok") & (df["video_path"].astype(str) != "")]
    videos = {vp: run_dir / vp for vp in dict.fromkeys(ok["video_path"].astype(str))}
    result = score_videos(videos, s, progress=_load_progress(run_dir, ok), work_dir=work_dir)
    merged = merge_scores(df, result)
    fd, tmp = tempfile.mkstemp(prefix=".records_vbench.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    try:
        merged.to_parquet(tmp, index=False)
        os.replace(tmp, out_dir / "records_vbench.parquet")
    finally:
        Path(tmp).unlink(missing_ok=True)
    payload = result_payload(result, s, run_dir=str(run_dir))
    cols = [f"vbench_{d}" for d in result.dims] + [f"drift_{m}" for m in result.drift_metrics]
    payload["groups"] = group_stats(merged, cols)
    payload["verdict"] = verdict_table(merged, result.dims)
    atomic_write_json(out_dir / "vbench.json", payload)
    return payload


def brief(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a ``vbench.json`` payload that goes into a run's ``summary.json``."""
    return {
        "file": "vbench.json",
        "dimensions": payload["dimensions"],
        "aggregate": payload["aggregate"],
        "verdict": payload.get("verdict", []),
        "n_failed": payload["n_failed"],
        "dimension_errors": {k: v.splitlines()[0] for k, v in payload["dimension_errors"].items()},
        "seconds": payload["seconds"].get("total"),
    }


def result_payload(result: VBenchResult, s: VBenchSettings, **extra: Any) -> dict[str, Any]:
    """The JSON payload of a :class:`VBenchResult` (the ``vbench.json`` fields but groups and
    verdict, which need records)."""
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


def videos_in(folder: str | os.PathLike) -> dict[str, Path]:
    """Video files under ``folder`` (recursive, sorted), keyed by their path relative to it."""
    folder = Path(folder)
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    )
    return {str(p.relative_to(folder)): p for p in files}


def provisioning_script(dims: Sequence[str] | None = None) -> str:
    """A bash script that downloads the weights of ``dims`` into VBench's cache layout.

    For a machine with internet access (docs/vbench.md): it fills ``$VBENCH_CACHE_DIR``
    (default ``./vbench_cache``) from the sources in :data:`DIMENSIONS` and puts the DINO
    checkpoint under ``$VBENCH_CACHE_DIR/torch_home`` too, so that folder can serve as
    ``TORCH_HOME``; copy the folder to the offline machine.

    Args:
        dims: dimensions (default: all of :data:`DIMENSIONS`).
    """
    dims = list(dims or DIMENSIONS)
    _check_dims(dims)
    files = {}
    for d in dims:
        for wf in DIMENSIONS[d].weights:
            files.setdefault((wf.root, wf.path), wf)
    lines = [
        "#!/usr/bin/env bash",
        "# Generated by `python -m metrics.vbench provision-script` (spf-bench, VBench "
        f"{VBENCH_VERSION}): dimensions {', '.join(dims)}.",
        "set -euo pipefail",
        'C="${VBENCH_CACHE_DIR:-$PWD/vbench_cache}"',
        'mkdir -p "$C"',
    ]
    done_dino_code = False
    fetched: dict[str, str] = {}
    for (root, rel), wf in files.items():
        dest = f'"$C/{rel}"' if root == "cache" else f'"$C/torch_home/{rel}"'
        if rel.startswith("dino_model/facebookresearch_dino_main/"):
            if not done_dino_code:
                lines.append(
                    '[ -f "$C/dino_model/facebookresearch_dino_main/hubconf.py" ] || git clone '
                    "--depth 1 https://github.com/facebookresearch/dino "
                    '"$C/dino_model/facebookresearch_dino_main"'
                )
                done_dino_code = True
            continue
        if rel == "raft_model/models/raft-things.pth":
            lines.append(
                f'[ -s {dest} ] || {{ mkdir -p "$C/raft_model" && curl -fL -o '
                '"$C/raft_model/models.zip" '
                "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip && unzip -o -d "
                '"$C/raft_model" "$C/raft_model/models.zip" && rm "$C/raft_model/models.zip"; }'
            )
            continue
        url = wf.source.split(" ")[0]
        lines.append(f'mkdir -p "$(dirname {dest})"')
        if url in fetched:  # the same file twice (DINO: VBench's copy and TORCH_HOME's)
            lines.append(f"[ -s {dest} ] || cp {fetched[url]} {dest}")
        else:
            lines.append(f"[ -s {dest} ] || curl -fL -o {dest} '{url}'")
            fetched[url] = dest
    lines += [
        'echo "VBench weights in $C; on the offline machine pass --cache-dir <copy of it> '
        '--torch-home <copy of it>/torch_home (or vbench.cache_dir / vbench.torch_home)."',
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m metrics.vbench provision-script [DIM ...]
    import sys

    if len(sys.argv) < 2 or sys.argv[1] != "provision-script":
        print("usage: python -m metrics.vbench provision-script [DIM ...]", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write(provisioning_script(sys.argv[2:] or None))
