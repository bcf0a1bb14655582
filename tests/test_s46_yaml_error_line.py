"""Session 46: a parameter file that is not valid YAML is refused on one line saying where.

PyYAML's message spans lines (the source line and a caret); off a terminal the CLI's error took two
lines and lost the position (CLI trial 46: ``model: [unclosed``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_batchseg.params import ParameterError, read_yaml_mapping

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from napari_batchseg.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("model: [unclosed\n", "line 2, column 1", "expected ',' or ']'"),
    ("a: b\n  c: d\n", "line 2, column 4", "mapping values are not allowed here"),
    ('diameter: 30\nmodel: "x\n', "line 3, column 1", "found unexpected end of stream"),
])
def test_the_error_is_one_line_with_its_place(tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError) as caught:
        read_yaml_mapping(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"parameter file {path} is not valid YAML: {where}: {problem}"), message


def test_the_cli_prints_it_on_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model: [unclosed\n", encoding="utf-8")
    image = ROOT / "examples" / "data" / "dsb2018_nuclei.tif"
    done = subprocess.run(
        [sys.executable, "-c", CLI, "segment", str(image), "--config", str(config), "--dry-run"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "YAML" in line or "expected" in line]
    assert len(lines) == 1 and "line 2, column 1: expected ',' or ']'" in lines[0], done.stderr
