"""Routes that need no sign-in are limited per client address (PODIUM_PUBLIC_LIMIT): the Kaggle upload URL, the
sign-in, forgot and reset pages, the front page and /healthz. A refusal is a 429 with Retry-After and a message;
another address is still served, each route has its own allowance, and every server process counts into one total."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from podium.config import Limit, RateLimits
from podium.services import ratelimit
from tests.conftest import predictions
from tests.security.test_rate_limits import Clock, counted, servers  # noqa: F401 - the fixture
from tests.outages import write_locked
from tests.web.helpers import page

A, B = "10.0.0.1", "10.0.0.2"
PATIENCE = 15  # seconds
CID = "c1-hw1"


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def ticket(app, people, text_: str) -> str:
    """A Kaggle upload ticket of the student; its upload path (what `createUrl` points at)."""
    response = app.test_client().post(f"/api/v1/competitions/{CID}/submissions/url/{len(text_)}/1700000000",
                                      data={"fileName": "pred.csv"}, headers=people.basic("student"),
                                      content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["createUrl"].replace("http://localhost", "")


def test_a_flood_of_upload_puts_from_one_address_is_refused_while_another_address_is_served(servers, people):
    """The finding: 700 PUTs to the upload URL in 5 s, none of them limited. Each one costs a database round trip
    (and with a ticket, a file written)."""
    clock = Clock()
    app, = servers(1, RateLimits.from_env({"PODIUM_PUBLIC_LIMIT": "30/1m"}), clock)
    flood = client_at(app, A)
    answers = [flood.put(f"/api/v1/uploads/guess-{n}", data=b"id,label\n") for n in range(50)]
    assert [a.status_code for a in answers] == [404] * 30 + [429] * 20
    refused = answers[-1]
    body = refused.get_json()
    assert body["code"] == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(refused.headers["Retry-After"])
    assert "Too many requests to the Kaggle CLI's upload address from your address: at most 30 per minute" in \
           body["message"] and "Try again in" in body["message"]
    text_ = predictions()
    url = ticket(app, people, text_)
    assert flood.put(url, data=text_.encode()).status_code == 429  # refused before the ticket is touched...
    assert client_at(app, B).put(url, data=text_.encode()).status_code == 200  # ...so it still works elsewhere
    clock.now += 60
    assert flood.put("/api/v1/uploads/guess-again", data=b"x").status_code == 404  # a new window


PAGES = [("/sign-in", "the sign-in page"), ("/forgot", "the forgotten-password page"),
         ("/reset/not-a-real-token", "the password reset page"), ("/", "the front page")]


@pytest.mark.parametrize("url, what", PAGES, ids=[url for url, _ in PAGES])
def test_each_page_without_sign_in_is_limited_per_address_with_a_page_that_says_when(servers, people, url, what):
    app, = servers(1, RateLimits(public=Limit(3, 60)))
    first = [client_at(app, A).get(url).status_code for _ in range(3)]
    assert 429 not in first and 500 not in first
    refused = client_at(app, A).get(url)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert f"Too many requests to {what} from your address: at most 3 per minute" in page(refused)
    assert client_at(app, B).get(url).status_code == first[0]


def test_healthz_is_limited_per_address_and_answers_its_refusal_in_json(servers, people):
    app, = servers(1, RateLimits(public=Limit(2, 60)))
    assert [client_at(app, A).get("/healthz").status_code for _ in range(2)] == [200, 200]
    refused = client_at(app, A).get("/healthz")
    assert refused.status_code == 429 and refused.is_json and int(refused.headers["Retry-After"]) > 0
    assert "Too many requests to /healthz" in refused.get_json()["message"]
    assert client_at(app, B).get("/healthz").get_json()["status"] == "ok"


def test_each_route_has_its_own_allowance(servers, people, rt):
    """A load balancer polling /healthz from the campus address never spends the sign-in page's allowance."""
    app, = servers(1, RateLimits(public=Limit(2, 60)))
    for _ in range(3):
        client_at(app, A).get("/healthz")
    assert client_at(app, A).get("/healthz").status_code == 429
    assert client_at(app, A).get("/sign-in").status_code == 200
    assert {c.scope for c in counted(rt)} >= {
        ratelimit.PUBLIC + "healthz", ratelimit.PUBLIC + "sign-in"}


def test_requests_to_two_server_processes_add_up(servers, people):
    first, second = servers(2, RateLimits(public=Limit(4, 60)))
    assert [client_at(app, A).get("/sign-in").status_code for app in (first, second, first, second)] == [200] * 4
    assert client_at(first, A).get("/sign-in").status_code == 429
    assert client_at(second, A).get("/sign-in").status_code == 429


def test_the_public_limit_can_be_turned_off(servers, people, rt):
    app, = servers(1, RateLimits(public=Limit(0, 1)))
    assert all(client_at(app, A).get("/sign-in").status_code == 200 for _ in range(10))
    assert counted(rt, scope=ratelimit.PUBLIC + "sign-in") == []


def test_a_counter_that_cannot_be_written_serves_the_request_rather_than_refuse_it(servers, people, rt):
    app, = servers(1, RateLimits(public=Limit(1, 60)))
    with rt.db.engine.begin() as connection:
        connection.execute(text("DROP TABLE rate_counters"))
    assert [client_at(app, A).get("/sign-in").status_code for _ in range(3)] == [200] * 3


@pytest.mark.only_on("sqlite", why="SQLite's one write lock for the whole file is what a counter waits on")
def test_a_page_without_sign_in_is_not_held_up_by_the_write_lock_its_counter_would_need(servers, people, rt):
    """In a rush of uploads on SQLite the write lock is busy; counting a sign-in page's request waits for it briefly
    (PUBLIC_COUNT_PATIENCE_MS), then serves the page uncounted, instead of the database's own 30 s."""
    app, = servers(1, RateLimits(public=Limit(100, 60)))
    answers = []
    with write_locked(rt.settings.database_url):
        reader = threading.Thread(target=lambda: answers.append(client_at(app, A).get("/sign-in").status_code))
        reader.start()
        reader.join(PATIENCE)  # a bound on waiting, well under the 30 s lock timeout: not a measure of speed
        answered_while_locked = not reader.is_alive()
    reader.join()
    assert answered_while_locked and answers == [200]
    assert counted(rt, scope=ratelimit.PUBLIC + "sign-in") == []  # served uncounted


def test_every_page_that_answers_without_sign_in_is_limited(servers, people):
    """A route added later that answers anonymous callers is caught here unless it is counted too."""
    app, = servers(1, RateLimits())
    answering = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/api", "/static")):
            continue
        if app.test_client().get(rule.rule).status_code == 200:
            answering.append(rule.endpoint)
    assert set(answering) >= {"main.index", "accounts.sign_in", "accounts.forgot", "main.healthz"}
    counted_in_view = {"main.healthz"}  # counted once the database is known to answer (podium/web/main.py)
    for endpoint in set(answering) - counted_in_view:
        assert getattr(app.view_functions[endpoint], "podium_limited_per_address", None), endpoint
    for endpoint in ("accounts.reset", "kaggle.upload"):  # the ones with a token in their address
        assert getattr(app.view_functions[endpoint], "podium_limited_per_address", None), endpoint
