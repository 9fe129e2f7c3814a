"""Fixtures shared by the platform's tests: a small course folder on disk and a runtime on a fresh database."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from podium.runtime import make_runtime

TZ = "America/New_York"
N_ROWS = 20


def wallclock(instant: datetime, tz: str = TZ) -> str:
    return instant.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def write_course(root: Path, *, now: datetime | None = None, slug: str = "c1", competition: str = "hw1",
                 extra_competition: str = "", extra_evaluation: str = "", cutoffs: str | None = None) -> Path:
    """A course with one accuracy competition: open now, on-time in 3 days, late window 4 days more.

    Ids 0..19; the first 6 rows Public, the next 12 Private, the last 2 Ignored; labels id % 3.
    """
    now = now or datetime.now(timezone.utc)
    course = root / slug
    comp = course / competition
    comp.mkdir(parents=True, exist_ok=True)
    (course / "course.toml").write_text(textwrap.dedent(f"""
        [course]
        slug = "{slug}"
        title = "Course {slug}"
        timezone = "{TZ}"

        [policy]
        daily_limit = 5
    """))
    (comp / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "{competition}"
        title = "Homework {competition}"
        {extra_competition}

        [schedule]
        opens = "{wallclock(now - timedelta(days=10))}"
        early = "{wallclock(now - timedelta(days=5))}"
        ontime = "{wallclock(now + timedelta(days=3))}"
        late = "{wallclock(now + timedelta(days=7))}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"
        sample_submission = "sample_submission.csv"
        data_files = ["README.md", "sample_submission.csv"]
        {extra_evaluation}

        [grading]
        cutoffs = {cutoffs or '{ A = 0.9, B = 0.8, C = 0.7, D = 0.5 }'}
    """))
    usage = ["Public"] * 6 + ["Private"] * 12 + ["Ignored"] * 2
    (comp / "solution.csv").write_text("id,label,Usage\n" + "".join(f"{i},{i % 3},{usage[i]}\n" for i in range(N_ROWS)))
    (comp / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},0\n" for i in range(N_ROWS)))
    (comp / "README.md").write_text("# Homework\nPredict the label of each id.\n")
    return course


def predictions(correct: set[int] | None = None, rows: range = range(N_ROWS)) -> str:
    """A submission that is right exactly on the ids in `correct` (all of them when None)."""
    lines = ["id,label"]
    for i in rows:
        right = correct is None or i in correct
        lines.append(f"{i},{i % 3 if right else (i + 1) % 3}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def rt(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("PODIUM_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runtime = make_runtime()
    runtime.db.upgrade()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def course_dir(tmp_path) -> Path:
    return write_course(tmp_path / "courses")


@pytest.fixture
def podium_cli(rt):
    """Run `podium ...` in-process against the test runtime; returns click's Result (stdout, stderr, exit_code)."""
    from podium.cli import cli

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, [str(a) for a in args], obj=rt, catch_exceptions=False)

    return run
