from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from percept.cli.main import main
from percept.errors import ConfigError
from percept.nodes.debayer import DebayerNode
from percept.nodes.resize import ResizeNode
from percept.tools.params import (
    check_files,
    format_value,
    readme_table,
    render_parameter_file,
    update_readme,
    write_files,
)


def test_shipped_parameter_files_and_readme_tables_match_the_declarations(
    repo_root: Path,
) -> None:
    drift = [str(d.path.relative_to(repo_root)) for d in check_files(repo_root)]
    assert drift == [], f"{drift} drifted from the declarations: run percept params --write"


@pytest.mark.parametrize(
    "value", [True, False, 0, -1, 0.01, 1e-6, 1e6, "", "mono", "a:b", "a: b", "# x", "null", "1"]
)
def test_format_value_reads_back_as_the_same_value_and_type(value: object) -> None:
    text = format_value(value)  # type: ignore[arg-type]
    back = yaml.safe_load(f"k: {text}")["k"]
    assert back == value
    assert type(back) is type(value)


def test_parameter_file_keeps_set_values_and_marks_their_defaults() -> None:
    text = render_parameter_file("resize", ResizeNode, {"scale_width": 0.5, "width": "bad"})
    values = yaml.safe_load(text)["/**"]["ros__parameters"]
    assert values["scale_width"] == 0.5
    assert values["width"] == -1  # not a valid value: the default
    assert [p.name for p in ResizeNode.PARAMETERS] == list(values)
    assert "# width factor (default: 1.0)" in text


def test_readme_table_has_a_row_per_parameter_with_its_range() -> None:
    table = readme_table(ResizeNode)
    assert "| `scale_width` | double | 1.0 | 0.01..100 | width factor |" in table
    assert len(table.splitlines()) == 2 + len(ResizeNode.PARAMETERS)


def test_update_readme_raises_without_markers() -> None:
    with pytest.raises(ConfigError, match="no '<!-- params:debayer -->'"):
        update_readme("# README\n", {"debayer": readme_table(DebayerNode)})


def test_check_exits_1_on_drift_and_write_repairs_it(repo_root: Path, tmp_path: Path) -> None:
    shutil.copytree(repo_root / "config", tmp_path / "config")
    shutil.copy(repo_root / "README.md", tmp_path / "README.md")
    path = tmp_path / "config" / "debayer.yaml"
    path.write_text(path.read_text().replace("# publish image_mono", "# old comment"))
    assert main(["params", "--check", "--root", str(tmp_path)]) == 1
    assert write_files(tmp_path) == [path]
    assert check_files(tmp_path) == []
    assert main(["params", "--check", "--root", str(tmp_path)]) == 0
