"""Review 44: ``positions`` as the dock and the command line read it; names of images inside a Zarr folder."""

from __future__ import annotations

import pytest

from napari_batchseg.io.naming import output_names
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.file_list import parse_positions


@pytest.mark.parametrize("text", ["all", "ALL", " all "])
def test_all_positions_is_every_position_on_the_command_line_too(text: str) -> None:
    assert parse_positions(text) is None  # the dock
    assert SegmentationParams(positions=text).positions is None  # --positions, a --config file, the API


def test_a_file_inside_a_folder_named_zarr_keeps_a_mask_name_without_its_extension(tmp_path) -> None:
    names = output_names(tmp_path / "run.zarr" / "sub" / "img.ome.tif")
    assert names.mask == tmp_path / "run_sub_img_vSM.ome.tif", names.mask  # (beside the container)
    assert output_names(tmp_path / "p.ome.zarr" / "A" / "1" / "0").mask == tmp_path / "p_A_1_0_vSM.ome.tif"


def test_the_longest_positions_list_allowed_is_read_at_once() -> None:
    """Before, each position was looked for in the list made so far: ``0-99997`` (allowed: no more than
    ``MAX_POSITIONS``) took over a minute, again at every ``params.replace`` (the dock's preview)."""
    import time

    from napari_batchseg.params import MAX_POSITIONS

    start = time.perf_counter()
    params = SegmentationParams(positions=f"0-{MAX_POSITIONS - 3},5,B4,b4,B4")
    assert params.positions == [*range(MAX_POSITIONS - 2), "B4", "b4"]  # in order, each once
    assert time.perf_counter() - start < 10  # (was ~75 s here; now well under a second)
