"""The action vocabulary shared by the motion library, the caption grammar and the sequencer.

An `ActionSpec` names one action and its parameters; the motion library turns it into
motion, the caption grammar into words. Keeping the vocabulary here keeps both in step:
a test checks that every kind has a motion generator and caption templates.
"""

from __future__ import annotations

from dataclasses import dataclass

SIDES_LR = ("left", "right")
SIDES_LRB = ("left", "right", "both")
SPEEDS = ("slow", "normal", "fast")
AMPLITUDE_RANGE = (0.6, 1.4)
DURATION_SCALE_RANGE = (0.6, 1.6)
# Kinds whose meaning survives scaling their joint angles (a clap must still meet, a squat still reach down).
AMPLITUDE_KINDS = frozenset({"wave", "raise_arms", "arm_circles", "bow", "lean", "nod", "shake_head", "stretch",
                             "reach_forward", "shrug", "throw", "punch", "crouch_look_around", "stand_still"})


@dataclass(frozen=True)
class ActionKind:
    """What parameters one kind of action takes and which pose it starts and ends in."""

    name: str
    sides: tuple[str, ...] = ()  # allowed values of ActionSpec.side; empty: no side
    directions: tuple[str, ...] = ()  # allowed values of ActionSpec.direction; empty: none
    counts: tuple[int, ...] = ()  # allowed repetition counts; empty: not countable
    speeds: tuple[str, ...] = ("normal",)
    start_pose: str = "stand"  # "stand" or "sit"
    end_pose: str = "stand"


_K = ActionKind
ACTION_KINDS: dict[str, ActionKind] = {
    k.name: k
    for k in (
        _K("walk", directions=("forward", "backward", "left", "right"), counts=(4, 6, 8), speeds=SPEEDS),
        _K("walk_circle", sides=SIDES_LR, speeds=("slow", "normal")),
        _K("run", counts=(6, 8, 10), speeds=("normal", "fast")),
        _K("jog_in_place", counts=(6, 8, 10)),
        _K("turn", sides=SIDES_LR),
        _K("turn_around", sides=SIDES_LR),
        _K("jump_in_place", counts=(1, 2, 3)),
        _K("jump_forward", counts=(1, 2)),
        _K("squat", counts=(1, 2, 3), speeds=("slow", "normal")),
        _K("sit_down", end_pose="sit"),
        _K("stand_up", start_pose="sit"),
        _K("kneel"),
        _K("wave", sides=SIDES_LRB, counts=(2, 3, 4)),
        _K("raise_arms", sides=SIDES_LRB),
        _K("clap", counts=(2, 3, 4, 5)),
        _K("punch", sides=SIDES_LR, counts=(1, 2, 3), speeds=("normal", "fast")),
        _K("kick", sides=SIDES_LR, counts=(1, 2)),
        _K("bow"),
        _K("side_step", sides=SIDES_LR, counts=(1, 2, 3)),
        _K("march", counts=(4, 6, 8)),
        _K("stretch"),
        _K("spin", sides=SIDES_LR),
        _K("hop", sides=SIDES_LR, counts=(2, 3, 4)),
        _K("crouch_look_around"),
        _K("nod", counts=(2, 3)),
        _K("shake_head", counts=(2, 3)),
        _K("arm_circles", sides=SIDES_LRB, counts=(2, 3)),
        _K("lunge", sides=SIDES_LR),
        _K("stomp", sides=SIDES_LR, counts=(1, 2, 3)),
        _K("reach_forward", sides=SIDES_LRB),
        _K("shrug", counts=(1, 2)),
        _K("throw", sides=SIDES_LR),
        _K("lean", sides=SIDES_LR),
        _K("touch_toes"),
        _K("jumping_jacks", counts=(2, 3, 4)),
        _K("stand_still"),
    )
}


@dataclass(frozen=True)
class ActionSpec:
    """One action with its parameters; None where the kind does not take the parameter."""

    kind: str
    side: str | None = None
    direction: str | None = None
    count: int | None = None
    speed: str = "normal"
    amplitude: float = 1.0  # scales the joint angles of kinds in AMPLITUDE_KINDS ("a big wave")
    duration_scale: float = 1.0  # stretches the action in time (> 1: slower)

    def __post_init__(self) -> None:
        if not (AMPLITUDE_RANGE[0] <= self.amplitude <= AMPLITUDE_RANGE[1]
                and DURATION_SCALE_RANGE[0] <= self.duration_scale <= DURATION_SCALE_RANGE[1]):
            raise ValueError(f"{self.kind}: amplitude {self.amplitude} must be in {AMPLITUDE_RANGE} and "
                             f"duration_scale {self.duration_scale} in {DURATION_SCALE_RANGE}")
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}; known: {', '.join(ACTION_KINDS)}")
        k = ACTION_KINDS[self.kind]
        for field, value, allowed in (
            ("side", self.side, k.sides),
            ("direction", self.direction, k.directions),
            ("count", self.count, k.counts),
        ):
            if (value is None) != (not allowed) or (value is not None and value not in allowed):
                raise ValueError(f"{self.kind}: {field}={value!r}, expected one of {allowed or (None,)}")
        if self.speed not in k.speeds:
            raise ValueError(f"{self.kind}: speed={self.speed!r}, expected one of {k.speeds}")

    @property
    def action_kind(self) -> ActionKind:
        return ACTION_KINDS[self.kind]


def sample_spec(kind: ActionKind, rng) -> ActionSpec:
    """A random parameter setting of `kind` (rng: numpy Generator)."""

    def pick(choices):
        return None if not choices else choices[int(rng.integers(len(choices)))]

    amplitude = float(rng.uniform(0.85, 1.15)) if kind.name in AMPLITUDE_KINDS else 1.0
    return ActionSpec(kind.name, side=pick(kind.sides), direction=pick(kind.directions), count=pick(kind.counts),
                      speed=pick(kind.speeds), amplitude=round(amplitude, 3),
                      duration_scale=round(float(rng.uniform(0.9, 1.15)), 3))
