"""Warped temporal RoPE for video DiTs ("ReTime", paper Sec. 4).

Only the temporal rotary channels are changed; height and width channels stay the stock ones.
Per band ``b`` of the temporal RoPE the token of output time ``t`` is rotated as if it stood at

    p_b(s) = B_b(t) + g(s) * (P_b(t) - B_b(t))                      (paper Sec. 4, modulation)

where ``P_b`` are the per-band target positions the ReTime loop accumulated in **output frame
units** (:func:`spf_bench.generators.retime.accumulate_positions`), ``B_b`` the composition
base (the stock grid ``t`` for the ``accumulated`` composition, the previous iteration's
positions for the ``reference`` one: :func:`spf_bench.generators.retime.in_model_positions`)
and ``g(s)`` is :func:`spf_bench.generators.retime.timestep_modulation` of the normalised
diffusion timestep ``s = timestep / 1000`` of the current transformer call. With ``P_b = t``
(the baseline, or ``a = 0``) the same code path reproduces the stock embedding bit for bit.

Band order throughout this module (and in every array it returns) is the bench's: band 0 is the
*highest* temporal frequency, as in Wan. LTX-2 stores its frequencies the other way round
(index 0 the lowest); the LTX-2 module maps between the two.

Pure-math pieces (numpy, float64):

- :func:`wan_latent_centres`, :func:`frames_to_latent_positions`: frame-space positions to Wan
  latent frames (VAE: latent 0 <-> frame 0, latent ``i`` <-> frame ``4i - 1.5``).
- :func:`wan_temporal_frequencies`, :func:`ltx2_temporal_frequencies`: per-band angular rates.
- :func:`band_angles`: temporal rotation angles at fractional positions.
- :func:`extra_rotation_bound`, :func:`max_extra_rotation`: the diagnostic "largest extra
  rotation ``a_b * w_b * max|tau - t|`` in radians per band".

Torch modules (torch and diffusers are imported on first use, never at module import):

- :class:`TemporalWarp`: the shared warp state (positions, composition base, ``g`` of the
  current call, call log) and the forward pre-hook that reads the timestep of each transformer
  call.
- ``WarpedWanRotaryPosEmbed`` (:class:`_WanRopeWarp` on diffusers' ``WanRotaryPosEmbed``,
  created by :func:`wan_rope_class`) swapped into ``transformer.rope`` (and
  ``transformer_2.rope``) by :func:`install_wan_warp`.
- ``WarpedLTX2RotaryPosEmbed`` (:class:`_LTX2RopeWarp` on diffusers'
  ``LTX2AudioVideoRotaryPosEmbed``, :func:`ltx2_rope_class`) for the video self-attention rope
  and the audio-video cross-attention ropes (:func:`install_ltx2_warp`).

- :class:`LatentRopeAdapter`: the documented interface of a warped rope (what
  :class:`TemporalWarp` calls: ``refresh`` and ``set_g``) with the latent-frame positions of a
  rope indexed by latent frame, for a third architecture in a few lines
  (:mod:`spf_bench.generators.hunyuan`; docs/extending.md).

Both class names stay importable from this module (``from spf_bench.generators.warped_rope
import WarpedWanRotaryPosEmbed``): a module ``__getattr__`` creates them on first access.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from spf_bench.generators.retime import G_MODES, timestep_modulation

if TYPE_CHECKING:  # annotations only: importing this module must not import torch
    import torch

__all__ = [
    "AV_CROSS_MODES",
    "AVCross",
    "LatentRopeAdapter",
    "TemporalWarp",
    "WarpedLTX2RotaryPosEmbed",  # noqa: F822 - created on first access (module __getattr__)
    "WarpedWanRotaryPosEmbed",  # noqa: F822
    "band_angles",
    "extra_rotation_bound",
    "frames_to_latent_positions",
    "install_ltx2_warp",
    "install_wan_warp",
    "ltx2_band_count",
    "ltx2_rope_class",
    "ltx2_temporal_frequencies",
    "max_extra_rotation",
    "resample_bands",
    "wan_band_count",
    "wan_latent_centres",
    "wan_rope_class",
    "wan_temporal_frequencies",
    "warped_ropes",
]

#: LTX-2 audio-video cross-attention warp (:func:`install_ltx2_warp`).
AVCross = Literal["both", "video", "none"]
AV_CROSS_MODES: tuple[str, ...] = get_args(AVCross)


# --------------------------------------------------------------------------------------------
# Pure math (numpy, float64)
# --------------------------------------------------------------------------------------------


def wan_band_count(head_dim: int) -> int:
    """Number of temporal RoPE bands of a Wan transformer with attention head dim ``head_dim``.

    Wan splits a head into ``t = head_dim - 4 * (head_dim // 6)`` temporal channels and
    ``2 * (head_dim // 6)`` channels each for height and width; each band is a channel pair.

    Args:
        head_dim: attention head dimension (128 for Wan2.x).

    Returns:
        ``t // 2`` (22 for head dim 128).

    Raises:
        ValueError: if the split gives an odd or empty temporal part.
    """
    t_dim = int(head_dim) - 4 * (int(head_dim) // 6)
    if t_dim <= 0 or t_dim % 2:
        raise ValueError(
            f"head dim {head_dim} gives an invalid temporal RoPE split (t_dim={t_dim})"
        )
    return t_dim // 2


def wan_temporal_frequencies(head_dim: int, theta: float = 10000.0) -> np.ndarray:
    """Angular rates ``w_b`` of Wan's temporal RoPE bands, band 0 the highest.

    ``w_b = theta ** (-2b / t_dim)`` radians per latent frame, exactly as diffusers'
    ``get_1d_rotary_pos_embed`` builds them for ``WanRotaryPosEmbed``.

    Args:
        head_dim: attention head dimension.
        theta: RoPE base.

    Returns:
        ``np.ndarray`` of shape ``(B,)``, float64, radians per latent frame.
    """
    t_dim = 2 * wan_band_count(head_dim)
    return 1.0 / (float(theta) ** (np.arange(0, t_dim, 2, dtype=np.float64) / t_dim))


def ltx2_band_count(dim: int, num_pos_dims: int = 3) -> int:
    """Number of frequencies per axis of an LTX-2 rope of total width ``dim``.

    Args:
        dim: rope width (``num_attention_heads * attention_head_dim`` for self-attention).
        num_pos_dims: coordinate axes (3 for video self-attention, 1 for cross-attention).

    Returns:
        ``dim // (2 * num_pos_dims)`` (682 for LTX-2 video, dim 4096).
    """
    return int(dim) // (2 * int(num_pos_dims))


def ltx2_temporal_frequencies(
    dim: int,
    num_pos_dims: int = 3,
    theta: float = 10000.0,
    base_num_frames: float = 20.0,
) -> np.ndarray:
    """Angular rates of LTX-2's temporal RoPE bands, in the bench's order (band 0 highest).

    LTX-2 rotates band ``f`` by ``(2 * c / base_num_frames - 1) * f_pi`` with ``c`` the time
    coordinate in seconds and ``f_pi = theta ** linspace(0, 1, F)[f] * pi / 2`` (index 0 the
    lowest). The rate is therefore ``2 * f_pi / base_num_frames`` radians per second.

    Args:
        dim: rope width.
        num_pos_dims: coordinate axes of that rope.
        theta: RoPE base.
        base_num_frames: the rope's ``base_num_frames`` (``pos_embed_max_pos``, 20 for LTX-2).

    Returns:
        ``np.ndarray`` of shape ``(F,)``, float64, radians per second, band 0 the highest.
    """
    n = ltx2_band_count(dim, num_pos_dims)
    f_pi = float(theta) ** np.linspace(0.0, 1.0, n, dtype=np.float64) * math.pi / 2.0
    return (2.0 * f_pi / float(base_num_frames))[::-1].copy()


def wan_latent_centres(
    n_frames: int, temporal_factor: int = 4, pin_last: bool = False
) -> np.ndarray:
    """Output-frame position each Wan latent frame stands for.

    The causal Wan VAE encodes frame 0 alone into latent 0 and each later group of
    ``temporal_factor`` frames into one latent, so latent ``i >= 1`` covers frames
    ``4i - 3 .. 4i`` and is centred at ``4i - 1.5``.

    Args:
        n_frames: output frames ``F``; ``F - 1`` must be a multiple of ``temporal_factor``.
        temporal_factor: VAE temporal compression (4 for Wan2.x).
        pin_last: centre the last latent on the last frame ``F - 1`` instead (first-last-frame
            mode, where that latent carries the conditioning last frame).

    Returns:
        ``np.ndarray`` of shape ``(L,)``, float64, frame units, ``L = (F - 1) / k + 1``.

    Raises:
        ValueError: if ``F - 1`` is not a multiple of ``temporal_factor``.
    """
    n_frames, k = int(n_frames), int(temporal_factor)
    if n_frames < 1 or (n_frames - 1) % k:
        raise ValueError(f"n_frames={n_frames} is not of the form {k}n+1")
    n_latent = (n_frames - 1) // k + 1
    centres = k * np.arange(n_latent, dtype=np.float64) - (k - 1) / 2.0
    centres[0] = 0.0
    if pin_last and n_latent > 1:
        centres[-1] = float(n_frames - 1)
    return centres


def frames_to_latent_positions(
    positions: np.ndarray,
    temporal_factor: int = 4,
    pin_endpoints: bool = False,
) -> np.ndarray:
    """Map per-band target positions from output frames to Wan latent frames.

    Each latent ``i`` samples the frame-space displacement ``P_b(c) - c`` at its centre ``c_i``
    (:func:`wan_latent_centres`, linear interpolation) and rescales it to latent units by
    ``(L - 1) / (F - 1)``:

        q_b(i) = i + (P_b(c_i) - c_i) * (L - 1) / (F - 1).

    Stock positions ``P_b = t`` give exactly ``q_b(i) = i``. (Scaling the positions themselves,
    ``P_b(c_i) * (L - 1)/(F - 1)``, would move the stock grid by up to 3/8 of a latent frame and so
    could not be the baseline.)

    Args:
        positions: ``np.ndarray`` of shape ``(B, F)`` or ``(F,)``, float64, output frame units.
        temporal_factor: VAE temporal compression (4 for Wan2.x).
        pin_endpoints: first-last-frame mode: the last latent is centred on frame ``F - 1`` and
            both end latents keep their stock positions exactly (their content is the
            conditioning frames).

    Returns:
        ``np.ndarray`` of shape ``(B, L)`` (or ``(L,)`` for 1-D input), float64, latent frames.

    Raises:
        ValueError: on non-finite positions or a frame count not of the form ``4n+1``.
    """
    p = np.asarray(positions, dtype=np.float64)
    squeeze = p.ndim == 1
    p = np.atleast_2d(p)
    if p.ndim != 2:
        raise ValueError(f"positions must be (F,) or (B, F), got shape {np.shape(positions)}")
    if not np.all(np.isfinite(p)):
        raise ValueError("positions contain non-finite values")
    n_frames = p.shape[1]
    centres = wan_latent_centres(n_frames, temporal_factor, pin_last=pin_endpoints)
    n_latent = centres.size
    frames = np.arange(n_frames, dtype=np.float64)
    scale = (n_latent - 1) / (n_frames - 1) if n_frames > 1 else 0.0
    disp = np.stack([np.interp(centres, frames, row - frames) for row in p]) * scale
    if pin_endpoints:
        disp[:, 0] = 0.0
        disp[:, -1] = 0.0
    out = np.arange(n_latent, dtype=np.float64)[None, :] + disp
    return out[0] if squeeze else out


def band_angles(latent_positions: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Temporal rotation angles at fractional per-band positions.

    ``angle[i, b] = q_b(i) * w_b`` (the argument of cos/sin in each temporal channel pair).

    Args:
        latent_positions: ``(B, L)`` float64 positions (latent frames for Wan, or any unit
            matching ``frequencies``).
        frequencies: ``(B,)`` float64 angular rates (radians per unit of position).

    Returns:
        ``np.ndarray`` of shape ``(L, B)``, float64, radians.

    Raises:
        ValueError: on mismatched band counts.
    """
    q = np.atleast_2d(np.asarray(latent_positions, dtype=np.float64))
    w = np.asarray(frequencies, dtype=np.float64)
    if q.shape[0] != w.shape[0]:
        raise ValueError(f"positions have {q.shape[0]} bands, frequencies {w.shape[0]}")
    return (q * w[:, None]).T


def extra_rotation_bound(
    strengths: np.ndarray,
    frequencies: np.ndarray,
    tau: np.ndarray,
    frame_to_unit: float = 1.0,
) -> np.ndarray:
    """The diagnostic of issue 3: per band, ``a_b * w_b * max|tau - t|``, in radians.

    The largest extra rotation one ReTime iteration ``P_b = t + a_b (tau - t)`` can add to band
    ``b`` at full modulation ``g = 1``.

    Args:
        strengths: ``a_b``, shape ``(B,)`` (:func:`spf_bench.generators.retime.band_strengths`).
        frequencies: ``w_b``, shape ``(B,)``, radians per position unit, band 0 the highest.
        tau: warped positions, shape ``(F,)``, output frame units.
        frame_to_unit: position units per output frame: ``(L - 1)/(F - 1)`` for Wan latent frames,
            ``1 / fps`` for LTX-2 seconds.

    Returns:
        ``np.ndarray`` of shape ``(B,)``, float64, radians.
    """
    tau = np.asarray(tau, dtype=np.float64)
    shift = float(np.max(np.abs(tau - np.arange(tau.size)))) if tau.size else 0.0
    return (
        np.asarray(strengths, np.float64)
        * np.asarray(frequencies, np.float64)
        * shift
        * float(frame_to_unit)
    )


def max_extra_rotation(displacement: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Per band, the largest extra rotation a given (accumulated) warp applies, in radians.

    ``w_b * max_i |d_b(i)|`` where ``d_b`` is the displacement from the stock positions in the
    frequencies' unit. For one iteration from the stock positions this equals
    :func:`extra_rotation_bound` (up to the frame-to-latent sampling).

    Args:
        displacement: ``(B, N)`` float64 (latent frames for Wan, seconds for LTX-2).
        frequencies: ``(B,)`` float64 angular rates in radians per that unit.

    Returns:
        ``np.ndarray`` of shape ``(B,)``, float64, radians.
    """
    d = np.atleast_2d(np.asarray(displacement, dtype=np.float64))
    return np.asarray(frequencies, np.float64) * (np.max(np.abs(d), axis=1) if d.shape[1] else 0.0)


def resample_bands(rows: np.ndarray, n_out: int) -> np.ndarray:
    """Resample per-band rows (bench order, band 0 highest) to ``n_out`` bands by frequency rank.

    Used when a rope has a different number of frequencies than the bench's bands (LTX-2's
    cross-attention rope): band ``j`` of ``n_out`` takes the rows interpolated at the same
    fractional position ``j / (n_out - 1)`` along the (log-uniform) frequency ladder.

    Args:
        rows: ``(B, N)`` float64.
        n_out: number of output bands.

    Returns:
        ``np.ndarray`` of shape ``(n_out, N)``, float64.
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    n_in = rows.shape[0]
    if n_out == n_in:
        return rows.copy()
    if n_in == 1:
        return np.repeat(rows, n_out, axis=0)
    u = np.linspace(0.0, n_in - 1, n_out) if n_out > 1 else np.zeros(1)
    lo = np.clip(np.floor(u).astype(int), 0, n_in - 2)
    w = (u - lo)[:, None]
    return rows[lo] * (1.0 - w) + rows[lo + 1] * w


# --------------------------------------------------------------------------------------------
# Shared warp state
# --------------------------------------------------------------------------------------------


def _position_rows(
    positions: np.ndarray | None, bands: int, n_frames: int, what: str
) -> np.ndarray | None:
    """Validate ``(F,)`` / ``(bands, F)`` positions; return ``(bands, F)`` float64 or ``None``."""
    if positions is None:
        return None
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim == 1:
        p = np.broadcast_to(p, (bands, p.size)).copy()
    if p.shape != (bands, n_frames):
        raise ValueError(
            f"{what} have shape {np.shape(positions)}; expected ({n_frames},) or "
            f"({bands}, {n_frames}) (bands x frames, output frame units)"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{what} contain non-finite values")
    return p


class TemporalWarp:
    """Warp state shared by every warped rope of one pipeline.

    Holds the per-band target positions of the current request (output frame units, bench band
    order), the composition base (:func:`spf_bench.generators.retime.in_model_positions`), the
    modulation ``g`` of the current transformer call and a log of every call. The transformer
    forward pre-hook (:meth:`pre_hook`) reads the call's timestep, so pipelines are not forked.
    Every rope then rotates band ``b`` at ``B_b + g (P_b - B_b)`` (``B_b = t`` without a base).

    Args:
        bands: number of temporal bands ``B`` the positions carry (22 for Wan2.x).
        g_mode: timestep modulation, one of :data:`spf_bench.generators.retime.G_MODES`.
        timestep_scale: ``s = timestep / timestep_scale`` (1000, diffusers'
            ``num_train_timesteps``).

    Attributes:
        positions: ``np.ndarray`` ``(B, F)`` float64 frame units, or ``None`` (stock positions).
        base: the composition base ``(B, F)`` float64 frame units (``reference`` composition),
            or ``None`` (the stock grid: ``accumulated``).
        n_frames: output frame count of the current request, or ``None``.
        s: normalised timestep of the last call (1 = noise).
        g: modulation of the last call, ``timestep_modulation(s, g_mode)``.
        fps: frame rate passed to the last call (LTX-2's ``fps`` kwarg), frames per second.
        calls: list of ``{"label", "timestep", "s", "g"}`` dicts, one per transformer call.
        record_applied: when ``True`` every warped rope appends the positions it actually
            used to :attr:`applied` (a diagnostic for tests; off by default: LTX-2 logs are
            large).
        applied: list of dicts, one per rope evaluation since :meth:`reset_log`: ``call``
            (index into :attr:`calls`, -1 outside a hooked call), ``rope`` (``"wan"`` or the
            LTX-2 role) and ``positions``: Wan ``(B, L)`` float64 latent frames; LTX-2
            ``(F, U)`` float64 seconds, LTX frequency order, at the unique token times
            ``times`` ``(U,)`` float64 seconds.

    Raises:
        ValueError: on an unknown ``g_mode`` or ``bands < 1``.
    """

    def __init__(self, bands: int, g_mode: str = "exp_up", timestep_scale: float = 1000.0):
        if g_mode not in G_MODES:
            raise ValueError(f"unknown g_mode {g_mode!r}; choose one of {G_MODES}")
        if int(bands) < 1:
            raise ValueError(f"bands must be >= 1, got {bands}")
        self.bands = int(bands)
        self.g_mode = g_mode
        self.timestep_scale = float(timestep_scale)
        self.positions: np.ndarray | None = None
        self.base: np.ndarray | None = None
        self.n_frames: int | None = None
        self.s = 1.0
        self.g = float(timestep_modulation(1.0, g_mode))
        self.fps = 24.0
        self.calls: list[dict[str, Any]] = []
        self.record_applied = False
        self.applied: list[dict[str, Any]] = []
        self._ropes: list[Any] = []

    # -- positions ------------------------------------------------------------------------
    def set_positions(
        self,
        positions: np.ndarray | None,
        n_frames: int,
        base: np.ndarray | None = None,
    ) -> None:
        """Set the target positions (and composition base) of the next generation.

        Args:
            positions: ``(B, F)`` or ``(F,)`` float64, output frame units; a 1-D row applies to
                every band. ``None`` keeps the stock grid (the baseline, same code path).
            n_frames: output frames ``F``.
            base: composition base ``B`` of the ``reference`` composition, shaped like
                ``positions``: the positions of the previous ReTime iteration; each call then
                rotates at ``B + g (P - B)``. ``None``: the stock grid (``accumulated``,
                ``t + g (P - t)``, the original code path bit for bit).

        Raises:
            ValueError: on a shape that is not ``(F,)`` / ``(bands, F)``, non-finite values, or
                a ``base`` without ``positions``.
        """
        n_frames = int(n_frames)
        p = _position_rows(positions, self.bands, n_frames, "positions")
        b = _position_rows(base, self.bands, n_frames, "base positions")
        if b is not None and p is None:
            raise ValueError("base positions need target positions (positions is None)")
        self.positions, self.base, self.n_frames = p, b, n_frames
        for rope in self._ropes:
            rope.refresh()

    def displacement(self) -> np.ndarray | None:
        """``P_b - t`` in output frames, ``(B, F)`` float64, or ``None`` for stock positions."""
        if self.positions is None:
            return None
        return self.positions - np.arange(self.positions.shape[1], dtype=np.float64)[None, :]

    def base_displacement(self) -> np.ndarray | None:
        """``B_b - t`` in output frames, ``(B, F)`` float64, or ``None`` (no base: stock grid)."""
        if self.base is None:
            return None
        return self.base - np.arange(self.base.shape[1], dtype=np.float64)[None, :]

    # -- timestep -------------------------------------------------------------------------
    def set_timestep(self, timestep: float, label: str = "") -> float:
        """Set ``g`` from a raw diffusion timestep and log the call.

        Args:
            timestep: timestep of the transformer call (0..1000 in diffusers).
            label: which module is called (``"transformer"``, ``"transformer_2"``).

        Returns:
            ``g``, a float in ``[0, 1]``.
        """
        s = float(timestep) / self.timestep_scale
        g = float(timestep_modulation(s, self.g_mode))
        self.s, self.g = s, g
        self.calls.append({"label": label, "timestep": float(timestep), "s": s, "g": g})
        for rope in self._ropes:
            rope.set_g(g)
        return g

    def pre_hook(self, label: str) -> Callable[..., None]:
        """A ``register_forward_pre_hook(..., with_kwargs=True)`` hook for a transformer.

        The hook reads ``timestep`` (keyword or second positional argument; per-token timesteps
        use their maximum, the noise level of the generated tokens) and, when given, ``fps``.
        """

        def hook(module: Any, args: tuple, kwargs: dict) -> None:
            import torch

            ts = kwargs.get("timestep")
            if ts is None and len(args) > 1:
                ts = args[1]
            if ts is None:
                raise RuntimeError(
                    f"{label}: transformer called without a timestep; cannot modulate the warp"
                )
            value = float(ts.max()) if torch.is_tensor(ts) else float(np.max(ts))
            fps = kwargs.get("fps")
            if fps is not None:
                self.fps = float(fps)
            self.set_timestep(value, label)

        return hook

    def reset_log(self) -> None:
        """Forget the call log and the applied-positions log (call before each generation)."""
        self.calls = []
        self.applied = []

    def log_applied(self, rope: str, positions: np.ndarray, **more: Any) -> None:
        """Append one rope evaluation to :attr:`applied` (when :attr:`record_applied`)."""
        if self.record_applied:
            entry = {"call": len(self.calls) - 1, "rope": rope, "positions": positions, **more}
            self.applied.append(entry)

    def attach(self, rope: Any) -> None:
        """Register a warped rope so position / ``g`` updates reach it."""
        self._ropes.append(rope)
        rope.refresh()
        rope.set_g(self.g)


def _rope_state_tensor(value: float, like: Any = None) -> torch.Tensor:
    import torch

    device = like.device if like is not None else torch.device("cpu")
    return torch.tensor(float(value), dtype=torch.float64, device=device)


def _to_device(module: Any, name: str, device: Any) -> Any:
    """``getattr(module, name)`` moved to ``device`` (cached there); ``None`` stays ``None``."""
    value = getattr(module, name)
    if value is not None and value.device != device:
        value = value.to(device)
        setattr(module, name, value)
    return value


# --------------------------------------------------------------------------------------------
# The rope adapter interface
# --------------------------------------------------------------------------------------------


class LatentRopeAdapter:
    """The interface a warped rope meets, with the positions of a rope indexed by latent frame.

    :class:`TemporalWarp` calls two methods of every rope attached to it
    (:meth:`TemporalWarp.attach`): :meth:`refresh` after new positions are set and
    :meth:`set_g` before each transformer call. This mixin implements both for a rope whose
    temporal coordinate is the latent frame index of a causal video VAE (Wan, HunyuanVideo:
    latent 0 <-> frame 0, latent ``i`` <-> frames ``k(i-1)+1 .. ki``), and gives the adapter's
    ``forward`` the per-band positions to rotate at (:meth:`latent_positions`):

        q_b(i) = i + e_b(i) + g * (d_b(i) - e_b(i))

    with ``d_b`` the latent displacement of the target positions
    (:func:`frames_to_latent_positions` minus ``i``), ``e_b`` that of the composition base
    (0 without one) and ``g`` the modulation of the current call. Zero displacement gives
    ``q_b(i) = i`` exactly, so an adapter that computes its temporal angles from ``q`` with the
    stock module's own arithmetic reproduces the stock output bit for bit.

    A family's adapter subclasses ``(LatentRopeAdapter, <diffusers rope class>)``, copies the
    stock module's attributes, calls :meth:`bind` and overrides ``forward`` to recompute only
    the temporal channels at :meth:`latent_positions` (docs/extending.md, "A video DiT with
    temporal RoPE"). Band order is the bench's: band 0 the highest frequency.

    Attributes:
        warp: the shared :class:`TemporalWarp`.
        temporal_factor: VAE temporal compression ``k``.
        pin_endpoints: first-last-frame mode (:func:`frames_to_latent_positions`).
    """

    warp: TemporalWarp

    def bind(self, warp: TemporalWarp, temporal_factor: int, pin_endpoints: bool = False) -> None:
        """Attach to ``warp`` (call once, from the adapter's constructor).

        Args:
            warp: shared warp state; its ``bands`` must be the rope's temporal band count.
            temporal_factor: VAE temporal compression.
            pin_endpoints: first-last-frame mode.
        """
        self.temporal_factor = int(temporal_factor)
        self.pin_endpoints = bool(pin_endpoints)
        self._delta: np.ndarray | None = None  # (B, L) float64 latent displacement of P
        self._base_delta: np.ndarray | None = None  # (B, L) float64 of the base, or None
        self._g_value = float(warp.g)
        self.warp = warp
        warp.attach(self)

    def _latent_displacement_of(self, positions: np.ndarray) -> np.ndarray:
        q = frames_to_latent_positions(positions, self.temporal_factor, self.pin_endpoints)
        return q - np.arange(q.shape[1], dtype=np.float64)[None, :]

    def refresh(self) -> None:
        """Recompute the latent displacements from ``warp.positions`` / ``warp.base``."""
        p, b = self.warp.positions, self.warp.base
        self._delta = None if p is None else self._latent_displacement_of(p)
        self._base_delta = None if b is None else self._latent_displacement_of(b)

    def set_g(self, g: float) -> None:
        """Set the modulation ``g`` of the coming transformer call."""
        self._g_value = float(g)

    def latent_positions(self, n_latent: int) -> np.ndarray:
        """Per-band positions of the coming call, ``q_b(i)`` above.

        Args:
            n_latent: latent frames ``L`` of the transformer input.

        Returns:
            ``np.ndarray`` of shape ``(B, L)``, float64, latent frames (exactly ``i`` in every
            band when no positions are set).

        Raises:
            RuntimeError: the positions were set for another latent frame count.
        """
        grid = np.arange(int(n_latent), dtype=np.float64)
        if self._delta is None:
            q = np.broadcast_to(grid, (self.warp.bands, grid.size)).copy()
        elif self._delta.shape[1] != n_latent:
            raise RuntimeError(
                f"warp positions map to {self._delta.shape[1]} latent frames but the transformer "
                f"got {n_latent}; call TemporalWarp.set_positions with this request's frame count"
            )
        elif self._base_delta is None:
            q = grid[None, :] + self._g_value * self._delta
        else:
            q = grid[None, :] + self._base_delta + self._g_value * (self._delta - self._base_delta)
        if self.warp.record_applied:
            self.warp.log_applied(type(self).__name__, q.copy())
        return q


# --------------------------------------------------------------------------------------------
# Wan
# --------------------------------------------------------------------------------------------


class _WanRopeWarp:
    """``WanRotaryPosEmbed`` whose temporal channels are computed at warped positions.

    Drop-in for ``transformer.rope`` of diffusers' ``WanTransformer3DModel`` (same attribute
    name, same non-persistent buffers, so ``_keep_in_fp32_modules``, the context-parallel plan
    and the state_dict are unchanged). Height/width channels come from the stock tables; the
    ``t_dim`` temporal channels are ``cos/sin(q_b(i) * w_b)`` computed in float64 at

        q_b(i) = i + g * d_b(i)                          (accumulated: no base)
        q_b(i) = i + e_b(i) + g * (d_b(i) - e_b(i))      (reference: base B)

    ``d_b`` the per-band latent displacement of the target positions
    (:func:`frames_to_latent_positions` minus ``i``), ``e_b`` that of the base and ``g`` the
    modulation of the current call, then cast to float32 and to the buffers' dtype as the
    stock table is. ``d = 0`` reproduces the stock output bit for bit.

    The class itself, ``WarpedWanRotaryPosEmbed``, subclasses diffusers' ``WanRotaryPosEmbed``
    and is created on first use (:func:`wan_rope_class`; also reachable as
    ``spf_bench.generators.warped_rope.WarpedWanRotaryPosEmbed``), so importing this module
    does not import torch or diffusers. Build it with :meth:`from_stock`, not the constructor.

    Attributes:
        warp: the shared :class:`TemporalWarp`.
        temporal_factor: VAE temporal compression used to map frames to latents.
        pin_endpoints: first-last-frame mode (see :func:`frames_to_latent_positions`).
    """

    warp: TemporalWarp

    @classmethod
    def from_stock(
        cls,
        stock: Any,
        warp: TemporalWarp,
        temporal_factor: int = 4,
        pin_endpoints: bool = False,
        theta: float = 10000.0,
    ) -> Any:
        """Wrap a stock rope, sharing its buffers.

        Args:
            stock: the transformer's ``rope`` module (a diffusers ``WanRotaryPosEmbed``).
            warp: shared warp state; its ``bands`` must equal ``stock.t_dim // 2``.
            temporal_factor: VAE temporal compression (``pipe.vae_scale_factor_temporal``).
            pin_endpoints: first-last-frame mode.
            theta: RoPE base of the stock module (Wan: 10000).

        Returns:
            The warped rope (registered with ``warp``).

        Raises:
            TypeError: if ``stock`` is not a ``WanRotaryPosEmbed``.
            ValueError: on a band-count mismatch, or if ``theta`` does not reproduce the stock
                temporal table.
        """
        import torch
        from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

        if not isinstance(stock, WanRotaryPosEmbed):
            raise TypeError(f"expected a WanRotaryPosEmbed, got {type(stock).__name__}")
        if isinstance(stock, _WanRopeWarp):
            raise ValueError("rope is already warped")
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        for attr in ("attention_head_dim", "patch_size", "max_seq_len", "t_dim", "h_dim", "w_dim"):
            setattr(new, attr, getattr(stock, attr))
        new.register_buffer("freqs_cos", stock.freqs_cos, persistent=False)
        new.register_buffer("freqs_sin", stock.freqs_sin, persistent=False)
        if warp.bands != new.t_dim // 2:
            raise ValueError(f"warp has {warp.bands} bands, the rope {new.t_dim // 2}")
        new.temporal_factor = int(temporal_factor)
        new.pin_endpoints = bool(pin_endpoints)
        new.theta = float(theta)
        # float64 rates exactly as get_1d_rotary_pos_embed builds them (kept out of buffers so
        # that module.to(dtype) cannot cast them).
        dim = new.t_dim
        new._freqs_t = 1.0 / (new.theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        check = torch.cos(new._freqs_t).float()
        table = stock.freqs_cos[1, 0:dim:2].float().cpu()
        if stock.freqs_cos.device.type != "meta" and not torch.allclose(
            check, table, atol=1e-2, rtol=0
        ):
            raise ValueError("theta does not reproduce the stock temporal table")
        new._delta = None  # (B, L) float64 latent displacement of P, or None (stock positions)
        new._base = None  # (B, L) float64 latent displacement of the base, or None (stock)
        new._step = None  # _delta - _base (the modulated part under a base), or None
        new._g = _rope_state_tensor(warp.g, None)
        new.warp = warp
        warp.attach(new)
        return new

    def _latent_displacement_of(self, positions: np.ndarray) -> np.ndarray:
        q = frames_to_latent_positions(positions, self.temporal_factor, self.pin_endpoints)
        return q - np.arange(q.shape[1], dtype=np.float64)[None, :]

    def refresh(self) -> None:
        """Recompute the latent displacements from ``warp.positions`` / ``warp.base``."""
        import torch

        if self.warp.positions is None:
            self._delta = self._base = self._step = None
            return
        d = self._latent_displacement_of(self.warp.positions)
        self._delta = torch.from_numpy(d)
        if self.warp.base is None:
            self._base = self._step = None
            return
        e = self._latent_displacement_of(self.warp.base)
        self._base = torch.from_numpy(e)
        self._step = torch.from_numpy(d - e)

    def set_g(self, g: float) -> None:
        """Set the modulation of the coming call (in place, so compiled graphs see a tensor)."""
        self._g.fill_(float(g))

    def latent_displacement(self, n_latent: int) -> np.ndarray:
        """The latent displacement ``d_b(i)`` of the target positions in force (at ``g = 1``),
        ``(B, L)`` float64 latent frames."""
        if self._delta is None:
            return np.zeros((self.t_dim // 2, n_latent))
        return self._delta.cpu().numpy().copy()

    def temporal_tables(self, num_latent: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Warped temporal cos/sin for ``num_latent`` latent frames.

        Returns:
            ``(cos, sin)``, each of shape ``(num_latent, t_dim)`` in the buffers' dtype, channel
            pairs repeated as in the stock table.

        Raises:
            RuntimeError: if the warp was set for a different latent frame count.
        """
        import torch

        freqs = _to_device(self, "_freqs_t", device)
        g = _to_device(self, "_g", device)
        delta = self._delta
        if delta is None:
            delta = torch.zeros((freqs.shape[0], num_latent), dtype=torch.float64, device=device)
        elif delta.shape[1] != num_latent:
            raise RuntimeError(
                f"warp positions map to {delta.shape[1]} latent frames but the transformer got "
                f"{num_latent}; call TemporalWarp.set_positions with this request's frame count"
            )
        else:
            delta = _to_device(self, "_delta", device)
        t = torch.arange(num_latent, dtype=torch.float64, device=device)
        if self._base is None:
            pos = t[None, :] + g * delta  # (B, L) latent frames
        else:
            base = _to_device(self, "_base", device)
            step = _to_device(self, "_step", device)
            pos = t[None, :] + base + g * step
        if self.warp.record_applied:
            self.warp.log_applied("wan", pos.detach().cpu().numpy().copy())
        angles = (pos * freqs[:, None]).T  # (L, B) radians
        dtype = self.freqs_cos.dtype
        cos = angles.cos().repeat_interleave(2, dim=1).float().to(dtype)
        sin = angles.sin().repeat_interleave(2, dim=1).float().to(dtype)
        return cos, sin

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary tables for ``hidden_states`` of shape ``(B, C, F, H, W)`` (latent frames).

        Returns:
            ``(freqs_cos, freqs_sin)``, each ``(1, F*H*W / prod(patch), 1, head_dim)``, channels
            ``[t | h | w]`` as in the stock module.
        """
        import torch

        _, _, num_frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.patch_size
        ppf, pph, ppw = num_frames // p_t, height // p_h, width // p_w
        sizes = [self.t_dim, self.h_dim, self.w_dim]
        _, cos_h, cos_w = self.freqs_cos.split(sizes, dim=1)
        _, sin_h, sin_w = self.freqs_sin.split(sizes, dim=1)
        cos_t, sin_t = self.temporal_tables(ppf, self.freqs_cos.device)

        def grid(t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            t = t.view(ppf, 1, 1, -1).expand(ppf, pph, ppw, -1)
            h = h[:pph].view(1, pph, 1, -1).expand(ppf, pph, ppw, -1)
            w = w[:ppw].view(1, 1, ppw, -1).expand(ppf, pph, ppw, -1)
            return torch.cat([t, h, w], dim=-1).reshape(1, ppf * pph * ppw, 1, -1)

        return grid(cos_t, cos_h, cos_w), grid(sin_t, sin_h, sin_w)


@functools.cache
def wan_rope_class() -> type:
    """``WarpedWanRotaryPosEmbed``: :class:`_WanRopeWarp` on diffusers' ``WanRotaryPosEmbed``.

    Created once, on first use (imports torch and diffusers' Wan transformer module). The same
    class is ``spf_bench.generators.warped_rope.WarpedWanRotaryPosEmbed``.

    Returns:
        The class (a ``torch.nn.Module`` subclass).
    """
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    return type(
        "WarpedWanRotaryPosEmbed",
        (_WanRopeWarp, WanRotaryPosEmbed),
        {
            "__module__": __name__,
            "__qualname__": "WarpedWanRotaryPosEmbed",
            "__doc__": _WanRopeWarp.__doc__,
        },
    )


def install_wan_warp(
    pipe: Any,
    warp: TemporalWarp,
    pin_endpoints: bool = False,
) -> list[str]:
    """Swap warped ropes into a Wan pipeline's experts and hook their timesteps.

    Patches ``pipe.transformer`` and, when present, ``pipe.transformer_2`` (Wan2.2-A14B's
    low-noise expert). Call it right after loading, **before** CPU offload or
    ``torch.compile``; leave it installed (``positions=None`` is the stock baseline).

    Args:
        pipe: a diffusers ``WanPipeline`` / ``WanImageToVideoPipeline``.
        warp: shared warp state (``bands`` = the experts' temporal band count).
        pin_endpoints: first-last-frame mode (:func:`frames_to_latent_positions`).

    Returns:
        The labels of the patched modules, e.g. ``["transformer", "transformer_2"]``.

    Raises:
        ValueError: if the pipeline has no transformer or a rope is already warped.
    """
    labels = []
    k = int(getattr(pipe, "vae_scale_factor_temporal", 4))
    cls = wan_rope_class()
    for label in ("transformer", "transformer_2"):
        model = getattr(pipe, label, None)
        if model is None:
            continue
        model.rope = cls.from_stock(model.rope, warp, k, pin_endpoints)
        model.register_forward_pre_hook(warp.pre_hook(label), with_kwargs=True)
        labels.append(label)
    if not labels:
        raise ValueError("pipeline has no transformer to warp")
    return labels


# --------------------------------------------------------------------------------------------
# LTX-2
# --------------------------------------------------------------------------------------------


class _LTX2RopeWarp:
    """``LTX2AudioVideoRotaryPosEmbed`` with the time coordinate warped per band.

    LTX-2 coordinates are continuous: axis 0 of ``coords`` (``(B, n_axes, N, 2)``, the
    ``[start, end)`` of each patch) is time in seconds. Each token's time midpoint ``c`` is read
    as output frame ``x = c * fps - 0.5`` (pixel frame ``k`` spans ``[k, k+1) / fps``), the
    per-band frame displacement ``d_b(x)`` of the warp (and ``e_b(x)`` of its base) is
    interpolated there, and band ``b``'s temporal angle becomes

        ((c + (e_b(x) + g * (d_b(x) - e_b(x))) / fps) / base_num_frames * 2 - 1) * f_b,

    the stock formula at a shifted time (``e = 0`` without a base). Only the temporal channels
    are overwritten in the stock output; a zero displacement recomputes them bit for bit. Bench
    band ``b`` (0 = highest frequency) is LTX index ``F - 1 - b``.

    The class itself, ``WarpedLTX2RotaryPosEmbed``, subclasses diffusers'
    ``LTX2AudioVideoRotaryPosEmbed`` and is created on first use (:func:`ltx2_rope_class`; also
    reachable as ``spf_bench.generators.warped_rope.WarpedLTX2RotaryPosEmbed``). Build it with
    :meth:`from_stock`.

    Attributes:
        warp: the shared :class:`TemporalWarp`.
        role: ``"video"`` (self-attention), ``"video_cross"`` or ``"audio_cross"``
            (audio-video cross-attention ropes).
    """

    warp: TemporalWarp

    @classmethod
    def from_stock(cls, stock: Any, warp: TemporalWarp, role: str) -> Any:
        """Wrap a stock LTX-2 rope (copying its configuration).

        Args:
            stock: ``transformer.rope``, ``.cross_attn_rope`` or ``.cross_attn_audio_rope``.
            warp: shared warp state.
            role: ``"video"``, ``"video_cross"`` or ``"audio_cross"``.

        Returns:
            The warped rope (registered with ``warp``).

        Raises:
            TypeError: if ``stock`` is not an ``LTX2AudioVideoRotaryPosEmbed``.
            ValueError: on an unknown role or an already warped rope.
        """
        import torch
        from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoRotaryPosEmbed

        if not isinstance(stock, LTX2AudioVideoRotaryPosEmbed):
            raise TypeError(f"expected an LTX2AudioVideoRotaryPosEmbed, got {type(stock).__name__}")
        if isinstance(stock, _LTX2RopeWarp):
            raise ValueError("rope is already warped")
        if role not in ("video", "video_cross", "audio_cross"):
            raise ValueError(f"unknown role {role!r}")
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        for key, value in vars(stock).items():
            if not key.startswith("_"):
                setattr(new, key, value)
        new.role = role
        new.num_pos_dims = 3 if role == "video" else 1
        new.n_freqs = ltx2_band_count(new.dim, new.num_pos_dims)
        new._rows = None  # (F, n_frames) float64 frame displacement, LTX index order, or None
        new._base_rows = None  # the same for the composition base, or None (stock grid)
        new._step_rows = None  # _rows - _base_rows, or None
        new._g = _rope_state_tensor(warp.g, None)
        new.warp = warp
        warp.attach(new)
        return new

    def _ltx_rows(self, disp: np.ndarray) -> np.ndarray:
        return resample_bands(disp, self.n_freqs)[::-1].copy()

    def refresh(self) -> None:
        """Recompute the per-frequency displacement rows from ``warp`` (LTX index order)."""
        import torch

        disp = self.warp.displacement()
        if disp is None:
            self._rows = self._base_rows = self._step_rows = None
            return
        rows = self._ltx_rows(disp)
        self._rows = torch.from_numpy(rows)
        base = self.warp.base_displacement()
        if base is None:
            self._base_rows = self._step_rows = None
            return
        brows = self._ltx_rows(base)
        self._base_rows = torch.from_numpy(brows)
        self._step_rows = torch.from_numpy(rows - brows)

    def set_g(self, g: float) -> None:
        """Set the modulation of the coming call (in place)."""
        self._g.fill_(float(g))

    def _channel_index(self, device: Any) -> tuple[torch.Tensor, ...]:
        """Where the temporal frequency ``f`` lands in the stock output layout."""
        import torch

        f = torch.arange(self.n_freqs, device=device)
        if self.rope_type == "interleaved":
            pad = self.dim % (2 * self.num_pos_dims)
            first = pad + 2 * self.num_pos_dims * f
            return (torch.stack([first, first + 1], dim=-1).flatten(),)
        half = self.dim // 2
        pad = half - self.num_pos_dims * self.n_freqs
        k = pad + self.num_pos_dims * f
        per_head = half // self.num_attention_heads
        return k // per_head, k % per_head

    def time_shift(self, time_mid: torch.Tensor) -> torch.Tensor:
        """Per-band time shift ``(e_b(x) + g * (d_b(x) - e_b(x))) / fps`` in seconds at token
        times ``time_mid`` (``g * d_b(x) / fps`` without a base).

        Args:
            time_mid: ``(B, N)`` token time midpoints, seconds.

        Returns:
            ``(B, N, F)`` shift in seconds, dtype of ``time_mid``, LTX frequency order.
        """
        import torch

        device = time_mid.device
        fps = float(self.warp.fps)
        rows = self._rows
        if rows is None:
            rows = torch.zeros((self.n_freqs, 2), dtype=torch.float64, device=device)
        else:
            rows = _to_device(self, "_rows", device)
        g = _to_device(self, "_g", device)
        n = rows.shape[1]
        x = time_mid.to(torch.float64) * fps - 0.5
        uniq, inverse = torch.unique(x, return_inverse=True)
        xc = uniq.clamp(0.0, float(n - 1))
        lo = xc.floor().long().clamp(0, max(n - 2, 0))
        w = xc - lo.to(torch.float64)
        hi = (lo + 1).clamp(max=n - 1)
        if self._base_rows is None:
            d = rows[:, lo] * (1.0 - w) + rows[:, hi] * w  # (F, U) frames
            shift64 = g * d / fps  # (F, U) seconds
        else:
            base = _to_device(self, "_base_rows", device)
            step = _to_device(self, "_step_rows", device)
            e = base[:, lo] * (1.0 - w) + base[:, hi] * w
            ds = step[:, lo] * (1.0 - w) + step[:, hi] * w
            shift64 = (e + g * ds) / fps
        if self.warp.record_applied:
            times = ((uniq + 0.5) / fps).detach().cpu().numpy()
            self.warp.log_applied(
                self.role,
                times[None, :] + shift64.detach().cpu().numpy(),
                times=times,
            )
        shift = shift64.to(time_mid.dtype)
        return shift[:, inverse].permute(*range(1, inverse.ndim + 1), 0)

    def forward(
        self, coords: torch.Tensor, device: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stock rotary tables with the temporal channels recomputed at warped times.

        Args:
            coords: ``(B, n_axes, N, 2)`` patch bounds (time in seconds) or ``(B, n_axes, N)``.
            device: output device (default ``coords.device``).

        Returns:
            ``(cos, sin)`` in the stock layout: ``(B, N, dim)`` (interleaved) or
            ``(B, heads, N, dim / (2 heads))`` (split).
        """
        import torch

        cos, sin = super().forward(coords, device=device)  # type: ignore[misc]
        device = cos.device
        t = coords[:, 0]
        if t.ndim == 3:
            start, end = t.chunk(2, dim=-1)
            t = ((start + end) / 2.0).squeeze(-1)
        t = t.to(device)
        shift = self.time_shift(t)  # (B, N, F)
        freqs_dtype = torch.float64 if self.double_precision else torch.float32
        pow_indices = torch.pow(
            self.theta,
            torch.linspace(
                0.0,
                1.0,
                steps=self.dim // (2 * self.num_pos_dims),
                dtype=freqs_dtype,
                device=device,
            ),
        )
        freqs = (pow_indices * torch.pi / 2.0).to(dtype=torch.float32)
        grid = (t.unsqueeze(-1) + shift) / self.base_num_frames
        angles = (grid * 2 - 1) * freqs  # (B, N, F)
        c, s = angles.cos().to(cos.dtype), angles.sin().to(sin.dtype)
        index = self._channel_index(device)
        if self.rope_type == "interleaved":
            cos[..., index[0]] = c.repeat_interleave(2, dim=-1)
            sin[..., index[0]] = s.repeat_interleave(2, dim=-1)
        else:
            head, j = index
            cos[:, head, :, j] = c.permute(2, 0, 1)
            sin[:, head, :, j] = s.permute(2, 0, 1)
        return cos, sin


@functools.cache
def ltx2_rope_class() -> type:
    """``WarpedLTX2RotaryPosEmbed``: :class:`_LTX2RopeWarp` on diffusers'
    ``LTX2AudioVideoRotaryPosEmbed``.

    Created once, on first use (imports torch and diffusers' LTX-2 transformer module). The
    same class is ``spf_bench.generators.warped_rope.WarpedLTX2RotaryPosEmbed``.

    Returns:
        The class (a ``torch.nn.Module`` subclass).
    """
    from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoRotaryPosEmbed

    return type(
        "WarpedLTX2RotaryPosEmbed",
        (_LTX2RopeWarp, LTX2AudioVideoRotaryPosEmbed),
        {
            "__module__": __name__,
            "__qualname__": "WarpedLTX2RotaryPosEmbed",
            "__doc__": _LTX2RopeWarp.__doc__,
        },
    )


def install_ltx2_warp(transformer: Any, warp: TemporalWarp, av_cross: str = "both") -> list[str]:
    """Swap warped ropes into an ``LTX2VideoTransformer3DModel`` and hook its timestep.

    Args:
        transformer: the pipeline's transformer (before offload / compile).
        warp: shared warp state; ``bands`` should be the video rope's temporal frequency count.
        av_cross: audio-video cross-attention time coordinates:

            - ``"both"`` (default): the video side of a2v/v2a cross-attention uses the same
              warped times as video self-attention and audio tokens' cross-attention times are
              warped by the same time map, so a video token and an audio token at the same
              output time keep the same phase (issue 12: audio stays in sync);
            - ``"video"``: only the video side is warped (as warping the video coordinates
              alone does in LTX-2); audio keeps its own times, so the two drift apart by
              ``2 f (P - t) / (fps * base_num_frames)`` radians at full modulation;
            - ``"none"``: cross-attention keeps the stock times.

    Returns:
        Names of the patched rope attributes.

    Raises:
        ValueError: on an unknown ``av_cross`` mode.
    """
    if av_cross not in AV_CROSS_MODES:
        raise ValueError(f"unknown av_cross mode {av_cross!r}; choose one of {AV_CROSS_MODES}")
    roles: list[tuple[str, str]] = [("rope", "video")]
    if av_cross in ("video", "both"):
        roles.append(("cross_attn_rope", "video_cross"))
    if av_cross == "both":
        roles.append(("cross_attn_audio_rope", "audio_cross"))
    cls = ltx2_rope_class()
    for attr, role in roles:
        setattr(transformer, attr, cls.from_stock(getattr(transformer, attr), warp, role))
    transformer.register_forward_pre_hook(warp.pre_hook("transformer"), with_kwargs=True)
    return [attr for attr, _ in roles]


def warped_ropes(modules: Sequence[Any]) -> list[Any]:
    """All warped rope modules inside ``modules`` (for tests and diagnostics)."""
    found = []
    for m in modules:
        for sub in m.modules():
            if isinstance(sub, (_WanRopeWarp, _LTX2RopeWarp, LatentRopeAdapter)):
                found.append(sub)
    return found


_LAZY_CLASSES: dict[str, Callable[[], type]] = {
    "WarpedWanRotaryPosEmbed": wan_rope_class,
    "WarpedLTX2RotaryPosEmbed": ltx2_rope_class,
}


def __getattr__(name: str) -> Any:
    """The rope classes, created on first access (PEP 562): importing this module stays free
    of torch and diffusers."""
    factory = _LAZY_CLASSES.get(name)
    if factory is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return factory()
