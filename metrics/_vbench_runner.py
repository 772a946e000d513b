"""Run VBench 0.1.5's Python API on a folder of staged videos (runs inside ``.venv-vbench``).

This script is executed by ``.venv-vbench/bin/python -I`` as a subprocess of
:func:`spf_bench.metrics.vbench.runner.run_vbench`; it must not import spf-bench (whose
dependencies clash with VBench's pins) and uses only the standard library, torch and VBench.
Usage::

    .venv-vbench/bin/python -I metrics/_vbench_runner.py JOB.json

``-I`` (isolated mode) is required: without it Python puts this file's folder, ``metrics/``,
first on ``sys.path``, and ``import vbench`` would find spf-bench's ``metrics/vbench/``
instead of the VBench package. The script does not edit ``sys.path``; run without ``-I`` it
refuses to start (exit status 3).

``JOB.json`` holds ``tasks`` (a list of ``{"tag", "videos_dir", "dimensions"}``; each
``videos_dir`` a flat folder of ``.mp4`` files), ``output_dir``, ``device`` and ``threads``. The
parent sets ``VBENCH_CACHE_DIR``, ``TORCH_HOME`` and ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the
environment before this process starts (VBench reads the cache folder at import time).

For each task and dimension, one call of
``VBench(device, None, output_dir).evaluate(videos_dir, "<tag>__<dim>", dimension_list=[dim],
mode="custom_input", local=True)`` writes ``output_dir/<tag>__<dim>_eval_results.json``; a
dimension that raises is recorded as failed with its traceback and the others still run.
Downloads are blocked: ``wget``, ``curl``, ``git`` and ``unzip`` on ``PATH`` are replaced by
scripts that fail loudly, and ``torch.hub.download_url_to_file`` / ``urllib.request.urlretrieve``
raise. (The parent's pre-flight check makes these unreachable; they are the second line of
defence against VBench's hidden downloads.)

Writes ``output_dir/runner_result.json``::

    {"vbench_version": str, "torch_version": str, "device": str,
     "n_frames": {tag: {file name: frames decord reads, -1 if unreadable}},
     "tasks": {tag: {dim: {"status": "ok" | "failed", "error": str, "seconds": float,
                           "results_file": str}}}}

Exit status: 0 when the result file was written (even if dimensions failed), 3 on a bad job
or when started without ``-I``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import traceback
from pathlib import Path

BLOCKED_TOOLS = ("wget", "curl", "git", "unzip")
BLOCK_MESSAGE = (
    "spf-bench: VBench tried to fetch a missing file with {tool}; downloads are disabled. "
    "Provision the weights as in docs/vbench.md and run again."
)


def _block_downloads(bin_dir: Path) -> None:
    """Put failing stand-ins for download tools first on PATH and patch Python downloaders."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in BLOCKED_TOOLS:
        shim = bin_dir / tool
        # Single-quoted literal: the shell expands nothing in it (no recursion into a shim).
        msg = BLOCK_MESSAGE.format(tool=tool).replace("'", "")
        shim.write_text(f"#!/bin/sh\nprintf '%s\\n' '{msg}' >&2\nexit 97\n")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"

    def _refuse(url, *args, **kwargs):
        raise RuntimeError(
            f"spf-bench: VBench tried to download {url}; downloads are disabled. "
            "Provision the weights as in docs/vbench.md."
        )

    import urllib.request

    import torch.hub

    urllib.request.urlretrieve = _refuse
    torch.hub.download_url_to_file = _refuse


def _frame_counts(videos_dir: Path) -> dict[str, int]:
    """Frames decord reads per video (VBench's loader for the consistency dimensions)."""
    from decord import VideoReader

    out = {}
    for p in sorted(videos_dir.iterdir()):
        if p.suffix.lower() != ".mp4":
            continue
        try:
            out[p.name] = len(VideoReader(str(p), num_threads=1))
        except Exception:  # noqa: BLE001 - an unreadable video is reported by the parent
            out[p.name] = -1
    return out


def _shadowed() -> bool:
    """Whether this file's folder is on ``sys.path`` (started without ``-I``): then
    ``import vbench`` would find spf-bench's ``metrics/vbench/``, not VBench."""
    here = Path(__file__).resolve().parent
    return any(Path(p or ".").resolve() == here for p in sys.path)


def main(argv: list[str]) -> int:
    """Run the job file ``argv[1]``; returns the exit status (module docstring)."""
    if len(argv) != 2:
        print("usage: python -I _vbench_runner.py JOB.json", file=sys.stderr)
        return 3
    if _shadowed():
        print(
            "_vbench_runner: start it with `python -I` (isolated mode): its folder is on "
            "sys.path, so `import vbench` would find spf-bench's metrics/vbench/",
            file=sys.stderr,
        )
        return 3
    try:
        job = json.loads(Path(argv[1]).read_text())
        out_dir = Path(job["output_dir"])
        tasks = [
            (str(t["tag"]), Path(t["videos_dir"]), [str(d) for d in t["dimensions"]])
            for t in job["tasks"]
        ]
        device = str(job.get("device", "cpu"))
        threads = int(job.get("threads", 1))
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"_vbench_runner: bad job file {argv[1]}: {err}", file=sys.stderr)
        return 3
    if "VBENCH_CACHE_DIR" not in os.environ:
        print("_vbench_runner: VBENCH_CACHE_DIR must be set before import", file=sys.stderr)
        return 3
    out_dir.mkdir(parents=True, exist_ok=True)

    import torch

    torch.set_num_threads(max(1, threads))
    _block_downloads(out_dir / "_blocked_bin")

    from vbench import VBench

    result = {
        "vbench_version": _version("vbench"),
        "torch_version": torch.__version__,
        "device": device,
        "n_frames": {},
        "tasks": {},
    }
    for tag, videos_dir, dims in tasks:
        result["n_frames"][tag] = _frame_counts(videos_dir)
        result["tasks"][tag] = {}
        for dim in dims:
            t0 = time.perf_counter()
            name = f"{tag}__{dim}"
            entry = {"status": "ok", "error": "", "results_file": f"{name}_eval_results.json"}
            try:
                VBench(device, None, str(out_dir)).evaluate(
                    str(videos_dir), name, dimension_list=[dim], mode="custom_input", local=True
                )
                if not (out_dir / entry["results_file"]).is_file():
                    raise RuntimeError(f"VBench wrote no {entry['results_file']}")
            except (Exception, SystemExit) as err:  # noqa: BLE001 - recorded per dimension
                entry["status"] = "failed"
                entry["error"] = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
            entry["seconds"] = time.perf_counter() - t0
            result["tasks"][tag][dim] = entry
    (out_dir / "runner_result.json").write_text(json.dumps(result, indent=2))
    return 0


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001 - informative only
        return ""


if __name__ == "__main__":
    sys.exit(main(sys.argv))
