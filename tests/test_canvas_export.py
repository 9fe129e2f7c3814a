"""The Canvas export and Canvas rosters (POLICY.md sections 9 and 11): grades leave Podium only for competitions
released and closed for every student; each column fills the Canvas assignment its `canvas_assignment_id` names;
a roster import of Canvas's own gradebook export keeps each student's Canvas ids, which the export writes back.
Each export is read back by tests/canvas_reader.py, a reader written from Canvas's importer rules."""
from __future__ import annotations

import csv
import io
import textwrap
from datetime import timedelta

import pytest

from podium.errors import ConfigError, Forbidden, PodiumError
from podium.models import AuditEvent, Competition, Enrolment, Role, User
from podium.services import export, grading, users
from podium.services.courses import get_course, load_course
from podium.spec import read_course
from tests.canvas_reader import CanvasCourse, CanvasStudent, InvalidHeaderRow, canvas_import
from tests.canvas_world import ANA, BO, OTHER_TA, TA, CanvasWorld, build_canvas_world

HEADERS = ["Homework done (501)", "Homework held (502)", "Homework extended (503)", "Homework soon"]
ANA_IN_CANVAS = CanvasStudent(9001, "Ana Lima", "Lima, Ana", "S-1", ANA)
# In the Canvas course of most schools: a SIS Login ID that is no email, and a name that is not Podium's.
BO_IN_CANVAS = CanvasStudent(9002, "Bo Chen-Wu", "Chen-Wu, Bo", "S-2", "bo")
CY_IN_CANVAS = CanvasStudent(9003, "Cy Diaz", "Diaz, Cy", "S-3", "cy@x.test")
ASSIGNMENTS = {501: "Homework done", 502: "Homework held", 503: "Homework extended", 504: "Quiz 1"}
# Canvas's own export of that course, as "Export Entire Gradebook" writes it: its students (and the Test Student of
# the student view), a section each, the assignments and the totals, the Points Possible row second.
CANVAS_GRADEBOOK = textwrap.dedent("""\
    \ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework done (501),Quiz 1 (504),Current Score,Final Score
        Points Possible,,,,,100.00,10.00,(read only),(read only)
    "Lima, Ana",9001,S-1,ana@x.test,Section A,,8.00,80.00,40.00
    "Chen-Wu, Bo",9002,S-2,bo,Section B,,,,
    "Diaz, Cy",9003,S-3,cy@x.test,Section A,,,,
    "Student, Test",9999,,,Section A,,,,
    """)


@pytest.fixture
def world(rt, worlds, tmp_path, world_database) -> CanvasWorld:
    return worlds.copy_into(rt, tmp_path, "canvas course", build_canvas_world)


def canvas_course(*students: CanvasStudent) -> CanvasCourse:
    return CanvasCourse(assignments=dict(ASSIGNMENTS), students=list(students))


def canvas_csv(rt, now, slack_policy=None) -> str:
    with rt.db.session() as session:
        return export.export_csv(session, get_course(session, "cx"), fmt="canvas", now=now, slack_policy=slack_policy)


def student_grades(rt, email: str) -> dict[str, str]:
    """The student's final grades as the student reads them, formatted as exports write them."""
    with rt.db.session() as session:
        course = get_course(session, "cx")
        report = grading.student_report(session, course, users.get_user(session, email), staff=False)
        return {row.competition.slug: f"{row.grade.final:.4f}" for row in report.rows}


def staff_grades(rt, email: str) -> dict[str, str]:
    with rt.db.session() as session:
        course = get_course(session, "cx")
        report = grading.student_report(session, course, users.get_user(session, email), staff=True)
        return {row.competition.slug: f"{row.grade.final:.4f}" for row in report.rows}


def import_canvas_roster(rt, text: str = CANVAS_GRADEBOOK, *, email_domain: str = "", by=None):
    with rt.db.session() as session:
        actor = users.get_user(session, by) if by else users.authority.OPERATOR
        return users.import_roster(session, get_course(session, "cx"), text, actor=by or "cli", by=actor,
                                   email_domain=email_domain)


def canvas_ids(rt) -> dict[str, tuple]:
    with rt.db.session() as session:
        rows = session.query(User.email, Enrolment.canvas_user_id, Enrolment.canvas_sis_user_id,
                             Enrolment.canvas_sis_login_id, Enrolment.canvas_section, Enrolment.role) \
            .join(Enrolment).filter(Enrolment.course_id == get_course(session, "cx").id).all()
        return {email: (*ids, role) for email, *ids, role in rows}


# --- which cells hold grades ---------------------------------------------------------------------------------


def test_canvas_fills_only_the_competitions_released_and_closed_for_every_student(rt, world):
    text = canvas_csv(rt, world.now)
    ana_login = CanvasStudent(9002, "Bo Chen", "Chen, Bo", "S-2", BO)  # a school whose login ids are emails
    imported = canvas_import(text, canvas_course(ANA_IN_CANVAS, ana_login))
    ana, bo = student_grades(rt, ANA), student_grades(rt, BO)
    assert imported.missing_students == []
    # done: released and closed. held: closed, not released. extended: released, open to bo (an extension).
    # soon: not open yet. Only done's grades are filled; nothing else is touched and nothing is created.
    assert imported.filled == {(501, 9001): ana["done"], (501, 9002): bo["done"]}
    assert imported.new_assignments == []
    assert float(ana["done"]) > float(bo["done"]) > 0
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["Points Possible", "", "", "", "", "100", "(read only)", "(read only)", "(read only)"]
    assert all(row[6:] == ["", "", ""] for row in rows[2:])


def test_unreleased_private_scores_and_competitions_not_open_leave_no_grade(rt, world):
    """The finding: held's cells carried grades from unreleased private scores, and soon's 0.0000 would overwrite a
    real score in Canvas."""
    assert staff_grades(rt, BO)["held"] != student_grades(rt, BO)["held"]  # private and public grades differ
    rows = {row[3]: row for row in csv.reader(io.StringIO(canvas_csv(rt, world.now)))}
    for email in (ANA, BO):
        assert rows[email][6] == "" and rows[email][8] == ""
        assert "0.0000" not in rows[email][6:]


def test_a_column_fills_once_released_and_the_last_extension_has_ended(rt, world):
    bo_closes = world.now + timedelta(days=4)  # late 2 days ago, moved 6 days by bo's extension
    students = canvas_course(ANA_IN_CANVAS, CanvasStudent(9002, "Bo Chen", "", "", BO))
    at_the_deadline = canvas_import(canvas_csv(rt, bo_closes), students)
    assert {a for a, _ in at_the_deadline.filled} == {501}  # deadlines are inclusive: bo may still upload
    after = canvas_import(canvas_csv(rt, bo_closes + timedelta(seconds=1)), students)
    assert {a for a, _ in after.filled} == {501, 503}
    assert after.filled[(503, 9001)] == student_grades(rt, ANA)["extended"]
    with rt.db.session() as session:
        session.get(Competition, world.ids["held"]).released_at = world.now
    released = canvas_import(canvas_csv(rt, bo_closes + timedelta(seconds=1)), students)
    assert released.filled[(502, 9002)] == staff_grades(rt, BO)["held"]  # released: the private score counts
    assert {a for a, _ in released.filled} == {501, 502, 503} and released.new_assignments == []


def test_the_grades_are_those_students_read_so_no_unreleased_score_reaches_canvas_through_slack(rt, world):
    for policy in ("chronological", "optimal"):
        rows = {row[3]: row for row in csv.reader(io.StringIO(canvas_csv(rt, world.now, policy)))}
        with rt.db.session() as session:
            course = get_course(session, "cx")
            reports = grading.gradebook(session, course, slack_policy=policy, staff=False)
        for report in reports:
            assert rows[report.user.email][5] == f"{report.row(report.rows[0].competition).grade.final:.4f}"


# --- the header Canvas fills -------------------------------------------------------------------------------


def test_each_column_names_its_canvas_assignment(rt, world):
    """The finding: `Title (11785-f19-hw1p2)` is no assignment id, so Canvas made a new assignment for each."""
    text = canvas_csv(rt, world.now + timedelta(days=30))  # everything closed; done, extended released
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *HEADERS]
    imported = canvas_import(text, canvas_course(ANA_IN_CANVAS, CanvasStudent(9002, "Bo Chen", "", "", BO)))
    assert {a for a, _ in imported.filled} == {501, 503}
    assert imported.points_possible[501] == "100"


def test_a_competition_without_a_canvas_id_is_said_to_make_a_new_assignment(rt, world):
    with rt.db.session() as session:
        notes = export.canvas_notes(session, get_course(session, "cx"), now=world.now)
    soon = [n for n in notes if n.startswith("cx-soon:")]
    assert any("no canvas_assignment_id" in n and "creates a new assignment" in n for n in soon)
    assert ("cx-held: no grades yet, and Canvas will leave its assignment as it is: its private leaderboard is not "
            "released.") in notes
    assert any(n.startswith("cx-extended: no grades yet") and "it is not closed for every student (the last late "
               "deadline, extensions included, is " in n for n in notes)
    assert not any(n.startswith("cx-done:") for n in notes)
    # Once soon is released and closed, its column (no id) makes the new assignment the note announced.
    later = world.now + timedelta(days=30)
    with rt.db.session() as session:
        session.get(Competition, world.ids["soon"]).released_at = later
    imported = canvas_import(canvas_csv(rt, later), canvas_course(ANA_IN_CANVAS, CanvasStudent(9002, "Bo", "", "", BO)))
    assert imported.new_assignments == ["Homework soon"]


def test_a_title_that_reads_as_an_id_does_not_fill_another_assignment(rt, world):
    with rt.db.session() as session:
        soon = session.get(Competition, world.ids["soon"])
        soon.title = "Quiz (504)"
        assert export.canvas_header(soon) == "Quiz (504) (cx-soon)"
        soon.title = "Final Score challenge"
        soon.canvas_assignment_id = 777
        assert export.canvas_header(soon) == "Final Score challenge (777)"
        notes = export.canvas_notes(session, soon.course, now=world.now)
    assert any("Canvas ignores a column whose name contains 'Final Score'" in n for n in notes)


def test_the_header_row_is_one_canvas_accepts_and_text_stays_formula_safe(rt, world):
    with rt.db.session() as session:
        session.get(Competition, world.ids["done"]).title = "=HYPERLINK(\"http://x\")"
        users.get_user(session, ANA).name = "@SUM(1+1)"
    rows = list(csv.reader(io.StringIO(canvas_csv(rt, world.now))))
    assert rows[0][5] == "'=HYPERLINK(\"http://x\") (501)"
    assert next(r for r in rows if r[3] == ANA)[0] == "'@SUM(1+1)"
    with pytest.raises(InvalidHeaderRow):  # the reader does refuse what Canvas refuses
        canvas_import("Student,ID,SIS Login ID,Homework (1)\n", canvas_course())


# --- the long export is the staff's ------------------------------------------------------------------------


def test_the_long_export_keeps_private_scores_for_staff_at_any_time(rt, world):
    with rt.db.session() as session:
        text = export.export_csv(session, get_course(session, "cx"), fmt="long")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == export.LONG_HEADER == [
        "email", "name", "competition", "window", "submission_id", "private_score", "raw_grade", "early_penalty",
        "slack_days_used", "slack_days_remaining", "final_grade"]
    bo_held = next(r for r in rows if r["email"] == BO and r["competition"] == "cx-held")
    assert bo_held["private_score"] == "0.5" and bo_held["window"] == "on_time"
    assert bo_held["final_grade"] == staff_grades(rt, BO)["held"] != student_grades(rt, BO)["held"]
    assert [r["competition"] for r in rows if r["email"] == ANA] == ["cx-done", "cx-held", "cx-extended", "cx-soon"]


# --- canvas_assignment_id in competition.toml --------------------------------------------------------------


def test_canvas_assignment_id_is_loaded_checked_and_kept(rt, world, tmp_path):
    folder = tmp_path / "courses" / "cx"
    with rt.db.session() as session:
        assert {c.slug: c.canvas_assignment_id for c in get_course(session, "cx").competitions} == {
            "done": 501, "held": 502, "extended": 503, "soon": None}
    toml = folder / "soon" / "competition.toml"
    original = toml.read_text()
    toml.write_text(original.replace('title = "Homework soon"', 'title = "Homework soon"\ncanvas_assignment_id = "504"'))
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        assert get_course(session, "cx").competitions[-1].canvas_assignment_id == 504
    for bad in ("0", "-3", "1.5", "true", '"12a"', '"504"'.replace("504", "501")):
        toml.write_text(original.replace('title = "Homework soon"', f'title = "Homework soon"\ncanvas_assignment_id = {bad}'))
        with pytest.raises(ConfigError) as refused:
            read_course(folder)
        assert "canvas_assignment_id" in str(refused.value)
    assert "used by more than one competition: 501" in str(refused.value)


def test_the_settings_toml_keeps_the_canvas_assignment_id(rt, world):
    from podium.services.competition_settings import competition_toml

    with rt.db.session() as session:
        assert "canvas_assignment_id = 501" in competition_toml(session.get(Competition, world.ids["done"]))
        assert "canvas_assignment_id" not in competition_toml(session.get(Competition, world.ids["soon"]))


# --- Canvas's gradebook export as a roster -----------------------------------------------------------------


def test_a_canvas_export_without_emails_says_what_to_add_and_imports_nothing(rt, world):
    with pytest.raises(PodiumError) as refused:
        import_canvas_roster(rt)
    message = str(refused.value)
    assert message.startswith("roster line 4 (Chen-Wu, Bo): no email address for this student")
    assert "'bo' is not an email address" in message and "Email column" in message
    assert "give the email domain of the SIS Login IDs" in message and "Nothing was imported" in message
    assert all(ids[0] is None for ids in canvas_ids(rt).values()) and "cy@x.test" not in canvas_ids(rt)


def test_a_canvas_roster_enrols_its_students_and_keeps_their_canvas_ids(rt, world):
    result = import_canvas_roster(rt, email_domain="@x.test")
    assert (result.enrolled, result.already_enrolled, result.canvas_linked) == (1, 2, 3)
    ids = canvas_ids(rt)
    assert ids[ANA] == ("9001", "S-1", ANA, "Section A", Role.student)
    assert ids[BO] == ("9002", "S-2", "bo", "Section B", Role.student)
    assert ids["cy@x.test"] == ("9003", "S-3", "cy@x.test", "Section A", Role.student)
    assert not any("test" in email.split("@")[0] for email in ids)  # the Test Student is no one
    with rt.db.session() as session:
        assert users.get_user(session, "cy@x.test").name == "Cy Diaz"
        assert users.get_user(session, BO).name == "Bo Chen"  # an existing account is left as it was
        events = session.query(AuditEvent).filter(AuditEvent.action == "user.canvas_ids").all()
        assert {e.target for e in events} == {ANA, BO, "cy@x.test"}
    again = import_canvas_roster(rt, email_domain="x.test")
    assert (again.enrolled, again.canvas_linked) == (0, 0)
    with rt.db.session() as session:
        assert session.query(AuditEvent).filter(AuditEvent.action == "user.canvas_ids").count() == 3


def test_canvas_matches_every_student_once_their_ids_are_kept(rt, world):
    """The finding: with the SIS Login ID as the only key (the email), a school whose login ids are not emails had
    its students unmatched."""
    now = world.now + timedelta(days=30)
    canvas = canvas_course(ANA_IN_CANVAS, BO_IN_CANVAS, CY_IN_CANVAS)
    before = canvas_import(canvas_csv(rt, now), canvas)
    assert before.missing_students == ["Bo Chen"]
    import_canvas_roster(rt, email_domain="x.test")
    text = canvas_csv(rt, now)
    bo_row = next(r for r in csv.reader(io.StringIO(text)) if r[0] == "Bo Chen")
    assert bo_row[1:5] == ["9002", "S-2", "bo", "Section B"]
    after = canvas_import(text, canvas)
    assert after.missing_students == [] and after.new_assignments == []
    assert after.filled[(501, 9002)] == student_grades(rt, BO)["done"]
    assert after.filled[(503, 9002)] == student_grades(rt, BO)["extended"]
    assert "cy@x.test" in {r[3] for r in csv.reader(io.StringIO(text))}


def test_an_email_column_names_whoever_the_sis_login_id_does_not(rt, world):
    text = CANVAS_GRADEBOOK.replace("Section,Homework", "Section,Email,Homework")
    text = text.replace(",,,,,100.00", ",,,,,,100.00").replace("Section A,,8.00", "Section A,,,8.00")
    text = text.replace("bo,Section B,", f"bo,Section B,{BO},").replace("Section A,,,,", "Section A,,,,,")
    import_canvas_roster(rt, text)
    assert canvas_ids(rt)[BO][:3] == ("9002", "S-2", "bo")
    # A later export by a TA who may not see SIS ids: the Canvas ID finds bo; the SIS ids kept stay.
    narrow = 'Student,ID,Section\n    Points Possible,,\n"Chen-Wu, Bo",9002,Section C\n'
    assert import_canvas_roster(rt, narrow, by=TA).canvas_linked == 1
    assert canvas_ids(rt)[BO] == ("9002", "S-2", "bo", "Section C", Role.student)


def test_canvas_ids_never_move_to_another_person_unnoticed(rt, world):
    import_canvas_roster(rt, email_domain="x.test")
    swapped = 'Student,ID,SIS User ID,SIS Login ID,Section\n"Lima, Ana",9001,S-1,bo@x.test,Section A\n'
    with pytest.raises(PodiumError, match=r"its Canvas ids belong to ana@x.test in cx, but the row gives bo@x.test"):
        import_canvas_roster(rt, swapped)
    twice = ('Student,ID,SIS User ID,SIS Login ID,Section\n"A",9100,,a1@x.test,S\n"B",9100,,b1@x.test,S\n')
    with pytest.raises(PodiumError, match="roster lines 2 and 3 have the same Canvas ID"):
        import_canvas_roster(rt, twice)
    assert canvas_ids(rt)[ANA][0] == "9001" and canvas_ids(rt)[BO][0] == "9002"


def test_course_staff_in_a_canvas_export_are_left_as_they_are(rt, world):
    text = CANVAS_GRADEBOOK + '"Assistant, Tea",9500,,ta@x.test,Section A,,,,\n'
    result = import_canvas_roster(rt, text, email_domain="x.test", by=TA)
    assert result.staff_skipped == (TA,)
    assert canvas_ids(rt)[TA] == (None, None, None, None, Role.staff)


def test_a_ta_of_another_course_cannot_import_into_this_one(rt, world):
    with pytest.raises(Forbidden):
        import_canvas_roster(rt, email_domain="x.test", by=OTHER_TA)
    assert "cy@x.test" not in canvas_ids(rt) and canvas_ids(rt)[ANA][0] is None


def test_bad_canvas_rows_are_named(rt, world):
    header = "Student,ID,SIS User ID,SIS Login ID,Section\n"
    for row, expected in ((f'"Lima, Ana",12x,S-1,{ANA},A\n', "Canvas's ID '12x' is not a number"),
                          ('"Lima, Ana",9001,S-1,ana@@x,A\n', "roster line 2 (Lima, Ana): 'ana@@x' is not a valid email"),
                          (f'"Lima, Ana",9001,S-1,{ANA},{"x" * 300}\n', "the Section is 300 characters long")):
        with pytest.raises(PodiumError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            import_canvas_roster(rt, header + row)
    with pytest.raises(PodiumError, match="is not a domain such as example.edu"):
        import_canvas_roster(rt, email_domain="not a domain")
    with pytest.raises(PodiumError, match="or be that of Canvas's gradebook export"):
        import_canvas_roster(rt, "Name,Email\nAna,ana@x.test\n")


# --- the command -------------------------------------------------------------------------------------------


def test_the_cli_canvas_export_warns_on_stderr_and_writes_ids_back(rt, world, podium_cli, tmp_path):
    roster = tmp_path / "canvas.csv"
    roster.write_text(CANVAS_GRADEBOOK, encoding="utf-8")
    refused = podium_cli("users", "import", roster, "--course", "cx")
    assert refused.exit_code == 1 and "no email address for this student" in refused.stderr
    done = podium_cli("users", "import", roster, "--course", "cx", "--email-domain", "x.test")
    assert done.exit_code == 0, done.stderr
    assert "1 added, 2 already had accounts" in done.stdout and "Canvas ids kept for 3" in done.stdout

    result = podium_cli("grades", "export", "cx", "--format", "canvas")
    assert result.exit_code == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert any(w.startswith("warning: cx-soon: no canvas_assignment_id") for w in warnings)
    assert any(w.startswith("warning: cx-held: no grades yet") for w in warnings)
    imported = canvas_import(result.stdout, canvas_course(ANA_IN_CANVAS, BO_IN_CANVAS, CY_IN_CANVAS))
    assert imported.missing_students == [] and imported.new_assignments == []
    assert imported.filled == {(501, 9001): student_grades(rt, ANA)["done"],
                               (501, 9002): student_grades(rt, BO)["done"], (501, 9003): "0.0000"}
    long = podium_cli("grades", "export", "cx")
    assert long.exit_code == 0 and long.stderr == "" and long.stdout.startswith(",".join(export.LONG_HEADER))
