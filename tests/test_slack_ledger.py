"""The slack ledger can be corrected, never counts a row twice, flags what exceeds the budget, and never changes a
released grade without a regrade (POLICY.md sections 5 and 11), from the command line and from the staff pages.

The course is POLICY.md section 10's (tests/test_grades_cli.py): hw1's counted submission is 2 days late and
grades 72 with 2 slack days; with 6 days recorded elsewhere only 1 is left, and hw1 falls back to its on-time 70.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from podium.models import AuditEvent, GradeChange, SlackEntry
from podium.services import courses, regrades
from podium.web import create_app
from tests.test_grades_cli import STUDENT, course, example_4_history, export  # noqa: F401 - `course` is a fixture
from tests.web.helpers import PASSWORD, Browser, page

BUDGET_ROW = f"{STUDENT}\t7\t"  # slack balance: email, budget 7, ...


def ledger_file(tmp_path, text: str, name: str = "ledger.csv"):
    path = tmp_path / name
    path.write_text("email,days,note\n" + text)
    return path


def hw1(podium_cli) -> dict:
    return next(r for r in export(podium_cli) if r["email"] == STUDENT and r["competition"] == "f19-hw1")


def entries(rt) -> list[tuple[str, int, str]]:
    with rt.db.session() as session:
        return [(e.user.email, e.days, e.note) for e in session.scalars(select(SlackEntry).order_by(SlackEntry.id))]


def audit_actions(rt) -> list[str]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def finalise_and_release(podium_cli, competition: str = "f19-hw1") -> None:
    assert podium_cli("finalise", competition).exit_code == 0
    assert podium_cli("release", competition, "--yes").exit_code == 0


# --- importing -------------------------------------------------------------------------------------------


def test_importing_the_same_file_twice_counts_it_once(course, podium_cli, tmp_path, rt):
    ledger = ledger_file(tmp_path, f"{STUDENT},2,hw1p1 autolab\n{STUDENT},2,hw2p1 autolab\n")
    first = podium_cli("slack", "import", ledger, "--course", "f19")
    assert first.exit_code == 0 and "2 slack entries recorded" in first.stdout
    again = podium_cli("slack", "import", ledger, "--course", "f19")
    assert again.exit_code == 0, again.stderr
    assert "0 slack entries recorded, 2 already in the ledger or repeated (not counted again)" in again.stdout
    # The budget fell from 7 to 3 once, not to -1 (shown as 0) on the second import.
    assert f"{STUDENT}\t3\t0\t3" in podium_cli("slack", "balance", "f19").stdout
    assert len(entries(rt)) == 2


def test_a_row_repeated_in_one_file_is_recorded_once_and_new_rows_beside_old_ones_are(course, podium_cli, tmp_path,
                                                                                       rt):
    podium_cli("slack", "import", ledger_file(tmp_path, f"{STUDENT},1,autolab\n"), "--course", "f19")
    result = podium_cli("slack", "import", ledger_file(tmp_path, f"{STUDENT},1,autolab\n{STUDENT},2,quiz\n"
                                                                 f"{STUDENT},2,quiz\n", "second.csv"),
                        "--course", "f19")
    assert "1 slack entry recorded, 2 already in the ledger or repeated" in result.stdout
    assert entries(rt) == [(STUDENT, 1, "autolab"), (STUDENT, 2, "quiz")]


def test_an_entry_beyond_the_budget_is_recorded_and_flagged(course, podium_cli, tmp_path):
    result = podium_cli("slack", "add", STUDENT, "9", "--course", "f19", "--note", "all of autolab")
    assert result.exit_code == 0 and "1 slack entry recorded" in result.stdout
    assert (f"warning: over budget: {STUDENT}: 9 days recorded outside Podium, more than the course's 7-day "
            "budget; their slack budget is 0") in result.stderr
    assert f"{STUDENT}\t0\t0\t0" in podium_cli("slack", "balance", "f19").stdout
    assert "over budget" in podium_cli("slack", "list", "f19").stderr


def test_days_must_be_a_whole_number_of_days_and_nothing_is_recorded(course, podium_cli, tmp_path, rt):
    for bad, message in (("1.5", "a whole number of days, not '1.5'"), ("-2", "cannot be negative")):
        result = podium_cli("slack", "add", "--course", "f19", "--", STUDENT, bad)
        assert result.exit_code == 1 and message in result.stderr
    assert entries(rt) == []


# --- correcting ------------------------------------------------------------------------------------------


def test_an_entry_is_corrected_and_removed_with_both_versions_audited(course, podium_cli, tmp_path, rt):
    podium_cli("slack", "add", STUDENT, "6", "--course", "f19", "--note", "hw1p1")
    [entry_id] = [line.split("\t")[0] for line in podium_cli("slack", "list", "f19").stdout.splitlines()[1:]]
    assert podium_cli("slack", "edit", entry_id, "--course", "f19", "--days", "2").stdout.startswith(
        f"entry {entry_id} corrected")
    assert entries(rt) == [(STUDENT, 2, "hw1p1")]
    assert f"{STUDENT}\t5\t0\t5" in podium_cli("slack", "balance", "f19").stdout
    assert podium_cli("slack", "remove", entry_id, "--course", "f19").stdout.startswith(f"entry {entry_id} removed")
    assert entries(rt) == [] and BUDGET_ROW in podium_cli("slack", "balance", "f19").stdout
    with rt.db.session() as session:
        events = {e.action: e.details for e in session.scalars(select(AuditEvent))}
    assert events["slack.edit"]["old"] == {"days": 6, "note": "hw1p1"}
    assert events["slack.edit"]["new"] == {"days": 2, "note": "hw1p1"}
    assert (events["slack.remove"]["days"], events["slack.remove"]["note"]) == (2, "hw1p1")


def test_an_entry_of_another_course_is_not_found(course, podium_cli, tmp_path, rt):
    podium_cli("slack", "add", STUDENT, "1", "--course", "f19")
    other = tmp_path / "other"
    other.mkdir()
    (other / "course.toml").write_text('[course]\nslug = "other"\ntitle = "Other"\ntimezone = "UTC"\n')
    assert podium_cli("load", other).exit_code == 0
    [entry_id] = [line.split("\t")[0] for line in podium_cli("slack", "list", "f19").stdout.splitlines()[1:]]
    result = podium_cli("slack", "remove", entry_id, "--course", "other")
    assert result.exit_code == 1 and f"other has no slack ledger entry {entry_id}" in result.stderr
    assert len(entries(rt)) == 1


# --- released grades change only by a regrade ------------------------------------------------------------


def test_an_entry_that_changes_a_released_grade_is_refused_without_a_regrade(course, podium_cli, tmp_path, rt):
    example_4_history(podium_cli, tmp_path)
    finalise_and_release(podium_cli)
    assert (hw1(podium_cli)["window"], hw1(podium_cli)["final_grade"]) == ("slack", "72.0000")
    ledger = ledger_file(tmp_path, f"{STUDENT},6,hw1p1 autolab\n")

    refused = podium_cli("slack", "import", ledger, "--course", "f19")
    assert refused.exit_code == 1
    assert f"{STUDENT} in f19-hw1: 72.0 -> 70.0" in refused.stderr and "--regrade" in refused.stderr
    assert entries(rt) == [] and hw1(podium_cli)["final_grade"] == "72.0000"

    applied = podium_cli("slack", "import", ledger, "--course", "f19", "--regrade")
    assert applied.exit_code == 0, applied.stderr
    assert f"regraded: {STUDENT} in f19-hw1: 72.0 -> 70.0" in applied.stdout
    assert (hw1(podium_cli)["window"], hw1(podium_cli)["final_grade"]) == ("on_time", "70.0000")
    with rt.db.session() as session:
        regrade = session.scalars(select(AuditEvent).where(AuditEvent.action == "grades.regrade")).one()
        assert regrade.details["changes"] == [{"email": STUDENT, "competition": "f19-hw1", "old": 72.0, "new": 70.0}]
        change = session.scalars(select(GradeChange)).one()
        assert (change.old_final, change.new_final, change.audit_event_id) == (72.0, 70.0, regrade.id)
        assert change.reason == "regrade: recording 1 slack ledger entry"


def test_removing_an_entry_that_changes_a_released_grade_needs_a_regrade_too(course, podium_cli, tmp_path, rt):
    example_4_history(podium_cli, tmp_path)
    podium_cli("slack", "add", STUDENT, "6", "--course", "f19", "--note", "hw1p1")
    finalise_and_release(podium_cli)
    [entry_id] = [line.split("\t")[0] for line in podium_cli("slack", "list", "f19").stdout.splitlines()[1:]]
    refused = podium_cli("slack", "remove", entry_id, "--course", "f19")
    assert refused.exit_code == 1 and f"{STUDENT} in f19-hw1: 70.0 -> 72.0" in refused.stderr
    assert len(entries(rt)) == 1
    assert podium_cli("slack", "remove", entry_id, "--course", "f19", "--regrade").exit_code == 0
    assert entries(rt) == [] and hw1(podium_cli)["final_grade"] == "72.0000"


def test_a_change_that_moves_no_finalised_grade_needs_no_regrade(course, podium_cli, tmp_path, rt):
    """hw1 is released; the entry changes nothing in hw1 (its counted submission spends 2 of the 5 days left)."""
    example_4_history(podium_cli, tmp_path)
    finalise_and_release(podium_cli)
    result = podium_cli("slack", "add", STUDENT, "2", "--course", "f19", "--note", "quiz")
    assert result.exit_code == 0 and "regraded" not in result.stdout
    assert "grades.regrade" not in audit_actions(rt)


# --- the staff pages -------------------------------------------------------------------------------------


@pytest.fixture
def staff_browser(rt, course, podium_cli):
    assert podium_cli("users", "add", "ta@f19.test", "--course", "f19", "--role", "staff",
                      "--password", PASSWORD).exit_code == 0
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.config["TESTING"] = True
    return app.test_client().signed_in_as("ta@f19.test")


def ledger_ids(rt) -> list[int]:
    with rt.db.session() as session:
        return list(session.scalars(select(SlackEntry.id).order_by(SlackEntry.id)))


def test_the_slack_page_corrects_and_removes_entries_and_flags_the_over_budget(staff_browser, rt, podium_cli):
    staff_browser.form("/staff/f19/slack", {"ledger_text": f"email,days,note\n{STUDENT},9,autolab\n"})
    text = page(staff_browser.get("/staff/f19/slack"))
    assert "ledger over budget: 9 d" in text
    [entry_id] = ledger_ids(rt)
    response = staff_browser.form(f"/staff/f19/slack/entries/{entry_id}", {"days": "3", "note": "autolab p1"},
                                  follow_redirects=True)
    assert f"Ledger entry {entry_id} corrected." in page(response)
    assert entries(rt) == [(STUDENT, 3, "autolab p1")] and "ledger over budget" not in page(response)
    response = staff_browser.form(f"/staff/f19/slack/entries/{entry_id}/remove", follow_redirects=True)
    assert f"Ledger entry {entry_id} removed." in page(response) and entries(rt) == []


def test_the_slack_page_asks_to_confirm_a_regrade_and_applies_it_when_confirmed(staff_browser, rt, podium_cli,
                                                                               tmp_path):
    example_4_history(podium_cli, tmp_path)
    finalise_and_release(podium_cli)
    refused = staff_browser.form("/staff/f19/slack", {"ledger_text": f"email,days,note\n{STUDENT},6,hw1p1\n"})
    assert refused.status_code == 409
    text = page(refused)
    assert "Confirm a regrade" in text and STUDENT in text and "72.0" in text and "70.0" in text
    assert entries(rt) == []
    # The confirmation sends the same form again, with the regrade asked for.
    confirmed = staff_browser.form("/staff/f19/slack", {"ledger_text": f"email,days,note\n{STUDENT},6,hw1p1\n",
                                                        "regrade": "1"}, follow_redirects=True)
    assert f"Regraded (in the audit log): {STUDENT} in f19-hw1, 72.0 → 70.0." in page(confirmed)
    assert entries(rt) == [(STUDENT, 6, "hw1p1")]
    with rt.db.session() as session:
        student = session.scalars(select(SlackEntry)).one().user
        changed = regrades.latest_changes(session, courses.get_course(session, "f19"), student)
    assert [(c.old_final, c.new_final) for c in changed.values()] == [(72.0, 70.0)]
    # The audit log lists the grades the regrade changed, one a line.
    audit_page = page(staff_browser.get("/staff/f19/audit"))
    assert f'<ul class="grade-changes"><li>{STUDENT} in f19-hw1: 72.0 → 70.0</li></ul>' in audit_page


def test_staff_of_another_course_and_students_cannot_touch_an_entry(staff_browser, rt, podium_cli, tmp_path):
    podium_cli("slack", "add", STUDENT, "1", "--course", "f19")
    [entry_id] = ledger_ids(rt)
    other = tmp_path / "other"
    other.mkdir()
    (other / "course.toml").write_text('[course]\nslug = "other"\ntitle = "Other"\ntimezone = "UTC"\n')
    assert podium_cli("load", other).exit_code == 0
    podium_cli("users", "add", "ta@other.test", "--course", "other", "--role", "staff")
    podium_cli("users", "add", "pupil@f19.test", "--course", "f19")
    outsider = staff_browser.application.test_client().signed_in_as("ta@other.test")
    for url in (f"/staff/other/slack/entries/{entry_id}", f"/staff/other/slack/entries/{entry_id}/remove"):
        assert outsider.form(url, {"days": "0"}).status_code == 404
    for url in (f"/staff/f19/slack/entries/{entry_id}", f"/staff/f19/slack/entries/{entry_id}/remove"):
        assert outsider.form(url, {"days": "0"}).status_code == 403
    student = staff_browser.application.test_client().signed_in_as("pupil@f19.test")
    assert student.form(f"/staff/f19/slack/entries/{entry_id}/remove").status_code == 403
    assert entries(rt) == [(STUDENT, 1, "")]
