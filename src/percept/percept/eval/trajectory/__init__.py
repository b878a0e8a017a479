"""Trajectory accuracy: association, Umeyama alignment, ATE and RPE with evo's semantics.

The definitions follow evo (MichaelGrupp/evo) so that numbers can be compared with what
users already run, and the modules are split as evo splits them:

- :mod:`~percept.eval.trajectory.sync`, association (``evo.core.sync.associate_trajectories``):
  the trajectory with fewer poses is matched against the longer one; each of its stamps
  takes the nearest stamp of the other within ``max_diff`` (after adding ``offset`` to the
  estimate's stamps), ties going to the earlier stamp; a pose of the longer trajectory may
  serve several matches.
- :mod:`~percept.eval.trajectory.align`, alignment (``PosePath3D.align``): Umeyama's
  least-squares similarity on positions; SE(3), Sim(3) (``correct_scale``) or, for VIO
  whose gravity direction is observable, 4-DoF yaw + translation (as in
  rpg_trajectory_evaluation's ``posyaw``).
- :mod:`~percept.eval.trajectory.metrics`, ATE (evo's APE) and RPE (evo's RPE).
- :mod:`~percept.eval.trajectory.file_io`, files in the formats evo reads: TUM
  (``t x y z qx qy qz qw``, seconds), EuRoC CSV (``state_groundtruth_estimate0/data.csv``:
  ``t[ns], p xyz, q wxyz, ...``) and KITTI poses (12 numbers, a row-major 3x4
  ``T_world_cam`` per line, no stamps).
- :mod:`~percept.eval.trajectory.poses`, the :class:`Trajectory` type.
- :mod:`~percept.eval.trajectory.consistency`, NEES of position and orientation from
  published covariances, Monte-Carlo averages with chi-square bands, ±3σ plots (as
  OpenVINS' ``ov_eval``).
"""

from __future__ import annotations

from percept.eval.trajectory.align import (
    ALIGNMENTS,
    Alignment,
    Sim3,
    align_trajectory,
    umeyama,
    yaw_alignment,
)
from percept.eval.trajectory.consistency import (
    ConsistencyConfig,
    ConsistencyResult,
    MonteCarloNees,
    chi2_band,
    evaluate_consistency,
    monte_carlo_nees,
    nees,
    rpy_covariance,
    write_nees_plot,
    write_sigma_plots,
)
from percept.eval.trajectory.file_io import (
    TRAJECTORY_FORMATS,
    TrajectoryFormat,
    read_euroc_csv,
    read_kitti_poses,
    read_trajectory,
    read_tum,
    write_euroc_csv,
    write_kitti_poses,
    write_trajectory,
    write_tum,
)
from percept.eval.trajectory.metrics import (
    DELTA_UNITS,
    DeltaUnit,
    ErrorStats,
    TrajectoryEvalConfig,
    TrajectoryMetrics,
    absolute_errors,
    evaluate_trajectory,
    relative_errors,
    rpe_pairs,
)
from percept.eval.trajectory.poses import Trajectory
from percept.eval.trajectory.sync import associate

__all__ = [
    "ALIGNMENTS",
    "DELTA_UNITS",
    "TRAJECTORY_FORMATS",
    "Alignment",
    "ConsistencyConfig",
    "ConsistencyResult",
    "DeltaUnit",
    "ErrorStats",
    "MonteCarloNees",
    "Sim3",
    "Trajectory",
    "TrajectoryEvalConfig",
    "TrajectoryFormat",
    "TrajectoryMetrics",
    "absolute_errors",
    "align_trajectory",
    "associate",
    "chi2_band",
    "evaluate_consistency",
    "evaluate_trajectory",
    "monte_carlo_nees",
    "nees",
    "read_euroc_csv",
    "read_kitti_poses",
    "read_trajectory",
    "read_tum",
    "relative_errors",
    "rpe_pairs",
    "rpy_covariance",
    "umeyama",
    "write_euroc_csv",
    "write_kitti_poses",
    "write_nees_plot",
    "write_sigma_plots",
    "write_trajectory",
    "write_tum",
    "yaw_alignment",
]
