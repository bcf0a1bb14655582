from napari_batchseg.discovery import FileFilter, collect_files


def _touch(folder, *names):
    for n in names:
        p = folder / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_folder_filtering_and_explicit_files(tmp_path):
    _touch(tmp_path, "a_BF.nd2", "b_BF.ome.tiff", "c_WL520.tif", "d_BF.png", "e_BF_vSM.ome.tif",
           ".hidden_BF.tif", "sub/f_BF.tif", "g_BF.TIF")
    flt = FileFilter(contains=["_BF"])
    names = [p.name for p in collect_files([tmp_path], flt)]
    assert names == ["a_BF.nd2", "b_BF.ome.tiff", "g_BF.TIF"]
    rec = [p.name for p in collect_files([tmp_path], flt, recursive=True)]
    assert "f_BF.tif" in rec
    # explicit files are always taken, even when filters would reject them
    explicit = collect_files([tmp_path / "c_WL520.tif", tmp_path / "missing.tif"], flt)
    assert [p.name for p in explicit] == ["c_WL520.tif", "missing.tif"]


def test_not_contains_and_extensions(tmp_path):
    _touch(tmp_path, "a_BF.nd2", "b_BF_bad.tif", "c_BF.tif")
    flt = FileFilter(contains=["_BF"], not_contains=["bad"], extensions=["tif"])
    assert [p.name for p in collect_files([tmp_path], flt)] == ["c_BF.tif"]


def test_natural_sort_and_dedup(tmp_path):
    _touch(tmp_path, "img10.tif", "img2.tif", "img1.tif")
    files = collect_files([tmp_path, tmp_path / "img2.tif"])
    assert [p.name for p in files] == ["img1.tif", "img2.tif", "img10.tif"]


def test_outputs_are_recognised_by_their_full_name_and_named_in_notes(tmp_path):
    """"vSMC" (vascular smooth muscle cells) contains "_vSM" but is no output; real outputs are named."""
    _touch(tmp_path, "ctrl_vSMC_cells.tif", "x_vSMx.tif", "a.tif", "a_vSM.ome.tif", "a_vSM.log",
           "a_vSM-v2.ome.tif", "b_P1_vSM_flows.tif", "b.tif", "c_vSM_flows.tif", "a_vSM_cellprob.tif")
    notes: list[str] = []
    names = [p.name for p in collect_files([tmp_path], notes=notes)]
    # c_vSM_flows.tif has neither mask nor log beside it: an input that merely looks like a debug stack
    assert names == ["a.tif", "b.tif", "b_P1_vSM_flows.tif", "c_vSM_flows.tif", "ctrl_vSMC_cells.tif",
                     "x_vSMx.tif"]
    assert len(notes) == 1
    assert "a_vSM.ome.tif" in notes[0] and "a_vSM-v2.ome.tif" in notes[0] and "a_vSM_cellprob.tif" in notes[0]
    assert "vSMC" not in notes[0]


def test_linked_inputs_keep_the_path_the_user_added(tmp_path):
    """QA: a folder of links to files in a raw-data archive got its outputs written into the archive.

    Inputs were resolved (links followed); the outputs of "input folder" went beside the targets.
    """
    import tifffile

    from napari_batchseg.engine import plan
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.view.file_list import find_inputs_split

    archive, mine = tmp_path / "archive", tmp_path / "mine"
    archive.mkdir()
    mine.mkdir()
    tifffile.imwrite(archive / "a_BF.tif", __import__("numpy").zeros((8, 8), "uint16"))
    (mine / "a_BF.tif").symlink_to(archive / "a_BF.tif")
    (mine / "b_BF.tif").symlink_to(archive / "a_BF.tif")
    for found in (collect_files([mine]), collect_files([mine / "a_BF.tif"]),
                  find_inputs_split([mine], False)[0], find_inputs_split([mine / "a_BF.tif"], False)[1]):
        assert found and all(p.parent == mine for p in found), found
    tasks = plan(collect_files([mine]), SegmentationParams()).tasks
    assert [t.names.mask for t in tasks] == [mine / "a_BF_vSM.ome.tif", mine / "b_BF_vSM.ome.tif"]
