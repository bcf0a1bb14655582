"""The Files tab's model without Qt (napari_batchseg.view.file_list / file_info): real files, no display."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import tifffile

from napari_batchseg.params import SegmentationParams
from napari_batchseg.view import file_info
from napari_batchseg.view.file_info import (
    InfoStore,
    describe_info,
    is_ambiguous,
    read_file_info,
    read_info_safe,
)
from napari_batchseg.view.file_list import (
    AMBIGUOUS_AXES,
    SEVERAL_DATASETS,
    FileChoice,
    FileSetup,
    choice_values,
    count_text,
    edited_choice,
    file_filter_of,
    find_inputs_split,
    frame_range,
    new_inputs,
    words,
)


def _files(tmp_path, dsb2018):
    nuclei = tmp_path / "nuclei.tif"
    nuclei.write_bytes(dsb2018[0].read_bytes())  # one channel, one frame
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.zeros((5, 32, 32), np.uint16), metadata=None)  # 'IYX': ambiguous
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    two = tmp_path / "two.h5"
    with h5py.File(two, "w") as h5:
        h5["raw"] = np.zeros((40, 50), np.uint16)
        h5["crop/small"] = np.zeros((20, 30), np.uint16)
    return nuclei, stack, broken, two


def test_file_info_reads_metadata_and_hdf5_datasets_in_one_go(tmp_path, dsb2018):
    nuclei, stack, broken, two = _files(tmp_path, dsb2018)
    info = read_file_info(nuclei)
    assert info.datasets == () and info.info.sizes["Y"] > 1  # type: ignore[union-attr]
    assert "channels: 0: " in describe_info(info.info) and describe_info(None) == "reading metadata…"
    amb = read_file_info(stack)
    assert isinstance(amb.info, str) and is_ambiguous(amb.info)
    assert not isinstance(read_info_safe(stack, "ZYX"), str)  # readable once its axes are given
    bad = read_file_info(broken)
    assert isinstance(bad.info, str) and not is_ambiguous(bad.info)
    assert describe_info(bad.info).startswith("cannot read: ")
    assert read_file_info(two).datasets == ("/crop/small", "/raw")


def test_problems_say_why_a_file_cannot_run(tmp_path, dsb2018):
    nuclei, stack, broken, two = _files(tmp_path, dsb2018)
    read = {p: read_file_info(p) for p in (nuclei, stack, broken, two)}
    setup = FileSetup()

    def why(p):
        return setup.problem(p, read[p].info, len(read[p].datasets))

    assert why(nuclei) == "" and setup.problem(nuclei, None) == ""  # unknown yet: not flagged
    assert why(broken).startswith("unreadable: ")
    assert why(stack) == AMBIGUOUS_AXES
    setup.default_axes = "TYX"
    assert why(stack) == ""
    setup.default_axes = None
    setup.axes[stack] = "ZYX"
    assert why(stack) == "" and setup.axes_for(stack) == "ZYX"
    assert isinstance(read[two].info, str)  # several datasets and none chosen: the reader refuses it
    assert why(two) == SEVERAL_DATASETS
    setup.datasets[two] = "/raw"
    assert why(two) == ""
    setup.channel = 1
    assert "no channel 1" in why(nuclei)
    setup.set_choice(nuclei, FileChoice(channel=0))  # its own channel
    assert why(nuclei) == ""
    setup.start_frame = 3
    assert why(nuclei) != ""  # one frame only
    setup.set_choice(nuclei, FileChoice(channel=0, frames=(0, -1)))
    assert why(nuclei) == ""
    setup.set_choice(nuclei, FileChoice())
    assert nuclei not in setup.choices  # an empty choice is no choice
    assert setup.mark(broken, read[broken].info, why(broken)) == "broken.tif  ⚠ unreadable"
    assert setup.mark(stack, read[stack].info, "") == "stack.tif  (axes: ZYX)"
    setup.axes.clear()
    setup.default_axes = "TYX"
    assert setup.mark(stack, read[stack].info, "") == "stack.tif  (axes: TYX, from the parameters)"


def test_a_long_reason_is_listed_short_and_shown_whole_in_the_info_panel(tmp_path, dsb2018):
    """A walk: the list's middle elision cut long reasons in the middle; the tooltip alone had them."""
    from napari_batchseg.view.file_info import info_panel_text, short_reason

    nuclei, stack, broken, _two = _files(tmp_path, dsb2018)
    setup = FileSetup(z_mode="stitch")
    info = read_file_info(nuclei).info
    why = setup.problem(nuclei, info)
    assert len(why) > 40 and "(" in why, why  # Z: 2D + stitch on a flat image, with its advice
    assert setup.mark(nuclei, info, why) == "nuclei.tif  ⚠ Z: 2D + stitch needs a Z stack"
    assert short_reason("no frame 40 (the file has 1 frame(s))") == "no frame 40 (the file has 1 frame(s))"
    panel = info_panel_text(nuclei, info, why).splitlines()
    assert panel[:2] == ["nuclei.tif", f"⚠ {why}"] and panel[2].startswith("format: ")
    unreadable = read_file_info(broken).info
    assert isinstance(unreadable, str)  # its reason is the metadata line, said once
    lines = info_panel_text(broken, unreadable, f"unreadable: {unreadable}").splitlines()
    assert [x[:12] for x in lines] == ["broken.tif", "cannot read:"]
    assert info_panel_text(stack, None, "").splitlines() == ["stack.tif", "reading metadata…"]


def test_run_groups_apply_each_files_own_settings_in_list_order(tmp_path):
    a, b, c, d = (tmp_path / f"{n}.tif" for n in "abcd")
    setup = FileSetup(default_axes="TYX")
    setup.axes[b] = "ZYX"
    setup.datasets[c] = "/raw"
    setup.set_choice(d, FileChoice(channel=1, frames=(2, -1)))
    params = SegmentationParams(start_frame=1)
    groups = setup.run_groups([a, b, c, d], params)
    assert [fs for fs, _ in groups] == [[a], [b], [c], [d]]
    pa, pb, pc, pd = (p for _, p in groups)
    assert (pa.axes, pb.axes, pc.dataset, pc.axes) == ("TYX", "ZYX", "/raw", "TYX")
    assert (pd.channel, pd.start_frame, pd.end_frame) == (1, 2, None)
    assert pa.start_frame == 1
    assert setup.axes_groups([a, b, c]) == {"TYX": [a, c], "ZYX": [b]}
    setup.forget([c, d])
    assert not setup.datasets and not setup.choices and setup.axes == {b: "ZYX"}
    assert [fs for fs, _ in setup.run_groups([a, c, d], params)] == [[a, c, d]]


def test_count_words_frames_and_inputs(tmp_path, dsb2018):
    assert count_text(0, 0, []) == "no files: add files or folders, or drop them here"
    assert count_text(2, 3, []) == "2 of 3 file(s) pass the filters (1 hidden)"
    assert count_text(0, 2, ["x.txt: no"]).endswith(
        "nothing to run; change the Filters above\nnot added: x.txt: no")
    assert words(" _BF, ,x ") == ["_BF", "x"]
    assert frame_range((2, -1)) == (2, None) and frame_range((2, 5)) == (2, 5)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.tif").write_bytes(dsb2018[0].read_bytes())
    note = tmp_path / "note.txt"
    note.write_text("x")
    own = tmp_path / "a_vSM.ome.tif"
    own.write_bytes(dsb2018[0].read_bytes())
    single = tmp_path / "b.tif"
    single.write_bytes(dsb2018[0].read_bytes())
    in_folders, named, refused = find_inputs_split([folder, note, own, single, tmp_path / "gone.tif"], False)
    assert [p.name for p in in_folders] == ["a.tif"] and named == [single.resolve()]
    assert [r.split(":")[0] for r in refused] == ["note.txt", "a_vSM.ome.tif", "gone.tif"]


def test_hdf5_dataset_names_are_read_where_the_metadata_is(tmp_path, dsb2018, monkeypatch):
    """The dataset list is part of the worker's read (the widget's test checks it is not the GUI thread)."""
    *_, two = _files(tmp_path, dsb2018)
    calls = []
    real = file_info.image_dataset_names
    monkeypatch.setattr(file_info, "image_dataset_names",
                        lambda p: calls.append(threading.current_thread().name) or real(p))
    thread = threading.Thread(target=lambda: read_file_info(two), name="worker")
    thread.start()
    thread.join()
    assert calls == ["worker"]


def test_info_store_queues_each_file_once_and_keeps_what_workers_read(tmp_path, dsb2018):
    nuclei, stack, broken, two = _files(tmp_path, dsb2018)
    store = InfoStore()
    assert store.todo([nuclei, str(nuclei), two]) == [nuclei, two]  # each once, as Paths
    assert store.todo([nuclei, stack]) == [stack]  # queued already: not again
    assert store.get(nuclei) is None and store.datasets(two) == ()
    for path in (nuclei, stack, two):
        assert store.take(read_file_info(path)) == path
    assert store.todo([nuclei, stack, two]) == []  # known
    assert store.datasets(two) == ("/crop/small", "/raw")
    # an ambiguous file, an HDF5 file holding several images (no dataset chosen), one not read yet: none
    assert [i.path for i in store.readable([nuclei, stack, two, broken])] == [nuclei]
    key = (stack, "ZYX")
    assert store.axes_todo(key) and not store.axes_todo(key)
    assert store.take_axes((key, read_info_safe(stack, "ZYX"))) == stack
    assert not store.axes_todo(key) and not isinstance(store.with_axes[key], str)


def test_a_files_own_settings_round_trip_through_its_controls():
    assert choice_values(FileChoice()) == {"channel": None, "own_frames": False, "start": 0, "end": -1,
                                           "positions": ""}
    own = FileChoice(channel=1, frames=(2, 4))
    shown = choice_values(own)
    assert shown == {"channel": 1, "own_frames": True, "start": 2, "end": 4, "positions": ""}
    assert edited_choice(FileChoice(), shown) == own
    assert edited_choice(own, {**shown, "own_frames": False}) == FileChoice(channel=1)  # frames dropped


def test_new_inputs_are_the_unknown_found_paths_each_once_in_order(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.tif", "b.tif", "c.tif"))
    assert new_inputs([a], [b, a, c, b]) == [b, c]
    assert new_inputs([], []) == []


def test_the_axes_row_names_the_ambiguous_file_or_the_default(tmp_path):
    setup, stack = FileSetup(), tmp_path / "stack.tif"
    assert setup.axes_row(stack, True) == ("Axes of stack.tif", None)
    setup.axes[stack] = "ZYX"
    assert setup.axes_row(stack, True) == ("Axes of stack.tif", "ZYX")
    assert setup.axes_row(stack, False)[1] is None and "select a file" in setup.axes_row(None, False)[0]
    setup.default_axes = "TYX"
    assert setup.axes_row(None, False) == ("Ambiguous files: TYX (from the parameters)", None)


def test_the_filter_fields_make_a_file_filter(tmp_path):
    flt = file_filter_of({"contains": "_BF, DAPI", "not_contains": "", "extensions": ".tif, .nd2"})
    assert flt.contains == ["_BF", "DAPI"] and flt.not_contains == []
    assert list(flt.extensions) == [".tif", ".nd2"]
    assert flt.accepts(tmp_path / "a_BF_DAPI.tif") and not flt.accepts(tmp_path / "a_BF.tif")


def test_ask_says_whether_the_settings_tab_asks_changed():
    setup = FileSetup()
    assert not setup.ask(0, 0, "project")  # the defaults
    assert setup.ask([0, "GFP"], 2, "stitch")
    assert (setup.channel, setup.start_frame, setup.z_mode) == ([0, "GFP"], 2, "stitch")
    assert not setup.ask([0, "GFP"], 2, "stitch")
    assert setup.ask([0, "GFP"], 2, "3d")
