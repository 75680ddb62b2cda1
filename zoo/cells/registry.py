"""The cell registry: a cell module registers its class by decorating it, nothing else lists it."""

import keras

#: Short name -> cell class, in registration order; the names ``--cell`` and ``LSTM(cell=...)`` take.
CELLS = {}


def register_cell(name):
    """Class decorator: the cell under ``name`` in ``CELLS``, and loadable from ``.keras`` files."""

    def register(cls):
        module = cls.__module__.rsplit(".", 1)[-1]
        if cls.__module__.startswith("zoo.cells.") and module != name:  # --cell lists modules, not classes
            raise ValueError(f"cell {name!r} must live in zoo/cells/{name}.py, not {module}.py")
        if CELLS.get(name, cls) is not cls:
            raise ValueError(f"cell name {name!r} is taken by {CELLS[name].__name__}")
        cls.cell_name = name
        CELLS[name] = keras.saving.register_keras_serializable(package="zoo")(cls)
        return cls

    return register


def get_cell_class(name):
    """The cell class for a short name; a clear error lists the known names."""
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose one of: {', '.join(CELLS)}") from None
