"""Attacks on code submissions and the integrity report (issue 17): what a hostile student, a TA of another course
or a careless instructor could try, each refused or harmless."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from podium.models import CodeSubmission
from podium.services import code, courses

from tests.code_world import CID, STUDENTS, copy_code_world
from tests.web.conftest import app  # noqa: F401 - the app over the test's runtime

ADA, BO = STUDENTS


def code_rows(rt, world, email: str) -> list[CodeSubmission]:
    with rt.db.session() as session:
        rows = list(session.scalars(select(CodeSubmission).where(CodeSubmission.user_id == world.users[email])
                                    .order_by(CodeSubmission.id)))
        session.expunge_all()
    return rows


@pytest.fixture
def world(rt, worlds, tmp_path, world_database):
    return copy_code_world(worlds, rt, tmp_path)


@pytest.fixture
def browse(app, world):  # noqa: F811
    def as_(email: str):
        return app.test_client().signed_in_as(email)
    return as_



def post_code(who, name: str = "main.py", data: bytes = b"x = 1\n"):
    return who.form(f"/competitions/{CID}/code", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_student_cannot_fill_the_disk_with_uploads(rt, world, browse):
    # Every upload is kept: without a bound, one student's script posting code in a loop fills the data dir.
    with rt.db.session() as session:  # as `max_uploads = 3` in the [code] table would load (30 unless it says)
        comp = courses.get_competition(session, CID)
        assert code.code_settings(comp).max_uploads == 30
        comp.code_settings = {**comp.code_settings, "max_uploads": 3}
    ada = browse(ADA)
    for n in range(3):
        assert post_code(ada, f"v{n}.py").status_code == 302
    response = post_code(ada, "v3.py")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "at most 3 times" in page and "v2.py" in page
    assert [row.file_name for row in code_rows(rt, world, ADA)] == ["v0.py", "v1.py", "v2.py"]
    assert len(list((rt.settings.data_dir / "code").rglob("*.py"))) == 3  # nothing of the refused one kept
    assert post_code(browse(BO), "bo.py").status_code == 302  # another student's count is their own
