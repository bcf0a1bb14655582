"""Whether a built-in model's weights are on this computer, read from the file system only.

Where the run looks (and downloads into): Cellpose's model folder (``CELLPOSE_LOCAL_MODELS_PATH``,
default ``~/.cellpose/models``; :func:`.cellpose.files.model_dir`) and micro-sam's cache folder
(``MICROSAM_CACHEDIR/models``, default micro-sam's folder in the user cache;
:func:`.microsam.weights.models_folder`).
Nothing here imports torch, Cellpose or micro-sam, or opens a connection: a front end can ask as soon as a
model is chosen (the dock does it in a worker thread: it reads the disk).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ._weights import OFFLINE_ENV, check_host, failed_download, offline
from .catalog import cellpose_major, is_cellpose_builtin

__all__ = ["OnDisk", "builtin_on_disk", "fail_before_import"]


@dataclass(frozen=True)
class OnDisk:
    """The files a built-in model needs, where the run looks for them, and which are missing.

    Attributes
    ----------
    model
        The built-in model's name.
    folder
        The folder the run looks in and downloads into.
    origin
        What chose the folder (the environment variable set, or the package's default).
    files
        The files the run needs (weights, and a size model or a decoder where the run uses one).
    missing
        Those not in ``folder`` (empty: all there).
    offline
        Whether ``BATCHSEG_OFFLINE`` forbids the download (a missing file then fails the run).
    """

    model: str
    folder: Path
    origin: str
    files: tuple[str, ...]
    missing: tuple[str, ...]
    offline: bool

    @property
    def present(self) -> bool:
        """Whether every file is in :attr:`folder`."""
        return not self.missing

    def note(self) -> str:
        """One short line: the weights are on this computer (where), or the run downloads them (or fails)."""
        where = f"{self.folder} ({self.origin})"
        if self.present:
            return f"{self.model}: weights on this computer, in {where}"
        what = "weights" if len(self.missing) == len(self.files) else " and ".join(self.missing)
        if self.offline:
            return (f"{self.model}: {what} not on this computer (looked in {where}); {OFFLINE_ENV} is set, "
                    "so the run will fail")
        return (f"{self.model}: {what} not on this computer (looked in {where}); the run downloads them "
                "first (needs internet)")


def builtin_on_disk(method: str, model: str, *, sam_mode: str = "auto", diameter: float | None = None,
                    checkpoint: str | None = None) -> OnDisk | None:
    """Where the built-in model ``model`` of ``method`` is looked for, and which of its files are missing.

    ``None`` when ``model`` is not a built-in model (a model file, a micro-sam ``checkpoint``, an unknown
    name): there is nothing to download. The same files as the run: Cellpose 3's size model only for
    ``diameter`` 0, micro-sam's decoder unless ``sam_mode`` is ``amg`` (and the registry has one).
    """
    model = str(model).strip()
    if method == "cellpose":
        from .cellpose.files import MODEL_DIR_ENV, builtin_weights_name, model_dir, size_weights_name

        if not is_cellpose_builtin(model) or Path(model).expanduser().is_file():
            return None
        files = [model] if cellpose_major() >= 4 else [builtin_weights_name(model)]
        if cellpose_major() < 4 and diameter == 0:
            files.append(size_weights_name(model))
        folder = model_dir()
        origin = MODEL_DIR_ENV if os.environ.get(MODEL_DIR_ENV) else "Cellpose's default"
    elif method == "sam" and not checkpoint:
        from .microsam.weights import _registry_urls, models_folder

        urls = _registry_urls() or {}
        if model not in urls or model.endswith("_decoder"):
            return None
        files = [model]
        if str(sam_mode).lower() != "amg" and f"{model}_decoder" in urls:
            files.append(f"{model}_decoder")
        folder = models_folder()
        origin = "MICROSAM_CACHEDIR" if os.environ.get("MICROSAM_CACHEDIR") else "micro-sam's default"
    else:
        return None
    missing = tuple(name for name in files if not (folder / name).is_file())
    return OnDisk(model, folder, origin, tuple(files), missing, offline())


def fail_before_import(model: str, sam_mode: str) -> None:
    """Fail at once on missing built-in files that cannot be downloaded, before micro-sam is imported.

    (Importing micro-sam imports torch: ~20 s on a loaded machine, all before the download was tried.)

    A built-in model with files missing from micro-sam's cache folder and ``BATCHSEG_OFFLINE`` set, or
    whose download host's name does not resolve (no network), gets the error
    :func:`.microsam.weights.resolve_builtin` would give after the import. Otherwise nothing happens:
    the run downloads as before (with a proxy, or a host that resolves).

    Raises
    ------
    ModelError
        Files missing and no download possible.
    """
    from .microsam._imports import microsam_available
    from .microsam.weights import _registry_urls, _Urls, missing_weights_error

    if sys.modules.get("micro_sam", False) is None or not microsam_available():
        return  # not installed: the import says so first
    found = builtin_on_disk("sam", model, sam_mode=sam_mode)
    if found is None or found.present:
        return
    registry = _Urls(_registry_urls() or {})
    if found.offline:
        raise missing_weights_error(
            model, found.folder, list(found.missing), registry, f"{OFFLINE_ENV} is set")
    for name in found.missing:
        try:
            check_host(registry.get_url(name))
        except OSError as exc:
            raise missing_weights_error(
                model, found.folder, list(found.missing), registry, failed_download(exc)) from exc
