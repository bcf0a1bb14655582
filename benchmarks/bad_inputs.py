"""Bad inputs and bad parameters through the real CLI, each outcome classified automatically (issue 22).

Every case builds its files in a fresh folder, runs ``python -m napari_batchseg.cli ...`` there (the
threshold segmenter through ``BATCHSEG_SEGMENTER_FACTORY``; the project's Cellpose 3 starter model for
the cases marked *model*) under a time limit, and classifies what came back:

* ``clear error``: the case must be refused, and it was (non-zero exit, or the file counted as failed
  in the summary) with a message naming the file or the option, and no Python traceback;
* ``right result``: the case must work, and it did: exit 0 and the expected mask (compared with a run
  on the same pixels under a plain name, or checked as the case says);
* ``traceback``: ``Traceback (most recent call last)`` in the output;
* ``unclear error``: refused, but the message names neither the file nor the option;
* ``wrong result``: a case that must be refused exited 0 without a word, or one that must work was
  refused or gave another mask (or none);
* ``hang``: still running after the time limit (killed).

Run::

    .venv/bin/python benchmarks/bad_inputs.py [--no-model] [--only SUBSTRING] [--timeout S]

It prints one row per case and the tally per kind (input / parameter); exit status 1 when any case is
a traceback, a wrong result, an unclear error or a hang. Figures are in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "examples" / "models" / "batchseg_nuclei_cp3"
FACTORY = "napari_batchseg.testing:threshold_segmenter"
TRACEBACK = "Traceback (most recent call last)"
OUTCOMES = ("clear error", "right result", "traceback", "unclear error", "wrong result", "hang")


def _blobs(shape: tuple[int, ...] = (3, 64, 64), seed: int = 0) -> np.ndarray:
    """uint16 frames of bright discs on a dim noisy background (objects for every segmenter)."""
    rng = np.random.default_rng(seed)
    *lead, h, w = shape
    n = int(np.prod(lead)) if lead else 1
    yy, xx = np.mgrid[:h, :w]
    out = np.empty((n, h, w), np.uint16)
    for i in range(n):
        img = rng.normal(200, 20, (h, w))
        for _ in range(max(3, h * w // 600)):
            cy, cx = rng.integers(6, max(7, h - 6)), rng.integers(6, max(7, w - 6))
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < 16] += 1500
        out[i] = np.clip(img, 0, 65535).astype(np.uint16)
    return out.reshape(shape)


def _movie(folder: Path, name: str = "movie.tif", data: np.ndarray | None = None, axes: str = "TYX") -> Path:
    path = folder / name
    tifffile.imwrite(path, _blobs() if data is None else data, metadata={"axes": axes},
                     photometric="minisblack")
    return path


def _seg(*extra: str) -> list[str]:
    return ["segment", *extra, "--output-dir", "out", "-q"]


@dataclass
class Case:
    """One bad input or parameter: how to build it, what must happen, what a clear error names."""

    name: str
    kind: str  # "input" or "parameter"
    expect: str  # "error" or "ok"
    build: Callable[[Path], list[str]]  # makes the files in the folder; returns the CLI arguments
    needle: str = ""  # a clear error names this (the file or the option)
    check: Callable[[Path], bool] | None = None  # for "ok": the outputs are right
    model: bool = False
    stdin_devnull: bool = True
    note: str = field(default="")


# --------------------------------------------------------------------------- checks
def _labels(path: Path) -> np.ndarray:
    from napari_batchseg.io.masks import read_mask

    return np.asarray(read_mask(path).labels)


def _same_as_reference(mask: str, reference: str = "movie") -> Callable[[Path], bool]:
    """The mask equals the reference run's mask of the same pixels (made in the case folder's parent)."""

    def check(folder: Path) -> bool:
        ref = folder.parent / "_reference" / f"{reference}_vSM.ome.tif"
        out = folder / "out" / mask
        return out.is_file() and np.array_equal(_labels(out), _labels(ref))

    return check


def _has_objects(mask: str, shape: tuple[int, ...] | None = None) -> Callable[[Path], bool]:
    def check(folder: Path) -> bool:
        out = folder / "out" / mask
        if not out.is_file():
            return False
        labels = _labels(out)
        return labels.max() > 0 and (shape is None or labels.shape == shape)

    return check


def _same_objects_as_scaled(mask: str, other: str) -> Callable[[Path], bool]:
    def check(folder: Path) -> bool:
        a, b = folder / "out" / mask, folder / "out" / other
        if not (a.is_file() and b.is_file()):
            return False
        la, lb = _labels(a), _labels(b)
        return la.max() > 0 and la.max() == lb.max()

    return check


# --------------------------------------------------------------------------- builders
def _fifo(f: Path) -> list[str]:
    os.mkfifo(f / "x.tif")
    return _seg("x.tif")


def _fifo_info(f: Path) -> list[str]:
    os.mkfifo(f / "x.tif")
    return ["info", "x.tif"]


def _lying_header(f: Path) -> list[str]:
    path = f / "huge.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    raw = bytearray(path.read_bytes())
    # patch ImageWidth / ImageLength (tags 256 / 257) to 100,000 (LONG) in the first IFD
    ifd = int.from_bytes(raw[4:8], "little")
    n = int.from_bytes(raw[ifd:ifd + 2], "little")
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag = int.from_bytes(raw[at:at + 2], "little")
        if tag in (256, 257):
            raw[at + 2:at + 4] = (4).to_bytes(2, "little")
            raw[at + 4:at + 8] = (1).to_bytes(4, "little")
            raw[at + 8:at + 12] = (100_000).to_bytes(4, "little")
    path.write_bytes(bytes(raw[:768]) if len(raw) > 768 else bytes(raw))
    return _seg("huge.tif")


def _truncated(f: Path) -> list[str]:
    good = _movie(f, "whole.tif")
    data = good.read_bytes()
    (f / "cut.tif").write_bytes(data[: len(data) // 2])
    good.unlink()
    return _seg("cut.tif")


def _write(name: str, content: bytes) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        (f / name).write_bytes(content)
        return _seg(name)

    return build


def _dangling_input(f: Path) -> list[str]:
    (f / "gone.tif").symlink_to(f / "nowhere.tif")
    return _seg("gone.tif")


def _dangling_output(which: str) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f)
        (f / "out").mkdir()
        (f / "out" / f"movie_vSM{which}").symlink_to(f / "nowhere")
        return _seg("movie.tif")

    return build


def _float_pixels(value: float) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        data = _blobs().astype(np.float32)
        data[1, 5, 5] = value
        _movie(f, "bad.tif", data)
        return _seg("bad.tif")

    return build


def _complex(f: Path) -> list[str]:
    _movie(f, "cplx.tif", _blobs().astype(np.complex64) * (1 + 1j))
    return _seg("cplx.tif")


def _case_collision(f: Path) -> list[str]:
    _movie(f, "Img.tif")
    _movie(f, "img.TIF")
    return _seg("Img.tif", "img.TIF")


def _long_name(f: Path) -> list[str]:
    stem = "n" * (255 - len("_vSM.ome.tif"))
    _movie(f, stem + ".tif")
    return _seg(stem + ".tif")


def _renamed(name: str) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f, name)
        return _seg(name)

    return build


def _dash_name(f: Path) -> list[str]:
    _movie(f, "-x.tif")
    return ["segment", "--output-dir", "out", "-q", "--", "-x.tif"]


def _rgb(f: Path) -> list[str]:
    data = (np.stack([_blobs((64, 64), seed=s) for s in range(3)], -1) // 256).astype(np.uint8)
    tifffile.imwrite(f / "movie.tif", data, photometric="rgb")
    return _seg("movie.tif")


def _vsmc_folder(f: Path) -> list[str]:
    (f / "data").mkdir()
    _movie(f / "data", "vSMC_cells.tif")
    return _seg("data")


def _plain(data: np.ndarray, axes: str, name: str = "movie.tif", *extra: str) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f, name, data, axes)
        return _seg(name, *extra)

    return build


def _ambiguous(f: Path) -> list[str]:
    # no axes: 5 frames, slices or channels?
    tifffile.imwrite(f / "amb.tif", _blobs((5, 64, 64)), photometric="minisblack", metadata=None)
    return _seg("amb.tif")


def _ambiguous_with_axes(f: Path) -> list[str]:
    tifffile.imwrite(f / "amb.tif", _blobs((3, 64, 64)), photometric="minisblack", metadata=None)
    return _seg("amb.tif", "--axes", "TYX")


def _output_dir_is_a_file(f: Path) -> list[str]:
    _movie(f)
    (f / "taken").write_text("a file")
    return ["segment", "movie.tif", "--output-dir", "taken", "-q"]


def _empty_folder(f: Path) -> list[str]:
    (f / "nothing").mkdir()
    return _seg("nothing")


def _missing_input(f: Path) -> list[str]:
    return _seg("absent.tif")


def _png_named_tif(f: Path) -> list[str]:
    (f / "fake.tif").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return _seg("fake.tif")


def _opt(*option: str, movie: str = "movie.tif") -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f, movie)
        return _seg(movie, *option)

    return build


def _model_opt(*option: str, shape: tuple[int, ...] = (1, 200, 200)) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f, "movie.tif", _blobs(shape))
        return _seg("movie.tif", "--model", str(STARTER), *option)

    return build


def _tiny_float(f: Path) -> list[str]:
    data = _blobs((1, 128, 128)).astype(np.float32)
    _movie(f, "plain.tif", data)
    _movie(f, "tiny.tif", data * 1e-7)
    return _seg("plain.tif", "tiny.tif", "--model", str(STARTER))


def _config(text: str) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        _movie(f)
        (f / "bad.yaml").write_text(text)
        return _seg("movie.tif", "--config", "bad.yaml")

    return build


def _bad_log(text: str) -> Callable[[Path], list[str]]:
    def build(f: Path) -> list[str]:
        (f / "movie_vSM.log").write_text(text)
        return ["rerun", "movie_vSM.log", "-q"]

    return build


def _info_to_head(f: Path) -> list[str]:
    for i in range(40):
        _movie(f, f"m{i:02d}.tif")
    return ["info", "."]


# --------------------------------------------------------------------------- the catalogue
def catalogue() -> list[Case]:
    """Every case, inputs first."""
    big_t = _blobs((6, 64, 64))
    inputs = [
        Case("named pipe called x.tif (segment)", "input", "error", _fifo, "x.tif"),
        Case("named pipe called x.tif (info)", "input", "error", _fifo_info, "x.tif"),
        Case("768-byte TIFF whose header claims 100,000 x 100,000", "input", "error", _lying_header,
             "huge.tif"),
        Case("TIFF cut in half", "input", "error", _truncated, "cut.tif"),
        Case("empty file", "input", "error", _write("empty.tif", b""), "empty.tif"),
        Case("random bytes", "input", "error", _write("noise.tif", bytes(range(256)) * 8), "noise.tif"),
        Case("text file named .tif", "input", "error", _write("text.tif", b"hello\n" * 50), "text.tif"),
        Case("PNG named .tif", "input", "error", _png_named_tif, "fake.tif"),
        Case("TIFF magic then garbage", "input", "error", _write("magic.tif", b"II*\x00" + bytes(400)),
             "magic.tif"),
        Case("dangling symbolic link as input", "input", "error", _dangling_input, "gone.tif"),
        Case("missing input", "input", "error", _missing_input, "absent.tif"),
        Case("empty folder as input (warning, nothing to do)", "input", "error", _empty_folder, "nothing"),
        Case("dangling link at the mask's name", "input", "error", _dangling_output(".ome.tif"), "movie"),
        Case("dangling link at the log's name", "input", "error", _dangling_output(".log"), "movie"),
        Case("NaN pixel", "input", "error", _float_pixels(float("nan")), "bad.tif"),
        Case("infinite pixel", "input", "error", _float_pixels(float("inf")), "bad.tif"),
        Case("complex pixels", "input", "error", _complex, "cplx.tif"),
        Case("case-only collision Img.tif / img.TIF", "input", "error", _case_collision, "img.TIF"),
        Case("3-D file without axes (ambiguous)", "input", "error", _ambiguous, "amb.tif"),
        Case("output folder is a file", "input", "error", _output_dir_is_a_file, "taken"),
        Case("output name of 255 bytes (lock/partial names longer)", "input", "ok", _long_name,
             check=_same_as_reference("n" * (255 - len("_vSM.ome.tif")) + "_vSM.ome.tif")),
        Case("name containing vSMC, in a folder", "input", "ok", _vsmc_folder,
             check=_same_as_reference("vSMC_cells_vSM.ome.tif")),
        Case("name with spaces and accents", "input", "ok", _renamed("cellules été 1.tif"),
             check=_same_as_reference("cellules été 1_vSM.ome.tif")),
        Case("name starting with a dash (after --)", "input", "ok", _dash_name,
             check=_same_as_reference("-x_vSM.ome.tif")),
        Case("3-D file without axes, with --axes TYX", "input", "ok", _ambiguous_with_axes,
             check=_same_as_reference("amb_vSM.ome.tif")),
        Case("all-zero image", "input", "ok", _plain(np.zeros((2, 64, 64), np.uint16), "TYX"),
             check=lambda f: (f / "out/movie_vSM.ome.tif").is_file()
             and _labels(f / "out/movie_vSM.ome.tif").max() == 0),
        Case("float64 image in 0..1", "input", "ok",
             _plain(_blobs().astype(np.float64) / 65535, "TYX"),
             check=_same_as_reference("movie_vSM.ome.tif")),
        Case("int32 image with negative values", "input", "ok",
             _plain(_blobs().astype(np.int32) - 30000, "TYX"),
             check=_same_as_reference("movie_vSM.ome.tif")),
        Case("RGB image", "input", "ok", _rgb, check=_has_objects("movie_vSM.ome.tif", (1, 64, 64))),
        Case("1 x 1 image", "input", "ok", _plain(np.full((1, 1), 7, np.uint16), "YX"),
             check=lambda f: (f / "out/movie_vSM.ome.tif").is_file()),
        Case("6-frame movie, --start-frame 4", "input", "ok", _plain(big_t, "TYX", "movie.tif",
                                                                      "--start-frame", "4"),
             check=lambda f: (f / "out/movie_vSM.ome.tif").is_file()),
        Case("float image with a 1-99 % range of 1e-7 (model)", "input", "ok", _tiny_float,
             check=_same_objects_as_scaled("tiny_vSM.ome.tif", "plain_vSM.ome.tif"), model=True),
        Case("7 x 7 image (model)", "input", "error", _model_opt(shape=(1, 7, 7)), "movie.tif", model=True),
    ]
    refused = [  # (options, what the error must name): each on a plain 3-frame movie
        (("--diameter", "nan"), "diameter"), (("--diameter", "inf"), "diameter"),
        (("--diameter", "-5"), "diameter"), (("--diameter", "abc"), "diameter"),
        (("--cellprob-threshold", "nan"), "cellprob"), (("--cellprob-threshold", "1e6"), "cellprob"),
        (("--flow-threshold", "inf"), "flow"), (("--flow-threshold", "-1"), "flow"),
        (("--niter", "1000000000000"), "niter"), (("--niter", "-5"), "niter"),
        (("--start-frame", "1e400"), "start"), (("--start-frame", "10"), "movie.tif"),
        (("--start-frame", "2", "--end-frame", "1"), "frame"), (("--tile-shape", "nan,512"), "tile"),
        (("--halo", "64,-1", "--method", "sam"), "halo"),
        (("--sam-set", "foreground_threshold=.nan"), "foreground_threshold"),
        (("--sam-set", "oops"), "sam-set"),
        (("--z-range", "5-9"), "movie.tif"), (("--z-range", "9-5"), "z"), (("--z-range", "abc"), "z"),
        (("--channel", "5"), "channel"), (("--channel", "nan"), "channel"),
        (("--parallel", "files", "--processes", "0"), "processes"),
        (("--parallel", "files", "--processes", "-1"), "processes"), (("--batch-frames", "0"), "batch"),
        (("--dry-run", "--parallel", "files", "--processes", "0"), "processes"),
        (("--dask-local", "0"), "dask"), (("--existing", "bogus"), "existing"), (("--axes", "QQQ"), "axes"),
        (("--batch-size", "nan"), "batch"),
    ]
    params = [Case(" ".join(opts), "parameter", "error", _opt(*opts), needle) for opts, needle in refused]
    params += [
        Case("--processes 64 on 2 cores (reduced, with a note)", "parameter", "ok",
             _opt("--parallel", "files", "--processes", "64"), check=_same_as_reference("movie_vSM.ome.tif")),
        Case("--config with a python tag", "parameter", "error",
             _config("diameter: !!python/object/apply:os.system ['touch pwned']\n"), "bad.yaml"),
        Case("--config with an unknown key", "parameter", "error", _config("diametre: 30\n"), "diametre"),
        Case("--config that is a list", "parameter", "error", _config("- 1\n- 2\n"), "bad.yaml"),
        Case("--config that is not YAML", "parameter", "error", _config("a: [1, 2\n"), "bad.yaml"),
        Case("--config missing", "parameter", "error",
             lambda f: (_movie(f), _seg("movie.tif", "--config", "nope.yaml"))[1], "nope.yaml"),
        Case("rerun of an empty log", "parameter", "error", _bad_log(""), "movie_vSM.log"),
        Case("rerun of a log with broken JSON parameters", "parameter", "error",
             _bad_log("parameters: {not json\n"), "movie_vSM.log"),
        Case("rerun of a log that is binary", "parameter", "error", _bad_log("\x00\x01\x02" * 30),
             "movie_vSM.log"),
        Case("--diameter 1 on a 200 x 200 image (model)", "parameter", "error", _model_opt("--diameter", "1"),
             "diameter", model=True),
        Case("--diameter 0.01 (model)", "parameter", "error", _model_opt("--diameter", "0.01"), "diameter",
             model=True),
        Case("--diameter 1e-300 (model)", "parameter", "error", _model_opt("--diameter", "1e-300"),
             "diameter", model=True),
        Case("--diameter 5000 on a 200 x 200 image (model)", "parameter", "error",
             _model_opt("--diameter", "5000"), "movie.tif", model=True),
    ]
    return inputs + params


# --------------------------------------------------------------------------- running and classifying
_FAILED = re.compile(r"(\d+) failed")


def _refused(rc: int, text: str) -> bool:
    found = _FAILED.findall(text)
    return rc != 0 or any(int(n) > 0 for n in found)


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        low = line.lower()
        if any(w in low for w in ("error", "not ", "cannot", "refus", "invalid", "must", "warning", "fail")):
            return line.strip()[:150]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:150] if lines else ""


def run_case(case: Case, folder: Path, timeout: float) -> tuple[str, str]:
    """Build and run ``case`` in ``folder``; return (outcome, the line that shows it)."""
    folder.mkdir()
    args = case.build(folder)
    env = dict(os.environ, COLUMNS="200")
    if not case.model:
        env["BATCHSEG_SEGMENTER_FACTORY"] = FACTORY
    proc = subprocess.Popen([sys.executable, "-m", "napari_batchseg.cli", *args], cwd=folder, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        text, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "hang", f"still running after {timeout:.0f} s"
    rc = proc.returncode
    if (folder / "pwned").exists():
        return "wrong result", "code ran: the file the YAML tag would create exists"
    if TRACEBACK in text:
        tail = [ln for ln in text.splitlines() if ln.strip()][-1]
        return "traceback", tail[:150]
    if case.expect == "error":
        if not _refused(rc, text) and "warning" not in text.lower():
            return "wrong result", f"exit {rc}, no error: {_first_error_line(text)}"
        if case.needle.lower() in text.lower():
            return "clear error", f"exit {rc}: {_first_error_line(text)}"
        return "unclear error", f"exit {rc}: {_first_error_line(text)}"
    if rc != 0 or _refused(rc, text):
        return "wrong result", f"refused (exit {rc}): {_first_error_line(text)}"
    if case.check is not None and not case.check(folder):
        return "wrong result", "exit 0, but the mask is missing or differs"
    return "right result", f"exit {rc}"


def _reference(root: Path) -> None:
    """The masks the 'ok' cases are compared with: the plain movie through the same CLI."""
    ref = root / "_reference"
    ref.mkdir()
    _movie(ref)
    env = dict(os.environ, BATCHSEG_SEGMENTER_FACTORY=FACTORY)
    subprocess.run([sys.executable, "-m", "napari_batchseg.cli", "segment", "movie.tif", "--output-dir", ".",
                    "-q"], cwd=ref, env=env, check=True, capture_output=True)


def _info_pipe_case(root: Path, timeout: float) -> tuple[str, str]:
    """``batchseg info FOLDER | head -1``: the closed pipe must not end in a BrokenPipeError traceback."""
    folder = root / "info-head"
    folder.mkdir()
    _info_to_head(folder)
    env = dict(os.environ, BATCHSEG_SEGMENTER_FACTORY=FACTORY)
    cli = f"{sys.executable} -m napari_batchseg.cli"
    cmd = f"{cli} info . 2>err.txt | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    try:
        out = subprocess.run(["bash", "-c", cmd], cwd=folder, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", f"still running after {timeout:.0f} s"
    err = (folder / "err.txt").read_text(errors="replace")
    if TRACEBACK in err:
        return "traceback", err.strip().splitlines()[-1][:150]
    return "right result", f"exit {out.stdout.strip()}, stderr {err.strip()[:80]!r}"


def main(argv: list[str] | None = None) -> int:
    """Run the catalogue; print a row per case and the tally; exit 1 when something is not right."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--no-model", action="store_true", help="leave out the cases that load the model")
    ap.add_argument("--only", action="append", default=[], help="run the cases whose name contains this")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a case is a hang")
    args = ap.parse_args(argv)
    cases = [c for c in catalogue() if (not args.only or any(o in c.name for o in args.only))
             and not (c.model and args.no_model)]
    if any(c.model for c in cases) and not STARTER.exists():
        print(f"no model at {STARTER}: run examples/train_starter_model.py, or pass --no-model")
        return 2
    tally: dict[str, Counter] = {"input": Counter(), "parameter": Counter()}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as tmp:
        root = Path(tmp)
        _reference(root)
        rows = []
        for i, case in enumerate(cases):
            outcome, line = run_case(case, root / f"case{i:02d}", args.timeout * (3 if case.model else 1))
            tally[case.kind][outcome] += 1
            rows.append((case.kind, case.name, case.expect, outcome, line))
            print(f"{case.kind:9} | {case.name:55.55} | {case.expect:5} | {outcome:13} | {line}", flush=True)
            shutil.rmtree(root / f"case{i:02d}", ignore_errors=True)
        if not args.only or "info" in args.only:
            outcome, line = _info_pipe_case(root, args.timeout)
            tally["parameter"][outcome] += 1
            name = "info FOLDER | head -1 (closed pipe)"
            print(f"{'parameter':9} | {name:55} | ok    | {outcome:13} | {line}")
    print()
    print(f"{'kind':10} {'tried':>5} " + " ".join(f"{o:>13}" for o in OUTCOMES))
    total: Counter = Counter()
    for kind, counts in tally.items():
        total += counts
        print(f"{kind:10} {sum(counts.values()):5} " + " ".join(f"{counts[o]:13}" for o in OUTCOMES))
    print(f"{'all':10} {sum(total.values()):5} " + " ".join(f"{total[o]:13}" for o in OUTCOMES))
    print(f"({time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.1f})")
    bad = sum(total[o] for o in ("traceback", "unclear error", "wrong result", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
