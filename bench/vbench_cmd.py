"""``spf-bench vbench DIR [--dims DIM ...]``: VBench fidelity scores, verdict and drift.

``DIR`` is either a run directory (it has ``records.parquet``; its videos are the records'
``video_path``) or any folder of videos (every ``.mp4/.mov/.mkv/.webm/.avi/.m4v`` under it,
keyed by the path relative to ``DIR``). VBench 0.1.5 runs in ``.venv-vbench``
(:mod:`spf_bench.metrics.vbench`; files: :mod:`spf_bench.bench.vbench_run`); the command prints
the per-video scores, the aggregates, the long-video drift and, for a run directory, the
verdict table (is the retimed mean within one std of the original?), and writes
``DIR/vbench.json`` (run directories also get ``records_vbench.parquet``, the ``vbench`` entry
of ``summary.json`` and, when they have one, a fresh ``report.html``). ``--frechet EMBEDDER``
adds the offline Fréchet fidelity (:func:`spf_bench.bench.vbench_run.frechet_fidelity`) to a
run directory's ``vbench.json`` and verdict.

Exit status: 0 when every video was scored on every dimension; 2 when something could not be
scored (missing weights or VBench environment: nothing runs, the message lists what is missing;
unreadable videos or a failed dimension: the rest is scored and written, then one line per
failure on stderr). No traceback either way.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_vbench_parser", "cmd_vbench"]

EXIT_OK, EXIT_FAILED = 0, 2


def add_vbench_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``vbench`` sub-command on ``spf-bench``'s sub-parsers."""
    from spf_bench.metrics.vbench import DIMENSIONS

    p = sub.add_parser(
        "vbench",
        help="VBench scores, one-std verdict and long-video drift of a run or a folder",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("dir", help="a run directory (with records.parquet) or a folder of videos")
    p.add_argument(
        "--dims",
        nargs="+",
        default=list(DIMENSIONS),
        choices=list(DIMENSIONS),
        metavar="DIM",
        help="VBench dimensions (default: all: %(default)s); temporal_flickering needs no weights",
    )
    p.add_argument(
        "--cache-dir", help="VBench weights (default: $VBENCH_CACHE_DIR or ~/.cache/vbench)"
    )
    p.add_argument(
        "--torch-home",
        help="TORCH_HOME with the DINO checkpoint (default: $TORCH_HOME or ~/.cache/torch)",
    )
    p.add_argument("--venv", help="the VBench venv (default: <repo>/.venv-vbench)")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in VBench")
    p.add_argument("--no-drift", action="store_true", help="skip the long-video drift figures")
    p.add_argument(
        "--drift-dims",
        nargs="*",
        default=None,
        choices=list(DIMENSIONS),
        metavar="DIM",
        help="VBench dimensions also scored on the first/last 15%% of frames "
        "(default: imaging_quality and aesthetic_quality among --dims)",
    )
    p.add_argument(
        "--embedder",
        default="efficientnet_lite0",
        help="frame embedder for the SPF pace drift of a plain folder (run directories use "
        "their spf/*.npz); 'none' skips it (default: %(default)s)",
    )
    p.add_argument(
        "--frechet",
        default="none",
        metavar="EMBEDDER",
        help="run directories: also the offline Fréchet distance of this embedder's frame "
        "features to evenly paced crossfade references, with its one-std verdict "
        "(e.g. efficientnet_lite0; default: %(default)s)",
    )
    p.add_argument("--out", help="plain folders only: where vbench.json goes (default: DIR)")
    p.add_argument("--work-dir", help="keep VBench's staged videos, output and log")
    p.add_argument("--timeout", type=float, help="limit of the VBench process, s")
    p.set_defaults(func=cmd_vbench)
    return p


def _fmt(v: Any, spec: str = ".4f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "nan"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return format(v, spec)


def _print_tables(payload: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    dims = payload["dimensions"]
    t = Table(title="VBench per video (normalised: all dimensions on VBench's aggregate scale)")
    t.add_column("video", justify="left")
    for d in dims:
        t.add_column(d, justify="right")
    drift_metrics = list(payload.get("drift_metrics", {}))
    for m in drift_metrics:
        t.add_column(f"drift {m} (%)", justify="right")
    for key, v in payload["videos"].items():
        t.add_row(
            key,
            *(_fmt(v["scores"].get(d)) for d in dims),
            *(_fmt(v["drift"].get(m), ".3f") for m in drift_metrics),
        )
    console.print(t)
    a = Table(title="VBench aggregates")
    for col in ("dimension", "VBench aggregate", "aggregation", "n", "mean", "std"):
        a.add_column(col, justify="left" if col in ("dimension", "aggregation") else "right")
    for d, st in payload["aggregate"].items():
        n = str(st["n"])
        a.add_row(d, _fmt(st["vbench"]), st["aggregation"], n, _fmt(st["mean"]), _fmt(st["std"]))
    console.print(a)
    verdict = payload.get("verdict") or []
    if any(r["n_retimed"] for r in verdict):
        v = Table(title="Verdict: retimed mean within one std of the original (paper Sec. 6)")
        left = ("model", "retime", "embedder", "pacing", "dimension")
        right = ("n orig", "original mean ± std", "n ret", "retimed mean", "delta / std")
        for col in (*left, *right, "within 1 std"):
            v.add_column(col, justify="left" if col in left else "right")
        for r in verdict:
            v.add_row(
                r["model"],
                r["retime"],
                r["embedder"],
                r["pacing"],
                r["dimension"],
                str(r["n_original"]),
                f"{_fmt(r['original_mean'])} ± {_fmt(r['original_std'])}",
                str(r["n_retimed"]),
                _fmt(r["retimed_mean"]),
                _fmt(r["delta_in_std"], "+.2f"),
                "n/a" if r["within_one_std"] is None else _fmt(r["within_one_std"]),
            )
        console.print(v)
    elif "verdict" in payload:
        console.print("verdict: no retimed iterations (iteration > 0) in these records")
    for m, what in payload.get("drift_metrics", {}).items():
        console.print(f"drift {m}: {what}")


def _update_run(run_dir: Path, payload: dict[str, Any]) -> None:
    """A scored run directory's ``summary.json`` gets the ``vbench`` entry a run with
    ``vbench.enabled`` writes (:func:`spf_bench.bench.vbench_run.brief`), and its
    ``report.html``, when there is one, is written again to show it."""
    from spf_bench.bench.results.rundir import RunDir
    from spf_bench.bench.vbench_run import brief
    from spf_bench.bench.views.report import write_report

    rd = RunDir(run_dir)
    summary = rd.maybe_summary()
    if summary is None:
        return
    summary["vbench"] = brief(payload)
    rd.write_summary(summary)
    if rd.report_path.is_file():
        write_report(rd.path)


def cmd_vbench(args: argparse.Namespace) -> int:
    """Run the ``vbench`` sub-command; returns the exit status."""
    from spf_bench.bench.vbench_run import score_folder, score_run
    from spf_bench.metrics.embedders import MissingWeightsError
    from spf_bench.metrics.vbench import VBenchError, VBenchSettings, preflight, videos_in

    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"spf-bench vbench: not a directory: {folder}", file=sys.stderr)
        return EXIT_FAILED
    try:
        s = VBenchSettings(
            enabled=True,
            dims=tuple(args.dims),
            cache_dir=args.cache_dir,
            torch_home=args.torch_home,
            venv=args.venv,
            device=args.device,
            threads=args.threads,
            drift=not args.no_drift,
            drift_dims=None if args.drift_dims is None else tuple(args.drift_dims),
            timeout_s=args.timeout,
        )
        preflight(s)
        out = Path(args.out) if args.out else folder
        if (folder / "records.parquet").is_file():
            if args.out:
                raise ValueError("--out is for plain folders: a run directory keeps vbench.json")
            frechet = None
            if args.frechet != "none":
                from spf_bench.metrics.embedders import build_embedder

                frechet = (args.frechet, build_embedder(args.frechet, progress=False))
            payload = score_run(folder, s, work_dir=args.work_dir, frechet=frechet)
            _update_run(folder, payload)
        else:
            if not videos_in(folder):  # before building an embedder
                print(f"spf-bench vbench: no video files under {folder}", file=sys.stderr)
                return EXIT_FAILED
            embedder = None
            if not args.no_drift and args.embedder != "none":
                from spf_bench.metrics.embedders import build_embedder

                embedder = build_embedder(args.embedder, progress=False)
            payload = score_folder(
                folder, s, out_dir=out, embedder=embedder, work_dir=args.work_dir
            )
    except (VBenchError, MissingWeightsError, ValueError, FileNotFoundError) as err:
        print(f"spf-bench vbench: {err}", file=sys.stderr)
        return EXIT_FAILED
    _print_tables(payload)
    print(f"wrote {out / 'vbench.json'} ({payload['seconds'].get('total', math.nan):.1f} s)")
    for key in payload["failures"]:
        errs = payload["videos"][key]["errors"]
        line = "; ".join(f"{d}: {m.splitlines()[0]}" for d, m in errs.items())
        print(f"spf-bench vbench: failed: {key}: {line}", file=sys.stderr)
    for dim, err in payload["dimension_errors"].items():
        print(f"spf-bench vbench: dimension {dim} failed: {err.splitlines()[0]}", file=sys.stderr)
    return EXIT_FAILED if payload["failures"] or payload["dimension_errors"] else EXIT_OK
