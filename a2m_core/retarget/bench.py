"""Retargeting speed in frames per second per CPU core (a benchmark, not a test).

    python -m a2m_core.retarget.bench --urdf ROBOT.urdf [--map MAP.yaml] [MOTION.npy ...]

Per core = frames / CPU seconds of this process (all its threads counted), so a multi-threaded
BLAS cannot flatter the figure. Without motions it times the built-in example (walk, then wave).
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


def main(argv: list[str] | None = None) -> int:
    from a2m_core.motion.example import example_motion
    from a2m_core.motion.io import load_motion

    parser = argparse.ArgumentParser(prog="python -m a2m_core.retarget.bench", description=__doc__.splitlines()[0])
    parser.add_argument("motions", nargs="*", type=Path, help="joints or features .npy files (default: the example)")
    parser.add_argument("--urdf", type=Path, required=True, help="the robot's URDF")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP, help="keypoint map YAML (default: the G1's)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the motions")
    args = parser.parse_args(argv)
    motions = [load_motion(p) for p in args.motions] or [example_motion()]
    result = benchmark(motions, args.urdf, args.map, args.repeats)
    print(f"{result.num_frames} frames: {result.fps_per_core:.0f} frames/s per CPU core "
          f"({result.cpu_s:.2f} CPU s), {result.fps_wall:.0f} frames/s wall clock")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
