"""Notifications (podium.services.notifications) received by a real SMTP server through the outbox: each kind with
the right words, none for a student who did not ask, nothing that depends on private scores or unreleased grades
(POLICY.md section 11), deadline reminders at their edges, and the staff reminder of the early deadline with who
may send it.

The course is the web tests' (tests/web/conftest.py): c1-hw1 opened 10 days ago, its early deadline passed 5 days
ago, on time in 3 days, late 4 days after; students student@c1.test and other@c1.test, TA ta@c1.test; the outsider
is a student of c2 (c2-hw9, the same schedule).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from podium import jobs
from podium.models import AuditEvent, Competition, OutboxMail, User, utcnow
from podium.services import competitions, extensions, notifications, outbox, regrades, users
from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.web.conftest import (app, as_outsider, as_staff, as_student, build_course, course, now)  # noqa: F401
from tests.web.helpers import page, record

BASE = "https://podium.example.edu"
# Right on ids 0-2 of the 6 Public rows and 6-14 of the 12 Private ones: public 0.5, private 0.75.
SPLIT = predictions({0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14})
PUBLIC, PRIVATE = "0.50000", "0.75000"


def opt_in(rt, email: str, **chosen: bool) -> None:
    with rt.db.session() as session:
        notifications.choose(session, users.get_user(session, email), notifications.Choices(**chosen))


ALL = {"submission_results": True, "deadline_reminders": True, "grade_changes": True}


def send(rt, now: datetime | None = None) -> outbox.SendReport:
    return outbox.send_due(rt.db, attempts=3, worker="test", now=now)


def received(smtp_server, email: str) -> list[tuple[str, str]]:
    """(subject, body) of every mail the server received for `email` (a long subject is folded onto a line of its
    own, which unfolds with a leading space that mail programs do not show)."""
    return [(str(m["Subject"]).strip(), m.get_content()) for m in smtp_server.messages if m["To"] == email]


def queued(rt) -> list[OutboxMail]:
    with rt.db.session() as session:
        mails = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        session.expunge_all()
        return mails


def change_competition(rt, comp_id: int, **values) -> None:
    """Set columns of a competition directly (a test's setting of the scene, not a staff change)."""
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        for name, value in values.items():
            setattr(comp, name, value)


# --- the profile ------------------------------------------------------------------------------------------


def test_every_notification_is_off_until_chosen_on_the_profile_audited_and_read_by_api_me(rt, course, as_student):
    assert page(as_student.get("/profile")).count('type="checkbox"') == 3
    assert as_student.get("/api/me").get_json()["notifications"] == dict.fromkeys(ALL, False)

    saved = as_student.form("/profile/notifications", {"submission_results": "on", "grade_changes": "on"})

    assert saved.status_code == 302
    assert as_student.get("/api/me").get_json()["notifications"] == {
        "submission_results": True, "deadline_reminders": False, "grade_changes": True}
    profile = page(as_student.get("/profile"))
    assert 'name="submission_results" checked' in profile and 'name="deadline_reminders" >' in profile
    as_student.form("/profile/notifications", {})  # every box unticked: all off again
    assert as_student.get("/api/me").get_json()["notifications"] == dict.fromkeys(ALL, False)
    with rt.db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.notifications")
                                 .order_by(AuditEvent.id)).all()
        assert [(e.actor, e.details["grade_changes"]) for e in events] == [(course.student, True),
                                                                           (course.student, False)]


# --- a submission scored or failed -------------------------------------------------------------------------


def test_a_scored_submission_is_mailed_with_its_public_score_only_to_an_author_who_asked(
        rt, course, smtp_server, monkeypatch):
    monkeypatch.setenv("PODIUM_BASE_URL", BASE)
    opt_in(rt, course.student, submission_results=True)
    mine = record(rt, course.comp_id, course.student, SPLIT, name="split.csv")
    record(rt, course.comp_id, course.other, SPLIT)  # the other student did not ask

    send(rt)

    [(subject, body)] = received(smtp_server, course.student)
    assert subject == "Homework hw1: your submission split.csv was scored"
    assert f"public score {PUBLIC}" in body and f"{BASE}/submissions/{mine}" in body
    assert PRIVATE not in body and "0.75" not in body  # the private score, before release: never
    assert received(smtp_server, course.other) == []
    [mail] = [m for m in queued(rt) if m.recipient == course.student]
    assert (mail.kind, mail.course_id) == (notifications.SUBMISSION_RESULT, schedule(rt, course.comp_id).course_id)


def test_a_failed_submission_is_mailed_with_its_message_and_without_a_link_when_no_base_url(
        rt, course, smtp_server):
    opt_in(rt, course.student, submission_results=True)
    record(rt, course.comp_id, course.student, "id,label\n1,2\n", name="broken.csv")

    send(rt)

    [(subject, body)] = received(smtp_server, course.student)
    assert subject == "Homework hw1: your submission broken.csv could not be scored"
    assert "missing" in body.lower() and "http" not in body


def test_a_practice_submission_is_mailed_as_one(rt, course, smtp_server, now):
    opt_in(rt, course.student, submission_results=True)
    change_competition(rt, course.comp_id, allow_practice=True)
    record(rt, course.comp_id, course.student, SPLIT, at=now + timedelta(days=8))  # after the late deadline

    send(rt)

    [(subject, body)] = received(smtp_server, course.student)
    assert subject == "Homework hw1: your practice submission sub.csv was scored"
    assert "never graded" in body and PRIVATE not in body


# --- grades released or changed ---------------------------------------------------------------------------


def grades_students_read(rt, comp_id: int) -> dict[str, float | None]:
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        finals = regrades.final_grades(session, comp.course, staff=False)
        emails = dict(session.execute(select(User.id, User.email)).all())
        return {emails[u]: grade for (u, c), grade in finals.items() if c == comp_id}


def test_release_mails_each_student_who_asked_their_grade_and_a_regrade_mails_old_and_new(rt, course, smtp_server):
    for email in (course.student, course.other):
        record(rt, course.comp_id, email, SPLIT)
    opt_in(rt, course.student, grade_changes=True)
    opt_in(rt, course.other, submission_results=True)  # not grades
    smtp_server.messages.clear()
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        competitions.finalise(session, comp, "ta@c1.test")
        # The attack: a regrade of a finalised competition not yet released changes grades students cannot read
        # yet; it mails nobody.
        extensions.grant(session, comp, users.get_user(session, course.student), days=6, reason="illness",
                         actor="ta@c1.test", regrade=True)
        assert session.scalars(select(regrades.GradeChange)).all()  # it did change a grade
    send(rt)
    assert smtp_server.messages == []

    with rt.db.session() as session:
        competitions.release(session, session.get(Competition, course.comp_id), "ta@c1.test", override="tests")
    send(rt)

    grade = grades_students_read(rt, course.comp_id)[course.student]
    [(subject, body)] = received(smtp_server, course.student)
    assert subject == "Homework hw1: grades released"
    assert f"Your grade in it: {grade:.1f}." in body
    assert received(smtp_server, course.other) == []

    with rt.db.session() as session:  # the extension taken back: the early deadline missed again
        comp = session.get(Competition, course.comp_id)
        student = users.get_user(session, course.student)
        extensions.grant(session, comp, student, hours=1, reason="corrected", actor="ta@c1.test", regrade=True)
        changed = session.scalars(select(regrades.GradeChange).order_by(regrades.GradeChange.id.desc())).first()
        old, new = changed.old_final, changed.new_final
    send(rt)

    [_, (subject, body)] = received(smtp_server, course.student)
    assert subject == "Course c1: your grade changed"
    assert f"Homework hw1 (c1-hw1): {old:.1f} -> {new:.1f}" in body
    assert f"regrade: an extension for {course.student} on c1-hw1" in body


def test_an_automatic_release_mails_too(rt, course, smtp_server, now):
    record(rt, course.comp_id, course.student, SPLIT)
    opt_in(rt, course.student, grade_changes=True)
    change_competition(rt, course.comp_id, auto_release=True, finalised_at=now + timedelta(days=7, minutes=5))

    assert jobs.release_waiting(rt, now=now + timedelta(days=7, minutes=10)) == [course.public_id]
    send(rt)

    [(subject, _)] = received(smtp_server, course.student)
    assert subject == "Homework hw1: grades released"


# --- deadline reminders -----------------------------------------------------------------------------------


def schedule(rt, comp_id: int) -> Competition:
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        session.expunge(comp)
        return comp


def remind(rt, at: datetime) -> int:
    with rt.db.session() as session:
        return notifications.send_due_reminders(session, now=at)


def test_a_reminder_goes_once_in_the_day_before_the_deadline_to_students_who_asked_and_have_nothing_scored(
        rt, course, smtp_server, monkeypatch):
    monkeypatch.setenv("PODIUM_BASE_URL", BASE)
    comp = schedule(rt, course.comp_id)
    for email in (course.student, course.other, course.staff, course.outsider):
        opt_in(rt, email, deadline_reminders=True)
    record(rt, course.comp_id, course.other, SPLIT)  # scored before the on-time deadline: nothing to remind
    with rt.db.session() as session:  # a student who did not ask
        users.add_user(session, "quiet@c1.test", comp_course(session, course), "student")
    at = comp.ontime - timedelta(hours=12)

    assert remind(rt, comp.ontime - timedelta(hours=25)) == 0  # not yet the day before
    assert remind(rt, at) == 2  # the student in c1, the outsider in c2: never staff, never one who did not ask
    assert remind(rt, at + timedelta(minutes=5)) == 0  # the next pass: already written
    send(rt, at)

    [(subject, body)] = received(smtp_server, course.student)
    assert subject.startswith("Homework hw1: on-time deadline ")
    assert "less than a day from now" in body and f"{BASE}/competitions/c1-hw1/submit" in body
    assert [s for s, _ in received(smtp_server, course.outsider)][0].startswith("Homework hw9: on-time deadline")
    assert received(smtp_server, course.other) == received(smtp_server, course.staff) == []
    assert received(smtp_server, "quiet@c1.test") == []


def comp_course(session, course):
    return get_competition(session, course.public_id).course


def test_an_extension_moves_the_reminder_and_a_moved_deadline_gets_its_own(rt, course, smtp_server):
    comp = schedule(rt, course.comp_id)
    opt_in(rt, course.student, deadline_reminders=True)
    at = comp.ontime - timedelta(hours=12)
    assert remind(rt, at) == 1
    with rt.db.session() as session:
        extensions.grant(session, get_competition(session, course.public_id),
                         users.get_user(session, course.student), days=2, reason="illness", actor="ta@c1.test")

    assert remind(rt, at + timedelta(minutes=5)) == 0  # the new deadline is two days off
    assert remind(rt, comp.ontime + timedelta(days=2) - timedelta(hours=3)) == 1  # its own reminder
    keys = [m.dedupe_key for m in queued(rt)]
    assert keys == [f"reminder:c{comp.id}:u{user_id(rt, course.student)}:on-time:{iso(comp.ontime)}",
                    f"reminder:c{comp.id}:u{user_id(rt, course.student)}:on-time:"
                    f"{iso(comp.ontime + timedelta(days=2))}"]


def user_id(rt, email: str) -> int:
    with rt.db.session() as session:
        return users.get_user(session, email).id


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_no_reminder_for_a_passed_deadline_and_a_scored_submission_in_the_window_suppresses_one(rt, course, now):
    comp = schedule(rt, course.comp_id)
    opt_in(rt, course.student, deadline_reminders=True)
    opt_in(rt, course.other, deadline_reminders=True)

    assert remind(rt, comp.early + timedelta(seconds=1)) == 0  # the early deadline has just passed
    assert remind(rt, comp.early - timedelta(hours=1)) == 2  # its last hour: both are reminded
    # A scored submission received in the on-time reminder's day, before the pass: no on-time reminder for them.
    record(rt, course.comp_id, course.other, SPLIT, at=now)
    assert remind(rt, comp.ontime - timedelta(hours=1)) == 1
    assert [m.recipient for m in queued(rt)][-1] == course.student
    assert remind(rt, comp.ontime) == 0 and remind(rt, comp.ontime + timedelta(days=1)) == 0


def test_the_schedulers_lease_holder_runs_the_reminder_pass(rt, course):
    change_competition(rt, course.comp_id, ontime=utcnow() + timedelta(hours=12))
    opt_in(rt, course.student, deadline_reminders=True)
    leader, other = jobs.BackgroundJobs(rt, None, holder="one"), jobs.BackgroundJobs(rt, None, holder="two")

    assert leader.remind_if_leading() == 1
    assert other.remind_if_leading() is None  # not the lease holder: it leaves the pass to the one that is
    assert leader.remind_if_leading() == 0  # already written
    assert rt.settings.jobs.reminder_seconds == 300


def test_a_reminder_not_sent_by_its_deadline_expires(rt, course, smtp_server):
    comp = schedule(rt, course.comp_id)
    opt_in(rt, course.student, deadline_reminders=True)
    remind(rt, comp.ontime - timedelta(hours=1))

    report = send(rt, comp.ontime + timedelta(seconds=1))  # the mail server was down until after the deadline

    assert len(report.expired) == 1 and smtp_server.messages == []


# --- staff remind those without a scored submission before the early deadline ---------------------------


@pytest.fixture
def early_ahead(rt, course) -> datetime:
    """c1-hw1's early deadline moved a day ahead: neither student has a scored submission yet."""
    early = utcnow().replace(microsecond=0) + timedelta(days=1)
    change_competition(rt, course.comp_id, early=early)
    return early


def test_staff_remind_everyone_without_a_scored_submission_once_a_day_whatever_they_chose(
        rt, course, early_ahead, as_staff, smtp_server):
    record(rt, course.comp_id, course.other, SPLIT)  # has one: not reminded
    confirm = page(as_staff.get(f"/staff/competitions/{course.public_id}/remind-early"))
    assert "whatever they chose" in confirm and course.student in confirm and course.other not in confirm
    assert "Mail the reminder to 1 student" in confirm
    assert f"/staff/competitions/{course.public_id}/remind-early" in page(as_staff.get("/staff/c1"))

    first = as_staff.form(f"/staff/competitions/{course.public_id}/remind-early", follow_redirects=True)
    again = as_staff.form(f"/staff/competitions/{course.public_id}/remind-early", follow_redirects=True)

    assert "1 student of c1-hw1 reminded of the early deadline by mail." in page(first)
    assert "0 students of c1-hw1 reminded" in page(again) and "1 already reminded today" in page(again)
    send(rt)
    [(subject, body)] = received(smtp_server, course.student)  # she never opted in: a staff message goes anyway
    assert subject.startswith("Homework hw1: early deadline ") and "A reminder from the course staff" in body
    assert "your notification settings do not apply" in body
    with rt.db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "competition.remind_early")).all()
        assert [(e.actor, e.details["mailed"]) for e in events] == [(course.staff, [course.student]),
                                                                    (course.staff, [])]


def test_a_student_or_another_courses_staff_cannot_send_the_staff_reminder(
        rt, course, early_ahead, as_student, as_outsider, as_staff):
    assert as_student.form(f"/staff/competitions/{course.public_id}/remind-early").status_code == 403
    assert as_outsider.form(f"/staff/competitions/{course.public_id}/remind-early").status_code == 403
    assert as_staff.form("/staff/competitions/c2-hw9/remind-early").status_code == 403  # c2's, not theirs
    assert queued(rt) == []


def test_the_remind_command_counts_and_mails_nobody_twice(rt, course, early_ahead, podium_cli):
    done = podium_cli("remind", course.public_id)
    assert done.exit_code == 0 and done.stdout.strip() == "2 students of c1-hw1 reminded of the early deadline by mail."
    again = podium_cli("remind", course.public_id)
    assert "0 students" in again.stdout and "2 already reminded today" in again.stdout
    assert len(queued(rt)) == 2


def test_no_staff_reminder_once_the_early_deadline_has_passed(rt, course, podium_cli):
    done = podium_cli("remind", course.public_id)  # the world's early deadline passed 5 days ago
    assert done.stdout.strip() == ("0 students of c1-hw1 reminded of the early deadline by mail; 2 whose early "
                                   "deadline has passed, not mailed.")
    assert queued(rt) == []
