"""`a2m motion ...`: decode, encode, render, bvh, urdf on files a user has."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from a2m_cli.paths import check_distinct, output_path
from a2m_core.errors import InputError

DEFAULT_MAX_FRAMES = 2400  # `motion render`: 2 minutes at 20 fps, rendering takes about half a minute per 1000 frames

INPUT_HELP = (
    "a .npy of HumanML3D (frames, 263) or KIT-ML (frames, 251) features, raw or normalised "
    "(then give --mean and --std), or joint positions (frames, 22 or 21, 3)"
)


def _add_input_args(parser: argparse.ArgumentParser, what: str = INPUT_HELP) -> None:
    parser.add_argument("input", type=Path, help=what)
    parser.add_argument("--dataset", choices=("humanml3d", "kit"), help="check the input belongs to this dataset")
    parser.add_argument("--mean", type=Path, help="the dataset's Mean.npy: the features are normalised")
    parser.add_argument("--std", type=Path, help="the dataset's Std.npy: the features are normalised")


def _output(args: argparse.Namespace, suffixes: tuple[str, ...]) -> Path:
    """--out checked (suffix, folder, writable) and distinct from every input file, before any work."""
    out = output_path(args.out, suffixes)
    check_distinct({"--out": out}, {"INPUT": getattr(args, "input", None), "--mean": getattr(args, "mean", None),
                                    "--std": getattr(args, "std", None)})
    return out


def _load(args: argparse.Namespace):
    from a2m_core.motion.io import load_motion

    return load_motion(args.input, dataset=args.dataset, mean_path=args.mean, std_path=args.std)


def _decode(args: argparse.Namespace) -> int:
    from a2m_core.files import save_npy

    out = _output(args, (".npy",))
    motion = _load(args)
    if motion.features is None:
        raise InputError(f"{args.input}: holds joints already; decode takes features (frames, 263 or 251)")
    save_npy(out, motion.joints)
    print(f"{out}: joints {motion.joints.shape} ({motion.skeleton.name}, {motion.duration_s:.2f} s)")
    return 0


def _encode(args: argparse.Namespace) -> int:
    from a2m_core.files import save_npy
    from a2m_core.motion.features import Normalizer, codec_for
    from a2m_core.motion.frames import check_within_reach
    from a2m_core.motion.io import load_array, skeleton_for_joints

    out = _output(args, (".npy",))
    joints = load_array(args.input, "joints")
    skeleton = skeleton_for_joints(joints.shape)
    if skeleton is None:
        raise InputError(f"{args.input}: shape {joints.shape}; expected joints (frames, 22, 3) or (frames, 21, 3)")
    check_within_reach(joints, skeleton, str(args.input))
    if (args.mean is None) != (args.std is None):
        raise InputError("give both --mean and --std to write normalised features, or neither")
    try:
        features = codec_for(skeleton.name).encode(joints)
    except InputError as exc:
        raise InputError(f"{args.input}: {exc}") from None
    if args.mean is not None:
        features = Normalizer.from_files(args.mean, args.std).normalize(features)
    save_npy(out, features.astype(np.float32))
    print(f"{out}: features {features.shape} ({skeleton.name}{', normalised' if args.mean else ''})")
    return 0


def _render(args: argparse.Namespace) -> int:
    from a2m_core.motion.render import VIDEO_SUFFIXES, render_motion

    out = _output(args, VIDEO_SUFFIXES)
    if args.max_frames < 1:
        raise InputError(f"--max-frames {args.max_frames}: expected a positive number of frames")
    motion = _load(args)
    if motion.num_frames > args.max_frames:
        raise InputError(f"{args.input}: {motion.num_frames} frames ({motion.duration_s:.0f} s) is more than --max-frames "
                         f"{args.max_frames}; rendering takes about half a minute per 1000 frames: raise --max-frames to "
                         "render it anyway, or cut the motion")
    render_motion(motion, out, title=args.title if args.title is not None else args.input.stem)
    print(f"{out}: {motion.num_frames} frames, {motion.duration_s:.2f} s")
    return 0


def _bvh(args: argparse.Namespace) -> int:
    from a2m_core.motion.bvh import write_bvh

    out = _output(args, (".bvh",))
    motion = _load(args)
    write_bvh(out, motion.joints, motion.skeleton, motion.fps)
    print(f"{out}: {motion.num_frames} frames, {motion.skeleton.num_joints} joints")
    return 0


def _urdf(args: argparse.Namespace) -> int:
    from a2m_core.motion.avatar import write_avatar_urdf

    out = output_path(args.out, (".urdf",))
    write_avatar_urdf(out)
    print(f"{out}: avatar URDF for the SMPL-22 skeleton")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "motion", help="convert, render and export motion files",
        description="Work with motion files: HumanML3D / KIT-ML features and joint positions.",
    )
    commands = parser.add_subparsers(dest="motion_command", metavar="COMMAND", required=True)

    p = commands.add_parser("decode", help="features -> joint positions (.npy)",
                            description="Recover joint positions (frames, joints, 3), Y up, metres, from dataset features.")
    _add_input_args(p, "a .npy of (frames, 263) or (frames, 251) features, raw or normalised (give --mean/--std)")
    p.add_argument("--out", type=Path, required=True, help="output .npy of joints (frames, joints, 3)")
    p.set_defaults(func=_decode)

    p = commands.add_parser("encode", help="joint positions -> features (.npy)",
                            description="Encode joint positions (frames, 22 or 21, 3), Y up, metres, into dataset features "
                            "(one frame fewer: features hold velocities). The motion is put on the floor, "
                            "moved to the origin and turned to face +Z first, as the datasets do.")
    p.add_argument("input", type=Path, help="a .npy of joints (frames, 22, 3) or (frames, 21, 3)")
    p.add_argument("--out", type=Path, required=True, help="output .npy of features (frames - 1, 263 or 251)")
    p.add_argument("--mean", type=Path, help="the dataset's Mean.npy: write normalised features")
    p.add_argument("--std", type=Path, help="the dataset's Std.npy: write normalised features")
    p.set_defaults(func=_encode)

    p = commands.add_parser("render", help="motion -> video (.mp4 or .gif)",
                            description="Render a 3D skeleton with a ground grid and the root's trace to mp4 or gif.")
    _add_input_args(p)
    p.add_argument("--out", type=Path, required=True, help="output video, .mp4 or .gif")
    p.add_argument("--title", help="title text (default: the input's file name)")
    p.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES,
                   help=f"refuse longer motions (default {DEFAULT_MAX_FRAMES}: 2 minutes at 20 fps; "
                   "rendering takes about half a minute per 1000 frames)")
    p.set_defaults(func=_render)

    p = commands.add_parser("bvh", help="motion -> BVH (Blender, MotionBuilder)",
                            description="Export a motion as BVH: hierarchy from the skeleton, rotations from inverse kinematics.")
    _add_input_args(p)
    p.add_argument("--out", type=Path, required=True, help="output .bvh")
    p.set_defaults(func=_bvh)

    p = commands.add_parser("urdf", help="write the avatar URDF",
                            description="Write the SMPL-22 avatar URDF (6-joint root, 3 revolute joints per body joint).")
    p.add_argument("--out", type=Path, required=True, help="output .urdf")
    p.set_defaults(func=_urdf)
