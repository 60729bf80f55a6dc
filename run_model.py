"""digitlab's command line: train a model, evaluate a saved one, predict image files.

    python run_model.py                       # train the default architecture
    python run_model.py --arch cnn --epochs 5
    python run_model.py --recipe fast         # the quickest route to 99 % (README)
    python run_model.py evaluate [--model saved_models/resnet.pt]
    python run_model.py predict [--model PATH] [--json] FILE...
    python run_model.py export [--model NAME] [--out FILE.onnx]
    python run_model.py import-drawings FILE  # JSON Lines of labelled drawings
    python run_model.py export-drawings FILE [--labelled-only]
    python run_model.py finetune [--base NAME] [--name NEW] [--report FILE] [--promote-if-better]
    python run_model.py promote NAME [--force --reason "..."]

This file parses arguments and calls `model.*` and `db.*`. The one rule it holds is
the promotion gate (`promotion_gate`, `promote`): it joins `model.compare`'s verdict
to the database's champion, and the dashboard calls the same functions.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from settings import get_settings

if TYPE_CHECKING:
    import numpy as np

    from db.champion import ServingChoice
    from db.drawing_file import DrawingRecord
    from db.submission import ModelIdentity, Submission
    from model.card import ModelCard
    from model.finetune import LabelledDrawings
    from model.predictor import Predictor

# The learning loop's commands: the block at the end of this file.
LOOP_COMMANDS = ("import-drawings", "export-drawings", "finetune", "promote")
SUBCOMMANDS = ("train", "evaluate", "predict", "export", *LOOP_COMMANDS)


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
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_export(sub)
    add_loop_parsers(sub)
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
    _add_teacher_options(train)
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    _common(train)


def _add_teacher_options(train: argparse.ArgumentParser) -> None:
    from model.config import TrainConfig

    train.add_argument(
        "--teachers",
        type=teacher_names,
        help="saved models whose mean probabilities join the labels as training targets, "
        "comma-separated, e.g. cnn,lenet5,mlp (README \"Distillation\"), or 'none' (the default)",
    )
    train.add_argument(
        "--teacher-weight",
        type=float,
        help=f"the teachers' share of each target, from 0 to 1 (default: "
        f"{TrainConfig.teacher_weight}; the labels have the rest)",
    )


def teacher_names(text: str) -> tuple[str, ...]:
    """--teachers: "cnn,mlp" -> ("cnn", "mlp"); "none" -> no teachers."""
    if text.strip().lower() == "none":
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give saved model names separated by commas, or 'none'"
        )
    return names


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
            teachers=args.teachers,
            teacher_weight=args.teacher_weight,
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
    print(f"test accuracy    {metrics.accuracy:.2%}  (card: {_percent(card.test_accuracy)})")
    print(
        f"ECE ({ECE_BINS} bins)    {metrics.ece_before:.2%} raw -> "
        f"{metrics.ece_after:.2%} calibrated"
    )
    print(
        f"unsure           {metrics.unsure_share:.2%} of test flagged; "
        f"accuracy on the rest {_percent(metrics.accuracy_when_sure)}"
    )
    print(
        "per digit        "
        + "  ".join(f"{d}:{acc:.1%}" for d, acc in enumerate(metrics.per_digit_accuracy))
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
    served = weights.with_name(entry.file)
    is_copy = out.resolve() != served.resolve()
    copy = f" (a copy of {served}, which the app serves)" if is_copy else ""
    print(
        f"{out}{copy}: argmax identical to PyTorch on {entry.argmax_agreement:.2%} of MNIST "
        f"test, largest probability difference {entry.max_probability_difference:.1e}; "
        f"recorded in {weights.with_suffix('.json')}"
    )
    return 0


# --- The learning loop: drawings in and out, fine-tune, promotion --------------------
# Where the store and the model meet: db/ hands out plain values (784-byte images,
# labels, strokes), model/ takes arrays; nothing here decides what either one does.

IMPORT_CHUNK = 200  # drawings per transaction while importing
HEARTBEAT_S = 5  # how often a running fine-tune tells the store it is alive


def add_loop_parsers(sub: argparse._SubParsersAction) -> None:
    formatter = argparse.ArgumentDefaultsHelpFormatter
    imports = sub.add_parser(
        "import-drawings", formatter_class=formatter,
        help="store drawings from a JSON Lines file, each through the serving model",
    )  # fmt: skip
    imports.add_argument("file", type=Path, metavar="FILE", help="JSON Lines, one drawing each")
    exports = sub.add_parser(
        "export-drawings", formatter_class=formatter,
        help="write the stored drawings as JSON Lines (the import format)",
    )  # fmt: skip
    exports.add_argument("file", type=Path, metavar="FILE", help="output file ('-': stdout)")
    exports.add_argument("--labelled-only", action="store_true", help="skip unlabelled drawings")
    finetune = sub.add_parser(
        "finetune", formatter_class=formatter,
        help="fine-tune a challenger on the labelled drawings and compare it with its base",
    )  # fmt: skip
    finetune.add_argument("--base", help="model to start from (default: the serving champion)")
    finetune.add_argument("--name", help="the challenger's name (default: <base>-ft-<time>)")
    finetune.add_argument("--report", type=Path, help="write the comparison report here (JSON)")
    finetune.add_argument(
        "--promote-if-better", action="store_true", help="promote it when the gate says so"
    )
    finetune.add_argument(
        "--exclude-suspicious", action="store_true",
        help="leave out the drawings whose label the base model finds unlikely",
    )  # fmt: skip
    finetune.add_argument("--job", type=int, help=argparse.SUPPRESS)  # claimed by the dashboard
    finetune.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(finetune)
    promote = sub.add_parser(
        "promote", formatter_class=formatter,
        help="make a model the champion the app serves, if its report's gate says so",
    )  # fmt: skip
    promote.add_argument("name", help="model name in the models folder")
    promote.add_argument("--force", action="store_true", help="promote even against the gate")
    promote.add_argument("--reason", help="why (required with --force; kept in the audit)")


def loop_errors() -> tuple[type[Exception], ...]:
    from db.errors import FeedbackStoreError
    from db.jobs import JobBusyError

    return (FeedbackStoreError, JobBusyError)


def _store_ready() -> None:
    """Bring the store (DATABASE_URL, else the embedded SQLite) to the newest schema."""
    from db.migrate import upgrade_to_head

    upgrade_to_head()


def _serving(session: Any) -> ServingChoice:
    """The model the app serves now: the champion, else the default (with a warning)."""
    from db import champion

    settings = get_settings()
    alias = champion.get_alias(session)
    choice = champion.serving_choice(alias, settings.models_dir, settings.default_model)
    if choice.missing is not None:
        print(
            f"warning: the champion's weights {choice.missing} are missing; "
            f"using the default model {choice.name}",
            file=sys.stderr,
        )
    return choice


def _model_identity(card: ModelCard) -> ModelIdentity:
    from db.submission import ModelIdentity

    return ModelIdentity.from_card_json(card.to_json())


def _registered(session: Any, name: str) -> int:
    """The model version of saved_models/<name>.pt, registered if new (weights checked)."""
    from db.repository import register_model_version
    from model.card import read_card, sha256_file
    from model.checkpoint import card_path, weights_path

    weights = weights_path(get_settings().models_dir, name)
    if not weights.is_file():
        raise ValueError(f"no model {name!r}: {weights} does not exist")
    card = read_card(card_path(weights))
    if sha256_file(weights) != card.weights_sha256:
        raise ValueError(f"{weights} does not match the SHA-256 in its card; retrain or restore it")
    return register_model_version(session, _model_identity(card))


# --- import-drawings / export-drawings


def run_import_drawings(args: argparse.Namespace) -> int:
    """Store each new drawing with the serving model's answer; bad lines reported, skipped."""
    from db import drawings
    from db.engine import session_scope
    from model.predictor import Predictor

    records, failed = _read_records(args.file)
    _store_ready()
    with session_scope() as session:
        known = drawings.known_request_ids(session, [r.request_id for _, r in records])
        choice = _serving(session)
    fresh = list({r.request_id: (n, r) for n, r in records if r.request_id not in known}.values())
    stored, not_stored = _store_records(Predictor.load(choice.weights), fresh, args.file)
    failed += not_stored
    print(
        f"{args.file}: {stored} drawings stored with model {choice.name}, "
        f"{len(records) - len(fresh)} already there, {failed} lines failed"
    )
    return 1 if failed else 0


def _read_records(path: Path) -> tuple[list[tuple[int, DrawingRecord]], int]:
    """(line number, record) for each good line; bad ones reported on stderr and counted."""
    from db.drawing_file import parse_line

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    records, failed = [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append((number, parse_line(line)))
        except ValueError as error:
            failed += 1
            print(f"{path}:{number}: {error}; skipped", file=sys.stderr)
    return records, failed


def _store_records(
    predictor: Predictor, records: list[tuple[int, DrawingRecord]], path: Path
) -> tuple[int, int]:
    """Predict and store, a chunk per transaction; (stored, failed)."""
    from db import repository
    from db.engine import session_scope

    stored = failed = 0
    model = _model_identity(predictor.card)
    for start in range(0, len(records), IMPORT_CHUNK):
        with session_scope() as session:
            for number, record in records[start : start + IMPORT_CHUNK]:
                try:
                    repository.store(session, _answered(predictor, model, record))
                    stored += 1
                except ValueError as error:  # an unreadable or blank image
                    failed += 1
                    print(f"{path}:{number}: {error}; skipped", file=sys.stderr)
    return stored, failed


def _answered(predictor: Predictor, model: ModelIdentity, record: DrawingRecord) -> Submission:
    """The drawing through the app's path (canvas_to_mnist, then the model); a 28x28 in
    MNIST form (light on black: what export writes) is that path's output already."""
    import numpy as np

    from db.submission import Submission
    from model.image_io import read_image
    from model.preprocess import canvas_to_mnist

    image = read_image(record.png, "image_png")
    mnist_form = image.shape == (28, 28) and np.r_[image[0], image[-1]].mean() < 32
    input28 = image if mnist_form else canvas_to_mnist(image)
    if input28 is None:
        raise ValueError("image_png: no digit found (the image is blank)")
    scores = predictor.score_batch(input28[None])
    probabilities = scores.probabilities[0]
    digit = int(probabilities.argmax())
    return Submission(
        client_request_id=record.request_id, model=model, predicted_digit=digit,
        confidence=float(probabilities[digit]), probabilities=probabilities.tolist(),
        image=input28.tobytes(), source="upload" if record.drawing is None else "canvas",
        unsure=bool(scores.unsure[0]), session_id=record.session, true_label=record.label,
        drawing=record.drawing, created_at=record.created_at,
    )  # fmt: skip


def run_export_drawings(args: argparse.Namespace) -> int:
    from db import drawings
    from db.drawing_file import format_lines
    from db.engine import session_scope

    _store_ready()
    with session_scope() as session:
        rows = drawings.stored_drawings(session, labelled_only=args.labelled_only)
    text = format_lines(rows)
    if str(args.file) == "-":
        sys.stdout.write(text)
    else:
        args.file.write_text(text, encoding="utf-8")
    print(f"{len(rows)} drawings written to {args.file}", file=sys.stderr)
    return 0


# --- promote


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    evidence: dict | None  # the report the decision rests on, kept in the audit row


def promotion_gate(session: Any, name: str, version: int) -> GateDecision:
    """Whether `name` may replace the serving model: its stored report's verdict, else
    a rollback to a former champion (or to the default model)."""
    from db import champion, jobs
    from model.compare import ComparisonReport, verdict_for

    report = jobs.report_for(session, version)
    if report is None:
        former = {move.to_version_id for move in champion.alias_history(session)}
        if version in former or name == get_settings().default_model:
            return GateDecision(True, f"rollback to {name}, which served before", None)
        return GateDecision(False, f"no fine-tune report for {name} in the store", None)
    serving = _serving(session).name
    compared = ComparisonReport.from_json(report)
    if compared.champion.name != serving:
        why = f"its report compares it with {compared.champion.name}, but {serving} serves now"
        return GateDecision(False, f"{why}: fine-tune again from {serving}", report)
    verdict, reason = verdict_for(compared)
    return GateDecision(verdict == "promote", reason, report)


def promote(name: str, *, force: bool = False, reason: str | None = None) -> str:
    """Make `name` the champion if the gate allows (or `force` with a reason); what happened.

    Raises ValueError, saying why, when the gate refuses and nothing changed.
    """
    from db import champion
    from db.engine import session_scope

    if force and not (reason or "").strip():
        raise ValueError('--force needs --reason "...": the audit keeps why the gate was overruled')
    _store_ready()
    with session_scope() as session:
        version = _registered(session, name)
        current = champion.get_alias(session)
        if current is not None and current.model_version_id == version:
            return f"{name} is the champion already; nothing changed"
        gate = promotion_gate(session, name, version)
        if not gate.allowed and not force:
            raise ValueError(f"{name} not promoted: {gate.reason} (--force --reason overrules)")
        champion.set_alias(
            session, version, evidence=gate.evidence, forced=not gate.allowed,
            reason=reason or (None if not gate.allowed else gate.reason),
        )  # fmt: skip
    before = current.name if current else f"{get_settings().default_model} (default)"
    why = gate.reason if gate.allowed else f"forced against the gate ({gate.reason}): {reason}"
    return f"{name} is the champion now (was {before}): {why}"


def run_promote(args: argparse.Namespace) -> int:
    print(promote(args.name, force=args.force, reason=args.reason))
    return 0


# --- finetune


@dataclass(frozen=True)
class FinetunePlan:
    base: ServingChoice
    labelled: LabelledDrawings
    exclude: np.ndarray | None
    name: str


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a challenger from the stored labels, register it, write its report.

    Run by hand it checks the data before claiming the job slot, so too little data
    touches nothing; run by the dashboard (`--job`) the job exists already and every
    failure is recorded on it.
    """
    _store_ready()
    if args.job is not None:
        with _finetune_job(args.job) as job:
            report = _finetune(_plan(args), job, args)
    else:
        plan = _plan(args)
        with _finetune_job(None) as job:
            report = _finetune(plan, job, args)
    if args.promote_if_better and report["verdict"] == "promote":
        print(promote(report["challenger"]["name"]))
    return 0


def _plan(args: argparse.Namespace) -> FinetunePlan:
    """The base, the labelled drawings and what to leave out; NotEnoughData says what lacks."""
    from db.engine import session_scope

    with session_scope() as session:
        base = _serving(session) if args.base is None else _named(args.base)
        labelled = _labelled_drawings(session)
    if not base.weights.is_file():
        raise ValueError(f"no model {base.name!r} to start from: {base.weights} does not exist")
    exclude = _suspicious(base.weights, labelled) if args.exclude_suspicious else None
    _check_enough(labelled, exclude)
    name = args.name or f"{base.name}-ft-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    if (get_settings().models_dir / f"{name}.pt").exists():
        raise ValueError(f"a model named {name!r} exists already; choose another --name")
    return FinetunePlan(base, labelled, exclude, name)


def _finetune(plan: FinetunePlan, job: _JobReport, args: argparse.Namespace) -> dict:
    import json

    from model.finetune import finetune_from_drawings
    from model.pipeline import load_data

    settings = get_settings()
    mnist = load_data(args.data_dir or settings.mnist_dir, settings.mnist_cache_dir)
    outcome = finetune_from_drawings(
        plan.base.weights, plan.labelled, mnist, settings.models_dir, plan.name,
        progress=not args.quiet, exclude=plan.exclude,
    )  # fmt: skip
    report = outcome.report.to_json()
    job.succeeded(plan.base.name, plan.name, report)
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{plan.name}: verdict {report['verdict']}: {report['reason']}; saved {outcome.weights}")
    return report


def _named(name: str) -> ServingChoice:
    from db.champion import ServingChoice

    return ServingChoice(name, get_settings().models_dir / f"{name}.pt")


def _labelled_drawings(session: Any) -> LabelledDrawings:
    import numpy as np

    from db import drawings
    from model.finetune import LabelledDrawings

    rows = drawings.stored_drawings(session, labelled_only=True)
    images = [np.frombuffer(row.image, np.uint8).reshape(28, 28) for row in rows]
    return LabelledDrawings(
        images=np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
        labels=np.array([row.label for row in rows], dtype=np.int64),
        people=[row.session_id for row in rows], strokes=[row.strokes for row in rows],
        canvas_sizes=[row.canvas_size for row in rows], created_at=[r.created_at for r in rows],
    )  # fmt: skip


def _suspicious(weights: Path, labelled: LabelledDrawings) -> np.ndarray:
    from model.label_issues import suspicious_drawings
    from model.predictor import Predictor

    found = suspicious_drawings(Predictor.load(weights), labelled.images, labelled.labels)
    print(f"leaving out {len(found)} drawings whose label looks wrong", file=sys.stderr)
    return found


def _check_enough(labelled: LabelledDrawings, exclude: np.ndarray | None) -> None:
    import numpy as np

    from model.finetune import check_enough, exclusion_index

    left_out = exclusion_index(exclude, len(labelled))
    check_enough(labelled.subset(np.setdiff1d(np.arange(len(labelled)), left_out)))


class _JobReport:
    """What a running fine-tune tells the store: heartbeats with progress, then its end."""

    def __init__(self, job_id: int, log_path: str | None) -> None:
        self.job_id, self.log_path = job_id, log_path
        self.stop = threading.Event()

    def beat(self) -> None:
        from db import jobs
        from db.engine import session_scope

        while not self.stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception), session_scope() as session:  # next beat retries
                jobs.update_job(session, self.job_id, progress=_log_progress(self.log_path))

    def succeeded(self, base: str, challenger: str, report: dict) -> None:
        from db import jobs
        from db.engine import session_scope

        with session_scope() as session:
            jobs.finish_job(
                session, self.job_id, succeeded=True, message=report["reason"],
                base_version_id=_registered(session, base),
                challenger_version_id=_registered(session, challenger), report=report,
            )  # fmt: skip


@contextlib.contextmanager
def _finetune_job(job_id: int | None) -> Iterator[_JobReport]:
    """Claim the one fine-tune slot (or adopt the job the dashboard claimed), beat, finish."""
    import os
    import socket

    from db import jobs
    from db.engine import session_scope

    with session_scope() as session:
        if job_id is None:
            job_id = jobs.claim_job(session, host=socket.gethostname(), pid=os.getpid())
        else:
            jobs.update_job(session, job_id, pid=os.getpid())
        claimed = jobs.running_job(session)
    job = _JobReport(job_id, claimed.log_path if claimed else None)
    beating = threading.Thread(target=job.beat, daemon=True)
    beating.start()
    try:
        yield job
    except BaseException as error:
        with session_scope() as session:
            message = f"{type(error).__name__}: {error}"
            jobs.finish_job(session, job_id, succeeded=False, message=message[:2000])
        raise
    finally:
        job.stop.set()
        beating.join()


def _log_progress(log_path: str | None) -> float | None:
    """The fine-tune bar's last percentage in the job's log, as 0..1 (None: no bar yet)."""
    import re

    if log_path is None:
        return None
    try:
        with open(log_path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 4096))
            tail = log.read().decode("utf-8", "replace")
    except OSError:
        return None
    found = re.findall(r"fine-tune:\s*(\d{1,3})%", tail)
    return min(int(found[-1]), 100) / 100 * 0.95 if found else None


LOOP_RUNNERS = {
    "import-drawings": run_import_drawings,
    "export-drawings": run_export_drawings,
    "finetune": run_finetune,
    "promote": run_promote,
}


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
    if args.command in LOOP_COMMANDS:  # only these need the database's packages
        user_errors += loop_errors()
    try:
        if args.command in LOOP_COMMANDS:
            return LOOP_RUNNERS[args.command](args)
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
