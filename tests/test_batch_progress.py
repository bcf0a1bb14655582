"""What ``batchseg track`` (``cli_stop.BatchProgress``) says it left when a signal stops it at an item.

Before, the item the batch stood at counted as done when its last output (its marker) was new, though an
earlier item had made it new: a mask refused because an earlier one of the same name claimed its outputs
(one ``--output-dir``) was counted as tracked ("0 not tracked"). And a mask given twice, tracked once, was
counted as left while it waited its second turn. A real SIGTERM is sent while the failure line is said.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.cli_stop import Stopped, signals_stop
from napari_batchseg.cli_track import track_masks_cli


def _movie(path: Path, frames: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = np.zeros((frames, 32, 32), np.uint16)
    for t in range(frames):
        labels[t, 4 + t:12 + t, 4:12] = 1
    tifffile.imwrite(path, labels, metadata={"axes": "TYX"})
    return path


def _stopped_at_the_failure(masks: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Track ``masks`` into ``out``; SIGTERM while the first failure is said; what the stop said."""
    def error(_line: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Stopped), signals_stop():
        track_masks_cli(masks, None, report=lambda s: None, error=error, output_dir=str(out), axes="TYX",
                        force_labels=True)
    return capsys.readouterr().err


def test_a_refused_mask_is_not_counted_as_tracked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    masks = [_movie(tmp_path / "a" / "m.tif"), _movie(tmp_path / "b" / "m.tif")]  # one name, one output
    said = _stopped_at_the_failure(masks, tmp_path / "out", capsys)
    assert "1 mask(s) tracked before it, their outputs kept; 1 not tracked" in said, said


def test_a_mask_given_again_is_not_counted_as_left(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    tracked, single = _movie(tmp_path / "a.tif"), _movie(tmp_path / "one.tif", frames=1)  # (one: fails)
    said = _stopped_at_the_failure([tracked, single, tracked], tmp_path / "out", capsys)
    assert "1 mask(s) tracked before it, their outputs kept; 1 not tracked" in said, said
