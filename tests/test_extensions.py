"""Extensions from the `podium` command and the services: durations kept to the second, extensions for students
only (and old staff rows moving nothing), every student extended at once after an outage; and `podium submit --at`
refusing an instant to come."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from podium.errors import PodiumError
from podium.models import AuditEvent, Competition, Enrolment, Extension, Role, Submission, User
from podium.services import extensions, finalisations, rule_values
from podium.services.courses import get_competition
from podium.services.users import get_user
from tests.conftest import predictions

CID = "c1-hw1"
STUDENTS = ("ada@example.edu", "bo@example.edu", "cy@example.edu")
STAFF = {"ta@example.edu": "staff", "prof@example.edu": "instructor"}


@pytest.fixture
def course(podium_cli, course_dir):
    assert podium_cli("load", course_dir).exit_code == 0
    for email in STUDENTS:
        assert podium_cli("users", "add", email, "--course", "c1").exit_code == 0
    for email, role in STAFF.items():
        assert podium_cli("users", "add", email, "--course", "c1", "--role", role).exit_code == 0
    return CID


def active(rt) -> dict[str, Extension]:
    """email -> the active extension row, detached."""
    with rt.db.session() as session:
        rows = session.execute(select(User.email, Extension).join(Extension, Extension.user_id == User.id)
                               .where(Extension.revoked_at.is_(None))).all()
        session.expunge_all()
    return {email: ext for email, ext in rows}


def events(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
    return found


def competition(rt) -> Competition:
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        session.expunge(comp)
    return comp


def last_late(rt) -> datetime:
    with rt.db.session() as session:
        return rule_values.last_late(session, get_competition(session, CID))


# --- to the second -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("days, seconds, words", [
    ("1.00001", 86_401, "+1 day 1 second on every deadline"),  # 86,400.864 s: the fraction is not dropped
    ("1.5", 129_600, "+1 day 12 hours on every deadline"),
    ("2", 172_800, "+2 days on every deadline"),
])
def test_days_are_kept_to_the_second(rt, podium_cli, course, days, seconds, words):
    result = podium_cli("extensions", "grant", CID, "ada@example.edu", "--days", days, "--reason", "ill")
    assert result.exit_code == 0, result.stderr
    assert active(rt)["ada@example.edu"].delta_seconds == seconds
    assert result.stdout.strip().endswith(words)
    assert last_late(rt) == competition(rt).late + timedelta(seconds=seconds)
    assert events(rt, "extension.grant")[0].details["seconds"] == seconds


def test_hours_are_an_extension_too(rt, podium_cli, course):
    result = podium_cli("extensions", "grant", CID, "ada@example.edu", "--hours", "6.5", "--reason", "outage")
    assert result.exit_code == 0 and "+6 hours 30 minutes on every deadline" in result.stdout
    assert active(rt)["ada@example.edu"].delta_seconds == 23_400


@pytest.mark.parametrize("args, says", [
    (("--days", "0.000001"), "0.000001 days is an extension of less than a second (0.0864 s)"),
    (("--hours", "0.0001"), "less than a second"),
    (("--days", "0"), "must be a positive number of days, not 0"),
    (("--days", "-2"), "must be a positive number of days"),
    (("--days", "nan"), "must be a positive number of days, not nan"),
    (("--hours", "inf"), "must be a positive number of hours, not inf"),
    (("--days", "400"), "400 days is more than a year"),
    (("--days", "1", "--hours", "2"), "give one of --days, --hours or --until"),
])
def test_an_amount_that_is_no_duration_is_refused_on_one_line(rt, podium_cli, course, args, says):
    result = podium_cli("extensions", "grant", CID, "ada@example.edu", *args, "--reason", "ill")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and says in result.stderr
    assert active(rt) == {} and events(rt, "extension.grant") == []


# --- for students only -------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", list(STAFF))
def test_staff_get_no_extension_and_the_finalisation_stays(rt, podium_cli, course, email):
    before = last_late(rt)
    result = podium_cli("extensions", "grant", CID, email, "--days", "30", "--reason", "testing")
    assert result.exit_code == 1
    assert f"{email} is " in result.stderr and "extensions are for students" in result.stderr
    assert "Nothing was granted" in result.stderr
    assert active(rt) == {} and last_late(rt) == before
    with rt.db.session() as session, pytest.raises(PodiumError) as refused:
        extensions.grant(session, get_competition(session, CID), get_user(session, email), until=before
                         + timedelta(days=9), reason="testing", actor="t")
    assert refused.value.code == 409


def test_old_extension_rows_of_staff_move_no_deadline_and_no_finalisation(rt, podium_cli, course):
    """Rows granted before the rule, or to a student who became a TA since, stay on record and move nothing."""
    own = competition(rt).late
    assert podium_cli("extensions", "grant", CID, "ada@example.edu", "--days", "20", "--reason", "x").exit_code == 0
    with rt.db.session() as session:
        comp, prof = get_competition(session, CID), get_user(session, "prof@example.edu")
        session.add(Extension(competition_id=comp.id, user_id=prof.id, delta_seconds=40 * 86400, reason="old",
                              granted_by="cli"))
    assert last_late(rt) == own + timedelta(days=20)  # the instructor's 40 days move nothing
    with rt.db.session() as session:
        session.scalar(select(Enrolment).join(User).where(User.email == "ada@example.edu")).role = Role.staff
    assert last_late(rt) == own
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        assert finalisations.due_at(session, comp, grace=0) == own
        assert rule_values.schedule_for(session, comp, get_user(session, "prof@example.edu")).late == own
    listing = podium_cli("extensions", "list", CID).stdout.splitlines()
    # On record all the same, and said to move nothing.
    assert [line.split("\t")[2] for line in listing if "moves nothing" in line] == ["ada@example.edu",
                                                                                   "prof@example.edu"]


# --- every student at once ---------------------------------------------------------------------------------


def test_every_student_gets_the_same_time_in_one_audited_action(rt, podium_cli, course):
    comp = competition(rt)
    assert podium_cli("extensions", "grant", CID, "ada@example.edu", "--days", "2", "--reason", "flu").exit_code == 0
    until = (comp.ontime + timedelta(days=5)).astimezone(timezone.utc).replace(microsecond=0)
    assert podium_cli("extensions", "grant", CID, "bo@example.edu", "--until", until.isoformat(),
                      "--reason", "visa").exit_code == 0
    result = podium_cli("extensions", "grant", CID, "--all-students", "--hours", "6", "--reason", "outage 14:00-20:00")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("3 students of c1 extended on c1-hw1 by 6 hours (2 of them on top of an earlier "
                                    "extension)")

    now = active(rt)
    assert set(now) == set(STUDENTS)  # staff get nothing
    six = timedelta(hours=6)
    assert now["cy@example.edu"].delta_seconds == 6 * 3600
    assert now["ada@example.edu"].delta_seconds == 2 * 86400 + 6 * 3600  # added to hers
    bo = now["bo@example.edu"]
    assert bo.delta_seconds is None and bo.ontime == until + six
    # Bo's late deadline moves by the same 6 hours as everyone's: from where his extension had put it.
    assert bo.late == max(comp.late, until) + six
    assert "flu" in now["ada@example.edu"].reason and "outage" in now["ada@example.edu"].reason
    with rt.db.session() as session:
        c = get_competition(session, CID)
        for email in STUDENTS:
            moved = rule_values.schedule_for(session, c, get_user(session, email))
            assert moved.late >= c.late + six
        assert rule_values.last_late(session, c) == max(comp.late + timedelta(days=2), max(comp.late, until)) + six

    [entry] = events(rt, "extension.grant_all")
    assert entry.target == CID and entry.details["seconds"] == 6 * 3600 and entry.details["students"] == 3
    granted = {row["email"]: row for row in entry.details["granted"]}
    assert set(granted) == set(STUDENTS)
    assert granted["ada@example.edu"]["before"] == "+2 days on every deadline"
    assert granted["ada@example.edu"]["now"] == "+2 days 6 hours on every deadline"
    assert granted["cy@example.edu"]["before"] is None
    # One action: no entry per student, and the replaced extensions are on record as revoked.
    assert len(events(rt, "extension.grant")) == 2 and events(rt, "extension.revoke") == []
    assert "revoked" in podium_cli("extensions", "list", CID, "--all").stdout


def test_every_student_needs_a_duration_and_a_reason(rt, podium_cli, course):
    for args, says in [(("--until", "2099-01-01T00:00"), "use --days or --hours"),
                       (("--hours", "0.00001"), "less than a second"),
                       ((), "a number of days or of hours"),
                       (("ada@example.edu", "--hours", "2"), "or --all-students")]:
        result = podium_cli("extensions", "grant", CID, "--all-students", *args, "--reason", "outage")
        assert result.exit_code != 0 and says in result.stderr, (args, result.stderr)
    assert podium_cli("extensions", "grant", CID, "--hours", "2", "--reason", "x").exit_code != 0  # nobody named
    result = podium_cli("extensions", "grant", CID, "--all-students", "--hours", "2", "--reason", " ")
    assert result.exit_code == 1 and "needs --reason" in result.stderr
    assert active(rt) == {} and events(rt, "extension.grant_all") == []


# --- submit --at -------------------------------------------------------------------------------------------


def test_submit_at_a_time_to_come_is_refused_and_keeps_nothing(rt, podium_cli, course, tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text(predictions())
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # Two days ahead is still on time for the class (a day before the on-time deadline): it was recorded as such.
    for ahead in (timedelta(days=2), timedelta(days=19), timedelta(minutes=1)):
        result = podium_cli("submit", CID, path, "--as", "ada@example.edu", "--at", (now + ahead).isoformat())
        assert result.exit_code == 1 and result.stdout == "" and result.stderr.count("\n") == 1
        assert "is in the future" in result.stderr and "Nothing was recorded" in result.stderr
    with rt.db.session() as session:
        assert session.scalar(select(Submission)) is None
    assert events(rt, "submission.record") == []
    assert not any(p.is_file() for p in rt.settings.uploads_dir.rglob("*"))
    # A past instant is what --at is for (outage recovery), and it still works.
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
    done = podium_cli("submit", CID, path, "--as", "ada@example.edu", "--at", past.isoformat())
    assert done.exit_code == 0 and json.loads(done.stdout)["status"] == "scored"
