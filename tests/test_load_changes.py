"""`podium load` says exactly what it changed, key by key, and a load that changes final grades of a finalised or
released competition is a regrade (POLICY.md section 11): refused unless asked for, then audited grade by grade."""
from __future__ import annotations

import re

from sqlalchemy import select

from podium.models import AuditEvent, Competition
from tests.test_grades_cli import STUDENT, course, example_4_history, export  # noqa: F401 - `course` is a fixture


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def load_events(rt) -> list[dict]:
    with rt.db.session() as session:
        return [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "course.load")
                                                   .order_by(AuditEvent.id))]


def hw1_grade(podium_cli) -> str:
    return next(r for r in export(podium_cli) if r["email"] == STUDENT and r["competition"] == "f19-hw1")["final_grade"]


def test_a_load_reports_each_changed_key_and_unchanged_only_when_nothing_changed(course, podium_cli, rt):
    (course / "course.toml").write_text((course / "course.toml").read_text() + "\n[policy]\nslack_days = 7\n")
    edit(course / "hw1" / "competition.toml", 'title = "Homework hw1"', 'title = "Homework hw1"\ndaily_limit = 10')
    podium_cli("load", course)

    edit(course / "course.toml", "slack_days = 7", "slack_days = 5")
    edit(course / "hw1" / "competition.toml", "daily_limit = 10", "daily_limit = 3")
    result = podium_cli("load", course)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["course f19: updated", "    policy.slack_days: 7 -> 5"]
    assert "  updated: f19-hw1" in lines and "    competition.daily_limit: 10 -> 3" in lines
    assert "  unchanged: f19-hw2" in lines and not any("unchanged: f19-hw1" in line for line in lines)
    assert load_events(rt)[-1]["changes"] == {
        "f19": [{"key": "policy.slack_days", "old": 7, "new": 5}],
        "f19-hw1": [{"key": "competition.daily_limit", "old": 10, "new": 3}],
    }

    again = podium_cli("load", course).stdout.splitlines()
    assert again == ["course f19: unchanged", "  unchanged: f19-hw1, f19-hw2"]
    assert len(load_events(rt)) == 3  # the first load, the change; nothing for a load that changed nothing


def test_deadlines_cutoffs_and_files_are_reported_with_old_and_new_values(course, podium_cli, tmp_path):
    toml = course / "hw2" / "competition.toml"
    edit(toml, 'late = "2019-10-27 23:59:59"', 'late = "2019-10-28 23:59:59"')
    edit(toml, "D = 0.50", "D = 0.55")
    old_solution = (course / "hw2" / "solution.csv").read_text()
    (course / "hw2" / "solution.csv").write_text(old_solution.replace("0,0,Public", "0,1,Public", 1))
    out = podium_cli("load", course).stdout
    assert "    schedule.late: 2019-10-28T03:59:59+00:00 -> 2019-10-29T03:59:59+00:00" in out
    assert re.search(r'grading\.cutoffs: \{"A": 0\.8, "B": 0\.7, "C": 0\.6, "D": 0\.5, "F": 0\.1\} -> '
                     r'\{"A": 0\.8, "B": 0\.7, "C": 0\.6, "D": 0\.55, "F": 0\.1\}', out)
    assert re.search(r"evaluation\.solution: sha256 [0-9a-f]{12} -> sha256 [0-9a-f]{12}", out)
    assert "the solution of f19-hw2 changed: run `podium rescore f19-hw2`" in out


def test_changed_cutoffs_of_a_released_competition_are_refused_without_a_regrade(course, podium_cli, tmp_path, rt):
    example_4_history(podium_cli, tmp_path)
    assert podium_cli("finalise", "f19-hw1").exit_code == 0 and podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    before = hw1_grade(podium_cli)
    edit(course / "hw1" / "competition.toml", "C = 0.60", "C = 0.62")

    refused = podium_cli("load", course)
    assert refused.exit_code == 1
    assert f"{STUDENT} in f19-hw1: {float(before):.1f} -> " in refused.stderr and "--regrade" in refused.stderr
    assert hw1_grade(podium_cli) == before
    with rt.db.session() as session:
        hw1 = session.scalar(select(Competition).where(Competition.slug == "hw1"))
        assert hw1.cutoffs["C"] == 0.60

    applied = podium_cli("load", course, "--regrade")
    assert applied.exit_code == 0, applied.stderr
    after = hw1_grade(podium_cli)
    assert after != before
    assert f"  regraded: {STUDENT} in f19-hw1: {float(before):.1f} -> {float(after):.1f}" in applied.stdout
    with rt.db.session() as session:
        regrade = session.scalars(select(AuditEvent).where(AuditEvent.action == "grades.regrade")).one()
    assert regrade.details["changes"] == [{"email": STUDENT, "competition": "f19-hw1", "old": float(before),
                                           "new": float(after)}]
    assert load_events(rt)[-1]["changes"]["f19-hw1"][0]["key"] == "grading.cutoffs"


def test_a_new_solution_of_a_finalised_competition_needs_a_regrade_and_copies_nothing_until_then(course, podium_cli,
                                                                                                 tmp_path, rt):
    example_4_history(podium_cli, tmp_path)
    assert podium_cli("finalise", "f19-hw1").exit_code == 0
    with rt.db.session() as session:
        old_sha = session.scalar(select(Competition.solution_sha256).where(Competition.slug == "hw1"))
    solution = course / "hw1" / "solution.csv"
    solution.write_text(solution.read_text().replace("10,0,Private", "10,1,Private", 1))
    (course / "hw1" / "notes.txt").write_text("new notes\n")
    edit(course / "hw1" / "competition.toml", 'solution = "solution.csv"',
         'solution = "solution.csv"\ndata_files = ["notes.txt"]')

    refused = podium_cli("load", course)
    assert refused.exit_code == 1
    assert "f19-hw1: it is finalised or released and its solution or metric changed" in refused.stderr
    with rt.db.session() as session:
        hw1 = session.scalar(select(Competition).where(Competition.slug == "hw1"))
        assert hw1.solution_sha256 == old_sha and hw1.files == []
    assert not (rt.settings.courses_dir / "f19" / "hw1" / "files" / "notes.txt").exists()

    applied = podium_cli("load", course, "--regrade")
    assert applied.exit_code == 0, applied.stderr
    assert "the solution of f19-hw1 changed" in applied.stdout
    assert re.search(r"    data file notes\.txt: none -> sha256 [0-9a-f]{12}", applied.stdout)
