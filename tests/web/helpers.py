"""Helpers for the web tests: a client that behaves like a browser with forms, inline scoring, recorded submissions."""
from __future__ import annotations

import io
import re
from datetime import datetime

from flask.testing import FlaskClient

from podium.models import Competition, User
from podium.services import submissions, users
from podium.web.context import start_session

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class InlineScoring:
    """Scores a submission as soon as it is received, so a test sees the outcome without waiting on threads."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.submitted: list[int] = []

    def submit(self, submission_id: int, student: int | None = None):
        self.submitted.append(submission_id)
        return submissions.score(self.runtime.db, self.runtime.settings, submission_id)

    def recover(self):
        return []

    def pending(self):
        return []  # scored before `submit` returns: nothing is ever in hand (ScoringPool.pending, read by /healthz)

    def shutdown(self, wait: bool = True):
        pass


def answered(response):
    """The response read whole and closed, as a server does once the answer is sent: work a view left for after
    its answer (Response.call_on_close, e.g. the reset mail of /forgot) has run when this returns."""
    response.get_data()
    response.close()
    return response


class Browser(FlaskClient):
    """A test client with the habits of a browser: forms carry the page's CSRF token."""

    def csrf_token(self) -> str:
        page = self.get("/profile" if self.signed_in else "/sign-in").get_data(as_text=True)
        match = TOKEN.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    @property
    def signed_in(self) -> bool:
        with self.session_transaction() as session:
            return "user_id" in session

    def form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD):
        """Through the sign-in form, as a person does (tests/web/test_accounts.py tests the form itself)."""
        response = self.form("/sign-in", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def signed_in_as(self, email: str) -> "Browser":
        """Signed in as `email` with the session the sign-in form leaves, without the form's round trips: for
        tests about what a signed-in person may do, not about signing in."""
        runtime = self.application.extensions["podium"]
        with runtime.db.session() as session, self.session_transaction() as store:
            start_session(store, users.get_user(session, email))
        return self


def record(rt, comp_id: int, email: str, content: str, *, at: datetime | None = None, name: str = "sub.csv",
           description: str = "") -> int:
    """A submission received (at `at`, default now) and scored; returns its id."""
    with rt.db.session() as session:
        user_id = session.query(User.id).filter(User.email == email).scalar()
    sub = submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(content.encode()), name, description,
                              at=at)
    submissions.score(rt.db, rt.settings, sub.id)
    return sub.id


def competition(rt, comp_id: int) -> Competition:
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        session.expunge(comp)
        return comp


def page(response) -> str:
    return response.get_data(as_text=True)


# What differs between any two answers of one page: form tokens (stamped to the second) and the CSP nonce.
PER_REQUEST = [
    re.compile(r'(name="csrf_token" value=")[^"]+'),
    re.compile(r'(<meta name="csrf-token" content=")[^"]+'),
    re.compile(r'(nonce=")[^"]+'),
]


def same_on_every_request(text: str) -> str:
    """A page's text without what changes from one request to the next, to compare what two reads showed."""
    for pattern in PER_REQUEST:
        text = pattern.sub(r"\1…", text)
    return text

