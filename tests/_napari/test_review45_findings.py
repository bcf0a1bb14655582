"""Review 45 (source review of session 45's changes): findings in the dock widgets (fixed since)."""

from __future__ import annotations


def test_loaded_frames_survive_a_save_before_any_file_is_listed(widget, tmp_path) -> None:
    """ad52ed4 dropped a greyed form's frames (no file listed yet): loaded 3-7, saved 0-last."""
    from napari_batchseg.params import SegmentationParams

    SegmentationParams(start_frame=3, end_frame=7).save(tmp_path / "movie.yaml")
    widget.load_params(tmp_path / "movie.yaml")
    widget.save_params(tmp_path / "again.yaml")
    again = SegmentationParams.load(tmp_path / "again.yaml")
    assert (again.start_frame, again.end_frame) == (3, 7)
