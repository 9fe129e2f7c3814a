"""Start-up benchmark: the light `podium` commands, each a whole process, against `python -c pass`.

    .venv/bin/python bench/cli.py [--runs N] [--students S]

A fresh data folder gets a small course: one accuracy competition on bench/scoring.py's HW1P2 data (10,000 rows,
loaded with `podium load`), S students from a roster (`podium users import`) and 10 scored submissions each,
written straight into the database. Then each light command runs N times as the console script `podium`
(`--help`, `jobs`, `users token EMAIL`, `grades explain COMP EMAIL`, `slack balance COURSE`), and so do two
references measured in the same run: `python -c pass`, the floor any Python process pays, and `python -c "import
sqlalchemy.orm"`, the database layer every command but `--help` needs. Each command's median is printed in
seconds and as a multiple of the floor, with PASS/MISS against the target: under 0.5 s. On a busy machine every
time grows; the database layer's line shows by how much. A command that is slow because it imports what it does
not use (pandas, pyarrow, the web app) shows here; tests/test_cli_imports.py guards the imports themselves.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The Podium timed is this checkout's, whichever checkout the interpreter's editable install points at.
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO)]
from course import write_hw1p2_course  # noqa: E402  (bench/course.py)
from scoring import make_hw1p2  # noqa: E402  (bench/scoring.py: the shared HW1P2 data)

TARGET_SECONDS = 0.5
ROWS = 10_000
COURSE = "bench"
COMPETITION = f"{COURSE}-hw1p2"
PER_STUDENT = 10


def podium_command() -> list[str]:
    """The console script an instructor runs, installed beside this interpreter."""
    script = Path(sys.executable).with_name("podium")
    return [str(script)] if script.exists() else [sys.executable, "-m", "podium.cli"]


def light_commands(email: str) -> dict[str, list[str]]:
    return {
        "podium --help": ["--help"],
        "podium jobs": ["jobs"],
        "podium users token EMAIL": ["users", "token", email],
        "podium grades explain COMP EMAIL": ["grades", "explain", COMPETITION, email],
        "podium slack balance COURSE": ["slack", "balance", COURSE],
    }


def run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")


def prepare(root: Path, env: dict, students: int) -> str:
    """The course, the roster and the scored submissions; returns a student's email."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    opens, ontime, late = now - timedelta(days=20), now - timedelta(days=6), now - timedelta(days=1)
    solution, _upload = make_hw1p2(ROWS)
    course = write_hw1p2_course(root / "courses", solution, slug=COURSE, title="CLI benchmark", opens=opens,
                                ontime=ontime, late=late, daily_limit=10)
    roster = root / "roster.csv"
    emails = [f"student{i:03d}@bench.example" for i in range(1, students + 1)]
    roster.write_text("email,name\n" + "".join(f"{email},Student {i}\n" for i, email in enumerate(emails, 1)))
    run([*podium_command(), "load", str(course)], env)
    run([*podium_command(), "users", "import", str(roster), "--course", COURSE], env)
    add_scored_submissions(env, emails, opens, late)
    return emails[0]


def add_scored_submissions(env: dict, emails: list[str], opens: datetime, late: datetime) -> None:
    """PER_STUDENT scored submissions per student spread over the windows, without scoring files: the commands
    measured here read submissions, they never score one."""
    from sqlalchemy import insert, select

    from podium.models import Competition, Status, Submission, User
    from podium.runtime import make_runtime

    rt = make_runtime(data_dir=Path(env["PODIUM_DATA_DIR"]))
    span = (late - opens) / PER_STUDENT
    try:
        with rt.db.session() as session:
            comp_id = session.scalar(select(Competition.id))
            user_ids = session.scalars(select(User.id).where(User.email.in_(emails))).all()
            session.execute(insert(Submission), [
                {"competition_id": comp_id, "user_id": user_id, "submitted_at": opens + span * (k + 0.5),
                 "file_path": "-", "file_name": "p.csv", "sha256": "-", "size_bytes": 1, "status": Status.scored,
                 "public_score": 0.5 + 0.01 * k, "private_score": 0.5 + 0.01 * k}
                for user_id in user_ids for k in range(PER_STUDENT)])
    finally:
        rt.db.dispose()


def median_seconds(command: list[str], env: dict, runs: int) -> float:
    run(command, env)  # warm-up: the file-system cache and the bytecode, as for an instructor's second command
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(command, env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (default 7)")
    parser.add_argument("--students", type=int, default=40, help="students in the course (default 40)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="podium-bench-cli-") as tmp:
        root = Path(tmp)
        env = dict(os.environ, PODIUM_DATA_DIR=str(root / "data"),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env.pop("DATABASE_URL", None)
        timed = subprocess.run([sys.executable, "-c", "import podium; print(podium.__file__)"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        if Path(timed).resolve().parent.parent != REPO:
            raise SystemExit(f"the podium timed would be {timed}, not this checkout's ({REPO})")
        email = prepare(root, env, args.students)
        floor = median_seconds([sys.executable, "-c", "pass"], env, args.runs)
        database_layer = median_seconds([sys.executable, "-c", "import sqlalchemy.orm"], env, args.runs)
        medians = {name: median_seconds([*podium_command(), *arguments], env, args.runs)
                   for name, arguments in light_commands(email).items()}

    print(f"Light podium commands: start to exit, median of {args.runs} runs each, against a course of "
          f"{args.students} students x {PER_STUDENT} submissions on SQLite; target < {TARGET_SECONDS:g} s")
    print(f"  (the podium of {REPO})")
    print(f"  {'python -c pass (floor)':<38} {floor:6.3f} s")
    print(f"  {'import sqlalchemy.orm (database layer)':<38} {database_layer:6.3f} s  "
          f"{database_layer / floor:5.1f}x the floor")
    for name, seconds in medians.items():
        print(f"  {name:<38} {seconds:6.3f} s  {seconds / floor:5.1f}x the floor")
    print()
    for name, seconds in medians.items():
        print(f"{'PASS' if seconds < TARGET_SECONDS else 'MISS'}  {name} < {TARGET_SECONDS:g} s: {seconds:.3f} s")


if __name__ == "__main__":
    main()
