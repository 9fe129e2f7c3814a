"""The configuration: read from the environment in podium/config.py alone, with one clear line for a bad value."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from podium.config import ClientLimits, JobSettings, Limit, RateLimits, StorageLimits, load_settings
from podium.errors import PodiumError

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "podium" / "config.py"


def environment_reads(path: Path) -> list[int]:
    """Lines of `path` that name os.environ, os.getenv or environ (imported from os) in code."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "getenvb") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(alias.name in ("environ", "getenv", "environb", "getenvb") for alias in node.names):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_only_the_configuration_module_reads_the_environment():
    found = [f"{path.relative_to(ROOT)}:{line}"
             for package in ("podium", "scorers")
             for path in sorted((ROOT / package).rglob("*.py")) if path != CONFIG
             for line in environment_reads(path)]
    assert not found, ("the environment is read outside podium/config.py (add a setting there and pass it down): "
                       + ", ".join(found))


def test_the_check_finds_each_way_of_reading_the_environment(tmp_path):
    source = tmp_path / "reader.py"
    source.write_text("import os\nfrom os import getenv\nA = os.environ.get('X')\nB = os.getenv('Y')\n")
    assert environment_reads(source) == [2, 3, 4]


@pytest.mark.parametrize("name, value", [("PODIUM_SCORING_LEASE_SECONDS", "ten"),
                                         ("PODIUM_SCORING_WORKERS", "0"),
                                         ("PODIUM_SCORING_SECONDS", "0"),
                                         ("PODIUM_SCORING_MEMORY_MB", "2 GB"),
                                         ("PODIUM_SCORING_MEMORY_TOTAL_MB", "-5"),
                                         ("PODIUM_SCORING_ATTEMPTS", "1.5"),
                                         ("PODIUM_QUEUE_POLL_SECONDS", "0"),
                                         ("PODIUM_DB_POOL_SIZE", "2.5"),
                                         ("PODIUM_FINALISE_GRACE_SECONDS", "-1"),
                                         ("PODIUM_SESSION_IDLE_MINUTES", "0"),
                                         ("PODIUM_SESSION_MAX_DAYS", "two weeks"),
                                         ("PODIUM_STAGED_MB", "-1"),
                                         ("PODIUM_FAILED_UPLOADS_PER_DAY", "2.5"),
                                         ("PODIUM_FAILED_FILE_DAYS", "a week"),
                                         ("PODIUM_CLEANUP_SECONDS", "-5"),
                                         ("PODIUM_BASE_URL", "podium.example.edu"),
                                         ("PODIUM_BASE_URL", "ftp://podium.example.edu"),
                                         ("PODIUM_BASE_URL", "https://podium.example.edu/?next=x"),
                                         ("PODIUM_BASE_URL", "https://podium.example.edu/#top"),
                                         ("PODIUM_BASE_URL", "https://:443/"),
                                         ("PODIUM_REQUEST_HEAD_SECONDS", "0"),
                                         ("PODIUM_CLIENT_STALL_SECONDS", "soon"),
                                         ("PODIUM_UPLOAD_MIN_KB_PER_SECOND", "0")])
def test_a_bad_value_is_one_line_naming_the_variable(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(PodiumError) as refusal:
        load_settings(data_dir=tmp_path)
    assert refusal.value.message.startswith(f"{name}={value!r}: give ") and "\n" not in refusal.value.message


def test_the_base_url_for_links_in_mail_comes_from_the_environment_only(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_BASE_URL", raising=False)
    assert load_settings(data_dir=tmp_path).base_url is None
    monkeypatch.setenv("PODIUM_BASE_URL", "https://cs.example.edu/podium/")
    assert load_settings(data_dir=tmp_path).base_url == "https://cs.example.edu/podium"


def test_background_and_pool_settings_come_from_the_environment(tmp_path, monkeypatch):
    for name in JobSettings.ENV.values():
        monkeypatch.delenv(name, raising=False)
    assert load_settings(data_dir=tmp_path).jobs == JobSettings()
    monkeypatch.setenv("PODIUM_SCORING_LEASE_SECONDS", "120")
    monkeypatch.setenv("PODIUM_FINALISE_GRACE_SECONDS", "5")
    monkeypatch.setenv("PODIUM_SCORING_WORKERS", "3")
    monkeypatch.setenv("PODIUM_DB_POOL_SIZE", "7")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.jobs.lease_seconds, settings.jobs.finalise_grace_seconds) == (120, 5)
    assert settings.jobs.workers == settings.jobs.scoring_workers == 3
    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 10)


def test_slow_client_limits_come_from_the_environment(tmp_path, monkeypatch):
    for name in ClientLimits.ENV.values():
        monkeypatch.delenv(name, raising=False)
    assert load_settings(data_dir=tmp_path).client_limits == ClientLimits()
    monkeypatch.setenv("PODIUM_REQUEST_HEAD_SECONDS", "5")
    monkeypatch.setenv("PODIUM_CLIENT_STALL_SECONDS", "2.5")
    monkeypatch.setenv("PODIUM_UPLOAD_MIN_KB_PER_SECOND", "50")
    limits = load_settings(data_dir=tmp_path).client_limits
    assert (limits.head_seconds, limits.stall_seconds, limits.min_upload_bytes_per_second) == (5, 2.5, 50_000)


def test_scoring_budgets_come_from_the_environment_with_defaults_for_the_largest_upload(tmp_path, monkeypatch):
    for name in JobSettings.ENV.values():
        monkeypatch.delenv(name, raising=False)
    jobs = load_settings(data_dir=tmp_path).jobs
    assert (jobs.scoring_seconds, jobs.scoring_memory_mb, jobs.scoring_attempts) == (120, 2048, 2)
    assert jobs.scoring_memory_total_mb is None and jobs.memory_total_mb > 0  # half the machine's memory
    monkeypatch.setenv("PODIUM_SCORING_SECONDS", "1.5")
    monkeypatch.setenv("PODIUM_SCORING_MEMORY_MB", "300")
    monkeypatch.setenv("PODIUM_SCORING_MEMORY_TOTAL_MB", "1000")
    monkeypatch.setenv("PODIUM_SCORING_ATTEMPTS", "3")
    monkeypatch.setenv("PODIUM_QUEUE_POLL_SECONDS", "0.5")
    jobs = load_settings(data_dir=tmp_path).jobs
    assert (jobs.scoring_seconds, jobs.scoring_memory_mb, jobs.memory_total_mb) == (1.5, 300, 1000)
    assert (jobs.scoring_attempts, jobs.queue_poll_seconds) == (3, 0.5)


@pytest.mark.parametrize(("slots", "processes", "total_mb", "at_once"),
                         [(4, 1, 8192, 4), (4, 1, 4096, 2), (4, 2, 8192, 2), (2, 4, 8192, 1), (4, 1, 1000, 1)])
def test_attempts_at_once_share_the_memory_budget(slots, processes, total_mb, at_once):
    jobs = JobSettings(scoring_memory_mb=2048, scoring_memory_total_mb=total_mb)
    assert jobs.attempts_at_once(slots, processes) == at_once


def test_session_lifetimes_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_SESSION_IDLE_MINUTES", raising=False)
    monkeypatch.delenv("PODIUM_SESSION_MAX_DAYS", raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert (settings.session_idle_seconds, settings.session_max_seconds) == (24 * 3600, 14 * 24 * 3600)
    monkeypatch.setenv("PODIUM_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("PODIUM_SESSION_MAX_DAYS", "0.5")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.session_idle_seconds, settings.session_max_seconds) == (30 * 60, 12 * 3600)


def test_a_dotenv_file_in_the_working_directory_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    for name in ("PODIUM_MAX_UPLOAD_MB", "PODIUM_SCORING_NICE"):
        monkeypatch.setenv(name, "restored after the test")  # what .env sets is undone with it
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_SCORING_NICE", "3")
    (tmp_path / ".env").write_text("PODIUM_MAX_UPLOAD_MB=7\nPODIUM_SCORING_NICE=12\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path / "data", secret_key="k")
    assert settings.max_upload_bytes == 7_000_000 and settings.jobs.scoring_nice == 3


STORAGE_VARIABLES = ("PODIUM_STAGED_MB", "PODIUM_FAILED_UPLOADS_PER_DAY", "PODIUM_FAILED_FILE_DAYS",
                     "PODIUM_MAX_UPLOAD_MB", "PODIUM_PUBLIC_LIMIT", "PODIUM_CLEANUP_SECONDS")


def test_the_disk_caps_and_the_public_limit_come_from_the_environment(tmp_path, monkeypatch):
    for name in STORAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.storage == StorageLimits(staged_bytes=400_000_000, failed_uploads_per_day=10, failed_file_days=7)
    assert settings.rate_limits.public == Limit(600, 60) and settings.jobs.cleanup_seconds == 300
    monkeypatch.setenv("PODIUM_MAX_UPLOAD_MB", "50")  # waiting uploads default to twice the largest upload
    assert load_settings(data_dir=tmp_path).storage.staged_bytes == 100_000_000
    monkeypatch.setenv("PODIUM_STAGED_MB", "30")
    monkeypatch.setenv("PODIUM_FAILED_UPLOADS_PER_DAY", "3")
    monkeypatch.setenv("PODIUM_FAILED_FILE_DAYS", "0.5")
    monkeypatch.setenv("PODIUM_PUBLIC_LIMIT", "100/30s")
    monkeypatch.setenv("PODIUM_CLEANUP_SECONDS", "60")
    settings = load_settings(data_dir=tmp_path)
    assert settings.storage == StorageLimits(staged_bytes=30_000_000, failed_uploads_per_day=3, failed_file_days=0.5)
    assert settings.storage.failed_file_seconds == 12 * 3600
    assert settings.rate_limits.public == Limit(100, 30) and settings.jobs.cleanup_seconds == 60


def test_zero_turns_each_disk_cap_off(tmp_path, monkeypatch):
    for name in ("PODIUM_STAGED_MB", "PODIUM_FAILED_UPLOADS_PER_DAY", "PODIUM_FAILED_FILE_DAYS"):
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv("PODIUM_PUBLIC_LIMIT", "0")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.storage.staged_bytes, settings.storage.failed_uploads_per_day) == (0, 0)
    assert settings.storage.failed_file_seconds is None  # kept for ever
    assert settings.rate_limits.public.off and RateLimits().public.hits > 0
