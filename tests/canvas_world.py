"""A course for the Canvas export tests, built once per run (tests/worlds.py): competitions in every state the
export tells apart, two students, staff, and a second course whose TA must not reach this one.

Competitions of course cx, against the world's instant `now`:
- done: closed 15 days ago, released; Canvas assignment 501.
- held: closed 8 days ago, not released; Canvas assignment 502.
- extended: closed 2 days ago for everyone but bo, whose extension runs 4 days more; released; Canvas assignment 503.
- soon: opens in 5 days; no canvas_assignment_id.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from podium.models import Competition
from podium.services import extensions, submissions, users
from podium.services.courses import get_course, load_course
from tests.conftest import N_ROWS, TZ, predictions, wallclock, write_course

ANA, BO, TA, PROF, OTHER_TA = "ana@x.test", "bo@x.test", "ta@x.test", "prof@x.test", "ta@y.test"
# write_course's solution: rows 0-5 Public, 6-17 Private. bo is right on the public rows and half the private ones.
BO_RIGHT = set(range(12))


@dataclass(frozen=True)
class CanvasWorld:
    now: datetime
    ids: dict[str, int]  # competition slug -> id


COMPETITIONS = {  # slug: (opens, ontime, late in days from now, canvas_assignment_id, submitted days from now)
    "done": (-30, -20, -15, 501, -25),
    "held": (-30, -12, -8, 502, -20),
    "extended": (-30, -6, -2, 503, -10),
    "soon": (5, 10, 15, None, None),
}


def write_competition(course: Path, slug: str, now: datetime) -> None:
    opens, ontime, late, canvas_id, _ = COMPETITIONS[slug]
    folder = course / slug
    folder.mkdir(parents=True)
    at = {name: wallclock(now + timedelta(days=days)) for name, days in
          (("opens", opens), ("ontime", ontime), ("late", late))}
    canvas = f"canvas_assignment_id = {canvas_id}" if canvas_id else ""
    (folder / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "{slug}"
        title = "Homework {slug}"
        {canvas}

        [schedule]
        opens = "{at['opens']}"
        ontime = "{at['ontime']}"
        late = "{at['late']}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"

        [grading]
        cutoffs = {{ A = 0.9, B = 0.8, C = 0.7, D = 0.5 }}
    """))
    usage = ["Public"] * 6 + ["Private"] * 12 + ["Ignored"] * 2
    (folder / "solution.csv").write_text("id,label,Usage\n" + "".join(f"{i},{i % 3},{usage[i]}\n"
                                                                     for i in range(N_ROWS)))


def build_canvas_world(rt, folder: Path, now: datetime) -> CanvasWorld:
    course = folder / "courses" / "cx"
    course.mkdir(parents=True)
    (course / "course.toml").write_text(f'[course]\nslug = "cx"\ntitle = "Course cx"\ntimezone = "{TZ}"\n')
    for slug in COMPETITIONS:
        write_competition(course, slug, now)
    with rt.db.session() as session:
        load_course(session, rt.settings, course)
        load_course(session, rt.settings, write_course(folder / "other", slug="cy", competition="hw9", now=now))
        cx, cy = get_course(session, "cx"), get_course(session, "cy")
        for email, name, role in ((ANA, "Ana Lima", "student"), (BO, "Bo Chen", "student"), (TA, "Tea", "staff"),
                                  (PROF, "Pro", "instructor")):
            users.add_user(session, email, cx, role, name=name)
        users.add_user(session, OTHER_TA, cy, "staff", name="Other TA")
        ids = {c.slug: c.id for c in cx.competitions}
        user_ids = {email: users.get_user(session, email).id for email in (ANA, BO)}
    for slug, (*_, submitted) in COMPETITIONS.items():
        if submitted is None:
            continue
        # ana is right everywhere; bo's private score (0.5) is below his public one (1.0).
        for email, right in ((ANA, None), (BO, BO_RIGHT)):
            sub = submissions.receive(rt.db, rt.settings, ids[slug], user_ids[email],
                                      io.BytesIO(predictions(right).encode()), "sub.csv",
                                      at=now + timedelta(days=submitted))
            submissions.score(rt.db, rt.settings, sub.id)
    with rt.db.session() as session:
        extended = session.get(Competition, ids["extended"])
        extensions.grant(session, extended, users.get_user(session, BO), days=6, reason="illness", actor=PROF)
        for slug in ("done", "extended"):
            # Set directly: how a release is decided is not what these tests are about.
            session.get(Competition, ids[slug]).released_at = now - timedelta(days=1)
    return CanvasWorld(now=now, ids=ids)
