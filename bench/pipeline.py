"""The benchmark task: generate, embed, SPF, score, record; with the ReTime loop and resume.

``bench/run.py`` turns the Hydra config into a
:class:`~spf_bench.bench.config.BenchSettings` and calls :func:`run_benchmark`; nothing here
sees a DictConfig.

Each benchmark item goes through the one ReTime loop
(:func:`spf_bench.generators.retime.retime_loop`; paper Sec. 4, "iterative refinement";
docs/method.md, Sec. 4):

1. iteration 0 renders at the stock positions (the baseline);
2. its frames are measured by the one measurement kernel
   (:func:`spf_bench.metrics.measure.measure_frames`: embed, SPF, scores, keyframes) with the
   run's SPF settings;
3. while refinements remain, ``S`` is inverted for the target pacing (``tau``), the positions
   are updated (``retime.update``: ``compose`` or the paper's ``additive``) and the renderer
   runs again: a warped-RoPE generator (``warped``), a resampling of the source
   (``resample``) or a keyframe plan regenerated first-last-frame (``segmented``).

Every iteration's video, SPF (``spf/*.npz``) and record (``records/*.json``) are written
atomically as soon as it finishes. Re-running with the same run directory resumes: finished
iterations are read back, never recomputed, and an item continues from its last finished
iteration (the next positions are stored with each SPF).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
import platform
import subprocess
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spf_bench.bench.build import build_generator, measure_with, posthoc_generator
from spf_bench.bench.config import BenchSettings, shard_items
from spf_bench.bench.results.record import HeldoutScores, Record, metadata_json
from spf_bench.bench.results.rundir import HELDOUT_EMBEDDINGS, RunDir
from spf_bench.bench.results.stats import heldout_mean
from spf_bench.bench.stages import finish_run, stages_from_settings
from spf_bench.conf.schema import POSTHOC_MODES
from spf_bench.generators.base import GenerationRequest, Generator, GeneratorError
from spf_bench.generators.retime import RetimeStep, band_strengths, renderer_for, retime_loop
from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.measure import Measurement, measure_embeddings, measure_frames
from spf_bench.metrics.vbench import VBenchSettings, preflight

log = logging.getLogger("spf_bench")

__all__ = [
    "ResumePoint",
    "git_sha",
    "library_versions",
    "run_benchmark",
]


# -------------------------------------------------------------------------------- provenance
def git_sha() -> str:
    """Commit of the spf-bench checkout, ``-dirty`` when it has local changes; else ``unknown``."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()

    try:
        sha, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
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


# -------------------------------------------------------------------------------- one item
def _gt_rms(progress: np.ndarray, designed: Any) -> float:
    """RMS between S and the designed progress rescaled to [0, 1] (NaN without ground truth)."""
    if designed is None:
        return math.nan
    d = np.asarray(designed, dtype=np.float64)
    if d.shape != progress.shape or not np.isfinite(d).all() or d[-1] == d[0]:
        return math.nan
    d = (d - d[0]) / (d[-1] - d[0])
    return float(np.sqrt(np.mean((progress - d) ** 2)))


@dataclass(frozen=True)
class ResumePoint:
    """Where an item continues, from its finished records.

    Attributes:
        start: the next iteration to run (0 when nothing finished).
        positions: ``(T,)`` float64 positions of that iteration, frames; ``None`` = stock.
        previous: the last finished measurement, re-solved from its stored embeddings (no
            re-embedding), for renderers that plan from it (``segmented``); only when an
            iteration remains.
        base: ``(T,)`` positions the last finished iteration rendered at, the base of the
            reference composition as in an uninterrupted run (``None``: stock positions).
        finished: no iteration remains.
        heldout: held-out mean Linearity of the last finished iteration (NaN without one).
        records: the finished records, iteration 0 first.
    """

    start: int = 0
    positions: np.ndarray | None = None
    previous: Measurement | None = None
    base: np.ndarray | None = None
    finished: bool = False
    heldout: float = math.nan
    records: tuple[Record, ...] = ()


def _resume_point(s: BenchSettings, rd: RunDir, item: GenerationRequest) -> ResumePoint:
    """The item's :class:`ResumePoint` from its finished records in ``rd``."""
    last, positions, base, finished = -1, None, None, False
    emb, done = None, []
    for it in range(s.retime.iterations + 1):
        r = rd.maybe_record(item.item_id, it)
        if r is None or not r.ok or r.config_hash != s.config_hash or r.seed != item.seed:
            break
        if r.error:  # iterating stopped on purpose (e.g. degenerate clip)
            last, finished = it, True
            done.append(r)
            break
        try:
            with np.load(rd.path / r.spf_path) as npz:
                nxt = npz["next_positions"] if "next_positions" in npz else None
                it_emb, used = npz["embeddings"], npz["positions"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            break  # the SPF file is gone or broken: redo this iteration
        if it < s.retime.iterations and nxt is None:
            break  # no positions for the next iteration: redo this one, never render stock
        if s.save_videos and not (rd.path / (r.video_path or "-")).is_file():
            break  # the video is gone: redo this iteration
        last, positions, base, emb = it, nxt, used, it_emb
        done.append(r)
    finished = finished or last == s.retime.iterations
    previous = None
    if emb is not None and not finished:
        previous = measure_embeddings(emb, s.spf, s.pacing, embedder=s.embedder_name)
    held = heldout_mean(done[-1].heldout) if done else math.nan
    return ResumePoint(last + 1, positions, previous, base, finished, held, tuple(done))


def _names(s: BenchSettings) -> dict[str, str]:
    """The (model, retime, embedder, pacing) names of a run, as record and summary fields."""
    return dict(
        model=s.model_name, retime=s.retime.name, embedder=s.embedder_name, pacing=s.pacing.name
    )


def _record_base(s: BenchSettings, item: GenerationRequest, it: int, sha: str) -> dict[str, Any]:
    return dict(
        _names(s),
        item_id=item.item_id,
        seed=item.seed,
        iteration=it,
        config_hash=s.config_hash,
        git_sha=sha,
        estimator=s.spf.estimator,
    )


def _heldout_scores(
    s: BenchSettings, evals: dict[str, Any], frames: np.ndarray
) -> tuple[dict[str, HeldoutScores], dict[str, np.ndarray]]:
    """Scores of one video by each held-out embedder (same SPF settings and pacing; no
    bootstrap: the held-out scores carry no interval), and its frame embeddings by each
    (``spf/*.npz`` ``heldout_embeddings_<name>``: the offline Fréchet fidelity reuses them)."""
    settings = dataclasses.replace(s.spf, bootstrap=0)
    out, embeddings = {}, {}
    for name, emb in evals.items():
        m = measure_frames(frames, emb, settings, s.pacing)
        out[name] = HeldoutScores.from_scores(m.scores)
        embeddings[name] = m.embeddings
    return out, embeddings


def _process_item(
    s: BenchSettings,
    rd: RunDir,
    gen: Generator,
    embedder: Any,
    item: GenerationRequest,
    sha: str,
    evals: dict[str, Any] | None = None,
) -> list[Record]:
    """Run all remaining iterations of one item through the ReTime loop; each iteration's
    files and record are written as soon as it finishes. Returns every record of the item
    (the finished ones read back, then the ones written now), iteration 0 first."""
    resume = _resume_point(s, rd, item)
    written = list(resume.records)
    if resume.finished:
        return written
    evals = evals or {}
    r = s.retime
    strengths = band_strengths(gen.bands, r.a_low, r.a_high, r.lam) if gen.bands else None
    loop = retime_loop(
        renderer_for(gen, item),
        measure_with(embedder, s.spf, s.pacing),
        iterations=s.retime.iterations,
        pacing=s.pacing,
        update=s.retime.update,
        strengths=strengths,
        bands=gen.bands,
        start=resume.start,
        positions=resume.positions,
        previous=resume.previous,
        composition=s.retime.composition,
        mode=s.retime.mode,
        guide=s.retime.guide_estimator,
        base=resume.base,
    )
    it, last_heldout = resume.start, resume.heldout
    while True:
        try:
            step = next(loop)
        except StopIteration:
            break
        except Exception as err:  # noqa: BLE001 - recorded, the sweep goes on
            log.error("item %s iteration %d failed: %s", item.item_id, it, err)
            row = Record.failed(
                _record_base(s, item, it, sha),
                error=f"{type(err).__name__}: {err}",
                metadata=metadata_json({"traceback": traceback.format_exc(limit=8)}),
            )
            rd.write_record(row)
            written.append(row)
            break
        heldout, heldout_embeddings = _heldout_scores(s, evals, step.video.frames)
        now = heldout_mean(heldout)
        stalled = (
            s.retime.heldout_stop
            and step.iteration > 0
            and step.iteration < s.retime.iterations
            and not step.stop
            and not now > last_heldout + s.retime.heldout_min_gain
        )
        note = step.stop or ""
        if stalled:
            note = (
                f"stopped: held-out Linearity {last_heldout:.4f} -> {now:.4f} gained less than "
                f"retime.heldout_min_gain={s.retime.heldout_min_gain}"
            )
        arrays = _spf_arrays(step, heldout_embeddings)
        row = _step_record(s, rd, item, step, sha, heldout, note)
        rd.write_iteration(row, arrays, step.video if s.save_videos else None)
        written.append(row)
        it, last_heldout = step.iteration + 1, now
        if stalled:
            loop.close()
            break
    return written


def _spf_arrays(
    step: RetimeStep, heldout_embeddings: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The arrays of one iteration's SPF file (``spf/<item>__it<k>.npz``, README), with the
    held-out embedders' frame embeddings (``heldout_embeddings_<name>``, ``(T, D)``)."""
    m = step.measurement
    arrays = {
        "progress": m.progress,
        "raw": m.spf.raw,
        "embeddings": m.embeddings,
        "positions": step.positions,
    }
    if step.tau is not None:
        arrays.update(tau=step.tau, next_positions=step.next_positions)
    if getattr(step, "base_positions", None) is not None:
        arrays["base_positions"] = step.base_positions
    for name, emb in (heldout_embeddings or {}).items():
        arrays[f"{HELDOUT_EMBEDDINGS}{name}"] = emb
    return arrays


def _step_record(
    s: BenchSettings,
    rd: RunDir,
    item: GenerationRequest,
    step: RetimeStep,
    sha: str,
    heldout: dict[str, HeldoutScores],
    error: str,
) -> Record:
    """The record of one finished iteration (its files' paths from ``rd``; written by
    :meth:`~spf_bench.bench.results.rundir.RunDir.write_iteration`)."""
    video, m = step.video, step.measurement
    base = _record_base(s, item, step.iteration, sha)
    rms = _gt_rms(m.progress, video.metadata.get("designed_progress"))
    meta = {k: v for k, v in video.metadata.items() if k not in ("designed_progress", "positions")}
    video_rel = rd.video_rel(item.item_id, step.iteration) if s.save_videos else ""
    spf_rel = rd.spf_rel(item.item_id, step.iteration)
    return Record(
        **base,
        n_frames=int(m.n_frames),
        fps=float(video.fps),
        **m.scores.as_dict(),
        linearity_ci_low=float(m.linearity_ci[0]),
        linearity_ci_high=float(m.linearity_ci[1]),
        progress_statistic=float(m.progress_statistic),
        keyframes=" ".join(map(str, m.keyframes)),
        rms_s_vs_designed=rms,
        video_path=video_rel,
        spf_path=spf_rel,
        status="ok",
        error=error,
        metadata=metadata_json(meta),
        heldout=heldout,
    )


def run_benchmark(s: BenchSettings) -> dict[str, Any]:
    """Run (or resume) one benchmark configuration and write its run directory.

    Writes ``records/*.json``, ``spf/*.npz``, ``videos/*.mp4`` and ``config.json`` through
    :class:`~spf_bench.bench.results.rundir.RunDir`, then hands the run's records (kept in
    memory; every shard's, read under the lock, for one shard of a shared run directory) to
    :func:`spf_bench.bench.stages.finish_run`: ``records.parquet``, ``records.csv``, the
    stages the config asks for (plots, W&B, VBench, report) and ``summary.json``, written
    once. Item failures are recorded (status ``failed``) and do not stop the run.

    Args:
        s: the settings.

    Returns:
        The summary dict written to ``summary.json``.

    Raises:
        ValueError: on invalid settings (before any work).
        spf_bench.bench.results.rundir.RunIdentityError: the run directory holds another run
            (``resume`` policy; the message says what differs).
        GeneratorError: if ``retime=warped`` is asked of a generator that cannot render at
            warped positions (e.g. footage).
        spf_bench.metrics.embedders.MissingWeightsError: if the embedder's weights are absent.
    """
    t0 = time.perf_counter()
    s.check()
    vbench = None
    if s.vbench.get("enabled"):  # VBench venv and every weight file checked before any work
        vbench = VBenchSettings.from_dict(s.vbench)
        preflight(vbench)
    rd = RunDir(s.run_dir)
    s.run_dir = rd.path
    rd.path.mkdir(parents=True, exist_ok=True)
    rd.check_identity(s.identity or {"hash": s.config_hash}, s.resume)
    out = RunDir(s.out_dir) if s.out_dir is not None else rd
    out.path.mkdir(parents=True, exist_ok=True)
    gen = build_generator(s.model_target, s.model_kwargs)
    if s.retime.name == "warped" and not gen.honours_positions:
        raise GeneratorError(
            f"model={s.model_name} cannot re-render at warped time positions; use retime=none "
            "to measure it (post-hoc retiming of footage is retime=resample/segmented)"
        )
    embedder = build_embedder(s.embedder_name, progress=s.progress, **s.embedder_kwargs)
    common = {k: v for k, v in s.embedder_kwargs.items() if k in ("device", "dtype")}
    evals = {e: build_embedder(e, progress=False, **common) for e in s.eval_embedders}
    if s.retime.name in POSTHOC_MODES:
        gen = posthoc_generator(gen, s.retime, s.pacing, s.spf, embedder)
    items = shard_items(gen.items(s.n_videos, s.seed), s.shard_index, s.shard_count)
    sha = git_sha()
    out.write_config(
        {
            "config": s.config,
            "config_hash": s.config_hash,
            "identity": s.identity,
            "git_sha": sha,
            "versions": library_versions(),
        }
    )
    records: list[Record] = []
    for item in tqdm(
        items, desc=f"{s.model_name}/{s.retime.name}", disable=not s.progress, unit="video"
    ):
        records.extend(_process_item(s, rd, gen, embedder, item, sha, evals))
    info = {
        "git_sha": sha,
        **_names(s),
        "n_items_expected": s.n_videos,
        "eval_embedders": list(s.eval_embedders),
        "shard": {"index": s.shard_index, "count": s.shard_count, "n_items": len(items)},
        "config_hash": s.config_hash,
    }
    stages = stages_from_settings(
        plots=s.plots and s.out_dir is None,
        logger=s.logger,
        vbench=vbench,
        report=s.report and s.out_dir is None,  # a sweep's report comes with its merge
    )
    wall = time.perf_counter() - t0
    if s.out_dir is not None:  # a sweep job: its own shard's tables; the sweep merges the run
        run = finish_run(rd, records, stages, out=out, info=info, config=s.config, wall_s=wall)
    else:  # the whole run in memory, or (one shard of a shared run directory) every shard's
        with rd.lock():
            recs = records if s.shard_count == 1 else rd.records(s.config_hash)
            run = finish_run(rd, recs, stages, info=info, config=s.config, wall_s=wall)
    return run.summary
