"""In a real Chromium, through the test LMS's own pages (tests/lti/platform.py): the instructor opens Podium from the
LMS course for the first time, links it to the Podium course and places a competition in it by deep linking; a
student then opens that competition from the LMS and is signed in to it, in a window of its own, and finds the
Kaggle CLI set-up on the profile."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from podium.runtime import make_runtime
from tests.conftest import free_port
from tests.e2e.conftest import Console, shoot
from tests.lti.conftest import lti_platform, platform, serving_registered, tool_key_pem  # noqa: F401 - fixtures
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.web.conftest import build_course


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def rt(tmp_path, monkeypatch, database_url, port):
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PODIUM_BASE_URL", f"http://127.0.0.1:{port}")
    runtime = make_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def site(rt, worlds, tmp_path, world_database, port, platform, tool_key_pem):
    worlds.copy_into(rt, tmp_path, "web course", build_course)
    with serving_registered(rt, platform, port, tool_key_pem) as url:
        platform.add_context("lms-c1", "Deep Learning (LMS)")
        platform.add_member("lms-c1", "i-1", email="prof@c1.test", name="Pro Fessor", roles=[INSTRUCTOR])
        platform.add_member("lms-c1", "s-1", email="student@c1.test", name="Stu Dent", roles=[LEARNER])
        platform.add_resource_link("lms-c1", "rl-home", "Podium")
        yield url


def at_the_lms_as(browser, platform, name: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(platform.url("/"))
    page.click(f"text={name}")
    expect(page.locator("body")).to_contain_text(f"Signed in as {name}")
    return context, page


def opened(page, link: str):
    """The window a link of the LMS page opens (tools open in a new window by default)."""
    with page.context.expect_page() as popup:
        page.click(f"text={link}")
    tool = popup.value
    tool.wait_for_load_state()
    return tool


@pytest.mark.only_on("sqlite", why="a browser's path through the platform's pages; every query on it is tested on "
                                   "both databases by tests/lti")
def test_an_instructor_links_the_course_and_places_a_competition_then_a_student_opens_it(browser, site, platform):
    context, lms = at_the_lms_as(browser, platform, "Pro Fessor")
    podium = opened(lms, "Podium")
    console = Console(podium)
    expect(podium.locator("h1")).to_have_text("Link Deep Learning (LMS) to a Podium course")
    shoot(podium, "lti-link-course")
    podium.check("input[name=course][value=c1]")
    podium.click("button[type=submit] >> text=Link the courses")
    expect(podium).to_have_url(f"{site}/courses/c1")
    expect(podium.locator("header.top")).to_contain_text("Pro Fessor")

    adding = opened(lms, "Add Podium content")
    expect(adding.locator("h1")).to_contain_text("Add competitions to Deep Learning (LMS)")
    adding.check("input[name=competition][value=c1-hw1]")
    shoot(adding, "lti-deep-link")
    adding.click("button[type=submit] >> text=Add to the LMS course")
    # Podium's answer goes back to the platform by itself (a script-submitted form).
    expect(adding.locator("body")).to_contain_text("Added:")
    assert console.errors == []
    context.close()

    context, lms = at_the_lms_as(browser, platform, "Stu Dent")
    lms.reload()
    competition = next(link.title for link in platform.context("lms-c1").links.values() if link.id != "rl-home")
    podium = opened(lms, competition)
    expect(podium).to_have_url(f"{site}/competitions/c1-hw1")
    expect(podium.locator("header.top")).to_contain_text("Overfitter")  # the student's own name on the course
    shoot(podium, "lti-student-competition")

    # Signed in by the LMS, the student finds on the profile what to paste to submit with the Kaggle CLI.
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    podium.goto(f"{site}/profile")
    set_up = podium.locator("#kaggle-setup")
    expect(set_up).to_contain_text('pip install "kaggle==1.6.17"')
    expect(set_up).to_contain_text(f"export KAGGLE_API_ENDPOINT={site}")
    expect(set_up).to_contain_text("export KAGGLE_USERNAME=student@c1.test")
    podium.click("button.copy[data-copy=kaggle-setup]")
    expect(podium.locator("button.copy[data-copy=kaggle-setup]")).to_have_text("Copied")
    assert podium.evaluate("navigator.clipboard.readText()").startswith('pip install "kaggle==1.6.17"')
    shoot(podium, "student-profile-kaggle")
    context.close()
