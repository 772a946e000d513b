"""Arguments shared by the ``spf-bench analyze`` and ``spf-bench retime`` commands: the embedder,
the SPF settings and the decode limits, turned into the same objects the bench uses."""

from __future__ import annotations

import argparse
from typing import Any

from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import SPFSettings

__all__ = [
    "add_decode_args",
    "add_embedder_args",
    "add_spf_args",
    "decode_kwargs",
    "embedder_from_args",
    "spf_from_args",
]


def add_decode_args(p: argparse.ArgumentParser) -> None:
    """``--max-frames --size --allow-truncated`` (:func:`decode_kwargs`; defaults: no limit)."""
    p.add_argument("--max-frames", type=int, help="decode at most this many frames per video")
    p.add_argument("--size", type=int, help="shorter-side resize on decode, pixels")
    p.add_argument(
        "--allow-truncated",
        action="store_true",
        help="analyse the decodable frames of a truncated file (its container declares more "
        "frames than it holds) instead of refusing it; the JSON records truncated, "
        "frames_declared and frames_decoded",
    )


def decode_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~spf_bench.metrics.video_io.read_video` kwargs of :func:`add_decode_args`."""
    return {k: getattr(args, k) for k in ("max_frames", "size", "allow_truncated")}


def add_embedder_args(p: argparse.ArgumentParser) -> None:
    """``--embedder --weights --allow-download --device --batch-size --quiet``."""
    p.add_argument(
        "--embedder",
        default="efficientnet_lite0",
        help="siglip | openclip | dinov2 | efficientnet_lite0 | pixel "
        "(default: %(default)s, works offline)",
    )
    p.add_argument("--weights", default=None, help="local embedder weights file or folder")
    p.add_argument(
        "--allow-download",
        action="store_true",
        help="let the model libraries download weights (default: offline)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_spf_args(
    p: argparse.ArgumentParser, keyframe_flags: tuple[str, ...] = ("--keyframe-penalty",)
) -> None:
    """``--window --sigma --lam --power --estimator`` and ``keyframe_flags``; defaults from
    :class:`SPFSettings`."""
    d = SPFSettings()
    p.add_argument("--window", type=int, default=d.window, help="SPF window, frames")
    p.add_argument("--sigma", type=float, default=d.sigma, help="pair-weight width, frames")
    p.add_argument("--lam", type=float, default=d.lam, help="Tikhonov weight")
    p.add_argument("--power", type=float, default=d.power, help="distance exponent")
    p.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default=d.estimator,
        help="how S is fitted to the pair distances (docs/method.md; default: %(default)s)",
    )
    p.add_argument(
        *keyframe_flags,
        dest="keyframe_penalty",
        type=float,
        default=d.keyframe_penalty,
        help="segmentation penalty placing the semantic keyframes (default: %(default)s)",
    )


def spf_from_args(args: argparse.Namespace) -> SPFSettings:
    """The :class:`SPFSettings` of parsed arguments (validated).

    Raises:
        ValueError: a bad value, naming it.
    """
    keys = ("window", "sigma", "lam", "power", "estimator", "keyframe_penalty")
    s = SPFSettings(**{k: getattr(args, k) for k in keys})
    s.check()
    return s


def embedder_from_args(args: argparse.Namespace) -> Any:
    """The embedder of parsed arguments (:func:`spf_bench.metrics.embedders.build_embedder`).

    Raises:
        spf_bench.metrics.embedders.MissingWeightsError: weights absent.
        ValueError: unknown embedder.
    """
    return build_embedder(
        args.embedder,
        device=args.device,
        batch_size=args.batch_size,
        weights=args.weights,
        allow_download=args.allow_download,
        progress=not args.quiet,
    )
