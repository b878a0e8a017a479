"""Rigid transforms as translation + Hamilton quaternion, the way ROS messages carry them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

__all__ = ["Pose"]


def _vec(values: npt.ArrayLike, size: int, name: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (size,):
        msg = f"{name} must have {size} elements, got shape {np.shape(values)}"
        raise ValueError(msg)
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class Pose:
    """Pose of a child frame in a parent frame (``T_parent_child``).

    Attributes:
        translation_m: (3,) float64, metres, parent frame.
        quat_xyzw: (4,) float64 Hamilton quaternion, xyzw order (ROS / SciPy order).
    """

    translation_m: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    quat_xyzw: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0])
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "translation_m", _vec(self.translation_m, 3, "translation_m"))
        object.__setattr__(self, "quat_xyzw", _vec(self.quat_xyzw, 4, "quat_xyzw"))

    @classmethod
    def identity(cls) -> Pose:
        """The identity transform."""
        return cls()

    @classmethod
    def from_matrix(cls, T_parent_child: npt.ArrayLike) -> Pose:
        """Build from a (4, 4) homogeneous transform.

        >>> Pose.from_matrix(np.eye(4)).quat_xyzw.tolist()
        [0.0, 0.0, 0.0, 1.0]
        """
        T = np.asarray(T_parent_child, dtype=np.float64)
        if T.shape != (4, 4):
            msg = f"T_parent_child must be (4, 4), got {T.shape}"
            raise ValueError(msg)
        quat = Rotation.from_matrix(T[:3, :3]).as_quat()
        return cls(T[:3, 3].copy(), quat)

    def as_matrix(self) -> npt.NDArray[np.float64]:
        """(4, 4) float64 homogeneous transform taking child-frame points to the parent."""
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat(self.quat_xyzw).as_matrix()
        T[:3, 3] = self.translation_m
        return T

    def __matmul__(self, other: Pose) -> Pose:
        """Compose: ``T_a_b @ T_b_c = T_a_c``."""
        rot = Rotation.from_quat(self.quat_xyzw)
        t = self.translation_m + rot.apply(other.translation_m)
        q = (rot * Rotation.from_quat(other.quat_xyzw)).as_quat()
        return Pose(t, q)

    def inverse(self) -> Pose:
        """``T_b_a`` from ``T_a_b``."""
        rot_inv = Rotation.from_quat(self.quat_xyzw).inv()
        return Pose(-rot_inv.apply(self.translation_m), rot_inv.as_quat())

    def allclose(self, other: Pose, atol: float = 1e-9) -> bool:
        """Same transform within ``atol`` (q and -q are the same rotation)."""
        same_t = np.allclose(self.translation_m, other.translation_m, atol=atol)
        dq = min(
            np.abs(self.quat_xyzw - other.quat_xyzw).max(),
            np.abs(self.quat_xyzw + other.quat_xyzw).max(),
        )
        return bool(same_t and dq <= atol)
