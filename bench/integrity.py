"""Integrity report benchmark: a competition of 300 students, each with 50 KB of code and a 2,000-row prediction file.

    .venv/bin/python bench/integrity.py [--students N] [--code-kb K] [--rows R]

A course is loaded into a fresh SQLite database and data dir: one competition with `[code]` required and a starter
file, 2,000 solution rows (30 % Public, 70 % Private, 10 labels). Each student uploads a zip of five Python files
(generated from a seeded RNG, written alone) and one prediction file, scored; one student's code is another's with
every name renamed, and one student's predictions another's with 40 rows changed.

Timed once each (setting up the class takes longer than the report): the whole report, `services.integrity.build`
(what the staff page runs in the background), against the floor any report pays, measured in the same run:
reading every code upload out of its zip and every prediction file aligned to the Private rows, nothing compared.
Prints both in seconds, their ratio, the load average around the report (the machine is shared: compare runs by
the ratio), the seconds of each stage the report's progress names, whether the planted copies top their lists, and
PASS/MISS for the target: the report in under a minute (it takes about 10 s on two cores busy with other work).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from podium.models import Competition, Enrolment, Role, User  # noqa: E402
from podium.runtime import make_runtime  # noqa: E402
from podium.services import code, integrity, submissions  # noqa: E402
from podium.services.courses import get_course, load_course  # noqa: E402
from tests.integrity.generated import STARTER, copied_with_changes, labels, program, renamed, zipped  # noqa: E402

TARGET_SECONDS = 60.0
SEED = 11785
CLASSES = 10
FILES_PER_STUDENT = 5
TZ = "America/New_York"


def local(t: datetime) -> str:
    return t.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M:%S")


def write_course(root: Path, now: datetime, truth: np.ndarray) -> Path:
    course = root / "bench"
    comp = course / "hw1"
    comp.mkdir(parents=True)
    (course / "course.toml").write_text(textwrap.dedent(f"""
        [course]
        slug = "bench"
        title = "Integrity bench"
        timezone = "{TZ}"
    """))
    (comp / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "hw1"
        title = "Homework 1"

        [schedule]
        opens = "{local(now - timedelta(days=10))}"
        ontime = "{local(now + timedelta(days=3))}"
        late = "{local(now + timedelta(days=7))}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"
        sample_submission = "sample_submission.csv"

        [grading]
        cutoffs = {{ A = 0.9, B = 0.8, C = 0.7, D = 0.5 }}

        [code]
        required = true
        starter = ["starter.py"]
    """))
    rows = len(truth)
    usage = np.where(np.random.default_rng(SEED).random(rows) < 0.3, "Public", "Private")
    (comp / "solution.csv").write_text("id,label,Usage\n" + "".join(
        f"{i},{truth[i]},{usage[i]}\n" for i in range(rows)))
    (comp / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},0\n" for i in range(rows)))
    (comp / "starter.py").write_text(STARTER)
    return course


def populate(rt, folder: Path, students: int, code_kb: int, rows: int) -> tuple[int, dict[int, int]]:
    """The course, its students and their uploads; the competition's id and, by student number, user ids."""
    now = datetime.now(timezone.utc)
    truth, guesses = labels(SEED, students, rows, CLASSES)
    guesses[1] = copied_with_changes(guesses[0], 40, seed=SEED, classes=CLASSES)  # the planted predictions
    rng = random.Random(SEED)
    per_file = code_kb * 1000 // FILES_PER_STUDENT
    codes = {s: {f"hw1/part{k}.py": program(rng, per_file) for k in range(FILES_PER_STUDENT)}
             for s in range(students)}
    codes[3] = {name: renamed(text, seed=k) for k, (name, text) in enumerate(codes[2].items())}  # the planted code
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(folder, now, truth))
        course = get_course(session, "bench")
        comp_id = session.scalar(select(Competition.id).where(Competition.course_id == course.id))
        session.execute(insert(User), [{"email": f"s{s}@example.edu", "name": f"Student {s}"}
                                       for s in range(students)])
        ids = dict(session.execute(select(User.email, User.id)).all())
        users = {s: ids[f"s{s}@example.edu"] for s in range(students)}
        session.execute(insert(Enrolment), [{"user_id": uid, "course_id": course.id, "role": Role.student}
                                            for uid in users.values()])
    for s, uid in users.items():
        csv = "id,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(guesses[s]))
        sub = submissions.receive(rt.db, rt.settings, comp_id, uid, io.BytesIO(csv.encode()), "sub.csv",
                                  at=now - timedelta(hours=2, seconds=s))
        submissions.score(rt.db, rt.settings, sub.id)
        code.receive_code(rt.db, rt.settings, comp_id, uid, io.BytesIO(zipped(codes[s])), "hw1.zip",
                          at=now - timedelta(hours=1, seconds=s))
    return comp_id, users


def read_everything(rt, comp_id: int) -> int:
    """The floor: every counted code upload read out of its zip and every counted prediction file read aligned to
    the Private rows, nothing compared. Returns the characters of code read."""
    from podium import code_archives, scoring
    from podium.spec import scorer_for

    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        inputs = integrity.inputs_of(session, comp)
        compiled = scoring.CompiledSolution.open(rt.settings.located(comp.compiled_dir))
        scorer = scorer_for(comp.metric, rt.settings.located(comp.source_dir), comp.higher_is_better)
    chars = 0
    for c in inputs.code:
        for _, raw in code_archives.texts(rt.settings.located(c.path), c.kind):
            chars += len(raw.decode("utf-8", errors="replace"))
    for p in inputs.counted:
        scoring.private_predictions(compiled, rt.settings.located(p.path), scorer)
    return chars


class Stages:
    """The seconds between the report's progress steps of one kind and the next kind's first."""

    def __init__(self) -> None:
        self.took: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def progress(self, what: str, done: int, total: int) -> None:
        if self.current is None or self.current[0] != what:
            self.end()
            self.current = (what, time.perf_counter())

    def end(self) -> None:
        if self.current is not None:
            what, since = self.current
            self.took[what] = self.took.get(what, 0.0) + time.perf_counter() - since
            self.current = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--code-kb", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = make_runtime(data_dir=Path(tmp) / "data", database_url=f"sqlite:///{tmp}/bench.db")
        rt.db.upgrade()
        started = time.perf_counter()
        comp_id, users = populate(rt, Path(tmp), args.students, args.code_kb, args.rows)
        print(f"(setting up {args.students} students took {time.perf_counter() - started:.0f} s)")

        started = time.perf_counter()
        chars = read_everything(rt, comp_id)
        floor = time.perf_counter() - started

        stages = Stages()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        report = integrity.build(rt.db, rt.settings, comp_id, progress=stages.progress)
        seconds = time.perf_counter() - started
        stages.end()
        load_after = os.getloadavg()[0]
        rt.db.dispose()
    code_top = {report.code_pairs[0].a.id, report.code_pairs[0].b.id} == {users[2], users[3]}
    prediction_top = {report.prediction_pairs[0].a.id, report.prediction_pairs[0].b.id} == {users[0], users[1]}
    print(f"Integrity report: {args.students} students x {chars / args.students / 1000:.0f} KB of code "
          f"({FILES_PER_STUDENT} files in a zip) + {args.rows:,}-row predictions ({report.private_rows:,} Private)")
    print(f"  report {seconds:.1f} s; reading the same files alone {floor:.1f} s (report = {seconds / floor:.1f}x "
          f"the read); target < {TARGET_SECONDS:.0f} s; {os.cpu_count()} CPUs, load average {load_before:.1f} before, "
          f"{load_after:.1f} after")
    print("  stages: " + "; ".join(f"{what.lower()} {took:.1f} s" for what, took in stages.took.items()))
    print(f"  planted code copy first: {'yes' if code_top else 'NO'} (similarity "
          f"{report.code_pairs[0].similarity:.2f}, next {report.code_pairs[1].similarity:.2f}); planted predictions "
          f"first: {'yes' if prediction_top else 'NO'} (surprise {report.prediction_pairs[0].surprise:.0f}, next "
          f"{report.prediction_pairs[1].surprise:.1f})")
    passed = seconds < TARGET_SECONDS and code_top and prediction_top
    print(f"{'PASS' if passed else 'MISS'}  whole report < {TARGET_SECONDS:.0f} s with the planted copies first: "
          f"{seconds:.1f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
