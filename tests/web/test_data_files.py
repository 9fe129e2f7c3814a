"""Staff replace or add the data files students download, from the competition's settings page: checked as
`podium load` checks data files (a plain name inside the competition's files, never the solution, the size limit,
a sample submission that fits the solution), audited, and what students download at once."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from podium.errors import PodiumError
from podium.models import AuditEvent, Competition, DataFile
from podium.services import competition_settings
from tests.web.helpers import page

URL = "/staff/competitions/c1-hw1/data-files"
NEW_README = b"# Homework, corrected\nPredict the label of each id; ids start at 0.\n"


def upload(client, content: bytes, filename: str, name: str | None = None):
    data = {"file": (io.BytesIO(content), filename)}
    if name is not None:
        data["name"] = name
    return client.form(URL, data, content_type="multipart/form-data")


def files_of(rt, comp_id: int) -> dict[str, tuple[str, Path]]:
    """name -> (sha256, stored path) of each data file."""
    with rt.db.session() as db:
        return {f.name: (f.sha256, rt.settings.located(f.path))
                for f in db.query(DataFile).filter(DataFile.competition_id == comp_id)}


def audit_rows(rt) -> list[AuditEvent]:
    with rt.db.session() as db:
        rows = db.query(AuditEvent).filter(AuditEvent.action == "competition.data_file").all()
        db.expunge_all()
        return rows


def test_staff_replace_the_readme_and_students_download_the_new_one(as_staff, as_student, rt, course):
    old_sha, old_path = files_of(rt, course.comp_id)["README.md"]
    response = upload(as_staff, NEW_README, "README.md")
    assert response.status_code == 302
    assert "Students now download the new README.md." in page(as_staff.get(response.headers["Location"]))

    download = as_student.get("/competitions/c1-hw1/files/README.md")
    assert download.status_code == 200 and download.data == NEW_README
    assert as_student.get("/api/competitions/c1-hw1/files/README.md").data == NEW_README
    assert "ids start at 0" in page(as_student.get("/competitions/c1-hw1"))  # the README is the overview
    new_sha, new_path = files_of(rt, course.comp_id)["README.md"]
    assert new_sha != old_sha and Path(old_path).read_bytes() != NEW_README  # the old version is kept as it was

    [row] = audit_rows(rt)
    assert row.actor == course.staff and row.target == "c1-hw1" and row.course_id is not None
    assert row.details == {"name": "README.md", "added": False, "old_sha256": old_sha, "new_sha256": new_sha,
                           "size_bytes": len(NEW_README)}


def test_a_file_under_a_new_name_is_added_for_students(as_staff, as_student, rt, course):
    response = upload(as_staff, b"id,extra\n0,1\n", "whatever.csv", name="extra_features.csv")
    assert response.status_code == 302
    assert as_student.get("/competitions/c1-hw1/files/extra_features.csv").data == b"id,extra\n0,1\n"
    assert "extra_features.csv" in page(as_student.get("/competitions/c1-hw1"))
    assert audit_rows(rt)[0].details["added"] is True
    # The settings exported for the course folder list it, so the next load can keep it.
    assert "extra_features.csv" in as_staff.get("/staff/competitions/c1-hw1/competition.toml").get_data(as_text=True)


def test_the_same_file_again_changes_nothing(as_staff, rt, course):
    readme = Path(files_of(rt, course.comp_id)["README.md"][1]).read_bytes()
    response = upload(as_staff, readme, "README.md")
    assert response.status_code == 302
    assert "README.md is this file already; nothing changed." in page(as_staff.get(response.headers["Location"]))
    assert audit_rows(rt) == []


def test_a_student_cannot_replace_a_data_file(as_student, rt, course):
    before = files_of(rt, course.comp_id)
    assert upload(as_student, b"# Hacked\n", "README.md").status_code == 403
    assert files_of(rt, course.comp_id) == before and audit_rows(rt) == []


def test_the_form_needs_its_security_token(as_staff, rt, course):
    before = files_of(rt, course.comp_id)
    response = as_staff.post(URL, data={"file": (io.BytesIO(b"x"), "README.md")}, content_type="multipart/form-data")
    assert response.status_code == 400 and files_of(rt, course.comp_id) == before


@pytest.mark.parametrize("name", ["../x", "../../README.md", "sub/README.md", "..\\x", "..", "/etc/passwd"])
def test_a_name_outside_the_competition_files_is_refused_and_nothing_changes(as_staff, rt, course, name):
    before = files_of(rt, course.comp_id)
    files_dir = Path(before["README.md"][1]).parent
    listing = sorted(p for p in files_dir.parent.rglob("*"))
    response = upload(as_staff, b"# Elsewhere\n", "README.md", name=name)
    assert response.status_code == 422
    assert "is not a plain file name: it lies outside the competition folder" in page(response)
    assert files_of(rt, course.comp_id) == before and audit_rows(rt) == []
    assert sorted(p for p in files_dir.parent.rglob("*")) == listing  # nothing written, not even a leftover


def test_the_uploaded_files_own_name_is_checked_too(as_staff, rt, course):
    before = files_of(rt, course.comp_id)
    response = upload(as_staff, b"# Elsewhere\n", "../x")
    assert response.status_code == 422 and "lies outside the competition folder" in page(response)
    assert files_of(rt, course.comp_id) == before


@pytest.mark.parametrize("name, message", [
    ("notes\x07.txt", "contains control characters"),
    (" README.md", None),  # typed names are trimmed: this is README.md
    ("x" * 256, "longer than 255 characters"),
])
def test_other_names_are_checked_with_a_reason(as_staff, rt, course, name, message):
    response = upload(as_staff, b"# Notes\n", "notes.txt", name=name)
    if message is None:
        assert response.status_code == 302 and len(audit_rows(rt)) == 1
    else:
        assert response.status_code == 422 and message in page(response)


def test_the_solution_is_never_given_to_students(as_staff, rt, course, tmp_path):
    solution = (tmp_path / "courses/c1/hw1/solution.csv").read_bytes()
    before = files_of(rt, course.comp_id)
    response = upload(as_staff, solution, "notes.csv")
    assert response.status_code == 422 and "solution: students would download it" in page(response)
    assert files_of(rt, course.comp_id) == before


def test_an_empty_file_or_no_file_is_refused(as_staff, rt, course):
    before = files_of(rt, course.comp_id)
    assert "The file is empty" in page(upload(as_staff, b"", "README.md"))
    response = as_staff.form(URL, {"name": "README.md"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose the file students should download" in page(response)
    assert files_of(rt, course.comp_id) == before


def test_the_sample_submission_must_still_fit_the_solution(as_staff, as_student, rt, course):
    before = files_of(rt, course.comp_id)
    response = upload(as_staff, b"id,prediction\n0,1\n", "sample_submission.csv")
    assert response.status_code == 422
    text = page(response)
    assert "sample_submission.csv is the sample submission students copy" in text and "expected the header" in text
    assert files_of(rt, course.comp_id) == before
    fitting = ("id,label\n" + "".join(f"{i},1\n" for i in range(20))).encode()
    assert upload(as_staff, fitting, "sample_submission.csv").status_code == 302
    assert as_student.get("/competitions/c1-hw1/files/sample_submission.csv").data == fitting


def test_a_file_over_the_upload_limit_is_refused_and_leaves_nothing_behind(rt, course):
    small = dataclasses.replace(rt.settings, max_upload_bytes=10)
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        files_dir = rt.settings.located(comp.files[0].path).parent
        listing = sorted(files_dir.parent.rglob("*"))
        with pytest.raises(PodiumError) as refused:
            competition_settings.replace_data_file(db, small, comp, "README.md", io.BytesIO(b"x" * 11), "ta@c1.test")
        assert refused.value.code == 413 and "larger than the 0 MB limit" not in refused.value.message
        assert "limit for uploads; nothing changed" in refused.value.message
        assert sorted(files_dir.parent.rglob("*")) == listing


def test_the_settings_page_lists_the_files_with_the_upload_form(as_staff, course):
    text = page(as_staff.get("/staff/competitions/c1-hw1"))
    assert 'id="data-files"' in text and "README.md" in text and "sample_submission.csv" in text
    assert 'action="/staff/competitions/c1-hw1/data-files#data-files"' in text and 'name="csrf_token"' in text
