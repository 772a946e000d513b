"""Train the ``wan22_toy`` checkpoint on CPU (``make train-toy``; issue 12).

    spf-bench study train_toy                      # the shipped checkpoint, from seed 0
    spf-bench study train_toy --steps 200 --out /tmp/toy --results /tmp/toy   # a quick try

Trains the Wan2.2-architecture toy transformer of :mod:`spf_bench.generators.wan22_toy`
(diffusers ``WanTransformer3DModel``, ~1.0 M parameters, pixel space, first-last-frame
conditioned) with Wan's rectified-flow objective (:func:`~spf_bench.generators.wan22_toy.
flow_matching_loss`) on transformation clips generated on the fly from the training stills
(:func:`~spf_bench.generators.wan22_toy.transformation_clip`): AdamW, linear warm-up then cosine
decay, gradient clipping, and an exponential moving average (EMA) of the weights, which is what
is saved. A fixed batch of clips cut from the *held-out* stills, at fixed noise levels and noise,
gives a validation loss every ``--eval-every`` steps.

Writes:

- ``<out>/wan22_toy.safetensors``: the EMA state dict (float32) with metadata ``config``
  (the model's keyword arguments), ``seed``, ``steps``, ``batch`` and the other training settings;
  no time stamp. The same seed, settings, thread count and library builds give the same tensors
  bit for bit, but not the same file bytes: safetensors writes the metadata entries in an
  unspecified (hash) order, so the file's SHA-256 differs from run to run;
- ``<out>/wan22_toy.md``: the model card (data, held-out stills, settings, loss summary, wall
  time, SHA-256 of the checkpoint);
- ``<results>/loss_curve.png`` and ``<results>/train_log.json`` (every step's loss, the
  validation curve).

One torch thread by default (``--threads``): on the project's shared 2-core machines two threads
were ~5-10x slower per step than one while other jobs ran, and one thread keeps the run
deterministic.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.generators.base import file_digest
from spf_bench.generators.wan22_toy import (
    CLIP_KINDS,
    DEFAULT_WEIGHTS,
    HELD_OUT_STILLS,
    N_FRAMES,
    PACES,
    SIZE,
    TOY_BANDS,
    TOY_CONFIG,
    TRAIN_STILLS,
    build_toy_transformer,
    flow_matching_loss,
    sample_clip_batch,
    sample_positions,
    shift_sigmas,
)
from spf_bench.generators.warped_rope import TemporalWarp, WarpedWanRotaryPosEmbed
from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text

__all__ = ["TrainResult", "TrainSettings", "main", "save_checkpoint", "train", "write_card"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainSettings:
    """Training hyper-parameters (the defaults made the shipped checkpoint).

    Attributes:
        seed: seeds the initial weights, the data stream, the noise and the noise levels.
        steps: optimiser steps.
        batch: clips per step.
        lr: peak AdamW learning rate.
        warmup: linear warm-up steps; then cosine decay to ``lr * min_lr_ratio``.
        min_lr_ratio: final learning rate as a fraction of ``lr``.
        weight_decay: AdamW weight decay.
        grad_clip: global gradient-norm clip.
        ema: EMA decay of the saved weights (``min(ema, (1 + k) / (10 + k))`` at step ``k``).
        shift: flow shift of the training noise levels (the generator samples with it too).
        threads: ``torch.set_num_threads``.
        eval_every: steps between validation losses (0: never).
        n_val: clips of the held-out validation batch.
        log_every: steps between log lines.
    """

    seed: int = 0
    steps: int = 6000
    batch: int = 8
    lr: float = 1e-3
    warmup: int = 200
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema: float = 0.998
    shift: float = 3.0
    threads: int = 1
    eval_every: int = 250
    n_val: int = 32
    log_every: int = 50


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the EMA transformer (eval mode).
        losses: training loss of every step (the raw model's, before the update).
        val: ``[(step, validation loss of the EMA weights)]``.
        wall_s: training wall time, seconds.
        settings: the settings used.
    """

    model: Any
    losses: list[float]
    val: list[tuple[int, float]] = field(default_factory=list)
    wall_s: float = 0.0
    settings: TrainSettings = field(default_factory=TrainSettings)


def _lr_at(step: int, s: TrainSettings) -> float:
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    p = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def _validation_set(s: TrainSettings) -> tuple[Any, Any, Any]:
    """Fixed held-out clips, noise levels (evenly spread ``u``, shifted) and noise."""
    import torch

    rng = np.random.default_rng([s.seed, 1])
    x0 = torch.from_numpy(sample_clip_batch(rng, s.n_val, HELD_OUT_STILLS))
    u = (np.arange(s.n_val) + 0.5) / s.n_val
    sig = torch.from_numpy(shift_sigmas(u, s.shift).astype(np.float32))
    noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32))
    return x0, sig, noise


def _val_loss(model: Any, val: tuple[Any, Any, Any], batch: int = 8) -> float:
    import torch

    x0, sig, noise = val
    total = 0.0
    with torch.no_grad():
        for i in range(0, x0.shape[0], batch):
            sl = slice(i, i + batch)
            n = x0[sl].shape[0]
            total += float(flow_matching_loss(model, x0[sl], sigmas=sig[sl], noise=noise[sl])) * n
    return total / x0.shape[0]


def train(s: TrainSettings = TrainSettings(), log: Any = print) -> TrainResult:
    """Train the toy transformer from scratch.

    Args:
        s: the settings.
        log: ``log(str)`` for progress lines (``None``: silent).

    Returns:
        :class:`TrainResult` (the EMA model, per-step losses, validation curve, wall time).

    Raises:
        ValueError: on non-positive ``steps`` or ``batch``.
    """
    import torch

    if s.steps < 1 or s.batch < 1:
        raise ValueError(f"steps and batch must be >= 1, got {s.steps}, {s.batch}")
    torch.set_num_threads(int(s.threads))
    log = log or (lambda _msg: None)
    model = build_toy_transformer(seed=s.seed).train()
    # Train through the project's warped rope (constant g = 1: each batch's positions exactly),
    # the module the generator samples with; its buffers are not persistent, so the saved state
    # dict is the stock transformer's.
    warp = TemporalWarp(TOY_BANDS, "none")
    model.rope = WarpedWanRotaryPosEmbed.from_stock(
        model.rope, warp, temporal_factor=1, pin_endpoints=True
    )
    ema = copy.deepcopy(model).eval()  # its own warp copy stays at the stock grid
    for p in ema.parameters():
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": s.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=s.lr,
        betas=(0.9, 0.99),
    )
    data_rng = np.random.default_rng([s.seed, 0])
    gen = torch.Generator().manual_seed(int(s.seed))
    val_set = _validation_set(s) if s.eval_every else None
    n_params = sum(p.numel() for p in params)
    log(f"wan22_toy: {n_params:,} parameters, {s.steps} steps x batch {s.batch}, seed {s.seed}")
    losses: list[float] = []
    val: list[tuple[int, float]] = []
    ema_params = list(ema.parameters())
    t0 = time.perf_counter()
    for step in range(s.steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, s)
        pos = sample_positions(data_rng, N_FRAMES)
        warp.set_positions(pos, len(pos))
        u = pos / (N_FRAMES - 1)
        x0 = torch.from_numpy(sample_clip_batch(data_rng, s.batch, TRAIN_STILLS, u=u))
        loss = flow_matching_loss(model, x0, generator=gen, shift=s.shift)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, s.grad_clip)
        opt.step()
        d = min(s.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1.0 - d)
        losses.append(float(loss.detach()))
        done = step + 1
        if val_set is not None and (done % s.eval_every == 0 or done == s.steps):
            val.append((done, _val_loss(ema, val_set)))
        if done % s.log_every == 0 or done == s.steps:
            el = time.perf_counter() - t0
            recent = float(np.mean(losses[-s.log_every :]))
            vtxt = f"  val(ema) {val[-1][1]:.4f}" if val and val[-1][0] == done else ""
            log(
                f"step {done:>5}/{s.steps}  loss {recent:.4f}{vtxt}  lr {_lr_at(step, s):.2e}  "
                f"{el:7.1f} s  {el / done:.3f} s/step"
            )
    wall = time.perf_counter() - t0
    return TrainResult(model=ema, losses=losses, val=val, wall_s=wall, settings=s)


def _metadata(s: TrainSettings, result: TrainResult) -> dict[str, str]:
    """Checkpoint metadata (strings; no time stamps: the values are reproducible, the order in
    which safetensors writes them is not)."""
    import diffusers
    import torch

    return {
        "format": "pt",
        "model": "spf_bench.generators.wan22_toy (diffusers WanTransformer3DModel)",
        "config": json.dumps(json.loads(json.dumps(TOY_CONFIG))),
        "training": json.dumps(asdict(s), sort_keys=True),
        "train_stills": json.dumps(list(TRAIN_STILLS)),
        "held_out_stills": json.dumps(list(HELD_OUT_STILLS)),
        "final_loss_mean_last100": f"{float(np.mean(result.losses[-100:])):.6f}",
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
    }


def save_checkpoint(result: TrainResult, path: str | Path) -> str:
    """Write the EMA state dict to ``path`` (safetensors) and return its SHA-256 (hex)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in result.model.state_dict().items()}
    # atomic_path restores the temp file's creation mode (umask applied) if safetensors
    # re-creates it 0600, so the shipped file follows the umask like any plain write.
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=_metadata(result.settings, result))
    return file_digest(path)


def plot_losses(result: TrainResult, path: str | Path) -> None:
    """Loss curve PNG: per-step loss (faint), its 50-step running mean, the validation loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = np.asarray(result.losses)
    k = min(50, losses.size)
    run = np.convolve(losses, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    ax.plot(np.arange(1, losses.size + 1), losses, color="C0", alpha=0.2, lw=0.6, label="step loss")
    ax.plot(np.arange(k, losses.size + 1), run, color="C0", lw=1.5, label=f"{k}-step mean")
    if result.val:
        vs, vl = zip(*result.val, strict=True)
        ax.plot(vs, vl, "o-", color="C3", ms=3, lw=1.2, label="held-out stills (EMA)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss (MSE of velocity)")
    s = result.settings
    ax.set_title(f"wan22_toy: batch {s.batch}, seed {s.seed}, {result.wall_s / 60:.1f} min")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def write_card(
    result: TrainResult,
    ckpt: Path,
    sha: str,
    card: Path,
    plot: Path | None,
    command: str,
    host: str | None = None,
) -> None:
    """Write the model card (markdown) for the checkpoint at ``ckpt``.

    Args:
        result: the training result.
        ckpt: the checkpoint file (its size is read).
        sha: its SHA-256, hex.
        card: where to write the card.
        plot: the loss-curve PNG (named in the card), or ``None``.
        command: the command that trained it.
        host: where it ran, for the wall time row (default: the CPU count and the 15-minute
            load average now, since other jobs sharing the cores change the wall time).
    """
    if host is None:
        host = (
            f"{os.cpu_count()} CPU cores shared with other jobs (15-min load average "
            f"{os.getloadavg()[2]:.1f} at the end)"
        )
    import diffusers
    import torch

    s = result.settings
    losses = np.asarray(result.losses)
    n_params = sum(p.numel() for p in result.model.parameters())

    def window(lo: int, hi: int) -> str:
        return f"{float(np.mean(losses[lo:hi])):.4f}"

    val = ", ".join(f"{st}: {v:.4f}" for st, v in result.val)
    kinds = ", ".join(f"{k} {p:.0%}" for k, p in CLIP_KINDS.items())
    paces = ", ".join(f"{k} {p:.1%}" for k, p in PACES.items())
    try:
        plot_rel = plot.resolve().relative_to(ROOT) if plot else None
    except ValueError:
        plot_rel = plot
    cfg = TOY_CONFIG
    rows = [
        (
            "file",
            f"`{ckpt.name}` ({ckpt.stat().st_size / 1e6:.2f} MB, safetensors, float32 EMA weights)",
        ),
        ("SHA-256", f"`{sha}`"),
        (
            "architecture",
            f"diffusers {diffusers.__version__} `WanTransformer3DModel`: "
            f"{cfg['num_layers']} layers, {cfg['num_attention_heads']} heads x "
            f"{cfg['attention_head_dim']}, FFN {cfg['ffn_dim']}, patch (1, 4, 4); "
            f"{n_params:,} parameters",
        ),
        (
            "temporal RoPE",
            "diffusers' `WanRotaryPosEmbed`, head dim 64 -> 24 temporal channels "
            "= **12 bands** (warped by `generators/warped_rope.py`, unchanged)",
        ),
        (
            "space",
            f"**pixels, no VAE**: RGB in [-1, 1], {SIZE} x {SIZE} px, {N_FRAMES} frames "
            "(one token frame per output frame)",
        ),
        (
            "conditioning",
            "first-last-frame: first and last frame broadcast as 6 extra input "
            f"channels + 2 indicator planes (frame 0, frame {N_FRAMES - 1}); cross-attention "
            "context = the 32 keyframe patches (no text)",
        ),
        (
            "objective",
            "Wan's rectified flow: `x_s = (1 - s) x0 + s e`, predict `e - x0`, MSE; "
            f"`s = k u / (1 + (k - 1) u)`, `u ~ U(0, 1)`, shift `k = {s.shift:g}`",
        ),
        (
            "training data",
            "transformation clips generated on the fly from crops (30-100% of "
            f"the shorter side) of the training stills: {kinds}; paces (`PACES`) {paces}; "
            "each batch at temporal RoPE positions from `sample_positions` (3-17 frames, "
            "evenly spaced 35% or warped, spanning frame units 0-16), the content sampled at "
            "those positions; random horizontal flips and RGB permutations",
        ),
        (
            "training stills",
            f"{', '.join(TRAIN_STILLS)} (scikit-image, scikit-learn; `generators/stills.py`)",
        ),
        (
            "**held-out stills**",
            f"{', '.join(HELD_OUT_STILLS)}: never seen in training; the "
            "validation loss and every benchmark item use them",
        ),
        (
            "optimiser",
            f"AdamW (lr {s.lr:g}, betas (0.9, 0.99), weight decay "
            f"{s.weight_decay:g}), {s.warmup} warm-up steps, cosine decay to "
            f"{s.min_lr_ratio:g} x lr, grad clip {s.grad_clip:g}, EMA {s.ema:g}",
        ),
        ("steps x batch", f"{s.steps} x {s.batch} clips ({s.steps * s.batch:,} clips)"),
        ("seed", str(s.seed)),
        ("threads", f"{s.threads} (torch {torch.__version__}, {platform.machine()})"),
        (
            "wall time",
            f"{result.wall_s / 60:.1f} min ({result.wall_s / s.steps:.3f} s/step) on {host}",
        ),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = f"""# wan22_toy: a trained Wan2.2-architecture toy video DiT (pixel space)

Made by `{command}` ({time.strftime("%Y-%m-%d")}); code: `bench/studies/train_toy.py`,
`generators/wan22_toy.py`. Used by `python bench/run.py model=wan22_toy ...`.

**Version 2 (issue 19).** What changed from version 1 (issue 12; still reachable as
`model=wan22_toy_v1`, card `wan22_toy_v1.md`) and why: version 1 saw every training clip at the
17 integer positions, each clip one sigmoid or smoothstep jump centred in [0.25, 0.75]. It never
saw an evenly paced transition or a frame between two integer positions, so warping its RoPE
could move its jump but hardly spread it. Version 2 is the same architecture and objective,
trained longer on clips of many paces (one jump of varied width, several steps, exponential
ramps, eases, linear; mostly uneven, as a real model's prior is), each batch rendered at drawn
RoPE positions with the content sampled there: what a frame shows is a continuous function of
its temporal position, at fractional positions and every frame density. A model trained on
footage of every pace and frame rate has seen the like; this is what warped RoPE asks of a
model at sampling time. It also renders 3 to 33 frames between two keyframes, so it serves as
the first-last-frame (FLF) regenerator of `retime=segmented`.

| | |
|---|---|
{table}

Loss (mean squared velocity error): steps 1-100 {window(0, 100)}, steps
{max(1, s.steps - 99)}-{s.steps} {window(-100, None)} (training batches); held-out validation
(EMA weights, {s.n_val} fixed clips, fixed noise levels and noise) at step {val or "-"}.
Curve: `{plot_rel}`.

Reproduce: `make train-toy` (= `spf-bench study train_toy`, seed {s.seed}). With the same
settings, one thread and the same torch/diffusers builds every weight tensor is bit-identical
(a test checks it over a few steps); the file's bytes, hence its SHA-256 and the run identity of
`wan22_toy` runs, are not, because safetensors writes the metadata entries in hash order. Other
builds give the same curve up to float rounding.

Limits: it was trained at drawn RoPE positions, the kind of input a warp gives it later (a
real model learned continuity from footage of every pace and frame rate, not from position
jitter), so it may respond to a warp more readily than a 14B model does. 16 x 16 pixels carry
little semantics (score it with `embedder=pixel`); no text, no VAE (Wan2.2 compresses time 4x
and space 8x), 17 frames instead of 81, no classifier-free guidance, one expert instead of two.
It shows the warp mechanics on a model whose pacing was learned, not how the 14B models respond.
"""
    atomic_write_text(card, text)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring); returns the exit status."""
    d = TrainSettings()
    ap = argparse.ArgumentParser(
        prog="spf-bench study train_toy", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--batch", type=int, default=d.batch)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--shift", type=float, default=d.shift)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_WEIGHTS.parent, help="checkpoint + card dir"
    )
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "wan22_toy")
    args = ap.parse_args(argv)
    s = TrainSettings(
        seed=args.seed,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        shift=args.shift,
        threads=args.threads,
        eval_every=args.eval_every,
    )
    result = train(s, log=lambda m: print(m, flush=True))
    ckpt = args.out / "wan22_toy.safetensors"
    sha = save_checkpoint(result, ckpt)
    plot = args.results / "loss_curve.png"
    plot_losses(result, plot)
    atomic_write_text(
        args.results / "train_log.json",
        json.dumps(
            {
                "settings": asdict(s),
                "wall_s": result.wall_s,
                "sha256": sha,
                "losses": [round(x, 6) for x in result.losses],
                "val": result.val,
            }
        ),
    )
    command = "spf-bench study train_toy " + " ".join(sys.argv[1:] if argv is None else argv)
    write_card(result, ckpt, sha, args.out / "wan22_toy.md", plot, command.strip())
    print(
        f"wrote {ckpt} ({ckpt.stat().st_size / 1e6:.2f} MB, sha256 {sha}) "
        f"in {result.wall_s / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
