"""SIGINT and SIGTERM in ``measure``, ``track``, ``export`` and ``rethreshold``: a real process and signal.

Each command runs as a subprocess over several masks (or logs) and is signalled once its first output
is in place. It must exit 130 (SIGINT) or 143 (SIGTERM), as ``segment`` does, say how many outputs
it wrote before the signal (they are kept, complete) and leave no temporary file. Before, SIGINT
printed "interrupted: nothing was run" whatever had been written, and SIGTERM killed the command
(status -15, no word, its temporary file left).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage as ndi

from napari_batchseg.cli import FACTORY_ENV, main

N = 6  # masks (or logs) per command: the signal comes after the first output, well before the last


def _start(args: list[str], program: str = "napari_batchseg.cli") -> subprocess.Popen[str]:
    """``batchseg ARGS`` with pipes, SIGINT as a shell leaves it to a program it starts."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", program, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _signal_after_first(proc: subprocess.Popen[str], folder: Path, pattern: str, sig: int) -> str:
    """Send ``sig`` once a file matching ``pattern`` is in ``folder``; the command's stderr."""
    deadline = time.monotonic() + 300
    while not list(folder.glob(pattern)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no output in time"
        time.sleep(0.02)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and "nothing was run" not in err, err
    return err


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture(scope="module")
def masks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``N`` time-lapse masks (10 frames of 256 x 256, hundreds of objects each), with their logs."""
    folder = tmp_path_factory.mktemp("masks")
    rng = np.random.default_rng(0)
    for i in range(N):
        movie = ndi.gaussian_filter(rng.random((10, 256, 256)), (0, 3, 3))
        tifffile.imwrite(folder / f"m{i}.tif", (movie * 60000).astype(np.uint16), metadata={"axes": "TYX"},
                         photometric="minisblack")
    mp = pytest.MonkeyPatch()
    mp.setenv(FACTORY_ENV, "napari_batchseg.testing:threshold_segmenter")  # real labels, no model
    try:
        assert main(["segment", str(folder), "-q"]) == 0
    finally:
        mp.undo()
    return folder


@pytest.mark.parametrize(("program", "sig"), [("napari_batchseg.cli", signal.SIGINT),
                                             ("napari_batchseg.cli_downstream", signal.SIGTERM)])
def test_measure_stopped_says_how_many_masks_it_measured(masks: Path, tmp_path: Path, program: str,
                                                         sig: signal.Signals) -> None:
    proc = _start(["measure", str(masks), "--output-dir", str(tmp_path)], program)
    err = _signal_after_first(proc, tmp_path, "*_objects.csv", sig)
    done = len(list(tmp_path.glob("*_objects.csv")))
    assert 1 <= done < N and len(list(tmp_path.glob("*_summary.csv"))) == done
    assert err.strip() == (f"stopped by {sig.name}: {done} mask(s) measured before it, their outputs kept; "
                           f"{N - done} not measured (nothing partial was kept)")
    assert _hidden(tmp_path) == []


def test_track_stopped_by_sigterm_says_how_many_masks_it_tracked(masks: Path, tmp_path: Path) -> None:
    proc = _start(["track", str(masks), "--output-dir", str(tmp_path)])
    err = _signal_after_first(proc, tmp_path, "*-tracked.log", signal.SIGTERM)
    done = len(list(tmp_path.glob("*-tracked.log")))
    assert 1 <= done < N
    assert len(list(tmp_path.glob("*_tracks.csv"))) == len(list(tmp_path.glob("*-tracked.ome.tif"))) == done
    assert err.strip() == (f"stopped by SIGTERM: {done} mask(s) tracked before it, their outputs kept; "
                           f"{N - done} not tracked (nothing partial was kept)")
    assert _hidden(tmp_path) == []


def test_export_stopped_says_it_was_cut_short(masks: Path, tmp_path: Path) -> None:
    proc = _start(["export", "outlines", str(masks), "--output-dir", str(tmp_path)])
    err = _signal_after_first(proc, tmp_path, "*_outlines.provenance.json", signal.SIGINT)
    assert err.startswith("stopped by SIGINT: the export was cut short: the outputs of the masks exported "
                          "before it are kept"), err
    assert len(err.splitlines()) == 1, err
    assert _hidden(tmp_path) == []
    # the outlines kept are listed in the folder's index (a review: it was written after the last mask only)
    exported = {p.name[: -len("_outlines.provenance.json")] for p in tmp_path.glob("*.provenance.json")}
    assert 1 <= len(exported) < N
    index = pd.read_csv(tmp_path / "outlines_metadata.csv")
    assert {Path(m).name.removesuffix(".ome.tif") for m in index["mask"]} == exported


@pytest.mark.cp3
def test_rethreshold_stopped_by_sigterm_says_how_many_logs_it_did(tmp_path: Path, dsb2018) -> None:
    from napari_batchseg.api import segment_files
    from napari_batchseg.params import SegmentationParams

    model = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"
    image = np.asarray(tifffile.imread(dsb2018[0]))
    for i in range(N):  # crops of the real DSB2018 image, each segmented with its flows kept
        y, x = (i // 3) * 160, (i % 3) * 160
        tifffile.imwrite(tmp_path / f"c{i}.tif", image[y:y + 192, x:x + 192])
    params = SegmentationParams(model=str(model), diameter=0, keep_flows=True)
    assert segment_files(sorted(tmp_path.glob("c*.tif")), params).ok
    proc = _start(["rethreshold", *map(str, sorted(tmp_path.glob("*_vSM.log"))), "--suffix", "s"])
    err = _signal_after_first(proc, tmp_path, "*_vSM-s.ome.tif", signal.SIGTERM)
    done = len(list(tmp_path.glob("*_vSM-s.ome.tif")))
    assert 1 <= done < N and len(list(tmp_path.glob("*_vSM-s.log"))) == done
    assert err.strip() == (f"stopped by SIGTERM: {done} log(s) re-thresholded before it, their outputs "
                           f"kept; {N - done} not re-thresholded (nothing partial was kept)")
    assert _hidden(tmp_path) == []


def _signal_while_reporting(sig: signal.Signals):  # noqa: ANN202
    """A ``report`` that is hit by ``sig`` as it prints its first line: the first output is in place."""
    from napari_batchseg.cli_stop import Stopped

    def report(_line: str) -> None:
        raise Stopped(sig)

    return report


def test_a_signal_after_a_masks_outputs_counts_them(masks: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The signal comes after a mask's outputs are in place, before the command has counted them.

    CI caught it: ``batchseg track`` said only "stopped by SIGTERM" (the signal hit it as it printed
    the mask's line), and one that came while the mask was closed said "0 mask(s) tracked".
    """
    from napari_batchseg.cli_stop import Stopped
    from napari_batchseg.cli_track import track_masks_cli
    from napari_batchseg.tracking import TrackParams

    listed = sorted(masks.glob("*_vSM.ome.tif"))
    with pytest.raises(Stopped) as stop:
        track_masks_cli(listed, TrackParams(), report=_signal_while_reporting(signal.SIGTERM),
                        output_dir=str(tmp_path))
    assert stop.value.reported and stop.value.signum == signal.SIGTERM
    assert len(list(tmp_path.glob("*-tracked.log"))) == 1
    assert capsys.readouterr().err.strip() == (
        f"stopped by SIGTERM: 1 mask(s) tracked before it, their outputs kept; {N - 1} not tracked "
        "(nothing partial was kept)")


def test_a_signal_after_measure_of_segment_counts_the_tables(masks: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``segment --measure``: the tables written before the signal are counted, whether replaced or new."""
    import shutil

    from napari_batchseg.cli_downstream import measure_masks
    from napari_batchseg.cli_stop import Stopped

    for mask in masks.glob("m[01]_vSM.*"):
        shutil.copy2(mask, tmp_path / mask.name)
    listed = sorted(tmp_path.glob("*_vSM.ome.tif"))
    (tmp_path / "m0_vSM_objects.csv").write_text("an earlier table\n")  # replaced: counts as written
    with pytest.raises(Stopped):
        measure_masks(listed, report=_signal_while_reporting(signal.SIGINT))
    assert (tmp_path / "m0_vSM_objects.csv").read_text() != "an earlier table\n"
    assert not (tmp_path / "m1_vSM_objects.csv").exists()
    assert capsys.readouterr().err.strip() == (
        "stopped by SIGINT: 1 mask(s) measured before it, their outputs kept; 1 not measured "
        "(nothing partial was kept)")
