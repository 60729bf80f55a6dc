"""A saved model as one self-contained ONNX graph, verified against PyTorch before it is kept.

The graph takes what `canvas_to_mnist` returns divided by 255 (float32 N x 1 x 28 x 28
in [0, 1], light ink on black) and gives, in this order: the calibrated probabilities
(MNIST normalisation and the card's temperature inside the graph), the pooled features
the novelty detector reads (N x 0 for a model without one), and the raw logits.

Exported with torch's TorchScript-based exporter (`dynamo=False`): it runs offline
with the installed packages, while the torch.export-based one needs onnxscript. The
card's `onnx` entry records the file's SHA-256, the weights it was made from and how
closely it agreed with PyTorch on MNIST's test set; `model.runtime` loads a file only
when all three still hold.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.card import ModelCard, OnnxEntry, sha256_file, temporary_beside, write_card
from model.checkpoint import card_path
from model.onnx_graph import OPSET, graph_bytes, serving_graph
from model.runtime import INPUT_NAME, OUTPUT_NAMES, OnnxNetwork

# Export is refused below this share of MNIST test digits with the same argmax as PyTorch.
MIN_ARGMAX_AGREEMENT = 0.999
VERIFY_BATCH = 500


class ExportError(ValueError):
    """The graph could not be written or did not agree with PyTorch; nothing was kept."""


@dataclass(frozen=True)
class Verification:
    """How the ONNX graph compared with the PyTorch network on the same images."""

    images: int
    argmax_agreement: float
    max_probability_difference: float
    unsure_agreement: float | None  # None without a novelty detector


def verify(
    graph: bytes, net: nn.Module, card: ModelCard, images: np.ndarray, detector=None
) -> Verification:
    """Run `graph` in ONNX Runtime and the network in PyTorch on N x 28 x 28 uint8 images."""
    onnx_net = OnnxNetwork(graph, threads=torch.get_num_threads())
    reference = serving_graph(net, card).cpu()
    agree = unsure_agree = 0
    worst = 0.0
    threshold = card.unsure_threshold
    for start in range(0, len(images), VERIFY_BATCH):
        x = images[start : start + VERIFY_BATCH].astype(np.float32)[:, None] / 255
        got_p, got_f, _ = onnx_net(x)
        with torch.inference_mode():
            want_p, want_f, _ = (t.numpy() for t in reference(torch.from_numpy(x)))
        agree += int((got_p.argmax(1) == want_p.argmax(1)).sum())
        worst = max(worst, float(np.abs(got_p - want_p).max()))
        if detector is not None:
            got_u = (got_p.max(1) < threshold) | detector.is_novel(got_f)
            want_u = (want_p.max(1) < threshold) | detector.is_novel(want_f)
            unsure_agree += int((got_u == want_u).sum())
    n = len(images)
    return Verification(n, agree / n, worst, unsure_agree / n if detector is not None else None)


def export_model(weights: Path, out: Path | None, images: np.ndarray) -> tuple[Path, OnnxEntry]:
    """Export the verified checkpoint `weights` as <name>.onnx beside it, and to `out`.

    Verifies on `images` (MNIST's test set), then writes the graph beside the weights
    and the card's `onnx` entry through temporary files renamed into place: a failure
    at any step leaves both files as they were. The card always vouches for the graph
    beside the weights, which serving reads; `out` elsewhere gets a copy of the same
    bytes, so exporting for another runtime never changes what the app serves. Returns
    the path written for the caller and the card's new entry.
    """
    from model.checkpoint import load_checkpoint, load_detector

    net, card = load_checkpoint(weights)
    detector = load_detector(weights, card)
    served = Path(weights).with_suffix(".onnx")
    out = Path(out) if out is not None else served
    for path in dict.fromkeys((out, served)):  # the caller's path first
        _check_writable(path)
    graph = graph_bytes(net, card)
    check = verify(graph, net, card, images, detector)
    if check.argmax_agreement < MIN_ARGMAX_AGREEMENT:
        raise ExportError(
            f"the ONNX graph of {weights} agrees with PyTorch on only "
            f"{check.argmax_agreement:.2%} of MNIST test digits (needs "
            f"{MIN_ARGMAX_AGREEMENT:.1%}); nothing written"
        )
    card = replace(card, onnx=_card_entry(served, card, check))
    temporary: list[Path] = []
    try:
        copy = None if out.resolve() == served.resolve() else _temporary_beside(out, temporary)
        if copy is not None:
            copy.write_bytes(graph)
        card = write_together(served, graph, card_path(weights), card)
        if copy is not None:
            os.replace(copy, out)
    except OSError as err:
        raise ExportError(f"cannot write {err.filename or out}: {err.strerror or err}") from None
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
    return out, card.onnx


def _card_entry(served: Path, card: ModelCard, check: Verification) -> OnnxEntry:
    import onnxruntime

    return OnnxEntry(
        file=served.name,
        sha256="",  # filled in by write_together from the bytes written
        weights_sha256=card.weights_sha256,
        opset=OPSET,
        input=f"{INPUT_NAME}: float32 N x 1 x 28 x 28 in [0, 1], light ink on black",
        outputs=OUTPUT_NAMES,
        torch_version=torch.__version__,
        onnxruntime_version=onnxruntime.__version__,
        verified_on=f"MNIST test ({check.images:,} digits), ONNX Runtime against PyTorch",
        **{k: v for k, v in asdict(check).items() if k != "images"},
    )


def _check_writable(out: Path) -> None:
    """Fail before any work when `out` cannot be written (missing folder, no permission)."""
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name ending in .onnx")
    if out.suffix != ".onnx":
        raise ExportError(f"{out}: the output file must end in .onnx")
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {out.parent} does not exist")
    try:
        tempfile.TemporaryFile(dir=out.parent).close()
    except OSError as err:
        raise ExportError(f"cannot write {out}: {err.strerror or err}") from None


def write_together(out: Path, graph: bytes, card_file: Path, card: ModelCard) -> ModelCard:
    """Write the graph and the card (its `onnx` entry completed) so that both change or neither.

    Both go to temporary files first; the old graph is moved aside before the new one
    takes its place, and put back if the card cannot be replaced.
    """
    temporary: list[Path] = []
    try:
        graph_tmp = _temporary_beside(out, temporary)
        graph_tmp.write_bytes(graph)
        card = replace(card, onnx=replace(card.onnx, sha256=sha256_file(graph_tmp)))
        card_tmp = _temporary_beside(card_file, temporary)
        write_card(card_tmp, card)
        old_graph = _temporary_beside(out, temporary) if out.exists() else None
        if old_graph is not None:
            os.replace(out, old_graph)
        os.replace(graph_tmp, out)
        try:
            os.replace(card_tmp, card_file)
        except OSError:
            if old_graph is not None:
                os.replace(old_graph, out)
            else:
                out.unlink()
            raise
    except OSError as err:
        raise ExportError(f"cannot write {err.filename or out}: {err.strerror or err}") from None
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
    return card


def _temporary_beside(path: Path, made: list[Path]) -> Path:
    """`temporary_beside`, remembered in `made` to be removed at the end."""
    made.append(temporary_beside(path))
    return made[-1]
