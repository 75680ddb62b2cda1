import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

from zoo.cells import CELLS  # noqa: E402

CELL_NAMES = list(CELLS)


@pytest.fixture(autouse=True)
def _seeded():
    import keras

    keras.utils.set_random_seed(1234)


def run_cli(capsys, *args):
    """Run ``zoo ARGS`` in-process -> (exit code, stdout, stderr)."""
    from zoo.cli import main

    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err
