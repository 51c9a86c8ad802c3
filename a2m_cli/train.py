"""`a2m train STAGE` and `a2m eval`: train the model stage by stage; measure it with the paper's metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from a2m_cli.decoding import add_decoding_arguments

STAGE_CHOICES = ("rvq", "condition", "masked", "residual", "length", "transformers", "decoders", "evaluator")
STAGE_HELP = ("rvq: motion tokenizer; condition: front-end + condition encoder taught the instruction's slots "
              "(corpus only); masked: front-end + condition encoder + masked transformer; residual: "
              "residual transformer; length: length predictor; transformers: masked + residual + length at once; "
              "decoders: masked + residual + length on the frozen, cached condition (after condition); "
              "evaluator: the contrastive motion/text/audio evaluator used by `a2m eval`")


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from a2m_cli.paths import output_folder
    from a2m_core.errors import InputError
    from training.runner import MODEL_DIR, RunConfig

    output_folder(args.out)

    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    given = {"preset": args.preset, "styles": args.styles and tuple(args.styles.split(",")),
             "engines": args.engines and tuple(args.engines.split(",")),
             "condition": args.condition and {**config.condition, **_key_values(args.condition)}}
    try:
        config = replace(config, **{k: v for k, v in given.items() if v})
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    config = config.with_loop(max_steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    if args.stage == "evaluator":
        from training.evaluator.train import run_evaluator

        result = run_evaluator(args.data, args.out, config.loop, options=config.evaluator, resume=args.resume)
    else:
        from training.runner import run_stage

        result = run_stage(args.stage, args.data, args.out, config, init=args.init, resume=args.resume)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in result.last_losses.items())
    print(f"{args.stage}: step {result.steps}/{config.loop.max_steps} in {result.wall_s:.0f} s ({losses}); "
          f"model in {Path(args.out) / MODEL_DIR}")
    return 0


def _key_values(text: str) -> dict:
    """'kind=avgpool,pool=8' -> {'kind': 'avgpool', 'pool': 8}: values read as in the YAML run config."""
    import yaml

    from a2m_core.errors import InputError

    pairs = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--condition {text!r}: expected KEY=VALUE pairs separated by commas")
        pairs[key.strip()] = yaml.safe_load(value.strip())
    return pairs


def _eval(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from a2m_cli.decoding import decoding_from
    from a2m_cli.paths import output_path
    from a2m_core.errors import InputError
    from training.evaluate import EvalConfig, evaluate, write_report

    evaluator = args.evaluator or args.model / "evaluator"
    if not (evaluator / "config.json").is_file():
        raise InputError(f"no evaluator at {evaluator}: pass --evaluator DIR (from `a2m train evaluator`, DIR/model)")
    output_path(args.report, (".md",), "--report")  # the JSON goes beside it
    config = EvalConfig(split=args.split, repeats=args.repeats, noise_snr_db=args.noise_snr,
                        resample_from_hz=args.resample_from, limit=args.limit, mm_conditions=args.mm_conditions,
                        mm_generations=args.mm_generations, seed=args.seed,
                        styles=tuple(args.styles.split(",")), engines=tuple(args.engines.split(",")), asr=args.asr,
                        respeak=args.respeak, min_actions=args.min_actions, decoding=decoding_from(args))
    result = evaluate(args.model, args.data, evaluator, config, onnx_dir=args.onnx)
    command = "a2m " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report, data = write_report(result, args.report, command)
    m = result["metrics"]
    print(f"{report} (+ {data.name}): R-top1 {m['r_top1']['mean']:.3f}, FID {m['fid']['mean']:.3f}, "
          f"MM-Dist {m['mm_dist']['mean']:.3f}")
    return 0


def _print_heard(heard: list[dict] | None) -> None:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for step, h in enumerate(heard or (), 1):
        print(f"  step {step}: heard {h['heard']:.3f}; done {share(h['done_when_heard'])} when heard, "
              f"{share(h['done_when_not_heard'])} when not")


def _eval_instructions(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from a2m_cli.decoding import decoding_from
    from a2m_cli.paths import output_path
    from a2m_core.errors import InputError
    from a2m_core.files import write_text
    from a2m_core.model import load_model
    from training.instruction_eval import (CASES, FIRST_SHARE, FPS, TWO_STEP_CASES, eval_voices,
                                           evaluate_instructions, speak_cases)
    from training.instruction_slots import load_slot_probe

    output_path(args.report, (".json",), "--report")
    decoding = decoding_from(args)
    two_step = TWO_STEP_CASES
    if args.two_step_template is not None:
        if args.two_step_template.count("{}") != 2 or "{" in args.two_step_template.replace("{}", ""):
            raise InputError(f"--two-step-template {args.two_step_template!r}: expected two {{}} for the two "
                             "instructions, e.g. 'first {}, then {}'")
        two_step = tuple(replace(case, template=args.two_step_template) for case in TWO_STEP_CASES)
    if args.voices < 1:
        raise InputError(f"--voices {args.voices}: expected at least 1")
    model = load_model(args.model)
    if args.length_s is not None and not 0 < args.length_s * FPS <= model.config.max_frames:
        raise InputError(f"--length-s {args.length_s}: expected more than 0 and at most "
                         f"{model.config.max_frames / FPS:g} s (the model's longest motion)")
    if model.normalization is None:
        raise InputError(f"{args.model} has no Mean.npy/Std.npy: the benchmark needs a trained model")
    probe = None if args.probe is None else load_slot_probe(args.probe, model)
    voices = eval_voices(args.voices_from, args.voices, seed=args.seed)
    speech = speak_cases(CASES + two_step, voices, progress=True)
    results = {"model": str(args.model), "voices": len(voices), "voices_from": args.voices_from, "length_s": args.length_s,
               "decoding": decoding.to_dict(), "probe": None if args.probe is None else str(args.probe),
               "speakers": [v.speaker_id for v in voices], "cases": [c.instruction for c in CASES],
               "two_step": {"first_share": FIRST_SHARE, "cases": [c.instruction for c in two_step]}}
    conditions = (("clean", None), *((f"snr_{s:g}db", s) for s in args.noise_snr))
    for name, snr in conditions:
        result = evaluate_instructions(model, speech[:len(CASES)], noise_snr_db=snr, seed=args.seed,
                                       length_s=args.length_s, decoding=decoding, probe=probe)
        results[name] = result.to_dict()
        print(f"{name}: accuracy {result.accuracy:.3f} over {result.num_trials} generations (chance {result.chance:.3f})")
        _print_heard(result.heard)
    for name, snr in conditions:
        result = evaluate_instructions(model, speech[len(CASES):], noise_snr_db=snr, seed=args.seed, cases=two_step,
                                       length_s=args.length_s, decoding=decoding, probe=probe)
        results["two_step"][name] = result.to_dict()
        first, second = result.per_step
        print(f"two-step {name}: accuracy {result.accuracy:.3f} over {result.num_trials} generations (chance "
              f"{result.chance:.3f}; first step {first:.3f}, second step {second:.3f}; mean length "
              f"{result.mean_length_s:.1f} s)")
        _print_heard(result.heard)
    write_text(args.report, json.dumps(results, indent=2) + "\n")
    return 0


def _ship(args: argparse.Namespace) -> int:
    from a2m_cli.paths import check_distinct, output_folder
    from a2m_core.errors import InputError
    from training.ship import ship_model

    for folder in (args.model, args.evaluator):
        if folder is not None and not (folder / "config.json").is_file():
            raise InputError(f"{folder} is not a model folder (no config.json)")
    check_distinct({"--out": output_folder(args.out)}, {"--model": args.model, "--evaluator": args.evaluator})
    size = ship_model(args.model, args.out, args.evaluator)
    print(f"{args.out}: {size / 1e6:.1f} MB")
    return 0


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train one stage of the model (or the evaluator) on a dataset folder",
        description="Train one stage on a HumanML3D-layout folder with speech (`a2m data corpus`). Stages in order: "
                    "rvq, then condition + decoders (the built-in corpus: the condition learns the instruction's "
                    "words and slots first), or masked + residual + length (or transformers for all three at once) "
                    "on datasets without action records. Checkpoints go "
                    "to OUT/checkpoints every loop.checkpoint_every steps; --resume continues a killed run with the "
                    "same data order. Multi-GPU / multi-node: torchrun --nproc_per_node N -m a2m_cli.main "
                    "train ... (the batch size is global). When finished, OUT/model is a model folder.")
    train.add_argument("stage", choices=STAGE_CHOICES,
                       help=STAGE_HELP)
    train.add_argument("--data", type=Path, required=True, help="dataset folder (new_joint_vecs/, texts/, audio/)")
    train.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, tensorboard, model)")
    train.add_argument("--config", type=Path, help="run config YAML (preset, window_len, loop: {...})")
    train.add_argument("--init", type=Path, help="model folder to start from (OUT/model of the previous stage)")
    train.add_argument("--preset",
                       help="model preset (default: --init's model, or edge without --init); with --init, the parts "
                            "whose config matches (e.g. the RVQ-VAE) carry over and the rest start fresh (edge-text: "
                            "the text baseline from an edge run)")
    train.add_argument("--condition", metavar="KEY=VALUE,...",
                       help="condition encoder fields replaced in the preset, over the run config's (ablations: "
                            "kind=avgpool,pool=8; kind=conv1d,pool=8; kind=transformer_cls)")
    train.add_argument("--styles", help="utterance styles to train on, comma-separated (original, oral; default both)")
    train.add_argument("--engines", help="speech engines to train on, comma-separated (espeak-ng, festival; default "
                                          "both): espeak-ng alone leaves festival's voices for the engine-disjoint test")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--steps", type=int, help="override loop.max_steps")
    train.add_argument("--batch-size", type=int, help="override loop.batch_size (global over all processes)")
    train.add_argument("--seed", type=int, help="override loop.seed")
    train.set_defaults(func=_train)

    ev = subparsers.add_parser(
        "eval", help="measure a model with the paper's metrics (R-precision, FID, MM-Dist, Diversity, MModality)",
        description="Generate motion for every utterance of a dataset split (at ground-truth lengths) and compare it "
                    "with the real motion through the contrastive evaluator; repeated, with 95 % intervals. Writes a "
                    "Markdown table and a JSON beside it.")
    ev.add_argument("--model", type=Path, required=True, help="model folder")
    ev.add_argument("--data", type=Path, required=True, help="dataset folder (with audio manifests and splits)")
    ev.add_argument("--evaluator", type=Path, help="evaluator folder (default MODEL/evaluator)")
    ev.add_argument("--split", default="test", choices=("train", "val", "test"), help="default test")
    ev.add_argument("--styles", default="original,oral", help="utterance styles, comma-separated (default both)")
    ev.add_argument("--engines", default="espeak-ng,festival",
                    help="speech engines of the utterances, comma-separated (default both); festival alone is the "
                         "engine-disjoint test of a model trained with --engines espeak-ng")
    ev.add_argument("--respeak", choices=("festival",),
                    help="speak every selected utterance's words again with a festival voice (drawn per utterance "
                         "and --seed): the engine-disjoint test of a model trained with --engines espeak-ng, on the "
                         "same utterances as without it (about 0.5 s of synthesis per utterance)")
    ev.add_argument("--min-actions", type=int, default=1,
                    help="only clips of at least this many actions (the corpus's records), e.g. 2 for the "
                         "multi-action part of the split (default 1: all)")
    ev.add_argument("--noise-snr", type=float, help="add white noise at this SNR in dB first")
    ev.add_argument("--resample-from", type=int, help="as if recorded at this rate in Hz (e.g. 12000)")
    ev.add_argument("--repeats", type=int, default=20, help="repeats for the confidence interval (default 20)")
    ev.add_argument("--limit", type=int, help="a fixed random subset of this many utterances (default all)")
    ev.add_argument("--mm-conditions", type=int, default=100,
                    help="utterances for MultiModality, drawn afresh in every repeat (0 skips it)")
    ev.add_argument("--mm-generations", type=int, default=30, help="generations per MultiModality condition")
    add_decoding_arguments(ev)
    ev.add_argument("--asr", choices=("pocketsphinx",),
                    help="the cascade baseline: a text model (preset text or edge-text) reads what this recogniser "
                         "hears in the (degraded) audio instead of the captions; the report gives its word error rate")
    ev.add_argument("--onnx", type=Path, help="generate with this ONNX export of --model in onnxruntime (CPU), e.g. "
                    "its int8 export from `a2m export onnx --int8`, to measure what the export costs")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--report", type=Path, required=True, help="output .md (a .json is written beside it)")
    ev.set_defaults(func=_eval)

    follow = subparsers.add_parser(
        "eval-instructions", help="instruction-following benchmark: kinematic checks on generated joints",
        description="Speak each benchmark instruction (raise your right hand, walk forward, ...) and each two-step "
                    "instruction (walk forward, then wave with your right hand, ...) with voices the model never "
                    "heard in training, generate motion, and check it kinematically (the right wrist above the "
                    "shoulder, the pelvis moving forward, ...; for two steps the first in the clip's first 60 %, "
                    "the second in its last 60 %). Reports accuracy and the measured chance rate of both sets.")
    follow.add_argument("--model", type=Path, required=True, help="model folder")
    follow.add_argument("--voices", type=int, default=4,
                        help="how many voices speak each instruction (default 4; festival has 9)")
    follow.add_argument("--voices-from", choices=("test", "festival"), default="test",
                        help="test: voices of the corpus's test split (speaker-disjoint; default); festival: "
                             "festival's voices, unheard by a model trained with --engines espeak-ng "
                             "(engine-disjoint)")
    follow.add_argument("--noise-snr", type=float, nargs="*", default=[10.0],
                        help="also measure with white noise at these SNRs in dB (default 10)")
    follow.add_argument("--length-s", type=float,
                        help="generate every motion this many seconds long instead of the length the model predicts "
                             "(the corpus makes the two-step sequences 5.3 s on average): what the decoders do "
                             "given the time, apart from the length predictor")
    follow.add_argument("--two-step-template",
                        help="speak every two-step case in this phrasing, e.g. 'first {}, then {}' (default: each "
                             "case its own of '{}, then {}', 'first {}, then {}', '{} and then {}')")
    follow.add_argument("--probe", type=Path, metavar="CHECKPOINT",
                        help="a checkpoint of the condition run this model was trained from (RUN/checkpoints/step_N): "
                             "its slot probe reads which actions the condition heard, so each step is reported as "
                             "heard or not and done or not (heard but not done: lost in the decoders)")
    add_decoding_arguments(follow)
    follow.add_argument("--seed", type=int, default=0)
    follow.add_argument("--report", type=Path, required=True, help="output .json")
    follow.set_defaults(func=_eval_instructions)

    ship = subparsers.add_parser(
        "ship", help="write the inference-only copy of a trained model (float16, no RVQ-VAE encoder)",
        description="Write a trained model folder as the repository ships models/default: float16 weights without "
                    "the RVQ-VAE encoder (only training encodes motion), plus the evaluator used for its reports. "
                    "It generates like the full folder (to float16 rounding) but cannot seed further training.")
    ship.add_argument("--model", type=Path, required=True, help="trained model folder (RUN/model)")
    ship.add_argument("--evaluator", type=Path, help="evaluator folder to ship beside it (OUT/evaluator)")
    ship.add_argument("--out", type=Path, required=True, help="output folder, e.g. models/default")
    ship.set_defaults(func=_ship)
