"""Start a training from a parent checkpoint: ``zoo train NAME --init NAME|RUN|FILE.keras``.

Weights are copied layer by layer where the layer's name and every weight's shape fit; the rest
(a head for other classes, an embedding for another vocabulary) starts fresh. Layers with no
trainable weights (the scalers) keep the child's own data statistics. Text recipes keep
the parent's vocabulary (they read ``config["parent_data"]``), so their embeddings fit too.
"""

from dataclasses import dataclass, field
from pathlib import Path

from zoo.errors import UserError


@dataclass
class Transfer:
    """Which layers came from the parent and which start fresh, for config.json and the card."""

    copied: list = field(default_factory=list)
    fresh: list = field(default_factory=list)  # (layer, reason)

    def summary(self):
        text = f"copied {len(self.copied)} layer(s)"
        if self.fresh:
            text += "; new: " + ", ".join(f"{name} ({why})" for name, why in self.fresh)
        return text

    def as_dict(self):
        return {"copied": self.copied, "fresh": [{"layer": n, "reason": r} for n, r in self.fresh]}


@dataclass
class Parent:
    source: str
    model_name: str | None  # the recipe that trained it; None for a bare .keras file
    keras_path: Path
    data: dict  # the parent run's config["data"] (vocabularies, classes); {} for a bare file

    def describe(self):
        return {"parent": self.source, "parent_model": self.model_name, "parent_data_source": self.data.get("source")}

    def copy_weights_into(self, model):
        """Copy every layer whose name and weight shapes match; -> ``Transfer``."""
        from zoo.checkpoints import load_model

        parent = {layer.name: layer for layer in load_model(self.keras_path).layers}
        transfer = Transfer()
        for layer in model.layers:
            weights = layer.get_weights()
            if not layer.trainable_weights:  # scalers hold the child's own data statistics
                continue
            source = parent.get(layer.name)
            if source is None:
                transfer.fresh.append((layer.name, "not in the parent"))
                continue
            theirs = source.get_weights()
            if [w.shape for w in theirs] != [w.shape for w in weights]:
                transfer.fresh.append((layer.name, "other shape"))
                continue
            layer.set_weights(theirs)
            transfer.copied.append(layer.name)
        if not transfer.copied:
            raise UserError(f"--init {self.source}: no layer of the parent fits this model "
                            "(different architecture or options)")
        return transfer


def load_parent(init, model_name, out_dir=None):
    """Resolve ``--init`` (a model name means its released checkpoint) -> ``Parent``. A parent
    inside the run directory is refused: ``--force`` would delete it before it is read."""
    from zoo.checkpoints import load_run_config, resolve

    keras_path, run_dir = resolve(init)
    if out_dir is not None and Path(out_dir).resolve() in (Path(keras_path).resolve(), *Path(keras_path).resolve().parents):
        raise UserError(f"--init {init} lies inside the run directory {out_dir}; train into another --out")
    config = load_run_config(run_dir) if run_dir else None
    parent_model = config.get("model") if config else None
    if parent_model is not None and parent_model != model_name:
        raise UserError(f"--init {init} is a {parent_model} checkpoint; {model_name} cannot start from it")
    data = (config or {}).get("config", {}).get("data", {})
    return Parent(source=str(init), model_name=parent_model, keras_path=Path(keras_path), data=data)
