"""A real server on 127.0.0.1 with a loaded course, and Debian's Chromium driven by Playwright.

The browser is the system's `chromium` (installed by `make test` when missing), never one Playwright downloads.
Screenshots go to tests/e2e/artifacts/, which git ignores; the SQLite run takes them (see `shoot`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from podium.services import users
from podium.services.courses import get_course, load_course
from podium.web import create_app
from tests.conftest import write_course

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Site:
    url: str
    course: str
    competition: str
    student: str = "student@c1.test"
    rival: str = "rival@c1.test"
    staff: str = "ta@c1.test"


@pytest.fixture
def site(rt, tmp_path):
    folder = write_course(tmp_path / "courses")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        course = get_course(session, "c1")
        users.add_user(session, "student@c1.test", course, "student", name="Stu Dent", leaderboard_name="Overfitter",
                       password=PASSWORD)
        users.add_user(session, "rival@c1.test", course, "student", name="Ri Val", leaderboard_name="Underfitter",
                       password=PASSWORD)
        users.add_user(session, "ta@c1.test", course, "staff", name="Tea Assistant", password=PASSWORD)
        public_id = course.competitions[0].public_id
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(url=f"http://127.0.0.1:{server.server_port}", course="c1", competition=public_id)
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


# Whether this run takes screenshots: see `shoot`.
SCREENSHOTS = {"taken": True}


@pytest.fixture(scope="session", autouse=True)
def screenshots_in_the_sqlite_run(database_kind):
    # The test modules import `shoot` from tests.e2e.conftest, a module apart from the `conftest` that pytest loads
    # from this same file (tests/e2e is no package): the flag is set in both.
    from tests.e2e import conftest as imported

    SCREENSHOTS["taken"] = imported.SCREENSHOTS["taken"] = database_kind == "sqlite"


@pytest.fixture(scope="session")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Errors the page logged: a script failure or anything the content security policy blocked shows up here."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))


def shoot(page, name: str) -> Path:
    """A full-page screenshot once every picture on the page (charts load lazily) has arrived.

    Screenshots are for a person to look at, and the pages are the same on either database: the PostgreSQL run
    loads every picture as the SQLite run does (one that fails shows up among the console's errors) but leaves the
    picture of the page to the SQLite run. It saves the PostgreSQL run most of a second a page on the long staff
    tables, and `make test`'s two runs no longer write the same files at once."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    # Polled from here: Playwright's own polling of a page function evaluates a string, which the pages' content
    # security policy (no unsafe-eval) refuses once a picture is still loading.
    for _ in range(300):
        if page.evaluate("Array.from(document.images).every(img => img.complete)"):
            break
        page.wait_for_timeout(100)
    page.evaluate("window.scrollTo(0, 0)")
    path = ARTIFACTS / f"{name}.png"
    if SCREENSHOTS["taken"]:
        page.screenshot(path=str(path), full_page=True)
    return path
