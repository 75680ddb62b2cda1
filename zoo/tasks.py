"""Task bases: what several recipes share, owned once (keras-hub's task classes over a backbone).

A recipe inherits the task it is (``Classifier``, ``TextModel``) and keeps only what is its own:
its data, its network, its baselines.
"""

import numpy as np

from zoo.recipe import Recipe


class Classifier(Recipe):
    """One class per sequence: sparse cross-entropy, accuracy on the test split, and the recipe's
    ``baselines`` on the same split."""

    loss = "sparse_categorical_crossentropy"
    compile_metrics = ("accuracy",)
    metric = "accuracy"
    #: Sequences per ``predict`` call on the test split.
    evaluation_batch = 64

    def evaluate(self, model, split, config):
        probabilities = np.asarray(model.predict(split.x_test, batch_size=self.evaluation_batch, verbose=0))
        accuracy = float(np.mean(probabilities.argmax(axis=-1) == split.y_test))
        return {"test": {"accuracy": accuracy}, "baselines": self.baselines(split)}

    def baselines(self, split):
        """{name: {"accuracy": value}}: what a practitioner would try first, on the same split."""
        raise NotImplementedError


class TextModel(Recipe):
    """Raw text in, predictions out (``zoo predict --text``, ``--input FILE.txt``, ``zoo.load``):
    token ids through an embedding, trained with sparse cross-entropy and clipped gradients."""

    reads_text = True
    loss = "sparse_categorical_crossentropy"
    clipnorm = 5.0
