"""Regrades are decisions (POLICY.md section 11): whatever changes what a finalised or released competition's grades
depend on (settings, a staff mark, a new solution, a rescore) is refused unless a regrade is asked for, at the
command line (`--regrade`) or on the confirmation page; then every changed grade is audited, old and new.

The course is POLICY.md section 10's (tests/test_grades_cli.py); hw1 is finalised and released, Ana's counted hw1
submission is 2 days late (slack) and grades 72.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from podium.models import AuditEvent, Competition, GradeChange
from podium.services.competition_settings import SettingsForm
from podium.web import create_app
from tests.test_grades_cli import STUDENT, course, example_4_history, export, submit  # noqa: F401
from tests.web.helpers import PASSWORD, Browser, page


@pytest.fixture
def released(course, podium_cli, tmp_path) -> dict[str, int]:
    ids = example_4_history(podium_cli, tmp_path)
    assert podium_cli("finalise", "f19-hw1").exit_code == 0 and podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    return ids


def hw1(podium_cli) -> dict:
    return next(r for r in export(podium_cli) if r["email"] == STUDENT and r["competition"] == "f19-hw1")


def regrade_events(rt) -> list[dict]:
    with rt.db.session() as session:
        return [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "grades.regrade")
                                                   .order_by(AuditEvent.id))]


# --- the command line ------------------------------------------------------------------------------------


def test_staff_marking_another_submission_of_a_released_competition_is_a_regrade(course, podium_cli, tmp_path, rt):
    submit(podium_cli, tmp_path, "hw1", 0.75, "2019-09-21T12:00:00", email=STUDENT)
    weaker = submit(podium_cli, tmp_path, "hw1", 0.62, "2019-09-22T12:00:00", email=STUDENT)
    assert podium_cli("finalise", "f19-hw1").exit_code == 0 and podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    before = grade_of(podium_cli, STUDENT)

    refused = podium_cli("select", weaker)
    assert refused.exit_code == 1 and f"{STUDENT} in f19-hw1: {float(before):.1f} -> " in refused.stderr
    assert grade_of(podium_cli, STUDENT) == before
    assert podium_cli("select", weaker, "--regrade").exit_code == 0
    after = grade_of(podium_cli, STUDENT)
    assert float(after) < float(before)
    assert regrade_events(rt)[0]["changes"] == [{"email": STUDENT, "competition": "f19-hw1", "old": float(before),
                                                 "new": float(after)}]


def grade_of(podium_cli, email: str) -> str:
    return next(r for r in export(podium_cli) if r["email"] == email and r["competition"] == "f19-hw1")["final_grade"]


def test_a_rescore_of_a_finalised_competition_is_a_regrade_that_records_what_changed(released, course, podium_cli,
                                                                                      rt):
    refused = podium_cli("rescore", "f19-hw1")
    assert refused.exit_code == 1 and "rescoring f19-hw1: it is finalised or released" in refused.stderr
    assert "--regrade" in refused.stderr

    # A corrected solution: the first 6 Private rows' labels flip, so every private score moves.
    solution = course / "hw1" / "solution.csv"
    lines = solution.read_text().splitlines()
    for i in range(11, 17):
        row_id, label, usage = lines[i].split(",")
        lines[i] = f"{row_id},{1 - int(label)},{usage}"
    solution.write_text("\n".join(lines) + "\n")
    assert podium_cli("load", course, "--regrade").exit_code == 0
    before = hw1(podium_cli)["final_grade"]
    done = podium_cli("rescore", "f19-hw1", "--regrade")
    assert done.exit_code == 0, done.stderr
    after = hw1(podium_cli)["final_grade"]
    assert after != before and "final grades changed (audited)" in done.stdout
    [event] = regrade_events(rt)
    ana = next(c for c in event["changes"] if c["email"] == STUDENT)
    assert (ana["old"], ana["new"]) == (float(before), float(after))
    with rt.db.session() as session:
        assert session.scalars(select(GradeChange.reason)).first() == "regrade: rescoring f19-hw1"


def test_a_rescore_before_finalisation_needs_no_regrade(course, podium_cli, tmp_path):
    example_4_history(podium_cli, tmp_path)
    done = podium_cli("rescore", "f19-hw2")
    assert done.exit_code == 0 and "final grades changed" not in done.stdout


# --- the staff pages -------------------------------------------------------------------------------------


@pytest.fixture
def instructor(rt, course, podium_cli) -> Browser:
    assert podium_cli("users", "add", "prof@f19.test", "--course", "f19", "--role", "instructor",
                      "--password", PASSWORD).exit_code == 0
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.config["TESTING"] = True
    return app.test_client().signed_in_as("prof@f19.test")


def settings_form(rt, **changes) -> dict:
    with rt.db.session() as session:
        form = dict(SettingsForm.of(session.scalar(select(Competition).where(Competition.slug == "hw1"))).values)
    return {**form, **changes}


def test_the_settings_page_asks_to_confirm_a_regrade(released, instructor, podium_cli, rt):
    form = settings_form(rt, cutoff_C="0.62")
    refused = instructor.form("/staff/competitions/f19-hw1", form)
    assert refused.status_code == 409
    text = page(refused)
    assert "Confirm a regrade" in text and STUDENT in text and "changing the settings of f19-hw1" in text.lower()
    assert 'name="cutoff_C" value="0.62"' in text and 'name="regrade" value="1"' in text
    assert hw1(podium_cli)["final_grade"] == "72.0000"
    with rt.db.session() as session:
        assert session.scalar(select(Competition).where(Competition.slug == "hw1")).cutoffs["C"] == 0.60

    confirmed = instructor.form("/staff/competitions/f19-hw1", {**form, "regrade": "1"}, follow_redirects=True)
    assert "Saved: cutoffs" in page(confirmed)
    assert hw1(podium_cli)["final_grade"] != "72.0000" and len(regrade_events(rt)) == 1


def test_a_rescore_from_the_page_of_a_released_competition_asks_first(released, instructor, rt):
    refused = instructor.form("/staff/competitions/f19-hw1/rescore")
    assert refused.status_code == 409 and "rescoring f19-hw1" in page(refused)
    assert 'name="regrade" value="1"' in page(refused)
    started = instructor.form("/staff/competitions/f19-hw1/rescore", {"regrade": "1"})
    assert started.status_code == 302
    instructor.application.extensions["podium.rescores"].wait(released_competition_id(rt), timeout=60)


def released_competition_id(rt) -> int:
    with rt.db.session() as session:
        return session.scalar(select(Competition.id).where(Competition.slug == "hw1"))


def test_a_new_solution_for_a_released_competition_needs_the_regrade_box(released, instructor, course, rt):
    solution = (course / "hw1" / "solution.csv").read_bytes().replace(b"10,0,Private", b"10,1,Private", 1)
    import io

    refused = instructor.form("/staff/competitions/f19-hw1/solution", {"solution": (io.BytesIO(solution), "s.csv")})
    assert refused.status_code == 409
    assert "choose the file again and tick" in page(refused) and 'name="regrade" value="1"' not in page(refused)
    with rt.db.session() as session:
        old_sha = session.scalar(select(Competition.solution_sha256).where(Competition.slug == "hw1"))
    accepted = instructor.form("/staff/competitions/f19-hw1/solution",
                               {"solution": (io.BytesIO(solution), "s.csv"), "regrade": "1"})
    assert accepted.status_code == 302
    instructor.application.extensions["podium.rescores"].wait(released_competition_id(rt), timeout=60)
    with rt.db.session() as session:
        assert session.scalar(select(Competition.solution_sha256).where(Competition.slug == "hw1")) != old_sha


def test_an_extension_granted_or_revoked_on_a_released_competition_is_a_regrade(course, podium_cli, tmp_path, rt):
    """With no slack left, hw1's 2-days-late submission is late (0.9 * 72 < 70, the on-time one counts); three
    more days make it on time (72)."""
    example_4_history(podium_cli, tmp_path)
    assert podium_cli("slack", "add", STUDENT, "7", "--course", "f19", "--note", "autolab").exit_code == 0
    assert podium_cli("finalise", "f19-hw1").exit_code == 0 and podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    assert hw1(podium_cli)["final_grade"] == "70.0000"

    args = ("extensions", "grant", "f19-hw1", STUDENT, "--days", "3", "--reason", "ill")
    refused = podium_cli(*args)
    assert refused.exit_code == 1 and f"{STUDENT} in f19-hw1: 70.0 -> 72.0" in refused.stderr
    assert "no extensions" in podium_cli("extensions", "list", "f19").stdout
    granted = podium_cli(*args, "--regrade")
    assert granted.exit_code == 0 and hw1(podium_cli)["final_grade"] == "72.0000"

    extension_id = granted.stdout.split()[1].rstrip(":")
    refused = podium_cli("extensions", "revoke", extension_id)
    assert refused.exit_code == 1 and f"{STUDENT} in f19-hw1: 72.0 -> 70.0" in refused.stderr
    assert podium_cli("extensions", "revoke", extension_id, "--regrade").exit_code == 0
    assert hw1(podium_cli)["final_grade"] == "70.0000"
    assert [len(e["changes"]) for e in regrade_events(rt)] == [1, 1]


def test_unenrolling_the_student_whose_score_sets_the_bonus_is_a_regrade(course, podium_cli, tmp_path, rt):
    """The bonus is measured against the class's best on-time private score: with the best student gone, another
    student's released hw1 grade would change, so the unenrolment waits for a decision."""
    submit(podium_cli, tmp_path, "hw1", 0.95, "2019-09-21T12:00:00", email=STUDENT)
    assert podium_cli("users", "add", "ben@example.edu", "--course", "f19").exit_code == 0
    submit(podium_cli, tmp_path, "hw1", 0.85, "2019-09-21T12:00:00", email="ben@example.edu")
    assert podium_cli("finalise", "f19-hw1").exit_code == 0 and podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    before = next(r for r in export(podium_cli) if r["email"] == "ben@example.edu" and r["competition"] == "f19-hw1")

    refused = podium_cli("users", "unenrol", STUDENT, "--course", "f19")
    assert refused.exit_code == 1 and f"ben@example.edu in f19-hw1: {float(before['final_grade']):.1f} -> " \
        in refused.stderr
    assert STUDENT in {r["email"] for r in export(podium_cli)}
    assert podium_cli("users", "unenrol", STUDENT, "--course", "f19", "--regrade").exit_code == 0
    after = next(r for r in export(podium_cli) if r["email"] == "ben@example.edu" and r["competition"] == "f19-hw1")
    assert after["final_grade"] != before["final_grade"]
    assert regrade_events(rt)[0]["changes"][0]["email"] == "ben@example.edu"
    # Enrolled again, with the submissions kept: the class's best comes back, and that too is a decision.
    again = podium_cli("users", "add", STUDENT, "--course", "f19")
    assert again.exit_code == 1 and "ben@example.edu in f19-hw1" in again.stderr
    assert podium_cli("users", "add", STUDENT, "--course", "f19", "--regrade").exit_code == 0
