"""Bad images and broken model files through `run_model.py predict` and the Predictor.

The CLI runs in-process (`run_model.main`, the function `python run_model.py` calls):
the same argument parsing, error handling and exit codes, without paying for a
torch import per case. An uncaught exception would fail the test: that is the
"never a stack trace" promise.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import run_model
from model.checkpoint import ModelLoadError, card_path
from model.image_io import read_image
from model.predictor import Predictor
from tests.bad_images import bad_uploads, png_bytes
from tests.model_files import MODEL_FAULTS, break_model, save_untrained


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained(tmp_path_factory.mktemp("models"), "tiny")


def test_every_bad_file_gets_its_own_clear_line_and_a_good_one_still_works(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uploads = bad_uploads()
    files = {name: tmp_path / name for name in uploads}
    for name, (content, _) in uploads.items():
        files[name].write_bytes(content)
    good = tmp_path / "good.png"
    digit = np.zeros((280, 280), np.uint8)
    digit[40:240, 130:150] = 255
    good.write_bytes(png_bytes(digit))
    code = run_model.main(
        ["predict", "--model", str(weights), str(good), *map(str, files.values())]
    )
    captured = capsys.readouterr()
    assert code == 1
    (line,) = captured.out.splitlines()
    assert re.fullmatch(rf"{re.escape(str(good))}\t\d\t[01]\.\d{{3}}\t(sure|unsure)", line)
    errors = captured.err.splitlines()
    assert len(errors) == len(files)
    for name, (_, reason) in uploads.items():
        assert any(e.startswith(f"error: {files[name]}") and reason in e for e in errors), name


@pytest.mark.parametrize("fault", MODEL_FAULTS)
def test_a_broken_model_file_is_one_line_naming_it_and_what_to_run(
    fault: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = save_untrained(tmp_path, "lenet5")
    break_model(weights, fault)
    picture = tmp_path / "digit.png"
    picture.write_bytes(png_bytes(np.zeros((28, 28), np.uint8)))
    assert run_model.main(["predict", "--model", str(weights), str(picture)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: model weights {weights}") and MODEL_FAULTS[fault] in line
    card_architecture = "mlp" if fault == "other-architecture" else "lenet5"
    assert f"retrain it with: python run_model.py --arch {card_architecture}" in line
    assert captured.out == ""


def test_a_card_without_calibration_is_a_model_load_error(weights: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny.pt"
    shutil.copy(weights, copy)
    card = json.loads(card_path(weights).read_text())
    card_path(copy).write_text(json.dumps(card | {"calibration": {}}))
    with pytest.raises(ModelLoadError, match=r"no usable calibration .*python run_model.py --arch"):
        Predictor.load(copy)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((280, 280), np.nan), "NaN or infinite"),
        (np.zeros((280, 280), np.complex64), "unsupported pixel type complex64"),
        (np.zeros((28, 28, 28, 1), np.uint8), r"got shape \(28, 28, 28, 1\)"),
        (np.zeros((0, 280), np.uint8), "the image is empty"),
    ],
    ids=["nan", "wrong-dtype", "wrong-shape", "empty"],
)
def test_arrays_that_are_not_pictures_get_a_value_error(
    weights: Path, array: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Predictor.load(weights).predict(array)


@pytest.mark.parametrize("name", ["one-pixel.png", "all-ink.png"])
def test_pictures_without_a_digit_are_no_prediction(weights: Path, name: str) -> None:
    assert Predictor.load(weights).predict(read_image(bad_uploads()[name][0], name)) is None
