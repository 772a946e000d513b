"""The module trace study (bench/studies/trace_run.py): its path, return count and pairs on
known sequences, and one traced call of real functions."""

from __future__ import annotations

from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.studies.trace_run import analyse, collapse, compress_repeats, trace


def test_collapse_and_returns_on_a_known_sequence():
    b = "spf_bench.bench."
    seq = [b + m for m in "a a b a c c b".split()] + ["spf_bench.metrics.x"]
    assert collapse(["a", "a", "b", "a", "a"]) == ["a", "b", "a"]
    r = analyse([(m, 0 if "metrics" in m else 1) for m in seq], depth=1)
    # bench path a b a c b: a and b each come back once
    assert r["bench_path"] == ["bench.a", "bench.b", "bench.a", "bench.c", "bench.b"]
    assert r["bench_returns"] == 2 and r["bench_modules"] == 3
    assert r["bench_pairs"] == {"bench.a <-> bench.b": 1, "bench.b <-> bench.c": 1}
    assert r["all_returns"] == 2 and r["all_path"][-1] == "metrics.x"


def test_compress_repeats_writes_a_repeated_block_once():
    path = [*"xababab", "c"]
    assert compress_repeats(path) == [(("x",), 1), (("a", "b"), 3), (("c",), 1)]
    assert compress_repeats(list("aaa")) == [(("a",), 3)]


def test_trace_records_spf_bench_callees_and_module_depth(tmp_path):
    rd = RunDir(tmp_path)
    events = trace(lambda: (rd.spf_rel("a", 1), len([1, 2]), rd.video_rel("a", 1)))
    mods = [m for m, _ in events]
    assert set(mods) == {"spf_bench.bench.results.rundir"}
    # spf_rel -> stem, video_rel -> stem: four calls, all in one module at depth 1
    assert len(events) == 4 and {d for _, d in events} == {1}
    assert analyse(events)["bench_returns"] == 0
