"""a2m core library: audio, motion, model, generation, runtime, retargeting.

ROS-free by design: nothing under a2m_core imports rclpy, so training machines and
notebooks use it without a ROS install.
"""

__version__ = "0.1.0"
