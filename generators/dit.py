"""The shared base of the diffusers video-DiT generators (Wan2.2, LTX-2) with warped RoPE.

docs/method.md, Sec. 4 ("ReTime"). :class:`DiTGenerator` holds what every diffusers video DiT
generator of spf-bench does the same way, the way diffusers pipelines share mixins; a family
(:class:`spf_bench.generators.wan22.Wan22Generator`,
:class:`spf_bench.generators.ltx2.LTX2Generator`) adds its checkpoint layout, its loader, its
warp installation and its call arguments. ``generate(request)`` runs these steps:

1. **check the request** (:meth:`DiTGenerator.check_request`): the model's frame rule
   (``temporal_factor * n + 1`` frames, sides multiples of ``spatial_multiple``), a prompt,
   positions of shape ``(bands, n_frames)`` or ``(n_frames,)`` (output frame units), and the
   keyframe images the mode needs; errors are raised, never silently fixed;
2. **load the pipeline** once (:attr:`DiTGenerator.pipe`): the tiny random pipeline
   (:mod:`spf_bench.generators.tiny`) or the checkpoint resolved offline at construction
   (:func:`spf_bench.generators.common.resolve_checkpoint`: a missing checkpoint is a
   :class:`~spf_bench.generators.common.MissingCheckpointError` in well under a second), then
   **install the warped ropes** (before any offload or compilation; they stay installed), then
   place it on the device (:func:`spf_bench.generators.common.place_pipeline`);
3. **set the request's positions** in the shared :class:`~spf_bench.generators.warped_rope.
   TemporalWarp` for the call (``None``, the baseline, runs the same warped code with zero
   displacement: the stock model bit for bit), with the composition base of the ``reference``
   composition when the request carries one
   (``request.extra[``:data:`~spf_bench.generators.retime.BASE_POSITIONS_KEY```]``), and clear
   the call log;
4. **call the pipeline**, seeded by a CPU ``torch.Generator`` with ``request.seed``
   (:meth:`DiTGenerator.pipeline_kwargs`);
5. **convert the output** to a :class:`~spf_bench.generators.base.GeneratedVideo` (uint8
   frames, the family's audio if any) with JSON metadata including the warp diagnostics
   (:meth:`DiTGenerator.describe`).

Items come from the transformation prompt suite (:meth:`DiTGenerator.items`), with keyframe
images attached for first-last-frame and image-to-video modes; the files they are read from
are listed by :meth:`DiTGenerator.input_files` (part of the run identity).

Importing this module (or :mod:`~spf_bench.generators.wan22`, :mod:`~spf_bench.generators.ltx2`)
imports neither torch nor diffusers: they are loaded with the pipeline.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from spf_bench.generators.base import GeneratedVideo, GenerationRequest, GeneratorError
from spf_bench.generators.common import (
    DEFAULT_NEGATIVE_PROMPT,
    OFFLOAD,
    DtypeName,
    KeyframeSource,
    Offload,
    WanT2IRenderer,
    attach_keyframes,
    base_request,
    check_dtype,
    check_frame_rules,
    load_prompt_suite,
    place_pipeline,
    resolve_checkpoint,
    resolve_prompt_suite,
    select_items,
)
from spf_bench.generators.retime import BASE_POSITIONS_KEY, G_MODES, GMode
from spf_bench.generators.warped_rope import TemporalWarp, max_extra_rotation

__all__ = ["MODES", "DiTGenerator", "DiTLayout", "Mode"]

#: Generation modes: text-to-video, first-last-frame (two keyframes), image-to-video (first).
Mode = Literal["t2v", "flf", "i2v"]
MODES: tuple[str, ...] = get_args(Mode)
_MODE_SUFFIX = {"t2v": "", "flf": "_flf", "i2v": "_i2v"}


@dataclass(frozen=True)
class DiTLayout:
    """What a checkpoint's configuration fixes for the generator.

    Attributes:
        temporal_factor: VAE temporal compression (Wan 4, LTX-2 8): ``n_frames = f * m + 1``.
        spatial_multiple: required side multiple, pixels (VAE spatial factor x patch size).
        bands: temporal RoPE bands ``B`` the generator takes per-band positions for (band 0 the
            highest frequency).
        frequencies: ``(B,)`` float64 angular frequency of each band, radians per unit of the
            rope's time coordinate (Wan: latent frames; LTX-2: seconds).
    """

    temporal_factor: int
    spatial_multiple: int
    bands: int
    frequencies: np.ndarray


class DiTGenerator:
    """Base of the diffusers video-DiT generators honouring per-band time positions.

    Implements :class:`spf_bench.generators.base.Generator` (``name``,
    ``honours_positions = True``, ``bands``, :meth:`items`, :meth:`generate`). A family
    subclass sets :attr:`family`, :attr:`label` and :attr:`tiny_model_id`, keeps its own
    explicit constructor (the bench's config schema is read from it), stores its own options
    and then calls ``super().__init__`` with the shared ones, and implements the hooks
    :meth:`_layout`, :meth:`_load_pipeline`, :meth:`_install_warp`, :meth:`pipeline_kwargs`,
    :meth:`_decode` and :meth:`_describe_model` / :meth:`_describe_warp` (optionally
    :meth:`_check_options`, :meth:`_unpack`, :meth:`_default_name`).

    Choice arguments are typed ``Literal`` (:data:`Mode`, :data:`~spf_bench.generators.
    retime.GMode`, :data:`~spf_bench.generators.common.DtypeName`, ``Offload``,
    ``KeyframeSource``): the bench's config schema turns them into enums, so a bad value fails
    when Hydra composes the config; the constructor checks them again for direct callers.

    Args:
        model_id: diffusers checkpoint repo id or local folder.
        mode: one of :data:`MODES`.
        height: output height, pixels.
        width: output width, pixels.
        n_frames: output frames (the family's frame rule).
        fps: output frame rate, frames per second.
        steps: denoising steps.
        guidance_scale: CFG scale.
        negative_prompt: negative prompt.
        max_sequence_length: text tokens.
        g_mode: timestep modulation of the warp (:data:`spf_bench.generators.retime.G_MODES`).
        dtype: model dtype name (:func:`spf_bench.generators.common.torch_dtype`).
        device: torch device.
        offload: one of :data:`spf_bench.generators.common.OFFLOAD` (ignored by tiny models,
            which always run on ``device``).
        allow_download: let ``from_pretrained`` download a missing checkpoint; otherwise it is
            a :class:`~spf_bench.generators.common.MissingCheckpointError` at construction.
        cache_dir: HF cache to use instead of ``HF_HUB_CACHE``.
        tiny: build the tiny random pipeline instead of loading ``model_id``.
        tiny_seed: weight seed of the tiny pipeline.
        prompts: prompt-suite YAML (default ``conf/prompts/transformations.yaml``).
        keyframes: keyframe source of ``flf`` / ``i2v``: ``"t2i"``, ``"dir"`` or
            ``"procedural"`` (:func:`spf_bench.generators.common.attach_keyframes`).
        keyframe_dir: keyframe PNG folder (read for ``dir``, cache for ``t2i``).
        keyframe_model_id: Wan T2V checkpoint rendering ``t2i`` keyframes (``"tiny"`` allowed).
        keyframe_steps: steps of the keyframe renderer.
        name: name in records (default :meth:`_default_name`).

    Raises:
        GeneratorError: on an unknown mode, offload, g_mode or dtype, a frame rule broken by
            ``n_frames`` / ``height`` / ``width``, or a family option (:meth:`_check_options`).
        MissingCheckpointError: the checkpoint (or the ``t2i`` keyframe checkpoint) is not in
            the HF cache and downloads are off, naming the repo id, the cache and the
            ``hf download`` command.
    """

    honours_positions = True
    #: Record-name prefix (``"wan22"``, ``"ltx2"``).
    family: ClassVar[str] = ""
    #: Name of the model family in messages (``"Wan"``, ``"LTX-2"``).
    label: ClassVar[str] = ""
    #: ``model_id`` reported in metadata for the tiny random pipeline.
    tiny_model_id: ClassVar[str] = ""

    def __init__(
        self,
        *,
        model_id: str,
        mode: Mode,
        height: int,
        width: int,
        n_frames: int,
        fps: float,
        steps: int,
        guidance_scale: float,
        negative_prompt: str,
        max_sequence_length: int,
        g_mode: GMode,
        dtype: DtypeName,
        device: str,
        offload: Offload,
        allow_download: bool,
        cache_dir: str | None,
        tiny: bool,
        tiny_seed: int,
        prompts: str | None,
        keyframes: KeyframeSource,
        keyframe_dir: str | None,
        keyframe_model_id: str,
        keyframe_steps: int,
        name: str | None,
    ) -> None:
        if mode not in MODES:
            raise GeneratorError(f"unknown {self.label} mode {mode!r}; choose one of {MODES}")
        if offload not in OFFLOAD:
            raise GeneratorError(f"unknown offload {offload!r}; choose one of {OFFLOAD}")
        if g_mode not in G_MODES:
            raise GeneratorError(f"unknown g_mode {g_mode!r}; choose one of {G_MODES}")
        self.model_id, self.mode, self.tiny = model_id, mode, bool(tiny)
        self.height, self.width = int(height), int(width)
        self.n_frames, self.fps = int(n_frames), float(fps)
        self.steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.negative_prompt, self.max_sequence_length = negative_prompt, int(max_sequence_length)
        self.g_mode, self.dtype, self.device, self.offload = g_mode, dtype, device, offload
        self.allow_download, self.cache_dir = bool(allow_download), cache_dir
        self.tiny_seed = int(tiny_seed)
        self.prompts = prompts
        self.keyframes, self.keyframe_dir = keyframes, keyframe_dir
        self.keyframe_model_id, self.keyframe_steps = keyframe_model_id, int(keyframe_steps)
        self.name = name or self._default_name()
        self._check_options()
        check_dtype(dtype)  # validate the name early (without importing torch)
        if keyframes not in get_args(KeyframeSource):
            raise GeneratorError(
                f"unknown keyframes {keyframes!r}; choose one of {get_args(KeyframeSource)}"
            )
        self._path = (
            None if self.tiny else resolve_checkpoint(model_id, self.allow_download, cache_dir)
        )
        layout = self._layout()
        self.temporal_factor, self.spatial_multiple = (
            int(layout.temporal_factor),
            int(layout.spatial_multiple),
        )
        if mode != "t2v" and keyframes == "t2i" and not self.tiny and keyframe_model_id != "tiny":
            resolve_checkpoint(keyframe_model_id, self.allow_download, cache_dir)  # fail early
        check_frame_rules(
            self.n_frames,
            self.height,
            self.width,
            self.temporal_factor,
            self.spatial_multiple,
            self.name,
        )
        self.bands = int(layout.bands)
        self.frequencies = np.asarray(layout.frequencies, dtype=np.float64)
        self.warp = TemporalWarp(self.bands, g_mode)
        self.patched: list[str] = []
        self._pipe: Any = None

    # -- family hooks ---------------------------------------------------------------------
    def _default_name(self) -> str:
        """``<family>[_flf|_i2v][_tiny]``, matching the ``conf/model`` file names."""
        return self.family + _MODE_SUFFIX[self.mode] + ("_tiny" if self.tiny else "")

    def _check_options(self) -> None:
        """Validate family options (called before the checkpoint is resolved).

        Raises:
            GeneratorError: naming the bad option.
        """

    def _layout(self) -> DiTLayout:
        """Frame rules and RoPE bands, from the tiny model's constants or the resolved
        checkpoint's config files (``self._path``)."""
        raise NotImplementedError

    def _load_pipeline(self) -> Any:
        """The family's pipeline (tiny or from ``self._path``), on CPU, before the warp."""
        raise NotImplementedError

    def _install_warp(self, pipe: Any) -> list[str]:
        """Swap in the warped ropes sharing ``self.warp``; returns the patched modules' names."""
        raise NotImplementedError

    def pipeline_kwargs(self, request: GenerationRequest, output_type: str = "np") -> dict:
        """The pipeline's call arguments for ``request`` (see :meth:`base_kwargs`)."""
        raise NotImplementedError

    def _unpack(self, output: Any) -> Any:
        """What :meth:`run_pipeline` returns of the pipeline's output (default: as is)."""
        return output

    def _decode(self, output: Any) -> tuple[np.ndarray, np.ndarray | None, int | None]:
        """``(frames (T, H, W, 3) uint8, audio (C, S) float32 or None, audio rate or None)``
        of :meth:`run_pipeline`'s ``"np"`` output."""
        raise NotImplementedError

    def _describe_model(self, request: GenerationRequest) -> dict[str, Any]:
        """Family settings in the metadata, after ``guidance_scale``."""
        return {}

    def _describe_warp(self, request: GenerationRequest) -> dict[str, Any]:
        """Family warp diagnostics in the metadata, after ``warped``."""
        return {}

    # -- pipeline -------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        """The diffusers pipeline with the warp installed (loaded on first use).

        Raises:
            GeneratorError: if the loaded pipeline does not match the configured layout.
        """
        if self._pipe is None:
            pipe = self._load_pipeline()
            # Install before any offloading / compilation, and keep installed.
            self.patched = self._install_warp(pipe)
            place_pipeline(pipe, self.device, "none" if self.tiny else self.offload)
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe
        return self._pipe

    def base_kwargs(self, request: GenerationRequest, output_type: str = "np") -> dict[str, Any]:
        """Call arguments every family shares: prompts, size, frames, steps, CFG, token limit,
        output type and the seeded CPU ``torch.Generator`` (``request.seed``).

        Args:
            request: the request.
            output_type: diffusers ``output_type`` (``"np"``: frames in [0, 1]; ``"latent"``).

        Returns:
            Keyword arguments of the pipeline's ``__call__``.
        """
        import torch

        return {
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "num_frames": request.n_frames,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "generator": torch.Generator("cpu").manual_seed(int(request.seed)),
            "output_type": output_type,
            "max_sequence_length": self.max_sequence_length,
        }

    # -- protocol -------------------------------------------------------------------------
    @property
    def keyframe_guidance_scale(self) -> float:
        """CFG scale of the ``t2i`` keyframe renderer."""
        return 4.0

    @property
    def keyframe_negative_prompt(self) -> str:
        """Negative prompt of the ``t2i`` keyframe renderer (Wan's)."""
        return DEFAULT_NEGATIVE_PROMPT

    @classmethod
    def input_files(cls, **kwargs: Any) -> list[Path]:
        """The files a generator with these constructor arguments reads (their content is part
        of the run identity, :func:`spf_bench.bench.config.run_identity`).

        Args:
            **kwargs: constructor keyword arguments (missing ones take the constructor's
                defaults). Read: ``prompts``, ``mode``, ``keyframes``, ``keyframe_dir``.

        Returns:
            The prompt suite actually used (:func:`spf_bench.generators.common.
            resolve_prompt_suite` of ``prompts``), then, when keyframes are read from files
            (``mode`` ``flf`` / ``i2v`` with ``keyframes: dir``), every ``*.png`` in
            ``keyframe_dir``, sorted. A ``t2i`` ``keyframe_dir`` is a cache the generator
            writes its rendered keyframes to (a function of the config), not an input: hashing
            it would change the identity of a run after its first item.

        Raises:
            GeneratorError: the prompt suite does not exist, or ``keyframes: dir`` names a
                missing ``keyframe_dir``.
        """
        defaults = {
            k: p.default
            for k, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        args = {**defaults, **kwargs}
        files = [resolve_prompt_suite(args.get("prompts"))]
        folder = args.get("keyframe_dir")
        if args.get("mode") in ("flf", "i2v") and args.get("keyframes") == "dir":
            if not folder or not Path(folder).is_dir():
                raise GeneratorError(
                    f"keyframes=dir needs an existing keyframe_dir, got {folder!r}"
                )
            files += sorted(f.resolve() for f in Path(folder).glob("*.png"))
        return files

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """``n_videos`` prompt-suite items chosen with ``seed`` (the bench shards this list).

        Items are chosen from :attr:`prompts` (:func:`spf_bench.generators.common.select_items`:
        a seeded permutation, of which the first ``n_videos``). ``t2v``
        requests are returned as they are; ``flf`` and ``i2v`` requests carry ``first_image``
        (and ``last_image``), uint8 ``(H, W, 3)``, from the keyframe source; ``t2i`` renders them
        with :class:`~spf_bench.generators.common.WanT2IRenderer`, freed afterwards.

        Raises:
            GeneratorError: if the suite has fewer than ``n_videos`` items or keyframes fail.
        """
        chosen = select_items(load_prompt_suite(self.prompts), n_videos, seed)
        reqs = [base_request(it, seed, self.n_frames, self.fps, self.name) for it in chosen]
        if self.mode == "t2v":
            return reqs
        render = None
        if self.keyframes == "t2i":
            render = WanT2IRenderer(
                "tiny" if self.tiny else self.keyframe_model_id,
                self.height,
                self.width,
                self.keyframe_steps,
                self.keyframe_guidance_scale,
                self.device,
                self.dtype,
                self.offload,
                self.allow_download,
                self.cache_dir,
                self.keyframe_negative_prompt,
            )
        try:
            return attach_keyframes(
                reqs,
                self.keyframes,
                self.height,
                self.width,
                self.keyframe_dir,
                render,
                need_last=self.mode == "flf",
            )
        finally:
            if render is not None:
                render.close()

    def check_request(self, request: GenerationRequest) -> None:
        """Validate a request (step 1 of the module docstring).

        Raises:
            GeneratorError: naming the generator, the item and what is wrong: a frame count or
                size off the frame rule, no prompt, positions (or the composition base
                ``extra["base_positions"]``) not ``(bands, n_frames)`` or ``(n_frames,)``, a
                base without positions, or missing keyframes (``flf``: first and last;
                ``i2v``: first).
        """
        name = self.name
        check_frame_rules(
            request.n_frames,
            self.height,
            self.width,
            self.temporal_factor,
            self.spatial_multiple,
            name,
        )
        if not request.prompt:
            raise GeneratorError(f"{name}: request {request.item_id} has no prompt")
        base = (request.extra or {}).get(BASE_POSITIONS_KEY)
        if base is not None and request.positions is None:
            raise GeneratorError(
                f"{name}: request {request.item_id} has base positions but no positions"
            )
        for what, value in (("positions", request.positions), ("base positions", base)):
            if value is None:
                continue
            shape = np.shape(value)
            if shape not in ((request.n_frames,), (self.bands, request.n_frames)):
                raise GeneratorError(
                    f"{name}: {what} of shape {shape}; expected ({self.bands}, "
                    f"{request.n_frames}) (bands x frames, output frame units) or (n_frames,)"
                )
        if self.mode in ("flf", "i2v") and request.first_image is None:
            raise GeneratorError(
                f"{name}: request {request.item_id} lacks first_image (use items())"
            )
        if self.mode == "flf" and request.last_image is None:
            raise GeneratorError(
                f"{name}: first-last-frame request {request.item_id} lacks last_image"
            )

    def run_pipeline(self, request: GenerationRequest, output_type: str = "np") -> Any:
        """Run the pipeline for ``request`` with its positions set in the warp (steps 1-4).

        The positions stay set after the call (the ropes keep them until the next request);
        the warp's call log holds this call's timesteps and modulations.

        Args:
            request: the request (``positions`` ``None`` = stock grid, same code path;
                ``extra["base_positions"]``, when present, the composition base of the
                ``reference`` composition: band ``b`` rotates at ``B_b + g (P_b - B_b)``).
            output_type: diffusers ``output_type`` (``"np"`` or ``"latent"``).

        Returns:
            The family's pipeline output (see the subclass).

        Raises:
            GeneratorError: if the request is invalid.
        """
        self.check_request(request)
        pipe = self.pipe
        base = (request.extra or {}).get(BASE_POSITIONS_KEY)
        self.warp.set_positions(request.positions, request.n_frames, base=base)
        self.warp.reset_log()
        return self._unpack(pipe(**self.pipeline_kwargs(request, output_type)))

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at ``request.positions`` (stock grid when ``None``).

        Returns:
            :class:`GeneratedVideo` with uint8 frames ``(T, H, W, 3)`` at ``request.fps``, the
            family's audio if any (``(C, S)`` float32 in [-1, 1] and its rate in Hz), and
            JSON-serialisable metadata (:meth:`describe`, ``elapsed_s``, ``audio_rate``)
            including the diagnostic ``warp_max_rotation_rad`` (per band, band 0 highest
            frequency).

        Raises:
            GeneratorError: if the request cannot be honoured.
        """
        t0 = time.perf_counter()
        frames, audio, rate = self._decode(self.run_pipeline(request, "np"))
        meta = self.describe(request)
        meta["elapsed_s"] = round(time.perf_counter() - t0, 3)
        if audio is not None:
            meta["audio_rate"] = rate
        return GeneratedVideo(
            frames=frames, fps=request.fps, audio=audio, audio_rate=rate, metadata=meta
        )

    # -- diagnostics ----------------------------------------------------------------------
    def max_rotation(self, displacement: np.ndarray) -> list[float]:
        """Largest extra rotation of each band at full modulation, radians (rounded to 1e-6).

        Args:
            displacement: ``(B, L)`` warped minus stock positions in the rope's time unit.

        Returns:
            ``B`` floats (:func:`spf_bench.generators.warped_rope.max_extra_rotation`).
        """
        return max_extra_rotation(displacement, self.frequencies).round(6).tolist()

    def describe(self, request: GenerationRequest) -> dict[str, Any]:
        """JSON-serialisable metadata of the last generation of ``request``."""
        calls = self.warp.calls
        return {
            "generator": self.name,
            "model_id": self.tiny_model_id if self.tiny else self.model_id,
            "mode": self.mode,
            "item_id": request.item_id,
            "seed": int(request.seed),
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "n_frames": int(request.n_frames),
            "fps": float(request.fps),
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            **self._describe_model(request),
            "dtype": self.dtype,
            "device": self.device,
            "offload": self.offload,
            "g_mode": self.g_mode,
            "bands": self.bands,
            "warped": request.positions is not None,
            "warp_composition": "reference"
            if (request.extra or {}).get(BASE_POSITIONS_KEY) is not None
            else "accumulated",
            **self._describe_warp(request),
            "warp_schedule": [[c["label"], round(c["s"], 6), round(c["g"], 6)] for c in calls],
        }
