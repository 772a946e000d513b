"""VBench on a run directory, and ``spf-bench vbench DIR [--dims DIM ...]``.

The VBench adapter (:mod:`spf_bench.metrics.vbench`) scores videos given by path and knows
nothing of the bench's files; this module knows the run directory
(:func:`spf_bench.bench.pipeline.run_benchmark`): ``records.parquet``, the records'
``video_path`` (``videos/*.mp4``) and ``spf_path`` (``spf/*.npz``), ``config.json`` (its
``config.spf`` block: the run's SPF settings). Used by ``bench/run.py ... vbench.enabled=true``
(after the records are written) and by ``spf-bench vbench DIR`` (:func:`cmd_vbench`).

The run's ``records.parquet`` is left untouched; VBench results go to

- ``vbench.json``: per-video scores keyed by the records' ``video_path`` (relative to the run
  directory), VBench's aggregates, mean/std per (model, retime, iteration), the verdict table
  (:func:`spf_bench.metrics.vbench.verdict.verdict_table`) and the drift figures (schema
  ``spf-bench/vbench/1``, see :func:`score_run`);
- ``records_vbench.parquet``: ``records.parquet`` plus one float column ``vbench_<dimension>``
  per scored dimension, ``drift_<metric>`` columns and ``vbench_error`` (NaN / ``""`` where a
  record has no video or its scoring failed), joined on ``video_path``.

``spf-bench vbench DIR``: ``DIR`` is either a run directory (it has ``records.parquet``; its
videos are the records' ``video_path``) or any folder of videos (every
``.mp4/.mov/.mkv/.webm/.avi/.m4v`` under it, keyed by the path relative to ``DIR``:
:func:`spf_bench.metrics.vbench.payload.score_folder`, without ``groups`` and ``verdict``).
VBench 0.1.5 runs in ``.venv-vbench``; the command prints the per-video scores, the
aggregates, the long-video drift and, for a run directory, the verdict table (is the retimed
mean within one std of the original?), and writes ``DIR/vbench.json`` (run directories also
get ``records_vbench.parquet``).

Exit status: 0 when every video was scored on every dimension; 2 when something could not be
scored (missing weights or VBench environment: nothing runs, the message lists what is missing;
unreadable videos or a failed dimension: the rest is scored and written, then one line per
failure on stderr). No traceback either way.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.results.stats import mean, std
from spf_bench.bench.views.report import write_report
from spf_bench.metrics.embedders import MissingWeightsError, build_embedder
from spf_bench.metrics.measure import SPFSettings
from spf_bench.metrics.vbench import (
    DIMENSIONS,
    VBenchError,
    VBenchSettings,
    preflight,
    score_videos,
    verdict_table,
    videos_in,
)
from spf_bench.metrics.vbench.payload import (
    brief,
    frechet_fidelity,
    merge_scores,
    print_tables,
    result_payload,
    score_folder,
)
from spf_bench.metrics.video_io import read_video

__all__ = [
    "add_vbench_parser",
    "cmd_vbench",
    "group_stats",
    "load_progress",
    "run_spf_settings",
    "score_run",
]

EXIT_OK, EXIT_FAILED = 0, 2


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


# ---------------------------------------------------------------------- what a run directory holds
def load_progress(run_dir: Path, df: Any) -> dict[str, np.ndarray]:
    """The SPF ``S`` of each record, from its ``spf/*.npz``, for the ``spf_pace`` drift.

    Args:
        run_dir: the run directory (``spf_path`` is relative to it).
        df: records with ``video_path`` and ``spf_path``.

    Returns:
        ``video_path`` -> ``progress`` (``(T,)`` float64, 0 to 1); records without a video or
        an SPF file, or with an unreadable one, are left out (their drift is then NaN).
    """
    out, rd = {}, RunDir(run_dir)
    for vp, sp in zip(df["video_path"].astype(str), df["spf_path"].astype(str), strict=True):
        try:
            if vp and sp:
                out[vp] = rd.progress(sp)
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
            (:func:`spf_bench.metrics.vbench.payload.frechet_fidelity`; features stored by a
            held-out judge of that name are reused): ``vbench.json`` gets its block under
            ``"fidelity"`` and its rows join ``"verdict"`` (dimension ``frechet_<name>``).

    Returns:
        The ``vbench.json`` payload.

    Raises:
        FileNotFoundError: no ``records.parquet`` in ``out_dir``, or (``spf`` not given) no
            ``config.json``.
        ValueError: an unusable ``config.spf`` block.
        The errors of :func:`spf_bench.metrics.vbench.score_videos`.
    """
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
        src = RunDir(run_dir)
        payload["fidelity"] = frechet_fidelity(
            df,
            lambda row: read_video(run_dir / str(row.video_path))[0],
            lambda row: src.maybe_heldout_embeddings(str(row.spf_path), frechet[0]),
            frechet[1],
            frechet[0],
        )
        payload["verdict"] += payload["fidelity"]["verdict"]
    out.write_json("vbench.json", payload)
    return payload


# -------------------------------------------------------------------------------------- the command
def add_vbench_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``vbench`` sub-command on ``spf-bench``'s sub-parsers."""
    p = sub.add_parser(
        "vbench",
        help="VBench scores, one-std verdict and long-video drift of a run or a folder",
        description=__doc__.split("\n\n")[-2],
    )
    p.add_argument("dir", help="a run directory (with records.parquet) or a folder of videos")
    p.add_argument(
        "--dims",
        nargs="+",
        default=list(DIMENSIONS),
        choices=list(DIMENSIONS),
        metavar="DIM",
        help="VBench dimensions (default: all: %(default)s); temporal_flickering needs no weights",
    )
    p.add_argument(
        "--cache-dir", help="VBench weights (default: $VBENCH_CACHE_DIR or ~/.cache/vbench)"
    )
    p.add_argument(
        "--torch-home",
        help="TORCH_HOME with the DINO checkpoint (default: $TORCH_HOME or ~/.cache/torch)",
    )
    p.add_argument("--venv", help="the VBench venv (default: <repo>/.venv-vbench)")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in VBench")
    p.add_argument("--no-drift", action="store_true", help="skip the long-video drift figures")
    p.add_argument(
        "--drift-dims",
        nargs="*",
        default=None,
        choices=list(DIMENSIONS),
        metavar="DIM",
        help="VBench dimensions also scored on the first/last 15%% of frames "
        "(default: imaging_quality and aesthetic_quality among --dims)",
    )
    p.add_argument(
        "--embedder",
        default="efficientnet_lite0",
        help="frame embedder for the SPF pace drift of a plain folder (run directories use "
        "their spf/*.npz); 'none' skips it (default: %(default)s)",
    )
    p.add_argument(
        "--frechet",
        default="none",
        metavar="EMBEDDER",
        help="run directories: also the offline Fréchet distance of this embedder's frame "
        "features to evenly paced crossfade references, with its one-std verdict "
        "(e.g. efficientnet_lite0; default: %(default)s)",
    )
    p.add_argument("--out", help="plain folders only: where vbench.json goes (default: DIR)")
    p.add_argument("--work-dir", help="keep VBench's staged videos, output and log")
    p.add_argument("--timeout", type=float, help="limit of the VBench process, s")
    p.set_defaults(func=cmd_vbench)
    return p


def cmd_vbench(args: argparse.Namespace) -> int:
    """Run the ``vbench`` sub-command; returns the exit status."""
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"spf-bench vbench: not a directory: {folder}", file=sys.stderr)
        return EXIT_FAILED
    try:
        s = VBenchSettings(
            enabled=True,
            dims=tuple(args.dims),
            cache_dir=args.cache_dir,
            torch_home=args.torch_home,
            venv=args.venv,
            device=args.device,
            threads=args.threads,
            drift=not args.no_drift,
            drift_dims=None if args.drift_dims is None else tuple(args.drift_dims),
            timeout_s=args.timeout,
        )
        preflight(s)
        out = Path(args.out) if args.out else folder
        if (folder / "records.parquet").is_file():
            if args.out:
                raise ValueError("--out is for plain folders: a run directory keeps vbench.json")
            frechet = None
            if args.frechet != "none":
                frechet = (args.frechet, build_embedder(args.frechet, progress=False))
            payload = score_run(folder, s, work_dir=args.work_dir, frechet=frechet)
            rd = RunDir(folder)
            summary = rd.maybe_summary()
            if summary is not None:  # what a run with vbench.enabled writes, and its report
                rd.write_summary({**summary, "vbench": brief(payload)})
                if rd.report_path.is_file():
                    write_report(rd.path)
        else:
            if not videos_in(folder):  # before building an embedder
                print(f"spf-bench vbench: no video files under {folder}", file=sys.stderr)
                return EXIT_FAILED
            embedder = None
            if not args.no_drift and args.embedder != "none":
                embedder = build_embedder(args.embedder, progress=False)
            payload = score_folder(
                folder, s, out_dir=out, embedder=embedder, work_dir=args.work_dir
            )
    except (VBenchError, MissingWeightsError, ValueError, FileNotFoundError) as err:
        print(f"spf-bench vbench: {err}", file=sys.stderr)
        return EXIT_FAILED
    print_tables(payload)
    print(f"wrote {out / 'vbench.json'} ({payload['seconds'].get('total', math.nan):.1f} s)")
    for key in payload["failures"]:
        errs = payload["videos"][key]["errors"]
        line = "; ".join(f"{d}: {m.splitlines()[0]}" for d, m in errs.items())
        print(f"spf-bench vbench: failed: {key}: {line}", file=sys.stderr)
    for dim, err in payload["dimension_errors"].items():
        print(f"spf-bench vbench: dimension {dim} failed: {err.splitlines()[0]}", file=sys.stderr)
    return EXIT_FAILED if payload["failures"] or payload["dimension_errors"] else EXIT_OK
