"""Review 45b: a log written on Windows names its input as it was written, in the reason of another input.

f71b847 reads a logged ``C:\\Users\\me\\data\\a.tif`` as a path of this system to compare its name, and
said that converted path: "made from another input (input C:\\/Users/me/data/a.tif -> .../a.tiff)", a
path that never existed (before, the log's own text).
"""

from __future__ import annotations

from pathlib import Path

from napari_batchseg import engine
from napari_batchseg.existing import dry_run_line, output_status
from napari_batchseg.params import SegmentationParams
from test_review45_existing import _logged_on_windows


def test_another_input_logged_on_windows_is_said_as_logged(tmp_path: Path) -> None:
    _logged_on_windows(tmp_path)
    (tmp_path / "a.tiff").write_bytes((tmp_path / "a.tif").read_bytes())  # another file, same output name
    params = SegmentationParams()
    task = engine.plan([tmp_path / "a.tiff"], params).tasks[0]
    status = output_status(task, params)
    assert status.differences["input"] == ("C:\\Users\\me\\data\\a.tif", str(tmp_path / "a.tiff"))
    line, _ = dry_run_line(task, params)
    assert "(input C:\\Users\\me\\data\\a.tif -> " in line, line
