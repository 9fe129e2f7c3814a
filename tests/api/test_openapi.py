"""The OpenAPI document is valid, lists exactly the /api/ routes the app serves, and real responses match it."""
from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from podium.web.api import UNKNOWN_ENDPOINT
from podium.web.openapi import document
from tests.api.conftest import submit_scored
from tests.api.openapi_check import assert_matches_openapi

FLASK_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
UNDOCUMENTED_METHODS = {"HEAD", "OPTIONS"}


def served_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.endpoint == UNKNOWN_ENDPOINT:
            continue
        path = FLASK_PARAM.sub(r"{\1}", rule.rule)
        operations |= {(path, method.lower()) for method in rule.methods - UNDOCUMENTED_METHODS}
    return operations


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_the_document_is_valid_openapi(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_api_route_is_documented_with_its_methods_and_nothing_else(app, client):
    served = served_operations(app)
    documented = documented_operations(client.get("/api/openapi.json").get_json())
    assert ("/api/competitions/{cid}/submissions", "post") in served  # the walk finds routes at all
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_every_documented_operation_declares_its_errors_as_json(client):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, op in item.items():
            errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
            if op.get("security") != []:
                assert "401" in errors, f"{method} {path} needs credentials but documents no 401"
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_populated_world_answers_in_the_documented_shapes(client, rt, world):
    """Every JSON GET, with real data in it, against its schema (additional properties are refused there)."""
    own = submit_scored(rt, world, world.student)
    submit_scored(rt, world, world.other)
    staff, student = world.staff.auth, world.student.auth
    cid = world.public_id
    calls = [
        ("/api/competitions", "/api/competitions", student),
        (f"/api/competitions/{cid}", "/api/competitions/{cid}", student),
        (f"/api/competitions/{cid}/leaderboard", "/api/competitions/{cid}/leaderboard", student),
        (f"/api/competitions/{cid}/leaderboard?board=private", "/api/competitions/{cid}/leaderboard", staff),
        (f"/api/competitions/{cid}/submissions", "/api/competitions/{cid}/submissions", student),
        (f"/api/competitions/{cid}/submissions", "/api/competitions/{cid}/submissions", staff),
        (f"/api/submissions/{own}", "/api/submissions/{n}", student),
        (f"/api/submissions/{own}", "/api/submissions/{n}", staff),
        ("/api/me", "/api/me", student),
        ("/api/me/grades", "/api/me/grades", student),
        ("/api/v1/competitions/list", "/api/v1/competitions/list", student),
        (f"/api/v1/competitions/submissions/list/{cid}", "/api/v1/competitions/submissions/list/{cid}", student),
        (f"/api/v1/competitions/{cid}/leaderboard/view", "/api/v1/competitions/{cid}/leaderboard/view", student),
        (f"/api/v1/competitions/data/list/{cid}", "/api/v1/competitions/data/list/{cid}", student),
        (f"/api/competitions/{cid}/leaderboard?board=private", "/api/competitions/{cid}/leaderboard", student),
        (f"/api/submissions/{own}", "/api/submissions/{n}", world.other.auth),
        ("/api/competitions/c2-hw9", "/api/competitions/{cid}", student),
    ]
    statuses = []
    for url, template, headers in calls:
        response = client.get(url, headers=headers)
        assert_matches_openapi(response, template, "get")
        statuses.append(response.status_code)
    assert statuses[-3:] == [403, 404, 403] and set(statuses[:-3]) == {200}


# --- generated requests (schemathesis) -------------------------------------------------------------------


# The document is static, so the generated tests are built from it at import time; requests go to each test's
# app through WSGI.
schema = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_generated_requests_get_documented_answers(case, app, world):
    """Requests built from the document itself (valid and invalid values), sent as a student of the course, get a
    documented status and a body of the documented shape; never a server error."""
    if "cid" in case.path_parameters:
        case.path_parameters["cid"] = world.public_id
    case.call_and_validate(app=app, headers=world.student.auth, checks=CHECKS)
