"""The zoo's models, installed as ``zoo.models``. Importing this package imports every module in it,
and each module's ``@register_model`` puts its recipe in ``zoo.registry``: a new model is one new
file here, with no import list to keep."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
