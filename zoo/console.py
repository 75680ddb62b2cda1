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


@contextmanager
def stderr_kept_for_errors(what):
    """File descriptor 2 into a temporary file for the block: dropped if the block succeeds, the
    exception's message if it raises (C++ code that logs its reason and raises without it)."""
    import tempfile

    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except Exception as error:
            os.dup2(saved, 2)
            log.seek(0)
            said = log.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"{what}: {' / '.join(said[-3:]) or error}") from error
        finally:
            os.dup2(saved, 2)
            os.close(saved)
