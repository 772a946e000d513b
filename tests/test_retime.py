"""Warp schedules and the ReTime position update (generators/retime.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generators.retime import (
    G_MODES,
    accumulate_positions,
    band_strengths,
    timestep_modulation,
)


def test_band_strengths_paper_values():
    a = band_strengths(22, a_low=0.2, a_high=0.8, lam=3.0)
    assert a.shape == (22,)
    assert a[0] == pytest.approx(0.2)
    assert a[-1] == pytest.approx(0.8 - 0.6 * math.exp(-3))  # ~0.77, the paper's figure
    assert np.all(np.diff(a) > 0)  # low-frequency bands are warped more
    assert band_strengths(0).size == 0
    with pytest.raises(ValueError):
        band_strengths(4, a_low=1.5)


@pytest.mark.parametrize("mode", G_MODES)
def test_timestep_modulation_range_and_ends(mode):
    s = np.linspace(0, 1, 101)
    g = timestep_modulation(s, mode)
    assert np.all((g >= 0) & (g <= 1))
    if mode == "none":
        assert np.all(g == 1)
    elif mode == "exp_down":
        assert g[0] == pytest.approx(0) and g[-1] == pytest.approx(1)
        assert timestep_modulation(0.5, mode) > 0.5  # concave: most warp arrives early in s
    else:
        assert g[0] == pytest.approx(0) and g[-1] == pytest.approx(1)
    with pytest.raises(ValueError, match="unknown"):
        timestep_modulation(0.5, "bogus")


def test_exp_up_known_value():
    assert timestep_modulation(0.5, "exp_up") == pytest.approx((math.e**1.5 - 1) / (math.e**3 - 1))


def test_rules_agree_at_identity_and_match_paper_formula():
    n = 21
    t = np.arange(n, dtype=float)
    tau = t + 2.0 * np.sin(np.pi * t / (n - 1))
    a = band_strengths(4)
    stock = np.tile(t, (4, 1))
    comp = accumulate_positions(stock, tau, a, "compose")
    add = accumulate_positions(stock, tau, a, "additive")
    np.testing.assert_allclose(comp, add, atol=1e-12)
    np.testing.assert_allclose(comp, (1 - a[:, None]) * t + a[:, None] * tau, atol=1e-12)


def test_compose_is_exact_for_a_known_renderer():
    # Content at position p is c(p) = p^2 (a renderer honouring positions exactly). After
    # rendering at P, output frame j shows c(P_j); asking frame k to show what frame tau_k showed
    # must give positions P(tau_k).
    n = 33
    t = np.arange(n, dtype=float)
    p = (n - 1) * (t / (n - 1)) ** 2
    tau = (n - 1) * np.sqrt(t / (n - 1))
    new = accumulate_positions(p, tau, rule="compose")
    np.testing.assert_allclose(new, np.interp(tau, t, p), atol=1e-12)
    np.testing.assert_allclose(new, t, atol=0.05)  # p o tau == identity here


def test_bad_shapes_and_rule():
    with pytest.raises(ValueError, match="tau"):
        accumulate_positions(np.arange(5.0), np.arange(4.0))
    with pytest.raises(ValueError, match="strengths"):
        accumulate_positions(np.zeros((3, 5)), np.arange(5.0))
    with pytest.raises(ValueError, match="rule"):
        accumulate_positions(np.arange(5.0), np.arange(5.0), rule="bogus")
