"""A real OpenID provider for the sign-on tests, and what a test needs to use it.

`oidc-provider` (pinned in package.json and package-lock.json, installed by `make install` with `npm ci`) runs
tests/oidc/provider.mjs in one Node process for the whole session: two real providers, "main" (Podium's) and
"rogue" (another tenant of the same service: the same signing keys, another issuer).

Podium is configured with the main provider's discovery address through `Interceptor`, a small attacker proxy on
the path to the provider's token endpoint: it passes everything through unchanged unless a test tells it to swap or
alter the ID token in the provider's real answer. It also notes, at each request it receives, how many database
connections Podium holds, to show that Podium never waits on the provider with a transaction open.

The person at the provider's pages is `ProviderBrowser`, which fills in the provider's own development login and
consent forms over HTTP; tests/e2e/test_sign_on.py does the same in Chromium.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from podium.runtime import make_runtime

HERE = Path(__file__).resolve().parent
BASE_URL = "http://podium.test"
CALLBACK = f"{BASE_URL}/sign-in/oidc/callback"
CLIENT_ID, CLIENT_SECRET = "podium", "podium-secret"
OTHER_CLIENT_ID, OTHER_CLIENT_SECRET = "other-app", "other-secret"
PROVIDER_NAME = "Campus Login"
CONTACT = "podium-help@uni.test"
SCOPES = "openid email profile"


@dataclass(frozen=True)
class Providers:
    main: str   # issuers
    rogue: str


# The provider process, shared by every module that uses the fixture (tests/e2e/test_sign_on.py imports it, which
# makes a second registration of it): started once per session, stopped at its end.
_RUNNING: dict[str, object] = {}


def _start_providers() -> tuple[subprocess.Popen, Providers]:
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc/node_modules is missing: run `make install` (it runs `npm ci` in tests/oidc)")
    process = subprocess.Popen([shutil.which("node") or "node", str(HERE / "provider.mjs")], cwd=HERE,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    issuers = json.loads(process.stdout.readline() or "{}")
    if set(issuers) != {"main", "rogue"}:
        _stop(process)
        pytest.fail(f"the OpenID provider did not start (exit status {process.poll()})")
    return process, Providers(**issuers)


def _stop(process: subprocess.Popen) -> None:
    process.stdin.close()  # provider.mjs ends with its stdin
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def providers() -> Providers:
    """The two providers, in one process for the whole session."""
    owner = "providers" not in _RUNNING
    if owner:
        _RUNNING["providers"] = _start_providers()
    process, running = _RUNNING["providers"]
    yield running
    if owner:
        _stop(process)
        del _RUNNING["providers"]


# --- the attacker proxy on the way to the token endpoint ---------------------------------------------------


@dataclass
class Interceptor:
    """An HTTP server between Podium and the main provider: it serves the provider's discovery document with the
    token endpoint pointed at itself, and passes token requests on. `alter`, when set, changes the provider's real
    token answer (a dict) before Podium gets it; `broken` answers token requests with a server error."""

    upstream: str
    url: str = ""
    alter: Callable[[dict], dict] | None = None
    broken: bool = False
    watch: Callable[[], int] | None = None  # how many database connections Podium holds now
    held: list[tuple[str, int]] = field(default_factory=list)  # (path, connections held) at each request
    tokens: list[dict] = field(default_factory=list)  # the provider's real answers, as they came

    def reset(self) -> None:
        self.alter, self.broken, self.watch = None, False, None
        self.held.clear()
        self.tokens.clear()

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"


def _handler(interceptor: Interceptor):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _note(self):
            if interceptor.watch is not None:
                interceptor.held.append((self.path, interceptor.watch()))

        def _answer(self, status: int, body: bytes, kind: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's name
            self._note()
            answer = requests.get(interceptor.upstream + self.path, timeout=10)
            document = answer.json()
            if self.path.startswith("/.well-known/openid-configuration"):
                document["token_endpoint"] = f"{interceptor.url}/token"
            self._answer(answer.status_code, json.dumps(document).encode())

        def do_POST(self):  # noqa: N802
            self._note()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if interceptor.broken:
                return self._answer(502, b"<html>Bad gateway</html>", "text/html")
            answer = requests.post(f"{interceptor.upstream}/token", data=body, timeout=10,
                                   headers={"Content-Type": self.headers["Content-Type"],
                                            "Authorization": self.headers.get("Authorization", "")})
            token = answer.json()
            interceptor.tokens.append(dict(token))
            if interceptor.alter is not None and answer.ok:
                token = interceptor.alter(token)
            self._answer(answer.status_code, json.dumps(token).encode())

    return Handler


@pytest.fixture(scope="session")
def interceptor_server(providers):
    interceptor = Interceptor(upstream=providers.main)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(interceptor))
    interceptor.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield interceptor
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def interceptor(interceptor_server) -> Interceptor:
    interceptor_server.reset()
    yield interceptor_server
    interceptor_server.reset()


def oidc_environment(monkeypatch, discovery_url: str, base_url: str = BASE_URL) -> None:
    """Podium's settings for the main provider (read when the test's runtime is made)."""
    monkeypatch.setenv("PODIUM_BASE_URL", base_url)
    monkeypatch.setenv("PODIUM_OIDC_DISCOVERY_URL", discovery_url)
    monkeypatch.setenv("PODIUM_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PODIUM_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PODIUM_OIDC_PROVIDER_NAME", PROVIDER_NAME)
    monkeypatch.setenv("PODIUM_CONTACT_EMAIL", CONTACT)


@pytest.fixture
def sign_on_settings(monkeypatch, interceptor):
    """Podium set up for the main provider, through the interceptor."""
    oidc_environment(monkeypatch, interceptor.discovery_url)
    return interceptor


@pytest.fixture
def rt(tmp_path, monkeypatch, database_url, sign_on_settings):
    """tests/conftest.py's runtime, made once the sign-on settings are in the environment (that one unsets
    PODIUM_BASE_URL, which sign-on needs)."""
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    runtime = make_runtime()
    yield runtime
    runtime.db.dispose()


# --- a person at the provider's pages ----------------------------------------------------------------------

FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')


class ProviderBrowser:
    """Someone signing in at the provider's own pages, over HTTP: its development login form (any password) and
    its consent form, until the provider sends them back to the application."""

    def __init__(self):
        self.http = requests.Session()

    def sign_in(self, url: str, login: str) -> str:
        """Where the provider sends the person back (the application's callback address, with code and state)."""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(12):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if not location.startswith(origin):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            match = FORM.search(response.text)
            assert match, f"no form on the provider's page: {response.status_code} {response.text[:300]}"
            action, inside = match.groups()
            prompt = PROMPT.search(inside).group(1)
            data = {"prompt": prompt, **({"login": login, "password": "any"} if prompt == "login" else {})}
            response = self.http.post(urljoin(response.url, action), data=data, allow_redirects=False, timeout=10)
        raise AssertionError("the provider never sent the person back")


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def id_token_from(issuer: str, login: str, *, nonce: str, client_id: str = CLIENT_ID,
                  client_secret: str = CLIENT_SECRET) -> str:
    """A real ID token the provider at `issuer` issues to `client_id` for `login`, with `nonce`: a whole
    authorization code flow with PKCE, as any application of that provider makes one."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = f"{issuer}/auth?" + urlencode({"client_id": client_id, "response_type": "code", "scope": SCOPES,
                                         "redirect_uri": CALLBACK, "state": secrets.token_urlsafe(8),
                                         "nonce": nonce, "code_challenge": challenge,
                                         "code_challenge_method": "S256"})
    code = query(ProviderBrowser().sign_in(url, login))["code"]
    answer = requests.post(f"{issuer}/token", auth=(client_id, client_secret), timeout=10,
                           data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                                 "code_verifier": verifier})
    answer.raise_for_status()
    return answer.json()["id_token"]
