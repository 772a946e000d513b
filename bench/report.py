"""HTML reports: ``<run_dir>/report.html`` for a run, ``leaderboard.html`` for a leaderboard.

Both open from disk in any browser: no server, no network, no CDN, no JavaScript library. The
charts are SVG drawn by matplotlib's SVG backend and inlined; the only script is a few lines of
inline JavaScript (sortable tables, a button that plays two videos together).

Layout of a run's report (every path relative, so the run directory can be moved or copied)::

    <run_dir>/report.html                   overview + the items of page 1
    <run_dir>/report_assets/items-002.html  items 17-32 (pages of ``page_size`` items), ...
    <run_dir>/report_assets/thumbs/*.jpg    keyframe thumbnails, decoded from videos/*.mp4
    <run_dir>/report_assets/posters/*.jpg   first frame of each shown video (its poster)
    <run_dir>/report_assets/charts/*.svg    cache of the inlined charts (keyed by their inputs)

What a report shows
    1. **Provenance**: model / retime / embedder / pacing, config hash, git sha, library
       versions (``config.json``), the full resolved config, wall time and shard (``summary.json``).
    2. **Summary**: per ReTime iteration ``n``, degenerate count and every ``<metric>_mean``
       of ``summary.json`` (with ``± <metric>_std`` where present), the guided Linearity (the
       embedder whose ``S`` steered the retime) and the Linearity of every held-out embedder
       (``per_iteration[k]["heldout"]``); per embedder, the final Linearity with its 95% BCa
       bootstrap CI and the paired gain over iteration 0 with its CI, computed as the
       leaderboard computes them (:func:`spf_bench.bench.leaderboard.bootstrap_ci`, seed 0);
       every failure with its error, linked to its item.
    3. **Items**, a sortable index of all items (baseline and final Linearity, guided and
       held-out gains, max jump, keyframes) linking to each item's section; per item: ``S``
       (guiding embedder) of the baseline and every
       iteration against the target pacing curve (inline SVG, keyframes marked), the baseline
       and last-iteration videos side by side (HTML5 ``<video>``, H.264 mp4 from ``videos/``,
       ``controls muted loop``, ``preload="none"`` with a poster so a page opens without reading
       any video), the keyframe strips of both, and the per-iteration scores table.

Large runs stay fast to open: items are split into pages (16 by default) linked by plain
links, images are ``loading="lazy"``, videos load only when played. Measured on a 128-item run
(morph, pixel, 9 frames at 224 px, one refinement) in headless Chromium 156 on this project's
2-core machine while other jobs kept it busy (load average 9-10): ``report.html`` (overview + 16
items) is 364 kB and its load event fires after 0.74-1.4 s (medians of two rounds of 5; first
contentful paint 0.3 s); every other page is ~311 kB (load 0.78 s). The same 128 items on one
page: 2.5 MB and 7.6 s.

Files are written atomically (:mod:`spf_bench.metrics.atomic_io`); ``report.html`` last, so a
report that exists has its pages and assets. Thumbnails and posters newer than their video are
reused on a rewrite.
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text

log = logging.getLogger("spf_bench")

__all__ = [
    "ASSETS_DIR",
    "PAGE_SIZE",
    "REPORT_NAME",
    "NotARunError",
    "page_name",
    "write_leaderboard_html",
    "write_report",
]

REPORT_NAME = "report.html"
ASSETS_DIR = "report_assets"
#: Items per page of a run's report.
PAGE_SIZE = 16
#: Height of a keyframe thumbnail, pixels.
THUMB_HEIGHT = 72
_PAGE_RE = re.compile(r"^items-\d{3,}\.html$")
_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


class NotARunError(FileNotFoundError):
    """The directory holds no spf-bench run (no ``records.parquet`` nor ``records/*.json``)."""


def page_name(page: int) -> str:
    """Path of page ``page`` (1-based) relative to the run directory (page 1 is the report)."""
    return REPORT_NAME if page == 1 else f"{ASSETS_DIR}/items-{page:03d}.html"


# ------------------------------------------------------------------------------------ helpers
def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _url(rel: str) -> str:
    """A relative POSIX path as a URL (spaces, ``#``, ``%``... percent-encoded)."""
    return quote(rel, safe="/")


def _safe(name: str) -> str:
    return _SAFE_RE.sub("_", name)


def _anchor(item_id: str) -> str:
    return "item-" + _safe(item_id)


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _num(v: Any, spec: str = ".4f") -> str:
    return format(float(v), spec) if _finite(v) else "–"


def _dv(v: Any) -> str:
    """``data-v`` sort key of a numeric cell (empty for NaN: sorts last)."""
    return repr(float(v)) if _finite(v) else ""


def _pm(m: Any, s: Any, spec: str = ".4f") -> str:
    if not _finite(m):
        return "–"
    return f"{float(m):{spec}} ± {float(s):{spec}}" if _finite(s) else f"{float(m):{spec}}"


def _ci(lo: Any, hi: Any, spec: str = ".4f") -> str:
    return f"[{float(lo):{spec}}, {float(hi):{spec}}]" if _finite(lo) and _finite(hi) else "–"


def _keyframes(v: Any) -> list[int]:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [int(x) for x in v]
    return [int(x) for x in str(v or "").split() if x.lstrip("-").isdigit()]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable JSON: {e}") from e
    return data if isinstance(data, dict) else {}


_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--soft:#f5f7fa;--ok:#1a7f37;
--bad:#c0352b;--base:#1f77b4;--fin:#ff7f0e}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);background:var(--bg);margin:0 auto;padding:16px 24px 48px;max-width:1280px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
var(--line);padding-bottom:4px}h3{font-size:16px;margin:0 0 6px}
.sub{color:var(--muted);margin:0 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:right;vertical-align:middle}
th{background:var(--soft);font-weight:600}td.l,th.l{text-align:left}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
pre{background:var(--soft);border:1px solid var(--line);padding:8px;overflow:auto;font-size:12px;
max-height:420px}
code{font-size:12px}
.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}
nav.pages{margin:10px 0;display:flex;flex-wrap:wrap;gap:6px}
nav.pages a,nav.pages span{padding:2px 8px;border:1px solid var(--line);border-radius:4px;
text-decoration:none}
nav.pages span{background:var(--fg);color:#fff}
td.runs a{display:block;overflow-wrap:anywhere;min-width:12em}
section.item{border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin:14px 0}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.chart svg{width:420px;height:auto;max-width:100%}
.videos{display:flex;gap:10px;flex-wrap:wrap;align-items:flex-start}
.videos figure{margin:0}.videos video{width:256px;height:auto;background:#000;display:block}
figcaption{font-size:12px;color:var(--muted);margin-top:2px}
.strip{display:flex;gap:6px;flex-wrap:wrap;align-items:flex-end;margin:6px 0}
.strip figure{margin:0;text-align:center}.strip img{display:block;border:1px solid var(--line)}
.strip .lbl{font-size:12px;color:var(--muted);width:110px;text-align:left}
button.play-both{margin-top:4px}
.bar{vertical-align:middle}
td.files{white-space:nowrap}
.err{white-space:pre-wrap;text-align:left;max-width:520px;font-size:12px}
"""

# Sortable tables (click a header; numbers by data-v, empty values last) and "play both".
_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    if (v === null) { v = td.textContent.trim(); }
    var n = parseFloat(v);
    return { empty: v === '' || v === '\\u2013', n: isNaN(n) ? null : n, s: v.toLowerCase() };
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      th.title = 'click to sort';
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[i]), y = key(b.cells[i]);
          if (x.empty || y.empty) { return (x.empty ? 1 : 0) - (y.empty ? 1 : 0); }
          var c = (x.n !== null && y.n !== null) ? x.n - y.n : (x.s < y.s ? -1 : x.s > y.s ? 1 : 0);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('button.play-both').forEach(function (b) {
    b.addEventListener('click', function () {
      b.closest('.videos').querySelectorAll('video').forEach(function (v) {
        v.currentTime = 0;
        var p = v.play();
        if (p) { p.catch(function () {}); }
      });
    });
  });
})();
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------------------------ the run
@dataclass
class _Run:
    root: Path
    config: dict[str, Any]  # config.json: {"config", "config_hash", "git_sha", "versions", ...}
    summary: dict[str, Any]  # summary.json (or computed from the records)
    records: Any  # pandas.DataFrame, load_records() of this run (VBench columns merged)
    held: list[str]  # held-out embedders that scored the run (the records' ``heldout`` column)

    @property
    def cfg(self) -> dict[str, Any]:
        return self.config.get("config", {}) if isinstance(self.config, dict) else {}

    def label(self) -> str:
        r = self.records
        parts = []
        for key in ("model", "retime", "embedder", "pacing"):
            vals = sorted({str(v) for v in r[key]}) if key in r and len(r) else []
            parts.append("+".join(vals) or str(self.summary.get(key, "?")))
        return " / ".join(parts)


def _load_run(run_dir: str | os.PathLike) -> _Run:
    from spf_bench.bench.leaderboard import _has_records, load_records
    from spf_bench.bench.merge import summarise

    root = Path(run_dir)
    if not root.is_dir() or not _has_records(root):
        raise NotARunError(
            f"{run_dir}: not a spf-bench run directory (no records.parquet or records/*.json)"
        )
    records = load_records([root])
    records.attrs = {}  # parquet metadata: pandas deep-copies attrs on every operation
    summary = _read_json(root / "summary.json")
    if not summary.get("per_iteration"):
        summary = {**summarise(records, math.nan), **summary}
    return _Run(root, _read_json(root / "config.json"), summary, records, _heldout_names(records))


# ------------------------------------------------------------------------------------ charts
_CHART_VERSION = "1"  # bump when _spf_svg draws differently: cached charts are redrawn


def _spf_svg(
    curves: Sequence[tuple[str, np.ndarray, str, list[int]]],
    target: np.ndarray | None,
    target_label: str,
    salt: str,
    title: str,
) -> str:
    """``S`` curves against the target pacing as an inline ``<svg>`` (matplotlib SVG backend).

    Fixed margins and ticks (no ``tight_layout``, no tick locators): one chart costs about
    0.1 s on a quiet 2-core CPU, half of what automatic layout costs.

    Args:
        curves: ``(label, S of shape (T,), colour, keyframes)`` per curve, drawn in order; ``S``
            is the share of total semantic change (0 to 1), keyframes are frame indices.
        target: target pacing ``P(u)`` sampled at ``T`` frames, shape ``(T,)``, or ``None``.
        target_label: legend entry of the target.
        salt: ``svg.hashsalt``: makes the SVG's element ids unique in a page (one per item)
            and deterministic.
        title: accessible name (``aria-label``).

    Returns:
        The ``<svg>`` element as text (no XML prolog).
    """
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.1))
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.14, top=0.97)
    ax = fig.subplots()
    n = max(len(s) for _, s, _, _ in curves)
    if target is not None:
        ax.plot(np.arange(target.size), target, color="0.45", ls="--", lw=1.1, label=target_label)
    for label, s, colour, kf in curves:
        ax.plot(np.arange(s.size), s, color=colour, lw=1.7, label=label)
        kf = [k for k in kf if 0 <= k < s.size]
        if kf:
            ax.plot(kf, s[kf], "o", ms=4, color=colour, mec="tab:red", mew=1.0)
    last = max(n - 1, 1)
    ax.set_xlim(0, last)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(np.unique(np.linspace(0, last, min(last + 1, 6)).round().astype(int)))
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
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
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_e(title)}" ', 1)


def _chart(
    run: _Run,
    item_id: str,
    curves: Sequence[tuple[str, np.ndarray, str, list[int]]],
    target: np.ndarray | None,
    target_label: str,
    title: str,
) -> str:
    """:func:`_spf_svg`, cached in ``report_assets/charts/<item>-<key>.svg``: the key hashes
    every input (curves, keyframes, target, labels), so a rewrite redraws only what changed."""
    import hashlib

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


# ------------------------------------------------------------------------------------ thumbnails
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
    """Poster and keyframe thumbnails of one video, written under ``report_assets/``.

    Args:
        run: the run.
        video_rel: ``video_path`` of the record (relative to the run directory).
        stem: asset file-name stem (``<item>__it<k>``, sanitised).
        keyframes: frame indices to thumbnail.
        thumb_height: thumbnail height, pixels.

    Returns:
        ``(poster, thumbs, note)``: the poster's path relative to the run directory (``None``
        without a readable video), ``{frame: thumbnail path}``, and a note explaining missing
        assets (``""`` if none). A video that cannot be decoded gives a note, not an error.
    """
    from PIL import Image

    from spf_bench.metrics.video_io import VideoDecodeError, read_video

    video = run.root / video_rel if video_rel else None
    if video is None or not video.is_file():
        return None, {}, "no video file" + (f" ({video_rel})" if video_rel else "")
    poster = f"{ASSETS_DIR}/posters/{stem}.jpg"
    thumbs = {k: f"{ASSETS_DIR}/thumbs/{stem}__f{k:05d}.jpg" for k in keyframes if k >= 0}
    todo = [k for k, p in thumbs.items() if _stale(run.root / p, video)]
    if _stale(run.root / poster, video):
        todo.append(0)
    if not todo:
        return poster, thumbs, ""
    try:
        frames, _ = read_video(video, max_frames=max(todo) + 1)
    except (VideoDecodeError, OSError, ValueError) as e:
        return None, {}, f"video unreadable: {e}"
    note = ""
    if _stale(run.root / poster, video):
        _save_jpeg(Image.fromarray(frames[0]), run.root / poster)
    for k in list(thumbs):
        if not _stale(run.root / thumbs[k], video):
            continue
        if k >= len(frames):  # frames were decoded up to the largest stale keyframe
            note = f"keyframe(s) beyond the video's {len(frames)} frames"
            del thumbs[k]
            continue
        img = Image.fromarray(frames[k])
        w = max(1, round(img.width * thumb_height / img.height))
        _save_jpeg(img.resize((w, thumb_height), Image.Resampling.LANCZOS), run.root / thumbs[k])
    return poster, thumbs, note


# ------------------------------------------------------------------------------------ sections
def _provenance(run: _Run) -> str:
    c, s = run.config, run.summary
    rows = [
        ("run directory", f"<code>{_e(run.root.resolve())}</code>"),
        ("model / retime / embedder / pacing", _e(run.label())),
        ("config hash", f"<code>{_e(c.get('config_hash', s.get('config_hash', '–')))}</code>"),
        ("git sha", f"<code>{_e(c.get('git_sha', s.get('git_sha', '–')))}</code>"),
        (
            "items / records / failed",
            _e(f"{s.get('n_items', '–')} / {s.get('n_records', '–')} / {s.get('n_failed', '–')}"),
        ),
    ]
    if _finite(s.get("wall_time_s")):
        rows.append(("wall time", f"{float(s['wall_time_s']):.1f} s"))
    if isinstance(s.get("shard"), dict):
        rows.append(("shard", _e(json.dumps(s["shard"]))))
    versions = c.get("versions")
    if isinstance(versions, dict) and versions:
        rows.append(("versions", _e(", ".join(f"{k} {v}" for k, v in versions.items()))))
    cfg = run.cfg
    for label, key in (("retime iterations", ("retime", "iterations")), ("SPF", ("spf",))):
        v: Any = cfg
        for k in key:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            rows.append((label, _e(json.dumps(v) if isinstance(v, dict) else v)))
    body = "".join(f'<tr><th class="l">{k}</th><td class="l">{v}</td></tr>' for k, v in rows)
    conf = json.dumps(run.config, indent=2, sort_keys=False, default=str) if run.config else ""
    details = (
        "<details><summary>resolved configuration (<code>config.json</code>)</summary>"
        f"<pre>{_e(conf)}</pre></details>"
        if conf
        else '<p class="bad">config.json is missing from this run directory.</p>'
    )
    return f"<h2>Configuration and provenance</h2><table>{body}</table>{details}"


def _heldout(v: Any) -> dict[str, dict[str, Any]]:
    """The ``heldout`` record column, ``{embedder: {"linearity_score": ..., ...}}`` (JSON text
    or a dict); ``{}`` when absent or unreadable."""
    if isinstance(v, dict):
        return v
    if not isinstance(v, str) or not v.strip():
        return {}
    try:
        d = json.loads(v)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _heldout_names(records: Any) -> list[str]:
    """Held-out embedders that scored any record of the run, in first-seen order."""
    names: list[str] = []
    if "heldout" in records:
        for v in records["heldout"]:
            names.extend(k for k in _heldout(v) if k not in names)
    return names


def _score(row: Any, emb: str | None) -> float:
    """Linearity of a record: the guiding embedder's (``emb=None``) or held-out ``emb``'s."""
    if emb is None:
        v = getattr(row, "linearity_score", math.nan)
    else:
        v = _heldout(getattr(row, "heldout", None)).get(emb, {}).get("linearity_score")
    return float(v) if _finite(v) else math.nan


def _final_stats(df: Any, emb: str | None) -> dict[str, Any]:
    """Final-iteration Linearity and paired gain over iteration 0 with 95% BCa bootstrap CIs,
    computed exactly as the leaderboard does (:mod:`spf_bench.bench.leaderboard`: final record
    per item, NaN skipped, pairs in item order, seed 0), for the guiding embedder or ``emb``."""
    from spf_bench.bench.leaderboard import bootstrap_ci, final_records

    fin = final_records(df)
    ok = fin[fin.status == "ok"]
    ls = np.array([_score(r, emb) for r in ok.itertuples(index=False)], dtype=np.float64)
    base = {
        str(r.item_id): _score(r, emb)
        for r in df[(df.iteration == 0) & (df.status == "ok")].itertuples(index=False)
    }
    pairs = sorted(
        (str(r.item_id), base[str(r.item_id)], _score(r, emb))
        for r in ok.itertuples(index=False)
        if int(r.iteration) > 0 and str(r.item_id) in base
    )
    d = np.array([f - b for _, b, f in pairs if _finite(b) and _finite(f)], dtype=np.float64)
    fl = ls[np.isfinite(ls)]
    return {
        "n": int(fl.size),
        "final_iteration": int(ok.iteration.max()) if len(ok) else -1,
        "mean": float(fl.mean()) if fl.size else math.nan,
        "std": float(fl.std(ddof=1)) if fl.size > 1 else math.nan,
        "ci": bootstrap_ci(fl),
        "n_paired": int(d.size),
        "gain": float(d.mean()) if d.size else math.nan,
        "gain_ci": bootstrap_ci(d),
    }


_METRIC_LABELS = {
    "linearity": "Linearity",
    "max_jump": "max jump",
    "rms_s_vs_designed": "RMS S vs designed",
}


def _summary(run: _Run) -> str:
    s = run.summary
    guide = str(s.get("embedder") or run.label().split(" / ")[2])
    held = list(run.held)
    for st in (s.get("per_iteration") or {}).values():
        held.extend(k for k in (st.get("heldout") or {}) if k not in held)
    per_it = s.get("per_iteration") or {}
    metrics: list[str] = []
    for st in per_it.values():
        for k in st:
            if k.endswith("_mean") and k[: -len("_mean")] not in metrics:
                metrics.append(k[: -len("_mean")])

    def label(m: str) -> str:
        lbl = _METRIC_LABELS.get(m, m.replace("_", " "))
        return f"{lbl} (guided: {guide})" if m == "linearity" and held else lbl

    head = "".join(f"<th>{_e(label(m))}</th>" for m in metrics)
    head += "".join(f"<th>Linearity (held-out: {_e(h)})</th>" for h in held)
    rows = []
    for it in sorted(per_it, key=lambda x: int(x)):
        st = per_it[it]
        cells = "".join(f"<td>{_pm(st.get(f'{m}_mean'), st.get(f'{m}_std'))}</td>" for m in metrics)
        for h in held:
            hs = (st.get("heldout") or {}).get(h) or {}
            n = f" (n {hs['n']})" if "n" in hs and hs["n"] != st.get("n") else ""
            cells += f"<td>{_pm(hs.get('linearity_mean'), hs.get('linearity_std'))}{n}</td>"
        rows.append(
            f"<tr><td>{int(it)}</td><td>{_e(st.get('n', '–'))}</td>"
            f"<td>{_e(st.get('n_degenerate', '–'))}</td>{cells}</tr>"
        )
    table = (
        "<table><thead><tr><th>iteration</th><th>n</th><th>degenerate</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="sub">mean ± sample std (ddof 1) over the items scored at that iteration '
        "(<code>summary.json</code>); iteration 0 is the baseline"
        + (
            "; the guiding embedder's S steered the retime, held-out embedders only judge it."
            if held
            else "."
        )
        + "</p>"
    )
    lines = []
    for emb in (None, *held):
        st = _final_stats(run.records, emb)
        gain, (lo, hi) = st["gain"], st["gain_ci"]
        name = (f"guided: {guide}" if held else guide) if emb is None else f"held-out: {emb}"
        g = f"{float(gain):+.4f} {_ci(lo, hi)}" if _finite(gain) else "–"
        lines.append(
            f"<tr><td class='l'>{_e(name)}</td><td>{st['n']}</td><td>{st['final_iteration']}</td>"
            f"<td>{_pm(st['mean'], st['std'])}</td><td>{_ci(*st['ci'])}</td>"
            f"<td>{st['n_paired']}</td><td>{g}</td></tr>"
        )
    final = (
        "<table><thead><tr><th class='l'>embedder</th><th>n</th><th>final iteration</th>"
        "<th>final Linearity</th><th>95% CI</th><th>paired</th>"
        "<th>gain over baseline [95% CI]</th></tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>"
        '<p class="sub">Each item scored at its final iteration; gain = final - iteration 0 over '
        "the items with both (paired). CIs: 95% BCa bootstrap, seeded, as in the leaderboard.</p>"
    )
    fails = list(s.get("failures") or [])
    if not fails and len(run.records):
        bad = run.records[run.records.status != "ok"]
        fails = bad[["item_id", "iteration", "error"]].to_dict("records")
    if fails:
        frows = []
        for f in fails:
            name = _e(f.get("item_id"))
            if f.get("_href"):
                name = f"<a href='{_e(f['_href'])}'>{name}</a>"
            frows.append(
                f"<tr><td class='l'>{name}</td><td>{_e(f.get('iteration'))}</td>"
                f"<td class='err'>{_e(f.get('error', ''))}</td></tr>"
            )
        failures = (
            f"<h3 class='bad'>Failures ({len(fails)})</h3><table><thead><tr><th class='l'>item"
            f"</th><th>iteration</th><th class='l'>error</th></tr></thead><tbody>{''.join(frows)}"
            "</tbody></table>"
        )
    else:
        failures = '<p class="ok">No failures.</p>'
    vb = s.get("vbench")
    vbench = (
        "<details><summary>VBench (<code>summary.json</code>)</summary>"
        f"<pre>{_e(json.dumps(vb, indent=2, default=str))}</pre></details>"
        if vb
        else ""
    )
    return f"<h2>Summary</h2>{table}{final}{failures}{vbench}"


@dataclass
class _Item:
    """One item's records as plain rows (named tuples; pandas per-row access is slow)."""

    item_id: str
    rows: list[Any]  # records of the item (named tuples of the record columns), by iteration
    page: int

    @property
    def ok(self) -> list[Any]:
        return [r for r in self.rows if r.status == "ok"]

    @property
    def all_ok(self) -> bool:
        return all(r.status == "ok" for r in self.rows)

    @property
    def base(self) -> Any:
        return self.rows[0]

    @property
    def last(self) -> Any:
        ok = self.ok
        return ok[-1] if ok else self.rows[-1]


def _items(run: _Run, page_size: int) -> list[_Item]:
    df = run.records.sort_values(["item_id", "iteration"], kind="stable")
    df.columns = [str(c) for c in df.columns]
    rows: dict[str, list[Any]] = {}
    for r in df.itertuples(index=False, name="Record"):
        rows.setdefault(str(r.item_id), []).append(r)
    return [_Item(k, v, 1 + i // page_size) for i, (k, v) in enumerate(sorted(rows.items()))]


def _gain(it: _Item, emb: str | None) -> float:
    b, f = it.base, it.last
    if int(f.iteration) <= 0 or b.status != "ok" or f.status != "ok":
        return math.nan
    return _score(f, emb) - _score(b, emb)


def _index(items: list[_Item], prefix: str, current: int, held: Sequence[str]) -> str:
    rows = []
    for n, it in enumerate(items, 1):
        b, f = it.base, it.last
        ok = it.all_ok
        gain = _gain(it, None)
        hg = "".join(
            f"<td data-v='{_dv(g)}'>{_num(g, '+.4f')}</td>" for g in (_gain(it, h) for h in held)
        )
        page = "" if it.page == current else prefix + _url(page_name(it.page))
        href = f"{page}#{_anchor(it.item_id)}"
        status = "ok" if ok else "failed"
        rows.append(
            f"<tr><td>{n}</td><td class='l'><a href='{_e(href)}'>{_e(it.item_id)}</a></td>"
            f"<td class='l {'ok' if ok else 'bad'}'>{status}</td><td>{int(f.iteration)}</td>"
            f"<td data-v='{_dv(b.linearity_score)}'>{_num(b.linearity_score)}</td>"
            f"<td data-v='{_dv(f.linearity_score)}'>{_num(f.linearity_score)}</td>"
            f"<td data-v='{_dv(gain)}'>{_num(gain, '+.4f')}</td>{hg}"
            f"<td data-v='{_dv(f.max_jump)}'>{_num(f.max_jump)}</td>"
            f"<td class='l'>{_e(b.keyframes)}</td><td>{it.page}</td></tr>"
        )
    hh = "".join(f"<th>gain (held-out: {_e(h)})</th>" for h in held)
    return (
        f"<h2>Items ({len(items)})</h2><table class='sortable'><thead><tr><th>#</th>"
        "<th class='l'>item</th><th class='l'>status</th><th>final iteration</th>"
        "<th>baseline Linearity</th><th>final Linearity</th><th>gain</th>"
        f"{hh}<th>final max jump</th>"
        "<th class='l'>baseline keyframes</th><th>page</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p class='sub'>Click a header to sort; Linearity of the guiding embedder unless named."
        "</p>"
    )


def _nav(n_pages: int, current: int, prefix: str) -> str:
    if n_pages <= 1:
        return ""
    links = []
    for p in range(1, n_pages + 1):
        if p == current:
            links.append(f"<span>page {p}</span>")
        else:
            links.append(f"<a href='{_e(prefix + _url(page_name(p)))}'>page {p}</a>")
    return f"<nav class='pages'>{''.join(links)}</nav>"


_SCORE_COLS = (
    ("linearity_score", "Linearity", ".4f"),
    ("max_deviation", "max dev.", ".4f"),
    ("max_jump", "max jump", ".4f"),
    ("total_change", "total change (rad)", ".3f"),
    ("target_deviation", "target dev.", ".4f"),
    ("rms_s_vs_designed", "RMS(S − designed)", ".4f"),
)


def _scores_table(run: _Run, it: _Item, prefix: str) -> str:
    cols = it.rows[0]._fields
    vb = [c for c in cols if c.startswith("vbench_") and c != "vbench_error"]
    vb = [c for c in vb if any(_finite(getattr(r, c)) for r in it.rows)]
    head = "".join(f"<th>{_e(lbl)}</th>" for _, lbl, _ in _SCORE_COLS)
    head += "".join(f"<th>Linearity (held-out: {_e(h)})</th>" for h in run.held)
    head += "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in vb)
    rows = []
    for r in it.rows:
        d = r._asdict()
        cells = "".join(f"<td>{_num(d[c], spec)}</td>" for c, _, spec in _SCORE_COLS)
        cells += "".join(f"<td>{_num(_score(r, h))}</td>" for h in run.held)
        cells += "".join(f"<td>{_num(d[c])}</td>" for c in vb)
        files = " ".join(
            f"<a href='{_e(prefix + _url(str(d[c])))}'>{name}</a>"
            for c, name in (("video_path", "mp4"), ("spf_path", "npz"))
            if d.get(c) and (run.root / str(d[c])).is_file()
        )
        status = "ok" if d["status"] == "ok" else "bad"
        degenerate = " (degenerate)" if bool(d.get("degenerate")) else ""
        rows.append(
            f"<tr><td>{int(d['iteration'])}</td><td class='l {status}'>{_e(d['status'])}"
            f"{degenerate}</td>{cells}<td>{int(d['max_jump_frame'])}</td>"
            f"<td class='l'>{_e(d['keyframes'])}</td><td class='l files'>{files}</td>"
            f"<td class='err'>{_e(d['error'])}</td></tr>"
        )
    return (
        "<table class='scores'><thead><tr><th>iteration</th><th class='l'>status</th>"
        f"{head}<th>jump frame</th><th class='l'>keyframes</th><th class='l'>files</th>"
        f"<th class='l'>error / note</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _strip(
    label: str,
    thumbs: dict[int, str],
    s: np.ndarray | None,
    fps: float,
    prefix: str,
    thumb_height: int,
) -> str:
    figs = []
    for k, rel in thumbs.items():
        sk = f" · S {float(s[k]):.2f}" if s is not None and 0 <= k < s.size else ""
        t = f"{k / fps:.2f} s" if _finite(fps) and fps > 0 else ""
        figs.append(
            f"<figure><img src='{_e(prefix + _url(rel))}' height='{thumb_height}' "
            f"loading='lazy' alt='{_e(label)} frame {k}'><figcaption>f {k} · {t}{sk}"
            "</figcaption></figure>"
        )
    return f"<div class='strip'><div class='lbl'>{_e(label)}</div>{''.join(figs)}</div>"


def _item_section(run: _Run, it: _Item, prefix: str, thumb_height: int) -> str:
    from spf_bench.metrics.spf import pacing_curve

    pacing = run.cfg.get("pacing", {}) if isinstance(run.cfg.get("pacing"), dict) else {}
    pname = str(pacing.get("name") or it.base.pacing or "linear")
    temperature = float(pacing.get("temperature", 3.0) or 3.0)
    ok = it.ok
    curves: list[tuple[str, np.ndarray, str, list[int]]] = []
    progress: dict[int, np.ndarray] = {}
    notes = []
    last_it = max((int(r.iteration) for r in ok), default=-1)
    palette = ("#8c564b", "#9467bd", "#2ca02c", "#17becf", "#7f7f7f", "#bcbd22")
    for j, r in enumerate(ok):
        p = run.root / str(r.spf_path) if r.spf_path else None
        if p is None or not p.is_file():
            notes.append(f"iteration {r.iteration}: SPF file missing ({r.spf_path or 'none'})")
            continue
        try:
            with np.load(p) as npz:
                s = np.asarray(npz["progress"], dtype=np.float64)
        except (OSError, ValueError, KeyError) as e:
            notes.append(f"iteration {r.iteration}: SPF file unreadable: {e}")
            continue
        progress[int(r.iteration)] = s
        it_no = int(r.iteration)
        if it_no == 0:
            label, colour, kf = "baseline (iteration 0)", "#1f77b4", _keyframes(r.keyframes)
        elif it_no == last_it:
            label, colour, kf = f"iteration {it_no} (last)", "#ff7f0e", _keyframes(r.keyframes)
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
        svg = _chart(run, it.item_id, curves, target, f"target pacing ({pname})", title)
        chart = f"<div class='chart'>{svg}</div>"
    # videos: baseline and last iteration
    shown = [it.base] + ([it.last] if int(it.last.iteration) != int(it.base.iteration) else [])
    vids, strips = [], []
    for r in shown:
        it_no = int(r.iteration)
        label = "baseline (iteration 0)" if it_no == 0 else f"iteration {it_no} (last)"
        kf = _keyframes(r.keyframes)
        stem = _safe(f"{it.item_id}__it{it_no}")
        poster, thumbs, note = _video_assets(run, str(r.video_path or ""), stem, kf, thumb_height)
        if note:
            notes.append(f"{label}: {note}")
        if poster is None:
            continue
        score = f"Linearity {_num(r.linearity_score)}" if r.status == "ok" else "failed"
        vids.append(
            f"<figure><video src='{_e(prefix + _url(str(r.video_path)))}' "
            f"poster='{_e(prefix + _url(poster))}' controls muted loop playsinline "
            f"preload='none'></video><figcaption>{_e(label)} · {score}</figcaption></figure>"
        )
        if thumbs:
            strips.append(
                _strip(
                    f"{label} keyframes",
                    thumbs,
                    progress.get(it_no),
                    float(r.fps),
                    prefix,
                    thumb_height,
                )
            )
    button = "<button type='button' class='play-both'>play both</button>" if len(vids) > 1 else ""
    videos = f"<div class='videos'>{''.join(vids)}{button}</div>" if vids else ""
    meta = ""
    raw = str(it.base.metadata or "")
    if raw:
        try:
            meta_txt = json.dumps(json.loads(raw), indent=1)
        except ValueError:
            meta_txt = raw
        meta = f"<details><summary>generator metadata</summary><pre>{_e(meta_txt)}</pre></details>"
    failed = not it.all_ok
    badge = "<span class='bad'>failed</span>" if failed else ""
    parts = []
    for emb in (None, *run.held):
        name = str(it.base.embedder) if emb is None else f"held-out {emb}"
        b, f = _score(it.base, emb), _score(it.last, emb)
        arrow = f" → {_num(f)}" if int(it.last.iteration) > 0 else ""
        parts.append(f"{name} {_num(b)}{arrow}")
    lin = "Linearity: " + ", ".join(parts)
    note_html = "".join(f"<p class='bad'>{_e(n)}</p>" for n in notes)
    return (
        f"<section class='item' id='{_anchor(it.item_id)}'><h3>{_e(it.item_id)} {badge}</h3>"
        f"<p class='sub'>{_e(lin)} · seed {_e(it.base.seed)} · {_e(it.base.n_frames)} frames at "
        f"{_num(it.base.fps, '.2f')} fps</p>{note_html}<div class='row'>{chart}{videos}</div>"
        f"{''.join(strips)}{_scores_table(run, it, prefix)}{meta}</section>"
    )


# ------------------------------------------------------------------------------------ public
def write_report(
    run_dir: str | os.PathLike, *, page_size: int = PAGE_SIZE, thumb_height: int = THUMB_HEIGHT
) -> Path:
    """Write the HTML report of a run directory: ``<run_dir>/report.html`` (and its pages and
    assets under ``<run_dir>/report_assets/``), self-contained and relative (module docs).

    Cost: one matplotlib SVG per item and one decode of its baseline and last videos (posters
    and keyframe thumbnails). 128 items (9 frames at 224 px): 24 s of CPU the first time
    (two thirds charts), 1.5 s for a rewrite, which reuses every chart whose inputs are
    unchanged and every image newer than its video. A 128-item report takes 9.4 MB beside
    the run (pages 2.5 MB, posters 3.0 MB, thumbnails 1.8 MB, chart cache 2.0 MB).

    Args:
        run_dir: a run directory (``records.parquet`` or ``records/*.json``; ``config.json``,
            ``summary.json``, ``spf/*.npz`` and ``videos/*.mp4`` are used where present, and a
            missing one is named in the report, never an error).
        page_size: items per page (>= 1); page 1 is ``report.html``, page ``k`` is
            ``report_assets/items-<kkk>.html``.
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
    title = f"spf-bench report: {run.label()}"
    fails = run.summary.get("failures") or []
    for f in fails:
        if isinstance(f, dict) and f.get("item_id") in page_of:
            p = page_of[f["item_id"]]
            f["_href"] = ("" if p == 1 else _url(page_name(p))) + "#" + _anchor(str(f["item_id"]))
    head = (
        f"<h1>{_e(title)}</h1><p class='sub'>{_e(run.root.name)} · "
        f"{len(items)} items · written by <code>spf_bench.bench.report</code></p>"
    )
    overview = head + _provenance(run) + _summary(run) + _index(items, "", 1, run.held)
    root = run.root
    assets = root / ASSETS_DIR
    written = set()
    for page in range(n_pages, 0, -1):  # report.html last
        prefix = "" if page == 1 else "../"
        sections = "".join(
            _item_section(run, it, prefix, int(thumb_height)) for it in items if it.page == page
        )
        nav = _nav(n_pages, page, prefix)
        lo, hi = (page - 1) * int(page_size) + 1, min(page * int(page_size), len(items))
        span = f"<h2>Items {lo}-{hi}</h2>" if items else "<h2>Items</h2><p>No records.</p>"
        if page == 1:
            body = f"{overview}{nav}{span}{sections}{nav}"
        else:
            back = f"<p><a href='../{REPORT_NAME}'>← overview ({REPORT_NAME})</a></p>"
            body = f"<h1>{_e(title)}</h1>{back}{nav}{span}{sections}{nav}{back}"
        name = page_name(page)
        written.add(Path(name).name)
        atomic_write_text(root / name, _page(f"{title} ({lo}-{hi})" if page > 1 else title, body))
    if assets.is_dir():  # pages of an earlier, larger report
        for old in assets.iterdir():
            if _PAGE_RE.match(old.name) and old.name not in written:
                old.unlink()
    return root / REPORT_NAME


def _run_groups(run_dir: Path) -> dict[tuple[str, ...], frozenset[str]]:
    """``{(model, retime, embedder, pacing): config hashes}`` of a run's records."""
    import pandas as pd

    from spf_bench.bench.leaderboard import GROUP_KEYS
    from spf_bench.bench.records import collect_records

    cols = [*GROUP_KEYS, "config_hash"]
    if (run_dir / "records.parquet").is_file():
        df = pd.read_parquet(run_dir / "records.parquet")
    else:
        df = pd.DataFrame(collect_records(run_dir))
    if not len(df) or any(k not in df for k in GROUP_KEYS):
        return {}
    if "config_hash" not in df:
        df["config_hash"] = ""
    out: dict[tuple[str, ...], set[str]] = {}
    for row in df[cols].astype(str).drop_duplicates().itertuples(index=False):
        out.setdefault(tuple(row[:-1]), set()).add(row[-1])
    return {k: frozenset(v) for k, v in out.items()}


def _row_hashes(row: Mapping[str, Any]) -> frozenset[str] | None:
    """Config hashes of a leaderboard row (``config_hash`` or ``config_hashes``, ``+``-joined);
    ``None`` when the leaderboard has neither column or the row has no hash."""
    for col in ("config_hash", "config_hashes"):
        if col in row:
            return frozenset(h for h in str(row[col]).split("+") if h) or None
    return None


def _ci_bar(m: Any, lo: Any, hi: Any, x0: float, x1: float, zero: bool) -> str:
    """A 150 x 16 px inline SVG: the CI as a line on the shared scale ``[x0, x1]``, the mean
    as a dot, and (``zero``) a tick at 0."""
    w, h, pad = 150.0, 16.0, 5.0
    if not (_finite(m) and x1 > x0):
        return ""

    def x(v: float) -> float:
        return pad + (float(v) - x0) / (x1 - x0) * (w - 2 * pad)

    parts = [f"<rect x='{pad}' y='7.5' width='{w - 2 * pad}' height='1' fill='#d9dde5'/>"]
    if zero and x0 <= 0 <= x1:
        parts.append(f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='2' y2='14' stroke='#5b6475'/>")
    if _finite(lo) and _finite(hi):
        parts.append(
            f"<line x1='{x(lo):.1f}' x2='{x(hi):.1f}' y1='8' y2='8' stroke='#1f77b4' "
            "stroke-width='3'/>"
        )
    parts.append(f"<circle cx='{x(m):.1f}' cy='8' r='3.2' fill='#ff7f0e'/>")
    tip = f"{float(m):.4f} {_ci(lo, hi)}"
    return (
        f"<svg class='bar' width='{int(w)}' height='{int(h)}' viewBox='0 0 {int(w)} {int(h)}' "
        f"role='img' aria-label='{_e(tip)}'><title>{_e(tip)}</title>{''.join(parts)}</svg>"
    )


def _scale(lb: Any, cols: Sequence[str], zero: bool) -> tuple[float, float]:
    vals = np.concatenate([lb[c].to_numpy(np.float64) for c in cols if c in lb] or [np.array([])])
    vals = vals[np.isfinite(vals)]
    if zero:
        vals = np.append(vals, 0.0)
    if not vals.size:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo if hi > lo else max(abs(hi), 1e-3)
    return lo - 0.05 * span, hi + 0.05 * span


def write_leaderboard_html(
    df: Any,
    path: str | os.PathLike,
    run_dirs: Sequence[str | os.PathLike],
    *,
    write_reports: bool = True,
    title: str = "spf-bench leaderboard",
) -> Path:
    """Write ``leaderboard.html``: the leaderboard as a sortable table with CI bars, each row
    linking to the ``report.html`` of the run(s) behind it.

    Args:
        df: the leaderboard (``pandas.DataFrame`` of
            :func:`spf_bench.bench.leaderboard.build_leaderboard`: model, retime, embedder,
            pacing, the ``linearity_*`` and ``delta_linearity*`` CI columns, and, where present,
            ``config_hash`` or ``config_hashes`` (``+``-joined) and ``vbench_<dim>_mean/_std``).
        path: output HTML file (written atomically), e.g. ``results/leaderboard.html``.
        run_dirs: the run directories behind the rows. A row links to every run whose records
            have its model, retime, embedder and pacing and, when the leaderboard has a config
            hash column, one of its config hashes.
        write_reports: write the ``report.html`` of a run that has none, or whose report is
            older than its ``records.parquet`` (:func:`write_report`), so that no link is
            broken. With ``False``, a row whose run has no report shows its run directory
            without a link.
        title: page heading.

    Returns:
        ``path``.

    Raises:
        NotARunError: a listed run directory holds no records (with ``write_reports``).
    """
    from spf_bench.bench.leaderboard import GROUP_KEYS, VBENCH_PREFIX

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
    dims = sorted(
        c[len(VBENCH_PREFIX) : -len("_mean")]
        for c in df.columns
        if c.startswith(VBENCH_PREFIX) and c.endswith("_mean")
    )
    ext = sorted(
        c[len("ext_") : -len("_mean")]
        for c in df.columns
        if c.startswith("ext_") and c.endswith("_mean")
    )
    ident = [c for c in ("seed", "config_hash", "config_hashes") if c in df.columns]
    rows = []
    for r in df.to_dict("records"):
        key = tuple(str(r[k]) for k in GROUP_KEYS)
        hashes = _row_hashes(r)
        links = []
        for d in (d for d, g in runs if key in g and (hashes is None or g[key] & hashes)):
            rep = d / REPORT_NAME
            if rep.is_file():
                try:
                    href = _url(Path(os.path.relpath(rep.resolve(), base)).as_posix())
                except ValueError:  # another drive (Windows): no relative path exists
                    href = rep.resolve().as_uri()
                links.append(f"<a href='{_e(href)}'>{_e(d.name or d)}</a>")
            else:
                links.append(f"<span class='sub'>{_e(d)} (no report)</span>")
        vb = "".join(
            f"<td data-v='{_dv(r.get(f'vbench_{d}_mean'))}'>"
            f"{_pm(r.get(f'vbench_{d}_mean'), r.get(f'vbench_{d}_std'), '.3f')}</td>"
            for d in dims
        )
        for m in ext:  # external per-video metrics: mean, Spearman rho vs Linearity [95% CI]
            mean, rho = r.get(f"ext_{m}_mean"), r.get(f"ext_{m}_rho")
            rci = _ci(r.get(f"ext_{m}_rho_ci_low"), r.get(f"ext_{m}_rho_ci_high"), ".2f")
            vb += f"<td data-v='{_dv(mean)}'>{_num(mean, '.3f')}</td>"
            vb += f"<td data-v='{_dv(rho)}'>{_num(rho, '+.2f')} {rci}</td>"
        bar_l = _ci_bar(
            r.get("linearity_mean"),
            r.get("linearity_ci_low"),
            r.get("linearity_ci_high"),
            *lin,
            zero=False,
        )
        ci_l = _ci(r.get("linearity_ci_low"), r.get("linearity_ci_high"), ".3f")
        bar_d = _ci_bar(
            r.get("delta_linearity"),
            r.get("delta_linearity_ci_low"),
            r.get("delta_linearity_ci_high"),
            *dlt,
            zero=True,
        )
        ci_d = _ci(r.get("delta_linearity_ci_low"), r.get("delta_linearity_ci_high"), ".3f")
        hl, hd = r.get("heldout_linearity"), r.get("heldout_delta")
        ci_h = _ci(r.get("heldout_delta_ci_low"), r.get("heldout_delta_ci_high"), ".3f")
        held_by = str(r.get("heldout_embedders") or "").replace("+", ", ")
        held = (
            f"<td data-v='{_dv(hl)}'>{_num(hl, '.3f')}"
            + (f" <span class='sub'>({_e(held_by)})</span>" if held_by else "")
            + f"</td><td data-v='{_dv(hd)}'>{_num(hd, '+.3f')} {ci_h}</td>"
        )
        lm, dl = r.get("linearity_mean"), r.get("delta_linearity")
        mj, gt = r.get("max_jump_mean"), r.get("rms_s_vs_designed_mean")
        rows.append(
            "<tr>"
            + "".join(f"<td class='l'>{_e(r[k])}</td>" for k in (*GROUP_KEYS, *ident))
            + f"<td>{_e(r.get('n'))}</td><td>{_e(r.get('n_failed'))}</td>"
            f"<td data-v='{_dv(lm)}'>{_pm(lm, r.get('linearity_std'), '.3f')}</td>"
            f"<td data-v='{_dv(lm)}'>{bar_l} {ci_l}</td>"
            f"<td data-v='{_dv(dl)}'>{bar_d} {_num(dl, '+.3f')} {ci_d}</td>{held}"
            f"<td data-v='{_dv(mj)}'>{_num(mj, '.3f')}</td>"
            f"<td data-v='{_dv(gt)}'>{_num(gt, '.3f')}</td>{vb}"
            f"<td class='l runs'>{' '.join(links) or '–'}</td></tr>"
        )
    vb_head = "".join(f"<th>VBench {_e(d)}</th>" for d in dims)
    vb_head += "".join(
        f"<th>{_e(m)} (mean)</th><th>{_e(m)}: Spearman ρ vs Linearity [95% CI]</th>" for m in ext
    )
    table = (
        "<table class='sortable'><thead><tr>"
        + "".join(f"<th class='l'>{_e(k.replace('_', ' '))}</th>" for k in (*GROUP_KEYS, *ident))
        + "<th>n</th><th>failed</th><th>Linearity (mean ± std)</th>"
        f"<th>95% CI of the mean Linearity</th><th>Δ vs baseline [95% CI]</th>"
        "<th>held-out Linearity (embedders that did not steer)</th>"
        "<th>held-out Δ [95% CI]</th>"
        f"<th>max jump</th><th>RMS(S − designed)</th>{vb_head}"
        "<th class='l'>report</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    notes = (
        "<p class='sub'>One row per model × retime × embedder × pacing"
        + (" × " + " × ".join(c.replace("_", " ") for c in ident) if ident else "")
        + "; each item scored at its final ReTime iteration. Bars: 95% BCa bootstrap CI (blue) "
        "and mean (orange) on a scale "
        "shared by the column; the Δ column marks 0. Click a header to sort. The CSV beside this "
        "file holds every column.</p>"
    )
    body = f"<h1>{_e(title)}</h1>{notes}{table}"
    atomic_write_text(path, _page(title, body))
    return path
