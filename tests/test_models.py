"""Generated from the registry: every model quick-trains on its real data, saves, loads, predicts
the right shapes, reports its metric next to its baselines, and its released checkpoint (if one
ships) reproduces the numbers in its card."""

import json

import numpy as np
import pytest

import zoo
from conftest import run_cli
from zoo.checkpoints import load_model

pytestmark = pytest.mark.slow  # quick trainings of the seven models and their released checkpoints' exports

MODELS = zoo.list_models()


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    from zoo.training import train

    runs = {}
    for name in MODELS:
        out = tmp_path_factory.mktemp("quick") / name
        train(name, out, quick=True, verbose=0)
        runs[name] = out
    return runs


@pytest.mark.parametrize("name", MODELS)
def test_quick_training_makes_a_complete_run(name, quick_runs):
    run = quick_runs[name]
    recipe = zoo.get_recipe(name)
    metrics = json.loads((run / "metrics.json").read_text())
    assert recipe.metric in metrics["test"] and metrics["baselines"]
    model = load_model(run)
    inputs = np.load(run / "test_inputs.npy")
    outputs = np.asarray(model(inputs))
    assert outputs.shape[0] == len(inputs) and np.isfinite(outputs).all()
    # cross-validation (ts-classifier) may choose fewer epochs than the most it was given
    assert 1 <= json.loads((run / "config.json").read_text())["config"]["epochs"] <= recipe.quick["epochs"]
    # the release's own figures and history belong on the released card only, never on a user's run
    if recipe.release_notes():
        assert recipe.release_notes() not in (run / "card.md").read_text()


@pytest.mark.parametrize("name", [n for n in MODELS if zoo.get_recipe(n).released])
def test_released_checkpoint_matches_its_card(name, capsys):
    released = zoo.get_recipe(name).released
    stored = json.loads((released / "metrics.json").read_text())
    metric = zoo.get_recipe(name).metric
    assert f"{stored['test'][metric]:.4g}" in (released / "card.md").read_text()
    assert zoo.get_recipe(name).release_notes() in (released / "card.md").read_text()
    code, out, err = run_cli(capsys, "evaluate", name)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["test"][metric] == pytest.approx(stored["test"][metric], rel=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_exports_to_native_lstm_kernels(name, quick_runs, tmp_path):
    """ONNX: one native LSTM node per recurrent layer (a Bidirectional is one node), never a Loop.
    TFLite: one fused op per direction; the only layers allowed to stay on WHILE are those the
    fused kernel cannot express (a mask or an initial state reaching the layer, returned states),
    each reported."""
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint

    import keras

    report = export_checkpoint(quick_runs[name], tmp_path / "e", parse_formats("onnx,tflite"), evaluate=False)
    assert report["ok"], report
    layers = load_model(quick_runs[name]).layers
    single = sum(isinstance(layer, keras.layers.RNN) for layer in layers)
    both_ways = sum(isinstance(layer, keras.layers.Bidirectional) for layer in layers)
    onnx_ops, tflite = report["formats"]["onnx"]["ops"], report["formats"]["tflite"]
    assert onnx_ops.get("LSTM") == single + both_ways and "Loop" not in onnx_ops and "Scan" not in onnx_ops
    fused, fallback = tflite["fused_lstm"], tflite["while_fallback"]
    assert len(fused) + len(fallback) == single + 2 * both_ways
    assert all(any(why in reason for why in ("mask", "initial state", "return_state")) for reason in fallback), fallback
    assert tflite["ops"].get("UNIDIRECTIONAL_SEQUENCE_LSTM", 0) == len(fused)
    assert ("WHILE" in tflite["ops"]) == bool(fallback)
    assert not any(op.startswith("Flex") for op in tflite["ops"])


@pytest.mark.parametrize("name", MODELS)
def test_predict_runs_every_models_artifacts(name, quick_runs, tmp_path, capsys):
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint

    export_checkpoint(quick_runs[name], tmp_path / "e", parse_formats("onnx,tflite"), evaluate=False)
    inputs = tmp_path / "e" / "test_data" / "inputs.npy"
    expected = np.load(tmp_path / "e" / "test_data" / "expected.npy")
    for artifact in (quick_runs[name], tmp_path / "e" / "model.onnx", tmp_path / "e" / "model.tflite"):
        code, _, err = run_cli(capsys, "predict", artifact, "--input", inputs, "--output", tmp_path / "p.npy",
                               "--force")  # one output file for each artifact in turn
        assert code == 0, err
        np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-4)


TEXT_CASES = {  # model -> (texts, check of the printed lines)
    "text-classifier": (["Shares in the bank fell after it reported lower quarterly profits and cut its dividend",
                         "The striker scored twice as the champions won the league match at home"],
                        lambda lines: [line.split("\t")[0] for line in lines] == ["business", "sport"]),
    "tagger": (["中国 人民 银行 发表 讲话", "我们喜欢读书"],  # segmented, and raw (snownlp segments it)
               lambda lines: len(lines) == 2 and len(lines[0].split()) == 5
               and all("/" in token for line in lines for token in line.split())),
    "g2p": (["cat", "zoo"],
            lambda lines: lines[0].split("\t")[1].startswith("K AE T (") and lines[1].startswith("zoo\tZ UW")),
}


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_text_models_predict_from_raw_text(name, capsys):
    if not zoo.get_recipe(name).released.exists():
        pytest.fail(f"{name} has no released checkpoint")
    texts, check = TEXT_CASES[name]
    code, out, err = run_cli(capsys, "predict", name, *[arg for t in texts for arg in ("--text", t)])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert check(lines), lines


def test_text_input_errors_are_one_line(capsys):
    for args, words in [(("predict", "forecaster", "--text", "hi"), "does not read text"),
                        (("predict", "g2p", "--text", "c4t"), "knows only the letters"),
                        (("predict", "text-classifier"), "either --input FILE or --text TEXT"),
                        (("predict", "tagger", "--text", "读书", "--output", "p.npy"), "goes with --input")]:
        code, _, err = run_cli(capsys, *args)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
