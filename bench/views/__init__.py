"""Read-only views on run directories: the leaderboard, the external-metric join, the
Markdown and HTML renderings, the run report and the figures of ``results/``.

A view only reads run directories (records, ``spf/*.npz``, videos, ``config.json``,
``summary.json``) and writes its own output files atomically; it never changes a run. The
statistics come from one place (:mod:`spf_bench.bench.views.stats`), the HTML from Jinja2
templates (``bench/views/templates/``).

Modules, in the order they import each other (no cycles)::

    stats      final record, bootstrap CI, held-out mean, mean / std
    load       run discovery and record loading (VBench scores merged), settings hash
    external   external per-video metrics: formats, join, Spearman correlation
    markdown   Markdown tables and the leaderboard's Markdown page
    report     report.html of a run, leaderboard.html (Jinja2 templates)
    leaderboard  the leaderboard table, its CSV / Markdown / HTML and its command
    figures    the paper's figures, the results/ tables and results/README.md
"""
