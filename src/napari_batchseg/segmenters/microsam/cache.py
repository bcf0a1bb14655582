"""micro-sam image embeddings cached on disk, one zarr folder per plane (:class:`EmbeddingCache`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._weights import OFF_WORDS

__all__ = ["EmbeddingCache", "embedding_cache_dir", "precompute", "unsafe_entry"]

_CACHE_FORMAT = 1


def embedding_cache_dir(setting: Any = None) -> Path | None:
    """The embedding cache folder, or ``None`` when caching is off.

    ``setting`` (``params.extra["embedding_cache"]``) wins: a folder, or ``False``/``"off"`` to switch
    the cache off. Otherwise ``$BATCHSEG_EMBEDDING_CACHE`` (a folder, or ``0``/``off``), else
    ``<user cache dir>/napari-batchseg/sam-embeddings``.
    """
    if setting is False or (isinstance(setting, str) and setting.strip().lower() in OFF_WORDS):
        return None
    if setting not in (None, True):
        return Path(os.path.expanduser(str(setting)))
    env = os.environ.get("BATCHSEG_EMBEDDING_CACHE")
    if env is not None:
        if env.strip().lower() in OFF_WORDS:
            return None
        return Path(os.path.expanduser(env))
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-batchseg", appauthor=False)) / "sam-embeddings"


def _image_digest(image: NDArray[Any]) -> str:
    arr = np.ascontiguousarray(image)
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.data.cast("B"))
    return h.hexdigest()


class EmbeddingCache:
    """Image embeddings on disk, one zarr folder per plane (model, pixels, tiling).

    The key hashes the model identity (name, weights hash, input size, micro-sam version), the plane's
    pixels and the tiling: an entry can never be used for other pixels or another model, and a plane is
    found again whichever file, frame or batch it comes from. The file and frame it was computed for
    are recorded in the entry's metadata (``napari_batchseg`` attribute). Entries are written to a
    temporary folder and renamed into place (atomic), so parallel workers and interrupted runs leave
    no half-written entry behind. When the folder grows past ``max_bytes`` the least recently used
    entries are deleted.
    """

    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        if max_bytes is None:
            gb = float(os.environ.get("BATCHSEG_EMBEDDING_CACHE_MAX_GB", "20") or 0)
            max_bytes = int(gb * 1e9) if gb > 0 else None
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._writes = 0

    def key(
        self,
        image: NDArray[Any],
        model_id: Mapping[str, Any],
        tile_shape: tuple[int, int] | None,
        halo: tuple[int, int] | None,
    ) -> str:
        """The cache key (hex) for one plane: model identity, pixels and tiling."""
        payload = {
            "format": _CACHE_FORMAT,
            "model": dict(model_id),
            "pixels": _image_digest(image),
            "tile_shape": list(tile_shape) if tile_shape else None,
            "halo": list(halo) if halo else None,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()

    def path(self, key: str) -> Path:
        """The entry folder for ``key``."""
        return self.root / key[:2] / f"{key}.zarr"

    def contains(self, key: str) -> bool:
        """Whether a complete entry exists for ``key``."""
        return _complete_entry(self.path(key))

    def get_or_compute(
        self,
        util: Any,
        predictor: Any,
        image: NDArray[Any],
        key: str,
        tile_shape: tuple[int, int] | None,
        halo: tuple[int, int] | None,
        batch_size: int = 1,
        meta: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Load the embeddings for ``key``, computing and storing them first if needed."""
        final = self.path(key)
        unsafe = unsafe_entry(final) if final.exists() else None
        if unsafe is not None:  # never opened: reading it could run code
            warnings.warn(f"embedding cache entry {final} is not a plain array entry ({unsafe}); "
                          "recomputing", stacklevel=2)
            shutil.rmtree(final, ignore_errors=True)
        if _complete_entry(final):
            try:
                emb = precompute(util, predictor, image, final, tile_shape, halo, batch_size)
            except Exception as exc:  # a damaged entry: drop it and compute afresh
                warnings.warn(
                    f"embedding cache entry {final} is unreadable ({exc}); recomputing", stacklevel=2
                )
                shutil.rmtree(final, ignore_errors=True)
            else:
                self.hits += 1
                with contextlib.suppress(OSError):
                    os.utime(final)
                return emb, True
        if final.exists():  # incomplete (interrupted writer of an old version): replace it
            shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.zarr"
        try:
            emb = precompute(util, predictor, image, tmp, tile_shape, halo, batch_size)
            _write_meta(tmp, meta)
            try:
                os.rename(tmp, final)
            except OSError:  # another worker stored the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.misses += 1
        self._writes += 1
        if self.max_bytes is not None and (self._writes == 1 or self._writes % 25 == 0):
            self.prune(keep=final)
        if tile_shape is not None:
            # Tiled embeddings are read lazily from the store: reopen it at its final place.
            emb = precompute(util, predictor, image, final, tile_shape, halo, batch_size)
        return emb, False

    def prune(self, keep: Path | None = None) -> int:
        """Delete least recently used entries (never ``keep``) until the folder is under ``max_bytes``.

        Returns the number of entries deleted.
        """
        if self.max_bytes is None or not self.root.is_dir():
            return 0
        entries = []
        for entry in self.root.glob("*/*.zarr"):
            if entry.name.startswith(".") or entry == keep:
                continue
            size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
            entries.append((entry.stat().st_mtime, size, entry))
        total = sum(e[1] for e in entries)
        if keep is not None and keep.is_dir():
            total += sum(f.stat().st_size for f in keep.rglob("*") if f.is_file())
        removed = 0
        for _, size, entry in sorted(entries):
            if total <= self.max_bytes:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size
            removed += 1
        return removed


#: what zarr metadata may not name: codecs and data types that unpickle Python objects on read
_UNSAFE_MARKS = ('"pickle"', '"|O"', '"object"', '"vlen-', '"msgpack')


def unsafe_entry(path: Path) -> str | None:
    """Why an entry must not be opened (its metadata names a codec or type that unpickles), or ``None``.

    A cache folder may be shared or named in a settings file; reading an entry must never run code,
    so only entries of plain numeric arrays are opened.
    """
    try:
        metas = [p for p in path.rglob("*") if p.name in ("zarr.json", ".zarray", ".zattrs", ".zgroup")]
        for meta in metas:
            text = meta.read_text(encoding="utf-8", errors="replace")
            for mark in _UNSAFE_MARKS:
                if mark in text:
                    return f"{meta} names {mark.strip(chr(34))}"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def _complete_entry(path: Path) -> bool:
    """An entry is complete once micro-sam wrote its signature (``input_size`` attribute)."""
    meta = path / "zarr.json"
    if meta.is_file():
        with contextlib.suppress(OSError, ValueError):
            return "input_size" in json.loads(meta.read_text()).get("attributes", {})
        return False
    attrs = path / ".zattrs"  # zarr v2 layout
    if attrs.is_file():
        with contextlib.suppress(OSError, ValueError):
            return "input_size" in json.loads(attrs.read_text())
    return False


def _write_meta(path: Path, meta: Mapping[str, Any] | None) -> None:
    if not meta:
        return
    import zarr

    with contextlib.suppress(Exception):
        group = zarr.open_group(str(path), mode="a")
        group.attrs["napari_batchseg"] = json.loads(json.dumps(dict(meta), default=str))


def precompute(
    util: Any,
    predictor: Any,
    image: NDArray[Any],
    save_path: Path | None,
    tile_shape: tuple[int, int] | None,
    halo: tuple[int, int] | None,
    batch_size: int,
) -> dict[str, Any]:
    """micro-sam's ``precompute_image_embeddings`` for one 2D plane, stored at ``save_path`` (if any)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embeddings: dict[str, Any] = util.precompute_image_embeddings(
            predictor,
            image,
            save_path=None if save_path is None else str(save_path),
            ndim=2,
            tile_shape=tile_shape,
            halo=halo,
            verbose=False,
            batch_size=batch_size,
        )
    return embeddings
