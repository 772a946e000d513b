"""spf-bench's Hydra configuration, shipped as package data (``spf_bench.conf``).

Hydra finds it through the ``pkg://spf_bench.conf`` search path; the schemas that type it are
in :mod:`spf_bench.conf.schema` (outside config folders and generator entry points:
:mod:`spf_bench.conf.plugins`). :data:`CONF_DIR` is its folder on disk (prompt suites and
model files are read from there).
"""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
