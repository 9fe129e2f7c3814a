"""A competition's data files reach students from its opening on (as on Kaggle, where nothing of a competition shows
before its launch), unless staff choose to show them early (`[competition] data_visible_before_open`, or the
settings page); staff always see and download them. And a data file whose file is missing on the server is a 404
with a message on every route, never a server error."""
from __future__ import annotations

import re
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest

from podium.models import AuditEvent, Competition, DataFile
from podium.services.courses import get_course, load_course
from tests.web.helpers import page

CID = "c1-hw1"
PAGE_FILE = f"/competitions/{CID}/files/README.md"
API_FILE = f"/api/competitions/{CID}/files/README.md"
KAGGLE_LIST = f"/api/v1/competitions/data/list/{CID}"
KAGGLE_FILE = f"/api/v1/competitions/data/download/{CID}/README.md"
KAGGLE_ARCHIVE = f"/api/v1/competitions/data/archive/{CID}.zip"
DOWNLOADS = (PAGE_FILE, API_FILE, KAGGLE_FILE, KAGGLE_ARCHIVE)
README_TEXT = "Predict the label of each id."  # the README's words, which the overview shows


def not_open_yet(rt, comp_id: int, now, *, shown_early: bool = False) -> None:
    """The competition opens tomorrow (no early deadline, which may not precede the opening)."""
    with rt.db.session() as db:
        comp = db.get(Competition, comp_id)
        comp.opens, comp.early = now + timedelta(days=1), None
        comp.data_visible_before_open = shown_early


def message(response) -> str:
    return response.get_json()["message"] if response.is_json else page(response)


def test_before_the_opening_a_student_sees_no_file_and_downloads_none(as_student, rt, course, now):
    not_open_yet(rt, course.comp_id, now)
    text = page(as_student.get(f"/competitions/{CID}"))
    assert "README.md" not in text and "sample_submission.csv" not in text and README_TEXT not in text
    assert "The data files of Homework hw1 (c1-hw1) are published when it opens" in text
    assert as_student.get(f"/api/competitions/{CID}").get_json()["files"] == []
    assert as_student.get(KAGGLE_LIST).get_json()["files"] == []
    for url in DOWNLOADS:
        response = as_student.get(url)
        assert response.status_code == 404, url
        # Why, and when they come; not which files there are.
        assert "are published when it opens" in message(response), url
        assert "sample_submission.csv" not in message(response), url
    # The Kaggle client's "download all" is sent on to the archive, which refuses the same way.
    assert as_student.get(f"/api/v1/competitions/data/download-all/{CID}", follow_redirects=True).status_code == 404


def test_before_the_opening_staff_see_and_download_every_file(as_staff, as_instructor, rt, course, now):
    not_open_yet(rt, course.comp_id, now)
    text = page(as_staff.get(f"/competitions/{CID}"))
    assert "README.md" in text and "sample_submission.csv" in text and README_TEXT in text
    assert "Students see these files from the opening" in text
    assert [f["name"] for f in as_instructor.get(f"/api/competitions/{CID}").get_json()["files"]] == [
        "README.md", "sample_submission.csv"]
    assert len(as_staff.get(KAGGLE_LIST).get_json()["files"]) == 2
    for url in (PAGE_FILE, API_FILE):
        response = as_staff.get(url)
        assert response.status_code == 200 and response.data.startswith(b"# Homework"), url
    assert as_staff.get(KAGGLE_FILE).status_code == 302
    archive = as_staff.get(KAGGLE_ARCHIVE)
    assert archive.status_code == 200
    assert sorted(zipfile.ZipFile(BytesIO(archive.data)).namelist()) == ["README.md", "sample_submission.csv"]
    assert "Hidden from students until the competition opens" in page(as_staff.get(f"/staff/competitions/{CID}"))


def test_a_student_of_another_course_gets_nothing_either_way(as_outsider, rt, course, now):
    not_open_yet(rt, course.comp_id, now, shown_early=True)
    for url in (PAGE_FILE, API_FILE, KAGGLE_FILE, KAGGLE_ARCHIVE):
        assert as_outsider.get(url).status_code == 403, url


def test_staff_may_show_the_files_early(as_student, rt, course, now):
    not_open_yet(rt, course.comp_id, now, shown_early=True)
    assert "README.md" in page(as_student.get(f"/competitions/{CID}"))
    for url in (PAGE_FILE, API_FILE):
        assert as_student.get(url).data.startswith(b"# Homework"), url
    assert len(as_student.get(KAGGLE_LIST).get_json()["files"]) == 2


def test_from_the_opening_on_students_download_them(as_student, rt, course, now):
    """The world's competition opened ten days ago and shows nothing early."""
    with rt.db.session() as db:
        assert db.get(Competition, course.comp_id).data_visible_before_open is False
    assert as_student.get(PAGE_FILE).status_code == 200
    assert len(as_student.get(f"/api/competitions/{CID}").get_json()["files"]) == 2


def test_the_course_folder_key_shows_them_early_and_load_checks_it(rt, course, tmp_path, now):
    toml = tmp_path / "courses/c1/hw1/competition.toml"
    toml.write_text(toml.read_text().replace('title = "Homework hw1"',
                                             'title = "Homework hw1"\ndata_visible_before_open = true'))
    with rt.db.session() as db:
        load_course(db, rt.settings, tmp_path / "courses/c1")
        assert db.get(Competition, course.comp_id).data_visible_before_open is True
    toml.write_text(toml.read_text().replace("data_visible_before_open = true", 'data_visible_before_open = "yes"'))
    with rt.db.session() as db, pytest.raises(Exception) as refused:
        load_course(db, rt.settings, tmp_path / "courses/c1")
    assert "[competition] data_visible_before_open" in str(refused.value)


def test_the_settings_page_sets_it_audited_and_the_exported_toml_keeps_it(as_instructor, as_staff, as_student, rt,
                                                                          course, now):
    not_open_yet(rt, course.comp_id, now)
    text = page(as_instructor.get(f"/staff/competitions/{CID}"))
    assert 'name="data_visible_before_open"' in text
    form = {name: value for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', text) if name != "csrf_token"}
    form.update(description="", slack_eligible="on")  # as the page shows them
    # A TA cannot change settings; the files stay hidden.
    assert as_staff.form(f"/staff/competitions/{CID}", {**form, "data_visible_before_open": "on"}).status_code == 403
    assert as_student.get(PAGE_FILE).status_code == 404
    response = as_instructor.form(f"/staff/competitions/{CID}", {**form, "data_visible_before_open": "on"})
    assert response.status_code == 302, page(response)[:2000]
    assert as_student.get(PAGE_FILE).status_code == 200
    with rt.db.session() as db:
        event = db.query(AuditEvent).filter(AuditEvent.action == "competition.settings").one()
        assert event.details["changed"] == {"data_visible_before_open": True}
    assert "data_visible_before_open = true" in page(as_staff.get(f"/staff/competitions/{CID}/competition.toml"))


# --- a file missing on the server ---------------------------------------------------------------------------


def remove_from_disk(rt, comp_id: int, name: str) -> Path:
    with rt.db.session() as db:
        row = db.query(DataFile).filter(DataFile.competition_id == comp_id, DataFile.name == name).one()
        path = Path(rt.settings.located(row.path))
    path.unlink()
    return path


@pytest.mark.parametrize("who", ["as_student", "as_staff"])
def test_a_data_file_missing_on_disk_is_a_404_with_a_message_on_every_route(request, rt, course, who):
    browser = request.getfixturevalue(who)
    remove_from_disk(rt, course.comp_id, "README.md")
    for url in DOWNLOADS:
        response = browser.get(url)
        assert response.status_code == 404, url
        assert "README.md of c1-hw1 is missing on the server; tell the course staff" in message(response), url
    # The other file is still served, and the competition page still opens (without the README as its overview).
    assert browser.get(f"/competitions/{CID}/files/sample_submission.csv").status_code == 200
    overview = browser.get(f"/competitions/{CID}")
    assert overview.status_code == 200 and README_TEXT not in page(overview)


def test_uploading_the_missing_file_again_puts_it_back(as_staff, as_student, rt, course):
    remove_from_disk(rt, course.comp_id, "README.md")
    data = {"file": (BytesIO(b"# Homework\nPredict again.\n"), "README.md")}
    assert as_staff.form(f"/staff/competitions/{CID}/data-files", data,
                         content_type="multipart/form-data").status_code == 302
    assert as_student.get(PAGE_FILE).data == b"# Homework\nPredict again.\n"
    archive = as_student.get(KAGGLE_ARCHIVE)
    assert archive.status_code == 200 and "README.md" in zipfile.ZipFile(BytesIO(archive.data)).namelist()


def test_a_course_with_its_files_hidden_still_lists_its_competitions(as_student, rt, course, now):
    not_open_yet(rt, course.comp_id, now)
    with rt.db.session() as db:
        assert get_course(db, "c1").competitions[0].files  # the rows stay; only students' view of them is hidden
    assert as_student.get("/courses/c1").status_code == 200
    assert [c["id"] for c in as_student.get("/api/competitions").get_json()] == [CID]
