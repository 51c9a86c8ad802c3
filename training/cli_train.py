"""`a2m train STAGE` and `a2m eval`: train the model stage by stage; measure it with the paper's metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

STAGE_HELP = ("rvq: motion tokenizer; masked: front-end + condition encoder + masked transformer; residual: "
              "residual transformer; length: length predictor; transformers: masked + residual + length at once; "
              "evaluator: the contrastive motion/text/audio evaluator used by `a2m eval`")


def _train(args: argparse.Namespace) -> int:
    from training.runner import MODEL_DIR, RunConfig

    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    if args.preset:
        config = RunConfig(preset=args.preset, window_len=config.window_len, loop=config.loop)
    config = config.with_loop(max_steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    if args.stage == "evaluator":
        from training.evaluator.train import run_evaluator

        result = run_evaluator(args.data, args.out, config.loop, resume=args.resume)
    else:
        from training.runner import run_stage

        result = run_stage(args.stage, args.data, args.out, config, init=args.init, resume=args.resume)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in result.last_losses.items())
    print(f"{args.stage}: step {result.steps}/{config.loop.max_steps} in {result.wall_s:.0f} s ({losses}); "
          f"model in {Path(args.out) / MODEL_DIR}")
    return 0


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train one stage of the model (or the evaluator) on a dataset folder",
        description="Train one stage on a HumanML3D-layout folder with speech (`a2m data corpus`). Stages in order: "
                    "rvq, then masked + residual + length (or transformers for all three at once). Checkpoints go "
                    "to OUT/checkpoints every loop.checkpoint_every steps; --resume continues a killed run with the "
                    "same data order. Multi-GPU / multi-node: torchrun --nproc_per_node N -m a2m_core.cli.main "
                    "train ... (the batch size is global). When finished, OUT/model is a model folder.")
    train.add_argument("stage", choices=("rvq", "masked", "residual", "length", "transformers", "evaluator"),
                       help=STAGE_HELP)
    train.add_argument("--data", type=Path, required=True, help="dataset folder (new_joint_vecs/, texts/, audio/)")
    train.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, tensorboard, model)")
    train.add_argument("--config", type=Path, help="run config YAML (preset, window_len, loop: {...})")
    train.add_argument("--init", type=Path, help="model folder to start from (OUT/model of the previous stage)")
    train.add_argument("--preset", help="model preset for a first stage without --init (default edge)")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--steps", type=int, help="override loop.max_steps")
    train.add_argument("--batch-size", type=int, help="override loop.batch_size (global over all processes)")
    train.add_argument("--seed", type=int, help="override loop.seed")
    train.set_defaults(func=_train)
