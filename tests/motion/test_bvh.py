"""BVH export: the file is well formed, and reading it back with an independent BVH parser
(the `bvh` package from PyPI) plus this file's own forward kinematics (scipy Euler angles,
no a2m kinematics) reproduces the joint positions within 1 mm."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a2m_core.errors import InputError
from a2m_core.motion.bvh import motion_to_bvh, write_bvh
from a2m_core.motion.skeleton import HUMANML3D, KIT, Skeleton

bvh = pytest.importorskip("bvh", reason="the independent BVH reader is the dev extra's `bvh` package: pip install bvh")

FIXTURE = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "humanml3d" / "new_joints_012314.npy"
TOLERANCE_M = 1e-3
METRES_PER_FILE_UNIT = {"cm": 0.01, "m": 1.0}
DATASET_METRES_PER_UNIT = {HUMANML3D.name: 1.0, KIT.name: 0.001}  # KIT-ML joint positions are millimetres


@dataclass
class ParsedBvh:
    names: list[str]  # joints in file order
    parents: list[int]  # index into names, -1 for the root
    offsets: np.ndarray  # (j 3) in file units
    channels: list[list[str]]
    frames: np.ndarray  # (t c) all channel values
    frame_time: float


def parse(text: str) -> ParsedBvh:
    """Read a BVH file with the `bvh` package."""
    mocap = bvh.Bvh(text)
    names = mocap.get_joints_names()
    return ParsedBvh(
        names=names,
        parents=[mocap.joint_parent_index(name) for name in names],
        offsets=np.array([mocap.joint_offset(name) for name in names]),
        channels=[mocap.joint_channels(name) for name in names],
        frames=np.array(mocap.frames, dtype=np.float64).reshape(mocap.nframes, -1),
        frame_time=mocap.frame_time,
    )


def forward_kinematics(parsed: ParsedBvh) -> np.ndarray:
    """World joint positions (t j 3), in file units, by the BVH definition.

    A joint's channels, in the order listed, compose its local transform: positions translate,
    each rotation channel multiplies on the right (intrinsic order), angles in degrees.
    """
    num_frames = len(parsed.frames)
    positions = np.zeros((num_frames, len(parsed.names), 3))
    world: list[Rotation] = []
    column = 0
    for joint, (parent, channels) in enumerate(zip(parsed.parents, parsed.channels)):
        values = parsed.frames[:, column : column + len(channels)]  # (t c)
        column += len(channels)
        translation = np.zeros((num_frames, 3))
        axes, angles = "", []
        for name, value in zip(channels, values.T):
            if name.endswith("position"):
                translation[:, "XYZ".index(name[0])] = value
            else:
                axes += name[0]
                angles.append(value)
        local = Rotation.from_euler(axes, np.stack(angles, axis=-1), degrees=True)
        if parent < 0:
            positions[:, joint] = parsed.offsets[joint] + translation
            world.append(local)
        else:
            positions[:, joint] = positions[:, parent] + world[parent].apply(parsed.offsets[joint]) + translation
            world.append(world[parent] * local)
    return positions


def round_trip(joints: np.ndarray, skeleton: Skeleton, fps: float, units: str = "cm") -> tuple[np.ndarray, ParsedBvh]:
    """Export, parse, forward kinematics: (t j 3) metres per joint, the joints' and the file's."""
    parsed = parse(motion_to_bvh(joints, skeleton, fps, units=units))
    assert sorted(parsed.names) == sorted(skeleton.joint_names)
    back = forward_kinematics(parsed) * METRES_PER_FILE_UNIT[units]  # (t j 3), file order
    back = back[:, [parsed.names.index(name) for name in skeleton.joint_names]]
    return np.linalg.norm(back - joints * DATASET_METRES_PER_UNIT[skeleton.name], axis=-1), parsed


def assert_within_1mm(error_m: np.ndarray, skeleton: Skeleton) -> None:
    worst = skeleton.joint_names[error_m.max(0).argmax()]
    assert error_m.max() < TOLERANCE_M, f"max error {error_m.max() * 1000:.4f} mm at joint {worst}"


def rigid_kit_motion(num_frames: int = 150) -> np.ndarray:
    """A KIT-skeleton motion built here from a rigid body and smooth rotations (t 21 3), in KIT-ML's millimetres.

    The body is rigid (the hips sit below and behind the root, the shoulders below the neck),
    the root walks and turns through a full circle, and every joint swings by up to ~100
    degrees, so the export passes through Euler gimbal-lock angles.
    """
    rng = np.random.default_rng(7)
    raw = KIT.raw_offsets_np
    offsets = raw * rng.uniform(0.05, 0.4, size=(KIT.num_joints, 1))  # (j 3)
    for hip in (KIT.index("right_hip"), KIT.index("left_hip")):
        offsets[hip] += [0.0, -0.07, -0.02]
    for shoulder in (KIT.index("right_shoulder"), KIT.index("left_shoulder")):
        offsets[shoulder] += [0.0, -0.04, 0.01]
    time = np.linspace(0.0, 1.0, num_frames)[:, None]  # (t 1)
    frequencies = rng.uniform(0.5, 3.0, size=(1, KIT.num_joints * 3))
    phases = rng.uniform(0.0, 2 * np.pi, size=(1, KIT.num_joints * 3))
    rotvecs = 1.0 * np.sin(2 * np.pi * frequencies * time + phases).reshape(num_frames, KIT.num_joints, 3)
    rotvecs[:, 0] = [0.0, 1.0, 0.0] * (2 * np.pi * time)  # the root turns a full circle about Y
    joints = np.zeros((num_frames, KIT.num_joints, 3))
    joints[:, 0] = np.concatenate([np.sin(3 * time), 0.9 + 0.05 * np.cos(7 * time), 2 * time], axis=1)
    world = [Rotation.from_rotvec(rotvecs[:, 0])]
    for joint in range(1, KIT.num_joints):
        parent = KIT.parents[joint]
        joints[:, joint] = joints[:, parent] + world[parent].apply(offsets[joint])
        world.append(world[parent] * Rotation.from_rotvec(rotvecs[:, joint]))
    return joints * 1000.0


def fixture_joints() -> np.ndarray:
    if not FIXTURE.is_file():
        pytest.skip(f"HumanML3D fixture absent: {FIXTURE} (it lives in ../shared beside the checkout)")
    return np.load(FIXTURE)


def test_humanml3d_fixture_round_trips_within_1mm():
    joints = fixture_joints()  # (170 22 3)
    error_m, parsed = round_trip(joints, HUMANML3D, fps=20.0)
    assert_within_1mm(error_m, HUMANML3D)
    assert parsed.frames.shape == (170, 6 + 3 * 21)
    assert parsed.frame_time == pytest.approx(0.05)


@pytest.mark.parametrize("units", ["cm", "m"])
def test_kit_motion_round_trips_within_1mm(units):
    joints = rigid_kit_motion()
    error_m, parsed = round_trip(joints, KIT, fps=KIT.fps, units=units)
    assert_within_1mm(error_m, KIT)
    first_bone_m = np.linalg.norm(joints[0, KIT.index("torso")] - joints[0, 0]) / 1000.0
    offset_m = np.linalg.norm(parsed.offsets[parsed.names.index("torso")]) * METRES_PER_FILE_UNIT[units]
    assert offset_m == pytest.approx(first_bone_m, abs=1e-7)


def test_offsets_have_first_frame_bone_lengths_and_single_child_bones_rest_directions():
    joints = rigid_kit_motion(5)
    parsed = parse(motion_to_bvh(joints, KIT, fps=12.5, units="m"))
    for joint in range(1, KIT.num_joints):
        parent = KIT.parents[joint]
        offset = parsed.offsets[parsed.names.index(KIT.joint_names[joint])]
        bone_m = np.linalg.norm(joints[0, joint] - joints[0, parent]) / 1000.0
        assert np.linalg.norm(offset) == pytest.approx(bone_m, abs=1e-6)
        if KIT.parents.count(parent) == 1:
            direction = offset / np.linalg.norm(offset)
            np.testing.assert_allclose(direction, KIT.raw_offsets_np[joint], atol=1e-6)


def test_single_frame_motion_exports():
    error_m, parsed = round_trip(rigid_kit_motion(1), KIT, fps=30.0)
    assert len(parsed.frames) == 1
    assert_within_1mm(error_m, KIT)


def test_file_is_well_formed_bvh():
    """The layout Blender's importer and other strict readers expect, checked line by line."""
    text = motion_to_bvh(rigid_kit_motion(12), KIT, fps=12.5)
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0] == "HIERARCHY" and lines[1] == f"ROOT {KIT.joint_names[0]}"
    motion_at = lines.index("MOTION")
    hierarchy, motion = [line.strip() for line in lines[1:motion_at]], lines[motion_at + 1 :]
    assert hierarchy.count("{") == hierarchy.count("}")
    channel_lines = [line.split() for line in hierarchy if line.startswith("CHANNELS")]
    joint_lines = [line for line in hierarchy if line.startswith(("ROOT", "JOINT"))]
    assert len(channel_lines) == len(joint_lines) == KIT.num_joints
    assert channel_lines[0][1] == "6" and channel_lines[0][2:5] == ["Xposition", "Yposition", "Zposition"]
    assert all(line[1] == "3" and all(c.endswith("rotation") for c in line[2:]) for line in channel_lines[1:])
    assert all(int(line[1]) == len(line) - 2 for line in channel_lines)
    leaves = [j for j in range(KIT.num_joints) if j not in KIT.parents]
    assert hierarchy.count("End Site") == len(leaves)
    assert all(re.fullmatch(r"OFFSET( -?\d+\.\d+){3}", line) for line in hierarchy if line.startswith("OFFSET"))
    assert motion[0] == "Frames: 12"
    assert motion[1] == "Frame Time: 0.08000000"
    num_channels = sum(int(line[1]) for line in channel_lines)
    assert len(motion) == 2 + 12
    assert all(len(line.split()) == num_channels for line in motion[2:])


def rotation_channels(parsed: ParsedBvh, joint: str | None = None) -> np.ndarray:
    """Frames (t k) of the rotation channels of one joint, or of every joint."""
    columns, column = [], 0
    for name, channels in zip(parsed.names, parsed.channels):
        columns += [column + i for i, c in enumerate(channels) if c.endswith("rotation") and joint in (None, name)]
        column += len(channels)
    return parsed.frames[:, columns]


def test_turning_a_full_circle_gives_a_continuous_yaw_curve():
    parsed = parse(motion_to_bvh(rigid_kit_motion(), KIT, fps=12.5))
    yaw = rotation_channels(parsed, KIT.joint_names[0])[:, parsed.channels[0][3:].index("Yrotation")]  # (t)
    assert np.all(np.diff(yaw) > 0)
    assert yaw[-1] - yaw[0] == pytest.approx(360.0, abs=5.0)


def test_angle_curves_of_real_motion_have_no_jumps():
    """A wrap at +-180, a flip to the other equivalent angle triple, or a joint spinning about
    its bone where the shortest arc flips, all show as a step of 180-360 degrees between frames."""
    parsed = parse(motion_to_bvh(fixture_joints(), HUMANML3D, fps=20.0))
    steps = np.abs(np.diff(rotation_channels(parsed), axis=0))  # (t-1 k)
    assert steps.max() < 120.0  # steps above the joints' real speed are Euler gimbal-lock passages (up to ~95 here)


def test_write_bvh_writes_the_same_text(tmp_path):
    joints = rigid_kit_motion(8)
    path = write_bvh(tmp_path / "clip.bvh", joints, KIT, fps=12.5)
    assert path.read_text() == motion_to_bvh(joints, KIT, fps=12.5)


BLENDER_IMPORT = """
import builtins, json, sys
import bpy

_open = builtins.open
def _open_text(file, mode="r", *args, **kwargs):  # Debian's Blender 3.4 importer still opens with Python 2's "rU"
    return _open(file, mode.replace("U", ""), *args, **kwargs)
builtins.open = _open_text

bvh_path, json_path = sys.argv[sys.argv.index("--") + 1 :]
bpy.ops.object.select_all(action="SELECT")
bpy.ops.object.delete()
bpy.ops.import_anim.bvh(filepath=bvh_path, global_scale=0.01)  # the documented Scale for files in cm
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
action = armature.animation_data.action
first, last = (int(f) for f in action.frame_range)
positions = []
for frame in range(first, last + 1):
    bpy.context.scene.frame_set(frame)
    positions.append({bone.name: list(armature.matrix_world @ bone.head) for bone in armature.pose.bones})
json.dump(positions, open(json_path, "w"))
"""


@pytest.mark.slow  # starts Blender: ~2-3 s per clip
@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT])
def test_blender_imports_the_file_with_the_same_joint_positions(skeleton, tmp_path):
    """Blender's own BVH importer (default axes: file Y up becomes Blender Z up), run headless."""
    blender = shutil.which("blender")
    if blender is None:
        pytest.skip("Blender is not installed (apt-get install blender): the import check needs its BVH importer")
    joints = fixture_joints() if skeleton is HUMANML3D else rigid_kit_motion(40)
    write_bvh(tmp_path / "clip.bvh", joints, skeleton, fps=skeleton.fps)
    script = tmp_path / "import_bvh.py"
    script.write_text(BLENDER_IMPORT)
    command = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script), "--"]
    subprocess.run(command + [str(tmp_path / "clip.bvh"), str(tmp_path / "positions.json")], check=True,
                   capture_output=True, timeout=120)
    frames = json.loads((tmp_path / "positions.json").read_text())
    blender_xyz = np.array([[frame[name] for name in skeleton.joint_names] for frame in frames])  # (t j 3)
    back_m = np.stack([blender_xyz[..., 0], blender_xyz[..., 2], -blender_xyz[..., 1]], axis=-1)  # Blender (x, -z, y)
    assert back_m.shape == joints.shape
    assert_within_1mm(np.linalg.norm(back_m - joints * DATASET_METRES_PER_UNIT[skeleton.name], axis=-1), skeleton)


@pytest.mark.parametrize(
    "joints, needle",
    [
        (np.zeros((10, 22, 3)), "(frames, 21, 3)"),  # HumanML3D joints handed to the KIT skeleton
        (np.zeros((10, 21)), "got shape (10, 21)"),
        (np.zeros((0, 21, 3)), "0 frames"),
        (np.full((4, 21, 3), np.nan), "NaN"),
        (np.zeros((3, 21, 3)), "coincide"),  # every joint at one point: no bone has a direction
        ([["a"]], "not numeric"),
    ],
)
def test_bad_joints_raise_input_error(joints, needle):
    with pytest.raises(InputError, match=re.escape(needle)):
        motion_to_bvh(joints, KIT, fps=12.5)


@pytest.mark.parametrize("fps", [0.0, -20.0, float("nan"), "fast"])
def test_bad_frame_rate_raises_input_error(fps):
    with pytest.raises(InputError, match="frame"):
        motion_to_bvh(rigid_kit_motion(3), KIT, fps=fps)


def test_bad_units_raise_input_error():
    with pytest.raises(InputError, match="units"):
        motion_to_bvh(rigid_kit_motion(3), KIT, fps=12.5, units="inch")


def test_bad_input_leaves_no_file(tmp_path):
    path = tmp_path / "clip.bvh"
    with pytest.raises(InputError):
        write_bvh(path, np.full((4, 21, 3), np.nan), KIT, fps=12.5)
    assert not path.exists()
