"""``segment --measure``: a mask that cannot be measured is said on stderr, as ``failed: <mask>: ...``
like ``batchseg measure`` and ``segment --track`` say it (a trial: the line was ``measure failed: ...`` on
stdout, where ``2> errors.txt`` missed it), and the other masks are measured."""

from __future__ import annotations

import shutil
from pathlib import Path

from napari_batchseg.cli_downstream import measure_masks


def test_a_mask_that_cannot_be_measured_is_said_on_stderr_and_the_next_is_measured(tmp_path: Path,
                                                                                   capsys) -> None:
    from _downstream import segmented

    mask = segmented("dsb")
    first, second = tmp_path / "a" / mask.name, tmp_path / "b" / mask.name
    for copy in (first, second):
        copy.parent.mkdir()
        shutil.copy(mask, copy)
        shutil.copy(mask.with_name(mask.name.replace(".ome.tif", ".log")), copy.parent)
    blocked = first.with_name(first.name.replace(".ome.tif", "_objects.csv"))
    blocked.mkdir()  # its objects table cannot be written
    assert measure_masks([first, second]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"failed: {first}: "), err
    assert "failed" not in out
    assert f"{second}: measured " in out
    assert second.with_name(second.name.replace(".ome.tif", "_objects.csv")).is_file()
    assert blocked.is_dir() and list(blocked.iterdir()) == []
