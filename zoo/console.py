"""Terminal hygiene: mute the C++ banners that TensorFlow and LiteRT print on start-up."""

import os
import sys
from contextlib import contextmanager


@contextmanager
def muted_stderr():
    """Silence file descriptor 2 (where C++ logs go) for the block; Python exceptions still raise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded use): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
