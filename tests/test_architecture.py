"""The package's shape, as docs/architecture.md draws it: layers that import only downward, no
import circle, modules small enough to read, and one public facade."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pipeline

PACKAGE = Path(pipeline.__file__).parent

# Lowest first. A module may import its own layer and the ones before it, never a later one.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "ground",
        frozenset(
            [
                "types",
                "errors",
                "files",
                "atomic",
                "imageio",
                "boxes",
                "vectors",
                "draw",
                "labels",
                "version",
                "extras",
                "registry",
                "modelfiles",
                "prefetch",
                "recognizerfile",
                "facequality",
            ]
        ),
    ),
    ("engines", frozenset(["detectors", "embedders", "runtimes", "stores"])),
    ("core", frozenset(["core", "classify", "calibrate", "search"])),
    (
        "steps",
        frozenset(
            [
                "audit",
                "extract",
                "extract_ray",
                "train",
                "recognize",
                "enrol",
                "export",
                "migrate",
                "api",
                "evaluation",
                "video",
                "library",
            ]
        ),
    ),
    ("front", frozenset(["cli", "server", "entry", "__main__", "__init__"])),
)
MAX_LINES = 425  # "about 400"


def module_name(path: Path) -> str:
    parts = ["pipeline", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The package's modules `name` imports anywhere in its file (a lazy import inside a
    function counts: it is still a dependency)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from pipeline.stores import sqlite` names a module; `import x` of a name, its module
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(name: str) -> int:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and docs/architecture.md")


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 90  # the walk found the package
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in GRAPH.items()
        for b in targets
        if layer_of(b) > layer_of(a)
    ]
    assert upward == []


def test_no_import_circle() -> None:
    """Tarjan's strongly connected components; a package importing its own submodules (its
    exports) is not a circle unless a submodule imports the package back."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                circles.append(sorted([v, *component]))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert circles == []


def test_the_server_and_the_cli_stay_apart() -> None:
    """Both are fronts on the same core: the server never imports the CLI; the CLI reaches the
    server only in the command that starts it."""
    assert not [
        b
        for a, bs in GRAPH.items()
        if a.startswith("pipeline.server")
        for b in bs
        if b.startswith("pipeline.cli")
    ]
    reaching = {
        a
        for a, bs in GRAPH.items()
        if a.startswith("pipeline.cli") and any(b.startswith("pipeline.server") for b in bs)
    }
    assert reaching == {"pipeline.cli.commands.serve"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by job"


def test_one_public_facade() -> None:
    """`FaceRec` is the facade; every exported name resolves; the engine under it is not
    exported."""
    assert "FaceRec" in pipeline.__all__ and "FaceRecognizer" not in pipeline.__all__
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None
