"""The ``batchseg`` command line, run in-process on real files with the project's own model."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from napari_batchseg.cli import BROKEN_PIPE_STATUS, FACTORY_ENV, main
from napari_batchseg.io.formats import supported_extensions
from napari_batchseg.io.masks import read_mask
from napari_batchseg.params import ParameterError

STARTER = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


@pytest.fixture
def folder(tmp_path, dsb2018, arcadia_nd2):
    d = tmp_path / "in"
    d.mkdir()
    img = tifffile.imread(dsb2018[0])[:128, :128]
    tifffile.imwrite(d / "nuclei_BF.tif", img)
    shutil.copy(arcadia_nd2["example-zstack.nd2"], d / "zstack_BF.nd2")
    tifffile.imwrite(d / "other_WL520.tif", img)
    (d / "broken_BF.tif").write_text("not an image")
    return d


def test_folder_run_with_filters_summary_and_exit_status(folder, capsys):
    out = folder.parent / "out"
    status = main(["segment", str(folder), "--contains", "_BF", "--model", str(STARTER),
                   "--z-range", "best:2", "--z-projection", "max", "--output-dir", str(out), "-q"])
    assert status == 1  # broken_BF.tif failed, the others went on
    err = capsys.readouterr().err
    assert "broken_BF.tif" in err and "not a TIFF" in err
    assert "2 done, 0 skipped, 1 failed" in err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["nuclei_BF_vSM.log", "nuclei_BF_vSM.ome.tif", "zstack_BF_vSM.log",
                     "zstack_BF_vSM.ome.tif"]
    z = read_mask(out / "zstack_BF_vSM.ome.tif")
    assert z.labels.shape == (1, 128, 128)
    assert z.pixel_size.x == pytest.approx(0.32339, rel=1e-4) and z.pixel_size.z == pytest.approx(6.0)
    log = (out / "zstack_BF_vSM.log").read_text()
    assert "best focus" in log and '"z_range": "best:2"' in log


def test_explicit_files_ignore_filters_and_config_file(folder, tmp_path):
    cfg = tmp_path / "opts.yaml"
    cfg.write_text(yaml.safe_dump({"model": str(STARTER), "suffix": "cfg", "cellprob_threshold": 0.5}))
    f = folder / "other_WL520.tif"
    assert main(["segment", str(f), "--contains", "_BF", "--config", str(cfg), "-q",
                 "--flow-threshold", "0.6", "--save-config", str(tmp_path / "eff.yaml")]) == 0
    assert (folder / "other_WL520_vSM-cfg.ome.tif").exists()
    eff = yaml.safe_load((tmp_path / "eff.yaml").read_text())
    assert eff["cellprob_threshold"] == 0.5 and eff["flow_threshold"] == 0.6 and eff["suffix"] == "cfg"


def test_frame_range_on_real_timelapse(tmp_path, arcadia_nd2):
    src = tmp_path / "tl.nd2"
    shutil.copy(arcadia_nd2["example-timelapse.nd2"], src)
    assert main(["segment", str(src), "--model", str(STARTER), "--start-frame", "3",
                 "--end-frame", "5", "-q"]) == 0
    m = read_mask(tmp_path / "tl_vSM.ome.tif")
    assert m.labels.shape == (3, 64, 64)
    assert "frames: 3-5 (3 of 53)" in m.log_text


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["segment", str(tmp_path), "--suffix", "bad_suffix"])
    assert e.value.code == 2
    assert main(["segment", str(tmp_path), "--model", str(tmp_path / "nope.pth"), "-q"]) == 2  # no files
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    assert main(["segment", str(img), "--model", str(tmp_path / "nope.pth"), "-q"]) == 2
    assert "nope.pth" in capsys.readouterr().err


def test_dry_run_and_info(folder, capsys):
    # a file that cannot run: exit status 1, as the real run's (a user walk: 0, so a script could not
    # tell); the readable ones alone: 0
    model = ["--model", str(STARTER)]  # (the dry run checks the model: cyto3's weights may be absent here)
    assert main(["segment", str(folder), "--contains", "_BF", *model, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "nuclei_BF_vSM.ome.tif" in out and "unreadable" in out
    readable = [line.split("\t")[0] for line in out.splitlines() if "unreadable" not in line]
    assert readable and main(["segment", *(str(folder / n) for n in readable), *model, "--dry-run"]) == 0
    assert not list(folder.glob("*_vSM*"))
    # a walk: a file read fine but lacking the channel asked for was listed as "unreadable"
    assert main(["segment", str(folder / "nuclei_BF.tif"), "--channel", "3", *model, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "[cannot run: " in out and "channel" in out and "unreadable" not in out, out
    assert main(["info", str(folder / "zstack_BF.nd2")]) == 0
    info = capsys.readouterr().out
    assert "Z=11" in info and "FITC" in info


def test_debug_outputs_beside_mask(tmp_path, arcadia_nd2):
    src = tmp_path / "tl.nd2"
    shutil.copy(arcadia_nd2["example-timelapse.nd2"], src)
    assert main(["segment", str(src), "--model", str(STARTER), "--end-frame", "1", "--debug", "-q"]) == 0
    flows = tifffile.imread(tmp_path / "tl_vSM_flows.tif")
    prob = tifffile.imread(tmp_path / "tl_vSM_cellprob.tif")
    assert flows.shape == (2, 64, 64, 3) and flows.dtype == np.uint8
    assert prob.shape == (2, 64, 64) and prob.dtype == np.float32
    assert "debug output (flows)" in (tmp_path / "tl_vSM.log").read_text()


def test_config_precedence_and_filters_in_config(tmp_path):
    from napari_batchseg.cli import build_parser, params_from_args

    cfg = tmp_path / "c.yaml"
    cfg.write_text("diameter: 30\ncontains: _BF\nrecursive: true\n")
    args = build_parser().parse_args(["segment", "x", "--config", str(cfg), "--method", "sam"])
    params = params_from_args(args)
    assert params.method == "sam" and params.model == "vit_b_lm" and params.diameter == 30
    assert args.contains == ["_BF"] and args.recursive


def test_parameter_file_paths_in_the_dock_are_read_from_its_folder(tmp_path, monkeypatch):
    """A walk: ``output_dir: results`` loaded by the dock landed in napari's folder. The command line
    and the API read a relative path from the current folder, as their options (a review: a shared
    config's ``output_dir: masks`` is each experiment's own)."""
    from napari_batchseg.params import SegmentationParams
    from napari_batchseg.view.file_list import read_parameter_file

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "my_model").write_bytes(b"weights")
    (cfg / "p.yaml").write_text("output_dir: results\nmodel: my_model\nparallel: files\ncontains: _BF\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    params = read_parameter_file(cfg / "p.yaml")[0]
    assert (params.output_dir, params.model) == (str(cfg / "results"), str(cfg / "my_model"))
    params = SegmentationParams.load(cfg / "p.yaml")  # (its filters and run options are not parameters)
    assert (params.output_dir, params.model) == ("results", "my_model")
    (cfg / "p.yaml").write_text("output_dir: /data/out\nmodel: cyto3\n")  # absolute, a name: as written
    params = read_parameter_file(cfg / "p.yaml")[0]
    assert (params.output_dir, params.model) == ("/data/out", "cyto3")


def test_saved_config_names_paths_absolute_and_runs_alike_from_another_folder(tmp_path, monkeypatch):
    from napari_batchseg.cli import build_parser, params_from_args

    monkeypatch.chdir(tmp_path)
    Path("models").mkdir()
    shutil.copy(STARTER, "models/starter")
    Path("cfg").mkdir()
    tifffile.imwrite("a.tif", np.zeros((32, 32), np.uint16))
    assert main(["segment", "a.tif", "--output-dir", "out", "--model", "models/starter", "--dry-run",
                 "--save-config", "cfg/p.yaml"]) == 0
    saved = yaml.safe_load(Path("cfg/p.yaml").read_text())
    assert (saved["output_dir"], saved["model"]) == (str(tmp_path / "out"), str(tmp_path / "models/starter"))
    monkeypatch.chdir(tmp_path / "cfg")
    params = params_from_args(build_parser().parse_args(["segment", "x", "--config", "p.yaml"]))
    assert (params.output_dir, params.model) == (str(tmp_path / "out"), str(tmp_path / "models/starter"))
    (tmp_path / "cfg" / "rel.yaml").write_text("output_dir: masks\n")  # relative: from where it runs
    params = params_from_args(build_parser().parse_args(["segment", "x", "--config", "rel.yaml"]))
    assert params.output_dir == "masks"


def test_a_bad_config_file_shows_the_segment_usage(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("diamter: 30\n")
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(tmp_path), "--config", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "did you mean diameter?" in err
    assert err.startswith("usage: batchseg segment ")  # not batchseg's {segment,info,...} usage (a walk)


def test_bad_model_setting_is_a_usage_error(tmp_path, capsys):
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    # diameter 0 (estimate) is not available for livecell_cp3: a clear error before any work, exit 2
    assert main(["segment", str(img), "--model", "livecell_cp3", "-q"]) == 2
    assert "livecell_cp3" in capsys.readouterr().err


def test_parallel_options_reach_the_run(tmp_path, monkeypatch, capsys):
    import napari_batchseg.runners as runners

    seen = []
    real = runners.resolve_options

    def recording(options, params):  # the real resolution, recorded
        seen.append(options)
        return real(options, params)

    monkeypatch.setattr(runners, "resolve_options", recording)
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    tifffile.imwrite(tmp_path / "a_vSM.ome.tif", np.zeros((1, 32, 32), np.uint16))  # skipped: no worker
    # needs to start (an unreadable mask would be redone: its log has no output id, issue 22)
    (tmp_path / "a_vSM.log").write_text("log\n")  # a mask without its log would be redone (issue 9)
    assert main(["segment", str(img), "--parallel", "files", "--processes", "2",
                 "--threads-per-process", "1", "-q"]) == 0
    (options,) = seen
    assert (options.parallel, options.processes, options.threads_per_process) == ("files", 2, 1)
    assert "0 done, 1 skipped, 0 failed" in capsys.readouterr().err


def test_run_options_saved_in_the_config_and_read_back(tmp_path, monkeypatch):
    """--save-config keeps --parallel, --measure, ... (a walk: they were lost); the command line wins."""
    from napari_batchseg.cli import build_parser, params_from_args

    monkeypatch.chdir(tmp_path)
    tifffile.imwrite("a.tif", np.zeros((32, 32), np.uint16))
    assert main(["segment", "a.tif", "--parallel", "files", "--processes", "2", "--measure", "--track",
                 "--model", str(STARTER), "--dry-run", "--save-config", "p.yaml"]) == 0
    saved = yaml.safe_load(Path("p.yaml").read_text())
    assert {k: saved[k] for k in ("parallel", "processes", "measure", "track")} == {
        "parallel": "files", "processes": 2, "measure": True, "track": True}
    assert "mask_workers" not in saved and "dask_local" not in saved  # only options given are kept
    args = build_parser().parse_args(["segment", "a.tif", "--config", "p.yaml", "--processes", "1"])
    params_from_args(args)
    assert (args.parallel, args.processes, args.measure, args.track) == ("files", 1, True, True)
    Path("bad.yaml").write_text("parallel: threads\n")
    with pytest.raises(ParameterError, match=r"bad.yaml: parallel must be none or files or frames"):
        params_from_args(build_parser().parse_args(["segment", "a.tif", "--config", "bad.yaml"]))
    Path("bad.yaml").write_text("processes: true\n")
    with pytest.raises(ParameterError, match=r"processes must be a whole number, got True"):
        params_from_args(build_parser().parse_args(["segment", "a.tif", "--config", "bad.yaml"]))


# --------------------------------------------------------------------------- output for pipes and logs
def _cli(*args: str, columns: int = 40, **kw) -> subprocess.Popen:
    """``batchseg ARGS`` as a subprocess whose stdout and stderr are pipes (not terminals)."""
    env = {**os.environ, "COLUMNS": str(columns), FACTORY_ENV: "napari_batchseg.testing:threshold_segmenter",
           **kw.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "napari_batchseg.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_no_progress_line_before_the_model_is_ready_or_when_nothing_is_segmented(tmp_path):
    """Walk: ``segment ... --model nope 2>err`` wrote ``frames   0/1 -:--:--`` to stderr (not a terminal)
    before its ``error:`` line. The bar shows from the first file segmented on: an error alone is one
    line, and a run that skips every file shows no bar either."""
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    proc = _cli("segment", str(img), "--model", str(tmp_path / "nope.pth"), env={FACTORY_ENV: ""})
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "nope.pth" in line
    proc = _cli("segment", str(img), columns=200)  # (the threshold segmenter): the bar, once, at the end
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert [x for x in err.splitlines() if x.endswith("1/1 0:00:00")], err
    proc = _cli("segment", str(img), "--existing", "skip", columns=200)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.startswith("napari-batchseg summary\n"), err  # the summary alone (it had 'frames ... 0/0')
    assert "0 done, 1 skipped, 0 failed" in err


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """``batchseg ARGS`` with stdout and stderr on a pseudo-terminal (no segmenter factory): status, text."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "160"}
    env.pop(FACTORY_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "napari_batchseg.cli", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # (Linux: EIO once the child closed its side)
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_shows_the_model_loading(tmp_path, dsb2018):
    """Walk: in a terminal nothing showed while the model loaded (seconds, minutes for a large one on a
    slow disk): the bar appeared at the first file. A line says which model loads, on a terminal
    only; off a terminal nothing shows before the model is ready (see above)."""
    img = tmp_path / "small.tif"
    tifffile.imwrite(img, np.asarray(tifffile.imread(dsb2018[0]))[:128, :128])
    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    status, text = _on_a_terminal("segment", str(img), "--model", str(model), "--output-dir", str(tmp_path))
    assert status == 0, text
    said = "loading cellpose model batchseg_nuclei_cp3…"
    assert said in text and text.index(said) < text.index("small.tif"), text[:2000]
    assert (tmp_path / "small_vSM.ome.tif").is_file()
    proc = _cli("segment", str(img), "--suffix", "pipe", columns=200)  # a pipe: no loading line
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "loading" not in err, err


def test_info_on_a_folder_says_it_is_one_and_what_to_give(tmp_path, dsb2018, capsys):
    """Walk: ``batchseg info some_folder/`` said ``ERROR ...: unsupported file type (no extension)``."""
    shutil.copy(dsb2018[0], tmp_path / "a.tif")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    assert main(["info", f"{tmp_path}/", str(tmp_path / "sub"), str(tmp_path / "a.tif")]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"ERROR {tmp_path}/: a folder, and info reads files: give them, e.g. batchseg info {tmp_path}/* "
        "(1 file(s) of a supported type in it: a.tif)",
        f"ERROR {tmp_path / 'sub'}: a folder, and info reads files: it holds no file of a supported type "
        f"({', '.join(supported_extensions())})"]
    assert out.startswith(f"{tmp_path / 'a.tif'}\n  format: tiff")  # the file given beside them is read


def test_an_output_folder_the_run_made_and_left_empty_is_removed(tmp_path, capsys):
    """Walk: a model that cannot load (``--model nope``, ``cyto3`` offline, ``--method sam`` offline) ended
    with exit status 2 and a good message, but the ``--output-dir`` folder the command had made stayed,
    empty. A folder the command made and left empty goes; one that was there, or holds anything, stays."""
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    nope = str(tmp_path / "nope.pth")
    made = tmp_path / "new" / "deeper" / "out"
    assert main(["segment", str(img), "--model", nope, "--output-dir", str(made), "-q"]) == 2
    assert "nope.pth" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # all three levels it made
    there = tmp_path / "there"
    there.mkdir()
    assert main(["segment", str(img), "--model", nope, "--output-dir", str(there), "-q"]) == 2
    assert there.is_dir() and not any(there.iterdir())  # it was there before: kept, empty as it was
    assert main(["segment", str(img), "--model", nope, "--output-dir", str(there / "sub"), "-q"]) == 2
    assert there.is_dir() and not any(there.iterdir())  # only what it made is removed
    capsys.readouterr()


def test_error_lines_are_never_wrapped_off_a_terminal(tmp_path):
    """A 200-character folder, COLUMNS=40, stderr a pipe: each error line holds the whole path."""
    deep = tmp_path / ("d" * 200)
    deep.mkdir()
    log = deep / "gone_vSM.log"
    proc = _cli("rerun", str(log))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    (line,) = err.splitlines()  # one line, not one per 40 columns
    assert line.startswith("error: cannot read a run from ") and str(log) in line

    missing = deep / "missing_BF.tif"
    proc = _cli("segment", str(missing), "-q")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    lines = err.splitlines()
    failed = [x for x in lines if x.startswith("failed:")]
    assert failed == [f"failed: {missing}: file not found"]
    row = [x for x in lines if "missing_BF.tif" in x and not x.startswith("failed:")]
    assert len(row) == 1 and str(missing) in row[0]  # the summary table's row is not folded either
    assert "0 done, 0 skipped, 1 failed" in lines

    # FORCE_COLOR (set by many CI services) colours the lines but does not make a pipe a terminal
    proc = _cli("rerun", str(log), env={"FORCE_COLOR": "1"})
    out, err = proc.communicate(timeout=120)
    (line,) = re.sub(r"\x1b\[[0-9;]*m", "", err).splitlines()
    assert proc.returncode == 2 and str(log) in line


def test_a_plan_note_is_printed_once(tmp_path):
    """A walk: each note of the plan came twice on stderr, as the CLI's warning and again bare (the
    engine's log record, printed by Python's last-resort handler)."""
    import tifffile

    tifffile.imwrite(tmp_path / "flat_BF.tif", np.zeros((32, 32), np.uint16))  # YX: its axes are known
    proc = _cli("segment", str(tmp_path), "--axes", "ZYX", "--output-dir", str(tmp_path / "out"), "-q")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.count("not applied to 1 file(s)") == 1, err
    assert "warning: axes ZYX not applied to 1 file(s)" in err


def test_the_summary_names_every_position(tmp_path):
    """A walk: the summary named the positions of a file "pos.ome.tif" and "pos.ome.tif [P1]" (the dry
    run [P0] and [P1])."""
    import tifffile

    with tifffile.TiffWriter(tmp_path / "pos_BF.ome.tif", ome=True) as tw:  # two series: two positions
        for _ in range(2):
            tw.write(np.zeros((2, 32, 32), np.uint16), metadata={"axes": "TYX"})
    proc = _cli("segment", str(tmp_path), "--output-dir", str(tmp_path / "out"), columns=200)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = [line for line in err.splitlines() if "pos_BF.ome.tif" in line and "done" in line]
    assert len(rows) == 2 and "[P0]" in rows[0] and "[P1]" in rows[1], err


@pytest.mark.parametrize("command", ["info", "evaluate"])
def test_closed_pipe_stops_quietly(command, dsb2018):
    """``batchseg info ... | head``: the reader goes away; no BrokenPipeError traceback, exit 141."""
    image, gt = dsb2018
    args = [str(image)] * 400 if command == "info" else [str(gt), str(gt)]
    proc = _cli(command, *args)
    if command == "info":
        assert proc.stdout.readline().strip() == str(image)  # as `head -1`: read a line, then leave
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == BROKEN_PIPE_STATUS == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err
    assert err == ""


def test_a_rerun_whose_output_is_there_suggests_what_a_rerun_can_do(tmp_path, monkeypatch, capsys):
    """Walk: ``rerun`` with its output already there said ``(use --existing overwrite or --existing
    skip)``; skipping does nothing useful for a rerun: it suggests --suffix, --output-dir or overwrite."""
    monkeypatch.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")
    img = tmp_path / "a.tif"
    tifffile.imwrite(img, np.zeros((32, 32), np.uint16))
    assert main(["segment", str(img), "-q"]) == 0
    mask = tmp_path / "a_vSM.ome.tif"
    before = mask.read_bytes()
    capsys.readouterr()
    assert main(["rerun", str(tmp_path / "a_vSM.log"), "-q"]) == 1
    err = capsys.readouterr().err
    assert (f"failed: output exists: {mask} (use --suffix S or --output-dir DIR for new outputs, or "
            "--existing overwrite to replace it)") in err.splitlines()
    assert "--existing skip" not in err and mask.read_bytes() == before
    assert main(["rerun", str(tmp_path / "a_vSM.log"), "--suffix", "again", "-q"]) == 0  # as suggested
    assert main(["segment", str(img), "--existing", "error", "-q"]) == 1  # segment's suggestion: as it was
    err = capsys.readouterr().err
    assert f"failed: output exists: {mask} (use --existing overwrite or --existing skip)" in err
