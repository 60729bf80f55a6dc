"""`run_model.py export`: one verified ONNX graph per model, and every way it can go wrong.

Runs in-process (`run_model.main`, as tests/model/test_bad_input.py does), on copies
of the committed LeNet-5 (a real trained network, the quickest to verify on MNIST's
test set) in a scratch folder, so the committed cards are never touched.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import run_model
from model.card import read_card, sha256_file
from model.checkpoint import card_path, weights_path
from model.data import Mnist
from model.onnx_export import ExportError, write_together
from model.predictor import Predictor, available_models
from model.runtime import verified_file
from settings import DEFAULT_ARCHITECTURE, REPO_ROOT
from tests.model_files import break_model

MODELS_DIR = REPO_ROOT / "saved_models"


def copy_model(name: str, folder: Path) -> Path:
    """The committed model `name` (weights, card without its onnx entry, detector) in `folder`."""
    for path in MODELS_DIR.glob(f"{name}.*"):
        if path.suffix != ".onnx":
            shutil.copy(path, folder / path.name)
    weights = weights_path(folder, name)
    card = json.loads(card_path(weights).read_text())
    card.pop("onnx", None)
    card_path(weights).write_text(json.dumps(card))
    return weights


def export(*args: str) -> tuple[int, str, str]:
    """`python run_model.py export ARGS`: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_model.main(["export", *args])
    return code, out.getvalue(), err.getvalue()


def files_in(folder: Path) -> dict[str, str]:
    """Every file in `folder` (hidden ones too) and its SHA-256."""
    return {path.name: sha256_file(path) for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A LeNet-5 copy exported with the default --out, and the line the command printed."""
    weights = copy_model("lenet5", tmp_path_factory.mktemp("models"))
    code, out, err = export("--model", str(weights))
    assert code == 0 and err == "", err
    return weights, out


def test_export_writes_a_verified_graph_beside_the_weights(exported) -> None:
    weights, out = exported
    graph = weights.with_suffix(".onnx")
    entry = json.loads(card_path(weights).read_text())["onnx"]
    assert entry["file"] == graph.name and entry["sha256"] == sha256_file(graph)
    assert entry["weights_sha256"] == sha256_file(weights)
    assert entry["argmax_agreement"] >= 0.999 and entry["unsure_agreement"] >= 0.999
    assert 0 < entry["max_probability_difference"] < 1e-4
    (line,) = out.splitlines()
    assert str(graph) in line and f"{entry['max_probability_difference']:.1e}" in line
    assert not [p for p in weights.parent.iterdir() if p.name.startswith(".")]  # no temporaries


def test_the_graph_alone_gives_the_predictors_probabilities(exported, mnist: Mnist) -> None:
    """onnxruntime and numpy only, as a user of the file would: README's example."""
    weights, _ = exported
    session = ort.InferenceSession(str(weights.with_suffix(".onnx")))
    images = mnist.test_images[:500]
    probabilities, features = session.run(
        ["probabilities", "features"], {"image": images[:, None].astype(np.float32) / 255}
    )
    expected = Predictor.load(weights, inference="eager").score_batch(images)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert features.shape[0] == 500 and features.shape[1] > 0
    assert (probabilities.argmax(1) == mnist.test_labels[:500]).mean() > 0.97


def test_the_predictor_loads_the_exported_file(exported, mnist: Mnist, caplog) -> None:
    weights, _ = exported
    card = read_card(card_path(weights))
    assert verified_file(weights, card) == weights.with_suffix(".onnx").read_bytes()
    with caplog.at_level(logging.WARNING):
        predictor = Predictor.load(weights, inference="onnx")
    assert predictor.inference == "onnx" and caplog.text == ""
    eager = Predictor.load(weights, inference="eager")
    images = mnist.test_images[:300]
    np.testing.assert_array_equal(
        predictor.score_batch(images).unsure, eager.score_batch(images).unsure
    )


@pytest.mark.parametrize("damage", ["changed", "missing", "other-weights"])
def test_a_graph_that_no_longer_matches_its_card_is_not_trusted(
    exported, damage: str, tmp_path: Path, mnist: Mnist, caplog
) -> None:
    weights = tmp_path / "lenet5.pt"
    for path in exported[0].parent.glob("lenet5.*"):
        shutil.copy(path, tmp_path / path.name)
    graph = weights.with_suffix(".onnx")
    card = json.loads(card_path(weights).read_text())
    if damage == "changed":  # the same size, one byte different near the end (a weight)
        data = bytearray(graph.read_bytes())
        data[-100] ^= 0xFF
        graph.write_bytes(bytes(data))
    elif damage == "missing":
        graph.unlink()
    else:
        card["onnx"]["weights_sha256"] = "0" * 64
        card_path(weights).write_text(json.dumps(card))
    assert verified_file(weights, read_card(card_path(weights))) is None
    with caplog.at_level(logging.WARNING, logger="model.runtime"):
        predictor = Predictor.load(weights, inference="onnx")
    assert "exporting it again from the weights" in caplog.text
    assert predictor.inference == "onnx"  # exported afresh from the verified weights
    eager = Predictor.load(weights, inference="eager")
    np.testing.assert_allclose(
        predictor.predict_batch(mnist.test_images[:100]),
        eager.predict_batch(mnist.test_images[:100]),
        atol=1e-5,
    )


def test_export_to_another_file_writes_a_copy_and_serving_keeps_the_graph_beside_the_weights(
    tmp_path: Path,
) -> None:
    weights = copy_model("lenet5", tmp_path)
    out = tmp_path / "elsewhere" / "served.onnx"
    out.parent.mkdir()
    code, line, _ = export("--model", str(weights), "--out", str(out))
    served = weights.with_suffix(".onnx")
    assert code == 0 and line.startswith(f"{out} (a copy of {served}")
    entry = json.loads(card_path(weights).read_text())["onnx"]
    assert entry["file"] == served.name  # never a path outside the model's folder
    assert entry["sha256"] == sha256_file(served) == sha256_file(out)
    out.unlink()  # the copy is the caller's to move or delete
    assert verified_file(weights, read_card(card_path(weights))) == served.read_bytes()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown model", "unknown model 'no-such-model'; saved models: "),
        ("missing folder", "folder {folder}/nowhere does not exist"),
        ("not .onnx", "the output file must end in .onnx"),
        ("a folder", "is a folder; give a file name ending in .onnx"),
        ("checksum", "do not match their card"),
    ],
)
def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_written(
    case: str, message: str, tmp_path: Path
) -> None:
    weights = copy_model("lenet5", tmp_path)
    args = {
        "unknown model": ["--model", "no-such-model"],
        "missing folder": ["--model", str(weights), "--out", str(tmp_path / "nowhere/x.onnx")],
        "not .onnx": ["--model", str(weights), "--out", str(tmp_path / "x.pt")],
        "a folder": ["--model", str(weights), "--out", str(tmp_path)],
        "checksum": ["--model", str(weights)],
    }[case]
    if case == "checksum":
        break_model(weights, "wrong-sha256")
    before = files_in(tmp_path)
    code, out, err = export(*args)
    assert code != 0 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message.format(folder=tmp_path) in line
    assert files_in(tmp_path) == before


def test_a_failed_write_leaves_the_graph_and_the_card_as_they_were(tmp_path: Path) -> None:
    """The card cannot be replaced (a folder in its way): neither file changes."""
    weights = copy_model("lenet5", tmp_path)
    graph = weights.with_suffix(".onnx")
    graph.write_bytes(b"an older export")
    card = card_path(weights)
    card_text = card.read_text()
    exported_card = read_card(card_path(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE)))
    card.rename(tmp_path / "card.json")
    card.mkdir()  # os.replace cannot put a file over a folder
    try:
        with pytest.raises(ExportError, match="cannot write"):
            write_together(graph, b"new graph", card, exported_card)
    finally:
        card.rmdir()
        (tmp_path / "card.json").rename(card)
    assert graph.read_bytes() == b"an older export" and card.read_text() == card_text
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", available_models(MODELS_DIR))
def test_every_committed_model_has_its_verified_graph(name: str) -> None:
    """So that serving any of them, not only the default, imports no torch."""
    weights = weights_path(MODELS_DIR, name)
    card = read_card(card_path(weights))
    assert verified_file(weights, card) is not None, "run: python run_model.py export"
    assert card.onnx.argmax_agreement >= 0.999
