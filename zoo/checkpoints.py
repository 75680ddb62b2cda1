"""Find and load checkpoints: a ``.keras`` file or a run directory made by ``zoo train``."""

import warnings
import zipfile
from pathlib import Path

from zoo.errors import UserError, shown_path
from zoo.files import read_json

CHECKPOINT_NAME = "model.keras"
CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
TEST_INPUTS_NAME = "test_inputs.npy"
CALIBRATION_INPUTS_NAME = "calibration_inputs.npy"


def resolve(path):
    """-> (path of the .keras file, the run directory or None).

    A registered model's name (``forecaster``) stands for its released checkpoint.
    """
    path = Path(path)
    if not exists(path) and len(path.parts) == 1:
        path = _released(str(path)) or path
    if not exists(path):
        raise UserError(f"no such checkpoint: {cut_path(path)}{suggestion(path)}")
    if path.is_dir():
        checkpoint = path / CHECKPOINT_NAME
        if not checkpoint.exists():
            raise UserError(f"{path} holds no {CHECKPOINT_NAME}: not a finished training run")
        return checkpoint, path
    if path.suffix != ".keras":
        raise UserError(f"{path} is not a .keras checkpoint or a run directory")
    run_dir = path.parent if (path.parent / CONFIG_NAME).exists() else None
    return path, run_dir


def exists(path):
    """``Path.exists`` that answers False for a name the system refuses (too long, a NUL byte)."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def cut_path(path):
    """A path for a message: a 100k-character argument is not echoed back whole."""
    return shown_path(path)


def suggestion(path):
    """`` (did you mean 'forecaster'?)`` when a missing bare name is close to a model's name, else ""."""
    import difflib

    from zoo.registry import list_models

    path = Path(path)
    if len(path.parts) != 1:
        return ""
    close = difflib.get_close_matches(str(path), list_models(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def names_a_model(name):
    """Whether ``name`` is a model's name (``forecaster``) or one of its presets' (``forecaster.m1m3``)."""
    from zoo.registry import list_models

    return str(name).partition(".")[0] in list_models()


def _released(name):
    """A model's name -> its released checkpoint; ``model.tag`` -> its other released preset
    (timm's ``architecture.tag``: ``forecaster.m1m3``), a folder beside the default one."""
    from zoo.registry import get_recipe

    if not names_a_model(name):
        return None
    model, _, tag = name.partition(".")
    released = get_recipe(model).released
    if tag:
        presets = released_presets(model)
        if name not in presets:
            raise UserError(f"model {model!r} has no released preset {tag!r}"
                            + (f"; presets: {', '.join(presets)}" if presets else ""))
        return presets[name]
    if released is None or not (Path(released) / CHECKPOINT_NAME).exists():
        raise UserError(f"model {name!r} has no released checkpoint yet; train one: zoo train {name}")
    return Path(released)


def released_presets(model):
    """{``model.tag``: folder} of a model's released presets besides its default checkpoint."""
    from zoo.registry import get_recipe

    released = get_recipe(model).released
    if released is None:
        return {}
    return {p.name: p for p in sorted(Path(released).parent.glob(f"{model}.*")) if (p / CHECKPOINT_NAME).exists()}


def load_model(path):
    """Load a .keras checkpoint of zoo layers; a damaged file is a one-line user error."""
    import keras

    import zoo.cells  # noqa: F401  (registers the cells and layers for deserialisation)
    import zoo.layers  # noqa: F401
    from zoo.registry import get_recipe, list_models

    for name in list_models():  # and each model's own layers
        get_recipe(name).register_layers()

    checkpoint, _ = resolve(path)
    if not zipfile.is_zipfile(checkpoint):  # Keras would call it "File not found"
        raise UserError(f"{checkpoint} is not a readable Keras checkpoint (not a .keras zip archive)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.saving.load_model(checkpoint, compile=False)
    except Exception as error:  # zip, h5 and config errors all mean "not a usable checkpoint"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{checkpoint} is not a readable Keras checkpoint ({reason[:200]})") from None


def load_run_config(run_dir):
    return read_json(Path(run_dir) / CONFIG_NAME) if run_dir else None
