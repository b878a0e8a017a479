"""VioNode through the local runtime: odometry, path, TF, queues, extrinsics, bad input.

The input is a small synthetic rig, cheap enough for unit tests: a stereo pair looking
at a textured wall (each image one homography of the texture, exact for a plane) and a
noise-free 200 Hz IMU, both from the same analytic motion: 0.6 s still, then a smooth
swing in position and yaw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept.calib.imu import ImuNoise, imu_yaml
from percept.calib.yaml_io import write_camera_info_yaml
from percept.domain import (
    CameraInfo,
    DiagnosticLevel,
    Header,
    Image,
    ImuSample,
    Odometry,
    TransformStamped,
)
from percept.domain import Path as PathMessage
from percept.geometry import se3, so3
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.nodes._odometry import pose_covariance, twist_and_covariance
from percept.nodes.vio import VioNode, estimator_config_from_params
from percept.stereo import rectified_pair_models
from percept.testing import NodeHarness
from percept.vio.estimator import VioEstimate, VioStatus

W, H, F, BASELINE = 320, 240, 200.0, 0.12
START_NS = 1_000_000_000
IMU_DT_NS = 5_000_000  # 200 Hz
CAM_DT_NS = 50_000_000  # 20 Hz
STILL_S = 0.6
IMU_FRAME, LEFT_FRAME, RIGHT_FRAME = "imu_link", "left_optical", "right_optical"
#: The camera looks along the IMU's x axis (optical z), as the synth rig's.
T_IMU_CAM = se3.from_rotation_translation(
    np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), [0.1, 0.03, 0.05]
)
T_BASE_IMU = se3.from_rotation_translation(so3.exp([0.0, 0.0, 0.3]), [0.2, -0.05, 0.3])
#: Node settings for the short sequence: a short still window.
PARAMS = {"init_window_s": 0.5, "track_num_features": 120}


def _texture() -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(3)
    noise = rng.random((160, 160)).astype(np.float32)
    big = cv2.resize(noise, (2000, 2000), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min())
    return np.asarray(np.clip(30 + 200 * big, 0, 255), dtype=np.uint8)


TEXTURE = _texture()
#: Texture pixel (u, v, 1) -> world point on the wall x = 3 m (4 mm per texture pixel).
WALL = np.array([[0.0, 0.0, 3.0], [-0.004, 0.0, 4.0], [0.0, -0.004, 4.0]])


def truth(t_s: float) -> npt.NDArray[np.float64]:
    """(4, 4) T_world_imu at ``t_s`` seconds after the start."""
    s = max(t_s - STILL_S, 0.0)
    p = np.array([0.3 * (1 - np.cos(2.0 * s)), 0.25 * (1 - np.cos(3.0 * s)), 0.1 * np.sin(s) ** 2])
    yaw, pitch, roll = 0.25 * (1 - np.cos(2.5 * s)), 0.05 * np.sin(s) ** 2, 0.0
    R = Rotation.from_euler("zyx", [yaw, pitch, roll]).as_matrix()
    return se3.from_rotation_translation(R, p)


def imu_sample(stamp_ns: int, frame: str = IMU_FRAME) -> ImuSample:
    """Noise-free gyro and accelerometer readings of ``truth`` (central differences)."""
    t, h = (stamp_ns - START_NS) / 1e9, 1e-4
    T0, T1, T2 = truth(t - h), truth(t), truth(t + h)
    omega = so3.log(T0[:3, :3].T @ T2[:3, :3]) / (2 * h)
    accel = (T2[:3, 3] - 2 * T1[:3, 3] + T0[:3, 3]) / h**2
    specific = T1[:3, :3].T @ (accel + np.array([0.0, 0.0, 9.81]))
    return ImuSample(Header(stamp_ns, frame), omega, specific)


MODELS = rectified_pair_models(W, H, F, BASELINE)


def render(T_world_cam: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    K = MODELS[0].P[:, :3]
    T_cam_world = se3.inverse(T_world_cam)
    M = K @ (T_cam_world[:3, :3] @ WALL + np.outer(T_cam_world[:3, 3], [0.0, 0.0, 1.0]))
    return np.asarray(cv2.warpPerspective(TEXTURE, M, (W, H)), dtype=np.uint8)


def stereo_set(stamp_ns: int) -> dict[str, object]:
    T_world_left = truth((stamp_ns - START_NS) / 1e9) @ T_IMU_CAM
    T_left_right = se3.from_rotation_translation(np.eye(3), [BASELINE, 0.0, 0.0])
    left, right = render(T_world_left), render(T_world_left @ T_left_right)
    lh, rh = Header(stamp_ns, LEFT_FRAME), Header(stamp_ns, RIGHT_FRAME)
    return {
        "left_image": Image(lh, "mono8", left),
        "left_camera_info": CameraInfo(lh, MODELS[0]),
        "right_image": Image(rh, "mono8", right),
        "right_camera_info": CameraInfo(rh, MODELS[1]),
    }


def static_tf(base: str = "base_link") -> list[TransformStamped]:
    header = Header(START_NS, base)
    return [
        TransformStamped(header, IMU_FRAME, Pose.from_matrix(T_BASE_IMU)),
        TransformStamped(header, LEFT_FRAME, Pose.from_matrix(T_BASE_IMU @ T_IMU_CAM)),
    ]


@dataclass
class Run:
    """A harness fed a sequence, and what it published."""

    h: NodeHarness[VioNode]

    def odoms(self, output: str = "odom") -> list[Odometry]:
        out = self.h.outputs(output)
        assert all(isinstance(o, Odometry) for o in out)
        return out  # type: ignore[return-value]


def events(
    seconds: float, skip_imu: tuple[float, float] | None = None
) -> Iterator[tuple[str, int]]:
    """("imu" | "stereo", stamp) in stamp order, IMU first at equal stamps."""
    end = START_NS + round(seconds * 1e9)
    for stamp in range(START_NS, end + 1, IMU_DT_NS):
        t = (stamp - START_NS) / 1e9
        if skip_imu is None or not skip_imu[0] < t < skip_imu[1]:
            yield "imu", stamp
        if (stamp - START_NS) % CAM_DT_NS == 0:
            yield "stereo", stamp


def run(
    seconds: float,
    params: dict[str, object] | None = None,
    *,
    tf: bool = True,
    wire: bool = False,
    skip_imu: tuple[float, float] | None = None,
    base: str = "base_link",
) -> Run:
    h = NodeHarness(VioNode, {**PARAMS, **(params or {})}, wire=wire)
    if tf:
        h.feed_transforms(static_tf(base), START_NS - 1)
    for kind, stamp in events(seconds, skip_imu):
        if kind == "imu":
            h.feed("imu", imu_sample(stamp), stamp)
        else:
            h.feed_all(stereo_set(stamp), stamp)
    return Run(h)


GAP_S = (1.7, 1.8)


@pytest.fixture(scope="module")
def tracked() -> Run:
    """2.4 s: 0.6 s still, then moving, no IMU over 1.7..1.8 s; path bounded at 25 poses."""
    return run(2.4, {"path_max_poses": 25, "publish_odom_imu": True}, skip_imu=GAP_S)


def _finite(o: Odometry) -> bool:
    arrays = (o.pose.translation_m, o.pose.quat_xyzw, o.pose_covariance, o.twist_covariance)
    arrays += (o.linear_velocity_m_s, o.angular_velocity_rad_s)
    return all(np.isfinite(a).all() for a in arrays)


def _psd(S: npt.NDArray[np.float64]) -> bool:
    return bool(np.allclose(S, S.T, atol=1e-12) and np.linalg.eigvalsh(S).min() > -1e-12)


def test_vio_publishes_finite_odometry_path_and_tf(tracked: Run) -> None:
    h = tracked.h
    odoms = tracked.odoms()
    assert h.errors == 0
    assert len(odoms) >= 25  # 49 pairs; the first ones initialise
    assert all(_finite(o) for o in odoms)
    assert all(o.header.frame_id == "odom" and o.child_frame_id == "base_link" for o in odoms)
    stamps = [o.header.stamp_ns for o in odoms]
    assert stamps == sorted(stamps)
    assert all((s - START_NS) % CAM_DT_NS == 0 for s in stamps)
    assert all(_psd(o.pose_covariance) and _psd(o.twist_covariance) for o in odoms)
    # The start fixes the odometry frame: position and yaw variances start at 0, grow after.
    assert all(np.diag(o.pose_covariance).min() >= 0 for o in odoms)
    assert np.diag(odoms[-1].pose_covariance)[:3].min() > 0
    tfs = h.outputs("tf")
    assert len(tfs) == len(odoms)
    last_tf = tfs[-1]
    assert isinstance(last_tf, tuple)
    assert len(last_tf) == 1
    assert last_tf[0].header.frame_id == "odom"
    assert last_tf[0].child_frame_id == "base_link"
    assert last_tf[0].transform.allclose(odoms[-1].pose)
    path = h.last("path")
    assert isinstance(path, PathMessage)
    assert len(path.poses) == 25
    assert path.header.frame_id == "odom"
    assert path.poses[-1].pose.allclose(odoms[-1].pose)
    debug = h.last("debug_image")
    assert isinstance(debug, Image)
    assert debug.encoding == "bgr8"
    assert debug.width == W
    values = h.diagnostic_values()
    assert values["status"] == VioStatus.TRACKING.value
    assert int(values["tracked_features"]) > 30
    assert values["extrinsics"] == "tf"
    assert values["nonfinite_withheld"] == "0"
    assert values["frames_pending_dropped"] == "0"
    assert int(values["frames_processed"]) == 49


def test_vio_odometry_follows_the_motion(tracked: Run) -> None:
    """Relative motion of base_link since the first estimate, against the truth."""
    odoms = tracked.odoms()
    T_base_imu_inv = se3.inverse(T_BASE_IMU)

    def true_base(stamp: int) -> npt.NDArray[np.float64]:
        return truth((stamp - START_NS) / 1e9) @ T_base_imu_inv

    first, last = odoms[0], odoms[-1]
    est = se3.inverse(first.pose.as_matrix()) @ last.pose.as_matrix()
    ref = se3.inverse(true_base(first.header.stamp_ns)) @ true_base(last.header.stamp_ns)
    travelled = float(np.linalg.norm(ref[:3, 3]))
    assert travelled > 0.3
    assert np.linalg.norm(est[:3, 3] - ref[:3, 3]) < 0.1 * travelled
    assert np.linalg.norm(so3.log(est[:3, :3].T @ ref[:3, :3])) < np.radians(2.0)
    # Gravity: odom's z is up, as the truth's.
    R_true = true_base(last.header.stamp_ns)[:3, :3]
    z_est = last.pose.as_matrix()[:3, :3].T @ [0, 0, 1]
    assert np.degrees(np.arccos(np.clip(z_est @ (R_true.T @ [0, 0, 1]), -1, 1))) < 1.0
    # Twist in base_link: the truth's body velocity.
    stamp = last.header.stamp_ns
    h = 1e-4
    t = (stamp - START_NS) / 1e9
    v_world = (truth(t + h) @ T_base_imu_inv - truth(t - h) @ T_base_imu_inv)[:3, 3] / (2 * h)
    v_base = R_true.T @ v_world
    assert np.linalg.norm(last.linear_velocity_m_s - v_base) < 0.1 * max(
        np.linalg.norm(v_base), 0.1
    )


def test_vio_imu_rate_odometry(tracked: Run) -> None:
    imu_odoms = tracked.odoms("odom_imu")
    cam_odoms = tracked.odoms()
    assert len(imu_odoms) > 5 * len(cam_odoms)
    assert all(_finite(o) for o in imu_odoms)
    assert all((o.header.stamp_ns - START_NS) % IMU_DT_NS == 0 for o in imu_odoms)
    # At a camera stamp, the IMU-rate pose agrees with the camera-rate one.
    by_stamp = {o.header.stamp_ns: o for o in imu_odoms}
    last = cam_odoms[-1]
    near = by_stamp.get(last.header.stamp_ns)
    assert near is not None
    assert np.linalg.norm(near.pose.translation_m - last.pose.translation_m) < 0.02


def test_vio_frames_and_switches_are_parameters() -> None:
    r = run(
        1.0,
        {
            "odom_frame": "odom_vio",
            "base_frame": "body",
            "publish_tf": False,
            "publish_path": False,
            "publish_debug_image": False,
        },
        base="body",
        wire=True,
    )
    odoms = r.odoms()
    assert odoms, r.h.diagnostic_values()
    assert all(o.header.frame_id == "odom_vio" and o.child_frame_id == "body" for o in odoms)
    assert r.h.count("tf") == r.h.count("path") == r.h.count("debug_image") == 0
    assert r.h.count("odom_imu") == 0  # off by default


def test_vio_pairs_wait_for_the_imu_in_a_bounded_queue() -> None:
    h = NodeHarness(VioNode, {**PARAMS, "pending_frames": 2})
    h.feed_transforms(static_tf(), START_NS - 1)
    h.feed("imu", imu_sample(START_NS), START_NS)
    stamps = [START_NS + k * CAM_DT_NS for k in range(1, 5)]
    for stamp in stamps:  # pairs ahead of the IMU
        h.feed_all(stereo_set(stamp), stamp)
    values = h.diagnostic_values()
    assert values["frames_pending"] == "2"
    assert values["frames_pending_dropped"] == "2"
    assert values["frames_processed"] == "0"
    for stamp in range(START_NS + IMU_DT_NS, stamps[2], IMU_DT_NS):
        h.feed("imu", imu_sample(stamp), stamp)
    assert h.diagnostic_values()["frames_processed"] == "0"  # the IMU is just short of it
    h.feed("imu", imu_sample(stamps[2]), stamps[2])
    assert h.diagnostic_values()["frames_processed"] == "1"
    for stamp in range(stamps[2] + IMU_DT_NS, stamps[3] + 1, IMU_DT_NS):
        h.feed("imu", imu_sample(stamp), stamp)
    values = h.diagnostic_values()
    assert (values["frames_processed"], values["frames_pending"]) == ("2", "0")
    assert h.errors == 0


def test_vio_reports_imu_gaps(tracked: Run) -> None:
    r = tracked
    values = r.h.diagnostic_values()
    assert int(values["imu_gaps"]) >= 1
    assert 90.0 <= float(values["imu_gap_max_ms"]) <= 120.0
    odoms = r.odoms()
    assert odoms
    assert all(_finite(o) for o in odoms)
    assert odoms[-1].header.stamp_ns > START_NS + round(GAP_S[1] * 1e9)


def test_vio_takes_t_imu_cam_from_the_calibration_folder(tmp_path: Path) -> None:
    tilt = so3.exp([0.01, -0.02, 0.005])  # rectification rotation of the left camera
    raw = CameraModel(W, H, "plumb_bob", MODELS[0].K, np.zeros(5), tilt, MODELS[0].P)
    write_camera_info_yaml(tmp_path / "left.yaml", raw, "left")
    text = imu_yaml(ImuNoise(), 200.0, "/imu", IMU_FRAME, [("cam0", T_IMU_CAM)], 0.0)
    (tmp_path / "imu.yaml").write_text(text)
    h = NodeHarness(VioNode, {**PARAMS, "calibration_dir": str(tmp_path)})
    h.feed("imu", imu_sample(START_NS), START_NS)
    h.feed_all(stereo_set(START_NS), START_NS)
    node = h.node
    assert h.diagnostic_values()["extrinsics"] == "calibration"
    assert node.T_imu_cam is not None
    expected = T_IMU_CAM.copy()
    expected[:3, :3] = T_IMU_CAM[:3, :3] @ tilt.T
    np.testing.assert_allclose(node.T_imu_cam, expected, atol=1e-9)
    # No TF for base_link <- imu_link: odom is the IMU's, and the node says so.
    assert node.base_is_imu_fallback
    assert h.diagnostics().level == DiagnosticLevel.WARN


def test_vio_without_extrinsics_rejects_pairs_and_names_why() -> None:
    h = NodeHarness(VioNode, PARAMS)
    h.feed_all(stereo_set(START_NS), START_NS)
    assert "first IMU sample" in h.rejections()["left_image"].last_reason
    h.feed("imu", imu_sample(START_NS + 1), START_NS + 1)
    h.feed_all(stereo_set(START_NS + CAM_DT_NS), START_NS + CAM_DT_NS)
    reason = h.rejections()["left_image"].last_reason
    assert "no T_imu_cam" in reason
    assert "calibration_dir" in reason
    assert h.errors == 0


def test_vio_rejects_malformed_input() -> None:
    h = NodeHarness(VioNode, PARAMS)
    h.feed_transforms(static_tf(), START_NS - 1)
    h.feed("imu", imu_sample(START_NS), START_NS)
    h.feed("imu", imu_sample(START_NS), START_NS)  # repeated stamp
    assert "repeats" in h.rejections()["imu"].last_reason
    h.feed("imu", imu_sample(START_NS + IMU_DT_NS, "other_imu"), START_NS + IMU_DT_NS)
    assert "frame_id" in h.rejections()["imu"].last_reason
    good = stereo_set(START_NS)
    small = Image(Header(START_NS, LEFT_FRAME), "mono8", np.zeros((H // 2, W // 2), np.uint8))
    h.feed_all({**good, "left_image": small}, START_NS)
    assert "160x120" in h.rejections()["left_image"].last_reason
    t = START_NS + CAM_DT_NS
    bayer = stereo_set(t)
    left = bayer["left_image"]
    assert isinstance(left, Image)
    h.feed_all({**bayer, "left_image": Image(left.header, "bayer_rggb8", left.data)}, t)
    assert "Bayer" in h.rejections()["left_image"].last_reason
    assert h.errors == 0
    assert h.diagnostic_values()["imu_rejected"] == "2"


def test_vio_bag_loop_starts_afresh() -> None:
    r = run(0.3)
    before = int(r.h.diagnostic_values()["restarts"])
    later = START_NS + 3 * 10**9
    r.h.feed("imu", imu_sample(later), later)
    r.h.feed("imu", imu_sample(START_NS), later + 1)  # back 3 s: a new timeline
    values = r.h.diagnostic_values()
    assert int(values["restarts"]) == before + 1
    assert values["status"] == "waiting"
    assert r.h.errors == 0


def test_vio_parameter_change_restarts_the_estimator_and_keeps_odom() -> None:
    r = run(1.2)
    h = r.h
    last = r.odoms()[-1]
    assert h.set_parameters({"update_sigma_px": 1.5}) is None
    assert h.node.config.updater.sigma_px == 1.5
    assert h.diagnostic_values()["restarts"] == "1"
    for kind, stamp in events(1.8):
        if stamp <= START_NS + 1_200_000_000:  # fed already
            continue
        if kind == "imu":
            h.feed("imu", imu_sample(stamp), stamp)
        else:
            h.feed_all(stereo_set(stamp), stamp)
    after = [o for o in r.odoms() if o.header.stamp_ns > last.header.stamp_ns]
    assert after, h.diagnostic_values()
    # The new estimator's world is re-anchored on the last published pose: no jump.
    step = np.linalg.norm(after[0].pose.translation_m - last.pose.translation_m)
    assert step < 0.2


def test_estimator_parameters_build_the_config() -> None:
    config = estimator_config_from_params(
        {p.name: p.default for p in VioNode.PARAMETERS}
        | {"track_num_features": 77, "init_window_s": 0.7, "triangulation_max_iterations": 4}
    )
    assert config.tracker.num_features == 77
    assert config.init.window_s == 0.7
    assert config.updater.triangulation.max_iterations == 4
    VioNode.validate_declarations()


def _estimate(rng: np.random.Generator) -> VioEstimate:
    A = rng.normal(size=(15, 15))
    return VioEstimate(
        stamp_ns=1,
        T_world_imu=se3.from_rotation_translation(so3.exp(rng.normal(size=3)), rng.normal(size=3)),
        v_world_imu_m_s=rng.normal(size=3),
        angular_velocity_imu_rad_s=rng.normal(size=3),
        covariance=1e-4 * (A @ A.T),
        bias_gyro_rad_s=np.zeros(3),
        bias_accel_m_s2=np.zeros(3),
        time_offset_s=0.0,
        status=VioStatus.TRACKING,
        resets=0,
    )


def test_pose_covariance_is_the_first_order_map_of_the_imu_error() -> None:
    """Monte Carlo: perturb the IMU state, measure the base pose's world-frame error."""
    rng = np.random.default_rng(5)
    est = _estimate(rng)
    T_imu_base = se3.inverse(T_BASE_IMU)
    T_wi = est.T_world_imu
    T_wb = T_wi @ T_imu_base
    d = rng.normal(size=(4000, 15)) @ np.linalg.cholesky(est.covariance).T
    R = T_wi[:3, :3] @ so3.exp(d[:, :3])  # (N, 3, 3)
    p = T_wi[:3, 3] + d[:, 3:6]
    p_base = p + R @ T_imu_base[:3, 3]
    R_base = R @ T_imu_base[:3, :3]
    errors = np.hstack([p_base - T_wb[:3, 3], so3.log(R_base @ T_wb[:3, :3].T)])
    sample = np.cov(errors.T)
    cov = pose_covariance(est.covariance, T_wi[:3, :3], T_imu_base[:3, 3])
    assert _psd(cov)
    np.testing.assert_allclose(sample, cov, atol=0.08 * np.abs(cov).max())


def test_twist_covariance_is_the_first_order_map_of_the_imu_error() -> None:
    rng = np.random.default_rng(6)
    est = _estimate(rng)
    T_imu_base = se3.inverse(T_BASE_IMU)
    R_bi, t_ib = T_BASE_IMU[:3, :3], T_imu_base[:3, 3]
    linear, angular, cov = twist_and_covariance(est, R_bi, t_ib, 0.0)
    R_wi = est.T_world_imu[:3, :3]
    w = est.angular_velocity_imu_rad_s
    np.testing.assert_allclose(linear, R_bi @ (R_wi.T @ est.v_world_imu_m_s + np.cross(w, t_ib)))
    np.testing.assert_allclose(angular, R_bi @ w)
    d = rng.normal(size=(4000, 15)) @ np.linalg.cholesky(est.covariance).T
    R = R_wi @ so3.exp(d[:, :3])  # (N, 3, 3)
    v_imu = np.einsum("nji,nj->ni", R, est.v_world_imu_m_s + d[:, 6:9])  # R^T v
    w_ = w - d[:, 9:12]
    samples = np.hstack([(v_imu + np.cross(w_, t_ib)) @ R_bi.T, w_ @ R_bi.T])
    sample = np.cov(samples.T)
    assert _psd(cov)
    np.testing.assert_allclose(sample, cov, atol=0.08 * np.abs(cov).max())
