"""A humanoid robot as the retargeter sees it: a pinocchio model of its URDF on a floating base.

The URDF is parsed by pinocchio (urdfdom underneath); meshes are never loaded, so a URDF whose
meshes live elsewhere still loads. The root link gets a free-flyer joint, so the solver moves
the whole body (root pose + joints) at once. Only 1-DoF revolute/prismatic joints are supported:
that is what a joint_trajectory_controller commands. A RobotModel holds pinocchio's work data:
use one per thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pinocchio as pin

from a2m_core.errors import InputError

ROOT_DOF = 6  # free-flyer tangent dims (linear, angular) ahead of the actuated joints
ROOT_NQ = 7  # free-flyer configuration: xyz + quaternion (pinocchio order x y z w)


class RobotModel:
    """Kinematic model of a URDF with a floating root: joint names, limits, frames, forward kinematics."""

    def __init__(self, urdf_path: str | Path):
        path = Path(urdf_path)
        if not path.is_file():
            raise InputError(f"{path}: no such URDF file; pass the robot's .urdf with --urdf")
        try:
            self.model = pin.buildModelFromUrdf(str(path), pin.JointModelFreeFlyer())
        except (RuntimeError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: not a parseable URDF ({first_line}); check the file with `check_urdf`") from None
        self.path = path
        joints = list(self.model.joints)[2:]  # 0 is the universe, 1 the free-flyer root
        bad = [self.model.names[i + 2] for i, j in enumerate(joints) if j.nq != 1 or j.nv != 1]
        if bad:
            raise InputError(f"{path}: joints {bad} are not 1-DoF revolute or prismatic joints (continuous, planar and "
                             "floating joints are not supported): make them revolute with <limit lower upper velocity>")
        if self.model.nv == ROOT_DOF:
            raise InputError(f"{path}: the URDF has no movable joints to retarget onto")
        self.joint_names: tuple[str, ...] = tuple(self.model.names[2:])
        self.lower_rad = np.asarray(self.model.lowerPositionLimit[ROOT_NQ:], dtype=np.float64).copy()  # (n)
        self.upper_rad = np.asarray(self.model.upperPositionLimit[ROOT_NQ:], dtype=np.float64).copy()  # (n)
        self.velocity_limit = np.asarray(self.model.velocityLimit[ROOT_DOF:], dtype=np.float64).copy()  # (n) rad/s
        unlimited = [n for n, lo, hi in zip(self.joint_names, self.lower_rad, self.upper_rad) if not lo < hi]
        if unlimited:
            raise InputError(f"{path}: joints {unlimited} have no position limits (lower < upper); "
                             "give each a <limit lower=.. upper=..>")
        slow = [n for n, v in zip(self.joint_names, self.velocity_limit) if not 0 < v < np.inf]
        if slow:
            raise InputError(f"{path}: joints {slow} have no positive velocity limit; give each <limit velocity=..>")
        self.data = self.model.createData()

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def has_link(self, name: str) -> bool:
        return self.model.existBodyName(name)

    def point_frame(self, link: str, offset_m: tuple[float, float, float]) -> int:
        """Id of a frame fixed to `link` at `offset_m` (link frame), added to the model the first time it is asked for."""
        name = f"{link}@{offset_m[0]:+.6f},{offset_m[1]:+.6f},{offset_m[2]:+.6f}"
        if self.model.existFrame(name):
            return self.model.getFrameId(name)
        link_id = self.model.getFrameId(link, pin.FrameType.BODY)
        parent = self.model.frames[link_id]
        placement = parent.placement * pin.SE3(np.eye(3), np.asarray(offset_m, dtype=np.float64))
        frame_id = self.model.addFrame(pin.Frame(name, parent.parentJoint, link_id, placement, pin.FrameType.OP_FRAME))
        self.data = self.model.createData()
        return frame_id

    def neutral(self) -> np.ndarray:
        """Configuration (nq) with the root at the origin and every joint at 0 clipped into its limits."""
        q = pin.neutral(self.model)
        q[ROOT_NQ:] = np.clip(q[ROOT_NQ:], self.lower_rad, self.upper_rad)
        return q

    def configuration(self, root_position: np.ndarray, root_quat_wxyz: np.ndarray, joints_rad: np.ndarray) -> np.ndarray:
        """Pinocchio configuration (nq) from a root pose and joint angles."""
        w, x, y, z = root_quat_wxyz
        return np.concatenate([root_position, [x, y, z, w], joints_rad])

    def frame_positions(self, q: np.ndarray, frame_ids: list[int]) -> np.ndarray:
        """World positions (k 3) of frames at configuration q."""
        pin.framesForwardKinematics(self.model, self.data, q)
        return np.array([self.data.oMf[f].translation for f in frame_ids])

    def joint_positions_world(self, q: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """World positions (n+1 3) of the root and every joint origin, and each one's parent index (-1 for the root)."""
        pin.forwardKinematics(self.model, self.data, q)
        points = np.array([self.data.oMi[i].translation for i in range(1, self.model.njoints)])
        parents = [self.model.parents[i] - 1 for i in range(1, self.model.njoints)]
        return points, parents
