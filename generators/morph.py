"""``morph``: transformations between real stills with a designed, seeded pacing. Pure numpy.

Each item is a pixel crossfade from still ``A`` to still ``B``
(:mod:`spf_bench.generators.stills`)::

    frame(p) = (1 - alpha(u)) * A + alpha(u) * B,   u = clip(p, 0, n - 1) / (n - 1),

where ``p`` is the time position of the frame in frame units and ``alpha`` a designed pacing
profile (:func:`designed_profile`): monotone, ``alpha(0) = 0``, ``alpha(1) = 1``. With the stock
positions ``p = 0..n-1`` the clip changes unevenly (a sigmoid holds ``A``, switches, holds
``B``); ``alpha`` at the rendered positions is the ground-truth progress, returned in
``metadata["designed_progress"]``.

The crossfade is a function of the continuous position, so it honours a warp *exactly*: rendering
at warped positions ``tau`` (paper Sec. 3, ``tau_k = S^{-1}(k / (n - 1))``) shows at output frame
``k`` the content of time ``tau_k``, as a video DiT does (approximately) when its temporal RoPE is
evaluated at warped positions (paper Sec. 4). That makes ``morph`` the controlled case of the
ReTime loop: with a faithful SPF, one inversion linearises the pacing.

Note: ``alpha`` is the *pixel* mixing weight. The semantic progress an embedder measures is a
nonlinear function of it (a 50/50 blend may already read as ``B``), so the SPF of a morph tracks
``alpha`` only approximately.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)
from spf_bench.generators.stills import STILLS, load_still

__all__ = [
    "DEFAULT_PROFILES",
    "PROFILES",
    "MorphGenerator",
    "crossfade",
    "designed_profile",
    "sample_profile_params",
]

#: Every profile :func:`designed_profile` knows. ``linear`` is the evenly paced control.
PROFILES: tuple[str, ...] = ("linear", "sigmoid", "step", "ease", "exponential")
#: Profiles a :class:`MorphGenerator` draws from by default (all unevenly paced).
DEFAULT_PROFILES: tuple[str, ...] = ("sigmoid", "step", "ease", "exponential")

_MAX_EXP_RATE = 50.0  # |a| bound for exponential; e^50 is far from overflow


def _param(params: dict[str, Any], name: str, profile: str) -> float:
    if name not in params:
        raise ValueError(f"profile {profile!r} needs parameter {name!r}, got {sorted(params)}")
    v = float(params[name])
    if not np.isfinite(v):
        raise ValueError(f"profile {profile!r}: parameter {name!r} must be finite, got {v}")
    return v


def _raw_profile(name: str, params: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """Un-normalised monotone curve; :func:`designed_profile` rescales it to hit 0 and 1."""
    if name == "linear":
        return u
    if name == "sigmoid":
        c, k = _param(params, "centre", name), _param(params, "steepness", name)
        if k <= 0:
            raise ValueError(f"sigmoid steepness must be > 0, got {k}")
        return 0.5 * (1.0 + np.tanh(0.5 * k * (u - c)))  # logistic(k (u - c)), overflow-free
    if name == "step":
        c, w = _param(params, "centre", name), _param(params, "width", name)
        if w <= 0:
            raise ValueError(f"step width must be > 0, got {w}")
        x = np.clip((u - (c - w)) / (2.0 * w), 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)  # smoothstep over [c - w, c + w]
    if name == "ease":
        pw = _param(params, "power", name)
        if pw <= 0:
            raise ValueError(f"ease power must be > 0, got {pw}")
        a, b = u**pw, (1.0 - u) ** pw
        return a / (a + b)  # symmetric ease-in-out
    if name == "exponential":
        r = _param(params, "rate", name)
        if abs(r) > _MAX_EXP_RATE:
            raise ValueError(f"exponential |rate| must be <= {_MAX_EXP_RATE}, got {r}")
        if abs(r) < 1e-9:
            return u
        return np.expm1(r * u) / np.expm1(r)  # rate > 0 ease-in, rate < 0 ease-out
    raise ValueError(f"unknown pacing profile {name!r}; choose one of {PROFILES}")


def designed_profile(name: str, params: dict[str, Any], u: np.ndarray | float) -> np.ndarray:
    """A designed pacing curve ``alpha(u)``: monotone non-decreasing, ``alpha(0) = 0``,
    ``alpha(1) = 1`` exactly.

    The raw curve ``s`` is rescaled as ``(s(u) - s(0)) / (s(1) - s(0))`` so the endpoints are
    exact for any parameters, then clipped to ``[0, 1]``; a running maximum over the sorted
    ``u`` of one call removes floating-point wiggles of one ulp, so the output is exactly
    non-decreasing in ``u`` (values may differ by an ulp between calls on different grids).

    Profiles and parameters:

    - ``linear`` (``{}``): ``alpha = u``.
    - ``sigmoid`` (``centre``, ``steepness > 0``): logistic ``1 / (1 + e^{-k (u - c)})``.
    - ``step`` (``centre``, ``width > 0``): smoothstep ``3x^2 - 2x^3`` over
      ``[centre - width, centre + width]``, flat (no change) outside.
    - ``ease`` (``power > 0``): ``u^p / (u^p + (1 - u)^p)``, symmetric ease-in-out (power 2
      stays within 0.07 of animation's smoothstep ``3u^2 - 2u^3``; power 1 is linear).
    - ``exponential`` (``rate``, ``|rate| <= 50``): ``(e^{a u} - 1) / (e^a - 1)``: slow then
      fast for ``a > 0`` (the paper's exp_up), fast then slow for ``a < 0``; linear at 0.

    Args:
        name: one of :data:`PROFILES`.
        params: the profile's parameters (JSON-serialisable dict; extra keys ignored).
        u: normalised time in ``[0, 1]``, scalar or array of any shape.

    Returns:
        `np.ndarray` of the shape of ``u``, float64, in ``[0, 1]``.

    Raises:
        ValueError: on an unknown profile, missing/invalid parameters, or ``u`` outside
            ``[0, 1]`` or not finite.
    """
    u = np.asarray(u, dtype=np.float64)
    if not np.all(np.isfinite(u)) or np.any(u < 0.0) or np.any(u > 1.0):
        raise ValueError("u must be finite and lie in [0, 1]")
    ends = _raw_profile(name, params, np.array([0.0, 1.0]))
    span = ends[1] - ends[0]
    if not span > 0:
        raise ValueError(f"profile {name!r} with {params} does not rise over [0, 1]")
    alpha = np.clip((_raw_profile(name, params, u) - ends[0]) / span, 0.0, 1.0)
    # The closed forms can wiggle by an ulp where they flatten (e.g. smoothstep near 1): a
    # running maximum over sorted u makes the output exactly non-decreasing in u.
    flat = alpha.ravel()
    order = np.argsort(u.ravel(), kind="stable")
    flat[order] = np.maximum.accumulate(flat[order])
    return flat.reshape(u.shape)


def sample_profile_params(name: str, rng: np.random.Generator) -> dict[str, float]:
    """Draw parameters of a pacing profile.

    Ranges: sigmoid ``centre ~ U[0.3, 0.7]``, ``steepness ~ U[8, 20]``; step
    ``centre ~ U[0.3, 0.7]``, ``width ~ U[0.05, 0.15]``; ease ``power ~ U[1.5, 4]``;
    exponential ``rate = +-U[2, 5]`` (sign drawn with probability 1/2); linear none.

    Args:
        name: one of :data:`PROFILES`.
        rng: the random generator to draw from (advanced in place).

    Returns:
        JSON-serialisable dict of Python floats, accepted by :func:`designed_profile`.

    Raises:
        ValueError: on an unknown profile.
    """
    if name == "linear":
        return {}
    if name == "sigmoid":
        return {"centre": float(rng.uniform(0.3, 0.7)), "steepness": float(rng.uniform(8, 20))}
    if name == "step":
        return {"centre": float(rng.uniform(0.3, 0.7)), "width": float(rng.uniform(0.05, 0.15))}
    if name == "ease":
        return {"power": float(rng.uniform(1.5, 4.0))}
    if name == "exponential":
        sign = 1.0 if rng.random() < 0.5 else -1.0
        return {"rate": sign * float(rng.uniform(2.0, 5.0))}
    raise ValueError(f"unknown pacing profile {name!r}; choose one of {PROFILES}")


def crossfade(a: np.ndarray, b: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Pixel crossfade ``(1 - alpha_t) * a + alpha_t * b``, rounded to uint8.

    Args:
        a: `np.ndarray` of shape ``(H, W, 3)``, uint8, shown at ``alpha = 0`` (exactly).
        b: `np.ndarray` of shape ``(H, W, 3)``, uint8, shown at ``alpha = 1`` (exactly).
        alpha: `np.ndarray` of shape ``(T,)``, mixing weights in ``[0, 1]``.

    Returns:
        `np.ndarray` of shape ``(T, H, W, 3)``, uint8 (computed in float64, rounded half to
        even).

    Raises:
        ValueError: on mismatched image shapes, non-uint8 images or ``alpha`` outside [0, 1].
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"images must share shape (H, W, 3), got {a.shape} and {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {a.dtype} and {b.dtype}")
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.ndim != 1 or not np.all((alpha >= 0.0) & (alpha <= 1.0)):
        raise ValueError("alpha must be a 1-D array of values in [0, 1]")
    af, bf = a.astype(np.float64), b.astype(np.float64)
    out = np.empty((alpha.shape[0], *a.shape), dtype=np.uint8)
    for t, w in enumerate(alpha):
        out[t] = np.rint((1.0 - w) * af + w * bf)
    return out


class MorphGenerator:
    """Seeded crossfades between real stills with designed pacing (see module docs).

    Implements :class:`spf_bench.generators.base.Generator` with ``name = "morph"``,
    ``honours_positions = True`` and ``bands = 0`` (one position per frame).

    Args:
        n_frames: frames per clip (>= 2).
        fps: frame rate written into requests and outputs (frames per second).
        size: side of the square frames in pixels.
        profiles: profiles to draw from (subset of :data:`PROFILES`).
        stills: stills to draw pairs from (subset of :data:`STILLS`, at least two); ``None`` for
            all of :data:`STILLS`.

    Raises:
        ValueError: on invalid arguments.
    """

    name = "morph"
    honours_positions = True
    bands = 0

    def __init__(
        self,
        n_frames: int = 33,
        fps: float = 16.0,
        size: int = 224,
        profiles: Sequence[str] = DEFAULT_PROFILES,
        stills: Sequence[str] | None = None,
    ) -> None:
        if int(n_frames) < 2:
            raise ValueError(f"n_frames must be >= 2, got {n_frames}")
        if not float(fps) > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if int(size) < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        profiles = tuple(profiles)
        bad = [p for p in profiles if p not in PROFILES]
        if not profiles or bad:
            raise ValueError(f"profiles must be a non-empty subset of {PROFILES}, got {profiles}")
        stills = STILLS if stills is None else tuple(stills)
        bad = [s for s in stills if s not in STILLS]
        if bad or len(set(stills)) < 2:
            raise ValueError(f"stills must hold >= 2 distinct names from {STILLS}, got {stills}")
        self.n_frames = int(n_frames)
        self.fps = float(fps)
        self.size = int(size)
        self.profiles = profiles
        self.stills = tuple(dict.fromkeys(stills))  # de-duplicated, order kept

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` items; item ``i`` depends only on ``(seed, i)``.

        Item ``i`` draws, from ``np.random.default_rng([seed, i])``, an ordered pair of
        different stills, a profile and its parameters (:func:`sample_profile_params`).
        ``extra`` holds ``{"still_a", "still_b", "profile", "params"}``; ``first_image`` and
        ``last_image`` hold the two stills at ``size`` (for first-last-frame models).

        Args:
            n_videos: number of items (>= 0); morph items are unlimited.
            seed: non-negative integer seed.

        Returns:
            list of :class:`GenerationRequest` with ``item_id = "morph-%04d"``.

        Raises:
            ValueError: if ``n_videos`` or ``seed`` is negative.
        """
        if int(n_videos) < 0 or int(seed) < 0:
            raise ValueError(f"n_videos and seed must be >= 0, got {n_videos}, {seed}")
        out = []
        for i in range(int(n_videos)):
            rng = np.random.default_rng([int(seed), i])
            ia, ib = rng.choice(len(self.stills), size=2, replace=False)
            profile = self.profiles[int(rng.integers(len(self.profiles)))]
            params = sample_profile_params(profile, rng)
            a, b = self.stills[int(ia)], self.stills[int(ib)]
            out.append(
                GenerationRequest(
                    item_id=f"morph-{i:04d}",
                    seed=int(seed),
                    n_frames=self.n_frames,
                    fps=self.fps,
                    first_image=load_still(a, self.size),
                    last_image=load_still(b, self.size),
                    extra={"still_a": a, "still_b": b, "profile": profile, "params": params},
                )
            )
        return out

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render the crossfade at ``request.positions``.

        Steps: 1. check the request; 2. clip positions to ``[0, n - 1]`` and normalise to
        ``u``; 3. evaluate ``alpha(u)``; 4. crossfade the stills.

        Args:
            request: an item from :meth:`items` (or any request whose ``extra`` has
                ``profile``, ``params`` and either both ``first_image``/``last_image`` or
                ``still_a``/``still_b``). ``positions``: ``None`` (stock ``0..n-1``) or shape
                ``(n_frames,)`` float frame units, possibly fractional or non-monotone;
                values outside ``[0, n - 1]`` are clipped.

        Returns:
            :class:`GeneratedVideo`: ``frames`` ``(n_frames, size, size, 3)`` uint8 (the size of
            the given images if any), ``fps = request.fps``, ``metadata`` with
            ``designed_progress`` (``alpha`` per output frame, list of floats; the ground
            truth), ``positions`` (after clipping), ``n_clipped``, ``still_a``, ``still_b``,
            ``profile``, ``params``.

        Raises:
            GeneratorError: on per-band positions ``(B, n)`` (morph has no RoPE bands), a
                positions shape other than ``(n_frames,)``, non-finite positions, missing or
                invalid ``extra`` fields, or mismatched images.
        """
        n = int(request.n_frames)
        extra = request.extra or {}
        missing = [k for k in ("profile", "params") if k not in extra]
        if missing:
            raise GeneratorError(f"morph request {request.item_id!r} lacks extra fields {missing}")
        if n < 1:
            raise GeneratorError(f"morph request {request.item_id!r} has n_frames={n}")
        pos = stock_positions(n) if request.positions is None else np.asarray(request.positions)
        if pos.ndim == 2:
            raise GeneratorError(
                f"morph has no temporal RoPE bands (bands=0): positions must have shape ({n},), "
                f"got per-band positions {pos.shape}"
            )
        if pos.shape != (n,):
            raise GeneratorError(f"positions must have shape ({n},), got {pos.shape}")
        pos = pos.astype(np.float64)
        if not np.all(np.isfinite(pos)):
            raise GeneratorError("positions must be finite")
        clipped = np.clip(pos, 0.0, n - 1.0)
        u = clipped / (n - 1.0) if n > 1 else np.zeros(n)
        try:
            alpha = designed_profile(extra["profile"], extra["params"], u)
        except ValueError as e:
            raise GeneratorError(f"morph request {request.item_id!r}: {e}") from e

        if request.first_image is not None and request.last_image is not None:
            a, b = np.asarray(request.first_image), np.asarray(request.last_image)
        elif "still_a" in extra and "still_b" in extra:
            try:
                a = load_still(extra["still_a"], self.size)
                b = load_still(extra["still_b"], self.size)
            except ValueError as e:
                raise GeneratorError(f"morph request {request.item_id!r}: {e}") from e
        else:
            raise GeneratorError(
                f"morph request {request.item_id!r} needs first_image/last_image or "
                "extra still_a/still_b"
            )
        try:
            frames = crossfade(a, b, alpha)
        except ValueError as e:
            raise GeneratorError(f"morph request {request.item_id!r}: {e}") from e
        return GeneratedVideo(
            frames=frames,
            fps=float(request.fps),
            metadata={
                "generator": self.name,
                "still_a": extra.get("still_a"),
                "still_b": extra.get("still_b"),
                "profile": extra["profile"],
                "params": dict(extra["params"]),
                "designed_progress": [float(x) for x in alpha],
                "positions": [float(x) for x in clipped],
                "n_clipped": int(np.count_nonzero(clipped != pos)),
            },
        )
