"""Side-by-side video: the human skeleton on the left, the robot on the right, to judge a retargeting.

The robot panel draws every joint origin linked to its parent joint (the robot's skeleton), an
RGB axis triad (x red, y green, z blue) at each mapped link's frame, and the keypoint targets
(grey dots) the solver aimed for. Frames are shown one per motion frame; where velocity limits
stretched the robot's timing, the caption says how far the robot is behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from a2m_core.motion.motion import Motion
from a2m_core.motion.render import (
    SIDE_COLOURS,
    draw_floor_grid,
    pose_skeleton,
    skeleton_lines,
    video_writer,
    write_frames,
)
from a2m_core.retarget.keypoint_map import KeypointMap
from a2m_core.retarget.robot import RobotModel
from a2m_core.retarget.robot_trajectory import RobotTrajectory
from a2m_core.retarget.scaling import motion_in_ros_metres

_TRIAD_M = 0.06
_TRIAD_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")


def _side_colour(joint_name: str) -> str:
    """The human panel's colours: left blue, right red, the rest dark grey."""
    return SIDE_COLOURS["left" if "left" in joint_name else "right" if "right" in joint_name else "centre"]


def _panel(fig, position: int, title: str, xy: np.ndarray, radius_m: float):
    ax = fig.add_subplot(1, 2, position, projection="3d")
    ax.view_init(elev=15, azim=35)
    ax.set_box_aspect((2 * radius_m, 2 * radius_m, 2 * radius_m), zoom=1.2)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    draw_floor_grid(ax, xy, radius_m * 2)
    return ax


def _follow(ax, centre_xy: np.ndarray, radius_m: float) -> None:
    ax.set_xlim(centre_xy[0] - radius_m, centre_xy[0] + radius_m)
    ax.set_ylim(centre_xy[1] - radius_m, centre_xy[1] + radius_m)
    ax.set_zlim(0, 2 * radius_m)


def render_side_by_side(motion: Motion, trajectory: RobotTrajectory, robot: RobotModel, keypoint_map: KeypointMap,
                        out_path: str | Path, progress: bool = True, size_px: int = 480) -> Path:
    """Write the human and the retargeted robot side by side as .mp4 or .gif; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from a2m_core.retarget.retarget import keypoint_frames

    out_path = Path(out_path)
    writer = video_writer(out_path, motion.fps)
    index = {n: i for i, n in enumerate(motion.skeleton.joint_names)}
    human = motion_in_ros_metres(motion, [index[j] for foot in keypoint_map.feet for j in foot.human_joints])
    links = sorted({k.link for k in keypoint_map.keypoints})
    link_frames = [robot.point_frame(link, (0.0, 0.0, 0.0)) for link in links]
    keypoint_frames(robot, keypoint_map)  # the model's frames must exist before FK below reads them

    dpi = 100
    fig = plt.figure(figsize=(2 * size_px / dpi, size_px / dpi), dpi=dpi)
    fig.subplots_adjust(0, 0.05, 1, 0.95)
    human_radius = 1.0
    robot_radius = human_radius * trajectory.scale
    ax_h = _panel(fig, 1, f"human ({motion.skeleton.name})", human[:, 0, :2], human_radius)
    ax_r = _panel(fig, 2, f"robot ({keypoint_map.robot}, scale {trajectory.scale:.2f})",
                  trajectory.root_positions_m[:, :2], robot_radius)
    bones = skeleton_lines(ax_h, motion.skeleton)
    (targets,) = ax_r.plot([], [], [], linestyle="", marker="o", markersize=3, color="#888888")
    triads = [[ax_r.plot([], [], [], color=c, linewidth=1.5)[0] for c in _TRIAD_COLOURS] for _ in links]
    caption = fig.text(0.02, 0.02, "", fontsize=8, color="#555555")
    robot_links = []  # drawn once the first pose gives the robot's tree

    def draw(t: int) -> None:
        pose_skeleton(bones, human[t])
        _follow(ax_h, human[t, 0, :2], human_radius)
        q = robot.configuration(trajectory.root_positions_m[t], trajectory.root_quaternions_wxyz[t],
                                trajectory.joint_positions_rad[t])
        points, parents = robot.joint_positions_world(q)  # (n+1 3), the model's frames updated below
        if not robot_links:
            robot_links.extend(ax_r.plot([], [], [], color=_side_colour(robot.model.names[c + 1]), linewidth=2.5,
                                     marker="o", markersize=2)[0] for c, p in enumerate(parents) if p >= 0)
        for line, (child, parent) in zip(robot_links, [(c, p) for c, p in enumerate(parents) if p >= 0]):
            line.set_data_3d(*points[[parent, child]].T)
        robot.frame_positions(q, [])  # updates every frame placement
        for lines, frame in zip(triads, link_frames):
            placement = robot.data.oMf[frame]
            for axis, line in enumerate(lines):
                end = placement.translation + _TRIAD_M * placement.rotation[:, axis]
                line.set_data_3d(*np.stack([placement.translation, end]).T)
        targets.set_data_3d(*trajectory.keypoint_targets_m[t].T)
        _follow(ax_r, trajectory.root_positions_m[t, :2], robot_radius)
        lag = max(0.0, trajectory.times_s[t] - t / motion.fps)
        flag = "  BEST EFFORT (a keypoint out of reach)" if trajectory.best_effort[t] else ""
        caption.set_text(f"frame {t + 1}/{motion.num_frames}  {t / motion.fps:5.2f} s"
                         f"  robot time {trajectory.times_s[t]:5.2f} s (+{lag:.2f}){flag}")

    try:
        write_frames(fig, writer, out_path, motion.num_frames, draw, progress, dpi)
    finally:
        plt.close(fig)
    return out_path
