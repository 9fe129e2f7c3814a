"""Who may do what to whom (podium.services.authority): accounts are global, roles are per course, and no course
role reaches beyond its course.

First the attacks that were found (a TA taking over accounts), then, for every staff action that names a person
(add, import, change role, remove, reset link), what it does to a person of another course, to a higher role and to
the last instructor. The world is the web tests' course c1 (student, other, TA, instructor; an outsider in c2).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from podium.errors import Refused
from podium.models import AuditEvent
from podium.services import accounts, authority, courses, users
from tests.web.helpers import PASSWORD, page

C2_PROF = "prof@c2.test"
FLASH = re.compile(r"(Roster imported|\S+@\S+ is enrolled)[^<]*")


@pytest.fixture
def c2_prof(rt, course) -> str:
    """An instructor of course c2, which the TA of c1 has nothing to do with."""
    with rt.db.session() as db:
        users.add_user(db, C2_PROF, courses.get_course(db, "c2"), "instructor", name="Real Name", password=PASSWORD)
    return C2_PROF


def user_id(rt, email: str) -> int:
    with rt.db.session() as db:
        return users.get_user(db, email).id


def roles(rt, email: str) -> dict[str, str]:
    with rt.db.session() as db:
        return {e.course.slug: e.role.value for e in users.get_user(db, email).enrolments}


def links_issued(rt, email: str) -> int:
    with rt.db.session() as db:
        return len(db.scalars(select(AuditEvent).where(AuditEvent.action == "user.reset_link",
                                                       AuditEvent.target == email)).all())


def add(browser, email: str, role: str = "student", name: str = ""):
    return browser.form("/staff/c1/people/add", {"email": email, "role": role, "name": name})


def roster(browser, text: str):
    return browser.form("/staff/c1/people/import", {"roster_text": text})


# --- the findings ------------------------------------------------------------------------------------------


def test_attack_a_ta_enrols_another_courses_instructor_and_asks_for_their_reset_link(as_staff, rt, c2_prof):
    # Enrolling the address is allowed and changes nothing of the account: not its name, not its password.
    assert add(as_staff, c2_prof, name="Hacked").status_code == 302
    with rt.db.session() as db:
        victim = users.get_user(db, c2_prof)
        assert victim.name == "Real Name" and users.check_password(victim, PASSWORD)
    assert roles(rt, c2_prof) == {"c1": "student", "c2": "instructor"}
    # The link that would let the TA set the password (and so reach c2's staff pages) is refused.
    refused = as_staff.form(f"/staff/c1/people/{user_id(rt, c2_prof)}/reset-link")
    assert refused.status_code == 403
    assert "/reset/" not in page(refused) and "podium users reset-link" in page(refused)
    assert links_issued(rt, c2_prof) == 0


def test_attack_a_ta_demotes_the_courses_instructor_to_student_and_asks_for_their_reset_link(as_staff, rt, course):
    assert add(as_staff, course.instructor).status_code == 403
    assert roster(as_staff, f"email,name\n{course.instructor},X\n").status_code == 403
    assert roles(rt, course.instructor) == {"c1": "instructor"}
    assert as_staff.form(f"/staff/c1/people/{user_id(rt, course.instructor)}/reset-link").status_code == 403
    assert links_issued(rt, course.instructor) == 0


@pytest.mark.parametrize("header", ["email,name,Role", "Email,Name,ROLE", " email , name , role "])
@pytest.mark.parametrize("value", ["instructor", "Instructor", " INSTRUCTOR ", "staff"])
def test_attack_a_ta_imports_a_roster_whose_role_column_is_spelled_otherwise(as_staff, rt, course, header, value):
    response = roster(as_staff, f"{header}\n{course.staff},TA,{value}\n")
    assert response.status_code == 403 and "Roster line 2" in page(response)
    assert roles(rt, course.staff) == {"c1": "staff"}


# --- add and import: a person of another course, a higher role, the last instructor ----------------------------


def test_staff_enrol_a_person_of_another_course_as_student_without_touching_the_account(as_staff, rt, course):
    with rt.db.session() as db:
        before, c2 = users.get_user(db, course.outsider), courses.get_course(db, "c2").id
        kept = (before.name, before.leaderboard_name_in(c2), before.password_hash, before.api_key_hash)
    assert roster(as_staff, f"email,name\n{course.outsider},Renamed\n").status_code == 302
    with rt.db.session() as db:
        after = users.get_user(db, course.outsider)
        assert (after.name, after.leaderboard_name_in(c2), after.password_hash, after.api_key_hash) == kept
    assert roles(rt, course.outsider) == {"c1": "student", "c2": "student"}


def flash_after(response, browser) -> str:
    return FLASH.search(page(browser.get(response.headers["Location"]))).group(0)


def test_the_staff_forms_answer_alike_whether_or_not_an_address_has_an_account_elsewhere(as_staff, course):
    known = flash_after(roster(as_staff, f"email,name\n{course.outsider},X\n"), as_staff)
    new = flash_after(roster(as_staff, "email,name\nnobody-yet@c1.test,X\n"), as_staff)
    assert known == new == "Roster imported: 1 enrolled, 0 already in the course."
    known = flash_after(add(as_staff, course.outsider.upper()), as_staff)
    new = flash_after(add(as_staff, "SOMEONE-NEW@c1.test"), as_staff)
    assert known.replace(course.outsider, "X") == new.replace("someone-new@c1.test", "X")


@pytest.mark.parametrize("role", ["staff", "instructor", "Instructor"])
def test_staff_enrol_no_higher_role_and_change_no_role_by_add_or_import(as_staff, rt, course, role):
    assert add(as_staff, "new@c1.test", role).status_code == 403
    assert roster(as_staff, f"email,name,role\nnew@c1.test,N,{role}\n").status_code == 403
    assert add(as_staff, course.student, role).status_code == 403
    assert add(as_staff, course.staff).status_code == 403  # the TA's own role, down
    with rt.db.session() as db:
        assert users.find_user(db, "new@c1.test") is None
    assert roles(rt, course.student) == {"c1": "student"} and roles(rt, course.staff) == {"c1": "staff"}


def test_a_refused_roster_line_leaves_the_course_as_it_was(as_staff, rt, course):
    response = roster(as_staff, f"email,name,role\nfine@c1.test,F,student\n{course.instructor},P,student\n")
    assert response.status_code == 403 and "Roster line 3" in page(response)
    with rt.db.session() as db:
        assert users.find_user(db, "fine@c1.test") is None


def test_the_last_instructor_is_not_demoted_by_add_or_import(as_instructor, rt, course):
    assert add(as_instructor, course.instructor, "staff").status_code == 409
    assert roster(as_instructor, f"email,name,role\n{course.instructor},P,student\n").status_code == 409
    assert roles(rt, course.instructor) == {"c1": "instructor"}


def test_instructors_enrol_anyone_with_any_role_in_their_course_only(as_instructor, rt, course, c2_prof):
    assert add(as_instructor, course.outsider, "staff").status_code == 302
    assert roster(as_instructor, f"email,name,role\n{c2_prof},X,Staff\n").status_code == 302
    assert roles(rt, course.outsider) == {"c1": "staff", "c2": "student"}
    assert roles(rt, c2_prof) == {"c1": "staff", "c2": "instructor"}


def test_a_roster_that_hands_the_course_to_a_new_instructor_may_demote_the_old_one(rt, course):
    with rt.db.session() as db:
        c1 = courses.get_course(db, "c1")
        users.import_roster(db, c1, f"email,name,role\n{course.staff},T,instructor\n{course.instructor},P,staff\n")
    assert roles(rt, course.instructor) == {"c1": "staff"} and roles(rt, course.staff) == {"c1": "instructor"}


# --- change role ---------------------------------------------------------------------------------------------


def test_only_instructors_change_roles_and_never_their_own(as_staff, as_instructor, rt, course):
    ta, prof, outsider = (user_id(rt, e) for e in (course.staff, course.instructor, course.outsider))
    assert as_staff.form(f"/staff/c1/people/{prof}/role", {"role": "student"}).status_code == 403
    assert as_staff.form(f"/staff/c1/people/{ta}/role", {"role": "instructor"}).status_code == 403
    assert as_instructor.form(f"/staff/c1/people/{prof}/role", {"role": "staff"}).status_code == 409
    assert as_instructor.form(f"/staff/c1/people/{outsider}/role", {"role": "staff"}).status_code == 404
    assert roles(rt, course.outsider) == {"c2": "student"}
    assert as_instructor.form(f"/staff/c1/people/{ta}/role", {"role": "student"}).status_code == 302
    assert roles(rt, course.staff) == {"c1": "student"} and roles(rt, course.instructor) == {"c1": "instructor"}


def test_a_second_instructor_may_be_demoted_but_not_the_last(as_instructor, rt, course):
    ta = user_id(rt, course.staff)
    assert as_instructor.form(f"/staff/c1/people/{ta}/role", {"role": "instructor"}).status_code == 302
    as_ta = as_instructor.application.test_client().signed_in_as(course.staff)
    prof = user_id(rt, course.instructor)
    assert as_ta.form(f"/staff/c1/people/{prof}/role", {"role": "staff"}).status_code == 302
    assert roles(rt, course.instructor) == {"c1": "staff"}
    # The only instructor left cannot be demoted by anyone: not by themselves, nor from the command line.
    assert as_ta.form(f"/staff/c1/people/{ta}/role", {"role": "staff"}).status_code == 409
    with rt.db.session() as db, pytest.raises(Refused, match="last instructor"):
        users.add_user(db, course.staff, courses.get_course(db, "c1"), "student")


# --- remove --------------------------------------------------------------------------------------------------


def test_tas_remove_students_only_and_nobody_the_last_instructor(as_staff, as_instructor, rt, course):
    student, other, prof, ta, outsider = (user_id(rt, e) for e in (course.student, course.other, course.instructor,
                                                                    course.staff, course.outsider))
    assert as_staff.form(f"/staff/c1/people/{prof}/remove").status_code == 403
    assert as_staff.form(f"/staff/c1/people/{ta}/remove").status_code == 403  # a TA's own enrolment is staff's
    assert as_instructor.form(f"/staff/c1/people/{outsider}/remove").status_code == 404
    assert as_instructor.form(f"/staff/c1/people/{prof}/remove").status_code == 409
    assert roles(rt, course.instructor) == {"c1": "instructor"} and roles(rt, course.outsider) == {"c2": "student"}
    assert roles(rt, course.staff) == {"c1": "staff"}
    assert as_staff.form(f"/staff/c1/people/{student}/remove").status_code == 302
    assert as_instructor.form(f"/staff/c1/people/{other}/remove").status_code == 302
    assert roles(rt, course.student) == {} and roles(rt, course.other) == {}
    with rt.db.session() as db:
        assert users.find_user(db, course.student) is not None  # the account stays


# --- reset links ---------------------------------------------------------------------------------------------


def test_staff_hand_out_links_for_students_of_their_own_courses_only(as_staff, as_instructor, rt, course):
    student, ta = user_id(rt, course.student), user_id(rt, course.staff)
    assert as_staff.form(f"/staff/c1/people/{student}/reset-link").status_code == 200
    assert as_instructor.form(f"/staff/c1/people/{ta}/reset-link").status_code == 403  # a staff account
    assert as_staff.form(f"/staff/c1/people/{ta}/reset-link").status_code == 403  # one's own
    # A student of c1 who is also enrolled in c2, where the issuer is nobody: the link is no longer c1's to give.
    with rt.db.session() as db:
        users.add_user(db, course.student, courses.get_course(db, "c2"), "student")
    assert as_staff.form(f"/staff/c1/people/{student}/reset-link").status_code == 403
    assert as_instructor.form(f"/staff/c1/people/{student}/reset-link").status_code == 403
    assert links_issued(rt, course.student) == 1


def test_the_people_page_offers_links_only_where_they_would_be_given(as_staff, rt, course):
    text = page(as_staff.get("/staff/c1/people"))
    assert f"/staff/c1/people/{user_id(rt, course.student)}/reset-link" in text
    assert f"/staff/c1/people/{user_id(rt, course.instructor)}/reset-link" not in text


def test_the_rule_for_links_reads_every_enrolment_of_the_account(rt, course, c2_prof):
    with rt.db.session() as db:
        ta, student, outsider, prof2 = (users.get_user(db, e) for e in (course.staff, course.student,
                                                                         course.outsider, c2_prof))
        assert authority.may_issue_link(ta, student)
        assert not authority.may_issue_link(ta, outsider)  # no role in any of the TA's courses
        assert authority.may_issue_link(prof2, outsider)  # c2's instructor, c2's student
        assert not authority.may_issue_link(prof2, student)
        assert authority.may_issue_link(authority.OPERATOR, prof2)


# --- the command line: the instance operator ------------------------------------------------------------------


def test_the_operator_hands_out_any_link_and_it_is_audited(rt, podium_cli, course, c2_prof):
    result = podium_cli("users", "reset-link", c2_prof)
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip().rsplit("/reset/", 1)[1]
    with rt.db.session() as db:
        assert accounts.user_for_reset(db, rt.settings.secret_key, token).email == c2_prof
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.reset_link")).one()
        assert event.target == c2_prof and event.actor.startswith("cli")


def test_the_operator_sets_any_role_but_changes_no_existing_account_silently(rt, podium_cli, course):
    refused = podium_cli("users", "add", course.outsider, "--course", "c1", "--name", "Other Name")
    assert refused.exit_code == 1 and "--name" in refused.stderr and roles(rt, course.outsider) == {"c2": "student"}
    refused = podium_cli("users", "add", course.outsider, "--course", "c1", "--password", "a new password")
    assert refused.exit_code == 1 and "--password" in refused.stderr
    result = podium_cli("users", "add", course.outsider, "--course", "c1", "--role", "instructor")
    assert result.exit_code == 0, result.stderr
    assert roles(rt, course.outsider) == {"c1": "instructor", "c2": "student"}
    with rt.db.session() as db:
        outsider = users.get_user(db, course.outsider)
        assert outsider.name == "Out Sider" and users.check_password(outsider, PASSWORD)


def test_the_operator_cannot_remove_or_demote_the_last_instructor(rt, podium_cli, course):
    demoted = podium_cli("users", "add", course.instructor, "--course", "c1", "--role", "student")
    assert demoted.exit_code == 1 and "last instructor" in demoted.stderr
    removed = podium_cli("users", "remove", course.instructor, "--course", "c1")
    assert removed.exit_code == 1 and "last instructor" in removed.stderr
    assert roles(rt, course.instructor) == {"c1": "instructor"}
    assert podium_cli("users", "remove", course.student, "--course", "c1").exit_code == 0
    assert roles(rt, course.student) == {}


ENROLMENT_SERVICES = {"add_user", "import_roster", "remove_enrolment"}


def test_every_web_call_that_changes_an_enrolment_names_who_acts():
    """The enrolment services act as the instance operator unless told who acts (`by=`): the CLI and the demo are
    the operator, every page and API route must pass the signed-in person, or a forgotten `by=` would hand a
    student the operator's powers."""
    import ast
    from pathlib import Path

    import podium.web

    unnamed, seen = [], 0
    for path in sorted(Path(podium.web.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ENROLMENT_SERVICES:
                seen += 1
                if not any(keyword.arg == "by" for keyword in node.keywords):
                    unnamed.append(f"{path.name}:{node.lineno} {node.func.attr}")
    assert seen >= 3, "the check found no enrolment call in the web: it checks nothing"
    assert not unnamed, f"enrolment calls without by=: {unnamed}"
