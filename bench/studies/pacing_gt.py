"""Ground-truth pacing benchmark: does the SPF recover a *designed* progress?

The paper's synthetic check (docs/method.md, Sec. 6): sequences whose pacing is designed, e.g. a
rotating object with a designed angular-velocity profile, should give an SPF that tracks the
designed profile. The sequences (rotation, zoom and crossfade of real stills under four designed
profiles, 24 in all) are rendered by :mod:`spf_bench.generators.pacing_gt`; this module
measures each embedder's SPF ``S`` on them and scores it against the designed progress ``P``.
Every measurement goes through :func:`spf_bench.metrics.measure.measure_frames` with one
:class:`spf_bench.metrics.measure.SPFSettings`.

Errors per sequence (:func:`gt_errors`): ``max_error = max |S - P|`` and
``rms_error = sqrt(mean (S - P)^2)`` (both in units of the total progress, 0..1), and
``slope_spearman``, the Spearman rank correlation (``scipy.stats.spearmanr``) of the per-frame
slopes ``diff(S)`` and ``diff(P)`` (NaN when either is constant).

Three ways in:

- ``spf-bench study pacing_gt --out DIR [--curves NPZ]`` (or ``python -m
  spf_bench.bench.studies.pacing_gt``): every embedder of
  :data:`spf_bench.metrics.embedders.EMBEDDERS`;
  those whose weights are absent are listed as skipped with the reason. Writes
  ``pacing_gt.csv`` (one row per embedder x sequence), ``pacing_gt_summary.csv`` / ``.md`` (per
  embedder x transformation) and, with ``--curves``, an npz of every ``S`` and ``P``;
  :func:`read_outputs` reads them back (``spf-bench figures`` does, for ``make figures``).
- ``python bench/run.py experiment=pacing_gt embedder=pixel``: the same sequences as a Hydra
  model (:class:`spf_bench.generators.pacing_gt.PacingGTGenerator`,
  ``conf/model/pacing_gt.yaml``) through the standard pipeline, so the records carry
  ``rms_s_vs_designed`` and the leaderboard picks them up; it honours warped positions, so
  ``retime=warped`` works on it too. :func:`analyze_run` adds max error and slope Spearman
  from such a run directory (``spf-bench study pacing_gt --runs RUN_DIR...``).
- :func:`run_pacing_gt` from Python.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from spf_bench.bench.cli_common import add_spf_args, spf_from_args
from spf_bench.bench.studies.cache import EmbeddingCache
from spf_bench.bench.views.render import markdown_table
from spf_bench.generators.pacing_gt import (
    SUITE,
    TRANSFORMS,
    GTSpec,
    PacingGTGenerator,
    designed_progress,
    render,
    spec_from_extra,
)
from spf_bench.metrics.atomic_io import atomic_savez, atomic_write_text
from spf_bench.metrics.embedders import EMBEDDERS, MissingWeightsError, build_embedder
from spf_bench.metrics.measure import SPFSettings, measure_embeddings

log = logging.getLogger("spf_bench")

__all__ = [
    "CURVES_FILE",
    "SUMMARY_COLUMNS",
    "PacingGTResult",
    "analyze_run",
    "build_or_skip",
    "gt_errors",
    "main",
    "markdown_table",
    "read_outputs",
    "run_pacing_gt",
    "summarise",
    "write_outputs",
]


# ------------------------------------------------------------------------------------ errors
def gt_errors(progress: np.ndarray, designed: np.ndarray) -> dict[str, float]:
    """Errors of a measured SPF against the designed progress.

    Args:
        progress: measured ``S``, shape ``(T,)``, normalised to run from 0 to 1.
        designed: designed progress ``P``, shape ``(T,)``; rescaled to run from 0 to 1.

    Returns:
        ``{"max_error": max |S - P|, "rms_error": sqrt(mean (S - P)^2),
        "slope_spearman": Spearman rho of diff(S) and diff(P)}``; errors are fractions of the
        total progress; slopes are rounded to 1e-12 before ranking; rho is NaN when either
        slope sequence is constant.

    Raises:
        ValueError: on shape mismatch, ``T < 3``, non-finite values or a flat ``P``.
    """
    s = np.asarray(progress, dtype=np.float64)
    d = np.asarray(designed, dtype=np.float64)
    if s.shape != d.shape or s.ndim != 1 or s.size < 3:
        raise ValueError(
            f"progress and designed must share shape (T,), T >= 3: {s.shape} {d.shape}"
        )
    if not (np.isfinite(s).all() and np.isfinite(d).all()):
        raise ValueError("progress and designed must be finite")
    if d[-1] == d[0]:
        raise ValueError("designed progress is flat: nothing to compare")
    d = (d - d[0]) / (d[-1] - d[0])
    err = s - d
    # Slopes rounded to 1e-12 of the total progress: float noise must not rank (a linear S
    # has constant slopes, not slopes ordered by rounding error).
    ds, dd = np.round(np.diff(s), 12), np.round(np.diff(d), 12)
    if np.ptp(ds) == 0 or np.ptp(dd) == 0:
        rho = math.nan
    else:
        rho = float(spearmanr(ds, dd).statistic)
    return {
        "max_error": float(np.max(np.abs(err))),
        "rms_error": float(np.sqrt(np.mean(err**2))),
        "slope_spearman": rho,
    }


# ------------------------------------------------------------------------------------ runner
@dataclass
class PacingGTResult:
    """Output of :func:`run_pacing_gt`.

    Attributes:
        rows: one dict per (embedder, sequence): ``embedder, seq_id, transform, profile,
            stills, n_frames, max_error, rms_error, slope_spearman, linearity_score,
            total_change, degenerate, seconds``.
        skipped: ``{embedder: reason}`` for embedders that could not be built.
        curves: ``{f"{embedder}/{seq_id}": S}`` and ``{f"designed/{seq_id}": P}``, shape ``(T,)``.
        settings: how the sequences were made and measured (``n_frames``, ``size``,
            ``rotation_degrees``, ``zoom_max``, ``n_sequences``, ``spf``: the SPF settings), for
            provenance.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def build_or_skip(name: str, kwargs: dict[str, Any]) -> tuple[Any, str]:
    """An embedder, or ``(None, reason)`` when its weights are not on this machine.

    Args:
        name: embedder name (:data:`spf_bench.metrics.embedders.EMBEDDERS`).
        kwargs: keyword arguments of :func:`spf_bench.metrics.embedders.build_embedder`.

    Returns:
        ``(embedder, "")`` or ``(None, "MissingWeightsError: <model id> is not in the local
        Hugging Face cache (offline)")``; the reason names no local path, so committed tables
        do not depend on the machine. Other errors propagate.
    """
    try:
        return build_embedder(name, progress=False, **kwargs), ""
    except MissingWeightsError as e:
        where = (
            "is not in the local Hugging Face cache (offline)"
            if not kwargs.get("weights")
            else "was not found at the given weights path"
        )
        return None, f"MissingWeightsError: {e.model_id} {where}"


def run_pacing_gt(
    embedders: Sequence[str] | None = None,
    *,
    n_frames: int = 41,
    size: int = 224,
    specs: Sequence[GTSpec] = SUITE,
    rotation_degrees: float = 180.0,
    zoom_max: float = 3.0,
    spf: SPFSettings | None = None,
    embedder_kwargs: dict[str, dict[str, Any]] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> PacingGTResult:
    """Render every sequence once, embed it with each embedder, and score the SPF against ``P``.

    Each sequence is measured by :func:`spf_bench.metrics.measure.measure_frames` with ``spf``
    (linear target pacing: ``linearity_score`` is the Linearity Score of docs/method.md, Sec. 2).

    Args:
        embedders: names (default: every key of :data:`spf_bench.metrics.embedders.EMBEDDERS`).
            Those raising :class:`spf_bench.metrics.embedders.MissingWeightsError` are skipped
            with the reason.
        n_frames, size, rotation_degrees, zoom_max: see
            :func:`spf_bench.generators.pacing_gt.render`.
        specs: the sequences (default :data:`spf_bench.generators.pacing_gt.SUITE`).
        spf: SPF settings of the measurement (window, sigma, lam, power); ``None`` for the
            defaults of :class:`spf_bench.metrics.measure.SPFSettings`.
        embedder_kwargs: per-embedder keyword arguments of ``build_embedder``.
        cache_dir: the studies' embedding cache folder
            (:class:`spf_bench.bench.studies.cache.EmbeddingCache`); ``None``: embed every
            sequence (no files written). Cached or not, the embeddings are the same float32 rows.

    Returns:
        :class:`PacingGTResult`.

    Raises:
        ValueError: on invalid arguments or an unknown embedder name.
    """
    spf = SPFSettings() if spf is None else spf
    spf.check()
    # The tables use no Linearity interval: measure without the bootstrap (``settings`` still
    # records ``spf`` as given).
    measure_spf = dataclasses.replace(spf, bootstrap=0)
    names = list(EMBEDDERS) if embedders is None else list(embedders)
    unknown = [n for n in names if n not in EMBEDDERS]
    if unknown:
        raise ValueError(f"unknown embedder(s) {unknown}; available: {list(EMBEDDERS)}")
    rendered = []
    res = PacingGTResult(
        settings={
            "n_frames": int(n_frames),
            "size": int(size),
            "rotation_degrees": float(rotation_degrees),
            "zoom_max": float(zoom_max),
            "n_sequences": len(specs),
            "spf": dataclasses.asdict(spf),
        }
    )
    for spec in specs:
        frames, p = render(
            spec, n_frames, size=size, rotation_degrees=rotation_degrees, zoom_max=zoom_max
        )
        rendered.append((spec, frames, p))
        res.curves[f"designed/{spec.seq_id}"] = p
    for name in names:
        kwargs = (embedder_kwargs or {}).get(name, {})
        emb, reason = build_or_skip(name, kwargs)
        if emb is None:
            log.warning("pacing_gt: skipping embedder %s (%s)", name, reason)
            res.skipped[name] = reason
            continue
        cache = EmbeddingCache(cache_dir, name, settings=kwargs, embedder_obj=emb)
        for spec, frames, p in rendered:
            t0 = time.perf_counter()
            z = cache.embed(f"pacing_gt-{spec.seq_id}", frames)
            m = measure_embeddings(z, measure_spf, embedder=emb.name, keep_embeddings=False)
            errs = (
                gt_errors(m.progress, p)
                if not m.degenerate
                else {"max_error": math.nan, "rms_error": math.nan, "slope_spearman": math.nan}
            )
            res.curves[f"{name}/{spec.seq_id}"] = m.progress
            res.rows.append(
                {
                    "embedder": name,
                    "seq_id": spec.seq_id,
                    "transform": spec.transform,
                    "profile": spec.profile,
                    "stills": "+".join(spec.stills),
                    "n_frames": int(n_frames),
                    **errs,
                    "linearity_score": m.scores.linearity_score,
                    "total_change": m.spf.total_change,
                    "degenerate": bool(m.degenerate),
                    "seconds": time.perf_counter() - t0,
                }
            )
    return res


#: Default file name of the curves npz beside the tables (:func:`read_outputs`).
CURVES_FILE = "pacing_gt_curves.npz"

#: Columns of the per-embedder x transformation summary (:func:`summarise`).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "embedder",
    "transform",
    "n",
    "max_error_mean",
    "max_error_worst",
    "rms_error_mean",
    "slope_spearman_mean",
    "n_degenerate",
)


def summarise(rows: list[dict[str, Any]] | Any) -> Any:
    """Per embedder x transformation (and ``all``): mean errors and the worst max error.

    Args:
        rows: :attr:`PacingGTResult.rows` or a DataFrame of them.

    Returns:
        ``pandas.DataFrame`` with :data:`SUMMARY_COLUMNS`, ``transform == "all"`` rows pooling
        every sequence of an embedder. NaN errors (degenerate sequences) are left out of means.
    """
    df = pd.DataFrame(rows)
    out = []
    if df.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    for emb, g in df.groupby("embedder", sort=False):
        for tr, h in [*((t, g[g["transform"] == t]) for t in TRANSFORMS), ("all", g)]:
            if h.empty:
                continue
            out.append(
                {
                    "embedder": emb,
                    "transform": tr,
                    "n": len(h),
                    "max_error_mean": h.max_error.mean(),
                    "max_error_worst": h.max_error.max(),
                    "rms_error_mean": h.rms_error.mean(),
                    "slope_spearman_mean": h.slope_spearman.mean(),
                    "n_degenerate": int(h.degenerate.sum()),
                }
            )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def analyze_run(run_dir: str | os.PathLike) -> Any:
    """Full ground-truth errors of a ``model=pacing_gt`` run directory.

    Reads ``records.parquet`` and each record's ``spf/*.npz``; the designed progress is
    recomputed from the record's ``metadata`` (transform, profile, stills) at the positions the
    video was rendered at (``positions`` in the npz), so retimed iterations are scored against
    the progress they actually show.

    Args:
        run_dir: a run directory of ``bench/run.py model=pacing_gt`` (or
            ``experiment=pacing_gt``).

    Returns:
        ``pandas.DataFrame``: one row per ok record with ``embedder, retime, seq_id, iteration,
        transform, profile, max_error, rms_error, slope_spearman, linearity_score``.

    Raises:
        FileNotFoundError: if the run directory has no ``records.parquet``.
        ValueError: if its records are not from ``model=pacing_gt``.
    """
    run_dir = Path(run_dir)
    df = pd.read_parquet(run_dir / "records.parquet")
    ok = df[df.status == "ok"]
    if len(ok) and not (ok.model == PacingGTGenerator.name).all():
        raise ValueError(f"{run_dir} holds records of {sorted(set(ok.model))}, not pacing_gt")
    out = []
    for r in ok.itertuples():
        meta = json.loads(r.metadata or "{}")
        spec = spec_from_extra(meta)
        with np.load(run_dir / r.spf_path) as npz:
            s, pos = npz["progress"], npz["positions"]
        errs = (
            gt_errors(s, designed_progress(spec, int(r.n_frames), pos))
            if not r.degenerate
            else dict.fromkeys(("max_error", "rms_error", "slope_spearman"), math.nan)
        )
        out.append(
            {
                "embedder": r.embedder,
                "retime": r.retime,
                "seq_id": r.item_id,
                "iteration": int(r.iteration),
                "transform": spec.transform,
                "profile": spec.profile,
                **errs,
                "linearity_score": r.linearity_score,
            }
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------ output
def write_outputs(
    res: PacingGTResult, out_dir: str | os.PathLike, curves_path: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write ``pacing_gt.csv``, ``pacing_gt_summary.csv`` / ``.md`` (atomically) and the curves.

    Args:
        res: the result of :func:`run_pacing_gt`.
        out_dir: folder of the tables (created).
        curves_path: npz of every curve (keys as :attr:`PacingGTResult.curves`, ``/`` kept),
            plus ``skipped`` and ``settings`` (JSON strings); ``None`` writes none.

    Returns:
        ``{"rows": path, "summary": path, "summary_md": path[, "curves": path]}``.
    """
    out_dir = Path(out_dir)
    rows = pd.DataFrame(res.rows).drop(columns=["seconds"], errors="ignore")
    summary = summarise(res.rows)
    paths = {
        "rows": atomic_write_text(out_dir / "pacing_gt.csv", rows.to_csv(index=False)),
        "summary": atomic_write_text(
            out_dir / "pacing_gt_summary.csv", summary.to_csv(index=False)
        ),
    }
    skipped = "".join(f"- `{k}` skipped: {v}\n" for k, v in res.skipped.items())
    md = (
        "# Ground-truth pacing benchmark\n\n"
        "Measured SPF `S` against the designed progress `P` (rotation angle, log zoom scale, "
        "crossfade weight; `bench/studies/pacing_gt.py`). Errors are fractions of the total "
        "progress; "
        "`slope_spearman` is Spearman's rho of the per-frame slopes of `S` and `P`. "
        f"{len(set(rows.seq_id)) if len(rows) else 0} sequences per embedder.\n\n"
        + markdown_table(summary)
        + ("\n" + skipped if skipped else "")
    )
    paths["summary_md"] = atomic_write_text(out_dir / "pacing_gt_summary.md", md)
    if curves_path is not None:
        paths["curves"] = atomic_savez(
            curves_path,
            skipped=np.array(json.dumps(res.skipped)),
            settings=np.array(json.dumps(res.settings)),
            **res.curves,
        )
    return paths


def read_outputs(
    out_dir: str | os.PathLike, curves_path: str | os.PathLike | None = None
) -> PacingGTResult:
    """Read back what :func:`write_outputs` wrote (rows, curves, skipped embedders, settings).

    Args:
        out_dir: folder holding ``pacing_gt.csv``.
        curves_path: the curves npz (default ``out_dir / "pacing_gt_curves.npz"``).

    Returns:
        :class:`PacingGTResult` equal to the written one but for the rows' ``seconds``
        (not written); floats round-trip exactly through the CSV.

    Raises:
        FileNotFoundError: if the table or the curves npz is missing.
    """
    out_dir = Path(out_dir)
    curves_path = Path(curves_path) if curves_path is not None else out_dir / CURVES_FILE
    for path in (out_dir / "pacing_gt.csv", curves_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `spf-bench study pacing_gt --out {out_dir} "
                f"--curves {curves_path}` first"
            )
    rows = pd.read_csv(
        out_dir / "pacing_gt.csv",
        dtype={"embedder": str, "seq_id": str, "transform": str, "profile": str, "stills": str},
    )
    res = PacingGTResult(rows=rows.to_dict("records"))
    with np.load(curves_path) as npz:
        for key in npz.files:
            if key == "skipped":
                res.skipped = json.loads(str(npz[key]))
            elif key == "settings":
                res.settings = json.loads(str(npz[key]))
            else:
                res.curves[key] = np.asarray(npz[key], dtype=np.float64)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``spf-bench study pacing_gt [--embedders ...] [--out DIR] [--curves NPZ]``.

    ``--window --sigma --lam --power`` set the SPF settings (default: those of
    ``conf/config.yaml``, :class:`spf_bench.metrics.measure.SPFSettings`;
    :func:`spf_bench.bench.cli_common.add_spf_args`, whose ``--keyframe-penalty`` is only
    recorded in the settings: the tables use no keyframes).

    With ``--runs RUN_DIR...`` it analyses ``model=pacing_gt`` run directories instead and prints
    (and writes ``--out``/``pacing_gt_runs.csv``) their full errors.

    Returns:
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="spf-bench study pacing_gt", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--embedders", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--out", default="results", help="folder of the tables")
    parser.add_argument("--curves", default=None, help="npz of every S and P (for figures)")
    parser.add_argument("--n-frames", type=int, default=41)
    parser.add_argument("--size", type=int, default=224)
    add_spf_args(parser)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--cache", default=None, help="embedding cache folder (default: none, embed every time)"
    )
    parser.add_argument("--runs", nargs="+", default=None, help="analyse pacing_gt run dirs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    if args.runs:
        df = pd.concat([analyze_run(r) for r in args.runs], ignore_index=True)
        atomic_write_text(Path(args.out) / "pacing_gt_runs.csv", df.to_csv(index=False))
        print(markdown_table(df))
        return 0
    t0 = time.perf_counter()
    settings = spf_from_args(args)
    res = run_pacing_gt(
        args.embedders, n_frames=args.n_frames, size=args.size, spf=settings, cache_dir=args.cache
    )
    paths = write_outputs(res, args.out, args.curves)
    print(markdown_table(summarise(res.rows)))
    for k, v in res.skipped.items():
        print(f"skipped {k}: {v}")
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
