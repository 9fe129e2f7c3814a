"""A small LTI 1.3 Advantage platform (a test LMS) on a real HTTP server, for the tests of Podium as an LTI tool.

`TestPlatform` is the other side of Podium's LTI integration, written from the IMS specifications (LTI Core 1.3,
Security Framework 1.0, Names and Role Provisioning Services 2.0, Assignment and Grade Services 2.0, Deep Linking
2.0) on the platform-side library lti1p3platform, and on purpose with nothing of the tool's side (pylti1p3): a
misreading of a specification on one side is then not mirrored on the other. At its issuer, http://127.0.0.1:<port>,
it serves:

    GET  /jwks                          its public key set
    GET|POST /auth                      the OIDC authorization endpoint: a page that posts a signed id_token to the
                                        tool, or an HTTP 400 page naming the check that failed
    POST /token                         OAuth 2 client credentials with a JWT client assertion, for the services
    GET  /nrps/<context>                NRPS 2.0 membership container
         /ags/<context>/lineitems...    AGS 2.0 line items, scores and results
    POST /deep-link-return              where the tool posts its deep linking response
    GET  /, /course/<context>           browser pages: pick who you are, then a course's links to the tool

It knows one tool, registered as client_id "podium-tool" with deployment "deployment-1", at `tool_url`:
`{tool_url}/lti/login` (third-party login initiation), `{tool_url}/lti/launch` (its only redirect URI, also its
deep linking launch URL) and `{tool_url}/lti/jwks.json` (its key set, fetched when first needed and again when a
token names a kid the platform has not seen).

Tests get it from tests/lti/conftest.py: one platform per session, handed to each test as `platform` after a reset
(no contexts, no tool URL, nothing received). A test sets a course up, points the platform at the tool and plays
the browser:

    platform.tool_url = tool_url
    platform.add_context("c1", "Deep Learning", label="11-785")
    platform.add_member("c1", "u-stu", email="stu@uni.test", name="Stu Dent", roles=[LEARNER])
    link = platform.add_resource_link("c1", "rl-1", "HW1", line_item={"scoreMaximum": 100})
    login = platform.login_initiation_url("c1", "u-stu", link_id="rl-1")
    # GET `login` at the tool, which redirects the browser to platform.auth_url?...
    action, fields = platform.answer(location)        # answer(location, lifetime=-60): an expired id_token
    # POST `fields` to `action` at the tool
    platform.scores(link.line_item)                    # the scores the tool sent for that line item

Where lti1p3platform falls short of the specifications the platform does it itself, each place saying so; in short:
its launch page has no button for a browser without scripts and escapes nothing; its preflight check demands a
state (only RECOMMENDED) and checks none of scope, response_type, response_mode, prompt or the hints; it caches a
tool's key set for ever; it decodes the tool's JWTs without checking their audience, issuer or jti; and its service
connectors (AssignmentsGradesService, NamesRoleProvisioningService) let a token with any of a service's scopes do
every operation, raise on a bad token instead of answering 401, put paging links in the body (and fail on the
second page), and validate neither line items nor scores, so the service endpoints are written here.
"""
from __future__ import annotations

import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from html import escape
from html.parser import HTMLParser
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request
from lti1p3platform.exceptions import LtiDeepLinkingResponseException, LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context as NrpsContext
from lti1p3platform.membership import ContextMembership, Status
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.score import ActivityProgress, GradeProgress
from lti1p3platform.utils import dataclass_to_dict
from werkzeug.serving import make_server

# --- roles (LTI Core 1.3, appendix A.2) ----------------------------------------------------------------------

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{MEMBERSHIP}#Learner"
INSTRUCTOR = f"{MEMBERSHIP}#Instructor"
TEACHING_ASSISTANT = f"{MEMBERSHIP}/Instructor#TeachingAssistant"
CONTENT_DEVELOPER = f"{MEMBERSHIP}#ContentDeveloper"
MENTOR = f"{MEMBERSHIP}#Mentor"
CONTEXT_ADMINISTRATOR = f"{MEMBERSHIP}#Administrator"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person"
ADMINISTRATOR = f"{INSTITUTION}#Administrator"
STUDENT = f"{INSTITUTION}#Student"
FACULTY = f"{INSTITUTION}#Faculty"
STAFF = f"{INSTITUTION}#Staff"
SYSTEM_ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"

# --- the registration and the specifications' names ----------------------------------------------------------

CLIENT_ID = "podium-tool"
DEPLOYMENT_ID = "deployment-1"
ID_TOKEN_LIFETIME = 5 * 60

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
VERSION, DEPLOYMENT = f"{CLAIM}version", f"{CLAIM}deployment_id"
TOOL_PLATFORM = f"{CLAIM}tool_platform"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DL_SETTINGS, DL_DATA = f"{DL_CLAIM}deep_linking_settings", f"{DL_CLAIM}data"
DL_MESSAGES = (f"{DL_CLAIM}msg", f"{DL_CLAIM}errormsg")
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM_SCOPE, LINEITEM_READ_SCOPE = f"{AGS_SCOPE}lineitem", f"{AGS_SCOPE}lineitem.readonly"
RESULT_SCOPE, SCORE_SCOPE = f"{AGS_SCOPE}result.readonly", f"{AGS_SCOPE}score"
GRANTED_SCOPES = (NRPS_SCOPE, LINEITEM_SCOPE, RESULT_SCOPE, SCORE_SCOPE)
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

NRPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
RESULTS_MEDIA = "application/vnd.ims.lis.v2.resultcontainer+json"

USER_COOKIE = "lti_platform_user"  # who is signed in at the platform (its browser pages, and answer())


# --- what the platform holds -----------------------------------------------------------------------------------


@dataclass
class Member:
    sub: str
    roles: list[str]
    status: str = "Active"
    email: str | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None


@dataclass
class ResourceLink:
    id: str
    title: str
    custom: dict[str, str] = field(default_factory=dict)
    line_item: str | None = None  # the URL of the link's line item
    url: str | None = None  # its target_link_uri when not the tool's launch URL (a deep-linked item's url)


@dataclass
class LineItem:
    id: str  # its URL
    fields: dict[str, Any]  # label, scoreMaximum, resourceLinkId, resourceId, tag, ...
    scores: list[dict] = field(default_factory=list)  # the scores accepted, in order

    def as_json(self) -> dict:
        return {"id": self.id, **self.fields}


@dataclass
class Context:
    id: str
    title: str
    label: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    links: dict[str, ResourceLink] = field(default_factory=dict)
    line_items: dict[str, LineItem] = field(default_factory=dict)  # by URL
    deep_link_items: list[dict] = field(default_factory=list)  # content items received, as received


@dataclass(frozen=True)
class Tamper:
    """How to spoil the id_token of one answer (`TestPlatform.answer`); the defaults spoil nothing."""
    key: str = "platform"  # "stranger": signed with the unpublished key, under the platform's kid
    audience: str | None = None  # aud
    deployment_id: str | None = None
    lifetime: int | None = None  # exp - iat in seconds; negative: expired already
    issued_at: int = 0  # seconds added to iat (exp is left alone unless lifetime is given)
    claims: dict | None = None  # claims added or replaced
    drop: tuple[str, ...] = ()  # claims removed
    nonce: str | None = None


class Served(NamedTuple):
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _LaunchHint:
    """What an lti_message_hint stands for: the launch a user started at the platform."""
    context_id: str
    sub: str
    link_id: str | None
    deep_link: bool
    document_target: str
    deployment_id: str


@dataclass
class _State:
    """Everything a test can change or cause, dropped at each reset."""
    contexts: dict[str, Context] = field(default_factory=dict)
    hints: dict[str, _LaunchHint] = field(default_factory=dict)  # by lti_message_hint
    deep_links: dict[str, _LaunchHint] = field(default_factory=dict)  # open deep linking requests, by their data
    tampers: dict[str, Tamper] = field(default_factory=dict)  # by the nonce of the authentication request
    used_jtis: set[str] = field(default_factory=set)
    used_nonces: set[str] = field(default_factory=set)
    served: list[Served] = field(default_factory=list)
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))


class LaunchRefused(AssertionError):
    """The platform's /auth refused the tool's authentication request (`TestPlatform.answer`)."""

    def __init__(self, status: int, page: str):
        super().__init__(f"/auth answered {status}: {page}")
        self.status, self.page = status, page


class _ServiceError(Exception):
    """An error of a service or token endpoint, answered as JSON {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str, headers: dict | None = None):
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers or {}


class _PageError(Exception):
    """An error of a browser-facing endpoint, answered as a small HTML page saying what went wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# --- lti1p3platform, fitted to this platform -------------------------------------------------------------------


class _FlaskRequest(Request):
    def build_metadata(self, flask_request):
        return {"method": flask_request.method, "form_data": flask_request.form.to_dict(),
                "get_data": flask_request.args.to_dict(), "headers": flask_request.headers,
                "content_type": flask_request.content_type, "path": flask_request.path,
                "json": flask_request.get_json(silent=True)}


class _Config(LTI1P3PlatformConfAbstract):
    """The library's view of the platform and its one tool. One per request: the library keeps the JWT it is
    checking on this object, so a shared one would mix up concurrent requests."""

    def init_platform_config(self, platform: TestPlatform, deployment_id: str = DEPLOYMENT_ID) -> None:
        self.platform, self.deployment_id = platform, deployment_id
        self.get_registration()

    def get_registration_by_params(self, **kwargs) -> Registration:
        platform = self.platform
        registration = (Registration().set_iss(platform.issuer).set_client_id(CLIENT_ID)
                        .set_deployment_id(self.deployment_id)
                        .set_platform_public_key(platform.public_key).set_platform_private_key(platform.private_key))
        if platform.tool_url:
            launch = platform.launch_url
            registration.set_launch_url(launch).set_deeplink_launch_url(launch)
            registration.set_oidc_login_url(platform.login_url).set_tool_key_set_url(platform.tool_jwks_url)
        if platform.tool_keys:
            registration.set_tool_key_set(platform.tool_keys)
        return registration

    def fetch_public_key(self, key_set_url: str):
        self.platform.tool_keys = super().fetch_public_key(key_set_url)
        return self.platform.tool_keys

    def get_tool_public_key(self) -> bytes:
        if not self.platform.tool_url:
            raise LtiException("the platform does not know the tool's address: set platform.tool_url")
        # The library fetches the key set once and keeps it for ever; a tool that rotates its keys signs with a kid
        # it has not seen, so the set is fetched again then.
        kid = (self._jwt.get("header") or {}).get("kid")
        if kid and kid not in {key.get("kid") for key in self.get_tool_key_set().get("keys", [])}:
            self._registration.set_tool_key_set(self.fetch_public_key(self.platform.tool_jwks_url))
        return super().get_tool_public_key()

    def tool_claims(self, token: str, *, audience: list[str] | str, require: list[str]) -> dict:
        """The claims of a JWT the tool signed, checked as the library does not: signature against the tool's key
        set, iss = client_id, aud, exp, iat and the claims `require` names."""
        self.validate_jwt_format(token)
        return jwt.decode(token, self.get_tool_public_key(), algorithms=["RS256"], audience=audience,
                          issuer=CLIENT_ID, options={"require": ["iss", "aud", "exp", "iat", *require]})


class _Login(OIDCLoginAbstract):
    """The library's third-party login initiation: the URL the LMS page opens at the tool."""

    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    """The library's launch, answering one authentication request with a form that posts the id_token."""

    def __init__(self, flask_request, config: _Config, tamper: Tamper):
        super().__init__(_FlaskRequest(flask_request), config)
        self.platform, self.tamper = config.platform, tamper

    def validate_preflight_response(self, preflight_response: dict) -> None:
        # Checked before the launch is built (TestPlatform._auth_problem), to the Security Framework: the library
        # asks for a state, which is only RECOMMENDED there, and checks none of the rest.
        self._redirect_url = preflight_response["redirect_uri"]

    def offer_deep_linking(self, return_url: str, data: str) -> None:
        self.set_dl(return_url, accept_types={"ltiResourceLink"}, extra_data=data)
        # The library offers "embed" too, which this platform cannot show, and sends an empty title and text.
        settings = self._deep_linking_launch_data[DL_SETTINGS]
        settings["accept_presentation_document_targets"] = ["iframe", "window"]
        del settings["title"], settings["text"]

    def generate_launch_request(self):
        launch = super().generate_launch_request()
        if self.tamper != Tamper():
            launch["id_token"] = self.platform.tampered(launch["id_token"], self.tamper)
        return launch

    def render_launch_form(self, launch_data: dict, **kwargs) -> Response:
        # The library's template escapes nothing and shows nothing without scripts; this page does both.
        fields = "".join(f'<input type="hidden" name="{name}" value="{escape(launch_data[name])}">'
                         for name in ("id_token", "state") if launch_data.get(name))
        page = (f'<form id="launch" method="post" action="{escape(launch_data["launch_url"])}">{fields}'
                '<p>Opening the tool.</p><button type="submit">Continue to the tool</button></form>'
                '<script>document.getElementById("launch").submit();</script>')
        return Response(_html("Launching the tool", page), content_type="text/html; charset=utf-8")


# --- the platform ------------------------------------------------------------------------------------------------


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class TestPlatform:
    """The test LMS: its identity, the data a test sets up, and what the tool sent it. See the module docstring."""
    __test__ = False  # not a pytest test class

    def __init__(self, tool_url: str | None = None):
        self.client_id, self.deployment_id = CLIENT_ID, DEPLOYMENT_ID
        # PEM texts: the platform's key pair, and the stranger's private key, which /jwks does not publish.
        key, stranger = _new_key(), _new_key()
        self.private_key, self.stranger_key = _private_pem(key), _private_pem(stranger)
        self.public_key = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.kid = Registration.get_jwk(self.public_key)["kid"]
        self.issuer = ""
        self._lock = threading.RLock()
        self._server = self._thread = None
        self._initial_tool_url = tool_url
        self.reset()

    # --- running -------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = make_server("127.0.0.1", 0, _make_app(self), threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="lti-test-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every context, member, link, line item, score, launch, tamper and logged request, and the tool
        (its URL and its keys); the keys and the server stay."""
        with self._lock:
            self._state = _State()
            self.deployment_ids = {DEPLOYMENT_ID}
            self.tool_url = self._initial_tool_url

    # --- addresses -----------------------------------------------------------------------------------------

    @property
    def tool_url(self) -> str | None:
        return self._tool_url

    @tool_url.setter
    def tool_url(self, url: str | None) -> None:
        self._tool_url = url.rstrip("/") if url else None
        self.tool_keys = None  # another tool, or the same one restarted: its keys are fetched afresh

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    @property
    def auth_url(self) -> str:
        return self.url("/auth")

    @property
    def token_url(self) -> str:
        return self.url("/token")

    @property
    def jwks_url(self) -> str:
        return self.url("/jwks")

    @property
    def login_url(self) -> str:
        return f"{self.tool_url}/lti/login"

    @property
    def launch_url(self) -> str:
        return f"{self.tool_url}/lti/launch"

    @property
    def tool_jwks_url(self) -> str:
        return f"{self.tool_url}/lti/jwks.json"

    @property
    def redirect_uris(self) -> set[str]:
        return {self.launch_url} if self.tool_url else set()

    def jwks(self) -> dict:
        return {"keys": [Registration.get_jwk(self.public_key)]}

    # --- setting a course up -------------------------------------------------------------------------------

    def add_context(self, context_id: str, title: str, label: str = "") -> Context:
        if not context_id or any(c in context_id for c in "/?#%"):
            raise ValueError(f"context id {context_id!r}: it goes in URL paths, use letters, digits, '-' or '_'")
        with self._lock:
            context = self._state.contexts[context_id] = Context(context_id, title, label)
            return context

    def add_member(self, context_id: str, sub: str, *, email: str | None = None, name: str | None = None,
                   given_name: str | None = None, family_name: str | None = None,
                   roles: list[str] | tuple[str, ...] = (LEARNER,), status: str = "Active") -> Member:
        member = Member(sub, list(roles), _status(status), email, name, given_name, family_name)
        with self._lock:
            self.context(context_id).members[sub] = member
        return member

    def set_status(self, context_id: str, sub: str, status: str) -> None:
        with self._lock:
            self._member(context_id, sub).status = _status(status)

    def remove_member(self, context_id: str, sub: str) -> None:
        with self._lock:
            self._member(context_id, sub)
            del self.context(context_id).members[sub]

    def add_resource_link(self, context_id: str, link_id: str, title: str, *, custom: dict | None = None,
                          line_item: dict | None = None) -> ResourceLink:
        """A link to the tool in the context; `line_item` (fields of a line item, e.g. {"scoreMaximum": 100}, label
        defaulting to the title) gives it a line item, whose URL the launches' AGS claim names."""
        fields = None if line_item is None else {"label": title, **line_item}
        with self._lock:
            context = self.context(context_id)
            if fields is not None:
                _check_line_item(context, {**fields, "resourceLinkId": None})
            link = context.links[link_id] = ResourceLink(link_id, title, dict(custom or {}))
            if fields is not None:
                link.line_item = self._create_line_item(context, {**fields, "resourceLinkId": link_id}).id
            return link

    def add_line_item(self, context_id: str, **fields) -> str:
        """A line item made at the platform (as an instructor would), checked like the tool's; its URL."""
        with self._lock:
            context = self.context(context_id)
            _check_line_item(context, fields)
            return self._create_line_item(context, fields).id

    def context(self, context_id: str) -> Context:
        try:
            return self._state.contexts[context_id]
        except KeyError:
            raise KeyError(f"no context {context_id!r} at the platform (add_context first)") from None

    def _member(self, context_id: str, sub: str) -> Member:
        try:
            return self.context(context_id).members[sub]
        except KeyError:
            raise KeyError(f"{sub!r} is not a member of {context_id!r}") from None

    # --- launching -----------------------------------------------------------------------------------------

    def login_initiation_url(self, context_id: str, sub: str, *, link_id: str | None = None, deep_link: bool = False,
                             document_target: str = "window", deployment_id: str | None = None) -> str:
        """The tool's login initiation URL the LMS page opens for `sub`: a launch of the resource link `link_id`, or
        with `deep_link` a deep linking request; `deployment_id` one of `deployment_ids` (default deployment_id)."""
        deployment_id = deployment_id or self.deployment_id
        if deployment_id not in self.deployment_ids:
            raise ValueError(f"deployment {deployment_id!r} is not one of platform.deployment_ids")
        if not self.tool_url:
            raise ValueError("the platform does not know the tool's address: set platform.tool_url")
        if document_target not in ("window", "iframe"):
            raise ValueError("document_target is 'window' or 'iframe'")
        with self._lock:
            self._member(context_id, sub)
            link = None if deep_link else self._link(context_id, link_id)
            hint = secrets.token_urlsafe(16)
            self._state.hints[hint] = _LaunchHint(context_id, sub, link_id, deep_link, document_target, deployment_id)
        login = _Login(None, _Config(platform=self, deployment_id=deployment_id))
        login.set_lti_message_hint(hint=hint)
        if deep_link:
            login.set_deeplinking_launch_url()
        elif link.url:
            login.set_launch_url(link.url)
        return login.initiate_login(sub)

    def _link(self, context_id: str, link_id: str | None) -> ResourceLink:
        if link_id is None:
            raise ValueError("a resource link launch needs link_id (or deep_link=True)")
        try:
            return self.context(context_id).links[link_id]
        except KeyError:
            raise KeyError(f"no resource link {link_id!r} in {context_id!r}") from None

    def answer(self, auth_request_url: str, **tamper) -> tuple[str, dict[str, str]]:
        """Answer the tool's authentication request (the URL its login initiation redirected to) over HTTP, as the
        user signed in at the platform: the form's action and fields, which the browser would post to the tool.
        Raises LaunchRefused with the platform's page when /auth refuses. `tamper` (the fields of Tamper) spoils
        the id_token of this answer only."""
        if not auth_request_url.startswith(self.auth_url + "?"):
            raise ValueError(f"not an authentication request to this platform: {auth_request_url}")
        query = {name: values[0] for name, values in parse_qs(urlsplit(auth_request_url).query).items()}
        spoil = Tamper(**{name: tuple(v) if name == "drop" else v for name, v in tamper.items()})
        if spoil.key not in ("platform", "stranger"):
            raise ValueError("key is 'platform' or 'stranger'")
        with self._lock:
            if spoil != Tamper():
                self._state.tampers[query.get("nonce", "")] = spoil
            hint = self._state.hints.get(query.get("lti_message_hint", ""))
        cookies = {USER_COOKIE: hint.sub} if hint else {}
        response = requests.get(auth_request_url, cookies=cookies, timeout=10)
        if response.status_code != 200:
            raise LaunchRefused(response.status_code, response.text)
        return _read_form(response.text)

    def tampered(self, id_token: str, tamper: Tamper) -> str:
        """The id_token spoilt as `tamper` says, signed again (with the stranger key if it says so)."""
        claims = jwt.decode(id_token, options={"verify_signature": False})
        if tamper.audience is not None:
            claims["aud"] = tamper.audience
        if tamper.deployment_id is not None:
            claims[DEPLOYMENT] = tamper.deployment_id
        if tamper.nonce is not None:
            claims["nonce"] = tamper.nonce
        claims["iat"] += tamper.issued_at
        if tamper.lifetime is not None:
            claims["exp"] = claims["iat"] + tamper.lifetime
        claims.update(tamper.claims or {})
        for name in tamper.drop:
            claims.pop(name, None)
        key = self.stranger_key if tamper.key == "stranger" else self.private_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    # --- what the tool sent --------------------------------------------------------------------------------

    def lineitems(self, context_id: str) -> list[dict]:
        with self._lock:
            return [item.as_json() for item in self.context(context_id).line_items.values()]

    def scores(self, line_item: str | int) -> list[dict]:
        """The scores accepted for a line item (its URL, or the number ending it), in the order they came."""
        with self._lock:
            return [dict(score) for score in self._line_item(line_item).scores]

    def results(self, line_item: str | int) -> list[dict]:
        """The line item's results, as its results service gives them."""
        with self._lock:
            return _results(self._line_item(line_item))

    def deep_link_items(self, context_id: str) -> list[dict]:
        with self._lock:
            return list(self.context(context_id).deep_link_items)

    @property
    def requests(self) -> list[Served]:
        """(method, path, status) of every request the platform served since the last reset, in order."""
        with self._lock:
            return list(self._state.served)

    def _line_item(self, ref: str | int) -> LineItem:
        for context in self._state.contexts.values():
            for url, item in context.line_items.items():
                if ref == url or str(ref) == url.rsplit("/", 1)[-1]:
                    return item
        raise KeyError(f"no line item {ref!r} at the platform")

    # --- the work behind the endpoints ---------------------------------------------------------------------

    def _auth_problem(self, params: dict, signed_in: str | None) -> tuple[str | None, _LaunchHint | None]:
        """The first check the authentication request fails (Security Framework 1.0, LTI Core 1.3), or
        None and the launch it is for."""
        hint = self._state.hints.get(params.get("lti_message_hint", ""))
        members = self._state.contexts[hint.context_id].members if hint else {}
        problem = _first_problem([
            ("openid" in params.get("scope", "").split(), "scope must contain openid"),
            (params.get("response_type") == "id_token", "response_type must be id_token"),
            (params.get("response_mode") == "form_post", "response_mode must be form_post"),
            (params.get("prompt", "none") == "none", "prompt, when given, must be none"),
            (params.get("client_id") == CLIENT_ID, f"client_id must be the registered {CLIENT_ID!r}"),
            (params.get("redirect_uri") in self.redirect_uris,
             (f"redirect_uri {params.get('redirect_uri')!r} is not a registered redirect URI "
              f"({', '.join(sorted(self.redirect_uris)) or 'none: tool_url is not set'})")),
            (bool(params.get("nonce")), "nonce is missing"),
            (bool(params.get("login_hint")), "login_hint is missing"),
            (hint is not None, "lti_message_hint is not one this platform gave"),
            (hint is None or params.get("login_hint") == hint.sub,
             "login_hint is not the user who started this launch"),
            (hint is None or signed_in in (None, hint.sub),
             "login_hint is not the user signed in at the platform"),
            (hint is None or hint.sub in members, "the user is no longer a member of the course"),
        ])
        return problem, hint

    def _launch_page(self, flask_request, hint: _LaunchHint, nonce: str) -> Response:
        config = _Config(platform=self, deployment_id=hint.deployment_id)
        with self._lock:
            launch = _Launch(flask_request, config, self._state.tampers.pop(nonce, Tamper()))
            launch.set_id_token_expiration(ID_TOKEN_LIFETIME)
            context = self.context(hint.context_id)
            _set_claims(launch, self, context, context.members[hint.sub], hint)
            if hint.deep_link:
                data = secrets.token_urlsafe(16)
                self._state.deep_links[data] = hint
                launch.offer_deep_linking(self.url("/deep-link-return"), data)
        return launch.lti_launch()

    def _grant_token(self, form: dict) -> dict:
        """The access token for a client credentials request (Security Framework 4.1, RFC 6749 4.4, RFC 7523)."""
        missing = [name for name in ("grant_type", "client_assertion_type", "client_assertion") if not form.get(name)]
        if missing:
            raise _ServiceError(400, "invalid_request", f"missing {', '.join(missing)}")
        if form["grant_type"] != "client_credentials":
            raise _ServiceError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if form["client_assertion_type"] != JWT_BEARER:
            raise _ServiceError(401, "invalid_client", f"client_assertion_type must be {JWT_BEARER}")
        config = _Config(platform=self)
        self._check_assertion(config, form["client_assertion"])
        granted = [scope for scope in form.get("scope", "").split() if scope in GRANTED_SCOPES]
        if not granted:
            raise _ServiceError(400, "invalid_scope", f"ask for one or more of: {' '.join(GRANTED_SCOPES)}")
        # The library signs the token; the assertion was checked above as the library does not (aud, iss, sub,
        # jti), and only the scopes this platform grants are passed on.
        return config.get_access_token({**form, "scope": " ".join(dict.fromkeys(granted))})

    def _check_assertion(self, config: _Config, assertion: str) -> None:
        try:
            claims = config.tool_claims(assertion, audience=[self.token_url, self.issuer], require=["sub", "jti"])
        except (jwt.PyJWTError, LtiException) as error:
            raise _ServiceError(401, "invalid_client", f"client_assertion refused: {error}") from None
        if claims["sub"] != CLIENT_ID:
            raise _ServiceError(401, "invalid_client", f"client_assertion refused: sub must be {CLIENT_ID!r}")
        with self._lock:
            if claims["jti"] in self._state.used_jtis:
                raise _ServiceError(401, "invalid_client", "client_assertion refused: its jti was used already")
            self._state.used_jtis.add(claims["jti"])

    def _check_bearer(self, header: str, scopes: tuple[str, ...]) -> None:
        """A service request's access token (RFC 6750): 401 without a valid one, 403 without one of `scopes`."""
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise _ServiceError(401, "invalid_token", "send Authorization: Bearer <access token>",
                                {"WWW-Authenticate": 'Bearer realm="lti"'})
        try:
            allowed = _Config(platform=self).validate_token(token.strip(), list(scopes))
        except (jwt.PyJWTError, LtiException) as error:
            raise _ServiceError(401, "invalid_token", f"access token refused: {error}",
                                {"WWW-Authenticate": 'Bearer realm="lti", error="invalid_token"'}) from None
        if not allowed:
            raise _ServiceError(403, "insufficient_scope", f"this needs a token with {' or '.join(scopes)}",
                                {"WWW-Authenticate": f'Bearer realm="lti", error="insufficient_scope", '
                                                     f'scope="{" ".join(scopes)}"'})

    def _service_context(self, context_id: str) -> Context:
        if context_id not in self._state.contexts:
            raise _ServiceError(404, "not_found", f"no context {context_id!r}")
        return self._state.contexts[context_id]

    def _service_line_item(self, context_id: str, number: int) -> LineItem:
        context = self._service_context(context_id)
        url = self._line_item_url(context_id, number)
        if url not in context.line_items:
            raise _ServiceError(404, "not_found", f"no line item {url}")
        return context.line_items[url]

    def _line_item_url(self, context_id: str, number: int) -> str:
        return self.url(f"/ags/{context_id}/lineitems/{number}")

    def _create_line_item(self, context: Context, fields: dict) -> LineItem:
        url = self._line_item_url(context.id, next(self._state.numbers))
        item = context.line_items[url] = LineItem(url, _line_item_fields(fields))
        return item

    def _update_line_item(self, context: Context, item: LineItem, fields: dict) -> None:
        # AGS 2.0 lets the platform keep what it does not allow to change: the resource link stays.
        kept = {"resourceLinkId": item.fields["resourceLinkId"]} if "resourceLinkId" in item.fields else {}
        item.fields = _line_item_fields({**fields, **kept})

    def _record_score(self, context: Context, item: LineItem, score: dict) -> None:
        problem = _score_problem(score, context)
        if problem:
            raise _ServiceError(400, "invalid_request", problem)
        last = next((s for s in reversed(item.scores) if s["userId"] == score["userId"]), None)
        if last is not None and _instant(score["timestamp"]) <= _instant(last["timestamp"]):
            # AGS 2.0: a score no newer than the last one for this user and line item is not applied (a tool
            # must not send two with the same timestamp either).
            raise _ServiceError(409, "conflict", f"timestamp {score['timestamp']} is not after the last score's "
                                                 f"({last['timestamp']}) for this user and line item")
        item.scores.append(dict(score))

    def _receive_deep_links(self, token: str) -> tuple[Context, list[dict], list[str]]:
        """The tool's deep linking response (Deep Linking 2.0), checked and applied: a resource link for each
        item, with its line item when the item has one. Its context, items and the tool's messages."""
        config = _Config(platform=self)
        config.set_accepted_deeplinking_types(["ltiResourceLink"])
        try:
            items = config.validate_deeplinking_resp({"JWT": token})  # signature, message type, item types
            claims = config.tool_claims(token, audience=self.issuer, require=["nonce"])
        except (jwt.PyJWTError, LtiException, LtiDeepLinkingResponseException) as error:
            raise _PageError(400, f"The deep linking response was refused: {error}") from None
        except (KeyError, TypeError):
            raise _PageError(400, "The deep linking response was refused: content_items must be a list of "
                                  "objects, each with a type") from None
        with self._lock:
            request_ = self._deep_link_request(claims)
            context = self.context(request_.context_id)
            problem = next(filter(None, (_content_item_problem(item, context) for item in items)), None)
            if problem:
                raise _PageError(400, f"The deep linking response was refused: {problem}")
            self._state.used_nonces.add(claims["nonce"])
            del self._state.deep_links[claims[DL_DATA]]
            for item in items:
                self._add_deep_linked(context, item)
        return context, items, [str(claims[name]) for name in DL_MESSAGES if claims.get(name)]

    def _deep_link_request(self, claims: dict) -> _LaunchHint:
        """The open deep linking request the response answers (by its data), checked against it."""
        data, nonce = claims.get(DL_DATA), claims["nonce"]
        request_ = self._state.deep_links.get(data) if isinstance(data, str) else None
        problem = _first_problem([
            (claims.get(VERSION) == "1.3.0", "version must be 1.3.0"),
            (isinstance(nonce, str) and nonce not in self._state.used_nonces, "nonce must be new (this one was used already)"),
            (request_ is not None, "data must echo the data of an open deep linking request"),
            (request_ is None or claims.get(DEPLOYMENT) == request_.deployment_id,
             "deployment_id must be the deep linking request's"),
        ])
        if problem:
            raise _PageError(400, f"The deep linking response was refused: {problem}")
        return request_

    def _add_deep_linked(self, context: Context, item: dict) -> None:
        context.deep_link_items.append(item)
        link_id = f"dl-{next(self._state.numbers)}"
        link = context.links[link_id] = ResourceLink(link_id, _title(item), dict(item.get("custom") or {}),
                                                     url=item.get("url"))
        if item.get("lineItem"):
            fields = {"label": link.title, **item["lineItem"], "resourceLinkId": link_id}
            link.line_item = self._create_line_item(context, fields).id


# --- the launch's claims -----------------------------------------------------------------------------------------


def _set_claims(launch: _Launch, platform: TestPlatform, context: Context, member: Member, hint: _LaunchHint) -> None:
    """Every claim of the id_token but the message type's own (LTI Core 1.3, NRPS 2.0, AGS 2.0)."""
    launch.set_user_data(member.sub, member.roles, full_name=member.name, email_address=member.email)
    launch.set_extra_claims({name: value for name, value in (("given_name", member.given_name),
                                                             ("family_name", member.family_name)) if value})
    launch.set_launch_context_claim(context.id, [COURSE_OFFERING], context.title, context.label)
    launch.set_launch_presentation_claim(hint.document_target, platform.url(f"/course/{context.id}"))
    launch.set_extra_claims({TOOL_PLATFORM: {"guid": "podium-test-platform", "name": "Podium test platform",
                                             "product_family_code": "podium-test-platform", "version": "1.0"}})
    launch.set_nrps(platform.url(f"/nrps/{context.id}"))
    link = None if hint.deep_link else context.links[hint.link_id]
    launch.set_ags(platform.url(f"/ags/{context.id}/lineitems"), link.line_item if link else None)
    if link is not None:
        launch.set_resource_link_claim(link.id, title=link.title)
        launch.set_launch_url(link.url or platform.launch_url)
        if link.custom:
            launch.set_custom_parameters_claim(dict(link.custom))


# --- checks on what the tool sends -------------------------------------------------------------------------------


def _status(status: str) -> str:
    if status not in {s.value for s in Status}:
        raise ValueError(f"status {status!r}: use Active, Inactive or Deleted")
    return status


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _instant(text: Any) -> datetime | None:
    """An ISO 8601 date and time with its offset, or None."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _first_problem(checks: list[tuple[bool, str]]) -> str | None:
    return next((message for passed, message in checks if not passed), None)


def _line_item_problem(item: Any, context: Context) -> str | None:
    """What is wrong with a line item the tool sends (AGS 2.0), or None."""
    if not isinstance(item, dict):
        return "the body must be a JSON object (a line item)"
    return _first_problem([
        (isinstance(item.get("label"), str) and item["label"].strip() != "", "label must be a non-empty string"),
        (_is_number(item.get("scoreMaximum")) and item["scoreMaximum"] > 0, "scoreMaximum must be a number > 0"),
        (item.get("resourceLinkId") in (None, *context.links),
         f"resourceLinkId {item.get('resourceLinkId')!r} is not a resource link of this context"),
        (all(isinstance(item.get(name), (str, type(None))) for name in ("resourceId", "tag")),
         "resourceId and tag must be strings"),
        (all(item.get(name) is None or _instant(item[name]) for name in ("startDateTime", "endDateTime")),
         "startDateTime and endDateTime must be ISO 8601 dates and times with their offset"),
        (isinstance(item.get("gradesReleased", False), bool), "gradesReleased must be true or false"),
    ])


def _check_line_item(context: Context, fields: dict) -> None:
    """A line item a test makes at the platform: a mistake in it is the test's, raised at once."""
    problem = _line_item_problem(fields, context)
    if problem:
        raise ValueError(problem)


def _line_item_fields(item: dict) -> dict:
    return {name: value for name, value in item.items() if name != "id" and value is not None}


def _title(item: dict) -> str:
    return str(item.get("title") or "Untitled")


def _content_item_problem(item: dict, context: Context) -> str | None:
    """What is wrong with an ltiResourceLink content item (Deep Linking 2.0), or None."""
    custom, line_item = item.get("custom") or {}, item.get("lineItem")
    problem = _first_problem([
        (isinstance(item.get("url", ""), str), "an item's url must be a string"),
        (isinstance(custom, dict) and all(isinstance(v, str) for v in custom.values()),
         "an item's custom must map names to strings"),
        (line_item is None or isinstance(line_item, dict), "an item's lineItem must be an object"),
    ])
    if problem or not line_item:
        return problem
    line_item_problem = _line_item_problem({"label": _title(item), **line_item, "resourceLinkId": None}, context)
    return f"lineItem: {line_item_problem}" if line_item_problem else None


def _score_problem(score: Any, context: Context) -> str | None:
    """What is wrong with a score the tool sends (AGS 2.0), or None."""
    if not isinstance(score, dict):
        return "the body must be a JSON object (a score)"
    member = context.members.get(score.get("userId")) if isinstance(score.get("userId"), str) else None
    given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
    return _first_problem([
        (member is not None and member.status != "Deleted",
         f"userId {score.get('userId')!r} is not a member of this context"),
        (given is None or (_is_number(given) and given >= 0), "scoreGiven must be a number >= 0"),
        (given is None or maximum is not None, "scoreMaximum is required with scoreGiven"),
        (maximum is None or (_is_number(maximum) and maximum > 0), "scoreMaximum must be a number > 0"),
        (score.get("activityProgress") in [p.value for p in ActivityProgress],
         f"activityProgress must be one of {', '.join(p.value for p in ActivityProgress)}"),
        (score.get("gradingProgress") in [p.value for p in GradeProgress],
         f"gradingProgress must be one of {', '.join(p.value for p in GradeProgress)}"),
        (_instant(score.get("timestamp")) is not None, "timestamp must be an ISO 8601 date and time with its offset"),
        (isinstance(score.get("comment", ""), (str, type(None))), "comment must be a string"),
    ])


def _results(item: LineItem) -> list[dict]:
    """The line item's results (AGS 2.0): each user's latest score."""
    latest = {score["userId"]: score for score in item.scores}
    results = []
    for user_id, score in latest.items():
        result = {"id": f"{item.id}/results/{user_id}", "scoreOf": item.id, "userId": user_id}
        for source, name in (("scoreGiven", "resultScore"), ("scoreMaximum", "resultMaximum"),
                             ("comment", "comment")):
            if score.get(source) is not None:
                result[name] = score[source]
        results.append(result)
    return results


def _is_context_role(role: str) -> bool:
    return role.startswith((f"{MEMBERSHIP}#", f"{MEMBERSHIP}/"))


def _member_json(member: Member) -> dict:
    # NRPS 2.0 lists a member's roles in the context: the launch's institution roles are left out.
    body = {"status": member.status, "user_id": member.sub,
            "roles": [role for role in member.roles if _is_context_role(role)]}
    for name in ("name", "given_name", "family_name", "email"):
        if getattr(member, name):
            body[name] = getattr(member, name)
    return body


def _has_role(member: Member, wanted: str) -> bool:
    # NRPS 2.0: a context role may be named by its full URI or its short name (role=Learner).
    full = wanted if "://" in wanted else f"{MEMBERSHIP}#{wanted}"
    return full in member.roles


# --- paging (NRPS 2.0, AGS 2.0: limit, then a Link header with rel="next") ---------------------------------------


def _positive(args, name: str, default: int | None) -> int | None:
    if name not in args:
        return default
    value = args[name]
    if not value.isdecimal() or int(value) < 1:
        raise _ServiceError(400, "invalid_request", f"{name} must be a whole number >= 1")
    return int(value)


def _paged(items: list, endpoint: str, media: str, body, args) -> Response:
    """`body(page of items)` as JSON, with a Link to the next page when `limit` cuts the list."""
    limit, page = _positive(args, "limit", None), _positive(args, "page", 1)
    if limit is None:
        return _json(body(items), content_type=media)
    start = (page - 1) * limit
    response = _json(body(items[start:start + limit]), content_type=media)
    if len(items) > start + limit:
        response.headers["Link"] = f'<{endpoint}?{urlencode({**args.to_dict(), "page": page + 1})}>; rel="next"'
    return response


# --- the HTTP server ---------------------------------------------------------------------------------------------


def _json(body, status: int = 200, content_type: str = "application/json", headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type, headers=headers or {})


def _html(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(_html(title, body), status=status, content_type="text/html; charset=utf-8")


def _body_of(media: str):
    """The request's JSON body, which must come as `media` (415 otherwise)."""
    if request.mimetype != media:
        raise _ServiceError(415, "unsupported_media_type", f"send the body as Content-Type: {media}")
    body = request.get_json(silent=True)
    if body is None:
        raise _ServiceError(400, "invalid_request", "the body is not JSON")
    return body


def _make_app(platform: TestPlatform) -> Flask:
    app = Flask(__name__)

    @app.after_request
    def note(response):
        platform._state.served.append(Served(request.method, request.path, response.status_code))
        return response

    @app.errorhandler(_ServiceError)
    def service_error(error: _ServiceError):
        headers = {"Cache-Control": "no-store", **error.headers}
        return _json({"error": error.error, "error_description": error.description}, error.status, headers=headers)

    @app.errorhandler(_PageError)
    def page_error(error: _PageError):
        return _page("Refused", f"<p>{escape(error.message)}</p>", error.status)

    _add_launch_routes(app, platform)
    _add_nrps_routes(app, platform)
    _add_ags_routes(app, platform)
    _add_pages(app, platform)
    return app


def _add_launch_routes(app: Flask, platform: TestPlatform) -> None:
    @app.get("/jwks")
    def jwks():
        return _json(platform.jwks())

    @app.route("/auth", methods=["GET", "POST"])
    def auth():
        params = request.values.to_dict()
        with platform._lock:
            problem, hint = platform._auth_problem(params, request.cookies.get(USER_COOKIE))
        if problem:
            raise _PageError(400, f"The launch was refused: {problem}.")
        return platform._launch_page(request, hint, params["nonce"])

    @app.post("/token")
    def token():
        answer = platform._grant_token(request.form.to_dict())
        return _json(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.post("/deep-link-return")
    def deep_link_return():
        if not request.form.get("JWT"):
            raise _PageError(400, "The deep linking response was refused: the form has no JWT.")
        context, items, messages = platform._receive_deep_links(request.form["JWT"])
        added = "".join(f"<li>Added: {escape(item.get('title') or 'Untitled')}</li>" for item in items)
        said = "".join(f"<p>The tool says: {escape(message)}</p>" for message in messages)
        back = f'<p><a href="/course/{escape(context.id)}">Back to {escape(context.title)}</a></p>'
        return _page("Content added" if items else "Nothing added", f"{said}<ul>{added}</ul>{back}")


def _requires(platform: TestPlatform, *scopes: str):
    """The view needs a bearer token with one of `scopes`."""
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            platform._check_bearer(request.headers.get("Authorization", ""), scopes)
            with platform._lock:
                return view(*args, **kwargs)
        return checked
    return decorate


def _add_nrps_routes(app: Flask, platform: TestPlatform) -> None:
    @app.get("/nrps/<context_id>")
    @_requires(platform, NRPS_SCOPE)
    def memberships(context_id):
        context = platform._service_context(context_id)
        if "rlid" in request.args:
            raise _ServiceError(400, "invalid_request", "this platform does not offer resource link memberships")
        members = [m for m in context.members.values()
                   if "role" not in request.args or _has_role(m, request.args["role"])]
        endpoint = platform.url(f"/nrps/{context_id}")
        container = dataclass_to_dict(ContextMembership(
            id=endpoint, context=NrpsContext(id=context.id, label=context.label, title=context.title)))
        return _paged(members, endpoint, NRPS_MEDIA,
                      lambda page: {**container, "members": [_member_json(m) for m in page]}, request.args)


def _add_ags_routes(app: Flask, platform: TestPlatform) -> None:
    item_path = "/ags/<context_id>/lineitems/<int:number>"

    @app.get("/ags/<context_id>/lineitems")
    @_requires(platform, LINEITEM_SCOPE, LINEITEM_READ_SCOPE)
    def list_line_items(context_id):
        context = platform._service_context(context_id)
        filters = {"resource_link_id": "resourceLinkId", "resource_id": "resourceId", "tag": "tag"}
        items = [item.as_json() for item in context.line_items.values()
                 if all(item.fields.get(name) == request.args[arg] for arg, name in filters.items()
                        if arg in request.args)]
        return _paged(items, platform.url(f"/ags/{context_id}/lineitems"), LINEITEMS_MEDIA, list, request.args)

    @app.post("/ags/<context_id>/lineitems")
    @_requires(platform, LINEITEM_SCOPE)
    def create_line_item(context_id):
        context = platform._service_context(context_id)
        fields = _body_of(LINEITEM_MEDIA)
        problem = _line_item_problem(fields, context)
        if problem:
            raise _ServiceError(400, "invalid_request", problem)
        item = platform._create_line_item(context, fields)
        return _json(item.as_json(), 201, LINEITEM_MEDIA, {"Location": item.id})

    @app.get(item_path)
    @_requires(platform, LINEITEM_SCOPE, LINEITEM_READ_SCOPE)
    def get_line_item(context_id, number):
        return _json(platform._service_line_item(context_id, number).as_json(), content_type=LINEITEM_MEDIA)

    @app.put(item_path)
    @_requires(platform, LINEITEM_SCOPE)
    def update_line_item(context_id, number):
        item = platform._service_line_item(context_id, number)
        context = platform._service_context(context_id)
        fields = _body_of(LINEITEM_MEDIA)
        problem = _line_item_problem({**fields, "resourceLinkId": item.fields.get("resourceLinkId")}, context)
        if problem:
            raise _ServiceError(400, "invalid_request", problem)
        platform._update_line_item(context, item, fields)
        return _json(item.as_json(), content_type=LINEITEM_MEDIA)

    @app.delete(item_path)
    @_requires(platform, LINEITEM_SCOPE)
    def delete_line_item(context_id, number):
        item = platform._service_line_item(context_id, number)
        del platform._service_context(context_id).line_items[item.id]
        return Response(status=204)

    @app.post(f"{item_path}/scores")
    @_requires(platform, SCORE_SCOPE)
    def post_score(context_id, number):
        item = platform._service_line_item(context_id, number)
        platform._record_score(platform._service_context(context_id), item, _body_of(SCORE_MEDIA))
        return Response(status=204)  # AGS 2.0 asks for a 2xx only; nothing to send back

    @app.get(f"{item_path}/results")
    @_requires(platform, RESULT_SCOPE)
    def results(context_id, number):
        item = platform._service_line_item(context_id, number)
        found = [r for r in _results(item) if r["userId"] == request.args.get("user_id", r["userId"])]
        return _paged(found, f"{item.id}/results", RESULTS_MEDIA, list, request.args)


def _add_pages(app: Flask, platform: TestPlatform) -> None:
    @app.get("/")
    def choose_user():
        rows = "".join(
            f'<li><a href="/act-as?{escape(urlencode({"sub": member.sub, "context": context.id}))}">'
            f"{escape(member.name or member.sub)}</a> in {escape(context.title)}</li>"
            for context in list(platform._state.contexts.values()) for member in context.members.values())
        return _page("Who are you?", f"<ul>{rows}</ul>")

    @app.get("/act-as")
    def act_as():
        response = Response(status=303, headers={"Location": f"/course/{quote(request.args['context'])}"})
        response.set_cookie(USER_COOKIE, request.args["sub"], httponly=True, samesite="Lax")
        return response

    @app.get("/course/<context_id>")
    def course(context_id):
        sub = request.cookies.get(USER_COOKIE)
        context = platform._state.contexts.get(context_id)
        if context is None or sub not in context.members:
            raise _PageError(403, "You are not a member of this course: pick who you are on the platform's home page.")
        if not platform.tool_url:
            raise _PageError(503, "The platform has no tool yet: set platform.tool_url.")
        return _page(context.title, _course_body(platform, context, context.members[sub]))


def _course_body(platform: TestPlatform, context: Context, member: Member) -> str:
    links = "".join(
        f'<li><a href="{escape(platform.login_initiation_url(context.id, member.sub, link_id=link.id))}" '
        f'target="_blank">{escape(link.title)}</a></li>' for link in list(context.links.values()))
    body = f"<p>Signed in as {escape(member.name or member.sub)}.</p><ul>{links}</ul>"
    if any(role == INSTRUCTOR or role.startswith(f"{MEMBERSHIP}/Instructor#") for role in member.roles):
        add = platform.login_initiation_url(context.id, member.sub, deep_link=True)
        body += f'<p><a href="{escape(add)}" target="_blank">Add Podium content</a></p>'
    return body


# --- reading the launch page -------------------------------------------------------------------------------------


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action")
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def _read_form(page: str) -> tuple[str, dict[str, str]]:
    reader = _FormReader()
    reader.feed(page)
    if not reader.action:
        raise AssertionError(f"no form on the platform's launch page: {page[:300]}")
    return reader.action, reader.fields

