"""Staff forms that fail come back as the same page: the error beside the form, in the page's words (never the
command line's options), and what was typed still in the fields; nothing of the refused action is kept. The command
line words the same refusals by its own options."""
from __future__ import annotations

import io
import re
from html import unescape

import pytest

from podium.models import Extension, SlackEntry, Submission
from podium.services import users
from tests.conftest import predictions
from tests.web.helpers import page, record

CLI_WORDS = re.compile(r"--[a-z]|`podium ")


def error_of(text: str, form: str) -> str:
    """The message shown beside the form `form`."""
    found = re.search(rf'<div class="flash flash-error form-error" role="alert" id="error-{form}">(.*?)</div>',
                      text, re.S)
    assert found, f"no error beside the form {form!r}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def field(text: str, name: str) -> str:
    """The tag of the form field `name` (input, select or textarea, with a textarea's content)."""
    found = re.search(rf'<(input|select|textarea)[^>]*name="{name}"[^>]*>(?:[^<]*</textarea>)?', text)
    assert found, f"no field {name!r}"
    return unescape(found.group(0))


def user_id(rt, email: str) -> int:
    with rt.db.session() as db:
        return users.get_user(db, email).id


# --- People ----------------------------------------------------------------------------------------------


def test_adding_a_person_with_a_bad_address_keeps_what_was_typed(as_instructor):
    response = as_instructor.form("/staff/c1/people/add", {"email": "ada at example", "name": "Typed Name",
                                                           "role": "staff"})
    text = page(response)
    assert response.status_code == 400 and "Not done." in error_of(text, "add")
    assert "is not a valid email address" in error_of(text, "add") and not CLI_WORDS.search(error_of(text, "add"))
    assert 'value="ada at example"' in field(text, "email") and 'value="Typed Name"' in field(text, "name")
    assert re.search(r"<option selected>staff</option>", text)
    assert 'action="/staff/c1/people/add#add"' in text  # the browser lands on the form with its error
    assert 'id="people"' in text  # the whole page, not a page of its own


def test_a_roster_refused_comes_back_with_its_text(as_staff, rt):
    roster = "email,name\nfine@c1.test,Fine\nnot-an-email,X\n"
    response = as_staff.form("/staff/c1/people/import", {"roster_text": roster})
    text = page(response)
    assert response.status_code == 400 and error_of(text, "import").startswith("Not done. Roster line 3:")
    assert roster in field(text, "roster_text")
    with rt.db.session() as db:
        assert users.find_user(db, "fine@c1.test") is None
    empty = as_staff.form("/staff/c1/people/import", {"roster_text": "  "})
    assert empty.status_code == 422 and "Choose a roster CSV" in error_of(page(empty), "import")
    assert 'aria-invalid="true"' in field(page(empty), "roster_text")


def test_a_roster_file_that_is_not_utf8_names_the_file(as_staff):
    response = as_staff.form("/staff/c1/people/import", {"roster": (io.BytesIO(b"email,name\n\xff\xfe\n"),
                                                                    "roster.csv")},
                             content_type="multipart/form-data")
    assert response.status_code == 422
    assert "roster.csv is not UTF-8 text" in error_of(page(response), "import")


def test_row_actions_refused_show_above_the_table(as_instructor, as_staff, rt, course):
    prof, ta = user_id(rt, course.instructor), user_id(rt, course.staff)
    own = as_instructor.form(f"/staff/c1/people/{prof}/role", {"role": "staff"})
    assert own.status_code == 409 and "Ask another instructor" in error_of(page(own), "people")
    link = as_staff.form(f"/staff/c1/people/{ta}/reset-link")
    assert link.status_code == 403 and "has to come from an instance administrator" in error_of(page(link), "people")


# --- Extensions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, message, marked", [
    ({"days": "-1"}, "An extension must be a positive number of days, not -1.0.", "days"),
    ({"days": "two"}, "The number of days must be a number, not 'two'.", "days"),
    ({"days": "", "until": "2000-01-01T12:00"}, "The new on-time deadline must be after the competition's on-time "
                                                "deadline", "until"),
    ({"until": "2099-01-01T12:00"}, "Give one of the number of days, the number of hours or the new on-time "
                                    "deadline.", "days"),
    ({"days": ""}, "Give one of the number of days, the number of hours or the new on-time deadline", "days"),
    ({"reason": "  "}, "An extension needs a reason; it is kept in the audit log.", "reason"),
    ({"email": "nobody@c1.test"}, "nobody@c1.test is not enrolled in c1", "email"),
    ({"competition": "c2-hw9"}, "Choose the competition the extension is for.", "competition"),
])
def test_an_extension_refused_speaks_the_forms_words_and_keeps_it(as_staff, rt, course, change, message, marked):
    form = {"competition": course.public_id, "email": course.student, "days": "2", "until": "",
            "reason": "a typed reason", **change}
    response = as_staff.form("/staff/c1/extensions", form)
    text = page(response)
    assert response.status_code in (404, 422)
    shown = error_of(text, "grant")
    assert message in shown and not CLI_WORDS.search(shown)
    assert 'aria-invalid="true"' in field(text, marked)
    for name in ("email", "days", "reason"):
        assert f'value="{form[name]}"' in field(text, name)
    with rt.db.session() as db:
        assert db.query(Extension).count() == 0


def test_the_command_words_the_same_refusals_by_its_options(podium_cli, course):
    result = podium_cli("extensions", "grant", course.public_id, course.student, "--days", "-1", "--reason", "flu")
    assert result.exit_code == 1 and result.stderr.strip() == ("error: An extension must be a positive number of "
                                                               "days, not -1.0.")
    both = podium_cli("extensions", "grant", course.public_id, course.student, "--days", "1", "--until",
                      "2099-01-01", "--reason", "flu")
    assert "give one of --days, --hours or --until" in both.stderr
    before = podium_cli("extensions", "grant", course.public_id, course.student, "--until", "2000-01-01",
                        "--reason", "flu")
    assert "--until must be after the competition's on-time deadline" in before.stderr
    unexplained = podium_cli("extensions", "grant", course.public_id, course.student, "--days", "1", "--reason", " ")
    assert "an extension needs --reason" in unexplained.stderr


def test_revoking_twice_says_so_on_the_page(as_staff, rt, course):
    as_staff.form("/staff/c1/extensions", {"competition": course.public_id, "email": course.student, "days": "1",
                                           "reason": "flu"})
    with rt.db.session() as db:
        ext = db.query(Extension).one().id
    assert as_staff.form(f"/staff/c1/extensions/{ext}/revoke").status_code == 302
    again = as_staff.form(f"/staff/c1/extensions/{ext}/revoke")
    assert again.status_code == 400 and f"Extension {ext} was already revoked." in error_of(page(again), "revoke")


# --- Slack, the competition's files ------------------------------------------------------------------------


def test_a_slack_ledger_refused_comes_back_with_its_text(as_staff, rt, course):
    ledger = f"email,days,note\n{course.student},2,fine\n{course.other},two,typo\n"
    response = as_staff.form("/staff/c1/slack", {"ledger_text": ledger})
    text = page(response)
    assert response.status_code == 400
    assert error_of(text, "ledger") == "Not done. Slack ledger line 3: days must be a whole number of days, not 'two'."
    assert ledger in field(text, "ledger_text") and 'id="balances"' in text
    with rt.db.session() as db:
        assert db.query(SlackEntry).count() == 0


def test_a_data_file_name_refused_keeps_the_name(as_staff, course):
    response = as_staff.form(f"/staff/competitions/{course.public_id}/data-files",
                             {"file": (io.BytesIO(b"# notes\n"), "notes.md"), "name": "../notes.md"},
                             content_type="multipart/form-data")
    text = page(response)
    assert response.status_code == 422 and "is not a plain file name" in error_of(text, "data-file")
    assert 'value="../notes.md"' in field(text, "name") and "Choose the file again" in text


def test_a_solution_refused_shows_on_the_competition_page(as_instructor, course):
    response = as_instructor.form(f"/staff/competitions/{course.public_id}/solution",
                                  {"solution": (io.BytesIO(b"id,label\n1,1\n"), "solution.csv")},
                                  content_type="multipart/form-data")
    text = page(response)
    assert response.status_code == 422 and "The solution was not accepted" in error_of(text, "solution")
    assert 'name="title"' in text  # the competition's page, settings and all
    none = as_instructor.form(f"/staff/competitions/{course.public_id}/solution", {})
    assert none.status_code == 422 and "Choose the new solution CSV" in error_of(page(none), "solution")


def test_a_final_mark_refused_is_told_on_the_page_it_was_pressed_on(as_staff, rt, course):
    subs = [record(rt, course.comp_id, course.student, predictions()) for _ in range(3)]
    back = f"/staff/c1/students/{user_id(rt, course.student)}"
    for sub in subs[:2]:
        assert as_staff.form(f"/staff/c1/submissions/{sub}/mark", {"selected": "1", "back": back}).status_code == 302
    refused = as_staff.form(f"/staff/c1/submissions/{subs[2]}/mark", {"selected": "1", "back": back})
    assert refused.status_code == 302 and refused.headers["Location"] == back
    text = page(as_staff.get(back))
    assert f"Submission {subs[2]} was not changed:" in text and "flash-error" in text
    with rt.db.session() as db:
        assert not db.get(Submission, subs[2]).selected


def test_a_reset_link_mailed_while_the_mail_server_is_down_is_queued_and_said_so(as_staff, rt, course, monkeypatch):
    from dataclasses import replace

    from podium.models import MailState, OutboxMail
    from tests.conftest import free_port, send_mail

    rt.settings = replace(rt.settings, base_url="https://podium.example.edu")
    monkeypatch.setenv("PODIUM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PODIUM_SMTP_PORT", str(free_port()))  # nobody listens there
    monkeypatch.setenv("PODIUM_SMTP_STARTTLS", "false")
    response = as_staff.form(f"/staff/c1/people/{user_id(rt, course.student)}/reset-link", {"mail": "1"})
    text = page(response)
    assert response.status_code == 200  # the request never talks to the mail server
    assert f"A mail with a new link is queued for {course.student}" in text and 'id="reset-link"' not in text
    assert send_mail(rt).retrying  # down: kept for the next pass
    with rt.db.session() as db:
        [mail] = db.query(OutboxMail).all()
        assert (mail.state, mail.recipient, mail.kind) == (MailState.PENDING, course.student, "reset")
        assert "could not be reached" in mail.last_error


@pytest.mark.parametrize("back", ["/\\evil.example/", "//evil.example/", "/\tevil"])
def test_a_buttons_way_back_stays_on_the_site(as_staff, rt, course, back):
    sub = record(rt, course.comp_id, course.student, predictions())
    response = as_staff.form(f"/staff/c1/submissions/{sub}/mark", {"selected": "1", "back": back})
    assert response.headers["Location"] == "/staff/c1/submissions"
