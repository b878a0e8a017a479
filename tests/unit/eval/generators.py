"""Generators shared by the evaluation tests: trajectories, COCO data sets, plane depth."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from percept.eval.trajectory import Trajectory

S = 1_000_000_000
T0_NS = 1_700_000_000 * S


def smooth_pose(t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 6-DoF motion: (N, 3) positions, m, and (N, 4) quaternions xyzw at t_s."""
    pos = np.stack(
        [
            3.0 * np.sin(0.21 * t_s) + 0.5 * t_s,
            2.0 * np.sin(0.33 * t_s + 0.4),
            0.4 * np.sin(0.5 * t_s) + 1.0,
        ],
        axis=1,
    )
    euler = np.stack(
        [0.6 * np.sin(0.17 * t_s), 0.1 * np.sin(0.4 * t_s), 0.08 * np.cos(0.3 * t_s)], axis=1
    )
    return pos, Rotation.from_euler("zyx", euler).as_quat()


def make_pair(
    seed: int,
    *,
    seconds: float = 20.0,
    gt_rate_hz: float = 100.0,
    est_rate_hz: float = 30.0,
    offset_s: float = 0.0,
    noise_m: float = 0.02,
    noise_rad: float = 0.01,
    scale: float = 1.0,
    gap_s: tuple[float, float] | None = None,
) -> tuple[Trajectory, Trajectory]:
    """(ground truth, estimate): the estimate noisy, drifting, in another frame and scale.

    The estimate's stamps are jittered and shifted by ``offset_s`` (its clock runs
    behind, so matching needs ``offset_ns = +offset_s``). ``gap_s`` removes a stretch of
    ground truth so that some estimated poses find no partner.
    """
    rng = np.random.default_rng(seed)
    t_gt = np.arange(0.0, seconds, 1.0 / gt_rate_hz)
    if gap_s is not None:
        t_gt = t_gt[(t_gt < gap_s[0]) | (t_gt > gap_s[1])]
    pos, quat = smooth_pose(t_gt)
    gt = Trajectory.from_quaternions(pos, quat, T0_NS + np.round(t_gt * S).astype(np.int64), "gt")
    t_est = np.arange(0.05, seconds - 0.05, 1.0 / est_rate_hz)
    t_est = t_est + rng.uniform(-0.002, 0.002, t_est.size)
    pos_e, quat_e = smooth_pose(t_est)
    drift = np.cumsum(rng.normal(0.0, noise_m / 4, (t_est.size, 3)), axis=0)
    pos_e = pos_e + drift + rng.normal(0.0, noise_m, pos_e.shape)
    rot_e = Rotation.from_rotvec(rng.normal(0.0, noise_rad, (t_est.size, 3))) * Rotation.from_quat(
        quat_e
    )
    # The estimate lives in its own world frame, at its own scale.
    R_est_world = Rotation.from_euler("zyx", rng.uniform(-np.pi, np.pi, 3))
    t_est_world = rng.uniform(-5.0, 5.0, 3)
    pos_e = scale * R_est_world.apply(pos_e) + t_est_world
    rot_e = R_est_world * rot_e
    stamps = T0_NS + np.round((t_est - offset_s) * S).astype(np.int64)
    est = Trajectory.from_quaternions(pos_e, rot_e.as_quat(), stamps, "est")
    return gt, est


def random_dataset(
    seed: int,
    *,
    images: int = 25,
    categories: int = 4,
    crowd_rate: float = 0.05,
    quantize_scores: bool = False,
    dense_image: bool = False,
) -> tuple[dict, list[dict]]:
    """A COCO document and detections: jittered copies, confusions, clutter."""
    rng = np.random.default_rng(seed)
    imgs = [
        {"id": i + 1, "file_name": f"{i:04d}.png", "width": 640, "height": 480}
        for i in range(images)
    ]
    cats = [{"id": 10 + c, "name": f"class{c}"} for c in range(categories)]
    anns: list[dict] = []
    dets: list[dict] = []

    def score() -> float:
        s = float(rng.random())
        return round(s, 1) if quantize_scores else s

    for img in imgs:
        for _ in range(int(rng.integers(0, 8))):
            w, h = rng.uniform(4.0, 220.0, 2)
            x, y = rng.uniform(0.0, 420.0, 2)
            cat = int(rng.integers(10, 10 + categories))
            # COCO's area is the mask area, smaller than the box
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": float(w * h * rng.uniform(0.5, 1.0)),
                    "iscrowd": int(rng.random() < crowd_rate),
                }
            )
            for _ in range(int(rng.integers(0, 3))):
                box = np.array([x, y, w, h]) + rng.normal(0.0, 0.12, 4) * [w, h, w, h]
                box[2:] = np.abs(box[2:]) + 1.0
                confused = rng.random() < 0.15
                dets.append(
                    {
                        "image_id": img["id"],
                        "category_id": int(rng.integers(10, 10 + categories)) if confused else cat,
                        "bbox": box.tolist(),
                        "score": score(),
                    }
                )
        for _ in range(int(rng.integers(0, 4))):
            box = [*rng.uniform(0.0, 500.0, 2), *rng.uniform(2.0, 160.0, 2)]
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": int(rng.integers(10, 10 + categories)),
                    "bbox": box,
                    "score": score(),
                }
            )
    if dense_image:  # more than maxDets=100 detections of one class on one image
        for _ in range(150):
            box = [*rng.uniform(0.0, 500.0, 2), *rng.uniform(5.0, 60.0, 2)]
            dets.append({"image_id": 1, "category_id": 10, "bbox": box, "score": score()})
    # a category that no annotation uses, and detections of it
    cats.append({"id": 99, "name": "never"})
    dets.append({"image_id": 2, "category_id": 99, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.9})
    doc = {"images": imgs, "categories": cats, "annotations": anns}
    return doc, dets


def plane_depth(rays: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """z of the plane n.X = d along (N, 3) rays from the origin."""
    return rays[:, 2] * offset / (rays @ normal)
