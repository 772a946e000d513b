"""HTML reports: ``<run_dir>/report.html`` for a run, ``leaderboard.html`` for a leaderboard.

Read-only; both pages open from disk with no network (Jinja2 templates, inline matplotlib SVG
charts, one small sorting script). A run's report: provenance, summary (per-iteration table,
final Linearity and paired gains with CIs, failures) and per item the SPF chart, the baseline
and last-iteration videos side by side, keyframe strips and scores, paged (``--page-size``)
under ``report_assets/``. Layout, cost and measurements: ``bench/views/README.md``.

Command: ``spf-bench report RUN_DIR [RUN_DIR ...] [--page-size N]`` (:func:`add_parser`); exit
status 0, or 2 when an argument is not a readable run directory (one stderr line each, the
other reports still written).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from markupsafe import Markup
from PIL import Image

from spf_bench.bench.results.record import LEGACY_ESTIMATOR, parse_keyframes
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.results.stats import (
    bootstrap_ci,
    final_records,
    heldout_column,
    heldout_embedders,
    mean,
    paired_gain,
    std,
    summarise,
)
from spf_bench.bench.views.load import (
    GROUP_KEYS,
    VBENCH_PREFIX,
    is_dim_column,
    load_records,
    read_run_records,
)
from spf_bench.bench.views.render import render, suffixed
from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text
from spf_bench.metrics.spf import pacing_curve
from spf_bench.metrics.video_io import VideoDecodeError, read_video

log = logging.getLogger("spf_bench")

__all__ = [
    "ASSETS_DIR",
    "PAGE_SIZE",
    "REPORT_NAME",
    "NotARunError",
    "add_parser",
    "page_name",
    "run_command",
    "run_estimator",
    "write_leaderboard_html",
    "write_report",
]

REPORT_NAME = "report.html"
ASSETS_DIR = "report_assets"
#: Items per page of a run's report.
PAGE_SIZE = 16
#: Height of a keyframe thumbnail, pixels.
THUMB_HEIGHT = 72
EXIT_OK, EXIT_BAD_INPUT = 0, 2
_PAGE_RE = re.compile(r"^items-\d{3,}\.html$")
_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_CHART_VERSION = "1"  # bump when _spf_svg draws differently: cached charts are redrawn
#: One S curve of a chart: ``(label, S (T,) in [0, 1], colour, keyframes)``.
Curve = tuple[str, np.ndarray, str, list[int]]


class NotARunError(FileNotFoundError):
    """The directory holds no spf-bench run (no ``records.parquet`` nor ``records/*.json``)."""


def page_name(page: int) -> str:
    """Path of page ``page`` (1-based) relative to the run directory (page 1 is the report)."""
    return REPORT_NAME if page == 1 else f"{ASSETS_DIR}/items-{page:03d}.html"


def _url(rel: str) -> str:
    """A relative POSIX path as a URL (spaces, ``#``, ``%``... percent-encoded)."""
    return quote(rel, safe="/")


def _safe(name: str) -> str:
    return _SAFE_RE.sub("_", name)


def _anchor(item_id: str) -> str:
    return "item-" + _safe(item_id)


# ------------------------------------------------------------------------------------ the run
@dataclass
class _Run:
    root: Path
    config: dict[str, Any]  # config.json: {"config", "config_hash", "git_sha", "versions", ...}
    summary: dict[str, Any]  # summary.json (or computed from the records)
    records: pd.DataFrame  # load_records() of this run (VBench columns merged)
    held: list[str]  # held-out embedders that scored the run (the records' ``heldout`` column)

    @property
    def cfg(self) -> dict[str, Any]:
        return self.config.get("config", {}) if isinstance(self.config, dict) else {}

    def label(self) -> str:
        """``model / retime / embedder / pacing`` (several values ``+``-joined)."""
        r, s = self.records, self.summary
        vals = [sorted({str(v) for v in r[k]}) if k in r and len(r) else [] for k in GROUP_KEYS]
        return " / ".join(
            "+".join(v) or str(s.get(k, "?")) for k, v in zip(GROUP_KEYS, vals, strict=True)
        )


def _load_run(run_dir: str | os.PathLike) -> _Run:
    root, rd = Path(run_dir), RunDir(run_dir)
    if not root.is_dir() or not rd.has_records():
        raise NotARunError(
            f"{run_dir}: not a spf-bench run directory (no records.parquet or records/*.json)"
        )
    records = load_records([root])
    records.attrs = {}  # parquet metadata: pandas deep-copies attrs on every operation
    summary = rd.maybe_summary() or {}
    if not summary.get("per_iteration"):
        summary = {**summarise(records), **summary}
    config = rd.maybe_config() or {}
    return _Run(root, config, summary, records, heldout_embedders(records))


def _spf_svg(
    curves: Sequence[Curve], target: np.ndarray | None, target_label: str, salt: str, title: str
) -> str:
    """``S`` curves (:data:`Curve`: label, S (T,) in [0, 1], colour, keyframes) against the target
    pacing ``(T,)`` as an inline ``<svg>`` (fixed layout: ~0.1 s a chart); ``salt`` makes its
    element ids unique in a page."""
    import matplotlib  # heavy: imported when a chart is drawn
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.1))
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.14, top=0.97)
    ax = fig.subplots()
    n = max(len(s) for _, s, _, _ in curves)
    if target is not None:
        ax.plot(target, color="0.45", ls="--", lw=1.1, label=target_label)
    for label, s, colour, kf in curves:
        ax.plot(s, color=colour, lw=1.7, label=label)
        kf = [k for k in kf if 0 <= k < s.size]
        if kf:
            ax.plot(kf, s[kf], "o", ms=4, color=colour, mec="tab:red", mew=1.0)
    last = max(n - 1, 1)
    xticks = np.unique(np.linspace(0, last, min(last + 1, 6)).round().astype(int))
    ax.set(xlim=(0, last), ylim=(-0.03, 1.03), xticks=xticks, yticks=[0.0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("frame", fontsize=8, labelpad=1)
    ax.set_ylabel("S (share of total change)", fontsize=8, labelpad=2)
    ax.tick_params(labelsize=7, pad=2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    aria = Markup('<svg role="img" aria-label="{}" ').format(title)
    return svg.replace("<svg ", str(aria), 1)


def _chart(
    run: _Run, item_id: str, curves: Sequence[Curve], target: Any, target_label: str, title: str
) -> str:
    """:func:`_spf_svg`, cached in ``report_assets/charts/<item>-<key>.svg``: the key hashes
    every input (curves, keyframes, target, labels), so a rewrite redraws only what changed."""
    h = hashlib.sha1(f"{_CHART_VERSION}|{item_id}|{target_label}|{title}".encode())
    for label, s, colour, kf in curves:
        h.update(f"|{label}|{colour}|{kf}|".encode())
        h.update(np.ascontiguousarray(s, dtype=np.float64).tobytes())
    if target is not None:
        h.update(np.ascontiguousarray(target, dtype=np.float64).tobytes())
    safe = _safe(item_id)
    folder = run.root / ASSETS_DIR / "charts"
    path = folder / f"{safe}-{h.hexdigest()[:12]}.svg"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    svg = _spf_svg(curves, target, target_label, salt=f"spf-bench-{item_id}", title=title)
    atomic_write_text(path, svg)
    old = re.compile(re.escape(safe) + r"-[0-9a-f]{12}\.svg")
    for p in folder.iterdir():
        if p != path and old.fullmatch(p.name):
            p.unlink()
    return svg


def _stale(path: Path, source: Path) -> bool:
    try:
        return path.stat().st_mtime < source.stat().st_mtime
    except FileNotFoundError:
        return True


def _save_jpeg(img: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        img.save(tmp, format="JPEG", quality=82)


def _video_assets(
    run: _Run, video_rel: str, stem: str, keyframes: list[int], thumb_height: int
) -> tuple[str | None, dict[int, str], str]:
    """Poster and ``thumb_height``-pixel keyframe thumbnails of one video under
    ``report_assets/``: ``(poster path or None, {frame: thumbnail path}, note on what is
    missing)``; an undecodable video gives a note, not an error."""
    video = run.root / video_rel if video_rel else None
    if video is None or not video.is_file():
        return None, {}, "no video file" + (f" ({video_rel})" if video_rel else "")
    poster = f"{ASSETS_DIR}/posters/{stem}.jpg"
    thumbs = {k: f"{ASSETS_DIR}/thumbs/{stem}__f{k:05d}.jpg" for k in keyframes if k >= 0}
    stale = [k for k, p in thumbs.items() if _stale(run.root / p, video)]
    new_poster = _stale(run.root / poster, video)
    if not stale and not new_poster:
        return poster, thumbs, ""
    try:
        frames, _ = read_video(video, max_frames=max([*stale, 0]) + 1)
    except (VideoDecodeError, OSError, ValueError) as e:
        return None, {}, f"video unreadable: {e}"
    if new_poster:
        _save_jpeg(Image.fromarray(frames[0]), run.root / poster)
    beyond = {k for k in stale if k >= len(frames)}  # frames were decoded up to max(stale)
    for k in (k for k in stale if k not in beyond):
        img = Image.fromarray(frames[k])
        w = max(1, round(img.width * thumb_height / img.height))
        _save_jpeg(img.resize((w, thumb_height), Image.Resampling.LANCZOS), run.root / thumbs[k])
    note = f"keyframe(s) beyond the video's {len(frames)} frames" if beyond else ""
    return poster, {k: p for k, p in thumbs.items() if k not in beyond}, note


def run_estimator(records: pd.DataFrame, cfg: dict[str, Any]) -> str:
    """The SPF estimator(s) that made a run's scores, ``+``-joined: the records' ``estimator``
    column, else the config's ``spf.estimator``, else ``paper`` (records from before the key,
    :data:`spf_bench.bench.results.record.LEGACY_ESTIMATOR`)."""
    if "estimator" in records and len(records):
        vals = {str(v) for v in records.estimator.fillna("") if str(v)}
        if vals:
            return "+".join(sorted(vals))
    spf = cfg.get("spf") if isinstance(cfg.get("spf"), dict) else {}
    return str(spf.get("estimator") or LEGACY_ESTIMATOR)


def _provenance(run: _Run) -> dict[str, Any]:
    """What the provenance table (``report_overview.html.j2``) shows, JSON values as text."""
    c, s, cfg = run.config, run.summary, run.cfg
    retime, versions = cfg.get("retime"), c.get("versions")
    out = dict(c=c, s=s, root=run.root.resolve(), label=run.label())
    out["shard"] = json.dumps(s["shard"]) if isinstance(s.get("shard"), dict) else None
    versions = versions if isinstance(versions, dict) else {}
    out["versions"] = ", ".join(f"{k} {v}" for k, v in versions.items()) or None
    out["iterations"] = retime.get("iterations") if isinstance(retime, dict) else None
    out["spf"] = json.dumps(cfg["spf"]) if isinstance(cfg.get("spf"), dict) else cfg.get("spf")
    out["estimator"] = run_estimator(run.records, cfg)
    out["config"] = json.dumps(c, indent=2, sort_keys=False, default=str) if c else ""
    return out


def _final_stats(df: pd.DataFrame, emb: str | None) -> dict[str, Any]:
    """Final Linearity and paired gain over iteration 0 with 95% BCa bootstrap CIs (seed 0),
    and the per-item gains (``items``), for the guiding embedder (``emb=None``) or held-out
    ``emb``: the leaderboard's statistics (:mod:`spf_bench.bench.results.stats`)."""
    score = df["linearity_score"] if emb is None else heldout_column(df, emb)
    fin = final_records(df.assign(_score=score))
    ls = fin["_score"].to_numpy(np.float64)
    gain = paired_gain(df, score)
    last = int(fin.iteration.max()) if len(fin) else -1
    out = dict(n=int(np.isfinite(ls).sum()), final_iteration=last)
    out |= dict(mean=mean(ls), std=std(ls), ci=bootstrap_ci(ls), n_paired=gain.n, gain=gain.mean)
    items = {str(k[-1]): float(v) for k, v in zip(gain.items, gain.gain, strict=True)}
    return out | dict(gain_ci=gain.ci(), items=items)


def _summary(run: _Run) -> dict[str, Any]:
    """The summary section: per-iteration table, final scores and gains, failures, VBench."""
    s = run.summary
    guide = str(s.get("embedder") or run.label().split(" / ")[2])
    per_it = s.get("per_iteration") or {}
    held = [*run.held, *(k for st in per_it.values() for k in (st.get("heldout") or {}))]
    held = list(dict.fromkeys(held))
    metrics = [k.removesuffix("_mean") for st in per_it.values() for k in st if k.endswith("_mean")]
    metrics = list(dict.fromkeys(metrics))
    rows = [(int(k), per_it[k]) for k in sorted(per_it, key=int)]
    finals = []
    for emb in (None, *held):
        name = (f"guided: {guide}" if held else guide) if emb is None else f"held-out: {emb}"
        finals.append({"name": name, "emb": emb or "", **_final_stats(run.records, emb)})
    bad = run.records[run.records.status != "ok"][["item_id", "iteration", "error"]]
    fails = list(s.get("failures") or []) or bad.to_dict("records")
    vb = json.dumps(s["vbench"], indent=2, default=str) if s.get("vbench") else ""
    out = dict(guide=guide, metrics=metrics, rows=rows, held=held, finals=finals)
    return out | dict(failures=fails, vbench=vb)


def _finite(values: Any) -> np.ndarray:
    """``values`` as float64 with NaN for anything that is not a finite number."""
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    return np.where(np.isfinite(x), x, np.nan)


def _items(run: _Run, page_size: int) -> list[SimpleNamespace]:
    """Per item (sorted): its records by iteration (named tuples; pandas row access is slow),
    the ok ones, ``base`` (first), ``last`` (last ok, else last), ``all_ok``, its page, and what
    its section shows, read here for every item at once before anything is rendered:

    - ``scores``: per record, its Linearity by the guiding embedder then by each held-out
      embedder of ``run.held`` (NaN where none), keyed by the record's ``id``;
    - ``vb``: the VBench columns with a finite score in one of its records;
    - ``progress``: ``{iteration: S}`` of its ok records' SPF files (``(T,)`` float64,
      :meth:`spf_bench.bench.results.rundir.RunDir.progress`), and ``spf_notes``, one note
      per missing or unreadable SPF file.
    """
    df = run.records.sort_values(["item_id", "iteration"], kind="stable")
    df.columns = [str(c) for c in df.columns]
    guided = _finite(df["linearity_score"])
    held = [_finite(heldout_column(df, e)) for e in run.held]
    dims = [c for c in df.columns if is_dim_column(c) and c.isidentifier()]
    dim_ok = np.isfinite(np.stack([_finite(df[c]) for c in dims], axis=1)) if dims else None
    rows: dict[str, list[tuple[int, Any]]] = {}
    for j, r in enumerate(df.itertuples(index=False, name="Record")):
        rows.setdefault(str(r.item_id), []).append((j, r))
    out = []
    for i, (k, v) in enumerate(sorted(rows.items())):
        recs = [r for _, r in v]
        ok = [r for r in recs if r.status == "ok"]
        it = SimpleNamespace(item_id=k, rows=recs, ok=ok, base=recs[0], last=(ok or recs)[-1])
        it.all_ok, it.page = len(ok) == len(recs), 1 + i // page_size
        it.scores = {id(r): [guided[j], *(h[j] for h in held)] for j, r in v}
        seen = dim_ok[[j for j, _ in v]].any(axis=0) if dim_ok is not None else []
        it.vb = [c for c, shown in zip(dims, seen, strict=True) if shown]
        it.progress, it.spf_notes = {}, []
        out.append(it)
    rd = RunDir(run.root)
    for it in out:  # every SPF file in one pass, after the tables
        for r in it.ok:
            p = run.root / str(r.spf_path) if r.spf_path else None
            if p is None or not p.is_file():
                it.spf_notes.append(
                    f"iteration {r.iteration}: SPF file missing ({r.spf_path or 'none'})"
                )
                continue
            try:
                it.progress[int(r.iteration)] = rd.progress(str(r.spf_path))
            except (OSError, ValueError, KeyError) as e:
                it.spf_notes.append(f"iteration {r.iteration}: SPF file unreadable: {e}")
    return out


def _scores_of(it: SimpleNamespace, row: Any) -> list[float]:
    """Linearity of one of ``it``'s records by the guiding embedder, then by each held-out
    embedder (:func:`_items`)."""
    return it.scores[id(row)]


def _scores_table(run: _Run, it: SimpleNamespace, prefix: str) -> dict[str, Any]:
    vb = it.vb
    rows = []
    for r in it.rows:
        d = r._asdict()
        files = [
            (prefix + _url(str(d[c])), name)
            for c, name in (("video_path", "mp4"), ("spf_path", "npz"))
            if d.get(c) and (run.root / str(d[c])).is_file()
        ]
        rows.append({"r": d, "held": _scores_of(it, r)[1:], "files": files})
    return {"vb": vb, "rows": rows}


def _item_section(run: _Run, it: SimpleNamespace, prefix: str, thumb_height: int) -> dict[str, Any]:
    """The context of one item's section (chart, videos, keyframe strips, scores)."""
    pacing = run.cfg.get("pacing", {}) if isinstance(run.cfg.get("pacing"), dict) else {}
    pname = str(pacing.get("name") or it.base.pacing or "linear")
    temperature = float(pacing.get("temperature", 3.0) or 3.0)
    curves: list[Curve] = []
    progress: dict[int, np.ndarray] = it.progress
    notes = list(it.spf_notes)
    last_it = max((int(r.iteration) for r in it.ok), default=-1)
    palette = ("#8c564b", "#9467bd", "#2ca02c", "#17becf", "#7f7f7f", "#bcbd22")
    for j, r in enumerate(it.ok):
        s = it.progress.get(int(r.iteration))
        if s is None:
            continue
        it_no = int(r.iteration)
        if it_no == 0:
            label, colour, kf = "baseline (iteration 0)", "#1f77b4", parse_keyframes(r.keyframes)
        elif it_no == last_it:
            label, colour, kf = f"iteration {it_no} (last)", "#ff7f0e", parse_keyframes(r.keyframes)
        else:
            label, colour, kf = f"iteration {it_no}", palette[(j - 1) % len(palette)], []
        curves.append((label, s, colour, kf))
    chart = ""
    if curves:
        t = max(s.size for _, s, _, _ in curves)
        try:
            target = pacing_curve(pname, np.linspace(0.0, 1.0, t), temperature)
        except ValueError:
            target = None
        title = f"S of {it.item_id}: baseline and every iteration against the target pacing"
        chart = _chart(run, it.item_id, curves, target, f"target pacing ({pname})", title)
    shown = [it.base] + ([it.last] if int(it.last.iteration) != int(it.base.iteration) else [])
    videos, strips = [], []
    for r in shown:
        it_no = int(r.iteration)
        label = "baseline (iteration 0)" if it_no == 0 else f"iteration {it_no} (last)"
        stem = _safe(f"{it.item_id}__it{it_no}")
        kf = parse_keyframes(r.keyframes)
        poster, thumbs, note = _video_assets(run, str(r.video_path or ""), stem, kf, thumb_height)
        if note:
            notes.append(f"{label}: {note}")
        if poster is None:
            continue
        src = prefix + _url(str(r.video_path))
        videos.append({"src": src, "poster": prefix + _url(poster), "label": label, "r": r})
        fps, s = float(r.fps), progress.get(it_no)
        fps = fps if math.isfinite(fps) and fps > 0 else None
        figs = [
            {
                "src": prefix + _url(rel),
                "k": k,
                "t": k / fps if fps else None,
                "s": float(s[k]) if s is not None and 0 <= k < s.size else None,
            }
            for k, rel in thumbs.items()
        ]
        if figs:
            strips.append({"label": f"{label} keyframes", "figs": figs})
    raw = str(it.base.metadata or "")
    try:
        meta = json.dumps(json.loads(raw), indent=1) if raw else ""
    except ValueError:
        meta = raw
    base, last = _scores_of(it, it.base), _scores_of(it, it.last)
    names = [str(it.base.embedder), *(f"held-out {e}" for e in run.held)]
    line = list(zip(names, base, last, strict=True))
    out = dict(it=it, anchor=_anchor(it.item_id), line=line, notes=notes, chart=Markup(chart))
    scores = _scores_table(run, it, prefix)
    return out | dict(videos=videos, strips=strips, scores=scores, meta=meta)


def write_report(
    run_dir: str | os.PathLike, *, page_size: int = PAGE_SIZE, thumb_height: int = THUMB_HEIGHT
) -> Path:
    """Write the HTML report of a run directory: ``<run_dir>/report.html`` (and its pages and
    assets under ``<run_dir>/report_assets/``), self-contained and relative (module docs).

    Cost and sizes: ``bench/views/README.md``.

    Args:
        run_dir: a run directory (records; ``config.json``, ``summary.json``, ``spf/*.npz`` and
            ``videos/*.mp4`` are used where present, a missing one is named in the report).
        page_size: items per page (>= 1); page ``k > 1`` is ``report_assets/items-<kkk>.html``.
        thumb_height: keyframe thumbnail height, pixels (>= 8).

    Returns:
        The path of ``report.html``.

    Raises:
        NotARunError: ``run_dir`` is not a directory holding records (a ``FileNotFoundError``).
        ValueError: ``page_size`` or ``thumb_height`` out of range; ``config.json`` or
            ``summary.json`` is not valid JSON.
    """
    if int(page_size) < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    if int(thumb_height) < 8:
        raise ValueError(f"thumb_height must be >= 8 pixels, got {thumb_height}")
    run = _load_run(run_dir)
    items = _items(run, int(page_size))
    n_pages = max(1, math.ceil(len(items) / int(page_size)))
    page_of = {it.item_id: it.page for it in items}

    def href(item_id: str, here: int) -> str:  # link to an item's section from page ``here``
        p = page_of[item_id]
        page = "" if p == here else ("../" * (here > 1)) + _url(page_name(p))
        return f"{page}#{_anchor(item_id)}"

    summary = _summary(run)
    gains = {f["emb"]: f["items"] for f in summary["finals"]}
    for f in summary["failures"]:
        if isinstance(f, dict) and f.get("item_id") in page_of:
            f["_href"] = href(f["item_id"], 1)
    title = f"spf-bench report: {run.label()}"
    ctx = dict(title=title, run_name=run.root.name, report_name=REPORT_NAME, items=items)
    ctx |= dict(summary=summary, held=run.held, gains=gains, thumb_height=int(thumb_height))
    written = set()
    for page in range(n_pages, 0, -1):  # report.html last
        prefix = "" if page == 1 else "../"
        lo, hi = (page - 1) * int(page_size) + 1, min(page * int(page_size), len(items))
        here = [it for it in items if it.page == page]
        sections = [_item_section(run, it, prefix, int(thumb_height)) for it in here]
        text = render(
            "report.html.j2",
            **ctx,
            page_title=f"{title} ({lo}-{hi})" if page > 1 else title,
            page=page,
            pages=[(p, prefix + _url(page_name(p))) for p in range(1, n_pages + 1)],
            span=(lo, hi),
            provenance=_provenance(run) if page == 1 else None,
            index_href={it.item_id: href(it.item_id, page) for it in items},
            sections=sections,
        )
        name = page_name(page)
        written.add(Path(name).name)
        atomic_write_text(run.root / name, text)
    assets = run.root / ASSETS_DIR
    if assets.is_dir():  # pages of an earlier, larger report
        for old in assets.iterdir():
            if _PAGE_RE.match(old.name) and old.name not in written:
                old.unlink()
    return run.root / REPORT_NAME


def _run_groups(run_dir: Path) -> dict[tuple[str, ...], frozenset[str]]:
    """``{(model, retime, embedder, pacing): config hashes}`` of a run's records."""
    df = read_run_records(run_dir)
    if not len(df) or any(k not in df for k in GROUP_KEYS):
        return {}
    df = df.assign(config_hash=df.get("config_hash", "")).astype({"config_hash": str})
    keys = df[list(GROUP_KEYS)].astype(str)
    return {k: frozenset(g) for k, g in df.config_hash.groupby([keys[c] for c in keys])}


def _scale(lb: pd.DataFrame, cols: Sequence[str], zero: bool) -> tuple[float, float]:
    """The shared x range of a column's CI bars: its finite values (and 0) plus 5% margins."""
    vals = [lb[c].to_numpy(np.float64) for c in cols if c in lb] + [np.zeros(int(zero))]
    vals = np.concatenate(vals)
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo if hi > lo else max(abs(hi), 1e-3)
    return lo - 0.05 * span, hi + 0.05 * span


def write_leaderboard_html(
    df: pd.DataFrame,
    path: str | os.PathLike,
    run_dirs: Sequence[str | os.PathLike],
    *,
    write_reports: bool = True,
    title: str = "spf-bench leaderboard",
) -> Path:
    """Write ``leaderboard.html`` atomically: the leaderboard as a sortable table with CI bars,
    each row linking to the ``report.html`` of the run(s) behind it.

    Args:
        df: :func:`spf_bench.bench.views.leaderboard.build_leaderboard`'s table (``config_hash``
            or ``config_hashes``, ``+``-joined, narrows a row's runs when present).
        path: output HTML file, e.g. ``results/leaderboard.html``.
        run_dirs: the run directories behind the rows; a row links to each run whose records
            have its model, retime, embedder, pacing (and one of its config hashes).
        write_reports: write a run's missing or stale (older than ``records.parquet``)
            ``report.html`` first; with ``False`` such a row shows the directory unlinked.
        title: page heading.

    Returns:
        ``path``.

    Raises:
        NotARunError: a listed run directory holds no records (with ``write_reports``).
    """
    path = Path(path)
    runs = [(Path(d), _run_groups(Path(d))) for d in dict.fromkeys(map(str, run_dirs))]
    for d, _ in runs:
        rep, recs = d / REPORT_NAME, d / "records.parquet"
        if write_reports and (not rep.is_file() or (recs.is_file() and _stale(rep, recs))):
            log.info("leaderboard: writing %s", rep)
            write_report(d)
    base = path.resolve().parent
    lin = _scale(df, ("linearity_ci_low", "linearity_ci_high", "linearity_mean"), False)
    dlt = _scale(df, ("delta_linearity_ci_low", "delta_linearity_ci_high", "delta_linearity"), True)
    ident = [c for c in ("estimator", "seed", "config_hash", "config_hashes") if c in df.columns]
    rows = []
    for r in df.to_dict("records"):
        key = tuple(str(r[k]) for k in GROUP_KEYS)
        col = next((c for c in ("config_hash", "config_hashes") if c in r), None)
        hashes = (frozenset(h for h in str(r[col]).split("+") if h) or None) if col else None
        links = []
        for d in (d for d, g in runs if key in g and (hashes is None or g[key] & hashes)):
            rep = d / REPORT_NAME
            href = None
            if rep.is_file():
                try:
                    href = _url(Path(os.path.relpath(rep.resolve(), base)).as_posix())
                except ValueError:  # another drive (Windows): no relative path exists
                    href = rep.resolve().as_uri()
            links.append({"href": href, "name": d.name or str(d), "dir": str(d)})
        rows.append({"r": r, "links": links})
    ctx = dict(title=title, page_title=title, group_keys=[*GROUP_KEYS, *ident], ident=ident)
    ctx |= dict(dims=suffixed(df, VBENCH_PREFIX, "_mean"), ext=suffixed(df, "ext_", "_mean"))
    text = render("leaderboard.html.j2", **ctx, rows=rows, scales=(lin, dlt))
    atomic_write_text(path, text)
    return path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``report`` sub-command on ``spf-bench``'s sub-parsers.

    Args:
        sub: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The ``report`` parser; its ``func`` default is :func:`run_command`.
    """
    p = sub.add_parser(
        "report",
        help="write <run_dir>/report.html: SPF charts, videos side by side, keyframes, scores",
        description="Write each run's report.html: configuration and provenance, the summary, "
        "and per item the SPF chart, the baseline and last-iteration videos side by side, the "
        "keyframe strips and the scores. It opens from disk in any browser (no network).",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    page_help = "items per page of the report (default: %(default)s)"
    p.add_argument("--page-size", type=int, default=PAGE_SIZE, help=page_help)
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Write the report of every ``args.run_dirs``; returns the exit status (module docs)."""
    if args.page_size < 1:
        print(f"spf-bench report: --page-size must be >= 1, got {args.page_size}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bad = []
    for d in args.run_dirs:
        try:
            print(f"wrote {write_report(d, page_size=args.page_size)}")
        except (NotARunError, ValueError) as err:
            bad.append(f"spf-bench report: bad input: {err}")
    for line in bad:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_OK
