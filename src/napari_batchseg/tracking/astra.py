"""The second linker: ``trackastra`` (a transformer that scores links from the images and masks).

Its weights cannot be downloaded here: they are looked up in a folder (``model`` as a path, else
``$BATCHSEG_TRACKASTRA_MODELS/<name>``, else trackastra's own ``<user data>/trackastra/models/<name>``)
holding ``config.yaml``, ``train_config.yaml`` and ``model.pt``; when missing, the error names that
folder and the archive to unzip there. The YAML files are read with ``yaml.safe_load`` and the weights
with ``torch.load(weights_only=True)``: nothing in them can run code. trackastra reads the whole movie
(images and masks) at once, so its memory grows with the movie; links longer than ``max_distance`` are
dropped, and ``gap_frames`` is not used (trackastra links within its own window of frames).
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import describe
from .base import FrameReader, TrackingError, TrackingModelError, TrackParams

__all__ = ["MODELS_ENV", "TrackastraTracker", "load_trackastra", "trackastra_folder"]

#: folder holding trackastra model folders (``<folder>/<name>/model.pt``), checked before trackastra's own
MODELS_ENV = "BATCHSEG_TRACKASTRA_MODELS"
_FILES = ("config.yaml", "train_config.yaml", "model.pt")
_URL = "https://github.com/weigertlab/trackastra-models/releases/download/v0.3.0/{name}.zip"


def trackastra_folder(model: str) -> Path:
    """The folder that must hold the trackastra model ``model`` (a name or a folder path)."""
    given = Path(model).expanduser()
    if given.is_dir() or os.sep in model or model.startswith("."):
        return given
    env = os.environ.get(MODELS_ENV, "").strip()
    if env:
        return Path(env).expanduser() / model
    from platformdirs import user_data_dir

    return Path(user_data_dir("trackastra")) / "models" / model


def load_trackastra(model: str, device: str = "cpu") -> Any:
    """A ``trackastra.model.Trackastra`` loaded from its folder, without running code from its files.

    Raises
    ------
    TrackingModelError
        When the folder or one of its files is missing or cannot be loaded (names the folder).
    """
    folder = trackastra_folder(model)
    missing = [f for f in _FILES if not (folder / f).is_file()]
    if missing:
        name = folder.name
        raise TrackingModelError(
            f"trackastra model {model!r} not found: {folder} lacks {', '.join(missing)}. Nothing is "
            f"downloaded here: unzip {_URL.format(name=name)} (fetched where there is internet) so that "
            f"{folder / 'model.pt'} exists, or set {MODELS_ENV} to a folder holding '{name}/'")
    try:
        import torch
        import yaml
        from trackastra.model import Trackastra
        from trackastra.model.model import TrackingTransformer
    except ImportError as exc:
        raise TrackingModelError(f"trackastra is not installed: {exc}") from exc
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        train_args = yaml.safe_load((folder / "train_config.yaml").read_text(encoding="utf-8"))
        transformer = TrackingTransformer.create(config)
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = {k[6:]: v for k, v in state["state_dict"].items() if k.startswith("model.")}
        transformer.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any bad file is one clear error
        raise TrackingModelError(f"trackastra model in {folder} cannot be loaded: {describe(exc)}") from exc
    return Trackastra(transformer=transformer, train_args=train_args, device=device)


class TrackastraTracker:
    """Links scored by a trackastra model (greedy, with divisions unless ``divisions`` is off)."""

    name = "trackastra"
    needs_images = True

    def check(self, params: TrackParams) -> None:
        """Raise :class:`TrackingModelError` when the model's files are missing (nothing is loaded)."""
        folder = trackastra_folder(params.model)
        if not all((folder / f).is_file() for f in _FILES):
            load_trackastra(params.model)  # raises the error that names the folder

    def versions(self) -> dict[str, str]:
        """Versions of trackastra and torch."""
        out = {}
        for pkg in ("trackastra", "torch"):
            try:
                out[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                continue
        return out

    def link(
        self, objects: pd.DataFrame, params: TrackParams, frames: FrameReader, n_frames: int,
        images: FrameReader | None = None,
    ) -> list[tuple[int, int]]:
        """Links by trackastra on the whole movie (reads every frame of masks and images)."""
        model = load_trackastra(params.model)  # first: a missing model is reported before any reading
        if images is None:
            raise TrackingError("trackastra needs the intensity images the masks were made from "
                                "(the mask's log names them; give --image when it has no log)")
        if objects.empty:
            return []
        masks = np.stack([frames(t) for t in range(n_frames)])
        imgs = np.stack([np.asarray(images(t), dtype=np.float32) for t in range(n_frames)])
        graph, _ = model.track(imgs, masks, mode="greedy" if params.divisions else "greedy_nodiv",
                               progbar_class=_Quiet)
        keys = zip(objects["frame"], objects["label"], strict=True)
        row = {(int(f), int(lab)): i for i, (f, lab) in enumerate(keys)}
        yx = objects[["centroid_y_px", "centroid_x_px"]].to_numpy()
        links = []
        for a, b in graph.edges():
            na, nb = graph.nodes[a], graph.nodes[b]
            ra = row.get((int(na["time"]), int(na["label"])))
            rb = row.get((int(nb["time"]), int(nb["label"])))
            if ra is None or rb is None:
                continue
            if na["time"] > nb["time"]:
                ra, rb = rb, ra
            if float(np.hypot(*(yx[ra] - yx[rb]))) <= params.max_distance:
                links.append((ra, rb))
        return links


class _Quiet:
    """A progress 'bar' that shows nothing (trackastra prints tqdm bars by default)."""

    def __init__(self, iterable: Any = None, **_: Any) -> None:
        self._it = iterable

    def __iter__(self) -> Any:
        return iter(self._it if self._it is not None else ())

    def update(self, *_: Any) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
