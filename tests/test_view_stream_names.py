"""The stream labels layer's name for an output kept in part, and for one cancelled (view.stream_layers)."""

from __future__ import annotations

from napari_batchseg.view.stream_layers import CANCELLED, cancelled_name, streamed_label


def test_an_output_kept_only_in_part_says_so_in_its_name() -> None:
    assert streamed_label("movie.tif", 3, False) == "movie.tif"
    assert streamed_label("movie.tif", 3, True) == "movie.tif (latest frame)"
    assert streamed_label("stack.tif", 4, True) == "stack.tif (latest volume)"
    assert streamed_label("stack.tif", 4, False) == "stack.tif"


def test_a_cancelled_output_is_named_so_once() -> None:
    assert cancelled_name("movie.tif") == "movie.tif (cancelled, not saved)"
    assert cancelled_name(cancelled_name("movie.tif")) == "movie.tif" + CANCELLED
