"""Loading a robot through pinocchio's URDF parser: names, limits, and clear errors for bad files."""

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.retarget.robot import RobotModel


def test_g1_joints_and_limits(g1):
    assert g1.num_joints == 29
    assert g1.joint_names[0] == "left_hip_pitch_joint" and "right_wrist_yaw_joint" in g1.joint_names
    i = g1.joint_names.index("left_knee_joint")
    assert g1.lower_rad[i] == pytest.approx(-0.087267) and g1.upper_rad[i] == pytest.approx(2.8798)
    assert g1.velocity_limit[i] == pytest.approx(20.0)
    assert g1.has_link("left_ankle_roll_link") and not g1.has_link("left_toe_link")


def test_point_frame_is_added_once_and_sits_at_its_offset(g1):
    a = g1.point_frame("pelvis", (0.0, 0.0, -0.1))
    assert g1.point_frame("pelvis", (0.0, 0.0, -0.1)) == a
    q = g1.configuration(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0, 0, 0]), np.zeros(29))
    np.testing.assert_allclose(g1.frame_positions(q, [a])[0], [1.0, 2.0, 2.9], atol=1e-12)


def test_missing_and_unparseable_urdf_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such URDF"):
        RobotModel(tmp_path / "absent.urdf")
    bad = tmp_path / "bad.urdf"
    bad.write_text("<robot name='x'><link name='a'/><joint name='j' type='revolute'>")
    with pytest.raises(InputError, match="not a parseable URDF"):
        RobotModel(bad)


def test_joint_without_limits_is_an_input_error(tmp_path):
    urdf = tmp_path / "nolimit.urdf"
    urdf.write_text("""<robot name="r"><link name="base"/><link name="arm"/>
      <joint name="spin" type="continuous"><parent link="base"/><child link="arm"/><axis xyz="0 0 1"/></joint>
    </robot>""")
    with pytest.raises(InputError, match="spin"):
        RobotModel(urdf)
