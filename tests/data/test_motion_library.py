"""Procedural motion library: every action, joins, plausibility, and foot skating vs real HumanML3D."""

from pathlib import Path

import numpy as np
import pytest

from a2m_core.motion.features import FeatureCodec
from a2m_core.motion.skeleton import HUMANML3D
from training.data.actions import GENERATORS, generate
from a2m_core.motion.metrics import foot_skating
from training.data.plausibility import check_motion
from training.data.sequences import MAX_FRAMES, MIN_FRAMES, fit_chain, sample_clip, sample_specs, sequence_track
from training.data.spec import ACTION_KINDS, ActionSpec, sample_spec
from training.data.track import FIELDS, concat, render, still, transformed

FIXTURE = Path(__file__).parents[2] / ".." / "shared" / "fixtures" / "humanml3d" / "new_joints_012314.npy"


def _fixture_skate_ratio() -> float:
    if not FIXTURE.is_file():
        pytest.skip(f"HumanML3D fixture absent ({FIXTURE}): cannot compare foot skating with real data")
    return foot_skating(np.load(FIXTURE), HUMANML3D)


def test_library_covers_the_issue_list():
    assert set(GENERATORS) == set(ACTION_KINDS) and len(GENERATORS) >= 30
    for kind in ("walk", "walk_circle", "run", "jog_in_place", "turn", "turn_around", "jump_in_place", "jump_forward",
                 "squat", "sit_down", "stand_up", "kneel", "wave", "raise_arms", "clap", "punch", "kick", "bow",
                 "side_step", "march", "stretch", "spin", "hop", "crouch_look_around"):
        assert kind in GENERATORS


@pytest.mark.parametrize("kind", sorted(ACTION_KINDS))
def test_every_action_is_plausible_and_ends_in_its_neutral_pose(kind):
    rng = np.random.default_rng(hash(kind) % 2**32)
    limit = _fixture_skate_ratio() if FIXTURE.is_file() else 0.1
    for _ in range(2):
        spec = sample_spec(ACTION_KINDS[kind], rng)
        track = generate(spec, rng)
        joints = render(track)
        report = check_motion(joints, max_skate_ratio=limit)
        assert report.problems == (), (spec, report)
        for index, pose in ((0, spec.action_kind.start_pose), (-1, spec.action_kind.end_pose)):
            ref = still(1, pose)
            ref = transformed(ref, track.root[index, [0, 2]] - ref.root[0, [0, 2]], track.yaw[index])
            for field in FIELDS:
                assert np.allclose(getattr(ref, field)[0], getattr(track, field)[index], atol=2e-3), (spec, field)


def test_actions_do_what_they_say():
    rng = np.random.default_rng(0)
    def joints(**kw):
        return render(generate(ActionSpec(**kw), rng))
    walk = joints(kind="walk", direction="forward", count=6)
    assert walk[-1, 0, 2] - walk[0, 0, 2] > 1.0  # moved forward along +Z
    back = joints(kind="walk", direction="backward", count=6)
    assert back[-1, 0, 2] < -0.5
    left = joints(kind="turn", side="left")
    across = left[-1, 1] - left[-1, 2]  # left hip - right hip
    assert across[2] < -0.1 and abs(across[0]) < 0.03  # facing +X after a left turn: the left hip points to -Z
    wave = joints(kind="wave", side="right", count=2)
    assert wave[:, 21, 1].max() > wave[:, 15, 1].max() - 0.1 and wave[:, 20, 1].max() < 1.0  # right hand up, left down
    jump = joints(kind="jump_in_place", count=1)
    assert jump[:, [10, 11], 1].min(axis=1).max() > 0.08  # both feet off the floor
    sit = joints(kind="sit_down")
    assert sit[-1, 0, 1] < 0.65 and abs(sit[-1, 4, 1] - sit[-1, 1, 1]) < 0.1  # pelvis low, thighs level
    kick = joints(kind="kick", side="left", count=1)
    assert kick[:, 10, 1].max() > 0.3 and kick[:, 11, 1].max() < 0.02


def test_amplitude_and_duration_parameters():
    base = generate(ActionSpec("wave", side="left", count=2), np.random.default_rng(1))
    big = generate(ActionSpec("wave", side="left", count=2, amplitude=1.3), np.random.default_rng(1))
    assert np.allclose(big.rot, 1.3 * base.rot)
    slow = generate(ActionSpec("walk", direction="forward", count=4, duration_scale=1.5), np.random.default_rng(1))
    normal = generate(ActionSpec("walk", direction="forward", count=4), np.random.default_rng(1))
    assert abs(slow.num_frames - 1 - 1.5 * (normal.num_frames - 1)) <= 1
    assert np.allclose(slow.root[-1], normal.root[-1])  # same path, more time
    assert check_motion(render(slow), 0.05).problems == ()
    clap = generate(ActionSpec("clap", count=2, amplitude=1.4), np.random.default_rng(2))
    assert np.array_equal(clap.rot, generate(ActionSpec("clap", count=2), np.random.default_rng(2)).rot)  # hands meet
    with pytest.raises(ValueError, match="amplitude"):
        ActionSpec("wave", side="left", count=2, amplitude=3.0)


def test_clips_have_dataset_lengths_valid_pose_chains_and_no_jumps():
    rng = np.random.default_rng(1)
    limit = _fixture_skate_ratio() if FIXTURE.is_file() else 0.1
    for _ in range(30):
        clip = sample_clip(rng)
        assert MIN_FRAMES <= len(clip.joints) <= MAX_FRAMES
        assert 1 <= len(clip.specs) <= 3
        for a, b in zip(clip.specs[:-1], clip.specs[1:]):
            assert a.action_kind.end_pose == b.action_kind.start_pose
        step = np.linalg.norm(np.diff(clip.joints, axis=0), axis=-1).max()
        assert step < 0.5, clip.specs  # nothing faster than a sprinter's swinging foot (10 m/s): joins are smooth
        assert check_motion(clip.joints, limit).problems == ()


def test_joins_between_actions_do_not_jump():
    rng = np.random.default_rng(6)
    kinds = sorted(ACTION_KINDS)
    for i in range(60):
        first = sample_spec(ACTION_KINDS[kinds[i % len(kinds)]], rng)
        after = [k for k in kinds if ACTION_KINDS[k].start_pose == first.action_kind.end_pose]
        second = sample_spec(ACTION_KINDS[after[int(rng.integers(len(after)))]], rng)
        a, b = generate(first, rng), generate(second, rng)
        joints = render(concat([a, b]))
        join = a.num_frames - 1
        step = np.linalg.norm(np.diff(joints[join - 2:join + 3], axis=0), axis=-1).max()
        assert step < 0.15, (first, second, step)  # both sides are at rest there


def test_sit_down_is_followed_by_stand_up():
    rng = np.random.default_rng(2)
    for _ in range(300):
        specs = sample_specs(rng, 3)
        for a, b in zip(specs[:-1], specs[1:]):
            if a.kind == "sit_down":
                assert b.kind == "stand_up"


def test_meanings_weighting_draws_each_direction_as_often_as_a_kind_without_one():
    def share(weighting: str, kind: str) -> float:
        rng = np.random.default_rng(4)
        specs = [s for _ in range(3000) for s in sample_specs(rng, 1, weighting)]
        return sum(s.kind == kind for s in specs) / len(specs)

    # kinds: walk (4 directions) as often as bow; meanings: walk 4 times as often as bow
    assert share("kinds", "walk") == pytest.approx(share("kinds", "bow"), abs=0.012)
    assert share("meanings", "walk") == pytest.approx(4 * share("meanings", "bow"), abs=0.025)
    assert share("meanings", "walk") > 1.5 * share("kinds", "walk")  # expected 4/58 vs 1/35
    with pytest.raises(ValueError, match="weighting"):
        sample_specs(np.random.default_rng(0), 1, "uniform")


def test_short_sequences_are_padded_to_two_seconds():
    track = sequence_track([ActionSpec("nod", count=2)], np.random.default_rng(3))
    assert track.num_frames == MIN_FRAMES


def test_a_final_sit_down_sits_still_for_a_random_while_and_nothing_else_changes():
    extra = set()
    for seed in range(30):
        alone = render(sequence_track([ActionSpec("sit_down")], np.random.default_rng(seed)))
        held = render(sequence_track([ActionSpec("sit_down")], np.random.default_rng(seed), seated_hold=60))
        extra.add(len(held) - len(alone))
        np.testing.assert_array_equal(held[:len(alone)], alone)  # the sit-down itself is as before
        assert np.abs(held[len(alone) - 1:] - alone[-1]).max() < 1e-6  # then sits still
    assert min(extra) >= 0 and max(extra) <= 60 and len(extra) > 15  # for 0..60 frames, drawn anew each clip
    assert alone[-1, 0, 1] < alone[0, 0, 1] - 0.3  # seated: the pelvis is lower than standing

    rng_a, rng_b = np.random.default_rng(8), np.random.default_rng(8)
    compared = 0
    for _ in range(50):  # chains that do not end seated are drawn as without a hold
        a, b = sample_clip(rng_a), sample_clip(rng_b, seated_hold=60)
        if a.specs[-1].action_kind.end_pose == "sit":
            break  # the streams part here
        assert a.specs == b.specs and np.array_equal(a.joints, b.joints)
        compared += 1
    assert compared >= 10


def test_a_share_of_clips_is_drawn_to_end_seated():
    def seated(clip) -> bool:
        return clip.specs[-1].action_kind.end_pose == "sit"

    rng = np.random.default_rng(3)
    free = [sample_clip(rng) for _ in range(100)]
    assert sum(map(seated, free)) < 10  # drawn freely, few clips end seated
    rng = np.random.default_rng(3)
    half = [sample_clip(rng, seated_endings=0.5) for _ in range(100)]
    assert 35 <= sum(map(seated, half)) <= 65
    for clip in half:
        if seated(clip):
            assert clip.joints[-1, 0, 1] < clip.joints[:, 0, 1].max() - 0.3  # the pelvis ends low
    rng = np.random.default_rng(3)
    for _ in range(30):  # every chain ends seated where one can: not after starting seated, then standing up
        specs = sample_specs(rng, int(rng.integers(1, 4)), end_seated=True)
        assert specs[-1].action_kind.end_pose == "sit" or specs[-1].kind == "stand_up"


def test_an_overlong_chain_is_shortened_to_its_first_part_that_fits():
    walks = [ActionSpec("walk", direction=d, count=8, speed="slow") for d in ("left", "right", "forward")]
    assert fit_chain(walks, np.random.default_rng(0), 0, "redraw", end_seated=False) is None
    specs, track = fit_chain(walks, np.random.default_rng(0), 0, "shorten", end_seated=False)
    assert specs == walks[:len(specs)] and 1 <= len(specs) < 3 and MIN_FRAMES <= track.num_frames <= MAX_FRAMES
    # drawn to end seated: a first part that does not end seated is no answer
    seated = [*walks[:2], ActionSpec("sit_down")]
    assert fit_chain(seated, np.random.default_rng(0), 0, "shorten", end_seated=True) is None
    with pytest.raises(ValueError, match="overlong"):
        sample_clip(np.random.default_rng(0), overlong="trim")


def test_shortening_keeps_long_actions_as_often_as_they_are_drawn():
    def long_actions(overlong: str) -> int:
        count = 0
        for i in range(400):
            rng = np.random.default_rng([7, i])
            fitted = None
            while fitted is None:
                specs = sample_specs(rng, int(rng.integers(1, 4)), "meanings")
                fitted = fit_chain(specs, rng, 0, overlong, end_seated=False)
            count += sum(s.kind in ("walk", "walk_circle") for s in fitted[0])
        return count

    assert long_actions("shorten") > 1.15 * long_actions("redraw")  # redrawing loses about a quarter of them


def test_skating_is_below_the_real_humanml3d_clip():
    real = _fixture_skate_ratio()
    rng = np.random.default_rng(4)
    ratios = [foot_skating(sample_clip(rng).joints, HUMANML3D) for _ in range(20)]
    assert max(ratios) < real


def test_clips_round_trip_through_the_feature_codec():
    codec = FeatureCodec(HUMANML3D)
    clip = sample_clip(np.random.default_rng(5))
    features = codec.encode(clip.joints)
    assert features.shape == (len(clip.joints) - 1, 263) and np.isfinite(features).all()
    canonical = codec.canonical_joints(clip.joints)[:-1]
    assert np.abs(codec.decode(features) - canonical).max() < 1e-3
