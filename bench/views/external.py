"""External per-video metrics (``spf-bench leaderboard --external FILE ...``) joined to records
and correlated with the Linearity Score: VBench ``<dim>_eval_results.json``, spf-bench
``vbench.json``, ChronoMagic-Bench MTScore / CHScore / GPT4o-MTScore JSON, ``{video: {metric:
value}}`` JSON and ``video,metric,value`` CSV. Formats and join rules (unmatched, ambiguous,
invalid and duplicate ids are reported, never dropped): ``bench/views/README.md``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from spf_bench.bench.results.stats import N_RESAMPLES, final_records
from spf_bench.bench.views.load import EXT_PREFIX, dim_name, vbench_json_scores
from spf_bench.metrics.vbench.registry import DIMENSIONS

__all__ = [
    "ExternalJoin",
    "ExternalScores",
    "external_metrics",
    "join_external",
    "load_external",
    "spearman_ci",
]


def _rank_corr_rows(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of ``xs``, ``ys`` (``(B, n)``): Pearson's correlation of
    the average ranks (ties get their mean rank, as :func:`scipy.stats.spearmanr`); NaN for a
    row where either side is constant."""
    rx, ry = (
        r - r.mean(axis=1, keepdims=True) for r in (rankdata(xs, axis=1), rankdata(ys, axis=1))
    )
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    num = (rx * ry).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def spearman_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """Spearman rank correlation of paired values and its percentile bootstrap CI.

    :func:`scipy.stats.spearmanr` on the pairs where both values are finite; the CI takes the
    ``(1 -/+ level) / 2`` quantiles of rho over ``n_resamples`` resamples of those pairs
    (``numpy.random.default_rng(seed)``; ties by average rank; resamples with a constant side
    left out). Percentile, not BCa: rho is bounded and its resamples are full of ties.

    Args:
        x, y: ``(n,)`` paired values (e.g. a metric and the Linearity Score of the same videos).
        level: confidence level in (0, 1).
        n_resamples: bootstrap resamples (>= 1).
        seed: bootstrap seed.

    Returns:
        ``(rho, ci_low, ci_high, n)``, ``n`` the finite pairs; NaN rho and CI when ``n < 3`` or a
        side is constant; ``(1, 1, 1, n)`` (or -1) for a perfectly monotone relation.

    Raises:
        ValueError: ``x`` and ``y`` differ in length, ``level`` not in (0, 1), ``n_resamples < 1``.
    """
    a, b = (np.asarray(v, dtype=np.float64).ravel() for v in (x, y))
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan, math.nan, math.nan, n
    rho = float(spearmanr(a, b).statistic)
    rng = np.random.default_rng(seed)
    chunks = []
    batch = max(1, 2_000_000 // n)  # bound memory: ~16 MB per array
    for start in range(0, int(n_resamples), batch):
        idx = rng.integers(0, n, size=(min(batch, int(n_resamples) - start), n))
        chunks.append(_rank_corr_rows(a[idx], b[idx]))
    rs = np.concatenate(chunks)
    rs = rs[np.isfinite(rs)]
    if not rs.size:
        return rho, math.nan, math.nan, n
    lo, hi = np.quantile(rs, [(1 - level) / 2, (1 + level) / 2])
    return rho, float(lo), float(hi), n


@dataclass
class ExternalScores:
    """Per-video values of one external file (:func:`load_external`).

    Attributes:
        path: the file, as given.
        format: what it was read as (e.g. ``"VBench eval_results"``, ``"ChronoMagic-Bench
            MTScore"``, ``"CSV video,metric,value"``).
        values: ``(video id, metric, value as written)`` triples, in file order.
    """

    path: str
    format: str
    values: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """The metrics of the file, sorted."""
        return sorted({m for _, m, _ in self.values})


@dataclass
class ExternalJoin:
    """The outcome of :func:`join_external` (each problem entry names ``file``, ``video`` and
    ``metric``).

    Attributes:
        files: per file ``{"path", "format", "metrics", "n_values", "n_matched"}``.
        unmatched: ids that name no record.
        ambiguous: ids that name several records (``candidates``: their labels).
        invalid: values that are not finite numbers (``value``).
        duplicates: values that replaced an earlier one for the same record (``record``).
        correlations: metric -> ``{"n", "rho", "ci_low", "ci_high"}`` (:func:`spearman_ci`
            against ``linearity_score`` over every matched record).
    """

    files: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    correlations: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (schema ``spf-bench/external/1``)."""
        d = asdict(self)
        corr = {"correlations_with_linearity": d.pop("correlations")}
        return {"schema": "spf-bench/external/1", "files": d.pop("files"), **corr, **d}

    def problem_lines(self, limit: int = 50) -> list[str]:
        """One line per file and kind of problem, naming up to ``limit`` video ids."""
        out = []
        for kind, rows in (
            ("match no record", self.unmatched),
            ("name several records (ambiguous, not joined)", self.ambiguous),
            ("have no numeric value (invalid, not joined)", self.invalid),
            ("were given twice for one record (the later value kept)", self.duplicates),
        ):
            by_file: dict[str, list[str]] = {}
            for r in rows:
                by_file.setdefault(r["file"], []).append(f"{r['video']} ({r['metric']})")
            for f, ids in by_file.items():
                more = f" ... and {len(ids) - limit} more" if len(ids) > limit else ""
                out.append(f"{f}: {len(ids)} video id(s) {kind}: {', '.join(ids[:limit])}{more}")
        return out


def _scalar(v: Any) -> float | None:
    """A per-video value as a finite float (booleans 0/1, numeric strings parsed), else None."""
    if not isinstance(v, (str, int, float, np.integer, np.floating, np.bool_)):
        return None
    try:
        x = float(v.strip() if isinstance(v, str) else v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _vbench_eval_results(data: dict[str, Any]) -> list[tuple[str, str, Any]] | None:
    """VBench's ``{dim: [aggregate, [{"video_path", "video_results"}, ...]]}``, values brought
    to the aggregate's scale (registry); ``None`` when ``data`` is not that shape."""
    if not data or not all(
        isinstance(v, list)
        and len(v) == 2
        and isinstance(v[1], list)
        and all(isinstance(e, dict) and "video_path" in e and "video_results" in e for e in v[1])
        for v in data.values()
    ):
        return None
    out = []
    for dim, (_, videos) in data.items():
        scale = DIMENSIONS[dim].per_video_scale if dim in DIMENSIONS else 1.0
        for e in videos:
            x = _scalar(e["video_results"])
            value = e["video_results"] if x is None else x * scale
            out.append((str(e["video_path"]), f"vbench_{dim_name(dim)}", value))
    return out


def _parse_external_json(data: Any, path: str) -> tuple[str, list[tuple[str, str, Any]]]:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    vids = data.get("video_scores")
    if isinstance(vids, list) and all(
        isinstance(e, dict) and "video_name" in e and "metamorphic_score" in e for e in vids
    ):
        vals = [(str(e["video_name"]), "mtscore", e["metamorphic_score"]) for e in vids]
        return "ChronoMagic-Bench MTScore", vals
    alls = data.get("all_scores")
    if isinstance(alls, list) and all(isinstance(e, dict) and len(e) == 1 for e in alls):
        vals = []
        for e in alls:
            ((video, scores),) = e.items()
            v = scores.get("TSI_score") if isinstance(scores, dict) else None
            vals.append((str(video), "chscore", v))
        return "ChronoMagic-Bench CHScore", vals
    fmt = data.get("Formatted Data")
    if isinstance(fmt, dict) and all(isinstance(e, dict) for e in fmt.values()):
        vals = [(str(video), "gpt4o_mtscore", e.get("Score")) for video, e in fmt.items()]
        return "ChronoMagic-Bench GPT4o-MTScore", vals
    vb = _vbench_eval_results(data)
    if vb is not None:
        return "VBench eval_results", vb
    wrapped = next(
        (data[k] for k in ("videos", "per_video") if isinstance(data.get(k), dict)), None
    )
    if wrapped is not None or str(data.get("schema", "")).startswith("spf-bench/vbench"):
        per = vbench_json_scores(wrapped or {}).items()
        vals = [(video, f"vbench_{d}", v) for video, scores in per for d, v in scores.items()]
        return "spf-bench vbench.json", vals
    if data and all(isinstance(e, dict) for e in data.values()):
        vals = [(str(video), dim_name(m), v) for video, e in data.items() for m, v in e.items()]
        return "JSON {video: {metric: value}}", vals
    raise ValueError(
        f"{path}: not a recognised per-video format (VBench <dim>_eval_results.json, spf-bench "
        "vbench.json, ChronoMagic-Bench *_MTScore.json / *_CHScore.json / "
        "*_GPT4o-MTScore.json, {video: {metric: value}}, or a CSV video,metric,value)"
    )


def load_external(path: str | os.PathLike) -> ExternalScores:
    """Read one external per-video metric file (formats: module docs).

    Args:
        path: a ``.csv`` (header ``video,metric,value``) or a JSON file.

    Returns:
        :class:`ExternalScores` with the values as written (converted when joined).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: unreadable JSON/CSV, a CSV without the columns ``video``, ``metric`` and
            ``value``, or a JSON shape that is none of the supported formats.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"external metric file not found: {p}")
    if p.suffix.lower() == ".csv":
        with p.open(newline="") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            if not {"video", "metric", "value"} <= set(cols):
                raise ValueError(
                    f"{p}: a CSV of external metrics needs the header video,metric,value; "
                    f"got {reader.fieldnames}"
                )
            vals = [
                (str(r[cols["video"]]).strip(), dim_name(r[cols["metric"]]), r[cols["value"]])
                for r in reader
            ]
        return ExternalScores(str(path), "CSV video,metric,value", vals)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{p}: unreadable JSON: {e}") from e
    fmt, vals = _parse_external_json(data, str(path))
    return ExternalScores(str(path), fmt, vals)


def _video_index(df: pd.DataFrame) -> tuple[dict[str, dict[str, set[int]]], dict[int, str]]:
    """Lookup tables video key -> record positions, by rule (module docs), and a label per
    record for messages."""
    by: dict[str, dict[str, set[int]]] = {"path": {}, "name": {}, "stem": {}, "item": {}}
    label: dict[int, str] = {}
    blank = pd.Series("", index=df.index)
    runs, vps = (df.get(c, blank).fillna("").astype(str) for c in ("run_dir", "video_path"))
    items = df["item_id"].astype(str)
    for pos, (rd, vp, item, it) in enumerate(zip(runs, vps, items, df["iteration"], strict=True)):
        label[pos] = f"{rd + ':' if rd else ''}{vp or f'{item}@it{int(it)}'}"
        if vp:
            by["path"].setdefault(vp, set()).add(pos)
            full = Path(rd) / vp if rd else Path(vp)
            by["path"].setdefault(str(full.resolve()), set()).add(pos)
            by["name"].setdefault(Path(vp).name, set()).add(pos)
            by["stem"].setdefault(Path(vp).stem, set()).add(pos)
    fin = final_records(df.assign(_pos=np.arange(len(df))))
    for item, pos in zip(fin["item_id"].astype(str), fin["_pos"], strict=True):
        by["item"].setdefault(item, set()).add(int(pos))
    return by, label


def _lookup(video: str, by: dict[str, dict[str, set[int]]]) -> set[int]:
    """Record positions a video id names: the first rule with a candidate decides."""
    p = Path(video)
    stages = (
        by["path"].get(video, set()) | by["path"].get(str(p.expanduser().resolve()), set()),
        by["name"].get(p.name, set()),
        by["stem"].get(p.name, set()) | by["stem"].get(p.stem, set()),
        by["item"].get(video, set()) | by["item"].get(p.stem, set()),
    )
    return next((c for c in stages if c), set())


def join_external(
    records: pd.DataFrame,
    sources: Sequence[ExternalScores],
    *,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> tuple[pd.DataFrame, ExternalJoin]:
    """Join external per-video metrics to records, reporting every id that does not join.

    Args:
        records: records (:func:`spf_bench.bench.views.load.load_records`).
        sources: files read by :func:`load_external`, in argument order (a later value for the
            same record and metric replaces an earlier one, and is listed as a duplicate).
        seed, n_resamples: bootstrap of the correlations (:func:`spearman_ci`).

    Returns:
        ``(records with ext_<metric> columns (float, NaN where no value), ExternalJoin)``;
        ``records.attrs`` are kept.
    """
    df = records.copy().reset_index(drop=True)
    by, label = _video_index(df)
    values: dict[str, np.ndarray] = {}
    rep = ExternalJoin()
    for src in sources:
        matched = 0
        for video, metric, raw in src.values:
            hit = _lookup(video, by)
            entry = {"file": src.path, "video": video, "metric": metric}
            if not hit:
                rep.unmatched.append(entry)
                continue
            if len(hit) > 1:
                rep.ambiguous.append({**entry, "candidates": sorted(label[h] for h in hit)})
                continue
            x = _scalar(raw)
            if x is None:
                rep.invalid.append({**entry, "value": raw if raw is None else str(raw)})
                continue
            (pos,) = hit
            col = values.setdefault(metric, np.full(len(df), np.nan))
            if np.isfinite(col[pos]):
                rep.duplicates.append({**entry, "record": label[pos]})
            col[pos] = x
            matched += 1
        info = {"path": src.path, "format": src.format, "metrics": src.metrics}
        rep.files.append(info | {"n_values": len(src.values), "n_matched": matched})
    lin = df["linearity_score"].to_numpy(np.float64)
    for metric in sorted(values):
        df[EXT_PREFIX + metric] = values[metric]
        rho, lo, hi, n = spearman_ci(values[metric], lin, seed=seed, n_resamples=n_resamples)
        rep.correlations[metric] = {"n": n, "rho": rho, "ci_low": lo, "ci_high": hi}
    df.attrs = dict(records.attrs)
    return df, rep


def external_metrics(df: pd.DataFrame) -> list[str]:
    """External metrics (``ext_<metric>`` columns, :func:`join_external`) with at least one
    value in ``df`` (sorted, without the prefix)."""
    return sorted(
        c[len(EXT_PREFIX) :]
        for c in df.columns
        if c.startswith(EXT_PREFIX) and np.isfinite(df[c].to_numpy(np.float64)).any()
    )
