"""napari plugin: the docks and their Qt code (reader, writer, sample data: Qt-free, ``view.layer_files``).

Nothing here segments anything: the widget builds :class:`~napari_batchseg.params.SegmentationParams`,
runs :func:`napari_batchseg.engine.run` in a worker thread and shows its events.
"""
