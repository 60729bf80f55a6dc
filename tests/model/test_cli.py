"""run_model.py as a user runs it: a subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.card import sha256_file
from model.image_io import read_image
from model.predictor import Predictor, resolve_model_path
from settings import REPO_ROOT


def run_cli(*args: str, mnist_dir: Path) -> subprocess.CompletedProcess:
    """Run with a minimal environment, as a user's shell would (HOME: a scratch folder)."""
    home = Path(tempfile.mkdtemp(prefix="digitlab-home-"))
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run_model.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"MNIST_DIR": str(mnist_dir), "PATH": "/usr/bin:/bin", "HOME": str(home)},
        cwd=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, mnist_dir: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("models")
    results = tmp_path_factory.mktemp("results")
    done = run_cli(
        "--recipe", "fast", "--limit", "1000", "--epochs", "1", "--device", "cpu", "--quiet",
        "--out", str(out), "--results-dir", str(results), mnist_dir=mnist_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, results, done


def test_smoke_run_writes_weights_card_and_pictures(smoke_run) -> None:
    out, results, done = smoke_run
    assert (out / "lenet5-fast.pt").stat().st_size > 10_000
    card = json.loads((out / "lenet5-fast.json").read_text())
    for key in (
        "architecture", "parameters", "epochs", "seed", "device", "training_seconds",
        "val_accuracy", "test_accuracy", "per_digit_test_accuracy", "calibration",
        "weights_sha256", "data_checksums", "torch_version", "git_commit", "command",
        "novelty", "robustness",
    ):  # fmt: skip
        assert key in card, key
    assert (out / card["novelty"]["file"]).is_file()
    assert card["train_images"] == 1000 and len(card["per_digit_test_accuracy"]) == 10
    assert card["command"].startswith("python run_model.py --recipe fast --limit 1000")
    # The fast recipe's settings (LeNet-5, no augmentation), --epochs over them.
    assert card["architecture"] == "lenet5" and card["epochs"] == 1
    assert card["config"]["augment"] is False and card["config"]["batch_size"] == 256
    for picture in ("test_predictions.png", "confusion_matrix.png", "training_curves.png"):
        assert (results / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lenet5-fast: test accuracy" in done.stdout


def test_evaluate_reproduces_the_card(smoke_run, mnist_dir: Path) -> None:
    out, _, _ = smoke_run
    card = json.loads((out / "lenet5-fast.json").read_text())
    done = run_cli("evaluate", "--model", str(out / "lenet5-fast.pt"), mnist_dir=mnist_dir)
    assert done.returncode == 0, done.stderr
    assert f"test accuracy    {card['test_accuracy']:.2%}" in done.stdout
    assert "per digit        0:" in done.stdout and "ECE (15 bins)" in done.stdout


def test_corrupt_weights_give_one_line_and_exit_2(smoke_run, tmp_path: Path, mnist_dir) -> None:
    out, _, _ = smoke_run
    bad = tmp_path / "lenet5-fast.pt"
    bad.write_bytes(b"garbage")
    (tmp_path / "lenet5-fast.json").write_text((out / "lenet5-fast.json").read_text())
    done = run_cli("evaluate", "--model", str(bad), mnist_dir=mnist_dir)
    assert done.returncode == 2
    assert done.stderr.startswith("error: model weights") and "Traceback" not in done.stderr


def test_training_command_records_its_teachers(mnist_dir: Path, tmp_path: Path) -> None:
    done = run_cli(
        "--arch", "lenet5", "--teachers", "cnn", "--teacher-weight", "0.3", "--limit", "500",
        "--epochs", "1",
        "--device", "cpu", "--quiet", "--out", str(tmp_path), "--results-dir", str(tmp_path),
        mnist_dir=mnist_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "lenet5.json").read_text())
    assert card["config"]["teachers"] == ["cnn"] and card["config"]["teacher_weight"] == 0.3
    assert card["teachers"] == {"cnn": sha256_file(resolve_model_path("cnn"))}
    assert Predictor.load(tmp_path / "lenet5.pt").card.config.teachers == ("cnn",)

    missing = run_cli("--arch", "lenet5", "--teachers", "cnn,nothing", "--limit", "10",
                      "--out", str(tmp_path / "other"), mnist_dir=mnist_dir)  # fmt: skip
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "'nothing'" in missing.stderr and "--teachers none" in missing.stderr
    assert not (tmp_path / "other").exists()
    beyond = run_cli("--teachers", "cnn", "--teacher-weight", "1.5", "--limit", "10",
                     "--out", str(tmp_path / "other"), mnist_dir=mnist_dir)  # fmt: skip
    assert beyond.returncode == 2 and "Traceback" not in beyond.stderr
    assert "from 0 to 1; got 1.5" in beyond.stderr and not (tmp_path / "other").exists()


def test_missing_data_dir_says_how_to_fix(tmp_path: Path, mnist_dir: Path) -> None:
    done = run_cli("--limit", "10", "--data-dir", str(tmp_path), mnist_dir=mnist_dir)
    assert done.returncode == 2
    assert "does not hold the MNIST files" in done.stderr and "Traceback" not in done.stderr


def test_help_explains_every_option(mnist_dir: Path) -> None:
    done = run_cli("train", "--help", mnist_dir=mnist_dir)
    for option in ("--recipe", "--arch", "--epochs", "--batch-size", "--lr", "--device", "--seed",
                   "--data-dir", "--out", "--limit", "--teachers", "--teacher-weight"):  # fmt: skip
        assert option in done.stdout


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, mnist_dir: Path) -> dict[str, Path]:
    """Good and bad image files, as a user's folder might hold them."""
    from model.data import load_mnist

    folder = tmp_path_factory.mktemp("images")
    mnist = load_mnist(mnist_dir)
    files = {}
    for i, fmt in ((0, "png"), (1, "jpeg")):
        big = np.kron(mnist.test_images[i], np.ones((8, 8), dtype=np.uint8))
        files[f"digit{i}"] = folder / f"digit{i}.{fmt}"
        Image.fromarray(255 - big).save(files[f"digit{i}"])  # dark ink on paper
    files["text"] = folder / "notes.png"
    files["text"].write_text("not an image")
    files["truncated"] = folder / "truncated.png"
    files["truncated"].write_bytes(files["digit0"].read_bytes()[:300])
    files["blank"] = folder / "blank.png"
    Image.new("L", (200, 200), 255).save(files["blank"])
    files["missing"] = folder / "missing.png"
    return files


def test_predict_mixed_good_and_unreadable_files(smoke_run, image_files, mnist_dir) -> None:
    out, _, _ = smoke_run
    order = ["digit0", "text", "digit1", "truncated", "blank", "missing"]
    done = run_cli(
        "predict", "--model", str(out / "lenet5-fast.pt"), *(str(image_files[k]) for k in order),
        mnist_dir=mnist_dir,
    )  # fmt: skip
    assert done.returncode == 1
    good = [line.split("\t") for line in done.stdout.splitlines()]
    assert [Path(row[0]).name for row in good] == ["digit0.png", "digit1.jpeg"]
    predictor = Predictor.load(out / "lenet5-fast.pt")
    for row in good:
        read = predictor.predict(read_image(Path(row[0])))
        verdict = "unsure" if read.unsure else "sure"
        assert row[1:] == [str(read.digit), f"{read.confidence:.3f}", verdict]
    errors = done.stderr.splitlines()
    assert len(errors) == 4 and "Traceback" not in done.stderr
    for key, reason in (
        ("text", "not an image"),
        ("truncated", "corrupt or truncated"),
        ("blank", "no digit found"),
        ("missing", "cannot read file"),
    ):
        assert any(str(image_files[key]) in e and reason in e for e in errors), (key, errors)


def test_predict_json_lines(smoke_run, image_files, mnist_dir) -> None:
    out, _, _ = smoke_run
    done = run_cli(
        "predict", "--json", "--model", str(out / "lenet5-fast.pt"),
        str(image_files["digit0"]), str(image_files["text"]), mnist_dir=mnist_dir,
    )  # fmt: skip
    assert done.returncode == 1
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["file"].endswith("digit0.png") and len(first["probabilities"]) == 10
    assert abs(sum(first["probabilities"]) - 1) < 1e-4
    assert first["digit"] == max(range(10), key=lambda d: first["probabilities"][d])
    assert second["file"].endswith("notes.png") and "not an image" in second["error"]
