import numpy as np
import ome_types
import pytest
import tifffile

from napari_batchseg.errors import OutputError
from napari_batchseg.io.atomic import atomic_path, check_writable_dir
from napari_batchseg.io.masks import MaskWriter, label_dtype, read_embedded_log, read_mask, write_mask
from napari_batchseg.io.sources import PixelSize


def test_roundtrip_uint16_with_metadata(tmp_path):
    labels = np.random.default_rng(0).integers(0, 500, (4, 30, 40)).astype(np.int32)
    path = write_mask(tmp_path / "a_vSM.ome.tif", labels, PixelSize(0.65, 0.65, 2.0), "line 1\nµm & <ok>")
    m = read_mask(path)
    assert m.labels.dtype == np.uint16 and m.labels.shape == (4, 30, 40)
    np.testing.assert_array_equal(m.labels, labels)
    assert m.pixel_size == PixelSize(0.65, 0.65, 2.0)
    assert m.log_text == "line 1\nµm & <ok>"
    assert m.channel_name == "Segmentation mask"
    with tifffile.TiffFile(path) as tf:
        assert tf.is_ome and tf.series[0].axes == "TYX"
        ome = ome_types.from_xml(tf.ome_metadata)  # schema-valid
    assert ome.images[0].pixels.dimension_order.value == "XYZCT"
    assert read_embedded_log(path) == m.log_text


def test_more_than_65535_objects_use_uint32(tmp_path):
    labels = np.arange(300 * 300, dtype=np.uint32).reshape(1, 300, 300)
    m = read_mask(write_mask(tmp_path / "big.ome.tif", labels))
    assert m.labels.dtype == np.uint32
    assert int(m.labels.max()) == 300 * 300 - 1
    assert label_dtype(65535) == np.uint16 and label_dtype(65536) == np.uint32
    with pytest.raises(OutputError):
        label_dtype(2**33)


def test_abort_leaves_nothing(tmp_path):
    w = MaskWriter(tmp_path / "x_vSM.ome.tif", 3, (8, 8))
    w.write_frame(0, np.ones((8, 8), np.uint16))
    buffer = w._buffer_path
    assert buffer.exists()
    w.abort()
    assert not buffer.exists()
    assert list(tmp_path.iterdir()) == []


def test_incomplete_commit_refused(tmp_path):
    w = MaskWriter(tmp_path / "x_vSM.ome.tif", 2, (8, 8))
    w.write_frame(0, np.ones((8, 8), np.uint16))
    with pytest.raises(OutputError, match="never written"):
        w.commit("log")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create output folder"):
        check_writable_dir(blocker / "sub")


def test_outputs_get_normal_file_permissions(tmp_path):
    import os
    import stat

    path = write_mask(tmp_path / "p_vSM.ome.tif", np.ones((1, 4, 4), np.uint16))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_foreign_comments_are_not_history(tmp_path):
    from napari_batchseg.io.masks import ome_xml

    xml = ome_xml(1, (4, 4), np.dtype(np.uint16), log_text="ours")
    xml = xml.replace("</StructuredAnnotations>",
                      '<CommentAnnotation ID="Annotation:9" Namespace="other/tool"><Value>theirs</Value>'
                      "</CommentAnnotation></StructuredAnnotations>")
    path = tmp_path / "f.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint16), description=xml, metadata=None)
    assert read_embedded_log(path) == "ours"


def test_time_increment_and_z_step_written_and_read_back(tmp_path):
    labels = np.zeros((3, 8, 8), np.uint16)
    path = write_mask(tmp_path / "t_vSM.ome.tif", labels, PixelSize(0.325, 0.325, 2.0, 4.54), "log")
    with tifffile.TiffFile(path) as tf:
        pixels = ome_types.from_xml(tf.ome_metadata).images[0].pixels  # schema-valid
    assert pixels.time_increment == 4.54 and pixels.time_increment_unit.value == "s"
    assert pixels.physical_size_z == 2.0 and pixels.physical_size_z_unit.value == "µm"
    assert read_mask(path).pixel_size == PixelSize(0.325, 0.325, 2.0, 4.54)


def test_time_increment_of_inputs_in_seconds(tmp_path):
    """OME TimeIncrement in any unit and ImageJ's finterval/tunit become seconds."""
    from napari_batchseg.io.reader import read_info

    stack = np.zeros((4, 8, 8), np.uint16)
    ome = tmp_path / "ms.ome.tif"
    tifffile.imwrite(ome, stack, metadata={"axes": "TYX", "TimeIncrement": 4540.0, "TimeIncrementUnit": "ms"})
    assert read_info(ome).pixel_size.t == pytest.approx(4.54)
    ij = tmp_path / "ij.tif"
    tifffile.imwrite(ij, stack, imagej=True, metadata={"axes": "TYX", "finterval": 2.0, "tunit": "min"})
    assert read_info(ij).pixel_size.t == pytest.approx(120.0)
    plain = tmp_path / "plain.ome.tif"
    tifffile.imwrite(plain, stack, metadata={"axes": "TYX"})
    assert read_info(plain).pixel_size.t is None  # unknown stays unknown


def test_the_nd2_time_step_reaches_its_mask():
    """The real ND2 movie (a time loop run "as fast as possible": set period 0) -> its mask's OME."""
    from _downstream import ND2, segmented
    from _timelapse import nd2_time_increment
    from napari_batchseg.io.reader import read_info

    expected = nd2_time_increment()  # mean of the recorded frame times, by the nd2 library itself
    assert expected == pytest.approx(0.50016, abs=1e-5)
    assert read_info(ND2).pixel_size.t == pytest.approx(expected, rel=1e-6)
    mask = segmented("nd2")
    assert read_mask(mask).pixel_size.t == pytest.approx(expected, rel=1e-6)
    with tifffile.TiffFile(mask) as tf:
        pixels = ome_types.from_xml(tf.ome_metadata).images[0].pixels
    assert pixels.time_increment == pytest.approx(expected, rel=1e-6)
    assert pixels.time_increment_unit.value == "s"


def test_info_and_log_show_the_time_step(capsys):
    from _downstream import segmented
    from _timelapse import nd2_time_increment
    from napari_batchseg.cli import main

    assert main(["info", str(segmented("nd2"))]) == 0  # the mask itself carries it
    out = capsys.readouterr().out
    step = float(out.split("time step (s): ")[1].split()[0])
    assert step == pytest.approx(nd2_time_increment(), rel=1e-9)
    log = read_embedded_log(segmented("nd2"))
    assert f"time step (s): {step!r}; " in log  # the run log records the input's step
