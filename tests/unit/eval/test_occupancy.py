"""Occupancy IoU on hand-built grids: identical, shifted, resampled, rotated, unknown."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import Header, OccupancyGrid
from percept.errors import EvalError
from percept.eval.occupancy import classify_cells, occupancy_metrics, resample_grid
from percept.geometry.pose import Pose


def grid(
    data: np.ndarray, res: float = 0.1, origin=(0.0, 0.0), yaw: float = 0.0, frame: str = "map"
) -> OccupancyGrid:
    quat = Rotation.from_euler("z", yaw).as_quat()
    return OccupancyGrid(
        Header(0, frame), res, Pose([*origin, 0.0], quat), np.asarray(data, dtype=np.int8)
    )


def room(h: int = 20, w: int = 30) -> np.ndarray:
    """Walls (100) around free space (0), a pillar, and an unknown corner (-1)."""
    d = np.zeros((h, w), dtype=np.int8)
    d[0, :] = d[-1, :] = d[:, 0] = d[:, -1] = 100
    d[8:12, 10:13] = 100
    d[-4:-1, -4:-1] = -1
    return d


def test_identical_maps_score_one() -> None:
    m = occupancy_metrics(grid(room()), grid(room()))
    assert (m.occupied_iou, m.free_iou, m.coverage_pct) == (1.0, 1.0, 100.0)
    assert not m.resampled
    assert m.known_cells == 20 * 30 - 9


def test_hand_counted_iou() -> None:
    gt = np.array([[100, 100, 0, 0], [0, 0, 0, -1]])
    est = np.array([[100, 0, 100, 0], [50, 0, -1, 100]])
    m = occupancy_metrics(grid(est), grid(gt))
    # known GT cells: 7. occupied: est {0,2}, gt {0,1} -> 1 / 3
    assert m.occupied_iou == pytest.approx(1 / 3)
    # free: est {1,3,5}, gt {2,3,4,5,6} (cell 4 is 50 = unknown in est) -> 2 / 6
    assert m.free_iou == pytest.approx(2 / 6)
    assert m.occupied_precision == pytest.approx(0.5)
    assert m.occupied_recall == pytest.approx(0.5)
    assert m.coverage_pct == pytest.approx(100 * 5 / 7)  # cells 4 (50) and 6 (-1) unknown


def test_estimate_with_other_origin_is_resampled_onto_ground_truth() -> None:
    data = room()
    # the estimate covers the same world, its grid starts one cell earlier in x and y
    padded = np.full((22, 32), -1, dtype=np.int8)
    padded[1:21, 1:31] = data
    m = occupancy_metrics(grid(padded, origin=(-0.1, -0.1)), grid(data))
    assert m.resampled
    assert (m.occupied_iou, m.free_iou) == (1.0, 1.0)


def test_coarser_estimate_is_resampled_by_nearest_cell() -> None:
    fine = np.zeros((20, 20), dtype=np.int8)
    fine[:, 10:] = 100  # right half occupied
    coarse = np.zeros((10, 10), dtype=np.int8)
    coarse[:, 5:] = 100
    m = occupancy_metrics(grid(coarse, res=0.2), grid(fine, res=0.1))
    assert (m.occupied_iou, m.free_iou) == (1.0, 1.0)
    np.testing.assert_array_equal(resample_grid(grid(coarse, res=0.2), grid(fine)), fine)


def test_rotated_origin_is_taken_into_account() -> None:
    data = room()
    h, w = data.shape
    # The same map stored turned by +90 degrees: the estimate's cell (r, c) has its centre
    # at world (W*res - (r + .5) res, (c + .5) res), i.e. ground-truth cell (c, W-1-r),
    # which is what np.rot90 puts there.
    rotated = np.rot90(data).copy()
    assert rotated.shape == (w, h)
    est = grid(rotated, origin=(w * 0.1, 0.0), yaw=np.pi / 2)
    m = occupancy_metrics(est, grid(data))
    assert m.resampled
    assert (m.occupied_iou, m.free_iou) == (1.0, 1.0)
    # the same grid with its yaw ignored would not line up
    assert occupancy_metrics(grid(rotated), grid(data)).occupied_iou < 0.5


def test_empty_estimate_scores_zero_and_frames_must_match() -> None:
    unknown = np.full((20, 30), -1, dtype=np.int8)
    m = occupancy_metrics(grid(unknown), grid(room()))
    assert (m.occupied_iou, m.free_iou, m.coverage_pct) == (0.0, 0.0, 0.0)
    with pytest.raises(EvalError, match="frames differ"):
        occupancy_metrics(grid(room(), frame="odom"), grid(room()))
    with pytest.raises(EvalError, match="no known cell"):
        occupancy_metrics(grid(room()), grid(unknown))


def test_classify_cells_rejects_overlapping_thresholds() -> None:
    with pytest.raises(ValueError, match="free_max"):
        classify_cells(np.zeros((1, 1)), occupied_min=20, free_max=30)


def test_observed_and_visible_iou_by_hand() -> None:
    # A 3-cell-deep object (columns 1..3) seen from the left: only its face (column 1)
    # is visible; the estimate marks the face, frees the cell in front and knows
    # nothing behind, except one interior cell it wrongly frees.
    gt = np.array([[0, 100, 100, 100, 0]] * 2)
    est = np.array([[0, 100, 0, -1, -1], [0, 100, -1, -1, -1]])
    visible = np.array([[-1, 100, -1, -1, -1]] * 2)
    m = occupancy_metrics(grid(est), grid(gt), visible=grid(visible))
    # observed area: cells the estimate observed: columns 0, 1 and (row 0) 2.
    assert m.observed_cells == 5
    # observed occupied: est {r0c1, r1c1}, gt {r0c1, r0c2, r1c1} -> 2 / 3
    assert m.observed_occupied_iou == pytest.approx(2 / 3)
    assert m.observed_free_iou == pytest.approx(2 / 3)  # est free {c0 x2, r0c2}, gt {c0 x2}
    # visible: the interior cell r0c2 is left out -> 2 / 2
    assert m.visible_cells == 4
    assert m.visible_occupied_iou == 1.0


def test_false_occupied_cells_near_a_surface_and_far_from_any() -> None:
    gt = np.zeros((12, 12), dtype=np.int8)
    gt[4:7, 4:7] = 100  # a 3x3 object
    est = gt.copy()
    est[3, 4:7] = 100  # drawn one cell too thick in front: 3 near
    est[4, 2] = 100  # two cells to its side: near (distance 2)
    est[10, 10] = est[10, 11] = 100  # a phantom far from any surface: 2 far
    est[5, 5] = 0  # an interior cell called free: missed
    est[6, 4:7] = -1  # the object's far side, not observed: not missed
    m = occupancy_metrics(grid(est), grid(gt))
    assert m.false_occupied_cells == 6
    assert m.false_occupied_near == 4
    assert m.missed_occupied_cells == 1
    assert m.as_dict()["false_occupied_near"] == 4


def test_visible_map_must_be_on_the_ground_truth_grid() -> None:
    with pytest.raises(EvalError, match="visible-surface map"):
        occupancy_metrics(grid(room()), grid(room()), visible=grid(room()[:10]))
