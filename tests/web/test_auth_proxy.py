"""An authenticating reverse proxy (PODIUM_AUTH_HEADER with PODIUM_TRUST_PROXY): the header signs people in only
when the proxy itself (an address of PODIUM_AUTH_PROXY_ADDRESSES, 127.0.0.1 by default) connects to Podium, and
never on the APIs. The attacks: a client sending the header itself, also with a forged X-Forwarded-For; the header
naming staff; the header on API routes with and without HTTP Basic."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from podium.models import AuditEvent
from podium.services import users

HEADER = "X-Forwarded-Email"
PROXY = {"REMOTE_ADDR": "127.0.0.1"}   # the proxy on the same machine connects to Podium
DIRECT = {"REMOTE_ADDR": "203.0.113.9"}  # a client that reaches Podium without the proxy


@pytest.fixture
def proxy_settings(monkeypatch):
    monkeypatch.setenv("PODIUM_AUTH_HEADER", HEADER)
    monkeypatch.setenv("PODIUM_TRUST_PROXY", "1")


pytestmark = pytest.mark.usefixtures("proxy_settings")


def signed_in_id(client) -> int | None:
    with client.session_transaction() as session:
        return session.get("user_id")


def user_id(rt, email: str) -> int | None:
    with rt.db.session() as session:
        user = users.account_of(session, email)
        return user.id if user else None


def sign_ons(rt) -> list[tuple[str, dict]]:
    with rt.db.session() as session:
        return [(e.target, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(("user.sign_on", "user.created_by_sign_on")))
            .order_by(AuditEvent.id))]


def test_the_proxy_signs_in_the_person_its_header_names(rt, course, client):
    page = client.get("/", headers={HEADER: "Student@C1.test", "X-Forwarded-For": "198.51.100.7"},
                      environ_base=PROXY)
    assert page.status_code == 200 and "Overfitter" in page.get_data(as_text=True)  # the student's header name
    assert signed_in_id(client) == user_id(rt, course.student)
    assert client.get("/profile", headers={HEADER: course.student}, environ_base=PROXY).status_code == 200
    assert sign_ons(rt) == [(course.student, {"via": "proxy"})]  # once: the session stands after

    # The proxy now names someone else (another person at the same browser): the session follows it.
    client.get("/", headers={HEADER: course.other}, environ_base=PROXY)
    assert signed_in_id(client) == user_id(rt, course.other)


def test_a_new_person_from_the_proxy_gets_an_account_and_is_told_how_to_join(rt, course, client):
    page = client.get("/", headers={HEADER: "fresh@uni.test"}, environ_base=PROXY)
    assert "How to join one" in page.get_data(as_text=True)
    fresh = user_id(rt, "fresh@uni.test")
    assert fresh is not None and signed_in_id(client) == fresh
    assert "You are not in a course yet" in client.get("/no-course", headers={HEADER: "fresh@uni.test"},
                                                       environ_base=PROXY).get_data(as_text=True)
    assert sign_ons(rt) == [("fresh@uni.test", {"via": "proxy"}), ("fresh@uni.test", {"via": "proxy"})]


@pytest.mark.parametrize("forwarded", [None, "127.0.0.1"], ids=["plain", "forged X-Forwarded-For"])
def test_a_client_sending_the_header_itself_is_not_believed(rt, course, client, forwarded):
    headers = {HEADER: course.instructor, **({"X-Forwarded-For": forwarded} if forwarded else {})}
    assert client.get("/profile", headers=headers, environ_base=DIRECT).status_code == 302
    staff_page = client.get(f"/staff/{course.slug}", headers=headers, environ_base=DIRECT)
    assert staff_page.status_code == 302 and staff_page.headers["Location"].startswith("/sign-in")
    client.get("/", headers={HEADER: "made-up@uni.test", **headers}, environ_base=DIRECT)
    assert signed_in_id(client) is None
    assert user_id(rt, "made-up@uni.test") is None and sign_ons(rt) == []


def test_the_header_counts_for_nothing_on_the_apis(rt, course, client):
    with rt.db.session() as session:
        key = users.issue_api_key(session, users.get_user(session, course.student), actor="test")
    private = f"/api/competitions/{course.public_id}/leaderboard?board=private"
    staff_header = {HEADER: course.instructor}

    # HTTP Basic decides who calls, whatever the header says: the student's key reads as the student.
    answer = client.get(private, headers=staff_header, auth=(course.student, key), environ_base=PROXY)
    assert answer.status_code == 403
    # Without credentials, the header is no sign-in either.
    assert client.get(private, headers=staff_header, environ_base=PROXY).status_code == 401
    assert client.get("/api/me/grades", headers=staff_header, environ_base=PROXY).status_code == 401
    assert signed_in_id(client) is None and sign_ons(rt) == []
