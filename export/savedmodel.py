"""SavedModel with a ``serve`` signature (also ``serving_default``), dynamic batch and time.

Loads without this package or the model's Python classes: TF Serving, ``tf.saved_model.load``,
and the input to the TFLite converter.
"""

from zoo.export.signature import input_spec, serving_function

SIGNATURE = "serve"


def write(model, path, batch=None):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE, fn=serving_function(model), input_signature=[input_spec(model, batch)]
    )
    archive.write_out(str(path), verbose=False)
