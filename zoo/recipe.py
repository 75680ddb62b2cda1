"""What a zoo model is: a recipe that builds, feeds, trains and scores one network.

Kept apart from the network itself (keras-hub's backbone vs task split): the ``.keras`` file holds
the network with its preprocessing inside, the recipe holds how it was made and judged.
"""

from dataclasses import dataclass, field

import numpy as np

from zoo.errors import UserError


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
    #: Arrays the evaluation needs besides x/y (e.g. the raw series for baselines); not saved.
    extra: dict = field(default_factory=dict)


class Recipe:
    """Base class for registered models. Subclasses set the class attributes and the methods."""

    name: str = ""
    task: str = ""
    dataset: str = ""
    description: str = ""
    #: Hyperparameters with their defaults; ``config(**overrides)`` may change only these.
    defaults: dict = {}
    #: Overrides for ``--quick``: a run of seconds that still exercises every step (tests, demos).
    quick: dict = {"epochs": 2, "units": 8}
    #: Names of data options (``--data``, ``--column``…) the recipe understands.
    data_options: tuple = ()
    #: The metric that ranks this task's models, as named in ``metrics.json``.
    metric: str = ""
    #: Folder of the released checkpoint (a run directory plus card.md), if one ships.
    released = None
    #: Data licence, for the model card.
    data_licence: str = ""

    def config(self, **overrides):
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise UserError(
                f"{self.name} has no option {', '.join(unknown)}; "
                f"options: {', '.join(sorted(self.defaults))}"
            )
        return {**self.defaults, **{k: v for k, v in overrides.items() if v is not None}}

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

    #: Training loss and extra metrics for ``compile``; Adam at ``config["learning_rate"]``.
    loss = "mse"
    compile_metrics = ()
    clipnorm = None

    def compile(self, model, config):
        import keras

        from zoo.training import default_jit_compile

        model.compile(
            optimizer=keras.optimizers.Adam(config["learning_rate"], clipnorm=self.clipnorm),
            loss=self.loss,
            metrics=list(self.compile_metrics),
            jit_compile=default_jit_compile(model),
        )

    def evaluate(self, model, split, config) -> dict:
        """``{"test": {metric: value}, "baselines": {name: {metric: value}}}`` on the test split."""
        raise NotImplementedError

    def plot(self, model, split, config, out_dir):
        """Optional task-specific figure(s) in the run directory."""
