"""``spf-bench study reread``: a finished run re-read under every SPF estimator from its
stored embeddings (bench/studies/reread.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results.record import to_frame
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.studies import reread
from spf_bench.metrics.measure import measure_embeddings


@pytest.fixture
def morph_run(compose_cfg, tmp_path):
    out = tmp_path / "run"
    cfg = compose_cfg(
        [
            f"run_dir={out}", "progress=false", "logger=none", "report=false", "model=morph",
            "retime=warped", "retime.iterations=1", "embedder=pixel", "n_videos=3",
            "eval_embedders=[]",
        ]
    )  # fmt: skip
    run_benchmark(settings_from_config(cfg))
    return out


def test_reread_matches_the_records_and_reads_both_estimators(morph_run, capsys):
    table = reread.reread_run(morph_run)
    assert list(table.columns) == list(reread.COLUMNS)
    pairs = set(zip(table.embedder, table.estimator, strict=True))
    assert pairs == {("pixel", "paper"), ("pixel", "link")}
    df = to_frame(RunDir(morph_run).table_records())
    # the run's own estimator (link, the default) re-read gives the recorded scores exactly
    own = table[table.estimator == "link"].iloc[0]
    base = df[df.iteration == 0].linearity_score.mean()
    final = df[df.iteration == 1].linearity_score.mean()
    assert own.n == 3 and own.role == "guide"
    assert own.baseline == pytest.approx(base, abs=1e-12)
    assert own.final == pytest.approx(final, abs=1e-12)
    assert own.gain == pytest.approx(final - base, abs=1e-12)
    assert own.gain_ci_low <= own.gain <= own.gain_ci_high
    # the paper row is the paper estimator on the same stored embeddings
    paper = table[table.estimator == "paper"].iloc[0]
    rd = RunDir(morph_run)
    settings = dataclasses.replace(rd.spf_settings(), estimator="paper", bootstrap=0)
    scores = []
    for path in df[df.iteration == 0].spf_path:
        with np.load(rd.path / path) as npz:
            z = np.asarray(npz["embeddings"], dtype=np.float64)
        scores.append(measure_embeddings(z, settings).scores.linearity_score)
    assert paper.baseline == pytest.approx(np.mean(scores), abs=1e-12)
    assert paper.baseline != pytest.approx(own.baseline, abs=1e-6)
    assert reread.main([str(morph_run)]) == 0
    out = capsys.readouterr().out
    assert "| pixel | guide | link | 3 |" in out and "| pixel | guide | paper | 3 |" in out


def test_reread_refuses_what_is_not_a_run(tmp_path):
    from spf_bench.bench.results.rundir import RunDirError

    with pytest.raises(RunDirError):
        reread.reread_run(tmp_path)
