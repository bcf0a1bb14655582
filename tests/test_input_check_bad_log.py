"""A mask whose log was edited by hand: an input identity no run writes is said, naming the log, not a crash.

Before, ``check_input`` did ``int(size)`` on the logged size: ``"size": "4.6 kB"`` raised a bare
``ValueError`` (a traceback from ``batchseg measure``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tifffile

from _one_square import segmented_square
from napari_batchseg.cli import main
from napari_batchseg.errors import InputError
from napari_batchseg.input_check import check_input
from napari_batchseg.params import SegmentationParams


def _edit_embedded_size(mask: Path, value: str) -> None:
    xml = tifffile.tiffcomment(mask)
    assert isinstance(xml, str)
    edited, n = re.subn(r'"size": \d+', f'"size": {value}', xml.replace("&quot;", '"'))
    assert n == 1, xml[:2000]
    tifffile.tiffcomment(mask, edited.encode())


def test_measure_says_the_embedded_log_s_size_is_no_number(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.tif"
    the_plan = segmented_square(source, SegmentationParams())
    mask = the_plan.tasks[0].names.mask
    _edit_embedded_size(mask, '"4.6 kB"')
    code = main(["measure", str(mask)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and "invalid literal" not in err, err  # before: int('4.6 kB')
    assert f"{mask}: the log embedded in it records an input identity that no run writes " \
           "(size '4.6 kB', not a number of bytes; edited by hand?)" in err, err


@pytest.mark.parametrize("identity", [{"size": "4.6 kB"}, {"size": [1]}, {"size": 1.5}, {"size": True},
                                      {"size": 10, "planes_sha256": 5}])
def test_check_input_names_the_log_of_a_bad_identity(tmp_path: Path, identity: dict[str, object]) -> None:
    image = tmp_path / "a.tif"
    image.write_bytes(b"0123456789")
    log = tmp_path / "a_vSM.log"
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'm.ome.tif'}: its log {log} records")):
        check_input(image, identity, SegmentationParams(), 0, tmp_path / "m.ome.tif", log=log)
