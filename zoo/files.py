"""Atomic file and directory writes: a reader sees the old file or the new one, never half of one.

Every file goes to a temporary name in the same folder, is flushed to disk (fsync), and is then
renamed over the target; the folder itself is fsynced so the rename survives a power cut.
"""

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from zoo.errors import UserError


def atomic_write(path, write, mode="w"):
    """Write ``path`` through ``write(handle)`` so that a kill at any moment leaves the old file
    or the complete new one. -> path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide run files from other users
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path


def fsync_directory(directory):
    """Make a rename in ``directory`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path, data):
    def dump(handle):
        json.dump(data, handle, indent=2, sort_keys=False, default=_jsonable)
        handle.write("\n")

    atomic_write(path, dump)


def write_text(path, text):
    atomic_write(path, lambda handle: handle.write(text))


def save_array(path, array):
    """``np.save``, atomically."""
    import numpy as np

    atomic_write(path, lambda handle: np.save(handle, array), mode="wb")


def save_figure(figure, path, **kwargs):
    """``figure.savefig``, atomically (the format comes from ``path``'s suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda handle: figure.savefig(handle, format=fmt, **kwargs), mode="wb")




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
    except OSError as error:
        raise UserError(f"cannot create {_cut(directory)}: {_why_not_created(directory, error)}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.ENOENT and directory.is_dir():  # /proc: "No such file" means it takes none
            reason = f"it does not take new files ({reason})"
        raise UserError(f"cannot write to {_cut(directory)}: {reason}") from None


def _why_not_created(directory, error):
    """The reason a folder could not be made, named after the folder that refused it: mkdir's
    "No such file or directory" under /proc means /proc takes no new folders, not that it is missing."""
    reason = error.strerror or str(error)
    parent = directory.parent
    while parent != parent.parent and not os.path.lexists(parent):
        parent = parent.parent
    if os.path.lexists(directory) and not directory.is_dir():
        return "a file of that name exists"
    if parent.exists() and not parent.is_dir():
        return f"{_cut(parent)} is a file, not a folder"
    if error.errno == errno.ENOENT and parent.is_dir():
        return f"{_cut(parent)} does not take new folders ({reason})"
    if error.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return reason


def _cut(path, limit=200):
    text = str(path)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def atomic_directory(target, force=False):
    """Build a directory under a temporary name and move it into place only on success.

    Yields the temporary path. Without ``force`` an existing target is an error up front; with it
    the old directory is replaced only once the new one is complete. Staging folders left by a
    killed process (their names carry its pid) are removed first.
    """
    target = Path(target)
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    parent = target.parent if target.parent != Path("") else Path(".")
    check_writable(parent)
    remove_orphans(parent, f".{target.name}.staging-")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-{os.getpid()}-", dir=parent))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the export from other users
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-{os.getpid()}-old-", dir=parent))
        os.replace(target, old / "x")
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    fsync_directory(parent)


def remove_orphans(directory, prefix):
    """Remove ``prefix{pid}-...`` folders and files whose process is gone (killed mid-write)."""
    for leftover in Path(directory).glob(f"{prefix}*"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != 0


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def scratch_directory(prefix):
    """A temporary folder (in the system's temp dir) removed on exit; folders of the same
    ``prefix`` left by killed processes are removed when the next one is made."""
    parent = Path(tempfile.gettempdir())
    remove_orphans(parent, prefix)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
