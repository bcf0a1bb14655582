"""napari plugin: the docks and their Qt code (reader, writer, sample data: Qt-free, ``view.layer_files``).

Nothing here segments anything: the widget builds :class:`~napari_batchseg.params.SegmentationParams`,
runs :func:`napari_batchseg.runners.execute` in a worker thread and shows its events.
"""

from ..quiet_import import quiet_notices

quiet_notices()  # napari is the application here: third-party notices a user cannot act on stay out
