"""The benchmark task: generate, embed, SPF, score, record; with the ReTime loop and resume.

``bench/run.py`` turns the Hydra config into a :class:`BenchSettings` and calls
:func:`run_benchmark`; nothing here sees a DictConfig.

For each benchmark item (paper Sec. 4, "iterative refinement"):

1. iteration 0 renders at the stock positions (the baseline);
2. its frames are embedded and the SPF ``S`` is solved and scored;
3. for ``retime=warped``, ``S`` is inverted for the target pacing (``tau``) and the per-band
   positions are accumulated, ``P_b <- P_b + a_b (tau - t)``; the generator renders again at
   ``P``; repeat for ``iterations`` refinements.

Every iteration's video, SPF (``spf/*.npz``) and record (``records/*.json``) are written
atomically as soon as it finishes. Re-running with the same run directory resumes: finished
iterations are read back, never recomputed, and an item continues from its last finished
iteration (the next positions are stored with each SPF).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import platform
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import records as rec
from generators.base import GenerationRequest, Generator, GeneratorError, stock_positions
from generators.retime import UPDATE_RULES, accumulate_positions, band_strengths
from metrics import spf

log = logging.getLogger("spf_bench")

__all__ = [
    "RETIME_MODES",
    "BenchSettings",
    "PacingSettings",
    "RetimeSettings",
    "SPFSettings",
    "build_generator",
    "git_sha",
    "library_versions",
    "run_benchmark",
    "split_model_config",
]

RETIME_MODES = ("none", "warped", "resample", "segmented")
#: Post-hoc modes (method spec Sec. 5): the generator is wrapped by generators/posthoc.py.
POSTHOC_MODES = ("resample", "segmented")


@dataclass(frozen=True)
class SPFSettings:
    """SPF hyper-parameters (method spec Sec. 1): window (frames), sigma (frames), lam, power."""

    window: int = 30
    sigma: float = 20.0
    lam: float = 1e-5
    power: float = 1.0


@dataclass(frozen=True)
class RetimeSettings:
    """ReTime loop: ``name`` in :data:`RETIME_MODES`, refinement ``iterations``, the position
    ``update`` rule (:data:`generators.retime.UPDATE_RULES`) and the band schedule.

    Post-hoc modes (``resample``, ``segmented``; see :mod:`generators.posthoc` and
    ``conf/retime/``) also use ``interpolation``, ``regenerator`` (a ``conf/model`` name or
    ``None``), ``regenerator_options`` (overrides of its keyword arguments), ``k``, ``penalty``,
    ``penalty_per_frame`` (choice of the number of segments), ``prompt`` and ``refine``
    (refinements of the segment plan)."""

    name: str = "none"
    iterations: int = 0
    update: str = "compose"
    a_low: float = 0.2
    a_high: float = 0.8
    lam: float = 3.0
    interpolation: str = "linear"
    regenerator: str | None = None
    regenerator_options: dict[str, Any] = field(default_factory=dict)
    k: int | None = None
    penalty: float | None = None
    penalty_per_frame: float = 2e-5
    prompt: str | None = None
    refine: int = 2


@dataclass(frozen=True)
class PacingSettings:
    """Target pacing curve (:func:`metrics.spf.pacing_curve`) and its temperature."""

    name: str = "linear"
    temperature: float = 3.0


@dataclass
class BenchSettings:
    """Everything one benchmark run needs, as plain values.

    Attributes:
        model_name: generator name recorded in every row.
        model_target: ``"module.Class"`` of the generator.
        model_kwargs: constructor keyword arguments of the generator.
        embedder_name: embedder name (:data:`metrics.embedders.EMBEDDERS`).
        embedder_kwargs: keyword arguments of :func:`metrics.embedders.build_embedder`.
        retime, pacing, spf: see their classes.
        n_videos: number of items of the suite; ``seed`` their seed.
        shard_index, shard_count: this run handles items ``i`` with
            ``i % shard_count == shard_index``.
        run_dir: output directory (created).
        config_hash: hash of the resolved config, recorded in every row.
        save_videos: write every iteration's mp4.
        plots: write ``plots/<item>.png``.
        progress: show progress bars.
        logger: ``{"name": "wandb" | "none", ...}`` logger settings.
        config: the resolved config, saved to ``config.json`` for provenance.
        out_dir: where this run's tables (``records.parquet``, ``records.csv``), ``summary.json``,
            ``config.json`` and W&B files go; None = ``run_dir``. A sweep job (:mod:`bench.sweep`)
            sets its Hydra job directory, so shards of one configuration share the ``run_dir``
            cache of records, SPF files and videos but never each other's tables.
        vbench: the ``vbench:`` config block (:class:`metrics.vbench.VBenchSettings`); with
            ``enabled`` the run's videos are scored after the records are written.
    """

    model_name: str
    model_target: str
    model_kwargs: dict[str, Any]
    embedder_name: str
    embedder_kwargs: dict[str, Any]
    run_dir: Path
    retime: RetimeSettings = field(default_factory=RetimeSettings)
    pacing: PacingSettings = field(default_factory=PacingSettings)
    spf: SPFSettings = field(default_factory=SPFSettings)
    n_videos: int = 4
    seed: int = 0
    shard_index: int = 0
    shard_count: int = 1
    config_hash: str = ""
    save_videos: bool = True
    plots: bool = True
    progress: bool = True
    logger: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    config: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    vbench: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Validate values that the libraries would otherwise reject late or silently.

        Raises:
            ValueError: naming the bad key and the allowed values.
        """
        if self.retime.name not in RETIME_MODES:
            raise ValueError(f"retime={self.retime.name!r} is not one of {RETIME_MODES}")
        if self.retime.iterations < 0 or (self.retime.name == "none" and self.retime.iterations):
            raise ValueError(
                f"retime.iterations={self.retime.iterations}: must be >= 0, and 0 for retime=none"
            )
        if self.retime.update not in UPDATE_RULES:
            raise ValueError(f"retime.update={self.retime.update!r} is not one of {UPDATE_RULES}")
        if self.retime.name in POSTHOC_MODES:
            from bench.retime_cli import check_posthoc_settings

            check_posthoc_settings(self.retime)
        if self.pacing.name not in spf.PACINGS:
            raise ValueError(f"pacing={self.pacing.name!r} is not one of {spf.PACINGS}")
        if self.n_videos < 1:
            raise ValueError(f"n_videos must be >= 1, got {self.n_videos}")
        if not 0 <= self.shard_index < self.shard_count:
            raise ValueError(
                f"shard.index={self.shard_index} must lie in [0, shard.count={self.shard_count})"
            )
        spf._check_params(self.spf.window, self.spf.sigma, self.spf.lam, self.spf.power)
        if self.logger.get("name", "none") not in ("none", "wandb"):
            raise ValueError(f"logger={self.logger.get('name')!r} is not one of ('none', 'wandb')")


# -------------------------------------------------------------------------------- provenance
def git_sha() -> str:
    """Commit of the spf-bench checkout, ``-dirty`` when it has local changes; else ``unknown``."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape results."""
    out = {"python": platform.python_version()}
    for mod in ("numpy", "scipy", "torch", "av", "timm", "open_clip", "transformers", "diffusers"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except Exception:  # noqa: BLE001 - a missing optional library is just not listed
            continue
    return out


# -------------------------------------------------------------------------------- building
#: Keys of a ``conf/model`` file that are not constructor arguments of its generator.
MODEL_META_KEYS = ("name", "_target_", "suite_size")


def split_model_config(cfg: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Split a resolved ``conf/model`` mapping into ``(name, "module.Class", kwargs)``.

    ``name`` is recorded in every row, ``_target_`` is the generator class and ``suite_size`` the
    model's default ``n_videos``; every other key is a constructor keyword argument.

    Raises:
        ValueError: if ``name`` or ``_target_`` is missing.
    """
    kwargs = dict(cfg)
    missing = [k for k in ("name", "_target_") if k not in kwargs]
    if missing:
        raise ValueError(f"model config lacks {missing}: {sorted(cfg)}")
    name, target = str(kwargs["name"]), str(kwargs["_target_"])
    for key in MODEL_META_KEYS:
        kwargs.pop(key, None)
    return name, target, kwargs


def build_generator(target: str, kwargs: dict[str, Any]) -> Generator:
    """Instantiate ``"module.Class"`` with ``kwargs`` and check it implements the protocol.

    Raises:
        ValueError: if the target cannot be imported or is not a :class:`Generator`.
    """
    mod_name, _, cls_name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"model._target_={target!r} cannot be imported: {err}") from err
    gen = cls(**kwargs)
    if not isinstance(gen, Generator):
        raise ValueError(f"{target} does not implement generators.base.Generator")
    return gen


# -------------------------------------------------------------------------------- one item
def _stock(gen: Generator, n: int) -> np.ndarray:
    t = stock_positions(n)
    return np.tile(t, (gen.bands, 1)) if gen.bands else t


def _gt_rms(progress: np.ndarray, designed: Any) -> float:
    """RMS between S and the designed progress rescaled to [0, 1] (NaN without ground truth)."""
    if designed is None:
        return math.nan
    d = np.asarray(designed, dtype=np.float64)
    if d.shape != progress.shape or not np.isfinite(d).all() or d[-1] == d[0]:
        return math.nan
    d = (d - d[0]) / (d[-1] - d[0])
    return float(np.sqrt(np.mean((progress - d) ** 2)))


def _resume_point(s: BenchSettings, item: GenerationRequest) -> tuple[int, np.ndarray | None, bool]:
    """(next iteration, its positions, finished?) from the item's finished records."""
    last, positions, finished = -1, None, False
    for it in range(s.retime.iterations + 1):
        r = rec.read_record(rec.record_path(s.run_dir, item.item_id, it))
        if (
            not r
            or r.get("status") != "ok"
            or r.get("config_hash") != s.config_hash
            or r.get("seed") != item.seed
        ):
            break
        last = it
        if r.get("error"):  # iterating stopped on purpose (e.g. degenerate clip)
            finished = True
            break
        try:
            with np.load(s.run_dir / r["spf_path"]) as npz:
                positions = npz["next_positions"] if "next_positions" in npz else None
        except (OSError, KeyError, ValueError):
            last -= 1  # the SPF file is gone or broken: redo this iteration
            break
    finished = finished or last == s.retime.iterations
    return last + 1, positions, finished


def _process_item(
    s: BenchSettings, gen: Generator, embedder: Any, item: GenerationRequest, sha: str
) -> list[dict[str, Any]]:
    """Run all remaining iterations of one item; returns the records written now."""
    start, positions, finished = _resume_point(s, item)
    if finished:
        return []
    strengths = (
        band_strengths(gen.bands, s.retime.a_low, s.retime.a_high, s.retime.lam)
        if gen.bands
        else None
    )
    written = []
    for it in range(start, s.retime.iterations + 1):
        base = {
            "model": s.model_name,
            "retime": s.retime.name,
            "embedder": s.embedder_name,
            "pacing": s.pacing.name,
            "item_id": item.item_id,
            "seed": item.seed,
            "iteration": it,
            "config_hash": s.config_hash,
            "git_sha": sha,
        }
        try:
            row, positions, stop = _run_iteration(s, gen, embedder, item, it, positions, strengths)
            row = {**base, **row}
        except Exception as err:  # noqa: BLE001 - recorded, the sweep goes on
            log.error("item %s iteration %d failed: %s", item.item_id, it, err)
            row = {
                **base,
                "status": "failed",
                "error": f"{type(err).__name__}: {err}",
                "metadata": json.dumps({"traceback": traceback.format_exc(limit=8)}),
            }
            stop = True
        rec.atomic_write_json(rec.record_path(s.run_dir, item.item_id, it), row)
        written.append(row)
        if stop:
            break
    return written


def _run_iteration(
    s: BenchSettings,
    gen: Generator,
    embedder: Any,
    item: GenerationRequest,
    it: int,
    positions: np.ndarray | None,
    strengths: np.ndarray | None,
) -> tuple[dict[str, Any], np.ndarray | None, bool]:
    stem = f"{item.item_id}__it{it}"
    video = gen.generate(item.with_positions(positions if it > 0 else None))
    frames = video.frames
    n = int(frames.shape[0])
    emb = embedder.embed(frames)
    res = spf.compute_spf(
        emb, window=s.spf.window, sigma=s.spf.sigma, lam=s.spf.lam, power=s.spf.power
    )
    scores = spf.score_progress(res, pacing=s.pacing.name, temperature=s.pacing.temperature)
    used = _stock(gen, n) if positions is None or it == 0 else np.asarray(positions)
    stop, note, next_pos, tau = False, "", None, None
    if it < s.retime.iterations:
        if res.degenerate:
            stop, note = True, "degenerate: no semantic change above noise, nothing to retime"
        else:
            tau = spf.invert_progress(res.progress, n, s.pacing.name, s.pacing.temperature)
            next_pos = accumulate_positions(used, tau, strengths, s.retime.update)
    video_rel = ""
    if s.save_videos:
        from metrics.video_io import write_video

        video_rel = f"videos/{stem}.mp4"
        write_video(
            s.run_dir / video_rel, frames, video.fps, audio=video.audio, audio_rate=video.audio_rate
        )
    spf_rel = f"spf/{stem}.npz"
    arrays = {
        "progress": res.progress,
        "raw": res.raw,
        "embeddings": emb.astype(np.float32),
        "positions": used,
    }
    if tau is not None:
        arrays.update(tau=tau, next_positions=next_pos)
    rec.atomic_savez(s.run_dir / spf_rel, **arrays)
    meta = {k: v for k, v in video.metadata.items() if k not in ("designed_progress", "positions")}
    row = {
        "n_frames": n,
        "fps": float(video.fps),
        **scores.as_dict(),
        "gt_rms_error": _gt_rms(res.progress, video.metadata.get("designed_progress")),
        "video_path": video_rel,
        "spf_path": spf_rel,
        "status": "ok",
        "error": note,
        "metadata": json.dumps(meta, default=rec.json_default),
    }
    return row, next_pos, stop


# -------------------------------------------------------------------------------- summary
def summarise(df, wall_s: float) -> dict[str, Any]:
    """Per-iteration Linearity statistics, the baseline-to-final gain and every failure."""
    ok = df[df.status == "ok"]
    per_it = {}
    for it, g in ok.groupby("iteration"):
        ls = g.linearity_score.dropna()
        per_it[int(it)] = {
            "n": len(g),
            "n_degenerate": int(g.degenerate.sum()),
            "linearity_mean": float(ls.mean()) if len(ls) else math.nan,
            "linearity_std": float(ls.std(ddof=1)) if len(ls) > 1 else math.nan,
            "max_jump_mean": float(g.max_jump.mean()),
            "gt_rms_error_mean": float(g.gt_rms_error.mean()),
        }
    gain = math.nan
    if per_it:
        last = ok.sort_values("iteration").groupby("item_id").tail(1)
        base = ok[ok.iteration == 0].set_index("item_id").linearity_score
        fin = last.set_index("item_id").linearity_score
        both = (fin - base).dropna()
        gain = float(both.mean()) if len(both) else math.nan
    failed = df[df.status != "ok"]
    return {
        "n_items": int(df.item_id.nunique()),
        "n_records": len(df),
        "n_failed": len(failed),
        "failures": failed[["item_id", "iteration", "error"]].to_dict("records"),
        "per_iteration": per_it,
        "linearity_gain_mean": gain,
        "wall_time_s": wall_s,
    }


def run_benchmark(s: BenchSettings) -> dict[str, Any]:
    """Run (or resume) one benchmark configuration and write its run directory.

    Writes ``records/*.json``, ``records.parquet``, ``records.csv``, ``spf/*.npz``,
    ``videos/*.mp4``, ``plots/*.png``, ``config.json``, ``summary.json`` and (logger=wandb)
    ``wandb/``. Item failures are recorded (status ``failed``) and do not stop the run.

    Args:
        s: the settings.

    Returns:
        The summary dict written to ``summary.json``.

    Raises:
        ValueError: on invalid settings (before any work).
        GeneratorError: if ``retime=warped`` is asked of a generator that cannot render at
            warped positions (e.g. footage).
        metrics.embedders.MissingWeightsError: if the embedder's weights are absent.
    """
    from tqdm.auto import tqdm

    from metrics.embedders import build_embedder

    t0 = time.perf_counter()
    s.check()
    vbench = None
    if s.vbench.get("enabled"):  # VBench venv and every weight file checked before any work
        from metrics.vbench import VBenchSettings, preflight

        vbench = VBenchSettings.from_dict(s.vbench)
        preflight(vbench)
    s.run_dir = Path(s.run_dir)
    s.run_dir.mkdir(parents=True, exist_ok=True)
    out_dir = Path(s.out_dir) if s.out_dir is not None else s.run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = build_generator(s.model_target, s.model_kwargs)
    if s.retime.name == "warped" and not gen.honours_positions:
        raise GeneratorError(
            f"model={s.model_name} cannot re-render at warped time positions; use retime=none "
            "to measure it (post-hoc retiming of footage is retime=resample/segmented)"
        )
    embedder = build_embedder(s.embedder_name, progress=s.progress, **s.embedder_kwargs)
    if s.retime.name in POSTHOC_MODES:
        from bench.retime_cli import posthoc_generator

        gen = posthoc_generator(gen, s.retime, s.pacing, s.spf, embedder)
    items = gen.items(s.n_videos, s.seed)
    items = [it for i, it in enumerate(items) if i % s.shard_count == s.shard_index]
    rec.atomic_write_json(
        out_dir / "config.json",
        {
            "config": s.config,
            "config_hash": s.config_hash,
            "git_sha": git_sha(),
            "versions": library_versions(),
        },
    )
    sha = git_sha()
    for item in tqdm(
        items, desc=f"{s.model_name}/{s.retime.name}", disable=not s.progress, unit="video"
    ):
        _process_item(s, gen, embedder, item, sha)
    wanted = {it.item_id for it in items}
    rows = [
        r
        for r in rec.collect_records(s.run_dir)
        if r.get("item_id") in wanted and r.get("config_hash") == s.config_hash
    ]
    df = rec.write_tables(out_dir, rows)
    summary = summarise(df, time.perf_counter() - t0)
    summary.update(
        run_dir=str(s.run_dir),
        config_hash=s.config_hash,
        git_sha=sha,
        model=s.model_name,
        retime=s.retime.name,
        embedder=s.embedder_name,
        pacing=s.pacing.name,
        out_dir=str(out_dir),
        shard={"index": s.shard_index, "count": s.shard_count},
    )
    if s.plots and s.out_dir is None:  # a sweep job's plots come from the merge (bench.sweep)
        from bench.plots import plot_run

        summary["plots"] = [str(p.relative_to(s.run_dir)) for p in plot_run(s.run_dir, df)]
    rec.atomic_write_json(out_dir / "summary.json", summary)
    if s.logger.get("name") == "wandb":
        from bench.wandb_log import log_to_wandb

        summary["wandb"] = log_to_wandb(out_dir, df, summary, s.config, s.logger)
        rec.atomic_write_json(out_dir / "summary.json", summary)
    if vbench is not None:  # vbench.json + records_vbench.parquet (metrics/vbench.py)
        from metrics.vbench import brief, score_run

        summary["vbench"] = brief(score_run(s.run_dir, vbench, out_dir=out_dir))
        rec.atomic_write_json(out_dir / "summary.json", summary)
    return summary
