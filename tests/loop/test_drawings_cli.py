"""import-drawings and export-drawings: idempotent, bad lines named, a faithful round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db import drawings
from db.engine import session_scope
from testing_support.learning_loop import canvas_line, png_base64


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _stored(url: str, **kwargs) -> list[drawings.StoredDrawing]:
    with session_scope(url) as session:
        return drawings.stored_drawings(session, **kwargs)


def test_the_same_file_twice_stores_nothing_new(cli, store: str, tmp_path: Path) -> None:
    file = _write(tmp_path / "in.jsonl", canvas_line(1, "r-1"), canvas_line(0, None))
    first = cli("import-drawings", file)
    assert first.status == 0, first.err
    assert "2 drawings stored with model resnet, 0 already there, 0 lines failed" in first.out
    again = cli("import-drawings", file)
    assert again.status == 0
    assert "0 drawings stored with model resnet, 2 already there" in again.out
    rows = _stored(store)
    assert sorted(row.label for row in rows) == [0, 1]
    assert [row.predicted_digit for row in sorted(rows, key=lambda r: r.label)] == [0, 1]
    assert {row.request_id for row in rows} >= {"r-1"}


BLANK = png_base64(__import__("numpy").zeros((280, 280), dtype="uint8"))
BAD_LINES = {
    "no image": ('{"label": 3}', "no image"),
    "label 12": (canvas_line(1, "x", label=12), "label must be between 0 and 9, got 12"),
    "no label": (canvas_line(1, "x", label=None), "no label"),
    "corrupt PNG": ('{"image_png": "iVBORw0KGgoAAAA=", "label": 3}', "not an image"),
    "not base64": ('{"image_png": "%%%", "label": 3}', "not valid base64"),
    "broken JSON": ('{"image_png": "abc", "label"', "not valid JSON"),
    "blank image": (json.dumps({"image_png": BLANK, "label": 3}), "no digit found"),
    "strokes, no canvas": (canvas_line(1, "x", canvas_size=None), "go together"),
    "bad time": (canvas_line(1, "x", created_at="yesterday"), "ISO 8601"),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_is_named_and_skipped(cli, store: str, tmp_path: Path, case: str) -> None:
    bad, message = BAD_LINES[case]
    file = _write(tmp_path / "in.jsonl", canvas_line(1, "good-1"), bad, canvas_line(0, "good-2"))
    outcome = cli("import-drawings", file)
    assert outcome.status == 1
    assert f"{file}:2: " in outcome.err and message in outcome.err
    assert "2 drawings stored" in outcome.out and "1 lines failed" in outcome.out
    assert sorted(row.request_id for row in _stored(store)) == ["good-1", "good-2"]


def test_a_missing_file_is_a_clear_error(cli, tmp_path: Path) -> None:
    outcome = cli("import-drawings", tmp_path / "nowhere.jsonl")
    assert outcome.status == 2
    assert outcome.err.startswith("error: cannot read ") and "Traceback" not in outcome.err


def test_export_then_import_into_an_empty_store_gives_the_same_drawings(
    cli, store: str, tmp_path: Path, fresh_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [canvas_line(1, "a", session="s1"), canvas_line(0, "b", session=None)]
    lines.append(canvas_line(1, "c", strokes=None, canvas_size=None))  # an upload
    assert cli("import-drawings", _write(tmp_path / "in.jsonl", *lines)).status == 0
    exported = tmp_path / "out.jsonl"
    assert cli("export-drawings", exported).status == 0
    monkeypatch.setenv("DATABASE_URL", fresh_sqlite_url)  # an empty store
    assert cli("import-drawings", exported).status == 0
    assert cli("export-drawings", tmp_path / "again.jsonl").status == 0

    def facts(url: str) -> list[tuple]:
        return [
            (d.request_id, d.image, d.label, d.session_id, d.strokes, d.canvas_size, d.created_at)
            for d in _stored(url)
        ]

    assert facts(fresh_sqlite_url) == facts(store)
    assert [f[4] is None for f in facts(store)] == [False, False, True]
    assert (tmp_path / "again.jsonl").read_bytes() == exported.read_bytes()


def test_export_labelled_only_leaves_out_unlabelled(cli, store: str, tmp_path: Path) -> None:
    unlabelled = json.dumps(json.loads(canvas_line(0, "u")) | {"label": None})
    file = _write(tmp_path / "in.jsonl", canvas_line(1, "l"), unlabelled)
    assert cli("import-drawings", file).status == 0
    assert cli("export-drawings", tmp_path / "all.jsonl").status == 0
    assert cli("export-drawings", tmp_path / "some.jsonl", "--labelled-only").status == 0
    every = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    some = [json.loads(x) for x in (tmp_path / "some.jsonl").read_text().splitlines()]
    assert sorted((x["request_id"], x["label"]) for x in every) == [("l", 1), ("u", None)]
    assert [(x["request_id"], x["label"]) for x in some] == [("l", 1)]


def test_export_of_an_empty_store_is_an_empty_file(cli, tmp_path: Path) -> None:
    outcome = cli("export-drawings", tmp_path / "out.jsonl")
    assert outcome.status == 0 and "0 drawings written" in outcome.err
    assert (tmp_path / "out.jsonl").read_text() == ""
