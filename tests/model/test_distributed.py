"""Training on two CPU processes (torchrun, gloo) as users start it, compared with one.

Real processes, a real process group and real MNIST: `torchrun --standalone` starts
the ranks exactly as it does on a multi-GPU machine, only with gloo instead of NCCL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from settings import REPO_ROOT

WORKER = REPO_ROOT / "tests" / "model" / "ddp_worker.py"


def _run(command: list[str], mnist_dir: Path, timeout: int = 120) -> str:
    """Run with one thread per process (two cores are shared) and the repo importable."""
    env = {
        "MNIST_DIR": str(mnist_dir),
        "PATH": "/usr/bin:/bin",
        "HOME": tempfile.mkdtemp(prefix="digitlab-home-"),
        "PYTHONPATH": str(REPO_ROOT),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def _torchrun(nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}"]  # fmt: skip


def test_two_gloo_ranks_reach_the_weights_of_one_process(mnist_dir: Path, tmp_path: Path) -> None:
    """Shared permutation, augmentation and scribbles, sharded batches, averaged gradients.

    Two epochs of 21 steps with uneven last shards: any rank training on its shard
    alone, a shard seen twice, or a gradient not averaged moves the weights by about
    the learning rate per step (1e-3 or more); float reordering stays near 1e-7.
    """
    alone, together = tmp_path / "alone", tmp_path / "together"
    alone.mkdir(), together.mkdir()
    _run([sys.executable, str(WORKER), str(alone)], mnist_dir)
    _run([*_torchrun(2), str(WORKER), str(together)], mnist_dir)
    one, two = (torch.load(folder / "result.pt", weights_only=True) for folder in (alone, together))

    sys.path.insert(0, str(WORKER.parent))
    try:
        from ddp_worker import mlp_without_dropout
    finally:
        sys.path.remove(str(WORKER.parent))
    torch.manual_seed(5)  # the worker's seed: the weights training started from
    initial = mlp_without_dropout().state_dict()
    for key, weights in one["weights"].items():
        assert (weights - initial[key]).abs().max() > 1e-3, f"{key} did not train"
        torch.testing.assert_close(two["weights"][key], weights, rtol=0, atol=1e-5)
    for row_one, row_two in zip(one["history"], two["history"], strict=True):
        assert row_two["train_accuracy"] == row_one["train_accuracy"]  # all ranks' images
        assert abs(row_two["train_loss"] - row_one["train_loss"]) < 1e-5
        assert row_two["val_accuracy"] == row_one["val_accuracy"]


def test_torchrun_cli_trains_on_both_ranks_and_rank_zero_alone_writes(
    mnist_dir: Path, tmp_path: Path
) -> None:
    """The user's command: `torchrun ... run_model.py`. One set of outputs, one report.

    About a minute, nearly all of it rank 0 measuring the saved model on drawings
    (the card's robustness report), which every training run does.
    """
    out, results = tmp_path / "models", tmp_path / "results"
    stdout = _run(
        [*_torchrun(2), "run_model.py", "--arch", "lenet5", "--limit", "600", "--epochs", "1",
         "--device", "cpu", "--quiet", "--out", str(out), "--results-dir", str(results)],
        mnist_dir,
        timeout=300,
    )  # fmt: skip
    assert stdout.count("lenet5: test accuracy") == 1, stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "lenet5.json", "lenet5.novelty.npz", "lenet5.pt"
    ]  # fmt: skip
    assert sorted(p.name for p in results.iterdir()) == [
        "confusion_matrix.png", "test_predictions.png", "training_curves.png"
    ]  # fmt: skip
    card = json.loads((out / "lenet5.json").read_text())
    # --limit 600 MNIST images, and the recipe's share of style digits beside them
    style_digits = round(card["config"]["style_share"] * 600)
    assert card["world_size"] == 2 and card["train_images"] == 600 + style_digits > 600
    assert card["test_accuracy"] > 0.15  # above chance after 13 steps on 600 images


def test_torchrun_variables_come_through_settings(monkeypatch) -> None:
    from model.distributed import process_group, rank_and_world_size
    from settings import get_settings

    for name, value in {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert (settings.world_size, settings.rank, settings.local_rank) == (4, 3, 1)
    monkeypatch.setenv("WORLD_SIZE", "0")
    with pytest.raises(ValueError, match="WORLD_SIZE must be a whole number >= 1, got '0'"):
        get_settings()
    # One process: no process group is joined, the device is passed through unchanged.
    with process_group(1, 0, 0, "cpu") as device:
        assert device == "cpu" and rank_and_world_size() == (0, 1)
