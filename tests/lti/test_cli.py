"""`podium lti`: registering platforms, Canvas's developer key JSON, linked courses and their account creation, and a
roster sync printed for staff (in-process, on the roster world of tests/lti/test_roster.py)."""
from __future__ import annotations

import dataclasses
import json

from sqlalchemy import select

from podium.models import AuditEvent, LtiContext
from podium.services import competitions
from podium.services.courses import get_competition
from tests.conftest import free_port
from tests.lti.test_roster import (  # noqa: F401 - fixtures
    ANA, DAN, MIA, TAKEN, full_roster, link, linked, roles, tool_keys_server, world,
)

BASE = "https://podium.example.edu"


def platform_args(issuer: str = "https://canvas.example.edu", *more: str) -> list[str]:
    return ["lti", "add-platform", "--issuer", issuer, "--client-id", "10000000000042",
            "--login-url", f"{issuer}/api/lti/authorize_redirect", "--token-url", f"{issuer}/login/oauth2/token",
            "--keyset-url", f"{issuer}/api/lti/security/jwks", *more]


def one_line_error(result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_a_platform_is_registered_listed_and_removed_and_the_canvas_key_is_printed(podium_cli, rt):
    refused = podium_cli("lti", "tool-config")
    assert "PODIUM_BASE_URL" in one_line_error(refused)

    added = podium_cli(*platform_args("https://canvas.example.edu", "--deployment-id", "7:abc", "--deployment-id",
                                      "8:def", "--email-domain", "uni.test"))
    assert added.exit_code == 0, added.stderr
    assert added.stdout.startswith("registered platform 1: canvas.example.edu (https://canvas.example.edu, client "
                                   "id 10000000000042, deployments 7:abc, 8:def)")
    assert "PODIUM_BASE_URL is not set" in added.stdout
    rt.settings = dataclasses.replace(rt.settings, base_url=BASE)
    again = podium_cli(*platform_args("https://canvas.example.edu", "--deployment-id", "7:abc", "--name", "Canvas"))
    assert again.exit_code == 0 and again.stdout.startswith("updated platform 1: Canvas")
    assert f"{BASE}/lti/login" in again.stdout and f"{BASE}/lti/jwks.json" in again.stdout

    listed = podium_cli("lti", "platforms").stdout.splitlines()
    assert listed[0].split("\t") == ["id", "name", "issuer", "client id", "deployments", "trusted domains",
                                     "framing", "linked courses"]
    assert listed[1].split("\t") == ["1", "Canvas", "https://canvas.example.edu", "10000000000042", "7:abc", "-",
                                     "-", "-"]

    config = podium_cli("lti", "tool-config", "--title", "Podium DL")
    assert config.exit_code == 0
    key = json.loads(config.stdout)  # stdout is the JSON alone, ready to paste
    assert key["title"] == "Podium DL" and key["oidc_initiation_url"] == f"{BASE}/lti/login"
    assert key["target_link_uri"] == f"{BASE}/lti/launch" and key["public_jwk_url"] == f"{BASE}/lti/jwks.json"
    assert "Moodle" in config.stderr and f"{BASE}/lti/launch" in config.stderr

    assert "add --yes" in one_line_error(podium_cli("lti", "remove-platform", "1"))
    removed = podium_cli("lti", "remove-platform", "1", "--yes")
    assert removed.exit_code == 0 and "platform 1 removed" in removed.stdout
    assert podium_cli("lti", "platforms").stderr.startswith("no platforms")
    with rt.db.session() as session:
        assert [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
            "lti.platform_add", "lti.platform_update", "lti.platform_remove"]


def test_bad_input_gets_one_line_saying_what_to_fix(podium_cli, rt):
    assert "no course 'nope'" in one_line_error(podium_cli("lti", "sync", "nope"))
    assert "no course 'nope'" in one_line_error(podium_cli("lti", "contexts", "nope"))
    assert "no course 'nope'" in one_line_error(podium_cli("lti", "create-accounts", "nope", "on"))
    assert "No platform 99" in one_line_error(podium_cli("lti", "remove-platform", "99", "--yes"))
    assert "not an absolute http(s) address" in one_line_error(podium_cli(*platform_args("canvas.example.edu",
                                                                                         "--deployment-id", "1")))
    assert "at least one deployment id" in one_line_error(podium_cli(*platform_args()))
    assert "not an email domain" in one_line_error(podium_cli(*platform_args("https://canvas.example.edu",
                                                                             "--deployment-id", "1",
                                                                             "--email-domain", "@")))
    assert "--email-domain" in podium_cli(*platform_args("https://canvas.example.edu", "--deployment-id", "1",
                                                         "--email-domain", "a@b")).stderr


def test_staff_see_the_linked_courses_set_account_creation_and_sync_with_a_report(linked, podium_cli, rt):
    full_roster(linked.platform)
    other = link(rt, linked.platform_id, "lms-c2", "c2", None)
    contexts = podium_cli("lti", "contexts", "c1")
    assert contexts.stdout == (f"{linked.context_row}\tTest LMS\tLMS lms-c1 (lms-c1)\taccounts made: off\troster "
                               "never synced\n")
    # Another course's link is not this course's to set.
    assert "not an LMS course linked to c1" in one_line_error(
        podium_cli("lti", "create-accounts", "c1", "on", "--context", other))
    assert "no roster address for c2" in one_line_error(podium_cli("lti", "sync", "c2"))
    assert podium_cli("lti", "create-accounts", "c1", "on").exit_code == 0
    with rt.db.session() as session:
        assert session.get(LtiContext, linked.context_row).create_accounts
        assert not session.get(LtiContext, other).create_accounts
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "lti.create_accounts"))
        assert (event.target, event.details["allowed"]) == ("lms-c1", True)

    synced = podium_cli("lti", "sync", "c1")

    assert synced.exit_code == 0, synced.stderr
    out = synced.stdout
    assert out.startswith("c1: 8 member(s) in the LMS roster; 2 enrolled, 0 role(s) changed, 0 unenrolled, 0 held, "
                          "1 not matched, 1 not in the LMS roster\n")
    assert f"enrolled (2):\n  {DAN}: student\n  new@uni.test: student\n" in out
    assert f"not matched (1):\n  {TAKEN}: Podium has an account for {TAKEN}" in out
    assert f"not in the LMS roster (left as they are) (1):\n  {MIA}: student\n" in out
    assert "roster synced " in podium_cli("lti", "contexts", "c1").stdout
    assert "linked courses" in podium_cli("lti", "platforms").stdout
    assert podium_cli("lti", "platforms").stdout.splitlines()[1].endswith("\tc1,c2")

    # A change that would move a released grade is held, and the report says how to apply it.
    with rt.db.session() as session:
        comp = get_competition(session, "c1-hw1")
        competitions.finalise(session, comp, "cli:tester")
        competitions.release(session, comp, "cli:tester", override="the CLI test")
    linked.platform.set_status("lms-c1", "u-ana", "Inactive")
    held = podium_cli("lti", "sync", "c1")
    assert held.exit_code == 0 and "held (1):" in held.stdout
    assert "run the sync again with --regrade" in held.stdout
    assert podium_cli("lti", "sync", "c1", "--regrade").exit_code == 0 and ANA not in roles(rt)

    # The LMS does not answer: the report says so and the command fails.
    with rt.db.session() as session:
        session.get(LtiContext, linked.context_row).memberships_url = f"http://127.0.0.1:{free_port()}/nrps/x"
    failed = podium_cli("lti", "sync", "c1")
    assert failed.exit_code == 1 and "roster of LMS lms-c1: NOT READ:" in failed.stdout
    assert failed.stderr.startswith("error: LMS lms-c1: Test LMS did not answer")
    assert "FAILED: Test LMS did not answer" in podium_cli("lti", "contexts", "c1").stdout
