"""Atomic writes and the record schema (bench/records.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bench import records as rec


def test_atomic_json_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "r.json"
    rec.atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        rec.atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_json_nan_becomes_null_and_numpy_scalars_serialise(tmp_path):
    path = rec.atomic_write_json(
        tmp_path / "x.json", {"v": float("nan"), "n": np.int64(3), "a": np.arange(2)}
    )
    assert json.loads(path.read_text()) == {"v": None, "n": 3, "a": [0, 1]}


def test_atomic_savez_round_trip(tmp_path):
    rec.atomic_savez(tmp_path / "s.npz", progress=np.linspace(0, 1, 5))
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
        rec.atomic_write_json(rec.record_path(tmp_path, r["item_id"], r["iteration"]), r)
    (tmp_path / "records" / "broken__it0.json").write_text("{not json")
    got = rec.collect_records(tmp_path)
    assert [r["item_id"] for r in got] == ["a", "b"]  # sorted; the broken file is skipped
    df = rec.write_tables(tmp_path, got)
    assert list(df.columns) == list(rec.COLUMNS)
    back = pd.read_parquet(tmp_path / "records.parquet")
    assert back.iteration.dtype == np.int64 and back.linearity_score.dtype == np.float64
    assert math.isnan(back.linearity_score[0]) and back.max_jump_frame[0] == -1
    assert pd.read_csv(tmp_path / "records.csv").shape == back.shape
