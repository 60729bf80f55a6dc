"""Inference speed and memory of the default model on this machine: README's latency table.

- `predict(canvas)`: what the app calls after every stroke, a 280x280 RGBA canvas to
  calibrated probabilities (preprocessing included), p50 and p99 over 1,000 calls on
  one thread (the app serves one stroke per request on one core). Goal: p99 <= 2 ms.
- The network alone on one 28x28 image: eager PyTorch beside TorchScript (traced and
  frozen for inference) on the same thread, p50 of each and their ratio.
- `predict_batch` on 10,000 MNIST test images with all cores: images per second
  (goal >= 20,000), beside a one-image-at-a-time loop over the same images.
- Peak resident memory of a fresh process that imported torch and loaded the
  default model (and predicted once), measured in a subprocess with `getrusage`.

    python benchmarks/inference.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
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
    timings_ms,
)
from model.checkpoint import ModelLoadError
from model.predictor import Predictor
from model.strokes import digit_paths, render_strokes
from settings import REPO_ROOT

GOAL_P99_MS = 2.0
GOAL_BATCH_IMAGES_S = 20_000.0

# Runs in a fresh interpreter: peak RSS of "import, load the default model, predict once".
PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from model.predictor import Predictor
    from model.strokes import digit_paths, render_strokes
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    predictor = Predictor.load()
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0, rgba=True)
    predictor.predict(canvas)
    print(baseline, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def peak_rss_mb() -> tuple[float, float]:
    """(after importing torch and the model code, after loading and one predict), in MB."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT.format(root=str(REPO_ROOT))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024  # ru_maxrss is in KiB on Linux


def torchscript(net: torch.nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """The network traced and frozen: weights folded in, BatchNorm merged into convs."""
    with torch.inference_mode(False), torch.no_grad():
        return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, example)))


def main(argv: list[str] | None = None) -> dict:
    args = arguments(__doc__, argv)
    cores = torch.get_num_threads()
    info = machine()
    try:
        predictor = Predictor.load()
    except ModelLoadError as error:
        message = f"not measured: no default model ({str(error).splitlines()[0]})"
        save_result("inference", {"skipped": message}, message, quick=args.quick, info=info)
        return {"skipped": message}
    calls, batch_n, loop_n = (200, 2_000, 300) if args.quick else (1_000, 10_000, 2_000)
    images = load_test_mnist().test_images[:batch_n]
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0, rgba=True)

    torch.set_num_threads(1)
    predict = summary_ms(timings_ms(lambda: predictor.predict(canvas), calls, warmup=20))
    one = torch.tensor(images[:1]).unsqueeze(1).float().div_(255)
    net = predictor.net.eval()
    scripted = torchscript(net, one)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(one), net(one), rtol=1e-4, atol=1e-4)
        eager = summary_ms(timings_ms(lambda: net(one), calls, warmup=20))
        script = summary_ms(timings_ms(lambda: scripted(one), calls, warmup=20))

    torch.set_num_threads(cores)
    batch_ms = float(np.median(timings_ms(lambda: predictor.predict_batch(images), 3, warmup=1)))
    loop_ms = float(
        timings_ms(lambda: [predictor.predict_batch(im[None]) for im in images[:loop_n]], 1, 1)[0]
    )
    batch_rate, loop_rate = batch_n / batch_ms * 1000, loop_n / loop_ms * 1000
    rss_base, rss_loaded = peak_rss_mb()

    ratio = eager["p50"] / script["p50"]
    rows = [
        ["predict(280x280 RGBA canvas), 1 thread", calls, ms(predict["p50"]),
         ms(predict["p99"]), "", f"p99 {goal_verdict(predict['p99'], GOAL_P99_MS)}"],
        ["network alone, 1 image, eager, 1 thread", calls, ms(eager["p50"]), ms(eager["p99"]),
         "", ""],
        ["network alone, 1 image, TorchScript, 1 thread", calls, ms(script["p50"]),
         ms(script["p99"]), "", f"eager / TorchScript p50: {ratio:.2f}x"],
        [f"predict_batch({batch_n:,}), {cores} threads", 3, f"{batch_ms:.0f} (total)", "",
         f"{batch_rate:,.0f}", goal_verdict(batch_rate, GOAL_BATCH_IMAGES_S, False)],
        [f"one-image loop ({loop_n:,}), {cores} threads", 1, f"{loop_ms:.0f} (total)", "",
         f"{loop_rate:,.0f}", f"batched / looped: {batch_rate / loop_rate:.1f}x"],
    ]  # fmt: skip
    markdown = "\n".join(
        [
            f"Model: {predictor.name} ({predictor.card.get('parameters', 0):,} parameters).\n",
            markdown_table(["path", "calls", "p50 ms", "p99 ms", "images/s", "goal"], rows),
            "",
            f"- peak RSS of a process that loaded the default model and predicted once: "
            f"{rss_loaded:.0f} MB (after imports alone: {rss_base:.0f} MB)",
            "- ONNX Runtime: not measured (not a dependency; see README)",
        ]
    )
    data = {
        "model": predictor.name,
        "predict_canvas_ms": predict,
        "network_eager_ms": eager,
        "network_torchscript_ms": script,
        "eager_over_torchscript_p50": ratio,
        "predict_batch": {"images": batch_n, "ms": batch_ms, "images_per_second": batch_rate},
        "one_by_one_loop": {"images": loop_n, "ms": loop_ms, "images_per_second": loop_rate},
        "peak_rss_mb": {"after_imports": rss_base, "after_load_and_predict": rss_loaded},
        "threads": {"single": 1, "batch": cores},
    }
    save_result("inference", data, markdown, quick=args.quick, info=info)
    return data


if __name__ == "__main__":
    main()
