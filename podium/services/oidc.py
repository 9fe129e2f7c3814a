"""OpenID Connect sign-in, Podium's side (the relying party), with Authlib: the authorization code flow with PKCE
(S256), `state` and `nonce`, and the ID token checked before anything of it is believed: its signature against the
provider's published keys (JWKS), its issuer, its audience (this client), its expiry and its nonce.

Nothing here touches the database: every call may wait on the provider's network, and the views call it with no
transaction open (a slow provider must not hold SQLite's write lock or a PostgreSQL connection). What the browser
must keep between leaving for the provider and coming back (`Flow`) travels in the signed session cookie and is
used once.

The provider's discovery document and keys are fetched when first needed, not at start-up (a provider that is down
must not stop Podium from starting), and kept for an hour; keys are fetched again at once when a token names a key
Podium has not seen (the provider rotated its keys).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from podium.config import OidcSettings
from podium.errors import PodiumError

log = logging.getLogger(__name__)

NETWORK_TIMEOUT_SECONDS = 10
METADATA_SECONDS = 3600
# How long a person may take at the provider's pages before the answer is no longer taken.
FLOW_SECONDS = 15 * 60
# Clocks of Podium and the provider may differ this much when the token's expiry and issue time are judged.
CLOCK_SKEW_SECONDS = 60
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class ProviderUnreachable(PodiumError):
    """The provider did not answer, or answered with something that is not what its role says (a broken discovery
    document, a server error): nobody is signed in, and trying again later may work."""

    code = 503

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "60"}


class SignOnRefused(PodiumError):
    """The provider's answer was refused (a replayed or unknown state, a token that fails a check): nobody is
    signed in; starting again from the sign-in page is what to do."""

    code = 400


@dataclass(frozen=True)
class Flow:
    """What the browser keeps (in its signed session) between leaving for the provider and coming back: the
    `state` that ties the answer to this browser, the `nonce` the ID token must carry, the PKCE verifier, where to
    go afterwards, and when it started."""

    state: str
    nonce: str
    verifier: str
    next_url: str
    started: float

    def as_dict(self) -> dict:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier, "next": self.next_url,
                "started": self.started}

    @classmethod
    def from_dict(cls, data: object) -> Flow | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(state=str(data["state"]), nonce=str(data["nonce"]), verifier=str(data["verifier"]),
                       next_url=str(data["next"]), started=float(data["started"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a checked ID token (and the userinfo endpoint for claims the token
    leaves out)."""

    subject: str
    email: str
    email_verified: bool
    name: str


class Provider:
    """One configured OpenID provider; one per web app, shared by its request threads."""

    def __init__(self, settings: OidcSettings, redirect_uri: str, *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.redirect_uri = redirect_uri
        # Podium's clock for judging a token's expiry: a parameter so that a test can judge a real token later.
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._jwks: dict | None = None

    @property
    def name(self) -> str:
        return self.settings.provider_name

    # --- leaving for the provider ---------------------------------------------------------------------------

    def start(self, next_url: str) -> tuple[str, Flow]:
        """The provider's address to send the browser to, and the flow the browser keeps until it comes back."""
        metadata = self.metadata()
        flow = Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                    verifier=secrets.token_urlsafe(48), next_url=next_url, started=self.clock())
        with self._client() as client:
            url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=flow.state,
                                                     nonce=flow.nonce, code_verifier=flow.verifier)
        return url, flow

    # --- coming back ----------------------------------------------------------------------------------------

    def finish(self, flow: Flow, code: str) -> Identity:
        """The person the provider signed in, from the authorization `code` it sent back for `flow`: the code is
        exchanged at the token endpoint (with the PKCE verifier), and the ID token checked before it is believed."""
        if self.clock() - flow.started > FLOW_SECONDS:
            raise SignOnRefused(f"The sign-in with {self.name} took longer than {FLOW_SECONDS // 60} minutes, so "
                                "Podium no longer takes it. Start again from the sign-in page.")
        if not code:
            raise SignOnRefused(f"{self.name} sent you back without a sign-in code. Start again from the sign-in "
                                "page.")
        metadata = self.metadata()
        token = self._exchange(metadata, code, flow)
        claims = self._checked_id_token(metadata, token, flow)
        if self.settings.email_claim not in claims or "email_verified" not in claims:
            claims = {**self._userinfo(metadata, token, claims["sub"]), **claims}
        return self._identity(claims)

    def _exchange(self, metadata: dict, code: str, flow: Flow) -> dict:
        from authlib.integrations.base_client import OAuthError

        try:
            with self._client() as client:
                token = client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                                           code_verifier=flow.verifier, timeout=NETWORK_TIMEOUT_SECONDS)
        except OAuthError as exc:
            log.warning("the OpenID provider refused the authorization code: %s %s", exc.error, exc.description)
            raise SignOnRefused(f"{self.name} did not accept this sign-in ({exc.description or exc.error}); it may "
                                "have been used already. Start again from the sign-in page.") from None
        except Exception as exc:  # noqa: BLE001 - the network, or an answer that is not a token response
            raise self._unreachable("its token endpoint", exc) from None
        if not isinstance(token, dict) or not token.get("id_token"):
            raise SignOnRefused(f"{self.name} answered without an ID token, so Podium cannot tell who signed in. "
                                "Check that PODIUM_OIDC_SCOPES includes openid.")
        return token

    def _checked_id_token(self, metadata: dict, token: dict, flow: Flow) -> dict:
        """The ID token's claims once its signature, issuer, audience, times and nonce are checked."""
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import (BadSignatureError, ExpiredTokenError, InvalidClaimError, InvalidKeyIdError,
                                    JoseError, MissingClaimError)
        from joserfc.jwk import KeySet

        try:
            try:
                decoded = jwt.decode(token["id_token"], KeySet.import_key_set(self.jwks()),
                                     algorithms=list(ID_TOKEN_ALGORITHMS))
            except (InvalidKeyIdError, BadSignatureError):
                # Perhaps signed with a key the provider published since: fetch the keys again, once.
                decoded = jwt.decode(token["id_token"], KeySet.import_key_set(self.jwks(refresh=True)),
                                     algorithms=list(ID_TOKEN_ALGORITHMS))
            claims = CodeIDToken(decoded.claims, decoded.header,
                                 {"iss": {"essential": True, "value": metadata["issuer"]},
                                  "aud": {"essential": True, "value": self.settings.client_id},
                                  "sub": {"essential": True}},
                                 {"nonce": flow.nonce, "client_id": self.settings.client_id,
                                  "access_token": token.get("access_token")})
            claims.validate(now=int(self.clock()), leeway=CLOCK_SKEW_SECONDS)
        except ProviderUnreachable:
            raise
        except ExpiredTokenError:
            raise self._refused("it has expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            raise self._refused(_CLAIM_WORDS.get(exc.claim, f"its claim {exc.claim!r} is wrong or missing")) from None
        except (BadSignatureError, InvalidKeyIdError):
            raise self._refused("its signature is not one of the provider's keys") from None
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("an ID token could not be read: %r", exc)
            raise self._refused("it is not a well-formed, signed token") from None
        return dict(claims)

    def _refused(self, why: str) -> SignOnRefused:
        log.warning("an ID token from the OpenID provider was refused: %s", why)
        return SignOnRefused(f"The answer from {self.name} did not pass Podium's checks ({why}), so you are not "
                             "signed in. Start again from the sign-in page; if it happens again, tell your course "
                             "staff.")

    def _userinfo(self, metadata: dict, token: dict, subject: str) -> dict:
        """The claims of the userinfo endpoint, for providers that keep the email out of the ID token; only when
        they are about the same subject as the checked token."""
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            with self._client(token=token) as client:
                response = client.get(endpoint, timeout=NETWORK_TIMEOUT_SECONDS)
                response.raise_for_status()
                info = response.json()
        except Exception as exc:  # noqa: BLE001 - the network, or an answer that is not JSON
            raise self._unreachable("its userinfo endpoint", exc) from None
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise self._refused("its userinfo answer is about someone else")
        return info

    def _identity(self, claims: dict) -> Identity:
        email = claims.get(self.settings.email_claim)
        if not isinstance(email, str) or not email.strip():
            raise SignOnRefused(f"{self.name} did not say which email address you have (its claim "
                                f"{self.settings.email_claim!r} is missing), so Podium cannot find your account. "
                                "Tell your course staff; PODIUM_OIDC_SCOPES and PODIUM_OIDC_EMAIL_CLAIM set what is "
                                "asked for.", code=403)
        name = claims.get("name") if isinstance(claims.get("name"), str) else ""
        return Identity(subject=str(claims["sub"]), email=email.strip(), email_verified=claims.get("email_verified")
                        is True, name=name.strip())

    # --- what the provider publishes ------------------------------------------------------------------------

    def metadata(self) -> dict:
        """The provider's discovery document, fetched when first needed and kept for an hour."""
        with self._lock:
            if self._metadata is not None and self.clock() - self._metadata_at < METADATA_SECONDS:
                return self._metadata
        document = self._get_json(self.settings.discovery_url, "its discovery document")
        missing = [key for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not isinstance(document.get(key), str)]
        if missing:
            raise ProviderUnreachable(f"{self.name}'s discovery document ({self.settings.discovery_url}) lacks "
                                      f"{', '.join(missing)}, so nobody can sign in with it now. Tell the instance's "
                                      "administrator: PODIUM_OIDC_DISCOVERY_URL must name the provider's "
                                      ".well-known/openid-configuration.")
        with self._lock:
            if document != self._metadata:
                self._jwks = None
            self._metadata, self._metadata_at = document, self.clock()
        return document

    def jwks(self, refresh: bool = False) -> dict:
        with self._lock:
            if self._jwks is not None and not refresh:
                return self._jwks
        keys = self._get_json(self.metadata()["jwks_uri"], "its signing keys")
        if not isinstance(keys.get("keys"), list):
            raise ProviderUnreachable(f"{self.name} published no signing keys at its jwks_uri, so nobody can sign "
                                      "in with it now. Try again later; if it goes on, tell your course staff.")
        with self._lock:
            self._jwks = keys
        return keys

    def _get_json(self, url: str, what: str) -> dict:
        try:
            with self._client() as client:
                response = client.get(url, timeout=NETWORK_TIMEOUT_SECONDS, withhold_token=True)
                response.raise_for_status()
                document = response.json()
        except Exception as exc:  # noqa: BLE001 - the network, a server error, or not JSON
            raise self._unreachable(what, exc) from None
        if not isinstance(document, dict):
            raise self._unreachable(what, ValueError("not a JSON object"))
        return document

    def _unreachable(self, what: str, exc: Exception) -> ProviderUnreachable:
        log.warning("the OpenID provider's %s could not be had: %r", what, exc)
        return ProviderUnreachable(f"{self.name} could not be reached ({what} did not answer as it should), so you "
                                   "are not signed in. Try again in a few minutes; if it goes on, tell your course "
                                   "staff.")

    def _client(self, token: dict | None = None):
        from authlib.integrations.requests_client import OAuth2Session

        return OAuth2Session(client_id=self.settings.client_id, client_secret=self.settings.client_secret,
                             scope=self.settings.scopes, redirect_uri=self.redirect_uri, token=token,
                             code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


_CLAIM_WORDS = {
    "iss": "it was issued by another provider than the one configured",
    "aud": "it was issued to another application, not to this Podium",
    "azp": "it was issued to another application, not to this Podium",
    "nonce": "it belongs to another sign-in attempt",
    "exp": "it has expired",
    "iat": "its time of issue is wrong",
    "nbf": "it is not valid yet",
    "sub": "it names nobody",
    "at_hash": "it does not belong with the access token it came with",
}
