"""``batchseg segment`` options not covered in test_cli.py, run in-process.

Real runs use the project's starter Cellpose model on small crops of the real DSB2018 nuclei image
(``--dry-run`` where only the plan matters); the micro-sam run uses a random-weight checkpoint built here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

import _areas
from napari_batchseg.cli import build_parser, main, params_from_args
from napari_batchseg.io.masks import read_mask

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
SIZE = 64


def _needs(module: str, extra: str) -> pytest.MarkDecorator:
    """Skip without the optional extra, except under CI (which installs it; SAM=0 opts out of [sam])."""
    missing = importlib.util.find_spec(module) is None
    return pytest.mark.skipif(missing and not _areas.required(extra),
                              reason=f"{module} not installed ([{extra}])")


@pytest.fixture(scope="module")
def crops(dsb2018) -> list[np.ndarray]:
    """Three different 64x64 crops of the real nuclei image, each with nuclei in it."""
    img = tifffile.imread(dsb2018[0])
    out = [img[:SIZE, :SIZE], img[200 : 200 + SIZE, 300 : 300 + SIZE], img[-SIZE:, -SIZE:]]
    return [np.ascontiguousarray(c) for c in out]


def _summary(capsys) -> str:
    return capsys.readouterr().err


def _run(*args: str) -> int:
    return main(["segment", *args, "--model", str(STARTER), "-q"])


# --------------------------------------------------------------------------- --existing
def test_existing_skip_overwrite_error(tmp_path, crops, capsys):
    src = tmp_path / "a_BF.tif"
    tifffile.imwrite(src, crops[0])
    mask = tmp_path / "a_BF_vSM.ome.tif"
    assert _run(str(src)) == 0
    first = read_mask(mask).labels
    assert first.max() > 0
    _summary(capsys)
    os.utime(mask, ns=(1, 1))  # a stamp no run could leave

    assert _run(str(src)) == 0  # default: skip
    assert "0 done, 1 skipped, 0 failed" in _summary(capsys)
    assert mask.stat().st_mtime_ns == 1
    assert _run(str(src), "--existing", "skip") == 0
    assert mask.stat().st_mtime_ns == 1

    # the dry run says the same in its exit status (a review: 0 while the run fails), skip passes
    assert _run(str(src), "--existing", "error", "--dry-run") == 1
    assert _run(str(src), "--existing", "skip", "--dry-run") == 0
    capsys.readouterr()
    assert _run(str(src), "--existing", "error") == 1  # that output fails, nothing is written
    err = _summary(capsys)
    assert "0 done, 0 skipped, 1 failed" in err and "output exists" in err
    assert mask.stat().st_mtime_ns == 1

    assert _run(str(src), "--existing", "overwrite") == 0
    assert "1 done, 0 skipped, 0 failed" in _summary(capsys)
    assert mask.stat().st_mtime_ns != 1
    np.testing.assert_array_equal(read_mask(mask).labels, first)

    with pytest.raises(SystemExit) as exc:
        _run(str(src), "--existing", "keep")
    assert exc.value.code == 2


# --------------------------------------------------------------------------- collisions
def test_colliding_outputs_exit_2_and_write_nothing(tmp_path, crops, capsys):
    for sub in ("d1", "d2"):
        (tmp_path / sub).mkdir()
    tifffile.imwrite(tmp_path / "d1" / "s_BF.tif", crops[0])
    tifffile.imwrite(tmp_path / "d2" / "s_BF.tif", crops[1])
    out = tmp_path / "out"
    status = _run(str(tmp_path / "d1"), str(tmp_path / "d2"), "--output-dir", str(out))
    assert status == 2
    err = capsys.readouterr().err
    assert "outputs would collide; nothing was run" in err
    assert str(tmp_path / "d1" / "s_BF.tif") in err and str(tmp_path / "d2" / "s_BF.tif") in err
    assert str(out / "s_BF_vSM") in err
    assert not out.exists() or not any(out.iterdir())


# --------------------------------------------------------------------------- file filters
def _tree(root: Path, plane: np.ndarray) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    for rel in ("a_BF.tif", "b_BF_old.tif", "c_BF.tiff", "d_BF.ome.tif", "sub/e_BF.tif",
                "sub/deeper/f_BF_old.tif", "sub/deeper/g_BF.tiff"):
        tifffile.imwrite(root / rel, plane)
    (root / "notes_BF.txt").write_text("not an image")


def _planned(capsys) -> list[str]:
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "\t->\t" in ln]
    return sorted(Path(ln.split("\t")[0]).name for ln in lines)


#: a model file that exists: the dry run checks the model as the run would (cyto3's weights may be absent)
_MODEL = ("--model", str(STARTER))


def test_not_contains_ext_and_recursive_select_files(tmp_path, crops, capsys):
    _tree(tmp_path, crops[0])
    d = str(tmp_path)
    assert main(["segment", d, *_MODEL, "--dry-run"]) == 0
    assert _planned(capsys) == ["a_BF.tif", "b_BF_old.tif", "c_BF.tiff", "d_BF.ome.tif"]
    assert main(["segment", d, *_MODEL, "-r", "--dry-run"]) == 0
    assert _planned(capsys) == ["a_BF.tif", "b_BF_old.tif", "c_BF.tiff", "d_BF.ome.tif", "e_BF.tif",
                                "f_BF_old.tif", "g_BF.tiff"]
    assert main(["segment", d, *_MODEL, "--recursive", "--not-contains", "_old", "--dry-run"]) == 0
    assert _planned(capsys) == ["a_BF.tif", "c_BF.tiff", "d_BF.ome.tif", "e_BF.tif", "g_BF.tiff"]
    assert main(["segment", d, *_MODEL, "-r", "--not-contains", "_old", "--not-contains", "a_",
                 "--dry-run"]) == 0
    assert _planned(capsys) == ["c_BF.tiff", "d_BF.ome.tif", "e_BF.tif", "g_BF.tiff"]
    assert main(["segment", d, *_MODEL, "-r", "--ext", ".tiff", "--dry-run"]) == 0
    assert _planned(capsys) == ["c_BF.tiff", "g_BF.tiff"]
    assert main(["segment", d, *_MODEL, "--ext", ".tiff", "--ext", ".ome.tif", "--dry-run"]) == 0
    assert _planned(capsys) == ["c_BF.tiff", "d_BF.ome.tif"]
    # nothing left after the filters: a usage error
    assert main(["segment", d, *_MODEL, "--ext", ".czi", "--dry-run"]) == 2
    assert not list(tmp_path.rglob("*_vSM*"))


# --------------------------------------------------------------------------- --channel NAME, --axes
def test_several_channels_without_channel_chosen_get_a_note(tmp_path, crops, capsys):
    """A trial: a DAPI/GFP file run without --channel was segmented on DAPI without a word."""
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "two_BF.ome.tif", np.stack([crops[0], crops[1]]), ome=True,
                     metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP"]}})
    tifffile.imwrite(folder / "one_BF.tif", crops[2])
    assert main(["segment", str(folder), *_MODEL, "--dry-run"]) == 0
    err = " ".join(capsys.readouterr().err.split())  # (rich wraps to the terminal's width)
    assert "no channel chosen: channel 0 is segmented in 1 file(s)" in err, err
    assert "two_BF.ome.tif (channel 0: DAPI; it has DAPI, GFP)" in err and "one_BF" not in err, err
    assert "--channel picks another" in err
    config = tmp_path / "p.yaml"
    config.write_text("channel: 0\n")
    for chosen in (["--channel", "0"], ["--channel", "GFP"], ["--config", str(config)]):
        # (GFP: one_BF.tif has no channel of that name and would fail: exit 1)
        assert main(["segment", str(folder), *_MODEL, "--dry-run", *chosen]) == (1 if "GFP" in chosen else 0)
        assert "no channel chosen" not in capsys.readouterr().err, chosen


def test_channel_by_name_picks_that_channel(tmp_path, crops, capsys):
    data = np.stack([np.zeros_like(crops[0]), crops[0]])  # DAPI empty, GFP the nuclei
    src = tmp_path / "two.ome.tif"
    tifffile.imwrite(src, data, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP"]}})
    out_name, out_index, out_empty = tmp_path / "n", tmp_path / "i", tmp_path / "e"
    assert _run(str(src), "--channel", "GFP", "--output-dir", str(out_name)) == 0
    assert _run(str(src), "--channel", "1", "--output-dir", str(out_index)) == 0
    assert _run(str(src), "--channel", "DAPI", "--output-dir", str(out_empty)) == 0
    by_name = read_mask(out_name / "two_vSM.ome.tif")
    assert by_name.labels.max() > 0
    np.testing.assert_array_equal(by_name.labels, read_mask(out_index / "two_vSM.ome.tif").labels)
    assert "GFP" in by_name.log_text
    assert read_mask(out_empty / "two_vSM.ome.tif").labels.max() == 0  # the empty channel: no objects
    _summary(capsys)
    status = _run(str(src), "--channel", "RFP", "--output-dir", str(tmp_path / "x"))
    assert status in (1, 2)
    assert "RFP" in capsys.readouterr().err
    assert not (tmp_path / "x" / "two_vSM.ome.tif").exists()


def test_axes_override_for_an_ambiguous_stack(tmp_path, crops, capsys):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, np.stack(crops[:2]), metadata=None)  # no axes metadata: 'QYX'
    assert _run(str(src), "--axes", "TYX") == 0
    mask = read_mask(tmp_path / "stack_vSM.ome.tif")
    assert mask.labels.shape == (2, SIZE, SIZE)
    assert mask.labels[0].max() > 0 and mask.labels[1].max() > 0
    assert "TYX" in mask.log_text
    shutil.move(tmp_path / "stack_vSM.ome.tif", tmp_path / "tyx.ome.tif")
    # as a Z-stack with a max projection: one frame
    assert _run(str(src), "--axes", "ZYX", "--z-projection", "max", "--existing", "overwrite") == 0
    assert read_mask(tmp_path / "stack_vSM.ome.tif").labels.shape == (1, SIZE, SIZE)
    _summary(capsys)
    # an override that does not fit the file: that file fails with the reason
    assert _run(str(src), "--axes", "TZYX", "--existing", "overwrite") == 1
    assert "TZYX" in capsys.readouterr().err


# --------------------------------------------------------------------------- parallel and Dask
@pytest.fixture(scope="module")
def two_files(tmp_path_factory, crops) -> tuple[Path, dict[str, np.ndarray]]:
    """Two small TIFFs (one a 2-frame movie) and their masks from a plain sequential CLI run."""
    d = tmp_path_factory.mktemp("par_in")
    tifffile.imwrite(d / "one_BF.tif", crops[0])
    tifffile.imwrite(d / "movie_BF.tif", np.stack(crops[1:]), imagej=True, metadata={"axes": "TYX"})
    ref = d.parent / (d.name + "_ref")
    assert _run(str(d), "--output-dir", str(ref)) == 0
    masks = {p.name: read_mask(p).labels for p in sorted(ref.glob("*_vSM.ome.tif"))}
    assert sorted(masks) == ["movie_BF_vSM.ome.tif", "one_BF_vSM.ome.tif"]
    assert all(m.max() > 0 for m in masks.values())
    return d, masks


def _masks(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_mask(p).labels for p in sorted(folder.glob("*_vSM.ome.tif"))}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["files", "frames"])
def test_parallel_processes_give_the_sequential_masks(two_files, tmp_path, mode, capsys):
    src, reference = two_files
    out = tmp_path / "out"
    assert _run(str(src), "--parallel", mode, "--processes", "2", "--threads-per-process", "1",
                "--output-dir", str(out)) == 0
    assert "2 done, 0 skipped, 0 failed" in _summary(capsys)
    got = _masks(out)
    assert sorted(got) == sorted(reference)
    for name, labels in reference.items():
        np.testing.assert_array_equal(got[name], labels, err_msg=name)
    assert "parallel" in (out / "movie_BF_vSM.log").read_text()


@pytest.mark.slow
@_needs("distributed", "dask")
def test_dask_local_cluster_gives_the_sequential_masks(two_files, tmp_path, capfd):
    src, reference = two_files
    out = tmp_path / "out"
    assert _run(str(src), "--dask-local", "1", "--threads-per-process", "1", "--output-dir", str(out)) == 0
    err = capfd.readouterr().err  # the workers' stderr too
    assert "2 done, 0 skipped, 0 failed" in err
    assert "Sparse invariant checks" not in err  # a walk: torch's notice, once per worker
    got = _masks(out)
    assert sorted(got) == sorted(reference)
    for name, labels in reference.items():
        np.testing.assert_array_equal(got[name], labels, err_msg=name)


def test_parallel_option_errors_exit_2(tmp_path, crops, capsys):
    src = tmp_path / "a.tif"
    tifffile.imwrite(src, crops[0])
    assert _run(str(src), "--parallel", "files", "--processes", "0") == 2
    assert "processes" in capsys.readouterr().err
    assert _run(str(src), "--dask-local", "2", "--dask-scheduler", "tcp://127.0.0.1:1") == 2
    assert "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        _run(str(src), "--parallel", "threads")
    assert exc.value.code == 2
    assert not list(tmp_path.glob("*_vSM*"))



@_needs("distributed", "dask")
def test_unreachable_dask_scheduler_is_one_error_line_exit_2(tmp_path, crops, capsys):
    """It was a 66-line traceback (exit 1) after Dask's 30 s connect timeout; here 1 s."""
    import dask
    import distributed  # noqa: F401 - its config first: leaving the block below restores it, not deletes it

    src = tmp_path / "a.tif"
    tifffile.imwrite(src, crops[0])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert _run(str(src), "--dask-scheduler", "tcp://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "tcp://127.0.0.1:1" in err, err
    assert "scheduler is running" in err and "Traceback" not in err
    assert not list(tmp_path.glob("*_vSM*"))

# --------------------------------------------------------------------------- micro-sam options
SAM_ARGS = ["--method", "sam", "--model", "vit_b", "--sam-mode", "amg", "--tile-shape", "64,64",
            "--halo", "8,8", "--sam-set", "points_per_side=4", "--sam-set", "with_background=false",
            "--sam-set", "pred_iou_thresh=0"]


def test_sam_options_parse_into_params(tmp_path):
    args = build_parser().parse_args(["segment", "x", *SAM_ARGS, "--embedding-cache", "off"])
    p = params_from_args(args)
    assert p.method == "sam" and p.model == "vit_b" and p.sam_mode == "amg"
    assert tuple(p.tile_shape) == (64, 64) and tuple(p.halo) == (8, 8)
    assert p.extra == {"points_per_side": 4, "with_background": False, "pred_iou_thresh": 0,
                       "embedding_cache": False}
    args = build_parser().parse_args(["segment", "x", "--embedding-cache", str(tmp_path / "emb")])
    assert params_from_args(args).extra == {"embedding_cache": str(tmp_path / "emb")}


@pytest.mark.sam
@_needs("micro_sam", "sam")  # the dry run checks the model: method sam needs micro-sam
def test_sam_options_reach_the_saved_config_and_dry_run(tmp_path, crops, capsys):
    src = tmp_path / "a.tif"
    tifffile.imwrite(src, crops[0])
    cfg = tmp_path / "eff.yaml"
    assert main(["segment", str(src), *SAM_ARGS, "--embedding-cache", str(tmp_path / "emb"),
                 "--save-config", str(cfg), "--dry-run"]) == 0
    assert "a_vSM.ome.tif" in capsys.readouterr().out
    saved = yaml.safe_load(cfg.read_text())
    assert saved["method"] == "sam" and saved["sam_mode"] == "amg"
    assert list(saved["tile_shape"]) == [64, 64] and list(saved["halo"]) == [8, 8]
    assert saved["extra"] == {"points_per_side": 4, "with_background": False, "pred_iou_thresh": 0,
                              "embedding_cache": str(tmp_path / "emb")}
    # the saved file runs the same plan again
    assert main(["segment", str(src), "--config", str(cfg), "--dry-run"]) == 0
    assert "a_vSM.ome.tif" in capsys.readouterr().out
    assert not list(tmp_path.glob("*_vSM*")) and not (tmp_path / "emb").exists()


@pytest.mark.parametrize("bad", [["--sam-set", "points_per_side"], ["--sam-set", "=4"],
                                 ["--sam-mode", "grid"]])
def test_bad_sam_options_are_usage_errors(tmp_path, bad):
    with pytest.raises(SystemExit) as exc:
        main(["segment", str(tmp_path), "--method", "sam", *bad, "--dry-run"])
    assert exc.value.code == 2


@pytest.mark.sam
@_needs("micro_sam", "sam")
def test_sam_run_from_the_cli(tmp_path, crops, capsys):
    """A real micro-sam AMG run from the command line (random-weight vit_b at 128 px, built here)."""
    import torch

    from napari_batchseg.segmenters.microsam import _import_microsam

    _import_microsam()
    from micro_sam.models.build_sam import build_sam_vit_b

    torch.manual_seed(0)
    ckpt = tmp_path / "vit_b_random.pth"
    torch.save({k: v.half() for k, v in build_sam_vit_b(image_size=128).state_dict().items()}, ckpt)
    src = tmp_path / "a.tif"
    # dark nuclei on a bright background: the random decoder gives masks smaller than the plane
    tifffile.imwrite(src, (crops[0].max() - crops[0]).astype(np.uint16))
    cache = tmp_path / "emb"
    args = ["segment", str(src), "--method", "sam", "--model", "vit_b", "--checkpoint", str(ckpt),
            "--sam-mode", "amg", "--sam-set", "points_per_side=4", "--sam-set", "pred_iou_thresh=0",
            "--sam-set", "stability_score_thresh=0", "--sam-set", "with_background=false",
            "--embedding-cache", str(cache), "-q"]
    assert main(args) == 0, capsys.readouterr().err
    mask = read_mask(tmp_path / "a_vSM.ome.tif")
    assert mask.labels.shape == (1, SIZE, SIZE) and mask.labels.max() >= 1
    log = (tmp_path / "a_vSM.log").read_text()
    assert "amg" in log and "vit_b" in log and "with_background" in log
    assert list(cache.glob("*/*.zarr")), "the embeddings were not cached where --embedding-cache said"


def test_an_option_a_volume_mode_does_not_use_is_said(tmp_path, capsys):
    """A walk: --z-mode 3d --z-projection max was taken without a word (the log says no projection)."""
    missing = str(tmp_path / "none_BF.tif")
    main(["segment", missing, "--z-mode", "3d", "--z-projection", "max", "--diameter", "10", "-q"])
    err = capsys.readouterr().err
    assert "warning: --z-projection max not used: --z-mode 3d segments the volume" in err, err
    main(["segment", missing, "--z-projection", "max", "-q"])  # projected: used, nothing said
    assert "not used" not in capsys.readouterr().err
