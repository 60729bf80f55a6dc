"""Inference speed and memory of the default model on this machine: README's latency table.

Every inference path of the Predictor (`DIGITLAB_INFERENCE`): ONNX Runtime (the
default), TorchScript (traced, frozen, BatchNorm folded) and eager PyTorch, measured
side by side in the same run, their calls interleaved in blocks so that a change in
the machine's load falls on all alike.

- `predict(canvas)`: what the app calls after every stroke, a 280x280 RGBA canvas to
  calibrated probabilities (preprocessing and novelty detector included), p50 and
  p99 over 1,000 calls on one thread (the app serves one stroke per request on one
  core). Goal: p99 <= 2 ms. Measured on one canvas (a three), and on drawings by
  the held-out people of `model.handwriting`, each once: brush, size and place vary
  as real users' do, so the stroke-width fit runs on some and not on others. Where
  its time goes: `canvas_to_mnist` (its fast path for clean drawings, and the full
  path beside it), and `score_batch` on the one 28x28 image (network, features,
  detector, softmax).
- The network alone on one 28x28 image (with the detector's pooled features, as the
  Predictor runs it), per path.
- `predict_batch` on 10,000 MNIST test images with all cores: images per second of
  each path, beside a one-image-at-a-time loop over the same images. Goal: the
  default path >= 2x the rate issue 14 was filed against, measured in the same run:
  the default model of then (`PREVIOUS_DEFAULT`, a full-width resnet, from git
  history) on the default path of then (TorchScript).
- What int8 and bfloat16 would buy, measured and not served: the default graph
  quantized by ONNX Runtime (static, per channel), and the same network in PyTorch
  under autocast to bfloat16; their batch rates and how far their answers move.
- Peak resident memory of a fresh process that imported the model code and loaded
  the default model (and predicted once), per path, read from /proc in a subprocess,
  and whether that process imported torch (the ONNX path serving the card's
  verified graph does not). Goal: no more than TorchScript's 299 MB.

    python benchmarks/inference.py [--quick]
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    PREVIOUS_DEFAULT,
    arguments,
    goal_verdict,
    load_test_mnist,
    machine,
    markdown_table,
    ms,
    previous_default,
    save_result,
    summary_ms,
    timings_ms,
)
from model.checkpoint import ModelLoadError
from model.data import Mnist
from model.handwriting import draw_digit, people
from model.onnx_graph import serving_graph
from model.predictor import BatchScores, Predictor, available_models
from model.preprocess import canvas_to_mnist
from model.runtime import OnnxNetwork
from model.strokes import digit_paths, render_strokes
from settings import DEFAULT_INFERENCE, INFERENCE_PATHS, REPO_ROOT

GOAL_P99_MS = 2.0
# predict_batch of the default path against the rate issue 14 was filed against: the
# default model and path of then (`PREVIOUS_DEFAULT` on TorchScript), in the same run.
GOAL_BATCH_RATIO = 2.0
FILED_AGAINST = f"{PREVIOUS_DEFAULT} torchscript"
# Peak RSS of a process that loaded the default model, as TorchScript measured it.
GOAL_PEAK_RSS_MB = 299.0
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
    print(baseline, peak_kib(), predictor.inference, "torch" in sys.modules)
    """
)


def peak_rss_mb(inference: str) -> tuple[float, float, bool]:
    """MB after importing the model code, MB after loading and one predict, torch imported?"""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT.format(root=str(REPO_ROOT))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DIGITLAB_INFERENCE": inference},
    ).stdout.split()
    if out[2] != inference:
        raise RuntimeError(f"the subprocess ran {out[2]}, not {inference}")
    return int(out[0]) / 1024, int(out[1]) / 1024, out[3] == "True"


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


def multiply_adds(net: torch.nn.Module) -> int:
    """Multiply-adds of one 28x28 image through `net`'s convolutions and linear layers."""
    macs = 0

    def count(module: torch.nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
            macs += output.numel() * per_output
        elif isinstance(module, torch.nn.Linear):
            macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    with torch.inference_mode():
        net(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return macs


def float32_ceiling(net: torch.nn.Module, cores: int) -> dict:
    """What float32 arithmetic allows here: a large matrix product's rate on `cores`
    threads over `net`'s multiply-adds per image. The batch goal is weighed against it."""
    torch.set_num_threads(cores)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    seconds = float(timings_ms(lambda: a @ b, repeats=10, warmup=2).min()) / 1000
    gflops = 2 * 2048**3 / seconds / 1e9
    macs = multiply_adds(net)
    return {"macs_per_image": macs, "gemm_gflops": gflops,
            "images_per_second": gflops * 1e9 / (2 * macs)}  # fmt: skip


def int8_graph(graph: bytes, calibration: np.ndarray) -> bytes:
    """`graph` quantized to int8 by ONNX Runtime (static, per channel, QDQ), its activation
    ranges calibrated on `calibration` (MNIST-form uint8 digits, never the test set)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            x = np.divide(calibration[:, None], 255, dtype=np.float32)
            self._batches = iter(np.array_split(x, max(1, len(x) // 100)))

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {"image": batch}

    with tempfile.TemporaryDirectory() as folder:
        source, prepared, quantized = (Path(folder) / n for n in ("in", "pre", "int8"))
        source.write_bytes(graph)
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Batches(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        return quantized.read_bytes()


def int8_option(
    default: Predictor,
    images: np.ndarray,
    reference: BatchScores,
    calibration: np.ndarray,
    repeats: int,
) -> dict:
    """What int8 would buy, measured but not served: the default graph quantized, its
    batch rate, and how its answers differ (the card's unsure rule, nothing refitted)."""
    if default.onnx is None or default.novelty is None:
        return {}
    network = OnnxNetwork(int8_graph(default.onnx.graph, calibration))
    x = np.divide(images[:, None], 255, dtype=np.float32)

    def outputs() -> tuple[np.ndarray, np.ndarray]:  # predict_batch's work: the graph
        probabilities, features, _ = network(x)
        return probabilities, features

    return {
        **lower_precision(default, reference, outputs, repeats),
        "calibration_digits": len(calibration),
    }


LOWER_PRECISION_CHUNK = 500  # images per bfloat16 forward pass


def bf16_option(
    default: Predictor, images: np.ndarray, reference: BatchScores, repeats: int
) -> dict:
    """What bfloat16 would buy, measured but not served: the same served network in
    PyTorch under autocast to bfloat16 (oneDNN; AMX where the CPU has it), channels last."""
    if default.novelty is None:
        return {}
    graph = serving_graph(default.net, default.card).to(memory_format=torch.channels_last)
    x = torch.from_numpy(np.divide(images[:, None], 255, dtype=np.float32))

    def outputs() -> tuple[np.ndarray, np.ndarray]:
        parts = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for start in range(0, len(x), LOWER_PRECISION_CHUNK):
                chunk = x[start : start + LOWER_PRECISION_CHUNK]
                probabilities, features, _ = graph(
                    chunk.contiguous(memory_format=torch.channels_last)
                )
                parts.append((probabilities.float().numpy(), features.float().numpy()))
        return np.concatenate([p for p, _ in parts]), np.concatenate([f for _, f in parts])

    return lower_precision(default, reference, outputs, repeats)


def lower_precision(
    default: Predictor,
    reference: BatchScores,
    outputs: Callable[[], tuple[np.ndarray, np.ndarray]],
    repeats: int,
) -> dict:
    """Batch rate of `outputs` (probabilities, detector features) with the detector, and
    how its answers differ from `reference`, the default path's on the same images (the
    card's unsure rule unchanged)."""

    def scores() -> tuple[np.ndarray, np.ndarray]:  # predict_batch's work: net, detector
        probabilities, features = outputs()
        return probabilities, default.unsure_flags(
            probabilities, default.novelty.is_novel(features)
        )

    seconds = float(np.median(timings_ms(scores, repeats=repeats, warmup=1))) / 1000
    probabilities, unsure = scores()
    count = len(reference.probabilities)
    same_digit = probabilities.argmax(1) == reference.probabilities.argmax(1)
    return {
        "images_per_second": count / seconds,
        "argmax_agreement": float(same_digit.mean()),
        "max_probability_difference": float(np.abs(probabilities - reference.probabilities).max()),
        "unsure_flags_differ": float((unsure != reference.unsure).mean()),
        "unsure_share": float(unsure.mean()),
    }


def every_model(
    default: Predictor,
    images: np.ndarray,
    input28: np.ndarray,
    calls: int,
    repeats: int,
    cores: int,
) -> dict[str, dict]:
    """Each committed model on the default path: one-image score p50 and batch rate.

    `default` is the default model, already loaded on that path: not loaded twice.
    """
    loaded = {
        name: default if name == default.name else Predictor.load(name, inference=DEFAULT_INFERENCE)
        for name in available_models()
    }
    torch.set_num_threads(1)
    single = interleaved_ms(
        {name: (lambda p=p: p.score_batch(input28[None])) for name, p in loaded.items()}, calls
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


def agreement(predictors: dict[str, Predictor], images: np.ndarray) -> dict[str, dict]:
    """Each fast path against eager: max |probability difference|, identical flags."""
    reference = predictors["eager"].score_batch(images)
    result = {}
    for path, predictor in predictors.items():
        if path == "eager":
            continue
        got = predictor.score_batch(images)
        result[path] = {
            "in_use": predictor.inference,
            "max_probability_difference": float(
                np.abs(got.probabilities - reference.probabilities).max()
            ),
            "same_flags": bool(
                (got.unsure == reference.unsure).all() and (got.novel == reference.novel).all()
            ),
        }
    return result


def single_thread_ms(
    predictors: dict[str, Predictor], canvas: np.ndarray, input28: np.ndarray, calls: int
) -> dict[str, dict]:
    """p50/p99 of predict, preprocessing (fast and full), score and network alone, per path."""
    one = torch.tensor(input28[None, None]).float().div_(255)
    one_np = one.numpy()
    network = {
        "eager": lambda: predictors["eager"].net(one),
        "torchscript": lambda: predictors["torchscript"].compiled(one),
        "onnx": lambda: predictors["onnx"].onnx(one_np),
    }
    torch.set_num_threads(1)
    with torch.inference_mode():
        single = interleaved_ms(
            {
                **{f"predict {p}": (lambda p=p: predictors[p].predict(canvas)) for p in predictors},
                "canvas_to_mnist": lambda: canvas_to_mnist(canvas),
                "canvas_to_mnist full path": lambda: canvas_to_mnist(canvas, fast_path=False),
                **{f"score {p}": (lambda p=p: predictors[p].score_batch(input28[None]))
                   for p in predictors},
                **{f"network {p}": network[p] for p in predictors},
            },
            calls,
        )  # fmt: skip
    return {name: summary_ms(values) for name, values in single.items()}


def drawings_ms(predictors: dict[str, Predictor], drawings: list[np.ndarray]) -> dict[str, dict]:
    """p50/p99 of predict and canvas_to_mnist over `drawings`, each once per run.

    `interleaved_ms` takes the turns, in blocks: taking turns on every drawing would
    leave each call the caches another path had filled. Each run walks the drawings
    in the same order, so the runs of one block see the same drawings.
    """
    runs = {f"predict {p}": predictors[p].predict for p in predictors}
    runs["canvas_to_mnist"] = canvas_to_mnist
    walks = {name: _walk(run, drawings) for name, run in runs.items()}
    times = interleaved_ms(walks, len(drawings))
    return {name: summary_ms(values) for name, values in times.items()}


def _walk(run: Callable[[np.ndarray], object], drawings: list[np.ndarray]) -> Callable[[], object]:
    """A call of `run` on the next of `drawings`, round and round."""
    upcoming = itertools.cycle(drawings)
    return lambda: run(next(upcoming))


def held_out_drawings(count: int) -> list[np.ndarray]:
    """`count` canvases by held-out people, each drawing a different digit in turn."""
    rng = np.random.default_rng(0)
    crowd = people("held-out", math.ceil(count / 10))
    return [draw_digit(who, digit, rng) for who in crowd for digit in range(10)][:count]


def peak_rss_of(path: str) -> dict:
    """`peak_rss_mb` of one inference path, as the result file holds it."""
    after_imports, after_load_and_predict, torch_imported = peak_rss_mb(path)
    return {
        "after_imports": after_imports,
        "after_load_and_predict": after_load_and_predict,
        "torch_imported": torch_imported,
    }


def lower_precision_options(
    predictors: dict[str, Predictor],
    images: np.ndarray,
    reference: BatchScores,
    mnist: Mnist,
    repeats: int,
) -> dict[str, dict]:
    """The int8 and bfloat16 options for batches, measured and not served."""
    default = predictors[DEFAULT_INFERENCE]
    calibration = mnist.split()[2][:1000]
    return {
        "int8_not_served": int8_option(default, images, reference, calibration, repeats),
        "bf16_not_served": bf16_option(predictors["eager"], images, reference, repeats),
    }


def table_rows(s: dict, rates: dict, sizes: dict, loop_ms: float, cores: int) -> list[list]:
    """README's latency table: one row per measurement, the paths side by side."""
    calls, batch_n, loop_n, repeats = (sizes[k] for k in ("calls", "batch", "loop", "repeats"))
    rows = []
    for path in INFERENCE_PATHS:
        p = s[f"predict {path}"]
        rows.append([f"predict(one 280x280 RGBA canvas), {path}, 1 thread", calls, ms(p["p50"]),
                     ms(p["p99"]), "", f"p99 {goal_verdict(p['p99'], GOAL_P99_MS)}"])  # fmt: skip
    for name, note in (
        ("canvas_to_mnist", "fast path (clean drawing), every path"),
        ("canvas_to_mnist full path", "background fit and blob search"),
    ):
        p = s[name]
        rows.append([f"  of which {name}, 1 thread", calls, ms(p["p50"]), ms(p["p99"]), "", note])
    for path in INFERENCE_PATHS:
        p = s[f"score {path}"]
        rows.append([f"  of which score_batch(1 image), {path}", calls, ms(p["p50"]),
                     ms(p["p99"]), "", "network, features, detector, softmax"])  # fmt: skip
    drawn, count = s["drawings"], sizes["drawings"]
    for path in INFERENCE_PATHS:
        p = drawn[f"predict {path}"]
        rows.append([f"predict({count} held-out people's drawings), {path}, 1 thread", count,
                     ms(p["p50"]), ms(p["p99"]), "",
                     f"p99 {goal_verdict(p['p99'], GOAL_P99_MS)}"])  # fmt: skip
    p = drawn["canvas_to_mnist"]
    rows.append([f"  of which canvas_to_mnist, {count} drawings", count, ms(p["p50"]),
                 ms(p["p99"]), "", "stroke width refitted on some"])  # fmt: skip
    for path in INFERENCE_PATHS:
        p = s[f"network {path}"]
        rows.append([f"network alone, 1 image, {path}, 1 thread", calls, ms(p["p50"]),
                     ms(p["p99"]), "", ""])  # fmt: skip
    for path in INFERENCE_PATHS:
        rate = rates[path]
        note = f"{rate / rates[FILED_AGAINST]:.2f}x filed (goal >= {GOAL_BATCH_RATIO:.0f}x)"
        rows.append([f"predict_batch({batch_n:,}), {path}, {cores} threads", repeats,
                     f"{batch_n / rate * 1000:.0f} (total)", "", f"{rate:,.0f}", note])  # fmt: skip
    rate = rates[FILED_AGAINST]
    rows.append([f"predict_batch({batch_n:,}), filed: full-width resnet ({PREVIOUS_DEFAULT}), "
                 f"torchscript, {cores} threads", repeats, f"{batch_n / rate * 1000:.0f} (total)",
                 "", f"{rate:,.0f}", "the rate issue 14 was filed against"])  # fmt: skip
    loop_rate = loop_n / loop_ms * 1000
    rows.append([f"one-image loop ({loop_n:,}), {DEFAULT_INFERENCE}, {cores} threads", 1,
                 f"{loop_ms:.0f} (total)", "", f"{loop_rate:,.0f}",
                 f"batched / looped: {rates[DEFAULT_INFERENCE] / loop_rate:.1f}x"])  # fmt: skip
    return rows


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
    counts = (200, 2_000, 300, 2, 100) if args.quick else (1_000, 10_000, 2_000, 3, 1_000)
    sizes = dict(zip(("calls", "batch", "loop", "repeats", "drawings"), counts, strict=True))
    mnist = load_test_mnist()
    images = mnist.test_images[: sizes["batch"]]
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0, rgba=True)
    input28 = canvas_to_mnist(canvas)
    agree = agreement(predictors, images[:1000])  # before anything is timed
    s = single_thread_ms(predictors, canvas, input28, sizes["calls"])
    s["drawings"] = drawings_ms(predictors, held_out_drawings(sizes["drawings"]))
    torch.set_num_threads(cores)
    with tempfile.TemporaryDirectory() as folder:
        filed = Predictor.load(previous_default(Path(folder)), inference="torchscript")
    rates = batch_rates(predictors | {FILED_AGAINST: filed}, images, sizes["repeats"])
    default = predictors[DEFAULT_INFERENCE]
    reference = default.score_batch(images)
    loop_n = sizes["loop"]
    loop_ms = float(np.sum(interleaved_ms(
        {"loop": lambda: [default.predict_batch(im[None]) for im in images[:loop_n]]}, 1
    )["loop"]))  # fmt: skip
    others = every_model(default, images, input28, sizes["calls"], sizes["repeats"], cores)
    data = {
        "model": default.name,
        "default_path": DEFAULT_INFERENCE,
        "agreement_with_eager": agree,
        "single_thread_ms": s,
        "predict_p99_over_onnx": {
            p: s[f"predict {p}"]["p99"] / s["predict onnx"]["p99"] for p in INFERENCE_PATHS
        },
        "predict_batch": {
            "images": sizes["batch"],
            "images_per_second": rates,
            "over_torchscript": {p: rates[p] / rates["torchscript"] for p in INFERENCE_PATHS},
            "over_filed": {p: rates[p] / rates[FILED_AGAINST] for p in INFERENCE_PATHS},
            "float32_ceiling": float32_ceiling(predictors["eager"].net, cores),
            **lower_precision_options(predictors, images, reference, mnist, sizes["repeats"]),
        },
        "one_by_one_loop": {
            "images": loop_n,
            "ms": loop_ms,
            "images_per_second": loop_n / loop_ms * 1000,
        },
        "peak_rss_mb": {path: peak_rss_of(path) for path in INFERENCE_PATHS},
        "threads": {"single": 1, "batch": cores},
        "every_model": others,
    }
    markdown = report(data, table_rows(s, rates, sizes, loop_ms, cores), sizes, cores)
    save_result("inference", data, markdown, quick=args.quick, info=info)
    return data


def report(data: dict, rows: list[list], sizes: dict, cores: int) -> str:
    """The Markdown README quotes: agreement, the table, ratios, memory, every model."""
    agree, rss, others = data["agreement_with_eager"], data["peak_rss_mb"], data["every_model"]
    s = data["single_thread_ms"]
    default = data["default_path"]
    fallback = [p for p, a in agree.items() if a["in_use"] != p]
    failed = f"; FAILED to build, eager measured instead: {', '.join(fallback)}" if fallback else ""
    return "\n".join(
        [
            f"Model: {data['model']}; default path {default}{failed}. "
            "Against eager on 1,000 test digits: "
            + "; ".join(
                f"{p} max |probability difference| {a['max_probability_difference']:.1e}, "
                f"unsure and novel flags {'identical' if a['same_flags'] else 'DIFFERENT'}"
                for p, a in agree.items()
            )
            + ".\n",
            markdown_table(["path", "calls", "p50 ms", "p99 ms", "images/s", "goal"], rows),
            "",
            "- predict p99 relative to ONNX Runtime: "
            + ", ".join(f"{p} {r:.2f}x" for p, r in data["predict_p99_over_onnx"].items())
            + f"; canvas_to_mnist full path / fast path p50: "
            f"{s['canvas_to_mnist full path']['p50'] / s['canvas_to_mnist']['p50']:.2f}x",
            ceiling_line(data["predict_batch"], default),
            *lower_precision_lines(data["predict_batch"]),
            *(
                f"- peak RSS of a process that loaded the default model ({path}) and predicted "
                f"once: {rss[path]['after_load_and_predict']:.0f} MB (after the model code's "
                f"imports: {rss[path]['after_imports']:.0f} MB; torch "
                f"{'imported' if rss[path]['torch_imported'] else 'never imported'})"
                + (f", {goal_verdict(rss[path]['after_load_and_predict'], GOAL_PEAK_RSS_MB)}"
                   if path == default else "")
                for path in INFERENCE_PATHS
            ),
            "",
            f"Every committed model, {default}, side by side (what a smaller network buys):\n",
            markdown_table(
                ["model", "MNIST test accuracy", "score_batch(1 image) p50 ms, 1 thread",
                 f"predict_batch({sizes['batch']:,}) images/s, {cores} threads"],
                [[name, f"{m['test_accuracy']:.2%}", ms(m["score_p50_ms"]),
                  f"{m['batch_images_per_second']:,.0f}"] for name, m in others.items()],
            ),
        ]
    )  # fmt: skip


def ceiling_line(batch: dict, default: str) -> str:
    """The batch rates beside what float32 arithmetic allows on these cores."""
    ceiling, rates = batch["float32_ceiling"], batch["images_per_second"]
    goal = GOAL_BATCH_RATIO * rates[FILED_AGAINST]
    return (
        f"- float32 ceiling: a 2048 x 2048 matrix product runs at "
        f"{ceiling['gemm_gflops']:,.0f} GFLOP/s on these threads; at the network's "
        f"{ceiling['macs_per_image'] / 1e6:.1f} M multiply-adds per image that is "
        f"{ceiling['images_per_second']:,.0f} images/s. {default} reaches "
        f"{rates[default] / ceiling['images_per_second']:.0%} of it, TorchScript "
        f"{rates['torchscript'] / ceiling['images_per_second']:.0%}; the goal "
        f"({GOAL_BATCH_RATIO:.0f}x the rate filed against, {goal:,.0f} images/s) is "
        f"{goal / ceiling['images_per_second']:.0%} of it"
    )


def lower_precision_lines(batch: dict) -> list[str]:
    """What int8 and bfloat16 would buy, beside the goal's ratio."""
    int8, bf16 = batch["int8_not_served"], batch.get("bf16_not_served", {})
    if not int8:
        return ["- int8: not measured (the default path is not ONNX Runtime with a detector)"]
    lines = [
        "- int8, measured but not served: ONNX Runtime's static quantization of the same "
        f"graph (per channel, activation ranges from {int8['calibration_digits']:,} "
        f"validation digits) {_differences(int8, batch)}"
    ]
    if bf16:
        lines.append(
            "- bfloat16, measured but not served: the same network in PyTorch under autocast "
            f"to bfloat16 (oneDNN), channels last, {_differences(bf16, batch)}"
        )
    return lines


def _differences(option: dict, batch: dict) -> str:
    rates = batch["images_per_second"]
    return (
        f"does predict_batch's work at {option['images_per_second']:,.0f} images/s, "
        f"{option['images_per_second'] / rates['torchscript']:.2f}x TorchScript. On the same "
        f"{batch['images']:,} test digits it names the default path's digit for "
        f"{option['argmax_agreement']:.2%} of them, its probabilities differ by up to "
        f"{option['max_probability_difference']:.3f}, and its unsure flags (the card's rule, "
        f"nothing refitted: {option['unsure_share']:.2%} flagged) differ on "
        f"{option['unsure_flags_differ']:.2%}"
    )


if __name__ == "__main__":
    main()
