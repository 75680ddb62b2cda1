"""``zoo export NAME --format web``: a static folder that runs the model in a browser.

The folder holds ``index.html`` and ``app.js`` (from ``export/web/``), the float ONNX model
(onnxruntime-web has no ``DynamicQuantizeLSTM``, so no quantized graph), for a model that generates
text its single-step ONNX model too, ``deployment.json`` (vocabularies, labels, scaling),
``page.json`` (what the script needs to feed the step model), the export's ``test_data/`` for the
page's self-check, and ``ort/``: onnxruntime-web's WebAssembly build, copied from npm's
``node_modules`` as pinned by ``export/web/package-lock.json``. Nothing is fetched from a CDN; any
static file server can serve the folder (``python -m http.server``).
"""

import json
import math
import os
import shutil
from pathlib import Path

from zoo.errors import UserError

ASSETS = Path(__file__).parent / "web"
PAGE_FILES = ("index.html", "app.js", "npy.mjs")
#: onnxruntime-web's WebAssembly-only ES module bundle, its WebAssembly loader and binary.
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MODEL_FILE, STEP_FILE, PAGE_FILE = "model.onnx", "model.step.onnx", "page.json"


def runtime_directory():
    """Where onnxruntime-web's files are: ``$ZOO_ONNXRUNTIME_WEB``, or ``export/web/node_modules``."""
    found = os.environ.get("ZOO_ONNXRUNTIME_WEB")
    return Path(found) if found else ASSETS / "node_modules" / "onnxruntime-web" / "dist"


def check_runtime():
    """Say how to install onnxruntime-web before any conversion work, when it is missing."""
    directory = runtime_directory()
    missing = [name for name in RUNTIME_FILES if not (directory / name).exists()]
    if missing:
        raise UserError(f"the web export needs onnxruntime-web from npm ({', '.join(missing)} not in {directory}): "
                        f"npm ci --ignore-scripts --prefix {ASSETS}")
    return directory


def runtime_version():
    package = runtime_directory().parent / "package.json"
    return json.loads(package.read_text()).get("version") if package.exists() else None


def write(model, path, opset, metadata):
    """Write the page folder at ``path`` -> the ONNX writer's report plus the page's files."""
    from zoo.export import onnx

    runtime = check_runtime()
    path = Path(path)
    path.mkdir(parents=True)
    report = onnx.write(model, path / MODEL_FILE, opset=opset, metadata=metadata) or {}
    page = {"model": metadata.get("zoo.model")}
    if _generates_text(metadata.get("zoo.model")):
        page["step"] = _write_step(model, path / STEP_FILE, opset)
    (path / "ort").mkdir()
    for name in RUNTIME_FILES:
        shutil.copy2(runtime / name, path / "ort" / name)
    for name in PAGE_FILES:
        shutil.copy2(ASSETS / name, path / name)
    (path / "deployment.json").write_text(json.dumps(metadata, indent=1, ensure_ascii=False))
    (path / PAGE_FILE).write_text(json.dumps(page, indent=1))
    test_data = path.parent / "test_data"  # the pipeline writes the export's test inputs first
    if test_data.is_dir():
        shutil.copytree(test_data, path / "test_data")
    return {**report, "opset": opset, "onnxruntime_web": runtime_version(),
            "page": sorted(p.name for p in path.iterdir())}


def write_step(step, path, opset):
    """The page's step model alone (``zoo export --streaming``), into the page folder."""
    from zoo.export import onnx

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return onnx.write_step(step, path, opset)


def _generates_text(name):
    from zoo.registry import get_recipe, list_models

    return name in list_models() and get_recipe(name).generates_text


def _write_step(model, path, opset):
    """The single-step model the page carries its LSTM state through -> its feeding plan."""
    from zoo.export import onnx
    from zoo.export.step_model import INPUT, OUTPUT, step_model

    step = step_model(model)
    onnx.write_step(step, path, opset)
    states = {name: {"shape": list(shape), "dtype": str(dtype), "size": math.prod(int(n) for n in shape)}
              for name, shape, dtype in step.streaming["states"]}
    return {"file": path.name, "input": INPUT, "output": OUTPUT, "states": states}
