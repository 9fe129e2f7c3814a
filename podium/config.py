"""Configuration from the environment (a `.env` file in the working directory is read too).

This is the only module that reads the environment; everything else is handed the `Settings` (`rt.settings`).

Nothing is required to start: the defaults give an embedded SQLite database and local files under
`./instance`, and a secret key generated once and kept in the data directory.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from podium.errors import PodiumError

DEFAULT_MAX_UPLOAD_MB = 200
# A PostgreSQL connection pool per process: the scoring threads, the lease renewer, the scheduler and the request
# threads each hold a connection only for a short unit of work. Kept small because every process of a deployment
# (e.g. `podium run --workers 4`) has its own pool and all of them count against the server's max_connections
# (100 by default): 4 processes x (5 + 10) = 60.
DEFAULT_DB_POOL_SIZE = 5
DEFAULT_DB_MAX_OVERFLOW = 10
# How long a statement waits behind another connection's lock (SQLite's busy timeout, PostgreSQL's lock_timeout)
# before the request is answered 503 "try again shortly". Long enough for a deadline rush on SQLite, where every
# upload takes the one write lock in turn.
DEFAULT_DB_LOCK_TIMEOUT_SECONDS = 30.0
# A browser session ends after a day without a request, and two weeks after sign-in however busy it is.
DEFAULT_SESSION_IDLE_MINUTES = 24 * 60
DEFAULT_SESSION_MAX_DAYS = 14


def _number(env, name: str, default, *, integer: bool = False, minimum: float = 0):
    """The number in the variable `name`, or `default` when it is unset or empty; a bad value is one clear line."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind = "a whole number" if integer else "a number"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise PodiumError(f"{name}={raw!r}: give {kind} of {minimum:g} or more") from None
    if not value >= minimum or value in (float("inf"), float("-inf")):
        raise PodiumError(f"{name}={raw!r}: give {kind} of {minimum:g} or more")
    return value


def default_scoring_workers() -> int:
    return min(4, os.cpu_count() or 2)


def machine_memory_mb() -> float | None:
    """The machine's physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (AttributeError, ValueError, OSError):
        return None


# What one scoring attempt may take, sized from the largest legitimate upload. bench/scoring.py measures an attempt's
# peak at about 110 MB (the scoring process) plus at most 17 times the upload's decompressed size (12 for HW1P2's
# 2,000,000 rows, 21 MB of CSV: a peak of 350 MB, scored in about a second). 2 GB scores any upload of up to about
# 110 MB of CSV, five times the largest competition's; a course with larger legitimate uploads raises it. An attempt
# beyond either bound is a runaway file (a header of millions of columns, a gzip bomb of one value).
DEFAULT_SCORING_SECONDS = 120.0
DEFAULT_SCORING_MEMORY_MB = 2048.0
DEFAULT_SCORING_ATTEMPTS = 2


@dataclass(frozen=True)
class JobSettings:
    """How the background work runs (podium.jobs); every field has an environment variable (see the README)."""

    # PODIUM_SCORING_WORKERS, when set; unset, `podium run --workers N` shares the cores among its processes.
    scoring_workers: int | None = None
    # How much lower the scoring processes' CPU priority is. Measured with bench/rush.py (300 uploads in 60 s, 4
    # workers on 2 busy cores), four runs each way, when scoring ran in threads: the p99 time to acknowledge was
    # 0.51-1.34 s with niced scoring against 1.26-3.66 s without, and the queue still drained within 10 s.
    scoring_nice: int = 10
    # How long a scoring claim holds unless the worker renews it (podium/jobs.py renews while it scores); another
    # process takes over a submission only after that, so it is generous.
    lease_seconds: float = 600.0
    recovery_seconds: float = 30.0
    finalise_grace_seconds: float = 300.0
    deadline_scan_seconds: float = 30.0
    # How often the scheduler deletes the files nobody needs any more (Kaggle CLI uploads never handed in, failed
    # uploads past their keeping time): an abandoned upload waits at most this long after it expired.
    cleanup_seconds: float = 300.0
    # One attempt's budget: wall time and resident memory of the process that scores it (podium/attempts.py).
    scoring_seconds: float = DEFAULT_SCORING_SECONDS
    scoring_memory_mb: float = DEFAULT_SCORING_MEMORY_MB
    # The memory a process's attempts share: it runs no more attempts at once than fit in it. Unset: half the
    # machine's memory.
    scoring_memory_total_mb: float | None = None
    # Claims of one submission that may end without a result (the scoring process died, the server was killed)
    # before the submission is failed rather than handed out again.
    scoring_attempts: int = DEFAULT_SCORING_ATTEMPTS
    # How often `podium worker` looks for queued uploads (a web process hands its own uploads over at once).
    queue_poll_seconds: float = 1.0
    # How often the lease holder sends the mails of the outbox that are due (podium.services.outbox), and how many
    # failed attempts a mail gets before it is given up on: the waits double from a minute up to an hour, so the
    # default keeps trying for about a day while the mail server is down.
    mail_seconds: float = 15.0
    mail_attempts: int = 30
    # How often the lease holder looks for deadline reminders that are due (podium.services.notifications): a
    # reminder goes at most this long after the day before the deadline begins.
    reminder_seconds: float = 300.0
    # How often the lease holder syncs the rosters of courses linked to an LMS (podium.services.lti_roster).
    lti_sync_seconds: float = 3600.0
    # How often the lease holder sends released grades to linked LMS gradebooks (podium.services.lti_grades), and
    # how many failed attempts a grade gets before it is given up on (the mail's back-off: about a day).
    lti_push_seconds: float = 60.0
    lti_push_attempts: int = 30

    ENV = {"scoring_workers": "PODIUM_SCORING_WORKERS", "scoring_nice": "PODIUM_SCORING_NICE",
           "lease_seconds": "PODIUM_SCORING_LEASE_SECONDS", "recovery_seconds": "PODIUM_RECOVERY_SECONDS",
           "finalise_grace_seconds": "PODIUM_FINALISE_GRACE_SECONDS",
           "deadline_scan_seconds": "PODIUM_DEADLINE_SCAN_SECONDS", "cleanup_seconds": "PODIUM_CLEANUP_SECONDS",
           "scoring_seconds": "PODIUM_SCORING_SECONDS", "scoring_memory_mb": "PODIUM_SCORING_MEMORY_MB",
           "scoring_memory_total_mb": "PODIUM_SCORING_MEMORY_TOTAL_MB",
           "scoring_attempts": "PODIUM_SCORING_ATTEMPTS", "queue_poll_seconds": "PODIUM_QUEUE_POLL_SECONDS",
           "mail_seconds": "PODIUM_MAIL_SECONDS", "mail_attempts": "PODIUM_MAIL_ATTEMPTS",
           "reminder_seconds": "PODIUM_REMINDER_SECONDS",
           "lti_sync_seconds": "PODIUM_LTI_SYNC_SECONDS",
           "lti_push_seconds": "PODIUM_LTI_PUSH_SECONDS", "lti_push_attempts": "PODIUM_LTI_PUSH_ATTEMPTS"}
    WHOLE = {"scoring_workers": 1, "scoring_nice": 0, "scoring_attempts": 1, "mail_attempts": 1,
             "lti_push_attempts": 1}  # whole numbers, with their least value
    # numbers that must be positive, with their least value
    LEAST = {"scoring_seconds": 0.1, "scoring_memory_mb": 1, "scoring_memory_total_mb": 1, "queue_poll_seconds": 0.05,
             "mail_seconds": 0.05, "reminder_seconds": 0.05,
             "lti_sync_seconds": 0.05, "lti_push_seconds": 0.05}

    @classmethod
    def from_env(cls, env) -> JobSettings:
        given = {}
        for name, var in cls.ENV.items():
            least = cls.WHOLE.get(name, cls.LEAST.get(name, 0))
            value = _number(env, var, None, integer=name in cls.WHOLE, minimum=least)
            if value is not None:
                given[name] = value
        return cls(**given)

    @property
    def workers(self) -> int:
        """Scoring slots in a process that is given no number of its own."""
        return self.scoring_workers or default_scoring_workers()

    @property
    def leader_lease_seconds(self) -> float:
        """The deadline loop's lease: a few passes long, so that a dead leader is replaced within minutes."""
        return 3 * self.deadline_scan_seconds

    @property
    def memory_total_mb(self) -> float:
        return self.scoring_memory_total_mb or (machine_memory_mb() or 2 * self.scoring_memory_mb) / 2

    def attempts_at_once(self, slots: int, processes: int = 1) -> int:
        """How many attempts one of `processes` Podium processes of a machine runs at once: its `slots`, as far as
        their memory budgets fit in its share of the total; always at least one."""
        fitting = int(self.memory_total_mb / processes // self.scoring_memory_mb)
        return max(1, min(slots, fitting))


# `podium run` serves with gunicorn: this many processes of this many request threads each, unless told otherwise.
# Two processes keep a small machine (1 or 2 cores, 2 GB: a worker holds about 180 MB) serving while one is busy
# or being replaced, and use both cores of a 2-core machine; about two per core is right for a larger one.
DEFAULT_SERVER_WORKERS = 2
DEFAULT_SERVER_THREADS = 8


@dataclass(frozen=True)
class ClientLimits:
    """How long a client may take over its request and its answer (podium/slow_clients.py): a slow or stalled
    client must never hold one of the few request threads for long. Every field has an environment variable."""

    # The request line and headers must have arrived this long after the connection opened (or after the previous
    # answer on a kept-alive one). Until then the connection waits in the event loop and holds no thread.
    head_seconds: float = 20.0
    # A request body being read, or an answer being sent, may make no progress for this long at most.
    stall_seconds: float = 30.0
    # And a body must arrive at this average rate at least (in kB/s, 1 kB = 1000 bytes), after a first
    # `stall_seconds` of grace: far below any working connection (a 50 MB upload at 10 kB/s takes 85 minutes), but
    # it bounds how long a client trickling its body holds a thread.
    min_upload_kb_per_second: float = 10.0

    ENV = {"head_seconds": "PODIUM_REQUEST_HEAD_SECONDS", "stall_seconds": "PODIUM_CLIENT_STALL_SECONDS",
           "min_upload_kb_per_second": "PODIUM_UPLOAD_MIN_KB_PER_SECOND"}
    LEAST = {"head_seconds": 0.1, "stall_seconds": 0.1, "min_upload_kb_per_second": 0.001}

    @classmethod
    def from_env(cls, env) -> ClientLimits:
        given = {name: _number(env, var, None, minimum=cls.LEAST[name]) for name, var in cls.ENV.items()}
        return cls(**{name: value for name, value in given.items() if value is not None})

    @property
    def min_upload_bytes_per_second(self) -> float:
        return self.min_upload_kb_per_second * 1000


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool


def smtp_settings(env=None) -> SmtpSettings | None:
    """Mail for password-reset links, only when PODIUM_SMTP_HOST is set. Read when a mail is about to be sent,
    so that a running server picks up a mail server configured after it started."""
    env = os.environ if env is None else env
    host = env.get("PODIUM_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(host=host, port=int(_number(env, "PODIUM_SMTP_PORT", 587, integer=True, minimum=1)),
                        sender=env.get("PODIUM_SMTP_FROM", f"podium@{host}"),
                        username=env.get("PODIUM_SMTP_USER"), password=env.get("PODIUM_SMTP_PASSWORD"),
                        starttls=env.get("PODIUM_SMTP_STARTTLS", "true").lower() not in ("0", "false", "no"))


def link_base(env=None) -> str | None:
    """PODIUM_BASE_URL as it is now, for links in mails written outside a request (notifications); None when unset.
    Read when the mail is written, as the mail server's settings are read when it is sent."""
    return _base_url(os.environ if env is None else env)


def debug_requested() -> bool:
    """PODIUM_DEBUG: the `podium` command shows the traceback of an unexpected error. Read at the error, since
    it also covers errors in reading the settings themselves."""
    return bool(os.environ.get("PODIUM_DEBUG"))


def environment_for_child(**variables: str) -> dict[str, str]:
    """This process's environment with `variables` added, for a process Podium starts itself (`podium run --debug`
    starts its server so, telling it that it runs under the reloader)."""
    return {**os.environ, **variables}


@dataclass(frozen=True)
class Limit:
    """At most `hits` in a window of `seconds`; `hits == 0` means no limit."""

    hits: int
    seconds: int

    @property
    def off(self) -> bool:
        return self.hits == 0

    def describe(self) -> str:
        return f"{self.hits} per {_duration_words(self.seconds)}"


_LIMIT = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d+)\s*([smh]?))?\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_limit(name: str, text: str) -> Limit:
    """`5/15m` (5 per 15 minutes), `600/1m`, `100/30s`, `20/1h`; `0` turns the limit off."""
    match = _LIMIT.match(text or "")
    if match is None or (match.group(1) != "0" and match.group(2) is None):
        raise PodiumError(f"{name}={text!r}: write a limit as COUNT/DURATION, e.g. 5/15m (5 per 15 minutes), "
                          "600/1m or 100/30s; 0 turns it off")
    hits = int(match.group(1))
    if hits == 0:
        return Limit(0, 1)
    seconds = int(match.group(2)) * _UNIT[match.group(3)]
    if seconds <= 0:
        raise PodiumError(f"{name}={text!r}: the duration must be at least one second")
    return Limit(hits, seconds)


def _duration_words(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{unit}" if n == 1 else f"{n} {unit}s"
    return "second" if seconds == 1 else f"{seconds} seconds"


@dataclass(frozen=True)
class RateLimits:
    """Counted in the database, so every server process of a deployment shares them (podium.services.ratelimit)."""

    # Failed sign-ins are counted three ways, so that guesses from one address never lock the owner out elsewhere:
    sign_in: Limit = Limit(5, 15 * 60)            # per account from one address (also password-reset mails per account)
    sign_in_address: Limit = Limit(30, 15 * 60)   # per client address, over all accounts: a shared lab mistypes a few
    # per account over all addresses: a ceiling on guessing spread over many addresses, set above what one address
    # can reach under `sign_in` in its window (5 per 15 minutes is at most 25 in any hour), so one alone cannot lock
    # the account
    sign_in_account: Limit = Limit(50, 60 * 60)
    api: Limit = Limit(600, 60)                   # API requests per key (or per address without valid credentials)
    # Requests per client address to each route that needs no sign-in (the Kaggle upload URL, sign-in, forgot,
    # reset, /healthz), so that nobody can make the server work for free; as high as the API's per-address limit,
    # since a whole class behind one campus address uploads and signs in through these routes in a rush.
    public: Limit = Limit(600, 60)

    ENV = {"sign_in": "PODIUM_SIGN_IN_LIMIT", "sign_in_address": "PODIUM_SIGN_IN_ADDRESS_LIMIT",
           "sign_in_account": "PODIUM_SIGN_IN_ACCOUNT_LIMIT", "api": "PODIUM_API_LIMIT",
           "public": "PODIUM_PUBLIC_LIMIT"}

    @property
    def all(self) -> tuple[Limit, ...]:
        return tuple(getattr(self, name) for name in self.ENV)

    @classmethod
    def from_env(cls, env) -> RateLimits:
        return cls(**{field: parse_limit(var, env[var]) for field, var in cls.ENV.items() if env.get(var)})


@dataclass(frozen=True)
class StorageLimits:
    """What one student may make the server keep on disk (see the README's configuration table)."""

    # Bytes of Kaggle CLI uploads one student may have announced or sent and not handed in, over all their tickets
    # (podium.services.upload_tickets); 0: no cap. The CLI hands a file in right after sending it, so only an
    # interrupted command (or a script) leaves one waiting: twice the largest upload lets a student retry a
    # large file at once after an interruption.
    staged_bytes: int = 2 * DEFAULT_MAX_UPLOAD_MB * 1_000_000
    # Uploads that could not be scored one student may have per competition and day before further uploads are
    # refused until the count resets (a local midnight); 0: no cap. Failed uploads never count against the daily
    # limit (POLICY.md section 3), so that a student can fix a file; this bounds how many such files they make the
    # server store.
    failed_uploads_per_day: int = 10
    # Days a file that could not be scored is kept for diagnosis before the scheduler removes it (its submission
    # stays, saying so); 0: kept for ever.
    failed_file_days: float = 7.0

    @classmethod
    def from_env(cls, env, max_upload_mb: int) -> StorageLimits:
        staged_mb = _number(env, "PODIUM_STAGED_MB", 2 * max_upload_mb, integer=True)
        return cls(staged_bytes=staged_mb * 1_000_000,
                   failed_uploads_per_day=_number(env, "PODIUM_FAILED_UPLOADS_PER_DAY", cls.failed_uploads_per_day,
                                                  integer=True),
                   failed_file_days=_number(env, "PODIUM_FAILED_FILE_DAYS", cls.failed_file_days))

    @property
    def failed_file_seconds(self) -> float | None:
        """How long a failed file is kept, None: for ever."""
        return self.failed_file_days * 24 * 3600 or None


SECURE_COOKIE_CHOICES = ("auto", "always", "never")


def _secure_cookies(env) -> str:
    value = (env.get("PODIUM_SECURE_COOKIES") or "auto").strip().lower()
    value = {"true": "always", "1": "always", "yes": "always", "false": "never", "0": "never", "no": "never"}.get(
        value, value)
    if value not in SECURE_COOKIE_CHOICES:
        raise PodiumError(f"PODIUM_SECURE_COOKIES={env.get('PODIUM_SECURE_COOKIES')!r}: use auto (Secure when the "
                          "request came over HTTPS), always or never")
    return value


def _trust_proxy(env) -> int:
    raw = (env.get("PODIUM_TRUST_PROXY") or "0").strip().lower()
    raw = {"true": "1", "yes": "1", "false": "0", "no": "0"}.get(raw, raw)
    if not raw.isdigit():
        raise PodiumError(f"PODIUM_TRUST_PROXY={env.get('PODIUM_TRUST_PROXY')!r}: give the number of reverse "
                          "proxies in front of Podium (usually 1), or 0 when clients connect directly")
    return int(raw)


def _base_url(env) -> str | None:
    """PODIUM_BASE_URL without its trailing slash, e.g. `https://podium.example.edu` or `https://cs.example.edu/podium`;
    None when unset."""
    raw = (env.get("PODIUM_BASE_URL") or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "?" in raw or "#" in raw
            or parts.username is not None or any(c.isspace() for c in raw)):
        raise PodiumError(f"PODIUM_BASE_URL={env.get('PODIUM_BASE_URL')!r}: give the address people open Podium at, "
                          "an absolute http:// or https:// URL without query or fragment, e.g. "
                          "https://podium.example.edu")
    return raw.rstrip("/")


@dataclass(frozen=True)
class OidcSettings:
    """OpenID Connect sign-in (podium.services.oidc): the provider found through its discovery document, Podium
    registered with it as a confidential client whose redirect URI is PODIUM_BASE_URL + /sign-in/oidc/callback."""

    discovery_url: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    email_claim: str = "email"  # the claim that holds the address accounts are matched by
    provider_name: str = "single sign-on"  # the button says "Sign in with <provider_name>"


OIDC_VARIABLES = ("PODIUM_OIDC_DISCOVERY_URL", "PODIUM_OIDC_CLIENT_ID", "PODIUM_OIDC_CLIENT_SECRET",
                  "PODIUM_OIDC_SCOPES", "PODIUM_OIDC_EMAIL_CLAIM", "PODIUM_OIDC_PROVIDER_NAME")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _oidc(env, base_url: str | None) -> OidcSettings | None:
    """The OpenID Connect settings, or None when PODIUM_OIDC_DISCOVERY_URL is unset; each mistake is one line that
    says what to set, at start-up rather than when the first person clicks the button."""
    given = {name: (env.get(name) or "").strip() for name in OIDC_VARIABLES}
    url = given["PODIUM_OIDC_DISCOVERY_URL"]
    if not url:
        if stray := [name for name, value in given.items() if value]:
            raise PodiumError(f"{stray[0]} is set but PODIUM_OIDC_DISCOVERY_URL is not: give the provider's discovery "
                              "address (https://.../.well-known/openid-configuration), or unset the PODIUM_OIDC_ "
                              "settings")
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PodiumError(f"PODIUM_OIDC_DISCOVERY_URL={url!r}: give the provider's discovery address, an absolute "
                          "https:// URL such as https://login.example.edu/.well-known/openid-configuration")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # Tokens and the client secret travel to the provider's endpoints: plain HTTP only on this machine.
        raise PodiumError(f"PODIUM_OIDC_DISCOVERY_URL={url!r}: use https:// (plain http:// only for a provider on "
                          "this machine, e.g. http://127.0.0.1:...)")
    for name in ("PODIUM_OIDC_CLIENT_ID", "PODIUM_OIDC_CLIENT_SECRET"):
        if not given[name]:
            raise PodiumError(f"PODIUM_OIDC_DISCOVERY_URL is set but {name} is not: give the client id and secret "
                              "the provider registered Podium with")
    if base_url is None:
        raise PodiumError("PODIUM_OIDC_DISCOVERY_URL needs PODIUM_BASE_URL: the address the provider sends people "
                          "back to (PODIUM_BASE_URL/sign-in/oidc/callback, registered with the provider) is built "
                          "from it, never from a request's Host")
    scopes = " ".join((given["PODIUM_OIDC_SCOPES"] or OidcSettings.scopes).replace(",", " ").split())
    if "openid" not in scopes.split():
        raise PodiumError(f"PODIUM_OIDC_SCOPES={given['PODIUM_OIDC_SCOPES']!r}: OpenID Connect needs the scope "
                          "openid, e.g. \"openid email profile\"")
    return OidcSettings(discovery_url=url, client_id=given["PODIUM_OIDC_CLIENT_ID"],
                        client_secret=given["PODIUM_OIDC_CLIENT_SECRET"], scopes=scopes,
                        email_claim=given["PODIUM_OIDC_EMAIL_CLAIM"] or OidcSettings.email_claim,
                        provider_name=given["PODIUM_OIDC_PROVIDER_NAME"] or OidcSettings.provider_name)


_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _password_sign_in(env) -> bool:
    raw = (env.get("PODIUM_PASSWORD_SIGN_IN") or "on").strip().lower()
    if raw not in _ON + _OFF:
        raise PodiumError(f"PODIUM_PASSWORD_SIGN_IN={env.get('PODIUM_PASSWORD_SIGN_IN')!r}: use on (people may sign "
                          "in with a password) or off (only through single sign-on)")
    return raw in _ON


@dataclass(frozen=True)
class AuthProxySettings:
    """An authenticating reverse proxy (Shibboleth, oauth2-proxy) that names the signed-in person in a header."""

    header: str
    # The addresses the header is believed from: the proxy that connects to Podium (the TCP peer, whatever
    # X-Forwarded-For says), as Grafana's auth proxy whitelist does.
    proxies: tuple = ()  # ipaddress networks

    def believes(self, peer: str | None) -> bool:
        import ipaddress

        try:
            address = ipaddress.ip_address((peer or "").split("%")[0])
        except ValueError:
            return False
        return any(address in network for network in self.proxies)


DEFAULT_AUTH_PROXIES = "127.0.0.1/32,::1/128"


def _auth_proxy(env, trust_proxy: int) -> AuthProxySettings | None:
    import ipaddress

    header = (env.get("PODIUM_AUTH_HEADER") or "").strip()
    if not header:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise PodiumError(f"PODIUM_AUTH_HEADER={header!r}: give the name of a request header, e.g. X-Forwarded-Email")
    if header.lower() in ("authorization", "cookie", "host") or header.lower().startswith("x-forwarded-for"):
        raise PodiumError(f"PODIUM_AUTH_HEADER={header!r}: name the header your proxy puts the signed-in person's "
                          "email in, e.g. X-Forwarded-Email")
    if trust_proxy < 1:
        raise PodiumError("PODIUM_AUTH_HEADER needs PODIUM_TRUST_PROXY (1 behind one proxy): the header is believed "
                          "only from a reverse proxy, never from a client that connects directly")
    raw = (env.get("PODIUM_AUTH_PROXY_ADDRESSES") or DEFAULT_AUTH_PROXIES)
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise PodiumError(f"PODIUM_AUTH_PROXY_ADDRESSES: {item!r} is not an address or a network; give the "
                              "addresses of the proxies that connect to Podium, e.g. 127.0.0.1,10.0.0.0/24") from None
    if not networks:
        raise PodiumError("PODIUM_AUTH_PROXY_ADDRESSES is empty: give the addresses of the proxies that connect to "
                          "Podium, e.g. 127.0.0.1")
    return AuthProxySettings(header=header, proxies=tuple(networks))


SQLITE_SYNCHRONOUS_CHOICES = ("FULL", "NORMAL", "OFF")


def _sqlite_synchronous(env) -> str:
    value = (env.get("PODIUM_SQLITE_SYNCHRONOUS") or "FULL").strip().upper()
    if value not in SQLITE_SYNCHRONOUS_CHOICES:
        raise PodiumError(f"PODIUM_SQLITE_SYNCHRONOUS={env.get('PODIUM_SQLITE_SYNCHRONOUS')!r}: use FULL (every "
                          "commit reaches the disk before it returns), NORMAL or OFF (throwaway databases only)")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1_000_000
    storage: StorageLimits = field(default_factory=StorageLimits)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # How many reverse proxies' X-Forwarded-* headers to believe (client address, HTTPS); 0: none, the safe default
    # when clients connect directly, since anyone can send those headers.
    trust_proxy: int = 0
    # Session cookies marked Secure: "auto" when the request came over HTTPS (behind a proxy: as X-Forwarded-Proto
    # says, if trusted), "always" or "never".
    secure_cookies: str = "auto"
    # SQLite's PRAGMA synchronous: FULL keeps every acknowledged upload through a power cut; OFF is for databases
    # nobody needs after a crash, such as the test suite's.
    sqlite_synchronous: str = "FULL"
    # The address people open Podium at (PODIUM_BASE_URL), for links that leave the request (mail); never taken from
    # a request's Host or X-Forwarded-Host, which a client chooses. None: Podium mails no links.
    base_url: str | None = None
    db_pool_size: int = DEFAULT_DB_POOL_SIZE  # PODIUM_DB_POOL_SIZE, PostgreSQL only
    db_max_overflow: int = DEFAULT_DB_MAX_OVERFLOW  # PODIUM_DB_MAX_OVERFLOW
    db_lock_timeout_seconds: float = DEFAULT_DB_LOCK_TIMEOUT_SECONDS  # PODIUM_DB_LOCK_TIMEOUT_SECONDS
    # How long a browser session lasts: until this long without a request (PODIUM_SESSION_IDLE_MINUTES), and never
    # longer than this after sign-in (PODIUM_SESSION_MAX_DAYS).
    session_idle_minutes: float = DEFAULT_SESSION_IDLE_MINUTES
    session_max_days: float = DEFAULT_SESSION_MAX_DAYS
    jobs: JobSettings = field(default_factory=JobSettings)
    # Single sign-on (README, "Signing in"): OpenID Connect, an authenticating proxy's header, and whether people
    # may still sign in with a password (PODIUM_PASSWORD_SIGN_IN); API keys work whatever these say.
    oidc: OidcSettings | None = None
    auth_proxy: AuthProxySettings | None = None
    password_sign_in: bool = True
    # Whom people enrolled nowhere are told to write to (PODIUM_CONTACT_EMAIL); None: their course staff.
    contact_email: str | None = None
    client_limits: ClientLimits = field(default_factory=ClientLimits)
    extra: dict = field(default_factory=dict)

    def stored_path(self, path: Path) -> str:
        """How the database records a file or folder of the data dir: relative to it, so that the data dir can move
        whole (restored elsewhere, copied with its database) without a row to rewrite. Anything outside it
        (an instructor's course folder) is recorded as it is."""
        try:
            return Path(path).relative_to(self.data_dir).as_posix()
        except ValueError:
            return str(path)

    def located(self, stored: str) -> Path:
        """The file or folder a row records (`stored_path`); an absolute path, as rows written before paths were
        kept relative hold, stands as it is."""
        return self.data_dir / stored

    @property
    def session_idle_seconds(self) -> float:
        return self.session_idle_minutes * 60

    @property
    def session_max_seconds(self) -> float:
        return self.session_max_days * 24 * 3600

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def compiled_dir(self) -> Path:
        """Where solutions are kept in their fast, pre-parsed form."""
        return self.data_dir / "compiled"

    @property
    def courses_dir(self) -> Path:
        """Where loaded course folders are copied, so a running server never reads the instructor's checkout."""
        return self.data_dir / "courses"


def _sign_on(env, base_url: str | None, trust_proxy: int) -> dict:
    """How people sign in: the Settings fields of single sign-on, checked together (turning passwords off with no
    other way in would lock everyone out of the site)."""
    oidc, auth_proxy, password = _oidc(env, base_url), _auth_proxy(env, trust_proxy), _password_sign_in(env)
    if not password and oidc is None and auth_proxy is None:
        raise PodiumError("PODIUM_PASSWORD_SIGN_IN=off leaves no way to sign in: set up PODIUM_OIDC_DISCOVERY_URL "
                          "or PODIUM_AUTH_HEADER first")
    contact = (env.get("PODIUM_CONTACT_EMAIL") or "").strip() or None
    if contact is not None and ("@" not in contact or any(c.isspace() for c in contact)):
        raise PodiumError(f"PODIUM_CONTACT_EMAIL={contact!r}: give one email address, e.g. podium-help@example.edu")
    return dict(oidc=oidc, auth_proxy=auth_proxy, password_sign_in=password, contact_email=contact)


def _secret_key(data_dir: Path) -> str:
    """The key from SECRET_KEY, or one generated on first start and kept beside the data."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:  # created private from the start, not chmod-ed after others could open it; the first of two starts wins
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


def read_dotenv() -> None:
    """The `.env` file of the working directory, where an instructor keeps a deployment's settings; the
    environment wins over it."""
    path = Path.cwd() / ".env"
    if path.is_file():
        from dotenv import load_dotenv  # only when there is a file: every `podium` command starts here

        load_dotenv(path, override=False)


def load_settings(**overrides) -> Settings:
    """Read the settings; keyword overrides (used by tests) win over the environment."""
    read_dotenv()
    data_dir = Path(overrides.pop("data_dir", None) or os.environ.get("PODIUM_DATA_DIR", "instance")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = overrides.pop("database_url", None) or os.environ.get(
        "DATABASE_URL", f"sqlite:///{data_dir / 'podium.db'}"
    )
    env = os.environ
    max_mb = _number(env, "PODIUM_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, integer=True, minimum=1)
    trust_proxy = overrides.pop("trust_proxy", None) or _trust_proxy(os.environ)
    base_url = overrides.pop("base_url", None) or _base_url(env)
    sign_on = _sign_on(env, base_url, trust_proxy)
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=overrides.pop("secret_key", None) or _secret_key(data_dir),
        max_upload_bytes=overrides.pop("max_upload_bytes", max_mb * 1_000_000),
        storage=overrides.pop("storage", None) or StorageLimits.from_env(env, max_mb),
        rate_limits=overrides.pop("rate_limits", None) or RateLimits.from_env(os.environ),
        trust_proxy=trust_proxy,
        secure_cookies=overrides.pop("secure_cookies", None) or _secure_cookies(os.environ),
        sqlite_synchronous=overrides.pop("sqlite_synchronous", None) or _sqlite_synchronous(env),
        base_url=base_url,
        **sign_on,
        db_pool_size=_number(env, "PODIUM_DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE, integer=True, minimum=1),
        db_max_overflow=_number(env, "PODIUM_DB_MAX_OVERFLOW", DEFAULT_DB_MAX_OVERFLOW, integer=True),
        db_lock_timeout_seconds=_number(env, "PODIUM_DB_LOCK_TIMEOUT_SECONDS", DEFAULT_DB_LOCK_TIMEOUT_SECONDS,
                                        minimum=0.1),
        session_idle_minutes=overrides.pop("session_idle_minutes", None)
        or _number(env, "PODIUM_SESSION_IDLE_MINUTES", DEFAULT_SESSION_IDLE_MINUTES, minimum=1),
        session_max_days=overrides.pop("session_max_days", None)
        or _number(env, "PODIUM_SESSION_MAX_DAYS", DEFAULT_SESSION_MAX_DAYS, minimum=0.01),
        jobs=overrides.pop("jobs", None) or JobSettings.from_env(env),
        client_limits=overrides.pop("client_limits", None) or ClientLimits.from_env(env),
        extra=overrides,
    )
