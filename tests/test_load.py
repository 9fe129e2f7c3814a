"""Loading a course folder: what is stored, idempotence, and the refusals that need the solution's content."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from podium.errors import ConfigError
from podium.models import AuditEvent, Competition, Course, DataFile
from podium.services.courses import get_competition, load_course
from tests.conftest import write_course


def load(rt, folder: Path):
    with rt.db.session() as session:
        return load_course(session, rt.settings, folder, actor="test")


def test_load_creates_the_course_its_competitions_and_downloadable_files(rt, course_dir):
    report = load(rt, course_dir)
    assert report.created == ["c1-hw1"]
    with rt.db.session() as session:
        comp = get_competition(session, "c1-hw1")
        assert comp.course.title == "Course c1"
        assert comp.expected_header == ["id", "label"]
        assert [f.name for f in comp.files] == ["README.md", "sample_submission.csv"]
        for f in comp.files:  # recorded relative to the data dir, which can then move whole
            assert not Path(f.path).is_absolute() and rt.settings.located(f.path).is_file()
        assert not Path(comp.compiled_dir).is_absolute() and rt.settings.located(comp.compiled_dir).is_dir()


def test_loading_the_same_folder_again_changes_nothing(rt, course_dir):
    load(rt, course_dir)
    with rt.db.session() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))
    report = load(rt, course_dir)
    assert report.unchanged == ["c1-hw1"] and not report.created and not report.updated
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Course)) == 1
        assert session.scalar(select(func.count()).select_from(Competition)) == 1
        assert session.scalar(select(func.count()).select_from(DataFile)) == 2
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_an_edited_folder_updates_and_says_when_the_solution_changed(rt, course_dir):
    load(rt, course_dir)
    toml = course_dir / "hw1/competition.toml"
    toml.write_text(toml.read_text().replace('title = "Homework hw1"', 'title = "Homework one"'))
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text().replace("0,0,Public", "0,1,Public"))
    report = load(rt, course_dir)
    assert report.updated == ["c1-hw1"] and report.solution_changed == ["c1-hw1"]
    assert any("podium rescore c1-hw1" in line for line in report.lines())
    with rt.db.session() as session:
        assert get_competition(session, "c1-hw1").title == "Homework one"


def refusal(rt, course_dir) -> str:
    with pytest.raises(ConfigError) as info:
        load(rt, course_dir)
    return str(info.value)


def test_a_solution_with_duplicate_ids_is_refused(rt, course_dir):
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text() + "3,0,Private\n")
    message = refusal(rt, course_dir)
    assert "competition.toml: [evaluation] solution:" in message and "duplicate" in message.lower()
    assert "3" in message


def test_a_solution_with_unknown_usage_values_is_refused(rt, course_dir):
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text().replace("5,2,Public", "5,2,public").replace("7,1,Private", "7,1,Test"))
    message = refusal(rt, course_dir)
    assert "[evaluation] solution:" in message and "Usage" in message
    assert "public" in message and "Test" in message


def test_a_sample_submission_with_other_ids_is_refused(rt, course_dir):
    sample = course_dir / "hw1/sample_submission.csv"
    sample.write_text(sample.read_text().replace("\n19,0\n", "\n99,0\n"))
    message = refusal(rt, course_dir)
    assert "[evaluation] sample_submission:" in message and "99" in message


def test_a_sample_submission_with_other_columns_is_refused(rt, course_dir):
    sample = course_dir / "hw1/sample_submission.csv"
    sample.write_text(sample.read_text().replace("id,label", "id,prediction"))
    message = refusal(rt, course_dir)
    assert "[evaluation] sample_submission:" in message and "id,label" in message


def test_a_refused_folder_leaves_the_database_as_it_was(rt, course_dir):
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text() + "3,0,Private\n")
    refusal(rt, course_dir)
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Course)) == 0


def test_competitions_with_the_same_deadline_are_in_slug_order(rt, tmp_path):
    """Equal deadlines are ordered by slug, compared by code point, on every database (POLICY.md section 5's course
    order): not by creation, nor by whatever order a scan gives, nor by PostgreSQL's locale (which ignores "-")."""
    now, root = datetime.now(timezone.utc), tmp_path / "same"
    for slug in ("hw-b", "hwa", "hw-a", "hw-c"):
        load(rt, write_course(root, now=now, competition=slug))
    with rt.db.session() as session:
        session.scalar(select(Competition).where(Competition.slug == "hw-b")).title = "Changed"
    with rt.db.session() as session:
        assert [c.slug for c in session.scalar(select(Course)).competitions] == ["hw-a", "hw-b", "hw-c", "hwa"]


def test_a_competition_whose_public_id_another_course_has_is_refused_naming_that_course(rt, tmp_path):
    """`x-y` with `z` and `x` with `y-z` would both be `x-y-z`, and only one of them could be reached."""
    load(rt, write_course(tmp_path / "first", slug="x-y", competition="z"))
    with pytest.raises(ConfigError) as refused:
        load(rt, write_course(tmp_path / "second", slug="x", competition="y-z"))
    assert "x-y-z" in str(refused.value) and "course x-y" in str(refused.value)
    with rt.db.session() as session:
        assert session.scalars(select(Course.slug)).all() == ["x-y"]
        assert get_competition(session, "x-y-z").course.slug == "x-y"


def test_the_refusal_works_in_both_orders(rt, tmp_path):
    load(rt, write_course(tmp_path / "first", slug="x", competition="y-z"))
    with pytest.raises(ConfigError) as refused:
        load(rt, write_course(tmp_path / "second", slug="x-y", competition="z"))
    assert "course x" in str(refused.value)
    with rt.db.session() as session:
        assert session.scalars(select(Course.slug)).all() == ["x"]
