"""The roster of a linked LMS course kept in sync (podium.services.lti_roster), against the test LMS over HTTP.

The world: course c1 (hw1, open) with its instructor, three students (Ana and Ben with a scored submission each, Ana
the class's best; Cam with none) and Mia, enrolled by staff and never in the LMS; course c2 (hw9) with Dan and Out;
and an account at another domain enrolled nowhere. The LMS course "lms-c1" is linked to c1, and the platform is
trusted for @uni.test.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from podium.config import JobSettings, load_settings
from podium.domain import Role, utcnow
from podium.jobs import BackgroundJobs, QueueOnly
from podium.models import AuditEvent, Course, Enrolment, LtiContext, LtiIdentity, Submission, User
from podium.services import authority, competitions, lti, lti_roster, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import free_port, predictions, write_course
from tests.lti.platform import INSTRUCTOR, LEARNER, MENTOR, TEACHING_ASSISTANT, TestPlatform
from tests.web.helpers import record

PROF, ANA, BEN, CAM, MIA = "prof@uni.test", "ana@uni.test", "ben@uni.test", "cam@uni.test", "mia@uni.test"
DAN, OUT, TAKEN = "dan@uni.test", "out@uni.test", "taken@other.test"


# --- the tool's key set, where the platform fetches it ---------------------------------------------------------------


class ToolKeysServer:
    """Serves `keys` at /lti/jwks.json, as Podium's web app does, for the platform to check Podium's token
    requests; each test sets the keys of its own data dir."""

    def __init__(self):
        self.keys: dict = {"keys": []}
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # Polling for the shutdown every 50 ms, not 500: the session's end waits on it.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tool-keys", daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path != lti.KEYS_PATH:
            return Response("not found", status=404)
        return Response(json.dumps(self.keys), mimetype="application/json")

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@pytest.fixture(scope="session")
def tool_keys_server():
    server = ToolKeysServer()
    yield server
    server.stop()


# --- the world ---------------------------------------------------------------------------------------------------------


def build_roster_world(rt, folder: Path, now) -> None:
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(folder / "courses", now=now))
        load_course(session, rt.settings, write_course(folder / "other", slug="c2", competition="hw9", now=now))
        c1, c2 = get_course(session, "c1"), get_course(session, "c2")
        users.add_user(session, PROF, c1, "instructor", name="Pro Fessor")
        for email in (ANA, BEN, CAM, MIA):
            users.add_user(session, email, c1, "student", name=email.split("@")[0].title())
        for email in (DAN, OUT):
            users.add_user(session, email, c2, "student")
        session.add(User(email=TAKEN, name="Taken"))
        comp_id = get_competition(session, "c1-hw1").id
    lti.tool(rt.settings, rt.db)  # the tool's key pair, made once into the data dir every test copies
    record(rt, comp_id, ANA, predictions())  # every row right: the class's best
    record(rt, comp_id, BEN, predictions(set(range(20)) - {17}))  # private 11/12: a bonus measured against Ana


@dataclass
class Linked:
    rt: object
    platform: TestPlatform
    platform_id: int
    context_row: int
    tool: object

    def sync(self, **kwargs) -> lti_roster.SyncReport:
        return lti_roster.sync(self.rt.db, self.tool, self.context_row, actor="cli:tester", **kwargs)


def register(rt, platform: TestPlatform, *, domains=("uni.test",)) -> int:
    with rt.db.session() as session:
        registered, _ = lti.add_platform(session, rt.settings, name="Test LMS", issuer=platform.issuer,
                                         client_id=platform.client_id, deployment_ids=[platform.deployment_id],
                                         login_url=platform.auth_url, token_url=platform.token_url,
                                         key_set_url=platform.jwks_url, email_domains=list(domains))
        return registered.id


def link(rt, platform_id: int, context_id: str, course: str, memberships_url: str | None, *,
         create_accounts: bool = False) -> int:
    with rt.db.session() as session:
        context = LtiContext(platform_id=platform_id, context_id=context_id, title=f"LMS {context_id}",
                             course_id=get_course(session, course).id, memberships_url=memberships_url,
                             create_accounts=create_accounts, ags_scopes=[])
        session.add(context)
        session.flush()
        return context.id


@pytest.fixture
def world(rt, worlds, tmp_path, world_database) -> None:
    worlds.copy_into(rt, tmp_path, "lti roster", build_roster_world)


@pytest.fixture
def linked(rt, world, platform, tool_keys_server) -> Linked:
    """c1 linked to the LMS course lms-c1, whose roster is empty until the test fills it."""
    tool = lti.tool(rt.settings, rt.db)
    tool_keys_server.keys = tool.key.jwks()
    platform.tool_url = tool_keys_server.url
    platform.add_context("lms-c1", "Deep Learning")
    platform_id = register(rt, platform)
    row = link(rt, platform_id, "lms-c1", "c1", platform.url("/nrps/lms-c1"))
    return Linked(rt, platform, platform_id, row, tool)


def full_roster(platform: TestPlatform) -> None:
    """Everyone of c1 but Mia in the LMS course, and Dan (of c2), someone new, the owner of an account at an
    untrusted domain and a mentor (no Podium role)."""
    platform.add_member("lms-c1", "u-prof", email=PROF, name="Pro Fessor", roles=[INSTRUCTOR])
    for sub, email in (("u-ana", ANA), ("u-ben", BEN), ("u-cam", CAM), ("u-dan", DAN), ("u-new", "new@uni.test"),
                       ("u-taken", TAKEN)):
        platform.add_member("lms-c1", sub, email=email, name=email.split("@")[0].title(), roles=[LEARNER])
    platform.add_member("lms-c1", "u-mentor", email="mentor@uni.test", roles=[MENTOR])


def roles(rt, course: str = "c1") -> dict[str, str]:
    with rt.db.session() as session:
        return {e.user.email: e.role.value
                for e in session.scalars(select(Enrolment).where(Enrolment.course_id == get_course(session, course).id))}


def events(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
        return found


def whos(lines) -> list[str]:
    return [line.who for line in lines]


# --- enrolling, matching, idempotence ----------------------------------------------------------------------------------


def test_a_sync_enrols_and_links_members_by_trusted_email_and_reports_who_cannot_be_matched(linked, rt):
    full_roster(linked.platform)
    before_c2 = roles(rt, "c2")

    report = linked.sync()

    assert not report.errors and report.members == 8
    assert [str(line) for line in report.enrolled] == [f"{DAN}: student"]
    assert sorted(whos(report.linked)) == sorted([PROF, ANA, BEN, CAM, DAN])
    assert report.role_changed == report.unenrolled == report.held == report.accounts_made == []
    unmatched = {line.who: line.what for line in report.unmatched}
    assert set(unmatched) == {"new@uni.test", TAKEN}  # the mentor has no Podium role: not sought
    assert "accounts are not made for this LMS course (`podium lti create-accounts c1 on`, or enrol them in Podium" \
        in unmatched["new@uni.test"]
    assert f"Podium has an account for {TAKEN}" in unmatched[TAKEN] and "@uni.test" in unmatched[TAKEN]
    assert whos(report.not_in_lms) == [MIA]  # enrolled by staff: left as she is
    assert roles(rt) == {PROF: "instructor", ANA: "student", BEN: "student", CAM: "student", MIA: "student",
                         DAN: "student"}
    assert roles(rt, "c2") == before_c2  # Dan stays a student of c2, and nobody of c2 is touched
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.email == "new@uni.test")) == 0
        taken = session.scalar(select(User).where(User.email == TAKEN))
        assert session.scalar(select(LtiIdentity).where(LtiIdentity.user_id == taken.id)) is None
        context = session.get(LtiContext, linked.context_row)
        assert context.synced_at is not None and context.sync_error == ""
    [event] = events(rt, "lti.roster_sync")
    assert event.actor == "cli:tester" and event.target == "c1" and event.details["changes"] == 1
    assert event.details["counts"]["enrolled"] == 1 and event.details["counts"]["unmatched"] == 2
    assert event.details["enrolled"] == [{"who": DAN, "what": "student"}]
    assert [e.target for e in events(rt, "user.enrol")][-1] == DAN

    # Nothing changed in the LMS: nothing changes in Podium, and the audit says so.
    again = linked.sync()
    assert again.changes == 0 and again.linked == [] and again.enrolled == [] and len(again.unmatched) == 2
    assert roles(rt) == {PROF: "instructor", ANA: "student", BEN: "student", CAM: "student", MIA: "student",
                         DAN: "student"}
    last = events(rt, "lti.roster_sync")[-1]
    assert last.details["changes"] == 0 and last.details["counts"]["enrolled"] == 0

    # With account creation on, the new person gets an account; the account at the untrusted domain is still not
    # taken over.
    with rt.db.session() as session:
        lti.set_create_accounts(session, session.get(LtiContext, linked.context_row), True, actor="cli:tester")
    made = linked.sync()
    assert whos(made.accounts_made) == ["new@uni.test"] and [str(x) for x in made.enrolled] == ["new@uni.test: student"]
    assert whos(made.unmatched) == [TAKEN]
    assert roles(rt)["new@uni.test"] == "student" and TAKEN not in roles(rt)


# --- roles and leaving ----------------------------------------------------------------------------------------------


def test_a_role_changed_in_the_lms_changes_in_podium_and_people_who_left_are_unenrolled_keeping_their_work(linked,
                                                                                                           rt):
    full_roster(linked.platform)
    linked.sync()
    platform = linked.platform
    platform.add_member("lms-c1", "u-cam", email=CAM, roles=[TEACHING_ASSISTANT])  # Cam becomes a TA
    platform.set_status("lms-c1", "u-ben", "Inactive")
    platform.remove_member("lms-c1", "u-dan")

    report = linked.sync()

    assert [str(line) for line in report.role_changed] == [f"{CAM}: student -> staff"]
    assert sorted(whos(report.unenrolled)) == [BEN, DAN]
    assert report.held == []
    assert roles(rt) == {PROF: "instructor", ANA: "student", CAM: "staff", MIA: "student"}
    assert roles(rt, "c2")[DAN] == "student"  # only c1 is the LMS course's
    with rt.db.session() as session:
        ben = session.scalar(select(User).where(User.email == BEN))
        assert session.scalar(select(func.count()).select_from(Submission).where(Submission.user_id == ben.id)) == 1
    assert {e.target for e in events(rt, "user.unenrol")} == {BEN, DAN}

    # Ben is active again in the LMS: he is back, with his submission (no regrade asked: nothing is finalised).
    platform.set_status("lms-c1", "u-ben", "Active")
    assert [str(x) for x in linked.sync().enrolled] == [f"{BEN}: student"]


def test_the_last_instructor_is_never_removed_by_the_lms_but_a_successor_lets_them_go(linked, rt):
    full_roster(linked.platform)
    linked.sync()
    linked.platform.set_status("lms-c1", "u-prof", "Deleted")

    report = linked.sync()

    assert whos(report.held) == [PROF] and "last instructor" in report.held[0].what
    assert not report.needs_regrade
    assert roles(rt)[PROF] == "instructor"
    [held] = events(rt, "lti.role_held")
    assert held.target == PROF and held.details["role"] == "removed"

    # Cam becomes the LMS course's instructor: enrolled as one first, so that the old one may leave.
    linked.platform.add_member("lms-c1", "u-cam", email=CAM, roles=[INSTRUCTOR])
    report = linked.sync()
    assert [str(x) for x in report.role_changed] == [f"{CAM}: student -> instructor"]
    assert whos(report.unenrolled) == [PROF]
    assert PROF not in roles(rt) and roles(rt)[CAM] == "instructor"


def test_a_roster_change_that_moves_a_released_grade_waits_for_a_regrade(linked, rt):
    full_roster(linked.platform)
    linked.sync()
    with rt.db.session() as session:
        comp = get_competition(session, "c1-hw1")
        competitions.finalise(session, comp, "cli:tester")
        competitions.release(session, comp, "cli:tester", override="the roster test")
    # Ana set the class's best score, which Ben's bonus is measured against: her leaving moves his released grade.
    linked.platform.set_status("lms-c1", "u-ana", "Inactive")

    held = linked.sync()

    assert whos(held.held) == [ANA] and held.needs_regrade and held.unenrolled == []
    assert f"{BEN} in c1-hw1" in held.held[0].what
    assert any("--regrade" in line for line in lti_roster.report_lines(held))
    assert roles(rt)[ANA] == "student" and events(rt, "grades.regrade") == []

    done = linked.sync(regrade=True)

    assert whos(done.unenrolled) == [ANA] and done.held == []
    assert ANA not in roles(rt)
    [regrade] = events(rt, "grades.regrade")
    assert regrade.actor == "cli:tester" and [c["email"] for c in regrade.details["changes"]] == [BEN]
    assert events(rt, "lti.roster_sync")[-1].details["regrade"] is True


def test_a_course_linked_to_several_lms_courses_takes_the_highest_role_and_removes_nobody_on_half_the_rosters(
        linked, rt):
    full_roster(linked.platform)
    linked.platform.add_context("lms-c1b", "Deep Learning, section B")
    linked.platform.add_member("lms-c1b", "u-cam", email=CAM, roles=[TEACHING_ASSISTANT])
    linked.platform.add_member("lms-c1b", "u-mia", email=MIA, roles=[LEARNER])
    section = link(rt, linked.platform_id, "lms-c1b", "c1", linked.platform.url("/nrps/lms-c1b"))

    report = linked.sync()

    assert not report.errors and len(report.lms_courses) == 2
    assert [str(x) for x in report.role_changed] == [f"{CAM}: student -> staff"]  # a learner of A, a TA of B
    assert report.not_in_lms == [] and MIA in whos(report.linked)  # in section B: not removed for missing from A

    # Section B's roster cannot be read: the sync still enrols and raises, but removes and lowers nobody.
    with rt.db.session() as session:
        session.get(LtiContext, section).memberships_url = f"http://127.0.0.1:{free_port()}/nrps/lms-c1b"
    linked.platform.set_status("lms-c1", "u-ben", "Inactive")
    linked.platform.add_member("lms-c1", "u-dan", email=DAN, roles=[INSTRUCTOR])

    partial = linked.sync()

    assert [e.split(":")[0] for e in partial.errors] == ["LMS lms-c1b"]
    assert [str(x) for x in partial.role_changed] == [f"{DAN}: student -> instructor"]
    assert partial.unenrolled == [] and sorted(whos(partial.held)) == sorted([BEN, CAM, MIA])
    assert all("until every linked LMS course's roster can be read" in line.what for line in partial.held)
    assert roles(rt) == {PROF: "instructor", ANA: "student", BEN: "student", CAM: "staff", MIA: "student",
                         DAN: "instructor"}


# --- when the LMS does not answer, and the scheduler -------------------------------------------------------------------


def test_a_platform_that_does_not_answer_changes_nobody_and_the_error_is_recorded(linked, rt):
    full_roster(linked.platform)
    with rt.db.session() as session:
        session.get(LtiContext, linked.context_row).memberships_url = f"http://127.0.0.1:{free_port()}/nrps/lms-c1"
    before = roles(rt)

    report = linked.sync()

    assert report.errors and "did not answer" in report.errors[0]
    assert report.changes == 0 and report.linked == [] and roles(rt) == before
    with rt.db.session() as session:
        context = session.get(LtiContext, linked.context_row)
        assert context.synced_at is not None and "did not answer" in context.sync_error
        assert session.scalar(select(func.count()).select_from(LtiIdentity)) == 0
    assert events(rt, "lti.roster_sync")[-1].details["lms_courses"][0]["error"] == report.errors[0].split(": ", 1)[1]


def test_the_scheduler_syncs_the_courses_that_are_due_and_one_failing_does_not_stop_the_others(linked, rt):
    full_roster(linked.platform)
    dead = link(rt, linked.platform_id, "lms-c2", "c2", f"http://127.0.0.1:{free_port()}/nrps/lms-c2")
    jobs = BackgroundJobs(rt, QueueOnly())

    reports = jobs.sync_rosters_if_leading()
    assert BackgroundJobs(rt, QueueOnly(), holder="elsewhere:1:x").sync_rosters_if_leading() is None  # not leading

    assert {r.course for r in reports} == {"c1", "c2"}
    assert roles(rt)[DAN] == "student" and DAN in roles(rt, "c1")
    with rt.db.session() as session:
        assert session.get(LtiContext, dead).sync_error and not session.get(LtiContext, linked.context_row).sync_error
    every = rt.settings.jobs.lti_sync_seconds
    assert jobs.sync_rosters_if_leading(now=utcnow() + timedelta(seconds=every / 2)) == []  # none due yet
    with rt.db.session() as session:
        both = sorted(c.id for c in session.scalars(select(Course)))
    assert lti_roster.due_courses(rt.db, rt.settings, utcnow() + timedelta(seconds=every)) == both


def test_the_sync_interval_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_LTI_SYNC_SECONDS", raising=False)
    assert load_settings(data_dir=tmp_path).jobs.lti_sync_seconds == JobSettings().lti_sync_seconds == 3600
    monkeypatch.setenv("PODIUM_LTI_SYNC_SECONDS", "600")
    assert load_settings(data_dir=tmp_path).jobs.lti_sync_seconds == 600


# --- attacks -------------------------------------------------------------------------------------------------------------


def test_a_member_of_another_platform_with_the_same_id_is_another_person(linked, rt):
    """Another registered platform already linked its own "u-ben" to Out: the test LMS's "u-ben" is still Ben."""
    with rt.db.session() as session:
        other, _ = lti.add_platform(session, rt.settings, name="Other LMS", issuer="https://other-lms.test",
                                    client_id="x", deployment_ids=["1"], login_url="https://other-lms.test/auth",
                                    token_url="https://other-lms.test/token", key_set_url="https://other-lms.test/keys")
        out = session.scalar(select(User).where(User.email == OUT))
        session.add(LtiIdentity(platform_id=other.id, subject="u-ben", user_id=out.id, linked_by="launch"))
    linked.platform.add_member("lms-c1", "u-prof", email=PROF, roles=[INSTRUCTOR])
    linked.platform.add_member("lms-c1", "u-ben", email=BEN, roles=[INSTRUCTOR])

    report = linked.sync()

    assert [str(x) for x in report.role_changed] == [f"{BEN}: student -> instructor"]
    assert OUT not in roles(rt) and roles(rt, "c2")[OUT] == "student"
    # Out has no link to this platform: the LMS cannot speak for him, in c1 or anywhere.
    assert OUT not in whos(report.unenrolled) + whos(report.not_in_lms)


def test_a_roster_changes_only_its_own_course(linked, rt):
    """Out, of c2, is linked to the platform and missing from lms-c1's roster: c1's sync leaves his c2 enrolment;
    listed as an instructor of lms-c1, he becomes one of c1 and stays a student of c2."""
    with rt.db.session() as session:
        out = session.scalar(select(User).where(User.email == OUT))
        session.add(LtiIdentity(platform_id=linked.platform_id, subject="u-out", user_id=out.id, linked_by="launch"))
    linked.platform.add_member("lms-c1", "u-prof", email=PROF, roles=[INSTRUCTOR])

    report = linked.sync()
    assert roles(rt, "c2")[OUT] == "student" and OUT not in whos(report.unenrolled)

    linked.platform.add_member("lms-c1", "u-out", email=OUT, roles=[INSTRUCTOR])
    linked.sync()
    assert roles(rt)[OUT] == "instructor" and roles(rt, "c2")[OUT] == "student"
    with rt.db.session() as session:
        out = session.scalar(select(User).where(User.email == OUT))
        c2 = session.scalar(select(Course).where(Course.slug == "c2"))
        assert authority.role_of(out, c2) == Role.student


def test_a_sync_makes_no_account_for_an_address_the_platform_is_not_trusted_for_nor_an_overlong_id(linked, rt):
    """With account creation on, a member at another domain than the platform's (any LMS administrator can type any
    address) is not given a Podium account under that address: its owner would later get an account linked to the
    LMS person who typed it."""
    with rt.db.session() as session:
        lti.set_create_accounts(session, session.get(LtiContext, linked.context_row), True, actor="cli:tester")
    linked.platform.add_member("lms-c1", "u-far", email="far@other.test", roles=[LEARNER])
    linked.platform.add_member("lms-c1", "u-near", email="near@uni.test", roles=[LEARNER])

    report = linked.sync()

    assert whos(report.accounts_made) == ["near@uni.test"]
    [(who, why)] = [(line.who, line.what) for line in report.unmatched]
    assert who == "far@other.test" and "no Podium account" in why and "not for this address" in why
    assert "--email-domain" in why
    # (and a member named by an id longer than LTI allows is not matched either, whatever their address)
    linked.platform.add_member("lms-c1", "u" * 256, email=CAM, roles=[LEARNER])
    unmatched = {line.who: line.what for line in linked.sync().unmatched}
    assert "longer than 255 characters" in unmatched[CAM]
    with rt.db.session() as session:
        assert session.scalar(select(User).where(User.email == "far@other.test")) is None


def test_what_the_lms_says_of_people_reaches_the_report_without_terminal_escape_sequences(linked, rt):
    """`podium lti sync` prints the report to an operator's terminal: names and addresses the LMS gives (any LMS
    administrator types them) must not carry escape sequences there."""
    linked.platform.add_member("lms-c1", "u-esc", email="esc\x1b]0;owned\x07@uni.test", name="Ev\x1b[2Jil",
                               roles=[LEARNER])
    linked.platform.add_member("lms-c1", "u-ben", email=BEN, name="Ben\x1b[31m Red", roles=[LEARNER])
    report = linked.sync()
    lines = "\n".join(lti_roster.report_lines(report))
    assert BEN in lines and "esc" in lines and "\x1b" not in lines and "\x07" not in lines
    assert "\x1b" not in json.dumps(report.as_details(), ensure_ascii=False)
