"""``wan22_toy`` as the first-last-frame (FLF) regenerator of ``retime=segmented``
(bench/build.py ``build_regenerator``, generators/posthoc/render.py): a random-initialised toy
transformer (``build_toy_transformer``) written as a checkpoint, run through the real pipeline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.build import build_regenerator, regenerator_options
from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.generators.base import GenerationRequest, GeneratorError
from spf_bench.generators.posthoc import fit_keyframe, plan_segments, render_segments


@pytest.fixture(scope="module")
def random_toy(tmp_path_factory):
    """A random-init toy checkpoint (seed 0) in the checkpoint format of train_toy."""
    from safetensors.torch import save_file

    from spf_bench.generators.wan22_toy import TOY_CONFIG, build_toy_transformer

    path = tmp_path_factory.mktemp("toy") / "random_toy.safetensors"
    state = {k: v.contiguous() for k, v in build_toy_transformer(seed=0).state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(TOY_CONFIG)})
    return path


def test_mode_flf_is_dropped_for_a_model_without_modes_and_kept_otherwise():
    assert regenerator_options("wan22_toy", {"mode": "flf", "steps": 2}) == {"steps": 2}
    assert regenerator_options("wan22_flf_tiny", {"mode": "flf"}) == {"mode": "flf"}
    with pytest.raises(ValueError, match="single mode"):
        regenerator_options("wan22_toy", {"mode": "t2v"})


def test_fit_keyframe_inverts_pixel_replication():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    big = small.repeat(4, axis=0).repeat(4, axis=1)

    class Sized:
        keyframe_size = 16

    np.testing.assert_array_equal(fit_keyframe(big, Sized()), small)
    np.testing.assert_array_equal(fit_keyframe(big, None), big)  # no keyframe_size: as given


def test_toy_regenerates_a_piece_between_its_keyframes(random_toy):
    regen = build_regenerator(
        "wan22_toy", {"mode": "flf", "weights": str(random_toy), "steps": 2, "out_size": 16}
    )
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(17, 16, 16, 3), dtype=np.uint8)
    plan = plan_segments(np.linspace(0.0, 1.0, 17), [(0, 16)], 17)
    video, pieces = render_segments(frames, plan, regen, item_id="x", fps=8.0)
    assert video.shape == (17, 16, 16, 3) and video.dtype == np.uint8
    assert pieces[0]["renderer"] == "wan22_toy" and pieces[0]["n_frames"] == 17
    # the same request straight to the generator gives the same frames (seed of piece 0)
    req = GenerationRequest(
        item_id="x__seg00", seed=0, n_frames=17, fps=8.0, first_image=frames[0],
        last_image=frames[16],
    )  # fmt: skip
    np.testing.assert_array_equal(regen.generate(req).frames, video)


def test_segmented_on_the_toy_runs_or_fails_each_item_with_one_clear_error(
    compose_cfg, tmp_path, random_toy
):
    """End to end: keyframes from the SPF of the toy's baseline, then FLF pieces from the toy.
    A piece length the checkpoint cannot render is one recorded error naming the piece. The
    random model makes no progress, so the no-progress test is off (progress_threshold=0)."""
    cfg = compose_cfg(
        [
            f"run_dir={tmp_path / 'run'}", "progress=false", "logger=none", "plots=false",
            "report=false", "eval_embedders=[]", "model=wan22_toy",
            f"model.weights={random_toy}", "model.steps=2", "model.out_size=16", "n_videos=2",
            "embedder=pixel", "spf.progress_threshold=0", "retime=segmented",
            "retime.regenerator=wan22_toy",
            f"+retime.regenerator_options.weights={random_toy}",
            "+retime.regenerator_options.steps=2", "+retime.regenerator_options.out_size=16",
        ]
    )  # fmt: skip
    run_benchmark(settings_from_config(cfg))
    df = pd.read_parquet(tmp_path / "run" / "records.parquet")
    assert set(df.iteration) == {0, 1} and (df[df.iteration == 0].status == "ok").all()
    for row in df[df.iteration == 1].itertuples():
        if row.status == "ok":
            meta = json.loads(row.metadata)
            assert meta["regenerator"] == "wan22_toy"
            assert row.n_frames == meta["segment_plan"]["n_out"]
            assert {p["renderer"] for p in meta["pieces"]} <= {"wan22_toy", "keyframes"}
        else:
            assert row.error.startswith("GeneratorError: regenerator wan22_toy cannot render piece")
            assert "\n" not in row.error


def test_a_piece_the_regenerator_refuses_names_the_piece():
    class Only17:
        name = "only17"

        def generate(self, request):
            raise GeneratorError(f"renders 17 frames, got n_frames={request.n_frames}")

    f = np.zeros((9, 8, 8, 3), np.uint8)
    plan = plan_segments(np.linspace(0.0, 1.0, 9), [(0, 4), (4, 8)], 9)
    with pytest.raises(GeneratorError, match=r"piece 0 \(source frames 0-4, 5 frames\)"):
        render_segments(f, plan, Only17())
