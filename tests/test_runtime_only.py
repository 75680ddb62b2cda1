"""A runtime-only install (``pip install lstm-zoo``: ONNX Runtime, LiteRT, NumPy, click) runs the
released models' exports on raw inputs, with TensorFlow and Keras absent (pandas is in the base
install: predict reads CSV files as training does).

Two ways: in a subprocess whose import system refuses the training packages (fast to run,
exact about what is imported), and in a real venv with the bare install (what a user gets; the
last test). Each command's output must equal the Keras path's, run here with TensorFlow.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # exports four released models first

ROOT = Path(__file__).resolve().parents[1]

#: What a runtime-only install lacks; importing any of them in the subprocess fails.
ABSENT = ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "onnxconverter_common", "matplotlib",
          "sklearn", "statsmodels", "aeon", "h5py")

_BLOCKER = f"""
import sys
ABSENT = {ABSENT!r}
class RefuseTraining:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, RefuseTraining())
"""

TEXTS = {
    "text-classifier": ["The striker scored twice as the club won the cup final at Wembley.",
                        "Shares fell sharply after the bank reported lower profits."],
    "tagger": ["我们 喜欢 读书", "迈向 充满 希望 的 新 世纪"],
    "g2p": ["hello", "zoology"],
}


def without_training_packages(code, *args):
    """Run Python ``code`` (sys.argv[1:] = args) where the training packages cannot be imported."""
    result = subprocess.run([sys.executable, "-c", _BLOCKER + code, *map(str, args)], capture_output=True,
                            text=True, cwd=ROOT, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return result.returncode, result.stdout, result.stderr


def bare_cli(*args):
    return without_training_packages("import sys\nfrom zoo.cli import main\nmain(sys.argv[1:])", *args)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The released text models, char-lm (with its step artifacts) and the forecaster, exported to ONNX and TFLite."""
    from zoo.export.formats import parse_formats
    from zoo.export.pipeline import export_checkpoint

    root = tmp_path_factory.mktemp("exports")
    for name in ("text-classifier", "tagger", "g2p", "char-lm", "forecaster"):
        report = export_checkpoint(name, root / name, parse_formats("onnx,tflite"), evaluate=False,
                                   streaming=name == "char-lm")
        assert report["ok"], report
    return root


@pytest.mark.parametrize("name", list(TEXTS))
def test_text_models_read_text_from_an_export_without_tensorflow(capsys, exports, name):
    args = [arg for text in TEXTS[name] for arg in ("--text", text)]
    code, keras_out, err = run_cli(capsys, "predict", name, *args)  # the released checkpoint in Keras
    assert code == 0, err
    code, out, err = bare_cli("predict", exports / name, *args)
    assert code == 0, err
    assert out == keras_out and len(out.splitlines()) == len(TEXTS[name])


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_generate_from_an_export_without_tensorflow_equals_keras(capsys, exports, runtime):
    args = ["--prompt", "ROMEO:", "--length", "60", "--temperature", "0"]
    code, keras_text, err = run_cli(capsys, "generate", "char-lm", *args)
    assert code == 0, err
    code, text, err = bare_cli("generate", exports / "char-lm", "--runtime", runtime, *args)
    assert code == 0, err
    assert text == keras_text and text.startswith("ROMEO:") and len(text) > 60


@pytest.mark.parametrize("name", ["text-classifier", "char-lm"])
def test_predict_input_from_an_export_without_tensorflow(exports, tmp_path, name):
    export = exports / name
    code, out, err = bare_cli("predict", export, "--input", export / "test_data" / "inputs.npy",
                              "--output", tmp_path / "out.npy")
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), np.load(export / "test_data" / "expected.npy"),
                               rtol=1e-4, atol=1e-4)


def test_zoo_load_runs_every_runtime_an_export_has_without_tensorflow(exports):
    code = """
import json, sys
import zoo
root = sys.argv[1]
out = {}
for runtime in ("onnx", "tflite"):
    tagger = zoo.load(root + "/tagger", runtime=runtime)
    g2p = zoo.load(root + "/g2p", runtime=runtime)
    classifier = zoo.load(root + "/text-classifier", runtime=runtime)
    lm = zoo.load(root + "/char-lm", runtime=runtime)
    out[runtime] = {
        "tagger": tagger.predict("我们 喜欢 读书"),
        "g2p": g2p.predict(["hello"])[0]["pronunciations"][0][0],
        "classifier": classifier.predict("The striker scored twice in the final.")["label"],
        "lm": lm.generate("KING:", length=20, temperature=0),
        "names": [tagger.name, g2p.name, classifier.name, lm.name],
    }
out["default"] = zoo.load(root + "/tagger").runtime
out["metadata"] = sorted(zoo.load(root + "/tagger/model.onnx").metadata)
out["modules"] = sorted(m for m in ("tensorflow", "keras", "pandas") if m in sys.modules)
print(json.dumps(out, ensure_ascii=False))
"""
    status, out, err = without_training_packages(code, exports)
    assert status == 0, err
    found = json.loads(out)
    assert found["onnx"] == found["tflite"]
    assert found["onnx"]["tagger"] == [["我们", "r"], ["喜欢", "v"], ["读书", "v"]]
    assert found["onnx"]["g2p"] in ("HH AH L OW", "HH EH L OW")  # CMUdict lists both
    assert found["onnx"]["classifier"] == "sport"
    assert found["onnx"]["lm"].startswith("KING:") and len(found["onnx"]["lm"]) == 25
    assert found["onnx"]["names"] == ["tagger", "g2p", "text-classifier", "char-lm"]
    assert found["default"] in ("onnx", "tflite")
    assert {"zoo.model", "zoo.data"} <= set(found["metadata"])
    assert found["modules"] == []


@pytest.mark.parametrize("args", [
    ["export", "text-classifier"],
    ["train", "forecaster", "--quick"],
    ["predict", "tagger", "--text", "我们 喜欢 读书"],
    ["evaluate", "tagger"],
])
def test_commands_that_need_tensorflow_say_which_extra(args):
    code, out, err = bare_cli(*args)
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "pip install 'lstm-zoo[cpu]'" in err


def test_a_bare_venv_installs_no_tensorflow_and_runs_exports(exports, tmp_path):
    """The real thing: a fresh venv, ``pip install`` of this repo without extras."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", str(ROOT)], capture_output=True,
                         text=True, timeout=900)
    if pip.returncode and "Could not find a version" in pip.stderr + pip.stdout:
        pytest.skip(f"the package registry cannot be reached: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format", "json"], capture_output=True, text=True)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not installed & {"tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "matplotlib"}
    assert {"onnxruntime", "ai-edge-litert", "numpy", "click", "pandas", "lstm-zoo"} <= installed
    zoo = str(venv / "bin" / "zoo")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    tagged = subprocess.run([zoo, "predict", str(exports / "tagger"), "--text", "我们 喜欢 读书"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    assert tagged.stdout.strip() == "我们/r 喜欢/v 读书/v"
    generated = subprocess.run([zoo, "generate", str(exports / "char-lm"), "--length", "40", "--temperature", "0"],
                               capture_output=True, text=True, env=env, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert len(generated.stdout.strip()) >= 30
    refused = subprocess.run([zoo, "export", "tagger"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "lstm-zoo[cpu]" in refused.stderr
    history = tmp_path / "history.csv"  # a user's CSV, with a header, longer than the window
    history.write_text("year;sunspots\n" + "".join(f"{1900 + k};{50 + 40 * np.sin(k / 1.7):.1f}\n".replace(".", ",")
                                                   for k in range(40)))
    forecast = subprocess.run([zoo, "predict", str(exports / "forecaster"), "--input", str(history)],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
    assert forecast.returncode == 0, forecast.stderr
    assert 0 < float(forecast.stdout) < 200


def test_loading_a_checkpoint_without_tensorflow_fails_at_load_not_at_predict():
    code = """
import zoo
from zoo.errors import UserError
try:
    zoo.load("forecaster")
except UserError as error:
    print("refused:", error)
"""
    status, out, err = without_training_packages(code)
    assert status == 0, err
    assert out.startswith("refused: ") and "lstm-zoo[cpu]" in out
