"""Where a Cellpose model's weights come from: built-in names, downloads, user model files.

* a **built-in** name of the installed Cellpose (3: ``cyto3``, ``nuclei``, ...;
  :data:`~..catalog.CELLPOSE_MODELS`; 4: ``cpsam_v2``, ``cpsam``, ...; :data:`~..catalog.CELLPOSE4_MODELS`)
  is looked up in
  Cellpose's model folder (``$CELLPOSE_LOCAL_MODELS_PATH``, default ``~/.cellpose/models``). A missing
  file is downloaded with Cellpose's own downloader under a socket timeout; when that fails (no
  internet) or downloads are off, :class:`~napari_batchseg.errors.ModelError` says which file to put
  where. The offline and time-out rules are the package's own (:mod:`.._weights`).
* **anything else** is a path to a user-trained model file. A path that does not exist fails at once:
  Cellpose itself would silently fall back to downloading ``cyto3`` (Cellpose 4: ``cpsam_v2``).
* :func:`weights_major` tells a Cellpose 3 weights file from a Cellpose 4 one by the names in its state
  dict, reading only the small pickle inside the file (not the tensors), so a mismatch is refused before
  loading.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...errors import ModelError, describe
from .._weights import (
    OFFLINE_ENV,
    check_host,
    checking,
    download_timeout,
    installed_source,
    note_download,
    offline,
    socket_timeout,
)
from ..catalog import cellpose_builtins, cellpose_major
from ..safe_load import check_loadable

__all__ = [
    "MODEL_DIR_ENV",
    "builtin_weights_name",
    "ensure_builtin_file",
    "model_dir",
    "model_url",
    "resolve_user_model",
    "sha256",
    "size_weights_name",
    "weights_major",
]

MODEL_DIR_ENV = "CELLPOSE_LOCAL_MODELS_PATH"
_FALLBACK_MODEL_URL = "https://www.cellpose.org/models"


def model_dir() -> Path:
    """Cellpose's model folder as the environment says *now*.

    Cellpose reads ``CELLPOSE_LOCAL_MODELS_PATH`` once, when it is imported; this reads it at each call
    so a setting made later (tests, a GUI) is honoured, and the same folder is handed to Cellpose.
    """
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cellpose" / "models"


def builtin_weights_name(model: str) -> str:
    """File name of a built-in model's weights (as Cellpose's ``model_path`` names it)."""
    return f"{model}torch_0" if model in ("cyto", "cyto2", "nuclei") else model


def size_weights_name(model: str) -> str:
    """File name of a built-in model's size-model weights (as Cellpose's ``size_model_path``)."""
    return "size_cyto3.npy" if model == "cyto3" else f"size_{model}torch_0.npy"


def cellpose_models() -> Any:  # cellpose is untyped
    """Import ``cellpose.models``, making PyPI's torchvision importable first under Cellpose 4.

    Cellpose 4's network imports ``segment_anything``, which imports torchvision; PyPI's torchvision
    beside a CPU-only torch fails with ``operator torchvision::nms does not exist``. The same
    compatibility step micro-sam uses (:func:`..microsam._torchvision_compat.ensure_torchvision`: a
    pure-torch ``nms`` registered only where the real one is missing) runs before the import.
    torch is imported through :func:`...quiet_import.import_quietly` (the first import may happen in a
    napari worker thread).
    """
    from ...quiet_import import import_quietly, paused_collector

    import_quietly(["torch"])  # in a GUI process: without long stalls of the GUI thread
    with paused_collector():
        if cellpose_major() == 4:
            from ..microsam._torchvision_compat import ensure_torchvision

            ensure_torchvision()
        from cellpose import models

    return models


def _source_model_url() -> str | None:
    """``_MODEL_URL`` as written in the installed ``cellpose/models.py``, read without importing it.

    Importing ``cellpose.models`` imports torch (seconds, tens of seconds on a loaded machine): a missing
    file must be reported without that cost.
    """
    text = installed_source("cellpose", "models.py")
    if text is None:
        return None
    found = re.search(r"""^_MODEL_URL\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    return found.group(1) if found else None


def model_url(file_name: str) -> str:
    """Download address Cellpose uses for a built-in weights file (its ``models._MODEL_URL``)."""
    loaded = sys.modules.get("cellpose.models")
    base = getattr(loaded, "_MODEL_URL", None) if loaded is not None else _source_model_url()
    if base is None:
        try:
            base = getattr(cellpose_models(), "_MODEL_URL", _FALLBACK_MODEL_URL)
        except Exception:  # pragma: no cover - cellpose missing is reported elsewhere
            base = _FALLBACK_MODEL_URL
    return f"{str(base).rstrip('/')}/{file_name}"


#: the host check before a download (:func:`.._weights.check_host`)
_check_host = check_host


def _download(url: str, destination: Path) -> None:
    """Cellpose's own downloader (temp file, then move), bounded by a socket timeout.

    Cellpose's downloader turns off certificate checks for every later HTTPS connection of the process
    (it sets ``ssl._create_default_https_context``); the process's own setting is put back after it.
    """
    import ssl

    _check_host(url)
    from cellpose import utils as cp_utils

    context = ssl._create_default_https_context
    try:
        with socket_timeout(download_timeout()):
            cp_utils.download_url_to_file(url, os.fspath(destination), progress=False)
    finally:
        ssl._create_default_https_context = context


def _folder_origin(folder: Path) -> str:
    if os.environ.get(MODEL_DIR_ENV):
        return f"{folder} (from {MODEL_DIR_ENV})"
    return f"{folder} (Cellpose's default; set {MODEL_DIR_ENV} to use another folder)"


def ensure_builtin_file(model: str, file_name: str, purpose: str, *, note: str = "") -> Path:
    """Return the local path of a built-in weights file, downloading it once if allowed.

    In a dry run (:func:`.._weights.checking_only`) nothing is downloaded or created: a missing file
    adds a line saying the run would download it (name, folder, address) and its would-be path is
    returned; with ``BATCHSEG_OFFLINE`` set the error says the run would fail.

    ``note`` is added to the "how to provide it" part of the error (e.g. the file's size).

    Raises
    ------
    ModelError
        The file is missing and cannot be downloaded (offline, or ``BATCHSEG_OFFLINE=1``); the
        message names the model, the folder, the file expected and how to provide it by hand.
    """
    folder = model_dir()
    path = folder / file_name
    if path.is_file():
        return path
    url = model_url(file_name)
    how = (
        f"To use it offline, download {url} on a computer with internet access and save it as "
        f"'{file_name}' in {folder}, or set {MODEL_DIR_ENV} to a folder that holds it."
    )
    if note:
        how = f"{how} {note}"
    head = (
        f"Cellpose built-in model '{model}': {purpose} file '{file_name}' not found in "
        f"{_folder_origin(folder)}"
    )
    if offline():
        if checking():
            raise ModelError(f"{head}; {OFFLINE_ENV} is set, so the run would fail (no download). {how}")
        raise ModelError(f"{head}; {OFFLINE_ENV} is set, so no download was tried. {how}")
    if note_download(
        f"Cellpose built-in model '{model}': {purpose} file '{file_name}' is not in "
        f"{_folder_origin(folder)}; the run would download it from {url} (needs internet) and save it there"
    ):
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _download(url, path)
    except Exception as exc:  # no network, proxy, timeout, disk full, ...
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
        reason = describe(exc)
        raise ModelError(f"{head} and downloading it failed ({reason}). {how}") from exc
    if not path.is_file():
        raise ModelError(f"{head} and the download did not produce it. {how}")
    return path


def resolve_user_model(model: str, builtins: Sequence[str] | None = None, hint: str = "") -> Path:
    """Resolve a user model given as a path (or as a file name inside Cellpose's model folder).

    ``builtins`` (default: the installed Cellpose's built-in names) are listed in the "not found"
    error, followed by ``hint``.

    Raises
    ------
    ModelError
        The path does not exist, or is a folder (the message lists the files in it), or the file
        needs code from its pickle to load (:func:`..safe_load.check_loadable`; a log or YAML file
        may name any file, and no model file may run code).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        listing = ", ".join(files[:10]) + (", ..." if len(files) > 10 else "") if files else "none"
        raise ModelError(
            f"Cellpose model '{model}' is a folder; pick the model file inside it "
            f"(files there: {listing})"
        )
    if path.is_file():
        check_loadable(path, f"Cellpose model file (--model {model})")
        return path.resolve()
    in_model_dir = model_dir() / model
    plain_name = not any(sep in model for sep in ("/", "\\")) and model not in (".", "..")
    if plain_name and in_model_dir.is_file():  # a model added with Cellpose's GUI
        check_loadable(in_model_dir, f"Cellpose model file (--model {model})")
        return in_model_dir.resolve()
    where = f"{path.resolve()}"
    if plain_name:
        where += f" or {in_model_dir}"
    names = cellpose_builtins() if builtins is None else builtins
    raise ModelError(
        f"Cellpose model '{model}' not found: it is not a built-in model "
        f"({', '.join(names)}) and no file exists at {where}" + (f". {hint}" if hint else "")
    )


#: Names found only in a Cellpose 3 network's state dict (CPnet) / only in a Cellpose 4 one (CPSAM, CPDINO).
_V3_KEYS = (b"downsample.down.res_down_0", b"output.2.weight")
_V4_KEYS = (b"encoder.patch_embed", b"encoder.blocks.0")
_LEGACY_HEAD = 16 << 20  # a legacy (non-zip) torch file holds its pickle, with the key names, first


def weights_major(path: os.PathLike[str] | str) -> int | None:
    """Which Cellpose made a weights file: ``3``, ``4``, or ``None`` when it cannot tell.

    Only the state dict's key names are read: from the small ``data.pkl`` record of a (zip) torch file,
    or from the head of a legacy one, so this takes milliseconds even for Cellpose 4's 1.2 GB files.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
                if not pickles:
                    return None
                text = archive.read(pickles[0])
        else:
            with open(path, "rb") as fh:
                text = fh.read(_LEGACY_HEAD)
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    if any(k in text for k in _V4_KEYS):
        return 4
    if any(k in text for k in _V3_KEYS):
        return 3
    return None


@contextlib.contextmanager
def cellpose_model_dir(folder: Path) -> Iterator[None]:
    """Point Cellpose's import-time ``MODEL_DIR`` at ``folder`` while a built-in model is built."""
    cp_models = cellpose_models()

    old = cp_models.MODEL_DIR
    cp_models.MODEL_DIR = Path(folder)
    try:
        yield
    finally:
        cp_models.MODEL_DIR = old


@functools.lru_cache(maxsize=16)
def sha256(path: os.PathLike[str] | str) -> str:
    """SHA-256 of a weights file (the log then says exactly which weights made a mask)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
