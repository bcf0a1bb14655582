"""napari plugin: the dock widget, reader, writer and sample data (all Qt code lives here).

Nothing here segments anything: the widget builds :class:`~napari_batchseg.params.SegmentationParams`,
runs :func:`napari_batchseg.engine.run` in a worker thread and shows its events.
"""
