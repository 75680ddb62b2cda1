"""tf.distribute for ``zoo train --strategy``: which strategy, and whether this process is the chief.

- ``mirrored``: MirroredStrategy over the devices of this machine (all its GPUs; the CPU if none).
- ``multi-worker``: MultiWorkerMirroredStrategy across machines, each described by ``TF_CONFIG``
  (``{"cluster": {"worker": ["host1:port", ...]}, "task": {"type": "worker", "index": i}}``);
  every worker runs the same command. Worker 0 is the chief: only it writes the checkpoint, the
  metrics and the plots; the others keep just their own backup, so that a restarted cluster
  resumes in step.
``--batch-size`` is the global batch: each of N replicas computes gradients on batch/N examples
and the gradients are averaged, so the same seed and global batch train the same model.
"""

import json
import os
from dataclasses import dataclass

from zoo.errors import UserError

STRATEGIES = ("mirrored", "multi-worker")


@dataclass
class Placement:
    strategy: object  # a tf.distribute.Strategy, or None for the default
    is_chief: bool = True
    worker_index: int = 0
    replicas: int = 1


def make_strategy(name):
    """Create the strategy first thing: TF requires it before any other TF op in the process."""
    if name is None:
        return Placement(strategy=None)
    import tensorflow as tf

    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Placement(strategy, replicas=strategy.num_replicas_in_sync)
    if name == "multi-worker":
        task = _task()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _patch_keras_log_reduction()
        index = int(task.get("index", 0))
        chief = task.get("type") == "chief" or (task.get("type") == "worker" and index == 0)
        return Placement(strategy, is_chief=chief, worker_index=index, replicas=strategy.num_replicas_in_sync)
    raise UserError(f"unknown --strategy {name!r}; choose from: {', '.join(STRATEGIES)}")


def _task():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError("--strategy multi-worker needs TF_CONFIG describing the cluster and this worker")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError('TF_CONFIG must look like {"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}') from None
    if not workers:
        raise UserError("TF_CONFIG lists no workers")
    return task


def build_before_fit(model, x, y):
    """Build the model's variables, optimizer and metrics from one local batch before ``fit``.

    Keras 3.15's TF trainer, under a strategy, builds them in ``fit`` by *reducing* the first
    distributed batch with MEAN, which MultiWorkerMirroredStrategy cannot do eagerly ("Attempt to
    convert a value (PerReplica...) to a Tensor"). Building only needs shapes, so one slice of the
    local data serves; ``fit`` then finds everything built and the reduction yields nothing new.
    """
    import types

    def symbolic_build(self, iterator=None, data_batch=None):
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=(x[:1], y[:1]))

    model._maybe_symbolic_build = types.MethodType(symbolic_build, model)


def _patch_keras_log_reduction():
    """Keras 3's ``fit`` under MultiWorkerMirroredStrategy reduces each step's scalar logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails for scalars ("Invalid reduction dimension
    0 for input with 0 dimensions"; tensorflow/tensorflow#72388, Keras 3 only). The logs are
    already synchronised metric values, so their mean over workers with ``axis=None`` is what
    was meant. Only that case is rerouted; everything else goes to Keras' own function."""
    from zoo.compat import is_multi_worker, is_per_replica, keras_tensorflow_trainer

    trainer = keras_tensorflow_trainer()
    original = getattr(trainer.reduce_per_replica, "__wrapped__", trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            import tensorflow as tf
            from keras import tree

            def mean(value):
                if is_per_replica(value) or isinstance(value, tf.Tensor):
                    return strategy.reduce("MEAN", value, axis=None)
                return value

            return tree.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica.__wrapped__ = original
    trainer.reduce_per_replica = reduce_per_replica
