"""Trajectory files in the formats evo reads and writes (``evo.tools.file_interface``).

TUM (``t x y z qx qy qz qw``, seconds), EuRoC CSV
(``state_groundtruth_estimate0/data.csv``: ``t[ns], p xyz, q wxyz, ...``) and KITTI poses
(12 numbers, a row-major 3x4 ``T_world_cam`` per line, no stamps).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from percept.errors import EvalError
from percept.eval.trajectory.poses import FloatArray, Trajectory
from percept.units import NS_PER_S

__all__ = [
    "TRAJECTORY_FORMATS",
    "TrajectoryFormat",
    "read_euroc_csv",
    "read_kitti_poses",
    "read_trajectory",
    "read_tum",
    "write_euroc_csv",
    "write_kitti_poses",
    "write_trajectory",
    "write_tum",
]

TrajectoryFormat = Literal["tum", "euroc", "kitti"]
#: File formats :func:`read_trajectory` and :func:`write_trajectory` know.
TRAJECTORY_FORMATS: tuple[str, ...] = ("tum", "euroc", "kitti")


def _rows(path: Path, delimiter: str | None, columns: int, what: str) -> list[list[str]]:
    """Non-comment, non-blank rows of a text file split into fields."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        msg = f"{path}: cannot read {what} file: {err}"
        raise EvalError(msg) from err
    rows: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip() for f in stripped.split(delimiter)]
        if len(fields) < columns or (what != "EuRoC CSV" and len(fields) != columns):
            msg = (
                f"{path}:{number}: {what} rows have {columns} values"
                f"{' or more' if what == 'EuRoC CSV' else ''}, got {len(fields)}"
            )
            raise EvalError(msg)
        rows.append(fields)
    if not rows:
        msg = f"{path}: no poses in {what} file"
        raise EvalError(msg)
    return rows


def _floats(rows: list[list[str]], cols: slice, path: Path, what: str) -> FloatArray:
    try:
        return np.array([[float(v) for v in r[cols]] for r in rows], dtype=np.float64)
    except ValueError as err:
        msg = f"{path}: {what} file has a non-numeric value: {err}"
        raise EvalError(msg) from err


def _stamp_ns(text: str, unit_ns: int, path: Path) -> int:
    """Exact decimal stamp (``1305031102.175304``, ``1.4e9``) to integer nanoseconds."""
    try:
        return int((Decimal(text) * unit_ns).to_integral_value())
    except (InvalidOperation, ValueError) as err:
        msg = f"{path}: bad timestamp {text!r}"
        raise EvalError(msg) from err


def read_tum(path: Path | str) -> Trajectory:
    """Read a TUM RGB-D trajectory: ``t tx ty tz qx qy qz qw`` per line.

    ``t`` in seconds (decimal or scientific notation, converted exactly to
    nanoseconds), positions in metres, Hamilton quaternions xyzw; ``#`` lines are
    comments. Fields may be separated by any whitespace.

    Raises:
        EvalError: unreadable file or rows without 8 numbers.
    """
    p = Path(path)
    rows = _rows(p, None, 8, "TUM")
    stamps = np.array([_stamp_ns(r[0], NS_PER_S, p) for r in rows], dtype=np.int64)
    values = _floats(rows, slice(1, 8), p, "TUM")
    return _from_quat(values[:, :3], values[:, 3:7], stamps, p)


def _from_quat(
    pos: FloatArray, quat_xyzw: FloatArray, stamps: npt.NDArray[np.int64] | None, path: Path
) -> Trajectory:
    norms = np.linalg.norm(quat_xyzw, axis=1)
    bad = np.flatnonzero(~(norms > 1e-12))
    if bad.size:
        msg = f"{path}: pose {int(bad[0])} has a zero or invalid quaternion"
        raise EvalError(msg)
    try:
        return Trajectory.from_quaternions(pos, quat_xyzw, stamps, name=str(path))
    except ValueError as err:
        msg = f"{path}: {err}"
        raise EvalError(msg) from err


def read_euroc_csv(path: Path | str) -> Trajectory:
    """Read an EuRoC/ASL CSV trajectory (``state_groundtruth_estimate0/data.csv``).

    Columns: ``timestamp [ns], p_RS_R_x, p_RS_R_y, p_RS_R_z [m], q_RS_w, q_RS_x, q_RS_y,
    q_RS_z`` and optionally more (velocity, biases), which are ignored; ``#`` lines are
    comments. The same layout serves estimates (8 columns). Note the quaternion order
    **wxyz** here.

    Raises:
        EvalError: unreadable file or rows with fewer than 8 numbers.
    """
    p = Path(path)
    rows = _rows(p, ",", 8, "EuRoC CSV")
    stamps = np.array([_stamp_ns(r[0], 1, p) for r in rows], dtype=np.int64)
    values = _floats(rows, slice(1, 8), p, "EuRoC CSV")
    quat_xyzw = values[:, [4, 5, 6, 3]]
    return _from_quat(values[:, :3], quat_xyzw, stamps, p)


def read_kitti_poses(path: Path | str) -> Trajectory:
    """Read KITTI odometry poses: a row-major 3x4 ``T_world_cam`` (12 numbers) per line.

    There are no stamps: KITTI poses are paired index by index.

    Raises:
        EvalError: unreadable file or rows without 12 numbers.
    """
    p = Path(path)
    rows = _rows(p, None, 12, "KITTI")
    values = _floats(rows, slice(0, 12), p, "KITTI")
    try:
        return Trajectory.from_matrices(values.reshape(-1, 3, 4), None, name=str(p))
    except ValueError as err:
        msg = f"{p}: {err}"
        raise EvalError(msg) from err


def read_trajectory(path: Path | str, fmt: TrajectoryFormat) -> Trajectory:
    """Read a trajectory file of format ``tum``, ``euroc`` or ``kitti``.

    Raises:
        EvalError: unknown format or unreadable file.
    """
    if fmt == "tum":
        return read_tum(path)
    if fmt == "euroc":
        return read_euroc_csv(path)
    if fmt == "kitti":
        return read_kitti_poses(path)
    msg = f"trajectory format must be one of {TRAJECTORY_FORMATS}, got {fmt!r}"
    raise EvalError(msg)


def _stamp_text(stamp_ns: int) -> str:
    sign = "-" if stamp_ns < 0 else ""
    sec, frac = divmod(abs(int(stamp_ns)), NS_PER_S)
    return f"{sign}{sec}.{frac:09d}"


def _need_stamps(trajectory: Trajectory, fmt: str) -> npt.NDArray[np.int64]:
    if trajectory.stamps_ns is None:
        msg = f"{trajectory.name or 'trajectory'}: {fmt} files need stamps"
        raise EvalError(msg)
    return trajectory.stamps_ns


def write_tum(path: Path | str, trajectory: Trajectory) -> Path:
    """Write ``t tx ty tz qx qy qz qw`` lines (t in seconds, exact to the nanosecond).

    Raises:
        EvalError: the trajectory has no stamps.
    """
    stamps = _need_stamps(trajectory, "TUM")
    values = np.hstack([trajectory.positions_m, trajectory.quat_xyzw])
    lines = [
        " ".join([_stamp_text(int(t)), *(repr(float(v)) for v in row)])
        for t, row in zip(stamps, values, strict=True)
    ]
    out = Path(path)
    out.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_euroc_csv(path: Path | str, trajectory: Trajectory) -> Path:
    """Write the EuRoC CSV pose columns (``t[ns], p xyz, q wxyz``) with the ASL header.

    Raises:
        EvalError: the trajectory has no stamps.
    """
    stamps = _need_stamps(trajectory, "EuRoC CSV")
    q = trajectory.quat_xyzw[:, [3, 0, 1, 2]]
    values = np.hstack([trajectory.positions_m, q])
    header = (
        "#timestamp [ns], p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], "
        "q_RS_w [], q_RS_x [], q_RS_y [], q_RS_z []"
    )
    lines = [
        ",".join([str(int(t)), *(repr(float(v)) for v in row)])
        for t, row in zip(stamps, values, strict=True)
    ]
    out = Path(path)
    out.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_kitti_poses(path: Path | str, trajectory: Trajectory) -> Path:
    """Write KITTI poses: the first three rows of each ``T_world_body``, 12 numbers a line."""
    rows = trajectory.matrices()[:, :3, :].reshape(-1, 12)
    lines = [" ".join(repr(float(v)) for v in row) for row in rows]
    out = Path(path)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_trajectory(path: Path | str, trajectory: Trajectory, fmt: TrajectoryFormat) -> Path:
    """Write ``trajectory`` as ``tum``, ``euroc`` or ``kitti``.

    Raises:
        EvalError: unknown format, or a stamped format for an unstamped trajectory.
    """
    if fmt == "tum":
        return write_tum(path, trajectory)
    if fmt == "euroc":
        return write_euroc_csv(path, trajectory)
    if fmt == "kitti":
        return write_kitti_poses(path, trajectory)
    msg = f"trajectory format must be one of {TRAJECTORY_FORMATS}, got {fmt!r}"
    raise EvalError(msg)
