"""The demo: the 11-785 Fall 2019 course with generated data, staff, simulated students and their histories.

Running it again starts the demo course afresh; nothing outside the demo course and its accounts is touched.
"""
from __future__ import annotations

import io
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy import delete, select

from podium import demo as demo_data
from podium.models import Course, User, utcnow
from podium.runtime import Runtime
from podium.services import code, competitions, extensions, integrity, submissions, users
from podium.services.courses import competition_state, get_competition, get_course, load_course

ACTOR = "demo"


def build_demo(rt: Runtime, seed: int = 11785, echo: Callable[[str], None] = print) -> list[str]:
    now = utcnow()
    students = demo_data.demo_students(seed)
    staff = demo_data.demo_staff()
    _reset(rt, [p.email for p in [*students, *staff]])

    echo("writing the demo course data ...")
    folder = demo_data.write_course(rt.settings.data_dir / "demo", seed=seed, schedule="relative", now=now)
    # Every demo account has the same published password: hashed once (a tenth of a second each), not 42 times.
    shared_hash = users.password_hash(demo_data.DEMO_PASSWORD)
    with rt.db.session() as session:
        load_course(session, rt.settings, folder, actor=ACTOR)
        course = get_course(session, demo_data.COURSE_SLUG)
        accounts = [users.add_user(session, person.email, course, person.role, name=person.name, actor=ACTOR)
                    for person in staff]
        accounts += [users.add_user(session, person.email, course, "student", name=person.name,
                                    leaderboard_name=person.leaderboard_name, actor=ACTOR) for person in students]
        for account in accounts:
            account.password_hash = shared_hash

    history = demo_data.simulate_submissions(folder, students, seed=seed, now=now)
    echo(f"recording and scoring {len(history)} simulated submissions ...")
    ids = _record(rt, history)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda sub_id: submissions.score(rt.db, rt.settings, sub_id), ids))
    echo("uploading the students' code and computing the integrity report ...")
    _upload_code(rt, students, seed, now)
    _release_closed(rt)
    _grant_extensions(rt, students, granted_by=staff[0].email)
    return _summary(staff, students)


def _reset(rt: Runtime, emails: list[str]) -> None:
    with rt.db.session() as session:
        course = session.scalar(select(Course).where(Course.slug == demo_data.COURSE_SLUG))
        if course is not None:
            for comp in course.competitions:
                shutil.rmtree(rt.settings.uploads_dir / str(comp.id), ignore_errors=True)
                shutil.rmtree(rt.settings.data_dir / "code" / str(comp.id), ignore_errors=True)
                integrity.report_path(rt.settings, comp.id).unlink(missing_ok=True)
            session.delete(course)
        session.execute(delete(User).where(User.email.in_(emails)))


def _record(rt: Runtime, history) -> list[int]:
    with rt.db.session() as session:
        course = get_course(session, demo_data.COURSE_SLUG)
        comp_ids = {c.slug: c.id for c in course.competitions}
        user_ids = dict(session.execute(select(User.email, User.id)).all())
    return [
        submissions.receive(rt.db, rt.settings, comp_ids[item.competition_slug], user_ids[item.email],
                            io.BytesIO(item.csv_bytes), item.file_name, item.description, at=item.at).id
        for item in history
    ]


def _release_closed(rt: Runtime) -> None:
    """Closed competitions are shown graded: their private boards released, as staff would have done."""
    now = utcnow()
    with rt.db.session() as session:
        for comp in get_course(session, demo_data.COURSE_SLUG).competitions:
            if competition_state(comp, now).key == "closed":
                competitions.release(session, comp, actor=ACTOR)


# The code uploads of a competition that collects code: most students upload a zip of the starter files and their
# own model, a few a notebook, the last few nothing (so the staff code page and the grades have someone to flag),
# and COPIER's model is ORIGINAL's with every name renamed: the planted pair the integrity report puts first.
CODE_ORIGINAL, CODE_COPIER = 3, 7
WITHOUT_CODE = 3
NOTEBOOK_EVERY = 5


def _upload_code(rt: Runtime, students, seed: int, now) -> None:
    from datetime import timedelta

    from podium.demo.code import program, renamed

    with rt.db.session() as session:
        course = get_course(session, demo_data.COURSE_SLUG)
        collecting = [(comp.id, comp.slug, code.code_settings(comp), code.starter_files(rt.settings, comp))
                      for comp in course.competitions if code.code_settings(comp) is not None]
        user_ids = dict(session.execute(select(User.email, User.id)).all())
    for comp_id, slug, found, starter in collecting:
        rng = random.Random(f"{seed}-{slug}")
        models = [program(rng, 4000) for _ in students]
        models[CODE_COPIER] = renamed(models[CODE_ORIGINAL], seed)
        starter_texts = {f"{slug}/{path.name}": path.read_bytes() for path in starter if path.suffix == ".py"}
        last = min(now, found.deadline)
        for i, student in enumerate(students[:len(students) - WITHOUT_CODE]):
            name, data = _code_upload(slug, models[i], starter_texts, notebook=i % NOTEBOOK_EVERY == 4)
            code.receive_code(rt.db, rt.settings, comp_id, user_ids[student.email], io.BytesIO(data), name,
                              at=last - timedelta(hours=2, minutes=7 * i))
        integrity.build(rt.db, rt.settings, comp_id)


def _code_upload(slug: str, model: str, starter: dict[str, bytes], *, notebook: bool) -> tuple[str, bytes]:
    """One student's code: a notebook of their model, or a zip of the starter files and their model."""
    import json

    from podium.demo.code import zipped

    if notebook:
        cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {slug}\n"]}]
        cells += [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": part}
                  for part in model.split("\n\n\n")]
        return f"{slug}.ipynb", json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                             "nbformat_minor": 5}).encode()
    return f"{slug}.zip", zipped({**starter, f"{slug}/model.py": model})


# Two students' deadlines moved, as staff would grant them, so the extension pages and timelines have something
# to show: (student index, competition, days added, reason).
EXTENSIONS = ((4, "hw2p2-classification", 2, "documented illness (doctor's note seen)"),
              (11, "hw2p2-verification", 3, "away at a conference"))


def _grant_extensions(rt: Runtime, students, granted_by: str) -> None:
    with rt.db.session() as session:
        for index, slug, days, reason in EXTENSIONS:
            comp = get_competition(session, f"{demo_data.COURSE_SLUG}-{slug}")
            student = users.get_user(session, students[index].email)
            extensions.grant(session, comp, student, days=days, reason=reason, actor=granted_by)


def _summary(staff, students) -> list[str]:
    lines = ["", "Demo course 11785-f19 ready. Accounts (password for all: " + demo_data.DEMO_PASSWORD + "):"]
    lines += [f"  {p.role:<10} {p.email}" for p in staff]
    lines += [f"  {'student':<10} {students[0].email}  (and {len(students) - 1} more, "
              f"{students[1].email} to {students[-1].email})"]
    return lines
