"""Real colour photographs that ship inside installed packages, for the ``morph`` generator.

No downloads: every still is read from files in the scikit-image and scikit-learn wheels.
Sources and licences (from the packages' own docstrings/READMEs):

============================  ============================================  ===================
name                          what / source                                 licence
============================  ============================================  ===================
``astronaut``                 Eileen Collins, NASA (``skimage.data``)       public domain
``chelsea``                   a cat, S. van der Walt (``skimage.data``)     CC0
``coffee``                    a coffee cup, R. Michetti (``skimage.data``)  CC0
``rocket``                    Falcon 9 launch, SpaceX (``skimage.data``)    public domain
``hubble_deep_field``         Hubble XDF, NASA (``skimage.data``)           public domain
``retina``                    fundus photograph (``skimage.data``)          CC0
``immunohistochemistry``      stained colonic glands (``skimage.data``)     no known restr.
``china``                     ``sklearn.datasets`` china.jpg                CC-BY 2.0
``flower``                    ``sklearn.datasets`` flower.jpg               CC-BY 2.0
============================  ============================================  ===================

Grey-scale and RGBA images of ``skimage.data`` are left out, as are those that need the
optional ``pooch`` download (``skin``, ``lily``...). ``stereo_motorcycle`` (Middlebury 2014)
is left out: its source states no licence.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np

__all__ = ["STILLS", "load_still", "still_pair"]


def _skimage(fn_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        out = getattr(skimage.data, fn_name)()
        return out[0] if isinstance(out, tuple) else out  # stereo pairs -> left view

    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file_name)

    return load


# One source of truth: name -> loader of the native (H, W, 3) uint8 image.
_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "retina": _skimage("retina"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}

#: Names accepted by :func:`load_still`, in a fixed order (used for seeded sampling).
STILLS: tuple[str, ...] = tuple(_LOADERS)


@cache
def _native(name: str) -> np.ndarray:
    img = np.asarray(_LOADERS[name]())
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise RuntimeError(f"still {name!r} is not (H, W, 3) uint8: {img.dtype} {img.shape}")
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return img


@lru_cache(maxsize=64)
def _square(name: str, size: int) -> np.ndarray:
    from PIL import Image

    img = _native(name)
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = img[top : top + s, left : left + s]
    if s != size:
        crop = np.asarray(
            Image.fromarray(crop).resize((size, size), resample=Image.Resampling.LANCZOS)
        )
    out = np.ascontiguousarray(crop, dtype=np.uint8)
    out.setflags(write=False)
    return out


def load_still(name: str, size: int | None = None) -> np.ndarray:
    """Load one of the bundled colour stills.

    Args:
        name: one of :data:`STILLS`.
        size: if given, centre-crop to a square on the shorter side, then resize to
            ``size x size`` pixels with Pillow's Lanczos filter (anti-aliased when
            downscaling). ``None`` returns the native image.

    Returns:
        `np.ndarray` of shape ``(H, W, 3)`` (``(size, size, 3)`` when ``size`` is given), uint8
        RGB; a fresh writable copy.

    Raises:
        ValueError: on an unknown name or ``size < 1``.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown still {name!r}; choose one of {STILLS}")
    if size is None:
        return _native(name).copy()
    if int(size) < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    return _square(name, int(size)).copy()


def still_pair(name_a: str, name_b: str, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """Two different stills at the same square size, the endpoints of a transformation.

    Args:
        name_a: first still (the start), one of :data:`STILLS`.
        name_b: second still (the end), one of :data:`STILLS`, different from ``name_a``.
        size: side of both square images in pixels.

    Returns:
        ``(a, b)``: two `np.ndarray` of shape ``(size, size, 3)``, uint8 RGB.

    Raises:
        ValueError: if the names are equal or unknown, or ``size < 1``.
    """
    if name_a == name_b:
        raise ValueError(f"a still pair needs two different stills, got {name_a!r} twice")
    return load_still(name_a, size), load_still(name_b, size)
