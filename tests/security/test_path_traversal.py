"""No file route serves anything but the file it names: data files, submission downloads, the Kaggle data routes, the
upload URL and static files refuse ../, its encodings, absolute paths and backslashes with a 404 (or 400) and a
message, and never answer with a file from elsewhere."""
from __future__ import annotations

import pytest

from tests.security.conftest import EMAIL

# Names that try to leave the folder a route serves from, as a client would put them in a URL.
ESCAPES = [
    "../solution.csv",
    "..%2fsolution.csv",
    "%2e%2e%2fsolution.csv",
    "%2e%2e/%2e%2e/secret_key",
    "..%5csolution.csv",
    "..\\solution.csv",
    "....//solution.csv",
    "%252e%252e%252fsolution.csv",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "solution.csv",        # in the competition's folder, but not one of its data files
    "hw1/solution.csv",
    ".",
    "..",
    "%00README.md",
    "README.md%00.csv",
]

WEB_FILES = ["/competitions/c1-hw1/files/{name}", "/static/{name}"]
API_FILES = ["/api/competitions/c1-hw1/files/{name}", "/api/v1/competitions/data/download/c1-hw1/{name}",
             "/api/v1/competitions/data/archive/{name}", "/api/v1/uploads/{name}", "/api/submissions/{name}/file"]
WEB_IDS = ["/submissions/{name}/file", "/submissions/{name}"]


@pytest.fixture
def secrets_on_disk(rt, people, tmp_path) -> list[str]:
    """Text of files a traversal would be after: the hidden solution, the server's secret key, /etc/passwd."""
    solution = (tmp_path / "courses" / "c1" / "hw1" / "solution.csv").read_text()
    assert "Usage" in solution.splitlines()[0]
    return ["id,label,Usage", rt.settings.secret_key, "root:x:0:0"]


def check_refusal(response, secrets: list[str], api: bool) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 404, 405), (response.status_code, body[:300])
    for secret in secrets:
        assert secret not in body
    assert "Traceback" not in body
    if api:
        assert response.get_json()["code"] == response.status_code and response.get_json()["message"]
    else:
        assert "<title>" in body and ("not found" in body.lower() or "Not accepted" in body)


@pytest.mark.parametrize("route", WEB_FILES + WEB_IDS)
def test_web_file_routes_refuse_names_that_leave_their_folder(app, people, secrets_on_disk, route):
    browser = app.test_client()
    browser.signed_in_as(EMAIL["student"])
    for name in ESCAPES:
        # "/static//etc/passwd" is first redirected to "/static/etc/passwd" (merged slashes): follow it.
        check_refusal(browser.get(route.format(name=name), follow_redirects=True), secrets_on_disk, api=False)


@pytest.mark.parametrize("route", API_FILES)
def test_api_file_routes_refuse_names_that_leave_their_folder(app, people, secrets_on_disk, route):
    client = app.test_client()
    for name in ESCAPES:
        method = client.put if "/uploads/" in route else client.get
        check_refusal(method(route.format(name=name), headers=people.basic("student"), data=b"id,label\n"),
                      secrets_on_disk, api=True)


def test_the_refusal_says_what_exists(app, people):
    """The data-file refusal names the files there are, so a mistyped name is easy to fix."""
    answer = app.test_client().get("/api/competitions/c1-hw1/files/solution.csv", headers=people.basic("student"))
    assert answer.status_code == 404
    assert "README.md" in answer.get_json()["message"] and "sample_submission.csv" in answer.get_json()["message"]


@pytest.mark.parametrize("url", ["/competitions/c1-hw1/files/..%2fsolution.csv", "/static/..%5c..%5capp.py",
                                 "/api/competitions/c1-hw1/files/%2e%2e%2fsolution.csv", "/static/./podium.js"])
def test_a_path_stepping_out_of_its_folder_is_told_why(app, people, url):
    browser = app.test_client()
    browser.signed_in_as(EMAIL["student"])
    answer = browser.get(url, headers=people.basic("student") if url.startswith("/api/") else {})
    assert answer.status_code == 400
    assert "names a file outside its folder" in answer.get_data(as_text=True)


def test_the_named_files_themselves_are_served(app, people):
    """The refusals above are not a route that serves nothing."""
    browser = app.test_client()
    browser.signed_in_as(EMAIL["student"])
    assert browser.get("/competitions/c1-hw1/files/README.md").get_data(as_text=True).startswith("# Homework")
    assert browser.get("/static/podium.js").status_code == 200
    api = app.test_client().get("/api/competitions/c1-hw1/files/sample_submission.csv", headers=people.basic("student"))
    assert api.status_code == 200 and api.get_data(as_text=True).startswith("id,label\n")
