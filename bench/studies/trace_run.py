"""The module trace of one run: which modules of ``spf_bench`` a run passes through, in order,
and how often it returns to a module it had already left.

Runs ``spf-bench run <overrides>`` in this process (``spf_bench.bench.run.main`` under Hydra)
with a profile hook (:func:`sys.setprofile`) on the main thread. Every Python function call
whose callee's module (its frame's ``__name__``) lies in ``spf_bench.*`` is one event; module
bodies executed by an import (``<module>`` code) and this study itself are left out. Threads
other than the main one are not traced.

Definitions (computed by :func:`analyse`):

- **call sequence**: the callee modules of the events, in call order. The *bench* sequence keeps
  only callees in ``spf_bench.bench.*``; the *all* sequence keeps every ``spf_bench.*`` callee.
- **module path**: a call sequence with consecutive repeats collapsed to one entry (entering
  ``a`` from ``a``, or calling ``a``, ``a``, ``a`` in a row, is one stay in ``a``). Only calls
  make entries: ``a`` calling ``b`` then, after ``b`` returns, ``c`` gives ``a b c``; ``a``
  calling ``b`` then one of its own functions gives ``a b a``.
- **return to a module already left**: an entry ``path[i]`` of a module path that already
  occurs in ``path[:i]``. Collapsing guarantees ``path[i - 1] != path[i]``, so some other module
  came between; hence ``returns = len(path) - len(set(path))``. A run that visits every module
  once, in one pass, has 0.
- **pair of a return**: the unordered pair ``{path[i - 1], path[i]}`` (the module just left and
  the module returned to); the pairs are counted over all returns, most frequent first.
- **orchestration path**: the bench events whose *bench module depth* is at most ``--depth``,
  collapsed like a module path, then each run of a repeated block (``a b a b a b``) written once
  with its count, ``(a → b) x3``, so per-item repetitions read as one step. Returns are counted
  on the full paths, not on this summary. The bench module depth of a call is 1 for the
  outermost ``spf_bench.bench.*`` frame on the stack and grows by one at each bench frame whose
  module differs from its nearest bench caller's (calls within a module keep the depth).

Prints Markdown to stdout; ``--out FILE`` also writes the JSON (paths, counts, pairs).

Usage: ``spf-bench study trace_run [--out trace.json] [--depth 3] -- <run overrides>``, e.g.
``spf-bench study trace_run --out /tmp/t.json -- experiment=demo n_videos=2 logger=none
run_dir=/tmp/r``. The file imports nothing of ``spf_bench`` at module top, so that it can trace
another checkout's code (``python trace_run.py ...`` with that checkout installed).
"""

from __future__ import annotations

import argparse
import collections
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spf_bench.metrics.atomic_io import atomic_write_json

__all__ = ["analyse", "collapse", "compress_repeats", "main", "trace"]

PACKAGE = "spf_bench."
BENCH = "spf_bench.bench."
SELF = __name__ if __name__ != "__main__" else "spf_bench.bench.studies.trace_run"


def trace(call: Callable[[], Any]) -> list[tuple[str, int]]:
    """Run ``call()`` under a profile hook and return its ``spf_bench`` call events.

    Args:
        call: the function to trace (on this thread).

    Returns:
        ``(module, bench_depth)`` per Python call into a ``spf_bench.*`` function, in call order
        (module bodies and this study excluded); ``bench_depth`` is the bench module depth of the
        call (module docstring; 0 for a callee outside ``spf_bench.bench``).
    """
    events: list[tuple[str, int]] = []
    stack: list[tuple[int, str, int]] = []  # open bench frames: (id, module, module depth)

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_globals.get("__name__", "")
            if not name.startswith(PACKAGE) or name == SELF or frame.f_code.co_name == "<module>":
                return
            if not name.startswith(BENCH):
                events.append((name, 0))
                return
            depth = 1 if not stack else stack[-1][2] + (stack[-1][1] != name)
            stack.append((id(frame), name, depth))
            events.append((name, depth))
        elif event == "return" and stack and stack[-1][0] == id(frame):
            stack.pop()

    sys.setprofile(hook)
    try:
        call()
    finally:
        sys.setprofile(None)
    return events


def collapse(seq: Sequence[Any]) -> list[Any]:
    """``seq`` with consecutive repeats collapsed to one entry (the module path)."""
    return [m for i, m in enumerate(seq) if i == 0 or seq[i - 1] != m]


def compress_repeats(path: Sequence[str], max_period: int = 8) -> list[tuple[tuple[str, ...], int]]:
    """Greedy run-length coding of repeated blocks: ``a b a b a b c`` -> ``[((a, b), 3), ((c,),
    1)]``. At each position the block length (1 to ``max_period``) covering the most entries
    with at least two repeats wins (the shorter block on ties)."""
    out: list[tuple[tuple[str, ...], int]] = []
    i = 0
    while i < len(path):
        best = (1, 1)
        for p in range(1, max_period + 1):
            block = tuple(path[i : i + p])
            if len(block) < p:
                break
            k = 1
            while tuple(path[i + k * p : i + (k + 1) * p]) == block:
                k += 1
            if k >= 2 and p * k > best[0] * best[1]:
                best = (p, k)
        p, k = best
        out.append((tuple(path[i : i + p]), k))
        i += p * k
    return out


def _short(module: str) -> str:
    return module.removeprefix(PACKAGE)


def _returns(path: Sequence[str]) -> tuple[int, collections.Counter]:
    seen: set[str] = set()
    pairs: collections.Counter = collections.Counter()
    for i, m in enumerate(path):
        if m in seen:
            pairs[" <-> ".join(sorted((_short(path[i - 1]), _short(m))))] += 1
        seen.add(m)
    return sum(pairs.values()), pairs


def analyse(events: Sequence[tuple[str, int]], depth: int = 3) -> dict[str, Any]:
    """The module paths, return counts and return pairs of :func:`trace`'s events (definitions
    in the module docstring).

    Args:
        events: ``(module, bench_depth)`` per call.
        depth: the largest bench call depth shown in the orchestration path.

    Returns:
        ``n_calls``, ``bench_path``, ``all_path`` (short module names), ``bench_returns``,
        ``all_returns``, ``bench_pairs``, ``all_pairs`` (pair -> count, most frequent first),
        ``orchestration`` (``[[block, count], ...]``), ``depth``, and ``events`` (the events
        with consecutive repeats collapsed, ``[[module, bench_depth], ...]``: enough to redo
        the analysis at another depth).
    """
    bench = collapse([m for m, _ in events if m.startswith(BENCH)])
    every = collapse([m for m, _ in events])
    top = collapse([m for m, d in events if 0 < d <= depth])
    n_bench, bench_pairs = _returns(bench)
    n_all, all_pairs = _returns(every)
    return {
        "n_calls": len(events),
        "depth": depth,
        "bench_returns": n_bench,
        "all_returns": n_all,
        "bench_modules": len(set(bench)),
        "all_modules": len(set(every)),
        "bench_pairs": dict(bench_pairs.most_common()),
        "all_pairs": dict(all_pairs.most_common()),
        "orchestration": [[[_short(m) for m in b], k] for b, k in compress_repeats(top)],
        "bench_path": [_short(m) for m in bench],
        "all_path": [_short(m) for m in every],
        "events": [[_short(m), d] for m, d in collapse(list(events))],
    }


def markdown(result: dict[str, Any], top: int = 10) -> str:
    """The Markdown summary of :func:`analyse`'s result."""
    steps = []
    for block, k in result["orchestration"]:
        text = " → ".join(block)
        steps.append(
            f"({text}) x{k}"
            if k > 1 and len(block) > 1
            else f"{text}" + (f" x{k}" if k > 1 else "")
        )
    lines = [
        f"# Module trace of one run ({result['n_calls']} calls into spf_bench)",
        "",
        f"Orchestration path (bench module depth <= {result['depth']}):",
        "",
        " → ".join(steps),
        "",
        "| path | modules | entries | returns to a module already left |",
        "|---|---|---|---|",
        f"| spf_bench.bench.* | {result['bench_modules']} | {len(result['bench_path'])} "
        f"| {result['bench_returns']} |",
        f"| spf_bench.* | {result['all_modules']} | {len(result['all_path'])} "
        f"| {result['all_returns']} |",
    ]
    for key, title in (("bench_pairs", "bench"), ("all_pairs", "all")):
        lines += ["", f"Top pairs of the returns ({title}):", "", "| pair | returns |", "|---|---|"]
        lines += [f"| {p} | {n} |" for p, n in list(result[key].items())[:top]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``spf-bench study trace_run [--out FILE] [--depth N] -- <run overrides>``."""
    parser = argparse.ArgumentParser(prog="spf-bench study trace_run", description=__doc__)
    parser.add_argument("--out", type=Path, help="JSON output file")
    parser.add_argument("--depth", type=int, default=3, help="orchestration path depth")
    parser.add_argument("overrides", nargs="*", help="spf-bench run overrides (after --)")
    args = parser.parse_args(argv)
    run = importlib.import_module("spf_bench.bench.run")
    saved = sys.argv
    sys.argv = ["spf-bench run", *args.overrides]
    t0 = time.perf_counter()
    try:
        events = trace(run.main)
    finally:
        sys.argv = saved
    result = analyse(events, depth=args.depth)
    result["overrides"] = list(args.overrides)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(markdown(result))
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
