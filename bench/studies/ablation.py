"""Embedder ablation: the same videos measured with every frame embedder.

    spf-bench study ablation 'runs/figures/*' [--embedders pixel efficientnet_lite0 ...]
                             [--out DIR] [--curves DIR/ablation_curves.npz]

The videos are the **baseline (iteration 0) videos** of the given run directories: iteration 0
renders every item at the stock time positions, so runs that share a model config (the
``model`` block and ``seed`` of ``config.json``) show the same videos whatever their embedder
or retime mode. For each embedder of :data:`spf_bench.metrics.embedders.EMBEDDERS` (or
``--embedders``):

1. if a given run used that embedder, its stored iteration-0 embeddings (``spf/*.npz``) are
   reused (``source = "stored"``);
2. otherwise the embedder is built (offline;
   :class:`spf_bench.metrics.embedders.MissingWeightsError` skips it, the reason is listed)
   and the video is re-generated from the run's config by its generator (footage is decoded
   again by the real decoder) and embedded (``source = "embedded"``).

Every video is then measured by the one measurement kernel
(:func:`spf_bench.metrics.measure.measure_embeddings`) with the runs' SPF settings (the ``spf``
block of their ``config.json``; runs with different settings are refused) and linear target
pacing; synthetic videos (``morph``, ``pacing_gt``) are also scored against their designed
progress (:func:`spf_bench.bench.studies.pacing_gt.gt_errors`).

Outputs (atomic): ``ablation_videos.csv`` (one row per embedder x video, :data:`VIDEO_COLUMNS`),
``ablation.csv`` and ``ablation.md`` (one row per embedder x model, :data:`SUMMARY_COLUMNS`,
skipped embedders as rows with ``status = "skipped"`` and the reason), and with ``--curves`` an
npz of every ``S`` (``"<embedder>/<model>/<item_id>"``) and designed progress
(``"designed/<model>/<item_id>"``); :func:`read_outputs` reads them back for
:mod:`spf_bench.bench.views.figures`.

``rank_corr_vs_ref`` is Spearman's rho between an embedder's per-video Linearity Scores and the
reference embedder's on the same videos (the paper's default ``siglip`` when available, else
``efficientnet_lite0``): does the embedder order videos by pacing the same way?
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from spf_bench.bench.build import build_generator
from spf_bench.bench.config import split_model_config
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.studies.cache import EmbeddingCache
from spf_bench.bench.studies.pacing_gt import build_or_skip, gt_errors
from spf_bench.bench.views.load import load_records, resolve_runs
from spf_bench.bench.views.render import markdown_table
from spf_bench.metrics.atomic_io import atomic_savez, atomic_write_text
from spf_bench.metrics.embedders import EMBEDDERS
from spf_bench.metrics.measure import SPFSettings, measure_embeddings
from spf_bench.metrics.spf import find_jumps

log = logging.getLogger("spf_bench")

__all__ = [
    "CURVES_FILE",
    "REFERENCE_EMBEDDERS",
    "SUMMARY_COLUMNS",
    "VIDEO_COLUMNS",
    "AblationResult",
    "collect_videos",
    "main",
    "read_outputs",
    "run_ablation",
    "summarise",
    "write_outputs",
]

#: Default file name of the curves npz beside the tables (:func:`read_outputs`).
CURVES_FILE = "ablation_curves.npz"

#: Reference embedders for ``rank_corr_vs_ref``, first available wins.
REFERENCE_EMBEDDERS: tuple[str, ...] = ("siglip", "efficientnet_lite0")

VIDEO_COLUMNS: tuple[str, ...] = (
    "embedder",
    "model",
    "item_id",
    "n_frames",
    "source",
    "linearity_score",
    "max_deviation",
    "max_jump",
    "max_jump_frame",
    "total_change",
    "degenerate",
    "rms_s_vs_designed",
    "gt_max_error",
    "gt_slope_spearman",
    "jump_frames",
)

SUMMARY_COLUMNS: tuple[str, ...] = (
    "embedder",
    "status",
    "model",
    "n",
    "linearity_mean",
    "linearity_std",
    "max_jump_mean",
    "total_change_mean",
    "rms_s_vs_designed_mean",
    "gt_max_error_mean",
    "gt_slope_spearman_mean",
    "rank_corr_vs_ref",
    "reference",
    "reason",
)


@dataclass
class _Video:
    model: str
    item_id: str
    model_key: str
    n_frames: int
    synthetic: bool
    stored: dict[str, Path] = field(default_factory=dict)  # embedder -> npz with embeddings


@dataclass
class _ModelSource:
    target: str
    kwargs: dict[str, Any]
    seed: int
    n_videos: int
    embedder_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class AblationResult:
    """Output of :func:`run_ablation`.

    Attributes:
        rows: one dict per embedder x video (:data:`VIDEO_COLUMNS`).
        skipped: ``{embedder: reason}``.
        curves: ``{"<embedder>/<model>/<item_id>": S}`` and ``{"designed/<model>/<item_id>": P}``.
        reference: the reference embedder of ``rank_corr_vs_ref`` (``""`` if none ran).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    reference: str = ""


def _model_key(cfg: dict[str, Any]) -> str:
    return json.dumps({"model": cfg.get("model"), "seed": cfg.get("seed")}, sort_keys=True)


def collect_videos(
    run_specs: Sequence[str | os.PathLike],
) -> tuple[list[_Video], dict[str, _ModelSource], SPFSettings]:
    """The baseline videos of the given runs and where their stored embeddings are.

    Args:
        run_specs: run directories or globs (:func:`spf_bench.bench.views.load.resolve_runs`).

    Returns:
        ``(videos, sources, spf_settings)``: videos in (model, item) order; ``sources`` maps a
        model key to what re-generates its videos; ``spf_settings`` the runs' SPF settings.

    Raises:
        FileNotFoundError: if no run directory holds records.
        spf_bench.bench.results.rundir.RunDirError: a run lacks a readable ``config.json``
            or its SPF settings are invalid.
        ValueError: if the runs were measured with different SPF settings.
    """
    videos: dict[tuple[str, str], _Video] = {}
    sources: dict[str, _ModelSource] = {}
    spf_settings: SPFSettings | None = None
    first: Path | None = None
    for d in resolve_runs(run_specs):
        rd = RunDir(d)
        cfg = rd.config()["config"]  # which videos the run shows
        settings = rd.spf_settings()
        if spf_settings is None:
            spf_settings, first = settings, d
        elif settings != spf_settings:
            raise ValueError(
                f"{d} was measured with {settings}, {first} with {spf_settings}: the ablation "
                "compares embedders under one set of SPF settings"
            )
        key = _model_key(cfg)
        name, target, model_cfg = split_model_config(cfg["model"])
        src = sources.setdefault(key, _ModelSource(target, model_cfg, int(cfg.get("seed", 0)), 0))
        emb_cfg = dict(cfg.get("embedder") or {})
        emb_name = emb_cfg.pop("name", "")
        src.embedder_kwargs.setdefault(emb_name, emb_cfg)
        df = load_records([d])  # records.parquet, or records/*.json of an unfinished run
        base = df[(df.iteration == 0) & (df.status == "ok")]
        src.n_videos = max(src.n_videos, int(cfg.get("n_videos", 0)))
        for r in base.itertuples():
            v = videos.setdefault(
                (key, r.item_id),
                _Video(
                    model=name,
                    item_id=str(r.item_id),
                    model_key=key,
                    n_frames=int(r.n_frames),
                    synthetic=bool(np.isfinite(r.rms_s_vs_designed)),
                ),
            )
            npz = d / str(r.spf_path)
            if r.spf_path and npz.is_file():
                v.stored.setdefault(str(r.embedder), npz)
    ordered = sorted(videos.values(), key=lambda v: (v.model, v.item_id))
    return ordered, sources, spf_settings or SPFSettings()


class _Frames:
    """Lazily re-generated baseline frames (and designed progress) per video."""

    def __init__(self, sources: dict[str, _ModelSource]) -> None:
        self.sources = sources
        self._gens: dict[str, Any] = {}
        self._items: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray | None]] = {}

    def get(self, v: _Video) -> tuple[np.ndarray, np.ndarray | None]:
        k = (v.model_key, v.item_id)
        if k not in self._cache:
            src = self.sources[v.model_key]
            if v.model_key not in self._gens:
                gen = build_generator(src.target, src.kwargs)
                self._gens[v.model_key] = gen
                self._items[v.model_key] = {
                    it.item_id: it for it in gen.items(src.n_videos, src.seed)
                }
            item = self._items[v.model_key][v.item_id]
            video = self._gens[v.model_key].generate(item.with_positions(None))
            designed = video.metadata.get("designed_progress")
            self._cache[k] = (
                video.frames,
                None if designed is None else np.asarray(designed, dtype=np.float64),
            )
        return self._cache[k]


def _score_row(
    name: str, v: _Video, z: np.ndarray, designed: np.ndarray | None, settings: SPFSettings
) -> tuple[dict[str, Any], np.ndarray]:
    # The rows carry no Linearity interval: measure without the bootstrap.
    fast = dataclasses.replace(settings, bootstrap=0)
    m = measure_embeddings(z, fast, embedder=name, keep_embeddings=False)
    sc = m.scores
    gt = dict.fromkeys(("max_error", "rms_error", "slope_spearman"), math.nan)
    if designed is not None and not m.degenerate and designed[-1] > designed[0]:
        gt = gt_errors(m.progress, designed)
    jumps = [] if m.degenerate else find_jumps(m.progress, 5)
    row = {
        "embedder": name,
        "model": v.model,
        "item_id": v.item_id,
        "n_frames": int(z.shape[0]),
        "linearity_score": sc.linearity_score,
        "max_deviation": sc.max_deviation,
        "max_jump": sc.max_jump,
        "max_jump_frame": sc.max_jump_frame,
        "total_change": sc.total_change,
        "degenerate": bool(sc.degenerate),
        "rms_s_vs_designed": gt["rms_error"],
        "gt_max_error": gt["max_error"],
        "gt_slope_spearman": gt["slope_spearman"],
        "jump_frames": ";".join(str(f) for f, _ in jumps),
    }
    return row, m.progress


def run_ablation(
    run_specs: Sequence[str | os.PathLike],
    embedders: Sequence[str] | None = None,
    *,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
) -> AblationResult:
    """Measure the baseline videos of ``run_specs`` with every embedder (see module docs).

    Args:
        run_specs: run directories or globs.
        embedders: names (default every key of :data:`spf_bench.metrics.embedders.EMBEDDERS`).
        device: torch device for embedders built here.
        cache_dir: the studies' embedding cache folder for the videos embedded here
            (:class:`spf_bench.bench.studies.cache.EmbeddingCache`); ``None``: no files written.

    Returns:
        :class:`AblationResult`.

    Raises:
        ValueError: on an unknown embedder name, or runs with different SPF settings.
        FileNotFoundError: see :func:`collect_videos`.
    """
    names = list(EMBEDDERS) if embedders is None else list(embedders)
    unknown = [n for n in names if n not in EMBEDDERS]
    if unknown:
        raise ValueError(f"unknown embedder(s) {unknown}; available: {list(EMBEDDERS)}")
    videos, sources, settings = collect_videos(run_specs)
    frames = _Frames(sources)
    res = AblationResult()
    for name in names:
        built: Any = None
        cache: EmbeddingCache | None = None
        rows, curves = [], {}
        for v in videos:
            t0 = time.perf_counter()
            designed = frames.get(v)[1] if v.synthetic else None
            if name in v.stored:
                with np.load(v.stored[name]) as npz:
                    z = npz["embeddings"]
                source = "stored"
            else:
                if built is None:
                    kw = dict(sources[v.model_key].embedder_kwargs.get(name, {}))
                    kw.update(device=device)
                    built, reason = build_or_skip(name, kw)
                    if built is None:
                        res.skipped[name] = reason
                        log.warning("ablation: skipping %s (%s)", name, reason)
                        break
                    cache = EmbeddingCache(cache_dir, name, settings=kw, embedder_obj=built)
                z = cache.embed(f"{v.model}-{v.item_id}", frames.get(v)[0])
                source = "embedded"
            row, s = _score_row(name, v, z, designed, settings)
            row["source"] = source
            rows.append(row)
            curves[f"{name}/{v.model}/{v.item_id}"] = s
            if designed is not None:
                res.curves[f"designed/{v.model}/{v.item_id}"] = designed
            log.info(
                "ablation: %s %s/%s (%s) %.1f s",
                name,
                v.model,
                v.item_id,
                source,
                time.perf_counter() - t0,
            )
        if name in res.skipped:
            continue
        res.rows.extend(rows)
        res.curves.update(curves)
    ran = {r["embedder"] for r in res.rows}
    res.reference = next((e for e in REFERENCE_EMBEDDERS if e in ran), "")
    return res


def summarise(res: AblationResult) -> Any:
    """Per embedder x model summary (:data:`SUMMARY_COLUMNS`), skipped embedders appended.

    Returns:
        ``pandas.DataFrame``. Means skip NaN; ``rank_corr_vs_ref`` needs 3 or more videos with
        finite scores under both embedders (else NaN); it is 1 for the reference itself.
    """
    df = pd.DataFrame(res.rows, columns=list(VIDEO_COLUMNS))
    out = []
    ref = df[df.embedder == res.reference].set_index(["model", "item_id"]).linearity_score
    for (emb, model), g in df.groupby(["embedder", "model"], sort=False):
        mine = g.set_index(["model", "item_id"]).linearity_score
        both = pd.concat([mine, ref], axis=1, join="inner").dropna()
        rho = math.nan
        if len(both) >= 3 and both.iloc[:, 0].nunique() > 1 and both.iloc[:, 1].nunique() > 1:
            rho = float(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)
        ls = g.linearity_score.dropna()
        out.append(
            {
                "embedder": emb,
                "status": "ok",
                "model": model,
                "n": len(g),
                "linearity_mean": ls.mean() if len(ls) else math.nan,
                "linearity_std": ls.std(ddof=1) if len(ls) > 1 else math.nan,
                "max_jump_mean": g.max_jump.mean(),
                "total_change_mean": g.total_change.mean(),
                "rms_s_vs_designed_mean": g.rms_s_vs_designed.mean(),
                "gt_max_error_mean": g.gt_max_error.mean(),
                "gt_slope_spearman_mean": g.gt_slope_spearman.mean(),
                "rank_corr_vs_ref": rho,
                "reference": res.reference,
                "reason": "",
            }
        )
    for emb, reason in res.skipped.items():
        out.append(
            {
                **dict.fromkeys(SUMMARY_COLUMNS, math.nan),
                "embedder": emb,
                "status": "skipped",
                "model": "",
                "n": 0,
                "reference": res.reference,
                "reason": reason,
            }
        )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def write_outputs(
    res: AblationResult, out_dir: str | os.PathLike, curves_path: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write ``ablation_videos.csv``, ``ablation.csv``, ``ablation.md`` and the curves npz.

    Returns:
        ``{"videos", "summary", "summary_md"[, "curves"]}`` -> path.
    """
    out_dir = Path(out_dir)
    summary = summarise(res)
    videos = pd.DataFrame(res.rows, columns=list(VIDEO_COLUMNS))
    shown = summary.drop(columns=["reason", "reference"])
    shown = shown[shown.status == "ok"]
    skipped = "".join(f"- `{k}` skipped: {v}\n" for k, v in res.skipped.items())
    md = (
        "# Embedder ablation\n\n"
        "The same baseline (iteration 0) videos measured with each frame embedder "
        "(`bench/studies/ablation.py`). Linearity = `clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)`; "
        "GT errors compare `S` with the designed progress of synthetic videos (morph: the "
        "crossfade weight); `rank_corr_vs_ref` = Spearman rho of per-video Linearity against "
        f"`{res.reference or 'n/a'}`.\n\n"
        + markdown_table(shown)
        + ("\n" + skipped if skipped else "")
    )
    paths = {
        "videos": atomic_write_text(out_dir / "ablation_videos.csv", videos.to_csv(index=False)),
        "summary": atomic_write_text(out_dir / "ablation.csv", summary.to_csv(index=False)),
        "summary_md": atomic_write_text(out_dir / "ablation.md", md),
    }
    if curves_path is not None:
        paths["curves"] = atomic_savez(
            curves_path,
            skipped=np.array(json.dumps(res.skipped)),
            reference=np.array(res.reference),
            **res.curves,
        )
    return paths


def read_outputs(
    out_dir: str | os.PathLike, curves_path: str | os.PathLike | None = None
) -> AblationResult:
    """Read back what :func:`write_outputs` wrote (rows, curves, skipped, reference).

    Args:
        out_dir: folder holding ``ablation_videos.csv``.
        curves_path: the curves npz (default ``out_dir / "ablation_curves.npz"``).

    Returns:
        :class:`AblationResult` equal to the written one (floats round-trip exactly).

    Raises:
        FileNotFoundError: if the table or the curves npz is missing.
    """
    out_dir = Path(out_dir)
    curves_path = Path(curves_path) if curves_path is not None else out_dir / CURVES_FILE
    for path in (out_dir / "ablation_videos.csv", curves_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `spf-bench study ablation RUN_DIR... --out {out_dir} "
                f"--curves {curves_path}` first"
            )
    text = ("embedder", "model", "item_id", "source", "jump_frames")
    rows = pd.read_csv(out_dir / "ablation_videos.csv", dtype=dict.fromkeys(text, str))
    rows["jump_frames"] = rows["jump_frames"].fillna("")
    res = AblationResult(rows=rows[list(VIDEO_COLUMNS)].to_dict("records"))
    with np.load(curves_path) as npz:
        for key in npz.files:
            if key == "skipped":
                res.skipped = json.loads(str(npz[key]))
            elif key == "reference":
                res.reference = str(npz[key])
            else:
                res.curves[key] = np.asarray(npz[key], dtype=np.float64)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """CLI (see module docs). Returns 0 on success, 2 when no run directory is found."""
    parser = argparse.ArgumentParser(
        prog="spf-bench study ablation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("runs", nargs="+", help="run directories or globs")
    parser.add_argument("--embedders", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--out", default="results", help="folder of the tables")
    parser.add_argument("--curves", default=None, help="npz of every S (for figures)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--cache", default=None, help="embedding cache folder (default: none, embed every time)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    try:
        res = run_ablation(args.runs, args.embedders, device=args.device, cache_dir=args.cache)
    except FileNotFoundError as e:
        print(f"ablation: {e}", file=sys.stderr)
        return 2
    paths = write_outputs(res, args.out, args.curves)
    print(Path(paths["summary_md"]).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
