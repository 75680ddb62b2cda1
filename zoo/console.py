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


class RuntimeLogsMuted:
    """For a whole command: file descriptor 2 into /dev/null, so what C++ code logs straight to it
    (TensorFlow's absl and oneDNN start-up lines, "E0000 ... AVX-512", LiteRT's delegate notes,
    grappler's "NodeDef mentions attribute") never reaches the terminal, at import or later, while
    Python's ``sys.stderr`` (errors, warnings, progress) keeps writing to the real stderr.

    Does nothing where Python's stderr is not file descriptor 2 (a test's capture, an embedding).
    ``stop()`` puts everything back (``zoo --verbose``, and at the end of the command)."""

    def __init__(self):
        self._saved = self._python = self._replaced = None

    def start(self):
        try:
            if sys.stderr.fileno() != 2:
                return self
        except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is an OSError
            return self
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._replaced = sys.stderr
        self._python = open(self._saved, "w", encoding=sys.stderr.encoding, errors=sys.stderr.errors,
                            buffering=1, closefd=False)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = self._python
        return self

    def stop(self):
        if self._saved is None:
            return
        self._python.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        sys.stderr = self._replaced
        self._saved = self._python = self._replaced = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
