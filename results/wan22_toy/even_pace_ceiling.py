"""What an evenly paced transition scores: the Linearity of the toy's own kind of clip at a
linear pace, from the held-out stills, rendered like the toy's output.

    python results/wan22_toy/even_pace_ceiling.py

48 clips (``transformation_clip`` with ``pace=("linear", {})``: crossfades, wipes, camera moves
between crops of chelsea, coffee, flower; seeds ``[7, i]``), at 16 px, rounded to uint8 and
pixel-replicated to 64 px as ``wan22_toy`` returns its frames, measured with ``embedder=pixel``
and the default SPF settings, once per SPF estimator (``link``, the default, and ``paper``). A
linear progress ``alpha`` is not a linear pixel SPF: a wipe or a camera move changes pixels
unevenly in ``alpha``, so the Linearity an ideal evenly paced generator scores on these items
is below 1. Prints mean, median and min per estimator.
"""

from __future__ import annotations

import numpy as np

from spf_bench.generators.wan22_toy import HELD_OUT_STILLS, transformation_clip
from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import SPFSettings, measure_embeddings


def main(n: int = 48) -> dict[str, np.ndarray]:
    """Linearity of ``n`` evenly paced clips per estimator: ``{estimator: (n,) float64}``."""
    emb = build_embedder("pixel")
    scores: dict[str, list[float]] = {e: [] for e in ESTIMATORS}
    for i in range(n):
        frames, _ = transformation_clip(
            np.random.default_rng([7, i]), HELD_OUT_STILLS, pace=("linear", {})
        )
        u8 = np.rint(frames * 255).astype(np.uint8).repeat(4, 1).repeat(4, 2)
        z = emb.embed(u8)
        for est in ESTIMATORS:
            m = measure_embeddings(z, SPFSettings(estimator=est))
            scores[est].append(m.scores.linearity_score)
    out = {e: np.asarray(v) for e, v in scores.items()}
    for est, v in out.items():
        print(
            f"evenly paced clips (n={n}, pixel, {est}): Linearity mean {v.mean():.4f}, "
            f"median {np.median(v):.4f}, min {v.min():.4f}"
        )
    return out


if __name__ == "__main__":
    main()
