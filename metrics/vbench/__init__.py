"""VBench fidelity scores, the one-std verdict and long-video drift (paper Sec. 6).

The paper's fidelity claim (docs/method.md, Sec. 6): VBench's aesthetic, motion and temporal
dimensions of retimed videos stay within one standard deviation of the originals. This adapter
measures exactly that with VBench 0.1.5 itself (Huang et al., "VBench: Comprehensive Benchmark
Suite for Video Generative Models", CVPR 2024), run in its own virtual environment
``.venv-vbench`` (``make vbench-env``) because its pins (numpy<2, transformers==4.33.2) clash
with spf-bench's.

The package re-exports the public API; the parts:

=========================  ===================================================================
module                     what
=========================  ===================================================================
:mod:`.registry`           :data:`DIMENSIONS` (weight files, scales, aggregation),
                           :class:`VBenchSettings`, errors, :func:`preflight`,
                           :func:`provisioning_script` (also ``python -m``, :mod:`.__main__`)
:mod:`.runner`             staging and the subprocess in the VBench venv (:func:`run_vbench`;
                           the script it runs is ``metrics/_vbench_runner.py``)
:mod:`.parsing`            per-video parsing, normalisation and the aggregate check
                           (:func:`parse_dimension_results`), :class:`VBenchResult`
:mod:`.drift`              long-video drift (:func:`flicker_drift`, :func:`spf_pace_drift`;
                           SPFs measured with :mod:`spf_bench.metrics.measure`)
:mod:`.verdict`            the one "within one standard deviation" verdict
                           (:func:`verdict_table`)
:mod:`.score`              :func:`score_videos`, the entry point, and :func:`videos_in`
:mod:`.payload`            ``vbench.json`` (:func:`~.payload.result_payload`), a plain folder
                           scored (:func:`~.payload.score_folder`), the command's tables
=========================  ===================================================================

Run directories (``records.parquet``, ``vbench.json``, ``records_vbench.parquet``) are the
bench's business: :mod:`spf_bench.bench.vbench_run` (``score_run``). Nothing here imports
``spf_bench.bench`` or Hydra.

Flow of :func:`score_videos` (numbered as in the code):

1. check the dimension names, the VBench venv and **every weight file** the dimensions need
   (:func:`check_weights`), before anything runs: VBench would otherwise shell out to ``wget``;
2. decode every video with PyAV (:func:`spf_bench.metrics.video_io.read_video`); an unreadable or
   truncated one fails here, by name (VBench would silently drop it or read half of it); the
   in-process drift figures are computed on these frames (:func:`frame_drift`; the SPF pace
   drift measures with :mod:`spf_bench.metrics.measure` and the caller's SPF settings);
3. stage the readable videos as ``v00000.mp4``, ``v00001.mp4``... (symlinks) in one flat temp
   folder: VBench lists videos with a non-recursive, unsorted ``os.listdir`` and keys its output
   on the staged path, which maps back to the caller's key;
4. run ``metrics/_vbench_runner.py`` with ``.venv-vbench/bin/python -I`` (``VBENCH_CACHE_DIR``,
   ``TORCH_HOME`` and ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` set in its environment, downloads
   blocked), one VBench ``evaluate(..., mode="custom_input", local=True)`` per dimension;
5. parse each ``<dim>_eval_results.json`` (:func:`parse_dimension_results`) with the scale
   quirks of :data:`DIMENSIONS` and check VBench's aggregate against one recomputed from the
   per-video values (a misread scale or a lost video fails loudly); a video VBench returned no
   score for is a recorded failure (NaN plus the reason), never a silent gap; VBench dimensions
   scored on the first/last 15% clips become ``vbench_<dim>`` drift figures.

Scores are normalised to one scale per dimension, the scale of VBench's own aggregate:
``imaging_quality`` per-video values (MUSIQ, 0-100) are divided by 100; ``dynamic_degree``
per-video booleans become 0.0 / 1.0; every other dimension is already in [0, 1]. The raw
values are kept too.

Command line (a connected machine; docs/vbench.md, Sec. 3)::

    python -m spf_bench.metrics.vbench provision-script [DIM ...] > get_vbench_weights.sh
"""

from __future__ import annotations

from spf_bench.metrics.vbench.drift import (
    DRIFT_FRACTION,
    DRIFT_METRICS,
    flicker_drift,
    flicker_score,
    frame_drift,
    segment_bounds,
    spf_pace_drift,
)
from spf_bench.metrics.vbench.parsing import VBenchResult, parse_dimension_results
from spf_bench.metrics.vbench.registry import (
    DEFAULT_VENV,
    DIMENSIONS,
    ROOT,
    VBENCH_VERSION,
    Dimension,
    MissingVBenchWeightsError,
    VBenchEnvError,
    VBenchError,
    VBenchOutputError,
    VBenchSettings,
    WeightFile,
    check_weights,
    missing_weights,
    preflight,
    provisioning_script,
    venv_python,
)
from spf_bench.metrics.vbench.runner import RUNNER, run_vbench, stage_videos
from spf_bench.metrics.vbench.score import VIDEO_SUFFIXES, score_videos, videos_in
from spf_bench.metrics.vbench.verdict import (
    VERDICT_KEYS,
    one_std_verdict,
    original_and_retimed,
    verdict_table,
)

__all__ = [
    "DEFAULT_VENV",
    "DIMENSIONS",
    "DRIFT_FRACTION",
    "DRIFT_METRICS",
    "ROOT",
    "RUNNER",
    "VBENCH_VERSION",
    "VERDICT_KEYS",
    "VIDEO_SUFFIXES",
    "Dimension",
    "MissingVBenchWeightsError",
    "VBenchEnvError",
    "VBenchError",
    "VBenchOutputError",
    "VBenchResult",
    "VBenchSettings",
    "WeightFile",
    "check_weights",
    "flicker_drift",
    "flicker_score",
    "frame_drift",
    "missing_weights",
    "one_std_verdict",
    "original_and_retimed",
    "parse_dimension_results",
    "preflight",
    "provisioning_script",
    "run_vbench",
    "score_videos",
    "segment_bounds",
    "spf_pace_drift",
    "stage_videos",
    "venv_python",
    "verdict_table",
    "videos_in",
]
