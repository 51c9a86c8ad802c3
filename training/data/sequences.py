"""Clips of 1 to 3 actions: which actions may follow which, their joined motion and length limits.

A clip is 2 to 9.8 s at 20 fps (41 to 196 joint frames: 40 to 195 feature frames, HumanML3D's range). Sitting down must be
the last action or be followed by standing up; standing up needs a seated start. Clips that
come out short are padded by standing (or sitting) still at the end; long ones are redrawn.

A sit-down that ends a clip may be followed by sitting still for a random while (`seated_hold`):
without it a lone sit-down is always about 2 s and a sit-down-then-stand-up always longer, so a
model given a longer clip for "sit down" fills it by standing up again. And a share of clips may be
drawn to end seated (`seated_endings`): drawn freely, about 2 in 100 do, and a model trained on
them stands up again at the end of "sit down".

A chain too long for one clip is drawn again (`overlong="redraw"`), which makes the long actions
(walks of up to 5.5 s) rarer than their weighting asks; `overlong="shorten"` keeps its longest first
part that fits instead, which brings them much closer to their weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data.actions import generate
from training.data.spec import ACTION_KINDS, ActionKind, ActionSpec, sample_spec
from training.data.track import Track, concat, render, still

# joint frames; the features have one frame fewer, and MoMask's loaders drop clips under 40 feature frames
MIN_FRAMES, MAX_FRAMES = 41, 196
MAX_ACTIONS = 3
# How the next action's kind is drawn: "kinds" gives every kind the same chance; "meanings" gives every
# side or direction of a kind its own share (walking forward as often as sitting down), so the kinds a
# listener must tell apart by one word are not four times rarer than the others.
KIND_WEIGHTINGS = ("kinds", "meanings")
# What happens to a chain longer than MAX_FRAMES: drawn again, or cut to its longest first part that fits.
OVERLONG = ("redraw", "shorten")


@dataclass(frozen=True)
class Clip:
    """One procedural clip: its actions and joint positions (n 22 3), Y up, metres, 20 fps."""

    specs: tuple[ActionSpec, ...]
    joints: np.ndarray


def _meanings(kind: ActionKind) -> int:
    """How many actions a kind stands for when its side or direction changes what is asked."""
    return max(1, len(kind.sides), len(kind.directions))


def _draw_kind(candidates: list[ActionKind], rng: np.random.Generator, weighting: str) -> ActionKind:
    if weighting == "kinds":
        return candidates[int(rng.integers(len(candidates)))]
    weights = np.array([_meanings(k) for k in candidates], dtype=np.float64)
    return candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]


def sample_specs(rng: np.random.Generator, num_actions: int, weighting: str = "kinds",
                 end_seated: bool = False) -> list[ActionSpec]:
    """A random chain of `num_actions` actions whose start and end poses fit together (weighting: KIND_WEIGHTINGS);
    with `end_seated`, its last action is one that ends seated wherever one can follow."""
    if not 1 <= num_actions <= MAX_ACTIONS:
        raise ValueError(f"num_actions must be 1..{MAX_ACTIONS}, got {num_actions}")
    if weighting not in KIND_WEIGHTINGS:
        raise ValueError(f"weighting must be one of {KIND_WEIGHTINGS}, got {weighting!r}")
    state = "sit" if rng.random() < 0.04 else "stand"
    specs: list[ActionSpec] = []
    for position in range(num_actions):
        candidates = [k for k in ACTION_KINDS.values() if k.start_pose == state]  # after sit_down: stand_up
        if end_seated and position == num_actions - 1:
            candidates = [k for k in candidates if k.end_pose == "sit"] or candidates
        kind = _draw_kind(candidates, rng, weighting)
        specs.append(sample_spec(kind, rng))
        state = kind.end_pose
    return specs


def sequence_track(specs: list[ActionSpec], rng: np.random.Generator, seated_hold: int = 0) -> Track:
    """The joined controls of an action chain, padded by holding the end pose up to MIN_FRAMES.

    A chain that ends seated then sits still for 0 to `seated_hold` frames (uniform); the random
    draw is made only for such chains, so every other chain comes out as without it.
    """
    return _join(specs, [generate(spec, rng) for spec in specs], rng, seated_hold)


def _join(specs: list[ActionSpec], tracks: list[Track], rng: np.random.Generator, seated_hold: int) -> Track:
    """sequence_track of actions whose tracks are already generated."""
    tracks = list(tracks)
    if seated_hold > 0 and specs[-1].action_kind.end_pose == "sit":
        tracks.append(still(int(rng.integers(seated_hold + 1)) + 1, "sit"))
    track = concat(tracks)
    if track.num_frames < MIN_FRAMES:
        track = concat([track, still(MIN_FRAMES - track.num_frames + 1, specs[-1].action_kind.end_pose)])
    return track


def fit_chain(specs: list[ActionSpec], rng: np.random.Generator, seated_hold: int, overlong: str,
              end_seated: bool) -> tuple[list[ActionSpec], Track] | None:
    """The chain (or, with overlong="shorten", its longest first part) joined within MAX_FRAMES, or None.

    A first part must still end seated when the chain was drawn to.
    """
    tracks = [generate(spec, rng) for spec in specs]
    track = _join(specs, tracks, rng, seated_hold)
    if track.num_frames <= MAX_FRAMES:
        return specs, track
    if overlong == "shorten":
        for n in range(len(specs) - 1, 0, -1):
            if end_seated and specs[n - 1].action_kind.end_pose != "sit":
                continue
            track = _join(specs[:n], tracks[:n], rng, seated_hold)
            if track.num_frames <= MAX_FRAMES:
                return specs[:n], track
    return None


def sample_clip(rng: np.random.Generator, max_tries: int = 100, weighting: str = "kinds",
                seated_hold: int = 0, seated_endings: float = 0.0, overlong: str = "redraw") -> Clip:
    """A random clip of 1-3 actions between MIN_FRAMES and MAX_FRAMES long (see sequence_track for seated_hold).

    A share `seated_endings` of the clips is drawn to end seated; the draw for it is made only when
    the share is above 0, so clips come out as without it then. A chain too long is drawn again or
    shortened (`overlong`, one of OVERLONG; the module's docstring says why).
    """
    if overlong not in OVERLONG:
        raise ValueError(f"overlong must be one of {OVERLONG}, got {overlong!r}")
    for _ in range(max_tries):
        end_seated = seated_endings > 0 and rng.random() < seated_endings
        specs = sample_specs(rng, int(rng.integers(1, MAX_ACTIONS + 1)), weighting, end_seated)
        fitted = fit_chain(specs, rng, seated_hold, overlong, end_seated)
        if fitted is not None:
            specs, track = fitted
            return Clip(tuple(specs), render(track))
    raise RuntimeError(f"no clip within {MAX_FRAMES} frames in {max_tries} tries")
