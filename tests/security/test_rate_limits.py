"""Rate limits counted in the database: sign-in failures per account and per address, API requests per key (or per
address without valid credentials). Several server processes are several apps on one database here: each has its
own runtime (engine, connection pool) as a `podium run --workers N` process has."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import event, select, text

from podium.config import Limit, RateLimits
from podium.models import RateCounter
from podium.runtime import make_runtime
from podium.services import ratelimit
from podium.services.ratelimit import Limiter
from podium.web import create_app
from tests.conftest import send_mail
from tests.security.conftest import EMAIL
from tests.web.helpers import PASSWORD, Browser, answered, page


class Clock:
    """Seconds since the epoch, moved by the test (no test waits for real time to pass)."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def servers(rt):
    """Make `n` apps on the test's database, each with its own runtime, under the given limits and one clock."""
    runtimes = []

    def make(n: int, limits: RateLimits, clock: Clock | None = None):
        apps = []
        for _ in range(n):
            runtime = make_runtime(rate_limits=limits)
            runtimes.append(runtime)
            app = create_app(runtime=runtime)
            app.config["TESTING"] = True
            app.test_client_class = Browser
            if clock is not None:
                app.extensions["podium.limiter"].clock = clock
            apps.append(app)
        return apps

    yield make
    for runtime in runtimes:
        runtime.db.dispose()


def fail_sign_in(app, email: str = EMAIL["student"]):
    return app.test_client().form("/sign-in", {"email": email, "password": "not the password"})


def sign_in(app, email: str = EMAIL["student"]):
    return app.test_client().form("/sign-in", {"email": email, "password": PASSWORD})


# --- the limiter itself ----------------------------------------------------------------------------------


def counted(rt, **where) -> list[RateCounter]:
    with rt.db.session() as session:
        return list(session.scalars(select(RateCounter).filter_by(**where)))


def test_a_window_counts_up_to_its_limit_then_says_how_long_to_wait(rt):
    clock = Clock()
    limiter, limit = Limiter(rt.db, RateLimits(), clock), Limit(3, 60)
    assert [limiter.take("test", "k", limit) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("test", "k", limit) == 60
    assert limiter.take("test", "another subject", limit) == 0
    clock.now += 45.5
    assert limiter.waiting("test", "k", limit) == 15  # whole seconds, rounded up
    assert limiter.take("test", "k", limit) == 15
    clock.now += 14.5
    assert limiter.take("test", "k", limit) == 0  # a new window
    assert limiter.take("test", "k", limit) == 0
    limiter.give_back("test", "k")
    assert [limiter.take("test", "k", limit) for _ in range(3)] == [0, 0, 60]
    assert [c.hits for c in counted(rt, subject=ratelimit.subject_key("k"))] == [3]
    limiter.clear("test", "k")
    assert limiter.waiting("test", "k", limit) == 0
    assert counted(rt, subject=ratelimit.subject_key("k")) == []


def test_a_limit_of_zero_counts_nothing(rt):
    limiter = Limiter(rt.db, RateLimits())
    assert all(limiter.take("test", "k", Limit(0, 1)) == 0 for _ in range(5))
    assert counted(rt) == []


def test_the_table_keeps_hashes_of_who_is_counted_never_emails_or_addresses(app, rt, people):
    fail_sign_in(app)
    app.test_client().get("/api/me", auth=(EMAIL["other"], "wrong key"))
    with rt.db.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM rate_counters"))]
    assert {row[0] for row in rows} >= {ratelimit.SIGN_IN_ACCOUNT, ratelimit.SIGN_IN_ADDRESS, ratelimit.API_ADDRESS}
    flat = " ".join(str(value) for row in rows for value in row)
    assert EMAIL["student"] not in flat and "127.0.0.1" not in flat
    assert ratelimit.subject_key(EMAIL["student"]) in flat


def test_counters_of_long_ended_windows_are_pruned_when_a_new_subject_arrives(rt):
    clock = Clock()
    limiter = Limiter(rt.db, RateLimits(), clock)
    for n in range(5):
        limiter.take("test", f"old {n}", Limit(1, 60))
    clock.now += ratelimit.PRUNE_AFTER_SECONDS + 1
    limiter.take("test", "old 0", Limit(1, 60))  # an existing row: no pruning on this path
    assert len(counted(rt)) == 5
    limiter.take("test", "new", Limit(1, 60))
    assert {c.subject for c in counted(rt)} == {ratelimit.subject_key("old 0"), ratelimit.subject_key("new")}


def test_parallel_takes_from_two_processes_never_pass_the_limit(rt, servers):
    """Eight threads in two apps (two connection pools) race for 17 hits of one subject: exactly 17 are counted."""
    apps = servers(2, RateLimits())
    limit, taken, errors = Limit(17, 3600), [], []

    def hammer(app):
        limiter = app.extensions["podium.limiter"]
        try:
            for _ in range(10):
                if limiter.take("race", "one subject", limit) == 0:
                    taken.append(1)
        except Exception as exc:  # noqa: BLE001 - reported below with the test's failure
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(apps[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(taken) == 17
    assert [c.hits for c in counted(rt, scope="race")] == [17]


def test_racing_first_hits_of_a_new_subject_are_all_counted(rt):
    """The first hits of a subject race to create its row: the one that finds the row made by another after its own
    update looked (PostgreSQL: each statement sees the latest commits) counts on it, never refuses a subject far
    from its limit."""
    limiters = [Limiter(make_runtime(database_url=rt.settings.database_url).db, RateLimits()) for _ in range(4)]
    refused: list[int] = []
    try:
        for n in range(25):
            start = threading.Barrier(len(limiters))

            def first_hit(limiter, subject=f"new {n}"):
                start.wait()
                if waited := limiter.take("race", subject, Limit(100, 3600)):
                    refused.append(waited)

            threads = [threading.Thread(target=first_hit, args=(limiter,)) for limiter in limiters]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        for limiter in limiters:
            limiter.db.dispose()
    assert refused == []
    assert [c.hits for c in counted(rt, scope="race")] == [4] * 25


# --- sign-in ---------------------------------------------------------------------------------------------


def test_sign_in_failures_on_two_servers_add_up_and_lock_the_account_on_both(servers, people):
    first, second = servers(2, RateLimits(sign_in_account=Limit(4, 900)))
    assert [fail_sign_in(app).status_code for app in (first, second, first, second)] == [401] * 4
    for app in (first, second):
        locked = sign_in(app)  # the right password, too late
        assert locked.status_code == 429
        assert 0 < int(locked.headers["Retry-After"]) <= 900
        assert "Too many failed sign-ins. Try again in 15 minutes" in page(locked)
    assert sign_in(second, EMAIL["other"]).status_code == 302  # another account is not locked


def test_the_lock_ends_with_its_window(servers, people):
    clock = Clock()
    app, = servers(1, RateLimits(sign_in_account=Limit(2, 600)), clock)
    fail_sign_in(app)
    fail_sign_in(app)
    clock.now += 599
    refused = sign_in(app)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Try again in 1 second," in page(refused)
    clock.now += 1
    assert sign_in(app).status_code == 302


def test_only_failures_count_a_right_password_takes_its_attempt_back(servers, people):
    app, = servers(1, RateLimits(sign_in_account=Limit(3, 900), sign_in_address=Limit(6, 900)))
    for _ in range(10):  # more than either limit
        assert sign_in(app).status_code == 302
    fail_sign_in(app)
    fail_sign_in(app)
    assert sign_in(app).status_code == 302  # and it clears the account's failures
    assert [fail_sign_in(app).status_code for _ in range(3)] == [401, 401, 401]
    assert sign_in(app).status_code == 429
    # The address has 5 failures now (a right password does not wipe those): one more, on another account, is its last.
    assert fail_sign_in(app, EMAIL["other"]).status_code == 401
    assert sign_in(app, EMAIL["other"]).status_code == 429


def test_reset_mails_to_one_account_are_limited_across_servers(servers, people, mail_server, monkeypatch):
    """Each request for a reset mail counts, so the form cannot flood a mailbox; the page says the same either way."""
    monkeypatch.setenv("PODIUM_BASE_URL", "https://podium.c1.test")
    first, second = servers(2, RateLimits(sign_in=Limit(2, 900)))
    answers = [answered(app.test_client().form("/forgot", {"email": EMAIL["student"]}))
               for app in (first, second, first)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    same = [re.sub(r'name="csrf_token" value="[^"]*"', "", page(a)) for a in answers]
    assert same[0] == same[2]
    send_mail(first.extensions["podium"])
    assert [message["To"] for message in mail_server] == [EMAIL["student"], EMAIL["student"]]


# --- the APIs --------------------------------------------------------------------------------------------


def test_api_requests_of_one_key_on_two_servers_share_one_limit(servers, people):
    first, second = servers(2, RateLimits(api=Limit(3, 60)))
    student = people.basic("student")
    assert [app.test_client().get("/api/me", headers=student).status_code
            for app in (first, second, first)] == [200, 200, 200]
    for app, url in ((second, "/api/me"), (first, "/api/v1/competitions/list")):
        refused = app.test_client().get(url, headers=student)
        assert refused.status_code == 429
        body = refused.get_json()
        assert body["code"] == 429 and "at most 3 per minute for each API key" in body["message"]
        assert 0 < int(refused.headers["Retry-After"]) <= 60 and body["retry_after"] == int(refused.headers["Retry-After"])
    assert first.test_client().get("/api/me", headers=people.basic("other")).status_code == 200


def test_without_valid_credentials_api_requests_count_per_address(servers, people):
    first, second = servers(2, RateLimits(api=Limit(2, 60)))
    assert first.test_client().get("/api/me", auth=(EMAIL["student"], "guess 1")).status_code == 401
    assert second.test_client().get("/api/me", auth=(EMAIL["student"], "guess 2")).status_code == 401
    key = people.keys["student"]
    wrong = key[:-1] + ("y" if key.endswith("x") else "x")  # one in 64 keys ends with x already
    refused = first.test_client().get("/api/me", auth=(EMAIL["student"], wrong))
    assert refused.status_code == 429 and "without valid credentials" in refused.get_json()["message"]
    # The right key is counted under its own limit, not the address's.
    assert second.test_client().get("/api/me", headers=people.basic("student")).status_code == 200


def test_an_api_request_costs_one_small_write_to_the_counters(servers, people):
    """Steady state: one conditional UPDATE of one row by primary key, no read, per request."""
    app, = servers(1, RateLimits(api=Limit(1000, 60)))
    statements = []
    engine = app.extensions["podium"].db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def watch(_conn, _cursor, statement, _params, _context, _many):
        if "rate_counters" in statement:
            statements.append(statement.split()[0].upper())

    client = app.test_client()
    client.get("/api/me", headers=people.basic("student"))  # the first request of a key inserts its row
    statements.clear()
    for _ in range(5):
        assert client.get("/api/me", headers=people.basic("student")).status_code == 200
    assert statements == ["UPDATE"] * 5


def test_pages_and_the_upload_url_are_not_counted_against_the_api_limit(servers, people, rt):
    """The upload URL is counted per client address instead (tests/security/test_public_limits.py)."""
    app, = servers(1, RateLimits(api=Limit(1, 60)))
    browser = app.test_client()
    browser.signed_in_as(EMAIL["student"])
    for _ in range(3):
        assert browser.get("/courses/c1").status_code == 200
        assert app.test_client().put("/api/v1/uploads/unknown-token", data=b"x").status_code == 404
    assert counted(rt, scope=ratelimit.API_KEY) == [] and counted(rt, scope=ratelimit.API_ADDRESS) == []


def test_the_api_limit_can_be_turned_off(servers, people):
    app, = servers(1, RateLimits(api=Limit(0, 1)))
    assert all(app.test_client().get("/api/me", headers=people.basic("student")).status_code == 200 for _ in range(5))


def test_the_api_document_says_every_counted_operation_may_answer_429():
    from podium.web.openapi import document

    for path, operations in document()["paths"].items():
        for method, op in operations.items():
            # The upload URL too: it is counted per client address (podium.web.limits).
            assert "Retry-After" in op["responses"]["429"]["headers"], f"{method.upper()} {path}"
