"""``spf-bench report RUN_DIR [RUN_DIR ...]``: write each run's HTML report.

Each ``RUN_DIR`` gets ``RUN_DIR/report.html`` (pages and assets under ``RUN_DIR/report_assets/``;
:func:`spf_bench.bench.report.write_report`): configuration and provenance, the summary, and per
item the SPF chart, the baseline and last-iteration videos side by side, the keyframe strips and
the scores. It opens from disk in any browser (no server, no network).

Exit status: 0 when every report was written; 2 when an argument is not a run directory (or its
``config.json`` / ``summary.json`` is unreadable): the other reports are still written, then one
line per bad argument goes to stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_report_parser", "cmd_report"]

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_report_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``report`` sub-command on ``spf-bench``'s sub-parsers.

    Args:
        sub: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The ``report`` parser; its ``func`` default is :func:`cmd_report`.
    """
    from spf_bench.bench.report import PAGE_SIZE

    p = sub.add_parser(
        "report",
        help="write <run_dir>/report.html: SPF charts, videos side by side, keyframes, scores",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    p.add_argument(
        "--page-size",
        type=int,
        default=PAGE_SIZE,
        help="items per page of the report (default: %(default)s)",
    )
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report of every ``args.run_dirs``; returns the exit status (module docs)."""
    from spf_bench.bench.report import NotARunError, write_report

    if args.page_size < 1:
        print(f"spf-bench report: --page-size must be >= 1, got {args.page_size}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bad = []
    for d in args.run_dirs:
        try:
            path = write_report(d, page_size=args.page_size)
        except (NotARunError, ValueError) as err:
            bad.append(f"spf-bench report: bad input: {err}")
            continue
        print(f"wrote {path}")
    for line in bad:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_OK
