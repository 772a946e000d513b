"""The ``spf-bench`` console script: every command a user runs.

    spf-bench run [HYDRA OVERRIDES ...]          (the bench, as python bench/run.py)
    spf-bench analyze VIDEO [VIDEO ...] [--embedder NAME] [--out DIR]
    spf-bench retime VIDEO --mode resample|segmented [--pacing NAME] [--k K] [--out DIR]
    spf-bench vbench DIR [--dims DIM ...]
    spf-bench merge RUN_DIR [RUN_DIR ...]         (tables, summary, plots from records/)
    spf-bench report RUN_DIR [RUN_DIR ...] [--page-size N]   (report.html, self-contained)
    spf-bench leaderboard RUNS ... [--out DIR]    (leaderboard.csv / .md from run directories)
    spf-bench figures [RUNS ...] [--out DIR]      (results/: figures, tables, README; only reads)
    spf-bench sweep SWEEP_DIR                     (a Hydra sweep's summary)
    spf-bench study NAME [ARGS ...]               (:data:`STUDIES`; NAME --help: its flags)
    spf-bench prefetch --embedder siglip dinov2 --vbench-dims ... [--dry-run]   (weights)
    spf-bench vbench-script [DIM ...]             (VBench's weight download script)

``leaderboard``, ``figures``, ``sweep``, ``study`` and ``run`` hand the rest of the command
line to a module (:data:`DELEGATED`), so they keep its every flag. ``analyze`` and ``retime``
exit 2 after the good inputs when any input was bad, one stderr line each. A user error
(:mod:`spf_bench.bench.errors`) prints ``spf-bench <command>: error: <message>`` on one line and
exits 2; ``spf-bench --debug <command> ...`` shows the traceback (for ``run``:
``HYDRA_FULL_ERROR=1``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from spf_bench.bench import cli_common
from spf_bench.bench.errors import EXIT_USER_ERROR, exit_on_user_error
from spf_bench.bench.retime_cli import add_retime_parser
from spf_bench.bench.stages import merge_run
from spf_bench.bench.vbench_run import add_vbench_parser
from spf_bench.bench.views.report import add_parser as add_report_parser
from spf_bench.metrics.atomic_io import atomic_write_json
from spf_bench.metrics.embedders import EmbeddingError, MissingWeightsError
from spf_bench.metrics.measure import SPFSettings, measure_video
from spf_bench.metrics.prefetch import add_prefetch_parser
from spf_bench.metrics.vbench.registry import provisioning_script
from spf_bench.metrics.video_io import VideoDecodeError

__all__ = ["DELEGATED", "STUDIES", "analyze_video", "build_parser", "main"]

EXIT_OK, EXIT_BAD_INPUT = 0, EXIT_USER_ERROR

#: The studies, ``spf-bench study NAME``: modules of :mod:`spf_bench.bench.studies`.
STUDIES: tuple[str, ...] = tuple(
    "ablation calibrate_progress calibrate_segments calibrate_spf known_warp pacing_gt "
    "perf_measure perf_rope perf_spf reread trace_run train_toy".split()
)

#: Commands handed whole to a module's ``main(argv)``, imported when run (they pull pandas,
#: matplotlib or torch, which the other commands do not need): command -> module.
DELEGATED: dict[str, str] = {
    "run": "spf_bench.bench.run",  # Hydra reads sys.argv: main() takes no argv
    "leaderboard": "spf_bench.bench.views.leaderboard",
    "figures": "spf_bench.bench.views.figures",
    "sweep": "spf_bench.slurm.sweep",
    **{f"study {name}": f"spf_bench.bench.studies.{name}" for name in STUDIES},
}


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
        max_frames, size, allow_truncated: frame limit, shorter-side size (pixels) and whether
            to accept a truncated file (:func:`spf_bench.metrics.video_io.read_video`).

    Returns:
        The JSON record: ``video, frames, fps, linearity_score, max_deviation, max_jump,
        max_jump_frame, total_change, degenerate, keyframes, embedder, spf_settings,
        truncated, frames_declared, frames_decoded, duration_s, frames_dropped, gaps_s,
        missing_s, keyframe_times, max_jump_time, times, spf, keyframe_spf`` (times in seconds
        from the first decoded frame; scores and keyframes in time, docs/method.md, Sec. 8;
        ``spf`` is the estimator's ``S``, ``keyframe_spf`` the paper estimator's ``S`` the
        keyframes were placed on, the same list under ``--estimator paper``).

    Raises:
        spf_bench.metrics.video_io.VideoDecodeError: unreadable video.
        ValueError: too few frames or invalid embeddings.
    """
    from spf_bench.bench.plots import plot_spf

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
        "keyframe_spf": m.keyframe_progress.tolist(),
    }
    out_dir, stem = Path(out_dir), Path(path).stem
    atomic_write_json(out_dir / f"{stem}.json", out)
    title = f"{stem} ({embedder.name}): Linearity " + (
        "n/a (degenerate)" if m.degenerate else f"{sc.linearity_score:.3f}"
    )
    plot_spf({"S": m.progress}, out_dir / f"{stem}.png", title=title, keyframes=keyframes)
    return out


def _fmt(v: Any, spec: str) -> str:
    return "nan" if v is None or (isinstance(v, float) and v != v) else format(v, spec)


def _print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Semantic Progress Function")
    cols = "video|frames|fps|Linearity|max dev|max jump|jump frame|total change (rad)|keyframes"
    for col in cols.split("|"):
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
    try:
        spf_settings = cli_common.spf_from_args(args)
        embedder = cli_common.embedder_from_args(args)
    except (MissingWeightsError, ValueError) as err:
        print(f"spf-bench analyze: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    rows, bad, kwargs = [], [], cli_common.decode_kwargs(args)
    for video in args.videos:
        try:
            rows.append(
                analyze_video(video, embedder, args.out, spf_settings=spf_settings, **kwargs)
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


def _cmd_vbench_script(args: argparse.Namespace) -> int:
    sys.stdout.write(provisioning_script(args.dims or None))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spf-bench`` (sub-commands)."""
    parser = argparse.ArgumentParser(prog="spf-bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of a user error (module docs)"
    )
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
    cli_common.add_embedder_args(an)
    cli_common.add_spf_args(an, ("--keyframe-penalty", "--penalty"))
    cli_common.add_decode_args(an)
    an.set_defaults(func=_cmd_analyze)
    mg = sub.add_parser(
        "merge",
        help="rebuild a run directory's tables, summary and plots from its records/ "
        "(idempotent, locked; after concurrent shards)",
    )
    mg.add_argument("run_dirs", nargs="+", help="run directories")
    mg.add_argument("--no-plots", action="store_true", help="do not redraw plots/")
    mg.set_defaults(func=_cmd_merge)

    for name, help_text in (
        ("leaderboard", "leaderboard.csv / .md from run directories (`--help` for its flags)"),
        ("figures", "regenerate results/ from finished runs (only reads; `--help` for flags)"),
        ("sweep", "write and print a Hydra sweep's summary (SWEEP_DIR)"),
    ):
        sub.add_parser(name, add_help=False, help=help_text)
    st = sub.add_parser(
        "study",
        add_help=False,
        help=f"run a study of bench/studies/ ({', '.join(STUDIES)}); `spf-bench study NAME "
        "--help` lists its flags",
    )
    st.add_argument("name", choices=STUDIES)
    add_retime_parser(sub)
    add_report_parser(sub)
    add_prefetch_parser(sub)
    add_vbench_parser(sub)
    vs = sub.add_parser(
        "vbench-script",
        help="print the shell script that downloads VBench's weights (docs/vbench.md, Sec. 3)",
    )
    vs.add_argument("dims", nargs="*", help="VBench dimensions (default: all seven)")
    vs.set_defaults(func=_cmd_vbench_script)
    return parser


def _delegated(argv: list[str]) -> tuple[str, list[str]] | None:
    """``(command, rest)`` when ``argv`` names a :data:`DELEGATED` command, else ``None``."""
    for n in (2, 1):
        command = " ".join(argv[:n])
        if len(argv) >= n and command in DELEGATED and command != "run":
            return command, argv[n:]
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spf-bench`` console script; returns the exit code.

    ``spf-bench run`` hands the rest of the command line to Hydra
    (:mod:`spf_bench.bench.run`, which reports its own user errors); the other
    :data:`DELEGATED` commands call their module's ``main(argv)``.

    Args:
        argv: the arguments after ``spf-bench``; ``None`` = ``sys.argv[1:]``. A leading
            ``--debug`` shows the traceback of a user error.

    Returns:
        The command's exit code (:data:`~spf_bench.bench.errors.EXIT_USER_ERROR` for a user
        error).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = argv[:1] == ["--debug"]
    if debug:
        argv = argv[1:]
    if argv[:1] == ["run"]:
        if debug:
            os.environ["HYDRA_FULL_ERROR"] = "1"
        sys.argv = ["spf-bench run", *argv[1:]]
        importlib.import_module(DELEGATED["run"]).main()
        return EXIT_OK
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    delegated = _delegated(argv)
    if delegated is None:
        args = build_parser().parse_args(["--debug"] * debug + argv)
        command, call = args.command, lambda: args.func(args)
    else:
        command, rest = delegated
        module = importlib.import_module(DELEGATED[command])
        call = lambda: module.main(rest)  # noqa: E731
    try:
        with exit_on_user_error(f"spf-bench {command}", debug=debug):
            return int(call() or 0)
    except SystemExit as stop:  # argparse's usage errors and --help inside a module
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
