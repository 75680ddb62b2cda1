"""Staged progress on stderr: every step that can take more than a few seconds (a kernel build, an
export stage, a tf2onnx conversion, an evaluation, a benchmark) says what it is doing and, when
done, how long it took. ``zoo --quiet`` turns it off, and warnings with it: results and errors only."""

import os
import sys
import time
from contextlib import contextmanager

_QUIET_VARIABLE = "ZOO_QUIET"


def quiet():
    return os.environ.get(_QUIET_VARIABLE, "0").lower() in ("1", "true")


def set_quiet(flag):
    os.environ[_QUIET_VARIABLE] = "1" if flag else "0"


def note(message):
    """One line of progress (not a warning, not an error)."""
    if not quiet():
        print(message, file=sys.stderr, flush=True)


def warn(message):
    """One ``warning:`` line (something the user should know but that did not stop the command)."""
    if not quiet():
        print(f"warning: {message}", file=sys.stderr, flush=True)


@contextmanager
def stage(what):
    """``what...`` now and `` 12.3 s`` on the same line when the block ends; on failure the line
    is only ended, since the error says what went wrong."""
    if quiet():
        yield
        return
    started = time.perf_counter()
    print(f"{what}...", end="", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException:
        print(file=sys.stderr, flush=True)
        raise
    print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
