"""FeatureTracker on rendered, rectified stereo frames with ray-cast ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.features import FeatureTracker, FeatureTrackerConfig

from .conftest import TrackedSequence
from .features_helpers import SynthStereo


def test_tracks_follow_ground_truth_within_0p5_px(tracked: TrackedSequence) -> None:
    rig, frames, poses = tracked.rig, tracked.frames, tracked.poses
    step_medians = []
    for k in range(1, len(frames)):
        prev, cur = frames[k - 1], frames[k]
        points, _z = rig.cast(poses[k - 1], prev.uv_left)
        _common, i_cur, i_prev = np.intersect1d(cur.ids, prev.ids, return_indices=True)
        visible = rig.visible(poses[k], points[i_prev])
        err = np.linalg.norm(rig.project(poses[k], points[i_prev]) - cur.uv_left[i_cur], axis=1)
        step_medians.append(float(np.median(err[visible])))
        assert i_cur.size >= 0.8 * len(prev)
    assert max(step_medians) < 0.5
    # Over the whole sequence, tracks seen from the first frame have drifted little.
    first, last = frames[0], frames[-1]
    points, _z = rig.cast(poses[0], first.uv_left)
    _common, i_last, i_first = np.intersect1d(last.ids, first.ids, return_indices=True)
    visible = rig.visible(poses[-1], points[i_first])
    err = np.linalg.norm(rig.project(poses[-1], points[i_first]) - last.uv_left[i_last], axis=1)
    assert np.median(err[visible]) < 0.5
    assert i_last.size >= 0.6 * len(first)


def test_stereo_matches_give_true_disparity_within_0p5_px(tracked: TrackedSequence) -> None:
    rig = tracked.rig
    errors = []
    for frame, pose in zip(tracked.frames, tracked.poses, strict=True):
        matched = frame.has_right
        assert matched.mean() > 0.8
        _points, z = rig.cast(pose, frame.uv_left[matched])
        truth = rig.K[0, 0] * rig.baseline_m / z
        errors.append(np.abs(frame.disparity_px[matched] - truth))
        assert np.all(np.abs(frame.uv_right[matched, 1] - frame.uv_left[matched, 1]) <= 2.0)
    assert np.median(np.concatenate(errors)) < 0.5


def test_ids_persist_and_ages_grow(tracked: TrackedSequence) -> None:
    seen_max = -1
    for prev, cur in zip(tracked.frames, tracked.frames[1:], strict=False):
        assert np.unique(cur.ids).size == len(cur)
        n_old = cur.counts.tracked
        assert n_old + cur.counts.new == len(cur)
        old, new = cur.ids[:n_old], cur.ids[n_old:]
        assert np.isin(old, prev.ids).all()
        idx = np.searchsorted(prev.ids, old, sorter=np.argsort(prev.ids))
        prev_ages = prev.ages[np.argsort(prev.ids)][idx]
        np.testing.assert_array_equal(cur.ages[:n_old], prev_ages + 1)
        np.testing.assert_array_equal(cur.ages[n_old:], 1)
        seen_max = max(seen_max, int(prev.ids.max()))
        assert new.size == 0 or new.min() > seen_max
    assert tracked.frames[-1].ages.max() == len(tracked.frames)


def test_forward_backward_check_drops_occluded_points(tracked: TrackedSequence) -> None:
    first = tracked.lefts[0]
    # The next frame: the image moved by (2, 1) px, with a block covered by something else
    # (the same block turned upside down).
    second = np.zeros_like(first)
    second[1:, 2:] = first[:-1, :-2]
    x0, x1, y0, y1 = 60, 260, 60, 180
    second[y0:y1, x0:x1] = first[y0:y1, x0:x1][::-1, ::-1]
    kept_inside = {}
    for fb_px in (1.0, 0.0):
        config = FeatureTrackerConfig(
            num_features=150, fb_threshold_px=fb_px, ransac_threshold_px=0.0
        )
        tracker = FeatureTracker(config)
        f0 = tracker.track(0, first)
        f1 = tracker.track(1, second)
        moved = f0.uv_left + np.array([2.0, 1.0], np.float32)
        inside = (moved[:, 0] >= x0 + 10) & (moved[:, 0] < x1 - 10)
        inside &= (moved[:, 1] >= y0 + 10) & (moved[:, 1] < y1 - 10)
        far = (moved[:, 0] < x0 - 12) | (moved[:, 0] >= x1 + 12)
        far |= (moved[:, 1] < y0 - 12) | (moved[:, 1] >= y1 + 12)
        _common, i1, i0 = np.intersect1d(f1.ids, f0.ids, return_indices=True)
        kept = np.zeros(len(f0), dtype=bool)
        kept[i0] = True
        assert inside.sum() >= 15
        kept_inside[fb_px] = kept[inside].mean()
        if fb_px > 0:
            assert f1.counts.rejected_fb > 0
            assert kept[far].mean() > 0.75
            err = np.linalg.norm(f1.uv_left[i1] - moved[i0], axis=1)
            assert np.all(err[far[i0]] < 0.5)
    assert kept_inside[1.0] < 0.2
    assert kept_inside[0.0] > 0.8


def test_rotation_seed_follows_a_fast_rotation(synth_stereo: SynthStereo) -> None:
    rig = synth_stereo
    T0 = rig.pose(1.0)
    # 20 deg of yaw and 10 of pitch between two frames (a flick of the hand).
    R_prev_cur = Rotation.from_euler("xyz", [0.0, 20.0, 10.0], degrees=True).as_matrix()
    turn = np.eye(4)
    turn[:3, :3] = R_prev_cur
    T1 = T0 @ rig.T_base_rect @ turn @ np.linalg.inv(rig.T_base_rect)
    left0, _ = rig.render(T0)
    left1, _ = rig.render(T1)
    followed = {}
    for seeded in (False, True):
        tracker = FeatureTracker(FeatureTrackerConfig(num_features=150))
        f0 = tracker.track(0, left0)
        points, _z = rig.cast(T0, f0.uv_left)
        R_cur_prev = R_prev_cur.T if seeded else None
        f1 = tracker.track(1, left1, R_cur_prev=R_cur_prev, K=rig.K if seeded else None)
        _common, i1, i0 = np.intersect1d(f1.ids, f0.ids, return_indices=True)
        err = np.linalg.norm(rig.project(T1, points[i0]) - f1.uv_left[i1], axis=1)
        followed[seeded] = int((err < 1.0).sum())
    assert followed[True] >= 25
    assert followed[True] >= 3 * followed[False]


def test_track_without_right_image_has_no_stereo(tracked: TrackedSequence) -> None:
    tracker = FeatureTracker(FeatureTrackerConfig(num_features=50, clahe=True))
    frame = tracker.track(5, tracked.lefts[0])
    assert 0 < len(frame) <= 50
    assert not frame.has_right.any()
    assert frame.uv_left.dtype == np.float32
    assert frame.ids.dtype == np.int64
    assert frame.counts.rejected_lr == 0


def test_track_raises_on_bad_input(tracked: TrackedSequence) -> None:
    tracker = FeatureTracker()
    left = tracked.lefts[0]
    with pytest.raises(ValueError, match="uint8"):
        tracker.track(0, left.astype(np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="right image must be"):
        tracker.track(0, left, left[:-2])
    tracker.track(10, left)
    with pytest.raises(ValueError, match="stamp_ns must increase"):
        tracker.track(10, left)


def test_reset_forgets_tracks_but_not_ids(tracked: TrackedSequence) -> None:
    tracker = FeatureTracker(FeatureTrackerConfig(num_features=40))
    first = tracker.track(0, tracked.lefts[0])
    tracker.reset()
    again = tracker.track(0, tracked.lefts[0])
    assert again.counts.tracked == 0
    assert again.ids.min() > first.ids.max()
