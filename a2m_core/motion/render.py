"""Render a motion to mp4 or gif: 3D skeleton, ground grid, root trajectory trace, title.

The camera follows the root so long walks stay in view; the ground grid is fixed in the
world, so the body's travel shows against it. Frames are drawn with matplotlib (Agg) and
encoded by ffmpeg (mp4) or Pillow (gif).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.files import atomic_path
from a2m_core.motion.frames import metres_per_unit, positions_to_ros
from a2m_core.motion.motion import Motion

SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#444444"}
VIDEO_SUFFIXES = (".mp4", ".gif")


def _chain_side(skeleton, chain: tuple[int, ...]) -> str:
    names = " ".join(skeleton.joint_names[j] for j in chain[1:])
    return "left" if "left" in names else "right" if "right" in names else "centre"


def video_writer(out_path: Path, fps: float):
    """A matplotlib writer for .mp4 (ffmpeg) or .gif (Pillow), or an InputError saying what to do."""
    from matplotlib import animation

    suffix = out_path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise InputError(f"{out_path}: unknown video type {suffix!r}; use .mp4 or .gif")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise InputError("ffmpeg is not installed: run `make setup` (or apt-get install ffmpeg), or write a .gif")
    if suffix == ".mp4":
        return animation.FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    return animation.PillowWriter(fps=fps)


def write_frames(fig, writer, out_path: Path, num_frames: int, draw: Callable[[int], None], progress: bool,
                 dpi: int = 100) -> Path:
    """Encode `num_frames` frames of `fig`, each posed by `draw(t)`, into out_path, whole or not at all.

    The video is written under a temporary name and renamed when complete. On any error, Ctrl-C
    or SIGTERM the encoder is stopped and the temporary file deleted, and the exception that
    interrupted the work (not the encoder's complaint about it) goes on up.
    """
    from tqdm import tqdm

    with atomic_path(out_path) as tmp:
        writer.setup(fig, str(tmp), dpi=dpi)
        try:
            for t in tqdm(range(num_frames), desc=f"rendering {out_path.name}", unit="frame", disable=not progress,
                          leave=False):
                draw(t)
                writer.grab_frame()
        except BaseException:
            encoder = getattr(writer, "_proc", None)  # ffmpeg; it may have died of the same Ctrl-C
            if encoder is not None:
                encoder.kill()
            with contextlib.suppress(Exception):
                writer.finish()
            raise
        writer.finish()
    return out_path


def draw_floor_grid(ax, xy: np.ndarray, margin_m: float, step_m: float = 0.5) -> None:
    """Grey grid at z = 0 covering the points xy (n 2) plus a margin, fixed in the world."""
    lo = np.floor((xy.min(axis=0) - margin_m) / step_m) * step_m
    hi = np.ceil((xy.max(axis=0) + margin_m) / step_m) * step_m
    for x in np.arange(lo[0], hi[0] + step_m / 2, step_m):
        ax.plot([x, x], [lo[1], hi[1]], [0, 0], color="#cccccc", linewidth=0.6)
    for y in np.arange(lo[1], hi[1] + step_m / 2, step_m):
        ax.plot([lo[0], hi[0]], [y, y], [0, 0], color="#cccccc", linewidth=0.6)


def skeleton_lines(ax, skeleton) -> list:
    """One line per kinematic chain, coloured by body side: [(chain, line)]; pose them with `pose_skeleton`."""
    return [
        (chain, ax.plot([], [], [], color=SIDE_COLOURS[_chain_side(skeleton, chain)], linewidth=3,
                        marker="o", markersize=2.5)[0])
        for chain in skeleton.chains
    ]


def pose_skeleton(lines: list, points: np.ndarray) -> None:
    """Move `skeleton_lines` to joint positions (j 3)."""
    for chain, line in lines:
        p = points[list(chain)]
        line.set_data_3d(p[:, 0], p[:, 1], p[:, 2])


def render_motion(
    motion: Motion,
    out_path: str | Path,
    title: str = "",
    progress: bool = True,
    size_px: int = 480,
    view_radius_m: float = 1.2,
) -> Path:
    """Write `motion` as a video (.mp4 or .gif by suffix) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_path = Path(out_path)
    writer = video_writer(out_path, motion.fps)

    # drawn in the ROS frame (x forward, y left, z up, metres): a proper rotation, so left stays left
    pts = positions_to_ros(motion.joints.astype(np.float64)) * metres_per_unit(motion.skeleton)  # (t j 3)
    pts[..., 2] -= pts[..., 2].min()
    root_xy = pts[:, 0, :2]  # (t 2)

    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    ax.view_init(elev=18, azim=35)  # from the front left of a person facing +x
    z_top_m = 2.0
    ax.set_box_aspect((2 * view_radius_m, 2 * view_radius_m, z_top_m), zoom=1.3)
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 0.93)
    if title:
        fig.suptitle(title, fontsize=10)
    caption = fig.text(0.02, 0.02, "", fontsize=8, color="#555555")

    draw_floor_grid(ax, root_xy, view_radius_m * 2)  # fixed in the world, covering the whole trajectory
    (trace,) = ax.plot([], [], [], color="#2ca02c", linewidth=1.5)
    bones = skeleton_lines(ax, motion.skeleton)

    def draw(t: int) -> None:
        cx, cy = root_xy[t]
        ax.set_xlim(cx - view_radius_m, cx + view_radius_m)
        ax.set_ylim(cy - view_radius_m, cy + view_radius_m)
        ax.set_zlim(0, z_top_m)
        trace.set_data_3d(root_xy[: t + 1, 0], root_xy[: t + 1, 1], np.zeros(t + 1))
        pose_skeleton(bones, pts[t])
        caption.set_text(f"frame {t + 1}/{motion.num_frames}  {t / motion.fps:5.2f} s")

    try:
        write_frames(fig, writer, out_path, motion.num_frames, draw, progress, dpi)
    finally:
        plt.close(fig)
    return out_path
