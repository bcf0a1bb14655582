"""``batchseg gui``'s options: those of ``batchseg segment``, read without Qt (the window: tests/_napari)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from napari_batchseg.cli import build_parser, main
from napari_batchseg.cli_gui import gui_setup


def test_config_then_command_line_and_model_files_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("model_dir").mkdir()
    Path("model_dir/my_model").write_bytes(b"weights")
    Path("run.yaml").write_text(yaml.safe_dump({"diameter": 25.0, "channel": 1, "contains": ["_GFP"]}))
    args = build_parser().parse_args(["gui", "data", "--config", "run.yaml", "--diameter", "30",
                                      "--model", "model_dir/my_model", "--not-contains", "old"])
    params, file_filter = gui_setup(args)
    assert params.diameter == 30.0 and params.channel == 1  # the command line wins over the file
    assert params.model == str(tmp_path / "model_dir" / "my_model")  # a file: absolute
    assert (list(file_filter.contains), list(file_filter.not_contains)) == (["_GFP"], ["old"])
    Path("cyto3").mkdir()  # a folder named like a built-in model (e.g. a data folder)
    args = build_parser().parse_args(["gui", "--model", "cyto3"])
    assert gui_setup(args)[0].model == "cyto3"  # a built-in name stays a name, as for batchseg segment
    assert list(gui_setup(args)[1].contains) == []  # no filter unless given, as for batchseg segment


def test_a_bad_option_is_refused_before_any_window(capsys):
    assert main(["gui", "--z-range", "nonsense"]) == 2
    assert "'nonsense' not understood" in capsys.readouterr().err


def test_gui_has_no_run_only_options():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gui", "--parallel", "files"])
