"""Configuration from the environment (a `.env` file in the working directory is read too).

Nothing is required to start: the defaults give an embedded SQLite database and local files under
`./instance`, and a secret key generated once and kept in the data directory.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_MAX_UPLOAD_MB = 200


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1_000_000
    extra: dict = field(default_factory=dict)

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
        extra=overrides,
    )
