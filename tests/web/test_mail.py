"""Every mail Podium writes about accounts goes through the outbox and reaches a real SMTP server (aiosmtpd): a reset
link asked for on the forgot page or sent by staff, the welcome mail and the added-to-course notice of a roster
import. Staff see their course's mails (never another course's, never a link) and try a failed one again; the
operator lists, sends and retries from the command line; nothing is lost while the mail server is down."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from podium.jobs import BackgroundJobs, ScoringPool
from podium.models import AuditEvent, MailState, OutboxMail, User, utcnow
from podium.services import accounts, mails, outbox, users
from podium.services.courses import get_course
from tests.conftest import send_mail
from tests.web.helpers import PASSWORD, answered, page

BASE_URL = "https://podium.c1.test"
LINK = re.compile(r"https://podium\.c1\.test/reset/\S+")


@pytest.fixture
def base_url(rt) -> str:
    rt.settings = replace(rt.settings, base_url=BASE_URL)
    return BASE_URL


def user_id(rt, email: str) -> int:
    with rt.db.session() as db:
        return users.get_user(db, email).id


def stored_mails(rt) -> list[OutboxMail]:
    with rt.db.session() as db:
        mails = db.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        db.expunge_all()
        return mails


def link_in(message) -> str:
    return LINK.search(message.get_content()).group(0)


def sets_password(app, link: str, password: str = "a brand new password") -> int:
    browser = app.test_client()
    path = link.removeprefix(BASE_URL)
    browser.get(path)
    return browser.form(path, {"password": password, "again": password}).status_code


def failed_mail(rt, slug: str, to: str) -> int:
    """A mail of course `slug` that the mail server refused for good."""
    with rt.db.session() as db:
        mail = outbox.enqueue(db, kind="added", to=to, subject=f"A notice of {slug}", body="No link here.\n",
                              course_id=get_course(db, slug).id)
        mail.state, mail.attempts, mail.ended_at = MailState.FAILED, 1, utcnow()
        mail.last_error = f"the mail server refused the address {to} (550 5.1.1 No such user here)"
        return mail.id


ROSTER = "email,name\nnew@c1.test,New Person\noutsider@c2.test,Out Sider\nstudent@c1.test,Stu Dent\n"


# --- each kind of mail, to the real server -------------------------------------------------------------


def test_a_reset_link_asked_for_on_the_forgot_page_is_queued_sent_and_then_kept_nowhere(client, app, rt, course,
                                                                                        base_url, smtp_server):
    answered(client.form("/forgot", {"email": course.student}))

    [mail] = stored_mails(rt)
    assert (mail.kind, mail.recipient, mail.course_id, mail.holds_link) == ("reset", course.student, None, True)
    assert mail.state == MailState.PENDING and smtp_server.messages == []  # nothing is sent inside the request
    # The mail expires with its link: never later than the link stops working.
    assert timedelta(0) < mail.expires_at - utcnow() <= timedelta(seconds=accounts.RESET_MAX_AGE)
    assert send_mail(rt).sent == [mail.id]

    [message] = smtp_server.messages
    assert message["To"] == course.student and message["Subject"] == "Set your Podium password"
    link = link_in(message)
    [mail] = stored_mails(rt)
    assert mail.state == MailState.SENT and mail.body == outbox.REDACTED and link.split("/")[-1] not in mail.body
    assert sets_password(app, link) == 302


def test_a_reset_link_staff_mail_is_listed_for_the_course_and_its_link_is_shown_nowhere(as_staff, app, rt, course,
                                                                                       base_url, smtp_server):
    response = as_staff.form(f"/staff/c1/people/{user_id(rt, course.student)}/reset-link", {"mail": "1"})
    text = page(response)
    assert "A mail with a new link is queued" in text and "within a minute" in text
    assert "/reset/" not in text  # the link is in the mail alone
    [mail] = stored_mails(rt)
    with rt.db.session() as db:
        assert mail.course_id == get_course(db, "c1").id and mail.kind == "reset" and mail.holds_link
    listed = page(as_staff.get("/staff/c1/mail"))
    assert course.student in listed and "waiting" in listed and "/reset/" not in listed  # not while it waits either

    send_mail(rt)

    [message] = smtp_server.messages
    token = link_in(message).split("/")[-1]
    listed = page(as_staff.get("/staff/c1/mail"))
    assert "Set your Podium password" in listed and token not in listed and outbox.REDACTED not in listed
    assert stored_mails(rt)[0].body == outbox.REDACTED
    assert sets_password(app, link_in(message)) == 302


def test_a_roster_import_welcomes_new_accounts_with_a_link_and_notifies_existing_ones_without(
        as_instructor, app, rt, course, base_url, smtp_server):
    response = as_instructor.form("/staff/c1/people/import", {"roster_text": ROSTER, "welcome_mail": "1"})
    assert response.status_code == 302
    flashed = page(as_instructor.get("/staff/c1/people"))
    assert "2 welcome mails queued" in flashed

    by_kind = {mail.kind: mail for mail in stored_mails(rt)}
    assert set(by_kind) == {"welcome", "added"}  # nothing to the student who was in the course already
    welcome, added = by_kind["welcome"], by_kind["added"]
    assert (welcome.recipient, welcome.holds_link, added.recipient, added.holds_link) == (
        "new@c1.test", True, course.outsider, False)
    assert "/reset/" not in added.body and welcome.expires_at is not None and added.expires_at is None
    with rt.db.session() as db:
        c1 = get_course(db, "c1").id
        assert welcome.course_id == added.course_id == c1
        [audited] = db.scalars(select(AuditEvent).where(AuditEvent.action == "roster.welcome_mail")).all()
        assert (audited.actor, audited.course_id, audited.details) == (course.instructor, c1,
                                                                        {"welcome_mails": 1, "notices": 1})

    assert sorted(send_mail(rt).sent) == sorted([welcome.id, added.id])
    messages = {message["To"]: message for message in smtp_server.messages}
    assert set(messages) == {"new@c1.test", course.outsider}
    notice = messages[course.outsider].get_content()
    assert "You were added to" in notice and "as a student" in notice and BASE_URL in notice
    assert "/reset/" not in notice
    welcome_text = messages["new@c1.test"].get_content()
    assert "Hello New Person" in welcome_text and f"{BASE_URL}/sign-in" in welcome_text
    assert sets_password(app, link_in(messages["new@c1.test"]), PASSWORD) == 302
    assert app.test_client().sign_in("new@c1.test").status_code == 302  # the new account signs in
    assert [mail.body for mail in stored_mails(rt) if mail.kind == "welcome"] == [outbox.REDACTED]


def test_without_the_opt_in_an_import_mails_nobody(as_instructor, rt, course, base_url, smtp_server):
    assert as_instructor.form("/staff/c1/people/import", {"roster_text": ROSTER}).status_code == 302
    assert stored_mails(rt) == []


@pytest.mark.parametrize("missing", ["mail server", "base url"])
def test_the_welcome_mail_is_refused_without_a_mail_server_or_the_sites_address(as_instructor, rt, course,
                                                                               smtp_server, monkeypatch, missing):
    if missing == "mail server":
        rt.settings = replace(rt.settings, base_url=BASE_URL)
        monkeypatch.delenv("PODIUM_SMTP_HOST")
        named = "PODIUM_SMTP_HOST"
    else:
        named = "PODIUM_BASE_URL"
    response = as_instructor.form("/staff/c1/people/import", {"roster_text": ROSTER, "welcome_mail": "1"})
    text = page(response)
    assert response.status_code == 422
    error = re.search(r'id="error-import"[^>]*>(.*?)</div>', text, re.S).group(1)
    assert "Welcome mail needs" in error and named in error
    assert "new@c1.test,New Person" in text  # what was typed is kept
    with rt.db.session() as db:
        assert users.find_user(db, "new@c1.test") is None  # nothing imported
    assert stored_mails(rt) == []


def test_the_command_refuses_the_welcome_mail_without_configuration_and_imports_nothing(podium_cli, rt, course,
                                                                                        tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_SMTP_HOST", raising=False)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    result = podium_cli("users", "import", roster, "--course", "c1", "--welcome-mail")
    assert result.exit_code == 1
    assert "--welcome-mail needs a mail server (PODIUM_SMTP_HOST) and the site's address (PODIUM_BASE_URL)" \
        in result.stderr
    with rt.db.session() as db:
        assert users.find_user(db, "new@c1.test") is None


def test_where_passwords_are_off_welcome_mail_holds_no_link_and_no_reset_link_is_issued(
        as_instructor, podium_cli, rt, course, base_url, smtp_server):
    rt.settings = replace(rt.settings, password_sign_in=False)  # people sign in through single sign-on only
    as_instructor.form("/staff/c1/people/import", {"roster_text": ROSTER, "welcome_mail": "1"})

    by_kind = {mail.kind: mail for mail in stored_mails(rt)}
    welcome, added = by_kind["welcome"], by_kind["added"]
    assert not welcome.holds_link and welcome.expires_at is None
    assert "/reset/" not in welcome.body and f"{BASE_URL}/sign-in" in welcome.body
    assert "institution's sign-in page" in welcome.body
    assert "/forgot" not in added.body  # no password to forget
    people = page(as_instructor.get("/staff/c1/people"))
    assert "Reset link" not in people and "single sign-on" in people

    refused = page(as_instructor.form(f"/staff/c1/people/{user_id(rt, course.student)}/reset-link", {}))
    assert "This Podium does not take passwords" in refused and "/reset/" not in refused
    result = podium_cli("users", "reset-link", course.student)
    assert result.exit_code == 1 and "does not take passwords" in result.stderr
    with rt.db.session() as db:  # nothing issued, so nothing audited
        assert db.scalars(select(AuditEvent).where(AuditEvent.action == "user.reset_link")).all() == []


# --- nothing lost while the mail server is down -------------------------------------------------------


def test_mail_written_while_the_server_is_down_goes_out_through_the_scheduler_job_once_it_is_back(
        as_instructor, as_staff, client, rt, course, base_url, smtp_server):
    smtp_server.stop()
    answered(client.form("/forgot", {"email": course.other}))
    as_staff.form(f"/staff/c1/people/{user_id(rt, course.student)}/reset-link", {"mail": "1"})
    as_instructor.form("/staff/c1/people/import", {"roster_text": ROSTER, "welcome_mail": "1"})
    jobs = BackgroundJobs(rt, ScoringPool(rt, 1))

    down = jobs.send_mail_if_leading()

    assert len(down.retrying) == 4 and not down.sent
    assert all(m.state == MailState.PENDING and m.attempts == 1 for m in stored_mails(rt))
    listed = page(as_staff.get("/staff/c1/mail"))
    assert "waiting to try again" in listed and "could not be reached" in listed

    smtp_server.start()
    up = jobs.send_mail_if_leading(now=utcnow() + timedelta(minutes=2))  # past the first wait

    assert sorted(up.sent) == sorted(down.retrying)
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [course.other, course.student, "new@c1.test", course.outsider])
    assert sum(bool(LINK.search(m.get_content())) for m in smtp_server.messages) == 3  # the notice has none
    assert {m.state for m in stored_mails(rt)} == {MailState.SENT}
    assert jobs.send_mail_if_leading(now=utcnow() + timedelta(hours=1)).sent == []  # each went once


# --- the staff page: the course's own mails, try again --------------------------------------------------


def test_staff_see_failed_mail_first_try_it_again_and_the_overview_says_so(as_staff, rt, course, smtp_server):
    with rt.db.session() as db:  # a sent mail of the course, listed after the failed one
        done = outbox.enqueue(db, kind="added", to=course.other, subject="Sent earlier", body="x",
                              course_id=get_course(db, "c1").id)
        done.state, done.sent_at, done.attempts = MailState.SENT, utcnow(), 1
    failed = failed_mail(rt, "c1", course.student)

    overview = page(as_staff.get("/staff/c1"))
    assert "1 mail of this course failed" in overview
    listed = page(as_staff.get("/staff/c1/mail"))
    assert listed.index(f'id="mail-{failed}"') < listed.index("Sent earlier")
    assert "550 5.1.1 No such user here" in listed and "Try again" in listed

    response = as_staff.form(f"/staff/c1/mail/{failed}/retry")

    assert response.status_code == 302
    mail = next(m for m in stored_mails(rt) if m.id == failed)
    assert (mail.state, mail.attempts, mail.last_error) == (MailState.PENDING, 0, "")
    assert "failed" not in page(as_staff.get("/staff/c1")).split("<section", 1)[0]
    with rt.db.session() as db:
        [audited] = db.scalars(select(AuditEvent).where(AuditEvent.action == "mail.retry")).all()
        assert (audited.actor, audited.target, audited.details["mail"]) == (course.staff, course.student, failed)
        assert "550" in audited.details["previous_error"]
    assert send_mail(rt).sent == [failed] and smtp_server.messages[0]["To"] == course.student
    again = as_staff.form(f"/staff/c1/mail/{failed}/retry")  # sent now: nothing to try again
    assert again.status_code == 409 and "only a mail that failed is tried again" in page(again)


def test_a_failed_link_mail_tried_again_gets_a_new_link(as_staff, app, rt, course, base_url, smtp_server):
    smtp_server.handler.refused.add(course.student)
    as_staff.form(f"/staff/c1/people/{user_id(rt, course.student)}/reset-link", {"mail": "1"})
    assert len(send_mail(rt).failed) == 1
    [mail] = stored_mails(rt)
    assert mail.state == MailState.FAILED and mail.body == outbox.REDACTED
    smtp_server.handler.refused.clear()  # the server's refusal was a passing fault

    as_staff.form(f"/staff/c1/mail/{mail.id}/retry")

    [mail] = stored_mails(rt)
    assert mail.state == MailState.PENDING and LINK.search(mail.body) and mail.expires_at > utcnow()
    send_mail(rt)
    [message] = smtp_server.messages
    assert sets_password(app, link_in(message)) == 302


def test_a_ta_of_another_course_sees_and_retries_none_of_its_mail(app, rt, course, smtp_server):
    with rt.db.session() as db:
        users.add_user(db, "ta2@c2.test", get_course(db, "c2"), "staff", password=PASSWORD)
    ta2 = app.test_client().signed_in_as("ta2@c2.test")
    c1_mail, c2_mail = failed_mail(rt, "c1", course.student), failed_mail(rt, "c2", course.outsider)

    assert ta2.get("/staff/c1/mail").status_code == 403
    own = page(ta2.get("/staff/c2/mail"))
    assert course.outsider in own and course.student not in own and "A notice of c1" not in own
    assert ta2.form(f"/staff/c1/mail/{c1_mail}/retry").status_code == 403
    assert ta2.form(f"/staff/c2/mail/{c1_mail}/retry").status_code == 404  # its own course's URL, c1's mail
    assert "failed" in page(ta2.get("/staff/c2")).split("<section", 1)[0]
    student = app.test_client().signed_in_as(course.student)
    assert student.get("/staff/c1/mail").status_code == 403
    assert student.form(f"/staff/c1/mail/{c1_mail}/retry").status_code == 403
    assert {m.id: m.state for m in stored_mails(rt)} == {c1_mail: MailState.FAILED, c2_mail: MailState.FAILED}


# --- the operator's commands ------------------------------------------------------------------------------


def test_the_operator_lists_sends_and_retries_mail_from_the_command_line(podium_cli, rt, course, base_url,
                                                                         smtp_server, tmp_path):
    smtp_server.handler.refused.add("new@c1.test")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    imported = podium_cli("users", "import", roster, "--course", "c1", "--welcome-mail")
    assert imported.exit_code == 0, imported.stderr
    assert "1 welcome mails with a sign-in link and 1 notices queued" in imported.stdout

    sent = podium_cli("mail", "send")

    assert sent.exit_code == 0 and "1 sent" in sent.stdout and "1 given up" in sent.stdout
    failed = podium_cli("mail", "list", "--state", "failed")
    [line] = failed.stdout.splitlines()
    mail_id = int(line.split("\t")[0])
    assert "welcome\tc1\tnew@c1.test" in line and "550 5.1.1" in line and "/reset/" not in line
    everything = podium_cli("mail", "list", "--course", "c1").stdout.splitlines()
    assert len(everything) == 2 and everything[0] == line  # failed first
    assert podium_cli("mail", "list", "--course", "c2").stdout == ""

    smtp_server.handler.refused.clear()
    retried = podium_cli("mail", "retry", mail_id)
    assert retried.exit_code == 0 and f"mail {mail_id} to new@c1.test is queued again" in retried.stdout
    assert "1 sent" in podium_cli("mail", "send").stdout
    assert smtp_server.messages[-1]["To"] == "new@c1.test" and LINK.search(smtp_server.messages[-1].get_content())
    again = podium_cli("mail", "retry", mail_id)
    assert again.exit_code == 1 and "only a mail that failed is tried again" in again.stderr
    assert podium_cli("mail", "retry", 9999).exit_code == 1


def test_mail_send_without_a_mail_server_says_so_and_the_mail_waits(podium_cli, rt, course, monkeypatch):
    monkeypatch.delenv("PODIUM_SMTP_HOST", raising=False)
    failed_id = failed_mail(rt, "c1", course.student)
    with rt.db.session() as db:
        outbox.enqueue(db, kind="added", to=course.other, subject="Waiting", body="x")

    result = podium_cli("mail", "send")

    assert result.exit_code == 1 and "no mail server is configured (PODIUM_SMTP_HOST)" in result.stderr
    assert [m.state for m in stored_mails(rt) if m.id != failed_id] == [MailState.PENDING]


def test_the_operators_list_never_shows_a_body(rt, course):
    """The operator's list is the server's whole outbox; it is worded from the rows, never from a body."""
    with rt.db.session() as db:
        outbox.enqueue(db, kind="reset", to=course.student, subject="Set your Podium password",
                       body="https://podium.c1.test/reset/SECRET-TOKEN\n", holds_link=True,
                       user_id=db.scalar(select(User.id).where(User.email == course.student)))
    with rt.db.session() as db:
        lines = mails.describe(mails.all_mails(db))
    assert len(lines) == 1 and "SECRET-TOKEN" not in lines[0] and "Set your Podium password" in lines[0]
