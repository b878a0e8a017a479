"""View parameters, near-duplicate rejection and coverage (cameracalibrator's rules)."""

from __future__ import annotations

import numpy as np
import pytest

from percept.calib.board import Detection
from percept.calib.views import Coverage, ViewSelector, view_params

from .calib_views import BOARD, rendered


def _grid(x0: float, y0: float, step: float, size: tuple[int, int] = (640, 480)) -> Detection:
    jj, ii = np.meshgrid(np.arange(BOARD.rows), np.arange(BOARD.cols), indexing="ij")
    uv = np.stack([x0 + ii.ravel() * step, y0 + jj.ravel() * step], axis=1).astype(np.float32)
    return Detection(uv, np.arange(BOARD.n_corners, dtype=np.int32), size)


def test_view_params_of_a_centred_fronto_parallel_board() -> None:
    # 8 x 5 squares of 40 px centred in 640 x 480.
    det = _grid(160.0, 140.0, 40.0)
    x, y, size, skew = view_params(det, BOARD)
    assert x == pytest.approx(0.5, abs=1e-6)
    assert y == pytest.approx(0.5, abs=1e-6)
    assert size == pytest.approx(np.sqrt(320 * 200 / (640 * 480)))
    assert skew == pytest.approx(0.0, abs=1e-9)


def test_view_params_of_a_board_in_the_top_left_corner() -> None:
    # cameracalibrator measures from the board's mean corner less half the side of a
    # square of the board's area, so a 160 x 100 px board at the corner reads 0.03, 0.
    x, y, _, _ = view_params(_grid(0.0, 0.0, 20.0), BOARD)
    assert x == pytest.approx(0.0326, abs=1e-3)
    assert y == 0.0


def test_tilted_board_has_skew() -> None:
    det = _grid(160.0, 140.0, 40.0)
    uv = det.corners_uv.copy()
    uv[:, 0] += (uv[:, 1] - 140.0) * 0.3  # shear: the corner angle is no longer 90 degrees
    _, _, _, skew = view_params(Detection(uv, det.ids, det.image_size), BOARD)
    assert skew == pytest.approx(min(1.0, 2 * np.arctan(0.3)), abs=1e-3)


def test_selector_drops_near_duplicates_and_counts_them() -> None:
    selector: ViewSelector[str] = ViewSelector(min_distance=0.2)
    a = _grid(160.0, 140.0, 40.0)
    near = _grid(165.0, 142.0, 40.0)
    far = _grid(20.0, 20.0, 25.0)
    assert selector.consider(view_params(a, BOARD), "a", a).accepted
    verdict = selector.consider(view_params(near, BOARD), "near", near)
    assert not verdict.accepted
    assert "near-duplicate of view 0" in verdict.reason
    assert selector.consider(view_params(far, BOARD), "far", far).accepted
    assert selector.views == ["a", "far"]
    assert selector.rejected_duplicate == 1
    assert selector.params.shape == (2, 4)


def test_selector_drops_fast_moving_boards_and_caps_views() -> None:
    selector: ViewSelector[int] = ViewSelector(min_distance=0.0, max_views=2, max_speed_px=5.0)
    a, b = _grid(100.0, 100.0, 30.0), _grid(160.0, 100.0, 30.0)
    assert selector.consider(view_params(a, BOARD), 0, a).accepted
    assert not selector.consider(view_params(b, BOARD), 1, b).accepted  # moved 60 px
    assert selector.rejected_motion == 1
    c = _grid(162.0, 101.0, 30.0)
    assert selector.consider(view_params(c, BOARD), 2, c).accepted
    d = _grid(163.0, 101.0, 30.0)
    assert "already 2 views" in selector.consider(view_params(d, BOARD), 3, d).reason


def test_coverage_of_rendered_views_is_reported_per_parameter() -> None:
    dets = rendered("plumb_bob").detections()
    selector: ViewSelector[Detection] = ViewSelector()
    for det in dets:
        selector.consider(view_params(det, BOARD), det, det)
    coverage = selector.coverage()
    assert 6 <= coverage.n_views <= len(dets)
    assert [p.name for p in coverage.params] == ["x", "y", "size", "skew"]
    assert all(0.0 <= p.progress <= 1.0 for p in coverage.params)
    assert coverage.progress("x") > 0.5
    assert f"{coverage.n_views} views; x " in coverage.summary()
    with pytest.raises(KeyError, match="tilt"):
        coverage.progress("tilt")


def test_coverage_is_good_enough_with_full_ranges_or_40_views() -> None:
    full = np.array([[0.0, 0.0, 0.2, 0.0], [1.0, 1.0, 0.7, 0.6]])
    assert Coverage.from_params(full).good_enough
    same = np.tile([[0.5, 0.5, 0.3, 0.1]], (40, 1))
    assert Coverage.from_params(same).good_enough
    assert not Coverage.from_params(same[:39]).good_enough
    assert Coverage.from_params(np.zeros((0, 4))).n_views == 0
