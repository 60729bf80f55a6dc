"""What the app hands the feedback store: one prediction, checked once when it is made.

Each field declares its constraint on its type (`Rule`, db.validation); making a
`Submission` with a bad value raises ValueError with a sentence, so everything
after (the repository, the outbox, a replay) can trust it. It carries the model
version too, so that a replay can register it: the database may have been empty
(or another one) when the drawing was made.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any

from db import validation as check
from db.validation import Rule

RequestId = Annotated[str, Rule(check.text, max_length=64)]
Digit = Annotated[int, Rule(check.digit)]
Fraction = Annotated[float, Rule(check.fraction)]
# Outbox files: 2 nests the model and the drawing; 1 (flat, no drawing) still reads.
FORMAT_VERSION = 2
CANVAS_MAX_PX = 10_000
MAX_STROKE_POINTS = 50_000


@dataclass(frozen=True, kw_only=True)
class ModelIdentity:
    """The model version that made a prediction, found again by its weights' SHA-256."""

    name: Annotated[str, Rule(check.text, max_length=200)]
    architecture: Annotated[str, Rule(check.text, max_length=50)]
    weights_sha256: Annotated[str, Rule(check.sha256)]
    parameter_count: Annotated[int, Rule(check.whole_number, minimum=0)]
    test_accuracy: Annotated[float | None, Rule(check.fraction, optional=True)] = None
    card: Annotated[dict[str, Any], Rule(check.json_object)] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check.check_fields(self)

    @classmethod
    def from_card_json(cls, card: dict[str, Any]) -> ModelIdentity:
        """The identity a model card (as JSON) gives its model version."""
        return cls(
            name=card["name"],
            architecture=card["architecture"],
            weights_sha256=card["weights_sha256"],
            parameter_count=card.get("parameters") or 0,
            test_accuracy=card.get("test_accuracy"),
            card=card,
        )


def _canvas_side(value: Any, what: str) -> int:
    side = check.whole_number(value, what, minimum=1)
    if side > CANVAS_MAX_PX:
        raise ValueError(f"{what} must be at most {CANVAS_MAX_PX} pixels, got {side}")
    return side


@dataclass(frozen=True, kw_only=True)
class Drawing:
    """The drawing itself: strokes of [x, y] canvas pixels (y down) on a canvas this size."""

    strokes: Annotated[list[list[list[float]]], Rule(check.strokes, max_points=MAX_STROKE_POINTS)]
    canvas_width: Annotated[int, Rule(_canvas_side)]
    canvas_height: Annotated[int, Rule(_canvas_side)]

    def __post_init__(self) -> None:
        check.check_fields(self)


@dataclass(frozen=True, kw_only=True)
class Submission:
    """One prediction for the store; `true_label` None means nobody has labelled it.

    The same `client_request_id` twice stores one row (a double click, a replay); a
    later submission of it with a label labels that row. `created_at` None means
    "now, by the database's clock"; the outbox sets it when it queues one, so a
    replay counts on the day the drawing was made.
    """

    client_request_id: RequestId = field(default_factory=lambda: uuid.uuid4().hex)
    model: ModelIdentity
    predicted_digit: Digit
    confidence: Fraction
    probabilities: Annotated[list[float], Rule(check.probabilities)]
    image: Annotated[bytes, Rule(check.image_bytes)]  # 28x28 uint8, bytes or array
    source: Annotated[str, Rule(check.source)] = "canvas"
    unsure: Annotated[bool, Rule(check.flag)] = False
    latency_ms: Annotated[float | None, Rule(check.milliseconds, optional=True)] = None
    session_id: Annotated[str | None, Rule(check.text, max_length=64, optional=True)] = None
    true_label: Annotated[int | None, Rule(check.digit, optional=True)] = None
    drawing: Drawing | None = None  # canvas drawings only; uploads have none
    created_at: Annotated[datetime | None, Rule(check.moment)] = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelIdentity):
            raise ValueError(f"model must be a ModelIdentity, got {self.model!r:.80}")
        if not isinstance(self.drawing, Drawing | None):
            raise ValueError(f"drawing must be a Drawing or None, got {self.drawing!r:.80}")
        check.check_fields(self)
        if self.drawing is not None and self.source != "canvas":
            raise ValueError(f"only canvas drawings have strokes, not a {self.source}")

    def labelled(self, label: int) -> Submission:
        """The same prediction with the digit a person gave it (submit it to label it)."""
        return dataclasses.replace(self, true_label=label)

    def to_json(self) -> bytes:
        record = asdict(self)
        record["image"] = base64.b64encode(self.image).decode("ascii")
        record["created_at"] = self.created_at.isoformat() if self.created_at else None
        document = {"format": FORMAT_VERSION, "submission": record}
        return json.dumps(document, allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Submission:
        """Read a file `to_json` wrote (or format 1); ValueError, KeyError or TypeError if not."""
        document = json.loads(data)
        version = document.get("format")
        if version not in (1, FORMAT_VERSION):
            raise ValueError(f"unknown outbox format {version!r}")
        record = dict(document["submission"])
        if version == 1:
            record = _from_format_1(record)
        record["model"] = ModelIdentity(**record["model"])
        record["drawing"] = Drawing(**record["drawing"]) if record["drawing"] else None
        record["image"] = base64.b64decode(record["image"], validate=True)
        if record["created_at"] is not None:
            record["created_at"] = datetime.fromisoformat(record["created_at"])
        return cls(**record)


def _from_format_1(record: dict[str, Any]) -> dict[str, Any]:
    """Format 1 had the model's fields flat, `submitted_at`, and no drawing."""
    model = {name: record.pop(name) for name in ("architecture", "weights_sha256", "card")}
    model |= {"name": record.pop("model_name")}
    model |= {name: record.pop(name) for name in ("parameter_count", "test_accuracy")}
    return record | {"model": model, "drawing": None, "created_at": record.pop("submitted_at")}
