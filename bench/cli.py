"""The ``spf-bench`` console script.

    spf-bench analyze VIDEO [VIDEO ...] [--embedder NAME] [--out DIR]
    spf-bench retime VIDEO --mode resample|segmented [--pacing NAME] [--k K] [--out DIR]
    spf-bench vbench DIR [--dims DIM ...]

``analyze`` measures the SPF of any video: it prints a table (frames, fps, Linearity Score,
max deviation, max jump and its frame, total change, keyframes) and writes ``DIR/<stem>.json``
(those fields under those names, plus the ``spf`` list) and ``DIR/<stem>.png``. It exits 0
when every input was analysed, and 2 after analysing the good inputs when any input was bad,
with one line per bad input on stderr and no traceback.

``retime`` gives a video a target semantic pacing post hoc (:mod:`bench.retime_cli`).

``vbench`` scores a run directory or a folder of videos with VBench, in its own venv
(:mod:`bench.vbench_cmd`, :mod:`metrics.vbench`; docs/vbench.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["analyze_video", "main"]

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def analyze_video(
    path: str | os.PathLike,
    embedder: Any,
    out_dir: str | os.PathLike,
    *,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    penalty: float = 0.02,
    max_frames: int | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """Decode, embed and score one video; write ``<stem>.json`` and ``<stem>.png``.

    Args:
        path: video file.
        embedder: a :class:`metrics.embedders.Embedder`.
        out_dir: output folder (created).
        window, sigma, lam, power: SPF hyper-parameters (:func:`metrics.spf.compute_spf`).
        penalty: segmentation penalty for the semantic keyframes
            (:func:`metrics.spf.segment_progress`).
        max_frames: decode at most this many frames.
        size: shorter-side resize on decode (memory).

    Returns:
        The JSON record: ``video, frames, fps, linearity_score, max_deviation, max_jump,
        max_jump_frame, total_change, degenerate, keyframes, embedder, spf``.

    Raises:
        metrics.video_io.VideoDecodeError: unreadable video.
        ValueError: too few frames or invalid embeddings.
    """
    from bench.plots import plot_spf
    from bench.records import atomic_write_json
    from metrics import spf
    from metrics.video_io import read_video

    frames, info = read_video(path, max_frames=max_frames, size=size)
    res = spf.compute_spf(embedder.embed(frames), window=window, sigma=sigma, lam=lam, power=power)
    sc = spf.score_progress(res)
    keyframes = (
        []
        if res.degenerate
        else spf.keyframes_from_segments(spf.segment_progress(res.progress, penalty=penalty))
    )
    out = {
        "video": str(path),
        "frames": int(frames.shape[0]),
        "fps": float(info.fps),
        "linearity_score": sc.linearity_score,
        "max_deviation": sc.max_deviation,
        "max_jump": sc.max_jump,
        "max_jump_frame": sc.max_jump_frame,
        "total_change": sc.total_change,
        "degenerate": sc.degenerate,
        "keyframes": keyframes,
        "embedder": embedder.name,
        "spf": res.progress.tolist(),
    }
    out_dir = Path(out_dir)
    stem = Path(path).stem
    atomic_write_json(out_dir / f"{stem}.json", out)
    title = f"{stem} ({embedder.name}): Linearity " + (
        "n/a (degenerate)" if res.degenerate else f"{sc.linearity_score:.3f}"
    )
    plot_spf({"S": res.progress}, out_dir / f"{stem}.png", title=title, keyframes=keyframes)
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
            str(r["max_jump_frame"]),
            _fmt(r["total_change"], ".4f"),
            " ".join(map(str, r["keyframes"])),
        )
    Console(width=140).print(table)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from metrics.embedders import MissingWeightsError, build_embedder
    from metrics.video_io import VideoDecodeError

    try:
        embedder = build_embedder(
            args.embedder,
            device=args.device,
            batch_size=args.batch_size,
            weights=args.weights,
            allow_download=args.allow_download,
            progress=not args.quiet,
        )
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
                    window=args.window,
                    sigma=args.sigma,
                    power=args.power,
                    penalty=args.penalty,
                    max_frames=args.max_frames,
                    size=args.size,
                )
            )
        except (VideoDecodeError, FileNotFoundError, IsADirectoryError, ValueError) as err:
            bad.append(f"{video}: {err}")
    if rows:
        _print_table(rows)
        print(f"wrote {len(rows)} JSON + PNG pair(s) to {args.out}")
    for line in bad:
        print(f"spf-bench analyze: bad input: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spf-bench`` (sub-commands)."""
    parser = argparse.ArgumentParser(prog="spf-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    an = sub.add_parser("analyze", help="measure the SPF and Linearity Score of videos")
    an.add_argument("videos", nargs="+", help="video files (any format FFmpeg decodes)")
    an.add_argument(
        "--embedder",
        default="efficientnet_lite0",
        help="siglip | openclip | dinov2 | efficientnet_lite0 | pixel "
        "(default: efficientnet_lite0, works offline)",
    )
    an.add_argument("--out", default="spf_analysis", help="output folder (default: %(default)s)")
    an.add_argument("--weights", default=None, help="local weights file or folder")
    an.add_argument(
        "--allow-download",
        action="store_true",
        help="let the model libraries download weights (default: offline)",
    )
    an.add_argument("--device", default="cpu")
    an.add_argument("--batch-size", type=int, default=16)
    an.add_argument("--window", type=int, default=30, help="SPF window, frames")
    an.add_argument("--sigma", type=float, default=20.0, help="pair-weight width, frames")
    an.add_argument("--power", type=float, default=1.0, help="distance exponent")
    an.add_argument("--penalty", type=float, default=0.02, help="keyframe segmentation penalty")
    an.add_argument("--max-frames", type=int, default=None)
    an.add_argument("--size", type=int, default=None, help="shorter-side resize on decode")
    an.add_argument("--quiet", action="store_true", help="no progress bars")
    an.set_defaults(func=_cmd_analyze)
    from bench.retime_cli import add_retime_parser

    add_retime_parser(sub)
    from bench.vbench_cmd import add_vbench_parser

    add_vbench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spf-bench`` console script; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
