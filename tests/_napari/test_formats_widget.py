"""A real Leica LIF file (two scenes) listed, run and shown from the widget, as a user would.

The file is the ``fractal-lif-converters`` 0.5.0 sdist's ``Project_3D.lif`` (see
``tests/test_formats_lif.py``, whose fixture fetches and checks it): 2 scenes, 3 channels (Cyan: nuclei),
5 Z slices, 511 x 511.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_batchseg.io.masks import read_mask
from napari_batchseg.view.layer_files import layer_meta
from test_formats_lif import MODEL, SCENES, lif_file  # noqa: F401  (the fixture)

pytest.importorskip("bioio_lif")  # the [formats] extra (scripts/setup.sh installs it)


@pytest.mark.cp3
def test_a_two_scene_lif_runs_from_the_widget_one_output_and_layer_per_scene(widget, lif_file, tmp_path,  # noqa: F811
                                                                            qtbot):
    import shutil

    image = tmp_path / "Project_3D.lif"
    shutil.copy(lif_file, image)
    form = widget.form
    assert widget.files.add_paths([image]) == 1
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=60000)
    assert widget.files.problem(image.resolve()) == ""
    form.model.setCurrentText("User trained model…")
    form.model_path.setText(str(MODEL))
    form.channel.setCurrentIndex(0)  # Cyan: nuclei
    form.z_type.setCurrentIndex(form.z_type.findData("max"))
    params = widget.params()
    assert (params.channel, params.z_projection) == (0, "max")
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=600000)
    keys = widget.status.keys()
    assert len(keys) == 2, keys  # one row per scene
    assert all(widget.status.status(k) == "done" for k in keys), widget.message.text()
    for k, scene in enumerate(SCENES):
        mask = read_mask(tmp_path / f"Project_3D_P{k}_vSM.ome.tif")
        assert mask.labels.shape == (1, 511, 511)
        n = len(np.unique(mask.labels)) - 1
        assert 100 < n < 500, (scene, n)  # 177 and 274 nuclei from the CLI (test_formats_lif)
        assert f"position: {k} of 2 ({scene})" in mask.log_text and "projection max" in mask.log_text
    shown = [lay for lay in widget.viewer.layers if layer_meta(lay).get("role") == "mask"]
    assert shown, [lay.name for lay in widget.viewer.layers]
    last = read_mask(tmp_path / "Project_3D_P1_vSM.ome.tif")
    assert any(np.array_equal(np.asarray(lay.data), last.labels) for lay in shown), \
        [lay.name for lay in shown]
