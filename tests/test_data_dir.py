"""The data dir can move whole: the database records its files and folders relative to it, so a copy restored
elsewhere (or a test's copy of a prepared course) serves and scores what the original did."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

from podium.models import Competition, DataFile, Submission
from podium.runtime import make_runtime
from podium.services import courses, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import predictions


def test_rows_record_paths_relative_to_the_data_dir(rt, course_dir):
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        student = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
        comp_id = get_competition(session, "c1-hw1").id
    sub = submissions.receive(rt.db, rt.settings, comp_id, student.id, io.BytesIO(predictions().encode()), "p.csv")
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        recorded = [comp.compiled_dir, comp.source_dir, session.get(Submission, sub.id).file_path,
                    *(f.path for f in session.query(DataFile))]
    assert all(not Path(path).is_absolute() for path in recorded), recorded
    assert all(rt.settings.located(path).exists() for path in recorded)


def test_a_data_dir_moved_elsewhere_with_its_database_serves_and_scores_as_before(rt, course_dir, tmp_path,
                                                                                  monkeypatch, database_kind):
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        student = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
        comp_id = get_competition(session, "c1-hw1").id
    text = predictions(set(range(10)))
    first = submissions.receive(rt.db, rt.settings, comp_id, student.id, io.BytesIO(text.encode()), "p.csv")
    scored = submissions.score(rt.db, rt.settings, first.id)
    rt.db.dispose()

    moved = tmp_path / "moved"
    shutil.move(rt.settings.data_dir, moved)
    if database_kind == "sqlite":  # the database file travels inside the data dir
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{moved / 'podium.db'}")
    monkeypatch.setenv("PODIUM_DATA_DIR", str(moved))
    there = make_runtime()
    try:
        with there.db.session() as session:
            comp = get_competition(session, "c1-hw1")
            assert courses.data_file(there.settings, comp, "README.md", staff=True,
                                     now=comp.opens).read_text().startswith("# Homework")
            stored = there.settings.located(session.get(Submission, first.id).file_path)
        assert stored.read_text() == text and moved in stored.parents
        again = submissions.score(there.db, there.settings, first.id, rescore=True)
        assert (again.public_score, again.private_score) == (scored.public_score, scored.private_score)
        second = submissions.receive(there.db, there.settings, comp_id, student.id, io.BytesIO(text.encode()), "q.csv")
        assert submissions.score(there.db, there.settings, second.id).private_score == scored.private_score
    finally:
        there.db.dispose()
