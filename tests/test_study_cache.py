"""The studies' one embedding cache (bench/studies/cache.py): a second call reads the cache, a
changed clip, another embedder or other settings miss; files are written atomically. Real
stills through the real pixel embedder."""

from __future__ import annotations

import numpy as np
import pytest

from spf_bench.bench.studies import calibrate_progress as cp
from spf_bench.bench.studies import calibrate_segments as cs
from spf_bench.bench.studies.cache import EmbeddingCache, cache_key, clip_digest
from spf_bench.generators.stills import load_still
from spf_bench.metrics.embedders import build_embedder


class CountingEmbedder:
    """The real pixel embedder, counting its calls and frames."""

    def __init__(self) -> None:
        self.inner = build_embedder("pixel", progress=False)
        self.calls = 0

    def embed(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.inner.embed(frames)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    img = load_still("chelsea", 64)
    return np.stack([np.roll(img, 2 * i, axis=1) for i in range(6)])


def test_second_call_hits_and_a_changed_clip_misses(tmp_path, frames):
    emb = CountingEmbedder()
    cache = EmbeddingCache(tmp_path, "pixel", embedder_obj=emb)
    z1 = cache.embed("pan", frames)
    assert emb.calls == 1 and (cache.hits, cache.misses) == (0, 1)
    assert z1.shape[0] == 6 and z1.dtype == np.float32
    z2 = cache.embed("pan", frames)
    assert emb.calls == 1 and cache.hits == 1
    np.testing.assert_array_equal(z1, z2)
    # A new cache object (a later run) reads the same file.
    again = EmbeddingCache(tmp_path, "pixel", embedder_obj=emb)
    np.testing.assert_array_equal(again.embed("pan", frames), z1)
    assert emb.calls == 1 and again.hits == 1
    # One pixel changed: the content digest differs, so the clip is embedded again.
    changed = frames.copy()
    changed[3, 10, 10, 0] ^= 1
    z3 = again.embed("pan", changed)
    assert emb.calls == 2 and again.misses == 1
    assert not np.array_equal(z3[3], z1[3]) and np.array_equal(z3[0], z1[0])
    files = sorted(p.name for p in (tmp_path / "pixel").iterdir())
    assert len(files) == 2 and all(f.startswith("pan-") and f.endswith(".npz") for f in files)


def test_key_covers_embedder_and_settings(tmp_path, frames):
    d = clip_digest(frames)
    assert d == clip_digest(frames.copy()) and len(d) == 64
    assert clip_digest(frames[:5]) != d
    assert clip_digest(frames.astype(np.int16)) != d  # same values, other dtype
    assert cache_key(d, "pixel") == cache_key(d, "pixel", {})
    assert cache_key(d, "pixel") != cache_key(d, "efficientnet_lite0")
    assert cache_key(d, "pixel", {"batch_size": 4}) != cache_key(d, "pixel")
    emb = CountingEmbedder()
    EmbeddingCache(tmp_path, "pixel", embedder_obj=emb).embed("c", frames)
    other = EmbeddingCache(tmp_path, "pixel", settings={"batch_size": 4}, embedder_obj=emb)
    other.embed("c", frames)
    assert emb.calls == 2 and other.misses == 1


def test_off_cache_embeds_every_time_and_writes_nothing(tmp_path, frames):
    emb = CountingEmbedder()
    cache = EmbeddingCache(None, "pixel", embedder_obj=emb)
    cache.embed("c", frames)
    cache.embed("c", frames)
    assert emb.calls == 2 and cache.path("c", frames) is None


def test_a_torn_file_is_embedded_again(tmp_path, frames):
    emb = CountingEmbedder()
    cache = EmbeddingCache(tmp_path, "pixel", embedder_obj=emb)
    z = cache.embed("c", frames)
    path = cache.path("c", frames)
    path.write_bytes(path.read_bytes()[:20])
    np.testing.assert_array_equal(cache.embed("c", frames), z)
    assert emb.calls == 2
    assert np.load(path)["embeddings"].shape == z.shape  # rewritten whole


def test_the_calibrations_share_the_cache(tmp_path, frames):
    """calibrate_progress.embed_suite and calibrate_segments.embed_clips read each other's
    files for the same frames (the one cache the studies share)."""
    emb = CountingEmbedder()
    suite = [cp.SuiteClip("pan-x", "pan", lambda: frames)]
    z1 = cp.embed_suite(suite, "pixel", tmp_path, embedder_obj=emb)["pan-x"]
    labelled = [cs.LabelledClip("pan-x", "footage", 6, (), make=lambda: frames)]
    z2 = cs.embed_clips(labelled, "pixel", tmp_path, embedder_obj=emb)["pan-x"]
    assert emb.calls == 1
    np.testing.assert_array_equal(z1, z2)
    with pytest.raises(ValueError, match="5 frames rendered, 6 expected"):
        cs.embed_clips(
            [cs.LabelledClip("short", "footage", 6, (), make=lambda: frames[:5])],
            "pixel",
            tmp_path,
            embedder_obj=emb,
        )


def test_pacing_gt_through_the_cache_measures_the_same(tmp_path):
    """The ground-truth benchmark with --cache: the same rows and curves as without it, and a
    second run embeds nothing (every sequence read from the cache)."""
    from spf_bench.bench.studies import pacing_gt as pg
    from spf_bench.generators.pacing_gt import SUITE

    kw = {"n_frames": 9, "size": 32, "specs": SUITE[:3]}
    plain = pg.run_pacing_gt(["pixel"], **kw)
    cached = pg.run_pacing_gt(["pixel"], cache_dir=tmp_path, **kw)
    files = sorted((tmp_path / "pixel").iterdir())
    assert len(files) == 3
    stamps = [f.stat().st_mtime_ns for f in files]
    again = pg.run_pacing_gt(["pixel"], cache_dir=tmp_path, **kw)
    assert [f.stat().st_mtime_ns for f in sorted((tmp_path / "pixel").iterdir())] == stamps
    for res in (cached, again):
        for a, b in zip(plain.rows, res.rows, strict=True):
            assert {k: v for k, v in a.items() if k != "seconds"} == {
                k: v for k, v in b.items() if k != "seconds"
            }
        assert plain.curves.keys() == res.curves.keys()
        for k, v in plain.curves.items():
            np.testing.assert_array_equal(v, res.curves[k])
