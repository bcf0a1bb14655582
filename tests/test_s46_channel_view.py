"""A channel chosen from a file whose channels have names is kept by name (GUI trial s6, session 46).

The dock's Settings kept the global channel as a position, so other files were segmented on another
channel without a word (``multich.nd2``'s "1: DAPI" was FITC in the yeast file and Yellow in the LIF).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg.io.sources import SourceInfo
from napari_batchseg.params import SegmentationParams
from napari_batchseg.runnable import check_info
from napari_batchseg.view.form_state import (
    channel_choice,
    channel_data,
    channel_entries,
    chosen_channel,
    named_channels,
)

MULTICH = ["Mono", "DAPI", "FITC BP", "TRITC BP"]


def test_files_with_names_of_their_own_name_their_channels():
    assert named_channels(MULTICH) and named_channels(["DIC", "FITC BP"]) and named_channels(["DAPI"])
    assert not named_channels(["C0", "C1"]) and not named_channels(["C0"])  # the reader's: no names
    assert not named_channels(["GFP", "gfp"])  # repeated (names match case aside)
    assert not named_channels(["0", "1"]) and not named_channels(["a,b", "c"])  # read as index / list
    assert not named_channels([" DAPI", "GFP"])
    assert named_channels(["C0", "DAPI"])  # one name of its own is enough: C0 is then a name


def test_a_channel_chosen_from_named_channels_is_its_name_and_one_set_by_index_stays_an_index():
    entries = channel_entries(MULTICH, 0)  # the default channel 0: an index until another is chosen
    assert entries == [(0, "0: Mono"), ("DAPI", "1: DAPI"), ("FITC BP", "2: FITC BP"),
                       ("TRITC BP", "3: TRITC BP")]
    assert channel_entries(MULTICH, "DAPI") == [("Mono", "0: Mono"), ("DAPI", "1: DAPI"),
                                                ("FITC BP", "2: FITC BP"), ("TRITC BP", "3: TRITC BP")]
    assert chosen_channel(MULTICH, 0) == "Mono" and chosen_channel(MULTICH, "DAPI") == "DAPI"
    assert chosen_channel(MULTICH, 7) == 7 and chosen_channel(MULTICH, None) is None
    assert chosen_channel(["C0", "C1"], 1) == 1  # a file without names: its index
    assert channel_data(MULTICH, 1) == "DAPI" and channel_data(MULTICH, 1, keep=1) == 1
    # another file lacks the name: the name is listed (it stays), the file's own channels by name
    assert channel_entries(["DIC", "FITC BP"], "DAPI") == [("DIC", "0: DIC"), ("FITC BP", "1: FITC BP"),
                                                           ("DAPI", "DAPI (by name)")]
    # a file without names: its indices, a kept name listed
    assert channel_entries(["C0"], "DAPI") == [(0, "0: C0"), ("DAPI", "DAPI (by name)")]
    assert channel_entries(["C0", "C1"], 1) == [(0, "0: C0"), (1, "1: C1")]


def test_a_loaded_name_shows_as_the_files_entry_and_stays_a_name():
    assert channel_choice(MULTICH, "DAPI") == "DAPI"  # was 1: saved by name, shown as "1: DAPI"
    assert channel_choice(["Cyan", "Yellow", "Magenta"], "DAPI") == "DAPI"
    assert channel_choice(["C0", "C1"], "C1") == 1  # a file without names: its reader's name is its index
    assert channel_choice(MULTICH, 1) == 1


def _info(names: list[str]) -> SourceInfo:
    return SourceInfo(Path("f.nd2"), {"T": 1, "C": len(names), "Z": 1, "Y": 8, "X": 8},
                      np.dtype(np.uint16), names)


def test_files_without_the_named_channel_say_so():
    params = SegmentationParams(channel=chosen_channel(MULTICH, 1))  # type: ignore[arg-type]
    assert params.channel == "DAPI"
    assert check_info(_info(MULTICH), params) is None
    problem = check_info(_info(["DIC", "FITC BP"]), params)
    assert problem is not None and problem.brief == "no channel named 'DAPI' (it has DIC, FITC BP)"
