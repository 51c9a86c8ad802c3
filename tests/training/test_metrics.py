"""Each metric against a case computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (Estimate, diversity, frechet_distance, matching_score, multimodality, order_accuracy,
                              r_precision, word_error_rate)


class ScriptedChoice:
    """Stands in for numpy's Generator.choice: returns the index draws a test wrote down, in order."""

    def __init__(self, *draws):
        self.draws = [np.asarray(d) for d in draws]

    def choice(self, n, size, replace):
        assert not replace
        draw = self.draws.pop(0)
        assert len(draw) == size and draw.max() < n
        return draw


def test_r_precision_counts_closer_motions_per_batch_of_32():
    text = np.arange(37, dtype=np.float64)[:, None] * 10  # texts at 0, 10, 20, ...
    motion = text.copy()
    motion[0] = 14  # text 0 (at 0): motion 1 (at 10) is closer than its own (14): rank 1
    motion[5] = 71  # text 5 (at 50), own motion 21 away; motions 4, 6 (10 away), 3, 7 (20 away) closer: rank 4
    motion[32:] = 1e6  # the 5 pairs beyond the first 32 do not fill a batch and are ignored
    top = r_precision(text, motion)
    np.testing.assert_allclose(top, [30 / 32, 31 / 32, 31 / 32])


def test_r_precision_needs_one_full_batch():
    with pytest.raises(ValueError, match="at least 32"):
        r_precision(np.zeros((31, 2)), np.zeros((31, 2)))


def test_matching_score_is_the_mean_paired_distance():
    assert matching_score(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, 1.0]])) == pytest.approx(2.5)


def test_order_accuracy_counts_motions_closer_to_the_caption_in_order():
    motion = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    in_order = np.array([[0.1, 0.0], [0.0, 0.0], [0.0, 0.5]])
    reversed_ = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 0.0]])
    assert order_accuracy(motion, in_order, reversed_) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="paired"):
        order_accuracy(motion, in_order[:2], reversed_)


def test_frechet_distance_of_two_gaussian_fits():
    real = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # mean 0, covariance 2/3 I
    generated = real * 2 + [3.0, 0.0]  # mean (3, 0), covariance 8/3 I
    # |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)) = 9 + 4/3 + 16/3 - 2 * 2 * 4/3
    assert frechet_distance(real, generated) == pytest.approx(9 + 4 / 3)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-9)


def test_diversity_averages_the_drawn_pairs():
    motion = np.array([[0.0], [3.0], [7.0]])
    value = diversity(motion, ScriptedChoice([0, 1, 2], [1, 2, 0]), num_pairs=3)
    assert value == pytest.approx((3 + 4 + 7) / 3)
    with pytest.raises(ValueError, match="300"):
        diversity(np.zeros((299, 4)), np.random.default_rng(0))


def test_multimodality_averages_pairs_within_each_condition():
    motion = np.zeros((2, 10, 1))
    motion[0, :, 0] = np.arange(10)  # condition 0: repeats at 0..9; condition 1: all alike
    value = multimodality(motion, ScriptedChoice(np.arange(10), np.roll(np.arange(10), -1)))
    assert value == pytest.approx((9 * 1 + 9) / 10 / 2)  # condition 0: nine pairs 1 apart and one 9 apart


def test_estimate_mean_and_95_ci():
    estimate = Estimate.of([1.0, 2.0, 3.0, 4.0])
    assert estimate.mean == pytest.approx(2.5)
    assert estimate.ci95 == pytest.approx(1.96 * np.sqrt(1.25) / 2)
    assert str(estimate) == "2.500 ± 1.096"
    with pytest.raises(ValueError):
        Estimate.of([1.0, float("nan")])


def test_word_error_rate_counts_edits_over_reference_words():
    # "raise the right hand" -> "raise a right hand now": 1 substitution + 1 insertion; "wave" -> "": 1 deletion
    assert word_error_rate(["Raise the right hand.", "wave"], ["raise a right hand now", ""]) == pytest.approx(3 / 5)
    assert word_error_rate(["walk forward"], ["Walk, forward!"]) == 0.0
    with pytest.raises(ValueError, match="paired"):
        word_error_rate(["a"], [])
