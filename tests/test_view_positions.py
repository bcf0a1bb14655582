"""The Files tab's positions of multi-position files, without Qt (``view.file_list``, ``view.outputs``).

A file's own positions are typed as ``batchseg segment --positions`` takes them (``0,2,5-7``, names);
a loaded parameter file's ``positions`` is the default of every file; what cannot run is a problem of
that file (Run refuses it); the planned outputs are those of the chosen positions only.
"""

from __future__ import annotations

import numpy as np
import tifffile

from napari_batchseg.io.naming import output_names
from napari_batchseg.io.reader import read_info
from napari_batchseg.params import SegmentationParams
from napari_batchseg.view.file_list import (
    FileChoice,
    FileSetup,
    choice_values,
    edited_choice,
    parse_positions,
    positions_note,
)
from napari_batchseg.view.outputs import planned_outputs


def plate(path, names=("A1", "A2", "B1")):
    """An OME-TIFF of one small series per position, each named."""
    with tifffile.TiffWriter(path, ome=True) as tw:
        for name in names:
            tw.write(np.zeros((16, 16), np.uint16), metadata={"axes": "YX", "Name": name})
    return path


def test_a_files_own_positions_are_read_as_the_command_line_reads_them(tmp_path):
    path = plate(tmp_path / "plate.ome.tif")
    info = read_info(path)
    setup = FileSetup()
    assert setup.positions_for(path) is None and setup.chosen_positions({path: info}) == {path: [0, 1, 2]}
    setup.set_choice(path, FileChoice(positions="2, B1 ,0-1"))
    assert setup.problem(path, info) == ""
    assert setup.chosen_positions({path: info}) == {path: [0, 1, 2]}
    setup.set_choice(path, FileChoice(positions="b1,0"))  # names in any case, as the engine
    assert setup.chosen_positions({path: info}) == {path: [0, 2]}
    [(files, params)] = setup.run_groups([path], SegmentationParams())
    assert files == [path] and params.positions == ["b1", 0]
    assert setup.mark(path, info, "") == "plate.ome.tif  (own positions b1,0)"
    assert parse_positions("ALL") is None and parse_positions("0,2,5-7") == [0, 2, 5, 6, 7]


def test_positions_that_cannot_run_are_the_files_problem_naming_its_positions(tmp_path):
    path = plate(tmp_path / "plate.ome.tif")
    info = read_info(path)
    setup = FileSetup()
    setup.set_choice(path, FileChoice(positions="3-1"))  # mistyped: the parameter's own words
    assert setup.problem(path, info) == "positions '3-1': range '3-1' ends before it starts"
    assert setup.chosen_positions({path: info}) == {}  # (the preview lists all of it)
    assert setup.run_groups([path], SegmentationParams())[0][1].positions is None  # not applied
    setup.set_choice(path, FileChoice(positions="1,4-6,C9"))
    said = setup.problem(path, info)
    assert said == ("no position 4-6; no position named 'C9'; the file has 3 position(s): 0 (A1), 1 (A2), "
                    "2 (B1)")  # the engine's words, without the path the list shows beside it


def test_a_loaded_positions_is_the_default_of_every_file_and_all_overrides_it(tmp_path, dsb2018):
    path, single = plate(tmp_path / "plate.ome.tif"), dsb2018[0]
    infos = {path: read_info(path), single: read_info(single)}
    setup = FileSetup(positions=[2, "A1"])
    assert not setup.shows_positions(None)
    assert not FileSetup().shows_positions(infos[single]) and FileSetup().shows_positions(infos[path])
    assert setup.chosen_positions(infos) == {path: [0, 2], single: [0]}
    setup.set_choice(path, FileChoice(positions="all"))
    assert setup.chosen_positions(infos)[path] == [0, 1, 2]
    groups = setup.run_groups([path, single], SegmentationParams(positions=[2, "A1"]))
    assert [(fs, p.positions) for fs, p in groups] == [([path], None), ([single], [2, "A1"])]
    assert positions_note([2, "A1"]).startswith("positions 2,A1: only these of every file of several run")
    assert positions_note(None) == ""


def test_a_file_of_one_position_runs_whole_under_loaded_positions(tmp_path, dsb2018):
    """A loaded parameter file's positions choose among the positions of multi-position files: a file of
    one has nothing to choose; it is not flagged, its field is not shown, and its output is planned."""
    single = dsb2018[0]
    info = read_info(single)
    setup = FileSetup(positions=[1, 2])
    assert setup.problem(single, info) == ""
    assert not setup.shows_positions(info)
    assert setup.chosen_positions({single: info}) == {single: [0]}
    assert [(f, p) for f, p, _ in planned_outputs([single], {single: info}, "", None,
                                                  setup.chosen_positions({single: info}))] == [(single, 0)]
    assert "files of one position run whole" in positions_note([1, 2])


def test_planned_outputs_are_those_of_the_chosen_positions(tmp_path):
    a, b = plate(tmp_path / "a.ome.tif"), plate(tmp_path / "b.ome.tif")
    infos = {a: read_info(a), b: read_info(b)}
    outs = planned_outputs([a, b], infos, "", None, {a: [0, 2]})
    assert [(f, p) for f, p, _ in outs] == [(a, 0), (a, 2), (b, 0), (b, 1), (b, 2)]
    assert [names for f, _, names in outs if f == a] == [output_names(a, "", None, position=p, n_positions=3)
                                                         for p in (0, 2)]  # (their usual names)


def test_a_files_own_positions_round_trip_through_its_controls():
    own = FileChoice(channel=1, positions="0,2")
    shown = choice_values(own)
    assert shown["positions"] == "0,2"
    assert edited_choice(FileChoice(), shown) == own
    assert edited_choice(own, {**shown, "positions": "  "}) == FileChoice(channel=1)
    assert not FileChoice(positions="1").empty


def test_the_info_panel_names_the_positions_to_choose_from(tmp_path):
    from napari_batchseg.view.file_info import describe_info

    said = describe_info(read_info(plate(tmp_path / "plate.ome.tif")))
    assert said.splitlines()[-1] == "positions: 3 (each gives its own output): 0 A1, 1 A2, 2 B1"
    many = describe_info(read_info(plate(tmp_path / "many.ome.tif", names=[f"S{k}" for k in range(12)])))
    assert many.splitlines()[-1] == ("positions: 12 (each gives its own output): 0 S0, 1 S1, 2 S2, 3 S3, "
                                     "4 S4, 5 S5, …, 11 S11")
