"""End to end in a real Chromium: a student uploads their code on the competition page and sees that it counts;
a TA opens the competition's code page and finds it, with the student without code in the emails to copy."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from podium.web import create_app
from tests.code_world import CID, STUDENTS, TA, copy_code_world
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import sign_in


@pytest.fixture
def site(rt, worlds, tmp_path, world_database):
    copy_code_world(worlds, rt, tmp_path)
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


def test_a_student_uploads_code_and_staff_see_it(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)

    sign_in(page, site, STUDENTS[0])
    page.goto(f"{site.url}/competitions/{CID}")
    panel = page.locator("#code")
    expect(panel).to_contain_text("No code uploaded yet.")
    page.set_input_files("#code-file", files=[{"name": "model.py", "mimeType": "text/x-python",
                                               "buffer": b"import torch\n\nclass Net(torch.nn.Module):\n    pass\n"}])
    page.click("#code-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("it is the code that counts")
    expect(panel.locator("table.code-uploads")).to_contain_text("model.py")
    expect(panel.locator("table.code-uploads")).to_contain_text("counts")
    shoot(page, "student-code-panel")
    page.click("form[action='/sign-out'] button")

    sign_in(page, site, TA)
    page.goto(f"{site.url}/staff/competitions/{CID}/code")
    expect(page.locator("h2")).to_contain_text(["Code submissions"])
    expect(page.locator("table")).to_contain_text("model.py")
    expect(page.locator("#code-missing-emails")).to_have_value(STUDENTS[1])
    shoot(page, "staff-code-page")
    assert console.errors == []
    context.close()
