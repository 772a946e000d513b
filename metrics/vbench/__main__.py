"""``python -m spf_bench.metrics.vbench provision-script [DIM ...]``: print the weight download
script (:func:`spf_bench.metrics.vbench.registry.provisioning_script`; docs/vbench.md, Sec. 3).

Exit status 2 with a usage line on any other arguments.
"""

from __future__ import annotations

import sys

from spf_bench.metrics.vbench.registry import provisioning_script


def main(argv: list[str]) -> int:
    """Write the script for the dimensions ``argv[2:]`` (all when none) to stdout."""
    if len(argv) < 2 or argv[1] != "provision-script":
        print(
            "usage: python -m spf_bench.metrics.vbench provision-script [DIM ...]",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(provisioning_script(argv[2:] or None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
