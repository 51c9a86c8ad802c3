"""`a2m ros up`: the launch file's nodes in one process, for machines without ROS launch.

Starts motion_node with microphone_node (`--mic`) or audio_file_node (`--audio-file F`),
reading the same parameter file as `launch/a2m.launch.py` (config/a2m.yaml), and writes each
generated motion as a video (and optionally every topic into an MCAP file), so a person
without RViz sees the result. rclpy is imported inside the command: `a2m --help` stays fast
and works without ROS.
"""

from __future__ import annotations

import argparse
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path

from a2m_cli.paths import check_distinct, output_folder, output_path
from a2m_core.errors import InputError
from a2m_core.paths import CHECKOUT
from a2m_core.runtime.interface import BACKENDS

DEFAULT_PARAMS = CHECKOUT / "config" / "a2m.yaml"


def _overrides_file(args: argparse.Namespace, folder: Path) -> Path:
    """The command line's node settings as a parameter file that follows (and overrides) --params."""
    import yaml

    robot_urdf = getattr(args, "robot_urdf", None)  # `a2m ros bench` has no robot options
    motion = {k: v for k, v in {"model_path": args.model, "model_preset": args.preset, "device": args.device,
                                "backend": args.backend,
                                "robot_urdf": str(robot_urdf.resolve()) if robot_urdf else None,
                                "retarget_map": getattr(args, "retarget_map", None)}.items() if v is not None}
    nodes: dict = {"motion_node": {"ros__parameters": motion}} if motion else {}
    if args.audio_file:
        # a recorder must hear the file from its first chunk too
        listeners = 2 if getattr(args, "record", None) else 1
        nodes["audio_file_node"] = {"ros__parameters": {"path": str(args.audio_file), "subscribers": listeners}}
    if args.mic_device is not None:
        nodes["microphone_node"] = {"ros__parameters": {"device": args.mic_device}}
    path = folder / "overrides.yaml"
    path.write_text(yaml.safe_dump(nodes or {"motion_node": {"ros__parameters": {}}}))
    return path


class _VideoWriter:
    """Renders clips one after another on a background thread (matplotlib is not thread-safe)."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: list[Path] = []
        self._clips: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="a2m-video", daemon=True)
        self._thread.start()

    def add(self, utterance_id: int, clip) -> None:
        self._clips.put((utterance_id, clip))

    def _work(self) -> None:
        from a2m_core.motion.render import render_motion

        while (item := self._clips.get()) is not None:
            utterance_id, clip = item
            path = render_motion(clip.motion, self.out_dir / f"utterance_{utterance_id:03d}.mp4",
                                 title=f"utterance {utterance_id}", progress=False)
            again = path in self.written  # a trajectory published at a pause, replaced as speech went on
            if not again:
                self.written.append(path)
            print(f"video: {path} ({clip.duration_s:.1f} s of motion){' (replaces the earlier one)' if again else ''}",
                  flush=True)

    def close(self) -> None:
        self._clips.put(None)
        self._thread.join()


def _up(args: argparse.Namespace) -> int:
    if bool(args.mic) == bool(args.audio_file):
        raise InputError("give exactly one audio source: --mic or --audio-file FILE")
    if args.audio_file and Path(args.audio_file).is_dir():
        raise InputError(f"{args.audio_file} is a folder, not an audio file; give the path of a WAV file")
    if args.audio_file and not Path(args.audio_file).is_file():
        raise InputError(f"audio file not found: {args.audio_file}")
    if not Path(args.params).is_file():
        raise InputError(f"parameter file not found: {args.params}; the default is config/a2m.yaml of the checkout")
    if args.robot_urdf is not None and not args.robot_urdf.is_file():
        raise InputError(f"robot URDF not found: {args.robot_urdf}; give the path of the robot's .urdf file")
    if args.retarget_map is not None and args.robot_urdf is None:
        raise InputError("--retarget-map needs --robot-urdf: the map says how the avatar's joints land on that robot")
    output_folder(args.out)
    if args.record is not None:
        check_distinct({"--record": output_path(args.record, (".mcap",), "--record")},
                       {"--audio-file": args.audio_file, "--params": args.params})
    try:
        import rclpy
        from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    except ModuleNotFoundError as exc:
        raise InputError(f"ROS 2 is not installed ({exc.name} missing): run scripts/setup.sh, "
                         "or pip install the 'ros' extra and build the interfaces") from None

    from a2m_ros.motion_node import MotionNode

    args.out.mkdir(parents=True, exist_ok=True)
    videos = _VideoWriter(args.out)
    with tempfile.TemporaryDirectory(prefix="a2m-ros-up-") as tmp:
        overrides = _overrides_file(args, Path(tmp))
        rclpy.init(args=["a2m", "--ros-args", "--params-file", str(args.params), "--params-file", str(overrides)])
        nodes = []
        try:
            motion = MotionNode(on_clip=videos.add)
            nodes.append(motion)
            if args.mic:
                from a2m_ros.microphone_node import MicrophoneNode

                source = MicrophoneNode()
            else:
                from a2m_ros.audio_file_node import AudioFileNode

                source = AudioFileNode()
            nodes.append(source)
            if args.record:
                from a2m_ros.recorder import Recorder

                nodes.append(Recorder(args.record))
            executor = MultiThreadedExecutor(num_threads=4)
            for node in nodes:
                executor.add_node(node)
            if args.mic:
                print("listening: speak an instruction; Ctrl-C to stop", flush=True)
                executor.spin()
            else:
                executor.spin_until_future_complete(source.finished)
                deadline = time.monotonic() + args.wait_s
                while (not motion.idle or motion.playing) and time.monotonic() < deadline:
                    executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except ValueError as exc:  # a bad parameter in the file or on the command line
            raise InputError(str(exc)) from None
        except Exception:
            if rclpy.ok():
                raise
            # Ctrl-C shut rclpy down while the nodes were still starting (loading the model)
        finally:
            for node in reversed(nodes):
                node.destroy_node()
            rclpy.try_shutdown()
            videos.close()
    if args.record:
        print(f"recording: {args.record}")
    if not videos.written:
        print("no motion was generated (no speech detected?)")
    return 0


def ros_bench(args: argparse.Namespace) -> int:
    """`a2m ros bench`: print the end of speech -> trajectory table (args: runs, params, model, preset, device, backend)."""
    try:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
    except ModuleNotFoundError as exc:
        raise InputError(f"ROS 2 is not installed ({exc.name} missing): run scripts/setup.sh") from None
    from a2m_ros.latency_bench import LatencyProbe, run_latency_bench, summarise
    from a2m_ros.motion_node import MotionNode

    with tempfile.TemporaryDirectory(prefix="a2m-ros-bench-") as tmp:
        args.audio_file, args.mic_device = None, None
        overrides = _overrides_file(args, Path(tmp))
        rclpy.init(args=["a2m", "--ros-args", "--params-file", str(args.params), "--params-file", str(overrides)])
        nodes = []
        try:
            nodes = [MotionNode(), LatencyProbe()]
            executor = MultiThreadedExecutor(num_threads=4)
            for node in nodes:
                executor.add_node(node)
            samples = run_latency_bench(executor, nodes[1], args.runs)
        finally:
            for node in reversed(nodes):
                node.destroy_node()
            rclpy.try_shutdown()
    print(summarise(samples))
    return 0


def _keep_logs(folder: Path) -> str:
    """Copy the node processes' logs out of the soak's temporary `folder`; say where they are."""
    kept = Path(tempfile.mkdtemp(prefix="a2m-ros-soak-logs-"))
    for log in folder.glob("*.log"):
        shutil.copy(log, kept)
    return f"the node processes' logs are kept in {kept}"


def _soak(args: argparse.Namespace) -> int:
    """`a2m ros soak`: many spoken instructions through a source node and motion_node; 0 when in = out."""
    if args.count < 1 or not 0 < args.min_pause_s <= args.max_pause_s:
        raise InputError(f"need --count >= 1 and 0 < --min-pause-s <= --max-pause-s, got {args.count}, "
                         f"{args.min_pause_s}, {args.max_pause_s}")
    try:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
    except ModuleNotFoundError as exc:
        raise InputError(f"ROS 2 is not installed ({exc.name} missing): run scripts/setup.sh") from None
    from a2m_core.audio.io import save_wav
    from a2m_ros.null_sink import pulseaudio_missing
    from a2m_ros.latency_bench import finished
    from a2m_ros.soak import StatusLog, rss_mb, soak_plan, soak_processes, soak_report

    if args.mic and (why := pulseaudio_missing()) is not None:
        raise InputError(f"--mic needs a PulseAudio null sink: {why}")
    with tempfile.TemporaryDirectory(prefix="a2m-ros-soak-") as tmp:
        plan = soak_plan(args.count, args.seed, (args.min_pause_s, args.max_pause_s))
        wav = Path(tmp) / "soak.wav"
        save_wav(wav, plan.samples)
        how = "microphone_node on a PulseAudio null sink" if args.mic else "audio_file_node"
        how += ", separate processes" if args.mic or args.processes else ", one process"
        print(f"soak: {args.count} instructions, {len(plan.samples) / 16000:.0f} s of audio, {how}", flush=True)
        args.audio_file = None if args.mic else wav
        args.mic_device = "pulse" if args.mic else None
        overrides = _overrides_file(args, Path(tmp))
        rclpy.init(args=["a2m", "--ros-args", "--params-file", str(args.params), "--params-file", str(overrides)])
        nodes, notes = [], []
        try:
            if args.mic or args.processes:
                try:
                    report, notes = soak_processes(plan, wav, [args.params, overrides], Path(tmp), args.wait_s,
                                                   args.mic)
                except RuntimeError as exc:  # a node process or PulseAudio failed, or an answer never came
                    print(f"soak FAILED: {exc}\n{_keep_logs(Path(tmp))}")
                    return 1
                if not report.ok:
                    notes.append(_keep_logs(Path(tmp)))
            else:
                from a2m_ros.audio_file_node import AudioFileNode
                from a2m_ros.motion_node import MotionNode

                motion = MotionNode()
                nodes += [motion, StatusLog(), AudioFileNode()]
                rss_start = rss_mb()
                executor = MultiThreadedExecutor(num_threads=4)
                for node in nodes:
                    executor.add_node(node)
                executor.spin_until_future_complete(nodes[2].finished)
                deadline = time.monotonic() + args.wait_s
                while not (motion.idle and finished(nodes[1].snapshot())) and time.monotonic() < deadline:
                    executor.spin_once(timeout_sec=0.1)
                report = soak_report(plan, nodes[1].snapshot(), rss_start, rss_mb())
        finally:
            for node in reversed(nodes):
                node.destroy_node()
            rclpy.try_shutdown()
    print("\n".join([*notes, report.summary()]))
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ros", help="run the ROS 2 nodes (bringup without ros2 launch)",
                                   description="ROS 2 bringup for machines without `ros2 launch`.")
    commands = parser.add_subparsers(dest="ros_command", metavar="SUBCOMMAND")
    up = commands.add_parser(
        "up", help="start the motion node with a microphone or an audio file",
        description="Start motion_node with microphone_node (--mic) or audio_file_node (--audio-file), "
        "the same nodes and parameter file as launch/a2m.launch.py, in one process. Topics: audio, "
        "joint_trajectory, joint_states, skeleton_markers, motion_status; action generate_motion. "
        "Each generated motion is also written as a video.")
    source = up.add_mutually_exclusive_group()
    source.add_argument("--mic", action="store_true", help="listen to the microphone until Ctrl-C")
    source.add_argument("--audio-file", type=Path, metavar="FILE", help="play this audio file (any rate), then exit")
    up.add_argument("--mic-device", metavar="NAME", help="input device name or index (default: the default input)")
    up.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="parameter file (default: config/a2m.yaml)")
    up.add_argument("--model", metavar="DIR", help="model folder (default: the shipped models/default when "
                     "present, else a random paper model)")
    up.add_argument("--preset", choices=("paper", "edge", "tiny"),
                     help="a randomly initialised model of this architecture instead (plumbing only)")
    up.add_argument("--device", help="device: cpu, cuda, cuda:N (default: cpu)")
    up.add_argument("--backend", choices=BACKENDS, help="inference backend (default: auto, the fastest that "
                     "loads here: tensorrt on cuda, else onnxruntime, else torch; the node logs its choice)")
    up.add_argument("--robot-urdf", type=Path, metavar="URDF", help="also retarget every clip onto this humanoid "
                    "(robot/joint_trajectory, robot/joint_states; motion_node parameter robot_urdf)")
    up.add_argument("--retarget-map", metavar="MAP", help="keypoint map of that robot, YAML (default: "
                    "config/retarget/unitree_g1.yaml; relative paths: the working directory, then the checkout)")
    up.add_argument("--record", type=Path, metavar="RUN.mcap", help="record every a2m topic into an MCAP file")
    up.add_argument("--out", type=Path, default=Path("out/ros"), help="folder for the videos (default: out/ros)")
    up.add_argument("--wait-s", type=float, default=120.0,
                    help="with --audio-file: longest wait for generation and playback after the file ends (default: 120)")
    up.set_defaults(func=_up)

    bench = commands.add_parser(
        "bench", help="measure end of speech -> trajectory latency over DDS",
        description="Send espeak-ng speech to the motion node in real time, as a microphone would, and time "
        "each JointTrajectory from the end of speech (the chunk with the last audible sample) to its arrival. "
        "Includes the VAD's hangover (hangover_s), generation and conversion.")
    bench.add_argument("--runs", type=int, default=5, help="utterances to time (default: 5)")
    bench.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="parameter file (default: config/a2m.yaml)")
    bench.add_argument("--model", metavar="DIR", help="model folder (default: the shipped models/default when "
                     "present, else a random paper model)")
    bench.add_argument("--preset", choices=("paper", "edge", "tiny"),
                     help="a randomly initialised model of this architecture instead (plumbing only)")
    bench.add_argument("--device", help="device: cpu, cuda, cuda:N (default: cpu)")
    bench.add_argument("--backend", choices=BACKENDS, help="inference backend (default: auto, the fastest that "
                     "loads here: tensorrt on cuda, else onnxruntime, else torch; the node logs its choice)")
    bench.set_defaults(func=ros_bench)

    soak = commands.add_parser(
        "soak", help="many spoken instructions through the nodes: utterances in = utterances out",
        description="Join --count espeak-ng instructions (voices and sentences cycling) with pauses drawn from "
        "[--min-pause-s, --max-pause-s] into one recording, play it in real time through audio_file_node into "
        "motion_node (one process, over DDS; --processes: each node its own process; --mic: microphone_node "
        "recording a PulseAudio null sink the recording is played into), and check that each instruction came "
        "out as one DONE utterance with its audio length; prints the motion node's RSS before and after and "
        "its latency. Exit 1 when any check fails.")
    soak.add_argument("--count", type=int, default=200, help="instructions (default: 200)")
    soak.add_argument("--processes", action="store_true", help="run motion_node and the source as separate "
                      "processes (python -m a2m_ros.<node>) talking over DDS; this process only listens to motion_status")
    soak.add_argument("--mic", action="store_true", help="the source is microphone_node recording the monitor of a "
                      "PulseAudio null sink started for the run, the recording played into it with paplay in real "
                      "time (separate processes; needs pulseaudio, pulseaudio-utils, libasound2-plugins)")
    soak.add_argument("--seed", type=int, default=0, help="seed of the pauses (default: 0)")
    soak.add_argument("--min-pause-s", type=float, default=0.8, help="shortest pause; below hangover_s (0.5 s) "
                      "plus the VAD's slack two instructions are one utterance by design (default: 0.8)")
    soak.add_argument("--max-pause-s", type=float, default=3.0, help="longest pause (default: 3.0)")
    soak.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="parameter file (default: config/a2m.yaml)")
    soak.add_argument("--model", metavar="DIR", help="model folder (default: the shipped models/default)")
    soak.add_argument("--preset", choices=("paper", "edge", "tiny"), help="a random model of this architecture instead")
    soak.add_argument("--device", help="device: cpu, cuda, cuda:N (default: cpu)")
    soak.add_argument("--backend", choices=BACKENDS, help="inference backend (default: auto)")
    soak.add_argument("--wait-s", type=float, default=120.0, help="longest wait for the last answers after the "
                      "recording ends (default: 120)")
    soak.set_defaults(func=_soak)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
