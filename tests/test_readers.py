"""Lazy file readers: ND2 (real Nikon files), TIFF / OME-TIFF / ImageJ (real and synthetic), bad inputs."""

from __future__ import annotations

import itertools
import re
import shutil
import tracemalloc
import zlib

import nd2
import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import InputError
from napari_batchseg.io.nd2 import ND2Source
from napari_batchseg.io.reader import open_source, read_info, stem_of, supported_extensions
from napari_batchseg.io.sources import CANONICAL_AXES, ImageSource
from napari_batchseg.io.tiff import TiffSource

#: The ND2 files shipped with arcadia-microscopy-tools 0.5.0 (see the ``arcadia_nd2`` fixture).
ARCADIA_ND2_NAMES = (
    "example-cerevisiae.nd2",
    "example-multichannel.nd2",
    "example-pbmc.nd2",
    "example-timelapse.nd2",
    "example-zstack.nd2",
)

# =========================================================================== helpers


def all_planes(info):
    s = info.sizes
    return itertools.product(range(s["P"]), range(s["T"]), range(s["C"]), range(s["Z"]))


def nd2_reference_slice(f: nd2.ND2File, p: int, t: int, c: int, z: int) -> tuple:
    """Index into ``f.asarray()`` for canonical plane (p, t, c, z) (single-component files)."""
    wanted = {"P": p, "T": t, "C": c, "Z": z}
    return tuple(wanted.get(ax, slice(None)) for ax in f.sizes)


# =========================================================================== ND2 (real files)


@pytest.mark.parametrize("name", ARCADIA_ND2_NAMES)
def test_nd2_metadata_matches_nd2_package(arcadia_nd2, name):
    path = arcadia_nd2[name]
    with open_source(path) as src, nd2.ND2File(path) as f:
        assert isinstance(src, ND2Source)
        info = src.info
        assert info.format == "nd2"
        assert set(info.sizes) == set(CANONICAL_AXES)
        n_comp = f.sizes.get("S", 1)
        for ax in "PTZYX":
            assert info.sizes[ax] == f.sizes.get(ax, 1), ax
        assert info.sizes["C"] == f.sizes.get("C", 1) * n_comp
        assert info.native_axes == "".join(f.sizes)
        assert np.dtype(info.dtype) == np.dtype(f.dtype)
        assert info.channel_names == [ch.channel.name for ch in f.metadata.channels]
        vx = f.voxel_size()
        calibrated = f.metadata.channels[0].volume.axesCalibrated
        assert info.pixel_size.x == pytest.approx(vx.x)
        assert info.pixel_size.y == pytest.approx(vx.y)
        # a Z spacing is reported only where the file marks Z as calibrated (i.e. real Z stacks)
        if calibrated[2]:
            assert info.pixel_size.z == pytest.approx(vx.z)
        else:
            assert info.pixel_size.z is None
        assert len(info.position_names) == info.sizes["P"]


def test_nd2_files_cover_channels_time_and_z(arcadia_nd2):
    """The five files exercise C, T and Z (guards against the data set changing under us)."""
    infos = {name: read_info(path) for name, path in arcadia_nd2.items()}
    assert infos["example-timelapse.nd2"].sizes["T"] > 1
    assert infos["example-zstack.nd2"].sizes["Z"] > 1
    assert infos["example-zstack.nd2"].pixel_size.z is not None
    assert infos["example-multichannel.nd2"].sizes["C"] > 1


@pytest.mark.parametrize("name", ARCADIA_ND2_NAMES)
def test_nd2_read_plane_matches_asarray(arcadia_nd2, name):
    path = arcadia_nd2[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # the same planes on every run
    with open_source(path) as src, nd2.ND2File(path) as f:
        ref = f.asarray()
        planes = list(all_planes(src.info))
        picks = [planes[i] for i in rng.choice(len(planes), size=min(5, len(planes)), replace=False)]
        picks.append(planes[-1])
        for p, t, c, z in picks:
            plane = src.read_plane(p, t, c, z)
            assert plane.shape == (src.info.sizes["Y"], src.info.sizes["X"])
            assert plane.dtype == ref.dtype
            np.testing.assert_array_equal(plane, ref[nd2_reference_slice(f, p, t, c, z)])


def test_nd2_zstack_read_zstack(arcadia_nd2):
    path = arcadia_nd2["example-zstack.nd2"]
    with open_source(path) as src, nd2.ND2File(path) as f:
        stack = src.read_zstack(0, 0, 0)
        np.testing.assert_array_equal(stack, f.asarray())
        sub = src.read_zstack(0, 0, 0, [3, 5])
        np.testing.assert_array_equal(sub, f.asarray()[[3, 5]])


def test_nd2_reads_exactly_one_frame_per_plane(arcadia_nd2, monkeypatch):
    """read_plane asks nd2 for one frame, at the sequence index of the requested loop coordinates."""
    path = arcadia_nd2["example-timelapse.nd2"]
    with open_source(path) as src:
        calls = []
        real = src._f.read_frame
        monkeypatch.setattr(src._f, "read_frame", lambda i: calls.append(int(i)) or real(i))
        src.read_plane(0, 17, 0, 0)
        assert calls == [17]
        plane_bytes = src.info.sizes["Y"] * src.info.sizes["X"] * 2
        src.read_plane(0, 0, 0, 0)  # warm up
        tracemalloc.start()
        try:
            src.read_plane(0, 40, 0, 0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * plane_bytes + 64_000


def test_nd2_plane_survives_close(arcadia_nd2):
    """Returned planes are copies, not views into the file's memory map."""
    path = arcadia_nd2["example-multichannel.nd2"]
    src = open_source(path)
    plane = src.read_plane(0, 0, 2, 0)
    expected = plane.copy()
    src.close()
    src.close()  # idempotent
    np.testing.assert_array_equal(plane, expected)
    with pytest.raises(InputError, match="closed"):
        src.read_plane(0, 0, 0, 0)


def test_nd2_axes_override(arcadia_nd2):
    path = arcadia_nd2["example-timelapse.nd2"]
    with open_source(path, axes="ZYX") as src, nd2.ND2File(path) as f:
        assert src.info.sizes["Z"] == f.sizes["T"] and src.info.sizes["T"] == 1
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 9), f.asarray()[9])
        assert src.info.extra["axes_override"] == "ZYX"
    with pytest.raises(InputError, match=re.escape(path.name) + r".*'TZYX'.*3 dimensions.*'TYX'"):
        open_source(path, axes="TZYX")
    with pytest.raises(InputError, match="must end in 'YX'"):
        open_source(path, axes="YXT")


def test_nd2_frame_axes_cannot_be_renamed(arcadia_nd2):
    path = arcadia_nd2["example-multichannel.nd2"]
    with pytest.raises(InputError, match=r"example-multichannel\.nd2.*'C' axis into 'T'"):
        open_source(path, axes="TYX")


def test_nd2_index_out_of_range(arcadia_nd2):
    with open_source(arcadia_nd2["example-cerevisiae.nd2"]) as src:
        with pytest.raises(IndexError, match="C index 2 out of range"):
            src.read_plane(0, 0, 2, 0)


def test_junk_nd2(tmp_path):
    path = tmp_path / "junk.nd2"
    path.write_bytes(b"this is not a Nikon file at all" * 10)
    with pytest.raises(InputError, match=r"junk\.nd2: not an ND2 file \(it starts with 'this is n'\)"):
        open_source(path)


def test_truncated_nd2(arcadia_nd2, tmp_path):
    data = arcadia_nd2["example-zstack.nd2"].read_bytes()
    path = tmp_path / "cut.nd2"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.nd2: truncated or corrupt ND2"):
        with open_source(path) as src:
            for z in range(src.info.sizes["Z"]):
                src.read_plane(0, 0, 0, z)


def test_nd2_with_wrong_extension_is_read_by_content(arcadia_nd2, tmp_path):
    path = tmp_path / "actually_nd2.tif"
    shutil.copy(arcadia_nd2["example-cerevisiae.nd2"], path)
    with open_source(path) as src:
        assert isinstance(src, ND2Source)
        assert src.info.sizes["C"] == 2


# =========================================================================== TIFF (real files)


def test_dsb2018_2d_tiff(dsb2018):
    for path in dsb2018:
        ref = tifffile.imread(path)
        with open_source(path) as src:
            assert isinstance(src, TiffSource)
            info = src.info
            assert info.shape == (1, 1, 1, 1, *ref.shape)
            assert info.native_axes == "YX"
            assert info.format == "tiff"
            assert np.dtype(info.dtype) == ref.dtype
            assert info.channel_names == ["C0"]
            np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), ref)


def test_bio_sample_ambiguous_stack_needs_axes(bio_sample_images):
    path = bio_sample_images / "nuclei.tif"
    with pytest.raises(InputError) as err:
        open_source(path)
    msg = str(err.value)
    assert msg.startswith("nuclei.tif: ambiguous axes")
    assert "'QYX'" in msg and "axes='ZYX'" in msg and "--axes" in msg
    ref = tifffile.imread(path)
    with open_source(path, axes="ZYX") as src:
        assert src.info.sizes["Z"] == ref.shape[0] and src.info.sizes["T"] == 1
        for z in (0, 17, ref.shape[0] - 1):
            np.testing.assert_array_equal(src.read_plane(0, 0, 0, z), ref[z])


def test_bio_sample_timelapse_with_axes(bio_sample_images):
    path = bio_sample_images / "2D_timelapse.tif"
    ref = tifffile.imread(path)
    with open_source(path, axes="TYX") as src:
        assert src.info.shape == (1, ref.shape[0], 1, 1, *ref.shape[1:])
        np.testing.assert_array_equal(src.read_plane(0, 29, 0, 0), ref[29])


def test_bio_sample_rgb(bio_sample_images):
    path = bio_sample_images / "skin.tif"
    ref = tifffile.imread(path)
    with open_source(path) as src:
        assert src.info.sizes["C"] == 3 and src.info.channel_names == ["R", "G", "B"]
        assert (src.info.sizes["Y"], src.info.sizes["X"]) == ref.shape[:2]
        for c in range(3):
            np.testing.assert_array_equal(src.read_plane(0, 0, c, 0), ref[..., c])


# =========================================================================== TIFF (synthetic)


def test_ome_tiff_tzcyx(ome_tzcyx):
    path, data = ome_tzcyx
    with open_source(path) as src:
        info = src.info
        assert info.format == "ome-tiff"
        assert info.sizes == {"P": 1, "T": 3, "C": 2, "Z": 4, "Y": 32, "X": 48}
        assert info.native_axes == "TZCYX"
        assert info.channel_names == ["DAPI", "GFP"]
        assert info.pixel_size.x == pytest.approx(0.25)  # 250 nm
        assert info.pixel_size.y == pytest.approx(0.25)
        assert info.pixel_size.z == pytest.approx(1.5)
        assert "<OME" in info.extra["ome_xml"]
        for p, t, c, z in all_planes(info):
            np.testing.assert_array_equal(src.read_plane(p, t, c, z), data[t, z, c])
        np.testing.assert_array_equal(src.read_zstack(0, 2, 1), data[2, :, 1])


def test_imagej_hyperstack(imagej_tzcyx):
    path, data = imagej_tzcyx
    info = read_info(path)
    assert info.format == "tiff"
    assert info.sizes == {"P": 1, "T": 2, "C": 2, "Z": 3, "Y": 40, "X": 30}
    assert info.pixel_size.x == pytest.approx(0.25)
    assert info.pixel_size.y == pytest.approx(0.25)
    assert info.pixel_size.z == pytest.approx(2.0)
    assert info.extra["imagej_description"].startswith("ImageJ=")
    with open_source(path) as src:
        for p, t, c, z in all_planes(info):
            np.testing.assert_array_equal(src.read_plane(p, t, c, z), data[t, z, c])


def test_rgb_tiff(rgb_tiff):
    path, data = rgb_tiff
    with open_source(path) as src:
        assert src.info.shape == (1, 1, 3, 1, 24, 36)
        assert src.info.channel_names == ["R", "G", "B"]
        for c in range(3):
            np.testing.assert_array_equal(src.read_plane(0, 0, c, 0), data[..., c])


def test_rgb_movie_with_axes_metadata(tmp_path):
    data = np.random.default_rng(8).integers(0, 255, (4, 16, 20, 3), dtype=np.uint8)
    path = tmp_path / "rgbmovie.ome.tiff"
    tifffile.imwrite(path, data, photometric="rgb", metadata={"axes": "TYXS"})
    with open_source(path) as src:
        assert src.info.shape == (1, 4, 3, 1, 16, 20)
        np.testing.assert_array_equal(src.read_plane(0, 2, 1, 0), data[2, ..., 1])


def test_page_with_several_planes(tmp_path):
    """tifffile stores a (3, Y, X) array as ONE planar page with 3 samples: S -> channels."""
    data = np.random.default_rng(9).integers(0, 4000, (3, 16, 20), dtype=np.uint16)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, data)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and tif.series[0].axes == "SYX"
    with open_source(path) as src:
        assert src.info.sizes["C"] == 3
        for c in range(3):
            np.testing.assert_array_equal(src.read_plane(0, 0, c, 0), data[c])
    # the samples really are time points: the override may name the sample axis too
    with open_source(path, axes="TYX") as src:
        assert src.info.sizes["T"] == 3 and src.info.sizes["C"] == 1
        np.testing.assert_array_equal(src.read_plane(0, 2, 0, 0), data[2])


def test_plain_2d_tiff(plain_2d):
    path, data = plain_2d
    with open_source(path) as src:
        assert src.info.shape == (1, 1, 1, 1, 50, 70)
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 0), data)
        assert src.info.pixel_size.as_dict() == {"x": None, "y": None, "z": None, "t": None}


@pytest.mark.parametrize("fixture, letter", [("ambiguous_qyx", "Q"), ("ambiguous_iyx", "I")])
def test_ambiguous_stack_refused_then_overridden(request, fixture, letter):
    path, data = request.getfixturevalue(fixture)
    with pytest.raises(InputError) as err:
        open_source(path)
    msg = str(err.value)
    assert msg.startswith(f"{path.name}: ambiguous axes")
    assert f"'{letter}YX'" in msg
    assert "axes='TYX'" in msg and "--axes TYX" in msg
    with pytest.raises(InputError, match="ambiguous"):
        read_info(path)
    with open_source(path, axes="TYX") as src:
        assert src.info.shape == (1, data.shape[0], 1, 1, *data.shape[1:])
        assert src.info.extra["axes_override"] == "TYX"
        for t in range(data.shape[0]):
            np.testing.assert_array_equal(src.read_plane(0, t, 0, 0), data[t])
    with open_source(path, axes="zyx") as src:  # case-insensitive
        assert src.info.sizes["Z"] == data.shape[0]
        np.testing.assert_array_equal(src.read_plane(0, 0, 0, 3), data[3])
    info = read_info(path, axes="PYX")
    assert info.sizes["P"] == data.shape[0] and info.position_names[0] == "P0"


def test_axes_override_length_mismatch(ambiguous_qyx, ome_tzcyx):
    path, _ = ambiguous_qyx
    with pytest.raises(InputError) as err:
        open_source(path, axes="TZYX")
    msg = str(err.value)
    assert msg.startswith("ambiguous.tif: axes='TZYX' has 4 letters")
    assert "3 dimensions" in msg and "'QYX'" in msg and "7x20x24" in msg
    with pytest.raises(InputError, match=r"stack\.ome\.tif: axes='TYX' has 3 letters.*'TZCYX'"):
        open_source(ome_tzcyx[0], axes="TYX")


def test_axes_override_reinterprets_known_axes(ome_tzcyx):
    path, data = ome_tzcyx
    with open_source(path, axes="ZTCYX") as src:  # swap the meaning of T and Z
        assert src.info.sizes["Z"] == 3 and src.info.sizes["T"] == 4
        np.testing.assert_array_equal(src.read_plane(0, 1, 1, 2), data[2, 1, 1])


@pytest.mark.parametrize(
    "axes, match",
    [
        ("QYX", "unknown letter"),
        ("YXT", "must end in 'YX'"),
        ("TTYX", "repeats T"),
    ],
)
def test_bad_axes_strings(ambiguous_qyx, axes, match):
    with pytest.raises(InputError, match=match):
        open_source(ambiguous_qyx[0], axes=axes)


def test_ome_multi_series_are_positions(tmp_path):
    path = tmp_path / "positions.ome.tif"
    data = np.random.default_rng(10).integers(0, 999, (3, 2, 12, 14), dtype=np.uint16)
    with tifffile.TiffWriter(path, ome=True) as tw:
        for i, pos in enumerate(data):
            tw.write(pos, metadata={"axes": "TYX", "Name": f"well A{i + 1}"})
    with open_source(path) as src:
        assert src.info.shape == (3, 2, 1, 1, 12, 14)
        assert src.info.position_names == ["well A1", "well A2", "well A3"]
        np.testing.assert_array_equal(src.read_plane(2, 1, 0, 0), data[2, 1])
        np.testing.assert_array_equal(src.read_plane(1, 0, 0, 0), data[1, 0])


def test_mask_writer_output_reads_back(tmp_path):
    """An OME-TIFF written by the package's own mask writer opens, with its OME-XML kept."""
    from napari_batchseg.io.masks import ome_xml

    data = np.arange(2 * 8 * 9, dtype=np.uint16).reshape(2, 8, 9)
    path = tmp_path / "m.ome.tif"
    xml = ome_xml(2, (8, 9), data.dtype, log_text="earlier run log")
    tifffile.imwrite(path, data, description=xml.encode(), metadata=None)
    with open_source(path) as src:
        assert src.info.shape == (1, 2, 1, 1, 8, 9)
        assert src.info.channel_names == ["Segmentation mask"]
        assert "earlier run log" in src.info.extra["ome_xml"]
        np.testing.assert_array_equal(src.read_plane(0, 1, 0, 0), data[1])


def test_tiff_with_nd2_extension_is_read_by_content(plain_2d, tmp_path):
    path = tmp_path / "actually_tiff.nd2"
    shutil.copy(plain_2d[0], path)
    with open_source(path) as src:
        assert isinstance(src, TiffSource)


# =========================================================================== laziness


def _warm_up(path, axes=None):
    with open_source(path, axes=axes) as src:
        src.read_plane(0, 0, 0, 0)


@pytest.mark.parametrize("kind", ["imagej", "ome", "ome-zlib"])
def test_tiff_reads_one_plane_only(big_imagej_movie, tmp_path, kind):
    path, data = big_imagej_movie
    if kind != "imagej":
        path = tmp_path / f"movie-{kind}.ome.tif"
        tifffile.imwrite(path, data, metadata={"axes": "TYX"},
                         compression="zlib" if kind == "ome-zlib" else None)
    plane_bytes = data[0].nbytes
    assert data.nbytes >= 60 * plane_bytes
    _warm_up(path)  # imports and one-off caches do not count
    tracemalloc.start()
    try:
        src: ImageSource = open_source(path)
        _, open_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        plane = src.read_plane(0, 41, 0, 0)
        _, read_peak = tracemalloc.get_traced_memory()
        src.close()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(plane, data[41])
    assert open_peak < 0.5 * plane_bytes, f"opening allocated {open_peak} bytes"
    assert read_peak < 4 * plane_bytes, f"reading one plane allocated {read_peak} bytes"


def test_source_keeps_file_open_until_close(ome_tzcyx):
    src = open_source(ome_tzcyx[0])
    tif = src._tif
    assert not tif.filehandle.closed
    with src:
        pass
    assert tif.filehandle.closed
    with pytest.raises(InputError, match="closed"):
        src.read_plane(0, 0, 0, 0)


# =========================================================================== bad inputs


def _truncated_copies(tmp_path, imagej_tzcyx, ome_tzcyx, plain_2d):
    out = []
    for label, (src, _) in {"ij": imagej_tzcyx, "ome": ome_tzcyx, "2d": plain_2d}.items():
        raw = src.read_bytes()
        for frac in (0.02, 0.5, 0.97):
            path = tmp_path / f"cut-{label}-{frac}.tif"
            path.write_bytes(raw[: max(16, int(len(raw) * frac))])
            out.append(path)
    return out


def test_truncated_tiff(tmp_path, imagej_tzcyx, ome_tzcyx, plain_2d):
    for path in _truncated_copies(tmp_path, imagej_tzcyx, ome_tzcyx, plain_2d):
        with pytest.raises(InputError) as err:
            with open_source(path) as src:
                for p, t, c, z in all_planes(src.info):
                    src.read_plane(p, t, c, z)
        assert str(err.value).startswith(f"{path.name}: truncated or corrupt TIFF"), str(err.value)


def test_text_file_named_tif(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("hello world, this is text\n")
    with pytest.raises(InputError, match=r"^notes\.tif: not a TIFF file \(it starts with 'hello wor'\)$"):
        open_source(path)


def test_binary_junk_named_tif(tmp_path):
    path = tmp_path / "junk.tif"
    path.write_bytes(bytes(range(200, 256)))
    with pytest.raises(InputError, match=r"junk\.tif: not a TIFF file \(it starts with bytes c8 c9"):
        open_source(path)


@pytest.mark.parametrize("name", ["empty.tif", "empty.ome.tiff", "empty.nd2"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError, match="^" + re.escape(name) + r": file is empty \(0 bytes\)$"):
        open_source(path)


def test_header_only_tiff(tmp_path):
    path = tmp_path / "header.tif"
    path.write_bytes(b"II*\x00")
    with pytest.raises(InputError, match=r"header\.tif: truncated or corrupt TIFF"):
        open_source(path)


@pytest.mark.parametrize("name", ["missing.tif", "missing.nd2", "missing.czi"])
def test_missing_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(InputError, match=re.escape(name) + ": file not found"):
        open_source(path)
    with pytest.raises(InputError, match="file not found"):
        read_info(path)


@pytest.mark.parametrize(
    "name, what",
    [("image.jpg", "'.jpg'"), ("my.data.png", "'.png'"), ("noext", "(no extension)")],
)
def test_unsupported_extension(tmp_path, name, what):
    path = tmp_path / name
    path.write_bytes(b"II*\x00" + bytes(100))  # even TIFF content: the name must say what it is
    with pytest.raises(InputError) as err:
        open_source(path)
    assert str(err.value) == (
        f"{name}: unsupported file type {what}; supported: {', '.join(supported_extensions())}"
    )
    assert {".nd2", ".tif", ".tiff", ".ome.tif", ".ome.tiff", ".h5"} <= set(supported_extensions())


def test_folder_is_refused(tmp_path):
    path = tmp_path / "folder.tif"
    path.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        open_source(path)


# =========================================================================== names


@pytest.mark.parametrize(
    "name, stem",
    [
        ("a.ome.tif", "a"),
        ("a.ome.tiff", "a"),
        ("A.OME.TIF", "A"),
        ("movie.tif", "movie"),
        ("movie.tiff", "movie"),
        ("exp.1.nd2", "exp.1"),
        ("my.ome.data.tif", "my.ome.data"),
        ("/some/dir/x.ND2", "x"),
        ("other.png", "other"),
    ],
)
def test_stem_of(name, stem):
    assert stem_of(name) == stem


# =========================================================================== ND2 loop arithmetic (fake)


class _FakeND2:
    """Stands in for nd2.ND2File: loops T, P, Z (in that order), frames of (C, Y, X[, S]) pixels.

    Pixel value = 1000 * frame index + 10 * channel + component, so any mix-up shows.
    """

    def __init__(self, loops: dict[str, int], n_chan: int, n_comp: int = 1, points=None):
        from types import SimpleNamespace as NS

        self._loops = loops
        self._n_chan, self._n_comp = n_chan, n_comp
        self.components_per_channel = n_comp
        sizes = dict(loops)
        if n_chan > 1:
            sizes["C"] = n_chan
        sizes.update(Y=4, X=5)
        if n_comp == 3:
            sizes["S"] = 3
        self.sizes = sizes
        self.dtype = np.dtype(np.uint16)
        self.attributes = NS(channelCount=n_chan, heightPx=4, widthPx=5, componentCount=n_chan * n_comp)
        channels = [
            NS(channel=NS(name=f"ch{i}"), volume=NS(axesCalibrated=(True, True, False)))
            for i in range(n_chan)
        ]
        self.metadata = NS(channels=channels)
        self.experiment = [
            NS(type={"T": "TimeLoop", "P": "XYPosLoop", "Z": "ZStackLoop"}[a], count=n,
               parameters=NS(points=[NS(name=nm) for nm in (points or [])]))
            for a, n in loops.items()
        ]
        self.closed = False
        self.calls: list[int] = []

    def voxel_size(self):
        from types import SimpleNamespace as NS

        return NS(x=0.5, y=0.5, z=1.0)

    def read_frame(self, index: int) -> np.ndarray:
        self.calls.append(int(index))
        frame = np.empty((self._n_chan, 4, 5, self._n_comp), np.uint16)
        for ch in range(self._n_chan):
            for k in range(self._n_comp):
                frame[ch, :, :, k] = 1000 * index + 10 * ch + k
        return frame.squeeze()

    def close(self):
        self.closed = True


def _fake_nd2(monkeypatch, tmp_path, fake):
    path = tmp_path / "fake.nd2"
    path.write_bytes(b"\xda\xce\xbe\x0a" + bytes(64))  # modern ND2 magic
    monkeypatch.setattr(nd2, "ND2File", lambda p: fake)
    return path


def test_nd2_multi_position_sequence_index(monkeypatch, tmp_path):
    fake = _FakeND2({"T": 3, "P": 2, "Z": 4}, n_chan=2, points=["A1", "B7"])
    with open_source(_fake_nd2(monkeypatch, tmp_path, fake)) as src:
        info = src.info
        assert info.sizes == {"P": 2, "T": 3, "C": 2, "Z": 4, "Y": 4, "X": 5}
        assert info.position_names == ["A1", "B7"]
        assert info.channel_names == ["ch0", "ch1"]
        assert info.pixel_size.as_dict() == {"x": 0.5, "y": 0.5, "z": None, "t": None}  # Z not calibrated
        for p, t, c, z in all_planes(info):
            seq = (t * 2 + p) * 4 + z  # loops in file order T, P, Z
            plane = src.read_plane(p, t, c, z)
            assert plane.shape == (4, 5)
            assert np.all(plane == 1000 * seq + 10 * c), (p, t, c, z)
        assert len(fake.calls) == 2 * 3 * 2 * 4  # one frame read per plane
    assert fake.closed


def test_nd2_rgb_samples_become_channels(monkeypatch, tmp_path):
    fake = _FakeND2({"T": 2}, n_chan=1, n_comp=3)
    with open_source(_fake_nd2(monkeypatch, tmp_path, fake)) as src:
        assert src.info.sizes["C"] == 3 and src.info.channel_names == ["R", "G", "B"]
        assert np.all(src.read_plane(0, 1, 2, 0) == 1000 + 2)


def test_nd2_unknown_loop_is_ambiguous(monkeypatch, tmp_path):
    def make():
        fake = _FakeND2({"T": 3}, n_chan=1)
        fake.sizes = {"U": 3, "Y": 4, "X": 5}  # CustomLoop
        return fake

    path = _fake_nd2(monkeypatch, tmp_path, make())
    with pytest.raises(InputError, match=r"fake\.nd2: ambiguous axes.*axes='TYX'"):
        open_source(path)
    monkeypatch.setattr(nd2, "ND2File", lambda p: make())
    with open_source(path, axes="ZYX") as src:
        assert src.info.sizes["Z"] == 3
        assert np.all(src.read_plane(0, 0, 0, 2) == 2000)


# =========================================================================== ImageJ single-IFD movies


def test_imagej_single_ifd_movie_is_read_by_offset(tmp_path):
    """ImageJ movies > 4 GB have one IFD and contiguous data; planes are read at their offsets."""
    data = np.random.default_rng(11).integers(0, 999, (6, 3, 20, 30), dtype=np.uint16)
    path = tmp_path / "single_ifd.tif"
    tifffile.imwrite(path, data, imagej=True, truncate=True, metadata={"axes": "TCYX"})
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and tif.series[0].is_truncated
    with open_source(path) as src:
        assert src.info.shape == (1, 6, 3, 1, 20, 30)
        for t, c in itertools.product(range(6), range(3)):
            np.testing.assert_array_equal(src.read_plane(0, t, c, 0), data[t, c])
    cut = tmp_path / "single_ifd_cut.tif"
    cut.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(InputError, match=r"single_ifd_cut\.tif: truncated or corrupt TIFF: its metadata"):
        open_source(cut)
