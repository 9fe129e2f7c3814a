"""The `podium` command, end to end on a real database (SQLite or PostgreSQL, as the run says) and real files."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from podium.models import AuditEvent, Submission
from podium.services.courses import get_competition
from tests.conftest import N_ROWS, predictions

PUBLIC, PRIVATE = set(range(6)), set(range(6, 18))


def setup_course(podium_cli, course_dir):
    assert podium_cli("load", course_dir).exit_code == 0
    result = podium_cli("users", "add", "Ada@Example.edu", "--course", "c1", "--role", "student", "--name", "Ada")
    assert result.exit_code == 0, result.stderr
    return "c1-hw1"


def write(tmp_path, text, name="pred.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_init_reports_the_database(podium_cli, rt, database_kind):
    result = podium_cli("init")
    shown = rt.db.engine.url.render_as_string(hide_password=True)
    assert result.exit_code == 0 and result.stdout == f"database ready: {shown}\n"
    assert shown.startswith({"sqlite": "sqlite:///", "postgresql": "postgresql+psycopg://"}[database_kind])


def test_load_prints_what_it_did_and_is_idempotent(podium_cli, course_dir):
    assert "created: c1-hw1" in podium_cli("load", course_dir).stdout
    assert "unchanged: c1-hw1" in podium_cli("load", course_dir).stdout


def test_load_errors_are_one_line_on_stderr(podium_cli, course_dir):
    (course_dir / "hw1/solution.csv").unlink()
    result = podium_cli("load", course_dir)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "[evaluation] solution: file not found" in result.stderr


def test_submit_records_scores_and_audits_a_backdated_submission(rt, podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    half_private = set(range(6, 12))
    at = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
    path = write(tmp_path, predictions(PUBLIC | half_private))
    result = podium_cli("submit", comp, path, "--as", "ada@example.edu", "--at", at.isoformat(), "-m", "outage")
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["status"] == "scored" and line["public"] == 1.0 and line["private"] == 0.5
    with rt.db.session() as session:
        sub = session.scalar(select(Submission))
        assert sub.submitted_at == at and sub.description == "outage" and sub.rows == N_ROWS
        assert sub.recorded_by.startswith("cli")
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "submission.record"))
        assert event.details["student"] == "ada@example.edu"


def test_submit_reads_a_time_without_offset_in_the_course_time_zone(rt, podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    local = (datetime.now(timezone.utc) - timedelta(days=2)).astimezone().replace(microsecond=0)
    from zoneinfo import ZoneInfo

    wall = local.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    result = podium_cli("submit", comp, write(tmp_path, predictions()), "--as", "ada@example.edu",
                        "--at", wall.isoformat())
    assert result.exit_code == 0, result.stderr
    with rt.db.session() as session:
        assert session.scalar(select(Submission.submitted_at)) == local.astimezone(timezone.utc)


def test_a_failed_submission_is_stored_with_its_message_and_exits_non_zero(rt, podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    result = podium_cli("submit", comp, write(tmp_path, "id,prediction\n1,2\n"), "--as", "ada@example.edu")
    assert result.exit_code == 1
    line = json.loads(result.stdout)
    assert line["status"] == "failed" and "id,label" in line["error"]


def test_submit_before_the_competition_opens_is_refused(podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    at = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()
    result = podium_cli("submit", comp, write(tmp_path, predictions()), "--as", "ada@example.edu", "--at", at)
    assert result.exit_code == 1 and "opens" in result.stderr and result.stderr.count("\n") == 1


def test_score_is_a_dry_run_printing_one_json_line(rt, podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    result = podium_cli("score", comp, write(tmp_path, predictions(PUBLIC)))
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["public"] == 1.0 and line["private"] == 0.0 and line["rows"] == N_ROWS and line["seconds"] >= 0
    with rt.db.session() as session:
        assert session.scalar(select(Submission)) is None


def test_score_of_a_bad_file_says_what_to_fix(podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    result = podium_cli("score", comp, write(tmp_path, predictions(rows=range(N_ROWS - 1))))
    assert result.exit_code == 1 and "missing" in result.stderr.lower() and "19" in result.stderr


def test_unknown_competition_is_one_line(podium_cli, tmp_path):
    result = podium_cli("score", "nope-hw9", write(tmp_path, predictions()))
    assert result.exit_code == 1 and result.stderr == (
        "error: no competition 'nope-hw9'; ids look like <course>-<competition>, e.g. 11785-f19-hw1p2\n")


def test_rescore_after_a_solution_fix_moves_the_scores(rt, podium_cli, course_dir, tmp_path):
    comp = setup_course(podium_cli, course_dir)
    podium_cli("submit", comp, write(tmp_path, predictions()), "--as", "ada@example.edu")
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text().replace("0,0,Public", "0,2,Public"))
    assert "podium rescore c1-hw1" in podium_cli("load", course_dir).stdout
    result = podium_cli("rescore", comp)
    assert result.exit_code == 0 and "1 scored, 0 failed" in result.stdout
    with rt.db.session() as session:
        assert session.scalar(select(Submission.public_score)) == 5 / 6


def test_users_import_token_and_roles(rt, podium_cli, course_dir, tmp_path):
    podium_cli("load", course_dir)
    roster = write(tmp_path, "email,name,role\nb@x.edu,Bea,\nc@x.edu,Cy,staff\n", "roster.csv")
    result = podium_cli("users", "import", roster, "--course", "c1")
    assert result.exit_code == 0 and "2 added" in result.stdout
    assert "0 added, 2 already had accounts" in podium_cli("users", "import", roster, "--course", "c1").stdout
    key = podium_cli("users", "token", "b@x.edu").stdout.strip()
    from podium.services.users import authenticate_key

    with rt.db.session() as session:
        assert authenticate_key(session, "b@x.edu", key).name == "Bea"
        assert authenticate_key(session, "b@x.edu", key + "x") is None
    again = podium_cli("users", "token", "b@x.edu").stdout.strip()
    with rt.db.session() as session:
        assert authenticate_key(session, "b@x.edu", key) is None and authenticate_key(session, "b@x.edu", again)


def test_a_bad_roster_line_is_named_and_nothing_is_written(rt, podium_cli, course_dir, tmp_path):
    podium_cli("load", course_dir)
    roster = write(tmp_path, "email,name\nb@x.edu,Bea\nnot-an-email,Cy\n", "roster.csv")
    result = podium_cli("users", "import", roster, "--course", "c1")
    assert result.exit_code == 1 and "roster line 3" in result.stderr
    assert podium_cli("users", "token", "b@x.edu").stderr.startswith("error: no user")


def test_release_is_audited_once(rt, podium_cli, course_dir):
    """c1-hw1 is open: the release needs an override, and (not in a terminal) --yes."""
    podium_cli("load", course_dir)
    assert "released early" in podium_cli("release", "c1-hw1", "--yes", "--override", "a test").stdout
    assert "was already released" in podium_cli("release", "c1-hw1", "--yes", "--override", "a test").stdout
    with rt.db.session() as session:
        assert session.query(AuditEvent).filter(AuditEvent.action == "competition.release").count() == 1


KAGGLE_METRIC = '''
import pandas as pd


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    del solution[row_id_column_name]
    del submission[row_id_column_name]
    if submission["label"].isna().any():
        raise ParticipantVisibleError("Every row needs a label.")
    return float((solution["label"].values == submission["label"].values).mean())
'''


def test_a_kaggle_style_metric_file_works_unchanged(podium_cli, course_dir, tmp_path):
    (course_dir / "hw1/metric.py").write_text(KAGGLE_METRIC)
    toml = course_dir / "hw1/competition.toml"
    toml.write_text(toml.read_text().replace('metric = "accuracy"', 'metric = "custom:metric.py"\nhigher_is_better = true'))
    comp = setup_course(podium_cli, course_dir)
    (course_dir / "hw1/metric.py").unlink()  # the loaded copy under the data dir is what scores
    result = podium_cli("score", comp, write(tmp_path, predictions(PUBLIC)))
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["public"] == 1.0 and line["private"] == 0.0
    blank = predictions().replace("\n3,0\n", "\n3,\n")
    result = podium_cli("score", comp, write(tmp_path, blank, "blank.csv"))
    assert result.exit_code == 1 and "Every row needs a label." in result.stderr


def test_release_says_what_students_will_see_and_refuses_during_the_late_window(rt, podium_cli, course_dir):
    podium_cli("load", course_dir)
    result = podium_cli("release", "c1-hw1", "--yes")
    assert result.exit_code == 1
    assert "Releasing Homework hw1 (c1-hw1) shows students:" in result.stdout
    assert "the private leaderboard (0 of 0 students ranked)" in result.stdout
    assert "It changes no grade of another released competition." in result.stdout
    assert result.stderr.startswith("error: c1-hw1 is not released: the late window is open until ")
    assert result.stderr.rstrip().endswith("To release now, add --override REASON.")
    assert podium_cli("release", "c1-hw1", "--yes", "--override", "  ").stderr.startswith(
        "error: Give the reason for releasing early")
    with rt.db.session() as session:
        assert get_competition(session, "c1-hw1").released_at is None
        assert session.query(AuditEvent).filter(AuditEvent.action == "competition.release").count() == 0


def test_release_asks_in_a_terminal_and_needs_yes_elsewhere(rt, podium_cli, course_dir, monkeypatch):
    import podium.cli

    podium_cli("load", course_dir)
    scripted = podium_cli("release", "c1-hw1", "--override", "the solutions are out")
    assert scripted.exit_code == 1 and "add --yes to release from a script" in scripted.stderr
    monkeypatch.setattr(podium.cli, "interactive", lambda: True)
    runner = CliRunner()
    declined = runner.invoke(podium.cli.cli, ["release", "c1-hw1", "--override", "the solutions are out"], obj=rt,
                             input="n\n")
    assert declined.exit_code == 1 and "Release it to students now? [y/N]" in declined.stdout
    with rt.db.session() as session:
        assert get_competition(session, "c1-hw1").released_at is None
    accepted = runner.invoke(podium.cli.cli, ["release", "c1-hw1", "--override", "the solutions are out"], obj=rt,
                             input="y\n")
    assert accepted.exit_code == 0 and "c1-hw1: private leaderboard released early (override audited)" in accepted.stdout
    with rt.db.session() as session:
        [event] = session.query(AuditEvent).filter(AuditEvent.action == "competition.release").all()
        assert event.actor.startswith("cli") and event.details["override"] == "the solutions are out"
