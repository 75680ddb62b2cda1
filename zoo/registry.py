"""The model registry: ``@register_model`` on a recipe class, ``get_recipe`` and ``list_models``.

A recipe (see ``zoo.recipe.Recipe``) bundles what one zoo model is: how to build it, its data set,
its training defaults and its metrics. The registry never imports a model (as timm's
``_registry``): the zoo's own recipes, in ``zoo.models`` (the repo's ``models/`` folder), register
themselves when ``import zoo`` imports that package, which loads no TensorFlow.
"""

import difflib

from zoo.errors import UserError

_RECIPES = {}


def register_model(recipe_class):
    """Class decorator: make a recipe available by its ``name``."""
    name = recipe_class.name
    if name in _RECIPES and _RECIPES[name] is not recipe_class:
        raise ValueError(f"model {name!r} is registered twice")
    _RECIPES[name] = recipe_class
    return recipe_class


def list_models():
    """Names of all registered models, sorted."""
    return sorted(_RECIPES)


def get_recipe(name):
    """The recipe instance for ``name``; an unknown name is a user error with a suggestion."""
    if name not in _RECIPES:
        close = difflib.get_close_matches(name, _RECIPES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"unknown model {name!r}{hint}; known: {', '.join(sorted(_RECIPES))}")
    return _RECIPES[name]()
