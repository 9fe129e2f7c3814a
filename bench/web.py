"""Web benchmark: the public leaderboard of a competition with 1,000 students and 50 scored submissions each.

    .venv/bin/python bench/web.py [--students N] [--per-student K] [--repeat R]

Measured in one run, through the app's test client (server time, no network): the leaderboard page, its JSON
from the REST API, and a plain Flask page that only says "ok" as the floor every request pays. Median of
`--repeat` requests each, after one warm-up request. Target: the page and the JSON each under 50 ms.

Also measured, as in a deadline rush: the page when a new submission was scored just before each request, so
every request finds the board changed (shown for information; the target is for the page as most readers get it).
"""
from __future__ import annotations

import argparse
import base64
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from podium.models import Competition, Course, Enrolment, Role, Status, Submission, User
from podium.runtime import make_runtime
from podium.services import users
from podium.web import create_app

TARGET_MS = 50.0
NOW = datetime.now(timezone.utc)


def populate(rt, students: int, per_student: int, seed: int = 11785) -> tuple[str, str, str]:
    """A running competition; returns its public id, a student's email and API key."""
    rng = np.random.default_rng(seed)
    opens = NOW - timedelta(days=10)
    with rt.db.session() as session:
        course = Course(slug="bench", title="Bench", timezone="America/New_York", policy={})
        session.add(course)
        session.flush()
        comp = Competition(course_id=course.id, slug="hw1", title="HW1", opens=opens, early=opens + timedelta(days=3),
                           ontime=NOW + timedelta(days=4), late=NOW + timedelta(days=11), metric="accuracy",
                           higher_is_better=True, id_column="id",
                           cutoffs={"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5})
        session.add(comp)
        session.flush()
        session.execute(insert(User), [{"email": f"s{i:04d}@bench.test", "name": f"S{i}",
                                        "leaderboard_name": f"Team {i}"} for i in range(students)])
        user_ids = session.scalars(select(User.id).order_by(User.id)).all()
        session.execute(insert(Enrolment), [{"user_id": u, "course_id": course.id, "role": Role.student}
                                            for u in user_ids])
        rows = []
        for user_id in user_ids:
            skill = rng.uniform(0.4, 0.9)
            days = np.sort(rng.uniform(0, 9.9, per_student))
            scores = np.clip(skill + rng.normal(0, 0.05, (per_student, 2)), 0, 1)
            for d, (public, private) in zip(days, scores):
                at = opens + timedelta(days=float(d))
                # Scored half a minute after the upload, as the scoring pool would: the board reads these times.
                rows.append({"competition_id": comp.id, "user_id": user_id, "submitted_at": at, "file_path": "-",
                             "file_name": "p.csv", "sha256": "-", "size_bytes": 1, "status": Status.scored,
                             "public_score": float(public), "private_score": float(private),
                             "scored_at": at + timedelta(seconds=30)})
        session.execute(insert(Submission), rows)
        student = session.get(User, user_ids[0])
        users.set_password(student, "bench-password")
        key = users.issue_api_key(session, student, actor="bench")
        return f"{course.slug}-{comp.slug}", student.email, key


def median_ms(client, url: str, repeat: int, **kwargs) -> float:
    assert client.get(url, **kwargs).status_code == 200, url  # warm-up, and a check that it works
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, **kwargs)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, url
    return statistics.median(times) * 1000


def median_after_scoring_ms(rt, client, url: str, repeat: int, seed: int = 2019) -> float:
    """The page right after each of `repeat` new scorings by students picked at random (some improve, some not)."""
    rng = np.random.default_rng(seed)
    with rt.db.session() as session:
        comp_id = session.scalars(select(Competition.id)).one()
        students = session.scalars(select(Enrolment.user_id).where(Enrolment.role == Role.student)).all()
    times = []
    for _ in range(repeat):
        with rt.db.session() as session:
            at = datetime.now(timezone.utc)
            score = float(rng.uniform(0.5, 1.0))
            session.execute(insert(Submission).values(
                competition_id=comp_id, user_id=int(rng.choice(students)), submitted_at=at, file_path="-",
                file_name="p.csv", sha256="-", size_bytes=1, status=Status.scored, public_score=score,
                private_score=score, scored_at=at))
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, url
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--per-student", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podium-bench-web-") as tmp:
        rt = make_runtime(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
        rt.db.upgrade()
        print(f"writing {args.students} students x {args.per_student} scored submissions ...")
        public_id, email, key = populate(rt, args.students, args.per_student)
        app = create_app(runtime=rt)

        @app.get("/bench-floor")
        def floor():
            return "ok"

        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").get_data(as_text=True))
        signed_in = client.post("/sign-in", data={"email": email, "password": "bench-password",
                                                  "csrf_token": token.group(1)})
        assert signed_in.status_code == 302, "sign-in failed"
        auth = {"Authorization": "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()}
        floor_ms = median_ms(client, "/bench-floor", args.repeat)
        page_ms = median_ms(client, f"/competitions/{public_id}/leaderboard?board=public", args.repeat)
        json_ms = median_ms(app.test_client(), f"/api/competitions/{public_id}/leaderboard?board=public",
                            args.repeat, headers=auth)
        rush_ms = median_after_scoring_ms(rt, client, f"/competitions/{public_id}/leaderboard?board=public",
                                          args.repeat)
        rt.db.dispose()
        app.extensions["podium.scoring"].shutdown()

    print(f"plain Flask page (floor):  {floor_ms:7.1f} ms")
    for label, ms in (("leaderboard page", page_ms), ("leaderboard JSON", json_ms)):
        verdict = "ok" if ms < TARGET_MS else "OVER TARGET"
        print(f"{label + ':':26} {ms:7.1f} ms  ({ms / floor_ms:5.1f}x the floor; target < {TARGET_MS:.0f} ms: {verdict})")
    print(f"{'page after a new scoring:':26} {rush_ms:7.1f} ms  ({rush_ms / floor_ms:5.1f}x the floor; for information)")


if __name__ == "__main__":
    main()
