"""Packaging facts: one version source, a real manifest inside the package equal to the root one."""

from pathlib import Path

import napari_batchseg
from napari_batchseg._version import __version__

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(napari_batchseg.__file__).resolve().parent


def test_manifest_in_package_is_a_real_copy_of_the_root_one():
    inside = PACKAGE / "napari.yaml"
    assert not inside.is_symlink(), "the wheel must carry a real file, not a symlink"
    assert inside.read_text() == (ROOT / "napari.yaml").read_text()


def test_one_version_source():
    assert napari_batchseg.__version__ == __version__
    assert "version =" not in (ROOT / "pyproject.toml").read_text().split("[tool.setuptools.dynamic]")[0]


def test_typed_marker_shipped():
    assert (PACKAGE / "py.typed").is_file()
