"""Inference speed and memory of the default model on this machine: README's latency table.

Both inference paths of the Predictor (`DIGITLAB_INFERENCE`): eager PyTorch and
TorchScript (traced with the novelty features as outputs, frozen, BatchNorm folded),
measured side by side in the same run, their calls interleaved in blocks so that a
change in the machine's load falls on both alike.

- `predict(canvas)`: what the app calls after every stroke, a 280x280 RGBA canvas to
  calibrated probabilities (preprocessing and novelty detector included), p50 and
  p99 over 1,000 calls on one thread (the app serves one stroke per request on one
  core). Goal: p99 <= 2 ms. Where its time goes: `canvas_to_mnist` alone, and
  `score_batch` on the one 28x28 image (network, features, detector, softmax).
- The network alone on one 28x28 image (with the detector's pooled features, as the
  Predictor runs it): p50 of each path and their ratio.
- `predict_batch` on 10,000 MNIST test images with all cores: images per second of
  each path (goal >= 20,000), beside a one-image-at-a-time loop over the same images.
- Peak resident memory of a fresh process that imported torch and loaded the
  default model (and predicted once), per path, measured in a subprocess with
  `getrusage`.

    python benchmarks/inference.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    arguments,
    goal_verdict,
    load_test_mnist,
    machine,
    markdown_table,
    ms,
    save_result,
    summary_ms,
)
from model.checkpoint import ModelLoadError
from model.predictor import Predictor, available_models
from model.preprocess import canvas_to_mnist
from model.strokes import digit_paths, render_strokes
from settings import INFERENCE_PATHS, REPO_ROOT

GOAL_P99_MS = 2.0
GOAL_BATCH_IMAGES_S = 20_000.0
BLOCK = 50  # calls of one path before switching to the other

# Runs in a fresh interpreter: peak RSS of "import, load the default model, predict once".
# The peak is read from /proc/self/status (VmHWM), which starts afresh at exec; getrusage's
# ru_maxrss does not: Linux carries it over from the process that spawned the
# interpreter, so it reported this benchmark's own memory (900 MB) instead.
PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys

    def peak_kib():
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    import numpy as np
    sys.path.insert(0, {root!r})
    from model.predictor import Predictor
    from model.strokes import digit_paths, render_strokes
    baseline = peak_kib()
    predictor = Predictor.load()
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0, rgba=True)
    predictor.predict(canvas)
    print(baseline, peak_kib(), predictor.inference)
    """
)


def peak_rss_mb(inference: str) -> tuple[float, float]:
    """(after importing torch and the model code, after loading and one predict), in MB."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT.format(root=str(REPO_ROOT))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DIGITLAB_INFERENCE": inference},
    ).stdout.split()
    if out[2] != inference:
        raise RuntimeError(f"the subprocess ran {out[2]}, not {inference}")
    return int(out[0]) / 1024, int(out[1]) / 1024


def interleaved_ms(runs: dict[str, Callable[[], object]], calls: int) -> dict[str, np.ndarray]:
    """Milliseconds per call of each run, `calls` each, alternating in blocks of BLOCK."""
    for run in runs.values():  # warm-up
        for _ in range(20):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for block in range(0, calls, BLOCK):
        order = list(runs.items()) if block // BLOCK % 2 == 0 else list(runs.items())[::-1]
        for name, run in order:
            for _ in range(min(BLOCK, calls - block)):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: np.asarray(values) * 1000 for name, values in times.items()}


def batch_rates(
    predictors: dict[str, Predictor], images: np.ndarray, repeats: int
) -> dict[str, float]:
    """Images per second of `predict_batch(images)`, median of `repeats`, paths alternating."""
    for predictor in predictors.values():
        predictor.predict_batch(images[:256])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in predictors}
    for _ in range(repeats):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            predictor.predict_batch(images)
            seconds[name].append(time.perf_counter() - start)
    return {name: len(images) / float(np.median(s)) for name, s in seconds.items()}


def every_model(
    script: Predictor, images: np.ndarray, input28: np.ndarray, calls: int, repeats: int, cores: int
) -> dict[str, dict]:
    """Each committed model on the TorchScript path: one-image score p50 and batch rate.

    `script` is the default model, already loaded on that path: not loaded twice.
    """
    loaded = {
        name: script if name == script.name else Predictor.load(name, inference="torchscript")
        for name in available_models()
    }
    torch.set_num_threads(1)
    with torch.inference_mode():
        single = interleaved_ms(
            {name: (lambda p=p: p.score_batch(input28[None])) for name, p in loaded.items()},
            calls,
        )
    torch.set_num_threads(cores)
    rates = batch_rates(loaded, images, repeats)
    return {
        name: {
            "test_accuracy": predictor.card.test_accuracy,
            "score_p50_ms": float(np.median(single[name])),
            "batch_images_per_second": rates[name],
        }
        for name, predictor in loaded.items()
    }


def main(argv: list[str] | None = None) -> dict:
    args = arguments(__doc__, argv)
    cores = torch.get_num_threads()
    info = machine()
    try:
        predictors = {path: Predictor.load(inference=path) for path in INFERENCE_PATHS}
    except ModelLoadError as error:
        message = f"not measured: no default model ({str(error).splitlines()[0]})"
        save_result("inference", {"skipped": message}, message, quick=args.quick, info=info)
        return {"skipped": message}
    compiled_ok = predictors["torchscript"].inference == "torchscript"
    calls, batch_n, loop_n, repeats = (
        (200, 2_000, 300, 2) if args.quick else (1_000, 10_000, 2_000, 3)
    )
    images = load_test_mnist().test_images[:batch_n]
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0, rgba=True)
    input28 = canvas_to_mnist(canvas)
    eager, script = predictors["eager"], predictors["torchscript"]
    # Compiled and eager agree before anything is timed.
    first, second = eager.score_batch(images[:1000]), script.score_batch(images[:1000])
    max_diff = float(np.abs(first.probabilities - second.probabilities).max())
    same_flags = bool((first.unsure == second.unsure).all() and (first.novel == second.novel).all())

    torch.set_num_threads(1)
    one = torch.tensor(input28[None, None]).float().div_(255)
    network = {"eager": eager.net, "torchscript": script.compiled or eager.net}
    with torch.inference_mode():
        single = interleaved_ms(
            {
                **{f"predict {p}": (lambda p=p: predictors[p].predict(canvas)) for p in predictors},
                "canvas_to_mnist": lambda: canvas_to_mnist(canvas),
                **{f"score {p}": (lambda p=p: predictors[p].score_batch(input28[None]))
                   for p in predictors},
                **{f"network {p}": (lambda p=p: network[p](one)) for p in predictors},
            },
            calls,
        )  # fmt: skip
    s = {name: summary_ms(values) for name, values in single.items()}

    torch.set_num_threads(cores)
    rates = batch_rates(predictors, images, repeats)
    loop_ms = float(np.sum(interleaved_ms(
        {"loop": lambda: [script.predict_batch(im[None]) for im in images[:loop_n]]}, 1
    )["loop"]))  # fmt: skip
    loop_rate = loop_n / loop_ms * 1000
    rss = {path: peak_rss_mb(path) for path in INFERENCE_PATHS}
    others = every_model(script, images, input28, calls, repeats, cores)

    predict_ratio = s["predict eager"]["p50"] / s["predict torchscript"]["p50"]
    network_ratio = s["network eager"]["p50"] / s["network torchscript"]["p50"]
    batch_ratio = rates["torchscript"] / rates["eager"]
    rows = []
    for path in INFERENCE_PATHS:
        p = s[f"predict {path}"]
        rows.append([f"predict(280x280 RGBA canvas), {path}, 1 thread", calls, ms(p["p50"]),
                     ms(p["p99"]), "", f"p99 {goal_verdict(p['p99'], GOAL_P99_MS)}"])  # fmt: skip
    pre = s["canvas_to_mnist"]
    rows.append(["  of which canvas_to_mnist, 1 thread", calls, ms(pre["p50"]), ms(pre["p99"]), "",
                 "the same code on both paths"])  # fmt: skip
    for path in INFERENCE_PATHS:
        p = s[f"score {path}"]
        rows.append([f"  of which score_batch(1 image), {path}", calls, ms(p["p50"]),
                     ms(p["p99"]), "", "network, features, detector, softmax"])  # fmt: skip
    for path in INFERENCE_PATHS:
        p = s[f"network {path}"]
        note = f"eager / TorchScript p50: {network_ratio:.2f}x" if path == "torchscript" else ""
        rows.append([f"network alone, 1 image, {path}, 1 thread", calls, ms(p["p50"]),
                     ms(p["p99"]), "", note])  # fmt: skip
    for path in INFERENCE_PATHS:
        rate = rates[path]
        rows.append([f"predict_batch({batch_n:,}), {path}, {cores} threads", repeats,
                     f"{batch_n / rate * 1000:.0f} (total)", "", f"{rate:,.0f}",
                     goal_verdict(rate, GOAL_BATCH_IMAGES_S, False)])  # fmt: skip
    rows.append([f"one-image loop ({loop_n:,}), torchscript, {cores} threads", 1,
                 f"{loop_ms:.0f} (total)", "", f"{loop_rate:,.0f}",
                 f"batched / looped: {rates['torchscript'] / loop_rate:.1f}x"])  # fmt: skip
    markdown = "\n".join(
        [
            f"Model: {eager.name} ({eager.card.parameters or 0:,} parameters). "
            f"TorchScript {'compiled' if compiled_ok else 'FAILED, eager measured twice'}; "
            f"max |probability difference| to eager on 1,000 test digits {max_diff:.1e}, "
            f"unsure and novel flags {'identical' if same_flags else 'DIFFERENT'}.\n",
            markdown_table(["path", "calls", "p50 ms", "p99 ms", "images/s", "goal"], rows),
            "",
            f"- eager / TorchScript: predict p50 {predict_ratio:.2f}x, network alone p50 "
            f"{network_ratio:.2f}x; predict_batch TorchScript / eager {batch_ratio:.2f}x",
            *(
                f"- peak RSS of a process that loaded the default model ({path}) and predicted "
                f"once: {rss[path][1]:.0f} MB (after imports alone: {rss[path][0]:.0f} MB)"
                for path in INFERENCE_PATHS
            ),
            "- ONNX Runtime: not measured (not a dependency; see README)",
            "",
            "Every committed model, TorchScript, side by side (what a smaller network buys):\n",
            markdown_table(
                ["model", "MNIST test accuracy", "score_batch(1 image) p50 ms, 1 thread",
                 f"predict_batch({batch_n:,}) images/s, {cores} threads"],
                [[name, f"{m['test_accuracy']:.2%}", ms(m["score_p50_ms"]),
                  f"{m['batch_images_per_second']:,.0f}"] for name, m in others.items()],
            ),
        ]
    )  # fmt: skip
    data = {
        "model": eager.name,
        "torchscript_compiled": compiled_ok,
        "max_probability_difference": max_diff,
        "same_unsure_and_novel_flags": same_flags,
        "single_thread_ms": s,
        "eager_over_torchscript_p50": {"predict": predict_ratio, "network": network_ratio},
        "predict_batch": {
            "images": batch_n,
            "images_per_second": rates,
            "torchscript_over_eager": batch_ratio,
        },
        "one_by_one_loop": {"images": loop_n, "ms": loop_ms, "images_per_second": loop_rate},
        "peak_rss_mb": {
            path: {"after_imports": base, "after_load_and_predict": loaded}
            for path, (base, loaded) in rss.items()
        },
        "threads": {"single": 1, "batch": cores},
        "every_model": others,
    }
    save_result("inference", data, markdown, quick=args.quick, info=info)
    return data


if __name__ == "__main__":
    main()
