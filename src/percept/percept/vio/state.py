"""The filter state: the nominal IMU state, camera clones and the error-state covariance.

As OpenVINS' ``ov_msckf/src/state/State.h`` and ``StateHelper.h``, but in Hamilton
rotation matrices and with ONE perturbation convention, used everywhere in ``vio``:

**Right (local, body-frame) perturbation.** The true state ``x`` is the nominal state
``x̂`` boxplus a 15-D error ``δx = [δθ, δp, δv, δb_g, δb_a]``::

    R_world_imu = R̂_world_imu @ Exp(δθ)     δθ in the IMU frame, radians
    p_world_imu = p̂ + δp                    world frame, metres
    v_world_imu = v̂ + δv                    world frame, m/s
    b_g = b̂_g + δb_g,  b_a = b̂_a + δb_a       IMU frame

Each camera clone (a past IMU pose, kept for the MSCKF) has a 6-D error ``[δθ_c, δp_c]``
with the same convention. (OpenVINS uses a *left* JPL error; a right Hamilton error is
the one most SO(3) code uses, Solà's "local" error, and keeps gravity's effect on δθ in
the body frame.)

**Covariance layout.** ``covariance`` is ``(15 + 6k, 15 + 6k)``: the IMU block first,
in the order above (``THETA, POS, VEL, BG, BA``), then the k clones, oldest first, each
``[δθ_c, δp_c]``. Clones are keyed by their ``stamp_ns``; ``State.clone_slice`` gives a
clone's rows.

**Time offset.** With ``State.time_offset_s`` set (Kalibr's ``t_imu = t_cam + td``), one
more error ``δtd`` (seconds) sits between the IMU block and the clones, as in OpenVINS:
the layout is then ``15 + 1 + 6k``. A clone is keyed by the *camera* stamp and holds the
IMU pose at ``t_cam + td``; an error in ``td`` moves it along the motion, so cloning
adds ``δθ_c = δθ + ω δtd``, ``δp_c = δp + v δtd`` (``ω`` the IMU-frame angular rate, ``v``
the world velocity).

:func:`augment_clone` and :func:`marginalize_oldest_clone` are OpenVINS'
``StateHelper::augment_clone`` and ``marginalize_old_clone``: pure functions that return a
new ``State``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from percept.geometry import so3

__all__ = [
    "BA",
    "BG",
    "CLONE_DIM",
    "IMU_DIM",
    "POS",
    "TD",
    "THETA",
    "VEL",
    "Clone",
    "ImuState",
    "State",
    "augment_clone",
    "marginalize_oldest_clone",
    "time_offset_ns",
    "with_time_offset",
]

FloatArray = npt.NDArray[np.float64]

#: Size of the IMU error state [δθ, δp, δv, δb_g, δb_a].
IMU_DIM: Final = 15
#: Size of one clone's error [δθ_c, δp_c].
CLONE_DIM: Final = 6
#: Rows of each IMU error block in the covariance.
THETA: Final = slice(0, 3)
POS: Final = slice(3, 6)
VEL: Final = slice(6, 9)
BG: Final = slice(9, 12)
BA: Final = slice(12, 15)
#: Row of the time-offset error when the state carries one.
TD: Final = IMU_DIM


def _vec3(value: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,):
        msg = f"{name} must have shape (3,), got {arr.shape}"
        raise ValueError(msg)
    return arr


def _rotation(value: npt.ArrayLike, name: str) -> FloatArray:
    R = np.asarray(value, dtype=np.float64)
    if R.shape != (3, 3):
        msg = f"{name} must have shape (3, 3), got {R.shape}"
        raise ValueError(msg)
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or np.linalg.det(R) <= 0:
        msg = f"{name} must be a rotation matrix (R^T R = I, det 1)"
        raise ValueError(msg)
    return R


@dataclass(frozen=True, slots=True, eq=False)
class ImuState:
    """The nominal IMU state at one instant.

    Attributes:
        stamp_ns: time of the state, integer nanoseconds (IMU clock).
        R_world_imu: (3, 3) float64 orientation of ``imu_link`` in the world (REP 103,
            z up), taking IMU-frame vectors to the world.
        p_world_imu_m: (3,) float64 position of the IMU in the world, metres.
        v_world_imu_m_s: (3,) float64 velocity of the IMU in the world frame, m/s.
        bias_gyro_rad_s: (3,) float64 gyroscope bias, rad/s, IMU frame.
        bias_accel_m_s2: (3,) float64 accelerometer bias, m/s^2, IMU frame.
    """

    stamp_ns: int
    R_world_imu: FloatArray = field(default_factory=lambda: np.eye(3))
    p_world_imu_m: FloatArray = field(default_factory=lambda: np.zeros(3))
    v_world_imu_m_s: FloatArray = field(default_factory=lambda: np.zeros(3))
    bias_gyro_rad_s: FloatArray = field(default_factory=lambda: np.zeros(3))
    bias_accel_m_s2: FloatArray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        object.__setattr__(self, "stamp_ns", int(self.stamp_ns))
        object.__setattr__(self, "R_world_imu", _rotation(self.R_world_imu, "R_world_imu"))
        for name in ("p_world_imu_m", "v_world_imu_m_s", "bias_gyro_rad_s", "bias_accel_m_s2"):
            object.__setattr__(self, name, _vec3(getattr(self, name), name))

    @property
    def quat_xyzw(self) -> FloatArray:
        """(4,) float64 Hamilton quaternion of ``R_world_imu``, xyzw (ROS order)."""
        return so3.quat_xyzw_from_matrix(self.R_world_imu)

    @property
    def T_world_imu(self) -> FloatArray:
        """(4, 4) float64 pose of the IMU in the world."""
        T = np.eye(4)
        T[:3, :3] = self.R_world_imu
        T[:3, 3] = self.p_world_imu_m
        return T

    def boxplus(self, delta: npt.ArrayLike) -> ImuState:
        """The state moved by a 15-D error, right perturbation (module docstring).

        Args:
            delta: (15,) float64 ``[δθ (rad, IMU frame), δp (m), δv (m/s), δb_g, δb_a]``.

        Returns:
            The perturbed state, same stamp.

        Raises:
            ValueError: when ``delta`` is not (15,).
        """
        d = np.asarray(delta, dtype=np.float64)
        if d.shape != (IMU_DIM,):
            msg = f"delta must have shape ({IMU_DIM},), got {d.shape}"
            raise ValueError(msg)
        return ImuState(
            stamp_ns=self.stamp_ns,
            R_world_imu=self.R_world_imu @ so3.exp(d[THETA]),
            p_world_imu_m=self.p_world_imu_m + d[POS],
            v_world_imu_m_s=self.v_world_imu_m_s + d[VEL],
            bias_gyro_rad_s=self.bias_gyro_rad_s + d[BG],
            bias_accel_m_s2=self.bias_accel_m_s2 + d[BA],
        )

    def boxminus(self, nominal: ImuState) -> FloatArray:
        """The 15-D error that takes ``nominal`` to this state: ``nominal ⊞ δ == self``.

        Args:
            nominal: the reference state.

        Returns:
            (15,) float64 ``[δθ, δp, δv, δb_g, δb_a]``, ``δθ = Log(R̂^T R)``.
        """
        return np.concatenate(
            [
                so3.log(nominal.R_world_imu.T @ self.R_world_imu),
                self.p_world_imu_m - nominal.p_world_imu_m,
                self.v_world_imu_m_s - nominal.v_world_imu_m_s,
                self.bias_gyro_rad_s - nominal.bias_gyro_rad_s,
                self.bias_accel_m_s2 - nominal.bias_accel_m_s2,
            ]
        )


@dataclass(frozen=True, slots=True, eq=False)
class Clone:
    """A copy of the IMU pose at a camera stamp (a stochastic clone of the MSCKF).

    Attributes:
        stamp_ns: the stamp the clone was taken at, integer nanoseconds: the IMU clock
            without a time offset in the state, the camera clock with one.
        R_world_imu: (3, 3) float64 IMU orientation at that stamp.
        p_world_imu_m: (3,) float64 IMU position at that stamp, metres, world frame.
    """

    stamp_ns: int
    R_world_imu: FloatArray
    p_world_imu_m: FloatArray

    @property
    def T_world_imu(self) -> FloatArray:
        """(4, 4) float64 pose of the IMU in the world at the clone's stamp."""
        T = np.eye(4)
        T[:3, :3] = self.R_world_imu
        T[:3, 3] = self.p_world_imu_m
        return T


@dataclass(frozen=True, slots=True, eq=False)
class State:
    """Nominal state and error-state covariance (layout in the module docstring).

    Attributes:
        imu: the nominal IMU state.
        covariance: (15 + 6k, 15 + 6k) float64 symmetric covariance of the error state.
        clones: the k clones, oldest first, stamps strictly increasing.
        time_offset_s: the camera-IMU time offset ``td`` (``t_imu = t_cam + td``),
            seconds, when the state estimates it (one more error row, module
            docstring); None without.

    Raises:
        ValueError: when the covariance does not match the layout, is not finite or
            not symmetric, or the clone stamps are not increasing.
    """

    imu: ImuState
    covariance: FloatArray
    clones: tuple[Clone, ...] = ()
    time_offset_s: float | None = None

    def __post_init__(self) -> None:
        if self.time_offset_s is not None:
            td = float(self.time_offset_s)
            if not np.isfinite(td):
                msg = f"time_offset_s must be finite, got {td}"
                raise ValueError(msg)
            object.__setattr__(self, "time_offset_s", td)
        P = np.asarray(self.covariance, dtype=np.float64)
        n = self.size
        if P.shape != (n, n):
            msg = f"covariance must be ({n}, {n}) for {len(self.clones)} clones, got {P.shape}"
            raise ValueError(msg)
        if not np.all(np.isfinite(P)):
            msg = "covariance must be finite"
            raise ValueError(msg)
        scale = max(float(np.abs(P).max()), 1e-300)
        if np.abs(P - P.T).max() > 1e-9 * scale:
            msg = "covariance must be symmetric"
            raise ValueError(msg)
        stamps = [c.stamp_ns for c in self.clones]
        if any(b <= a for a, b in itertools.pairwise(stamps)):
            msg = f"clone stamps must increase, got {stamps}"
            raise ValueError(msg)
        object.__setattr__(self, "covariance", P)

    @property
    def clone_start(self) -> int:
        """Row of the oldest clone: 15, or 16 with a time offset."""
        return IMU_DIM + (0 if self.time_offset_s is None else 1)

    @property
    def size(self) -> int:
        """Dimension of the error state, ``15 (+1) + 6k``."""
        return self.clone_start + CLONE_DIM * len(self.clones)

    @property
    def stamp_ns(self) -> int:
        """Time of the IMU state, integer nanoseconds."""
        return self.imu.stamp_ns

    @property
    def clone_stamps_ns(self) -> tuple[int, ...]:
        """The clones' stamps, oldest first."""
        return tuple(c.stamp_ns for c in self.clones)

    def clone_index(self, stamp_ns: int) -> int:
        """Position of the clone taken at ``stamp_ns`` (0 = oldest).

        Raises:
            KeyError: when no clone has that stamp.
        """
        for i, c in enumerate(self.clones):
            if c.stamp_ns == stamp_ns:
                return i
        msg = f"no clone at stamp {stamp_ns} ns (clones: {list(self.clone_stamps_ns)})"
        raise KeyError(msg)

    def clone_slice(self, stamp_ns: int) -> slice:
        """Covariance rows ``[δθ_c, δp_c]`` of the clone taken at ``stamp_ns``.

        Raises:
            KeyError: when no clone has that stamp.
        """
        start = self.clone_start + CLONE_DIM * self.clone_index(stamp_ns)
        return slice(start, start + CLONE_DIM)

    def boxplus(self, delta: npt.ArrayLike) -> State:
        """The nominal state moved by a full error vector (the covariance is kept).

        Args:
            delta: (15 (+1) + 6k,) float64 error, layout of the module docstring.

        Returns:
            The perturbed state.

        Raises:
            ValueError: when ``delta`` does not match the layout.
        """
        d = np.asarray(delta, dtype=np.float64)
        if d.shape != (self.size,):
            msg = f"delta must have shape ({self.size},), got {d.shape}"
            raise ValueError(msg)
        d_clones = d[self.clone_start :].reshape(-1, CLONE_DIM)
        rotations = so3.exp(d_clones[:, :3])
        clones = tuple(
            Clone(c.stamp_ns, c.R_world_imu @ dR, c.p_world_imu_m + dc[3:])
            for c, dR, dc in zip(self.clones, rotations, d_clones, strict=True)
        )
        td = self.time_offset_s
        if td is not None:
            td += float(d[TD])
        return State(self.imu.boxplus(d[:IMU_DIM]), self.covariance, clones, td)


def with_time_offset(state: State, time_offset_s: float, sigma_s: float) -> State:
    """The state with a time-offset error added (or replaced), uncorrelated.

    Args:
        state: the state.
        time_offset_s: the initial ``td`` (``t_imu = t_cam + td``), seconds.
        sigma_s: its standard deviation, seconds.

    Returns:
        The state with layout ``15 + 1 + 6k``.
    """
    keep = np.r_[0:IMU_DIM, state.clone_start : state.size]
    n = IMU_DIM + 1 + CLONE_DIM * len(state.clones)
    P = np.zeros((n, n))
    rows = np.r_[0:IMU_DIM, IMU_DIM + 1 : n]
    P[np.ix_(rows, rows)] = state.covariance[np.ix_(keep, keep)]
    P[TD, TD] = sigma_s**2
    return State(state.imu, P, state.clones, time_offset_s)


def time_offset_ns(state: State) -> int:
    """``td`` of the state in integer nanoseconds (0 without a time offset)."""
    td = state.time_offset_s
    return 0 if td is None else round(td * 1e9)


def augment_clone(
    state: State, stamp_ns: int, angular_velocity_rad_s: npt.ArrayLike | None = None
) -> State:
    """Add a clone of the current IMU pose to the state (OpenVINS ``augment_clone``).

    The clone equals the IMU pose, so with the right perturbation its error is exactly
    ``[δθ, δp]`` of the IMU: with ``J`` the (6, n) selection of those rows,
    ``P' = [[P, P J^T], [J P, J P J^T]]``. With a time offset, ``J`` also takes
    ``[ω; v]`` times ``δtd`` (module docstring).

    Args:
        state: the state, propagated to ``stamp_ns`` (plus ``td`` with a time offset).
        stamp_ns: the clone's stamp (the camera stamp with a time offset); newer than
            every clone.
        angular_velocity_rad_s: (3,) bias-corrected IMU-frame angular rate at the
            clone, rad/s; used (and required) only with a time offset.

    Returns:
        The state with the clone appended (it becomes the newest).

    Raises:
        ValueError: when ``stamp_ns`` is not the IMU state's stamp or is not newer than
            the newest clone.
    """
    if stamp_ns + time_offset_ns(state) != state.imu.stamp_ns:
        msg = (
            f"augment_clone: propagate to the clone stamp first: state at "
            f"{state.imu.stamp_ns} ns, clone at {stamp_ns} ns + td {time_offset_ns(state)} ns"
        )
        raise ValueError(msg)
    if state.clones and stamp_ns <= state.clones[-1].stamp_ns:
        msg = f"augment_clone: stamp {stamp_ns} ns is not newer than the newest clone"
        raise ValueError(msg)
    P = state.covariance
    n = state.size
    J = np.zeros((CLONE_DIM, n))
    J[:3, THETA] = np.eye(3)
    J[3:, POS] = np.eye(3)
    if state.time_offset_s is not None:
        if angular_velocity_rad_s is None:
            msg = "augment_clone: a state with a time offset needs the angular velocity"
            raise ValueError(msg)
        J[:3, TD] = _vec3(angular_velocity_rad_s, "angular_velocity_rad_s")
        J[3:, TD] = state.imu.v_world_imu_m_s
    cross = J @ P  # (6, n)
    out = np.empty((n + CLONE_DIM, n + CLONE_DIM))
    out[:n, :n] = P
    out[n:, :n] = cross
    out[:n, n:] = cross.T
    block = cross @ J.T
    out[n:, n:] = 0.5 * (block + block.T)
    clone = Clone(stamp_ns, state.imu.R_world_imu.copy(), state.imu.p_world_imu_m.copy())
    return State(state.imu, out, (*state.clones, clone), state.time_offset_s)


def marginalize_oldest_clone(state: State) -> State:
    """Drop the oldest clone and its covariance rows and columns.

    As OpenVINS' ``marginalize_old_clone``: marginalising a Gaussian removes the
    variable's rows and columns; the rest of the covariance is unchanged.

    Args:
        state: a state with at least one clone.

    Returns:
        The state without its oldest clone.

    Raises:
        ValueError: when the state has no clone.
    """
    if not state.clones:
        msg = "marginalize_oldest_clone: the state has no clone"
        raise ValueError(msg)
    keep = np.r_[0 : state.clone_start, state.clone_start + CLONE_DIM : state.size]
    P = state.covariance[np.ix_(keep, keep)]
    return replace(state, covariance=P, clones=state.clones[1:])
