"""Retargeting: generated human motion onto a humanoid robot's joints (URDF), within its limits.

`retarget(motion, RobotModel(urdf), load_keypoint_map(yaml, motion.skeleton))` -> `RobotTrajectory`.
Needs the `retarget` extra (pinocchio); see docs/retarget.md.
"""
