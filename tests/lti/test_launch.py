"""Launching Podium from the test LMS (tests/lti/platform.py), over real HTTP: the browser is a `requests` session
that follows what the platform's pages and Podium's answers tell it to do.

The course is the web tests' world (course c1: student@c1.test, other@c1.test, ta@c1.test, prof@c1.test; course c2
with outsider@c2.test), served by a live Podium whose PODIUM_BASE_URL is its own address; the platform is trusted
for the domain c1.test, so the people of c1 are matched by email the first time."""
from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from podium.domain import Role
from podium.models import AuditEvent, Course, LtiContext, LtiIdentity, User
from podium.runtime import make_runtime
from podium.services import authority, lti, users
from tests.conftest import free_port
from tests.lti.conftest import serving_registered
from tests.lti.platform import INSTRUCTOR, LEARNER, MENTOR, TEACHING_ASSISTANT, LaunchRefused
from tests.web.conftest import build_course

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LMS_COURSE = "lms-c1"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def rt(tmp_path, monkeypatch, database_url, port):
    """tests/conftest.py's runtime with PODIUM_BASE_URL at the live server's address (LTI builds its URLs from it)."""
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PODIUM_BASE_URL", f"http://127.0.0.1:{port}")
    runtime = make_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def site(rt, worlds, tmp_path, world_database, port, platform, tool_key_pem):
    """Course c1 served live, the platform registered with it and pointed at it; its LMS course has the four people
    of c1 (by their c1.test addresses) and one resource link."""
    worlds.copy_into(rt, tmp_path, "web course", build_course)
    with serving_registered(rt, platform, port, tool_key_pem) as url:
        platform.add_context(LMS_COURSE, "Deep Learning (LMS)", label="11-785")
        for sub, email, roles in (("s-1", "student@c1.test", [LEARNER]), ("s-2", "other@c1.test", [LEARNER]),
                                  ("t-1", "ta@c1.test", [INSTRUCTOR, TEACHING_ASSISTANT]),
                                  ("i-1", "prof@c1.test", [INSTRUCTOR])):
            platform.add_member(LMS_COURSE, sub, email=email, name=email.split("@")[0], roles=roles)
        platform.add_resource_link(LMS_COURSE, "rl-home", "Podium")
        yield url


def launch(platform, sub: str, *, link: str | None = "rl-home", deep_link: bool = False, browser=None,
           context: str = LMS_COURSE, **tamper) -> tuple[requests.Session, requests.Response]:
    """What a browser does when `sub` clicks the link at the platform: login initiation at Podium, the platform's
    authorization page, and the form it posts back to Podium; Podium's answer to that post, not followed."""
    browser = browser or requests.Session()
    started = browser.get(platform.login_initiation_url(context, sub, link_id=None if deep_link else link,
                                                        deep_link=deep_link), allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    action, fields = platform.answer(started.headers["Location"], **tamper)
    return browser, browser.post(action, data=fields, allow_redirects=False, timeout=10)


def link_course(site, platform, browser=None) -> requests.Session:
    """The instructor's first launch, and the course chosen on the page it leads to."""
    browser, answer = launch(platform, "i-1", browser=browser)
    assert answer.headers["Location"] == "/lti/link"
    page = browser.get(site + "/lti/link", timeout=10)
    assert "Link Deep Learning (LMS) to a Podium course" in page.text
    linked = browser.post(site + "/lti/link", data={"csrf_token": TOKEN.search(page.text).group(1), "course": "c1"},
                          allow_redirects=False, timeout=10)
    assert linked.headers["Location"] == "/courses/c1", linked.text
    return browser


def signed_in_as(browser: requests.Session, site: str) -> str:
    page = browser.get(site + "/profile", allow_redirects=False, timeout=10)
    assert page.status_code == 200, "not signed in"
    return page.text


def role(rt, email: str, course: str = "c1") -> Role | None:
    with rt.db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        return authority.role_of(user, session.scalar(select(Course).where(Course.slug == course)))


def actions(rt, name: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == name).order_by(AuditEvent.id)))


# --- the first launch, and then everyone's -----------------------------------------------------------------------


def test_an_instructor_links_the_lms_course_at_the_first_launch_and_everyone_lands_in_it(site, platform, rt):
    # Before the link, a student is told to wait for the instructor, and nothing is made.
    _, refused = launch(platform, "s-1")
    assert refused.status_code == 403 and "not linked to a Podium course yet" in refused.text

    instructor = link_course(site, platform)
    assert "prof@c1.test" in signed_in_as(instructor, site)
    [linked] = actions(rt, "lti.link")
    assert linked.actor == "prof@c1.test" and linked.target == LMS_COURSE and linked.details["create_accounts"] is False
    with rt.db.session() as session:
        context = session.scalar(select(LtiContext))
        # the platform's services, as the launch named them
        assert context.memberships_url == platform.url(f"/nrps/{LMS_COURSE}")
        assert context.lineitems_url == platform.url(f"/ags/{LMS_COURSE}/lineitems")

    student, landed = launch(platform, "s-1")
    assert landed.status_code == 302 and landed.headers["Location"] == "/courses/c1"
    assert "student@c1.test" in signed_in_as(student, site)
    assert student.get(site + "/courses/c1", timeout=10).status_code == 200
    # Linked by trusted email the first time; afterwards by the platform's id alone, whatever the email says.
    with rt.db.session() as session:
        identity = session.scalar(select(LtiIdentity).where(LtiIdentity.subject == "s-1"))
        assert identity.user.email == "student@c1.test" and identity.linked_by == "email"
    platform.context(LMS_COURSE).members["s-1"].email = "prof@c1.test"
    again, landed = launch(platform, "s-1")
    assert "student@c1.test" in signed_in_as(again, site)


def test_a_launch_of_a_deep_linked_competition_opens_it_and_deep_linking_places_it(site, platform, rt):
    link_course(site, platform)
    staff, answer = launch(platform, "i-1", deep_link=True)
    assert answer.headers["Location"] == "/lti/deep-link"
    page = staff.get(site + "/lti/deep-link", timeout=10)
    assert "c1-hw1" in page.text
    back = staff.post(site + "/lti/deep-link", data={"csrf_token": TOKEN.search(page.text).group(1),
                                                     "competition": "c1-hw1"}, timeout=10)
    assert back.status_code == 200
    # The answer goes back to the platform by a form only its page's CSP allows to post there.
    assert f"form-action 'self' {platform.issuer}" in back.headers["Content-Security-Policy"]
    action = re.search(r'<form method="post" action="([^"]+)" data-auto-submit', back.text).group(1)
    jwt_value = re.search(r'name="JWT" value="([^"]+)"', back.text).group(1)
    returned = requests.post(action, data={"JWT": jwt_value}, timeout=10)
    assert returned.status_code == 200, returned.text
    [item] = platform.deep_link_items(LMS_COURSE)
    assert item["custom"] == {"competition": "c1-hw1"} and item["lineItem"]["tag"] == "c1-hw1"
    assert [e.details["competitions"] for e in actions(rt, "lti.deep_link")] == [["c1-hw1"]]

    # The platform made a resource link of the item: a student's launch of it opens the competition.
    link_id = next(link for link in platform.context(LMS_COURSE).links if link != "rl-home")
    _, landed = launch(platform, "s-1", link=link_id)
    assert landed.headers["Location"] == "/competitions/c1-hw1"


def test_a_link_naming_a_competition_of_another_course_opens_the_linked_course_only(site, platform, rt):
    link_course(site, platform)
    platform.add_resource_link(LMS_COURSE, "rl-evil", "Other course", custom={"competition": "c2-hw9"})
    _, landed = launch(platform, "s-1", link="rl-evil")
    assert landed.headers["Location"] == "/courses/c1"


# --- what the LMS says of roles -----------------------------------------------------------------------------------


def test_lms_roles_set_podium_roles_but_never_remove_the_last_instructor(site, platform, rt):
    link_course(site, platform)
    platform.context(LMS_COURSE).members["s-2"].roles = [TEACHING_ASSISTANT]
    launch(platform, "s-2")
    assert role(rt, "other@c1.test") == Role.staff
    [enrolled] = [e for e in actions(rt, "user.enrol") if e.actor == "lti:Test LMS"]
    assert enrolled.target == "other@c1.test" and enrolled.details["role"] == "staff"

    platform.context(LMS_COURSE).members["i-1"].roles = [LEARNER]
    _, landed = launch(platform, "i-1")
    assert landed.status_code == 302
    assert role(rt, "prof@c1.test") == Role.instructor  # the course's last instructor
    [held] = actions(rt, "lti.role_held")
    assert held.target == "prof@c1.test" and "last instructor" in held.details["why"]

    platform.context(LMS_COURSE).members["s-1"].roles = [MENTOR]
    _, refused = launch(platform, "s-1")
    assert refused.status_code == 403 and "Mentor" in refused.text


# --- people Podium does not know -------------------------------------------------------------------------------------


def test_an_unknown_person_gets_an_account_only_where_the_course_allows_it(site, platform, rt):
    link_course(site, platform)
    platform.add_member(LMS_COURSE, "n-1", email="newcomer@c1.test", name="New Comer", roles=[LEARNER])
    _, refused = launch(platform, "n-1")
    assert refused.status_code == 403 and "no account for you" in refused.text
    with rt.db.session() as session:
        assert session.scalar(select(User).where(User.email == "newcomer@c1.test")) is None
        lti.set_create_accounts(session, session.scalar(select(LtiContext)), True, actor="prof@c1.test")

    newcomer, landed = launch(platform, "n-1")
    assert landed.headers["Location"] == "/courses/c1"
    assert role(rt, "newcomer@c1.test") == Role.student
    assert [e.target for e in actions(rt, "user.created_by_lti")] == ["newcomer@c1.test"]


def test_an_lms_account_with_an_address_of_an_untrusted_domain_never_reaches_that_podium_account(site, platform, rt):
    """Any LMS administrator can type any address into an LMS account: outsider@c2.test exists in Podium, and the
    platform is trusted for c1.test only."""
    link_course(site, platform)
    with rt.db.session() as session:
        lti.set_create_accounts(session, session.scalar(select(LtiContext)), True, actor="prof@c1.test")
    platform.add_member(LMS_COURSE, "x-1", email="outsider@c2.test", roles=[INSTRUCTOR])
    browser, refused = launch(platform, "x-1")
    assert refused.status_code == 403 and "not trusted" in refused.text
    assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200
    assert role(rt, "outsider@c2.test") is None and role(rt, "outsider@c2.test", "c2") == Role.student


def test_the_same_id_at_another_platform_is_another_person(site, platform, rt):
    link_course(site, platform)
    with rt.db.session() as session:
        other, _ = lti.add_platform(session, rt.settings, name="Other LMS", issuer="https://lms.other.test",
                                    client_id="x", deployment_ids=["d"], login_url="https://lms.other.test/auth",
                                    token_url="https://lms.other.test/token", key_set_url="https://lms.other.test/k")
        with pytest.raises(Exception, match="no account for you"):
            lti.person(session, other, "s-1", "", "", how="launch", create=False)


# --- launches refused ----------------------------------------------------------------------------------------------


@pytest.mark.only_on("sqlite", why="the id_token's checks; no query differs by database")
@pytest.mark.parametrize("tamper, words", [
    ({"key": "stranger"}, "signature does not match"),
    ({"audience": "another-tool"}, "meant for another tool"),
    ({"deployment_id": "deployment-unknown"}, "deployment"),
    ({"lifetime": -60}, "expired"),
    ({"drop": ["sub"]}, "names nobody"),
])
def test_a_spoilt_launch_signs_nobody_in(site, platform, rt, tamper, words):
    link_course(site, platform)
    browser, refused = launch(platform, "s-1", **tamper)
    assert refused.status_code == 400 and words in refused.text
    assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200


def test_a_launch_is_good_once(site, platform, rt):
    link_course(site, platform)
    browser = requests.Session()
    started = browser.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                          allow_redirects=False, timeout=10)
    action, fields = platform.answer(started.headers["Location"])
    assert browser.post(action, data=fields, allow_redirects=False, timeout=10).status_code == 302
    replayed = requests.Session()
    replayed.cookies.update(browser.cookies)  # even with the state cookie the first browser had
    again = replayed.post(action, data=fields, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and "used already" in again.text
    # and a launch finished in another browser than the one that started it is refused
    started = browser.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                          allow_redirects=False, timeout=10)
    action, fields = platform.answer(started.headers["Location"])
    stolen = requests.post(action, data=fields, allow_redirects=False, timeout=10)
    assert stolen.status_code == 400 and "not the one that started it" in stolen.text


def test_an_unregistered_platform_cannot_start_a_launch(site, platform):
    answer = requests.get(site + "/lti/login", params={"iss": "https://lms.unknown.test", "login_hint": "x",
                                                       "target_link_uri": site + "/lti/launch"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "not registered with this Podium" in answer.text


def test_the_platform_refuses_a_redirect_uri_podium_did_not_register(site, platform):
    started = requests.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                           allow_redirects=False, timeout=10)
    with pytest.raises(LaunchRefused):
        platform.answer(started.headers["Location"].replace("%2Flti%2Flaunch", "%2Fevil"))


def test_podium_publishes_its_key_and_refuses_to_be_framed_by_default(site, platform):
    keys = requests.get(site + "/lti/jwks.json", timeout=10).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and "d" not in keys[0]
    page = requests.get(site + "/", timeout=10)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_an_lms_account_with_an_address_of_an_untrusted_domain_gets_no_new_account_to_wait_for_its_owner(site,
                                                                                                       platform,
                                                                                                       rt):
    """An account made under an address the platform is not trusted for would stay linked to the LMS person who
    made it: when the address's owner is later enrolled by staff (or linked by a trusted LMS), the one who typed the
    address into their LMS account would sign in as them."""
    link_course(site, platform)
    with rt.db.session() as session:
        lti.set_create_accounts(session, session.scalar(select(LtiContext)), True, actor="prof@c1.test")
    platform.add_member(LMS_COURSE, "x-2", email="future@c2.test", roles=[LEARNER])
    browser, refused = launch(platform, "x-2")
    assert refused.status_code == 403 and "not trusted" in refused.text
    assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200
    with rt.db.session() as session:
        assert session.scalar(select(User).where(User.email == "future@c2.test")) is None
        assert session.scalar(select(LtiIdentity).where(LtiIdentity.subject == "x-2")) is None
        # The address's owner arrives in Podium the usual way: the LMS person still reaches nothing.
        users.add_user(session, "future@c2.test", session.scalar(select(Course).where(Course.slug == "c2")),
                       "student")
    again, refused = launch(platform, "x-2")
    assert refused.status_code == 403
    assert again.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200


@pytest.mark.only_on("sqlite", why="the id_token's audience checks; no query differs by database")
def test_a_token_for_several_audiences_is_podiums_only_when_podium_is_its_authorized_party(site, platform, rt):
    link_course(site, platform)
    for claims, accepted in [
        # Several audiences: the token is Podium's only when its authorized party (azp) is Podium's client id.
        ({"aud": ["podium-tool", "another-tool"], "azp": "another-tool"}, False),
        ({"aud": ["podium-tool", "another-tool"], "azp": None}, False),
        ({"aud": ["another-tool", "podium-tool"], "azp": "podium-tool"}, True),
        # One audience: an azp, when given, must be it.
        ({"aud": "podium-tool", "azp": "another-tool"}, False),
        ({"aud": ["podium-tool"], "azp": "podium-tool"}, True),
    ]:
        drop = [name for name, value in claims.items() if value is None]
        browser, answer = launch(platform, "s-1", claims={k: v for k, v in claims.items() if v is not None},
                                 drop=drop)
        if accepted:
            assert answer.status_code == 302 and answer.headers["Location"] == "/courses/c1", claims
            assert "student@c1.test" in signed_in_as(browser, site)
        else:
            assert answer.status_code == 400 and "meant for another tool" in answer.text, claims
            assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200


def test_a_launch_form_taken_from_the_browser_that_started_it_signs_nobody_else_in(site, platform, rt):
    """The platform's form (id_token and state) can leak (a proxy's or an extension's log, a shared machine's
    history); the state cookie only repeats the state, so a browser that sets it to what the form says must still
    not finish the launch: the nonce is good only in the browser Podium gave it to."""
    link_course(site, platform)
    victim = requests.Session()
    started = victim.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                         allow_redirects=False, timeout=10)
    action, fields = platform.answer(started.headers["Location"])
    thief = requests.Session()
    thief.cookies.set("lti1p3-" + fields["state"], fields["state"], domain="127.0.0.1", path="/lti/")
    stolen = thief.post(action, data=fields, allow_redirects=False, timeout=10)
    assert stolen.status_code == 400 and "not the one that started it" in stolen.text
    assert thief.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200
    # The browser that started it finishes it, and two launches started side by side in one browser both work.
    assert victim.post(action, data=fields, allow_redirects=False, timeout=10).status_code == 302
    first = victim.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                       allow_redirects=False, timeout=10)
    second = victim.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                        allow_redirects=False, timeout=10)
    for started in (first, second):
        action, fields = platform.answer(started.headers["Location"])
        assert victim.post(action, data=fields, allow_redirects=False, timeout=10).status_code == 302
    # A session id Podium could not have given (one's own browser can send any) is replaced, not kept.
    victim.cookies.set("lti1p3-session-id", "x" * 300, domain="127.0.0.1", path="/lti/")
    started = victim.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                         allow_redirects=False, timeout=10)
    assert started.status_code == 302 and len(victim.cookies.get("lti1p3-session-id", path="/lti/")) == 36


def test_a_launch_whose_ids_are_longer_than_the_specification_allows_is_refused_with_a_message(site, platform, rt):
    """LTI Core 1.3 caps the user's, the context's and the resource link's ids at 255 characters; Podium keeps
    them in columns of that size. A longer user or link id was kept cut, so the next launch did not find it and
    stored it again: an HTTP 500 for that person or link from then on."""
    link_course(site, platform)
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    for spoilt in ({"sub": "s" * 256}, {claim + "context": {"id": "c" * 256, "title": "Long"}},
                   {claim + "resource_link": {"id": "r" * 256}}):
        browser, refused = launch(platform, "s-1", claims=spoilt)
        assert refused.status_code == 400 and "longer than 255 characters" in refused.text, spoilt
        assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200
    # A state of any length, in one's own browser with the cookie to match: refused before it is kept anywhere.
    browser = requests.Session()
    started = browser.get(platform.login_initiation_url(LMS_COURSE, "s-1", link_id="rl-home"),
                          allow_redirects=False, timeout=10)
    action, fields = platform.answer(started.headers["Location"])
    fields["state"] = "state-" + "x" * 300
    browser.cookies.set("lti1p3-" + fields["state"], fields["state"], domain="127.0.0.1", path="/lti/")
    refused = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert refused.status_code == 400 and "not the one that started it" in refused.text


@pytest.mark.only_on("sqlite", why="who may link an LMS course; no query differs by database")
def test_nobody_links_an_lms_course_to_a_podium_course_they_do_not_teach(site, platform, rt):
    """The LMS instructor (instructor of c1 only) cannot link the LMS course to c2; the LMS course's TA (staff of
    c1 in Podium) cannot link it at all, nor raise themselves through it."""
    instructor, answer = launch(platform, "i-1")
    page = instructor.get(site + "/lti/link", timeout=10)
    assert ">c2<" not in page.text and 'value="c2"' not in page.text
    refused = instructor.post(site + "/lti/link", data={"csrf_token": TOKEN.search(page.text).group(1),
                                                        "course": "c2"}, allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "only to a Podium course you are an instructor of" in refused.text

    ta, answer = launch(platform, "t-1")
    assert answer.status_code == 403 and "not linked to a Podium course yet" in answer.text
    with rt.db.session() as session:
        assert session.scalar(select(LtiContext)) is None
    link_course(site, platform)
    ta, answer = launch(platform, "t-1")
    assert answer.headers["Location"] == "/courses/c1" and role(rt, "ta@c1.test") == Role.staff
    page = ta.get(site + "/lti/link", timeout=10)
    assert page.status_code == 403 and "Only an instructor of the LMS course" in page.text


@pytest.mark.only_on("sqlite", why="the deep linking answer's address; no query differs by database")
def test_a_deep_linking_answer_goes_only_to_a_web_address(site, platform, rt):
    """The address the answer's form posts to comes from the platform's token; one that is not http(s) (a
    javascript: address) would run in Podium's pages if the page's policy ever let it."""
    link_course(site, platform)
    settings = {"deep_link_return_url": "javascript:fetch('/profile')", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window"]}
    staff, answer = launch(platform, "i-1", deep_link=True,
                           claims={"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": settings})
    page = staff.get(site + "/lti/deep-link", timeout=10)
    back = staff.post(site + "/lti/deep-link", data={"csrf_token": TOKEN.search(page.text).group(1),
                                                     "competition": "c1-hw1"}, timeout=10)
    assert back.status_code == 400 and "javascript:" not in back.text and 'name="JWT"' not in back.text


@pytest.mark.only_on("sqlite", why="claims of the wrong shape; no query differs by database")
def test_a_launch_whose_claims_have_the_wrong_shape_is_refused_with_a_message(site, platform, rt):
    """A platform's administrator can sign any claims: ones of another shape than LTI's are refused, not a 500."""
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    for spoilt in ({claim + "context": "lms-c1"}, {claim + "custom": ["competition", "c1-hw1"]},
                   {claim + "resource_link": ["rl-home"]}, {claim + "launch_presentation": "iframe"},
                   {"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": "everywhere"},
                   {"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": ["x"]},
                   {claim + "roles": "Instructor"}):
        browser, refused = launch(platform, "s-1", claims=spoilt)
        assert refused.status_code in (400, 403) and "Podium" in refused.text, (spoilt, refused.status_code)
        assert browser.get(site + "/profile", allow_redirects=False, timeout=10).status_code != 200, spoilt
