"""Fine-tuning on labelled drawings: the data contract, the split, and a real small fine-tune.

The fine-tunes start from the committed LeNet-5 (fast on a CPU) and use a few short
epochs: what is tested is that the method fixes a style the base misreads, that the
challenger is saved and served like any model, and that the gate refuses one trained
on nonsense, not the default recipe's figures (benchmarks/finetune.py has those).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from model.card import read_card, sha256_file
from model.checkpoint import card_path
from model.compare import HELD_OUT, MNIST_TEST, verdict_for
from model.data import Mnist
from model.finetune import (
    FinetuneConfig,
    LabelledDrawings,
    NotEnoughData,
    check_enough,
    finetune_from_drawings,
    rerendered,
    split_by_person,
)
from model.predictor import Predictor
from settings import REPO_ROOT
from tests.synthetic_people import people_drawings

BASE = REPO_ROOT / "saved_models" / "lenet5.pt"
QUICK = FinetuneConfig(epochs=3, novelty_mnist=2000)


@pytest.fixture(scope="module")
def drawings() -> LabelledDrawings:
    """Twelve people, three drawings of each digit each (some styles LeNet-5 misreads)."""
    return people_drawings(range(12), per_digit=3)


@pytest.fixture(scope="module")
def other_people() -> LabelledDrawings:
    return people_drawings(range(500, 506), per_digit=3, seed=7)


def _few(n: int, people: int) -> LabelledDrawings:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return LabelledDrawings(
        images=np.zeros((n, 28, 28), np.uint8),
        labels=np.arange(n) % 10,
        people=[f"p{i % people}" for i in range(n)],
        strokes=[None] * n,
        canvas_sizes=[None] * n,
        created_at=[now] * n,
    )


def test_not_enough_data_says_what_is_missing() -> None:
    with pytest.raises(NotEnoughData, match=r"183 labels from 4 people; need >= 200 from >= 5"):
        check_enough(_few(183, 4))
    with pytest.raises(NotEnoughData, match=r"250 labels from 3 people"):
        check_enough(_few(250, 3))
    check_enough(_few(200, 5))  # enough: no error
    unknown = replace(_few(200, 1), people=[""] * 200)  # no session: each drawing its own
    check_enough(unknown)


def test_drawings_are_checked_on_arrival() -> None:
    good = _few(10, 2)
    with pytest.raises(ValueError, match="labels must be digits 0-9, found \\[12\\]"):
        replace(good, labels=np.array([12] + [1] * 9))
    with pytest.raises(ValueError, match="N x 28 x 28 uint8"):
        replace(good, images=np.zeros((10, 28, 28), np.float32))
    with pytest.raises(ValueError, match="strokes must have one entry per image"):
        replace(good, strokes=[None] * 9)


def test_split_is_by_person_deterministic_and_about_a_fifth() -> None:
    groups = [f"session-{i % 40}" for i in range(800)]
    held = split_by_person(groups)
    assert np.array_equal(held, split_by_person(groups[::-1])[::-1])  # order does not matter
    held_people = {g for g, h in zip(groups, held, strict=True) if h}
    trained = {g for g, h in zip(groups, held, strict=True) if not h}
    assert not held_people & trained and 4 <= len(held_people) <= 14
    more = split_by_person(groups + [f"session-{i}" for i in range(40, 60)])
    assert np.array_equal(more[:800], held)  # people joining move no one
    assert split_by_person(["a", "b"]).sum() == 1  # always one on each side


def test_strokes_are_rerendered_through_the_canvas_path(drawings: LabelledDrawings) -> None:
    few = drawings.subset(np.arange(20))
    images, labels = rerendered(few, renders=2, rng=np.random.default_rng(0))
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(labels, np.repeat(few.labels, 2))
    assert not np.array_equal(images[::2], few.images)  # another brush, another jitter
    uploads = replace(few, strokes=[None] * 20)
    assert len(rerendered(uploads, renders=2, rng=np.random.default_rng(0))[0]) == 0


def test_augmentation_stretches_widths_as_the_base_was_trained() -> None:
    resnet = read_card(REPO_ROOT / "saved_models" / "resnet.json")
    assert resnet.config is not None and resnet.config.stretch > 1
    assert QUICK.for_base(resnet).stretch == resnet.config.stretch
    assert replace(QUICK, stretch=1.2).for_base(resnet).stretch == 1.2  # asked for: kept
    assert QUICK.for_base(replace(resnet, config=None)).stretch == 1.0
    assert f"widths stretched up to {resnet.config.stretch:g}x" in QUICK.for_base(resnet).describe()


def test_challenger_learns_the_styles_and_is_served(
    drawings: LabelledDrawings, other_people: LabelledDrawings, mnist: Mnist, tmp_path: Path
) -> None:
    outcome = finetune_from_drawings(
        BASE, drawings, mnist, tmp_path, "lenet5-ft", progress=False, config=QUICK
    )
    report = outcome.report
    people, digits = report.sets[HELD_OUT], report.sets[MNIST_TEST]
    assert people.challenger_accuracy > people.champion_accuracy
    assert people.challenger_only_correct > 3 * max(1, people.champion_only_correct)
    assert verdict_for(report) == (report.verdict, report.reason)
    assert digits.champion_accuracy - digits.challenger_accuracy < 0.005
    challenger, champion = Predictor.load(outcome.weights), Predictor.load(BASE)
    fresh = [
        (p.predict_batch(other_people.images).argmax(1) == other_people.labels).mean()
        for p in (champion, challenger)
    ]
    assert fresh[1] > fresh[0] + 0.02  # people it never saw, in styles it learnt
    card = read_card(card_path(outcome.weights))
    assert card.config == read_card(card_path(BASE)).config  # the shape a load builds
    trained = card.finetune
    assert trained is not None and trained.base == "lenet5"
    assert trained.base_sha256 == sha256_file(BASE)
    assert trained.labels + trained.held_out_labels == len(drawings)
    assert sum(trained.label_counts) == trained.labels
    assert trained.people + trained.held_out_people == 12
    assert trained.first_drawing is not None and trained.first_drawing <= str(trained.last_drawing)
    assert "widths stretched up to 1x" in trained.method  # as LeNet-5 was trained
    assert report.challenger.weights == str(outcome.weights) and report.champion.name == "lenet5"


def test_gate_refuses_a_challenger_trained_on_shuffled_labels(
    drawings: LabelledDrawings, mnist: Mnist, tmp_path: Path
) -> None:
    trained = ~split_by_person(drawings.groups())  # the held-out people keep true labels
    labels = drawings.labels.copy()
    labels[trained] = np.random.default_rng(0).permutation(labels[trained])
    nonsense = replace(drawings, labels=labels)
    outcome = finetune_from_drawings(
        BASE, nonsense, mnist, tmp_path, "lenet5-noise", progress=False, config=QUICK
    )
    people = outcome.report.sets[HELD_OUT]
    assert outcome.report.verdict == "keep", outcome.report.reason
    assert people.challenger_only_correct <= 3  # it learnt no style, whatever it kept


def test_excluded_drawings_are_left_out(
    drawings: LabelledDrawings, mnist: Mnist, tmp_path: Path
) -> None:
    with pytest.raises(NotEnoughData, match="150 labels from"):
        finetune_from_drawings(
            BASE, drawings, mnist, tmp_path, "x", exclude=np.arange(len(drawings) - 150)
        )
    with pytest.raises(ValueError, match="outside"):
        finetune_from_drawings(
            BASE, drawings, mnist, tmp_path, "x", exclude=np.array([len(drawings)])
        )
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_challenger_is_reproduced_by_its_seed_and_leaves_the_callers_rng(mnist: Mnist) -> None:
    """The resnet has dropout, which draws from torch's global generator."""
    import torch

    from model.checkpoint import load_checkpoint
    from model.finetune import make_challenger

    base, _ = load_checkpoint(REPO_ROOT / "saved_models" / "resnet.pt")
    user = (mnist.train_images[:64].copy(), mnist.train_labels[:64].astype(np.int64))
    replay = (mnist.train_images[64:192].copy(), mnist.train_labels[64:192].astype(np.int64))
    config = FinetuneConfig(epochs=1, base_share=0.0, stretch=1.0)

    def weights(seed: int) -> torch.Tensor:
        net = make_challenger(base, user, replay, replace(config, seed=seed), progress=False)
        return net.state_dict()["head.3.weight"]

    torch.manual_seed(1)
    first = weights(0)
    torch.manual_seed(2)  # whatever the caller's random state, the same challenger
    assert torch.equal(weights(0), first)
    assert not torch.equal(weights(1), first)
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    weights(0)
    assert torch.equal(torch.rand(3), expected)  # the caller's random stream is untouched
