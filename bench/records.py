"""The record schema of a run and atomic file writes.

One record = one video at one ReTime iteration. Records are written one JSON file per
(item, iteration) under ``<run_dir>/records/`` as soon as that iteration finishes, so a killed
run loses at most the iteration in flight; :func:`collect_records` merges them into
``records.parquet`` and ``records.csv`` at the end of a run.

Columns (stable; documented for users and the leaderboard):

=====================  ==========  ===============================================================
column                 dtype       meaning
=====================  ==========  ===============================================================
model                  str         generator name (``morph``, ``footage``, ``wan22`` ...)
retime                 str         ``none``, ``warped``, ``resample`` or ``segmented``
embedder               str         frame embedder of the SPF
pacing                 str         target pacing curve of the retime
item_id                str         benchmark item
seed                   int         seed of the item
iteration              int         0 = baseline, 1..N = ReTime refinements
n_frames               int         frames in the video
fps                    float       frames per second
linearity_score        float       ``clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)``; NaN if degenerate
max_deviation          float       ``max |S - L|``, fraction of total change
max_jump               float       largest single-frame rise of S, fraction of total change
max_jump_frame         int         frame where that rise lands (-1 if degenerate)
total_change           float       total semantic change, radians
degenerate             bool        no semantic change above numerical noise
target_deviation       float       RMS of S minus the target pacing curve
linearity_ci_low       float       95% bootstrap interval of linearity_score (resampled pair
linearity_ci_high      float       residuals, spf.bootstrap times; docs/method.md Sec. 2), or NaN
progress_statistic     float       no-progress statistic G, radians (far minus near pair angle;
                                   degenerate when below spf.progress_threshold; docs/method.md 1.7)
keyframes              str         semantic keyframes, frames, space-separated (docs/method.md, 5)
heldout                str         JSON ``{embedder: {linearity_score, max_deviation, max_jump,
                                   max_jump_frame, total_change, degenerate, target_deviation}}``:
                                   the same video scored by each held-out embedder
                                   (``eval_embedders``); ``{}`` when none
rms_s_vs_designed      float       RMS of S minus the designed progress (synthetic items), or NaN
video_path             str         mp4 of this iteration, relative to the run directory
spf_path               str         npz with progress, raw S, embeddings, positions, tau
config_hash            str         hash of the resolved config (items, model, SPF, embedder...)
git_sha                str         commit of spf-bench (``-dirty`` suffix with local changes)
status                 str         ``ok`` or ``failed``
error                  str         failure message, or the reason iterating stopped; ``""`` if none
metadata               str         JSON of the generator's metadata (model ids, RoPE diagnostics...)
=====================  ==========  ===============================================================
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spf_bench.metrics.atomic_io import (
    atomic_path,
    atomic_savez,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    is_temp_file,
    json_default,
)

__all__ = [
    "COLUMNS",
    "atomic_savez",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "collect_records",
    "is_temp_file",
    "json_default",
    "read_record",
    "record_path",
    "write_tables",
]

COLUMNS: dict[str, str] = {
    "model": "string",
    "retime": "string",
    "embedder": "string",
    "pacing": "string",
    "item_id": "string",
    "seed": "int64",
    "iteration": "int64",
    "n_frames": "int64",
    "fps": "float64",
    "linearity_score": "float64",
    "max_deviation": "float64",
    "max_jump": "float64",
    "max_jump_frame": "int64",
    "total_change": "float64",
    "degenerate": "bool",
    "target_deviation": "float64",
    "linearity_ci_low": "float64",
    "linearity_ci_high": "float64",
    "progress_statistic": "float64",
    "keyframes": "string",
    "heldout": "string",
    "rms_s_vs_designed": "float64",
    "video_path": "string",
    "spf_path": "string",
    "config_hash": "string",
    "git_sha": "string",
    "status": "string",
    "error": "string",
    "metadata": "string",
}


def record_path(run_dir: Path, item_id: str, iteration: int) -> Path:
    """Where the record of ``item_id`` at ``iteration`` lives."""
    return Path(run_dir) / "records" / f"{item_id}__it{iteration}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """A record file's content, or ``None`` if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def collect_records(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record of a run, sorted by (item_id, iteration)."""
    rows = [r for p in sorted((Path(run_dir) / "records").glob("*.json")) if (r := read_record(p))]
    return sorted(rows, key=lambda r: (str(r.get("item_id")), int(r.get("iteration", 0))))


def to_frame(rows: Iterable[dict[str, Any]]):
    """Rows as a pandas DataFrame with exactly :data:`COLUMNS`, typed (missing -> NA/NaN)."""
    import pandas as pd

    df = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in df:
            df[col] = pd.NA
    df = df[list(COLUMNS)]
    for col, dtype in COLUMNS.items():
        if dtype == "int64":
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(-1).astype("int64")
        elif dtype == "float64":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif dtype == "bool":
            df[col] = df[col].fillna(False).astype(bool)
        else:
            df[col] = df[col].fillna("").astype(str)
    return df


def write_tables(run_dir: str | os.PathLike, rows: list[dict[str, Any]]):
    """Write ``records.parquet`` and ``records.csv`` atomically; returns the DataFrame."""
    run_dir = Path(run_dir)
    df = to_frame(rows)
    with atomic_path(run_dir / "records.parquet") as tmp:
        df.to_parquet(tmp, index=False)
    atomic_write_text(run_dir / "records.csv", df.to_csv(index=False))
    return df
