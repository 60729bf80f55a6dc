"""digitlab's command line: train a model, evaluate a saved one, predict image files.

    python run_model.py                       # train the default architecture
    python run_model.py --arch cnn --epochs 5
    python run_model.py --recipe fast         # the quickest route to 99 % (README)
    python run_model.py evaluate [--model saved_models/resnet.pt]
    python run_model.py predict [--model PATH] [--json] FILE...
    python run_model.py export [--model NAME] [--out FILE.onnx]

This file parses arguments and calls `model.*`; it holds no logic of its own.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from settings import get_settings

SUBCOMMANDS = ("train", "evaluate", "predict", "export")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four MNIST IDX files (gzip or raw); default: $MNIST_DIR, "
        "else downloaded once into the cache with checksum verification",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_model.py",
        description="Train, evaluate and use digitlab's MNIST models.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,predict,export}")
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_export(sub)
    return parser


def _add_train(sub: argparse._SubParsersAction) -> None:
    from model.config import RECIPES
    from model.nets import ARCHITECTURES

    settings = get_settings()
    train = sub.add_parser(
        "train",
        help="train a model (the default command)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument(
        "--recipe",
        default="default",
        choices=list(RECIPES),
        help="starting settings: 'default' trains the best model of the architecture, "
        "'fast' the quickest to 99 %% test accuracy (LeNet-5, 4 epochs, no augmentation)",
    )
    train.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        help=f"network architecture (default: the recipe's, else {settings.default_model})",
    )
    train.add_argument(
        "--epochs", type=int, help="passes over the training set (default: per architecture)"
    )
    train.add_argument("--batch-size", type=int, help="images per step (default: per architecture)")
    train.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    train.add_argument(
        "--device",
        default=settings.device,
        help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps",
    )
    train.add_argument(
        "--seed", type=int, default=0, help="seed for initialisation, shuffling and augmentation"
    )
    train.add_argument(
        "--limit", type=int, help="train on the first N training images only (smoke runs, tests)"
    )
    train.add_argument(
        "--out", type=Path, default=settings.models_dir, help="folder for <name>.pt and <name>.json"
    )
    train.add_argument(
        "--results-dir", type=Path, default=settings.results_dir, help="folder for the pictures"
    )
    train.add_argument(
        "--name",
        help="file name of the saved model (default: the architecture, '-fast' appended "
        "for the fast recipe)",
    )
    train.add_argument(
        "--no-augment",
        dest="augment",
        action="store_const",
        const=False,
        help="train without data augmentation",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    _common(train)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    settings = get_settings()
    evaluate = sub.add_parser(
        "evaluate",
        help="test accuracy, per-digit accuracy and calibration of a saved model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        default=settings.models_dir / f"{settings.default_model}.pt",
        help="weights file (its card <name>.json sits beside it)",
    )
    evaluate.add_argument(
        "--update-card",
        action="store_true",
        help="fit the novelty detector and measure drawings and non-digits, recording "
        "them in the card (training does this itself; use it for models trained before "
        "it did)",
    )
    _common(evaluate)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser(
        "predict",
        help="predict the digit in image files (PNG, JPEG)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument(
        "--model", help="weights file or model name in saved_models/ (default: the default model)"
    )
    predict.add_argument(
        "--json", action="store_true", help="one JSON object per line, with all probabilities"
    )
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files")


def _add_export(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="write a model as one ONNX graph (probabilities and novelty features), "
        "verified against PyTorch on MNIST test",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.add_argument(
        "--model", help="weights file or model name in saved_models/ (default: the default model)"
    )
    export.add_argument(
        "--out", type=Path, help="ONNX file to write (default: <name>.onnx beside the weights)"
    )
    _common(export)


def run_train(args: argparse.Namespace, argv: list[str]) -> int:
    from model.config import TrainConfig
    from model.distributed import process_group
    from model.pipeline import load_data, train_and_save

    settings = get_settings()
    # Under `torchrun --nproc_per_node N` this joins the N processes; alone, it does nothing.
    ranks = (settings.world_size, settings.rank, settings.local_rank)
    with process_group(*ranks, args.device) as device:
        config = TrainConfig.for_recipe(
            args.recipe,
            args.arch or (None if args.recipe != "default" else settings.default_model),
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=device,
            limit=args.limit,
            augment=args.augment,
        )
        name = args.name or config.arch + ("" if args.recipe == "default" else f"-{args.recipe}")
        mnist = load_data(args.data_dir or settings.mnist_dir, settings.mnist_cache_dir)
        command = "python run_model.py " + shlex.join(argv) if argv else "python run_model.py"
        card = train_and_save(
            config, mnist, args.out, args.results_dir, command, name=name,
            progress=not args.quiet,
        )  # fmt: skip
    if card is None:  # a rank other than 0: rank 0 reports and writes
        return 0
    calibration = card.calibration
    print(
        f"{card.name}: test accuracy {card.test_accuracy:.2%} "
        f"(validation {card.val_accuracy:.2%}), ECE {calibration.ece_before:.2%} -> "
        f"{calibration.ece_after:.2%} at T={calibration.temperature:.2f}, "
        f"{card.unsure_report.mnist_test_flagged:.2%} of test flagged unsure, "
        f"{card.training_seconds:.0f}s on {card.device}; "
        f"saved {Path(args.out) / card.weights_file}"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from model.calibration import ECE_BINS
    from model.pipeline import complete_card, evaluate_saved, load_data

    mnist = load_data(args.data_dir or get_settings().mnist_dir, get_settings().mnist_cache_dir)
    if args.update_card:
        complete_card(args.model, mnist)
    metrics, card = evaluate_saved(args.model, mnist)
    size = f"{card.architecture}, {card.parameters or 0:,} parameters"
    print(f"model            {card.name} ({size})")
    print(f"test accuracy    {metrics['accuracy']:.2%}  (card: {_percent(card.test_accuracy)})")
    print(
        f"ECE ({ECE_BINS} bins)    {metrics['ece_before']:.2%} raw -> "
        f"{metrics['ece_after']:.2%} calibrated"
    )
    print(
        f"unsure           {metrics['unsure_share']:.2%} of test flagged; "
        f"accuracy on the rest {metrics['accuracy_when_sure']:.2%}"
    )
    print(
        "per digit        "
        + "  ".join(f"{d}:{acc:.1%}" for d, acc in enumerate(metrics["per_digit_accuracy"]))
    )
    return 0


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def run_predict(args: argparse.Namespace) -> int:
    """One line per file; unreadable files get an error line and exit status 1."""
    import json

    from model.image_io import ImageReadError, read_image
    from model.predictor import Predictor

    predictor = Predictor.load(args.model)
    failed = 0
    for path in args.files:
        try:
            prediction = predictor.predict(read_image(path))
            if prediction is None:
                raise ImageReadError(f"{path}: no digit found (the image is blank)")
        except ValueError as err:  # ImageReadError, or canvas_to_mnist refusing the pixels
            failed += 1
            message = str(err) if str(path) in str(err) else f"{path}: {err}"
            if args.json:
                print(json.dumps({"file": str(path), "error": message}))
            else:
                print(f"error: {message}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({"file": str(path), **prediction.as_dict()}))
        else:
            verdict = "unsure" if prediction.unsure else "sure"
            print(f"{path}\t{prediction.digit}\t{prediction.confidence:.3f}\t{verdict}")
    return 1 if failed else 0


def run_export(args: argparse.Namespace) -> int:
    from model.checkpoint import ModelLoadError
    from model.onnx_export import export_model
    from model.pipeline import load_data
    from model.predictor import available_models, resolve_model_path

    settings = get_settings()
    weights = resolve_model_path(args.model)
    if args.model and not weights.exists() and weights.parent == settings.models_dir:
        known = ", ".join(available_models(settings.models_dir)) or "none"
        raise ModelLoadError(f"unknown model {args.model!r}; saved models: {known}")
    mnist = load_data(args.data_dir or settings.mnist_dir, settings.mnist_cache_dir)
    out, entry = export_model(weights, args.out, mnist.test_images)
    print(
        f"{out}: argmax identical to PyTorch on {entry.argmax_agreement:.2%} of MNIST test, "
        f"largest probability difference {entry.max_probability_difference:.1e}; "
        f"recorded in {weights.with_suffix('.json')}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        argv_for_parser = ["train", *argv]
    else:
        argv_for_parser = argv
    args = build_parser().parse_args(argv_for_parser)
    from model.card import CardError
    from model.checkpoint import ModelLoadError
    from model.data import MnistFormatError, MnistUnavailableError

    # Errors caused by the user's files or machine: one clear line, no traceback.
    user_errors = (CardError, ModelLoadError, MnistFormatError, MnistUnavailableError, ValueError)
    try:
        if args.command == "evaluate":
            return run_evaluate(args)
        if args.command == "predict":
            return run_predict(args)
        if args.command == "export":
            return run_export(args)
        return run_train(args, argv)
    except user_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
