"""``zoo train tagger --data FILE`` (CoNLL-U or word/TAG lines) and ``zoo train g2p --data FILE``
(a CMUdict-style lexicon): readers, splits, the fine-tuning branch, the tagger's character
features, a quick training each, and every bad file as one error line naming the file."""

import json
import random
import warnings

import numpy as np
import pytest

import zoo
from conftest import run_cli
from zoo.errors import UserError

# A toy language whose tags show in the suffixes: what character features are for.
STEMS = ["bor", "kal", "mip", "tes", "dun", "fav", "gol", "hir", "jun", "lep", "nos", "pag", "rut", "sil"]
SUFFIXES = {"NOUN": "o", "VERB": "ar", "ADJ": "ix"}
PATTERN = ["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]
XPOS = {"DET": "DT", "ADJ": "JJ", "NOUN": "NN", "VERB": "VB", "PUNCT": "."}


def toy_sentences(count, seed=0):
    rng = random.Random(seed)
    words = {"DET": lambda: rng.choice(["la", "el"]), "PUNCT": lambda: "."}
    for tag, suffix in SUFFIXES.items():
        words[tag] = lambda suffix=suffix: rng.choice(STEMS) + suffix
    return [[(words[tag](), tag) for tag in PATTERN] for _ in range(count)]


def write_conllu(path, sentences):
    """CoNLL-U with comments, a multiword range on the first sentence and an empty node on the second."""
    lines = []
    for number, sentence in enumerate(sentences):
        lines += [f"# sent_id = {number}", "# text = " + " ".join(w for w, _ in sentence)]
        for k, (word, tag) in enumerate(sentence, 1):
            if number == 0 and k == 1:
                lines.append("1-2\tlabor\t_\t_\t_\t_\t_\t_\t_\t_")
            if number == 1 and k == 3:
                lines.append("2.1\tghost\tghost\tNOUN\tNN\t_\t_\t_\t0:root\t_")
            lines.append(f"{k}\t{word}\t{word}\t{tag}\t{XPOS[tag]}\t_\t0\troot\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_slashed(path, sentences):
    path.write_text("".join(" ".join(f"{w}/{t}" for w, t in s) + "\n" for s in sentences), encoding="utf-8")
    return path


def write_lexicon(path, count=60):
    """Upper-case words with stress-marked phonemes (kept as written), a variant and a comment."""
    rng = random.Random(0)
    sounds = {"b": "B", "k": "K", "m": "M", "t": "T", "d": "D", "s": "S", "l": "L", "n": "N", "r": "R"}
    vowels = {"a": "AA1", "i": "IY1", "o": "OW1", "u": "UW0"}
    lines = [";;; toy lexicon"]
    for _ in range(count):
        letters = [rng.choice(list(sounds)) + rng.choice(list(vowels)) for _ in range(rng.randint(1, 3))]
        word = "".join(letters).upper()
        lines.append(f"{word}  " + " ".join(f"{sounds[p[0]]} {vowels[p[1]]}" for p in letters))
    lines.append("BOTA(2)  B OW0 T AH0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tagger():
    return zoo.get_recipe("tagger")


def g2p():
    return zoo.get_recipe("g2p")


# -- readers -------------------------------------------------------------------------------------
def test_conllu_reader_takes_upos_or_xpos_and_skips_ranges_and_empty_nodes(tmp_path):
    from zoo.models.tagger.tagged_text import read_tagged

    sentences = toy_sentences(3)
    path = write_conllu(tmp_path / "toy.conllu", sentences)
    assert read_tagged(path) == sentences
    assert read_tagged(path, "xpos") == [[(w, XPOS[t]) for w, t in s] for s in sentences]
    # Sniffed by content too, whatever the name.
    renamed = tmp_path / "toy.txt"
    renamed.write_bytes(path.read_bytes())
    assert read_tagged(renamed) == sentences


def test_slash_tagged_lines_split_at_the_last_slash(tmp_path):
    from zoo.models.tagger.tagged_text import read_tagged

    path = tmp_path / "tagged.txt"
    path.write_text("\ufeff1/2/CD cup/NN\n\n  a/b/c//SYM  http://x.org/URL \n", encoding="utf-8")
    assert read_tagged(path) == [[("1/2", "CD"), ("cup", "NN")], [("a/b/c/", "SYM"), ("http://x.org", "URL")]]


def test_random_split_is_seeded_80_10_10_and_a_treebank_keeps_its_own(tmp_path):
    from zoo.models.tagger.tagged_text import read_split

    sentences = toy_sentences(50)
    path = write_slashed(tmp_path / "toy.txt", sentences)
    train, val, test, how = read_split(path)
    assert (len(train), len(val), len(test)) == (40, 5, 5) and "random" in how
    assert read_split(path)[:3] == (train, val, test)
    assert sorted(map(str, train + val + test)) == sorted(map(str, sentences))

    for part, count in (("train", 8), ("dev", 2), ("test", 3)):
        write_conllu(tmp_path / f"xx_toy-ud-{part}.conllu", toy_sentences(count, seed=len(part)))
    train, val, test, how = read_split(tmp_path / "xx_toy-ud-train.conllu")
    assert (len(train), len(val), len(test)) == (8, 2, 3) and "xx_toy-ud-dev.conllu" in how


# -- tagger ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_tagger_trains_on_own_conllu_with_character_features(tmp_path, capsys):
    path = write_conllu(tmp_path / "toy.conllu", toy_sentences(80))
    out = tmp_path / "run"
    code, printed, err = run_cli(capsys, "train", "tagger", "--data", path, "--quick", "--out", out,
                                 "--set", "tag_field=xpos")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "oov_accuracy", "oov_rate"} <= set(metrics["test"])
    assert metrics["baselines"]["most_frequent_tag"]["accuracy"] > 0.5
    data = json.loads((out / "config.json").read_text())["config"]["data"]
    assert sorted(data["tags"]) == sorted(XPOS.values()) and data["source"] == str(path)
    assert (data["n_train"], data["n_val"], data["n_test"]) == (64, 8, 8)
    assert "r" in data["characters"] and data["max_word_chars"] == 11
    assert np.load(out / "test_inputs.npy").shape[1] == 50 * 12  # per word: its id and 11 characters

    code, printed, err = run_cli(capsys, "evaluate", out)
    assert code == 0, err
    assert json.loads(printed.strip().splitlines()[-1]) == metrics
    code, printed, err = run_cli(capsys, "predict", out, "--text", "la borix kalo tesar .")
    assert code == 0, err
    assert [token.rsplit("/", 1)[1] in XPOS.values() for token in printed.split()] == [True] * 5

    # Fine-tuning on word/TAG lines of new words: the parent's vocabularies, so every layer fits.
    child = write_slashed(tmp_path / "more.txt", [[(w if t in ("DET", "PUNCT") else w + "n", XPOS[t]) for w, t in s]
                                                  for s in toy_sentences(20, seed=1)])
    code, _, err = run_cli(capsys, "train", "tagger", "--data", child, "--quick", "--init", out, "--out", tmp_path / "c")
    assert code == 0, err
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["config"]["data"]["vocabulary"] == data["vocabulary"]
    assert config["config"]["data"]["oov_rate"] == pytest.approx(4 / 7)  # nouns, verbs, adjectives are new
    assert config["init_transfer"]["fresh"] == []


def test_character_rows_pack_each_words_id_and_characters():
    from zoo.models.tagger import TaggerInput, clip_word

    data = {"vocabulary": ["", "[UNK]", "la", "boro"], "characters": ["", "[UNK]", "o", "b", "r", "l", "a"],
            "max_word_chars": 4}
    rows = TaggerInput(data).encode([["la", "boro", "zibo"], ["boro"]], 3)
    assert rows.shape == (2, 15) and rows.dtype == np.int32
    assert rows[0].tolist() == [2, 5, 6, 0, 0, 3, 3, 2, 4, 2, 1, 1, 1, 3, 2]
    assert rows[1].tolist() == [3, 3, 2, 4, 2] + [0] * 10
    assert TaggerInput(data).word_ids(rows).tolist() == [[2, 3, 1], [3, 0, 0]]
    assert clip_word("internationalisation", 6) == "intion"
    words_only = {"vocabulary": data["vocabulary"]}
    assert TaggerInput(words_only).encode([["la", "zibo"]], 3).tolist() == [[2, 1, 0]]


def test_a_stored_config_without_char_features_builds_a_words_only_network():
    """Runs trained before the option existed stored no ``char_features``: they meant whole words."""
    from zoo.checkpoints import load_model

    stored = json.loads((tagger().released / "config.json").read_text())["config"]
    assert stored["char_features"] is True and "characters" in stored["data"]  # the release reads characters
    released = load_model(tagger().released)
    older = {k: v for k, v in stored.items() if k != "char_features"}
    built = tagger().build(older)
    assert len(built.layers) < len(released.layers)  # no character embedding or convolution
    assert not [layer for layer in built.layers if "conv" in type(layer).__name__.lower()]
    assert [layer for layer in released.layers if "conv" in type(layer).__name__.lower()]
    assert "char_convolution" in [layer.name for layer in tagger().build(
        {**tagger().config(), "data": {"vocabulary": ["", "[UNK]", "a"], "characters": ["", "[UNK]", "a"]}}).layers]


def test_tagger_fine_tuning_reuses_the_parent_vocabularies(tmp_path):
    path = write_slashed(tmp_path / "toy.txt", toy_sentences(30))
    parent = {"vocabulary": ["", "[UNK]", "la", "el", ".", "boro"], "characters": ["", "[UNK]", "o", "b"]}
    split = tagger().load_data({**tagger().config(), "parent_data": parent}, data=path)
    assert split.info["vocabulary"] == parent["vocabulary"]
    assert split.info["characters"] == parent["characters"]
    words = [w for s in toy_sentences(30) for w, _ in s]
    assert split.info["oov_rate"] == pytest.approx(sum(w not in parent["vocabulary"] for w in words) / len(words))
    assert split.info["tags"][0] in ("DET", "NOUN")  # tags still come from the user's data
    assert "oov_rate" not in tagger().load_data(tagger().config(), data=path).info
    words_only = tagger().load_data({**tagger().config(), "parent_data": {"vocabulary": parent["vocabulary"]}},
                                    data=path)  # a parent without characters: its child neither
    assert "characters" not in words_only.info and words_only.x_train.shape[1] == 50


@pytest.fixture
def bad_tagged(tmp_path):
    good = toy_sentences(20)
    write_slashed(tmp_path / "empty.txt", [])
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "untagged.txt").write_text("la/DET boro/NOUN\nla/DET boro tesar/VERB\n", encoding="utf-8")
    (tmp_path / "notag.txt").write_text("la/DET boro/\n", encoding="utf-8")
    write_slashed(tmp_path / "one_tag.txt", [[(w, "X") for w, _ in s] for s in good])
    write_slashed(tmp_path / "few.txt", good[:4])
    text = write_slashed(tmp_path / "latin1.txt", good).read_bytes()
    (tmp_path / "latin1.txt").write_bytes(text + "café/NOUN\n".encode("latin-1"))
    conllu = write_conllu(tmp_path / "good.conllu", good[:12]).read_text(encoding="utf-8").splitlines()
    (tmp_path / "columns.conllu").write_text("\n".join(conllu[:4] + ["3\tboro\tNOUN"] + conllu[4:]) + "\n")
    (tmp_path / "bad_id.conllu").write_text("\n".join(conllu[:3] + ["x" + conllu[3]] + conllu[4:]) + "\n")
    (tmp_path / "no_upos.conllu").write_text(
        "\n".join(conllu[:5] + [conllu[5].replace("\tNOUN\t", "\t_\t")] + conllu[6:]) + "\n")
    return tmp_path


@pytest.mark.parametrize("name, args, message", [
    ("missing.txt", (), "no such tagged text file: {d}/missing.txt"),
    ("empty.txt", (), "{d}/empty.txt holds no tagged sentences"),
    ("blank.txt", (), "{d}/blank.txt holds no tagged sentences"),
    ("untagged.txt", (), "{d}/untagged.txt:2: 'boro' is not word/TAG"),
    ("notag.txt", (), "{d}/notag.txt:1: 'boro/' is not word/TAG"),
    ("one_tag.txt", (), "{d}/one_tag.txt: every token is tagged 'X'"),
    ("few.txt", (), "{d}/few.txt holds 4 sentence(s); an 80/10/10 split needs at least 10"),
    ("latin1.txt", (), "{d}/latin1.txt:21: byte 0xe9 is not UTF-8"),
    ("columns.conllu", (), "{d}/columns.conllu:5: a CoNLL-U token line has 10 tab-separated columns, this one has 3"),
    ("bad_id.conllu", (), "{d}/bad_id.conllu:4: 'x1' is not a CoNLL-U token ID"),
    ("no_upos.conllu", (), "{d}/no_upos.conllu:6:"),
    ("good.conllu", ("--set", "tag_field=lemma"), "unknown tag_field 'lemma'; choose from: upos, xpos"),
])
def test_bad_tagged_files_are_one_line_errors(name, args, message, bad_tagged, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "tagger", "--data", bad_tagged / name, "--quick", "--out", out, *args)
    assert code == 2, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: ")
    assert message.format(d=bad_tagged) in err
    assert not out.exists()


# -- g2p -------------------------------------------------------------------------------------------
def test_lexicon_reader_groups_variants_and_keeps_letters_and_stress_as_written(tmp_path):
    from zoo.models.g2p.lexicon import read_lexicon

    path = tmp_path / "lex.txt"
    path.write_text(";;; comment\nREAD  R IY1 D\nread  R EH1 D\n\nREAD(2)  R EH1 D\nREAD(3)  R IY1 D\n"
                    "ÉTÉ\tE T E\n", encoding="utf-8")
    assert read_lexicon(path) == [("READ", [("R", "IY1", "D"), ("R", "EH1", "D")]), ("read", [("R", "EH1", "D")]),
                                  ("ÉTÉ", [("E", "T", "E")])]


@pytest.mark.slow
def test_g2p_trains_on_own_lexicon(tmp_path, capsys):
    path = write_lexicon(tmp_path / "toy.dict")
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "g2p", "--data", path, "--quick", "--out", out)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"wer", "per"} <= set(metrics["test"]) and "nearest_spelling" in metrics["baselines"]
    data = json.loads((out / "config.json").read_text())["config"]["data"]
    assert set(data["letters"][2:]) <= set("BKMTDSLNRAIOU") and "AA1" in data["phonemes"]
    words = data["n_train"] + data["n_val"] + data["n_test"]
    assert data["n_val"] == data["n_test"] == round(0.1 * words)  # 10% each: the recipe's 200 is more
    code, printed, err = run_cli(capsys, "predict", out, "--text", "bota")
    assert code == 0, err
    assert printed.startswith("BOTA\t")  # typed in lower case, spelt as the lexicon spells it


def test_g2p_fine_tuning_reuses_the_parent_letters_and_covering_phonemes(tmp_path):
    from zoo.models.g2p import END, START
    from zoo.models.g2p.lexicon import read_lexicon

    path = write_lexicon(tmp_path / "toy.dict")
    letters = ["", "[UNK]", *"BKMTDSLNRAIO"]  # no U
    phonemes = ["", "[UNK]", START, END, "AA1", "AH0", "B", "D", "IY1", "K", "L", "M", "N", "OW0", "OW1", "R", "S",
                "T", "UW0", "ZH"]
    config = {**g2p().config(**g2p().quick)}
    split = g2p().load_data({**config, "parent_data": {"letters": letters, "phonemes": phonemes}}, data=path)
    assert split.info["letters"] == letters and split.info["phonemes"] == phonemes
    spelt = "".join(word for word, _ in read_lexicon(path))
    assert split.info["oov_rate"] == pytest.approx(spelt.count("U") / len(spelt))
    narrower = [p for p in phonemes if p != "UW0"]
    split = g2p().load_data({**config, "parent_data": {"letters": letters, "phonemes": narrower}}, data=path)
    assert "UW0" in split.info["phonemes"] and split.info["phonemes"] != narrower


@pytest.fixture
def bad_lexicons(tmp_path):
    good = write_lexicon(tmp_path / "good.dict").read_text(encoding="utf-8").splitlines()
    (tmp_path / "empty.dict").write_text("")
    (tmp_path / "comments.dict").write_text(";;; nothing but\n;;; comments\n")
    (tmp_path / "bare.dict").write_text("\n".join(good[:5] + ["KATO"] + good[5:]) + "\n")
    (tmp_path / "few.dict").write_text("\n".join(good[:6]) + "\n")
    (tmp_path / "latin1.dict").write_bytes(("\n".join(good[:3]) + "\n").encode() + "CAFÉ  K AE F EY\n".encode("latin-1"))
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("missing.dict", "no such lexicon: {d}/missing.dict"),
    ("empty.dict", "{d}/empty.dict holds no entries"),
    ("comments.dict", "{d}/comments.dict holds no entries"),
    ("bare.dict", "{d}/bare.dict:6: 'KATO' has no phonemes"),
    ("few.dict", "{d}/few.dict has 5 usable word(s) of at most 16 letters and 16 phonemes; training, "
                 "validation and test need at least 10"),
    ("latin1.dict", "{d}/latin1.dict:4: byte 0xc9 is not UTF-8"),
])
def test_bad_lexicons_are_one_line_errors(name, message, bad_lexicons, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "g2p", "--data", bad_lexicons / name, "--quick", "--out", out)
    assert code == 2, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: ")
    assert message.format(d=bad_lexicons) in err
    assert not out.exists()


def test_long_words_are_left_out_with_a_warning(tmp_path):
    from zoo.models.g2p.lexicon import read_entries
    from zoo.data.series import DataWarning

    path = write_lexicon(tmp_path / "toy.dict")
    with path.open("a") as handle:
        handle.write("BOTABOTABOTABOTAB  B OW1 T AH0\n")
    with pytest.warns(DataWarning, match=r"toy.dict: 1 of \d+ words left out, longer than 16 letters"):
        entries = read_entries(path, 16, 16)
    assert "BOTABOTABOTABOTAB" not in dict(entries)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone, no warning before it
        with pytest.raises(UserError, match="has 0 usable word.s. of at most 1 letters and 16 phonemes"):
            read_entries(path, 1, 16)
