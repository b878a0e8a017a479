"""The trajectory type: stamped poses ``T_world_body`` (evo's ``PoseTrajectory3D``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.units import NS_PER_S

__all__ = ["FloatArray", "Trajectory"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """A sequence of poses ``T_world_body``, optionally stamped.

    Rotations are kept as matrices, as evo keeps them, so that a KITTI file's slightly
    non-orthonormal matrices are used as written.

    Attributes:
        positions_m: (N, 3) float64 body origin in the world frame, metres.
        rotations: (N, 3, 3) float64 ``R_world_body``.
        stamps_ns: (N,) int64 stamps, nanoseconds, increasing; None for an unstamped
            path (KITTI), which can only be paired index by index.
        name: where it came from (file, topic), for reports.
    """

    positions_m: FloatArray
    rotations: FloatArray
    stamps_ns: npt.NDArray[np.int64] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions_m, dtype=np.float64)
        rot = np.asarray(self.rotations, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] == 0:
            msg = f"positions_m must be (N, 3) with N >= 1, got shape {pos.shape}"
            raise ValueError(msg)
        if rot.shape != (pos.shape[0], 3, 3):
            msg = f"rotations must be ({pos.shape[0]}, 3, 3), got shape {rot.shape}"
            raise ValueError(msg)
        if not (np.isfinite(pos).all() and np.isfinite(rot).all()):
            msg = f"{self.name or 'trajectory'}: poses contain NaN or Inf"
            raise ValueError(msg)
        object.__setattr__(self, "positions_m", pos)
        object.__setattr__(self, "rotations", rot)
        if self.stamps_ns is not None:
            stamps = np.asarray(self.stamps_ns, dtype=np.int64)
            if stamps.shape != (pos.shape[0],):
                msg = f"stamps_ns must be ({pos.shape[0]},), got shape {stamps.shape}"
                raise ValueError(msg)
            object.__setattr__(self, "stamps_ns", stamps)

    @classmethod
    def from_quaternions(
        cls,
        positions_m: npt.ArrayLike,
        quat_xyzw: npt.ArrayLike,
        stamps_ns: npt.ArrayLike | None = None,
        name: str = "",
    ) -> Trajectory:
        """Build from positions and Hamilton quaternions.

        Args:
            positions_m: (N, 3) metres, world frame.
            quat_xyzw: (N, 4) Hamilton quaternions ``R_world_body``, xyzw (ROS/SciPy
                order); normalised here.
            stamps_ns: (N,) integer nanoseconds, or None.
            name: label for reports.

        Raises:
            ValueError: shapes disagree or a quaternion is zero.
        """
        quat = np.asarray(quat_xyzw, dtype=np.float64).reshape(-1, 4)
        rot = Rotation.from_quat(quat).as_matrix()
        stamps = None if stamps_ns is None else np.asarray(stamps_ns, dtype=np.int64)
        return cls(np.asarray(positions_m, dtype=np.float64), rot, stamps, name)

    @classmethod
    def from_matrices(
        cls, T_world_body: npt.ArrayLike, stamps_ns: npt.ArrayLike | None = None, name: str = ""
    ) -> Trajectory:
        """Build from (N, 4, 4) or (N, 3, 4) homogeneous transforms ``T_world_body``."""
        T = np.asarray(T_world_body, dtype=np.float64)
        if T.ndim != 3 or T.shape[1:] not in ((4, 4), (3, 4)):
            msg = f"T_world_body must be (N, 4, 4) or (N, 3, 4), got shape {T.shape}"
            raise ValueError(msg)
        stamps = None if stamps_ns is None else np.asarray(stamps_ns, dtype=np.int64)
        return cls(T[:, :3, 3].copy(), T[:, :3, :3].copy(), stamps, name)

    def __len__(self) -> int:
        return int(self.positions_m.shape[0])

    @property
    def quat_xyzw(self) -> FloatArray:
        """(N, 4) Hamilton quaternions, xyzw, of the (re-orthonormalised) rotations."""
        quat: FloatArray = Rotation.from_matrix(self.rotations).as_quat()
        return quat

    @property
    def stamps_s(self) -> FloatArray | None:
        """(N,) stamps in seconds (float64), or None."""
        if self.stamps_ns is None:
            return None
        return self.stamps_ns.astype(np.float64) / NS_PER_S

    def matrices(self) -> FloatArray:
        """(N, 4, 4) float64 ``T_world_body``."""
        T = np.zeros((len(self), 4, 4))
        T[:, :3, :3] = self.rotations
        T[:, :3, 3] = self.positions_m
        T[:, 3, 3] = 1.0
        return T

    def take(self, indices: npt.ArrayLike) -> Trajectory:
        """The poses at ``indices`` (an index array), in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        stamps = None if self.stamps_ns is None else self.stamps_ns[idx]
        return Trajectory(self.positions_m[idx], self.rotations[idx], stamps, self.name)

    def path_lengths_m(self) -> FloatArray:
        """(N,) distance travelled from the first pose, metres."""
        steps = np.linalg.norm(np.diff(self.positions_m, axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    def speeds_m_s(self) -> FloatArray:
        """(N,) speed at each pose from neighbouring poses (central differences), m/s.

        Raises:
            ValueError: the trajectory has no stamps or fewer than two poses.
        """
        if self.stamps_ns is None or len(self) < 2:
            msg = f"{self.name or 'trajectory'}: speeds need stamps and two poses or more"
            raise ValueError(msg)
        t = self.stamps_s
        assert t is not None
        vel = np.gradient(self.positions_m, t, axis=0) if np.all(np.diff(t) > 0) else None
        if vel is None:
            msg = f"{self.name or 'trajectory'}: stamps must increase to compute speeds"
            raise ValueError(msg)
        speeds: FloatArray = np.linalg.norm(vel, axis=1)
        return speeds
