"""Instruction-following evaluation: do generated joints do what the spoken instruction says?

Each case is an instruction spoken by voices that a model never heard in training (the corpus's
test voices, or festival's voices: the engine-disjoint benchmark of a model trained on espeak-ng
alone) and a kinematic check on the generated joints (HumanML3D skeleton, Y up, the body
starts at the origin facing +Z, so its left is +X): the right wrist rises above the right
shoulder and higher than the left one for "raise your right hand", the pelvis travels along +Z
for "walk forward", and so on. Left and right, forward and backward come in pairs, so a model
that ignores the side or the direction scores about half on them.

Two-step cases ("walk forward, then wave with your right hand") check their first action on
the first FIRST_SHARE of the clip and their second on the last FIRST_SHARE, with the same
checks run on those windows. Each check reads a window on its own terms: travel and sitting
compare the window's last frame with its first (net displacement inside the window), a raised
hand or a kick looks for a peak inside it, and a kick or a jump measures the ankles' rise from
their lowest point in the window (the floor), so a window that opens mid-step or mid-jump does
not shift the reference. Both orders of some pairs are asked for, and the windows overlap only
in the middle fifth, so a model that does the right actions in the wrong order fails where one
action travels and mostly fails elsewhere.

With a slot probe of the model's condition (training.instruction_slots.load_slot_probe), each step
is also scored for what the condition heard: whether the probe reads the step's action in its
place (HEARD_AS). Heard but not done is lost in the decoders; not heard, in the listening.

Chance is measured, not assumed: the same checks run on the motions generated for *other*
instructions of the benchmark (each case paired with the motion of every case that asks for a
different action at every step, reversed pairs included) give the rate at which a check passes
by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from a2m_core.runtime.interface import DecodingConfig


# HumanML3D / SMPL joint indices
PELVIS, L_ANKLE, R_ANKLE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 0, 7, 8, 16, 17, 20, 21, 1, 2
FPS = 20.0  # HumanML3D joints
MIN_TRAVEL_M = 0.5
MIN_RISE_M = 0.1
KICK_RISE_M = 0.2
JUMP_RISE_M = 0.1
SIT_DROP_M = 0.25
FIRST_SHARE = 0.6  # a two-step case's first action within the clip's first 60 %, its second within the last 60 %

Check = Callable[[np.ndarray], bool]


def hand_raised(side: str) -> Check:
    """The wrist of `side` gets above its shoulder, and clearly higher than the other wrist."""
    wrist, shoulder, other = (R_WRIST, R_SHOULDER, L_WRIST) if side == "right" else (L_WRIST, L_SHOULDER, R_WRIST)

    def check(joints: np.ndarray) -> bool:
        above = (joints[:, wrist, 1] - joints[:, shoulder, 1]).max()
        return bool(above > 0 and joints[:, wrist, 1].max() - joints[:, other, 1].max() > MIN_RISE_M)

    return check


def travels(direction: str, min_m: float = MIN_TRAVEL_M) -> Check:
    """The pelvis ends at least `min_m` away along the direction (body frame of the first pose)."""
    axis, sign = {"forward": (2, 1), "backward": (2, -1), "left": (0, 1), "right": (0, -1)}[direction]

    def check(joints: np.ndarray) -> bool:
        shift = joints[-1, PELVIS] - joints[0, PELVIS]
        other = shift[2 - axis]  # the horizontal axis across the asked one
        return bool(sign * shift[axis] > min_m and sign * shift[axis] > abs(other))

    return check


def _ankle_rise(joints: np.ndarray, ankle: int) -> np.ndarray:
    """(t) height of an ankle above its lowest point in the clip or window: the floor it stands on."""
    return joints[:, ankle, 1] - joints[:, ankle, 1].min()


def foot_kicked(side: str) -> Check:
    """The ankle of `side` rises clearly higher than the other ankle."""
    ankle, other = (R_ANKLE, L_ANKLE) if side == "right" else (L_ANKLE, R_ANKLE)

    def check(joints: np.ndarray) -> bool:
        rise, other_rise = _ankle_rise(joints, ankle).max(), _ankle_rise(joints, other).max()
        return bool(rise > KICK_RISE_M and rise > other_rise + MIN_RISE_M)

    return check


def jumps() -> Check:
    """Both ankles leave the floor together: in one frame each is more than JUMP_RISE_M up and they are
    within MIN_RISE_M of each other (walking keeps a foot down; a hop on one leg holds the other higher)."""

    def check(joints: np.ndarray) -> bool:
        left, right = _ankle_rise(joints, L_ANKLE), _ankle_rise(joints, R_ANKLE)
        together = np.abs(left - right) < MIN_RISE_M
        return bool((np.minimum(left, right)[together] > JUMP_RISE_M).any())

    return check


def sits() -> Check:
    """The pelvis ends at least SIT_DROP_M lower than it started."""
    return lambda joints: bool(joints[0, PELVIS, 1] - joints[-1, PELVIS, 1] > SIT_DROP_M)


@dataclass(frozen=True)
class Case:
    kind: str  # cases of one kind share a check; chance pairs a case with motion of another kind
    instruction: str
    check: Check

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.kind,)

    def passes(self, joints: np.ndarray) -> tuple[bool, ...]:
        return (self.check(joints),)


@dataclass(frozen=True)
class TwoStepCase:
    """Two actions in order: `first`'s check on the clip's first FIRST_SHARE, `second`'s on its last."""

    first: Case
    second: Case
    template: str = "{}, then {}"  # how the two single instructions are joined

    @property
    def instruction(self) -> str:
        return self.template.format(self.first.instruction, self.second.instruction)

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.first.kind, self.second.kind)

    def passes(self, joints: np.ndarray) -> tuple[bool, ...]:
        window = max(2, round(FIRST_SHARE * len(joints)))
        return (self.first.check(joints[:window]), self.second.check(joints[len(joints) - window:]))


CASES: tuple[Case, ...] = (
    Case("raise_right", "raise your right hand", hand_raised("right")),
    Case("raise_left", "raise your left hand", hand_raised("left")),
    Case("raise_right", "put your right arm up", hand_raised("right")),
    Case("raise_left", "put your left arm up", hand_raised("left")),
    Case("raise_right", "wave with your right hand", hand_raised("right")),
    Case("raise_left", "wave with your left hand", hand_raised("left")),
    Case("walk_forward", "walk forward", travels("forward")),
    Case("walk_backward", "walk backward", travels("backward")),
    Case("walk_left", "walk to the left", travels("left")),
    Case("walk_right", "walk to the right", travels("right")),
    Case("kick_right", "kick with your right leg", foot_kicked("right")),
    Case("kick_left", "kick with your left leg", foot_kicked("left")),
    Case("sit", "sit down", sits()),
)

# Steps of the two-step cases: the single cases, and two more. `make run`'s "walk forward, then wave with your
# right hand" asks for a real walk: at least 1 m (a corpus walk of 4 steps covers 0.5-1.1 m, so its own clips pass
# about 4 times in 5).
_STEP = {c.instruction: c for c in CASES}
_WALK_FORWARD_1M = Case("walk_forward", "walk forward", travels("forward", 1.0))
_JUMP = Case("jump", "jump once", jumps())

TWO_STEP_CASES: tuple[TwoStepCase, ...] = (
    TwoStepCase(_WALK_FORWARD_1M, _STEP["wave with your right hand"]),
    TwoStepCase(_STEP["wave with your right hand"], _STEP["walk forward"], "first {}, then {}"),
    TwoStepCase(_STEP["walk backward"], _STEP["raise your right hand"], "{} and then {}"),
    TwoStepCase(_STEP["raise your right hand"], _STEP["walk backward"], "{} and then {}"),
    TwoStepCase(_JUMP, _STEP["kick with your left leg"]),
    TwoStepCase(_STEP["kick with your left leg"], _JUMP, "first {}, then {}"),
    TwoStepCase(_STEP["kick with your right leg"], _STEP["raise your left hand"]),
    TwoStepCase(_STEP["raise your left hand"], _STEP["kick with your right leg"], "{} and then {}"),
    TwoStepCase(_STEP["wave with your left hand"], _STEP["sit down"], "first {}, then {}"),
    TwoStepCase(_STEP["walk to the left"], _STEP["sit down"], "{} and then {}"),
)

AnyCase = Case | TwoStepCase

# What a condition-stage slot probe must read for a step of each kind: the corpus's action kinds that the
# step's check accepts (training.data.spec), and the side or direction it asks for.
HEARD_AS: dict[str, tuple[frozenset[str], str | None, str | None]] = {
    "raise_right": (frozenset({"raise_arms", "wave"}), "right", None),
    "raise_left": (frozenset({"raise_arms", "wave"}), "left", None),
    **{f"walk_{d}": (frozenset({"walk"}), None, d) for d in ("forward", "backward", "left", "right")},
    "kick_right": (frozenset({"kick"}), "right", None),
    "kick_left": (frozenset({"kick"}), "left", None),
    "sit": (frozenset({"sit_down"}), None, None),
    "jump": (frozenset({"jump_in_place", "jump_forward"}), None, None),
}


def heard(case: AnyCase, reading: list[dict]) -> tuple[bool, ...]:
    """Per step of a case: does the probe's reading (SlotProbe.read) name the step's action in its place?"""
    def named(step: int, kind: str) -> bool:
        if step >= len(reading):
            return False
        kinds, side, direction = HEARD_AS[kind]
        action = reading[step]
        return action["kind"] in kinds and side in (None, action["side"]) and direction in (None, action["direction"])

    return tuple(named(step, kind) for step, kind in enumerate(case.steps))


def chance_pairs(cases: tuple[AnyCase, ...]) -> list[tuple[int, int]]:
    """(case, motion of another case) pairs: each case with every case that differs in kind at every step."""
    return [(i, j) for i, a in enumerate(cases) for j, b in enumerate(cases)
            if all(x != y for x, y in zip(a.steps, b.steps))]


@dataclass
class BenchmarkResult:
    accuracy: float  # share of (case, voice) generations whose check passed (every step, for two-step cases)
    chance: float  # share of checks passing on motions generated for other kinds of instruction
    per_case: dict[str, float]
    num_trials: int
    mean_length_s: float  # of the generated motions: a two-step instruction needs time for both
    per_case_length_s: dict[str, float]  # mean length per case: a walk too short to cover its distance shows here
    per_step: list[float] | None = None  # two-step cases: pass rate of the first and of the second step
    heard: list[dict] | None = None  # with a slot probe, per step: how often heard, and done when heard or not

    def to_dict(self) -> dict:
        out = {"accuracy": self.accuracy, "chance": self.chance, "per_case": self.per_case,
               "num_trials": self.num_trials, "mean_length_s": self.mean_length_s,
               "per_case_length_s": self.per_case_length_s}
        if self.per_step is not None:
            out["per_step"] = self.per_step
        if self.heard is not None:
            out["heard"] = self.heard
        return out


def _heard_and_done(heard_steps: np.ndarray, done_steps: np.ndarray) -> list[dict]:
    """(trials steps) bools -> per step: share heard, and share done among the heard and the unheard trials."""
    def share(done: np.ndarray) -> float | None:
        return float(done.mean()) if done.size else None

    return [{"heard": float(h.mean()), "done_when_heard": share(d[h]), "done_when_not_heard": share(d[~h]),
             "trials": int(h.size)} for h, d in zip(heard_steps.T, done_steps.T)]


def score(cases: tuple[AnyCase, ...], joints: list[list[np.ndarray]],
          readings: list[list[list[dict]]] | None = None) -> BenchmarkResult:
    """joints[c][v]: the motion generated for case c spoken by voice v -> accuracy and chance; with
    readings[c][v], a slot probe's reading of the same utterance's condition, also what was heard."""
    steps = np.array([[case.passes(j) for j in joints[c]] for c, case in enumerate(cases)])  # (c v steps)
    passed = steps.all(-1)  # (c v)
    chance = np.mean([all(cases[i].passes(j)) for i, k in chance_pairs(cases) for j in joints[k]])
    per_case = {case.instruction: float(passed[c].mean()) for c, case in enumerate(cases)}
    per_step = steps.reshape(-1, steps.shape[-1]).mean(0).tolist() if steps.shape[-1] > 1 else None
    length = float(np.mean([len(j) for per_voice in joints for j in per_voice])) / FPS
    per_case_length = {case.instruction: float(np.mean([len(j) for j in joints[c]])) / FPS
                       for c, case in enumerate(cases)}
    heard_steps = None
    if readings is not None:
        was_heard = np.array([[heard(case, r) for r in readings[c]] for c, case in enumerate(cases)])  # (c v steps)
        heard_steps = _heard_and_done(was_heard.reshape(-1, steps.shape[-1]), steps.reshape(-1, steps.shape[-1]))
    return BenchmarkResult(float(passed.mean()), float(chance), per_case, int(passed.size), length, per_case_length,
                           per_step, heard_steps)


VOICE_SOURCES = ("test", "festival")


def eval_voices(source: str, num_voices: int, seed: int = 0) -> list:
    """`num_voices` voices that a model never heard in training (fewer where the source has fewer).

    source "test": the corpus's test-split voices; "festival": festival's identities (none heard by
    a model trained on espeak-ng alone), taken round-robin over its voices so that the first three
    are three different voices.
    """
    from a2m_core.audio.speech import FESTIVAL_VOICES
    from training.data.voices import voice_pool, voices_for_split

    if source not in VOICE_SOURCES:
        raise ValueError(f"voice source must be one of {VOICE_SOURCES}, got {source!r}")
    if num_voices < 1:
        raise ValueError(f"need at least one voice, got {num_voices}")
    rng = np.random.default_rng(seed)
    if source == "test":
        voices = voices_for_split(voice_pool(), "test")
        return [voices[i] for i in rng.choice(len(voices), min(num_voices, len(voices)), replace=False)]
    per_name = [[v for v in voice_pool() if v.engine == "festival" and v.name == name] for name in FESTIVAL_VOICES]
    per_name = [[group[i] for i in rng.permutation(len(group))] for group in per_name]
    return [v for settings in zip(*per_name) for v in settings][:num_voices]


def speak_cases(cases: tuple[AnyCase, ...], voices: list, progress: bool = False) -> list[list[np.ndarray]]:
    """16 kHz speech of each instruction by each voice (training.data.voices.Voice)."""
    from tqdm import tqdm

    from a2m_core.audio.speech import synthesize

    bar = tqdm(total=len(cases) * len(voices), desc="speaking", disable=not progress)
    speech = []
    for case in cases:
        speech.append([synthesize(case.instruction, voice) for voice in voices])
        bar.update(len(voices))
    bar.close()
    return speech


def evaluate_instructions(model, speech: list[list[np.ndarray]], *, noise_snr_db: float | None = None, seed: int = 0,
                          cases: tuple[AnyCase, ...] = CASES, length_s: float | None = None,
                          decoding: DecodingConfig = DecodingConfig(), probe=None) -> BenchmarkResult:
    """Generate motion for every spoken case and score it; its length predicted by the model, or
    length_s seconds for every motion (what the decoders do given time, without the length predictor).
    With probe (a SlotProbe of the model's condition), also score what the condition heard."""
    from training.data.augment import add_noise

    joints: list[list[np.ndarray]] = []
    readings: list[list[list[dict]]] = []
    for c, spoken in enumerate(speech):
        clips = [add_noise(a, noise_snr_db, np.random.default_rng([seed, c, v])) if noise_snr_db is not None else a
                 for v, a in enumerate(spoken)]
        joints.append(generate_joints(model, clips, seed=seed * 1000 + c, length_s=length_s, decoding=decoding))
        if probe is not None:
            readings.append(read_condition(model, probe, clips))
    return score(cases, joints, readings if probe is not None else None)


def read_condition(model, probe, clips: list[np.ndarray]) -> list[list[dict]]:
    """16 kHz utterances -> the actions a slot probe reads in the model's condition of each (SlotProbe.read)."""
    import torch

    from a2m_core.decoding import pad_audio
    from training.instruction_slots import pooled_condition

    audio, lens = pad_audio(clips)
    with torch.no_grad():
        return probe.read(pooled_condition(*model.encode_audio(audio, lens)))


def generate_joints(model, clips: list[np.ndarray], *, seed: int = 0, length_s: float | None = None,
                    decoding: DecodingConfig = DecodingConfig()) -> list[np.ndarray]:
    """16 kHz utterances -> the joints (t 22 3) of the motion generated for each, in one batch; its length
    predicted by the model, or length_s seconds."""
    import torch

    from a2m_core.decoding import generate, make_noise, pad_audio
    from a2m_core.motion.features import codec_for

    codec = codec_for(model.config.dataset)
    mean, std = model.normalization
    audio, lens = pad_audio(clips)
    lengths = None if length_s is None else torch.full((len(clips),), round(length_s * FPS))
    noise = make_noise(model, len(clips), decoding.num_iters, seed=seed)
    out = generate(model, audio, lens, lengths, noise=noise, **decoding.to_dict())
    return [codec.decode(out.features[row, :int(out.lengths[row])].numpy() * std + mean) for row in range(len(clips))]
