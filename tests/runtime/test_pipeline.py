"""audio -> MotionClip without ROS: generator, feature decoding, avatar joint values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from a2m_core.motion.avatar import avatar_joint_names
from a2m_core.motion.skeleton import HUMANML3D
from a2m_core.runtime.backends import load_backend
from a2m_core.runtime.interface import DecodingConfig
from a2m_core.runtime.pipeline import MotionPipeline


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    """The generator the motion node loads (load_backend), on the eager backend: no export needed."""
    return load_backend("torch", model_dir=tiny_model_dir, decoding=DecodingConfig(num_iters=2))


@pytest.fixture(scope="module")
def pipeline(generator):
    return MotionPipeline(generator)


def test_clip_has_avatar_joints_and_requested_length(pipeline):
    audio = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    clip = pipeline(audio, motion_s=2.0, seed=3)
    assert clip.joint_names == avatar_joint_names(HUMANML3D)
    assert clip.positions.shape == (40, len(clip.joint_names)) and clip.duration_s == pytest.approx(2.0)
    assert clip.joints.shape == (40, 22, 3) and np.isfinite(clip.positions).all()
    again = pipeline(audio, motion_s=2.0, seed=3)
    np.testing.assert_array_equal(again.positions, clip.positions)  # the seed fixes the motion


def test_pipeline_clip_is_the_generators_motion(pipeline, generator):
    """The node's path (pipeline) and generate() give the same joints for the same seed."""
    audio = np.random.default_rng(1).normal(0, 0.1, 24000).astype(np.float32)
    clip = pipeline(audio, motion_s=1.5, seed=7)
    motion = generator.generate(audio, 16000, length=30, seed=7)
    np.testing.assert_allclose(clip.motion.joints, motion.joints, atol=1e-4)


def test_prefix_reaches_every_joint_name(generator):
    assert all(n.startswith("left_arm/") for n in MotionPipeline(generator, "left_arm/").joint_names)


def test_runtime_is_ros_free():
    code = ("import a2m_core.runtime.pipeline, a2m_core.runtime.utterance_stream, a2m_core.runtime.playback, sys; "
            "assert 'rclpy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rest_clip_stands_on_the_ground(pipeline):
    clip = pipeline.rest_clip()
    assert clip.num_frames == 1 and clip.joints[0, :, 2].min() == pytest.approx(0.0, abs=1e-6)
    values = dict(zip(clip.joint_names, clip.positions[0]))
    assert values["root_z"] == pytest.approx(clip.joints[0, 0, 2], abs=1e-6) and values["root_z"] > 0.5
    assert all(abs(v) < 1e-6 for name, v in values.items() if name != "root_z")  # rest pose = zero angles


def test_a2m_generate_gives_the_nodes_motion_for_a_seed(pipeline, tiny_model_dir, tmp_path):
    """`a2m generate` loads through load_backend as the motion node does: same seed, same motion."""
    import soundfile

    from a2m_cli.main import main

    audio = np.random.default_rng(2).normal(0, 0.1, 24000).astype(np.float32)
    soundfile.write(tmp_path / "speech.wav", audio, 16000, subtype="FLOAT")
    assert main(["generate", "--model", str(tiny_model_dir), "--audio", str(tmp_path / "speech.wav"), "--out",
                 str(tmp_path / "f.npy"), "--seed", "5", "--length", "40", "--num-iters", "2"]) == 0
    clip = pipeline(audio, motion_s=2.0, seed=5)  # the node's call: 2 s = 40 frames
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), clip.motion.features, rtol=1e-5, atol=1e-5)
