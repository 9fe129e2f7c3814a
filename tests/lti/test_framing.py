"""Podium inside the learning platform's frame: only for a platform registered with --allow-framing, a launch that
asks for a frame, and HTTPS; then the platform page's origin (and no other) may frame the session's pages, and the
session cookie crosses sites (SameSite=None; Secure). Everyone else keeps `frame-ancestors 'none'`.

Podium is the Flask test client here behind a trusted proxy that says HTTPS; the platform is the real test LMS."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from podium.errors import PodiumError
from podium.models import Course, LtiContext
from podium.runtime import make_runtime
from podium.services import lti
from podium.web import create_app
from tests.lti.conftest import give_tool_key
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.web.conftest import build_course

BASE = "https://podium.test"
LMS_PAGE = "https://lms.example.edu"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "podium.test"}

pytestmark = pytest.mark.only_on("sqlite", why="response headers and cookies of a launch; no query differs by database")


@pytest.fixture
def rt(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PODIUM_BASE_URL", BASE)
    monkeypatch.setenv("PODIUM_TRUST_PROXY", "1")
    runtime = make_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def client(rt, worlds, tmp_path, world_database, platform, tool_key_pem):
    worlds.copy_into(rt, tmp_path, "web course", build_course)
    give_tool_key(rt.settings.data_dir, tool_key_pem)
    with rt.db.session() as session:
        lti.add_platform(session, rt.settings, name="Test LMS", issuer=platform.issuer, client_id=platform.client_id,
                         deployment_ids=[platform.deployment_id], login_url=platform.auth_url,
                         token_url=platform.token_url, key_set_url=platform.jwks_url, email_domains="c1.test",
                         allow_framing=True)
        platform_id = lti.platforms(session)[0].id
        course = session.scalar(select(Course).where(Course.slug == "c1"))
        session.add(LtiContext(platform_id=platform_id, context_id="lms-c1", course_id=course.id, ags_scopes=[]))
    platform.tool_url = BASE
    platform.add_context("lms-c1", "Deep Learning")
    platform.add_member("lms-c1", "s-1", email="student@c1.test", roles=[LEARNER])
    platform.add_resource_link("lms-c1", "rl-home", "Podium")
    app = create_app(runtime=rt)
    yield app.test_client()
    app.extensions["podium.scoring"].shutdown(wait=True)


def framed_launch(client, platform, target: str):
    started = client.get(platform.login_initiation_url("lms-c1", "s-1", link_id="rl-home",
                                                       document_target=target).removeprefix(BASE),
                         headers=HTTPS)
    assert started.status_code == 302
    action, fields = platform.answer(started.headers["Location"])
    landed = client.post(action.removeprefix(BASE), data=fields, headers={**HTTPS, "Origin": LMS_PAGE})
    assert landed.status_code == 302 and landed.headers["Location"] == "/courses/c1", landed.get_data(as_text=True)
    return landed


def test_a_framed_launch_lets_the_platform_page_and_only_it_frame_the_session(client, platform):
    landed = framed_launch(client, platform, "iframe")
    cookie = next(c for c in landed.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=None" in cookie and "Secure" in cookie
    page = client.get("/courses/c1", headers=HTTPS)
    assert page.status_code == 200
    assert f"frame-ancestors {LMS_PAGE}" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    # The same session over plain HTTP is not framed (a framed cookie must be Secure).
    assert "frame-ancestors 'none'" in client.get("/courses/c1").headers["Content-Security-Policy"]


def test_a_launch_in_a_window_is_never_framed(client, platform):
    framed_launch(client, platform, "window")
    page = client.get("/courses/c1", headers=HTTPS)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_framing_needs_a_platform_that_allows_it_and_an_https_podium(client, platform, rt):
    with rt.db.session() as session:
        lti.platforms(session)[0].allow_framing = False
    framed_launch(client, platform, "iframe")
    assert "frame-ancestors 'none'" in client.get("/courses/c1", headers=HTTPS).headers["Content-Security-Policy"]
    with rt.db.session() as session, pytest.raises(PodiumError, match="HTTPS deployment"):
        lti.add_platform(session, rt.settings.__class__(**{**rt.settings.__dict__, "base_url": "http://podium.test"}),
                         issuer="https://lms.other.test", client_id="x", deployment_ids=["d"],
                         login_url="https://lms.other.test/a", token_url="https://lms.other.test/t",
                         key_set_url="https://lms.other.test/k", allow_framing=True)
