"""What the napari plugin shows and decides, without Qt (each module is tested without a display).

The widgets of :mod:`napari_batchseg._napari` are thin views over these: which files can run and why
(:mod:`.file_list`), their metadata read off the GUI thread (:mod:`.file_info`), the form's values
(:mod:`.form_state`) and controls as specs (:mod:`.fields`), the outputs' preview (:mod:`.outputs`), a
correction's undo record and log (:mod:`.fixes`), the messages (:mod:`.phrasing`), display buffers
(:mod:`.buffers`), small operations on the streamed layers (:mod:`.layer_ops`), the threads and queues
that run every job (:mod:`.jobs`), the docks' background jobs (:mod:`.dock_jobs`), the Track dock's tracks
layer, selection and buttons (:mod:`.tracks`), when napari's window repaint is held back
(:mod:`.repaint_policy`), the docks' forms and decisions (:mod:`.rethreshold`, :mod:`.training_form`,
:mod:`.track_form`, :mod:`.measure_form`, :mod:`.fix_undo`), the tracks the Track dock shows and what of
their corrections is saved (:mod:`.track_shown`), layer data read from and written to files
(:mod:`.layer_files`), the reopening of results (:mod:`.result_showing`), a running output's first input
frame shown before its mask (:mod:`.early_input`) and the Re-threshold dock's preview layer
(:mod:`.rethreshold_layer`).
"""
