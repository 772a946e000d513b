"""Atomic writes and the record schema (bench/results/record.py, bench/results/rundir.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.results import record as rec
from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics import atomic_io
from tests.test_atomic_io import PAUSE_AT, kill_mid_write


@pytest.mark.parametrize("old", [None, {"item_id": "a", "iteration": 0, "status": "ok"}])
def test_killed_record_writer_leaves_old_record_or_nothing(tmp_path, old):
    """A run killed while a record JSON is half written: the record is the old complete one (or
    absent), never a torn file, and collect_records ignores the writer's leftover."""
    path = RunDir(tmp_path).record_path("a", 0)
    if old is not None:
        atomic_io.atomic_write_json(path, old)
    kill_mid_write("json", path)
    if old is None:
        assert not path.exists()
    else:
        assert json.loads(path.read_text()) == old
    [tmp] = [p for p in path.parent.iterdir() if p != path]  # the kill landed mid-write
    assert tmp.stat().st_size == PAUSE_AT
    got = [
        {k: r.as_dict()[k] for k in ("item_id", "iteration", "status")}
        for r in RunDir(tmp_path).all_records()
    ]
    assert got == ([] if old is None else [old])


@pytest.mark.parametrize("existing", [False, True])
def test_killed_npz_writer_leaves_old_arrays_or_nothing(tmp_path, existing):
    path = tmp_path / "spf" / "a__it0.npz"
    if existing:
        atomic_io.atomic_savez(path, progress=np.linspace(0, 1, 7))
    else:
        path.parent.mkdir()
    kill_mid_write("npz", path)
    if existing:
        with np.load(path) as npz:
            np.testing.assert_array_equal(npz["progress"], np.linspace(0, 1, 7))
    else:
        assert not path.exists()
    [tmp] = [p for p in path.parent.iterdir() if p != path]
    assert tmp.stat().st_size == PAUSE_AT


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle (simulated failure mid-write)")


def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = atomic_io.atomic_savez(tmp_path / "s.npz", progress=np.arange(3.0))
    before = path.read_bytes()
    big = np.random.default_rng(0).random(200_000)  # written in full before the failure
    with pytest.raises(RuntimeError, match="simulated"):
        atomic_io.atomic_savez(path, big=big, bad=np.array([_Unpicklable()], dtype=object))
    assert path.read_bytes() == before
    path_json = atomic_io.atomic_write_json(tmp_path / "r.json", {"a": 1})
    with pytest.raises(TypeError):  # refused before anything is written
        atomic_io.atomic_write_json(path_json, {"a": object()})
    assert json.loads(path_json.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.npz"]


def test_json_nan_becomes_null_and_numpy_scalars_serialise(tmp_path):
    path = atomic_io.atomic_write_json(
        tmp_path / "x.json", {"v": float("nan"), "n": np.int64(3), "a": np.arange(2)}
    )
    assert json.loads(path.read_text()) == {"v": None, "n": 3, "a": [0, 1]}


def test_atomic_savez_round_trip(tmp_path):
    atomic_io.atomic_savez(tmp_path / "s.npz", progress=np.linspace(0, 1, 5))
    with np.load(tmp_path / "s.npz") as npz:
        np.testing.assert_array_equal(npz["progress"], np.linspace(0, 1, 5))


def test_tables_have_exactly_the_documented_columns_and_types(tmp_path):
    rows = [
        {
            "model": "morph",
            "item_id": "b",
            "iteration": 1,
            "linearity_score": 0.9,
            "degenerate": False,
            "status": "ok",
        },
        {
            "model": "morph",
            "item_id": "a",
            "iteration": 0,
            "linearity_score": None,
            "degenerate": True,
            "status": "failed",
            "error": "boom",
        },
    ]
    for r in rows:
        atomic_io.atomic_write_json(RunDir(tmp_path).record_path(r["item_id"], r["iteration"]), r)
    (tmp_path / "records" / "broken__it0.json").write_text("{not json")
    got = [r.as_dict() for r in RunDir(tmp_path).all_records()]
    assert [r["item_id"] for r in got] == ["a", "b"]  # sorted; the broken file is skipped
    df = RunDir(tmp_path).write_tables(got)
    assert list(df.columns) == list(rec.COLUMNS)
    back = pd.read_parquet(tmp_path / "records.parquet")
    assert back.iteration.dtype == np.int64 and back.linearity_score.dtype == np.float64
    assert math.isnan(back.linearity_score[0]) and back.max_jump_frame[0] == -1
    assert pd.read_csv(tmp_path / "records.csv").shape == back.shape
