"""The dependency direction, checked on the source: cells -> layers -> training -> recipes, export
on top of them, the CLI on top of everything. A module may import its own tier or lower ones,
never a higher one (lazy imports inside functions count too)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Tier of each part of the installed ``zoo`` namespace, lowest first.
TIERS = {
    # shared plumbing, no knowledge of LSTMs
    "zoo.errors": 0, "zoo.version": 0, "zoo.files": 0, "zoo.console": 0, "zoo.compat": 0, "zoo.progress": 0,
    # cells and the fused kernel; data readers
    "zoo.cells": 1, "zoo.kernel": 1, "zoo.data": 1,
    # layers built from cells
    "zoo.layers": 2, "zoo.text": 2,
    # training: options, recipes' base class, the registry, checkpoints, releases, the optimizer
    "zoo.options": 3, "zoo.registry": 3, "zoo.factory": 3, "zoo.tasks": 3, "zoo.recipe": 3, "zoo.training": 3, "zoo.distribute": 3,
    "zoo.checkpoints": 3, "zoo.finetune": 3, "zoo.release": 3, "zoo.backup": 3, "zoo.optimizers": 3,
    # the zoo's recipes
    "zoo.models": 4,
    # export builds on all of the above
    "zoo.export": 5,
    # on top: one predictor over every runtime, the command line, and the package's front door
    # (zoo/__init__.py: create_model, load)
    "zoo.predictor": 6, "zoo.cli": 6, "zoo.__main__": 6, "zoo": 7,
}
_PACKAGES = ("zoo.cells", "zoo.kernel", "zoo.data", "zoo.models", "zoo.export")


def _module(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in ("export", "models"):
        parts.insert(0, "zoo")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _part(module):
    """The TIERS key a module belongs to: its package for the five sub-packages."""
    for package in _PACKAGES:
        if module == package or module.startswith(package + "."):
            return package
    return module


def _children(package):
    """The modules directly inside ``package``: what ``import_module(f"{__name__}.{name}")`` over
    ``pkgutil.iter_modules(__path__)`` loads."""
    return [m for m in _all_modules() if m.rpartition(".")[0] == package]


def _imports(tree, module=""):
    """Every ``zoo`` module a source imports: statements at any depth (lazy ones inside functions
    too), and string imports (``importlib.import_module("zoo.x")``, ``__import__``); an f-string
    ``f"{__name__}.{name}"`` imports every module of its own package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "zoo":
                yield from (f"zoo.{alias.name}" for alias in node.names)
            elif node.module.startswith("zoo."):
                yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{module}: relative import; the layout test reads absolute ones")
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name == "zoo" or alias.name.startswith("zoo."))
        elif isinstance(node, ast.Call) and _is_string_import(node.func) and node.args:
            target = node.args[0]
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and target.value.startswith("zoo"):
                yield target.value
            elif isinstance(target, ast.JoinedStr) and _starts_with_own_name(target):
                yield from _children(module)
            elif not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
                raise AssertionError(f"{module}: a string import the layout test cannot read: {ast.unparse(node)}")


def _starts_with_own_name(joined):
    first = joined.values[0]
    return isinstance(first, ast.FormattedValue) and isinstance(first.value, ast.Name) and first.value.id == "__name__"


def _is_string_import(func):
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("__import__", "import_module"))


def _resolve(name):
    """``zoo.x.y.attr`` -> the module it names (``zoo.x.y``), or its package."""
    modules = set(_all_modules())
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _all_modules():
    return [_module(path) for path in _sources()]


def import_graph():
    """{module: the zoo modules it imports}, read from the source of every module."""
    graph = {}
    for path in _sources():
        module = _module(path)
        graph[module] = {_resolve(name) for name in _imports(ast.parse(path.read_text()), module)} - {module}
    return graph


def circles(graph):
    """The import circles of ``graph``: its strongly connected components with more than one
    module (Tarjan's algorithm), each as a sorted list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _sources():
    for folder in ("zoo", "export", "models"):
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_tiers(path):
    own = _part(_module(path))
    assert own in TIERS, f"{own} has no tier in tests/test_layout.py: add it where it belongs"
    upward = []
    for imported in _imports(ast.parse(path.read_text()), _module(path)):
        target = _part(_resolve(imported))
        if target not in TIERS:
            target = "zoo"  # `from zoo import name` of an attribute, not a module
        if TIERS[target] > TIERS[own]:
            upward.append(f"{imported} (tier {TIERS[target]})")
    assert not upward, f"{own} (tier {TIERS[own]}) imports upward: {upward}"


def test_only_zoo_is_installed_at_the_top_level():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {name.split(".")[0] for name in config["packages"]} == {"zoo"}
    assert config["package-dir"] == {"zoo": "zoo", "zoo.export": "export", "zoo.models": "models"}


def test_no_import_circles():
    """No module reaches itself through its imports, inside a tier or across tiers."""
    graph = import_graph()
    found = circles(graph)
    described = ["; ".join(f"{m} -> {sorted(set(graph[m]) & set(c))}" for m in c) for c in found]
    assert not found, "import circles:\n" + "\n".join(described)


def test_the_circle_check_sees_string_imports_and_fails_on_a_new_circle():
    tree = ast.parse("import importlib\ndef load():\n    importlib.import_module('zoo.cli')\n")
    assert list(_imports(tree, "zoo.errors")) == ["zoo.cli"]
    graph = import_graph()
    graph["zoo.errors"] = graph["zoo.errors"] | {"zoo.files"}
    graph["zoo.files"] = graph["zoo.files"] | {"zoo.errors"}
    assert ["zoo.errors", "zoo.files"] in circles(graph)
