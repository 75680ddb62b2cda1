"""What a zoo model is: a recipe that builds, feeds, trains and scores one network.

Kept apart from the network itself (keras-hub's backbone vs task split): the ``.keras`` file holds
the network with its preprocessing inside, the recipe holds how it was made and judged.
"""

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.errors import UserError
from zoo.options import by_name, shown


@dataclass
class DataSplit:
    """Chronological or held-out train/validation/test arrays, plus what config.json must keep."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)
    #: Per example loss weights (e.g. 1 / a series' scale, so every series of a panel counts the same).
    w_train: np.ndarray = None
    w_val: np.ndarray = None
    #: Arrays the evaluation needs besides x/y (e.g. the raw series for baselines); not saved.
    extra: dict = field(default_factory=dict)


class Recipe:
    """Base class for registered models. Subclasses set the class attributes and the methods."""

    name: str = ""
    task: str = ""
    dataset: str = ""
    description: str = ""
    #: The recipe's typed options (``zoo.options.Option``): hyperparameters, and data options
    #: (``data=True``) for the loader. ``zoo train NAME --help`` shows exactly these.
    options: tuple = ()
    #: Derived from ``options``: hyperparameter defaults, and the data options' names.
    defaults: dict = {}
    data_options: tuple = ()
    #: Overrides for ``--quick``: a run of seconds that still exercises every step (tests, demos).
    quick: dict = {"epochs": 2, "units": 8}
    #: Figures ``plot`` writes into the run directory besides loss.png; a release ships them.
    plots: tuple = ()
    #: ``config["data"]`` keys a deployed model needs (scaling, columns…); exports keep them.
    deployment_keys: tuple = ("source",)
    #: Non-metric settings a baseline reports beside its scores (e.g. a season length).
    baseline_settings: tuple = ()
    #: Whether ``read_text`` turns raw text into predictions (``zoo predict --text``, ``zoo.load``).
    reads_text: bool = False
    #: Whether the model samples text one step at a time (``zoo generate``).
    generates_text: bool = False
    #: The metric that ranks this task's models, as named in ``metrics.json``, and which way is better.
    metric: str = ""
    metric_goal: str = "max"  # or "min" (errors, losses)
    #: How much worse, relative to the float model, a quantized artifact's metric on the test split
    #: may be; the export check of quantized artifacts (``zoo export --quantize``).
    quantized_budget: float = 0.01
    #: int8 calibration also sees the training windows spread this much about their mean (1: not),
    #: so that values beyond the training range do not saturate the integer input and output.
    calibration_headroom: float = 1.0
    #: Folder of the released checkpoint (a run directory plus card.md): ``released/NAME`` beside
    #: the model's folder (``models/released/forecaster``), set for every registered model; a
    #: folder without a checkpoint means none ships.
    released = None
    #: Data licence, for the model card.
    data_licence: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "released" not in cls.__dict__ and cls.name and cls.__module__ in sys.modules:
            cls.released = Path(sys.modules[cls.__module__].__file__).parents[1] / "released" / cls.name
        if "options" in cls.__dict__:
            table = by_name(cls.options)
            cls.defaults = {n: o.default for n, o in table.items() if not o.data}
            cls.data_options = tuple(n for n, o in table.items() if o.data)

    @classmethod
    def option(cls, name):
        """The declared option ``name``; an unknown one is a user error with a suggestion."""
        table = by_name(cls.options)
        if name not in table:
            close = difflib.get_close_matches(name, table, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{cls.name} has no option {shown(name)}{hint}; options: {', '.join(sorted(table))}")
        return table[name]

    def config(self, **overrides):
        """The defaults updated with ``overrides``, each checked against its declared option."""
        checked = {}
        for key, value in overrides.items():
            option = self.option(key)
            if option.data:
                raise UserError(f"{key} is a data option: give it as --{key.replace('_', '-')}")
            if value is not None:
                checked[key] = option.check(value)
        return {**self.defaults, **checked}

    def read_text(self, predict, texts, config):
        """Raw text -> one prediction per text (per word for g2p), as Python values, for recipes
        with ``reads_text``. ``predict``: any runner (Keras, ONNX, TFLite) on token ids;
        ``config`` needs only ``config["data"]``'s ``deployment_keys``, as an export carries."""
        raise UserError(f"{self.name} does not read text; use --input")

    def read_input_file(self, path, contract, data):
        """A user's input file (``zoo predict --input``) -> the batch the model takes, checked
        against ``contract`` (``zoo.data.arrays.InputContract``); ``data``: the deployment facts.
        A recipe whose training reads a layout of its own reads it here too."""
        from zoo.data.arrays import read_file

        return read_file(path, contract, data)

    def text_lines(self, results):
        """``read_text``'s results as the lines ``zoo predict --text`` prints."""
        raise NotImplementedError

    def predict_text(self, predict, texts, config):
        """Raw text -> readable lines."""
        return self.text_lines(self.read_text(predict, texts, config))

    def register_layers(self):
        """Import the model's own Keras layers (kept in its folder), so that its checkpoints load:
        ``zoo.checkpoints.load_model`` calls this on every registered recipe."""

    def describe(self):
        """One row of ``zoo list``."""
        return {
            "name": self.name,
            "task": self.task,
            "dataset": self.dataset,
            "cell": self.defaults.get("cell", "lstm"),
            "metric": self.metric,
            "description": self.description,
        }

    def presets_for(self, data_options):
        """Hyperparameters tuned for a particular data set; explicit options override them."""
        return {}

    def card_notes(self, config):
        """Extra lines for the model card (published baselines, caveats)."""
        return ""

    def release_notes(self):
        """The released checkpoint's card only (its figures, what was tried, targets), kept as data
        in the model's folder (``release_notes.md``, paragraphs wrapped): a user's own run of the
        recipe must not claim them."""
        notes = Path(sys.modules[type(self).__module__].__file__).with_name("release_notes.md")
        if not notes.exists():
            return ""
        paragraphs = notes.read_text(encoding="utf-8").strip().split("\n\n")
        return "\n\n".join(" ".join(paragraph.split("\n")) for paragraph in paragraphs)

    def select(self, config, split, data_options, seed=0) -> dict:
        """Settings chosen on validation data before the final training, as config updates
        (with a ``"selection"`` entry saying what was compared and why); {} to choose nothing.
        Must never look at the test split."""
        return {}

    def select_changes_data(self, choice) -> bool:
        """Whether ``choice`` changes what ``load_data`` returns (e.g. a window length)."""
        return False

    def trains(self, config) -> bool:
        """False when ``build(config)`` is already the final model (e.g. a naive forecast that
        won on validation); training then saves it untouched."""
        return True

    def why_not_trained(self, config) -> str:
        return ""

    def load_data(self, config, **data_options) -> DataSplit:
        raise NotImplementedError

    def build(self, config):
        """The untrained keras.Model for ``config`` (including ``config['data']`` if loaded)."""
        raise NotImplementedError

    #: Training loss and extra metrics for ``compile``; Adam (``zoo.optimizers.FusedAdam``, Keras'
    #: update in fewer ops) at ``config["learning_rate"]``.
    loss = "mse"
    compile_metrics = ()
    clipnorm = None

    def metric_for(self, config):
        """(metric, goal) that ranks a model trained with ``config``: ``metric`` and ``metric_goal``
        unless a recipe's modes are judged differently."""
        return self.metric, self.metric_goal

    def objective(self, config):
        """(loss, metrics) to train ``config`` with: ``loss`` and ``compile_metrics`` unless a
        recipe's modes differ."""
        return self.loss, list(self.compile_metrics)

    def compile(self, model, config):
        from zoo.optimizers import FusedAdam
        from zoo.training import default_jit_compile

        loss, metrics = self.objective(config)
        model.compile(
            optimizer=FusedAdam(config["learning_rate"], clipnorm=self.clipnorm),
            loss=loss,
            metrics=metrics,
            jit_compile=default_jit_compile(model),
        )

    def evaluate(self, model, split, config) -> dict:
        """``{"test": {metric: value}, "baselines": {name: {metric: value}}}`` on the test split."""
        raise NotImplementedError

    def plot(self, model, split, config, out_dir):
        """Optional task-specific figure(s) in the run directory."""
