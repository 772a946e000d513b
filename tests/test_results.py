"""The results core: the typed record (every stored version), the run directory's read policy
and SPF-settings parser, and each single statistical definition against a hand-computed answer
(bench/results/record.py, rundir.py, stats.py)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.results import stats
from spf_bench.bench.results.record import (
    COLUMNS,
    RECORD_VERSION,
    HeldoutScores,
    Record,
    from_frame,
    to_frame,
)
from spf_bench.bench.results.rundir import RunDir, RunDirError
from spf_bench.bench.stages import merge_run
from spf_bench.bench.views.leaderboard import build_leaderboard
from spf_bench.bench.views.load import load_records
from spf_bench.bench.views.report import write_report
from spf_bench.metrics.measure import SPFSettings
from spf_bench.metrics.vbench.verdict import verdict_table

KEYS = {"model": "m", "retime": "warped", "embedder": "pixel", "pacing": "linear", "seed": 0}


def _rec(item: str, it: int, score: float, held: float | None = None, **kw) -> Record:
    heldout = {} if held is None else {"efficientnet_lite0": HeldoutScores(linearity_score=held)}
    return Record(
        **KEYS,
        item_id=item,
        iteration=it,
        config_hash="h0",
        linearity_score=score,
        heldout=heldout,
        **kw,
    )


def _same(a: Record, b: Record) -> bool:
    """Equal field by field, NaN equal to NaN."""
    return json.dumps(a.as_dict(), sort_keys=True) == json.dumps(b.as_dict(), sort_keys=True)


# ------------------------------------------------------------------------------ the record
def test_record_reads_every_stored_version_and_writes_one():
    held = {"pixel": {"linearity_score": 0.5, "max_jump": 0.1, "degenerate": False}}
    v2 = {**KEYS, "item_id": "a", "iteration": 1, "status": "ok", "heldout": json.dumps(held)}
    v3 = {**KEYS, "item_id": "a", "iteration": 1, "status": "ok", "heldout": held}
    old = {  # before held-out scores, Linearity intervals and G; gt_rms_error renamed since
        **KEYS,
        "item_id": "a",
        "iteration": 1,
        "status": "ok",
        "gt_rms_error": 0.25,
    }
    a, b, c = (Record.from_dict(d) for d in (v2, v3, old))
    assert _same(a, b)
    assert a.heldout["pixel"].linearity_score == 0.5 and a.heldout["pixel"].max_jump == 0.1
    assert math.isnan(a.heldout["pixel"].total_change) and a.heldout["pixel"].max_jump_frame == -1
    assert c.heldout == {} and c.rms_s_vs_designed == 0.25
    assert math.isnan(c.linearity_ci_low) and math.isnan(c.progress_statistic)
    out = a.as_dict()
    assert out["record_version"] == RECORD_VERSION == 3
    assert isinstance(out["heldout"], dict) and out["heldout"]["pixel"]["linearity_score"] == 0.5
    assert _same(Record.from_dict(json.loads(json.dumps(out))), a)
    with pytest.raises(ValueError, match="item_id"):
        Record.from_dict({"linearity_score": 1.0})


def test_table_form_flattens_heldout_to_json_text_and_reads_back(tmp_path):
    recs = [_rec("a", 0, 0.5, held=0.4), _rec("a", 1, math.nan, status="failed", error="boom")]
    df = RunDir(tmp_path).write_tables(recs)
    assert list(df.columns) == list(COLUMNS)
    stored = json.loads(df.heldout[0])
    assert list(stored) == ["efficientnet_lite0"]
    assert stored["efficientnet_lite0"]["linearity_score"] == 0.4
    assert df.heldout[1] == "{}"
    back = from_frame(pd.read_parquet(tmp_path / "records.parquet"))
    assert _same(back[0], recs[0])
    assert back[1].status == "failed" and back[1].error == "boom"
    assert pd.read_csv(tmp_path / "records.csv").shape == df.shape


# ---------------------------------------------------------------------- the run directory
def test_run_dir_read_policy_names_the_file(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.maybe_config() is None and rd.maybe_summary() is None
    assert rd.maybe_identity() is None and rd.maybe_record("a", 0) is None
    with pytest.raises(RunDirError, match=r"config\.json: missing"):
        rd.config()
    with pytest.raises(RunDirError, match=r"summary\.json: missing"):
        rd.summary()
    rd.config_path.write_text("{not json")
    with pytest.raises(RunDirError, match=r"config\.json: unreadable"):
        rd.maybe_config()  # present but broken: an error, not None
    with pytest.raises(RunDirError, match=r"config\.json: unreadable"):
        rd.spf_settings()
    assert issubclass(RunDirError, ValueError)


def test_old_version_records_folder_reads_as_typed_records(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_json("identity.json", {"hash": "h0"})
    held = json.dumps({"pixel": {"linearity_score": 0.8}})
    rows = [
        {**KEYS, "item_id": "a", "iteration": 0, "config_hash": "h0", "status": "ok",
         "linearity_score": 0.6, "heldout": held, "gt_rms_error": 0.1},
        {**KEYS, "item_id": "a", "iteration": 1, "config_hash": "h0", "status": "ok",
         "linearity_score": 0.9},
        {**KEYS, "item_id": "b", "iteration": 0, "config_hash": "other", "status": "ok"},
    ]  # fmt: skip
    for r in rows:
        rd.write_json(rd.record_path(r["item_id"], r["iteration"]), r)
    (rd.records_dir / "broken__it0.json").write_text("{")
    got = rd.records()
    assert [(r.item_id, r.iteration) for r in got] == [("a", 0), ("a", 1)]  # one identity
    assert got[0].heldout["pixel"].linearity_score == 0.8 and got[0].rms_s_vs_designed == 0.1
    assert got[1].heldout == {} and math.isnan(got[1].linearity_ci_high)
    assert stats.heldout_mean(got[0].heldout) == 0.8


def test_record_estimator_round_trips_and_old_records_read_paper(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_json("identity.json", {"hash": "h0"})
    base = {**KEYS, "seed": 0, "config_hash": "h0"}
    rd.write_json(rd.record_path("a", 0), {**base, "item_id": "a", "iteration": 0})  # old
    rd.write_record(Record(**base, item_id="b", iteration=0, estimator="link"))
    got = {r.item_id: r for r in rd.records()}
    assert (got["a"].estimator, got["b"].estimator) == ("paper", "link")
    df = to_frame(got.values())
    assert list(df.estimator) == ["paper", "link"] and "estimator" in COLUMNS
    assert [r.estimator for r in from_frame(df.drop(columns="estimator"))] == ["paper", "paper"]


def test_spf_settings_strict_with_defaults_for_absent_keys(tmp_path):
    rd = RunDir(tmp_path)
    changed = {
        f.name: (f.default * 2 if not isinstance(f.default, bool | str) else f.default)
        for f in dataclasses.fields(SPFSettings)
    }
    changed["estimator"] = "link"  # a choice: the other estimator, not a doubled string
    changed["window"], changed["bootstrap"] = 12, 0
    rd.write_config({"config": {"spf": changed}})
    assert rd.spf_settings() == SPFSettings(**changed)  # every field read, whatever its name
    rd.write_config({"config": {"spf": {"window": 7}}})  # an old config.json: fields missing
    assert rd.spf_settings() == SPFSettings(window=7)
    rd.write_config({"config": {"spf": {"window": 7, "windw": 3}}})
    with pytest.raises(RunDirError, match="unknown key"):
        rd.spf_settings()
    rd.write_config({"config": {"spf": {"window": 0}}})
    with pytest.raises(RunDirError, match="invalid"):
        rd.spf_settings()
    rd.write_config({"config": {}})
    with pytest.raises(RunDirError, match=r"config\.spf"):
        rd.spf_settings()


# ------------------------------------------------------------------ the single definitions
def _failed_final_table() -> pd.DataFrame:
    """Four items, iterations 0-2; item c's iteration 2 failed (its final record is
    iteration 1); item d failed at iteration 0 (no final record, not paired)."""
    recs = [
        _rec("a", 0, 0.50, held=0.40),
        _rec("a", 1, 0.70, held=0.45),
        _rec("a", 2, 0.90, held=0.60),
        _rec("b", 0, 0.60, held=0.50),
        _rec("b", 1, 0.65, held=0.55),
        _rec("b", 2, 0.80, held=0.52),
        _rec("c", 0, 0.40, held=0.30),
        _rec("c", 1, 0.70, held=0.50),
        _rec("c", 2, math.nan, status="failed", error="RuntimeError: out of memory"),
        _rec("d", 0, math.nan, status="failed", error="boom"),
    ]
    return to_frame(recs)


#: The paired gains of :func:`_failed_final_table` by hand: a 2 - 0, b 2 - 0, c 1 - 0.
HAND_GAINS = [0.90 - 0.50, 0.80 - 0.60, 0.70 - 0.40]


def test_final_record_is_the_highest_ok_iteration():
    df = _failed_final_table()
    fin = stats.final_records(df)
    assert list(zip(fin.item_id, fin.iteration, strict=True)) == [("a", 2), ("b", 2), ("c", 1)]
    bad = stats.failed_items(df)
    assert list(zip(bad.item_id, bad.iteration, strict=True)) == [("c", 2), ("d", 0)]


def test_paired_gain_by_hand():
    df = _failed_final_table()
    g = stats.paired_gain(df)
    assert [k[-1] for k in g.items] == ["a", "b", "c"]
    np.testing.assert_allclose(g.gain, [0.40, 0.20, 0.30])
    assert g.gain.tolist() == HAND_GAINS
    assert g.mean == pytest.approx(0.30)
    h = stats.paired_gain(df, stats.heldout_column(df))
    np.testing.assert_allclose(h.gain, [0.20, 0.02, 0.20])
    # retime=none: no final record beyond iteration 0, nothing paired
    none = df[df.iteration == 0]
    assert stats.paired_gain(none).n == 0 and math.isnan(stats.paired_gain(none).mean)


def test_heldout_mean_by_hand():
    held = {
        "a": HeldoutScores(linearity_score=0.5),
        "b": HeldoutScores(linearity_score=math.nan, degenerate=True),
        "c": HeldoutScores(linearity_score=0.7),
    }
    assert stats.heldout_mean(held) == pytest.approx(0.6)
    assert stats.heldout_mean(json.dumps({"a": {"linearity_score": 0.2}})) == 0.2  # stored form
    assert math.isnan(stats.heldout_mean({})) and math.isnan(stats.heldout_mean("{"))


def test_bootstrap_ci_definition():
    assert all(math.isnan(v) for v in stats.bootstrap_ci([0.3]))
    assert stats.bootstrap_ci([0.3, 0.3, math.nan]) == (0.3, 0.3)
    # Percentile interval of the mean of {0, 1}: a resample's mean is k/2 with k ~ Bin(2, 1/2),
    # so the 2.5% and 97.5% quantiles are 0 and 1.
    assert stats.bootstrap_ci([0.0, 1.0], method="percentile") == (0.0, 1.0)
    x = np.array([0.1, 0.4, 0.35, 0.8, 0.5, 0.45])
    lo, hi = stats.bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert (lo, hi) == stats.bootstrap_ci(x)  # seeded: the same values give the same interval
    # pinned (scipy BCa, 9999 resamples, seed 0): a change of method or seed shows here
    assert (lo, hi) == pytest.approx((0.275, 0.6166666666666666), abs=1e-12)
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_ci(x, level=1.0)


def test_summary_by_hand_with_a_failed_final_iteration(tmp_path):
    df = _failed_final_table()
    s = stats.summarise(df, wall_s=1.5)
    assert (s["n_items"], s["n_records"], s["n_failed"], s["n_items_failed"]) == (4, 10, 2, 2)
    assert s["n_paired"] == 3 and s["linearity_gain_mean"] == pytest.approx(0.30)
    assert s["linearity_gain_ci"] == pytest.approx(list(stats.bootstrap_ci(HAND_GAINS)))
    assert s["heldout_gain"] == pytest.approx(0.14)
    assert s["heldout_gain_mean"] == {"efficientnet_lite0": pytest.approx(0.14)}
    assert s["per_iteration"][2]["n"] == 2
    assert s["per_iteration"][2]["linearity_mean"] == pytest.approx(0.85)
    assert s["per_iteration"][0]["heldout"]["efficientnet_lite0"]["linearity_mean"] == (
        pytest.approx(0.40)
    )
    assert s["wall_time_s"] == 1.5


def test_summary_json_is_written_once_from_the_records(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_json("identity.json", {"hash": "h0"})
    for r in from_frame(_failed_final_table()):
        rd.write_record(r)
    _, summary = merge_run(rd, plots=False)
    on_disk = rd.summary()
    assert on_disk["linearity_gain_mean"] == pytest.approx(0.30)
    assert on_disk["linearity_gain_ci"] == pytest.approx(summary["linearity_gain_ci"])
    assert on_disk["linearity_gain_ci"] == pytest.approx(list(stats.bootstrap_ci(HAND_GAINS)))


def test_failed_final_iteration_same_gain_and_ci_in_summary_leaderboard_and_report(tmp_path):
    """Item c's last iteration (2) failed: its final record is iteration 1, so it is paired
    (gain 0.30); summary.json, the leaderboard row and the report show the same gain and CI,
    for the guiding and the held-out embedder."""
    rd = RunDir(tmp_path / "run")
    rd.write_json("identity.json", {"hash": "h0"})
    for r in from_frame(_failed_final_table()):
        rd.write_record(r)
    merge_run(rd, plots=False)
    summary = rd.summary()
    lb = build_leaderboard(load_records([rd.path])).iloc[0]
    assert (lb.n, lb.n_failed, lb.n_paired) == (3, 2, 3)
    assert summary["n_paired"] == 3 and summary["n_items_failed"] == 2
    ci = stats.bootstrap_ci(HAND_GAINS)
    assert summary["linearity_gain_mean"] == lb.delta_linearity == pytest.approx(0.30)
    assert summary["linearity_gain_ci"] == [lb.delta_linearity_ci_low, lb.delta_linearity_ci_high]
    assert summary["linearity_gain_ci"] == pytest.approx(list(ci), abs=1e-12)
    assert summary["heldout_gain"] == lb.heldout_delta == pytest.approx(0.14)
    assert summary["heldout_gain_ci"] == [lb.heldout_delta_ci_low, lb.heldout_delta_ci_high]
    text = write_report(rd.path).read_text(encoding="utf-8")
    for gain, (lo, hi) in (
        (lb.delta_linearity, summary["linearity_gain_ci"]),
        (lb.heldout_delta, summary["heldout_gain_ci"]),
    ):
        assert f"{gain:+.4f} [{lo:.4f}, {hi:.4f}]" in text


def test_vbench_verdict_retimed_videos_are_the_final_records():
    df = _failed_final_table()
    df["vbench_x"] = df.linearity_score
    (v,) = verdict_table(df, ["x"])
    fin = stats.final_records(df)
    retimed = fin[fin.iteration > 0]
    assert v["n_retimed"] == len(retimed) == 3  # item c at its iteration 1
    assert v["retimed_mean"] == stats.mean(retimed.vbench_x) == pytest.approx(0.8)


def test_rundir_reads_every_stored_embedding_of_an_spf_file(tmp_path):
    rd = RunDir(tmp_path)
    guide, held = np.arange(12.0).reshape(3, 4), np.ones((3, 2), dtype=np.float32)
    rd.savez("spf/a__it0.npz", progress=np.linspace(0, 1, 3), embeddings=guide,
             heldout_embeddings_pixel=held)  # fmt: skip
    rd.savez("spf/b__it0.npz", progress=np.linspace(0, 1, 3))
    z, h = rd.stored_embeddings("spf/a__it0.npz")
    np.testing.assert_array_equal(z, guide)
    assert list(h) == ["pixel"] and h["pixel"].dtype == np.float64
    one = rd.maybe_heldout_embeddings("spf/a__it0.npz", "pixel")
    np.testing.assert_array_equal(h["pixel"], one)
    assert rd.stored_embeddings("spf/b__it0.npz") == (None, {})
    with pytest.raises(OSError):
        rd.stored_embeddings("spf/missing.npz")
