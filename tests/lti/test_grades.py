"""Grades in the LMS gradebook (LTI Assignment and Grade Services, podium.services.lti_grades), against the test
LMS of tests/lti/platform.py over HTTP: only competitions released and closed for every student leave Podium, with
the grades the Canvas export writes; a second pass sends nothing new; a regrade sends the grades it changed; a
platform that does not answer gets the grade again later, one that refuses it fails it at once with its words; two
senders never send one grade twice; `podium grades push` and the staff page's "Send now" send at once.

The course is tests/canvas_world.py's: done (released, closed), held (closed, not released), extended (released,
open to bo by an extension for 4 days more) and soon (not open yet), with ana and bo as students.
"""
from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from podium.config import JobSettings, load_settings
from podium.jobs import BackgroundJobs
from podium.models import AuditEvent, Competition, LtiContext, LtiGrade, LtiIdentity, LtiLineItem
from podium.services import competition_settings, export, extensions, lti, lti_grades, users
from podium.services.courses import get_course
from podium.services.lti_tool import LINEITEM_READ_SCOPE, LINEITEM_SCOPE, SCORE_SCOPE
from tests.canvas_world import ANA, BO, OTHER_TA, PROF, TA, CanvasWorld, build_canvas_world
from tests.conftest import free_port
from tests.lti.conftest import give_tool_key
from tests.lti.platform import LEARNER, TestPlatform
from tests.web.helpers import Browser

CONTEXT = "cx-lms"
SUBJECTS = {ANA: "u-ana", BO: "u-bo"}
ATTEMPTS = 3
BO_CLOSES = timedelta(days=4)  # extended's late deadline moved by bo's extension, from the world's instant


# --- the tool's key set, where the platform fetches it -------------------------------------------------------


@pytest.fixture(scope="module")
def tool_keys_server(tool_key_pem):
    """Podium's key set (the session's key, tests/lti/conftest.py) at `{tool_url}/lti/jwks.json`, where the
    platform checks the client assertions of Podium's token requests: the address of a server answering it. The
    route itself is the launch tests' (tests/lti/test_launch.py); these tests need only the key, so a tiny server
    answers for the module instead of a Podium app per test."""
    body = json.dumps(lti.ToolKey(tool_key_pem).jwks()).encode()

    def app(environ, start_response):
        if environ["PATH_INFO"] != lti.KEYS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not here"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# --- a linked course -------------------------------------------------------------------------------------------


@dataclass
class Linked:
    world: CanvasWorld
    platform: TestPlatform
    context_id: int
    tool: lti.Tool

    @property
    def now(self) -> datetime:
        return self.world.now


@pytest.fixture
def linked(rt, worlds, tmp_path, world_database, platform, tool_keys_server, tool_key_pem) -> Linked:
    """Course cx linked to the platform's course cx-lms, with its gradebook; ana and bo are learners there and
    linked to it (as a launch or a roster sync links them)."""
    world = worlds.copy_into(rt, tmp_path, "canvas course", build_canvas_world)
    give_tool_key(rt.settings.data_dir, tool_key_pem)
    platform.tool_url = tool_keys_server
    platform.add_context(CONTEXT, "Course cx in the LMS")
    for email, subject in SUBJECTS.items():
        platform.add_member(CONTEXT, subject, email=email, roles=[LEARNER])
    with rt.db.session() as session:
        registered, _ = lti.add_platform(session, rt.settings, name="Test LMS", issuer=platform.issuer,
                                         client_id=platform.client_id, deployment_ids=[platform.deployment_id],
                                         login_url=platform.auth_url, token_url=platform.token_url,
                                         key_set_url=platform.jwks_url)
        course = get_course(session, "cx")
        context = LtiContext(platform_id=registered.id, context_id=CONTEXT, title="Course cx in the LMS",
                             course_id=course.id, memberships_url=platform.url(f"/nrps/{CONTEXT}"),
                             lineitems_url=platform.url(f"/ags/{CONTEXT}/lineitems"),
                             ags_scopes=[LINEITEM_SCOPE, LINEITEM_READ_SCOPE, SCORE_SCOPE], linked_by=PROF)
        session.add(context)
        session.flush()
        for email, subject in SUBJECTS.items():
            session.add(LtiIdentity(platform_id=registered.id, subject=subject,
                                    user_id=users.get_user(session, email).id, linked_by="launch"))
        context_id = context.id
    return Linked(world, platform, context_id, lti.tool(rt.settings, rt.db))


def scheduled_pass(rt, linked: Linked, now: datetime, *, worker: str = "w1",
                   attempts: int = ATTEMPTS) -> lti_grades.SendReport:
    """What the scheduler's job does (podium.jobs): queue what is due, then send it."""
    lti_grades.queue_due(rt.db, now=now)
    return send(rt, linked, now, worker=worker, attempts=attempts)


def send(rt, linked: Linked, now: datetime, *, worker: str = "w1", attempts: int = ATTEMPTS):
    return lti_grades.send_due(rt.db, linked.tool, attempts=attempts, worker=worker, now=now)


def column(platform: TestPlatform, slug: str) -> dict | None:
    """The gradebook column of competition `slug`, found as Podium finds it: by its tag."""
    found = [item for item in platform.lineitems(CONTEXT) if item.get("tag") == f"cx-{slug}"]
    assert len(found) <= 1, found
    return found[0] if found else None


def scores(platform: TestPlatform, slug: str) -> list[tuple[str, float]]:
    """(userId, scoreGiven) of every score the platform accepted in the column of `slug`, in order."""
    item = column(platform, slug)
    return [] if item is None else [(s["userId"], s["scoreGiven"]) for s in platform.scores(item["id"])]


def canvas_grades(rt, now: datetime) -> dict[tuple[str, str], float]:
    """The grades the Canvas export writes, by (email, column header), for the columns it fills."""
    with rt.db.session() as session:
        text = export.export_csv(session, get_course(session, "cx"), fmt="canvas", now=now)
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    return {(row[3], header[i]): float(row[i]) for row in rows[2:] for i in range(5, len(header)) if row[i]}


def grade_rows(rt, linked: Linked) -> dict[tuple[str, str], LtiGrade]:
    with rt.db.session() as session:
        rows = session.scalars(select(LtiGrade).where(LtiGrade.context_id == linked.context_id)).all()
        found = {(row.user.email, row.competition.slug): row for row in rows}
        session.expunge_all()
        return found


def audit_events(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        session.expunge_all()
        return events


def set_lineitems_url(rt, linked: Linked, url: str) -> None:
    with rt.db.session() as session:
        session.get(LtiContext, linked.context_id).lineitems_url = url


# --- what leaves, and when -----------------------------------------------------------------------------------


def test_grades_leave_only_once_released_and_closed_for_every_student_as_the_canvas_export_has_them(rt, linked):
    platform, now = linked.platform, linked.now
    report = scheduled_pass(rt, linked, now)

    # done: released and closed. held: not released. extended: released, but bo's extension keeps it open. soon:
    # not open. Only done's column exists, with one score per student: the Canvas export's grade, as userId the
    # platform's id of the student.
    assert [item["tag"] for item in platform.lineitems(CONTEXT)] == ["cx-done"]
    done = column(platform, "done")
    assert (done["label"], done["scoreMaximum"], done["resourceId"]) == ("Homework done", 100, "cx-done")
    canvas = canvas_grades(rt, now)
    assert sorted(scores(platform, "done")) == sorted([("u-ana", canvas[(ANA, "Homework done (501)")]),
                                                       ("u-bo", canvas[(BO, "Homework done (501)")])])
    assert canvas[(ANA, "Homework done (501)")] > canvas[(BO, "Homework done (501)")] > 0
    [score] = [s for s in platform.scores(done["id"]) if s["userId"] == "u-bo"]
    assert (score["scoreMaximum"], score["comment"]) == (100, "Final grade in Podium")
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert sorted(o.email for o in report.sent) == [ANA, BO] and not report.failed and not report.retrying
    rows = grade_rows(rt, linked)
    assert {key: row.state for key, row in rows.items()} == {(ANA, "done"): "sent", (BO, "done"): "sent"}
    assert rows[(BO, "done")].sent_score == canvas[(BO, "Homework done (501)")]
    with rt.db.session() as session:
        item = session.scalar(select(LtiLineItem).where(LtiLineItem.competition_id == linked.world.ids["done"]))
        assert item.url == done["id"] and item.checked_at is not None

    # One audit event for the pass, listing each grade sent.
    [event] = audit_events(rt, "lti.grades_sent")
    assert event.target == CONTEXT and event.actor == "scheduler"
    assert sorted((d["email"], d["competition"], d["score"]) for d in event.details["sent"]) == sorted(
        [(ANA, "cx-done", canvas[(ANA, "Homework done (501)")]), (BO, "cx-done", canvas[(BO, "Homework done (501)")])])

    # A second pass, the same: nothing new is sent.
    posted = len(platform.requests)
    again = scheduled_pass(rt, linked, now + timedelta(minutes=1))
    assert not again.anything
    assert [r for r in platform.requests[posted:] if r.method == "POST"] == []
    assert len(audit_events(rt, "lti.grades_sent")) == 1

    # At bo's late deadline, inclusive, extended is still open to him; a second after, its grades leave.
    assert not scheduled_pass(rt, linked, now + BO_CLOSES).anything
    assert column(platform, "extended") is None
    after = scheduled_pass(rt, linked, now + BO_CLOSES + timedelta(seconds=1))
    assert sorted((o.email, o.competition) for o in after.sent) == [(ANA, "cx-extended"), (BO, "cx-extended")]
    canvas = canvas_grades(rt, now + BO_CLOSES + timedelta(seconds=1))
    assert dict(scores(platform, "extended")) == {"u-ana": canvas[(ANA, "Homework extended (503)")],
                                                  "u-bo": canvas[(BO, "Homework extended (503)")]}
    assert column(platform, "held") is None and column(platform, "soon") is None

    # held, once released, leaves with its private scores.
    with rt.db.session() as session:
        session.get(Competition, linked.world.ids["held"]).released_at = now
    later = now + BO_CLOSES + timedelta(minutes=1)
    assert sorted(o.competition for o in scheduled_pass(rt, linked, later).sent) == ["cx-held", "cx-held"]
    assert dict(scores(platform, "held"))["u-bo"] == canvas_grades(rt, later)[(BO, "Homework held (502)")]


def test_a_regrade_sends_the_grades_it_changed_and_only_those(rt, linked):
    platform, now = linked.platform, linked.now
    scheduled_pass(rt, linked, now)
    before = dict(scores(platform, "done"))
    # bo's private score is 0.5, at the D cutoff; lowering D raises his grade, and ana's (all right) stays.
    with rt.db.session() as session:
        comp = session.get(Competition, linked.world.ids["done"])
        form = competition_settings.SettingsForm.of(comp)
        competition_settings.update(session, rt.settings, comp,
                                    competition_settings.SettingsForm({**form.values, "cutoff_D": "0.4"}), PROF,
                                    regrade=True)

    report = scheduled_pass(rt, linked, now + timedelta(hours=1))

    canvas = canvas_grades(rt, now + timedelta(hours=1))
    assert [(o.email, o.competition) for o in report.sent] == [(BO, "cx-done")]
    assert canvas[(BO, "Homework done (501)")] > before["u-bo"]
    assert scores(platform, "done")[2:] == [("u-bo", canvas[(BO, "Homework done (501)")])]
    assert len(scores(platform, "done")) == 3  # ana's grade was not sent again
    assert grade_rows(rt, linked)[(BO, "done")].reason == lti_grades.CHANGED


def test_a_platform_that_does_not_answer_gets_the_grades_again_later_with_a_doubling_wait(rt, linked):
    platform, now = linked.platform, linked.now
    good = platform.url(f"/ags/{CONTEXT}/lineitems")
    set_lineitems_url(rt, linked, f"http://127.0.0.1:{free_port()}/ags/{CONTEXT}/lineitems")  # nobody listens

    first = scheduled_pass(rt, linked, now)
    assert sorted(o.email for o in first.retrying) == [ANA, BO] and not first.sent and not first.failed
    rows = grade_rows(rt, linked)
    assert {(r.state, r.attempts, r.next_attempt_at) for r in rows.values()} == {
        ("pending", 1, now + timedelta(minutes=1))}
    assert "did not answer" in rows[(ANA, "done")].last_error
    assert not send(rt, linked, now + timedelta(seconds=59)).anything  # not before its wait is over

    second = send(rt, linked, now + timedelta(minutes=1))
    assert len(second.retrying) == 2
    assert {r.next_attempt_at for r in grade_rows(rt, linked).values()} == {now + timedelta(minutes=3)}

    set_lineitems_url(rt, linked, good)  # back
    third = send(rt, linked, now + timedelta(minutes=3))
    assert sorted(o.email for o in third.sent) == [ANA, BO]
    assert {(r.state, r.attempts, r.last_error) for r in grade_rows(rt, linked).values()} == {("sent", 3, "")}
    assert sorted(user for user, _ in scores(platform, "done")) == ["u-ana", "u-bo"]
    events = audit_events(rt, "lti.grades_sent")  # each pass audited, with what failed and why
    assert [sorted(e.details) for e in events] == [["retrying"], ["retrying"], ["sent"]]
    assert "did not answer" in events[0].details["retrying"][0]["error"]


def test_a_grade_waiting_to_be_sent_stays_in_podium_once_its_competition_no_longer_leaves_it(rt, linked):
    """A grade queued when its competition left Podium, waiting out the platform's silence, is not sent after an
    extension has opened the competition again for a student (POLICY.md section 11): it waits, saying why, until
    the competition is closed for every student again."""
    platform, now = linked.platform, linked.now
    good = platform.url(f"/ags/{CONTEXT}/lineitems")
    set_lineitems_url(rt, linked, f"http://127.0.0.1:{free_port()}/ags/{CONTEXT}/lineitems")  # nobody listens
    assert len(scheduled_pass(rt, linked, now).retrying) == 2
    with rt.db.session() as session:  # done closed 15 days ago; bo may now submit for 5 days more
        extensions.grant(session, session.get(Competition, linked.world.ids["done"]), users.get_user(session, BO),
                         days=20, reason="illness", actor=PROF, regrade=True)
    set_lineitems_url(rt, linked, good)  # the platform answers again

    held = scheduled_pass(rt, linked, now + timedelta(minutes=1))

    assert not held.anything and column(platform, "done") is None
    rows = grade_rows(rt, linked)
    assert {r.state for r in rows.values()} == {"pending"}
    assert "not closed for every student" in rows[(ANA, "done")].last_error
    assert not lti_grades.push(rt.db, linked.tool, "cx", actor=PROF, now=now + timedelta(minutes=2)).sent

    # Closed again for everyone (bo's extension over): the grades go.
    reopened = now + timedelta(days=5, minutes=1)
    after = scheduled_pass(rt, linked, reopened + timedelta(hours=1))
    assert sorted(o.email for o in after.sent if o.competition == "cx-done") == [ANA, BO]
    assert sorted(user for user, _ in scores(platform, "done")) == ["u-ana", "u-bo"]


def test_grades_are_given_up_after_their_last_attempt_and_a_push_tries_them_again(rt, linked):
    now = linked.now
    set_lineitems_url(rt, linked, f"http://127.0.0.1:{free_port()}/ags/{CONTEXT}/lineitems")
    assert len(scheduled_pass(rt, linked, now, attempts=2).retrying) == 2
    given_up = send(rt, linked, now + timedelta(minutes=1), attempts=2)
    assert len(given_up.failed) == 2
    assert {(r.state, r.attempts) for r in grade_rows(rt, linked).values()} == {("failed", 2)}
    assert not scheduled_pass(rt, linked, now + timedelta(hours=2)).anything  # failed stays failed

    set_lineitems_url(rt, linked, linked.platform.url(f"/ags/{CONTEXT}/lineitems"))
    pushed = lti_grades.push(rt.db, linked.tool, "cx", actor=PROF, now=now + timedelta(hours=3))
    assert sorted(o.email for o in pushed.sent) == [ANA, BO] and pushed.ok
    assert {(r.state, r.attempts) for r in grade_rows(rt, linked).values()} == {("sent", 1)}  # fresh attempts


def test_a_score_the_platform_refuses_fails_at_once_with_its_words_and_the_others_go(rt, linked):
    platform, now = linked.platform, linked.now
    platform.remove_member(CONTEXT, "u-bo")  # dropped the LMS course: the platform refuses his score

    report = scheduled_pass(rt, linked, now)

    assert [o.email for o in report.sent] == [ANA]
    [failed] = report.failed
    assert failed.email == BO and "HTTP 400" in failed.error and "not a member of this context" in failed.error
    bo = grade_rows(rt, linked)[(BO, "done")]
    assert (bo.state, bo.attempts) == ("failed", 1) and "not a member of this context" in bo.last_error
    [event] = audit_events(rt, "lti.grades_sent")
    assert [d["email"] for d in event.details["failed"]] == [BO]
    assert not scheduled_pass(rt, linked, now + timedelta(hours=1)).anything  # not retried by every pass

    # Back in the LMS course, a push sends it.
    platform.add_member(CONTEXT, "u-bo", email=BO, roles=[LEARNER])
    pushed = lti_grades.push(rt.db, linked.tool, "cx", actor=PROF, now=now + timedelta(hours=2))
    assert [o.email for o in pushed.sent] == [BO] and pushed.ok
    assert [user for user, _ in scores(platform, "done")].count("u-bo") == 1


def test_a_student_without_an_lms_identity_is_named_and_sent_once_linked(rt, linked):
    now = linked.now
    with rt.db.session() as session:
        bo = users.get_user(session, BO)
        session.delete(session.scalar(select(LtiIdentity).where(LtiIdentity.user_id == bo.id)))

    report = scheduled_pass(rt, linked, now)

    assert [o.email for o in report.sent] == [ANA]
    row = grade_rows(rt, linked)[(BO, "done")]
    assert (row.state, row.last_error) == ("failed", lti_grades.NO_IDENTITY)
    with rt.db.session() as session:
        listing = lti_grades.listing(session, get_course(session, "cx"), now=now)
    assert (listing.lines[0].email, listing.lines[0].state) == (BO, "failed")  # failed first

    # A launch (or a roster sync) links him: the next pass sends his grade.
    with rt.db.session() as session:
        registered = lti.platforms(session)[0]
        session.add(LtiIdentity(platform_id=registered.id, subject="u-bo", user_id=bo.id, linked_by="roster"))
    later = scheduled_pass(rt, linked, now + timedelta(minutes=1))
    assert [(o.email, o.competition) for o in later.sent] == [(BO, "cx-done")]
    assert grade_rows(rt, linked)[(BO, "done")].reason == lti_grades.NEW_IN_LMS


def test_a_student_with_nothing_counted_gets_the_real_0_the_canvas_export_writes(rt, linked):
    platform, now = linked.platform, linked.now
    platform.add_member(CONTEXT, "u-cy", email="cy@x.test", roles=[LEARNER])
    with rt.db.session() as session:
        cy = users.add_user(session, "cy@x.test", get_course(session, "cx"), "student", name="Cy")
        session.add(LtiIdentity(platform_id=lti.platforms(session)[0].id, subject="u-cy", user_id=cy.id,
                                linked_by="roster"))

    scheduled_pass(rt, linked, now)

    assert canvas_grades(rt, now)[("cy@x.test", "Homework done (501)")] == 0
    assert dict(scores(platform, "done"))["u-cy"] == 0


def test_two_senders_never_send_one_grade_twice(rt, linked):
    platform, now = linked.platform, linked.now
    assert lti_grades.queue_due(rt.db, now=now) == 2
    with rt.db.session() as session:
        taken = lti_grades._claim(session, "w1", now, None)
    with rt.db.session() as session:
        assert lti_grades._claim(session, "w2", now, None) == []
    assert len(taken) == 2
    assert not send(rt, linked, now, worker="w2").anything  # w1's claim holds
    # w1 crashed: its claim lapses, and another sender takes the grades over.
    later = now + lti_grades.CLAIM + timedelta(seconds=1)
    assert len(send(rt, linked, later, worker="w2").sent) == 2

    # Two senders at the same time, on grades queued again (as `podium grades push --resend` queues them).
    with rt.db.session() as session:
        lti_grades.queue(session, session.get(LtiContext, linked.context_id), reason="resend", now=later,
                         resend=True)
    at = later + timedelta(seconds=1)
    reports = [None, None]

    def run(n: int) -> None:
        reports[n] = send(rt, linked, at, worker=f"s{n}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.email for r in reports for o in r.sent) == [ANA, BO]
    assert sorted(user for user, _ in scores(platform, "done")) == ["u-ana", "u-ana", "u-bo", "u-bo"]


def test_the_scheduler_job_sends_in_the_lease_holder(rt, linked):
    jobs = BackgroundJobs(rt, pool=None, settings=JobSettings(lti_push_attempts=ATTEMPTS))
    done = jobs.push_grades_if_leading(now=linked.now)
    assert sorted(o.email for o in done.sent) == [ANA, BO]
    other = BackgroundJobs(rt, pool=None, holder="elsewhere:1:x")
    assert other.push_grades_if_leading(now=linked.now) is None  # not the lease holder


def test_lti_push_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_LTI_PUSH_SECONDS", raising=False)
    monkeypatch.delenv("PODIUM_LTI_PUSH_ATTEMPTS", raising=False)
    jobs = load_settings(data_dir=tmp_path).jobs
    assert (jobs.lti_push_seconds, jobs.lti_push_attempts) == (60, 30)
    monkeypatch.setenv("PODIUM_LTI_PUSH_SECONDS", "0.5")
    monkeypatch.setenv("PODIUM_LTI_PUSH_ATTEMPTS", "4")
    jobs = load_settings(data_dir=tmp_path).jobs
    assert (jobs.lti_push_seconds, jobs.lti_push_attempts) == (0.5, 4)


# --- `podium grades push` and the staff page ---------------------------------------------------------------


def test_grades_push_sends_now_prints_what_failed_and_exits_non_zero_then(rt, linked, podium_cli):
    platform = linked.platform
    platform.remove_member(CONTEXT, "u-bo")

    done = podium_cli("grades", "push", "cx")

    assert done.exit_code == 1
    assert "cx: 1 grade sent, 1 failed, 0 to try again, 3 competitions held back" in done.stdout
    assert f"failed: {BO} in cx-done" in done.stderr and "not a member of this context" in done.stderr
    assert "held back: cx-held: its private leaderboard is not released" in done.stdout
    assert "held back: cx-extended: it is not closed for every student" in done.stdout
    [push] = audit_events(rt, "lti.grades_push")
    assert push.actor.startswith("cli") and push.details["held"] == ["cx-held", "cx-extended", "cx-soon"]

    platform.add_member(CONTEXT, "u-bo", email=BO, roles=[LEARNER])
    again = podium_cli("grades", "push", "cx")  # retries the failed grade
    assert again.exit_code == 0 and "cx: 1 grade sent, 0 failed" in again.stdout
    resent = podium_cli("grades", "push", "cx", "--resend")
    assert resent.exit_code == 0 and "cx: 2 grades sent" in resent.stdout
    assert "the failed ones again" in " ".join(podium_cli("grades", "push", "--help").stdout.split())


def test_grades_push_of_a_course_without_a_linked_gradebook_says_what_to_do(rt, linked, podium_cli):
    done = podium_cli("grades", "push", "cy")
    assert done.exit_code == 1
    assert "Course cy is linked to no LMS course whose gradebook" in done.stderr


@pytest.fixture
def app(rt):
    from podium.web import create_app

    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.config["TESTING"] = True
    return app


def test_send_now_is_the_instructors_and_does_what_the_command_does(rt, linked, app):
    platform = linked.platform
    platform.remove_member(CONTEXT, "u-bo")
    ta = app.test_client().signed_in_as(TA)
    page = ta.get("/staff/cx/lms-grades").get_data(as_text=True)
    assert 'action="/staff/cx/lms-grades/send"' not in page and "Only the course's instructors send grades" in page
    assert ta.form("/staff/cx/lms-grades/send").status_code == 403
    assert platform.lineitems(CONTEXT) == []
    for outsider in (ANA, OTHER_TA):
        browser = app.test_client().signed_in_as(outsider)
        assert browser.form("/staff/cx/lms-grades/send").status_code == 403
    assert platform.lineitems(CONTEXT) == [] and audit_events(rt, "lti.grades_push") == []

    prof = app.test_client().signed_in_as(PROF)
    assert 'action="/staff/cx/lms-grades/send"' in prof.get("/staff/cx/lms-grades").get_data(as_text=True)
    sent = prof.form("/staff/cx/lms-grades/send")
    assert sent.status_code == 302 and sent.location.endswith("/staff/cx/lms-grades")
    page = prof.get("/staff/cx/lms-grades").get_data(as_text=True)

    assert "cx: 1 grade sent, 1 failed" in page
    assert [user for user, _ in scores(platform, "done")] == ["u-ana"]
    # Failed first, with the platform's words; then what was sent; then what is held back, and why.
    failed, sent_row = page.index("not a member of this context"), page.index("ana@x.test")
    assert failed < sent_row < page.index("<h2>Held back</h2>")
    assert "Homework held" in page and "its private leaderboard is not released" in page
    [push] = audit_events(rt, "lti.grades_push")
    assert push.actor == PROF
