import numpy as np
import pytest

from napari_batchseg import corrections as cx
from napari_batchseg.errors import InputError
from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.provenance import HISTORY_MARK


def _frame() -> np.ndarray:
    a = np.zeros((10, 12), np.uint16)
    a[0:3, 0:3] = 1  # touches the border, 9 px
    a[4:6, 4:6] = 2  # 4 px
    a[4:8, 7:10] = 5  # 12 px
    a[8, 2] = 7  # 1 px
    return a


def test_remove_small_2d_and_input_untouched():
    a = _frame()
    before = a.copy()
    out = cx.remove_small(a, 5)
    assert set(np.unique(out)) == {0, 1, 5}
    np.testing.assert_array_equal(a, before)
    assert out.dtype == a.dtype
    np.testing.assert_array_equal(cx.remove_small(a, 0), a)


def test_remove_touching_border():
    out = cx.remove_touching_border(_frame())
    assert set(np.unique(out)) == {0, 2, 5, 7}


def test_relabel_sequential_per_frame():
    stack = np.stack([_frame(), _frame()])
    out = cx.relabel_sequential(stack, frames=[1])
    np.testing.assert_array_equal(out[0], stack[0])
    assert set(np.unique(out[1])) == {0, 1, 2, 3, 4}
    assert (out[1] > 0).sum() == (stack[1] > 0).sum()


def test_merge_and_delete():
    a = _frame()
    merged = cx.merge_labels(a, 2, 5)
    assert 5 not in merged and (merged == 2).sum() == 16
    # walk: merging into a label that is not there renumbered label 5 and called it a merge
    with pytest.raises(ValueError, match="label 9 is not in the mask: nothing to merge label 5 into"):
        cx.merge_labels(a, 9, 5)
    movie = np.stack([a, np.where(a == 2, 0, a)])
    with pytest.raises(ValueError, match="label 2 is not in the frame"):
        cx.merge_labels(movie, 2, 5, frames=[1])
    assert (cx.merge_labels(movie, 2, 5, frames=None)[1] == 2).sum() == (a == 5).sum()  # in frame 0: merged
    deleted = cx.delete_label(a, [1, 7])
    assert set(np.unique(deleted)) == {0, 2, 5}
    with pytest.raises(ValueError):
        cx.delete_label(a, 0)


def test_frames_selection_and_range_check():
    stack = np.stack([_frame()] * 3)
    out = cx.delete_label(stack, 5, frames=1)
    assert 5 in out[0] and 5 not in out[1] and 5 in out[2]
    with pytest.raises(IndexError):
        cx.delete_label(stack, 5, frames=[3])
    with pytest.raises(ValueError):
        cx.remove_small(np.zeros((2, 2, 2, 2, 2), np.uint16), 3)  # (T, Z, Y, X) is a volume stack: 5D is not
    with pytest.raises(ValueError):
        cx.remove_small(np.zeros((2, 2), np.float32), 3)


def test_describe_changes():
    stack = np.stack([_frame()] * 3)
    new = stack.copy()
    new[2] = cx.merge_labels(new[2], 2, 5)  # 1 id changes (5 disappears; 2 grows) -> ids 2 and 5
    new[0, 9, 11] = 9  # a new object drawn
    s = cx.describe_changes(stack, new)
    assert s.frames == [0, 2]
    assert s.labels_per_frame == {0: 1, 2: 2}
    assert s.n_labels == 3
    assert "frame(s) 0, 2 edited" in s.describe()
    assert cx.describe_changes(stack, stack).describe() == "no changes"


def test_save_corrections_roundtrip_and_log(tmp_path):
    path = tmp_path / "a_BF_vSM.ome.tif"
    stack = np.stack([_frame()] * 4)
    log = "2024-01-01 00:00:00.000 | segmentation | INFO | first run\n"
    history = f"--- {HISTORY_MARK} ---\n2023 | projection | INFO | old\n"
    write_mask(path, stack, PixelSize(0.5, 0.5, None), log + history)
    (tmp_path / "a_BF_vSM.log").write_text(log + history)

    edited = stack.copy()
    edited[1:3] = cx.remove_touching_border(edited[1:3])
    summary = cx.save_corrections(path, edited, note="border cleanup")
    assert summary.frames == [1, 2] and summary.n_labels == 2
    back = read_mask(path)
    np.testing.assert_array_equal(back.labels, edited)
    assert back.pixel_size.x == 0.5
    text = back.log_text
    assert text.startswith(log.strip())
    own, hist = text.split(HISTORY_MARK)
    assert "correction | INFO | manual correction saved: frame(s) 1-2 edited; 2 label(s) changed" in own
    assert "border cleanup" in own
    assert "projection | INFO | old" in hist
    assert (tmp_path / "a_BF_vSM.log").read_text() == text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    # a second correction keeps the first record
    again = cx.save_corrections(path, cx.delete_label(edited, 5, frames=0))
    assert again.frames == [0]
    text2 = read_mask(path).log_text
    assert text2.count("manual correction saved") == 2


def test_a_correction_of_later_frames_names_their_input_frames(tmp_path):
    """A user walk: the correction record said "frame(s) 2 edited" (the mask's index) where the tracks
    and tables of a result of frames 3-9 say frame 5; it names both, and training still reads 2."""
    from napari_batchseg.training import corrected_frames

    path = tmp_path / "tl_vSM.ome.tif"
    stack = np.stack([_frame()] * 7)
    log = ("2026-12-06 02:00:24.537 | segmentation | INFO | frames: 3-9 (7 of 30)\n"
           "2026-12-06 02:00:24.600 | segmentation | INFO | done\n")
    write_mask(path, stack, PixelSize(0.5, 0.5, None), log)
    edited = stack.copy()
    edited[2] = cx.delete_label(edited[2], 5)
    cx.save_corrections(path, edited, write_log_file=False)
    text = read_mask(path).log_text
    said = "manual correction saved: frame(s) 2 edited; 1 label(s) changed (frame 2: 1); input frame(s) 5"
    assert said in text
    assert corrected_frames(text) == [2]


def test_save_corrections_single_frame_2d_and_no_change(tmp_path):
    path = tmp_path / "b_vSM.ome.tif"
    write_mask(path, _frame(), log_text="run\n")
    mtime = path.stat().st_mtime_ns
    s = cx.save_corrections(path, _frame())
    assert not s.changed and s.path is None and path.stat().st_mtime_ns == mtime
    s = cx.save_corrections(path, cx.delete_label(_frame(), 7).astype(np.int32))
    assert s.frames == [0] and s.path == path
    assert read_mask(path).labels.shape == (1, 10, 12)


def test_save_corrections_shape_mismatch(tmp_path):
    path = tmp_path / "c_vSM.ome.tif"
    write_mask(path, np.stack([_frame()] * 2))
    with pytest.raises(InputError, match="shape"):
        cx.save_corrections(path, _frame())


def test_insert_records_without_history():
    assert cx.insert_records("", "x") == "x\n"
    assert cx.insert_records("a\n", "x") == "a\nx\n"


def test_save_corrections_keeps_a_volume_mask_a_volume(tmp_path):
    """A corrected (T, Z, Y, X) layer of a --z-mode 3d/stitch run is saved over its volume mask."""
    labels = np.zeros((2, 3, 12, 14), np.uint16)
    labels[0, 0:2, 2:5, 2:5] = 1
    labels[1, 1:3, 6:9, 6:10] = 2
    path = write_mask(tmp_path / "v_vSM.ome.tif", labels, PixelSize(x=0.5, y=0.5, z=2.0), "run log\n",
                      volume=True)
    corrected = labels.copy()
    corrected[1, 2] = 0  # erase object 2 from the last slice of time point 1
    summary = cx.save_corrections(path, corrected)
    assert summary.frames == [1] and summary.labels_per_frame == {1: 1}
    back = read_mask(path)
    assert back.is_volume and back.labels.shape == (2, 3, 12, 14)
    np.testing.assert_array_equal(back.labels, corrected)
    assert back.pixel_size.z == pytest.approx(2.0) and back.pixel_size.x == pytest.approx(0.5)
    assert "run log" in back.log_text and "frame(s) 1 edited" in back.log_text
    with pytest.raises(InputError, match="shape"):
        cx.save_corrections(path, corrected[:, :2])
    with pytest.raises(ValueError, match="volume labels must be"):
        cx.save_corrections(path, corrected[0, 0])


def test_save_corrections_of_a_one_time_point_volume_takes_zyx(tmp_path):
    labels = np.zeros((1, 2, 8, 8), np.uint16)
    labels[0, :, 2:5, 2:5] = 3
    path = write_mask(tmp_path / "w_vSM.ome.tif", labels, volume=True)
    summary = cx.save_corrections(path, np.zeros((2, 8, 8), np.uint16))
    assert summary.frames == [0] and read_mask(path).labels.max() == 0 and read_mask(path).is_volume


def test_fixes_on_a_tzyx_volume_work_per_time_point_in_3d():
    vol = np.zeros((2, 4, 10, 10), np.uint16)
    vol[0, 1:3, 3:6, 3:6] = 1  # 18 voxels, inside
    vol[0, 2, 8, 8] = 2  # 1 voxel
    vol[1, 0:2, 0:3, 4:7] = 3  # touches the y = 0 border
    vol[1, 1:3, 5:8, 5:8] = 4  # inside (z 1-2 of 0-3)
    small = cx.remove_small(vol, 2)
    assert set(np.unique(small[0])) == {0, 1} and np.array_equal(small[1], vol[1])
    border = cx.remove_touching_border(vol)
    assert set(np.unique(border[1])) == {0, 4} and set(np.unique(border[0])) == {0, 1, 2}
    merged = cx.merge_labels(vol, 1, 2, frames=[0])
    assert set(np.unique(merged[0])) == {0, 1} and np.array_equal(merged[1], vol[1])
    assert set(np.unique(cx.relabel_sequential(vol)[1])) == {0, 1, 2}
