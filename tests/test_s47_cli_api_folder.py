"""The Python API's one-mask functions given a folder say so (a trial: ``track_file("results")`` said
"results: no such file" of an existing folder, ``measure_file("results")`` "unsupported file type (no
extension)"); nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_batchseg.errors import InputError
from napari_batchseg.measure import measure_file
from napari_batchseg.tracking.files import track_file


def test_measure_file_and_track_file_refuse_a_folder_by_name(tmp_path: Path) -> None:
    from _downstream import segmented

    folder = segmented("nd2").parent  # a real results folder: the project's segmentation of 3 ND2 frames
    before = sorted(p.name for p in folder.iterdir())
    for function, command in ((measure_file, "batchseg measure"), (track_file, "batchseg track")):
        with pytest.raises(InputError) as caught:
            function(folder, output_dir=tmp_path)
        message = str(caught.value)
        assert message.startswith(f"{folder}: a folder, not a mask file") and command in message
        assert "no such file" not in message and "extension" not in message
    assert sorted(p.name for p in folder.iterdir()) == before and list(tmp_path.iterdir()) == []
