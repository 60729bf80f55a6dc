"""promote: the gate decides from the stored report, the audit keeps why, rollback works."""

from __future__ import annotations

import json

from db import champion
from db.engine import session_scope
from testing_support.learning_loop import fine_tuned, report_json


def _champion_and_history(url: str) -> tuple[str | None, list[champion.AliasMove]]:
    with session_scope(url) as session:
        alias = champion.get_alias(session)
        return (alias.name if alias else None), champion.alias_history(session)


def test_a_better_challenger_is_promoted_with_its_evidence(cli, store: str) -> None:
    report = report_json("resnet", "cnn", better=True)
    assert report["verdict"] == "promote"
    fine_tuned(store, "resnet", "cnn", report)
    outcome = cli("promote", "cnn")
    assert outcome.status == 0, outcome.err
    assert "cnn is the champion now (was resnet (default))" in outcome.out
    name, history = _champion_and_history(store)
    assert name == "cnn"
    (move,) = history
    assert (move.from_version_id, move.to_name, move.forced) == (None, "cnn", False)
    assert move.evidence == json.loads(json.dumps(report))  # as stored: lists, not tuples


def test_rollback_is_promoting_the_previous_version(cli, store: str) -> None:
    fine_tuned(store, "resnet", "cnn", report_json("resnet", "cnn", better=True))
    assert cli("promote", "cnn").status == 0
    back = cli("promote", "resnet")
    assert back.status == 0, back.err
    assert "rollback to resnet" in back.out
    name, history = _champion_and_history(store)
    assert name == "resnet"
    assert [(m.from_name, m.to_name) for m in history] == [("cnn", "resnet"), (None, "cnn")]
    forward = cli("promote", "cnn")  # cnn served before too: a rollback the other way
    assert forward.status == 0 and _champion_and_history(store)[0] == "cnn"


def test_the_gate_refuses_a_worse_challenger_unless_forced_with_a_reason(cli, store) -> None:
    fine_tuned(store, "resnet", "cnn", report_json("resnet", "cnn", better=False))
    refused = cli("promote", "cnn")
    assert refused.status == 2
    assert "cnn not promoted: not better on held-out people" in refused.err
    assert _champion_and_history(store) == (None, [])
    no_reason = cli("promote", "cnn", "--force")
    assert no_reason.status == 2 and "--force needs --reason" in no_reason.err
    forced = cli("promote", "cnn", "--force", "--reason", "it reads our sevens")
    assert forced.status == 0 and "forced against the gate" in forced.out
    name, (move,) = _champion_and_history(store)
    assert (name, move.forced, move.reason) == ("cnn", True, "it reads our sevens")


def test_a_report_against_another_champion_is_stale(cli, store: str) -> None:
    fine_tuned(store, "resnet", "cnn", report_json("resnet", "cnn", better=True))
    assert cli("promote", "lenet5", "--force", "--reason", "testing").status == 0
    stale = cli("promote", "cnn")
    assert stale.status == 2
    assert "compares it with resnet, but lenet5 serves now" in stale.err
    assert _champion_and_history(store)[0] == "lenet5"


def test_a_model_without_a_report_or_a_file_is_refused(cli, store: str) -> None:
    no_report = cli("promote", "mlp")
    assert no_report.status == 2 and "no fine-tune report for mlp" in no_report.err
    missing = cli("promote", "no-such-model")
    assert missing.status == 2 and "no model 'no-such-model'" in missing.err
    assert _champion_and_history(store) == (None, [])


def test_promoting_the_champion_again_changes_nothing(cli, store: str) -> None:
    assert cli("promote", "resnet").status == 0  # the default model: allowed as a rollback
    again = cli("promote", "resnet")
    assert again.status == 0 and "nothing changed" in again.out
    assert len(_champion_and_history(store)[1]) == 1
