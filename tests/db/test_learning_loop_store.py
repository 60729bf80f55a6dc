"""The learning loop's store: champion alias with audit, fine-tune jobs, drawings in and out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from db import champion, drawings, jobs, repository
from db.engine import session_scope
from db.schema import FinetuneJob
from db.submission import Drawing
from testing_support.feedback import make_submission, register

STROKES = [[[10.0, 12.5], [40.0, 200.0]], [[5, 5], [6, 7], [8, 9]]]


# --- champion ------------------------------------------------------------------------


def test_no_alias_until_a_promotion(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert champion.get_alias(session) is None
        assert champion.alias_history(session) == []


def test_promotion_moves_the_alias_and_audits_it(db_url: str) -> None:
    with session_scope(db_url) as session:
        first, second = register(session, "base"), register(session, "tuned")
        assert champion.set_alias(session, first) is None
    with session_scope(db_url) as session:
        previous = champion.set_alias(session, second, evidence={"verdict": "promote"})
    assert previous == first
    with session_scope(db_url) as session:
        target = champion.get_alias(session)
        history = champion.alias_history(session)
    assert (target.model_version_id, target.name) == (second, "tuned")
    assert [(m.from_name, m.to_name, m.evidence) for m in history] == [
        ("base", "tuned", {"verdict": "promote"}),
        (None, "base", None),
    ]
    assert history[0].changed_at >= history[1].changed_at


def test_rollback_is_promoting_the_previous_version(db_url: str) -> None:
    with session_scope(db_url) as session:
        first, second = register(session, "base"), register(session, "tuned")
        champion.set_alias(session, first)
        champion.set_alias(session, second)
        champion.set_alias(session, first, forced=True, reason="tuned misreads sevens")
        assert champion.get_alias(session).name == "base"
        latest = champion.alias_history(session)[0]
    assert (latest.from_name, latest.to_name, latest.forced) == ("tuned", "base", True)
    assert latest.reason == "tuned misreads sevens"


def test_a_forced_promotion_needs_a_reason_and_a_known_version(db_url: str) -> None:
    with session_scope(db_url) as session:
        version = register(session, "base")
        with pytest.raises(ValueError, match="needs a reason"):
            champion.set_alias(session, version, forced=True, reason="  ")
        with pytest.raises(ValueError, match="no model version with id 999"):
            champion.set_alias(session, 999)
        assert champion.get_alias(session) is None


def test_serving_choice_follows_the_alias_and_names_missing_weights(tmp_path: Path) -> None:
    (tmp_path / "tuned.pt").write_bytes(b"weights")
    now = datetime.now(UTC)
    tuned = champion.AliasTarget(2, "tuned", "a" * 64, now)
    gone = champion.AliasTarget(3, "gone", "b" * 64, now)
    assert champion.serving_choice(None, tmp_path, "resnet").name == "resnet"
    assert champion.serving_choice(tuned, tmp_path, "resnet").weights == tmp_path / "tuned.pt"
    fallback = champion.serving_choice(gone, tmp_path, "resnet")
    assert (fallback.name, fallback.missing) == ("resnet", tmp_path / "gone.pt")


# --- jobs ----------------------------------------------------------------------------


def test_a_second_job_is_refused_while_one_runs(db_url: str) -> None:
    with session_scope(db_url) as session:
        first = jobs.claim_job(session, host="replica-1", pid=11)
    busy = pytest.raises(jobs.JobBusyError, match=f"fine-tune #{first} .*replica-1")
    with busy, session_scope(db_url) as session:
        jobs.claim_job(session, host="replica-2")
    with session_scope(db_url) as session:
        jobs.update_job(session, first, progress=0.5, message="epoch 3 of 6")
        assert jobs.running_job(session).progress == 0.5
        jobs.finish_job(session, first, succeeded=True, message="done", report={"verdict": "keep"})
    with session_scope(db_url) as session:
        second = jobs.claim_job(session, host="replica-2")
        done = jobs._one(session, sa.select(FinetuneJob).where(FinetuneJob.id == first))
    assert second != first
    assert (done.state, done.progress, done.report) == ("succeeded", 1.0, {"verdict": "keep"})


def test_two_claims_racing_give_exactly_one_job(db_url: str) -> None:
    barrier, outcomes = threading.Barrier(2), []

    def claim(host: str) -> None:
        barrier.wait()
        try:
            with session_scope(db_url) as session:
                outcomes.append(jobs.claim_job(session, host=host))
        except jobs.JobBusyError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["JobBusyError", "int"]


def test_a_job_without_heartbeat_is_taken_over(db_url: str) -> None:
    with session_scope(db_url) as session:
        dead = jobs.claim_job(session, host="crashed")
        session.execute(
            sa.update(FinetuneJob).values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    with session_scope(db_url) as session:
        fresh = jobs.claim_job(session, host="replica-2")
        assert jobs.running_job(session).id == fresh
        old = jobs._one(session, sa.select(FinetuneJob).where(FinetuneJob.id == dead))
    assert old.state == "failed" and "stopped reporting" in old.message


def test_report_and_lineage_come_from_finished_jobs(db_url: str) -> None:
    with session_scope(db_url) as session:
        base, tuned = register(session, "base"), register(session, "tuned")
        job = jobs.claim_job(session, host="h")
        jobs.finish_job(
            session, job, succeeded=True, message="ok", base_version_id=base,
            challenger_version_id=tuned, report={"verdict": "promote"},
        )  # fmt: skip
        assert jobs.report_for(session, tuned) == {"verdict": "promote"}
        assert jobs.report_for(session, base) is None
        assert jobs.lineage(session) == [(base, tuned)]
        assert jobs.latest_job(session).state == "succeeded"


# --- drawings ------------------------------------------------------------------------


def test_drawings_come_out_with_strokes_labels_and_times(db_url: str) -> None:
    made = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    drawn = Drawing(strokes=STROKES, canvas_width=280, canvas_height=200)
    with session_scope(db_url) as session:
        repository.store(
            session,
            make_submission("r-1", label=1, drawing=drawn, created_at=made, session_id="p-a"),
        )
        repository.store(session, make_submission("r-2", source="upload", session_id=None))
    with session_scope(db_url) as session:
        everything = drawings.stored_drawings(session)
        labelled = drawings.stored_drawings(session, labelled_only=True)
        known = drawings.known_request_ids(session, ["r-1", "r-2", "r-3"])
        picked = drawings.stored_drawings(session, ids=[everything[1].prediction_id])
    assert [d.request_id for d in everything] == ["r-1", "r-2"]
    assert known == {"r-1", "r-2"}
    assert [d.request_id for d in picked] == ["r-2"]
    (one,) = labelled
    assert (one.label, one.session_id, one.canvas_size, one.created_at) == (
        1,
        "p-a",
        (280, 200),
        made,
    )
    assert one.strokes == [[[10.0, 12.5], [40.0, 200.0]], [[5.0, 5.0], [6.0, 7.0], [8.0, 9.0]]]
    assert (one.source, everything[1].source, everything[1].strokes) == ("canvas", "upload", None)
    assert one.image == bytes(make_submission("x").image)


def test_an_empty_store_has_no_drawings(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert drawings.stored_drawings(session, labelled_only=True) == []
        assert drawings.known_request_ids(session, []) == set()


# --- the app's PostgreSQL role -------------------------------------------------------


@pytest.mark.postgres
def test_app_role_promotes_and_runs_jobs_but_cannot_rewrite_the_audit(fresh_pg_url: str) -> None:
    import secrets

    from db.engine import dispose_engines, get_engine
    from db.roles import APP_ROLE, ensure_roles, role_url

    password = secrets.token_urlsafe(12)
    ensure_roles(fresh_pg_url, app_password=password, analyst_password=password + "x")
    app = role_url(fresh_pg_url, APP_ROLE, password)
    try:
        with session_scope(app) as session:
            version = register(session)
            champion.set_alias(session, version, evidence={"verdict": "promote"})
            job = jobs.claim_job(session, host="h")
            jobs.finish_job(session, job, succeeded=False, message="stopped")
        for sql in ("DELETE FROM alias_changes", "UPDATE alias_changes SET reason = 'x'"):
            with pytest.raises(sa.exc.ProgrammingError), get_engine(app).begin() as connection:
                connection.execute(sa.text(sql))
    finally:
        dispose_engines(app)
