"""Depth and point-cloud accuracy on a percept synth sequence, through the robot graph.

A one-second 320x240 warehouse sequence (10 stereo frames, raw distorted images) is
replayed through ``stereo_rectify`` and ``stereo_depth`` wired by a robot file as on a
robot (the disparity node remapped to the rectified camera_infos), then scored with
``percept.eval`` against the ground-truth depth in the bag (mapped into the rectified
frame): depth error by range band (0-2, 2-5, 5-10 m). The organised point cloud is
scored point by point against the ground-truth depth back-projected through the same
rectified camera.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from percept import codecs
from percept.domain import CameraInfo, Image, PointCloud
from percept.eval.disparity import rectify_depth
from percept.eval.runner import EvalResult, evaluate
from percept.io.bag import BagReader
from percept.io.typestore import get_typestore
from percept.runtime.robot import load_robot
from percept.stereo.geometry import projection_of
from percept.tools.replay import replay

pytest.importorskip("open3d")  # the synth renderer ray-casts with Open3D
from percept.synth import SynthConfig, default_rig, generate

logger = logging.getLogger(__name__)
BANDS_M = ((0.0, 2.0), (2.0, 5.0), (5.0, 10.0))
ROBOT = """robot: stereo_synth
description: synth stereo through stereo_rectify and stereo_depth
record: [/stereo/points2]  # clouds are recorded only when asked for
nodes:
  - type: stereo_rectify
    namespace: stereo
  - type: stereo_depth
    namespace: stereo
    parameters: {{disparity_range: 64{extra}}}
    remappings:
      left/camera_info: left/camera_info_rect
      right/camera_info: right/camera_info_rect
"""


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stereo_synth")
    config = SynthConfig(seconds=1.0, seed=0, rig=default_rig("ground", width=320, height=240))
    return generate(root / "synth.mcap", config).bag


def run_graph(sequence: Path, repo_root: Path, name: str, extra: str = "") -> Path:
    robots = sequence.parent / name / "config" / "robots"
    robots.mkdir(parents=True)
    path = robots / "stereo_synth.yaml"
    path.write_text(ROBOT.format(extra=extra), encoding="utf-8")
    robot = load_robot(path, config_root=repo_root)
    out = sequence.parent / name / "run.mcap"
    result = replay(sequence, out, robot, diagnostics=False)
    assert result.written["/stereo/disparity"] == 10
    return out


@pytest.fixture(scope="module")
def ours(sequence: Path, repo_root: Path) -> Path:
    return run_graph(sequence, repo_root, "ours")


@pytest.fixture(scope="module")
def scores(ours: Path, sequence: Path) -> EvalResult:
    result = evaluate(ours, sequence)
    assert result.disparity is not None
    lines = [
        f"{'band':<8} {'pixels':>8} {'density %':>9} {'abs rel':>8} {'abs err m':>9} {'rmse m':>7}"
    ]
    for band in result.depth_bands:
        lines.append(
            f"{band.name:<8} {band.pixels:>8} {band.density_pct:>9.1f} {band.abs_rel_mean:>8.3f} "
            f"{band.abs_err_mean_m:>9.3f} {band.rmse_m:>7.3f}"
        )
    d = result.disparity
    lines.append(
        f"disparity: bad-2 all {d.bad_total_pct[2.0]:.2f} %, matched {d.bad_valid_pct[2.0]:.2f} %, "
        f"density {d.density_pct:.1f} %, EPE {d.epe_px:.3f} px"
    )
    logger.info("synthetic depth by band:\n%s", "\n".join(lines))
    print("\n" + "\n".join(lines))
    return result


def read(path: Path, topics: list[str]) -> dict[str, dict[int, object]]:
    store = get_typestore()
    out: dict[str, dict[int, object]] = {}
    with BagReader(path) as bag:
        for m in bag.messages(topics):
            assert m.raw is not None
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw, m.msgtype))
            out.setdefault(m.topic, {})[obj.header.stamp_ns] = obj  # type: ignore[attr-defined]
    return out


def test_graph_depth_error_by_range_band(scores: EvalResult) -> None:
    assert scores.topics["disparity"] == "/stereo/disparity"
    assert "rectified frame" in " ".join(scores.notes)  # raw-camera truth was mapped
    bands = {b.name: b for b in scores.depth_bands}
    assert set(bands) == {"0-2m", "2-5m", "5-10m"}
    assert all(b.density_pct > 80.0 for b in bands.values())
    # Mean relative error grows with range as disparity shrinks (f = 230 px, B = 0.12 m:
    # 5 m is 5.5 px of disparity at 320x240).
    assert bands["0-2m"].abs_rel_mean < 0.05
    assert bands["2-5m"].abs_rel_mean < 0.2
    assert bands["5-10m"].abs_rel_mean < 0.2
    assert scores.disparity is not None
    assert scores.disparity.epe_px < 1.0


def test_graph_beats_plain_sgbm_on_the_synthetic_sequence(
    sequence: Path, repo_root: Path, scores: EvalResult
) -> None:
    bare_run = run_graph(sequence, repo_root, "bare", ", full_width: false, lr_check: false")
    bare = evaluate(bare_run, sequence).disparity
    ours = scores.disparity
    assert bare is not None
    assert ours is not None
    logger.info(
        "synthetic bad-2 all / matched / EPE: plain SGBM %.2f / %.2f / %.3f, ours %.2f / %.2f "
        "/ %.3f",
        bare.bad_total_pct[2.0],
        bare.bad_valid_pct[2.0],
        bare.epe_px,
        ours.bad_total_pct[2.0],
        ours.bad_valid_pct[2.0],
        ours.epe_px,
    )
    assert ours.bad_total_pct[2.0] < bare.bad_total_pct[2.0]
    assert ours.bad_valid_pct[2.0] < bare.bad_valid_pct[2.0]
    assert ours.epe_px < bare.epe_px


def test_point_cloud_matches_ground_truth_depth(ours: Path, sequence: Path) -> None:
    run = read(ours, ["/stereo/points2", "/stereo/depth"])
    truth = read(sequence, ["/ground_truth/left/depth", "/stereo/left/camera_info"])
    info = next(iter(truth["/stereo/left/camera_info"].values()))
    assert isinstance(info, CameraInfo)
    P = projection_of(info.model)
    fx, fy, cx, cy = P[0, 0], P[1, 1], P[0, 2], P[1, 2]
    errors: dict[tuple[float, float], list[npt.NDArray[np.float64]]] = {b: [] for b in BANDS_M}
    assert len(run["/stereo/points2"]) == 10
    for stamp, cloud in run["/stereo/points2"].items():
        assert isinstance(cloud, PointCloud)
        assert cloud.is_organized
        assert not cloud.is_dense
        assert cloud.header.frame_id == info.header.frame_id
        depth = run["/stereo/depth"][stamp]
        assert isinstance(depth, Image)
        xyz = cloud.xyz().astype(np.float64)
        # The cloud is the depth image back-projected: same z, NaN where depth is NaN.
        np.testing.assert_array_equal(xyz[..., 2], depth.data)
        gt_image = truth["/ground_truth/left/depth"][stamp]
        assert isinstance(gt_image, Image)
        z_gt = rectify_depth(gt_image.data, info.model).astype(np.float64)
        v, u = np.mgrid[0 : z_gt.shape[0], 0 : z_gt.shape[1]]
        gt = np.stack([(u - cx) * z_gt / fx, (v - cy) * z_gt / fy, z_gt], axis=-1)
        ok = np.isfinite(xyz).all(axis=-1) & np.isfinite(gt).all(axis=-1)
        rel = np.linalg.norm(xyz - gt, axis=-1)[ok] / np.linalg.norm(gt, axis=-1)[ok]
        for lo, hi in BANDS_M:
            band = (z_gt[ok] >= lo) & (z_gt[ok] < hi)
            errors[(lo, hi)].append(rel[band])
    lines = [f"{'band':<8} {'points':>8} {'median rel':>10} {'p90 rel':>8} {'within 5 %':>10}"]
    medians = []
    for (lo, hi), parts in errors.items():
        rel_all = np.concatenate(parts)
        medians.append(float(np.median(rel_all)))
        lines.append(
            f"{lo:g}-{hi:g}m{'':<3} {rel_all.size:>8} {np.median(rel_all):>10.3f} "
            f"{np.percentile(rel_all, 90):>8.3f} {100 * np.mean(rel_all < 0.05):>10.1f}"
        )
    logger.info("point cloud error / range:\n%s", "\n".join(lines))
    print("\n" + "\n".join(lines))
    # Median 3-D error over the distance to the point, per band.
    assert medians[0] < 0.04
    assert medians[1] < 0.12
    assert medians[2] < 0.10
