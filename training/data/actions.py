"""The procedural motion library: one generator per action kind, ActionSpec -> Track.

Every generator starts and ends in the neutral pose of its kind's start/end pose (standing,
or sitting for sit_down/stand_up) at the origin facing +Z, with zero velocity at both ends,
so that `track.concat` joins any sequence smoothly. Timings and amplitudes vary a little
with the random generator so that two clips of one spec are not identical. Angles follow
`track.Track`: Euler x, y, z at a joint in its parent's neutral frame (x left, y up,
z forward); a positive x rotation tips a bone forward, a positive z rotation at the left
shoulder lifts the arm sideways; right-side angles are mirrored (x, -y, -z).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from training.data.spec import AMPLITUDE_KINDS, ActionSpec
from training.data.track import FIELDS, FLAT_PITCH, FOOT_LENGTHS, FPS, LEFT, RIGHT, SIT_PELVIS, STAND_PELVIS_Y, Track, concat, \
    neutral_toes, retimed, still

PELVIS, SPINE1, SPINE2, SPINE3, NECK = 0, 3, 6, 9, 12
COLLAR = (13, 14)
SHOULDER = (16, 17)
ELBOW = (18, 19)
_MIRROR = np.array([1.0, -1.0, -1.0])
_STEP_FRAMES = {"slow": 14, "normal": 11, "fast": 9}
_STRIDE_M = {"slow": 0.22, "normal": 0.3, "fast": 0.36}  # body advance per step

Rng = np.random.Generator


def _frames(seconds: float) -> int:
    return max(2, int(round(seconds * FPS)))


def _smooth(t: np.ndarray) -> np.ndarray:
    """Smoothstep of t clipped to [0, 1]: zero slope at both ends."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ramp(n: int) -> np.ndarray:
    """0 -> 1 over n frames, smooth."""
    return _smooth(np.linspace(0.0, 1.0, n))


def _envelope(n: int, rise: int, fall: int | None = None) -> np.ndarray:
    """0 -> 1 in `rise` frames, hold, 1 -> 0 in `fall` frames: (n)."""
    t = np.arange(n, dtype=np.float64)
    fall = rise if fall is None else fall
    return np.minimum(_smooth(t / max(rise, 1)), _smooth((n - 1 - t) / max(fall, 1)))


def _deg(*angles: float) -> np.ndarray:
    return np.radians(np.asarray(angles, dtype=np.float64))


def _sides(side: str | None) -> tuple[int, ...]:
    return {"left": (LEFT,), "right": (RIGHT,), "both": (LEFT, RIGHT), None: (RIGHT,)}[side]


def _vary(rng: Rng, value: float, fraction: float = 0.12) -> float:
    return float(value * (1.0 + rng.uniform(-fraction, fraction)))


class _Pose:
    """Mutable arrays of a track under construction (starting from a still pose)."""

    def __init__(self, num_frames: int, pose: str = "stand"):
        base = still(num_frames, pose)
        self.n = num_frames
        self.root, self.yaw, self.rot = base.root.copy(), base.yaw.copy(), base.rot.copy()
        self.toes, self.foot_yaw, self.heel = base.toes.copy(), base.foot_yaw.copy(), base.heel.copy()

    def limb(self, joints: tuple[int, int], side: int, angles: np.ndarray) -> None:
        """Add (n 3) or (3) angles at a left/right joint pair, mirrored for the right side."""
        self.rot[:, joints[side]] += angles * (_MIRROR if side == RIGHT else 1.0)

    def track(self) -> Track:
        return Track(self.root, self.yaw, self.rot, self.toes, self.foot_yaw, self.heel)


def _weight(env: np.ndarray) -> np.ndarray:
    return env[:, None]


# ----------------------------------------------------------------------------- stepping

def _gait(plan: list[tuple[int, float, float, float, float]], step_frames: int, lift_m: float,
          bob_m: float = 0.012, arm_swing_deg: float = 18.0, toe_back_m: float = 0.0) -> _Pose:
    """Footsteps: plan = [(side, x, z, yaw, ahead_m)] moves foot `side` to its neutral place beside a
    body at (x, z, yaw), `ahead_m` further along that heading. A foot rises before it moves and
    moves only while it is above the contact height, so planted feet never slide.
    """
    n = len(plan) * step_frames + 1
    p = _Pose(n)
    toes = neutral_toes(np.zeros((1, 2)), np.zeros(1))[0]  # (2 3)
    foot_yaw = np.zeros(2)
    swing_arm = np.zeros(n)  # +1: left arm fully forward
    t = np.linspace(0.0, 1.0, step_frames + 1)
    horizontal = _smooth((t - 0.2) / 0.6)
    height = lift_m * np.sin(np.pi * t)
    for k, (side, x, z, yaw, ahead) in enumerate(plan):
        target = neutral_toes(np.array([[x + ahead * np.sin(yaw), z + ahead * np.cos(yaw)]]), np.array([yaw]))[0, side]
        frames = slice(k * step_frames, (k + 1) * step_frames + 1)
        p.toes[frames] = toes
        p.foot_yaw[frames] = foot_yaw
        p.toes[frames, side] = toes[side] + horizontal[:, None] * (target - toes[side])
        p.toes[frames, side, 1] = height
        p.toes[frames, side, 2] -= toe_back_m * np.sin(np.pi * t) * np.cos(yaw)
        p.toes[frames, side, 0] -= toe_back_m * np.sin(np.pi * t) * np.sin(yaw)
        p.foot_yaw[frames, side] = foot_yaw[side] + horizontal * (yaw - foot_yaw[side])
        sign = -1.0 if side == LEFT else 1.0  # the arm opposite the stepping foot comes forward
        swing_arm[frames] = sign * (2.0 * horizontal - 1.0)
        p.root[frames, 1] = STAND_PELVIS_Y - bob_m * np.cos(np.pi * t) ** 2
        toes[side], foot_yaw[side] = target, yaw
    sigma = step_frames * 0.6
    reach = FOOT_LENGTHS * np.cos(FLAT_PITCH)  # (2) toe ahead of the ankle, flat foot
    ankles_xz = p.toes[:, :, [0, 2]] - reach[:, None] * np.stack([np.sin(p.foot_yaw), np.cos(p.foot_yaw)], -1)
    xz = ankles_xz.mean(axis=1)  # (n 2) the pelvis stays above the middle of the ankles
    mean_yaw = p.foot_yaw.mean(axis=1)
    p.yaw = _smoothed_keeping_ends(mean_yaw, sigma, step_frames)
    p.root[:, [0, 2]] = _smoothed_keeping_ends(xz, sigma, step_frames)
    env = _envelope(n, step_frames, step_frames)
    p.root[:, 1] = STAND_PELVIS_Y - gaussian_filter1d(STAND_PELVIS_Y - p.root[:, 1], 2.0, mode="nearest") * env
    arm = np.radians(arm_swing_deg) * gaussian_filter1d(swing_arm, 2.0, mode="nearest") * env
    for side, sign in ((LEFT, -1.0), (RIGHT, 1.0)):
        angle = np.zeros((n, 3))
        angle[:, 0] = sign * arm
        p.limb(SHOULDER, side, angle)
    return p


def _smoothed_keeping_ends(x: np.ndarray, sigma: float, ramp_frames: int) -> np.ndarray:
    """Gaussian smoothing over time, corrected so that the first and last values stay exact.

    (n ...) -> (n ...). The next action starts from the exact end pose, so joins do not jump.
    """
    y = gaussian_filter1d(x, sigma, axis=0, mode="nearest")
    n = len(x)
    weights = np.zeros(n)
    weights[:ramp_frames] = 1 - _ramp(min(ramp_frames, n))[: min(ramp_frames, n)]
    tail = np.zeros(n)
    tail[n - ramp_frames:] = _ramp(min(ramp_frames, n))[-ramp_frames:]
    shape = (n,) + (1,) * (x.ndim - 1)
    return y + weights.reshape(shape) * (x[0] - y[0]) + tail.reshape(shape) * (x[-1] - y[-1])


def _walk_plan(num_steps: int, stride: float, first: int = LEFT) -> list[tuple[int, float, float, float, float]]:
    """Straight steps along +Z (stride < 0: backwards); the last step brings the feet together."""
    plan = []
    for k in range(1, num_steps + 1):
        side = first if k % 2 else 1 - first
        if k < num_steps:
            plan.append((side, 0.0, (k - 0.5) * stride, 0.0, stride / 2))
        else:
            plan.append((side, 0.0, (k - 1) * stride, 0.0, 0.0))
    return plan


def _turn_plan(total_yaw: float, num_steps: int) -> list[tuple[int, float, float, float, float]]:
    """Steps on the spot, each turning further; a closing step brings the feet side by side."""
    first = LEFT if total_yaw > 0 else RIGHT  # step with the foot on the side you turn to
    plan = [(first if k % 2 == 0 else 1 - first, 0.0, 0.0, total_yaw * (k + 1) / num_steps, 0.0)
            for k in range(num_steps)]
    return plan + [(1 - plan[-1][0], 0.0, 0.0, total_yaw, 0.0)]


def walk(spec: ActionSpec, rng: Rng) -> Track:
    if spec.direction in ("left", "right"):
        turn_spec = ActionSpec("turn", side=spec.direction)
        return concat([turn(turn_spec, rng), walk(replace(spec, direction="forward"), rng)])
    stride = _vary(rng, _STRIDE_M[spec.speed]) * (1.0 if spec.direction == "forward" else -0.75)
    p = _gait(_walk_plan(spec.count, stride), _STEP_FRAMES[spec.speed], _vary(rng, 0.11, 0.1))
    return p.track()


def walk_circle(spec: ActionSpec, rng: Rng) -> Track:
    radius = _vary(rng, 0.8)
    num_steps = 10 if spec.speed == "normal" else 12
    sign = 1.0 if spec.side == "left" else -1.0
    plan = []
    for k in range(1, num_steps + 2):  # the last step closes the feet at the end of the circle
        theta = 2 * np.pi * min(k, num_steps) / num_steps
        plan.append((LEFT if k % 2 else RIGHT, sign * radius * (1 - np.cos(theta)), radius * np.sin(theta),
                     sign * theta, 0.0))
    return _gait(plan, _STEP_FRAMES[spec.speed], 0.11).track()


def run(spec: ActionSpec, rng: Rng) -> Track:
    stride = _vary(rng, 0.5 if spec.speed == "normal" else 0.6)
    p = _gait(_walk_plan(spec.count, stride), 8 if spec.speed == "normal" else 7, 0.16, bob_m=0.04,
              arm_swing_deg=40)
    env = _envelope(p.n, 8)
    p.rot[:, SPINE1, 0] += _deg(12) * env
    for side in (LEFT, RIGHT):
        p.limb(ELBOW, side, _deg(-80, 0, 0) * _weight(env))
    return p.track()


def jog_in_place(spec: ActionSpec, rng: Rng) -> Track:
    plan = [(LEFT if k % 2 == 0 else RIGHT, 0.0, 0.0, 0.0, 0.0) for k in range(spec.count)]
    p = _gait(plan, 7, _vary(rng, 0.14), bob_m=0.03, arm_swing_deg=30, toe_back_m=0.12)
    env = _envelope(p.n, 7)
    for side in (LEFT, RIGHT):
        p.limb(ELBOW, side, _deg(-85, 0, 0) * _weight(env))
    return p.track()


def march(spec: ActionSpec, rng: Rng) -> Track:
    plan = [(LEFT if k % 2 == 0 else RIGHT, 0.0, 0.0, 0.0, 0.0) for k in range(spec.count)]
    p = _gait(plan, 13, _vary(rng, 0.3), arm_swing_deg=35)
    return p.track()


def turn(spec: ActionSpec, rng: Rng) -> Track:
    yaw = np.radians(_vary(rng, 90.0, 0.05)) * (1 if spec.side == "left" else -1)
    return _gait(_turn_plan(yaw, 2), 12, 0.1, arm_swing_deg=5).track()


def turn_around(spec: ActionSpec, rng: Rng) -> Track:
    yaw = np.pi * (1 if spec.side == "left" else -1)
    return _gait(_turn_plan(yaw, 4), 11, 0.1, arm_swing_deg=5).track()


def spin(spec: ActionSpec, rng: Rng) -> Track:
    yaw = 2 * np.pi * (1 if spec.side == "left" else -1)
    p = _gait(_turn_plan(yaw, 5), 8, 0.1, arm_swing_deg=0)
    env = _envelope(p.n, 8)
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(0, 0, 45) * _weight(env))
    return p.track()


def side_step(spec: ActionSpec, rng: Rng) -> Track:
    lead = LEFT if spec.side == "left" else RIGHT
    sign = 1.0 if spec.side == "left" else -1.0
    width = _vary(rng, 0.3)
    # the lead foot steps out to the body's next place, then the trailing foot closes to the stance
    plan = [(foot, sign * width * k, 0.0, 0.0, 0.0) for k in range(1, spec.count + 1) for foot in (lead, 1 - lead)]
    return _gait(plan, 10, 0.1, arm_swing_deg=0).track()


# ----------------------------------------------------------------------------- jumps

def _jumps(num_jumps: int, rng: Rng, forward_m: float = 0.0, height_m: float = 0.18, spread_m: float = 0.0,
           arms_up: bool = False, stance: int | None = None) -> _Pose:
    """Crouch, take off, fly, land, absorb, `num_jumps` times. `stance`: hop on that foot only.

    `spread_m`: feet land this much wider on odd jumps (jumping jacks); `arms_up` raises the arms with them.
    """
    crouch, flight, land = 7, 8, 7
    per = crouch + flight + land
    n = num_jumps * per + 1
    p = _Pose(n)
    base = p.toes[0].copy()
    feet_air = np.zeros(n)
    dip = np.zeros(n)
    advance = np.zeros(n)
    spread = np.zeros(n)
    for k in range(num_jumps):
        s = k * per
        height = _vary(rng, height_m)
        dip[s:s + crouch] = 0.12 * _ramp(crouch)
        tf = np.linspace(0, 1, flight + 1)
        feet_air[s + crouch:s + crouch + flight + 1] = height * np.sin(np.pi * tf)
        dip[s + crouch:s + crouch + flight + 1] = 0.12 * (1 - _smooth(tf * 3)) * (tf < 0.5)
        advance[s + crouch:s + crouch + flight + 1] = k * forward_m + forward_m * _smooth(tf)
        advance[s + crouch + flight:] = (k + 1) * forward_m
        if spread_m:
            a, b = (0.0, spread_m) if k % 2 == 0 else (spread_m, 0.0)
            spread[s + crouch:s + crouch + flight + 1] = a + (b - a) * _smooth(tf)
            spread[s + crouch + flight:] = b
        dip[s + crouch + flight:s + per + 1] = 0.1 * np.sin(np.pi * np.linspace(0, 1, land + 1)) ** 2
    if spread_m and num_jumps % 2:  # end with the feet together
        spread[-land:] = spread[-land - 1] * (1 - _ramp(land))
    for side, sign in ((LEFT, 1.0), (RIGHT, -1.0)):
        if stance is not None and side != stance:
            continue
        p.toes[:, side, 2] = base[side, 2] + advance
        p.toes[:, side, 0] = base[side, 0] + sign * spread
        p.toes[:, side, 1] = feet_air
        p.heel[:, side] = 0.5 * np.clip(feet_air / max(height_m, 1e-6), 0, 1) ** 0.5
    lifted = feet_air > 0.0
    p.root[:, 1] = STAND_PELVIS_Y - dip + feet_air
    p.root[:, 2] = advance
    arm = np.where(lifted, 1.0, 0.0)
    arm = gaussian_filter1d(arm, 2.0) * _envelope(n, crouch, land)
    for side in (LEFT, RIGHT):
        if arms_up:
            p.limb(SHOULDER, side, _deg(0, 0, 150) * _weight(np.clip(spread / max(spread_m, 1e-6), 0, 1)))
        else:
            p.limb(SHOULDER, side, _deg(-60, 0, 10) * _weight(arm) + _deg(35, 0, 0) * _weight(dip / 0.12))
    return p


def jump_in_place(spec: ActionSpec, rng: Rng) -> Track:
    return _jumps(spec.count, rng).track()


def jump_forward(spec: ActionSpec, rng: Rng) -> Track:
    return _jumps(spec.count, rng, forward_m=_vary(rng, 0.5), height_m=0.2).track()


def jumping_jacks(spec: ActionSpec, rng: Rng) -> Track:
    return _jumps(2 * spec.count, rng, height_m=0.1, spread_m=0.2, arms_up=True).track()


def hop(spec: ActionSpec, rng: Rng) -> Track:
    stance = LEFT if spec.side == "left" else RIGHT
    lift = _frames(0.5)
    hops = _jumps(spec.count, rng, height_m=0.1, stance=stance)
    n = hops.n + 2 * lift
    p = _Pose(n)
    mid = slice(lift, lift + hops.n)
    p.toes[mid, stance] = hops.toes[:, stance]
    p.heel[mid, stance] = hops.heel[:, stance]
    p.root[mid, 1] = hops.root[:, 1]
    p.rot[mid] = hops.rot * 0.5
    env = _envelope(n, lift)
    free = 1 - stance
    p.toes[:, free, 1] += 0.25 * env + (p.toes[:, stance, 1] - p.toes[0, stance, 1]) * env
    p.toes[:, free, 2] -= 0.2 * env
    p.heel[:, free] = 0.6 * env
    sign = 1.0 if stance == LEFT else -1.0
    p.root[:, 0] += sign * 0.06 * env  # weight over the stance foot
    p.rot[:, PELVIS, 2] -= sign * _deg(4)[0] * env
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(0, 0, 35) * _weight(env))
    return p.track()


# ----------------------------------------------------------------------------- lowering the body

def _lower(n: int, env: np.ndarray, drop_m: float, back_m: float, pitch_deg: float) -> _Pose:
    p = _Pose(n)
    p.root[:, 1] -= drop_m * env
    p.root[:, 2] -= back_m * env
    p.rot[:, PELVIS, 0] += _deg(pitch_deg)[0] * env
    return p


def squat(spec: ActionSpec, rng: Rng) -> Track:
    rep = _frames(1.6 if spec.speed == "normal" else 2.2)
    env = np.concatenate([_envelope(rep, rep // 2 - 1, rep // 2 - 1)[:-1] for _ in range(spec.count)] + [[0.0]])
    p = _lower(len(env), env, _vary(rng, 0.38), 0.1, 25)
    p.rot[:, SPINE1, 0] += _deg(10)[0] * env
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(-85, 0, 0) * _weight(env))
    return p.track()


def sit_down(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.2))
    s = _ramp(n)
    p = _Pose(n)
    stand = np.array([0.0, STAND_PELVIS_Y, 0.0])
    p.root = stand + s[:, None] * (SIT_PELVIS - stand)
    lean = np.sin(np.pi * s)
    p.rot[:, PELVIS, 0] += _deg(35)[0] * lean
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(-30, 0, 5) * _weight(lean))
    return p.track()


def stand_up(spec: ActionSpec, rng: Rng) -> Track:
    down = sit_down(ActionSpec("sit_down"), rng)
    return Track(*(getattr(down, f)[::-1].copy() for f in FIELDS))


def _step_out(n: int, go: int, distance_m: float, lift_m: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """A foot that steps out over the first `go` frames and back over the last `go`: (n) offset, (n) lift.

    It rises before it moves and lands after, so it never slides on the floor.
    """
    t = np.arange(n, dtype=np.float64)
    out, back = np.clip(t / go, 0, 1), np.clip((n - 1 - t) / go, 0, 1)
    offset = distance_m * np.minimum(_smooth((out - 0.2) / 0.6), _smooth((back - 0.2) / 0.6))
    lift = lift_m * (np.sin(np.pi * out) * (t < go) + np.sin(np.pi * back) * (t > n - 1 - go))
    return offset, lift


def kneel(spec: ActionSpec, rng: Rng) -> Track:
    go, hold = _frames(1.2), _frames(_vary(rng, 1.0))
    n = 2 * go + hold
    env = _envelope(n, go, go)
    p = _lower(n, env, 0.42, 0.0, 5)
    offset, lift = _step_out(n, go, -0.5)
    p.toes[:, RIGHT, 2] += offset
    p.toes[:, RIGHT, 1] += lift
    p.heel[:, RIGHT] = _deg(55)[0] * env
    p.root[:, 2] -= 0.08 * env
    return p.track()


def crouch_look_around(spec: ActionSpec, rng: Rng) -> Track:
    go, look = _frames(0.8), _frames(_vary(rng, 2.4))
    n = 2 * go + look
    env = _envelope(n, go, go)
    p = _lower(n, env, 0.4, 0.1, 25)
    t = np.clip((np.arange(n) - go) / look, 0, 1)
    p.rot[:, NECK, 1] += _deg(55)[0] * np.sin(2 * np.pi * t) * env
    p.rot[:, SPINE3, 1] += _deg(15)[0] * np.sin(2 * np.pi * t) * env
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(-45, 0, 0) * _weight(env))
    return p.track()


def lunge(spec: ActionSpec, rng: Rng) -> Track:
    front = LEFT if spec.side == "left" else RIGHT
    go, hold = _frames(1.0), _frames(0.8)
    n = 2 * go + hold
    env = _envelope(n, go, go)
    length = _vary(rng, 0.6)
    p = _Pose(n)
    offset, lift = _step_out(n, go, length)
    p.toes[:, front, 2] += offset
    p.toes[:, front, 1] += lift
    p.heel[:, 1 - front] = _deg(40)[0] * env
    p.root[:, 2] += 0.45 * length * env
    p.root[:, 1] -= 0.3 * env
    return p.track()


def bow(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.4))
    env = _envelope(n, n // 3)
    p = _lower(n, env, 0.02, 0.06, _vary(rng, 35))
    p.rot[:, SPINE1, 0] += _deg(15)[0] * env
    p.rot[:, NECK, 0] += _deg(15)[0] * env
    for side in (LEFT, RIGHT):  # arms keep hanging while the trunk tips forward
        p.limb(SHOULDER, side, _deg(-45, 0, 0) * _weight(env))
    return p.track()


def touch_toes(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 3.0))
    env = _envelope(n, n // 3)
    p = _lower(n, env, 0.05, 0.14, 70)
    p.rot[:, SPINE1, 0] += _deg(20)[0] * env
    p.rot[:, SPINE2, 0] += _deg(10)[0] * env
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(-100, 0, -5) * _weight(env))  # hands hang down to the toes
    return p.track()


def stomp(spec: ActionSpec, rng: Rng) -> Track:
    side = LEFT if spec.side == "left" else RIGHT
    rep = _frames(0.8)
    n = spec.count * rep + 1
    p = _Pose(n)
    for k in range(spec.count):
        t = np.linspace(0, 1, rep + 1)
        up = np.where(t < 0.7, np.sin(np.pi * t / 1.4), np.cos(np.pi / 2 * (t - 0.7) / 0.3) ** 3)
        sl = slice(k * rep, (k + 1) * rep + 1)
        p.toes[sl, side, 1] += _vary(rng, 0.25) * up
        p.root[sl, 1] -= 0.03 * np.sin(np.pi * t)
    return p.track()


def kick(spec: ActionSpec, rng: Rng) -> Track:
    side = LEFT if spec.side == "left" else RIGHT
    rep = _frames(1.3)
    n = spec.count * rep + 1
    t = (np.arange(n) % rep) / rep  # phase within each kick
    swing = np.sin(np.pi * t) ** 2
    p = _Pose(n)
    p.toes[:, side, 1] += _vary(rng, 0.45) * swing
    p.toes[:, side, 2] += 0.45 * swing - 0.12 * np.sin(2 * np.pi * t) * (t < 0.5)
    p.heel[:, side] -= _deg(25)[0] * swing
    p.rot[:, PELVIS, 0] -= _deg(8)[0] * swing
    for arm in (LEFT, RIGHT):
        p.limb(SHOULDER, arm, _deg(0, 0, 30) * _weight(swing))
    return p.track()


# ----------------------------------------------------------------------------- arms and head

def _arm_action(spec_side: str | None, n: int, shoulder: np.ndarray, elbow: np.ndarray | None = None,
                collar: np.ndarray | None = None) -> _Pose:
    """A standing pose with the given (n 3) arm angles on the spec's side(s) (left-side convention)."""
    p = _Pose(n)
    for side in _sides(spec_side):
        p.limb(SHOULDER, side, shoulder)
        if elbow is not None:
            p.limb(ELBOW, side, elbow)
        if collar is not None:
            p.limb(COLLAR, side, collar)
    return p


def wave(spec: ActionSpec, rng: Rng) -> Track:
    up, per = _frames(0.6), _frames(_vary(rng, 0.5))
    n = 2 * up + spec.count * per
    env = _envelope(n, up)
    t = np.clip((np.arange(n) - up) / per, 0, spec.count)
    swing = np.sin(2 * np.pi * t) * _deg(25)[0]
    shoulder = np.stack([np.zeros(n), np.zeros(n), _deg(_vary(rng, 105))[0] * env], -1)
    elbow = np.stack([np.zeros(n), np.zeros(n), (_deg(55)[0] + swing) * env], -1)
    return _arm_action(spec.side, n, shoulder, elbow).track()


def raise_arms(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.6))
    env = _envelope(n, n // 3)
    shoulder = _deg(-_vary(rng, 165, 0.05), 0, 10) * _weight(env)
    return _arm_action(spec.side, n, shoulder).track()


def reach_forward(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.4))
    env = _envelope(n, n // 3)
    p = _arm_action(spec.side, n, _deg(-_vary(rng, 90), 0, 0) * _weight(env))
    p.rot[:, SPINE1, 0] += _deg(15)[0] * env
    p.root[:, 2] -= 0.03 * env
    return p.track()


def stretch(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 3.0))
    env = _envelope(n, n // 3)
    p = _arm_action("both", n, _deg(0, 0, 168) * _weight(env))
    p.rot[:, SPINE2, 0] -= _deg(8)[0] * env
    p.heel[:, :] = _deg(20)[0] * env[:, None]  # up on the toes
    return p.track()


def clap(spec: ActionSpec, rng: Rng) -> Track:
    up, per = _frames(0.5), _frames(_vary(rng, 0.45))
    n = 2 * up + spec.count * per
    env = _envelope(n, up)
    t = np.clip((np.arange(n) - up) / per, 0, spec.count)
    together = 0.5 - 0.5 * np.cos(2 * np.pi * t)  # 1 at each clap
    shoulder = np.stack([-_deg(70)[0] * env, -_deg(35)[0] * together * env + _deg(10)[0] * env, np.zeros(n)], -1)
    elbow = np.stack([-_deg(30)[0] * env, -_deg(20)[0] * env, np.zeros(n)], -1)
    return _arm_action("both", n, shoulder, elbow).track()


def punch(spec: ActionSpec, rng: Rng) -> Track:
    guard, per = _frames(0.5), _frames(0.5 if spec.speed == "normal" else 0.36)
    n = 2 * guard + spec.count * per
    env = _envelope(n, guard)
    t = np.clip((np.arange(n) - guard) / per, 0, spec.count)
    extend = np.sin(np.pi * (t % 1.0)) ** 2 * (t < spec.count)
    p = _Pose(n)
    for side in (LEFT, RIGHT):
        p.limb(SHOULDER, side, _deg(-40, 0, 0) * _weight(env))
        p.limb(ELBOW, side, _deg(-100, 0, 0) * _weight(env))
    side = LEFT if spec.side == "left" else RIGHT
    p.limb(SHOULDER, side, _deg(-45, -10, 0) * extend[:, None])
    p.limb(ELBOW, side, _deg(95, 0, 0) * extend[:, None])
    p.rot[:, SPINE3, 1] += (-1 if side == LEFT else 1) * _deg(15)[0] * extend
    return p.track()


def throw(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.2))
    t = np.linspace(0, 1, n)
    wind = _smooth(t / 0.4) * (1 - _smooth((t - 0.45) / 0.15))
    release = _smooth((t - 0.45) / 0.15) * (1 - _smooth((t - 0.7) / 0.3))
    side = LEFT if spec.side == "left" else RIGHT
    p = _Pose(n)
    p.limb(SHOULDER, side, _deg(30, 0, 120) * wind[:, None] + _deg(-100, 0, 30) * release[:, None])
    p.limb(ELBOW, side, _deg(-90, 0, 0) * wind[:, None])
    twist = (1 if side == LEFT else -1) * _deg(25)[0]
    p.rot[:, SPINE3, 1] += twist * wind - twist * release
    p.rot[:, SPINE1, 0] += _deg(15)[0] * release
    return p.track()


def arm_circles(spec: ActionSpec, rng: Rng) -> Track:
    up, per = _frames(0.6), _frames(_vary(rng, 1.0))
    n = 2 * up + spec.count * per
    env = _envelope(n, up)
    phase = 2 * np.pi * np.clip((np.arange(n) - up) / per, 0, spec.count)
    shoulder = np.stack([_deg(30)[0] * np.sin(phase), np.zeros(n), _deg(90)[0] + _deg(30)[0] * (np.cos(phase) - 1)],
                        -1) * _weight(env)
    return _arm_action(spec.side, n, shoulder).track()


def shrug(spec: ActionSpec, rng: Rng) -> Track:
    per = _frames(_vary(rng, 0.9))
    n = spec.count * per + 1
    up = np.concatenate([_envelope(per + 1, per // 3)[:-1] for _ in range(spec.count)] + [[0.0]])
    collar = _deg(0, 0, 18) * _weight(up)
    shoulder = _deg(0, 0, -18) * _weight(up)  # keep the arms hanging while the shoulders rise
    return _arm_action("both", n, shoulder, collar=collar).track()


def lean(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.4))
    env = _envelope(n, n // 3)
    sign = -1.0 if spec.side == "left" else 1.0
    p = _Pose(n)
    for joint in (SPINE1, SPINE2):
        p.rot[:, joint, 2] += sign * _deg(_vary(rng, 14))[0] * env
    return p.track()


def nod(spec: ActionSpec, rng: Rng) -> Track:
    per = _frames(_vary(rng, 0.6))
    n = spec.count * per + 1
    p = _Pose(n)
    p.rot[:, NECK, 0] = _deg(25)[0] * np.sin(np.pi * np.arange(n) / per) ** 2
    return p.track()


def shake_head(spec: ActionSpec, rng: Rng) -> Track:
    per = _frames(_vary(rng, 0.7))
    n = spec.count * per + 1
    p = _Pose(n)
    p.rot[:, NECK, 1] = _deg(35)[0] * np.sin(2 * np.pi * np.arange(n) / per) * _envelope(n, per // 2)
    return p.track()


def stand_still(spec: ActionSpec, rng: Rng) -> Track:
    n = _frames(_vary(rng, 2.5, 0.3))
    p = _Pose(n)
    p.rot[:, SPINE2, 0] = _deg(1.5)[0] * np.sin(np.pi * np.arange(n) / (n - 1)) ** 2  # breathing
    return p.track()


GENERATORS: dict[str, Callable[[ActionSpec, Rng], Track]] = {
    f.__name__: f for f in (
        walk, walk_circle, run, jog_in_place, turn, turn_around, jump_in_place, jump_forward, squat, sit_down,
        stand_up, kneel, wave, raise_arms, clap, punch, kick, bow, side_step, march, stretch, spin, hop,
        crouch_look_around, nod, shake_head, arm_circles, lunge, stomp, reach_forward, shrug, throw, lean,
        touch_toes, jumping_jacks, stand_still)
}


def generate(spec: ActionSpec, rng: Rng) -> Track:
    """The motion of one action, starting at the origin facing +Z, with its amplitude and duration scale."""
    track = GENERATORS[spec.kind](spec, rng)
    if spec.kind in AMPLITUDE_KINDS and spec.amplitude != 1.0:
        track = replace(track, rot=track.rot * spec.amplitude)  # deviations from the neutral pose (rot 0)
    if spec.duration_scale != 1.0:
        track = retimed(track, spec.duration_scale)
    return track
