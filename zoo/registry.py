"""The model registry: ``@register_model`` on a recipe class, ``create_model`` and ``list_models``.

A recipe (see ``zoo.recipe.Recipe``) bundles what one zoo model is: how to build it, its data set,
its training defaults and its metrics. The zoo's own recipes live in ``zoo.models`` (the repo's ``models/`` folder)
package, imported on first use, so importing ``zoo`` stays cheap and free of TensorFlow.
"""

import difflib
import importlib

from zoo.errors import UserError

_RECIPES = {}
_BUILTIN_PACKAGE = "zoo.models"


def register_model(recipe_class):
    """Class decorator: make a recipe available by its ``name``."""
    name = recipe_class.name
    if name in _RECIPES and _RECIPES[name] is not recipe_class:
        raise ValueError(f"model {name!r} is registered twice")
    _RECIPES[name] = recipe_class
    return recipe_class


def _load_builtin():
    importlib.import_module(_BUILTIN_PACKAGE)


def list_models():
    """Names of all registered models, sorted."""
    _load_builtin()
    return sorted(_RECIPES)


def get_recipe(name):
    """The recipe instance for ``name``; an unknown name is a user error with a suggestion."""
    _load_builtin()
    if name not in _RECIPES:
        close = difflib.get_close_matches(name, _RECIPES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"unknown model {name!r}{hint}; known: {', '.join(sorted(_RECIPES))}")
    return _RECIPES[name]()


def create_model(name, pretrained=False, **overrides):
    """Build a registered model, untrained, from its default config updated with ``overrides``;
    or, with ``pretrained=True``, load its released checkpoint (as ``timm.create_model(...,
    pretrained=True)`` and keras-hub's ``from_preset`` do)."""
    recipe = get_recipe(name)
    if not pretrained:
        return recipe.build(recipe.config(**overrides))
    if overrides:
        raise UserError(f"pretrained=True loads the released {name} as trained; it takes no options "
                        f"({', '.join(sorted(overrides))}): fine-tune with `zoo train {name} --init {name}`")
    from zoo.checkpoints import load_model

    return load_model(name)  # a model's name resolves to its released checkpoint
