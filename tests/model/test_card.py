"""The typed model card: every committed card reads and round-trips; bad ones name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.card import CARD_FORMAT, CardError, ModelCard, read_card, write_card
from settings import REPO_ROOT

COMMITTED_CARDS = sorted((REPO_ROOT / "saved_models").glob("*.json"))


@pytest.mark.parametrize("path", COMMITTED_CARDS, ids=lambda p: p.stem)
def test_committed_cards_read_and_round_trip_without_losing_a_figure(
    path: Path, tmp_path: Path
) -> None:
    original = json.loads(path.read_text())
    card = read_card(path)
    assert card.calibration.temperature == original["calibration"]["temperature"]
    assert card.novelty is not None and card.robustness is not None
    write_card(tmp_path / path.name, card)
    written = json.loads((tmp_path / path.name).read_text())
    assert written.pop("card_format") == CARD_FORMAT
    original.pop("card_format")
    # Cards from before style digits, the stretch, the width or teachers say so once
    # read: they trained without the first two, at full width, on labels alone.
    before = {
        "style_share": 0.0, "stretch": 1.0, "width": 1.0, "teachers": [], "teacher_weight": 0.5,
    }  # fmt: skip
    assert written.pop("config") == before | original.pop("config")
    assert written == original
    assert read_card(tmp_path / path.name) == card
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def _committed() -> dict:
    return json.loads(COMMITTED_CARDS[0].read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["calibration"].pop("temperature"), "calibration field 'temperature': missing"),
        (lambda c: c.update(unsure_threshold="high"), "field 'unsure_threshold': must be a float"),
        (lambda c: c["history"][1].update(epoch=1.5), "history.1 field 'epoch': must be a int"),
        (lambda c: c.update(temprature=1.0), "field 'temprature': is not a field"),
        (lambda c: c.pop("weights_sha256"), "field 'weights_sha256': missing"),
        (lambda c: c.update(card_format=3), "card_format 3; this digitlab reads formats 1, 2"),
    ],
    ids=["missing", "wrong-type", "nested-list", "unknown", "no-sha256", "newer-format"],
)
def test_a_bad_card_names_its_file_and_field(change, message: str, tmp_path: Path) -> None:
    data = _committed()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CardError, match=rf"model card {path}.*" + message.replace("(", r"\(")):
        read_card(path)


def test_an_optional_section_defaults_to_none_and_is_not_written() -> None:
    data = _committed()
    del data["novelty"], data["robustness"]
    card = ModelCard.from_json(data)
    assert card.novelty is None and card.robustness is None
    assert "novelty" not in card.to_json() and "world_size" not in card.to_json()


def test_a_written_card_is_readable_by_others_or_keeps_the_permissions_it_had(
    tmp_path: Path,
) -> None:
    card = read_card(REPO_ROOT / "saved_models" / "resnet.json")
    fresh, kept = tmp_path / "fresh.json", tmp_path / "kept.json"
    write_card(fresh, card)
    assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 600
    kept.write_text("{}")
    kept.chmod(0o640)
    write_card(kept, card)
    assert kept.stat().st_mode & 0o777 == 0o640 and read_card(kept) == card
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.json", "kept.json"]  # no leftovers
