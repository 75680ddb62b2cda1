"""``zoo export NAME --format web`` in a real browser: the page is served on 127.0.0.1 and run by
headless Chromium (Debian's ``chromium``), and what it computes must equal Python's answers:
the test inputs' outputs (``test_data/expected.npy``), greedy char-lm text, g2p's beam search and
the text-classifier's class.

Where no Chromium is installed the browser tests skip and say so; ``.ci/run`` installs one.
``ZOO_SCREENSHOT=PATH`` keeps the char-lm page's screenshot (the README's picture).
"""

import os
import shutil

import numpy as np
import pytest

from benchmarks.browser import find_browser, open_page
from zoo.export.formats import FORMATS
from zoo.export.webpage import RUNTIME_FILES, check_runtime, runtime_directory

pytestmark = pytest.mark.slow  # exports released models and starts a browser

NO_RUNTIME = not all((runtime_directory() / name).exists() for name in RUNTIME_FILES)
needs_runtime = pytest.mark.skipif(NO_RUNTIME and not os.environ.get("ZOO_REQUIRE_WEB"),
                                   reason="onnxruntime-web is not installed: npm ci --ignore-scripts --prefix export/web")
needs_browser = pytest.mark.skipif(find_browser() is None,
                                   reason="no Chromium on this machine (apt-get install chromium); .ci/run installs it")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    from zoo.export.pipeline import export_checkpoint

    root = tmp_path_factory.mktemp("web")
    for name in ("char-lm", "g2p", "text-classifier", "forecaster"):
        report = export_checkpoint(name, root / name, [FORMATS["web"]], evaluate=False)
        assert report["formats"]["web"]["ok"], report
    return root


def _page(pages, name, **query):
    return open_page(pages / name / "web", **query)


def _check_self_test(results, pages, name):
    assert "error" not in results, results["error"]
    expected = np.load(pages / name / "test_data" / "expected.npy")
    assert results["sameShape"]
    assert results["maxAbsDiff"] <= 1e-4 + 1e-4 * np.abs(expected).max()
    assert results["p50Ms"] >= 0 and results["batchMs"] >= 0


@needs_runtime
def test_the_web_folder_is_self_contained(pages):
    folder = pages / "char-lm" / "web"
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "model.onnx", "model.step.onnx", "deployment.json", "page.json",
            "test_data/inputs.npy", "test_data/expected.npy"} <= names
    assert {f"ort/{name}" for name in RUNTIME_FILES} <= names
    page = (folder / "app.js").read_text() + (folder / "index.html").read_text()
    assert "http://" not in page and "https://" not in page  # no CDN, nothing fetched from elsewhere


@needs_runtime
@needs_browser
def test_char_lm_generates_in_the_browser_as_keras_does(pages, tmp_path):
    from zoo.export.generate import generate

    shot = tmp_path / "char-lm.png"
    results = _page(pages, "char-lm", prompt="ROMEO:", temperature=0, length=120, screenshot=shot)
    _check_self_test(results, pages, "char-lm")
    assert results["generated"] == generate("char-lm", prompt="ROMEO:", length=120, temperature=0)
    assert shot.exists() and shot.stat().st_size > 10_000
    if os.environ.get("ZOO_SCREENSHOT"):
        shutil.copy(shot, os.environ["ZOO_SCREENSHOT"])


@needs_runtime
@needs_browser
def test_g2p_beam_search_in_the_browser_equals_python(pages):
    from zoo.checkpoints import load_run_config, resolve
    from zoo.export.runtime import OnnxRunner
    from zoo.registry import get_recipe

    results = _page(pages, "g2p", word="zoology")
    _check_self_test(results, pages, "g2p")
    _, run_dir = resolve("g2p")
    config = load_run_config(run_dir)["config"]
    python = get_recipe("g2p").read_text(OnnxRunner(pages / "g2p" / "web" / "model.onnx"), ["zoology"], config)
    browser = results["pronunciations"]
    assert [p["phonemes"] for p in browser] == [p for p, _ in python[0]["pronunciations"]]
    np.testing.assert_allclose([p["probability"] for p in browser], [q for _, q in python[0]["pronunciations"]],
                               rtol=1e-4)


@needs_runtime
@needs_browser
def test_text_classifier_in_the_browser_equals_python(pages):
    import zoo

    text = "Shares fell sharply after the bank reported lower profits, and the pound slipped."
    results = _page(pages, "text-classifier", text=text)
    _check_self_test(results, pages, "text-classifier")
    python = zoo.load(pages / "text-classifier", runtime="web").predict(text)
    assert results["classified"]["label"] == python["label"]
    assert abs(results["classified"]["score"] - python["score"]) < 1e-5


@needs_runtime
@needs_browser
def test_forecaster_plots_its_forecast_in_the_browser(pages):
    results = _page(pages, "forecaster")
    _check_self_test(results, pages, "forecaster")
    assert results["plotted"] == len(np.load(pages / "forecaster" / "test_data" / "inputs.npy"))


def test_a_missing_browser_runtime_is_one_line_with_the_command(tmp_path, monkeypatch):
    from zoo.errors import UserError

    monkeypatch.setenv("ZOO_ONNXRUNTIME_WEB", str(tmp_path / "nothing"))
    with pytest.raises(UserError, match=r"npm ci --ignore-scripts --prefix .*export/web"):
        check_runtime()
