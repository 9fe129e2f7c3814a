"""LTI 1.3 Advantage, the tool's side of the protocol: the one module that speaks to pylti1p3 (its maintained fork,
pylti1p3next), so that what Podium believes of a launch is decided here and nowhere else.

- `ToolKey`: Podium's RSA key pair, generated once into the data dir and published as a JSON Web Key Set; it signs
  Podium's requests for access tokens and its deep-linking answers.
- `Tool.login_redirect`: the answer to a platform's third-party login initiation (OpenID Connect), with the state
  cookie the browser must bring back.
- `Tool.validate`: a launch's id_token checked before anything of it is believed: the state against the browser's
  cookie, the signature against the platform's published keys, the issuer (a registered platform), the audience
  (the client id the platform gave Podium; among several, the authorized party's), the deployment, the nonce (good
  once, `LaunchStore.take`, and only in the browser it was given to), expiry and issue time, and the message's own
  required claims.
- `PlatformClient`: the platform's services, reached with a client-credentials access token: the course roster
  (Names and Roles Provisioning) and the gradebook (Assignment and Grade Services).

Nothing here touches the database: every call may wait on the platform's network, and callers hold no transaction
while it does. What a launch keeps between its two requests lives in a `LaunchStore` the caller provides (podium.
services.lti keeps it in the database, shared by every server process).
"""
from __future__ import annotations

import json
import os
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException, LtiServiceException, OIDCException
from pylti1p3.grade import Grade
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.lineitem import LineItem
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.session import SessionService
from pylti1p3.tool_config.abstract import ToolConfAbstract
from pylti1p3.assignments_grades import AssignmentsGradesService

from podium.domain import Role
from podium.errors import PodiumError, escape_controls

NETWORK_TIMEOUT_SECONDS = 10
# A platform's answer is read whole, so it is read only up to this size and for this long, however slowly it
# trickles: one platform must not fill Podium's memory nor hold a launch or the scheduler's pass for ever.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # a roster page of MAX_ROSTER_MEMBERS people is about 15 MB
RESPONSE_SECONDS = 10
KEY_SET_SECONDS = 3600          # a platform's keys are fetched again after this long
KEY_SET_REFETCH_SECONDS = 60    # and at most this often (a token naming a key not seen yet, a fetch that failed)
LAUNCH_SECONDS = 3600           # how long a validated launch can be continued (choosing a course, deep linking)
STATE_COOKIE_SECONDS = 5 * 60
MAX_STATE_LENGTH = 100          # Podium's states are "state-" and a UUID; a longer one is not Podium's
MAX_ID_LENGTH = 255             # LTI Core 1.3's most for a user's (OIDC's sub), a context's and a resource link's id
MAX_PAGES = 200                 # a roster or gradebook of pages without end is refused, not followed for ever
MAX_ROSTER_MEMBERS = 50_000
TOKEN_MARGIN_SECONDS = 30       # a service's access token is asked for again this long before it expires

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
RESOURCE_LINK_LAUNCH, DEEP_LINKING_LAUNCH = "LtiResourceLinkRequest", "LtiDeepLinkingRequest"

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


class LaunchRefused(PodiumError):
    """A launch, or a platform's answer, that is not believed: nobody is signed in; the page says what to do."""

    code = 400


class PlatformUnreachable(PodiumError):
    """The platform did not answer, or answered with a server error: trying again later may work."""

    code = 503


class ServiceRefused(PodiumError):
    """The platform refused a service request for good (a 4xx other than "too many"): sending it again as it is
    will not help."""

    code = 502


# --- roles ------------------------------------------------------------------------------------------------------


def course_role(roles: t.Iterable[str]) -> Role | None:
    """The Podium role of a person with these LTI roles in the LMS course: instructors (and the course's
    administrators) are instructors; teaching assistants are staff, even where the platform also sends the principal
    Instructor role their sub-role belongs to; learners are students; anyone else (a mentor, an observer, a guest,
    a role only at the institution) has none. Roles may come as full URIs or, from older platforms, as short names."""
    names = {_short_role(role) for role in roles}
    if "Instructor#TeachingAssistant" in names or "TeachingAssistant" in names:
        return Role.staff
    if names & {"Instructor", "Administrator"}:
        return Role.instructor
    if "Learner" in names:
        return Role.student
    return None


def _short_role(role: str) -> str:
    """`Instructor` of `http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor`; a sub-role keeps its
    principal (`Instructor#TeachingAssistant`); institution and system roles are not course roles and read as ""."""
    role = role.strip()
    for prefix in ("http://purl.imsglobal.org/vocab/lis/v2/membership#",
                   "http://purl.imsglobal.org/vocab/lis/v2/membership/"):
        if role.startswith(prefix):
            return role[len(prefix):]
    return "" if "://" in role or role.startswith("urn:") else role


# --- Podium's key pair ------------------------------------------------------------------------------------------


class ToolKey:
    """Podium's RSA key pair for LTI, kept in the data dir (created private, once; the first of two starting
    processes wins) and published at /lti/jwks.json by its key id (the RFC 7638 thumbprint)."""

    def __init__(self, private_pem: str):
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        self.private_pem, self.private_key = private_pem, key  # loaded once: loading checks it, a tenth of a second
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.jwk = dict(Registration.get_jwk(self.public_pem))
        self.kid = self.jwk["kid"]

    @classmethod
    def in_folder(cls, folder: Path) -> ToolKey:
        path = folder / "tool-key.pem"
        if not path.exists():
            _create_key(path)
        return cls(path.read_text())

    def jwks(self) -> dict:
        return {"keys": [self.jwk]}


def _create_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path.parent.mkdir(parents=True, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


# --- what the caller provides ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformInfo:
    """A registered platform as the protocol needs it (podium.models.LtiPlatform, read by the caller)."""

    id: int
    name: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None = None


class LaunchStore(t.Protocol):
    """Values a launch keeps between its requests, shared by every server process; each call is a unit of work."""

    def get(self, key: str) -> t.Any: ...

    def put(self, key: str, value: t.Any, seconds: float) -> None: ...

    def take(self, key: str) -> bool:
        """Remove the value and say whether it was there (and not expired): true for one caller only."""


Lookup = t.Callable[[str], list[PlatformInfo]]  # the platforms registered under an issuer


# --- a launch, as Podium believes it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """A validated launch: who, from where, into what, and the platform's services it names."""

    launch_id: str
    platform: PlatformInfo
    deployment_id: str
    message_type: str
    subject: str
    email: str
    name: str
    roles: tuple[str, ...]
    context_id: str
    context_title: str
    resource_link_id: str
    resource_link_title: str
    custom: dict
    target_link_uri: str
    document_target: str
    memberships_url: str | None
    lineitems_url: str | None
    lineitem_url: str | None
    ags_scopes: tuple[str, ...]
    deep_link_return_url: str | None

    @property
    def role(self) -> Role | None:
        return course_role(self.roles)

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == DEEP_LINKING_LAUNCH

    @property
    def framed(self) -> bool:
        return self.document_target in ("iframe", "frame", "embed")


def _too_long(body: dict) -> str:
    """Which of the launch's ids is longer than LTI Core allows (and Podium's columns hold), or ""."""
    context = body.get(CLAIM + "context") or {}
    link = body.get(CLAIM + "resource_link") or {}
    ids = (("user id (sub)", body.get("sub")), ("course id", context.get("id") if isinstance(context, dict) else ""),
           ("link id", link.get("id") if isinstance(link, dict) else ""))
    return next((name for name, value in ids if len(str(value or "")) > MAX_ID_LENGTH), "")


def _launch_of(launch_id: str, platform: PlatformInfo, body: dict) -> Launch:
    """The launch a validated token's claims describe; TypeError when a claim is not of the shape LTI gives it (a
    platform's administrator can sign anything)."""
    context, link = _object(body, CLAIM + "context"), _object(body, CLAIM + "resource_link")
    presentation, custom = _object(body, CLAIM + "launch_presentation"), _object(body, CLAIM + "custom")
    nrps, ags, deep = _object(body, NRPS_CLAIM), _object(body, AGS_CLAIM), _object(body, DEEP_LINKING_CLAIM)
    roles, scopes = body.get(CLAIM + "roles") or [], ags.get("scope") or []
    if not isinstance(roles, list) or not isinstance(scopes, list):
        raise TypeError("its roles or its gradebook's scopes are not a list")
    name = body.get("name") or " ".join(p for p in (body.get("given_name"), body.get("family_name")) if p)
    return Launch(
        launch_id=launch_id, platform=platform,
        deployment_id=str(body.get(CLAIM + "deployment_id", "")), message_type=str(body.get(CLAIM + "message_type")),
        subject=str(body.get("sub") or ""), email=escape_controls(str(body.get("email") or "").strip()),
        name=escape_controls(str(name or "").strip()),
        roles=tuple(str(r) for r in roles),
        context_id=str(context.get("id") or ""),
        context_title=escape_controls(str(context.get("title") or context.get("label") or "")),
        resource_link_id=str(link.get("id") or ""), resource_link_title=str(link.get("title") or ""),
        custom=custom, target_link_uri=str(body.get(CLAIM + "target_link_uri") or ""),
        document_target=str(presentation.get("document_target") or "window"),
        memberships_url=_address(nrps.get("context_memberships_url")), lineitems_url=_address(ags.get("lineitems")),
        lineitem_url=_address(ags.get("lineitem")), ags_scopes=tuple(str(scope) for scope in scopes),
        deep_link_return_url=_address(deep.get("deep_link_return_url")),
    )


def _object(body: dict, claim: str) -> dict:
    value = body.get(claim)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"its claim {claim.rsplit('/', 1)[-1]} is not an object")
    return value


def _address(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError("a service address in it is not text")
    return value


# --- pylti1p3's seams -----------------------------------------------------------------------------------------------


class _Request(Request):
    def __init__(self, params: t.Mapping[str, str], secure: bool):
        self._params = params
        self._secure = secure

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str:
        return self._params.get(key) or ""


class _Cookies:
    """pylti1p3's cookie service: reads the request's cookies, and collects those to set for the view to send."""

    prefix = "lti1p3-"

    def __init__(self, cookies: t.Mapping[str, str]):
        self._cookies = cookies
        self.to_set: list[tuple[str, str, int]] = []

    def get_cookie(self, name: str) -> str | None:
        return self._cookies.get(self.prefix + name)

    def set_cookie(self, name: str, value, exp: int | None = 3600) -> None:
        self.to_set.append((self.prefix + name, str(value), exp or STATE_COOKIE_SECONDS))


SESSION_COOKIE = "session-id"  # pylti1p3's browser session cookie (lti1p3-session-id), which a nonce is kept under


class _Storage(LaunchDataStorage):
    """pylti1p3's launch data storage over the caller's `LaunchStore`. A nonce is kept under the browser's session
    id (the cookie lti1p3-session-id, random, set by the login initiation and sent nowhere but to Podium), so that
    only the browser that started a launch can finish it. The state cookie cannot do that: its value is the state,
    which the platform's form carries beside the id_token, so whoever has the form can make the cookie. Launch data
    (kept by its random launch id, which the Flask session holds) is not under it."""

    def __init__(self, store: LaunchStore):
        super().__init__()
        self._store = store

    def get_session_cookie_name(self) -> str | None:
        return SESSION_COOKIE

    def can_set_keys_expiration(self) -> bool:
        return True

    def _key(self, key: str) -> str:
        return self._prepare_key(key) if key.startswith("lti1p3-nonce-") else key

    def get_value(self, key: str):
        return self._store.get(self._key(key))

    def set_value(self, key: str, value, exp: int | None = None) -> None:
        self._store.put(self._key(key), value, exp or LAUNCH_SECONDS)

    def check_value(self, key: str) -> bool:
        # pylti1p3 asks this only to check a launch's nonce; taking it makes the nonce good once, which the library
        # alone does not (it leaves the nonce in place).
        return self._store.take(self._key(key))


class _Redirect(Redirect):
    def __init__(self, url: str):
        self.url = url

    def do_redirect(self) -> str:
        return self.url

    def do_js_redirect(self) -> str:
        return self.url

    def set_redirect_url(self, location: str) -> None:
        self.url = location

    def get_redirect_url(self) -> str:
        return self.url


class _Login(OIDCLogin):
    def get_redirect(self, url: str) -> _Redirect:
        return _Redirect(url)


class _Launch(MessageLaunch):
    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def get_client_id(self) -> str:
        return _client_id(self._get_jwt_body())


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _client_id(body: dict) -> str:
    """The client id a token is for, or "" (no registration has it) when its audience does not name one party
    (LTI Security Framework 5.1.3): a token for several audiences is Podium's only when its authorized party (azp)
    is one of them, and then it is for that one; an azp, when given, must be the audience. pylti1p3 takes the first
    audience whatever the others and azp say, so a token another tool is the authorized party of would pass."""
    aud, azp = body.get("aud"), body.get("azp")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not audiences or not all(isinstance(a, str) and a for a in audiences):
        return ""
    if azp is None:
        return audiences[0] if len(audiences) == 1 else ""
    return azp if isinstance(azp, str) and azp in audiences else ""


class AnswerTooLarge(requests.RequestException):
    """A platform's answer larger than MAX_RESPONSE_BYTES: not read further."""


class AnswerTooSlow(requests.Timeout):
    """A platform's answer still coming after RESPONSE_SECONDS: not waited for further."""


class NotHttps(requests.RequestException):
    """A request of a platform registered at https addresses to a plain http one: not sent."""


class _TimedSession(requests.Session):
    """Every request to a platform gives up after NETWORK_TIMEOUT_SECONDS without a word (pylti1p3 passes no
    timeout), and every answer (redirects' included) is read only up to MAX_RESPONSE_BYTES and RESPONSE_SECONDS.
    `https_only`: no request (nor redirect) goes to a plain http address."""

    def __init__(self, *, https_only: bool = False):
        super().__init__()
        self.max_redirects = 5
        self.https_only = https_only
        self.hooks["response"].append(_read_bounded)

    def send(self, request, **kwargs):
        # The roster's and gradebook's addresses (and their next pages, a column's address, redirects) are the
        # platform's to say: one registered at https addresses does not send Podium, with its access token, to
        # plain http ones, where the services of Podium's own network listen (a cloud's metadata address).
        if self.https_only and urlsplit(request.url).scheme != "https":
            raise NotHttps(f"{request.url} is not an https address, and the platform is registered at https ones")
        return super().send(request, **kwargs)

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", NETWORK_TIMEOUT_SECONDS)
        kwargs["stream"] = True  # the body is read by _read_bounded, not by requests all at once
        return super().request(*args, **kwargs)


def _read_bounded(response: requests.Response, *args, **kwargs) -> requests.Response:
    """Read the answer's body into it, as requests would, but no more than MAX_RESPONSE_BYTES (decompressed) and
    for no longer than RESPONSE_SECONDS."""
    where = urlsplit(response.url).netloc
    too_large = AnswerTooLarge(f"its answer from {where} is too large (over {MAX_RESPONSE_BYTES // 1_000_000} MB)")
    try:
        announced = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        announced = 0
    try:
        if announced > MAX_RESPONSE_BYTES:
            raise too_large
        deadline, size, chunks = time.monotonic() + RESPONSE_SECONDS, 0, []
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise too_large
            if time.monotonic() > deadline:
                raise AnswerTooSlow(f"its answer from {where} took too long (over {RESPONSE_SECONDS} s)")
            chunks.append(chunk)
        response._content = b"".join(chunks)
    finally:
        response.close()
    return response


class _Connector(ServiceConnector):
    """pylti1p3's service connector with its access tokens kept in memory until shortly before they expire (the
    library leaves the keeping to a web framework's cache, and fails without one), signing with the tool's key as
    loaded once."""

    def __init__(self, registration: Registration, key: ToolKey, clock: t.Callable[[], float]):
        super().__init__(registration, _TimedSession(
            https_only=urlsplit(registration.get_auth_token_url() or "").scheme == "https"))
        self._key, self._clock = key, clock
        self._tokens: dict[str, tuple[str, float]] = {}

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        token, good_until = self._tokens.get(scope_key, ("", 0.0))
        return token if token and self._clock() < good_until else None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        self._tokens[scope_key] = (access_token, self._clock() + float(expires_in or 0) - TOKEN_MARGIN_SECONDS)

    def encode_jwt(self, message: dict, private_key: str, headers: dict) -> str:
        return jwt.encode(message, self._key.private_key, algorithm="RS256", headers=headers)

    def get_paginated_data(self, scopes, url, *args, **kwargs):
        # pylti1p3 follows "next" links for as long as a platform gives them (the gradebook's columns, looked
        # through for one tag): a platform of endless pages would hold the grades' sender for ever.
        first = url
        for _ in range(MAX_PAGES):
            if not url:
                return
            page = self.make_service_request(scopes, url, *args, **kwargs)
            yield page
            url = page["next_page_url"]
        if url:
            raise LtiException(f"its list at {first} has more than {MAX_PAGES} pages; Podium stopped reading it")


class _Conf(ToolConfAbstract):
    """pylti1p3's tool configuration over the caller's lookup of registered platforms; an issuer may have several
    client ids (one registration per developer key)."""

    def __init__(self, tool: Tool):
        self._tool = tool
        self.found: PlatformInfo | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args, **kwargs):
        return None

    def find_registration_by_params(self, iss: str, client_id: str, *args, **kwargs) -> Registration | None:
        platforms = self._tool.lookup(iss)
        if not client_id and len(platforms) == 1:  # a login initiation may leave the client id out
            client_id = platforms[0].client_id
        found = next((p for p in platforms if p.client_id == client_id), None)
        if found is None:
            return None
        self.found = found
        return self._tool.registration(found)

    def find_deployment(self, iss: str, deployment_id: str):
        return None

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args, **kwargs):
        platform = next((p for p in self._tool.lookup(iss) if p.client_id == client_id), None)
        if platform is None or deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


# --- the tool ---------------------------------------------------------------------------------------------------


@dataclass
class LoginAnswer:
    url: str                                   # where the browser goes: the platform's authorization endpoint
    cookies: list[tuple[str, str, int]]        # (name, value, seconds) to set on the way


class Tool:
    """Podium as an LTI tool: one per web app (or command), shared by its threads."""

    def __init__(self, key: ToolKey, lookup: Lookup, store: LaunchStore, *, clock: t.Callable[[], float] = time.time):
        self.key = key
        self.lookup = lookup
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._key_sets: dict[str, tuple[float, dict]] = {}  # by URL: when fetched, and the key set
        self._tried: dict[str, tuple[float, str]] = {}  # by URL: when last fetched, and why it failed ("": it did not)
        self._fetching: dict[str, threading.Lock] = {}  # by URL: held by the one request fetching it

    def registration(self, platform: PlatformInfo) -> Registration:
        registration = (Registration().set_issuer(platform.issuer).set_client_id(platform.client_id)
                        .set_key_set_url(platform.key_set_url).set_auth_token_url(platform.auth_token_url)
                        .set_auth_login_url(platform.auth_login_url)
                        .set_tool_private_key(self.key.private_pem).set_tool_public_key(self.key.public_pem))
        if platform.auth_audience:
            registration.set_auth_audience(platform.auth_audience)
        cached = self._key_sets.get(platform.key_set_url)
        if cached is not None:
            registration.set_key_set(cached[1])
        return registration

    # --- launching --------------------------------------------------------------------------------------------

    def login_redirect(self, params: t.Mapping[str, str], launch_url: str, *, secure: bool,
                       cookies: t.Mapping[str, str] | None = None) -> LoginAnswer:
        """The platform's third-party login initiation answered: the browser is sent to the platform's authorization
        endpoint with a fresh state (also set as a cookie) and nonce (kept in the store under the browser's session
        id, `cookies`' or a new one, set as a cookie for as long as the state's)."""
        request = _Request(params, secure)
        # A session id this browser brings is kept only when it is one Podium could have given (a UUID).
        jar = _Cookies({name: value for name, value in (cookies or {}).items()
                        if name != _Cookies.prefix + SESSION_COOKIE or _is_uuid(value)})
        storage = _Storage(self.store)
        session = SessionService(request)
        session.set_data_storage(storage)
        session.set_launch_data_lifetime(STATE_COOKIE_SECONDS)  # the nonce lives as long as the state cookie
        login = _Login(request, _Conf(self), session_service=session, cookie_service=jar,
                       launch_data_storage=storage)
        try:
            url = login.redirect(launch_url)
        except (OIDCException, LtiException) as exc:
            raise LaunchRefused(_login_refusal(str(exc))) from None
        if not any(name == jar.prefix + SESSION_COOKIE for name, _, _ in jar.to_set):
            # The browser's session id, kept: set again so that it outlives this launch's state.
            jar.to_set.append((jar.prefix + SESSION_COOKIE, storage.get_session_id(), STATE_COOKIE_SECONDS))
        return LoginAnswer(url=url, cookies=jar.to_set)

    def validate(self, params: t.Mapping[str, str], cookies: t.Mapping[str, str], *, secure: bool) -> Launch:
        """The launch the platform's form carries, checked whole; LaunchRefused says which check failed."""
        token = params.get("id_token") or ""
        if len(params.get("state") or "") > MAX_STATE_LENGTH:  # not one Podium gave: kept nowhere
            raise LaunchRefused(_launch_refusal("State not found"))
        self._fresh_keys_for(token)
        request = _Request(params, secure)
        conf = _Conf(self)
        try:
            launch = _Launch(request, conf, session_service=SessionService(request), cookie_service=_Cookies(cookies),
                             launch_data_storage=_Storage(self.store), requests_session=_TimedSession())
            launch.set_launch_data_lifetime(LAUNCH_SECONDS)
            launch.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
            launch.validate()
        except LtiException as exc:
            raise LaunchRefused(_launch_refusal(str(exc))) from None
        except (jwt.PyJWTError, ValueError, KeyError, TypeError, AttributeError):
            # A token whose parts are not what the specification says trips the library somewhere else.
            raise LaunchRefused(_launch_refusal("its token is malformed")) from None
        except requests.RequestException:
            raise PlatformUnreachable("Podium could not fetch your learning platform's keys to check this launch; "
                                      "try again in a minute.") from None
        body = launch.get_launch_data()
        try:
            checked = _launch_of(launch.get_launch_id(), conf.found, dict(body))
        except TypeError as exc:
            raise LaunchRefused(_launch_refusal(f"its token is malformed: {exc}")) from None
        too_long = _too_long(body)
        if too_long:
            raise LaunchRefused(_launch_refusal(f"its {too_long} is longer than {MAX_ID_LENGTH} characters, which the "
                                                "LTI specification does not allow"))
        if not body.get("sub"):
            raise LaunchRefused("This launch names nobody (an anonymous launch): Podium needs to know who you are. "
                                "Ask your instructor to set the tool's privacy level to share your identity.")
        return checked

    def restored(self, launch_id: str) -> Launch:
        """A launch validated earlier, to continue it (choosing a course, answering a deep-linking request)."""
        body = self.store.get(launch_id) if launch_id.startswith("lti1p3-launch-") else None
        platforms = self.lookup(str(body.get("iss"))) if isinstance(body, dict) else []
        client_id = _client_id(body) if isinstance(body, dict) else ""
        platform = next((p for p in platforms if p.client_id == client_id), None)
        if platform is None:
            raise LaunchRefused("This launch has expired or was never made here: open Podium again from your "
                                "course in the learning platform.")
        return _launch_of(launch_id, platform, body)

    def _fresh_keys_for(self, token: str) -> None:
        """Have the key set of the platform that (unverified) issued `token` at hand, fetched again when the token
        names a key not in it: a platform rotates its keys. Anyone can post a token naming a registered platform,
        so the key set is fetched by one request at a time (the others wait for what it gets) and at most every
        KEY_SET_REFETCH_SECONDS, whether that worked or not: neither made-up key ids nor a slow or failing key set
        make Podium fetch for each launch."""
        try:
            header = jwt.get_unverified_header(token)
            body = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return  # pylti1p3 refuses it with its own words
        client_id = _client_id(body)
        platform = next((p for p in self.lookup(str(body.get("iss"))) if p.client_id == client_id), None)
        if platform is None:
            return
        url = platform.key_set_url
        with self._lock:
            fetching = self._fetching.setdefault(url, threading.Lock())
        with fetching:
            now = self.clock()
            with self._lock:
                cached, tried = self._key_sets.get(url), self._tried.get(url)
            known = cached is not None and any(k.get("kid") == header.get("kid") for k in cached[1]["keys"])
            if cached is not None and known and now - cached[0] <= KEY_SET_SECONDS:
                return
            if tried is not None and now - tried[0] <= KEY_SET_REFETCH_SECONDS:
                if cached is None:
                    raise PlatformUnreachable(tried[1])
                return  # what was fetched last is all there is for now
            try:
                key_set = _fetch_key_set(url)
            except PlatformUnreachable as exc:
                with self._lock:
                    self._tried[url] = (now, exc.message)
                raise
            with self._lock:
                self._key_sets[url], self._tried[url] = (now, key_set), (now, "")

    def deep_link_answer(self, launch: Launch, items: list[DeepLinkItem]) -> tuple[str, str]:
        """The signed LtiDeepLinkingResponse for the items chosen, and the platform's address it goes to."""
        from pylti1p3.deep_link import DeepLink

        if not launch.is_deep_linking or not launch.deep_link_return_url:
            raise LaunchRefused("This launch did not ask for content to add; open Podium from the learning "
                                "platform's \"add content\" page.")
        back = urlsplit(str(launch.deep_link_return_url))
        if back.scheme not in ("http", "https") or not back.netloc:
            # The page posts the answer there: a javascript: address would run in Podium's pages.
            raise LaunchRefused("The learning platform asked for the chosen content to go back to an address that is "
                                "not a web address; tell the platform's administrator.")
        body = self.store.get(launch.launch_id) or {}
        settings = body.get(DEEP_LINKING_CLAIM) or {}
        deep = DeepLink(self.registration(launch.platform), launch.deployment_id, settings)
        resources = [_resource(item) for item in items]
        return launch.deep_link_return_url, deep.get_response_jwt(resources)

    def client(self, platform: PlatformInfo) -> PlatformClient:
        return PlatformClient(self, platform)


@dataclass(frozen=True)
class DeepLinkItem:
    title: str
    url: str
    custom: dict = field(default_factory=dict)
    text: str = ""
    line_item: dict | None = None  # {"label", "scoreMaximum", "resourceId", "tag"}: the LMS makes its column


def _resource(item: DeepLinkItem) -> DeepLinkResource:
    resource = DeepLinkResource().set_title(item.title).set_url(item.url).set_custom_params(item.custom)
    if item.line_item:
        line = LineItem().set_label(item.line_item["label"]).set_score_maximum(item.line_item["scoreMaximum"])
        line.set_resource_id(item.line_item.get("resourceId", "")).set_tag(item.line_item.get("tag", ""))
        resource.set_lineitem(line)
    return resource


def _fetch_key_set(url: str) -> dict:
    try:
        response = _TimedSession().get(url)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError):
        raise PlatformUnreachable(f"Podium could not fetch your learning platform's keys ({url}); try again in a "
                                  "minute, or tell your instructor if it keeps failing.") from None
    if not (isinstance(data, dict) and isinstance(data.get("keys"), list)
            and all(isinstance(key, dict) for key in data["keys"])):
        raise PlatformUnreachable(f"What your learning platform publishes as its keys ({url}) is not a key set (a "
                                  "JSON object whose \"keys\" are a list of keys); tell your instructor.")
    return data


def _login_refusal(detail: str) -> str:
    return (f"Podium cannot start this launch ({detail.rstrip('.')}). The learning platform that sent you is not "
            "registered with this Podium, or sent an incomplete request: tell your instructor, who can check the "
            "registration with `podium lti platforms`.")


def _launch_refusal(detail: str) -> str:
    detail = detail.rstrip(".")
    if "State not found" in detail or "Missing state" in detail or "Missing cookie" in detail:
        detail = ("the browser that finished the launch is not the one that started it, or it took longer than "
                  f"{STATE_COOKIE_SECONDS // 60} minutes")
    elif "Nonce" in detail:
        detail = "this launch was used already"
    elif "Registration not found" in detail or "Client id not registered" in detail:
        detail = "it was meant for another tool, or came from a platform not registered here"
    elif "expired" in detail.lower():
        detail = "it expired (a launch is good for a few minutes only)"
    elif "Signature verification failed" in detail or "Unable to find public key" in detail:
        detail = "its signature does not match the keys the platform publishes"
    elif "Must have a user" in detail:
        detail = ("it names nobody (an anonymous launch), and Podium needs to know who you are: ask your instructor "
                  "to set the tool's privacy level to share your identity")
    elif "deployment" in detail.lower():
        detail = "it came from a deployment of Podium that is not registered here"
    return (f"Podium did not accept this launch: {detail}. Open Podium again from your course in the learning "
            "platform; if it keeps failing, tell your instructor.")


# --- the platform's services --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One person of the LMS course's roster (NRPS)."""

    subject: str
    email: str
    name: str
    roles: tuple[str, ...]
    active: bool

    @property
    def role(self) -> Role | None:
        return course_role(self.roles)


class PlatformClient:
    """Requests to one platform's services, each with an access token for the scopes it needs (kept until it
    expires), none with a database transaction open."""

    def __init__(self, tool: Tool, platform: PlatformInfo):
        self.platform = platform
        self._connector = _Connector(tool.registration(platform), tool.key, tool.clock)

    def members(self, memberships_url: str) -> list[Member]:
        service = NamesRolesProvisioningService(self._connector, {"context_memberships_url": memberships_url,
                                                                  "service_versions": ["2.0"]})
        members: list[Member] = []
        url: str | None = memberships_url
        for _ in range(MAX_PAGES):
            page, url = self._call(lambda page_url=url: service.get_members_page(page_url), "the course roster")
            if not isinstance(page, list):
                raise ServiceRefused(f"{self.platform.name} answered about the course roster with something Podium "
                                     "cannot read (its members are not a list).")
            members.extend(_member(m) for m in page if isinstance(m, dict) and m.get("user_id"))
            if len(members) > MAX_ROSTER_MEMBERS:
                break
            if not url:
                return members
        raise ServiceRefused(f"The course roster at {memberships_url} has more than {MAX_PAGES} pages or "
                             f"{MAX_ROSTER_MEMBERS} people; Podium stopped reading it.")

    def line_item(self, lineitems_url: str, scopes: t.Sequence[str], *, tag: str, label: str, resource_id: str,
                  maximum: float) -> str:
        """The URL of the gradebook column tagged `tag`, made when there is none."""
        service = AssignmentsGradesService(self._connector, {"scope": list(scopes), "lineitems": lineitems_url})
        wanted = LineItem().set_tag(tag).set_label(label).set_resource_id(resource_id).set_score_maximum(maximum)
        found = self._call(lambda: service.find_or_create_lineitem(wanted, find_by="tag"), "the gradebook")
        if not isinstance(found.get_id(), str) or not found.get_id():
            raise ServiceRefused(f"{self.platform.name}'s gradebook at {lineitems_url} answered without the "
                                 "column's address.")
        return found.get_id()

    def post_score(self, lineitem_url: str, scopes: t.Sequence[str], *, subject: str, score: float,
                   maximum: float, comment: str, at: datetime) -> None:
        service = AssignmentsGradesService(self._connector, {"scope": list(scopes), "lineitem": lineitem_url})
        grade = (Grade().set_user_id(subject).set_score_given(score).set_score_maximum(maximum)
                 .set_activity_progress("Completed").set_grading_progress("FullyGraded").set_comment(comment)
                 .set_timestamp(at.astimezone(timezone.utc).isoformat(timespec="milliseconds")))
        self._call(lambda: service.put_grade(grade), "the gradebook")

    def _call(self, request: t.Callable[[], t.Any], what: str):
        try:
            return request()
        except LtiServiceException as exc:
            raise _service_error(exc, what, self.platform.name) from None
        except AnswerTooLarge as exc:
            raise ServiceRefused(f"{self.platform.name} answered about {what}, but {exc}.") from None
        except NotHttps as exc:
            raise ServiceRefused(f"{self.platform.name} sent Podium elsewhere about {what}: {exc}.") from None
        except AnswerTooSlow as exc:
            raise PlatformUnreachable(f"{self.platform.name} answered about {what}, but {exc}.") from None
        except requests.RequestException as exc:
            raise PlatformUnreachable(f"{self.platform.name} did not answer about {what} "
                                      f"({type(exc).__name__}).") from None
        except (LtiException, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ServiceRefused(f"{self.platform.name} answered about {what} with something Podium cannot read "
                                 f"({exc}).") from None


def _member(data: dict) -> Member:
    # Names and addresses are the LMS's (typed by anyone it lets): printed to terminals and kept, so without
    # control characters. The subject is an id, compared exactly, and written out only where it is printed.
    name = data.get("name") or " ".join(p for p in (data.get("given_name"), data.get("family_name")) if p)
    return Member(subject=str(data["user_id"]), email=escape_controls(str(data.get("email") or "").strip()),
                  name=escape_controls(str(name or "")),
                  roles=tuple(str(r) for r in data.get("roles") or ()),
                  active=str(data.get("status") or "Active") == "Active")


def _service_error(exc: LtiServiceException, what: str, platform: str) -> PodiumError:
    response = exc.response if isinstance(getattr(exc, "response", None), requests.Response) else None
    status = response.status_code if response is not None else 0
    said = _said(response)
    if status in (408, 429) or status >= 500 or status == 0:
        return PlatformUnreachable(f"{platform} could not answer about {what} now (HTTP {status}{said}).")
    return ServiceRefused(f"{platform} refused the request about {what} (HTTP {status}{said}).")


def _said(response: requests.Response | None) -> str:
    if response is None:
        return ""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return f": {escape_controls(text[:200])}" if text else ""
    if isinstance(data, dict):
        message = data.get("error_description") or data.get("message") or data.get("error") or json.dumps(data)
        return f": {escape_controls(str(message)[:200])}"  # the platform's words, printed to terminals too
    return ""
