"""The model card: what a saved model is, how it was made, how good it is.

A card is a JSON file next to the weights (`saved_models/<name>.json`), the contract
between training and everything downstream: the predictor takes the calibration and
the unsure threshold from it and checks the weights against its SHA-256; the app
shows it. In Python it is a frozen `ModelCard`; JSON goes in and out through the
field types, so a card that reads is a card whose every figure has its type.

Adding an optional section: a frozen dataclass for it, and a field
`name: Section | None = None` on `ModelCard` (as `novelty` and `robustness` are).
Cards without it read as None; None is not written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from model.config import TrainConfig

CARD_FORMAT = 2  # written; format 1 (the untyped cards) has the same layout and reads too
READABLE_FORMATS = (1, 2)


class CardError(ValueError):
    """A model card is missing, unreadable, or has a field of the wrong kind."""


@dataclass(frozen=True)
class Calibration:
    temperature: float
    method: str | None = None
    ece_bins: int | None = None
    ece_before: float | None = None
    ece_after: float | None = None


@dataclass(frozen=True)
class UnsureReport:
    """How often the unsure answer comes, measured on the test set and non-digits."""

    rule: str | None = None
    threshold_chosen_on: str | None = None
    mnist_test_flagged: float | None = None
    mnist_test_accuracy_when_sure: float | None = None
    mnist_test_errors_flagged: float | None = None
    non_digits_flagged: float | None = None


@dataclass(frozen=True)
class NoveltyEntry:
    """The novelty detector saved beside the weights (`model.novelty`)."""

    file: str
    sha256: str
    threshold: float
    layers: tuple[str, ...]
    method: str | None = None
    dimensions: int | None = None
    fitted_on: str | None = None
    threshold_chosen_on: str | None = None
    validation_unsure_share: float | None = None


@dataclass(frozen=True)
class RobustnessReport:
    """The saved model beyond MNIST's test set (`model.robustness`)."""

    synthetic_canvases: int
    synthetic_canvas_accuracy: float
    synthetic_canvas_unsure: float
    naive_resize_accuracy: float
    synthetic_canvas_accuracy_by_kind: dict[str, float]
    drawn_digits: int
    drawn_digit_accuracy: float
    drawn_digit_unsure: float
    non_digits: int
    non_digits_flagged_by_kind: dict[str, float]
    mnist_unchanged_by_preprocessing: float


@dataclass(frozen=True)
class StyleProxyReport:
    """Held-out people's digits in the world's writing styles (`robustness.style_proxy`)."""

    n: int
    people: int
    accuracy: float
    worst_person_accuracy: float
    unsure_share: float
    errors_flagged_unsure: float
    accuracy_when_sure: float
    errors_by_pair: tuple[tuple[int, int, int], ...]  # (true digit, answer, count)


@dataclass(frozen=True)
class OnnxEntry:
    """The exported ONNX graph (`model.onnx_export`) and how it was verified."""

    file: str
    sha256: str
    weights_sha256: str
    opset: int
    input: str
    outputs: tuple[str, ...]
    torch_version: str
    onnxruntime_version: str
    verified_on: str
    argmax_agreement: float
    max_probability_difference: float
    unsure_agreement: float | None = None


@dataclass(frozen=True)
class FinetuneEntry:
    """What a fine-tuned model learnt from, from which base, and how (`model.finetune`)."""

    base: str
    base_weights: str
    base_sha256: str
    labels: int  # labelled drawings trained on
    label_counts: tuple[int, ...]  # of them, per digit 0-9
    people: int
    held_out_people: int  # whose drawings only compared champion and challenger
    held_out_labels: int
    first_drawing: str | None = None  # ISO 8601, the drawings trained on
    last_drawing: str | None = None
    excluded: int = 0  # drawings left out (e.g. suspicious labels)
    re_rendered: int = 0  # extra images painted from stored strokes
    method: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float
    images: int | None = None


@dataclass(frozen=True)
class ModelCard:
    name: str
    architecture: str
    calibration: Calibration
    unsure_threshold: float
    weights_sha256: str = ""  # set when the weights are written; required on disk
    weights_file: str | None = None
    description: str | None = None
    parameters: int | None = None
    epochs: int | None = None
    seed: int | None = None
    config: TrainConfig | None = None
    teachers: dict[str, str] | None = None  # `config.teachers` -> their weights' SHA-256
    device: str | None = None
    device_name: str | None = None
    training_seconds: float | None = None
    world_size: int | None = None  # only for a run on several processes
    trained_at: str | None = None
    train_images: int | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    per_digit_test_accuracy: tuple[float | None, ...] | None = None
    unsure_report: UnsureReport = field(default_factory=UnsureReport)
    test_confusion_matrix: tuple[tuple[int, ...], ...] | None = None
    history: tuple[EpochRecord, ...] = ()
    data_checksums: dict[str, str] | None = None
    torch_version: str | None = None
    python_version: str | None = None
    git_commit: str | None = None
    command: str | None = None
    novelty: NoveltyEntry | None = None
    robustness: RobustnessReport | None = None
    style_proxy: StyleProxyReport | None = None  # held-out people
    style_proxy_held_out_styles: StyleProxyReport | None = None  # people in unseen styles
    onnx: OnnxEntry | None = None
    finetune: FinetuneEntry | None = None

    @classmethod
    def from_json(cls, data: object, source: str = "model card") -> ModelCard:
        """A card from parsed JSON; CardError names `source` and the field at fault."""
        if not isinstance(data, Mapping):
            raise CardError(f"{source} must hold a JSON object")
        version = data.get("card_format", 1)
        if version not in READABLE_FORMATS:
            raise CardError(
                f"{source} has card_format {version!r}; this digitlab reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}: update digitlab or retrain the model"
            )
        fields = {key: value for key, value in data.items() if key != "card_format"}
        config = fields.get("config")
        if isinstance(config, Mapping) and "style_share" not in config:
            fields["config"] = {**config, "style_share": 0.0}  # trained before style digits
        try:
            card = _decode(cls, fields, ())
        except _FieldError as err:
            raise CardError(f"{source} has no usable {err.where}: {err.problem}") from None
        if not card.weights_sha256:
            raise CardError(f"{source} has no usable field 'weights_sha256': missing")
        return card

    def to_json(self) -> dict:
        """The card as JSON-ready values; fields that are None are left out."""
        return {"card_format": CARD_FORMAT, **_encode(self)}


def read_card(path: Path) -> ModelCard:
    """Load and check a card; errors say which file and which field is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CardError(f"model card {path} not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CardError(f"model card {path} is not valid JSON ({err})") from err
    return ModelCard.from_json(data, source=f"model card {path}")


def write_card(path: Path, card: ModelCard) -> None:
    """Write `card` at once: a reader sees the old card or the new one, never half."""
    text = json.dumps(card.to_json(), indent=2) + "\n"
    with atomic_file(path) as temporary:
        temporary.write_text(text)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; it replaces `path` when the block ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_beside(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def temporary_beside(path: Path) -> Path:
    """An empty temporary file in `path`'s folder with `path`'s permissions, else 644:
    mkstemp's private 600 would hide a model from an app run as another user."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    os.chmod(name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    return Path(name)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit(repo: Path) -> str | None:
    """The commit the code was at, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class _FieldError(Exception):
    def __init__(self, path: tuple[str, ...], problem: str) -> None:
        parent, key = ".".join(path[:-1]), path[-1] if path else "card"
        self.where = f"{parent} field {key!r}" if parent else f"field {key!r}"
        self.problem = problem


def _decode(kind: typing.Any, value: object, path: tuple[str, ...]) -> typing.Any:
    """`value` (parsed JSON) as the type `kind`, checked all the way down."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):  # X | None
        inner = next(arg for arg in args if arg is not type(None))
        return None if value is None else _decode(inner, value, path)
    if dataclasses.is_dataclass(kind):
        return _decode_dataclass(kind, value, path)
    if origin is tuple:
        kinds = (args[0],) * len(value) if Ellipsis in args else args
        if not isinstance(value, list) or len(kinds) != len(value):
            raise _FieldError(path, f"must be a JSON list of {len(kinds)} items")
        pairs = enumerate(zip(kinds, value, strict=True))
        return tuple(_decode(kind, item, (*path, str(i))) for i, (kind, item) in pairs)
    if origin is dict:
        if not isinstance(value, dict):
            raise _FieldError(path, "must be a JSON object")
        return {str(k): _decode(args[1], item, (*path, str(k))) for k, item in value.items()}
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise _FieldError(path, f"must be a {getattr(kind, '__name__', kind)}, not {value!r:.60}")


def _decode_dataclass(kind: type, value: object, path: tuple[str, ...]) -> typing.Any:
    if not isinstance(value, Mapping):
        raise _FieldError(path, "must be a JSON object")
    hints = typing.get_type_hints(kind)
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _FieldError((*path, unknown[0]), "is not a field of this card format")
    missing = [
        name
        for name, f in known.items()
        if name not in value
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise _FieldError((*path, missing[0]), "missing")
    return kind(**{key: _decode(hints[key], item, (*path, key)) for key, item in value.items()})


def _encode(value: object) -> typing.Any:
    if isinstance(value, TrainConfig):  # written whole, `limit: null` included
        return value.as_dict()
    if dataclasses.is_dataclass(value):
        pairs = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: _encode(item) for name, item in pairs if item is not None}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value
