"""Read-only views on run directories: the leaderboard, the external-metric join, the
Markdown and HTML renderings, the run report and the figures of ``results/``. A view reads run
directories and writes only its own files, atomically; statistics come from
:mod:`spf_bench.bench.results.stats`, HTML and Markdown from the Jinja2 templates of
``bench/views/templates/``. Modules, each importing only those above it: ``render`` (formatters,
templates), ``load`` (runs, records, VBench merge), ``external`` (``--external`` metrics),
``report`` (report.html, leaderboard.html), ``leaderboard`` (table, CSV / Markdown, command),
``figures`` (``results/``). Details: ``bench/views/README.md``.
"""
