"""Per-step cost of the warped temporal RoPE against diffusers' stock Wan RoPE.

Times one ``WanTransformer3DModel`` forward (a denoising step of one expert, one block of
realistic width: Wan2.2-A14B is 40 heads x 128 = 5120 wide, FFN 13824) with the stock ``rope`` and
with :class:`spf_bench.generators.warped_rope.WarpedWanRotaryPosEmbed` (non-trivial per-band warp,
timestep
pre-hook installed) in the same process, alternating the two to cancel drift, and prints the
ratio of medians (target: at most 1.01x). The rope modules alone are timed too, to show the
absolute overhead per forward; with 40 blocks per forward on the real model the relative cost is
about 40 times smaller than with the single block measured here.

Usage::

    spf-bench study perf_rope                 # A14B width, 21 latent frames, CPU
    spf-bench study perf_rope --quick         # 1.3B width (1536): seconds
    spf-bench study perf_rope --device cuda --height 30 --width 52   # a GPU node, 480x832
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from spf_bench.generators.retime import accumulate_positions, band_strengths
from spf_bench.generators.warped_rope import TemporalWarp, WarpedWanRotaryPosEmbed


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> float:
    """Run the benchmark; returns the warped/stock ratio of median forward times."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study perf_rope", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--heads", type=int, default=40, help="attention heads (A14B: 40)")
    ap.add_argument("--head-dim", type=int, default=128, help="head dim (Wan: 128 -> 22 bands)")
    ap.add_argument("--ffn", type=int, default=13824, help="FFN width (A14B: 13824)")
    ap.add_argument("--layers", type=int, default=1, help="transformer blocks")
    ap.add_argument("--frames", type=int, default=81, help="output frames (4n+1)")
    ap.add_argument("--height", type=int, default=4, help="latent patches per column")
    ap.add_argument("--width", type=int, default=4, help="latent patches per row")
    ap.add_argument("--text-len", type=int, default=32, help="text tokens")
    ap.add_argument("--repeats", type=int, default=5, help="timed forwards per variant")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--quick", action="store_true", help="Wan 1.3B width (12 x 128, FFN 8960)")
    ap.add_argument("--target", type=float, default=1.01)
    ap.add_argument("--strict", action="store_true", help="exit 1 when the ratio exceeds target")
    args = ap.parse_args(argv)
    if args.quick:
        args.heads, args.ffn = 12, 8960
    torch.set_num_threads(args.threads)
    from diffusers import WanTransformer3DModel

    dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    torch.manual_seed(0)
    model = WanTransformer3DModel(
        num_attention_heads=args.heads,
        attention_head_dim=args.head_dim,
        ffn_dim=args.ffn,
        num_layers=args.layers,
        text_dim=4096,
        in_channels=16,
        out_channels=16,
    ).eval()
    model.to(args.device)
    if dtype != torch.float32:
        model.to(dtype)  # casts the rope buffers too (diffusers warns); the warped rope follows
    n_lat = (args.frames - 1) // 4 + 1
    x = torch.randn(1, 16, n_lat, 2 * args.height, 2 * args.width, device=args.device, dtype=dtype)
    ctx = torch.randn(1, args.text_len, 4096, device=args.device, dtype=dtype)
    ts = torch.tensor([700.0], device=args.device)

    stock = model.rope
    bands = stock.t_dim // 2
    warp = TemporalWarp(bands, "exp_up")
    warped = WarpedWanRotaryPosEmbed.from_stock(stock, warp)
    t = np.arange(args.frames, dtype=np.float64)
    tau = (args.frames - 1) * np.linspace(0, 1, args.frames) ** 2
    strengths = band_strengths(bands, 0.2, 0.8, 3.0)
    warp.set_positions(accumulate_positions(np.tile(t, (bands, 1)), tau, strengths), args.frames)
    hook = warp.pre_hook("transformer")

    def forward() -> None:
        with torch.no_grad():
            model(hidden_states=x, timestep=ts, encoder_hidden_states=ctx, return_dict=False)

    def run(variant: str) -> float:
        handle = None
        if variant == "warped":
            model.rope = warped
            handle = model.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            return _time(forward, args.device)
        finally:
            model.rope = stock
            if handle is not None:
                handle.remove()

    run("stock"), run("warped")  # warm-up
    times: dict[str, list[float]] = {"stock": [], "warped": []}
    for r in range(args.repeats):
        order = ("stock", "warped") if r % 2 == 0 else ("warped", "stock")
        for variant in order:
            times[variant].append(run(variant))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["warped"] / med["stock"]

    # the rope modules alone
    warp.set_timestep(700.0)
    rope_t = {}
    for name, mod in (("stock", stock), ("warped", warped)):
        with torch.no_grad():
            mod(x)
            reps = [_time(lambda m=mod: m(x), args.device) for _ in range(50)]
        rope_t[name] = statistics.median(reps)

    tokens = n_lat * args.height * args.width
    print(
        f"WanTransformer3DModel forward: {args.layers} block(s), width {args.heads}x{args.head_dim}"
        f"={args.heads * args.head_dim}, FFN {args.ffn}, {n_lat} latent frames x "
        f"{args.height}x{args.width} patches = {tokens} tokens, {args.dtype} on {args.device} "
        f"({args.threads} thread(s)), {bands} temporal bands, {args.repeats} alternating repeats"
    )
    for k in ("stock", "warped"):
        spread = f"[{min(times[k]):.4f}, {max(times[k]):.4f}]"
        rope_us = rope_t[k] * 1e6
        print(f"  {k:6s} forward median {med[k]:.4f} s  {spread}   rope alone {rope_us:8.1f} us")
    extra = rope_t["warped"] - rope_t["stock"]
    print(
        f"  rope overhead per forward: {extra * 1e6:.1f} us = {extra / med['stock'] * 100:.3f}% of "
        f"this forward"
    )
    verdict = "PASS" if ratio <= args.target else "FAIL"
    print(f"ratio warped/stock = {ratio:.4f}x (target <= {args.target:.2f}x): {verdict}")
    if args.strict and ratio > args.target:
        raise SystemExit(1)
    return ratio


if __name__ == "__main__":
    main()
