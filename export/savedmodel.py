"""SavedModel with a ``serve`` signature (also ``serving_default``), dynamic batch and time.

Loads without this package or the model's Python classes: TF Serving, ``tf.saved_model.load``,
and the input to the TFLite converter.
"""

from zoo.export.signature import input_spec, serving_function

SIGNATURE = "serve"


def write(model, path, batch=None, steps=None):
    _write_endpoint(model, SIGNATURE, serving_function(model), [input_spec(model, batch, steps)], path)


def write_step(step, path, batch=None):
    """``export.streaming``'s step model with the signature ``step`` -> its (input, output) names."""
    from zoo.export.step_model import SIGNATURE as STEP_SIGNATURE
    from zoo.export.step_model import step_function, step_specs

    _write_endpoint(step, STEP_SIGNATURE, step_function(step), step_specs(step, batch), path)
    return list(step.streaming["inputs"]), list(step.streaming["outputs"])


def _write_endpoint(model, name, function, input_signature, path):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=name, fn=function, input_signature=input_signature)
    archive.write_out(str(path), verbose=False)
