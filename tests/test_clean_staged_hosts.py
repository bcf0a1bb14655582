"""``batchseg clean`` on a folder several hosts share: what an export of another host stages is not removed.

An export stages its new files as ``.<name>.partial-new-<pid>-...`` (``io.atomic.staged_prefix``). Before,
the name said nothing of the host: ``clean`` took a pid not running here for a process gone and removed
the file after a minute, though an export of another host might still be writing it. Now the name holds a
tag of the host (``<pid>-<host tag>-<8 random>``, :data:`io.atomic.PID_SPACE_TAG`): one of this host is
removed once its process is gone, one of another host (or of an older name: no host) only once unchanged
for :data:`io.locks.STALE_AFTER_S` seconds, and ``clean`` says what it left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from napari_batchseg.cli import main
from napari_batchseg.io.atomic import NAME_MAX, STAGED_MARK, hidden_name, staged_prefix
from napari_batchseg.io.leftovers import find_leftovers
from napari_batchseg.io.locks import STALE_AFTER_S

_RECORD = '{\n  "tool": "napari-batchseg export", "version": 1\n}\n'


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def _staged(folder: Path, output: str, tail: str, age_s: float) -> Path:
    path = folder / f"{hidden_name(output)}{STAGED_MARK}{tail}"
    path.mkdir()
    (path / "item.zip").write_bytes(b"PK")
    then = time.time() - age_s
    for p in (path / "item.zip", path):
        os.utime(p, (then, then))
    return path


def _clean(folder: Path) -> str:
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        assert main(["clean", str(folder)]) == 0
    return said.getvalue()


def test_staged_names_carry_this_host_s_tag(tmp_path: Path) -> None:
    from napari_batchseg.io.atomic import PID_SPACE_TAG

    assert staged_prefix(tmp_path / "a_rois.zip") == f".a_rois.zip{STAGED_MARK}{os.getpid()}-{PID_SPACE_TAG}-"
    long_name = "b" * 217 + ".json"  # (.<name>: 223 bytes, the longest kept whole)
    prefix = staged_prefix(tmp_path / long_name)
    tagged = f".{long_name}{STAGED_MARK}{os.getpid()}-{PID_SPACE_TAG}-"
    assert len(prefix) + 8 <= NAME_MAX  # (mkstemp's 8 random characters follow)
    assert prefix == (tagged if len(tagged) + 8 <= NAME_MAX else f".{long_name}{STAGED_MARK}{os.getpid()}-")


def test_clean_leaves_a_staged_export_of_no_known_host_until_it_is_old(tmp_path: Path) -> None:
    dead = _dead_pid()  # (not running here: says nothing of a process of another host)
    untagged = _staged(tmp_path, "a_rois.zip", f"{dead}-abcd_123", 120)  # an older name: no host
    said = _clean(tmp_path)
    assert untagged.is_dir(), said  # before: removed (its pid not running here, a minute old)
    note = (f"left alone: {re.escape(str(untagged))}: staged by process {dead} of an unknown host "
            r"\(an older name\), modified 1\d\d s ago, left alone \(until unchanged for 600 s\)")
    assert re.search(note, said), said
    _staged(tmp_path, "e_rois.zip", f"{dead}-abcd_123", STALE_AFTER_S + 60)  # old enough
    assert "of an unknown host (an older name), unchanged for 6" in _clean(tmp_path)
    assert [p.name[:10] for p in tmp_path.iterdir()] == [".a_rois.zi"]


def test_clean_leaves_another_host_s_staged_export_until_it_is_old(tmp_path: Path) -> None:
    from napari_batchseg.io.atomic import PID_SPACE_TAG

    dead = _dead_pid()
    other_tag = "0" * 6 if PID_SPACE_TAG != "0" * 6 else "1" * 6
    other = _staged(tmp_path, "b_rois.zip", f"{dead}-{other_tag}-abcd_123", 120)
    mine = _staged(tmp_path, "c_rois.zip", f"{dead}-{PID_SPACE_TAG}-abcd_123", 120)
    old_other = _staged(tmp_path, "d_rois.zip", f"{dead}-{other_tag}-abcd_123", STALE_AFTER_S + 60)
    said = _clean(tmp_path)
    assert other.is_dir(), said
    assert f"left alone: {other}: staged by process {dead} of another host, modified 1" in said, said
    assert not mine.exists() and f"removed: {mine} (" in said and "left by the killed export" in said
    assert not old_other.exists() and f"removed: {old_other} (" in said, said  # old enough
    assert not find_leftovers(tmp_path, min_age_s=STALE_AFTER_S + 100)[0]  # (a longer wait asked: it counts)
