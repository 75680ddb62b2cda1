import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

from zoo.cells import CELLS  # noqa: E402

CELL_NAMES = list(CELLS)


#: Fixtures that train a model: a test that needs one is in the slow lane, wherever it is.
TRAINING_FIXTURES = {"trained_run", "exported"}


def pytest_collection_modifyitems(config, items):
    """Test lanes: ``pytest -m "not slow"`` is the fast lane (cells against their references,
    every format's lowering on tiny models, the CLI's errors, the registry); trainings, kernel
    builds, multi-worker and kill-resume runs carry the ``slow`` mark, set in their modules or
    here for tests that use a training fixture."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
