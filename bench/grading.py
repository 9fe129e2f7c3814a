"""Grading benchmark: the whole course export with the optimal slack policy.

    .venv/bin/python bench/grading.py [--students N] [--competitions C] [--per-student K]

A course of 1,000 students, 6 competitions and 30 scored submissions per student and competition (180,000
submissions) is written once into a fresh SQLite database; then `podium grades export --policy optimal` (the
service behind it) runs, median of 3. The reference measured in the same run is the floor any export pays: one
plain query that reads the same submission rows. Target: the whole export in under 2 s.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from podium.models import Competition, Course, Enrolment, Role, Status, Submission, User
from podium.runtime import make_runtime
from podium.services.export import export_csv

TARGET_SECONDS = 2.0
START = datetime(2019, 9, 1, tzinfo=timezone.utc)


def populate(rt, students: int, competitions: int, per_student: int, seed: int = 11785) -> None:
    rng = np.random.default_rng(seed)
    with rt.db.session() as session:
        course = Course(slug="bench", title="Bench", timezone="America/New_York",
                        policy={"slack_policy": "optimal", "slack_days": 7})
        session.add(course)
        session.flush()
        comp_ids = []
        for c in range(competitions):
            opens = START + timedelta(days=21 * c)
            comp = Competition(course_id=course.id, slug=f"hw{c + 1}", title=f"HW{c + 1}", opens=opens,
                               early=opens + timedelta(days=10), ontime=opens + timedelta(days=14),
                               late=opens + timedelta(days=21), metric="accuracy", higher_is_better=True,
                               id_column="id", cutoffs={"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5, "F": 0.1})
            session.add(comp)
            session.flush()
            comp_ids.append((comp.id, opens))
        session.execute(insert(User), [{"email": f"s{i:04d}@bench.test", "name": f"S{i}"} for i in range(students)])
        user_ids = session.scalars(select(User.id).order_by(User.id)).all()
        session.execute(insert(Enrolment), [{"user_id": u, "course_id": course.id, "role": Role.student}
                                            for u in user_ids])
        rows = []
        for comp_id, opens in comp_ids:
            for user_id in user_ids:
                skill = rng.uniform(0.4, 0.9)
                # Mostly before the on-time deadline (day 14), some in the late window (days 14 to 21).
                days = np.sort(rng.uniform(0, 20, per_student))
                scores = np.clip(skill + rng.normal(0, 0.05, (per_student, 2)), 0, 1)
                for d, (public, private) in zip(days, scores):
                    rows.append({"competition_id": comp_id, "user_id": user_id,
                                 "submitted_at": opens + timedelta(days=float(d)), "file_path": "-",
                                 "file_name": "p.csv", "sha256": "-", "size_bytes": 1, "status": Status.scored,
                                 "public_score": float(public), "private_score": float(private)})
        session.execute(insert(Submission), rows)


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--competitions", type=int, default=6)
    parser.add_argument("--per-student", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = make_runtime(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
        rt.db.upgrade()
        populate(rt, args.students, args.competitions, args.per_student)
        n = args.students * args.competitions * args.per_student

        def export() -> str:
            with rt.db.session() as session:
                return export_csv(session, session.scalar(select(Course)), slack_policy="optimal")

        def read_rows() -> None:
            with rt.db.session() as session:
                session.execute(select(Submission.id, Submission.user_id, Submission.competition_id,
                                       Submission.submitted_at, Submission.public_score,
                                       Submission.private_score)).all()

        lines = export().count("\n") - 1
        podium = median_seconds(export, 3)
        floor = median_seconds(read_rows, 3)
        rt.db.dispose()
    print(f"Grades export, optimal slack policy: {args.students} students x {args.competitions} competitions x "
          f"{args.per_student} submissions = {n:,} submissions, {lines:,} rows written")
    print(f"  podium export {podium:.2f} s; reading the same rows alone {floor:.2f} s "
          f"(export = {podium / floor:.1f}x the read); target < {TARGET_SECONDS:.0f} s")
    print(f"{'PASS' if podium < TARGET_SECONDS else 'MISS'}  whole export < {TARGET_SECONDS:.0f} s: {podium:.2f} s")


if __name__ == "__main__":
    main()
