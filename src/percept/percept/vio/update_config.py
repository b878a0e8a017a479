"""Settings of the MSCKF feature update (OpenVINS ``UpdaterOptions`` + its MSCKF options).

Defaults are OpenVINS' EuRoC values (``config/euroc_mav/estimator_config.yaml``):
``up_msckf_sigma_px: 1``, ``up_msckf_chi2_multipler: 1``, ``max_msckf_in_update: 40``,
and its 95 % chi-square quantile with dof = rows of the projected residual (not
msckf_vio's 5 % table, KumarRobotics/msckf_vio#124).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from percept.features.config import TriangulationConfig
from percept.params import param

__all__ = ["UpdaterConfig"]


@dataclass(frozen=True, slots=True)
class UpdaterConfig:
    """How lost tracks update the state (:func:`percept.vio.update_msckf.msckf_update`).

    Attributes:
        sigma_px: standard deviation of a feature observation, pixels (OpenVINS
            ``up_msckf_sigma_px``); the same on x and y, left and right.
        chi2_quantile: quantile of the per-feature chi-square gate (0.95 as OpenVINS).
        chi2_multiplier: the gate's threshold is ``multiplier × chi2.ppf(quantile,
            dof)`` (OpenVINS ``up_msckf_chi2_multipler``: 1).
        min_observations: fewest clone stamps a track must be seen at (left image) to be
            used; OpenVINS drops features with fewer than 2.
        max_features: most tracks used in one update (OpenVINS ``max_msckf_in_update``:
            40 on EuRoC); the longest tracks go first.
        use_stereo: stack the right-image observation where the track has one.
        triangulation: acceptance tests of the feature's triangulation.
    """

    sigma_px: float = param(1.0, "feature observation sigma, pixels", min_value=1e-3)
    chi2_quantile: float = param(
        0.95, "chi-square gate quantile", min_value=0.5, max_value=0.999999
    )
    chi2_multiplier: float = param(1.0, "chi-square gate threshold multiplier", min_value=0.0)
    min_observations: int = param(2, "fewest clone stamps a used track is seen at", min_value=2)
    max_features: int = param(40, "most tracks in one update", min_value=1)
    use_stereo: bool = param(True, "use the right-image observations")
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)

    def __post_init__(self) -> None:
        checks = [
            (np.isfinite(self.sigma_px) and self.sigma_px > 0, "sigma_px", "> 0"),
            (0.5 <= self.chi2_quantile < 1.0, "chi2_quantile", "in [0.5, 1)"),
            (
                np.isfinite(self.chi2_multiplier) and self.chi2_multiplier > 0,
                "chi2_multiplier",
                "> 0",
            ),
            (self.min_observations >= 2, "min_observations", ">= 2"),
            (self.max_features >= 1, "max_features", ">= 1"),
        ]
        for ok, name, bound in checks:
            if not ok:
                msg = f"UpdaterConfig.{name} must be {bound}, got {getattr(self, name)}"
                raise ValueError(msg)
