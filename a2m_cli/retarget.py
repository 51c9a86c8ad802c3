"""`a2m retarget`: a motion onto a humanoid robot's joints (URDF + keypoint map), within its limits."""

from __future__ import annotations

import argparse
from pathlib import Path

from a2m_cli.paths import check_distinct, output_path
from a2m_core.paths import CHECKOUT

DEFAULT_MAP = CHECKOUT / "config" / "retarget" / "unitree_g1.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retarget",
        help="retarget a motion onto a humanoid robot (URDF) within its joint limits",
        description="Scale the human to the robot by leg length, solve IK per frame with the URDF's position "
        "limits as hard bounds, pin planted feet, keep soles above the floor and retime to the velocity limits. "
        "Writes an .npz with joint_names, joint_positions_rad (frames, joints), root_positions_m, "
        "root_quaternions_wxyz (ROS frame, floor at z = 0), times_s, keypoint errors and best-effort flags.",
    )
    parser.add_argument("motion", type=Path, help="a .npy of joints (frames, 22, 3) or HumanML3D features (frames, 263)")
    parser.add_argument("--urdf", type=Path, required=True, help="the robot's URDF (meshes are not needed)")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP,
                        help=f"keypoint map YAML: human joints -> robot links (default: {DEFAULT_MAP.name}, the Unitree G1)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the robot trajectory (.npz)")
    parser.add_argument("--video", type=Path, help="also write the human and the robot side by side (.mp4 or .gif)")
    parser.set_defaults(func=_retarget)


def _retarget(args: argparse.Namespace) -> int:
    from a2m_core.motion.io import load_motion
    from a2m_core.motion.render import VIDEO_SUFFIXES
    from a2m_core.retarget.keypoint_map import load_keypoint_map
    from a2m_core.retarget.quality import measure
    from a2m_core.retarget.retarget import retarget
    from a2m_core.retarget.robot import RobotModel

    out = output_path(args.out, (".npz",), "--out")
    video = output_path(args.video, VIDEO_SUFFIXES, "--video") if args.video is not None else None
    check_distinct({"--out": out, "--video": video}, {"MOTION": args.motion, "--urdf": args.urdf, "--map": args.map})
    motion = load_motion(args.motion)
    robot = RobotModel(args.urdf)
    keypoint_map = load_keypoint_map(args.map, motion.skeleton)
    trajectory = retarget(motion, robot, keypoint_map, progress=True)
    trajectory.save(out)
    print(f"{out}: {trajectory.num_frames} frames, {robot.num_joints} joints, "
          f"{trajectory.times_s[-1]:.2f} s (motion {(motion.num_frames - 1) / motion.fps:.2f} s), "
          f"scale {trajectory.scale:.3f}")
    for line in measure(trajectory, robot, keypoint_map).lines():
        print(f"  {line}")
    if trajectory.best_effort.any():
        print(f"  warning: {int(trajectory.best_effort.sum())} frames are best effort: a keypoint is out of the "
              "robot's reach there (see best_effort in the .npz)")
    if video is not None:
        from a2m_core.retarget.render import render_side_by_side

        render_side_by_side(motion, trajectory, robot, keypoint_map, video)
        print(f"{video}: human and robot side by side")
    return 0
