"""The avatar URDF and its joint angles: checked against the URDF as ROS's own parser reads it.

`urdf_link_positions` is forward kinematics written here from the URDF rules (origin, then the
joint's motion about or along its axis), over the tree that urdf_parser_py builds from the text,
so it shares nothing with the generator but the file.
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from urdf_parser_py.urdf import URDF

from a2m_core.errors import InputError
from a2m_core.motion.avatar import (
    ROOT_JOINTS,
    avatar_joint_angle_array,
    avatar_joint_angles,
    avatar_joint_angles_from_features,
    avatar_joint_names,
    avatar_urdf,
    bone_axis_order,
    write_avatar_urdf,
)
from a2m_core.motion.frames import metres_per_unit, positions_to_ros
from a2m_core.motion.kinematics import forward_kinematics, rest_offsets
from a2m_core.motion.rotations import quat_from_yaw, quat_multiply
from a2m_core.motion.skeleton import HUMANML3D, KIT, Skeleton

REPO = Path(__file__).parents[2]
FIXTURES = REPO / ".." / "shared" / "fixtures" / "humanml3d"
ONE_CM = 0.01


def urdf_link_positions(urdf_text: str, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """World position (t 3) of every link for joint values {name: (t)}; joints not given stay at 0."""
    robot = URDF.from_xml_string(urdf_text)
    num_frames = len(next(iter(values.values())))
    root = robot.get_root()
    rotation, position = {root: np.broadcast_to(np.eye(3), (num_frames, 3, 3))}, {root: np.zeros((num_frames, 3))}
    stack = [root]
    while stack:
        link = stack.pop()
        for joint_name, child in robot.child_map.get(link, []):
            joint = robot.joint_map[joint_name]
            value = values.get(joint_name, np.zeros(num_frames))  # (t)
            rot = rotation[link] @ Rotation.from_euler("xyz", joint.origin.rpy).as_matrix()  # URDF rpy: fixed-axis roll, pitch, yaw
            pos = position[link] + rotation[link] @ np.asarray(joint.origin.xyz)
            if joint.type in ("revolute", "continuous"):
                rot = rot @ Rotation.from_rotvec(value[:, None] * np.asarray(joint.axis)).as_matrix()
            elif joint.type == "prismatic":
                pos = pos + value[:, None] * (rot @ np.asarray(joint.axis))
            else:
                assert joint.type == "fixed", joint.type
            rotation[child], position[child] = rot, pos
            stack.append(child)
    return position


def urdf_joint_positions(skeleton: Skeleton, values: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """Skeleton joint positions (t j 3), ROS frame, metres, from the URDF posed with `values`."""
    links = urdf_link_positions(avatar_urdf(skeleton, prefix), values)
    return np.stack([links[prefix + name] for name in skeleton.joint_names], axis=1)


def fixture(name: str) -> np.ndarray:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"HumanML3D fixture absent: {path} (it lives in ../shared next to the repository)")
    return np.load(path)


def fk_motion(skeleton: Skeleton, num_frames: int = 60, seed: int = 0) -> np.ndarray:
    """A motion the dataset's forward kinematics builds: reference bone lengths, random smooth bends, turning, travelling."""
    rng = np.random.default_rng(seed)
    time = np.linspace(0.0, 1.0, num_frames)[:, None, None]  # (t 1 1)
    rotvecs = rng.normal(0.0, 0.35, (1, skeleton.num_joints, 3)) + time * rng.normal(0.0, 0.6, (1, skeleton.num_joints, 3))
    local = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_quat(scalar_first=True).reshape(num_frames, -1, 4)
    local[:, 0] = quat_multiply(quat_from_yaw(np.linspace(0.0, 5.0, num_frames)), local[:, 0])  # turn most of a circle
    unit = 1.0 / metres_per_unit(skeleton)
    root = np.stack([np.linspace(0.0, 2.0, num_frames), np.full(num_frames, 0.9), np.linspace(0.0, 1.0, num_frames)], -1) * unit
    return forward_kinematics(skeleton, local, root, rest_offsets(skeleton))


# ---------------------------------------------------------------- the URDF file


def test_checked_in_urdf_is_what_the_generator_writes():
    checked_in = (REPO / "urdf" / "avatar.urdf").read_text()
    assert checked_in == avatar_urdf(), "urdf/avatar.urdf is stale: regenerate it with `a2m motion urdf --out urdf/avatar.urdf`"


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=lambda s: s.name)
def test_urdf_parses_with_unique_names_and_the_documented_joints(skeleton):
    robot = URDF.from_xml_string(avatar_urdf(skeleton))
    assert robot.get_root() == "world"
    joint_names = [joint.name for joint in robot.joints]
    link_names = [link.name for link in robot.links]
    assert len(set(joint_names)) == len(joint_names) and len(set(link_names)) == len(link_names)
    movable = [joint.name for joint in robot.joints if joint.type != "fixed"]
    assert tuple(movable) == avatar_joint_names(skeleton)
    assert len(movable) == 6 + 3 * (skeleton.num_joints - 1)
    types = {joint.name: joint.type for joint in robot.joints}
    assert [types[name] for name, _, _ in ROOT_JOINTS] == ["prismatic"] * 3 + ["continuous", "revolute", "continuous"]
    assert sum(t == "revolute" or t == "continuous" for t in types.values()) == 3 + 3 * (skeleton.num_joints - 1)
    assert set(skeleton.joint_names) <= set(link_names)  # one link at every skeleton joint
    for joint in robot.joints:
        if joint.type == "revolute":
            assert joint.limit.lower == pytest.approx(-np.pi / 2) and joint.limit.upper == pytest.approx(np.pi / 2)
        if joint.type == "prismatic":
            assert joint.limit.lower <= -100 and joint.limit.upper >= 100


def test_urdfdom_check_urdf_accepts_the_file(tmp_path):
    """urdfdom is the C++ parser behind robot_state_publisher and RViz's RobotModel display."""
    if shutil.which("check_urdf") is None:
        pytest.skip("check_urdf absent: install the Debian package liburdfdom-tools (scripts/setup.sh does)")
    path = write_avatar_urdf(tmp_path / "avatar.urdf")
    result = subprocess.run(["check_urdf", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully Parsed XML" in result.stdout and "root Link: world" in result.stdout
    num_links = len(URDF.from_xml_string(path.read_text()).links)
    assert len(re.findall(r"child\(\d+\):", result.stdout)) == num_links - 1  # every other link hangs in the one tree


def test_links_carry_a_stick_figure():
    robot = URDF.from_xml_string(avatar_urdf())
    links = robot.link_map
    for joint in range(1, HUMANML3D.num_joints):
        name = HUMANML3D.joint_names[joint]
        cylinder = links[f"{name}_bone"].visual.geometry
        assert cylinder.length == pytest.approx(np.linalg.norm(rest_offsets(HUMANML3D)[joint]), abs=1e-6)
        assert links[name].visual.geometry.radius > cylinder.radius
    assert links["left_hip"].visual.material.name != links["right_hip"].visual.material.name


def test_prefix_goes_before_every_name():
    robot = URDF.from_xml_string(avatar_urdf(prefix="avatar1/"))
    assert all(joint.name.startswith("avatar1/") for joint in robot.joints)
    assert all(link.name.startswith("avatar1/") for link in robot.links)
    assert avatar_joint_names(prefix="avatar1/") == tuple("avatar1/" + n for n in avatar_joint_names())


def test_zero_angles_give_the_rest_pose_facing_ros_forward():
    values = {name: np.zeros(1) for name in avatar_joint_names()}
    rest = urdf_joint_positions(HUMANML3D, values)[0]  # (j 3)
    sk = HUMANML3D
    assert rest[sk.index("left_hip"), 1] > 0 > rest[sk.index("right_hip"), 1]  # left on ROS +Y
    assert rest[sk.index("head"), 2] > rest[sk.index("pelvis"), 2] > rest[sk.index("left_ankle"), 2]  # up is +Z
    assert rest[sk.index("left_foot"), 0] > rest[sk.index("left_ankle"), 0]  # toes forward (+X)


def test_write_avatar_urdf(tmp_path):
    path = write_avatar_urdf(tmp_path / "sub" / "avatar.urdf")
    assert path.read_text() == avatar_urdf()
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot write the avatar URDF"):
        write_avatar_urdf(tmp_path / "file" / "avatar.urdf")


# ---------------------------------------------------------------- joint angles


def test_fixture_is_reproduced_by_urdf_forward_kinematics():
    joints = fixture("new_joints_012314.npy").astype(np.float64)  # (t 22 3) dataset frame
    values = avatar_joint_angles(joints)
    error = np.linalg.norm(urdf_joint_positions(HUMANML3D, values) - positions_to_ros(joints), axis=-1)
    assert error.max() < ONE_CM
    assert error.max() < 1e-4  # the fixture has the reference bone lengths: only float error is left


def test_fixture_joint_values_change_smoothly():
    """A bone spinning about itself where the shortest arc flips, an Euler wrap or a branch change
    shows as a step near pi between frames; the fixture's real motion (a jump turn included) moves
    every joint by less than 1.2 rad per frame."""
    values = avatar_joint_angle_array(fixture("new_joints_012314.npy"))
    steps = np.abs(np.diff(values, axis=0))  # (t-1 n)
    assert steps.max() < np.pi / 2


def test_features_give_the_fixture_joints():
    features = fixture("new_joint_vecs_012314.npy")  # raw features (t 263)
    joints = fixture("new_joints_012314.npy").astype(np.float64)
    values = avatar_joint_angles_from_features(features)
    assert set(values) == set(avatar_joint_names())
    error = np.linalg.norm(urdf_joint_positions(HUMANML3D, values) - positions_to_ros(joints), axis=-1)
    assert error.max() < ONE_CM


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=lambda s: s.name)
def test_motion_from_forward_kinematics_is_reproduced(skeleton):
    joints = fk_motion(skeleton)
    values = avatar_joint_angles(joints, skeleton)
    expected = positions_to_ros(joints) * metres_per_unit(skeleton)
    error = np.linalg.norm(urdf_joint_positions(skeleton, values) - expected, axis=-1)
    assert error.max() < 1e-6


def test_other_bone_lengths_keep_bone_directions():
    """The URDF has the reference bone lengths: a longer-limbed motion comes back with its bones' directions."""
    joints = fk_motion(HUMANML3D)
    parents = list(HUMANML3D.parents[1:])
    longer = joints.copy()
    for child in range(1, HUMANML3D.num_joints):  # parents come first, so rebuilding in order scales every bone by 1.1
        longer[:, child] = longer[:, HUMANML3D.parents[child]] + 1.1 * (joints[:, child] - joints[:, HUMANML3D.parents[child]])
    posed = urdf_joint_positions(HUMANML3D, avatar_joint_angles(longer))
    bones_posed = posed[:, 1:] - posed[:, parents]
    bones_given = positions_to_ros(longer[:, 1:] - longer[:, parents])
    cosine = (bones_posed * bones_given).sum(-1) / np.linalg.norm(bones_posed, axis=-1) / np.linalg.norm(bones_given, axis=-1)
    assert cosine.min() > 1 - 1e-9
    np.testing.assert_allclose(posed[:, 0], positions_to_ros(longer[:, 0]), atol=1e-9)


def test_turning_the_person_changes_only_the_root():
    joints = fk_motion(HUMANML3D, num_frames=20)
    turn = Rotation.from_rotvec([0.0, 2.0, 0.0])  # 2 rad about dataset up
    turned = turn.apply(joints.reshape(-1, 3)).reshape(joints.shape) + np.array([3.0, 0.0, -1.0])
    before, after = avatar_joint_angles(joints), avatar_joint_angles(turned)
    for name in avatar_joint_names()[6:]:
        np.testing.assert_allclose(after[name], before[name], atol=1e-9, err_msg=name)
    np.testing.assert_allclose(np.cos(after["root_yaw"] - before["root_yaw"]), np.cos(2.0), atol=1e-9)
    np.testing.assert_allclose(after["root_z"], before["root_z"], atol=1e-12)


def test_root_follows_position_and_heading_without_wrapping():
    """Three full turns on the spot: root_yaw climbs to 6 pi instead of jumping back at pi."""
    pose = fk_motion(HUMANML3D)[0]  # (j 3)
    yaw = np.linspace(0.0, 6 * np.pi, 90)
    spun = np.stack([Rotation.from_rotvec([0.0, a, 0.0]).apply(pose - pose[0]) for a in yaw])  # (t j 3)
    values = avatar_joint_angle_array(spun)
    root_yaw = values[:, avatar_joint_names().index("root_yaw")]
    np.testing.assert_allclose(root_yaw - root_yaw[0], yaw, atol=1e-9)
    np.testing.assert_allclose(values[:, :3], 0.0, atol=1e-12)  # the root stays at the origin
    np.testing.assert_allclose(values[:, 6:], np.broadcast_to(values[:1, 6:], values[:, 6:].shape), atol=1e-9)  # same pose


def test_array_and_dict_agree_and_axis_orders_are_stated():
    joints = fk_motion(HUMANML3D, num_frames=5)
    array, by_name = avatar_joint_angle_array(joints), avatar_joint_angles(joints)
    assert array.shape == (5, len(avatar_joint_names()))
    for i, name in enumerate(avatar_joint_names()):
        np.testing.assert_array_equal(by_name[name], array[:, i])
    assert bone_axis_order(HUMANML3D, HUMANML3D.index("left_knee")) == "xzy"  # thigh hangs along -Z: twist in the middle
    assert avatar_joint_names()[6:9] == ("left_hip_x", "left_hip_y", "left_hip_z")


def test_single_frame_works():
    values = avatar_joint_angles(fk_motion(HUMANML3D)[:1])
    assert all(v.shape == (1,) for v in values.values())


@pytest.mark.parametrize(
    "joints, needle",
    [
        (np.zeros((10, 21, 3)), "expected (frames, 22, 3)"),
        (np.zeros((10, 66)), "expected (frames, 22, 3)"),
        (np.zeros((0, 22, 3)), "no frames"),
        (np.full((3, 22, 3), np.nan), "NaN"),
    ],
)
def test_bad_joints_raise_input_error(joints, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        avatar_joint_angles(joints)


def test_bad_features_raise_input_error():
    with pytest.raises(InputError):
        avatar_joint_angles_from_features(np.zeros((10, 100)))
