"""One table says which backend runs which cell natively (``zoo.cells.backends``); every backend
reads it, so a backend's own answer for a layer agrees with the table's for its cell."""

from pathlib import Path

import pytest

from conftest import CELL_NAMES, run_cli
from zoo.cells import CELLS
from zoo.cells.backends import BACKENDS, support_markdown, support_table, why_not
from zoo.cells.lowering import describe

UNITS = 4


@pytest.fixture(scope="module")
def table():
    return dict(support_table(UNITS))


@pytest.mark.parametrize("name", CELL_NAMES)
def test_every_backend_answers_as_the_table_does(name, table):
    from zoo.export.onnx_lstm import why_not_native
    from zoo.export.tflite_lstm import why_not_fused
    from zoo.kernel.dispatch import trains_with_fused_kernel
    from zoo.layers import LSTM

    layer = LSTM(UNITS, cell=name)
    answers = table[name]
    assert (why_not_native(layer) is None) == (answers["onnx"] is None)
    assert (why_not_fused(layer) is None) == (answers["tflite"] is None)
    from zoo import kernel

    if kernel.enabled():
        assert trains_with_fused_kernel(layer) == (answers["kernel"] is None)
    if answers["onnx"]:
        assert answers["onnx"] in why_not_native(layer)


def test_the_standard_cell_runs_natively_everywhere_and_a_cell_without_lowering_nowhere(table):
    assert all(reason is None for reason in table["lstm"].values())
    assert all(reason for reason in table["forget_gate"].values())
    assert set(table) == set(CELLS) | {"keras.layers.LSTMCell"}
    assert why_not("cudnn", describe(CELLS["peephole"](UNITS)))


def test_the_docs_show_the_table_as_generated():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cells.md").read_text()
    assert support_markdown() in docs, "regenerate docs/cells.md's table: zoo list --cells"


def test_zoo_list_cells_prints_the_table(capsys):
    code, out, err = run_cli(capsys, "list", "--cells")
    assert code == 0, err
    assert out.strip().startswith("| cell | " + " | ".join(b.title for b in BACKENDS.values()))
    code, out, _ = run_cli(capsys, "list", "--cells", "--json")
    assert code == 0 and '"forget_gate"' in out
