"""A small, Qt-free list of recently trained models, persisted in the user's config folder.

:func:`~napari_batchseg.training.run.train_model` adds every model it saves; the napari segmentation
form lists :func:`recent_models` beside Cellpose's built-in names, so a new model appears there at once.
The list lives in ``recent_models.json`` under ``$BATCHSEG_CONFIG_DIR`` or platformdirs' user config
folder for ``napari-batchseg``. Models whose files no longer exist are left out.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..io.atomic import atomic_write_text

CONFIG_ENV = "BATCHSEG_CONFIG_DIR"
FILE_NAME = "recent_models.json"
MAX_MODELS = 20
_LOCK = threading.Lock()


def registry_path() -> Path:
    """The JSON file that holds the list (its folder may not exist yet)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser() / FILE_NAME
    from platformdirs import user_config_dir

    return Path(user_config_dir("napari-batchseg", appauthor=False)) / FILE_NAME


def _read() -> list[str]:
    path = registry_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    models = data.get("models", []) if isinstance(data, dict) else []
    return [str(m) for m in models if isinstance(m, str)]


def recent_models() -> list[str]:
    """Absolute paths of recently trained models that still exist, newest first."""
    return [m for m in _read() if Path(m).is_file()]


def remember_model(path: str | Path) -> None:
    """Put ``path`` first in the list (at most :data:`MAX_MODELS` kept); listeners are called."""
    entry = str(Path(path).expanduser().absolute())
    with _LOCK:
        models = [entry] + [m for m in _read() if m != entry and Path(m).is_file()]
        target = registry_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps({"models": models[:MAX_MODELS]}, indent=1) + "\n")
    for listener in list(_LISTENERS):
        with contextlib.suppress(Exception):
            listener(entry)


_LISTENERS: list[Callable[[str], object]] = []


def add_listener(callback: Callable[[str], object]) -> None:
    """Call ``callback(path)`` whenever a model is remembered (in this process)."""
    if callback not in _LISTENERS:
        _LISTENERS.append(callback)


def remove_listener(callback: Callable[[str], object]) -> None:
    """Stop calling ``callback``."""
    with contextlib.suppress(ValueError):
        _LISTENERS.remove(callback)
