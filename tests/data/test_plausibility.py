"""Plausibility of stored clips: upside-down bodies and feature round trips are caught, and the corpus redraws them.

Clip 000079 of seed 0 (turn around, hop, shake head) faces exactly backwards after its turn; its
features once stored the root frame upside down, so `new_joints` had everything but the pelvis
and feet mirrored below the floor on frames 131-173.
"""

import numpy as np
import pytest

from a2m_core.motion.features import FeatureCodec
from a2m_core.motion.skeleton import HUMANML3D
from training.data.corpus import MAX_SKATE_RATIO, CorpusConfig, build_clip, corpus_codec, draw_motion
from training.data.plausibility import MAX_ROUND_TRIP_M, check_motion
from training.data.sequences import sample_clip


def _first_draw(index: int):
    return sample_clip(np.random.default_rng([0, index]))


def _stored(codec: FeatureCodec, joints: np.ndarray) -> np.ndarray:
    return codec.decode(codec.encode(joints))


def test_clip_79_facing_straight_backwards_is_stored_upright():
    clip = _first_draw(79)
    assert [s.kind for s in clip.specs] == ["turn_around", "hop", "shake_head"]
    codec = corpus_codec()
    report = check_motion(_stored(codec, clip.joints), MAX_SKATE_RATIO, encoded_from=codec.canonical_joints(clip.joints))
    assert report.problems == (), report
    assert report.round_trip_m < 1e-5 and report.head_over_knees_m > 0.5


def test_an_upside_down_body_and_a_round_trip_mismatch_are_reported():
    joints = _first_draw(79).joints
    assert check_motion(joints, MAX_SKATE_RATIO).problems == ()
    flipped = joints.copy()
    upper = [j for j in range(HUMANML3D.num_joints) if j not in (0, 7, 8, 10, 11)]  # all but pelvis and feet
    flipped[131:174, upper, 1] *= -1  # the shape of the stored clip 000079 before the fix
    problems = " | ".join(check_motion(flipped, MAX_SKATE_RATIO).problems)
    assert "upside down" in problems and "below the floor" in problems

    turned = joints.copy()
    turned[100:, :, [0, 2]] += 0.01  # the rest of the clip moved by 1.4 cm: looks plausible on its own
    assert check_motion(turned, MAX_SKATE_RATIO).problems == ()
    report = check_motion(turned, MAX_SKATE_RATIO, encoded_from=joints)
    assert report.round_trip_m == pytest.approx(0.01 * np.sqrt(2)) and report.round_trip_m > MAX_ROUND_TRIP_M
    assert any("decode" in p for p in report.problems)
    assert check_motion(joints[:-1], MAX_SKATE_RATIO, encoded_from=joints).round_trip_m == 0.0
    with pytest.raises(ValueError, match="encoded_from"):
        check_motion(joints, MAX_SKATE_RATIO, encoded_from=joints[:-1])


def test_draw_motion_redraws_a_clip_whose_features_do_not_round_trip():
    """The dataset's codec (yaw wrap kept) stores clip 000051's circle walk 0.2 m off: the draw is replaced."""
    dataset_codec = FeatureCodec(HUMANML3D)
    first = _first_draw(51)
    report = check_motion(_stored(dataset_codec, first.joints), MAX_SKATE_RATIO,
                          encoded_from=dataset_codec.canonical_joints(first.joints))
    assert report.round_trip_m > 0.1
    clip, features, report = draw_motion(np.random.default_rng([0, 51]), dataset_codec)
    assert clip.specs != first.specs and report.problems == ()
    np.testing.assert_allclose(dataset_codec.decode(features), dataset_codec.canonical_joints(clip.joints)[:-1],
                               atol=MAX_ROUND_TRIP_M)
    # the corpus's codec fixes the wrap, so the circle walk itself is kept
    assert draw_motion(np.random.default_rng([0, 51]), corpus_codec())[0].specs == first.specs


def test_built_clip_79_stores_the_motion_it_rendered(tmp_path):
    build_clip(tmp_path, CorpusConfig(num_clips=100, audio=False), "000079")
    stored = np.load(tmp_path / "new_joints" / "000079.npy")
    source = corpus_codec().canonical_joints(_first_draw(79).joints)
    np.testing.assert_allclose(stored, source[:-1], atol=1e-4)
    np.testing.assert_allclose(corpus_codec().decode(np.load(tmp_path / "new_joint_vecs" / "000079.npy")), stored)
