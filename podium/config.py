"""Configuration from the environment (a `.env` file in the working directory is read too).

Nothing is required to start: the defaults give an embedded SQLite database and local files under
`./instance`, and a secret key generated once and kept in the data directory.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from podium.errors import PodiumError

DEFAULT_MAX_UPLOAD_MB = 200


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

    sign_in_account: Limit = Limit(5, 15 * 60)    # failed sign-ins per account (and password-reset mails)
    sign_in_address: Limit = Limit(30, 15 * 60)   # failed sign-ins per client address: a shared lab mistypes a few
    api: Limit = Limit(600, 60)                   # API requests per key (or per address without valid credentials)

    ENV = {"sign_in_account": "PODIUM_SIGN_IN_LIMIT", "sign_in_address": "PODIUM_SIGN_IN_ADDRESS_LIMIT",
           "api": "PODIUM_API_LIMIT"}

    @classmethod
    def from_env(cls, env) -> RateLimits:
        return cls(**{field: parse_limit(var, env[var]) for field, var in cls.ENV.items() if env.get(var)})


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


def _secret_key(data_dir: Path) -> str:
    """The key from SECRET_KEY, or one generated on first start and kept beside the data."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(**overrides) -> Settings:
    """Read the settings; keyword overrides (used by tests) win over the environment."""
    load_dotenv(override=False)
    data_dir = Path(overrides.pop("data_dir", None) or os.environ.get("PODIUM_DATA_DIR", "instance")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = overrides.pop("database_url", None) or os.environ.get(
        "DATABASE_URL", f"sqlite:///{data_dir / 'podium.db'}"
    )
    max_mb = int(os.environ.get("PODIUM_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=overrides.pop("secret_key", None) or _secret_key(data_dir),
        max_upload_bytes=overrides.pop("max_upload_bytes", max_mb * 1_000_000),
        rate_limits=overrides.pop("rate_limits", None) or RateLimits.from_env(os.environ),
        trust_proxy=overrides.pop("trust_proxy", None) or _trust_proxy(os.environ),
        secure_cookies=overrides.pop("secure_cookies", None) or _secure_cookies(os.environ),
        sqlite_synchronous=overrides.pop("sqlite_synchronous", None) or _sqlite_synchronous(os.environ),
        extra=overrides,
    )
