"""``quiet_import``: torch's libraries loaded with the GIL released, the collector paused and restored."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from napari_batchseg.quiet_import import import_quietly, paused_collector


def test_paused_collector_pauses_and_restores_the_collector():
    assert gc.isenabled()
    with paused_collector():
        assert not gc.isenabled()
        counts = gc.get_count()
        [[] for _ in range(10 * gc.get_threshold()[0])]  # would have run generation-0 collections
        assert gc.get_count()[0] > counts[0]
    assert gc.isenabled()
    gc.disable()
    try:  # a collector the caller had turned off stays off
        with paused_collector():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_paused_collector_restores_on_error():
    with pytest.raises(RuntimeError), paused_collector():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_import_quietly_returns_the_modules_and_raises_import_errors():
    mods = import_quietly(["json", "numpy"])
    assert [m.__name__ for m in mods] == ["json", "numpy"]
    with pytest.raises(ImportError):
        import_quietly(["napari_batchseg_no_such_module"])
    assert gc.isenabled()


@pytest.mark.skipif(sys.platform != "linux", reason="the loader trick is checked on Linux")
def test_torch_libraries_preloaded_then_torch_imports_and_works():
    # a fresh process: torch must not be imported yet
    code = textwrap.dedent("""
        import sys
        from napari_batchseg.quiet_import import preload_torch_libraries, import_quietly
        assert "torch" not in sys.modules
        loaded = preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        assert "libtorch_cpu" in maps, "libtorch_cpu not mapped after preload"
        assert "torch" not in sys.modules
        (torch,) = import_quietly(["torch"])
        assert float(torch.ones(3).sum()) == 3.0
        assert preload_torch_libraries() is False  # torch imported: nothing more to do
        print(loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_imports_leave_no_full_collection_owed():
    """The objects an import makes (here SciPy's, ~100,000) join the oldest generation without a
    collection: no generation-2 collection (250-850 ms with napari and torch in memory, every thread
    stopped) falls due in the ordinary work that follows (here 200 generation-0 collections' worth of
    short-lived objects), and nothing stays frozen. A fresh process, so that SciPy really is imported."""
    code = textwrap.dedent("""
        import gc
        from napari_batchseg.quiet_import import import_quietly
        gc.collect()  # (a fresh interpreter has had no full collection yet: any count would trigger one)
        full = []
        gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start"
                            and info["generation"] == 2 else None)
        before = len(gc.get_objects())
        import_quietly(["scipy.ndimage", "scipy.linalg", "scipy.special"])
        made = len(gc.get_objects()) - before
        for _ in range(200 * gc.get_threshold()[0]):
            a = []
            a.append(a)
        print("made", made, "full", len(full), "frozen", gc.get_freeze_count())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    made, full, frozen = int(words[1]), int(words[3]), int(words[5])
    assert made > 20000  # the imports really made objects enough to owe a full collection
    assert full == 0 and frozen == 0, out.stdout


def test_settling_leaves_objects_the_host_froze_alone():
    from napari_batchseg.quiet_import import settle_new_objects

    assert settle_new_objects() is True and gc.get_freeze_count() == 0
    held = [object()]  # one of the host's objects; gc.get_objects() lists only unfrozen ones
    gc.freeze()  # the host process keeps its objects frozen (e.g. before forking workers)
    try:
        frozen = gc.get_freeze_count()
        assert settle_new_objects() is False
        # Per object, not a process-wide count: another test's lingering thread may free frozen
        # objects meanwhile (the count then drops), but nothing else unfreezes or freezes them.
        assert not any(obj is held for obj in gc.get_objects()), "the host's object was unfrozen"
        assert 0 < gc.get_freeze_count() <= frozen, "settling froze or unfroze objects itself"
    finally:
        gc.unfreeze()


_SETUP = {  # what each application does before it segments
    "napari": "import napari_batchseg._napari",
    "cli": "from napari_batchseg.cli import main\ntry:\n    main(['info'])\nexcept SystemExit:\n    pass",
    "api": "import napari_batchseg.api",
    # a review: the thread limit of a sequential run (the caller's process) filtered them too
    "api with threads": "from napari_batchseg.runners._worker import limit_threads\nlimit_threads(1)",
}


@pytest.mark.parametrize("application", list(_SETUP))
def test_the_applications_leave_known_notices_out_and_the_api_does_not(application):
    """torch's sparse-tensor notice (raised in Cellpose's mask computation) reached napari's console and
    each Dask worker's; the napari plugin and the CLI filter it, the bare API leaves the filters alone."""
    code = _SETUP[application] + textwrap.dedent("""
        import warnings
        warnings.warn("Sparse invariant checks are implicitly disabled.", UserWarning)
        warnings.warn("another notice", UserWarning)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "another notice" in run.stderr, run.stderr
    assert ("Sparse invariant" in run.stderr) == application.startswith("api"), run.stderr


def test_the_launcher_imports_neither_qt_nor_the_data_libraries():
    """``batchseg gui`` imports its launcher first, then napari, Qt and the rest under ``preload``'s
    paused collector (a merge of ``_startup`` into ``_warmup`` once pulled Qt, pandas and scipy in first)."""
    code = ("import sys, napari_batchseg._napari._launch; "
            "print([m for m in ('qtpy', 'PyQt6', 'pandas', 'scipy', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
