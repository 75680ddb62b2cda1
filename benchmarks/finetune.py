"""Fine-tuning against training from scratch on a small data set, with ``zoo train --init``.

The small data set is a user file built from BBC News articles that the released
text-classifier never trained on (its own test split): a CSV of ``--articles`` of them, which
``zoo train text-classifier --data`` splits 70/10/20 as it does any user file. Both runs use the
recipe's defaults and the same seed; the only difference is ``--init text-classifier``.

    python benchmarks/finetune.py                 # 300 articles; a few minutes on 2 cores
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def unseen_articles(count, seed=0):
    """``count`` articles from the released model's test split, stratified by class."""
    import numpy as np

    from zoo.models.text_classifier.bbc import articles, stratified_split

    texts, labels = articles()
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    _, _, test = stratified_split(y, seed=0)  # the released checkpoint's split (models/text_classifier.py)
    rng = np.random.default_rng(seed)
    picked = rng.choice(test, size=min(count, len(test)), replace=False)
    return [(texts[k], labels[k]) for k in sorted(picked)]


def run(count, out):
    from zoo.training import train

    rows = unseen_articles(count)
    results = {"articles": len(rows), "runs": {}}
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "unseen_bbc.csv"
        with open(data, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        for name, init in (("from scratch", None), ("--init text-classifier", "text-classifier")):
            started = time.perf_counter()
            metrics = train("text-classifier", Path(scratch) / name.replace(" ", "_"), seed=0, verbose=0,
                            init=init, data_options={"data": str(data)})
            config = json.loads((Path(scratch) / name.replace(" ", "_") / "config.json").read_text())
            results["runs"][name] = {
                "accuracy": metrics["test"]["accuracy"],
                "baselines": {k: v["accuracy"] for k, v in metrics["baselines"].items()},
                "seconds": round(time.perf_counter() - started, 1),
                "epochs": config["training"]["epochs_run"],
                "split": config["config"]["data"]["split"],
                "oov_rate": config["config"]["data"].get("oov_rate"),
            }
    out.mkdir(parents=True, exist_ok=True)
    (out / "finetune.json").write_text(json.dumps(results, indent=1))
    return results


def markdown(results):
    lines = [f"Small data: {results['articles']} BBC articles the released text-classifier never trained on.", "",
             "| run | test accuracy | majority class | TF-IDF + LR | epochs | seconds |", "| --- | --- | --- | --- | --- | --- |"]
    for name, row in results["runs"].items():
        base = row["baselines"]
        lines.append(f"| {name} | {row['accuracy']:.3f} | {base.get('majority_class', 0):.3f} | "
                     f"{base.get('tfidf_logistic_regression', 0):.3f} | {row['epochs']} | {row['seconds']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    results = run(args.articles, Path(args.out))
    text = markdown(results)
    (Path(args.out) / "finetune.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
