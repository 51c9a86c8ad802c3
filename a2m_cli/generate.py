"""`a2m generate`: a spoken instruction (audio file) -> motion features, joints, video, BVH."""

from __future__ import annotations

import argparse
from pathlib import Path

from a2m_cli.decoding import add_decoding_arguments, decoding_from
from a2m_cli.paths import check_distinct, output_path
from a2m_core.errors import InputError
from a2m_core.paths import shipped_model_dir
from a2m_core.runtime.interface import BACKENDS


def _generate(args: argparse.Namespace) -> int:
    out = output_path(args.out, (".npy",))
    joints_out = output_path(args.joints, (".npy",), "--joints") if args.joints is not None else None
    video_out = output_path(args.video, (".mp4", ".gif"), "--video") if args.video is not None else None
    bvh_out = output_path(args.bvh, (".bvh",), "--bvh") if args.bvh is not None else None
    check_distinct({"--out": out, "--joints": joints_out, "--video": video_out, "--bvh": bvh_out},
                   {"--audio": args.audio})
    if args.length is not None and args.length < 1:
        raise InputError(f"--length {args.length}: expected a positive number of frames")

    from a2m_core.audio.io import load_audio
    from a2m_core.audio.vad import speech_warnings
    from a2m_core.files import save_npy
    from a2m_core.runtime.backends import load_backend
    from a2m_core.runtime.text_backend import is_text_model

    decoding = decoding_from(args)
    audio = load_audio(args.audio)
    for warning in audio.warnings + speech_warnings(audio):
        print(f"a2m: warning: {warning}")
    model_dir = args.model or shipped_model_dir()
    if is_text_model(model_dir):
        raise InputError(f"{model_dir} is a text-conditioned model; a2m generate needs an audio model")
    # the motion node's loader: the same seed gives the same motion here and in the node
    backend = load_backend(args.backend, model_dir=model_dir, decoding=decoding, device=args.device)
    normalized = backend.spec.has_normalization
    needs_joints = joints_out or video_out or bvh_out
    if needs_joints and not normalized:
        raise InputError(f"{model_dir} has no Mean.npy/Std.npy, so its features cannot become joints: "
                         "use a trained model, or `a2m model init ... --mean Mean.npy --std Std.npy`")
    motion = backend.generate(audio.samples, audio.sample_rate_hz, args.length, args.seed)
    features = motion.features  # (t f), dataset units when the model has Mean/Std
    save_npy(out, features)
    fps = backend.spec.fps
    print(f"{out}: {'' if normalized else 'normalised '}features {features.shape} "
          f"({len(features) / fps:.2f} s at {fps:g} fps; {backend.describe()})")
    if needs_joints:
        if joints_out:
            save_npy(joints_out, motion.joints)
            print(f"{joints_out}: joints {motion.joints.shape}")
        if bvh_out:
            from a2m_core.motion.bvh import write_bvh

            write_bvh(bvh_out, motion.joints, motion.skeleton, motion.fps)
            print(f"{bvh_out}: BVH, {motion.num_frames} frames")
        if video_out:
            from a2m_core.motion.render import render_motion

            render_motion(motion, video_out, title=args.audio.stem)
            print(f"{video_out}: video, {motion.duration_s:.2f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="audio file -> motion (features, joints, video, BVH)",
        description="Turn a spoken instruction into motion with a model folder. The audio may have any sample rate "
        "and channel count; it is downmixed and resampled to 16 kHz. The same --seed gives the same motion.",
    )
    p.add_argument("--model", type=Path,
                   help="model folder (config.json + model.safetensors); default: the shipped models/default")
    p.add_argument("--audio", type=Path, required=True, help="audio file: WAV, FLAC or OGG")
    p.add_argument("--out", type=Path, required=True,
                   help="output .npy of motion features (frames, 263); dataset units when the model has Mean/Std")
    p.add_argument("--length", type=int,
                   help="motion length in frames (default: predicted from the audio, see --length-quantile)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling noise (default 0)")
    p.add_argument("--joints", type=Path, help="also write joint positions (frames, joints, 3) .npy, Y up, metres")
    p.add_argument("--video", type=Path, help="also render a video (.mp4 or .gif)")
    p.add_argument("--bvh", type=Path, help="also write a BVH file")
    add_decoding_arguments(p)
    p.add_argument("--backend", choices=BACKENDS, default="torch", help="inference backend, as the motion node's "
                   "`backend` parameter (default torch: no ONNX export needed; every float backend gives the same motion "
                   "for the same seed, onnxruntime-int8 slightly different motion, faster)")
    p.add_argument("--device", default="cpu", help="device, e.g. cpu or cuda (default cpu)")
    p.set_defaults(func=_generate)
