"""The tensor version of feature decoding inside graph (b) matches the motion library's decoder."""

from __future__ import annotations

import numpy as np
import torch

from a2m_core.motion.features import codec_for
from a2m_core.runtime.joints import cumulative_sum_matrix, features_to_joints


def test_matches_the_reference_decoder_on_the_real_clip(humanml3d_fixture_dir):
    features = np.load(humanml3d_fixture_dir / "new_joint_vecs_012314.npy")  # (t 263)
    expected = codec_for("humanml3d").decode(features)
    t = torch.from_numpy(features.astype(np.float32))[None]
    joints = features_to_joints(t, 22, cumulative_sum_matrix(t.shape[1]))[0].numpy()
    np.testing.assert_allclose(joints, expected, atol=2e-5)


def test_batched_kit_features_decode_per_row():
    rng = np.random.default_rng(0)
    features = rng.normal(0, 0.3, (3, 24, 251)).astype(np.float32)
    codec = codec_for("kit")
    t = torch.from_numpy(features)
    joints = features_to_joints(t, 21, cumulative_sum_matrix(24)).numpy()
    assert joints.shape == (3, 24, 21, 3)
    for row in range(3):
        np.testing.assert_allclose(joints[row], codec.decode(features[row]), atol=1e-4)
