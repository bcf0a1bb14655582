"""npe2 manifest, reader (masks and input files), writer and sample data."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask, write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.view.layer_files import is_mask_file, mask_path_for, napari_get_reader, write_labels


def test_manifest_contributions():
    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-batchseg")
    contrib = manifest.contributions
    assert [w.display_name for w in contrib.widgets] == [
        "Batch segmentation", "Measure and export", "Train", "Track cells", "Re-threshold"
    ]
    assert contrib.writers[0].layer_types == ["labels"]
    assert contrib.writers[0].filename_extensions == [".ome.tif"]
    assert "*.nd2" in contrib.readers[0].filename_patterns
    assert contrib.sample_data[0].key == "nuclei"
    for cmd in contrib.commands:  # every command resolves to a real object
        assert callable(cmd.exec) or cmd.python_name
        module, _, attr = cmd.python_name.partition(":")
        assert getattr(__import__(module, fromlist=[attr]), attr)


def test_mask_names():
    assert is_mask_file("a_BF_vSM.ome.tif") and is_mask_file("a_vSM-run1.ome.tif")
    assert not is_mask_file("a_BF.ome.tif") and not is_mask_file("a_vSM.tif")
    assert mask_path_for("/x/a_BF.ome.tif").name == "a_BF_vSM.ome.tif"
    assert mask_path_for("/x/a_BF_vSM-s.ome.tif").name == "a_BF_vSM-s.ome.tif"
    assert mask_path_for("/x/a.tif").name == "a_vSM.ome.tif"


def test_reader_opens_masks_as_labels_with_scale(tmp_path):
    stack = np.random.default_rng(0).integers(0, 70000, (3, 20, 30)).astype(np.uint32)
    path = tmp_path / "movie_BF_vSM.ome.tif"
    write_mask(path, stack, PixelSize(0.25, 0.5, None), "a log\n")
    reader = napari_get_reader(str(path))
    assert reader is not None
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "labels"
    np.testing.assert_array_equal(data, stack)
    assert kwargs["scale"] == (1.0, 0.5, 0.25)
    assert kwargs["name"] == "movie_BF_vSM"
    assert kwargs["metadata"]["batchseg"]["mask_path"] == str(path.resolve())
    single = tmp_path / "one_vSM.ome.tif"
    write_mask(single, stack[0].astype(np.uint16))
    [(data, kwargs, _)] = napari_get_reader(str(single))(str(single))
    assert data.shape == (20, 30) and kwargs["scale"] == (1.0, 1.0)
    assert napari_get_reader(str(tmp_path / "x.png")) is None
    assert napari_get_reader(str(tmp_path)) is None


def test_reader_opens_inputs_lazily(example_files):
    import nd2

    yeast = str(example_files["yeast"])
    layers = napari_get_reader(yeast)(yeast)
    stem = example_files["yeast"].name[: -len(".nd2")]
    assert [kw["name"] for _, kw, _ in layers] == [f"{stem} [DIC]", f"{stem} [FITC BP]"]
    data, kw, kind = layers[1]
    assert kind == "image" and data.shape == (256, 256) and kw["blending"] == "additive"
    assert kw["scale"] == pytest.approx((0.10833, 0.10833), rel=1e-4)
    np.testing.assert_array_equal(np.asarray(data), nd2.imread(yeast)[1])
    timelapse = str(example_files["timelapse"])
    [(tl, kw, _)] = napari_get_reader(timelapse)(timelapse)
    assert tl.shape == (53, 64, 64) and kw["axis_labels"] == ("T", "Y", "X")
    np.testing.assert_array_equal(tl[7], nd2.imread(timelapse)[7])
    zstack = str(example_files["zstack"])
    [(z, kw, _)] = napari_get_reader(zstack)(zstack)
    assert z.shape == (11, 128, 128) and kw["scale"][0] == 6.0
    nuclei = str(example_files["nuclei"])
    [(img, kw, _)] = napari_get_reader(nuclei)(nuclei)
    assert img.shape == (512, 512) and tuple(kw["units"]) == ("pixel", "pixel")


def test_writer_roundtrip_through_the_viewer(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    labels = np.zeros((2, 16, 16), np.int32)
    labels[0, 2:6, 2:6] = 3
    labels[1, 8:12, 1:4] = 70000
    layer = viewer.add_labels(labels, name="edited", scale=(1, 0.4, 0.4))
    meta = {"name": layer.name, "scale": layer.scale, "metadata": layer.metadata}
    written = write_labels(str(tmp_path / "cells.ome.tif"), layer.data, meta)
    assert written == [str(tmp_path / "cells_vSM.ome.tif")]
    back = read_mask(written[0])
    np.testing.assert_array_equal(back.labels, labels)
    assert back.labels.dtype == np.uint32
    assert back.pixel_size.x == pytest.approx(0.4)
    assert "saved from napari" in back.log_text
    assert (tmp_path / "cells_vSM.log").read_text() == back.log_text
    # napari's own save path finds this writer for labels layers with the .ome.tif extension
    viewer.layers.selection = {layer}
    out = viewer.layers.save(str(tmp_path / "again_vSM.ome.tif"), selected=True, plugin="napari-batchseg")
    assert [str(p) for p in out] == [str(tmp_path / "again_vSM.ome.tif")]
    # and the reader opens it identically
    viewer.open(str(tmp_path / "again_vSM.ome.tif"), plugin="napari-batchseg")
    np.testing.assert_array_equal(viewer.layers["again_vSM"].data, labels)
    # (T, Z, Y, X) is a volume mask since issue 23 (777730c); five axes are refused, naming the shapes
    with pytest.raises(ValueError, match=r"\(Y, X\), \(T, Y, X\) or \(T, Z, Y, X\)"):
        write_labels(str(tmp_path / "bad.ome.tif"), np.zeros((2, 2, 2, 2, 2), np.uint8), {})


def test_sample_data(make_napari_viewer, dsb2018):
    from napari_batchseg.view.layer_files import nuclei_sample

    [(img, kw, kind), (gt, kw2, kind2)] = nuclei_sample()
    assert kind == "image" and img.shape == (512, 512) and kw["name"] == "nuclei_BF"
    assert kind2 == "labels" and gt.max() > 10
    np.testing.assert_array_equal(img, tifffile.imread(dsb2018[0]))  # shipped copy = stardist's image
    viewer = make_napari_viewer()
    viewer.open_sample("napari-batchseg", "nuclei")
    assert "nuclei_BF" in viewer.layers


def test_mask_of_a_frame_range_sits_at_its_time_offset(make_napari_viewer, example_files, tmp_path):
    """A mask of frames 3-5 reopened beside its input lies over input frames 3-5, not 0-2."""
    import shutil

    from napari_batchseg import segment_files
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.testing import threshold_segmenter

    movie = tmp_path / "movie_BF.nd2"
    shutil.copy(example_files["timelapse"], movie)
    segment_files([movie], SegmentationParams(start_frame=3, end_frame=5),
                  segmenter=threshold_segmenter(SegmentationParams()))
    mask_path = tmp_path / "movie_BF_vSM.ome.tif"
    [(data, kwargs, kind)] = napari_get_reader(str(mask_path))(str(mask_path))
    from _timelapse import nd2_time_increment

    dt = nd2_time_increment()  # T is in seconds: the movie's time step
    assert kind == "labels" and data.shape[0] == 3 and kwargs["translate"][0] == pytest.approx(3 * dt)
    viewer = make_napari_viewer()
    viewer.open(str(movie), plugin="napari-batchseg")
    viewer.open(str(mask_path), plugin="napari-batchseg")
    mask_layer = viewer.layers["movie_BF_vSM"]
    assert mask_layer.world_to_data((4 * dt, 0, 0))[0] == pytest.approx(1)  # input frame 4 = mask frame 1
    # one frame at an offset stays a time series (a single frame 0 still opens as 2D, see above)
    single = tmp_path / "one_BF.nd2"
    shutil.copy(example_files["timelapse"], single)
    segment_files([single], SegmentationParams(start_frame=7, end_frame=7),
                  segmenter=threshold_segmenter(SegmentationParams()))
    one_path = str(tmp_path / "one_BF_vSM.ome.tif")
    [(one, kw, _)] = napari_get_reader(one_path)(one_path)
    assert one.shape[0] == 1 and kw["translate"][0] == pytest.approx(7 * dt)


def test_reader_declines_formats_whose_plugin_is_not_installed(tmp_path, monkeypatch):
    czi, h5, lif = (tmp_path / "a.czi", tmp_path / "a.h5", tmp_path / "a.lif")
    for p in (czi, h5, lif):
        p.write_bytes(b"x")
    assert napari_get_reader(str(czi)) is not None  # bioio-czi is installed in this environment
    monkeypatch.setitem(sys.modules, "bioio_czi", None)  # what find_spec sees when it is not
    monkeypatch.setitem(sys.modules, "h5py", None)
    assert napari_get_reader(str(czi)) is None
    assert napari_get_reader(str(h5)) is None
    assert napari_get_reader([str(lif), str(czi)]) is None  # one unreadable path: not ours
    assert napari_get_reader(str(lif)) is not None
    assert napari_get_reader(str(tmp_path / "a.ome.tif")) is not None


def test_reader_opens_a_volume_mask_as_tzyx_with_z_scale(tmp_path):
    volumes = np.random.default_rng(1).integers(0, 9, (2, 4, 12, 16)).astype(np.uint16)
    path = tmp_path / "stack_vSM.ome.tif"
    write_mask(path, volumes, PixelSize(x=0.25, y=0.5, z=2.0, t=30.0), volume=True)
    [(data, kwargs, kind)] = napari_get_reader(str(path))(str(path))
    assert kind == "labels"
    np.testing.assert_array_equal(data, volumes)
    assert kwargs["scale"] == (30.0, 2.0, 0.5, 0.25)
    assert kwargs["axis_labels"] == ("T", "Z", "Y", "X")
    assert tuple(kwargs["units"]) == ("second", "µm", "µm", "µm")
    assert kwargs["translate"] == (0.0, 0.0, 0.0, 0.0)
    one = tmp_path / "one_vSM.ome.tif"  # a single time point stays TZYX (Z is not mistaken for T)
    write_mask(one, volumes[0], PixelSize(z=3.0), volume=True)
    [(data, kwargs, _)] = napari_get_reader(str(one))(str(one))
    assert data.shape == (1, 4, 12, 16) and kwargs["scale"] == (1.0, 3.0, 1.0, 1.0)


def test_a_file_of_unknown_axes_is_left_to_napari(make_napari_viewer, ambiguous_qyx):
    """A user walk: File > Open of a plain page stack raised 'ambiguous axes ... (CLI: --axes TYX)',
    with nowhere to say the axes; the reader declines it and napari's own reader opens it."""
    path, data = ambiguous_qyx
    assert napari_get_reader(str(path)) is None
    viewer = make_napari_viewer()
    layers = viewer.open(str(path))
    assert len(layers) == 1 and np.array_equal(np.asarray(layers[0].data), data)
