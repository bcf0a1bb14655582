"""``batchseg segment``: its options and how they become :class:`~napari_batchseg.params.SegmentationParams`.

Defaults, then the ``--config`` file, then the options given on the command line (options left out do
not override the config file). The command itself runs in :mod:`napari_batchseg.cli`.
"""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from .io.formats import supported_extensions
from .params import (
    CONFIG_RUN_OPTIONS,
    EXISTING_POLICIES,
    PRECISIONS,
    PROJECTIONS,
    SAM_MODES,
    Z_MODES,
    ParameterError,
    SegmentationParams,
    cellpose_major,
    cellpose_version,
    config_recursive,
    parameter_entries,
    read_yaml_mapping,
    with_absolute_paths,
)
from .segmenters.catalog import offered_models

__all__ = ["absolute_paths", "add_segment_options", "apply_config_filters", "apply_config_run_options",
           "given_run_options", "params_from_args", "unused_options"]

#: CLI option -> SegmentationParams field (only options the user actually gave override the config)
_PARAM_OPTIONS = {
    "method": "method", "model": "model", "checkpoint": "checkpoint", "diameter": "diameter",
    "cellprob_threshold": "cellprob_threshold", "flow_threshold": "flow_threshold", "niter": "niter",
    "min_size": "min_size", "restore": "restore", "keep_flows": "keep_flows",
    "channel": "channel", "z_range": "z_range", "z_projection": "z_projection",
    "z_mode": "z_mode", "anisotropy": "anisotropy", "stitch_threshold": "stitch_threshold",
    "start_frame": "start_frame", "end_frame": "end_frame", "positions": "positions", "gpu": "gpu",
    "batch_size": "batch_size",
    "output_dir": "output_dir", "suffix": "suffix", "existing": "existing", "debug": "debug",
    "sam_mode": "sam_mode", "tile_shape": "tile_shape", "halo": "halo", "axes": "axes",
    "dataset": "dataset", "precision": "precision",
}

# Help that follows the installed Cellpose (3 or 4; docs/cellpose4.md). Read from package metadata: cheap.
_CP_MAJOR = cellpose_major()
_CP_VERSION = cellpose_version() or "(not installed)"
_CP_MODELS = ", ".join(offered_models("cellpose")[:3]) + ", ..."
_DIAMETER_HELP = (
    "object diameter in pixels (the image is rescaled by 30/D); 0 = the model's native scale "
    "(Cellpose 4: no rescaling, no size model)"
    if _CP_MAJOR >= 4 else
    "object diameter in pixels; 0 = estimate (user models: their training diameter)"
)
_CHANNEL_HELP = (
    "channel index (0-based) or channel name; up to 3 in order for Cellpose 4, e.g. 0,2 or DAPI,GFP"
    if _CP_MAJOR >= 4 else
    "channel index (0-based) or channel name"
)


def add_segment_options(p: argparse.ArgumentParser, gui: bool = False) -> None:
    """Add the options of ``batchseg segment`` (all but the paths) to ``p``.

    With ``gui`` (``batchseg gui``): those the widget shows, and ``--config``; not the parallel,
    cluster and run-only ones.
    """
    S = argparse.SUPPRESS  # noqa: N806 - options left out do not override the config file
    io = p.add_argument_group("inputs and outputs")
    io.add_argument("--output-dir", default=S, help="write outputs here (default: beside each input)")
    io.add_argument("--suffix", default=S, help="output suffix: <stem>_vSM-<suffix>.ome.tif (A-Z a-z 0-9 -)")
    io.add_argument("--existing", choices=EXISTING_POLICIES, default=S,
                    help="when an output exists: skip it (default), overwrite it, or fail")
    io.add_argument("--contains", action="append", default=[], metavar="TEXT",
                    help="folder files must contain TEXT in their name (repeatable)")
    io.add_argument("--not-contains", action="append", default=[], metavar="TEXT",
                    help="folder files must not contain TEXT in their name (repeatable)")
    io.add_argument("--ext", action="append", default=[], metavar="EXT",
                    help="accepted extensions for folder files (repeatable; default "
                         f"{' '.join(supported_extensions())})")
    io.add_argument("--recursive", "-r", action="store_true", help="also search sub-folders")
    io.add_argument("--axes", default=S, help="axis order override for ambiguous files, e.g. TYX or ZCYX")
    io.add_argument("--dataset", default=S, metavar="PATH",
                    help="HDF5 inputs: the image dataset inside the file, e.g. /raw (files holding several); "
                         "OME-Zarr: a label image instead of the root image, e.g. labels/masks")
    io.add_argument("--debug", action=argparse.BooleanOptionalAction, default=S,
                    help="also save flows and cell probability beside the mask")

    m = p.add_argument_group("model")
    m.add_argument("--method", choices=("cellpose", "sam"), default=S, help="segmentation method")
    m.add_argument("--model", default=S,
                   help=f"Cellpose {_CP_VERSION} built-in name ({_CP_MODELS}) or model file; "
                        "micro-sam model type (vit_b_lm, ...)")
    m.add_argument("--checkpoint", default=S,
                   help="micro-sam: local checkpoint file (architecture from --model)")
    m.add_argument("--diameter", type=float, default=S, help=_DIAMETER_HELP)
    m.add_argument("--cellprob-threshold", type=float, default=S, help="Cellpose cell probability threshold")
    m.add_argument("--flow-threshold", type=float, default=S, help="Cellpose flow error threshold")
    m.add_argument("--niter", type=int, default=S, help="Cellpose dynamics iterations (0 = automatic)")
    m.add_argument("--min-size", type=int, default=S,
                   help="Cellpose: remove objects smaller than N pixels (default 15; -1 keeps all)")
    m.add_argument("--restore", default=S, metavar="MODEL",
                   help=("Cellpose 3: restore each plane before segmenting it (denoise_cyto3, deblur_cyto3, "
                         "upsample_cyto3, oneclick_cyto3, ... or a restore model file)") if _CP_MAJOR < 4
                   else "Cellpose 3 only: restore each plane before segmenting it (refused under the "
                        "installed Cellpose 4, which has no restore models)")
    m.add_argument("--keep-flows", action=argparse.BooleanOptionalAction, default=S,
                   help="Cellpose 3: keep flows and cell probability beside the mask (batchseg rethreshold)")
    m.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=S,
                   help="use a GPU (CUDA or Apple MPS) when one is found")
    m.add_argument("--batch-size", type=int, default=S, help="tiles per network call")
    m.add_argument("--precision", choices=PRECISIONS, default=S,
                   help="Cellpose 4 network precision: auto (default: bfloat16 where the device has it "
                        "natively, else float32), float32 or bfloat16")
    m.add_argument("--sam-mode", choices=SAM_MODES, default=S, help="micro-sam: auto, ais, amg or apg")
    m.add_argument("--tile-shape", default=S, help="micro-sam tiling, e.g. 512,512")
    m.add_argument("--halo", default=S, help="micro-sam tile halo, e.g. 64,64")
    m.add_argument("--sam-set", action="append", default=[], metavar="KEY=VALUE",
                   help="micro-sam setting by its own name, e.g. foreground_threshold=0.6 (repeatable)")
    m.add_argument("--embedding-cache", default=None, metavar="DIR|off",
                   help="micro-sam embedding cache folder, or 'off' (default: the user cache folder)")

    pr = p.add_argument_group("preparation")
    pr.add_argument("--channel", default=S, help=_CHANNEL_HELP)
    pr.add_argument("--z-range", default=S, help="all | best | best:R | A-B (0-based, inclusive)")
    pr.add_argument("--z-projection", choices=PROJECTIONS, default=S, help="Z projection type")
    pr.add_argument("--z-mode", choices=Z_MODES, default=S,
                    help="project (one plane per time point) | 3d (Cellpose do_3D) | stitch (2D per slice, "
                         "stitched); 3d/stitch write TZYX masks (docs/segmentation_3d.md)")
    pr.add_argument("--anisotropy", type=float, default=S,
                    help="z-mode 3d: Z step / XY pixel size (default: from the file, else 1)")
    pr.add_argument("--stitch-threshold", type=float, default=S,
                    help="z-mode stitch: IoU in [0, 1] above which objects of consecutive slices join")
    pr.add_argument("--start-frame", type=int, default=S, help="first time frame (0-based)")
    pr.add_argument("--end-frame", type=int, default=S,
                    help="last time frame (0-based, inclusive; past a file's last frame: to its end, said "
                         "in a warning)")

    if gui:  # (positions: each file's own in the dock, or a --config file's for every file)
        p.add_argument_group("run").add_argument("--config", metavar="FILE.yaml",
                                                 help="read options from a YAML file (CLI wins)")
        return
    io.add_argument("--positions", default=S, metavar="LIST",
                    help="positions of multi-position files to segment (default or 'all': all): 0-based "
                         "indices and ranges, e.g. 0,2,5-7, or position names; a file of several lacking "
                         "one fails, naming those it has; a file of one position runs whole")
    par = p.add_argument_group("parallel and cluster")
    par.add_argument("--parallel", choices=("none", "files", "frames"), default=S,
                     help="spread work over processes: one file per process, or the frames of a file")
    par.add_argument("--processes", type=int, default=S,
                     help="worker processes for --parallel (default: the usable CPU cores)")
    par.add_argument("--threads-per-process", type=int, default=S,
                     help="compute threads per worker (default: cores // processes)")
    par.add_argument("--batch-frames", type=int, default=S, metavar="N",
                     help="fast mode: N frames per network call (default 1 on every device: masks "
                          "identical to frame-by-frame eval; with N > 1 masks may differ on a GPU)")
    par.add_argument("--mask-workers", type=int, default=S, metavar="N",
                     help="Cellpose 3: CPU processes building masks while the model runs the next frames "
                          "(default: cores - 1 with a GPU, 0 on a CPU)")
    par.add_argument("--masks-on", choices=("device", "cpu"), default=S,
                     help="with a GPU and mask workers: flow following on the GPU (masks identical to "
                          "frame-by-frame eval) or all mask work on the CPU workers (fast mode)")
    par.add_argument("--dask-scheduler", default=S, metavar="ADDRESS",
                     help="run on a Dask cluster (tcp://host:8786)")
    par.add_argument("--dask-local", type=int, default=S, metavar="N",
                     help="run on a local Dask cluster of N worker processes")

    run = p.add_argument_group("run")
    run.add_argument("--config", metavar="FILE.yaml", help="read options from a YAML file (CLI wins)")
    run.add_argument("--save-config", metavar="FILE.yaml", help="write the effective options to a YAML file")
    run.add_argument("--dry-run", action="store_true",
                     help="list planned outputs and stop (exit status 1 when a file cannot run)")
    run.add_argument("--trust-checkpoint", action="store_true",
                     help="allow model/checkpoint files that need code from their pickle to load (only "
                          "for files you trust: such a file can run any code; never read from --config)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def apply_config_filters(args: argparse.Namespace, config: dict[str, Any], path: str = "") -> None:
    """Filters from a config file apply unless given on the command line.

    Raises ``ParameterError`` (naming the file ``path``) for a ``recursive`` that is not true or false.
    """
    for key in ("contains", "not_contains", "ext"):
        if key in config and not getattr(args, key, None):
            setattr(args, key, _as_list(config[key]))
    if config_recursive(config, path) and not getattr(args, "recursive", False):
        args.recursive = True


def apply_config_run_options(args: argparse.Namespace, config: dict[str, Any], path: str) -> None:
    """Run options from a config file (``parallel``, ``measure``, ...) apply unless given on the command line.

    Raises ``ParameterError`` naming the file for a value the option does not take.
    """
    for key, kind in CONFIG_RUN_OPTIONS.items():
        if key not in config or hasattr(args, key):  # (left out on the command line: not in ``args``)
            continue
        value = config[key]
        if isinstance(kind, tuple):
            fits = value in kind
            wanted = " or ".join(kind)
        else:
            fits = value is None or (isinstance(value, kind)
                                     and (kind is bool or not isinstance(value, bool)))  # (True is an int)
            wanted = {int: "a whole number", bool: "true or false", str: "text"}[kind]
        if not fits:
            raise ParameterError(f"parameter file {path}: {key} must be {wanted}, got {value!r}")
        setattr(args, key, value)


def given_run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given on the command line or by the config file (what ``--save-config`` keeps)."""
    return {key: getattr(args, key) for key in CONFIG_RUN_OPTIONS if hasattr(args, key)}


def params_from_args(args: argparse.Namespace) -> SegmentationParams:
    """Defaults, then the ``--config`` file, then options given on the command line."""
    data: dict[str, Any] = {}
    from_file: dict[str, Any] = {}
    if getattr(args, "config", None):
        config = read_yaml_mapping(args.config)
        apply_config_filters(args, config, args.config)
        apply_config_run_options(args, config, args.config)  # (batchseg gui: none of them is read)
        from_file = parameter_entries(config)
        data.update(from_file)
    for opt, field_name in _PARAM_OPTIONS.items():
        if hasattr(args, opt):
            data[field_name] = getattr(args, opt)
            from_file.pop(field_name, None)  # (the command line wins)
    args.chosen_params = frozenset(data)  # what the file or the command line chose (the rest: defaults)
    extra = dict(data.get("extra") or {})
    for item in getattr(args, "sam_set", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--sam-set {item!r}: use KEY=VALUE")
        extra[key.strip()] = yaml.safe_load(value)
    cache = getattr(args, "embedding_cache", None)
    if cache is not None:
        extra["embedding_cache"] = False if cache.lower() in ("off", "false", "no", "0") else cache
    if extra:
        data["extra"] = extra
    try:
        return SegmentationParams.from_dict(data)
    except ParameterError:
        if from_file:  # a value of the file itself is wrong: the error names the file
            SegmentationParams.from_file_data(from_file, args.config)
        raise


def unused_options(args: argparse.Namespace, params: SegmentationParams) -> list[str]:
    """Options given on the command line that these parameters do not use (said as warnings)."""
    unused = []
    if params.z_mode != "project" and hasattr(args, "z_projection"):
        unused.append(f"--z-projection {params.z_projection} not used: --z-mode {params.z_mode} segments the "
                      "volume (no projection)")
    return unused


def absolute_paths(params: SegmentationParams) -> SegmentationParams:
    """``params`` with its output folder and model files absolute (:func:`~.params.with_absolute_paths`).

    A saved parameter file (``--save-config``) or the dock of ``batchseg gui`` reads them from another
    folder than the one they were named in. A built-in model name stays a name, even where a file of
    that name exists.
    """
    from .segmenters.catalog import CELLPOSE3_MODELS, CELLPOSE4_MODELS, SAM_MODELS

    return with_absolute_paths(params, {*CELLPOSE3_MODELS, *CELLPOSE4_MODELS, *SAM_MODELS})
