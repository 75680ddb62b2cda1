"""Atomic file and directory writes: a reader sees the old file or the new one, never half of one."""

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from zoo.errors import UserError


def write_json(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide run files from other users
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=_jsonable)
        handle.write("\n")
    os.replace(tmp, path)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"missing {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None


def check_writable(directory):
    """Fail before long work, not after it: the directory must exist (or be creatable) and take a file."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as error:
        raise UserError(f"cannot write to {directory}: {error.strerror or error}") from None


@contextmanager
def atomic_directory(target, force=False):
    """Build a directory under a temporary name and move it into place only on success.

    Yields the temporary path. Without ``force`` an existing target is an error up front; with it
    the old directory is replaced only once the new one is complete.
    """
    target = Path(target)
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    check_writable(target.parent if target.parent != Path("") else Path("."))
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, old / "x")
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
