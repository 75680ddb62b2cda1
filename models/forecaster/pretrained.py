"""The released global forecaster (``forecaster.m1m3``: one network trained on every M1 and M3
series) as a candidate of the single-series recipe, as is or fine-tuned on the series.

A single-series forecaster takes windows of its own length and returns point forecasts; the
global network reads a fixed window and returns quantiles. ``build`` puts the global network's
layers (by name, so its weights copy over) between ``FixedWindow`` and ``PointForecast``, so
the shipped model keeps the single-series contract and exports as any other.
"""

from pathlib import Path

#: The released preset the single-series recipe compares on validation (``zoo predict`` forecasts
#: whole histories with it, too).
PRESET = "forecaster.m1m3"
#: Fine-tuning's learning rate, as a fraction of the recipe's: the pretrained weights are a
#: good start that a full rate on a few dozen windows would undo.
FINE_TUNE_RATE = 0.1


def preset_dir():
    return Path(__file__).parents[1] / "released" / PRESET


def settings(horizon):
    """The preset's architecture, or None when it is not there or forecasts fewer than ``horizon`` steps."""
    from zoo.files import read_json

    if not (preset_dir() / "model.keras").exists():
        return None
    config = read_json(preset_dir() / "config.json")["config"]
    data = config["data"]
    if data["horizon"] < horizon:
        return None
    return {"preset": PRESET, "window": data["window"], "horizon": data["horizon"], "quantiles": data["quantiles"],
            "units": config["units"], "cell": config["cell"], "layers": config.get("layers", 1),
            "members": config.get("members", 1)}


def build(pretrained, horizon, features):
    """(B, T, features) windows -> (B, horizon) median forecasts of the pretrained network, its weights copied in."""
    import keras

    from zoo.checkpoints import load_model
    from zoo.models.forecaster.layers import FixedWindow, PointForecast
    from zoo.models.forecaster.panel import network

    inputs = keras.Input((None, features), name="inputs")
    window = FixedWindow(pretrained["window"], name="fixed_window")(inputs)
    data = {key: pretrained[key] for key in ("horizon", "quantiles", "window")}
    forecasts = network(window, data, pretrained["units"], pretrained["cell"], 0.0, pretrained["layers"],
                        pretrained["members"])
    outputs = PointForecast(horizon, pretrained["quantiles"].index(0.5), name="point")(forecasts)
    model = keras.Model(inputs, outputs, name="forecaster")
    parent = {layer.name: layer for layer in load_model(preset_dir() / "model.keras").layers}
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(parent[layer.name].get_weights())
    return model
