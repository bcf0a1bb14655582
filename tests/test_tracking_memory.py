"""Tracking a mask file holds one frame at a time: its memory does not grow with the movie's pixels.

Few objects in large frames, so that the pixels dominate: the peak of Python's allocations (numpy's
included, through tracemalloc) while ``track_file`` reads, links, relabels and writes a movie stays
far below the movie's own size, and about the same for a movie five times longer. What does grow is
the tables of its objects (a few numbers per object; laptrack's graph is bounded by its window of
frames; see benchmarks/bench_tracking.py).
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from pathlib import Path

import numpy as np

from napari_batchseg.io.masks import write_mask
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.tracking import TrackParams, track_stack
from napari_batchseg.tracking.files import track_file, track_paths, write_track_outputs

SIDE = 384


def _movie(n_frames: int) -> np.ndarray:
    """Four squares drifting one pixel per frame over large frames."""
    masks = np.zeros((n_frames, SIDE, SIDE), np.uint16)
    for t in range(n_frames):
        for k, (y, x) in enumerate([(40, 40), (40, 250), (250, 40), (250, 250)], start=1):
            masks[t, y + t % 50: y + t % 50 + 20, x: x + 20] = k
    return masks


def _peak_of_tracking(folder: Path, n_frames: int) -> tuple[float, int]:
    mask = write_mask(folder / f"m{n_frames}_vSM.ome.tif", _movie(n_frames), PixelSize(x=1.0, y=1.0), "")
    gc.collect()
    tracemalloc.start()
    try:
        res = track_file(mask, TrackParams(max_distance=5.0), overwrite=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.result.n_tracks == 4 + 4 * ((n_frames - 1) // 50)  # a jump back of 49 px: new tracks
    return peak, n_frames * SIDE * SIDE * 2


def test_track_file_memory_is_flat_in_movie_length(tmp_path: Path) -> None:
    _peak_of_tracking(tmp_path, 24)  # first: the lazy imports and caches of a first run
    short, short_bytes = _peak_of_tracking(tmp_path, 24)
    long, long_bytes = _peak_of_tracking(tmp_path, 120)
    assert long < long_bytes / 4, (long, long_bytes)  # never the movie (or its relabelled copy) at once
    assert long < 1.25 * short, (short, long)  # 5x the frames: about the same peak (measured 5.15 -> 5.6 MB)


def test_frames_are_read_and_written_one_at_a_time(tmp_path: Path) -> None:
    masks = _movie(12)
    alive: list[weakref.ref] = []
    most = [0]

    def reader(i: int) -> np.ndarray:
        frame = masks[i].copy()  # a new array per read, as a file reader returns
        most[0] = max(most[0], sum(r() is not None for r in alive))
        alive.append(weakref.ref(frame))
        return frame

    result = track_stack(reader, len(masks), TrackParams(max_distance=5.0))
    assert most[0] == 0  # no earlier frame was kept while the next one was read
    alive.clear()
    outputs = track_paths(tmp_path / "m_vSM.ome.tif")
    write_track_outputs(outputs, result, reader, len(masks), masks.shape[1:], PixelSize(), "log\n")
    assert most[0] == 0 and all(p.is_file() for p in outputs)
