"""Tests of percept.io.intel_lab: the .mat reader, scans as LaserScan, the bag and its CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from percept import codecs
from percept.cli.main import main
from percept.domain import LaserScan, Odometry, TransformStamped
from percept.errors import BagError
from percept.io import data_dir as data_dir_module
from percept.io.bag import BagReader
from percept.io.intel_lab import (
    GROUND_TRUTH_TOPIC,
    INTEL_LAB_FILE,
    INTEL_LAB_FOLDER,
    LASER_FRAME,
    SCAN_TOPIC,
    IntelLabData,
    default_intel_lab_path,
    infer_scan_grid,
    load_intel_lab,
    pose_2d,
    to_laser_scans,
    write_intel_lab_bag,
)
from percept.io.typestore import get_typestore
from percept.runtime.tf_buffer import TfBuffer

N_SCANS = 743
N_POINTS = 130_323
# The endpoints come back from points() to within float32 rounding of ranges (<= 26.4 m)
# and of angle_min / angle_increment: measured 4.1e-6 m on the file.
ENDPOINT_TOLERANCE_M = 1e-5


@pytest.fixture(scope="module")
def intel(data_dir: Path) -> IntelLabData:
    path = data_dir / INTEL_LAB_FOLDER / INTEL_LAB_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found (see ../shared/data/README.md)")
    return load_intel_lab(path)


def _in_bearing_order(points: np.ndarray) -> np.ndarray:
    return points[np.argsort(np.arctan2(points[:, 1], points[:, 0]))]


def _write_mat(path: Path, x: list[float], scans: list[np.ndarray], **extra: object) -> Path:
    n = len(x)
    cells = np.empty((n, 1), dtype=object)
    for i, scan in enumerate(scans):
        cells[i, 0] = np.asarray(scan, dtype=np.float64)
    pose = {"x": np.array(x)[:, None], "y": np.zeros((n, 1)), "h": np.zeros((n, 1))}
    scipy.io.savemat(path, {"robotPose": pose, "laserScan": cells, **extra})
    return path


def _beams(bearings_deg: list[float], ranges: list[float]) -> np.ndarray:
    b = np.radians(bearings_deg)
    r = np.asarray(ranges)
    return np.stack([r * np.cos(b), r * np.sin(b)])


# --- the real file -----------------------------------------------------------------------


def test_load_intel_lab_reads_743_scans_and_poses_as_provenance_says(intel: IntelLabData) -> None:
    assert intel.n_scans == N_SCANS
    assert len(intel.points_robot_m) == N_SCANS
    sizes = np.array([p.shape[0] for p in intel.points_robot_m])
    assert sizes.sum() == N_POINTS
    assert (sizes.min(), int(np.median(sizes)), sizes.max()) == (128, 180, 180)
    # PROVENANCE.md: x -9.6...16.6 m, y -21.6...4.2 m, first pose (0, 0, -0.0065 rad).
    assert (round(intel.x_m.min(), 1), round(intel.x_m.max(), 1)) == (-9.6, 16.6)
    assert (round(intel.y_m.min(), 1), round(intel.y_m.max(), 1)) == (-21.6, 4.2)
    assert intel.x_m[0] == pytest.approx(0.0, abs=1e-9)
    assert intel.heading_rad[0] == pytest.approx(-0.0065, abs=5e-5)
    ranges = np.hypot(*np.concatenate(intel.points_robot_m).T)
    assert (round(ranges.min(), 2), round(ranges.max(), 2)) == (0.28, 26.36)
    loop_gap_m = math.hypot(intel.x_m[-1] - intel.x_m[0], intel.y_m[-1] - intel.y_m[0])
    assert loop_gap_m == pytest.approx(0.81, abs=0.01)


def test_global_scan_is_robot_scan_moved_by_the_pose(intel: IntelLabData) -> None:
    # Validates the pose convention: (x, y) in the map, heading h counter-clockwise,
    # robot frame x forward and y left.
    assert intel.points_map_m is not None
    worst = max(
        float(np.abs(intel.to_map(i) - intel.points_map_m[i]).max()) for i in range(N_SCANS)
    )
    assert worst < 1e-12


def test_infer_scan_grid_finds_180_beams_of_one_degree(intel: IntelLabData) -> None:
    grid = infer_scan_grid(intel)
    assert grid.n_beams == 180
    assert grid.angle_increment_rad == pytest.approx(math.pi / 179, abs=1e-14)
    assert grid.angle_min_rad == pytest.approx(-math.pi / 2, abs=1e-13)
    assert grid.angle_max_rad == pytest.approx(math.pi / 2, abs=1e-12)
    assert grid.max_residual_rad < 1e-12


def test_laser_scans_give_back_the_endpoints(intel: IntelLabData) -> None:
    scans = to_laser_scans(intel)
    assert len(scans) == N_SCANS
    assert sum(int(s.valid_mask().sum()) for s in scans) == N_POINTS
    worst = 0.0
    for scan, points in zip(scans, intel.points_robot_m, strict=True):
        assert scan.ranges.shape == (180,)
        assert scan.header.frame_id == LASER_FRAME
        assert np.isnan(scan.ranges[~scan.valid_mask()]).all()  # dropped beams
        back = scan.points()[scan.valid_mask()].astype(np.float64)
        worst = max(worst, float(np.abs(back - _in_bearing_order(points)).max()))
    assert worst < ENDPOINT_TOLERANCE_M
    stamps = np.array([s.header.stamp_ns for s in scans])
    assert set(np.diff(stamps).tolist()) == {200_000_000}  # 5 Hz, synthetic


def test_bag_holds_743_scans_and_the_tf_chain_resolves(intel: IntelLabData, tmp_path: Path) -> None:
    result = write_intel_lab_bag(intel, tmp_path / "intel.mcap", rate_hz=10.0)
    assert result.counts == {"/tf_static": 1, "/tf": 743, GROUND_TRUTH_TOPIC: 743, SCAN_TOPIC: 743}
    assert result.stop_ns - result.start_ns == 742 * 100_000_000
    store = get_typestore()
    buffer = TfBuffer(cache_time_ns=10**12)
    scans: list[LaserScan] = []
    odoms: list[Odometry] = []
    with BagReader(result.path) as bag:
        for m in bag.messages():
            assert m.raw is not None
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw, m.msgtype))
            if m.topic in ("/tf", "/tf_static"):
                assert isinstance(obj, tuple)
                for t in obj:
                    assert isinstance(t, TransformStamped)
                    buffer.set_transform(t, "bag", static=m.topic == "/tf_static")
            elif m.topic == SCAN_TOPIC:
                assert isinstance(obj, LaserScan)
                assert obj.header.stamp_ns == m.log_time_ns
                scans.append(obj)
            else:
                assert isinstance(obj, Odometry)
                odoms.append(obj)
    assert len(scans) == len(odoms) == N_SCANS
    assert intel.points_map_m is not None
    for k in (0, 371, 742):
        stamp = scans[k].header.stamp_ns
        T_map_laser = buffer.lookup_transform("map", LASER_FRAME, stamp).as_matrix()
        pts = scans[k].points()[scans[k].valid_mask()].astype(np.float64)
        in_map = pts @ T_map_laser[:2, :2].T + T_map_laser[:2, 3]
        robot = intel.points_robot_m[k]
        order = np.argsort(np.arctan2(robot[:, 1], robot[:, 0]))  # beam order, as `pts`
        np.testing.assert_allclose(in_map, intel.points_map_m[k][order], atol=ENDPOINT_TOLERANCE_M)
        assert odoms[k].pose.allclose(
            pose_2d(intel.x_m[k], intel.y_m[k], intel.heading_rad[k]), atol=1e-12
        )
        assert odoms[k].header.frame_id == "map"


def test_bag_from_intel_lab_cli_writes_the_bag(
    intel: IntelLabData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "intel.mcap"
    argv = ["bag", "from-intel-lab", "--data", str(intel.path), "--out", str(out), "--rate", "2"]
    assert main(["--quiet", *argv]) == 0
    assert "371.0 s of synthetic time at 2 Hz" in capsys.readouterr().out
    with BagReader(out) as bag:
        counts = {c.topic: c.msgcount for c in bag.connections()}
    assert counts[SCAN_TOPIC] == N_SCANS
    assert main(["--quiet", *argv]) == 1  # exists already, one-line error
    assert main(["--quiet", *argv, "--force", "--rate", "0"]) == 1


def test_default_path_is_in_the_real_data_folder(intel: IntelLabData) -> None:
    found = data_dir_module.find_data_dir()
    assert found is not None
    assert default_intel_lab_path() == found / INTEL_LAB_FOLDER / INTEL_LAB_FILE


# --- small files made here ---------------------------------------------------------------


def test_default_path_follows_percept_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCEPT_DATA", str(tmp_path))
    assert default_intel_lab_path() == tmp_path / INTEL_LAB_FOLDER / INTEL_LAB_FILE


def test_to_laser_scans_bins_each_endpoint_and_marks_missing_beams(tmp_path: Path) -> None:
    grid_deg = [-90.0, -45.0, 0.0, 45.0, 90.0]
    scans = [_beams(grid_deg, [1, 2, 3, 4, 5]), _beams([-45.0, 45.0], [2.5, 7.25])]
    data = load_intel_lab(_write_mat(tmp_path / "two.mat", [0.0, 1.0], scans))
    assert data.points_map_m is None
    grid = infer_scan_grid(data)
    assert (grid.n_beams, grid.angle_increment_rad) == (5, pytest.approx(math.pi / 4))
    out = to_laser_scans(data, stamps_ns=[10, 20])
    np.testing.assert_allclose(out[1].ranges, [np.nan, 2.5, np.nan, 7.25, np.nan])
    assert [s.header.stamp_ns for s in out] == [10, 20]
    no_return = to_laser_scans(data, grid=grid, missing_range_m=math.inf)
    assert np.isposinf(no_return[1].ranges[[0, 2, 4]]).all()
    assert not no_return[1].valid_mask()[[0, 2, 4]].any()


def test_to_laser_scans_raises_on_two_endpoints_in_one_beam(tmp_path: Path) -> None:
    scans = [_beams([-90.0, 0.0, 90.0], [1, 2, 3]), _beams([0.0, 0.0], [2.0, 2.5])]
    data = load_intel_lab(_write_mat(tmp_path / "dup.mat", [0.0, 0.0], scans))
    with pytest.raises(BagError, match=r"dup\.mat: scan 1 has 2 endpoints in beam 1"):
        to_laser_scans(data)


def test_infer_scan_grid_raises_on_bearings_off_the_grid(tmp_path: Path) -> None:
    scans = [_beams([-90.0, -80.0, -70.0, -60.0], [1, 1, 1, 1]), _beams([-85.0], [1])]
    data = load_intel_lab(_write_mat(tmp_path / "off.mat", [0.0, 0.0], scans))
    with pytest.raises(BagError, match=r"off\.mat: endpoint bearings are not on one grid"):
        infer_scan_grid(data)


def test_to_laser_scans_raises_on_range_beyond_range_max(tmp_path: Path) -> None:
    data = load_intel_lab(_write_mat(tmp_path / "far.mat", [0.0], [_beams([0.0, 1.0], [1, 40])]))
    with pytest.raises(BagError, match=r"scan 0 has range 40.000 m outside \[0.1, 30.0\]"):
        to_laser_scans(data)


def test_load_intel_lab_raises_naming_the_missing_variable(tmp_path: Path) -> None:
    path = tmp_path / "no_scans.mat"
    scipy.io.savemat(path, {"robotPose": {"x": [[0.0]], "y": [[0.0]], "h": [[0.0]]}})
    with pytest.raises(BagError, match=r"no_scans\.mat: no variable 'laserScan'"):
        load_intel_lab(path)


def test_load_intel_lab_raises_naming_the_missing_pose_field(tmp_path: Path) -> None:
    path = tmp_path / "no_heading.mat"
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.zeros((2, 1))
    scipy.io.savemat(path, {"robotPose": {"x": [[0.0]], "y": [[0.0]]}, "laserScan": cells})
    with pytest.raises(BagError, match=r"no_heading\.mat: robotPose has no field 'h'"):
        load_intel_lab(path)


def test_load_intel_lab_raises_on_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=r"nothing\.mat: no such file"):
        load_intel_lab(tmp_path / "nothing.mat")
    (tmp_path / "text.mat").write_text("not a MAT file")
    with pytest.raises(BagError, match=r"text\.mat: not a readable MATLAB file"):
        load_intel_lab(tmp_path / "text.mat")


def test_load_intel_lab_raises_on_scan_count_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "short.mat"
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = _beams([0.0], [1.0])
    scipy.io.savemat(
        path,
        {
            "robotPose": {"x": [[0.0], [1.0]], "y": [[0.0], [0.0]], "h": [[0.0], [0.0]]},
            "laserScan": cells,
        },
    )
    with pytest.raises(BagError, match=r"short\.mat: laserScan has 1 scans, robotPose 2 poses"):
        load_intel_lab(path)
