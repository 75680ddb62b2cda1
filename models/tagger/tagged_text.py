"""Part-of-speech tagged sentences from a user's file, for ``zoo train tagger --data FILE``.

Two layouts, told apart by the name (``.conllu``, ``.conll``) or else by the first token line
(ten tab-separated columns):

- CoNLL-U (Universal Dependencies): one token per line, ``ID FORM LEMMA UPOS XPOS ...``,
  sentences separated by blank lines, ``#`` comments. The tag is UPOS, or XPOS with
  ``tag_field="xpos"``; multiword-token ranges (``3-4``) and empty nodes (``5.1``) are skipped,
  since their words are tagged on the lines that follow them.
- Plain text: one sentence per line of space-separated ``word/TAG`` tokens, split at the last
  ``/`` so that words holding a slash (``1/2/CD``) keep it.

Readers return plain lists of sentences, each a list of (word, tag); anything wrong with the file
is a ``UserError`` naming the file and, where it applies, the line.
"""

import re
from collections import Counter
from pathlib import Path

from zoo.data.text_files import cut, read_lines, split_at_random
from zoo.errors import UserError

CONLLU_SUFFIXES = (".conllu", ".conll")
TAG_FIELDS = {"upos": 3, "xpos": 4}  # column of each tag in a CoNLL-U token line
#: Held out at random when the file is not a treebank's own train/dev/test: 80/10/10 by sentence.
VAL_FRACTION = TEST_FRACTION = 0.1
MIN_SENTENCES = 10


def read_tagged(path, tag_field="upos"):
    """-> list of sentences, each a non-empty list of (word, tag), in file order."""
    if tag_field not in TAG_FIELDS:
        raise UserError(f"tag_field must be one of {', '.join(TAG_FIELDS)}, got {cut(tag_field)!r}")
    path = Path(path)
    lines = read_lines(path, "tagged text file")
    sentences = _conllu(path, lines, tag_field) if _is_conllu(path, lines) else _slash_tagged(path, lines)
    if not sentences:
        raise UserError(f"{path} holds no tagged sentences (expected CoNLL-U, or one sentence per line of "
                        "word/TAG tokens)")
    return sentences


def read_split(path, tag_field="upos", seed=0):
    """-> (train, validation, test sentences, how they were split).

    A Universal Dependencies training file (``xx_yy-ud-train.conllu``) whose ``-dev`` and ``-test``
    siblings exist is split as the treebank is; any other file at random by sentence (``seed``).
    """
    path = Path(path)
    siblings = treebank_siblings(path)
    if siblings:
        parts = [read_tagged(p, tag_field) for p in (path, *siblings)]
        _check_tags(path, [s for part in parts for s in part])
        return (*parts, f"the treebank's own split ({path.name}, {siblings[0].name}, {siblings[1].name})")
    sentences = read_tagged(path, tag_field)
    _check_tags(path, sentences)
    if len(sentences) < MIN_SENTENCES:
        raise UserError(f"{path} holds {len(sentences)} sentence(s); an 80/10/10 split needs at least "
                        f"{MIN_SENTENCES}")
    n_val, n_test = (max(1, round(len(sentences) * f)) for f in (VAL_FRACTION, TEST_FRACTION))
    train, val, test = split_at_random(len(sentences), n_val, n_test, seed=seed, what="sentences")
    return ([sentences[k] for k in train], [sentences[k] for k in val], [sentences[k] for k in test],
            f"sentences of {path.name} at random (seed {seed}): 80% train, 10% validation, 10% test")


def treebank_siblings(path):
    """-> (dev, test) paths beside a ``*-train.conllu`` file, or None unless both exist."""
    match = re.fullmatch(r"(.*)-train(\.conllu?)", Path(path).name)
    if not match:
        return None
    dev, test = (Path(path).with_name(f"{match[1]}-{part}{match[2]}") for part in ("dev", "test"))
    return (dev, test) if dev.is_file() and test.is_file() else None


def chunked(sentences, max_length):
    """Sentences of at most ``max_length`` tokens (longer ones cut into consecutive pieces)."""
    return [s[k : k + max_length] for s in sentences for k in range(0, len(s), max_length)]


def _check_tags(path, sentences):
    tags = Counter(tag for sentence in sentences for _, tag in sentence)
    if len(tags) < 2:
        raise UserError(f"{path}: every token is tagged {cut(next(iter(tags)))!r}; a tagger needs at least "
                        "two different tags")


def _is_conllu(path, lines):
    if path.suffix.lower() in CONLLU_SUFFIXES:
        return True
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    return first.count("\t") == 9


def _conllu(path, lines, tag_field):
    """Token lines through conllu's ID grammar: ``1`` a word, ``1-2`` a range, ``1.1`` an empty node."""
    from conllu.exceptions import ParseException
    from conllu.parser import parse_id_value

    column = TAG_FIELDS[tag_field]
    sentences, current = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        where = f"{path}:{number}"
        if len(fields) != 10:
            raise UserError(f"{where}: a CoNLL-U token line has 10 tab-separated columns, this one has "
                            f"{len(fields)}: {cut(line)!r}")
        try:
            token_id = parse_id_value(fields[0])
        except ParseException:
            token_id = None
        if token_id is None:
            raise UserError(f"{where}: {cut(fields[0])!r} is not a CoNLL-U token ID (1, 2-3 or 4.1)")
        if not isinstance(token_id, int):  # a multiword range or an empty node
            continue
        word, tag = fields[1], fields[column].strip()
        if not word:
            raise UserError(f"{where}: token {cut(fields[0])} has an empty FORM (column 2)")
        if tag in ("", "_"):
            hint = "; the default tag_field=upos reads UPOS" if tag_field == "xpos" else ""
            raise UserError(f"{where}: {cut(word)!r} has no {tag_field.upper()} (column {column + 1} is "
                            f"{cut(tag)!r}){hint}")
        current.append((word, tag))
    if current:
        sentences.append(current)
    return sentences


def _slash_tagged(path, lines):
    sentences = []
    for number, line in enumerate(lines, 1):
        pairs = []
        for token in line.split():
            word, slash, tag = token.rpartition("/")
            if not (slash and word and tag):
                raise UserError(f"{path}:{number}: {cut(token)!r} is not word/TAG (one sentence per line of "
                                "space-separated word/TAG tokens, or a CoNLL-U file)")
            pairs.append((word, tag))
        if pairs:
            sentences.append(pairs)
    return sentences
