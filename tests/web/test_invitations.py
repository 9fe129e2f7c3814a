"""Course invitation links: staff make, list and revoke them; whoever opens one signed in joins as a student after a
confirmation, and nobody's role ever changes; links that expired, were revoked, do not exist or do not accept the
person's address are refused saying so; only the token's hash is stored; unknown tokens are rate limited per
address. The web tests' course: c1 with two students, a TA and an instructor, and an outsider in c2."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from podium.config import Limit, RateLimits
from podium.domain import Role, utcnow
from podium.errors import FieldError, Forbidden, NotFound, Refused
from podium.models import AuditEvent, CourseInvitation, User
from podium.services import authority, invitations, ratelimit, users
from podium.services.courses import get_course
from tests.conftest import send_mail
from tests.web.helpers import PASSWORD, page

NEWCOMER = "newcomer@c1.test"
BASE_URL = "https://podium.c1.test/site"


# --- helpers ----------------------------------------------------------------------------------------------


def make_link(rt, *, by: str = "ta@c1.test", slug: str = "c1", **options) -> tuple[int, str]:
    with rt.db.session() as session:
        made = invitations.create(session, get_course(session, slug), by=users.get_user(session, by), actor=by,
                                  **options)
        return made.invitation.id, made.token


def new_account(rt, email: str = NEWCOMER, password: str | None = None) -> None:
    """An account enrolled nowhere, as single sign-on makes one."""
    with rt.db.session() as session:
        user = User(email=users.normalise_email(email), name="New Comer")
        if password:
            users.set_password(user, password)
        session.add(user)


def role(rt, email: str, slug: str = "c1") -> Role | None:
    with rt.db.session() as session:
        return users.role_in(users.get_user(session, email), get_course(session, slug))


def link_row(rt, invitation_id: int) -> CourseInvitation:
    with rt.db.session() as session:
        return session.get(CourseInvitation, invitation_id)


def limiter(rt, **limits) -> ratelimit.Limiter:
    return ratelimit.Limiter(rt.db, RateLimits(**limits))


def browser(app, email: str):
    return app.test_client().signed_in_as(email)


# --- domains (no database) --------------------------------------------------------------------------------


@pytest.mark.parametrize("domains, email, allowed", [
    (["example.edu"], "ada@example.edu", True),
    (["example.edu"], "ada@cs.example.edu", False),        # a subdomain: only with *.example.edu
    (["example.edu"], "ada@badexample.edu", False),        # a look-alike ending
    (["example.edu"], "ada@example.edu.evil.test", False),
    (["*.example.edu"], "ada@cs.example.edu", True),
    (["*.example.edu"], "ada@a.b.example.edu", True),
    (["*.example.edu"], "ada@example.edu", False),         # the wildcard is subdomains only
    (["*.example.edu"], "ada@badexample.edu", False),
    (["example.edu", "*.example.edu"], "ada@example.edu", True),
    ([], "anyone@anywhere.test", True),
])
def test_an_allowed_domain_is_exact_and_a_wildcard_is_its_subdomains_only(domains, email, allowed):
    assert invitations.domain_allows(domains, email) is allowed


def test_typed_domains_are_normalised_as_emails_are_and_bad_ones_refused_naming_them():
    assert invitations.parse_domains("@Example.EDU, *.CS.example.edu\nexample.edu  bücher.test") == [
        "example.edu", "*.cs.example.edu", "xn--bcher-kva.test"]
    for bad in ("example", "ada@example.edu", "*example.edu", "cs.*.example.edu", "exa mple.edu,*.", "*."):
        with pytest.raises(FieldError) as refused:
            invitations.parse_domains(bad)
        assert refused.value.field == "domains" and "example.edu" in refused.value.message


# --- staff: make, list, revoke ----------------------------------------------------------------------------


def test_staff_make_list_and_revoke_links_and_only_the_tokens_hash_is_stored(rt, course):
    expires = utcnow() + timedelta(days=7)
    first, token = make_link(rt, label="Section A", expires_at=expires, domains="c1.test")
    second, _ = make_link(rt, by=course.instructor)
    with rt.db.session() as session:
        c1, ta = get_course(session, "c1"), users.get_user(session, course.staff)
        listed = invitations.listing(session, c1, by=ta)
        assert [(r.invitation.id, r.state) for r in listed] == [(second, "active"), (first, "active")]
        assert listed[1].invitation.allowed_domains == ["c1.test"] and listed[1].invitation.label == "Section A"
        invitations.revoke(session, c1, second, by=ta, actor=course.staff)
    with rt.db.session() as session:
        c1, ta = get_course(session, "c1"), users.get_user(session, course.staff)
        assert [r.state for r in invitations.listing(session, c1, by=ta)] == ["revoked", "active"]
        with pytest.raises(Refused, match="revoked already"):
            invitations.revoke(session, c1, second, by=ta, actor=course.staff)
        stored = session.get(CourseInvitation, first)
        assert stored.token_hash == invitations.token_hash(token) != token
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("invitation.%"))).all()
        assert [e.action for e in events] == ["invitation.create", "invitation.create", "invitation.revoke"]
        assert events[0].actor == course.staff and events[0].details["invitation"] == first
        # The token is nowhere in the database: not in the link's row, not in the audit log.
        every_row = [str(tuple(row)) for table in ("course_invitations", "audit_events")
                     for row in session.execute(select(CourseInvitation.__table__.metadata.tables[table]))]
        assert every_row and not any(token in row for row in every_row)


def test_a_link_needs_a_future_expiry_and_a_short_label(rt, course):
    with pytest.raises(FieldError, match="not in the future") as past:
        make_link(rt, expires_at=utcnow() - timedelta(minutes=1))
    assert past.value.field == "expires"
    with pytest.raises(FieldError) as long_label:
        make_link(rt, label="x" * 201)
    assert long_label.value.field == "label"


def test_students_and_other_courses_staff_cannot_make_see_or_revoke_a_courses_links(rt, course):
    link, _ = make_link(rt)
    with rt.db.session() as session:
        c1, c2 = get_course(session, "c1"), get_course(session, "c2")
        student, outsider = users.get_user(session, course.student), users.get_user(session, course.outsider)
        users.add_user(session, "ta@c2.test", c2, "staff")
        other_ta = users.get_user(session, "ta@c2.test")
        for who in (student, outsider, other_ta):
            with pytest.raises(Forbidden):
                invitations.create(session, c1, by=who, actor=who.email)
            with pytest.raises(Forbidden):
                invitations.listing(session, c1, by=who)
            with pytest.raises(Forbidden):
                invitations.revoke(session, c1, link, by=who, actor=who.email)
        # Through their own course, c1's link is not found; and the web's course-less revoke is the operator's.
        with pytest.raises(NotFound):
            invitations.revoke(session, c2, link, by=other_ta, actor=other_ta.email)
        with pytest.raises(Forbidden):
            invitations.revoke(session, None, link, by=other_ta, actor=other_ta.email)
    assert link_row(rt, link).revoked_at is None


# --- joining ----------------------------------------------------------------------------------------------


def test_a_newcomer_confirms_on_the_links_page_and_joins_as_a_student(app, rt, course):
    link, token = make_link(rt, label="Section A")
    new_account(rt)
    newcomer = browser(app, NEWCOMER)

    shown = newcomer.get(f"/join/{token}")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert "<h1>Join Course c1 as a student</h1>" in page(shown) and "Section A" not in page(shown)
    assert role(rt, NEWCOMER) is None  # a GET changes nothing

    joined = newcomer.form(f"/join/{token}")
    assert joined.status_code == 302 and joined.headers["Location"].endswith("/courses/c1")
    assert role(rt, NEWCOMER) == Role.student
    assert "You joined" in page(newcomer.get("/courses/c1"))
    assert link_row(rt, link).joined == 1
    with rt.db.session() as session:
        actions = [(e.action, e.actor, e.target) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.target == NEWCOMER).order_by(AuditEvent.id))]
    assert actions == [("user.enrol", NEWCOMER, NEWCOMER), ("invitation.join", NEWCOMER, NEWCOMER)]


@pytest.mark.parametrize("who, kept, words", [
    ("ta@c1.test", Role.staff, "course staff (a TA)"),
    ("prof@c1.test", Role.instructor, "an instructor"),
    ("student@c1.test", Role.student, "a student"),
])
def test_someone_in_the_course_already_keeps_their_role_and_is_told_so(app, rt, course, who, kept, words):
    link, token = make_link(rt, domains="elsewhere.test")  # the domain does not matter to people already in
    visitor = browser(app, who)
    shown = visitor.get(f"/join/{token}")
    assert shown.status_code == 200
    assert f"You are already in this course as {words}" in page(shown) and "Join c1" not in page(shown)
    answered = visitor.form(f"/join/{token}")
    assert answered.status_code == 302
    assert (f"You are already in Course c1 as {words}; the invitation link changed nothing."
            in page(visitor.get("/courses/c1")))
    assert role(rt, who) == kept and link_row(rt, link).joined == 0


def test_refused_links_say_why_and_enrol_nobody(app, rt, course):
    _, expired = make_link(rt)
    with rt.db.session() as session:  # expired since a minute
        row = session.scalar(select(CourseInvitation).where(CourseInvitation.token_hash ==
                                                            invitations.token_hash(expired)))
        row.expires_at = utcnow() - timedelta(minutes=1)
    revoked_id, revoked = make_link(rt)
    with rt.db.session() as session:
        invitations.revoke(session, get_course(session, "c1"), revoked_id, by=authority.OPERATOR, actor="cli")
    _, other_domain = make_link(rt, domains="example.edu, *.example.edu")
    new_account(rt)
    newcomer = browser(app, NEWCOMER)
    for token, code, words in ((expired, 410, "expired on"), (revoked, 410, "was revoked"),
                               ("not-a-real-token", 404, "not valid"),
                               (other_domain, 403, "only for addresses at example.edu or a subdomain of example.edu")):
        for answer in (newcomer.get(f"/join/{token}"), newcomer.form(f"/join/{token}")):
            assert answer.status_code == code, token
            assert words in page(answer) and "the course staff" in page(answer), token
    assert "signed in as newcomer@c1.test" in page(newcomer.get(f"/join/{other_domain}"))
    assert role(rt, NEWCOMER) is None


def test_a_second_click_finds_the_person_enrolled_by_the_first(rt, course):
    link, token = make_link(rt)
    new_account(rt)
    with rt.db.session() as first, rt.db.session() as second:
        seen_before = users.get_user(second, NEWCOMER)
        assert seen_before.enrolments == []  # loaded before the first click's enrolment, and kept
        second.commit()
        invitations.join(first, limiter(rt), token, users.get_user(first, NEWCOMER), "10.0.0.1")
        first.commit()
        again = invitations.join(second, limiter(rt), token, seen_before, "10.0.0.1")
        assert again.role == Role.student
    assert role(rt, NEWCOMER) == Role.student and link_row(rt, link).joined == 1


def test_the_domain_check_uses_the_normalised_email(rt, course):
    _, token = make_link(rt, domains="*.c1.test")
    new_account(rt, "Ada@CS.C1.Test")
    with rt.db.session() as session:
        done = invitations.join(session, limiter(rt), token, users.get_user(session, "ada@cs.c1.test"), "10.0.0.1")
        assert done.role is None and done.course.slug == "c1"
    assert role(rt, "ada@cs.c1.test") == Role.student


def test_a_visitor_signs_in_first_and_comes_back_to_the_link(app, rt, course):
    _, token = make_link(rt)
    new_account(rt, password=PASSWORD)
    visitor = app.test_client()
    sent = visitor.get(f"/join/{token}")
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/sign-in?next=")
    assert visitor.form(f"/join/{token}").status_code == 302  # not joined: there is nobody to enrol
    back = visitor.form(sent.headers["Location"], {"email": NEWCOMER, "password": PASSWORD})
    assert back.status_code == 302 and back.headers["Location"] == f"/join/{token}"
    assert "as a student" in page(visitor.get(back.headers["Location"]))
    assert role(rt, NEWCOMER) is None


def test_joining_needs_the_forms_token(app, rt, course):
    _, token = make_link(rt)
    new_account(rt)
    forged = browser(app, NEWCOMER).post(f"/join/{token}")  # a cross-site form carries no CSRF token
    assert forged.status_code == 400 and role(rt, NEWCOMER) is None


def test_wrong_tokens_are_limited_per_address_and_a_right_one_costs_nothing(rt, course):
    _, token = make_link(rt)
    new_account(rt)
    counted = limiter(rt, sign_in_address=Limit(3, 900))
    with rt.db.session() as session:
        newcomer = users.get_user(session, NEWCOMER)
        for _ in range(3):
            invitations.open_link(session, counted, token, newcomer, "10.0.0.1")  # right ones are not counted
        for n in range(3):
            with pytest.raises(NotFound):
                invitations.open_link(session, counted, f"guess-{n}", newcomer, "10.0.0.1")
        with pytest.raises(ratelimit.RateLimited) as stopped:
            invitations.join(session, counted, token, newcomer, "10.0.0.1")  # even a right one, from there
        assert 0 < stopped.value.retry_after <= 900
        invitations.join(session, counted, token, newcomer, "10.0.0.2")  # another address is not held back
    assert role(rt, NEWCOMER) == Role.student


def test_a_guessing_address_gets_429_pages_with_retry_after(app, rt, course):
    app.extensions["podium.limiter"] = limiter(rt, sign_in_address=Limit(2, 900))
    guesser = browser(app, course.outsider)
    assert [guesser.get(f"/join/guess-{n}").status_code for n in range(3)] == [404, 404, 429]
    refused = guesser.get("/join/guess-4")
    assert refused.status_code == 429 and "Retry-After" in refused.headers and "Try again in" in page(refused)


def test_someone_who_left_with_graded_submissions_is_sent_to_the_staff(rt, course, monkeypatch):
    """Coming back with submissions that would move final grades is a regrade: the staff's decision."""
    from podium.errors import RegradeNeeded

    _, token = make_link(rt)
    new_account(rt)

    def needs_regrade(*args, **kwargs):
        raise RegradeNeeded("enrolling newcomer@c1.test as student", [])

    monkeypatch.setattr(users, "add_user", needs_regrade)
    with rt.db.session() as session, pytest.raises(Refused, match="Ask the course staff to enrol you again"):
        invitations.join(session, limiter(rt), token, users.get_user(session, NEWCOMER), "10.0.0.1")


# --- the staff page ---------------------------------------------------------------------------------------


def test_the_staff_page_makes_a_link_shown_once_under_the_base_url(app, rt, course, as_staff):
    rt.settings = replace(rt.settings, base_url=BASE_URL)
    assert 'href="/staff/c1/invitations"' in page(as_staff.get("/staff/c1"))  # in the staff navigation
    made = as_staff.form("/staff/c1/invitations", {"label": "Section B", "expires": "2099-12-31T18:00",
                                                    "domains": "c1.test"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    text = page(made)
    start = text.index(f"{BASE_URL}/join/")
    link = text[start:text.index("<", start)]
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 40 and 'data-copy="invitation-link"' in text
    again = page(as_staff.get("/staff/c1/invitations"))
    assert token not in again and "Section B" in again and "@c1.test" in again and "active" in again
    with rt.db.session() as session:
        [row] = session.scalars(select(CourseInvitation)).all()
        assert row.created_by == course.staff and row.allowed_domains == ["c1.test"]
        assert row.expires_at.year == 2099 and row.expires_at.hour == 23  # 18:00 in New York is 23:00 UTC
    new_account(rt)
    assert browser(app, NEWCOMER).form(f"/join/{token}").status_code == 302
    assert role(rt, NEWCOMER) == Role.student
    assert "<td class=\"num\">1</td>" in page(as_staff.get("/staff/c1/invitations"))


def test_a_bad_form_comes_back_with_the_error_and_what_was_typed(rt, course, as_staff):
    sent = as_staff.form("/staff/c1/invitations", {"label": "Section C", "expires": "", "domains": "c1.test, nope"})
    assert sent.status_code == 422
    text = page(sent)
    assert "The allowed email domains: &#39;nope&#39; is not an email domain" in text
    assert 'value="Section C"' in text and 'value="c1.test, nope"' in text and 'aria-invalid="true"' in text
    past = as_staff.form("/staff/c1/invitations", {"expires": "2001-01-01T00:00"})
    assert past.status_code == 422 and "The expiry is not in the future" in page(past)
    with rt.db.session() as session:
        assert session.scalars(select(CourseInvitation)).all() == []


def test_revoking_on_the_staff_page(rt, course, as_instructor):
    link, token = make_link(rt, label="Leaked")
    done = as_instructor.form(f"/staff/c1/invitations/{link}/revoke")
    assert done.status_code == 302
    text = page(as_instructor.get("/staff/c1/invitations"))
    assert "Invitation link Leaked revoked" in text and 'class="revoked"' in text
    assert link_row(rt, link).revoked_by == course.instructor
    again = as_instructor.form(f"/staff/c1/invitations/{link}/revoke")
    assert again.status_code == 409 and "revoked already" in page(again)


# --- the command ------------------------------------------------------------------------------------------


def test_the_command_makes_lists_and_revokes_links(rt, course, podium_cli):
    made = podium_cli("invitations", "create", "c1", "--expires", "14d", "--domain", "c1.test", "--domain",
                      "*.c1.test", "--label", "Section D")
    assert made.exit_code == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("/join/") and "shown this once" in made.stderr and "PODIUM_BASE_URL" in made.stderr
    listed = podium_cli("invitations", "list", "c1")
    assert listed.exit_code == 0 and link.rsplit("/", 1)[1] not in listed.stdout
    [line] = listed.stdout.splitlines()
    assert "\tactive\t0 joined\t@c1.test, @*.c1.test\texpires " in line and line.endswith("\tSection D")
    invitation_id = line.split("\t")[0]
    revoked = podium_cli("invitations", "revoke", invitation_id)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "\trevoked by cli" in podium_cli("invitations", "list", "c1").stdout
    bad = podium_cli("invitations", "create", "c1", "--domain", "not a domain")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: --domain: 'not' is not an email domain")
    late = podium_cli("invitations", "create", "c1", "--expires", "yesterday")
    assert late.exit_code == 1 and "--expires 'yesterday'" in late.stderr


# --- mailed links ------------------------------------------------------------------------------------------


def test_a_link_mailed_to_a_list_reaches_each_address_once_and_joins_from_the_mail(app, rt, course, as_staff,
                                                                                  smtp_server):
    rt.settings = replace(rt.settings, base_url=BASE_URL)
    typed = f"{NEWCOMER}, second@c1.test\nNEWCOMER@C1.TEST"  # one address twice, in another case
    made = as_staff.form("/staff/c1/invitations", {"label": "Section D", "domains": "c1.test", "mail_to": typed})
    assert made.status_code == 200
    with rt.db.session() as session:
        [row] = session.scalars(select(CourseInvitation)).all()
        [audited] = session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.create")).all()
    assert audited.details["mailed"] == 2

    assert len(send_mail(rt).sent) == 2  # by the background work, not the request
    by_address = {message["To"]: message.get_content() for message in smtp_server.messages}
    assert set(by_address) == {NEWCOMER, "second@c1.test"}
    body = by_address[NEWCOMER]
    assert "join Course c1 (c1)" in body and "as a student" in body
    link = body[body.index(f"{BASE_URL}/join/"):].split()[0]
    assert invitations.token_hash(link.rsplit("/", 1)[1]) == row.token_hash
    assert "Section D" not in body  # the label is a note for staff
    new_account(rt)
    assert browser(app, NEWCOMER).form(link.removeprefix(BASE_URL)).status_code == 302
    assert role(rt, NEWCOMER) == Role.student


def test_a_mail_list_with_a_bad_or_outside_address_makes_no_link_and_mails_nobody(rt, course, as_staff,
                                                                                 smtp_server):
    rt.settings = replace(rt.settings, base_url=BASE_URL)
    bad = as_staff.form("/staff/c1/invitations", {"label": "E", "domains": "c1.test",
                                                  "mail_to": "ok@c1.test not-an-address"})
    assert bad.status_code == 422
    assert "Mail the link to: not email addresses: not-an-address" in page(bad)
    assert "ok@c1.test not-an-address</textarea>" in page(bad)  # what was typed comes back
    outside = as_staff.form("/staff/c1/invitations", {"domains": "c1.test", "mail_to": "someone@elsewhere.test"})
    assert outside.status_code == 422 and "outside the link&#39;s allowed domains" in page(outside)
    with rt.db.session() as session:
        assert session.scalars(select(CourseInvitation)).all() == []
    assert send_mail(rt).sent == []


def test_without_mail_configured_the_page_offers_no_mailing_and_the_command_refuses_it(rt, course, as_staff,
                                                                                       podium_cli, monkeypatch):
    monkeypatch.delenv("PODIUM_SMTP_HOST", raising=False)
    assert 'name="mail_to"' not in page(as_staff.get("/staff/c1/invitations"))
    result = podium_cli("invitations", "create", "c1", "--mail-to", NEWCOMER)
    assert result.exit_code == 1
    assert "--mail-to needs a mail server (PODIUM_SMTP_HOST)" in result.stderr
    with rt.db.session() as session:
        assert session.scalars(select(CourseInvitation)).all() == []
