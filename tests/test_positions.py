"""Choosing the positions of multi-position files (``--positions``, ``positions=``), and the end frame
past a file's last frame said in one line (not only in the log).

Small synthetic OME-TIFF files of several series (positions), written by each test; the segmenter is
the threshold stand-in (the model is not the point here).
"""

import numpy as np
import pytest
import tifffile
import yaml

from napari_batchseg import engine
from napari_batchseg.api import segment_files
from napari_batchseg.cli import FACTORY_ENV, main
from napari_batchseg.params import ParameterError, SegmentationParams
from napari_batchseg.provenance import parse_log

STANDIN = "napari_batchseg.testing:threshold_segmenter"


def _plate(path, names=("A1", "A2", "B1"), frames=2):
    """An OME-TIFF of one series per position, each named, with a bright square (objects to find)."""
    with tifffile.TiffWriter(path, ome=True) as tw:
        for k, name in enumerate(names):
            data = np.zeros((frames, 32, 32), np.uint16)
            data[:, 4 + k:12 + k, 4:12] = 1000
            tw.write(data, metadata={"axes": "TYX", "Name": name})
    return path


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setenv(FACTORY_ENV, STANDIN)


# --------------------------------------------------------------------------- parameters
def test_positions_take_indices_ranges_and_names():
    assert SegmentationParams().positions is None  # every position
    assert SegmentationParams(positions="0,2,5-7").positions == [0, 2, 5, 6, 7]
    assert SegmentationParams(positions=" 3 ").positions == [3]
    assert SegmentationParams(positions=[1, "B4", "2"]).positions == [1, "B4", 2]
    assert SegmentationParams(positions="1,0-2").positions == [1, 0, 2]  # each once
    assert SegmentationParams(positions="").positions is None
    again = SegmentationParams.from_dict(SegmentationParams(positions="0,A2").to_dict())
    assert again.positions == [0, "A2"]
    assert "positions" not in SegmentationParams().to_dict()  # all: logs and configs as before


@pytest.mark.parametrize("bad", ["3-1", "-1", [-2], [True], "0,,", [1.5]])
def test_bad_positions_are_refused_naming_the_parameter(bad):
    with pytest.raises(ParameterError, match="positions"):
        SegmentationParams(positions=bad)


def test_an_empty_positions_list_is_refused_not_read_as_every_position():
    """A filter that matched no name gives ``[]``: segmenting every position instead would be silent."""
    with pytest.raises(ParameterError, match=r"positions \[\]: no position listed"):
        SegmentationParams(positions=[])
    with pytest.raises(ParameterError, match="positions"):
        SegmentationParams(positions=())
    assert SegmentationParams(positions=None).positions is None  # (None and "": every position)
    assert SegmentationParams(positions="  ").positions is None


def test_positions_take_numpy_integers_arrays_and_ranges():
    assert SegmentationParams(positions=list(np.array([0, 2]))).positions == [0, 2]
    assert SegmentationParams(positions=np.array([2, 0])).positions == [2, 0]
    assert SegmentationParams(positions=range(3)).positions == [0, 1, 2]
    assert SegmentationParams(positions=np.int64(4)).positions == [4]
    assert SegmentationParams(positions=(n for n in ["B4", 1])).positions == ["B4", 1]
    saved = SegmentationParams(positions=np.array([1])).to_dict()
    assert saved["positions"] == [1] and type(saved["positions"][0]) is int  # (plain: YAML writes it)
    with pytest.raises(ParameterError, match="negative"):
        SegmentationParams(positions=np.array([-1]))
    with pytest.raises(ParameterError, match="positions"):
        SegmentationParams(positions=np.array([], dtype=int))


# --------------------------------------------------------------------------- planning
def test_the_plan_holds_only_the_chosen_positions_under_their_usual_names(tmp_path):
    plate = _plate(tmp_path / "plate.ome.tif")
    tasks = engine.plan([plate], SegmentationParams(positions="2,0")).tasks
    assert [(t.position, t.n_positions, t.error) for t in tasks] == [(0, 3, None), (2, 3, None)]
    assert [t.names.mask.name for t in tasks] == ["plate_P0_vSM.ome.tif", "plate_P2_vSM.ome.tif"]
    by_name = engine.plan([plate], SegmentationParams(positions="b1")).tasks  # a name, any case
    assert [t.position for t in by_name] == [2]


def test_a_position_the_file_lacks_fails_that_file_naming_it_and_the_positions_it_has(tmp_path):
    big = _plate(tmp_path / "big.ome.tif")
    small = _plate(tmp_path / "small.ome.tif", names=("A1", "A2"))
    tasks = engine.plan([big, small], SegmentationParams(positions="2")).tasks
    assert [(t.input.name, t.position, t.error) for t in tasks[:1]] == [("big.ome.tif", 2, None)]
    assert len(tasks) == 2 and tasks[1].input == small
    error = tasks[1].error or ""
    assert str(small) in error and "no position 2" in error, error
    assert "2 position(s)" in error and "0 (A1)" in error and "1 (A2)" in error, error
    named = engine.plan([small], SegmentationParams(positions="C3,1,4-9,12")).tasks
    assert "no position 4-9, 12; no position named 'C3'; the file" in (named[0].error or ""), named[0].error


def test_a_file_of_one_position_runs_whole_and_one_note_says_so(tmp_path):
    """Positions choose among the positions of multi-position files: a file of one has nothing to choose."""
    plate = _plate(tmp_path / "plate.ome.tif")
    singles = [_plate(tmp_path / f"single{k}.ome.tif", names=("S",)) for k in range(2)]
    the_plan = engine.plan([plate, *singles], SegmentationParams(positions="1-2"))
    assert [(t.input.name, t.position, t.n_positions, t.error) for t in the_plan.tasks] == [
        ("plate.ome.tif", 1, 3, None), ("plate.ome.tif", 2, 3, None),
        ("single0.ome.tif", 0, 1, None), ("single1.ome.tif", 0, 1, None)]
    assert the_plan.tasks[2].names.mask.name == "single0_vSM.ome.tif"  # its usual name
    assert [n for n in the_plan.notes if "position" in n] == [
        "positions 1-2 apply to files with several positions; 2 file(s) with one position run whole"]
    assert engine.plan([plate], SegmentationParams(positions="1")).notes == []  # none of one: no note
    assert engine.plan(singles, SegmentationParams()).notes == []  # every position: nothing to say
    # a file of several positions lacking one still fails
    small = _plate(tmp_path / "small.ome.tif", names=("A1", "A2"))
    [failed, single] = engine.plan([small, singles[0]], SegmentationParams(positions=[2, "B1"])).tasks
    assert "no position 2; no position named 'B1'" in (failed.error or "") and single.error is None


def test_cli_positions_over_a_mixed_folder_run_the_one_position_files_whole(tmp_path, standin, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _plate(folder / "plate.ome.tif")
    _plate(folder / "single.ome.tif", names=("S",))
    out = tmp_path / "out"
    assert main(["segment", str(folder), "--positions", "1", "--output-dir", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.ome.tif")) == ["plate_P1_vSM.ome.tif", "single_vSM.ome.tif"]
    said = capsys.readouterr()
    assert "1 file(s) with one position run whole" in said.out + said.err


# --------------------------------------------------------------------------- command line
def test_cli_positions_run_only_those_and_the_log_records_them(tmp_path, standin, capsys):
    plate = _plate(tmp_path / "plate.ome.tif")
    out = tmp_path / "out"
    assert main(["segment", str(plate), "--positions", "0,2", "--output-dir", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.glob("*.ome.tif")) == ["plate_P0_vSM.ome.tif", "plate_P2_vSM.ome.tif"]
    logged = parse_log((out / "plate_P2_vSM.log").read_text())
    assert logged.params.positions == [0, 2]


def test_cli_positions_are_saved_and_read_by_config(tmp_path, standin, capsys):
    plate = _plate(tmp_path / "plate.ome.tif")
    saved = tmp_path / "run.yaml"
    assert main(["segment", str(plate), "--positions", "1-2", "--save-config", str(saved),
                 "--dry-run"]) == 0
    assert yaml.safe_load(saved.read_text())["positions"] == [1, 2]
    capsys.readouterr()
    assert main(["segment", str(plate), "--config", str(saved), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "[P1]" in lines[0] and "[P2]" in lines[1], lines


def test_cli_dry_run_shows_a_file_lacking_a_position_and_the_batch_goes_on(tmp_path, standin, capsys):
    big = _plate(tmp_path / "big.ome.tif")
    small = _plate(tmp_path / "small.ome.tif", names=("A1", "A2"))
    args = ["segment", str(big), str(small), "--positions", "2", "--output-dir", str(tmp_path / "out")]
    assert main([*args, "--dry-run"]) == 1  # a file would fail
    out = capsys.readouterr().out
    assert "big.ome.tif [P2]" in out
    assert f"cannot run: {small}: no position 2" in out, out
    line = next(t for t in out.splitlines() if "cannot run" in t)
    assert "(no output)" in line and "small_vSM" not in line  # a name it would never write (a review)
    assert main([*args, "-q"]) == 1  # the failing file does not stop the batch
    assert (tmp_path / "out" / "big_P2_vSM.ome.tif").is_file()
    assert f"{small}: no position 2" in capsys.readouterr().err


# --------------------------------------------------------------------------- Python API
def test_api_positions_keyword(tmp_path):
    plate = _plate(tmp_path / "plate.ome.tif")
    from napari_batchseg.testing import threshold_segmenter

    seg = threshold_segmenter(SegmentationParams())
    summary = segment_files([plate], positions=["A2", 5], segmenter=seg)
    assert [(r.position, r.status) for r in summary.reports] == [(0, "failed")]
    assert "no position 5" in summary.reports[0].reason and "3 position(s)" in summary.reports[0].reason
    summary = segment_files([plate], positions=["A2"], segmenter=seg)
    assert [(r.position, r.status) for r in summary.reports] == [(1, "done")]


def test_outputs_made_with_chosen_positions_count_as_done_for_a_run_of_all(tmp_path, standin, capsys):
    """``positions`` chooses which outputs a run makes, not what a position's mask is: a later run of
    every position skips those already made as this run's own (not as made with other parameters)."""
    plate = _plate(tmp_path / "plate.ome.tif")
    out = tmp_path / "out"
    assert main(["segment", str(plate), "--positions", "1", "--output-dir", str(out), "-q"]) == 0
    from napari_batchseg.testing import threshold_segmenter

    summary = segment_files([plate], output_dir=str(out), segmenter=threshold_segmenter(SegmentationParams()))
    states = [(r.position, r.status, r.other_parameters) for r in summary.reports]
    assert states == [(0, "done", False), (1, "skipped", False), (2, "done", False)], summary.reports


# --------------------------------------------------------------------------- end frame past the last
def test_cli_says_in_one_line_when_the_end_frame_is_past_a_files_last_frame(tmp_path, standin, capsys):
    short = _plate(tmp_path / "short.ome.tif", names=("A1",), frames=2)
    long_ = _plate(tmp_path / "long.ome.tif", names=("A1",), frames=4)
    assert main(["segment", str(short), str(long_), "--end-frame", "3",
                 "--output-dir", str(tmp_path / "out"), "-q"]) == 0  # not an error
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "end frame" in line]
    assert len(said) == 1, err  # the long file reaches frame 3: nothing to say about it
    assert str(short) in said[0] and "end frame 3" in said[0] and "last frame 1" in said[0], said
    assert main(["segment", str(short), "--end-frame", "3", "--dry-run"]) == 0  # the dry run says it too
    assert "end frame 3 is past its last frame 1" in capsys.readouterr().err


def test_api_notes_the_end_frame_past_a_files_last_frame(tmp_path):
    from napari_batchseg.testing import threshold_segmenter

    short = _plate(tmp_path / "short.ome.tif", names=("A1",), frames=2)
    summary = segment_files([short], end_frame=9, segmenter=threshold_segmenter(SegmentationParams()))
    assert summary.ok and summary.reports[0].n_frames == 2
    notes = [n for n in summary.notes if "end frame" in n]
    assert len(notes) == 1 and str(short) in notes[0] and "last frame 1" in notes[0], summary.notes


def test_a_file_of_many_positions_is_listed_short():
    from pathlib import Path

    from napari_batchseg.errors import InputError
    from napari_batchseg.io.sources import SourceInfo
    from napari_batchseg.runnable import select_positions

    info = SourceInfo(Path("/data/plate.nd2"), {"P": 96, "Y": 8, "X": 8}, np.dtype(np.uint16), [])
    assert select_positions(info, None) == list(range(96))
    assert select_positions(info, [95, "p3", 3]) == [3, 95]  # default names P0.. (any case), each once
    with pytest.raises(InputError) as caught:
        select_positions(info, [96, 200])
    text = str(caught.value)
    assert text.startswith("/data/plate.nd2: no position 96, 200; the file has 96 position(s): 0 (P0), ")
    assert ", ..., 95 (P95)" in text and "(P50)" not in text, text


def test_groups_of_one_positions_value_say_their_one_position_files_in_one_note(tmp_path):
    """A review: a run of several groups (the dock's per-file settings) said the one-position note once
    per group, each with its own count; now once per ``positions`` value, each file counted once."""
    from napari_batchseg import events as ev
    from napari_batchseg.runners import RunGroup, RunOptions, execute
    from napari_batchseg.testing import threshold_segmenter

    plate = _plate(tmp_path / "plate.ome.tif")
    s0, s1 = (_plate(tmp_path / f"single{k}.ome.tif", names=("S",)) for k in range(2))
    base = SegmentationParams(positions="1", output_dir=str(tmp_path / "out"))
    groups = [RunGroup([plate, s0], base), RunGroup([s1], base.replace(diameter=12.0)),
              RunGroup([s0], base.replace(suffix="other", positions="0,2"))]
    events = list(execute(groups, RunOptions(segmenter_factory=threshold_segmenter)))
    notes = next(e for e in events if isinstance(e, ev.Planned)).notes
    assert [n for n in notes if "one position" in n] == [
        "positions 1 apply to files with several positions; 2 file(s) with one position run whole",
        "positions 0, 2 apply to files with several positions; 1 file(s) with one position run whole"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ome.tif")) == [
        "plate_P1_vSM.ome.tif", "single0_vSM-other.ome.tif", "single0_vSM.ome.tif", "single1_vSM.ome.tif"]
