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
    "zoo.layers": 2, "zoo.forecast_layers": 2, "zoo.text": 2,
    # training: options, recipes' base class, the registry, checkpoints, releases, the optimizer
    "zoo.options": 3, "zoo.registry": 3, "zoo.recipe": 3, "zoo.training": 3, "zoo.distribute": 3,
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


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "zoo":
                yield from (f"zoo.{alias.name}" for alias in node.names)
            elif node.module.startswith("zoo."):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name == "zoo" or alias.name.startswith("zoo."))


def _sources():
    for folder in ("zoo", "export", "models"):
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_tiers(path):
    own = _part(_module(path))
    assert own in TIERS, f"{own} has no tier in tests/test_layout.py: add it where it belongs"
    upward = []
    for imported in _imports(ast.parse(path.read_text())):
        target = _part(imported)
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
