"""A registered platform that answers Podium's requests in bad faith or brokenly (podium.services.lti_tool): a key
set that is no key set, answers too large to hold, answers that trickle for ever, gradebook pages without end. Each
is refused with a message, and none holds Podium (a launch's request, the scheduler's pass) or its memory for ever.

The platform is a small server of this module answering whatever the test sets; Podium's side is a `Tool` on an
in-memory launch store (no database).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time

import jwt
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from podium.services import lti_tool
from podium.services.lti_tool import (
    LINEITEM_SCOPE,
    SCORE_SCOPE,
    LaunchRefused,
    PlatformInfo,
    PlatformUnreachable,
    ServiceRefused,
    Tool,
    ToolKey,
)

CLIENT_ID = "podium-tool"
SCOPES = (LINEITEM_SCOPE, SCORE_SCOPE)
STOP_AFTER_SECONDS = 8  # the server's own end to a trickle, so that a Podium that waits for ever fails, not hangs
MOST_PAGES = 60  # the server's own end to endless pages, for the same reason


class HostilePlatform:
    """Answers /token with an access token, and every other path with `answers[path]` (a callable of the request
    giving a Response); counts what it served."""

    def __init__(self):
        self.answers: dict = {}
        self.served: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        self.served.append(request.full_path)
        if request.path == "/token":
            return Response(json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}),
                            mimetype="application/json")
        answer = self.answers.get(request.path)
        return answer(request) if answer else Response("not here", status=404)

    def info(self) -> PlatformInfo:
        return PlatformInfo(id=1, name="Hostile LMS", issuer=self.url, client_id=CLIENT_ID, deployment_ids=("d",),
                            auth_login_url=self.url + "/auth", auth_token_url=self.url + "/token",
                            key_set_url=self.url + "/jwks")

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


class MemoryStore:
    def __init__(self):
        self.values: dict = {}

    def get(self, key):
        return self.values.get(key)

    def put(self, key, value, seconds):
        self.values[key] = value

    def take(self, key):
        return self.values.pop(key, None) is not None


@pytest.fixture(scope="module")
def server():
    hostile = HostilePlatform()
    yield hostile
    hostile.stop()


@pytest.fixture
def hostile(server) -> HostilePlatform:
    server.answers, server.served = {}, []
    return server


@pytest.fixture
def tool(hostile, tool_key_pem) -> Tool:
    return Tool(ToolKey(tool_key_pem), lambda issuer: [hostile.info()] if issuer == hostile.url else [],
                MemoryStore())


def json_answer(body, **headers) -> callable:
    return lambda request: Response(json.dumps(body), mimetype="application/json", headers=headers)


def trickle(request) -> Response:
    """A JSON answer that never ends: a space every 20 ms (until the server's own limit)."""
    def body():
        yield b'{"members": ['
        end = time.monotonic() + STOP_AFTER_SECONDS
        while time.monotonic() < end:
            time.sleep(0.02)
            yield b" "
        yield b"]}"
    return Response(body(), mimetype="application/json")


def token_from(hostile: HostilePlatform, kid: str = "a-key-nobody-has") -> str:
    """An id_token naming the platform (the key set is fetched before anything of the token is believed)."""
    return jwt.encode({"iss": hostile.url, "aud": CLIENT_ID, "sub": "s", "nonce": "n"}, "a key nobody checks " * 2,
                      algorithm="HS256", headers={"kid": kid})


@pytest.mark.parametrize("key_set", [
    {"keys": "abc"},
    {"keys": [1, 2]},
    {"keys": None},
    {"no keys": []},
    ["not", "an", "object"],
])
def test_a_key_set_that_is_no_key_set_refuses_the_launch_with_a_message(hostile, tool, key_set):
    hostile.answers["/jwks"] = json_answer(key_set)
    for kid in ("k1", "k2"):  # the second launch finds what the first fetched
        with pytest.raises(PlatformUnreachable) as refused:
            tool.validate({"id_token": token_from(hostile, kid), "state": "state-1"}, {}, secure=False)
        assert "is not a key set" in refused.value.message


def test_a_key_set_that_is_not_json_refuses_the_launch_with_a_message(hostile, tool):
    hostile.answers["/jwks"] = lambda request: Response("<html>maintenance</html>", mimetype="text/html")
    with pytest.raises(PlatformUnreachable, match="could not fetch your learning platform's keys"):
        tool.validate({"id_token": token_from(hostile), "state": "state-1"}, {}, secure=False)


def test_a_key_set_that_fails_is_not_fetched_again_by_every_launch_that_names_a_new_key(hostile, tool):
    """Anyone can post a token naming a registered platform and made-up key ids: one fetch a minute, however many
    launches come, even while the key set does not answer."""
    hostile.answers["/jwks"] = lambda request: Response("down", status=503)
    for n in range(5):
        with pytest.raises(PlatformUnreachable):
            tool.validate({"id_token": token_from(hostile, kid=f"k{n}"), "state": "state-1"}, {}, secure=False)
    assert [path for path in hostile.served if path.startswith("/jwks")] == ["/jwks?"]


def test_a_platform_that_rotates_its_keys_is_fetched_again_once_a_minute_at_most(hostile, tool_key_pem):
    now = [1000.0]
    tool = Tool(ToolKey(tool_key_pem), lambda issuer: [hostile.info()], MemoryStore(), clock=lambda: now[0])
    hostile.answers["/jwks"] = json_answer({"keys": [{"kid": "old", "kty": "RSA"}]})

    def launch(kid: str) -> None:
        with pytest.raises(LaunchRefused):  # no state cookie: refused after the keys are at hand
            tool.validate({"id_token": token_from(hostile, kid), "state": "state-1"}, {}, secure=False)

    launch("old")
    launch("new")  # a key not seen, moments after the fetch: not fetched again
    now[0] += lti_tool.KEY_SET_REFETCH_SECONDS + 1
    launch("new")  # now it is
    launch("old")  # a known key: not fetched again
    now[0] += lti_tool.KEY_SET_SECONDS + 1
    launch("old")  # the key set has grown old: fetched again
    assert len([path for path in hostile.served if path.startswith("/jwks")]) == 3


def test_an_answer_too_large_to_hold_is_refused_without_reading_it_whole(hostile, tool, monkeypatch):
    monkeypatch.setattr(lti_tool, "MAX_RESPONSE_BYTES", 100_000)
    sent = []

    def huge(request):
        def body():
            yield b'{"members": ['
            for n in itertools.count():
                chunk = b'{"user_id": "u%d", "roles": ["Learner"]},' % n * 100
                sent.append(len(chunk))
                if sum(sent) > 50_000_000:  # the server's own end, for a Podium that reads it all
                    break
                yield chunk
            yield b'{"user_id": "last"}]}'
        return Response(body(), mimetype="application/json")  # no Content-Length: streamed

    hostile.answers["/nrps"] = huge
    with pytest.raises(ServiceRefused, match="too large"):
        tool.client(hostile.info()).members(hostile.url + "/nrps")
    assert sum(sent) < 10_000_000


def test_an_answer_announced_too_large_is_refused_before_its_body(hostile, tool, monkeypatch):
    monkeypatch.setattr(lti_tool, "MAX_RESPONSE_BYTES", 100_000)
    body = json.dumps({"members": [{"user_id": f"u{n}", "roles": ["Learner"]} for n in range(10_000)]})
    hostile.answers["/nrps"] = lambda request: Response(body, mimetype="application/json")
    with pytest.raises(ServiceRefused, match="too large"):
        tool.client(hostile.info()).members(hostile.url + "/nrps")


def test_an_answer_that_trickles_for_ever_is_given_up(hostile, tool, monkeypatch):
    monkeypatch.setattr(lti_tool, "RESPONSE_SECONDS", 0.5)
    hostile.answers["/nrps"] = trickle
    with pytest.raises(PlatformUnreachable, match="too long"):
        tool.client(hostile.info()).members(hostile.url + "/nrps")


def test_gradebook_pages_without_end_are_not_followed_for_ever(hostile, tool, monkeypatch):
    monkeypatch.setattr(lti_tool, "MAX_PAGES", 5)

    def page(request):
        number = int(request.args.get("page", "1"))
        headers = {} if number >= MOST_PAGES else {"Link": f'<{hostile.url}/lineitems?page={number + 1}>; rel="next"'}
        return Response(json.dumps([{"id": f"{hostile.url}/lineitems/{number}", "tag": f"other-{number}"}]),
                        mimetype="application/vnd.ims.lis.v2.lineitemcontainer+json", headers=headers)

    hostile.answers["/lineitems"] = page
    with pytest.raises(ServiceRefused, match="more than 5 pages"):
        tool.client(hostile.info()).line_item(hostile.url + "/lineitems", SCOPES, tag="c1-hw1", label="HW1",
                                              resource_id="c1-hw1", maximum=100)
    assert len([path for path in hostile.served if path.startswith("/lineitems")]) == 5


@pytest.mark.parametrize("body", [
    [{"id": ["not", "a", "url"], "tag": "c1-hw1"}],  # the column found, with an id that is no address
    ["not a line item"],
    {"not": "a list"},
])
def test_a_gradebook_answer_of_the_wrong_shape_is_refused_with_a_message(hostile, tool, body):
    hostile.answers["/lineitems"] = json_answer(body)
    with pytest.raises(ServiceRefused, match="Hostile LMS"):
        tool.client(hostile.info()).line_item(hostile.url + "/lineitems", SCOPES, tag="c1-hw1", label="HW1",
                                              resource_id="c1-hw1", maximum=100)


@pytest.mark.parametrize("body", [
    ["a list, not a membership container"],
    {"members": 7},
])
def test_a_roster_of_the_wrong_shape_is_refused_with_a_message(hostile, tool, body):
    hostile.answers["/nrps"] = json_answer(body)
    with pytest.raises(ServiceRefused, match="Hostile LMS"):
        tool.client(hostile.info()).members(hostile.url + "/nrps")


def test_a_well_formed_roster_is_read_as_before(hostile, tool):
    hostile.answers["/nrps"] = json_answer({"members": [{"user_id": "u1", "roles": ["Learner"]}]})
    [member] = tool.client(hostile.info()).members(hostile.url + "/nrps")
    assert (member.subject, member.roles, member.active) == ("u1", ("Learner",), True)


def test_a_platform_s_error_text_reaches_messages_without_terminal_escape_sequences(hostile, tool):
    """Its words are printed by `podium lti sync` and `podium grades push` to an operator's terminal."""
    hostile.answers["/nrps"] = lambda request: Response("no\x1b]0;owned\x07 such\x1b[2J course", status=404)
    with pytest.raises(ServiceRefused) as refused:
        tool.client(hostile.info()).members(hostile.url + "/nrps")
    assert "such" in refused.value.message and "\x1b" not in refused.value.message
    hostile.answers["/nrps"] = lambda request: Response(json.dumps({"error_description": "gone\x1b[31m"}),
                                                        status=410, mimetype="application/json")
    with pytest.raises(ServiceRefused) as refused:
        tool.client(hostile.info()).members(hostile.url + "/nrps")
    assert "gone" in refused.value.message and "\x1b" not in refused.value.message


def test_a_platform_registered_at_https_addresses_is_never_reached_at_a_plain_http_one(hostile, tool, monkeypatch):
    """The roster's and gradebook's addresses come from the platform's launches and answers, which any of its
    administrators can sign or serve: a platform registered at https addresses must not send Podium's requests
    (with their access token) to a plain http address, where services of Podium's own network listen (a cloud's
    metadata address, a local admin port)."""
    monkeypatch.setattr(lti_tool._Connector, "_get_cached_access_token", lambda self, scope_key: "a token")
    secure = dataclasses.replace(hostile.info(), auth_token_url="https://lms.example.edu/token")
    hostile.answers["/nrps"] = json_answer({"members": [{"user_id": "u1", "roles": ["Learner"]}]})
    hostile.answers["/lineitems"] = json_answer([{"id": hostile.url + "/lineitems/1", "tag": "c1-hw1"}])
    with pytest.raises(ServiceRefused, match="not an https address"):
        tool.client(secure).members(hostile.url + "/nrps")
    with pytest.raises(ServiceRefused, match="not an https address"):
        tool.client(secure).line_item(hostile.url + "/lineitems", SCOPES, tag="c1-hw1", label="HW1",
                                      resource_id="c1-hw1", maximum=100)
    assert hostile.served == []
