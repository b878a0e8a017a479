"""IMU propagation of the state and its covariance (OpenVINS ``Propagator``).

**Mean: exact SO(3) zero-order hold.** Between two consecutive IMU readings the
bias-corrected angular rate ``ω̂`` and specific force ``â`` are held at the mean of the
two readings (OpenVINS' ``imu_avg``), and the motion under that hold is integrated in
closed form, not by Euler or RK4::

    R⁺ = R Exp(φ),                     φ = ω̂ dt
    v⁺ = v + g dt       + R Ξ1 â,      Ξ1 = ∫_0^dt Exp(ω̂ τ) dτ          = dt J_l(φ)
    p⁺ = p + v dt + ½ g dt² + R Ξ2 â,  Ξ2 = ∫_0^dt ∫_0^s Exp(ω̂ τ) dτ ds

with ``g = (0, 0, -gravity_m_s2)`` in the world (REP 103). With θ = |φ|, ``Ξ1 = dt (I +
A φ^ + B φ^²)`` and ``Ξ2 = dt² (½ I + B φ^ + D φ^²)``, ``A = (1 - cos θ)/θ²``,
``B = (θ - sin θ)/θ³``, ``D = (θ²/2 - 1 + cos θ)/θ⁴`` (series below θ = 0.1). These are
the ``Ξ1, Ξ2`` of OpenVINS' analytical integration (docs/propagation-analytical.dox).

**Covariance.** ``Φ`` is the exact Jacobian of that discrete step in the right
perturbation of ``percept.vio.state``, bias-gyro blocks included (the derivative of the
closed forms, no series truncation of ``F``), so it matches finite differences of the
mean to round-off. IMU white noise enters like a bias error, so its input matrix is
``Φ``'s bias columns. Noise is discretised as OpenVINS does (Trawny & Roumeliotis eqs.
129-130): white noise of density σ has variance ``σ²/dt`` per step, the bias random
walks add ``σ_b² dt``. Over a camera interval, as OpenVINS, ``Φ`` and ``Q`` of the
IMU steps are chained first (``Φ = Φ_n...Φ_1``, ``Q ← Φ_k Q Φ_kᵀ + Q_k``) and the full
covariance is updated once: ``P_II ← Φ P_II Φᵀ + Q``, ``P_IC ← Φ P_IC``.

**Readings used.** ``propagate(state, t1)`` integrates from ``state.stamp_ns`` to ``t1``
over the buffered readings; the readings at both ends are interpolated linearly between
the two readings around each end. When ``t1`` lies beyond the newest reading, the newest
is held (OpenVINS does the same); when two readings are further apart than
``max_imu_gap_s`` (or an end lies that far from its nearest reading), the interval is
still integrated with the readings it has, nothing is invented, and the gap is reported
in ``Propagator.last_gaps`` and logged.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.domain import ImuSample
from percept.errors import PerceptError
from percept.geometry import so3
from percept.units import NS_PER_S
from percept.vio.config import PropagatorConfig
from percept.vio.state import BA, BG, IMU_DIM, POS, THETA, VEL, ImuState, State

__all__ = [
    "ImuGap",
    "ImuPropagation",
    "PropagationError",
    "Propagator",
    "integrate_imu",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Below this rotation per step (rad) the closed forms switch to their Taylor series.
_SMALL_ANGLE = 0.1


class PropagationError(PerceptError):
    """The IMU buffer cannot carry the state to the requested stamp."""


@dataclass(frozen=True, slots=True)
class ImuGap:
    """A stretch without IMU readings that a propagation crossed.

    Attributes:
        start_ns: stamp of the reading (or state) before the gap.
        end_ns: stamp of the reading (or target) after the gap.
    """

    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        """Length of the gap, nanoseconds."""
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True, eq=False)
class ImuPropagation:
    """The result of integrating held IMU readings over consecutive intervals.

    Attributes:
        imu: the propagated nominal IMU state.
        transition: (15, 15) float64 ``Φ``, error at the end from error at the start.
        noise: (15, 15) float64 discrete process noise ``Q`` accumulated over the steps.
    """

    imu: ImuState
    transition: FloatArray
    noise: FloatArray


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross product of (N, 3) arrays (np.cross is slow on small batches)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def _coefficients(theta: FloatArray) -> tuple[FloatArray, ...]:
    """``A, B, D`` of the module docstring and their derivatives divided by θ.

    Args:
        theta: (N,) float64 rotation angles, radians.

    Returns:
        Six (N,) float64 arrays: ``A, B, D, A'/θ, B'/θ, D'/θ``.
    """
    t2 = theta * theta
    small = theta < _SMALL_ANGLE
    # Taylor series (the next terms are below 1e-13 relative for θ < 0.1).
    a = 1 / 2 - t2 / 24 + t2 * t2 / 720 - t2**3 / 40320
    b = 1 / 6 - t2 / 120 + t2 * t2 / 5040 - t2**3 / 362880
    d = 1 / 24 - t2 / 720 + t2 * t2 / 40320 - t2**3 / 3628800
    da = -1 / 12 + t2 / 180 - t2 * t2 / 6720 + t2**3 / 453600
    db = -1 / 60 + t2 / 1260 - t2 * t2 / 60480 + t2**3 / 4989600
    dd = -1 / 360 + t2 / 10080 - t2 * t2 / 604800 + t2**3 / 59875200
    if not np.all(small):
        big = ~small
        t = theta[big]
        s, c = np.sin(t), np.cos(t)
        a[big] = (1 - c) / t**2
        b[big] = (t - s) / t**3
        d[big] = (t * t / 2 - 1 + c) / t**4
        da[big] = (t * s - 2 * (1 - c)) / t**4
        db[big] = (t * (1 - c) - 3 * (t - s)) / t**5
        dd[big] = (t * (t - s) - 4 * (t * t / 2 - 1 + c)) / t**6
    return a, b, d, da, db, dd


def _series_jacobian(
    phi: FloatArray,
    u: FloatArray,
    c1: FloatArray,
    c2: FloatArray,
    dc1: FloatArray,
    dc2: FloatArray,
) -> FloatArray:
    """Jacobian in φ of ``c1(θ) φ×u + c2(θ) φ×(φ×u)`` (u fixed).

    Args:
        phi: (N, 3) float64 rotation vectors φ, θ = |φ|.
        u: (N, 3) float64 vectors.
        c1: (N,) float64 coefficient of φ×u.
        c2: (N,) float64 coefficient of φ×(φ×u).
        dc1: (N,) float64 dc1/dθ divided by θ.
        dc2: (N,) float64 dc2/dθ divided by θ.

    Returns:
        (N, 3, 3) float64 Jacobians.
    """
    pxu = _cross(phi, u)
    pxpxu = _cross(phi, pxu)
    dot = np.einsum("ni,ni->n", phi, u)
    eye = np.eye(3)
    out: FloatArray = (
        -c1[:, None, None] * so3.hat(u)
        + c2[:, None, None]
        * (
            dot[:, None, None] * eye
            + phi[:, :, None] * u[:, None, :]
            - 2.0 * u[:, :, None] * phi[:, None, :]
        )
        + (pxu * dc1[:, None])[:, :, None] * phi[:, None, :]
        + (pxpxu * dc2[:, None])[:, :, None] * phi[:, None, :]
    )
    return out


def integrate_imu(
    imu: ImuState,
    dt_ns: npt.ArrayLike,
    gyro_rad_s: npt.ArrayLike,
    accel_m_s2: npt.ArrayLike,
    config: PropagatorConfig,
    with_covariance: bool = True,
) -> ImuPropagation:
    """Integrate held IMU readings over consecutive intervals (module docstring).

    Args:
        imu: the state at the start of the first interval.
        dt_ns: (N,) int64 interval lengths, nanoseconds, each > 0.
        gyro_rad_s: (N, 3) float64 angular rate held over each interval (raw, bias
            included), rad/s, IMU frame.
        accel_m_s2: (N, 3) float64 specific force held over each interval (raw), m/s^2,
            IMU frame.
        config: noise densities and gravity.
        with_covariance: False skips ``Φ`` and ``Q`` (returned as identity and zeros).

    Returns:
        The state at ``imu.stamp_ns + sum(dt_ns)`` with ``Φ`` and ``Q``.

    Raises:
        ValueError: on shape mismatches or a non-positive interval.
    """
    dts_ns = np.asarray(dt_ns, dtype=np.int64).reshape(-1)
    gyro = np.asarray(gyro_rad_s, dtype=np.float64)
    accel = np.asarray(accel_m_s2, dtype=np.float64)
    n = dts_ns.shape[0]
    if gyro.shape != (n, 3) or accel.shape != (n, 3):
        msg = f"gyro and accel must be ({n}, 3), got {gyro.shape} and {accel.shape}"
        raise ValueError(msg)
    if n and dts_ns.min() <= 0:
        msg = f"dt_ns must be > 0, got {dts_ns.min()}"
        raise ValueError(msg)
    if n == 0:
        return ImuPropagation(imu, np.eye(IMU_DIM), np.zeros((IMU_DIM, IMU_DIM)))
    dt = dts_ns / NS_PER_S
    w = gyro - imu.bias_gyro_rad_s
    a_hat = accel - imu.bias_accel_m_s2
    phi = w * dt[:, None]
    theta = np.sqrt(np.einsum("ni,ni->n", phi, phi))
    ca, cb, cd, dca, dcb, dcd = _coefficients(theta)
    dR = so3.exp(phi)
    # Rotation chain R_k (world from IMU at the start of each step): the one sequential part.
    R = np.empty((n + 1, 3, 3))
    R[0] = imu.R_world_imu
    for k in range(n):
        R[k + 1] = R[k] @ dR[k]
    Rk = R[:-1]
    pxa = _cross(phi, a_hat)
    pxpxa = _cross(phi, pxa)
    u1 = dt[:, None] * (a_hat + ca[:, None] * pxa + cb[:, None] * pxpxa)  # Ξ1 â
    u2 = (dt * dt)[:, None] * (0.5 * a_hat + cb[:, None] * pxa + cd[:, None] * pxpxa)  # Ξ2 â
    gravity = np.array([0.0, 0.0, -config.gravity_m_s2])
    dv = gravity * dt[:, None] + np.einsum("nij,nj->ni", Rk, u1)
    v = np.empty((n + 1, 3))
    v[0] = imu.v_world_imu_m_s
    v[1:] = imu.v_world_imu_m_s + np.cumsum(dv, axis=0)
    dp = v[:-1] * dt[:, None] + 0.5 * gravity * (dt * dt)[:, None] + np.einsum("nij,nj->ni", Rk, u2)
    R_end = R[n]
    # Re-orthonormalise: n matrix products drift by ~n * 1e-16.
    u_svd, _, vt_svd = np.linalg.svd(R_end)
    R_end = u_svd @ vt_svd
    out = ImuState(
        stamp_ns=imu.stamp_ns + int(dts_ns.sum()),
        R_world_imu=R_end,
        p_world_imu_m=imu.p_world_imu_m + dp.sum(axis=0),
        v_world_imu_m_s=v[n],
        bias_gyro_rad_s=imu.bias_gyro_rad_s,
        bias_accel_m_s2=imu.bias_accel_m_s2,
    )
    if not with_covariance:
        return ImuPropagation(out, np.eye(IMU_DIM), np.zeros((IMU_DIM, IMU_DIM)))

    hat_phi = so3.hat(phi)
    hat_phi2 = hat_phi @ hat_phi
    eye = np.eye(3)
    # Right Jacobian J_r(φ) = I - A φ^ + B φ^², Ξ1 = dt J_l(φ), Ξ2 (module docstring).
    jr = eye - ca[:, None, None] * hat_phi + cb[:, None, None] * hat_phi2
    xi1 = dt[:, None, None] * (eye + ca[:, None, None] * hat_phi + cb[:, None, None] * hat_phi2)
    xi2 = (dt * dt)[:, None, None] * (
        0.5 * eye + cb[:, None, None] * hat_phi + cd[:, None, None] * hat_phi2
    )
    # d(Ξ1 â)/dφ and d(Ξ2 â)/dφ; dφ/db_g = -dt.
    j1 = dt[:, None, None] * _series_jacobian(phi, a_hat, ca, cb, dca, dcb)
    j2 = (dt * dt)[:, None, None] * _series_jacobian(phi, a_hat, cb, cd, dcb, dcd)
    phis = np.zeros((n, IMU_DIM, IMU_DIM))
    phis[:, THETA, THETA] = np.transpose(dR, (0, 2, 1))
    phis[:, THETA, BG] = -jr * dt[:, None, None]
    phis[:, POS, THETA] = -Rk @ so3.hat(u2)
    phis[:, POS, POS] = eye
    phis[:, POS, VEL] = eye * dt[:, None, None]
    phis[:, POS, BG] = -Rk @ j2 * dt[:, None, None]
    phis[:, POS, BA] = -Rk @ xi2
    phis[:, VEL, THETA] = -Rk @ so3.hat(u1)
    phis[:, VEL, VEL] = eye
    phis[:, VEL, BG] = -Rk @ j1 * dt[:, None, None]
    phis[:, VEL, BA] = -Rk @ xi1
    phis[:, BG, BG] = eye
    phis[:, BA, BA] = eye
    # Measurement noise enters as the bias does: G = Φ's bias columns, rows θ, p, v.
    g_gyro = phis[:, :9, BG]
    g_accel = phis[:, :9, BA]
    var_g = config.gyroscope_noise_density**2 / dt
    var_a = config.accelerometer_noise_density**2 / dt
    qs = np.zeros((n, IMU_DIM, IMU_DIM))
    qs[:, :9, :9] = var_g[:, None, None] * (g_gyro @ np.transpose(g_gyro, (0, 2, 1))) + var_a[
        :, None, None
    ] * (g_accel @ np.transpose(g_accel, (0, 2, 1)))
    qs[:, BG, BG] = eye * (config.gyroscope_random_walk**2 * dt)[:, None, None]
    qs[:, BA, BA] = eye * (config.accelerometer_random_walk**2 * dt)[:, None, None]
    transition = phis[0]
    noise = qs[0]
    for k in range(1, n):
        transition = phis[k] @ transition
        noise = phis[k] @ noise @ phis[k].T + qs[k]
    noise = 0.5 * (noise + noise.T)
    return ImuPropagation(out, transition, noise)


class Propagator:
    """Buffers IMU readings and carries the state forward (OpenVINS ``Propagator``).

    Args:
        config: noise densities, gravity, gap threshold and buffer length.

    Attributes:
        last_gaps: the IMU gaps the latest :meth:`propagate` crossed.
        gap_count: distinct IMU gaps crossed since construction (a gap crossed by
            several propagations counts once).
        dropped_count: readings refused by :meth:`feed_imu` (not newer than the newest
            buffered one, or not finite).
    """

    def __init__(self, config: PropagatorConfig | None = None) -> None:
        self.config = config if config is not None else PropagatorConfig()
        self._stamps: list[int] = []
        self._gyro: list[FloatArray] = []
        self._accel: list[FloatArray] = []
        self.last_gaps: tuple[ImuGap, ...] = ()
        self.gap_count = 0
        self._last_gap_start_ns = -(2**62)
        self.dropped_count = 0
        self._max_gap_ns = round(self.config.max_imu_gap_s * NS_PER_S)
        self._buffer_ns = round(self.config.buffer_s * NS_PER_S)

    @property
    def oldest_stamp_ns(self) -> int | None:
        """Stamp of the oldest buffered reading, None when the buffer is empty."""
        return self._stamps[0] if self._stamps else None

    @property
    def newest_stamp_ns(self) -> int | None:
        """Stamp of the newest buffered reading, None when the buffer is empty."""
        return self._stamps[-1] if self._stamps else None

    def __len__(self) -> int:
        """Number of buffered readings."""
        return len(self._stamps)

    def feed_imu(self, sample: ImuSample) -> bool:
        """Buffer one IMU reading.

        Args:
            sample: the reading; its ``header.stamp_ns`` must be newer than the newest
                buffered one.

        Returns:
            True when buffered, False when refused (out of order, duplicate or not
            finite; counted in ``dropped_count``).
        """
        stamp = int(sample.header.stamp_ns)
        gyro = np.asarray(sample.angular_velocity_rad_s, dtype=np.float64).reshape(3)
        accel = np.asarray(sample.linear_acceleration_m_s2, dtype=np.float64).reshape(3)
        if (self._stamps and stamp <= self._stamps[-1]) or not (
            np.all(np.isfinite(gyro)) and np.all(np.isfinite(accel))
        ):
            self.dropped_count += 1
            _log.debug("IMU reading at %d ns refused (out of order or not finite)", stamp)
            return False
        self._stamps.append(stamp)
        self._gyro.append(gyro)
        self._accel.append(accel)
        return True

    def reading_at(self, stamp_ns: int) -> tuple[FloatArray, FloatArray]:
        """``(gyro, accel)`` at ``stamp_ns``: linear between the readings around it.

        Outside the buffered span, the nearest buffered reading.

        Raises:
            PropagationError: when the buffer is empty.
        """
        if not self._stamps:
            msg = f"no IMU readings buffered at {stamp_ns} ns"
            raise PropagationError(msg)
        return self._reading_at(stamp_ns)

    def prune(self, stamp_ns: int) -> None:
        """Drop readings older than ``buffer_s`` before ``stamp_ns``.

        Keeps the buffer bounded while nothing propagates (during initialisation).
        """
        self._prune(stamp_ns)

    def _reading_at(self, stamp_ns: int) -> tuple[FloatArray, FloatArray]:
        """Readings at ``stamp_ns``, linear between the two around it, else the nearest."""
        i = bisect.bisect_left(self._stamps, stamp_ns)
        if i < len(self._stamps) and self._stamps[i] == stamp_ns:
            return self._gyro[i], self._accel[i]
        if i == 0:
            return self._gyro[0], self._accel[0]
        if i == len(self._stamps):
            return self._gyro[-1], self._accel[-1]
        t0, t1 = self._stamps[i - 1], self._stamps[i]
        s = (stamp_ns - t0) / (t1 - t0)
        gyro = (1 - s) * self._gyro[i - 1] + s * self._gyro[i]
        accel = (1 - s) * self._accel[i - 1] + s * self._accel[i]
        return gyro, accel

    def readings(
        self, start_ns: int, end_ns: int
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """The readings from ``start_ns`` to ``end_ns``, ends interpolated.

        Args:
            start_ns: first stamp.
            end_ns: last stamp, > ``start_ns``.

        Returns:
            ``(stamps_ns (M,) int64, gyro (M, 3) rad/s, accel (M, 3) m/s^2)``: the
            interpolated (or held) readings at both ends and the buffered ones between.

        Raises:
            PropagationError: when the buffer is empty.
        """
        if not self._stamps:
            msg = f"no IMU readings buffered to propagate from {start_ns} to {end_ns} ns"
            raise PropagationError(msg)
        lo = bisect.bisect_right(self._stamps, start_ns)
        hi = bisect.bisect_left(self._stamps, end_ns)
        g0, a0 = self._reading_at(start_ns)
        g1, a1 = self._reading_at(end_ns)
        stamps = np.array([start_ns, *self._stamps[lo:hi], end_ns], dtype=np.int64)
        gyro = np.array([g0, *self._gyro[lo:hi], g1])
        accel = np.array([a0, *self._accel[lo:hi], a1])
        return stamps, gyro, accel

    def propagate(self, state: State, to_stamp_ns: int) -> State:
        """The state carried forward to ``to_stamp_ns`` over the buffered readings.

        Args:
            state: the state (IMU state, clones and covariance).
            to_stamp_ns: the target stamp, >= ``state.stamp_ns``.

        Returns:
            The propagated state; clones are unchanged, their cross-covariances with the
            IMU state are carried by ``Φ``. ``last_gaps`` lists the gaps crossed.

        Raises:
            ValueError: when ``to_stamp_ns`` is older than the state.
            PropagationError: when no IMU reading is buffered.
        """
        start = state.stamp_ns
        if to_stamp_ns < start:
            msg = f"cannot propagate backwards: state at {start} ns, target {to_stamp_ns} ns"
            raise ValueError(msg)
        self.last_gaps = ()
        if to_stamp_ns == start:
            return state
        stamps, gyro, accel = self.readings(start, to_stamp_ns)
        gaps = tuple(
            g
            for g in (*self._interior_gaps(stamps), *self._edge_gaps(start, to_stamp_ns))
            if g.duration_ns > self._max_gap_ns
        )
        if gaps:
            self.last_gaps = gaps
            # A gap longer than a frame is crossed by several propagations: count and
            # log each gap once, by where it starts.
            new = [g for g in gaps if g.start_ns > self._last_gap_start_ns]
            self.gap_count += len(new)
            self._last_gap_start_ns = max(self._last_gap_start_ns, gaps[-1].start_ns)
        if gaps and new:
            _log.warning(
                "IMU gap: %d ms without readings between %d and %d ns, integrated across",
                max(g.duration_ns for g in new) // 1_000_000,
                new[0].start_ns,
                new[-1].end_ns,
            )
        # The interval between two readings holds their mean (OpenVINS imu_avg).
        result = integrate_imu(
            state.imu,
            np.diff(stamps),
            0.5 * (gyro[1:] + gyro[:-1]),
            0.5 * (accel[1:] + accel[:-1]),
            self.config,
        )
        P = state.covariance
        phi, q = result.transition, result.noise
        out = np.empty_like(P)
        imu_rows = slice(0, IMU_DIM)
        rest = slice(IMU_DIM, P.shape[0])
        out[imu_rows, imu_rows] = phi @ P[imu_rows, imu_rows] @ phi.T + q
        out[imu_rows, rest] = phi @ P[imu_rows, rest]
        out[rest, imu_rows] = out[imu_rows, rest].T
        out[rest, rest] = P[rest, rest]
        out = 0.5 * (out + out.T)
        self._prune(to_stamp_ns)
        return State(result.imu, out, state.clones, state.time_offset_s)

    def _interior_gaps(self, stamps: npt.NDArray[np.int64]) -> tuple[ImuGap, ...]:
        """Gaps between consecutive buffered readings inside ``stamps``' span."""
        lo = bisect.bisect_left(self._stamps, int(stamps[0]))
        hi = bisect.bisect_right(self._stamps, int(stamps[-1]))
        lo, hi = max(lo - 1, 0), min(hi + 1, len(self._stamps))
        real = np.array(self._stamps[lo:hi], dtype=np.int64)
        if real.shape[0] < 2:
            return ()
        d = np.diff(real)
        idx = np.flatnonzero(d > self._max_gap_ns)
        # Keep only the gaps that overlap the propagated span.
        return tuple(
            ImuGap(int(real[i]), int(real[i + 1]))
            for i in idx
            if real[i + 1] > stamps[0] and real[i] < stamps[-1]
        )

    def _edge_gaps(self, start_ns: int, end_ns: int) -> tuple[ImuGap, ...]:
        """Gaps at the ends: the span reaches beyond the buffered readings."""
        first, last = self._stamps[0], self._stamps[-1]
        out = []
        if start_ns < first:
            out.append(ImuGap(start_ns, min(first, end_ns)))
        if end_ns > last:
            out.append(ImuGap(max(last, start_ns), end_ns))
        return tuple(out)

    def _prune(self, stamp_ns: int) -> None:
        """Drop readings older than ``buffer_s`` before ``stamp_ns``.

        The last reading at or before that time stays: it is the left end of the next
        interpolation.
        """
        cut = bisect.bisect_right(self._stamps, stamp_ns - self._buffer_ns) - 1
        if cut > 0:
            del self._stamps[:cut]
            del self._gyro[:cut]
            del self._accel[:cut]
