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


def in_chunks(items, size, what, every=10.0):
    """``items`` in slices of ``size``, with a progress line (done, total, time left) at most
    every ``every`` seconds once a slice has taken time: long jobs (thousands of words through a
    beam search, a big file scored window by window) say how far they are."""
    started = last = time.perf_counter()
    total = len(items)
    shown = False
    for start in range(0, total, size):
        yield items[start : start + size]
        now = time.perf_counter()
        done = min(start + size, total)
        if done < total and now - last >= every and not quiet():
            left = (now - started) / done * (total - done)
            print(f"{what}: {done:,}/{total:,} ({100 * done / total:.0f}%), about {_duration(left)} left",
                  file=sys.stderr, flush=True)
            last, shown = now, True
    if shown and not quiet():
        print(f"{what}: {total:,}/{total:,} in {_duration(time.perf_counter() - started)}", file=sys.stderr, flush=True)


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
