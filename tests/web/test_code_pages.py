"""Code submissions on the web and the REST API (POLICY.md section 12): the Code panel of the competition page,
the staff code page with its audited downloads, /api/competitions/<cid>/code; and the attacks: a student never
reaches another's code or the staff page, a TA of another course neither."""
from __future__ import annotations

import base64
import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import select

from podium.models import AuditEvent
from podium.services import users
from tests.code_world import CID, OTHER_STUDENT, OTHER_TA, STUDENTS, TA, copy_code_world, upload
from tests.web.conftest import app  # noqa: F401 - the app over the test's runtime
from tests.web.helpers import Browser

ADA, BO = STUDENTS


@pytest.fixture
def world(rt, worlds, tmp_path, world_database):
    return copy_code_world(worlds, rt, tmp_path)


@pytest.fixture
def browse(app, world):  # noqa: F811
    def as_(email: str) -> Browser:
        return app.test_client().signed_in_as(email)
    return as_


def events(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
    return found


def api_auth(rt, email: str) -> dict:
    with rt.db.session() as session:
        key = users.issue_api_key(session, users.get_user(session, email))
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()}


def test_a_student_uploads_code_on_the_competition_page_and_sees_what_counts(rt, world, browse):
    ada = browse(ADA)
    page = ada.get(f"/competitions/{CID}").get_data(as_text=True)
    assert 'id="code"' in page and "No code uploaded yet." in page and "required" in page
    response = ada.form(f"/competitions/{CID}/code", {"file": (io.BytesIO(b"print('ada')\n"), "train.py")},
                        content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/competitions/{CID}#code")
    page = ada.get(f"/competitions/{CID}").get_data(as_text=True)
    assert "it is the code that counts" in page and "train.py" in page and "<strong>counts</strong>" in page
    link = re.search(rf'href="(/competitions/{CID}/code/\d+/file)"', page)[1]
    assert ada.get(link).get_data() == b"print('ada')\n"


def test_a_refused_upload_says_what_to_fix_on_the_page_and_stores_nothing(rt, world, browse):
    ada = browse(ADA)
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("/etc/cron.d/evil", "x")
    bad.seek(0)
    response = ada.form(f"/competitions/{CID}/code", {"file": (bad, "code.zip")}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'role="alert"' in page
    assert "is an absolute path" in page and "Nothing was stored." in page and "No code uploaded yet." in page
    response = ada.form(f"/competitions/{CID}/code", {}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file to upload" in response.get_data(as_text=True)


def test_a_student_never_reaches_anothers_code_nor_the_staff_pages(rt, world, browse):
    theirs = upload(rt, world, BO, b"bo's secret\n")
    for who in (browse(ADA), browse(OTHER_STUDENT)):
        assert who.get(f"/competitions/{CID}/code/{theirs.id}/file").status_code in (403, 404)
        assert who.get(f"/staff/competitions/{CID}/code").status_code in (403, 404)
        assert who.get(f"/staff/competitions/{CID}/code/{theirs.id}/file").status_code in (403, 404)
        assert who.get(f"/staff/competitions/{CID}/code.zip").status_code in (403, 404)
        assert b"bo's secret" not in who.get(f"/competitions/{CID}").get_data()
    ta2 = browse(OTHER_TA)  # staff of another course
    for url in (f"/staff/competitions/{CID}/code", f"/staff/competitions/{CID}/code/{theirs.id}/file",
                f"/staff/competitions/{CID}/code.zip", f"/competitions/{CID}/code/{theirs.id}/file"):
        assert ta2.get(url).status_code in (403, 404), url
    # Nor through their own course's address: an upload's id is looked up in the competition the address names.
    for url in (f"/staff/competitions/c2-hw1/code/{theirs.id}/file", f"/competitions/c2-hw1/code/{theirs.id}/file"):
        answer = ta2.get(url)
        assert answer.status_code == 404 and b"bo's secret" not in answer.get_data(), url
    assert events(rt, "code.download") == [] and events(rt, "code.download_all") == []


def test_staff_see_who_has_code_copy_the_missing_emails_and_every_download_is_audited(rt, world, browse):
    mine = upload(rt, world, ADA, b"ada = 1\n", "ada.py")
    upload(rt, world, TA, b"staff try\n", "try.py")  # staff trying the form are no student
    ta = browse(TA)
    page = ta.get(f"/staff/competitions/{CID}/code").get_data(as_text=True)
    assert "1 of 2 students have code that counts" in page
    assert re.search(r'<textarea id="code-missing-emails" readonly rows="3">bo@example.edu</textarea>', page)
    assert "ada.py" in page and "none yet" in page
    response = ta.get(f"/staff/competitions/{CID}/code/{mine.id}/file")
    assert response.status_code == 200 and response.get_data() == b"ada = 1\n"
    [event] = events(rt, "code.download")
    assert (event.actor, event.details["student"], event.details["code_submission"]) == (TA, ADA, mine.id)

    archive = ta.get(f"/staff/competitions/{CID}/code.zip")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.get_data())) as zf:
        assert sorted(zf.namelist()) == ["ada@example.edu/ada.py", "manifest.csv"]
        assert zf.read("ada@example.edu/ada.py") == b"ada = 1\n"
        rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    assert [(r["email"], r["name"], r["file"], r["sha256"], r["late"]) for r in rows] == [
        (ADA, "Ada", "ada@example.edu/ada.py", mine.sha256, "no")]
    [event] = events(rt, "code.download_all")
    assert event.actor == TA and event.details["students"] == 1
    assert not list((rt.settings.data_dir / "code" / "archives").iterdir())  # the temporary zip is gone


def test_the_grades_table_flags_a_counted_submission_without_code(rt, world, browse):
    from datetime import timedelta

    from podium.services.courses import get_competition

    upload(rt, world, ADA, at=world.now - timedelta(minutes=5))
    with rt.db.session() as session:
        get_competition(session, CID).code_deadline = world.now - timedelta(minutes=1)
    page = browse(TA).get("/staff/c1/grades").get_data(as_text=True)
    rows = {email: next(r for r in page.split("<tr") if email in r) for email in (ADA, BO)}
    assert '<span class="code-flag">no code</span>' in rows[BO]  # under both slack policies shown
    assert "code-flag" not in rows[ADA]


def test_the_rest_api_takes_code_and_lists_only_the_callers_own(rt, world, app):  # noqa: F811
    client = app.test_client()
    ada, bo = api_auth(rt, ADA), api_auth(rt, BO)
    response = client.post(f"/api/competitions/{CID}/code", headers=ada,
                           data={"file": (io.BytesIO(b"x = 1\n"), "x.py")}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["counts"] and body["kind"] == ".py" and not body["late"]
    assert client.get(response.headers["Location"], headers=ada).get_data() == b"x = 1\n"
    assert client.get(response.headers["Location"], headers=bo).status_code == 404
    state = client.get(f"/api/competitions/{CID}/code", headers=bo).get_json()
    assert state["required"] and state["uploads"] == []
    assert [u["id"] for u in client.get(f"/api/competitions/{CID}/code", headers=ada).get_json()["uploads"]] == [
        body["id"]]
    refused = client.post(f"/api/competitions/{CID}/code", headers=ada,
                          data={"file": (io.BytesIO(b"not a zip"), "x.zip")}, content_type="multipart/form-data")
    assert refused.status_code == 422 and "not a zip archive" in refused.get_json()["message"]
    outsider = api_auth(rt, OTHER_STUDENT)
    assert client.get(f"/api/competitions/{CID}/code", headers=outsider).status_code == 403
    assert client.get("/api/competitions/c2-hw1/code", headers=outsider).status_code == 404
