"""``python bench/leaderboard.py RUNS ...``: the leaderboard command.

The code lives in :mod:`spf_bench.bench.views.leaderboard` (a read-only view); this module
keeps the script path and the old import path of its public names.
"""

from spf_bench.bench.results.stats import bootstrap_ci, final_records
from spf_bench.bench.views.external import join_external, load_external, spearman_ci
from spf_bench.bench.views.leaderboard import (
    COLUMNS,
    build_leaderboard,
    grouping_notes,
    main,
    write_leaderboard,
)
from spf_bench.bench.views.load import (
    GROUP_KEYS,
    VBENCH_PREFIX,
    load_records,
    resolve_runs,
    settings_hash,
    vbench_dimensions,
)
from spf_bench.bench.views.markdown import render_markdown
from spf_bench.bench.views.render import markdown_table

__all__ = [
    "COLUMNS",
    "GROUP_KEYS",
    "VBENCH_PREFIX",
    "bootstrap_ci",
    "build_leaderboard",
    "final_records",
    "grouping_notes",
    "join_external",
    "load_external",
    "load_records",
    "main",
    "markdown_table",
    "render_markdown",
    "resolve_runs",
    "settings_hash",
    "spearman_ci",
    "vbench_dimensions",
    "write_leaderboard",
]

if __name__ == "__main__":
    raise SystemExit(main())
