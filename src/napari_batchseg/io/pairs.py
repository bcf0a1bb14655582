"""Whether an output's mask and log are one finished pair, edited by hand, or cut short.

:func:`pair_state` reads only headers and the logs (the mask's embedded one, the ``.log``); the
``existing`` policy (:mod:`~napari_batchseg.existing`) and the commit's keeping of hand-corrected masks
(:func:`~napari_batchseg._commit.corrected_copy_names`) decide on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import describe
from ..provenance import has_module_records, output_id
from .masks import read_embedded_log
from .naming import OutputNames

__all__ = ["mask_unreadable", "pair_state"]


def mask_unreadable(path: Path) -> str | None:
    """Why a mask file cannot be a whole mask (not a TIFF, or pages past its end), else ``None``.

    Only headers are read: every page's data must lie inside the file.
    """
    import tifffile

    try:
        size = path.stat().st_size
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                return "no image in it"
            for page in tif.pages:
                offsets = getattr(page, "dataoffsets", ()) or ()
                counts = getattr(page, "databytecounts", ()) or ()
                if any(o + c > size for o, c in zip(offsets, counts, strict=False)):
                    return "cut short (its pixel data runs past the end of the file)"
    except Exception as exc:  # noqa: BLE001 - any reader error means "not a whole mask"
        return f"unreadable ({describe(exc)})"
    return None


def pair_state(names: OutputNames, instead: Mapping[Path, Path] | None = None) -> tuple[str, str]:
    """``("done" | "edited" | "absent" | "incomplete", why)`` for an output's mask and log.

    An output is *done* when its mask and its log both exist and carry the same output id (see
    :data:`~napari_batchseg.provenance.OUTPUT_ID_PREFIX`): the log is renamed into place before the
    mask, so a commit cut short leaves a log without a mask, or a new log beside an older mask (both
    with ids). Pairs written before output ids existed (neither has one) count as done, and so does a
    mask corrected by hand (its log has ``correction`` records): a re-run never redoes manual work. A
    readable mask that no cut-short commit can leave is *edited*, changed or kept by hand (``why`` says
    how it was told): one that embeds no log of this tool beside a log with an output id (saved by
    another program, e.g. Fiji, which drops the embedded log), or one without its log (deleted or lost).
    A mask of this tool from before output ids (it embeds a log without one) beside a log with an id is
    what an overwrite cut short leaves: *incomplete*. An unreadable mask
    is *incomplete*.
    ``instead``: the file to read for the mask or the log (an earlier file a killed run kept aside,
    which the run puts back first); the messages name the output's own files.
    """
    mask, log_path = names.mask, names.log
    instead = instead or {}
    mask_file, log_file = instead.get(mask, mask), instead.get(log_path, log_path)
    if not mask_file.exists():
        return "absent", ""
    if not log_file.exists():
        return _edited_or_broken(mask, mask_file, f"it has no log {log_path.name} (deleted or lost; a run "
                                 "cut short leaves a log without its mask, never a mask without its log)")
    try:
        log_id = output_id(log_file.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return "incomplete", f"{log_file}: cannot read ({exc.strerror or exc})"
    embedded = read_embedded_log(mask_file)
    mask_id = output_id(embedded)
    if log_id == mask_id:
        return "done", ""
    if has_module_records(embedded, "correction"):
        return "done", ""
    if mask_id is None and not embedded:  # (a mask of this tool from before output ids embeds a log)
        return _edited_or_broken(mask, mask_file, f"it holds no log of this tool, its log {log_path.name} "
                                 "names an output id (saved by another program, e.g. Fiji, which drops "
                                 "the log this tool embeds)")
    return "incomplete", f"{mask} and {log_path.name} belong to different runs (a run was cut short)"


def _edited_or_broken(mask: Path, mask_file: Path, how: str) -> tuple[str, str]:
    """``("edited", why)`` for a readable mask no cut-short run leaves, ``("incomplete", why)`` if broken."""
    broken = mask_unreadable(mask_file)
    if broken is not None:
        return "incomplete", f"{mask} is {broken}"
    return "edited", f"{mask.name} is kept as changed by hand: {how}"
