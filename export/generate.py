"""``zoo generate``: sample text from a character model one step at a time, in any runtime.

Generation feeds one character, carries the LSTM states itself and samples the next character:
exactly what an app does with the streaming artifacts (``--streaming``), so the same code runs
Keras and each exported step artifact. With ``--temperature 0`` (greedy) every runtime must
produce the same text; the tests hold them to it.
"""

from pathlib import Path

import numpy as np

from zoo.export.formats import FORMATS
from zoo.export.step_model import INPUT, OUT_SUFFIX, OUTPUT, step_model
from zoo.export.streaming import StepRunner, write_streaming
from zoo.checkpoints import load_model, load_run_config, resolve
from zoo.errors import UserError
from zoo.files import scratch_directory

RUNTIMES = ("keras", *FORMATS)  # Keras, or any export format's step artifact


class KerasStepper:
    """The step model in a compiled tf.function, with the same reset/step API as StepRunner."""

    def __init__(self, model):
        import tensorflow as tf

        self.step_model = step_model(model)
        self.specs = self.step_model.streaming["states"]
        self._call = tf.function(lambda feed: self.step_model(feed, training=False))
        self.states = {}

    def reset(self, batch=1):
        self.states = {name: np.zeros((batch, *shape), dtype) for name, shape, dtype in self.specs}

    def step(self, x_t):
        result = self._call({INPUT: np.asarray(x_t, self.step_model.streaming["input_dtype"]), **self.states})
        self.states = {name: result[name + OUT_SUFFIX].numpy() for name, _, _ in self.specs}
        return result[OUTPUT].numpy()


def _vocabulary(run_dir):
    config = load_run_config(run_dir) or {}
    vocabulary = config.get("config", {}).get("data", {}).get("vocabulary")
    if not vocabulary:
        raise UserError("generate needs a character model's run (its config.json holds the vocabulary)")
    return vocabulary


def generate(checkpoint, prompt="", length=200, temperature=1.0, seed=0, runtime="keras"):
    """A checkpoint's text: Keras' step model, or a step artifact written here for ``runtime``
    -> the prompt followed by ``length`` generated characters."""
    if runtime not in RUNTIMES:
        raise UserError(f"unknown runtime {runtime!r}; choose from: {', '.join(RUNTIMES)}")
    check_temperature(temperature)
    keras_path, run_dir = resolve(checkpoint)
    vocabulary = _vocabulary(run_dir)
    model = load_model(keras_path)
    with scratch_directory("zoo-generate-") as work:
        return generate_text(_stepper(model, runtime, Path(work)), vocabulary, prompt, length, temperature, seed)


def check_temperature(temperature):
    if temperature < 0:
        raise UserError("--temperature must be 0 (greedy) or more")


def generate_text(stepper, vocabulary, prompt="", length=200, temperature=1.0, seed=0):
    """The sampling loop every runtime shares (Keras' step model, an exported step artifact in
    ONNX Runtime or LiteRT): feed the prompt one character at a time, then sample and feed back,
    the LSTM states carried by ``stepper`` -> the prompt followed by ``length`` characters."""
    from zoo.models.char_lm import encode

    check_temperature(temperature)
    stepper.reset(1)
    for token in encode(prompt or "\n", vocabulary):
        probabilities = stepper.step(np.array([token], "int32"))
    rng = np.random.default_rng(seed)
    generated = []
    for _ in range(length):
        token = sample(probabilities[0], temperature, rng)
        generated.append(vocabulary[token])
        probabilities = stepper.step(np.array([token], "int32"))
    return prompt + "".join(generated)


def _stepper(model, runtime, work):
    if runtime == "keras":
        return KerasStepper(model)
    written = write_streaming(model, work, [runtime])
    return StepRunner(written[runtime]["path"], runtime)


def sample(probabilities, temperature, rng):
    """Greedy at temperature 0; otherwise sample from p^(1/T), renormalised."""
    probabilities = np.asarray(probabilities, dtype="float64")
    if temperature == 0:
        return int(np.argmax(probabilities))
    logits = np.log(np.maximum(probabilities, 1e-30)) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))
