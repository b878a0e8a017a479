"""Issue 6, item 3: camera_info YAML in camera_calibration_parsers' exact layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from percept.calib.yaml_io import (
    YAML_KEYS,
    dump_camera_info_yaml,
    load_camera_info_yaml,
    read_camera_info_yaml,
    write_camera_info_yaml,
)
from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel


def _stereo_right() -> CameraModel:
    rng = np.random.default_rng(0)
    K = np.array([[701.2345678901234, 0.0, 633.1], [0.0, 700.987654321, 361.7], [0.0, 0.0, 1.0]])
    R = np.linalg.qr(np.eye(3) + 0.01 * rng.normal(size=(3, 3)))[0]
    P = np.array([[690.5, 0.0, 640.25, -690.5 * 0.1203], [0.0, 690.5, 360.5, 0.0], [0, 0, 1, 0]])
    D = np.array([-0.28, 0.0712345, 1.2e-05, -3.4e-07, -0.0213])
    return CameraModel(1280, 720, "plumb_bob", K, D, R, P)


@pytest.mark.parametrize(
    "model",
    [
        _stereo_right(),
        CameraModel(
            640, 480, "equidistant", np.diag([300.1, 300.2, 1.0]), [0.1, -0.01, 1e-3, 1e-20]
        ),
        CameraModel(
            752, 480, "rational_polynomial", np.diag([458.6, 457.3, 1.0]), np.arange(8) * 0.0137
        ),
    ],
)
def test_yaml_round_trip_gives_the_identical_camera_info(
    model: CameraModel, tmp_path: Path
) -> None:
    path = write_camera_info_yaml(tmp_path / "cal" / "right.yaml", model, "right")
    name, back = read_camera_info_yaml(path)
    assert name == "right"
    assert back.allclose(model, atol=0.0)
    for field in ("K", "D", "R", "P"):
        assert np.array_equal(getattr(back, field), getattr(model, field)), field
    assert (back.width, back.height, back.distortion_model) == (
        model.width,
        model.height,
        model.distortion_model,
    )


def test_yaml_key_layout_is_camera_calibration_parsers(tmp_path: Path) -> None:
    text = dump_camera_info_yaml(_stereo_right(), "narrow_stereo/right")
    lines = text.splitlines()
    # writeCalibrationYml: these keys, in this order, at the top level.
    top = [line.split(":")[0] for line in lines if line and not line.startswith(" ")]
    assert top == list(YAML_KEYS)
    # Each matrix: rows, cols, then data as a flow sequence, two-space indented.
    for key, rows, cols in (
        ("camera_matrix", 3, 3),
        ("distortion_coefficients", 1, 5),
        ("rectification_matrix", 3, 3),
        ("projection_matrix", 3, 4),
    ):
        i = lines.index(f"{key}:")
        assert lines[i + 1] == f"  rows: {rows}"
        assert lines[i + 2] == f"  cols: {cols}"
        assert lines[i + 3].startswith("  data: [")
        assert lines[i + 3].endswith("]")
    doc = yaml.safe_load(text)
    assert doc["camera_name"] == "narrow_stereo/right"
    assert all(isinstance(v, float) for v in doc["distortion_coefficients"]["data"])


def test_layout_matches_the_upstream_example_files(data_dir: Path, repo_root: Path) -> None:
    upstream = data_dir / "camera_info_examples" / "test_calibration.yaml"
    if not upstream.is_file():
        pytest.skip(f"{upstream} not found")
    for path in (upstream, repo_root / "calibration" / "example" / "camera.yaml"):
        text = path.read_text(encoding="utf-8")
        name, model = load_camera_info_yaml(text, source=str(path))
        ours = dump_camera_info_yaml(model, name)
        # Same keys in the same order and same matrix shapes as the upstream file.
        ref_doc, our_doc = yaml.safe_load(text), yaml.safe_load(ours)
        assert list(our_doc) == list(ref_doc) == list(YAML_KEYS)
        for key in YAML_KEYS:
            if isinstance(ref_doc[key], dict):
                assert our_doc[key]["rows"] == ref_doc[key]["rows"]
                assert our_doc[key]["cols"] == ref_doc[key]["cols"]
                np.testing.assert_array_equal(our_doc[key]["data"], ref_doc[key]["data"])
            else:
                assert our_doc[key] == ref_doc[key]
    _, upstream_model = read_camera_info_yaml(upstream)
    assert upstream_model.K[0, 0] == 1168.68
    np.testing.assert_array_equal(upstream_model.D, [-1.04482, 1.59252, -0.0196308, 0.0287906, 0])


def test_missing_name_and_model_read_as_upstream_does() -> None:
    text = """image_width: 4
image_height: 2
camera_matrix: {rows: 3, cols: 3, data: [1, 0, 2, 0, 1, 1, 0, 0, 1]}
distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 1e-05]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [1, 0, 2, 0, 0, 1, 1, 0, 0, 0, 1, 0]}
"""
    name, model = load_camera_info_yaml(text)
    assert name == "unknown"
    assert model.distortion_model == "plumb_bob"
    assert model.D[4] == 1e-05


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("image_width: 640\n", "image_height"),
        ("[1, 2]", "camera_info map"),
        (
            "image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1]}\n",
            r"camera_matrix\.data must be a list of 9",
        ),
        (
            "image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 2, cols: 3, data: []}\n",
            "camera_matrix must be 3x3",
        ),
        ("image_width: 640\nimage_height: 480\n", "camera_matrix must be a map"),
        ("image_width: [\n", "not valid YAML"),
    ],
)
def test_malformed_yaml_raises_naming_file_and_key(text: str, match: str) -> None:
    with pytest.raises(CalibrationError, match=match) as info:
        load_camera_info_yaml(text, source="calibration/bot/cam.yaml")
    assert "calibration/bot/cam.yaml" in str(info.value)


def test_writing_an_invalid_model_raises() -> None:
    bad = CameraModel(640, 480, "plumb_bob", np.zeros((3, 3)), np.zeros(5))
    with pytest.raises(CalibrationError, match="invalid calibration"):
        dump_camera_info_yaml(bad, "cam")


def test_reading_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"nope\.yaml"):
        read_camera_info_yaml(tmp_path / "nope.yaml")
