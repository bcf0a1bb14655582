"""Names the docks once imported from here, whose home is in ``view`` now (to be removed).

The layer operations this module held are Qt-free: :mod:`napari_batchseg.view.layer_ops`. Only
``_measure_widget`` and ``_rethreshold_widget`` still import ``is_kind``, ``layer_meta`` and ``offered``
from here (their home: :mod:`napari_batchseg.view.layer_files`, :mod:`napari_batchseg.view.stream_layers`);
this module goes once they import them from there.
"""

from __future__ import annotations

from ..view.layer_files import is_kind, layer_meta
from ..view.stream_layers import offered

__all__ = ["is_kind", "layer_meta", "offered"]
