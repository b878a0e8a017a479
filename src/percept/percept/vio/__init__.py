"""Visual-inertial odometry back end (as OpenVINS' ov_msckf and ov_init's static init).

``state``: the nominal IMU state, clones and error-state covariance (one right-perturbation
convention); ``propagator``: IMU buffering and exact SO(3) zero-order-hold propagation
with the analytic transition and OpenVINS' noise discretisation; ``init_static``: static
initialisation and the zero-velocity test; ``config``: their settings.
"""

from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.init_static import (
    StaticInit,
    StillTest,
    ZeroVelocityDetector,
    ZeroVelocityTest,
    gravity_aligned_rotation,
    initialize_static,
    still_test,
)
from percept.vio.propagator import (
    ImuGap,
    ImuPropagation,
    PropagationError,
    Propagator,
    integrate_imu,
)
from percept.vio.state import (
    CLONE_DIM,
    IMU_DIM,
    Clone,
    ImuState,
    State,
    augment_clone,
    marginalize_oldest_clone,
)

__all__ = [
    "CLONE_DIM",
    "IMU_DIM",
    "Clone",
    "ImuGap",
    "ImuPropagation",
    "ImuState",
    "InitConfig",
    "PropagationError",
    "Propagator",
    "PropagatorConfig",
    "State",
    "StaticInit",
    "StillTest",
    "ZeroVelocityDetector",
    "ZeroVelocityTest",
    "augment_clone",
    "gravity_aligned_rotation",
    "initialize_static",
    "integrate_imu",
    "marginalize_oldest_clone",
    "still_test",
]
