"""Screenshot of tracks over a movie in napari (the "Track cells" dock), for docs/tracking.md.

Run under a (virtual) display::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_tracking_screenshot.py

The movie is the seeded synthetic one the tracking tests use (``tracking.synthetic.synthetic_movie``:
wandering, dividing, entering and leaving disks, 30 frames), written as a ``_vSM.ome.tif`` mask in a
temporary folder and opened with the plugin's reader, with an intensity movie drawn from the same disks
(blurred, with noise) under it. The dock tracks it (laptrack, in its background job), a track is
selected by a click as A, and ``docs/images/tracks_napari.png`` is the whole window at frame 20.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace


def main() -> int:
    """Make the screenshot; return a process exit code."""
    import numpy as np
    from make_screenshots import (  # the shared set-up (this folder is on sys.path)
        open_viewer,
        pump,
        shoot,
        wait,
    )
    from scipy import ndimage as ndi

    from napari_batchseg._napari._track_widget import TrackWidget
    from napari_batchseg.io.masks import write_mask
    from napari_batchseg.io.sources import PixelSize
    from napari_batchseg.tracking.synthetic import synthetic_movie
    from napari_batchseg.view.layer_files import mask_layer_data

    work = Path(tempfile.mkdtemp(prefix="batchseg-tracks-"))
    movie = synthetic_movie(n_frames=30, n_objects=14, shape=(240, 240), radius=5, step=2.5, n_divisions=4,
                            seed=7)
    mask = write_mask(work / "movie_vSM.ome.tif", movie.masks, PixelSize(x=0.5, y=0.5, t=60.0), "")
    rng = np.random.default_rng(0)
    intensity = np.stack([ndi.gaussian_filter((m > 0).astype(np.float32) * 200.0, 1.5)
                          + rng.normal(20.0, 6.0, m.shape).astype(np.float32) for m in movie.masks])

    viewer = open_viewer("napari-batchseg: tracks", (1500, 900))
    dock = TrackWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Track cells", area="right")
    data, kwargs, _ = mask_layer_data(mask)[0]
    viewer.add_image(intensity, name="movie", scale=kwargs["scale"], units=kwargs["units"], colormap="gray",
                     axis_labels=kwargs.get("axis_labels"))
    source = viewer.add_labels(data, **kwargs)
    source.visible = False
    dock.labels_combo.setCurrentText(source.name)
    dock.max_distance.setValue(movie.max_step + 1)
    dock.track()
    wait(lambda: not dock.busy, 120)
    if dock.result is None:
        print(f"tracking failed: {dock.status.text()}", file=sys.stderr)
        return 1
    tracked = viewer.layers[f"{source.name} tracked"]
    tracked.opacity = 0.45
    tracks = viewer.layers[f"{source.name} tracks"]
    tracks.tail_length = 30
    tracks.tail_width = 3
    frame = 20
    viewer.dims.set_current_step(0, frame)
    table = dock.result.tracks
    ends = table[table["track_id"].isin(table["parent_track_id"])].groupby("track_id")["frame"].max()
    mother = int(ends[ends <= frame].idxmax())  # the mother dividing last before the frame shown
    row = table[table["track_id"] == mother].iloc[-1]
    dock.only_selected.setChecked(False)
    dock._on_click(tracked, SimpleNamespace(
        position=tracked.data_to_world([int(row["frame"]), row["centroid_y_px"], row["centroid_x_px"]]),
        modifiers=()))
    viewer.dims.set_current_step(0, frame)
    viewer.reset_view()
    pump(1.0)
    shoot(viewer, "tracks_napari.png")
    print(dock.status.text())
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
