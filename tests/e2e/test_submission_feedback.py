"""In a real Chromium: the submissions left today go down with each upload, the public rank a scored upload gave
appears beside its score, and the Submit page of a competition that takes no upload now says why instead of showing
its form. The rules behind it are tested on both databases in tests/web/test_submission_feedback.py."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from podium.models import Competition, User
from podium.services import submissions
from tests.conftest import predictions
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import WAIT_MS, sign_in, upload


def scored_upload(rt, site, email: str, content: str) -> None:
    with rt.db.session() as session:
        user_id = session.query(User.id).filter(User.email == email).scalar()
        comp_id = session.query(Competition.id).filter(Competition.slug == "hw1").scalar()
    sub = submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(content.encode()), "rival.csv")
    submissions.score(rt.db, rt.settings, sub.id)


def move_schedule(rt, *, by: timedelta, practice: bool) -> None:
    with rt.db.session() as session:
        comp = session.query(Competition).filter(Competition.slug == "hw1").one()
        for name in ("opens", "early", "ontime", "late"):
            setattr(comp, name, getattr(comp, name) + by)
        comp.allow_practice = practice


@pytest.mark.only_on("sqlite", why="what the browser shows does not depend on the database; the queries behind it "
                                   "are tested on both in tests/web/test_submission_feedback.py")
def test_submissions_left_go_down_and_the_public_rank_appears_after_scoring(browser, site, rt):
    scored_upload(rt, site, site.rival, predictions(set(range(3))))  # public 0.5: the rival leads
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    console = Console(page)
    sign_in(page, site, site.student)

    page.goto(f"{site.url}/competitions/{site.competition}/submit")
    left = page.locator("#allowance")
    expect(left).to_contain_text("5 of 5 submissions left today")
    expect(left.locator(".yours")).to_contain_text("your time:")  # the reset in the viewer's time too

    upload(page, site, predictions(set(range(2))), "first.csv")  # public 0.33: second of two
    expect(page.locator("#upload-result .rank-change")).to_have_text("Public rank: not on the leaderboard → 2 of 2.",
                                                                     timeout=WAIT_MS)
    expect(left).to_contain_text("4 of 5 submissions left today")  # without a reload
    upload(page, site, predictions(), "second.csv")  # public 1.0: first
    expect(page.locator("#upload-result .rank-change")).to_have_text("Public rank: 2 → 1 of 2.", timeout=WAIT_MS)
    expect(left).to_contain_text("3 of 5 submissions left today")
    assert page.url.endswith("/submit")
    shoot(page, "student-submit-rank")

    page.locator("#upload-result a").click()
    expect(page.locator("[data-field=public_rank]")).to_have_text("Public rank: 2 → 1 of 2.")
    shoot(page, "student-submission-rank")
    page.goto(f"{site.url}/competitions/{site.competition}")
    expect(page.locator(".timeline-panel #allowance")).to_contain_text("3 of 5 submissions left today")
    shoot(page, "student-competition-allowance")

    # The same competition, not open yet, then closed for good, then closed but taking practice uploads.
    move_schedule(rt, by=timedelta(days=30), practice=False)
    page.goto(f"{site.url}/competitions/{site.competition}/submit")
    expect(page.locator("#upload-shut")).to_contain_text("Not open yet. Uploads are taken from the opening")
    expect(page.locator("#submit-form")).to_have_count(0)
    shoot(page, "student-submit-not-open")
    move_schedule(rt, by=-timedelta(days=70), practice=False)
    page.goto(f"{site.url}/competitions/{site.competition}")
    expect(page.locator("#upload-shut")).to_contain_text("takes no practice submissions")
    expect(page.get_by_role("link", name="Submit predictions")).to_have_count(0)
    shoot(page, "student-competition-closed")
    move_schedule(rt, by=timedelta(0), practice=True)
    page.goto(f"{site.url}/competitions/{site.competition}/submit")
    expect(page.locator("#practice-notice")).to_contain_text("This upload will not count.")
    expect(page.locator("#submit-form")).to_be_visible()
    shoot(page, "student-submit-practice")
    assert console.errors == []


def received(rt, email: str, content: str = predictions()) -> int:
    """An upload recorded and left waiting: the site scores only what is uploaded through it."""
    with rt.db.session() as session:
        user_id = session.query(User.id).filter(User.email == email).scalar()
        comp_id = session.query(Competition.id).filter(Competition.slug == "hw1").scalar()
    return submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(content.encode()), "wait.csv").id


@pytest.mark.only_on("sqlite", why="what the browser shows does not depend on the database; the queue's order is "
                                   "tested on both in tests/web/test_submission_feedback.py")
def test_a_waiting_submission_shows_its_place_in_the_queue_then_its_score_and_rank_without_a_reload(browser, site,
                                                                                                       rt):
    busy = received(rt, site.rival, predictions(set(range(3))))
    received(rt, site.rival)  # the rival's second upload, waiting behind mine
    mine = received(rt, site.student)  # taken before the rival's second: each student's first upload comes first
    with rt.db.session() as session:
        assert submissions.claim(session, busy, worker="elsewhere:1:aa", lease_seconds=3600)  # being scored
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)
    sign_in(page, site, site.student)
    page.goto(f"{site.url}/submissions/{mine}")
    place = page.locator("#submission [data-field=queue]")
    expect(place).to_contain_text("1st in line to be scored: no upload waits before it")
    expect(place).to_contain_text("1 is being scored now")
    expect(page.locator("#submission .status")).to_have_text("queued")
    shoot(page, "student-submission-queue")

    submissions.score(rt.db, rt.settings, mine)  # the page follows its JSON: no reload
    expect(page.locator("#submission .status")).to_have_text("scored", timeout=WAIT_MS)
    expect(place).to_be_hidden()
    expect(page.locator("#submission [data-field=public_rank]")).to_have_text(
        "Public rank: not on the leaderboard → 1 of 1.")  # the rival's uploads are not scored yet
    assert page.locator("#submission [data-field=private_score]").inner_text().startswith("shown when")
    shoot(page, "student-submission-queue-scored")
    assert console.errors == []
    context.close()
