"""SPF solver benchmark: banded solve vs the reference package's dense formulation.

Prints, all measured in this one run:

- speed-up of :func:`spf_bench.metrics.spf.compute_spf` over the dense formulation (an
  ``M x T`` design
  matrix over every window pair, ``A^T W A`` and a dense solve) at T = 81 and T = 2000
  (target >= 100x at T = 2000);
- time and peak memory (tracemalloc, numpy allocations) for T = 10^6 frames, D = 64
  (target < 30 s and < 2 GB);
- time for a batch of 128 videos x 81 frames (target < 0.1 s), against looping single solves;
- the ``link`` estimator (:mod:`spf_bench.metrics.estimators`) on a random walk on the sphere
  (a clip with progress and saturating distances): its time over the paper estimator's at
  T = 10^4, D = 768 (target <= 5x), and time and peak memory at T = 10^6, D = 64 (target
  < 60 s and < 2 GB).

Usage: ``spf-bench study perf_spf [--quick]`` (``--quick`` skips T = 10^6 and T = 2000 dense).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

from spf_bench.metrics import spf


def dense_reference(z: np.ndarray, window=30, sigma=20.0, lam=1e-5) -> np.ndarray:
    """The reference formulation: dense A (M x T), then A^T W A and numpy's dense solve."""
    z = z.astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    t = z.shape[0]
    ii, jj = [], []
    for m in range(1, min(window, t - 1) + 1):
        ii.append(np.arange(t - m))
        jj.append(np.arange(m, t))
    i, j = np.concatenate(ii), np.concatenate(jj)
    a = np.zeros((i.size, t))
    a[np.arange(i.size), i] = -1.0
    a[np.arange(i.size), j] = 1.0
    d = np.arccos(np.clip(np.einsum("ij,ij->i", z[i], z[j]), -1 + 1e-7, 1 - 1e-7))
    w = np.exp(-((j - i) ** 2) / (2 * sigma**2))
    return np.linalg.solve(a.T @ (w[:, None] * a) + lam * np.eye(t), a.T @ (w * d))


def random_walk(t: int, d: int, seed: int = 0) -> np.ndarray:
    """``(T, D)`` float32 Gaussian random walk (steps of norm ~0.1): progress everywhere,
    distances that grow sub-additively with the frame offset, as real clips' do."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=0.1 / np.sqrt(d), size=(t, d)).astype(np.float32)
    return np.cumsum(steps, axis=0) + np.float32(1.0) / np.sqrt(np.float32(d))


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    """CLI (module docs); ``argv`` defaults to ``sys.argv[1:]``. Prints the table."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study perf_spf", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="skip the T=2000 dense and T=1e6 runs")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'case':<34}{'baseline':>12}{'spf-bench':>12}{'ratio':>10}  target")

    for t in (81,) if args.quick else (81, 2000):
        z = rng.normal(size=(t, 768)).astype(np.float32)
        spf.banded_factor.cache_clear()
        spf.noise_floor.cache_clear()
        fast = best_of(lambda z=z: (spf.banded_factor.cache_clear(), spf.compute_spf(z)), 5)
        slow = best_of(lambda z=z: dense_reference(z), 1 if t > 500 else 5)
        err = np.abs(spf.compute_spf(z).raw - dense_reference(z)).max()
        tgt = ">= 100x" if t == 2000 else ""
        print(
            f"{f'single clip T={t} D=768 (cold)':<34}{slow:>11.4f}s{fast:>11.4f}s"
            f"{slow / fast:>9.0f}x  {tgt}  (max |dS| = {err:.1e})"
        )

    z = rng.normal(size=(128, 81, 768)).astype(np.float32)
    spf.compute_spf_batch(z[:1])  # warm the factor cache, as a sweep would be
    loop = best_of(lambda: [spf.compute_spf(v) for v in z], 3)
    batch = best_of(lambda: spf.compute_spf_batch(z), 3)
    print(
        f"{'batch 128 x 81 frames, D=768':<34}{loop:>11.4f}s{batch:>11.4f}s"
        f"{loop / batch:>9.1f}x  batch < 0.1 s: {'PASS' if batch < 0.1 else 'FAIL'}"
    )

    if not args.quick:
        t = 10**6
        z = rng.normal(size=(t, 64)).astype(np.float32)
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        r = spf.compute_spf(z)
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**30
        tracemalloc.stop()
        ok = dt < 30 and peak < 2
        print(
            f"{'T=1e6 frames, D=64':<34}{'-':>12}{dt:>11.2f}s{'':>10}  < 30 s, < 2 GB: "
            f"peak {peak:.2f} GiB (beyond the input's {z.nbytes / 2**30:.2f} GiB) "
            f"{'PASS' if ok else 'FAIL'}; finite={np.isfinite(r.progress).all()}"
        )
    z = random_walk(10**4, 768)
    paper = best_of(lambda: spf.compute_spf(z), 3)
    link = best_of(lambda: spf.compute_spf(z, estimator="link"), 3)
    print(
        f"{'link estimator T=1e4 D=768':<34}{paper:>11.4f}s{link:>11.4f}s"
        f"{link / paper:>9.1f}x  <= 5x paper: {'PASS' if link <= 5 * paper else 'FAIL'}"
    )
    if not args.quick:
        z = random_walk(10**6, 64)
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        r = spf.compute_spf(z, estimator="link")
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**30
        tracemalloc.stop()
        ok = dt < 60 and peak < 2
        print(
            f"{'link estimator T=1e6, D=64':<34}{'-':>12}{dt:>11.2f}s{'':>10}  < 60 s, < 2 GB: "
            f"peak {peak:.2f} GiB {'PASS' if ok else 'FAIL'}; "
            f"degenerate={r.degenerate}, finite={np.isfinite(r.progress).all()}"
        )


if __name__ == "__main__":
    main()
