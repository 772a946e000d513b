"""``spf-bench report``: the old import path of :func:`spf_bench.bench.views.report.add_parser`
and :func:`~spf_bench.bench.views.report.run_command`."""

from spf_bench.bench.views.report import add_parser as add_report_parser
from spf_bench.bench.views.report import run_command as cmd_report

__all__ = ["add_report_parser", "cmd_report"]
