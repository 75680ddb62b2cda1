"""Terminal hygiene: mute the C++ banners that TensorFlow and LiteRT print on start-up."""

import os
import sys
from contextlib import contextmanager


@contextmanager
def _stderr_into(target):
    """File descriptor 2 (where C++ logs go) into the open file descriptor ``target`` for the
    block; yields False, doing nothing, where there is no real stderr (embedded use)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield False
        return
    os.dup2(target, 2)
    try:
        yield True
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def muted_stderr():
    """Silence file descriptor 2 for the block; Python exceptions still raise."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with _stderr_into(devnull):
            yield
    finally:
        os.close(devnull)


@contextmanager
def stderr_kept_for_errors(what):
    """File descriptor 2 into a temporary file for the block: dropped if the block succeeds, the
    exception's message if it raises (C++ code that logs its reason and raises without it)."""
    import tempfile

    with tempfile.TemporaryFile() as log:
        try:
            with _stderr_into(log.fileno()):
                yield
        except Exception as error:
            log.seek(0)
            said = log.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"{what}: {' / '.join(said[-3:]) or error}") from error
