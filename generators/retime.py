"""Warp schedules for generation-time retiming ("ReTime", paper Sec. 4). Pure numpy.

The iterative ReTime loop measures the SPF of each output, inverts it to warped positions
``tau`` (frame units of that output, :func:`spf_bench.metrics.spf.invert_progress`) and updates
per-band target positions with a band schedule ``a_b`` (:func:`band_strengths`):

    additive (the paper's formula):  P_b <- P_b + a_b * (tau - t)
    compose (default):               P_b <- P_b o (t + a_b * (tau - t))

Output frame ``j`` of the last render shows the content at position ``P_b(j)``; to make frame
``k`` show what frame ``tau_k`` showed, it must be rendered at ``P_b(tau_k)``: composition is
exact, and the additive rule is its first-order approximation, equal at the first refinement
(``P_b = t``). When ``P_b`` is far from the identity (a steep designed profile) the additive
rule over- or under-shoots and can oscillate across iterations.

A video DiT then rotates its temporal RoPE band ``b`` at the denoising step of normalised
timestep ``s`` (1 = pure noise) at the in-model positions (:func:`in_model_positions`)

    p_b(s) = B_b + g(s) * (P_b - B_b),                                    (composition)

``g`` the timestep modulation (:func:`timestep_modulation`) and ``B_b`` the *base* of the
composition (:data:`COMPOSITIONS`):

- ``accumulated`` (spf-bench's original): ``B_b = t``, the stock grid, so ``g`` scales the whole
  accumulated warp ``P_b - t``; late in denoising (small ``g``) every iteration's warp fades.
- ``reference`` (the authors' ComfyUI node): ``B_b = P_b^{(k-1)}``, the positions of the
  previous iteration. The node blends ``(1 - a_b g) * linear + a_b g * warped`` with
  ``linear = P_b^{(k-1)}`` and ``warped = P_b^{(k-1)} + (tau - t)``; with the additive update
  that is exactly ``B_b + g (P_b - B_b)``: ``g`` scales only the current iteration's
  correction and earlier iterations' warp stays fully applied.

Both agree on the first refinement (``B_b = t``), the paper's
``p_t^(b) = (1 - a_b g(s)) t + a_b g(s) tau_t``. ``retime.mode=paper`` (:data:`LOOP_MODES`,
:func:`loop_settings`) is the additive update with the reference composition and modulation.
Generators without RoPE bands (``morph``) use one row with strength 1 and have no ``g``: only
the update rule matters for them.

:func:`retime_loop` is the one ReTime loop of spf-bench: ``retime=warped`` (a video DiT renders
at warped RoPE positions), ``retime=resample`` (the source frames are resampled at the
positions) and ``retime=segmented`` (keyframes + first-last-frame regeneration from the last
measured ``S``) differ only in the :data:`Renderer` they hand it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from spf_bench.generators.base import GeneratedVideo, stock_positions
from spf_bench.metrics import spf
from spf_bench.metrics.measure import Measurement, PacingSettings

__all__ = [
    "BASE_POSITIONS_KEY",
    "COMPOSITIONS",
    "G_MODES",
    "LOOP_MODES",
    "UPDATE_RULES",
    "Composition",
    "GMode",
    "LoopMode",
    "Renderer",
    "RetimeStep",
    "UpdateRule",
    "accumulate_positions",
    "band_strengths",
    "in_model_positions",
    "loop_settings",
    "renderer_for",
    "retime_loop",
    "stock_band_positions",
    "timestep_modulation",
]

#: Timestep modulations ``g(s)`` of the warp (:func:`timestep_modulation`).
GMode = Literal["none", "exp_up", "exp_down", "linear", "cosine"]
G_MODES: tuple[str, ...] = get_args(GMode)
#: Position-update rules of the ReTime loop (:func:`accumulate_positions`).
UpdateRule = Literal["compose", "additive"]
UPDATE_RULES: tuple[str, ...] = get_args(UpdateRule)
#: Bases of the in-model composition (:func:`in_model_positions`; module docstring).
Composition = Literal["accumulated", "reference"]
COMPOSITIONS: tuple[str, ...] = get_args(Composition)
#: ``default``: the given update rule and composition; ``paper``: the reference's positions
#: (additive update, reference composition; :func:`loop_settings`).
LoopMode = Literal["default", "paper"]
LOOP_MODES: tuple[str, ...] = get_args(LoopMode)
#: Key of :attr:`GenerationRequest.extra <spf_bench.generators.base.GenerationRequest>` holding
#: the composition base ``B`` (``(B, n)`` or ``(n,)`` float64, output frame units) of a request
#: rendered with the ``reference`` composition; absent = ``accumulated`` (base = stock grid).
BASE_POSITIONS_KEY = "base_positions"


def band_strengths(
    n_bands: int, a_low: float = 0.2, a_high: float = 0.8, lam: float = 3.0
) -> np.ndarray:
    """Per-band warp strength ``a_b`` (paper Sec. 4, band schedule).

    ``a_b = a_high + (a_low - a_high) * exp(-lam * b / (B - 1))`` for ``b = 0..B-1``, where band
    0 is the *highest* temporal frequency (Wan's ordering). With the defaults ``a_0 = 0.20`` and
    ``a_{B-1} ~= 0.77``: low-frequency bands (global structure) are warped more.

    Args:
        n_bands: number of temporal RoPE bands ``B`` (22 for Wan2.x with head dim 128); 0 or 1
            gives a single band of strength ``a_low`` when 1, an empty array when 0.
        a_low: strength of band 0 (highest frequency).
        a_high: asymptotic strength of the lowest-frequency band.
        lam: decay rate of the exponential schedule.

    Returns:
        ``np.ndarray`` of shape ``(n_bands,)``, float64.

    Raises:
        ValueError: if ``n_bands < 0`` or a strength is outside ``[0, 1]``.
    """
    if n_bands < 0:
        raise ValueError(f"n_bands must be >= 0, got {n_bands}")
    for nm, v in (("a_low", a_low), ("a_high", a_high)):
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{nm} must lie in [0, 1], got {v}")
    if n_bands == 0:
        return np.zeros(0)
    if n_bands == 1:
        return np.array([float(a_low)])
    b = np.arange(n_bands, dtype=np.float64)
    return a_high + (a_low - a_high) * np.exp(-lam * b / (n_bands - 1))


def timestep_modulation(s: float | np.ndarray, mode: str = "exp_up") -> np.ndarray:
    """Timestep modulation ``g(s)`` of the warp, ``s`` = diffusion timestep / 1000 (1 = noise).

    Modes (paper Sec. 4 and the reference workflow; docs/method.md, Sec. 4):

    - ``none``: ``g = 1`` at every step (constant full warp).
    - ``exp_up`` (default): ``(e^{3s} - 1) / (e^3 - 1)``: full warp early in denoising (s = 1),
      none at the end (s = 0).
    - ``exp_down``: ``(e^{3(1-s)} - 1) / (e^3 - 1)``, the reference's: ``exp_up`` mirrored in
      time, no warp early (s = 1) and full warp at the end (s = 0). (spf-bench before issue 12
      used ``(e^3 - e^{3(1-s)}) / (e^3 - 1)``, which rises with ``s``.)
    - ``linear``: ``g = s``.
    - ``cosine``: ``(1 - cos(pi s)) / 2``.

    Args:
        s: normalised timestep(s) in ``[0, 1]``; scalar or array.
        mode: one of :data:`G_MODES`.

    Returns:
        ``np.ndarray`` of the shape of ``s``, float64, values in ``[0, 1]``.

    Raises:
        ValueError: on an unknown mode.
    """
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    if mode == "none":
        return np.ones_like(s)
    if mode == "exp_up":
        return np.expm1(3.0 * s) / np.expm1(3.0)
    if mode == "exp_down":
        return np.expm1(3.0 * (1.0 - s)) / np.expm1(3.0)
    if mode == "linear":
        return s
    if mode == "cosine":
        return 0.5 * (1.0 - np.cos(np.pi * s))
    raise ValueError(f"unknown timestep modulation {mode!r}; choose one of {G_MODES}")


def loop_settings(mode: str, update: str, composition: str) -> tuple[str, str]:
    """The update rule and composition a ReTime loop mode stands for.

    Args:
        mode: one of :data:`LOOP_MODES`. ``default`` keeps ``update`` and ``composition``;
            ``paper`` reproduces the reference's in-model positions: ``additive`` update and
            ``reference`` composition (the modulation ``g`` is the generator's ``g_mode``,
            whose formulas are the reference's, ``exp_up`` its default).
        update: the configured update rule (:data:`UPDATE_RULES`).
        composition: the configured composition (:data:`COMPOSITIONS`).

    Returns:
        ``(update, composition)``.

    Raises:
        ValueError: on an unknown mode, rule or composition.
    """
    if mode not in LOOP_MODES:
        raise ValueError(f"unknown retime mode {mode!r}; choose one of {LOOP_MODES}")
    if update not in UPDATE_RULES:
        raise ValueError(f"unknown update rule {update!r}; choose one of {UPDATE_RULES}")
    if composition not in COMPOSITIONS:
        raise ValueError(f"unknown composition {composition!r}; choose one of {COMPOSITIONS}")
    if mode == "paper":
        return "additive", "reference"
    return update, composition


def in_model_positions(
    target: np.ndarray, g: float | np.ndarray, base: np.ndarray | None = None
) -> np.ndarray:
    """Positions a modulated renderer uses at one denoising step (module docstring).

    ``p = B + g (P - B)``: ``B = t`` (``base=None``, the ``accumulated`` composition) or the
    previous iteration's positions (``reference``).

    Args:
        target: ``P``, ``(n,)`` or ``(B, n)`` float64, output frame units.
        g: modulation of the step, scalar in ``[0, 1]`` (or broadcastable to ``target``).
        base: ``B`` of the shape of ``target`` (or ``(n,)``), or ``None`` for the stock grid.

    Returns:
        ``np.ndarray`` of the shape of ``target``, float64, output frame units.

    Raises:
        ValueError: if ``base`` does not broadcast to ``target``.
    """
    target = np.asarray(target, dtype=np.float64)
    if base is None:
        base = np.arange(target.shape[-1], dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    try:
        fits = np.broadcast_shapes(base.shape, target.shape) == target.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"base of shape {base.shape} does not fit target {target.shape}")
    return base + np.asarray(g, dtype=np.float64) * (target - base)


def accumulate_positions(
    positions: np.ndarray,
    tau: np.ndarray,
    strengths: np.ndarray | None = None,
    rule: str = "compose",
) -> np.ndarray:
    """One ReTime refinement step (see the module docstring for the two rules).

    Args:
        positions: current target positions, frame units: ``(n,)`` or ``(B, n)``, float64.
        tau: warped positions from the last measured SPF, ``(n,)``, frame units of the last
            output.
        strengths: ``a_b`` of shape ``(B,)`` (required when ``positions`` is 2-D); ignored
            (strength 1) when ``positions`` is 1-D.
        rule: ``compose`` (default, exact) or ``additive`` (the paper's formula).

    Returns:
        New positions, same shape as ``positions``, float64.

    Raises:
        ValueError: on mismatched shapes or an unknown rule.
    """
    if rule not in UPDATE_RULES:
        raise ValueError(f"unknown update rule {rule!r}; choose one of {UPDATE_RULES}")
    positions = np.asarray(positions, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    n = positions.shape[-1]
    if tau.shape != (n,):
        raise ValueError(f"tau has shape {tau.shape}, expected ({n},)")
    t = np.arange(n, dtype=np.float64)
    delta = tau - t
    if positions.ndim == 1:
        a = np.ones((1, 1))
        rows = positions[None]
    else:
        if strengths is None or np.shape(strengths) != (positions.shape[0],):
            raise ValueError(
                f"per-band positions {positions.shape} need strengths of shape "
                f"({positions.shape[0]},)"
            )
        a = np.asarray(strengths, dtype=np.float64)[:, None]
        rows = positions
    if rule == "additive":
        out = rows + a * delta[None, :]
    else:
        frames = t[None, :] + a * delta[None, :]  # where each band should sample, (B, n)
        out = np.stack([np.interp(f, t, p) for f, p in zip(frames, rows, strict=False)])
    return out[0] if positions.ndim == 1 else out


# --------------------------------------------------------------------------------------------
# The ReTime loop
# --------------------------------------------------------------------------------------------
#: ``render(positions, previous)`` -> the clip of one iteration. ``positions`` are the target
#: time positions (frame units; ``(n,)`` or ``(B, n)``; ``None`` = stock, iteration 0) and
#: ``previous`` the :class:`~spf_bench.metrics.measure.Measurement` of the last iteration's
#: output (``None`` at iteration 0). A warped-RoPE or resampling renderer uses ``positions``;
#: the segmented renderer plans its keyframes from ``previous``. A renderer whose signature
#: also has a ``base`` keyword (:func:`renderer_for`'s) receives, under the ``reference``
#: composition, the positions of the previous iteration (``None`` = stock) as
#: ``render(positions, previous, base=...)``; other renderers (no timestep modulation: they
#: render ``positions`` exactly) are called as before.
Renderer = Callable[..., GeneratedVideo]

#: ``measure(frames)`` -> :class:`~spf_bench.metrics.measure.Measurement` (the run's embedder
#: and SPF settings, :func:`spf_bench.metrics.measure.measure_frames`).
Measure = Callable[[np.ndarray], Measurement]


@dataclass
class RetimeStep:
    """One iteration of :func:`retime_loop`.

    Attributes:
        iteration: 0 for the baseline (stock positions), ``k`` for the ``k``-th refinement.
        video: the rendered clip.
        measurement: its measurement.
        positions: the positions it was rendered at, frame units, ``(n,)`` or ``(B, n)``
            float64 (the stock positions at iteration 0).
        tau: ``S^{-1}(P(k / (n - 1)))`` of this output (frame units, ``(n,)``), or ``None`` after
            the last iteration or when stopped.
        next_positions: the positions of the next iteration (the update rule applied to
            ``positions`` and ``tau``), or ``None``.
        stop: why the loop stops after this step (``""`` when it goes on or simply ends).
        base_positions: the composition base handed to the renderer (``reference``
            composition, iterations >= 1: the previous iteration's positions, same shape as
            ``positions``), or ``None`` (``accumulated``: the stock grid).
    """

    iteration: int
    video: GeneratedVideo
    measurement: Measurement
    positions: np.ndarray
    tau: np.ndarray | None = None
    next_positions: np.ndarray | None = None
    stop: str = ""
    base_positions: np.ndarray | None = None


def stock_band_positions(n_frames: int, bands: int) -> np.ndarray:
    """Stock positions ``0..n-1`` as ``(bands, n)`` (``bands >= 1``) or ``(n,)`` (``bands == 0``),
    float64, frame units."""
    t = stock_positions(n_frames)
    return np.tile(t, (bands, 1)) if bands else t


#: The default target pacing of :func:`retime_loop` (linear; frozen, so shared safely).
_LINEAR = PacingSettings()


def _takes_base(render: Renderer) -> bool:
    """Whether ``render`` accepts a ``base`` keyword (see :data:`Renderer`)."""
    try:
        params = inspect.signature(render).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no ``base``
        return False
    return "base" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def retime_loop(
    render: Renderer,
    measure: Measure,
    *,
    iterations: int,
    pacing: PacingSettings = _LINEAR,
    update: str = "compose",
    strengths: np.ndarray | None = None,
    bands: int = 0,
    start: int = 0,
    positions: np.ndarray | None = None,
    previous: Measurement | None = None,
    composition: str = "accumulated",
    mode: str = "default",
    base: np.ndarray | None = None,
    guide: str | None = None,
) -> Iterator[RetimeStep]:
    """The ReTime loop (paper Sec. 4, "iterative refinement"; docs/method.md, Sec. 4).

    Iteration 0 renders at the stock positions (the baseline). Each iteration's output is
    measured; while refinements remain, its ``S`` is inverted for the target pacing
    (:func:`spf_bench.metrics.spf.invert_progress`) and the positions are updated by
    ``update`` (:func:`accumulate_positions`, band strengths ``strengths``); the next iteration
    renders there. Under the ``reference`` composition each refinement's renderer also gets
    the previous iteration's positions as its composition base (:data:`Renderer`,
    :func:`in_model_positions`). A degenerate output (no semantic change above noise) stops
    the loop: there is nothing to retime.

    Steps are yielded as they finish, so a caller can persist each one before the next starts,
    and a resumed run passes ``start``, the stored ``positions`` and the ``previous``
    measurement (and, under the ``reference`` composition, ``base``).

    Args:
        render: the :data:`Renderer`.
        measure: the :data:`Measure`.
        iterations: number of refinements (>= 0); iteration indices run ``0..iterations``.
        pacing: target pacing.
        update: ``compose`` or ``additive`` (:data:`UPDATE_RULES`).
        strengths: per-band ``a_b`` ``(B,)`` when ``bands > 0``.
        bands: temporal RoPE bands of per-band positions (0 = one row).
        start: first iteration to run (resume).
        positions: positions of iteration ``start`` (required when ``start > 0`` unless the
            renderer ignores them).
        previous: measurement of iteration ``start - 1`` (resume).
        composition: ``accumulated`` (default) or ``reference`` (:data:`COMPOSITIONS`).
        mode: ``default`` or ``paper`` (:func:`loop_settings`: ``paper`` replaces ``update``
            and ``composition`` by ``additive`` and ``reference``).
        base: resume under the ``reference`` composition: the positions iteration
            ``start - 1`` was rendered at (its record's ``positions``; the stock grid for
            ``start = 1``), as an uninterrupted run passes them. ``None`` renders against the
            stock grid, which gives the same frames at ``start = 1`` but records no base
            (the step's ``base_positions`` is ``None``); it is refused from ``start >= 2``.
        guide: the SPF estimator whose ``S`` is inverted for the next positions
            (:meth:`spf_bench.metrics.measure.Measurement.progress_of`): ``None``, the
            measurement's own (the one every score is read with), or ``"paper"``. The
            warped-RoPE configs steer by ``"paper"`` (``retime.guide_estimator``; docs/method.md,
            Sec. 4, *Guide*): its lower-variance ``S`` steers a learned model better, and its
            pull towards linear only slows the loop, whose fixed point (a straight ``S``) is
            the same under both estimators.

    Yields:
        :class:`RetimeStep`, one per iteration run.

    Raises:
        ValueError: a bad ``iterations``/``start``/``update``/``composition``/``mode``, or a
            ``reference`` resume from ``start >= 2`` without ``base`` for a renderer that
            takes one; errors of ``render`` and ``measure`` propagate.
    """
    if int(iterations) < 0 or not 0 <= int(start) <= int(iterations):
        raise ValueError(f"need 0 <= start ({start}) <= iterations ({iterations})")
    update, composition = loop_settings(mode, update, composition)
    with_base = composition == "reference" and _takes_base(render)
    if with_base and int(start) >= 2 and base is None and positions is not None:
        raise ValueError(
            f"resuming at iteration {start} with composition='reference' needs base= (the "
            f"positions iteration {int(start) - 1} was rendered at)"
        )
    for it in range(int(start), int(iterations) + 1):
        used_base = None
        if it == 0:
            video = render(None, None)
        elif with_base:
            used_base = None if base is None else np.asarray(base, dtype=np.float64)
            video = render(positions, previous, base=used_base)
        else:
            video = render(positions, previous)
        m = measure(video.frames)
        n = m.n_frames
        used = (
            stock_band_positions(n, bands)
            if it == 0 or positions is None
            else np.asarray(positions, dtype=np.float64)
        )
        step = RetimeStep(
            iteration=it, video=video, measurement=m, positions=used, base_positions=used_base
        )
        if it < int(iterations):
            if m.degenerate:
                step.stop = "degenerate: no semantic change above noise, nothing to retime"
            else:
                step.tau = spf.invert_progress(
                    m.progress_of(guide), n, pacing.name, pacing.temperature
                )
                step.next_positions = accumulate_positions(used, step.tau, strengths, update)
        yield step
        if step.stop:
            return
        positions, previous, base = step.next_positions, m, used


def renderer_for(generator: object, request: object) -> Renderer:
    """The :data:`Renderer` of one benchmark item.

    A generator that plans from the last measurement (the segmented first-last-frame retimer)
    provides ``renderer(request)``; any other :class:`~spf_bench.generators.base.Generator`
    renders ``request`` at the given positions (stock when ``None``). That renderer takes the
    ``base`` keyword: a composition base (``reference`` composition) travels to the generator
    in ``request.extra[BASE_POSITIONS_KEY]`` (:data:`BASE_POSITIONS_KEY`); generators without
    timestep modulation ignore it.

    Args:
        generator: a :class:`~spf_bench.generators.base.Generator`.
        request: its :class:`~spf_bench.generators.base.GenerationRequest`.

    Returns:
        The renderer for :func:`retime_loop`.
    """
    own = getattr(generator, "renderer", None)
    if callable(own):
        return own(request)

    def render(
        positions: np.ndarray | None,
        previous: Measurement | None,
        base: np.ndarray | None = None,
    ) -> GeneratedVideo:
        req: Any = request.with_positions(positions)  # type: ignore[attr-defined]
        if base is not None:
            req.extra[BASE_POSITIONS_KEY] = np.asarray(base, dtype=np.float64)
        return generator.generate(req)  # type: ignore[attr-defined]

    return render
