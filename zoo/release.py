"""Turn a finished run into a released checkpoint: the run's files plus a model card.

A released checkpoint is a folder a user can open and understand (keras-hub's presets): the
network, its config, its metrics next to the baselines on the same split, and ``card.md``.
"""

import shlex
import shutil
from pathlib import Path

from zoo.checkpoints import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME
from zoo.errors import UserError
from zoo.files import read_json, write_text

#: Every run's files a release ships; the recipe's own figures (``Recipe.plots``) go with them.
RELEASED_FILES = (CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME, "history.csv", "test_inputs.npy",
                  "calibration_inputs.npy", "loss.png")


def release(run_dir, destination, notes=""):
    """Copy a finished run into ``destination`` with its card; ``notes``: the card's release notes
    for a preset (``models/released/forecaster.m1m3``), instead of the recipe's own."""
    from zoo.registry import get_recipe

    run_dir, destination = Path(run_dir), Path(destination)
    if not (run_dir / METRICS_NAME).exists():
        raise UserError(f"{run_dir} is not a finished run")
    recipe = get_recipe(read_json(run_dir / CONFIG_NAME)["model"])
    destination.mkdir(parents=True, exist_ok=True)
    for name in (*RELEASED_FILES, *recipe.plots):
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, destination / name)
    _drop_optimizer_state(destination / CHECKPOINT_NAME)
    write_text(destination / "card.md", model_card(destination, released=True, notes=notes))
    return destination


def _drop_optimizer_state(checkpoint):
    """A released model is for inference and fine-tuning from scratch: Adam's moments would
    double or triple the file for nothing."""
    from zoo.checkpoints import load_model

    load_model(checkpoint).save(checkpoint)  # loaded without compiling, so saved without optimizer


def _data_flags(data_options):
    """The data options of a run as the command line gave them (``--data FILE --column y``)."""
    flags = []
    for key, value in data_options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        else:
            value = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            flags.append(f"{flag} {shlex.quote(str(value))}")
    return flags


def model_card(run_dir, metrics=None, released=False, notes=""):
    """card.md of a run; ``metrics`` before metrics.json is written (training writes it last);
    ``released``: the card of the checkpoint the zoo ships, with the recipe's release notes (a
    preset's own ``notes`` instead, and its name in the title)."""
    from zoo.registry import get_recipe

    run_dir = Path(run_dir)
    config = read_json(run_dir / CONFIG_NAME)
    metrics = metrics if metrics is not None else read_json(run_dir / METRICS_NAME)
    recipe = get_recipe(config["model"])
    hyper = {k: v for k, v in config["config"].items() if k not in _NOT_HYPERPARAMETERS}
    data = config["config"]["data"]
    training = config.get("training", {})
    own_data = bool(config.get("data_options", {}).get("data"))
    settings = recipe.baseline_settings
    names = metric_names(metrics, settings)
    title = Path(run_dir).name if released and Path(run_dir).name.startswith(f"{recipe.name}.") else recipe.name
    lines = [
        f"# {title}",
        "",
        f"{recipe.description[:1].upper()}{recipe.description[1:]}.",
        "",
        f"- **Task:** {recipe.task}",
        f"- **Data:** {recipe.dataset if not own_data else 'given with --data'}; source `{data.get('source')}`"
        + (f", column `{data['column']}`" if data.get("column") else ""),
        "- **Licence of the data:** "
        + (recipe.data_licence or "see the data set" if not own_data else "that of the data given with --data"),
        f"- **Split:** {_split(data)}",
        f"- **Cell:** `{hyper.get('cell')}`; parameters: {training.get('parameters', '?')}",
        f"- **Training:** {training.get('epochs_run', '?')} epochs, {training.get('seconds', '?')} s on "
        f"{config['environment'].get('cpus')} CPU cores (TF {config['environment'].get('tensorflow')}), seed {config['seed']}",
        f"- **Recipe:** `zoo train {recipe.name} " + " ".join(
            [*_data_flags(config.get("data_options", {})), *(f"--set {k}={_shell_value(v)}" for k, v in hyper.items())])
        + (f" --seed {config['seed']}" if config.get("seed") else "") + "`",
        "- **Exports:** `zoo export " + (title if released else shlex.quote(str(run_dir)))
        + "` writes SavedModel, TFLite and ONNX, each checked against Keras",
        *_lineage(config),
        "",
        "| | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
        "| **this model** | " + " | ".join(f"**{format_number(metrics['test'].get(n))}**" for n in names) + " |",
    ]
    for baseline, values in metrics["baselines"].items():
        lines.append(f"| {baseline_label(baseline, values, settings)} | " + " | ".join(format_number(values.get(n)) for n in names) + " |")
    lines += _by_panel_lines(metrics.get("by_panel"))
    release_notes = (notes or recipe.release_notes()) if released else ""
    notes = " ".join(filter(None, [recipe.card_notes(config["config"]), release_notes]))
    if notes:
        lines += ["", notes]
    comparison = run_dir / "cell_comparison.json"
    if comparison.exists():
        lines += ["", "## Cells compared on the same recipe", "",
                  f"Each row is `zoo train {recipe.name} --cell CELL` with everything else equal (seed 0).", "",
                  "| cell | " + " | ".join(names) + " | parameters | epochs | seconds |",
                  "| --- |" + " --- |" * (len(names) + 3)]
        for row in read_json(comparison):
            lines.append(f"| `{row['cell']}` | " + " | ".join(format_number(row['test'].get(n)) for n in names)
                         + f" | {row['parameters']} | {row['epochs']} | {row['seconds']} |")
    return "\n".join(lines) + "\n"


def _by_panel_lines(by_panel):
    """A union of panels' metrics per panel (each scored on its own horizon and season)."""
    if not by_panel:
        return []
    first = next(iter(by_panel.values()))
    others = [name for name in first if name != "zoo"]
    lines = ["", "Per panel, each on its official horizon and season (sMAPE / MASE; the 80% interval's coverage):", "",
             "| panel | series | **this model** | " + " | ".join(others) + " |",
             "| --- | --- | --- |" + " --- |" * len(others)]
    for panel, row in by_panel.items():
        def cell(values):
            coverage = values.get("coverage")
            return (f"{format_number(values.get('smape'))} / {format_number(values.get('mase'))}"
                    + (f" ({coverage:.2f})" if isinstance(coverage, (int, float)) else ""))
        lines.append(f"| {panel} | {row['zoo']['series']} | **{cell(row['zoo'])}** | "
                     + " | ".join(cell(row[name]) for name in others) + " |")
    return lines


#: Config entries that are not options a user sets (data, provenance, the validation choice).
_NOT_HYPERPARAMETERS = ("data", "parent_data", "init", "selection", "network", "refitted", "pretrained_network")


def _shell_value(value):
    """A --set value as a shell would pass it back: lists as quoted JSON, booleans in lower case."""
    import json

    if isinstance(value, (list, dict)):
        return "'" + json.dumps(value) + "'"
    return json.dumps(value) if isinstance(value, bool) else value


def _lineage(config):
    """Card lines for a fine-tuned run (its parent) and for settings chosen on validation."""
    lines = []
    init = config["config"].get("init")
    if init:
        transfer = config.get("init_transfer", {})
        fresh = ", ".join(f"`{f['layer']}` ({f['reason']})" for f in transfer.get("fresh", []))
        lines.append(f"- **Fine-tuned from:** `{init['parent']}` (a {init.get('parent_model') or 'Keras'} checkpoint "
                     f"trained on `{init.get('parent_data_source')}`); {len(transfer.get('copied', []))} layer(s) copied"
                     + (f", new: {fresh}" if fresh else ""))
        oov = config["config"]["data"].get("oov_rate")
        if oov is not None:
            lines.append(f"- **Out-of-vocabulary rate** of this data under the parent's vocabulary: {oov:.2%}")
    selection = config["config"].get("selection")
    if selection:
        lines.append(f"- **Chosen on validation data:** {selection.get('summary', '')}")
    return lines


def metric_names(metrics, settings=()):
    """The metric columns of a metrics.json: numeric entries, without baselines' ``settings``
    (the recipe's ``baseline_settings``, e.g. a season length)."""
    rows = [metrics["test"], *metrics["baselines"].values()]
    return sorted({k for row in rows for k, v in row.items() if k not in settings and isinstance(v, (int, float))}
                  | {k for row in rows for k, v in row.items() if v is None})


def baseline_label(name, values, settings=()):
    """'seasonal_naive (season 11)': a baseline's name with the settings it reports."""
    shown = ", ".join(f"{key} {values[key]}" for key in settings if key in values)
    return f"{name} ({shown})" if shown else name


def metrics_table(metrics, settings=()):
    """The model's and the baselines' metrics as an aligned text table, for the terminal."""
    names = metric_names(metrics, settings)
    rows = [("", *names), ("model", *(format_number(metrics["test"].get(n)) for n in names))]
    for baseline, values in metrics["baselines"].items():
        rows.append((baseline_label(baseline, values, settings), *(format_number(values.get(n)) for n in names)))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def format_number(value):
    return "-" if not isinstance(value, (int, float)) else f"{value:.4g}"




def _split(data):
    if "test_start" in data:
        return (f"chronological: train [0, {data['val_start']}), validation [{data['val_start']}, "
                f"{data['test_start']}), test [{data['test_start']}, {data['length']}) of {data['length']} values")
    return data.get("split", "held out")


def readme_table():
    """The README's model table, from the released checkpoints' metrics and configs."""
    from zoo.checkpoints import released_presets
    from zoo.registry import get_recipe, list_models

    lines = ["| model | task | data | metric | this model | baselines (same split) | cell | parameters | training | checkpoint |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in list_models():
        recipe = get_recipe(name)
        if not recipe.released or not (Path(recipe.released) / METRICS_NAME).exists():
            lines.append(f"| `{name}` | {recipe.task} | {recipe.dataset} | {recipe.metric} | not released yet | | | | | |")
            continue
        for label, released in ((name, Path(recipe.released)), *released_presets(name).items()):
            lines.append(_readme_row(recipe, label, released))
    return "\n".join(lines)


def _readme_row(recipe, label, released):
    """A released checkpoint's row: the default one's or a preset's (``forecaster.m1m3``)."""
    metrics, config = read_json(released / METRICS_NAME), read_json(released / CONFIG_NAME)
    metric = recipe.metric_for(config["config"])[0]
    training = config.get("training", {})
    baselines = ", ".join(f"{baseline} {format_number(values.get(metric))}"
                          for baseline, values in metrics["baselines"].items())
    size = (released / CHECKPOINT_NAME).stat().st_size / 1024
    return (f"| [`{label}`](models/released/{label}/card.md) | {recipe.task} | {config['config']['data']['source']} | "
            f"{metric} | **{format_number(metrics['test'][metric])}** | {baselines} | "
            f"`{config['config']['cell']}` | {training.get('parameters', '?')} | "
            f"{training.get('epochs_run', '?')} epochs, {training.get('seconds', '?')} s | {size:.0f} KB |")


def train_and_release(name, work_dir="runs/release", compare_cells=False):
    """What a maintainer runs to (re)release a model: ``python -m zoo.release NAME --compare-cells``.

    Trains the recipe's defaults with seed 0 through the public CLI, optionally once per cell with
    everything else equal, and copies the result with its card into the package.
    """
    import json
    import subprocess
    import sys

    from zoo.cells import CELLS
    from zoo.registry import get_recipe

    recipe = get_recipe(name)
    work = Path(work_dir)
    zoo = [sys.executable, "-m", "zoo.cli"]

    def train(cell, out):
        subprocess.run([*zoo, "train", name, "--cell", cell, "--seed", "0", "--out", str(out), "--force"],
                       check=True, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        return out

    default_cell = recipe.defaults.get("cell", "lstm")
    best = train(default_cell, work / name)
    rows = []
    if compare_cells:
        for cell in CELLS:
            run = best if cell == default_cell else train(cell, work / f"{name}-{cell}")
            config, metrics = read_json(run / CONFIG_NAME), read_json(run / METRICS_NAME)
            rows.append({"cell": cell, "test": metrics["test"], "parameters": config["training"]["parameters"],
                         "epochs": config["training"]["epochs_run"], "seconds": config["training"]["seconds"]})
    destination = Path(recipe.released)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    if rows:
        (destination / "cell_comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    release(best, destination)
    return destination


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train and release zoo models, or print the README table.")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--compare-cells", action="store_true")
    args = parser.parse_args()
    for model_name in args.names:
        print(f"released {train_and_release(model_name, compare_cells=args.compare_cells)}")
    print(readme_table())
