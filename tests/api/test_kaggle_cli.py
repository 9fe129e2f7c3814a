"""The unmodified `kaggle==1.6.17` command against a live Podium on 127.0.0.1 (KAGGLE_API_ENDPOINT)."""
from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import timedelta

from podium.models import Status, Submission
from podium.services import users
from podium.services.courses import get_course, load_course
from tests.api.conftest import submit_scored
from tests.conftest import predictions, write_course

CID = "c1-hw1"


def lines_with(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if all(word in line for word in words)]


def test_list_files_and_downloads(kaggle, world, tmp_path):
    listed = kaggle.run("competitions", "list", who=world.student)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert lines_with(listed.stdout, "ref", "deadline", "teamCount")
    assert lines_with(listed.stdout, CID, "inClass") and "c2-hw9" not in listed.stdout

    files = kaggle.run("competitions", "files", "-c", CID, who=world.student)
    assert files.returncode == 0, files.stdout + files.stderr
    assert lines_with(files.stdout, "README.md", "41B") and lines_with(files.stdout, "sample_submission.csv")
    assert "solution" not in files.stdout

    target = tmp_path / "downloads"
    one = kaggle.run("competitions", "download", "-c", CID, "-f", "sample_submission.csv", "-p", str(target),
                     who=world.student)
    assert one.returncode == 0, one.stdout + one.stderr
    assert (target / "sample_submission.csv").read_text().startswith("id,label\n0,0\n")

    everything = kaggle.run("competitions", "download", "-c", CID, "-p", str(target), who=world.student)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    with zipfile.ZipFile(target / f"{CID}.zip") as zf:
        assert sorted(zf.namelist()) == ["README.md", "sample_submission.csv"]

    missing = kaggle.run("competitions", "download", "-c", CID, "-f", "solution.csv", "-p", str(target),
                         who=world.student)
    assert missing.returncode == 1 and "404" in missing.stdout and "no data file 'solution.csv'" in missing.stdout
    assert not (target / "solution.csv").exists()


def test_submit_then_submissions_and_leaderboards(kaggle, rt, world, tmp_path):
    submit_scored(rt, world, world.other, predictions(set(range(3))))  # public 0.5
    predictions_file = tmp_path / "predictions.csv"
    predictions_file.write_text(predictions())

    submitted = kaggle.run("competitions", "submit", "-c", CID, "-f", str(predictions_file), "-m",
                           "resnet, lr 1e-3", who=world.student)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "Successfully submitted to Homework hw1 (c1-hw1)" in submitted.stdout
    assert "public score 1.00000" in submitted.stdout
    assert "Public rank: not on the leaderboard → 1 of 2." in submitted.stdout  # the other student is second now
    assert "4 of 5 submissions left today; the count resets at" in submitted.stdout
    with rt.db.session() as session:
        [sub] = session.query(Submission).filter_by(user_id=world.student.id).all()
        assert sub.status == Status.scored and sub.description == "resnet, lr 1e-3"
        assert sub.file_name == "predictions.csv" and sub.public_score == 1.0

    listed = kaggle.run("competitions", "submissions", "-c", CID, who=world.student)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert lines_with(listed.stdout, "predictions.csv", "resnet, lr 1e-3", "complete", "1.00000")
    assert "pred.csv" not in listed.stdout  # the other student's submission is not listed

    board = kaggle.run("competitions", "leaderboard", "-c", CID, "--show", who=world.student)
    assert board.returncode == 0, board.stdout + board.stderr
    ranked = [line.split() for line in board.stdout.splitlines() if "fitter" in line]
    assert [(row[0], row[1], row[-1]) for row in ranked] == [("1", "Overfitter", "1.00000"),
                                                            ("2", "Underfitter", "0.50000")]
    assert "@" not in board.stdout

    target = tmp_path / "board"
    downloaded = kaggle.run("competitions", "leaderboard", "-c", CID, "--download", "-p", str(target),
                            who=world.student)
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    with zipfile.ZipFile(target / f"{CID}.zip") as zf:
        text = zf.read(f"{CID}-publicleaderboard.csv").decode()
    assert text.splitlines()[0] == "TeamId,TeamName,SubmissionDate,Score"
    assert text.splitlines()[1].startswith("1,Overfitter,") and text.splitlines()[1].endswith(",1.00000")


def test_a_file_with_the_wrong_columns_prints_what_to_fix(kaggle, rt, world, tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,prediction\n" + "".join(f"{i},0\n" for i in range(20)))
    result = kaggle.run("competitions", "submit", "-c", CID, "-f", str(wrong), "-m", "oops", who=world.student)
    assert result.returncode == 1
    assert "422" in result.stdout and "Missing column: `label`" in result.stdout
    assert "Unexpected column: `prediction`" in result.stdout
    with rt.db.session() as session:
        [sub] = session.query(Submission).all()
        assert sub.status == Status.failed  # kept, with its reason, as on the site


def test_the_daily_limit_prints_when_it_resets(kaggle, rt, world, tmp_path):
    for _ in range(5):
        submit_scored(rt, world, world.student)
    good = tmp_path / "good.csv"
    good.write_text(predictions())
    result = kaggle.run("competitions", "submit", "-c", CID, "-f", str(good), "-m", "sixth", who=world.student)
    assert result.returncode == 1
    assert "429" in result.stdout and "Daily limit reached: you have used 5 of 5 submissions today" in result.stdout
    assert "The count resets at" in result.stdout


def test_a_closed_competition_prints_its_closing_time(kaggle, world, closed, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(predictions())
    result = kaggle.run("competitions", "submit", "-c", closed, "-f", str(good), "-m", "late", who=world.student)
    assert result.returncode == 1 and "409" in result.stdout and "The competition closed at" in result.stdout


def test_before_the_opening_a_student_lists_no_file_and_downloads_none(kaggle, rt, world, now, tmp_path):
    with rt.db.session() as session:  # c4-hw4 opens tomorrow
        load_course(session, rt.settings, write_course(tmp_path / "upcoming", slug="c4", competition="hw4",
                                                       now=now + timedelta(days=11)))
        users.add_user(session, world.student.email, get_course(session, "c4"), "student")
    files = kaggle.run("competitions", "files", "-c", "c4-hw4", who=world.student)
    assert files.returncode == 0 and "README.md" not in files.stdout and "sample_submission" not in files.stdout
    target = tmp_path / "downloads"
    for args in (("-f", "README.md"), ()):
        refused = kaggle.run("competitions", "download", "-c", "c4-hw4", *args, "-p", str(target), who=world.student)
        assert refused.returncode == 1 and "404" in refused.stdout, refused.stdout
        assert "are published when it opens" in refused.stdout
    assert not target.exists() or not any(target.iterdir())


def test_wrong_credentials_and_strangers_are_told_so(kaggle, world):
    wrong = kaggle.run("competitions", "list", who=replace(world.student, key="not-my-key"))
    assert wrong.returncode == 1 and "401" in wrong.stdout and "API key is wrong" in wrong.stdout
    outsider = kaggle.run("competitions", "files", "-c", CID, who=world.outsider)
    assert outsider.returncode == 1 and "403" in outsider.stdout and "not enrolled" in outsider.stdout
