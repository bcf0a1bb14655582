"""Widget tests: offscreen Qt, napari's ``make_napari_viewer``, real files copied under ``_BF`` names."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

import _areas
import _realdata

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if importlib.util.find_spec("napari") is None or importlib.util.find_spec("pytestqt") is None:
    if _areas.required("napari"):  # CI installs the napari extra: never pass there without running these
        raise RuntimeError("napari or pytest-qt is not installed, but the widget tests must run under CI "
                           "(NAPARI=0 leaves them out)")
    collect_ignore_glob = ["test_*.py"]  # the napari extra is not installed



def _offscreen_gl_defaults() -> None:
    """Qt's offscreen platform has no OpenGL: answer napari's GL capability queries with safe values.

    Without this, adding a float Image layer fails while napari asks the (absent) GL context for its
    extensions and texture sizes. Under a real display (e.g. ``xvfb-run`` with QT_QPA_PLATFORM=xcb) the
    real answers are used.
    """
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    import napari._vispy.canvas
    import napari._vispy.layers.base
    import napari._vispy.layers.image
    import napari._vispy.layers.labels

    def sizes():
        return (4096, 2048)

    for mod in (napari._vispy.canvas, napari._vispy.layers.base, napari._vispy.layers.image,
                napari._vispy.layers.labels):
        if hasattr(mod, "get_max_texture_sizes"):
            mod.get_max_texture_sizes = sizes
    napari._vispy.layers.image.get_gl_extensions = lambda: ""


if "collect_ignore_glob" not in globals():
    _offscreen_gl_defaults()

def pytest_collection_modifyitems(config, items) -> None:
    """Every test in this folder needs a Qt application: marker ``qt`` (``-m "not qt"`` leaves them out)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.qt)


ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "examples" / "models"


@pytest.fixture
def example_files(arcadia_nd2, dsb2018) -> dict[str, Path]:
    """Real files: the copies committed in examples/ (see tests/_realdata.py)."""
    return {
        "nuclei": dsb2018[0],
        "timelapse": arcadia_nd2["example-timelapse.nd2"],
        "zstack": arcadia_nd2["example-zstack.nd2"],
        "yeast": arcadia_nd2["example-cerevisiae.nd2"],
    }


@pytest.fixture
def data_folder(tmp_path, example_files) -> Path:
    """Real ND2 and TIFF files; three pass the default ``_BF`` filter, two do not."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(example_files["timelapse"], folder / "timelapse_BF.nd2")
    shutil.copy(example_files["zstack"], folder / "zstack_BF.nd2")
    shutil.copy(example_files["nuclei"], folder / "nuclei_BF.tif")
    shutil.copy(example_files["timelapse"], folder / "timelapse_WL488.nd2")
    shutil.copy(example_files["zstack"], folder / "zstack.nd2")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's own small Cellpose model (examples/models)."""
    candidates = sorted(p for p in MODELS.glob("*") if p.is_file() and not p.name.startswith((".", "README")))
    candidates = [p for p in candidates if p.suffix not in (".md", ".txt", ".json", ".py", ".yaml")]
    if not candidates:
        _realdata.unavailable(f"no trained Cellpose model in {MODELS}")
    return candidates[0]


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    """A viewer with the dock widget docked; waits for any run to end at teardown."""
    from napari_batchseg._napari._widget import BatchSegWidget

    viewer = make_napari_viewer()
    w = BatchSegWidget(viewer)
    viewer.window.add_dock_widget(w, name="Batch segmentation")
    yield w
    if w.running:
        w.cancel()
        qtbot.waitUntil(lambda: not w.running, timeout=60000)
    qtbot.wait(10)
