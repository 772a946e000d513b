"""Warped temporal RoPE: the pure math and the rope modules against diffusers' stock ones."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoRotaryPosEmbed
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

from spf_bench.generators.retime import accumulate_positions, band_strengths, timestep_modulation
from spf_bench.generators.warped_rope import (
    TemporalWarp,
    WarpedLTX2RotaryPosEmbed,
    WarpedWanRotaryPosEmbed,
    band_angles,
    extra_rotation_bound,
    frames_to_latent_positions,
    ltx2_band_count,
    ltx2_rope_class,
    ltx2_temporal_frequencies,
    max_extra_rotation,
    resample_bands,
    wan_band_count,
    wan_latent_centres,
    wan_rope_class,
    wan_temporal_frequencies,
    warped_ropes,
)

torch.set_num_threads(1)

# --------------------------------------------------------------------------- pure math


def test_wan_band_split_matches_diffusers():
    assert wan_band_count(128) == 22  # 44 / 42 / 42
    assert wan_band_count(48) == 8
    rope = WanRotaryPosEmbed(128, (1, 2, 2), 64)
    assert rope.t_dim == 2 * wan_band_count(128)
    w = wan_temporal_frequencies(128)
    assert w[0] == 1.0 and np.all(np.diff(w) < 0)  # band 0 the highest
    # stock table row 3 = cos(3 w_b), each band repeated twice
    table = rope.freqs_cos[3, : rope.t_dim : 2].numpy()
    assert np.array_equal(table, np.cos(3 * w).astype(np.float32))
    with pytest.raises(ValueError):
        wan_band_count(1)


def test_wan_latent_centres_hand_values():
    assert np.array_equal(wan_latent_centres(17), [0.0, 2.5, 6.5, 10.5, 14.5])
    assert np.array_equal(wan_latent_centres(81)[:3], [0.0, 2.5, 6.5])
    assert wan_latent_centres(81)[-1] == 4 * 20 - 1.5
    assert np.array_equal(wan_latent_centres(17, pin_last=True), [0.0, 2.5, 6.5, 10.5, 16.0])
    assert np.array_equal(wan_latent_centres(1), [0.0])
    with pytest.raises(ValueError, match="4n\\+1"):
        wan_latent_centres(18)


def test_frames_to_latent_positions_hand_values():
    f = np.arange(17, dtype=np.float64)
    # stock positions map to the integer latent grid exactly
    assert np.array_equal(frames_to_latent_positions(f), np.arange(5.0))
    assert np.array_equal(
        frames_to_latent_positions(np.tile(f, (3, 1))), np.tile(np.arange(5.0), (3, 1))
    )
    # displacement d(f) = 0.5 f, sampled at centres [0, 2.5, 6.5, 10.5, 14.5], times (L-1)/(F-1)
    # = 1/4: q = i + 0.125 c_i
    q = frames_to_latent_positions(1.5 * f)
    assert np.allclose(q, [0.0, 1.3125, 2.8125, 4.3125, 5.8125], atol=0, rtol=1e-15)
    # first-last-frame: last latent centred on frame 16 and both ends pinned to the stock grid
    q = frames_to_latent_positions(1.5 * f, pin_endpoints=True)
    assert np.allclose(q, [0.0, 1.3125, 2.8125, 4.3125, 4.0], atol=0, rtol=1e-15)
    # a displacement between integer frames is interpolated: only frame 3 moves, by +1
    p = f.copy()
    p[3] += 1.0
    q = frames_to_latent_positions(p)
    assert np.allclose(q, [0.0, 1.0 + 0.5 * 0.25, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="non-finite"):
        frames_to_latent_positions(np.full(17, np.nan))
    with pytest.raises(ValueError):
        frames_to_latent_positions(np.arange(18.0))


def test_band_angles_and_rotation_diagnostics():
    q = np.array([[0.0, 1.0, 2.5], [0.0, 1.0, 2.0]])
    w = np.array([1.0, 0.1])
    ang = band_angles(q, w)
    assert ang.shape == (3, 2)
    assert np.allclose(ang, [[0, 0], [1.0, 0.1], [2.5, 0.2]])
    tau = np.array([0.0, 2.0, 4.0, 3.0])  # max |tau - t| = 2 frames
    a = np.array([0.2, 0.5])
    assert np.allclose(extra_rotation_bound(a, w, tau), [0.4, 0.1])
    assert np.allclose(extra_rotation_bound(a, w, tau, frame_to_unit=0.25), [0.1, 0.025])
    # an accumulated warp: the largest displacement per band times its rate
    assert np.allclose(max_extra_rotation(q - np.array([0.0, 1.0, 2.0]), w), [0.5, 0.0])
    # one iteration: the exact rotation of P = t + a (tau - t) equals the bound
    P = accumulate_positions(np.tile(np.arange(4.0), (2, 1)), tau, a)
    assert np.allclose(max_extra_rotation(P - np.arange(4.0), w), extra_rotation_bound(a, w, tau))


def test_ltx2_frequencies_are_reversed_stock():
    n = ltx2_band_count(4096, 3)
    assert n == 682 and ltx2_band_count(2048, 1) == 1024
    rates = ltx2_temporal_frequencies(4096, 3, 10000.0, 20.0)
    assert rates.shape == (682,) and np.all(np.diff(rates) < 0)  # band 0 highest
    stock = 10000.0 ** np.linspace(0, 1, 682) * np.pi / 2  # LTX index 0 lowest
    assert np.allclose(rates[::-1], 2 * stock / 20.0, rtol=1e-12)


def test_resample_bands():
    rows = np.arange(12.0).reshape(4, 3)
    assert np.array_equal(resample_bands(rows, 4), rows)
    out = resample_bands(rows, 7)  # fractional ranks 0, .5, 1, ..., 3
    assert out.shape == (7, 3)
    assert np.allclose(out[1], (rows[0] + rows[1]) / 2) and np.allclose(out[-1], rows[-1])
    assert np.allclose(resample_bands(rows, 2), rows[[0, 3]])


def test_temporal_warp_state_and_errors():
    w = TemporalWarp(3, "linear")
    w.set_positions(np.arange(5.0) + 1, 5)  # a 1-D row applies to every band
    assert w.positions.shape == (3, 5) and np.all(w.displacement() == 1)
    with pytest.raises(ValueError, match="bands x frames"):
        w.set_positions(np.zeros((2, 5)), 5)
    with pytest.raises(ValueError, match="non-finite"):
        w.set_positions(np.full((3, 5), np.inf), 5)
    assert w.set_timestep(250.0, "x") == pytest.approx(0.25)
    assert w.calls[-1] == {"label": "x", "timestep": 250.0, "s": 0.25, "g": 0.25}
    w.set_positions(None, 5)
    assert w.displacement() is None
    with pytest.raises(ValueError, match="g_mode"):
        TemporalWarp(3, "bogus")
    # the composition base of the reference composition
    w.set_positions(np.arange(5.0) + 2, 5, base=np.arange(5.0) + 1)
    assert w.base.shape == (3, 5) and np.all(w.base_displacement() == 1)
    w.set_positions(np.arange(5.0) + 2, 5)  # no base: the stock grid (accumulated)
    assert w.base is None and w.base_displacement() is None
    with pytest.raises(ValueError, match="base positions have shape"):
        w.set_positions(np.arange(5.0), 5, base=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="need target positions"):
        w.set_positions(None, 5, base=np.arange(5.0))


def test_rope_classes_are_created_lazily_and_stay_one_class():
    import pickle

    assert WarpedWanRotaryPosEmbed is wan_rope_class() and issubclass(
        WarpedWanRotaryPosEmbed, WanRotaryPosEmbed
    )
    assert WarpedLTX2RotaryPosEmbed is ltx2_rope_class() and issubclass(
        WarpedLTX2RotaryPosEmbed, LTX2AudioVideoRotaryPosEmbed
    )
    assert WarpedWanRotaryPosEmbed.__module__ == "spf_bench.generators.warped_rope"
    stock, warped, _ = _wan_pair(48)
    assert warped_ropes([torch.nn.Sequential(stock, warped)]) == [warped]
    back = pickle.loads(pickle.dumps(warped))  # the class is found by its module name
    assert type(back) is WarpedWanRotaryPosEmbed
    x = torch.zeros(1, 4, 5, 4, 4)
    assert all(torch.equal(a, b) for a, b in zip(back(x), warped(x), strict=True))


# --------------------------------------------------------------------------- Wan rope


def _wan_pair(head_dim=48, dtype=torch.float32, g_mode="exp_up"):
    stock = WanRotaryPosEmbed(head_dim, (1, 2, 2), 64).to(dtype)
    warp = TemporalWarp(wan_band_count(head_dim), g_mode)
    warped = WarpedWanRotaryPosEmbed.from_stock(copy.deepcopy(stock), warp)
    return stock, warped, warp


@pytest.mark.parametrize("head_dim", [48, 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_wan_rope_zero_warp_is_bit_identical(head_dim, dtype):
    stock, warped, warp = _wan_pair(head_dim, dtype)
    bands = warp.bands
    for n_frames, (h, w) in [(17, (4, 6)), (81, (30, 52)), (1, (2, 2)), (41, (8, 8))]:
        x = torch.zeros(1, 4, (n_frames - 1) // 4 + 1, 2 * h, 2 * w, dtype=dtype)
        t = np.arange(n_frames, dtype=np.float64)
        tau = t[0] + (t[-1] - t[0]) * (np.linspace(0, 1, n_frames) ** 2)
        zero_a = accumulate_positions(np.tile(t, (bands, 1)), tau, np.zeros(bands))
        for positions in (None, t, np.tile(t, (bands, 1)), zero_a):  # stock / tau = t / a = 0
            warp.set_positions(positions, n_frames)
            warp.set_timestep(999.0)
            for a, b in zip(stock(x), warped(x), strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape
                assert torch.equal(a, b)


def test_wan_rope_warp_matches_float64_formula_on_temporal_channels_only():
    stock, warped, warp = _wan_pair(48)
    n_frames, n_lat, h, w = 17, 5, 3, 2
    bands = warp.bands
    t = np.arange(n_frames, dtype=np.float64)
    tau = 16 * np.linspace(0, 1, n_frames) ** 2
    P = accumulate_positions(np.tile(t, (bands, 1)), tau, band_strengths(bands, 0.2, 0.8, 3.0))
    warp.set_positions(P, n_frames)
    g = warp.set_timestep(600.0)
    assert g == pytest.approx(float(timestep_modulation(0.6, "exp_up")))
    x = torch.zeros(1, 4, n_lat, 2 * h, 2 * w)
    (cs, ss), (cw, sw) = stock(x), warped(x)
    td = warped.t_dim
    assert torch.equal(cs[..., td:], cw[..., td:]) and torch.equal(ss[..., td:], sw[..., td:])
    assert not torch.equal(cs[..., :td], cw[..., :td])
    # independent float64 reference: q_b(i) = i + g (Q_b(i) - i), Q the latent map of P
    Q = frames_to_latent_positions(P)
    q = np.arange(n_lat) + g * (Q - np.arange(n_lat))
    ref = np.cos(band_angles(q, wan_temporal_frequencies(48))).astype(np.float32)
    got = cw[0, :, 0, :td:2].reshape(n_lat, h * w, -1)
    assert np.array_equal(got[:, 0].numpy(), ref)
    assert all(torch.equal(got[:, 0], got[:, k]) for k in range(h * w))


def test_wan_rope_reference_composition_matches_float64_formula():
    """With a base B the rope rotates at B + g (P - B): the previous iteration's warp stays."""
    _, warped, warp = _wan_pair(48)
    n_frames, n_lat, bands = 17, 5, warp.bands
    t = np.arange(n_frames, dtype=np.float64)
    a = band_strengths(bands)
    tau1 = 16 * np.linspace(0, 1, n_frames) ** 2
    tau2 = 16 * np.sqrt(np.linspace(0, 1, n_frames))
    P1 = accumulate_positions(np.tile(t, (bands, 1)), tau1, a, "additive")
    P2 = accumulate_positions(P1, tau2, a, "additive")
    warp.set_positions(P2, n_frames, base=P1)
    warp.record_applied = True
    x = torch.zeros(1, 4, n_lat, 4, 2)
    for timestep in (1000.0, 600.0, 50.0, 0.0):
        g = warp.set_timestep(timestep)
        cos = warped(x)[0][0, :, 0, : warped.t_dim : 2].reshape(n_lat, -1, bands)[:, 0]
        Q1, Q2 = frames_to_latent_positions(P1), frames_to_latent_positions(P2)
        q = Q1 + g * (Q2 - Q1)
        ref = np.cos(band_angles(q, wan_temporal_frequencies(48))).astype(np.float32)
        np.testing.assert_array_equal(cos.numpy(), ref)
        np.testing.assert_allclose(warp.applied[-1]["positions"], q, rtol=0, atol=1e-12)
    assert timestep_modulation(0.0, "exp_up") == 0  # at g = 0 the base's warp stays in force
    assert not np.allclose(warp.applied[-1]["positions"], np.arange(n_lat))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_wan_rope_stock_base_is_bit_identical_to_no_base(dtype):
    """Iteration 1 of the reference composition (base = stock grid) is the accumulated one."""
    _, warped, warp = _wan_pair(48, dtype)
    n = 17
    t = np.arange(n, dtype=np.float64)
    P = accumulate_positions(np.tile(t, (warp.bands, 1)), 16 * (t / 16) ** 2, band_strengths(8))
    x = torch.zeros(1, 4, 5, 4, 4, dtype=dtype)
    for timestep in (999.0, 500.0, 10.0):
        warp.set_positions(P, n)
        warp.set_timestep(timestep)
        ref = warped(x)
        warp.set_positions(P, n, base=t)
        got = warped(x)
        assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))


def test_wan_rope_constant_shift_equals_shifted_stock_table():
    stock, warped, warp = _wan_pair(48)
    warp.set_positions(np.arange(17.0) + 4.0, 17)  # +4 frames = +1 latent frame on every band
    warp.set_timestep(1000.0, "x")  # exp_up g(1) = 1
    x = torch.zeros(1, 4, 5, 4, 4)
    td = warped.t_dim
    got = warped(x)[0][0, :, 0, :td].reshape(5, 4, td)[:, 0]
    assert torch.allclose(got, stock.freqs_cos[1:6, :td], atol=1e-6, rtol=0)


def test_wan_rope_rejects_mismatched_frame_count_and_double_install():
    stock, warped, warp = _wan_pair(48)
    warp.set_positions(np.arange(17.0) + 1, 17)
    with pytest.raises(RuntimeError, match="latent frames"):
        warped(torch.zeros(1, 4, 6, 4, 4))
    with pytest.raises(ValueError, match="already warped"):
        WarpedWanRotaryPosEmbed.from_stock(warped, warp)
    with pytest.raises(ValueError, match="bands"):
        WarpedWanRotaryPosEmbed.from_stock(stock, TemporalWarp(3))
    # state_dict keys unchanged (non-persistent buffers only)
    assert warped.state_dict().keys() == stock.state_dict().keys()


# --------------------------------------------------------------------------- LTX-2 rope


def _ltx_coords(rope, L, h, w, fps=24.0, batch=2):
    return rope.prepare_video_coords(batch, L, h, w, "cpu", fps=fps)


@pytest.mark.parametrize("rope_type", ["split", "interleaved"])
@pytest.mark.parametrize(("dim", "heads"), [(48, 2), (4096, 32), (96, 4)])
def test_ltx2_rope_zero_warp_is_bit_identical(rope_type, dim, heads):
    stock = LTX2AudioVideoRotaryPosEmbed(dim, rope_type=rope_type, num_attention_heads=heads)
    cross = LTX2AudioVideoRotaryPosEmbed(dim // 2, rope_type=rope_type, num_attention_heads=heads)
    audio = LTX2AudioVideoRotaryPosEmbed(
        dim // 2, modality="audio", rope_type=rope_type, num_attention_heads=heads
    )
    warp = TemporalWarp(ltx2_band_count(dim))
    wv = WarpedLTX2RotaryPosEmbed.from_stock(stock, warp, "video")
    wc = WarpedLTX2RotaryPosEmbed.from_stock(cross, warp, "video_cross")
    wa = WarpedLTX2RotaryPosEmbed.from_stock(audio, warp, "audio_cross")
    for L, h, w in [(3, 2, 2), (16, 4, 6)]:
        coords = _ltx_coords(stock, L, h, w)
        acoords = audio.prepare_audio_coords(2, 27, "cpu")
        n = 8 * (L - 1) + 1
        for positions in (None, np.arange(n, dtype=np.float64)):
            warp.set_positions(positions, n)
            warp.set_timestep(1000.0)
            for ref, got in (
                (stock(coords), wv(coords)),
                (cross(coords[:, 0:1]), wc(coords[:, 0:1])),
                (audio(acoords), wa(acoords)),
            ):
                assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))


@pytest.mark.parametrize("rope_type", ["split", "interleaved"])
def test_ltx2_rope_constant_shift_equals_stock_at_shifted_time(rope_type):
    dim, heads, fps = 96, 4, 24.0
    stock = LTX2AudioVideoRotaryPosEmbed(dim, rope_type=rope_type, num_attention_heads=heads)
    warp = TemporalWarp(ltx2_band_count(dim))
    warped = WarpedLTX2RotaryPosEmbed.from_stock(copy.deepcopy(stock), warp, "video")
    coords = _ltx_coords(stock, 4, 3, 2, fps)
    n = 25
    warp.set_positions(np.arange(n, dtype=np.float64) + 3.0, n)  # +3 frames, every band
    warp.fps = fps
    g = warp.set_timestep(500.0)
    shifted = coords.clone()
    shifted[:, 0] += g * 3.0 / fps  # the same warp expressed in seconds
    for a, b in zip(stock(shifted), warped(coords), strict=True):
        assert torch.allclose(a, b, atol=2e-4, rtol=0)
    # only temporal channels differ from the unshifted stock output
    (c0, _), (c1, _) = stock(coords), warped(coords)
    changed = (c0 != c1).flatten(0, -2).any(0) if rope_type == "interleaved" else None
    if changed is not None:
        temporal = torch.zeros(dim, dtype=torch.bool)
        pad = dim % 6
        for f in range(ltx2_band_count(dim)):
            temporal[pad + 6 * f : pad + 6 * f + 2] = True
        assert changed.any() and not (changed & ~temporal).any()


def test_ltx2_rope_bands_follow_bench_order():
    """A warp on bench band 0 only (the highest frequency) moves LTX's last frequency only."""
    dim = 48
    stock = LTX2AudioVideoRotaryPosEmbed(dim, rope_type="interleaved", num_attention_heads=2)
    warp = TemporalWarp(ltx2_band_count(dim))
    warped = WarpedLTX2RotaryPosEmbed.from_stock(copy.deepcopy(stock), warp, "video")
    n = 17
    P = np.tile(np.arange(n, dtype=np.float64), (warp.bands, 1))
    P[0] += 2.0
    warp.set_positions(P, n)
    warp.set_timestep(1000.0)
    coords = _ltx_coords(stock, 3, 2, 2)
    changed = (stock(coords)[0] != warped(coords)[0]).flatten(0, -2).any(0)
    last = dim % 6 + 6 * (warp.bands - 1)
    assert changed.nonzero().flatten().tolist() == [last, last + 1]


@pytest.mark.parametrize("rope_type", ["split", "interleaved"])
def test_ltx2_rope_reference_composition_is_the_stock_rope_at_the_blended_time(rope_type):
    dim, heads, fps = 96, 4, 24.0
    stock = LTX2AudioVideoRotaryPosEmbed(dim, rope_type=rope_type, num_attention_heads=heads)
    warp = TemporalWarp(ltx2_band_count(dim))
    warped = WarpedLTX2RotaryPosEmbed.from_stock(copy.deepcopy(stock), warp, "video")
    coords = _ltx_coords(stock, 4, 3, 2, fps)
    n = 25
    t = np.arange(n, dtype=np.float64)
    warp.set_positions(t + 3.0, n, base=t + 1.0)  # base +1 frame, target +3 frames
    warp.fps = fps
    warp.record_applied = True
    for timestep in (1000.0, 500.0, 0.0):
        g = warp.set_timestep(timestep)
        shifted = coords.clone()
        shifted[:, 0] += (1.0 + g * 2.0) / fps  # B + g (P - B), in seconds
        for a, b in zip(stock(shifted), warped(coords), strict=True):
            # float32 times: the two roundings differ by up to ~1e-3 on the fastest band
            assert torch.allclose(a, b, atol=2e-3, rtol=0)
        log = warp.applied[-1]
        assert log["rope"] == "video"
        np.testing.assert_allclose(
            log["positions"] - log["times"][None, :], (1.0 + g * 2.0) / fps, atol=1e-12
        )
