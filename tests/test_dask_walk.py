"""The Dask runner as a facility meets it: a model the workers cannot load.

The model file is a real file that is not Cellpose weights; the cluster is a ``dask_local`` one of
worker processes, whose stderr is this test's (captured at the file descriptor).
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_batchseg import SegmentationParams, segment_files
from napari_batchseg.errors import ModelError
from napari_batchseg.runners import RunOptions

pytest.importorskip("distributed")


def test_a_model_the_workers_cannot_load_stops_the_run_in_one_error(tmp_path, dsb2018, capfd):
    """The run raised the ModelError, but first every worker logged 'Compute Failed' and its traceback."""
    img = tifffile.imread(dsb2018[0])
    tifffile.imwrite(tmp_path / "nuclei.tif", img[:96, :96])
    bad = tmp_path / "not_a_model"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="not_a_model"):
        segment_files([tmp_path / "nuclei.tif"], SegmentationParams(model=str(bad)),
                      options=RunOptions(dask_local=1))
    err = capfd.readouterr().err
    assert "Compute Failed" not in err and "Traceback" not in err
    assert not (tmp_path / "nuclei_vSM.ome.tif").exists()
