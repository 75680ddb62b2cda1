"""Quiet means quiet: no TensorFlow, absl, oneDNN or LiteRT line on any command's stderr unless
``--verbose``; ``--quiet`` prints results and errors only; data warnings show whatever Python's
warnings filter says."""

import os
import re
import subprocess
import sys
import warnings

import pytest

from conftest import run_cli

#: A C++ log line (absl/glog: "I0000 00:00:1796670642.267782   32321 port.cc:153] ...") or
#: absl's preamble, or a runtime's own banner.
RUNTIME_LINE = re.compile(r"^[IWEF]\d{4} |WARNING: All log messages|oneDNN|XNNPACK|NodeDef mentions|cpu_feature_guard",
                          re.MULTILINE)


def zoo(*args, cwd=None, env=None):
    """``zoo ARGS`` in a fresh process -> (exit code, stdout, stderr)."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-m", "zoo.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=600)
    return done.returncode, done.stdout, done.stderr


def test_help_and_a_command_that_loads_tensorflow_print_no_runtime_line():
    code, out, err = zoo("train", "forecaster", "--help")
    assert code == 0 and "Usage: zoo train forecaster" in out
    assert err == ""
    code, out, err = zoo("evaluate", "forecaster")  # TensorFlow, Keras and a model loaded
    assert code == 0 and "rmse" in out
    assert not RUNTIME_LINE.search(err), err


def test_verbose_brings_the_runtime_logs_back():
    code, _, err = zoo("--verbose", "evaluate", "forecaster")
    assert code == 0 and RUNTIME_LINE.search(err)


def test_errors_still_reach_stderr_while_runtime_logs_are_muted():
    code, out, err = zoo("predict", "no-such-model-or-file", "--input", "x.csv")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_data_warnings_show_whatever_the_warnings_filter_says(tmp_path, capsys):
    data = tmp_path / "unsorted.csv"
    data.write_text("date,sales\n2020-01-03,1\n2020-01-01,2\n2020-01-02,3\n2020-01-04,4\n2020-01-05,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what PYTHONWARNINGS=ignore does
        code, _, err = run_cli(capsys, "train", "forecaster", "--data", data, "--out", tmp_path / "run")
    assert code == 2  # too short to train; the repair was still announced
    assert "warning: " in err and "sorted them" in err


def test_quiet_mutes_warnings_too(tmp_path, capsys):
    data = tmp_path / "unsorted.csv"
    data.write_text("date,sales\n2020-01-03,1\n2020-01-01,2\n2020-01-02,3\n2020-01-04,4\n2020-01-05,5\n")
    code, _, err = run_cli(capsys, "--quiet", "train", "forecaster", "--data", data, "--out", tmp_path / "run")
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_export_predict_generate_print_no_runtime_line(tmp_path):
    """Default: progress lines only; ``--quiet``: nothing on stderr at all."""
    steps = [
        ("train", "forecaster", "--quick", "--out", tmp_path / "run"),
        ("export", tmp_path / "run", "--out", tmp_path / "export", "--quantize", "int8"),
        ("predict", tmp_path / "run", "--input", tmp_path / "run" / "test_inputs.npy"),
        ("predict", tmp_path / "export", "--input", tmp_path / "run" / "test_inputs.npy"),
        ("predict", "text-classifier", "--text", "a fine film"),
        ("export", "char-lm", "--out", tmp_path / "char-lm", "--format", "tflite,onnx", "--streaming"),
        ("generate", tmp_path / "char-lm", "--length", "20"),
        ("generate", "char-lm", "--length", "20"),
    ]
    for step in steps:
        code, out, err = zoo(*step)
        assert code == 0, (step, err)
        assert not RUNTIME_LINE.search(err), (step, err)
    code, out, err = zoo("--quiet", "train", "forecaster", "--quick", "--out", tmp_path / "quiet-run")
    assert code == 0 and "run:" in out and err == ""
    code, out, err = zoo("--quiet", "export", tmp_path / "quiet-run", "--out", tmp_path / "quiet-export")
    assert code == 0 and "tflite" in out and err == ""


def test_option_errors_come_before_tensorflow_loads():
    probe = ("import sys\nfrom zoo.cli import main\ntry:\n    main(['train', 'forecaster', '--units', 'abc'])\n"
             "except SystemExit as done:\n    print(done.code, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert done.stderr.startswith("error: option units: 'abc' is not a valid value")


def test_cell_names_are_known_without_keras():
    from zoo.cells import CELLS
    from zoo.options import _cell_names

    assert set(_cell_names()) == set(CELLS) and _cell_names()[0] == "lstm"
