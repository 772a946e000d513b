"""The ``spf-bench`` console script.

    spf-bench run [HYDRA OVERRIDES ...]          (the bench, as python bench/run.py)
    spf-bench analyze VIDEO [VIDEO ...] [--embedder NAME] [--out DIR]
    spf-bench retime VIDEO --mode resample|segmented [--pacing NAME] [--k K] [--out DIR]
    spf-bench vbench DIR [--dims DIM ...]
    spf-bench merge RUN_DIR [RUN_DIR ...]         (tables, summary, plots from records/)
    spf-bench report RUN_DIR [RUN_DIR ...] [--page-size N]   (report.html, self-contained)
    spf-bench prefetch --embedder siglip dinov2 --vbench-dims ... [--dry-run]   (weights)

``analyze`` measures the SPF of any video: it prints a table (frames, fps, Linearity Score,
max deviation, max jump and its frame, total change, keyframes) and writes ``DIR/<stem>.json``
(those fields under those names, plus the ``spf`` list) and ``DIR/<stem>.png``. It exits 0
when every input was analysed, and 2 after analysing the good inputs when any input was bad
(unreadable, too short, or an embedder failure on its frames), with one line per bad input on
stderr and no traceback; one bad file never stops the others.

``retime`` gives a video a target semantic pacing post hoc (:mod:`spf_bench.bench.retime_cli`).

``vbench`` scores a run directory or a folder of videos with VBench, in its own venv
(:mod:`spf_bench.bench.vbench_cmd`, :mod:`spf_bench.metrics.vbench`; docs/vbench.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

from spf_bench.bench.cli_common import (
    add_decode_args,
    add_embedder_args,
    add_spf_args,
    embedder_from_args,
    spf_from_args,
)
from spf_bench.metrics.measure import SPFSettings, measure_video

__all__ = ["analyze_video", "main"]

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def analyze_video(
    path: str | os.PathLike,
    embedder: Any,
    out_dir: str | os.PathLike,
    *,
    spf_settings: SPFSettings = SPFSettings(),  # noqa: B008 - frozen value
    max_frames: int | None = None,
    size: int | None = None,
    allow_truncated: bool = False,
) -> dict[str, Any]:
    """Decode and measure (:func:`spf_bench.metrics.measure.measure_video`) and write one video's
    ``<stem>.json`` and ``<stem>.png``.

    Args:
        path: video file.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`.
        out_dir: output folder (created).
        spf_settings: SPF settings, including the keyframe segmentation penalty.
        max_frames: decode at most this many frames.
        size: shorter-side resize on decode, pixels.
        allow_truncated: analyse the decodable frames of a truncated file instead of refusing
            it (:func:`spf_bench.metrics.video_io.read_video`).

    Returns:
        The JSON record: ``video, frames, fps, linearity_score, max_deviation, max_jump,
        max_jump_frame, total_change, degenerate, keyframes, embedder, spf_settings,
        truncated, frames_declared, frames_decoded, duration_s, frames_dropped, gaps_s,
        missing_s, keyframe_times, max_jump_time, times, spf`` (times in seconds from the first
        decoded frame; scores and keyframes in time, docs/method.md, Sec. 8).

    Raises:
        spf_bench.metrics.video_io.VideoDecodeError: unreadable video.
        ValueError: too few frames or invalid embeddings.
    """
    from spf_bench.bench.plots import plot_spf
    from spf_bench.bench.records import atomic_write_json

    m, info = measure_video(
        path,
        embedder,
        spf_settings,
        max_frames=max_frames,
        size=size,
        allow_truncated=allow_truncated,
    )
    sc = m.scores
    keyframes = list(m.keyframes)
    times = m.frame_times(info.fps)
    out = {
        "video": str(path),
        "frames": m.n_frames,
        "fps": float(info.fps),
        "linearity_score": sc.linearity_score,
        "max_deviation": sc.max_deviation,
        "max_jump": sc.max_jump,
        "max_jump_frame": sc.max_jump_frame,
        "total_change": sc.total_change,
        "degenerate": sc.degenerate,
        "keyframes": keyframes,
        "embedder": embedder.name,
        "spf_settings": dataclasses.asdict(spf_settings),
        **info.decode_facts(),
        **info.timing_facts(),
        "keyframe_times": [float(times[k]) for k in keyframes],
        "max_jump_time": None if sc.degenerate else float(times[sc.max_jump_frame]),
        "times": times.tolist(),
        "spf": m.progress.tolist(),
    }
    out_dir = Path(out_dir)
    stem = Path(path).stem
    atomic_write_json(out_dir / f"{stem}.json", out)
    title = f"{stem} ({embedder.name}): Linearity " + (
        "n/a (degenerate)" if m.degenerate else f"{sc.linearity_score:.3f}"
    )
    plot_spf({"S": m.progress}, out_dir / f"{stem}.png", title=title, keyframes=keyframes)
    return out


def _fmt(v: Any, spec: str) -> str:
    return "nan" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Semantic Progress Function")
    for col in (
        "video",
        "frames",
        "fps",
        "Linearity",
        "max dev",
        "max jump",
        "jump frame",
        "total change (rad)",
        "keyframes",
    ):
        table.add_column(col, justify="left" if col in ("video", "keyframes") else "right")
    for r in rows:
        table.add_row(
            Path(r["video"]).name,
            str(r["frames"]),
            _fmt(r["fps"], ".2f"),
            "degenerate" if r["degenerate"] else _fmt(r["linearity_score"], ".4f"),
            _fmt(r["max_deviation"], ".4f"),
            _fmt(r["max_jump"], ".4f"),
            str(r["max_jump_frame"])
            + ("" if r["max_jump_time"] is None else f" ({r['max_jump_time']:.2f} s)"),
            _fmt(r["total_change"], ".4f"),
            " ".join(map(str, r["keyframes"])),
        )
    Console(width=140).print(table)
    for r in rows:  # what the timeline was missing (docs/method.md, Sec. 8)
        if r["gaps_s"] or r["frames_dropped"] or r["truncated"]:
            print(
                f"{Path(r['video']).name}: {r['frames_declared']} frames declared, "
                f"{r['frames_decoded']} decoded{' (truncated)' if r['truncated'] else ''}; "
                f"{len(r['gaps_s'])} timestamp gap(s) missing {r['missing_s']:.2f} s; "
                f"{r['frames_dropped']} frame(s) dropped for a repeated timestamp; "
                f"measured over {r['duration_s']:.2f} s"
            )


def _cmd_analyze(args: argparse.Namespace) -> int:
    from spf_bench.metrics.embedders import EmbeddingError, MissingWeightsError
    from spf_bench.metrics.video_io import VideoDecodeError

    try:
        spf_settings = spf_from_args(args)
        embedder = embedder_from_args(args)
    except (MissingWeightsError, ValueError) as err:
        print(f"spf-bench analyze: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rows, bad = [], []
    for video in args.videos:
        try:
            rows.append(
                analyze_video(
                    video,
                    embedder,
                    args.out,
                    spf_settings=spf_settings,
                    max_frames=args.max_frames,
                    size=args.size,
                    allow_truncated=args.allow_truncated,
                )
            )
        except (VideoDecodeError, OSError, ValueError, EmbeddingError) as err:
            bad.append(f"{video}: {' '.join(str(err).split())}")
    if rows:
        _print_table(rows)
        print(f"wrote {len(rows)} JSON + PNG pair(s) to {args.out}")
    for line in bad:
        print(f"spf-bench analyze: bad input: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_OK


def _cmd_merge(args: argparse.Namespace) -> int:
    from spf_bench.bench.merge import merge_run

    status = EXIT_OK
    for d in args.run_dirs:
        try:
            _, summary = merge_run(d, plots=not args.no_plots)
        except (FileNotFoundError, NotADirectoryError, ValueError, KeyError) as err:
            print(f"spf-bench merge: bad input: {d}: {err}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(
            f"{d}: {summary['n_items']} items, {summary['n_records']} records "
            f"({summary['n_failed']} failed) of run {summary['config_hash']}"
        )
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spf-bench`` (sub-commands)."""
    parser = argparse.ArgumentParser(prog="spf-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        add_help=False,
        help="run the bench with Hydra overrides, as `python bench/run.py` (e.g. `spf-bench "
        "run model=morph embedder=pixel`; `spf-bench run --help` lists Hydra's options)",
    )
    an = sub.add_parser("analyze", help="measure the SPF and Linearity Score of videos")
    an.add_argument("videos", nargs="+", help="video files (any format FFmpeg decodes)")
    an.add_argument("--out", default="spf_analysis", help="output folder (default: %(default)s)")
    add_embedder_args(an)
    add_spf_args(an, ("--keyframe-penalty", "--penalty"))
    add_decode_args(an)
    an.set_defaults(func=_cmd_analyze)
    mg = sub.add_parser(
        "merge",
        help="rebuild a run directory's tables, summary and plots from its records/ "
        "(idempotent, locked; after concurrent shards)",
    )
    mg.add_argument("run_dirs", nargs="+", help="run directories")
    mg.add_argument("--no-plots", action="store_true", help="do not redraw plots/")
    mg.set_defaults(func=_cmd_merge)

    from spf_bench.bench.retime_cli import add_retime_parser

    add_retime_parser(sub)
    from spf_bench.bench.report_cmd import add_report_parser

    add_report_parser(sub)
    from spf_bench.bench.prefetch import add_prefetch_parser

    add_prefetch_parser(sub)
    from spf_bench.bench.vbench_cmd import add_vbench_parser

    add_vbench_parser(sub)
    from spf_bench.bench.studies.known_warp import add_known_warp_parser

    add_known_warp_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spf-bench`` console script; returns the exit code.

    ``spf-bench run <hydra overrides>`` hands the rest of the command line to Hydra and runs
    the bench exactly as ``python bench/run.py <overrides>`` does (:mod:`spf_bench.bench.run`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        from spf_bench.bench import run

        sys.argv = ["spf-bench run", *argv[1:]]
        run.main()
        return EXIT_OK
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
