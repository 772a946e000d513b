"""The old import path of the HTML report: :mod:`spf_bench.bench.views.report`."""

from spf_bench.bench.views.report import (
    ASSETS_DIR,
    PAGE_SIZE,
    REPORT_NAME,
    NotARunError,
    write_leaderboard_html,
    write_report,
)

__all__ = [
    "ASSETS_DIR",
    "PAGE_SIZE",
    "REPORT_NAME",
    "NotARunError",
    "write_leaderboard_html",
    "write_report",
]
