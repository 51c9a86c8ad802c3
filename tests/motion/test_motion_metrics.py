"""Foot-skating ratio on constructed motions and the real HumanML3D clip."""

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.motion.kinematics import forward_kinematics, rest_offsets
from a2m_core.motion.metrics import foot_skating
from a2m_core.motion.skeleton import HUMANML3D, KIT


def _standing(skeleton, num_frames=40):
    """(t j 3) rest pose on the floor, in the dataset's units."""
    quats = np.tile([1.0, 0, 0, 0], (num_frames, skeleton.num_joints, 1))
    joints = forward_kinematics(skeleton, quats, np.zeros((num_frames, 3)), rest_offsets(skeleton))
    joints[..., 1] -= joints[..., 1].min()
    return joints


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=lambda s: s.name)
def test_standing_still_does_not_skate_and_gliding_does(skeleton):
    unit = 1000.0 if skeleton is KIT else 1.0
    still = _standing(skeleton)
    assert foot_skating(still, skeleton) == 0.0
    glide = still + np.arange(len(still))[:, None, None] * np.array([0, 0, 1.0 / skeleton.fps]) * unit  # 1 m/s
    ratio = foot_skating(glide, skeleton)
    assert ratio > 0.85  # all steps but the zero-padded window edges
    lifted = glide + np.array([0, 0.3, 0]) * unit  # same glide in the air: no contact
    assert foot_skating(lifted, skeleton) == 0.0


def test_real_clip_skates_less_than_when_its_feet_are_dragged(humanml3d_fixture_dir):
    joints = np.load(humanml3d_fixture_dir / "new_joints_012314.npy")
    real = foot_skating(joints, HUMANML3D)  # measured 0.136
    dragged = joints + np.arange(len(joints))[:, None, None] * np.array([0, 0, 0.05])  # +1 m/s everywhere
    assert real < 0.3
    assert foot_skating(dragged, HUMANML3D) > real + 0.2


def test_rejects_wrong_shapes():
    with pytest.raises(InputError, match="expected"):
        foot_skating(np.zeros((1, 22, 3)), HUMANML3D)
    with pytest.raises(InputError, match="expected"):
        foot_skating(np.zeros((10, 21, 3)), HUMANML3D)
