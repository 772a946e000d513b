"""Run discovery and record loading for the views: run directories, records (VBench scores
merged) and the settings hash that ``--pool-seeds`` groups by. The VBench contract (where
``vbench_<dimension>`` scores are read from): ``bench/views/README.md``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.results.record import COLUMNS as RECORD_COLUMNS
from spf_bench.bench.results.record import to_frame
from spf_bench.bench.results.rundir import RunDir, RunDirError

log = logging.getLogger("spf_bench")

__all__ = [
    "EXT_PREFIX",
    "FRECHET_PREFIX",
    "GROUP_KEYS",
    "VBENCH_PREFIX",
    "dim_name",
    "is_dim_column",
    "load_records",
    "read_run_records",
    "resolve_runs",
    "settings_hash",
    "vbench_dimensions",
]

#: The setting names of a leaderboard row (what ``model=... retime=... embedder=... pacing=...``
#: chose); the grouping of the VBench verdict too.
GROUP_KEYS: tuple[str, ...] = ("model", "retime", "embedder", "pacing")
#: Prefix of the external per-video metric columns (``--external``).
EXT_PREFIX = "ext_"
#: Prefix of the VBench dimension columns.
VBENCH_PREFIX = "vbench_"
#: Prefix of the offline Fréchet fidelity dimensions (``vbench.json`` ``"fidelity"``).
FRECHET_PREFIX = "frechet_"
#: ``vbench_*`` columns that are not dimensions (metrics/vbench.py's failure messages).
VBENCH_NOT_DIMS = frozenset({"vbench_error"})
_DIM_RE = re.compile(r"[^a-z0-9_]+")


def dim_name(dim: str) -> str:
    """A metric or dimension name in lower case, other characters than ``[a-z0-9_]`` as ``_``."""
    return _DIM_RE.sub("_", str(dim).strip().lower()).strip("_")


def is_dim_column(col: str) -> bool:
    """Whether ``col`` is a VBench dimension column (``vbench_<dim>``, not ``vbench_error``)."""
    return col.startswith(VBENCH_PREFIX) and col not in VBENCH_NOT_DIMS


def resolve_runs(specs: Sequence[str | os.PathLike]) -> list[Path]:
    """Run directories from paths, ``records.parquet`` files and globs, in argument order.

    A glob's matches without records are skipped with a warning; a run listed twice counts
    once (its first place).

    Raises:
        FileNotFoundError: if an explicit (non-glob) path holds no records, or nothing matched.
    """
    out: list[Path] = []
    for s in map(os.fspath, specs):
        magic = glob.has_magic(s)
        paths = glob.glob(os.path.expanduser(s), recursive=True) if magic else [s]
        for p in sorted(Path(p).expanduser() for p in paths):
            d = p.parent if p.name == "records.parquet" else p
            if RunDir(d).has_records():
                out.append(d)
            elif not magic:
                raise FileNotFoundError(
                    f"{s}: no records.parquet or records/*.json (is it a spf-bench run directory?)"
                )
            elif p.is_dir():
                log.warning("leaderboard: %s holds no records, skipped", p)
    seen: dict[str, Path] = {}
    for d in out:
        seen.setdefault(str(d.resolve()), d)
    if not seen:
        raise FileNotFoundError(f"no run directories with records match {list(map(str, specs))}")
    return list(seen.values())


def read_run_records(run_dir: Path) -> pd.DataFrame:
    """The records of one run: ``records.parquet`` as written (any ``vbench_*`` columns),
    else an unfinished run's ``records/*.json`` (:meth:`spf_bench.bench.results.rundir.RunDir.
    all_records` as :func:`spf_bench.bench.results.record.to_frame`).

    Raises:
        OSError, ValueError: ``records.parquet`` is unreadable (pyarrow's error).
    """
    rd = RunDir(run_dir)
    if rd.parquet_path.is_file():
        return pd.read_parquet(rd.parquet_path)
    return to_frame(rd.all_records())


def _numeric(col: pd.Series) -> pd.Series:
    """A VBench score column as float64: booleans 0/1, anything not a number NaN."""
    vals = [float(v) if isinstance(v, (bool, np.bool_)) else v for v in col]
    return pd.to_numeric(pd.Series(vals, index=col.index), errors="coerce").astype("float64")


def vbench_json_scores(data: Any) -> dict[str, dict[str, Any]]:
    """Per-video scores of a ``vbench.json`` document (contract (c), module docs).

    Args:
        data: the parsed JSON: flat ``{video: {dim: score}}``, or under ``"per_video"`` /
            ``"videos"``, each video's scores flat or under ``"scores"``.

    Returns:
        ``{video: {dimension (:func:`dim_name`): score as written}}``; entries that are not
        objects (e.g. an aggregate at top level) are skipped; ``{}`` for anything else.
    """
    if isinstance(data, dict):
        for key in ("per_video", "videos"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for video, entry in data.items():
        if isinstance(entry, dict):  # else e.g. an aggregate entry at top level
            scores = entry["scores"] if isinstance(entry.get("scores"), dict) else entry
            out[str(video)] = {dim_name(d): v for d, v in scores.items()}
    return out


def _vbench_json(run_dir: Path) -> dict[str, dict[str, float]]:
    """``{video key: {dimension: score}}`` from ``run_dir/vbench.json`` (README contract (c))."""
    data = RunDir(run_dir).maybe_vbench()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{run_dir}/vbench.json: expected a JSON object of video_path -> scores")
    return {
        video: {
            d: math.nan if v is None else float(v)
            for d, v in sc.items()
            if v is None or isinstance(v, (bool, int, float))
        }
        for video, sc in vbench_json_scores(data).items()
    }


def _fill(df: pd.DataFrame, col: str, new: Any) -> None:
    """Set ``df[col]`` to ``new`` where it has no finite value yet."""
    new = np.asarray(new, dtype=np.float64)
    old = df[col].to_numpy(np.float64) if col in df else new
    df[col] = np.where(np.isfinite(old), old, new)


def _merge_vbench(df: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """Add ``vbench_<dim>`` columns from ``records_vbench.parquet`` then ``vbench.json``;
    values already present win."""
    side = run_dir / "records_vbench.parquet"
    keys = df["video_path"].astype(str)
    if side.is_file():
        vb = pd.read_parquet(side)
        if "video_path" in vb:
            vb = vb[vb["video_path"].astype(str) != ""]
            vb = vb.drop_duplicates("video_path", keep="last").set_index("video_path")
            for c in filter(is_dim_column, vb.columns):
                _fill(df, c, keys.map(_numeric(vb[c])).to_numpy(np.float64, na_value=np.nan))
    scores = _vbench_json(run_dir)
    by_name = {Path(k).name: v for k, v in reversed(scores.items())}  # the first one wins
    root = run_dir.resolve()
    found = [
        scores.get(vp) or scores.get(str(root / vp)) or (by_name.get(Path(vp).name) if vp else None)
        for vp in keys
    ]
    for dim in sorted({d for v in scores.values() for d in v}):
        _fill(df, VBENCH_PREFIX + dim, [(c or {}).get(dim, math.nan) for c in found])
    return df


def settings_hash(identity: Mapping[str, Any]) -> str:
    """The hash of a run identity without its seed: what ``--pool-seeds`` groups by.

    Args:
        identity: a run identity (:func:`spf_bench.bench.config.run_identity`,
            ``identity.json``): ``{"config": {...}, "inputs": {...}, "results_version": int}``.

    Returns:
        10 hex digits of SHA-256 of the sorted-key JSON of ``config`` without ``seed``,
        ``inputs`` and ``results_version``: equal for runs that differ only in the seed.
    """
    cfg = {k: v for k, v in dict(identity.get("config") or {}).items() if k != "seed"}
    ident = {"config": cfg, "inputs": dict(identity.get("inputs") or {})}
    ident["results_version"] = identity.get("results_version")
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _read_identity(run_dir: Path) -> dict[str, Any] | None:
    """The run identity of ``run_dir`` (``identity.json``, else ``config.json``'s
    ``"identity"``), or ``None`` when absent or unreadable (a warning says which)."""
    rd = RunDir(run_dir)
    for read, key in ((rd.maybe_identity, None), (rd.maybe_config, "identity")):
        try:
            data = read()
        except RunDirError as e:
            log.warning("leaderboard: %s; seeds of this run are not pooled", e)
            continue
        ident = (data or {}).get(key) if key else data
        if isinstance(ident, dict) and ident.get("hash") and isinstance(ident.get("config"), dict):
            return ident
    return None


def load_records(specs: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Every record of the given runs, with VBench scores merged and a ``run_dir`` column.

    Args:
        specs: run directories, ``records.parquet`` files or globs (see :func:`resolve_runs`).

    Returns:
        ``pandas.DataFrame`` of records (:data:`spf_bench.bench.results.record.COLUMNS`, any
        ``vbench_*`` columns, plus ``run_dir``, ``run_order`` and ``settings_hash``: the
        identity hash without the seed, :func:`settings_hash`, or the record's ``config_hash``
        when its run has no matching identity file), duplicates resolved (last run wins).
        ``df.attrs["identities"]`` maps each config hash to its run identity and
        ``df.attrs["no_identity"]`` lists the run directories without one;
        ``df.attrs["fidelity"]`` maps a run directory to the verdict rows of its
        ``vbench.json`` ``"fidelity"`` block (the Fréchet distances, set-level values that no
        record carries; :func:`spf_bench.metrics.vbench.payload.frechet_fidelity`).

    Raises:
        FileNotFoundError: see :func:`resolve_runs`.
        ValueError: on an unreadable ``vbench.json``.
    """
    frames = []
    identities: dict[str, dict[str, Any]] = {}
    no_identity: list[str] = []
    fidelity: dict[str, list[dict[str, Any]]] = {}
    for order, d in enumerate(resolve_runs(specs)):
        df = read_run_records(d)
        fill = {"float64": np.nan, "int64": -1, "bool": False}
        df = df.assign(**{c: fill.get(t, "") for c, t in RECORD_COLUMNS.items() if c not in df})
        df["status"] = df["status"].fillna("failed").astype(str)
        df["iteration"] = pd.to_numeric(df["iteration"], errors="coerce").fillna(0).astype(int)
        for col in filter(is_dim_column, list(df.columns)):
            df[col] = _numeric(df[col])
        df = _merge_vbench(df, d).assign(run_dir=str(d), run_order=order)
        for row in ((RunDir(d).maybe_vbench() or {}).get("fidelity") or {}).get("verdict", []):
            fidelity.setdefault(str(d), []).append(row)
        df["seed"] = pd.to_numeric(df["seed"], errors="coerce").fillna(-1).astype(int)
        df["config_hash"] = df["config_hash"].fillna("").astype(str)
        ident = _read_identity(d)
        if ident is not None:
            h = str(ident["hash"])
            identities[h], same = ident, df["config_hash"] == h
            df["settings_hash"] = np.where(same, settings_hash(ident), df["config_hash"])
            if not same.all():
                msg = "leaderboard: %s: %d record(s) carry another config hash than identity.json"
                log.warning(msg + " (%s); their seeds are not pooled", d, (~same).sum(), h)
        else:
            df["settings_hash"] = df["config_hash"]
            no_identity.append(str(d))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    key = [*GROUP_KEYS, "seed", "config_hash", "item_id", "iteration"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        names = ", ".join(sorted(set(df.loc[dup, "item_id"].astype(str)))[:10])
        msg = "leaderboard: %d records appear in several run directories with the same seed and "
        log.warning(msg + "config hash (items %s); the run listed last wins", dup.sum(), names)
        df = df.sort_values("run_order", kind="stable").drop_duplicates(key, keep="last")
    df = df.sort_values([*key], kind="stable").reset_index(drop=True)
    df.attrs["identities"] = identities
    df.attrs["no_identity"] = no_identity
    df.attrs["fidelity"] = fidelity
    return df


def vbench_dimensions(df: pd.DataFrame) -> list[str]:
    """VBench dimensions with at least one score in ``df`` (sorted, without the prefix)."""
    return sorted(
        c[len(VBENCH_PREFIX) :]
        for c in df.columns
        if is_dim_column(c) and np.isfinite(df[c].to_numpy(np.float64)).any()
    )
