"""The studies' one embedding cache: frame embeddings on disk, keyed by what they depend on.

A cached ``(T, D)`` embedding is found again only for the same frames (a SHA-256 digest of the
clip's pixels, shape and dtype), the same embedder name and the same embedder settings, so a
clip whose rendering changes, or an embedder built differently, misses instead of returning
stale rows; there is no version number to bump by hand. Files are
``<root>/<embedder>/<clip_id>-<key>.npz`` (``embeddings``: float32), written atomically
(:func:`spf_bench.metrics.atomic_io.atomic_savez`), so an interrupted study leaves no torn
file. Used by the calibrations (:mod:`spf_bench.bench.studies.calibrate_progress`,
:mod:`~spf_bench.bench.studies.calibrate_spf`, :mod:`~spf_bench.bench.studies.calibrate_segments`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.metrics.atomic_io import atomic_savez
from spf_bench.metrics.embedders import build_embedder

__all__ = ["EmbeddingCache", "cache_key", "clip_digest", "default_cache_dir"]

log = logging.getLogger("spf_bench")


def default_cache_dir() -> Path:
    """``$TMPDIR/spf-bench-embeddings``: the studies' cache folder unless ``--cache`` names one."""
    return Path(tempfile.gettempdir()) / "spf-bench-embeddings"


def clip_digest(frames: np.ndarray) -> str:
    """SHA-256 of a clip's content: its shape, dtype and pixel bytes.

    Args:
        frames: ``(T, H, W, 3)`` frames (uint8 RGB as rendered; any dtype hashes).

    Returns:
        64 hex digits.
    """
    a = np.ascontiguousarray(frames)
    h = hashlib.sha256(f"{a.shape}|{a.dtype.str}|".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def cache_key(digest: str, embedder: str, settings: Mapping[str, Any] | None = None) -> str:
    """The cache key of one embedding: clip digest, embedder name and settings together.

    Args:
        digest: :func:`clip_digest` of the frames.
        embedder: embedder name (:data:`spf_bench.metrics.embedders.EMBEDDERS`).
        settings: how the embedder was built (JSON-serialisable; ``None`` = defaults).

    Returns:
        24 hex digits.

    Raises:
        TypeError: if ``settings`` is not JSON-serialisable.
    """
    blob = json.dumps(
        {"clip": digest, "embedder": embedder, "settings": dict(settings or {})}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class EmbeddingCache:
    """Embed clips with one embedder, each distinct clip once across runs.

    Args:
        root: cache folder; ``None`` turns the cache off (every call embeds, nothing is
            written).
        embedder: embedder name; built offline on the first miss with
            :func:`spf_bench.metrics.embedders.build_embedder` (``progress=False`` plus
            ``settings``) unless ``embedder_obj`` is given.
        settings: keyword arguments the embedder is built with; part of the key.
        embedder_obj: an already built embedder (its ``embed(frames) -> (T, D)``) to use.

    Attributes:
        hits: embeddings read from the cache so far.
        misses: embeddings computed so far.
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        embedder: str,
        *,
        settings: Mapping[str, Any] | None = None,
        embedder_obj: Any = None,
    ) -> None:
        self.root = None if root is None else Path(root)
        self.embedder = embedder
        self.settings = dict(settings or {})
        self._emb = embedder_obj
        self.hits = 0
        self.misses = 0

    def path(self, clip_id: str, frames: np.ndarray) -> Path | None:
        """The file that holds (or will hold) ``frames``' embeddings; ``None`` when off."""
        if self.root is None:
            return None
        key = cache_key(clip_digest(frames), self.embedder, self.settings)
        return self.root / self.embedder / f"{clip_id}-{key}.npz"

    def embed(self, clip_id: str, frames: np.ndarray) -> np.ndarray:
        """The clip's embeddings, from the cache or computed (and then cached).

        Args:
            clip_id: the clip's name (file name and log lines; not part of the key).
            frames: ``(T, H, W, 3)`` uint8 RGB.

        Returns:
            ``(T, D)`` float32 embeddings, one row per frame.

        Raises:
            spf_bench.metrics.embedders.MissingWeightsError: if the embedder's weights are
                absent (on the first miss).
            ValueError: if the embedder returns a row count other than ``T``.
        """
        path = self.path(clip_id, frames)
        if path is not None and path.is_file():
            try:
                with np.load(path) as npz:
                    z = npz["embeddings"]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
                log.warning("unreadable cache file %s (%s): embedding again", path, err)
            else:
                if len(z) == len(frames):
                    self.hits += 1
                    return z
        if self._emb is None:
            self._emb = build_embedder(self.embedder, progress=False, **self.settings)
        t0 = time.perf_counter()
        z = np.asarray(self._emb.embed(frames), dtype=np.float32)
        if z.shape[0] != len(frames):
            raise ValueError(f"{clip_id}: {z.shape[0]} embeddings for {len(frames)} frames")
        self.misses += 1
        log.info(
            "embedded %s with %s: %d frames in %.1f s",
            clip_id,
            self.embedder,
            len(z),
            time.perf_counter() - t0,
        )
        if path is not None:
            atomic_savez(path, embeddings=z)
        return z
