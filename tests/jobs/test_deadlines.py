"""Deadline events: finalisation at late + grace, once, however many schedulers race; what staff see."""
from __future__ import annotations

import io
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from podium.jobs import DEADLINE_LEASE, BackgroundJobs, JobSettings, ScoringPool, finalise_due, release_waiting
from podium.models import AuditEvent, Competition, JobLease, Status
from podium.runtime import make_runtime
from podium.services import extensions, finalisations, leases, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import predictions, write_course

WAIT = 60


@pytest.fixture
def course(rt, tmp_path):
    """c1-old closed a day ago (late a day ago, auto_release), c1-new runs for a week more."""
    root, now = tmp_path / "courses", datetime.now(timezone.utc)
    write_course(root, now=now - timedelta(days=8), competition="old", extra_competition="auto_release = true")
    folder = write_course(root, now=now, competition="new")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
    return folder


def finalise_events(rt) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "competition.finalise")))


def competition(rt, public_id: str) -> Competition:
    with rt.db.session() as session:
        return get_competition(session, public_id)


def test_a_competition_is_finalised_once_its_late_deadline_and_grace_have_passed(rt, course):
    old = competition(rt, "c1-old")
    assert finalise_due(rt, 300, now=old.late + timedelta(seconds=299)) == []
    assert finalise_due(rt, 300, now=old.late + timedelta(seconds=301)) == ["c1-old"]
    assert finalise_due(rt, 300) == []  # once
    finalised = competition(rt, "c1-old")
    assert finalised.finalised_at is not None and finalised.released_at is not None  # it auto-releases
    assert competition(rt, "c1-new").finalised_at is None
    assert [(e.actor, e.target) for e in finalise_events(rt)] == [("scheduler", "c1-old")]


def test_an_extension_moves_the_finalisation_past_the_students_late_deadline(rt, course):
    old = competition(rt, "c1-old")
    with rt.db.session() as session:
        comp = get_competition(session, "c1-old")
        extensions.grant(session, comp, users.get_user(session, "s@x.edu"), days=3, reason="illness", actor="t")
    with rt.db.session() as session:
        due = finalisations.due_at(session, get_competition(session, "c1-old"), grace=300)
    assert due == old.late + timedelta(days=3, seconds=300)
    assert finalise_due(rt, 300, now=old.late + timedelta(days=1)) == []
    assert finalise_due(rt, 300, now=due + timedelta(seconds=1)) == ["c1-old"]


def test_finalisation_waits_for_the_queue_to_drain_for_a_while(rt, course):
    old = competition(rt, "c1-old")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
    sub = submissions.receive(rt.db, rt.settings, old.id, student_id, io.BytesIO(predictions().encode()), "p.csv",
                              at=old.late - timedelta(days=2), recorded_by="staff@x.edu")
    due = old.late + timedelta(seconds=300)
    assert finalise_due(rt, 300, now=due + timedelta(minutes=5)) == []  # its submission is still queued
    with rt.db.session() as session:
        [item] = [i for i in finalisations.upcoming(session, 300) if i.competition == "c1-old"]
    assert item.unscored == 1
    assert finalise_due(rt, 300, now=due + finalisations.MAX_DRAIN_WAIT + timedelta(seconds=1)) == ["c1-old"]
    assert submissions.score(rt.db, rt.settings, sub.id).status == Status.scored


def test_finalisation_waits_no_longer_once_the_queue_has_drained(rt, course):
    old = competition(rt, "c1-old")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
    sub = submissions.receive(rt.db, rt.settings, old.id, student_id, io.BytesIO(predictions().encode()), "p.csv",
                              at=old.late - timedelta(days=2), recorded_by="staff@x.edu")
    submissions.score(rt.db, rt.settings, sub.id)
    assert finalise_due(rt, 300, now=old.late + timedelta(minutes=6)) == ["c1-old"]


def runtimes_on_the_same_database(rt, n: int):
    """n runtimes with engines of their own on the test's database, as n processes would have."""
    return [make_runtime(data_dir=rt.settings.data_dir, database_url=rt.settings.database_url) for _ in range(n)]


def race(functions) -> list:
    start, results = threading.Barrier(len(functions)), [None] * len(functions)

    def run(i):
        start.wait()
        results[i] = functions[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    return results


def test_racing_schedulers_finalise_a_competition_once(rt, course):
    others = runtimes_on_the_same_database(rt, 4)
    schedulers = [BackgroundJobs(r, ScoringPool(r, 1), JobSettings(deadline_scan_seconds=30), holder=f"p{i}:1:x")
                  for i, r in enumerate(others)]
    try:
        results = race([s.run_deadlines for s in schedulers])
    finally:
        for s in schedulers:
            s.pool.shutdown()
        for r in others:
            r.db.dispose()
    assert sorted(map(tuple, results)) == [(), (), (), ("c1-old",)]
    assert len(finalise_events(rt)) == 1
    with rt.db.session() as session:
        lease = session.get(JobLease, DEADLINE_LEASE)
    assert lease.holder == f"p{[i for i, r in enumerate(results) if r][0]}:1:x"


def test_racing_finalisations_without_the_lease_still_happen_once(rt, course):
    others = runtimes_on_the_same_database(rt, 4)
    try:
        results = race([lambda r=r: finalise_due(r, 300) for r in others])
    finally:
        for r in others:
            r.db.dispose()
    assert sorted(map(tuple, results)) == [(), (), (), ("c1-old",)]
    assert len(finalise_events(rt)) == 1


def test_a_deadline_lease_has_one_holder_until_it_expires_or_is_released(rt, dead_holder):
    with rt.db.session() as session:
        assert leases.acquire(session, "job", "a:1:x", 60)
    with rt.db.session() as session:
        assert not leases.acquire(session, "job", "b:1:x", 60)
        assert leases.acquire(session, "job", "a:1:x", 60)  # renewal
        assert leases.holder_of(session, "job").holder == "a:1:x"
    with rt.db.session() as session:
        assert leases.release(session, "job", "a:1:x")
    with rt.db.session() as session:
        assert leases.holder_of(session, "job") is None
        assert leases.acquire(session, "job", "b:1:x", 60)
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    with rt.db.session() as session:
        assert leases.acquire(session, "job", "c:1:x", 60, now=later)  # b's lease ran out
    with rt.db.session() as session:
        assert leases.acquire(session, "dead", dead_holder, 3600)
    with rt.db.session() as session:
        assert leases.acquire(session, "dead", "d:1:x", 60)  # its holder is a dead process of this host


def test_a_started_scheduler_finalises_what_came_due_while_it_was_down_and_recovers_uploads(rt, course):
    new = competition(rt, "c1-new")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
    sub = submissions.receive(rt.db, rt.settings, new.id, student_id, io.BytesIO(predictions().encode()), "p.csv")
    pool = ScoringPool(rt, 1)
    jobs = BackgroundJobs(rt, pool, JobSettings(recovery_seconds=30, deadline_scan_seconds=30,
                                                finalise_grace_seconds=300))
    jobs.start()
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not (competition(rt, "c1-old").finalised_at and
                                                   scored(rt, sub.id)):
            time.sleep(0.05)
        with rt.db.session() as session:
            assert leases.holder_of(session, DEADLINE_LEASE).holder == jobs.holder
    finally:
        jobs.shutdown()
        pool.shutdown()
    assert competition(rt, "c1-old").finalised_at is not None and scored(rt, sub.id)
    assert competition(rt, "c1-new").finalised_at is None
    with rt.db.session() as session:
        assert leases.holder_of(session, DEADLINE_LEASE) is None  # released at shutdown


def scored(rt, sub_id: int) -> bool:
    with rt.db.session() as session:
        return session.get(submissions.Submission, sub_id).status == Status.scored


def test_staff_see_upcoming_and_past_finalisations(rt, course, podium_cli):
    finalise_due(rt)
    with rt.db.session() as session:
        report = finalisations.report(session, get_course(session, "c1"))
    new = competition(rt, "c1-new")
    assert [(i.competition, i.due_at) for i in report.upcoming] == [("c1-new", new.late + timedelta(seconds=300))]
    assert [(i.competition, i.finalised_by) for i in report.past] == [("c1-old", "scheduler")]
    assert report.past[0].finalised_at is not None and report.scheduler is None
    out = podium_cli("jobs", "--course", "c1")
    assert out.exit_code == 0
    upcoming, past = out.output.split("past finalisations:")
    assert "c1-new" in upcoming and "c1-old" not in upcoming
    assert "c1-old" in past and "by scheduler" in past
    assert "0 queued" in out.output


def test_podium_jobs_counts_the_scoring_queue(rt, course, podium_cli):
    new = competition(rt, "c1-new")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
    for _ in range(2):
        submissions.receive(rt.db, rt.settings, new.id, student_id, io.BytesIO(predictions().encode()), "p.csv")
    out = podium_cli("jobs")
    assert "scoring queue: 2 queued, 0 being scored" in out.output
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(submissions.Submission)) == 2


def test_the_scheduler_report_of_a_course_counts_only_its_own_queue(rt, course, tmp_path):
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(tmp_path / "other", slug="c2", competition="hw9"))
        other = users.add_user(session, "t@x.edu", get_course(session, "c2"), "student")
        other_comp = get_competition(session, "c2-hw9")
        other_id, other_comp_id = other.id, other_comp.id
    submissions.receive(rt.db, rt.settings, other_comp_id, other_id, io.BytesIO(predictions().encode()), "p.csv")
    with rt.db.session() as session:
        mine = finalisations.report(session, get_course(session, "c1"))
        theirs = finalisations.report(session, get_course(session, "c2"))
        everyone = finalisations.report(session)
    assert (mine.queued, theirs.queued, everyone.queued) == (0, 1, 1)
    assert [i.competition for i in theirs.upcoming] == ["c2-hw9"]
    assert {i.competition for i in everyone.upcoming} == {"c1-old", "c1-new", "c2-hw9"}



def paused_scheduler(rt) -> BackgroundJobs:
    jobs = BackgroundJobs(rt, ScoringPool(rt, 1), JobSettings(deadline_scan_seconds=60, finalise_grace_seconds=300))
    jobs.scheduler.start(paused=True)
    return jobs


def test_a_deadline_due_before_the_next_pass_gets_a_pass_of_its_own(rt, tmp_path):
    # late + grace comes 20 s from now, before the next regular pass (60 s)
    now = datetime.now(timezone.utc)
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(tmp_path / "c", now=now - timedelta(days=7, seconds=280)))
        due = finalisations.due_at(session, get_competition(session, "c1-hw1"), 300)
    jobs = paused_scheduler(rt)
    try:
        assert jobs.run_deadlines() == []
        job = jobs.scheduler.get_job(BackgroundJobs.NEXT_DEADLINE_JOB)
        assert job is not None and job.trigger.run_date == due + timedelta(seconds=1)
    finally:
        jobs.shutdown()
        jobs.pool.shutdown()


def test_an_overdue_competition_waiting_for_its_queue_gets_no_extra_pass(rt, tmp_path):
    # late was 30 minutes ago: due 25 minutes ago, but an upload still waits to be scored
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(tmp_path / "c", now=datetime.now(timezone.utc) -
                                                       timedelta(days=7, minutes=30)))
        student_id = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student").id
        comp = get_competition(session, "c1-hw1")
    submissions.receive(rt.db, rt.settings, comp.id, student_id, io.BytesIO(predictions().encode()), "p.csv",
                        at=comp.late - timedelta(days=2), recorded_by="staff@x.edu")
    jobs = paused_scheduler(rt)
    try:
        assert jobs.run_deadlines() == []  # due, but its queue has not drained
        assert jobs.scheduler.get_job(BackgroundJobs.NEXT_DEADLINE_JOB) is None  # left to the regular passes
    finally:
        jobs.shutdown()
        jobs.pool.shutdown()


# --- automatic release follows the release rule ------------------------------------------------------------


def release_events(rt) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "competition.release")))


def test_an_auto_release_waits_for_uploads_still_unscored_and_tells_staff(rt, course):
    """The queue did not drain within the wait: finalisation goes ahead (cutoffs fixed), the release does not."""
    old = competition(rt, "c1-old")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
    sub = submissions.receive(rt.db, rt.settings, old.id, student_id, io.BytesIO(predictions().encode()), "p.csv",
                              at=old.late - timedelta(days=2), recorded_by="staff@x.edu")
    due = old.late + timedelta(seconds=300)
    assert finalise_due(rt, 300, now=due + finalisations.MAX_DRAIN_WAIT + timedelta(seconds=1)) == ["c1-old"]
    waiting = competition(rt, "c1-old")
    assert waiting.finalised_at is not None and waiting.released_at is None and release_events(rt) == []
    [event] = finalise_events(rt)
    assert event.details["release_waits_for"] == ["1 upload received by then is not scored yet"]
    with rt.db.session() as session:
        report = finalisations.report(session, get_course(session, "c1"), 300)
    [item] = report.releases_waiting
    assert (item.competition, item.reasons) == ("c1-old", ("1 upload received by then is not scored yet",))
    assert "  c1-old\twaiting: 1 upload received by then is not scored yet" in finalisations.lines(report)
    assert release_waiting(rt) == []  # still unscored: it keeps waiting, never overridden
    submissions.score(rt.db, rt.settings, sub.id)
    assert release_waiting(rt) == ["c1-old"]
    assert release_waiting(rt) == []  # once
    [release] = release_events(rt)
    assert release.actor == "scheduler" and "override" not in release.details
    assert competition(rt, "c1-old").released_at is not None
    with rt.db.session() as session:
        assert finalisations.waiting_releases(session) == []


def test_a_finalisation_by_hand_before_the_late_deadline_does_not_release_early(rt, course, podium_cli):
    result = podium_cli("finalise", "c1-new")
    assert result.exit_code == 0 and competition(rt, "c1-new").released_at is None
    with rt.db.session() as session:
        get_competition(session, "c1-new").auto_release = True
    assert release_waiting(rt) == []
    with rt.db.session() as session:
        [item] = finalisations.waiting_releases(session)
    assert item.competition == "c1-new" and item.reasons[0].startswith("the late window is open until")
    late = competition(rt, "c1-new").late
    assert release_waiting(rt, now=late + timedelta(seconds=1)) == ["c1-new"]


def test_the_jobs_page_lists_a_release_that_waits(rt, course, tmp_path):
    from podium.web import create_app
    from tests.web.helpers import PASSWORD, Browser

    old = competition(rt, "c1-old")
    with rt.db.session() as session:
        student_id = users.get_user(session, "s@x.edu").id
        users.add_user(session, "ta@x.edu", get_course(session, "c1"), "staff", password=PASSWORD)
    submissions.receive(rt.db, rt.settings, old.id, student_id, io.BytesIO(predictions().encode()), "p.csv",
                        at=old.late - timedelta(days=2), recorded_by="staff@x.edu")
    finalise_due(rt, 300, now=old.late + timedelta(seconds=300) + finalisations.MAX_DRAIN_WAIT + timedelta(seconds=1))
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    staff = app.test_client().signed_in_as("ta@x.edu")
    jobs = staff.get("/staff/c1/jobs").get_data(as_text=True)
    assert '<section class="panel" id="releases-waiting">' in jobs
    assert "1 upload received by then is not scored yet" in jobs
    assert "release waiting</a>" in staff.get("/staff/c1").get_data(as_text=True)
