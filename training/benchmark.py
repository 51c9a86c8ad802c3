"""Instruction-following benchmark: do generated joints do what the spoken instruction says?

Each case is an instruction spoken by voices the training split never heard (the corpus's test
voices) and a kinematic check on the generated joints (HumanML3D skeleton, Y up, the body
starts at the origin facing +Z, so its left is +X): the right wrist rises above the right
shoulder and higher than the left one for "raise your right hand", the pelvis travels along +Z
for "walk forward", and so on. Left and right, forward and backward come in pairs, so a model
that ignores the side or the direction scores about half on them.

Chance is measured, not assumed: the same checks run on the motions generated for *other*
instructions of the benchmark (each case paired with the motion of a case of another kind) give
the rate at which a check passes by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# HumanML3D / SMPL joint indices
PELVIS, L_ANKLE, R_ANKLE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 0, 7, 8, 16, 17, 20, 21, 1, 2
MIN_TRAVEL_M = 0.5
MIN_RISE_M = 0.1


def hand_raised(side: str) -> Callable[[np.ndarray], bool]:
    """The wrist of `side` gets above its shoulder, and clearly higher than the other wrist."""
    wrist, shoulder, other = (R_WRIST, R_SHOULDER, L_WRIST) if side == "right" else (L_WRIST, L_SHOULDER, R_WRIST)

    def check(joints: np.ndarray) -> bool:
        above = (joints[:, wrist, 1] - joints[:, shoulder, 1]).max()
        return bool(above > 0 and joints[:, wrist, 1].max() - joints[:, other, 1].max() > MIN_RISE_M)

    return check


def travels(direction: str) -> Callable[[np.ndarray], bool]:
    """The pelvis ends at least MIN_TRAVEL_M away along the direction (body frame of the first pose)."""
    axis, sign = {"forward": (2, 1), "backward": (2, -1), "left": (0, 1), "right": (0, -1)}[direction]

    def check(joints: np.ndarray) -> bool:
        shift = joints[-1, PELVIS] - joints[0, PELVIS]
        other = shift[2 - axis]  # the horizontal axis across the asked one
        return bool(sign * shift[axis] > MIN_TRAVEL_M and sign * shift[axis] > abs(other))

    return check


def foot_kicked(side: str) -> Callable[[np.ndarray], bool]:
    """The ankle of `side` rises clearly higher than the other ankle."""
    ankle, other = (R_ANKLE, L_ANKLE) if side == "right" else (L_ANKLE, R_ANKLE)

    def check(joints: np.ndarray) -> bool:
        rise = joints[:, ankle, 1] - joints[0, ankle, 1]
        other_rise = joints[:, other, 1] - joints[0, other, 1]
        return bool(rise.max() > 0.2 and rise.max() > other_rise.max() + MIN_RISE_M)

    return check


def sits() -> Callable[[np.ndarray], bool]:
    """The pelvis ends at least 0.25 m lower than it started."""
    return lambda joints: bool(joints[0, PELVIS, 1] - joints[-1, PELVIS, 1] > 0.25)


@dataclass(frozen=True)
class Case:
    kind: str  # cases of one kind share a check; chance pairs a case with motion of another kind
    instruction: str
    check: Callable[[np.ndarray], bool]


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


def chance_pairs(cases: tuple[Case, ...]) -> list[tuple[int, int]]:
    """(case, motion of another case) pairs: each case with every case of a different kind."""
    return [(i, j) for i, a in enumerate(cases) for j, b in enumerate(cases) if a.kind != b.kind]


@dataclass
class BenchmarkResult:
    accuracy: float  # share of (case, voice) generations whose check passed
    chance: float  # share of checks passing on motions generated for other kinds of instruction
    per_case: dict[str, float]
    num_trials: int

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "chance": self.chance, "per_case": self.per_case,
                "num_trials": self.num_trials}


def score(cases: tuple[Case, ...], joints: list[list[np.ndarray]]) -> BenchmarkResult:
    """joints[c][v]: the motion generated for case c spoken by voice v -> accuracy and chance."""
    passed = np.array([[case.check(j) for j in joints[c]] for c, case in enumerate(cases)])  # (c v)
    chance = np.mean([cases[i].check(j) for i, k in chance_pairs(cases) for j in joints[k]])
    per_case = {case.instruction: float(passed[c].mean()) for c, case in enumerate(cases)}
    return BenchmarkResult(float(passed.mean()), float(chance), per_case, int(passed.size))


def speak_cases(cases: tuple[Case, ...], num_voices: int, seed: int = 0) -> list[list[np.ndarray]]:
    """16 kHz speech of each instruction by num_voices voices of the corpus's test split (unseen in training)."""
    from training.data.tts import synthesize
    from training.data.voices import voice_pool, voices_for_split

    voices = voices_for_split(voice_pool(), "test")
    rng = np.random.default_rng(seed)
    chosen = [voices[i] for i in rng.choice(len(voices), min(num_voices, len(voices)), replace=False)]
    return [[synthesize(case.instruction, voice) for voice in chosen] for case in cases]


def run_benchmark(model, speech: list[list[np.ndarray]], *, noise_snr_db: float | None = None, seed: int = 0,
                  cases: tuple[Case, ...] = CASES) -> BenchmarkResult:
    """Generate motion for every spoken case (length predicted by the model) and score it."""
    import torch

    from a2m_core.generation import generate, make_noise
    from a2m_core.motion.features import codec_for
    from training.data.augment import add_noise

    codec = codec_for(model.config.dataset)
    mean, std = model.normalization
    joints: list[list[np.ndarray]] = []
    for c, spoken in enumerate(speech):
        clips = [add_noise(a, noise_snr_db, np.random.default_rng([seed, c, v])) if noise_snr_db is not None else a
                 for v, a in enumerate(spoken)]
        lens = torch.tensor([len(a) for a in clips])
        audio = torch.zeros(len(clips), int(lens.max()))
        for row, a in enumerate(clips):
            audio[row, :len(a)] = torch.from_numpy(np.asarray(a, dtype=np.float32))
        out = generate(model, audio, lens, noise=make_noise(model, len(clips), seed=seed * 1000 + c))
        joints.append([codec.decode(out.features[row, :int(out.lengths[row])].numpy() * std + mean)
                       for row in range(len(clips))])
    return score(cases, joints)
