"""a2m core library: audio, motion, model, decoding, runtime, retargeting.

The bottom layer: it imports neither training, a2m_ros nor the command line (a2m_cli), and
nothing under a2m_core imports rclpy, so training machines and notebooks use it without a ROS
install (`lint-imports` checks both, contracts in pyproject.toml).
"""

__version__ = "0.1.0"
