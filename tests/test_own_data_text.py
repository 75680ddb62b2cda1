"""``zoo train char-lm|text-classifier --data PATH``: a user's own text, split, scored against
the baselines, and every bad file as one ``error:`` line that names the file (and the line)."""

import json

import numpy as np
import pytest

from conftest import run_cli
from zoo.data.series import DataWarning
from zoo.errors import UserError
from zoo.registry import get_recipe

LINES = [
    "The wind came over the hill and the trees bent low before it.",
    "A small boat rocked in the harbour while the gulls cried above.",
    "She counted the lamps along the quay, one by one, until the last.",
    "Bread and cheese and a jug of cider waited on the kitchen table.",
    "Nobody spoke of the letter, though everyone had read it twice.",
]


def plain_text(n_lines, offset=0):
    return "".join(f"{k}: {LINES[(k + offset) % len(LINES)]}\n" for k in range(n_lines))


TOPICS = {
    "sport": "the team won the match after a late goal and the coach praised the players",
    "business": "shares fell after the bank reported lower profits and cut its dividend",
    "weather": "heavy rain and strong winds are expected across the north tomorrow morning",
}


def labelled_rows(per_class=10):
    return [(f"{words} story {k}", label) for k in range(per_class) for label, words in TOPICS.items()]


def write_csv(path, rows, delimiter=","):
    path.write_text("text" + delimiter + "label\n" + "".join(f'"{t}"{delimiter}{y}\n' for t, y in rows),
                    encoding="utf-8")
    return path


def train_cli(capsys, name, data, out):
    return run_cli(capsys, "train", name, "--data", data, "--quick", "--out", out)


# ------------------------------------------------------------------ char-lm


def test_char_lm_holds_out_the_tail_of_one_file_at_line_starts(tmp_path):
    text = "\ufffd in the training part\n" + plain_text(60) + "é only in the test part\n"
    path = tmp_path / "story.txt"
    path.write_text(text, encoding="utf-8")
    split = get_recipe("char-lm").load_data(get_recipe("char-lm").config(), data=str(path))
    train, test = split.extra["train_text"], split.extra["test_text"]
    assert text.startswith(train) and text.endswith(test) and train.endswith("\n")
    assert len(train) == pytest.approx(0.8 * len(text), abs=70)  # within a line of 80%
    vocabulary = split.info["vocabulary"]
    assert vocabulary[0] == "\ufffd" and vocabulary.count("\ufffd") == 1  # a real U+FFFD gets no second id
    assert set(vocabulary[1:]) == set(train) - {"\ufffd"}  # from the training part only
    assert "é" not in vocabulary and split.info["source"] == str(path)
    assert split.x_train.shape[1] == 100 and split.info["split"].startswith("by position")


def test_char_lm_holds_out_whole_files_of_a_folder(tmp_path):
    for k in range(5):
        (tmp_path / f"part{k}.txt").write_text(plain_text(20, offset=k), encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "notes.md").write_text("not read")
    recipe = get_recipe("char-lm")
    with pytest.warns(DataWarning, match="left out 1 empty"):
        split = recipe.load_data(recipe.config(), data=str(tmp_path))
    info = split.info
    assert len(info["test_files"]) == len(info["validation_files"]) == 1
    assert not set(info["test_files"]) & set(info["validation_files"])
    test_file = (tmp_path / info["test_files"][0]).read_text()
    assert split.extra["test_text"] == test_file and test_file not in split.extra["train_text"]
    with pytest.warns(DataWarning):
        again = recipe.load_data(recipe.config(), data=str(tmp_path))
    assert again.info == info and np.array_equal(again.x_test, split.x_test)  # seeded


def test_char_lm_folder_of_two_files_is_split_by_position(tmp_path):
    (tmp_path / "a.txt").write_text(plain_text(30))
    (tmp_path / "b.txt").write_text(plain_text(30, offset=2))
    split = get_recipe("char-lm").load_data(get_recipe("char-lm").config(), data=str(tmp_path))
    assert "2 files joined" in split.info["split"] and "test_files" not in split.info


def test_char_lm_held_out_files_shorter_than_a_window_fall_back_to_the_tail(tmp_path):
    for name, lines in (("a", 1), ("b", 30), ("c", 1), ("d", 30)):  # seed 0 holds out c (test) and a
        (tmp_path / f"{name}.txt").write_text(plain_text(lines))
    split = get_recipe("char-lm").load_data(get_recipe("char-lm").config(), data=str(tmp_path))
    assert "4 files joined" in split.info["split"] and "test_files" not in split.info
    assert (tmp_path / "d.txt").read_text().endswith(split.extra["test_text"])  # the tail of the last file


def test_char_lm_fine_tuning_keeps_the_parent_vocabulary(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(plain_text(40) + "Ω\n" * 5, encoding="utf-8")
    recipe = get_recipe("char-lm")
    parent = "\ufffd\n :.abcdefghijklmnopqrstuvwxyz"
    split = recipe.load_data({**recipe.config(), "parent_data": {"vocabulary": parent}}, data=str(path))
    assert split.info["vocabulary"] == parent and split.info["n_classes"] == len(parent)
    text = path.read_text()
    unknown = sum(char not in parent[1:] for char in text)
    assert split.info["oov_rate"] == pytest.approx(unknown / len(text))  # over every part


@pytest.mark.slow
def test_char_lm_trains_on_a_file_and_scores_the_baselines(tmp_path, capsys):
    path = tmp_path / "story.txt"
    path.write_text(plain_text(50), encoding="utf-8")
    out = tmp_path / "run"
    code, printed, err = train_cli(capsys, "char-lm", path, out)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) == {"nats_per_char", "bits_per_char"}
    assert set(metrics["baselines"]) == {"unigram", "5-gram (interpolated absolute discounting)"}
    assert json.loads((out / "config.json").read_text())["data_options"] == {"data": str(path)}
    code, printed, _ = run_cli(capsys, "evaluate", out)
    recomputed = json.loads(printed.strip().splitlines()[-1])
    assert code == 0 and recomputed["baselines"] == metrics["baselines"]
    assert recomputed["test"]["nats_per_char"] == pytest.approx(metrics["test"]["nats_per_char"], rel=1e-5)


def _char_lm_bad_data(tmp_path):
    (tmp_path / "empty.txt").write_text(" \n\n")
    (tmp_path / "no_txt").mkdir()
    (tmp_path / "no_txt" / "readme.md").write_text(plain_text(50))
    (tmp_path / "latin1.txt").write_bytes(plain_text(7).encode() + "café\n".encode("latin-1"))
    (tmp_path / "short.txt").write_text(plain_text(5))
    return {
        "missing.txt": ("missing.txt", "no such file or folder"),
        "empty.txt": ("empty.txt", "is empty"),
        "no_txt": ("no_txt", "holds no .txt files"),
        "latin1.txt": ("latin1.txt:8:", "byte 0xe9 is not UTF-8"),
        "short.txt": ("short.txt", "needs at least 101; give about 1,010 characters"),
    }


@pytest.mark.parametrize("bad", ["missing.txt", "empty.txt", "no_txt", "latin1.txt", "short.txt"])
def test_char_lm_bad_data_is_one_error_line(bad, tmp_path, capsys):
    where, message = _char_lm_bad_data(tmp_path)[bad]
    out = tmp_path / "run"
    code, _, err = train_cli(capsys, "char-lm", tmp_path / bad, out)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert where in lines[0] and message in lines[0]
    assert not (out / "metrics.json").exists()


# ------------------------------------------------------------------ text-classifier


def test_text_classifier_reads_every_layout_alike(tmp_path):
    from zoo.models.text_classifier.labelled import read_labelled

    rows = labelled_rows(4)
    expected = ([t for t, _ in rows], [y for _, y in rows])
    write_csv(tmp_path / "d.csv", rows)
    write_csv(tmp_path / "d.tsv", rows, delimiter="\t")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"label": y, "text": t}) + "\n\n" for t, y in rows))
    for k, (text, label) in enumerate(rows):
        (tmp_path / "folder" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / label / f"{k:03d}.txt").write_text(text + "\n")
    for name in ("d.csv", "d.tsv", "d.jsonl"):
        assert read_labelled(tmp_path / name) == expected, name
    texts, labels = read_labelled(tmp_path / "folder")  # class by class, files in name order
    assert sorted(zip(texts, labels)) == sorted(rows)


def test_text_classifier_split_keeps_every_class_in_every_part(tmp_path):
    rows = labelled_rows(10) + [(f"a rare topic number {k}", "rare") for k in range(3)]
    path = write_csv(tmp_path / "d.csv", rows)
    recipe = get_recipe("text-classifier")
    split = recipe.load_data(recipe.config(chunk=0), data=str(path))
    info = split.info
    assert info["classes"] == ["business", "rare", "sport", "weather"] and info["source"] == str(path)
    for part in (split.y_train, split.y_val, split.y_test):
        assert set(part) == {0, 1, 2, 3}
    assert (info["n_train"], info["n_val"], info["n_test"]) == (22, 4, 7)
    train_words = {w for k in split.extra["train"] for w in split.extra["texts"][k].split()}
    assert set(info["vocabulary"][2:]) <= train_words  # from the training part only
    baselines = recipe.baselines(split)
    assert list(baselines) == ["majority_class", "tfidf_logistic_regression"]
    assert baselines["majority_class"]["accuracy"] == pytest.approx(2 / 7)  # 'business', first of three ties


def test_text_classifier_fine_tuning_keeps_the_parent_vocabulary(tmp_path):
    path = write_csv(tmp_path / "d.csv", labelled_rows(4))
    recipe = get_recipe("text-classifier")
    parent = ["", "[UNK]", "the", "team", "match", "shares", "rain"]
    split = recipe.load_data({**recipe.config(), "parent_data": {"vocabulary": parent}}, data=str(path))
    assert split.info["vocabulary"] == parent
    words = [w for t, _ in labelled_rows(4) for w in t.split()]
    unknown = sum(w not in parent for w in words)
    assert split.info["oov_rate"] == pytest.approx(unknown / len(words))
    assert split.x_train.max() < len(parent)


@pytest.mark.slow
def test_text_classifier_trains_on_a_csv_with_both_baselines(tmp_path, capsys):
    path = write_csv(tmp_path / "news.csv", labelled_rows(8))
    out = tmp_path / "run"
    code, printed, err = train_cli(capsys, "text-classifier", path, out)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy"}
    assert set(metrics["baselines"]) == {"majority_class", "tfidf_logistic_regression"}
    assert "majority_class" in printed
    code, printed, _ = run_cli(capsys, "predict", out, "--text", "the coach praised the team")
    assert code == 0 and printed.split("\t")[0] in TOPICS


def _classifier_bad_data(tmp_path):
    good = labelled_rows(3)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "no_label.csv").write_text("text,category\nhello,a\n")
    (tmp_path / "no_text.tsv").write_text("body\tlabel\nhello\ta\n")
    write_csv(tmp_path / "one_class.csv", [(t, "news") for t, _ in good])
    write_csv(tmp_path / "rare.csv", good + [("only twice", "rare"), ("twice only", "rare")])
    (tmp_path / "latin1.csv").write_bytes(b"text,label\nfine,a\n" + "caf\xe9,b\n".encode("latin-1"))
    (tmp_path / "bad.jsonl").write_text('{"text": "fine", "label": "a"}\n{"text": "broken", label: b}\n')
    (tmp_path / "no_field.jsonl").write_text('{"text": "fine"}\n')
    write_csv(tmp_path / "empty_text.csv", good[:2] + [("  ", "sport")] + good[2:])
    (tmp_path / "fields.csv").write_text("text,label\nhello, world,a\n")
    (tmp_path / "data.xlsx").write_text("x")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    (tmp_path / "classes" / "a" / "one.txt").write_text("")
    return {
        "missing.csv": ("missing.csv", "no such file or folder"),
        "empty.csv": ("empty.csv", "is empty"),
        "no_label.csv": ("no_label.csv", "no 'label' column (columns: text, category)"),
        "no_text.tsv": ("no_text.tsv", "no 'text' column"),
        "one_class.csv": ("one_class.csv", "every example has the label 'news'"),
        "rare.csv": ("rare.csv", "too few examples in class 'rare' (2); each class needs at least 3"),
        "latin1.csv": ("latin1.csv:3:", "byte 0xe9 is not UTF-8"),
        "bad.jsonl": ("bad.jsonl:2:", "not JSON"),
        "no_field.jsonl": ("no_field.jsonl:1:", "no 'label' field"),
        "empty_text.csv": ("empty_text.csv:4:", "empty text"),
        "fields.csv": ("fields.csv:2:", "3 fields where the header has 2"),
        "data.xlsx": ("data.xlsx", "expected a .csv, .tsv or .jsonl file"),
        "classes": ("one.txt", "empty text"),
    }


@pytest.mark.parametrize("bad", ["missing.csv", "empty.csv", "no_label.csv", "no_text.tsv", "one_class.csv",
                                 "rare.csv", "latin1.csv", "bad.jsonl", "no_field.jsonl", "empty_text.csv",
                                 "fields.csv", "data.xlsx", "classes"])
def test_text_classifier_bad_data_is_one_error_line(bad, tmp_path, capsys):
    where, message = _classifier_bad_data(tmp_path)[bad]
    out = tmp_path / "run"
    code, _, err = train_cli(capsys, "text-classifier", tmp_path / bad, out)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert where in lines[0] and message in lines[0]
    assert not (out / "metrics.json").exists()


def test_a_text_of_punctuation_alone_is_refused(tmp_path):
    from zoo.models.text_classifier.labelled import read_labelled

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "?!...", "label": "a"}) + "\n")
    with pytest.raises(UserError, match=r"d.jsonl:1: the text '\?!\.\.\.' has no words"):
        read_labelled(path)
