"""Retargeting speed in frames per second per CPU core, and quality over many clips (a benchmark, not a test).

    python -m a2m_core.retarget.speed_bench --urdf ROBOT.urdf [--map MAP.yaml] [--quality] [MOTION.npy ...]

Per core = frames / CPU seconds of this process (all its threads counted), so a multi-threaded
BLAS cannot flatter the figure. Without motions it times the built-in example (walk, then wave).
--quality also prints keypoint errors, limit violations and foot sliding over all the clips
(e.g. a corpus's test split: `$(sed 's#.*#CORPUS/new_joints/&.npy#' CORPUS/test.txt)`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from a2m_core.motion.motion import Motion

DEFAULT_MAP = Path(__file__).resolve().parents[2] / "config" / "retarget" / "unitree_g1.yaml"


@dataclass(frozen=True)
class BenchResult:
    """Frames retargeted and the time they took."""

    num_frames: int
    cpu_s: float
    wall_s: float

    @property
    def fps_per_core(self) -> float:
        return self.num_frames / self.cpu_s

    @property
    def fps_wall(self) -> float:
        return self.num_frames / self.wall_s


def benchmark(motions: list[Motion], urdf: str | Path, keypoint_map_path: str | Path = DEFAULT_MAP,
              repeats: int = 3) -> BenchResult:
    """Retarget every motion `repeats` times (after one warm-up run) and time the whole of it."""
    from a2m_core.retarget.keypoint_map import load_keypoint_map
    from a2m_core.retarget.retarget import retarget
    from a2m_core.retarget.robot import RobotModel

    robot = RobotModel(urdf)
    maps = [load_keypoint_map(keypoint_map_path, m.skeleton) for m in motions]
    retarget(motions[0], robot, maps[0])  # warm-up: frame creation, first imports
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        for motion, keypoint_map in zip(motions, maps):
            retarget(motion, robot, keypoint_map)
    return BenchResult(num_frames=repeats * sum(m.num_frames for m in motions),
                       cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0)


def quality_lines(motions: list[Motion], names: list[str], urdf: str | Path,
                  keypoint_map_path: str | Path = DEFAULT_MAP) -> list[str]:
    """Keypoint errors over every frame of every clip, and the worst limit violation, sliding and floor contact."""
    import numpy as np

    from a2m_core.retarget.keypoint_map import load_keypoint_map
    from a2m_core.retarget.quality import measure
    from a2m_core.retarget.retarget import retarget
    from a2m_core.retarget.robot import RobotModel

    robot = RobotModel(urdf)
    errors, qualities, flagged = [], [], []
    for motion, name in zip(motions, names):
        keypoint_map = load_keypoint_map(keypoint_map_path, motion.skeleton)
        trajectory = retarget(motion, robot, keypoint_map)
        errors.append(trajectory.keypoint_errors_m)
        qualities.append(measure(trajectory, robot, keypoint_map))
        if trajectory.best_effort.any():
            flagged.append(f"{name} ({int(trajectory.best_effort.sum())}/{trajectory.num_frames})")
    per_keypoint = np.concatenate(errors).mean(axis=0) * 100  # (k) cm
    return [
        f"{len(motions)} clips, {sum(len(e) for e in errors)} frames: keypoint error {per_keypoint.mean():.2f} cm mean; "
        + ", ".join(f"{n} {e:.1f}" for n, e in zip(keypoint_map.keypoint_names, per_keypoint)),
        f"worst position limit violation {max(q.position_limit_violation_rad for q in qualities):.3g} rad, "
        f"velocity {max(q.velocity_limit_violation_rad_s for q in qualities):.3g} rad/s; "
        f"planted-foot sliding max {max(q.max_sliding_m_s for q in qualities) * 100:.2f} cm/s; "
        f"lowest sole point {min(q.min_sole_height_m for q in qualities) * 1000:.1f} mm",
        f"clips with best-effort frames: {', '.join(flagged) or 'none'}",
    ]


def main(argv: list[str] | None = None) -> int:
    from a2m_core.motion.example import example_motion
    from a2m_core.motion.io import load_motion

    parser = argparse.ArgumentParser(prog="python -m a2m_core.retarget.speed_bench", description=__doc__.splitlines()[0])
    parser.add_argument("motions", nargs="*", type=Path, help="joints or features .npy files (default: the example)")
    parser.add_argument("--urdf", type=Path, required=True, help="the robot's URDF")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP, help="keypoint map YAML (default: the G1's)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the motions")
    parser.add_argument("--quality", action="store_true", help="also report keypoint errors, limits and sliding")
    args = parser.parse_args(argv)
    motions = [load_motion(p) for p in args.motions] or [example_motion()]
    result = benchmark(motions, args.urdf, args.map, args.repeats)
    print(f"{result.num_frames} frames: {result.fps_per_core:.0f} frames/s per CPU core "
          f"({result.cpu_s:.2f} CPU s), {result.fps_wall:.0f} frames/s wall clock")
    if args.quality:
        names = [p.stem for p in args.motions] or ["example"]
        print("\n".join(quality_lines(motions, names, args.urdf, args.map)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
