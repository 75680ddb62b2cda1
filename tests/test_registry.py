"""Generated from the registry: every model builds, predicts the right shape, and takes every cell."""

import numpy as np
import pytest

import zoo
from conftest import CELL_NAMES
from zoo.errors import UserError

MODELS = zoo.list_models()


def test_registry_lists_the_forecaster():
    assert "forecaster" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_every_model_describes_itself(name):
    row = zoo.get_recipe(name).describe()
    assert row["name"] == name and row["task"] and row["dataset"] and row["cell"] in CELL_NAMES


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("name", MODELS)
def test_every_model_builds_with_every_cell(name, cell):
    model = zoo.create_model(name, cell=cell, units=8)
    spec = model.inputs[0]
    # ones: a token id every vocabulary has (0 is padding); 24 steps: longer than g2p's 16 letters
    x = np.ones([2] + [size or 24 for size in spec.shape[1:]], spec.dtype)
    assert model(x).shape[0] == 2


def test_unknown_model_and_option_are_user_errors():
    with pytest.raises(UserError, match="did you mean 'forecaster'"):
        zoo.create_model("forecastr")
    with pytest.raises(UserError, match="has no option colour"):
        zoo.create_model("forecaster", colour="red")


def test_register_model_refuses_a_second_class_under_one_name():
    from zoo.recipe import Recipe

    class Clash(Recipe):
        name = "forecaster"

    with pytest.raises(ValueError, match="registered twice"):
        zoo.register_model(Clash)
