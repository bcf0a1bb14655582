"""The layer contract of napari_batchseg, checked on every import in ``src/`` (read with :mod:`ast`).

Layers, lowest first. A module may import modules of its own layer and of lower layers, never of a
higher one; this holds for every import: module level, inside functions, under ``if TYPE_CHECKING:``
(no exception is made for those), and ``importlib.import_module("...")`` / ``__import__("...")`` calls
with a literal name. On top of the layers:

* no import cycle between modules at all (a graph over modules, function-level imports counted);
* no module imports the package itself (``napari_batchseg/__init__``, the public API); inside the
  package, import what you need from its module (``._version``, ``.params``, ...);
* only ``_napari`` imports Qt, napari, magicgui, superqt or vispy;
* every module is placed in the table (an entry names a module and everything below it).
"""

from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "napari_batchseg"
SRC = Path(__file__).resolve().parents[1] / "src"

#: The architecture, lowest layer first: (layer name, modules relative to the package, what it is).
#: ``__init__`` is the package itself.
LAYERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("foundation", ("_version", "errors", "params", "devices", "quiet_import", "_atomic_text"),
     "version, error types, the validated parameters, device choice, the atomic writer of text files"),
    ("io", ("io", "discovery", "provenance"),
     "files: lazy readers, masks, output names, atomic writes, the log text in masks; finding inputs"),
    ("prepare", ("prepare", "prepare_3d"),
     "planes -> the 2D images a model sees (channel, Z projection, best focus); volumes for 3D"),
    ("segmenters", ("segmenters",),
     "Cellpose and micro-sam behind one protocol"),
    ("engine", ("engine", "rethreshold_run",
                "events", "_prefetch", "_cancel", "torch_cancel", "_checks", "_commit",
                "_engine_log", "runnable", "results", "_labels", "corrections", "measure", "evaluate",
                "export", "training", "existing", "rerun", "tracking", "evaluate_tracks",
                "_volume_run", "measure_3d", "input_check", "_columns"),
     "one batch run and its typed events, whether a file can run, finished outputs read back, what "
     "is on disk for a planned output, reruns from logs; the tools on finished masks (correct, "
     "measure, evaluate, export, train)"),
    ("runners", ("runners",),
     "orchestration of a run: sequential, worker processes, Dask"),
    ("live", ("live",),
     "the live view of a run without Qt: what is on screen when, as plain commands"),
    ("view", ("view",),
     "what the napari plugin shows and decides without Qt: file checks, form values, fix records, texts, "
     "the docks' forms and jobs, layer data read from and written to files"),
    ("front ends", ("__init__", "api", "cli", "cli_segment", "cli_train", "cli_downstream", "cli_track",
                    "cli_gui", "testing",
                    "cli_rethreshold", "cli_stop", "_napari"),
     "the public API, the CLI, test support and the napari plugin (the only Qt code)"),
)

#: Third-party top-level modules that only the Qt layer (``_napari``) may import.
GUI_MODULES = frozenset(
    {"qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "napari", "magicgui", "vispy"}
)
#: The one subpackage allowed to import :data:`GUI_MODULES`.
GUI_PACKAGE = "_napari"


@dataclass(frozen=True)
class Import:
    """One import statement (or literal ``import_module`` call) found in a module."""

    module: str  # importing module, dotted, relative to the package ('' for the package itself)
    path: Path
    line: int
    target: str  # imported name: dotted and relative to the package when internal, else absolute
    internal: bool

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _rel(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` relative to the package root ('' for its ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str:
    """The longest existing module that ``name`` (relative dotted) is, or lies in."""
    parts = name.split(".") if name else []
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def _literal_import_call(node: ast.Call) -> str | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def collect_imports(root: Path, package: str = PACKAGE) -> tuple[set[str], list[Import]]:
    """All modules of the package at ``root`` and every import in them (function-level included)."""
    files = sorted(root.rglob("*.py"))
    modules = {_rel(p, root) for p in files}
    found: list[Import] = []

    def add(module: str, path: Path, line: int, absolute: str, alias_names: tuple[str, ...] = ()) -> None:
        if absolute != package and not absolute.startswith(package + "."):
            found.append(Import(module, path, line, absolute, internal=False))
            return
        rel = absolute[len(package) + 1:] if absolute != package else ""
        targets = [f"{rel}.{a}" if rel else a for a in alias_names]
        submodules = [t for t in targets if t in modules]  # `from . import x` with x a module
        if alias_names and len(submodules) == len(targets):
            for t in submodules:
                found.append(Import(module, path, line, t, internal=True))
        else:
            found.append(Import(module, path, line, _resolve(rel, modules), internal=True))
            for t in submodules:
                found.append(Import(module, path, line, t, internal=True))

    for path in files:
        module = _rel(path, root)
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(module, path, node.lineno, alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    here = [package] + (module.split(".") if module else [])
                    base = here if is_pkg else here[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    absolute = ".".join(base + ([node.module] if node.module else []))
                else:
                    absolute = node.module or ""
                add(module, path, node.lineno, absolute, tuple(a.name for a in node.names if a.name != "*"))
            elif isinstance(node, ast.Call):
                name = _literal_import_call(node)
                if name and not name.startswith("."):
                    add(module, path, node.lineno, name)
    return modules, found


def layer_of(module: str, layers=LAYERS) -> tuple[int, str] | None:
    """(index, name) of the layer whose most specific entry covers ``module``; ``None`` if unlisted."""
    key = module or "__init__"
    best: tuple[int, int, str] | None = None
    for index, (name, entries, _) in enumerate(layers):
        for entry in entries:
            if key == entry or key.startswith(entry + "."):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), index, name)
    return None if best is None else (best[1], best[2])


def _dotted(module: str, package: str) -> str:
    return f"{package}.{module}" if module else package


def _cycles(modules: set[str], edges: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def violations(root: Path, package: str = PACKAGE, layers=LAYERS) -> list[str]:
    """Every breach of the contract, one line each (empty when the package keeps it)."""
    modules, imports = collect_imports(root, package)
    problems: list[str] = []
    for module in sorted(modules):
        if layer_of(module, layers) is None:
            problems.append(
                f"unlisted module: {_dotted(module, package)} is in no layer of the table in "
                f"tests/test_layering.py; add it to the layer its imports put it in"
            )
    edges: dict[str, dict[str, list[Import]]] = {}
    for imp in imports:
        src = _dotted(imp.module, package)
        if not imp.internal:
            top = imp.target.split(".")[0]
            in_gui = imp.module == GUI_PACKAGE or imp.module.startswith(GUI_PACKAGE + ".")
            if top in GUI_MODULES and not in_gui:
                problems.append(
                    f"{imp.where()}: {src} imports {imp.target}: only {package}.{GUI_PACKAGE} may import "
                    f"Qt/napari/magicgui/superqt/vispy"
                )
            continue
        if imp.target == imp.module:
            continue
        dst = _dotted(imp.target, package)
        if imp.target == "" and imp.module != "":
            problems.append(
                f"{imp.where()}: {src} imports the package {package} itself (its __init__, the public "
                f"API layer); import from the module that defines the name instead (e.g. ._version)"
            )
        edges.setdefault(imp.module, {}).setdefault(imp.target, []).append(imp)
        here, there = layer_of(imp.module, layers), layer_of(imp.target, layers)
        if here is not None and there is not None and there[0] > here[0]:
            problems.append(
                f"{imp.where()}: {src} (layer {here[0]} '{here[1]}') imports {dst} "
                f"(higher layer {there[0]} '{there[1]}')"
            )
    for component in _cycles(modules, edges):
        members = set(component)
        links = [
            f"{imp.where()}: {_dotted(a, package)} -> {_dotted(b, package)}"
            for a in component
            for b, found in sorted(edges.get(a, {}).items())
            if b in members
            for imp in found[:1]
        ]
        problems.append(
            f"import cycle among {len(component)} modules: "
            + ", ".join(_dotted(m, package) for m in component)
            + "\n      "
            + "\n      ".join(links)
        )
    return problems


def _table() -> str:
    return "\n".join(
        f"  {i}. {name:<11} {', '.join(entries)}  ({what})" for i, (name, entries, what) in enumerate(LAYERS)
    )


# =========================================================================== the contract itself


def test_napari_batchseg_keeps_its_layer_contract():
    problems = violations(SRC / PACKAGE)
    assert not problems, (
        f"{len(problems)} breach(es) of the layer contract (layers, lowest first:\n{_table()}\n):\n"
        + "\n".join(f"- {p}" for p in problems)
    )


def test_the_table_names_each_module_once():
    entries = [e for _, layer_entries, _ in LAYERS for e in layer_entries]
    assert len(entries) == len(set(entries))


# =========================================================================== the checker finds breaches


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "pkg"


TOY_LAYERS = (
    ("low", ("errors", "io"), ""),
    ("mid", ("engine",), ""),
    ("top", ("__init__", "api", "_napari"), ""),
)


def test_checker_reports_function_level_and_type_checking_upward_imports(tmp_path):
    root = _write(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "engine.py": "from .errors import *\n",
        "api.py": "from . import engine\n",
        "io/__init__.py": "",
        "io/reader.py": """\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from ..api import run
            def f():
                from .. import engine
                return engine
            """,
    })
    problems = violations(root, "pkg", TOY_LAYERS)
    assert len(problems) == 2, problems
    assert any("reader.py:3: pkg.io.reader (layer 0 'low') imports pkg.api (higher layer 2 'top')" in p
               for p in problems), problems
    assert any("reader.py:5: pkg.io.reader (layer 0 'low') imports pkg.engine (higher layer 1 'mid')" in p
               for p in problems), problems


def test_checker_reports_cycles_gui_imports_package_imports_and_unlisted_modules(tmp_path):
    root = _write(tmp_path, {
        "__init__.py": "from .engine import x\n",
        "errors.py": "",
        "engine.py": """\
            import importlib
            x = 1
            def g():
                return importlib.import_module("pkg.extra")
            """,
        "extra.py": "from .engine import x\n",
        "api.py": "def h():\n    import pkg\n    import qtpy\n",
        "_napari/__init__.py": "import qtpy.QtCore\nfrom napari.layers import Labels\n",
        "io/__init__.py": "",
        "io/a.py": "def f():\n    from . import b\n",
        "io/b.py": "from .a import f\n",
        "io/gui.py": "from superqt import QCollapsible\n",
    })
    problems = violations(root, "pkg", TOY_LAYERS)
    text = "\n".join(problems)
    assert "unlisted module: pkg.extra" in text
    assert "import cycle among 2 modules: pkg.io.a, pkg.io.b" in text
    assert "import cycle among 2 modules: pkg.engine, pkg.extra" in text
    assert "api.py:2: pkg.api imports the package pkg itself" in text
    assert "api.py:3: pkg.api imports qtpy" in text
    assert "gui.py:1: pkg.io.gui imports superqt" in text
    assert "pkg._napari imports" not in text  # the Qt package may import Qt and napari
    assert len(problems) == 6, problems


if __name__ == "__main__":  # print the current breaches: python tests/test_layering.py
    print("\n".join(violations(SRC / PACKAGE)) or "no breach")
    sys.exit(0)



#: issue 20: small modules in the Qt layer
MAX_GUI_MODULE_LINES = 400


def test_no_module_of_the_qt_layer_is_over_400_lines():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (SRC / PACKAGE / GUI_PACKAGE).rglob("*.py")}
    assert sizes  # the folder was found
    assert {name: n for name, n in sizes.items() if n > MAX_GUI_MODULE_LINES} == {}
