"""The evaluator's metrics on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from motionlib.llm import eval_metrics as EM
from motionlib.llm.eval_scores import fid_halves


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_identical_embeddings_give_r_precision_one_fid_zero_mm_dist_zero():
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(320, 16)))
    np.testing.assert_allclose(EM.r_precision(x, x, rng), [1.0, 1.0, 1.0])
    assert EM.fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert EM.mm_dist(x, x) == pytest.approx(0.0, abs=1e-9)


def test_shuffled_pairs_give_chance():
    rng = np.random.default_rng(1)
    n = 32 * 400
    text, motion = rng.normal(size=(n, 8)), rng.normal(size=(n, 8))
    r = EM.r_precision(text, motion, rng)
    np.testing.assert_allclose(r, [1 / 32, 2 / 32, 3 / 32], atol=0.006)


def test_ties_count_against_the_match():
    x = np.ones((32, 4))
    np.testing.assert_allclose(EM.r_precision(x, x, np.random.default_rng(0)), [0.0, 0.0, 0.0])


def test_r_precision_leaves_out_the_partial_batch_and_needs_one_batch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 4))
    assert EM.r_precision(x, x, rng)[0] == 1.0
    with pytest.raises(ValueError, match="at least 32"):
        EM.r_precision(x[:31], x[:31], rng)


def test_frechet_of_known_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    # |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
    assert EM.frechet(mu1, s1, mu2, s2) == pytest.approx(5.0 + 1.0 + 1.0 + 0.0, abs=1e-9)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20000, 4))
    b = rng.normal(size=(20000, 4)) + [0.5, 0, 0, 0]
    assert EM.fid(a, b) == pytest.approx(0.25, abs=0.02)


def test_diversity_and_multimodality():
    rng = np.random.default_rng(4)
    same = np.ones((50, 8))
    assert EM.diversity(same, rng) == 0.0
    x = rng.normal(size=(5000, 64))
    # |x - y| for independent N(0, I_64) is close to sqrt(2 * 64)
    assert EM.diversity(x, rng, pairs=4000) == pytest.approx(np.sqrt(128), rel=0.02)
    groups = [np.zeros((3, 8)), np.ones((2, 8)), rng.normal(size=(1, 8))]
    assert EM.multimodality(groups, rng) == 0.0
    spread = [np.array([[0.0, 0.0], [3.0, 4.0]])]
    assert EM.multimodality(spread, rng) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="two or more"):
        EM.multimodality([np.zeros((1, 2))], rng)


def test_repeat_gives_mean_and_interval_per_component():
    ivs = EM.repeat(lambda rng: np.array([1.0, rng.normal()]), repeats=50, seed=0)
    assert ivs[0].mean == 1.0 and ivs[0].ci95 == 0.0 and ivs[0].repeats == 50
    assert abs(ivs[1].mean) < 3 * ivs[1].ci95 and ivs[1].ci95 == pytest.approx(1.96 / np.sqrt(50), rel=0.3)


def test_fid_halves_of_the_real_set_as_candidate_is_the_noise_floor():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(60, 4))
    floor, same = fid_halves(real, real, paired=True, repeats=5)
    assert floor.mean > 0 and same.mean == pytest.approx(floor.mean) and same.ci95 == pytest.approx(floor.ci95)
    _, far = fid_halves(real, real + 3.0, paired=True, repeats=5)
    assert far.mean > floor.mean + 30
    _, unpaired = fid_halves(real, rng.normal(size=(200, 4)), paired=False, repeats=5)
    assert unpaired.mean < far.mean
    with pytest.raises(ValueError, match="one-to-one"):
        fid_halves(real, real[:10], paired=True)
