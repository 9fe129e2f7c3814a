"""Every page of the demo course, as a student, an instructor and a visitor see it, checked in a real Chromium by
axe-core (the npm package pinned in tests/e2e/axe, installed by `make install`): no serious or critical violation
of WCAG 2.1 A and AA or of axe's best practices. The pages are those of the app's URL map: a page of the app that
the list below leaves out fails the test, so a new page is checked from the day it is added. The skip link, the
first stop of the Tab key on every page, is tried with the keyboard."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from podium.demo import DEMO_PASSWORD, demo_students
from podium.models import LtiContext, LtiPlatform, Status, Submission, User
from podium.services import invitations, users
from podium.services.accounts import issue_reset_token
from podium.services.courses import get_course
from podium.services.demo import CODE_COPIER, CODE_ORIGINAL
from podium.web import create_app
from tests.demo_world import DEMO_SEED, copy_demo
from tests.e2e.conftest import Console, shoot

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING = ("serious", "critical")
EMPTY_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

COURSE = "11785-f19"
STATES = {"upcoming": "hw4p2", "open": "hw2p2-verification", "late": "hw2p2-classification", "closed": "hw1p2"}
INSTRUCTOR = "instructor@demo.podium.test"
NOBODY = "nobody@demo.podium.test"  # enrolled in no course
ERROR_PAGE = "/reset/not-a-link"  # the error page, a 404
CODE = "hw3p2"  # the competition whose [code] table requires code (POLICY.md section 12)

# The app's GET routes that are not pages a person reads: files, data for scripts and redirects, each with why.
NOT_PAGES = {
    "static": "the style sheet, the script and the icon",
    "main.healthz": "a load balancer's probe",
    "integrity.progress": "JSON: the integrity report's progress, read by the report page's script",
    "student.data_file": "a competition's data file, downloaded",
    "student.submission_file": "a submitted file, downloaded",
    "student.code_file": "an uploaded code file, downloaded",
    "staff.code_file": "a student's code file, downloaded",
    "staff.code_archive": "every student's code in one zip, downloaded",
    "student.submission_json": "the submission page's script's data",
    "staff.grades_csv": "a CSV export",
    "leaderboards.board_csv": "a CSV export",
    "staff.submissions_csv": "a CSV export",
    "staff.competition_toml": "the competition's settings as a file",
    "staff.rescore_progress": "the rescore progress bar's data",
    "charts.activity": "a chart's picture (its text alternative is checked on the pages that show it)",
    "charts.distribution": "a chart's picture (its text alternative is checked on the pages that show it)",
    "charts.progress": "a chart's picture (its text alternative is checked on the pages that show it)",
    "sign_on.start": "a redirect to the identity provider",
    "sign_on.callback": "the identity provider's redirect back",
    "lti.login": "a redirect in an LMS launch",
    "lti.keys": "the tool's public keys, JSON",
    # Reached only in the middle of a launch from an LMS, which a browser cannot start here: tests/e2e/test_lti.py
    # drives them against a test platform.
    "lti.link": "shown only in a launch from an LMS (tests/e2e/test_lti.py)",
    "lti.deep_link": "shown only in a launch from an LMS (tests/e2e/test_lti.py)",
}
NOT_CHECKED_BLUEPRINTS = ("api", "kaggle")  # JSON only


@dataclass(frozen=True)
class Demo:
    url: str
    student: str
    submissions: tuple[int, ...]  # the student's: one scored, one that failed
    other_student_id: int
    invitation: str
    reset: str
    app: object
    code_pair: tuple[int, int] = (0, 0)  # the students of the demo's planted code copy


def cid(slug: str) -> str:
    return f"{COURSE}-{slug}"


def pages(demo: Demo) -> dict[str, list[str]]:
    """Who looks, and at which addresses: every page of the demo each of them reaches."""
    comps = [cid(slug) for slug in STATES.values()]
    return {
        "visitor": ["/sign-in", "/forgot", f"/reset/{demo.reset}", ERROR_PAGE],
        "nobody": ["/", "/no-course", f"/join/{demo.invitation}"],
        "student": [
            "/", f"/courses/{COURSE}", f"/courses/{COURSE}/grades", "/profile",
            *(f"/competitions/{c}" for c in comps),
            *(f"/competitions/{c}/submit" for c in comps),
            f"/competitions/{cid(STATES['open'])}/submissions",
            f"/competitions/{cid(STATES['open'])}/leaderboard",
            f"/competitions/{cid(STATES['closed'])}/leaderboard",  # the private board, released
            f"/competitions/{cid(CODE)}",  # with its Code panel
            *(f"/submissions/{n}" for n in demo.submissions),
        ],
        "instructor": [
            f"/staff/{COURSE}", f"/staff/{COURSE}/people", f"/staff/{COURSE}/invitations",
            f"/staff/{COURSE}/submissions", f"/staff/{COURSE}/extensions", f"/staff/{COURSE}/slack",
            f"/staff/{COURSE}/grades", f"/staff/{COURSE}/audit", f"/staff/{COURSE}/jobs", f"/staff/{COURSE}/mail",
            f"/staff/{COURSE}/lms-grades", f"/staff/{COURSE}/students/{demo.other_student_id}",
            f"/staff/{COURSE}/people/{demo.other_student_id}/remove",
            *(f"/staff/competitions/{c}" for c in comps),
            f"/staff/competitions/{cid(STATES['late'])}/release",
            f"/staff/competitions/{cid(STATES['closed'])}/missed-early",
            f"/staff/competitions/{cid(STATES['open'])}/remind-early",
            f"/staff/competitions/{cid(CODE)}/code",
            f"/staff/competitions/{cid(CODE)}/integrity",
            f"/staff/competitions/{cid(CODE)}/integrity/code/{demo.code_pair[0]}/{demo.code_pair[1]}",
            f"/submissions/{demo.submissions[0]}",  # a student's submission as staff see it
        ],
    }


@pytest.fixture
def axe_installed():
    if not AXE.is_file():
        pytest.fail("tests/e2e/axe/node_modules is missing: run `make install` (it runs `npm ci` in tests/e2e/axe)")


@pytest.fixture
def demo(rt, worlds, tmp_path, world_database):
    """The demo course served, with what its pages need beyond `podium demo`: a link to an LMS course (for the LMS
    grades page), an invitation link, a password reset link and a person enrolled nowhere."""
    copy_demo(worlds, rt, tmp_path)
    with rt.db.session() as session:
        course = get_course(session, COURSE)
        instructor = users.get_user(session, INSTRUCTOR)
        platform = LtiPlatform(name="Test LMS", issuer="https://lms.test", client_id="podium", deployment_ids=["d1"],
                               auth_login_url="https://lms.test/auth", auth_token_url="https://lms.test/token",
                               key_set_url="https://lms.test/jwks")
        session.add(platform)
        session.flush()
        session.add(LtiContext(platform_id=platform.id, context_id="11785", title="11-785 in the LMS",
                               course_id=course.id, lineitems_url="https://lms.test/ags/11785"))
        invitation = invitations.create(session, course, by=instructor, actor=INSTRUCTOR, label="Section A")
        nobody = User(email=NOBODY, name="No Body")
        users.set_password(nobody, DEMO_PASSWORD)
        session.add(nobody)
        session.flush()
        reset = issue_reset_token(session, rt.settings, nobody, actor=INSTRUCTOR)
        # A student with a scored and a failed submission in the open competition.
        rows = session.execute(select(Submission.user_id, Submission.status, Submission.id)
                               .where(Submission.competition_id == _comp_id(course, STATES["open"]))
                               .order_by(Submission.id)).all()
        failed = {user: n for user, status, n in rows if status == Status.failed}
        scored = {user: n for user, status, n in rows if status == Status.scored}
        user_id = next(user for user in failed if user in scored)
        student = session.get(User, user_id).email
        other = next(user for user in scored if user != user_id)
        planted = [users.get_user(session, demo_students(DEMO_SEED)[n].email).id for n in (CODE_ORIGINAL, CODE_COPIER)]
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Demo(url=f"http://127.0.0.1:{server.server_port}", student=student,
               submissions=(scored[user_id], failed[user_id]), other_student_id=other,
               invitation=invitation.token, reset=reset, app=app, code_pair=tuple(planted))
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


def _comp_id(course, slug: str) -> int:
    return next(c.id for c in course.competitions if c.slug == slug)


def unchecked_pages(app, checked: list[str]) -> list[str]:
    """The app's GET pages (outside the JSON APIs and NOT_PAGES) that no checked address leads to."""
    adapter = app.url_map.bind("localhost")
    reached = {adapter.match(path, method="GET")[0] for path in checked}
    return sorted(f"{rule.endpoint} {rule.rule}" for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and rule.endpoint not in reached and rule.endpoint not in NOT_PAGES
                  and rule.endpoint.split(".")[0] not in NOT_CHECKED_BLUEPRINTS)


def sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.stack button[type=submit]")
    expect(page.locator("nav.account .who")).to_be_visible()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each: rule, where, what to do."""
    return page.evaluate("""async ([tags, failing]) => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
        return result.violations.filter(v => failing.includes(v.impact)).flatMap(
            v => v.nodes.map(n => `${v.id} (${v.impact}) at ${n.target.join(" ")}: ${v.help}`));
    }""", [TAGS, list(FAILING)])


@pytest.mark.only_on("sqlite", why="what a page looks like to axe does not depend on the database; the queries "
                                   "behind the pages are tested on both")
def test_every_page_of_the_demo_passes_axe_and_the_skip_link_leads_to_the_content(browser, axe_installed, demo):
    to_check = pages(demo)
    missing = unchecked_pages(demo.app, [path for paths in to_check.values() for path in paths])
    assert not missing, "pages no accessibility check opens (add them to pages() or NOT_PAGES):\n" + "\n".join(missing)

    found: dict[str, list[str]] = {}
    errors: list[str] = []
    contexts = []
    try:
        for who, paths in to_check.items():
            # Students at a deadline use their phones: their pages are checked at a phone's width (where wide tables
            # scroll sideways), the staff's at a desktop's.
            context = browser.new_context(**(DESKTOP if who == "instructor" else PHONE))
            contexts.append(context)
            # axe-core goes in as the browser's own script, run in every page before the page's: the pages' content
            # security policy, which lets in no script but their own, applies to the page's scripts and not to this
            # one, so the pages are checked exactly as they are served (no bypass of the policy is needed).
            context.add_init_script(path=str(AXE))
            # What a chart shows is not what axe reads (its text alternative is on the page): an empty picture
            # spares the server drawing each one.
            context.route("**/charts/**", lambda route: route.fulfill(content_type="image/svg+xml", body=EMPTY_SVG))
            page = context.new_page()
            console = Console(page)
            if who != "visitor":
                sign_in(page, demo.url, {"nobody": NOBODY, "student": demo.student, "instructor": INSTRUCTOR}[who])
            for path in paths:
                response = page.goto(demo.url + path, wait_until="domcontentloaded")
                assert response.status == (404 if path == ERROR_PAGE else 200), f"{path}: {response.status}"
                assert response.headers["content-type"].startswith("text/html"), path
                problems = serious_violations(page)
                if not page.evaluate(FIRST_STOP_IS_THE_SKIP_LINK):
                    problems.append("the skip link is not the first thing the Tab key reaches")
                if problems:
                    found[f"{who} {path}"] = problems
                if "/integrity" in path:  # pages no other browser test opens: their pictures to look at
                    shoot(page, "demo-integrity-pair" if "/code/" in path else "demo-integrity-report")
            errors += [f"{who}: {error}" for error in console.errors if "404" not in error]
        assert not found, "serious or critical accessibility violations:\n" + "\n".join(
            f"{where}\n  " + "\n  ".join(problems) for where, problems in found.items())
        assert errors == []
        skip_link_leads_to_the_content(page, f"{demo.url}/courses/{COURSE}")  # the instructor's, on a desktop
    finally:
        for context in contexts:
            context.close()


FIRST_STOP_IS_THE_SKIP_LINK = """() => {
    const stops = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
    return document.querySelector(stops)?.classList.contains("skip-link") ?? false;
}"""


def skip_link_leads_to_the_content(page, url: str) -> None:
    """Out of sight until Tab reaches it first; Enter moves the focus to the page's main content, where the next Tab
    goes on."""
    page.goto(url)
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    shoot(page, "skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null"), "Tab after the skip link left main"
