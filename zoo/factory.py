"""``create_model``: a registered model, built untrained or loaded as released (timm keeps its
factory apart from its registry the same way, so the registry needs no checkpoint code)."""

from zoo.checkpoints import load_model
from zoo.errors import UserError
from zoo.registry import get_recipe


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
    return load_model(name)  # a model's name resolves to its released checkpoint
