"""Grades end to end: `podium load`, `podium submit --as --at`, then `podium grades export|explain`, extensions,
the slack ledger and final marks, on the worked examples of POLICY.md section 10."""
from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import pytest

PUBLIC_ROWS, PRIVATE_ROWS = 10, 100
STUDENT, IDLE = "ana@example.edu", "=cmd@example.edu"


def write_competition(course: Path, slug: str, ontime: str, late: str, cutoffs: str) -> None:
    folder = course / slug
    folder.mkdir(parents=True)
    (folder / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "{slug}"
        title = "Homework {slug}"

        [schedule]
        opens = "2019-09-01 00:00:00"
        ontime = "{ontime}"
        late = "{late}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"

        [grading]
        cutoffs = {cutoffs}
    """))
    rows = [f"{i},{i % 2},{'Public' if i < PUBLIC_ROWS else 'Private'}" for i in range(PUBLIC_ROWS + PRIVATE_ROWS)]
    (folder / "solution.csv").write_text("id,label,Usage\n" + "\n".join(rows) + "\n")


@pytest.fixture
def course(tmp_path, podium_cli) -> Path:
    """POLICY.md section 10's course: cutoffs A .80, B .70, C .60, D .50, F .10; hw1 then hw2, no early deadline."""
    course = tmp_path / "f19"
    course.mkdir()
    (course / "course.toml").write_text('[course]\nslug = "f19"\ntitle = "F19"\ntimezone = "America/New_York"\n')
    cutoffs = "{ A = 0.80, B = 0.70, C = 0.60, D = 0.50, F = 0.10 }"
    write_competition(course, "hw1", "2019-09-29 23:59:59", "2019-10-06 23:59:59", cutoffs)
    write_competition(course, "hw2", "2019-10-20 23:59:59", "2019-10-27 23:59:59", cutoffs)
    assert podium_cli("load", course).exit_code == 0
    for email, name in ((STUDENT, "Ana"), (IDLE, "=HYPERLINK(\"http://x\")")):
        assert podium_cli("users", "add", email, "--course", "f19", "--name", name).exit_code == 0
    return course


def private_score_file(tmp_path: Path, private: float) -> Path:
    """Right on every Public row and on the first `private` share of the Private rows."""
    right = PUBLIC_ROWS + round(private * PRIVATE_ROWS)
    lines = [f"{i},{i % 2 if i < right else 1 - i % 2}" for i in range(PUBLIC_ROWS + PRIVATE_ROWS)]
    path = tmp_path / f"pred-{private}.csv"
    path.write_text("id,label\n" + "\n".join(lines) + "\n")
    return path


def submit(podium_cli, tmp_path, comp: str, private: float, at: str, email: str = STUDENT) -> int:
    result = podium_cli("submit", f"f19-{comp}", private_score_file(tmp_path, private), "--as", email, "--at", at)
    assert result.exit_code == 0, result.stderr
    import json

    return json.loads(result.stdout)["id"]


def export(podium_cli, *args) -> list[dict]:
    result = podium_cli("grades", "export", "f19", *args)
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def example_4_history(podium_cli, tmp_path) -> dict[str, int]:
    """hw1: on-time best 70, a 2-days-late submission grading 72; hw2: on-time best 40, a 7-days-late one grading 90."""
    return {
        "hw1_ontime": submit(podium_cli, tmp_path, "hw1", 0.65, "2019-09-28T12:00:00"),      # base 70
        "hw1_slack": submit(podium_cli, tmp_path, "hw1", 0.66, "2019-10-01T12:00:00"),       # base 72, 2 days late
        "hw2_ontime": submit(podium_cli, tmp_path, "hw2", 0.50, "2019-10-19T12:00:00"),      # base 40
        "hw2_late": submit(podium_cli, tmp_path, "hw2", 0.75, "2019-10-27T12:00:00"),        # base 90, 7 days late
    }


def test_worked_example_4_chronological_export(course, podium_cli, tmp_path):
    ids = example_4_history(podium_cli, tmp_path)
    rows = export(podium_cli)
    assert list(rows[0]) == ["email", "name", "competition", "window", "submission_id", "private_score", "raw_grade",
                             "early_penalty", "slack_days_used", "slack_days_remaining", "final_grade"]
    ana = [r for r in rows if r["email"] == STUDENT]
    assert [r["competition"] for r in ana] == ["f19-hw1", "f19-hw2"]
    assert ana[0] == {**ana[0], "window": "slack", "submission_id": str(ids["hw1_slack"]), "private_score": "0.66",
                           "raw_grade": "72.0000", "early_penalty": "no", "slack_days_used": "2",
                           "slack_days_remaining": "5", "final_grade": "72.0000"}
    assert ana[1] == {**ana[1], "window": "late", "submission_id": str(ids["hw2_late"]), "raw_grade": "81.0000",
                      "slack_days_used": "0", "slack_days_remaining": "5", "final_grade": "81.0000"}
    assert float(ana[0]["final_grade"]) + float(ana[1]["final_grade"]) == 153


def test_worked_example_5_optimal_export(course, podium_cli, tmp_path):
    ids = example_4_history(podium_cli, tmp_path)
    ana = [r for r in export(podium_cli, "--policy", "optimal") if r["email"] == STUDENT]
    assert (ana[0]["window"], ana[0]["submission_id"], ana[0]["final_grade"]) == ("on_time", str(ids["hw1_ontime"]), "70.0000")
    assert (ana[1]["window"], ana[1]["slack_days_used"], ana[1]["slack_days_remaining"], ana[1]["final_grade"]) == (
        "slack", "7", "0", "90.0000")


def test_a_student_with_nothing_counted_gets_empty_fields_and_text_is_neutralised(course, podium_cli, tmp_path):
    example_4_history(podium_cli, tmp_path)
    rows = export(podium_cli)
    idle = [r for r in rows if r["email"] == "'" + IDLE]
    assert [r["window"] for r in idle] == ["none", "none"]
    assert idle[0]["name"].startswith("'=HYPERLINK")
    assert idle[0]["submission_id"] == idle[0]["private_score"] == idle[0]["raw_grade"] == idle[0]["early_penalty"] == ""
    assert idle[0]["final_grade"] == "0.0000" and idle[0]["slack_days_remaining"] == "7"
    assert [r["email"] for r in rows] == sorted(r["email"] for r in rows)


def test_canvas_export_has_a_column_per_competition(course, podium_cli, tmp_path):
    """A grade leaves for Canvas once its competition is released (both are closed); tests/test_canvas_export.py
    has the rest."""
    example_4_history(podium_cli, tmp_path)
    assert podium_cli("release", "f19-hw1", "--yes").exit_code == 0
    result = podium_cli("grades", "export", "f19", "--format", "canvas")
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework hw1", "Homework hw2"]
    assert lines[1] == ["Points Possible", "", "", "", "", "100", "(read only)"]
    ana = next(line for line in lines if line[3] == STUDENT)
    assert ana[0] == "Ana" and ana[5:] == ["72.0000", ""]
    assert ("warning: f19-hw2: no grades yet, and Canvas will leave its assignment as it is: its private leaderboard "
            "is not released.") in result.stderr


def test_export_to_a_file(course, podium_cli, tmp_path):
    out = tmp_path / "grades.csv"
    result = podium_cli("grades", "export", "f19", "-o", out)
    assert result.exit_code == 0 and out.read_text().startswith("email,name,competition")


def test_explain_says_how_the_grade_came_about(course, podium_cli, tmp_path):
    ids = example_4_history(podium_cli, tmp_path)
    hw1 = podium_cli("grades", "explain", "f19-hw1", STUDENT).stdout.strip()
    assert hw1 == f"Counted: submission {ids['hw1_slack']} (slack, 2 days late), private 0.66000, base 72.0; 5 slack days remain."
    hw2 = podium_cli("grades", "explain", "f19-hw2", STUDENT).stdout.strip()
    assert f"submission {ids['hw2_late']} (late, 7 days late, x0.9)" in hw2 and "grade 81.0" in hw2


def test_an_extension_moves_the_windows_without_spending_slack(course, podium_cli, tmp_path):
    example_4_history(podium_cli, tmp_path)
    granted = podium_cli("extensions", "grant", "f19-hw1", STUDENT, "--days", "3", "--reason", "medical")
    assert granted.exit_code == 0 and "+3 days on every deadline" in granted.stdout
    ana = [r for r in export(podium_cli) if r["email"] == STUDENT]
    assert (ana[0]["window"], ana[0]["slack_days_used"], ana[0]["final_grade"]) == ("on_time", "0", "72.0000")
    # hw1 spent no slack, so all 7 days are left for the 7-days-late hw2 submission.
    assert (ana[1]["window"], ana[1]["slack_days_used"], ana[1]["final_grade"]) == ("slack", "7", "90.0000")
    listing = podium_cli("extensions", "list", "f19").stdout
    assert "medical" in listing and "active" in listing
    ext_id = listing.split("\t")[0]
    assert podium_cli("extensions", "revoke", ext_id).exit_code == 0
    assert [r for r in export(podium_cli) if r["email"] == STUDENT][0]["window"] == "slack"
    assert "revoked" in podium_cli("extensions", "list", "f19", "--all").stdout


def test_slack_spent_elsewhere_shrinks_the_budget(course, podium_cli, tmp_path):
    example_4_history(podium_cli, tmp_path)
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"email,days,note\n{STUDENT},6,hw1p1 autolab\n")
    assert "1 slack entry recorded" in podium_cli("slack", "import", ledger, "--course", "f19").stdout
    ana = [r for r in export(podium_cli) if r["email"] == STUDENT]
    # 1 day left: the 2-days-late hw1 submission is late now, and on-time 70 beats 0.9 * 72 = 64.8.
    assert (ana[0]["window"], ana[0]["final_grade"], ana[0]["slack_days_remaining"]) == ("on_time", "70.0000", "1")
    balance = podium_cli("slack", "balance", "f19").stdout
    assert f"{STUDENT}\t1\t0\t1" in balance


def test_a_bad_ledger_line_is_named_and_nothing_is_recorded(course, podium_cli, tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"email,days,note\n{STUDENT},2,ok\nnobody@example.edu,1,x\n")
    result = podium_cli("slack", "import", ledger, "--course", "f19")
    assert result.exit_code == 1 and "line 3" in result.stderr and "not enrolled" in result.stderr
    assert f"{STUDENT}\t7\t0\t7" in podium_cli("slack", "balance", "f19").stdout


def test_final_marks_choose_what_counts(course, podium_cli, tmp_path):
    first = submit(podium_cli, tmp_path, "hw1", 0.70, "2019-09-20T12:00:00")
    submit(podium_cli, tmp_path, "hw1", 0.75, "2019-09-21T12:00:00")
    weaker = submit(podium_cli, tmp_path, "hw1", 0.62, "2019-09-22T12:00:00")
    assert [r for r in export(podium_cli) if r["email"] == STUDENT][0]["private_score"] == "0.75"
    result = podium_cli("select", weaker)
    assert result.exit_code == 0 and "marked as final" in result.stdout
    assert [r for r in export(podium_cli) if r["email"] == STUDENT][0]["private_score"] == "0.62"
    podium_cli("select", first)
    third = podium_cli("select", submit(podium_cli, tmp_path, "hw1", 0.61, "2019-09-23T12:00:00"))
    assert third.exit_code == 1 and "at most 2" in third.stderr
    assert podium_cli("select", weaker, "--unselect").exit_code == 0
    assert [r for r in export(podium_cli) if r["email"] == STUDENT][0]["private_score"] == "0.7"


def test_finalise_fixes_position_cutoffs(tmp_path, podium_cli):
    course = tmp_path / "pos"
    course.mkdir()
    (course / "course.toml").write_text('[course]\nslug = "pos"\ntitle = "P"\ntimezone = "UTC"\n')
    write_competition(course, "hw1", "2019-09-29 23:59:59", "2019-10-06 23:59:59",
                      '{ A = "top 25%", B = "top 50%", C = "top 75%", D = 0.1 }')
    podium_cli("load", course)
    for n, private in enumerate((0.9, 0.8, 0.7, 0.6)):
        email = f"s{n}@example.edu"
        podium_cli("users", "add", email, "--course", "pos")
        result = podium_cli("submit", "pos-hw1", private_score_file(tmp_path, private), "--as", email,
                            "--at", "2019-09-20T12:00:00")
        assert result.exit_code == 0, result.stderr
    result = podium_cli("finalise", "pos-hw1")
    assert result.exit_code == 0 and "finalised; cutoffs A 0.9, B 0.8, C 0.7, D 0.1" in result.stdout
    assert "was already finalised" in podium_cli("finalise", "pos-hw1").stdout
    out = podium_cli("grades", "export", "pos").stdout
    finals = {r["email"]: r["final_grade"] for r in csv.DictReader(io.StringIO(out))}
    # The best score sits exactly at the fixed A cutoff, so it earns no bonus; C sits exactly at 0.7.
    assert finals["s0@example.edu"] == "100.0000" and finals["s2@example.edu"] == "60.0000"
