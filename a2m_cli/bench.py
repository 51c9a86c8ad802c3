"""`a2m bench`: each backend x batch x audio length, beside the paper-size eager model and the ASR cascade."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from a2m_cli.decoding import add_decoding_arguments
from a2m_cli.paths import output_folder
from a2m_core.errors import InputError
from a2m_core.files import write_text
from a2m_core.runtime.interface import BACKENDS

DEFAULT_BACKENDS = "torch,onnxruntime,onnxruntime-int8"
PRESET_SEED = 0  # baselines and --preset get seeded random weights: same files, same cached export


def _command_line(args: argparse.Namespace) -> str:
    """The options this run was given, as an `a2m bench` command line (for the report)."""
    words = ["a2m", "bench"]
    for key, value in vars(args).items():
        if key in ("func", "command") or value in (None, False):
            continue
        words += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return shlex.join(words)


def _ros_bench(args: argparse.Namespace) -> int:
    """`a2m bench --ros`: `a2m ros bench` with this command's model options (one backend at most)."""
    from a2m_cli.ros import DEFAULT_PARAMS, ros_bench

    backends = [b.strip() for b in (args.backends or "").split(",") if b.strip()]
    if len(backends) > 1:
        raise InputError(f"--ros times one backend, got {backends}: give --backends NAME (default: the node's auto)")
    if args.model and args.preset:
        raise InputError("give --model or --preset, not both")
    if args.preset and args.preset not in ("paper", "edge", "tiny"):
        raise InputError(f"--preset {args.preset!r} with --ros: the motion node takes paper, edge or tiny")
    if backends and backends[0] not in BACKENDS:
        raise InputError(f"--backends {backends[0]!r} with --ros: choose one of {', '.join(BACKENDS)}")
    return ros_bench(argparse.Namespace(runs=args.runs, params=DEFAULT_PARAMS, device=None,
                                        model=str(args.model) if args.model else None, preset=args.preset,
                                        backend=backends[0] if backends else None))


def _decoding(args: argparse.Namespace):
    """The decoding options; with --onnx, the export's own (so that a given export is timed as it
    is, not rebuilt), and options that contradict it are refused."""
    from a2m_cli.decoding import decoding_from
    from a2m_core.runtime.export import read_export
    from a2m_core.runtime.interface import DecodingConfig

    asked = decoding_from(args)
    if args.onnx is None:
        return asked
    exported = read_export(args.onnx, verify=False).decoding
    if asked not in (DecodingConfig(), exported):
        raise InputError(f"--onnx {args.onnx} was exported with {exported}, the decoding options ask for {asked}: "
                         "re-export it with those options (a2m export onnx), or drop --onnx")
    return exported


def _bench(args: argparse.Namespace) -> int:
    if args.ros:
        return _ros_bench(args)
    import torch

    from a2m_core.model import preset_model
    from a2m_core.paths import shipped_model_dir
    from a2m_core.runtime.backends import backend_precision, load_backend, preset_model_dir
    from a2m_core.runtime.export import read_export
    from a2m_core.runtime.speed_bench import BenchSettings, markdown, run_benchmark

    if args.out:
        output_folder(args.out)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    if args.model and args.preset:
        raise InputError("give --model or --preset, not both")
    if args.preset:
        model_dir = preset_model_dir(args.preset, PRESET_SEED)
    else:
        model_dir = args.model or shipped_model_dir()
        if not (model_dir / "config.json").is_file():
            raise InputError(f"no model folder at {model_dir}: pass --model DIR or --preset edge (random weights)")
    names = [b.strip() for b in (args.backends or DEFAULT_BACKENDS).split(",") if b.strip()]
    choices = [b for b in BACKENDS if b != "auto"]
    unknown = sorted(set(names) - set(choices))
    if unknown:
        raise InputError(f"unknown backend(s) {unknown}: choose among {', '.join(choices)}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    decoding = _decoding(args)

    given_precision = read_export(args.onnx, verify=False).precision if args.onnx else None

    def backend(name: str):
        # --onnx serves the backend of its precision; the other one's export comes from the cache
        onnx_dir = args.onnx if given_precision == backend_precision(name) else None
        return lambda: load_backend(name, model_dir=model_dir, onnx_dir=onnx_dir, decoding=decoding,
                                      threads=threads, device=device)

    backends = {name: backend(name) for name in names}

    def reference():
        from a2m_core.runtime.torch_backend import TorchBackend

        torch.manual_seed(PRESET_SEED)
        return TorchBackend(preset_model(args.reference_preset), device=device)

    def cascade():
        from a2m_core.runtime.cascade import CascadeBackend

        torch.manual_seed(PRESET_SEED)
        return CascadeBackend(preset_model(args.cascade_preset))

    settings = BenchSettings.quick() if args.quick else BenchSettings(
        batches=_numbers(args.batches, int, "--batches"),
        audio_s=_numbers(args.audio_s, float, "--audio-s"))
    report = run_benchmark(backends, None if args.no_baselines else reference,
                           None if args.no_baselines else cascade, settings, _command_line(args))
    report.notes.append(f"model: {model_dir}{' (random weights, preset ' + args.preset + ')' if args.preset else ''}; "
                        f"{threads} threads; decoding {decoding.num_iters} iterations, guidance {decoding.cfg_scale:g} / "
                        f"{decoding.res_cfg_scale:g} (residual); baselines decode with the paper's 10, 4 / 5")
    text = markdown(report)
    print(text, end="")
    if args.out:
        write_text(args.out / "bench.json", json.dumps(report.to_dict(), indent=2) + "\n")
        write_text(args.out / "bench.md", text)
        print(f"{args.out / 'bench.json'}, {args.out / 'bench.md'}: written")
    return 0


def _numbers(text: str, kind: type, option: str) -> tuple:
    """'1,8' -> (1, 8); each value positive."""
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise InputError(f"{option} takes comma-separated positive numbers, got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="latency/throughput/memory per backend, beside the paper-size model and the ASR cascade",
        description="Measure p50/p95 latency, samples/s, frames/s and peak RSS of each backend for batch 1 and 8 "
        "and 1, 3, 10 and 30 s of spoken instruction (espeak-ng; --batches and --audio-s choose others), and in "
        "the same run the paper-size model in eager "
        "PyTorch and the cascade (pocketsphinx ASR + text model) at batch 1; prints a markdown table and the speed "
        "targets, and writes bench.json + bench.md with --out. Warm-up runs are excluded.")
    p.add_argument("--model", type=Path, help="model folder (default: models/default)")
    p.add_argument("--preset", help="benchmark a preset with seeded random weights instead (e.g. edge)")
    p.add_argument("--onnx", type=Path, help="ONNX export of the model, timed with the decoding it was exported with "
                   "(default: exported once into the cache with the decoding options)")
    add_decoding_arguments(p)
    p.add_argument("--backends", help=f"comma-separated: torch, onnxruntime, onnxruntime-int8, tensorrt (default "
                   f"{DEFAULT_BACKENDS}; "
                   "with --ros one of them, or auto, default: the motion node's parameter, auto)")
    p.add_argument("--threads", type=int, help="CPU threads for torch and onnxruntime (default: all usable cores)")
    p.add_argument("--reference-preset", default="paper", help="the paper-size baseline's preset (default paper)")
    p.add_argument("--cascade-preset", default="text", help="the cascade's text model preset (default text)")
    p.add_argument("--no-baselines", action="store_true", help="skip the paper-size and cascade baselines")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes to time (default: 1,8)")
    p.add_argument("--audio-s", default="1,3,10,30",
                   help="comma-separated instruction lengths in seconds to time (default: 1,3,10,30)")
    p.add_argument("--quick", action="store_true", help="one short row per backend, few repeats (a smoke test; "
                   "ignores --batches and --audio-s)")
    p.add_argument("--out", type=Path, help="folder for bench.json and bench.md")
    p.add_argument("--ros", action="store_true", help="instead: end of speech -> JointTrajectory latency through the "
                   "motion node over DDS (real-time espeak-ng speech, VAD hangover included; same as `a2m ros bench`, "
                   "needs the ros extra); uses --model/--preset, --backends and --runs")
    p.add_argument("--runs", type=int, default=5, help="with --ros: utterances to time (default: 5)")
    p.set_defaults(func=_bench)
