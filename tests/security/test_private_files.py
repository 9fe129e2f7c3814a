"""What Podium writes to disk is its service user's alone: the SQLite database, the secret key, uploads, data files
and compiled solutions. A shared machine's other accounts must not read the submissions, password hashes or the key
that signs sessions."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

from podium.runtime import make_runtime
from podium.services import submissions
from tests.conftest import predictions

PODIUM = [sys.executable, "-m", "podium.cli"]


def shared_bits(path: Path) -> int:
    """The permission bits that let the group or other accounts in."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077


def test_podium_init_creates_the_database_and_secret_key_for_its_user_only(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PODIUM_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'podium.db'}"}
    env.pop("SECRET_KEY", None)
    # A permissive umask, as a login shell usually has: Podium must not rely on the caller's.
    done = subprocess.run(["/bin/sh", "-c", 'umask 022; exec "$@"', "sh", *PODIUM, "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for path in (data, data / "podium.db", data / "secret_key"):
        assert path.exists() and shared_bits(path) == 0, f"{path}: {oct(stat.S_IMODE(path.stat().st_mode))}"


def test_an_upload_and_its_folders_are_stored_for_the_service_user_only(rt, course_dir, tmp_path):
    from podium.services.courses import get_competition, get_course, load_course
    from podium.services import users

    previous = os.umask(0o022)
    try:
        runtime = make_runtime()  # a process starting under a permissive umask
        with runtime.db.session() as session:
            load_course(session, runtime.settings, course_dir)
            student = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
            comp_id = get_competition(session, "c1-hw1").id
        sub = submissions.receive(runtime.db, runtime.settings, comp_id, student.id,
                                  io.BytesIO(predictions().encode()), "p.csv")
        stored = runtime.settings.located(sub.file_path)
        made = [stored, *[p for p in stored.parents if runtime.settings.data_dir in p.parents],
                *runtime.settings.compiled_dir.rglob("*"), *runtime.settings.courses_dir.rglob("*")]
        leaks = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in made if shared_bits(p)}
        assert not leaks
        runtime.db.dispose()
    finally:
        os.umask(previous)
