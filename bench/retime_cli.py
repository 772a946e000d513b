"""Post-hoc retiming from the bench and the command line (method spec Sec. 5).

- :func:`posthoc_generator` wraps a bench generator for ``retime=resample`` or
  ``retime=segmented`` (:mod:`generators.posthoc`); :func:`check_posthoc_settings` validates
  their config; :func:`load_model_config` reads a ``conf/model/<name>.yaml`` the way
  ``bench/run.py`` uses a model config (pop ``name`` and ``_target_``, the rest are keyword
  arguments) for the first-last-frame regenerator.
- ``spf-bench retime VIDEO --mode resample|segmented [--pacing NAME] [--k K] --out DIR``
  (:func:`retime_video`) writes, for ``VIDEO`` with stem ``X``:

  ``X_retimed.mp4``     the retimed clip (source fps; the regenerator's frame size if any);
  ``X_spf.json``        ``S`` before and after, the target curve on the output's frames, and
                        the scores of both (``linearity_score``, ``target_deviation``...);
  ``X_spf.png``         ``S`` before and after against the target pacing;
  ``X_keyframes.json``  the semantic keyframes of the source (frame, time in seconds, ``S``),
                        where they land in the output, the segment plan and the scores;
  ``X_keyframes.png``   the keyframe strip (:func:`bench.plots.plot_keyframe_strip`).

  Exit 0 on success; 2 with one line on stderr (no traceback) on bad input: an unreadable
  video, a static clip (nothing to retime), too many segments for the length, an unknown
  embedder, pacing or regenerator, missing weights.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "add_retime_parser",
    "check_posthoc_settings",
    "load_model_config",
    "posthoc_generator",
    "retime_video",
]

ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_BAD_INPUT = 0, 2


# -------------------------------------------------------------------------------- config
def load_model_config(
    name: str, conf_dir: str | os.PathLike | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Read ``conf/model/<name>.yaml`` into ``(name, "module.Class", kwargs)``.

    Interpolations are resolved; a file with a Hydra ``defaults`` list is refused (model files
    are flat).

    Raises:
        ValueError: if the file does not exist (listing the available ones) or is malformed.
    """
    from omegaconf import OmegaConf

    from bench.pipeline import split_model_config

    d = Path(conf_dir) if conf_dir is not None else ROOT / "conf" / "model"
    path = d / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in d.glob("*.yaml")))
        raise ValueError(f"no model config {name!r} in {d} (available: {known})")
    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(cfg, dict) or "_target_" not in cfg or "defaults" in cfg:
        raise ValueError(f"{path} must be a flat mapping with _target_ (and no defaults list)")
    _, target, kwargs = split_model_config({"name": name, **cfg})
    return name, target, kwargs


def _regenerator_name(value: Any) -> str | None:
    if value is None or str(value).lower() in ("none", "null", ""):
        return None
    return str(value)


def check_posthoc_settings(r: Any) -> None:
    """Validate the post-hoc keys of a :class:`bench.pipeline.RetimeSettings`.

    Raises:
        ValueError: naming the bad key.
    """
    from generators.posthoc import INTERPOLATIONS, flow_available

    if r.interpolation not in INTERPOLATIONS:
        raise ValueError(f"retime.interpolation={r.interpolation!r} is not one of {INTERPOLATIONS}")
    if r.interpolation == "flow" and not flow_available():
        raise ValueError(
            "retime.interpolation=flow needs OpenCV (pip install opencv-python-headless)"
        )
    if r.name == "resample":
        if r.iterations < 1:
            raise ValueError(f"retime=resample needs iterations >= 1, got {r.iterations}")
        if _regenerator_name(r.regenerator) is not None:
            raise ValueError("retime.regenerator is used by retime=segmented only")
    if r.name == "segmented":
        if r.iterations != 1:
            raise ValueError(
                f"retime=segmented is one regeneration pass: iterations must be 1, got "
                f"{r.iterations}"
            )
        name = _regenerator_name(r.regenerator)
        if name is not None and not (ROOT / "conf" / "model" / f"{name}.yaml").is_file():
            load_model_config(name)  # raises with the list of available configs
    if int(r.refine) < 0:
        raise ValueError(f"retime.refine must be >= 0, got {r.refine}")
    if r.k is not None and (isinstance(r.k, bool) or int(r.k) < 1):
        raise ValueError(f"retime.k must be null or an integer >= 1, got {r.k!r}")
    for key in ("penalty", "penalty_per_frame"):
        v = getattr(r, key)
        if v is not None and not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"retime.{key} must be finite and >= 0, got {v!r}")


def _measure(embedder: Any, spf_settings: Any):
    from metrics import spf

    def measure(frames: np.ndarray) -> spf.SPFResult:
        return spf.compute_spf(
            embedder.embed(frames),
            window=spf_settings.window,
            sigma=spf_settings.sigma,
            lam=spf_settings.lam,
            power=spf_settings.power,
        )

    return measure


def build_regenerator(name: str | None, options: dict[str, Any] | None = None) -> Any:
    """The first-last-frame generator of ``conf/model/<name>.yaml`` with ``options`` applied,
    or ``None`` for ``name`` ``None``/``"none"``.

    Raises:
        ValueError: unknown config or target.
        generators.base.GeneratorError: the generator refuses its settings (e.g. missing
            weights).
    """
    from bench.pipeline import build_generator

    name = _regenerator_name(name)
    if name is None:
        return None
    _, target, kwargs = load_model_config(name)
    kwargs.update(options or {})
    return build_generator(target, kwargs)


def posthoc_generator(gen: Any, retime: Any, pacing: Any, spf_settings: Any, embedder: Any):
    """Wrap ``gen`` for ``retime.name`` ``resample`` or ``segmented``.

    Args:
        gen: the configured generator.
        retime: :class:`bench.pipeline.RetimeSettings`.
        pacing: :class:`bench.pipeline.PacingSettings`.
        spf_settings: :class:`bench.pipeline.SPFSettings` (the segmented wrapper measures the
            baseline's ``S`` with them and ``embedder``).
        embedder: the run's embedder.

    Returns:
        A :class:`generators.posthoc.ResampledGenerator` or
        :class:`generators.posthoc.SegmentedRetimer`.
    """
    from generators.posthoc import ResampledGenerator, SegmentedRetimer

    if retime.name == "resample":
        return ResampledGenerator(gen, retime.interpolation)
    if retime.name != "segmented":
        raise ValueError(f"retime={retime.name!r} is not a post-hoc mode")
    return SegmentedRetimer(
        gen,
        _measure(embedder, spf_settings),
        build_regenerator(retime.regenerator, retime.regenerator_options),
        k=retime.k,
        penalty=retime.penalty,
        penalty_per_frame=retime.penalty_per_frame,
        pacing=pacing.name,
        temperature=pacing.temperature,
        interpolation=retime.interpolation,
        prompt=retime.prompt,
        refine=retime.refine,
    )


# -------------------------------------------------------------------------------- one video
def retime_video(
    path: str | os.PathLike,
    embedder: Any,
    out_dir: str | os.PathLike,
    *,
    mode: str = "resample",
    pacing: str = "linear",
    temperature: float = 3.0,
    iterations: int = 3,
    interpolation: str = "linear",
    k: int | None = None,
    penalty: float | None = None,
    penalty_per_frame: float | None = None,
    regenerator: Any = None,
    prompt: str | None = None,
    seed: int = 0,
    refine: int = 2,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    max_frames: int | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """Decode, measure, retime, re-measure and write the outputs of one video.

    Args:
        path: video file.
        embedder: a :class:`metrics.embedders.Embedder`.
        out_dir: output folder (created).
        mode: ``resample`` or ``segmented``.
        pacing, temperature: target pacing (:data:`metrics.spf.PACINGS`).
        iterations: refinements of ``resample``.
        interpolation: :data:`generators.posthoc.INTERPOLATIONS`.
        k, penalty, penalty_per_frame: choice of the number of segments
            (:func:`generators.posthoc.choose_segments`; ``None`` per-frame: the default).
        regenerator: a first-last-frame generator for ``segmented``, or ``None``.
        prompt, seed: fields of the regenerator's requests.
        refine: refinements of the segment plan (:func:`generators.posthoc.refine_plan`).
        window, sigma, lam, power: SPF hyper-parameters.
        max_frames, size: decode limits (:func:`metrics.video_io.read_video`).

    Returns:
        The keyframes JSON record (also written).

    Raises:
        metrics.video_io.VideoDecodeError, FileNotFoundError: unreadable video.
        ValueError: static clip, too many segments, bad settings.
        generators.base.GeneratorError: the regenerator failed.
    """
    from bench.plots import plot_keyframe_strip, plot_spf
    from bench.records import atomic_write_json
    from generators.posthoc import DEFAULT_PENALTY_PER_FRAME, retime_frames
    from metrics import spf
    from metrics.video_io import read_video, write_video

    t0 = time.perf_counter()
    frames, info = read_video(path, max_frames=max_frames, size=size)
    if frames.shape[0] < 3:
        raise ValueError(f"{frames.shape[0]} frame(s): the SPF needs at least 3")

    def measure(x: np.ndarray) -> spf.SPFResult:
        return spf.compute_spf(embedder.embed(x), window=window, sigma=sigma, lam=lam, power=power)

    out = retime_frames(
        frames,
        measure,
        mode,
        pacing=pacing,
        temperature=temperature,
        iterations=iterations,
        interpolation=interpolation,
        k=k,
        penalty=penalty,
        penalty_per_frame=DEFAULT_PENALTY_PER_FRAME
        if penalty_per_frame is None
        else penalty_per_frame,
        regenerator=regenerator,
        item_id=Path(path).stem,
        seed=seed,
        fps=info.fps,
        prompt=prompt,
        refine=refine,
    )
    fps = float(info.fps)
    n_out = out.frames.shape[0]
    s0, s1 = out.before.progress, out.after.progress
    target = spf.pacing_curve(pacing, np.linspace(0.0, 1.0, n_out), temperature)
    sc0 = spf.score_progress(out.before, pacing=pacing, temperature=temperature)
    sc1 = spf.score_progress(out.after, pacing=pacing, temperature=temperature)
    kf = [0] + [int(b) for _, b in out.segments_before]
    if out.plan is not None:
        kf_out = list(out.plan.out_keyframes)
    else:  # resample: where the output's time map crosses each source keyframe
        kf_out = [round(float(np.interp(b, out.positions, np.arange(n_out)))) for b in kf]
    out_dir = Path(out_dir)
    stem = Path(path).stem
    write_video(out_dir / f"{stem}_retimed.mp4", out.frames, fps)
    scores = {"before": sc0.as_dict(), "after": sc1.as_dict()}
    atomic_write_json(
        out_dir / f"{stem}_spf.json",
        {
            "video": str(path),
            "mode": mode,
            "pacing": pacing,
            "temperature": temperature,
            "embedder": embedder.name,
            "fps": fps,
            "scores": scores,
            "before": s0.tolist(),
            "after": s1.tolist(),
            "target": target.tolist(),
            "history": out.history,
        },
    )
    title = (
        f"{stem} ({mode}, {pacing}, {embedder.name}): Linearity "
        f"{sc0.linearity_score:.3f} -> {sc1.linearity_score:.3f}, target dev. "
        f"{sc0.target_deviation:.3f} -> {sc1.target_deviation:.3f}"
    )
    plot_spf(
        {"before (source)": s0, "after (retimed)": s1},
        out_dir / f"{stem}_spf.png",
        title=title,
        keyframes=kf,
        target=None
        if pacing == "linear"
        else spf.pacing_curve(pacing, np.linspace(0.0, 1.0, s0.size), temperature),
    )
    record = {
        "video": str(path),
        "mode": mode,
        "pacing": pacing,
        "temperature": temperature,
        "embedder": embedder.name,
        "regenerator": getattr(regenerator, "name", None) or "none",
        "interpolation": interpolation,
        "fps": fps,
        "n_frames_before": int(frames.shape[0]),
        "n_frames_after": int(n_out),
        "penalty": out.penalty,
        "k": len(out.segments_before),
        "keyframes": [
            {
                "frame": b,
                "time_s": b / fps,
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
        [
            ("source", frames, kf, s0, fps),
            ("retimed", out.frames, kf_out, s1, fps),
        ],
        out_dir / f"{stem}_keyframes.png",
        title=f"{stem}: semantic keyframes ({mode}, {pacing})",
    )
    return record


def _cmd_retime(args: argparse.Namespace) -> int:
    from generators.base import GeneratorError
    from metrics.embedders import MissingWeightsError, build_embedder
    from metrics.spf import PACINGS
    from metrics.video_io import VideoDecodeError

    def bad(msg: Any) -> int:
        print(f"spf-bench retime: bad input: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.pacing not in PACINGS:
        return bad(f"--pacing {args.pacing!r} is not one of {', '.join(PACINGS)}")
    if args.k is not None and args.k < 1:
        return bad(f"--k must be >= 1, got {args.k}")
    if args.mode == "resample" and args.regenerator not in (None, "none"):
        return bad("--regenerator is used by --mode segmented only")
    try:
        regenerator = (
            build_regenerator(args.regenerator, {"mode": "flf"})
            if args.mode == "segmented"
            else None
        )
        embedder = build_embedder(
            args.embedder,
            device=args.device,
            batch_size=args.batch_size,
            weights=args.weights,
            allow_download=args.allow_download,
            progress=not args.quiet,
        )
    except (MissingWeightsError, GeneratorError, ValueError, TypeError) as err:
        return bad(str(err).splitlines()[0])
    try:
        rec = retime_video(
            args.video,
            embedder,
            args.out,
            mode=args.mode,
            pacing=args.pacing,
            temperature=args.temperature,
            iterations=args.iterations,
            interpolation=args.interpolation,
            k=args.k,
            penalty=args.penalty,
            penalty_per_frame=args.penalty_per_frame,
            regenerator=regenerator,
            prompt=args.prompt,
            seed=args.seed,
            refine=args.refine,
            window=args.window,
            sigma=args.sigma,
            power=args.power,
            max_frames=args.max_frames,
            size=args.size,
        )
    except (VideoDecodeError, FileNotFoundError, IsADirectoryError, ValueError) as err:
        return bad(f"{args.video}: {str(err).splitlines()[0]}")
    except GeneratorError as err:
        return bad(f"{args.video}: regenerator failed: {str(err).splitlines()[0]}")
    b, a = rec["scores"]["before"], rec["scores"]["after"]
    kfs = ", ".join(f"{k['frame']} ({k['time_s']:.2f} s, S={k['S']:.3f})" for k in rec["keyframes"])
    print(
        f"{Path(args.video).name}: {rec['mode']} to {rec['pacing']} pacing, "
        f"{rec['n_frames_before']} -> {rec['n_frames_after']} frames\n"
        f"  Linearity {b['linearity_score']:.4f} -> {a['linearity_score']:.4f}   "
        f"target deviation {b['target_deviation']:.4f} -> {a['target_deviation']:.4f}\n"
        f"  keyframes: {kfs}\n"
        f"  wrote {Path(args.out) / Path(args.video).stem}_{{retimed.mp4, spf.json, spf.png, "
        f"keyframes.json, keyframes.png}} in {rec['wall_s']:.1f} s"
    )
    return EXIT_OK


def add_retime_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``retime`` sub-command on ``sub`` (an argparse sub-parsers object)."""
    from generators.posthoc import INTERPOLATIONS

    rt = sub.add_parser(
        "retime",
        help="retime a video to a target semantic pacing (post hoc: resample or segmented)",
        description=__doc__.split("\n\n")[0],
    )
    rt.add_argument("video", help="video file (any format FFmpeg decodes)")
    rt.add_argument("--mode", choices=("resample", "segmented"), default="resample")
    rt.add_argument(
        "--pacing",
        default="linear",
        help="linear | ease_in_out | exp_up | exp_down | sin_identity (default: %(default)s)",
    )
    rt.add_argument("--temperature", type=float, default=3.0, help="a of exp_up / exp_down")
    rt.add_argument("--k", type=int, default=None, help="number of segments (default: automatic)")
    rt.add_argument("--penalty", type=float, default=None, help="absolute cost per segment")
    rt.add_argument(
        "--penalty-per-frame",
        type=float,
        default=None,
        help="automatic K: cost per segment = this x frames (default 2e-5)",
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
    rt.add_argument(
        "--refine", type=int, default=2, help="segmented: refinements of the segment plan"
    )
    rt.add_argument("--interpolation", choices=INTERPOLATIONS, default="linear")
    rt.add_argument(
        "--embedder",
        default="efficientnet_lite0",
        help="siglip | openclip | dinov2 | efficientnet_lite0 | pixel (default: %(default)s)",
    )
    rt.add_argument("--out", default="spf_retime", help="output folder (default: %(default)s)")
    rt.add_argument("--weights", default=None, help="local embedder weights file or folder")
    rt.add_argument("--allow-download", action="store_true", help="let libraries download weights")
    rt.add_argument("--device", default="cpu")
    rt.add_argument("--batch-size", type=int, default=16)
    rt.add_argument("--window", type=int, default=30, help="SPF window, frames")
    rt.add_argument("--sigma", type=float, default=20.0, help="pair-weight width, frames")
    rt.add_argument("--power", type=float, default=1.0, help="distance exponent")
    rt.add_argument("--max-frames", type=int, default=None)
    rt.add_argument("--size", type=int, default=None, help="shorter-side resize on decode")
    rt.add_argument("--quiet", action="store_true", help="no progress bars")
    rt.set_defaults(func=_cmd_retime)
    return rt
