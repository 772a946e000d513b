"""The spf-bench leaderboard: one row per model x retime x embedder x pacing x seed x config
hash (``--pool-seeds``: seeds pooled per settings hash), each item scored by its final record
(:mod:`spf_bench.bench.results.stats`), with 95% BCa bootstrap CIs, the paired gain over
iteration 0, held-out embedders, VBench dimensions and ``--external`` metrics.

    spf-bench leaderboard 'runs/*' [--out results/leaderboard.csv] [--seed 0] [--pool-seeds]
    spf-bench leaderboard 'runs/*' --external vbench_eval_results.json mtscore.json x.csv

Writes the CSV (``--out``, every :data:`COLUMNS`), its Markdown (``.md``) and
``leaderboard.html`` beside it, atomically. Row identity, pooling, statistics and columns:
``bench/views/README.md``, section Leaderboard.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.config import identity_difference
from spf_bench.bench.results.record import LEGACY_ESTIMATOR
from spf_bench.bench.results.stats import (
    N_RESAMPLES,
    bootstrap_ci,
    failed_items,
    final_records,
    heldout_column,
    heldout_embedders,
    mean,
    paired_gain,
    std,
)
from spf_bench.bench.views.external import (
    ExternalJoin,
    external_metrics,
    join_external,
    load_external,
    spearman_ci,
)
from spf_bench.bench.views.load import (
    EXT_PREFIX,
    FRECHET_PREFIX,
    GROUP_KEYS,
    VBENCH_PREFIX,
    load_records,
    vbench_dimensions,
)
from spf_bench.bench.views.render import render, suffixed
from spf_bench.bench.views.report import write_leaderboard_html
from spf_bench.metrics.atomic_io import atomic_write_json, atomic_write_text
from spf_bench.metrics.vbench import verdict_table

__all__ = [
    "COLUMNS",
    "POOLED_KEYS",
    "ROW_KEYS",
    "build_leaderboard",
    "grouping_notes",
    "main",
    "render_markdown",
    "write_leaderboard",
]

#: The key of a row by default: the setting names, the seed and the run identity hash.
ROW_KEYS: tuple[str, ...] = (*GROUP_KEYS, "seed", "config_hash")
#: The key of a row with ``--pool-seeds``: the setting names and the identity without seed.
POOLED_KEYS: tuple[str, ...] = (*GROUP_KEYS, "settings_hash")

#: The leaderboard's fixed columns, in order (meanings: ``bench/views/README.md``).
COLUMNS: tuple[str, ...] = tuple(
    """
    model retime embedder pacing estimator seed config_hash settings_hash n_per_seed n_runs n
    n_failed n_degenerate final_iteration linearity_mean linearity_std linearity_ci_low
    linearity_ci_high max_jump_mean max_deviation_mean total_change_mean target_deviation_mean
    rms_s_vs_designed_mean n_paired baseline_linearity_mean delta_linearity
    delta_linearity_ci_low delta_linearity_ci_high heldout_embedders heldout_linearity
    heldout_delta heldout_delta_ci_low heldout_delta_ci_high git_shas
    """.split()
)


#: Per-record metrics whose mean over the final records is a column ``<metric>_mean``.
_MEAN_COLS = ("max_jump", "max_deviation", "total_change", "target_deviation", "rms_s_vs_designed")


def _count(vals: np.ndarray) -> int:
    """Finite values in ``vals``."""
    return int(np.isfinite(vals).sum())


def _joined(values: Iterable[Any]) -> str:
    """Distinct non-empty values, sorted (numbers numerically), ``+``-joined."""
    vals = {v for v in values if str(v) != ""}
    return "+".join(
        str(v) for v in sorted(vals, key=lambda v: (not isinstance(v, (int, np.integer)), v))
    )


def _n_per_seed(fin: Any, ok: Any) -> str:
    counts = ok.groupby("seed").size().to_dict() if len(ok) else {}
    return " ".join(f"{int(s)}:{int(counts.get(s, 0))}" for s in sorted(set(fin.seed)))


def _verdict_word(value: Any) -> str:
    """``within_one_std`` as ``yes`` / ``no`` / ``""`` (no verdict)."""
    return "" if value is None else ("yes" if value else "no")


def _fidelity_cells(g_all: Any, fidelity: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict:
    """The Fréchet columns of a row from its run directories' ``vbench.json`` verdict rows
    (one run directory per row; a row pooled over several has none)."""
    runs = {str(r) for r in g_all.run_dir if str(r)}
    if len(runs) != 1:
        return {}
    first = g_all.iloc[0]
    out: dict[str, Any] = {}
    for v in fidelity.get(runs.pop(), []):
        if any(str(v.get(k)) != str(first[k]) for k in GROUP_KEYS):
            continue
        col = FRECHET_PREFIX + str(v["dimension"]).removeprefix(FRECHET_PREFIX)
        retimed = int(v.get("n_retimed") or 0) > 0
        out[f"{col}_baseline"] = v["original_mean"]
        out[f"{col}_baseline_std"] = v["original_std"]
        out[f"{col}_mean"] = v["retimed_mean"] if retimed else v["original_mean"]
        out[f"{col}_std"] = v["retimed_std"] if retimed else v["original_std"]
        out[f"{col}_within_1sd"] = _verdict_word(v.get("within_one_std"))
    return out


def _group_row(
    g_all: Any,
    vbench_dims: list[str],
    ext_metrics: list[str],
    seed: int,
    n_resamples: int,
    fidelity: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    ok = final_records(g_all)
    ls = ok.linearity_score.to_numpy(np.float64)
    lo, hi = bootstrap_ci(ls, seed=seed, n_resamples=n_resamples)
    gain = paired_gain(g_all)
    dlo, dhi = gain.ci(seed=seed, n_resamples=n_resamples)
    # held-out: the same videos scored by the embedders that did not guide the retime
    hgain = paired_gain(g_all, heldout_column(g_all))
    hdlo, hdhi = hgain.ci(seed=seed, n_resamples=n_resamples)
    fin = pd.concat([ok, failed_items(g_all)])  # every item's last record: seeds, hashes
    first = g_all.iloc[0]
    row: dict[str, Any] = {k: first[k] for k in GROUP_KEYS}
    row["estimator"] = _joined(fin.estimator)
    row |= dict(seed=_joined(int(v) for v in fin.seed), config_hash=_joined(fin.config_hash))
    row |= dict(settings_hash=_joined(fin.settings_hash), n_per_seed=_n_per_seed(fin, ok))
    row |= dict(n_runs=len({str(r) for r in g_all.run_dir if str(r)}), n=len(ok))
    row |= dict(n_failed=len(failed_items(g_all)))
    row |= dict(n_degenerate=int(ok.degenerate.astype(bool).sum()))
    row |= dict(final_iteration=int(ok.iteration.max()) if len(ok) else -1)
    row |= dict(linearity_mean=mean(ls), linearity_std=std(ls))
    row |= dict(linearity_ci_low=lo, linearity_ci_high=hi)
    row |= {f"{c}_mean": mean(ok[c]) for c in _MEAN_COLS}
    row |= dict(n_paired=gain.n, baseline_linearity_mean=mean(gain.baseline))
    row |= dict(delta_linearity=gain.mean, delta_linearity_ci_low=dlo, delta_linearity_ci_high=dhi)
    row |= dict(heldout_embedders="+".join(heldout_embedders(g_all)))
    row |= dict(heldout_linearity=mean(heldout_column(ok)), heldout_delta=hgain.mean)
    row |= dict(heldout_delta_ci_low=hdlo, heldout_delta_ci_high=hdhi)
    row["git_shas"] = "+".join(sorted({str(h) for h in fin.git_sha if str(h)}))
    judged = [d for d in vbench_dims if VBENCH_PREFIX + d in g_all]
    verdicts = verdict_table(g_all, judged) if judged and len(ok) else []
    by_dim = {v["dimension"]: v["within_one_std"] for v in verdicts}
    for dim in vbench_dims:
        col = VBENCH_PREFIX + dim
        vals = ok[col].to_numpy(np.float64) if col in ok else np.array([])
        row |= {f"{col}_mean": mean(vals), f"{col}_std": std(vals), f"{col}_n": _count(vals)}
        row[f"{col}_within_1sd"] = _verdict_word(by_dim.get(dim))
    row |= _fidelity_cells(g_all, fidelity or {})
    for m in ext_metrics:
        col = EXT_PREFIX + m
        vals = ok[col].to_numpy(np.float64) if col in ok else np.full(len(ok), np.nan)
        rho, rlo, rhi, _ = spearman_ci(vals, ls, seed=seed, n_resamples=n_resamples)
        row |= {f"{col}_mean": mean(vals), f"{col}_n": _count(vals), f"{col}_rho": rho}
        row |= {f"{col}_rho_ci_low": rlo, f"{col}_rho_ci_high": rhi}
    return row


def _prepared(records: Any) -> Any:
    """A copy of ``records`` with every column the leaderboard reads (missing ones filled:
    NaN scores, ``seed`` -1, empty hashes, ``settings_hash`` = ``config_hash``, ``estimator``
    ``paper``: records from before ``spf.estimator`` existed)."""
    need = [*GROUP_KEYS, "item_id", "iteration", "status", "linearity_score"]
    missing = [c for c in need if c not in records]
    if missing:
        raise ValueError(f"records lack column(s) {missing}")
    df = records.assign(**{c: np.nan for c in _MEAN_COLS if c not in records})
    if "degenerate" not in df:
        df["degenerate"] = False
    for col in ("config_hash", "git_sha", "run_dir"):
        df[col] = df[col].fillna("").astype(str) if col in df else ""
    est = df["estimator"].fillna("").astype(str) if "estimator" in df else ""
    df["estimator"] = pd.Series(est, index=df.index).replace("", LEGACY_ESTIMATOR)
    seed = pd.to_numeric(df["seed"], errors="coerce") if "seed" in df else pd.Series(-1, df.index)
    df["seed"] = seed.fillna(-1).astype(int)
    df["settings_hash"] = df.get("settings_hash", df["config_hash"]).fillna("").astype(str)
    return df


def build_leaderboard(
    records: Any, *, seed: int = 0, n_resamples: int = N_RESAMPLES, pool_seeds: bool = False
) -> Any:
    """The leaderboard table from records (columns: ``bench/views/README.md``).

    Args:
        records: ``pandas.DataFrame`` of records (:func:`load_records`, optionally with the
            ``ext_*`` columns of :func:`join_external`), at least :data:`GROUP_KEYS`,
            ``item_id``, ``iteration``, ``status`` and ``linearity_score`` (no ``seed``: -1;
            no ``config_hash``: ``""``; no ``settings_hash``: the config hash).
        seed, n_resamples: bootstrap seed and resamples.
        pool_seeds: one row per :data:`POOLED_KEYS` instead of one per :data:`ROW_KEYS`.

    Returns:
        ``pandas.DataFrame``: :data:`COLUMNS`, ``vbench_<dim>_{mean,std,n,within_1sd}``
        (``within_1sd``: the paper's verdict, :func:`spf_bench.metrics.vbench.verdict_table`,
        ``yes`` / ``no`` / ``""``), ``frechet_<embedder>_{baseline,baseline_std,mean,std,
        within_1sd}`` (the offline Fréchet fidelity of the row's run directory, from
        ``records.attrs["fidelity"]``; ``mean`` is the final records' distance), then
        ``ext_<metric>_{mean,n,rho,rho_ci_low,rho_ci_high}``; one row per key, sorted by it.

    Raises:
        ValueError: if a required column is missing.
    """
    fidelity = dict(getattr(records, "attrs", {}).get("fidelity") or {})
    df = _prepared(records)
    dims = vbench_dimensions(df)
    ext = external_metrics(df)
    keys = list(POOLED_KEYS if pool_seeds else ROW_KEYS)
    rows = [
        _group_row(g, dims, ext, seed, n_resamples, fidelity)
        for _, g in df.groupby(keys, sort=True)
    ]
    vstats = ("mean", "std", "n", "within_1sd")
    cols = list(COLUMNS) + [f"{VBENCH_PREFIX}{d}_{s}" for d in dims for s in vstats]
    fstats = ("baseline", "baseline_std", "mean", "std", "within_1sd")
    fds = sorted(
        {
            k.removesuffix("_within_1sd")
            for r in rows
            for k in r
            if k.startswith(FRECHET_PREFIX) and k.endswith("_within_1sd")
        }
    )
    cols += [f"{f}_{s}" for f in fds for s in fstats]
    stats = ("mean", "n", "rho", "rho_ci_low", "rho_ci_high")
    cols += [f"{EXT_PREFIX}{m}_{s}" for m in ext for s in stats]
    return pd.DataFrame(rows, columns=cols)


def grouping_notes(
    records: Any,
    *,
    pool_seeds: bool = False,
    identities: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """What each leaderboard row groups, and which settings were kept apart (one line each).

    Args:
        records, pool_seeds: as given to :func:`build_leaderboard`.
        identities: config hash -> run identity (default ``records.attrs["identities"]``), to
            name what differs between settings.

    Returns:
        Per row its seed(s), config hash(es) and run directories; per model x retime x
        embedder x pacing with several settings, the identity keys that differ; with
        ``pool_seeds``, the runs without an identity file.
    """
    df, attrs = _prepared(records), getattr(records, "attrs", {})
    identities = attrs.get("identities", {}) if identities is None else identities
    keys = list(POOLED_KEYS if pool_seeds else ROW_KEYS)
    lines = []
    for key, g in df.groupby(keys, sort=True):
        name = " / ".join(map(str, key[: len(GROUP_KEYS)]))
        runs = sorted({str(r) for r in g.run_dir if str(r)})
        where = f"{len(runs)} run dir(s): {', '.join(runs)}" if runs else "no run dir recorded"
        pairs = sorted({(int(s), str(h)) for s, h in zip(g.seed, g.config_hash, strict=True)})
        s, h = pairs[0]
        what = f"seed {s}, config {h or '?'}"
        if pool_seeds and len(pairs) > 1:
            per = ", ".join(f"seed {s} = config {h or '?'}" for s, h in pairs)
            what = f"POOLED (--pool-seeds, settings {key[-1] or '?'}): {per}"
        lines.append(f"{name}: {what}; {where}")
    for key, g in df.groupby(list(GROUP_KEYS), sort=True):
        settings = sorted({str(h) for h in g.settings_hash})
        if len(settings) < 2:
            continue
        name = " / ".join(map(str, key))
        line = f"{name}: {len(settings)} different settings kept as separate rows "
        line += f"(settings hashes {', '.join(settings)})"
        by_setting: dict[str, Mapping[str, Any]] = {}
        for h, sh in zip(g.config_hash, g.settings_hash, strict=True):
            if str(h) in identities:
                by_setting.setdefault(str(sh), identities[str(h)])
        if len(by_setting) >= 2:
            (a_sh, a), *rest = sorted(by_setting.items())
            for b_sh, b in rest:
                diff = [x for x in identity_difference(a, b) if not x.startswith("config.seed:")]
                line += f"; {a_sh} -> {b_sh}: " + ("; ".join(diff[:8]) or "no difference found")
                if len(diff) > 8:
                    line += f"; ... ({len(diff) - 8} more)"
        lines.append(line)
    why = "no identity.json (or config.json identity): its seeds were not pooled"
    return lines + ([f"{d}: {why}" for d in attrs.get("no_identity", [])] if pool_seeds else [])


def render_markdown(
    lb: Any,
    *,
    title: str = "spf-bench leaderboard",
    sources: str = "",
    notes: Sequence[str] = (),
    external: ExternalJoin | None = None,
) -> str:
    """The leaderboard's readable Markdown page (template ``leaderboard.md.j2``).

    Args:
        lb: the output of :func:`build_leaderboard`.
        title: heading.
        sources: optional line naming the runs.
        notes: lines of :func:`grouping_notes` (a "What each row groups" section).
        external: the :class:`ExternalJoin` of ``--external`` (correlations, ids not joined).

    Returns:
        The Markdown page: title, sources, the table, its legend and the notes.
    """
    ctx = dict(title=title, sources=sources, rows=lb.to_dict("records"), notes=notes)
    ctx |= dict(pooled=any("+" in str(v) for v in lb.get("seed", [])), external=external)
    ctx |= dict(dims=suffixed(lb, VBENCH_PREFIX, "_mean"), ext=suffixed(lb, EXT_PREFIX, "_rho"))
    ctx |= dict(fds=suffixed(lb, FRECHET_PREFIX, "_within_1sd"))
    problems = external.problem_lines() if external is not None else []
    return render("leaderboard.md.j2", **ctx, problems=problems)


def write_leaderboard(
    lb: Any,
    out: str | os.PathLike,
    *,
    sources: str = "",
    notes: Sequence[str] = (),
    external: ExternalJoin | None = None,
) -> tuple[Path, Path]:
    """Write ``out`` (CSV, full precision) and ``out`` with suffix ``.md``, atomically; with
    ``external``, also ``<out stem>.external.json`` (:meth:`ExternalJoin.as_dict`: every id
    that did not join, and the correlations). Returns the CSV and Markdown paths."""
    out = Path(out)
    csv = atomic_write_text(out, lb.to_csv(index=False))
    text = render_markdown(lb, sources=sources, notes=notes, external=external)
    md = atomic_write_text(out.with_suffix(".md"), text)
    if external is not None:
        atomic_write_json(out.with_suffix(".external.json"), external.as_dict())
    return csv, md


def main(argv: Sequence[str] | None = None) -> int:
    """``spf-bench leaderboard`` (module docs): build and write the leaderboard of the runs.

    Args:
        argv: the command line after ``leaderboard`` (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 2 when no records are found or an ``--external`` file is missing or
        unreadable (one line on stderr; unmatched video ids are reported, not errors).
    """
    desc = "Leaderboard CSV + Markdown + HTML from runs."
    parser = argparse.ArgumentParser(prog="spf-bench leaderboard", description=desc)
    parser.add_argument("runs", nargs="+", help="run directories, records.parquet files or globs")
    parser.add_argument("--out", default="results/leaderboard.csv", help="CSV path (.md beside)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples")
    pool = "one row per setting with every seed pooled (n per seed shown); default: one row "
    parser.add_argument("--pool-seeds", action="store_true", help=pool + "per seed and config hash")
    ext = "per-video metric files to join (VBench eval_results JSON, ChronoMagic-Bench "
    ext += "MTScore/CHScore/GPT4o-MTScore JSON, or CSV video,metric,value)"
    kw = {"nargs": "+", "action": "extend", "default": [], "metavar": "FILE", "help": ext}
    parser.add_argument("--external", **kw)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        records = load_records(args.runs)
        sources = [load_external(f) for f in args.external]
    except (FileNotFoundError, ValueError) as e:
        print(f"leaderboard: {e}", file=sys.stderr)
        return 2
    joined, boot = None, {"seed": args.seed, "n_resamples": args.resamples}
    if sources:
        records, joined = join_external(records, sources, **boot)
        for line in joined.problem_lines():
            print(f"leaderboard: external: {line}", file=sys.stderr)
    lb = build_leaderboard(records, pool_seeds=args.pool_seeds, **boot)
    notes = grouping_notes(records, pool_seeds=args.pool_seeds)
    for line in notes:
        print(f"leaderboard: {line}")
    runs = sorted(set(records.run_dir))
    line = f"Runs: {', '.join(runs)}"
    csv, md = write_leaderboard(lb, args.out, sources=line, notes=notes, external=joined)
    html = write_leaderboard_html(lb, Path(args.out).with_suffix(".html"), runs)
    print(render_markdown(lb, external=joined))  # the grouping lines were printed above
    print(f"wrote {csv}, {md} and {html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
