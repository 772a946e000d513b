"""Warp schedules for generation-time retiming ("ReTime", paper Sec. 4). Pure numpy.

The iterative ReTime loop measures the SPF of each output, inverts it to warped positions
``tau`` (frame units of that output, :func:`metrics.spf.invert_progress`) and updates per-band
target positions with a band schedule ``a_b`` (:func:`band_strengths`):

    additive (the paper's formula):  P_b <- P_b + a_b * (tau - t)
    compose (default):               P_b <- P_b o (t + a_b * (tau - t))

Output frame ``j`` of the last render shows the content at position ``P_b(j)``; to make frame
``k`` show what frame ``tau_k`` showed, it must be rendered at ``P_b(tau_k)``: composition is
exact, and the additive rule is its first-order approximation, equal at the first refinement
(``P_b = t``). When ``P_b`` is far from the identity (a steep designed profile) the additive
rule over- or under-shoots and can oscillate across iterations.

A video DiT then rotates its temporal
RoPE band ``b`` at denoising step with normalised timestep ``s`` (1 = pure noise) to

    p_b(s) = t + g(s) * (P_b - t),                                         (modulation)

which for a single iteration from the stock positions is the paper's
``p_t^(b) = (1 - a_b g(s)) t + a_b g(s) tau_t``. ``g`` is :func:`timestep_modulation`.
Generators without RoPE bands (``morph``) use one row with strength 1.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "G_MODES",
    "UPDATE_RULES",
    "accumulate_positions",
    "band_strengths",
    "timestep_modulation",
]

G_MODES = ("none", "exp_up", "exp_down", "linear", "cosine")


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

    Modes (paper Sec. 4 and the reference workflow):

    - ``none``: ``g = 1`` at every step (constant full warp).
    - ``exp_up`` (default): ``(e^{3s} - 1) / (e^3 - 1)``: full warp early in denoising (s = 1),
      none at the end (s = 0).
    - ``exp_down``: ``(e^3 - e^{3(1-s)}) / (e^3 - 1)``.
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
        return (np.exp(3.0) - np.exp(3.0 * (1.0 - s))) / np.expm1(3.0)
    if mode == "linear":
        return s
    if mode == "cosine":
        return 0.5 * (1.0 - np.cos(np.pi * s))
    raise ValueError(f"unknown timestep modulation {mode!r}; choose one of {G_MODES}")


UPDATE_RULES = ("compose", "additive")


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
