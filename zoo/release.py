"""Turn a finished run into a released checkpoint: the run's files plus a model card.

A released checkpoint is a folder a user can open and understand (keras-hub's presets): the
network, its config, its metrics next to the baselines on the same split, and ``card.md``.
"""

import shutil
from pathlib import Path

from zoo.checkpoints import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME
from zoo.errors import UserError
from zoo.files import read_json

RELEASED_FILES = (CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME, "history.csv", "test_inputs.npy",
                  "calibration_inputs.npy", "loss.png", "forecast.png")


def release(run_dir, destination):
    run_dir, destination = Path(run_dir), Path(destination)
    if not (run_dir / METRICS_NAME).exists():
        raise UserError(f"{run_dir} is not a finished run")
    destination.mkdir(parents=True, exist_ok=True)
    for name in RELEASED_FILES:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, destination / name)
    (destination / "card.md").write_text(model_card(destination))
    return destination


def model_card(run_dir):
    from zoo.registry import get_recipe

    run_dir = Path(run_dir)
    config, metrics = read_json(run_dir / CONFIG_NAME), read_json(run_dir / METRICS_NAME)
    recipe = get_recipe(config["model"])
    hyper = {k: v for k, v in config["config"].items() if k != "data"}
    data = config["config"]["data"]
    training = config.get("training", {})
    names = sorted({k for row in [metrics["test"], *metrics["baselines"].values()] for k in row if k != "season"})
    lines = [
        f"# {recipe.name}",
        "",
        f"{recipe.description[:1].upper()}{recipe.description[1:]}.",
        "",
        f"- **Task:** {recipe.task}",
        f"- **Data:** {recipe.dataset}; source `{data.get('source')}`, column `{data.get('column')}`",
        f"- **Licence of the data:** {recipe.data_licence or 'see the data set'}",
        f"- **Split:** {_split(data)}",
        f"- **Cell:** `{hyper.get('cell')}`; parameters: {training.get('parameters', '?')}",
        f"- **Training:** {training.get('epochs_run', '?')} epochs, {training.get('seconds', '?')} s on "
        f"{config['environment'].get('cpus')} CPU cores (TF {config['environment'].get('tensorflow')}), seed {config['seed']}",
        f"- **Recipe:** `zoo train {recipe.name} " + " ".join(f"--set {k}={v}" for k, v in hyper.items()) + "`",
        "- **Exports:** `zoo export " + recipe.name + "` writes SavedModel, TFLite and ONNX, each checked against Keras",
        "",
        "| | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
        "| **this model** | " + " | ".join(f"**{metrics['test'][n]:.4g}**" for n in names) + " |",
    ]
    for baseline, values in metrics["baselines"].items():
        label = f"{baseline} (season {values['season']})" if "season" in values else baseline
        lines.append(f"| {label} | " + " | ".join(f"{values[n]:.4g}" if n in values else "-" for n in names) + " |")
    return "\n".join(lines) + "\n"


def _split(data):
    if "test_start" in data:
        return (f"chronological: train [0, {data['val_start']}), validation [{data['val_start']}, "
                f"{data['test_start']}), test [{data['test_start']}, {data['length']}) of {data['length']} values")
    return data.get("split", "held out")
