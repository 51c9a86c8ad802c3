"""`a2m demo`: the main job of `make run`.

A spoken instruction (made with espeak-ng, or a WAV the user passes) goes through the
shipped default model to motion: features, joints, a video and a BVH. Then, where the ROS 2
interfaces are built, the same WAV goes through the real nodes (`a2m ros up --audio-file`):
audio_file_node -> motion_node over DDS, and the received trajectory is written as a video.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from a2m_cli.paths import check_distinct, output_folder
from a2m_core.errors import InputError
from a2m_core.runtime.interface import BACKENDS

DEFAULT_TEXT = "walk forward, then wave with your right hand"


def _speak(text: str, out_wav: Path) -> Path:
    """Synthesise `text` with an unseen test-split voice of the corpus (espeak-ng) into a 16 kHz WAV."""
    from a2m_core.audio.io import save_wav
    from a2m_core.audio.speech import synthesize

    try:
        from training.data.voices import voice_pool, voices_for_split
    except ImportError:
        raise InputError("speech synthesis needs the training package: pass --audio WAV instead") from None
    voice = next(v for v in voices_for_split(voice_pool(), "test") if v.engine == "espeak-ng")
    save_wav(out_wav, synthesize(text, voice))
    return out_wav


def _ros_available() -> bool:
    try:
        import a2m_ros.msg  # noqa: F401  (built by scripts/setup.sh)
    except ImportError:
        return False
    return True


def _demo(args: argparse.Namespace) -> int:
    from a2m_core.audio.io import load_audio
    from a2m_core.audio.vad import speech_warnings
    from a2m_core.files import save_npy
    from a2m_core.motion.bvh import write_bvh
    from a2m_core.motion.render import render_motion
    from a2m_core.paths import shipped_model_dir
    from a2m_core.runtime.backends import load_backend

    out_dir: Path = output_folder(args.out)
    outputs = {name: out_dir / name for name in ("motion.npy", "joints.npy", "motion.bvh", "motion.mp4")}
    check_distinct(outputs, {"--audio": args.audio})
    model_dir = args.model or shipped_model_dir()
    wav = args.audio or _speak(args.text, out_dir / "instruction.wav")
    audio = load_audio(wav)
    for warning in audio.warnings + speech_warnings(audio):
        print(f"a2m: warning: {warning}")
    title = args.text if args.audio is None else wav.name

    backend = load_backend(args.backend, model_dir=model_dir)
    motion = backend.generate(audio.samples, audio.sample_rate_hz, seed=args.seed)
    save_npy(out_dir / "motion.npy", motion.features)
    save_npy(out_dir / "joints.npy", motion.joints)
    write_bvh(out_dir / "motion.bvh", motion.joints, motion.skeleton, motion.fps)
    video = render_motion(motion, out_dir / "motion.mp4", title=title)
    print(f"instruction: {wav}")
    print(f"motion:      {out_dir / 'motion.npy'} {motion.features.shape}, {motion.duration_s:.1f} s "
          f"(model {model_dir}, backend {backend.name})")
    print(f"video:       {video}")
    print(f"bvh:         {out_dir / 'motion.bvh'}")

    if args.no_ros:
        return 0
    if not _ros_available():
        print("ros:         skipped: the a2m_ros interfaces are not built (run `make setup`)")
        return 0
    ros_out = out_dir / "ros"
    command = [sys.executable, "-m", "a2m_cli", "ros", "up", "--audio-file", str(wav),
               "--model", str(model_dir), "--out", str(ros_out)]
    print(f"ros:         a2m {' '.join(command[3:])}")
    result = subprocess.run(command)
    if result.returncode != 0:
        raise InputError(f"the ROS bringup failed (exit {result.returncode}); see its log above")
    for video in sorted(ros_out.glob("*.mp4")):
        print(f"ros video:   {video}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="spoken instruction -> motion with the default model (what `make run` does)",
        description="Speak an instruction with the TTS (or take --audio WAV), turn it into motion with the "
        "shipped default model, write features, joints, a video and a BVH, then run the same audio "
        "through the ROS 2 nodes (a2m ros up) where they are built.",
    )
    parser.add_argument("--text", default=DEFAULT_TEXT, help=f"instruction to speak (default: {DEFAULT_TEXT!r})")
    parser.add_argument("--audio", type=Path, help="use this WAV (any rate, channels) instead of speaking --text")
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped models/default)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="inference backend (default: auto, the fastest available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the decoding noise (default: 0)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    parser.add_argument("--no-ros", action="store_true", help="skip the run through the ROS 2 nodes")
    parser.set_defaults(func=_demo)
