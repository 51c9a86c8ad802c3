"""`a2m demo`: the main job of `make run`.

Until a trained default model ships, the demo renders the built-in example motion
(walk forward, then wave with the right hand) to a video and exports it as joints and BVH.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    from a2m_core.motion.example import example_motion
    from a2m_core.motion.render import render_motion

    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    motion = example_motion()
    np.save(out_dir / "example_joints.npy", motion.joints)
    video = render_motion(motion, out_dir / f"example.{args.format}", title="example: walk forward, then wave")
    print(f"video:  {video}")
    print(f"joints: {out_dir / 'example_joints.npy'} {motion.joints.shape}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="render the example motion to a video (what `make run` does)",
        description="Render the built-in example motion to a video and save its joints.",
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    parser.add_argument("--format", choices=("mp4", "gif"), default="mp4", help="video format (default: mp4)")
    parser.set_defaults(func=_demo)
