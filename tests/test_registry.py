"""Generated from the registry: every model builds, predicts the right shape, takes every cell, and
declares options whose defaults pass their own checks and whose --help shows only them."""

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
    with pytest.raises(UserError, match="has no option 'colour'"):
        zoo.create_model("forecaster", colour="red")


def test_register_model_refuses_a_second_class_under_one_name():
    from zoo.recipe import Recipe

    class Clash(Recipe):
        name = "forecaster"

    with pytest.raises(ValueError, match="registered twice"):
        zoo.register_model(Clash)


@pytest.mark.parametrize("name", MODELS)
def test_every_default_passes_its_own_option_check(name):
    recipe = zoo.get_recipe(name)
    for option in recipe.options:
        assert option.help, f"{name}: option {option.name} has no help"
        if not option.data:
            assert option.check(option.default) == option.default
    assert recipe.config(**recipe.quick)  # the --quick overrides are valid options too
    assert "data" in recipe.data_options


@pytest.mark.parametrize("name", MODELS)
def test_train_help_shows_that_models_options_only(name, capsys):
    from conftest import run_cli

    code, out, _ = run_cli(capsys, "train", name, "--help")
    assert code == 0
    recipe = zoo.get_recipe(name)
    for option in recipe.options:
        assert option.flag in out
    others = {o.flag for other in MODELS for o in zoo.get_recipe(other).options} - {o.flag for o in recipe.options}
    assert not [flag for flag in others if f"{flag} " in out]


def test_set_values_are_typed_by_the_declared_option():
    recipe = zoo.get_recipe("forecaster")
    assert recipe.option("calendar").parse("false") is False
    assert recipe.option("window").parse("auto") == "auto" and recipe.option("window").parse("12") == 12
    assert recipe.option("learning_rate").parse("1e-3") == 1e-3
    assert zoo.get_recipe("ts-classifier").option("filters").parse("8,16,8") == [8, 16, 8]
    with pytest.raises(UserError, match="option dropout: 1.0 is out of range"):
        recipe.config(dropout=1.0)
    with pytest.raises(UserError, match="option units: 8.5 is not valid"):
        recipe.config(units=8.5)
    with pytest.raises(UserError, match="data option"):
        recipe.config(column="x")


def test_create_model_pretrained_loads_the_released_checkpoint():
    model = zoo.create_model("forecaster", pretrained=True)
    released = zoo.get_recipe("forecaster").released
    x = np.load(released / "test_inputs.npy")[:2]
    assert model.predict(x, verbose=0).shape[0] == 2 and model.count_params() > 0
    with pytest.raises(UserError, match="takes no options"):
        zoo.create_model("forecaster", pretrained=True, units=8)
