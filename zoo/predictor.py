"""``zoo.load``: one predictor over a released model, a training run, an export directory or a
single ``.onnx``/``.tflite``/``.keras`` file, in whichever runtime is installed.

A runtime-only install (``pip install lstm-zoo``: ONNX Runtime, LiteRT, NumPy, click) has no
TensorFlow; on an export directory everything here runs without it: tokenizing text, g2p's beam
search and char-lm's sampling loop are the recipes' own NumPy code (``zoo.text``,
``Recipe.read_text``, ``export.generate``), the same code the Keras path runs, so the two cannot
drift. What a model needs to read raw inputs (vocabularies, labels, scaling) comes from the
export's ``deployment.json`` (or an ONNX file's metadata), written from the same
``Recipe.deployment_keys``.

Example::

    import zoo
    tagger = zoo.load("exports/tagger")         # the fastest runtime the export has
    tagger.predict("迈向 充满 希望 的 新 世纪")     # [("迈向", "v"), ("充满", "v"), ...]
"""

import json
from pathlib import Path

import numpy as np

from zoo.errors import UserError, shown_path

#: Runtimes ``load`` takes besides an export format's name.
KERAS = "keras"
DEPLOYMENT_FILE = "deployment.json"
REPORT_FILE = "report.json"
TRAINING_EXTRA = "pip install 'lstm-zoo[cpu]'"


def require_tensorflow(what):
    """Import TensorFlow, or say in one line which extra brings it (the CLI's message too)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs TensorFlow, which this runtime-only install lacks: {TRAINING_EXTRA} "
                        "(or [gpu]); an export directory (zoo export NAME, where TensorFlow is) runs without it") from None


def load(target, runtime=None, provider=None):
    """``target``: a model's name (its released checkpoint), a training run, an export directory,
    or one artifact file. ``runtime``: "keras" or an export format ("onnx", "tflite",
    "savedmodel"); by default the fastest one the target has (an export's report.json timings),
    Keras for a checkpoint. ``provider``: ONNX Runtime's ("cpu", "cuda", "tensorrt")."""
    from zoo.export.formats import FORMATS

    choices = (KERAS, *FORMATS)
    if runtime is not None and runtime not in choices:
        raise UserError(f"unknown runtime {runtime!r}; choose from: {', '.join(choices)}")
    source = _Source.find(target)
    runtime = runtime or source.fastest()
    return Predictor(source, runtime, provider)


class _Source:
    """Where a predictor's artifacts and deployment facts are."""

    def __init__(self, target, metadata, artifacts, checkpoint=None, run_dir=None, steps=None, timings=None):
        self.target = target
        self.metadata = metadata  # zoo.model, zoo.data (deployment keys), zoo.input…
        self.artifacts = artifacts  # runtime -> path
        self.checkpoint, self.run_dir = checkpoint, run_dir
        self.steps = steps or {}  # format -> single-step artifact (char-lm generation)
        self.timings = timings or {}  # format -> p50 ms from the export's report
        self.opened = {}  # runtime -> a runner already built (with the default provider)

    @classmethod
    def find(cls, target):
        from zoo.checkpoints import exists, load_run_config, resolve
        from zoo.export.formats import artifact_kind

        path = Path(target)
        if path.is_dir() and (path / DEPLOYMENT_FILE).exists():
            return cls._export_directory(path)
        kind = artifact_kind(target)  # a name, run, checkpoint or file; one-line errors for the rest
        if kind == KERAS:
            checkpoint, run_dir = resolve(target)
            config = load_run_config(run_dir) or {}
            return cls(target, _run_metadata(config), {KERAS: Path(checkpoint)}, checkpoint, run_dir)
        if exists(path.parent / DEPLOYMENT_FILE):  # one file of an export directory
            source = cls._export_directory(path.parent)
            source.artifacts = {kind: path}
            return source
        from zoo.export.formats import FORMATS

        runner = FORMATS[kind].runner(path)  # a one-line error for a file that is not readable
        source = cls(target, runner.metadata, {kind: path})
        source.opened = {kind: runner}  # what ONNX carries comes from the session that will run it
        return source

    @classmethod
    def _export_directory(cls, directory):
        from zoo.export.formats import FORMATS

        metadata = _read_json(directory / DEPLOYMENT_FILE)
        report = _read_json(directory / REPORT_FILE) if (directory / REPORT_FILE).exists() else {}
        artifacts = {name: directory / fmt.filename for name, fmt in FORMATS.items()
                     if (directory / fmt.filename).exists()}
        steps = {name: directory / fmt.step_filename for name, fmt in FORMATS.items()
                 if (directory / fmt.step_filename).exists()}
        timings = {name: entry["p50_ms"] for name, entry in report.get("formats", {}).items()
                   if isinstance(entry, dict) and entry.get("ok") and entry.get("p50_ms") is not None}
        if not artifacts:
            raise UserError(f"{shown_path(directory)} holds {DEPLOYMENT_FILE} but no model artifact")
        checkpoint = report.get("checkpoint")
        checkpoint = checkpoint if checkpoint and Path(checkpoint).exists() else None
        return cls(directory, metadata, artifacts, checkpoint, Path(checkpoint).parent if checkpoint else None,
                   steps, timings)

    def fastest(self):
        """The artifact with the lowest measured latency whose runtime is installed."""
        from zoo.export.formats import FORMATS

        usable = [name for name in self.artifacts if name == KERAS or _installed(FORMATS[name].runtime)]
        # A web page's model is the ONNX one, for browsers: Python takes the plain artifacts first.
        usable = [name for name in usable if name == KERAS or FORMATS[name].default] or usable
        if not usable:
            raise UserError(f"{shown_path(self.target)}: its artifacts need TensorFlow: {TRAINING_EXTRA}")
        order = list(FORMATS)
        return min(usable, key=lambda name: (self.timings.get(name, np.inf), order.index(name) if name in order else 99))


class Predictor:
    """A model ready to run on raw inputs: strings for the text models, arrays for the series
    models, generation for char-lm."""

    def __init__(self, source, runtime, provider=None):
        self._source = source
        if runtime not in source.artifacts:
            have = ", ".join(source.artifacts)
            raise UserError(f"{shown_path(source.target)} has no {runtime} artifact (it has: {have})")
        if runtime == KERAS and not _installed("tensorflow"):  # say so at load, not at the first predict
            require_tensorflow(f"{shown_path(source.target)} (a Keras checkpoint)")
        self.runtime = runtime
        self.metadata = source.metadata
        self.name = self.metadata.get("zoo.model")
        self._provider = provider
        self._runner = None

    def __repr__(self):
        return f"Predictor({self.name!r}, runtime={self.runtime!r}, source={str(self._source.target)!r})"

    @property
    def recipe(self):
        from zoo.registry import get_recipe, list_models

        return get_recipe(self.name) if self.name in list_models() else None

    @property
    def runner(self):
        """The runtime's runner on token ids or feature arrays (built on first use)."""
        if self._runner is None and self._provider is None:
            self._runner = self._source.opened.get(self.runtime)
        if self._runner is None:
            from zoo.export.formats import FORMATS, check_provider
            from zoo.export.runtime import KerasRunner

            path = self._source.artifacts[self.runtime]
            if self.runtime == KERAS:
                require_tensorflow("a Keras checkpoint")
                check_provider(self._provider, path, KERAS)
                self._runner = KerasRunner(path)
            else:
                if not _installed(FORMATS[self.runtime].runtime):
                    require_tensorflow(f"a {FORMATS[self.runtime].title}")
                self._runner = FORMATS[self.runtime].runner(path, provider=self._provider)
        return self._runner

    @property
    def config(self):
        """What ``Recipe.read_text`` reads: the training data's deployment facts."""
        return {"data": self.metadata.get("zoo.data", {})}

    def predict(self, inputs):
        """Text (a string or a list of them) for text-classifier, tagger and g2p; otherwise an
        array shaped as the model's input (token ids, or (N, T, F) features), or a ``Path`` to a
        file of them -> its outputs. Inputs the model cannot take raise ``UserError`` saying
        what it takes, in every runtime."""
        recipe = self.recipe
        single = isinstance(inputs, str)
        if single or (isinstance(inputs, (list, tuple)) and inputs and all(isinstance(t, str) for t in inputs)):
            if recipe is None or not recipe.reads_text:
                raise UserError(f"{self.name or 'this model'} does not read text; give it an array")
            texts = [inputs] if single else list(inputs)
            if not all(t.strip() for t in texts):
                raise UserError("a text is empty")
            results = recipe.read_text(self.runner, texts, self.config)
            return results[0] if single and self.name != "g2p" else results
        if isinstance(inputs, Path):  # a file, as zoo predict --input reads it
            return self.runner(self.read_file(inputs))
        return self.runner(self.contract.check(inputs))

    @property
    def contract(self):
        """What the model's input array must be (``zoo.data.arrays.InputContract``): checked here
        before any runtime sees it, so every runtime refuses the same inputs in the same words."""
        from zoo.data.arrays import InputContract

        return InputContract.of(self.runner, self.metadata)

    def read_file(self, path):
        """A user's input file -> the checked batch the model takes, read as its recipe's
        training reads that layout (``Recipe.read_input_file``)."""
        from zoo.data.arrays import read_file

        data = self.config["data"]
        recipe = self.recipe
        if recipe is None:
            return read_file(path, self.contract, data)
        return recipe.read_input_file(path, self.contract, data)

    def forecast(self, history, horizon=None):
        """A panel forecaster: forecasts after the last value of every series in ``history`` (a
        long-format CSV or Parquet path, or a pandas DataFrame with the columns it was trained
        on) -> ``{"unique_id": [...], "ds": [...], "y_hat": array, "lo-80": ..., "hi-80": ...}``
        (``pandas.DataFrame(result)`` makes it a frame)."""
        from zoo.models.forecaster.panel_data import ID, TARGET, TIME, frame_panel, read_panel
        from zoo.models.forecaster.panel import forecast

        data = self.config["data"]
        if data.get("kind") != "panel":
            raise UserError(f"{self.name or 'this model'} is not a panel forecaster; use predict (the released "
                            "global forecaster forecasts histories: zoo.load('forecaster.m1m3'))")
        names = (data.get("id_column", ID), data.get("time_column", TIME), data.get("column") or TARGET)
        frequency = data.get("frequency")
        frequency = None if frequency in (None, "int", "any") else frequency
        panel = read_panel(history, *names) if isinstance(history, (str, Path)) else frame_panel(history, *names)
        if frequency and panel.frequency not in (frequency, "int"):
            raise UserError(f"the history's frequency is {panel.frequency}; this forecaster was trained on "
                            f"frequency {frequency} data")
        return forecast(self.runner, panel, data, horizon)

    def predict_lines(self, texts):
        """``predict`` on texts, as ``zoo predict --text`` prints it."""
        return self.recipe.text_lines(self.predict(list(texts)))

    def generate(self, prompt="", length=200, temperature=0.8, seed=0):
        """char-lm: ``prompt`` followed by ``length`` sampled characters (greedy at temperature 0),
        one step at a time with the LSTM state carried: Keras' step model, or the export's
        single-step artifact of this runtime (``zoo export char-lm --streaming``)."""
        from zoo.export.generate import generate_text

        recipe = self.recipe
        if recipe is None or not recipe.generates_text:
            raise UserError(f"{self.name or 'this model'} does not generate text (char-lm does)")
        return generate_text(self._stepper(), self.config["data"]["vocabulary"], prompt, length, temperature, seed)

    def _stepper(self):
        if self.runtime == KERAS:
            require_tensorflow("generating with a Keras checkpoint")
            from zoo.checkpoints import load_model
            from zoo.export.generate import KerasStepper

            return KerasStepper(load_model(str(self._source.artifacts[KERAS])))
        from zoo.export.streaming import StepRunner

        step = self._source.steps.get(self.runtime)
        if step is None:
            raise UserError(f"{shown_path(self._source.target)} has no {self.runtime} step artifact; "
                            f"export with --streaming (zoo export {self.name} --streaming)")
        return StepRunner(step, self.runtime)

    def export(self, out, formats=None, quantize=None, streaming=False, force=False):
        """Export the checkpoint behind this predictor (``zoo export``) -> the report."""
        from zoo.export.formats import DEFAULT_FORMATS, check_quantize, parse_formats
        from zoo.export.pipeline import export_checkpoint

        checkpoint = self._checkpoint("export")
        chosen = parse_formats(",".join(formats or DEFAULT_FORMATS))
        check_quantize(chosen, quantize)
        return export_checkpoint(checkpoint, out, chosen, force=force, quantize=quantize, streaming=streaming)

    def evaluate(self):
        """The task metrics on the training run's test split, run in this predictor's runtime."""
        from zoo.checkpoints import load_run_config
        from zoo.export.pipeline import RunnerAsModel

        self._checkpoint("evaluate")
        config = load_run_config(self._source.run_dir)
        if not config:
            raise UserError("evaluate needs the training run (its config.json names the data)")
        recipe = self.recipe
        split = recipe.load_data(config["config"], **config.get("data_options", {}))
        return recipe.evaluate(RunnerAsModel(self.runner), split, config["config"])

    def _checkpoint(self, what):
        require_tensorflow(what)
        if not self._source.checkpoint:
            raise UserError(f"{what} needs the Keras checkpoint; {shown_path(self._source.target)} is an export "
                            "whose checkpoint is not on this machine")
        return self._source.checkpoint


def _installed(runtime):
    """Whether a format's runtime module ("onnxruntime", "ai_edge_litert", "tensorflow") imports here."""
    import importlib.util

    try:
        return importlib.util.find_spec(runtime) is not None
    except ImportError:  # an import hook that refuses it
        return False


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {shown_path(path)}: {error}") from None


def _run_metadata(config):
    """A training run's deployment facts, as an export would write them."""
    from zoo.registry import get_recipe, list_models

    name = config.get("model")
    keep = get_recipe(name).deployment_keys if name in list_models() else ()
    data = config.get("config", {}).get("data", {})
    return {"zoo.model": name, "zoo.data": {k: v for k, v in data.items() if k in keep}}
