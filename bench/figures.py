"""``python bench/figures.py [RUNS ...]``: step 4 of ``make figures``.

The code lives in :mod:`spf_bench.bench.views.figures` (a read-only view); this module keeps
the script path of ``make figures``.
"""

from spf_bench.bench.views.figures import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
