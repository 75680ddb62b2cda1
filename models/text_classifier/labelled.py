"""The text-classifier's own data: labelled texts from a CSV/TSV, JSON Lines or a folder of
class folders, each problem a one-line error naming the file and line."""

import csv
import io
import json
import re
from collections import Counter

from zoo.errors import UserError
from zoo.data.text_files import LABEL, TEXT, cut, existing, files_under, read_utf8

#: Labelled-text files by suffix -> the CSV delimiter (None: JSON Lines).
LABELLED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
#: A class needs one example in each of training, validation and test.
MIN_PER_CLASS = 3
_LAYOUTS = ("a .csv, .tsv or .jsonl file with 'text' and 'label' fields, "
            "or a folder with one subfolder of .txt files per class")


def read_labelled(path):
    """A CSV, TSV or JSON Lines file with text and label fields, or a folder with one subfolder of
    ``.txt`` files per class (``keras.utils.text_dataset_from_directory``'s layout) ->
    (texts, labels), both lists of str, in file order."""
    path = existing(path)
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
        files = files_under(folder, ".txt")
        if not files:
            raise UserError(f"{folder} holds no .txt files; each class subfolder needs its texts as .txt files")
        for file in files:
            text, label = _clean(read_utf8(file), folder.name, file)
            texts.append(text)
            labels.append(label)
    return texts, labels
