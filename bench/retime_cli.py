"""Post-hoc retiming from the bench and the command line (docs/method.md, Sec. 5).

The bench's ``retime=resample|segmented`` wrappers are built by :mod:`spf_bench.bench.build`;
this module is ``spf-bench retime VIDEO ... --out DIR`` (:func:`retime_video` per video,
which names its outputs). One bad file never stops the others: exit 0 when every video was
retimed, 2 when any input was bad, with one line per bad input on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.bench import cli_common
from spf_bench.bench.build import build_regenerator, measure_with
from spf_bench.generators import posthoc
from spf_bench.generators.base import GeneratorError
from spf_bench.metrics import spf
from spf_bench.metrics.atomic_io import atomic_write_json
from spf_bench.metrics.embedders import EmbeddingError, MissingWeightsError
from spf_bench.metrics.measure import PacingSettings, SPFSettings
from spf_bench.metrics.video_io import VideoDecodeError, read_video, write_video

__all__ = ["add_retime_parser", "retime_video"]

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _bad(msg: Any) -> int:
    print(f"spf-bench retime: bad input: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


# -------------------------------------------------------------------------------- one video
def retime_video(
    path: str | os.PathLike,
    embedder: Any,
    out_dir: str | os.PathLike,
    *,
    mode: str = "resample",
    pacing: PacingSettings = PacingSettings(),  # noqa: B008 - frozen value
    spf_settings: SPFSettings = SPFSettings(),  # noqa: B008 - frozen value
    iterations: int = 3,
    interpolation: str = "linear",
    k: int | None = None,
    penalty: float | None = spf.SEGMENT_PENALTY,
    penalty_per_frame: float | None = None,
    regenerator: Any = None,
    prompt: str | None = None,
    seed: int = 0,
    refine: int = 2,
    max_frames: int | None = None,
    size: int | None = None,
    allow_truncated: bool = False,
) -> dict[str, Any]:
    """Decode, measure, retime, re-measure and write the outputs of one video: for stem ``X``,
    ``X_retimed.mp4`` (source fps), ``X_spf.json`` / ``X_spf.png`` (``S`` before and after, the
    target and both scores), ``X_keyframes.json`` / ``X_keyframes.png`` (the source keyframes,
    where they land in the output, the segment plan; the keyframe strip).

    A clip with uneven presentation times is first rendered evenly in time at its average
    frame rate (``even_time_positions``, ``interpolation``), so positions and keyframe times
    are in seconds (docs/method.md, Sec. 8): ``n_frames_decoded`` then ``n_frames_before``.

    Args:
        path: video file.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`.
        out_dir: output folder (created).
        mode: ``resample`` or ``segmented``.
        pacing: target pacing (:class:`spf_bench.metrics.measure.PacingSettings`).
        spf_settings: SPF settings of every measurement (before, during and after).
        iterations: refinements of ``resample``.
        interpolation: :data:`spf_bench.generators.posthoc.INTERPOLATIONS`.
        k, penalty, penalty_per_frame: choice of the number of segments
            (:func:`spf_bench.generators.posthoc.choose_segments`; ``penalty`` defaults to the
            calibrated 0.008, ``DEFAULT_PENALTY``; ``None``: the per-frame rule).
        regenerator: a first-last-frame generator for ``segmented``, or ``None``.
        prompt, seed: fields of the regenerator's requests.
        refine: refinements of the segment plan (:func:`spf_bench.generators.posthoc.refine_plan`).
        max_frames, size, allow_truncated: decode limits and whether to accept a truncated
            file (:func:`spf_bench.metrics.video_io.read_video`).

    Returns:
        The keyframes JSON record (also written).

    Raises:
        spf_bench.metrics.video_io.VideoDecodeError, FileNotFoundError: unreadable video.
        ValueError: static clip, too many segments, bad settings.
        spf_bench.generators.base.GeneratorError: the regenerator failed.
    """
    from spf_bench.bench.plots import plot_keyframe_strip, plot_spf  # matplotlib, when drawing

    t0 = time.perf_counter()
    frames, info = read_video(
        path, max_frames=max_frames, size=size, allow_truncated=allow_truncated
    )
    if frames.shape[0] < 3:
        raise ValueError(f"{frames.shape[0]} frame(s): the SPF needs at least 3")
    n_decoded = int(frames.shape[0])
    if spf.time_axis(info.times, n_decoded) is not None:  # uneven times: retime as it plays
        frames = posthoc.resample_frames(
            frames, posthoc.even_time_positions(info.times, info.fps), interpolation
        )
    temperature = pacing.temperature
    if penalty_per_frame is None:
        penalty_per_frame = posthoc.DEFAULT_PENALTY_PER_FRAME
    out = posthoc.retime_frames(
        frames,
        measure_with(embedder, spf_settings, pacing),
        mode,
        pacing=pacing.name,
        temperature=temperature,
        iterations=iterations,
        interpolation=interpolation,
        k=k,
        penalty=penalty,
        penalty_per_frame=penalty_per_frame,
        regenerator=regenerator,
        item_id=Path(path).stem,
        seed=seed,
        fps=info.fps,
        prompt=prompt,
        refine=refine,
    )
    fps = float(info.fps)
    src_times = np.arange(frames.shape[0]) / fps  # evenly timed (resampled if need be)
    n_out = out.frames.shape[0]
    s0, s1 = out.before.progress, out.after.progress
    target = spf.pacing_curve(pacing.name, np.linspace(0.0, 1.0, n_out), temperature)
    sc0, sc1 = out.before.scores, out.after.scores
    kf = [0] + [int(b) for _, b in out.segments_before]
    if out.plan is not None:
        kf_out = list(out.plan.out_keyframes)
    else:  # resample: where the output's time map crosses each source keyframe
        kf_out = [round(float(np.interp(b, out.positions, np.arange(n_out)))) for b in kf]
    out_dir = Path(out_dir)
    stem = Path(path).stem
    write_video(out_dir / f"{stem}_retimed.mp4", out.frames, fps)
    scores = {"before": sc0.as_dict(), "after": sc1.as_dict()}
    head = {"video": str(path), "mode": mode, "pacing": pacing.name, "temperature": temperature}
    head |= {"embedder": embedder.name, "spf_settings": dataclasses.asdict(spf_settings)}
    atomic_write_json(
        out_dir / f"{stem}_spf.json",
        {
            **head,
            "fps": fps,
            "scores": scores,
            "before": s0.tolist(),
            "after": s1.tolist(),
            "target": target.tolist(),
            "history": out.history,
        },
    )
    title = (
        f"{stem} ({mode}, {pacing.name}, {embedder.name}): Linearity "
        f"{sc0.linearity_score:.3f} -> {sc1.linearity_score:.3f}, target dev. "
        f"{sc0.target_deviation:.3f} -> {sc1.target_deviation:.3f}"
    )
    plot_spf(
        {"before (source)": s0, "after (retimed)": s1},
        out_dir / f"{stem}_spf.png",
        title=title,
        keyframes=kf,
        target=None
        if pacing.name == "linear"
        else spf.pacing_curve(pacing.name, np.linspace(0.0, 1.0, s0.size), temperature),
    )
    record = {
        **head,
        "regenerator": getattr(regenerator, "name", None) or "none",
        "interpolation": interpolation,
        "fps": fps,
        "n_frames_decoded": n_decoded,
        "n_frames_before": int(frames.shape[0]),
        "n_frames_after": int(n_out),
        **info.decode_facts(),
        **info.timing_facts(),
        "penalty": out.penalty,
        "k": len(out.segments_before),
        "keyframes": [
            {
                "frame": b,
                "time_s": float(src_times[b]),
                "S": float(s0[b]),
                "out_frame": int(o),
                "out_time_s": int(o) / fps,
                "S_after": float(s1[int(o)]),
            }
            for b, o in zip(kf, kf_out, strict=True)
        ],
        "segments": [list(p) for p in out.segments_before],
        "plan": None if out.plan is None else out.plan.as_dict(),
        "pieces": out.pieces,
        "scores": scores,
        "history": out.history,
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    atomic_write_json(out_dir / f"{stem}_keyframes.json", record)
    plot_keyframe_strip(
        [("source", frames, kf, s0, fps), ("retimed", out.frames, kf_out, s1, fps)],
        out_dir / f"{stem}_keyframes.png",
        title=f"{stem}: semantic keyframes ({mode}, {pacing.name})",
    )
    return record


def _cmd_retime(args: argparse.Namespace) -> int:
    if args.pacing not in spf.PACINGS:
        return _bad(f"--pacing {args.pacing!r} is not one of {', '.join(spf.PACINGS)}")
    if args.k is not None and args.k < 1:
        return _bad(f"--k must be >= 1, got {args.k}")
    if args.mode == "resample" and args.regenerator not in (None, "none"):
        return _bad("--regenerator is used by --mode segmented only")
    try:  # the cheap checks first: a bad argument fails before any model loads
        spf_settings = cli_common.spf_from_args(args)
        pacing = PacingSettings(args.pacing, args.temperature)
        pacing.check()
        regenerator = (
            build_regenerator(args.regenerator, {"mode": "flf"})
            if args.mode == "segmented"
            else None
        )
        embedder = cli_common.embedder_from_args(args)
    except (MissingWeightsError, GeneratorError, ValueError, TypeError) as err:
        return _bad(str(err).splitlines()[0])
    status = EXIT_OK
    for video in args.videos:
        status = max(status, _retime_one(video, args, embedder, pacing, spf_settings, regenerator))
    return status


def _retime_one(
    video: str,
    args: argparse.Namespace,
    embedder: Any,
    pacing: PacingSettings,
    spf_settings: SPFSettings,
    regenerator: Any,
) -> int:
    """Retime one video of the command line and print its summary (:data:`EXIT_BAD_INPUT`)."""
    keys = "mode iterations interpolation k penalty_per_frame prompt seed refine".split()
    kwargs = {k: getattr(args, k) for k in keys} | cli_common.decode_kwargs(args)
    kwargs["penalty"] = None if args.penalty_per_frame is not None else args.penalty
    try:
        rec = retime_video(
            video,
            embedder,
            args.out,
            pacing=pacing,
            spf_settings=spf_settings,
            regenerator=regenerator,
            **kwargs,
        )
    except (VideoDecodeError, OSError, ValueError, EmbeddingError) as err:
        return _bad(f"{video}: {str(err).splitlines()[0]}")
    except GeneratorError as err:
        return _bad(f"{video}: regenerator failed: {str(err).splitlines()[0]}")
    b, a = rec["scores"]["before"], rec["scores"]["after"]
    kfs = ", ".join(f"{k['frame']} ({k['time_s']:.2f} s, S={k['S']:.3f})" for k in rec["keyframes"])
    print(
        f"{Path(video).name}: {rec['mode']} to {rec['pacing']} pacing, "
        f"{rec['n_frames_before']} -> {rec['n_frames_after']} frames\n"
        f"  Linearity {b['linearity_score']:.4f} -> {a['linearity_score']:.4f}   "
        f"target deviation {b['target_deviation']:.4f} -> {a['target_deviation']:.4f}\n"
        f"  keyframes: {kfs}\n"
        f"  wrote {Path(args.out) / Path(video).stem}_{{retimed.mp4, spf.json, spf.png, "
        f"keyframes.json, keyframes.png}} in {rec['wall_s']:.1f} s"
    )
    return EXIT_OK


def add_retime_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``retime`` sub-command on ``sub`` (an argparse sub-parsers object)."""
    rt = sub.add_parser(
        "retime",
        help="retime a video to a target semantic pacing (post hoc: resample or segmented)",
        description=__doc__.split("\n\n")[0],
    )
    rt.add_argument("videos", nargs="+", help="video files (any format FFmpeg decodes)")
    rt.add_argument("--mode", choices=("resample", "segmented"), default="resample")
    rt.add_argument(
        "--pacing",
        default="linear",
        help="linear | ease_in_out | exp_up | exp_down | sin_identity (default: %(default)s)",
    )
    rt.add_argument(
        "--temperature",
        type=float,
        default=PacingSettings().temperature,
        help="a of exp_up / exp_down",
    )
    rt.add_argument("--k", type=int, default=None, help="number of segments (default: automatic)")
    rt.add_argument(
        "--penalty",
        type=float,
        default=spf.SEGMENT_PENALTY,
        help="automatic K: cost per segment on S in [0, 1] (default: %(default)s, calibrated in "
        "results/segment_calibration/; the reference uses 0.02)",
    )
    rt.add_argument(
        "--penalty-per-frame",
        type=float,
        default=None,
        help="automatic K with cost per segment = this x frames instead (e.g. 2e-5, the "
        "previous default); overrides --penalty",
    )
    rt.add_argument(
        "--regenerator",
        default=None,
        help="segmented: conf/model name of a first-last-frame model (e.g. wan22_flf, "
        "wan22_flf_tiny, ltx2_tiny); default none = resample each segment",
    )
    rt.add_argument("--prompt", default=None, help="prompt of the regenerated segments")
    rt.add_argument("--seed", type=int, default=0)
    rt.add_argument("--iterations", type=int, default=3, help="resample refinements")
    rt.add_argument("--refine", type=int, default=2, help="segmented: refinements of the plan")
    rt.add_argument("--interpolation", choices=posthoc.INTERPOLATIONS, default="linear")
    rt.add_argument("--out", default="spf_retime", help="output folder (default: %(default)s)")
    cli_common.add_embedder_args(rt)
    cli_common.add_spf_args(rt)
    cli_common.add_decode_args(rt)
    rt.set_defaults(func=_cmd_retime)
    return rt
