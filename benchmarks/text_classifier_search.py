"""A small search for the text-classifier's settings, judged on the VALIDATION split only.

Each candidate trains through ``zoo.training.train`` into a scratch folder; the score is the
validation accuracy (and loss) at the epoch with the lowest validation loss, the epoch whose
weights the checkpoint keeps. Test metrics are written by training but never read here.
``--ablate`` also trains the chosen network without its LSTM branch and without its
bag-of-words branch. Results go to ``benchmarks/results/text_classifier_search.json``.
The model released before (no bag of words, the first 500 words, dropout 0.3) had validation
accuracy 0.9575 at its lowest validation loss, 0.0989 (its history.csv); the candidates below
set the bag of words, the words read, the chunks and dropout; the rest are the recipe's defaults
(64 units, a 64-wide embedding, learning rate 2e-3, 15 epochs, patience 4, seed 0).

    python -m benchmarks.text_classifier_search [--only NAME ...] [--ablate NAME]
"""

import argparse
import csv
import json
import time
from pathlib import Path

CANDIDATES = {
    "bow 64, len 1000, chunks 100": {"bow": 64, "max_length": 1000, "chunk": 100, "dropout": 0.3},
    "bow 64, len 1000, whole articles": {"bow": 64, "max_length": 1000, "chunk": 0, "dropout": 0.3},
    "bow 64, len 1000, chunks 100, dropout 0.5": {"bow": 64, "max_length": 1000, "chunk": 100, "dropout": 0.5},
}
RESULTS = Path(__file__).parent / "results" / "text_classifier_search.json"


def best_validation(run):
    rows = list(csv.DictReader(open(run / "history.csv")))
    best = min(rows, key=lambda row: float(row["val_loss"]))
    return {"val_accuracy": round(float(best["val_accuracy"]), 4), "val_loss": round(float(best["val_loss"]), 4),
            "best_epoch": int(best["epoch"]) + 1, "epochs_run": len(rows)}


def bow_only(self, config):
    """The ablation without the LSTM: the bag-of-words branch alone before the classes."""
    import keras

    data = config.get("data", {})
    inputs = keras.Input((None,), dtype="int32", name="inputs")
    words = keras.layers.Embedding(len(data.get("vocabulary", ())) or config["max_tokens"], config["bow"],
                                   mask_zero=True, name="bow_embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="bag_of_words")(words)
    x = keras.layers.Dropout(config["dropout"], name="dropout")(x)
    outputs = keras.layers.Dense(data.get("n_classes", 5), activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="bag_of_words")


def tfidf_validation():
    """The TF-IDF + logistic regression baseline's accuracy on the validation split."""
    import numpy as np

    from zoo.models.text_classifier import _tfidf_predictions
    from zoo.models.text_classifier.bbc import articles, stratified_split

    texts, labels = articles()
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    train, val, _ = stratified_split(y, seed=0, at_least=1)
    return round(float(np.mean(_tfidf_predictions(texts, y, train, val) == y[val])), 4)


def run(name, overrides, work, patch=None):
    from zoo.registry import get_recipe
    from zoo.training import train

    recipe = type(get_recipe("text-classifier"))
    original = recipe.build
    if patch:
        recipe.build = patch
    try:
        out = work / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        started = time.perf_counter()
        train("text-classifier", out, force=True, verbose=0, **overrides)
        seconds = round(time.perf_counter() - started, 1)
    finally:
        recipe.build = original
    return {"settings": overrides, **best_validation(out), "seconds": seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--ablate")
    parser.add_argument("--work", default="/tmp/text_classifier_search")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("tfidf_logistic_regression validation accuracy", tfidf_validation())
    todo = {k: v for k, v in CANDIDATES.items() if not args.only or k in args.only}
    if args.ablate:
        chosen = CANDIDATES[args.ablate]
        todo = {f"{args.ablate} without LSTM": (chosen, bow_only),
                f"{args.ablate} without bow": ({**chosen, "bow": 0}, None)}
    for name, spec in todo.items():
        overrides, patch = spec if isinstance(spec, tuple) else (spec, None)
        results.setdefault("candidates", {})[name] = run(name, overrides, Path(args.work), patch)
        print(name, results["candidates"][name], flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
