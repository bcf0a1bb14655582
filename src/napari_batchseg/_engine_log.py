"""The text of a task's log: its opening lines and one record per frame."""

from __future__ import annotations

import json
from typing import Any

from ._version import __version__
from .events import Task
from .io.sources import SourceInfo
from .params import SegmentationParams
from .prepare import PreparedFrame, channel_label
from .prepare_3d import is_volume_mode, resolve_anisotropy
from .provenance import (
    INPUT_PREFIX,
    POSITION_PREFIX,
    SEGMENTER_PREFIX,
    RunLog,
    log_parameters,
    package_versions,
    platform_summary,
)

__all__ = ["frame_record", "start_log", "z_treatment"]


def z_treatment(info: SourceInfo, params: SegmentationParams) -> str:
    """What a run does with the Z slices, for the log's ``z:`` line.

    ``z_mode`` project: ``projection <kind>``. Volume modes project nothing: the mode, with the
    anisotropy and where it came from (``3d``, Cellpose) or the stitch threshold (``stitch``).
    """
    if not is_volume_mode(params):
        return f"projection {params.z_projection}"
    if params.z_mode == "stitch":
        return f"no projection: z mode stitch (2D per slice, stitch threshold {params.stitch_threshold:g})"
    if params.method == "sam":
        return "no projection: z mode 3d (micro-sam: slices merged across Z; anisotropy not used)"
    return f"no projection: z mode 3d (Cellpose do_3D); {resolve_anisotropy(info, params)[1]}"


def start_log(
    task: Task,
    info: SourceInfo,
    params: SegmentationParams,
    described: dict[str, Any],
    channel: int | tuple[int, ...],
    frames: list[int],
) -> RunLog:
    log = RunLog()
    log.info(f"napari-batchseg {__version__} segmentation")
    log.info(f"platform: {platform_summary()}")
    log.info("versions: " + json.dumps(package_versions(), sort_keys=True))
    log.info(INPUT_PREFIX + str(task.input))
    ps = info.pixel_size
    log.info(
        f"input format: {info.format}; file axes: {info.native_axes or '?'}; {info.describe()}; "
        f"pixel size (µm): x={ps.x} y={ps.y} z={ps.z}; time step (s): {ps.t}; channels: {info.channel_names}"
    )
    pos_name = info.position_names[task.position] if task.position < len(info.position_names) else ""
    log.info(f"{POSITION_PREFIX}{task.position} of {task.n_positions} ({pos_name})")
    log_parameters(log, params)
    for line in task.expect.log_lines if task.expect is not None else ():  # batchseg rerun
        log.info(line)
    log.info(SEGMENTER_PREFIX + json.dumps(described, sort_keys=True, default=str))
    if isinstance(channel, tuple):  # several channels (Cellpose 4), in the order handed to the model
        log.info(f"channels used: {channel_label(info, channel)}")
    else:
        log.info(f"channel used: {channel} ({info.channel_names[channel]})")
    log.info(f"z: {info.sizes['Z']} slice(s); range {params.z_range}; {z_treatment(info, params)}")
    log.info(f"frames: {frames[0]}-{frames[-1]} ({len(frames)} of {info.sizes['T']})")
    return log


def frame_record(
    frame: PreparedFrame, n_obj: int, timings: dict[str, float], extra: dict[str, Any]
) -> str:
    z = frame.z_used
    zs = f"{z[0]}-{z[-1]}" if len(z) > 1 and z == list(range(z[0], z[-1] + 1)) else ",".join(map(str, z))
    focus = f" (best focus {frame.best_focus})" if frame.best_focus is not None else ""
    times = ", ".join(f"{k} {v:.3f} s" for k, v in timings.items())
    more = "".join(f"; {k} {v}" for k, v in extra.items())
    return f"frame t={frame.t}: z {zs}{focus}; {n_obj} objects; {times}{more}"
