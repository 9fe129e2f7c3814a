"""The REST and Kaggle-compatible APIs: benchmark rows on the leaderboards (no rank, placed by score), and PATCH
/api/submissions/<id> changing a description (the author; staff of the course; nobody else)."""
from __future__ import annotations

import io
import zipfile

from sqlalchemy import func, select

from podium.models import AuditEvent
from podium.services import benchmarks
from tests.api.conftest import submit_scored
from tests.api.openapi_check import assert_matches_openapi
from tests.conftest import predictions

CID = "c1-hw1"


def test_leaderboards_show_a_benchmark_placed_by_its_score_without_a_rank(client, rt, world):
    submit_scored(rt, world, world.student, predictions())  # public 1.0
    submit_scored(rt, world, world.other, predictions(set(range(3))))  # public 0.5
    baseline = submit_scored(rt, world, world.instructor, predictions(set(range(4))))  # public 0.66667
    with rt.db.session() as session:
        benchmarks.name_submission(session, baseline, "=Majority class", by=None, actor="cli:test")

    board = client.get(f"/api/competitions/{CID}/leaderboard", headers=world.other.auth)
    assert_matches_openapi(board, "/api/competitions/{cid}/leaderboard", "get")
    assert [(e["rank"], e["name"], e["benchmark"], e["score"], e["entries"], e["me"])
            for e in board.get_json()["entries"]] == [
        (1, "Overfitter", None, 1.0, 1, False), (None, "Benchmark: =Majority class", "=Majority class", 0.66667, None,
                                                 False), (2, "Underfitter", None, 0.5, 1, True)]
    staff_entry = client.get(f"/api/competitions/{CID}/leaderboard", headers=world.staff.auth).get_json()["entries"][1]
    assert staff_entry["submission_id"] == baseline and "email" not in staff_entry

    view = client.get(f"/api/v1/competitions/{CID}/leaderboard/view", headers=world.other.auth)
    assert_matches_openapi(view, "/api/v1/competitions/{cid}/leaderboard/view", "get")
    assert [(row["teamId"], row["teamName"]) for row in view.get_json()["submissions"]] == [
        (1, "Overfitter"), ("", "Benchmark: =Majority class"), (2, "Underfitter")]
    download = client.get(f"/api/v1/competitions/{CID}/leaderboard/download", headers=world.other.auth)
    with zipfile.ZipFile(io.BytesIO(download.data)) as zf:
        lines = zf.read(zf.namelist()[0]).decode().splitlines()
    assert [line.rsplit(",", 2)[0] for line in lines[1:]] == ["1,Overfitter", ",Benchmark: =Majority class",
                                                             "2,Underfitter"]


def test_patch_changes_the_description_for_its_author_and_staff_only(client, rt, world):
    sub_id = submit_scored(rt, world, world.student)
    url = f"/api/submissions/{sub_id}"

    def patch(person, body):
        return client.patch(url, json=body, headers=person.auth)

    changed = patch(world.student, {"description": " ensemble of three "})
    assert_matches_openapi(changed, "/api/submissions/{n}", "patch")
    assert changed.status_code == 200 and changed.get_json()["description"] == "ensemble of three"

    too_long = patch(world.student, {"description": "x" * 1001})
    assert too_long.status_code == 422 and "shorten it to at most 1000 characters" in too_long.get_json()["message"]
    for body in ({"description": 3}, {"description": "a", "selected": True}, ["a"]):
        bad = patch(world.student, body)
        assert bad.status_code == 400 and "description" in bad.get_json()["message"], body
    for stranger in (world.other, world.outsider):
        assert patch(stranger, {"description": "defaced"}).status_code == 404

    by_staff = patch(world.staff, {"description": "typo fixed by staff"})
    assert by_staff.status_code == 200 and by_staff.get_json()["user"]["email"] == world.student.email
    assert client.get(url, headers=world.student.auth).get_json()["description"] == "typo fixed by staff"
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "submission.describe")) == 1
