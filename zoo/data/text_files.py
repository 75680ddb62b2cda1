"""Text-file helpers every text model shares: UTF-8 reading with the failing line named, lines,
random held-out splits, and the texts ``zoo predict --input`` reads. Each model's own layouts
live in its folder (char-lm's documents, the text-classifier's labelled files).

The readers return plain Python data (strings and lists) and turn everything that can be wrong
with a file into a one-line ``UserError`` that names the file and, where there is one, the line:
``reviews.csv:17: empty text``. Files must be UTF-8 (a byte-order mark is allowed); line endings
are read as ``\\n`` whatever the file uses.
"""

import csv
import io
import json
from pathlib import Path

import numpy as np

from zoo.errors import UserError, shown_path, refuse_dangling_link

#: Column or field names of labelled texts (matched without regard to case or spaces).
TEXT, LABEL = "text", "label"


def cut(value, limit=60):
    """A value as it is echoed in a message: at most ``limit`` characters."""
    value = str(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def read_utf8(path):
    """The file's text, ``\\n`` line endings; a byte that is not UTF-8 is reported with its line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, offset) + 1
        raise UserError(f"{path}:{line}: byte 0x{raw[offset]:02x} is not UTF-8; save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def existing(path):
    path = Path(path)
    if not path.exists():
        refuse_dangling_link(path)
        raise UserError(f"no such file or folder: {shown_path(path)}")
    return path


def files_under(folder, suffix):
    """Files with ``suffix`` anywhere under ``folder``, hidden ones left out, sorted by path."""
    return sorted(
        p for p in folder.rglob(f"*{suffix}")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


# ---------------------------------------------------------------- plain text (char-lm)


def read_lines(path, kind="file"):
    """-> the lines of a UTF-8 text file; a missing file, or bytes that are not UTF-8 (with their
    line), are one-line errors."""
    if not Path(path).is_file():
        raise UserError(f"no such {kind}: {path}")
    return read_utf8(path).split("\n")


def split_at_random(count, n_val, n_test, seed=0, what="words"):
    """-> index arrays (train, validation, test) over ``count`` items (words, sentences), drawn at random."""
    if n_val + n_test >= count:
        raise UserError(f"cannot hold out {n_val} + {n_test} of {count} {what}")
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_val + n_test :]), np.sort(order[:n_val]), np.sort(order[n_val : n_val + n_test])


def read_texts(path):
    """Texts to predict on, one output per input: a ``.txt`` file (one text per line), ``.jsonl``
    (a "text" field per record, or a JSON string per line), ``.csv`` (a "text" column), or ``-``
    for standard input (one text per line). Blank lines are not texts."""
    import sys

    if path == "-":
        source, text = "standard input", sys.stdin.read().replace("\r\n", "\n")
    else:
        source, text = str(path), read_utf8(existing(path))
    if str(path).endswith(".jsonl"):
        texts = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UserError(f"{source}:{number}: not JSON ({error.msg}: {cut(line.strip(), 40)!r})") from None
            value = record.get("text", record.get("TEXT")) if isinstance(record, dict) else record
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"{source}:{number}: expected a non-empty JSON string or a record with a 'text' field")
            texts.append(value)
    elif str(path).endswith(".csv"):
        previous_limit = csv.field_size_limit(2**31 - 1)
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as error:
            raise UserError(f"{source}: not readable as CSV ({error})") from None
        finally:
            csv.field_size_limit(previous_limit)
        header = [name.strip().lower() for name in (rows[0] if rows else [])]
        if TEXT not in header:
            raise UserError(f"{source} has no 'text' column (columns: {cut(', '.join(header) or 'none')})")
        column = header.index(TEXT)
        texts = [row[column] for row in rows[1:] if len(row) > column and row[column].strip()]
    else:
        texts = [line for line in text.split("\n") if line.strip()]
    if not texts:
        raise UserError(f"{source} holds no text")
    return texts
