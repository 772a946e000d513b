"""Extension points (docs/extending.md): footage manifests, the outside config search path and
entry-point discovery of generators, embedders and config folders.

Entry points are registered for real: a ``*.dist-info`` folder with an ``entry_points.txt`` on
``sys.path`` is what ``importlib.metadata`` reads for an installed package.
"""

from __future__ import annotations

import shutil
import textwrap

import numpy as np
import pytest

from spf_bench.bench.config import resolve_eval_embedders
from spf_bench.conf.plugins import (
    CONFIG_PATH_ENV,
    config_search_path,
    plugin_generators,
)
from spf_bench.generators.base import GeneratorError
from spf_bench.generators.footage import FootageGenerator, read_manifest
from spf_bench.metrics.embedders import EMBEDDERS, build_embedder, plugin_embedders


@pytest.fixture
def clips(tmp_path, bundled):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(bundled["carphone_pristine"], folder / "carphone.mp4")
    shutil.copy(bundled["bikes"], folder / "bikes.mp4")
    return folder


# --------------------------------------------------------------------------- manifests
def test_manifest_gives_item_ids_prompts_and_order(clips):
    (clips / "manifest.csv").write_text(
        'path,item_id,prompt\ncarphone.mp4,call,"a man, on the phone"\nbikes.mp4,,\n'
    )
    gen = FootageGenerator(manifest=str(clips / "manifest.csv"), max_frames=5, size=32)
    items = gen.items(2, seed=3)
    assert [r.item_id for r in items] == ["call", "bikes"]  # the manifest's order
    assert [r.prompt for r in items] == ["a man, on the phone", None]
    video = gen.generate(items[0])
    assert video.frames.shape[0] == 5 and video.metadata["prompt"] == "a man, on the phone"
    assert FootageGenerator.input_files(manifest=str(clips / "manifest.csv")) == [
        clips / "manifest.csv",
        clips / "carphone.mp4",
        clips / "bikes.mp4",
    ]


def test_jsonl_manifest_with_an_absolute_path(clips, tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(f'{{"path": "{clips / "bikes.mp4"}", "prompt": "cyclists"}}\n')
    (row,) = read_manifest(manifest)
    assert row.path == clips / "bikes.mp4" and row.item_id == "bikes" and row.prompt == "cyclists"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,prompt\ncarphone.mp4,x\n", "it needs 'path'"),
        ("path,caption\ncarphone.mp4,x\n", "unknown: \\['caption'\\]"),
        ("path\nmissing.mp4\n", "row 1: no video file"),
        ("path,item_id\ncarphone.mp4,a\nbikes.mp4,a\n", "rows 1 and 2 share the item id 'a'"),
        ("path\n", "lists no videos"),
    ],
)
def test_bad_manifests_are_refused_naming_the_row(clips, text, message):
    (clips / "m.csv").write_text(text)
    with pytest.raises(GeneratorError, match=message):
        FootageGenerator(manifest=str(clips / "m.csv"))


def test_manifest_and_paths_are_exclusive(clips):
    (clips / "m.csv").write_text("path\nbikes.mp4\n")
    with pytest.raises(GeneratorError, match="a manifest or paths, not both"):
        FootageGenerator(paths=str(clips), manifest=str(clips / "m.csv"))
    with pytest.raises(GeneratorError, match=r"must be a .csv or .jsonl"):
        read_manifest(clips / "bikes.mp4")


# --------------------------------------------------------------------------- search path
def test_config_search_path_from_the_variable(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    paths = config_search_path({CONFIG_PATH_ENV: f"{a}:{b}:"})
    assert paths[:2] == [f"file://{a}", f"file://{b}"]
    with pytest.raises(ValueError, match=r"SPF_BENCH_CONFIG_PATH names .*, which is not a folder"):
        config_search_path({CONFIG_PATH_ENV: str(tmp_path / "nope")})


def test_outside_folder_adds_model_and_pacing_options(compose_cfg, tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    (tmp_path / "pacing").mkdir()
    (tmp_path / "model" / "short_morph.yaml").write_text(
        "defaults:\n  - schema_morph\n  - _self_\n\nname: short_morph\nn_frames: 9\n"
    )
    (tmp_path / "pacing" / "soft_up.yaml").write_text(
        "defaults:\n  - _schema\n  - _self_\n\nname: exp_up\ntemperature: 1.5\n"
    )
    monkeypatch.setenv(CONFIG_PATH_ENV, str(tmp_path))
    cfg = compose_cfg(["model=short_morph", "pacing=soft_up"])
    assert cfg.model.name == "short_morph" and cfg.model.n_frames == 9
    assert cfg.model._target_ == "spf_bench.generators.morph.MorphGenerator"
    assert str(cfg.pacing.name) == "exp_up" and cfg.pacing.temperature == 1.5
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=r"model\.n_framez"):
        compose_cfg(["model=short_morph", "model.n_framez=3"])
    monkeypatch.delenv(CONFIG_PATH_ENV)
    with pytest.raises(ConfigCompositionException, match="short_morph"):
        compose_cfg(["model=short_morph"])


# --------------------------------------------------------------------------- entry points
@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package 'toy_plugin' installed by its metadata alone (dist-info on sys.path)."""
    pkg = tmp_path / "toy_plugin"
    (pkg / "conf").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "conf" / "__init__.py").write_text("")
    (pkg / "emb.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            class Mean:
                name, dim = "toy_mean", 3

                def embed(self, frames):
                    x = frames.reshape(len(frames), -1, 3).mean(axis=1) + 1.0
                    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

            def build(*, device, dtype, batch_size, weights, allow_download, progress):
                return Mean()
            """
        )
    )
    dist = tmp_path / "toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[spf_bench.embedders]\ntoy_mean = toy_plugin.emb:build\n\n"
        "[spf_bench.generators]\ntoy_gen = toy_plugin.gen:ToyGenerator\n\n"
        "[spf_bench.configs]\ntoy_plugin = toy_plugin.conf\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_points_are_discovered(installed_plugin):
    assert plugin_generators()["toy_gen"] == "toy_plugin.gen.ToyGenerator"
    assert "pkg://toy_plugin.conf" in config_search_path({})
    backends = plugin_embedders()
    assert set(backends) >= {"toy_mean"} and not backends["toy_mean"].heldout
    z = backends["toy_mean"](
        device="cpu",
        dtype="float32",
        batch_size=1,
        weights=None,
        allow_download=False,
        progress=False,
    ).embed(np.zeros((2, 4, 4, 3), np.uint8))
    np.testing.assert_allclose(z, np.full((2, 3), 1 / np.sqrt(3)), rtol=1e-6)


def test_a_broken_or_clashing_entry_point_is_named(installed_plugin):
    dist = installed_plugin / "toy_plugin-0.1.dist-info" / "entry_points.txt"
    dist.write_text("[spf_bench.embedders]\nbroken = toy_plugin.missing:build\n")
    with pytest.raises(ValueError, match=r"entry point 'broken' .* cannot be loaded"):
        plugin_embedders()
    dist.write_text("[spf_bench.embedders]\npixel = toy_plugin.emb:build\n")
    with pytest.raises(ValueError, match=r"'pixel' .* reuses the name of a built-in embedder"):
        plugin_embedders()
    dist.write_text("[spf_bench.generators]\nodd = toy_plugin_gen\n")
    with pytest.raises(ValueError, match=r"must name a class as 'package.module:Class'"):
        plugin_generators()


def test_bare_builder_embedders_are_not_default_held_out_judges(monkeypatch, installed_plugin):
    backends = plugin_embedders()
    monkeypatch.setitem(EMBEDDERS, "toy_mean", backends["toy_mean"])
    assert "toy_mean" not in resolve_eval_embedders(None, "pixel")
    assert resolve_eval_embedders(["toy_mean"], "pixel") == ["toy_mean"]
    emb = build_embedder("toy_mean")
    assert emb.name == "toy_mean" and emb.dim == 3
