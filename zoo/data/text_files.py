"""A user's own text for the text models: plain text for ``char-lm``, labelled texts for
``text-classifier``.

The readers return plain Python data (strings and lists) and turn everything that can be wrong
with a file into a one-line ``UserError`` that names the file and, where there is one, the line:
``reviews.csv:17: empty text``. Files must be UTF-8 (a byte-order mark is allowed); line endings
are read as ``\\n`` whatever the file uses.
"""

import csv
import io
import json
import math
import re
import warnings
from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from pathlib import Path

import numpy as np

from zoo.errors import UserError, shown_path, refuse_dangling_link

#: Plain text for char-lm: the first 80% trains, the next 10% validates, the last 10% tests.
TEXT_FRACTIONS = (0.8, 0.1, 0.1)
#: Column or field names of labelled texts (matched without regard to case or spaces).
TEXT, LABEL = "text", "label"
#: Labelled-text files by suffix -> the CSV delimiter (None: JSON Lines).
LABELLED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
#: A class needs one example in each of training, validation and test.
MIN_PER_CLASS = 3
_LAYOUTS = ("a .csv, .tsv or .jsonl file with 'text' and 'label' fields, "
            "or a folder with one subfolder of .txt files per class")


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


def _existing(path):
    path = Path(path)
    if not path.exists():
        refuse_dangling_link(path)
        raise UserError(f"no such file or folder: {shown_path(path)}")
    return path


def _files_under(folder, suffix):
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


def read_documents(path):
    """A UTF-8 text file, or every ``.txt`` file under a folder -> [(name, text)] in name order.

    Empty files in a folder are left out with a warning; an empty file or folder is an error.
    """
    path = _existing(path)
    if path.is_file():
        text = read_utf8(path)
        if not text.strip():
            raise UserError(f"{path} is empty")
        return [(path.name, text)]
    files = _files_under(path, ".txt")
    if not files:
        raise UserError(f"{path} holds no .txt files")
    documents = [(f.relative_to(path).as_posix(), read_utf8(f)) for f in files]
    kept = [(name, text) for name, text in documents if text.strip()]
    if not kept:
        raise UserError(f"{path}: every .txt file in it is empty")
    if len(kept) < len(documents):
        from zoo.errors import DataWarning

        warnings.warn(f"{path}: left out {len(documents) - len(kept)} empty .txt file(s)", DataWarning, stacklevel=2)
    return kept


def split_documents(documents, window, source, seed=0):
    """-> (train, validation, test, details): held-out text for a character model.

    Three or more files: whole files are held out (10% each for validation and test, at least
    one, drawn with ``seed``), so no test passage is a neighbour of a training one. Fewer files,
    or held-out files too short for one window: the files are joined in name order and the tail is
    held out (``TEXT_FRACTIONS``, cut at line starts). Each part needs ``window + 1`` characters.
    """
    joined = ""
    if len(documents) >= 3:
        train, validation, test, details = _hold_out_files(documents, seed)
        if min(len(validation), len(test)) > window:
            _check_length(source, window, train, validation, test)
            return train, validation, test, details
        joined = (f" ({len(documents)} files joined in name order: the files drawn for holding out were "
                  "shorter than one window)")
    elif len(documents) == 2:
        joined = " (2 files joined in name order: whole files are held out from 3 files on)"
    train, validation, test = split_tail("\n".join(text for _, text in documents))
    _check_length(source, window, train, validation, test)
    return train, validation, test, {
        "split": f"by position, cut at line starts: the first {TEXT_FRACTIONS[0]:.0%} trains "
                 f"({len(train):,} characters), the next {TEXT_FRACTIONS[1]:.0%} validates, the last "
                 f"{TEXT_FRACTIONS[2]:.0%} tests{joined}",
    }


def _hold_out_files(documents, seed):
    order = np.random.default_rng(seed).permutation(len(documents))
    n_held = max(1, int(round(len(documents) * TEXT_FRACTIONS[2])))
    test, validation = sorted(order[:n_held]), sorted(order[n_held : 2 * n_held])
    held = set(test) | set(validation)

    def join(picks):
        return "\n".join(documents[k][1] for k in picks)

    train = join(k for k in range(len(documents)) if k not in held)
    details = {
        "validation_files": [documents[k][0] for k in validation],
        "test_files": [documents[k][0] for k in test],
        "split": f"by whole files (seed {seed}): {len(test)} test, {len(validation)} validation, "
                 f"the other {len(documents) - 2 * n_held} train ({len(train):,} characters)",
    }
    return train, join(validation), join(test), details


def split_tail(text, fractions=TEXT_FRACTIONS):
    """-> consecutive parts of ``text`` in ``fractions``, each cut at the line start nearest its
    share (at the character itself where no line start lies between the neighbouring cuts)."""
    starts = [m.end() for m in re.finditer("\n", text)]
    cuts, previous = [], 0
    for share in accumulate(fractions[:-1]):
        target = round(len(text) * share)
        candidates = [s for s in starts[max(0, bisect_left(starts, target) - 1) :][:2] if previous < s < len(text)]
        cut_at = min(candidates, key=lambda s: abs(s - target)) if candidates else max(target, previous)
        cuts.append(cut_at)
        previous = cut_at
    bounds = [0, *cuts, len(text)]
    return tuple(text[a:b] for a, b in zip(bounds, bounds[1:]))


def _check_length(source, window, train, validation, test):
    for part, text in (("training", train), ("validation", validation), ("test", test)):
        if len(text) <= window:
            needed = math.ceil((window + 1) / min(TEXT_FRACTIONS) - 1e-9)
            raise UserError(
                f"{source}: too little text for windows of {window} characters: the {part} part has "
                f"{len(text):,} and needs at least {window + 1}; give about {needed:,} characters or more, "
                f"or a smaller --window"
            )


# ---------------------------------------------------------------- labelled texts (text-classifier)


def read_labelled(path):
    """A CSV, TSV or JSON Lines file with text and label fields, or a folder with one subfolder of
    ``.txt`` files per class (``keras.utils.text_dataset_from_directory``'s layout) ->
    (texts, labels), both lists of str, in file order."""
    path = _existing(path)
    if path.is_dir():
        texts, labels = _read_class_folders(path)
    elif path.suffix.lower() in LABELLED_SUFFIXES:
        text = read_utf8(path)
        if not text.strip():
            raise UserError(f"{path} is empty")
        delimiter = LABELLED_SUFFIXES[path.suffix.lower()]
        texts, labels = _read_json_lines(path, text) if delimiter is None else _read_delimited(path, text, delimiter)
    else:
        raise UserError(f"{path}: expected {_LAYOUTS}")
    check_classes(labels, path)
    return texts, labels


def check_classes(labels, source):
    """At least two classes, each with an example for training, validation and test."""
    counts = dict(sorted(Counter(labels).items()))
    if len(counts) < 2:
        raise UserError(f"{source}: every example has the label {cut(labels[0])!r}; "
                        "a classifier needs two classes or more")
    small = [f"{cut(label, 30)!r} ({n})" for label, n in counts.items() if n < MIN_PER_CLASS]
    if small:
        shown = ", ".join(small[:3]) + (f" and {len(small) - 3} more" if len(small) > 3 else "")
        raise UserError(
            f"{source}: too few examples in class{'es' if len(small) > 1 else ''} {shown}; each class needs at "
            f"least {MIN_PER_CLASS} (one each for training, validation and test)"
        )


def _clean(text, label, where):
    """One example, checked: a text with a letter or digit (a text of punctuation alone has no
    word to read) and a label."""
    text, label = text.strip(), label.strip()
    if not text:
        raise UserError(f"{where}: empty text")
    if not re.search(r"[^\W_]", text):
        raise UserError(f"{where}: the text {cut(text)!r} has no words (no letter or digit)")
    if not label:
        raise UserError(f"{where}: empty label")
    return text, label


def _columns(path, header):
    """Positions of the text and label columns in ``header``."""
    names = [name.strip().lower() for name in header]
    missing = [name for name in (TEXT, LABEL) if name not in names]
    if missing:
        found = cut(", ".join(h.strip() for h in header) or "none")
        raise UserError(f"{path} has no {' or '.join(repr(m) for m in missing)} column (columns: {found})")
    return names.index(TEXT), names.index(LABEL)


def _read_delimited(path, text, delimiter):
    texts, labels = [], []
    previous_limit = csv.field_size_limit(2**31 - 1)  # a long article is one field
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = next((row for row in reader if row), [])
        text_column, label_column = _columns(path, header)
        line = reader.line_num
        for row in reader:
            where, line = f"{path}:{line + 1}", reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise UserError(f"{where}: {len(row)} field{'s' if len(row) != 1 else ''} where the header has "
                                f"{len(header)} (quote a text that holds the delimiter, and close every quote)")
            text_value, label_value = _clean(row[text_column], row[label_column], where)
            texts.append(text_value)
            labels.append(label_value)
    except csv.Error as error:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise UserError(f"{path}:{reader.line_num}: not readable as {kind} ({error})") from None
    finally:
        csv.field_size_limit(previous_limit)
    if not texts:
        raise UserError(f"{path} has a header but no rows")
    return texts, labels


def _read_json_lines(path, text):
    texts, labels = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{where}: not JSON ({error.msg}: {cut(line.strip(), 40)!r})") from None
        if not isinstance(record, dict):
            raise UserError(f"{where}: expected a JSON object with 'text' and 'label' fields")
        fields = {str(key).strip().lower(): value for key, value in record.items()}
        for name in (TEXT, LABEL):
            if name not in fields:
                raise UserError(f"{where}: no {name!r} field (fields: {cut(', '.join(map(str, record)) or 'none')})")
        if not isinstance(fields[TEXT], str):
            raise UserError(f"{where}: 'text' must be a string")
        label = fields[LABEL]
        if isinstance(label, (dict, list)) or label is None:
            raise UserError(f"{where}: 'label' must be a string or a number")
        text_value, label_value = _clean(fields[TEXT], str(label), where)
        texts.append(text_value)
        labels.append(label_value)
    return texts, labels


def _read_class_folders(path):
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UserError(f"{path} has no class subfolders; expected {_LAYOUTS}")
    texts, labels = [], []
    for folder in folders:
        files = _files_under(folder, ".txt")
        if not files:
            raise UserError(f"{folder} holds no .txt files; each class subfolder needs its texts as .txt files")
        for file in files:
            text, label = _clean(read_utf8(file), folder.name, file)
            texts.append(text)
            labels.append(label)
    return texts, labels


def read_texts(path):
    """Texts to predict on, one output per input: a ``.txt`` file (one text per line), ``.jsonl``
    (a "text" field per record, or a JSON string per line), ``.csv`` (a "text" column), or ``-``
    for standard input (one text per line). Blank lines are not texts."""
    import sys

    if path == "-":
        source, text = "standard input", sys.stdin.read().replace("\r\n", "\n")
    else:
        source, text = str(path), read_utf8(_existing(path))
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
